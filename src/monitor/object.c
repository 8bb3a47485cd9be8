/* The handlers for requests on an object: open a file, unlink a name, bind
 * a socket (object.h). Each one resolves, decides and acts, and fills one
 * result; none of them audits: the front end that took the request does,
 * once, with object_audit().
 *
 * Threat model: the request is the program's, and hostile. Paths are
 * resolved by the kernel to an O_PATH handle, the policy decides on the real
 * path of that handle, and that very handle is opened: no name is ever
 * resolved twice.
 *
 * Runs as root, in the monitor. */
#include "monitor/object.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "monitor/append.h"
#include "monitor/state.h"
#include "monitor/resolve.h"

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

/* --- the result ------------------------------------------------------------ */

static void set_object(struct object_result *out, const char *object)
{
	if (object == out->object)
		return;
	/* As snprintf's "%s" would, at a fraction of its cost. */
	size_t n = strnlen(object, sizeof(out->object) - 1);
	memmove(out->object, object, n);
	out->object[n] = '\0';
}

/* A refusal before, or instead of, a decision of the policy. */
static void refuse(struct object_result *out, const char *object, int error, const char *why)
{
	set_object(out, object);
	out->decided = false;
	out->why = why;
	out->error = error;
}

/* The act that followed a grant returned `rc`: 0 or -errno. */
static void acted(struct object_result *out, int rc)
{
	out->error = rc < 0 ? -rc : 0;
}

