/* open_ao without the file (see append.h).
 *
 * Threat model: whatever flag the monitor sets on an fd, the program can
 * clear (F_SETFL drops O_APPEND), and a writable fd on a regular file lets
 * it ftruncate, pwrite, fallocate and copy_file_range anywhere in the file.
 * So an open granted by open_ao only never hands the program the file: it
 * gets the write end of a pipe, whose worst is to be written to. The read
 * end and the file (opened O_WRONLY|O_APPEND by the monitor) go to the
 * appender, a process forked from the monitor on first need that copies
 * everything from each pipe to the end of its file.
 *
 * The appender holds only its socket to the monitor, the pipes and the
 * files it was sent. It runs as the program's user (nobody when that is
 * root), with no capability, no new privileges, not dumpable (so that no
 * process of that user, the program included, can ptrace it or take its
 * fds through /proc or pidfd_getfd), and under a seccomp filter that
 * allows reading, writing and closing the fds it has, receiving more, and
 * little else. The program may kill or stop it: its own writes then fail
 * or wait, and nothing already written is touched. A process of any other
 * user (but root) cannot, as it could if the appender ran as nobody. It never blocks the
 * monitor: the monitor hands it fds with MSG_DONTWAIT, and a disk that is
 * slow stalls the appender, not the monitor.
 *
 * Atomicity: a write of up to PIPE_BUF bytes to a pipe is whole in the
 * pipe; the appender reads with a buffer as large as the largest pipe an
 * unprivileged process can make (/proc/sys/fs/pipe-max-size), so each read
 * takes only whole such writes, and writes them with one write(2) on an
 * O_APPEND file: lines of concurrent writers are never cut.
 *
 * The appender reports to the monitor on the same socket: each stream that
 * ended (so that the monitor knows how many are open), and each write that
 * failed (the monitor audits it). When the monitor leaves, it shuts its
 * side down and waits until the appender has emptied every pipe; the
 * appender then serves what is left open (a process of the program that
 * outlives the monitor) and exits when every pipe is at end of file. */
#include "monitor/append.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "monitor/audit.h"
#include "scope/drop.h"
#include "monitor/monitor.h"

#define APPEND_MAGIC 0x70617031u /* "pap1" */
/* The read buffer when /proc/sys/fs/pipe-max-size cannot be read: its
 * default. */
#define APPEND_DEFAULT_BUFFER (1 << 20)
#define APPEND_MAX_BUFFER (64 << 20)
/* Reads of one stream in a row when the monitor leaves. */
#define APPEND_DRAIN_READS 64
/* At most one error report per stream in this time. */
#define APPEND_REPORT_MS 1000

/* Monitor to appender: one stream, with two fds (the pipe's read end, the
 * file). Sent up to and including the path's NUL. */
struct append_hello {
	uint32_t magic;
	int32_t pid;
	char path[PATH_MAX];
};

enum append_kind {
	REPORT_COUNT = 1, /* only the count of streams ended */
	REPORT_ENDED,     /* a stream ended; `lost` bytes could not be written */
	REPORT_FAILED,    /* writing to the file failed with `error` */
	REPORT_REFUSED,   /* a stream could not be taken (`error`) */
	REPORT_DRAINED,   /* the monitor left and every pipe was emptied */
};

/* Appender to monitor. Sent up to and including the path's NUL. */
struct append_report {
	uint32_t kind;
	int32_t pid;
	int32_t error;
	uint32_t dropped; /* reports that could not be sent */
	uint64_t ended;   /* streams ended (or refused) since it started */
	uint64_t lost;
	char path[PATH_MAX];
};

/* The monitor's side. */
struct append {
	pid_t pid;
	int sock;       /* -1: no appender */
	uint64_t sent;  /* streams handed over */
	uint64_t ended; /* streams it reported ended */
	size_t max;
	int drained;
};

/* --- the appender ----------------------------------------------------------- */

struct stream {
	int in; /* the pipe's read end; -1: a free slot */
	int out; /* the file */
	int32_t pid;
	int error;
	uint64_t lost;
	long long reported_ms;
	char *path;
};

static struct appender {
	int sock; /* -1 once the monitor is gone */
	int epoll;
	struct stream *streams;
	size_t max, live;
	uint64_t ended;
	uint32_t dropped;
	int owed; /* the count of ended streams is still to be sent */
	char *buf;
	size_t buf_size;
} ap;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void watch_sock(uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = 0};
	epoll_ctl(ap.epoll, EPOLL_CTL_MOD, ap.sock, &ev);
}

