/* The policy model: what a set of policy files grants, validated and with
 * every name resolved to an id. conf.c builds it, validate.c checks what
 * its values mean, scope/resolve_scope.c resolves its names on this system,
 * and decide.c decides requests against it, purely: it is read-only once
 * validated. Nothing in src/policy/ includes a monitor/, program/ or
 * scope/ header (tests/test_layout.c checks it). */
#ifndef PRIVMAN_POLICY_H
#define PRIVMAN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/types.h>

#include "policy/confine.h"
#include "policy/diag.h"

/* A string from a policy file together with where it was written. */
struct policy_value {
	char *text;
	struct origin origin;
};

enum path_match {
	PATH_MATCH_EXACT,    /* /etc/passwd */
	PATH_MATCH_CHILDREN, /* /var/spool/mail/ *: any entry directly in the directory */
	PATH_MATCH_SUBTREE,  /* /var/spool/mail/ **: any entry below the directory */
};

struct path_rule {
	char *path; /* as written, absolute and lexically clean */
	char *dir;  /* for CHILDREN and SUBTREE: the directory ("/" or "/a/b") */
	size_t dir_len;
	enum path_match match;
	struct origin origin;
};

struct path_rules {
	struct path_rule *rules;
	size_t count;
};

/* One `bind` entry: a port (or any port), optionally on one address. */
struct bind_rule {
	char *text; /* as written */
	bool any_port;
	uint16_t port;
	int family; /* AF_UNSPEC: any address of any family */
	struct in_addr addr4;
	struct in6_addr addr6;
	struct origin origin;
};

struct bind_rules {
	struct bind_rule *rules;
	size_t count;
};

/* One `run_as` entry. `*` is any user but root; root only when named. */
struct runas_rule {
	char *name; /* "*" or a user name */
	bool any_nonroot;
	uid_t uid;
	gid_t gid;
	struct origin origin;
};

struct runas_rules {
	struct runas_rule *rules;
	size_t count;
};

/* One `run { program ... user ... chroot ... env ... }` scope: a program
 * that may be run only as the users named, only inside the chroot named,
 * with only the environment variables named (envfilter.h). */
struct run_rule {
	bool has_program;        /* false: any program, and priv_rerunas */
	struct path_rule program; /* the program's path inside the chroot */
	struct runas_rules users;
	struct policy_value chroot; /* text NULL: no chroot */
	struct policy_value *env;  /* names, NAME* or *: what may pass */
	size_t env_count;
	struct origin origin;
};

struct run_rules {
	struct run_rule *rules;
	size_t count;
};

/* One `custom` entry: a handle of a function the program registered with
 * priv_register_info_fn or priv_register_cap_fn, or `*` for every one. */
#define POLICY_CUSTOM_HANDLES 256 /* handles 0-255 (wire/custom_wire.h) */
#define POLICY_CUSTOM_TIMEOUT_MAX 3600 /* seconds */
#define POLICY_CUSTOM_TIMEOUT_DEFAULT 10

struct custom_rule {
	char *text; /* as written */
	bool any;
	int32_t handle;
	struct origin origin;
};

struct custom_rules {
	struct custom_rule *rules;
	size_t count;
};

struct policy_bool {
	bool value;
	bool set;
	struct origin origin;
};

/* The security scope: who the (unprivileged) process becomes and which
 * capabilities it keeps. Names as written, and the ids they resolve to. */
struct policy_security {
	bool present; /* a `security` scope was written */
	struct origin origin;

	struct policy_value user;  /* text NULL: not set */
	struct policy_value group; /* text NULL: the user's primary group */
	struct policy_value *supplemental_groups;
	size_t supplemental_count;
	bool supplemental_set;     /* written, even as an empty list */
	struct policy_value chroot;
	struct policy_value capabilities; /* cap_from_text() text */
	struct policy_value privileges;   /* Solaris privilege names */

	/* Filled by policy_security_resolve() (scope/resolve_scope.h). */
	bool resolved;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	size_t gid_count;
	/* Capability sets kept, one bit per capability number. `privileges`
	 * adds to permitted and effective. */
	uint64_t cap_effective;
	uint64_t cap_permitted;
	uint64_t cap_inheritable;
};

