/* The broker's answer to one notification (broker.h).
 *
 * Threat model: the target is hostile. Every argument is read from its
 * memory, which another of its threads may rewrite at any moment, so the
 * monitor reads each one once, into its own memory, and acts only on that
 * copy. A call it grants it performs itself (object_handle(), the handlers
 * of priv_open, priv_unlink and priv_bind) and answers with the result: the
 * kernel never looks at the target's arguments again. A call it does not
 * grant, or cannot read, it lets go on in the kernel (CONTINUE), which reads
 * the arguments afresh and decides with the target's own credentials: the
 * target gains nothing it could not do without the broker, whatever it
 * rewrote in between. A call that was granted is never continued.
 *
 * The `pid` of a notification is a thread id: memory, working directory,
 * descriptors and umask are read from that thread, which may have a file
 * table or working directory of its own. A pid may be reused once its
 * thread is gone: NOTIF_ID_VALID after the last read proves that the thread
 * was still waiting in the call, so alive, during every read before it. */
#include "monitor/broker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "monitor/audit.h"
#include "monitor/broker_learn.h"
#include "monitor/state.h"
#include "monitor/object.h"
#include "monitor/resolve.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
/* The kernel's own O_LARGEFILE (glibc's is 0 on 64-bit ABIs, where the
 * kernel sets the flag on every open anyway): a program may pass it. */
#define KERNEL_O_LARGEFILE 0100000
#define TMPFILE_BIT (O_TMPFILE & ~O_DIRECTORY)

