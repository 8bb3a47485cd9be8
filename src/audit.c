/* Audit: decisions to syslog and, optionally, JSON lines (see audit.h). */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void audit_init(struct audit *a, const char *ident)
{
	a->fd = -1;
	a->log_sock = -1;
	a->log_retry_ms = 0;
	snprintf(a->ident, sizeof(a->ident), "%s", ident ? ident : "privman");
	snprintf(a->log_path, sizeof(a->log_path), "%s", "/dev/log");
	a->prefix_second = -1;
	a->pid = getpid();
	a->queued = 0;
	a->json_len = 0;
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

void audit_flush(struct audit *a)
{
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

int audit_flush_due_ms(const struct audit *a)
{
	if (!a->queued && !a->json_len)
		return -1;
	long long left = a->first_queued_ms + AUDIT_FLUSH_MS - now_ms();
	return left < 0 ? 0 : (int)left;
}

static void mark_queued(struct audit *a)
{
	if (!a->queued && !a->json_len)
		a->first_queued_ms = now_ms();
}

static void queue_line(struct audit *a, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void queue_line(struct audit *a, int priority, const char *fmt, ...)
{
	if (a->queued == AUDIT_BATCH)
		audit_flush(a);
	mark_queued(a);
	char *out = a->line[a->queued];
	int n = log_prefix(a, priority, out, AUDIT_LINE_MAX);
	if (n < 0 || n >= AUDIT_LINE_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(out + n, AUDIT_LINE_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len >= AUDIT_LINE_MAX)
		len = AUDIT_LINE_MAX - 1;
	a->length[a->queued++] = (unsigned short)len;
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
		put(l, at->file);
		if (at->line) {
			put(l, ":");
			put_unsigned(l, at->line, 10);
			put(l, ":");
			put_unsigned(l, at->column, 10);
		}
	}
}

static void queue_decision(struct audit *a, const char *op, const char *object, int flags,
			   pid_t pid, bool allow, const char *directive, const char *rule,
			   const struct origin *at, const char *reason, int result)
{
	if (a->queued == AUDIT_BATCH)
		audit_flush(a);
	mark_queued(a);
	char *out = a->line[a->queued];
	int n = log_prefix(a, allow ? LOG_INFO : LOG_NOTICE, out, AUDIT_LINE_MAX);
	if (n < 0 || n >= AUDIT_LINE_MAX)
		return;
	struct line l = {out + n, out + AUDIT_LINE_MAX - 1};
	put(&l, op);
	put(&l, " ");
	put(&l, object ? object : "-");
	put(&l, " flags=0x");
	put_unsigned(&l, (unsigned)flags, 16);
	put(&l, " pid=");
	put_unsigned(&l, (unsigned long)pid, 10);
	put(&l, allow ? ": allow by " : ": deny by ");
	put(&l, directive ? directive : "default");
	if (rule) {
		put(&l, " ");
		put(&l, rule);
	}
	put(&l, " (");
	put_origin(&l, at);
	put(&l, "): ");
	put(&l, reason ? reason : "");
	if (result) {
		put(&l, "; failed: ");
		put(&l, strerror(result));
	}
	*l.p = '\0';
	a->length[a->queued++] = (unsigned short)(l.p - out);
}

static void emit(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		 bool allow, const char *directive, const char *rule, const struct origin *at,
		 const char *reason, int result, int denial_errno)
{
	const char *verdict = allow ? "allow" : "deny";

	queue_decision(a, op, object, flags, pid, allow, directive, rule, at, reason, result);

	if (a->fd >= 0) {
		char where[512];
		origin_format(at, where, sizeof(where));
		char eobject[PATH_MAX * 2], erule[PATH_MAX * 2], ereason[600], ewhere[1100];
		char line[PATH_MAX * 4 + 2048];
		int len = snprintf(
			line, sizeof(line),
			"{\"time\":%.6f,\"op\":\"%s\",\"object\":\"%s\",\"flags\":%d,\"pid\":%d,"
			"\"decision\":\"%s\",\"directive\":\"%s\",\"rule\":\"%s\","
			"\"origin\":\"%s\",\"reason\":\"%s\",\"errno\":%d}\n",
			wall_seconds(), op, audit_json_escape(object, eobject, sizeof(eobject)), flags,
			(int)pid, verdict, directive ? directive : "",
			audit_json_escape(rule, erule, sizeof(erule)),
			at ? audit_json_escape(where, ewhere, sizeof(ewhere)) : "",
			audit_json_escape(reason, ereason, sizeof(ereason)),
			/* The errno the program sees: the policy's for a refusal. */
			!allow && result == 0 ? denial_errno : result);
		if (len > 0)
			queue_json(a, line, len < (int)sizeof(line) ? (size_t)len : sizeof(line) - 1);
	}
	/* A refusal is news: write it, and what came before it, now. */
	if (!allow)
		audit_flush(a);
}

void audit_decision(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		    const struct policy_decision *d, int result)
{
	emit(a, op, object, flags, pid, d->allow, d->directive, d->rule, d->origin, d->reason,
	     result, d->error);
}

void audit_refusal(struct audit *a, const char *op, const char *object, pid_t pid, int error,
		   const char *reason)
{
	emit(a, op, object, 0, pid, false, NULL, NULL, NULL, reason, error, error);
}

void audit_protocol(struct audit *a, pid_t pid, const char *why)
{
	queue_line(a, LOG_WARNING, "protocol violation by pid %d: %s; service to it ends", (int)pid,
		   why);
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
	queue_line(a, priority, "%s", text);
	char etext[2048], line[2200];
	int len = snprintf(line, sizeof(line), "{\"time\":%.6f,\"op\":\"event\",\"message\":\"%s\"}\n",
			   wall_seconds(), audit_json_escape(text, etext, sizeof(etext)));
	if (len > 0)
		queue_json(a, line, len < (int)sizeof(line) ? (size_t)len : sizeof(line) - 1);
	audit_flush(a);
}
