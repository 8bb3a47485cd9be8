/* The monitor, end to end: a real program split by priv_init (the helper
 * tests/helpers/monitor_prog) drops to nobody and asks for files and ports
 * that a policy written by each test grants or refuses. As root. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	signal(SIGPIPE, SIG_IGN);
	dir = pmtest_tmpdir();
}

static void teardown(void)
{
	pmtest_rmtree(dir);
	free(dir);
}

static const char *helper(void)
{
	static char path[256];
	const char *build = getenv("BUILD");
	snprintf(path, sizeof(path), "%s/tests/helpers/monitor_prog", build && *build ? build : "build");
	return path;
}

/* A file in the test directory, with `text` as its content, mode 0600:
 * nobody can read it without the monitor. */
static void file_at(const char *name, const char *text)
{
	char *p = pmtest_write_file(dir, name, text);
	cr_assert(chmod(p, 0600) == 0);
	free(p);
}

static void mkdir_at(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
}

static void symlink_at(const char *target, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
}

/* Write the policy `t` from a format where every "@" stands for the test
 * directory. */
static void policy(const char *text)
{
	char buf[8192];
	size_t o = 0;
	for (const char *p = text; *p && o < sizeof(buf) - 256; p++) {
		if (*p == '@')
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", dir);
		else
			buf[o++] = *p;
	}
	buf[o] = '\0';
	free(pmtest_write_file(dir, "t", buf));
}

static char out[1 << 16];
static char err[1 << 14];

#define slurp(name, buf, cap) pmtest_slurp(dir, (name), (buf), (cap))

/* Run the helper with ARGS (a shell fragment where "@" is the test
 * directory); returns its exit status (or 128 + signal). */
