/* Programs written for the original Privman, run unchanged. The programs
 * of tests/compat/ use <privman.h> and the original API only; the Makefile
 * builds them as a user would, against a staged `make install` with the
 * flags pkg-config gives. Each is run here as root with its policy file
 * (tests/compat/policy/NAME, in the original's syntax, comments and braces
 * included; @DIR@ becomes the test's directory), and its output, exit
 * status and audit are checked exactly. Users pmtestcm1-3, ports 840-859. */
#include <criterion/criterion.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "testutil.h"

static char *dir;

#ifdef __SANITIZE_ADDRESS__
/* The programs are built with the sanitizers too. The PAM worker is a fork
 * of the program: ASan's crypt interceptor looks up the real crypt when the
 * process starts, pam_unix loads libcrypt later, and the call would jump to
 * NULL. */
#define SANITIZER_ENV "LD_PRELOAD=libcrypt.so.1 ASAN_OPTIONS=verify_asan_link_order=0"
#else
#define SANITIZER_ENV ""
#endif

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure("pmtestcm1");
	pmtest_user_ensure("pmtestcm2");
	pmtest_user_ensure("pmtestcm3");
}

static void teardown(void)
{
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

static const char *build_dir(void)
{
	const char *build = getenv("BUILD");
	return build && *build ? build : "build";
}

/* The compat program NAME, built by the Makefile (tests-built). */
static const char *program(const char *name)
{
	static char path[PATH_MAX];
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/tests/compat/%s", build_dir(), name);
	cr_assert(realpath(rel, path), "%s is missing (make tests-built builds it): %s", rel,
		  strerror(errno));
	return path;
}

/* Replace every @KEY@ of `vars` (pairs, NULL-ended) in `in`. */
static void substitute(const char *in, char *out, size_t cap, const char *const *vars)
{
	size_t o = 0;
	while (*in) {
		bool done = false;
		for (size_t i = 0; vars[i]; i += 2) {
			size_t n = strlen(vars[i]);
			if (strncmp(in, vars[i], n) == 0) {
				size_t v = strlen(vars[i + 1]);
				cr_assert_lt(o + v, cap);
				memcpy(out + o, vars[i + 1], v);
				o += v;
				in += n;
				done = true;
				break;
			}
		}
		if (!done) {
			cr_assert_lt(o + 1, cap);
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
}

/* Install tests/compat/policy/NAME as the policy of NAME. */
static void policy(const char *name, const char *bindport)
{
	char src[PATH_MAX], text[8192], done[16384];
	snprintf(src, sizeof(src), "tests/compat/policy/%s", name);
	FILE *f = fopen(src, "re");
	cr_assert(f, "%s (run from the top of the tree): %s", src, strerror(errno));
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *vars[] = {"@DIR@", dir, "@BINDPORT@", bindport ? bindport : "", NULL};
	substitute(text, done, sizeof(done), vars);
	free(pmtest_write_file(dir, name, done));
}

static char out[1 << 16];
static char err[1 << 14];
static char audit[1 << 18];

#define slurp(name, buf, cap) pmtest_slurp(dir, (name), (buf), (cap))

/* Run compat program NAME with ARGS (a shell fragment; "@" is the test's
 * directory) as root, from the test's directory, with its policy there;
 * returns its exit status (or 128 + signal). */
static int run(const char *name, const char *raw_args)
{
	char cmd[16384], args[8192];
	const char *vars[] = {"@", dir, NULL};
	substitute(raw_args, args, sizeof(args), vars);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && umask 022; rm -f audit.json; PRIVMAN_CONF_DIR=%s "
		 "PRIVMAN_AUDIT=%s/audit.json %s timeout -s KILL 30 %s %s >%s/out 2>%s/err "
		 "</dev/null",
		 dir, dir, dir, SANITIZER_ENV, program(name), args, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	slurp("audit.json", audit, sizeof(audit));
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void expect(const char *name, const char *args, int want_rc, const char *want)
{
	int rc = run(name, args);
	cr_assert_str_eq(out, want, "%s %s\nstdout:\n%s\nstderr:\n%s\naudit:\n%s", name, args, out,
			 err, audit);
	cr_assert_eq(rc, want_rc, "exit status %d of %s %s\nstderr:\n%s", rc, name, args, err);
	cr_assert_str_eq(err, "", "%s %s wrote to stderr:\n%s", name, args, err);
}

/* The audit holds a line with every one of the fragments (NULL-ended). */
static bool audited(const char *first, ...)
{
	char *save = NULL;
	char copy[sizeof(audit)];
	snprintf(copy, sizeof(copy), "%s", audit);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		va_list ap;
		va_start(ap, first);
		bool all = true;
		for (const char *s = first; s; s = va_arg(ap, const char *))
			if (!strstr(line, s))
				all = false;
		va_end(ap);
		if (all)
			return true;
	}
	return false;
}

#define cr_assert_audited(...)                                                              \
	cr_assert(audited(__VA_ARGS__, NULL), "no audit line has all of: " #__VA_ARGS__        \
					      "\n%s",                                        \
		  audit)

TestSuite(compat, .init = setup, .fini = teardown, .timeout = 60);

/* The path of the one file called NAME under STAGE. */
static void staged(const char *stage, const char *name, char *path, size_t cap)
{
	char cmd[PATH_MAX * 2];
	snprintf(cmd, sizeof(cmd), "find %s -name %s", stage, name);
	FILE *p = popen(cmd, "re");
	cr_assert(p);
	cr_assert(fgets(path, (int)cap, p), "no %s under %s", name, stage);
	path[strcspn(path, "\n")] = '\0';
	char more[16];
	cr_assert_null(fgets(more, sizeof(more), p), "several %s under %s", name, stage);
	pclose(p);
}

/* --- built as a user builds them -------------------------------------------------- */

Test(compat, the_programs_are_built_with_the_installed_header_and_shared_library)
{
	char stage[PATH_MAX], rel[PATH_MAX], cmd[PATH_MAX * 2];
	snprintf(rel, sizeof(rel), "%s/stage", build_dir());
	cr_assert(realpath(rel, stage), "no stage at %s", rel);
	/* Where `make install` put them under the stage (PREFIX may vary). */
	char header[PATH_MAX], libdir[PATH_MAX];
	staged(stage, "privman.h", header, sizeof(header));
	staged(stage, "libprivman.so.0", libdir, sizeof(libdir));
	*strrchr(libdir, '/') = '\0';
	const char *names[] = {"mycat",	  "myecho",   "myexec",	   "mypopen",
			       "myrerun", "mydaemon", "check_user", "myfork"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *bin = program(names[i]);
		/* The compiler's own record of the headers it read. */
		char deps[PATH_MAX + 8];
		snprintf(deps, sizeof(deps), "%s.d", bin);
		FILE *f = fopen(deps, "re");
		cr_assert(f, "%s: %s", deps, strerror(errno));
		char text[1 << 15];
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		cr_assert(strstr(text, header), "%s did not read %s:\n%s", names[i], header, text);
		cr_assert_null(strstr(text, " include/privman.h"), "%s read the source tree's header",
			       names[i]);
		/* The shared library, found in the stage through its rpath. */
		snprintf(cmd, sizeof(cmd),
			 "ldd %s | grep -q '^[[:space:]]*libprivman.so.0 => %s/libprivman.so.0 '",
			 bin, libdir);
		cr_assert_eq(pmtest_sh("%s", cmd), 0, "%s does not load the staged libprivman",
			     names[i]);
		cr_assert_eq(pmtest_sh("nm -D --undefined-only %s | grep -qw priv_init", bin), 0,
			     "%s does not take priv_init from the shared library", names[i]);
	}
}

/* --- the policy language --------------------------------------------------------- */

Test(compat, the_policies_in_the_original_syntax_are_valid_and_compat_notes_dir_star)
{
	const char *names[] = {"mycat",	   "myecho",	 "myexec", "mypopen", "myrerun",
			       "mydaemon", "check_user", "myfork", "sample"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		policy(names[i], "842");
		cr_assert_eq(pmtest_sh("%s/privman check -q -c %s/%s >%s/out 2>&1", build_dir(), dir,
				       names[i], dir),
			     0, "policy %s:\n%s", names[i], (slurp("out", out, sizeof(out)), out));
		slurp("out", out, sizeof(out));
		/* `auth true` without an application name: a note says what it
		 * grants (the service named like the application) */
		char *note = strstr(out, ": note: auth true grants one PAM service");
		if (note && strcmp(names[i], "sample") == 0 && !strchr(strchr(note, '\n') + 1, '\n'))
			continue;
		/* check_user's PAM service exists only while its test runs */
		if (strcmp(names[i], "check_user") == 0 &&
		    strstr(out, "PAM service pmtest-compat has no file /etc/pam.d/pmtest-compat") &&
		    !strchr(strchr(out, '\n') + 1, '\n'))
			continue;
		cr_assert_str_eq(out, "", "policy %s:\n%s", names[i], out);
	}
	cr_assert_eq(pmtest_sh("%s/privman check --compat -q -c %s/mycat >%s/out 2>&1", build_dir(),
			       dir, dir),
		     0);
	slurp("out", out, sizeof(out));
	char want[1024];
	snprintf(want, sizeof(want),
		 "%s/mycat:6:2: note: open_ro %s/pub/* matches entries directly in %s/pub "
		 "only; the original Privman matched any depth below it: write %s/pub/** for "
		 "that\n",
		 dir, dir, dir, dir);
	cr_assert_str_eq(out, want);
}

/* Run `privman check -q -c DIR/sample` with requests REQS (a shell fragment;
 * "@" is the test's directory); the verdict lines go to out. */
static void check_requests(const char *raw_reqs)
{
	char reqs[4096];
	const char *vars[] = {"@", dir, NULL};
	substitute(raw_reqs, reqs, sizeof(reqs), vars);
	pmtest_sh("%s/privman check -q -c %s/sample %s 2>&1 | grep -E ': (ALLOW|DENY)$' >%s/out",
		  build_dir(), dir, reqs, dir);
	slurp("out", out, sizeof(out));
}

Test(compat, every_directive_of_the_original_language_means_what_it_meant)
{
	policy("sample", NULL);
	/* The exit status of privman check: 0 when every request is allowed. */
	cr_assert_eq(pmtest_sh("%s/privman check -q -c %s/sample -r 'bind 7' -r 'bind 843' "
			       "-r 'run_as pmtestcm3' -r auth -r rerun >/dev/null 2>&1",
			       build_dir(), dir),
		     0);
	check_requests("-r 'bind 842' -r 'bind 7' -r 'bind 127.0.0.1:843' -r 'bind 844' "
		       "-r 'open_ro @/granted' -r 'open_ro @/pub/a' -r 'open_ro @/pub/sub/b' "
		       "-r 'open_rw @/granted' -r 'open_ao @/log' -r 'unlink @/scratch' "
		       "-r 'unlink @/granted' -r 'run_as pmtestcm2' -r 'run_as pmtestcm3' "
		       "-r 'run_as root' -r 'run_as pmtestcm1' -r auth -r rerun -r fork");
	char want[4096];
	snprintf(want, sizeof(want),
		 "bind 842: ALLOW\n"
		 "bind 7: ALLOW\n"
		 "bind 127.0.0.1:843: ALLOW\n"
		 "bind 844: DENY\n"
		 "open_ro %s/granted: ALLOW\n"
		 "open_ro %s/pub/a: ALLOW\n"
		 "open_ro %s/pub/sub/b: DENY\n"
		 "open_rw %s/granted: DENY\n"
		 "open_ao %s/log: ALLOW\n"
		 "unlink %s/scratch: ALLOW\n"
		 "unlink %s/granted: DENY\n"
		 "run_as pmtestcm2: ALLOW\n"
		 "run_as pmtestcm3: ALLOW\n"
		 "run_as root: DENY\n"
		 "run_as pmtestcm1: DENY\n"
		 "auth: ALLOW\n"
		 "rerun: ALLOW\n"
		 "fork: DENY\n",
		 dir, dir, dir, dir, dir, dir, dir);
	cr_assert_str_eq(out, want);
}

/* --- mycat: priv_fopen, priv_open ------------------------------------------------ */

Test(compat, mycat_reads_what_the_policy_grants)
{
	policy("mycat", NULL);
	free(pmtest_write_file(dir, "granted", "granted text\n"));
	cr_assert(mkdir(strcat(strcpy(out, dir), "/pub"), 0755) == 0);
	cr_assert(mkdir(strcat(strcpy(out, dir), "/pub/sub"), 0755) == 0);
	free(pmtest_write_file(dir, "pub/a", "pub a\n"));
	free(pmtest_write_file(dir, "pub/sub/b", "pub b\n"));
	free(pmtest_write_file(dir, "secret", "secret\n"));
	char want[4096];
	/* The rule pub/\* is one level, as the original's documentation says (its
	 * implementation matched pub/sub/b too). A refusal is EACCES, where
	 * the original said EPERM. */
	snprintf(want, sizeof(want),
		 "mycat runs as pmtestcm1\n"
		 "granted text\n"
		 "granted text\n"
		 "granted text\n"
		 "pub a\n"
		 "%s/pub/sub/b: Permission denied\n"
		 "%s/secret: Permission denied\n",
		 dir, dir);
	/* A relative path is relative to the caller's working directory. */
	expect("mycat", "@/granted -o @/granted granted @/pub/a @/pub/sub/b @/secret", 2, want);
	cr_assert_audited("\"op\":\"open\"", "/granted\"", "\"decision\":\"allow\"",
			  "\"directive\":\"open_ro\"");
	cr_assert_audited("\"op\":\"open\"", "/pub/sub/b\"", "\"decision\":\"deny\"",
			  "\"errno\":13");
}

/* --- myecho: custom functions of both kinds, priv_bind --------------------------------- */

Test(compat, myecho_gets_a_string_and_a_bound_socket_from_its_custom_functions)
{
	policy("myecho", "842");
	expect("myecho", "841 842 843", 0,
	       "handles 0 1\n"
	       "myecho runs as pmtestcm1\n"
	       "info: hello myecho from uid 0 (2 args)\n"
	       "echoed: echo me\n"
	       "priv_bind 842: bound\n"
	       "priv_bind 843: Permission denied\n"
	       "priv_bind [::1]:842: bound\n"
	       "handle 7: No such file or directory\n"
	       "register after priv_init: Operation not permitted\n");
	cr_assert_audited("\"op\":\"custom_info\",\"object\":\"info 0 argc=2\"", "\"decision\":\"allow\"",
			  "it returned a string of 32 bytes");
	cr_assert_audited("\"op\":\"custom_cap\",\"object\":\"cap 1 argc=1\"", "\"decision\":\"allow\"",
			  "it returned a socket");
	cr_assert_audited("\"op\":\"bind\",\"object\":\"127.0.0.1:842\"", "\"decision\":\"allow\"");
	cr_assert_audited("\"op\":\"bind\",\"object\":\"[::1]:842\"", "\"decision\":\"allow\"");
	cr_assert_audited("\"op\":\"bind\",\"object\":\"127.0.0.1:843\"", "\"decision\":\"deny\"",
			  "\"errno\":13");
	cr_assert_audited("\"object\":\"info 7 argc=2\"", "\"decision\":\"deny\"", "\"errno\":2");
}

Test(compat, myecho_without_its_custom_grant_is_refused)
{
	/* The original ran custom functions unchecked; here the policy must
	 * name them. The rest of the original's policy stays as it was. */
	free(pmtest_write_file(dir, "myecho", "# no custom directive\nbind 845\n"
					      "unpriv_user pmtestcm1\n"));
	expect("myecho", "844 845 846", 1,
	       "handles 0 1\nmyecho runs as pmtestcm1\ninfo: Operation not permitted\n");
	cr_assert_audited("\"op\":\"custom_info\"", "\"decision\":\"deny\"",
			  "custom functions are refused unless the policy names them");
}

/* --- myexec: priv_execve replaces the program -------------------------------------- */

Test(compat, myexec_is_replaced_and_the_new_programs_status_is_the_programs)
{
	policy("myexec", NULL);
	/* What myexec printed before (buffered) comes first; the shell gets
	 * none of the environment myexec gave it (run_as grants no variable;
	 * the original passed envp as it was). */
	expect("myexec",
	       "pmtestcm2 'echo \"sh as $(id -un), argv0 $0, GREETING=${GREETING-unset}\"; exit 7'",
	       7,
	       "myexec runs as pmtestcm1\n"
	       "priv_execve as root: Operation not permitted\n"
	       "sh as pmtestcm2, argv0 sh, GREETING=unset\n");
	cr_assert_audited("\"op\":\"execve\"", "as root", "\"decision\":\"deny\"", "\"errno\":1");
	cr_assert_audited("\"op\":\"execve\"", "as pmtestcm2", "\"decision\":\"allow\"",
			  "\"directive\":\"run_as\"");
	cr_assert_audited("\"op\":\"execve_env\"", "GREETING");
}

Test(compat, myexec_dies_of_the_signal_that_kills_the_new_program)
{
	policy("myexec", NULL);
	int rc = run("myexec", "pmtestcm2 'echo dying; kill -USR1 $$; echo not dead'");
	cr_assert_str_eq(out,
			 "myexec runs as pmtestcm1\n"
			 "priv_execve as root: Operation not permitted\n"
			 "dying\n");
	cr_assert_eq(rc, 128 + SIGUSR1, "exit status %d\nstderr:\n%s", rc, err);
	/* the shell that ran it may report the signal, nothing else */
	cr_assert(!err[0] || strcmp(err, "User defined signal 1\n") == 0, "stderr:\n%s", err);
}

Test(compat, myexec_as_a_user_not_granted_returns_and_goes_on)
{
	policy("myexec", NULL);
	expect("myexec", "pmtestcm3 'echo never'", 99,
	       "myexec runs as pmtestcm1\n"
	       "priv_execve as root: Operation not permitted\n"
	       "priv_execve as pmtestcm3 should not have returned: Operation not permitted\n");
	cr_assert_audited("\"op\":\"execve\"", "as pmtestcm3", "\"decision\":\"deny\"");
}

/* --- mypopen: priv_popen_as both ways -------------------------------------------------- */

Test(compat, mypopen_reads_and_writes_a_command_run_as_another_user)
{
	policy("mypopen", NULL);
	expect("mypopen", "pmtestcm2", 0,
	       "mypopen runs as pmtestcm1\n"
	       "| pmtestcm2\n"
	       "| second line\n"
	       "reader: exit 3\n"
	       "SHOUTED THROUGH A PIPE\n"
	       "writer: exit 0\n"
	       "popen as root: Operation not permitted\n");
	cr_assert_audited("\"op\":\"popen_as\"", "as pmtestcm2", "\"decision\":\"allow\"",
			  "\"directive\":\"run_as\"");
	cr_assert_audited("\"op\":\"popen_as\"", "as root", "\"decision\":\"deny\"", "\"errno\":1");
}

/* --- myrerun: a chain of reruns on a terminal -------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run PROGRAM ARGV on a new pseudo-terminal, as a shell would run a job in
 * the foreground; answer `answer` once `prompt` has been shown. Returns the
 * exit status (or 128 + signal); what the terminal showed is in out. */
static int run_on_pty(const char *path, char *const argv[], const char *prompt, const char *answer)
{
	char conf[PATH_MAX], auditpath[PATH_MAX];
	snprintf(conf, sizeof(conf), "%s", dir);
	snprintf(auditpath, sizeof(auditpath), "%s/audit.json", dir);
	unlink(auditpath);
	int master;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert_geq(pid, 0, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		if (chdir(conf) < 0 || setenv("PRIVMAN_CONF_DIR", conf, 1) < 0 ||
		    setenv("PRIVMAN_AUDIT", auditpath, 1) < 0)
			_exit(126);
		execv(path, argv);
		_exit(127);
	}
	size_t len = 0;
	bool answered = false;
	double end = now() + 20;
	for (;;) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		int left = (int)((end - now()) * 1000);
		if (left <= 0)
			break;
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t n = read(master, out + len, sizeof(out) - 1 - len);
		if (n <= 0)
			break; /* EIO: every holder of the terminal is gone */
		len += (size_t)n;
		out[len] = '\0';
		if (!answered && strstr(out, prompt)) {
			cr_assert_eq(write(master, answer, strlen(answer)), (ssize_t)strlen(answer));
			answered = true;
		}
	}
	out[len] = '\0';
	close(master);
	int status;
	if (now() >= end)
		kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_lt(now(), end, "the program on the terminal did not end; it showed:\n%s", out);
	slurp("audit.json", audit, sizeof(audit));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(compat, myrerun_chains_reruns_on_a_terminal_and_ends_with_the_last_ones_status)
{
	policy("myrerun", NULL);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", program("myrerun"));
	char *argv[] = {"myrerun", "pmtestcm2", "pmtestcm3", NULL};
	int rc = run_on_pty(path, argv, "name? ", "world\n");
	/* The terminal shows \r\n for \n, and echoes the answer. */
	cr_assert_str_eq(out, "link 0 as pmtestcm1\r\n"
			      "priv_rerunas root: Operation not permitted\r\n"
			      "link 1 as pmtestcm2\r\n"
			      "link 2 as pmtestcm3, stdin a tty, in the foreground\r\n"
			      "name? world\r\n"
			      "hello world\r\n");
	cr_assert_eq(rc, 5, "exit status %d", rc);
	cr_assert_audited("\"op\":\"rerunas\"", "as root", "\"decision\":\"deny\"", "\"errno\":1");
	cr_assert_audited("\"op\":\"rerunas\"", "as pmtestcm2", "\"decision\":\"allow\"");
	cr_assert_audited("\"op\":\"rerunas\"", "as pmtestcm3", "\"decision\":\"allow\"");
}

Test(compat, myrerun_on_a_terminal_dies_of_the_interrupt_typed_there)
{
	policy("myrerun", NULL);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", program("myrerun"));
	char *argv[] = {"myrerun", "pmtestcm2", "pmtestcm3", NULL};
	/* ^C reaches the terminal's foreground process group: the last link
	 * and the monitor; the whole program dies of it, as it would have
	 * without privman. */
	int rc = run_on_pty(path, argv, "name? ", "\003");
	cr_assert_str_eq(out, "link 0 as pmtestcm1\r\n"
			      "priv_rerunas root: Operation not permitted\r\n"
			      "link 1 as pmtestcm2\r\n"
			      "link 2 as pmtestcm3, stdin a tty, in the foreground\r\n"
			      "name? ^C");
	cr_assert_eq(rc, 128 + SIGINT, "exit status %d", rc);
}

/* --- mydaemon: priv_daemon and a log ------------------------------------------------------ */

Test(compat, mydaemon_detaches_and_keeps_its_log_through_the_monitor)
{
	/* The detached processes become ours, so that we see them end. */
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	policy("mydaemon", NULL);
	free(pmtest_write_file(dir, "mydaemon.conf", "verbose yes\n"));
	expect("mydaemon", "@/mydaemon.log @/mydaemon.conf", 0, "mydaemon starts\n");
	char want[4096], log[4096] = "";
	snprintf(want, sizeof(want),
		 "daemon: session leader yes\n"
		 "daemon: cwd /\n"
		 "daemon: stdout /dev/null\n"
		 "daemon: config verbose yes\n"
		 "daemon: %s/mydaemon.conf read-write: Permission denied\n"
		 "daemon: done\n",
		 dir);
	double end = now() + 10;
	while (now() < end && !strstr(log, "daemon: done\n")) {
		usleep(10000);
		slurp("mydaemon.log", log, sizeof(log));
	}
	cr_assert_str_eq(log, want);
	/* The daemon and its monitor end; nothing is left. */
	end = now() + 10;
	pid_t pid = 0;
	while (now() < end && (pid = waitpid(-1, NULL, WNOHANG)) >= 0)
		if (pid == 0)
			usleep(10000);
	cr_assert(pid < 0 && errno == ECHILD, "a process of the daemon is left behind");
	slurp("audit.json", audit, sizeof(audit));
	cr_assert_audited("\"op\":\"fork\"", "\"decision\":\"allow\"", "\"directive\":\"fork\"");
	cr_assert_audited("\"op\":\"open\"", "mydaemon.log", "\"decision\":\"allow\"",
			  "\"directive\":\"open_ao\"");
	cr_assert_audited("\"op\":\"open\"", "mydaemon.conf", "\"flags\":2", "\"decision\":\"deny\"",
			  "\"errno\":13");
}

/* --- check_user: PAM in the monitor, then a rerun as the user it authenticated ------- */

#define PAM_SERVICE "pmtest-compat"
#define PAM_USER "pmtestcm3"
#define PAM_PASS "Lamp-Thistle-71"

Test(compat, check_user_authenticates_in_the_monitor_and_becomes_the_user)
{
	FILE *f = fopen("/etc/pam.d/" PAM_SERVICE, "we");
	cr_assert(f);
	fputs("auth required pam_unix.so nodelay\naccount required pam_unix.so\n", f);
	cr_assert(fclose(f) == 0);
	cr_assert_eq(pmtest_sh("echo '" PAM_USER ":" PAM_PASS "' | chpasswd"), 0);
	policy("check_user", NULL);
	expect("check_user", PAM_SERVICE " " PAM_USER " " PAM_PASS, 0,
	       "check_user runs as pmtestcm1\n"
	       "authenticate: Success\n"
	       "acct_mgmt: Success\n"
	       "now running as " PAM_USER "\n");
	cr_assert_audited("\"op\":\"rerunas\"", "as " PAM_USER, "\"decision\":\"allow\"",
			  "\"directive\":\"auth_allow_rerun\"");
	/* A wrong password adds no one. */
	expect("check_user", PAM_SERVICE " " PAM_USER " wrong", 1,
	       "check_user runs as pmtestcm1\n"
	       "authenticate: Authentication failure\n"
	       "priv_rerunas " PAM_USER ": Operation not permitted\n");
	cr_assert_audited("\"op\":\"rerunas\"", "as " PAM_USER, "\"decision\":\"deny\"",
			  "\"errno\":1");
	unlink("/etc/pam.d/" PAM_SERVICE);
}

/* --- myfork: priv_fork, monitored rerun, respawn, priv_wait4, priv_unlink, priv_exit --- */

Test(compat, myfork_keeps_a_monitor_for_every_process_and_ends_with_priv_exit)
{
	policy("myfork", NULL);
	free(pmtest_write_file(dir, "file", "the file\n"));
	free(pmtest_write_file(dir, "scratch", ""));
	expect("myfork", "@/file @/scratch pmtestcm2", 6,
	       "child as pmtestcm1 read the file\n"
	       "child: exit 4\n"
	       "rerun as pmtestcm2 read the file\n"
	       "rerun: exit 11\n"
	       "respawn as pmtestcm2 read the file\n"
	       "respawn: exit 12\n"
	       "unlink scratch: done\n"
	       "unlink file: Permission denied\n"
	       "exit 6\n");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/scratch", dir);
	cr_assert(access(path, F_OK) < 0 && errno == ENOENT, "scratch is still there");
	snprintf(path, sizeof(path), "%s/file", dir);
	cr_assert(access(path, F_OK) == 0, "file is gone");
	cr_assert_audited("\"op\":\"fork\"", "\"decision\":\"allow\"");
	cr_assert_audited("\"op\":\"unlink\"", "/scratch\"", "\"decision\":\"allow\"");
	cr_assert_audited("\"op\":\"unlink\"", "/file\"", "\"decision\":\"deny\"",
			  "\"errno\":13");
}
