/* The monitor: the privileged half of a program split by priv_init. It
 * serves requests from program processes over SOCK_SEQPACKET channels,
 * decides each one with policy_decide() and audits it. */
#ifndef PRIVMAN_MONITOR_H
#define PRIVMAN_MONITOR_H

#include <stdbool.h>
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
};

struct append; /* append.c */
struct pam_monitor; /* pam_monitor.c */
struct proc_table; /* proc.c: the processes the monitor knows of */

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
	struct append *append;            /* the appender of open_ao streams */

	unsigned char buf[WIRE_MAX_MESSAGE + 1];
	struct wire_request request;
	unsigned char reply[MONITOR_REPLY_MAX];
	/* Fields a handler adds to its reply after the status (encoded). */
	unsigned char reply_fields[192];
	size_t reply_fields_size;
	struct proc_table *proc;
};

/* A handler's status that is not a reply: the message broke the protocol
 * (the process is served no further), or the reply is sent later (with
 * monitor_reply). */
#define MONITOR_VIOLATION (-100000)
#define MONITOR_DEFERRED (-100001)
/* epoll tags from here up (below the signal tag) belong to proc.c. */
#define MONITOR_PROC_TAG (UINT64_C(1) << 32)

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

/* Send a reply on `c`: status, then `fields` (encoded, may be NULL), and
 * `fd` when the operation promises one (it is closed here in any case).
 * Returns 0, or -1 when the channel was ended. */
int monitor_reply(struct monitor *m, struct monitor_channel *c, uint32_t op, uint32_t id,
		  int status, int fd, const void *fields, size_t fields_size);

/* Add a channel for process `pid` (0 with pending set). Returns the
 * channel or NULL with errno. */
struct monitor_channel *monitor_channel_add(struct monitor *m, int sock, pid_t pid);

/* Close every channel of `pid`. */
void monitor_end_process(struct monitor *m, pid_t pid);

/* In a monitor forked from this one: forget every channel and take an
 * epoll set of its own. Returns 0 or -1 with errno. */
int monitor_restart(struct monitor *m);

/* Close every channel and leave the way a program with `status` left. */
void monitor_finish(struct monitor *m, int status) __attribute__((noreturn));

/* The open(2) flags a program may ask for (object.c). */
int monitor_open_flags_ok(int flags);

#endif
