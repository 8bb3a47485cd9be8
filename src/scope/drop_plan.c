/* Phase 1 of the drop: the plan, made before anything changes
 * (drop_plan.h), and the namespace filter it builds. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/path.h"
#include "scope/creds.h"
#include "scope/drop_plan.h"

/* --- the namespace filter ------------------------------------------------ */

/* The namespace filter (scope/namespace_filter.c) as the kernel takes it,
 * made by libseccomp when the library was built: building it here took
 * longer than the rest of a drop. The tests build it again from the rules
 * and require these very bytes. */
#include "namespace_bpf.h"

/* The bytes were made for the ABI the build machine calls native; a
 * library run where another is native must not load them (their first
 * test would end every process). */
static int namespace_bpf_make(void)
{
	if (seccomp_arch_native() != NAMESPACE_BPF_ARCH)
		return -ENOEXEC;
	return 0;
}

static const struct sock_fprog namespace_bpf = {
	.len = sizeof(namespace_bpf_insns) / sizeof(namespace_bpf_insns[0]),
	/* The kernel only reads it; sock_fprog has no const. */
	.filter = (struct sock_filter *)(uintptr_t)namespace_bpf_insns,
};

const struct sock_fprog *drop_namespace_bpf(void)
{
	return &namespace_bpf;
}

