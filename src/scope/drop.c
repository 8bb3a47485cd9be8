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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>

#include "scope/drop.h"
#include "monitor/resolve.h"

/* The securebits every non-root drop sets and locks: exec of a setuid-root
 * file or of any file as uid 0 grants nothing (NOROOT), and the uid change
 * leaves the capability sets alone (NO_SETUID_FIXUP) so that cap_set_proc()
 * afterwards decides, alone, what is kept. KEEP_CAPS is not needed:
 * NO_SETUID_FIXUP supersedes it. */
#define DROP_SECUREBITS                                                                    \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                   \
	 SECBIT_NO_SETUID_FIXUP_LOCKED)

/* Capability masks are 64 bits wide (struct policy_security). */
#define DROP_MASK_BITS 64

struct drop_plan {
	const struct policy_security *scope;
	unsigned flags;
	bool dry_run;
	int last_cap;

	/* What the process holds once the drop is done. */
	uint64_t effective;
	uint64_t permitted;
	uint64_t inheritable;
	uint64_t ambient;
	uint64_t bounding;
	uint64_t bounding_before; /* the bounding set when the plan was made */

	gid_t *groups; /* the scope's supplementary groups, sorted, unique */
	size_t group_count;

	bool keep_root;       /* user root, no capabilities named: caps untouched */
	bool change_bounding; /* drop from the bounding set, lock securebits */
	bool change_caps;     /* cap_set_proc() and the ambient set */
	int chroot_fd;        /* O_PATH handle of the checked jail, or -1 */
	const struct sock_fprog *filter; /* DROP_NO_NAMESPACES: built, not yet loaded */
	bool filter_nnp;        /* no CAP_SYS_ADMIN: the filter needs no_new_privs */
};

static uint64_t bit(int cap)
{
	return (uint64_t)1 << cap;
}

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

/* --- reading this system ----------------------------------------------- */

/* The highest capability number of the running kernel: never a list
 * compiled in, since the kernel may be newer or older than the headers. */
static int read_last_cap(void)
{
	static int known = -1; /* it never changes while the system runs */
	if (known >= 0)
		return known;
	int last = -1;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = -1;
		fclose(f);
	}
	if (last < 0)
		last = (int)cap_max_bits() - 1; /* libcap probes the kernel */
	if (last >= DROP_MASK_BITS)
		last = DROP_MASK_BITS - 1;
	known = last;
	return last;
}


/* "cap_chown, cap_kill" or "none". */
static const char *mask_names(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int cap = 0; cap < DROP_MASK_BITS; cap++) {
		if (!(mask & bit(cap)))
			continue;
		char name[64];
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
				 policy_cap_name(cap, name, sizeof(name)));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(buf, len, "none");
	return buf;
}

static int compare_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort and remove duplicates in place; returns the new count. */
static size_t gids_normalize(gid_t *gids, size_t count)
{
	if (count == 0)
		return 0;
	qsort(gids, count, sizeof(*gids), compare_gid);
	size_t out = 1;
	for (size_t i = 1; i < count; i++)
		if (gids[i] != gids[out - 1])
			gids[out++] = gids[i];
	return out;
}

/* The process's supplementary groups, sorted; NULL with *count 0 is an
 * empty list. Returns -1 on error. */
static int current_groups(gid_t **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	int n = getgroups(0, NULL);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	gid_t *list = calloc((size_t)n, sizeof(*list));
	if (!list)
		return -1;
	n = getgroups(n, list);
	if (n < 0) {
		free(list);
		return -1;
	}
	*count = gids_normalize(list, (size_t)n);
	*out = list;
	return 0;
}

static bool gids_equal(const gid_t *a, size_t a_count, const gid_t *b, size_t b_count)
{
	return a_count == b_count && (a_count == 0 || memcmp(a, b, a_count * sizeof(*a)) == 0);
}

/* Number of threads, or 0 when /proc cannot tell. cap_set_proc() and the
 * bounding set act on the calling thread only, so a drop with other
 * threads running would leave them privileged. */
