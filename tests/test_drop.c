/* drop_apply(): every credential change happens in its own forked child,
 * which reports /proc/self/status; the parent compares it with values
 * computed from the request alone (getpwnam, cap_from_text). */
#include <pthread.h>
#include <seccomp.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <linux/securebits.h>

#include "scope/drop.h"
#include "drop_testutil.h"

#define SECUREBITS_LOCKED                                                                  \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                   \
	 SECBIT_NO_SETUID_FIXUP_LOCKED)

/* Real users and groups for this test process. */
static char user_name[40], group_a[40], group_b[40];
static char *tmp_dir;

static void setup(void)
{
	if (geteuid() != 0)
		return;
	pmdrop_name(user_name, sizeof(user_name), "du");
	pmdrop_name(group_a, sizeof(group_a), "dga");
	pmdrop_name(group_b, sizeof(group_b), "dgb");
	pmtest_user_ensure(user_name);
	pmtest_group_ensure(group_a);
	pmtest_group_ensure(group_b);
	tmp_dir = pmtest_tmpdir();
}

static void teardown(void)
{
	if (geteuid() != 0)
		return;
	pmtest_user_remove(user_name);
	pmtest_group_remove(group_a);
	pmtest_group_remove(group_b);
	pmtest_rmtree(tmp_dir);
	free(tmp_dir);
}

TestSuite(drop, .init = setup, .fini = teardown, .timeout = 60);

/* A resolved scope built by hand: the resolution is not under test here. */
struct scope {
	struct policy_security s;
	gid_t gids[8];
};

static void scope_init(struct scope *sc, const char *user, const char *group,
		       const char *const *groups, const char *caps)
{
	memset(sc, 0, sizeof(*sc));
	struct passwd *pw = getpwnam(user);
	cr_assert(pw != NULL, "no user %s", user);
	sc->s.present = true;
	sc->s.user.text = (char *)(uintptr_t)user;
	sc->s.uid = pw->pw_uid;
	sc->s.gid = pw->pw_gid;
	if (group) {
		struct group *gr = getgrnam(group);
		cr_assert(gr != NULL, "no group %s", group);
		sc->s.group.text = (char *)(uintptr_t)group;
		sc->s.gid = gr->gr_gid;
	}
	for (size_t i = 0; groups && groups[i]; i++) {
		struct group *gr = getgrnam(groups[i]);
		cr_assert(gr != NULL, "no group %s", groups[i]);
		sc->gids[i] = gr->gr_gid;
		sc->s.gid_count = i + 1;
	}
	sc->s.gids = sc->s.gid_count ? sc->gids : NULL;
	sc->s.supplemental_set = groups != NULL;
	if (caps) {
		sc->s.capabilities.text = (char *)(uintptr_t)caps;
		pmdrop_masks(caps, &sc->s.cap_effective, &sc->s.cap_permitted,
			     &sc->s.cap_inheritable);
	}
	sc->s.resolved = true;
}

/* --- the child side ------------------------------------------------------ */

struct drop_job {
	const struct policy_security *s;
	unsigned flags;
	void (*before)(void); /* runs in the child before the drop */
};

static void print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		fprintf(stderr, "%s\n", d->entries[i].text);
}

