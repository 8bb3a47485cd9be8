/* mypopen: priv_popen_as() both ways.
 *
 *   mypopen USER
 *
 * Reads the output of a command run as USER, writes to the input of
 * another (whose output is the program's standard output), reports the
 * exit status priv_pclose() gives, and tries a command as root (not
 * granted). */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <privman.h>

static void status(const char *what, int st)
{
	if (st == -1)
		printf("%s: pclose: %s\n", what, strerror(errno));
	else if (WIFEXITED(st))
		printf("%s: exit %d\n", what, WEXITSTATUS(st));
	else
		printf("%s: status %#x\n", what, st);
}

int main(int argc, char *argv[])
{
	char line[256];
	struct passwd *pw;
	FILE *p;

	if (argc != 2) {
		fprintf(stderr, "usage: mypopen USER\n");
		return 2;
	}
	priv_init("mypopen");

	pw = getpwuid(getuid());
	printf("mypopen runs as %s\n", pw ? pw->pw_name : "?");

	p = priv_popen_as("id -un; echo second line; exit 3", "r", argv[1]);
	if (p == NULL) {
		printf("popen r: %s\n", strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), p) != NULL)
		printf("| %s", line);
	status("reader", priv_pclose(p));

	/* The command writes where the program's output goes. */
	fflush(stdout);
	p = priv_popen_as("tr a-z A-Z", "w", argv[1]);
	if (p == NULL) {
		printf("popen w: %s\n", strerror(errno));
		return 1;
	}
	fputs("shouted through a pipe\n", p);
	status("writer", priv_pclose(p));

	p = priv_popen_as("id -un", "r", "root");
	if (p == NULL)
		printf("popen as root: %s\n", strerror(errno));
	else
		status("as root", priv_pclose(p));
	return 0;
}
