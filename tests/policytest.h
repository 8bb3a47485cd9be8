/* Helpers for the policy-language tests: load text, look for messages. */
#ifndef PRIVMAN_POLICYTEST_H
#define PRIVMAN_POLICYTEST_H

#include <criterion/criterion.h>
#include <string.h>

#include "policy/conf.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"

/* Parse `text` as the file "test.conf"; NULL on a syntax error. */
static inline struct policy *parse_text(const char *text, struct diag *d)
{
	diag_init(d);
	return conf_load_buffer("test.conf", text, strlen(text), d);
}

/* Parse and fully validate; NULL when anything is wrong. */
static inline struct policy *load_text(const char *text, struct diag *d)
{
	struct policy *p = parse_text(text, d);
	if (p && policy_validate(p, d) < 0) {
		policy_free(p);
		return NULL;
	}
	return p;
}

static inline bool diag_has(const struct diag *d, const char *needle)
{
	for (size_t i = 0; i < d->count; i++)
		if (strstr(d->entries[i].text, needle))
			return true;
	return false;
}

static inline void diag_print(const struct diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		cr_log_info("%s", d->entries[i].text);
}

#define cr_assert_diag(d, needle)                                                            \
	do {                                                                                 \
		if (!diag_has((d), (needle))) {                                              \
			diag_print(d);                                                       \
			cr_assert_fail("no message contains \"%s\"", (needle));              \
		}                                                                            \
	} while (0)

/* The text must be refused, with a message containing `needle`. */
#define cr_assert_refused(text, needle)                                                      \
	do {                                                                                 \
		struct diag d_;                                                              \
		struct policy *p_ = load_text((text), &d_);                                  \
		cr_assert_null(p_, "accepted: %s", (text));                                  \
		cr_assert_geq(d_.errors, 1);                                                 \
		cr_assert_diag(&d_, (needle));                                               \
		diag_free(&d_);                                                              \
	} while (0)

#endif
