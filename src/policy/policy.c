/* The policy model: validation at load, and decide(), the pure match that
 * the monitor, `privman check --request` and the audit log all use. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scope/capmap.h"
#include "policy/conf.h"
#include "policy/envfilter.h"
#include "policy/learn.h"
#include "policy/policy.h"
#include "monitor/resolve.h"

/* --- life cycle --------------------------------------------------------- */

struct policy *policy_new(void)
{
	return calloc(1, sizeof(struct policy));
}

static void value_free(struct policy_value *v)
{
	free(v->text);
	v->text = NULL;
}

static void path_rules_free(struct path_rules *r)
{
	for (size_t i = 0; i < r->count; i++) {
		free(r->rules[i].path);
		free(r->rules[i].dir);
	}
	free(r->rules);
	memset(r, 0, sizeof(*r));
}

void policy_security_free(struct policy_security *s)
{
	value_free(&s->user);
	value_free(&s->group);
	value_free(&s->chroot);
	value_free(&s->capabilities);
	value_free(&s->privileges);
	for (size_t i = 0; i < s->supplemental_count; i++)
		value_free(&s->supplemental_groups[i]);
	free(s->supplemental_groups);
	free(s->gids);
	memset(s, 0, sizeof(*s));
}

static int value_copy(struct policy_value *dst, const struct policy_value *src)
{
	dst->origin = src->origin;
	dst->text = NULL;
	if (src->text && !(dst->text = strdup(src->text)))
		return -1;
	return 0;
}

int policy_security_copy(struct policy_security *dst, const struct policy_security *src)
{
	*dst = *src;
	dst->user.text = dst->group.text = dst->chroot.text = NULL;
	dst->capabilities.text = dst->privileges.text = NULL;
	dst->supplemental_groups = NULL;
	dst->supplemental_count = 0;
	dst->gids = NULL;
	dst->gid_count = 0;
	if (value_copy(&dst->user, &src->user) < 0 || value_copy(&dst->group, &src->group) < 0 ||
	    value_copy(&dst->chroot, &src->chroot) < 0 ||
	    value_copy(&dst->capabilities, &src->capabilities) < 0 ||
	    value_copy(&dst->privileges, &src->privileges) < 0)
		goto fail;
	if (src->supplemental_count) {
		dst->supplemental_groups =
			calloc(src->supplemental_count, sizeof(*dst->supplemental_groups));
		if (!dst->supplemental_groups)
			goto fail;
		for (size_t i = 0; i < src->supplemental_count; i++) {
			dst->supplemental_count++;
			if (value_copy(&dst->supplemental_groups[i], &src->supplemental_groups[i]) <
			    0)
				goto fail;
		}
	}
	if (src->gid_count) {
		dst->gids = calloc(src->gid_count, sizeof(*dst->gids));
		if (!dst->gids)
			goto fail;
		memcpy(dst->gids, src->gids, src->gid_count * sizeof(*dst->gids));
		dst->gid_count = src->gid_count;
	}
	return 0;
fail:
	policy_security_free(dst);
	errno = ENOMEM;
	return -1;
}

static bool text_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool policy_security_equal(const struct policy_security *a, const struct policy_security *b)
{
	if (a->uid != b->uid || a->gid != b->gid || a->gid_count != b->gid_count ||
	    a->cap_effective != b->cap_effective || a->cap_permitted != b->cap_permitted ||
	    a->cap_inheritable != b->cap_inheritable)
		return false;
	const char *ra = a->chroot.text && strcmp(a->chroot.text, "/") ? a->chroot.text : NULL;
	const char *rb = b->chroot.text && strcmp(b->chroot.text, "/") ? b->chroot.text : NULL;
	if (!text_equal(ra, rb))
		return false;
	/* Group lists are compared as sets. */
	for (size_t i = 0; i < a->gid_count; i++) {
		bool found = false;
		for (size_t j = 0; j < b->gid_count && !found; j++)
			found = a->gids[i] == b->gids[j];
		if (!found)
			return false;
	}
	return true;
}

