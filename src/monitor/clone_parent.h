/* fork(2) for the zygotes (proc_zygote.c, pam_zygote.c): a new process
 * whose parent is the monitor, not the zygote that makes it. */
#ifndef PRIVMAN_MONITOR_CLONE_PARENT_H
#define PRIVMAN_MONITOR_CLONE_PARENT_H

#include <stdbool.h>
#include <sys/types.h>

/* Learn, once, what the child needs of this thread: where libc keeps the
 * thread's id and the robust futex list. False when it cannot (or on an
 * architecture this is not written for): the caller then forks no process
 * this way. */
bool clone_parent_prepare(void);

/* fork(2) as libc makes it, with CLONE_PARENT: the child is the monitor's
 * own child (the monitor reaps it, has its status and takes its pidfd).
 * Only for a process with one thread that holds none of libc's locks (a
 * zygote waiting for an order); no pthread_atfork handler runs. Not clone3:
 * the namespace filter refuses it. Returns as fork(2). */
pid_t clone_parent(void);

#endif
