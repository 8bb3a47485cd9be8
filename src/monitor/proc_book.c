/* Processes: the book of every process the monitor serves or started,
 * what happens when one ends, and priv_wait4. See proc_internal.h. */
#include "monitor/proc_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every live process that the monitors of one program know is counted in
 * one number they share (see proc_internal.h). */
long *proc_family_tally;

/* --- the book ---------------------------------------------------------------- */

/* Each program process costs the monitor two fds (its channel and a
 * pidfd): a pre-forking server with hundreds of workers needs more than the
 * usual soft limit of 1024. */
static void raise_fd_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

struct proc_table *proc_book(struct monitor *m)
{
	if (!m->proc) {
		raise_fd_limit();
		void *tally = mmap(NULL, sizeof(*proc_family_tally), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (tally == MAP_FAILED)
			return NULL;
		m->proc = calloc(1, sizeof(*m->proc));
		if (!m->proc) {
			munmap(tally, sizeof(*proc_family_tally));
			return NULL;
		}
		proc_family_tally = tally;
		m->proc->program_is_child = true;
		m->proc->hello_pidfd = -1;
	}
	return m->proc;
}

struct proc_entry *proc_entry_find(struct proc_table *t, pid_t pid)
{
	for (size_t i = 0; t && i < t->count; i++)
		if (t->entries[i].pid == pid)
			return &t->entries[i];
	return NULL;
}

struct proc_entry *proc_entry_add(struct proc_table *t, pid_t pid, int pidfd, unsigned flags,
				  pid_t requester)
{
	/* A child is added before the monitor's loop comes round to reap
	 * anything: its pid is still its own, and so is the pidfd taken now. */
	int opened = -1;
	if (pidfd < 0 && (flags & PROC_CHILD))
		pidfd = opened = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return NULL;
	size_t i;
	for (i = 0; i < t->count && t->entries[i].pid; i++)
		;
	if (i == t->count) {
		if (t->count == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct proc_entry *e = realloc(t->entries, cap * sizeof(*e));
			if (!e) {
				if (opened >= 0)
					close(opened);
				return NULL;
			}
			t->entries = e;
			t->cap = cap;
		}
		t->count++;
	}
	struct proc_entry *e = &t->entries[i];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->pidfd = pidfd;
	e->link = -1;
	e->flags = flags;
	e->requester = requester;
	return e;
}

void proc_link_close(struct monitor *m, struct proc_entry *e)
{
	if (e->link >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, e->link, NULL);
		close(e->link);
	}
	e->link = -1;
}

void proc_entry_free(struct monitor *m, struct proc_entry *e)
{
	if (e->pidfd >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, e->pidfd, NULL);
		close(e->pidfd);
	}
	proc_link_close(m, e);
	memset(e, 0, sizeof(*e));
	e->pidfd = -1;
	e->link = -1;
}

/* Signal a process of the book that has not ended, through the pidfd
 * taken when it was known to be that process: never by its pid, which
 * another process may have by now. */
void proc_entry_signal(struct proc_entry *e, int sig)
{
	if (!(e->flags & PROC_EXITED) && e->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0);
}

void proc_forward_signal(struct monitor *m, int sig)
{
	struct proc_table *t = m->proc;
	if (!t || !t->program_gone) {
		syscall(SYS_pidfd_send_signal, m->program_pidfd, sig, NULL, 0);
		return;
	}
	/* The main program is gone and others keep the monitor: they are the
	 * program now (as the processes of its group would be). */
	for (size_t i = 0; i < t->count; i++)
		if (t->entries[i].pid && (t->entries[i].flags & PROC_PROGRAM))
			proc_entry_signal(&t->entries[i], sig);
}

static size_t live_programs(const struct monitor *m)
{
	const struct proc_table *t = m->proc;
	size_t n = t && t->program_gone ? 0 : 1;
	for (size_t i = 0; t && i < t->count; i++) {
		const struct proc_entry *e = &t->entries[i];
		if (e->pid && e->pid != m->program && (e->flags & PROC_PROGRAM) &&
		    !(e->flags & PROC_EXITED))
			n++;
	}
	return n;
}

/* The processes of the program this monitor knows and that still run:
 * the main program, the ones it started (a rerun's caller too, until it
 * exits) and the forked children that said hello. */
static long live_count(const struct monitor *m)
{
	const struct proc_table *t = m->proc;
	long n = 0;
	bool main_listed = false;
	for (size_t i = 0; t && i < t->count; i++) {
		const struct proc_entry *e = &t->entries[i];
		if (!e->pid || (e->flags & PROC_EXITED))
			continue;
		n++;
		if (e->pid == m->program)
			main_listed = true;
	}
	if (t && !main_listed && !t->program_gone)
		n++;
	return n;
}

