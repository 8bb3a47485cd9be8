/* The policy language's lexer and parser (internal interface). */
#ifndef PRIVMAN_CONF_H
#define PRIVMAN_CONF_H

#include <stddef.h>

#include "policy/diag.h"
#include "policy/policy.h"

enum conf_flags {
	CONF_NO_INCLUDE = 1 << 0, /* refuse `include` (the fuzzer reads no files) */
	CONF_NO_OWNER_CHECK = 1 << 1, /* skip the policy file ownership check */
};

/* Longest value, file and include chain the parser accepts. */
#define CONF_MAX_TOKEN 4096
#define CONF_MAX_FILE_SIZE (1024 * 1024)
#define CONF_MAX_INCLUDE_DEPTH 16

int conf_parse_text(struct policy *p, const char *name, const char *text, size_t len,
		    unsigned flags, struct diag *d);

/* Parse a boolean the way the language spells one; returns 0 or -1. */
int conf_parse_bool(const char *text, bool *value);

/* Remember a file name in the policy; returns the policy's copy, or NULL. */
const char *policy_add_file(struct policy *p, const char *name);

#endif
