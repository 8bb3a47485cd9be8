/* Dropping privileges for good: apply a resolved security scope to the
 * calling process in the order of DESIGN.md, then prove it. */
#ifndef PRIVMAN_DROP_H
#define PRIVMAN_DROP_H

#include "policy/diag.h"
#include "policy/policy.h"

enum drop_flags {
	DROP_FOR_EXEC = 1 << 0,      /* also raise inheritable and ambient so the
					kept set survives execve() */
	DROP_NO_NEW_PRIVS = 1 << 1,  /* set PR_SET_NO_NEW_PRIVS at the end */
	DROP_DRY_RUN = 1 << 2,       /* describe each step in `d` as a note;
					change nothing */
	DROP_NO_NAMESPACES = 1 << 3, /* after the chroot, a seccomp filter:
					no new namespace, no mount, no chroot */
};

/* The exit status of a process whose drop failed after it had begun. */
#define DROP_FATAL_STATUS 77

/* Make once, in this process, what every drop of it and of its forks
 * needs and that never changes: the namespace filter (built with
 * libseccomp, which costs more than the rest of a drop) and the kernel's
 * last capability. Optional: a drop makes what is missing. 0, or -1 with
 * errno. */
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

#endif
