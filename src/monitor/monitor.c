/* The monitor: event loop, dispatch table and request handlers.
 *
 * Threat model: everything that arrives on a channel is hostile. A request
 * is decoded by a strict reader; anything that does not parse ends service
 * to that channel (fail closed). Paths are resolved by the kernel to an
 * O_PATH handle, the policy decides on the real path of that handle, and
 * that very handle is opened: no name is ever resolved twice. */
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "monitor/append.h"
#include "monitor/custom.h"
#include "common/kill_one.h"
#include "monitor/pam_monitor.h"
#include "monitor/proc.h"
#include "monitor/resolve.h"

#define SIGNAL_TAG UINT64_MAX
/* Messages served from one channel before the others get a turn. One: a
 * second recvmsg would mostly find the queue empty, and epoll_wait costs no
 * more than that when more is waiting. */
#define BATCH 1

/* A handler returns a status (>= 0, or -errno) and may set *fd_out. It may
 * take an fd from `fds` by setting the slot to -1; the rest are closed. */
typedef int handler_fn(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out);

static handler_fn handle_open, open_object, handle_unlink, handle_bind, handle_exit, handle_channel;
static int send_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		      int status, int fd_out, const void *fields, size_t fields_size);

/* The dispatch table, as in OpenSSH's monitor.c: what each operation needs
 * from the policy, how many fds it takes and returns, and who serves it. */
static const struct dispatch {
	uint32_t op;
	const char *needs; /* the directives that can grant it */
	int fds_out;       /* fds in the reply when the status is >= 0 */
	handler_fn *handler;
} dispatch_table[] = {
	{WIRE_OP_OPEN, "open_ro, open_ao, open_rw", 1, handle_open},
	{WIRE_OP_UNLINK, "unlink", 0, handle_unlink},
	{WIRE_OP_BIND, "bind", 0, handle_bind},
	{WIRE_OP_EXIT, "nothing", 0, handle_exit},
	{WIRE_OP_CHANNEL, "nothing", 1, handle_channel},
	{WIRE_OP_PAM_START, "auth", 1, pam_monitor_start},
	{WIRE_OP_FORK, "fork", 1, proc_handle_fork},
	{WIRE_OP_HELLO, "a channel from fork", 0, proc_handle_hello},
	{WIRE_OP_WAIT, "nothing: its own children", 0, proc_handle_wait},
	{WIRE_OP_RERUN, "allow_rerun, run_as or run", 0, proc_handle_rerun},
	{WIRE_OP_RESPAWN, "allow_rerun, run_as or run", 0, proc_handle_respawn},
	{WIRE_OP_EXECVE, "allow_rerun, run_as or run", 0, proc_handle_execve},
	{WIRE_OP_EXEC_REPLACE, "allow_rerun, run_as or run", 0, proc_handle_exec_replace},
	{WIRE_OP_POPEN, "allow_rerun, run_as or run", 1, proc_handle_popen},
	{WIRE_OP_DAEMON, "fork", 0, proc_handle_daemon},
	{WIRE_OP_CUSTOM, "custom", 1, custom_handle},
};

static const struct dispatch *dispatch_find(uint32_t op)
{
	for (size_t i = 0; i < sizeof(dispatch_table) / sizeof(dispatch_table[0]); i++)
		if (dispatch_table[i].op == op)
			return &dispatch_table[i];
	return NULL;
}

/* --- open ----------------------------------------------------------------- */

/* The Chromium broker's rule: a flag we do not know is refused. O_PATH would
 * hand out a handle whose later use the policy never saw; O_ASYNC and
 * O_NOATIME change the behaviour of the file for others. */
#define OPEN_FLAGS_KNOWN                                                                  \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK |       \
	 O_DSYNC | O_SYNC | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_TMPFILE)

/* O_TMPFILE's own bit: glibc's O_TMPFILE and __O_TMPFILE include
 * O_DIRECTORY. */
#define TMPFILE_BIT (O_TMPFILE & ~O_DIRECTORY)

