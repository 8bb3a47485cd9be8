/* A program split by priv_init that registers custom functions, for the
 * tests in tests/test_custom.c. Before priv_init it registers the functions
 * below, in this order, and prints "handles H0 H1 ...". Then it runs its
 * commands, separated by "+", one line of output per result; a refusal
 * prints "ERR <ERRNO NAME>".
 *
 *   custom_prog APPNAME COMMAND [ARGS...] [+ COMMAND [ARGS...]]...
 *
 *   info H ARGS...      priv_invoke_info_fn: "info STRING", or "info len N"
 *                       for a long one
 *   cap H ARGS...       priv_invoke_cap_fn: "cap socket ADDRESS", "cap
 *                       socket unbound" or "cap file"
 *   register            priv_register_info_fn after priv_init
 *   echo PORT           myecho in small: a socket from cap function 11,
 *                       priv_bind to 127.0.0.1:PORT, a connection to it:
 *                       "echo TEXT"
 *   bigargs N BYTES     info 0 with N arguments of BYTES bytes each
 *   raw N BYTES         the same request built by hand, past the client's
 *                       checks: the monitor's own limits
 *   rawbad KIND COUNT   a request of that kind claiming COUNT strings and
 *                       holding one: a protocol violation
 *   whilehang H         cap H (a hanging one) in a thread; meanwhile info 0
 *                       and priv_open of /etc/hostname: "served while
 *                       hanging" when both were answered within 500 ms;
 *                       then the thread's result
 *   hangmany N H        N threads invoke cap H at once; their results,
 *                       sorted
 *   orphans N H         N priv_fork children each start 4 of cap H in
 *                       threads and exit; then info 0
 *   respawnfull USER H  the same with 8 children, without the info 0: every
 *                       slot of the monitor is taken; then priv_respawn_as
 *                       USER, whose new program prints "new " and what info
 *                       0 gives it; the caller prints "waited exit N"
 *
 * The functions (handle: kind, what it does):
 *   0 info   "uid=U argc=N first=ARG0"
 *   1 cap    a TCP socket bound to 127.0.0.1:ARG0 (a privileged port)
 *   2 info   fails with errno ARG0 (a number; 0: fails without errno)
 *   3 cap    fails with errno EDOM
 *   4 info   dereferences NULL (SIGSEGV)
 *   5 cap    never returns
 *   6 info   a string of ARG0 bytes
 *   7 cap    returns 999, no open fd
 *   8 info   counts its calls in a static variable: "calls=N"
 *   9 info   exit(3)
 *  10 info   sets the counter of 8 to 1000 and writes garbage to every fd
 *            it holds, then returns "scribbled"
 *  11 cap    an unbound TCP socket, as the original's myecho makes */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "program/client.h"
#include "monitor/custom.h" /* CUSTOM_INFO, for the raw requests */
#include "privman.h"
#include "wire/wire.h"

static void err_line(int e)
{
	printf("ERR %s\n", strerrorname_np(e) ? strerrorname_np(e) : "?");
	fflush(stdout);
}

static int argc_of(char *const *args)
{
	int n = 0;
	while (args && args[n])
		n++;
	return n;
}

static char *fn_whoami(char *const *args)
{
	char *s = NULL;
	if (asprintf(&s, "uid=%u argc=%d first=%.20s", (unsigned)geteuid(), argc_of(args),
		     args && args[0] ? args[0] : "-") < 0)
		return NULL;
	return s;
}

static int fn_bound_socket(char *const *args)
{
	if (!args || !args[0]) {
		errno = EINVAL;
		return -1;
	}
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	int on = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(args[0]))};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static char *fn_fail(char *const *args)
{
	errno = args && args[0] ? atoi(args[0]) : 0;
	return NULL;
}

static int fn_cap_fail(char *const *args)
{
	errno = EDOM;
	return -1;
}

static char *fn_crash(char *const *args)
{
	volatile int *nothing = NULL;
	*nothing = 1;
	return "unreachable";
}

static int fn_hang(char *const *args)
{
	for (;;)
		pause();
	return -1;
}

static char *fn_big(char *const *args)
{
	size_t n = args && args[0] ? (size_t)atol(args[0]) : 0;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memset(s, 'x', n);
	s[n] = '\0';
	return s;
}

static int fn_bogus_fd(char *const *args)
{
	return 999;
}

static int count_calls;

static char *fn_count(char *const *args)
{
	char *s = NULL;
	count_calls++;
	if (asprintf(&s, "calls=%d", count_calls) < 0)
		return NULL;
	return s;
}

static char *fn_exit(char *const *args)
{
	exit(3);
}

static char *fn_scribble(char *const *args)
{
	/* What would wreck a monitor it ran in: its counter set, and garbage
	 * written to every socket and file it holds. */
	count_calls = 1000;
	for (int fd = 3; fd < 1024; fd++)
		if (write(fd, "garbage", 7) < 0) {
			/* most are not open */
		}
	return "scribbled";
}

