/* What this process holds and what this kernel allows, read back for the
 * drop (scope/drop.c): its capability sets as 64-bit masks (one bit per
 * capability number, as struct policy_security holds them), its groups,
 * its threads. Reads only; nothing here changes a credential. */
#ifndef PRIVMAN_CREDS_H
#define PRIVMAN_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

/* Capability masks are 64 bits wide (struct policy_security). */
#define CREDS_MASK_BITS 64

static inline uint64_t creds_bit(int cap)
{
	return (uint64_t)1 << cap;
}

/* The highest capability number of the running kernel, at most
 * CREDS_MASK_BITS - 1. */
int creds_last_cap(void);

/* "cap_chown, cap_kill" or "none", into buf. */
const char *creds_mask_names(uint64_t mask, char *buf, size_t len);

/* Sort and remove duplicates in place; returns the new count. */
size_t creds_gids_normalize(gid_t *gids, size_t count);

/* The process's supplementary groups, sorted; NULL with *count 0 is an
 * empty list. Returns -1 on error. */
int creds_groups(gid_t **out, size_t *count);

bool creds_gids_equal(const gid_t *a, size_t a_count, const gid_t *b, size_t b_count);

/* Number of threads, or 0 when /proc cannot tell. */
size_t creds_thread_count(void);
/* True when this process is the only task of its memory (creds.c). */
bool creds_single_threaded(void);

/* The process's capability sets as masks; returns 0 or -1. */
int creds_caps(int last_cap, uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);

/* The bounding set, and the members of `candidates` in the ambient set. */
uint64_t creds_bounding(int last_cap);
uint64_t creds_ambient(int last_cap, uint64_t candidates);

/* "name (uid N)" or "uid N" for a scope's user, into buf. */
const char *creds_user_text(const struct policy_security *s, char *buf, size_t len);

#endif
