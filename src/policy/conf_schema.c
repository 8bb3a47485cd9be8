/* The policy language's schema: the names each level takes, and the model
 * built from what was written (conf_schema.h). Values are recorded as
 * written, with where they were written; validate.c says what they mean. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/conf_schema.h"

/* --- the schema --------------------------------------------------------- */

const struct schema_entry conf_top_schema[] = {
	{ "open_ro", DIR_OPEN_RO, KIND_LIST },
	{ "open_rw", DIR_OPEN_RW, KIND_LIST },
	{ "open_ao", DIR_OPEN_AO, KIND_LIST },
	{ "unlink", DIR_UNLINK, KIND_LIST },
	{ "bind", DIR_BIND, KIND_LIST },
	{ "run_as", DIR_RUN_AS, KIND_LIST },
	{ "runas", DIR_RUN_AS, KIND_LIST },
	{ "chroot", DIR_CHROOT, KIND_SCALAR },
	{ "unpriv_user", DIR_UNPRIV_USER, KIND_SCALAR },
	{ "auth", DIR_AUTH, KIND_AUTH },
	{ "auth_allow_rerun", DIR_AUTH_ALLOW_RERUN, KIND_BOOL },
	{ "fork", DIR_FORK, KIND_BOOL },
	{ "allow_rerun", DIR_ALLOW_RERUN, KIND_BOOL },
	{ "custom", DIR_CUSTOM, KIND_LIST },
	{ "custom_timeout", DIR_CUSTOM_TIMEOUT, KIND_SCALAR },
	{ "allow_namespaces", DIR_ALLOW_NAMESPACES, KIND_BOOL },
	{ "security", DIR_SECURITY, KIND_SCOPE },
	{ "run", DIR_RUN, KIND_SCOPE },
	{ "confine", DIR_CONFINE, KIND_SCOPE },
	{ "include", DIR_INCLUDE, KIND_INCLUDE },
	{ NULL, 0, 0 },
};

const struct schema_entry conf_security_schema[] = {
	{ "user", OPT_USER, KIND_SCALAR },
	{ "group", OPT_GROUP, KIND_SCALAR },
	{ "supplemental_groups", OPT_SUPPLEMENTAL_GROUPS, KIND_LIST },
	{ "chroot", OPT_CHROOT, KIND_SCALAR },
	{ "capabilities", OPT_CAPABILITIES, KIND_SCALAR },
	{ "privileges", OPT_PRIVILEGES, KIND_SCALAR },
	{ NULL, 0, 0 },
};

const struct schema_entry conf_run_schema[] = {
	{ "program", RUN_PROGRAM, KIND_SCALAR },
	{ "user", RUN_USER, KIND_LIST },
	{ "run_as", RUN_USER, KIND_LIST },
	{ "runas", RUN_USER, KIND_LIST },
	{ "chroot", RUN_CHROOT, KIND_SCALAR },
	{ "env", RUN_ENV, KIND_LIST },
	{ NULL, 0, 0 },
};

const struct schema_entry conf_confine_schema[] = {
	{ "read", CONFINE_OPT_READ, KIND_LIST },
	{ "write", CONFINE_OPT_WRITE, KIND_LIST },
	{ "exec", CONFINE_OPT_EXEC, KIND_LIST },
	{ "bind", CONFINE_OPT_BIND, KIND_LIST },
	{ "connect", CONFINE_OPT_CONNECT, KIND_LIST },
	{ "strict", CONFINE_OPT_STRICT, KIND_BOOL },
	{ NULL, 0, 0 },
};

const char *conf_scope_name(const struct schema_entry *schema)
{
	return schema == conf_security_schema ? "security"
	       : schema == conf_run_schema    ? "run"
					      : "confine";
}

const struct schema_entry *conf_schema_find(const struct schema_entry *schema, const char *name)
{
	for (size_t i = 0; schema[i].name; i++)
		if (strcasecmp(schema[i].name, name) == 0)
			return &schema[i];
	return NULL;
}

void conf_unknown_name(struct parser *ps, const struct schema_entry *schema,
			 const char *where)
{
	const char *names[32];
	size_t n = 0;
	for (size_t i = 0; schema[i].name && n < 31; i++)
		names[n++] = schema[i].name;
	names[n] = NULL;
	const struct token *t = &ps->token;
	const char *nearest = diag_nearest(t->text, names);
	if (nearest)
		diag_error(ps->diag, &t->at, "unknown %s '%s'; did you mean '%s'?", where, t->text,
			   nearest);
	else if (schema != conf_top_schema && conf_schema_find(conf_top_schema, t->text))
		diag_error(ps->diag, &t->at,
			   "'%s' is not valid inside '%s' (it belongs at the top level)", t->text,
			   conf_scope_name(schema));
	else if (schema == conf_top_schema && conf_schema_find(conf_security_schema, t->text))
		diag_error(ps->diag, &t->at,
			   "'%s' is valid only inside 'security { ... }'", t->text);
	else
		diag_error(ps->diag, &t->at, "unknown %s '%s'", where, t->text);
}

/* --- building the model ------------------------------------------------- */

