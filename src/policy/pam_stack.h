/* What a PAM service's stack holds that the root PAM worker must not be
 * trusted with: modules that decide on the caller's identity (the worker
 * is uid 0, so pam_rootok always succeeds), or on items the program sets.
 *
 * The stack is read the way Linux-PAM finds it: /etc/pam.d/SERVICE, then
 * /usr/lib/pam.d/SERVICE, else the same for "other"; `@include FILE`,
 * `TYPE include FILE` and `TYPE substack FILE` are followed (the latter two
 * for that type only), `-TYPE` lines count, `[...]` controls may hold
 * spaces, `\` continues a line, `#` starts a comment. Used by `privman
 * check` (to warn) and by the PAM worker (to refuse auth_allow_rerun for a
 * user who "authenticated" through such a stack). */
#ifndef PRIVMAN_PAM_STACK_H
#define PRIVMAN_PAM_STACK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define PAM_STACK_MAX_FINDINGS 16

struct pam_stack_finding {
	char file[PATH_MAX];
	unsigned line;
	char type[16];   /* auth, account, password, session */
	char module[64]; /* "pam_rootok" */
	const char *why; /* a sentence: why the root worker makes it unsafe */
};

struct pam_stack_report {
	bool missing;        /* the service has no file: "other" was read */
	char file[PATH_MAX]; /* the file read for the service ("" when none) */
	bool outside;        /* a file or a module named by a path: PAM reads
				it from outside the directories above */
	size_t count;
	struct pam_stack_finding found[PAM_STACK_MAX_FINDINGS];
};

/* Scan the stack of `service` (a plain name: see policy_service_canon) in
 * the directories `dirs` (NULL-terminated; NULL: /etc/pam.d and
 * /usr/lib/pam.d). Returns 0, or -1 with errno when neither the service
 * nor "other" has a file (ENOENT). */
int pam_stack_scan(const char *const *dirs, const char *service, struct pam_stack_report *out);

/* True when a finding makes pam_authenticate or pam_acct_mgmt pass without
 * the user's own proof (types auth and account). */
bool pam_stack_trusts_caller(const struct pam_stack_report *r,
			     const struct pam_stack_finding **first);

#endif
