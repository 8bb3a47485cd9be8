/* privman learn: the record of a learning run (src/monitor/learn_log.h)
 * read back, and the policy written from it. */
#ifndef PRIVMAN_TOOLS_LEARN_H
#define PRIVMAN_TOOLS_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One line of a record. Strings are never NULL ("" when absent). */
struct learn_record {
	double time;
	int error;
	char *app;
	char *op;
	char *object;
	char *verdict; /* "start", "granted", "learned", "refused" */
	char *directive;
	char *rule;
	char *reason;
};

struct learn_records {
	struct learn_record *items;
	size_t count;
	size_t runs;      /* "start" lines */
	size_t bad_lines; /* lines that are not records (skipped, counted) */
};

/* Read a record file, appending to `out`: only a regular file with one
 * name, owned by root and writable by no one else, never through a symlink.
 * Returns 0, or -1 with `why` saying what is wrong with the file. */
int learn_records_read(const char *path, struct learn_records *out, const char **why);
void learn_records_free(struct learn_records *r);

struct learn_options {
	const char **bases; /* policy files: the scope and the rules kept */
	size_t base_count;
	unsigned collapse; /* 0: never; N: N or more siblings become dir/ * */
	const char *output; /* NULL: standard output */
	const char *what;   /* what ran, for the heading ("privman-demo 781") */
};

/* Write the policy: the base's scope and rules and the learned rules, one
 * per object, with how often and since when each was used. Says what was
 * observed and what was written on `summary`. Returns 0, or -1 (the reason
 * on `summary`). */
int learn_write(const struct learn_options *o, const struct learn_records *r, FILE *summary);

/* True when `path` is a protected place (learn_protect.c): one whose
 * wildcard would reach secrets or what makes root (shadow, sudoers, PAM,
 * ssh keys, /root, /boot...). */
bool learn_protected(const char *path);

/* True when `dir/ *` may be written: the directory is not protected, is
 * not "/", and no protected place is an entry of it. */
bool learn_collapsible(const char *dir);

/* True when COMMAND (looked up in PATH) is an ELF program that names
 * priv_init (learn_elf.c). */
bool learn_calls_priv_init(const char *command);

#endif
