/* A hostile program for the open_ao tests: after priv_init it gets an
 * append-only stream on a file and tries every way it knows to remove or
 * overwrite what is already in that file.
 *
 *   append_prog APPNAME COMMAND...
 *
 *   attack PATH        priv_open(PATH, O_WRONLY|O_APPEND), then ftruncate,
 *                      F_SETFL without O_APPEND + pwrite at 0, lseek 0 +
 *                      write, mmap MAP_SHARED + store, fallocate (punch a
 *                      hole, collapse, zero, shrink), copy_file_range and
 *                      sendfile at offset 0, reopen through /proc/self/fd/N
 *                      with O_TRUNC and O_RDWR; prints one line per try
 *                      ("NAME OK" or "NAME ERR ERRNO"), then writes "tail\n"
 *   burst PATH K N     K streams on PATH (K priv_opens), then 2K processes
 *                      (two per stream, plain fork) each writing N lines of
 *                      up to PIPE_BUF bytes, one write(2) per line
 *   last PATH K TEXT   K streams opened O_SYNC (the appender's writes are
 *                      slow), each grown to 1 MiB (F_SETPIPE_SZ), 10^6 bytes
 *                      of lines into each, TEXT into the last, and _exit(0)
 *                      at once
 *   fopen PATH TEXT    priv_fopen(PATH, "a"), fputs, fclose
 *   create PATH TEXT   priv_open(PATH, O_WRONLY|O_APPEND|O_CREAT, 0666), write
 *   streams PATH N     N streams at once: prints "streams <ok> <first errno>";
 *                      then closes 8 and retries (up to 5 s): "again OK"
 *   fill PATH KB       write KB lines of 1 KiB on one stream
 *   respawn PATH USER  write "parent\n", priv_respawn_as USER: the new
 *                      program writes "child\n" on a stream of its own
 *                      monitor and exits; the parent waits, writes "back\n"
 *   daemon PATH        write "before\n" on a stream, priv_daemon(1, 1), write
 *                      "after\n" on the same stream and "new\n" on a new one
 *   appuid PATH        priv_open, then print "appender uid U gid G" of the
 *                      appender and "program uid U"
 *   appender PATH      priv_open, write "before\n"; find the appender, try
 *                      /proc/PID/fd and pidfd_getfd on it, kill it; print
 *                      each result; then write until EPIPE; priv_open again
 *                      and write "after\n" */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "privman.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

static void result(const char *what, long rc)
{
	if (rc < 0)
		printf("%s ERR %s\n", what, ename(errno));
	else
		printf("%s OK\n", what);
}

static int open_ao(const char *path)
{
	int fd = priv_open(path, O_WRONLY | O_APPEND);
	if (fd < 0) {
		printf("priv_open ERR %s\n", ename(errno));
		exit(1);
	}
	return fd;
}

