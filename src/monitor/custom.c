/* Custom functions, the monitor's side: see custom.h.
 *
 * Threat model: the request is hostile (any handle, any arguments, at any
 * rate). The function is the program author's code, which the operator
 * trusts by granting it, but it may crash, hang or corrupt the memory of
 * the process it runs in. So each invocation runs in a child forked for it
 * alone: the child holds none of the monitor's fds but the socket it
 * answers on, dies with the monitor, and is killed when its time is up. The
 * monitor never waits for it but through its event loop (the reply is
 * deferred), and reads its answer as strictly as a request. */
#include "monitor/custom.h"
#include "common/kill_one.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/audit.h"
#include "monitor/channel.h"
#include "monitor/proc.h"
#include "wire/wire.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

_Static_assert(CUSTOM_TAG > MONITOR_MAX_CHANNELS, "custom tags above channel indices");
_Static_assert(CUSTOM_TAG + 2 * CUSTOM_MAX_INFLIGHT < (UINT64_C(1) << 31),
	       "custom tags below the PAM tags");
_Static_assert(CUSTOM_MAX_ARG_BYTES + CUSTOM_MAX_ARGS * 8 + 64 <= WIRE_MAX_PAYLOAD,
	       "a vector within the limits fits one message");

/* One invocation in flight. */
struct slot {
	pid_t pid; /* the function's process; 0: a free slot */
	int pidfd; /* kills it without a race with pid reuse */
	int answer; /* the monitor's end of the socket it answers on */
	int timer;
	bool ending; /* it closed its socket unanswered: waiting for its end */
	uint32_t serial; /* the id its answer must carry */
	/* whom the reply goes to */
	size_t channel;
	int sock;
	pid_t requester;
	uint32_t id;
	/* what the audit says when it ends: the decision, with copies of what
	 * it points to in the policy (a reload may free that meanwhile) */
	enum custom_kind kind;
	int32_t handle;
	int32_t argc;
	struct policy_decision d;
	char rule[32];
	char file[PATH_MAX];
	struct origin at;
};

static struct {
	uint32_t serial;
	struct slot slots[CUSTOM_MAX_INFLIGHT];
} state;

static struct custom_request creq;
/* An answer: the header, a status and a string of CUSTOM_MAX_INFO with its
 * NUL, and room to see a longer one. */
static unsigned char answer_buf[sizeof(struct wire_header) + 32 + CUSTOM_MAX_INFO + 64];
static char answer_text[CUSTOM_MAX_INFO + 1];

/* --- decoding ------------------------------------------------------------------- */

/* A string: BYTES holding the characters and one NUL at the end. */
static char *get_cstr(struct wire_reader *r, struct custom_request *out, size_t *used)
{
	char *at = out->text + *used;
	size_t cap = sizeof(out->text) - *used;
	size_t n = cap ? wire_get_bytes(r, at, cap) : 0;
	if (!cap || r->broken || n == 0 || at[n - 1] != '\0' || strlen(at) != n - 1) {
		r->broken = true;
		return NULL;
	}
	*used += n;
	return at;
}

bool custom_decode_request(const struct wire_request *req, struct custom_request *out)
{
	struct wire_reader r = {.p = req->payload, .left = req->payload_size, .broken = false};
	size_t used = 0;
	if (req->op != WIRE_OP_CUSTOM)
		return false;
	out->kind = wire_get_int(&r);
	out->handle = wire_get_int(&r);
	out->count = wire_get_int(&r);
	out->bytes = 0;
	out->argv[0] = NULL;
	if (r.broken || (out->kind != CUSTOM_INFO && out->kind != CUSTOM_CAP) || out->count < 0)
		return false;
	/* Every string takes at least 9 bytes of the message: a count larger
	 * than that allows is a lie, found before any is read. */
	size_t max = sizeof(out->argv) / sizeof(out->argv[0]) - 1;
	if ((size_t)out->count > max || (size_t)out->count * 9 > r.left)
		return false;
	for (int32_t i = 0; i < out->count; i++) {
		out->argv[i] = get_cstr(&r, out, &used);
		if (!out->argv[i])
			return false;
	}
	out->argv[out->count] = NULL;
	out->bytes = used;
	return wire_reader_done(&r);
}

