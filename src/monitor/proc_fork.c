/* Processes: priv_fork and the hello of a forked child (believed only
 * through the kernel), and priv_daemon. */
#include "monitor/proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

/* --- fork ------------------------------------------------------------------------ */

/* A fork channel made ahead of need, after a priv_fork was answered, so
 * that the next one is answered without making it: both ends only ever
 * held by this monitor until a priv_fork hands one out (never registered
 * in epoll before then, never inherited by a process forked from the
 * monitor: proc_close_monitor_fds closes it there, proc_fork_forget_spare
 * in a monitor forked from this one). */
static int spare[2] = {-1, -1};
static bool spare_wanted; /* made only once the program uses priv_fork */

/* A socketpair for a forked child: the kernel attaches the sender's
 * credentials (and a pidfd) to every message queued on sv[0], the child's
 * hello. */
static int channel_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int on = 1;
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	(void)setsockopt(sv[0], SOL_SOCKET, SO_PASSPIDFD, &on, sizeof(on));
	return 0;
}

void proc_fork_prepare(void)
{
	if (spare_wanted && spare[0] < 0 && channel_pair(spare) < 0)
		spare[0] = spare[1] = -1;
}

void proc_fork_forget_spare(void)
{
	if (spare[0] >= 0) {
		close(spare[0]);
		close(spare[1]);
	}
	spare[0] = spare[1] = -1;
}

int proc_handle_fork(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		     int *fds, int *fd_out)
{
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	struct policy_request r;
	struct policy_decision d;
	memset(&r, 0, sizeof(r));
	r.op = POLICY_OP_FORK;
	policy_decide(m->policy, &r, &d);
	if (!d.allow) {
		audit_decision(&m->audit, "fork", "-", 0, c->pid, &d, 0);
		return -EPERM;
	}
	size_t pending = 0;
	for (size_t i = 0; i < m->channel_count; i++)
		if (m->channels[i].sock >= 0 && m->channels[i].pending &&
		    m->channels[i].parent == c->pid)
			pending++;
	if (pending >= PROC_MAX_PENDING_PER_PARENT) {
		audit_refusal(&m->audit, "fork", "-", c->pid, EAGAIN,
			      "too many of its fork channels are waiting for a child's hello");
		return -EAGAIN;
	}
	if (!proc_book(m))
		return -ENOMEM;

	int sv[2];
	spare_wanted = true;
	if (spare[0] >= 0) {
		sv[0] = spare[0];
		sv[1] = spare[1];
		spare[0] = spare[1] = -1;
	} else {
		int rc = channel_pair(sv);
		if (rc < 0)
			return rc;
	}
	struct monitor_channel *nc = monitor_channel_add(m, sv[0], 0);
	if (!nc) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	nc->pending = true;
	nc->parent = c->pid;
	audit_decision(&m->audit, "fork", "-", 0, c->pid, &d, 0);
	*fd_out = sv[1];
	return 0;
}

/* The parent pid of `pid`, from /proc/<pid>/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid": comm may hold anything, even ")". */
	char *p = strrchr(buf, ')');
	int ppid;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static bool descends_from(pid_t pid, pid_t ancestor)
{
	for (int i = 0; i < PROC_MAX_ANCESTRY && pid > 1; i++) {
		pid = parent_of(pid);
		if (pid == ancestor)
			return true;
	}
	return false;
}

/* The pid a pidfd refers to (its fdinfo), or -1. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}

/* PIDFD_GET_INFO (Linux 6.13), its first version, which newer kernels
 * still answer: the headers of this system may be older. */
struct pidfd_info_v0 {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t spare0[1];
};
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_PID_BIT (UINT64_C(1) << 0)

/* The pid a pidfd refers to and its parent's, both as this monitor sees
 * them: from the kernel through the pidfd, without /proc, where it can
 * tell; else from fdinfo and /proc/PID/stat. False when it is gone. */
