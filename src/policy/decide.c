/* policy_decide(): the pure match that the monitor, `privman check
 * --request` and the audit log all use. No system call, no allocation, no
 * credential: what a request may do follows from the validated policy and
 * the request alone. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/learn.h"
#include "policy/policy.h"

/* --- path rules ----------------------------------------------------------- */

static bool path_rule_matches(const struct path_rule *r, const char *path)
{
	if (r->match == PATH_MATCH_EXACT)
		return strcmp(r->path, path) == 0;
	/* r->dir_len is 0 for "/": then every absolute path starts with it. */
	if (strncmp(path, r->path, r->dir_len) != 0 || path[r->dir_len] != '/')
		return false;
	const char *rest = path + r->dir_len + 1;
	if (*rest == '\0')
		return false;
	return r->match == PATH_MATCH_SUBTREE || strchr(rest, '/') == NULL;
}

static const struct path_rule *path_rules_find(const struct path_rules *rules, const char *path)
{
	for (size_t i = 0; i < rules->count; i++)
		if (path_rule_matches(&rules->rules[i], path))
			return &rules->rules[i];
	return NULL;
}

/* A rule that grants every new entry directly in directory `dir` (what an
 * O_TMPFILE open creates): /dir/ *, or /above/ ** for dir at or below it. */
static const struct path_rule *path_rules_find_any_child(const struct path_rules *rules,
							 const char *dir)
{
	size_t len = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
	for (size_t i = 0; i < rules->count; i++) {
		const struct path_rule *r = &rules->rules[i];
		if (r->match == PATH_MATCH_CHILDREN && r->dir_len == len &&
		    strncmp(r->path, dir, len) == 0)
			return r;
		if (r->match == PATH_MATCH_SUBTREE && len >= r->dir_len &&
		    strncmp(r->path, dir, r->dir_len) == 0 &&
		    (dir[r->dir_len] == '/' || dir[r->dir_len] == '\0' || r->dir_len == 0))
			return r;
	}
	return NULL;
}

/* --- PAM services --------------------------------------------------------- */

int policy_service_canon(const char *name, char *out, size_t cap)
{
	size_t len = name ? strnlen(name, POLICY_SERVICE_MAX + 1) : 0;
	if (len == 0 || len > POLICY_SERVICE_MAX || len >= cap)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-+@", c)))
			return -1;
		out[i] = c;
	}
	out[len] = '\0';
	return strcmp(out, ".") == 0 || strcmp(out, "..") == 0 ? -1 : 0;
}

/* --- decisions ---------------------------------------------------------- */

const char *policy_op_name(enum policy_op op)
{
	switch (op) {
	case POLICY_OP_OPEN:
		return "open";
	case POLICY_OP_UNLINK:
		return "unlink";
	case POLICY_OP_BIND:
		return "bind";
	case POLICY_OP_RUN_AS:
		return "run_as";
	case POLICY_OP_AUTH:
		return "auth";
	case POLICY_OP_FORK:
		return "fork";
	case POLICY_OP_RERUN:
		return "rerun";
	case POLICY_OP_CUSTOM:
		return "custom";
	}
	return "unknown";
}

static void decided(struct policy_decision *out, bool allow, int error, const char *directive,
		    const char *rule, const struct origin *origin)
{
	out->allow = allow;
	out->error = allow ? 0 : error;
	out->directive = directive;
	out->rule = rule;
	out->origin = origin;
}

/* Flags an open may carry at all. O_PATH and O_ASYNC are not among them;
 * O_TMPFILE is checked on its own. */
#define OPEN_KNOWN_FLAGS                                                                      \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |  \
	 O_SYNC | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME | O_LARGEFILE | O_DIRECT |   \
	 O_TMPFILE)

enum open_need { NEED_READ_ONLY, NEED_APPEND_ONLY, NEED_READ_WRITE };

static const char *need_name(enum open_need need)
{
	return need == NEED_READ_ONLY ? "open_ro" : need == NEED_APPEND_ONLY ? "open_ao" : "open_rw";
}

/* Text built by appending, cut as snprintf cuts it: every granted request
 * writes a reason, and this costs a fraction of snprintf's "%s". */
struct text {
	char *p, *end; /* end: the last byte, kept for the NUL */
};

static struct text text_start(char *buf, size_t cap)
{
	struct text t = {buf, buf + cap - 1};
	*buf = '\0';
	return t;
}

static void text_put(struct text *t, const char *s)
{
	size_t n = strlen(s), room = (size_t)(t->end - t->p);
	if (n > room)
		n = room;
	memcpy(t->p, s, n);
	t->p += n;
	*t->p = '\0';
}

