/* A program split by priv_init that runs the requests named on its command
 * line and prints one line per result, for the monitor tests:
 *
 *   monitor_prog APPNAME COMMAND... 
 *
 *   open PATH FLAGS [MODE]  FLAGS: letters r (O_RDONLY) w (O_WRONLY) b (O_RDWR)
 *                           a (O_APPEND) c (O_CREAT) t (O_TRUNC) x (O_EXCL)
 *                           n (O_NOFOLLOW) d (O_DIRECTORY) p (O_PATH) T (O_TMPFILE)
 *                           e (O_CLOEXEC) A (O_ASYNC)
 *                           prints "OK <first line>" or "ERR <ERRNO NAME>"
 *   write PATH FLAGS TEXT   priv_open then write TEXT
 *   fopen PATH MODE         priv_fopen, prints the first line
 *   unlink PATH
 *   bind4 ADDR PORT | bind6 ADDR PORT | bindfile
 *   direct PATH             open(2) without the monitor (proves the drop)
 *   chdir DIR | uid | caps | fds | sleep MS | exit STATUS (priv_exit)
 *   quit STATUS             exit(3) at once, without a word to the monitor
 *   loop N PATH             priv_open N times, print "<ok> <matching> <other>"
 *                           where matching counts opens whose first line is
 *                           the word "granted"
 *   threads T N GOOD BAD    T threads, each N rounds of: priv_open GOOD (must
 *                           read "granted"), priv_open BAD (must fail EACCES);
 *                           prints "threads <right> <wrong> <rate>/s"
 *   timedopen PATH          priv_open, prints "ERR <NAME> <microseconds>"
 *   openm PATH FLAGS MODE   priv_open with an octal creation mode
 *   catch                   record SIGHUP, SIGUSR1, SIGUSR2 instead of dying
 *   signals                 print the recorded signals, "signals H1 U1 U2"
 *   forkopen PATH           fork(2); the child tries priv_open (a plain
 *                           fork has no channel), then the parent does
 *   reinit                  priv_init a second time
 *   ready                   print "READY <pid>" and wait for a line on stdin */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "privman.h"

static int parse_flags(const char *s)
{
	int f = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'r': f |= O_RDONLY; break;
		case 'w': f |= O_WRONLY; break;
		case 'b': f |= O_RDWR; break;
		case 'a': f |= O_APPEND; break;
		case 'c': f |= O_CREAT; break;
		case 't': f |= O_TRUNC; break;
		case 'x': f |= O_EXCL; break;
		case 'n': f |= O_NOFOLLOW; break;
		case 'd': f |= O_DIRECTORY; break;
		case 'p': f |= O_PATH; break;
		case 'T': f |= O_TMPFILE; break;
		case 'e': f |= O_CLOEXEC; break;
		case 'A': f |= O_ASYNC; break;
		default: fprintf(stderr, "bad flag %c\n", *s); exit(2);
		}
	}
	return f;
}

static void err(void)
{
	printf("ERR %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
}

static void first_line(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static void do_bind(int family, const char *addr, int port)
{
	int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof(*sin6);
	}
	if (priv_bind(s, (struct sockaddr *)&ss, len) < 0) {
		err();
	} else {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);
		getsockname(s, (struct sockaddr *)&got, &gl);
		int p = ntohs(family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
						: ((struct sockaddr_in6 *)&got)->sin6_port);
		printf("OK port %d\n", p);
	}
	close(s);
}

static volatile sig_atomic_t got_hup, got_usr1, got_usr2;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup++;
	else if (sig == SIGUSR1)
		got_usr1++;
	else if (sig == SIGUSR2)
		got_usr2++;
}

struct thread_job {
	long rounds;
	const char *good, *bad;
	long right, wrong;
};

