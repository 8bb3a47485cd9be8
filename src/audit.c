/* Audit: decisions to syslog and, optionally, JSON lines (see audit.h). */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

int audit_open_file(struct audit *a, const char *path)
{
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	return a->fd < 0 ? -1 : 0;
}

void audit_close(struct audit *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
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

static void json_line(struct audit *a, const char *line, int len)
{
	if (a->fd < 0 || len <= 0)
		return;
	/* One write per line: O_APPEND keeps lines whole. A failure cannot be
	 * reported to anyone but syslog, and the decision stands. */
	if (write(a->fd, line, (size_t)len) != len)
		syslog(LOG_ERR, "audit file: write failed: %s", strerror(errno));
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emit(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		 bool allow, const char *directive, const char *rule, const struct origin *at,
		 const char *reason, int result)
{
	char where[512];
	origin_format(at, where, sizeof(where));
	const char *verdict = allow ? "allow" : "deny";

	syslog(allow ? LOG_INFO : LOG_NOTICE, "%s %s flags=0x%x pid=%d: %s by %s%s%s (%s): %s%s%s",
	       op, object ? object : "-", (unsigned)flags, (int)pid, verdict,
	       directive ? directive : "default", rule ? " " : "", rule ? rule : "",
	       at ? where : "no rule", reason ? reason : "",
	       result ? "; failed: " : "", result ? strerror(result) : "");

	if (a->fd < 0)
		return;
	char eobject[PATH_MAX * 2], erule[PATH_MAX * 2], ereason[600], ewhere[1100];
	char line[PATH_MAX * 4 + 2048];
	int len = snprintf(line, sizeof(line),
			   "{\"time\":%.6f,\"op\":\"%s\",\"object\":\"%s\",\"flags\":%d,\"pid\":%d,"
			   "\"decision\":\"%s\",\"directive\":\"%s\",\"rule\":\"%s\","
			   "\"origin\":\"%s\",\"reason\":\"%s\",\"errno\":%d}\n",
			   now_seconds(), op, audit_json_escape(object, eobject, sizeof(eobject)),
			   flags, (int)pid, verdict, directive ? directive : "",
			   audit_json_escape(rule, erule, sizeof(erule)),
			   at ? audit_json_escape(where, ewhere, sizeof(ewhere)) : "",
			   audit_json_escape(reason, ereason, sizeof(ereason)), result);
	if (len >= (int)sizeof(line))
		len = (int)sizeof(line) - 1;
	json_line(a, line, len);
}

void audit_decision(struct audit *a, const char *op, const char *object, int flags, pid_t pid,
		    const struct policy_decision *d, int result)
{
	emit(a, op, object, flags, pid, d->allow, d->directive, d->rule, d->origin, d->reason,
	     result);
}

void audit_refusal(struct audit *a, const char *op, const char *object, pid_t pid, int error,
		   const char *reason)
{
	emit(a, op, object, 0, pid, false, NULL, NULL, NULL, reason, error);
}

void audit_protocol(struct audit *a, pid_t pid, const char *why)
{
	syslog(LOG_WARNING, "protocol violation by pid %d: %s; service to it ends", (int)pid, why);
	if (a->fd < 0)
		return;
	char ewhy[256], line[512];
	int len = snprintf(line, sizeof(line),
			   "{\"time\":%.6f,\"op\":\"protocol\",\"pid\":%d,\"decision\":\"deny\","
			   "\"reason\":\"%s\"}\n",
			   now_seconds(), (int)pid, audit_json_escape(why, ewhy, sizeof(ewhy)));
	json_line(a, line, len < (int)sizeof(line) ? len : (int)sizeof(line) - 1);
}

void audit_event(struct audit *a, int priority, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	syslog(priority, "%s", text);
	if (a->fd < 0)
		return;
	char etext[2048], line[2200];
	int len = snprintf(line, sizeof(line), "{\"time\":%.6f,\"op\":\"event\",\"message\":\"%s\"}\n",
			   now_seconds(), audit_json_escape(text, etext, sizeof(etext)));
	json_line(a, line, len < (int)sizeof(line) ? len : (int)sizeof(line) - 1);
}