/* Bring this monitor's part of the family's tally up to date: called
 * whenever a process starts or ends. */
void proc_tally_sync(struct monitor *m)
{
	struct proc_table *t = m->proc;
	if (!t || !proc_family_tally)
		return;
	long now = live_count(m);
	__atomic_add_fetch(proc_family_tally, now - t->published, __ATOMIC_SEQ_CST);
	t->published = now;
}

/* The monitor lives while any program process does; it then leaves with
 * the status of the main program (the one priv_init or a rerun made). */
static void finish_if_done(struct monitor *m)
{
	if (live_programs(m) == 0)
		monitor_finish(m, m->proc ? m->proc->program_status : 0);
}

static void put_wait_fields(struct monitor *m, int status, const struct rusage *usage)
{
	struct wire_writer w;
	unsigned char buf[sizeof(m->reply_fields) + sizeof(struct wire_header)];
	wire_writer_init(&w, buf, sizeof(buf), 0, 0);
	wire_put_int(&w, status);
	wire_put_bytes(&w, usage, sizeof(*usage));
	size_t n = w.len - sizeof(struct wire_header);
	memcpy(m->reply_fields, buf + sizeof(struct wire_header), n);
	m->reply_fields_size = w.broken ? 0 : n;
}

/* A monitored process ended: answer a priv_wait4 that waits for it. */
static bool deliver_wait(struct monitor *m, struct proc_entry *e)
{
	struct proc_table *t = m->proc;
	for (size_t i = 0; i < PROC_MAX_WAITERS; i++) {
		struct proc_waiter *w = &t->waiters[i];
		if (!w->requester || w->requester != e->requester ||
		    (w->want != -1 && w->want != e->pid))
			continue;
		struct monitor_channel *c = &m->channels[w->channel];
		struct proc_waiter copy = *w;
		memset(w, 0, sizeof(*w));
		if (copy.channel >= m->channel_count || c->sock != copy.sock ||
		    c->pid != copy.requester)
			continue; /* that channel is gone */
		pid_t pid = e->pid;
		put_wait_fields(m, e->status, &e->usage);
		size_t n = m->reply_fields_size;
		m->reply_fields_size = 0;
		proc_entry_free(m, e);
		monitor_reply(m, c, WIRE_OP_WAIT, copy.id, pid, -1, m->reply_fields, n);
		return true;
	}
	return false;
}

/* `pid` is gone: nobody may wait for what it started any more. */
static void forget_requester(struct monitor *m, pid_t pid)
{
	struct proc_table *t = m->proc;
	if (!t)
		return;
	for (size_t i = 0; i < PROC_MAX_WAITERS; i++)
		if (t->waiters[i].requester == pid)
			memset(&t->waiters[i], 0, sizeof(t->waiters[i]));
	for (size_t i = 0; i < t->count; i++) {
		struct proc_entry *e = &t->entries[i];
		if (!e->pid || e->requester != pid)
			continue;
		if (e->flags & PROC_EXITED) {
			proc_entry_free(m, e);
			continue;
		}
		/* A program that took the place of a process dies with it, as
		 * after execve(2) (the caller waits for it otherwise). */
		if (e->flags & PROC_REPLACING) {
			proc_entry_signal(e, SIGKILL);
			proc_link_close(m, e);
		}
		e->requester = 0;
	}
}

/* The caller of priv_execve `pid` was sent the status of the program that
 * took its place, and leaves with it. When it is not our child (after
 * priv_daemon), its end comes by its pidfd, without a status: this is the
 * one it has, and the monitor's own when it is the main program. */
static void caller_leaves_with(struct monitor *m, pid_t pid, int status)
{
	struct proc_entry *c = proc_entry_find(m->proc, pid);
	if (c && !(c->flags & (PROC_CHILD | PROC_EXITED))) {
		c->status = status;
		c->flags |= PROC_STATUS_KNOWN;
	}
}

