/* The PAM zygote: a root process forked from the monitor that prepares a
 * PAM stack once and forks each PAM worker from that state.
 *
 * A worker forked from the monitor pays for libpam's pam_start each time:
 * reading /etc/pam.d, loading and relocating every module, the page faults
 * of a new process touching all of it. The zygote runs pam_start(service,
 * NULL, conv) once (pam_prepare.c: only a service the policy it was forked
 * with grants, the configuration's directories watched first) and forks
 * each worker from then on: every worker starts from the same handle, on
 * which no module function ever ran in the zygote (it calls nothing of PAM
 * but pam_start and pam_end), as isolated from other transactions as one
 * from a fresh pam_start. A change in the watched directories makes the
 * zygote end the handle and prepare again (at once, or after the order it
 * is answering);
 * a worker forked before the change sees it on the same watch (events are
 * counted, never read) and starts afresh at BEGIN.
 *
 * The zygote forks with CLONE_PARENT (as the rerun zygote, proc_zygote.c):
 * each worker is the monitor's child, as one it forked itself: the monitor
 * takes its pidfd, reaps it, and hands it out as before (pam_monitor.c).
 * The zygote takes orders only from the monitor on its own socket, holds
 * no program channel and no report socket but the pair an order passes to
 * the worker it forks (closed once forked), and dies with the monitor. The
 * worker decides BEGIN with the policy the zygote was forked with: the
 * monitor ends the zygote when the policy is read again. When the zygote
 * is gone or does not answer, the monitor forks the worker itself and
 * starts a new zygote at the next need. */
#include "monitor/pam_zygote.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <linux/sched.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/kill_one.h"
#include "monitor/clone_parent.h"
#include "monitor/pam_worker.h"

/* An order: fork the worker of transaction `id`, with the stack of
 * `service` prepared. With it come the worker's ends of the transaction's
 * channel and of the report socket. */
struct zygote_order {
	uint32_t id;
	char service[POLICY_SERVICE_MAX + 1];
};

/* The monitor's PAM zygote (one per monitor). */
static struct {
	pid_t pid; /* 0: none */
	int pidfd; /* its pidfd, taken before it could be reaped */
	int ctl;   /* its socket */
} zygote = {.pidfd = -1, .ctl = -1};

/* An order and its reply take no longer than this (a first preparation
 * included), or the zygote is taken for broken. */
#define ZYGOTE_TIMEOUT_MS 5000

/* --- in the zygote -------------------------------------------------------------- */

static int first_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)info;
	(void)size;
	(void)data;
	return 1;
}

static void __attribute__((format(printf, 1, 2))) format(const char *fmt, ...)
{
	char out[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, sizeof(out), fmt, ap);
	va_end(ap);
}

/* The library functions each worker calls that the monitor has not, called
 * here once so that they are bound in the zygote: a program linked with
 * lazy binding looks a function up at its first call, and each worker
 * would look each up again and write the page it is kept in. Each call
 * changes nothing (no fd, nothing to send, a lookup of root). Not PAM's
 * calls on a handle: on none, libpam logs an error, and the prepared one
 * stays as pam_start left it. Only a matter of time: a function missing
 * here is bound when a worker calls it. */
static void bind_ahead(void)
{
	static volatile size_t none;
	char text[256] = "";
	char *volatile any = text; /* of no known size */
	struct tm tm;
	struct msghdr msg;
	struct sockaddr addr;
	struct passwd pw, *found = NULL;
	time_t now = time(NULL);
	memset(&msg, 0, sizeof(msg));
	memset(&addr, 0, sizeof(addr));
	if (localtime_r(&now, &tm))
		strftime(text, sizeof(text), "%b %e %T", &tm);
	format("%s", pam_strerror(NULL, PAM_SUCCESS));
	memcpy(any, text, none);
	memset(text, 0, none);
	int queued;
	if (strstr(any, "/security/")) /* never: `text` is empty */
		none = 0;
	(void)!ioctl(-1, FIONREAD, &queued);
	(void)!recv(-1, any, none, MSG_DONTWAIT);
	(void)!sendmsg(-1, &msg, MSG_DONTWAIT);
	(void)!connect(-1, &addr, sizeof(addr));
	(void)!socket(-1, 0, 0);
	dl_iterate_phdr(first_object, NULL);
	void *self = dlopen(NULL, RTLD_LAZY | RTLD_NOLOAD);
	if (self)
		dlclose(self);
	(void)!getpwnam_r("root", &pw, text, sizeof(text), &found);
	explicit_bzero(text, sizeof(text));
}

/* Read one order; false at the end (the monitor closed its side) or at
 * anything but an order as the monitor sends it. */
static bool read_order(int ctl, struct zygote_order *o, int *chan, int *report)
{
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = o, .iov_len = sizeof(*o)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control)};
	ssize_t n;
	do
		n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(2 * sizeof(int)) || n != (ssize_t)sizeof(*o) ||
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return false; /* the monitor's own: never but at its end */
	int fds[2];
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	*chan = fds[0];
	*report = fds[1];
	o->service[sizeof(o->service) - 1] = '\0';
	return true;
}