static int fn_socket(char *const *args)
{
	return socket(PF_INET, SOCK_STREAM, 0);
}

static void print_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		printf("cap bad fd\n");
	} else if (S_ISSOCK(st.st_mode)) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		memset(&sin, 0, sizeof(sin));
		if (getsockname(fd, (struct sockaddr *)&sin, &len) == 0 && sin.sin_port) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &sin.sin_addr, a, sizeof(a));
			printf("cap socket %s:%u%s\n", a, ntohs(sin.sin_port),
			       fcntl(fd, F_GETFD) & FD_CLOEXEC ? " cloexec" : "");
		} else {
			printf("cap socket unbound\n");
		}
	} else {
		printf("cap file\n");
	}
	fflush(stdout);
	close(fd);
}

static void print_info(char *s)
{
	if (!s) {
		err_line(errno);
		return;
	}
	if (strlen(s) > 60)
		printf("info len %zu\n", strlen(s));
	else
		printf("info %s\n", s);
	fflush(stdout);
	free(s);
}

static void do_echo(int port)
{
	char *const none[] = {NULL};
	int s = priv_invoke_cap_fn(11, none);
	if (s < 0) {
		err_line(errno);
		return;
	}
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int on = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (priv_bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s, 1) < 0) {
		err_line(errno);
		close(s);
		return;
	}
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int a = -1;
	char buf[64] = "";
	if (c >= 0 && connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    (a = accept(s, NULL, NULL)) >= 0 && write(c, "test passed", 11) == 11) {
		ssize_t n = read(a, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		printf("echo %s\n", buf);
	} else {
		err_line(errno);
	}
	fflush(stdout);
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	close(s);
}

static void free_args(char **args)
{
	for (size_t i = 0; args && args[i]; i++)
		free(args[i]);
	free(args);
}

static char **make_args(int n, int bytes)
{
	char **args = calloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		args[i] = malloc((size_t)bytes + 1);
		memset(args[i], 'a', (size_t)bytes);
		args[i][bytes] = '\0';
	}
	return args;
}

