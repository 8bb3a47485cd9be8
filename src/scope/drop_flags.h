/* How a drop is made (drop.h's drop_apply() and the plan of drop_plan.h
 * both speak of it), and how a failed one ends. */
#ifndef PRIVMAN_DROP_FLAGS_H
#define PRIVMAN_DROP_FLAGS_H

enum drop_flags {
	DROP_FOR_EXEC = 1 << 0,      /* also raise inheritable and ambient so the
					kept set survives execve() */
	DROP_NO_NEW_PRIVS = 1 << 1,  /* set PR_SET_NO_NEW_PRIVS at the end */
	DROP_DRY_RUN = 1 << 2,       /* describe each step in `d` as a note;
					change nothing */
	DROP_NO_NAMESPACES = 1 << 3, /* after the chroot, a seccomp filter:
					no new namespace, no mount, no chroot */
	DROP_SHARED_DONE = 1 << 4,   /* the parent made drop_apply_shared() with
					the same DROP_NO_NAMESPACES: the filter
					is in force and the bounding set empty
					(both proven again); no chroot */
};

/* The exit status of a process whose drop failed after it had begun. */
#define DROP_FATAL_STATUS 77

#endif
