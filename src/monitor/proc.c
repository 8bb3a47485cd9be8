/* Processes, the monitor's side: see proc.h.
 *
 * Threat model: every program process may be hostile. A forked child is
 * believed only through the kernel (SCM_CREDENTIALS and SCM_PIDFD on a
 * socket made for it); a function pointer from a program is called only in
 * a new process after it has become the target user; a pid in a message
 * names only a process this monitor started for that very requester. */
#include "monitor/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "program/client.h"
#include "policy/diag.h"
#include "scope/confine.h"
#include "scope/drop.h"
#include "policy/envfilter.h"
#include "common/kill_one.h"
#include "monitor/channel.h"
#include "monitor/pam_monitor.h"
#include "policy/policy.h"
#include "privman.h"
#include "monitor/resolve.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

#define PROC_MAX_ARGS 512
#define PROC_MAX_WAITERS 256
#define PROC_MAX_PENDING_PER_PARENT MONITOR_MAX_CHANNELS_PER_PROCESS
#define PROC_MAX_ANCESTRY 256
/* Processes the monitor started for one requester and that it has not
 * waited for: the monitor forks as root, so no RLIMIT_NPROC bounds them. */
#define PROC_MAX_STARTED 256
/* epoll tags (after MONITOR_PROC_TAG): a pidfd is tagged with its entry's
 * index, a priv_execve link with PROC_LINK_TAG + the index. */
#define PROC_LINK_TAG (UINT64_C(1) << 30)

enum proc_flags {
	PROC_CHILD = 1 << 0,     /* our child: reaped on SIGCHLD */
	PROC_PROGRAM = 1 << 1,   /* a program process: keeps the monitor alive */
	PROC_MONITORED = 1 << 2, /* its requester may priv_wait4 it */
	PROC_EXITED = 1 << 3,
	PROC_REPLACING = 1 << 4, /* priv_execve: it took its requester's place */
};

struct proc_entry {
	pid_t pid; /* 0: a free slot */
	int pidfd; /* -1 for our children */
	int link;  /* PROC_REPLACING: the requester's link (see exec_link_event), or -1 */
	unsigned flags;
	pid_t requester;
	int status;
	struct rusage usage;
};

struct proc_waiter {
	pid_t requester; /* 0: a free slot */
	pid_t want;      /* a pid, or -1 */
	size_t channel;
	int sock;
	uint32_t id;
};

struct proc_table {
	struct proc_entry *entries;
	size_t count, cap;
	struct proc_waiter waiters[PROC_MAX_WAITERS];
	bool program_gone;
	int program_status;
	bool program_is_child; /* false after priv_daemon */
	/* The credentials of the hello being handled. */
	pid_t hello_pid;
	int hello_pidfd;
	/* What this monitor added to the family's tally (see tally_sync). */
	long published;
};

/* Every live process that the monitors of one program know (the program's
 * own processes, those started for it, respawned monitors) is counted in
 * one number that all of them share: a respawned monitor is a fork of
 * this one and keeps the mapping. The requester's RLIMIT_NPROC bounds it,
 * since the monitor forks as root and the kernel bounds nothing. Program
 * processes never see it: become() unmaps it first. */
static long *family_tally;

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