/* Drop, then report the status and whether root can be regained. */
static void child_drop(void *arg)
{
	const struct drop_job *job = arg;
	if (job->before)
		job->before();
	struct diag d;
	diag_init(&d);
	int rc = drop_apply(job->s, job->flags, &d);
	print_diag(&d);
	if (rc != 0)
		_exit(10);
	pmdrop_print_status();
	printf("XSecurebits:\t%x\n", cap_get_secbits());
	errno = 0;
	int r = setuid(0);
	printf("XSetuid0:\t%s\n", r == 0 ? "ok" : strerrorname_np(errno));
	errno = 0;
	r = setgid(0);
	printf("XSetgid0:\t%s\n", r == 0 ? "ok" : strerrorname_np(errno));
	errno = 0;
	r = cap_set_secbits(0);
	printf("XClearSecurebits:\t%s\n", r == 0 ? "ok" : strerrorname_np(errno));
	char cwd[4096];
	printf("XCwd:\t%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
}

static struct pmdrop_child run_drop(const struct policy_security *s, unsigned flags,
				    void (*before)(void))
{
	struct drop_job job = {s, flags, before};
	return pmdrop_fork(child_drop, &job, 20);
}

/* Expected status of a drop to `s`, from the request alone. */
static void expected_for(const struct policy_security *s, unsigned flags,
			 struct pmdrop_status *want)
{
	uint64_t inh = s->cap_inheritable, prm = s->cap_permitted, eff = s->cap_effective;
	uint64_t amb = 0;
	if (flags & DROP_FOR_EXEC) {
		inh |= prm;
		amb = prm;
	}
	pmdrop_expect(want, s->uid, s->gid, s->gids, s->gid_count, inh, prm, eff,
		      eff | prm | inh, amb, (flags & DROP_NO_NEW_PRIVS) ? 1 : 0);
}

static void expect_dropped(const struct pmdrop_child *c, const struct policy_security *s,
			   unsigned flags, const char *what)
{
	cr_assert_eq(pmdrop_exit_status(c), 0, "%s: the drop failed (status %d): %s", what,
		     c->status, c->err);
	struct pmdrop_status got, want;
	cr_assert_eq(pmdrop_parse_status(c->out, &got), 0, "%s: no status:\n%s", what, c->out);
	expected_for(s, flags, &want);
	pmdrop_assert_status_eq(&got, &want, what);

	char value[64];
	pmdrop_field(c->out, "XSecurebits", value, sizeof(value));
	unsigned bits = (unsigned)strtoul(value, NULL, 16);
	cr_expect_eq(bits & SECUREBITS_LOCKED, SECUREBITS_LOCKED,
		     "%s: securebits 0x%x lack noroot/no_setuid_fixup (locked)", what, bits);
	pmdrop_field(c->out, "XClearSecurebits", value, sizeof(value));
	cr_expect_str_eq(value, "EPERM", "%s: the securebits could be cleared again", what);
	if (s->uid != 0) {
		pmdrop_field(c->out, "XSetuid0", value, sizeof(value));
		cr_expect_str_eq(value, "EPERM", "%s: setuid(0) after the drop", what);
		pmdrop_field(c->out, "XSetgid0", value, sizeof(value));
		cr_expect_str_eq(value, "EPERM", "%s: setgid(0) after the drop", what);
	}
}

/* --- a table of scopes ---------------------------------------------------- */

struct table_case {
	const char *what;
	const char *user; /* NULL: the test's user */
	const char *group;
	int extra_groups; /* 0, 1 or 2 of the test's groups */
	const char *caps;
	unsigned flags;
};

static const struct table_case table[] = {
	{"nobody, nothing kept", "nobody", NULL, 0, NULL, 0},
	{"user with its group", NULL, NULL, 0, NULL, 0},
	{"user, other group, two supplementary", NULL, "*a", 2, NULL, 0},
	{"bind below 1024", NULL, NULL, 0, "cap_net_bind_service+ep", 0},
	{"bind below 1024, for exec", NULL, NULL, 0, "cap_net_bind_service+ep", DROP_FOR_EXEC},
	{"permitted only, and an inheritable", NULL, NULL, 1, "cap_chown,cap_kill+p cap_net_raw+i",
	 0},
	{"several, for exec, no_new_privs", "nobody", NULL, 1,
	 "cap_net_admin,cap_net_raw+ep cap_setuid+p", DROP_FOR_EXEC | DROP_NO_NEW_PRIVS},
	{"empty capability text", NULL, NULL, 0, "", DROP_NO_NEW_PRIVS},
	{"root with capabilities", "root", NULL, 0, "cap_net_bind_service,cap_dac_override+ep", 0},
	/* Written, even empty, the option makes root give up its capabilities. */
	{"root, empty capability text", "root", NULL, 0, "", DROP_FOR_EXEC},
};

Test(drop, scope_table)
{
	PMTEST_SKIP_UNLESS_ROOT();
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct table_case *t = &table[i];
		const char *groups[3] = {NULL, NULL, NULL};
		if (t->extra_groups >= 1)
			groups[0] = group_a;
		if (t->extra_groups >= 2)
			groups[1] = group_b;
		const char *group = t->group ? (strcmp(t->group, "*a") == 0 ? group_b : t->group)
					     : NULL;
		struct scope sc;
		scope_init(&sc, t->user ? t->user : user_name, group,
			   t->extra_groups ? groups : NULL, t->caps);
		struct pmdrop_child c = run_drop(&sc.s, t->flags, NULL);
		expect_dropped(&c, &sc.s, t->flags, t->what);
		pmdrop_child_free(&c);
	}
}

