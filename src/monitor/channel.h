/* The monitor's channels, for every part of the monitor that answers or
 * ends them: replies (sent at once, or held while the program's socket is
 * full), adding and closing channels, ending a process's service, and the
 * monitor's restart and end. Stands on state.h; knows no handler, so the
 * handlers may call it (channel.c). Runs as root. */
#ifndef PRIVMAN_MONITOR_CHANNEL_H
#define PRIVMAN_MONITOR_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/state.h"

/* Decode and answer one message that arrived on channel `c` with `nfds`
 * fds (which it closes), through the monitor's dispatcher (m->dispatch,
 * monitor_dispatch in monitor.c). Returns 0 when answered, 1 when the reply
 * is held until the channel is writable, or -1 when the message was a
 * protocol violation or the reply could not be sent: the caller then ends
 * the channel. Exposed for the tests and the fuzzer. */
int monitor_handle_message(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
			   int nfds);

/* Serve until the program is gone, then exit with its status (or die of its
 * signal), through the monitor's loop (m->loop, monitor_loop in monitor.c).
 * Never returns. */
void monitor_run(struct monitor *m) __attribute__((noreturn));

/* Send a reply on `c`: status, then `fields` (encoded, may be NULL), and
 * `fd` when the operation promises one (it is closed here in any case).
 * Returns 0, or -1 when the channel was ended. */
int monitor_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		  int status, int fd, const void *fields, size_t fields_size);

/* The same without ending anything: returns 0 when sent, 1 when held until
 * the channel is writable (the caller then watches it for EPOLLOUT), -1
 * when the reply could not be built or sent. Closes `fd` unless it is held. */
int monitor_send_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		       int status, int fd, const void *fields, size_t fields_size);

/* Add a channel for process `pid` (0 with pending set). Returns the
 * channel or NULL with errno. */
struct monitor_channel *monitor_channel_add(struct monitor *m, int sock, pid_t pid);

/* Close one channel (and the reply it held). */
void monitor_channel_close(struct monitor *m, struct monitor_channel *c);

/* Close every channel of `pid`. */
void monitor_end_process(struct monitor *m, pid_t pid);

/* Wait on `c` for `events` (EPOLLIN, or EPOLLOUT while a reply is held);
 * the channel is closed when that fails. */
void monitor_watch(struct monitor *m, struct monitor_channel *c, uint32_t events);

/* Send the reply `c` holds; returns true when the channel may be read
 * again. */
bool monitor_flush_held(struct monitor *m, struct monitor_channel *c);

/* In a monitor forked from this one: forget every channel and take an
 * epoll set of its own. Returns 0 or -1 with errno. */
int monitor_restart(struct monitor *m);

/* Close every channel and leave the way a program with `status` left. */
void monitor_finish(struct monitor *m, int status) __attribute__((noreturn));

#endif
