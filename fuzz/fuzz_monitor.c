/* libFuzzer harness for the monitor's handlers after decoding: open, unlink,
 * bind, exit, channel, pam_start, custom and the process requests of proc.c
 * (priv_execve's exec-replace included), and the events that follow, each
 * through monitor_handle_message() with program-chosen paths, flags, modes,
 * addresses, users and lists, against a scratch tree that the input also
 * shapes (files, directories, symlinks, FIFOs, sockets, devices, hard links,
 * renames). Resolution, decision, the act and the audit all run for real.
 *
 * Safety, since the harness runs as root: when it can, it moves into mount
 * and network namespaces of its own in which every mount but the scratch
 * directory is read-only and only a loopback interface exists, so a monitor
 * bug that escapes the scratch tree meets EROFS, and a bind never takes a
 * port from this machine. fork() and kill() are replaced here: fork
 * returns made-up pids (above any pid the kernel hands out) so that no
 * process is ever started, and kill (and pidfd_send_signal) refuses
 * anything but those pids (a pid <= 0 or a real process is reported as a
 * bug). openat() is wrapped so
 * that the input can make a FIFO appear under the name the monitor is
 * about to create, as a racing program would.
 *
 * The processes fork() pretends to start keep what a real child would
 * inherit: the child's ends of the socketpairs the monitor made for it just
 * before the fork (a PAM worker's channel and report socket, the
 * appender's socket, a custom function's answer socket). pidfd_open,
 * pidfd_send_signal and waitid(P_PIDFD) know these pids (an eventfd plays
 * the pidfd: readable once the process ended). The input then plays each
 * child: the appender takes its streams (each checked: a pipe's read end
 * and a granted file opened O_WRONLY|O_APPEND) and sends reports, a custom
 * function answers (well-formed, or not), any child says nonsense, ends or
 * is killed, a custom function's time runs out; the monitor sees all of
 * it through its own event handlers. No code of a child ever runs. At the
 * end of each input every child ends, the monitor's handlers take that in,
 * and then no fd may be left open.
 *
 * One real process is started, once: the linker, which only makes
 * socketpairs and hands both ends over, so that priv_execve's
 * exec-replace request can bring a link its caller made (the monitor
 * checks the link's peer credentials); those requests come on channels of
 * the linker's pid, with the caller's stdio and gate queued on the link,
 * and the caller later passes signals on or ends.
 *
 * PMFUZZ_TRACE=1 prints each request, reply and child's act on stderr.
 *
 * Properties checked: no crash or leak (ASan, UBSan); every reply is a
 * well-formed message with the fds its operation promises; no fd leaks
 * across inputs; the monitor never blocks: each request runs under a 2 s
 * watchdog, and a request that needs it is reported (abort) as a bug. With
 * PMFUZZ_BLOCK_OK=1 in the environment a block is only counted, so that
 * fuzzing can go on while a known one is being fixed.
 *
 * Input: a series of records, each starting with a byte that picks what to
 * do (a request, a change to the tree, a fault to inject); see one_record().
 * Paths come from a vocabulary or literally; a leading '@' stands for the
 * scratch tree. */
#include <errno.h>
#include <dlfcn.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* proc.c is included for its process table, which the harness empties
 * after each input (the monitor itself never frees it). */
#include "../src/monitor/proc.c"

#include "monitor/append.h"
#include "monitor/custom.h"
#include "monitor/monitor.h"
#include "monitor/pam_monitor.h"
#include "scope/resolve_scope.h"
#include "wire/pam_wire.h"
#include "privman.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* --- no process is ever started or signalled ------------------------------ */

static void die(const char *what)
{
	perror(what);
	abort();
}

/* Above PID_MAX_LIMIT (4194304): never a real process. */
#define FAKE_PID_BASE 5000000
static pid_t next_fake = FAKE_PID_BASE;
static bool fork_fails; /* priv_daemon: the parent would _exit */

int kill(pid_t pid, int sig)
{
	if (pid < FAKE_PID_BASE) {
		fprintf(stderr, "fuzz_monitor: the monitor sent signal %d to pid %d, a process "
				"it did not start%s\n",
			sig, (int)pid, pid <= 0 ? " (a process group: every process in it)" : "");
		abort();
	}
	return 0;
}


/* --- the children fork() pretends to start ------------------------------------ */

#define MAX_PAIRS 4
#define MAX_CHILDREN 64

struct fake_child {
	pid_t pid;           /* 0: a free slot */
	uint32_t op;         /* the request that started it */
	uint32_t serial;     /* a custom function's: the id its answer carries */
	int ends[MAX_PAIRS]; /* the child's ends of the socketpairs made for it */
	int nends;
	int event;           /* an eventfd that plays its pidfd, or -1 */
	int given;           /* the fd handed out as its pidfd (a dup of event), or -1 */
	bool ended;
	int status;          /* >= 0: exit status, < 0: killed by that signal */
};

static struct fake_child children[MAX_CHILDREN];
static int fresh_pairs[MAX_PAIRS]; /* peers of the socketpairs made since the last fork */
static int fresh_count;
static uint32_t current_op;    /* the request being served */
static uint32_t custom_serial; /* mirrors custom.c's serial: one per function started */
static uint32_t pam_serial;    /* mirrors pam_monitor.c's ids: one per worker, per input */

static long (*real_syscall)(long, ...);

static long call_real(long n, long a, long b, long c, long d, long e, long f)
{
	if (!real_syscall)
		real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real_syscall(n, a, b, c, d, e, f);
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
	if (call_real(SYS_socketpair, domain, type, protocol, (long)sv, 0, 0) < 0)
		return -1;
	if (fresh_count < MAX_PAIRS)
		fresh_pairs[fresh_count++] = sv[1];
	return 0;
}

/* The child `pid`, or a free slot for 0. */
static struct fake_child *child_of(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

/* The child whose pidfd `fd` is (the same open file as its eventfd). */
static struct fake_child *child_by_pidfd(int fd)
{
	pid_t self = getpid();
	for (int i = 0; i < MAX_CHILDREN; i++) {
		struct fake_child *k = &children[i];
		if (k->pid && k->given == fd && k->event >= 0 &&
		    call_real(SYS_kcmp, self, self, 0 /* KCMP_FILE */, fd, k->event, 0) == 0)
			return k;
	}
	return NULL;
}

static void child_end(struct fake_child *k, int status)
{
	for (int i = 0; i < k->nends; i++)
		close(k->ends[i]);
	k->nends = 0;
	if (!k->ended) {
		k->ended = true;
		k->status = status;
		uint64_t one = 1;
		if (k->event >= 0 && write(k->event, &one, sizeof(one)) != sizeof(one))
			die("fuzz_monitor: eventfd");
	}
}

static void child_free(struct fake_child *k)
{
	child_end(k, -SIGKILL);
	if (k->event >= 0)
		close(k->event);
	memset(k, 0, sizeof(*k));
}

pid_t fork(void)
{
	if (fork_fails) {
		errno = EAGAIN;
		return -1;
	}
	if (next_fake >= FAKE_PID_BASE + 1000000)
		next_fake = FAKE_PID_BASE;
	pid_t pid = next_fake++;
	if (current_op == WIRE_OP_CUSTOM)
		custom_serial++;
	if (current_op == WIRE_OP_PAM_START)
		pam_serial++;
	struct fake_child *k = child_of(0);
	if (k) {
		memset(k, 0, sizeof(*k));
		k->pid = pid;
		k->op = current_op;
		k->serial = current_op == WIRE_OP_PAM_START ? pam_serial : custom_serial;
		k->event = k->given = -1;
		/* What it inherits: the ends the monitor closes after the fork. */
		for (int i = 0; i < fresh_count; i++) {
			int d = fcntl(fresh_pairs[i], F_DUPFD_CLOEXEC, 0);
			if (d >= 0)
				k->ends[k->nends++] = d;
		}
	}
	fresh_count = 0;
	return pid;
}

static long fake_pidfd_open(pid_t pid)
{
	struct fake_child *k = child_of(pid);
	if (!k || k->event >= 0) {
		errno = ESRCH;
		return -1;
	}
	k->event = eventfd(k->ended, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->event < 0)
		return -1;
	k->given = fcntl(k->event, F_DUPFD_CLOEXEC, 0);
	return k->given;
}

/* Six arguments are read whatever the call takes, as glibc's own
 * syscall() does: not an error, so not checked. */
__attribute__((no_sanitize("address", "undefined"))) long syscall(long n, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_pidfd_open && a[0] >= FAKE_PID_BASE)
		return fake_pidfd_open((pid_t)a[0]);
	if (n == SYS_pidfd_send_signal) {
		struct fake_child *k = child_by_pidfd((int)a[0]);
		if (!k) {
			fprintf(stderr, "fuzz_monitor: the monitor sent signal %ld through pidfd %ld, "
					"to a process it did not start\n",
				a[1], a[0]);
			abort();
		}
		if (a[1] == SIGKILL || a[1] == SIGTERM)
			child_end(k, -(int)a[1]);
		return 0;
	}
	return call_real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	struct fake_child *k = type == (idtype_t)3 /* P_PIDFD */ ? child_by_pidfd((int)id) : NULL;
	if (!k)
		return (int)call_real(SYS_waitid, type, id, (long)info, options, 0, 0);
	memset(info, 0, sizeof(*info));
	if (k->ended) {
		info->si_signo = SIGCHLD;
		info->si_pid = k->pid;
		info->si_code = k->status >= 0 ? CLD_EXITED : CLD_KILLED;
		info->si_status = k->status >= 0 ? k->status : -k->status;
	}
	return 0;
}