/* --- slots -------------------------------------------------------------------------- */

static const char *op_name(enum custom_kind kind)
{
	return kind == CUSTOM_INFO ? "custom_info" : "custom_cap";
}

static void describe(const struct slot *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s %d argc=%d", s->kind == CUSTOM_INFO ? "info" : "cap",
		 (int)s->handle, (int)s->argc);
}

static void slot_free(struct monitor *m, struct slot *s, bool ours)
{
	if (!s->pid)
		return;
	if (ours) {
		/* Whatever it still does, nobody waits for it any more. */
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->answer, NULL);
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->pidfd, NULL);
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->timer, NULL);
	}
	close(s->pidfd);
	close(s->answer);
	close(s->timer);
	memset(s, 0, sizeof(*s));
}

/* A monitor made by priv_respawn_as inherits the slots of the one it was
 * forked from, but not their epoll set, so their events never come: the
 * process of each belongs to that monitor. Forget them here. */
static void forget_inherited(struct monitor *m)
{
	for (size_t i = 0; i < CUSTOM_MAX_INFLIGHT; i++) {
		struct slot *s = &state.slots[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CUSTOM_TAG + 2 * i + 1};
		if (s->pid && epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, s->timer, &ev) < 0 &&
		    errno == ENOENT)
			slot_free(m, s, false);
	}
}

static bool requester_there(const struct monitor *m, const struct slot *s)
{
	const struct monitor_channel *c = &m->channels[s->channel];
	return s->channel < m->channel_count && c->sock >= 0 && c->sock == s->sock &&
	       c->pid == s->requester;
}

static void finish(struct monitor *m, struct slot *s, int32_t status, int fd, const char *how);

/* A free slot for a request from `c`, or NULL with *err EAGAIN. When every
 * slot is taken, the invocations whose requester is gone make room: nobody
 * waits for them. */
static struct slot *slot_take(struct monitor *m, const struct monitor_channel *c, int *err)
{
	struct slot *free_slot = NULL;
	int same = 0;
	for (int pass = 0; pass < 2 && !free_slot; pass++) {
		same = 0;
		for (size_t i = 0; i < CUSTOM_MAX_INFLIGHT; i++) {
			struct slot *s = &state.slots[i];
			if (s->pid && pass == 1 && !requester_there(m, s))
				finish(m, s, -ECANCELED, -1,
				       "its requester is gone and the slot was needed; killed");
			if (!s->pid)
				free_slot = free_slot ? free_slot : s;
			else if (s->requester == c->pid)
				same++;
		}
	}
	*err = !free_slot || same >= CUSTOM_MAX_PER_PROCESS ? EAGAIN : 0;
	return *err ? NULL : free_slot;
}

static void keep_decision(struct slot *s, const struct policy_decision *d)
{
	s->d = *d;
	snprintf(s->rule, sizeof(s->rule), "%s", d->rule ? d->rule : "");
	s->d.rule = d->rule ? s->rule : NULL;
	if (d->origin) {
		s->at = *d->origin;
		if (d->origin->file) {
			snprintf(s->file, sizeof(s->file), "%s", d->origin->file);
			s->at.file = s->file;
		}
		s->d.origin = &s->at;
	}
}

/* --- the function's process ---------------------------------------------------------- */

static void answer_status(int sock, uint32_t serial, int32_t status, const char *text,
			  size_t length, int fd)
{
	unsigned char out[sizeof(answer_buf)];
	struct wire_writer w;
	wire_writer_init(&w, out, sizeof(out), WIRE_OP_CUSTOM, serial);
	wire_put_int(&w, status);
	if (text)
		wire_put_bytes(&w, text, length + 1);
	size_t size = wire_writer_finish(&w);
	if (size && wire_send(sock, out, size, &fd, fd >= 0 ? 1 : 0, 0) < 0 && fd >= 0) {
		/* Not an fd after all (EBADF), or one that cannot travel. */
		answer_status(sock, serial, -(errno ? errno : EIO), NULL, 0, -1);
	}
}