static int run(const char *args)
{
	char expanded[8192], cmd[9000];
	size_t o = 0;
	for (const char *p = args; *p && o < sizeof(expanded) - 256; p++) {
		if (*p == '@')
			o += (size_t)snprintf(expanded + o, sizeof(expanded) - o, "%s", dir);
		else
			expanded[o++] = *p;
	}
	expanded[o] = '\0';
	snprintf(cmd, sizeof(cmd),
		 "umask 022; PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json %s t %s "
		 ">%s/out 2>%s/err </dev/null",
		 dir, dir, helper(), expanded, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void expect(const char *args, const char *want)
{
	int rc = run(args);
	cr_assert_eq(rc, 0, "exit status %d for %s\nstdout:\n%s\nstderr:\n%s", rc, args, out, err);
	cr_assert_str_eq(out, want, "for %s\ngot:\n%s\nwanted:\n%s\nstderr:\n%s", args, out, want, err);
}

static void content_is(const char *name, const char *want)
{
	char buf[4096];
	slurp(name, buf, sizeof(buf));
	cr_assert_str_eq(buf, want, "content of %s", name);
}

TestSuite(monitor, .init = setup, .fini = teardown, .timeout = 60);

/* --- open_ro ------------------------------------------------------------ */

Test(monitor, open_ro_grants_reading_only)
{
	file_at("ro.txt", "granted\n");
	file_at("secret", "secret\n");
	policy("open_ro { @/ro.txt }\n");
	expect("uid direct @/ro.txt open @/ro.txt r open @/secret r open @/ro.txt w open @/ro.txt b "
	       "open @/ro.txt rt open @/ro.txt rc fopen @/ro.txt r fopen @/ro.txt r+ fopen @/ro.txt w "
	       "fopen @/ro.txt a",
	       "uid 65534 euid 65534\n"
	       "ERR EACCES\n" /* the program really dropped: only the monitor reads it */
	       "OK granted\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "OK granted\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n");
	content_is("ro.txt", "granted\n"); /* O_TRUNC refused before anything happened */
}

Test(monitor, decisions_are_audited_with_their_rule)
{
	file_at("ro.txt", "granted\n");
	policy("# the policy\nopen_ro { @/ro.txt }\n");
	expect("open @/ro.txt r open @/ro.txt w", "OK granted\nERR EACCES\n");
	char audit[8192], want[1024];
	slurp("audit.json", audit, sizeof(audit));
	snprintf(want, sizeof(want),
		 "\"op\":\"open\",\"object\":\"%s/ro.txt\",\"flags\":0,", dir);
	cr_assert(strstr(audit, want), "audit:\n%s", audit);
	snprintf(want, sizeof(want), "\"decision\":\"allow\",\"directive\":\"open_ro\",\"rule\":\"%s/ro.txt\",\"origin\":\"%s/t:2:", dir, dir);
	cr_assert(strstr(audit, want), "audit:\n%s", audit);
	cr_assert(strstr(audit, "\"flags\":1,"), "audit:\n%s", audit);
	cr_assert(strstr(audit, "\"decision\":\"deny\""), "audit:\n%s", audit);
}

/* --- open_ao, open_rw ---------------------------------------------------- */

Test(monitor, open_ao_appends_and_never_reads_or_truncates)
{
	file_at("log", "first\n");
	policy("open_ao { @/log @/new.log }\n");
	expect("write @/log wa second open @/log r open @/log wat open @/log b open @/log w "
	       "open @/log ba fopen @/log a write @/new.log wac new",
	       "OK wrote\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "OK \n" /* an append-only stream reads nothing */
	       "OK wrote\n");
	content_is("log", "first\nsecond");
	content_is("new.log", "new");
}

Test(monitor, open_rw_reads_writes_creates_with_the_callers_umask)
{
	file_at("rw.txt", "old\n");
	policy("open_rw { @/rw.txt @/created @/setid }\n");
	expect("open @/rw.txt b write @/rw.txt wt new write @/created wc c openm @/setid bc 6777",
	       "OK old\nOK wrote\nOK wrote\nOK\n");
	content_is("rw.txt", "new");
	struct stat st;
	char p[512];
	snprintf(p, sizeof(p), "%s/created", dir);
	cr_assert(stat(p, &st) == 0);
	cr_assert_eq(st.st_mode & 07777, 0644, "mode %o", st.st_mode & 07777);
	snprintf(p, sizeof(p), "%s/setid", dir);
	cr_assert(stat(p, &st) == 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "no set-id or sticky bit: mode %o",
		     st.st_mode & 07777);
	/* The program's umask, not the monitor's. */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "umask 077; PRIVMAN_CONF_DIR=%s %s t openm %s/masked2 bc 666 >/dev/null", dir,
		 helper(), dir);
	policy("open_rw { @/masked2 }\n");
	cr_assert_eq(pmtest_sh("%s", cmd), 0);
	snprintf(p, sizeof(p), "%s/masked2", dir);
	cr_assert(stat(p, &st) == 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
}

Test(monitor, create_refused_where_not_granted)
{
	mkdir_at("d");
	policy("open_rw { @/d/ok }\nopen_ro { @/d/* }\n");
	expect("write @/d/ok wc x write @/d/other wc x open @/d/other2 rc open @/d/ok bcx",
	       "OK wrote\nERR EACCES\nERR EACCES\nERR EEXIST\n");
	char p[512];
	snprintf(p, sizeof(p), "%s/d/other", dir);
	cr_assert(access(p, F_OK) != 0, "nothing created");
}

/* --- symlinks, .., wildcards, spaces, relative paths -------------------- */

Test(monitor, symlink_and_dotdot_escapes_are_refused)
{
	mkdir_at("pub");
	mkdir_at("pub/sub");
	mkdir_at("priv");
	file_at("pub/a.txt", "granted\n");
	file_at("priv/x", "secret\n");
	file_at("secret", "secret\n");
	symlink_at("../secret", "pub/evil");
	symlink_at("../priv", "pub/dirlink");
	symlink_at("pub/a.txt", "alias");
	symlink_at("/proc/self/root", "pub/root");
	policy("open_ro { @/pub/* @/pub/sub/* }\n");
	char args[1024];
	snprintf(args, sizeof(args),
		 "open @/pub/evil r open @/pub/dirlink/x r open @/pub/../secret r "
		 "open @/pub/sub/../a.txt r open @/alias r open @/pub/root%s/secret r "
		 "open /proc/self/root%s/secret r open @/pub/a.txt rn open @/alias rn "
		 "open @/pub/sub/../../secret r open @/pub/sub/../../pub/a.txt r",
		 dir, dir);
	expect(args, "ERR EACCES\n"
		     "ERR EACCES\n"
		     "ERR EACCES\n"
		     "OK granted\n" /* .. to a granted file */
		     "OK granted\n" /* a symlink to a granted file */
		     "ERR EACCES\n" /* magic links are never followed */
		     "ERR EACCES\n"
		     "OK granted\n"
		     "ERR EACCES\n" /* O_NOFOLLOW on a symlink outside the grant */
		     "ERR EACCES\n"
		     "OK granted\n");
}

Test(monitor, nofollow_on_a_granted_symlink_is_eloop)
{
	file_at("a.txt", "granted\n");
	symlink_at("a.txt", "link");
	policy("open_ro { @/a.txt @/link }\n");
	expect("open @/link r open @/link rn", "OK granted\nERR ELOOP\n");
}

Test(monitor, star_is_one_level_and_double_star_any_depth)
{
	mkdir_at("pub");
	mkdir_at("pub/sub");
	mkdir_at("all");
	mkdir_at("all/sub");
	file_at("pub/a.txt", "granted\n");
	file_at("pub/sub/b.txt", "deep\n");
	file_at("all/sub/c.txt", "deeper\n");
	policy("open_ro { @/pub/* @/all/** }\n");
	expect("open @/pub/a.txt r open @/pub/sub/b.txt r open @/all/sub/c.txt r open @/pub r",
	       "OK granted\nERR EACCES\nOK deeper\nERR EACCES\n");
}

Test(monitor, paths_with_spaces)
{
	mkdir_at("with space");
	file_at("with space/my file.txt", "spaced\n");
	policy("open_ro { \"@/with space/my file.txt\" }\n");
	expect("open '@/with space/my file.txt' r open '@/with space/other' r",
	       "OK spaced\nERR EACCES\n");
}

Test(monitor, relative_paths_start_at_the_programs_working_directory)
{
	mkdir_at("pub");
	file_at("pub/a.txt", "granted\n");
	file_at("secret", "secret\n");
	policy("open_ro { @/pub/* }\n");
	expect("open pub/a.txt r chdir @/pub open a.txt r open ./a.txt r open ../secret r "
	       "open ../pub/a.txt r",
	       "ERR EACCES\nOK\nOK granted\nOK granted\nERR EACCES\nOK granted\n");
}

Test(monitor, unknown_and_dangerous_flags_are_einval)
{
	mkdir_at("tmp");
	mkdir_at("rotmp");
	file_at("a.txt", "granted\n");
	policy("open_ro { @/a.txt @/rotmp/* }\nopen_rw { @/tmp/* }\n");
	expect("open @/a.txt rp open @/a.txt rA open @/rotmp wT open @/tmp wT open @/a.txt rd",
	       "ERR EINVAL\nERR EINVAL\nERR EINVAL\nOK \nERR ENOTDIR\n");
}

Test(monitor, missing_files_tell_enoent_only_where_granted)
{
	policy("open_ro { @/pub/* }\n");
	expect("open @/pub/none r open @/priv/none r", "ERR ENOENT\nERR EACCES\n");
}

/* --- unlink ---------------------------------------------------------------- */

Test(monitor, unlink_granted_and_refused)
{
	mkdir_at("pub");
	mkdir_at("priv");
	file_at("del.txt", "x");
	file_at("keep.txt", "x");
	file_at("pub/a", "x");
	file_at("priv/a", "x");
	symlink_at("priv", "dirlink");
	symlink_at("pub", "publink");
	policy("unlink { @/del.txt @/pub/* }\n");
	expect("unlink @/del.txt unlink @/keep.txt unlink @/dirlink/a unlink @/publink/a "
	       "unlink @/del.txt unlink @/pub/../keep.txt",
	       "OK\nERR EACCES\nERR EACCES\nOK\nERR ENOENT\nERR EACCES\n");
	char p[512];
	snprintf(p, sizeof(p), "%s/keep.txt", dir);
	cr_assert(access(p, F_OK) == 0);
	snprintf(p, sizeof(p), "%s/priv/a", dir);
	cr_assert(access(p, F_OK) == 0);
	snprintf(p, sizeof(p), "%s/pub/a", dir);
	cr_assert(access(p, F_OK) != 0);
}

/* --- bind ------------------------------------------------------------------ */

Test(monitor, bind_checks_family_port_and_address)
{
	policy("bind { 127.0.0.1:611 [::1]:612 613 }\n");
	expect("bind4 127.0.0.1 611 bind4 127.0.0.1 614 bind4 0.0.0.0 611 bind6 ::1 612 "
	       "bind6 ::1 611 bind4 127.0.0.1 613 bind6 ::1 613 bindfile",
	       "OK port 611\n"
	       "ERR EACCES\n"
	       "ERR EACCES\n"
	       "OK port 612\n"
	       "ERR EACCES\n"
	       "OK port 613\n"
	       "OK port 613\n"
	       "ERR ENOTSOCK\n");
}

Test(monitor, bind_without_rules_is_refused)
{
	policy("open_ro { /etc/hostname }\n");
	expect("bind4 127.0.0.1 615 bind6 ::1 615", "ERR EACCES\nERR EACCES\n");
}

/* --- priv_init refusals ------------------------------------------------------ */

Test(monitor, missing_policy_exits_78_with_a_message)
{
	int rc = run("uid");
	cr_assert_eq(rc, 78);
	cr_assert(strstr(err, "/t"), "stderr: %s", err);
	cr_assert_str_eq(out, "");
}

Test(monitor, bad_policy_exits_78_with_its_location)
{
	policy("open_ro { @/a }\nopen_r0 { @/b }\n");
	int rc = run("uid");
	cr_assert_eq(rc, 78);
	cr_assert(strstr(err, "/t:2:"), "stderr: %s", err);
	cr_assert_str_eq(out, "");
}

Test(monitor, non_root_caller_exits_78)
{
	policy("open_ro { /etc/hostname }\n");
	int rc = pmtest_sh("PRIVMAN_CONF_DIR=%s setpriv --reuid=65534 --regid=65534 --clear-groups "
			   "%s t uid >%s/out 2>%s/err",
			   dir, helper(), dir, dir);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	cr_assert_eq(rc, 78);
	cr_assert(strstr(err, "root"), "stderr: %s", err);
	cr_assert_str_eq(out, "");
}

Test(monitor, an_audit_file_that_cannot_be_opened_exits_78)
{
	policy("open_ro { /etc/hostname }\n");
	int rc = pmtest_sh("PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/no/such/dir/audit.json %s t uid "
			   ">%s/out 2>%s/err",
			   dir, dir, helper(), dir, dir);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	cr_assert_eq(rc, 78);
	cr_assert(strstr(err, "PRIVMAN_AUDIT"), "stderr: %s", err);
	cr_assert_str_eq(out, "");
}

Test(monitor, second_call_exits_78)
{
	policy("open_ro { /etc/hostname }\n");
	int rc = run("reinit");
	cr_assert_eq(rc, 78);
	cr_assert(strstr(err, "second"), "stderr: %s", err);
	cr_assert_str_eq(out, "");
}

/* --- processes ----------------------------------------------------------------- */

Test(monitor, exit_status_is_the_programs)
{
	policy("open_ro { /etc/hostname }\n");
	cr_assert_eq(run("exit 7"), 7);
	cr_assert_eq(run("uid"), 0);
}

/* A program that ends at once, before the monitor is even set up: its
 * SIGCHLD must not be lost (a hang here ends in the suite's timeout). */
Test(monitor, a_program_that_ends_at_once_ends_its_monitor, .timeout = 60)
{
	policy("open_ro { /etc/hostname }\n");
	for (int i = 0; i < 100; i++) {
		int rc = pmtest_sh("PRIVMAN_CONF_DIR=%s timeout -s KILL 5 %s t quit 3 >/dev/null 2>&1", dir,
				   helper());
		cr_assert_eq(rc, 3, "run %d: status %d (137: the monitor hung and was killed)", i, rc);
	}
}

Test(monitor, an_ignored_sigchld_or_a_pending_alarm_does_not_upset_the_monitor)
{
	policy("open_ro { /etc/hostname }\n");
	int rc = pmtest_sh("MONITOR_PROG_HOSTILE_START=1 PRIVMAN_CONF_DIR=%s %s t sleep 1500 exit 5 "
			   ">/dev/null 2>&1",
			   dir, helper());
	cr_assert_eq(rc, 5, "the program's status, not the alarm's nor a lost child's");
}

/* A monitor started with pipes on stdin and stdout. */
struct session {
	pid_t monitor;
	pid_t program;
	FILE *in, *out;
};

static void start(struct session *s, const char *args)
{
	int to[2], from[2];
	cr_assert(pipe(to) == 0 && pipe(from) == 0);
	char expanded[4096];
	size_t o = 0;
	for (const char *p = args; *p && o < sizeof(expanded) - 256; p++) {
		if (*p == '@')
			o += (size_t)snprintf(expanded + o, sizeof(expanded) - o, "%s", dir);
		else
			expanded[o++] = *p;
	}
	expanded[o] = '\0';
	s->monitor = fork();
	cr_assert(s->monitor >= 0);
	if (s->monitor == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		char cmd[5000];
		snprintf(cmd, sizeof(cmd),
			 "PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json exec %s t %s", dir, dir,
			 helper(), expanded);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	s->in = fdopen(to[1], "w");
	s->out = fdopen(from[0], "r");
	setvbuf(s->in, NULL, _IONBF, 0);
}

static void read_line(struct session *s, char *buf, size_t cap)
{
	cr_assert(fgets(buf, (int)cap, s->out) != NULL, "the program said nothing more");
	buf[strcspn(buf, "\n")] = '\0';
}

static void wait_ready(struct session *s)
{
	char line[128];
	read_line(s, line, sizeof(line));
	cr_assert(sscanf(line, "READY %d", &s->program) == 1, "got %s", line);
}

static int count_fds(pid_t pid)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(p);
	cr_assert(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The fd count of a process that has settled: the monitor closes its copy of
 * a passed fd just after sending it, so a count taken at once may be one
 * high. */
static int settled_fds(pid_t pid)
{
	int last = count_fds(pid);
	for (int i = 0; i < 200; i++) {
		usleep(10 * 1000);
		int now = count_fds(pid);
		if (now == last)
			return now;
		last = now;
	}
	return last;
}

static bool gone(pid_t pid)
{
	char p[64], stat[256];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return true;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *close_paren = strrchr(stat, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

static bool wait_gone(pid_t pid, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (gone(pid))
			return true;
		usleep(1000);
	}
	return gone(pid);
}

Test(monitor, signals_are_forwarded_and_the_monitor_dies_of_the_programs_signal)
{
	policy("open_ro { /etc/hostname }\n");
	struct session s;
	start(&s, "catch ready signals ready");
	wait_ready(&s);
	cr_assert(kill(s.monitor, SIGUSR1) == 0);
	cr_assert(kill(s.monitor, SIGUSR2) == 0);
	usleep(100 * 1000);
	fputs("\n", s.in);
	char line[128];
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "signals H0 U1 U1");
	wait_ready(&s);
	cr_assert(kill(s.monitor, SIGTERM) == 0);
	int status;
	cr_assert(waitpid(s.monitor, &status, 0) == s.monitor);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status 0x%x", status);
	cr_assert(wait_gone(s.program, 1000), "the program is gone");
}

Test(monitor, sighup_reloads_the_policy)
{
	file_at("a.txt", "granted\n");
	policy("open_ro { @/a.txt }\n");
	struct session s;
	start(&s, "catch open @/a.txt r ready open @/a.txt r signals");
	char line[128];
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "OK granted");
	wait_ready(&s);
	policy("open_ro { @/other }\nsecurity { user = daemon }\n");
	cr_assert(kill(s.monitor, SIGHUP) == 0);
	/* Wait until the monitor says it reloaded. */
	char audit[16384];
	for (int i = 0; i < 2000; i++) {
		slurp("audit.json", audit, sizeof(audit));
		if (strstr(audit, "reloaded"))
			break;
		usleep(1000);
	}
	cr_assert(strstr(audit, "reloaded"), "audit: %s", audit);
	cr_assert(strstr(audit, "needs a restart"), "audit: %s", audit);
	fputs("\n", s.in);
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "ERR EACCES");
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "signals H1 U0 U0");
	int status;
	cr_assert(waitpid(s.monitor, &status, 0) == s.monitor);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(monitor, a_broken_reload_keeps_the_policy_in_force)
{
	file_at("a.txt", "granted\n");
	policy("open_ro { @/a.txt }\n");
	struct session s;
	start(&s, "catch ready open @/a.txt r");
	wait_ready(&s);
	policy("open_ro { @/a.txt \n");
	cr_assert(kill(s.monitor, SIGHUP) == 0);
	char audit[16384];
	for (int i = 0; i < 2000; i++) {
		slurp("audit.json", audit, sizeof(audit));
		if (strstr(audit, "reload of"))
			break;
		usleep(1000);
	}
	cr_assert(strstr(audit, "unchanged"), "audit: %s", audit);
	fputs("\n", s.in);
	char line[128];
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "OK granted");
	int status;
	cr_assert(waitpid(s.monitor, &status, 0) == s.monitor);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(monitor, killed_monitor_means_epipe_at_once)
{
	file_at("a.txt", "granted\n");
	policy("open_ro { @/a.txt }\n");
	struct session s;
	start(&s, "ready timedopen @/a.txt timedopen @/a.txt");
	wait_ready(&s);
	cr_assert(kill(s.monitor, SIGKILL) == 0);
	int status;
	cr_assert(waitpid(s.monitor, &status, 0) == s.monitor);
	fputs("\n", s.in);
	char line[128], name[32];
	double us;
	for (int i = 0; i < 2; i++) {
		read_line(&s, line, sizeof(line));
		cr_assert(sscanf(line, "ERR %31s %lf", name, &us) == 2, "got %s", line);
		cr_assert_str_eq(name, "EPIPE");
		cr_assert(us < 100000, "took %.0f us", us);
	}
	cr_assert(wait_gone(s.program, 2000));
}

Test(monitor, killed_program_ends_the_monitor)
{
	policy("open_ro { /etc/hostname }\n");
	struct session s;
	start(&s, "ready");
	wait_ready(&s);
	cr_assert(kill(s.program, SIGKILL) == 0);
	int status;
	cr_assert(waitpid(s.monitor, &status, 0) == s.monitor);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
	cr_assert(gone(s.program), "no zombie, no orphan");
}

Test(monitor, no_fd_leaks_after_10000_requests)
{
	file_at("a.txt", "granted\n");
	file_at("secret", "secret\n");
	policy("open_ro { @/a.txt }\n");
	struct session s;
	/* One request first: the monitor is then surely done setting up. */
	start(&s, "loop 1 @/a.txt fds ready loop 10000 @/a.txt loop 2000 @/secret "
		  "threads 4 500 @/a.txt @/secret fds ready");
	char line[128];
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "1 1 0");
	read_line(&s, line, sizeof(line));
	int before;
	cr_assert(sscanf(line, "fds %d", &before) == 1);
	wait_ready(&s);
	int monitor_before = settled_fds(s.monitor);
	fputs("\n", s.in);
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "10000 10000 0");
	read_line(&s, line, sizeof(line));
	cr_assert_str_eq(line, "0 0 0");
	read_line(&s, line, sizeof(line));
	cr_assert(strncmp(line, "threads 4000 0 ", 15) == 0, "got %s", line);
	read_line(&s, line, sizeof(line));
	int after;
	cr_assert(sscanf(line, "fds %d", &after) == 1);
	wait_ready(&s);
	/* Threads that ended took their channels with them, on both sides; the
	 * monitor sees them close asynchronously. */
	int monitor_after = count_fds(s.monitor);
	for (int i = 0; i < 2000 && monitor_after != monitor_before; i++) {
		usleep(1000);
		monitor_after = count_fds(s.monitor);
	}
	cr_assert_eq(after, before, "program fds %d -> %d", before, after);
	if (monitor_after != monitor_before)
		pmtest_sh("ls -l /proc/%d/fd >&2", (int)s.monitor);
	cr_assert_eq(monitor_after, monitor_before, "monitor fds %d -> %d", monitor_before,
		     monitor_after);
	fputs("\n", s.in);
	int status;
	cr_assert(waitpid(s.monitor, &status, 0) == s.monitor);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(monitor, a_plain_fork_child_has_no_channel_and_the_parent_keeps_its_own)
{
	file_at("a.txt", "granted\n");
	policy("open_ro { @/a.txt }\n");
	int rc = run("forkopen @/a.txt threads 2 10 @/a.txt @/secret forkopen @/a.txt");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strncmp(out, "child EPIPE\nparent OK\nthreads 40 0 ", 35) == 0, "got:\n%s", out);
	/* The same after threads came and went with channels of their own. */
	const char *second = strstr(out, "/s\n");
	cr_assert(second && strcmp(second + 3, "child EPIPE\nparent OK\n") == 0, "got:\n%s", out);
}

Test(monitor, many_threads_all_get_their_own_answers)
{
	file_at("a.txt", "granted\n");
	file_at("secret", "secret\n");
	policy("open_ro { @/a.txt }\n");
	int rc = run("threads 16 2000 @/a.txt @/secret");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strncmp(out, "threads 64000 0 ", 16) == 0, "got %s", out);
}

