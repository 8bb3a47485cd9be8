/* The signals the monitor sends, and the status it leaves with, once the
 * main program process is gone while others remain. The helper
 * tests/helpers/signal_prog is a real program split by priv_init. As root,
 * with a real user pmtestsg1; the first tests run in a pid namespace of
 * their own, where /proc/sys/kernel/ns_last_pid gives a new process the
 * pid of one that ended. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure("pmtestsg1");
}

static void teardown(void)
{
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

TestSuite(signals, .init = setup, .fini = teardown, .timeout = 60);

static const char *helper(void)
{
	static char path[PATH_MAX];
	char rel[256];
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/tests/helpers/signal_prog",
		 build && *build ? build : "build");
	if (!path[0] && !realpath(rel, path))
		snprintf(path, sizeof(path), "%s", rel);
	return path;
}

static void policy(const char *text)
{
	free(pmtest_write_file(dir, "t", text));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- in a pid namespace of its own ----------------------------------------------- */

/* What the helper printed so far, read from `fd` for up to `seconds`
 * until `want` is in it. */
static char seen[4096];
static size_t seen_len;

static bool wait_output(int fd, const char *want, double seconds)
{
	double end = now() + seconds;
	while (!strstr(seen, want) && now() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		ssize_t n = read(fd, seen + seen_len, sizeof(seen) - 1 - seen_len);
		if (n <= 0)
			break;
		seen_len += (size_t)n;
		seen[seen_len] = '\0';
	}
	return strstr(seen, want) != NULL;
}

static pid_t number_after(const char *label)
{
	const char *p = strstr(seen, label);
	return p ? (pid_t)atoi(p + strlen(label)) : 0;
}

/* In a new process: the pid of one that ended. Says (exit 1) whether a
 * SIGUSR1 reached it before the runner's SIGUSR2 (both blocked before the
 * fork, so neither is lost). */
static void __attribute__((noreturn)) pid_squatter(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	struct timespec limit = {.tv_sec = 20};
	int sig = sigtimedwait(&set, NULL, &limit);
	if (sig == SIGUSR1)
		_exit(1);
	sigset_t pending;
	sigpending(&pending);
	_exit(sig < 0 ? 2 : sigismember(&pending, SIGUSR1) ? 1 : 0);
}

/* A process with pid `pid` in this pid namespace (exit 0 from squatter
 * when nothing reached it), or 0. */
static pid_t squat(pid_t pid)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "we");
		if (!f)
			return 0;
		fprintf(f, "%d", (int)pid - 1);
		if (fclose(f) != 0)
			return 0;
		pid_t z = fork();
		if (z == 0)
			pid_squatter();
		if (z == pid)
			return z;
		if (z > 0) {
			kill(z, SIGKILL);
			waitpid(z, NULL, 0);
		}
	}
	return 0;
}

/* In pid 1 of the new namespace: mount its own /proc (where the monitor
 * finds the namespace's pids) and start the helper with `cmd` (and `arg`)
 * on pipes: *in is its stdin, *out its stdout. Returns its pid (the
 * monitor's), or -1. */
static pid_t start_helper(const char *cmd, const char *arg, int *in, int *out)
{
	int i[2], o[2];
	const char *path = helper();
	if (pipe2(i, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0)
		return -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(i[0], STDIN_FILENO);
		dup2(o[1], STDOUT_FILENO);
		if (chdir(dir) < 0)
			_exit(126);
		setenv("PRIVMAN_CONF_DIR", dir, 1);
		execl(path, path, "t", cmd, arg, (char *)NULL);
		_exit(127);
	}
	close(i[0]);
	close(o[1]);
	*in = i[1];
	*out = o[0];
	return pid;
}

/* Result codes of the runner. */
enum {
	RUN_OK,
	RUN_NO_START,
	RUN_NO_PIDS,
	RUN_PROGRAM_STAYS,
	RUN_NO_SQUAT,
	RUN_SQUATTER_SIGNALLED, /* the defect: the old pid was signalled */
	RUN_SQUATTER_ERROR,
	RUN_CHILD_NOT_SIGNALLED,
	RUN_BAD_STATUS,
};