static void join_root_groups(void)
{
	gid_t groups[] = {0, getgrnam(group_a)->gr_gid};
	if (setgroups(2, groups) != 0)
		_exit(126);
}

/* A root process with supplementary groups must not hand them down. */
Test(drop, root_groups_never_inherited)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	struct pmdrop_child c = run_drop(&sc.s, 0, join_root_groups);
	expect_dropped(&c, &sc.s, 0, "groups of root");
	pmdrop_child_free(&c);

	const char *groups[] = {group_b, NULL};
	scope_init(&sc, user_name, NULL, groups, NULL);
	c = run_drop(&sc.s, 0, join_root_groups);
	expect_dropped(&c, &sc.s, 0, "groups of root, replaced");
	pmdrop_child_free(&c);
}

/* The seeds' stand-alone example: a user, its group, port binding kept. */
Test(drop, seed_single_node)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, user_name, NULL, "cap_net_bind_service+ep");
	struct pmdrop_child c = run_drop(&sc.s, 0, NULL);
	expect_dropped(&c, &sc.s, 0, "single node");
	pmdrop_child_free(&c);
}

/* The seeds' cluster example asks for four capabilities; whichever of them
 * this kernel's bounding set lacks must be refused by name, before
 * anything changes. */
Test(drop, seed_cluster_follows_bounding_set)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *text = "cap_net_admin+ep cap_net_bind_service+ep cap_net_raw+ep "
			   "cap_sys_resource+ep";
	struct scope sc;
	scope_init(&sc, user_name, user_name, NULL, text);
	uint64_t bounding = pmdrop_bounding_now();
	uint64_t missing = sc.s.cap_permitted & ~bounding;

	struct pmdrop_child c = run_drop(&sc.s, 0, NULL);
	if (!missing) {
		expect_dropped(&c, &sc.s, 0, "cluster");
	} else {
		cr_assert_eq(pmdrop_exit_status(&c), 10, "the cluster scope was not refused: %s",
			     c.err);
		for (int cap = 0; cap < 64; cap++) {
			if (!(missing & ((uint64_t)1 << cap)))
				continue;
			char *name = cap_to_name((cap_value_t)cap);
			char expect[128];
			snprintf(expect, sizeof(expect),
				 "capability %s is not in this system's bounding set", name);
			cr_expect(strstr(c.err, expect) != NULL, "want \"%s\" in: %s", expect,
				  c.err);
			cap_free(name);
		}
		for (int cap = 0; cap < 64; cap++) {
			if (!((sc.s.cap_permitted & ~missing) & ((uint64_t)1 << cap)))
				continue;
			char *name = cap_to_name((cap_value_t)cap);
			char present[128];
			snprintf(present, sizeof(present), "capability %s is", name);
			cr_expect(strstr(c.err, present) == NULL, "%s is in the bounding set: %s",
				  name, c.err);
			cap_free(name);
		}
	}
	pmdrop_child_free(&c);
}

/* --- refusals: nothing changes ------------------------------------------- */

/* In the child: refuse, and show that the process is still what it was. */
struct refusal_job {
	const struct policy_security *s;
	unsigned flags;
	void (*before)(void);
};

