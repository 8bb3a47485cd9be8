/* Processes, the program's side: priv_fork, priv_daemon, priv_wait4,
 * priv_execve, priv_rerunas, priv_respawn_as, priv_popen_as, priv_pclose.
 * The monitor's side, and what each request may do, is in proc.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "program/client.h"
#include "common/kill_one.h"
#include "privman.h"
#include "wire/wire.h"

/* A request being built: on the heap, as the argument lists may fill a
 * whole message. */
struct request {
	struct wire_writer w;
	unsigned char buf[WIRE_MAX_MESSAGE];
};

static struct request *request_new(uint32_t op)
{
	struct request *r = malloc(sizeof(*r));
	if (r)
		wire_writer_init(&r->w, r->buf, sizeof(r->buf), op, 0);
	return r;
}

/* A string travels with its NUL; NULL as the NUL alone. */
static void put_cstr(struct wire_writer *w, const char *s)
{
	if (!s)
		s = "";
	size_t n = strnlen(s, WIRE_MAX_PAYLOAD);
	if (n >= WIRE_MAX_PAYLOAD) {
		w->broken = true;
		return;
	}
	wire_put_bytes(w, s, n + 1);
}

#define MAX_LIST 512

static void put_list(struct wire_writer *w, char *const list[])
{
	int32_t n = 0;
	while (list && list[n]) {
		if (++n > MAX_LIST) {
			w->broken = true;
			return;
		}
	}
	wire_put_int(w, n);
	for (int32_t i = 0; i < n; i++)
		put_cstr(w, list[i]);
}

/* Send and wait; returns the status, or -1 with errno (E2BIG when the
 * request does not fit in one message). */
static int request_call_fds(struct request *r, const int *fds, int nfds, int *fd_out, void *fields,
			    size_t cap, size_t *size)
{
	size_t len = wire_writer_finish(&r->w);
	if (!len) {
		free(r);
		errno = E2BIG;
		return -1;
	}
	int rc = client_call_fields(r->buf, len, fds, nfds, fd_out, fields, cap, size);
	int e = errno;
	free(r);
	errno = e;
	return rc;
}

static int request_call(struct request *r, int *fd_out, void *fields, size_t cap, size_t *size)
{
	return request_call_fds(r, NULL, 0, fd_out, fields, cap, size);
}

/* --- fork and daemon ------------------------------------------------------------ */

static int hello(void)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_HELLO, 0);
	size_t size = wire_writer_finish(&w);
	return client_call(msg, size, NULL, 0, NULL);
}

/* The monitor gives a socket for the child, which the child's first message
 * then proves to be its own: the kernel attaches its credentials. */
pid_t priv_fork(void)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_FORK, 0);
	size_t size = wire_writer_finish(&w);
	int sock = -1;
	if (client_call(msg, size, NULL, 0, &sock) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sock);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		/* The parent's channel was left behind by the fork handler. If the
		 * monitor refuses the hello, every later call fails with EPIPE. */
		client_attach(sock);
		int e = errno;
		hello();
		errno = e;
		return 0;
	}
	close(sock);
	return pid;
}

/* daemon(3) for both halves: the monitor detaches first (its first
 * process exits), then this process forks, with priv_fork so that the child
 * keeps the monitor, waits until the monitor knows the child, and exits. */
int priv_daemon(int nochdir, int noclose)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_DAEMON, 0);
	wire_put_int(&w, nochdir);
	wire_put_int(&w, noclose);
	size_t size = wire_writer_finish(&w);
	if (client_call(msg, size, NULL, 0, NULL) < 0)
		return -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = priv_fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid > 0) {
		char c;
		close(p[1]);
		/* The child writes once its hello was answered. */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	if (write(p[1], "", 1) < 0) {
		/* the parent is gone already: nothing waits */
	}
	close(p[1]);
	if (setsid() < 0)
		return -1;
	if (!nochdir && chdir("/") < 0)
		return -1;
	if (!noclose) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			return -1;
		if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(null, STDERR_FILENO) < 0) {
			close(null);
			return -1;
		}
		close(null);
	}
	return 0;
}

