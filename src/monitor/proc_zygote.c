/* Processes: the rerun zygote, a root process forked from the monitor that
 * starts the processes of priv_rerunas.
 *
 * Every rerun process drops to its user, and the first steps of that drop
 * are the same for every user without a chroot or a confine scope: the
 * namespace filter (which the kernel takes longer to load than the rest of
 * the drop takes) and the bounding set emptied with the securebits locked.
 * The zygote makes them once (drop_apply_shared) and forks each rerun
 * process from then on; the process inherits them, makes the rest of the
 * drop (groups, ids, capability sets) and proves all of it, the inherited
 * steps too, as any drop does (DROP_SHARED_DONE).
 *
 * The zygote forks with CLONE_PARENT: the new process is the monitor's
 * child, as one the monitor forked itself would be. The monitor reaps it,
 * has its exit status and rusage for priv_wait4, and takes its pidfd while
 * it cannot have been reaped. The zygote is never a program process: it
 * runs only this file's code, takes orders only from the monitor on its
 * own socket, is not counted against RLIMIT_NPROC, and dies with the
 * monitor. When it is gone (killed, or it failed), the next rerun forks a
 * new one; when it cannot serve a target (a chroot, a confine scope, other
 * drop flags), the monitor starts the process itself as before.
 *
 * Threat model: the zygote holds what the monitor held when it was forked,
 * less the request buffers and PAM's state (as any process forked from the
 * monitor); the rerun process it forks is the program's only after the
 * drop, as with the monitor's own fork. */
#include "monitor/proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "common/kill_one.h"
#include "monitor/clone_parent.h"
#include "monitor/pam_monitor.h"
#include "monitor/resolve.h"
#include "scope/drop.h"

/* An order to the zygote: the target as proc_allow_run_as decided it, and
 * the request's payload, which the zygote decodes as the monitor did (its
 * code and layout are the monitor's). With it come the new process's
 * socket and, unless -1, its working directory. */
struct zygote_order {
	uid_t uid;
	gid_t gid;
	char user[256];
	struct rlimit limits[RLIMIT_NLIMITS];
	int32_t mask;
	uint32_t payload_size;
	unsigned char payload[WIRE_MAX_PAYLOAD];
};

/* The monitor's zygote (one per monitor; a respawned monitor forgets the
 * one it was forked with). */
static struct {
	pid_t pid;   /* 0: none */
	int ctl;     /* its socket */
	unsigned flags; /* the drop flags of its shared steps */
} zygote = {.ctl = -1};

/* An order and its reply take no longer than this, or the zygote is
 * taken for broken. */
#define ZYGOTE_TIMEOUT_MS 5000

/* --- in the zygote -------------------------------------------------------------- */

/* The monitor's name, which each rerun process takes back. */
static char monitor_name[16];

static void __attribute__((noreturn)) zygote_fail(const char *what)
{
	syslog(LOG_ERR, "rerun zygote: %s: %m", what);
	_exit(DROP_FATAL_STATUS);
}

/* Read one order; false at the end (the monitor closed its side). */
static bool read_order(int ctl, struct zygote_order *o, int *sock, int *cwd)
{
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = o, .iov_len = sizeof(*o)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control)};
	ssize_t n;
	do
		n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	*sock = *cwd = -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	size_t nfds = 0;
	int fds[2] = {-1, -1};
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds < 1 ||
	    (size_t)n < offsetof(struct zygote_order, payload) ||
	    o->payload_size != (size_t)n - offsetof(struct zygote_order, payload))
		zygote_fail("an order it cannot read"); /* the monitor's own: never */
	*sock = fds[0];
	*cwd = nfds > 1 ? fds[1] : -1;
	o->user[sizeof(o->user) - 1] = '\0';
	return true;
}

