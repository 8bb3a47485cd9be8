/* mydaemon: priv_daemon(), then a log kept through the monitor.
 *
 *   mydaemon LOG CONFIG
 *
 * Says it starts, detaches with priv_daemon(0, 0) (the shell sees it end
 * with status 0), then opens LOG append-only and CONFIG read-only through
 * the monitor and writes to LOG what it is: a session leader in /, with
 * its standard output on /dev/null, and the CONFIG's first line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <privman.h>

int main(int argc, char *argv[])
{
	char cwd[256], line[128] = "";
	struct stat st, null;
	FILE *log, *conf;

	if (argc != 3) {
		fprintf(stderr, "usage: mydaemon LOG CONFIG\n");
		return 2;
	}
	priv_init("mydaemon");
	printf("mydaemon starts\n");
	fflush(stdout);

	if (priv_daemon(0, 0) < 0) {
		printf("priv_daemon: %s\n", strerror(errno));
		return 1;
	}

	log = priv_fopen(argv[1], "a");
	if (log == NULL)
		return 3;
	setvbuf(log, NULL, _IOLBF, 0);
	fprintf(log, "daemon: session leader %s\n", getsid(0) == getpid() ? "yes" : "no");
	fprintf(log, "daemon: cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : strerror(errno));
	fprintf(log, "daemon: stdout %s\n",
		fstat(1, &st) == 0 && stat("/dev/null", &null) == 0 &&
		st.st_rdev == null.st_rdev ? "/dev/null" : "elsewhere");
	conf = priv_fopen(argv[2], "r");
	if (conf == NULL)
		fprintf(log, "daemon: %s: %s\n", argv[2], strerror(errno));
	else if (fgets(line, sizeof(line), conf) != NULL)
		fprintf(log, "daemon: config %s", line);
	if (priv_open(argv[2], O_RDWR) < 0)
		fprintf(log, "daemon: %s read-write: %s\n", argv[2], strerror(errno));
	fprintf(log, "daemon: done\n");
	fclose(log);
	return 0;
}
