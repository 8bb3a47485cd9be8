/* PAM through the monitor, with real PAM: service files written into
 * /etc/pam.d for the test (pam_unix, pam_echo, pam_exec), real users whose
 * passwords the test sets, and a real program split by priv_init
 * (tests/helpers/pam_prog) whose output is checked line by line. */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include <security/pam_appl.h>

#include "testutil.h"

#define USER_A "pmtestpamua"
#define USER_B "pmtestpamub"
#define PASS_A "Right-Horse-7"
#define PASS_B "Other-Staple-9"
#define SERVICE "pmtestpam-main"
#define SERVICE_CHAT "pmtestpam-chat"
#define SERVICE_DELAY "pmtestpam-delay"
/* su-like: pam_rootok first */
#define SERVICE_SU "pmtestpam-su"
/* the application's own service, which `auth true` grants */
#define SERVICE_SELF "pmtestpam-self"
/* its session runs a command by name with pam_exec, as root */
#define SERVICE_EXEC "pmtestpam-exec"
/* The services the policies grant. */
#define AUTH "auth { " SERVICE " " SERVICE_CHAT " " SERVICE_DELAY " " SERVICE_EXEC " }\n"

static char prog[PATH_MAX], privman[PATH_MAX];
static char *dir;
static char audit_path[PATH_MAX], granted[PATH_MAX], evil[PATH_MAX], marker[PATH_MAX];

static void write_service(const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/etc/pam.d/%s", name);
	FILE *f = fopen(path, "we");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert(fclose(f) == 0);
}

static void set_password(const char *user, const char *password)
{
	cr_assert(pmtest_sh("echo '%s:%s' | chpasswd", user, password) == 0,
		  "chpasswd for %s", user);
}

static void setup(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert(n > 0);
	self[n] = '\0';
	snprintf(prog, sizeof(prog), "%s/helpers/pam_prog", dirname(self));
	cr_assert(access(prog, X_OK) == 0, "%s is not built", prog);
	snprintf(privman, sizeof(privman), "%s/privman", dirname(self));
	if (geteuid() != 0)
		return;
	pmtest_user_ensure(USER_A);
	pmtest_user_ensure(USER_B);
	set_password(USER_A, PASS_A);
	set_password(USER_B, PASS_B);
	write_service(SERVICE_CHAT, "auth optional pam_echo.so Hello %u on %s\n"
				    "auth optional pam_exec.so stdout /bin/echo second line\n"
				    "auth required pam_unix.so nodelay\n"
				    "account required pam_unix.so\n");
	/* pam_unix's own delay (2 s) without nodelay */
	write_service(SERVICE_DELAY, "auth required pam_unix.so\n");
	dir = pmtest_tmpdir();
	/* nodelay: the only fail delay is the one a test asks for. The session
	 * makes a file, to see the mode a module's files get. */
	char service[1024];
	snprintf(service, sizeof(service),
		 "auth required pam_unix.so nodelay\n"
		 "account required pam_unix.so\n"
		 "session required pam_unix.so\n"
		 "session optional pam_exec.so /usr/bin/touch %s/made-by-session\n"
		 "password required pam_unix.so yescrypt\n",
		 dir);
	write_service(SERVICE, service);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.json", dir);
	snprintf(granted, sizeof(granted), "%s/granted", dir);
	free(pmtest_write_file(dir, "granted", "granted file\n"));
	free(pmtest_write_file(dir, "on", AUTH "auth_allow_rerun true\n"));
	char *text = NULL;
	cr_assert(asprintf(&text, AUTH "auth_allow_rerun true\nopen_ro %s\n", granted) > 0);
	free(pmtest_write_file(dir, "open", text));
	free(text);
	free(pmtest_write_file(dir, "off", "auth false\nauth_allow_rerun true\n"));
	free(pmtest_write_file(dir, "rerun", AUTH "auth_allow_rerun true\nallow_rerun true\n"));
	free(pmtest_write_file(dir, "norerun",
			       AUTH "auth_allow_rerun false\nallow_rerun true\n"));

	/* A PAM configuration the program could write: its module would run
	 * as root and leave the marker. */
	snprintf(marker, sizeof(marker), "%s/marker", dir);
	snprintf(evil, sizeof(evil), "%s/evil", dir);
	char text_evil[2 * PATH_MAX + 256];
	snprintf(text_evil, sizeof(text_evil),
		 "auth optional pam_exec.so /usr/bin/touch %s\n"
		 "auth required pam_permit.so\naccount required pam_permit.so\n"
		 "session optional pam_exec.so /usr/bin/touch %s\n",
		 marker, marker);
	free(pmtest_write_file(dir, "evil", text_evil));
	write_service(SERVICE_SU, "auth sufficient pam_rootok.so\n"
				  "auth required pam_unix.so nodelay\n"
				  "account required pam_unix.so\n"
				  "password required pam_unix.so yescrypt\n");
	write_service(SERVICE_SELF, "auth required pam_unix.so nodelay\n"
				    "account required pam_unix.so\n");
	write_service(SERVICE_EXEC, "auth required pam_unix.so nodelay\n"
				    "account required pam_unix.so\n"
				    "session optional pam_exec.so /bin/sh -c pmtestpam-hook\n"
				    "session required pam_permit.so\n");
	/* what the program would have that command be */
	char hook[PATH_MAX + 64];
	snprintf(hook, sizeof(hook), "%s/bin", dir);
	cr_assert(mkdir(hook, 0755) == 0);
	snprintf(hook, sizeof(hook), "#!/bin/sh\n/usr/bin/touch %s/hooked\n", dir);
	AUTOFREE char *hook_path = NULL;
	cr_assert(asprintf(&hook_path, "%s/bin/pmtestpam-hook", dir) > 0);
	free(pmtest_write_file(dir, "bin/pmtestpam-hook", hook));
	cr_assert(chmod(hook_path, 0755) == 0);
	free(pmtest_write_file(dir, "su", AUTH "auth { " SERVICE_SU " }\n"
					      "auth_allow_rerun true\nallow_rerun true\n"));
	free(pmtest_write_file(dir, SERVICE_SELF, "auth true\n"));
}