/* sendmsg and recvmsg with up to 4 fds (the wire carries one at most). */
static int send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds, int flags)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		mh.msg_control = control.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(sock, &mh, flags | MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static ssize_t recv_fds(int sock, void *buf, size_t len, int *fds, int *nfds, int flags)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
			    .msg_controllen = sizeof(control.b)};
	ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	*nfds = 0;
	for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t j = 0; j < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); j++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
				if (*nfds < 8)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
	return n;
}

/* --- a process of the program that makes priv_execve links ----------------------- */

/* The link of priv_execve must be a socketpair its caller made (its peer's
 * credentials are the caller's): a real process, forked once, makes them
 * on demand and hands both ends over; its requests come on channels of its
 * pid. It runs nothing else, and dies with the harness. */
static pid_t linker = -1;
static int linker_sock = -1;
#define MAX_LINKS 8
static int links[MAX_LINKS]; /* the callers' ends of the links the monitor holds */

static void linker_start(void)
{
	int sv[2];
	if (call_real(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, (long)sv, 0, 0) < 0)
		die("fuzz_monitor: socketpair");
	pid_t pid = (pid_t)call_real(SYS_fork, 0, 0, 0, 0, 0, 0);
	if (pid < 0)
		die("fuzz_monitor: fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		for (;;) {
			char c;
			int pair[2];
			if (read(sv[1], &c, 1) != 1)
				_exit(0);
			if (call_real(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				      (long)pair, 0, 0) < 0)
				_exit(1);
			if (send_fds(sv[1], "l", 1, pair, 2, 0) < 0)
				_exit(1);
			close(pair[0]);
			close(pair[1]);
		}
	}
	close(sv[1]);
	linker = pid;
	linker_sock = sv[0];
	for (int i = 0; i < MAX_LINKS; i++)
		links[i] = -1;
}

static void linker_stop(void)
{
	if (linker <= 0)
		return;
	close(linker_sock);
	call_real(SYS_kill, linker, SIGKILL, 0, 0, 0, 0);
	waitpid(linker, NULL, 0);
	linker = -1;
}

/* A link made by the linker: *link for the request, *peer for the caller. */
static bool linker_pair(int *link, int *peer)
{
	char buf[16];
	int fds[8], nfds = 0;
	if (linker <= 0 || write(linker_sock, "m", 1) != 1 ||
	    recv_fds(linker_sock, buf, sizeof(buf), fds, &nfds, 0) != 1 || nfds != 2) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		return false;
	}
	*link = fds[0];
	*peer = fds[1];
	return true;
}

/* --- a FIFO swapped in while the monitor creates a file ----------------------- */

static bool swap_fifo_armed;

/* The monitor creates with openat(dir, name, O_CREAT...) after deciding on
 * the parent: when armed, a FIFO appears under that name just before, as a
 * racing program would make it. */
int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (swap_fifo_armed && (flags & O_CREAT)) {
		swap_fifo_armed = false;
		mknodat(dirfd, path, S_IFIFO | 0666, 0);
	}
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* --- the watchdog: the monitor must never block ---------------------------------- */

static timer_t watchdog;
static volatile sig_atomic_t watchdog_fired;
static unsigned long blocks;
static bool block_ok;
static bool trace; /* PMFUZZ_TRACE: each request on stderr */

/* From the sanitizer runtime, when there is one (not in a coverage build). */
void __sanitizer_print_stack_trace(void) __attribute__((weak));

static void on_watchdog(int sig)
{
	static int shown;
	watchdog_fired = 1;
	/* Where the monitor blocked (before the call returns EINTR). */
	if (shown++ < 3) {
		static const char msg[] = "fuzz_monitor: the monitor is blocked here:\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		if (__sanitizer_print_stack_trace)
			__sanitizer_print_stack_trace();
	}
}

static void watchdog_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_watchdog; /* no SA_RESTART: a blocked call returns EINTR */
	sigaction(SIGRTMIN + 3, &sa, NULL);
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN + 3;
	ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &ev, &watchdog) < 0) {
		perror("fuzz_monitor: timer_create");
		abort();
	}
}

static void watchdog_arm(bool on)
{
	struct itimerspec t;
	memset(&t, 0, sizeof(t));
	if (on) {
		watchdog_fired = 0;
		t.it_value.tv_sec = 2;
	}
	timer_settime(watchdog, 0, &t, NULL);
}

/* --- the scratch directory ---------------------------------------------------- */

static char scratch[64]; /* /tmp/pmfuzz.mon.XXXXXX */
static char tree[128];   /* scratch/tree: the program's working directory */
static char logpath[128];
static int log_sink = -1;


/* Every mount read-only but the scratch directory, in mount and network
 * namespaces of our own. Returns false when that cannot be done (not root). */
#define MAX_WRITABLE 16
static char *writable[MAX_WRITABLE]; /* libFuzzer's corpus and artifact folders */
static char start_cwd[PATH_MAX];
static size_t writable_count;

static bool sandbox(void)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0)
		return false;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("fuzz_monitor: mount private");
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		die("fuzz_monitor: mountinfo");
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		char point[PATH_MAX];
		if (sscanf(line, "%*d %*d %*s %*s %4095s", point) != 1)
			continue;
		/* Octal escapes (\040) in mount points: skip those mounts. */
		if (strchr(point, '\\'))
			continue;
		mount(NULL, point, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
	}
	fclose(f);
	for (size_t i = 0; i < writable_count; i++) {
		if (mount(writable[i], writable[i], NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, writable[i], NULL, MS_REMOUNT | MS_BIND, NULL) < 0)
			fprintf(stderr, "fuzz_monitor: %s stays read-only: %m\n", writable[i]);
	}
	/* Our working directory is still the read-only mount under the
	 * writable one: enter that one (libFuzzer writes relative paths). */
	if (start_cwd[0] && chdir(start_cwd) < 0)
		die("fuzz_monitor: chdir");
	/* The scratch directory in memory: a disk's metadata updates would
	 * cost more than the monitor's work. */
	if (mount("pmfuzz", scratch, "tmpfs", MS_NOSUID, "size=64m,mode=0755") < 0)
		die("fuzz_monitor: tmpfs");
	/* The loopback interface up, for binds on 127.0.0.1 and ::1. */
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("fuzz_monitor: lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("fuzz_monitor: lo up");
	close(s);
	return true;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (ftw->level == 0)
		return 0;
	/* chmod(2) follows a symlink: one to /proc/self/fd/0 reaches a file
	 * opened before the sandbox, through a mount that is not read-only. */
	if (type != FTW_SL && type != FTW_SLN)
		chmod(path, 0700);
	if (remove(path) < 0 && errno != ENOENT) {
		perror(path);
		abort();
	}
	return 0;
}