static void report(uint32_t kind, const struct stream *s, int error)
{
	if (ap.sock < 0)
		return;
	struct append_report r;
	memset(&r, 0, offsetof(struct append_report, path));
	r.kind = kind;
	r.error = error;
	r.dropped = ap.dropped;
	r.ended = ap.ended;
	r.path[0] = '\0';
	if (s) {
		r.pid = s->pid;
		r.lost = s->lost;
		if (s->path)
			memcpy(r.path, s->path, strlen(s->path) + 1);
	}
	size_t size = offsetof(struct append_report, path) + strlen(r.path) + 1;
	if (send(ap.sock, &r, size, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)size) {
		ap.dropped = 0;
		if (ap.owed) {
			ap.owed = 0;
			watch_sock(EPOLLIN);
		}
		return;
	}
	/* The monitor is busy: the count goes with the next report, sent when
	 * the socket is writable; what this one said is counted as lost. */
	if (kind != REPORT_COUNT)
		ap.dropped++;
	if (!ap.owed) {
		ap.owed = 1;
		watch_sock(EPOLLIN | EPOLLOUT);
	}
}

static void stream_end(struct stream *s)
{
	epoll_ctl(ap.epoll, EPOLL_CTL_DEL, s->in, NULL);
	close(s->in);
	close(s->out);
	s->in = s->out = -1;
	ap.live--;
	ap.ended++;
	report(REPORT_ENDED, s, 0);
	free(s->path);
	s->path = NULL;
}

/* Write `n` bytes to the end of the stream's file, in one write(2) unless
 * the file system takes less. What cannot be written is dropped and
 * reported, as a full disk drops a program's writes. */
static void put(struct stream *s, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(s->out, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		int e = w < 0 ? errno : EIO;
		s->lost += n;
		long long now = now_ms();
		if (e != s->error || now - s->reported_ms >= APPEND_REPORT_MS) {
			s->reported_ms = now;
			report(REPORT_FAILED, s, e);
		}
		s->error = e;
		return;
	}
	s->error = 0;
}

/* One read from a stream's pipe. Returns the bytes copied, 0 when there
 * was nothing to read, -1 when the stream ended. */
static ssize_t pump(struct stream *s)
{
	ssize_t n = read(s->in, ap.buf, ap.buf_size);
	if (n > 0) {
		put(s, ap.buf, (size_t)n);
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	stream_end(s); /* end of file: every copy of the write end is closed */
	return -1;
}

static void close_all(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* A stream from the monitor. */
static int take(const struct append_hello *h, size_t size, const int *fds, size_t nfds,
		int truncated)
{
	struct stream scratch = {.in = -1, .out = -1, .pid = 0, .path = NULL};
	if (size > offsetof(struct append_hello, path))
		scratch.pid = h->pid;
	int error = 0;
	if (truncated)
		error = EMFILE; /* the kernel could not give us every fd */
	else if (nfds != 2 || size <= offsetof(struct append_hello, path) ||
		 h->magic != APPEND_MAGIC ||
		 !memchr(h->path, '\0', size - offsetof(struct append_hello, path)))
		error = EPROTO;
	size_t i = 0;
	while (!error && i < ap.max && ap.streams[i].in >= 0)
		i++;
	if (!error && i == ap.max)
		error = EMFILE;
	char *path = error ? NULL : strdup(h->path);
	if (!error && !path)
		error = ENOMEM;
	if (!error) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i + 1};
		if (epoll_ctl(ap.epoll, EPOLL_CTL_ADD, fds[0], &ev) < 0)
			error = errno;
	}
	if (error) {
		free(path);
		close_all(fds, nfds);
		ap.ended++; /* the monitor counted it as open */
		if (size > offsetof(struct append_hello, path) &&
		    memchr(h->path, '\0', size - offsetof(struct append_hello, path)))
			scratch.path = (char *)(uintptr_t)h->path;
		report(REPORT_REFUSED, &scratch, error);
		return -1;
	}
	struct stream *s = &ap.streams[i];
	memset(s, 0, sizeof(*s));
	s->in = fds[0];
	s->out = fds[1];
	s->pid = h->pid;
	s->path = path;
	ap.live++;
	return 0;
}

/* The monitor is gone or leaving: write what every pipe holds now, tell it
 * so, and serve on without it. */