static void teardown(void)
{
	if (geteuid() != 0)
		return;
	unlink("/etc/pam.d/" SERVICE);
	unlink("/etc/pam.d/" SERVICE_CHAT);
	unlink("/etc/pam.d/" SERVICE_DELAY);
	unlink("/etc/pam.d/" SERVICE_SU);
	unlink("/etc/pam.d/" SERVICE_SELF);
	unlink("/etc/pam.d/" SERVICE_EXEC);
	pmtest_user_remove(USER_A);
	pmtest_user_remove(USER_B);
	pmtest_rmtree(dir);
	free(dir);
}

TestSuite(pam, .init = setup, .fini = teardown, .timeout = 60);

/* --- running the program -------------------------------------------------- */

struct run {
	pid_t pid;
	FILE *out;  /* its stdout */
	FILE *in;   /* its stdin */
	char text[16384];
	size_t len;
};

static void start_prog(struct run *r, const char *const *args)
{
	int out[2], in[2];
	cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(in, O_CLOEXEC) == 0);
	char *argv[64];
	size_t n = 0;
	argv[n++] = prog;
	for (; args[n - 1] && n < 63; n++)
		memcpy(&argv[n], &args[n - 1], sizeof(char *)); /* exec takes char *const[] */
	argv[n] = NULL;
	r->pid = fork();
	cr_assert(r->pid >= 0);
	if (r->pid == 0) {
		dup2(out[1], 1);
		dup2(in[0], 0);
		setenv("PRIVMAN_CONF_DIR", dir, 1);
		setenv("PRIVMAN_AUDIT", audit_path, 1);
#ifdef __SANITIZE_ADDRESS__
		/* ASan's crypt interceptor looks up the real crypt when the
		 * program starts; pam_unix loads libcrypt later, and the call
		 * then jumps to NULL. Load libcrypt from the start. */
		setenv("LD_PRELOAD", "libcrypt.so.1", 1);
		const char *opts = getenv("ASAN_OPTIONS");
		char asan[512];
		snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", opts ? opts : "",
			 opts && *opts ? ":" : "");
		setenv("ASAN_OPTIONS", asan, 1);
#endif
		execv(prog, argv);
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	r->out = fdopen(out[0], "r");
	r->in = fdopen(in[1], "w");
	r->len = 0;
	r->text[0] = '\0';
}

/* Read one line into the transcript; returns it, or NULL at end of file. */
static const char *read_line(struct run *r)
{
	char line[1024];
	if (!fgets(line, sizeof(line), r->out))
		return NULL;
	size_t n = strlen(line);
	if (r->len + n < sizeof(r->text)) {
		memcpy(r->text + r->len, line, n + 1);
		r->len += n;
	}
	return r->text + r->len - n;
}

static int finish_prog(struct run *r)
{
	while (read_line(r))
		;
	fclose(r->out);
	fclose(r->in);
	int status;
	cr_assert(waitpid(r->pid, &status, 0) == r->pid);
	return status;
}

/* Run the program with these commands; returns its whole output (static). */
static const char *run_prog(const char *const *args)
{
	static struct run r;
	start_prog(&r, args);
	int status = finish_prog(&r);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "pam_prog failed (status %d); output:\n%s", status, r.text);
	return r.text;
}

#define RUN(...) run_prog((const char *const[]){__VA_ARGS__, NULL})

static void assert_has(const char *out, const char *line)
{
	cr_assert(strstr(out, line), "expected \"%s\" in:\n%s", line, out);
}

static void assert_lacks(const char *out, const char *text)
{
	cr_assert(!strstr(out, text), "did not expect \"%s\" in:\n%s", text, out);
}

/* Milliseconds the program printed after "<call> <CODE> " in the n-th line
 * that starts with `prefix`. */
static double call_ms(const char *out, const char *prefix, int nth)
{
	const char *p = out;
	for (int i = 0; i <= nth; i++) {
		p = strstr(p, prefix);
		cr_assert(p, "no %d-th \"%s\" in:\n%s", nth, prefix, out);
		if (i < nth)
			p += strlen(prefix);
	}
	return strtod(p + strlen(prefix), NULL);
}

static int count_of(const char *text, const char *what)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static char *read_audit(void)
{
	FILE *f = fopen(audit_path, "re");
	if (!f)
		return strdup("");
	char *text = calloc(1, 1 << 20);
	size_t n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* --- authentication ----------------------------------------------------------- */

Test(pam, right_password_accepted)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct",
			      "end");
	assert_has(out, "start PAM_SUCCESS\n");
	assert_has(out, "conv 1\nmsg echo_off Password: \n");
	assert_has(out, "auth PAM_SUCCESS");
	assert_has(out, "acct PAM_SUCCESS");
	assert_has(out, "end PAM_SUCCESS\n");
}

