/* The monitor's handlers for requests on an object: open a file, unlink a
 * name, bind a socket. They know nothing of how the request arrived: the
 * program's channel (monitor.c) is one front end, the broker's seccomp
 * notifications (`privman run`) another. A front end fills a request, calls
 * object_handle(), sends the result its own way, and audits it once with
 * object_audit(): every path through a handler ends in one result, so no
 * branch can skip the audit.
 *
 * Runs as root, in the monitor. */
#ifndef PRIVMAN_OBJECT_H
#define PRIVMAN_OBJECT_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "policy/policy.h"

struct monitor;

enum object_op {
	OBJECT_OPEN,
	OBJECT_UNLINK,
	OBJECT_BIND,
};

struct object_request {
	enum object_op op;
	pid_t pid; /* the requester (a thread id for the broker), for the audit */

	/* open, unlink: the path as the requester wrote it, and the directory a
	 * relative one starts from, in the monitor's own view of the file
	 * system: AT_FDCWD for an absolute path, else an O_PATH handle the
	 * front end resolved (the program's cwd or dirfd) and still owns.
	 * When the front end could not resolve that directory, base is -1 and
	 * base_error says why (EXDEV: it is not in the monitor's view, as in
	 * another mount namespace); a relative path is then refused with it.
	 * The refusal comes from the handler, in its turn among the checks. A
	 * relative path is never resolved from AT_FDCWD (the monitor's own
	 * working directory): without a handle it is refused (EXDEV). */
	const char *path;
	int base;
	int base_error;

	/* open: open(2) flags, the requested mode and the requester's umask,
	 * or -errno when it could not be read. The umask is read only for
	 * O_CREAT and O_TMPFILE (object_needs_umask), and refused only then. */
	int flags;
	mode_t mode;
	int umask;

	/* open: a front end that can leave the call to the kernel (the broker)
	 * sets it: an object on procfs is never acted on, since procfs
	 * resolves /proc/self (and /dev/fd, /etc/mtab through it) as the
	 * process that walks the path, the monitor. See result.procfs. */
	bool procfs_to_kernel;

	/* bind: a socket the monitor holds (a copy of the requester's), and the
	 * address asked for. */
	int sock;
	const struct sockaddr_storage *addr;
	socklen_t addrlen;
};

struct object_result {
	/* The small fields first, then the buffers, each touched at its start
	 * only: every request writes the first bytes of `object` and of the
	 * decision, and nothing of stream_path unless it names a stream, so
	 * that a request touches as few pages of this as it can. */
	/* Whether the policy was asked (the decision below says what it said). */
	bool decided;
	/* A refusal before any decision (bad flags, not a socket...): why. */
	const char *why;
	/* The outcome: 0 or an errno for the requester. */
	int error;
	/* open: the fd to hand out (the file, or an append stream), else -1.
	 * The caller owns it. */
	int fd;
	/* open, with request.procfs_to_kernel: the policy granted an object on
	 * procfs, and nothing was done (no open, no append stream): the front
	 * end leaves the call to the kernel. error is EACCES, fd -1. */
	bool procfs;
	/* open_ao: the file was opened (the decision's result is 0), but no
	 * append stream could be made for it: why (error holds the errno),
	 * and the real path of the file, which the second record names
	 * (stream_path: set only with stream_why). */
	const char *stream_why;
	/* The object as decided and audited: the real path in the monitor's
	 * view, or the path as written when it could not be resolved, or the
	 * address of a bind. */
	char object[PATH_MAX];
	struct policy_decision decision;
	char stream_path[PATH_MAX];
};

/* The open(2) flags a program may ask for: 1 or 0. */
int monitor_open_flags_ok(int flags);

/* Whether an open with `flags` needs the requester's umask. */
static inline bool object_needs_umask(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* Resolve, decide, act. Never audits, never fails to fill `out`. */
void object_handle(struct monitor *m, const struct object_request *req,
		   struct object_result *out);

/* The audit of a handled request, called once per request: one record
 * (the decision, or the refusal before any), and for an open_ao stream that
 * could not be made a second one that says why. */
void object_audit(struct monitor *m, const struct object_request *req,
		  const struct object_result *res);

#endif