static void monitor_left(void)
{
	for (size_t i = 0; i < ap.max; i++)
		for (int n = 0; n < APPEND_DRAIN_READS && ap.streams[i].in >= 0; n++)
			if (pump(&ap.streams[i]) <= 0)
				break;
	struct append_report r;
	memset(&r, 0, sizeof(r));
	r.kind = REPORT_DRAINED;
	r.ended = ap.ended;
	r.dropped = ap.dropped;
	size_t size = offsetof(struct append_report, path) + 1;
	/* The monitor is reading; wait for room a little, never for long. */
	watch_sock(EPOLLOUT);
	for (int tries = 0; tries < 100; tries++) {
		ssize_t n = send(ap.sock, &r, size, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0 || errno != EAGAIN)
			break;
		struct epoll_event ev;
		epoll_wait(ap.epoll, &ev, 1, 10);
	}
	epoll_ctl(ap.epoll, EPOLL_CTL_DEL, ap.sock, NULL);
	close(ap.sock);
	ap.sock = -1;
}

static void sock_event(uint32_t events)
{
	if ((events & EPOLLOUT) && ap.owed)
		report(REPORT_COUNT, NULL, 0);
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		struct append_hello h;
		union {
			char b[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} control;
		struct iovec iov = {.iov_base = &h, .iov_len = sizeof(h)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = control.b,
				    .msg_controllen = sizeof(control.b)};
		ssize_t n = recvmsg(ap.sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		int fds[4];
		size_t nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t j = 0; j < k && nfds < 4; j++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + j * sizeof(int), sizeof(int));
		}
		if (n <= 0) {
			close_all(fds, nfds);
			monitor_left();
			return;
		}
		take(&h, (size_t)n, fds, nfds, (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0);
	}
}

/* Nothing but what the loop needs: the fds it holds are all it can use. */
static int sandbox(void)
{
	static const int allowed[] = {
		SCMP_SYS(read),		 SCMP_SYS(write),	SCMP_SYS(close),
		SCMP_SYS(recvmsg),	 SCMP_SYS(sendto),	SCMP_SYS(sendmsg),
		SCMP_SYS(epoll_wait),	 SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
		SCMP_SYS(clock_gettime), SCMP_SYS(brk),		SCMP_SYS(munmap),
		SCMP_SYS(madvise),	 SCMP_SYS(exit),	SCMP_SYS(exit_group),
		SCMP_SYS(rt_sigreturn),	 SCMP_SYS(restart_syscall),
		SCMP_SYS(sigaltstack), /* the sanitizers' runtime, on exit */
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* malloc needs memory; nothing may become executable. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* The largest pipe a process without CAP_SYS_RESOURCE can make. */
static size_t pipe_max_size(void)
{
	int fd = open("/proc/sys/fs/pipe-max-size", O_RDONLY | O_CLOEXEC);
	char text[32];
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return APPEND_DEFAULT_BUFFER;
	text[n] = '\0';
	unsigned long v = strtoul(text, NULL, 10);
	if (v < 65536)
		v = 65536;
	return v > APPEND_MAX_BUFFER ? APPEND_MAX_BUFFER : v;
}

/* Become `uid` and `gid` (nobody for uid 0) with no supplementary group,
 * no capability and no chroot, for good. */
static void drop_to(uid_t uid, gid_t gid)
{
	struct policy_security s;
	memset(&s, 0, sizeof(s));
	s.uid = uid;
	s.gid = gid;
	if (uid == 0) {
		struct passwd *pw = getpwnam("nobody");
		s.uid = pw ? pw->pw_uid : 65534;
		s.gid = pw ? pw->pw_gid : 65534;
	}
	s.resolved = true;
	struct diag d;
	diag_init(&d);
	if (drop_apply(&s, DROP_NO_NEW_PRIVS, &d) < 0) {
		for (size_t i = 0; i < d.count; i++)
			syslog(LOG_ERR, "appender: %s", d.entries[i].text);
		_exit(DROP_FATAL_STATUS);
	}
	diag_free(&d);
}

/* In the new process: keep `sock` (as fd 3) and nothing else of the
 * monitor, drop everything, serve. Never returns. */
static void __attribute__((noreturn)) appender_main(int sock, size_t max, uid_t uid, gid_t gid)
{
	prctl(PR_SET_NAME, "privman-append");
	if (sock != 3 && dup3(sock, 3, O_CLOEXEC) < 0)
		_exit(70);
	close_range(4, ~0U, 0);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(70);
	close(null);
	ap.sock = 3;

	/* Signals: none is delivered (only SIGKILL and SIGSTOP reach it); a
	 * file that is a pipe with no reader, or over RLIMIT_FSIZE, fails the
	 * write instead of killing the process. */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}

	ap.max = max;
	ap.buf_size = pipe_max_size();
	ap.buf = malloc(ap.buf_size);
	ap.streams = calloc(max, sizeof(*ap.streams));
	ap.epoll = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	if (!ap.buf || !ap.streams || ap.epoll < 0 ||
	    epoll_ctl(ap.epoll, EPOLL_CTL_ADD, ap.sock, &ev) < 0)
		_exit(70);
	for (size_t i = 0; i < max; i++)
		ap.streams[i].in = ap.streams[i].out = -1;
	drop_to(uid, gid);
	if (prctl(PR_SET_DUMPABLE, 0) < 0 || sandbox() < 0)
		_exit(DROP_FATAL_STATUS);

	struct epoll_event events[64];
	for (;;) {
		if (ap.sock < 0 && ap.live == 0)
			_exit(0);
		int n = epoll_wait(ap.epoll, events, 64, -1);
		if (n < 0 && errno != EINTR)
			_exit(71);
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			if (tag == 0) {
				if (ap.sock >= 0)
					sock_event(events[i].events);
			} else if (tag <= ap.max && ap.streams[tag - 1].in >= 0) {
				pump(&ap.streams[tag - 1]);
			}
		}
	}
}

