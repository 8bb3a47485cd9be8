/* A program that holds a lease on a file it owns, then asks the monitor to
 * open that file for writing: an open that breaks a lease waits for the
 * holder (up to /proc/sys/fs/lease-break-time), and the holder here is the
 * program itself. The monitor must not wait.
 *
 *   lease_prog APP PATH   prints "lease OK|ERR E", then "open OK|ERR E" and
 *                         "ms N": how long priv_open took */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "privman.h"

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The lease break is signalled to the holder (SIGIO, fatal by default). */
static void on_break(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	signal(SIGIO, on_break);
	int own = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (own < 0 || fcntl(own, F_SETLEASE, F_RDLCK) < 0) {
		printf("lease ERR %s\n", ename(errno));
		return 1;
	}
	printf("lease OK\n");
	long start = now_ms();
	int fd = priv_open(argv[2], O_WRONLY);
	int err = errno;
	long took = now_ms() - start;
	if (fd < 0)
		printf("open ERR %s\n", ename(err));
	else
		printf("open OK\n");
	printf("ms %ld\n", took);
	return 0;
}
