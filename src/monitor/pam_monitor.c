/* PAM on the monitor's side: the gate, the workers, and the users who
 * authenticated.
 *
 * Threat model: the program may send anything on its transaction channel,
 * at any pace, or vanish mid-conversation. The worker decodes strictly,
 * ends the transaction at the first lie, never reads more than one
 * conversation's answers, wipes them once PAM has them, and exits when the
 * channel closes. Only the worker can report an authenticated user: the
 * report socket is made by the monitor and its other end lives only in the
 * worker, which the program cannot reach.
 *
 * What the program may not choose: the PAM service is named once, at
 * pam_start, and must be one the policy grants (a plain name: PAM reads
 * /etc/pam.d/NAME, and a path would make the root worker read a file the
 * program wrote and load its module); PAM_SERVICE cannot be set afterwards.
 * And the order: a uid-0 caller is an administrator to pam_unix (it may set
 * any user's password without the old one) and to pam_rootok, so
 * pam_setcred, the session calls and pam_chauthtok run only for the user
 * who passed pam_authenticate and then pam_acct_mgmt in this transaction. */
#include "monitor/pam_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "common/kill_one.h"
#include "monitor/pam_worker.h"
#include "monitor/pam_zygote.h"
#include "wire/pam_wire.h"

_Static_assert(PAM_MONITOR_TAG > MONITOR_MAX_CHANNELS, "report tags above channel indices");

struct pam_worker_slot {
	pid_t pid;     /* 0: free */
	int pidfd;     /* the worker's, taken before it could be reaped */
	pid_t program; /* the process whose transaction it serves */
	int report;    /* the monitor's end of the report socket */
	uint32_t id;
	bool ready_after; /* make the next worker ready once this one ends */
};

/* A worker forked ahead of need, for the next transaction: it waits on its
 * report socket for the pid of the process it is to serve, so that no fork
 * is on the path of a priv_pam_start. */
struct pam_spare {
	pid_t pid; /* 0: none */
	int pidfd; /* the worker's, taken before it could be reaped */
	uint32_t id;
	int chan;   /* the program's end of the transaction's channel */
	int report; /* the monitor's end of the report socket */
};

struct pam_monitor {
	struct pam_worker_slot workers[PAM_MONITOR_MAX_WORKERS];
	struct pam_spare spare;
	/* The service the last transaction asked for, as the program named
	 * it: the next worker prepares its stack if the policy grants it
	 * (prepared_service()). */
	char asked[POLICY_SERVICE_MAX + 1];
	int ready; /* an eventfd: see spare_later(), or -1 */
	uint32_t last_id;
	uid_t users[PAM_MONITOR_MAX_USERS];
	size_t user_count;
};

/* --- the monitor ------------------------------------------------------------- */

static void spare_later(struct monitor *m);

static struct pam_monitor *state(struct monitor *m)
{
	if (!m->pam) {
		m->pam = calloc(1, sizeof(*m->pam));
		if (m->pam) {
			m->pam->spare.chan = m->pam->spare.report = -1;
			m->pam->ready = -1;
		}
	}
	return m->pam;
}

/* Close the monitor's ends of a worker that serves nobody yet: it reads the
 * end of file and leaves. */
static void spare_drop(struct pam_spare *s)
{
	if (s->pid) {
		close(s->chan);
		close(s->report);
		close(s->pidfd);
	}
	memset(s, 0, sizeof(*s));
	s->chan = s->report = -1;
}

static void slot_end(struct monitor *m, struct pam_worker_slot *s)
{
	if (!s->pid)
		return;
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->report, NULL);
	close(s->report);
	close(s->pidfd);
	s->report = s->pidfd = -1;
	s->pid = 0;
}

/* Kill a worker through its pidfd: it may have ended and been reaped
 * already, and its pid be another process's. */
