/* myexec: priv_execve() replaces the program, as execve(2) would.
 *
 *   myexec USER SCRIPT
 *
 * Prints who it runs as, tries a priv_execve() as root (not granted: it
 * returns -1), then runs /bin/sh -c SCRIPT as USER with an environment of
 * its own making. That call does not return: what the shell prints follows
 * what myexec printed, and the shell's exit status is myexec's. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <privman.h>

int main(int argc, char *argv[])
{
	char *sh_argv[] = { "sh", "-c", NULL, NULL };
	char *sh_envp[] = { "GREETING=hi", "PATH=/usr/bin:/bin", NULL };
	struct passwd *pw;

	if (argc != 3) {
		fprintf(stderr, "usage: myexec USER SCRIPT\n");
		return 2;
	}
	sh_argv[2] = argv[2];

	priv_init("myexec");

	pw = getpwuid(getuid());
	/* Buffered (stdout is a file): must come out before the shell's. */
	printf("myexec runs as %s\n", pw ? pw->pw_name : "?");

	if (priv_execve("/bin/sh", sh_argv, sh_envp, "root", NULL) < 0)
		printf("priv_execve as root: %s\n", strerror(errno));

	priv_execve("/bin/sh", sh_argv, sh_envp, argv[1], NULL);
	printf("priv_execve as %s should not have returned: %s\n", argv[1], strerror(errno));
	return 99;
}
