/* The monitor: event loop, dispatch table, set-up, signals, reload, and the
 * socket front end of the requests it serves. The top of the monitor: the
 * only part that includes the handlers' headers; they, below it, reach
 * the channels (channel.c) and the state (state.h), never this file. Open,
 * unlink and bind are handled by object.c, which knows nothing of
 * channels: here each is decoded, given its base directory and umask,
 * handled, audited once, and answered.
 *
 * Threat model: everything that arrives on a channel is hostile. A request
 * is decoded by a strict reader; anything that does not parse ends service
 * to that channel (fail closed). Runs as root. */
#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "monitor/append.h"
#include "monitor/custom.h"
#include "monitor/object.h"
#include "monitor/pam_monitor.h"
#include "monitor/proc.h"
#include "monitor/resolve.h"
#include "scope/confine.h"
#include "scope/resolve_scope.h"

#define SIGNAL_TAG MONITOR_SIGNAL_TAG
/* Messages served from one channel in a row, at most, before the others
 * (channels, signals, PAM workers) get their turn: epoll is level-triggered
 * and hands out ready channels in turn, so a channel that always has a
 * message waiting delays each of the others by BATCH messages, never more. */
#define BATCH 8
/* Reading a channel again at once, rather than through epoll_wait, pays
 * when the program's next request is already there after its reply went
 * out: on one CPU the reply wakes the program, which runs and asks again
 * before the monitor goes on. Where it is not (the program on another
 * CPU, or thinking), each try is a recvmsg for nothing: c->ahead counts
 * recent hits (up to AHEAD_MAX) and misses, and a channel at 0 tries only
 * every AHEAD_PROBE-th message, to notice when that changes. */
#define AHEAD_MAX 8
#define AHEAD_PROBE 32

/* A handler returns a status (>= 0, or -errno) and may set *fd_out. It may
 * take an fd from `fds` by setting the slot to -1; the rest are closed. */
typedef int handler_fn(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out);

static handler_fn handle_open, handle_unlink, handle_bind, handle_exit, handle_channel;

/* The dispatch table, as in OpenSSH's monitor.c: what each operation needs
 * from the policy, how many fds it takes and returns, and who serves it. */
static const struct dispatch {
	uint32_t op;
	const char *needs; /* the directives that can grant it */
	int fds_out;       /* fds in the reply when the status is >= 0 */
	handler_fn *handler;
} dispatch_table[] = {
	{WIRE_OP_OPEN, "open_ro, open_ao, open_rw", 1, handle_open},
	{WIRE_OP_UNLINK, "unlink", 0, handle_unlink},
	{WIRE_OP_BIND, "bind", 0, handle_bind},
	{WIRE_OP_EXIT, "nothing", 0, handle_exit},
	{WIRE_OP_CHANNEL, "nothing", 1, handle_channel},
	{WIRE_OP_PAM_START, "auth", 1, pam_monitor_start},
	{WIRE_OP_FORK, "fork", 1, proc_handle_fork},
	{WIRE_OP_HELLO, "a channel from fork", 0, proc_handle_hello},
	{WIRE_OP_WAIT, "nothing: its own children", 0, proc_handle_wait},
	{WIRE_OP_RERUN, "allow_rerun, run_as or run", 0, proc_handle_rerun},
	{WIRE_OP_RESPAWN, "allow_rerun, run_as or run", 0, proc_handle_respawn},
	{WIRE_OP_EXECVE, "allow_rerun, run_as or run", 0, proc_handle_execve},
	{WIRE_OP_EXEC_REPLACE, "allow_rerun, run_as or run", 0, proc_handle_exec_replace},
	{WIRE_OP_POPEN, "allow_rerun, run_as or run", 1, proc_handle_popen},
	{WIRE_OP_DAEMON, "fork", 0, proc_handle_daemon},
	{WIRE_OP_CUSTOM, "custom", 1, custom_handle},
};

static const struct dispatch *dispatch_find(uint32_t op)
{
	for (size_t i = 0; i < sizeof(dispatch_table) / sizeof(dispatch_table[0]); i++)
		if (dispatch_table[i].op == op)
			return &dispatch_table[i];
	return NULL;
}

