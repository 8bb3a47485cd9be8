/* The broker's processes (broker.h): the guard, the command's start, and
 * the end of the tree.
 *
 * Why two root processes: a process tree cannot be made to die with one
 * process without a cgroup or a PID namespace (which would give the command
 * pids that mean nothing outside it: nginx's pid file). PR_SET_PDEATHSIG
 * reaches one child, not its descendants, and a process may leave its
 * process group or session (setsid). But no process can leave the subtree
 * of a child subreaper: orphans are reparented to the nearest one. So the
 * monitor forks a guard, a child subreaper that forks the command, and each
 * watches the other: when the monitor dies, the guard (a pidfd of the
 * monitor) kills every process below it; when the guard dies, its orphans
 * are reparented to the monitor, also a subreaper, which does the same. Only
 * if both die at once does the tree live on, and then each call the filter
 * sends fails with ENOSYS, for the listener is gone. */
#include "monitor/broker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/kill_one.h"

#define CHILDREN_MAX 1024

/* This process's children, from /proc/self/task/<tid>/children (the
 * process has one thread). Returns how many, at most `max`. */
static size_t children(pid_t *out, size_t max)
{
	char file[64], buf[8192];
	snprintf(file, sizeof(file), "/proc/self/task/%d/children", (int)getpid());
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	size_t count = 0;
	for (char *p = buf, *end; count < max; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 0)
			out[count++] = (pid_t)v;
	}
	return count;
}

void broker_kill_tree(pid_t spare)
{
	pid_t pids[CHILDREN_MAX];
	/* Each round kills every child and reaps it; a killed process's own
	 * children are reparented to this one before it can be reaped, and are
	 * found by the next round. A process killed in fork(2) has no child. */
	for (;;) {
		size_t n = children(pids, CHILDREN_MAX), killed = 0;
		for (size_t i = 0; i < n; i++) {
			if (pids[i] == spare)
				continue;
			kill_one(pids[i], SIGKILL);
			pids[killed++] = pids[i];
		}
		if (killed == 0)
			break;
		for (size_t i = 0; i < killed; i++)
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
	}
}


/* The listener and a pidfd of this process, to the monitor, in one message.
 * sendmsg is not a call the filter sends to the monitor: nothing can wait
 * for the monitor here, which is waiting for this message. */
static int hand_over(int sock, int listener, int pidfd)
{
	int fds[2] = {listener, pidfd};
	union {
		char b[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	char byte = 'L';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.b,
			    .msg_controllen = sizeof(control.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

static void __attribute__((noreturn)) start_target(const struct broker_start *s)
{
	/* Dies with the guard, until the drop clears this (the guard's end
	 * kills it in any case). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close(s->report);
	sigaction(SIGCHLD, &s->chld, NULL);
	sigprocmask(SIG_SETMASK, &s->mask, NULL);
	int pidfd = pidfd_open(getpid(), 0);
	if (pidfd < 0) {
		fprintf(stderr, "privman run: pidfd_open: %s\n", strerror(errno));
		_exit(70);
	}
	int listener = broker_filter_install(s->ops);
	if (listener < 0) {
		fprintf(stderr, "privman run: cannot load the broker's seccomp filter: %s\n",
			strerror(-listener));
		_exit(70);
	}
	/* The command must not hold the listener: it could answer its own
	 * calls, and the tree would outlive the monitor with calls hanging. */
	if (hand_over(s->sock, listener, pidfd) < 0)
		_exit(70);
	close(listener);
	close(pidfd);
	close(s->sock);
	s->target(s->arg);
	_exit(70);
}

/* The command ended: what it left running cannot be served once the
 * monitor leaves. Tell the monitor how the command ended, and go. */
static void __attribute__((noreturn)) command_ended(const struct broker_start *s, int status)
{
	broker_kill_tree(0);
	ssize_t n;
	do
		n = write(s->report, &status, sizeof(status));
	while (n < 0 && errno == EINTR);
	_exit(0);
}

/* The guard: parent of the command, child subreaper of its tree. */
static void __attribute__((noreturn)) guard(pid_t monitor, const struct broker_start *s)
{
	prctl(PR_SET_NAME, "privman-guard");
	close(s->monitor_end);
	int watch = pidfd_open(monitor, 0);
	if (watch < 0 || getppid() != monitor || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		_exit(70);
	/* Nothing but SIGCHLD reaches it: the command gets the signals of the
	 * terminal itself, and the monitor passes on those sent to it. */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(70);
	pid_t command = fork();
	if (command == 0) {
		close(watch);
		close(sfd);
		start_target(s);
	}
	close(s->sock);
	if (command < 0)
		_exit(70);
	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = watch, .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents) { /* the monitor is gone: nothing serves the tree */
			broker_kill_tree(0);
			_exit(70);
		}
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == command)
				command_ended(s, status);
	}
}

pid_t broker_tree_start(const struct broker_start *start)
{
	pid_t monitor = getpid();
	pid_t pid = fork();
	if (pid == 0)
		guard(monitor, start);
	return pid;
}