static void at(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", tree, rel);
}

/* The tree every input starts from. */
static void tree_reset(void)
{
	chmod(tree, 0755);
	nftw(tree, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	static const char *const dirs[] = {"ro", "ro/sub", "rw", "rw/dir", "ao", "un", "other"};
	static const char *const files[] = {"ro/f", "ro/sub/g", "rw/f", "log", "ao/a", "un/f",
					    "other/secret", "file-ro"};
	char p[PATH_MAX], q[PATH_MAX];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		at(p, sizeof(p), dirs[i]);
		mkdir(p, 0755);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		at(p, sizeof(p), files[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die(p);
		if (write(fd, "data\n", 5) != 5)
			die(p);
		close(fd);
	}
	static const char *const fifos[] = {"ro/fifo", "rw/fifo", "ao/fifo", "un/fifo"};
	for (size_t i = 0; i < sizeof(fifos) / sizeof(fifos[0]); i++) {
		at(p, sizeof(p), fifos[i]);
		mkfifo(p, 0666);
	}
	static const char *const links[][2] = {
		{"ro/link", "../rw/f"},       {"rw/up", ".."},          {"rw/etc", "/etc"},
		{"rw/loop", "loop"},          {"ao/tolog", "../log"},   {"un/link", "../other/secret"},
		{"rw/secret", "../other/secret"}, {"ro/dangling", "nowhere"}, {"rw/dirlink", "dir"},
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		at(p, sizeof(p), links[i][0]);
		symlink(links[i][1], p);
	}
	at(p, sizeof(p), "other/secret");
	at(q, sizeof(q), "rw/hardlink");
	link(p, q);
	at(p, sizeof(p), "rw/null");
	mknod(p, S_IFCHR | 0666, makedev(1, 3));
}

/* --- the program: a thread with a working directory and umask of its own --------- */

/* The monitor reads a program's working directory and umask from
 * /proc/PID: a thread that does not share them with the rest of the
 * fuzzer plays the program, so that the fuzzer's own working directory (where
 * libFuzzer writes crashes) never moves. */
static pid_t program_tid;
static int to_program[2], from_program[2];

static void *program_thread(void *arg)
{
	if (unshare(CLONE_FS) < 0)
		die("fuzz_monitor: unshare(CLONE_FS)");
	umask(022);
	program_tid = (pid_t)syscall(SYS_gettid);
	/* Signals (libFuzzer's alarm for -timeout) go to the other threads. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	char path[PATH_MAX];
	for (;;) {
		char ok = 1;
		if (write(from_program[1], &ok, 1) != 1)
			die("fuzz_monitor: program thread");
		ssize_t n;
		do
			n = read(to_program[0], path, sizeof(path) - 1);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			die("fuzz_monitor: program thread");
		path[n] = '\0';
		if (chdir(path) < 0 && chdir(tree) < 0)
			die("fuzz_monitor: chdir");
	}
	return NULL;
}

/* The program moves to `path` (or back to the tree when it cannot). */
static bool program_moved = true;

static void program_chdir(const char *path)
{
	char ok;
	program_moved = true;
	ssize_t n = write(to_program[1], path, strlen(path));
	if (n >= 0) {
		do
			n = read(from_program[0], &ok, 1);
		while (n < 0 && errno == EINTR);
	}
	if (n != 1)
		die("fuzz_monitor: program thread");
}

static void program_start(void)
{
	pthread_t t;
	char ok;
	if (pipe2(to_program, O_CLOEXEC) < 0 || pipe2(from_program, O_CLOEXEC) < 0 ||
	    pthread_create(&t, NULL, program_thread, NULL) != 0 ||
	    read(from_program[0], &ok, 1) != 1)
		die("fuzz_monitor: program thread");
	program_chdir(tree);
	program_moved = false;
}

/* --- the monitor ------------------------------------------------------------------ */

static struct monitor m;
static struct policy *policy;
#define MAX_PEERS 16
static int peers[MAX_PEERS]; /* the program's ends of the channels */
static int forked = -1;      /* the program's end of a priv_fork channel */

static void load_policy(void)
{
	char text[4096];
	bool root = geteuid() == 0;
	char run[512] = "";
	if (root) /* a chroot must be owned by root */
		snprintf(run, sizeof(run),
			 "run { program /bin/true user { bin } chroot \"%s/jail\" }\n"
			 "run { user { daemon } }\n",
			 scratch);
	snprintf(text, sizeof(text),
		 "open_ro { \"%s/ro/**\" \"%s/file-ro\" }\n"
		 "open_ao { \"%s/log\" \"%s/ao/*\" }\n"
		 "open_rw { \"%s/rw/**\" }\n"
		 "unlink { \"%s/rw/**\" \"%s/un/*\" }\n"
		 "bind { 127.0.0.1:* \"[::1]:*\" 8080 }\n"
		 "run_as { nobody }\n%s"
		 "allow_rerun true\nfork true\nauth true\nauth_allow_rerun true\n"
		 "custom { 0 2 }\n",
		 tree, tree, tree, tree, tree, tree, tree, run);
	struct diag d;
	diag_init(&d);
	policy = conf_load_buffer("fuzz_monitor.conf", text, strlen(text), &d);
	if (!policy || policy_validate(policy, &d) < 0) {
		for (size_t i = 0; i < d.count; i++)
			fprintf(stderr, "%s\n", d.entries[i].text);
		abort();
	}
	diag_free(&d);
}

/* The custom functions: never run (no child runs), so they must not be
 * reached in this process. */
static char *never_info(char *const *argv)
{
	fprintf(stderr, "fuzz_monitor: a custom function ran in the monitor\n");
	abort();
}

static int never_cap(char *const *argv)
{
	fprintf(stderr, "fuzz_monitor: a custom function ran in the monitor\n");
	abort();
}

static void register_functions(void)
{
	if (priv_register_info_fn(never_info) != 0 || priv_register_info_fn(never_info) != 1 ||
	    priv_register_cap_fn(never_cap) != 2)
		die("fuzz_monitor: priv_register_*_fn");
	custom_freeze();
}

static int remove_all(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void report_blocks(void)
{
	if (blocks)
		fprintf(stderr, "fuzz_monitor: the monitor blocked %lu times\n", blocks);
}

/* The folder holding the scratch directory, opened before the sandbox:
 * through it, the (empty) directory under our tmpfs is removed in the
 * namespace everyone else sees, where the mount is writable. */
static int scratch_parent = -1;
static bool sandboxed;

static void remove_scratch(void)
{
	if (!sandboxed)
		nftw(scratch, remove_all, 16, FTW_DEPTH | FTW_PHYS);
	const char *base = strrchr(scratch, '/');
	umount2(scratch, MNT_DETACH); /* a mount point here is busy there too */
	if (scratch_parent >= 0 && base)
		unlinkat(scratch_parent, base + 1, AT_REMOVEDIR);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char prefix[PATH_MAX];
	if (getcwd(start_cwd, sizeof(start_cwd)))
		writable[writable_count++] = start_cwd;
	/* libFuzzer's -merge writes its control file in $TMPDIR (/tmp stays
	 * read-only: give -merge a TMPDIR). */
	const char *tmp = getenv("TMPDIR");
	if (tmp && tmp[0] == '/')
		writable[writable_count++] = (char *)tmp;
	for (int i = 1; i < *argc && writable_count < MAX_WRITABLE - 1; i++) {
		struct stat st;
		const char *a = (*argv)[i];
		if (strncmp(a, "-artifact_prefix=", 17) == 0) {
			snprintf(prefix, sizeof(prefix), "%s", a + 17);
			char *slash = strrchr(prefix, '/');
			if (slash && slash != prefix) {
				*slash = '\0';
				writable[writable_count++] = prefix;
			}
		} else if (a[0] != '-' && stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
			writable[writable_count++] = realpath(a, NULL);
			if (!writable[writable_count - 1])
				writable_count--;
		}
	}
	snprintf(scratch, sizeof(scratch), "%s/pmfuzz.mon.XXXXXX",
		 tmp && tmp[0] == '/' && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(scratch))
		die("fuzz_monitor: mkdtemp");
	chmod(scratch, 0755);
	char parent[sizeof(scratch)];
	snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(scratch, '/') - scratch), scratch);
	scratch_parent = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	atexit(remove_scratch);
	sandboxed = sandbox();
	if (!sandboxed)
		fprintf(stderr, "fuzz_monitor: no namespaces (not root?): running unconfined "
				"in %s\n",
			scratch);
	snprintf(tree, sizeof(tree), "%s/tree", scratch);
	mkdir(tree, 0755);
	char jail[128];
	snprintf(jail, sizeof(jail), "%s/jail", scratch);
	mkdir(jail, 0755);
	atexit(report_blocks);
	/* As priv_init sets it for the monitor: a peer that is gone fails a
	 * write with EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	linker_start();
	atexit(linker_stop);
	program_start();
	block_ok = getenv("PMFUZZ_BLOCK_OK") != NULL;
	trace = getenv("PMFUZZ_TRACE") != NULL;
	watchdog_init();
	load_policy();
	register_functions();

	/* syslog lines go to a socket of ours, read and thrown away. */
	snprintf(logpath, sizeof(logpath), "%s/log.sock", scratch);
	log_sink = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", logpath);
	if (log_sink < 0 || bind(log_sink, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("fuzz_monitor: log socket");

	memset(&m, 0, sizeof(m));
	m.policy = policy;
	audit_init(&m.audit, "fuzz_monitor");
	snprintf(m.audit.log_path, sizeof(m.audit.log_path), "%s", logpath);
	m.audit.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	m.channels = calloc(MONITOR_MAX_CHANNELS, sizeof(*m.channels));
	m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	m.signal_fd = -1;
	m.dispatch = monitor_dispatch; /* what monitor_init sets */
	m.loop = monitor_loop;
	if (!m.channels || m.epoll_fd < 0 || m.audit.fd < 0)
		die("fuzz_monitor: monitor");
	for (int i = 0; i < MAX_PEERS; i++)
		peers[i] = -1;
	return 0;
}

/* A channel for process `pid`; its program end in peers[]. */
static struct monitor_channel *add_channel_for(pid_t pid)
{
	int slot = 0;
	while (slot < MAX_PEERS && peers[slot] >= 0)
		slot++;
	if (slot == MAX_PEERS)
		return NULL;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("fuzz_monitor: socketpair");
	struct monitor_channel *c = monitor_channel_add(&m, sv[0], pid);
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	peers[slot] = sv[1];
	return c;
}

static struct monitor_channel *add_channel(void)
{
	return add_channel_for(program_tid);
}

static void drain_log(void)
{
	char line[AUDIT_LINE_MAX + 64];
	audit_flush(&m.audit);
	while (recv(log_sink, line, sizeof(line), MSG_DONTWAIT) > 0)
		;
}

/* Read every reply waiting on the program's ends: each must be a
 * well-formed reply, with an fd only where its operation promises one. */
static void drain_replies(void)
{
	static unsigned char buf[WIRE_MAX_MESSAGE + 1];
	for (int i = 0; i < MAX_PEERS; i++) {
		if (peers[i] < 0)
			continue;
		for (;;) {
			int fds[WIRE_MAX_FDS], nfds = 0;
			ssize_t n = wire_recv(peers[i], buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (n <= 0) { /* the monitor ended the channel */
				close(peers[i]);
				peers[i] = -1;
				break;
			}
			struct wire_header h;
			struct wire_reader r;
			if (wire_open_message(buf, (size_t)n, &h, &r) < 0) {
				fprintf(stderr, "fuzz_monitor: a malformed reply\n");
				abort();
			}
			int32_t status = wire_get_int(&r);
			if (trace)
				fprintf(stderr, "fuzz_monitor: reply to %s: %d, %d fds\n",
					wire_op_name(h.op), (int)status, nfds);
			if (r.broken || nfds != wire_reply_fds(h.op, status)) {
				fprintf(stderr, "fuzz_monitor: reply to op %u status %d carries %d fds\n",
					(unsigned)h.op, (int)status, nfds);
				abort();
			}
			if (h.op == WIRE_OP_FORK && nfds == 1 && forked < 0) {
				forked = fds[0];
				nfds = 0;
			}
			/* A new channel: the program reads its replies there. */
			for (int j = 0; h.op == WIRE_OP_CHANNEL && nfds == 1 && j < MAX_PEERS; j++)
				if (peers[j] < 0) {
					peers[j] = fds[0];
					nfds = 0;
				}
			wire_close_fds(fds, nfds);
		}
	}
}

static void pump_events(void);

/* Everything one input made is undone: channels, processes, PAM slots. */
static void monitor_reset(void)
{
	/* Every caller of priv_execve and every child ends, and the monitor
	 * takes that in as it would. */
	for (int i = 0; i < MAX_LINKS; i++)
		if (links[i] >= 0) {
			close(links[i]);
			links[i] = -1;
		}
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid)
			child_end(&children[i], -SIGKILL);
	pump_events();
	for (size_t i = 0; i < m.channel_count; i++) {
		struct monitor_channel *c = &m.channels[i];
		if (c->sock < 0)
			continue;
		epoll_ctl(m.epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
		close(c->sock);
		if (c->held_fd >= 0)
			close(c->held_fd);
		memset(c, 0, sizeof(*c));
		c->sock = c->held_fd = -1;
	}
	m.channel_count = 0;
	for (int i = 0; i < MAX_PEERS; i++)
		if (peers[i] >= 0) {
			close(peers[i]);
			peers[i] = -1;
		}
	if (forked >= 0)
		close(forked);
	forked = -1;
	if (m.proc) {
		for (size_t i = 0; i < m.proc->count; i++)
			if (m.proc->entries[i].pid)
				entry_free(&m, &m.proc->entries[i]);
		free(m.proc->entries);
		free(m.proc);
		m.proc = NULL;
	}
	/* The processes' shared count goes with the table (the monitor keeps
	 * both for its life): one mapping per input would exhaust
	 * vm.max_map_count. */
	if (family_tally) {
		munmap(family_tally, sizeof(*family_tally));
		family_tally = NULL;
	}
	pam_monitor_free(&m);
	append_forget(&m);
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid)
			child_free(&children[i]);
	pam_serial = 0;
	m.program = program_tid;
	drain_log();
}

/* --- reading the input ----------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static unsigned pick(struct input *in, unsigned n)
{
	return n ? u8(in) % n : 0;
}

static uint32_t u32(struct input *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | u8(in);
	return v;
}

static const char *const vocabulary[] = {
	"@/ro/f", "@/ro/sub/g", "@/ro/fifo", "@/ro/link", "@/ro/dangling", "@/ro", "@/ro/sub",
	"@/file-ro", "@/rw/f", "@/rw/new", "@/rw/dir/new", "@/rw/fifo", "@/rw/up/ro/f",
	"@/rw/up/other/secret", "@/rw/etc/passwd", "@/rw/loop", "@/rw/secret", "@/rw/hardlink",
	"@/rw/null", "@/rw/dirlink/x", "@/rw", "@/rw/dir", "@/log", "@/ao/a", "@/ao/new",
	"@/ao/fifo", "@/ao/tolog", "@/un/f", "@/un/link", "@/un/fifo", "@/un/new", "@/other/secret",
	"ro/f", "rw/new", "./rw/f", "rw/../ro/f", "rw//f", "rw/f/", "rw/./f", "../tree/rw/f", "log",
	"un/f", "rw", ".", "..", "/", "/etc/passwd", "/etc/shadow", "/etc", "/proc/self/cwd/rw/f",
	"/proc/self/root/etc/passwd", "/proc/self/fd/0", "/dev/null", "@/../jail", "@/rw/up/up",
	"@/rw/dir/../f", "@//rw/f", "@/rw/f\n",
};
#define N_VOCABULARY (sizeof(vocabulary) / sizeof(vocabulary[0]))

/* A path: a word of the vocabulary, or up to 127 bytes from the input; a
 * leading '@' is the scratch tree. */
static void get_path(struct input *in, char *out, size_t cap)
{
	unsigned b = u8(in);
	char raw[256];
	if (b < 0x80) {
		snprintf(raw, sizeof(raw), "%s", vocabulary[b % N_VOCABULARY]);
	} else {
		size_t n = b & 0x7f;
		if (n > in->left)
			n = in->left;
		memcpy(raw, in->p, n);
		raw[n] = '\0'; /* a NUL inside cuts it */
		in->p += n;
		in->left -= n;
	}
	if (raw[0] == '@')
		snprintf(out, cap, "%s%s", tree, raw + 1);
	else
		snprintf(out, cap, "%s", raw);
}

static const char *get_word(struct input *in, const char *const *words, size_t n, char *buf,
			    size_t cap)
{
	unsigned b = u8(in);
	if (b < 0x80)
		return words[b % n];
	size_t len = b & 0x3f;
	if (len > in->left)
		len = in->left;
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, in->p, len);
	buf[len] = '\0';
	in->p += len;
	in->left -= len;
	return buf;
}


/* The caller queues its standard streams and its gate on the link, as
 * client_proc.c does (or not quite), before the request. */
static void queue_stdio(struct input *in, int peer)
{
	int32_t bits = pick(in, 8) ? (int32_t)(8 | pick(in, 8)) : (int32_t)u32(in);
	int fds[4], nfds = 0, gate[2] = {-1, -1};
	for (int i = 0; i < 4; i++) {
		if (!(bits & (1 << i)))
			continue;
		if (i == 3 && pipe2(gate, O_CLOEXEC) == 0)
			fds[nfds++] = gate[0];
		else if (i < 3)
			fds[nfds++] = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	int sent = nfds;
	if (pick(in, 8) == 0 && sent)
		sent--; /* one fd short of the bits */
	for (int i = 0; i < nfds; i++)
		if (fds[i] < 0)
			sent = 0;
	send_fds(peer, &bits, sizeof(bits), fds, sent, MSG_DONTWAIT);
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* The caller has stopped its threads: the program may start. */
	if (gate[1] >= 0) {
		if (pick(in, 2))
			(void)!write(gate[1], "g", 1);
		close(gate[1]);
	}
}

/* The caller of priv_execve passes a signal on, says nonsense, or ends. */
static void link_acts(struct input *in)
{
	int i = (int)pick(in, MAX_LINKS);
	if (links[i] < 0)
		return;
	static const int32_t sigs[] = {SIGTERM, SIGHUP, SIGUSR1, SIGKILL, 0, 999};
	switch (pick(in, 3)) {
	case 0: {
		int32_t sig = sigs[pick(in, 6)];
		send(links[i], &sig, sizeof(sig), MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	}
	case 1:
		send(links[i], "xy", 2, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	default:
		close(links[i]);
		links[i] = -1;
		break;
	}
}

/* --- requests ------------------------------------------------------------------- */

static unsigned char request_buf[WIRE_MAX_MESSAGE];

/* Hand one message to the monitor on a channel of this process, as
 * serve_channel() does, with the watchdog running. */
static pid_t deliver_pid; /* the requester: 0 for the program thread */

static void deliver(struct input *in, size_t size, int *fds, int nfds, const char *what)
{
	struct monitor_channel *c = NULL;
	unsigned want = pick(in, 4), seen = 0;
	pid_t pid = deliver_pid ? deliver_pid : program_tid;
	for (size_t i = 0; i < m.channel_count; i++) {
		struct monitor_channel *x = &m.channels[i];
		if (x->sock >= 0 && !x->pending && x->pid == pid && !c)
			c = x;
		if (x->sock >= 0 && !x->pending && x->pid == pid && seen++ == want)
			c = x;
	}
	if (!c)
		c = add_channel_for(pid);
	if (!c) {
		wire_close_fds(fds, nfds);
		return;
	}
	memcpy(m.buf, request_buf, size);
	struct wire_header h;
	struct wire_reader r;
	current_op = wire_open_message(request_buf, size, &h, &r) == 0 ? h.op : 0;
	fresh_count = 0;
	if (trace)
		fprintf(stderr, "fuzz_monitor: %s (%zu bytes, %d fds)\n", what, size, nfds);
	watchdog_arm(true);
	int rc = monitor_handle_message(&m, c, size, fds, nfds);
	watchdog_arm(false);
	if (watchdog_fired) {
		blocks++;
		fprintf(stderr, "fuzz_monitor: the monitor blocked for 2 s serving %s%s\n", what,
			block_ok ? " (PMFUZZ_BLOCK_OK: going on)" : "");
		if (!block_ok)
			abort();
	}
	current_op = 0;
	if (trace && rc)
		fprintf(stderr, "fuzz_monitor: monitor_handle_message: %d\n", rc);
	if (rc < 0)
		monitor_end_process(&m, c->pid);
	drain_replies();
	drain_log();
}

static int fd_of_kind(unsigned kind)
{
	int sv[2], fd = -1;
	switch (kind % 8) {
	case 0:
		return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case 1:
		return socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case 2:
		return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	case 3:
		return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case 4:
	case 5:
		if (socketpair(AF_UNIX, (kind % 8 == 4 ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC,
			       0, sv) < 0)
			return -1;
		/* The program keeps the other end, as priv_pam_start does. */
		for (int i = 0; i < MAX_PEERS; i++)
			if (peers[i] < 0 && kind % 8 == 4) {
				peers[i] = sv[1];
				sv[1] = -1;
				break;
			}
		if (sv[1] >= 0)
			close(sv[1]);
		return sv[0];
	case 6:
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	default:
		fd = open(tree, O_PATH | O_CLOEXEC);
		return fd;
	}
}

static void request_open(struct input *in)
{
	static const int flag_words[] = {
		O_RDONLY, O_WRONLY | O_APPEND, O_RDWR, O_WRONLY | O_CREAT | O_TRUNC,
		O_WRONLY | O_APPEND | O_CREAT, O_RDWR | O_CREAT | O_EXCL, O_RDONLY | O_NOFOLLOW,
		O_RDONLY | O_DIRECTORY, O_RDWR | O_TMPFILE, O_WRONLY | O_NONBLOCK, O_RDONLY | O_PATH,
		O_RDONLY | O_CREAT, O_RDWR | O_TRUNC, O_WRONLY | O_CREAT | O_NOFOLLOW,
	};
	char path[PATH_MAX];
	get_path(in, path, sizeof(path));
	unsigned f = u8(in);
	int flags = f < 0xe0 ? flag_words[f % (sizeof(flag_words) / sizeof(flag_words[0]))]
			     : (int)u32(in);
	if (f & 0x10)
		flags |= O_CLOEXEC;
	int mode = pick(in, 2) ? 0644 : (int)u32(in);
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), WIRE_OP_OPEN, u8(in));
	wire_put_string(&w, path);
	wire_put_int(&w, flags);
	wire_put_int(&w, mode);
	size_t n = wire_writer_finish(&w);
	if (n)
		deliver(in, n, NULL, 0, "open");
}

static void request_unlink(struct input *in)
{
	char path[PATH_MAX];
	get_path(in, path, sizeof(path));
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), WIRE_OP_UNLINK, u8(in));
	wire_put_string(&w, path);
	size_t n = wire_writer_finish(&w);
	if (n)
		deliver(in, n, NULL, 0, "unlink");
}

static void request_bind(struct input *in)
{
	static const char *const v4[] = {"\x7f\0\0\x01", "\0\0\0\0", "\x0a\x01\x02\x03"};
	static const uint8_t v6[][16] = {
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1},
	};
	static const uint16_t ports[] = {0, 80, 8080, 25, 65535, 1023};
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	unsigned kind = u8(in);
	uint16_t port = kind & 0x80 ? (uint16_t)u32(in) : ports[kind % 6];
	switch (pick(in, 4)) {
	case 0: {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, v4[pick(in, 3)], 4);
		len = sizeof(*sin);
		break;
	}
	case 1: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, v6[pick(in, 3)], 16);
		len = sizeof(*sin6);
		break;
	}
	case 2: {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/rw/sock", tree);
		len = sizeof(*sun);
		break;
	}
	default:
		len = 1 + pick(in, sizeof(ss));
		for (socklen_t i = 0; i < len; i++)
			((uint8_t *)&ss)[i] = (uint8_t)u8(in);
	}
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), WIRE_OP_BIND, u8(in));
	wire_put_bytes(&w, &ss, len);
	size_t n = wire_writer_finish(&w);
	int fd = fd_of_kind(u8(in));
	if (!n || fd < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	deliver(in, n, &fd, 1, "bind");
}