static int32_t failure(int err)
{
	/* A function that fails without saying why: EIO, as for one that
	 * died without an answer. */
	return err > 0 && err < 4096 ? -err : -EIO;
}

/* The child: run the function, as root like the monitor, with the argument
 * vector, and answer on `sock`. Never returns. */
static void __attribute__((noreturn)) run_function(struct monitor *m, int sock, pid_t monitor,
						   uint32_t serial)
{
	/* Never outlive the monitor, whose kill is its only deadline. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != monitor)
		_exit(1);
	/* Nothing of other requests, and no fd of the monitor: the function
	 * cannot answer a program or a PAM worker in the monitor's name. */
	explicit_bzero(m->buf, sizeof(m->buf));
	explicit_bzero(&m->request, sizeof(m->request));
	proc_close_monitor_fds_but(sock);
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	umask(custom_umask());
	prctl(PR_SET_NAME, "privman-custom");

	if (creq.kind == CUSTOM_INFO) {
		custom_info_fn fn = custom_lookup_info(creq.handle);
		errno = 0;
		char *s = fn(creq.argv);
		int e = errno;
		fflush(NULL); /* what it printed, before the program goes on */
		size_t n = s ? strnlen(s, CUSTOM_MAX_INFO + 1) : 0;
		if (!s)
			answer_status(sock, serial, failure(e), NULL, 0, -1);
		else if (n > CUSTOM_MAX_INFO)
			answer_status(sock, serial, -EOVERFLOW, NULL, 0, -1);
		else
			answer_status(sock, serial, (int32_t)n, s, n, -1);
	} else {
		custom_cap_fn fn = custom_lookup_cap(creq.handle);
		errno = 0;
		int fd = fn(creq.argv);
		int e = errno;
		fflush(NULL);
		answer_status(sock, serial, fd < 0 ? failure(e) : 0, NULL, 0, fd);
	}
	_exit(0);
}

/* Fork the function's process for `s`; returns 0 or -errno. */
static int start(struct monitor *m, struct slot *s, size_t index)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timer < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	uint32_t serial = ++state.serial;
	/* Nothing queued may be written twice, by the monitor and the child. */
	audit_flush(&m->audit);
	pid_t monitor = getpid();
	pid_t pid = fork();
	if (pid == 0)
		run_function(m, sv[1], monitor, serial);
	int e = errno;
	close(sv[1]);
	/* Only this loop reaps, and not before we return: the pid is still
	 * that child's. */
	int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (pid > 0 && pidfd < 0) {
		e = errno;
		kill_one(pid, SIGKILL);
	}
	if (pidfd < 0) {
		close(sv[0]);
		close(timer);
		return -e;
	}
	s->pid = pid;
	s->pidfd = pidfd;
	s->answer = sv[0];
	s->timer = timer;
	s->serial = serial;

	unsigned seconds = m->policy->custom_timeout_s ? m->policy->custom_timeout_s
						       : POLICY_CUSTOM_TIMEOUT_DEFAULT;
	struct itimerspec when = {.it_value = {.tv_sec = (time_t)seconds}};
	struct epoll_event on_answer = {.events = EPOLLIN, .data.u64 = CUSTOM_TAG + 2 * index};
	struct epoll_event on_timer = {.events = EPOLLIN, .data.u64 = CUSTOM_TAG + 2 * index + 1};
	if (timerfd_settime(timer, 0, &when, NULL) < 0 ||
	    epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, s->answer, &on_answer) < 0 ||
	    epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, s->timer, &on_timer) < 0) {
		e = errno;
		slot_free(m, s, true);
		return -e;
	}
	return 0;
}

/* --- the request ------------------------------------------------------------------------ */

