/* privman learn: the policy written from the record of learning runs.
 *
 * The rules are those of the base files (kept, with the uses their
 * comments counted) and those learned, one entry per rule text: the same
 * rule learned twice, or learned and already in the base, is one entry
 * whose count adds up. Learned rules are read back with the policy parser,
 * so that a rule is written exactly as the parser reads it. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "learn.h"
#include "learn_model.h"
#include "policy/learn.h"
#include "scope/resolve_scope.h"

static const char *const kind_directive[KIND_COUNT] = {
	[KIND_OPEN_RO] = "open_ro",
	[KIND_OPEN_AO] = "open_ao",
	[KIND_OPEN_RW] = "open_rw",
	[KIND_UNLINK] = "unlink",
	[KIND_BIND] = "bind",
	[KIND_RUN_AS] = "run_as",
	[KIND_RUN] = "run",
	[KIND_AUTH_BOOL] = "auth",
	[KIND_AUTH] = "auth",
	[KIND_AUTH_ALLOW_RERUN] = "auth_allow_rerun",
	[KIND_FORK] = "fork",
	[KIND_ALLOW_RERUN] = "allow_rerun",
	[KIND_CUSTOM] = "custom",
	[KIND_CUSTOM_TIMEOUT] = "custom_timeout",
	[KIND_ALLOW_NAMESPACES] = "allow_namespaces",
};

/* Kinds of which a policy holds one value: a second one replaces it. */
static bool scalar_kind(enum learn_kind k)
{
	return k == KIND_AUTH_BOOL || k == KIND_AUTH_ALLOW_RERUN || k == KIND_FORK ||
	       k == KIND_ALLOW_RERUN || k == KIND_CUSTOM_TIMEOUT || k == KIND_ALLOW_NAMESPACES;
}

/* A rule about to be added: its text is built piece by piece. */
struct rule {
	enum learn_kind kind;
	char text[1 << 16]; /* a base's run scope with a long env list fits */
	size_t used;
	const char *path;
	const char *match[LEARN_MATCH_MAX];
	size_t match_count;
	bool overflow;
	bool control; /* a value with a byte the language cannot write */
};

static void rule_start(struct rule *r, enum learn_kind kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->used = (size_t)snprintf(r->text, sizeof(r->text), "%s", kind_directive[kind]);
}

static void rule_put(struct rule *r, const char *s)
{
	size_t n = strlen(s);
	if (r->used + n >= sizeof(r->text)) {
		r->overflow = true;
		return;
	}
	memcpy(r->text + r->used, s, n + 1);
	r->used += n;
}

static void rule_value(struct rule *r, const char *value, bool quote)
{
	int n = policy_value_write(value, quote, r->text + r->used, sizeof(r->text) - r->used);
	if (n < 0)
		r->overflow = true;
	if (!policy_value_writable(value))
		r->control = true;
	else
		r->used += (size_t)n;
}

static void rule_match(struct rule *r, const char *key)
{
	if (r->match_count < LEARN_MATCH_MAX)
		r->match[r->match_count++] = key;
}

static struct learn_entry *find_text(struct learn_model *m, const char *text)
{
	for (size_t i = 0; i < m->count; i++)
		if (!m->entries[i].dropped && strcmp(m->entries[i].text, text) == 0)
			return &m->entries[i];
	return NULL;
}

static struct learn_entry *find_kind(struct learn_model *m, enum learn_kind kind)
{
	for (size_t i = 0; i < m->count; i++)
		if (!m->entries[i].dropped && m->entries[i].kind == kind)
			return &m->entries[i];
	return NULL;
}

