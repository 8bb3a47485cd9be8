/* A compromised program (tests/helpers/monitor_evil) speaks the wire by
 * hand: malformed, random, lying and flooding messages. Nothing the policy
 * refuses is ever granted, the monitor never crashes, and a malformed
 * message ends the session. As root. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;
static char out[1 << 16];

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	free(pmtest_write_file(dir, "granted", "granted\n"));
	free(pmtest_write_file(dir, "secret", "secret\n"));
	char p[256];
	snprintf(p, sizeof(p), "%s/granted", dir);
	cr_assert(chmod(p, 0600) == 0);
	snprintf(p, sizeof(p), "%s/secret", dir);
	cr_assert(chmod(p, 0600) == 0);
	char policy[512];
	snprintf(policy, sizeof(policy), "open_ro { %s/granted }\nbind { 127.0.0.1:80 }\n", dir);
	free(pmtest_write_file(dir, "t", policy));
}

static void teardown(void)
{
	pmtest_rmtree(dir);
	free(dir);
}

/* Run the evil helper; returns the monitor's exit status (128 + signal
 * when it died of one). */
static int evil(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int evil(const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	const char *build = getenv("BUILD");
	snprintf(cmd, sizeof(cmd),
		 "PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json %s/tests/helpers/monitor_evil t %s "
		 ">%s/out 2>&1",
		 dir, dir, build && *build ? build : "build", args, dir);
	int rc = system(cmd);
	char p[256];
	snprintf(p, sizeof(p), "%s/out", dir);
	FILE *f = fopen(p, "re");
	size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
	out[n] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void secret_untouched(void)
{
	char p[256], text[64] = "";
	snprintf(p, sizeof(p), "%s/secret", dir);
	FILE *f = fopen(p, "re");
	cr_assert(f && fgets(text, sizeof(text), f));
	fclose(f);
	cr_assert_str_eq(text, "secret\n");
}

TestSuite(evil, .init = setup, .fini = teardown, .timeout = 120);

#define LIES 15

Test(evil, every_malformed_message_ends_the_session)
{
	for (int n = 0; n < LIES; n++) {
		int rc = evil("lie %d %s/granted", n, dir);
		cr_assert_eq(rc, 0, "lie %d: exit status %d (the monitor must exit as the program "
				    "did)\n%s",
			     n, rc, out);
		cr_assert_str_eq(out, "ENDED\nEPIPE\n", "lie %d", n);
	}
	char audit[1 << 16];
	char p[256];
	snprintf(p, sizeof(p), "%s/audit.json", dir);
	FILE *f = fopen(p, "re");
	cr_assert(f);
	size_t n = fread(audit, 1, sizeof(audit) - 1, f);
	audit[n] = '\0';
	fclose(f);
	int violations = 0;
	for (const char *s = audit; (s = strstr(s, "\"op\":\"protocol\"")); s++)
		violations++;
	cr_assert_eq(violations, LIES, "each violation is audited:\n%s", audit);
}

Test(evil, well_formed_lies_are_refused_and_the_session_goes_on)
{
	int rc = evil("semantic %s/granted %s/secret", dir, dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out,
			 "status -13\n"  /* the secret */
			 "status -13\n"  /* the secret through .. */
			 "status -22\n"  /* O_PATH */
			 "status -13\n"  /* O_TRUNC on a read-only grant */
			 "status -97\n"  /* an IPv6 address for an IPv4 socket */
			 "status -88\n"  /* a pipe is not a socket */
			 "status -97\n"  /* a unix socket */
			 "status -22\n"  /* an address of two bytes */
			 "status -22\n"  /* a channel that is a pipe */
			 "status -22\n"  /* a channel that is a stream socket */
			 "status 0 fd\n" /* the same id twice: both answered */
			 "status 0 fd\n"
			 "ALIVE\n");
	secret_untouched();
}

Test(evil, random_messages_never_grant_or_crash)
{
	for (int seed = 1; seed <= 20; seed++) {
		int rc = evil("random %d 2000 %s/granted", seed, dir);
		cr_assert_eq(rc, 0, "seed %d: status %d\n%s", seed, rc, out);
		cr_assert(strstr(out, "LEAK") == NULL, "seed %d:\n%s", seed, out);
		cr_assert(strstr(out, "random done\n"), "seed %d:\n%s", seed, out);
	}
	secret_untouched();
}

Test(evil, a_flood_is_served_in_order_without_blocking_the_monitor)
{
	int rc = evil("flood 100000 %s/granted", dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "flood 100000 100000 0\n");
	rc = evil("flood 20000 %s/secret", dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "flood 20000 0 0\n");
}