int custom_handle(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		  int *fds, int *fd_out)
{
	if (!custom_decode_request(req, &creq))
		return MONITOR_VIOLATION;
	forget_inherited(m);

	struct slot probe = {.kind = (enum custom_kind)creq.kind, .handle = creq.handle,
			     .argc = creq.count};
	const char *op = op_name(probe.kind);
	char object[64];
	describe(&probe, object, sizeof(object));

	if (creq.count > CUSTOM_MAX_ARGS || creq.bytes > CUSTOM_MAX_ARG_BYTES) {
		audit_refusal(&m->audit, op, object, c->pid, E2BIG,
			      "the argument vector is over the limits (256 strings, 8192 bytes)");
		return -E2BIG;
	}
	bool known = creq.kind == CUSTOM_INFO ? custom_lookup_info(creq.handle) != NULL
					      : custom_lookup_cap(creq.handle) != NULL;
	if (!known) {
		audit_refusal(&m->audit, op, object, c->pid, ENOENT,
			      creq.kind == CUSTOM_INFO ? "no info function has that handle"
						       : "no cap function has that handle");
		return -ENOENT;
	}
	struct policy_request r;
	struct policy_decision d;
	memset(&r, 0, sizeof(r));
	r.op = POLICY_OP_CUSTOM;
	r.handle = creq.handle;
	policy_decide(m->policy, &r, &d);
	if (!d.allow) {
		audit_decision(&m->audit, op, object, 0, c->pid, &d, 0);
		return -EPERM;
	}
	int err;
	struct slot *s = slot_take(m, c, &err);
	if (!s) {
		audit_refusal(&m->audit, op, object, c->pid, err,
			      "too many custom functions running for this process or in all");
		return -err;
	}
	int rc = start(m, s, (size_t)(s - state.slots));
	if (rc < 0) {
		audit_decision(&m->audit, op, object, 0, c->pid, &d, -rc);
		return rc;
	}
	s->kind = probe.kind;
	s->handle = probe.handle;
	s->argc = probe.argc;
	s->channel = (size_t)(c - m->channels);
	s->sock = c->sock;
	s->requester = c->pid;
	s->id = req->id;
	keep_decision(s, &d);
	return MONITOR_DEFERRED;
}

/* --- the answer -------------------------------------------------------------------------- */

/* The invocation ended: audit it, reply if the requester's channel is still
 * there, and free the slot. Takes `fd`. */
static void finish(struct monitor *m, struct slot *s, int32_t status, int fd, const char *how)
{
	char object[64];
	describe(s, object, sizeof(object));
	size_t n = strlen(s->d.reason);
	snprintf(s->d.reason + n, sizeof(s->d.reason) - n, "; %s", how);
	audit_decision(&m->audit, op_name(s->kind), object, 0, s->requester, &s->d,
		       status < 0 ? -status : 0);

	struct monitor_channel *c = &m->channels[s->channel];
	uint32_t id = s->id;
	bool there = requester_there(m, s);
	slot_free(m, s, true);
	if (there)
		monitor_reply(m, c, WIRE_OP_CUSTOM, id, status, fd, NULL, 0);
	else if (fd >= 0)
		close(fd);
}

/* How the process ended without an answer. Returns false when it has not
 * ended yet. */
static bool describe_end(struct slot *s, char *out, size_t cap)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	int rc = waitid((idtype_t)P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG);
	if (rc == 0 && si.si_pid == 0)
		return false;
	if (rc < 0) /* reaped already (by the loop's SIGCHLD handling) */
		snprintf(out, cap, "its process ended without an answer");
	else if (si.si_code == CLD_EXITED)
		snprintf(out, cap, "its process exited with status %d without an answer",
			 si.si_status);
	else
		snprintf(out, cap, "its process was killed by signal %d (%s)", si.si_status,
			 strsignal(si.si_status));
	return true;
}

/* The answer socket was closed unanswered: the process is ending, or closed
 * it and runs on. Watch the process itself, under the same tag, until it
 * ends (or its time is up), so that the audit can say how it ended. */
static void await_end(struct monitor *m, struct slot *s, size_t index)
{
	char how[160];
	if (!s->ending && !describe_end(s, how, sizeof(how))) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CUSTOM_TAG + 2 * index};
		epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, s->answer, NULL);
		if (epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, s->pidfd, &ev) == 0) {
			s->ending = true;
			return;
		}
		snprintf(how, sizeof(how), "its process closed its answer socket");
	} else if (s->ending && !describe_end(s, how, sizeof(how))) {
		return; /* not yet */
	}
	finish(m, s, -EIO, -1, how);
}