void policy_run_rule_free(struct run_rule *r)
{
	free(r->program.path);
	free(r->program.dir);
	for (size_t i = 0; i < r->users.count; i++)
		free(r->users.rules[i].name);
	free(r->users.rules);
	free(r->chroot.text);
	for (size_t i = 0; i < r->env_count; i++)
		free(r->env[i].text);
	free(r->env);
	memset(r, 0, sizeof(*r));
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	path_rules_free(&p->open_ro);
	path_rules_free(&p->open_rw);
	path_rules_free(&p->open_ao);
	path_rules_free(&p->unlink);
	for (size_t i = 0; i < p->bind.count; i++)
		free(p->bind.rules[i].text);
	free(p->bind.rules);
	for (size_t i = 0; i < p->run_as.count; i++)
		free(p->run_as.rules[i].name);
	free(p->run_as.rules);
	for (size_t i = 0; i < p->run.count; i++)
		policy_run_rule_free(&p->run.rules[i]);
	free(p->run.rules);
	for (size_t i = 0; i < p->custom.count; i++)
		free(p->custom.rules[i].text);
	free(p->custom.rules);
	value_free(&p->custom_timeout);
	for (size_t i = 0; i < p->auth_service_count; i++)
		value_free(&p->auth_services[i]);
	free(p->auth_services);
	value_free(&p->unpriv_user);
	value_free(&p->chroot);
	policy_security_free(&p->security);
	for (size_t i = 0; i < p->file_count; i++)
		free(p->files[i]);
	free(p->files);
	free(p);
}

/* --- paths -------------------------------------------------------------- */

/* Check that `path` is absolute and lexically clean: no empty, "." or ".."
 * element, no trailing slash. With `wildcards`, a last element of "*" or
 * "**" is allowed and reported in *match. Returns NULL or a reason. */
static const char *path_check(const char *path, bool wildcards, enum path_match *match)
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
	const char *why = path_check(r->path, true, &r->match);
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

/* --- capabilities ------------------------------------------------------- */

int policy_parse_capabilities(const char *text, const struct origin *at, uint64_t *effective,
			      uint64_t *permitted, uint64_t *inheritable, struct diag *d)
{
	*effective = *permitted = *inheritable = 0;
	cap_t caps = cap_from_text(text);
	if (!caps) {
		/* Name the word libcap did not accept. */
		char *copy = strdup(text);
		const char *bad = NULL;
		char *save = NULL;
		for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w && !bad;
		     w = strtok_r(NULL, " \t", &save)) {
			cap_t one = cap_from_text(w);
			if (!one)
				bad = w;
			cap_free(one);
		}
		if (bad)
			diag_error(d, at,
				   "capabilities \"%s\": cannot parse \"%s\" (expected names "
				   "like cap_net_bind_service+ep; see cap_from_text(3))",
				   text, bad);
		else
			diag_error(d, at,
				   "capabilities \"%s\" is not a capability text (see "
				   "cap_from_text(3))",
				   text);
		free(copy);
		return -1;
	}
	int rc = 0;
	cap_value_t max = cap_max_bits();
	for (cap_value_t c = 0; c < max && c < 64; c++) {
		cap_flag_value_t v;
		if (cap_get_flag(caps, c, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET)
			*effective |= UINT64_C(1) << c;
		if (cap_get_flag(caps, c, CAP_PERMITTED, &v) == 0 && v == CAP_SET)
			*permitted |= UINT64_C(1) << c;
		if (cap_get_flag(caps, c, CAP_INHERITABLE, &v) == 0 && v == CAP_SET)
			*inheritable |= UINT64_C(1) << c;
	}
	if (*effective & ~*permitted) {
		diag_error(d, at,
			   "capabilities \"%s\": a capability cannot be effective without being "
			   "permitted (write +ep, not +e)",
			   text);
		rc = -1;
	}
	cap_free(caps);
	return rc;
}

