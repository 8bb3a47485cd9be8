/* `privman check`: exit statuses, messages, the normalised dump and the
 * explanation of requests, run as a user would run the command. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The command of the build under test (build/ or build-asan/). */
static const char *privman_path(void)
{
	static char path[256];
	const char *build = getenv("BUILD");
	snprintf(path, sizeof(path), "%s/privman", build && *build ? build : "build");
	return path;
}

struct run {
	int status;
	char out[16384];
	char err[8192];
};

static char *slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* Run `privman ARGS` through the shell. */
static struct run *privman(const char *args)
{
	static struct run r;
	AUTOFREE char *dir = pmtest_tmpdir();
	r.status = pmtest_sh("%s %s >%s/out 2>%s/err", privman_path(), args, dir, dir);
	char path[256];
	snprintf(path, sizeof(path), "%s/out", dir);
	slurp(path, r.out, sizeof(r.out));
	snprintf(path, sizeof(path), "%s/err", dir);
	slurp(path, r.err, sizeof(r.err));
	pmtest_rmtree(dir);
	return &r;
}

static char *policy_dir;

static char *write_policy(const char *name, const char *text)
{
	if (!policy_dir)
		policy_dir = pmtest_tmpdir();
	return pmtest_write_file(policy_dir, name, text);
}

static void cleanup(void)
{
	pmtest_rmtree(policy_dir);
}

TestSuite(check, .fini = cleanup);

Test(check, help_and_usage)
{
	struct run *r = privman("check --help");
	cr_assert_eq(r->status, 0);
	cr_assert(strstr(r->out, "Usage: privman check"));
	cr_assert(strstr(r->out, "--request"));
	r = privman("check");
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "no policy given"));
	r = privman("check --bogus");
	cr_assert_eq(r->status, 2);
	r = privman("check -c /dev/null extra1 extra2");
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "unexpected argument 'extra2'"));
	r = privman("help");
	cr_assert_eq(r->status, 0);
	cr_assert(strstr(r->out, "check"));
	cr_assert(strstr(r->out, "run"));
	r = privman("frobnicate");
	cr_assert_eq(r->status, 2);
}

Test(check, valid_policy_is_printed_normalised_with_origins)
{
	AUTOFREE char *path = write_policy("good.conf", "Open_RO = { \"/srv/a b\" /etc/motd }\nbind smtp\n"
					      "Security {\n User = nobody\n}\n");
	char args[512];
	snprintf(args, sizeof(args), "check -c %s", path);
	struct run *r = privman(args);
	cr_assert_eq(r->status, 0, "%s", r->err);
	char line[512];
	snprintf(line, sizeof(line), "open_ro \"/srv/a b\"                      # %s:1:13", path);
	cr_assert(strstr(r->out, line), "%s", r->out);
	cr_assert(strstr(r->out, "bind smtp"));
	cr_assert(strstr(r->out, "fork false                              # built-in default"));
	cr_assert(strstr(r->out, "user nobody (uid 65534)"));
}

Test(check, invalid_policy_exits_1_with_located_errors)
{
	AUTOFREE char *path = write_policy("bad.conf", "open_ro /etc/motd\nopen_r0 /x\n");
	char args[512];
	snprintf(args, sizeof(args), "check -c %s", path);
	struct run *r = privman(args);
	cr_assert_eq(r->status, 1);
	char message[512];
	snprintf(message, sizeof(message),
		 "%s:2:1: error: unknown directive 'open_r0'; did you mean 'open_ro'?", path);
	cr_assert(strstr(r->err, message), "%s", r->err);
	cr_assert(strstr(r->err, "nothing was granted"));
	cr_assert_eq(r->out[0], '\0', "nothing is printed for an invalid policy");

	free(path);
	path = write_policy("bad2.conf", "bind 0\nsecurity { user pmtestnosuchuser }\n");
	snprintf(args, sizeof(args), "check -c %s", path);
	r = privman(args);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "bad2.conf:1:6: error: bind \"0\""));
	cr_assert(strstr(r->err, "bad2.conf:2:17: error: unknown user 'pmtestnosuchuser'"));
}