/* --- wait4 ------------------------------------------------------------------------ */

pid_t priv_wait4(pid_t pid, int *status, int options, struct rusage *rusage)
{
	unsigned char msg[64], fields[192];
	struct wire_writer w;
	size_t size = 0;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_WAIT, 0);
	wire_put_int(&w, (int32_t)pid);
	wire_put_int(&w, options);
	size_t len = wire_writer_finish(&w);
	int rc;
	do
		rc = client_call_fields(msg, len, NULL, 0, NULL, fields, sizeof(fields), &size);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -1;
	struct wire_reader r = {.p = fields, .left = size, .broken = false};
	struct rusage usage;
	int32_t wstatus = wire_get_int(&r);
	if (wire_get_bytes(&r, &usage, sizeof(usage)) != sizeof(usage) || !wire_reader_done(&r)) {
		errno = EPROTO;
		return -1;
	}
	if (rc > 0) {
		if (status)
			*status = wstatus;
		if (rusage)
			*rusage = usage;
	}
	return rc;
}

/* --- running as another user ----------------------------------------------------- */

static int rerun(uint32_t op, void (*fnptr)(char *const *), char *const arg[], const char *user,
		 const char *chroot, int flags)
{
	struct request *r = request_new(op);
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	/* The function's address is the same in the new process: the monitor
	 * that forks it is a fork of this program. */
	uint64_t address = (uint64_t)(uintptr_t)fnptr;
	wire_put_bytes(&r->w, &address, sizeof(address));
	wire_put_int(&r->w, flags);
	put_cstr(&r->w, user);
	put_cstr(&r->w, chroot);
	put_list(&r->w, arg);
	return request_call(r, NULL, NULL, 0, NULL);
}

int priv_rerunas(void (*fnptr)(char *const *), char *const arg[], const char *user,
		 const char *chroot, int flags)
{
	if (flags & ~PRIV_RR_OLD_SLAVE_MONITORED) {
		errno = EINVAL;
		return -1;
	}
	return rerun(WIRE_OP_RERUN, fnptr, arg, user, chroot, flags);
}

int priv_respawn_as(void (*fnptr)(char *const *), char *const arg[], const char *user,
		    const char *chroot)
{
	return rerun(WIRE_OP_RESPAWN, fnptr, arg, user, chroot, 0);
}

static struct request *execve_request(uint32_t op, const char *program, char *const argv[],
				      char *const envp[], const char *user, const char *chroot)
{
	struct request *r = request_new(op);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	put_cstr(&r->w, program);
	put_cstr(&r->w, user);
	put_cstr(&r->w, chroot);
	put_list(&r->w, argv);
	put_list(&r->w, envp);
	return r;
}

/* Today's priv_execve of this library: the program runs beside the caller,
 * which gets its pid. */
pid_t priv_execve_spawn(const char *program, char *const argv[], char *const envp[],
			const char *user, const char *chroot)
{
	if (!program) {
		errno = EFAULT;
		return -1;
	}
	struct request *r = execve_request(WIRE_OP_EXECVE, program, argv, envp, user, chroot);
	if (!r)
		return -1;
	return request_call(r, NULL, NULL, 0, NULL);
}

/* --- priv_execve: the program takes the caller's place ----------------------------
 *
 * Only the monitor can start a program as another user, so the new program
 * is its child, and the caller stays behind as a stand-in that keeps its
 * pid: it stops every other thread, closes every fd, opens the gate the
 * program waits behind, and waits on a link to the monitor for the
 * program's wait status, then leaves with exactly that status (the same
 * exit code, or death by the same signal). Whoever waits
 * for the caller (the monitor, when it is the first program process; the
 * parent of a priv_fork child) sees the program's end, and only after every
 * byte the program wrote. The signals a process sends to the caller are
 * passed on to the program through the link. The man page says why. */

static int exec_link = -1;
static int exec_stopped; /* other threads that reached exec_stop_here */

static const int exec_forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM};
/* Left at their default action: job control, and faults (which would be
 * this code's own). Every other signal is ignored while the caller waits. */