Test(pam, wrong_password_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_B, "auth", "answer",
			      PASS_A, "auth", "end");
	cr_assert(strstr(out, "auth PAM_AUTH_ERR") && strstr(out, "auth PAM_SUCCESS") &&
			  strstr(out, "auth PAM_AUTH_ERR") < strstr(out, "auth PAM_SUCCESS"),
		  "the wrong password first, then the right one:\n%s", out);
	/* B's password is not A's, and the other way round. */
	out = RUN("on", "start", SERVICE, USER_B, "answer", PASS_A, "auth", "end");
	assert_has(out, "auth PAM_AUTH_ERR");
}

Test(pam, no_answer_is_a_conversation_error)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* The program's conversation refuses: pam_unix says so as it does for
	 * any application. */
	const char *out = RUN("on", "start", SERVICE, USER_A, "auth", "end");
	assert_has(out, "auth PAM_AUTHTOK_ERR");
	assert_has(out, "end PAM_SUCCESS");
}

Test(pam, fail_delay_honoured)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* Linux-PAM waits between half and one and a half times the longest
	 * delay asked for, after a failure only. */
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_B, "auth", "delay",
			      "2000000", "answer", PASS_B, "auth", "answer", PASS_A, "auth", "end");
	assert_has(out, "delay PAM_SUCCESS");
	double without = call_ms(out, "auth PAM_AUTH_ERR ", 0);
	double with = call_ms(out, "auth PAM_AUTH_ERR ", 1);
	double right = call_ms(out, "auth PAM_SUCCESS ", 0);
	cr_assert(without < 900, "no delay asked: %.0f ms", without);
	cr_assert(with >= 950, "a delay of 2 s asked: %.0f ms", with);
	cr_assert(right < 900, "no delay after success: %.0f ms", right);
}

Test(pam, module_fail_delay_runs_in_the_worker)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* pam_unix without nodelay asks for 2 s itself. */
	const char *out = RUN("on", "start", SERVICE_DELAY, USER_A, "answer", PASS_B, "auth", "end");
	cr_assert(call_ms(out, "auth PAM_AUTH_ERR ", 0) >= 950, "%s", out);
}

Test(pam, auth_false_refused_and_audited)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("off", "start", SERVICE, USER_A, "answer", PASS_A, "auth");
	assert_has(out, "start PAM_PERM_DENIED EPERM\n");
	/* No transaction: the handle is NULL and refused. */
	assert_has(out, "auth PAM_SYSTEM_ERR 0 EINVAL");
	assert_lacks(out, "conv ");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "\"op\":\"pam_start\"");
	assert_has(audit, "\"decision\":\"deny\",\"directive\":\"auth\"");
	assert_lacks(audit, "pam_authenticate");
}

Test(pam, conversation_with_several_prompts)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE_CHAT, USER_A, "answer", PASS_A, "auth", "end");
	assert_has(out, "conv 1\nmsg info Hello " USER_A " on " SERVICE_CHAT "\n"
			"conv 1\nmsg info second line\n"
			"conv 1\nmsg echo_off Password: \n"
			"auth PAM_SUCCESS");
}

Test(pam, chauthtok_asks_twice_and_changes_the_password)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct",
			      "answer", "New-Kettle-42", "answer", "New-Kettle-42", "chauthtok",
			      "end");
	assert_has(out, "msg echo_off New password: \n");
	assert_has(out, "msg echo_off Retype new password: \n");
	assert_has(out, "chauthtok PAM_SUCCESS");
	out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "answer",
		  "New-Kettle-42", "auth", "end");
	assert_has(out, "auth PAM_AUTH_ERR");
	assert_has(out, "auth PAM_SUCCESS");
}

/* --- items, environment, sessions ------------------------------------------------ */

Test(pam, items)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, "-", "get", "user", "set", "user", USER_A,
			      "get", "user", "get", "service", "set", "tty", "pts/7", "get", "tty",
			      "set", "rhost", "client.example", "get", "rhost", "set", "ruser", "someone",
			      "get", "ruser", "set", "xdisplay", ":3", "get", "xdisplay", "set",
			      "prompt", "Who? ", "get", "prompt", "set", "authtok", PASS_A, "get",
			      "authtok", "get", "oldauthtok", "set", "faildelay", "x", "get",
			      "faildelay", "set", "xauthdata", "x", "get", "conv", "set", "conv", "x",
			      "end");
	assert_has(out, "start PAM_SUCCESS\nget PAM_SUCCESS (null)\nset PAM_SUCCESS\n"
			"get PAM_SUCCESS " USER_A "\nget PAM_SUCCESS " SERVICE "\n"
			"set PAM_SUCCESS\nget PAM_SUCCESS pts/7\n"
			"set PAM_SUCCESS\nget PAM_SUCCESS client.example\n"
			"set PAM_SUCCESS\nget PAM_SUCCESS someone\n"
			"set PAM_SUCCESS\nget PAM_SUCCESS :3\n"
			"set PAM_SUCCESS\nget PAM_SUCCESS Who? \n"
			/* the token is never read back (libpam answers the set) */
			"set PAM_BAD_ITEM 0\nget PAM_BAD_ITEM (null)\nget PAM_BAD_ITEM (null)\n"
			/* pointers cannot cross to the worker */
			"set PAM_BAD_ITEM EINVAL\nget PAM_SUCCESS (null)\nset PAM_BAD_ITEM EINVAL\n"
			"get PAM_SUCCESS ours\nset PAM_SUCCESS\nend PAM_SUCCESS\n");
}

static int conv_none(int count, const struct pam_message **msg, struct pam_response **resp,
		     void *data)
{
	return PAM_CONV_ERR;
}