struct policy {
	struct path_rules open_ro;
	struct path_rules open_rw;
	struct path_rules open_ao;
	struct path_rules unlink;
	struct bind_rules bind;
	struct runas_rules run_as;
	struct run_rules run;

	/* `auth true` grants the PAM service named like the application
	 * (priv_init's appname) and nothing else; `auth { NAME ... }` grants
	 * the services named; `auth false` revokes both. */
	struct policy_bool auth;
	struct policy_value *auth_services;
	size_t auth_service_count;
	struct policy_bool auth_allow_rerun;
	struct policy_bool fork;
	struct policy_bool allow_rerun;
	/* Off (the default): the program, and every process started to run
	 * its code, cannot make namespaces or mounts (drop.c's filter). */
	struct policy_bool allow_namespaces;
	/* What the program may do by itself after the drop (Landlock and
	 * seccomp, scope/confine_apply.c); not present: nothing is confined. */
	struct policy_confine confine;

	struct custom_rules custom;
	struct policy_value custom_timeout; /* seconds, as written */
	unsigned custom_timeout_s;          /* 0: not set (the default applies) */

	struct policy_value unpriv_user; /* top-level `unpriv_user` */
	struct policy_value chroot;      /* top-level `chroot` */

	/* The effective scope after validation: `security`, with unpriv_user
	 * and chroot folded in and the defaults (user nobody) applied. */
	struct policy_security security;

	/* Every file read, in order; origins point into these strings. */
	char **files;
	size_t file_count;

	/* Learning (PRIVMAN_LEARN, privman learn): a request this policy
	 * refuses is granted, and its decision says which rule would grant it
	 * (learn.h). Never set from a policy file. */
	bool learn;
};

/* --- loading (conf.c) --------------------------------------------------- */

/* Parse one or more policy files, in order, into a fresh unvalidated policy.
 * Returns NULL, with the reasons in `d`, on any error: nothing is half-loaded. */
struct policy *conf_load_files(const char *const *paths, size_t count, struct diag *d);

/* Parse policy text held in memory; `name` is used in messages and
 * includes are resolved relative to its directory. Used by the fuzzer and
 * tests. */
struct policy *conf_load_buffer(const char *name, const char *text, size_t len, struct diag *d);

/* Parse into an existing policy (files accumulate as the language says). */
int conf_parse_file(struct policy *p, const char *path, struct diag *d);
int conf_parse_buffer(struct policy *p, const char *name, const char *text, size_t len,
		      struct diag *d);

/* --- the model (policy.c) ----------------------------------------------- */

struct policy *policy_new(void);
void policy_free(struct policy *p);

void policy_security_free(struct policy_security *s);
/* True when two resolved scopes give the same credentials (same ids,
 * groups, chroot and capability sets), however they were written. A reload
 * compares the running scope with the new one: a scope cannot change
 * without a restart. */
bool policy_security_equal(const struct policy_security *a, const struct policy_security *b);
void policy_run_rule_free(struct run_rule *r);
/* Deep copy; returns 0 or -1 (ENOMEM). */
int policy_security_copy(struct policy_security *dst, const struct policy_security *src);
/* Copy a value's text and origin; returns 0 or -1 (ENOMEM). */
int policy_value_copy(struct policy_value *dst, const struct policy_value *src);

/* --- validation of the language (validate.c, capmap.c) -------------------- */

/* What needs no system database: paths clean, ports in range, the
 * capability text parses, names well formed, unpriv_user and chroot agree
 * with the security scope. Deterministic; used by the fuzzer. What does
 * need the system (users, groups, chroot directories, the bounding set) is
 * policy_validate(), scope/resolve_scope.h, which runs this first. Returns
 * 0, or -1 with every reason in `d`. */
int policy_validate_syntax(struct policy *p, struct diag *d);

/* NULL when `path` is absolute and lexically clean (no empty, "." or ".."
 * element, no trailing slash), else the reason, worded to follow the path
 * in a message. With `wildcards`, a last element of "*" or "**" is allowed
 * and reported in *match (which may be NULL). */