/* A BYTES string with its NUL, as client_proc.c sends them. */
static void put_cstr(struct wire_writer *w, const char *s)
{
	wire_put_bytes(w, s, strlen(s) + 1);
}

static const char *const users[] = {"nobody", "daemon", "bin", "root", "", "nosuchuser"};
static const char *const chroots[] = {"", "/", "@jail", "/tmp", "/etc/../tmp", "@jail/", "rel"};
static const char *const programs[] = {"/bin/true", "/bin/sh", "bin/true", "/bin/../bin/true",
				       "/usr/bin/env", "/"};

static const char *get_chroot(struct input *in, char *buf, size_t cap)
{
	char word[64];
	const char *c = get_word(in, chroots, sizeof(chroots) / sizeof(chroots[0]), word,
				 sizeof(word));
	if (c[0] == '@')
		snprintf(buf, cap, "%s/%s", scratch, c + 1);
	else
		snprintf(buf, cap, "%s", c);
	return buf;
}

static void put_list(struct wire_writer *w, struct input *in)
{
	unsigned n = pick(in, 5);
	if (u8(in) == 0xff)
		n = u32(in); /* counts the decoder must refuse */
	wire_put_int(w, (int32_t)n);
	for (unsigned i = 0; i < n && i < 8; i++) {
		char word[64];
		static const char *const args[] = {"a", "LD_PRELOAD=/tmp/x.so", "PATH=/bin", "-c",
						   ""};
		put_cstr(w, get_word(in, args, 5, word, sizeof(word)));
	}
}

