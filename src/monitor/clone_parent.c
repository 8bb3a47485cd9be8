/* fork(2) for the zygotes, with the monitor as the child's parent. */
#include "monitor/clone_parent.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where libc keeps this thread's id, which fork(2) as libc makes it sets
 * in the child (CLONE_CHILD_SETTID); the robust futex list, which the
 * kernel does not copy to a child. */
static pid_t *tid_address;
static void *robust_head;
static size_t robust_len;

bool clone_parent_prepare(void)
{
#if defined(__x86_64__)
	if (prctl(PR_GET_TID_ADDRESS, &tid_address, 0L, 0L, 0L) != 0 || !tid_address ||
	    *tid_address != (pid_t)syscall(SYS_gettid))
		return false;
	return syscall(SYS_get_robust_list, 0, &robust_head, &robust_len) == 0;
#else
	return false; /* clone's arguments are in another order: not written */
#endif
}

pid_t clone_parent(void)
{
#if defined(__x86_64__)
	unsigned long flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD;
	long pid = syscall(SYS_clone, flags, 0L, NULL, tid_address, 0L);
	if (pid == 0)
		syscall(SYS_set_robust_list, robust_head, robust_len);
	return (pid_t)pid;
#else
	errno = ENOSYS;
	return -1;
#endif
}
