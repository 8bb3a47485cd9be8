/* Benchmarks of the monitor, all measured in one run on one machine
 * (DESIGN.md "Performance method"):
 *
 *   - priv_open against open(2) and against the bare limit: one message and
 *     one passed fd round trip over a SOCK_SEQPACKET socketpair between two
 *     processes doing nothing else, the server opening the file for each
 *     (goal 1.15x); every process pinned to CPU 0, and unpinned. Batches of
 *     the two alternate and the ratio is the median of each pair's, so that
 *     the load of a shared machine weighs on both alike;
 *   - priv_bind against bind(2);
 *   - priv_open throughput with 8 threads of one program (goal 100,000/s
 *     pinned), against the bare limit with 8 threads;
 *   - priv_init until the program runs;
 *   - the monitor's Private_Dirty (smaps_rollup) before and after 100,000
 *     requests.
 *
 * Figures are medians of batch means. Run as root: bench_monitor [ROUNDS]. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <seccomp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "privman.h"

#define BATCHES 31
#define THREADS 8
/* priv_bind refuses port 0 (a program binds an ephemeral port itself), and
 * bind(2) in the program cannot bind a privileged port: both bind this one,
 * below the ephemeral range, and close it without listening (free again at
 * once). */
#define BENCH_PORT 20760

static char dir[64];
static char file[128];
static int iterations = 2000;

/* Pinned: to CPU `cpu`. Unpinned: every CPU. */
static void pin_pid(pid_t pid, bool pinned, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (pinned) {
		CPU_SET(cpu, &set);
	} else {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			CPU_SET((int)i, &set);
	}
	if (sched_setaffinity(pid, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static void pin(bool pinned)
{
	pin_pid(0, pinned, 0);
}


/* --- the bare limit ----------------------------------------------------- */

/* The open of the bare limit's server; with `checks`, the system calls
 * that the monitor's checks cost and no policy or audit: the open resolved
 * by openat2 with no symlink, non-blocking, then given its blocking mode,
 * and an epoll_wait for every 8 messages (the monitor reads a busy channel
 * 8 messages ahead). */
static int bare_open(int sock, bool checks)
{
	if (!checks)
		return open(file, O_RDONLY | O_CLOEXEC);
	static int ep = -1;
	static unsigned n;
	if (ep < 0) {
		struct epoll_event ev = {.events = EPOLLIN};
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0)
			_exit(1);
	}
	if (++n % 8 == 0) {
		struct epoll_event ev;
		epoll_wait(ep, &ev, 1, 0);
	}
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, file, &how, sizeof(how));
	if (fd >= 0 && fcntl(fd, F_SETFL, 0) < 0)
		_exit(1);
	return fd;
}

/* In a child: close every fd above 2 but `keep` (n of them), so that no
 * other child's socket or pipe stays open here (each sees its peer go). */
static void keep_only(const int *keep, int n)
{
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++) {
		bool kept = false;
		for (int i = 0; i < n; i++)
			kept = kept || keep[i] == fd;
		if (!kept)
			close(fd);
	}
}

/* The bare limit's server: a process that answers each message with an fd
 * of the file, opened for it (bare_open). Returns the client's end; *pid
 * the server. */
static int bare_start(pid_t *pid, bool checks)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	*pid = fork();
	if (*pid < 0)
		die("fork");
	if (*pid == 0) {
		keep_only(&sv[1], 1);
		char buf[4200];
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		for (;;) {
			ssize_t n = recv(sv[1], buf, sizeof(buf), 0);
			if (n <= 0)
				_exit(0);
			struct iovec iov = {.iov_base = buf, .iov_len = 28};
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
					    .msg_controllen = sizeof(control.b)};
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			int fd = bare_open(sv[1], checks);
			if (fd < 0)
				_exit(1);
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
			if (sendmsg(sv[1], &mh, MSG_NOSIGNAL) < 0)
				_exit(1);
			close(fd);
		}
	}
	close(sv[1]);
	return sv[0];
}

static void read_all(int fd, void *buf, size_t size);

/* One batch of round trips to the bare server: ns per round trip. */
static double bare_batch(int sock)
{
	char msg[64] = {0}, reply[64];
	double t0 = now_ns();
	for (int i = 0; i < iterations; i++) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		if (send(sock, msg, 56, MSG_NOSIGNAL) < 0)
			die("send");
		struct iovec iov = {.iov_base = reply, .iov_len = sizeof(reply)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
				    .msg_controllen = sizeof(control.b)};
		if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) <= 0)
			die("recvmsg");
		int fd;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		close(fd);
	}
	return (now_ns() - t0) / iterations;
}