int monitor_open_flags_ok(int flags)
{
	if (flags & ~OPEN_FLAGS_KNOWN)
		return 0;
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return 0;
	if (flags & TMPFILE_BIT) {
		if ((flags & O_TMPFILE) != O_TMPFILE || (flags & O_CREAT) ||
		    (flags & O_ACCMODE) == O_RDONLY)
			return 0;
	}
	return 1;
}

static int decide_path(struct monitor *m, enum policy_op op, const char *path, int flags,
		       struct policy_decision *d)
{
	struct policy_request r;
	memset(&r, 0, sizeof(r));
	r.op = op;
	r.path = path;
	r.flags = flags;
	policy_decide(m->policy, &r, d);
	return d->allow ? 0 : -(d->error ? d->error : EACCES);
}

/* The object could not be resolved (`err`). Tell the program the kernel's
 * errno only when the policy would grant the path it named; otherwise it
 * learns nothing about files it may not touch. */
static int refuse_unresolved(struct monitor *m, struct monitor_channel *c, uint32_t op,
			     enum policy_op pop, int base, const char *path, int flags, int err)
{
	char cwd[PATH_MAX], lexical[PATH_MAX];
	struct policy_decision d;
	const char *object = path;

	if (path[0] != '/') {
		if (base < 0 || resolve_fd_path(base, cwd, sizeof(cwd)) < 0)
			cwd[0] = '\0';
	}
	if (resolve_lexical(path[0] == '/' ? "/" : cwd, path, lexical, sizeof(lexical)) >= 0 &&
	    (path[0] == '/' || cwd[0]))
		object = lexical;
	else
		err = EACCES;
	int rc = decide_path(m, pop, object, flags, &d);
	if (rc < 0) {
		audit_decision(&m->audit, wire_op_name(op), object, flags, c->pid, &d, 0);
		return -EACCES;
	}
	audit_decision(&m->audit, wire_op_name(op), object, flags, c->pid, &d, err);
	return -err;
}

/* The directory a path is resolved from, in the monitor's view: its own
 * root for an absolute path, the program's working directory for a relative
 * one. A working directory the monitor cannot name in its own view (the
 * program made a mount namespace of its own, or works in a deleted or
 * overmounted directory) is refused with EXDEV: what the program calls
 * "hostname" there may be any file of the system. */
static int base_for(struct monitor *m, const struct monitor_channel *c, const char *op,
		    const char *path)
{
	if (path[0] == '/')
		return AT_FDCWD;
	int base = resolve_cwd(c->pid);
	if (base == -EXDEV)
		audit_refusal(&m->audit, op, path, c->pid, EXDEV,
			      "a relative path from a working directory that is not in the "
			      "monitor's view of the file system (another mount namespace?)");
	return base;
}

static void close_base(int base)
{
	if (base >= 0)
		close(base);
}

/* Open the object behind `handle`, already decided, with the caller's flags.
 * FIFOs and devices are opened non-blocking so that no program can stall
 * the monitor, then given the blocking mode that was asked for. */
