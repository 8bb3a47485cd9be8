/* Dropping privileges for good (DESIGN.md "Dropping privileges").
 *
 * drop_apply() works in three phases:
 *   1. plan: every check that can be made before anything changes (ids,
 *      capabilities against this kernel's bounding set, the chroot
 *      directory, whether this process may make each change). A failure
 *      here returns -1 and leaves the process as it was.
 *   2. apply: chroot, the namespace filter, bounding set, securebits,
 *      groups, gid, uid, capability sets, no_new_privs. From the first
 *      change on, any failure goes through drop_fatal(): no caller can
 *      repair a half-dropped process, so it must not run on.
 *   3. verify: read every credential back and try to regain root; the
 *      kernel, not this code, has the last word on what was dropped.
 *
 * Phase 1 is drop_plan.c; what the phases read of the process is creds.c.
 * This file is the order of the changes, and their proof.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "scope/confine.h"
#include "scope/creds.h"
#include "scope/drop.h"
#include "scope/drop_plan.h"

/* --- the one fatal path ------------------------------------------------ */

static _Noreturn void drop_fatal(const char *step, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static _Noreturn void drop_fatal(const char *step, int err, const char *fmt, ...)
{
	char detail[512] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	} else if (err) {
		snprintf(detail, sizeof(detail), "%s", strerror(err));
	}
	/* syslog may be unreachable inside a chroot; stderr is the second
	 * witness. Neither can be allowed to stop the exit. */
	syslog(LOG_AUTHPRIV | LOG_CRIT,
	       "dropping privileges failed at %s: %s; the process stops here", step, detail);
	dprintf(STDERR_FILENO,
		"privman: dropping privileges failed at %s: %s; the process stops here "
		"(exit status %d)\n",
		step, detail, DROP_FATAL_STATUS);
	_exit(DROP_FATAL_STATUS);
}

/* --- phase 2: the changes ------------------------------------------------ */

static void step_chroot(struct drop_plan *plan, struct diag *d)
{
	const char *jail = plan->scope->chroot.text;
	if (plan->chroot_fd < 0)
		return;
	if (plan->dry_run) {
		diag_note(d, NULL, "chroot to %s, then chdir to /", jail);
		return;
	}
	if (fchdir(plan->chroot_fd) != 0)
		drop_fatal("chroot", errno, "fchdir to %s: %s", jail, strerror(errno));
	if (chroot(".") != 0)
		drop_fatal("chroot", errno, "chroot %s: %s", jail, strerror(errno));
	if (chdir("/") != 0)
		drop_fatal("chroot", errno, "chdir / in %s: %s", jail, strerror(errno));
	close(plan->chroot_fd);
	plan->chroot_fd = -1;
}

/* After the chroot (the filter refuses chroot), while this process still
 * holds CAP_SYS_ADMIN. */
static void step_filter(struct drop_plan *plan, struct diag *d)
{
	if (!plan->filter || plan->filter_inherited)
		return;
	if (plan->dry_run) {
		diag_note(d, NULL,
			  "install a seccomp filter: unshare, setns, clone with a namespace flag, "
			  "mount and the mount API, pivot_root and chroot fail with EPERM%s",
			  plan->filter_nnp ? " (with no_new_privs, as this process is not root)"
					   : "");
		return;
	}
	/* As seccomp_load() would with SCMP_FLTATR_CTL_NNP set as planned. */
	if (plan->filter_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
		drop_fatal("the namespace filter", errno, NULL);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, plan->filter) != 0)
		drop_fatal("the namespace filter", errno, NULL);
}

/* The confine scope (scope/confine_apply.c), right after the namespace
 * filter: in the jail, while this process still holds CAP_SYS_ADMIN. */
static void step_confine(struct drop_plan *plan, struct diag *d)
{
	const char *step = NULL;
	if (!plan->confine)
		return;
	if (plan->dry_run) {
		diag_note(d, NULL, "confine: %s", plan->confine->summary);
		return;
	}
	int rc = confine_enforce(plan->confine, &step);
	if (rc != 0)
		drop_fatal("confine", -rc, "%s: %s", step, strerror(-rc));
}

