/* Learning under the broker: the program's own rights (broker_learn.h). */
#include "monitor/broker_learn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include "monitor/audit.h"
#include "monitor/broker_int.h"
#include "monitor/monitor.h"
#include "monitor/object.h"

static int record_fd = -1;

void broker_learn_set_record(int fd)
{
	record_fd = fd;
}

void broker_learn_attach(struct audit *a)
{
	a->learn_fd = record_fd;
}

/* --- the prober ------------------------------------------------------------ */

struct probe {
	int op;	   /* enum object_op */
	int flags; /* open(2) flags */
	char path[PATH_MAX];
	char parent[PATH_MAX];
};

static int prober_sock = -1;
static const struct timeval PROBE_TIMEOUT = {.tv_sec = 2, .tv_usec = 0};

static int access_as_target(int base, const char *path, int mode, int flags)
{
	return syscall(SYS_faccessat2, base, path, mode, AT_EACCESS | flags) == 0 ? 0 : errno;
}

/* 0 when the target's credentials pass the call, else the errno they get.
 * A call that fails for anyone (ENOENT, EEXIST) passes: the kernel gives
 * the target the same answer it would give root. */
static int probe_open(int base, const struct probe *p)
{
	int nofollow = p->flags & O_NOFOLLOW ? AT_SYMLINK_NOFOLLOW : 0;
	if ((p->flags & O_TMPFILE) == O_TMPFILE)
		return access_as_target(base, p->path, W_OK | X_OK, 0);
	int mode = (p->flags & O_ACCMODE) == O_RDONLY ? R_OK
		   : (p->flags & O_ACCMODE) == O_WRONLY ? W_OK
							: R_OK | W_OK;
	if (p->flags & O_TRUNC)
		mode |= W_OK;
	int err = access_as_target(base, p->path, F_OK, nofollow);
	if (err == ENOENT && (p->flags & O_CREAT))
		return access_as_target(base, p->parent, W_OK | X_OK, 0);
	if (err == ENOENT || (err == 0 && (p->flags & O_CREAT) && (p->flags & O_EXCL)))
		return 0;
	return err ? err : access_as_target(base, p->path, mode, nofollow);
}

static int probe_unlink(int base, const struct probe *p, uid_t uid)
{
	struct stat dir, file;
	int err = access_as_target(base, p->path, F_OK, AT_SYMLINK_NOFOLLOW);
	if (err)
		return err == ENOENT ? 0 : err;
	err = access_as_target(base, p->parent, W_OK | X_OK, 0);
	if (err)
		return err;
	if (fstatat(base, p->parent, &dir, 0) < 0 ||
	    fstatat(base, p->path, &file, AT_SYMLINK_NOFOLLOW) < 0)
		return errno;
	/* A sticky directory: only the owner of the file or of the directory. */
	if ((dir.st_mode & S_ISVTX) && file.st_uid != uid && dir.st_uid != uid)
		return EPERM;
	return 0;
}

/* The prober's whole life: only async-signal-safe calls (it is forked from
 * a monitor with threads), and raw system calls for the credentials. */
static void __attribute__((noreturn)) prober_main(int sock, const struct policy_security *s)
{
	if (dup2(sock, 3) != 3 || syscall(SYS_close_range, 4, ~0U, 0) < 0)
		_exit(1);
	sock = 3;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl(PR_SET_NAME, "privman-probe") < 0)
		_exit(1);
	if (s->chroot.text && (chroot(s->chroot.text) < 0 || chdir("/") < 0))
		_exit(1);
	/* Root's capabilities go with the uid change (no securebit keeps
	 * them): the checks below are the target's, and only its. */
	if (syscall(SYS_setgroups, s->gid_count, s->gids) < 0 ||
	    syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0 ||
	    syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0 || s->uid == 0 ||
	    syscall(SYS_setresuid, 0, 0, 0) == 0)
		_exit(1);
	for (;;) {
		struct probe p;
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		struct iovec iov = {.iov_base = &p, .iov_len = sizeof(p)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
				    .msg_controllen = sizeof(control.b)};
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			_exit(0);
		int base = AT_FDCWD;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&base, CMSG_DATA(c), sizeof(int));
		int answer = EINVAL;
		if (n == (ssize_t)sizeof(p)) {
			p.path[PATH_MAX - 1] = p.parent[PATH_MAX - 1] = '\0';
			answer = p.op == OBJECT_OPEN	 ? probe_open(base, &p)
				 : p.op == OBJECT_UNLINK ? probe_unlink(base, &p, s->uid)
							 : EINVAL;
		}
		if (base >= 0)
			close(base);
		if (send(sock, &answer, sizeof(answer), MSG_NOSIGNAL) != sizeof(answer))
			_exit(0);
	}
}

