/* Solaris privilege names and the Linux capabilities they mean. */
#ifndef PRIVMAN_CAPMAP_H
#define PRIVMAN_CAPMAP_H

#include <stdint.h>

#include "policy/diag.h"

/* Turn a Solaris `privileges` text ("basic net_privaddr ...", separated by
 * blanks or commas) into a capability mask. `basic` is accepted and means
 * nothing more on Linux; a known name with no Linux meaning is warned
 * about; an unknown name is an error. Returns 0 or -1. */
int capmap_privileges(const char *text, const struct origin *at, uint64_t *mask,
		      struct diag *d);

#endif