static void step_bounding(struct drop_plan *plan, struct diag *d)
{
	char names[1024];
	if (!plan->change_bounding)
		return;
	if (plan->dry_run) {
		diag_note(d, NULL, "drop from the bounding set every capability but: %s",
			  creds_mask_names(plan->bounding, names, sizeof(names)));
		diag_note(d, NULL,
			  "set and lock the securebits noroot and no_setuid_fixup (a setuid "
			  "root program grants nothing)");
		return;
	}
	for (int cap = 0; cap <= plan->last_cap; cap++) {
		/* One prctl per capability still there: a drop is on the path
		 * of every priv_init and rerun. */
		if ((plan->bounding & creds_bit(cap)) || !(plan->bounding_before & creds_bit(cap)))
			continue;
		if (cap_drop_bound((cap_value_t)cap) != 0) {
			char name[64];
			drop_fatal("the bounding set", errno, "dropping %s: %s",
				   policy_cap_name(cap, name, sizeof(name)), strerror(errno));
		}
	}
	unsigned bits = cap_get_secbits() | DROP_SECUREBITS;
	if (cap_set_secbits(bits) != 0)
		drop_fatal("securebits", errno, "setting 0x%x: %s", bits, strerror(errno));
}

static void step_groups(struct drop_plan *plan, struct diag *d)
{
	if (plan->dry_run) {
		if (plan->group_count == 0) {
			diag_note(d, NULL, "set the supplementary groups to none");
			return;
		}
		char list[1024];
		size_t used = 0;
		list[0] = '\0';
		for (size_t i = 0; i < plan->group_count && used < sizeof(list); i++) {
			struct group *g = getgrgid(plan->groups[i]);
			int n = snprintf(list + used, sizeof(list) - used, "%s%s(%u)",
					 i ? ", " : "", g ? g->gr_name : "?",
					 (unsigned)plan->groups[i]);
			if (n < 0)
				break;
			used += (size_t)n;
		}
		diag_note(d, NULL, "set the supplementary groups to exactly %s", list);
		return;
	}
	gid_t *now = NULL;
	size_t now_count = 0;
	if (geteuid() != 0 && creds_groups(&now, &now_count) == 0 &&
	    creds_gids_equal(now, now_count, plan->groups, plan->group_count)) {
		free(now); /* unprivileged and already right: nothing to do */
		return;
	}
	free(now);
	if (setgroups(plan->group_count, plan->groups) != 0)
		drop_fatal("setgroups", errno, NULL);
}

static void step_ids(struct drop_plan *plan, struct diag *d)
{
	const struct policy_security *s = plan->scope;
	char who[128];
	if (plan->dry_run) {
		struct group *g = getgrgid(s->gid);
		diag_note(d, NULL, "set the real, effective and saved gid to %u (%s)",
			  (unsigned)s->gid,
			  s->group.text ? s->group.text : g ? g->gr_name : "the user's group");
		diag_note(d, NULL, "set the real, effective and saved uid to %s",
			  creds_user_text(s, who, sizeof(who)));
		return;
	}
	if (setresgid(s->gid, s->gid, s->gid) != 0)
		drop_fatal("setresgid", errno, "to gid %u: %s", (unsigned)s->gid, strerror(errno));
	if (setresuid(s->uid, s->uid, s->uid) != 0)
		drop_fatal("setresuid", errno, "to uid %u: %s", (unsigned)s->uid, strerror(errno));
}

static cap_t caps_from_masks(int last_cap, uint64_t effective, uint64_t permitted,
			     uint64_t inheritable)
{
	cap_t caps = cap_init(); /* every flag clear */
	if (!caps)
		return NULL;
	for (int cap = 0; cap <= last_cap; cap++) {
		cap_value_t value = (cap_value_t)cap;
		if ((effective & creds_bit(cap)) &&
		    cap_set_flag(caps, CAP_EFFECTIVE, 1, &value, CAP_SET) != 0)
			goto fail;
		if ((permitted & creds_bit(cap)) &&
		    cap_set_flag(caps, CAP_PERMITTED, 1, &value, CAP_SET) != 0)
			goto fail;
		if ((inheritable & creds_bit(cap)) &&
		    cap_set_flag(caps, CAP_INHERITABLE, 1, &value, CAP_SET) != 0)
			goto fail;
	}
	return caps;
fail:
	cap_free(caps);
	return NULL;
}

