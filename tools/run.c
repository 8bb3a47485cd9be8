/* privman run: placeholder until the security scope lands (issue 3). */
#include <stdio.h>

#include "commands.h"

int cmd_run(int argc, char **argv)
{
	fprintf(stderr, "privman run: not available in this build yet\n");
	return EXIT_USAGE;
}
