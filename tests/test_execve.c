/* priv_execve replaces its caller, as execve(2) and the original Privman
 * do: the helper tests/helpers/execve_prog is a real program split by
 * priv_init, and the status seen here is the whole split program's (its
 * monitor's). As root, with real users pmtestex1 and pmtestex2. */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure("pmtestex1");
	pmtest_user_ensure("pmtestex2");
}

static void teardown(void)
{
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

TestSuite(execve, .init = setup, .fini = teardown, .timeout = 60);

static char *helper(void)
{
	static char path[PATH_MAX];
	char rel[256];
	if (path[0])
		return path;
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/tests/helpers/execve_prog",
		 build && *build ? build : "build");
	if (!path[0] && !realpath(rel, path))
		snprintf(path, sizeof(path), "%s", rel);
	return path;
}

static void policy(const char *text)
{
	free(pmtest_write_file(dir, "t", text));
}

/* An empty file anyone may write (the program runs as nobody). */
static char *shared_file(const char *name)
{
	char *p = pmtest_write_file(dir, name, "");
	cr_assert(chmod(p, 0666) == 0);
	return p;
}

static char out[1 << 16];

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

static void slurp_out(void)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/out", dir);
	slurp(p, out, sizeof(out));
}

/* Start the helper: execve_prog t ARGS..., with stdout in DIR/out and
 * stderr in DIR/err. */
static pid_t start(char *const args[])
{
	char *argv[32] = {helper(), "t"};
	size_t n = 2;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char p[512];
		if (chdir(dir) < 0)
			_exit(120);
		umask(022);
		setenv("PRIVMAN_CONF_DIR", dir, 1);
		snprintf(p, sizeof(p), "%s/audit.json", dir);
		setenv("PRIVMAN_AUDIT", p, 1);
		int in = open("/dev/null", O_RDONLY);
		snprintf(p, sizeof(p), "%s/out", dir);
		int o = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		snprintf(p, sizeof(p), "%s/err", dir);
		int e = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(121);
		execv(argv[0], argv);
		_exit(122);
	}
	return pid;
}

/* The raw wait status of the whole split program; its stdout in `out`. */
static int finish(pid_t pid)
{
	int status = 0;
	for (int i = 0; i < 30000; i++) {
		pid_t got = waitpid(pid, &status, WNOHANG);
		cr_assert(got >= 0);
		if (got == pid) {
			slurp_out();
			return status;
		}
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("the program did not end");
	return -1;
}

static int run(char *const args[])
{
	return finish(start(args));
}

static void expect_exit(char *const args[], int code, const char *want)
{
	int status = run(args);
	char p[512];
	static char err[1 << 14];
	snprintf(p, sizeof(p), "%s/err", dir);
	slurp(p, err, sizeof(err));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == code,
		  "wanted exit %d, got status 0x%x\nstdout:\n%s\nstderr:\n%s", code, status, out,
		  err);
	cr_assert_str_eq(out, want, "stderr:\n%s", err);
}

/* Until FILE holds `text` (at most 10 s). */
static void wait_for_text(const char *file, const char *text)
{
	static char buf[4096];
	for (int i = 0; i < 1000; i++) {
		slurp(file, buf, sizeof(buf));
		if (strstr(buf, text))
			return;
		usleep(10000);
	}
	cr_assert_fail("%s never said %s", file, text);
}

#define ARGS(...) ((char *const[]){__VA_ARGS__, NULL})

Test(execve, a_successful_call_does_not_return_and_the_output_follows_in_order)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	/* The program writes after a pause: the split program may not end,
	 * nor its output stop, before it has. */
	expect_exit(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c",
			 "sleep 0.2; echo out; id -un; echo err >&2"),
		    0, "before\nout\npmtestex1\n");
}

Test(execve, the_exit_status_is_the_programs)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	expect_exit(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c", "echo three; exit 3"), 3,
		    "before\nthree\n");
	expect_exit(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c", "exit 0"), 0, "before\n");
	/* A program that cannot be executed: 127, as from a shell. */
	expect_exit(ARGS("replace", "pmtestex1", "-", "/nonexistent"), 127, "before\n");
}

Test(execve, death_by_a_signal_is_the_programs)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	int status = run(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c",
			      "echo dying; kill -USR1 $$; sleep 5"));
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1, "status 0x%x\n%s", status,
		  out);
	cr_assert_str_eq(out, "before\ndying\n");
	status = run(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c", "kill -KILL $$"));
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
}