/* Fork the worker of one order; its pid, or -errno. */
static int32_t serve_order(const struct zygote_order *o, int ctl, int chan, int report,
			   pid_t monitor)
{
	pid_t pid = clone_parent();
	if (pid == 0) {
		close(ctl);
		pam_worker_serve(chan, report, o->id, monitor);
	}
	return pid < 0 ? -errno : pid;
}

static void __attribute__((noreturn)) zygote_main(struct monitor *m, int ctl, pid_t monitor,
						  const char *first)
{
	/* The request buffers are not its; nor are the other workers' report
	 * sockets and every other fd of the monitor (pam_worker_detach). */
	explicit_bzero(m->buf, sizeof(m->buf));
	explicit_bzero(&m->request, sizeof(m->request));
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != monitor)
		_exit(0);
	prctl(PR_SET_NAME, "privman-pamzyg");
	if (!clone_parent_prepare())
		_exit(0);
	pam_worker_detach(m, &ctl, 1);
	static struct zygote_order o;
	char service[sizeof(o.service)] = "";
	if (strlen(first) < sizeof(service))
		memcpy(service, first, strlen(first) + 1);
	bind_ahead();
	/* While the monitor forks the first worker itself. */
	pam_worker_prepare(service);
	for (;;) {
		int watch = pam_worker_watch();
		struct pollfd p[2] = {{.fd = ctl, .events = POLLIN}, {.fd = watch, .events = POLLIN}};
		if (poll(p, watch >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(0);
		}
		if (p[0].revents) {
			/* Forked from what is prepared now, before anything is
			 * prepared again: the monitor waits for this answer,
			 * never for a pam_start. A worker whose stack is of
			 * another service, or older than a change seen on the
			 * watch it shares, calls pam_start itself at BEGIN. */
			int chan, report;
			if (!read_order(ctl, &o, &chan, &report))
				_exit(0);
			int32_t pid = serve_order(&o, ctl, chan, report, monitor);
			close(chan);
			close(report);
			if (send(ctl, &pid, sizeof(pid), MSG_NOSIGNAL) != (ssize_t)sizeof(pid))
				_exit(0);
			if (o.service[0])
				memcpy(service, o.service, sizeof(service));
		}
		/* A change of the configuration, or another service expected:
		 * prepare again now, off the path of the next order. */
		pam_worker_prepare(service);
	}
}

/* --- in the monitor --------------------------------------------------------------- */

void pam_zygote_end(void)
{
	if (zygote.ctl >= 0)
		close(zygote.ctl);
	if (zygote.pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, zygote.pidfd, SIGKILL, NULL, 0);
		close(zygote.pidfd);
	}
	zygote.ctl = zygote.pidfd = -1;
	zygote.pid = 0; /* reaped as any child; its status means nothing */
}

void pam_zygote_forget(void)
{
	if (zygote.ctl >= 0)
		close(zygote.ctl);
	if (zygote.pidfd >= 0)
		close(zygote.pidfd);
	zygote.ctl = zygote.pidfd = -1;
	zygote.pid = 0;
}

static bool zygote_spawn(struct monitor *m, const char *service)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	struct timeval tv = {.tv_sec = ZYGOTE_TIMEOUT_MS / 1000,
			     .tv_usec = (ZYGOTE_TIMEOUT_MS % 1000) * 1000};
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Nothing queued may be written twice, by the monitor and a worker. */
	audit_flush(&m->audit);
	pid_t monitor = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		zygote_main(m, sv[1], monitor, service);
	}
	close(sv[1]);
	/* Not reaped before the loop comes round: the pid is still its own. */
	int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (pidfd < 0) {
		if (pid > 0)
			kill_one(pid, SIGKILL); /* our child, not reaped yet */
		close(sv[0]);
		return false;
	}
	zygote.pid = pid;
	zygote.pidfd = pidfd;
	zygote.ctl = sv[0];
	return true;
}

/* Send one order with the worker's fds; 0 or -1. */
static int send_order(struct zygote_order *o, int chan, int report)
{
	int fds[2] = {chan, report};
	char control[CMSG_SPACE(sizeof(fds))];
	memset(control, 0, sizeof(control));
	struct iovec iov = {.iov_base = o, .iov_len = sizeof(*o)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	return sendmsg(zygote.ctl, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(*o) ? 0 : -1;
}

pid_t pam_zygote_fork(struct monitor *m, const char *service, int chan, int report, uint32_t id)
{
	struct zygote_order o;
	memset(&o, 0, sizeof(o));
	o.id = id;
	if (strlen(service) >= sizeof(o.service))
		return -EINVAL;
	memcpy(o.service, service, strlen(service) + 1);
	/* A new zygote prepares while the monitor forks this worker itself:
	 * the monitor does not wait for its pam_start. */
	if (zygote.pid <= 0) {
		zygote_spawn(m, o.service);
		return -ENOSYS;
	}
	int32_t pid = -EPIPE;
	ssize_t n = -1;
	if (send_order(&o, chan, report) == 0) {
		do
			n = recv(zygote.ctl, &pid, sizeof(pid), 0);
		while (n < 0 && errno == EINTR);
	}
	/* Forked with CLONE_PARENT: our child, and not reaped by anyone. */
	siginfo_t info;
	if (n != (ssize_t)sizeof(pid) || pid <= 0 ||
	    waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
		pam_zygote_end();
		return pid < 0 ? pid : -EPROTO;
	}
	return pid;
}