static void attack(const char *path)
{
	int fd = open_ao(path);
	static const char junk[] = "OVERWRITTEN";
	size_t n = sizeof(junk) - 1;

	result("ftruncate", ftruncate(fd, 0));
	int fl = fcntl(fd, F_GETFL);
	result("setfl", fcntl(fd, F_SETFL, fl & ~O_APPEND));
	result("pwrite", pwrite(fd, junk, n, 0));
	result("lseek", lseek(fd, 0, SEEK_SET));
	result("write", write(fd, "W", 1));
	void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	result("mmap", map == MAP_FAILED ? -1 : 0);
	if (map != MAP_FAILED) {
		memcpy(map, junk, n);
		msync(map, 4096, MS_SYNC);
		munmap(map, 4096);
	}
	result("punch", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	result("collapse", fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096));
	result("zero", fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 4096));

	int src[2];
	if (pipe(src) == 0) {
		/* A file of our own as the source. */
		char tmp[] = "/tmp/append_prog.XXXXXX";
		int t = mkstemp(tmp);
		if (t >= 0) {
			unlink(tmp);
			if (write(t, junk, n) != (ssize_t)n)
				printf("tmp write failed\n");
			loff_t in = 0, out = 0;
			result("copy_file_range", copy_file_range(t, &in, fd, &out, n, 0));
			off_t off = 0;
			lseek(fd, 0, SEEK_SET);
			result("sendfile", sendfile(fd, t, &off, n));
			close(t);
		}
		close(src[0]);
		close(src[1]);
	}

	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int re = open(proc, O_WRONLY | O_TRUNC);
	result("proc_trunc", re);
	if (re >= 0) {
		if (write(re, junk, n) < 0)
			printf("proc_trunc write failed\n");
		close(re);
	}
	re = open(proc, O_RDWR);
	result("proc_rdwr", re);
	if (re >= 0) {
		if (pwrite(re, junk, n, 0) < 0)
			printf("proc_rdwr pwrite failed\n");
		close(re);
	}
	struct stat st;
	if (fstat(fd, &st) == 0)
		printf("fstat %s\n", S_ISREG(st.st_mode) ? "regular" : S_ISFIFO(st.st_mode) ? "fifo" : "other");
	if (write(fd, "tail\n", 5) != 5)
		printf("tail write failed: %s\n", ename(errno));
	close(fd);
}

/* One line of stream `k`, process `p`, number `i`: a header, then filler
 * of a length that varies up to PIPE_BUF, then a newline. */
static size_t make_line(char *buf, int k, int p, int i)
{
	int len = snprintf(buf, 64, "L %d %d %d ", k, p, i);
	size_t want = 16 + (size_t)((k * 7919 + p * 104729 + i * 1299709) % (PIPE_BUF - 80));
	memset(buf + len, 'a' + (k + p + i) % 26, want);
	buf[len + want] = '\n';
	return (size_t)len + want + 1;
}

static void burst(const char *path, int k, int n)
{
	int *fds = calloc((size_t)k, sizeof(int));
	for (int s = 0; s < k; s++)
		fds[s] = open_ao(path);
	for (int s = 0; s < k; s++) {
		for (int p = 0; p < 2; p++) {
			pid_t pid = fork();
			if (pid == 0) {
				char line[PIPE_BUF];
				for (int i = 0; i < n; i++) {
					size_t len = make_line(line, s, p, i);
					if (write(fds[s], line, len) != (ssize_t)len)
						_exit(1);
				}
				_exit(0);
			}
		}
	}
	for (int s = 0; s < k; s++)
		close(fds[s]);
	int status, bad = 0;
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	printf("burst %d\n", bad);
	free(fds);
}