static struct proc_table *table(struct monitor *m)
{
	if (!m->proc) {
		raise_fd_limit();
		void *tally = mmap(NULL, sizeof(*family_tally), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (tally == MAP_FAILED)
			return NULL;
		m->proc = calloc(1, sizeof(*m->proc));
		if (!m->proc) {
			munmap(tally, sizeof(*family_tally));
			return NULL;
		}
		family_tally = tally;
		m->proc->program_is_child = true;
		m->proc->hello_pidfd = -1;
	}
	return m->proc;
}

static struct proc_entry *entry_find(struct proc_table *t, pid_t pid)
{
	for (size_t i = 0; t && i < t->count; i++)
		if (t->entries[i].pid == pid)
			return &t->entries[i];
	return NULL;
}

static struct proc_entry *entry_add(struct proc_table *t, pid_t pid, int pidfd, unsigned flags,
				    pid_t requester)
{
	size_t i;
	for (i = 0; i < t->count && t->entries[i].pid; i++)
		;
	if (i == t->count) {
		if (t->count == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct proc_entry *e = realloc(t->entries, cap * sizeof(*e));
			if (!e)
				return NULL;
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

static void link_close(struct monitor *m, struct proc_entry *e)
{
	if (e->link >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, e->link, NULL);
		close(e->link);
	}
	e->link = -1;
}

static void entry_free(struct monitor *m, struct proc_entry *e)
{
	if (e->pidfd >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, e->pidfd, NULL);
		close(e->pidfd);
	}
	link_close(m, e);
	memset(e, 0, sizeof(*e));
	e->pidfd = -1;
	e->link = -1;
}

/* Signal a process of the book that has not ended: our child is not reaped
 * yet and any other is held by its pidfd, so the pid is still its own. */
static void entry_signal(struct proc_entry *e, int sig)
{
	if (e->flags & PROC_EXITED)
		return;
	if (e->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0);
	else if (e->flags & PROC_CHILD)
		kill_one(e->pid, sig);
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
static void tally_sync(struct monitor *m)
{
	struct proc_table *t = m->proc;
	if (!t || !family_tally)
		return;
	long now = live_count(m);
	__atomic_add_fetch(family_tally, now - t->published, __ATOMIC_SEQ_CST);
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
		entry_free(m, e);
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
			entry_free(m, e);
			continue;
		}
		/* A program that took the place of a process dies with it, as
		 * after execve(2) (the caller waits for it otherwise). */
		if (e->flags & PROC_REPLACING) {
			entry_signal(e, SIGKILL);
			link_close(m, e);
		}
		e->requester = 0;
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
		(void)send(e->link, &st, sizeof(st), MSG_DONTWAIT | MSG_NOSIGNAL);
		link_close(m, e);
	}
	/* Kept for a priv_wait4 to come, unless one is waiting already. */
	if ((e->flags & PROC_MONITORED) && e->requester)
		deliver_wait(m, e);
	else
		entry_free(m, e);
	forget_requester(m, pid);
}

void proc_reaped(struct monitor *m, pid_t pid, int status, const struct rusage *usage)
{
	struct proc_table *t = m->proc;
	if (pid == m->program && (!t || t->program_is_child)) {
		if (t) {
			t->program_gone = true;
			t->program_status = status;
		} else {
			monitor_finish(m, status);
		}
		monitor_end_process(m, pid);
		forget_requester(m, pid);
		struct proc_entry *e = entry_find(t, pid);
		if (e)
			entry_free(m, e);
		tally_sync(m);
		finish_if_done(m);
		return;
	}
	struct proc_entry *e = entry_find(t, pid);
	if (e && (e->flags & PROC_CHILD))
		process_ended(m, e, status, usage);
	tally_sync(m);
	if (t && t->program_gone)
		finish_if_done(m);
}

static void exec_link_event(struct monitor *m, struct proc_entry *e);

void proc_event(struct monitor *m, uint64_t tag)
{
	struct proc_table *t = m->proc;
	if (t && tag >= PROC_LINK_TAG && tag - PROC_LINK_TAG < t->count &&
	    t->entries[tag - PROC_LINK_TAG].pid && t->entries[tag - PROC_LINK_TAG].link >= 0) {
		exec_link_event(m, &t->entries[tag - PROC_LINK_TAG]);
		return;
	}
	if (!t || tag >= t->count || !t->entries[tag].pid)
		return;
	struct proc_entry *e = &t->entries[tag];
	pid_t pid = e->pid;
	process_ended(m, e, 0, NULL);
	if (pid == m->program && !t->program_is_child) {
		/* A daemonised program is not our child: its status is not ours
		 * to read. */
		t->program_gone = true;
		t->program_status = 0;
	}
	tally_sync(m);
	if (t->program_gone)
		finish_if_done(m);
}

/* --- reading the fields of a request ----------------------------------------- */

/* One decoded request of the process operations. Strings point into `text`. */
static struct proc_request {
	uint64_t fnptr;
	int32_t flags;
	int32_t pid, options;
	int32_t nochdir, noclose;
	const char *user;    /* NULL: not given */
	const char *chroot;  /* NULL: not given */
	const char *program; /* execve: the program; popen: the command */
	char *args[PROC_MAX_ARGS + 1];
	char *env[PROC_MAX_ARGS + 1];
	size_t argc, envc;
	char text[WIRE_MAX_PAYLOAD];
	size_t used;
} preq;

/* A string: BYTES holding the characters and one NUL, no other NUL. An
 * empty one (just the NUL) is NULL when `optional`. */
static const char *get_cstr(struct wire_reader *r, bool optional)
{
	char *at = preq.text + preq.used;
	size_t cap = sizeof(preq.text) - preq.used;
	if (cap == 0) {
		r->broken = true;
		return NULL;
	}
	size_t n = wire_get_bytes(r, at, cap);
	if (r->broken || n == 0 || at[n - 1] != '\0' || strlen(at) != n - 1) {
		r->broken = true;
		return NULL;
	}
	preq.used += n;
	if (n == 1 && optional)
		return NULL;
	return at;
}

static size_t get_list(struct wire_reader *r, char **out)
{
	int32_t count = wire_get_int(r);
	if (r->broken || count < 0 || count > PROC_MAX_ARGS) {
		r->broken = true;
		out[0] = NULL;
		return 0;
	}
	for (int32_t i = 0; i < count; i++) {
		out[i] = (char *)(uintptr_t)get_cstr(r, false);
		if (r->broken) {
			out[0] = NULL;
			return 0;
		}
	}
	out[count] = NULL;
	return (size_t)count;
}

static bool decode(const struct wire_request *req)
{
	return proc_decode_request(req);
}

bool proc_decode_request(const struct wire_request *req)
{
	struct wire_reader r = {.p = req->payload, .left = req->payload_size, .broken = false};
	memset(&preq, 0, offsetof(struct proc_request, text));
	preq.used = 0;
	switch (req->op) {
	case WIRE_OP_FORK:
	case WIRE_OP_HELLO:
		break;
	case WIRE_OP_WAIT:
		preq.pid = wire_get_int(&r);
		preq.options = wire_get_int(&r);
		break;
	case WIRE_OP_RERUN:
	case WIRE_OP_RESPAWN:
		if (wire_get_bytes(&r, &preq.fnptr, sizeof(preq.fnptr)) != sizeof(preq.fnptr))
			r.broken = true;
		preq.flags = wire_get_int(&r);
		preq.user = get_cstr(&r, true);
		preq.chroot = get_cstr(&r, true);
		preq.argc = get_list(&r, preq.args);
		break;
	case WIRE_OP_EXECVE:
	case WIRE_OP_EXEC_REPLACE:
		preq.program = get_cstr(&r, false);
		preq.user = get_cstr(&r, true);
		preq.chroot = get_cstr(&r, true);
		preq.argc = get_list(&r, preq.args);
		preq.envc = get_list(&r, preq.env);
		break;
	case WIRE_OP_POPEN:
		preq.program = get_cstr(&r, false);
		preq.flags = wire_get_int(&r);
		preq.user = get_cstr(&r, true);
		break;
	case WIRE_OP_DAEMON:
		preq.nochdir = wire_get_int(&r);
		preq.noclose = wire_get_int(&r);
		break;
	default:
		return false;
	}
	return wire_reader_done(&r);
}

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

/* In a new process forked from the monitor: close every fd of the monitor
 * (channels, epoll, audit, other processes' pipes) but those it keeps. */
static void close_monitor_fds(bool program_fds_too, const int *extra, size_t n_extra)
{
	closelog(); /* its socket is closed below; syslog() opens a new one */
	unsigned lo = 3;
	for (unsigned fd = 3; fd < PROGRAM_FDS_MAX + 64; fd++) {
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
	close_monitor_fds(true, &keep, 1);
}

/* --- fork ------------------------------------------------------------------------ */

static int decide_bool(struct monitor *m, struct monitor_channel *c, enum policy_op op,
		       const char *name)
{
	struct policy_request r;
	struct policy_decision d;
	memset(&r, 0, sizeof(r));
	r.op = op;
	policy_decide(m->policy, &r, &d);
	/* Learning counts every use of a grant, and needs the learned ones. */
	if (!d.allow || m->policy->learn)
		audit_decision(&m->audit, name, "-", 0, c->pid, &d, 0);
	return d.allow ? 0 : -EPERM;
}

int proc_handle_fork(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		     int *fds, int *fd_out)
{
	if (!decode(req))
		return MONITOR_VIOLATION;
	struct policy_request r;
	struct policy_decision d;
	memset(&r, 0, sizeof(r));
	r.op = POLICY_OP_FORK;
	policy_decide(m->policy, &r, &d);
	if (!d.allow) {
		audit_decision(&m->audit, "fork", "-", 0, c->pid, &d, 0);
		return -EPERM;
	}
	size_t pending = 0;
	for (size_t i = 0; i < m->channel_count; i++)
		if (m->channels[i].sock >= 0 && m->channels[i].pending &&
		    m->channels[i].parent == c->pid)
			pending++;
	if (pending >= PROC_MAX_PENDING_PER_PARENT)
		return -EAGAIN;
	if (!table(m))
		return -ENOMEM;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* The kernel attaches the sender's credentials (and a pidfd) to every
	 * message it queues on sv[0] from now on: the child's hello. */
	int on = 1;
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	(void)setsockopt(sv[0], SOL_SOCKET, SO_PASSPIDFD, &on, sizeof(on));
	struct monitor_channel *nc = monitor_channel_add(m, sv[0], 0);
	if (!nc) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	nc->pending = true;
	nc->parent = c->pid;
	audit_decision(&m->audit, "fork", "-", 0, c->pid, &d, 0);
	*fd_out = sv[1];
	return 0;
}

/* The parent pid of `pid`, from /proc/<pid>/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid": comm may hold anything, even ")". */
	char *p = strrchr(buf, ')');
	int ppid;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static bool descends_from(pid_t pid, pid_t ancestor)
{
	for (int i = 0; i < PROC_MAX_ANCESTRY && pid > 1; i++) {
		pid = parent_of(pid);
		if (pid == ancestor)
			return true;
	}
	return false;
}

/* The pid a pidfd refers to (its fdinfo), or -1. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}

void proc_serve_pending(struct monitor *m, struct monitor_channel *c)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) +
			 CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = m->buf, .iov_len = sizeof(m->buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;

	struct proc_table *t = table(m);
	pid_t pid = 0;
	int pidfd = -1;
	bool bad = n <= 0 || (size_t)n >= sizeof(m->buf) ||
		   (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !t;
	for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm;
	     cm = CMSG_NXTHDR(&mh, cm)) {
		size_t len = cm->cmsg_len - CMSG_LEN(0);
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
		    len == sizeof(struct ucred)) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			pid = cred.pid;
		} else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PIDFD &&
			   len == sizeof(int) && pidfd < 0) {
			memcpy(&pidfd, CMSG_DATA(cm), sizeof(int));
		} else {
			/* fds (or anything else) in a hello: close them all */
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < len / sizeof(int); i++) {
					int fd;
					memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
					close(fd);
				}
			else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PIDFD &&
				 len == sizeof(int)) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
				close(fd);
			}
			bad = true;
		}
	}
	if (bad || pid <= 0) {
		if (pidfd >= 0)
			close(pidfd);
		if (n > 0)
			audit_protocol(&m->audit, pid, "a forked child's hello was malformed");
		monitor_end_process(m, c->pid);
		if (c->sock >= 0) {
			/* pending: pid 0, so end it by hand */
			epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
			close(c->sock);
			c->sock = -1;
			c->pending = false;
		}
		return;
	}
	t->hello_pid = pid;
	t->hello_pidfd = pidfd;
	int rc = monitor_handle_message(m, c, (size_t)n, NULL, 0);
	if (t->hello_pidfd >= 0)
		close(t->hello_pidfd);
	t->hello_pidfd = -1;
	t->hello_pid = 0;
	if (rc < 0 && c->sock >= 0) {
		if (c->pid)
			monitor_end_process(m, c->pid);
		else {
			epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
			close(c->sock);
			c->sock = -1;
			c->pending = false;
		}
	}
}