static void bare_stop(int sock, pid_t pid)
{
	close(sock);
	waitpid(pid, NULL, 0);
}

/* A filter like the program's (drop_plan.c's namespace filter, made the
 * same way: three ABIs, a binary tree): every system call of the client
 * goes through one. */
static void load_namespace_like_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = ctx ? 0 : -1;
	if (rc == 0 && seccomp_arch_native() == SCMP_ARCH_X86_64) {
		seccomp_arch_add(ctx, SCMP_ARCH_X86);
		seccomp_arch_add(ctx, SCMP_ARCH_X32);
	}
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	const int calls[] = {SCMP_SYS(setns), SCMP_SYS(mount), SCMP_SYS(umount2),
			     SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(open_tree),
			     SCMP_SYS(move_mount), SCMP_SYS(fsopen), SCMP_SYS(fsmount)};
	for (size_t i = 0; rc == 0 && i < sizeof(calls) / sizeof(calls[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i], 0);
	const unsigned long flags[] = {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET};
	for (size_t i = 0; rc == 0 && i < sizeof(flags) / sizeof(flags[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
	}
	if (rc != 0 || seccomp_load(ctx) != 0)
		die("the namespace-like filter");
	seccomp_release(ctx);
}

/* The bare limit with the checks' system calls: a client process under a
 * filter like the program's, to a server that opens as the monitor does
 * (bare_open); it runs a batch each time it reads a byte from *go, and
 * writes its time to *res. */
struct floor {
	pid_t server, client;
	int go, res;
};

static void floor_start(struct floor *f)
{
	int go[2], res[2];
	int sock = bare_start(&f->server, true);
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		die("pipe");
	f->client = fork();
	if (f->client < 0)
		die("fork");
	if (f->client == 0) {
		int keep[3] = {sock, go[0], res[1]};
		keep_only(keep, 3);
		load_namespace_like_filter();
		char c;
		while (read(go[0], &c, 1) == 1) {
			double t = bare_batch(sock);
			if (write(res[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
				_exit(1);
		}
		_exit(0);
	}
	close(sock);
	close(go[0]);
	close(res[1]);
	f->go = go[1];
	f->res = res[0];
}

static double floor_batch(struct floor *f)
{
	double t;
	if (write(f->go, "g", 1) != 1)
		die("write");
	read_all(f->res, &t, sizeof(t));
	return t;
}

static void floor_stop(struct floor *f)
{
	close(f->go);
	close(f->res);
	waitpid(f->client, NULL, 0);
	waitpid(f->server, NULL, 0);
}

/* The bare limit with THREADS threads: each has its own socketpair to one
 * server process that answers with an fd, as the monitor does. */
static int bare_socks[THREADS];

static void *bare_thread(void *arg)
{
	int s = bare_socks[(intptr_t)arg];
	char msg[64] = {0}, reply[64];
	for (int i = 0; i < 20000; i++) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		if (send(s, msg, 56, MSG_NOSIGNAL) < 0)
			die("send");
		struct iovec iov = {.iov_base = reply, .iov_len = sizeof(reply)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
				    .msg_controllen = sizeof(control.b)};
		if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) <= 0)
			die("recvmsg");
		int fd;
		memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
		close(fd);
	}
	return NULL;
}

static double bare_throughput(void)
{
	int server[THREADS];
	for (int i = 0; i < THREADS; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair");
		bare_socks[i] = sv[0];
		server[i] = sv[1];
	}
	pid_t pid = fork();
	if (pid == 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		for (int i = 0; i < THREADS; i++) {
			close(bare_socks[i]);
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
			epoll_ctl(ep, EPOLL_CTL_ADD, server[i], &ev);
		}
		int open_count = THREADS;
		char buf[256];
		while (open_count > 0) {
			struct epoll_event ev[16];
			int n = epoll_wait(ep, ev, 16, -1);
			for (int k = 0; k < n; k++) {
				int s = server[ev[k].data.u32];
				ssize_t got = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
				if (got == 0) {
					epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
					open_count--;
					continue;
				}
				if (got < 0)
					continue;
				union {
					char b[CMSG_SPACE(sizeof(int))];
					struct cmsghdr align;
				} control;
				struct iovec iov = {.iov_base = buf, .iov_len = 28};
				struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
						    .msg_control = control.b,
						    .msg_controllen = sizeof(control.b)};
				struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = SOL_SOCKET;
				c->cmsg_type = SCM_RIGHTS;
				c->cmsg_len = CMSG_LEN(sizeof(int));
				int fd = open(file, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					_exit(1);
				memcpy(CMSG_DATA(c), &fd, sizeof(int));
				sendmsg(s, &mh, MSG_NOSIGNAL);
				close(fd);
			}
		}
		_exit(0);
	}
	for (int i = 0; i < THREADS; i++)
		close(server[i]);
	pthread_t t[THREADS];
	double t0 = now_ns();
	for (intptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, bare_thread, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	double rate = (double)(THREADS * 20000) / ((now_ns() - t0) / 1e9);
	for (int i = 0; i < THREADS; i++)
		close(bare_socks[i]);
	waitpid(pid, NULL, 0);
	return rate;
}

/* --- inside a split program ------------------------------------------------- */

struct results {
	double open_syscall, priv_open, bind_syscall, priv_bind;
	double bare;  /* the bare limit, in batches between priv_open's */
	double ratio; /* the median of priv_open / bare limit, batch by batch */
	double floor, floor_ratio; /* the bare limit with the checks' system calls */
};

static double time_open(bool priv)
{
	double samples[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns();
		for (int i = 0; i < iterations; i++) {
			int fd = priv ? priv_open(file, O_RDONLY | O_CLOEXEC)
				      : open(file, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				die(priv ? "priv_open" : "open");
			close(fd);
		}
		samples[b] = (now_ns() - t0) / iterations;
	}
	return median(samples, BATCHES);
}

static double time_bind(bool priv)
{
	double samples[BATCHES];
	int n = iterations / 4;
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns();
		for (int i = 0; i < n; i++) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			int on = 1;
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
			struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(BENCH_PORT)};
			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			int rc = priv ? priv_bind(s, (struct sockaddr *)&sin, sizeof(sin))
				      : bind(s, (struct sockaddr *)&sin, sizeof(sin));
			if (rc < 0)
				die(priv ? "priv_bind" : "bind");
			close(s);
		}
		samples[b] = (now_ns() - t0) / n;
	}
	return median(samples, BATCHES);
}

static void *thread_main(void *arg)
{
	long n = (long)(intptr_t)arg;
	for (long i = 0; i < n; i++) {
		int fd = priv_open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("priv_open (thread)");
		close(fd);
	}
	return NULL;
}

static double throughput(void)
{
	double samples[5];
	long per_thread = 20000;
	for (int r = 0; r < 5; r++) {
		pthread_t t[THREADS];
		double t0 = now_ns();
		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)per_thread);
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		samples[r] = (double)(per_thread * THREADS) / ((now_ns() - t0) / 1e9);
	}
	return median(samples, 5);
}