/* --- open, unlink, bind: the socket front end of object.c -------------------- */

/* The request as object.c takes it, from a decoded message on channel `c`. */
static void object_request_from(const struct monitor_channel *c, const struct wire_request *w,
				enum object_op op, struct object_request *r)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->pid = c->pid; /* from the kernel, never from the message */
	r->path = w->path;
	r->base = AT_FDCWD;
	r->flags = w->flags;
	r->mode = (mode_t)w->mode;
	r->sock = -1;
	r->addr = &w->addr;
	r->addrlen = w->addrlen;
}

/* The directory a relative path starts from: the program's working
 * directory, in the monitor's view (EXDEV when it is not there: see
 * resolve_cwd). An absolute path starts from the monitor's own root. */
static void object_base(const struct monitor_channel *c, struct object_request *r)
{
	if (r->path[0] == '/')
		return;
	int base = resolve_cwd(c->pid);
	if (base < 0) {
		r->base = -1;
		r->base_error = -base;
	} else {
		r->base = base;
	}
}

/* Handle, audit once, and give the dispatcher the status and the fd. */
static int object_serve(struct monitor *m, struct object_request *r, int *fd_out)
{
	struct object_result res;
	object_handle(m, r, &res);
	object_audit(m, r, &res);
	if (r->base >= 0)
		close(r->base);
	*fd_out = res.fd;
	return res.error ? -res.error : 0;
}

static int handle_open(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	struct object_request r;
	object_request_from(c, req, OBJECT_OPEN, &r);
	if (object_needs_umask(r.flags))
		r.umask = resolve_umask(c->pid);
	object_base(c, &r);
	return object_serve(m, &r, fd_out);
}

static int handle_unlink(struct monitor *m, struct monitor_channel *c,
			 const struct wire_request *req, int *fds, int *fd_out)
{
	struct object_request r;
	object_request_from(c, req, OBJECT_UNLINK, &r);
	object_base(c, &r);
	return object_serve(m, &r, fd_out);
}

/* The socket stays the program's: fds[0] is closed by the dispatcher. */
static int handle_bind(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	struct object_request r;
	object_request_from(c, req, OBJECT_BIND, &r);
	r.path = "";
	r.sock = fds[0];
	return object_serve(m, &r, fd_out);
}

/* --- exit ------------------------------------------------------------------ */

static int handle_exit(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		       int *fds, int *fd_out)
{
	audit_event(&m->audit, LOG_INFO, "pid %d exits with status %d", (int)c->pid,
		    (int)req->status);
	return 0;
}

/* --- channel ---------------------------------------------------------------- */

static int channel_add(struct monitor *m, int sock, pid_t pid);

/* One more channel for the same process, so that its threads need not queue
 * behind one socket. The monitor makes the socketpair itself and hands the
 * program one end: a channel is never a socket the program chose, so it can
 * never be a socket whose peer is the monitor itself (both ends of one pair
 * sent as two channels answer each other for ever), another process, or
 * one of the monitor's own sockets. */
static int handle_channel(struct monitor *m, struct monitor_channel *c,
			  const struct wire_request *req, int *fds, int *fd_out)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int rc = channel_add(m, sv[0], c->pid);
	if (rc < 0) {
		close(sv[0]);
		close(sv[1]);
		audit_refusal(&m->audit, "channel", "-", c->pid, -rc,
			      "no room for another channel");
		return rc;
	}
	*fd_out = sv[1];
	return 0;
}

/* --- messages ---------------------------------------------------------------- */