int proc_handle_hello(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out)
{
	struct proc_table *t = m->proc;
	if (!c->pending || !t || !decode(req) || t->hello_pid <= 0)
		return MONITOR_VIOLATION;
	pid_t pid = t->hello_pid;
	int pidfd = t->hello_pidfd;
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	else
		t->hello_pidfd = -1; /* ours now */
	const char *why = NULL;
	if (pidfd < 0 || pidfd_pid(pidfd) != pid)
		why = "the process that said hello is gone";
	else if (pid == c->parent || entry_find(t, pid) || pid == m->program)
		why = "a process that already has a channel said hello on a new one";
	else if (!descends_from(pid, c->parent))
		why = "the process that said hello does not descend from the one that forked";
	/* Still alive after the checks: the pid was not reused meanwhile. */
	else if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		why = "the process that said hello is gone";
	if (why) {
		if (pidfd >= 0)
			close(pidfd);
		audit_refusal(&m->audit, "hello", "-", pid, EPERM, why);
		return MONITOR_VIOLATION;
	}
	int off = 0;
	setsockopt(c->sock, SOL_SOCKET, SO_PASSCRED, &off, sizeof(off));
	setsockopt(c->sock, SOL_SOCKET, SO_PASSPIDFD, &off, sizeof(off));
	struct proc_entry *e = entry_add(t, pid, pidfd, PROC_PROGRAM, c->parent);
	if (!e) {
		close(pidfd);
		return -ENOMEM;
	}
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = MONITOR_PROC_TAG + (uint64_t)(e - t->entries)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		int err = errno;
		entry_free(m, e);
		return -err;
	}
	c->pending = false;
	c->pid = pid;
	c->parent = 0;
	tally_sync(m);
	return 0;
}

/* --- wait4 ------------------------------------------------------------------------ */

int proc_handle_wait(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		     int *fds, int *fd_out)
{
	if (!decode(req))
		return MONITOR_VIOLATION;
	if ((preq.options & ~WNOHANG) || preq.pid == 0 || preq.pid < -1)
		return -EINVAL;
	struct proc_table *t = m->proc;
	struct proc_entry *found = NULL;
	bool any = false;
	for (size_t i = 0; t && i < t->count; i++) {
		struct proc_entry *e = &t->entries[i];
		if (!e->pid || !(e->flags & PROC_MONITORED) || e->requester != c->pid)
			continue;
		if (preq.pid != -1 && e->pid != preq.pid)
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
		entry_free(m, found);
		return pid;
	}
	if (preq.options & WNOHANG) {
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
		w->want = preq.pid;
		w->channel = (size_t)(c - m->channels);
		w->sock = c->sock;
		w->id = req->id;
		return MONITOR_DEFERRED;
	}
	return -EAGAIN;
}

/* --- becoming another user ---------------------------------------------------------- */

/* The chroot of a request, checked now (a policy file was checked when it
 * was loaded; the directory may have changed since): a clean absolute path
 * to a directory owned by root that neither group nor others may write,
 * reached with no symlink. Returns 0 or -errno with *why set. */