Test(check, application_name_reads_the_policy_folder)
{
	free(write_policy("pmtestapp", "bind 25\n"));
	char args[512];
	snprintf(args, sizeof(args), "check pmtestapp");
	setenv("PRIVMAN_CONF_DIR", policy_dir, 1);
	struct run *r = privman(args);
	cr_assert_eq(r->status, 0, "%s", r->err);
	cr_assert(strstr(r->out, "bind 25"));
	r = privman("check pmtestnoapp");
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "pmtestnoapp: No such file or directory"));
	r = privman("check ../etc/passwd");
	cr_assert_eq(r->status, 2);
	unsetenv("PRIVMAN_CONF_DIR");
}

Test(check, requests_are_explained)
{
	AUTOFREE char *path = write_policy("req.conf", "open_ro { /etc/motd \"/srv/my files/*\" }\n"
					      "open_ao /var/log/app.log\nbind 127.0.0.1:25\n"
					      "run_as *\nfork true\n");
	char args[1024];
	snprintf(args, sizeof(args),
		 "check -q -c %s -r 'open_ro /etc/motd' -r 'open_ro /srv/my files/index.html' "
		 "-r 'open /var/log/app.log O_WRONLY|O_APPEND|O_CREAT' -r 'bind 127.0.0.1:25' "
		 "-r 'run_as nobody' -r fork",
		 path);
	struct run *r = privman(args);
	cr_assert_eq(r->status, 0, "%s\n%s", r->out, r->err);
	cr_assert(strstr(r->out, "open_ro /etc/motd: ALLOW"));
	char rule[512];
	snprintf(rule, sizeof(rule), "rule:   open_ro /srv/my files/* (%s:1:21)", path);
	cr_assert(strstr(r->out, rule), "%s", r->out);
	cr_assert(strstr(r->out, "bind 127.0.0.1:25: ALLOW"));
	cr_assert(strstr(r->out, "run_as nobody: ALLOW"));
	cr_assert(strstr(r->out, "fork: ALLOW"));
	cr_assert_null(strstr(r->out, "# effective policy"), "-q prints no dump");

	snprintf(args, sizeof(args),
		 "check -q -c %s -r 'open /etc/motd O_RDWR' -r 'bind 25' -r 'run_as root' -r auth",
		 path);
	r = privman(args);
	cr_assert_eq(r->status, 3);
	cr_assert(strstr(r->out, "open /etc/motd O_RDWR: DENY"));
	cr_assert(strstr(r->out, "granted only by open_ro, and O_RDWR needs open_rw"));
	cr_assert(strstr(r->out, "bind 25: DENY"));
	cr_assert(strstr(r->out, "no bind rule matches 0.0.0.0:25"));
	cr_assert(strstr(r->out, "run_as root: DENY"));
	cr_assert(strstr(r->out, "errno:  EPERM"));
	cr_assert(strstr(r->out, "auth: DENY"));
}

Test(check, symlinks_are_explained_on_their_target)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	char link[256], policy[512], args[1024];
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink("/etc/shadow", link), 0);
	snprintf(policy, sizeof(policy), "open_ro %s\n", link);
	AUTOFREE char *path = write_policy("link.conf", policy);
	snprintf(args, sizeof(args), "check -q -c %s -r 'open_ro %s'", path, link);
	struct run *r = privman(args);
	cr_assert_eq(r->status, 3, "a link named in the policy does not grant its target");
	cr_assert(strstr(r->out, "resolves to /etc/shadow"));
	pmtest_rmtree(dir);
}

Test(check, bad_requests_are_usage_errors)
{
	AUTOFREE char *path = write_policy("r.conf", "bind 25\n");
	static const char *const bad[] = { "frob /x", "bind", "bind 70000", "open /x O_BOGUS",
					   "run_as pmtestnosuchuser", "fork now", "open_ro" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char args[512];
		snprintf(args, sizeof(args), "check -q -c %s -r '%s'", path, bad[i]);
		struct run *r = privman(args);
		cr_assert_eq(r->status, 2, "%s: %d", bad[i], r->status);
		cr_assert_neq(r->err[0], '\0');
	}
}

