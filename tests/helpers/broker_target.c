/* A hostile (or merely unusual) program run under `privman run`'s broker,
 * by tests/test_broker.c. It knows nothing of privman: it makes plain
 * system calls. One mode per run, one line of results on stdout:
 *
 *   race GRANTED OTHER COUNT LINE
 *                  a thread flips one path buffer between GRANTED and OTHER
 *                  while the main thread opens it COUNT times and reads the
 *                  first line (LINE: GRANTED's): "race granted=G other=O
 *                  refused=R"
 *   symlink LINK GRANTED OTHER COUNT LINE
 *                  a child swaps LINK between symlinks to GRANTED and OTHER
 *                  while this process opens LINK COUNT times:
 *                  "symlink granted=G other=O refused=R"
 *   uring          io_uring_setup: "uring ERRNO"
 *   int80          getpid through the i386 ABI (int 0x80): "int80 returned"
 *                  if it comes back (it must not: the process is killed)
 *   tree FILE      fork a child that leaves the session (setsid) and forks
 *                  a grandchild; write the three pids to FILE, then sleep
 *   sleep FILE     write this pid to FILE, then sleep
 *   thread DIR NAME
 *                  a thread with a working directory of its own (unshare
 *                  CLONE_FS) in DIR opens NAME, relative: "thread FIRSTLINE"
 *                  or "thread ERRNO"
 *   openat2 PATH RESOLVE
 *                  openat2(AT_FDCWD, PATH, O_RDONLY) with RESOLVE (a number)
 *                  as its resolve field: "openat2 FIRSTLINE" or
 *                  "openat2 ERRNO"
 *   dying PATH COUNT
 *                  COUNT times: fork a child that opens PATH without end and
 *                  kill it after a moment, mid-request; then open PATH:
 *                  "dying FIRSTLINE" or "dying ERRNO"
 *   excl PATH COUNT
 *                  a child sends SIGUSR1 (SA_RESTART handler) as fast as it
 *                  can while this process, COUNT times, opens PATH with
 *                  O_CREAT | O_EXCL and unlinks it: "excl ok=N eexist=E
 *                  other=X"
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char path_buf[4096];
static const char *flip[2];
static atomic_int stop_flipping;

static void *flipper(void *arg)
{
	unsigned i = 0;
	while (!atomic_load(&stop_flipping)) {
		const char *p = flip[i++ & 1];
		/* Written byte by byte, as a racing attacker would. */
		size_t n = strlen(p);
		for (size_t k = 0; k <= n; k++)
			((volatile char *)path_buf)[k] = p[k];
	}
	return arg;
}

/* The first line of `fd` into buf (closed). */
static void first_line(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int race(const char *granted, const char *other, long count, const char *granted_line)
{
	flip[0] = granted;
	flip[1] = other;
	strcpy(path_buf, granted);
	pthread_t t;
	if (pthread_create(&t, NULL, flipper, NULL) != 0)
		return 1;
	long g = 0, o = 0, r = 0;
	for (long i = 0; i < count; i++) {
		int fd = open(path_buf, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r++;
			continue;
		}
		char line[256];
		first_line(fd, line, sizeof(line));
		if (strcmp(line, granted_line) == 0)
			g++;
		else
			o++;
	}
	atomic_store(&stop_flipping, 1);
	pthread_join(t, NULL);
	printf("race granted=%ld other=%ld refused=%ld\n", g, o, r);
	return 0;
}

static int symlinks(const char *link, const char *granted, const char *other, long count,
		    const char *granted_line)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.new", link);
	pid_t child = fork();
	if (child == 0) {
		for (unsigned i = 0;; i++) {
			unlink(tmp);
			if (symlink((i & 1) ? other : granted, tmp) == 0)
				rename(tmp, link);
		}
	}
	long g = 0, o = 0, r = 0;
	for (long i = 0; i < count; i++) {
		int fd = open(link, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r++;
			continue;
		}
		char line[256];
		first_line(fd, line, sizeof(line));
		if (strcmp(line, granted_line) == 0)
			g++;
		else
			o++;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("symlink granted=%ld other=%ld refused=%ld\n", g, o, r);
	return 0;
}

static int uring(void)
{
	char params[120];
	memset(params, 0, sizeof(params));
	long rc = syscall(SYS_io_uring_setup, 8, params);
	printf("uring %s\n", rc < 0 ? strerrorname_np(errno) : "OK");
	return 0;
}

static int int80(void)
{
	fflush(stdout);
#if defined(__x86_64__)
	long ret;
	long nr = 20; /* getpid in the i386 ABI */
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
	printf("int80 returned %ld\n", ret);
#else
	printf("int80 not x86-64\n");
#endif
	return 0;
}

static void write_pids(const char *file, const char *text)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	FILE *f = fopen(tmp, "w");
	if (!f)
		_exit(3);
	fputs(text, f);
	fclose(f);
	rename(tmp, file);
}