const char *policy_path_check(const char *path, bool wildcards, enum path_match *match);

/* Parse a capability text with cap_from_text() into the three masks.
 * Returns 0, or -1 with a reason in `d` located at `at`. */
int policy_parse_capabilities(const char *text, const struct origin *at, uint64_t *effective,
			      uint64_t *permitted, uint64_t *inheritable, struct diag *d);

/* A scope's `capabilities` and `privileges` into its three masks
 * (`privileges` adds to permitted and effective). Returns 0 or -1. */
int policy_security_parse_capabilities(struct policy_security *s, struct diag *d);

/* A capability's name ("cap_net_bind_service") from libcap, into buf. */
const char *policy_cap_name(int cap, char *buf, size_t len);

/* Print the effective policy, normalised, each entry with where it came
 * from, to `out` (dump.c). */
void policy_dump(const struct policy *p, FILE *out);

/* --- decisions (decide.c) ----------------------------------------------- */

enum policy_op {
	POLICY_OP_OPEN,
	POLICY_OP_UNLINK,
	POLICY_OP_BIND,
	POLICY_OP_RUN_AS,
	POLICY_OP_AUTH,
	POLICY_OP_FORK,
	POLICY_OP_RERUN,
	POLICY_OP_CUSTOM,
};

struct policy_request {
	enum policy_op op;
	/* OPEN, UNLINK: the real, absolute path of the object (the monitor
	 * resolves it with the kernel first); OPEN: open(2) flags. */
	const char *path;
	int flags;
	/* BIND */
	int family; /* AF_INET or AF_INET6 */
	uint16_t port;
	struct in_addr addr4;
	struct in6_addr addr6;
	/* RUN_AS: the target user; the program (priv_execve, priv_popen_as;
	 * NULL for priv_rerunas); the chroot (NULL: the policy's own). */
	uid_t uid;
	const char *user;
	const char *program;
	const char *chroot;
	/* AUTH: the PAM service asked for (NULL: may any service be used at
	 * all?) and the application's name, which `auth true` grants. */
	const char *service;
	const char *app;
	/* Users who passed pam_authenticate and pam_acct_mgmt in this run of
	 * the program (auth_allow_rerun). */
	const uid_t *authenticated;
	size_t authenticated_count;
	/* CUSTOM: the handle of a registered function */
	int32_t handle;
};

/* The longest rule learning writes: a path of PATH_MAX, quoted, and its
 * directive, or a run scope whose program and chroot fit in as much. A
 * longer one is not learned (the refusal stands, and says why): every
 * request pays for clearing this. */
#define POLICY_LEARNED_MAX (4096 + 256)

struct policy_decision {
	bool allow;
	int error;                  /* errno to return when refused */
	const char *directive;      /* the directive that decided, or NULL */
	const char *rule;           /* the rule's text, or NULL */
	const struct origin *origin; /* where it was written, or NULL */
	/* RUN_AS granted by a run scope: that scope (its env list), else NULL. */
	const struct run_rule *run;
	char reason[512];
	/* Granted only because the policy is learning: directive is
	 * "learned" and rule points to `learned_rule`, the rule that would
	 * grant it, in the policy language (empty when no rule is needed).
	 * Kept last: policy_decide() clears only the fields above it. */
	bool learned;
	char learned_rule[POLICY_LEARNED_MAX];
};

/* The pure match: no system call, no allocation. Always fills `out`. */
void policy_decide(const struct policy *p, const struct policy_request *req,
		   struct policy_decision *out);

/* A PAM service name as PAM will use it (Linux-PAM lowercases it) into
 * out: ASCII letters, digits and . _ - + @ only, not "." or "..", at most
 * POLICY_SERVICE_MAX bytes. Returns 0, or -1 when it is not a plain name. */
#define POLICY_SERVICE_MAX 255
int policy_service_canon(const char *name, char *out, size_t cap);

/* Name of an operation as written in a request ("open", "bind", ...). */
const char *policy_op_name(enum policy_op op);

#endif
