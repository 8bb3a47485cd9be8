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

#include "monitor/audit.h"

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
	static char buf[1 << 17];
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

/* --- program-chosen bytes --------------------------------------------------------- */

/* One JSON string at *p (no raw control or non-ASCII byte, known escapes). */
static bool json_string(const char **p)
{
	const char *s = *p;
	if (*s++ != '"')
		return false;
	while (*s && *s != '"') {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c == '\\') {
			s++;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdef", s[i]) || !s[i])
						return false;
				s += 4;
			} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
				return false;
			}
		}
		s++;
	}
	if (*s != '"')
		return false;
	*p = s + 1;
	return true;
}

/* One line of the JSON file: a flat object of strings and numbers, then
 * the newline. Returns the next line, or NULL when malformed. */
static const char *json_line(const char *s)
{
	if (*s++ != '{')
		return NULL;
	for (bool first = true; *s != '}'; first = false) {
		if (!first && *s++ != ',')
			return NULL;
		if (!json_string(&s) || *s++ != ':')
			return NULL;
		if (*s == '"') {
			if (!json_string(&s))
				return NULL;
		} else {
			size_t n = strspn(s, "-+.0123456789eE");
			if (!n)
				return NULL;
			s += n;
		}
	}
	return s[1] == '\n' ? s + 2 : NULL;
}

static int json_lines_well_formed(const char *text)
{
	int lines = 0;
	for (const char *s = text; *s; lines++) {
		s = json_line(s);
		if (!s)
			return -1;
	}
	return lines;
}

/* A syslog datagram: no byte below 0x20, no DEL, valid UTF-8. */
static bool one_clean_line(const char *l)
{
	for (const unsigned char *p = (const unsigned char *)l; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p >= 0x80) {
			size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
			if (!n)
				return false;
			for (size_t i = 1; i < n; i++)
				if ((p[i] & 0xc0) != 0x80)
					return false;
			p += n - 1;
		}
	}
	return true;
}

static const char *const nasty[] = {
	"/srv/a\nb Dec  1 00:00:00 host app[1]: open /etc/shadow flags=0x0 pid=1: allow by open_ro",
	"/srv/a\rb",
	"/srv/\033[2K\033[1Gforged",
	"/srv/quo\"te",
	"/srv/back\\slash",
	"/srv/bad\xff\xfe utf8 \xc3",
	"/srv/with space",
	"/srv/caf\xc3\xa9",
	"/srv/rlo\xe2\x80\xae",
	"/srv/c1\xc2\x9b" "31m",
	"/srv/nul\x01\x7f",
	"",
};

/* What each one becomes in a syslog line. */
static const char *const nasty_syslog[] = {
	"\"/srv/a\\nb Dec  1 00:00:00 host app[1]: open /etc/shadow flags=0x0 pid=1: allow by "
	"open_ro\"",
	"\"/srv/a\\rb\"",
	"\"/srv/\\x1b[2K\\x1b[1Gforged\"",
	"\"/srv/quo\\\"te\"",
	"\"/srv/back\\\\slash\"",
	"\"/srv/bad\\xff\\xfe utf8 \\xc3\"",
	"\"/srv/with space\"",
	"\"/srv/caf\xc3\xa9\"",
	"\"/srv/rlo\\xe2\\x80\\xae\"",
	"\"/srv/c1\\xc2\\x9b31m\"",
	"\"/srv/nul\\x01\\x7f\"",
	"\"\"",
};