/* The open that followed a grant returned `fd`, or -errno. */
static void opened(struct object_result *out, int fd)
{
	out->error = fd < 0 ? -fd : 0;
	out->fd = fd < 0 ? -1 : fd;
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

/* Ask the policy about `object`; the decision is the result's. */
static int decide(struct monitor *m, enum policy_op op, const char *object, int flags,
		  struct object_result *out)
{
	set_object(out, object);
	out->decided = true;
	out->why = NULL;
	return decide_path(m, op, object, flags, &out->decision);
}

/* Whether `object`, or what `fd` (a handle, the directory of a name, or a
 * file: -1 for none) is on, is procfs's. */
static bool on_procfs(const char *object, int fd)
{
	struct statfs fs;
	if (strncmp(object, "/proc/", 6) == 0 || strcmp(object, "/proc") == 0)
		return true;
	return fd >= 0 && fstatfs(fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
}

/* After a grant, before any act: an object on procfs is left to the kernel
 * when the front end asks (object_request.procfs_to_kernel). True when it
 * is: nothing is to be done. */
static bool left_to_kernel(const struct object_request *req, int fd, struct object_result *out)
{
	if (!req->procfs_to_kernel || !out->decided || !out->decision.allow ||
	    !on_procfs(out->object, fd))
		return false;
	out->procfs = true;
	out->error = EACCES;
	return true;
}

static bool granted_rw(const struct policy_decision *d)
{
	return d->directive && strcmp(d->directive, "open_rw") == 0;
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* True when `st` is what privman learn makes the policy of: the record
 * (PRIVMAN_LEARN's file) and, while learning, every policy file the monitor
 * read (the bases, read again when the policy is written). While learning
 * the policy grants every path, yet a program that could write these, or
 * remove one and make another, would write the rules learned from its run.
 * Their open and their unlink are never served. */
static bool is_record(const struct monitor *m, const struct stat *st)
{
	struct stat rec;
	if (m->audit.learn_fd >= 0 && fstat(m->audit.learn_fd, &rec) == 0 && same_inode(&rec, st))
		return true;
	for (size_t i = 0; m->policy->learn && i < m->policy->file_count; i++)
		if (stat(m->policy->files[i], &rec) == 0 && same_inode(&rec, st))
			return true;
	return false;
}

static bool fd_is_record(const struct monitor *m, int fd)
{
	struct stat st;
	return fd >= 0 && (m->audit.learn_fd >= 0 || m->policy->learn) && fstat(fd, &st) == 0 &&
	       is_record(m, &st);
}

static bool name_is_record(const struct monitor *m, int dir, const char *name)
{
	struct stat st;
	return (m->audit.learn_fd >= 0 || m->policy->learn) &&
	       fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_record(m, &st);
}

/* --- shared steps ------------------------------------------------------------ */

/* A relative path needs the directory the front end resolved for it. One it
 * could not resolve in the monitor's view (the program made a mount
 * namespace of its own, or works in a deleted or overmounted directory) is
 * refused: what the program calls "hostname" there may be any file of the
 * system. Returns true when refused. */
static bool no_base(const struct object_request *req, struct object_result *out)
{
	if (req->path[0] == '/' || (req->base >= 0 && !req->base_error))
		return false;
	/* Never from the monitor's own working directory (AT_FDCWD). */
	int error = req->base_error ? req->base_error : EXDEV;
	refuse(out, req->path, error,
	       error == EXDEV
		       ? "a relative path from a working directory that is not in the "
			 "monitor's view of the file system (another mount namespace?)"
		       : "the working directory could not be resolved");
	return true;
}

/* The object could not be resolved (`err`). Tell the program the kernel's
 * errno only when the policy would grant the path it named; otherwise it
 * learns nothing about files it may not touch. */
static void refuse_unresolved(struct monitor *m, const struct object_request *req,
			      enum policy_op pop, int err, struct object_result *out)
{
	char cwd[PATH_MAX], lexical[PATH_MAX];
	const char *path = req->path, *object = path;

	if (path[0] != '/' && (req->base < 0 || resolve_fd_path(req->base, cwd, sizeof(cwd)) < 0))
		cwd[0] = '\0';
	if (path_lexical(path[0] == '/' ? "/" : cwd, path, lexical, sizeof(lexical)) >= 0 &&
	    (path[0] == '/' || cwd[0]))
		object = lexical;
	else
		err = EACCES;
	int flags = pop == POLICY_OP_OPEN ? req->flags : 0;
	out->error = decide(m, pop, object, flags, out) < 0 ? EACCES : err;
	left_to_kernel(req, -1, out);
}

/* --- open -------------------------------------------------------------------- */

/* Open the object behind `handle`, already decided, with the caller's flags
 * (and `mode`, for an O_TMPFILE in the directory `handle`). FIFOs and
 * devices are opened non-blocking so that no program can stall the monitor,
 * then given the blocking mode that was asked for. */
static int open_decided(int handle, int flags, mode_t mode)
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
	return resolve_blocking(resolve_reopen(handle, reopen, mode), flags);
}

/* The common case: a clean absolute path that the policy grants as written.
 * Walked with no symlink and no "..", the object reached is the one the
 * string names, so the decision on the string is a decision on that object.
 * A symlink on the way (ELOOP), or a string the policy does not grant (it
 * may be a symlink to a granted file), takes the long way: false. */
static bool open_clean(struct monitor *m, const struct object_request *req, mode_t mode,
		       struct object_result *out)
{
	int flags = req->flags;
	if (!path_is_clean(req->path) || decide(m, POLICY_OP_OPEN, req->path, flags, out) != 0)
		return false;
	if ((flags & TMPFILE_BIT) && !granted_rw(&out->decision))
		return false;
	if (left_to_kernel(req, -1, out))
		return true;
	int fd = resolve_open_clean(req->path, flags, mode);
	if (fd == -ELOOP)
		return false;
	/* A clean path outside /proc reaches procfs only where root mounted
	 * one: known once opened (non-blocking, no terminal), then given to
	 * nobody. */
	if (fd >= 0 && left_to_kernel(req, fd, out)) {
		close(fd);
		return true;
	}
	opened(out, fd);
	return true;
}

/* O_CREAT of a name that does not exist yet: resolve and decide on the
 * parent, then create the name in that very directory, never through a
 * symlink. */
static void create_in_parent(struct monitor *m, const struct object_request *req, mode_t mode,
			     struct object_result *out)
{
	char parent[PATH_MAX], name[NAME_MAX + 1], real[PATH_MAX], object[PATH_MAX];
	int rc = path_split(req->path, parent, sizeof(parent), name, sizeof(name));
	if (rc < 0) {
		refuse_unresolved(m, req, POLICY_OP_OPEN, -rc, out);
		return;
	}
	int dir = resolve_handle(req->base, parent, O_DIRECTORY);
	if (dir < 0) {
		refuse_unresolved(m, req, POLICY_OP_OPEN, -dir, out);
		return;
	}
	rc = resolve_fd_path(dir, real, sizeof(real));
	if (rc >= 0)
		rc = path_join(object, sizeof(object), real, name);
	if (rc < 0) {
		close(dir);
		refuse_unresolved(m, req, POLICY_OP_OPEN, -rc, out);
		return;
	}
	if (decide(m, POLICY_OP_OPEN, object, req->flags, out) < 0) {
		close(dir);
		out->error = EACCES;
		return;
	}
	if (left_to_kernel(req, dir, out)) {
		close(dir);
		return;
	}
	/* Without O_EXCL an object that appeared since the parent was resolved
	 * is opened: a FIFO swapped in now must not stall the monitor. */
	int fd = openat(dir, name, req->flags | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
			mode);
	fd = resolve_blocking(fd < 0 ? -errno : fd, req->flags);
	close(dir);
	opened(out, fd);
}

/* Decide on the real path of `handle` and open it. */
static void open_handle(struct monitor *m, const struct object_request *req, int handle,
			mode_t mode, struct object_result *out)
{
	char real[PATH_MAX];
	int flags = req->flags;
	if (resolve_fd_path(handle, real, sizeof(real)) < 0) {
		refuse(out, req->path, EACCES, "the object has no path in the monitor's view");
		return;
	}
	if (decide(m, POLICY_OP_OPEN, real, flags, out) < 0) {
		/* An unnamed file where read-write is not granted is an invalid
		 * request rather than a denied one, as for any refused flag. */
		out->error = out->decision.error == EINVAL || (flags & TMPFILE_BIT) ? EINVAL : EACCES;
		return;
	}
	if (left_to_kernel(req, handle, out))
		return;
	if ((flags & TMPFILE_BIT) && !granted_rw(&out->decision))
		opened(out, -EINVAL); /* an unnamed file only where read-write is granted */
	else if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		opened(out, -EEXIST);
	else
		opened(out, open_decided(handle, flags, mode));
}

/* The long way: resolve from the base to a handle, decide on its real path. */
static void open_resolved(struct monitor *m, const struct object_request *req, mode_t mode,
			  struct object_result *out)
{
	int flags = req->flags;
	int extra = 0;
	if ((flags & O_NOFOLLOW) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		extra |= O_NOFOLLOW;
	if (flags & O_DIRECTORY)
		extra |= O_DIRECTORY;
	int handle = resolve_handle(req->base, req->path, extra);
	if (handle == -ENOENT && (flags & O_CREAT)) {
		create_in_parent(m, req, mode, out);
		return;
	}
	if (handle < 0) {
		refuse_unresolved(m, req, POLICY_OP_OPEN, -handle, out);
		return;
	}
	open_handle(m, req, handle, mode, out);
	close(handle);
}

/* An open that open_ao grants, and open_rw does not, never hands out the
 * file: a program can clear O_APPEND (F_SETFL), ftruncate, pwrite or
 * fallocate through any fd on it. It gets a pipe instead, whose bytes the
 * appender copies to the end of the file (append.c). The open was decided
 * on the object; this decides only which kind of fd goes out, on the real
 * path of the file opened (the file itself only where open_rw grants it). */
static void append_only(struct monitor *m, const struct object_request *req,
			struct object_result *out)
{
	int flags = req->flags;
	if (out->fd < 0 || (flags & O_ACCMODE) != O_WRONLY || !(flags & O_APPEND) ||
	    (flags & (O_TRUNC | TMPFILE_BIT)))
		return;
	char real[PATH_MAX];
	struct policy_decision d;
	bool named = resolve_fd_path(out->fd, real, sizeof(real)) >= 0;
	if (named && decide_path(m, POLICY_OP_OPEN, real, flags, &d) == 0 && granted_rw(&d))
		return;
	snprintf(out->stream_path, sizeof(out->stream_path), "%s", named ? real : req->path);
	const char *why = "no append-only stream could be made";
	int fd = append_stream(m, out->fd, flags, out->stream_path, req->pid, &why);
	out->fd = fd < 0 ? -1 : fd;
	if (fd < 0) {
		out->error = -fd;
		out->stream_why = why;
	}
}

static void open_file(struct monitor *m, const struct object_request *req,
		      struct object_result *out)
{
	int flags = req->flags;
	mode_t mode = 0;

	if (!monitor_open_flags_ok(flags)) {
		refuse(out, req->path, EINVAL, "open flags not allowed");
		return;
	}
	if (object_needs_umask(flags)) {
		if (req->umask < 0) {
			refuse(out, req->path, -req->umask,
			       "the umask of the process could not be read");
			return;
		}
		/* Never a set-id or sticky file made by root for the program. */
		mode = req->mode & 0777 & ~(mode_t)req->umask;
	}
	if (!open_clean(m, req, mode, out) && !no_base(req, out))
		open_resolved(m, req, mode, out);
	if (out->procfs)
		return; /* the kernel's: nothing opened */
	if (fd_is_record(m, out->fd)) {
		close(out->fd);
		out->fd = -1;
		refuse(out, out->object, EACCES, "the record of learning, or a policy file, is never served");
		return;
	}
	append_only(m, req, out);
}

/* --- unlink ------------------------------------------------------------------ */

/* Unlink `name` in `dir`, decided: never the record of learning. */
static void unlink_at(struct monitor *m, int dir, const char *name, struct object_result *out)
{
	if (name_is_record(m, dir, name)) {
		refuse(out, out->object, EACCES, "the record of learning, or a policy file, is never served");
		return;
	}
	acted(out, unlinkat(dir, name, 0) < 0 ? -errno : 0);
}

/* As for open: a clean granted path is unlinked in the directory its string
 * names, reached with no symlink. False when it takes the long way. */
static bool unlink_clean(struct monitor *m, const struct object_request *req, const char *parent,
			 const char *name, struct object_result *out)
{
	if (!path_is_clean(req->path) || decide(m, POLICY_OP_UNLINK, req->path, 0, out) != 0)
		return false;
	int dir = path_dir_handle(parent);
	if (dir == -ELOOP)
		return false;
	if (dir < 0) {
		acted(out, dir);
		return true;
	}
	unlink_at(m, dir, name, out);
	close(dir);
	return true;
}

/* Decide on the real path of `name` in `dir` and unlink it there. */
static void unlink_in(struct monitor *m, const struct object_request *req, int dir,
		      const char *name, struct object_result *out)
{
	char real[PATH_MAX], object[PATH_MAX];
	int rc = resolve_fd_path(dir, real, sizeof(real));
	if (rc >= 0)
		rc = path_join(object, sizeof(object), real, name);
	if (rc < 0) {
		refuse(out, req->path, EACCES, "the directory has no path in the monitor's view");
		return;
	}
	if (decide(m, POLICY_OP_UNLINK, object, 0, out) < 0) {
		out->error = EACCES;
		return;
	}
	unlink_at(m, dir, name, out);
}

static void unlink_name(struct monitor *m, const struct object_request *req,
			struct object_result *out)
{
	char parent[PATH_MAX], name[NAME_MAX + 1];
	int rc = path_split(req->path, parent, sizeof(parent), name, sizeof(name));
	if (rc == 0 && unlink_clean(m, req, parent, name, out))
		return;
	if (no_base(req, out))
		return;
	if (rc < 0) {
		refuse_unresolved(m, req, POLICY_OP_UNLINK, -rc, out);
		return;
	}
	int dir = resolve_handle(req->base, parent, O_DIRECTORY);
	if (dir < 0) {
		refuse_unresolved(m, req, POLICY_OP_UNLINK, -dir, out);
		return;
	}
	unlink_in(m, req, dir, name, out);
	close(dir);
}

/* --- bind -------------------------------------------------------------------- */

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

/* This process's /proc/self/fd, opened once: lseek and getdents list it
 * again at a fraction of the cost of opendir. It lists the fds of the
 * process that opened it, so a monitor forked from this one (for
 * priv_respawn_as) opens its own. -1 when it cannot be opened. */
static int self_fd_dir(void)
{
	static int dir = -1;
	static pid_t owner;
	pid_t pid = getpid();
	if (dir >= 0 && owner == pid)
		return dir;
	if (dir >= 0)
		close(dir); /* the parent's */
	dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	owner = pid;
	return dir;
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
	int dir = self_fd_dir();
	if (dir < 0 || lseek(dir, 0, SEEK_SET) < 0)
		return true;
	bool held = false;
	union {
		char buf[4096];
		struct dirent64 align;
	} u;
	long got;
	while (!held && (got = syscall(SYS_getdents64, dir, u.buf, sizeof(u.buf))) > 0) {
		for (long off = 0; !held && off < got;) {
			const struct dirent64 *e = (const struct dirent64 *)(u.buf + off);
			off += e->d_reclen;
			char *end;
			long n = strtol(e->d_name, &end, 10);
			if (*end || end == e->d_name || n == fd || n == dir)
				continue;
			if (fstat((int)n, &other) == 0 && other.st_dev == st.st_dev &&
			    other.st_ino == st.st_ino)
				held = true;
		}
	}
	return held || got < 0; /* a listing that failed: refuse */
}

/* The policy's question for binding `addr` (of `len` bytes) in `domain`.
 * Returns 0, or -EINVAL when the address is too short for its family. */
static int bind_question(const struct sockaddr_storage *addr, socklen_t len, int domain,
			 struct policy_request *r)
{
	memset(r, 0, sizeof(*r));
	r->op = POLICY_OP_BIND;
	r->family = domain;
	if (domain == AF_INET) {
		if (len < sizeof(struct sockaddr_in))
			return -EINVAL;
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		r->port = ntohs(sin->sin_port);
		r->addr4 = sin->sin_addr;
	} else {
		if (len < sizeof(struct sockaddr_in6))
			return -EINVAL;
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		r->port = ntohs(sin6->sin6_port);
		r->addr6 = sin6->sin6_addr;
	}
	return 0;
}

/* The socket's family, once it is known to be a socket the program brought:
 * 0 with *domain set, or refused (-1). */
static int socket_domain(int sock, struct object_result *out, int *domain)
{
	struct stat st;
	socklen_t len = sizeof(*domain);
	if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		refuse(out, out->object, ENOTSOCK, "not a socket");
		return -1;
	}
	if (monitor_holds(sock)) {
		refuse(out, out->object, EBADF, "a socket of the monitor's own");
		return -1;
	}
	if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, domain, &len) < 0) {
		refuse(out, out->object, errno, "the socket's family could not be read");
		return -1;
	}
	return 0;
}

static void bind_socket(struct monitor *m, const struct object_request *req,
			struct object_result *out)
{
	struct sockaddr_storage addr;
	struct policy_request r;
	int domain = 0;

	memcpy(&addr, req->addr, sizeof(addr));
	format_address(&addr, out->object, sizeof(out->object));
	if (socket_domain(req->sock, out, &domain) < 0)
		return;
	if ((domain != AF_INET && domain != AF_INET6) || addr.ss_family != domain) {
		refuse(out, out->object, EAFNOSUPPORT,
		       "only IPv4 and IPv6 sockets, with an address of their family");
		return;
	}
	if (bind_question(&addr, req->addrlen, domain, &r) < 0) {
		refuse(out, out->object, EINVAL, "an address shorter than its family's");
		return;
	}
	policy_decide(m->policy, &r, &out->decision);
	out->decided = true;
	out->why = NULL;
	if (!out->decision.allow) {
		out->error = EACCES;
		return;
	}
	acted(out, bind(req->sock, (const struct sockaddr *)&addr, req->addrlen) < 0 ? -errno : 0);
}

/* --- the interface ------------------------------------------------------------ */

void object_handle(struct monitor *m, const struct object_request *req,
		   struct object_result *out)
{
	/* Fail closed: a path that forgot to fill the result refuses. (The
	 * path buffers, and the decision's text, are not cleared: 13 KiB per
	 * request, read only up to their NUL, stream_path only with
	 * stream_why.) */
	out->object[0] = '\0';
	out->decided = false;
	memset(&out->decision, 0, offsetof(struct policy_decision, reason));
	out->decision.reason[0] = '\0';
	out->decision.learned = false;
	out->decision.learned_rule[0] = '\0';
	out->why = "the request was not handled";
	out->error = EACCES;
	out->fd = -1;
	out->stream_why = NULL; /* stream_path is read only with it */
	out->procfs = false;
	switch (req->op) {
	case OBJECT_OPEN:
		open_file(m, req, out);
		break;
	case OBJECT_UNLINK:
		unlink_name(m, req, out);
		break;
	case OBJECT_BIND:
		bind_socket(m, req, out);
		break;
	}
	if (out->fd >= 0 && out->error) { /* never an fd with a refusal */
		close(out->fd);
		out->fd = -1;
	}
}

static const char *op_name(enum object_op op)
{
	switch (op) {
	case OBJECT_OPEN:
		return "open";
	case OBJECT_UNLINK:
		return "unlink";
	case OBJECT_BIND:
		return "bind";
	}
	return "?";
}

void object_audit(struct monitor *m, const struct object_request *req,
		  const struct object_result *res)
{
	const char *op = op_name(req->op);
	if (res->decided) {
		/* The result of the act that followed a grant: none after a
		 * denial, and 0 when the file was opened but no stream made. */
		int result = res->decision.allow && !res->stream_why ? res->error : 0;
		audit_decision(&m->audit, op, res->object, req->op == OBJECT_OPEN ? req->flags : 0,
			       req->pid, &res->decision, result);
	} else {
		audit_refusal(&m->audit, op, res->object, req->pid, res->error, res->why);
	}
	if (res->stream_why)
		audit_refusal(&m->audit, "open", res->stream_path, req->pid, res->error,
			      res->stream_why);
}