static void text_put_unsigned(struct text *t, unsigned v)
{
	char digits[12];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n && t->p < t->end)
		*t->p++ = digits[--n];
	*t->p = '\0';
}

static void describe_flags(int flags, char *buf, size_t len)
{
	int mode = flags & O_ACCMODE;
	struct text t = text_start(buf, len);
	text_put(&t, mode == O_RDONLY ? "O_RDONLY" : mode == O_WRONLY ? "O_WRONLY" : "O_RDWR");
	if (flags & O_APPEND)
		text_put(&t, "|O_APPEND");
	if (flags & O_CREAT)
		text_put(&t, "|O_CREAT");
	if (flags & O_TRUNC)
		text_put(&t, "|O_TRUNC");
	if ((flags & O_TMPFILE) == O_TMPFILE)
		text_put(&t, "|O_TMPFILE");
}

/* Which grant an open needs: an O_TMPFILE or anything that writes other
 * than by appending needs open_rw. */
static enum open_need open_need_of(int flags)
{
	if ((flags & O_TMPFILE) == O_TMPFILE)
		return NEED_READ_WRITE;
	if ((flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_CREAT)))
		return NEED_READ_ONLY;
	if ((flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND) && !(flags & O_TRUNC))
		return NEED_APPEND_ONLY;
	return NEED_READ_WRITE;
}

/* O_TMPFILE names a directory, in which a new unnamed file is made. */
static void decide_tmpfile(const struct policy *p, const struct policy_request *req,
			   struct policy_decision *out)
{
	const struct path_rule *r = path_rules_find_any_child(&p->open_rw, req->path);
	if (r) {
		snprintf(out->reason, sizeof(out->reason),
			 "an unnamed file in %s is granted by open_rw", req->path);
		decided(out, true, 0, "open_rw", r->path, &r->origin);
	} else {
		snprintf(out->reason, sizeof(out->reason),
			 "O_TMPFILE needs open_rw of %s/* or a /** above it", req->path);
		decided(out, false, EACCES, NULL, NULL, NULL);
	}
}

/* Refused: say which weaker grant matched, if any. */
static void refuse_open(const struct policy *p, const struct policy_request *req,
			enum open_need need, const char *how, struct policy_decision *out)
{
	const struct path_rule *r;
	const char *directive = NULL;
	if ((r = path_rules_find(&p->open_ro, req->path)))
		directive = "open_ro";
	else if ((r = path_rules_find(&p->open_ao, req->path)))
		directive = "open_ao";
	if (r) {
		snprintf(out->reason, sizeof(out->reason),
			 "%s is granted only by %s, and %s needs %s%s", req->path, directive, how,
			 need_name(need), need == NEED_APPEND_ONLY ? " or open_rw" : "");
		decided(out, false, EACCES, directive, r->path, &r->origin);
		return;
	}
	snprintf(out->reason, sizeof(out->reason), "no %s%s rule matches %s", need_name(need),
		 need == NEED_READ_WRITE ? "" : " or open_rw", req->path);
	decided(out, false, EACCES, NULL, NULL, NULL);
}

static void decide_open(const struct policy *p, const struct policy_request *req,
			struct policy_decision *out)
{
	int flags = req->flags;
	if (flags & ~OPEN_KNOWN_FLAGS) {
		snprintf(out->reason, sizeof(out->reason),
			 "open flags 0x%x are not allowed (O_PATH, O_ASYNC and unknown flags are "
			 "refused)",
			 (unsigned)(flags & ~OPEN_KNOWN_FLAGS));
		decided(out, false, EINVAL, NULL, NULL, NULL);
		return;
	}
	if ((flags & O_ACCMODE) == O_ACCMODE) {
		snprintf(out->reason, sizeof(out->reason), "invalid access mode O_ACCMODE");
		decided(out, false, EINVAL, NULL, NULL, NULL);
		return;
	}
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		decide_tmpfile(p, req, out);
		return;
	}
	enum open_need need = open_need_of(flags);
	char how[96];
	describe_flags(flags, how, sizeof(how));
	const struct path_rule *r = NULL;
	const char *directive = NULL;
	if (need == NEED_READ_ONLY && (r = path_rules_find(&p->open_ro, req->path)))
		directive = "open_ro";
	else if (need == NEED_APPEND_ONLY && (r = path_rules_find(&p->open_ao, req->path)))
		directive = "open_ao";
	else if ((r = path_rules_find(&p->open_rw, req->path)))
		directive = "open_rw";
	if (!r) {
		refuse_open(p, req, need, how, out);
		return;
	}
	struct text t = text_start(out->reason, sizeof(out->reason));
	text_put(&t, how);
	text_put(&t, " ");
	text_put(&t, req->path);
	text_put(&t, " is granted by ");
	text_put(&t, directive);
	decided(out, true, 0, directive, r->path, &r->origin);
}

