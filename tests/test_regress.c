/* Regressions: each test performs an attack that once worked, end to end
 * through a real monitor. As root. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;
static char out[1 << 14];

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

TestSuite(regress, .init = setup, .fini = teardown, .timeout = 60);

static void run_helper(const char *name, const char *args)
{
	const char *build = getenv("BUILD");
	char cmd[2048], p[600];
	snprintf(cmd, sizeof(cmd),
		 "PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json %s/tests/helpers/%s %s >%s/out 2>&1",
		 dir, dir, build && *build ? build : "build", name, args, dir);
	int rc = system(cmd);
	snprintf(p, sizeof(p), "%s/out", dir);
	FILE *f = fopen(p, "re");
	size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
	out[n] = '\0';
	if (f)
		fclose(f);
	cr_assert(rc != -1);
}

/* The program leases a file it owns and the policy grants it read-write;
 * then priv_open for writing would break its own lease. The monitor's open
 * once waited the whole lease-break time (45 s by default) for the
 * program, serving nobody meanwhile. Now it fails at once with
 * EWOULDBLOCK. */
static void lease_attack(const char *asked)
{
	char path[512], policy[1024], args[700];
	free(pmtest_write_file(dir, "leased", "leased\n"));
	snprintf(path, sizeof(path), "%s/leased", dir);
	cr_assert(chown(path, 65534, 65534) == 0);
	cr_assert(chmod(path, 0600) == 0);
	snprintf(policy, sizeof(policy), "open_rw { %s }\n", path);
	free(pmtest_write_file(dir, "lease", policy));
	snprintf(args, sizeof(args), "lease %s/%s", dir, asked);
	run_helper("lease_prog", args);
	cr_assert(strstr(out, "lease OK\n"), "%s", out);
	cr_assert(strstr(out, "open ERR EWOULDBLOCK\n") || strstr(out, "open ERR EAGAIN\n"),
		  "%s", out);
	long ms = -1;
	const char *t = strstr(out, "ms ");
	cr_assert(t && sscanf(t, "ms %ld", &ms) == 1, "%s", out);
	cr_assert(ms < 5000, "priv_open waited %ld ms for the program's own lease", ms);
}

/* A clean absolute path: the monitor's short way (one openat2). */
Test(regress, a_lease_the_program_holds_never_stalls_the_monitor)
{
	lease_attack("leased");
}

/* A path with "." in it: resolved to a handle, decided, then reopened. */
Test(regress, a_lease_never_stalls_the_reopen_of_a_resolved_handle)
{
	lease_attack("./leased");
}
