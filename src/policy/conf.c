/* The policy language: lexer and schema-driven parser.
 *
 * One grammar serves the privman policy files and the security scope:
 *
 *   file      := statement*
 *   statement := NAME ['='] value
 *   value     := WORD | STRING | '{' item* '}' | '(' item* ')' | scope
 *   scope     := '{' (NAME ['='] value)* '}'
 *
 * Names are case-insensitive; a table (the schema) says what each name
 * takes. The parser only records what was written and where; policy.c
 * checks what the values mean. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/conf.h"

/* --- lexer -------------------------------------------------------------- */

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

/* The scalars one file, or one scope, has set so far: a second value for
 * one of them there is refused, as the original Privman refused a second
 * chroot or unpriv_user. A later file (another -c, an include) may still
 * replace a value. */
struct scalar_seen {
	int directive;
	struct origin at;
};

struct scalars_seen {
	const char *where; /* "file", "'security' scope", "'run' scope" */
	struct scalar_seen *seen;
	size_t count;
};

struct parser {
	struct policy *policy;
	struct diag *diag;
	unsigned flags;
	struct source *src;
	struct token token; /* the current token */
	struct scalars_seen *scalars; /* of the file or scope being read */
};

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

static void token_clear(struct token *t)
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
static void next_token(struct parser *ps)
{
	struct token *t = &ps->token;
	token_clear(t);
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

static const char *token_name(enum token_kind kind)
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

/* --- the schema --------------------------------------------------------- */

enum value_kind { KIND_SCALAR, KIND_BOOL, KIND_LIST, KIND_SCOPE, KIND_INCLUDE, KIND_AUTH };

enum directive {
	DIR_OPEN_RO,
	DIR_OPEN_RW,
	DIR_OPEN_AO,
	DIR_UNLINK,
	DIR_BIND,
	DIR_RUN_AS,
	DIR_CHROOT,
	DIR_UNPRIV_USER,
	DIR_AUTH,
	DIR_AUTH_ALLOW_RERUN,
	DIR_FORK,
	DIR_ALLOW_RERUN,
	DIR_CUSTOM,
	DIR_CUSTOM_TIMEOUT,
	DIR_ALLOW_NAMESPACES,
	DIR_SECURITY,
	DIR_RUN,
	DIR_CONFINE,
	DIR_INCLUDE,
	/* inside `security` */
	OPT_USER,
	OPT_GROUP,
	OPT_SUPPLEMENTAL_GROUPS,
	OPT_CHROOT,
	OPT_CAPABILITIES,
	OPT_PRIVILEGES,
	/* inside `run` */
	RUN_PROGRAM,
	RUN_USER,
	RUN_CHROOT,
	RUN_ENV,
	/* inside `confine` (policy/confine.c) */
	CONFINE_OPT_READ,
	CONFINE_OPT_WRITE,
	CONFINE_OPT_EXEC,
	CONFINE_OPT_BIND,
	CONFINE_OPT_CONNECT,
	CONFINE_OPT_STRICT,
};

struct schema_entry {
	const char *name;
	enum directive directive;
	enum value_kind kind;
};

static const struct schema_entry top_schema[] = {
	{ "open_ro", DIR_OPEN_RO, KIND_LIST },
	{ "open_rw", DIR_OPEN_RW, KIND_LIST },
	{ "open_ao", DIR_OPEN_AO, KIND_LIST },
	{ "unlink", DIR_UNLINK, KIND_LIST },
	{ "bind", DIR_BIND, KIND_LIST },
	{ "run_as", DIR_RUN_AS, KIND_LIST },
	{ "runas", DIR_RUN_AS, KIND_LIST },
	{ "chroot", DIR_CHROOT, KIND_SCALAR },
	{ "unpriv_user", DIR_UNPRIV_USER, KIND_SCALAR },
	{ "auth", DIR_AUTH, KIND_AUTH },
	{ "auth_allow_rerun", DIR_AUTH_ALLOW_RERUN, KIND_BOOL },
	{ "fork", DIR_FORK, KIND_BOOL },
	{ "allow_rerun", DIR_ALLOW_RERUN, KIND_BOOL },
	{ "custom", DIR_CUSTOM, KIND_LIST },
	{ "custom_timeout", DIR_CUSTOM_TIMEOUT, KIND_SCALAR },
	{ "allow_namespaces", DIR_ALLOW_NAMESPACES, KIND_BOOL },
	{ "security", DIR_SECURITY, KIND_SCOPE },
	{ "run", DIR_RUN, KIND_SCOPE },
	{ "confine", DIR_CONFINE, KIND_SCOPE },
	{ "include", DIR_INCLUDE, KIND_INCLUDE },
	{ NULL, 0, 0 },
};

static const struct schema_entry security_schema[] = {
	{ "user", OPT_USER, KIND_SCALAR },
	{ "group", OPT_GROUP, KIND_SCALAR },
	{ "supplemental_groups", OPT_SUPPLEMENTAL_GROUPS, KIND_LIST },
	{ "chroot", OPT_CHROOT, KIND_SCALAR },
	{ "capabilities", OPT_CAPABILITIES, KIND_SCALAR },
	{ "privileges", OPT_PRIVILEGES, KIND_SCALAR },
	{ NULL, 0, 0 },
};

static const struct schema_entry run_schema[] = {
	{ "program", RUN_PROGRAM, KIND_SCALAR },
	{ "user", RUN_USER, KIND_LIST },
	{ "run_as", RUN_USER, KIND_LIST },
	{ "runas", RUN_USER, KIND_LIST },
	{ "chroot", RUN_CHROOT, KIND_SCALAR },
	{ "env", RUN_ENV, KIND_LIST },
	{ NULL, 0, 0 },
};

static const struct schema_entry confine_schema[] = {
	{ "read", CONFINE_OPT_READ, KIND_LIST },
	{ "write", CONFINE_OPT_WRITE, KIND_LIST },
	{ "exec", CONFINE_OPT_EXEC, KIND_LIST },
	{ "bind", CONFINE_OPT_BIND, KIND_LIST },
	{ "connect", CONFINE_OPT_CONNECT, KIND_LIST },
	{ "strict", CONFINE_OPT_STRICT, KIND_BOOL },
	{ NULL, 0, 0 },
};

/* What the statements of a scope write into. */
struct scope_target {
	struct policy_security *security; /* inside `security` */
	struct run_rule *run;             /* inside `run` */
	struct policy_confine *confine;   /* inside `confine` */
};

static const char *scope_name(const struct schema_entry *schema)
{
	return schema == security_schema ? "security" : schema == run_schema ? "run" : "confine";
}

static const struct schema_entry *schema_find(const struct schema_entry *schema, const char *name)
{
	for (size_t i = 0; schema[i].name; i++)
		if (strcasecmp(schema[i].name, name) == 0)
			return &schema[i];
	return NULL;
}

static void unknown_name(struct parser *ps, const struct schema_entry *schema,
			 const char *where)
{
	const char *names[32];
	size_t n = 0;
	for (size_t i = 0; schema[i].name && n < 31; i++)
		names[n++] = schema[i].name;
	names[n] = NULL;
	const struct token *t = &ps->token;
	const char *nearest = diag_nearest(t->text, names);
	if (nearest)
		diag_error(ps->diag, &t->at, "unknown %s '%s'; did you mean '%s'?", where, t->text,
			   nearest);
	else if (schema != top_schema && schema_find(top_schema, t->text))
		diag_error(ps->diag, &t->at,
			   "'%s' is not valid inside '%s' (it belongs at the top level)", t->text,
			   scope_name(schema));
	else if (schema == top_schema && schema_find(security_schema, t->text))
		diag_error(ps->diag, &t->at,
			   "'%s' is valid only inside 'security { ... }'", t->text);
	else
		diag_error(ps->diag, &t->at, "unknown %s '%s'", where, t->text);
}

/* --- building the model ------------------------------------------------- */

const char *policy_add_file(struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->file_count; i++)
		if (strcmp(p->files[i], name) == 0)
			return p->files[i];
	char **grown = realloc(p->files, (p->file_count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	p->files = grown;
	char *copy = strdup(name);
	if (!copy)
		return NULL;
	p->files[p->file_count++] = copy;
	return copy;
}

static int oom(struct parser *ps)
{
	diag_error(ps->diag, &ps->token.at, "out of memory");
	return -1;
}

/* Take ownership of the current token's text. */
static char *take_text(struct parser *ps)
{
	char *text = ps->token.text;
	ps->token.text = NULL;
	return text;
}

static int add_path(struct parser *ps, struct path_rules *rules)
{
	struct path_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return oom(ps);
	rules->rules = grown;
	struct path_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->path = take_text(ps);
	return 0;
}

static int add_bind(struct parser *ps)
{
	struct bind_rules *rules = &ps->policy->bind;
	struct bind_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return oom(ps);
	rules->rules = grown;
	struct bind_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->text = take_text(ps);
	return 0;
}

static int add_runas(struct parser *ps, struct runas_rules *rules)
{
	struct runas_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return oom(ps);
	rules->rules = grown;
	struct runas_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->name = take_text(ps);
	return 0;
}

static int add_custom(struct parser *ps)
{
	struct custom_rules *rules = &ps->policy->custom;
	struct custom_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
	if (!grown)
		return oom(ps);
	rules->rules = grown;
	struct custom_rule *r = &rules->rules[rules->count++];
	memset(r, 0, sizeof(*r));
	r->origin = ps->token.at;
	r->text = take_text(ps);
	return 0;
}

static int add_value(struct parser *ps, struct policy_value **list, size_t *count)
{
	struct policy_value *grown = realloc(*list, (*count + 1) * sizeof(*grown));
	if (!grown)
		return oom(ps);
	*list = grown;
	grown[*count].origin = ps->token.at;
	grown[*count].text = take_text(ps);
	(*count)++;
	return 0;
}

static void set_value(struct parser *ps, struct policy_value *v)
{
	free(v->text);
	v->origin = ps->token.at;
	v->text = take_text(ps);
}

int conf_parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	for (size_t i = 0; yes[i]; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return 0;
		}
	}
	return -1;
}

