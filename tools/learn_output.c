/* privman learn: print the policy a learning run wrote, and its summary. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "learn.h"
#include "learn_model.h"
#include "policy/learn.h"

#define COMMENT_COLUMN 48

const char *learn_time_format(double seconds, char *buf, size_t len)
{
	time_t t = (time_t)seconds;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
	return buf;
}

static void put_comment(const struct learn_entry *e, FILE *out)
{
	char when[32];
	int pad = COMMENT_COLUMN - (int)strlen(e->text);
	fprintf(out, "%*s# ", pad > 1 ? pad : 1, "");
	if (e->count)
		fprintf(out, "used %lu time%s", e->count, e->count == 1 ? "" : "s");
	else
		fputs("from the base, not used", out);
	if (e->first)
		fprintf(out, ", first at %s", learn_time_format(e->first, when, sizeof(when)));
	if (e->collapsed)
		fprintf(out, "; %u paths collapsed", e->collapsed);
	if (e->path && learn_protected(e->path))
		fputs("; protected place: written exactly, review it", out);
	fputc('\n', out);
}

static int by_text(const void *a, const void *b)
{
	const struct learn_entry *const *x = a, *const *y = b;
	return strcmp((*x)->text, (*y)->text);
}

static void put_value_line(FILE *out, const char *name, const char *value, bool quote)
{
	char text[PATH_MAX * 2 + 8];
	if (policy_value_write(value, quote, text, sizeof(text)) >= 0)
		fprintf(out, "\t%s = %s\n", name, text);
}

/* The base's security scope, as written there (names, not ids); the
 * default is nobody with nothing kept. */
static void put_security(const struct policy *base, FILE *out)
{
	const struct policy_security *s = base ? &base->security : NULL;
	fputs("security {\n", out);
	put_value_line(out, "user", s && s->user.text ? s->user.text : "nobody", false);
	if (s && s->group.text)
		put_value_line(out, "group", s->group.text, false);
	if (s && s->supplemental_set) {
		fputs("\tsupplemental_groups = (", out);
		for (size_t i = 0; i < s->supplemental_count; i++) {
			char text[PATH_MAX];
			if (policy_value_write(s->supplemental_groups[i].text, false, text,
					       sizeof(text)) >= 0)
				fprintf(out, " %s", text);
		}
		fputs(" )\n", out);
	}
	if (s && s->chroot.text)
		put_value_line(out, "chroot", s->chroot.text, true);
	if (s && s->capabilities.text)
		put_value_line(out, "capabilities", s->capabilities.text, true);
	if (s && s->privileges.text)
		put_value_line(out, "privileges", s->privileges.text, true);
	fputs("}\n", out);
}

void learn_output(const struct learn_model *m, const struct learn_options *o, FILE *out)
{
	char now[32];
	learn_time_format((double)time(NULL), now, sizeof(now));
	fprintf(out, "# privman learn: written %s from %lu run%s of %s\n", now, m->runs,
		m->runs == 1 ? "" : "s", m->app ? m->app : "a program");
	if (o->what)
		fprintf(out, "#   (%s)\n", o->what);
	fputs("# Each learned rule was served as root would serve it while learning:\n"
	      "# review every rule before use. Given back with -c, this file keeps its\n"
	      "# rules and their counts.\n",
	      out);
	if (o->base_count) {
		fputs("# The security scope and the rules of:", out);
		for (size_t i = 0; i < o->base_count; i++)
			fprintf(out, " %s", o->bases[i]);
		fputc('\n', out);
	} else {
		fputs("# The security scope is the default: nobody, no capability.\n", out);
	}

	const struct learn_entry **sorted = calloc(m->count ? m->count : 1, sizeof(*sorted));
	if (!sorted)
		return;
	for (int kind = 0; kind < KIND_COUNT; kind++) {
		size_t n = 0;
		for (size_t i = 0; i < m->count; i++)
			if (!m->entries[i].dropped && (int)m->entries[i].kind == kind)
				sorted[n++] = &m->entries[i];
		if (!n)
			continue;
		qsort(sorted, n, sizeof(*sorted), by_text);
		fputc('\n', out);
		for (size_t i = 0; i < n; i++) {
			fputs(sorted[i]->text, out);
			put_comment(sorted[i], out);
		}
	}
	free(sorted);
	fputc('\n', out);
	put_security(m->base, out);
}

