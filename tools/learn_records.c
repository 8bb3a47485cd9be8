/* privman learn: read the record of a learning run, JSON lines written by
 * src/monitor/learn_log.c. The reader knows exactly that shape: one flat
 * object per line, string and number values; anything else is a bad line,
 * counted and skipped (a run killed mid-write leaves half a line). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "learn.h"

struct cursor {
	const char *p;
	const char *end;
};

static void skip_space(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static int hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A JSON string into a malloc'd C string. The writer escapes every byte
 * outside printable ASCII as \u00XX: a byte, never a character. */
static char *read_string(struct cursor *c)
{
	if (c->p >= c->end || *c->p != '"')
		return NULL;
	c->p++;
	char *out = malloc((size_t)(c->end - c->p) + 1);
	size_t n = 0;
	if (!out)
		return NULL;
	while (c->p < c->end && *c->p != '"') {
		char ch = *c->p++;
		if (ch == '\\') {
			if (c->p >= c->end)
				goto bad;
			char e = *c->p++;
			if (e == 'u') {
				if (c->end - c->p < 4 || c->p[0] != '0' || c->p[1] != '0' ||
				    hex(c->p[2]) < 0 || hex(c->p[3]) < 0)
					goto bad;
				ch = (char)(hex(c->p[2]) << 4 | hex(c->p[3]));
				c->p += 4;
				if (ch == '\0')
					goto bad;
			} else if (e == '"' || e == '\\' || e == '/') {
				ch = e;
			} else if (e == 'n') {
				ch = '\n';
			} else if (e == 't') {
				ch = '\t';
			} else {
				goto bad;
			}
		}
		out[n++] = ch;
	}
	if (c->p >= c->end)
		goto bad;
	c->p++;
	out[n] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static int read_number(struct cursor *c, double *v)
{
	char buf[64];
	size_t n = 0;
	while (c->p < c->end && n + 1 < sizeof(buf) && strchr("0123456789+-.eE", *c->p))
		buf[n++] = *c->p++;
	buf[n] = '\0';
	char *stop;
	errno = 0;
	*v = strtod(buf, &stop);
	return n && *stop == '\0' && errno == 0 ? 0 : -1;
}

static void record_free(struct learn_record *r)
{
	char *fields[] = {r->app, r->op, r->object, r->verdict, r->directive, r->rule, r->reason};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		free(fields[i]);
	memset(r, 0, sizeof(*r));
}

/* The field `key` of `r` a string goes to, or NULL (ignored). */
static char **string_field(struct learn_record *r, const char *key)
{
	static const char *const names[] = {"app", "op", "object", "verdict", "directive",
					    "rule", "reason"};
	char **fields[] = {&r->app,	  &r->op,   &r->object, &r->verdict,
			   &r->directive, &r->rule, &r->reason};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(key, names[i]) == 0)
			return fields[i];
	return NULL;
}

static int parse_line(const char *line, size_t len, struct learn_record *r)
{
	struct cursor c = {line, line + len};
	memset(r, 0, sizeof(*r));
	skip_space(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return -1;
	for (;;) {
		skip_space(&c);
		char *key = read_string(&c);
		if (!key)
			goto bad;
		skip_space(&c);
		if (c.p >= c.end || *c.p++ != ':') {
			free(key);
			goto bad;
		}
		skip_space(&c);
		if (c.p < c.end && *c.p == '"') {
			char *value = read_string(&c);
			char **field = string_field(r, key);
			if (!value || (field && *field)) { /* a key twice is not ours */
				free(value);
				free(key);
				goto bad;
			}
			if (field)
				*field = value;
			else
				free(value);
		} else {
			double v;
			if (read_number(&c, &v) < 0) {
				free(key);
				goto bad;
			}
			if (strcmp(key, "time") == 0)
				r->time = v;
			else if (strcmp(key, "errno") == 0)
				r->error = (int)v;
		}
		free(key);
		skip_space(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			continue;
		}
		if (c.p < c.end && *c.p == '}')
			break;
		goto bad;
	}
	/* Every string present, "" for those absent. */
	char **all[] = {&r->app, &r->op, &r->object, &r->verdict, &r->directive, &r->rule,
			&r->reason};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!*all[i] && !(*all[i] = strdup("")))
			goto bad;
	if (strcmp(r->op, "start") == 0) {
		free(r->verdict);
		if (!(r->verdict = strdup("start")))
			goto bad;
	}
	return 0;
bad:
	record_free(r);
	return -1;
}

/* A record is trusted as learning's record is when it is written
 * (learn_log_open): never through a symlink at the end of the name, never a
 * FIFO or device (no wait for a writer), and only a regular file with one
 * name, root's own, that no one else may write. Anyone else could have
 * written any rule in it. */
static FILE *open_record(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		*why = errno == ELOOP ? "it is a symlink" : strerror(errno);
		return NULL;
	}
	struct stat st;
	*why = NULL;
	if (fstat(fd, &st) < 0)
		*why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		*why = "it is not a regular file";
	else if (st.st_nlink != 1)
		*why = "it has more than one name (a hard link)";
	else if (st.st_uid != 0)
		*why = "it is not owned by root";
	else if (st.st_mode & 022)
		*why = "others than its owner may write it";
	FILE *f = *why ? NULL : fdopen(fd, "re");
	if (!f) {
		if (!*why)
			*why = strerror(errno);
		close(fd);
	}
	return f;
}

int learn_records_read(const char *path, struct learn_records *out, const char **why)
{
	FILE *f = open_record(path, why);
	if (!f)
		return -1;
	*why = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		struct learn_record r;
		if (parse_line(line, (size_t)len, &r) < 0) {
			out->bad_lines++;
			continue;
		}
		if (strcmp(r.verdict, "start") == 0)
			out->runs++;
		struct learn_record *grown =
			realloc(out->items, (out->count + 1) * sizeof(*grown));
		if (!grown) {
			record_free(&r);
			rc = -1;
			break;
		}
		out->items = grown;
		out->items[out->count++] = r;
	}
	int err = errno;
	if (ferror(f)) {
		rc = -1;
		*why = strerror(err);
	} else if (rc < 0) {
		*why = strerror(ENOMEM);
	}
	free(line);
	fclose(f);
	errno = err;
	return rc;
}

void learn_records_free(struct learn_records *r)
{
	for (size_t i = 0; i < r->count; i++)
		record_free(&r->items[i]);
	free(r->items);
	memset(r, 0, sizeof(*r));
}