/* Pid 1 of the new namespace: the helper's monitor (its first process),
 * its program and the program's priv_fork child run in it. The program
 * exits; a new process takes its pid; the monitor is sent `sig`. */
static int runner(int sig)
{
	int in, out;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	double end;
	pid_t monitor = start_helper("forkstay", NULL, &in, &out);
	if (monitor < 0)
		return RUN_NO_START;
	if (!wait_output(out, "child ", 10))
		return RUN_NO_PIDS;
	end = now() + 2; /* the rest of the line */
	while (!strchr(strstr(seen, "child "), '\n') && now() < end)
		wait_output(out, "\nchild", 0.02);
	pid_t program = number_after("program "), child = number_after("child ");
	if (program <= 1 || child <= 1)
		return RUN_NO_PIDS;
	/* The program exits, and the monitor reaps it: its pid is free. */
	end = now() + 5;
	while (kill(program, 0) == 0 && now() < end)
		usleep(2000);
	if (kill(program, 0) == 0)
		return RUN_PROGRAM_STAYS;

	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t z = squat(program);
	if (!z)
		return RUN_NO_SQUAT;
	kill(monitor, sig);
	/* Forwarded to the program processes that remain: the child. */
	bool child_got = wait_output(out, "usr1", 3);
	kill(z, SIGUSR2);
	int zs = 0;
	waitpid(z, &zs, 0);
	close(in); /* the child leaves, and the monitor with it */
	int ms = 0;
	waitpid(monitor, &ms, 0);
	if (!WIFEXITED(zs) || WEXITSTATUS(zs) == 2)
		return RUN_SQUATTER_ERROR;
	if (WEXITSTATUS(zs) == 1)
		return RUN_SQUATTER_SIGNALLED;
	if (!child_got)
		return RUN_CHILD_NOT_SIGNALLED;
	if (!WIFEXITED(ms) || WEXITSTATUS(ms) != 5)
		return RUN_BAD_STATUS;
	return RUN_OK;
}

/* The program exits; its priv_fork child then makes a grandchild that gets
 * the ended program's pid. The monitor serves it as any other: the old
 * pid names no process of the monitor's any more. */
static int reuse_runner(int unused)
{
	(void)unused;
	int in, out;
	pid_t monitor = start_helper("forkstay", NULL, &in, &out);
	if (monitor < 0)
		return RUN_NO_START;
	if (!wait_output(out, "child ", 10))
		return RUN_NO_PIDS;
	double end = now() + 2;
	while (!strchr(strstr(seen, "child "), '\n') && now() < end)
		wait_output(out, "\nchild", 0.02);
	pid_t program = number_after("program ");
	end = now() + 5;
	while (kill(program, 0) == 0 && now() < end)
		usleep(2000);
	if (program <= 1 || kill(program, 0) == 0)
		return RUN_PROGRAM_STAYS;
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "we");
	if (!f)
		return RUN_NO_SQUAT;
	fprintf(f, "%d", (int)program - 1);
	if (fclose(f) != 0 || write(in, "\n", 1) != 1)
		return RUN_NO_SQUAT;
	if (!wait_output(out, "grandchild ", 5))
		return RUN_NO_PIDS;
	end = now() + 2;
	while (!strchr(strstr(seen, "grandchild "), '\n') && now() < end)
		wait_output(out, "\ngrandchild", 0.02);
	pid_t grandchild = number_after("grandchild ");
	bool served = strstr(seen, " ECHILD\n") != NULL;
	close(in);
	int ms = 0;
	waitpid(monitor, &ms, 0);
	if (grandchild != program)
		return RUN_NO_SQUAT;
	if (!served)
		return RUN_CHILD_NOT_SIGNALLED;
	return WIFEXITED(ms) && WEXITSTATUS(ms) == 5 ? RUN_OK : RUN_BAD_STATUS;
}

