/* A probe of what a confined process may do by itself, for test_confine:
 * each action prints "ACTION ARG: ok" or "ACTION ARG: <ERRNO NAME>".
 *
 *   confine_probe [init APPNAME] ACTION ARG [ACTION ARG]...
 *
 *   init APPNAME   priv_init(APPNAME) first (a program split by privman)
 *   read PATH      open(2) read-only and read a byte
 *   create PATH    open(2) O_WRONLY|O_CREAT|O_TRUNC and write
 *   exec PATH      fork, execve PATH (output to /dev/null): ok once it ran
 *   bind PORT      bind a TCP socket to 127.0.0.1:PORT
 *   connect PORT   connect a TCP socket to 127.0.0.1:PORT
 *   fastopen PORT  sendto with MSG_FASTOPEN to 127.0.0.1:PORT (a connect
 *                  made by sendto: TCP Fast Open)
 *   kill PID       kill(PID, 0)
 *   ptrace PID     PTRACE_ATTACH (then detach)
 *   iouring -      io_uring_setup
 *   mptcp -        socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)
 *   sctp -         socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)
 *   seqpacket -    socket(AF_INET6, SOCK_SEQPACKET, 0) (SCTP by its type)
 *   family N       socket(N, SOCK_DGRAM, 0)
 *   pair N         socketpair(N, SOCK_STREAM, 0)
 *   abstract NAME  connect to the abstract UNIX socket NAME
 *   int80 -        (x86-64) getpid through the i386 ABI, in a child: ok, or
 *                  the signal that ended it
 *   privopen PATH  priv_open read-only (the monitor opens it) and read
 *   nohup -        ignore SIGHUP (which the monitor forwards on a reload)
 *   ready -        print "ready -: ok" (the actions before have been done)
 *   waitfor PATH   wait until PATH exists (at most 10 s; stat is not confined)
 *   privbind PORT  priv_bind a TCP socket to 127.0.0.1:PORT (the monitor binds)
 *   rerun USER     priv_rerunas USER (monitored); the new process reads
 *                  /etc/passwd and prints "rerun read /etc/passwd: ..." */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privman.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return 1; /* confined: LeakSanitizer cannot read /proc */
}

static int result(int rc)
{
	return rc < 0 ? errno : 0;
}

static int read_one(int fd)
{
	if (fd < 0)
		return errno;
	char c;
	int rc = read(fd, &c, 1) < 0 ? errno : 0;
	close(fd);
	return rc;
}

static int do_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	int rc = write(fd, "x\n", 2) == 2 ? 0 : errno;
	close(fd);
	return rc;
}

/* The child reports a failed execve through a close-on-exec pipe: an empty
 * pipe means the program ran. */
static int do_exec(const char *path)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		close(p[0]);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		char *argv[] = { (char *)(uintptr_t)path, NULL };
		execv(path, argv);
		int err = errno;
		if (write(p[1], &err, sizeof(err)) < 0)
			_exit(126);
		_exit(127);
	}
	close(p[1]);
	int err = 0;
	if (read(p[0], &err, sizeof(err)) != sizeof(err))
		err = 0;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return err;
}

static int tcp(int port, int bind_it);

static int do_privbind(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = priv_bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
	close(fd);
	return rc;
}

static int tcp(int port, int bind_it)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = bind_it ? bind(fd, (struct sockaddr *)&a, sizeof(a))
			 : connect(fd, (struct sockaddr *)&a, sizeof(a));
	rc = rc < 0 ? errno : 0;
	close(fd);
	return rc;
}

static int do_fastopen(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
	close(fd);
	return rc;
}

static int do_ptrace(pid_t pid)
{
	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) < 0)
		return errno;
	waitpid(pid, NULL, __WALL);
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return 0;
}