/* Run `fn` in a program split by priv_init; it writes its results to a
 * pipe that this (root) process reads. */
static void in_program(void (*fn)(int out, int in), int *result_fd, int *go_fd, pid_t *monitor)
{
	int res[2], go[2];
	if (pipe2(res, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(res[0]);
		close(go[1]);
		priv_init("privman-bench");
		fn(res[1], go[0]);
		exit(0);
	}
	close(res[1]);
	close(go[0]);
	*result_fd = res[0];
	*go_fd = go[1];
	*monitor = pid;
}

static void read_all(int fd, void *buf, size_t size)
{
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, (char *)buf + got, size - got);
		if (n <= 0)
			die("read results");
		got += (size_t)n;
	}
}

/* One batch of priv_open + close: ns per call. */
static double priv_open_batch(void)
{
	double t0 = now_ns();
	for (int i = 0; i < iterations; i++) {
		int fd = priv_open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("priv_open");
		close(fd);
	}
	return (now_ns() - t0) / iterations;
}

/* priv_open's batches, each when the parent says (after a batch of the
 * bare limit): the two alternate, so that whatever else the machine does
 * weighs on both alike. */
static void program_latency(int out, int in)
{
	struct results r;
	for (int b = 0; b < BATCHES; b++) {
		char c;
		if (read(in, &c, 1) != 1)
			die("read");
		double t = priv_open_batch();
		if (write(out, &t, sizeof(t)) != (ssize_t)sizeof(t))
			die("write");
	}
	r.open_syscall = time_open(false);
	r.bind_syscall = time_bind(false);
	r.priv_bind = time_bind(true);
	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
		die("write");
}

/* Waits until the monitor is placed, then pins itself (and so its
 * threads) as the byte says: 'p' to CPU 0, 'u' to every CPU. */
