/* kill(2) for one process, and never more. kill() with a pid of 0 or below
 * signals a whole process group, or every process the caller may signal:
 * from the monitor, which runs as root, a pid that was never set (0) or a
 * failed fork's -1 would end the program's group or the whole system.
 * Every signal the library and its tools send to a process goes through
 * here. */
#ifndef PRIVMAN_KILL_ONE_H
#define PRIVMAN_KILL_ONE_H

#include <errno.h>
#include <signal.h>
#include <sys/types.h>

static inline int kill_one(pid_t pid, int sig)
{
	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	return kill(pid, sig);
}

#endif
