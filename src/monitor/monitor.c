/* The monitor: event loop, channels, dispatch table, and the socket front
 * end of the requests it serves. Open, unlink and bind are handled by
 * object.c, which knows nothing of channels: here each is decoded, given
 * its base directory and umask, handled, audited once, and answered.
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
#include "common/kill_one.h"
#include "monitor/pam_monitor.h"
#include "monitor/proc.h"
#include "monitor/resolve.h"

#define SIGNAL_TAG UINT64_MAX
/* Messages served from one channel before the others get a turn. One: a
 * second recvmsg would mostly find the queue empty, and epoll_wait costs no
 * more than that when more is waiting. */
#define BATCH 1

/* A handler returns a status (>= 0, or -errno) and may set *fd_out. It may
 * take an fd from `fds` by setting the slot to -1; the rest are closed. */
typedef int handler_fn(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out);

static handler_fn handle_open, handle_unlink, handle_bind, handle_exit, handle_channel;
static int send_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		      int status, int fd_out, const void *fields, size_t fields_size);

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

int monitor_handle_message(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
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
	return send_reply(m, c, req->op, req->id, status, fd_out, m->reply_fields,
			  m->reply_fields_size);
}

/* Returns 0 when sent, 1 when held until the channel is writable, -1 when
 * the reply could not be built or sent. Closes fd_out unless it is held. */
static int send_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		      int status, int fd_out, const void *fields, size_t fields_size)
{
	struct wire_writer w;
	wire_writer_init(&w, m->reply, sizeof(m->reply), op, id);
	wire_put_int(&w, status);
	if (fields_size && !w.broken) {
		if (w.len + fields_size > w.cap) {
			w.broken = true;
		} else {
			memcpy(w.buf + w.len, fields, fields_size);
			w.len += fields_size;
		}
	}
	size_t len = wire_writer_finish(&w);
	int want = wire_reply_fds(op, status);
	int nout = want && fd_out >= 0 ? 1 : 0;
	if (!nout && fd_out >= 0) {
		close(fd_out);
		fd_out = -1;
	}
	if (!len || want != nout) {
		if (fd_out >= 0)
			close(fd_out);
		return -1;
	}
	int rc = wire_send(c->sock, m->reply, len, &fd_out, nout, MSG_DONTWAIT);
	if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !c->held_size) {
		memcpy(c->held, m->reply, len);
		c->held_size = len;
		c->held_fd = fd_out;
		return 1;
	}
	if (fd_out >= 0)
		close(fd_out);
	return rc;
}

static void watch(struct monitor *m, struct monitor_channel *c, uint32_t events);

int monitor_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		  int status, int fd, const void *fields, size_t fields_size)
{
	int rc = send_reply(m, c, op, id, status, fd, fields, fields_size);
	if (rc < 0) {
		monitor_end_process(m, c->pid);
		return -1;
	}
	if (rc > 0)
		watch(m, c, EPOLLOUT);
	return 0;
}

/* --- channels and the loop ------------------------------------------------------ */

static int channel_add(struct monitor *m, int sock, pid_t pid)
{
	return monitor_channel_add(m, sock, pid) ? 0 : -errno;
}

struct monitor_channel *monitor_channel_add(struct monitor *m, int sock, pid_t pid)
{
	size_t free_slot = m->channel_count, same = 0;
	for (size_t i = 0; i < m->channel_count; i++) {
		if (m->channels[i].sock < 0) {
			if (free_slot == m->channel_count)
				free_slot = i;
		} else if (m->channels[i].pid == pid) {
			same++;
		}
	}
	if ((pid && same >= MONITOR_MAX_CHANNELS_PER_PROCESS) || free_slot >= MONITOR_MAX_CHANNELS) {
		errno = EMFILE;
		return NULL;
	}
	struct monitor_channel *c = &m->channels[free_slot];
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = free_slot};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, sock, &ev) < 0)
		return NULL;
	c->sock = sock;
	c->pid = pid;
	c->held_fd = -1;
	c->held_size = 0;
	c->pending = false;
	c->parent = 0;
	if (free_slot == m->channel_count)
		m->channel_count++;
	return c;
}

static void channel_close(struct monitor *m, struct monitor_channel *c)
{
	if (c->sock < 0)
		return;
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, c->sock, NULL);
	close(c->sock);
	c->sock = -1;
	if (c->held_fd >= 0)
		close(c->held_fd);
	c->held_fd = -1;
	c->held_size = 0;
	c->pending = false;
	c->pid = 0;
}

/* A protocol violation, or a reply that could not be delivered: serve that
 * process no further request, on any of its channels (fail closed). */
void monitor_end_process(struct monitor *m, pid_t pid)
{
	if (pid <= 0)
		return;
	for (size_t i = 0; i < m->channel_count; i++)
		if (m->channels[i].sock >= 0 && m->channels[i].pid == pid)
			channel_close(m, &m->channels[i]);
}