static int open_decided(int handle, int flags)
{
	struct stat st;
	if (fstat(handle, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP; /* O_NOFOLLOW met a symlink */
	/* Non-blocking whatever the type: a FIFO or device would wait for a
	 * peer, and a regular file under a lease the program holds would wait
	 * for the lease to be broken (EWOULDBLOCK instead). Then the mode
	 * asked for. The handle's inode cannot change: its type, checked
	 * above, is the type of what is opened. */
	int reopen = (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_NOCTTY | O_CLOEXEC | O_NONBLOCK;
	return resolve_blocking(resolve_reopen(handle, reopen), flags);
}

/* O_CREAT of a name that does not exist yet: resolve and decide on the
 * parent, then create the name in that very directory, never through a
 * symlink. */
static int create_in_parent(struct monitor *m, struct monitor_channel *c,
			    const struct wire_request *req, int base, mode_t mode)
{
	char parent[PATH_MAX], name[NAME_MAX + 1], real[PATH_MAX], object[PATH_MAX];
	struct policy_decision d;
	int rc = resolve_split(req->path, parent, sizeof(parent), name, sizeof(name));
	if (rc < 0)
		return refuse_unresolved(m, c, req->op, POLICY_OP_OPEN, base, req->path, req->flags,
					 -rc);
	int dir = resolve_handle(base, parent, O_DIRECTORY);
	if (dir < 0)
		return refuse_unresolved(m, c, req->op, POLICY_OP_OPEN, base, req->path, req->flags,
					 -dir);
	rc = resolve_fd_path(dir, real, sizeof(real));
	if (rc >= 0)
		rc = resolve_join(object, sizeof(object), real, name);
	if (rc < 0) {
		close(dir);
		return refuse_unresolved(m, c, req->op, POLICY_OP_OPEN, base, req->path, req->flags,
					 -rc);
	}
	if (decide_path(m, POLICY_OP_OPEN, object, req->flags, &d) < 0) {
		close(dir);
		audit_decision(&m->audit, "open", object, req->flags, c->pid, &d, 0);
		return -EACCES;
	}
	/* Without O_EXCL an object that appeared since the parent was resolved
	 * is opened: a FIFO swapped in now must not stall the monitor. */
	int fd = openat(dir, name, req->flags | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
			mode);
	fd = resolve_blocking(fd < 0 ? -errno : fd, req->flags);
	close(dir);
	audit_decision(&m->audit, "open", object, req->flags, c->pid, &d, fd < 0 ? -fd : 0);
	return fd;
}

static int open_object(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	int flags = req->flags;
	mode_t mode = 0;
	char real[PATH_MAX];
	struct policy_decision d;

	if (!monitor_open_flags_ok(flags)) {
		audit_refusal(&m->audit, "open", req->path, c->pid, EINVAL, "open flags not allowed");
		return -EINVAL;
	}
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		int mask = resolve_umask(c->pid);
		if (mask < 0)
			return mask;
		/* Never a set-id or sticky file made by root for the program. */
		mode = (mode_t)req->mode & 0777 & ~(mode_t)mask;
	}

	/* The common case: a clean absolute path that the policy grants as
	 * written. Walked with no symlink and no "..", the object reached is the
	 * one the string names, so the decision on the string is a decision on
	 * that object. A symlink on the way (ELOOP), or a string the policy does
	 * not grant (it may be a symlink to a granted file), takes the long way. */
	if (resolve_is_clean(req->path) &&
	    decide_path(m, POLICY_OP_OPEN, req->path, flags, &d) == 0 &&
	    (!(flags & TMPFILE_BIT) || (d.directive && strcmp(d.directive, "open_rw") == 0))) {
		int fd = resolve_open_clean(req->path, flags, mode);
		if (fd != -ELOOP) {
			audit_decision(&m->audit, "open", req->path, flags, c->pid, &d,
				       fd < 0 ? -fd : 0);
			if (fd < 0)
				return fd;
			*fd_out = fd;
			return 0;
		}
	}

	int base = base_for(m, c, "open", req->path);
	if (base < 0 && base != AT_FDCWD)
		return base;

	int extra = 0;
	if ((flags & O_NOFOLLOW) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		extra |= O_NOFOLLOW;
	if (flags & O_DIRECTORY)
		extra |= O_DIRECTORY;
	int handle = resolve_handle(base, req->path, extra);
	if (handle == -ENOENT && (flags & O_CREAT)) {
		int fd = create_in_parent(m, c, req, base, mode);
		close_base(base);
		if (fd >= 0)
			*fd_out = fd;
		return fd < 0 ? fd : 0;
	}
	if (handle < 0) {
		int rc = refuse_unresolved(m, c, req->op, POLICY_OP_OPEN, base, req->path, flags,
					   -handle);
		close_base(base);
		return rc;
	}
	close_base(base);

	int rc = resolve_fd_path(handle, real, sizeof(real));
	if (rc < 0) {
		close(handle);
		audit_refusal(&m->audit, "open", req->path, c->pid, EACCES,
			      "the object has no path in the monitor's view");
		return -EACCES;
	}
	if (decide_path(m, POLICY_OP_OPEN, real, flags, &d) < 0) {
		close(handle);
		audit_decision(&m->audit, "open", real, flags, c->pid, &d, 0);
		/* An unnamed file where read-write is not granted is an invalid
		 * request rather than a denied one, as for any refused flag. */
		return d.error == EINVAL || (flags & TMPFILE_BIT) ? -EINVAL : -EACCES;
	}
	int fd;
	if ((flags & TMPFILE_BIT) && !(d.directive && strcmp(d.directive, "open_rw") == 0))
		fd = -EINVAL; /* an unnamed file only where read-write is granted */
	else if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		fd = -EEXIST;
	else
		fd = open_decided(handle, flags);
	close(handle);
	audit_decision(&m->audit, "open", real, flags, c->pid, &d, fd < 0 ? -fd : 0);
	if (fd < 0)
		return fd;
	*fd_out = fd;
	return 0;
}

/* An open that open_ao grants, and open_rw does not, never hands out the
 * file: a program can clear O_APPEND (F_SETFL), ftruncate, pwrite or
 * fallocate through any fd on it. It gets a pipe instead, whose bytes the
 * appender copies to the end of the file (append.c). The open was decided
 * and audited on the object; this decides only which kind of fd goes out,
 * on the real path of the file opened (the file itself only where open_rw
 * grants it). */
static int handle_open(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	int flags = req->flags;
	int rc = open_object(m, c, req, fds, fd_out);
	if (rc < 0 || *fd_out < 0 || (flags & O_ACCMODE) != O_WRONLY || !(flags & O_APPEND) ||
	    (flags & (O_TRUNC | TMPFILE_BIT)))
		return rc;
	char real[PATH_MAX];
	struct policy_decision d;
	bool named = resolve_fd_path(*fd_out, real, sizeof(real)) >= 0;
	if (named && decide_path(m, POLICY_OP_OPEN, real, flags, &d) == 0 && d.directive &&
	    strcmp(d.directive, "open_rw") == 0)
		return rc;
	int fd = append_stream(m, *fd_out, flags, named ? real : req->path, c->pid);
	*fd_out = fd < 0 ? -1 : fd;
	return fd < 0 ? fd : rc;
}

/* --- unlink ---------------------------------------------------------------- */

static int handle_unlink(struct monitor *m, struct monitor_channel *c,
			 const struct wire_request *req, int *fds, int *fd_out)
{
	char parent[PATH_MAX], name[NAME_MAX + 1], real[PATH_MAX], object[PATH_MAX];
	struct policy_decision d;
	int rc = resolve_split(req->path, parent, sizeof(parent), name, sizeof(name));

	/* As for open: a clean granted path is unlinked in the directory its
	 * string names, reached with no symlink. */
	if (rc == 0 && resolve_is_clean(req->path) &&
	    decide_path(m, POLICY_OP_UNLINK, req->path, 0, &d) == 0) {
		int dir = resolve_handle_clean(parent);
		if (dir >= 0) {
			rc = unlinkat(dir, name, 0) < 0 ? -errno : 0;
			close(dir);
			audit_decision(&m->audit, "unlink", req->path, 0, c->pid, &d, -rc);
			return rc;
		}
		if (dir != -ELOOP) {
			audit_decision(&m->audit, "unlink", req->path, 0, c->pid, &d, -dir);
			return dir;
		}
	}

	int base = base_for(m, c, "unlink", req->path);
	if (base < 0 && base != AT_FDCWD)
		return base;
	if (rc < 0) {
		rc = refuse_unresolved(m, c, req->op, POLICY_OP_UNLINK, base, req->path, 0, -rc);
		close_base(base);
		return rc;
	}
	int dir = resolve_handle(base, parent, O_DIRECTORY);
	if (dir < 0) {
		rc = refuse_unresolved(m, c, req->op, POLICY_OP_UNLINK, base, req->path, 0, -dir);
		close_base(base);
		return rc;
	}
	close_base(base);
	rc = resolve_fd_path(dir, real, sizeof(real));
	if (rc >= 0)
		rc = resolve_join(object, sizeof(object), real, name);
	if (rc < 0) {
		close(dir);
		audit_refusal(&m->audit, "unlink", req->path, c->pid, EACCES,
			      "the directory has no path in the monitor's view");
		return -EACCES;
	}
	if (decide_path(m, POLICY_OP_UNLINK, object, 0, &d) < 0) {
		close(dir);
		audit_decision(&m->audit, "unlink", object, 0, c->pid, &d, 0);
		return -EACCES;
	}
	rc = unlinkat(dir, name, 0) < 0 ? -errno : 0;
	close(dir);
	audit_decision(&m->audit, "unlink", object, 0, c->pid, &d, -rc);
	return rc;
}

/* --- bind ------------------------------------------------------------------ */

static void format_address(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(out, cap, "family %u", (unsigned)ss->ss_family);
	}
}

/* True when `fd` is an open file the monitor held before the request
 * brought it: one of its channels, its audit or syslog socket, a PAM
 * worker's report socket, its epoll or signal fd. The program never gets
 * any of these, but acting on one would turn the monitor against itself,
 * so every fd is compared with every other one the monitor has open. */
static bool monitor_holds(int fd)
{
	struct stat st, other;
	if (fstat(fd, &st) < 0)
		return true; /* refuse what cannot be checked */
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return true;
	bool held = false;
	struct dirent *e;
	while (!held && (e = readdir(d)) != NULL) {
		char *end;
		long n = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || n == fd || n == dirfd(d))
			continue;
		if (fstat((int)n, &other) == 0 && other.st_dev == st.st_dev &&
		    other.st_ino == st.st_ino)
			held = true;
	}
	closedir(d);
	return held;
}

static int handle_bind(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	int sock = fds[0];
	char object[INET6_ADDRSTRLEN + 16];
	struct stat st;
	int domain = 0;
	socklen_t len = sizeof(domain);
	struct sockaddr_storage addr;

	memcpy(&addr, &req->addr, sizeof(addr));
	format_address(&addr, object, sizeof(object));
	if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		audit_refusal(&m->audit, "bind", object, c->pid, ENOTSOCK, "not a socket");
		return -ENOTSOCK;
	}
	if (monitor_holds(sock)) {
		audit_refusal(&m->audit, "bind", object, c->pid, EBADF,
			      "a socket of the monitor's own");
		return -EBADF;
	}
	if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if ((domain != AF_INET && domain != AF_INET6) || addr.ss_family != domain) {
		audit_refusal(&m->audit, "bind", object, c->pid, EAFNOSUPPORT,
			      "only IPv4 and IPv6 sockets, with an address of their family");
		return -EAFNOSUPPORT;
	}
	struct policy_request r;
	memset(&r, 0, sizeof(r));
	r.op = POLICY_OP_BIND;
	r.family = domain;
	if (domain == AF_INET) {
		if (req->addrlen < sizeof(struct sockaddr_in))
			return -EINVAL;
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&addr;
		r.port = ntohs(sin->sin_port);
		r.addr4 = sin->sin_addr;
	} else {
		if (req->addrlen < sizeof(struct sockaddr_in6))
			return -EINVAL;
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addr;
		r.port = ntohs(sin6->sin6_port);
		r.addr6 = sin6->sin6_addr;
	}
	struct policy_decision d;
	policy_decide(m->policy, &r, &d);
	if (!d.allow) {
		audit_decision(&m->audit, "bind", object, 0, c->pid, &d, 0);
		return -EACCES;
	}
	int rc = bind(sock, (const struct sockaddr *)&addr, req->addrlen) < 0 ? -errno : 0;
	audit_decision(&m->audit, "bind", object, 0, c->pid, &d, -rc);
	return rc;
}

