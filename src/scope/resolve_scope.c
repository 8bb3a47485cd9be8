/* The policy against this system: every name a policy gives resolved to an
 * id, and every object it names checked where it is. Users and groups come
 * from the password and group databases, a chroot is walked as the drop
 * walks it (with no symlink, common/path.h) and must be a root-owned
 * directory nobody else may write, every capability kept must be in this
 * kernel's bounding set, and a PAM service should have a file. This is the
 * part of validation that touches the system; the language's own checks
 * are policy/validate.c, which runs first. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/path.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"

/* --- chroot directories --------------------------------------------------- */

static int resolve_chroot(const struct policy_value *v, struct diag *d)
{
	const char *why = policy_path_check(v->text, false, NULL);
	if (why) {
		diag_error(d, &v->origin, "chroot \"%s\" %s", v->text, why);
		return -1;
	}
	/* Walked with no symlink, as the drop walks it (drop.c). */
	struct stat st;
	int fd = path_dir_handle(v->text);
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

/* --- users and groups ---------------------------------------------------- */

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

/* The scope's user (nobody when none is named): its uid, and its primary
 * group as the scope's group until `group` says otherwise. Returns the
 * entry, or NULL with the reason in `d`. */
static const struct passwd *resolve_user(struct policy_security *s, const struct policy_value *user,
					 struct diag *d)
{
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
		return NULL;
	}
	s->uid = pw->pw_uid;
	s->gid = pw->pw_gid;
	return pw;
}

/* The supplementary groups, each once. Returns 0, -1 with the reasons in
 * `d`, or -2 when out of memory (nothing more is checked then). */
static int resolve_supplemental(struct policy_security *s, struct diag *d)
{
	int rc = 0;
	if (!s->supplemental_count)
		return 0;
	s->gids = calloc(s->supplemental_count, sizeof(*s->gids));
	if (!s->gids) {
		diag_error(d, NULL, "out of memory");
		return -2;
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
	return rc;
}

/* --- capabilities ----------------------------------------------------------- */

/* Every kept capability must be one this kernel still lets us hold. */
static int check_bounding_set(const struct policy_security *s, struct diag *d)
{
	int rc = 0;
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
	return rc;
}

/* The seeds: root that names capabilities keeps only those; to stay root,
 * name none. The option being written counts, not the set: `capabilities
 * = ""` for root keeps nothing. drop.c decides alike. */
static void note_root(const struct policy_security *s, const struct policy_value *user,
		      struct diag *d)
{
	if (s->capabilities.text || s->privileges.text)
		diag_warn(d, &user->origin,
			  "user root with capabilities: root keeps only the capabilities "
			  "named, and loses access to files it does not own unless "
			  "cap_dac_override is kept; prefer an unprivileged user");
	else
		diag_note(d, &user->origin,
			  "user root without capabilities: the process keeps full root");
}

/* --- the security scope ------------------------------------------------------ */

static int security_resolve(struct policy_security *s, bool parse_capabilities, struct diag *d)
{
	int rc = 0;
	s->resolved = false;
	free(s->gids);
	s->gids = NULL;
	s->gid_count = 0;

	struct policy_value nobody = { .text = (char *)"nobody" };
	const struct policy_value *user = s->user.text ? &s->user : &nobody;
	const struct passwd *pw = resolve_user(s, user, d);
	if (!pw)
		rc = -1;
	if (s->group.text && resolve_group(&s->group, &s->gid, d) < 0)
		rc = -1;
	int supplemental = resolve_supplemental(s, d);
	if (supplemental == -2)
		return -1;
	if (supplemental < 0)
		rc = -1;
	if (s->chroot.text && resolve_chroot(&s->chroot, d) < 0)
		rc = -1;
	if (parse_capabilities && policy_security_parse_capabilities(s, d) < 0)
		rc = -1;
	if (check_bounding_set(s, d) < 0)
		rc = -1;
	if (rc == 0 && pw && s->uid == 0)
		note_root(s, user, d);
	if (rc == 0)
		s->resolved = true;
	return rc;
}

int policy_security_resolve(struct policy_security *s, struct diag *d)
{
	return security_resolve(s, true, d);
}

/* --- the whole policy -------------------------------------------------------- */

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