static void program_throughput(int out, int in)
{
	char how;
	if (read(in, &how, 1) != 1)
		die("read");
	pin(how == 'p');
	double rate = throughput();
	if (write(out, &rate, sizeof(rate)) != (ssize_t)sizeof(rate))
		die("write");
}

static void finish(int result_fd, int go_fd, pid_t monitor)
{
	close(result_fd);
	close(go_fd);
	int status;
	waitpid(monitor, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench: the program failed (status 0x%x)\n", status);
		exit(1);
	}
}

static struct results latency(void)
{
	int rfd, gfd;
	pid_t mon, server;
	struct results r;
	double bare[BATCHES], priv[BATCHES], ratio[BATCHES], floor[BATCHES], fratio[BATCHES];
	struct floor f;
	int sock = bare_start(&server, false);
	floor_start(&f);
	in_program(program_latency, &rfd, &gfd, &mon);
	for (int b = 0; b < BATCHES; b++) {
		bare[b] = bare_batch(sock);
		floor[b] = floor_batch(&f);
		if (write(gfd, "g", 1) != 1)
			die("write");
		read_all(rfd, &priv[b], sizeof(priv[b]));
		ratio[b] = priv[b] / bare[b];
		fratio[b] = floor[b] / bare[b];
	}
	read_all(rfd, &r, sizeof(r));
	finish(rfd, gfd, mon); /* the program held the others' ends too */
	bare_stop(sock, server);
	floor_stop(&f);
	r.bare = median(bare, BATCHES);
	r.priv_open = median(priv, BATCHES);
	r.ratio = median(ratio, BATCHES);
	r.floor = median(floor, BATCHES);
	r.floor_ratio = median(fratio, BATCHES);
	return r;
}

/* priv_open with 8 threads; pinned: the monitor and the program on CPU 0.
 * (With the monitor on CPU 1 and the threads on CPU 0, every message wakes
 * the other CPU: on this machine, a virtual one, both the bare limit and
 * priv_open run at a fraction of the rate of one CPU.) */
static double monitor_throughput(bool pinned)
{
	int rfd, gfd;
	pid_t mon;
	double rate;
	in_program(program_throughput, &rfd, &gfd, &mon);
	pin_pid(mon, pinned, 0);
	if (write(gfd, pinned ? "p" : "u", 1) != 1)
		die("write");
	read_all(rfd, &rate, sizeof(rate));
	finish(rfd, gfd, mon);
	return rate;
}

/* priv_init until the program runs: the child reports when it returned. */
static double init_cost(void)
{
	double samples[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		int res[2];
		if (pipe2(res, O_CLOEXEC) < 0)
			die("pipe");
		double t0 = 0;
		pid_t pid = fork();
		if (pid == 0) {
			close(res[0]);
			t0 = now_ns();
			priv_init("privman-bench");
			double t1 = now_ns();
			double d = t1 - t0;
			if (write(res[1], &d, sizeof(d)) != (ssize_t)sizeof(d))
				_exit(1);
			exit(0);
		}
		close(res[1]);
		read_all(res[0], &samples[b], sizeof(double));
		close(res[0]);
		waitpid(pid, NULL, 0);
	}
	return median(samples, BATCHES);
}

