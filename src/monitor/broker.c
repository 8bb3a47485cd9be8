/* The broker's monitor (broker.h): start the tree, take the listener, and
 * serve until the command is gone. Runs as root. */
#include "monitor/broker.h"
#include "monitor/broker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "common/exit_like.h"
#include "monitor/append.h"
#include "monitor/audit.h"
#include "monitor/broker_learn.h"
#include "monitor/state.h"

/* Signals passed on to the command when a process sends them to the
 * monitor (the terminal's reach the command itself). */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT};

/* The kinds of call the policy can grant. */
static unsigned ops_of(const struct policy *p)
{
	unsigned ops = 0;
	if (p->learn) /* anything may be learned */
		return BROKER_OPEN | BROKER_UNLINK | BROKER_BIND;
	if (p->open_ro.count || p->open_rw.count)
		ops |= BROKER_OPEN_READ;
	if (p->open_ao.count || p->open_rw.count)
		ops |= BROKER_OPEN_WRITE;
	if (p->open_rw.count)
		ops |= BROKER_OPEN_RDWR;
	if (p->unlink.count)
		ops |= BROKER_UNLINK;
	if (p->bind.count)
		ops |= BROKER_BIND;
	return ops;
}

bool broker_wanted(const struct policy *p)
{
	return ops_of(p) != 0;
}

/* The listener and the command's pidfd, from the command. Returns 0, or -1
 * when the command ended first (its drop failed: the guard's status says
 * how). */
static int take_listener(int sock, int *listener, int *pidfd)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} control;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.b,
			    .msg_controllen = sizeof(control.b)};
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (!c || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int) * 2))
		return -1;
	int fds[2];
	memcpy(fds, CMSG_DATA(c), sizeof(fds));
	*listener = fds[0];
	*pidfd = fds[1];
	return 0;
}

struct loop {
	struct broker b;
	struct monitor *m;
	pid_t guard;
	int report; /* the guard's report: the command's wait status */
	int signal_fd;
	int command; /* pidfd */
};

/* Leave as the command left, once the appender has written what the
 * command wrote. */
static void __attribute__((noreturn)) finish(struct loop *l, int status)
{
	audit_event(&l->m->audit, LOG_INFO,
		    "the command ended (%s %d); %lu calls granted, %lu left to the kernel",
		    WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		    __atomic_load_n(&l->b.granted, __ATOMIC_RELAXED),
		    __atomic_load_n(&l->b.continued, __ATOMIC_RELAXED));
	append_finish(l->m);
	audit_finish(&l->m->audit);
	exit_like(status);
}

static void reap(struct loop *l)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != l->guard)
			continue; /* the appender, or an orphan of the tree */
		/* The guard ended the tree and reported how the command ended.
		 * With no report it was killed: its orphans are now here. */
		int command;
		if (read(l->report, &command, sizeof(command)) != (ssize_t)sizeof(command)) {
			audit_event(&l->m->audit, LOG_ERR,
				    "the guard ended (wait status %d); ending the command's "
				    "processes",
				    status);
			broker_kill_tree(append_pid(l->m));
			command = 70 << 8; /* exit status 70 */
		}
		finish(l, command);
	}
}

static void handle_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	while (read(l->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD)
			reap(l);
		/* A signal from the terminal reached the command already (same
		 * process group); one a process sent to the monitor did not. The
		 * pidfd names the command, whatever pid is reused. */
		else if (si.ssi_code != SI_KERNEL)
			pidfd_send_signal(l->command, sig, NULL, 0);
	}
}

/* The appender's socket is in the monitor's epoll set (append.c). */
static void handle_epoll(struct loop *l)
{
	struct epoll_event ev[4];
	int n = epoll_wait(l->m->epoll_fd, ev, 4, 0);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == APPEND_TAG)
			append_event(l->m);
}

/* One lock for the monitor's state (policy, audit, appender): the thread
 * that serves the calls and the one that serves everything else take
 * turns. */
static pthread_mutex_t state = PTHREAD_MUTEX_INITIALIZER;

void broker_lock(void)
{
	pthread_mutex_lock(&state);
}

void broker_unlock(void)
{
	pthread_mutex_unlock(&state);
}

/* Signals, the appender's reports, the audit's clock: a thread of their own,
 * so that the one serving calls waits in the listener alone (one system
 * call fewer per call, and the target's wake-up goes straight to it). */
