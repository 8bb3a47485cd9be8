/* myfork: the process calls of the original API that keep a monitor.
 *
 *   myfork FILE SCRATCH USER
 *
 * A priv_fork() child reads FILE through the monitor and exits 4, which
 * waitpid() reports; a monitored priv_rerunas() as USER and a
 * priv_respawn_as() as USER each read FILE and exit with a status of their
 * own, which priv_wait4() reports; priv_unlink() removes SCRATCH and is
 * refused FILE; priv_exit(6) ends it all with status 6. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <privman.h>

static int role;	/* 0: the first run; else the status to exit with */
static const char *file;

static void take(char *const *arg)
{
	role = atoi(arg[0]);
}

static const char *me(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : "?";
}

static void read_file(const char *who)
{
	char line[128] = "";
	FILE *f = priv_fopen(file, "r");

	if (f == NULL) {
		printf("%s: %s: %s\n", who, file, strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		strcpy(line, "(empty)\n");
	fclose(f);
	printf("%s as %s read %s", who, me(), line);
}

static void report(const char *what, pid_t pid, int status)
{
	if (pid < 0)
		printf("%s: %s\n", what, strerror(errno));
	else if (WIFEXITED(status))
		printf("%s: exit %d\n", what, WEXITSTATUS(status));
	else
		printf("%s: status %#x\n", what, status);
	fflush(stdout);
}

int main(int argc, char *argv[])
{
	char *rerun_arg[] = { "11", NULL };
	char *respawn_arg[] = { "12", NULL };
	int status = 0;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: myfork FILE SCRATCH USER\n");
		return 2;
	}
	file = argv[1];
	priv_init("myfork");

	if (role != 0) {
		read_file(role == 11 ? "rerun" : "respawn");
		fflush(stdout);
		return role;
	}

	fflush(stdout);
	pid = priv_fork();
	if (pid == 0) {
		read_file("child");
		fflush(stdout);
		_exit(4);
	}
	if (pid > 0)
		pid = waitpid(pid, &status, 0);
	report("child", pid, status);

	pid = priv_rerunas(take, rerun_arg, argv[3], NULL, PRIV_RR_OLD_SLAVE_MONITORED);
	if (pid > 0)
		pid = priv_wait4(pid, &status, 0, NULL);
	report("rerun", pid, status);

	pid = priv_respawn_as(take, respawn_arg, argv[3], NULL);
	if (pid > 0)
		pid = priv_wait4(pid, &status, 0, NULL);
	report("respawn", pid, status);

	printf("unlink scratch: %s\n", priv_unlink(argv[2]) == 0 ? "done" : strerror(errno));
	printf("unlink file: %s\n", priv_unlink(argv[1]) == 0 ? "done" : strerror(errno));
	printf("exit 6\n");
	priv_exit(6);
}
