/* Audit: decisions to syslog and, optionally, JSON lines (see audit.h). */
#include "monitor/audit.h"
#include "monitor/learn_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Milliseconds, to the kernel's tick: every deadline here (a flush within
 * AUDIT_FLUSH_MS, a rate window of a second, a stall of a second) is far
 * longer than a tick, and the coarse clock costs a fraction of the fine
 * one, which a grant would read once or twice. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A forked process must not write the summaries of its parent's events:
 * each fork starts a new generation, and a table of another generation is
 * forgotten before use. */
static unsigned fork_generation = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forked(void)
{
	fork_generation++;
}

static void register_forked(void)
{
	pthread_atfork(NULL, NULL, forked);
}

/* The syslog ident: the program's name with every byte that could end the
 * tag or the line ('[', ':', space, control characters, non-ASCII) as
 * \xHH. */
static void set_ident(struct audit *a, const char *ident)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)ident; *p; p++) {
		bool plain = *p > 0x20 && *p < 0x7f && !strchr("[]:\\", *p);
		size_t n = plain ? 1 : 4;
		if (o + n >= sizeof(a->ident))
			break;
		if (plain) {
			a->ident[o++] = (char)*p;
		} else {
			a->ident[o++] = '\\';
			a->ident[o++] = 'x';
			a->ident[o++] = hex[*p >> 4];
			a->ident[o++] = hex[*p & 15];
		}
	}
	a->ident[o] = '\0';
}

void audit_init(struct audit *a, const char *ident)
{
	pthread_once(&atfork_once, register_forked);
	a->fd = -1;
	a->learn_fd = -1;
	a->log_sock = -1;
	a->log_retry_ms = 0;
	set_ident(a, ident && *ident ? ident : "privman");
	snprintf(a->log_path, sizeof(a->log_path), "%s", "/dev/log");
	a->prefix_second = -1;
	a->pid = getpid();
	a->queued = 0;
	a->json_len = 0;
	a->generation = fork_generation;
	a->summarizing = false;
	memset(a->rate, 0, sizeof(a->rate));
	a->rate_last = 0;
	a->summary_due_ms = -1;
	a->last.size = 0;
	a->round_ms = 0;
}

int audit_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
}

const char *audit_json_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (cap == 0)
		return out;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		char esc[7];
		size_t n;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			n = 2;
		} else if (*p < 0x20 || *p >= 0x7f) {
			/* Bytes, not characters: every path stays valid JSON. */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			n = 6;
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

/* Length of the UTF-8 sequence at p when it is valid (shortest form, no
 * surrogate, at most U+10FFFF) and safe to show: not a C1 control, line or
 * paragraph separator, bidirectional control or byte order mark. 0
 * otherwise. */
static size_t utf8_safe(const unsigned char *p)
{
	unsigned long c;
	size_t n;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (c < 0xa0 || c == 0x61c || c == 0x200e || c == 0x200f || c == 0x2028 || c == 0x2029 ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff)
		return 0;
	return n;
}

/* The escaping of audit_text_escape; `quoted` also escapes '"' (free text,
 * unquoted, keeps it: it is never followed by another field). */
static size_t text_escape(const unsigned char *p, char *out, size_t cap, bool quoted)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (cap == 0)
		return 0;
	while (*p) {
		char esc[4];
		const char *from = esc;
		size_t n = 2, used = 1;
		if (*p == '\\' || (quoted && *p == '"')) {
			esc[0] = '\\';
			esc[1] = (char)*p;
		} else if (*p == '\n' || *p == '\r' || *p == '\t') {
			esc[0] = '\\';
			esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
		} else if (*p >= 0x20 && *p < 0x7f) {
			from = (const char *)p;
			n = 1;
		} else if ((used = utf8_safe(p)) != 0) {
			from = (const char *)p;
			n = used;
		} else {
			used = 1;
			n = 4;
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[*p >> 4];
			esc[3] = hex[*p & 15];
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, from, n);
		o += n;
		p += used;
	}
	out[o] = '\0';
	return o;
}