/* A request built by hand: kind, handle, a claimed count and `n` strings. */
static void raw(int32_t kind, int32_t handle, int32_t count, int n, int bytes)
{
	static unsigned char msg[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	char **args = make_args(n, bytes);
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_CUSTOM, 0);
	wire_put_int(&w, kind);
	wire_put_int(&w, handle);
	wire_put_int(&w, count);
	for (int i = 0; i < n; i++)
		wire_put_bytes(&w, args[i], (size_t)bytes + 1);
	size_t size = wire_writer_finish(&w);
	free_args(args);
	if (!size) {
		printf("does not fit\n");
		return;
	}
	int fd = -1;
	int rc = client_call(msg, size, NULL, 0, &fd);
	if (rc < 0)
		err_line(errno);
	else if (kind == CUSTOM_INFO) {
		printf("raw answered %d\n", rc);
		close(fd);
	}
	fflush(stdout);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct hang {
	int handle;
	int result; /* errno */
	pthread_t thread;
};

static void *hang_thread(void *arg)
{
	struct hang *h = arg;
	char *const none[] = {NULL};
	int fd = priv_invoke_cap_fn(h->handle, none);
	h->result = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void while_hang(int handle)
{
	struct hang h = {.handle = handle};
	pthread_create(&h.thread, NULL, hang_thread, &h);
	usleep(100 * 1000);
	double t0 = now();
	char *const args[] = {"meanwhile", NULL};
	char *s = priv_invoke_info_fn(0, args);
	int fd = priv_open("/etc/hostname", O_RDONLY);
	double took = now() - t0;
	if (s && fd >= 0 && took < 0.5)
		printf("served while hanging\n");
	else
		printf("not served while hanging: %s %d %.3f s\n", s ? s : "-", fd, took);
	fflush(stdout);
	free(s);
	if (fd >= 0)
		close(fd);
	pthread_join(h.thread, NULL);
	err_line(h.result);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void hang_many(int n, int handle)
{
	struct hang h[16];
	int results[16];
	if (n > 16)
		n = 16;
	for (int i = 0; i < n; i++) {
		h[i].handle = handle;
		pthread_create(&h[i].thread, NULL, hang_thread, &h[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(h[i].thread, NULL);
		results[i] = h[i].result;
	}
	qsort(results, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++)
		err_line(results[i]);
}

/* Set in the new program of a respawn. */
static char **respawned;

static void respawn_entry(char *const *arg)
{
	respawned = calloc(2, sizeof(char *));
	respawned[0] = strdup(arg && arg[0] ? arg[0] : "-");
}

static void orphans_only(int n, int handle);

static void respawn_full(const char *user, int handle)
{
	orphans_only(8, handle);
	char *a[] = {"new", NULL};
	pid_t pid = priv_respawn_as(respawn_entry, a, user, NULL);
	if (pid < 0) {
		err_line(errno);
		return;
	}
	int st = 0;
	if (priv_wait4(pid, &st, 0, NULL) != pid)
		err_line(errno);
	else
		printf("waited exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void orphans(int n, int handle)
{
	orphans_only(n, handle);
	char *const none[] = {NULL};
	print_info(priv_invoke_info_fn(0, none));
}

static void orphans_only(int n, int handle)
{
	for (int i = 0; i < n; i++) {
		pid_t pid = priv_fork();
		if (pid < 0) {
			err_line(errno);
			return;
		}
		if (pid == 0) {
			struct hang h[CUSTOM_MAX_PER_PROCESS];
			for (int j = 0; j < CUSTOM_MAX_PER_PROCESS; j++) {
				h[j].handle = handle;
				pthread_create(&h[j].thread, NULL, hang_thread, &h[j]);
			}
			usleep(300 * 1000);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	usleep(100 * 1000);
}

static void run(char **cmd, int n)
{
	if (n == 0)
		return;
	if ((strcmp(cmd[0], "info") == 0 || strcmp(cmd[0], "cap") == 0) && n >= 2) {
		char **args = calloc((size_t)n, sizeof(char *));
		for (int i = 2; i < n; i++)
			args[i - 2] = cmd[i];
		int handle = atoi(cmd[1]);
		if (cmd[0][0] == 'i') {
			print_info(priv_invoke_info_fn(handle, args));
		} else {
			int fd = priv_invoke_cap_fn(handle, args);
			if (fd < 0)
				err_line(errno);
			else
				print_fd(fd);
		}
		free(args);
	} else if (strcmp(cmd[0], "register") == 0) {
		int h = priv_register_info_fn(fn_whoami);
		if (h < 0)
			err_line(errno);
		else
			printf("handle %d\n", h);
	} else if (strcmp(cmd[0], "echo") == 0 && n == 2) {
		do_echo(atoi(cmd[1]));
	} else if (strcmp(cmd[0], "bigargs") == 0 && n == 3) {
		char **args = make_args(atoi(cmd[1]), atoi(cmd[2]));
		print_info(priv_invoke_info_fn(0, args));
		free_args(args);
	} else if (strcmp(cmd[0], "raw") == 0 && n == 3) {
		raw(CUSTOM_INFO, 0, atoi(cmd[1]), atoi(cmd[1]), atoi(cmd[2]));
	} else if (strcmp(cmd[0], "rawbad") == 0 && n == 3) {
		raw(atoi(cmd[1]), 0, atoi(cmd[2]), 1, 1);
	} else if (strcmp(cmd[0], "whilehang") == 0 && n == 2) {
		while_hang(atoi(cmd[1]));
	} else if (strcmp(cmd[0], "respawnfull") == 0 && n == 3) {
		respawn_full(cmd[1], atoi(cmd[2]));
	} else if (strcmp(cmd[0], "orphans") == 0 && n == 3) {
		orphans(atoi(cmd[1]), atoi(cmd[2]));
	} else if (strcmp(cmd[0], "hangmany") == 0 && n == 3) {
		hang_many(atoi(cmd[1]), atoi(cmd[2]));
	} else {
		printf("bad command %s\n", cmd[0]);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: custom_prog APPNAME COMMAND...\n");
		return 2;
	}
	int h[12];
	h[0] = priv_register_info_fn(fn_whoami);
	h[1] = priv_register_cap_fn(fn_bound_socket);
	h[2] = priv_register_info_fn(fn_fail);
	h[3] = priv_register_cap_fn(fn_cap_fail);
	h[4] = priv_register_info_fn(fn_crash);
	h[5] = priv_register_cap_fn(fn_hang);
	h[6] = priv_register_info_fn(fn_big);
	h[7] = priv_register_cap_fn(fn_bogus_fd);
	h[8] = priv_register_info_fn(fn_count);
	h[9] = priv_register_info_fn(fn_exit);
	h[10] = priv_register_info_fn(fn_scribble);
	h[11] = priv_register_cap_fn(fn_socket);
	printf("handles");
	for (int i = 0; i < 12; i++)
		printf(" %d", h[i]);
	printf("\n");
	priv_init(argv[1]);
	if (respawned) {
		char *const args[] = {respawned[0], NULL};
		printf("new ");
		print_info(priv_invoke_info_fn(0, args));
		return 0;
	}
	int start = 2;
	for (int i = 2; i <= argc; i++) {
		if (i == argc || strcmp(argv[i], "+") == 0) {
			run(argv + start, i - start);
			start = i + 1;
		}
	}
	return 0;
}