static bool pidfd_ids(int pidfd, pid_t *pid, pid_t *ppid)
{
	struct pidfd_info_v0 info = {.mask = PIDFD_INFO_PID_BIT};
	if (ioctl(pidfd, PIDFD_GET_INFO_V0, &info) == 0 && (info.mask & PIDFD_INFO_PID_BIT)) {
		*pid = (pid_t)info.pid;
		*ppid = (pid_t)info.ppid;
		return *pid > 0;
	}
	if (errno == ESRCH)
		return false;
	*pid = pidfd_pid(pidfd);
	*ppid = *pid > 0 ? parent_of(*pid) : -1;
	return *pid > 0;
}

/* A channel still pending (pid 0) ends by hand. */
static void pending_end(struct monitor *m, struct monitor_channel *c)
{
	if (c->sock < 0)
		return;
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
	close(c->sock);
	c->sock = -1;
	c->pending = false;
}

/* Close the fds of a control message that carries them. */
static void close_passed(struct cmsghdr *cm, size_t len)
{
	if (cm->cmsg_level != SOL_SOCKET ||
	    (cm->cmsg_type != SCM_RIGHTS && !(cm->cmsg_type == SCM_PIDFD && len == sizeof(int))))
		return;
	for (size_t i = 0; i < len / sizeof(int); i++) {
		int fd;
		memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		close(fd);
	}
}

/* The sender's pid and pidfd, which the kernel attached to a hello; false
 * when anything else came with it (every fd in it closed). */
static bool hello_creds(struct msghdr *mh, pid_t *pid, int *pidfd)
{
	bool good = true;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t len = cm->cmsg_len - CMSG_LEN(0);
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
		    len == sizeof(struct ucred)) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			*pid = cred.pid;
		} else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PIDFD &&
			   len == sizeof(int) && *pidfd < 0) {
			memcpy(pidfd, CMSG_DATA(cm), sizeof(int));
		} else {
			close_passed(cm, len); /* fds (or anything else) in a hello */
			good = false;
		}
	}
	return good;
}

void proc_serve_pending(struct monitor *m, struct monitor_channel *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) +
			 CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = m->buf, .iov_len = sizeof(m->buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;

	struct proc_table *t = proc_book(m);
	pid_t pid = 0;
	int pidfd = -1;
	bool bad = n <= 0 || (size_t)n >= sizeof(m->buf) ||
		   (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !t;
	if (n > 0 && !hello_creds(&mh, &pid, &pidfd))
		bad = true;
	if (bad || pid <= 0) {
		if (pidfd >= 0)
			close(pidfd);
		if (n > 0)
			audit_protocol(&m->audit, pid, "a forked child's hello was malformed");
		monitor_end_process(m, c->pid);
		pending_end(m, c);
		return;
	}
	t->hello_pid = pid;
	t->hello_pidfd = pidfd;
	int rc = monitor_handle_message(m, c, (size_t)n, NULL, 0);
	if (t->hello_pidfd >= 0)
		close(t->hello_pidfd);
	t->hello_pidfd = -1;
	t->hello_pid = 0;
	if (rc < 0 && c->sock >= 0) {
		if (c->pid)
			monitor_end_process(m, c->pid);
		else
			pending_end(m, c);
	}
}

int proc_handle_hello(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out)
{
	struct proc_table *t = m->proc;
	if (!c->pending || !t || !proc_decode_request(req) || t->hello_pid <= 0)
		return MONITOR_VIOLATION;
	pid_t pid = t->hello_pid;
	int pidfd = t->hello_pidfd;
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	else
		t->hello_pidfd = -1; /* ours now */
	const char *why = NULL;
	pid_t known = 0, ppid = -1;
	if (pidfd < 0 || !pidfd_ids(pidfd, &known, &ppid) || known != pid)
		why = "the process that said hello is gone";
	else if (pid == c->parent || proc_entry_find(t, pid) || pid == m->program)
		why = "a process that already has a channel said hello on a new one";
	else if (ppid != c->parent && !descends_from(ppid, c->parent))
		why = "the process that said hello does not descend from the one that forked";
	/* Still alive after the checks: the pid was not reused meanwhile. */
	else if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		why = "the process that said hello is gone";
	if (why) {
		if (pidfd >= 0)
			close(pidfd);
		audit_refusal(&m->audit, "hello", "-", pid, EPERM, why);
		return MONITOR_VIOLATION;
	}
	int off = 0;
	setsockopt(c->sock, SOL_SOCKET, SO_PASSCRED, &off, sizeof(off));
	setsockopt(c->sock, SOL_SOCKET, SO_PASSPIDFD, &off, sizeof(off));
	struct proc_entry *e = proc_entry_add(t, pid, pidfd, PROC_PROGRAM, c->parent);
	if (!e) {
		close(pidfd);
		return -ENOMEM;
	}
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = MONITOR_PROC_TAG + (uint64_t)(e - t->entries)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		int err = errno;
		proc_entry_free(m, e);
		return -err;
	}
	c->pending = false;
	c->pid = pid;
	/* priv_daemon's child goes on as the program: the main program from
	 * now on (its parent leaves, as daemon(3)'s does). */
	if (t->daemon_caller && c->parent == t->daemon_caller && !t->program_gone) {
		int own = fcntl(pidfd, F_DUPFD_CLOEXEC, 0);
		if (own >= 0 && monitor_set_program(m, pid, own) == 0)
			t->daemon_caller = 0;
		else if (own >= 0)
			close(own);
	}
	c->parent = 0;
	proc_tally_sync(m);
	return 0;
}