const char *audit_text_escape(const char *s, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	if (cap < 3) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	bool bare = *p != '\0';
	for (const unsigned char *q = p; *q && bare; q++)
		bare = *q > 0x20 && *q < 0x7f && *q != '"' && *q != '\\';
	if (bare) {
		size_t n = strnlen(s, cap - 1);
		memcpy(out, s, n);
		out[n] = '\0';
		return out;
	}
	out[0] = '"';
	size_t n = text_escape(p, out + 1, cap - 2, true);
	out[n + 1] = '"';
	out[n + 2] = '\0';
	return out;
}

/* --- the syslog socket ---------------------------------------------------------- */

static void log_connect(struct audit *a)
{
	long long now = now_ms();
	if (a->log_sock >= 0 || now < a->log_retry_ms)
		return;
	a->log_retry_ms = now + 1000; /* no daemon: try again in a second, not per line */
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", a->log_path);
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(s);
		return;
	}
	a->log_sock = s;
}

static void log_send(struct audit *a, struct mmsghdr *msgs, unsigned count)
{
	log_connect(a);
	if (a->log_sock < 0)
		return;
	unsigned sent = 0;
	long long deadline = now_ms() + AUDIT_STALL_MS;
	while (sent < count) {
		int n = sendmmsg(a->log_sock, msgs + sent, count - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			sent += (unsigned)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* The daemon's queue is full: wait for it, a little. A
			 * wedged daemon costs lines, never the monitor. */
			long long left = deadline - now_ms();
			struct pollfd p = {.fd = a->log_sock, .events = POLLOUT};
			if (left > 0 && poll(&p, 1, (int)left) > 0)
				continue;
			syslog(LOG_ERR, "audit: the syslog daemon does not keep up; %u lines lost",
			       count - sent);
			return;
		}
		/* The daemon went away: reconnect later. */
		close(a->log_sock);
		a->log_sock = -1;
		a->log_retry_ms = 0;
		return;
	}
}

/* "<PRI>Mmm dd hh:mm:ss ident[pid]: " as syslog(3) writes it, rebuilt only
 * when the second changes. */
static int log_prefix(struct audit *a, int priority, char *out, size_t cap)
{
	time_t t = time(NULL);
	char (*prefix)[160] = a->prefix;
	int *length = a->prefix_length;
	if ((long long)t != a->prefix_second) {
		struct tm tm;
		char stamp[32];
		localtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%h %e %T", &tm);
		for (int i = 0; i < 2; i++)
			length[i] = snprintf(prefix[i], sizeof(prefix[i]), "<%d>%s %s[%d]: ",
					     LOG_AUTHPRIV | (i ? LOG_NOTICE : LOG_INFO), stamp,
					     a->ident, (int)a->pid);
		a->prefix_second = (long long)t;
	}
	if (priority == LOG_INFO || priority == LOG_NOTICE) {
		int i = priority == LOG_NOTICE;
		if (length[i] < 0 || (size_t)length[i] >= cap)
			return -1;
		memcpy(out, prefix[i], (size_t)length[i] + 1);
		return length[i];
	}
	char stamp[32];
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%h %e %T", &tm);
	return snprintf(out, cap, "<%d>%s %s[%d]: ", LOG_AUTHPRIV | priority, stamp, a->ident,
			(int)a->pid);
}

static void summarize_due(struct audit *a, bool all);