int monitor_dispatch(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
		     int nfds)
{
	struct wire_request *req = &m->request;
	const char *why = "malformed message";
	if (wire_decode_request(m->buf, size, nfds, req, &why) < 0) {
		wire_close_fds(fds, nfds);
		audit_protocol(&m->audit, c->pid, why);
		return -1;
	}
	const struct dispatch *entry = dispatch_find(req->op);
	if (!entry) {
		wire_close_fds(fds, nfds);
		audit_protocol(&m->audit, c->pid, "no handler for the operation");
		return -1;
	}
	if (c->pending && req->op != WIRE_OP_HELLO) {
		wire_close_fds(fds, nfds);
		audit_protocol(&m->audit, c->pid, "a forked child's first message must be hello");
		return -1;
	}
	int fd_out = -1;
	m->reply_fields_size = 0;
	int status = entry->handler(m, c, req, fds, &fd_out);
	wire_close_fds(fds, nfds);
	if (status == MONITOR_VIOLATION) {
		if (fd_out >= 0)
			close(fd_out);
		audit_protocol(&m->audit, c->pid, "malformed fields");
		return -1;
	}
	if (status == MONITOR_DEFERRED)
		return c->sock >= 0 ? 0 : -1;
	if (entry->fds_out == 0 && fd_out >= 0) {
		close(fd_out);
		fd_out = -1;
	}
	return monitor_send_reply(m, c, req->op, req->id, status, fd_out, m->reply_fields,
				  m->reply_fields_size);
}

/* --- channels and the loop ------------------------------------------------------ */

static int channel_add(struct monitor *m, int sock, pid_t pid)
{
	return monitor_channel_add(m, sock, pid) ? 0 : -errno;
}

static bool answered_at_once(uint32_t op)
{
	return op == WIRE_OP_OPEN || op == WIRE_OP_UNLINK || op == WIRE_OP_BIND;
}

/* Whether to read channel `c` again at once, after a message from it. */
static bool read_ahead(struct monitor_channel *c)
{
	if (c->ahead > 0)
		return true;
	return ++c->ahead_skipped % AHEAD_PROBE == 0;
}

/* What a read ahead found: a message (hit) or none. */
static void read_ahead_result(struct monitor_channel *c, bool hit)
{
	if (hit && c->ahead < AHEAD_MAX)
		c->ahead++;
	else if (!hit)
		c->ahead = c->ahead > 2 ? (unsigned char)(c->ahead - 2) : 0;
}

static void serve_channel(struct monitor *m, struct monitor_channel *c)
{
	if (c->held_size && !monitor_flush_held(m, c))
		return;
	if (c->pending) {
		proc_serve_pending(m, c);
		return;
	}
	for (int i = 0; i < BATCH && c->sock >= 0; i++) {
		if (i > 0 && !read_ahead(c))
			return;
		int fds[WIRE_MAX_FDS];
		int nfds = 0;
		ssize_t n = wire_recv(c->sock, m->buf, sizeof(m->buf), fds, &nfds, MSG_DONTWAIT);
		bool none = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		if (i > 0)
			read_ahead_result(c, !none);
		if (none)
			return;
		if (n < 0 && errno == EPROTO) {
			audit_protocol(&m->audit, c->pid, "truncated message or unexpected fds");
			monitor_end_process(m, c->pid);
			return;
		}
		if (n <= 0) { /* the program closed its end, or the channel broke */
			monitor_channel_close(m, c);
			return;
		}
		int rc = monitor_dispatch(m, c, (size_t)n, fds, nfds);
		if (rc < 0) {
			monitor_end_process(m, c->pid);
			return;
		}
		if (rc > 0) {
			monitor_watch(m, c, EPOLLOUT);
			return;
		}
		/* Read ahead only after the requests answered at once by
		 * object.c: after any other (a reply deferred, a channel or
		 * a process made or ended) epoll says when to go on. */
		if (!answered_at_once(m->request.op))
			return;
	}
}

int monitor_init(struct monitor *m, const char *appname, struct policy *policy,
		 char *policy_path, int audit_fd, pid_t program, int sock, int signal_fd)
{
	m->policy = policy;
	m->policy_path = policy_path;
	audit_init(&m->audit, appname);
	m->audit.fd = audit_fd;
	m->program_pidfd = -1;
	m->signal_fd = signal_fd;
	/* priv_init forked the program and has not reaped it. */
	if (monitor_set_program(m, program, -1) < 0)
		return -1;
	m->channels = calloc(MONITOR_MAX_CHANNELS, sizeof(*m->channels));
	m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!m->channels || m->epoll_fd < 0)
		return -1;
	m->channel_count = 0;
	m->pam = NULL;
	m->append = NULL;
	m->dispatch = monitor_dispatch;
	m->loop = monitor_loop;

	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SIGNAL_TAG};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, signal_fd, &ev) < 0)
		return -1;
	int rc = channel_add(m, sock, program);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* SIGHUP: read the policy again. The rules take effect at once; the security
 * scope was applied when the program started and cannot change now. */