static void child_refused(void *arg)
{
	const struct refusal_job *job = arg;
	if (job->before)
		job->before();
	char before_status[8192] = "", after_status[8192] = "";
	char cwd_before[4096] = "", cwd_after[4096] = "";
	FILE *f = fopen("/proc/self/status", "re");
	size_t n = f ? fread(before_status, 1, sizeof(before_status) - 1, f) : 0;
	before_status[n] = '\0';
	if (f)
		fclose(f);
	if (!getcwd(cwd_before, sizeof(cwd_before)))
		_exit(123);
	struct diag d;
	diag_init(&d);
	int rc = drop_apply(job->s, job->flags, &d);
	print_diag(&d);
	f = fopen("/proc/self/status", "re");
	n = f ? fread(after_status, 1, sizeof(after_status) - 1, f) : 0;
	after_status[n] = '\0';
	if (f)
		fclose(f);
	if (!getcwd(cwd_after, sizeof(cwd_after)))
		_exit(124);
	struct pmdrop_status a, b;
	if (pmdrop_parse_status(before_status, &a) || pmdrop_parse_status(after_status, &b))
		_exit(125);
	bool unchanged = memcmp(&a, &b, sizeof(a)) == 0 && strcmp(cwd_before, cwd_after) == 0 &&
			 d.errors > 0;
	_exit(rc == -1 ? (unchanged ? 30 : 31) : 32);
}

/* Expect a refusal whose message contains `message`, with the process
 * unchanged. */
static void expect_refused(const struct policy_security *s, unsigned flags, void (*before)(void),
			   const char *message)
{
	struct refusal_job job = {s, flags, before};
	struct pmdrop_child c = pmdrop_fork(child_refused, &job, 20);
	int rc = pmdrop_exit_status(&c);
	cr_expect_neq(rc, 32, "drop_apply succeeded; wanted \"%s\"", message);
	cr_expect_neq(rc, 31, "refused, but the process changed");
	cr_expect_eq(rc, 30, "child status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, message) != NULL, "want \"%s\" in: %s", message, c.err);
	pmdrop_child_free(&c);
}

static const char *sample_cap = "cap_sys_ptrace";

static void drop_sample_from_bounding(void)
{
	cap_value_t cap;
	if (cap_from_name(sample_cap, &cap) != 0 || prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
		_exit(126);
}

Test(drop, capability_not_in_bounding_set)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, "cap_sys_ptrace+ep cap_net_raw+ep");
	expect_refused(&sc.s, 0, drop_sample_from_bounding,
		       "capability cap_sys_ptrace is not in this system's bounding set");
}

Test(drop, unresolved_scope)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	sc.s.resolved = false;
	expect_refused(&sc.s, 0, NULL, "not resolved");
}

Test(drop, effective_but_not_permitted)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, "cap_chown+e");
	expect_refused(&sc.s, 0, NULL, "effective capabilities must also be permitted (cap_chown)");
}

static void become_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		_exit(127);
	pmdrop_become(pw->pw_uid, pw->pw_gid);
}

Test(drop, not_root_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	expect_refused(&sc.s, 0, become_nobody, "not running as root (uid 65534)");
}

Test(drop, not_root_with_capabilities_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, "nobody", NULL, NULL, "cap_net_bind_service+ep");
	expect_refused(&sc.s, 0, become_nobody,
		       "does not hold cap_net_bind_service, so it cannot keep it");
}

/* Asking an unprivileged process for what it already is works. */
Test(drop, not_root_same_user_allowed)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, "nobody", NULL, NULL, NULL);
	struct pmdrop_child c = run_drop(&sc.s, DROP_NO_NEW_PRIVS, become_nobody);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "not root: the bounding set and securebits stay") != NULL,
		  "%s", c.err);
	struct pmdrop_status got;
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0);
	cr_expect_str_eq(got.uid, "65534 65534 65534 65534");
	cr_expect_str_eq(got.cap_prm, "0000000000000000");
	cr_expect_str_eq(got.no_new_privs, "1");
	pmdrop_child_free(&c);
}