/* --- races ------------------------------------------------------------------------ */

/* Swap `link` between two targets as fast as possible until killed. */
static pid_t swapper(const char *link, const char *a, const char *b)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char tmp[600];
		snprintf(tmp, sizeof(tmp), "%s.tmp", link);
		for (unsigned long i = 0;; i++) {
			unlink(tmp);
			if (symlink(i % 2 ? a : b, tmp) == 0)
				rename(tmp, link);
		}
	}
	return pid;
}

static void race(const char *granted_policy, const char *link, const char *a, const char *b,
		 const char *path)
{
	policy(granted_policy);
	char l[512], ta[512], tb[512];
	snprintf(l, sizeof(l), "%s/%s", dir, link);
	snprintf(ta, sizeof(ta), "%s/%s", dir, a);
	snprintf(tb, sizeof(tb), "%s/%s", dir, b);
	cr_assert(symlink(ta, l) == 0);
	pid_t sw = swapper(l, ta, tb);
	char args[600];
	snprintf(args, sizeof(args), "loop 10000 @/%s", path);
	int rc = run(args);
	kill(sw, SIGKILL);
	waitpid(sw, NULL, 0);
	cr_assert_eq(rc, 0, "%s", err);
	long ok, good, other;
	cr_assert(sscanf(out, "%ld %ld %ld", &ok, &good, &other) == 3, "got %s", out);
	cr_assert_eq(other, 0, "an ungranted file was returned %ld times", other);
	cr_assert_eq(good, ok);
	cr_assert(ok > 0 && ok < 10000, "both targets were seen: %ld of 10000 granted", ok);
}

