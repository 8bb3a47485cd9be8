/* myrerun: a chain of priv_rerunas() calls, meant to run on a terminal.
 *
 *   myrerun USER2 USER3
 *
 * The program (as the policy's unpriv_user) reruns itself as USER2, which
 * reruns itself as USER3; each run learns which link it is from the
 * argument its predecessor passed through fnptr. The last one checks that
 * it still has the terminal (stdin a tty, its process group in the
 * foreground), asks for a name on it, greets, and exits with status 5,
 * which becomes the status of the whole program. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <privman.h>

static int link_no;		/* set by fnptr in a rerun */
static char next_user[64];

static void take(char *const *arg)
{
	link_no = atoi(arg[0]);
	if (arg[1] != NULL)
		snprintf(next_user, sizeof(next_user), "%s", arg[1]);
}

static const char *me(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : "?";
}

static void rerun(const char *user, char *const arg[])
{
	fflush(stdout);
	if (priv_rerunas(take, arg, user, NULL, 0) < 0) {
		printf("priv_rerunas %s: %s\n", user, strerror(errno));
		exit(1);
	}
	exit(0);	/* the new run takes over */
}

int main(int argc, char *argv[])
{
	char name[64];

	if (argc != 3) {
		fprintf(stderr, "usage: myrerun USER2 USER3\n");
		return 2;
	}
	priv_init("myrerun");

	switch (link_no) {
	case 0: {
		char *arg[] = { "1", argv[2], NULL };

		printf("link 0 as %s\n", me());
		if (priv_rerunas(take, arg, "root", NULL, 0) < 0)
			printf("priv_rerunas root: %s\n", strerror(errno));
		rerun(argv[1], arg);
		break;
	}
	case 1: {
		char *arg[] = { "2", NULL };

		printf("link 1 as %s\n", me());
		rerun(next_user, arg);
		break;
	}
	default:
		printf("link %d as %s, stdin %s, %s\n", link_no, me(),
		       isatty(0) ? "a tty" : "not a tty",
		       tcgetpgrp(0) == getpgrp() ? "in the foreground" : "in the background");
		printf("name? ");
		fflush(stdout);
		if (fgets(name, sizeof(name), stdin) == NULL)
			return 1;
		name[strcspn(name, "\n")] = '\0';
		printf("hello %s\n", name);
		return 5;
	}
	return 1;
}