static struct learn_entry *entry_new(struct learn_model *m)
{
	struct learn_entry *grown = realloc(m->entries, (m->count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	m->entries = grown;
	struct learn_entry *e = &m->entries[m->count++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Add the rule (or find the entry that has its text). A learned scalar
 * replaces the base's (fork false, then fork true was needed). */
static struct learn_entry *add_rule(struct learn_model *m, const struct rule *r, bool learned)
{
	if (r->overflow)
		return NULL;
	struct learn_entry *e = find_text(m, r->text);
	if (!e && scalar_kind(r->kind)) {
		struct learn_entry *old = find_kind(m, r->kind);
		if (old && !learned)
			return old; /* a later base file said it again: first kept */
		if (old)
			old->dropped = true;
	}
	if (!e) {
		e = entry_new(m);
		if (!e)
			return NULL;
		e->kind = r->kind;
		e->directive = kind_directive[r->kind];
		e->text = strdup(r->text);
		e->path = r->path ? strdup(r->path) : NULL;
		if (!e->text || (r->path && !e->path))
			return NULL;
	}
	for (size_t i = 0; i < r->match_count && e->match_count < LEARN_MATCH_MAX; i++) {
		bool have = false;
		for (size_t j = 0; j < e->match_count && !have; j++)
			have = strcmp(e->match[j], r->match[i]) == 0;
		if (!have && !(e->match[e->match_count] = strdup(r->match[i])))
			return NULL;
		e->match_count += !have;
	}
	return e;
}

/* --- the rules of a policy --------------------------------------------------- */

typedef void (*rule_fn)(struct learn_model *m, const struct rule *r, const struct origin *at,
			void *ctx);

static void each_path(struct learn_model *m, enum learn_kind kind, const struct path_rules *rules,
		      rule_fn fn, void *ctx)
{
	for (size_t i = 0; i < rules->count; i++) {
		struct rule r;
		rule_start(&r, kind);
		rule_put(&r, " ");
		rule_value(&r, rules->rules[i].path, true);
		r.path = rules->rules[i].path;
		rule_match(&r, rules->rules[i].path);
		fn(m, &r, &rules->rules[i].origin, ctx);
	}
}

static void each_bool(struct learn_model *m, enum learn_kind kind, const struct policy_bool *b,
		      rule_fn fn, void *ctx)
{
	if (!b->set)
		return;
	struct rule r;
	rule_start(&r, kind);
	rule_put(&r, b->value ? " true" : " false");
	rule_match(&r, "true");
	fn(m, &r, &b->origin, ctx);
}

static void run_rule(struct learn_model *m, const struct run_rule *run, rule_fn fn, void *ctx)
{
	struct rule r;
	rule_start(&r, KIND_RUN);
	rule_put(&r, " {");
	if (run->has_program) {
		rule_put(&r, " program ");
		rule_value(&r, run->program.path, true);
		rule_match(&r, run->program.path);
	}
	rule_put(&r, " user {");
	for (size_t j = 0; j < run->users.count; j++) {
		rule_put(&r, " ");
		rule_value(&r, run->users.rules[j].name, false);
		if (!run->has_program)
			rule_match(&r, run->users.rules[j].name);
	}
	rule_put(&r, " }");
	if (run->chroot.text) {
		rule_put(&r, " chroot ");
		rule_value(&r, run->chroot.text, true);
	}
	if (run->env_count) {
		rule_put(&r, " env {");
		for (size_t j = 0; j < run->env_count; j++) {
			rule_put(&r, " ");
			rule_value(&r, run->env[j].text, false);
		}
		rule_put(&r, " }");
	}
	rule_put(&r, " }");
	fn(m, &r, &run->origin, ctx);
}

/* Call fn for every rule of p, as the text it is written with. */
static void each_rule(struct learn_model *m, const struct policy *p, rule_fn fn, void *ctx)
{
	each_path(m, KIND_OPEN_RO, &p->open_ro, fn, ctx);
	each_path(m, KIND_OPEN_AO, &p->open_ao, fn, ctx);
	each_path(m, KIND_OPEN_RW, &p->open_rw, fn, ctx);
	each_path(m, KIND_UNLINK, &p->unlink, fn, ctx);
	struct rule r;
	for (size_t i = 0; i < p->bind.count; i++) {
		rule_start(&r, KIND_BIND);
		rule_put(&r, " ");
		rule_value(&r, p->bind.rules[i].text, false);
		rule_match(&r, p->bind.rules[i].text);
		fn(m, &r, &p->bind.rules[i].origin, ctx);
	}
	for (size_t i = 0; i < p->run_as.count; i++) {
		rule_start(&r, KIND_RUN_AS);
		rule_put(&r, " ");
		rule_value(&r, p->run_as.rules[i].name, false);
		rule_match(&r, p->run_as.rules[i].name);
		fn(m, &r, &p->run_as.rules[i].origin, ctx);
	}
	for (size_t i = 0; i < p->run.count; i++)
		run_rule(m, &p->run.rules[i], fn, ctx);
	each_bool(m, KIND_AUTH_BOOL, &p->auth, fn, ctx);
	for (size_t i = 0; i < p->auth_service_count; i++) {
		rule_start(&r, KIND_AUTH);
		rule_put(&r, " { ");
		rule_value(&r, p->auth_services[i].text, false);
		rule_put(&r, " }");
		rule_match(&r, p->auth_services[i].text);
		fn(m, &r, &p->auth_services[i].origin, ctx);
	}
	each_bool(m, KIND_AUTH_ALLOW_RERUN, &p->auth_allow_rerun, fn, ctx);
	each_bool(m, KIND_FORK, &p->fork, fn, ctx);
	each_bool(m, KIND_ALLOW_RERUN, &p->allow_rerun, fn, ctx);
	for (size_t i = 0; i < p->custom.count; i++) {
		rule_start(&r, KIND_CUSTOM);
		rule_put(&r, " ");
		rule_value(&r, p->custom.rules[i].text, false);
		rule_match(&r, p->custom.rules[i].text);
		fn(m, &r, &p->custom.rules[i].origin, ctx);
	}
	if (p->custom_timeout.text) {
		rule_start(&r, KIND_CUSTOM_TIMEOUT);
		rule_put(&r, " ");
		rule_value(&r, p->custom_timeout.text, false);
		fn(m, &r, &p->custom_timeout.origin, ctx);
	}
	each_bool(m, KIND_ALLOW_NAMESPACES, &p->allow_namespaces, fn, ctx);
}

/* --- the base ------------------------------------------------------------------ */

/* "# used N times, first at 2026-12-01T13:40:00Z" on the line of `at`: the
 * uses an earlier run counted (a base that privman learn wrote). */
static void earlier_uses(const struct origin *at, unsigned long *count, double *first)
{
	*count = 0;
	*first = 0;
	if (!at || !at->file || !at->line)
		return;
	FILE *f = fopen(at->file, "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	for (unsigned n = 1; getline(&line, &cap, f) > 0; n++) {
		if (n < at->line)
			continue;
		const char *used = strstr(line, "# used ");
		char stamp[32];
		if (used && sscanf(used, "# used %lu", count) == 1) {
			const char *when = strstr(used, "first at ");
			struct tm tm;
			memset(&tm, 0, sizeof(tm));
			if (when && sscanf(when, "first at %31s", stamp) == 1 &&
			    strptime(stamp, "%Y-%m-%dT%H:%M:%SZ", &tm))
				*first = (double)timegm(&tm);
		}
		break;
	}
	free(line);
	fclose(f);
}

static void add_base_rule(struct learn_model *m, const struct rule *r, const struct origin *at,
			  void *ctx)
{
	int *failed = ctx;
	struct learn_entry *e = add_rule(m, r, false);
	if (!e) {
		(*failed)++;
		return;
	}
	e->base = true;
	unsigned long count;
	double first;
	earlier_uses(at, &count, &first);
	e->count += count;
	if (first && (!e->first || first < e->first))
		e->first = first;
}

/* --- the records ---------------------------------------------------------------- */

static void use(struct learn_entry *e, double when)
{
	e->count++;
	if (when > 0 && (!e->first || when < e->first))
		e->first = when;
}

static struct learn_entry *find_granting(struct learn_model *m, const char *directive,
					 const char *rule)
{
	for (size_t i = 0; i < m->count; i++) {
		struct learn_entry *e = &m->entries[i];
		if (e->dropped || strcmp(e->directive, directive) != 0)
			continue;
		for (size_t j = 0; j < e->match_count; j++)
			if (strcmp(e->match[j], rule) == 0)
				return e;
	}
	return NULL;
}

/* A learned rule never names root, nor any user ('*'): the record may come
 * from anywhere (--from). */
static bool user_is_root(const char *name)
{
	struct passwd *pw = getpwnam(name);
	return strchr(name, '*') || !pw || pw->pw_uid == 0;
}

static bool names_root(const struct policy *p)
{
	for (size_t j = 0; j < p->run_as.count; j++)
		if (user_is_root(p->run_as.rules[j].name))
			return true;
	for (size_t i = 0; i < p->run.count; i++)
		for (size_t j = 0; j < p->run.rules[i].users.count; j++)
			if (user_is_root(p->run.rules[i].users.rules[j].name))
				return true;
	return false;
}

struct learned_ctx {
	double when;
	int added;
	bool control;
};

static void add_learned_rule(struct learn_model *m, const struct rule *r, const struct origin *at,
			     void *ctx)
{
	struct learned_ctx *c = ctx;
	c->control |= r->control;
	struct learn_entry *e = add_rule(m, r, true);
	if (!e)
		return;
	e->learned = true;
	use(e, c->when);
	c->added++;
}

static void add_learned(struct learn_model *m, const struct learn_record *rec)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("learned rule", rec->rule, strlen(rec->rule), &d);
	diag_free(&d);
	struct learned_ctx c = {rec->time, 0, false};
	if (p && !names_root(p))
		each_rule(m, p, add_learned_rule, &c);
	if (!c.added && c.control)
		m->not_written_control++;
	else if (!c.added)
		m->not_written++;
	policy_free(p);
}

static void add_record(struct learn_model *m, const struct learn_record *rec)
{
	if (strcmp(rec->verdict, "start") == 0) {
		if (!m->app && rec->app[0])
			m->app = rec->app;
		return;
	}
	m->observed++;
	if (strcmp(rec->verdict, "granted") == 0) {
		m->granted++;
		struct learn_entry *e = find_granting(m, rec->directive, rec->rule);
		if (e)
			use(e, rec->time);
	} else if (strcmp(rec->verdict, "learned") == 0) {
		m->learned++;
		if (rec->rule[0])
			add_learned(m, rec);
	} else {
		m->refused++;
		if (strstr(rec->reason, "never grants running as root"))
			m->refused_root++;
		bool seen = false;
		for (size_t i = 0; i < m->refusal_count && !seen; i++)
			seen = strcmp(m->refusals[i]->op, rec->op) == 0 &&
			       strcmp(m->refusals[i]->object, rec->object) == 0;
		if (!seen && m->refusal_count < LEARN_REFUSALS_SHOWN)
			m->refusals[m->refusal_count++] = rec;
	}
}

/* --- collapse ------------------------------------------------------------------ */

static bool path_kind(enum learn_kind k)
{
	return k <= KIND_UNLINK;
}

static bool exact(const char *path)
{
	size_t n = strlen(path);
	return !(n >= 2 && path[n - 1] == '*' && (path[n - 2] == '/' || path[n - 2] == '*'));
}

static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
	snprintf(dir, len, "%.*s", (int)n, path);
}

/* The exact entries of `kind` directly in `dir`: N or more of them, none
 * protected, in a directory whose every entry may be granted, become one
 * `dir/ *` rule. */
static int collapse_dir(struct learn_model *m, enum learn_kind kind, const char *dir, unsigned n)
{
	unsigned members = 0;
	char parent[PATH_MAX];
	for (size_t i = 0; i < m->count; i++) {
		struct learn_entry *e = &m->entries[i];
		if (e->dropped || e->kind != kind || !exact(e->path))
			continue;
		dir_of(e->path, parent, sizeof(parent));
		if (strcmp(parent, dir) != 0)
			continue;
		if (learn_protected(e->path))
			return 0;
		members++;
	}
	if (members < n || !learn_collapsible(dir))
		return 0;
	char wildcard[PATH_MAX + 2];
	snprintf(wildcard, sizeof(wildcard), "%s/*", dir);
	struct rule r;
	rule_start(&r, kind);
	rule_put(&r, " ");
	rule_value(&r, wildcard, true);
	r.path = wildcard;
	rule_match(&r, wildcard);
	struct learn_entry *w = add_rule(m, &r, true);
	if (!w)
		return -1;
	size_t wi = (size_t)(w - m->entries); /* add_rule may move the array */
	for (size_t i = 0; i < m->count; i++) {
		struct learn_entry *e = &m->entries[i];
		if (i == wi || e->dropped || e->kind != kind || !exact(e->path))
			continue;
		dir_of(e->path, parent, sizeof(parent));
		if (strcmp(parent, dir) != 0)
			continue;
		e->dropped = true;
		w = &m->entries[wi];
		w->count += e->count;
		w->learned = w->learned || e->learned;
		if (e->first && (!w->first || e->first < w->first))
			w->first = e->first;
		w->collapsed++;
		m->collapsed_rules++;
	}
	m->wildcards++;
	return 0;
}

static int collapse(struct learn_model *m, unsigned n)
{
	char dir[PATH_MAX];
	for (size_t i = 0; i < m->count; i++) {
		struct learn_entry *e = &m->entries[i];
		if (e->dropped || !path_kind(e->kind) || !exact(e->path))
			continue;
		dir_of(e->path, dir, sizeof(dir));
		if (collapse_dir(m, e->kind, dir, n) < 0)
			return -1;
	}
	return 0;
}

/* `auth false` revokes every service: a learned one needs it gone. */
static void reconcile(struct learn_model *m)
{
	struct learn_entry *no = find_text(m, "auth false");
	if (no && find_kind(m, KIND_AUTH))
		no->dropped = true;
}

/* --- the whole ------------------------------------------------------------------ */

/* The runs a base written by privman learn was learned from (its first
 * line says so), 0 for any other. */
static unsigned long earlier_runs(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512];
	unsigned long runs = 0;
	if (f && fgets(line, sizeof(line), f)) {
		const char *from = strstr(line, " from ");
		if (strncmp(line, "# privman learn: written ", 25) != 0 || !from ||
		    sscanf(from, " from %lu run", &runs) != 1)
			runs = 0;
	}
	if (f)
		fclose(f);
	return runs;
}

/* The security scope is written as the base says it: a value that cannot
 * be written would be left out, and the scope widened. */
static bool scope_writable(const struct policy_security *s)
{
	const struct policy_value *v[] = {&s->user, &s->group, &s->chroot, &s->capabilities,
					  &s->privileges};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i]->text && !policy_value_writable(v[i]->text))
			return false;
	for (size_t i = 0; i < s->supplemental_count; i++)
		if (s->supplemental_groups[i].text &&
		    !policy_value_writable(s->supplemental_groups[i].text))
			return false;
	return true;
}