static void streams(const char *path, int n)
{
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);
	int *fds = calloc((size_t)n, sizeof(int));
	int ok = 0, first = 0;
	for (int i = 0; i < n; i++) {
		fds[i] = priv_open(path, O_WRONLY | O_APPEND);
		if (fds[i] >= 0)
			ok++;
		else if (!first)
			first = errno;
	}
	printf("streams %d %s\n", ok, first ? ename(first) : "none");
	int closed = 0;
	for (int i = 0; i < n && closed < 8; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
			closed++;
		}
	/* The appender tells the monitor of closed streams as it sees them. */
	for (int tries = 0; tries < 500; tries++) {
		int fd = priv_open(path, O_WRONLY | O_APPEND);
		if (fd >= 0) {
			printf("again OK\n");
			if (write(fd, "again\n", 6) != 6)
				printf("again write failed\n");
			close(fd);
			break;
		}
		if (errno != EMFILE) {
			printf("again ERR %s\n", ename(errno));
			break;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

static pid_t find_appender_once(void);

/* The appender: a child of our monitor (our parent) named privman-append.
 * It is forked when the first stream is asked for and names itself at once:
 * look again for a while. */
static pid_t find_appender(void)
{
	pid_t found = 0;
	for (int tries = 0; tries < 500 && (found = find_appender_once()) <= 0; tries++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return found;
}

static pid_t find_appender_once(void)
{
	pid_t monitor = getppid();
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && (e = readdir(d))) {
		char p[300], buf[512];
		snprintf(p, sizeof(p), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(p, "re");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		char *open = strchr(buf, '('), *close_ = strrchr(buf, ')');
		if (!open || !close_)
			continue;
		*close_ = '\0';
		int ppid = 0;
		char state;
		if (sscanf(close_ + 2, "%c %d", &state, &ppid) != 2)
			continue;
		if (ppid == monitor && strcmp(open + 1, "privman-append") == 0)
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* Whether process PID runs with our real, effective and saved uid. */
static int runs_as_us(pid_t pid)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	FILE *f = fopen(p, "re");
	int ours = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned r, e, s;
		if (sscanf(line, "Uid: %u %u %u", &r, &e, &s) == 3) {
			uid_t me = getuid();
			ours = r == me && e == me && s == me;
			break;
		}
	}
	if (f)
		fclose(f);
	return ours;
}

static void appender(const char *path)
{
	signal(SIGPIPE, SIG_IGN);
	int fd = open_ao(path);
	if (write(fd, "before\n", 7) != 7)
		printf("before write failed\n");
	pid_t app = find_appender();
	/* It is forked as root and drops at once: wait until it is ours, or a
	 * refused kill would say nothing of its protection. */
	for (int tries = 0; app > 0 && tries < 500 && !runs_as_us(app); tries++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("appender %s\n", app > 0 ? "found" : "missing");
	if (app <= 0)
		return;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)app);
	DIR *d = opendir(p);
	result("procfd", d ? 0 : -1);
	if (d)
		closedir(d);
	for (int n = 3; n < 8; n++) {
		snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)app, n);
		int re = open(p, O_WRONLY);
		if (re >= 0) {
			printf("procfd open %d OK\n", n);
			close(re);
		}
	}
	int pidfd = (int)syscall(SYS_pidfd_open, app, 0);
	int stolen = -1;
	for (int n = 3; pidfd >= 0 && n < 8 && stolen < 0; n++)
		stolen = (int)syscall(SYS_pidfd_getfd, pidfd, n, 0);
	result("getfd", stolen);
	result("kill", kill(app, SIGKILL));
	/* Its end of our pipe closes once it is gone: then a write fails. */
	ssize_t w = 0;
	for (int tries = 0; tries < 500 && w >= 0; tries++) {
		w = write(fd, "\n", 1);
		struct timespec ts = {0, 10 * 1000 * 1000};
		if (w >= 0)
			nanosleep(&ts, NULL);
	}
	printf("write %s\n", w < 0 ? ename(errno) : "OK");
	close(fd);
	fd = open_ao(path);
	result("after", write(fd, "after\n", 6));
	close(fd);
}