/* --- exit ------------------------------------------------------------------ */

static int handle_exit(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	audit_event(&m->audit, LOG_INFO, "pid %d exits with status %d", (int)c->pid,
		    (int)req->status);
	return 0;
}

/* --- channel ---------------------------------------------------------------- */

static int channel_add(struct monitor *m, int sock, pid_t pid);

/* One more channel for the same process, so that its threads need not queue
 * behind one socket. The monitor makes the socketpair itself and hands the
 * program one end: a channel is never a socket the program chose, so it can
 * never be a socket whose peer is the monitor itself (both ends of one pair
 * sent as two channels answer each other for ever), another process, or
 * one of the monitor's own sockets. */
static int handle_channel(struct monitor *m, struct monitor_channel *c,
			  const struct wire_request *req, int *fds, int *fd_out)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int rc = channel_add(m, sv[0], c->pid);
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		audit_refusal(&m->audit, "channel", "-", c->pid, -rc,
			      "no room for another channel");
		return rc;
	}
	*fd_out = sv[1];
	return 0;
}

/* --- messages ---------------------------------------------------------------- */

int monitor_handle_message(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
			   int nfds)
{
	struct wire_request *req = &m->request;
	const char *why = "malformed message";
	if (wire_decode_request(m->buf, size, nfds, req, &why) < 0) {
		wire_close_fds(fds, nfds);
		audit_protocol(&m->audit, c->pid, why);
		return -1;
	}
	const struct dispatch *entry = dispatch_find(req->op);
	if (!entry) {
		wire_close_fds(fds, nfds);
		audit_protocol(&m->audit, c->pid, "no handler for the operation");
		return -1;
	}
	if (c->pending && req->op != WIRE_OP_HELLO) {
		wire_close_fds(fds, nfds);
		audit_protocol(&m->audit, c->pid, "a forked child's first message must be hello");
		return -1;
	}
	int fd_out = -1;
	m->reply_fields_size = 0;
	int status = entry->handler(m, c, req, fds, &fd_out);
	wire_close_fds(fds, nfds);
	if (status == MONITOR_VIOLATION) {
		if (fd_out >= 0)
			close(fd_out);
		audit_protocol(&m->audit, c->pid, "malformed fields");
		return -1;
	}
	if (status == MONITOR_DEFERRED)
		return c->sock >= 0 ? 0 : -1;
	if (entry->fds_out == 0 && fd_out >= 0) {
		close(fd_out);
		fd_out = -1;
	}
	return send_reply(m, c, req->op, req->id, status, fd_out, m->reply_fields,
			  m->reply_fields_size);
}