static int prober_start(const struct policy_security *s)
{
	int sv[2];
	if (!s->resolved || s->uid == 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	/* The prober has the program's uid, so the program may stop it
	 * (SIGSTOP) or slow it down: an answer that does not come in time is no
	 * answer, and the call goes to the kernel (ask()). Never a wait on a
	 * process the program controls. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &PROBE_TIMEOUT, sizeof(PROBE_TIMEOUT)) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		prober_main(sv[1], s);
	close(sv[1]);
	prober_sock = sv[0];
	return 0;
}

/* The prober's answer, or -1 when it cannot be asked. */
static int ask(struct broker *b, const struct object_request *req)
{
	struct probe p;
	memset(&p, 0, sizeof(p));
	p.op = req->op;
	p.flags = req->flags;
	size_t len = strlen(req->path);
	if (len == 0 || len >= sizeof(p.path))
		return -1;
	memcpy(p.path, req->path, len + 1);
	/* The directory the name is made in (what O_CREAT and unlink need). */
	const char *slash = strrchr(p.path, '/');
	if (!slash)
		snprintf(p.parent, sizeof(p.parent), ".");
	else if (slash == p.path)
		snprintf(p.parent, sizeof(p.parent), "/");
	else
		snprintf(p.parent, sizeof(p.parent), "%.*s", (int)(slash - p.path), p.path);
	if (prober_sock < 0 && prober_start(&b->m->policy->security) < 0)
		return -1;
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = &p, .iov_len = sizeof(p)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (req->base >= 0) {
		mh.msg_control = control.b;
		mh.msg_controllen = sizeof(control.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &req->base, sizeof(int));
	}
	int answer;
	if (sendmsg(prober_sock, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(p) ||
	    recv(prober_sock, &answer, sizeof(answer), 0) != (ssize_t)sizeof(answer)) {
		/* Its end of the socket closed, the prober leaves; the monitor's
		 * loop reaps it with every other child (never by pid here: the
		 * loop may have reaped it already, and the pid be another's). */
		close(prober_sock);
		prober_sock = -1;
		return -1;
	}
	return answer;
}

/* A port below the kernel's unprivileged start needs CAP_NET_BIND_SERVICE. */
static bool bind_own_right(const struct policy_security *s, const struct object_request *req)
{
	unsigned port = 0, start = 1024;
	if (req->addr->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)req->addr)->sin_port);
	else if (req->addr->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)req->addr)->sin6_port);
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
	if (f) {
		if (fscanf(f, "%u", &start) != 1)
			start = 1024;
		fclose(f);
	}
	return port == 0 || port >= start ||
	       (s->cap_effective & (UINT64_C(1) << CAP_NET_BIND_SERVICE));
}

bool broker_learn_own_right(struct broker *b, const struct object_request *req)
{
	if (!b->m->policy->learn)
		return false;
	if (req->op == OBJECT_BIND)
		return bind_own_right(&b->m->policy->security, req);
	int answer = ask(b, req);
	if (answer < 0) {
		broker_lock(); /* the audit is the monitor's state */
		audit_event(&b->m->audit, LOG_ERR, "learning: the program's own rights cannot "
						   "be probed; the call goes to the kernel");
		broker_unlock();
		return true;
	}
	return answer == 0;
}