static struct policy_bool *bool_slot(struct policy *p, enum directive directive)
{
	switch (directive) {
	case DIR_AUTH:
		return &p->auth;
	case DIR_AUTH_ALLOW_RERUN:
		return &p->auth_allow_rerun;
	case DIR_FORK:
		return &p->fork;
	case DIR_ALLOW_RERUN:
		return &p->allow_rerun;
	case DIR_ALLOW_NAMESPACES:
		return &p->allow_namespaces;
	default:
		return NULL;
	}
}

/* Store one list item for `directive`. */
static int store_item(struct parser *ps, struct scope_target *scope, enum directive directive)
{
	struct policy *p = ps->policy;
	switch (directive) {
	case DIR_OPEN_RO:
		return add_path(ps, &p->open_ro);
	case DIR_OPEN_RW:
		return add_path(ps, &p->open_rw);
	case DIR_OPEN_AO:
		return add_path(ps, &p->open_ao);
	case DIR_UNLINK:
		return add_path(ps, &p->unlink);
	case DIR_BIND:
		return add_bind(ps);
	case DIR_RUN_AS:
		return add_runas(ps, &p->run_as);
	case DIR_CUSTOM:
		return add_custom(ps);
	case DIR_AUTH:
		return add_value(ps, &p->auth_services, &p->auth_service_count);
	case RUN_USER:
		return add_runas(ps, &scope->run->users);
	case RUN_ENV:
		return add_value(ps, &scope->run->env, &scope->run->env_count);
	case OPT_SUPPLEMENTAL_GROUPS:
		scope->security->supplemental_set = true;
		return add_value(ps, &scope->security->supplemental_groups,
				 &scope->security->supplemental_count);
	case CONFINE_OPT_READ:
	case CONFINE_OPT_WRITE:
	case CONFINE_OPT_EXEC:
	case CONFINE_OPT_BIND:
	case CONFINE_OPT_CONNECT:
		if (confine_add_item(scope->confine,
				     (enum confine_list)(CONFINE_READ + (directive - CONFINE_OPT_READ)),
				     take_text(ps), &ps->token.at) < 0)
			return oom(ps);
		return 0;
	default:
		return 0;
	}
}