static int check_chroot(const char *path, const char **why, int *jail)
{
	if (!path_is_clean(path)) {
		*why = "the chroot must be an absolute path without '.', '..' or '//'";
		return -EINVAL;
	}
	int fd = path_dir_handle(path);
	if (fd < 0) {
		*why = fd == -ELOOP ? "a symlink is on the way to the chroot"
				    : "the chroot does not exist or is not a directory";
		return fd == -ELOOP ? -EPERM : fd;
	}
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		*why = "the chroot cannot be examined";
		rc = -EACCES;
	} else if (st.st_uid != 0) {
		*why = "the chroot is not owned by root";
		rc = -EPERM;
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "the chroot is writable by group or others";
		rc = -EPERM;
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*jail = fd; /* the new process chroots into this very directory */
	return 0;
}

struct target {
	struct policy_security scope;
	unsigned drop_flags; /* DROP_NO_NAMESPACES unless allow_namespaces */
	int jail;            /* the checked chroot's handle, or -1 */
	char user[256];
	char chroot[PATH_MAX];
	const struct run_rule *run; /* the run scope that granted it, or NULL */
	/* A rerun or respawn runs the program's own code: its confine scope
	 * applies (a program started by priv_execve has its run scope). */
	const struct policy_confine *confine;
	/* The requester's resource limits, read when it asked (charge()). */
	struct rlimit limits[RLIMIT_NLIMITS];
	bool limits_read;
};

/* Each handler's target: its jail handle is closed when the handler
 * returns (in the monitor; a new process has used it by then). */
#define TARGET_CLEANUP __attribute__((cleanup(target_release)))

static void target_release(struct target *t)
{
	if (t->jail >= 0)
		close(t->jail);
	t->jail = -1;
}

/* Decide and check a request to run as `user` in `chroot` (NULL: the
 * policy's unprivileged user and chroot), `program` (NULL for a rerun).
 * Fills `t` with the scope to apply. Returns 0 or -errno (audited). */
static int allow_run_as(struct monitor *m, struct monitor_channel *c, const char *op,
			const char *user, const char *chroot, const char *program,
			struct target *t)
{
	struct policy_request r;
	struct policy_decision d;
	char object[PATH_MAX + 300];

	int rc = decide_bool(m, c, POLICY_OP_RERUN, op);
	if (rc < 0)
		return rc;
	const struct policy_security *own = &m->policy->security;
	if (!user)
		user = own->user.text ? own->user.text : "nobody";
	if (!chroot)
		chroot = own->chroot.text;
	snprintf(object, sizeof(object), "%s%s%s as %s in %s", program ? program : "",
		 program ? " " : "", op, user, chroot ? chroot : "/");

	if (chroot && !path_is_clean(chroot)) {
		audit_refusal(&m->audit, op, object, c->pid, EINVAL,
			      "the chroot must be an absolute path without '.', '..' or '//'");
		return -EINVAL;
	}
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || !found) {
		audit_refusal(&m->audit, op, object, c->pid, EPERM, "no such user");
		return -EPERM;
	}
	memset(&r, 0, sizeof(r));
	r.op = POLICY_OP_RUN_AS;
	r.uid = found->pw_uid;
	r.user = user;
	r.program = program;
	r.chroot = chroot;
	if (!program) /* auth_allow_rerun: users who passed PAM in this run */
		pam_authenticated_uids(m, &r.authenticated, &r.authenticated_count);
	policy_decide(m->policy, &r, &d);
	if (!d.allow) {
		audit_decision(&m->audit, op, object, 0, c->pid, &d, 0);
		return -EPERM;
	}
	const char *why = NULL;
	int jail = -1;
	if (chroot && strcmp(chroot, "/") != 0 && (rc = check_chroot(chroot, &why, &jail)) < 0) {
		audit_refusal(&m->audit, op, object, c->pid, -rc, why);
		return -EPERM;
	}
	audit_decision(&m->audit, op, object, 0, c->pid, &d, 0);

	memset(t, 0, sizeof(*t));
	t->run = d.run;
	t->jail = jail;
	snprintf(t->user, sizeof(t->user), "%s", user);
	t->scope.user.text = t->user;
	t->scope.uid = found->pw_uid;
	t->scope.gid = found->pw_gid;
	t->scope.supplemental_set = true; /* none: never root's groups */
	if (chroot && strcmp(chroot, "/") != 0) {
		snprintf(t->chroot, sizeof(t->chroot), "%s", chroot);
		t->scope.chroot.text = t->chroot;
	}
	t->scope.resolved = true;
	/* Whatever runs in the new process runs for the program: it may not
	 * make namespaces either (allow_namespaces). */
	t->drop_flags = m->policy->allow_namespaces.value ? 0 : DROP_NO_NAMESPACES;
	if (!program && m->policy->confine.present)
		t->confine = &m->policy->confine;
	return 0;
}

/* In a new process forked from the monitor, while still root: the
 * requester's resource limits, all of them, hard ones too. */
static void apply_limits(const struct target *t)
{
	for (int r = 0; t->limits_read && r < RLIMIT_NLIMITS; r++) {
		if (setrlimit(r, &t->limits[r]) < 0) {
			syslog(LOG_ERR, "cannot apply resource limit %d: %m", r);
			_exit(DROP_FATAL_STATUS);
		}
	}
}

/* In a new process forked from the monitor: signals as a program has them,
 * the requester's umask, resource limits and, without a chroot, its working
 * directory; then drop to the target for good. */
static void become(const struct target *t, int umask_value, int cwd, unsigned drop_flags)
{
	if (family_tally) { /* the monitors' own */
		munmap(family_tally, sizeof(*family_tally));
		family_tally = NULL;
	}
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	umask((mode_t)(umask_value >= 0 ? umask_value : 022));
	if ((cwd < 0 || t->scope.chroot.text || fchdir(cwd) < 0) && chdir("/") < 0)
		_exit(DROP_FATAL_STATUS);
	if (cwd >= 0)
		close(cwd);
	apply_limits(t);
	struct diag d;
	diag_init(&d);
	struct confine_plan confine = { .ruleset_fd = -1 };
	if ((t->confine && confine_prepare(t->confine, t->scope.chroot.text, NULL,
					   confine_kernel_abi(), &confine, &d) < 0) ||
	    drop_apply_confined(&t->scope, t->jail, t->confine ? &confine : NULL,
				drop_flags | t->drop_flags, &d) < 0) {
		for (size_t i = 0; i < d.count; i++)
			syslog(LOG_ERR, "%s", d.entries[i].text);
		_exit(DROP_FATAL_STATUS);
	}
	confine_plan_free(&confine);
	if (t->jail >= 0)
		close(t->jail); /* the root now; nothing of it stays open */
	diag_free(&d);
}

