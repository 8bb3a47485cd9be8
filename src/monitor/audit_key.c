/* The keys of the audit's rate limit (audit_key.h). */
#include "monitor/audit_key.h"

#include <string.h>

#define FNV_PRIME 0x100000001b3ULL

uint64_t audit_hash_text(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
		h = (h ^ *p) * FNV_PRIME;
	return (h ^ 0x100) * FNV_PRIME; /* a separator no byte can be */
}

uint64_t audit_hash_int(uint64_t h, long long v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (unsigned char)v) * FNV_PRIME;
	return h;
}

/* Whether the fields are, byte for byte, the event `last` keeps: compared
 * where they are, without building the event first. */
static bool same_as_last(const struct audit_last *last, const int ints[3],
			 const char *const fields[4])
{
	if (last->size < sizeof(int[3]) || memcmp(last->event, ints, sizeof(int[3])) != 0)
		return false;
	const char *e = last->event + sizeof(int[3]), *end = last->event + last->size;
	for (size_t i = 0; i < 4; i++) {
		const char *f = fields[i] ? fields[i] : "";
		size_t len = strlen(f) + 1; /* with its NUL: where the field ends */
		if (len > (size_t)(end - e) || memcmp(e, f, len) != 0)
			return false;
		e += len;
	}
	return e == end;
}

/* The event a decision is known by: its ints and its strings, each with its
 * NUL; 0 when it is too long to keep (then hashed each time). */
static size_t make_event(char *event, size_t cap, const int ints[3], const char *const fields[4])
{
	size_t n = sizeof(int[3]);
	memcpy(event, ints, n);
	for (size_t i = 0; i < 4; i++) {
		const char *f = fields[i] ? fields[i] : "";
		size_t len = strlen(f) + 1;
		if (len > cap - n)
			return 0;
		memcpy(event + n, f, len);
		n += len;
	}
	return n;
}

/* The key of a decision. The same decision again (a loop, a flood: the bulk
 * of the traffic) is known byte for byte from the last one, and takes its
 * key without hashing again (hashing was a fifth of the cost of a grant),
 * nor copying its fields. */
uint64_t audit_decision_key(struct audit_last *last, const char *op, const char *object,
			    int flags, bool allow, const char *rule, const char *reason,
			    int result)
{
	int ints[3] = {flags, allow, result};
	const char *const fields[4] = {op, object, rule, reason};
	if (same_as_last(last, ints, fields))
		return last->key;
	uint64_t key = audit_hash_int(0xcbf29ce484222325ULL, (long long)flags << 33 |
								   (long long)allow << 32 |
								   (unsigned)result);
	key = audit_hash_text(audit_hash_text(key, op), object);
	key = audit_hash_text(audit_hash_text(key, rule), reason);
	size_t n = make_event(last->event, sizeof(last->event), ints, fields);
	last->size = n;
	last->key = key;
	return key;
}