static void decide_unlink(const struct policy *p, const struct policy_request *req,
			  struct policy_decision *out)
{
	const struct path_rule *r = path_rules_find(&p->unlink, req->path);
	if (r) {
		struct text t = text_start(out->reason, sizeof(out->reason));
		text_put(&t, "unlink of ");
		text_put(&t, req->path);
		text_put(&t, " is granted");
		decided(out, true, 0, "unlink", r->path, &r->origin);
	} else {
		snprintf(out->reason, sizeof(out->reason), "no unlink rule matches %s", req->path);
		decided(out, false, EACCES, NULL, NULL, NULL);
	}
}

static bool bind_rule_matches(const struct bind_rule *r, const struct policy_request *req)
{
	if (!r->any_port && r->port != req->port)
		return false;
	if (r->family == AF_UNSPEC)
		return true;
	if (r->family != req->family)
		return false;
	if (r->family == AF_INET)
		return r->addr4.s_addr == req->addr4.s_addr;
	return memcmp(&r->addr6, &req->addr6, sizeof(r->addr6)) == 0;
}

static void decide_bind(const struct policy *p, const struct policy_request *req,
			struct policy_decision *out)
{
	char address[INET6_ADDRSTRLEN] = "?";
	if (req->family == AF_INET)
		inet_ntop(AF_INET, &req->addr4, address, sizeof(address));
	else if (req->family == AF_INET6)
		inet_ntop(AF_INET6, &req->addr6, address, sizeof(address));
	else {
		snprintf(out->reason, sizeof(out->reason),
			 "bind is granted only for IPv4 and IPv6 sockets");
		decided(out, false, EACCES, NULL, NULL, NULL);
		return;
	}
	bool v6 = req->family == AF_INET6;
	char where[INET6_ADDRSTRLEN + 16];
	struct text w = text_start(where, sizeof(where));
	text_put(&w, v6 ? "[" : "");
	text_put(&w, address);
	text_put(&w, v6 ? "]:" : ":");
	text_put_unsigned(&w, (unsigned)req->port);
	/* A rule never names port 0, and `*` does not grant it either: a
	 * program binds an ephemeral port itself. */
	if (req->port == 0) {
		snprintf(out->reason, sizeof(out->reason),
			 "bind to %s is refused: port 0 is never granted; a program binds an "
			 "ephemeral port itself",
			 where);
		decided(out, false, EACCES, NULL, NULL, NULL);
		return;
	}
	for (size_t i = 0; i < p->bind.count; i++) {
		const struct bind_rule *r = &p->bind.rules[i];
		if (bind_rule_matches(r, req)) {
			struct text t = text_start(out->reason, sizeof(out->reason));
			text_put(&t, "bind to ");
			text_put(&t, where);
			text_put(&t, " is granted");
			decided(out, true, 0, "bind", r->text, &r->origin);
			return;
		}
	}
	snprintf(out->reason, sizeof(out->reason), "no bind rule matches %s", where);
	decided(out, false, EACCES, NULL, NULL, NULL);
}

/* A chroot as a comparable key: no chroot and "/" are the same. */
static const char *chroot_key(const char *chroot)
{
	return chroot && strcmp(chroot, "/") != 0 ? chroot : NULL;
}

