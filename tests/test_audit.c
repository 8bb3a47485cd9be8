/* Audit lines: what reaches syslog (a datagram socket standing in for
 * /dev/log) and the JSON file, and when. No root needed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "audit.h"

static char dir[64];
static int log_sock = -1;
static struct audit a;
static struct origin where = {.file = "/etc/privman.d/app", .line = 3, .column = 9};

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pmtest.XXXXXX");
	cr_assert(mkdtemp(dir));
	audit_init(&a, "app");
	snprintf(a.log_path, sizeof(a.log_path), "%s/log", dir);
	log_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", a.log_path);
	cr_assert(bind(log_sock, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	char p[128];
	snprintf(p, sizeof(p), "%s/audit.json", dir);
	a.fd = audit_open_file(p);
	cr_assert(a.fd >= 0);
}

static void teardown(void)
{
	close(log_sock);
	if (a.fd >= 0)
		close(a.fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

/* The next datagram, or "" when none is waiting. */
static const char *next_line(void)
{
	static char buf[2048];
	ssize_t n = recv(log_sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static const char *json(void)
{
	static char buf[8192];
	char p[128];
	snprintf(p, sizeof(p), "%s/audit.json", dir);
	FILE *f = fopen(p, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static struct policy_decision decision(bool allow)
{
	struct policy_decision d;
	memset(&d, 0, sizeof(d));
	d.allow = allow;
	d.error = allow ? 0 : EACCES;
	d.directive = allow ? "open_ro" : NULL;
	d.rule = allow ? "/srv/*" : NULL;
	d.origin = allow ? &where : NULL;
	snprintf(d.reason, sizeof(d.reason), "%s", allow ? "granted" : "no rule matches");
	return d;
}

TestSuite(audit, .init = setup, .fini = teardown);

Test(audit, allowed_requests_wait_for_a_flush_refusals_do_not)
{
	struct policy_decision yes = decision(true), no = decision(false);
	audit_decision(&a, "open", "/srv/a", 0, 42, &yes, 0);
	cr_assert_str_eq(next_line(), "", "allowed: queued");
	cr_assert_str_eq(json(), "");
	cr_assert(audit_flush_due_ms(&a) >= 0 && audit_flush_due_ms(&a) <= AUDIT_FLUSH_MS);

	audit_decision(&a, "open", "/etc/shadow", 0, 42, &no, 0);
	/* A refusal writes everything queued, in order. */
	const char *l1 = next_line();
	cr_assert(strncmp(l1, "<86>", 4) == 0, "authpriv.info: %s", l1);
	cr_assert(strstr(l1, " app[") && strstr(l1, "]: open /srv/a flags=0x0 pid=42: allow by "
						    "open_ro /srv/* (/etc/privman.d/app:3:9): granted"),
		  "%s", l1);
	const char *l2 = next_line();
	cr_assert(strncmp(l2, "<85>", 4) == 0, "authpriv.notice: %s", l2);
	cr_assert(strstr(l2, "open /etc/shadow flags=0x0 pid=42: deny by default (no rule): "
			     "no rule matches"),
		  "%s", l2);
	cr_assert_str_eq(next_line(), "");
	cr_assert_eq(audit_flush_due_ms(&a), -1);

	const char *j = json();
	const char *first = strstr(j, "\"object\":\"/srv/a\"");
	const char *second = strstr(j, "\"object\":\"/etc/shadow\"");
	cr_assert(first && second && first < second, "%s", j);
	cr_assert(strstr(j, "\"origin\":\"/etc/privman.d/app:3:9\""), "%s", j);
	/* Each line carries the errno the program saw: none, then EACCES. */
	cr_assert(strstr(first, "\"errno\":0}") && strstr(second, "\"errno\":13}"), "%s", j);
}

Test(audit, a_full_queue_is_written_without_waiting)
{
	struct policy_decision yes = decision(true);
	for (int i = 0; i < AUDIT_BATCH + 1; i++)
		audit_decision(&a, "open", "/srv/a", 0, 1, &yes, 0);
	int lines = 0;
	while (next_line()[0])
		lines++;
	cr_assert_eq(lines, AUDIT_BATCH);
	audit_flush(&a);
	cr_assert(next_line()[0]);
}

Test(audit, failures_after_an_allow_are_recorded)
{
	struct policy_decision yes = decision(true);
	audit_decision(&a, "open", "/srv/none", 0, 1, &yes, ENOENT);
	audit_flush(&a);
	cr_assert(strstr(next_line(), "granted; failed: No such file or directory"));
	cr_assert(strstr(json(), "\"errno\":2}"));
}

Test(audit, json_escapes_every_byte_that_needs_it)
{
	char out[128];
	cr_assert_str_eq(audit_json_escape("a\"b\\c\n\x01\xc3\xa9", out, sizeof(out)),
			 "a\\\"b\\\\c\\u000a\\u0001\\u00c3\\u00a9");
	cr_assert_str_eq(audit_json_escape(NULL, out, sizeof(out)), "");
	char small[8];
	cr_assert_str_eq(audit_json_escape("\"\"\"\"\"", small, sizeof(small)), "\\\"\\\"\\\"");
}

Test(audit, no_syslog_daemon_costs_one_attempt_a_second)
{
	close(log_sock);
	unlink(a.log_path);
	log_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct policy_decision no = decision(false);
	audit_decision(&a, "open", "/x", 0, 1, &no, 0);
	cr_assert_eq(a.log_sock, -1);
	long long retry = a.log_retry_ms;
	audit_decision(&a, "open", "/y", 0, 1, &no, 0);
	cr_assert_eq(a.log_retry_ms, retry, "no second connect within the second");
	cr_assert(strstr(json(), "\"object\":\"/y\""), "the file still gets every line");
}
