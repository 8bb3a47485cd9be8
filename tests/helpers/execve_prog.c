/* A program split by priv_init that calls priv_execve as a program written
 * for the original Privman does, for tests/test_execve.c. USER or CHROOT
 * "-" stands for NULL. The environment of the new program is PATH=/bin.
 *
 *   execve_prog APPNAME replace USER CHROOT PROGRAM ARG...
 *       prints "before", calls priv_execve; a refusal prints "ERR <ERRNO>"
 *       and exits 0; were the call to return after success, it would print
 *       "should not have failed" and exit 99
 *   execve_prog APPNAME redirect FILE USER CHROOT PROGRAM ARG...
 *       the same with its stdout sent to FILE (opened for appending) first
 *   execve_prog APPNAME pidfile FILE USER CHROOT PROGRAM ARG...
 *       the same, after writing its pid to FILE
 *   execve_prog APPNAME threads FILE USER CHROOT PROGRAM ARG...
 *       the same, with a second thread that appends a byte to FILE every
 *       millisecond, reopening it each time (FILE must be writable by the
 *       unprivileged user); it wrote once before the call
 *   execve_prog APPNAME fork USER CHROOT PROGRAM ARG...
 *       a priv_fork child makes the call; the parent waits for the child
 *       and prints "child exit N" or "child signal N"
 *   execve_prog APPNAME twice USER CHROOT
 *       two threads call priv_execve at once, of /bin/sh printing "one" and
 *       exiting 1, and printing "two" and exiting 2
 *   execve_prog APPNAME spawn USER CHROOT PROGRAM ARG...
 *       priv_execve_spawn: "spawned" when it returns a pid, then "exit N"
 *       from priv_wait4
 *   execve_prog APPNAME evil HOW USER CHROOT PROGRAM ARG...
 *       speaks the wire itself, as hostile program code would: the request
 *       of priv_execve with a link socket that is broken as HOW says:
 *         nostdio  no message of standard streams queued on the link
 *         surplus  the message says one stream and a gate and carries
 *                  four fds
 *         stream   a SOCK_STREAM socket (no message boundaries)
 *         dirstdio a directory as its stdout (a way out of a chroot)
 *         pathstdio an O_PATH handle as its stdout
 *         foreign  a good link, but made by another process (a child that
 *                  sends both ends back), as one of the monitor's own
 *                  sockets would be
 *         garbage  a good request, then 8 bytes of nonsense on the link
 *         late     a good request whose gate opens 300 ms later, after
 *                  printing "opening"
 *       prints "OK" or "ERR <ERRNO>" for the request, and for garbage and
 *       late then "status 0x<wait status>" from the link, or "link closed" */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program/client.h"
#include "privman.h"
#include "wire/wire.h"

static char *env[] = {"PATH=/bin", NULL};

static const char *dash_null(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : s;
}

static void err(void)
{
	printf("ERR %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	fflush(stdout);
}

/* argv: USER CHROOT PROGRAM ARG... */
static int replace(char **argv)
{
	printf("before\n");
	priv_execve(argv[2], argv + 2, env, dash_null(argv[0]), dash_null(argv[1]));
	int e = errno;
	if (e == EPERM || e == EACCES || e == EINVAL) {
		err();
		return 0;
	}
	printf("should not have failed\n");
	return 99;
}

static const char *tick_file;
static volatile int ticked;

static void *ticker(void *unused)
{
	for (;;) {
		int fd = open(tick_file, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "x", 1) == 1)
				ticked = 1;
			close(fd);
		}
		usleep(1000);
	}
	return unused;
}

static void put_cstr(struct wire_writer *w, const char *s)
{
	if (strcmp(s, "-") == 0)
		s = "";
	wire_put_bytes(w, s, strlen(s) + 1);
}

/* Queue `bits` with `n` fds on `sock`: `stream` n - 1 times, then `gate`. */
static int send_streams_of(int sock, int32_t bits, int n, int gate, int stream)
{
	int fds[4] = {stream, stream, stream, stream};
	fds[n - 1] = gate;
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
	return sendmsg(sock, &mh, 0) == sizeof(bits) ? 0 : -1;
}

/* The same with stdout as the stream. */
static int send_streams(int sock, int32_t bits, int n, int gate)
{
	return send_streams_of(sock, bits, n, gate, 1);
}

/* A SOCK_SEQPACKET pair made by a child process, which passes both ends
 * back: its peer credentials are not ours. */
static int foreign_pair(int link[2])
{
	int back[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, back) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int pair[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
			_exit(1);
		union {
			char buf[CMSG_SPACE(sizeof(pair))];
			struct cmsghdr align;
		} out;
		memset(&out, 0, sizeof(out));
		int32_t zero = 0;
		struct iovec v = {.iov_base = &zero, .iov_len = sizeof(zero)};
		struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = out.buf,
				   .msg_controllen = sizeof(out.buf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(pair));
		memcpy(CMSG_DATA(c), pair, sizeof(pair));
		_exit(sendmsg(back[1], &m, 0) == sizeof(zero) ? 0 : 1);
	}
	close(back[1]);
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} control;
	int32_t bits;
	struct iovec iov = {.iov_base = &bits, .iov_len = sizeof(bits)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(back[0], &mh, MSG_CMSG_CLOEXEC);
	close(back[0]);
	waitpid(pid, NULL, 0);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (n != sizeof(bits) || !c || c->cmsg_len != CMSG_LEN(sizeof(int) * 2))
		return -1;
	memcpy(link, CMSG_DATA(c), sizeof(int) * 2);
	return 0;
}