/* --- the monitor's side ---------------------------------------------------- */

static struct append *state(struct monitor *m)
{
	if (!m->append) {
		m->append = calloc(1, sizeof(*m->append));
		if (m->append)
			m->append->sock = -1;
	}
	return m->append;
}

/* Each stream costs the appender two fds. */
static size_t stream_limit(void)
{
	struct rlimit r;
	size_t max = APPEND_MAX_STREAMS;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_max != RLIM_INFINITY &&
	    (r.rlim_max - 16) / 2 < max)
		max = r.rlim_max > 16 ? (size_t)(r.rlim_max - 16) / 2 : 0;
	return max;
}

static void gone(struct monitor *m, struct append *a)
{
	if (a->sent > a->ended)
		audit_event(&m->audit, LOG_ERR,
			    "open_ao: the appender (pid %d) ended; the %llu append-only streams "
			    "it served now fail with EPIPE",
			    (int)a->pid, (unsigned long long)(a->sent - a->ended));
	else
		audit_event(&m->audit, LOG_NOTICE, "open_ao: the appender (pid %d) ended",
			    (int)a->pid);
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, a->sock, NULL);
	close(a->sock);
	a->sock = -1;
	a->pid = 0;
	a->sent = a->ended = 0;
}

static int start(struct monitor *m, struct append *a)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	size_t max = stream_limit();
	/* The program's own user: a process of another user cannot signal
	 * it, and the program gains nothing it did not have (see the top). */
	const struct policy_security *scope = &m->policy->security;
	uid_t uid = scope->resolved ? scope->uid : 0;
	gid_t gid = scope->resolved ? scope->gid : 0;
	pid_t pid = fork();
	if (pid == 0)
		appender_main(sv[1], max, uid, gid);
	int e = errno;
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -e;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = APPEND_TAG};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, sv[0], &ev) < 0) {
		e = errno;
		close(sv[0]); /* it sees the end and leaves */
		return -e;
	}
	/* Room for many hand-overs while a slow disk holds the appender. */
	int room = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof(room));
	a->pid = pid;
	a->sock = sv[0];
	a->sent = a->ended = 0;
	a->max = max;
	a->drained = 0;
	audit_event(&m->audit, LOG_INFO, "open_ao: appender started as pid %d (at most %zu streams)",
		    (int)pid, max);
	return 0;
}

