/* The process calls, end to end: the helper tests/helpers/proc_prog is a
 * real program split by priv_init, under a policy each test writes, that
 * reruns itself, runs programs as other users and forks workers. As root,
 * with real users pmtestpa, pmtestpb and pmtestpc. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "policy/envfilter.h"
#include "policytest.h"
#include "monitor/proc.h"
#include "testutil.h"
#include "wire/wire.h"

static char *dir;

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure("pmtestpa");
	pmtest_user_ensure("pmtestpb");
	pmtest_user_ensure("pmtestpc");
}

static void teardown(void)
{
	if (!getenv("KEEP")) pmtest_rmtree(dir);
	free(dir);
}

static const char *helper(void)
{
	static char path[PATH_MAX];
	char rel[256];
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/tests/helpers/proc_prog", build && *build ? build : "build");
	/* The helper runs from the test directory (relative paths). */
	if (!path[0] && !realpath(rel, path))
		snprintf(path, sizeof(path), "%s", rel);
	return path;
}

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

static void policy(const char *text)
{
	char buf[8192];
	expand(text, buf, sizeof(buf));
	free(pmtest_write_file(dir, "t", buf));
}

/* A file only root can read, holding "granted". */
static void granted_file(const char *name)
{
	char *p = pmtest_write_file(dir, name, "granted\n");
	cr_assert(chmod(p, 0600) == 0);
	free(p);
}

static char out[1 << 16];
static char err[1 << 14];

#define slurp(name, buf, cap) pmtest_slurp(dir, (name), (buf), (cap))

/* Run the helper with ARGS (a shell fragment, "@" is the test directory);
 * returns its exit status (or 128 + signal). */
static int run(const char *args)
{
	char expanded[8192], cmd[9000];
	expand(args, expanded, sizeof(expanded));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && umask 022; PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json "
		 "timeout -s KILL 60 %s t %s >%s/out 2>%s/err </dev/null",
		 dir, dir, dir, helper(), expanded, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void expect_rc(const char *args, int want_rc, const char *want)
{
	int rc = run(args);
	cr_assert_eq(rc, want_rc, "exit status %d for %s\nstdout:\n%s\nstderr:\n%s", rc, args, out,
		     err);
	cr_assert_str_eq(out, want, "for %s\nstdout:\n%s\nstderr:\n%s", args, out, err);
}

static void expect(const char *args, const char *want)
{
	expect_rc(args, 0, want);
}

static unsigned uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);
	cr_assert(pw != NULL);
	return (unsigned)pw->pw_uid;
}

TestSuite(proc, .init = setup, .fini = teardown, .timeout = 60);

/* --- priv_rerunas ------------------------------------------------------------ */

Test(proc, rerun_as_several_users_in_turn)
{
	policy("allow_rerun true\nrun_as { pmtestpa pmtestpb }\n");
	expect("rerun pmtestpa pmtestpb pmtestpa",
	       "user nobody\nuser pmtestpa\nuser pmtestpb\nuser pmtestpa\n");
}

Test(proc, rerun_as_a_user_outside_run_as_is_refused)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect_rc("rerun pmtestpa pmtestpc", 1, "user nobody\nuser pmtestpa\nERR EPERM\n");
}

Test(proc, rerun_needs_allow_rerun)
{
	policy("run_as { pmtestpa }\n");
	expect_rc("rerun pmtestpa", 1, "user nobody\nERR EPERM\n");
	policy("allow_rerun false\nrun_as { pmtestpa }\n");
	expect_rc("rerun pmtestpa", 1, "user nobody\nERR EPERM\n");
}

Test(proc, star_never_means_root)
{
	policy("allow_rerun true\nrun_as *\n");
	expect_rc("rerun root", 1, "user nobody\nERR EPERM\n");
	expect("rerun pmtestpc", "user nobody\nuser pmtestpc\n");
	policy("allow_rerun true\nrun_as { root }\n");
	expect("rerun root", "user nobody\nuser root\n");
}

Test(proc, rerun_of_an_unknown_user_is_refused)
{
	policy("allow_rerun true\nrun_as *\n");
	expect_rc("rerun pmtestnosuchuser", 1, "user nobody\nERR EPERM\n");
}

/* A jail: root-owned, 0755, holding /jail-marker. */
static void make_jail(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/jail-marker", name);
	free(pmtest_write_file(dir, p, ""));
}

Test(proc, rerun_into_a_granted_chroot)
{
	make_jail("jail");
	make_jail("other");
	policy("allow_rerun true\nrun_as { pmtestpb }\n"
	       "run { user { pmtestpa } chroot @/jail }\n");
	char want[64];
	snprintf(want, sizeof(want), "uid %u in jail\n", uid_of("pmtestpa"));
	expect("rerunchroot pmtestpa @/jail", want);
	/* run_as grants only the policy's own chroot; the run scope only its. */
	expect_rc("rerunchroot pmtestpb @/jail", 1, "ERR EPERM\n");
	expect_rc("rerunchroot pmtestpa @/other", 1, "ERR EPERM\n");
}

Test(proc, a_chroot_is_checked_when_asked_for)
{
	make_jail("jail");
	char link[512], target[512];
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(target, sizeof(target), "%s/jail", dir);
	cr_assert(symlink(target, link) == 0);
	/* A chroot is reached with no symlink on the way: the policy that
	 * names one through a link does not load (the link leads to a good
	 * jail, but whoever can change the link would choose the jail). */
	policy("allow_rerun true\nrun { user { pmtestpa } chroot @/link }\n");
	cr_assert_eq(run("rerunchroot pmtestpa @/link"), 78, "%s%s", out, err);
	cr_assert(strstr(err, "a symlink is on the way") != NULL, "%s", err);
	policy("allow_rerun true\nrun { user { pmtestpa } chroot @/jail }\n");
	/* Not clean: refused before any decision. */
	expect_rc("rerunchroot pmtestpa @/jail/", 1, "ERR EINVAL\n");
}

