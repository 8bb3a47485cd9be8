/* The record of a learning run (PRIVMAN_LEARN=FILE): one JSON line per
 * decision of the monitor, every one of them (no rate limit: the counts of
 * privman learn are exact), written with one write(2) each on an O_APPEND
 * file, so that the monitors a program forks write whole lines.
 *
 *   {"time":SECONDS,"app":NAME,"pid":PID,"op":"open","object":PATH,
 *    "flags":N,"verdict":"granted"|"learned"|"refused","directive":D,
 *    "rule":R,"origin":"file:line:column","errno":E,"reason":TEXT}
 *
 * "granted": the policy grants it, by directive D and rule R (as written).
 * "learned": the policy refuses it and learning granted it: R is the rule
 * that would grant it, in the policy language (empty: none is needed).
 * "refused": refused while learning (running as root, a malformed
 * request). The first line of a run is {"time":..,"app":..,"pid":..,
 * "op":"start","policy":PATH}. privman learn reads these (privman(1)). */
#ifndef PRIVMAN_LEARN_LOG_H
#define PRIVMAN_LEARN_LOG_H

#include <sys/types.h>

#include "policy/policy.h"

/* Open FILE for the record, made 0600 when it does not exist: refused
 * (EPERM) unless it is a regular file with one link, owned by the caller and
 * writable by no one else, reached with no symlink at its end (ELOOP).
 * Returns the fd or -1. */
int learn_log_open(const char *path);

void learn_log_start(int fd, const char *app, const char *policy_path);
void learn_log_decision(int fd, const char *app, const char *op, const char *object, int flags,
			pid_t pid, const struct policy_decision *d, int result);
void learn_log_refusal(int fd, const char *app, const char *op, const char *object, pid_t pid,
		       int error, const char *reason);

#endif