int broker_notify_init(struct broker *b)
{
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -errno;
	if (seccomp_notify_alloc(&b->req, &b->resp) != 0)
		return -ENOMEM;
	b->req_size = sizes.seccomp_notif;
	/* The target and the monitor take turns: the kernel switches straight
	 * to the other side on the same CPU (Linux 6.6; older kernels refuse
	 * the flag, and wake up as usual). */
	ioctl(b->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	return 0;
}

/* --- the target's memory ------------------------------------------------ */

static int read_target(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* A NUL-terminated path of at most PATH_MAX bytes, read a page at a time: a
 * path that ends just before an unmapped page is read as the kernel reads
 * it. Returns its length, or -EFAULT or -ENAMETOOLONG. */
static int read_path(pid_t tid, uint64_t addr, char buf[PATH_MAX])
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t got = 0;
	while (got < PATH_MAX) {
		size_t chunk = page - (size_t)((addr + got) % page);
		if (chunk > PATH_MAX - got)
			chunk = PATH_MAX - got;
		/* Most paths are short: copy little first. */
		if (got == 0 && chunk > 256)
			chunk = 256;
		if (read_target(tid, addr + got, buf + got, chunk) < 0)
			return -EFAULT;
		const char *nul = memchr(buf + got, '\0', chunk);
		if (nul)
			return (int)(nul - buf);
		got += chunk;
	}
	return -ENAMETOOLONG;
}

static bool still_valid(struct broker *b, uint64_t id)
{
	return ioctl(b->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* The directory `path` starts from, in the monitor's view (resolve.h):
 * AT_FDCWD for an absolute path, else a handle on the thread's working
 * directory or on its `dirfd`. Returns 0, or -errno (EXDEV: no name here). */
static int base_of(pid_t tid, int dirfd, const char *path, int *base)
{
	*base = AT_FDCWD;
	if (path[0] == '/')
		return 0;
	int fd = dirfd == AT_FDCWD ? resolve_cwd(tid) : resolve_dirfd(tid, dirfd);
	if (fd < 0)
		return fd;
	*base = fd;
	return 0;
}

static void close_base(int base)
{
	if (base >= 0)
		close(base);
}

/* --- answers ------------------------------------------------------------ */

static void send_resp(struct broker *b, uint64_t id, int error, uint32_t flags)
{
	struct seccomp_notif_resp r = {.id = id, .val = 0, .error = -error, .flags = flags};
	/* ENOENT: the thread is gone, or a fatal signal ended the wait. */
	ioctl(b->listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

/* Not granted: the kernel performs the call with the target's credentials,
 * reading its arguments again. */
static void let_kernel(struct broker *b, uint64_t id)
{
	__atomic_add_fetch(&b->continued, 1, __ATOMIC_RELAXED);
	send_resp(b, id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

/* Granted: the outcome of the monitor's own call. */
static void answer(struct broker *b, uint64_t id, int error)
{
	__atomic_add_fetch(&b->granted, 1, __ATOMIC_RELAXED);
	send_resp(b, id, error, 0);
}

/* Install `fd` in the target and answer the open with its number, in one
 * step (no window where the target has the fd and the call goes on).
 * Returns 0 or -errno. */
static int answer_fd(struct broker *b, uint64_t id, int fd, bool cloexec)
{
	struct seccomp_notif_addfd add = {
		.id = id,
		.flags = SECCOMP_ADDFD_FLAG_SEND,
		.srcfd = (uint32_t)fd,
		.newfd = 0,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	__atomic_add_fetch(&b->granted, 1, __ATOMIC_RELAXED);
	return ioctl(b->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 ? -errno : 0;
}

/* The handlers and the audit touch the monitor's state (policy, audit,
 * appender), which the other thread serves too: under the lock. Nothing
 * read from the target is read under it, so a target whose memory stalls a
 * read can never hold up the rest of the monitor. */
static void handle(struct broker *b, const struct object_request *req, struct object_result *res)
{
	broker_lock();
	object_handle(b->m, req, res);
	broker_unlock();
}

/* The answer and its audit are one step under the lock: the command may
 * end as soon as it has its answer, and the monitor leaves with it (the
 * other thread, under the lock), so the record must be written before the
 * lock is let go. Call with the lock held; it is released. */
static void audit_and_unlock(struct broker *b, const struct object_request *req,
			     const struct object_result *res)
{
	object_audit(b->m, req, res);
	broker_unlock();
}

static bool granted(const struct object_result *res)
{
	return res->decided && res->decision.allow;
}

/* --- open, openat, openat2, creat ---------------------------------------- */

struct open_call {
	int dirfd;
	uint64_t path;
	int flags;
	mode_t mode;
};

/* openat2's struct open_how: only as open and openat could say it (no
 * RESOLVE_ flag, the size of this kernel ABI's first version); anything else
 * is the kernel's to decide. */
static bool read_how(pid_t tid, const __u64 *a, struct open_call *c)
{
	struct open_how how;
	if (a[3] != sizeof(how) || read_target(tid, a[2], &how, sizeof(how)) < 0)
		return false;
	if (how.resolve != 0 || how.flags > UINT32_MAX || (how.mode & ~(uint64_t)07777))
		return false;
	c->dirfd = (int)a[0];
	c->path = a[1];
	c->flags = (int)how.flags;
	c->mode = (mode_t)how.mode;
	if (c->mode && !(c->flags & (O_CREAT | TMPFILE_BIT)))
		return false; /* EINVAL from the kernel */
	return true;
}

static bool open_call(const struct seccomp_notif *n, struct open_call *c)
{
	const __u64 *a = n->data.args;
	pid_t tid = (pid_t)n->pid;
	switch (n->data.nr) {
#ifdef __NR_open
	case __NR_open:
		*c = (struct open_call){AT_FDCWD, a[0], (int)a[1], (mode_t)a[2]};
		break;
#endif
#ifdef __NR_creat
	case __NR_creat:
		*c = (struct open_call){AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, (mode_t)a[1]};
		break;
#endif
	case __NR_openat:
		*c = (struct open_call){(int)a[0], a[1], (int)a[2], (mode_t)a[3]};
		break;
	case __NR_openat2:
		return read_how(tid, a, c);
	default:
		return false;
	}
	/* As the kernel takes them: a mode only with O_CREAT or O_TMPFILE. */
	c->mode = (c->flags & (O_CREAT | TMPFILE_BIT)) ? (c->mode & 07777) : 0;
	c->flags &= ~KERNEL_O_LARGEFILE;
	return true;
}

static void serve_open(struct broker *b, const struct seccomp_notif *n)
{
	pid_t tid = (pid_t)n->pid;
	struct open_call c;
	char path[PATH_MAX];
	int base, umask = 0;
	if (!open_call(n, &c) || read_path(tid, c.path, path) <= 0 ||
	    base_of(tid, c.dirfd, path, &base) < 0) {
		let_kernel(b, n->id);
		return;
	}
	if (object_needs_umask(c.flags))
		umask = resolve_umask(tid);
	if (umask < 0 || !still_valid(b, n->id)) {
		close_base(base);
		if (umask < 0)
			let_kernel(b, n->id);
		return;
	}
	struct object_request req = {
		.op = OBJECT_OPEN, .pid = tid, .path = path, .base = base,
		.flags = c.flags, .mode = c.mode, .umask = umask, .sock = -1,
		/* procfs resolves /proc/self and /proc/thread-self (and /dev/fd,
		 * /etc/mtab through them) as the process that walks the path:
		 * here, the monitor. What the target means by them only the
		 * kernel can open: decided before anything is opened. */
		.procfs_to_kernel = true,
	};
	if (broker_learn_own_right(b, &req)) {
		close_base(base);
		let_kernel(b, n->id);
		return;
	}
	struct object_result res;
	handle(b, &req, &res);
	close_base(base);
	if (res.procfs) {
		broker_lock();
		audit_refusal(&b->m->audit, "open", res.object, tid, EACCES,
			      "a /proc object reached in the monitor's context: the kernel "
			      "decides the call");
		broker_unlock();
		res.decided = false;
	}
	if (!granted(&res)) {
		if (res.fd >= 0)
			close(res.fd);
		let_kernel(b, n->id);
		return;
	}
	broker_lock();
	if (res.fd >= 0) {
		int rc = answer_fd(b, n->id, res.fd, (c.flags & O_CLOEXEC) != 0);
		close(res.fd);
		res.fd = -1;
		if (rc < 0 && rc != -ENOENT) {
			res.error = -rc; /* EMFILE: the target's table is full */
			send_resp(b, n->id, res.error, 0);
		} else if (rc == -ENOENT) {
			res.error = ESRCH; /* the thread is gone: nothing was given */
		}
	} else {
		answer(b, n->id, res.error ? res.error : EIO);
	}
	audit_and_unlock(b, &req, &res);
}

/* --- unlink and bind: an act with no fd for the target ---------------------- */

/* Serve `req`, whose every argument is the monitor's copy, read before the
 * last NOTIF_ID_VALID: the kernel's when the program may make it on its own
 * (learning) or the policy does not grant it, else the monitor's act and its
 * result. `held` (the base directory, or the copy of the socket) is closed
 * once the handler is done with it. */
static void serve_act(struct broker *b, uint64_t id, const struct object_request *req, int held)
{
	if (broker_learn_own_right(b, req)) {
		close_base(held);
		let_kernel(b, id);
		return;
	}
	struct object_result res;
	handle(b, req, &res);
	close_base(held);
	if (res.fd >= 0)
		close(res.fd);
	if (!granted(&res)) {
		let_kernel(b, id);
		return;
	}
	broker_lock();
	answer(b, id, res.error);
	audit_and_unlock(b, req, &res);
}

/* --- unlink, unlinkat ---------------------------------------------------- */

static void serve_unlink(struct broker *b, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;
	pid_t tid = (pid_t)n->pid;
	int dirfd = AT_FDCWD;
	uint64_t addr = a[0];
	if (n->data.nr == __NR_unlinkat) {
		dirfd = (int)a[0];
		addr = a[1];
	}
	char path[PATH_MAX];
	int base;
	if ((n->data.nr == __NR_unlinkat && (int)a[2] != 0) || read_path(tid, addr, path) <= 0 ||
	    base_of(tid, dirfd, path, &base) < 0) {
		let_kernel(b, n->id);
		return;
	}
	if (!still_valid(b, n->id)) {
		close_base(base);
		return;
	}
	struct object_request req = {
		.op = OBJECT_UNLINK, .pid = tid, .path = path, .base = base, .sock = -1,
	};
	serve_act(b, n->id, &req, base);
}

/* --- bind ------------------------------------------------------------------ */

/* A copy of the thread's descriptor `fd`: the very socket it means. */
static int target_socket(pid_t tid, int fd)
{
	int pidfd = pidfd_open(tid, PIDFD_THREAD);
	if (pidfd < 0 && errno == EINVAL)
		pidfd = pidfd_open(tid, 0); /* before Linux 6.9: a thread group leader */
	if (pidfd < 0)
		return -errno;
	int sock = pidfd_getfd(pidfd, fd, 0);
	int err = errno;
	close(pidfd);
	return sock < 0 ? -err : sock;
}

static void serve_bind(struct broker *b, const struct seccomp_notif *n)
{
	const __u64 *a = n->data.args;
	pid_t tid = (pid_t)n->pid;
	struct sockaddr_storage addr;
	socklen_t len = (socklen_t)a[2];
	memset(&addr, 0, sizeof(addr));
	/* Only the families the handler serves; the rest is the kernel's. */
	if ((int)a[2] < (int)sizeof(sa_family_t) || len > sizeof(addr) ||
	    read_target(tid, a[1], &addr, len) < 0 ||
	    (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
		let_kernel(b, n->id);
		return;
	}
	int sock = target_socket(tid, (int)a[0]);
	if (sock < 0) {
		let_kernel(b, n->id);
		return;
	}
	if (!still_valid(b, n->id)) {
		close(sock);
		return;
	}
	struct object_request req = {
		.op = OBJECT_BIND, .pid = tid, .base = AT_FDCWD, .sock = sock,
		.addr = &addr, .addrlen = len,
	};
	serve_act(b, n->id, &req, sock);
}

/* --- the loop's step ------------------------------------------------------- */

int broker_receive(struct broker *b)
{
	memset(b->req, 0, b->req_size);
	return ioctl(b->listener, SECCOMP_IOCTL_NOTIF_RECV, b->req) < 0 ? -errno : 0;
}

void broker_answer(struct broker *b)
{
	struct seccomp_notif *n = b->req;
	/* The filter kills every other ABI; never read arguments by another
	 * ABI's numbers. */
	if (n->data.arch != seccomp_arch_native()) {
		let_kernel(b, n->id);
		return;
	}
	switch (n->data.nr) {
	case __NR_unlinkat:
#ifdef __NR_unlink
	case __NR_unlink:
#endif
		serve_unlink(b, n);
		break;
	case __NR_bind:
		serve_bind(b, n);
		break;
	default:
		serve_open(b, n);
		break;
	}
}