static void lose_setpcap(void)
{
	cap_t caps = cap_get_proc();
	cap_value_t cap = CAP_SETPCAP;
	if (!caps || cap_set_flag(caps, CAP_EFFECTIVE, 1, &cap, CAP_CLEAR) != 0 ||
	    cap_set_proc(caps) != 0)
		_exit(126);
	cap_free(caps);
}

Test(drop, root_lacking_a_needed_capability)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	expect_refused(&sc.s, 0, lose_setpcap, "this root process lacks cap_setpcap");
}

static void *idle_thread(void *arg)
{
	pause();
	return arg;
}

static void start_thread(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
		_exit(126);
}

Test(drop, threads_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	expect_refused(&sc.s, 0, start_thread, "the process has 2 threads");
}

/* --- the shared first part (drop_apply_shared) -------------------------------- */

static void shared_part(void)
{
	struct diag d;
	diag_init(&d);
	if (drop_apply_shared(DROP_NO_NAMESPACES, &d) != 0) {
		print_diag(&d);
		_exit(40);
	}
	diag_free(&d);
}

/* Not the namespace filter: one that allows everything. */
static void other_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_load(ctx) != 0)
		_exit(41);
	seccomp_release(ctx);
}

Test(drop, shared_part_then_the_rest_proven)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	unsigned flags = DROP_NO_NAMESPACES | DROP_SHARED_DONE;
	struct pmdrop_child c = run_drop(&sc.s, flags, shared_part);
	expect_dropped(&c, &sc.s, flags, "after the shared part");
	pmdrop_child_free(&c);
}

Test(drop, shared_done_without_the_filter_is_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	expect_refused(&sc.s, DROP_NO_NAMESPACES | DROP_SHARED_DONE, NULL,
		       "the namespace filter the parent loaded is not in force");
}

/* Another filter in force passes for the seccomp mode, not for the proof. */
Test(drop, shared_done_with_another_filter_dies_at_the_proof)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	struct pmdrop_child c =
		run_drop(&sc.s, DROP_NO_NAMESPACES | DROP_SHARED_DONE, other_filter);
	cr_expect_eq(pmdrop_exit_status(&c), DROP_FATAL_STATUS, "status %d: %s", c.status,
		     c.err);
	cr_expect(strstr(c.err, "setns() is not refused") != NULL, "%s", c.err);
	pmdrop_child_free(&c);
}

Test(drop, shared_done_with_a_chroot_is_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	sc.s.chroot.text = (char *)(uintptr_t)"/";
	expect_refused(&sc.s, DROP_NO_NAMESPACES | DROP_SHARED_DONE, shared_part,
		       "cannot chroot");
}

/* --- chroot ----------------------------------------------------------------- */

