/* Diagnostics: located messages for people. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/diag.h"

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag_free(struct diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->entries[i].text);
	free(d->entries);
	memset(d, 0, sizeof(*d));
}

const char *origin_format(const struct origin *at, char *buf, size_t len)
{
	if (!at || !at->file)
		snprintf(buf, len, "built-in default");
	else if (at->line == 0)
		snprintf(buf, len, "%s", at->file);
	else
		snprintf(buf, len, "%s:%u:%u", at->file, at->line, at->column);
	return buf;
}

static const char *severity_name(enum diag_severity severity)
{
	switch (severity) {
	case DIAG_ERROR:
		return "error";
	case DIAG_WARNING:
		return "warning";
	case DIAG_NOTE:
		return "note";
	}
	return "error";
}

void diag_add(struct diag *d, enum diag_severity severity, const struct origin *at,
	      const char *fmt, ...)
{
	if (!d)
		return;
	if (severity == DIAG_ERROR)
		d->errors++;
	else if (severity == DIAG_WARNING)
		d->warnings++;

	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	char where[512] = "";
	if (at && at->file) {
		char loc[480];
		snprintf(where, sizeof(where), "%s: ", origin_format(at, loc, sizeof(loc)));
	}

	char *text = NULL;
	if (asprintf(&text, "%s%s: %s", where, severity_name(severity), message) < 0)
		return; /* out of memory: the count above still records it */

	struct diag_entry *grown = realloc(d->entries, (d->count + 1) * sizeof(*grown));
	if (!grown) {
		free(text);
		return;
	}
	d->entries = grown;
	d->entries[d->count].severity = severity;
	d->entries[d->count].text = text;
	d->count++;
}

/* Damerau-free Levenshtein distance, case-insensitive, for short names. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 64;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t above = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
					      tolower((unsigned char)b[j - 1])
					      ? 0
					      : 1;
			size_t best = diagonal + cost;
			if (above + 1 < best)
				best = above + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[lb];
}

const char *diag_nearest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_distance = (size_t)-1;
	size_t len = strlen(word);
	for (size_t i = 0; candidates[i]; i++) {
		size_t distance = edit_distance(word, candidates[i]);
		if (distance < best_distance) {
			best_distance = distance;
			best = candidates[i];
		}
	}
	/* A likely typo: at most a third of the word wrong, and at most 3. */
	size_t limit = len / 3 > 3 ? 3 : len / 3;
	if (limit < 1)
		limit = 1;
	return best_distance <= limit ? best : NULL;
}