static void request_proc(struct input *in)
{
	static const uint32_t ops[] = {WIRE_OP_FORK,	WIRE_OP_WAIT,	WIRE_OP_RERUN,
				       WIRE_OP_RESPAWN, WIRE_OP_EXECVE, WIRE_OP_POPEN,
				       WIRE_OP_DAEMON,	WIRE_OP_HELLO,	WIRE_OP_EXEC_REPLACE};
	uint32_t op = ops[pick(in, 9)];
	char word[64], chroot[PATH_MAX];
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), op, u8(in));
	switch (op) {
	case WIRE_OP_WAIT: {
		static const int32_t pids[] = {-1, 0, -2, FAKE_PID_BASE};
		unsigned p = u8(in);
		wire_put_int(&w, p & 0x80 ? (int32_t)(next_fake - 1 - (int)(p & 3))
					  : pids[p % 4]);
		wire_put_int(&w, pick(in, 2) ? 1 /* WNOHANG */ : (int32_t)pick(in, 8));
		break;
	}
	case WIRE_OP_RERUN:
	case WIRE_OP_RESPAWN: {
		uint64_t fnptr = pick(in, 2) ? 0 : (uint64_t)u32(in) << 32 | u32(in);
		wire_put_bytes(&w, &fnptr, sizeof(fnptr));
		wire_put_int(&w, pick(in, 3) == 0 ? (int32_t)u32(in) : (int32_t)pick(in, 2));
		put_cstr(&w, get_word(in, users, 6, word, sizeof(word)));
		put_cstr(&w, get_chroot(in, chroot, sizeof(chroot)));
		put_list(&w, in);
		break;
	}
	case WIRE_OP_EXECVE:
	case WIRE_OP_EXEC_REPLACE:
		put_cstr(&w, get_word(in, programs, 6, word, sizeof(word)));
		put_cstr(&w, get_word(in, users, 6, word, sizeof(word)));
		put_cstr(&w, get_chroot(in, chroot, sizeof(chroot)));
		put_list(&w, in);
		put_list(&w, in);
		break;
	case WIRE_OP_POPEN:
		put_cstr(&w, "echo hi");
		wire_put_int(&w, (int32_t)pick(in, 3));
		put_cstr(&w, get_word(in, users, 6, word, sizeof(word)));
		break;
	case WIRE_OP_DAEMON:
		wire_put_int(&w, (int32_t)pick(in, 2));
		wire_put_int(&w, 1); /* noclose: 0 would take the fuzzer's stdio */
		break;
	default:
		break;
	}
	size_t n = wire_writer_finish(&w);
	if (!n)
		return;
	if (op == WIRE_OP_EXEC_REPLACE) {
		/* The link: mostly a pair the caller (the linker) made, with its
		 * stdio queued; else a socket of another process (this one's),
		 * which the monitor must refuse. */
		int fd = -1, peer = -1;
		if (pick(in, 4) && linker_pair(&fd, &peer)) {
			queue_stdio(in, peer);
			deliver_pid = linker;
		} else {
			fd = fd_of_kind(pick(in, 4) ? 4 : u8(in));
		}
		if (fd >= 0)
			deliver(in, n, &fd, 1, wire_op_name(op));
		deliver_pid = 0;
		int slot = 0;
		while (slot < MAX_LINKS && links[slot] >= 0)
			slot++;
		if (peer >= 0 && slot < MAX_LINKS)
			links[slot] = peer;
		else if (peer >= 0)
			close(peer);
		pump_events();
		return;
	}
	fork_fails = op == WIRE_OP_DAEMON;
	deliver(in, n, NULL, 0, wire_op_name(op));
	fork_fails = false;
}