/* Returns 0 when sent, 1 when held until the channel is writable, -1 when
 * the reply could not be built or sent. Closes fd_out unless it is held. */
static int send_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		      int status, int fd_out, const void *fields, size_t fields_size)
{
	struct wire_writer w;
	wire_writer_init(&w, m->reply, sizeof(m->reply), op, id);
	wire_put_int(&w, status);
	if (fields_size && !w.broken) {
		if (w.len + fields_size > w.cap) {
			w.broken = true;
		} else {
			memcpy(w.buf + w.len, fields, fields_size);
			w.len += fields_size;
		}
	}
	size_t len = wire_writer_finish(&w);
	int want = wire_reply_fds(op, status);
	int nout = want && fd_out >= 0 ? 1 : 0;
	if (!nout && fd_out >= 0) {
		close(fd_out);
		fd_out = -1;
	}
	if (!len || want != nout) {
		if (fd_out >= 0)
			close(fd_out);
		return -1;
	}
	int rc = wire_send(c->sock, m->reply, len, &fd_out, nout, MSG_DONTWAIT);
	if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !c->held_size) {
		memcpy(c->held, m->reply, len);
		c->held_size = len;
		c->held_fd = fd_out;
		return 1;
	}
	if (fd_out >= 0)
		close(fd_out);
	return rc;
}