static char *make_jail(const char *name, mode_t mode, uid_t owner)
{
	char *path = NULL;
	cr_assert(asprintf(&path, "%s/%s", tmp_dir, name) > 0);
	cr_assert(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
	cr_assert(chmod(path, mode) == 0);
	cr_assert(chown(path, owner, 0) == 0);
	return path;
}

/* In the jail: report what "/" is and where we are. /proc is not there. */
static void child_chroot(void *arg)
{
	const struct policy_security *s = arg;
	struct diag d;
	diag_init(&d);
	int rc = drop_apply(s, 0, &d);
	print_diag(&d);
	if (rc != 0)
		_exit(10);
	struct stat root;
	char cwd[4096];
	if (stat("/", &root) != 0 || !getcwd(cwd, sizeof(cwd)))
		_exit(11);
	printf("XRoot:\t%ju:%ju\nXCwd:\t%s\nXUid:\t%u\n", (uintmax_t)root.st_dev,
	       (uintmax_t)root.st_ino, cwd, (unsigned)getuid());
	printf("XMarker:\t%s\n", access("/inside-the-jail", F_OK) == 0 ? "yes" : "no");
}

Test(drop, chroot_jail)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("jail", 0755, 0);
	free(pmtest_write_file(jail, "inside-the-jail", "x"));
	struct stat want;
	cr_assert(stat(jail, &want) == 0);
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	sc.s.chroot.text = jail;

	struct pmdrop_child c = pmdrop_fork(child_chroot, &sc.s, 20);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "status %d: %s", c.status, c.err);
	char value[256], expect[64];
	snprintf(expect, sizeof(expect), "%ju:%ju", (uintmax_t)want.st_dev,
		 (uintmax_t)want.st_ino);
	pmdrop_field(c.out, "XRoot", value, sizeof(value));
	cr_expect_str_eq(value, expect, "\"/\" in the child is not the jail");
	pmdrop_field(c.out, "XCwd", value, sizeof(value));
	cr_expect_str_eq(value, "/");
	pmdrop_field(c.out, "XMarker", value, sizeof(value));
	cr_expect_str_eq(value, "yes");
	pmdrop_field(c.out, "XUid", value, sizeof(value));
	snprintf(expect, sizeof(expect), "%u", (unsigned)sc.s.uid);
	cr_expect_str_eq(value, expect);
	pmdrop_child_free(&c);
	free(jail);
}

static void expect_jail_refused(const char *jail, const char *message)
{
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	sc.s.chroot.text = (char *)(uintptr_t)jail;
	expect_refused(&sc.s, 0, NULL, message);
}

Test(drop, chroot_missing)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char path[4200], message[4400];
	snprintf(path, sizeof(path), "%s/no-such-jail", tmp_dir);
	snprintf(message, sizeof(message), "chroot directory %s does not exist", path);
	expect_jail_refused(path, message);
}

Test(drop, chroot_not_a_directory)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *path = pmtest_write_file(tmp_dir, "plain-file", "x");
	char message[4400];
	snprintf(message, sizeof(message), "chroot %s is not a directory", path);
	expect_jail_refused(path, message);
	free(path);
}

Test(drop, chroot_not_root_owned)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("owned", 0755, getpwnam(user_name)->pw_uid);
	char message[4400];
	snprintf(message, sizeof(message), "chroot directory %s is owned by uid %u, not root",
		 jail, (unsigned)getpwnam(user_name)->pw_uid);
	expect_jail_refused(jail, message);
	free(jail);
}

Test(drop, chroot_group_writable)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("group-writable", 0775, 0);
	expect_jail_refused(jail, "is writable by its group (mode 0775): chmod go-w");
	free(jail);
}

Test(drop, chroot_other_writable)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("other-writable", 01777, 0);
	expect_jail_refused(jail, "is writable by group and others (mode 1777)");
	free(jail);
}

/* --- root as the target ---------------------------------------------------- */

Test(drop, root_with_capabilities_warns)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, "root", NULL, NULL, "cap_net_bind_service,cap_dac_override+ep");
	struct pmdrop_child c = run_drop(&sc.s, 0, NULL);
	expect_dropped(&c, &sc.s, 0, "root with capabilities");
	cr_expect(strstr(c.err, "warning: user root with capabilities") != NULL, "%s", c.err);
	pmdrop_child_free(&c);
}

Test(drop, root_without_capabilities_keeps_root)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct pmdrop_status before;
	FILE *f = fopen("/proc/self/status", "re");
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	cr_assert_eq(pmdrop_parse_status(text, &before), 0);

	struct scope sc;
	scope_init(&sc, "root", NULL, NULL, NULL);
	struct pmdrop_child c = run_drop(&sc.s, 0, NULL);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	cr_expect(strstr(c.err, "note: user root without capabilities: the process keeps full "
			       "root") != NULL,
		  "%s", c.err);
	struct pmdrop_status got;
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0);
	cr_expect_str_eq(got.uid, "0 0 0 0");
	cr_expect_str_eq(got.groups, "", "root's groups must not be kept");
	cr_expect_str_eq(got.cap_eff, before.cap_eff);
	cr_expect_str_eq(got.cap_prm, before.cap_prm);
	cr_expect_str_eq(got.cap_bnd, before.cap_bnd);
	pmdrop_child_free(&c);
}