/* The jail changes after the policy was loaded: the request finds it. */
static void chroot_changed_after_load(const char *change)
{
	make_jail("jail");
	policy("allow_rerun true\nrun { user { pmtestpa } chroot @/jail }\n");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PRIVMAN_CONF_DIR=%s PROC_PROG_WAIT_FOR=%s/go timeout -s KILL 60 %s t "
		 "rerunchroot pmtestpa %s/jail >%s/out 2>%s/err </dev/null & "
		 "sleep 0.3; %s; touch %s/go; wait $!",
		 dir, dir, dir, helper(), dir, dir, dir, change, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "status %d: %s %s", rc, out, err);
	cr_assert_str_eq(out, "ERR EPERM\n", "after %s\nstderr: %s", change, err);
}

Test(proc, a_chroot_writable_by_others_when_asked_for_is_refused)
{
	char change[600];
	snprintf(change, sizeof(change), "chmod 0775 %s/jail", dir);
	chroot_changed_after_load(change);
}

Test(proc, a_chroot_not_owned_by_root_when_asked_for_is_refused)
{
	char change[600];
	snprintf(change, sizeof(change), "chown pmtestpb %s/jail", dir);
	chroot_changed_after_load(change);
}

Test(proc, a_chroot_gone_when_asked_for_is_refused)
{
	char change[600];
	snprintf(change, sizeof(change), "rm -rf %s/jail", dir);
	chroot_changed_after_load(change);
}

/* --- the rerun zygote ----------------------------------------------------------- */

#define PROBE "probe seccomp 2 setns EPERM unshare EPERM bounding 0 caps =\n"

/* Reruns the zygote starts in turn, for one user then another: each holds
 * its own user only, the namespace filter, no bounding set, no capability. */
Test(proc, zygote_reruns_hold_their_own_user_and_the_filter)
{
	policy("allow_rerun true\nrun_as { pmtestpa pmtestpb }\n");
	expect("zygote pmtestpa pmtestpb pmtestpa",
	       "user pmtestpa\n" PROBE "waited exit 0\n"
	       "user pmtestpb\n" PROBE "waited exit 0\n"
	       "user pmtestpa\n" PROBE "waited exit 0\ndone\n");
}

/* The monitor's child named privman-zygote, or 0. */
static pid_t find_zygote(pid_t monitor)
{
	DIR *d = opendir("/proc");
	pid_t found = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *close_paren = strrchr(buf, ')');
		int ppid = 0;
		if (strstr(buf, "(privman-zygote)") && close_paren &&
		    sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == monitor)
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* Killing the zygote is harmless: the next rerun gets a new one, and its
 * process holds what any rerun holds. */
Test(proc, a_killed_zygote_is_replaced)
{
	policy("allow_rerun true\nrun_as { pmtestpa pmtestpb }\n");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PRIVMAN_CONF_DIR=%s timeout -s KILL 60 %s t zygote pmtestpa KILL "
		 "pmtestpb >%s/out 2>%s/err </dev/null &",
		 dir, dir, helper(), dir, dir);
	cr_assert_eq(system(cmd), 0);
	pid_t monitor = 0;
	for (int i = 0; i < 1000 && !monitor; i++) {
		slurp("out", out, sizeof(out));
		char *at = strstr(out, "monitor ");
		if (at)
			monitor = atoi(at + 8);
		else
			usleep(10000);
	}
	cr_assert(monitor > 0, "no monitor line: %s", out);
	pid_t zygote = find_zygote(monitor);
	cr_assert(zygote > 0, "the monitor %d has no zygote after a rerun", (int)monitor);
	cr_assert_eq(kill(zygote, SIGKILL), 0);
	for (int i = 0; i < 500 && find_zygote(monitor) == zygote; i++)
		usleep(10000);
	free(pmtest_write_file(dir, "killed", ""));
	for (int i = 0; i < 2000 && !strstr(out, "done\n") && !strstr(out, "ERR"); i++) {
		usleep(10000);
		slurp("out", out, sizeof(out));
	}
	slurp("err", err, sizeof(err));
	char want[512];
	snprintf(want, sizeof(want),
		 "user pmtestpa\n" PROBE "waited exit 0\nmonitor %d\n"
		 "user pmtestpb\n" PROBE "waited exit 0\ndone\n",
		 (int)monitor);
	cr_assert_str_eq(out, want, "stderr: %s", err);
}

/* --- priv_wait4 ----------------------------------------------------------------- */

Test(proc, wait4_of_a_monitored_rerun_returns_its_status)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect("rerunwait pmtestpa 7", "user pmtestpa\nwaited same exit 7\n");
	expect("rerunwait pmtestpa 0", "user pmtestpa\nwaited same exit 0\n");
}

Test(proc, wait4_with_nothing_to_wait_for)
{
	policy("allow_rerun true\n");
	expect("waitnone", "ERR ECHILD\nERR EINVAL\nERR EINVAL\nERR ECHILD\n");
}

/* --- priv_respawn_as ----------------------------------------------------------------- */

Test(proc, respawn_as_gives_the_new_program_a_monitor_of_its_own)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect("respawnwait pmtestpa 9", "user pmtestpa\nwaited same exit 9\nstill served\n");
}

/* A fork channel made ahead of need by the old monitor is never handed out
 * by a respawned one (a fork of it): every child's channel is its own. */
Test(proc, respawned_monitor_never_hands_out_the_old_monitors_fork_channel)
{
	policy("fork true\nallow_rerun true\nrun_as { pmtestpa }\n");
	cr_assert_eq(run("respawnfork pmtestpa"), 0, "stdout:\n%s\nstderr:\n%s", out, err);
	unsigned long ino[3];
	int n = 0;
	for (const char *p = out; p && *p && n < 3; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (sscanf(p, "ino %lu", &ino[n]) == 1)
			n++;
	cr_assert_eq(n, 3, "stdout:\n%s\nstderr:\n%s", out, err);
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			cr_assert_neq(ino[i], ino[j], "children %d and %d share a channel:\n%s", i,
				      j, out);
}

Test(proc, respawn_as_a_user_outside_run_as_is_refused)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect_rc("respawnwait pmtestpb 9", 1, "ERR EPERM\n");
	policy("run_as { pmtestpa }\n");
	expect_rc("respawnwait pmtestpa 9", 1, "ERR EPERM\n");
}