/* A process ended (reaped, or its pidfd said so). */
static void process_ended(struct monitor *m, struct proc_entry *e, int status,
			  const struct rusage *usage)
{
	pid_t pid = e->pid;
	e->flags |= PROC_EXITED;
	e->status = status;
	if (usage)
		e->usage = *usage;
	if (e->pidfd >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, e->pidfd, NULL);
		close(e->pidfd);
		e->pidfd = -1;
	}
	if (e->flags & PROC_PROGRAM)
		monitor_end_process(m, pid);
	/* priv_execve: its caller waits for this status to leave with it. */
	if (e->link >= 0) {
		int32_t st = status;
		if (send(e->link, &st, sizeof(st), MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof(st))
			caller_leaves_with(m, e->requester, status);
		proc_link_close(m, e);
	}
	/* Kept for a priv_wait4 to come, unless one is waiting already. */
	if ((e->flags & PROC_MONITORED) && e->requester)
		deliver_wait(m, e);
	else
		proc_entry_free(m, e);
	forget_requester(m, pid);
}

void proc_reaped(struct monitor *m, pid_t pid, int status, const struct rusage *usage)
{
	proc_zygote_reaped(pid);
	struct proc_table *t = m->proc;
	if (pid == m->program && (!t || t->program_is_child)) {
		if (t) {
			t->program_gone = true;
			t->program_status = status;
			/* Its pid is free now, and may be a new process's. */
			m->program = 0;
		} else {
			monitor_finish(m, status);
		}
		monitor_end_process(m, pid);
		forget_requester(m, pid);
		struct proc_entry *e = proc_entry_find(t, pid);
		if (e)
			proc_entry_free(m, e);
		proc_tally_sync(m);
		finish_if_done(m);
		return;
	}
	struct proc_entry *e = proc_entry_find(t, pid);
	if (e && (e->flags & PROC_CHILD))
		process_ended(m, e, status, usage);
	proc_tally_sync(m);
	if (t && t->program_gone)
		finish_if_done(m);
}

void proc_event(struct monitor *m, uint64_t tag)
{
	struct proc_table *t = m->proc;
	if (t && tag >= PROC_LINK_TAG && tag - PROC_LINK_TAG < t->count &&
	    t->entries[tag - PROC_LINK_TAG].pid && t->entries[tag - PROC_LINK_TAG].link >= 0) {
		proc_exec_link_event(m, &t->entries[tag - PROC_LINK_TAG]);
		return;
	}
	if (!t || tag >= t->count || !t->entries[tag].pid)
		return;
	struct proc_entry *e = &t->entries[tag];
	pid_t pid = e->pid;
	/* Not our child (after priv_daemon): its status is not ours to read,
	 * unless it is one it was given (caller_leaves_with). */
	int status = (e->flags & PROC_STATUS_KNOWN) ? e->status : 0;
	process_ended(m, e, status, NULL);
	if (pid == m->program && !t->program_is_child) {
		t->program_gone = true;
		t->program_status = status;
		m->program = 0; /* its pid may be a new process's */
	}
	proc_tally_sync(m);
	if (t->program_gone)
		finish_if_done(m);
}

/* --- wait4 ------------------------------------------------------------------------ */

int proc_handle_wait(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		     int *fds, int *fd_out)
{
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	if ((proc_req.options & ~WNOHANG) || proc_req.pid == 0 || proc_req.pid < -1) {
		audit_refusal(&m->audit, "wait4", "-", c->pid, EINVAL,
			      "options other than WNOHANG, or a process group");
		return -EINVAL;
	}
	struct proc_table *t = m->proc;
	struct proc_entry *found = NULL;
	bool any = false;
	for (size_t i = 0; t && i < t->count; i++) {
		struct proc_entry *e = &t->entries[i];
		if (!e->pid || !(e->flags & PROC_MONITORED) || e->requester != c->pid)
			continue;
		if (proc_req.pid != -1 && e->pid != proc_req.pid)
			continue;
		any = true;
		if (e->flags & PROC_EXITED) {
			found = e;
			break;
		}
	}
	if (!any)
		return -ECHILD;
	if (found) {
		pid_t pid = found->pid;
		put_wait_fields(m, found->status, &found->usage);
		proc_entry_free(m, found);
		return pid;
	}
	if (proc_req.options & WNOHANG) {
		struct rusage none;
		memset(&none, 0, sizeof(none));
		put_wait_fields(m, 0, &none);
		return 0;
	}
	for (size_t i = 0; i < PROC_MAX_WAITERS; i++) {
		struct proc_waiter *w = &t->waiters[i];
		if (w->requester)
			continue;
		w->requester = c->pid;
		w->want = proc_req.pid;
		w->channel = (size_t)(c - m->channels);
		w->sock = c->sock;
		w->id = req->id;
		return MONITOR_DEFERRED;
	}
	audit_refusal(&m->audit, "wait4", "-", c->pid, EAGAIN,
		      "too many priv_wait4 calls are waiting already");
	return -EAGAIN;
}