static void step_caps(struct drop_plan *plan, struct diag *d)
{
	char names[1024];
	if (!plan->change_caps)
		return;
	if (plan->dry_run) {
		cap_t caps = caps_from_masks(plan->last_cap, plan->effective, plan->permitted,
					     plan->inheritable);
		char *text = caps ? cap_to_text(caps, NULL) : NULL;
		diag_note(d, NULL, "set the capability sets to exactly \"%s\"%s",
			  text ? text : "?",
			  plan->permitted | plan->inheritable ? "" : " (none kept)");
		cap_free(text);
		cap_free(caps);
		if (plan->ambient)
			diag_note(d, NULL,
				  "raise the ambient set to %s, so that it survives exec",
				  creds_mask_names(plan->ambient, names, sizeof(names)));
		else
			diag_note(d, NULL, "clear the ambient set");
		return;
	}
	cap_t caps = caps_from_masks(plan->last_cap, plan->effective, plan->permitted,
				     plan->inheritable);
	if (!caps)
		drop_fatal("cap_set_proc", errno, "building the capability set: %s",
			   strerror(errno));
	/* With NO_SETUID_FIXUP the uid change left root's sets in place:
	 * this call is what empties them. */
	if (cap_set_proc(caps) != 0) {
		int err = errno;
		cap_free(caps);
		drop_fatal("cap_set_proc", err, NULL);
	}
	cap_free(caps);
	if (cap_reset_ambient() != 0 && errno != EINVAL)
		drop_fatal("the ambient set", errno, "clearing it: %s", strerror(errno));
	for (int cap = 0; cap <= plan->last_cap; cap++) {
		if (!(plan->ambient & creds_bit(cap)))
			continue;
		if (cap_set_ambient((cap_value_t)cap, CAP_SET) != 0) {
			char name[64];
			drop_fatal("the ambient set", errno, "raising %s: %s",
				   policy_cap_name(cap, name, sizeof(name)), strerror(errno));
		}
	}
}