static void *serve_events(void *arg)
{
	struct loop *l = arg;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = l->signal_fd, .events = POLLIN},
			{.fd = l->m->epoll_fd, .events = POLLIN},
		};
		pthread_mutex_lock(&state);
		int due = audit_flush_due_ms(&l->m->audit);
		pthread_mutex_unlock(&state);
		/* Records the other thread queues meanwhile wait one period. */
		int n = poll(p, 2, due < 0 || due > AUDIT_FLUSH_MS ? AUDIT_FLUSH_MS : due);
		pthread_mutex_lock(&state);
		if (n < 0 && errno != EINTR) {
			syslog(LOG_CRIT, "privman run: poll: %m; ending the command");
			broker_kill_tree(append_pid(l->m));
			_exit(70);
		}
		if (audit_flush_due_ms(&l->m->audit) == 0)
			audit_flush(&l->m->audit);
		if (n > 0 && p[0].revents)
			handle_signals(l);
		if (n > 0 && p[1].revents)
			handle_epoll(l);
		pthread_mutex_unlock(&state);
	}
	return NULL;
}

/* The calls of the tree, one at a time. The appender is forked from this
 * thread, the thread group's leader, which the tree's orphans are
 * reparented to as well (broker_kill_tree reads its children). */
static void __attribute__((noreturn)) serve_calls(struct loop *l)
{
	for (;;) {
		int rc = broker_receive(&l->b);
		if (rc == -ENOENT || rc == -EINTR)
			continue;
		if (rc < 0) {
			/* The listener failed: nothing more to serve; the
			 * other thread sees the tree end. */
			for (;;)
				pause();
		}
		broker_answer(&l->b);
	}
}

static int fail(const char *what)
{
	int e = errno;
	fprintf(stderr, "privman run: %s: %s\n", what, strerror(e));
	errno = e;
	return -1;
}

int broker_run(struct policy *policy, const char *ident, int audit_fd, broker_target_fn *target,
	       void *arg)
{
	static struct monitor monitor;
	static struct loop l;
	static struct broker_start start;
	struct monitor *m = &monitor;
	/* Block what the monitor reads from its signalfd before the fork, so
	 * that nothing is lost; the command gets the mask back. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	int sv[2], report[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0)
		return fail("socketpair");
	/* Orphans of the tree come here if the guard is gone. An ignored
	 * SIGCHLD would reap the guard unseen: the default until the command
	 * gets its own back. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || sigaction(SIGCHLD, &dfl, &start.chld) < 0 ||
	    sigprocmask(SIG_BLOCK, &set, &start.mask) < 0)
		return fail("prctl");
	fflush(NULL);
	l.m = m;
	start = (struct broker_start){
		.sock = sv[1], .monitor_end = sv[0], .report = report[1], .mask = start.mask,
		.chld = start.chld, .ops = ops_of(policy), .target = target, .arg = arg,
	};
	l.guard = broker_tree_start(&start);
	if (l.guard < 0)
		return fail("fork");
	close(sv[1]);
	close(report[1]);
	l.report = report[0];
	l.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l.signal_fd < 0)
		return fail("signalfd");
	if (take_listener(sv[0], &l.b.listener, &l.command) < 0) {
		int status;
		while (waitpid(l.guard, &status, 0) < 0)
			if (errno != EINTR)
				_exit(70);
		/* The command's own message said why. */
		if (read(l.report, &status, sizeof(status)) != (ssize_t)sizeof(status))
			status = 70 << 8;
		exit_like(status);
	}
	close(sv[0]);

	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "privman[broker]");
	/* Files made for the command carry its umask (read per request). */
	umask(0);
	if (chdir("/") < 0)
		syslog(LOG_WARNING, "privman run: chdir /: %m");
	m->policy = policy;
	audit_init(&m->audit, ident);
	m->audit.fd = audit_fd;
	broker_learn_attach(&m->audit);
	m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	m->signal_fd = l.signal_fd;
	m->program = 0;
	l.b.m = m;
	int rc = m->epoll_fd < 0 ? -errno : broker_notify_init(&l.b);
	pthread_t events;
	if (rc == 0)
		rc = -pthread_create(&events, NULL, serve_events, &l);
	if (rc < 0) {
		errno = -rc;
		syslog(LOG_CRIT, "privman run: the broker cannot start: %m; ending the command");
		broker_kill_tree(0);
		_exit(70);
	}
	serve_calls(&l);
}
