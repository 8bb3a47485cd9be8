/* The policy language's lexer: words, quoted strings, braces, parentheses
 * and '=', with comments and blanks skipped; every token located by file,
 * line and column (conf_lex.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/conf_lex.h"

static bool is_word_char(int c)
{
	return isalnum(c) || strchr("/._-*:+,@[]%~$", c) != NULL;
}

static struct origin here(const struct source *s)
{
	return (struct origin){ .file = s->name, .line = s->line, .column = s->column };
}

static int peek_char(const struct source *s, size_t ahead)
{
	return s->pos + ahead < s->len ? (unsigned char)s->text[s->pos + ahead] : -1;
}

static void advance(struct source *s)
{
	if (s->pos >= s->len)
		return;
	if (s->text[s->pos] == '\n') {
		s->line++;
		s->column = 1;
	} else {
		s->column++;
	}
	s->pos++;
}

static void describe_char(int c, char *buf, size_t len)
{
	if (c == '\0')
		snprintf(buf, len, "a NUL byte");
	else if (isprint(c))
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", (unsigned)c);
}

/* Skip whitespace and comments. Returns -1 on an unterminated comment. */
static int skip_blank(struct parser *ps)
{
	struct source *s = ps->src;
	for (;;) {
		int c = peek_char(s, 0);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			advance(s);
		} else if (c == '#') {
			while (peek_char(s, 0) != -1 && peek_char(s, 0) != '\n')
				advance(s);
		} else if (c == '/' && peek_char(s, 1) == '*') {
			struct origin start = here(s);
			advance(s);
			advance(s);
			while (!(peek_char(s, 0) == '*' && peek_char(s, 1) == '/')) {
				if (peek_char(s, 0) == -1) {
					diag_error(ps->diag, &start,
						   "comment opened here is never closed with '*/'");
					return -1;
				}
				advance(s);
			}
			advance(s);
			advance(s);
		} else {
			return 0;
		}
	}
}

void conf_token_clear(struct token *t)
{
	free(t->text);
	t->text = NULL;
	t->kind = TOKEN_EOF;
}

static int lex_string(struct parser *ps, struct token *t)
{
	struct source *s = ps->src;
	char *buf = malloc(CONF_MAX_TOKEN + 1);
	if (!buf) {
		diag_error(ps->diag, &t->at, "out of memory");
		return -1;
	}
	size_t n = 0;
	advance(s); /* the opening quote */
	for (;;) {
		int c = peek_char(s, 0);
		if (c == -1 || c == '\n') {
			diag_error(ps->diag, &t->at,
				   "string opened here is not closed with '\"' on the same line");
			goto fail;
		}
		if (c == '\0') {
			struct origin at = here(s);
			diag_error(ps->diag, &at, "a NUL byte is not allowed in a string");
			goto fail;
		}
		if (c == '"') {
			advance(s);
			break;
		}
		if (c == '\\') {
			struct origin at = here(s);
			advance(s);
			int e = peek_char(s, 0);
			switch (e) {
			case '"':
			case '\\':
				c = e;
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			default: {
				char what[32];
				describe_char(e < 0 ? ' ' : e, what, sizeof(what));
				diag_error(ps->diag, &at,
					   "unknown escape '\\' followed by %s; use \\\" \\\\ \\n or \\t",
					   what);
				goto fail;
			}
			}
		}
		if (n == CONF_MAX_TOKEN) {
			diag_error(ps->diag, &t->at, "string longer than %d bytes",
				   CONF_MAX_TOKEN);
			goto fail;
		}
		buf[n++] = (char)c;
		advance(s);
	}
	buf[n] = '\0';
	t->kind = TOKEN_STRING;
	t->text = buf;
	return 0;
fail:
	free(buf);
	return -1;
}

static int lex_word(struct parser *ps, struct token *t)
{
	struct source *s = ps->src;
	size_t start = s->pos;
	while (peek_char(s, 0) != -1 && is_word_char(peek_char(s, 0))) {
		/* A comment may follow a word directly: "open_ro /a/b/ * x" is a
		 * path, but "word/ *" is not a comment opener inside a word. */
		advance(s);
	}
	size_t n = s->pos - start;
	if (peek_char(s, 0) == '#') {
		/* The original Privman read "/var/run/a#b" as one path; ending
		 * the word here would grant "/var/run/a" instead. */
		struct origin at = here(s);
		diag_error(ps->diag, &at,
			   "'#' inside a value; quote the value (\"...\") if '#' belongs to it, "
			   "or put a space before '#' to start a comment");
		return -1;
	}
	if (n > CONF_MAX_TOKEN) {
		diag_error(ps->diag, &t->at, "value longer than %d bytes", CONF_MAX_TOKEN);
		return -1;
	}
	t->text = strndup(s->text + start, n);
	if (!t->text) {
		diag_error(ps->diag, &t->at, "out of memory");
		return -1;
	}
	t->kind = TOKEN_WORD;
	return 0;
}

/* Read the next token into ps->token. On error the token is TOKEN_ERROR
 * and a message is in the diag. */
void conf_next_token(struct parser *ps)
{
	struct token *t = &ps->token;
	conf_token_clear(t);
	if (skip_blank(ps) < 0) {
		t->kind = TOKEN_ERROR;
		return;
	}
	struct source *s = ps->src;
	t->at = here(s);
	int c = peek_char(s, 0);
	switch (c) {
	case -1:
		t->kind = TOKEN_EOF;
		return;
	case '{':
		t->kind = TOKEN_OPEN_BRACE;
		advance(s);
		return;
	case '}':
		t->kind = TOKEN_CLOSE_BRACE;
		advance(s);
		return;
	case '(':
		t->kind = TOKEN_OPEN_PAREN;
		advance(s);
		return;
	case ')':
		t->kind = TOKEN_CLOSE_PAREN;
		advance(s);
		return;
	case '=':
		t->kind = TOKEN_EQUALS;
		advance(s);
		return;
	case '"':
		if (lex_string(ps, t) < 0)
			t->kind = TOKEN_ERROR;
		return;
	default:
		break;
	}
	if (is_word_char(c)) {
		if (lex_word(ps, t) < 0)
			t->kind = TOKEN_ERROR;
		return;
	}
	char what[32];
	describe_char(c, what, sizeof(what));
	diag_error(ps->diag, &t->at, "unexpected %s%s", what,
		   c == ';' ? " (statements need no ';')"
		   : c == '\'' ? " (quote values with '\"')"
			       : "");
	t->kind = TOKEN_ERROR;
}

const char *conf_token_name(enum token_kind kind)
{
	switch (kind) {
	case TOKEN_EOF:
		return "the end of the file";
	case TOKEN_WORD:
		return "a word";
	case TOKEN_STRING:
		return "a quoted string";
	case TOKEN_OPEN_BRACE:
		return "'{'";
	case TOKEN_CLOSE_BRACE:
		return "'}'";
	case TOKEN_OPEN_PAREN:
		return "'('";
	case TOKEN_CLOSE_PAREN:
		return "')'";
	case TOKEN_EQUALS:
		return "'='";
	case TOKEN_ERROR:
		break;
	}
	return "an invalid token";
}