static int run_in_new_pid_namespace(int (*fn)(int), int sig)
{
	helper(); /* its path, resolved here */
	cr_assert(unshare(CLONE_NEWPID | CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(fn(sig));
	int status;
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status), "the runner died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* The monitor, which runs as root, forwards a signal it is sent to the
 * program: once the program's first process has ended, its pid may be
 * another process's, which the monitor must never signal. The program's
 * priv_fork child, which the monitor still serves, gets it instead. */
Test(signals, a_forwarded_signal_never_reaches_a_process_that_took_the_programs_pid)
{
	policy("fork true\n");
	int rc = run_in_new_pid_namespace(runner, SIGUSR1);
	cr_assert_neq(rc, RUN_SQUATTER_SIGNALLED,
		      "the monitor signalled the process that took the ended program's pid");
	cr_assert_eq(rc, RUN_OK, "runner result %d (see enum in the test)", rc);
}

/* A process of the program that has the ended main program's pid is
 * served (the monitor does not take it for the main program). */
Test(signals, a_program_process_with_the_ended_programs_pid_is_served)
{
	policy("fork true\n");
	int rc = run_in_new_pid_namespace(reuse_runner, 0);
	cr_assert_neq(rc, RUN_CHILD_NOT_SIGNALLED,
		      "the grandchild with the ended program's pid was not served");
	cr_assert_eq(rc, RUN_OK, "runner result %d (see enum in the test)", rc);
}

/* The pid of a child of `parent` named `comm` in this namespace's /proc,
 * or 0. */
static pid_t child_named(pid_t parent, const char *comm)
{
	char path[300], buf[512], want[64];
	snprintf(want, sizeof(want), "(%s)", comm);
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	while (d && !found && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *end = strrchr(buf, ')');
		int ppid = 0;
		if (end && strstr(buf, want) && sscanf(end + 1, " %*c %d", &ppid) == 1 &&
		    ppid == parent)
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* The monitor's PAM worker made ready ahead of need dies and is reaped
 * before a priv_pam_start hands it out; a new process takes its pid. The
 * monitor, which then finds the worker gone, kills it: through its pidfd,
 * never the process that has its pid now. */
static int pam_runner(int unused)
{
	(void)unused;
	int in, out;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pid_t monitor = start_helper("pamstart", "pmtestsgsvc", &in, &out);
	if (monitor < 0)
		return RUN_NO_START;
	if (!wait_output(out, "ready\n", 10))
		return RUN_NO_PIDS;
	pid_t worker = 0;
	double end = now() + 5;
	while (!(worker = child_named(monitor, "privman-pamrdy")) && now() < end)
		usleep(2000);
	if (!worker)
		return RUN_NO_PIDS;
	kill(worker, SIGKILL);
	end = now() + 5;
	while (kill(worker, 0) == 0 && now() < end) /* until the monitor reaps it */
		usleep(2000);
	if (kill(worker, 0) == 0)
		return RUN_PROGRAM_STAYS;
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t z = squat(worker);
	if (!z)
		return RUN_NO_SQUAT;
	if (write(in, "go\n", 3) != 3 || !wait_output(out, "pam_start ", 5))
		return RUN_CHILD_NOT_SIGNALLED;
	kill(z, SIGUSR2);
	int zs = 0;
	waitpid(z, &zs, 0);
	close(in);
	waitpid(monitor, NULL, 0);
	if (WIFSIGNALED(zs))
		return RUN_SQUATTER_SIGNALLED;
	if (!WIFEXITED(zs) || WEXITSTATUS(zs) != 0)
		return RUN_SQUATTER_ERROR;
	return RUN_OK;
}

Test(signals, a_pam_worker_that_ended_is_never_killed_by_a_pid_another_process_has_now)
{
	policy("auth { pmtestsgsvc }\n");
	int rc = run_in_new_pid_namespace(pam_runner, 0);
	cr_assert_neq(rc, RUN_SQUATTER_SIGNALLED,
		      "the monitor killed the process that took the ended worker's pid");
	cr_assert_eq(rc, RUN_OK, "runner result %d (see enum in the test)", rc);
}

/* --- after priv_daemon ------------------------------------------------------------ */

/* A priv_execve after priv_daemon: the detached monitor leaves with the
 * status of the program that took the caller's place, as it does without
 * priv_daemon. The test is the subreaper of the detached processes. */
Test(signals, after_priv_daemon_the_monitor_leaves_with_the_status_of_priv_execve)
{
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	policy("fork true\nallow_rerun true\nrun_as { pmtestsg1 }\n");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PRIVMAN_CONF_DIR=%s timeout -s KILL 30 %s t daemonexec pmtestsg1 3 "
		 ">%s/out 2>%s/err </dev/null",
		 dir, dir, helper(), dir, dir);
	cr_assert_eq(system(cmd), 0);
	/* Every detached process is ours to reap: note the status of each. */
	pid_t pids[16];
	int statuses[16];
	size_t n = 0;
	double end = now() + 20;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid > 0 && n < 16) {
			pids[n] = pid;
			statuses[n++] = status;
		}
		cr_assert(now() < end, "the detached processes do not end");
		if (pid <= 0)
			usleep(5000);
	}
	char text[512] = "";
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/out", dir);
	FILE *f = fopen(path, "re");
	if (f) {
		size_t got = fread(text, 1, sizeof(text) - 1, f);
		text[got] = '\0';
		fclose(f);
	}
	const char *p = strstr(text, "monitor ");
	cr_assert(p, "no monitor pid; output:\n%s", text);
	pid_t monitor = (pid_t)atoi(p + 8);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		if (pids[i] != monitor)
			continue;
		found = true;
		cr_assert(WIFEXITED(statuses[i]) && WEXITSTATUS(statuses[i]) == 3,
			  "the detached monitor left with status 0x%x, not exit 3", statuses[i]);
	}
	cr_assert(found, "the detached monitor %d was not reaped here; output:\n%s", (int)monitor,
		  text);
}