static int do_socket(int family, int type, int protocol)
{
	int fd = socket(family, type | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int do_abstract(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strnlen(name, sizeof(a.sun_path) - 2);
	memcpy(a.sun_path + 1, name, len);
	int rc = connect(fd, (struct sockaddr *)&a,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
	rc = rc < 0 ? errno : 0;
	close(fd);
	return rc;
}

/* getpid through int 0x80 (i386's number 20), in a child. Returns 0, or
 * -SIGNAL when the child was killed. */
static int do_int80(void)
{
#if defined(__x86_64__)
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		long ret;
		__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
		_exit(ret > 0 ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status) ? EINVAL : 0;
#else
	return ENOSYS;
#endif
}

/* Set in the new process of a rerun by rerun_entry (after its drop). */
static int in_rerun;

static void rerun_entry(char *const *arg)
{
	(void)arg;
	in_rerun = 1;
}

static int do_rerun(const char *user)
{
	char *args[] = { NULL };
	fflush(stdout);
	int pid = priv_rerunas(rerun_entry, args, user, NULL, PRIV_RR_OLD_SLAVE_MONITORED);
	if (pid < 0)
		return errno;
	int status;
	if (priv_wait4(pid, &status, 0, NULL) < 0)
		return errno;
	return 0;
}

static int act(const char *action, const char *arg)
{
	if (strcmp(action, "read") == 0)
		return read_one(open(arg, O_RDONLY | O_CLOEXEC));
	if (strcmp(action, "create") == 0)
		return do_create(arg);
	if (strcmp(action, "exec") == 0)
		return do_exec(arg);
	if (strcmp(action, "bind") == 0)
		return tcp(atoi(arg), 1);
	if (strcmp(action, "connect") == 0)
		return tcp(atoi(arg), 0);
	if (strcmp(action, "fastopen") == 0)
		return do_fastopen(atoi(arg));
	if (strcmp(action, "kill") == 0)
		return result(kill((pid_t)atoi(arg), 0));
	if (strcmp(action, "ptrace") == 0)
		return do_ptrace((pid_t)atoi(arg));
	if (strcmp(action, "iouring") == 0) {
		char params[120] = { 0 }; /* struct io_uring_params */
		long fd = syscall(__NR_io_uring_setup, 4, params);
		if (fd >= 0)
			close((int)fd);
		return fd < 0 ? errno : 0;
	}
	if (strcmp(action, "mptcp") == 0)
		return do_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (strcmp(action, "sctp") == 0)
		return do_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
	if (strcmp(action, "seqpacket") == 0)
		return do_socket(AF_INET6, SOCK_SEQPACKET, 0);
	if (strcmp(action, "family") == 0)
		return do_socket(atoi(arg), SOCK_DGRAM, 0);
	if (strcmp(action, "pair") == 0) {
		int sv[2];
		if (socketpair(atoi(arg), SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return errno;
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	if (strcmp(action, "abstract") == 0)
		return do_abstract(arg);
	if (strcmp(action, "int80") == 0)
		return do_int80();
	if (strcmp(action, "ready") == 0)
		return 0;
	if (strcmp(action, "nohup") == 0)
		return signal(SIGHUP, SIG_IGN) == SIG_ERR ? errno : 0;
	if (strcmp(action, "waitfor") == 0) {
		for (int i = 0; i < 1000 && access(arg, F_OK) != 0; i++)
			usleep(10000);
		return access(arg, F_OK) == 0 ? 0 : ETIMEDOUT;
	}
	if (strcmp(action, "privbind") == 0)
		return do_privbind(atoi(arg));
	if (strcmp(action, "rerun") == 0)
		return do_rerun(arg);
	if (strcmp(action, "privopen") == 0)
		return read_one(priv_open(arg, O_RDONLY));
	fprintf(stderr, "confine_probe: unknown action %s\n", action);
	exit(2);
}

int main(int argc, char **argv)
{
	int i = 1;
	if (argc > 2 && strcmp(argv[1], "init") == 0) {
		priv_init(argv[2]);
		i = 3;
	}
	if (in_rerun) {
		int err = read_one(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
		printf("rerun read /etc/passwd: %s\n", err ? strerrorname_np(err) : "ok");
		return 0;
	}
	for (; i + 1 < argc; i += 2) {
		int err = act(argv[i], argv[i + 1]);
		if (err < 0)
			printf("%s %s: %s\n", argv[i], argv[i + 1], sigabbrev_np(-err));
		else
			printf("%s %s: %s\n", argv[i], argv[i + 1],
			       err ? strerrorname_np(err) : "ok");
		fflush(stdout);
	}
	return 0;
}