void audit_flush(struct audit *a)
{
	summarize_due(a, false);
	if (a->queued) {
		struct mmsghdr msgs[AUDIT_BATCH];
		struct iovec iov[AUDIT_BATCH];
		memset(msgs, 0, sizeof(msgs[0]) * a->queued);
		for (size_t i = 0; i < a->queued; i++) {
			iov[i].iov_base = a->line[i];
			iov[i].iov_len = a->length[i];
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		log_send(a, msgs, (unsigned)a->queued);
		a->queued = 0;
	}
	if (a->json_len && a->fd >= 0) {
		/* One write: O_APPEND keeps the lines whole. A failure can only
		 * be reported to syslog; the decisions stand. */
		ssize_t n = write(a->fd, a->json, a->json_len);
		if (n != (ssize_t)a->json_len)
			syslog(LOG_ERR, "audit file: write failed: %s",
			       n < 0 ? strerror(errno) : "short write");
	}
	a->json_len = 0;
}

/* Milliseconds from `now` until a flush is due, -1 for none. */
static int due_in(const struct audit *a, long long now)
{
	long long due = -1;
	if (a->queued || a->json_len)
		due = a->first_queued_ms + AUDIT_FLUSH_MS;
	/* Kept by rate_admit and summarize_due, rather than found in the table:
	 * this is asked twice per round of the monitor's loop. */
	long long summary = a->generation == fork_generation ? a->summary_due_ms : -1;
	if (summary >= 0 && (due < 0 || summary < due))
		due = summary;
	if (due < 0)
		return -1;
	long long left = due - now;
	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

int audit_flush_due_ms(const struct audit *a)
{
	return due_in(a, now_ms());
}

bool audit_round(struct audit *a)
{
	a->round_ms = now_ms();
	return due_in(a, a->round_ms) == 0;
}

void audit_round_end(struct audit *a)
{
	a->round_ms = 0;
}

/* The time an event is counted at: its round's (audit_round), or now. */
static long long event_ms(const struct audit *a)
{
	return a->round_ms ? a->round_ms : now_ms();
}

static void mark_queued(struct audit *a)
{
	if (!a->queued && !a->json_len)
		a->first_queued_ms = now_ms();
}

/* Queue one syslog line whose text is already safe (escaped). */
static void queue_raw(struct audit *a, int priority, const char *text)
{
	if (a->queued == AUDIT_BATCH)
		audit_flush(a);
	mark_queued(a);
	char *out = a->line[a->queued];
	int n = log_prefix(a, priority, out, AUDIT_LINE_MAX);
	if (n < 0 || n >= AUDIT_LINE_MAX)
		return;
	size_t len = strnlen(text, AUDIT_LINE_MAX - 1 - (size_t)n);
	memcpy(out + n, text, len);
	out[n + len] = '\0';
	a->length[a->queued++] = (unsigned short)((size_t)n + len);
}

/* Returns the text of the line queued (after its prefix), or NULL. */
static const char *queue_line(struct audit *a, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *queue_line(struct audit *a, int priority, const char *fmt, ...)
{
	char text[AUDIT_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (m < 0)
		return NULL;
	if (a->queued == AUDIT_BATCH)
		audit_flush(a);
	mark_queued(a);
	char *out = a->line[a->queued];
	int n = log_prefix(a, priority, out, AUDIT_LINE_MAX);
	if (n < 0 || n >= AUDIT_LINE_MAX)
		return NULL;
	/* The text may hold names the program chose: one line, always. */
	size_t len = (size_t)n + text_escape((const unsigned char *)text, out + n,
					     AUDIT_LINE_MAX - (size_t)n, false);
	a->length[a->queued++] = (unsigned short)len;
	return out + n;
}

static void queue_json(struct audit *a, const char *text, size_t len)
{
	if (a->fd < 0)
		return;
	if (a->json_len + len > sizeof(a->json))
		audit_flush(a);
	mark_queued(a);
	if (len > sizeof(a->json)) { /* cannot happen with our line sizes */
		if (write(a->fd, text, len) < 0)
			syslog(LOG_ERR, "audit file: write failed: %m");
		return;
	}
	memcpy(a->json + a->json_len, text, len);
	a->json_len += len;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A syslog line built by appending: every allowed request writes one, and
 * this costs a fifth of the same line through vsnprintf. Truncates at the
 * end of the buffer. */
struct line {
	char *p;
	char *end;
};

static void put(struct line *l, const char *s)
{
	size_t n = strlen(s);
	size_t room = (size_t)(l->end - l->p);
	if (n > room)
		n = room;
	memcpy(l->p, s, n);
	l->p += n;
}

/* A field the program may have chosen: bare or quoted (audit_text_escape). */
static void put_field(struct line *l, const char *s)
{
	char text[AUDIT_LINE_MAX];
	size_t room = (size_t)(l->end - l->p) + 1;
	audit_text_escape(s, text, room < sizeof(text) ? room : sizeof(text));
	put(l, text);
}

/* Free text that may hold what the program chose: the last thing on a
 * line, escaped but not quoted. */
static void put_text(struct line *l, const char *s)
{
	char text[AUDIT_LINE_MAX];
	size_t room = (size_t)(l->end - l->p) + 1;
	text_escape((const unsigned char *)s, text, room < sizeof(text) ? room : sizeof(text),
		    false);
	put(l, text);
}

static void put_unsigned(struct line *l, unsigned long v, unsigned base)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n && l->p < l->end)
		*l->p++ = digits[--n];
}

static void put_origin(struct line *l, const struct origin *at)
{
	if (!at) {
		put(l, "no rule");
	} else if (!at->file) {
		put(l, "built-in default");
	} else {
		put_field(l, at->file);
		if (at->line) {
			put(l, ":");
			put_unsigned(l, at->line, 10);
			put(l, ":");
			put_unsigned(l, at->column, 10);
		}
	}
}

static __attribute__((noinline)) const char *
queue_decision(struct audit *a, const char *op, const char *object, int flags,
				  pid_t pid, bool allow, const char *directive, const char *rule,
				  const struct origin *at, const char *reason, int result)
{
	if (a->queued == AUDIT_BATCH)
		audit_flush(a);
	mark_queued(a);
	char *out = a->line[a->queued];
	int n = log_prefix(a, allow ? LOG_INFO : LOG_NOTICE, out, AUDIT_LINE_MAX);
	if (n < 0 || n >= AUDIT_LINE_MAX)
		return NULL;
	struct line l = {out + n, out + AUDIT_LINE_MAX - 1};
	put(&l, op);
	put(&l, " ");
	put_field(&l, object ? object : "-");
	put(&l, " flags=0x");
	put_unsigned(&l, (unsigned)flags, 16);
	put(&l, " pid=");
	put_unsigned(&l, (unsigned long)pid, 10);
	put(&l, allow ? ": allow by " : ": deny by ");
	put(&l, directive ? directive : "default");
	if (rule) {
		put(&l, " ");
		put_field(&l, rule);
	}
	put(&l, " (");
	put_origin(&l, at);
	put(&l, "): ");
	put_text(&l, reason ? reason : "");
	if (result) {
		put(&l, "; failed: ");
		put(&l, strerror(result));
	}
	*l.p = '\0';
	a->length[a->queued++] = (unsigned short)(l.p - out);
	return out + n;
}

/* --- repeated events ----------------------------------------------------------- */

static void json_suppressed(struct audit *a, const struct audit_rate *r)
{
	char esample[AUDIT_SAMPLE_MAX * 6], line[AUDIT_SAMPLE_MAX * 6 + 200];
	int len = snprintf(line, sizeof(line),
			   "{\"time\":%.6f,\"op\":\"suppressed\",\"pid\":%d,\"count\":%lu,"
			   "\"sample\":\"%s\"}\n",
			   wall_seconds(), (int)r->pid, r->suppressed,
			   audit_json_escape(r->sample, esample, sizeof(esample)));
	if (len > 0)
		queue_json(a, line, len < (int)sizeof(line) ? (size_t)len : sizeof(line) - 1);
}

/* Write how many events like r's were suppressed, if any. */
static void summarize(struct audit *a, struct audit_rate *r)
{
	if (!r->key || !r->suppressed || a->summarizing)
		return;
	a->summarizing = true;
	char text[AUDIT_LINE_MAX];
	char from[32] = "";
	if (r->pid)
		snprintf(from, sizeof(from), " from pid %d", (int)r->pid);
	snprintf(text, sizeof(text), "%lu similar events%s suppressed (more than %d a second): %s",
		 r->suppressed, from, AUDIT_RATE_BURST, r->sample);
	queue_raw(a, LOG_WARNING, text);
	json_suppressed(a, r);
	r->suppressed = 0;
	a->summarizing = false;
}

static void rate_reset_after_fork(struct audit *a)
{
	if (a->generation == fork_generation)
		return;
	memset(a->rate, 0, sizeof(a->rate));
	a->rate_last = 0;
	a->summary_due_ms = -1;
	a->generation = fork_generation;
}

static void summarize_due(struct audit *a, bool all)
{
	if (a->summarizing)
		return;
	rate_reset_after_fork(a);
	long long now = now_ms();
	long long due = -1;
	for (size_t i = 0; i < AUDIT_RATE_KEYS; i++) {
		struct audit_rate *r = &a->rate[i];
		if (r->suppressed && (all || now - r->start_ms >= AUDIT_RATE_WINDOW_MS))
			summarize(a, r);
		long long end = r->start_ms + AUDIT_RATE_WINDOW_MS;
		if (r->key && r->suppressed && (due < 0 || end < due))
			due = end;
	}
	a->summary_due_ms = due;
}

/* Count one event of kind `key` from `pid`. Returns its entry when the
 * event is to be written (*fresh when the entry is new: the caller keeps a
 * sample of it), NULL when it is one too many this second. */
static struct audit_rate *rate_admit(struct audit *a, uint64_t key, pid_t pid, bool *fresh)
{
	rate_reset_after_fork(a);
	if (!key)
		key = 1;
	long long now = event_ms(a);
	struct audit_rate *r = NULL, *victim = NULL;
	/* The same kind of event comes again and again: its entry first. */
	struct audit_rate *last = &a->rate[a->rate_last % AUDIT_RATE_KEYS];
	if (last->key == key && last->pid == pid)
		r = last;
	for (size_t i = 0; i < AUDIT_RATE_KEYS && !r; i++) {
		struct audit_rate *e = &a->rate[i];
		if (e->key == key && e->pid == pid)
			r = e;
		else if (!victim || (victim->key && (!e->key || e->start_ms < victim->start_ms)))
			victim = e;
	}
	*fresh = false;
	if (r && now - r->start_ms >= AUDIT_RATE_WINDOW_MS) {
		summarize(a, r);
		r->start_ms = now;
		r->count = 0;
	}
	if (!r) {
		r = victim;
		summarize(a, r); /* the oldest kind makes room: its count is written */
		r->key = key;
		r->pid = pid;
		r->start_ms = now;
		r->count = 0;
		r->suppressed = 0;
		r->sample[0] = '\0';
		*fresh = true;
	}
	a->rate_last = (unsigned)(r - a->rate);
	if (++r->count <= AUDIT_RATE_BURST)
		return r;
	if (r->suppressed++ == 0) {
		long long end = r->start_ms + AUDIT_RATE_WINDOW_MS;
		if (a->summary_due_ms < 0 || end < a->summary_due_ms)
			a->summary_due_ms = end;
	}
	return NULL;
}

static void keep_sample(struct audit_rate *r, bool fresh, const char *text)
{
	if (fresh && text)
		snprintf(r->sample, sizeof(r->sample), "%s", text);
}

/* The JSON line of a decision. Apart from emit, whose every call (the bulk
 * of them counted and not written) would otherwise carve this frame of
 * escaped copies, 100 KiB, out of the stack and touch its far pages. */
static __attribute__((noinline)) void json_decision(struct audit *a, const char *op,
						    const char *object, int flags, pid_t pid,
						    bool allow, const char *directive,
						    const char *rule, const struct origin *at,
						    const char *reason, int result,
						    int denial_errno)
{
	char where[512];
	origin_format(at, where, sizeof(where));
	/* Every string escaped, whoever chose it: 6 bytes for each. */
	char eop[64], edirective[64], eobject[PATH_MAX * 6], erule[PATH_MAX * 6],
		ereason[sizeof(((struct policy_decision *)0)->reason) * 6], ewhere[3100];
	char line[sizeof(eop) + sizeof(eobject) + sizeof(edirective) + sizeof(erule) +
		  sizeof(ereason) + sizeof(ewhere) + 512];
	int len = snprintf(
		line, sizeof(line),
		"{\"time\":%.6f,\"op\":\"%s\",\"object\":\"%s\",\"flags\":%d,\"pid\":%d,"
		"\"decision\":\"%s\",\"directive\":\"%s\",\"rule\":\"%s\","
		"\"origin\":\"%s\",\"reason\":\"%s\",\"errno\":%d}\n",
		wall_seconds(), audit_json_escape(op, eop, sizeof(eop)),
		audit_json_escape(object, eobject, sizeof(eobject)), flags, (int)pid,
		allow ? "allow" : "deny", audit_json_escape(directive, edirective, sizeof(edirective)),
		audit_json_escape(rule, erule, sizeof(erule)),
		at ? audit_json_escape(where, ewhere, sizeof(ewhere)) : "",
		audit_json_escape(reason, ereason, sizeof(ereason)),
		/* The errno the program sees: the policy's for a refusal. */
		!allow && result == 0 ? denial_errno : result);
	if (len > 0)
		queue_json(a, line, len < (int)sizeof(line) ? (size_t)len : sizeof(line) - 1);
}

static void emit(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		 bool allow, const char *directive, const char *rule, const struct origin *at,
		 const char *reason, int result, int denial_errno)
{
	uint64_t key = audit_decision_key(&a->last, op, object, flags, allow, rule, reason, result);
	bool fresh;
	struct audit_rate *r = rate_admit(a, key, pid, &fresh);
	if (!r)
		return;
	keep_sample(r, fresh,
		    queue_decision(a, op, object, flags, pid, allow, directive, rule, at, reason,
				   result));
	if (a->fd >= 0)
		json_decision(a, op, object, flags, pid, allow, directive, rule, at, reason, result,
			      denial_errno);
	/* A refusal is news: write it, and what came before it, now. */
	if (!allow)
		audit_flush(a);
}

void audit_decision(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		    const struct policy_decision *d, int result)
{
	if (a->learn_fd >= 0) /* every one, before any rate limit */
		learn_log_decision(a->learn_fd, a->ident, op, object, flags, pid, d, result);
	emit(a, op, object, flags, pid, d->allow, d->directive, d->rule, d->origin, d->reason,
	     result, d->error);
}

void audit_refusal(struct audit *a, const char *op, const char *object, pid_t pid, int error,
		   const char *reason)
{
	if (a->learn_fd >= 0)
		learn_log_refusal(a->learn_fd, a->ident, op, object, pid, error, reason);
	emit(a, op, object, 0, pid, false, NULL, NULL, NULL, reason, error, error);
}

void audit_protocol(struct audit *a, pid_t pid, const char *why)
{
	bool fresh;
	struct audit_rate *r =
		rate_admit(a, audit_hash_text(0x70726f746f636f6cULL, why), pid, &fresh);
	if (!r)
		return;
	keep_sample(r, fresh,
		    queue_line(a, LOG_WARNING, "protocol violation by pid %d: %s; service to it ends",
			       (int)pid, why));
	char ewhy[256], line[512];
	int len = snprintf(line, sizeof(line),
			   "{\"time\":%.6f,\"op\":\"protocol\",\"pid\":%d,\"decision\":\"deny\","
			   "\"reason\":\"%s\"}\n",
			   wall_seconds(), (int)pid, audit_json_escape(why, ewhy, sizeof(ewhy)));
	if (len > 0)
		queue_json(a, line, len < (int)sizeof(line) ? (size_t)len : sizeof(line) - 1);
	audit_flush(a);
}

void audit_event(struct audit *a, int priority, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	bool fresh;
	struct audit_rate *r =
		rate_admit(a, audit_hash_int(audit_hash_text(0x6576656e74ULL, text), priority), 0, &fresh);
	if (!r)
		return;
	keep_sample(r, fresh, queue_line(a, priority, "%s", text));
	char etext[2048], line[2200];
	int len = snprintf(line, sizeof(line), "{\"time\":%.6f,\"op\":\"event\",\"message\":\"%s\"}\n",
			   wall_seconds(), audit_json_escape(text, etext, sizeof(etext)));
	if (len > 0)
		queue_json(a, line, len < (int)sizeof(line) ? (size_t)len : sizeof(line) - 1);
	audit_flush(a);
}

void audit_finish(struct audit *a)
{
	summarize_due(a, true);
	audit_flush(a);
}
