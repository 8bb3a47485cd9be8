/* kill(2) for one process, and never more. kill() with a pid of 0 or below
 * signals a whole process group, or every process the caller may signal:
 * from the monitor, which runs as root, a pid that was never set (0) or a
 * failed fork's -1 would end the program's group or the whole system.
 * Every signal the library and its tools send to a process by pid goes
 * through here. In the monitor that is only a child it has just forked and
 * not reaped (only its loop reaps, and not before the caller returns), so
 * the pid cannot be another process's yet; any other process the monitor
 * signals through the pidfd it took while the pid was that process's. */
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
