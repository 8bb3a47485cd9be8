/* privman run with PRIVMAN_LEARN=FILE: the command runs under the broker
 * with a learning policy (src/monitor/broker_learn.h): what it could not do
 * with its own credentials is served and recorded to FILE, which privman
 * learn reads (privman learn sets it for an unmodified program). Ignored for
 * a set-id caller, as PRIVMAN_CONF_DIR and PRIVMAN_AUDIT are. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "commands.h"
#include "monitor/broker_learn.h"
#include "monitor/learn_log.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"

int run_learn_start(struct policy **policy, char **command, bool no_broker)
{
	const char *file = getauxval(AT_SECURE) ? NULL : getenv("PRIVMAN_LEARN");
	if (!file || !*file)
		return 0;
	static char record[PATH_MAX];
	if (snprintf(record, sizeof(record), "%s", file) >= (int)sizeof(record)) {
		fprintf(stderr, "privman run: PRIVMAN_LEARN is longer than PATH_MAX\n");
		return -1;
	}
	file = record;
	unsetenv("PRIVMAN_LEARN"); /* the command has no use for it */
	if (no_broker) {
		fprintf(stderr, "privman run: PRIVMAN_LEARN needs the broker; drop --no-broker\n");
		return -1;
	}
	if (!*policy) { /* learning from nothing: the default scope, no grant */
		struct diag d;
		diag_init(&d);
		*policy = conf_load_buffer("(no policy)", "", 0, &d);
		if (*policy && policy_validate(*policy, &d) < 0) {
			policy_free(*policy);
			*policy = NULL;
		}
		diag_free(&d);
		if (!*policy) {
			fprintf(stderr, "privman run: out of memory\n");
			return -1;
		}
	}
	int fd = learn_log_open(file);
	if (fd < 0) {
		fprintf(stderr, "privman run: PRIVMAN_LEARN=%s: %s\n", file, strerror(errno));
		return -1;
	}
	const char *slash = strrchr(command[0], '/');
	learn_log_start(fd, slash ? slash + 1 : command[0], (*policy)->file_count
								 ? (*policy)->files[0]
								 : "(no policy)");
	(*policy)->learn = true;
	broker_learn_set_record(fd);
	fprintf(stderr,
		"privman run: LEARNING (PRIVMAN_LEARN=%s): every open, unlink and bind %s "
		"cannot make with its own credentials is served as root would serve it; do "
		"not run untrusted input this way\n",
		file, command[0]);
	return 1;
}