/* True while the requester cannot have been replaced by another process
 * with its pid: our child until we reap it, else its pidfd says so. */
static bool requester_alive(struct monitor *m, pid_t pid)
{
	struct proc_entry *e = entry_find(m->proc, pid);
	if (e && e->pidfd >= 0)
		return syscall(SYS_pidfd_send_signal, e->pidfd, 0, NULL, 0) == 0;
	return true;
}

/* One value of /proc/PID/limits: "unlimited" or a number. */
static bool limit_value(const char *text, rlim_t *out)
{
	if (strcmp(text, "unlimited") == 0) {
		*out = RLIM_INFINITY;
		return true;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-')
		return false;
	*out = (rlim_t)v;
	return true;
}

/* Every resource limit of `pid`: prlimit(2), which needs CAP_SYS_RESOURCE
 * for another user's process; without it, /proc/PID/limits, which lists
 * them in the order of their numbers, a header first. 0 or -errno. */
static int read_limits(pid_t pid, struct rlimit limits[RLIMIT_NLIMITS])
{
	int r;
	for (r = 0; r < RLIMIT_NLIMITS; r++)
		if (prlimit(pid, r, NULL, &limits[r]) < 0)
			break;
	if (r == RLIMIT_NLIMITS)
		return 0;
	if (errno != EPERM)
		return -errno;
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	char *line = strchr(buf, '\n'); /* after the header */
	for (r = 0; r < RLIMIT_NLIMITS; r++) {
		char soft[32], hard[32];
		/* "%-25s %-20s %-20s %-10s": the name may hold spaces. */
		if (!line || strlen(++line) < 26 ||
		    sscanf(line + 26, "%31s %31s", soft, hard) != 2 ||
		    !limit_value(soft, &limits[r].rlim_cur) || !limit_value(hard, &limits[r].rlim_max))
			return -EIO;
		line = strchr(line, '\n');
	}
	return 0;
}

/* Before starting `n` processes for the requester: read its resource
 * limits (all of them, now: the new processes get these, not the
 * monitor's) and count them against its RLIMIT_NPROC soft limit, with
 * every process of the program: EAGAIN, as fork(2) says, when they would
 * exceed it. The charge stands until the next tally_sync(). Audited. */
static int charge(struct monitor *m, struct monitor_channel *c, const char *op,
		  struct target *t, long n)
{
	char object[300];
	snprintf(object, sizeof(object), "%s as %s", op, t->user);
	int rc = read_limits(c->pid, t->limits);
	if (rc < 0) {
		audit_refusal(&m->audit, op, object, c->pid, -rc,
			      "the requester's resource limits cannot be read");
		return rc;
	}
	if (!requester_alive(m, c->pid)) {
		audit_refusal(&m->audit, op, object, c->pid, ESRCH,
			      "the requester ended while its limits were read");
		return -ESRCH;
	}
	t->limits_read = true;
	if (!table(m))
		return -ENOMEM;
	tally_sync(m);
	long total = __atomic_add_fetch(family_tally, n, __ATOMIC_SEQ_CST);
	m->proc->published += n;
	rlim_t max = t->limits[RLIMIT_NPROC].rlim_cur;
	if (max != RLIM_INFINITY && (rlim_t)total > max) {
		__atomic_sub_fetch(family_tally, n, __ATOMIC_SEQ_CST);
		m->proc->published -= n;
		char why[160];
		snprintf(why, sizeof(why),
			 "%ld processes of the program run: %ld more would exceed its "
			 "RLIMIT_NPROC (%llu)",
			 total - n, n, (unsigned long long)max);
		audit_refusal(&m->audit, op, object, c->pid, EAGAIN, why);
		return -EAGAIN;
	}
	return 0;
}

static bool too_many_started(struct monitor *m, pid_t requester)
{
	size_t n = 0;
	for (size_t i = 0; m->proc && i < m->proc->count; i++)
		if (m->proc->entries[i].pid && m->proc->entries[i].requester == requester &&
		    (m->proc->entries[i].flags & (PROC_MONITORED | PROC_REPLACING)))
			n++;
	return n >= PROC_MAX_STARTED;
}

/* The working directory a new process inherits from its requester, as a
 * handle in the monitor's view (resolve_cwd); -1 when the target has a
 * chroot (it starts in its "/"). A working directory the monitor cannot
 * name in its own view is refused with EXDEV (audited): the new process
 * must never start inside a mount namespace the program arranged. */
static int requester_cwd(struct monitor *m, struct monitor_channel *c, const struct target *t,
			 const char *op)
{
	if (t->scope.chroot.text)
		return -1;
	int cwd = resolve_cwd(c->pid);
	if (cwd == -EXDEV)
		audit_refusal(&m->audit, op, t->user, c->pid, EXDEV,
			      "the working directory is not in the monitor's view of the file "
			      "system (another mount namespace?)");
	return cwd >= 0 || cwd == -EXDEV ? cwd : -1;
}

/* Fork a process that becomes the target; returns its pid in the monitor
 * (0 in the new process) or -errno. */
static pid_t start(struct monitor *m, struct monitor_channel *c, const struct target *t,
		   const char *op, int *cwd, int *mask)
{
	if (too_many_started(m, c->pid))
		return -EAGAIN;
	*mask = resolve_umask(c->pid);
	*cwd = requester_cwd(m, c, t, op);
	if (*cwd == -EXDEV)
		return -EXDEV;
	audit_flush(&m->audit);
	pid_t pid = fork();
	if (pid < 0)
		pid = -errno;
	if (pid != 0 && *cwd >= 0) {
		close(*cwd);
		*cwd = -1;
	}
	if (pid == 0) {
		pam_monitor_forget(m);
		/* Nothing of other requests crosses into the new process. */
		explicit_bzero(m->buf, sizeof(m->buf));
		explicit_bzero(&m->request, sizeof(m->request));
	}
	return pid;
}

static void run_fnptr(uint64_t fnptr)
{
	if (fnptr) {
		void (*fn)(char *const *) = (void (*)(char *const *))(uintptr_t)fnptr;
		fn(preq.args);
	}
}

static void __attribute__((noreturn)) become_program(const struct target *t, int sock, int cwd,
						     int mask);

int proc_handle_rerun(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!decode(req))
		return MONITOR_VIOLATION;
	if (preq.flags & ~PRIV_RR_OLD_SLAVE_MONITORED)
		return -EINVAL;
	struct proc_table *pt = table(m);
	if (!pt)
		return -ENOMEM;
	int rc = allow_run_as(m, c, "rerunas", preq.user, preq.chroot, NULL, &t);
	if (rc < 0)
		return rc;
	rc = charge(m, c, "rerunas", &t, 1);
	if (rc < 0)
		return rc;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int cwd, mask;
	pid_t pid = start(m, c, &t, "rerunas", &cwd, &mask);
	if (pid == 0)
		become_program(&t, sv[1], cwd, mask);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return pid;
	}
	bool monitored = preq.flags & PRIV_RR_OLD_SLAVE_MONITORED;
	struct proc_entry *e = entry_add(pt, pid, -1,
					 PROC_CHILD | PROC_PROGRAM | (monitored ? PROC_MONITORED : 0),
					 c->pid);
	if (!e || !monitor_channel_add(m, sv[0], pid)) {
		close(sv[0]);
		kill_one(pid, SIGKILL); /* reaped on SIGCHLD */
		if (e)
			e->flags &= ~(unsigned)(PROC_PROGRAM | PROC_MONITORED);
		tally_sync(m);
		return -ENOMEM;
	}
	if (monitored) {
		tally_sync(m);
		return pid;
	}

	/* flags 0: the new process takes the old one's place, and the old one
	 * is served no more once it has its answer. (Before any other
	 * entry_add: it may move the book, and `e` with it.) */
	e->requester = 0;
	e = NULL;
	pid_t old = c->pid;
	struct proc_entry *o = entry_find(pt, old);
	if (o)
		o->flags &= ~(unsigned)PROC_PROGRAM;
	else if (old == m->program && pt->program_is_child)
		/* Counted until it exits: a caller need not obey. */
		entry_add(pt, old, -1, PROC_CHILD, 0);
	if (old == m->program) {
		m->program = pid;
		pt->program_is_child = true;
	}
	tally_sync(m);
	monitor_reply(m, c, req->op, req->id, 0, -1, NULL, 0);
	monitor_end_process(m, old);
	return MONITOR_DEFERRED;
}