/* Watch a process that is not (or no longer) our child through its
 * pidfd, taken when it was (never opened now from its pid: its parent has
 * left, and its pid may be another process's already). */
static int watch_pidfd(struct monitor *m, struct proc_entry *e)
{
	struct proc_table *t = m->proc;
	if (e->pidfd < 0)
		return -EBADF;
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = MONITOR_PROC_TAG + (uint64_t)(e - t->entries)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, e->pidfd, &ev) < 0)
		return -errno;
	e->flags &= ~(unsigned)PROC_CHILD;
	return 0;
}

/* daemon(3) for the monitor: this process exits, as the parent of
 * daemon(3) does, and a child of it, in a session of its own, serves on.
 * The program then does the same on its side (client_proc.c). */
int proc_handle_daemon(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out)
{
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	int rc = proc_decide_bool(m, c, POLICY_OP_FORK, "daemon");
	if (rc < 0)
		return rc;
	struct proc_table *t = proc_book(m);
	if (!t)
		return -ENOMEM;
	audit_flush(&m->audit);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0); /* the new monitor holds every channel */
	proc_fork_forget_spare(); /* made by the monitor that left (see spare) */

	if (monitor_detached(m) < 0)
		syslog(LOG_ERR, "monitor: its signals cannot be watched after daemon(3): %m");
	if (setsid() < 0)
		syslog(LOG_WARNING, "monitor: setsid: %m");
	if (!proc_req.noclose) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	/* Our former parent's children are nobody's now: watch them by pidfd.
	 * Their exit status is lost to priv_wait4 (reported as 0). */
	for (size_t i = 0; i < t->count; i++) {
		struct proc_entry *e = &t->entries[i];
		if (e->pid && (e->flags & PROC_CHILD) && !(e->flags & PROC_EXITED) &&
		    watch_pidfd(m, e) < 0)
			e->flags = (e->flags | PROC_EXITED) & ~(unsigned)PROC_PROGRAM;
	}
	if (t->program_is_child && !t->program_gone) {
		int pidfd = fcntl(m->program_pidfd, F_DUPFD_CLOEXEC, 0);
		struct proc_entry *e =
			pidfd < 0 ? NULL : proc_entry_add(t, m->program, pidfd, PROC_PROGRAM, 0);
		if (!e || watch_pidfd(m, e) < 0) {
			if (e)
				proc_entry_free(m, e);
			else if (pidfd >= 0)
				close(pidfd);
			t->program_gone = true;
			m->program = 0;
		}
		t->program_is_child = false;
	}
	if (c->pid == m->program && !t->program_gone)
		t->daemon_caller = c->pid;
	audit_event(&m->audit, LOG_INFO, "monitor detached as pid %d for daemon(3)", (int)getpid());
	return 0;
}