static void *thread_main(void *arg)
{
	struct thread_job *j = arg;
	char line[64];
	for (long k = 0; k < j->rounds; k++) {
		int fd = priv_open(j->good, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			first_line(fd, line, sizeof(line));
			close(fd);
			if (strcmp(line, "granted") == 0)
				j->right++;
			else
				j->wrong++;
		} else {
			j->wrong++;
		}
		fd = priv_open(j->bad, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == EACCES)
			j->right++;
		else
			j->wrong++;
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A program that ignores SIGCHLD and left a timer running before
	 * priv_init: neither may upset the monitor. */
	if (getenv("MONITOR_PROG_HOSTILE_START")) {
		signal(SIGCHLD, SIG_IGN);
		alarm(1);
	}
	priv_init(argv[1]);
	if (getenv("MONITOR_PROG_HOSTILE_START"))
		alarm(0);
	for (int i = 2; i < argc; i++) {
		const char *cmd = argv[i];
		char line[256];
		if (strcmp(cmd, "open") == 0 || strcmp(cmd, "write") == 0) {
			const char *path = argv[++i];
			int flags = parse_flags(argv[++i]);
			int is_write = cmd[0] == 'w';
			const char *text = is_write ? argv[++i] : NULL;
			int fd = priv_open(path, flags, 0666);
			if (fd < 0) {
				err();
				continue;
			}
			if (is_write) {
				ssize_t n = write(fd, text, strlen(text));
				printf(n < 0 ? "ERR write\n" : "OK wrote\n");
			} else {
				first_line(fd, line, sizeof(line));
				printf("OK %s\n", line);
			}
			close(fd);
		} else if (strcmp(cmd, "fopen") == 0) {
			const char *path = argv[++i], *mode = argv[++i];
			FILE *f = priv_fopen(path, mode);
			if (!f) {
				err();
				continue;
			}
			first_line(fileno(f), line, sizeof(line));
			printf("OK %s\n", line);
			fclose(f);
		} else if (strcmp(cmd, "unlink") == 0) {
			if (priv_unlink(argv[++i]) < 0)
				err();
			else
				printf("OK\n");
		} else if (strcmp(cmd, "bind4") == 0 || strcmp(cmd, "bind6") == 0) {
			const char *addr = argv[++i];
			int port = atoi(argv[++i]);
			do_bind(cmd[4] == '4' ? AF_INET : AF_INET6, addr, port);
		} else if (strcmp(cmd, "bindfile") == 0) {
			int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (priv_bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
				err();
			else
				printf("OK\n");
			close(fd);
		} else if (strcmp(cmd, "direct") == 0) {
			int fd = open(argv[++i], O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				err();
			else
				printf("OK\n");
			if (fd >= 0)
				close(fd);
		} else if (strcmp(cmd, "chdir") == 0) {
			if (chdir(argv[++i]) < 0)
				err();
			else
				printf("OK\n");
		} else if (strcmp(cmd, "uid") == 0) {
			printf("uid %u euid %u\n", (unsigned)getuid(), (unsigned)geteuid());
		} else if (strcmp(cmd, "fds") == 0) {
			printf("fds %d\n", count_fds());
		} else if (strcmp(cmd, "sleep") == 0) {
			usleep((useconds_t)atoi(argv[++i]) * 1000);
		} else if (strcmp(cmd, "quit") == 0) {
			exit(atoi(argv[++i]));
		} else if (strcmp(cmd, "exit") == 0) {
			priv_exit(atoi(argv[++i]));
		} else if (strcmp(cmd, "loop") == 0) {
			long n = atol(argv[++i]);
			const char *path = argv[++i];
			long ok = 0, granted = 0, other = 0;
			for (long k = 0; k < n; k++) {
				int fd = priv_open(path, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					continue;
				ok++;
				first_line(fd, line, sizeof(line));
				if (strcmp(line, "granted") == 0)
					granted++;
				else
					other++;
				close(fd);
			}
			printf("%ld %ld %ld\n", ok, granted, other);
		} else if (strcmp(cmd, "threads") == 0) {
			int t = atoi(argv[++i]);
			long n = atol(argv[++i]);
			const char *good = argv[++i], *bad = argv[++i];
			pthread_t tid[64];
			struct thread_job jobs[64];
			if (t > 64)
				t = 64;
			double t0 = now_us();
			for (int k = 0; k < t; k++) {
				jobs[k] = (struct thread_job){n, good, bad, 0, 0};
				pthread_create(&tid[k], NULL, thread_main, &jobs[k]);
			}
			long right = 0, wrong = 0;
			for (int k = 0; k < t; k++) {
				pthread_join(tid[k], NULL);
				right += jobs[k].right;
				wrong += jobs[k].wrong;
			}
			double secs = (now_us() - t0) / 1e6;
			printf("threads %ld %ld %.0f/s\n", right, wrong, (double)(right + wrong) / secs);
		} else if (strcmp(cmd, "timedopen") == 0) {
			double t0 = now_us();
			int fd = priv_open(argv[++i], O_RDONLY | O_CLOEXEC);
			double us = now_us() - t0;
			if (fd >= 0) {
				printf("OK %.0f\n", us);
				close(fd);
			} else {
				printf("ERR %s %.0f\n", strerrorname_np(errno), us);
			}
		} else if (strcmp(cmd, "openm") == 0) {
			const char *path = argv[++i];
			int flags = parse_flags(argv[++i]);
			mode_t mode = (mode_t)strtoul(argv[++i], NULL, 8);
			int fd = priv_open(path, flags, mode);
			if (fd < 0) {
				err();
				continue;
			}
			printf("OK\n");
			close(fd);
		} else if (strcmp(cmd, "catch") == 0) {
			struct sigaction sa;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_signal;
			sa.sa_flags = SA_RESTART;
			sigaction(SIGHUP, &sa, NULL);
			sigaction(SIGUSR1, &sa, NULL);
			sigaction(SIGUSR2, &sa, NULL);
		} else if (strcmp(cmd, "signals") == 0) {
			printf("signals H%d U%d U%d\n", (int)got_hup, (int)got_usr1, (int)got_usr2);
		} else if (strcmp(cmd, "forkopen") == 0) {
			const char *path = argv[++i];
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0) {
				int fd = priv_open(path, O_RDONLY | O_CLOEXEC);
				printf("child %s\n", fd < 0 ? strerrorname_np(errno) : "OK");
				fflush(stdout);
				_exit(0);
			}
			waitpid(pid, NULL, 0);
			int fd = priv_open(path, O_RDONLY | O_CLOEXEC);
			printf("parent %s\n", fd < 0 ? strerrorname_np(errno) : "OK");
			if (fd >= 0)
				close(fd);
		} else if (strcmp(cmd, "reinit") == 0) {
			priv_init(argv[1]);
			printf("OK reinit returned\n");
		} else if (strcmp(cmd, "ready") == 0) {
			printf("READY %d\n", (int)getpid());
			if (!fgets(line, sizeof(line), stdin))
				line[0] = '\0';
		} else {
			fprintf(stderr, "unknown command %s\n", cmd);
			return 2;
		}
	}
	return 0;
}
