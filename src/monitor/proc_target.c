/* Processes: deciding a request to run as another user, charging it to
 * the requester, and becoming that user in a new process. */
#include "monitor/proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#include "monitor/pam_monitor.h"
#include "monitor/resolve.h"
#include "policy/diag.h"
#include "scope/confine.h"
#include "scope/drop.h"

int proc_decide_bool(struct monitor *m, struct monitor_channel *c, enum policy_op op,
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

void proc_target_release(struct target *t)
{
	if (t->jail >= 0)
		close(t->jail);
	t->jail = -1;
}

/* Decide and check a request to run as `user` in `chroot` (NULL: the
 * policy's unprivileged user and chroot), `program` (NULL for a rerun).
 * Fills `t` with the scope to apply. Returns 0 or -errno (audited). */
int proc_allow_run_as(struct monitor *m, struct monitor_channel *c, const char *op,
		      const char *user, const char *chroot, const char *program,
		      struct target *t)
{
	struct policy_request r;
	struct policy_decision d;
	char object[PATH_MAX + 300];

	int rc = proc_decide_bool(m, c, POLICY_OP_RERUN, op);
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
	proc_target_scope(t, found->pw_uid, found->pw_gid);
	if (chroot && strcmp(chroot, "/") != 0) {
		snprintf(t->chroot, sizeof(t->chroot), "%s", chroot);
		t->scope.chroot.text = t->chroot;
	}
	/* Whatever runs in the new process runs for the program: it may not
	 * make namespaces either (allow_namespaces). */
	t->drop_flags = m->policy->allow_namespaces.value ? 0 : DROP_NO_NAMESPACES;
	if (!program && m->policy->confine.present)
		t->confine = &m->policy->confine;
	return 0;
}

void proc_target_scope(struct target *t, uid_t uid, gid_t gid)
{
	memset(&t->scope, 0, sizeof(t->scope));
	t->scope.user.text = t->user;
	t->scope.uid = uid;
	t->scope.gid = gid;
	t->scope.supplemental_set = true; /* none: never root's groups */
	t->scope.resolved = true;
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
void proc_become(const struct target *t, int umask_value, int cwd, unsigned drop_flags)
{
	if (proc_family_tally) { /* the monitors' own */
		munmap(proc_family_tally, sizeof(*proc_family_tally));
		proc_family_tally = NULL;
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
	struct proc_entry *e = proc_entry_find(m->proc, pid);
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
 * exceed it. The charge stands until the next proc_tally_sync(). Audited. */
int proc_charge(struct monitor *m, struct monitor_channel *c, const char *op,
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
	if (!proc_book(m))
		return -ENOMEM;
	proc_tally_sync(m);
	long total = __atomic_add_fetch(proc_family_tally, n, __ATOMIC_SEQ_CST);
	m->proc->published += n;
	rlim_t max = t->limits[RLIMIT_NPROC].rlim_cur;
	if (max != RLIM_INFINITY && (rlim_t)total > max) {
		__atomic_sub_fetch(proc_family_tally, n, __ATOMIC_SEQ_CST);
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

bool proc_too_many_started(struct monitor *m, struct monitor_channel *c, const char *op,
			   const char *object)
{
	size_t n = 0;
	for (size_t i = 0; m->proc && i < m->proc->count; i++)
		if (m->proc->entries[i].pid && m->proc->entries[i].requester == c->pid &&
		    (m->proc->entries[i].flags & (PROC_MONITORED | PROC_REPLACING)))
			n++;
	if (n < PROC_MAX_STARTED)
		return false;
	audit_refusal(&m->audit, op, object, c->pid, EAGAIN,
		      "too many processes started for it have not been waited for");
	return true;
}

/* The working directory a new process inherits from its requester, as a
 * handle in the monitor's view (resolve_cwd); -1 when the target has a
 * chroot (it starts in its "/"). A working directory the monitor cannot
 * name in its own view is refused with EXDEV (audited): the new process
 * must never start inside a mount namespace the program arranged. */
int proc_requester_cwd(struct monitor *m, struct monitor_channel *c, const struct target *t,
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
pid_t proc_start(struct monitor *m, struct monitor_channel *c, const struct target *t,
		 const char *op, int *cwd, int *mask)
{
	if (proc_too_many_started(m, c, op, t->user))
		return -EAGAIN;
	*mask = resolve_umask(c->pid);
	*cwd = proc_requester_cwd(m, c, t, op);
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