/* --- priv_popen_as ------------------------------------------------------------- */

Test(proc, popen_as_another_user)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect("popen pmtestpa 'id -un'", "popen pmtestpa\nstatus 0\n");
	expect("popen pmtestpa 'exit 4'", "popen \nstatus 4\n");
	expect("popenw pmtestpa 'read x; test \"$x\" = hello' hello", "status 0\n");
	expect("popenw pmtestpa 'read x; test \"$x\" = hello' bye", "status 1\n");
}

Test(proc, processes_started_and_never_waited_for_are_bounded)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect("popenmany pmtestpa 300", "opened 256 then EAGAIN\n");
}

Test(proc, popen_as_a_user_outside_run_as_is_refused)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect("popen pmtestpc 'id -un'", "ERR EPERM\n");
}

Test(proc, popen_as_root_only_when_named)
{
	policy("allow_rerun true\nrun_as *\n");
	expect("popen root 'id -un'", "ERR EPERM\n");
	expect("popen pmtestpb 'id -un'", "popen pmtestpb\nstatus 0\n");
	policy("allow_rerun true\nrun_as { root }\n");
	expect("popen root 'id -un'", "popen root\nstatus 0\n");
}

Test(proc, popen_needs_allow_rerun)
{
	policy("run_as { pmtestpa }\n");
	expect("popen pmtestpa 'id -un'", "ERR EPERM\n");
}

/* --- priv_execve ------------------------------------------------------------------ */

/* A static program in a jail: it prints its uid and whether it sits in
 * the jail, and exits 5. */
static void make_probe_jail(const char *name)
{
	make_jail(name);
	char src[512], bin[512];
	snprintf(src, sizeof(src), "%s/probe.c", dir);
	snprintf(bin, sizeof(bin), "%s/%s/probe", dir, name);
	FILE *f = fopen(src, "we");
	cr_assert(f);
	fputs("#include <stdio.h>\n#include <unistd.h>\n"
	      "int main(int c, char **v) { printf(\"probe uid %u %s %s\\n\", getuid(),\n"
	      "  access(\"/jail-marker\", F_OK) == 0 ? \"in jail\" : \"outside\", c > 1 ? v[1] : \"\");\n"
	      "  return 5; }\n",
	      f);
	fclose(f);
	cr_assert(pmtest_sh("cc -static -O1 -o %s %s", bin, src) == 0, "cannot build %s", bin);
}

Test(proc, execve_as_a_granted_user_in_a_granted_chroot)
{
	make_probe_jail("jail");
	policy("allow_rerun true\nrun { program /probe user { pmtestpa } chroot @/jail }\n");
	char want[128];
	snprintf(want, sizeof(want), "probe uid %u in jail hello\nexit 5\n", uid_of("pmtestpa"));
	expect("execve pmtestpa @/jail /probe hello", want);
}

Test(proc, execve_refuses_user_program_and_chroot_not_granted)
{
	make_probe_jail("jail");
	make_probe_jail("jail2");
	policy("allow_rerun true\nrun { program /probe user { pmtestpa } chroot @/jail }\n");
	expect("execve pmtestpb @/jail /probe", "ERR EPERM\n");
	expect("execve pmtestpa @/jail2 /probe", "ERR EPERM\n");
	expect("execve pmtestpa @/jail /jail-marker", "ERR EPERM\n");
	expect("execve root @/jail /probe", "ERR EPERM\n");
	expect("execve pmtestpa @/jail probe", "ERR EINVAL\n");
	/* Without allow_rerun nothing runs. */
	policy("run { program /probe user { pmtestpa } chroot @/jail }\n");
	expect("execve pmtestpa @/jail /probe", "ERR EPERM\n");
}

Test(proc, execve_without_a_chroot_as_run_as_grants)
{
	policy("allow_rerun true\nrun_as { pmtestpa }\n");
	expect("execve pmtestpa - /bin/sh -c 'id -un; exit 3'", "pmtestpa\nexit 3\n");
	/* NULL user: the unprivileged user (nobody), which must be granted too. */
	expect("execve - - /bin/sh -c 'id -un'", "ERR EPERM\n");
	policy("allow_rerun true\nrun_as { pmtestpa nobody }\n");
	expect("execve - - /bin/sh -c 'id -un'", "nobody\nexit 0\n");
}

/* --- priv_fork ------------------------------------------------------------------- */

Test(proc, fork_needs_fork_true)
{
	policy("fork false\n");
	expect("fork", "ERR EPERM\n");
	policy("allow_rerun true\n");
	expect("fork", "ERR EPERM\n");
	policy("fork true\n");
	expect("fork", "forked\n");
}

Test(proc, a_forked_child_keeps_using_priv_open)
{
	granted_file("ok");
	policy("fork true\nopen_ro { @/ok }\n");
	expect("forkopen @/ok", "child OK granted\nparent OK granted\n");
}

Test(proc, five_hundred_workers_each_priv_open, .timeout = 120)
{
	granted_file("ok");
	policy("fork true\nopen_ro { @/ok }\n");
	/* With a soft limit on open files below what 500 workers need (the
	 * monitor holds two fds per worker): the monitor raises its own. */
	struct rlimit r;
	cr_assert(getrlimit(RLIMIT_NOFILE, &r) == 0);
	r.rlim_cur = 512;
	cr_assert(setrlimit(RLIMIT_NOFILE, &r) == 0);
	expect("workers 500 @/ok", "workers 500 0\n");
}

/* A fork channel handed to a process that does not descend from the one
 * that asked for it: the monitor refuses its hello, and the program's own
 * channel is unharmed. */
