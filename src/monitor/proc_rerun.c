/* Processes: priv_rerunas and priv_respawn_as, which start a new program
 * process as another user (and, for respawn_as, a new monitor for it). */
#include "monitor/proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "common/kill_one.h"
#include "monitor/pam_monitor.h"
#include "monitor/resolve.h"
#include "privman.h"
#include "scope/drop.h"

static proc_program_entry program_entry;

void proc_set_program_entry(proc_program_entry entry)
{
	program_entry = entry;
}

int proc_handle_rerun(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	if (proc_req.flags & ~PRIV_RR_OLD_SLAVE_MONITORED) {
		audit_refusal(&m->audit, "rerunas", "-", c->pid, EINVAL, "unknown flags");
		return -EINVAL;
	}
	struct proc_table *pt = proc_book(m);
	if (!pt)
		return -ENOMEM;
	int rc = proc_allow_run_as(m, c, "rerunas", proc_req.user, proc_req.chroot, NULL, &t);
	if (rc < 0)
		return rc;
	rc = proc_charge(m, c, "rerunas", &t, 1);
	if (rc < 0)
		return rc;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int cwd, mask;
	pid_t pid = proc_zygote_start(m, c, &t, req, sv[1]);
	if (pid == -ENOSYS) {
		pid = proc_start(m, c, &t, "rerunas", &cwd, &mask);
		if (pid == 0)
			proc_become_program(&t, sv[1], cwd, mask, 0);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return pid;
	}
	bool monitored = proc_req.flags & PRIV_RR_OLD_SLAVE_MONITORED;
	unsigned flags = PROC_CHILD | PROC_PROGRAM | (monitored ? PROC_MONITORED : 0);
	struct proc_entry *e = proc_entry_add(pt, pid, -1, flags, c->pid);
	/* The main program's place is taken by the new process. */
	pid_t old = c->pid;
	bool replaces_main = !monitored && old == m->program;
	if (!e || !monitor_channel_add(m, sv[0], pid) ||
	    (replaces_main && monitor_set_program(m, pid, fcntl(e->pidfd, F_DUPFD_CLOEXEC, 0)) < 0)) {
		close(sv[0]);
		/* Our child, not reaped before this returns: its pid is its own
		 * (it is reaped on SIGCHLD). */
		kill_one(pid, SIGKILL);
		if (e)
			e->flags &= ~(unsigned)(PROC_PROGRAM | PROC_MONITORED);
		proc_tally_sync(m);
		return -ENOMEM;
	}
	if (monitored) {
		proc_tally_sync(m);
		return pid;
	}

	/* flags 0: the new process takes the old one's place, and the old one
	 * is served no more once it has its answer. (Before any other
	 * proc_entry_add: it may move the book, and `e` with it.) */
	e->requester = 0;
	e = NULL;
	struct proc_entry *o = proc_entry_find(pt, old);
	if (o)
		o->flags &= ~(unsigned)PROC_PROGRAM;
	else if (replaces_main && pt->program_is_child)
		/* Counted until it exits: a caller need not obey. */
		proc_entry_add(pt, old, -1, PROC_CHILD, 0);
	if (replaces_main)
		pt->program_is_child = true;
	proc_tally_sync(m);
	monitor_reply(m, c, req->op, req->id, 0, -1, NULL, 0);
	monitor_end_process(m, old);
	return MONITOR_DEFERRED;
}

/* In a new process forked from the monitor or its zygote: become the
 * program that falls out of priv_init as the target, on `sock`. */
void __attribute__((noreturn)) proc_become_program(const struct target *t, int sock, int cwd,
						   int mask, unsigned drop_flags)
{
	int keep[3] = {sock, cwd, t->jail};
	proc_close_monitor_fds(true, keep, 3);
	proc_become(t, mask, cwd, drop_flags);
	/* The program's function, called only now that this process is the
	 * target user. */
	void (*fn)(char *const *) = (void (*)(char *const *))(uintptr_t)proc_req.fnptr;
	if (program_entry)
		program_entry(sock, fn, proc_req.args);
	_exit(DROP_FATAL_STATUS); /* no way back into the program */
}