static long private_dirty_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		die("smaps_rollup");
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Private_Dirty: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void program_memory(int out, int in)
{
	char c = 0;
	for (int phase = 0; phase < 3; phase++) {
		if (phase > 0)
			for (int i = 0; i < 100000; i++) {
				int fd = priv_open(file, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					die("priv_open");
				close(fd);
			}
		if (write(out, &c, 1) != 1 || read(in, &c, 1) != 1)
			die("sync");
	}
}

/* Private_Dirty of the monitor before any request, after 100,000 and after
 * 100,000 more. */
static void memory(long kib[3])
{
	int rfd, gfd;
	pid_t mon;
	char c = 0;
	in_program(program_memory, &rfd, &gfd, &mon);
	for (int i = 0; i < 3; i++) {
		read_all(rfd, &c, 1);
		kib[i] = private_dirty_kib(mon);
		if (write(gfd, &c, 1) != 1)
			die("sync");
	}
	finish(rfd, gfd, mon);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/privman-bench.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		die("mkdtemp");
	snprintf(file, sizeof(file), "%s/data", dir);
	FILE *f = fopen(file, "we");
	if (!f)
		die("data file");
	fputs("benchmark data\n", f);
	fclose(f);
	chmod(file, 0644); /* open(2) opens the same file */
	char policy[160];
	snprintf(policy, sizeof(policy), "%s/privman-bench", dir);
	f = fopen(policy, "we");
	if (!f)
		die("policy");
	fprintf(f, "open_ro { \"%s\" }\nbind { 127.0.0.1:%d }\n", file, BENCH_PORT);
	fclose(f);
	setenv("PRIVMAN_CONF_DIR", dir, 1);
	unsetenv("PRIVMAN_AUDIT");
}

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

struct column {
	double bare, bare8, init, throughput;
	struct results r;
};

static const char *met(bool ok)
{
	return ok ? "met" : "MISSED";
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		fprintf(stderr, "bench_monitor: needs root (priv_init)\n");
		return 1;
	}
	if (argc > 1)
		iterations = atoi(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();
	struct column col[2]; /* 0: pinned to CPU 0, 1: unpinned */
	for (int i = 0; i < 2; i++) {
		pin(i == 0);
		col[i].r = latency();
		col[i].bare = col[i].r.bare;
		col[i].init = init_cost();
		col[i].bare8 = bare_throughput();
		col[i].throughput = monitor_throughput(i == 0);
	}
	pin(false);
	long kib[3];
	memory(kib);
	cleanup();

	const struct column *p = &col[0], *u = &col[1];
	double open_p = p->r.ratio, open_u = u->r.ratio;
	printf("median of batch means; pinned: every process on CPU 0   %9s %12s   %s\n",
	       "pinned", "unpinned", "goal");
	printf("%-44s %9.2f us %9.2f us\n", "bare limit: message, passed fd, the open", p->bare / 1e3,
	       u->bare / 1e3);
	printf("%-44s %9.2f us %9.2f us\n", "priv_open + close", p->r.priv_open / 1e3,
	       u->r.priv_open / 1e3);
	printf("%-44s %11.2fx %11.2fx   <= 1.15x pinned: %s\n", "  priv_open / bare limit, batch by batch", open_p,
	       open_u, met(open_p <= 1.15));
	printf("%-44s %9.2f us %9.2f us\n", "bare limit + the checks' system calls",
	       p->r.floor / 1e3, u->r.floor / 1e3);
	printf("%-44s %11.2fx %11.2fx   (what no user-space work can go below)\n",
	       "  that / bare limit, batch by batch", p->r.floor_ratio, u->r.floor_ratio);
	printf("%-44s %9.2f us %9.2f us\n", "open(2) + close", p->r.open_syscall / 1e3,
	       u->r.open_syscall / 1e3);
	printf("%-44s %11.2fx %11.2fx\n", "  priv_open / open(2)", p->r.priv_open / p->r.open_syscall,
	       u->r.priv_open / u->r.open_syscall);
	printf("%-44s %9.2f us %9.2f us\n", "socket + bind(2) + close", p->r.bind_syscall / 1e3,
	       u->r.bind_syscall / 1e3);
	printf("%-44s %9.2f us %9.2f us\n", "socket + priv_bind + close", p->r.priv_bind / 1e3,
	       u->r.priv_bind / 1e3);
	printf("%-44s %11.2fx %11.2fx\n", "  priv_bind / bind(2)", p->r.priv_bind / p->r.bind_syscall,
	       u->r.priv_bind / u->r.bind_syscall);
	printf("8 threads of one program, one server\n");
	printf("%-44s %10.0f/s %10.0f/s\n", "bare limit, 8 threads, one server", p->bare8, u->bare8);
	printf("%-44s %10.0f/s %10.0f/s   >= 100000/s pinned: %s\n", "priv_open + close, 8 threads",
	       p->throughput, u->throughput, met(p->throughput >= 100000));
	printf("%-44s %11.2fx %11.2fx\n", "  priv_open 8 threads / bare limit 8 threads",
	       p->throughput / p->bare8, u->throughput / u->bare8);
	printf("%-44s %9.3f ms %9.3f ms   < 0.5 ms pinned: %s\n", "priv_init until the program runs",
	       p->init / 1e6, u->init / 1e6, met(p->init < 0.5e6));
	printf("%-44s %ld KiB before, %ld after 100000 requests, %ld after 200000\n",
	       "monitor Private_Dirty", kib[0], kib[1], kib[2]);
	printf("%-44s %38s   < 1024 KiB, not growing: %s\n", "", "",
	       met(kib[2] < 1024 && kib[2] <= kib[1] + 8));
	return 0;
}