Test(execve, a_refusal_returns_minus_one_with_errno)
{
	policy("allow_rerun true\nrun_as { pmtestex2 }\n");
	expect_exit(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "before\nERR EPERM\n");
	expect_exit(ARGS("replace", "pmtestex2", "-", "sh", "-c", "echo ran"), 0,
		    "before\nERR EINVAL\n");
	policy("run_as { pmtestex1 }\n");
	expect_exit(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "before\nERR EPERM\n");
}

Test(execve, the_program_gets_the_callers_standard_streams)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	AUTOFREE char *file = shared_file("redirected");
	expect_exit(ARGS("redirect", file, "pmtestex1", "-", "/bin/sh", "-c", "echo out"), 0, "");
	char got[256];
	slurp(file, got, sizeof(got));
	cr_assert_str_eq(got, "before\nout\n");
}

/* The program's script: says "ready", then exits 7 on SIGTERM. */
#define TRAPPER                                                                           \
	"trap 'echo got TERM; exit 7' TERM; echo ready; i=0; "                            \
	"while [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; exit 1"

Test(execve, a_signal_sent_to_the_caller_reaches_the_program)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	AUTOFREE char *pidfile = shared_file("pid");
	char outfile[512];
	snprintf(outfile, sizeof(outfile), "%s/out", dir);
	pid_t monitor = start(ARGS("pidfile", pidfile, "pmtestex1", "-", "/bin/sh", "-c", TRAPPER));
	wait_for_text(outfile, "ready");
	char buf[32];
	slurp(pidfile, buf, sizeof(buf));
	pid_t caller = atoi(buf);
	cr_assert(caller > 0 && caller != monitor);
	cr_assert(kill(caller, SIGTERM) == 0);
	int status = finish(monitor);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status 0x%x\n%s", status, out);
	cr_assert_str_eq(out, "before\nready\ngot TERM\n");
}

Test(execve, a_signal_sent_to_the_monitor_reaches_the_program)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	char outfile[512];
	snprintf(outfile, sizeof(outfile), "%s/out", dir);
	pid_t monitor = start(ARGS("replace", "pmtestex1", "-", "/bin/sh", "-c", TRAPPER));
	wait_for_text(outfile, "ready");
	cr_assert(kill(monitor, SIGTERM) == 0);
	int status = finish(monitor);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status 0x%x\n%s", status, out);
}

Test(execve, other_threads_of_the_caller_stop)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	AUTOFREE char *file = shared_file("ticks");
	/* The caller's second thread appends to the file every millisecond
	 * until the call: the program, which starts once it is stopped, sees
	 * it grow no more. */
	expect_exit(ARGS("threads", file, "pmtestex1", "-", "/bin/sh", "-c",
			 "a=$(wc -c <\"$0\"); sleep 0.2; b=$(wc -c <\"$0\"); "
			 "[ \"$a\" = \"$b\" ] && echo still || echo moved $a $b",
			 file),
		    0, "before\nstill\n");
}

/* A jail (root-owned, 0755, no /proc) holding a static /checker that
 * prints "still" when the file its argument names keeps its size for
 * 200 ms, and an empty /ticks anyone may write. */
static void make_checker_jail(void)
{
	char p[512], src[512];
	snprintf(p, sizeof(p), "%s/jail", dir);
	cr_assert(mkdir(p, 0755) == 0);
	free(shared_file("jail/ticks"));
	snprintf(src, sizeof(src), "%s/checker.c", dir);
	FILE *f = fopen(src, "we");
	cr_assert(f);
	fputs("#include <stdio.h>\n#include <sys/stat.h>\n#include <time.h>\n"
	      "int main(int c, char **v) { struct stat a, b;\n"
	      "  struct timespec t = {0, 200000000};\n"
	      "  if (c < 2 || stat(v[1], &a) || nanosleep(&t, 0) || stat(v[1], &b)) return 9;\n"
	      "  if (a.st_size == b.st_size) printf(\"still\\n\");\n"
	      "  else printf(\"moved %ld %ld\\n\", (long)a.st_size, (long)b.st_size);\n"
	      "  return 0; }\n",
	      f);
	fclose(f);
	cr_assert(pmtest_sh("cc -static -O1 -o %s/checker %s", p, src) == 0, "cannot build checker");
}

Test(execve, other_threads_of_the_caller_stop_in_a_chroot_without_proc)
{
	make_checker_jail();
	char text[1024];
	snprintf(text, sizeof(text), "chroot %s/jail\nallow_rerun true\nrun_as { pmtestex1 }\n",
		 dir);
	policy(text);
	expect_exit(ARGS("threads", "/ticks", "pmtestex1", "-", "/checker", "/ticks"), 0,
		    "before\nstill\n");
}