/* Start one rerun process; its pid, or -errno. */
static pid_t serve_order(struct zygote_order *o, int ctl, int sock, int cwd)
{
	struct wire_request req = {.op = WIRE_OP_RERUN, .payload = o->payload,
				   .payload_size = o->payload_size};
	if (!proc_decode_request(&req))
		return -EPROTO;
	struct target t = {.jail = -1};
	snprintf(t.user, sizeof(t.user), "%s", o->user);
	proc_target_scope(&t, o->uid, o->gid);
	t.drop_flags = zygote.flags;
	memcpy(t.limits, o->limits, sizeof(t.limits));
	t.limits_read = true;
	pid_t pid = clone_parent();
	if (pid == 0) {
		close(ctl);
		prctl(PR_SET_NAME, monitor_name); /* as the monitor's own fork */
		proc_become_program(&t, sock, cwd, o->mask, DROP_SHARED_DONE);
	}
	return pid < 0 ? -errno : pid;
}

/* The library functions each rerun process calls that the zygote has not,
 * called here once so that each changes nothing. A program linked with lazy
 * binding resolves a function at its first call: without this, every rerun
 * process would look each up again, and write the page it is kept in. Only
 * a matter of time: a function missing here is resolved when called. */
static void bind_ahead(void)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid, groups[64];
	struct rlimit limit;
	bool failed = getresuid(&ruid, &euid, &suid) != 0 ||
		      getresgid(&rgid, &egid, &sgid) != 0 || euid != 0 || ruid != 0 ||
		      suid != 0 || egid != rgid || egid != sgid;
	failed = failed || setresgid((gid_t)-1, (gid_t)-1, (gid_t)-1) != 0 ||
		 setresuid((uid_t)-1, (uid_t)-1, (uid_t)-1) != 0 || setgid(egid) != 0 ||
		 setuid(0) != 0;
	int n = getgroups(64, groups);
	failed = failed || (n >= 0 && setgroups((size_t)n, groups) != 0);
	failed = failed || fchdir(-1) == 0;
	if (getrlimit(RLIMIT_CORE, &limit) == 0)
		failed = failed || setrlimit(RLIMIT_CORE, &limit) != 0;
	cap_t caps = cap_get_proc();
	failed = failed || !caps || cap_set_proc(caps) != 0;
	cap_free(caps);
	cap_free(cap_init());
	if (cap_get_ambient(CAP_CHOWN) == 0) /* none raised: clearing changes nothing */
		(void)cap_reset_ambient();
	if (failed) /* root, that changed nothing: never */
		zygote_fail("calling ahead");
}

static void __attribute__((noreturn)) zygote_main(struct monitor *m, int ctl, pid_t monitor)
{
	pam_monitor_forget(m);
	explicit_bzero(m->buf, sizeof(m->buf));
	explicit_bzero(&m->request, sizeof(m->request));
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != monitor)
		_exit(0);
	prctl(PR_GET_NAME, monitor_name);
	prctl(PR_SET_NAME, "privman-zygote");
	if (proc_family_tally) { /* the monitors' own */
		munmap(proc_family_tally, sizeof(*proc_family_tally));
		proc_family_tally = NULL;
	}
	/* The fds the program held at priv_init stay, for its new processes. */
	proc_close_monitor_fds(true, &ctl, 1);
	struct diag d;
	diag_init(&d);
	if (!clone_parent_prepare() || drop_apply_shared(zygote.flags, &d) < 0) {
		for (size_t i = 0; i < d.count; i++)
			syslog(LOG_ERR, "rerun zygote: %s", d.entries[i].text);
		_exit(DROP_FATAL_STATUS);
	}
	diag_free(&d);
	bind_ahead();
	static struct zygote_order o;
	int sock, cwd;
	while (read_order(ctl, &o, &sock, &cwd)) {
		int32_t pid = serve_order(&o, ctl, sock, cwd);
		close(sock);
		if (cwd >= 0)
			close(cwd);
		/* Only what this order wrote: each page written after a fork
		 * is copied. */
		explicit_bzero(o.payload, o.payload_size);
		explicit_bzero(proc_req.text, proc_req.used);
		if (send(ctl, &pid, sizeof(pid), MSG_NOSIGNAL) != (ssize_t)sizeof(pid))
			_exit(0);
	}
	_exit(0);
}

/* --- in the monitor --------------------------------------------------------------- */

static void zygote_end(void)
{
	if (zygote.ctl >= 0)
		close(zygote.ctl);
	zygote.ctl = -1;
	if (zygote.pid > 0)
		kill_one(zygote.pid, SIGKILL); /* our child, not reaped yet */
	zygote.pid = 0; /* reaped as any child; its status means nothing */
}