/* priv_invoke_info_fn / priv_invoke_cap_fn: kind, handle, an argument
 * vector (handles 0 and 1 are info functions, 2 a cap function; the
 * policy grants 0 and 2). */
static void request_custom(struct input *in)
{
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), WIRE_OP_CUSTOM, u8(in));
	wire_put_int(&w, pick(in, 8) ? (int32_t)pick(in, 2) : (int32_t)u32(in));
	wire_put_int(&w, pick(in, 8) ? (int32_t)pick(in, 4) : (int32_t)u32(in));
	put_list(&w, in);
	size_t n = wire_writer_finish(&w);
	if (n)
		deliver(in, n, NULL, 0, "custom");
}

/* A forked child's hello, on the channel priv_fork returned: from this
 * very process, which already has a channel, so it must be refused. */
static void request_hello(struct input *in)
{
	if (forked < 0)
		return;
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), WIRE_OP_HELLO, u8(in));
	size_t n = wire_writer_finish(&w);
	if (wire_send(forked, request_buf, n, NULL, 0, MSG_DONTWAIT) < 0)
		return;
	for (size_t i = 0; i < m.channel_count; i++)
		if (m.channels[i].sock >= 0 && m.channels[i].pending)
			proc_serve_pending(&m, &m.channels[i]);
	drain_replies();
	drain_log();
}

static void request_misc(struct input *in)
{
	static const uint32_t ops[] = {WIRE_OP_EXIT, WIRE_OP_CHANNEL, WIRE_OP_PAM_START};
	uint32_t op = ops[pick(in, 3)];
	struct wire_writer w;
	wire_writer_init(&w, request_buf, sizeof(request_buf), op, u8(in));
	if (op == WIRE_OP_EXIT)
		wire_put_int(&w, (int32_t)u32(in));
	size_t n = wire_writer_finish(&w);
	if (op == WIRE_OP_EXIT) {
		deliver(in, n, NULL, 0, "exit");
		return;
	}
	/* The monitor makes both sockets and replies with the program's end;
	 * a request that brings one of its own breaks the protocol. */
	unsigned kind = u8(in);
	if (kind < 0xe0) {
		deliver(in, n, NULL, 0, wire_op_name(op));
		return;
	}
	int fd = fd_of_kind(kind);
	if (fd < 0)
		return;
	deliver(in, n, &fd, 1, wire_op_name(op));
}