static bool same_chroot(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const struct runas_rule *runas_rules_find(const struct runas_rules *rules, uid_t uid)
{
	for (size_t i = 0; i < rules->count; i++) {
		const struct runas_rule *r = &rules->rules[i];
		if (r->any_nonroot ? uid != 0 : r->uid == uid)
			return r;
	}
	return NULL;
}

/* The run scopes: a program, users and a chroot that go together. True
 * when they decided: a scope grants the request, or scopes name the
 * program and none grants it (run_as then grants nothing more for it). */
static bool decide_run_scopes(const struct policy *p, const struct policy_request *req,
			      const char *want, const char *target, struct policy_decision *out)
{
	bool program_named = false;
	for (size_t i = 0; i < p->run.count; i++) {
		const struct run_rule *r = &p->run.rules[i];
		if (r->has_program) {
			if (!req->program || !path_rule_matches(&r->program, req->program))
				continue;
			program_named = true;
		}
		if (!same_chroot(chroot_key(r->chroot.text), want))
			continue;
		const struct runas_rule *u = runas_rules_find(&r->users, req->uid);
		if (u) {
			snprintf(out->reason, sizeof(out->reason), "%s is granted by a run scope",
				 target);
			decided(out, true, 0, "run", r->has_program ? r->program.path : u->name,
				&r->origin);
			out->run = r;
			return true;
		}
	}
	if (!program_named)
		return false;
	snprintf(out->reason, sizeof(out->reason),
		 "%s is refused: a run scope names this program, and none of its scopes "
		 "grants that user in that chroot",
		 target);
	decided(out, false, EPERM, NULL, NULL, NULL);
	return true;
}

/* priv_rerunas as a user who passed PAM in this run (auth_allow_rerun). */
static bool authenticated_rerun(const struct policy *p, const struct policy_request *req)
{
	if (req->program || !p->auth_allow_rerun.value || req->uid == 0)
		return false;
	for (size_t i = 0; i < req->authenticated_count; i++)
		if (req->authenticated[i] == req->uid)
			return true;
	return false;
}

static void decide_run_as(const struct policy *p, const struct policy_request *req,
			  struct policy_decision *out)
{
	const char *own = chroot_key(p->security.chroot.text);
	const char *want = req->chroot ? chroot_key(req->chroot) : own;
	char target[200];
	snprintf(target, sizeof(target), "%s%s as %s (uid %u) %s%s",
		 req->program ? "running " : "running", req->program ? req->program : "",
		 req->user ? req->user : "that user", (unsigned)req->uid,
		 want ? "in chroot " : "without a chroot", want ? want : "");
	if (decide_run_scopes(p, req, want, target, out))
		return;

	/* run_as grants its users in the policy's own chroot only. */
	const struct runas_rule *u = runas_rules_find(&p->run_as, req->uid);
	if (u && same_chroot(want, own)) {
		snprintf(out->reason, sizeof(out->reason), "%s is granted%s", target,
			 u->any_nonroot ? " ('*': any user but root)" : "");
		decided(out, true, 0, "run_as", u->name, &u->origin);
		return;
	}
	if (same_chroot(want, own) && authenticated_rerun(p, req)) {
		snprintf(out->reason, sizeof(out->reason),
			 "%s is granted: the user authenticated through PAM", target);
		decided(out, true, 0, "auth_allow_rerun", "true", &p->auth_allow_rerun.origin);
		return;
	}
	if (u)
		snprintf(out->reason, sizeof(out->reason),
			 "%s is refused: run_as grants %s only %s%s; a run scope can grant "
			 "another chroot",
			 target, u->name, own ? "in chroot " : "without a chroot", own ? own : "");
	else
		snprintf(out->reason, sizeof(out->reason), "%s is refused: no run_as rule names %s%s",
			 target, req->user ? req->user : "that user",
			 req->uid == 0 ? "; '*' never means root" : "");
	decided(out, false, EPERM, u ? "run_as" : NULL, u ? u->name : NULL, u ? &u->origin : NULL);
}

static void decide_bool(const struct policy_bool *b, const char *directive,
			struct policy_decision *out)
{
	if (b->value) {
		snprintf(out->reason, sizeof(out->reason), "%s is true", directive);
		decided(out, true, 0, directive, "true", &b->origin);
	} else {
		snprintf(out->reason, sizeof(out->reason), "%s is %s", directive,
			 b->set ? "false" : "off unless the policy sets it to true");
		decided(out, false, EPERM, b->set ? directive : NULL, b->set ? "false" : NULL,
			b->set ? &b->origin : NULL);
	}
}

/* Custom functions are refused unless `custom` names the handle, or is `*`
 * (the original ran any of them with no check at all). */
static void decide_custom(const struct policy *p, const struct policy_request *req,
			  struct policy_decision *out)
{
	for (size_t i = 0; i < p->custom.count; i++) {
		const struct custom_rule *r = &p->custom.rules[i];
		if (r->any || r->handle == req->handle) {
			snprintf(out->reason, sizeof(out->reason), "custom function %d is granted",
				 (int)req->handle);
			decided(out, true, 0, "custom", r->text, &r->origin);
			return;
		}
	}
	if (p->custom.count)
		snprintf(out->reason, sizeof(out->reason), "no custom rule names function %d",
			 (int)req->handle);
	else
		snprintf(out->reason, sizeof(out->reason),
			 "custom functions are refused unless the policy names them (custom)");
	decided(out, false, EPERM, NULL, NULL, NULL);
}

static const struct policy_value *auth_service_find(const struct policy *p, const char *service)
{
	for (size_t i = 0; i < p->auth_service_count; i++)
		if (strcmp(p->auth_services[i].text, service) == 0)
			return &p->auth_services[i];
	return NULL;
}

/* A PAM service: granted when `auth { ... }` names it, or when it is the
 * application's own and `auth true` is set. The name is compared as PAM
 * will use it. Without a service: whether any service may be used. */
static void decide_auth(const struct policy *p, const struct policy_request *req,
			struct policy_decision *out)
{
	char service[POLICY_SERVICE_MAX + 1], app[POLICY_SERVICE_MAX + 1];
	bool own = p->auth.value && policy_service_canon(req->app, app, sizeof(app)) == 0;
	if (!req->service) {
		/* Without an application name (privman check), `auth true`
		 * counts: it grants the one the program will have. */
		if (p->auth_service_count || own || (p->auth.value && !req->app)) {
			own = own || p->auth.value;
			snprintf(out->reason, sizeof(out->reason),
				 "auth grants %zu PAM service%s%s", p->auth_service_count + own,
				 p->auth_service_count + own == 1 ? "" : "s",
				 p->auth.value ? " (auth true: the application's own)" : "");
			if (p->auth_service_count)
				decided(out, true, 0, "auth", p->auth_services[0].text,
					&p->auth_services[0].origin);
			else
				decided(out, true, 0, "auth", "true", &p->auth.origin);
			return;
		}
		decide_bool(&p->auth, "auth", out);
		return;
	}
	if (policy_service_canon(req->service, service, sizeof(service)) < 0) {
		snprintf(out->reason, sizeof(out->reason),
			 "a PAM service must be a plain name (letters, digits, . _ - + @; no '/', "
			 "not '.' or '..')");
		decided(out, false, EINVAL, NULL, NULL, NULL);
		return;
	}
	const struct policy_value *v = auth_service_find(p, service);
	if (v) {
		snprintf(out->reason, sizeof(out->reason), "PAM service %s is granted", service);
		decided(out, true, 0, "auth", v->text, &v->origin);
		return;
	}
	if (own && strcmp(app, service) == 0) {
		snprintf(out->reason, sizeof(out->reason),
			 "PAM service %s is the application's own, granted by auth true", service);
		decided(out, true, 0, "auth", "true", &p->auth.origin);
		return;
	}
	if (p->auth.value)
		snprintf(out->reason, sizeof(out->reason),
			 "PAM service %.100s is not granted: auth true grants only the "
			 "application's own service%s%.100s%s, and no auth { } list names it",
			 service, own ? " (" : "", own ? app : "", own ? ")" : "");
	else
		snprintf(out->reason, sizeof(out->reason),
			 "PAM service %s is not granted: no auth { } list names it", service);
	decided(out, false, EPERM, p->auth.set ? "auth" : NULL,
		p->auth.set ? (p->auth.value ? "true" : "false") : NULL,
		p->auth.set ? &p->auth.origin : NULL);
}

static void decide(const struct policy *p, const struct policy_request *req,
		   struct policy_decision *out)
{
	out->error = EACCES;
	if ((req->op == POLICY_OP_OPEN || req->op == POLICY_OP_UNLINK) &&
	    (!req->path || req->path[0] != '/')) {
		snprintf(out->reason, sizeof(out->reason), "not an absolute path");
		return;
	}
	switch (req->op) {
	case POLICY_OP_OPEN:
		decide_open(p, req, out);
		return;
	case POLICY_OP_UNLINK:
		decide_unlink(p, req, out);
		return;
	case POLICY_OP_BIND:
		decide_bind(p, req, out);
		return;
	case POLICY_OP_RUN_AS:
		decide_run_as(p, req, out);
		return;
	case POLICY_OP_AUTH:
		decide_auth(p, req, out);
		return;
	case POLICY_OP_FORK:
		decide_bool(&p->fork, "fork", out);
		return;
	case POLICY_OP_RERUN:
		decide_bool(&p->allow_rerun, "allow_rerun", out);
		return;
	case POLICY_OP_CUSTOM:
		decide_custom(p, req, out);
		return;
	}
	snprintf(out->reason, sizeof(out->reason), "unknown operation");
}

void policy_decide(const struct policy *p, const struct policy_request *req,
		   struct policy_decision *out)
{
	/* reason and learned_rule are large, and read only up to their NUL:
	 * not cleared per request. */
	memset(out, 0, offsetof(struct policy_decision, reason));
	out->reason[0] = '\0';
	out->learned = false;
	out->learned_rule[0] = '\0';
	decide(p, req, out);
	if (p->learn && !out->allow)
		policy_learn(p, req, out);
}