/* In a new process forked from the monitor: become the program that
 * falls out of priv_init as the target, on `sock`. Never returns. */
static void __attribute__((noreturn)) become_program(const struct target *t, int sock, int cwd,
						     int mask)
{
	int keep[3] = {sock, cwd, t->jail};
	close_monitor_fds(true, keep, 3);
	become(t, mask, cwd, 0);
	client_attach(sock);
	run_fnptr(preq.fnptr);
	init_return_to_program();
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
	}
}

/* Like a rerun, but the monitor duplicates itself: the new monitor serves
 * only the new program, the caller keeps this one and gets the new
 * monitor's pid, which priv_wait4 reports with the new program's status. */
int proc_handle_respawn(struct monitor *m, struct monitor_channel *c,
			const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!decode(req))
		return MONITOR_VIOLATION;
	if (preq.flags != 0)
		return -EINVAL;
	struct proc_table *pt = table(m);
	if (!pt)
		return -ENOMEM;
	int rc = allow_run_as(m, c, "respawn_as", preq.user, preq.chroot, NULL, &t);
	if (rc < 0)
		return rc;
	if (too_many_started(m, c->pid))
		return -EAGAIN;
	/* Two processes: the new monitor and its program. */
	rc = charge(m, c, "respawn_as", &t, 2);
	if (rc < 0)
		return rc;
	int mask = resolve_umask(c->pid);
	int cwd = requester_cwd(m, c, &t, "respawn_as");
	if (cwd == -EXDEV)
		return -EXDEV;
	audit_flush(&m->audit);
	pid_t monitor = fork();
	if (monitor < 0) {
		rc = -errno;
		if (cwd >= 0)
			close(cwd);
		tally_sync(m);
		return rc;
	}
	if (monitor > 0) {
		if (cwd >= 0)
			close(cwd);
		/* Of the two charged, the new monitor holds the one for its
		 * program: it is counted without a moment's gap. */
		pt->published--;
		if (!entry_add(pt, monitor, -1, PROC_CHILD | PROC_MONITORED, c->pid)) {
			kill_one(monitor, SIGKILL);
			tally_sync(m);
			return -ENOMEM;
		}
		tally_sync(m);
		return monitor;
	}

	/* The new monitor. */
	pam_monitor_forget(m);
	int sv[2];
	if (monitor_restart(m) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		syslog(LOG_ERR, "respawn_as: the new monitor cannot start: %m");
		_exit(70);
	}
	forget_all(m);
	pt->published = 1; /* its program, charged by the old monitor */
	explicit_bzero(m->buf, sizeof(m->buf));
	pid_t pid = fork();
	if (pid < 0) {
		syslog(LOG_ERR, "respawn_as: fork: %m");
		_exit(70);
	}
	if (pid == 0)
		become_program(&t, sv[1], cwd, mask);
	close(sv[1]);
	if (cwd >= 0)
		close(cwd);
	target_release(&t);
	m->program = pid;
	tally_sync(m);
	if (!monitor_channel_add(m, sv[0], pid)) {
		kill_one(pid, SIGKILL);
		_exit(70);
	}
	monitor_run(m);
}

/* A standard stream of a new program: the monitor's (the program's when
 * it called priv_init), closed, or an fd to put there. */
#define STDIO_MONITOR (-1)
#define STDIO_CLOSED (-2)

/* In the new process: put each stream in place. The fds to put there are
 * first moved above 2, so that no dup2 overwrites one still to be placed;
 * the originals are close-on-exec. */
static void set_stdio(const int stdio[3])
{
	int from[3];
	for (int i = 0; i < 3; i++) {
		from[i] = stdio[i];
		if (from[i] >= 0 && from[i] <= 2 && (from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 3)) < 0)
			_exit(127);
	}
	for (int i = 0; i < 3; i++) {
		if (from[i] >= 0 && dup2(from[i], i) < 0)
			_exit(127);
		/* A stream the caller had closed is /dev/null, as glibc makes
		 * it for a set-id program: the new program runs as another
		 * user, and its next open must not become its stdout. */
		if (from[i] == STDIO_CLOSED) {
			close(i);
			int null = open("/dev/null", O_RDWR | O_NOCTTY);
			if (null != i)
				_exit(127);
		}
	}
}

/* In the new process: wait until a byte comes through `gate` (priv_execve:
 * the caller has stopped its threads and closed its files). */