/* The usage line puts the options after APP: GNU getopt permutation, and
 * the same when POSIXLY_CORRECT is set. */
Test(check, options_may_follow_the_application)
{
	free(write_policy("pmtestcpapp", "bind 25\nopen_ro /etc/motd\n"));
	setenv("PRIVMAN_CONF_DIR", policy_dir, 1);
	static const char *const forms[] = {
		"check pmtestcpapp -q -r 'bind 25'",
		"check pmtestcpapp -r 'bind 25' -q",
		"check -q pmtestcpapp --request='bind 25'",
		"check -r 'bind 25' -- pmtestcpapp -q",
	};
	for (int posix = 0; posix < 2; posix++) {
		if (posix)
			setenv("POSIXLY_CORRECT", "1", 1);
		for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			struct run *r = privman(forms[i]);
			if (i == 3) { /* after "--" everything is an operand */
				cr_assert_eq(r->status, 2, "%s", forms[i]);
				cr_assert(strstr(r->err, "unexpected argument '-q'"), "%s", r->err);
				continue;
			}
			cr_assert_eq(r->status, 0, "%s: %s", forms[i], r->err);
			cr_assert(strstr(r->out, "bind 25: ALLOW"), "%s: %s", forms[i], r->out);
			cr_assert_null(strstr(r->out, "effective policy"), "%s: -q", forms[i]);
		}
	}
	unsetenv("POSIXLY_CORRECT");
	struct run *r = privman("check pmtestcpapp -r 'bind 26'");
	cr_assert_eq(r->status, 3);
	r = privman("check pmtestcpapp pmtestcpapp -q");
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "unexpected argument 'pmtestcpapp'"), "%s", r->err);

	/* Files are read in the order written, APP among them. */
	AUTOFREE char *later = write_policy("later.conf", "fork false\n");
	free(write_policy("pmtestcpfork", "fork true\n"));
	char args[512];
	snprintf(args, sizeof(args), "check pmtestcpfork -c %s -q -r fork", later);
	r = privman(args);
	cr_assert_eq(r->status, 3, "%s", r->out);
	snprintf(args, sizeof(args), "check -c %s pmtestcpfork -q -r fork", later);
	r = privman(args);
	cr_assert_eq(r->status, 0, "%s", r->out);
	unsetenv("PRIVMAN_CONF_DIR");
}

/* --compat notes each dir/ * rule: one level here, any depth in the original. */
Test(check, compat_notes_one_level_star_rules)
{
	AUTOFREE char *path = write_policy("compat.conf", "open_ro { /var/spool/* /etc/** /etc/motd }\n"
							  "unlink \"/srv/my files/*\"\nbind 25\n");
	char args[512];
	snprintf(args, sizeof(args), "check -q --compat -c %s", path);
	struct run *r = privman(args);
	cr_assert_eq(r->status, 0, "%s", r->err);
	char note[512];
	snprintf(note, sizeof(note),
		 "%s:1:11: note: open_ro /var/spool/* matches entries directly in /var/spool only; "
		 "the original Privman matched any depth below it: write /var/spool/** for that",
		 path);
	cr_assert(strstr(r->err, note), "%s", r->err);
	snprintf(note, sizeof(note), "%s:2:8: note: unlink /srv/my files/* matches", path);
	cr_assert(strstr(r->err, note), "%s", r->err);
	cr_assert_null(strstr(r->err, "/etc/**"), "%s", r->err);
	cr_assert_null(strstr(r->err, "/etc/motd"), "%s", r->err);

	snprintf(args, sizeof(args), "check -q -c %s", path);
	r = privman(args);
	cr_assert_eq(r->status, 0);
	cr_assert_null(strstr(r->err, "note:"), "notes only when asked: %s", r->err);

	r = privman("check --help");
	cr_assert(strstr(r->out, "--compat"));
}
