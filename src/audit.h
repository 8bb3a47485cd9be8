/* Audit: every decision of the monitor, to syslog (the ident and facility
 * priv_init set with openlog) and, when a file was named, as JSON lines. */
#ifndef PRIVMAN_AUDIT_H
#define PRIVMAN_AUDIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy.h"

struct audit {
	int fd; /* JSON lines file, or -1 */
};

/* Open FILE for JSON lines (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600).
 * Returns 0 or -1 with errno. */
int audit_open_file(struct audit *a, const char *path);
void audit_close(struct audit *a);

/* One decision. `object` is what was decided on (a real path, an address);
 * `flags` the open flags (or 0); `result` 0 or the errno the operation
 * finally returned. */
void audit_decision(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		    const struct policy_decision *d, int result);

/* A refusal that was not the policy's (bad flags, not a socket, ...). */
void audit_refusal(struct audit *a, const char *op, const char *object, pid_t pid, int error,
		   const char *reason);

/* A protocol violation: service to `pid` ends. */
void audit_protocol(struct audit *a, pid_t pid, const char *why);

/* A free-form monitor event (reload, exit). */
void audit_event(struct audit *a, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Escape `s` as the inside of a JSON string into out; returns out. */
const char *audit_json_escape(const char *s, char *out, size_t cap);

#endif