static void worker_kill(int pidfd)
{
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static void record_user(struct monitor *m, struct pam_worker_slot *s, uid_t uid, const char *name)
{
	struct pam_monitor *p = m->pam;
	if (uid == 0) {
		audit_event(&m->audit, LOG_NOTICE,
			    "pam: root passed pam_authenticate and pam_acct_mgmt for pid %d; "
			    "auth_allow_rerun never adds root",
			    (int)s->program);
		return;
	}
	for (size_t i = 0; i < p->user_count; i++)
		if (p->users[i] == uid)
			return;
	if (p->user_count == PAM_MONITOR_MAX_USERS) {
		audit_event(&m->audit, LOG_WARNING,
			    "pam: %s (uid %u) authenticated, but %d users already are; not recorded",
			    name, (unsigned)uid, PAM_MONITOR_MAX_USERS);
		return;
	}
	p->users[p->user_count++] = uid;
	audit_event(&m->audit, LOG_NOTICE,
		    "pam: %s (uid %u) passed pam_authenticate and pam_acct_mgmt for pid %d; "
		    "auth_allow_rerun may use it",
		    name, (unsigned)uid, (int)s->program);
}

/* Read what a worker reported; end the slot at end of file (the worker is
 * gone) or at anything malformed. */
static void slot_drain(struct monitor *m, struct pam_worker_slot *s)
{
	while (s->pid) {
		unsigned char buf[256];
		int fds[WIRE_MAX_FDS], nfds = 0;
		ssize_t n = wire_recv(s->report, buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			bool after = s->ready_after;
			slot_end(m, s);
			if (after)
				spare_later(m);
			return;
		}
		struct wire_header h;
		struct wire_reader r;
		char name[PAM_WIRE_MAX_TEXT + 1];
		int32_t uid = -1;
		int len = -2;
		if (wire_open_message(buf, (size_t)n, &h, &r) == 0) {
			uid = wire_get_int(&r);
			len = pam_wire_get_text(&r, name, sizeof(name));
		}
		if (nfds || h.op != PAM_WIRE_AUTHENTICATED || h.id != s->id || len < 1 || uid < 0 ||
		    !wire_reader_done(&r)) {
			wire_close_fds(fds, nfds);
			audit_event(&m->audit, LOG_ERR, "pam: worker %d sent a malformed report",
				    (int)s->pid);
			worker_kill(s->pidfd);
			slot_end(m, s);
			return;
		}
		record_user(m, s, (uid_t)uid, name);
	}
}

static void spare_now(struct monitor *m);

void pam_monitor_event(struct monitor *m, uint64_t tag)
{
	if (!m->pam || !pam_monitor_owns_tag(tag))
		return;
	if (tag == PAM_MONITOR_READY_TAG)
		spare_now(m);
	else
		slot_drain(m, &m->pam->workers[tag - PAM_MONITOR_TAG]);
}

void pam_authenticated_uids(struct monitor *m, const uid_t **list, size_t *count)
{
	*list = NULL;
	*count = 0;
	if (!m->pam)
		return;
	for (size_t i = 0; i < PAM_MONITOR_MAX_WORKERS; i++)
		slot_drain(m, &m->pam->workers[i]);
	*list = m->pam->users;
	*count = m->pam->user_count;
}

void pam_monitor_free(struct monitor *m)
{
	pam_zygote_end();
	if (!m->pam)
		return;
	spare_drop(&m->pam->spare);
	if (m->pam->ready >= 0) {
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, m->pam->ready, NULL);
		close(m->pam->ready);
	}
	for (size_t i = 0; i < PAM_MONITOR_MAX_WORKERS; i++)
		slot_end(m, &m->pam->workers[i]);
	free(m->pam);
	m->pam = NULL;
}

