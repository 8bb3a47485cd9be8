/* The monitor: the privileged half of a program split by priv_init. It
 * serves requests from program processes over SOCK_SEQPACKET channels,
 * decides each one with policy_decide() and audits it.
 *
 * The top of the monitor: monitor.c runs the loop and the dispatch table,
 * and is the only part that includes the handlers' headers. They, and the
 * channels below them, stand on state.h and channel.h. */
#ifndef PRIVMAN_MONITOR_H
#define PRIVMAN_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/channel.h"
#include "monitor/state.h"

/* Set up a monitor for `program`, reached on `sock`. `signal_fd` is a
 * signalfd for SIGCHLD and the forwarded signals (already blocked). Takes
 * ownership of everything. Returns 0 or -1 with errno. */
int monitor_init(struct monitor *m, const char *appname, struct policy *policy,
		 char *policy_path, int audit_fd, pid_t program, int sock, int signal_fd);

/* The dispatcher: decode one message, run its handler from the dispatch
 * table, and send the reply. The loop: serve until the program is gone,
 * then leave as it left; never returns. monitor_init sets them as
 * m->dispatch and m->loop, which monitor_handle_message and monitor_run
 * (channel.h) call; a monitor set up without monitor_init (the tests, the
 * fuzzer) sets them itself. */
int monitor_dispatch(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
		     int nfds);
void monitor_loop(struct monitor *m) __attribute__((noreturn));

#endif
