/* Diagnostics: located error and warning messages collected while loading a
 * policy. Library code never prints; the tools and priv_init print these. */
#ifndef PRIVMAN_DIAG_H
#define PRIVMAN_DIAG_H

#include <stddef.h>

/* Where a directive or value came from. `file` points at a string owned by
 * the policy (or the parser); line and column count from 1. A NULL file
 * means a built-in default or a command-line option. */
struct origin {
	const char *file;
	unsigned line;
	unsigned column;
};

enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE };

struct diag_entry {
	enum diag_severity severity;
	char *text; /* "file:line:column: error: message" */
};

struct diag {
	struct diag_entry *entries;
	size_t count;
	size_t errors;
	size_t warnings;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);

/* Append a message. `at` may be NULL (no location). A NULL diag is allowed
 * and discards the message. */
void diag_add(struct diag *d, enum diag_severity severity, const struct origin *at,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define diag_error(d, at, ...) diag_add((d), DIAG_ERROR, (at), __VA_ARGS__)
#define diag_warn(d, at, ...) diag_add((d), DIAG_WARNING, (at), __VA_ARGS__)
#define diag_note(d, at, ...) diag_add((d), DIAG_NOTE, (at), __VA_ARGS__)

/* Format an origin as "file:line:column" (or "built-in default" / "command
 * line") into buf; returns buf. */
const char *origin_format(const struct origin *at, char *buf, size_t len);

/* The closest of `candidates` (NULL-terminated) to `word` by edit distance,
 * case-insensitive, or NULL when none is close enough to be a likely typo. */
const char *diag_nearest(const char *word, const char *const *candidates);

#endif
