/* Every refusal of the monitor's process operations is audited: the caps
 * on what one program may hold (fork channels waiting for a hello,
 * priv_wait4 calls waiting, processes started and not waited for) and the
 * flags only a hostile program sends (the library refuses them first).
 * The helper tests/helpers/refuse_prog asks for each. As root, with a real
 * user pmtestpra1. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure("pmtestpra1");
}

static void teardown(void)
{
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

TestSuite(proc_audit, .init = setup, .fini = teardown, .timeout = 60);

static const char *helper(void)
{
	static char path[PATH_MAX];
	char rel[256];
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/tests/helpers/refuse_prog",
		 build && *build ? build : "build");
	if (!path[0] && !realpath(rel, path))
		snprintf(path, sizeof(path), "%s", rel);
	return path;
}

static char out[4096], audit[1 << 18];

#define slurp(name, buf, cap) pmtest_slurp(dir, (name), (buf), (cap))

/* Run the helper with `args` under `policy`; its output is in out[]. */
static void run(const char *policy, const char *args)
{
	free(pmtest_write_file(dir, "t", policy));
	char cmd[5 * PATH_MAX + 512];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json timeout -s KILL 30 "
		 "%s t %s >%s/out 2>%s/err </dev/null",
		 dir, dir, dir, helper(), args, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s: status 0x%x, output:\n%s", args, rc,
		  out);
}

/* One line of the audit holds the op, the reason and the errno. */
static void assert_refusal_audited(const char *op, const char *reason, int error)
{
	slurp("audit.json", audit, sizeof(audit));
	char want_op[64], want_errno[32];
	snprintf(want_op, sizeof(want_op), "\"op\":\"%s\"", op);
	snprintf(want_errno, sizeof(want_errno), "\"errno\":%d}", error);
	for (char *line = audit; *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (strstr(line, want_op) && strstr(line, reason) && strstr(line, want_errno) &&
		    strstr(line, "\"decision\":\"deny\""))
			return;
		if (!end)
			break;
		line = end + 1;
	}
	cr_assert_fail("no refusal of %s for \"%s\" (errno %d) in the audit:\n%.4000s", op, reason,
		       error, audit);
}

#define RUN_AS "allow_rerun true\nrun_as { pmtestpra1 }\n"

Test(proc_audit, fork_channels_waiting_for_a_hello_are_capped)
{
	run("fork true\n", "forkcap");
	cr_assert_str_eq(out, "ERR EAGAIN\n");
	assert_refusal_audited("fork", "waiting for a child's hello", EAGAIN);
}

Test(proc_audit, waiting_priv_wait4_calls_are_capped)
{
	run(RUN_AS, "waitfull pmtestpra1");
	cr_assert_str_eq(out, "ERR EAGAIN\n");
	assert_refusal_audited("wait4", "calls are waiting already", EAGAIN);
}

Test(proc_audit, wait4_with_options_other_than_wnohang_is_refused)
{
	run("fork true\n", "waitopts");
	cr_assert_str_eq(out, "ERR EINVAL\n");
	assert_refusal_audited("wait4", "options other than WNOHANG", EINVAL);
}

Test(proc_audit, processes_started_and_not_waited_for_are_capped)
{
	run(RUN_AS, "spawnmany pmtestpra1 257");
	cr_assert_str_eq(out, "ERR EAGAIN\n");
	assert_refusal_audited("execve", "have not been waited for", EAGAIN);
}

Test(proc_audit, unknown_flags_of_rerunas_and_respawn_as_are_refused)
{
	run(RUN_AS, "rerunflags pmtestpra1");
	cr_assert_str_eq(out, "ERR EINVAL\n");
	assert_refusal_audited("rerunas", "unknown flags", EINVAL);
	run(RUN_AS, "respawnflags pmtestpra1");
	cr_assert_str_eq(out, "ERR EINVAL\n");
	assert_refusal_audited("respawn_as", "unknown flags", EINVAL);
}

Test(proc_audit, popen_as_with_a_bad_mode_or_no_user_is_refused)
{
	run(RUN_AS, "popenmode pmtestpra1");
	cr_assert_str_eq(out, "ERR EINVAL\n");
	assert_refusal_audited("popen_as", "a mode other than reading or writing", EINVAL);
	run(RUN_AS, "popennouser");
	cr_assert_str_eq(out, "ERR EINVAL\n");
	assert_refusal_audited("popen_as", "no user named", EINVAL);
}
