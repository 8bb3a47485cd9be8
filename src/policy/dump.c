/* The effective policy, normalised, each entry with where it came from
 * (`privman check`). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\t')
			fputs("\\t", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void put_origin(FILE *out, const struct origin *at, int column)
{
	char where[512];
	fprintf(out, "%*s# %s\n", column > 0 ? column : 1, "", origin_format(at, where, sizeof(where)));
}

static int put_entry(FILE *out, const char *indent, const char *name, const char *value,
		     bool quote)
{
	int n = fprintf(out, "%s%s ", indent, name);
	if (quote) {
		long before = ftell(out);
		put_quoted(out, value);
		long after = ftell(out);
		n += before >= 0 && after >= 0 ? (int)(after - before) : (int)strlen(value) + 2;
	} else {
		n += fprintf(out, "%s", value);
	}
	return n;
}

static void dump_paths(FILE *out, const char *name, const struct path_rules *rules)
{
	for (size_t i = 0; i < rules->count; i++) {
		int n = put_entry(out, "", name, rules->rules[i].path, true);
		put_origin(out, &rules->rules[i].origin, 40 - n);
	}
}

static void dump_bool(FILE *out, const char *name, const struct policy_bool *b)
{
	int n = fprintf(out, "%s %s", name, b->value ? "true" : "false");
	put_origin(out, b->set ? &b->origin : NULL, 40 - n);
}

static void dump_auth(FILE *out, const struct policy *p)
{
	dump_bool(out, "auth", &p->auth);
	if (p->auth.value)
		fputs("    # auth true grants one PAM service: the one named like the application\n"
		      "    # (priv_init's appname), and no other\n",
		      out);
	if (!p->auth_service_count)
		return;
	fputs("auth {\n", out);
	for (size_t i = 0; i < p->auth_service_count; i++) {
		int n = fprintf(out, "    %s", p->auth_services[i].text);
		put_origin(out, &p->auth_services[i].origin, 40 - n);
	}
	fputs("}\n", out);
}

static void dump_caps(FILE *out, const char *indent, const char *label, uint64_t mask)
{
	fprintf(out, "%s#   %-12s", indent, label);
	if (!mask)
		fputs(" (none)", out);
	for (unsigned c = 0; c < 64; c++) {
		char name[64];
		if (mask & (UINT64_C(1) << c))
			fprintf(out, " %s", policy_cap_name((int)c, name, sizeof(name)));
	}
	fputc('\n', out);
}

static void dump_run_rule(FILE *out, const struct run_rule *r)
{
	fprintf(out, "run {");
	put_origin(out, &r->origin, 35);
	if (r->has_program) {
		int n = put_entry(out, "    ", "program", r->program.path, true);
		put_origin(out, &r->program.origin, 40 - n);
	} else {
		int n = fprintf(out, "    program * (any, and priv_rerunas)");
		put_origin(out, NULL, 40 - n);
	}
	for (size_t j = 0; j < r->users.count; j++) {
		const struct runas_rule *u = &r->users.rules[j];
		int n = put_entry(out, "    ", "user", u->name, false);
		if (!u->any_nonroot)
			n += fprintf(out, " (uid %u)", (unsigned)u->uid);
		put_origin(out, &u->origin, 40 - n);
	}
	if (r->chroot.text) {
		int n = put_entry(out, "    ", "chroot", r->chroot.text, true);
		put_origin(out, &r->chroot.origin, 40 - n);
	} else {
		int n = fprintf(out, "    chroot \"/\" (none)");
		put_origin(out, NULL, 40 - n);
	}
	for (size_t j = 0; j < r->env_count; j++) {
		int n = put_entry(out, "    ", "env", r->env[j].text, false);
		put_origin(out, &r->env[j].origin, 40 - n);
	}
	if (r->env_count == 0) {
		int n = fprintf(out, "    env { } (no variable passes)");
		put_origin(out, NULL, 40 - n);
	}
	fputs("}\n", out);
}

static void dump_custom(FILE *out, const struct policy *p)
{
	for (size_t i = 0; i < p->custom.count; i++) {
		const struct custom_rule *r = &p->custom.rules[i];
		int n = put_entry(out, "", "custom", r->text, false);
		if (r->any)
			n += fprintf(out, " (every registered function)");
		put_origin(out, &r->origin, 40 - n);
	}
	if (p->custom.count || p->custom_timeout.text) {
		int n = fprintf(out, "custom_timeout %u",
				p->custom_timeout_s ? p->custom_timeout_s
						    : POLICY_CUSTOM_TIMEOUT_DEFAULT);
		if (!p->custom_timeout.text)
			n += fprintf(out, " (default)");
		put_origin(out, p->custom_timeout.text ? &p->custom_timeout.origin : NULL, 40 - n);
	}
}

static void dump_security(FILE *out, const struct policy_security *s)
{
	fprintf(out, "security {");
	put_origin(out, s->present ? &s->origin : NULL, 30);
	int n = put_entry(out, "    ", "user", s->user.text ? s->user.text : "nobody", false);
	if (s->resolved)
		n += fprintf(out, " (uid %u)", (unsigned)s->uid);
	put_origin(out, s->user.text ? &s->user.origin : NULL, 40 - n);
	if (s->group.text) {
		n = put_entry(out, "    ", "group", s->group.text, false);
		if (s->resolved)
			n += fprintf(out, " (gid %u)", (unsigned)s->gid);
		put_origin(out, &s->group.origin, 40 - n);
	} else {
		n = fprintf(out, "    group (the user's primary group");
		if (s->resolved)
			n += fprintf(out, ", gid %u", (unsigned)s->gid);
		n += fprintf(out, ")");
		put_origin(out, NULL, 40 - n);
	}
	n = fprintf(out, "    supplemental_groups {");
	for (size_t i = 0; i < s->supplemental_count; i++)
		n += fprintf(out, " %s", s->supplemental_groups[i].text);
	n += fprintf(out, " }");
	put_origin(out, s->supplemental_count ? &s->supplemental_groups[0].origin : NULL, 40 - n);
	if (s->chroot.text) {
		n = put_entry(out, "    ", "chroot", s->chroot.text, true);
		put_origin(out, &s->chroot.origin, 40 - n);
	} else {
		n = fprintf(out, "    chroot \"/\" (none)");
		put_origin(out, NULL, 40 - n);
	}
	if (s->capabilities.text) {
		n = put_entry(out, "    ", "capabilities", s->capabilities.text, true);
		put_origin(out, &s->capabilities.origin, 40 - n);
	}
	if (s->privileges.text) {
		n = put_entry(out, "    ", "privileges", s->privileges.text, true);
		put_origin(out, &s->privileges.origin, 40 - n);
	}
	fputs("    # capabilities kept after the drop:\n", out);
	dump_caps(out, "    ", "permitted", s->cap_permitted);
	dump_caps(out, "    ", "effective", s->cap_effective);
	dump_caps(out, "    ", "inheritable", s->cap_inheritable);
	fputs("}\n", out);
}

void policy_dump(const struct policy *p, FILE *out)
{
	fprintf(out, "# effective policy, from");
	for (size_t i = 0; i < p->file_count; i++)
		fprintf(out, " %s", p->files[i]);
	fputs("\n", out);
	dump_paths(out, "open_ro", &p->open_ro);
	dump_paths(out, "open_ao", &p->open_ao);
	dump_paths(out, "open_rw", &p->open_rw);
	dump_paths(out, "unlink", &p->unlink);
	for (size_t i = 0; i < p->bind.count; i++) {
		int n = put_entry(out, "", "bind", p->bind.rules[i].text, false);
		put_origin(out, &p->bind.rules[i].origin, 40 - n);
	}
	for (size_t i = 0; i < p->run_as.count; i++) {
		const struct runas_rule *r = &p->run_as.rules[i];
		int n = put_entry(out, "", "run_as", r->name, false);
		if (!r->any_nonroot)
			n += fprintf(out, " (uid %u)", (unsigned)r->uid);
		put_origin(out, &r->origin, 40 - n);
	}
	for (size_t i = 0; i < p->run.count; i++)
		dump_run_rule(out, &p->run.rules[i]);
	dump_auth(out, p);
	dump_bool(out, "auth_allow_rerun", &p->auth_allow_rerun);
	dump_bool(out, "fork", &p->fork);
	dump_bool(out, "allow_rerun", &p->allow_rerun);
	dump_custom(out, p);
	dump_bool(out, "allow_namespaces", &p->allow_namespaces);

	dump_security(out, &p->security);
}
