/* The monitor's state: what every part of the monitor shares, and nothing
 * that calls. The handlers (object.c, proc.c, custom.c, pam_monitor.c,
 * append.c) and the channel layer (channel.c) include this header; only
 * monitor.c, at the top, includes theirs. Runs as root. */
#ifndef PRIVMAN_MONITOR_STATE_H
#define PRIVMAN_MONITOR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/audit.h"
#include "policy/policy.h"
#include "wire/wire.h"

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
	/* A channel made for a priv_fork child: pid is 0 until the child's
	 * first message proves, with the kernel's credentials, who it is and
	 * that it descends from `parent` (proc.c). */
	bool pending;
	pid_t parent;
	/* Read-ahead statistics of the loop (monitor.c): recent hits, and
	 * messages served without trying. */
	unsigned char ahead;
	unsigned char ahead_skipped;
};

struct append; /* append.c */
struct pam_monitor; /* pam_monitor.c */
struct proc_table; /* proc.c: the processes the monitor knows of */
struct monitor;

/* monitor.c's dispatcher and loop, as the parts below it reach them: see
 * monitor_handle_message and monitor_run (channel.h). */
typedef int monitor_dispatch_fn(struct monitor *m, struct monitor_channel *c, size_t size,
				int *fds, int nfds);
typedef void monitor_loop_fn(struct monitor *m);

struct monitor {
	struct policy *policy;
	char *policy_path;
	struct audit audit;

	pid_t program;          /* the main program process (see priv_init(3)),
				   0 once it has ended */
	/* Its pidfd, taken while it was known to be that process: every signal
	 * the monitor sends it goes through this, so a program process that
	 * ended is ESRCH, never whatever process has its pid now. */
	int program_pidfd;
	int epoll_fd;
	int signal_fd;
	struct monitor_channel *channels; /* MONITOR_MAX_CHANNELS, allocated once:
					     untouched slots cost no memory */
	size_t channel_count;             /* slots in use or used before */
	struct pam_monitor *pam;          /* PAM workers and authenticated users */
	struct append *append;            /* the appender of open_ao streams */

	unsigned char buf[WIRE_MAX_MESSAGE + 1];
	struct wire_request request;
	unsigned char reply[MONITOR_REPLY_MAX];
	/* Fields a handler adds to its reply after the status (encoded). */
	unsigned char reply_fields[192];
	size_t reply_fields_size;
	struct proc_table *proc;

	/* monitor.c's dispatcher and loop (monitor_dispatch, monitor_loop),
	 * set by monitor_init. The handlers never name monitor.c, which names
	 * them all in its dispatch table; the two of them that must go back up
	 * do it through these: proc.c hands a forked child's hello, which it
	 * reads itself with the kernel's credentials, to the dispatcher
	 * (monitor_handle_message), and a monitor forked for priv_respawn_as
	 * runs the loop (monitor_run). */
	monitor_dispatch_fn *dispatch;
	monitor_loop_fn *loop;
};

/* A handler's status that is not a reply: the message broke the protocol
 * (the process is served no further), or the reply is sent later (with
 * monitor_reply). */
#define MONITOR_VIOLATION (-100000)
#define MONITOR_DEFERRED (-100001)
/* epoll tags from here up (below the signal tag) belong to proc.c. */
#define MONITOR_PROC_TAG (UINT64_C(1) << 32)
/* The epoll tag of the signalfd: the highest of all. */
#define MONITOR_SIGNAL_TAG UINT64_MAX

#endif
