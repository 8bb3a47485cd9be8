/* A compromised program with a mount namespace of its own
 * (tests/helpers/ns_evil): it binds a secret file over a granted one, or
 * the whole system into a granted directory, and asks for relative paths.
 * The monitor resolves in its own view and refuses (EXDEV) what the program
 * can only name through its own namespace; by default the program cannot
 * make a namespace at all (the seccomp filter of the drop), neither can its
 * priv_fork children nor the processes of priv_rerunas. And FIFOs swapped
 * in under every open never hang the monitor. As root, with the users
 * pmtestns1 and pmtestns2. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "testutil.h"

static char *dir;
static char out[1 << 16];
static char err[1 << 14];
static char audit[1 << 18];

/* `text` with every "@" replaced by the test directory. */
static void expand(const char *text, char *buf, size_t cap)
{
	size_t o = 0;
	for (const char *p = text; *p && o < cap - 256; p++) {
		if (*p == '@')
			o += (size_t)snprintf(buf + o, cap - o, "%s", dir);
		else
			buf[o++] = *p;
	}
	buf[o] = '\0';
}

static void put(const char *name, const char *text, mode_t mode)
{
	char *p = pmtest_write_file(dir, name, text);
	cr_assert(chmod(p, mode) == 0);
	free(p);
}

static void mkdir_in(const char *name, mode_t mode, const char *owner)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert(mkdir(p, mode) == 0);
	cr_assert(chmod(p, mode) == 0);
	if (owner) {
		struct passwd *pw = getpwnam(owner);
		cr_assert(pw && chown(p, pw->pw_uid, pw->pw_gid) == 0);
	}
}

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	pmtest_user_ensure("pmtestns1");
	pmtest_user_ensure("pmtestns2");
	dir = pmtest_tmpdir();
	put("granted", "granted\n", 0600);
	put("secret", "secret\n", 0600);
	mkdir_in("rw", 0755, NULL);
	mkdir_in("rw/sub", 0755, NULL);
	put("rw/file", "rwfile\n", 0600);
	mkdir_in("victims", 0755, NULL);
	put("victims/victim", "victim\n", 0644);
	mkdir_in("fifo", 0755, "pmtestns1");
	mkdir_in("fifoao", 0755, "pmtestns1");
	mkdir_in("ro", 0755, NULL);
	char p[PATH_MAX], l[PATH_MAX];
	snprintf(p, sizeof(p), "%s/ro/p", dir);
	cr_assert(mkfifo(p, 0644) == 0);
	snprintf(l, sizeof(l), "%s/ro/l", dir);
	cr_assert(symlink(p, l) == 0);
}

