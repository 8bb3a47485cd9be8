/* The keys of the audit's rate limit: events with the same key, from one
 * process, are one kind of event (audit.h, "Identical events"). Runs as
 * root, in the monitor. */
#ifndef PRIVMAN_AUDIT_KEY_H
#define PRIVMAN_AUDIT_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_LAST_MAX 1024

/* The last decision's fields, as audit_decision_key() lays them out, and
 * its key (size 0: none). */
struct audit_last {
	uint64_t key;
	size_t size;
	char event[AUDIT_LAST_MAX];
};

/* FNV-1a of `s` (NULL as ""), and a separator no byte can be, after h. */
uint64_t audit_hash_text(uint64_t h, const char *s);

/* FNV-1a of the 8 bytes of v, after h. */
uint64_t audit_hash_int(uint64_t h, long long v);

/* The key of a decision (its fields as audit_decision and audit_refusal
 * take them); `last` is kept to recognise the same decision again. */
uint64_t audit_decision_key(struct audit_last *last, const char *op, const char *object,
			    int flags, bool allow, const char *rule, const char *reason,
			    int result);

#endif