Test(pam, authtok_set_answered_as_libpam_answers)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* The token travels to the worker, which asks libpam; Linux-PAM keeps
	 * the tokens for modules. Whatever libpam answers the program is told. */
	pam_handle_t *h = NULL;
	const struct pam_conv conv = {conv_none, NULL};
	cr_assert_eq(pam_start(SERVICE, USER_A, &conv, &h), PAM_SUCCESS);
	int direct = pam_set_item(h, PAM_AUTHTOK, PASS_A);
	int direct_old = pam_set_item(h, PAM_OLDAUTHTOK, PASS_B);
	pam_end(h, PAM_SUCCESS);
	char expect[256];
	snprintf(expect, sizeof(expect), "start PAM_SUCCESS\nset %s",
		 direct == PAM_SUCCESS ? "PAM_SUCCESS\n" : "PAM_");
	const char *out = RUN("on", "start", SERVICE, USER_A, "set", "authtok", PASS_A, "set",
			      "oldauthtok", PASS_B, "end");
	assert_has(out, expect);
	cr_assert_eq(count_of(out, "set PAM_SUCCESS"),
		     (direct == PAM_SUCCESS) + (direct_old == PAM_SUCCESS), "%s", out);
	cr_assert_eq(count_of(out, "set PAM_BAD_ITEM"),
		     (direct == PAM_BAD_ITEM) + (direct_old == PAM_BAD_ITEM), "%s", out);
	assert_has(out, "end PAM_SUCCESS\n");
}

Test(pam, putenv_getenv)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "getenv", "PMTEST_A", "putenv",
			      "PMTEST_A=one", "putenv", "PMTEST_B=two words", "getenv", "PMTEST_A",
			      "getenv", "PMTEST_B", "putenv", "PMTEST_A=", "getenv", "PMTEST_A",
			      "putenv", "PMTEST_B", "getenv", "PMTEST_B", "putenv", "PMTEST_C",
			      "end");
	assert_has(out, "start PAM_SUCCESS\ngetenv (null)\nputenv PAM_SUCCESS\nputenv PAM_SUCCESS\n"
			"getenv one\ngetenv two words\nputenv PAM_SUCCESS\ngetenv \n"
			"putenv PAM_SUCCESS\ngetenv (null)\nputenv PAM_BAD_ITEM\nend PAM_SUCCESS\n");
}

Test(pam, session_open_close)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct",
			      "setcred", "open", "close", "end");
	assert_has(out, "setcred PAM_SUCCESS");
	assert_has(out, "open PAM_SUCCESS");
	assert_has(out, "close PAM_SUCCESS");
	char made[PATH_MAX];
	struct stat st;
	snprintf(made, sizeof(made), "%s/made-by-session", dir);
	cr_assert(stat(made, &st) == 0, "the session's module ran");
	cr_assert_eq(st.st_mode & 0777, 0644, "mode %o: the worker's umask is 022, not the "
		     "monitor's 0", st.st_mode & 0777);
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "pam_open_session service=" SERVICE " user=" USER_A);
	assert_has(audit, "pam_close_session service=" SERVICE " user=" USER_A);
}

/* --- auth_allow_rerun ------------------------------------------------------------------ */

Test(pam, authenticated_user_recorded_for_that_user_only)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char a[128], b[128];
	snprintf(a, sizeof(a), USER_A " (uid %u) passed pam_authenticate and pam_acct_mgmt",
		 (unsigned)getpwnam(USER_A)->pw_uid);
	snprintf(b, sizeof(b), USER_B " (uid %u) passed", (unsigned)getpwnam(USER_B)->pw_uid);

	/* B fails; A passes authenticate but not the account step of the same
	 * user (PAM_USER changed in between); then A passes both. */
	const char *out = RUN("on", "start", SERVICE, USER_B, "answer", PASS_A, "auth", "acct",
			      "end", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "set",
			      "user", USER_B, "acct", "end");
	assert_has(out, "auth PAM_AUTH_ERR");
	AUTOFREE char *audit = read_audit();
	assert_lacks(audit, "passed pam_authenticate and pam_acct_mgmt");

	out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "acct", "auth", "end");
	AUTOFREE char *audit2 = read_audit();
	assert_lacks(audit2, "passed pam_authenticate and pam_acct_mgmt");

	out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct", "acct", "end");
	assert_has(out, "acct PAM_SUCCESS");
	AUTOFREE char *audit3 = read_audit();
	cr_assert_eq(count_of(audit3, a), 1, "recorded once:\n%s", audit3);
	assert_lacks(audit3, b);
}

Test(pam, auth_allow_rerun_then_a_rerun_as_that_user_only)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char as_a[64];
	snprintf(as_a, sizeof(as_a), "rerun-as %u %u\n", (unsigned)getpwnam(USER_A)->pw_uid,
		 (unsigned)getpwnam(USER_A)->pw_uid);

	/* Nobody authenticated yet: refused. */
	const char *out = RUN("rerun", "rerun", USER_A);
	assert_has(out, "rerun -1 EPERM");
	/* A passes authenticate and account: a rerun as A, and only as A. */
	out = RUN("rerun", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct", "end",
		  "rerun", USER_A, "rerun", USER_B, "rerun", "root");
	assert_has(out, "acct PAM_SUCCESS");
	assert_has(out, as_a);
	assert_has(out, "rerun 0 42\nrerun -1 EPERM\nrerun -1 EPERM\n");
	/* A wrong password adds no one. */
	out = RUN("rerun", "start", SERVICE, USER_A, "answer", "wrong", "auth", "acct", "end",
		  "rerun", USER_A);
	assert_has(out, "auth PAM_AUTH_ERR");
	assert_has(out, "rerun -1 EPERM");
	/* Without auth_allow_rerun, passing PAM adds no one. */
	out = RUN("norerun", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct", "end",
		  "rerun", USER_A);
	assert_has(out, "acct PAM_SUCCESS");
	assert_has(out, "rerun -1 EPERM");
}