void proc_zygote_forget(void)
{
	if (zygote.ctl >= 0)
		close(zygote.ctl);
	zygote.ctl = -1;
	zygote.pid = 0; /* the monitor's it was forked from */
}

void proc_zygote_reaped(pid_t pid)
{
	if (pid > 0 && pid == zygote.pid) {
		zygote.pid = 0;
		zygote_end();
	}
}

static bool zygote_spawn(struct monitor *m, unsigned flags)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	struct timeval tv = {.tv_sec = ZYGOTE_TIMEOUT_MS / 1000,
			     .tv_usec = (ZYGOTE_TIMEOUT_MS % 1000) * 1000};
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	audit_flush(&m->audit);
	zygote.flags = flags;
	pid_t monitor = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		zygote_main(m, sv[1], monitor);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return false;
	}
	zygote.pid = pid;
	zygote.ctl = sv[0];
	return true;
}

/* Whether a zygote with `flags` can start this target's process. */
static bool zygote_fits(const struct target *t)
{
#if defined(__x86_64__)
	return t->jail < 0 && !t->scope.chroot.text && !t->confine && t->limits_read &&
	       (t->drop_flags & ~(unsigned)DROP_NO_NAMESPACES) == 0;
#else
	(void)t;
	return false;
#endif
}

/* Send one order and read the pid; the pid, or -errno. */
static pid_t zygote_order(struct zygote_order *o, int sock, int cwd)
{
	int fds[2] = {sock, cwd};
	size_t nfds = cwd >= 0 ? 2 : 1;
	char control[CMSG_SPACE(sizeof(fds))];
	memset(control, 0, sizeof(control));
	struct iovec iov = {.iov_base = o,
			    .iov_len = offsetof(struct zygote_order, payload) + o->payload_size};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	if (sendmsg(zygote.ctl, &msg, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return -ENOSYS; /* not taken: the monitor may start it itself */
	int32_t pid;
	ssize_t n;
	do
		n = recv(zygote.ctl, &pid, sizeof(pid), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(pid))
		return -EPIPE; /* taken, maybe started: never started twice */
	if (pid <= 0)
		return pid < 0 ? pid : -EPROTO;
	/* Started with CLONE_PARENT: our child, and not reaped by anyone. */
	siginfo_t info;
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
		return -EPROTO;
	return pid;
}

pid_t proc_zygote_start(struct monitor *m, struct monitor_channel *c, const struct target *t,
			const struct wire_request *req, int sock)
{
	if (!zygote_fits(t) || req->payload_size > WIRE_MAX_PAYLOAD)
		return -ENOSYS;
	if (zygote.pid > 0 && zygote.flags != t->drop_flags)
		zygote_end(); /* the policy changed its drop */
	if (zygote.pid <= 0 && !zygote_spawn(m, t->drop_flags))
		return -ENOSYS;
	if (proc_too_many_started(m, c, "rerunas", t->user))
		return -EAGAIN;
	int cwd = proc_requester_cwd(m, c, t, "rerunas");
	if (cwd == -EXDEV)
		return -EXDEV;
	static struct zygote_order o;
	o.uid = t->scope.uid;
	o.gid = t->scope.gid;
	snprintf(o.user, sizeof(o.user), "%s", t->user);
	memcpy(o.limits, t->limits, sizeof(o.limits));
	o.mask = resolve_umask(c->pid);
	o.payload_size = (uint32_t)req->payload_size;
	memcpy(o.payload, req->payload, req->payload_size);
	pid_t pid = zygote_order(&o, sock, cwd);
	if (cwd >= 0)
		close(cwd);
	explicit_bzero(o.payload, o.payload_size);
	if (pid == -ENOSYS || pid == -EPIPE || pid == -EPROTO) {
		syslog(LOG_ERR, "rerun zygote: %s; the next rerun starts a new one",
		       pid == -ENOSYS ? "it took no order" : "no answer it could take");
		zygote_end();
		/* A process it may have started holds `sock`: the request
		 * fails, and the caller closes its side. */
		return pid == -ENOSYS ? -ENOSYS : -EAGAIN;
	}
	return pid;
}
