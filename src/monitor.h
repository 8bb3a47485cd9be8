/* The monitor: the privileged half of a program split by priv_init. It
 * serves requests from program processes over SOCK_SEQPACKET channels,
 * decides each one with policy_decide() and audits it. */
#ifndef PRIVMAN_MONITOR_H
#define PRIVMAN_MONITOR_H

#include <sys/types.h>

#include "audit.h"
#include "policy.h"
#include "wire.h"

#define MONITOR_REPLY_MAX 256
/* Channels in all, and per program process (one per thread that calls). */
#define MONITOR_MAX_CHANNELS 4096
#define MONITOR_MAX_CHANNELS_PER_PROCESS 256

struct monitor_channel {
	int sock;  /* -1 once closed */
	pid_t pid; /* from the kernel (fork), never from a message */
	/* A reply the program has not taken yet because its socket was full:
	 * the channel is not read again until it has been sent, so a program
	 * that floods without reading costs the monitor one reply, and never
	 * blocks it. */
	size_t held_size;
	int held_fd;
	unsigned char held[MONITOR_REPLY_MAX];
};

struct pam_monitor; /* pam_monitor.c */

struct monitor {
	struct policy *policy;
	char *policy_path;
	struct audit audit;

	pid_t program;          /* the first program process */
	int epoll_fd;
	int signal_fd;
	struct monitor_channel *channels; /* MONITOR_MAX_CHANNELS, allocated once:
					     untouched slots cost no memory */
	size_t channel_count;             /* slots in use or used before */
	struct pam_monitor *pam;          /* PAM workers and authenticated users */

	unsigned char buf[WIRE_MAX_MESSAGE + 1];
	struct wire_request request;
	unsigned char reply[MONITOR_REPLY_MAX];
};

/* Set up a monitor for `program`, reached on `sock`. `signal_fd` is a
 * signalfd for SIGCHLD and the forwarded signals (already blocked). Takes
 * ownership of everything. Returns 0 or -1 with errno. */
int monitor_init(struct monitor *m, const char *appname, struct policy *policy,
		 char *policy_path, int audit_fd, pid_t program, int sock, int signal_fd);

/* Serve until the program is gone, then exit with its status (or die of its
 * signal). Never returns. */
void monitor_run(struct monitor *m) __attribute__((noreturn));

/* Decode and answer one message that arrived on channel `c` with `nfds`
 * fds (which it closes). Returns 0 when answered, 1 when the reply is held
 * until the channel is writable, or -1 when the message was a protocol
 * violation or the reply could not be sent: the caller then ends the
 * channel. Exposed for the tests and the fuzzer. */
int monitor_handle_message(struct monitor *m, struct monitor_channel *c, size_t size, int *fds,
			   int nfds);

/* The open(2) flags a program may ask for. */
int monitor_open_flags_ok(int flags);

#endif