/* Any bytes as a message, with 0-1 fds. */
static void request_raw(struct input *in)
{
	size_t n = u8(in) | u8(in) << 8;
	if (n > in->left)
		n = in->left;
	memcpy(request_buf, in->p, n);
	in->p += n;
	in->left -= n;
	int fd = -1, nfds = 0;
	if (n >= 4 && pick(in, 2)) {
		fd = fd_of_kind(u8(in));
		nfds = fd >= 0;
	}
	deliver(in, n, &fd, nfds, "a raw message");
}

/* A process the monitor started ends, as the SIGCHLD handler would find it
 * (never the main program: the monitor would then leave). */
static void process_ends(struct input *in)
{
	struct proc_table *t = m.proc;
	if (!t || !t->count)
		return;
	struct proc_entry *e = &t->entries[pick(in, (unsigned)t->count)];
	if (!e->pid || e->pid == m.program || e->pid < FAKE_PID_BASE)
		return;
	struct rusage usage;
	memset(&usage, 0, sizeof(usage));
	usage.ru_utime.tv_sec = (time_t)pick(in, 100);
	int status = pick(in, 2) ? (int)(pick(in, 256) << 8) : (int)pick(in, 32); /* exit, signal */
	proc_reaped(&m, e->pid, status, &usage);
	drain_replies();
	drain_log();
}


/* --- the children act ---------------------------------------------------------------- */

/* Hand every event waiting in the monitor's epoll set to its handler, as
 * monitor_run() does (channels excepted: the program's messages come
 * through deliver()). */
static void pump_events(void)
{
	watchdog_arm(true);
	/* Room for every ready fd at once: channels, which are skipped, must
	 * not hide the others. */
	static struct epoll_event ev[1024];
	for (int round = 0; round < 16; round++) {
		int n = epoll_wait(m.epoll_fd, ev, 1024, 0);
		bool any = false;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64;
			any = true;
			if (tag == APPEND_TAG)
				append_event(&m);
			else if (pam_monitor_owns_tag(tag))
				pam_monitor_event(&m, tag);
			else if (custom_owns_tag(tag))
				custom_event(&m, tag);
			else if (tag >= MONITOR_PROC_TAG)
				proc_event(&m, tag - MONITOR_PROC_TAG);
			else
				any = false;
		}
		if (!any)
			break;
	}
	watchdog_arm(false);
	if (watchdog_fired) {
		blocks++;
		fprintf(stderr, "fuzz_monitor: the monitor blocked for 2 s on an event%s\n",
			block_ok ? " (PMFUZZ_BLOCK_OK: going on)" : "");
		if (!block_ok)
			abort();
	}
	drain_replies();
	drain_log();
}

/* The appender's view of a stream the monitor hands over (append.c's
 * struct append_hello): a pipe's read end and the granted file, opened
 * for appending only. */
static void check_hand_over(const unsigned char *buf, ssize_t n, const int *fds, int nfds)
{
	uint32_t magic;
	const char *why = NULL;
	if (n <= 8 || nfds != 2) {
		why = "not a stream with two fds";
	} else {
		memcpy(&magic, buf, sizeof(magic));
		if (magic != 0x70617031u || !memchr(buf + 8, '\0', (size_t)n - 8))
			why = "a malformed hand-over";
	}
	struct stat st;
	if (!why && (fstat(fds[0], &st) < 0 || !S_ISFIFO(st.st_mode) ||
		     (fcntl(fds[0], F_GETFL) & O_ACCMODE) != O_RDONLY))
		why = "the first fd is not a pipe's read end";
	int fl = why ? 0 : fcntl(fds[1], F_GETFL);
	if (!why && ((fl & O_ACCMODE) != O_WRONLY || !(fl & O_APPEND)))
		why = "the file is not open for appending only";
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", why ? -1 : fds[1]);
	ssize_t len = why ? -1 : readlink(link, target, sizeof(target) - 1);
	if (len > 0) {
		target[len] = '\0';
		size_t t = strlen(tree);
		bool granted = strncmp(target, tree, t) == 0 &&
			       (strcmp(target + t, "/log") == 0 ||
				(strncmp(target + t, "/ao/", 4) == 0 && !strchr(target + t + 4, '/')));
		if (!granted && !strstr(target, " (deleted)"))
			why = "the file is not one open_ao grants";
	}
	if (why) {
		fprintf(stderr, "fuzz_monitor: the monitor handed the appender %s (%s)\n", why,
			len > 0 ? target : "-");
		abort();
	}
}

/* The child reads what waits on its ends; the appender checks each stream. */
static void child_reads(struct fake_child *k)
{
	static unsigned char buf[WIRE_MAX_MESSAGE + PATH_MAX];
	for (int e = 0; e < k->nends; e++) {
		for (int i = 0; i < 64; i++) {
			union {
				char b[CMSG_SPACE(sizeof(int) * 8)];
				struct cmsghdr align;
			} control;
			struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
					    .msg_control = control.b, .msg_controllen = sizeof(control.b)};
			ssize_t n = recvmsg(k->ends[e], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
			if (n < 0)
				break;
			int fds[8], nfds = 0;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
					for (size_t j = 0; j < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) &&
							   nfds < 8;
					     j++)
						memcpy(&fds[nfds++], CMSG_DATA(c) + j * sizeof(int),
						       sizeof(int));
			if (n == 0 && nfds == 0)
				break;
			if (k->op == WIRE_OP_OPEN)
				check_hand_over(buf, n, fds, nfds);
			wire_close_fds(fds, nfds);
		}
	}
}