static const int exec_default[] = {SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT, SIGCHLD, SIGWINCH, SIGURG,
				   SIGSEGV, SIGBUS, SIGILL,  SIGFPE,  SIGTRAP,  SIGSYS, SIGABRT};

static bool in_list(int sig, const int *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == sig)
			return true;
	return false;
}

/* A signal a process sent to the caller is the program's now. One from the
 * terminal reached the program already (same process group); SIGALRM comes
 * from the caller's own timer, which execve(2) would have kept. */
static void exec_forward(int sig, siginfo_t *si, void *unused)
{
	(void)unused;
	if (si && si->si_code == SI_KERNEL && sig != SIGALRM)
		return;
	int e = errno;
	int32_t s = sig;
	(void)send(exec_link, &s, sizeof(s), MSG_DONTWAIT | MSG_NOSIGNAL);
	errno = e;
}

/* The kernel's sigaction, for the signals glibc keeps for itself. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};
#define KERNEL_SA_RESTORER 0x04000000UL

static int kernel_sigaction(int sig, void (*handler)(int), uint64_t mask)
{
	struct kernel_sigaction ka = {.handler = handler, .mask = mask};
#if defined(__x86_64__) || defined(__aarch64__)
	/* x86-64 needs a restorer to deliver a signal to a handler; the only
	 * handler here never returns, so it is never called. */
	static void (*const never)(void) = abort;
	if (handler != SIG_DFL && handler != SIG_IGN) {
		ka.flags = KERNEL_SA_RESTORER;
		ka.restorer = never;
	}
	return (int)syscall(SYS_rt_sigaction, sig, &ka, NULL, sizeof(ka.mask));
#else
	(void)ka;
	errno = ENOSYS;
	return -1;
#endif
}

static int kernel_sigmask(uint64_t mask)
{
	return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof(mask));
}

static uint64_t sigbit(int sig)
{
	return UINT64_C(1) << (sig - 1);
}

/* glibc's SIGCANCEL (32): pthread_sigmask and sigprocmask never block it, so
 * every thread of the program can be reached with it. */
#define EXEC_STOP_SIGNAL 32
#define EXEC_MAX_THREADS 4096

