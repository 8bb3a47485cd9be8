/* privman: check policies and run programs with dropped privileges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: privman COMMAND [OPTION]...\n"
		"\n"
		"Commands:\n"
		"  check [-c FILE]... [APP] [-a APPNAME] [-r REQUEST]... [-q] [--compat]\n"
		"                     validate a policy, print it normalised, explain a request\n"
		"  run [-a APP] [-c FILE]... [-u USER] [-g GROUP] [-G G1,G2] [--chroot DIR]\n"
		"      [--caps TEXT] [--privileges TEXT] [--no-new-privs]\n"
		"      [--allow-namespaces] [--no-broker] [--dry-run]\n"
		"      [--] COMMAND [ARG]...\n"
		"                     drop to a security scope for good, then run COMMAND;\n"
		"                     what the policy grants (open, unlink, bind) a root\n"
		"                     monitor does for it (the broker)\n"
		"  learn [-o FILE] [-c BASE]... [APP] [--collapse N] -- COMMAND [ARG]...\n"
		"                     run COMMAND serving what it asks as root would (LEARNING:\n"
		"                     trusted input only), then write the least policy for it\n"
		"  help               show this help\n"
		"  version            show the version\n"
		"\n"
		"`privman COMMAND --help` describes each command; see privman(1) and\n"
		"privman.conf(5).\n");
}

const char *privman_conf_dir(void)
{
	/* Never let the environment choose the policy of a setuid program. */
	const char *dir = getauxval(AT_SECURE) ? NULL : getenv("PRIVMAN_CONF_DIR");
	return dir && *dir ? dir : PRIVMAN_SYSCONFDIR "/privman.d";
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *command = argv[1];
	if (strcmp(command, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(command, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(command, "learn") == 0)
		return cmd_learn(argc - 1, argv + 1);
	if (strcmp(command, "help") == 0 || strcmp(command, "--help") == 0 ||
	    strcmp(command, "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(command, "version") == 0 || strcmp(command, "--version") == 0) {
		printf("privman %s\n", PRIVMAN_VERSION);
		return EXIT_OK;
	}
	fprintf(stderr, "privman: unknown command '%s'\n", command);
	usage(stderr);
	return EXIT_USAGE;
}