/* --- after the drop, exec of a setuid-root program ----------------------- */

struct exec_job {
	const struct policy_security *s;
	unsigned flags;
	const char *program;
};

static void child_drop_exec(void *arg)
{
	const struct exec_job *job = arg;
	struct diag d;
	diag_init(&d);
	int rc = drop_apply(job->s, job->flags, &d);
	print_diag(&d);
	if (rc != 0)
		_exit(10);
	fflush(NULL);
	execl(job->program, job->program, "/proc/self/status", (char *)NULL);
	_exit(127);
}

/* NOROOT: a setuid-root program gains euid 0 but no capability; with
 * no_new_privs it does not even gain the uid. */
Test(drop, setuid_root_program_grants_nothing)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *cat = NULL;
	cr_assert(asprintf(&cat, "%s/suid-cat", tmp_dir) > 0);
	cr_assert_eq(pmtest_sh("cp /bin/cat '%s' && chown 0:0 '%s' && chmod 4755 '%s'", cat, cat,
			       cat),
		     0);
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	char want_uid[64];

	struct exec_job job = {&sc.s, 0, cat};
	struct pmdrop_child c = pmdrop_fork(child_drop_exec, &job, 20);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	struct pmdrop_status got;
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0, "%s", c.out);
	snprintf(want_uid, sizeof(want_uid), "%u 0 0 0", (unsigned)sc.s.uid);
	cr_expect_str_eq(got.uid, want_uid, "the setuid bit still sets the euid");
	cr_expect_str_eq(got.cap_prm, "0000000000000000", "NOROOT: no capability from euid 0");
	cr_expect_str_eq(got.cap_eff, "0000000000000000");
	pmdrop_child_free(&c);

	job.flags = DROP_NO_NEW_PRIVS;
	c = pmdrop_fork(child_drop_exec, &job, 20);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0, "%s", c.out);
	snprintf(want_uid, sizeof(want_uid), "%u %u %u %u", (unsigned)sc.s.uid,
		 (unsigned)sc.s.uid, (unsigned)sc.s.uid, (unsigned)sc.s.uid);
	cr_expect_str_eq(got.uid, want_uid, "no_new_privs: the setuid bit is ignored");
	cr_expect_str_eq(got.cap_prm, "0000000000000000");
	pmdrop_child_free(&c);
	free(cat);
}

/* --- dry run --------------------------------------------------------------- */

static void child_dry_run(void *arg)
{
	const struct policy_security *s = arg;
	char before[8192], after[8192], cwd_before[4096], cwd_after[4096];
	FILE *f = fopen("/proc/self/status", "re");
	size_t n = fread(before, 1, sizeof(before) - 1, f);
	before[n] = '\0';
	fclose(f);
	if (!getcwd(cwd_before, sizeof(cwd_before)))
		_exit(11);
	struct diag d;
	diag_init(&d);
	int rc = drop_apply(s, DROP_DRY_RUN | DROP_FOR_EXEC | DROP_NO_NEW_PRIVS, &d);
	print_diag(&d);
	f = fopen("/proc/self/status", "re");
	n = f ? fread(after, 1, sizeof(after) - 1, f) : 0;
	after[n] = '\0';
	if (f)
		fclose(f);
	if (!getcwd(cwd_after, sizeof(cwd_after)))
		_exit(12);
	struct pmdrop_status a, b;
	if (pmdrop_parse_status(before, &a) || pmdrop_parse_status(after, &b))
		_exit(13);
	printf("XRc:\t%d\nXUnchanged:\t%s\n", rc,
	       memcmp(&a, &b, sizeof(a)) == 0 && strcmp(cwd_before, cwd_after) == 0 ? "yes"
										 : "no");
}

