/* The monitor's channels: adding and closing them, replies (and the one a
 * full socket holds back), ending a process's service, and the monitor's
 * own restart and end. The handlers call back here; this module knows none
 * of them: it stands on the state (state.h), the audit and the appender
 * (append.c), which asks nothing of it. monitor.c, above, reads the
 * channels and dispatches what arrives.
 *
 * Threat model: a channel's peer is a program process and hostile: a reply
 * never blocks the monitor (a full socket holds one reply, and the channel
 * is not read until it is sent), and a reply that cannot be delivered ends
 * service to that process (fail closed). Runs as root. */
#include "monitor/channel.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "common/exit_like.h"
#include "monitor/append.h"
#include "monitor/audit.h"

/* --- the ways back up to monitor.c ----------------------------------------- */

/* The dispatcher and the loop are monitor.c's, reached through the state
 * (the dispatch and loop fields of struct monitor, set by monitor_init).
 * Without them (a monitor not set up by monitor_init) nothing is served:
 * the message ends its channel, and the monitor ends its program. */
int monitor_handle_message(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
			   int nfds)
{
	if (!m->dispatch) {
		wire_close_fds(fds, nfds);
		return -1;
	}
	return m->dispatch(m, c, size, fds, nfds);
}

void monitor_run(struct monitor *m)
{
	if (m->loop)
		m->loop(m); /* never returns */
	syslog(LOG_CRIT, "monitor: no loop to run; ending the program");
	if (m->program_pidfd >= 0)
		syscall(SYS_pidfd_send_signal, m->program_pidfd, SIGKILL, NULL, 0);
	_exit(70);
}

/* --- replies ------------------------------------------------------------------ */

/* Returns 0 when sent, 1 when held until the channel is writable, -1 when
 * the reply could not be built or sent. Closes fd_out unless it is held. */
int monitor_send_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
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

int monitor_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		  int status, int fd, const void *fields, size_t fields_size)
{
	int rc = monitor_send_reply(m, c, op, id, status, fd, fields, fields_size);
	if (rc < 0) {
		monitor_end_process(m, c->pid);
		return -1;
	}
	if (rc > 0)
		monitor_watch(m, c, EPOLLOUT);
	return 0;
}

/* --- channels ----------------------------------------------------------------- */

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
	c->ahead = 1;
	c->ahead_skipped = 0;
	if (free_slot == m->channel_count)
		m->channel_count++;
	return c;
}

void monitor_channel_close(struct monitor *m, struct monitor_channel *c)
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
			monitor_channel_close(m, &m->channels[i]);
}

void monitor_watch(struct monitor *m, struct monitor_channel *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)(c - m->channels)};
	if (epoll_ctl(m->epoll_fd, EPOLL_CTL_MOD, c->sock, &ev) < 0)
		monitor_channel_close(m, c);
}

/* Send the held reply; returns true when the channel may be read again. */
bool monitor_flush_held(struct monitor *m, struct monitor_channel *c)
{
	int nfds = c->held_fd >= 0 ? 1 : 0;
	if (wire_send(c->sock, c->held, c->held_size, &c->held_fd, nfds, MSG_DONTWAIT) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		monitor_channel_close(m, c);
		return false;
	}
	if (c->held_fd >= 0)
		close(c->held_fd);
	c->held_fd = -1;
	c->held_size = 0;
	monitor_watch(m, c, EPOLLIN);
	return c->sock >= 0;
}

/* --- the monitor's restart and end ------------------------------------------------ */

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
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = MONITOR_SIGNAL_TAG};
	return epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, m->signal_fd, &ev);
}

/* Leave the way the program left. */
void monitor_finish(struct monitor *m, int status)
{
	for (size_t i = 0; i < m->channel_count; i++)
		monitor_channel_close(m, &m->channels[i]);
	append_finish(m);
	audit_finish(&m->audit);
	exit_like(status);
}

int monitor_set_program(struct monitor *m, pid_t pid, int pidfd)
{
	if (pidfd < 0)
		pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (pidfd < 0)
		return -1;
	if (m->program_pidfd >= 0)
		close(m->program_pidfd);
	m->program = pid;
	m->program_pidfd = pidfd;
	return 0;
}

int monitor_detached(struct monitor *m)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = MONITOR_SIGNAL_TAG};
	epoll_ctl(m->epoll_fd, EPOLL_CTL_DEL, m->signal_fd, NULL);
	return epoll_ctl(m->epoll_fd, EPOLL_CTL_ADD, m->signal_fd, &ev);
}