const char *policy_add_file(struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->file_count; i++)
		if (strcmp(p->files[i], name) == 0)
			return p->files[i];
	char **grown = realloc(p->files, (p->file_count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	p->files = grown;
	char *copy = strdup(name);
	if (!copy)
		return NULL;
	p->files[p->file_count++] = copy;
	return copy;
}

int conf_oom(struct parser *ps)
{
	diag_error(ps->diag, &ps->token.at, "out of memory");
	return -1;
}

/* Take ownership of the current token's text. */
static char *take_text(struct parser *ps)
{
	char *text = ps->token.text;
	ps->token.text = NULL;
	return text;
}

static int add_path(struct parser *ps, struct path_rules *rules)
{
	struct path_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return conf_oom(ps);
	rules->rules = grown;
	struct path_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->path = take_text(ps);
	return 0;
}

static int add_bind(struct parser *ps)
{
	struct bind_rules *rules = &ps->policy->bind;
	struct bind_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return conf_oom(ps);
	rules->rules = grown;
	struct bind_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->text = take_text(ps);
	return 0;
}

static int add_runas(struct parser *ps, struct runas_rules *rules)
{
	struct runas_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return conf_oom(ps);
	rules->rules = grown;
	struct runas_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->name = take_text(ps);
	return 0;
}

static int add_custom(struct parser *ps)
{
	struct custom_rules *rules = &ps->policy->custom;
	struct custom_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return conf_oom(ps);
	rules->rules = grown;
	struct custom_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->text = take_text(ps);
	return 0;
}

static int add_value(struct parser *ps, struct policy_value **list, size_t *count)
{
	struct policy_value *grown = realloc(*list, (*count + 1) * sizeof(*grown));
	if (!grown)
		return conf_oom(ps);
	*list = grown;
	grown[*count].origin = ps->token.at;
	grown[*count].text = take_text(ps);
	(*count)++;
	return 0;
}

static void set_value(struct parser *ps, struct policy_value *v)
{
	free(v->text);
	v->origin = ps->token.at;
	v->text = take_text(ps);
}

int conf_parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	for (size_t i = 0; yes[i]; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return 0;
		}
	}
	return -1;
}

static struct policy_bool *bool_slot(struct policy *p, enum directive directive)
{
	switch (directive) {
	case DIR_AUTH:
		return &p->auth;
	case DIR_AUTH_ALLOW_RERUN:
		return &p->auth_allow_rerun;
	case DIR_FORK:
		return &p->fork;
	case DIR_ALLOW_RERUN:
		return &p->allow_rerun;
	case DIR_ALLOW_NAMESPACES:
		return &p->allow_namespaces;
	default:
		return NULL;
	}
}

/* Store one list item for `directive`. */
int conf_store_item(struct parser *ps, struct scope_target *scope, enum directive directive)
{
	struct policy *p = ps->policy;
	switch (directive) {
	case DIR_OPEN_RO:
		return add_path(ps, &p->open_ro);
	case DIR_OPEN_RW:
		return add_path(ps, &p->open_rw);
	case DIR_OPEN_AO:
		return add_path(ps, &p->open_ao);
	case DIR_UNLINK:
		return add_path(ps, &p->unlink);
	case DIR_BIND:
		return add_bind(ps);
	case DIR_RUN_AS:
		return add_runas(ps, &p->run_as);
	case DIR_CUSTOM:
		return add_custom(ps);
	case DIR_AUTH:
		return add_value(ps, &p->auth_services, &p->auth_service_count);
	case RUN_USER:
		return add_runas(ps, &scope->run->users);
	case RUN_ENV:
		return add_value(ps, &scope->run->env, &scope->run->env_count);
	case OPT_SUPPLEMENTAL_GROUPS:
		scope->security->supplemental_set = true;
		return add_value(ps, &scope->security->supplemental_groups,
				 &scope->security->supplemental_count);
	case CONFINE_OPT_READ:
	case CONFINE_OPT_WRITE:
	case CONFINE_OPT_EXEC:
	case CONFINE_OPT_BIND:
	case CONFINE_OPT_CONNECT:
		if (confine_add_item(scope->confine,
				     (enum confine_list)(CONFINE_READ + (directive - CONFINE_OPT_READ)),
				     take_text(ps), &ps->token.at) < 0)
			return conf_oom(ps);
		return 0;
	default:
		return 0;
	}
}

/* Store a scalar for `directive`. */
int conf_store_scalar(struct parser *ps, struct scope_target *scope, enum directive directive,
			enum value_kind kind)
{
	struct policy *p = ps->policy;
	if (kind == KIND_BOOL) {
		struct policy_bool *b = bool_slot(p, directive);
		bool value;
		if (conf_parse_bool(ps->token.text, &value) < 0) {
			diag_error(ps->diag, &ps->token.at,
				   "expected true or false (or yes/no, on/off, 1/0), not '%s'",
				   ps->token.text);
			return -1;
		}
		if (directive == CONFINE_OPT_STRICT) {
			scope->confine->strict = value;
			scope->confine->strict_set = true;
			scope->confine->strict_origin = ps->token.at;
			return 0;
		}
		b->value = value;
		b->set = true;
		b->origin = ps->token.at;
		return 0;
	}
	switch (directive) {
	case DIR_CHROOT:
		set_value(ps, &p->chroot);
		break;
	case DIR_UNPRIV_USER:
		set_value(ps, &p->unpriv_user);
		break;
	case DIR_CUSTOM_TIMEOUT:
		set_value(ps, &p->custom_timeout);
		break;
	case OPT_USER:
		set_value(ps, &scope->security->user);
		break;
	case OPT_GROUP:
		set_value(ps, &scope->security->group);
		break;
	case OPT_CHROOT:
		set_value(ps, &scope->security->chroot);
		break;
	case OPT_CAPABILITIES:
		set_value(ps, &scope->security->capabilities);
		break;
	case OPT_PRIVILEGES:
		set_value(ps, &scope->security->privileges);
		break;
	case RUN_CHROOT:
		set_value(ps, &scope->run->chroot);
		break;
	case RUN_PROGRAM: {
		struct path_rule *program = &scope->run->program;
		free(program->path);
		program->origin = ps->token.at;
		program->path = take_text(ps);
		scope->run->has_program = true;
		break;
	}
	default:
		break;
	}
	return 0;
}