/* argv: HOW USER CHROOT PROGRAM ARG... */
static int evil(char **argv)
{
	const char *how = argv[0];
	static unsigned char msg[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_EXEC_REPLACE, 0);
	put_cstr(&w, argv[3]);
	put_cstr(&w, argv[1]);
	put_cstr(&w, argv[2]);
	int32_t n = 0;
	while (argv[3 + n])
		n++;
	wire_put_int(&w, n);
	for (int32_t i = 0; i < n; i++)
		put_cstr(&w, argv[3 + i]);
	wire_put_int(&w, 1);
	put_cstr(&w, env[0]);
	size_t len = wire_writer_finish(&w);
	int link[2];
	int type = strcmp(how, "stream") == 0 ? SOCK_STREAM : SOCK_SEQPACKET;
	int gate[2];
	if (strcmp(how, "foreign") == 0 ? foreign_pair(link) < 0
					 : socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, link) < 0)
		return 2;
	if (pipe2(gate, O_CLOEXEC) < 0)
		return 2;
	/* stdout and the gate; the program may start at once but for "late" */
	if (strcmp(how, "surplus") == 0)
		send_streams(link[0], 2 | 8, 4, gate[0]);
	else if (strcmp(how, "dirstdio") == 0)
		send_streams_of(link[0], 2 | 8, 2, gate[0], open("/", O_RDONLY | O_DIRECTORY));
	else if (strcmp(how, "pathstdio") == 0)
		send_streams_of(link[0], 2 | 8, 2, gate[0], open("/etc", O_PATH));
	else if (strcmp(how, "nostdio") != 0)
		send_streams(link[0], 2 | 8, 2, gate[0]);
	if (strcmp(how, "late") != 0 && write(gate[1], "", 1) != 1)
		return 2;
	close(gate[0]);
	int rc = client_call(msg, len, &link[1], 1, NULL);
	close(link[1]);
	if (rc < 0) {
		err();
		return 0;
	}
	printf("OK\n");
	fflush(stdout);
	if (strcmp(how, "late") == 0) {
		usleep(300000);
		printf("opening\n");
		fflush(stdout);
		if (write(gate[1], "", 1) != 1)
			return 2;
	} else if (strcmp(how, "garbage") == 0) {
		char junk[8] = "nonsense";
		if (send(link[0], junk, sizeof(junk), 0) != sizeof(junk))
			return 2;
	} else {
		return 0;
	}
	int32_t status = -1;
	ssize_t got = recv(link[0], &status, sizeof(status), 0);
	if (got == 0)
		printf("link closed\n");
	else if (got == sizeof(status))
		printf("status 0x%x\n", (unsigned)status);
	else
		return 2;
	return 0;
}

static pthread_barrier_t both;

static void *twice_thread(void *arg)
{
	char **a = arg;
	pthread_barrier_wait(&both);
	priv_execve("/bin/sh", a + 2, env, dash_null(a[0]), dash_null(a[1]));
	printf("should not have failed\n");
	fflush(stdout);
	_exit(99);
}

static int twice(char **argv)
{
	static char *one[] = {NULL, NULL, "sh", "-c", "echo one; exit 1", NULL};
	static char *two[] = {NULL, NULL, "sh", "-c", "echo two; exit 2", NULL};
	one[0] = two[0] = argv[0];
	one[1] = two[1] = argv[1];
	pthread_t t1, t2;
	if (pthread_barrier_init(&both, NULL, 2) != 0 ||
	    pthread_create(&t1, NULL, twice_thread, one) != 0 ||
	    pthread_create(&t2, NULL, twice_thread, two) != 0)
		return 2;
	pthread_join(t1, NULL);
	return 3;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[2], "twice") == 0) {
		priv_init(argv[1]);
		return twice(argv + 3);
	}
	if (argc < 6) {
		fprintf(stderr, "usage: execve_prog APPNAME MODE ...\n");
		return 2;
	}
	priv_init(argv[1]);
	const char *mode = argv[2];
	if (strcmp(mode, "replace") == 0)
		return replace(argv + 3);
	if (strcmp(mode, "redirect") == 0 && argc >= 7) {
		int fd = open(argv[3], O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			return 2;
		close(fd);
		return replace(argv + 4);
	}
	if (strcmp(mode, "pidfile") == 0 && argc >= 7) {
		FILE *f = fopen(argv[3], "we");
		if (!f)
			return 2;
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
		return replace(argv + 4);
	}
	if (strcmp(mode, "threads") == 0 && argc >= 7) {
		tick_file = argv[3];
		pthread_t t;
		if (pthread_create(&t, NULL, ticker, NULL) != 0)
			return 2;
		for (int i = 0; i < 5000 && !ticked; i++)
			usleep(1000);
		return replace(argv + 4);
	}
	if (strcmp(mode, "fork") == 0) {
		fflush(stdout);
		pid_t pid = priv_fork();
		if (pid < 0) {
			err();
			return 0;
		}
		if (pid == 0)
			_exit(replace(argv + 3));
		int status;
		if (waitpid(pid, &status, 0) != pid)
			return 2;
		if (WIFSIGNALED(status))
			printf("child signal %d\n", WTERMSIG(status));
		else
			printf("child exit %d\n", WEXITSTATUS(status));
		return 0;
	}
	if (strcmp(mode, "evil") == 0 && argc >= 7)
		return evil(argv + 3);
	if (strcmp(mode, "spawn") == 0) {
		char **a = argv + 3;
		pid_t pid = priv_execve_spawn(a[2], a + 2, env, dash_null(a[0]), dash_null(a[1]));
		if (pid < 0) {
			err();
			return 0;
		}
		printf("spawned\n");
		int status;
		if (priv_wait4(pid, &status, 0, NULL) != pid) {
			err();
			return 1;
		}
		printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return 0;
	}
	fprintf(stderr, "execve_prog: bad mode %s\n", mode);
	return 2;
}