int drop_plan_prepare(void)
{
	creds_last_cap();
	int rc = namespace_bpf_make();
	if (rc != 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static bool id_among(unsigned id, unsigned r, unsigned e, unsigned s)
{
	return id == r || id == e || id == s;
}

/* --- phase 1: the plan, made before anything changes -------------------- */

static int plan_capabilities(struct drop_plan *plan, struct diag *d)
{
	const struct policy_security *s = plan->scope;
	const struct origin *at = &s->capabilities.origin;
	uint64_t asked = s->cap_effective | s->cap_permitted | s->cap_inheritable;
	uint64_t known = plan->last_cap >= CREDS_MASK_BITS - 1 ? UINT64_MAX
							      : creds_bit(plan->last_cap + 1) - 1;
	uint64_t bounding = plan->bounding_before;
	int failed = 0;
	char name[64];

	for (int cap = 0; cap < CREDS_MASK_BITS; cap++) {
		if (!(asked & creds_bit(cap)))
			continue;
		if (!(known & creds_bit(cap))) {
			diag_error(d, at,
				   "capability %s is not known to this kernel (its last is %d): "
				   "remove it from capabilities",
				   policy_cap_name(cap, name, sizeof(name)), plan->last_cap);
			failed = 1;
		} else if (!(bounding & creds_bit(cap))) {
			diag_error(d, at,
				   "capability %s is not in this system's bounding set: remove "
				   "it from capabilities",
				   policy_cap_name(cap, name, sizeof(name)));
			failed = 1;
		}
	}
	uint64_t stray = s->cap_effective & ~s->cap_permitted;
	if (stray) {
		char names[512];
		diag_error(d, at,
			   "effective capabilities must also be permitted (%s): write them as "
			   "+ep, not +e",
			   creds_mask_names(stray, names, sizeof(names)));
		failed = 1;
	}
	if (failed)
		return -1;

	plan->effective = s->cap_effective;
	plan->permitted = s->cap_permitted;
	plan->inheritable = s->cap_inheritable;
	plan->ambient = 0;
	if (plan->flags & DROP_FOR_EXEC) {
		/* A plain (non-setuid, no file capabilities) program gets, on
		 * exec, exactly the ambient set as permitted and effective;
		 * a capability can be ambient only when it is permitted and
		 * inheritable. */
		plan->inheritable |= plan->permitted;
		plan->ambient = plan->permitted;
	}
	plan->bounding = plan->effective | plan->permitted | plan->inheritable;
	return 0;
}

/* The jail's handle: the one the caller checked and passes in, or the
 * directory the name itself names, walked with no symlink (a symlink on the
 * way would let whoever can change it choose the jail between this check
 * and any other). */
static int open_jail(const struct policy_value *jail, int given, struct diag *d)
{
	if (given >= 0) {
		int fd = fcntl(given, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			diag_error(d, &jail->origin, "chroot directory %s: %s", jail->text,
				   strerror(errno));
		return fd;
	}
	int fd = path_dir_handle(jail->text);
	if (fd >= 0)
		return fd;
	if (fd == -ENOENT)
		diag_error(d, &jail->origin,
			   "chroot directory %s does not exist: create it (owned by root, "
			   "mode 0755) or fix the path",
			   jail->text);
	else if (fd == -ENOTDIR)
		diag_error(d, &jail->origin, "chroot %s is not a directory: name a directory",
			   jail->text);
	else if (fd == -ELOOP)
		diag_error(d, &jail->origin,
			   "chroot %s: a symlink is on the way; name the directory itself "
			   "(its real path)",
			   jail->text);
	else
		diag_error(d, &jail->origin, "chroot directory %s: %s", jail->text,
			   strerror(-fd));
	return -1;
}

static int plan_chroot(struct drop_plan *plan, int given, struct diag *d)
{
	const struct policy_value *jail = &plan->scope->chroot;
	if (!jail->text)
		return 0;
	/* Check the very directory that will become the root: hold it open
	 * and chroot through the handle, so that no rename between the check
	 * and the chroot can swap it. */
	int fd = open_jail(jail, given, d);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		diag_error(d, &jail->origin, "chroot directory %s: %s", jail->text,
			   strerror(errno));
		close(fd);
		return -1;
	}
	int failed = 0;
	if (!S_ISDIR(st.st_mode)) {
		diag_error(d, &jail->origin, "chroot %s is not a directory: name a directory",
			   jail->text);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0) {
		diag_error(d, &jail->origin,
			   "chroot directory %s is owned by uid %u, not root: chown root %s",
			   jail->text, (unsigned)st.st_uid, jail->text);
		failed = 1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_error(d, &jail->origin,
			   "chroot directory %s is writable by %s (mode %04o): chmod go-w %s",
			   jail->text,
			   (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ? "group and others"
			   : (st.st_mode & S_IWGRP)			     ? "its group"
									     : "others",
			   (unsigned)(st.st_mode & 07777), jail->text);
		failed = 1;
	}
	if (failed) {
		close(fd);
		return -1;
	}
	plan->chroot_fd = fd;
	return 0;
}

/* Which capabilities this process needs in its effective set to make the
 * changes of the plan, given what it is now. */
static int plan_privilege(struct drop_plan *plan, struct diag *d)
{
	const struct policy_security *s = plan->scope;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	uint64_t eff, prm, inh;
	gid_t *groups = NULL;
	size_t group_count = 0;

	if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0 ||
	    creds_caps(plan->last_cap, &eff, &prm, &inh) != 0 ||
	    creds_groups(&groups, &group_count) != 0) {
		diag_error(d, NULL, "cannot read this process's credentials: %s",
			   strerror(errno));
		free(groups);
		return -1;
	}
	bool same_groups = creds_gids_equal(groups, group_count, plan->groups, plan->group_count);
	free(groups);
	plan->effective_before = eff;

	uint64_t need = 0;
	if (plan->chroot_fd >= 0)
		need |= creds_bit(CAP_SYS_CHROOT);
	/* Root always sets the list, so that it never keeps root's groups. */
	if (euid == 0 || !same_groups)
		need |= creds_bit(CAP_SETGID);
	if (!id_among(s->gid, rgid, egid, sgid))
		need |= creds_bit(CAP_SETGID);
	if (!id_among(s->uid, ruid, euid, suid))
		need |= creds_bit(CAP_SETUID);

	uint64_t secbits_now = (uint64_t)cap_get_secbits();
	bool bounding_done = (plan->bounding_before & ~plan->bounding) == 0 &&
			     (secbits_now & DROP_SECUREBITS) == DROP_SECUREBITS;
	plan->change_bounding = !plan->keep_root && !bounding_done;
	if (plan->change_bounding && euid != 0 && !(eff & creds_bit(CAP_SETPCAP))) {
		/* An unprivileged process cannot narrow its bounding set, and
		 * has nothing there to lose that it could use without exec
		 * of a privileged file; no_new_privs is the tool for that. */
		plan->change_bounding = false;
		diag_note(d, NULL,
			  "not root: the bounding set and securebits stay as they are "
			  "(--no-new-privs stops setuid programs from granting privilege)");
	}
	if (plan->change_bounding)
		need |= creds_bit(CAP_SETPCAP);
	/* Proven whenever this drop wants them, made here or inherited. */
	plan->verify_bounding = !plan->keep_root && (plan->change_bounding || bounding_done);

	int failed = 0;
	char names[512], who[128];
	if (plan->change_caps) {
		uint64_t missing = plan->permitted & ~prm;
		uint64_t missing_inheritable = plan->inheritable & ~(prm | inh);
		if (missing | missing_inheritable) {
			diag_error(d, &s->capabilities.origin,
				   "this process does not hold %s, so it cannot keep it: start it "
				   "as root, or ask for fewer capabilities",
				   creds_mask_names(missing | missing_inheritable, names, sizeof(names)));
			failed = 1;
		}
	}

	uint64_t lacking = need & ~eff;
	if (lacking) {
		creds_user_text(s, who, sizeof(who));
		if (euid != 0)
			diag_error(d, NULL,
				   "not running as root (uid %u): becoming %s%s%s needs root; "
				   "start it as root, or ask only for what this user already "
				   "has",
				   (unsigned)euid, who, plan->chroot_fd >= 0 ? " in a chroot" : "",
				   !same_groups ? " with other groups" : "");
		else
			diag_error(d, NULL,
				   "this root process lacks %s, which the drop needs: start it "
				   "with full root privileges",
				   creds_mask_names(lacking, names, sizeof(names)));
		failed = 1;
	}
	return failed ? -1 : 0;
}

void drop_plan_free(struct drop_plan *plan)
{
	plan->filter = NULL; /* namespace_bpf, constant */
	if (plan->chroot_fd >= 0)
		close(plan->chroot_fd);
	plan->chroot_fd = -1;
	free(plan->groups);
	plan->groups = NULL;
}

/* Build the namespace filter now, so that a failure changes nothing. It is
 * loaded while the process still holds CAP_SYS_ADMIN (root, before the
 * capability sets are emptied), so that it needs no no_new_privs; a process
 * that does not hold it (privman run started by another user) gets
 * no_new_privs with the filter, as the kernel requires. */
static int plan_filter(struct drop_plan *plan, struct diag *d)
{
	/* plan_privilege() read the capability sets just before. */
	plan->filter_nnp = !(plan->effective_before & creds_bit(CAP_SYS_ADMIN));
	if (plan->flags & DROP_SHARED_DONE) {
		/* The parent loaded it: a filter is in force (the proof after
		 * the drop shows that it is this one), and no other is added. */
		if (prctl(PR_GET_SECCOMP, 0L, 0L, 0L, 0L) != 2) {
			diag_error(d, NULL, "the namespace filter the parent loaded is not in force");
			return -1;
		}
		plan->filter_inherited = true;
	}
	int rc = namespace_bpf_make();
	plan->filter = rc == 0 ? &namespace_bpf : NULL;
	if (rc != 0) {
		diag_error(d, NULL, "cannot build the seccomp filter that refuses namespaces: %s",
			   strerror(-rc));
		return -1;
	}
	return 0;
}

int drop_plan_make(struct drop_plan *plan, const struct policy_security *s, int jail,
		     unsigned flags, struct diag *d)
{
	memset(plan, 0, sizeof(*plan));
	plan->scope = s;
	plan->flags = flags;
	plan->dry_run = (flags & DROP_DRY_RUN) != 0;
	plan->chroot_fd = -1;

	if (!s || !s->resolved) {
		diag_error(d, NULL, "the security scope was not resolved before the drop");
		errno = EINVAL;
		return -1;
	}
	plan->last_cap = creds_last_cap();
	if (plan->last_cap < 0) {
		diag_error(d, NULL, "cannot tell this kernel's last capability");
		return -1;
	}
	plan->bounding_before = creds_bounding(plan->last_cap);

	if (s->gid_count) {
		plan->groups = calloc(s->gid_count, sizeof(*plan->groups));
		if (!plan->groups) {
			diag_error(d, NULL, "out of memory");
			return -1;
		}
		memcpy(plan->groups, s->gids, s->gid_count * sizeof(*plan->groups));
		plan->group_count = creds_gids_normalize(plan->groups, s->gid_count);
	}

	bool caps_named = s->capabilities.text || s->privileges.text;
	plan->keep_root = s->uid == 0 && !caps_named;
	plan->change_caps = !plan->keep_root;
	/* The seeds: root that names capabilities keeps only those, and so
	 * loses access to other users' files; to stay root, name none. The
	 * option being written counts, not the mask: `capabilities = ""` for
	 * root means no capability at all. Worded as policy_security_resolve()
	 * words it, so that a tool printing both can show it once. */
	if (s->uid == 0 && caps_named)
		diag_warn(d, &s->user.origin,
			  "user root with capabilities: root keeps only the capabilities "
			  "named, and loses access to files it does not own unless "
			  "cap_dac_override is kept; prefer an unprivileged user");
	else if (plan->keep_root)
		diag_note(d, &s->user.origin,
			  "user root without capabilities: the process keeps full root");

	int failed = 0;
	if ((flags & DROP_SHARED_DONE) && s->chroot.text) {
		/* The namespace filter, in force already, refuses chroot. */
		diag_error(d, &s->chroot.origin,
			   "a drop that inherits the namespace filter cannot chroot");
		failed = 1;
	}
	if (plan->change_caps && plan_capabilities(plan, d) != 0)
		failed = 1;
	if (plan_chroot(plan, jail, d) != 0)
		failed = 1;
	size_t threads = failed || creds_single_threaded() ? 0 : creds_thread_count();
	if (threads > 1) {
		diag_error(d, NULL,
			   "the process has %zu threads: drop privileges before starting any "
			   "thread (capabilities are per thread)",
			   threads);
		failed = 1;
	}
	if (!failed && plan_privilege(plan, d) != 0)
		failed = 1;
	if (!failed && (flags & DROP_NO_NAMESPACES) && plan_filter(plan, d) != 0)
		failed = 1;
	if (failed) {
		drop_plan_free(plan);
		errno = EPERM;
		return -1;
	}
	return 0;
}


int drop_plan_shared(struct drop_plan *plan, unsigned flags, struct diag *d)
{
	memset(plan, 0, sizeof(*plan));
	plan->flags = flags;
	plan->chroot_fd = -1;
	plan->last_cap = creds_last_cap();
	if (plan->last_cap < 0) {
		diag_error(d, NULL, "cannot tell this kernel's last capability");
		return -1;
	}
	plan->bounding_before = creds_bounding(plan->last_cap);
	plan->bounding = 0;
	plan->change_bounding = true;
	plan->verify_bounding = true;

	uint64_t eff, prm, inh;
	if (creds_caps(plan->last_cap, &eff, &prm, &inh) != 0) {
		diag_error(d, NULL, "cannot read this process's capabilities: %s",
			   strerror(errno));
		return -1;
	}
	/* Root keeps what its children's drops need; the filter is loaded
	 * without no_new_privs, which would stay with every child. */
	uint64_t need = creds_bit(CAP_SETPCAP) | creds_bit(CAP_SETUID) | creds_bit(CAP_SETGID) |
			((flags & DROP_NO_NAMESPACES) ? creds_bit(CAP_SYS_ADMIN) : 0);
	if (geteuid() != 0 || (eff & need) != need) {
		diag_error(d, NULL, "the shared part of a drop needs a root process with %s",
			   "cap_setpcap, cap_setuid, cap_setgid and cap_sys_admin");
		return -1;
	}
	if (!creds_single_threaded() && creds_thread_count() != 1) {
		diag_error(d, NULL, "the shared part of a drop needs a process with one thread");
		return -1;
	}
	if (flags & DROP_NO_NAMESPACES) {
		int rc = namespace_bpf_make();
		if (rc != 0) {
			diag_error(d, NULL,
				   "cannot build the seccomp filter that refuses namespaces: %s",
				   strerror(-rc));
			return -1;
		}
		plan->filter = &namespace_bpf;
	}
	return 0;
}