/* --- handles ----------------------------------------------------------------------------- */

Test(pam, forged_stale_and_null_handles_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "forged", "null", "foreign",
			      "answer", PASS_A, "auth", "end", "stale", "start", SERVICE, USER_A,
			      "answer", PASS_A, "auth", "end");
	assert_has(out, "forged PAM_SYSTEM_ERR EINVAL\nnull PAM_SYSTEM_ERR EINVAL\n"
			"foreign PAM_SYSTEM_ERR EINVAL\n");
	/* the parent's transaction was not disturbed by its child */
	assert_has(out, "foreign PAM_SYSTEM_ERR EINVAL\nconv 1\nmsg echo_off Password: \n"
			"auth PAM_SUCCESS");
	assert_has(out, "end PAM_SUCCESS\nstale PAM_SYSTEM_ERR EINVAL\n");
	/* and a new transaction after them works */
	assert_has(out, "auth PAM_SUCCESS");
}

Test(pam, foreign_transaction_id_ends_the_transaction)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "liar", "answer", PASS_A, "auth",
			      "end", "waitworkers");
	assert_has(out, "liar sent\nauth PAM_SYSTEM_ERR ");
	assert_has(out, " EPIPE\nend PAM_SYSTEM_ERR\n");
	assert_has(out, "workers 0\n");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "forged or stale handle");
}

Test(pam, call_from_its_own_conversation_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "reentrant", "answer", PASS_A, "auth",
			      "end");
	assert_has(out, "reentrant PAM_SYSTEM_ERR EDEADLK\nauth PAM_SUCCESS");
}

Test(pam, transactions_per_process_bounded)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "startmany", "9", SERVICE);
	cr_assert_eq(count_of(out, "start PAM_SUCCESS"), 8, "%s", out);
	assert_has(out, "start PAM_SYSTEM_ERR EAGAIN\n");
}

/* --- the monitor keeps going ----------------------------------------------------------------- */

Test(pam, channel_closed_mid_conversation_ends_the_worker)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("open", "start", SERVICE, USER_A, "closeconv", "auth", "workers",
			      "waitworkers", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "end");
	assert_has(out, "workers 0\n");
	assert_has(out, "auth PAM_SUCCESS");
}

/* A worker is made ready ahead of need (its fork is not on the path of a
 * priv_pam_start): one from the start; after a transaction took it, the
 * next once that transaction's worker ended when it was the only one in
 * flight (so as not to compete with it for the CPU), at once when another
 * is; and none for a program that may not use PAM. */
Test(pam, a_worker_is_ready_ahead_only_when_pam_is_granted)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "ready", "start", SERVICE, USER_A, "workers", "answer",
			      PASS_A, "auth", "end", "waitworkers", "ready");
	assert_has(out, "ready 1\nstart PAM_SUCCESS\nworkers 1\n");
	assert_has(out, "auth PAM_SUCCESS");
	assert_has(out, "workers 0\nready 1\n");
	out = RUN("on", "ready", "start", SERVICE, USER_A, "start", SERVICE, USER_A, "workers",
		  "ready");
	assert_has(out, "ready 1\nstart PAM_SUCCESS\nstart PAM_SUCCESS\nworkers 2\nready 1\n");
	out = RUN("off", "ready");
	assert_has(out, "ready 0\n");
}

static int workers_of(pid_t monitor, pid_t *pids, int cap)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		char *paren = strrchr(buf, ')');
		int ppid = 0;
		if (paren && strstr(buf, "(privman-pam)") &&
		    sscanf(paren + 2, "%*c %d", &ppid) == 1 && ppid == monitor && n < cap)
			pids[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

/* Alive and not a zombie (a zombie waits for whoever inherited it). */
static bool running(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t got = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[got] = '\0';
	char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

Test(pam, program_killed_mid_conversation_leaves_no_worker)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct run r;
	start_prog(&r, (const char *const[]){"on", "start", SERVICE, USER_A, "hangconv", "answer",
					     PASS_A, "auth", NULL});
	const char *line;
	int program = 0, monitor = 0;
	while ((line = read_line(&r)))
		if (sscanf(line, "HANG %d %d", &program, &monitor) == 2)
			break;
	cr_assert(program > 0 && monitor == r.pid, "no conversation:\n%s", r.text);
	pid_t workers[8];
	int n = workers_of(monitor, workers, 8);
	cr_assert_eq(n, 1, "one worker while the conversation waits");
	/* It holds none of the monitor's other fds: no epoll set, no signalfd,
	 * no other channel (stdio, its channel, its report socket, the audit
	 * file). */
	char fd_dir[64];
	snprintf(fd_dir, sizeof(fd_dir), "/proc/%d/fd", (int)workers[0]);
	DIR *d = opendir(fd_dir);
	cr_assert(d);
	int fds = 0, watches = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char link[PATH_MAX], target[PATH_MAX] = "";
		snprintf(link, sizeof(link), "%s/%s", fd_dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		cr_assert(!strstr(target, "eventpoll") && !strstr(target, "signalfd"),
			  "worker fd %s -> %s", e->d_name, target);
		watches += strcmp(target, "anon_inode:inotify") == 0;
		fds++;
	}
	closedir(d);
	cr_assert_eq(watches, 1, "the worker watches the PAM configuration");
	cr_assert_eq(fds, 7,
		     "stdio, channel, report socket, audit file, the watch of the PAM "
		     "configuration (inotify): %d fds",
		     fds);
	cr_assert(kill(program, SIGKILL) == 0);
	finish_prog(&r);
	/* The monitor is gone (reaped); its worker must follow at once. */
	for (int i = 0; i < 100 && running(workers[0]); i++)
		usleep(10000);
	cr_assert(!running(workers[0]), "worker %d still runs", workers[0]);
}

Test(pam, another_channel_served_while_a_conversation_waits)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("open", "concurrent", SERVICE, USER_A, PASS_A, granted);
	assert_has(out, "msg echo_off Password: \nopened granted file\nauth PAM_SUCCESS\n");
	assert_lacks(out, "conv-timeout");
}