static int security_parse_capabilities(struct policy_security *s, struct diag *d)
{
	int rc = 0;
	s->cap_effective = s->cap_permitted = s->cap_inheritable = 0;
	if (s->capabilities.text &&
	    policy_parse_capabilities(s->capabilities.text, &s->capabilities.origin,
				      &s->cap_effective, &s->cap_permitted, &s->cap_inheritable,
				      d) < 0)
		rc = -1;
	if (s->privileges.text) {
		uint64_t mask = 0;
		if (capmap_privileges(s->privileges.text, &s->privileges.origin, &mask, d) < 0)
			rc = -1;
		s->cap_effective |= mask;
		s->cap_permitted |= mask;
	}
	return rc;
}

const char *policy_cap_name(int cap, char *buf, size_t len)
{
	char *name = cap_to_name((cap_value_t)cap);
	snprintf(buf, len, "%s", name ? name : "?");
	cap_free(name);
	return buf;
}

/* --- the security scope ------------------------------------------------- */

static int resolve_chroot(const struct policy_value *v, struct diag *d)
{
	const char *why = path_check(v->text, false, NULL);
	if (why) {
		diag_error(d, &v->origin, "chroot \"%s\" %s", v->text, why);
		return -1;
	}
	/* Walked with no symlink, as the drop walks it (drop.c). */
	struct stat st;
	int fd = resolve_handle_clean(v->text);
	int rc = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		if (rc == -ENOENT)
			diag_error(d, &v->origin,
				   "chroot directory %s does not exist: create it (owned by root, "
				   "mode 0755) or fix the path",
				   v->text);
		else if (rc == -ELOOP)
			diag_error(d, &v->origin,
				   "chroot %s: a symlink is on the way; name the directory itself "
				   "(its real path)",
				   v->text);
		else if (rc == -ENOTDIR)
			diag_error(d, &v->origin, "chroot %s is not a directory", v->text);
		else
			diag_error(d, &v->origin, "chroot %s: %s", v->text, strerror(-rc));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		diag_error(d, &v->origin, "chroot %s is not a directory", v->text);
		return -1;
	}
	if (st.st_uid != 0) {
		diag_error(d, &v->origin,
			   "chroot %s is owned by uid %u; a jail must be owned by root "
			   "(chown root %s)",
			   v->text, (unsigned)st.st_uid, v->text);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_error(d, &v->origin,
			   "chroot %s is writable by %s; a jail must not be (chmod go-w %s)",
			   v->text, (st.st_mode & S_IWOTH) ? "others" : "its group", v->text);
		return -1;
	}
	return 0;
}

