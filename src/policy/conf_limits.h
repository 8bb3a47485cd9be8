/* The policy language's limits, and how a parse may be restricted: what
 * the lexer (conf_lex.c) and the parser (conf.c) both hold to. */
#ifndef PRIVMAN_CONF_LIMITS_H
#define PRIVMAN_CONF_LIMITS_H

enum conf_flags {
	CONF_NO_INCLUDE = 1 << 0, /* refuse `include` (the fuzzer reads no files) */
	CONF_NO_OWNER_CHECK = 1 << 1, /* skip the policy file ownership check */
};

/* Longest value, file and include chain the parser accepts. */
#define CONF_MAX_TOKEN 4096
#define CONF_MAX_FILE_SIZE (1024 * 1024)
#define CONF_MAX_INCLUDE_DEPTH 16

#endif