static void reload(struct monitor *m)
{
	struct diag d;
	diag_init(&d);
	const char *paths[1] = {m->policy_path};
	struct policy *p = conf_load_files(paths, 1, &d);
	if (p && (policy_validate(p, &d) < 0 ||
		  confine_check_paths(&p->confine, p->security.chroot.text, &d) < 0)) {
		policy_free(p);
		p = NULL;
	}
	for (size_t i = 0; i < d.count; i++)
		syslog(d.entries[i].severity == DIAG_ERROR ? LOG_ERR : LOG_WARNING, "%s",
		       d.entries[i].text);
	diag_free(&d);
	if (!p) {
		audit_event(&m->audit, LOG_ERR,
			    "reload of %s failed; the policy in force is unchanged", m->policy_path);
		return;
	}
	if (!policy_security_equal(&p->security, &m->policy->security))
		audit_event(&m->audit, LOG_WARNING,
			    "reload of %s: the security scope changed and needs a restart; "
			    "it is not applied",
			    m->policy_path);
	if (p->allow_namespaces.value != m->policy->allow_namespaces.value)
		audit_event(&m->audit, LOG_WARNING,
			    "reload of %s: allow_namespaces %s applies to processes started from "
			    "now on; running ones keep the filter they have (or have none)",
			    m->policy_path, p->allow_namespaces.value ? "true" : "false");
	if (!policy_confine_equal(&p->confine, &m->policy->confine))
		audit_event(&m->audit, LOG_WARNING,
			    "reload of %s: the confine scope changed: it applies to reruns started "
			    "from now on; running processes keep the confinement they have (or have "
			    "none)",
			    m->policy_path);
	p->learn = m->policy->learn; /* a reload does not end learning */
	policy_free(m->policy);
	m->policy = p;
	pam_monitor_reloaded(m);
	audit_event(&m->audit, LOG_INFO, "reloaded %s", m->policy_path);
}

/* Reap every child that ended; when the program did, leave as it left. */
static void reap(struct monitor *m)
{
	int status;
	pid_t pid;
	struct rusage usage;
	/* proc.c knows which child was the program, and whether other
	 * program processes still need the monitor. */
	while ((pid = wait4(-1, &status, WNOHANG, &usage)) > 0)
		proc_reaped(m, pid, status, &usage);
}

static void handle_signals(struct monitor *m)
{
	struct signalfd_siginfo si;
	while (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD) {
			reap(m);
			continue;
		}
		/* A signal from the terminal reached the program already (same
		 * process group); one sent to the monitor by a process did not. */
		if (si.ssi_code != SI_KERNEL)
			proc_forward_signal(m, sig);
		if (sig == SIGHUP)
			reload(m);
	}
}

void monitor_loop(struct monitor *m)
{
	struct epoll_event events[16];
	/* Signals are blocked and read from the signalfd; a program that ended
	 * before it existed is still pending there, but look once anyway. */
	reap(m);
	for (;;) {
		audit_round_end(&m->audit);
		proc_fork_prepare(); /* off the path of the priv_fork answered */
		int n = epoll_wait(m->epoll_fd, events, 16, audit_flush_due_ms(&m->audit));
		/* One reading of the clock for the round's rate limit. */
		if (audit_round(&m->audit) || n == 0)
			audit_flush(&m->audit);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			syslog(LOG_CRIT, "monitor: epoll_wait: %m; ending the program");
			proc_forward_signal(m, SIGKILL);
			_exit(70);
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;
			if (tag == SIGNAL_TAG)
				handle_signals(m);
			else if (tag == APPEND_TAG)
				append_event(m);
			else if (pam_monitor_owns_tag(tag))
				pam_monitor_event(m, tag);
			else if (custom_owns_tag(tag))
				custom_event(m, tag);
			else if (tag >= MONITOR_PROC_TAG)
				proc_event(m, tag - MONITOR_PROC_TAG);
			else if (tag < m->channel_count)
				serve_channel(m, &m->channels[tag]);
		}
	}
}
