/* Validation of the language: what a policy's values mean, checked without
 * the system's user, group or file databases (those are
 * scope/resolve_scope.c). Paths are absolute and clean, ports in range,
 * names well formed, and `unpriv_user` and `chroot` agree with the
 * security scope. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/envfilter.h"
#include "policy/policy.h"

/* --- paths -------------------------------------------------------------- */

/* Check that `path` is absolute and lexically clean: no empty, "." or ".."
 * element, no trailing slash. With `wildcards`, a last element of "*" or
 * "**" is allowed and reported in *match. Returns NULL or a reason. */
const char *policy_path_check(const char *path, bool wildcards, enum path_match *match)
{
	if (match)
		*match = PATH_MATCH_EXACT;
	if (path[0] != '/')
		return "is not an absolute path (it must start with '/')";
	if (strlen(path) >= PATH_MAX)
		return "is longer than PATH_MAX";
	if (strcmp(path, "/") == 0)
		return NULL;
	const char *element = path + 1;
	for (;;) {
		const char *end = strchr(element, '/');
		size_t len = end ? (size_t)(end - element) : strlen(element);
		if (len == 0)
			return end ? "contains an empty element ('//')"
				   : "ends with '/' (name the file, or use /dir/* or /dir/**)";
		if (len == 1 && element[0] == '.')
			return "contains a '.' element; write the path without it";
		if (len == 2 && element[0] == '.' && element[1] == '.')
			return "contains a '..' element; write the real path";
		bool star = memchr(element, '*', len) != NULL;
		if (star) {
			bool whole = element[0] == '*' && (len == 1 || (len == 2 && element[1] == '*'));
			if (!wildcards)
				return "contains '*', which is not allowed here";
			if (!whole || end)
				return "has '*' other than as the whole last element "
				       "(only /dir/* and /dir/** are wildcards)";
			if (match)
				*match = len == 1 ? PATH_MATCH_CHILDREN : PATH_MATCH_SUBTREE;
		}
		if (!end)
			return NULL;
		element = end + 1;
	}
}

static int validate_path_rule(struct path_rule *r, const char *directive, struct diag *d)
{
	const char *why = policy_path_check(r->path, true, &r->match);
	if (why) {
		diag_error(d, &r->origin, "%s path \"%s\" %s", directive, r->path, why);
		return -1;
	}
	free(r->dir);
	r->dir = NULL;
	r->dir_len = 0;
	if (r->match != PATH_MATCH_EXACT) {
		const char *slash = strrchr(r->path, '/');
		size_t len = (size_t)(slash - r->path);
		r->dir = len ? strndup(r->path, len) : strdup("/");
		if (!r->dir) {
			diag_error(d, &r->origin, "out of memory");
			return -1;
		}
		r->dir_len = len;
	}
	return 0;
}

static int validate_path_rules(struct path_rules *rules, const char *directive, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < rules->count; i++)
		if (validate_path_rule(&rules->rules[i], directive, d) < 0)
			rc = -1;
	return rc;
}

/* --- ports -------------------------------------------------------------- */

static const char *parse_port(const char *text, bool *any, uint16_t *port)
{
	*any = false;
	if (strcmp(text, "*") == 0) {
		*any = true;
		return NULL;
	}
	if (*text == '\0')
		return "has no port";
	if (strspn(text, "0123456789") == strlen(text)) {
		if (strlen(text) > 5 || atoi(text) > 65535)
			return "is not a port number (1-65535)";
		int value = atoi(text);
		if (value == 0)
			/* The original Privman read port 0 as any port; say
			 * so rather than guess which was meant. */
			return "names port 0: for any port write * (the original Privman "
			       "read 0 so); a program binds an ephemeral port without a rule";
		*port = (uint16_t)value;
		return NULL;
	}
	struct servent *s = getservbyname(text, "tcp");
	if (!s)
		s = getservbyname(text, "udp");
	if (!s)
		return "is neither a port number nor a service name in /etc/services";
	*port = ntohs((uint16_t)s->s_port);
	return NULL;
}