Test(audit, program_chosen_bytes_make_one_well_formed_line_per_event_in_each_sink)
{
	size_t count = sizeof(nasty) / sizeof(nasty[0]);
	struct policy_decision no = decision(false);
	for (size_t i = 0; i < count; i++) {
		/* The policy's reason names the path too. */
		snprintf(no.reason, sizeof(no.reason), "no rule matches %s", nasty[i]);
		audit_decision(&a, "open", nasty[i], 0, 42, &no, 0);
		const char *l = next_line();
		cr_assert(l[0], "event %zu written", i);
		cr_assert(one_clean_line(l), "event %zu: %s", i, l);
		char want[512];
		snprintf(want, sizeof(want), "]: open %s flags=0x0 pid=42: deny", nasty_syslog[i]);
		cr_assert(strstr(l, want), "event %zu: expected %s in\n%s", i, want, l);
		cr_assert_str_eq(next_line(), "", "one datagram per event");
	}
	/* A long path of newlines: cut, never in the middle of an escape. */
	char longpath[4096];
	memset(longpath, '\n', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	audit_decision(&a, "open", longpath, 0, 42, &no, 0);
	const char *l = next_line();
	cr_assert(one_clean_line(l) && strstr(l, "\\n\\n\\n"), "%s", l);
	cr_assert_str_eq(next_line(), "");

	audit_event(&a, LOG_NOTICE, "pam: %s passed", "user\nDec  1 forged: line");
	l = next_line();
	cr_assert(one_clean_line(l) && strstr(l, "pam: user\\nDec  1 forged: line passed"), "%s", l);

	const char *j = json();
	cr_assert_eq(json_lines_well_formed(j), (int)count + 2, "%s", j);
	/* Each byte comes back from the JSON: \n as \u000a, 0xff as \u00ff. */
	cr_assert(strstr(j, "\"object\":\"/srv/a\\u000ab Dec"), "%s", j);
	cr_assert(strstr(j, "\"object\":\"/srv/bad\\u00ff\\u00fe utf8 \\u00c3\""), "%s", j);
	cr_assert(strstr(j, "\"object\":\"/srv/quo\\\"te\""), "%s", j);
}

Test(audit, the_program_name_cannot_break_the_syslog_tag)
{
	audit_init(&a, "app\n<13>Dec  1 00:00:00 host su[1]: ok");
	snprintf(a.log_path, sizeof(a.log_path), "%s/log", dir);
	struct policy_decision no = decision(false);
	audit_decision(&a, "open", "/x", 0, 1, &no, 0);
	const char *l = next_line();
	cr_assert(one_clean_line(l), "%s", l);
	cr_assert(strstr(l, " app\\x0a<13>Dec\\x20") && !strstr(l, "su[1]"), "%s", l);
}

Test(audit, text_escape_quotes_only_what_needs_it)
{
	char out[64];
	cr_assert_str_eq(audit_text_escape("/etc/hostname", out, sizeof(out)), "/etc/hostname");
	cr_assert_str_eq(audit_text_escape("a b", out, sizeof(out)), "\"a b\"");
	cr_assert_str_eq(audit_text_escape(NULL, out, sizeof(out)), "\"\"");
	char small[8];
	cr_assert_str_eq(audit_text_escape("\n\n\n\n", small, sizeof(small)), "\"\\n\\n\"",
			 "never half an escape");
	cr_assert_str_eq(audit_text_escape("abcdefghij", small, sizeof(small)), "abcdefg");
}

Test(audit, identical_events_beyond_the_burst_are_counted_then_summarized)
{
	struct policy_decision no = decision(false);
	int lines = 0;
	for (int i = 0; i < AUDIT_RATE_BURST + 500; i++) {
		audit_decision(&a, "open", "/etc/shadow", 0, 7, &no, 0);
		while (next_line()[0]) /* as a syslog daemon would */
			lines++;
	}
	/* Another process, or another object, is another kind of event. */
	audit_decision(&a, "open", "/etc/shadow", 0, 8, &no, 0);
	audit_decision(&a, "open", "/etc/gshadow", 0, 7, &no, 0);
	while (next_line()[0])
		lines++;
	cr_assert_eq(lines, AUDIT_RATE_BURST + 2);
	audit_finish(&a);
	const char *l = next_line();
	cr_assert(strstr(l, "500 similar events from pid 7 suppressed") &&
			  strstr(l, "open /etc/shadow flags=0x0 pid=7: deny"),
		  "%s", l);
	cr_assert_str_eq(next_line(), "");
	const char *j = json();
	cr_assert(strstr(j, "\"op\":\"suppressed\",\"pid\":7,\"count\":500,"), "%s", j);
	cr_assert_eq(json_lines_well_formed(j), AUDIT_RATE_BURST + 3);
}

/* The monitor's loop sleeps until audit_flush_due_ms: with suppressed
 * events that is the end of their second, whatever other kinds of event
 * come later; once the summaries are written, nothing is due. */
Test(audit, a_summary_is_due_when_its_second_is_over)
{
	struct policy_decision no = decision(false);
	cr_assert_eq(audit_flush_due_ms(&a), -1);
	for (int i = 0; i < AUDIT_RATE_BURST + 3; i++) {
		audit_decision(&a, "open", "/etc/shadow", 0, 7, &no, 0);
		while (next_line()[0]) /* as a syslog daemon would */
			;
	}
	int due = audit_flush_due_ms(&a);
	cr_assert(due > 0 && due <= AUDIT_RATE_WINDOW_MS, "due in %d ms", due);
	usleep(20000);
	for (int i = 0; i < AUDIT_RATE_BURST + 3; i++) {
		audit_decision(&a, "open", "/etc/gshadow", 0, 7, &no, 0);
		while (next_line()[0])
			;
	}
	int later = audit_flush_due_ms(&a);
	cr_assert(later <= due && later > 0, "due in %d ms, then in %d ms", due, later);
	audit_flush(&a); /* nothing is over yet: the summaries stay due */
	cr_assert(audit_flush_due_ms(&a) > 0 && audit_flush_due_ms(&a) <= later);
	audit_finish(&a);
	cr_assert_eq(audit_flush_due_ms(&a), -1);
	const char *j = json();
	cr_assert(strstr(j, "\"count\":3,\"sample\":\"open /etc/shadow"), "%s", j);
	cr_assert(strstr(j, "\"count\":3,\"sample\":\"open /etc/gshadow"), "%s", j);
}

/* Kinds of event in turn: each is counted as its own kind, whether its key
 * comes from the last event's or is computed again; two events whose
 * fields differ only in one byte, or only in where one field ends and the
 * next begins, are two kinds. */
Test(audit, events_in_turn_are_each_counted_as_their_own_kind)
{
	struct policy_decision no = decision(false);
	for (int i = 0; i < AUDIT_RATE_BURST + 7; i++) {
		audit_decision(&a, "open", "/etc/shadow", 0, 7, &no, 0);
		audit_decision(&a, "open", "/etc/shadow", 0, 7, &no, 0);
		audit_decision(&a, "open", "/etc/shadoX", 0, 7, &no, 0);
		audit_refusal(&a, "open", "/a", 7, EACCES, "b/c");
		audit_refusal(&a, "open", "/a/b", 7, EACCES, "c");
		while (next_line()[0])
			;
	}
	audit_finish(&a);
	const char *j = json();
	cr_assert(strstr(j, "\"count\":64,\"sample\":\"open /etc/shadow "), "%s", j);
	cr_assert(strstr(j, "\"count\":7,\"sample\":\"open /etc/shadoX "), "%s", j);
	cr_assert(strstr(j, "\"count\":7,\"sample\":\"open /a flags"), "%s", j);
	cr_assert(strstr(j, "\"count\":7,\"sample\":\"open /a/b flags"), "%s", j);
}

/* The monitor's loop reads the clock once per round (audit_round): every
 * event of the round is counted at that time. An event of a round a second
 * later starts the next window, after the summary of the one before;
 * outside a round, each event reads the clock again. */
Test(audit, events_of_a_round_are_counted_at_its_time)
{
	struct policy_decision no = decision(false);
	int lines = 0;
	audit_round(&a);
	long long start = a.round_ms;
	cr_assert(start > 0);
	for (int i = 0; i < AUDIT_RATE_BURST + 4; i++) {
		audit_decision(&a, "open", "/etc/shadow", 0, 7, &no, 0);
		while (next_line()[0])
			lines++;
	}
	cr_assert_eq(lines, AUDIT_RATE_BURST);
	a.round_ms = start + AUDIT_RATE_WINDOW_MS; /* the next round, a second on */
	audit_decision(&a, "open", "/etc/shadow", 0, 7, &no, 0);
	const char *l = next_line();
	cr_assert(strstr(l, "4 similar events from pid 7 suppressed"), "%s", l);
	l = next_line();
	cr_assert(strstr(l, "open /etc/shadow flags=0x0 pid=7: deny"), "%s", l);
	audit_round_end(&a);
	cr_assert_eq(a.round_ms, 0);
	const char *j = json();
	cr_assert(strstr(j, "\"op\":\"suppressed\",\"pid\":7,\"count\":4,"), "%s", j);
	cr_assert_eq(json_lines_well_formed(j), AUDIT_RATE_BURST + 2);
}