/* What the program chose, shown on a terminal: printable bytes only. */
static void put_safe(FILE *out, const char *s, size_t max)
{
	size_t n = 0;
	for (; *s && n < max; s++, n++)
		fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', out);
	if (*s)
		fputs("...", out);
}

void learn_summary(const struct learn_model *m, const struct learn_options *o, FILE *summary)
{
	unsigned long kept = 0, learned = 0;
	for (size_t i = 0; i < m->count; i++) {
		const struct learn_entry *e = &m->entries[i];
		if (e->dropped)
			continue;
		kept += e->base;
		learned += !e->base;
	}
	fprintf(summary,
		"privman learn: observed %lu request%s in %lu run%s of %s: %lu granted by the "
		"base, %lu learned, %lu refused",
		m->observed, m->observed == 1 ? "" : "s", m->runs_recorded,
		m->runs_recorded == 1 ? "" : "s",
		m->app ? m->app : "a program", m->granted, m->learned, m->refused);
	if (m->refused_root)
		fprintf(summary, " (%lu to run as root: never learned)", m->refused_root);
	fputc('\n', summary);
	for (size_t i = 0; i < m->refusal_count; i++) {
		const struct learn_record *r = m->refusals[i];
		fputs("privman learn:   refused ", summary);
		put_safe(summary, r->op, 40);
		fputc(' ', summary);
		put_safe(summary, r->object, 200);
		fputs(": ", summary);
		put_safe(summary, r->reason, 300);
		fputc('\n', summary);
	}
	fprintf(summary, "privman learn: wrote %lu rule%s to %s: %lu kept from the base, %lu "
			 "learned",
		kept + learned, kept + learned == 1 ? "" : "s",
		o->output ? o->output : "standard output", kept, learned);
	if (m->wildcards)
		fprintf(summary, "; %u paths collapsed into %u wildcard%s", m->collapsed_rules,
			m->wildcards, m->wildcards == 1 ? "" : "s");
	fputc('\n', summary);
	if (m->not_written)
		fprintf(summary, "privman learn: %lu learned rule%s not written (running as root, "
				 "or unreadable)\n",
			m->not_written, m->not_written == 1 ? "" : "s");
	if (m->not_written_control)
		fprintf(summary, "privman learn: %lu learned rule%s not written: a control "
				 "character (such as \\r or ESC) the policy language has no "
				 "escape for\n",
			m->not_written_control, m->not_written_control == 1 ? "" : "s");
	if (m->bad_lines)
		fprintf(summary, "privman learn: %lu line%s of the record skipped (not a record)\n",
			m->bad_lines, m->bad_lines == 1 ? "" : "s");
}

int learn_write_file(const char *path, const char *text, size_t len, FILE *summary)
{
	if (!path) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
			fprintf(summary, "privman learn: standard output: %s\n", strerror(errno));
			return -1;
		}
		return 0;
	}
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -1;
	int fd = mkostemp(tmp, O_CLOEXEC);
	int rc = -1;
	if (fd >= 0) {
		size_t done = 0;
		while (done < len) {
			ssize_t n = write(fd, text + done, len - done);
			if (n <= 0)
				break;
			done += (size_t)n;
		}
		if (done == len && fchmod(fd, 0644) == 0 && fsync(fd) == 0 && close(fd) == 0) {
			fd = -1;
			rc = rename(tmp, path);
		}
	}
	if (rc < 0) {
		fprintf(summary, "privman learn: cannot write %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
