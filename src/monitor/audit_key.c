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

/* The key of a decision. The same decision again (a loop, a flood: the bulk
 * of the traffic) is known byte for byte from the last one, and takes its
 * key without hashing again (hashing was a fifth of the cost of a grant). */
uint64_t audit_decision_key(struct audit_last *last, const char *op, const char *object,
			    int flags, bool allow, const char *rule, const char *reason,
			    int result)
{
	char event[AUDIT_LAST_MAX];
	int ints[3] = {flags, allow, result};
	const char *fields[4] = {op, object, rule, reason};
	size_t n = sizeof(ints);
	memcpy(event, ints, n);
	for (size_t i = 0; i < 4 && n; i++) {
		const char *f = fields[i] ? fields[i] : "";
		size_t len = strlen(f) + 1;
		if (len > sizeof(event) - n) {
			n = 0; /* too long to keep: hashed each time */
			break;
		}
		memcpy(event + n, f, len);
		n += len;
	}
	if (n && n == last->size && memcmp(event, last->event, n) == 0)
		return last->key;
	uint64_t key = audit_hash_int(0xcbf29ce484222325ULL, (long long)flags << 33 |
								   (long long)allow << 32 |
								   (unsigned)result);
	key = audit_hash_text(audit_hash_text(key, op), object);
	key = audit_hash_text(audit_hash_text(key, rule), reason);
	if (n) {
		memcpy(last->event, event, n);
		last->size = n;
		last->key = key;
	}
	return key;
}
