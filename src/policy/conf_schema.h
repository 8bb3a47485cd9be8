/* The policy language's schema (internal to conf*.c): what each name
 * takes, and where its value goes in the model (conf_schema.c). */
#ifndef PRIVMAN_CONF_SCHEMA_H
#define PRIVMAN_CONF_SCHEMA_H

#include "policy/conf_lex.h"
#include "policy/policy.h"

enum value_kind { KIND_SCALAR, KIND_BOOL, KIND_LIST, KIND_SCOPE, KIND_INCLUDE, KIND_AUTH };

enum directive {
	DIR_OPEN_RO,
	DIR_OPEN_RW,
	DIR_OPEN_AO,
	DIR_UNLINK,
	DIR_BIND,
	DIR_RUN_AS,
	DIR_CHROOT,
	DIR_UNPRIV_USER,
	DIR_AUTH,
	DIR_AUTH_ALLOW_RERUN,
	DIR_FORK,
	DIR_ALLOW_RERUN,
	DIR_CUSTOM,
	DIR_CUSTOM_TIMEOUT,
	DIR_ALLOW_NAMESPACES,
	DIR_SECURITY,
	DIR_RUN,
	DIR_CONFINE,
	DIR_INCLUDE,
	/* inside `security` */
	OPT_USER,
	OPT_GROUP,
	OPT_SUPPLEMENTAL_GROUPS,
	OPT_CHROOT,
	OPT_CAPABILITIES,
	OPT_PRIVILEGES,
	/* inside `run` */
	RUN_PROGRAM,
	RUN_USER,
	RUN_CHROOT,
	RUN_ENV,
	/* inside `confine` (policy/confine.c) */
	CONFINE_OPT_READ,
	CONFINE_OPT_WRITE,
	CONFINE_OPT_EXEC,
	CONFINE_OPT_BIND,
	CONFINE_OPT_CONNECT,
	CONFINE_OPT_STRICT,
};

struct schema_entry {
	const char *name;
	enum directive directive;
	enum value_kind kind;
};

/* The names of the top level, of `security { }` and of `run { }`, each
 * table ended by a NULL name. */
extern const struct schema_entry conf_top_schema[];
extern const struct schema_entry conf_security_schema[];
extern const struct schema_entry conf_run_schema[];
extern const struct schema_entry conf_confine_schema[];

/* "security", "run" or "confine": the scope `schema` describes. */
const char *conf_scope_name(const struct schema_entry *schema);

/* What the statements of a scope write into. */
struct scope_target {
	struct policy_security *security; /* inside `security` */
	struct run_rule *run;             /* inside `run` */
	struct policy_confine *confine;   /* inside `confine` */
};

/* The entry of `schema` named `name` (case-insensitive), or NULL. */
const struct schema_entry *conf_schema_find(const struct schema_entry *schema, const char *name);

/* Refuse the current token, a name `schema` does not know, saying what
 * was probably meant; `where` is "directive", "security option", ... */
void conf_unknown_name(struct parser *ps, const struct schema_entry *schema, const char *where);

/* "out of memory" at the current token; returns -1. */
int conf_oom(struct parser *ps);

/* Parse a boolean the way the language spells one; returns 0 or -1. */
int conf_parse_bool(const char *text, bool *value);

/* Remember a file name in the policy; returns the policy's copy, or NULL. */
const char *policy_add_file(struct policy *p, const char *name);

/* Store the current token as one list item, or as the scalar, of
 * `directive` (in `scope` inside `security` or `run`). Returns 0 or -1. */
int conf_store_item(struct parser *ps, struct scope_target *scope, enum directive directive);
int conf_store_scalar(struct parser *ps, struct scope_target *scope, enum directive directive,
		      enum value_kind kind);

#endif