/* Store a scalar for `directive`. */
static int store_scalar(struct parser *ps, struct scope_target *scope, enum directive directive,
			enum value_kind kind)
{
	struct policy *p = ps->policy;
	if (kind == KIND_BOOL) {
		struct policy_bool *b = bool_slot(p, directive);
		bool value;
		if (conf_parse_bool(ps->token.text, &value) < 0) {
			diag_error(ps->diag, &ps->token.at,
				   "expected true or false (or yes/no, on/off, 1/0), not '%s'",
				   ps->token.text);
			return -1;
		}
		if (directive == CONFINE_OPT_STRICT) {
			scope->confine->strict = value;
			scope->confine->strict_set = true;
			scope->confine->strict_origin = ps->token.at;
			return 0;
		}
		b->value = value;
		b->set = true;
		b->origin = ps->token.at;
		return 0;
	}
	switch (directive) {
	case DIR_CHROOT:
		set_value(ps, &p->chroot);
		break;
	case DIR_UNPRIV_USER:
		set_value(ps, &p->unpriv_user);
		break;
	case DIR_CUSTOM_TIMEOUT:
		set_value(ps, &p->custom_timeout);
		break;
	case OPT_USER:
		set_value(ps, &scope->security->user);
		break;
	case OPT_GROUP:
		set_value(ps, &scope->security->group);
		break;
	case OPT_CHROOT:
		set_value(ps, &scope->security->chroot);
		break;
	case OPT_CAPABILITIES:
		set_value(ps, &scope->security->capabilities);
		break;
	case OPT_PRIVILEGES:
		set_value(ps, &scope->security->privileges);
		break;
	case RUN_CHROOT:
		set_value(ps, &scope->run->chroot);
		break;
	case RUN_PROGRAM: {
		struct path_rule *program = &scope->run->program;
		free(program->path);
		program->origin = ps->token.at;
		program->path = take_text(ps);
		scope->run->has_program = true;
		break;
	}
	default:
		break;
	}
	return 0;
}