static size_t count_threads(void)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir)
		return 0;
	size_t n = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)))
		if (entry->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* The process's capability sets as masks. */
static int current_caps(int last_cap, uint64_t *effective, uint64_t *permitted,
			uint64_t *inheritable)
{
	cap_t caps = cap_get_proc();
	if (!caps)
		return -1;
	*effective = *permitted = *inheritable = 0;
	for (int cap = 0; cap <= last_cap; cap++) {
		cap_flag_value_t v;
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_EFFECTIVE, &v) == 0 && v)
			*effective |= bit(cap);
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_PERMITTED, &v) == 0 && v)
			*permitted |= bit(cap);
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_INHERITABLE, &v) == 0 && v)
			*inheritable |= bit(cap);
	}
	cap_free(caps);
	return 0;
}

static uint64_t current_bounding(int last_cap)
{
	uint64_t mask = 0;
	for (int cap = 0; cap <= last_cap; cap++)
		if (cap_get_bound((cap_value_t)cap) == 1)
			mask |= bit(cap);
	return mask;
}

static uint64_t current_ambient(int last_cap, uint64_t candidates)
{
	uint64_t mask = 0;
	for (int cap = 0; cap <= last_cap; cap++)
		if ((candidates & bit(cap)) && cap_get_ambient((cap_value_t)cap) == 1)
			mask |= bit(cap);
	return mask;
}

static bool id_among(unsigned id, unsigned r, unsigned e, unsigned s)
{
	return id == r || id == e || id == s;
}

/* --- the namespace filter ------------------------------------------------ */

/* Every flag of clone(2) and unshare(2) that makes a namespace. */
static const unsigned long namespace_flags[] = {
	CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET, CLONE_NEWTIME,
};

/* System calls that enter a namespace, or change a mount table or a root:
 * refused whatever their arguments. */
static const int mount_calls[] = {
	SCMP_SYS(setns),   SCMP_SYS(mount),      SCMP_SYS(umount2),  SCMP_SYS(pivot_root),
	SCMP_SYS(chroot),  SCMP_SYS(open_tree),  SCMP_SYS(move_mount), SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig), SCMP_SYS(fsmount),  SCMP_SYS(fspick),   SCMP_SYS(mount_setattr),
	SCMP_SYS(umount), /* i386 only */
};

/* A seccomp filter that makes EPERM of every way to a new namespace or a
 * changed mount table: with a user namespace of its own a program can
 * rearrange its view of the file system (bind a secret file over one it is
 * granted), and nothing of that may ever reach the monitor. clone3 passes
 * its flags in memory a filter cannot read: it fails with ENOSYS, and libc
 * falls back to clone, whose flags the filter sees. Everything else is
 * allowed; the filter is inherited by every child and kept across execve. */
static scmp_filter_ctx namespace_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return NULL;
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;
	/* An x86-64 process may also make the system calls of the i386 and x32
	 * ABIs: the same rules apply to them (libseccomp numbers each). A call
	 * of any other ABI ends the process, whose arguments the rules could
	 * not read. */
	if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
		if (rc == 0 || rc == -EEXIST)
			rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree of the syscall numbers rather than a list: the kernel
	 * runs the filter for every number when it loads it (its cache of
	 * allowed calls), on every new process the monitor starts. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; rc == 0 && i < sizeof(mount_calls) / sizeof(mount_calls[0]); i++)
		rc = seccomp_rule_add(ctx, eperm, mount_calls[i], 0);
	for (size_t i = 0; rc == 0 && i < sizeof(namespace_flags) / sizeof(namespace_flags[0]);
	     i++) {
		unsigned long f = namespace_flags[i];
		rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(unshare), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		/* clone's low byte is the exit signal, not CLONE_NEWTIME. */
		if (rc == 0 && f != CLONE_NEWTIME)
			rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
	}
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc != 0) {
		seccomp_release(ctx);
		errno = -rc;
		return NULL;
	}
	return ctx;
}