static void watch(struct monitor *m, struct monitor_channel *c, uint32_t events);

int monitor_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		  int status, int fd, const void *fields, size_t fields_size)
{
	int rc = send_reply(m, c, op, id, status, fd, fields, fields_size);
	if (rc < 0) {
		monitor_end_process(m, c->pid);
		return -1;
	}
	if (rc > 0)
		watch(m, c, EPOLLOUT);
	return 0;
}

/* --- channels and the loop ------------------------------------------------------ */

static int channel_add(struct monitor *m, int sock, pid_t pid)
{
	return monitor_channel_add(m, sock, pid) ? 0 : -errno;
}

struct monitor_channel *monitor_channel_add(struct monitor *m, int sock, pid_t pid)
{
	size_t free_slot = m->channel_count, same = 0;
	for (size_t i = 0; i < m->channel_count; i++) {
		if (m->channels[i].sock < 0) {
			if (free_slot == m->channel_count)
				free_slot = i;
		} else if (m->channels[i].pid == pid) {
			same++;
		}
	}
	if ((pid && same >= MONITOR_MAX_CHANNELS_PER_PROCESS) || free_slot >= MONITOR_MAX_CHANNELS) {
		errno = EMFILE;
		return NULL;
	}
	struct monitor_channel *c = &m->channels[free_slot];
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = free_slot};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, sock, &ev) < 0)
		return NULL;
	c->sock = sock;
	c->pid = pid;
	c->held_fd = -1;
	c->held_size = 0;
	c->pending = false;
	c->parent = 0;
	if (free_slot == m->channel_count)
		m->channel_count++;
	return c;
}

