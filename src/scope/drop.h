/* Dropping privileges for good: apply a resolved security scope to the
 * calling process in the order of DESIGN.md, then prove it. The scope is
 * resolved first by scope/resolve_scope.h; drop_plan.c makes every check
 * before anything changes, drop.c makes the changes and proves them. Used
 * by priv_init's program, by processes the monitor starts as another user,
 * and by `privman run`. */
#ifndef PRIVMAN_DROP_H
#define PRIVMAN_DROP_H

#include "policy/diag.h"
#include "policy/policy.h"
#include "scope/drop_flags.h"

/* Make once, in this process, what every drop of it and of its forks
 * needs and that never changes: the kernel's last capability, and the
 * check that the namespace filter (made at build time) is for this ABI.
 * Optional: a drop makes what is missing. 0, or -1 with errno. */
int drop_prepare(void);

/* Apply `s` (policy_security_resolve() must have succeeded on it).
 * Returns 0 when the process now holds exactly the scope's credentials,
 * or -1 with the reason in `d` when a check made before any change failed
 * (nothing was changed). A failure after the first change is fatal: it is
 * logged and the process _exits with DROP_FATAL_STATUS. */
int drop_apply(const struct policy_security *s, unsigned flags, struct diag *d);

/* drop_apply() into the jail `jail`, an O_PATH | O_DIRECTORY handle on the
 * scope's chroot that the caller opened and checked: the process ends in
 * that very directory, whatever the name means now (checked again: owned by
 * root, not writable by group or others). With -1, the chroot is the
 * directory the scope's name names, walked with no symlink. */
int drop_apply_in(const struct policy_security *s, int jail, unsigned flags, struct diag *d);

/* drop_apply_in() that also enters `confine` (confine_prepare() made it;
 * NULL: none) right after the chroot and the namespace filter. The plan's
 * ruleset is closed once entered; the caller frees the plan. */
struct confine_plan;
int drop_apply_confined(const struct policy_security *s, int jail, struct confine_plan *confine,
			unsigned flags, struct diag *d);

/* For a root process that forks many drops (the monitor's rerun zygote,
 * monitor/proc_zygote.c): the first steps of every drop without a chroot or
 * a confine scope, made once here and inherited by each fork: the namespace
 * filter (with DROP_NO_NAMESPACES) and the bounding set emptied with the
 * securebits locked, in that order, then proven. The process keeps its ids
 * and capability sets. A child then drops with DROP_SHARED_DONE added to
 * the same flags, which proves both again. 0, or -1 with the reasons in `d`
 * and nothing changed; a failure after the first change is fatal. */
int drop_apply_shared(unsigned flags, struct diag *d);

#endif