static bool is_value(const struct token *t)
{
	return t->kind == TOKEN_WORD || t->kind == TOKEN_STRING;
}

static int expected(struct parser *ps, const char *what)
{
	if (ps->token.kind == TOKEN_ERROR)
		return -1; /* the lexer has said why */
	diag_error(ps->diag, &ps->token.at, "expected %s, found %s", what,
		   token_name(ps->token.kind));
	return -1;
}

static int parse_list(struct parser *ps, const struct schema_entry *entry,
		      struct scope_target *scope)
{
	if (is_value(&ps->token)) { /* a list of one may drop its braces */
		if (store_item(ps, scope, entry->directive) < 0)
			return -1;
		next_token(ps);
		return 0;
	}
	enum token_kind close;
	if (ps->token.kind == TOKEN_OPEN_BRACE)
		close = TOKEN_CLOSE_BRACE;
	else if (ps->token.kind == TOKEN_OPEN_PAREN)
		close = TOKEN_CLOSE_PAREN;
	else
		return expected(ps, "a value or a list in '{ }' or '( )'");
	struct origin opened = ps->token.at;
	next_token(ps);
	while (ps->token.kind != close) {
		if (!is_value(&ps->token)) {
			if (ps->token.kind == TOKEN_EOF) {
				diag_error(ps->diag, &opened,
					   "list of '%s' opened here is never closed with '%s'",
					   entry->name, close == TOKEN_CLOSE_BRACE ? "}" : ")");
				return -1;
			}
			char what[64];
			snprintf(what, sizeof(what), "a value or '%s' to close the list",
				 close == TOKEN_CLOSE_BRACE ? "}" : ")");
			return expected(ps, what);
		}
		if (store_item(ps, scope, entry->directive) < 0)
			return -1;
		next_token(ps);
	}
	next_token(ps);
	return 0;
}

/* Remember that the current file or scope sets `entry`; refuse a second
 * value, naming both places. */
static int scalar_once(struct parser *ps, const struct schema_entry *entry)
{
	struct scalars_seen *s = ps->scalars;
	if (!s)
		return 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->seen[i].directive != (int)entry->directive)
			continue;
		char first[512];
		diag_error(ps->diag, &ps->token.at,
			   "'%s' is given a second time in this %s (first at %s); give it once "
			   "(a later policy file may replace it)",
			   entry->name, s->where,
			   origin_format(&s->seen[i].at, first, sizeof(first)));
		return -1;
	}
	struct scalar_seen *grown = realloc(s->seen, (s->count + 1) * sizeof(*grown));
	if (!grown)
		return oom(ps);
	s->seen = grown;
	s->seen[s->count++] = (struct scalar_seen){ .directive = (int)entry->directive,
						    .at = ps->token.at };
	return 0;
}

