/* The broker of `privman run`: an unmodified program runs dropped to its
 * security scope under a seccomp filter that sends its open, openat,
 * openat2, creat, unlink, unlinkat and bind calls to a root monitor (seccomp
 * user notification). The monitor performs what the policy grants with the
 * handlers priv_open, priv_unlink and priv_bind use (object.h), and lets
 * every other call go on in the kernel with the program's own credentials.
 *
 * Processes: the monitor (root, holds the listener) forks a guard (root, a
 * child subreaper), which forks the command. Each of the two root processes
 * ends the command's whole tree when the other one dies: the guard when the
 * monitor is gone (a pidfd), the monitor when the guard is (the tree is then
 * reparented to it, a subreaper too). See privman(1), "THE BROKER". */
#ifndef PRIVMAN_BROKER_H
#define PRIVMAN_BROKER_H

#include <stdbool.h>

struct policy;

/* Runs in the command's process once the filter is in place and its
 * listener is with the monitor, still as root: drop to the scope and exec.
 * Never returns. */
typedef void broker_target_fn(void *arg);

/* True when the policy grants something the broker can serve: an open_ro,
 * open_rw, open_ao, unlink or bind rule. */
bool broker_wanted(const struct policy *policy);

/* Start the command's tree under the broker and serve it, then leave as the
 * command left: its exit status, or death by its signal. `policy` is
 * validated, with the scope the command gets in policy->security (the
 * appender of open_ao streams runs as its user). `ident` names the audit's
 * syslog lines; `audit_fd` is a JSON lines file or -1. Returns only when
 * nothing could be started (-1 with errno, and a message on stderr). */
int broker_run(struct policy *policy, const char *ident, int audit_fd, broker_target_fn *target,
	       void *arg);

#endif
