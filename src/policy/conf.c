/* The policy language: the schema-driven parser.
 *
 * One grammar serves the privman policy files and the security scope:
 *
 *   file      := statement*
 *   statement := NAME ['='] value
 *   value     := WORD | STRING | '{' item* '}' | '(' item* ')' | scope
 *   scope     := '{' (NAME ['='] value)* '}'
 *
 * Names are case-insensitive; a table (the schema, conf_schema.c) says what
 * each name takes. The lexer is conf_lex.c. This file is the grammar, the
 * reading of policy files and includes, and the entry points of conf.h and
 * policy.h. The parser only records what was written and where;
 * validate.c checks what the values mean. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/conf.h"
#include "policy/conf_lex.h"
#include "policy/conf_schema.h"

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


static bool is_value(const struct token *t)
{
	return t->kind == TOKEN_WORD || t->kind == TOKEN_STRING;
}

static int expected(struct parser *ps, const char *what)
{
	if (ps->token.kind == TOKEN_ERROR)
		return -1; /* the lexer has said why */
	diag_error(ps->diag, &ps->token.at, "expected %s, found %s", what,
		   conf_token_name(ps->token.kind));
	return -1;
}

static int parse_list(struct parser *ps, const struct schema_entry *entry,
		      struct scope_target *scope)
{
	if (is_value(&ps->token)) { /* a list of one may drop its braces */
		if (conf_store_item(ps, scope, entry->directive) < 0)
			return -1;
		conf_next_token(ps);
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
	conf_next_token(ps);
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
		if (conf_store_item(ps, scope, entry->directive) < 0)
			return -1;
		conf_next_token(ps);
	}
	conf_next_token(ps);
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
		return conf_oom(ps);
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
	if (conf_store_scalar(ps, scope, entry->directive, entry->kind) < 0)
		return -1;
	conf_next_token(ps);
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
	conf_next_token(ps);
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
	conf_next_token(ps);
	while (ps->token.kind != TOKEN_CLOSE_BRACE) {
		if (ps->token.kind == TOKEN_EOF) {
			diag_error(ps->diag, &opened,
				   "'%s' scope opened here is never closed with '}'", entry->name);
			goto out;
		}
		if (parse_statement(ps, schema, scope) < 0)
			goto out;
	}
	conf_next_token(ps);
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
		if (parse_scope_body(ps, entry, conf_run_schema, &target) < 0) {
			policy_run_rule_free(&rule);
			return -1;
		}
		struct run_rules *rules = &ps->policy->run;
		struct run_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));
		if (!grown) {
			policy_run_rule_free(&rule);
			return conf_oom(ps);
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
		if (parse_scope_body(ps, entry, conf_confine_schema, &target) < 0) {
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
	if (parse_scope_body(ps, entry, conf_security_schema, &target) < 0) {
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
		return conf_oom(ps);
	/* The include's own tokens replace the current one while it is read. */
	struct token saved = ps->token;
	ps->token.text = NULL;
	int rc = parse_file_at(ps, path, &at);
	conf_token_clear(&ps->token);
	free(saved.text);
	free(path);
	if (rc < 0)
		return -1;
	conf_next_token(ps);
	return 0;
}

static int parse_statement(struct parser *ps, const struct schema_entry *schema,
			   struct scope_target *scope)
{
	if (ps->token.kind != TOKEN_WORD)
		return expected(ps, schema == conf_top_schema ? "a directive name"
							 : "an option name or '}'");
	const struct schema_entry *entry = conf_schema_find(schema, ps->token.text);
	if (!entry) {
		conf_unknown_name(ps, schema, schema == conf_top_schema      ? "directive"
					 : schema == conf_security_schema ? "security option"
					 : schema == conf_run_schema      ? "run option"
								     : "confine option");
		return -1;
	}
	conf_next_token(ps);
	if (ps->token.kind == TOKEN_EQUALS)
		conf_next_token(ps);
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
	conf_next_token(ps);
	while (ps->token.kind != TOKEN_EOF) {
		if (parse_statement(ps, conf_top_schema, NULL) < 0) {
			rc = -1;
			break;
		}
	}
out:
	conf_token_clear(&ps->token);
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

