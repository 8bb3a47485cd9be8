/* Learning: the rule that would grant a refused request (see learn.h). */
#include "policy/learn.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

bool policy_value_writable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

int policy_value_write(const char *s, bool always_quote, char *out, size_t cap)
{
	/* A control byte the language has no escape for would be written raw:
	 * a \r or an ESC in the policy file reaches whoever reads it on a
	 * terminal, and may hide or forge the lines around it. */
	if (!policy_value_writable(s))
		return -1;
	bool bare = !always_quote && *s != '\0';
	for (const char *p = s; *p && bare; p++)
		bare = isalnum((unsigned char)*p) || strchr("/._-:+,@", *p);
	size_t o = 0;
	if (!bare && o < cap)
		out[o++] = '"';
	for (const char *p = s; *p; p++) {
		char esc = bare ? 0 : *p == '"' ? '"' : *p == '\\' ? '\\' : *p == '\n' ? 'n'
					: *p == '\t' ? 't' : 0;
		if (esc && o + 1 < cap) {
			out[o++] = '\\';
			out[o++] = esc;
		} else if (!esc && o < cap) {
			out[o++] = *p;
		} else {
			return -1;
		}
	}
	if (!bare && o < cap)
		out[o++] = '"';
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* Append "directive value" to the learned rule; returns 0 or -1. */
static int put(struct policy_decision *out, size_t *used, const char *text)
{
	size_t cap = sizeof(out->learned_rule);
	size_t n = strlen(text);
	if (*used + n >= cap)
		return -1;
	memcpy(out->learned_rule + *used, text, n + 1);
	*used += n;
	return 0;
}

static int put_value(struct policy_decision *out, size_t *used, const char *value, bool quote)
{
	size_t cap = sizeof(out->learned_rule);
	int n = policy_value_write(value, quote, out->learned_rule + *used, cap - *used);
	if (n < 0)
		return -1;
	*used += (size_t)n;
	return 0;
}

static void __attribute__((format(printf, 2, 3)))
not_learned(struct policy_decision *out, const char *fmt, ...)
{
	size_t n = strlen(out->reason);
	va_list ap;
	va_start(ap, fmt);
	if (n < sizeof(out->reason))
		vsnprintf(out->reason + n, sizeof(out->reason) - n, fmt, ap);
	va_end(ap);
	out->learned_rule[0] = '\0';
}

/* An exact path rule can name any real path but one with a '*': that
 * element would be a wildcard. */
static int path_rule(struct policy_decision *out, const char *directive, const char *path,
		     const char *suffix)
{
	size_t used = 0;
	char buf[4096 + 8];
	if (strchr(path, '*'))
		return -1;
	if (snprintf(buf, sizeof(buf), "%s%s", strcmp(path, "/") == 0 && *suffix ? "" : path,
		     suffix) >= (int)sizeof(buf))
		return -1;
	if (put(out, &used, directive) < 0 || put(out, &used, " ") < 0)
		return -1;
	return put_value(out, &used, buf, true);
}

static int learn_open(const struct policy_request *req, struct policy_decision *out)
{
	int flags = req->flags;
	if ((flags & O_TMPFILE) == O_TMPFILE) /* a file in the directory `path` */
		return path_rule(out, "open_rw", req->path, "/*");
	const char *directive = "open_rw";
	if ((flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_CREAT)))
		directive = "open_ro";
	else if ((flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND) && !(flags & O_TRUNC))
		directive = "open_ao";
	return path_rule(out, directive, req->path, "");
}

static int learn_bind(const struct policy_request *req, struct policy_decision *out)
{
	char address[INET6_ADDRSTRLEN];
	const void *a = req->family == AF_INET ? (const void *)&req->addr4
					       : (const void *)&req->addr6;
	if (!inet_ntop(req->family, a, address, sizeof(address)))
		return -1;
	bool v6 = req->family == AF_INET6;
	int n = snprintf(out->learned_rule, sizeof(out->learned_rule), "bind %s%s%s:%u",
			 v6 ? "[" : "", address, v6 ? "]" : "", (unsigned)req->port);
	return n > 0 && (size_t)n < sizeof(out->learned_rule) ? 0 : -1;
}

/* `run_as USER` for a rerun in the policy's own chroot; otherwise the run
 * scope of exactly that program, user and chroot. */
