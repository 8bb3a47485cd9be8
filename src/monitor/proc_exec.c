/* Processes: priv_execve (beside its caller, or in its place) and
 * priv_popen_as: a program run as another user, with no channel. */
#include "monitor/proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/kill_one.h"
#include "policy/envfilter.h"
#include "monitor/resolve.h"
#include "scope/drop.h"

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
	struct proc_table *pt = proc_book(m);
	if (!pt)
		return -ENOMEM;
	int cwd, mask;
	pid_t pid = proc_start(m, c, t, op, &cwd, &mask);
	if (pid == 0) {
		int keep[6] = {stdio[0], stdio[1], stdio[2], cwd, gate, t->jail};
		proc_close_monitor_fds(false, keep, 6);
		set_stdio(stdio);
		/* execve keeps what is ignored: nothing is, in a new program. */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		proc_become(t, mask, cwd, DROP_NO_NEW_PRIVS);
		if (gate >= 0)
			pass_gate(gate);
		execve(path, argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		proc_tally_sync(m);
		return pid;
	}
	if (!proc_entry_add(pt, pid, -1, PROC_CHILD | flags, c->pid)) {
		kill_one(pid, SIGKILL); /* our child, not reaped yet: its pid is its own */
		proc_tally_sync(m);
		return -ENOMEM;
	}
	proc_tally_sync(m);
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
	if (proc_req.program[0] != '/' || !path_is_clean(proc_req.program)) {
		audit_refusal(&m->audit, "execve", proc_req.program, c->pid, EINVAL,
			      "the program must be a clean absolute path inside the chroot");
		return -EINVAL;
	}
	return proc_allow_run_as(m, c, "execve", proc_req.user, proc_req.chroot, proc_req.program,
				 t);
}

/* priv_execve_spawn: the program runs beside its caller, which gets its pid
 * for priv_wait4. */
int proc_handle_execve(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	int rc = allow_execve(m, c, &t);
	if (rc < 0)
		return rc;
	rc = proc_charge(m, c, "execve", &t, 1);
	if (rc < 0)
		return rc;
	char **env =
		passed_env(m, c, "execve_env", proc_req.program, &t, proc_req.env, proc_req.envc);
	if (!env)
		return -ENOMEM;
	char *argv0[2] = {(char *)(uintptr_t)proc_req.program, NULL};
	char **argv = proc_req.argc ? proc_req.args : argv0;
	const int stdio[3] = {STDIO_MONITOR, STDIO_MONITOR, STDIO_MONITOR};
	rc = run_program(m, c, &t, "execve", proc_req.program, argv, env, stdio, -1,
			 PROC_MONITORED);
	free(env);
	return rc;
}

int proc_handle_popen(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	if (!proc_decode_request(req))
		return MONITOR_VIOLATION;
	if (proc_req.flags != 0 && proc_req.flags != 1) {
		audit_refusal(&m->audit, "popen_as", proc_req.program, c->pid, EINVAL,
			      "a mode other than reading or writing");
		return -EINVAL;
	}
	if (!proc_req.user) {
		audit_refusal(&m->audit, "popen_as", proc_req.program, c->pid, EINVAL,
			      "no user named");
		return -EINVAL;
	}
	int rc = proc_allow_run_as(m, c, "popen_as", proc_req.user, NULL, "/bin/sh", &t);
	if (rc < 0)
		return rc;
	rc = proc_charge(m, c, "popen_as", &t, 1);
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
	bool reading = proc_req.flags == 0; /* the program reads the command's output */
	char *argv[] = {"sh", "-c", (char *)(uintptr_t)proc_req.program, NULL};
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
 * sends on it the signals it is sent (proc_exec_link_event). */
int proc_handle_exec_replace(struct monitor *m, struct monitor_channel *c,
			     const struct wire_request *req, int *fds, int *fd_out)
{
	struct target t TARGET_CLEANUP = {.jail = -1};
	int stdio[3], gate;
	if (!proc_decode_request(req) || !link_of(fds[0], c->pid) ||
	    recv_stdio(fds[0], stdio, &gate) < 0)
		return MONITOR_VIOLATION;
	struct proc_table *pt = proc_book(m);
	int rc = pt ? allow_execve(m, c, &t) : -ENOMEM;
	if (rc == 0)
		rc = proc_charge(m, c, "execve", &t, 1);
	char **env = NULL;
	if (rc == 0) {
		env = passed_env(m, c, "execve_env", proc_req.program, &t, proc_req.env,
				 proc_req.envc);
		if (!env)
			rc = -ENOMEM;
	}
	char *argv0[2] = {(char *)(uintptr_t)proc_req.program, NULL};
	pid_t pid = rc;
	if (rc == 0)
		pid = run_program(m, c, &t, "execve", proc_req.program,
				  proc_req.argc ? proc_req.args : argv0, env, stdio, gate,
				  PROC_REPLACING);
	free(env);
	for (int i = 0; i < 3; i++)
		if (stdio[i] >= 0)
			close(stdio[i]);
	close(gate);
	if (pid < 0)
		return pid;
	struct proc_entry *e = proc_entry_find(pt, pid);
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = MONITOR_PROC_TAG + PROC_LINK_TAG +
					     (uint64_t)(e - pt->entries)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		rc = -errno;
		proc_entry_signal(e, SIGKILL); /* reaped on SIGCHLD */
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
void proc_exec_link_event(struct monitor *m, struct proc_entry *e)
{
	for (int i = 0; i < 16; i++) {
		int32_t sig[2];
		ssize_t n = recv(e->link, sig, sizeof(sig), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n == (ssize_t)sizeof(sig[0]) && exec_forwardable(sig[0])) {
			proc_entry_signal(e, sig[0]);
			continue;
		}
		if (n > 0)
			audit_protocol(&m->audit, e->requester,
				       "a priv_execve caller sent something else than a signal");
		proc_entry_signal(e, SIGKILL);
		proc_link_close(m, e);
		return;
	}
}
