/* Learning: what rule would grant a request the policy refuses.
 *
 * A policy with `learn` set grants what it would refuse, and marks the
 * decision learned, with the rule that would grant it in the policy
 * language ("open_ro \"/etc/x\"", "bind 127.0.0.1:80", "run_as www"):
 * the monitor audits it, and privman learn writes those rules into a
 * policy. Pure: no system call, no allocation, like policy_decide().
 *
 * Never learned, whatever is asked: running as root (uid 0), a request
 * that is malformed rather than refused (bad open flags, a PAM service that
 * is not a plain name, bind of port 0 or of a family other than IPv4 and
 * IPv6), and a path no exact rule can name (one with a '*'). */
#ifndef PRIVMAN_LEARN_H
#define PRIVMAN_LEARN_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* Called by policy_decide() for a refused request of a learning policy:
 * grants it and fills out->learned_rule, or leaves the refusal (and says
 * in out->reason why learning did not grant it). */
void policy_learn(const struct policy *p, const struct policy_request *req,
		  struct policy_decision *out);

/* Whether `s` can be written as a value: no control byte (C0 or DEL) but
 * \n and \t, the only ones the language escapes. */
bool policy_value_writable(const char *s);

/* Write `s` as a value of the policy language: bare when every byte is a
 * word character other than '*', else between double quotes with \" \\ \n
 * and \t. Returns the length, or -1 when it does not fit in cap or has a
 * byte that cannot be written (policy_value_writable). */
int policy_value_write(const char *s, bool always_quote, char *out, size_t cap);

#endif