void pam_monitor_forget(struct monitor *m)
{
	pam_zygote_forget();
	if (!m->pam)
		return;
	spare_drop(&m->pam->spare);
	if (m->pam->ready >= 0)
		close(m->pam->ready); /* the shared epoll set keeps the monitor's */
	m->pam->ready = -1;
	for (size_t i = 0; i < PAM_MONITOR_MAX_WORKERS; i++) {
		struct pam_worker_slot *s = &m->pam->workers[i];
		if (s->pid) {
			close(s->report);
			close(s->pidfd);
		}
		s->pid = 0;
		s->report = s->pidfd = -1;
	}
	m->pam->user_count = 0;
}

/* The two socketpairs of a worker: the transaction's channel (the monitor
 * makes it: the root worker never speaks on a socket the program chose)
 * and the report socket. Returns 0 or -errno. */
static int worker_pairs(int chan[2], int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;
		close(chan[0]);
		close(chan[1]);
		return -e;
	}
	return 0;
}

static void close_pairs(int chan[2], int sv[2])
{
	close(chan[0]);
	close(chan[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Fork the worker of transaction `id` from the monitor itself (the zygote
 * is gone or failed): it prepares the stack of `service` on its own. */
static pid_t worker_fork_here(struct monitor *m, int chan[2], int sv[2], uint32_t id,
			      const char *service)
{
	/* Nothing queued may be written twice, by the monitor and the worker. */
	audit_flush(&m->audit);
	pid_t monitor = getpid();
	pid_t pid = fork();
	if (pid == 0)
		pam_worker_main(m, chan[0], sv[1], id, monitor, service);
	return pid < 0 ? -errno : pid;
}

/* Make a worker for the next transaction into `w`, with the stack of
 * `service` ("": none) prepared: forked by the PAM zygote (pam_zygote.c),
 * else by the monitor. Returns 0 or -errno. */
static int worker_fork(struct monitor *m, struct pam_spare *w, const char *service)
{
	struct pam_monitor *p = m->pam;
	int chan[2], sv[2];
	int rc = worker_pairs(chan, sv);
	if (rc < 0)
		return rc;
	uint32_t id = p->last_id = p->last_id >= INT32_MAX ? 1 : p->last_id + 1;
	pid_t pid = pam_zygote_fork(m, service, chan[0], sv[1], id);
	if (pid < 0 && pid != -ENOSYS) {
		/* A worker the zygote may have forked holds these: new ones. */
		close_pairs(chan, sv);
		if ((rc = worker_pairs(chan, sv)) < 0)
			return rc;
	}
	if (pid < 0)
		pid = worker_fork_here(m, chan, sv, id, service);
	if (pid < 0) {
		close_pairs(chan, sv);
		return pid;
	}
	close(chan[0]);
	close(sv[1]);
	/* Not reaped before the loop comes round: the pid is still its own. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		int e = errno;
		kill_one(pid, SIGKILL); /* not reaped yet (above): its own pid */
		close(chan[1]);
		close(sv[0]);
		return -e;
	}
	w->pid = pid;
	w->pidfd = pidfd;
	w->id = id;
	w->chan = chan[1];
	w->report = sv[0];
	return 0;
}

/* Give worker `w` to process `program` in `slot`: it learns the pid on its
 * report socket, which the monitor then watches. Returns 0 or -errno, with
 * the monitor's ends closed and the worker killed through its pidfd (one
 * made ready earlier may have ended and been reaped: its pid may be another
 * process's now, its pidfd never is). */
static int worker_assign(struct monitor *m, struct pam_worker_slot *slot, struct pam_spare *w,
			 pid_t program)
{
	struct pam_monitor *p = m->pam;
	int32_t pid = program;
	size_t index = (size_t)(slot - p->workers);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = PAM_MONITOR_TAG + index};
	int rc = 0;
	if (send(w->report, &pid, sizeof(pid), MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(pid) ||
	    epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, w->report, &ev) < 0)
		rc = errno ? -errno : -EIO;
	if (rc < 0) {
		worker_kill(w->pidfd);
		spare_drop(w);
		return rc;
	}
	slot->pid = w->pid;
	slot->pidfd = w->pidfd;
	slot->program = program;
	slot->report = w->report;
	slot->id = w->id;
	slot->ready_after = false;
	return 0;
}

/* A free slot, and whether `program` may start another transaction (0) or
 * has too many in flight (-EAGAIN, audited); in *busy, how many are in
 * flight in all. Workers that ended free their slot here at the latest. */
static int find_slot(struct monitor *m, pid_t program, struct pam_worker_slot **out, int *busy)
{
	struct pam_monitor *p = m->pam;
	struct pam_worker_slot *slot = NULL;
	int same = 0;
	*busy = 0;
	for (size_t i = 0; i < PAM_MONITOR_MAX_WORKERS; i++) {
		struct pam_worker_slot *s = &p->workers[i];
		slot_drain(m, s);
		if (!s->pid) {
			slot = slot ? slot : s;
			continue;
		}
		++*busy;
		if (s->program == program)
			same++;
	}
	if (!slot || same >= PAM_MONITOR_MAX_PER_PROCESS) {
		audit_refusal(&m->audit, "pam_start", "pam", program, EAGAIN,
			      "too many PAM transactions in flight");
		return -EAGAIN;
	}
	*out = slot;
	return 0;
}

/* May the program use PAM at all (no service named yet)? */
static void decide_auth(struct monitor *m, struct policy_decision *d)
{
	struct policy_request pr;
	memset(&pr, 0, sizeof(pr));
	pr.op = POLICY_OP_AUTH;
	pr.app = m->audit.ident; /* priv_init's appname */
	policy_decide(m->policy, &pr, d);
}

/* Does the policy grant service `name` itself (not learning: a stack is
 * prepared only for a service the policy names)? Its canonical name into
 * `canon`. Silent: this chooses what to prepare and decides nothing; the
 * worker decides the service a program asks for, and audits it. */
static bool service_granted(struct monitor *m, const char *name, char *canon, size_t cap)
{
	struct policy_request pr;
	struct policy_decision d;
	memset(&pr, 0, sizeof(pr));
	pr.op = POLICY_OP_AUTH;
	pr.service = name;
	pr.app = m->audit.ident;
	policy_decide(m->policy, &pr, &d);
	return d.allow && !d.learned && policy_service_canon(name, canon, cap) == 0;
}

/* The service whose stack the next worker prepares: the one the last
 * transaction asked for, else the first the policy grants, else the
 * application's own (`auth true`); "" when the policy grants none. */
static void prepared_service(struct monitor *m, char *out, size_t cap)
{
	const struct policy *pol = m->policy;
	if (m->pam->asked[0] && service_granted(m, m->pam->asked, out, cap))
		return;
	for (size_t i = 0; i < pol->auth_service_count; i++)
		if (pol->auth_services[i].text &&
		    service_granted(m, pol->auth_services[i].text, out, cap))
			return;
	if (m->audit.ident[0] && service_granted(m, m->audit.ident, out, cap))
		return;
	out[0] = '\0';
}

void pam_monitor_prepare(struct monitor *m)
{
	struct policy_decision d;
	char service[POLICY_SERVICE_MAX + 1];
	decide_auth(m, &d);
	if (!d.allow || !state(m) || m->pam->spare.pid)
		return;
	prepared_service(m, service, sizeof(service));
	if (worker_fork(m, &m->pam->spare, service) < 0)
		spare_drop(&m->pam->spare);
}

void pam_monitor_reloaded(struct monitor *m)
{
	/* The zygote decides nothing, but the workers it forks decide with
	 * its copy of the policy. */
	pam_zygote_end();
	if (!m->pam || !m->pam->spare.pid)
		return;
	/* It reads the end of file and leaves, its stack never used. */
	spare_drop(&m->pam->spare);
	pam_monitor_prepare(m);
}

/* Make a worker ready when the monitor's loop next comes round: an eventfd
 * in its epoll set, readable until then. (Without one, the next
 * transaction forks its worker itself.) */
static void spare_later(struct monitor *m)
{
	struct pam_monitor *p = m->pam;
	if (p->ready < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = PAM_MONITOR_READY_TAG};
		if (fd < 0)
			return;
		if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			return;
		}
		p->ready = fd;
	}
	uint64_t one = 1;
	if (write(p->ready, &one, sizeof(one)) != sizeof(one))
		return; /* already readable */
}