/* --- what the program may not choose ------------------------------------------------------ */

/* The password hash of `user` in /etc/shadow (malloc'd). */
static char *shadow_hash(const char *user)
{
	FILE *f = fopen("/etc/shadow", "re");
	cr_assert(f);
	char line[1024];
	size_t len = strlen(user);
	char *hash = NULL;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, user, len) == 0 && line[len] == ':') {
			char *end = strchr(line + len + 1, ':');
			cr_assert(end);
			hash = strndup(line + len + 1, (size_t)(end - line - len - 1));
		}
	fclose(f);
	cr_assert(hash, "%s is not in /etc/shadow", user);
	return hash;
}

Test(pam, service_item_refused_and_its_module_never_loaded)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* An absolute path to a configuration the program wrote: its
	 * pam_exec would leave the marker, as root. */
	const char *out = RUN("on", "start", SERVICE, USER_A, "set", "service", evil, "get",
			      "service", "answer", "wrong", "auth", "acct", "open", "end");
	cr_assert(access(marker, F_OK) < 0, "the program's PAM module ran as root:\n%s", out);
	assert_has(out, "start PAM_SUCCESS\nset PAM_BAD_ITEM EPERM\nget PAM_SUCCESS " SERVICE "\n");
	/* The service's own stack ran: pam_unix refused the wrong password. */
	assert_has(out, "auth PAM_AUTH_ERR");

	/* A relative one, out of /etc/pam.d; and another service's name. */
	char up[PATH_MAX + 8];
	snprintf(up, sizeof(up), "../..%s", evil);
	out = RUN("on", "start", SERVICE, USER_A, "set", "service", up, "answer", "wrong", "auth",
		  "set", "service", "Other", "get", "service", "end");
	cr_assert(access(marker, F_OK) < 0, "the program's PAM module ran as root:\n%s", out);
	assert_has(out, "start PAM_SUCCESS\nset PAM_BAD_ITEM EPERM\n");
	assert_has(out, "auth PAM_AUTH_ERR");
	assert_has(out, "set PAM_BAD_ITEM EPERM\nget PAM_SUCCESS " SERVICE "\n");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "PAM_SERVICE is chosen once, at pam_start");
	assert_has(audit, evil);
}

Test(pam, service_must_be_granted_and_a_plain_name)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char up[PATH_MAX + 8];
	snprintf(up, sizeof(up), "../..%s", evil);
	const char *out = RUN("on", "start", evil, USER_A, "auth", "start", up, USER_A, "auth",
			      "start", "..", USER_A, "start", "login", USER_A, "start", SERVICE_SU,
			      USER_A, "start", "on", USER_A, "start", SERVICE, USER_A, "end");
	cr_assert_eq(count_of(out, "start PAM_PERM_DENIED EPERM\n"), 6, "%s", out);
	assert_has(out, "start PAM_SUCCESS\nend PAM_SUCCESS\n");
	cr_assert(access(marker, F_OK) < 0, "the program's PAM module ran as root");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "a PAM service must be a plain name");
	assert_has(audit, "PAM service login is not granted");
	assert_has(audit, "PAM service " SERVICE_SU " is not granted");
	/* `auth true` grants no service but the application's own: here "on" */
	assert_has(audit, "PAM service on is not granted");
}

Test(pam, auth_true_grants_the_application_service_only)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN(SERVICE_SELF, "start", SERVICE_SELF, USER_A, "answer", PASS_A,
			      "auth", "acct", "end", "start", SERVICE, USER_A, "start", SERVICE_SU,
			      USER_A, "start", "PmTestPam-Self", USER_A, "end");
	assert_has(out, "start PAM_SUCCESS\nconv 1\nmsg echo_off Password: \nauth PAM_SUCCESS");
	assert_has(out, "acct PAM_SUCCESS");
	/* Upper case is the same service to PAM, and to the policy. */
	assert_has(out, "start PAM_PERM_DENIED EPERM\nstart PAM_PERM_DENIED EPERM\n"
			"start PAM_SUCCESS\nend PAM_SUCCESS\n");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "is the application's own, granted by auth true");
}