static int parse_scalar(struct parser *ps, const struct schema_entry *entry,
			struct scope_target *scope)
{
	if (!is_value(&ps->token)) {
		char what[96];
		snprintf(what, sizeof(what), "a value for '%s'%s", entry->name,
			 entry->kind == KIND_BOOL ? " (true or false)" : "");
		return expected(ps, what);
	}
	if (scalar_once(ps, entry) < 0)
		return -1;
	if (store_scalar(ps, scope, entry->directive, entry->kind) < 0)
		return -1;
	next_token(ps);
	return 0;
}

static int parse_statement(struct parser *ps, const struct schema_entry *schema,
			   struct scope_target *scope);

/* `auth true|false` or `auth { SERVICE ... }`. A bare word must be a
 * boolean, so that a misspelt `true` is an error rather than the name of a
 * service; one service is written in braces. Lists accumulate; `false`
 * revokes everything earlier `auth` statements granted (a later file can
 * turn PAM off). policy.c checks the names. */
static int parse_auth(struct parser *ps, const struct schema_entry *entry)
{
	struct policy *p = ps->policy;
	if (ps->token.kind == TOKEN_OPEN_BRACE || ps->token.kind == TOKEN_OPEN_PAREN)
		return parse_list(ps, entry, NULL);
	if (!is_value(&ps->token))
		return expected(ps, "true, false, or a list of PAM services in '{ }' for 'auth'");
	bool value;
	if (conf_parse_bool(ps->token.text, &value) < 0) {
		diag_error(ps->diag, &ps->token.at,
			   "expected true or false, or a list of PAM services in braces "
			   "(auth { %s }), not '%s'",
			   ps->token.text, ps->token.text);
		return -1;
	}
	p->auth.value = value;
	p->auth.set = true;
	p->auth.origin = ps->token.at;
	if (!value) {
		for (size_t i = 0; i < p->auth_service_count; i++)
			free(p->auth_services[i].text);
		free(p->auth_services);
		p->auth_services = NULL;
		p->auth_service_count = 0;
	}
	next_token(ps);
	return 0;
}

/* The statements of a scope, from '{' to '}'. */
static int parse_scope_body(struct parser *ps, const struct schema_entry *entry,
			    const struct schema_entry *schema, struct scope_target *scope)
{
	char what[64];
	snprintf(what, sizeof(what), "'{' to open the %s scope", entry->name);
	if (ps->token.kind != TOKEN_OPEN_BRACE)
		return expected(ps, what);
	struct origin opened = ps->token.at;
	char where[64];
	snprintf(where, sizeof(where), "'%s' scope", entry->name);
	struct scalars_seen scalars = { .where = where };
	struct scalars_seen *outer = ps->scalars;
	ps->scalars = &scalars;
	int rc = -1;
	next_token(ps);
	while (ps->token.kind != TOKEN_CLOSE_BRACE) {
		if (ps->token.kind == TOKEN_EOF) {
			diag_error(ps->diag, &opened,
				   "'%s' scope opened here is never closed with '}'", entry->name);
			goto out;
		}
		if (parse_statement(ps, schema, scope) < 0)
			goto out;
	}
	next_token(ps);
	rc = 0;
out:
	ps->scalars = outer;
	free(scalars.seen);
	return rc;
}

static int parse_scope(struct parser *ps, const struct schema_entry *entry)
{
	struct origin opened = ps->token.at;
	if (entry->directive == DIR_RUN) {
		/* `run` scopes accumulate, like lists. */
		struct run_rule rule;
		memset(&rule, 0, sizeof(rule));
		rule.origin = opened;
		struct scope_target target = { .run = &rule };
		if (parse_scope_body(ps, entry, run_schema, &target) < 0) {
			policy_run_rule_free(&rule);
			return -1;
		}
		struct run_rules *rules = &ps->policy->run;
		struct run_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
		if (!grown) {
			policy_run_rule_free(&rule);
			return oom(ps);
		}
		rules->rules = grown;
		rules->rules[rules->count++] = rule;
		return 0;
	}
	if (entry->directive == DIR_CONFINE) {
		/* Like `security`: a later scope replaces an earlier one whole. */
		struct policy_confine confine;
		memset(&confine, 0, sizeof(confine));
		confine.present = true;
		confine.origin = opened;
		struct scope_target target = { .confine = &confine };
		if (parse_scope_body(ps, entry, confine_schema, &target) < 0) {
			policy_confine_free(&confine);
			return -1;
		}
		policy_confine_free(&ps->policy->confine);
		ps->policy->confine = confine;
		return 0;
	}
	/* A later `security` scope replaces an earlier one whole: parse into a
	 * fresh one and swap it in only when complete. */
	struct policy_security scope;
	memset(&scope, 0, sizeof(scope));
	scope.present = true;
	scope.origin = opened;
	struct scope_target target = { .security = &scope };
	if (parse_scope_body(ps, entry, security_schema, &target) < 0) {
		policy_security_free(&scope);
		return -1;
	}
	policy_security_free(&ps->policy->security);
	ps->policy->security = scope;
	return 0;
}