/* "25", "smtp", "*", "127.0.0.1:25", "[::1]:25", "*:25", "10.0.0.1:*". */
static const char *parse_bind(struct bind_rule *r)
{
	const char *text = r->text;
	r->family = AF_UNSPEC;
	char address[INET6_ADDRSTRLEN + 2];
	const char *port = text;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return "has '[' without ']:port' (write [address]:port)";
		size_t len = (size_t)(close - text - 1);
		if (len >= sizeof(address))
			return "has an IPv6 address that is too long";
		memcpy(address, text + 1, len);
		address[len] = '\0';
		if (inet_pton(AF_INET6, address, &r->addr6) != 1)
			return "has an invalid IPv6 address";
		r->family = AF_INET6;
		port = close + 2;
	} else if (strchr(text, ':')) {
		const char *colon = strrchr(text, ':');
		size_t len = (size_t)(colon - text);
		if (len >= sizeof(address))
			return "has an address that is too long";
		memcpy(address, text, len);
		address[len] = '\0';
		if (strchr(address, ':'))
			return "has an IPv6 address without brackets (write [address]:port)";
		if (strcmp(address, "*") == 0)
			r->family = AF_UNSPEC;
		else if (inet_pton(AF_INET, address, &r->addr4) == 1)
			r->family = AF_INET;
		else
			return "has an address that is not a numeric IPv4 address, [IPv6] or '*'";
		port = colon + 1;
	}
	return parse_port(port, &r->any_port, &r->port);
}

/* --- validation --------------------------------------------------------- */

/* `unpriv_user` is `security { user }` and `chroot` is `security { chroot }`:
 * the same value twice is fine, two different values are an error. */
static int fold_scalar(struct policy_value *top, const char *top_name, struct policy_value *scoped,
		       const char *scoped_name, struct diag *d)
{
	if (!top->text)
		return 0;
	if (!scoped->text) {
		if (policy_value_copy(scoped, top) == 0)
			return 0;
		diag_error(d, NULL, "out of memory");
		return -1;
	}
	if (strcmp(top->text, scoped->text) == 0)
		return 0;
	char where[512];
	diag_error(d, &top->origin,
		   "%s \"%s\" disagrees with security { %s \"%s\" } at %s; they are the same "
		   "setting: give one value",
		   top_name, top->text, scoped_name, scoped->text,
		   origin_format(&scoped->origin, where, sizeof(where)));
	return -1;
}

static int validate_runas_rules(struct runas_rules *rules, const char *directive, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < rules->count; i++) {
		struct runas_rule *r = &rules->rules[i];
		r->any_nonroot = strcmp(r->name, "*") == 0;
		if (!r->any_nonroot && (r->name[0] == '\0' || strchr(r->name, '*'))) {
			diag_error(d, &r->origin,
				   "%s \"%s\" is not a user name ('*' alone means any user but "
				   "root)",
				   directive, r->name);
			rc = -1;
		}
	}
	return rc;
}

/* Variables through which common interpreters load code the caller
 * chooses: passing one lets the caller run its code as the target. */
static const char *const code_loading_env[] = {
	"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PERL5LIB", "PERL5OPT", "PERLLIB",
	"RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS",
	"LUA_PATH", "LUA_CPATH", "GIT_EXEC_PATH", NULL,
};

static int validate_run_env(const struct run_rule *r, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < r->env_count; i++) {
		const struct policy_value *v = &r->env[i];
		size_t len = strlen(v->text);
		if (!env_pattern_valid(v->text)) {
			diag_error(d, &v->origin,
				   "run { env } \"%s\" is not a variable name (letters, digits and "
				   "'_', not first a digit), NAME* or *",
				   v->text);
			rc = -1;
		} else if (v->text[len - 1] != '*' && env_never_passed(v->text, len)) {
			diag_error(d, &v->origin,
				   "run { env } %s is never passed: glibc ignores it in set-id "
				   "programs (or a shell runs code from it), and a program started "
				   "as another user is treated alike",
				   v->text);
			rc = -1;
		} else if (strcmp(v->text, "*") == 0) {
			diag_warn(d, &v->origin,
				  "run { env * } passes every variable the caller chooses (but those "
				  "glibc drops for set-id programs): the program must be safe with a "
				  "hostile environment, as a set-id program must");
		} else {
			for (size_t j = 0; code_loading_env[j]; j++)
				if (strcmp(v->text, code_loading_env[j]) == 0)
					diag_warn(d, &v->origin,
						  "run { env } %s lets the caller choose code that "
						  "an interpreter runs as the target user",
						  v->text);
		}
	}
	return rc;
}

static int validate_run_rule(struct run_rule *r, struct diag *d)
{
	int rc = 0;
	if (r->users.count == 0) {
		diag_error(d, &r->origin,
			   "this run scope names no user: add user { NAME ... } ('*' for any user "
			   "but root)");
		rc = -1;
	}
	if (validate_runas_rules(&r->users, "run { user }", d) < 0)
		rc = -1;
	if (r->has_program && validate_path_rule(&r->program, "run { program }", d) < 0)
		rc = -1;
	if (validate_run_env(r, d) < 0)
		rc = -1;
	if (r->chroot.text) {
		const char *why = policy_path_check(r->chroot.text, false, NULL);
		if (why) {
			diag_error(d, &r->chroot.origin, "chroot \"%s\" %s", r->chroot.text, why);
			rc = -1;
		}
	}
	return rc;
}