/* The namespace filter as the kernel takes it, made once per process and
 * inherited by every fork (drop_prepare): libseccomp takes longer to build
 * it than the rest of a drop takes, and it never changes. */
static struct sock_fprog namespace_bpf;

static int namespace_bpf_make(void)
{
	if (namespace_bpf.filter)
		return 0;
	scmp_filter_ctx ctx = namespace_filter();
	if (!ctx)
		return -errno;
	int rc = 0;
	int fd = memfd_create("privman-filter", MFD_CLOEXEC);
	off_t size = -1;
	void *bpf = NULL;
	if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) != 0 ||
	    (size = lseek(fd, 0, SEEK_CUR)) <= 0 || size % sizeof(struct sock_filter) ||
	    size / sizeof(struct sock_filter) > BPF_MAXINSNS || !(bpf = malloc((size_t)size)) ||
	    pread(fd, bpf, (size_t)size, 0) != size)
		rc = rc ? rc : errno ? -errno : -EIO;
	seccomp_release(ctx);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		free(bpf);
		return rc;
	}
	namespace_bpf.len = (unsigned short)(size / sizeof(struct sock_filter));
	namespace_bpf.filter = bpf;
	return 0;
}

int drop_prepare(void)
{
	read_last_cap();
	int rc = namespace_bpf_make();
	if (rc != 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* --- phase 1: the plan, made before anything changes -------------------- */

static const char *user_text(const struct policy_security *s, char *buf, size_t len)
{
	const char *name = s->user.text;
	struct passwd *pw = name ? NULL : getpwuid(s->uid);
	if (pw)
		name = pw->pw_name;
	if (name)
		snprintf(buf, len, "%s (uid %u)", name, (unsigned)s->uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)s->uid);
	return buf;
}

static int plan_capabilities(struct drop_plan *plan, struct diag *d)
{
	const struct policy_security *s = plan->scope;
	const struct origin *at = &s->capabilities.origin;
	uint64_t asked = s->cap_effective | s->cap_permitted | s->cap_inheritable;
	uint64_t known = plan->last_cap >= DROP_MASK_BITS - 1 ? UINT64_MAX
							      : bit(plan->last_cap + 1) - 1;
	uint64_t bounding = plan->bounding_before;
	int failed = 0;
	char name[64];

	for (int cap = 0; cap < DROP_MASK_BITS; cap++) {
		if (!(asked & bit(cap)))
			continue;
		if (!(known & bit(cap))) {
			diag_error(d, at,
				   "capability %s is not known to this kernel (its last is %d): "
				   "remove it from capabilities",
				   policy_cap_name(cap, name, sizeof(name)), plan->last_cap);
			failed = 1;
		} else if (!(bounding & bit(cap))) {
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
			   mask_names(stray, names, sizeof(names)));
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
	int fd = resolve_handle_clean(jail->text);
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
	    current_caps(plan->last_cap, &eff, &prm, &inh) != 0 ||
	    current_groups(&groups, &group_count) != 0) {
		diag_error(d, NULL, "cannot read this process's credentials: %s",
			   strerror(errno));
		free(groups);
		return -1;
	}
	bool same_groups = gids_equal(groups, group_count, plan->groups, plan->group_count);
	free(groups);

	uint64_t need = 0;
	if (plan->chroot_fd >= 0)
		need |= bit(CAP_SYS_CHROOT);
	/* Root always sets the list, so that it never keeps root's groups. */
	if (euid == 0 || !same_groups)
		need |= bit(CAP_SETGID);
	if (!id_among(s->gid, rgid, egid, sgid))
		need |= bit(CAP_SETGID);
	if (!id_among(s->uid, ruid, euid, suid))
		need |= bit(CAP_SETUID);

	uint64_t secbits_now = (uint64_t)cap_get_secbits();
	bool bounding_done = (plan->bounding_before & ~plan->bounding) == 0 &&
			     (secbits_now & DROP_SECUREBITS) == DROP_SECUREBITS;
	plan->change_bounding = !plan->keep_root && !bounding_done;
	if (plan->change_bounding && euid != 0 && !(eff & bit(CAP_SETPCAP))) {
		/* An unprivileged process cannot narrow its bounding set, and
		 * has nothing there to lose that it could use without exec
		 * of a privileged file; no_new_privs is the tool for that. */
		plan->change_bounding = false;
		diag_note(d, NULL,
			  "not root: the bounding set and securebits stay as they are "
			  "(--no-new-privs stops setuid programs from granting privilege)");
	}
	if (plan->change_bounding)
		need |= bit(CAP_SETPCAP);

	int failed = 0;
	char names[512], who[128];
	if (plan->change_caps) {
		uint64_t missing = plan->permitted & ~prm;
		uint64_t missing_inheritable = plan->inheritable & ~(prm | inh);
		if (missing | missing_inheritable) {
			diag_error(d, &s->capabilities.origin,
				   "this process does not hold %s, so it cannot keep it: start it "
				   "as root, or ask for fewer capabilities",
				   mask_names(missing | missing_inheritable, names, sizeof(names)));
			failed = 1;
		}
	}

	uint64_t lacking = need & ~eff;
	if (lacking) {
		user_text(s, who, sizeof(who));
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
				   mask_names(lacking, names, sizeof(names)));
		failed = 1;
	}
	return failed ? -1 : 0;
}