Test(proc, a_hello_from_outside_the_tree_is_refused)
{
	policy("fork true\n");
	int sv[2], in[2], outp[2];
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	cr_assert(pipe(in) == 0 && pipe(outp) == 0);
	char conf[512], audit[512];
	snprintf(conf, sizeof(conf), "PRIVMAN_CONF_DIR=%s", dir);
	snprintf(audit, sizeof(audit), "PRIVMAN_AUDIT=%s/audit.json", dir);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		close(in[1]);
		close(outp[0]);
		dup2(sv[1], 3);
		dup2(in[0], 0);
		dup2(outp[1], 1);
		putenv(conf);
		putenv(audit);
		execl(helper(), helper(), "t", "forkfd", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	close(in[0]);
	close(outp[1]);
	FILE *from = fdopen(outp[0], "r");
	char line[64] = "";
	cr_assert(fgets(line, sizeof(line), from));
	cr_assert_str_eq(line, "given\n");

	unsigned char buf[WIRE_MAX_MESSAGE + 1];
	int fds[WIRE_MAX_FDS], nfds = 0;
	int chan[2];
	for (int i = 0; i < 2; i++) {
		cr_assert(wire_recv(sv[0], buf, sizeof(buf), fds, &nfds, 0) > 0);
		cr_assert_eq(nfds, 1);
		chan[i] = fds[0];
	}
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_HELLO, 1);
	size_t size = wire_writer_finish(&w);
	cr_assert(wire_send(chan[0], msg, size, NULL, 0, 0) == 0);
	/* No answer: the channel is closed. */
	ssize_t n = wire_recv(chan[0], buf, sizeof(buf), fds, &nfds, 0);
	cr_assert(n <= 0, "the monitor answered a hello from outside the tree");
	/* A first message that is not a hello ends a fork channel too. */
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_WAIT, 2);
	wire_put_int(&w, -1);
	wire_put_int(&w, 1);
	size = wire_writer_finish(&w);
	cr_assert(wire_send(chan[1], msg, size, NULL, 0, 0) == 0);
	n = wire_recv(chan[1], buf, sizeof(buf), fds, &nfds, 0);
	cr_assert(n <= 0, "the monitor served a fork channel before its hello");
	close(chan[0]);
	close(chan[1]);

	cr_assert(write(in[1], "go\n", 3) == 3);
	cr_assert(fgets(line, sizeof(line), from));
	cr_assert_str_eq(line, "after served\n");
	int status;
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(from);
	close(in[1]);
	close(sv[0]);
}

static double now(void);

/* --- priv_daemon -------------------------------------------------------------------- */

/* A process whose command line names the test directory. */
static pid_t tree_process(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && (e = readdir(d)) && !found) {
		char path[300], buf[4096];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, dir) && strstr(buf, "proc_prog"))
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

Test(proc, daemon_detaches_monitor_and_program)
{
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	granted_file("ok");
	char *outfile = pmtest_write_file(dir, "daemon.out", "");
	cr_assert(chmod(outfile, 0666) == 0);
	policy("fork true\nopen_ro { @/ok }\n");
	/* The first processes exit at once, as daemon(3)'s parent does. */
	expect("daemon @/ok @/daemon.out", "");
	char want[256];
	snprintf(want, sizeof(want), "daemon OK sid own cwd / stdin open\n");
	double end = now() + 10;
	char got[256] = "";
	while (now() < end) {
		slurp("daemon.out", got, sizeof(got));
		if (got[0])
			break;
		usleep(10000);
	}
	cr_assert_str_eq(got, want);
	/* The daemon ends; its monitor follows; nothing is left. */
	end = now() + 10;
	while (tree_process() && now() < end) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(10000);
	}
	cr_assert_eq(tree_process(), 0, "a process of the daemon is left behind");
	free(outfile);
}

Test(proc, daemon_needs_fork_true)
{
	policy("fork false\n");
	expect("daemon @/ok @/daemon.out", "ERR EPERM\n");
}

/* --- killing any process of the tree ------------------------------------------------ */