Test(pam, chauthtok_without_authentication_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *a = shadow_hash(USER_A);
	AUTOFREE char *b = shadow_hash(USER_B);
	/* Never root here: were the gate broken, the test would set root's
	 * password on the machine that runs it. The gate does not look at who
	 * the user is. */
	const char *out = RUN(
		"on", "answer", "Evil-Pass-1", "answer", "Evil-Pass-1", "answer", "Evil-Pass-1",
		"answer", "Evil-Pass-1", "answer", "Evil-Pass-1", "answer", "Evil-Pass-1",
		/* no authentication at all, for two users */
		"start", SERVICE, USER_A, "chauthtok", "end", "start", SERVICE, USER_B,
		"chauthtok", "end",
		/* a failed authentication */
		"start", SERVICE, USER_A, "auth", "chauthtok", "end");
	cr_assert_eq(count_of(out, "chauthtok PAM_PERM_DENIED"), 3, "%s", out);
	assert_lacks(out, "chauthtok PAM_SUCCESS");
	assert_has(out, "auth PAM_AUTH_ERR");
	/* authenticated, but not through the account step; then authenticated
	 * and accepted as A, but PAM_USER changed to B */
	out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "answer", "Evil-Pass-1",
		  "answer", "Evil-Pass-1", "chauthtok", "answer", "Evil-Pass-1", "answer",
		  "Evil-Pass-1", "chauthtok-expired", "end", "start", SERVICE, USER_A, "answer",
		  PASS_A, "auth", "acct", "set", "user", USER_B, "answer", "Evil-Pass-1", "answer",
		  "Evil-Pass-1", "chauthtok", "end");
	assert_has(out, "auth PAM_SUCCESS");
	assert_has(out, "acct PAM_SUCCESS");
	cr_assert_eq(count_of(out, "chauthtok PAM_PERM_DENIED"), 2, "%s", out);
	assert_has(out, "chauthtok-expired PAM_PERM_DENIED");
	AUTOFREE char *a2 = shadow_hash(USER_A);
	AUTOFREE char *b2 = shadow_hash(USER_B);
	cr_assert_str_eq(a, a2, "%s's password changed", USER_A);
	cr_assert_str_eq(b, b2, "%s's password changed", USER_B);
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "\"op\":\"pam_chauthtok\"");
	assert_has(audit, "has not passed pam_authenticate and pam_acct_mgmt");
	assert_has(audit, "user=" USER_B);
}

Test(pam, expired_password_changed_after_authentication_only)
{
	PMTEST_SKIP_UNLESS_ROOT();
	cr_assert(pmtest_sh("chage -d 0 %s", USER_A) == 0);
	/* pam_unix asks for the current password again, then twice the new one. */
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct",
			      "answer", PASS_A, "answer", "Spring-Ladder-5", "answer",
			      "Spring-Ladder-5", "chauthtok", "setcred", "chauthtok-expired",
			      "setcred", "end");
	assert_has(out, "auth PAM_SUCCESS");
	assert_has(out, "acct PAM_NEW_AUTHTOK_REQD");
	assert_has(out, "chauthtok PAM_PERM_DENIED");
	/* the session may follow once the password is changed, as in login */
	assert_has(out, "chauthtok PAM_PERM_DENIED 0 0\nsetcred PAM_PERM_DENIED");
	assert_has(out, "chauthtok-expired PAM_SUCCESS");
	assert_has(out, "setcred PAM_SUCCESS");
	out = RUN("on", "start", SERVICE, USER_A, "answer", "Spring-Ladder-5", "auth", "acct",
		  "end");
	assert_has(out, "auth PAM_SUCCESS");
	assert_has(out, "acct PAM_SUCCESS");
}

Test(pam, session_and_credentials_follow_authentication)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char made[PATH_MAX];
	snprintf(made, sizeof(made), "%s/made-by-session", dir);
	const char *out = RUN("on", "start", SERVICE, USER_A, "setcred", "open", "close", "answer",
			      PASS_A, "auth", "open", "acct", "set", "user", USER_A, "open", "end");
	cr_assert_eq(count_of(out, "PAM_PERM_DENIED"), 5, "%s", out);
	assert_has(out, "auth PAM_SUCCESS");
	assert_has(out, "acct PAM_SUCCESS");
	cr_assert(access(made, F_OK) < 0, "the session ran without authentication");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "\"op\":\"pam_setcred\"");
	assert_has(audit, "\"op\":\"pam_open_session\"");
	assert_has(audit, "\"op\":\"pam_close_session\"");
	assert_has(audit, "has not passed pam_acct_mgmt after pam_authenticate");
}

Test(pam, rootok_service_refused_unless_listed)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* Not granted: refused, and no authentication. */
	const char *out = RUN("rerun", "start", SERVICE_SU, USER_A, "auth", "acct", "end",
			      "rerun", USER_A);
	assert_has(out, "start PAM_PERM_DENIED EPERM\n");
	assert_has(out, "rerun -1 EPERM");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "PAM service " SERVICE_SU " is not granted");
}

Test(pam, rootok_service_listed_never_grants_a_rerun)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* Listed: pam_rootok lets the root worker pass as anyone, with no
	 * password; the user is not recorded for auth_allow_rerun. */
	const char *out = RUN("su", "start", SERVICE_SU, USER_A, "auth", "acct", "end", "rerun",
			      USER_A);
	assert_has(out, "start PAM_SUCCESS\nauth PAM_SUCCESS");
	assert_has(out, "acct PAM_SUCCESS");
	assert_has(out, "rerun -1 EPERM");
	assert_lacks(out, "rerun-as");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "\"op\":\"auth_allow_rerun\"");
	assert_has(audit, "pam_rootok");
	/* The same user through a service that asks for the password is. */
	out = RUN("su", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct", "end", "rerun",
		  USER_A);
	assert_has(out, "rerun 0 42");
}

Test(pam, check_warns_about_rootok_services)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char cmd[PATH_MAX * 3];
	snprintf(cmd, sizeof(cmd), "%s check -q -c %s/su -r 'auth %s' 2>&1", privman, dir,
		 SERVICE_SU);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	char text[8192];
	size_t n = fread(text, 1, sizeof(text) - 1, p);
	text[n] = '\0';
	int status = pclose(p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s\n%s", cmd, text);
	assert_has(text, "warning: PAM service " SERVICE_SU ": /etc/pam.d/" SERVICE_SU
			 " line 1: auth pam_rootok succeeds when the caller's uid is 0, and the "
			 "PAM worker runs as root");
	assert_has(text, "auth " SERVICE_SU ": ALLOW");
	/* The services without pam_rootok are not warned about. */
	assert_lacks(text, "PAM service " SERVICE ":");
}