Test(monitor, symlink_swapped_in_a_loop_never_reaches_an_ungranted_file, .timeout = 120)
{
	file_at("granted", "granted\n");
	file_at("secret", "secret\n");
	race("open_ro { @/granted }\n", "link", "granted", "secret", "link");
}

Test(monitor, directory_swapped_in_a_loop_never_reaches_an_ungranted_file, .timeout = 120)
{
	mkdir_at("pub");
	mkdir_at("priv");
	file_at("pub/file", "granted\n");
	file_at("priv/file", "secret\n");
	race("open_ro { @/pub/* }\n", "sw", "pub", "priv", "sw/file");
}

/* The fast path: a clean path the policy grants as written, whose directory
 * is swapped (renameat2 RENAME_EXCHANGE) with a symlink to another one. */
Test(monitor, a_granted_path_whose_directory_becomes_a_symlink_never_escapes, .timeout = 120)
{
	mkdir_at("pub");
	mkdir_at("priv");
	file_at("pub/file", "granted\n");
	file_at("priv/file", "secret\n");
	symlink_at("priv", "other");
	policy("open_ro { @/pub/* }\n");
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/pub", dir);
	snprintf(b, sizeof(b), "%s/other", dir);
	pid_t sw = fork();
	cr_assert(sw >= 0);
	if (sw == 0)
		for (;;)
			renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
	int rc = run("loop 10000 @/pub/file");
	kill(sw, SIGKILL);
	waitpid(sw, NULL, 0);
	cr_assert_eq(rc, 0, "%s", err);
	long ok, good, other;
	cr_assert(sscanf(out, "%ld %ld %ld", &ok, &good, &other) == 3, "got %s", out);
	cr_assert_eq(other, 0, "an ungranted file was returned %ld times", other);
	cr_assert_eq(good, ok);
	cr_assert(ok > 0 && ok < 10000, "both states were seen: %ld of 10000 granted", ok);
}