/* The child answers as its kind does, well-formed or nearly. */
static void child_answers(struct fake_child *k, struct input *in)
{
	static unsigned char out[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	char text[256];
	int fd = -1;
	size_t n = 0;
	int end = k->nends ? k->nends - 1 : -1; /* the report or answer socket */
	if (end < 0)
		return;
	uint32_t id = pick(in, 8) ? k->serial : u32(in);
	if (k->op == WIRE_OP_CUSTOM) {
		wire_writer_init(&w, out, sizeof(out), WIRE_OP_CUSTOM, id);
		switch (pick(in, 4)) {
		case 0: { /* a string */
			size_t len = pick(in, 200);
			memset(text, 'a' + (int)pick(in, 26), len);
			text[len] = '\0';
			wire_put_int(&w, pick(in, 8) ? (int32_t)len : (int32_t)u32(in));
			wire_put_bytes(&w, text, len + (pick(in, 8) ? 1 : 0));
			break;
		}
		case 1: /* the function failed */
			wire_put_int(&w, -(int32_t)(1 + pick(in, 200) * (pick(in, 2) ? 1 : 40)));
			break;
		case 2: /* an fd */
			wire_put_int(&w, pick(in, 8) ? 0 : (int32_t)u32(in));
			fd = fd_of_kind(u8(in));
			break;
		default:
			wire_put_int(&w, (int32_t)u32(in));
			break;
		}
		n = wire_writer_finish(&w);
	} else if (k->op == WIRE_OP_PAM_START) {
		/* A worker reports a user authenticated. */
		static const char *const names[] = {"nobody", "daemon", "root", "bin", "nosuchuser"};
		wire_writer_init(&w, out, sizeof(out), PAM_WIRE_AUTHENTICATED, id);
		wire_put_int(&w, pick(in, 4) ? (int32_t)pick(in, 3) : (int32_t)u32(in));
		pam_wire_put_text(&w, get_word(in, names, 5, text, sizeof(text)));
		n = wire_writer_finish(&w);
	} else if (k->op == WIRE_OP_OPEN) {
		/* The appender reports (append.c's struct append_report). */
		struct {
			uint32_t kind;
			int32_t pid;
			int32_t error;
			uint32_t dropped;
			uint64_t ended;
			uint64_t lost;
			char path[64];
		} r;
		memset(&r, 0, sizeof(r));
		r.kind = 1 + pick(in, 6);
		r.pid = (int32_t)program_tid;
		r.error = (int32_t)pick(in, 40);
		r.dropped = pick(in, 4) ? 0 : u32(in);
		r.ended = pick(in, 2) ? pick(in, 4) : (uint64_t)u32(in) << 32 | u32(in);
		r.lost = pick(in, 2) ? 0 : u32(in);
		get_path(in, text, sizeof(text));
		snprintf(r.path, sizeof(r.path), "%s", text);
		n = offsetof(__typeof__(r), path) + strlen(r.path) + (pick(in, 8) ? 1 : 0);
		memcpy(out, &r, n);
	}
	if (n)
		wire_send(k->ends[end], out, n, &fd, fd >= 0, MSG_DONTWAIT);
	if (fd >= 0)
		close(fd);
}

/* Any bytes, with or without an fd, on any of its ends. */
static void child_says(struct fake_child *k, struct input *in)
{
	static unsigned char out[512];
	if (!k->nends)
		return;
	size_t n = pick(in, sizeof(out));
	if (n > in->left)
		n = in->left;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	int fd = pick(in, 2) ? fd_of_kind(u8(in)) : -1;
	if (n)
		wire_send(k->ends[pick(in, (unsigned)k->nends)], out, n, &fd, fd >= 0, MSG_DONTWAIT);
	if (fd >= 0)
		close(fd);
}

/* Time passes: every timer the monitor armed (a custom function's time)
 * expires now. */
static void time_passes(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		die("fuzz_monitor: /proc/self/fd");
	struct dirent *e;
	while ((e = readdir(dir))) {
		char link[64], target[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		struct itimerspec soon = {.it_value = {.tv_nsec = 1}};
		if (strcmp(target, "anon_inode:[timerfd]") == 0)
			timerfd_settime(atoi(e->d_name), 0, &soon, NULL);
	}
	closedir(dir);
	struct timespec wait = {.tv_nsec = 100000};
	nanosleep(&wait, NULL);
}

static void child_acts(struct input *in)
{
	int live[MAX_CHILDREN], n = 0;
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid && !children[i].ended)
			live[n++] = i;
	unsigned what = pick(in, 7);
	if (what == 5)
		time_passes();
	else if (what == 6)
		link_acts(in);
	else if (n) {
		struct fake_child *k = &children[live[pick(in, (unsigned)n)]];
		if (trace)
			fprintf(stderr, "fuzz_monitor: child %d (of %s) acts: %u\n", (int)k->pid,
				wire_op_name(k->op), what);
		switch (what) {
		case 0:
			child_end(k, (int)pick(in, 256));
			break;
		case 1:
			child_end(k, -(int)(1 + pick(in, 31)));
			break;
		case 2:
			child_reads(k);
			break;
		case 3:
			child_answers(k, in);
			break;
		default:
			child_says(k, in);
			break;
		}
	}
	pump_events();
}

/* --- the tree changes as a racing program would change it ----------------------- */

/* The directory that holds `path`'s last component, reached from the tree
 * with no symlink and no magic link on the way and never above it (a
 * symlink the input made could lead to /proc/self/fd/N, a file opened
 * before the sandbox, on a mount that is not read-only). Returns an
 * O_PATH fd and points *name at the last component, or -1. */
static int tree_parent(const char *path, const char **name)
{
	size_t n = strlen(tree);
	if (strncmp(path, tree, n) != 0 || path[n] != '/' || strstr(path, ".."))
		return -1;
	const char *rel = path + n + 1;
	const char *slash = strrchr(rel, '/');
	*name = slash ? slash + 1 : rel;
	if (!**name)
		return -1;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - rel) : 1, slash ? rel : ".");
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS};
	int root = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	int fd = (int)syscall(SYS_openat2, root, dir, &how, sizeof(how));
	close(root);
	return fd;
}

static void change_tree(struct input *in)
{
	char a[PATH_MAX], b[PATH_MAX];
	get_path(in, a, sizeof(a));
	/* The harness changes only the scratch tree, and only what it reaches
	 * with no symlink (tree_parent). */
	const char *name, *name_b;
	int dir = tree_parent(a, &name);
	if (dir < 0)
		return;
	char via[64]; /* the checked parent, for calls that take a path */
	snprintf(via, sizeof(via), "/proc/self/fd/%d/", dir);
	switch (pick(in, 9)) {
	case 0:
		mkdirat(dir, name, 0755);
		break;
	case 1:
		mkfifoat(dir, name, 0666);
		break;
	case 2: {
		get_path(in, b, sizeof(b));
		symlinkat(b, dir, name);
		break;
	}
	case 3:
		if (unlinkat(dir, name, 0) < 0)
			unlinkat(dir, name, AT_REMOVEDIR);
		break;
	case 4: {
		get_path(in, b, sizeof(b));
		int dir_b = tree_parent(b, &name_b);
		if (dir_b >= 0) {
			renameat(dir, name, dir_b, name_b);
			close(dir_b);
		}
		break;
	}
	case 5: {
		/* Never through a symlink (fchmodat cannot change one's mode). */
		int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISLNK(st.st_mode)) {
			char p[64];
			snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
			chmod(p, pick(in, 2) ? 0 : 0777);
		}
		if (fd >= 0)
			close(fd);
		break;
	}
	case 6: {
		int fd = openat(dir, name, O_WRONLY | O_CREAT | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd >= 0)
			close(fd);
		break;
	}
	case 7: {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s%s", via, name);
		if (s >= 0) {
			bind(s, (struct sockaddr *)&sun, sizeof(sun));
			close(s);
		}
		break;
	}
	default:
		/* The program moves: its working directory is elsewhere. */
		program_chdir(a);
		break;
	}
	close(dir);
}

/* --- the input ---------------------------------------------------------------------- */

static void one_record(struct input *in)
{
	switch (u8(in) % 16) {
	case 13:
		request_custom(in);
		break;
	case 14:
	case 15:
		child_acts(in);
		break;
	case 0:
	case 1:
	case 2:
		request_open(in);
		break;
	case 12:
		process_ends(in);
		break;
	case 3:
		request_unlink(in);
		break;
	case 4:
		request_bind(in);
		break;
	case 5:
	case 6:
		request_proc(in);
		break;
	case 7:
		request_hello(in);
		break;
	case 8:
		request_misc(in);
		break;
	case 9:
		change_tree(in);
		break;
	case 10:
		swap_fifo_armed = true;
		break;
	default:
		request_raw(in);
		break;
	}
}

/* The fds open now (but the audit's syslog socket, opened on first use). */
static void open_fds(uint64_t set[16])
{
	memset(set, 0, 16 * sizeof(uint64_t));
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		die("fuzz_monitor: /proc/self/fd");
	int self = dirfd(dir);
	struct dirent *e;
	while ((e = readdir(dir))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd != self && fd != m.audit.log_sock && fd < 1024)
			set[fd / 64] |= UINT64_C(1) << (fd % 64);
	}
	closedir(dir);
}

/* Every fd an input opened is closed by its end. */
static void check_fds(const uint64_t before[16])
{
	uint64_t after[16];
	bool leak = false;
	open_fds(after);
	for (int fd = 0; fd < 1024; fd++) {
		if (!(after[fd / 64] & ~before[fd / 64] & (UINT64_C(1) << (fd % 64))))
			continue;
		char link[64], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		fprintf(stderr, "fuzz_monitor: fd %d (%.*s) is left open by an input\n", fd,
			n > 0 ? (int)n : 1, n > 0 ? target : "?");
		leak = true;
	}
	if (leak)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t before[16];
	struct input in = {data, size};
	tree_reset();
	if (program_moved) /* a round trip to the thread only when needed */
		program_chdir(tree);
	program_moved = false;
	m.program = program_tid;
	drain_log();
	open_fds(before);
	if (!add_channel())
		abort();
	for (int i = 0; i < 32 && in.left; i++)
		one_record(&in);
	swap_fifo_armed = false;
	monitor_reset();
	/* The first stack printed starts the symbolizer, with pipes to it. */
	static unsigned long blocks_seen;
	if (blocks == blocks_seen)
		check_fds(before);
	blocks_seen = blocks;
	return 0;
}