static void channel_close(struct monitor *m, struct monitor_channel *c)
{
	if (c->sock < 0)
		return;
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
	close(c->sock);
	c->sock = -1;
	if (c->held_fd >= 0)
		close(c->held_fd);
	c->held_fd = -1;
	c->held_size = 0;
	c->pending = false;
	c->pid = 0;
}

/* A protocol violation, or a reply that could not be delivered: serve that
 * process no further request, on any of its channels (fail closed). */
void monitor_end_process(struct monitor *m, pid_t pid)
{
	if (pid <= 0)
		return;
	for (size_t i = 0; i < m->channel_count; i++)
		if (m->channels[i].sock >= 0 && m->channels[i].pid == pid)
			channel_close(m, &m->channels[i]);
}

static void watch(struct monitor *m, struct monitor_channel *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)(c - m->channels)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->sock, &ev) < 0)
		channel_close(m, c);
}

/* Send the held reply; returns true when the channel may be read again. */
static bool flush_held(struct monitor *m, struct monitor_channel *c)
{
	int nfds = c->held_fd >= 0 ? 1 : 0;
	if (wire_send(c->sock, c->held, c->held_size, &c->held_fd, nfds, MSG_DONTWAIT) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		channel_close(m, c);
		return false;
	}
	if (c->held_fd >= 0)
		close(c->held_fd);
	c->held_fd = -1;
	c->held_size = 0;
	watch(m, c, EPOLLIN);
	return c->sock >= 0;
}

static void serve_channel(struct monitor *m, struct monitor_channel *c)
{
	if (c->held_size && !flush_held(m, c))
		return;
	if (c->pending) {
		proc_serve_pending(m, c);
		return;
	}
	for (int i = 0; i < BATCH && c->sock >= 0; i++) {
		int fds[WIRE_MAX_FDS];
		int nfds = 0;
		ssize_t n = wire_recv(c->sock, m->buf, sizeof(m->buf), fds, &nfds, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EPROTO) {
			audit_protocol(&m->audit, c->pid, "truncated message or unexpected fds");
			monitor_end_process(m, c->pid);
			return;
		}
		if (n <= 0) { /* the program closed its end, or the channel broke */
			channel_close(m, c);
			return;
		}
		int rc = monitor_handle_message(m, c, (size_t)n, fds, nfds);
		if (rc < 0) {
			monitor_end_process(m, c->pid);
			return;
		}
		if (rc > 0) {
			watch(m, c, EPOLLOUT);
			return;
		}
	}
}

int monitor_init(struct monitor *m, const char *appname, struct policy *policy,
		 char *policy_path, int audit_fd, pid_t program, int sock, int signal_fd)
{
	m->policy = policy;
	m->policy_path = policy_path;
	audit_init(&m->audit, appname);
	m->audit.fd = audit_fd;
	m->program = program;
	m->signal_fd = signal_fd;
	m->channels = calloc(MONITOR_MAX_CHANNELS, sizeof(*m->channels));
	m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!m->channels || m->epoll_fd < 0)
		return -1;
	m->channel_count = 0;
	m->pam = NULL;
	m->append = NULL;

	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SIGNAL_TAG};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, signal_fd, &ev) < 0)
		return -1;
	int rc = channel_add(m, sock, program);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* A monitor forked from this one (priv_respawn_as) serves only its own
 * program: it forgets every channel and gets an epoll set of its own (the
 * inherited one is shared with the parent monitor, so nothing may be
 * removed from it here). */