static int parse_source(struct parser *ps, struct source *src);

static bool source_is_active(const struct source *s, dev_t dev, ino_t ino)
{
	for (; s; s = s->includer)
		if (s->has_inode && s->dev == dev && s->ino == ino)
			return true;
	return false;
}

/* Read a whole policy file, checking that a privileged reader may trust it. */
static char *read_policy_file(struct parser *ps, const char *path, const struct origin *at,
			      size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		diag_error(ps->diag, at, "cannot open policy file %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	if (fstat(fd, st) < 0) {
		diag_error(ps->diag, at, "cannot stat policy file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		diag_error(ps->diag, at, "policy file %s is not a regular file", path);
		goto out;
	}
	if (st->st_size > CONF_MAX_FILE_SIZE) {
		diag_error(ps->diag, at, "policy file %s is larger than %d bytes", path,
			   CONF_MAX_FILE_SIZE);
		goto out;
	}
	if (!(ps->flags & CONF_NO_OWNER_CHECK) && geteuid() == 0) {
		/* The monitor runs as root on what this file says: only root may
		 * be able to change it. */
		if (st->st_uid != 0) {
			diag_error(ps->diag, at,
				   "policy file %s is owned by uid %u, not root; a privileged "
				   "monitor must not trust it (chown root %s)",
				   path, (unsigned)st->st_uid, path);
			goto out;
		}
		if ((st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0)) {
			diag_error(ps->diag, at,
				   "policy file %s is writable by %s; a privileged monitor must "
				   "not trust it (chmod go-w %s)",
				   path, (st->st_mode & S_IWOTH) ? "others" : "its group", path);
			goto out;
		}
	}
	buf = malloc((size_t)st->st_size + 1);
	if (!buf) {
		diag_error(ps->diag, at, "out of memory reading %s", path);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st->st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st->st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			diag_error(ps->diag, at, "cannot read policy file %s: %s", path,
				   strerror(errno));
			free(buf);
			buf = NULL;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
out:
	close(fd);
	return buf;
}

static int parse_file_at(struct parser *ps, const char *path, const struct origin *at)
{
	size_t len = 0;
	struct stat st;
	if (ps->src && ps->src->depth + 1 >= CONF_MAX_INCLUDE_DEPTH) {
		diag_error(ps->diag, at, "includes nested deeper than %d files",
			   CONF_MAX_INCLUDE_DEPTH);
		return -1;
	}
	char *text = read_policy_file(ps, path, at, &len, &st);
	if (!text)
		return -1;
	int rc = -1;
	if (source_is_active(ps->src, st.st_dev, st.st_ino)) {
		diag_error(ps->diag, at, "include cycle: %s is already being read", path);
		goto out;
	}
	const char *name = policy_add_file(ps->policy, path);
	if (!name) {
		diag_error(ps->diag, at, "out of memory");
		goto out;
	}
	struct source src = {
		.name = name, .text = text, .len = len, .line = 1, .column = 1,
		.dev = st.st_dev, .ino = st.st_ino, .has_inode = true,
		.includer = ps->src, .depth = ps->src ? ps->src->depth + 1 : 0,
	};
	rc = parse_source(ps, &src);
out:
	free(text);
	return rc;
}

static int parse_include(struct parser *ps)
{
	if (!is_value(&ps->token))
		return expected(ps, "a file name after 'include'");
	struct origin at = ps->token.at;
	if (ps->flags & CONF_NO_INCLUDE) {
		diag_error(ps->diag, &at, "'include' is not allowed here");
		return -1;
	}
	const char *target = ps->token.text;
	char *path = NULL;
	if (target[0] == '/') {
		path = strdup(target);
	} else {
		/* Relative to the including file's folder. */
		const char *includer = ps->src->name;
		const char *slash = strrchr(includer, '/');
		if (slash)
			(void)!asprintf(&path, "%.*s/%s", (int)(slash - includer), includer,
					target);
		else
			path = strdup(target);
	}
	if (!path)
		return oom(ps);
	/* The include's own tokens replace the current one while it is read. */
	struct token saved = ps->token;
	ps->token.text = NULL;
	int rc = parse_file_at(ps, path, &at);
	token_clear(&ps->token);
	free(saved.text);
	free(path);
	if (rc < 0)
		return -1;
	next_token(ps);
	return 0;
}

static int parse_statement(struct parser *ps, const struct schema_entry *schema,
			   struct scope_target *scope)
{
	if (ps->token.kind != TOKEN_WORD)
		return expected(ps, schema == top_schema ? "a directive name"
							 : "an option name or '}'");
	const struct schema_entry *entry = schema_find(schema, ps->token.text);
	if (!entry) {
		unknown_name(ps, schema, schema == top_schema      ? "directive"
					 : schema == security_schema ? "security option"
					 : schema == run_schema      ? "run option"
								     : "confine option");
		return -1;
	}
	next_token(ps);
	if (ps->token.kind == TOKEN_EQUALS)
		next_token(ps);
	switch (entry->kind) {
	case KIND_LIST:
		return parse_list(ps, entry, scope);
	case KIND_SCALAR:
	case KIND_BOOL:
		return parse_scalar(ps, entry, scope);
	case KIND_SCOPE:
		return parse_scope(ps, entry);
	case KIND_INCLUDE:
		return parse_include(ps);
	case KIND_AUTH:
		return parse_auth(ps, entry);
	}
	return -1;
}

static int parse_source(struct parser *ps, struct source *src)
{
	struct source *outer = ps->src;
	struct scalars_seen scalars = { .where = "file" };
	struct scalars_seen *outer_scalars = ps->scalars;
	ps->src = src;
	ps->scalars = &scalars;
	int rc = 0;
	if (memchr(src->text, '\0', src->len)) {
		size_t at = (size_t)((const char *)memchr(src->text, '\0', src->len) - src->text);
		/* Locate it for the message. */
		unsigned line = 1, column = 1;
		for (size_t i = 0; i < at; i++) {
			if (src->text[i] == '\n') {
				line++;
				column = 1;
			} else {
				column++;
			}
		}
		struct origin o = { src->name, line, column };
		diag_error(ps->diag, &o, "a NUL byte is not allowed in a policy file");
		rc = -1;
		goto out;
	}
	next_token(ps);
	while (ps->token.kind != TOKEN_EOF) {
		if (parse_statement(ps, top_schema, NULL) < 0) {
			rc = -1;
			break;
		}
	}
out:
	token_clear(&ps->token);
	ps->src = outer;
	ps->scalars = outer_scalars;
	free(scalars.seen);
	return rc;
}

int conf_parse_text(struct policy *p, const char *name, const char *text, size_t len,
		    unsigned flags, struct diag *d)
{
	struct parser ps = { .policy = p, .diag = d, .flags = flags };
	const char *copy = policy_add_file(p, name);
	if (!copy) {
		diag_error(d, NULL, "out of memory");
		return -1;
	}
	struct source src = { .name = copy, .text = text, .len = len, .line = 1, .column = 1 };
	return parse_source(&ps, &src);
}

int conf_parse_buffer(struct policy *p, const char *name, const char *text, size_t len,
		      struct diag *d)
{
	return conf_parse_text(p, name, text, len, 0, d);
}

int conf_parse_file(struct policy *p, const char *path, struct diag *d)
{
	struct parser ps = { .policy = p, .diag = d };
	struct origin at = { 0 }; /* the message names the file itself */
	return parse_file_at(&ps, path, &at);
}

struct policy *conf_load_files(const char *const *paths, size_t count, struct diag *d)
{
	struct policy *p = policy_new();
	if (!p) {
		diag_error(d, NULL, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < count; i++) {
		if (conf_parse_file(p, paths[i], d) < 0) {
			policy_free(p);
			return NULL;
		}
	}
	return p;
}

struct policy *conf_load_buffer(const char *name, const char *text, size_t len, struct diag *d)
{
	struct policy *p = policy_new();
	if (!p) {
		diag_error(d, NULL, "out of memory");
		return NULL;
	}
	if (conf_parse_buffer(p, name, text, len, d) < 0) {
		policy_free(p);
		return NULL;
	}
	return p;
}