static int learn_run_as(const struct policy *p, const struct policy_request *req,
			struct policy_decision *out)
{
	const char *own = p->security.chroot.text;
	const char *want = req->chroot ? req->chroot : own;
	if (want && strcmp(want, "/") == 0)
		want = NULL;
	if (own && strcmp(own, "/") == 0)
		own = NULL;
	bool same = want == own || (want && own && strcmp(want, own) == 0);
	size_t used = 0;
	if (!req->user || !req->user[0] || strchr(req->user, '*'))
		return -1;
	if (!req->program && same)
		return put(out, &used, "run_as ") < 0 ? -1 : put_value(out, &used, req->user, false);
	if (put(out, &used, "run {") < 0)
		return -1;
	if (req->program && (strchr(req->program, '*') || put(out, &used, " program ") < 0 ||
			     put_value(out, &used, req->program, true) < 0))
		return -1;
	if (put(out, &used, " user ") < 0 || put_value(out, &used, req->user, false) < 0)
		return -1;
	if (want && (put(out, &used, " chroot ") < 0 || put_value(out, &used, want, true) < 0))
		return -1;
	return put(out, &used, " }");
}

static int learn_auth(const struct policy_request *req, struct policy_decision *out)
{
	char service[POLICY_SERVICE_MAX + 1];
	if (!req->service) /* may any service be used: the one asked next says which */
		return 0;
	if (policy_service_canon(req->service, service, sizeof(service)) < 0)
		return -1;
	int n = snprintf(out->learned_rule, sizeof(out->learned_rule), "auth { %s }", service);
	return n > 0 && (size_t)n < sizeof(out->learned_rule) ? 0 : -1;
}

static int learn_rule(const struct policy *p, const struct policy_request *req,
		      struct policy_decision *out)
{
	switch (req->op) {
	case POLICY_OP_OPEN:
		return learn_open(req, out);
	case POLICY_OP_UNLINK:
		return path_rule(out, "unlink", req->path, "");
	case POLICY_OP_BIND:
		return learn_bind(req, out);
	case POLICY_OP_RUN_AS:
		return learn_run_as(p, req, out);
	case POLICY_OP_AUTH:
		return learn_auth(req, out);
	case POLICY_OP_FORK:
		snprintf(out->learned_rule, sizeof(out->learned_rule), "fork true");
		return 0;
	case POLICY_OP_RERUN:
		snprintf(out->learned_rule, sizeof(out->learned_rule), "allow_rerun true");
		return 0;
	case POLICY_OP_CUSTOM:
		snprintf(out->learned_rule, sizeof(out->learned_rule), "custom %d",
			 (int)req->handle);
		return 0;
	}
	return -1;
}

void policy_learn(const struct policy *p, const struct policy_request *req,
		  struct policy_decision *out)
{
	/* Only the policy's refusals: a malformed request stays refused. */
	if (out->allow || (out->error != EACCES && out->error != EPERM))
		return;
	if ((req->op == POLICY_OP_OPEN || req->op == POLICY_OP_UNLINK) &&
	    (!req->path || req->path[0] != '/'))
		return;
	if (req->op == POLICY_OP_BIND &&
	    ((req->family != AF_INET && req->family != AF_INET6) || req->port == 0))
		return;
	if (req->op == POLICY_OP_RUN_AS && req->uid == 0) {
		not_learned(out, "; learning never grants running as root");
		return;
	}
	if ((req->path && !policy_value_writable(req->path)) ||
	    (req->program && !policy_value_writable(req->program)) ||
	    (req->chroot && !policy_value_writable(req->chroot)) ||
	    (req->user && !policy_value_writable(req->user))) {
		not_learned(out, "; learning never writes a control character (the policy "
				 "language has no escape for it)");
		return;
	}
	if (learn_rule(p, req, out) < 0) {
		not_learned(out, "; learning cannot write a rule for it");
		return;
	}
	size_t n = strlen(out->reason);
	snprintf(out->reason + n, sizeof(out->reason) - n, "; granted while learning");
	out->allow = true;
	out->error = 0;
	out->learned = true;
	out->directive = "learned";
	out->rule = out->learned_rule;
	out->origin = NULL;
	out->run = NULL;
}