/* A number of 1 to `max` digits' worth, without sign, spaces or leading
 * zeros (but "0"); -1 when it is not one or is above `max`. */
static long parse_small_number(const char *text, long max)
{
	if (!text[0] || (text[0] == '0' && text[1]))
		return -1;
	long v = 0;
	for (const char *c = text; *c; c++) {
		if (*c < '0' || *c > '9')
			return -1;
		v = v * 10 + (*c - '0');
		if (v > max)
			return -1;
	}
	return v;
}

/* `custom { 0 1 }`, `custom *`, and `custom_timeout SECONDS`. */
static int validate_custom(struct policy *p, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < p->custom.count; i++) {
		struct custom_rule *r = &p->custom.rules[i];
		if (strcmp(r->text, "*") == 0) {
			r->any = true;
			continue;
		}
		long v = parse_small_number(r->text, POLICY_CUSTOM_HANDLES - 1);
		if (v < 0) {
			diag_error(d, &r->origin,
				   "custom \"%s\" is neither the handle of a registered function "
				   "(0 to %d, in the order the program registers them) nor '*'",
				   r->text, POLICY_CUSTOM_HANDLES - 1);
			rc = -1;
			continue;
		}
		r->handle = (int32_t)v;
	}
	p->custom_timeout_s = 0;
	if (p->custom_timeout.text) {
		long v = parse_small_number(p->custom_timeout.text, POLICY_CUSTOM_TIMEOUT_MAX);
		if (v < 1) {
			diag_error(d, &p->custom_timeout.origin,
				   "custom_timeout \"%s\" is not a number of seconds from 1 to %d",
				   p->custom_timeout.text, POLICY_CUSTOM_TIMEOUT_MAX);
			rc = -1;
		} else {
			p->custom_timeout_s = (unsigned)v;
		}
	}
	return rc;
}

/* --- PAM services --------------------------------------------------------- */

/* Each name of `auth { ... }` is a plain PAM service name, written as PAM
 * will use it: never a path, never a way out of /etc/pam.d. */
static int validate_auth_services(const struct policy *p, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < p->auth_service_count; i++) {
		const struct policy_value *v = &p->auth_services[i];
		char canon[POLICY_SERVICE_MAX + 1];
		if (policy_service_canon(v->text, canon, sizeof(canon)) < 0) {
			diag_error(d, &v->origin,
				   "auth \"%s\" is not a PAM service name: a plain name of "
				   "letters, digits and . _ - + @ (no '/', not '.' or '..'), as in "
				   "/etc/pam.d/NAME",
				   v->text);
			rc = -1;
		} else if (strcmp(canon, v->text) != 0) {
			diag_error(d, &v->origin,
				   "auth \"%s\": PAM lowercases service names; write \"%s\"",
				   v->text, canon);
			rc = -1;
		}
	}
	return rc;
}

int policy_validate_syntax(struct policy *p, struct diag *d)
{
	int rc = 0;
	if (validate_path_rules(&p->open_ro, "open_ro", d) < 0)
		rc = -1;
	if (validate_path_rules(&p->open_rw, "open_rw", d) < 0)
		rc = -1;
	if (validate_path_rules(&p->open_ao, "open_ao", d) < 0)
		rc = -1;
	if (validate_path_rules(&p->unlink, "unlink", d) < 0)
		rc = -1;
	for (size_t i = 0; i < p->bind.count; i++) {
		struct bind_rule *r = &p->bind.rules[i];
		const char *why = parse_bind(r);
		if (why) {
			diag_error(d, &r->origin, "bind \"%s\" %s", r->text, why);
			rc = -1;
		}
	}
	if (validate_runas_rules(&p->run_as, "run_as", d) < 0)
		rc = -1;
	if (validate_custom(p, d) < 0)
		rc = -1;
	for (size_t i = 0; i < p->run.count; i++)
		if (validate_run_rule(&p->run.rules[i], d) < 0)
			rc = -1;
	if (fold_scalar(&p->unpriv_user, "unpriv_user", &p->security.user, "user", d) < 0)
		rc = -1;
	if (fold_scalar(&p->chroot, "chroot", &p->security.chroot, "chroot", d) < 0)
		rc = -1;
	if (p->security.chroot.text) {
		const char *why = policy_path_check(p->security.chroot.text, false, NULL);
		if (why) {
			diag_error(d, &p->security.chroot.origin, "chroot \"%s\" %s",
				   p->security.chroot.text, why);
			rc = -1;
		}
	}
	if (policy_security_parse_capabilities(&p->security, d) < 0)
		rc = -1;
	if (validate_auth_services(p, d) < 0)
		rc = -1;
	if (policy_confine_validate(&p->confine, d) < 0)
		rc = -1;
	return rc;
}
