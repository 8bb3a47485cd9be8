/* privman learn: the rules of the policy being written (learn_write.c
 * fills it, learn_output.c prints it). One entry per rule, keyed by its
 * text in the policy language. */
#ifndef PRIVMAN_TOOLS_LEARN_MODEL_H
#define PRIVMAN_TOOLS_LEARN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "learn.h"
#include "policy/policy.h"

/* In the order they are written. */
enum learn_kind {
	KIND_OPEN_RO,
	KIND_OPEN_AO,
	KIND_OPEN_RW,
	KIND_UNLINK,
	KIND_BIND,
	KIND_RUN_AS,
	KIND_RUN,
	KIND_AUTH_BOOL, /* auth true|false: a scalar */
	KIND_AUTH,	/* auth { SERVICE } */
	KIND_AUTH_ALLOW_RERUN,
	KIND_FORK,
	KIND_ALLOW_RERUN,
	KIND_CUSTOM,
	KIND_CUSTOM_TIMEOUT,
	KIND_ALLOW_NAMESPACES,
	KIND_COUNT,
};

#define LEARN_MATCH_MAX 8
#define LEARN_REFUSALS_SHOWN 8

struct learn_entry {
	enum learn_kind kind;
	char *text; /* the rule */
	char *path; /* path kinds: the path as written */
	/* How a "granted" record names this rule: its directive and rule. */
	const char *directive;
	char *match[LEARN_MATCH_MAX];
	size_t match_count;
	unsigned long count; /* uses: this run's, plus those its comment gave */
	double first;	     /* the first use (seconds), 0: never or unknown */
	bool base;	     /* kept from a base file */
	bool learned;	     /* learned in the records */
	bool dropped;	     /* replaced (by a wildcard, or a learned scalar) */
	unsigned collapsed;  /* a wildcard made of this many rules */
};

struct learn_model {
	struct learn_entry *entries;
	size_t count;
	struct policy *base; /* validated; NULL: no base file */
	/* What the summary says. */
	unsigned long observed, granted, learned, refused, refused_root, not_written;
	unsigned long not_written_control; /* a control byte with no escape */
	unsigned long runs, bad_lines;
	unsigned long runs_recorded; /* in the records (runs adds the bases') */
	unsigned collapsed_rules, wildcards;
	const char *app;
	/* The first refusals of each kind (operation and object), to show. */
	const struct learn_record *refusals[LEARN_REFUSALS_SHOWN];
	size_t refusal_count;
};

/* Print the policy of `m` to `out`. */
void learn_output(const struct learn_model *m, const struct learn_options *o, FILE *out);

/* What was observed and what was written, on `summary`. */
void learn_summary(const struct learn_model *m, const struct learn_options *o, FILE *summary);

/* Write `text` to `path` (NULL: standard output) through a temporary file
 * renamed into place. Returns 0, or -1 (the reason on `summary`). */
int learn_write_file(const char *path, const char *text, size_t len, FILE *summary);

/* "2026-12-01T13:40:00Z" into buf. */
const char *learn_time_format(double seconds, char *buf, size_t len);

#endif