int monitor_restart(struct monitor *m)
{
	append_forget(m);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	close(m->epoll_fd);
	m->epoll_fd = ep;
	for (size_t i = 0; i < m->channel_count; i++) {
		struct monitor_channel *c = &m->channels[i];
		if (c->sock >= 0)
			close(c->sock);
		if (c->held_fd >= 0)
			close(c->held_fd);
		c->sock = c->held_fd = -1;
		c->held_size = 0;
		c->pending = false;
		c->pid = 0;
	}
	m->channel_count = 0;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SIGNAL_TAG};
	return epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, m->signal_fd, &ev);
}

/* SIGHUP: read the policy again. The rules take effect at once; the security
 * scope was applied when the program started and cannot change now. */
static void reload(struct monitor *m)
{
	struct diag d;
	diag_init(&d);
	const char *paths[1] = {m->policy_path};
	struct policy *p = conf_load_files(paths, 1, &d);
	if (p && policy_validate(p, &d) < 0) {
		policy_free(p);
		p = NULL;
	}
	for (size_t i = 0; i < d.count; i++)
		syslog(d.entries[i].severity == DIAG_ERROR ? LOG_ERR : LOG_WARNING, "%s",
		       d.entries[i].text);
	diag_free(&d);
	if (!p) {
		audit_event(&m->audit, LOG_ERR,
			    "reload of %s failed; the policy in force is unchanged", m->policy_path);
		return;
	}
	if (!policy_security_equal(&p->security, &m->policy->security))
		audit_event(&m->audit, LOG_WARNING,
			    "reload of %s: the security scope changed and needs a restart; "
			    "it is not applied",
			    m->policy_path);
	if (p->allow_namespaces.value != m->policy->allow_namespaces.value)
		audit_event(&m->audit, LOG_WARNING,
			    "reload of %s: allow_namespaces %s applies to processes started from "
			    "now on; running ones keep the filter they have (or have none)",
			    m->policy_path, p->allow_namespaces.value ? "true" : "false");
	p->learn = m->policy->learn; /* a reload does not end learning */
	policy_free(m->policy);
	m->policy = p;
	audit_event(&m->audit, LOG_INFO, "reloaded %s", m->policy_path);
}

/* Leave the way the program left. */
void monitor_finish(struct monitor *m, int status)
{
	for (size_t i = 0; i < m->channel_count; i++)
		channel_close(m, &m->channels[i]);
	append_finish(m);
	audit_finish(&m->audit);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		/* The program already dumped any core worth having. */
		struct rlimit none = {0, 0};
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Reap every child that ended; when the program did, leave as it left. */
static void reap(struct monitor *m)
{
	int status;
	pid_t pid;
	struct rusage usage;
	/* proc.c knows which child was the program, and whether other
	 * program processes still need the monitor. */
	while ((pid = wait4(-1, &status, WNOHANG, &usage)) > 0)
		proc_reaped(m, pid, status, &usage);
}

static void handle_signals(struct monitor *m)
{
	struct signalfd_siginfo si;
	while (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD) {
			reap(m);
			continue;
		}
		/* A signal from the terminal reached the program already (same
		 * process group); one sent to the monitor by a process did not. */
		if (si.ssi_code != SI_KERNEL)
			kill_one(m->program, sig);
		if (sig == SIGHUP)
			reload(m);
	}
}

void monitor_run(struct monitor *m)
{
	struct epoll_event events[16];
	/* Signals are blocked and read from the signalfd; a program that ended
	 * before it existed is still pending there, but look once anyway. */
	reap(m);
	for (;;) {
		int n = epoll_wait(m->epoll_fd, events, 16, audit_flush_due_ms(&m->audit));
		if (n == 0 || audit_flush_due_ms(&m->audit) == 0)
			audit_flush(&m->audit);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			syslog(LOG_CRIT, "monitor: epoll_wait: %m; ending the program");
			kill_one(m->program, SIGKILL);
			_exit(70);
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			if (tag == SIGNAL_TAG)
				handle_signals(m);
			else if (tag == APPEND_TAG)
				append_event(m);
			else if (pam_monitor_owns_tag(tag))
				pam_monitor_event(m, tag);
			else if (custom_owns_tag(tag))
				custom_event(m, tag);
			else if (tag >= MONITOR_PROC_TAG)
				proc_event(m, tag - MONITOR_PROC_TAG);
			else if (tag < m->channel_count)
				serve_channel(m, &m->channels[tag]);
		}
	}
}