/* In the respawned program: its own monitor, its own appender. */
static void respawned(char *const *args)
{
	int fd = open_ao(args[0]);
	if (write(fd, "child\n", 6) != 6)
		_exit(3);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	for (int i = 2; i < argc; i++) {
		const char *cmd = argv[i];
		if (strcmp(cmd, "attack") == 0) {
			attack(argv[++i]);
		} else if (strcmp(cmd, "burst") == 0) {
			const char *path = argv[++i];
			int k = atoi(argv[++i]);
			burst(path, k, atoi(argv[++i]));
		} else if (strcmp(cmd, "last") == 0) {
			const char *path = argv[++i];
			int k = atoi(argv[++i]);
			const char *text = argv[++i];
			enum { BLOCK = 1000000 };
			static char block[BLOCK + 1]; /* and snprintf's NUL */
			for (size_t o = 0; o < BLOCK; o += 100)
				snprintf(block + o, 101, "%-99zu\n", o);
			int fd = -1;
			for (int s = 0; s < k; s++) {
				fd = priv_open(path, O_WRONLY | O_APPEND | O_SYNC);
				if (fd < 0)
					_exit(4);
				fcntl(fd, F_SETPIPE_SZ, 1 << 20);
				if (write(fd, block, BLOCK) != BLOCK)
					_exit(3);
			}
			if (write(fd, text, strlen(text)) < 0)
				_exit(3);
			_exit(0);
		} else if (strcmp(cmd, "fopen") == 0) {
			FILE *f = priv_fopen(argv[++i], "a");
			const char *text = argv[++i];
			if (!f) {
				printf("fopen ERR %s\n", ename(errno));
				continue;
			}
			fputs(text, f);
			result("fclose", fclose(f));
		} else if (strcmp(cmd, "create") == 0) {
			int fd = priv_open(argv[++i], O_WRONLY | O_APPEND | O_CREAT, 0666);
			const char *text = argv[++i];
			result("create", fd);
			if (fd >= 0) {
				result("create write", write(fd, text, strlen(text)));
				close(fd);
			}
		} else if (strcmp(cmd, "streams") == 0) {
			const char *path = argv[++i];
			streams(path, atoi(argv[++i]));
		} else if (strcmp(cmd, "fill") == 0) {
			int fd = open_ao(argv[++i]);
			int kb = atoi(argv[++i]);
			char line[1024];
			memset(line, 'f', sizeof(line));
			line[sizeof(line) - 1] = '\n';
			for (int k = 0; k < kb; k++)
				if (write(fd, line, sizeof(line)) != (ssize_t)sizeof(line))
					_exit(3);
			result("fill", close(fd));
		} else if (strcmp(cmd, "respawn") == 0) {
			char *path = argv[++i];
			const char *user = argv[++i];
			int fd = open_ao(path);
			if (write(fd, "parent\n", 7) != 7)
				_exit(3);
			char *args[] = {path, NULL};
			pid_t pid = priv_respawn_as(respawned, args, user, NULL);
			int status = -1;
			if (pid < 0 || priv_wait4(pid, &status, 0, NULL) != pid)
				printf("respawn ERR %s\n", ename(errno));
			else
				printf("respawn status %d\n", status);
			result("back", write(fd, "back\n", 5));
		} else if (strcmp(cmd, "daemon") == 0) {
			const char *path = argv[++i];
			int fd = open_ao(path);
			if (write(fd, "before\n", 7) != 7 || priv_daemon(1, 1) < 0)
				_exit(3);
			if (write(fd, "after\n", 6) != 6)
				_exit(3);
			int fd2 = open_ao(path);
			if (write(fd2, "new\n", 4) != 4)
				_exit(3);
		} else if (strcmp(cmd, "appuid") == 0) {
			int fd = open_ao(argv[++i]);
			pid_t app = find_appender();
			/* Forked as root, it drops at once: give it the time. */
			for (int tries = 0; app > 0 && tries < 500 && !runs_as_us(app); tries++) {
				struct timespec ts = {0, 10 * 1000 * 1000};
				nanosleep(&ts, NULL);
			}
			char p[64], line[256];
			snprintf(p, sizeof(p), "/proc/%d/status", (int)app);
			FILE *f = app > 0 ? fopen(p, "re") : NULL;
			unsigned uid = 0, gid = 0;
			while (f && fgets(line, sizeof(line), f)) {
				sscanf(line, "Uid: %u", &uid);
				sscanf(line, "Gid: %u", &gid);
			}
			if (f)
				fclose(f);
			printf("appender uid %u gid %u\nprogram uid %u\n", uid, gid,
			       (unsigned)getuid());
			close(fd);
		} else if (strcmp(cmd, "appender") == 0) {
			appender(argv[++i]);
		} else {
			fprintf(stderr, "unknown command %s\n", cmd);
			return 2;
		}
	}
	return 0;
}
