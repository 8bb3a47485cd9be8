/* The policy language's parser (internal interface; conf_load_files() and
 * its kin are in policy.h): policy text into a policy. */
#ifndef PRIVMAN_CONF_H
#define PRIVMAN_CONF_H

#include <stddef.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "policy/conf_limits.h"

/* Parse `text` into `p` with conf_limits.h's `flags`. Returns 0, or -1
 * with the reasons in `d`. */
int conf_parse_text(struct policy *p, const char *name, const char *text, size_t len,
		    unsigned flags, struct diag *d);

#endif
