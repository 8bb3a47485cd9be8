/* The policy language's lexer (internal to conf*.c): the state a parse
 * shares between the lexer (conf_lex.c), the schema and the model it builds
 * (conf_schema.c) and the grammar (conf.c). */
#ifndef PRIVMAN_CONF_LEX_H
#define PRIVMAN_CONF_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/conf_limits.h"
#include "policy/diag.h"
#include "policy/policy.h"

enum token_kind {
	TOKEN_EOF,
	TOKEN_WORD,
	TOKEN_STRING,
	TOKEN_OPEN_BRACE,
	TOKEN_CLOSE_BRACE,
	TOKEN_OPEN_PAREN,
	TOKEN_CLOSE_PAREN,
	TOKEN_EQUALS,
	TOKEN_ERROR,
};

struct token {
	enum token_kind kind;
	char *text; /* WORD and STRING: the value, malloc'd */
	struct origin at;
};

/* One open file (or buffer) in an include chain. */
struct source {
	const char *name; /* the policy's copy */
	const char *text;
	size_t len;
	size_t pos;
	unsigned line;
	unsigned column;
	dev_t dev;
	ino_t ino;
	bool has_inode;
	const struct source *includer;
	unsigned depth;
};

struct scalars_seen; /* conf.c */

struct parser {
	struct policy *policy;
	struct diag *diag;
	unsigned flags;
	struct source *src;
	struct token token; /* the current token */
	struct scalars_seen *scalars; /* of the file or scope being read */
};

/* Read the next token into ps->token. On error the token is TOKEN_ERROR
 * and a message is in the diag. */
void conf_next_token(struct parser *ps);

/* Free a token's text; the token is then TOKEN_EOF. */
void conf_token_clear(struct token *t);

/* "a word", "'{'", ... for messages. */
const char *conf_token_name(enum token_kind kind);

#endif
