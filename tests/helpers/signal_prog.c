/* A program split by priv_init whose main process ends while another
 * program process keeps the monitor, for tests/test_signals.c.
 *
 *   signal_prog APPNAME forkstay
 *       prints "program PID", makes a priv_fork child that prints "child
 *       PID" and stays until its stdin reaches end of file, printing "usr1"
 *       for each SIGUSR1 it gets; the program exits 5 once the child is
 *       known to the monitor (so the monitor leaves with status 5). For
 *       each line "fork" on stdin the child makes a priv_fork grandchild,
 *       which prints "grandchild PID" and what priv_wait4(-1, WNOHANG)
 *       sets errno to (ECHILD when the monitor serves it, EPIPE when not)
 *   signal_prog APPNAME daemonexec USER STATUS
 *       priv_daemon(1, 1), then priv_execve of /bin/sh as USER, which
 *       prints "monitor PID" (its parent: the detached monitor) and exits
 *       STATUS; a refusal prints "ERR <errno>" and exits 99
 *   signal_prog APPNAME daemonstay
 *       priv_daemon(1, 1), then prints "daemon PID" and "usr1" for each
 *       SIGUSR1 it gets, until a SIGTERM ends it
 *   signal_prog APPNAME pamstart SERVICE
 *       prints "ready", then after a line on stdin calls priv_pam_start
 *       (SERVICE, user "nobody") and prints "pam_start CODE" */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privman.h"

static void on_usr1(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, "usr1\n", 5) < 0) {
		/* nobody reads any more */
	}
}

static void grandchild(void)
{
	pid_t pid = priv_fork();
	if (pid == 0) {
		int rc = priv_wait4(-1, NULL, WNOHANG, NULL);
		printf("grandchild %d %s\n", (int)getpid(),
		       rc < 0 && errno == ECHILD ? "ECHILD" : rc < 0 && errno == EPIPE ? "EPIPE" : "other");
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	else
		printf("ERR %s\n", strerror(errno));
}

static int forkstay(void)
{
	printf("program %d\n", (int)getpid());
	fflush(stdout);
	int known[2];
	if (pipe(known) < 0)
		return 98;
	pid_t pid = priv_fork();
	if (pid < 0) {
		printf("ERR %s\n", strerror(errno));
		return 99;
	}
	if (pid == 0) {
		close(known[0]);
		/* No SA_RESTART: a signal ends a read, and the loop goes on. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		printf("child %d\n", (int)getpid());
		fflush(stdout);
		/* priv_fork returned here: the monitor has answered the hello. */
		close(known[1]);
		char c;
		for (;;) {
			ssize_t n = read(STDIN_FILENO, &c, 1);
			if (n == 0 || (n < 0 && errno != EINTR))
				_exit(0);
			if (n == 1 && c == '\n')
				grandchild();
		}
	}
	close(known[1]);
	char c;
	while (read(known[0], &c, 1) < 0 && errno == EINTR)
		;
	return 5;
}

static int daemonexec(const char *user, const char *status)
{
	if (priv_daemon(1, 1) < 0) {
		printf("ERR daemon %s\n", strerror(errno));
		return 99;
	}
	char script[64];
	snprintf(script, sizeof(script), "echo monitor $PPID; exit %d", atoi(status));
	char *argv[] = {"sh", "-c", script, NULL};
	char *env[] = {"PATH=/bin", NULL};
	priv_execve("/bin/sh", argv, env, user, NULL);
	printf("ERR %s\n", strerror(errno));
	return 99;
}

static int daemonstay(void)
{
	if (priv_daemon(1, 1) < 0) {
		printf("ERR daemon %s\n", strerror(errno));
		return 99;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	printf("daemon %d\n", (int)getpid());
	for (int i = 0; i < 3000; i++)
		usleep(10000);
	return 0;
}

static int no_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n, (void)msg, (void)resp, (void)data;
	return PAM_CONV_ERR;
}

static int pamstart(const char *service)
{
	printf("ready\n");
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 98;
	struct pam_conv conv = {no_conv, NULL};
	pam_handle_t *h = NULL;
	int rc = priv_pam_start(service, "nobody", &conv, &h);
	printf("pam_start %d\n", rc);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	if (strcmp(argv[2], "forkstay") == 0)
		return forkstay();
	if (strcmp(argv[2], "pamstart") == 0 && argc == 4)
		return pamstart(argv[3]);
	if (strcmp(argv[2], "daemonstay") == 0)
		return daemonstay();
	if (strcmp(argv[2], "daemonexec") == 0 && argc == 5)
		return daemonexec(argv[3], argv[4]);
	return 2;
}