Test(execve, a_priv_fork_child_is_replaced_and_its_parent_sees_the_programs_status)
{
	policy("allow_rerun true\nfork true\nrun_as { pmtestex1 }\n");
	expect_exit(ARGS("fork", "pmtestex1", "-", "/bin/sh", "-c", "echo child-out; exit 4"), 0,
		    "before\nchild-out\nchild exit 4\n");
	expect_exit(ARGS("fork", "pmtestex1", "-", "/bin/sh", "-c", "kill -TERM $$"), 0,
		    "before\nchild signal 15\n");
}

Test(execve, priv_execve_spawn_returns_the_pid_as_before)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	expect_exit(ARGS("spawn", "pmtestex1", "-", "/bin/sh", "-c", "exit 5"), 0,
		    "spawned\nexit 5\n");
	policy("allow_rerun true\nrun_as { pmtestex2 }\n");
	expect_exit(ARGS("spawn", "pmtestex1", "-", "/bin/sh", "-c", "exit 5"), 0, "ERR EPERM\n");
}

Test(execve, the_program_dies_with_a_caller_that_is_killed)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	AUTOFREE char *pidfile = shared_file("pid");
	AUTOFREE char *mark = shared_file("survived");
	char outfile[512];
	snprintf(outfile, sizeof(outfile), "%s/out", dir);
	pid_t monitor = start(ARGS("pidfile", pidfile, "pmtestex1", "-", "/bin/sh", "-c",
				   "echo ready; sleep 0.3; echo survived >\"$0\"", mark));
	wait_for_text(outfile, "ready");
	char buf[32];
	slurp(pidfile, buf, sizeof(buf));
	pid_t caller = atoi(buf);
	cr_assert(caller > 0 && caller != monitor);
	cr_assert(kill(caller, SIGKILL) == 0);
	int status = finish(monitor);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status 0x%x", status);
	usleep(600000);
	slurp(mark, buf, sizeof(buf));
	cr_assert_str_eq(buf, "", "the program outlived the process it replaced");
}

/* --- hostile program code speaking the wire -------------------------------------- */

static void audit_says(const char *text)
{
	static char audit[1 << 16];
	char p[512];
	snprintf(p, sizeof(p), "%s/audit.json", dir);
	slurp(p, audit, sizeof(audit));
	cr_assert(strstr(audit, text), "the audit log lacks \"%s\":\n%s", text, audit);
}

Test(execve, a_link_that_is_not_as_promised_is_a_protocol_violation_and_nothing_runs)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	/* Served no more: the call fails with EPIPE; the program never ran. */
	expect_exit(ARGS("evil", "nostdio", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "ERR EPIPE\n");
	audit_says("\"protocol\"");
	expect_exit(ARGS("evil", "surplus", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "ERR EPIPE\n");
	expect_exit(ARGS("evil", "stream", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "ERR EPIPE\n");	/* A link the caller did not make: one of the monitor's own sockets
	 * would be such a one. */
	expect_exit(ARGS("evil", "foreign", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "ERR EPIPE\n");
	/* A directory or an O_PATH handle as a stream: a way out of a chroot
	 * for the new program. */
	expect_exit(ARGS("evil", "dirstdio", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "ERR EPIPE\n");
	expect_exit(ARGS("evil", "pathstdio", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "ERR EPIPE\n");
}

Test(execve, nonsense_on_the_link_kills_the_program)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	AUTOFREE char *mark = shared_file("survived");
	expect_exit(ARGS("evil", "garbage", "pmtestex1", "-", "/bin/sh", "-c",
			 "sleep 0.3; echo survived >\"$0\"", mark),
		    0, "OK\nlink closed\n");
	usleep(500000);
	char buf[64];
	slurp(mark, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	audit_says("something else than a signal");
}

Test(execve, the_program_starts_only_once_the_caller_has_stopped_its_threads)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	/* The caller opens the gate only once its threads are stopped and its
	 * files closed; this one waits 300 ms first. */
	expect_exit(ARGS("evil", "late", "pmtestex1", "-", "/bin/sh", "-c", "echo ran"), 0,
		    "OK\nopening\nran\nstatus 0x0\n");
}

Test(execve, of_two_threads_that_succeed_at_once_one_takes_the_process)
{
	policy("allow_rerun true\nrun_as { pmtestex1 }\n");
	for (int i = 0; i < 5; i++) {
		int status = run(ARGS("twice", "pmtestex1", "-"));
		cr_assert(WIFEXITED(status), "status 0x%x\n%s", status, out);
		if (WEXITSTATUS(status) == 1)
			cr_assert_str_eq(out, "one\n");
		else
			cr_assert(WEXITSTATUS(status) == 2 && strcmp(out, "two\n") == 0,
				  "status 0x%x\n%s", status, out);
	}
}