struct tree {
	pid_t monitor, main, rerun;
	pid_t workers[8];
	int nworkers;
	FILE *from;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start `tree N` with a monitored rerun; this test process is a subreaper,
 * so whatever is orphaned comes to it and is reaped here. */
static void tree_start(struct tree *t, int n)
{
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	granted_file("ok");
	policy("fork true\nallow_rerun true\nrun_as { pmtestpa }\nopen_ro { @/ok }\n");
	int p[2];
	cr_assert(pipe(p) == 0);
	char conf[512], path[512], count[16];
	snprintf(conf, sizeof(conf), "PRIVMAN_CONF_DIR=%s", dir);
	snprintf(path, sizeof(path), "%s/ok", dir);
	snprintf(count, sizeof(count), "%d", n);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		putenv(conf);
		execl(helper(), helper(), "t", "tree", count, path, "rerun", "pmtestpa",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	memset(t, 0, sizeof(*t));
	t->monitor = pid;
	t->from = fdopen(p[0], "r");
	char line[128];
	while (fgets(line, sizeof(line), t->from)) {
		int v;
		if (sscanf(line, "MAIN %d", &v) == 1)
			t->main = v;
		else if (sscanf(line, "WORKER %d", &v) == 1 && t->nworkers < 8)
			t->workers[t->nworkers++] = v;
		else if (sscanf(line, "RERUN %d", &v) == 1)
			t->rerun = v;
		else if (strcmp(line, "READY\n") == 0)
			break;
	}
	cr_assert(t->main > 0 && t->rerun > 0 && t->nworkers == n, "tree did not start: %s", line);
}

/* Reap what comes to us; true when `pid` no longer exists at all (not
 * even as a zombie) within `seconds`. */
static bool gone(pid_t pid, double seconds)
{
	double end = now() + seconds;
	do {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		usleep(10000);
	} while (now() < end);
	return false;
}

static bool alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void tree_all_gone(struct tree *t)
{
	cr_assert(gone(t->monitor, 10), "the monitor is left behind");
	cr_assert(gone(t->main, 10), "the program is left behind");
	cr_assert(gone(t->rerun, 10), "the rerun process is left behind");
	for (int i = 0; i < t->nworkers; i++)
		cr_assert(gone(t->workers[i], 10), "worker %d is left behind", t->workers[i]);
	fclose(t->from);
}

Test(proc, killing_a_worker_then_the_program_then_the_rest_leaves_nothing)
{
	struct tree t;
	tree_start(&t, 3);
	cr_assert(kill(t.workers[0], SIGKILL) == 0);
	cr_assert(gone(t.workers[0], 10), "the killed worker was not reaped");
	cr_assert(alive(t.monitor) && alive(t.main));
	/* The program's main process dies: the monitor serves on while
	 * program processes remain. */
	cr_assert(kill(t.main, SIGKILL) == 0);
	cr_assert(gone(t.main, 10));
	usleep(100000);
	cr_assert(alive(t.monitor), "the monitor left while workers still need it");
	cr_assert(alive(t.workers[1]) && alive(t.workers[2]) && alive(t.rerun),
		  "a worker lost its monitor");
	cr_assert(kill(t.workers[1], SIGKILL) == 0);
	cr_assert(kill(t.workers[2], SIGKILL) == 0);
	usleep(100000);
	cr_assert(alive(t.monitor), "the monitor left while the rerun process needs it");
	cr_assert(kill(t.rerun, SIGKILL) == 0);
	tree_all_gone(&t);
}

Test(proc, killing_the_monitor_leaves_nothing)
{
	struct tree t;
	tree_start(&t, 3);
	cr_assert(kill(t.monitor, SIGKILL) == 0);
	/* Every program process finds its monitor gone (EPIPE) and ends. */
	tree_all_gone(&t);
}

Test(proc, killing_a_monitored_rerun_leaves_no_zombie)
{
	struct tree t;
	tree_start(&t, 1);
	cr_assert(kill(t.rerun, SIGKILL) == 0);
	/* The monitor is its parent: gone means reaped by the monitor. */
	cr_assert(gone(t.rerun, 10), "the monitor did not reap its child");
	cr_assert(alive(t.monitor));
	cr_assert(kill(t.workers[0], SIGKILL) == 0);
	cr_assert(kill(t.main, SIGKILL) == 0);
	tree_all_gone(&t);
}

Test(proc, killing_the_program_with_no_other_process_ends_the_monitor)
{
	struct tree t;
	tree_start(&t, 1);
	cr_assert(kill(t.workers[0], SIGKILL) == 0);
	cr_assert(kill(t.rerun, SIGKILL) == 0);
	cr_assert(gone(t.workers[0], 10) && gone(t.rerun, 10));
	cr_assert(alive(t.monitor));
	cr_assert(kill(t.main, SIGTERM) == 0);
	tree_all_gone(&t);
}

/* --- the environment of a program started as another user -------------------------- */

/* Build in the test directory, with the system's compiler: evil.so, whose
 * constructor creates a file in @/mark (writable by all) in any process
 * that loads it; needlib, which finds libpmtmark.so in @/good through its
 * RUNPATH, and another libpmtmark.so (evil.so) in @/evil; @/gconv, where
 * the gconv module PMEVIL is evil.so. */
static void build_evil(void)
{
	pmtest_user_ensure("pmtestproc1");
	AUTOFREE char *evil = pmtest_write_file(
		dir, "evil.c",
		"#include <fcntl.h>\n#include <stdio.h>\n#include <unistd.h>\n"
		"int pm_mark(void);\nint pm_mark(void) { return 0; }\n"
		"__attribute__((constructor)) static void evil(void)\n{\n"
		"\tchar path[700];\n"
		"\tsnprintf(path, sizeof(path), \"%s/marker.%d\", MARKDIR, (int)getpid());\n"
		"\tint fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);\n"
		"\tif (fd >= 0)\n\t\tclose(fd);\n}\n");
	AUTOFREE char *good = pmtest_write_file(dir, "good.c",
						"int pm_mark(void);\nint pm_mark(void) { return 0; }\n");
	AUTOFREE char *need = pmtest_write_file(
		dir, "needlib.c", "int pm_mark(void);\nint main(void) { return pm_mark(); }\n");
	AUTOFREE char *modules = pmtest_write_file(
		dir, "gconv-modules",
		"module PMEVIL// INTERNAL pmevil 1\nmodule INTERNAL PMEVIL// pmevil 1\n");
	const char *cc = getenv("CC");
	int rc = pmtest_sh(
		"cd %s && mkdir mark good evil gconv && chmod 1777 mark && mv gconv-modules gconv/ && "
		"%s -shared -fPIC '-DMARKDIR=\"%s/mark\"' -o evil.so evil.c && "
		"cp evil.so evil/libpmtmark.so && cp evil.so gconv/pmevil.so && "
		"%s -shared -fPIC -o good/libpmtmark.so good.c && "
		"%s -o needlib needlib.c -Lgood -lpmtmark -Wl,--enable-new-dtags,-rpath,%s/good",
		dir, cc && *cc ? cc : "cc", dir, cc && *cc ? cc : "cc", cc && *cc ? cc : "cc",
		dir);
	cr_assert_eq(rc, 0, "cannot build the test's shared objects with the C compiler");
	/* Each of them works: a process that loads evil.so leaves a marker. */
	cr_assert_eq(pmtest_sh("cd %s && LD_PRELOAD=%s/evil.so /usr/bin/true && "
			       "LD_LIBRARY_PATH=%s/evil ./needlib && "
			       "{ GCONV_PATH=%s/gconv iconv -f PMEVIL -t UTF-8 </dev/null "
			       ">/dev/null 2>&1; true; } && test $(ls mark | wc -l) = 3 && "
			       "rm mark/*",
			       dir, dir, dir, dir),
		     0, "the test's evil.so does not work");
}

/* How many processes loaded evil.so. */
static int markers(void)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/mark", dir);
	DIR *d = opendir(p);
	cr_assert(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static char audit_text[1 << 16];

static void assert_audit_has(const char *text)
{
	slurp("audit.json", audit_text, sizeof(audit_text));
	cr_assert(strstr(audit_text, text), "the audit lacks \"%s\":\n%s", text, audit_text);
}

Test(proc, ld_preload_never_reaches_a_program_run_by_execve)
{
	build_evil();
	policy("allow_rerun true\n"
	       "run { program /usr/bin/true user { pmtestproc1 root } env * }\n"
	       "run { program /usr/bin/env user pmtestproc1 env { PMTEST_HARMLESS PMTEST_TWICE "
	       "LC_* } }\n");
	expect("execenv pmtestproc1 /usr/bin/true LD_PRELOAD=@/evil.so", "exit 0\n");
	expect("execenv root /usr/bin/true LD_PRELOAD=@/evil.so", "exit 0\n");
	cr_assert_eq(markers(), 0, "a program run as another user loaded LD_PRELOAD");
	assert_audit_has("\"op\":\"execve_env\",\"object\":\"/usr/bin/true\"");
	assert_audit_has("dropped from the environment: LD_PRELOAD (never passed)");

	/* What passes: the names of the env list, once each, well-formed. */
	expect("execenv pmtestproc1 /usr/bin/env LD_PRELOAD=@/evil.so PMTEST_HARMLESS=yes "
	       "PMTEST_OTHER=secret LC_TIME=C NOEQUALS BAD-NAME=x PMTEST_TWICE=1 PMTEST_TWICE=2 "
	       "LD_LIBRARY_PATH=@/evil GCONV_PATH=@/gconv",
	       "PMTEST_HARMLESS=yes\nLC_TIME=C\nexit 0\n");
	cr_assert_eq(markers(), 0);
	/* The unsafe first, then what the policy did not name. */
	assert_audit_has("8 variables dropped from the environment: LD_PRELOAD (never passed), "
			 "NOEQUALS (malformed), BAD\\\\x2dNAME (malformed name), "
			 "PMTEST_TWICE (given twice), PMTEST_TWICE (given twice), "
			 "LD_LIBRARY_PATH (never passed), GCONV_PATH (never passed), "
			 "PMTEST_OTHER (not in the env list)");
	/* Names, never values. */
	cr_assert_null(strstr(audit_text, "secret"));
	cr_assert_null(strstr(audit_text, "evil.so"));
}

Test(proc, ld_library_path_and_gconv_path_never_reach_a_program_run_by_execve)
{
	build_evil();
	policy("allow_rerun true\n"
	       "run { program @/needlib user pmtestproc1 env * }\n"
	       "run { program /usr/bin/iconv user pmtestproc1 env * }\n");
	expect("execenv pmtestproc1 @/needlib LD_LIBRARY_PATH=@/evil", "exit 0\n");
	cr_assert_eq(markers(), 0, "LD_LIBRARY_PATH chose a library of a program run as another user");
	/* iconv fails (PMEVIL is unknown without GCONV_PATH) but loads nothing. */
	expect("execenv pmtestproc1 /usr/bin/iconv GCONV_PATH=@/gconv -- -f PMEVIL -t UTF-8",
	       "exit 1\n");
	cr_assert_eq(markers(), 0, "GCONV_PATH chose a module of a program run as another user");
	assert_audit_has("GCONV_PATH (never passed)");
}

Test(proc, the_environment_of_popen_as_is_filtered)
{
	build_evil();
	policy("allow_rerun true\nrun { program /bin/sh user pmtestproc1 env { PMTEST_HARMLESS "
	       "LD_* } }\n");
	char set[1024];
	snprintf(set, sizeof(set), "LD_PRELOAD=%s/evil.so;PMTEST_HARMLESS=yes;PMTEST_SECRET=x",
		 dir);
	setenv("PROC_PROG_SETENV", set, 1);
	expect("popen pmtestproc1 'echo $PMTEST_HARMLESS$PMTEST_SECRET'", "popen yes\nstatus 0\n");
	unsetenv("PROC_PROG_SETENV");
	cr_assert_eq(markers(), 0, "the shell of priv_popen_as loaded LD_PRELOAD");
	assert_audit_has("\"op\":\"popen_as_env\"");
	assert_audit_has("LD_PRELOAD (never passed)");
}

Test(proc, without_an_env_list_no_variable_passes)
{
	pmtest_user_ensure("pmtestproc1");
	policy("allow_rerun true\nrun_as pmtestproc1\n");
	expect("execenv pmtestproc1 /usr/bin/env PMTEST_HARMLESS=yes", "exit 0\n");
	assert_audit_has("PMTEST_HARMLESS (not in the env list)");
}

Test(proc, an_env_list_naming_what_is_never_passed_is_refused)
{
	policy("allow_rerun true\nrun { program /usr/bin/true user pmtestpa env { LD_PRELOAD } }\n");
	cr_assert_neq(run("whoami"), 0);
	cr_assert(strstr(err, "LD_PRELOAD is never passed"), "stderr:\n%s", err);
	policy("allow_rerun true\nrun { program /usr/bin/true user pmtestpa env { 9X } }\n");
	cr_assert_neq(run("whoami"), 0);
	cr_assert(strstr(err, "is not a variable name"), "stderr:\n%s", err);
}

/* --- resource limits ------------------------------------------------------------------ */

Test(proc, a_started_process_has_the_requesters_resource_limits)
{
	pmtest_user_ensure("pmtestproc2");
	policy("allow_rerun true\nrun_as pmtestproc2\n");
	expect("limits pmtestproc2 rerun", "open files 77\ncore file size 51200\n");
	expect("limits pmtestproc2 execve", "core file size 51200\nopen files 77\n");
}

/* The program sets RLIMIT_NPROC 10: with itself, 9 processes started for
 * it run at once, the 10th is refused as fork(2) would refuse it. (A user
 * of its own: the kernel applies the same limit to that user's processes,
 * which other tests running at the same time would add to.) */
Test(proc, rlimit_nproc_bounds_processes_started_for_the_program)
{
	pmtest_user_ensure("pmtestproc3");
	cr_assert(chmod(dir, 01777) == 0); /* for the file "release" */
	policy("allow_rerun true\nrun_as pmtestproc3\n");
	expect("nproc 10 pmtestproc3 40 rerun", "started 9\nERR EAGAIN\n");
	assert_audit_has("10 processes of the program run: 1 more would exceed its RLIMIT_NPROC (10)");
	expect("nproc 10 pmtestproc3 40 execve", "started 9\nERR EAGAIN\n");
	expect("nproc 10 pmtestproc3 40 popen", "started 9\nERR EAGAIN\n");
	/* A respawn is two processes, the new monitor and its program, and
	 * counts so: 1 + 4 * 2 = 9, a fifth would make 11. */
	expect("nproc 10 pmtestproc3 40 respawn", "started 4\nERR EAGAIN\n");
}

/* Reruns with flags 0 whose callers do not exit: each still counts. */
Test(proc, rlimit_nproc_bounds_a_chain_of_reruns)
{
	pmtest_user_ensure("pmtestproc4");
	cr_assert(chmod(dir, 01777) == 0);
	policy("allow_rerun true\nrun_as pmtestproc4\n");
	expect_rc("nproc 10 pmtestproc4 40 chain",
		  1, "link 1\nlink 2\nlink 3\nlink 4\nlink 5\nlink 6\nlink 7\nlink 8\nlink 9\n"
		  "ERR EAGAIN\n");
	assert_audit_has("10 processes of the program run: 1 more would exceed its RLIMIT_NPROC (10)");
}

/* --- the fields of the process requests (no root needed) ------------------------------ */

static unsigned char wbuf[WIRE_MAX_MESSAGE];

static void put_cstr(struct wire_writer *w, const char *s, size_t n)
{
	wire_put_bytes(w, s, n);
}

/* Decode the message in `w` as a request, then its fields. */
static bool fields_ok(struct wire_writer *w)
{
	struct wire_request req;
	size_t n = wire_writer_finish(w);
	cr_assert(n > 0);
	const char *why;
	cr_assert(wire_decode_request(wbuf, n, 0, &req, &why) == 0, "%s", why);
	return proc_decode_request(&req);
}

static void rerun_start(struct wire_writer *w)
{
	uint64_t fn = 0x1000;
	wire_writer_init(w, wbuf, sizeof(wbuf), WIRE_OP_RERUN, 1);
	wire_put_bytes(w, &fn, sizeof(fn));
	wire_put_int(w, 0);
	put_cstr(w, "nobody", 7);
	put_cstr(w, "", 1);
}

Test(proc_wire, a_good_rerun_request_decodes)
{
	struct wire_writer w;
	rerun_start(&w);
	wire_put_int(&w, 2);
	put_cstr(&w, "a", 2);
	put_cstr(&w, "", 1);
	cr_assert(fields_ok(&w));
}

Test(proc_wire, malformed_fields_are_refused)
{
	struct wire_writer w;
	rerun_start(&w); /* a string without its NUL */
	wire_put_int(&w, 1);
	put_cstr(&w, "ab", 2);
	cr_assert_not(fields_ok(&w));
	rerun_start(&w); /* a NUL inside a string */
	wire_put_int(&w, 1);
	put_cstr(&w, "a\0b", 4);
	cr_assert_not(fields_ok(&w));
	rerun_start(&w); /* fewer strings than counted */
	wire_put_int(&w, 3);
	put_cstr(&w, "a", 2);
	cr_assert_not(fields_ok(&w));
	rerun_start(&w); /* a negative count, and one too large */
	wire_put_int(&w, -1);
	cr_assert_not(fields_ok(&w));
	rerun_start(&w);
	wire_put_int(&w, 100000);
	cr_assert_not(fields_ok(&w));
	rerun_start(&w); /* bytes after the last field */
	wire_put_int(&w, 0);
	wire_put_int(&w, 0);
	cr_assert_not(fields_ok(&w));
	/* A field of the wrong type. */
	wire_writer_init(&w, wbuf, sizeof(wbuf), WIRE_OP_WAIT, 1);
	wire_put_int(&w, -1);
	put_cstr(&w, "x", 2);
	cr_assert_not(fields_ok(&w));
	/* fork and hello carry nothing. */
	wire_writer_init(&w, wbuf, sizeof(wbuf), WIRE_OP_FORK, 1);
	wire_put_int(&w, 0);
	cr_assert_not(fields_ok(&w));
	wire_writer_init(&w, wbuf, sizeof(wbuf), WIRE_OP_HELLO, 1);
	cr_assert(fields_ok(&w));
}

/* --- the environment filter (no root needed) ------------------------------------------ */

#define PROC_TEST_MANY 500

static size_t filter(char **in, const char *const *allow, char **passed, struct env_report *r)
{
	struct policy_value list[8];
	size_t n = 0, count = 0;
	for (; allow && allow[n]; n++)
		list[n].text = (char *)(uintptr_t)allow[n];
	while (in[count])
		count++;
	return env_filter(in, count, list, n, passed, r);
}

Test(envfilter, only_listed_safe_well_formed_names_pass)
{
	char *in[] = {"PATH=/bin", "LC_TIME=C", "LANG=C.UTF-8", "TZ=Europe/Paris", "X=1", NULL};
	const char *allow[] = {"PATH", "LC_*", "TZ", NULL};
	char *passed[8];
	struct env_report r;
	cr_assert_eq(filter(in, allow, passed, &r), 3);
	cr_assert_str_eq(passed[0], "PATH=/bin");
	cr_assert_str_eq(passed[1], "LC_TIME=C");
	cr_assert_str_eq(passed[2], "TZ=Europe/Paris");
	cr_assert_null(passed[3]);
	cr_assert_str_eq(r.text, "LANG (not in the env list), X (not in the env list)");
	/* No list: nothing passes. */
	cr_assert_eq(filter(in, NULL, passed, &r), 0);
	cr_assert_eq(r.dropped, 5);
}

Test(envfilter, what_glibc_drops_for_set_id_programs_never_passes)
{
	const char *never[] = {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_AOUT_PRELOAD",
			       "GCONV_PATH", "GLIBC_TUNABLES", "MALLOC_CHECK_", "MALLOC_TRACE",
			       "NLSPATH", "LOCPATH", "HOSTALIASES", "RES_OPTIONS", "TMPDIR",
			       "TZDIR", "GETCONF_DIR", "BASH_ENV", "ENV", "SHELLOPTS",
			       "BASH_FUNC_x", NULL};
	const char *all[] = {"*", NULL};
	for (size_t i = 0; never[i]; i++) {
		char entry[64];
		snprintf(entry, sizeof(entry), "%s=x", never[i]);
		char *in[] = {entry, NULL};
		char *passed[2];
		struct env_report r;
		cr_assert_eq(filter(in, all, passed, &r), 0, "%s passed", never[i]);
		cr_assert(env_never_passed(never[i], strlen(never[i])));
	}
}

Test(envfilter, malformed_twice_long_and_unsafe_values_never_pass)
{
	static char longer[ENV_MAX_ENTRY + 8];
	memset(longer, 'v', sizeof(longer) - 1);
	memcpy(longer, "LONG=", 5);
	char *in[] = {"NOEQUALS", "=x", "1X=y", "A-B=z", "A\nB=z", "D=1", "D=2", longer,
		      "TZ=/tmp/zone", "LC_ALL=../../tmp/x", NULL};
	const char *all[] = {"*", NULL};
	char *passed[16];
	struct env_report r;
	cr_assert_eq(filter(in, all, passed, &r), 0);
	cr_assert_str_eq(r.text, "NOEQUALS (malformed), (no name) (malformed), 1X (malformed name), "
				 "A\\x2dB (malformed name), A\\x0aB (malformed name), D (given twice), "
				 "D (given twice), LONG (too long), TZ (unsafe value), "
				 "LC_ALL (unsafe value)");
	char *ok[] = {"TZ=:/usr/share/zoneinfo/UTC", "LANGUAGE=fr:en", NULL};
	cr_assert_eq(filter(ok, all, passed, &r), 2);
}

Test(envfilter, the_report_stays_bounded)
{
	static char names[PROC_TEST_MANY][32];
	static char *in[PROC_TEST_MANY + 1];
	for (int i = 0; i < PROC_TEST_MANY; i++) {
		snprintf(names[i], sizeof(names[i]), "LD_%d=x", i);
		in[i] = names[i];
	}
	char *passed[PROC_TEST_MANY + 1];
	struct env_report r;
	cr_assert_eq(filter(in, NULL, passed, &r), 0);
	cr_assert_eq(r.dropped, PROC_TEST_MANY);
	cr_assert(strlen(r.text) < sizeof(r.text));
	cr_assert(r.full && r.len >= 5);
	cr_assert_str_eq(r.text + r.len - 5, ", ...");
}

/* --- run { env } in the policy (no root needed) ------------------------------------------ */

Test(envfilter, run_env_lists_are_checked_when_loaded)
{
	struct diag d;
	struct policy *p = parse_text("run { program /bin/x user nobody env { PATH LC_* } }\n"
				      "run { program /bin/y user nobody env * }\n"
				      "run { program /bin/z user nobody env PYTHONPATH }\n",
				      &d);
	cr_assert_not_null(p);
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	cr_assert_eq(p->run.rules[0].env_count, 2);
	cr_assert_str_eq(p->run.rules[0].env[1].text, "LC_*");
	cr_assert_diag(&d, "test.conf:2:38: warning: run { env * } passes every variable");
	cr_assert_diag(&d, "test.conf:3:38: warning: run { env } PYTHONPATH lets the caller");
	/* The grant names its scope: the monitor filters with its list. */
	struct policy_request r = {.op = POLICY_OP_RUN_AS, .uid = 12345, .user = "u",
				   .program = "/bin/x"};
	p->run.rules[0].users.rules[0].any_nonroot = true;
	struct policy_decision out_;
	policy_decide(p, &r, &out_);
	cr_assert(out_.allow);
	cr_assert_eq(out_.run, &p->run.rules[0]);
	policy_free(p);
	diag_free(&d);

	p = parse_text("run { program /bin/x user nobody env { LD_PRELOAD GCONV_PATH 9A A-B } }\n",
		       &d);
	cr_assert_not_null(p);
	cr_assert_lt(policy_validate_syntax(p, &d), 0);
	cr_assert_diag(&d, "run { env } LD_PRELOAD is never passed");
	cr_assert_diag(&d, "run { env } GCONV_PATH is never passed");
	cr_assert_diag(&d, "run { env } \"9A\" is not a variable name");
	cr_assert_diag(&d, "run { env } \"A-B\" is not a variable name");
	policy_free(p);
	diag_free(&d);
}

/* A program that closed its standard streams before priv_init: the monitor's
 * sockets must not take descriptors 0-2, which every process it starts
 * keeps (a rerun as another user would hold the monitor's channel, epoll
 * and signal fds). priv_init opens /dev/null there, as glibc does for a
 * set-id program. */
Test(proc, a_program_with_its_stdio_closed_gives_a_rerun_dev_null_not_the_monitors_fds)
{
	pmtest_user_ensure("pmtestproc2");
	policy("allow_rerun true\nrun_as pmtestproc2\n");
	cr_assert(chmod(dir, 01777) == 0); /* the rerun writes its report here */
	setenv("PROC_PROG_CLOSE_STDIO", "1", 1);
	int rc = run("fds pmtestproc2 @/fds");
	unsetenv("PROC_PROG_CLOSE_STDIO");
	cr_assert_eq(rc, 0, "exit status %d", rc);
	char got[1024];
	slurp("fds", got, sizeof(got));
	cr_assert_str_eq(got, "0 /dev/null\n1 /dev/null\n2 /dev/null\n");
}