/* A pipe holding `length` bytes of `text`, its write end closed: the
 * program reads the string from it. Returns the read end or -errno. */
static int string_pipe(const char *text, size_t length)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	/* At most one page, which any pipe holds: never blocks, never short. */
	ssize_t n = length ? write(p[1], text, length) : 0;
	int e = errno;
	close(p[1]);
	if (n != (ssize_t)length) {
		close(p[0]);
		return n < 0 ? -e : -EIO;
	}
	return p[0];
}

static void read_answer(struct monitor *m, struct slot *s, size_t index)
{
	int fds[WIRE_MAX_FDS], nfds = 0;
	char how[160];
	ssize_t n = wire_recv(s->answer, answer_buf, sizeof(answer_buf), fds, &nfds, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n < 0) {
		finish(m, s, -EIO, -1, "its process answered nonsense");
		return;
	}
	if (n == 0) {
		await_end(m, s, index);
		return;
	}
	struct wire_header h;
	struct wire_reader r;
	int32_t status = -EIO;
	bool ok = wire_open_message(answer_buf, (size_t)n, &h, &r) == 0 &&
		  h.op == WIRE_OP_CUSTOM && h.id == s->serial;
	if (ok)
		status = wire_get_int(&r);
	if (!ok || r.broken) {
		ok = false;
	} else if (status < 0) {
		ok = status >= -4095 && nfds == 0 && wire_reader_done(&r);
	} else if (s->kind == CUSTOM_INFO) {
		size_t got = status <= CUSTOM_MAX_INFO && nfds == 0
				     ? wire_get_bytes(&r, answer_text, sizeof(answer_text))
				     : 0;
		ok = got == (size_t)status + 1 && wire_reader_done(&r) &&
		     strlen(answer_text) == (size_t)status;
	} else {
		ok = status == 0 && nfds == 1 && wire_reader_done(&r);
	}
	if (!ok) {
		wire_close_fds(fds, nfds);
		finish(m, s, -EIO, -1, "its process answered nonsense");
		return;
	}
	if (status < 0) {
		snprintf(how, sizeof(how), "the function failed");
		finish(m, s, status, -1, how);
	} else if (s->kind == CUSTOM_INFO) {
		int fd = string_pipe(answer_text, (size_t)status);
		snprintf(how, sizeof(how), "it returned a string of %d bytes", (int)status);
		finish(m, s, fd < 0 ? fd : status, fd, how);
	} else {
		struct stat st;
		const char *what = fstat(fds[0], &st) < 0 ? "?"
				   : S_ISSOCK(st.st_mode) ? "a socket"
				   : S_ISREG(st.st_mode)  ? "a regular file"
				   : S_ISDIR(st.st_mode)  ? "a directory"
				   : S_ISFIFO(st.st_mode) ? "a pipe"
				   : S_ISCHR(st.st_mode)  ? "a character device"
							  : "another kind of file";
		snprintf(how, sizeof(how), "it returned %s", what);
		finish(m, s, 0, fds[0], how);
	}
}

void custom_event(struct monitor *m, uint64_t tag)
{
	if (!custom_owns_tag(tag))
		return;
	uint64_t index = (tag - CUSTOM_TAG) / 2;
	struct slot *s = &state.slots[index];
	if (!s->pid)
		return;
	if ((tag - CUSTOM_TAG) % 2 == 0) {
		if (s->ending)
			await_end(m, s, index);
		else
			read_answer(m, s, index);
		return;
	}
	uint64_t expired;
	if (read(s->timer, &expired, sizeof(expired)) != (ssize_t)sizeof(expired))
		return; /* not yet */
	char how[96];
	snprintf(how, sizeof(how), "it ran out of time (%u s) and was killed",
		 m->policy->custom_timeout_s ? m->policy->custom_timeout_s
					     : POLICY_CUSTOM_TIMEOUT_DEFAULT);
	finish(m, s, -ETIMEDOUT, -1, how);
}