static void pass_gate(int gate)
{
	char c;
	ssize_t n;
	do
		n = read(gate, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127); /* the caller is gone */
	close(gate);
}

/* execve and popen: a program run as the target, with no channel, on the
 * standard streams `stdio`, once `gate` opens (unless -1). Its entry in the
 * book gets `flags`. */
static int run_program(struct monitor *m, struct monitor_channel *c, const struct target *t,
		       const char *op, const char *path, char *const argv[], char *const envp[],
		       const int stdio[3], int gate, unsigned flags)
{
	struct proc_table *pt = table(m);
	if (!pt)
		return -ENOMEM;
	int cwd, mask;
	pid_t pid = start(m, c, t, op, &cwd, &mask);
	if (pid == 0) {
		int keep[6] = {stdio[0], stdio[1], stdio[2], cwd, gate, t->jail};
		close_monitor_fds(false, keep, 6);
		set_stdio(stdio);
		/* execve keeps what is ignored: nothing is, in a new program. */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		become(t, mask, cwd, DROP_NO_NEW_PRIVS);
		if (gate >= 0)
			pass_gate(gate);
		execve(path, argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		tally_sync(m);
		return pid;
	}
	if (!entry_add(pt, pid, -1, PROC_CHILD | flags, c->pid)) {
		kill_one(pid, SIGKILL);
		tally_sync(m);
		return -ENOMEM;
	}
	tally_sync(m);
	return pid;
}

/* The environment `program` gets from `in` (count entries): what the
 * grant's env list names and envfilter.h lets pass; what is dropped is
 * audited by name. Returns a NULL-terminated array to free (its strings
 * are in[]'s), or NULL (ENOMEM). */
static char **passed_env(struct monitor *m, struct monitor_channel *c, const char *op,
			 const char *program, const struct target *t, char *const in[],
			 size_t count)
{
	char **out = calloc(count + 1, sizeof(*out));
	if (!out)
		return NULL;
	struct env_report report;
	env_filter(in, count, t->run ? t->run->env : NULL, t->run ? t->run->env_count : 0, out,
		   &report);
	if (report.dropped) {
		char why[sizeof(report.text) + 64];
		snprintf(why, sizeof(why), "%zu variable%s dropped from the environment: %s",
			 report.dropped, report.dropped == 1 ? "" : "s", report.text);
		audit_refusal(&m->audit, op, program, c->pid, EPERM, why);
	}
	return out;
}

/* Decide a request of priv_execve or priv_execve_spawn (audited). */
static int allow_execve(struct monitor *m, struct monitor_channel *c, struct target *t)
{
	if (preq.program[0] != '/' || !path_is_clean(preq.program)) {
		audit_refusal(&m->audit, "execve", preq.program, c->pid, EINVAL,
			      "the program must be a clean absolute path inside the chroot");
		return -EINVAL;
	}
	return allow_run_as(m, c, "execve", preq.user, preq.chroot, preq.program, t);
}

/* priv_execve_spawn: the program runs beside its caller, which gets its pid
 * for priv_wait4. */
int proc_handle_execve(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!decode(req))
		return MONITOR_VIOLATION;
	int rc = allow_execve(m, c, &t);
	if (rc < 0)
		return rc;
	rc = charge(m, c, "execve", &t, 1);
	if (rc < 0)
		return rc;
	char **env = passed_env(m, c, "execve_env", preq.program, &t, preq.env, preq.envc);
	if (!env)
		return -ENOMEM;
	char *argv0[2] = {(char *)(uintptr_t)preq.program, NULL};
	const int stdio[3] = {STDIO_MONITOR, STDIO_MONITOR, STDIO_MONITOR};
	rc = run_program(m, c, &t, "execve", preq.program, preq.argc ? preq.args : argv0, env,
			 stdio, -1, PROC_MONITORED);
	free(env);
	return rc;
}

int proc_handle_popen(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!decode(req))
		return MONITOR_VIOLATION;
	if (preq.flags != 0 && preq.flags != 1)
		return -EINVAL;
	if (!preq.user)
		return -EINVAL;
	int rc = allow_run_as(m, c, "popen_as", preq.user, NULL, "/bin/sh", &t);
	if (rc < 0)
		return rc;
	rc = charge(m, c, "popen_as", &t, 1);
	if (rc < 0)
		return rc;
	/* The shell's environment is the monitor's (the program's when it
	 * called priv_init), filtered as any other. */
	extern char **environ;
	size_t count = 0;
	while (environ && environ[count])
		count++;
	char **env = passed_env(m, c, "popen_as_env", "/bin/sh", &t, environ, count);
	if (!env)
		return -ENOMEM;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		rc = -errno;
		free(env);
		return rc;
	}
	bool reading = preq.flags == 0; /* the program reads the command's output */
	char *argv[] = {"sh", "-c", (char *)(uintptr_t)preq.program, NULL};
	int stdio[3] = {STDIO_MONITOR, STDIO_MONITOR, STDIO_MONITOR};
	if (reading)
		stdio[STDOUT_FILENO] = p[1];
	else
		stdio[STDIN_FILENO] = p[0];
	pid_t pid = run_program(m, c, &t, "popen_as", "/bin/sh", argv, env, stdio, -1,
				PROC_MONITORED);
	free(env);
	close(reading ? p[1] : p[0]);
	if (pid < 0) {
		close(reading ? p[0] : p[1]);
		return pid;
	}
	*fd_out = reading ? p[0] : p[1];
	return pid;
}

/* Watch a process that is not (or no longer) our child through a pidfd. */
static int watch_pidfd(struct monitor *m, struct proc_entry *e)
{
	struct proc_table *t = m->proc;
	if (e->pidfd < 0)
		e->pidfd = (int)syscall(SYS_pidfd_open, e->pid, 0);
	if (e->pidfd < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = MONITOR_PROC_TAG + (uint64_t)(e - t->entries)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, e->pidfd, &ev) < 0)
		return -errno;
	e->flags &= ~(unsigned)PROC_CHILD;
	return 0;
}

/* daemon(3) for the monitor: this process exits, as the parent of
 * daemon(3) does, and a child of it, in a session of its own, serves on.
 * The program then does the same on its side (client_proc.c). */