static int hand_over(struct append *a, int in, int file, const char *path, pid_t pid)
{
	struct append_hello h;
	h.magic = APPEND_MAGIC;
	h.pid = pid;
	size_t len = strlen(path);
	if (len >= sizeof(h.path))
		len = sizeof(h.path) - 1;
	memcpy(h.path, path, len);
	h.path[len] = '\0';
	union {
		char b[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = &h, .iov_len = offsetof(struct append_hello, path) + len + 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.b,
			    .msg_controllen = sizeof(control.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * 2);
	int fds[2] = {in, file};
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	return sendmsg(a->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int append_stream(struct monitor *m, int file, int flags, const char *path, pid_t pid,
		  const char **why)
{
	struct append *a = state(m);
	int rc = a ? 0 : -ENOMEM;
	int p[2] = {-1, -1};
	if (a && a->sock >= 0)
		append_event(m); /* streams that ended free their places */
	if (rc == 0 && a->sock < 0)
		rc = start(m, a);
	if (rc == 0 && a->sent - a->ended >= a->max) {
		close(file);
		*why = "too many append-only streams are open";
		return -EMFILE;
	}
	if (rc == 0 && pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		rc = -errno;
	if (rc == 0) {
		rc = hand_over(a, p[0], file, path, pid);
		if (rc == -EPIPE || rc == -ECONNRESET || rc == -ECONNREFUSED || rc == -ENOTCONN) {
			gone(m, a); /* it died: a new one, once */
			rc = start(m, a);
			if (rc == 0)
				rc = hand_over(a, p[0], file, path, pid);
		}
	}
	close(file);
	if (p[0] >= 0)
		close(p[0]);
	if (rc == 0) {
		a->sent++;
		/* The program's end: blocking unless it asked otherwise, and
		 * O_APPEND for what F_GETFL and fdopen(3) "a" look at. */
		if (fcntl(p[1], F_SETFL, O_APPEND | (flags & O_NONBLOCK)) == 0)
			return p[1];
		rc = -errno;
	}
	if (p[1] >= 0)
		close(p[1]);
	*why = rc == -EAGAIN ? "the appender does not keep up; try again"
			     : "no append-only stream could be made";
	return rc;
}

static void take_report(struct monitor *m, struct append *a, const struct append_report *r,
			size_t size)
{
	size_t head = offsetof(struct append_report, path);
	if (size <= head || !memchr(r->path, '\0', size - head)) {
		audit_event(&m->audit, LOG_ERR, "open_ao: the appender sent a malformed report");
		return;
	}
	if (r->ended > a->ended)
		a->ended = r->ended > a->sent ? a->sent : r->ended;
	if (r->dropped)
		audit_event(&m->audit, LOG_WARNING,
			    "open_ao: %u reports of the appender were lost", (unsigned)r->dropped);
	switch (r->kind) {
	case REPORT_FAILED:
		audit_refusal(&m->audit, "append", r->path, r->pid, r->error,
			      "the file refused the program's bytes; they are dropped");
		break;
	case REPORT_REFUSED:
		audit_refusal(&m->audit, "append", r->path, r->pid, r->error,
			      "the appender could not take the stream; its writes fail with "
			      "EPIPE");
		break;
	case REPORT_ENDED:
		if (r->lost) {
			char why[128];
			snprintf(why, sizeof(why), "%llu bytes written to the stream were dropped",
				 (unsigned long long)r->lost);
			audit_refusal(&m->audit, "append", r->path, r->pid, EIO, why);
		}
		break;
	case REPORT_DRAINED:
		a->drained = 1;
		break;
	default:
		break;
	}
}

/* Take every report waiting. Returns -1 when the appender is gone. */
static int read_reports(struct monitor *m, struct append *a)
{
	for (;;) {
		struct append_report r;
		ssize_t n = recv(a->sock, &r, sizeof(r), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		take_report(m, a, &r, (size_t)n);
	}
}

void append_event(struct monitor *m)
{
	struct append *a = m->append;
	if (a && a->sock >= 0 && read_reports(m, a) < 0)
		gone(m, a);
}

void append_forget(struct monitor *m)
{
	struct append *a = m->append;
	if (!a)
		return;
	/* Not in this monitor's epoll set: the parent's keeps its own. */
	if (a->sock >= 0)
		close(a->sock);
	free(a);
	m->append = NULL;
}

void append_finish(struct monitor *m)
{
	struct append *a = m->append;
	if (!a || a->sock < 0)
		return;
	shutdown(a->sock, SHUT_WR);
	long long deadline = now_ms() + APPEND_FINISH_MS;
	while (!a->drained) {
		long long left = deadline - now_ms();
		struct pollfd p = {.fd = a->sock, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			audit_event(&m->audit, LOG_WARNING,
				    "open_ao: the appender (pid %d) has not written everything after "
				    "%d ms; the monitor leaves, it goes on",
				    (int)a->pid, APPEND_FINISH_MS);
			break;
		}
		if (read_reports(m, a) < 0)
			break; /* it is gone, and so are we */
	}
	close(a->sock);
	a->sock = -1;
}
