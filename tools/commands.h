/* The subcommands of the `privman` command. Each returns the exit status. */
#ifndef PRIVMAN_COMMANDS_H
#define PRIVMAN_COMMANDS_H

#include <stdbool.h>

/* Exit statuses shared by the subcommands. */
enum {
	EXIT_OK = 0,
	EXIT_INVALID = 1, /* privman check: the policy is invalid */
	EXIT_USAGE = 2,
};

int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_learn(int argc, char **argv);

/* privman run with PRIVMAN_LEARN=FILE (run_learn.c): make *policy (an
 * empty one when NULL) learn, recording to FILE. Returns 1 learning, 0 not
 * asked to, -1 refused (said on stderr). */
struct policy;
int run_learn_start(struct policy **policy, char **command, bool no_broker);

/* The policy folder: $PRIVMAN_CONF_DIR (ignored when setuid) or
 * <sysconfdir>/privman.d. */
const char *privman_conf_dir(void);

#endif