/* The names of the bases go in a comment line: no control byte at all. */
static bool name_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int load_base(struct learn_model *m, const struct learn_options *o, FILE *summary)
{
	if (!o->base_count)
		return 0;
	for (size_t i = 0; i < o->base_count; i++) {
		if (!name_printable(o->bases[i])) {
			fprintf(summary, "privman learn: the name of a base has a control "
					 "character; nothing written\n");
			return -1;
		}
	}
	struct diag d;
	diag_init(&d);
	m->base = conf_load_files(o->bases, o->base_count, &d);
	if (m->base && policy_validate(m->base, &d) < 0) {
		policy_free(m->base);
		m->base = NULL;
	}
	for (size_t i = 0; i < d.count; i++)
		fprintf(summary, "privman learn: %s\n", d.entries[i].text);
	diag_free(&d);
	if (!m->base) {
		fprintf(summary, "privman learn: the base policy is not valid; nothing written\n");
		return -1;
	}
	if (!scope_writable(&m->base->security)) {
		fprintf(summary, "privman learn: the security scope of the base has a control "
				 "character the policy language has no escape for; nothing "
				 "written\n");
		return -1;
	}
	for (size_t i = 0; i < o->base_count; i++)
		m->runs += earlier_runs(o->bases[i]);
	int failed = 0;
	each_rule(m, m->base, add_base_rule, &failed);
	if (failed) {
		fprintf(summary, "privman learn: %d rule%s of the base cannot be written (out of "
				 "memory, longer than 64 KiB, or a control character the "
				 "policy language has no escape for)\n",
			failed, failed == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

static void model_free(struct learn_model *m)
{
	for (size_t i = 0; i < m->count; i++) {
		free(m->entries[i].text);
		free(m->entries[i].path);
		for (size_t j = 0; j < m->entries[i].match_count; j++)
			free(m->entries[i].match[j]);
	}
	free(m->entries);
	policy_free(m->base);
}

/* The text written is read back as privman check would: a learned policy
 * that does not load is a bug, and is not written. */
static int self_check(const char *text, size_t len, FILE *summary)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("the learned policy", text, len, &d);
	int rc = p && policy_validate(p, &d) == 0 ? 0 : -1;
	for (size_t i = 0; i < d.count && rc < 0; i++)
		fprintf(summary, "privman learn: %s\n", d.entries[i].text);
	policy_free(p);
	diag_free(&d);
	return rc;
}

int learn_write(const struct learn_options *o, const struct learn_records *r, FILE *summary)
{
	struct learn_model m;
	memset(&m, 0, sizeof(m));
	int rc = load_base(&m, o, summary);
	m.runs += r->runs;
	m.runs_recorded = r->runs;
	m.bad_lines = r->bad_lines;
	for (size_t i = 0; rc == 0 && i < r->count; i++)
		add_record(&m, &r->items[i]);
	if (rc == 0 && o->collapse && collapse(&m, o->collapse) < 0)
		rc = -1;
	reconcile(&m);

	char *text = NULL;
	size_t len = 0;
	FILE *out = rc == 0 ? open_memstream(&text, &len) : NULL;
	if (out) {
		learn_output(&m, o, out);
		if (fclose(out) != 0)
			rc = -1;
	} else {
		rc = -1;
	}
	if (rc == 0 && self_check(text, len, summary) < 0) {
		fprintf(summary, "privman learn: the written policy does not load (a bug); "
				 "nothing written\n");
		rc = -1;
	}
	if (rc == 0)
		rc = learn_write_file(o->output, text, len, summary);
	if (rc == 0)
		learn_summary(&m, o, summary);
	free(text);
	model_free(&m);
	return rc;
}