/* The loop came round: make the worker ready. */
static void spare_now(struct monitor *m)
{
	struct pam_monitor *p = m->pam;
	uint64_t count;
	if (read(p->ready, &count, sizeof(count)) < 0)
		return;
	pam_monitor_prepare(m);
}

/* Queue the transaction's BEGIN, with the service and user the program
 * named in its PAM_START, on the program's end of the channel before the
 * program holds it: the worker reads it first, and the program never holds
 * a channel whose BEGIN it did not choose. The worker decodes and decides
 * it as any request. Returns 0 or -errno. */
static int queue_begin(int chan, uint32_t id, const char *service, const char *user)
{
	unsigned char msg[2 * PAM_WIRE_MAX_TEXT + 64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), PAM_WIRE_BEGIN, id);
	pam_wire_put_text(&w, service);
	pam_wire_put_text(&w, user);
	size_t size = wire_writer_finish(&w);
	if (!size)
		return -EINVAL;
	if (wire_send(chan, msg, size, NULL, 0, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

int pam_monitor_start(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		      int *fds, int *fd_out)
{
	/* The fields: the service (a text, not empty) and the user (a text
	 * or NULL), as BEGIN carries them. */
	char service[PAM_WIRE_MAX_TEXT + 1], user[PAM_WIRE_MAX_TEXT + 1];
	struct wire_reader r = {.p = req->payload, .left = req->payload_size, .broken = false};
	int n = pam_wire_get_text(&r, service, sizeof(service));
	int u = pam_wire_get_text(&r, user, sizeof(user));
	if (n < 1 || u == -2 || !wire_reader_done(&r))
		return MONITOR_VIOLATION;

	struct policy_decision d;
	decide_auth(m, &d);
	if (!d.allow) {
		audit_decision(&m->audit, "pam_start", "pam", 0, c->pid, &d, 0);
		return -EPERM;
	}
	struct pam_monitor *p = state(m);
	if (!p)
		return -ENOMEM;
	struct pam_worker_slot *slot;
	int busy;
	int rc = find_slot(m, c->pid, &slot, &busy);
	if (rc < 0)
		return rc;
	audit_decision(&m->audit, "pam_start", "pam", 0, c->pid, &d, 0);

	/* The worker made ready ahead (unless it is gone: then, as without
	 * one, a worker forked now). */
	struct pam_spare w = p->spare;
	memset(&p->spare, 0, sizeof(p->spare));
	p->spare.chan = p->spare.report = -1;
	rc = w.pid ? worker_assign(m, slot, &w, c->pid) : -ESRCH;
	if (rc < 0 && (rc = worker_fork(m, &w, "")) == 0)
		rc = worker_assign(m, slot, &w, c->pid);
	if (rc < 0)
		return rc;
	rc = queue_begin(w.chan, w.id, service, u >= 0 ? user : NULL);
	if (rc < 0) {
		worker_kill(slot->pidfd);
		close(w.chan);
		return rc;
	}
	/* What the next worker prepares, if the policy grants it. */
	if ((size_t)n < sizeof(p->asked))
		memcpy(p->asked, service, (size_t)n + 1);
	/* Only the worker and the program hold the channel. The next worker
	 * is made ready off this request's path: once this transaction's
	 * worker ended when it is the only one (so that the fork and the
	 * preparation do not compete with it for the CPU), else once this
	 * answer is sent. */
	if (busy > 0)
		spare_later(m);
	else
		slot->ready_after = true;
	*fd_out = w.chan;
	return (int)w.id;
}
