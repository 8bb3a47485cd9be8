/* privman check: placeholder, filled by the policy language. */
#include <stdio.h>

#include "commands.h"

int cmd_check(int argc, char **argv)
{
	fprintf(stderr, "privman check: not available in this build yet\n");
	return EXIT_USAGE;
}
