/* Processes: the fds a new process forked from the monitor keeps. */
#include "monitor/proc_internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

/* --- the fds a new program process keeps --------------------------------------- */

#define PROGRAM_FDS_MAX 1024
static uint64_t program_fds[PROGRAM_FDS_MAX / 64];

void proc_note_program_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir) {
		program_fds[0] = 7; /* stdin, stdout, stderr */
		return;
	}
	int self = dirfd(dir);
	struct dirent *e;
	while ((e = readdir(dir))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || e->d_name[0] == '.' || fd == self || fd < 0 || fd >= PROGRAM_FDS_MAX)
			continue;
		program_fds[fd / 64] |= UINT64_C(1) << (fd % 64);
	}
	closedir(dir);
}

static bool kept(int fd, bool program_fds_too, const int *extra, size_t n_extra)
{
	if (fd <= 2)
		return true;
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i] == fd)
			return true;
	return program_fds_too && fd < PROGRAM_FDS_MAX &&
	       (program_fds[fd / 64] & (UINT64_C(1) << (fd % 64)));
}

static bool extra_within(const int *extra, size_t n_extra, unsigned from, unsigned to)
{
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i] >= 0 && (unsigned)extra[i] >= from && (unsigned)extra[i] < to)
			return true;
	return false;
}

/* In a new process forked from the monitor: close every fd of the monitor
 * (channels, epoll, audit, other processes' pipes) but those it keeps. */
void proc_close_monitor_fds(bool program_fds_too, const int *extra, size_t n_extra)
{
	closelog(); /* its socket is closed below; syslog() opens a new one */
	unsigned lo = 3;
	for (unsigned fd = 3; fd < PROGRAM_FDS_MAX + 64; fd++) {
		/* A word of the program's fds with none set, and no extra fd in
		 * it: nothing kept there (a rerun is on the path of each). */
		if (fd % 64 == 0 && (!program_fds_too || fd >= PROGRAM_FDS_MAX ||
				     !program_fds[fd / 64]) &&
		    !extra_within(extra, n_extra, fd, fd + 64)) {
			fd += 63;
			continue;
		}
		if (!kept((int)fd, program_fds_too, extra, n_extra))
			continue;
		if (fd > lo)
			syscall(SYS_close_range, lo, fd - 1, 0);
		lo = fd + 1;
	}
	int highest = -1;
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i] > highest)
			highest = extra[i];
	/* Extra fds above the scanned range are closed around too. */
	if (highest >= (int)lo) {
		for (int fd = (int)lo; fd <= highest; fd++)
			if (!kept(fd, false, extra, n_extra))
				close(fd);
		lo = (unsigned)highest + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

void proc_close_monitor_fds_but(int keep)
{
	proc_close_monitor_fds(true, &keep, 1);
}