static int __attribute__((noreturn)) tree(const char *file)
{
	int p[2];
	if (pipe(p) < 0)
		_exit(1);
	pid_t child = fork();
	if (child < 0)
		_exit(1);
	if (child == 0) {
		setsid(); /* out of every process group and session of the tree */
		pid_t grandchild = fork();
		if (grandchild == 0) {
			for (;;)
				pause();
		}
		dprintf(p[1], "%d\n", (int)grandchild);
		for (;;)
			pause();
	}
	char buf[32] = "";
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	char text[128];
	snprintf(text, sizeof(text), "%d %d %d\n", (int)getpid(), (int)child, atoi(buf));
	write_pids(file, text);
	for (;;)
		pause();
}

static int __attribute__((noreturn)) sleeper(const char *file)
{
	char text[32];
	snprintf(text, sizeof(text), "%d\n", (int)getpid());
	write_pids(file, text);
	for (;;)
		pause();
}

struct thread_job {
	const char *dir, *name;
	char out[512];
};

static void *thread_open(void *arg)
{
	struct thread_job *j = arg;
	if (unshare(CLONE_FS) < 0 || chdir(j->dir) < 0) {
		snprintf(j->out, sizeof(j->out), "thread setup %s", strerrorname_np(errno));
		return NULL;
	}
	int fd = open(j->name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(j->out, sizeof(j->out), "thread %s", strerrorname_np(errno));
		return NULL;
	}
	char line[256];
	first_line(fd, line, sizeof(line));
	snprintf(j->out, sizeof(j->out), "thread %s", line);
	return NULL;
}

static int thread(const char *dir, const char *name)
{
	struct thread_job j = {dir, name, ""};
	pthread_t t;
	if (pthread_create(&t, NULL, thread_open, &j) != 0)
		return 1;
	pthread_join(t, NULL);
	printf("%s\n", j.out);
	return 0;
}

static int openat2_mode(const char *path, unsigned long long resolve)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .mode = 0, .resolve = resolve};
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0) {
		printf("openat2 %s\n", strerrorname_np(errno));
		return 0;
	}
	char line[256];
	first_line((int)fd, line, sizeof(line));
	printf("openat2 %s\n", line);
	return 0;
}

static int dying(const char *path, long count)
{
	for (long i = 0; i < count; i++) {
		pid_t child = fork();
		if (child == 0) {
			for (;;) {
				int fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd >= 0)
					close(fd);
			}
		}
		usleep(1000 + (useconds_t)(i % 7) * 100);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("dying %s\n", strerrorname_np(errno));
		return 0;
	}
	char line[256];
	first_line(fd, line, sizeof(line));
	printf("dying %s\n", line);
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static int excl(const char *path, long count)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pid_t self = getpid();
	pid_t child = fork();
	if (child == 0) {
		for (;;)
			kill(self, SIGUSR1);
	}
	long ok = 0, eexist = 0, other = 0;
	for (long i = 0; i < count; i++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			ok++;
			close(fd);
		} else if (errno == EEXIST) {
			eexist++;
		} else {
			other++;
		}
		unlink(path);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("excl ok=%ld eexist=%ld other=%ld\n", ok, eexist, other);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && strcmp(argv[1], "race") == 0)
		return race(argv[2], argv[3], atol(argv[4]), argv[5]);
	if (argc == 7 && strcmp(argv[1], "symlink") == 0)
		return symlinks(argv[2], argv[3], argv[4], atol(argv[5]), argv[6]);
	if (argc == 2 && strcmp(argv[1], "uring") == 0)
		return uring();
	if (argc == 2 && strcmp(argv[1], "int80") == 0)
		return int80();
	if (argc == 3 && strcmp(argv[1], "tree") == 0)
		return tree(argv[2]);
	if (argc == 3 && strcmp(argv[1], "sleep") == 0)
		return sleeper(argv[2]);
	if (argc == 4 && strcmp(argv[1], "thread") == 0)
		return thread(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "openat2") == 0)
		return openat2_mode(argv[2], strtoull(argv[3], NULL, 0));
	if (argc == 4 && strcmp(argv[1], "dying") == 0)
		return dying(argv[2], atol(argv[3]));
	if (argc == 4 && strcmp(argv[1], "excl") == 0)
		return excl(argv[2], atol(argv[3]));
	fprintf(stderr, "broker_target: bad arguments\n");
	return 2;
}