static void plan_free(struct drop_plan *plan)
{
	plan->filter = NULL; /* namespace_bpf, kept */
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
	uint64_t eff, prm, inh;
	if (current_caps(plan->last_cap, &eff, &prm, &inh) != 0) {
		diag_error(d, NULL, "cannot read this process's capabilities: %s",
			   strerror(errno));
		return -1;
	}
	plan->filter_nnp = !(eff & bit(CAP_SYS_ADMIN));
	int rc = namespace_bpf_make();
	plan->filter = rc == 0 ? &namespace_bpf : NULL;
	if (rc != 0) {
		diag_error(d, NULL, "cannot build the seccomp filter that refuses namespaces: %s",
			   strerror(-rc));
		return -1;
	}
	return 0;
}

static int plan_make(struct drop_plan *plan, const struct policy_security *s, int jail,
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
	plan->last_cap = read_last_cap();
	if (plan->last_cap < 0) {
		diag_error(d, NULL, "cannot tell this kernel's last capability");
		return -1;
	}
	plan->bounding_before = current_bounding(plan->last_cap);

	if (s->gid_count) {
		plan->groups = calloc(s->gid_count, sizeof(*plan->groups));
		if (!plan->groups) {
			diag_error(d, NULL, "out of memory");
			return -1;
		}
		memcpy(plan->groups, s->gids, s->gid_count * sizeof(*plan->groups));
		plan->group_count = gids_normalize(plan->groups, s->gid_count);
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
	if (plan->change_caps && plan_capabilities(plan, d) != 0)
		failed = 1;
	if (plan_chroot(plan, jail, d) != 0)
		failed = 1;
	size_t threads = failed ? 0 : count_threads();
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
		plan_free(plan);
		errno = EPERM;
		return -1;
	}
	return 0;
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
	if (!plan->filter)
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

static void step_bounding(struct drop_plan *plan, struct diag *d)
{
	char names[1024];
	if (!plan->change_bounding)
		return;
	if (plan->dry_run) {
		diag_note(d, NULL, "drop from the bounding set every capability but: %s",
			  mask_names(plan->bounding, names, sizeof(names)));
		diag_note(d, NULL,
			  "set and lock the securebits noroot and no_setuid_fixup (a setuid "
			  "root program grants nothing)");
		return;
	}
	for (int cap = 0; cap <= plan->last_cap; cap++) {
		/* One prctl per capability still there: a drop is on the path
		 * of every priv_init and rerun. */
		if ((plan->bounding & bit(cap)) || !(plan->bounding_before & bit(cap)))
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
	if (geteuid() != 0 && current_groups(&now, &now_count) == 0 &&
	    gids_equal(now, now_count, plan->groups, plan->group_count)) {
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
			  user_text(s, who, sizeof(who)));
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
		if ((effective & bit(cap)) &&
		    cap_set_flag(caps, CAP_EFFECTIVE, 1, &value, CAP_SET) != 0)
			goto fail;
		if ((permitted & bit(cap)) &&
		    cap_set_flag(caps, CAP_PERMITTED, 1, &value, CAP_SET) != 0)
			goto fail;
		if ((inheritable & bit(cap)) &&
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
				  mask_names(plan->ambient, names, sizeof(names)));
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
		if (!(plan->ambient & bit(cap)))
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
		   mask_names(have, have_names, sizeof(have_names)),
		   mask_names(want, want_names, sizeof(want_names)));
}

static void step_verify(struct drop_plan *plan, struct diag *d)
{
	const struct policy_security *s = plan->scope;
	bool can_setuid = plan->keep_root || (plan->permitted & bit(CAP_SETUID));
	bool can_setgid = plan->keep_root || (plan->permitted & bit(CAP_SETGID));
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
	if (current_groups(&groups, &group_count) != 0)
		drop_fatal("verification", errno, "getgroups: %s", strerror(errno));
	bool groups_right = gids_equal(groups, group_count, plan->groups, plan->group_count);
	free(groups);
	if (!groups_right)
		drop_fatal("verification", 0, "the supplementary groups are not the ones asked");

	if (plan->change_caps) {
		uint64_t eff, prm, inh;
		if (current_caps(plan->last_cap, &eff, &prm, &inh) != 0)
			drop_fatal("verification", errno, "cap_get_proc: %s", strerror(errno));
		verify_mask("effective", eff, plan->effective);
		verify_mask("permitted", prm, plan->permitted);
		verify_mask("inheritable", inh, plan->inheritable);
		/* The kernel keeps ambient within permitted and inheritable:
		 * only those capabilities can be ambient. */
		verify_mask("ambient", current_ambient(plan->last_cap, prm & inh), plan->ambient);
	}
	if (plan->change_bounding) {
		verify_mask("bounding", current_bounding(plan->last_cap), plan->bounding);
		unsigned bits = cap_get_secbits();
		if ((bits & DROP_SECUREBITS) != DROP_SECUREBITS)
			drop_fatal("verification", 0, "securebits are 0x%x, missing 0x%x", bits,
				   DROP_SECUREBITS & ~bits);
	}
	if ((plan->flags & DROP_NO_NEW_PRIVS) && prctl(PR_GET_NO_NEW_PRIVS, 0L, 0L, 0L, 0L) != 1)
		drop_fatal("verification", 0, "no_new_privs is not set");
	if (plan->filter && prctl(PR_GET_SECCOMP, 0L, 0L, 0L, 0L) != 2)
		drop_fatal("verification", 0, "the namespace filter is not in force");

	/* The proof that matters: try to become root again. */
	if (s->uid != 0 && !can_setuid && setuid(0) != -1)
		drop_fatal("verification", 0, "setuid(0) succeeded after the drop");
	if (s->gid != 0 && !can_setgid && setgid(0) != -1)
		drop_fatal("verification", 0, "setgid(0) succeeded after the drop");
}

/* --- the entry point ------------------------------------------------------ */

int drop_apply(const struct policy_security *s, unsigned flags, struct diag *d)
{
	return drop_apply_in(s, -1, flags, d);
}

int drop_apply_in(const struct policy_security *s, int jail, unsigned flags, struct diag *d)
{
	struct drop_plan plan;
	if (plan_make(&plan, s, jail, flags, d) != 0)
		return -1;

	/* From here on nothing returns an error: see drop_fatal(). */
	step_chroot(&plan, d);
	step_filter(&plan, d);
	step_bounding(&plan, d);
	step_groups(&plan, d);
	step_ids(&plan, d);
	step_caps(&plan, d);
	step_no_new_privs(&plan, d);
	step_verify(&plan, d);

	plan_free(&plan);
	return 0;
}