Test(pam, remote_user_and_host_audited_escaped)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "set", "rhost", "evil\nhost", "set",
			      "ruser", "mallory\x1b[2J", "end");
	assert_has(out, "set PAM_SUCCESS\nset PAM_SUCCESS\n");
	AUTOFREE char *audit = read_audit();
	/* escaped once for the log line, once more for JSON */
	assert_has(audit, "PAM_RHOST=evil\\\\x0ahost service=" SERVICE);
	assert_has(audit, "PAM_RUSER=mallory\\\\x1b[2J service=" SERVICE);
}

Test(pam, a_user_name_cannot_fake_fields_of_its_line)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, "x pid=1: Success", "end");
	assert_has(out, "start PAM_SUCCESS\n");
	AUTOFREE char *audit = read_audit();
	/* one word: no space, '=' or ':' of the name's own */
	assert_has(audit, "user=x\\\\x20pid\\\\x3d1\\\\x3a\\\\x20Success pid=");
}

Test(pam, environment_for_commands_run_as_root_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* pam_exec hands the PAM environment to the command it runs as root:
	 * a PATH of the program's would run the program's command. */
	char path[PATH_MAX + 16], hooked[PATH_MAX + 16];
	snprintf(path, sizeof(path), "PATH=%s/bin", dir);
	snprintf(hooked, sizeof(hooked), "%s/hooked", dir);
	const char *out = RUN("on", "start", SERVICE_EXEC, USER_A, "putenv", path, "putenv",
			      "LD_PRELOAD=/nonexistent/pmtestpam.so", "putenv", "PMTEST_FINE=1",
			      "answer", PASS_A, "auth", "acct", "open", "getenv",
			      "PATH", "getenv", "PMTEST_FINE", "end");
	assert_has(out, "open PAM_SUCCESS");
	cr_assert(access(hooked, F_OK) < 0, "the program's command ran as root:\n%s", out);
	assert_has(out, "start PAM_SUCCESS\nputenv PAM_PERM_DENIED\nputenv PAM_PERM_DENIED\n"
			"putenv PAM_SUCCESS\n");
	assert_has(out, "getenv (null)\ngetenv 1\n");
	AUTOFREE char *audit = read_audit();
	assert_has(audit, "\"op\":\"pam_putenv\",\"object\":\"PATH\"");
	assert_has(audit, "\"op\":\"pam_putenv\",\"object\":\"LD_PRELOAD\"");
	/* OpenSSL loads the engine a configuration names; a name that is no
	 * name is refused too */
	out = RUN("on", "start", SERVICE_EXEC, USER_A, "putenv", "OPENSSL_CONF=/tmp/x", "putenv",
		  "A B=1", "putenv", "PMTEST_FINE=1", "end");
	assert_has(out, "start PAM_SUCCESS\nputenv PAM_PERM_DENIED\nputenv PAM_PERM_DENIED\n"
			"putenv PAM_SUCCESS\n");
}

/* The records of a transaction are the same whether its worker prepared the
 * stack ahead of need (the first two: the first service granted, then the
 * last one asked) or started it at BEGIN (the third: another service), and
 * come in the same order: preparing writes none. */
Test(pam, audit_records_per_transaction_unchanged_by_preparation)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *out = RUN("on", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct",
			      "end", "start", SERVICE, USER_A, "answer", PASS_A, "auth", "acct",
			      "end", "start", SERVICE_CHAT, USER_A, "answer", PASS_A, "auth",
			      "acct", "end");
	cr_assert_eq(count_of(out, "auth PAM_SUCCESS"), 3, "%s", out);
	AUTOFREE char *audit = read_audit();
	const char *services[3] = {SERVICE, SERVICE, SERVICE_CHAT};
	const char *p = audit;
	/* The worker's records, in order (the monitor's "object":"pam" record
	 * of each transaction is its own, flushed with its batch: counted). */
	for (int t = 0; t < 3; t++) {
		char expect[4][256];
		snprintf(expect[0], sizeof(expect[0]), "\"op\":\"pam_start\",\"object\":\"%s\"",
			 services[t]);
		snprintf(expect[1], sizeof(expect[1]), "pam_start service=%s user=" USER_A " pid=",
			 services[t]);
		snprintf(expect[2], sizeof(expect[2]),
			 "pam_authenticate service=%s user=" USER_A " pid=", services[t]);
		snprintf(expect[3], sizeof(expect[3]),
			 "pam_acct_mgmt service=%s user=" USER_A " pid=", services[t]);
		for (int k = 0; k < 4; k++) {
			const char *at = strstr(p, expect[k]);
			cr_assert(at, "transaction %d: no %s after what came before in:\n%s", t,
				  expect[k], audit);
			p = at + strlen(expect[k]);
		}
	}
	cr_assert_eq(count_of(audit, "\"op\":\"pam_start\",\"object\":\"pam\""), 3);
	cr_assert_eq(count_of(audit, "pam_start service="), 3);
	cr_assert_eq(count_of(audit, "pam_authenticate service="), 3);
	cr_assert_eq(count_of(audit, "pam_acct_mgmt service="), 3);
	cr_assert_eq(count_of(audit, "\"op\":\"pam_start\""), 6);
	assert_lacks(audit, "prepar");
}
