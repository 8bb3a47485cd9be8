/* open_ao end to end: a hostile program (tests/helpers/append_prog) holds
 * an append-only stream on a root-owned file and tries every way to remove
 * or overwrite what the file already holds. Whatever it does, the bytes
 * written before stay, and what it writes is appended. As root. */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char *dir;
static char out[1 << 16];
static char err[1 << 14];

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

TestSuite(append, .init = setup, .fini = teardown, .timeout = 60);

static const char *helper(void)
{
	static char path[256];
	const char *build = getenv("BUILD");
	snprintf(path, sizeof(path), "%s/tests/helpers/append_prog",
		 build && *build ? build : "build");
	return path;
}

/* Read a whole file of the test directory; returns a malloc'd buffer. */
static char *slurp(const char *name, size_t *size)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	cr_assert(buf);
	while (f) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			cr_assert(buf);
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		if (got == 0)
			break;
		n += got;
	}
	if (f)
		fclose(f);
	buf[n] = '\0';
	if (size)
		*size = n;
	return buf;
}

static void slurp_into(const char *name, char *buf, size_t cap)
{
	size_t n;
	char *all = slurp(name, &n);
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, all, n);
	buf[n] = '\0';
	free(all);
}

/* The policy "t": `open_ao` of the test directory's NAMES. */
static void policy(const char *names)
{
	char text[1024] = "open_ao {";
	char copy[512];
	snprintf(copy, sizeof(copy), "%s", names);
	for (char *save, *n = strtok_r(copy, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
		size_t o = strlen(text);
		snprintf(text + o, sizeof(text) - o, " %s/%s", dir, n);
	}
	strncat(text, " }\n", sizeof(text) - strlen(text) - 1);
	free(pmtest_write_file(dir, "t", text));
}

/* Run the helper with ARGS, where "@" is the test directory; returns its
 * exit status. When it returns, the monitor has exited. */
static int run(const char *args)
{
	char expanded[4096], cmd[6000];
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
	slurp_into("out", out, sizeof(out));
	slurp_into("err", err, sizeof(err));
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void run_ok(const char *args)
{
	int rc = run(args);
	cr_assert_eq(rc, 0, "exit status %d for %s\nstdout:\n%s\nstderr:\n%s", rc, args, out, err);
}

/* A root-owned 0600 file of three 4 KiB blocks, so that punching a hole
 * or collapsing a range would have something to take. */
static char *original(size_t *size)
{
	static char text[3 * 4096 + 1];
	size_t n = 0;
	for (int i = 0; n < 3 * 4096; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "root-owned line %05d\n", i);
	text[3 * 4096 - 1] = '\n';
	text[3 * 4096] = '\0';
	*size = 3 * 4096;
	char *p = pmtest_write_file(dir, "log", text);
	cr_assert(chmod(p, 0600) == 0);
	free(p);
	return text;
}

static bool starts_with(const char *s, size_t n, const char *prefix, size_t pn)
{
	return n >= pn && memcmp(s, prefix, pn) == 0;
}

Test(append, no_attack_through_the_stream_changes_a_written_byte)
{
	size_t osize;
	const char *text = original(&osize);
	policy("log");
	run_ok("attack @/log");
	size_t n;
	char *now = slurp("log", &n);
	cr_assert(starts_with(now, n, text, osize),
		  "the bytes written before are intact (%zu bytes now, %zu before)\nprogram:\n%s",
		  n, osize, out);
	cr_assert(n >= osize + 5 && memcmp(now + n - 5, "tail\n", 5) == 0,
		  "what the program writes is appended\nprogram:\n%s", out);
	/* Nothing it did reached the file as anything but appended bytes. */
	cr_assert(strstr(out, "ftruncate ERR"), "%s", out);
	cr_assert(strstr(out, "mmap ERR"), "%s", out);
	cr_assert(strstr(out, "punch ERR"), "%s", out);
	free(now);
}

Test(append, last_words_before_exit_reach_the_file)
{
	size_t osize;
	const char *text = original(&osize);
	policy("log");
	/* Sixteen pipes of a megabyte, nearly full when the program ends: all
	 * of it is in the file by the time the monitor has exited. */
	run_ok("last @/log 16 'last words\n'");
	size_t n;
	char *now = slurp("log", &n);
	cr_assert_eq(n, osize + 16 * 1000000 + 11, "size %zu\n%s", n, err);
	cr_assert(starts_with(now, n, text, osize));
	cr_assert(memmem(now + osize, n - osize, "last words\n", 11));
	free(now);
}

Test(append, fopen_a_and_create_work)
{
	size_t osize;
	original(&osize);
	policy("log new.log");
	run_ok("fopen @/log 'by stdio\n' create @/new.log 'created\n'");
	cr_assert_str_eq(out, "fclose OK\ncreate OK\ncreate write OK\n", "%s\n%s", out, err);
	size_t n;
	char *now = slurp("log", &n);
	cr_assert_str_eq(now + osize, "by stdio\n");
	free(now);
	now = slurp("new.log", NULL);
	cr_assert_str_eq(now, "created\n");
	free(now);
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/new.log", dir);
	cr_assert(stat(p, &st) == 0 && S_ISREG(st.st_mode));
	cr_assert_eq(st.st_uid, 0);
	cr_assert_eq(st.st_mode & 07777, 0644, "the program's umask: %o", st.st_mode & 07777);
}

/* Check one line written by append_prog's burst: "L k p i " then filler of
 * the length it computes, all one letter. */
static bool line_ok(const char *s, size_t len, int *k_out)
{
	int k, p, i, hdr;
	if (sscanf(s, "L %d %d %d %n", &k, &p, &i, &hdr) != 3)
		return false;
	size_t want = 16 + (size_t)((k * 7919 + p * 104729 + i * 1299709) % (PIPE_BUF - 80));
	if (len != (size_t)hdr + want)
		return false;
	char c = (char)('a' + (k + p + i) % 26);
	for (size_t j = (size_t)hdr; j < len; j++)
		if (s[j] != c)
			return false;
	*k_out = k;
	return true;
}

Test(append, lines_of_concurrent_writers_stay_whole)
{
	size_t osize;
	const char *text = original(&osize);
	policy("log");
	enum { K = 6, N = 150 };
	char args[128];
	snprintf(args, sizeof(args), "burst @/log %d %d", K, N);
	run_ok(args);
	cr_assert_str_eq(out, "burst 0\n", "%s", err);
	size_t n;
	char *now = slurp("log", &n);
	cr_assert(starts_with(now, n, text, osize));
	int lines = 0, per[K] = {0};
	for (char *s = now + osize; s < now + n;) {
		char *nl = memchr(s, '\n', (size_t)(now + n - s));
		cr_assert(nl, "the last line ends");
		int k = -1;
		cr_assert(line_ok(s, (size_t)(nl - s), &k), "line %d is whole: %.60s", lines, s);
		cr_assert(k >= 0 && k < K);
		per[k]++;
		lines++;
		s = nl + 1;
	}
	cr_assert_eq(lines, K * 2 * N);
	for (int k = 0; k < K; k++)
		cr_assert_eq(per[k], 2 * N);
	free(now);
}

Test(append, streams_are_bounded_and_refusals_audited)
{
	size_t osize;
	original(&osize);
	policy("log");
	run_ok("streams @/log 4200");
	cr_assert(strstr(out, "streams 4096 EMFILE\n"), "%s\n%s", out, err);
	cr_assert(strstr(out, "again OK\n"), "a closed stream frees its place: %s", out);
	char *audit = slurp("audit.json", NULL);
	cr_assert(strstr(audit, "append-only streams"), "the refusal is audited");
	free(audit);
	size_t n;
	char *now = slurp("log", &n);
	cr_assert_str_eq(now + osize, "again\n");
	free(now);
}

Test(append, the_appender_holds_its_files_and_its_end_is_seen)
{
	size_t osize;
	const char *text = original(&osize);
	policy("log");
	run_ok("appender @/log");
	cr_assert(strstr(out, "appender found\n"), "%s", out);
	cr_assert(strstr(out, "procfd ERR EACCES\n"), "its fds are not the program's: %s", out);
	cr_assert(!strstr(out, "procfd open"), "%s", out);
	cr_assert(strstr(out, "getfd ERR EPERM\n"), "%s", out);
	cr_assert(strstr(out, "write EPIPE\n"), "a stream without its appender fails: %s", out);
	cr_assert(strstr(out, "after OK\n"), "a new appender serves: %s", out);
	size_t n;
	char *now = slurp("log", &n);
	cr_assert(starts_with(now, n, text, osize));
	/* "before" is lost when the appender was killed before it read it. */
	size_t from = osize;
	if (starts_with(now + osize, n - osize, "before\n", 7))
		from += 7;
	cr_assert(n >= from + 6 && memcmp(now + n - 6, "after\n", 6) == 0, "%s", now + osize);
	for (size_t i = from; i < n - 6; i++)
		cr_assert_eq(now[i], '\n', "%s", now + osize);
	free(now);
	char *audit = slurp("audit.json", NULL);
	cr_assert(strstr(audit, "appender"), "its end is audited:\n%s", audit);
	free(audit);
}

/* The appender runs as the program's user, not as a user that other
 * programs share: only the program (and root) can signal it. */
Test(append, the_appender_runs_as_the_programs_user)
{
	pmtest_user_ensure("pmtestao1");
	struct passwd *pw = getpwnam("pmtestao1");
	cr_assert(pw);
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	size_t osize;
	original(&osize);
	char text[512];
	snprintf(text, sizeof(text), "open_ao { %s/log }\nsecurity { user pmtestao1 }\n", dir);
	free(pmtest_write_file(dir, "t", text));
	run_ok("appuid @/log");
	char want[128];
	snprintf(want, sizeof(want), "appender uid %u gid %u\nprogram uid %u\n", (unsigned)uid,
		 (unsigned)gid, (unsigned)uid);
	cr_assert_str_eq(out, want, "%s", err);
	pmtest_user_remove("pmtestao1");
}

/* After priv_daemon the monitor that serves on is a child of the one that
 * started the appender: the streams go on, new ones too, and what the
 * daemon wrote is in the file when it has left. */
Test(append, streams_survive_priv_daemon)
{
	size_t osize;
	original(&osize);
	char text[512];
	snprintf(text, sizeof(text), "open_ao { %s/log }\nfork true\n", dir);
	free(pmtest_write_file(dir, "t", text));
	run_ok("daemon @/log");
	/* The daemon goes on after the helper's first process left. */
	char *now = NULL;
	size_t n = 0;
	for (int tries = 0; tries < 300; tries++) {
		free(now);
		now = slurp("log", &n);
		if (n >= osize + 17)
			break;
		usleep(10000);
	}
	cr_assert_eq(n, osize + 17, "%s\n%s", now + osize, err);
	cr_assert(starts_with(now + osize, n - osize, "before\n", 7), "%s", now + osize);
	cr_assert(memmem(now + osize, n - osize, "after\n", 6), "%s", now + osize);
	cr_assert(memmem(now + osize, n - osize, "new\n", 4), "%s", now + osize);
	free(now);
}

/* The file refuses bytes (RLIMIT_FSIZE, as a full disk would): the
 * program's writes on its pipe still succeed, the appender drops what the
 * file refuses, and the monitor audits it. */
Test(append, bytes_the_file_refuses_are_audited)
{
	size_t osize;
	const char *text = original(&osize);
	policy("log");
	/* 64 KiB, far above what the audit file holds; inherited by the
	 * monitor and the appender. */
	struct rlimit limit = {64 * 1024, 64 * 1024};
	cr_assert(setrlimit(RLIMIT_FSIZE, &limit) == 0);
	int rc = run("fill @/log 200");
	cr_assert_eq(rc, 0, "%s\n%s", out, err);
	cr_assert_str_eq(out, "fill OK\n", "%s", err);
	size_t n;
	char *now = slurp("log", &n);
	cr_assert(starts_with(now, n, text, osize));
	cr_assert_eq(n, 64 * 1024, "the file stops at the limit: %zu", n);
	free(now);
	char *audit = slurp("audit.json", NULL);
	cr_assert(strstr(audit, "\"op\":\"append\""), "%s", audit);
	cr_assert(strstr(audit, "\"errno\":27"), "EFBIG is audited:\n%s", audit);
	cr_assert(strstr(audit, "bytes written to the stream were dropped"), "%s", audit);
	free(audit);
}

/* A monitor made by priv_respawn_as forgets its parent's appender and
 * starts its own; the parent's streams go on. */
Test(append, a_respawned_monitor_has_its_own_appender)
{
	size_t osize;
	original(&osize);
	char text[512];
	pmtest_user_ensure("pmtestao2");
	snprintf(text, sizeof(text), "open_ao { %s/log }\nallow_rerun true\nrun_as pmtestao2\n",
		 dir);
	free(pmtest_write_file(dir, "t", text));
	run_ok("respawn @/log pmtestao2");
	cr_assert_str_eq(out, "respawn status 0\nback OK\n", "%s", err);
	size_t n;
	char *now = slurp("log", &n);
	cr_assert_str_eq(now + osize, "parent\nchild\nback\n");
	free(now);
	char *audit = slurp("audit.json", NULL);
	const char *first = strstr(audit, "appender started");
	cr_assert(first && strstr(first + 1, "appender started"), "two appenders:\n%s", audit);
	cr_assert(!strstr(audit, "append-only streams it served"), "none ended early:\n%s", audit);
	free(audit);
	pmtest_user_remove("pmtestao2");
}
