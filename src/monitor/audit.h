/* Audit: every decision of the monitor, to syslog (facility authpriv, the
 * program's name as ident) and, when a file was named, as JSON lines.
 *
 * Refusals are written at once. Allowed requests, the bulk of the traffic,
 * are queued and written in batches (one sendmmsg to /dev/log, one write to
 * the file) when the queue fills, when the monitor has nothing else to do,
 * or within AUDIT_FLUSH_MS at the latest: the per-request cost stays a
 * memcpy rather than a system call. */
#ifndef PRIVMAN_AUDIT_H
#define PRIVMAN_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "monitor/audit_key.h"
#include "policy/policy.h"

/* Lines per sendmmsg. Below the kernel's default queue of 10 datagrams per
 * unix socket (net.unix.max_dgram_qlen), so that a batch fits a daemon's
 * empty queue. */
#define AUDIT_BATCH 8
#define AUDIT_LINE_MAX 1024
#define AUDIT_JSON_MAX 16384
#define AUDIT_FLUSH_MS 100
/* The longest a flush waits for a syslog daemon whose queue is full. */
#define AUDIT_STALL_MS 1000

/* Identical events from one process (same operation, object, verdict and
 * reason, or the same event text) beyond AUDIT_RATE_BURST in a second are
 * not written one by one: they are counted, and one line says how many were
 * suppressed once the second is over (or when the monitor ends). The
 * AUDIT_RATE_KEYS most recent kinds of event are tracked. */
#define AUDIT_RATE_BURST 50
#define AUDIT_RATE_WINDOW_MS 1000
#define AUDIT_RATE_KEYS 32
#define AUDIT_SAMPLE_MAX 200

struct audit_rate {
	uint64_t key;         /* 0: free */
	long long start_ms;   /* start of this window */
	unsigned long count;  /* events in this window */
	unsigned long suppressed;
	pid_t pid;
	char sample[AUDIT_SAMPLE_MAX]; /* the event's syslog text, escaped */
};

struct audit {
	int fd;       /* JSON lines file, or -1 */
	int learn_fd; /* PRIVMAN_LEARN's file, or -1 (learn_log.h) */
	int log_sock; /* connected to /dev/log, or -1 */
	long long log_retry_ms; /* when to try connecting again */
	char ident[64];
	pid_t pid;
	char log_path[108]; /* "/dev/log" */
	/* The syslog prefixes of this second, for LOG_INFO and LOG_NOTICE */
	long long prefix_second;
	char prefix[2][160];
	int prefix_length[2];

	/* queued syslog messages and JSON text */
	size_t queued;
	long long first_queued_ms;
	unsigned short length[AUDIT_BATCH];
	char line[AUDIT_BATCH][AUDIT_LINE_MAX];
	size_t json_len;
	char json[AUDIT_JSON_MAX];

	/* rate limit of repeated events */
	unsigned generation; /* which process filled `rate` (a fork starts afresh) */
	bool summarizing;
	struct audit_rate rate[AUDIT_RATE_KEYS];
	unsigned rate_last;       /* the entry of the last event: looked at first */
	long long summary_due_ms; /* never later than the end of the earliest window
				     with suppressed events; -1: none */
	struct audit_last last; /* the last decision (audit_key.h) */
	long long round_ms; /* the clock at the start of the monitor loop's round
			       (audit_round), 0 outside one */
};

/* Set up: ident for syslog, no file, nothing queued. */
void audit_init(struct audit *a, const char *ident);

/* Open FILE for JSON lines (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600).
 * Returns the fd, or -1 with errno. */
int audit_open_file(const char *path);

/* One decision. `object` is what was decided on (a real path, an address);
 * `flags` the open flags (or 0); `result` 0 or the errno the operation
 * finally returned. */
void audit_decision(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		    const struct policy_decision *d, int result);

/* A refusal that was not the policy's (bad flags, not a socket, ...). */
void audit_refusal(struct audit *a, const char *op, const char *object, pid_t pid, int error,
		   const char *reason);

/* A protocol violation: service to `pid` ends. */
void audit_protocol(struct audit *a, pid_t pid, const char *why);

/* A monitor event (reload, exit), written at once. */
void audit_event(struct audit *a, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write everything queued, and the summary of every second of suppressed
 * events that is over. */
void audit_flush(struct audit *a);

/* Write everything queued and every summary, over or not: the process is
 * about to end. */
void audit_finish(struct audit *a);

/* Milliseconds until the queue must be flushed: -1 when it is empty. */
int audit_flush_due_ms(const struct audit *a);

/* The monitor's loop starts a round of the events one epoll_wait returned:
 * the clock is read once, here, and every event of the round is counted
 * against the rate limit at that time (a round lasts microseconds; a rate
 * window, a second). True when a flush is due. audit_round_end ends the
 * round: outside one, each event reads the clock. */
bool audit_round(struct audit *a);
void audit_round_end(struct audit *a);

/* Escape `s` as the inside of a JSON string into out; returns out. Each
 * byte is one character: printable ASCII as is (with \" and \\), every
 * other byte as \u00XX, so the bytes come back exactly and any string is
 * valid JSON. Never cuts an escape in two. */
const char *audit_json_escape(const char *s, char *out, size_t cap);

/* Write `s`, a string the program chose, as one field of a syslog line:
 * bare when it is made only of printable characters other than space, '"'
 * and '\\'; otherwise between double quotes with \\, \", \n, \r, \t
 * and \xHH for every other control character, DEL, byte that is not part
 * of valid UTF-8, C1 control, line or paragraph separator and
 * bidirectional control. The result is never more than cap - 1 bytes, never
 * cuts an escape in two, and holds no byte below 0x20. Returns out. */
const char *audit_text_escape(const char *s, char *out, size_t cap);

#endif