int proc_handle_daemon(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out)
{
	if (!decode(req))
		return MONITOR_VIOLATION;
	int rc = decide_bool(m, c, POLICY_OP_FORK, "daemon");
	if (rc < 0)
		return rc;
	struct proc_table *t = table(m);
	if (!t)
		return -ENOMEM;
	audit_flush(&m->audit);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0); /* the new monitor holds every channel */

	if (setsid() < 0)
		syslog(LOG_WARNING, "monitor: setsid: %m");
	if (!preq.noclose) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	/* Our former parent's children are nobody's now: watch them by pidfd.
	 * Their exit status is lost to priv_wait4 (reported as 0). */
	for (size_t i = 0; i < t->count; i++) {
		struct proc_entry *e = &t->entries[i];
		if (e->pid && (e->flags & PROC_CHILD) && !(e->flags & PROC_EXITED) &&
		    watch_pidfd(m, e) < 0)
			e->flags = (e->flags | PROC_EXITED) & ~(unsigned)PROC_PROGRAM;
	}
	if (t->program_is_child && !t->program_gone) {
		struct proc_entry *e = entry_add(t, m->program, -1, PROC_PROGRAM, 0);
		if (!e || watch_pidfd(m, e) < 0) {
			if (e)
				entry_free(m, e);
			t->program_gone = true;
		}
		t->program_is_child = false;
	}
	audit_event(&m->audit, LOG_INFO, "monitor detached as pid %d for daemon(3)", (int)getpid());
	return 0;
}

/* --- priv_execve: the program takes the caller's place ------------------------- */

/* The link of a priv_execve caller: a SOCK_SEQPACKET unix socket of a pair
 * that the caller itself made (its peer's credentials are the caller's), so
 * never one end of a channel or PAM socket, which the monitor made. */
static bool link_of(int fd, pid_t caller)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		return false;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return false;
	struct ucred peer;
	len = sizeof(peer);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == caller &&
	       peer.pid != getpid();
}

/* The caller's standard streams and its gate, which it queued on the link
 * before its request: one message of an INT mask (bit i < 3: its fd i is
 * open and not close-on-exec; bit 3, always set: the gate) with one fd for
 * each bit set, in order. The gate is the read end of a pipe on which the
 * caller writes once it has stopped its threads and closed its files: the
 * program waits for it before it starts. Returns 0 with stdio[] filled (fds
 * or STDIO_CLOSED) and *gate, or -1 (every fd received closed). */
static int recv_stdio(int link, int stdio[3], int *gate)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	int32_t bits = -1;
	struct iovec iov = {.iov_base = &bits, .iov_len = sizeof(bits)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(link, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	int got[8];
	size_t ngot = 0;
	bool bad = n != (ssize_t)sizeof(bits) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
	for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (ngot < sizeof(got) / sizeof(got[0]))
				got[ngot++] = fd;
			else
				close(fd);
		}
	}
	if (bad || bits < 8 || bits > 15 || (size_t)__builtin_popcount((unsigned)bits) != ngot) {
		wire_close_fds(got, (int)ngot);
		return -1;
	}
	/* A stream is a file for reading or writing, never a directory or an
	 * O_PATH handle (a way out of a chroot for the new program), and the
	 * gate is a pipe. */
	for (size_t i = 0; i < ngot; i++) {
		struct stat st;
		int fl = fcntl(got[i], F_GETFL);
		bool gate_fd = i == ngot - 1;
		if (fstat(got[i], &st) < 0 || fl < 0 || (fl & O_PATH) || S_ISDIR(st.st_mode) ||
		    (gate_fd && !S_ISFIFO(st.st_mode))) {
			wire_close_fds(got, (int)ngot);
			return -1;
		}
	}
	int k = 0;
	for (int i = 0; i < 3; i++)
		stdio[i] = (bits & (1 << i)) ? got[k++] : STDIO_CLOSED;
	*gate = got[k];
	return 0;
}

/* priv_execve: the program takes its caller's place. It gets the caller's
 * standard streams; the caller, which sent the link (a SOCK_SEQPACKET
 * socket) with the request, waits on it for the program's wait status, and
 * sends on it the signals it is sent (exec_link_event). */
int proc_handle_exec_replace(struct monitor *m, struct monitor_channel *c,
			     const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	int stdio[3], gate;
	if (!decode(req) || !link_of(fds[0], c->pid) || recv_stdio(fds[0], stdio, &gate) < 0)
		return MONITOR_VIOLATION;
	struct proc_table *pt = table(m);
	int rc = pt ? allow_execve(m, c, &t) : -ENOMEM;
	if (rc == 0)
		rc = charge(m, c, "execve", &t, 1);
	char **env = NULL;
	if (rc == 0) {
		env = passed_env(m, c, "execve_env", preq.program, &t, preq.env, preq.envc);
		if (!env)
			rc = -ENOMEM;
	}
	char *argv0[2] = {(char *)(uintptr_t)preq.program, NULL};
	pid_t pid = rc;
	if (rc == 0)
		pid = run_program(m, c, &t, "execve", preq.program, preq.argc ? preq.args : argv0, env,
				  stdio, gate, PROC_REPLACING);
	free(env);
	for (int i = 0; i < 3; i++)
		if (stdio[i] >= 0)
			close(stdio[i]);
	close(gate);
	if (pid < 0)
		return pid;
	struct proc_entry *e = entry_find(pt, pid);
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = MONITOR_PROC_TAG + PROC_LINK_TAG +
					     (uint64_t)(e - pt->entries)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		rc = -errno;
		entry_signal(e, SIGKILL); /* reaped on SIGCHLD */
		e->flags &= ~(unsigned)PROC_REPLACING;
		return rc;
	}
	e->link = fds[0];
	fds[0] = -1; /* the entry owns it now */
	return 0;
}

/* Signals the caller of priv_execve may pass on to the program that took
 * its place (client_proc.c sends these only). */
static bool exec_forwardable(int32_t sig)
{
	return sig == SIGHUP || sig == SIGINT || sig == SIGQUIT || sig == SIGTERM ||
	       sig == SIGUSR1 || sig == SIGUSR2 || sig == SIGALRM;
}

/* The caller of priv_execve sent a signal to pass on, or is gone (end of
 * file): then the program that took its place is killed, as execve(2)
 * would have it die with the process. Anything else breaks the link. */
static void exec_link_event(struct monitor *m, struct proc_entry *e)
{
	for (int i = 0; i < 16; i++) {
		int32_t sig[2];
		ssize_t n = recv(e->link, sig, sizeof(sig), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n == (ssize_t)sizeof(sig[0]) && exec_forwardable(sig[0])) {
			entry_signal(e, sig[0]);
			continue;
		}
		if (n > 0)
			audit_protocol(&m->audit, e->requester,
				       "a priv_execve caller sent something else than a signal");
		entry_signal(e, SIGKILL);
		link_close(m, e);
		return;
	}
}