static void exec_stop_here(int sig)
{
	(void)sig;
	__atomic_add_fetch(&exec_stopped, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause(); /* every signal is blocked here: for good */
}

/* Until `n` threads have stopped, for at most `ms` milliseconds. */
static bool exec_wait_stopped(int n, int ms)
{
	struct timespec tick = {0, 1000000};
	for (int i = 0; i < ms; i++) {
		if (__atomic_load_n(&exec_stopped, __ATOMIC_SEQ_CST) >= n)
			return true;
		nanosleep(&tick, NULL);
	}
	return __atomic_load_n(&exec_stopped, __ATOMIC_SEQ_CST) >= n;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Send the stop signal to every thread listed in /proc/self/task but this
 * one, once each; returns how many were sent, or -1 without /proc. No
 * malloc or lock: a stopped thread may hold one. */
static int exec_signal_tasks(void)
{
	int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -1;
	static pid_t done[EXEC_MAX_THREADS];
	size_t ndone = 0;
	int sent = 0;
	pid_t self = getpid(), me = gettid();
	/* Another pass as long as one finds a thread started meanwhile. */
	for (int pass = 0, fresh = 1; fresh && pass < 16; pass++) {
		fresh = 0;
		lseek(dir, 0, SEEK_SET);
		char buf[4096];
		long n;
		while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
			for (long off = 0; off < n;) {
				struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
				off += d->d_reclen;
				char *end;
				long tid = strtol(d->d_name, &end, 10);
				if (*end || tid <= 0 || tid == me)
					continue;
				bool seen = false;
				for (size_t i = 0; i < ndone && !seen; i++)
					seen = done[i] == tid;
				if (seen || ndone == EXEC_MAX_THREADS)
					continue;
				done[ndone++] = (pid_t)tid;
				if (syscall(SYS_tgkill, self, (pid_t)tid, EXEC_STOP_SIGNAL) == 0) {
					sent++;
					fresh = 1;
				}
			}
		}
	}
	close(dir);
	return sent;
}

/* Like execve(2), which ends every other thread: each other thread is sent
 * to exec_stop_here, where it sleeps with every signal blocked until the
 * process leaves. This thread blocks every signal first. */
static void exec_stop_threads(void)
{
	if (kernel_sigaction(EXEC_STOP_SIGNAL, exec_stop_here, ~UINT64_C(0)) < 0)
		return;
	int sent = exec_signal_tasks();
	if (sent >= 0) {
		exec_wait_stopped(sent, 1000);
		return;
	}
	/* No /proc (a chroot): one signal to the process at a time, which a
	 * thread not stopped yet takes, until none does. */
	for (int i = 1; i <= EXEC_MAX_THREADS; i++) {
		kill_one(getpid(), EXEC_STOP_SIGNAL);
		if (!exec_wait_stopped(i, 50))
			break;
	}
}

static void exec_set_signals(void)
{
	for (int sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
			continue;
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sigfillset(&sa.sa_mask);
		if (in_list(sig, exec_forwarded, sizeof(exec_forwarded) / sizeof(int))) {
			sa.sa_sigaction = exec_forward;
			sa.sa_flags = SA_SIGINFO | SA_RESTART;
		} else {
			sa.sa_handler = in_list(sig, exec_default, sizeof(exec_default) / sizeof(int))
						? SIG_DFL
						: SIG_IGN;
		}
		sigaction(sig, &sa, NULL);
	}
}

/* Leave as the program left. */
static void __attribute__((noreturn)) exec_leave(int status)
{
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		/* The program dumped any core worth having. */
		struct rlimit none = {0, 0};
		setrlimit(RLIMIT_CORE, &none);
		if (sig > 0 && sig < 65) {
			/* (SIGKILL has no action to reset; it kills anyway.) */
			(void)kernel_sigaction(sig, SIG_DFL, 0);
			if (kernel_sigmask(~sigbit(sig)) == 0)
				syscall(SYS_tgkill, getpid(), gettid(), sig);
		}
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

/* The caller's stdin, stdout and stderr as execve(2) would pass them (open
 * and not close-on-exec), and the gate the program waits on, queued on the
 * link for the monitor: an INT mask and one fd per bit (proc.c). */
static int send_stdio(int link, int gate)
{
	int32_t bits = 1 << 3;
	int fds[4], n = 0;
	for (int i = 0; i < 3; i++) {
		int fl = fcntl(i, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC)) {
			bits |= 1 << i;
			fds[n++] = i;
		}
	}
	fds[n++] = gate;
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = &bits, .iov_len = sizeof(bits)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
	return sendmsg(link, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(bits) ? 0 : -1;
}

int priv_execve(const char *program, char *const argv[], char *const envp[], const char *user,
		const char *chroot)
{
	if (!program) {
		errno = EFAULT;
		return -1;
	}
	struct request *r = execve_request(WIRE_OP_EXEC_REPLACE, program, argv, envp, user, chroot);
	if (!r)
		return -1;
	int link[2], gate[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link) < 0) {
		int e = errno;
		free(r);
		errno = e;
		return -1;
	}
	if (pipe2(gate, O_CLOEXEC) < 0) {
		int e = errno;
		close(link[0]);
		close(link[1]);
		free(r);
		errno = e;
		return -1;
	}
	/* A signal that comes while the monitor starts the program is held,
	 * then passed on to it, or delivered here if the call fails. */
	sigset_t forwarded, old;
	sigemptyset(&forwarded);
	for (size_t i = 0; i < sizeof(exec_forwarded) / sizeof(int); i++)
		sigaddset(&forwarded, exec_forwarded[i]);
	pthread_sigmask(SIG_BLOCK, &forwarded, &old);
	/* What the caller wrote comes before what the program writes
	 * (execve(2) would lose what stdio still holds). */
	fflush(NULL);
	int rc = send_stdio(link[0], gate[0]);
	if (rc == 0)
		rc = request_call_fds(r, &link[1], 1, NULL, NULL, 0, NULL) < 0 ? -1 : 0;
	else
		free(r);
	int e = errno;
	close(link[1]);
	close(gate[0]);
	if (rc < 0) {
		close(link[0]);
		close(gate[1]);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = e;
		return -1;
	}

	/* The program waits behind the gate: from here on, nothing of the
	 * caller's runs. Of two threads whose calls succeed at once, one takes
	 * the process; the other lets its program die (the monitor sees its
	 * link close) and stops like any other thread. */
	kernel_sigmask(~UINT64_C(0));
	static int taken;
	if (__atomic_exchange_n(&taken, 1, __ATOMIC_SEQ_CST)) {
		close(link[0]);
		close(gate[1]);
		exec_stop_here(0);
	}
	exec_stop_threads();
	exec_link = link[0];
	exec_set_signals();
	/* Every fd but the link and the gate, which then lets the program start. */
	int lo = link[0] < gate[1] ? link[0] : gate[1], hi = link[0] ^ gate[1] ^ lo;
	if (lo > 0)
		syscall(SYS_close_range, 0, lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0);
	syscall(SYS_close_range, hi + 1, ~0U, 0);
	while (write(gate[1], "", 1) < 0 && errno == EINTR)
		;
	close(gate[1]);
	uint64_t open_signals = sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU) | sigbit(SIGCONT);
	for (size_t i = 0; i < sizeof(exec_forwarded) / sizeof(int); i++)
		open_signals |= sigbit(exec_forwarded[i]);
	kernel_sigmask(~open_signals);
	int32_t status;
	ssize_t n;
	do
		n = recv(exec_link, &status, sizeof(status), 0);
	while (n < 0 && errno == EINTR);
	/* No status: the monitor is gone, and the program with it. */
	exec_leave(n == (ssize_t)sizeof(status) ? status : 127 << 8);
}