static void step_no_new_privs(struct drop_plan *plan, struct diag *d)
{
	if (!(plan->flags & DROP_NO_NEW_PRIVS))
		return;
	if (plan->dry_run) {
		diag_note(d, NULL, "set no_new_privs: exec can never grant privilege again");
		return;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
		drop_fatal("no_new_privs", errno, NULL);
}

/* --- phase 3: the proof --------------------------------------------------- */

static void verify_mask(const char *set, uint64_t have, uint64_t want)
{
	if (have == want)
		return;
	char have_names[1024], want_names[1024];
	drop_fatal("verification", 0, "the %s set holds %s, not %s", set,
		   creds_mask_names(have, have_names, sizeof(have_names)),
		   creds_mask_names(want, want_names, sizeof(want_names)));
}

static void verify_bounding(struct drop_plan *plan)
{
	verify_mask("bounding", creds_bounding(plan->last_cap), plan->bounding);
	unsigned bits = cap_get_secbits();
	if ((bits & DROP_SECUREBITS) != DROP_SECUREBITS)
		drop_fatal("verification", 0, "securebits are 0x%x, missing 0x%x", bits,
			   DROP_SECUREBITS & ~bits);
}

/* A filter is in force, and it is the namespace filter: setns() on no fd
 * fails with EPERM from the filter, where the kernel would say EBADF. */
static void verify_filter(void)
{
	if (prctl(PR_GET_SECCOMP, 0L, 0L, 0L, 0L) != 2)
		drop_fatal("verification", 0, "the namespace filter is not in force");
	errno = 0;
	if (syscall(SYS_setns, -1, 0) != -1 || errno != EPERM)
		drop_fatal("verification", 0, "setns() is not refused: the namespace filter is "
			   "not this one");
}

static void step_verify(struct drop_plan *plan, struct diag *d)
{
	const struct policy_security *s = plan->scope;
	bool can_setuid = plan->keep_root || (plan->permitted & creds_bit(CAP_SETUID));
	bool can_setgid = plan->keep_root || (plan->permitted & creds_bit(CAP_SETGID));
	if (plan->dry_run) {
		diag_note(d, NULL,
			  "verify that ids, groups and capability sets are exactly these%s",
			  s->uid != 0 && !can_setuid ? ", and that setuid(0) now fails" : "");
		return;
	}

	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (getresuid(&ruid, &euid, &suid) != 0)
		drop_fatal("verification", errno, "getresuid: %s", strerror(errno));
	if (ruid != s->uid || euid != s->uid || suid != s->uid)
		drop_fatal("verification", 0, "uids are %u/%u/%u, not %u", (unsigned)ruid,
			   (unsigned)euid, (unsigned)suid, (unsigned)s->uid);
	if (getresgid(&rgid, &egid, &sgid) != 0)
		drop_fatal("verification", errno, "getresgid: %s", strerror(errno));
	if (rgid != s->gid || egid != s->gid || sgid != s->gid)
		drop_fatal("verification", 0, "gids are %u/%u/%u, not %u", (unsigned)rgid,
			   (unsigned)egid, (unsigned)sgid, (unsigned)s->gid);

	gid_t *groups = NULL;
	size_t group_count = 0;
	if (creds_groups(&groups, &group_count) != 0)
		drop_fatal("verification", errno, "getgroups: %s", strerror(errno));
	bool groups_right = creds_gids_equal(groups, group_count, plan->groups, plan->group_count);
	free(groups);
	if (!groups_right)
		drop_fatal("verification", 0, "the supplementary groups are not the ones asked");

	if (plan->change_caps) {
		uint64_t eff, prm, inh;
		if (creds_caps(plan->last_cap, &eff, &prm, &inh) != 0)
			drop_fatal("verification", errno, "cap_get_proc: %s", strerror(errno));
		verify_mask("effective", eff, plan->effective);
		verify_mask("permitted", prm, plan->permitted);
		verify_mask("inheritable", inh, plan->inheritable);
		/* The kernel keeps ambient within permitted and inheritable:
		 * only those capabilities can be ambient. */
		verify_mask("ambient", creds_ambient(plan->last_cap, prm & inh), plan->ambient);
	}
	if (plan->verify_bounding)
		verify_bounding(plan);
	if ((plan->flags & DROP_NO_NEW_PRIVS) && prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) != 1)
		drop_fatal("verification", 0, "no_new_privs is not set");
	if (plan->filter)
		verify_filter();

	/* The proof that matters: try to become root again. */
	if (s->uid != 0 && !can_setuid && setuid(0) != -1)
		drop_fatal("verification", 0, "setuid(0) succeeded after the drop");
	if (s->gid != 0 && !can_setgid && setgid(0) != -1)
		drop_fatal("verification", 0, "setgid(0) succeeded after the drop");
}

/* --- the entry point ------------------------------------------------------ */

int drop_prepare(void)
{
	return drop_plan_prepare();
}

int drop_apply(const struct policy_security *s, unsigned flags, struct diag *d)
{
	return drop_apply_in(s, -1, flags, d);
}

int drop_apply_in(const struct policy_security *s, int jail, unsigned flags, struct diag *d)
{
	return drop_apply_confined(s, jail, NULL, flags, d);
}

int drop_apply_confined(const struct policy_security *s, int jail, struct confine_plan *confine,
			unsigned flags, struct diag *d)
{
	struct drop_plan plan;
	if ((flags & DROP_SHARED_DONE) && confine) {
		/* Its place is before the bounding set, which is gone. */
		diag_error(d, NULL, "a drop that inherits its first steps cannot confine");
		return -1;
	}
	if (drop_plan_make(&plan, s, jail, flags, d) != 0)
		return -1;
	plan.confine = confine;

	/* From here on nothing returns an error: see drop_fatal(). */
	step_chroot(&plan, d);
	step_filter(&plan, d);
	step_confine(&plan, d);
	step_bounding(&plan, d);
	step_groups(&plan, d);
	step_ids(&plan, d);
	step_caps(&plan, d);
	step_no_new_privs(&plan, d);
	step_verify(&plan, d);

	drop_plan_free(&plan);
	return 0;
}


int drop_apply_shared(unsigned flags, struct diag *d)
{
	struct drop_plan plan;
	if (drop_plan_shared(&plan, flags, d) != 0)
		return -1;
	/* From here on nothing returns an error: see drop_fatal(). */
	step_filter(&plan, d);
	step_bounding(&plan, d);
	verify_bounding(&plan);
	if (plan.filter)
		verify_filter();
	drop_plan_free(&plan);
	return 0;
}