/* getpwnam(3): these errors mean "no such name", not a failed look-up. */
static bool lookup_not_found(int err)
{
	return err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

/* ", did you mean 'mail'?" for a misspelt user or group name, or "". The
 * databases are read only on this error path. */
static const char *nearest_account(const char *name, bool group, char *buf, size_t len)
{
	size_t count = 0, cap = 64;
	char **names = calloc(cap + 1, sizeof(*names));
	buf[0] = '\0';
	if (!names)
		return buf;
	if (group)
		setgrent();
	else
		setpwent();
	for (;;) {
		const char *entry;
		if (group) {
			struct group *g = getgrent();
			entry = g ? g->gr_name : NULL;
		} else {
			struct passwd *pw = getpwent();
			entry = pw ? pw->pw_name : NULL;
		}
		if (!entry)
			break;
		if (count == cap) {
			char **grown = realloc(names, (cap * 2 + 1) * sizeof(*names));
			if (!grown)
				break;
			names = grown;
			cap *= 2;
		}
		if (!(names[count] = strdup(entry)))
			break;
		names[++count] = NULL;
	}
	if (group)
		endgrent();
	else
		endpwent();
	const char *nearest = count ? diag_nearest(name, (const char *const *)names) : NULL;
	if (nearest)
		snprintf(buf, len, "; did you mean '%s'?", nearest);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return buf;
}

static int resolve_group(const struct policy_value *v, gid_t *gid, struct diag *d)
{
	char hint[128];
	errno = 0;
	struct group *g = getgrnam(v->text);
	if (!g) {
		if (errno && !lookup_not_found(errno))
			diag_error(d, &v->origin, "cannot look up group '%s': %s", v->text,
				   strerror(errno));
		else
			diag_error(d, &v->origin, "unknown group '%s' (not in the group database)%s",
				   v->text, nearest_account(v->text, true, hint, sizeof(hint)));
		return -1;
	}
	*gid = g->gr_gid;
	return 0;
}

static int security_resolve(struct policy_security *s, bool parse_capabilities, struct diag *d)
{
	int rc = 0;
	s->resolved = false;
	free(s->gids);
	s->gids = NULL;
	s->gid_count = 0;

	struct policy_value nobody = { .text = (char *)"nobody" };
	const struct policy_value *user = s->user.text ? &s->user : &nobody;
	char hint[128];
	errno = 0;
	struct passwd *pw = getpwnam(user->text);
	if (!pw) {
		if (errno && !lookup_not_found(errno))
			diag_error(d, &user->origin, "cannot look up user '%s': %s", user->text,
				   strerror(errno));
		else
			diag_error(d, &user->origin, "unknown user '%s' (not in the password database)%s",
				   user->text, nearest_account(user->text, false, hint, sizeof(hint)));
		rc = -1;
	} else {
		s->uid = pw->pw_uid;
		s->gid = pw->pw_gid;
	}
	if (s->group.text && resolve_group(&s->group, &s->gid, d) < 0)
		rc = -1;
	if (s->supplemental_count) {
		s->gids = calloc(s->supplemental_count, sizeof(*s->gids));
		if (!s->gids) {
			diag_error(d, NULL, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < s->supplemental_count; i++) {
			gid_t gid;
			if (resolve_group(&s->supplemental_groups[i], &gid, d) < 0) {
				rc = -1;
				continue;
			}
			bool seen = false;
			for (size_t j = 0; j < s->gid_count; j++)
				seen = seen || s->gids[j] == gid;
			if (!seen)
				s->gids[s->gid_count++] = gid;
		}
	}
	if (s->chroot.text && resolve_chroot(&s->chroot, d) < 0)
		rc = -1;
	if (parse_capabilities && security_parse_capabilities(s, d) < 0)
		rc = -1;

	/* Every kept capability must be one this kernel still lets us hold. */
	uint64_t kept = s->cap_permitted | s->cap_inheritable;
	for (unsigned c = 0; c < 64; c++) {
		if (!(kept & (UINT64_C(1) << c)))
			continue;
		char name[64];
		const struct origin *at = s->capabilities.text ? &s->capabilities.origin
							       : &s->privileges.origin;
		int bound = cap_get_bound((cap_value_t)c);
		if (bound < 0) {
			diag_error(d, at, "capability %s is not supported by this kernel",
				   policy_cap_name((int)c, name, sizeof(name)));
			rc = -1;
		} else if (bound == 0) {
			diag_error(d, at,
				   "capability %s is not in this system's bounding set (see CapBnd "
				   "in /proc/self/status): no process here can hold it; remove it "
				   "from the scope",
				   policy_cap_name((int)c, name, sizeof(name)));
			rc = -1;
		}
	}
	/* The seeds: root that names capabilities keeps only those; to stay
	 * root, name none. The option being written counts, not the set:
	 * `capabilities = ""` for root keeps nothing. drop.c decides alike. */
	if (rc == 0 && pw && s->uid == 0) {
		if (s->capabilities.text || s->privileges.text)
			diag_warn(d, &user->origin,
				  "user root with capabilities: root keeps only the capabilities "
				  "named, and loses access to files it does not own unless "
				  "cap_dac_override is kept; prefer an unprivileged user");
		else
			diag_note(d, &user->origin,
				  "user root without capabilities: the process keeps full root");
	}
	if (rc == 0)
		s->resolved = true;
	return rc;
}

int policy_security_resolve(struct policy_security *s, struct diag *d)
{
	return security_resolve(s, true, d);
}

/* --- validation --------------------------------------------------------- */

/* `unpriv_user` is `security { user }` and `chroot` is `security { chroot }`:
 * the same value twice is fine, two different values are an error. */
static int fold_scalar(struct policy_value *top, const char *top_name, struct policy_value *scoped,
		       const char *scoped_name, struct diag *d)
{
	if (!top->text)
		return 0;
	if (!scoped->text)
		return value_copy(scoped, top) < 0 ? (diag_error(d, NULL, "out of memory"), -1) : 0;
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

static int resolve_runas_rules(struct runas_rules *rules, const char *directive, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < rules->count; i++) {
		struct runas_rule *r = &rules->rules[i];
		if (r->any_nonroot || !r->name[0] || strchr(r->name, '*'))
			continue;
		struct passwd *pw = getpwnam(r->name);
		if (!pw) {
			char hint[128];
			diag_error(d, &r->origin, "%s: unknown user '%s'%s", directive, r->name,
				   nearest_account(r->name, false, hint, sizeof(hint)));
			rc = -1;
			continue;
		}
		r->uid = pw->pw_uid;
		r->gid = pw->pw_gid;
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
		const char *why = path_check(r->chroot.text, false, NULL);
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

/* A service without a file of its own gets the stack of "other". */
static void warn_missing_services(const struct policy *p, struct diag *d)
{
	for (size_t i = 0; i < p->auth_service_count; i++) {
		const struct policy_value *v = &p->auth_services[i];
		char etc[PATH_MAX], usr[PATH_MAX];
		snprintf(etc, sizeof(etc), "/etc/pam.d/%s", v->text);
		snprintf(usr, sizeof(usr), "/usr/lib/pam.d/%s", v->text);
		if (access(etc, F_OK) < 0 && access(usr, F_OK) < 0)
			diag_warn(d, &v->origin,
				  "auth: PAM service %s has no file %s; PAM would use the stack of "
				  "/etc/pam.d/other for it",
				  v->text, etc);
	}
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
		const char *why = path_check(p->security.chroot.text, false, NULL);
		if (why) {
			diag_error(d, &p->security.chroot.origin, "chroot \"%s\" %s",
				   p->security.chroot.text, why);
			rc = -1;
		}
	}
	if (security_parse_capabilities(&p->security, d) < 0)
		rc = -1;
	if (validate_auth_services(p, d) < 0)
		rc = -1;
	return rc;
}

int policy_validate(struct policy *p, struct diag *d)
{
	int rc = policy_validate_syntax(p, d);
	if (resolve_runas_rules(&p->run_as, "run_as", d) < 0)
		rc = -1;
	for (size_t i = 0; i < p->run.count; i++) {
		struct run_rule *r = &p->run.rules[i];
		if (resolve_runas_rules(&r->users, "run { user }", d) < 0)
			rc = -1;
		if (r->chroot.text && resolve_chroot(&r->chroot, d) < 0)
			rc = -1;
	}
	/* The capability text was parsed with the syntax above. */
	if (security_resolve(&p->security, false, d) < 0)
		rc = -1;
	if (rc == 0)
		warn_missing_services(p, d);
	return rc;
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

static void describe_flags(int flags, char *buf, size_t len)
{
	int mode = flags & O_ACCMODE;
	snprintf(buf, len, "%s%s%s%s%s", mode == O_RDONLY ? "O_RDONLY" : mode == O_WRONLY ? "O_WRONLY" : "O_RDWR",
		 (flags & O_APPEND) ? "|O_APPEND" : "", (flags & O_CREAT) ? "|O_CREAT" : "",
		 (flags & O_TRUNC) ? "|O_TRUNC" : "",
		 (flags & O_TMPFILE) == O_TMPFILE ? "|O_TMPFILE" : "");
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
	enum open_need need = NEED_READ_WRITE;
	if ((flags & O_TMPFILE) == O_TMPFILE)
		need = NEED_READ_WRITE;
	else if ((flags & O_ACCMODE) == O_RDONLY && !(flags & (O_TRUNC | O_CREAT)))
		need = NEED_READ_ONLY;
	else if ((flags & O_ACCMODE) == O_WRONLY && (flags & O_APPEND) && !(flags & O_TRUNC))
		need = NEED_APPEND_ONLY;

	char how[96];
	describe_flags(flags, how, sizeof(how));
	const struct path_rule *r = NULL;
	const char *directive = NULL;
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		r = path_rules_find_any_child(&p->open_rw, req->path);
		if (r) {
			snprintf(out->reason, sizeof(out->reason),
				 "an unnamed file in %s is granted by open_rw", req->path);
			decided(out, true, 0, "open_rw", r->path, &r->origin);
		} else {
			snprintf(out->reason, sizeof(out->reason),
				 "O_TMPFILE needs open_rw of %s/* or a /** above it", req->path);
			decided(out, false, EACCES, NULL, NULL, NULL);
		}
		return;
	}
	if (need == NEED_READ_ONLY && (r = path_rules_find(&p->open_ro, req->path)))
		directive = "open_ro";
	else if (need == NEED_APPEND_ONLY && (r = path_rules_find(&p->open_ao, req->path)))
		directive = "open_ao";
	else if ((r = path_rules_find(&p->open_rw, req->path)))
		directive = "open_rw";
	if (r) {
		snprintf(out->reason, sizeof(out->reason), "%s %s is granted by %s", how,
			 req->path, directive);
		decided(out, true, 0, directive, r->path, &r->origin);
		return;
	}
	/* Refused: say which weaker grant matched, if any. */
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

static void decide_unlink(const struct policy *p, const struct policy_request *req,
			  struct policy_decision *out)
{
	const struct path_rule *r = path_rules_find(&p->unlink, req->path);
	if (r) {
		snprintf(out->reason, sizeof(out->reason), "unlink of %s is granted", req->path);
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
	snprintf(where, sizeof(where), "%s%s%s:%u", v6 ? "[" : "", address, v6 ? "]" : "",
		 (unsigned)req->port);
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
			snprintf(out->reason, sizeof(out->reason), "bind to %s is granted", where);
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

	/* The run scopes: a program, users and a chroot that go together. */
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
			return;
		}
	}
	if (program_named) {
		snprintf(out->reason, sizeof(out->reason),
			 "%s is refused: a run scope names this program, and none of its scopes "
			 "grants that user in that chroot",
			 target);
		decided(out, false, EPERM, NULL, NULL, NULL);
		return;
	}

	/* run_as grants its users in the policy's own chroot only. */
	const struct runas_rule *u = runas_rules_find(&p->run_as, req->uid);
	if (u && same_chroot(want, own)) {
		snprintf(out->reason, sizeof(out->reason), "%s is granted%s", target,
			 u->any_nonroot ? " ('*': any user but root)" : "");
		decided(out, true, 0, "run_as", u->name, &u->origin);
		return;
	}
	if (!req->program && p->auth_allow_rerun.value && req->uid != 0 && same_chroot(want, own)) {
		for (size_t i = 0; i < req->authenticated_count; i++) {
			if (req->authenticated[i] == req->uid) {
				snprintf(out->reason, sizeof(out->reason),
					 "%s is granted: the user authenticated through PAM", target);
				decided(out, true, 0, "auth_allow_rerun", "true",
					&p->auth_allow_rerun.origin);
				return;
			}
		}
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
	/* learned_rule is large and rarely written: not cleared per request. */
	memset(out, 0, offsetof(struct policy_decision, learned_rule));
	out->learned_rule[0] = '\0';
	decide(p, req, out);
	if (p->learn && !out->allow)
		policy_learn(p, req, out);
}

/* --- the normalised dump ------------------------------------------------ */

static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '\t')
			fputs("\\t", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void put_origin(FILE *out, const struct origin *at, int column)
{
	char where[512];
	fprintf(out, "%*s# %s\n", column > 0 ? column : 1, "", origin_format(at, where, sizeof(where)));
}

static int put_entry(FILE *out, const char *indent, const char *name, const char *value,
		     bool quote)
{
	int n = fprintf(out, "%s%s ", indent, name);
	if (quote) {
		long before = ftell(out);
		put_quoted(out, value);
		long after = ftell(out);
		n += before >= 0 && after >= 0 ? (int)(after - before) : (int)strlen(value) + 2;
	} else {
		n += fprintf(out, "%s", value);
	}
	return n;
}

static void dump_paths(FILE *out, const char *name, const struct path_rules *rules)
{
	for (size_t i = 0; i < rules->count; i++) {
		int n = put_entry(out, "", name, rules->rules[i].path, true);
		put_origin(out, &rules->rules[i].origin, 40 - n);
	}
}

static void dump_bool(FILE *out, const char *name, const struct policy_bool *b)
{
	int n = fprintf(out, "%s %s", name, b->value ? "true" : "false");
	put_origin(out, b->set ? &b->origin : NULL, 40 - n);
}

static void dump_auth(FILE *out, const struct policy *p)
{
	dump_bool(out, "auth", &p->auth);
	if (p->auth.value)
		fputs("    # auth true grants one PAM service: the one named like the application\n"
		      "    # (priv_init's appname), and no other\n",
		      out);
	if (!p->auth_service_count)
		return;
	fputs("auth {\n", out);
	for (size_t i = 0; i < p->auth_service_count; i++) {
		int n = fprintf(out, "    %s", p->auth_services[i].text);
		put_origin(out, &p->auth_services[i].origin, 40 - n);
	}
	fputs("}\n", out);
}

static void dump_caps(FILE *out, const char *indent, const char *label, uint64_t mask)
{
	fprintf(out, "%s#   %-12s", indent, label);
	if (!mask)
		fputs(" (none)", out);
	for (unsigned c = 0; c < 64; c++) {
		char name[64];
		if (mask & (UINT64_C(1) << c))
			fprintf(out, " %s", policy_cap_name((int)c, name, sizeof(name)));
	}
	fputc('\n', out);
}

void policy_dump(const struct policy *p, FILE *out)
{
	fprintf(out, "# effective policy, from");
	for (size_t i = 0; i < p->file_count; i++)
		fprintf(out, " %s", p->files[i]);
	fputs("\n", out);
	dump_paths(out, "open_ro", &p->open_ro);
	dump_paths(out, "open_ao", &p->open_ao);
	dump_paths(out, "open_rw", &p->open_rw);
	dump_paths(out, "unlink", &p->unlink);
	for (size_t i = 0; i < p->bind.count; i++) {
		int n = put_entry(out, "", "bind", p->bind.rules[i].text, false);
		put_origin(out, &p->bind.rules[i].origin, 40 - n);
	}
	for (size_t i = 0; i < p->run_as.count; i++) {
		const struct runas_rule *r = &p->run_as.rules[i];
		int n = put_entry(out, "", "run_as", r->name, false);
		if (!r->any_nonroot)
			n += fprintf(out, " (uid %u)", (unsigned)r->uid);
		put_origin(out, &r->origin, 40 - n);
	}
	for (size_t i = 0; i < p->run.count; i++) {
		const struct run_rule *r = &p->run.rules[i];
		fprintf(out, "run {");
		put_origin(out, &r->origin, 35);
		if (r->has_program) {
			int n = put_entry(out, "    ", "program", r->program.path, true);
			put_origin(out, &r->program.origin, 40 - n);
		} else {
			int n = fprintf(out, "    program * (any, and priv_rerunas)");
			put_origin(out, NULL, 40 - n);
		}
		for (size_t j = 0; j < r->users.count; j++) {
			const struct runas_rule *u = &r->users.rules[j];
			int n = put_entry(out, "    ", "user", u->name, false);
			if (!u->any_nonroot)
				n += fprintf(out, " (uid %u)", (unsigned)u->uid);
			put_origin(out, &u->origin, 40 - n);
		}
		if (r->chroot.text) {
			int n = put_entry(out, "    ", "chroot", r->chroot.text, true);
			put_origin(out, &r->chroot.origin, 40 - n);
		} else {
			int n = fprintf(out, "    chroot \"/\" (none)");
			put_origin(out, NULL, 40 - n);
		}
		for (size_t j = 0; j < r->env_count; j++) {
			int n = put_entry(out, "    ", "env", r->env[j].text, false);
			put_origin(out, &r->env[j].origin, 40 - n);
		}
		if (r->env_count == 0) {
			int n = fprintf(out, "    env { } (no variable passes)");
			put_origin(out, NULL, 40 - n);
		}
		fputs("}\n", out);
	}
	dump_auth(out, p);
	dump_bool(out, "auth_allow_rerun", &p->auth_allow_rerun);
	dump_bool(out, "fork", &p->fork);
	dump_bool(out, "allow_rerun", &p->allow_rerun);
	for (size_t i = 0; i < p->custom.count; i++) {
		const struct custom_rule *r = &p->custom.rules[i];
		int n = put_entry(out, "", "custom", r->text, false);
		if (r->any)
			n += fprintf(out, " (every registered function)");
		put_origin(out, &r->origin, 40 - n);
	}
	if (p->custom.count || p->custom_timeout.text) {
		int n = fprintf(out, "custom_timeout %u",
				p->custom_timeout_s ? p->custom_timeout_s
						    : POLICY_CUSTOM_TIMEOUT_DEFAULT);
		if (!p->custom_timeout.text)
			n += fprintf(out, " (default)");
		put_origin(out, p->custom_timeout.text ? &p->custom_timeout.origin : NULL, 40 - n);
	}
	dump_bool(out, "allow_namespaces", &p->allow_namespaces);

	const struct policy_security *s = &p->security;
	fprintf(out, "security {");
	put_origin(out, s->present ? &s->origin : NULL, 30);
	int n = put_entry(out, "    ", "user", s->user.text ? s->user.text : "nobody", false);
	if (s->resolved)
		n += fprintf(out, " (uid %u)", (unsigned)s->uid);
	put_origin(out, s->user.text ? &s->user.origin : NULL, 40 - n);
	if (s->group.text) {
		n = put_entry(out, "    ", "group", s->group.text, false);
		if (s->resolved)
			n += fprintf(out, " (gid %u)", (unsigned)s->gid);
		put_origin(out, &s->group.origin, 40 - n);
	} else {
		n = fprintf(out, "    group (the user's primary group");
		if (s->resolved)
			n += fprintf(out, ", gid %u", (unsigned)s->gid);
		n += fprintf(out, ")");
		put_origin(out, NULL, 40 - n);
	}
	n = fprintf(out, "    supplemental_groups {");
	for (size_t i = 0; i < s->supplemental_count; i++)
		n += fprintf(out, " %s", s->supplemental_groups[i].text);
	n += fprintf(out, " }");
	put_origin(out, s->supplemental_count ? &s->supplemental_groups[0].origin : NULL, 40 - n);
	if (s->chroot.text) {
		n = put_entry(out, "    ", "chroot", s->chroot.text, true);
		put_origin(out, &s->chroot.origin, 40 - n);
	} else {
		n = fprintf(out, "    chroot \"/\" (none)");
		put_origin(out, NULL, 40 - n);
	}
	if (s->capabilities.text) {
		n = put_entry(out, "    ", "capabilities", s->capabilities.text, true);
		put_origin(out, &s->capabilities.origin, 40 - n);
	}
	if (s->privileges.text) {
		n = put_entry(out, "    ", "privileges", s->privileges.text, true);
		put_origin(out, &s->privileges.origin, 40 - n);
	}
	fputs("    # capabilities kept after the drop:\n", out);
	dump_caps(out, "    ", "permitted", s->cap_permitted);
	dump_caps(out, "    ", "effective", s->cap_effective);
	dump_caps(out, "    ", "inheritable", s->cap_inheritable);
	fputs("}\n", out);
}