/* --- popen ------------------------------------------------------------------------ */

/* The streams priv_popen_as opened, with the pid priv_pclose waits for. */
struct popened {
	FILE *stream;
	pid_t pid;
	struct popened *next;
};
static struct popened *popened;
static pthread_mutex_t popened_lock = PTHREAD_MUTEX_INITIALIZER;

FILE *priv_popen_as(const char *command, const char *type, const char *user)
{
	if (!command || !type || !user) {
		errno = EINVAL;
		return NULL;
	}
	int cloexec = 0;
	if ((type[0] != 'r' && type[0] != 'w') ||
	    (type[1] && !(type[1] == 'e' && type[2] == '\0'))) {
		errno = EINVAL;
		return NULL;
	}
	cloexec = type[1] == 'e';
	struct popened *entry = malloc(sizeof(*entry));
	struct request *r = request_new(WIRE_OP_POPEN);
	if (!entry || !r) {
		free(entry);
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	put_cstr(&r->w, command);
	wire_put_int(&r->w, type[0] == 'r' ? 0 : 1);
	put_cstr(&r->w, user);
	int fd = -1;
	int pid = request_call(r, &fd, NULL, 0, NULL);
	if (pid < 0) {
		free(entry);
		return NULL;
	}
	if (!cloexec)
		fcntl(fd, F_SETFD, 0);
	FILE *f = fdopen(fd, type[0] == 'r' ? "r" : "w");
	if (!f) {
		int e = errno;
		close(fd);
		free(entry);
		priv_wait4(pid, NULL, 0, NULL);
		errno = e;
		return NULL;
	}
	entry->stream = f;
	entry->pid = pid;
	pthread_mutex_lock(&popened_lock);
	entry->next = popened;
	popened = entry;
	pthread_mutex_unlock(&popened_lock);
	return f;
}

int priv_pclose(FILE *stream)
{
	struct popened *found = NULL;
	pthread_mutex_lock(&popened_lock);
	for (struct popened **p = &popened; *p; p = &(*p)->next) {
		if ((*p)->stream == stream) {
			found = *p;
			*p = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&popened_lock);
	if (!found) {
		errno = ECHILD;
		return -1;
	}
	pid_t pid = found->pid;
	free(found);
	fclose(stream);
	int status;
	if (priv_wait4(pid, &status, 0, NULL) < 0)
		return -1;
	return status;
}
