/* The subcommands of the `privman` command. Each returns the exit status. */
#ifndef PRIVMAN_COMMANDS_H
#define PRIVMAN_COMMANDS_H

/* Exit statuses shared by the subcommands. */
enum {
	EXIT_OK = 0,
	EXIT_INVALID = 1, /* privman check: the policy is invalid */
	EXIT_USAGE = 2,
};

int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_learn(int argc, char **argv);

/* The policy folder: $PRIVMAN_CONF_DIR (ignored when setuid) or
 * <sysconfdir>/privman.d. */
const char *privman_conf_dir(void);

#endif
