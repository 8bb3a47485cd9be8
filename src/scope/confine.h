/* Confinement of the program side: the `confine` scope applied with
 * Landlock (files, TCP ports, abstract UNIX sockets and signals) and a
 * seccomp filter (what Landlock cannot see). Prepared as root before
 * anything changes, so that every mistake is reported while nothing has;
 * enforced by the drop (drop_apply_confined), never in the monitor. */
#ifndef PRIVMAN_SCOPE_CONFINE_H
#define PRIVMAN_SCOPE_CONFINE_H

#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/confine.h"
#include "policy/diag.h"

/* The newest Landlock ABI whose rights privman knows and uses. */
#define CONFINE_ABI_KNOWN 7

/* The Landlock ABI of the running kernel: 0 when Landlock is absent or
 * disabled (then only the seccomp part applies). */
int confine_kernel_abi(void);

struct confine_plan {
	int abi;          /* the ABI the ruleset was built for */
	int ruleset_fd;   /* -1: no Landlock ruleset */
	bool root_granted; /* a rule reaches "/": the proof cannot use it */
	scmp_filter_ctx filter;
	char summary[256]; /* what is enforced, for syslog and --dry-run */
};

/* Build the ruleset and the filter for `c`. Paths are in the program's
 * view: inside `chroot` when there is one (NULL: none). `command` (NULL
 * for priv_init) is the program `privman run` will execute, which is
 * granted exec. `abi` is confine_kernel_abi(), or less to act as on an
 * older kernel (tests). Without `strict`, what the kernel cannot enforce is
 * reported as a warning in `d` and to syslog; with it, it is an error.
 * Returns 0, or -1 with every reason in `d` (nothing was changed). */
int confine_prepare(const struct policy_confine *c, const char *chroot, const char *command,
		    int abi, struct confine_plan *plan, struct diag *d);

/* Enter the confinement for good: no_new_privs first when this process
 * lacks CAP_SYS_ADMIN (Landlock and seccomp require one or the other),
 * then Landlock, the filter, and the proof that the ruleset is in force.
 * Returns 0 or -errno, with the step that failed in *step: after this
 * begins, the caller's only way out is its fatal path. */
int confine_enforce(struct confine_plan *plan, const char **step);

void confine_plan_free(struct confine_plan *plan);

/* confine_filter.c: the seccomp part. Build the filter (NULL with errno
 * set on failure), and print what it refuses, one group a line, each line
 * starting with `indent`. */
scmp_filter_ctx confine_filter_build(void);
void confine_filter_describe(FILE *out, const char *indent);

/* `privman check`: every path of the scope exists in the program's view
 * (as confine_prepare() requires). Returns 0, or -1 with each one that does
 * not, located, in `d`. */
int confine_check_paths(const struct policy_confine *c, const char *chroot, struct diag *d);

/* `privman check`: the effective scope (the minimum every dynamically
 * linked program needs, then the policy's entries, each with why or
 * where), what a kernel of Landlock ABI `abi` (confine_kernel_abi(), or
 * less in tests) enforces and what it cannot. */
void confine_report(const struct policy_confine *c, const char *chroot, int abi, FILE *out);

#endif