Test(drop, dry_run_describes_and_changes_nothing)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("dry-jail", 0755, 0);
	struct scope sc;
	const char *groups[] = {group_a, NULL};
	scope_init(&sc, user_name, NULL, groups, "cap_net_bind_service+ep");
	sc.s.chroot.text = jail;
	struct pmdrop_child c = pmdrop_fork(child_dry_run, &sc.s, 20);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	char value[64];
	pmdrop_field(c.out, "XRc", value, sizeof(value));
	cr_expect_str_eq(value, "0", "%s", c.err);
	pmdrop_field(c.out, "XUnchanged", value, sizeof(value));
	cr_expect_str_eq(value, "yes");
	char want[4400];
	const char *steps[] = {
		"note: chroot to ",
		"note: drop from the bounding set every capability but: cap_net_bind_service",
		"note: set and lock the securebits noroot and no_setuid_fixup",
		"note: set the supplementary groups to exactly ",
		"note: set the real, effective and saved gid to ",
		"note: set the real, effective and saved uid to ",
		"note: set the capability sets to exactly \"cap_net_bind_service=eip\"",
		"note: raise the ambient set to cap_net_bind_service",
		"note: set no_new_privs",
		"note: verify that ids, groups and capability sets are exactly these, and that "
		"setuid(0) now fails",
	};
	const char *last = c.err;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const char *at = strstr(last, steps[i]);
		cr_expect(at != NULL, "step %zu (\"%s\") missing or out of order in:\n%s", i,
			  steps[i], c.err);
		if (at)
			last = at;
	}
	snprintf(want, sizeof(want), "chroot to %s, then chdir to /", jail);
	cr_expect(strstr(c.err, want) != NULL, "%s", c.err);
	snprintf(want, sizeof(want), "exactly %s(%u)", group_a, getgrnam(group_a)->gr_gid);
	cr_expect(strstr(c.err, want) != NULL, "%s", c.err);
	pmdrop_child_free(&c);
	free(jail);
}

Test(drop, dry_run_still_refuses)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	sc.s.chroot.text = "/nonexistent/jail";
	expect_refused(&sc.s, DROP_DRY_RUN, NULL,
		       "chroot directory /nonexistent/jail does not exist");
}

/* --- the fatal path ---------------------------------------------------------- */

/* Make one system call fail (or lie) from here on, the way a kernel or an
 * LSM might refuse it halfway through a drop. */
static void deny_syscall(int nr, int error)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO((unsigned)error), nr, 0) != 0 ||
	    seccomp_load(ctx) != 0)
		_exit(126);
	seccomp_release(ctx);
}

static void deny_setresuid(void)
{
	deny_syscall(SCMP_SYS(setresuid), EPERM);
}

static void fake_setuid_success(void)
{
	deny_syscall(SCMP_SYS(setuid), 0);
}

Test(drop, failure_after_the_first_change_is_fatal)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	struct pmdrop_child c = run_drop(&sc.s, 0, deny_setresuid);
	cr_expect_eq(pmdrop_exit_status(&c), DROP_FATAL_STATUS, "status %d: %s", c.status,
		     c.err);
	cr_expect(strstr(c.err, "dropping privileges failed at setresuid: to uid") != NULL,
		  "%s", c.err);
	cr_expect(strstr(c.err, "Operation not permitted") != NULL, "%s", c.err);
	cr_expect_str_eq(c.out, "", "the process went on after the failure");
	pmdrop_child_free(&c);
}

Test(drop, verification_catches_regained_root)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct scope sc;
	scope_init(&sc, user_name, NULL, NULL, NULL);
	struct pmdrop_child c = run_drop(&sc.s, 0, fake_setuid_success);
	cr_expect_eq(pmdrop_exit_status(&c), DROP_FATAL_STATUS, "status %d: %s", c.status,
		     c.err);
	cr_expect(strstr(c.err, "failed at verification: setuid(0) succeeded") != NULL, "%s",
		  c.err);
	pmdrop_child_free(&c);
}