/* The detached monitor: this process's child named "t[priv]" (the test is
 * the subreaper), or 0. */
static pid_t detached_monitor(void)
{
	char path[300], buf[512];
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *end = strrchr(buf, ')');
		int ppid = 0;
		if (end && strstr(buf, "(t[priv])") && sscanf(end + 1, " %*c %d", &ppid) == 1 &&
		    ppid == getpid()) {
			closedir(d);
			return pid;
		}
	}
	if (d)
		closedir(d);
	return 0;
}

static bool file_has(const char *name, const char *want, double seconds)
{
	char path[PATH_MAX], text[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	double end = now() + seconds;
	do {
		text[0] = '\0';
		FILE *f = fopen(path, "re");
		if (f) {
			text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
			fclose(f);
		}
		if (strstr(text, want))
			return true;
		usleep(5000);
	} while (now() < end);
	return false;
}

/* After priv_daemon the monitor still reads the signals it is sent (its
 * signalfd is watched from the detached process), and forwards them to
 * the daemon; SIGTERM then ends the daemon, and the monitor with it. */
Test(signals, after_priv_daemon_a_signal_sent_to_the_monitor_reaches_the_daemon)
{
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	policy("fork true\n");
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PRIVMAN_CONF_DIR=%s timeout -s KILL 30 %s t daemonstay "
		 ">%s/out 2>%s/err </dev/null",
		 dir, dir, helper(), dir, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert(file_has("out", "daemon ", 10), "the daemon did not start");
	pid_t monitor = detached_monitor();
	cr_assert(monitor > 0, "no detached monitor");
	kill(monitor, SIGUSR1);
	bool got = file_has("out", "usr1", 3);
	kill(monitor, SIGTERM);
	double end = now() + 10;
	int status = 0;
	pid_t pid;
	bool monitor_left = false;
	while (now() < end && (pid = waitpid(-1, &status, WNOHANG)) >= 0) {
		if (pid == monitor)
			monitor_left = true;
		if (pid == 0)
			usleep(5000);
	}
	if (!monitor_left) /* leave nothing behind */
		kill(monitor, SIGKILL);
	cr_assert(got, "the daemon never got the SIGUSR1 sent to its monitor");
	cr_assert(monitor_left, "SIGTERM to the monitor did not end the daemon and the monitor");
}
