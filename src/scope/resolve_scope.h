/* The policy against this system (resolve_scope.c): users, groups, chroot
 * directories and capabilities resolved and checked where they are. The
 * language's own checks are policy_validate_syntax() (policy/policy.h). */
#ifndef PRIVMAN_RESOLVE_SCOPE_H
#define PRIVMAN_RESOLVE_SCOPE_H

#include "policy/diag.h"
#include "policy/policy.h"

/* Check what does not need the system (policy_validate_syntax()), then
 * what does (users, groups, chroot directories, bounding set, PAM service
 * files), and fill policy->security. Returns 0, or -1 with every reason in
 * `d`. */
int policy_validate(struct policy *p, struct diag *d);

/* Resolve a security scope's names to ids and check it against this system:
 * user and groups exist, the chroot is a root-owned directory not writable by
 * group or others, and every capability is in the bounding set. Used by
 * policy_validate() and by `privman run` after command-line overrides. */
int policy_security_resolve(struct policy_security *s, struct diag *d);

#endif