/* Forget the processes of the monitor this one was forked from. */
static void forget_all(struct monitor *m)
{
	struct proc_table *t = m->proc;
	for (size_t i = 0; t && i < t->count; i++) {
		if (t->entries[i].pidfd >= 0)
			close(t->entries[i].pidfd); /* not in our epoll set */
		if (t->entries[i].link >= 0)
			close(t->entries[i].link);
		memset(&t->entries[i], 0, sizeof(t->entries[i]));
	}
	if (t) {
		t->count = 0;
		t->published = 0; /* the old monitor's part stays its own */
		memset(t->waiters, 0, sizeof(t->waiters));
		t->program_gone = false;
		t->program_status = 0;
		t->program_is_child = true;
		t->daemon_caller = 0;
	}
}

/* In the new monitor of a respawn: forget the old one's processes, start
 * the new program as the target and serve it. Never returns. */
static void __attribute__((noreturn)) respawned_monitor(struct monitor *m, struct target *t,
							 int cwd, int mask)
{
	pam_monitor_forget(m);
	int sv[2];
	if (monitor_restart(m) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		syslog(LOG_ERR, "respawn_as: the new monitor cannot start: %m");
		_exit(70);
	}
	forget_all(m);
	proc_zygote_forget();
	proc_fork_forget_spare();
	m->proc->published = 1; /* its program, charged by the old monitor */
	explicit_bzero(m->buf, sizeof(m->buf));
	pid_t pid = fork();
	if (pid < 0) {
		syslog(LOG_ERR, "respawn_as: fork: %m");
		_exit(70);
	}
	if (pid == 0)
		proc_become_program(t, sv[1], cwd, mask, 0);
	close(sv[1]);
	if (cwd >= 0)
		close(cwd);
	proc_target_release(t);
	if (monitor_set_program(m, pid, -1) < 0 || !monitor_channel_add(m, sv[0], pid)) {
		kill_one(pid, SIGKILL); /* our child, not reaped: its pid is its own */
		_exit(70);
	}
	proc_tally_sync(m);
	monitor_run(m);
}

/* Like a rerun, but the monitor duplicates itself: the new monitor serves
 * only the new program, the caller keeps this one and gets the new
 * monitor's pid, which priv_wait4 reports with the new program's status. */
int proc_handle_respawn(struct monitor *m, struct monitor_channel *c,
			const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	if (proc_req.flags != 0) {
		audit_refusal(&m->audit, "respawn_as", "-", c->pid, EINVAL, "unknown flags");
		return -EINVAL;
	}
	struct proc_table *pt = proc_book(m);
	if (!pt)
		return -ENOMEM;
	int rc = proc_allow_run_as(m, c, "respawn_as", proc_req.user, proc_req.chroot, NULL, &t);
	if (rc < 0)
		return rc;
	if (proc_too_many_started(m, c, "respawn_as", t.user))
		return -EAGAIN;
	/* Two processes: the new monitor and its program. */
	rc = proc_charge(m, c, "respawn_as", &t, 2);
	if (rc < 0)
		return rc;
	int mask = resolve_umask(c->pid);
	int cwd = proc_requester_cwd(m, c, &t, "respawn_as");
	if (cwd == -EXDEV)
		return -EXDEV;
	audit_flush(&m->audit);
	pid_t monitor = fork();
	if (monitor < 0) {
		rc = -errno;
		if (cwd >= 0)
			close(cwd);
		proc_tally_sync(m);
		return rc;
	}
	if (monitor > 0) {
		if (cwd >= 0)
			close(cwd);
		/* Of the two charged, the new monitor holds the one for its
		 * program: it is counted without a moment's gap. */
		pt->published--;
		if (!proc_entry_add(pt, monitor, -1, PROC_CHILD | PROC_MONITORED, c->pid)) {
			kill_one(monitor, SIGKILL); /* our child, not reaped yet */
			proc_tally_sync(m);
			return -ENOMEM;
		}
		proc_tally_sync(m);
		return monitor;
	}

	respawned_monitor(m, &t, cwd, mask);
}