static void teardown(void)
{
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

#define slurp(name, buf, cap) pmtest_slurp(dir, (name), (buf), (cap))

/* The policy: the grants every test uses, then `extra`. */
static void policy(const char *extra)
{
	char text[4096], buf[8192];
	snprintf(text, sizeof(text),
		 "unpriv_user pmtestns1\n"
		 "open_ro { @/granted }\n"
		 "open_rw { @/rw/** }\n"
		 "unlink { @/rw/** }\n"
		 "allow_rerun true\n"
		 "run_as { pmtestns2 }\n"
		 "fork true\n"
		 "%s",
		 extra);
	expand(text, buf, sizeof(buf));
	free(pmtest_write_file(dir, "t", buf));
}

/* Run the helper with STEPS ("@" is the test directory); returns its exit
 * status (or 128 + signal). */
static int run(const char *steps)
{
	char expanded[4096], cmd[9000];
	const char *build = getenv("BUILD");
	char helper[PATH_MAX], rel[256];
	snprintf(rel, sizeof(rel), "%s/tests/helpers/ns_evil", build && *build ? build : "build");
	cr_assert(realpath(rel, helper), "no helper %s", rel);
	expand(steps, expanded, sizeof(expanded));
	snprintf(cmd, sizeof(cmd),
		 "cd / && PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json "
		 "timeout -s KILL 30 %s t %s >%s/out 2>%s/err </dev/null",
		 dir, dir, helper, expanded, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	slurp("audit.json", audit, sizeof(audit));
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void expect(const char *steps, const char *want)
{
	char expanded[8192];
	expand(want, expanded, sizeof(expanded));
	int rc = run(steps);
	cr_assert_eq(rc, 0, "exit status %d for %s\nstdout:\n%s\nstderr:\n%s", rc, steps, out,
		     err);
	cr_assert_str_eq(out, expanded, "for %s\nstderr:\n%s\naudit:\n%s", steps, err, audit);
}

static void expect_file(const char *name, const char *text)
{
	char buf[256];
	slurp(name, buf, sizeof(buf));
	cr_assert_str_eq(buf, text, "%s was changed", name);
}

static void refusal_audited(void)
{
	cr_assert(strstr(audit, "another mount namespace") != NULL, "no audited refusal:\n%s",
		  audit);
	cr_assert(strstr(audit, "\"secret\"") == NULL && strstr(audit, "/secret\",") == NULL,
		  "the secret was decided on:\n%s", audit);
}

TestSuite(ns, .init = setup, .fini = teardown, .timeout = 120);

/* --- relative paths in the monitor's view ------------------------------- */

Test(ns, relative_paths_work_without_a_namespace)
{
	policy("");
	expect("cd @ open granted ro cd @/rw open file rw open ../granted ro",
	       "open OK granted\nopen OK rwfile\nopen OK granted\n");
}

Test(ns, a_program_in_a_chroot_names_files_in_the_monitors_view)
{
	mkdir_in("jail", 0755, NULL);
	put("jail/inside", "inside\n", 0600);
	mkdir_in("jail/sub", 0755, NULL);
	policy("chroot @/jail\nopen_ro { @/jail/inside }\n");
	/* Relative paths start at its working directory as the monitor sees
	 * it (inside the jail); absolute paths are the monitor's. */
	expect("open inside ro cd sub open ../inside ro open @/granted ro open /inside ro exit",
	       "open OK inside\nopen OK inside\nopen OK granted\nopen EACCES\n");
}

Test(ns, a_secret_bound_over_a_granted_file_is_refused)
{
	policy("allow_namespaces true\n");
	/* The absolute path means the monitor's file; the relative one would
	 * mean the program's bind mount. */
	expect("ns bind @/secret @/granted cd @ open granted ro open @/granted ro",
	       "open EXDEV\nopen OK granted\n");
	refusal_audited();
}

Test(ns, a_secret_bound_over_a_file_of_a_read_write_tree_is_refused)
{
	policy("allow_namespaces true\n");
	expect("ns bind @/secret @/rw/file cd @/rw open file rw cd @ open rw/file rw",
	       "open EXDEV\nopen EXDEV\n");
	refusal_audited();
	expect_file("secret", "secret\n");
}

Test(ns, the_system_bound_into_a_granted_tree_is_neither_unlinked_nor_created_in)
{
	policy("allow_namespaces true\n");
	expect("ns bind / @/rw/sub cd @/rw unlink sub@/victims/victim "
	       "open sub@/victims/new creat cd @/rw/sub/etc open hostname ro",
	       "unlink EXDEV\nopen EXDEV\nopen EXDEV\n");
	refusal_audited();
	expect_file("victims/victim", "victim\n");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/victims/new", dir);
	cr_assert(access(p, F_OK) != 0, "the program created %s", p);
}

Test(ns, a_rerun_never_starts_in_the_programs_namespace)
{
	policy("allow_namespaces true\n");
	expect("cd @ rerun pmtestns2", "rerun ran in @\nrerun waited\n");
	expect("ns bind @/secret @/granted cd @ rerun pmtestns2", "rerun EXDEV\n");
	refusal_audited();
}

/* --- the filter ------------------------------------------------------------ */

#if defined(__x86_64__)
#define I386 "unshare32=EPERM "
#else
#define I386 ""
#endif
#define REFUSED                                                                          \
	"unshare=EPERM clone=EPERM setns=EPERM mount=EPERM chroot=EPERM fsopen=EPERM "     \
	"open_tree=EPERM clone3=ENOSYS " I386 "seccomp=2\n"

Test(ns, the_program_its_children_and_its_reruns_make_no_namespace)
{
	policy("");
	expect("filter forkfilter rerunfilter pmtestns2",
	       "program " REFUSED "child " REFUSED "rerun " REFUSED "rerun waited\n");
	/* And so the attack stops at its first step. */
	int rc = run("ns bind @/secret @/granted cd @ open granted ro");
	cr_assert_eq(rc, 3, "status %d\n%s", rc, out);
	cr_assert_str_eq(out, "ns EPERM\n");
}

/* A command of priv_popen_as (and a program of priv_execve) runs for the
 * program: the filter holds there too. */
#define POPEN_UNSHARE "popen pmtestns2 'unshare --user --mount true 2>/dev/null; echo $?'"

Test(ns, a_command_run_for_the_program_makes_no_namespace)
{
	if (access("/usr/bin/unshare", X_OK) != 0)
		cr_skip_test("needs /usr/bin/unshare (util-linux)");
	policy("");
	expect(POPEN_UNSHARE, "popen 1\n");
}

Test(ns, allow_namespaces_turns_the_filter_off)
{
	policy("allow_namespaces true\n");
	cr_assert_eq(run("filter"), 0, "%s%s", out, err);
	cr_assert(strncmp(out, "program unshare=OK ", 19) == 0, "%s", out);
	cr_assert(strstr(out, "seccomp=0\n") != NULL, "%s", out);
	if (access("/usr/bin/unshare", X_OK) == 0)
		expect(POPEN_UNSHARE, "popen 0\n");
}

/* --- FIFOs never stall the monitor ----------------------------------------- */

Test(ns, fifos_swapped_in_under_every_open_are_answered)
{
	policy("open_rw { @/fifo/** }\nopen_ao { @/fifoao/** }\nopen_ro { @/ro/** }\n");
	char steps[2048];
	/* A FIFO that is there all along, asked for directly, through a
	 * symlink and relatively: opened non-blocking, never waited on. */
	snprintf(steps, sizeof(steps),
		 "open @/ro/p ro open @/ro/l ro cd @/ro open p ro open l ro "
		 /* Names that come and go as FIFOs, symlinks to FIFOs or a
		  * file renamed over by a FIFO, while the monitor creates or
		  * opens them: every access mode, with and without O_EXCL. */
		 "cd @/fifo race fifo x %d 1000 race fifo x %d 1000 race fifo x %d 1000 "
		 "race fifo x %d 1000 race fifolink x %d 1000 race fiforename x %d 1000 "
		 "race fiforename x %d 1000 cd @/fifoao race fifo x %d 1000 "
		 /* And the monitor still serves. */
		 "open @/granted ro",
		 O_RDONLY | O_CREAT, O_WRONLY | O_CREAT, O_WRONLY | O_CREAT | O_TRUNC,
		 O_WRONLY | O_CREAT | O_EXCL, O_WRONLY | O_CREAT, O_RDONLY, O_WRONLY,
		 O_WRONLY | O_APPEND | O_CREAT);
	expect(steps, "open OK \nopen OK \nopen OK \nopen OK \n"
		      "race answered 1000\nrace answered 1000\nrace answered 1000\n"
		      "race answered 1000\nrace answered 1000\nrace answered 1000\n"
		      "race answered 1000\nrace answered 1000\n"
		      "open OK granted\n");
}

/* --- a chroot is the directory that was checked ------------------------------ */

Test(ns, a_jail_swapped_for_a_symlink_between_check_and_chroot_is_never_escaped)
{
	/* The program owns the directory that holds the jail: it can rename
	 * the jail and put a symlink to / in its place at any moment. */
	mkdir_in("jails", 0755, "pmtestns1");
	mkdir_in("jails/jail", 0755, NULL);
	put("jails/jail/jail-marker", "", 0644);
	policy("run { user { pmtestns2 } chroot @/jails/jail }\n");
	int rc = run("jailrace @/jails/jail pmtestns2 400");
	cr_assert_eq(rc, 0, "%s%s", out, err);
	long escaped = -1, jailed = -1;
	cr_assert(sscanf(out, "jailrace escaped %ld jailed %ld", &escaped, &jailed) == 2, "%s", out);
	cr_assert_eq(escaped, 0, "%ld of 400 reruns ran outside the jail (%ld inside)", escaped,
		     jailed);
	cr_assert_gt(jailed, 0, "no rerun ran at all: %s%s", out, err);
	cr_log_info("%s", out);
}

/* --- the option ------------------------------------------------------------- */

static bool allow_namespaces_of(const char *text)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("t", text, strlen(text), &d);
	cr_assert(p != NULL, "%s: %s", text, d.count ? d.entries[0].text : "?");
	bool v = p->allow_namespaces.value;
	policy_free(p);
	diag_free(&d);
	return v;
}

Test(ns_option, allow_namespaces_is_a_boolean_and_off_by_default)
{
	cr_assert(!allow_namespaces_of("fork true\n"));
	cr_assert(allow_namespaces_of("allow_namespaces true\n"));
	cr_assert(allow_namespaces_of("Allow_Namespaces = yes\n"));
	cr_assert(!allow_namespaces_of("allow_namespaces off\n"));
	struct diag d;
	diag_init(&d);
	const char *bad = "allow_namespace true\n";
	struct policy *p = conf_load_buffer("t", bad, strlen(bad), &d);
	cr_assert(p == NULL);
	cr_assert(d.count > 0 && strstr(d.entries[0].text, "allow_namespaces") != NULL, "%s",
		  d.count ? d.entries[0].text : "");
	diag_free(&d);
}