static void watch(struct monitor *m, struct monitor_channel *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)(c - m->channels)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->sock, &ev) < 0)
		channel_close(m, c);
}

/* Send the held reply; returns true when the channel may be read again. */
static bool flush_held(struct monitor *m, struct monitor_channel *c)
{
	int nfds = c->held_fd >= 0 ? 1 : 0;
	if (wire_send(c->sock, c->held, c->held_size, &c->held_fd, nfds, MSG_DONTWAIT) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		channel_close(m, c);
		return false;
	}
	if (c->held_fd >= 0)
		close(c->held_fd);
	c->held_fd = -1;
	c->held_size = 0;
	watch(m, c, EPOLLIN);
	return c->sock >= 0;
}

static void serve_channel(struct monitor *m, struct monitor_channel *c)
{
	if (c->held_size && !flush_held(m, c))
		return;
	if (c->pending) {
		proc_serve_pending(m, c);
		return;
	}
	for (int i = 0; i < BATCH && c->sock >= 0; i++) {
		int fds[WIRE_MAX_FDS];
		int nfds = 0;
		ssize_t n = wire_recv(c->sock, m->buf, sizeof(m->buf), fds, &nfds, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EPROTO) {
			audit_protocol(&m->audit, c->pid, "truncated message or unexpected fds");
			monitor_end_process(m, c->pid);
			return;
		}
		if (n <= 0) { /* the program closed its end, or the channel broke */
			channel_close(m, c);
			return;
		}
		int rc = monitor_handle_message(m, c, (size_t)n, fds, nfds);
		if (rc < 0) {
			monitor_end_process(m, c->pid);
			return;
		}
		if (rc > 0) {
			watch(m, c, EPOLLOUT);
			return;
		}
	}
}

int monitor_init(struct monitor *m, const char *appname, struct policy *policy,
		 char *policy_path, int audit_fd, pid_t program, int sock, int signal_fd)
{
	m->policy = policy;
	m->policy_path = policy_path;
	audit_init(&m->audit, appname);
	m->audit.fd = audit_fd;
	m->program = program;
	m->signal_fd = signal_fd;
	m->channels = calloc(MONITOR_MAX_CHANNELS, sizeof(*m->channels));
	m->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (!m->channels || m->epoll_fd < 0)
		return -1;
	m->channel_count = 0;
	m->pam = NULL;
	m->append = NULL;

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

/* A monitor forked from this one (priv_respawn_as) serves only its own
 * program: it forgets every channel and gets an epoll set of its own (the
 * inherited one is shared with the parent monitor, so nothing may be
 * removed from it here). */
int monitor_restart(struct monitor *m)
{
	append_forget(m);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	close(m->epoll_fd);
	m->epoll_fd = ep;
	for (size_t i = 0; i < m->channel_count; i++) {
		struct monitor_channel *c = &m->channels[i];
		if (c->sock >= 0)
			close(c->sock);
		if (c->held_fd >= 0)
			close(c->held_fd);
		c->sock = c->held_fd = -1;
		c->held_size = 0;
		c->pending = false;
		c->pid = 0;
	}
	m->channel_count = 0;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SIGNAL_TAG};
	return epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, m->signal_fd, &ev);
}

/* SIGHUP: read the policy again. The rules take effect at once; the security
 * scope was applied when the program started and cannot change now. */
static void reload(struct monitor *m)
{
	struct diag d;
	diag_init(&d);
	const char *paths[1] = {m->policy_path};
	struct policy *p = conf_load_files(paths, 1, &d);
	if (p && policy_validate(p, &d) < 0) {
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
	policy_free(m->policy);
	m->policy = p;
	audit_event(&m->audit, LOG_INFO, "reloaded %s", m->policy_path);
}

/* Leave the way the program left. */
void monitor_finish(struct monitor *m, int status)
{
	for (size_t i = 0; i < m->channel_count; i++)
		channel_close(m, &m->channels[i]);
	append_finish(m);
	audit_finish(&m->audit);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		/* The program already dumped any core worth having. */
		struct rlimit none = {0, 0};
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
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
			kill_one(m->program, sig);
		if (sig == SIGHUP)
			reload(m);
	}
}

void monitor_run(struct monitor *m)
{
	struct epoll_event events[16];
	/* Signals are blocked and read from the signalfd; a program that ended
	 * before it existed is still pending there, but look once anyway. */
	reap(m);
	for (;;) {
		int n = epoll_wait(m->epoll_fd, events, 16, audit_flush_due_ms(&m->audit));
		if (n == 0 || audit_flush_due_ms(&m->audit) == 0)
			audit_flush(&m->audit);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			syslog(LOG_CRIT, "monitor: epoll_wait: %m; ending the program");
			kill_one(m->program, SIGKILL);
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
