/* The record of a learning run (see learn_log.h). */
#include "monitor/learn_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* The record is written by root and read back by root (privman learn
 * --from), which turns what it says into rules: a file that anyone but root
 * could write, or a name that leads elsewhere, would let the program that
 * learns write its own rules, or have root append to a file of its choosing.
 * So: never through a symlink at the end of the name, never a FIFO (no
 * wait for a reader), and only a regular file with one name, root's own,
 * that no one else may write. */
int learn_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
				    O_NONBLOCK,
		      0600);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) || st.st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

static double wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The inside of a JSON string of `s`, malloc'd: as the audit writes them
 * (audit.h; this file is below it, and keeps its own copy), each byte one
 * character, printable ASCII as is with \" and \\, every other byte as
 * \u00XX, so any path comes back exactly. */
static char *json(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	char *out = malloc(strlen((const char *)p) * 6 + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (; *p; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[*p >> 4];
			out[o + 5] = hex[*p & 15];
			o += 6;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return out;
}

static void put_line(int fd, const char *line, int len)
{
	if (len <= 0)
		return;
	ssize_t n = write(fd, line, (size_t)len);
	if (n != len)
		syslog(LOG_ERR, "learning record: write failed: %s",
		       n < 0 ? strerror(errno) : "short write");
}

void learn_log_start(int fd, const char *app, const char *policy_path)
{
	char *eapp = json(app), *epolicy = json(policy_path), *line = NULL;
	if (eapp && epolicy) {
		int len = asprintf(&line,
				   "{\"time\":%.6f,\"app\":\"%s\",\"pid\":%d,\"op\":\"start\","
				   "\"policy\":\"%s\"}\n",
				   wall_seconds(), eapp, (int)getpid(), epolicy);
		if (len > 0)
			put_line(fd, line, len);
	}
	free(line);
	free(eapp);
	free(epolicy);
}

static void record(int fd, const char *app, const char *op, const char *object, int flags,
		   pid_t pid, const char *verdict, const char *directive, const char *rule,
		   const struct origin *at, int error, const char *reason)
{
	char where[512] = "";
	if (at)
		origin_format(at, where, sizeof(where));
	char *e[7] = {json(app),  json(op),	json(object), json(directive),
		      json(rule), json(where), json(reason)};
	char *line = NULL;
	bool ok = true;
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		ok = ok && e[i];
	if (ok) {
		int len = asprintf(&line,
				   "{\"time\":%.6f,\"app\":\"%s\",\"pid\":%d,\"op\":\"%s\","
				   "\"object\":\"%s\",\"flags\":%d,\"verdict\":\"%s\","
				   "\"directive\":\"%s\",\"rule\":\"%s\",\"origin\":\"%s\","
				   "\"errno\":%d,\"reason\":\"%s\"}\n",
				   wall_seconds(), e[0], (int)pid, e[1], e[2], flags, verdict, e[3],
				   e[4], e[5], error, e[6]);
		if (len > 0)
			put_line(fd, line, len);
		else
			line = NULL;
	} else {
		syslog(LOG_ERR, "learning record: out of memory; a decision is missing");
	}
	free(line);
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		free(e[i]);
}

void learn_log_decision(int fd, const char *app, const char *op, const char *object, int flags,
			pid_t pid, const struct policy_decision *d, int result)
{
	const char *verdict = !d->allow ? "refused" : d->learned ? "learned" : "granted";
	record(fd, app, op, object, flags, pid, verdict, d->directive, d->rule, d->origin,
	       !d->allow && result == 0 ? d->error : result, d->reason);
}

void learn_log_refusal(int fd, const char *app, const char *op, const char *object, pid_t pid,
		       int error, const char *reason)
{
	record(fd, app, op, object, 0, pid, "refused", NULL, NULL, NULL, error, reason);
}
