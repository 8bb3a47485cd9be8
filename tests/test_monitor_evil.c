/* A compromised program (tests/helpers/monitor_evil) speaks the wire by
 * hand: malformed, random, lying and flooding messages. Nothing the policy
 * refuses is ever granted, the monitor never crashes, and a malformed
 * message ends the session. As root. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/monitor.h"
#include "scope/resolve_scope.h"
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

#define LIES 18

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
			 "status 0 fd\n" /* a channel: the monitor makes it */
			 "status -97\n"  /* bind: the program's end of its channel */
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

/* The whole audit file. */
static const char *audit_text(void)
{
	static char audit[1 << 20];
	char p[256];
	snprintf(p, sizeof(p), "%s/audit.json", dir);
	FILE *f = fopen(p, "re");
	size_t n = f ? fread(audit, 1, sizeof(audit) - 1, f) : 0;
	audit[n] = '\0';
	if (f)
		fclose(f);
	return audit;
}

static int count(const char *text, const char *what)
{
	int n = 0;
	for (const char *s = text; (s = strstr(s, what)); s++)
		n++;
	return n;
}

/* Both ends of one socketpair sent as two channels, with an EXIT request
 * queued on one: a monitor that took them answered itself for ever (100%
 * CPU, a hundred thousand audit lines a second). A channel is now a
 * socketpair the monitor makes; a socket from the program ends the
 * session, the monitor serves the program's other processes, and the
 * audit holds a handful of lines. */
Test(evil, both_ends_of_one_pair_as_channels_are_refused)
{
	char policy[512];
	snprintf(policy, sizeof(policy), "open_ro { %s/granted }\nfork true\n", dir);
	free(pmtest_write_file(dir, "t", policy));
	int rc = evil("selfpair %s/granted", dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "ENDED\nsend EPIPE\nchild: ALIVE\n", "%s", out);
	const char *audit = audit_text();
	cr_assert_eq(count(audit, "\"op\":\"protocol\""), 1, "%s", audit);
	cr_assert(count(audit, "\n") < 20, "a bounded audit: %d lines", count(audit, "\n"));
}

/* A flood of identical refusals: beyond AUDIT_RATE_BURST a second they are
 * counted, not written, and the counts are written: nothing is lost. */
Test(evil, a_flood_of_identical_refusals_is_summarized_in_the_audit)
{
	int rc = evil("flood 20000 %s/secret", dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "flood 20000 0 0\n");
	const char *audit = audit_text();
	int lines = count(audit, "\"decision\":\"deny\"");
	long suppressed = 0;
	for (const char *s = audit; (s = strstr(s, "\"op\":\"suppressed\"")); s++) {
		const char *c = strstr(s, "\"count\":");
		cr_assert(c);
		suppressed += atol(c + 8);
		cr_assert(strstr(s, "secret") && strstr(s, "secret") < strchr(s, '\n'),
			  "the summary shows what was suppressed");
	}
	cr_assert(lines < 1000, "%d refusals written one by one", lines);
	cr_assert_eq(lines + suppressed, 20000, "%d written + %ld counted", lines, suppressed);
}

/* Paths with newlines, escapes, quotes and bytes that are not UTF-8: each
 * request is one well-formed JSON line (no raw control byte, no byte above
 * 0x7e, an object from start to end). */
Test(evil, program_chosen_paths_cannot_forge_audit_lines)
{
	int rc = evil("nasty %s", dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "refused 18\n");
	const char *audit = audit_text();
	int lines = 0, requests = 0;
	for (const char *s = audit; *s; lines++) {
		const char *end = strchr(s, '\n');
		cr_assert(end, "every line ends");
		cr_assert(strncmp(s, "{\"time\":", 8) == 0 && end[-1] == '}', "line %d: %.*s", lines,
			  (int)(end - s), s);
		for (const char *p = s; p < end; p++)
			cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
				  "line %d: byte 0x%02x", lines, (unsigned char)*p);
		if (strncmp(s, "{\"time\":", 8) == 0 &&
		    (memmem(s, (size_t)(end - s), "\"op\":\"open\"", 11) ||
		     memmem(s, (size_t)(end - s), "\"op\":\"unlink\"", 13)))
			requests++;
		s = end + 1;
	}
	cr_assert_eq(requests, 18, "%s", audit);
	cr_assert_eq(count(audit, "\"decision\":\"allow\""), 0, "%s", audit);
}

static struct policy *load(const char *text)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("test.conf", text, strlen(text), &d);
	cr_assert(p && policy_validate(p, &d) == 0);
	diag_free(&d);
	return p;
}

/* A bind request whose socket is one the monitor already holds (here the
 * monitor is this process, and the socket is one of its own) is refused,
 * even where the policy grants the address. */
Test(evil_fds, bind_of_a_socket_the_monitor_holds_is_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	static struct monitor m;
	int sv[2];
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	sigset_t set;
	sigemptyset(&set);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	cr_assert(sfd >= 0);
	cr_assert(monitor_init(&m, "test_monitor_evil", load("bind { 127.0.0.1:785 }\n"), NULL, -1,
			       getpid(), sv[0], sfd) == 0);
	snprintf(m.audit.log_path, sizeof(m.audit.log_path), "/nonexistent/log");

	int own = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(own >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(785)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct wire_writer w;
	wire_writer_init(&w, m.buf, sizeof(m.buf), WIRE_OP_BIND, 1);
	wire_put_bytes(&w, &sin, sizeof(sin));
	size_t size = wire_writer_finish(&w);
	int fds[1] = {dup(own)};
	cr_assert_eq(monitor_handle_message(&m, &m.channels[0], size, fds, 1), 0);
	unsigned char reply[256];
	int in[1], nin = 0;
	ssize_t n = wire_recv(sv[1], reply, sizeof(reply), in, &nin, 0);
	struct wire_header h;
	struct wire_reader r;
	cr_assert(n > 0 && wire_open_message(reply, (size_t)n, &h, &r) == 0);
	cr_assert_eq(wire_get_int(&r), -EBADF, "the monitor's own socket is never bound");
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	cr_assert(getsockname(own, (struct sockaddr *)&bound, &len) == 0);
	cr_assert_eq(bound.sin_port, 0, "still unbound");

	/* A socket only the program holds (here: only the request) is bound. */
	wire_writer_init(&w, m.buf, sizeof(m.buf), WIRE_OP_BIND, 2);
	wire_put_bytes(&w, &sin, sizeof(sin));
	size = wire_writer_finish(&w);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(monitor_handle_message(&m, &m.channels[0], size, fds, 1), 0);
	n = wire_recv(sv[1], reply, sizeof(reply), in, &nin, 0);
	cr_assert(n > 0 && wire_open_message(reply, (size_t)n, &h, &r) == 0);
	cr_assert_eq(wire_get_int(&r), 0);
}

/* An open request on `sock` for `path`, with id `id`. */
static void queue_open(int sock, const char *path, uint32_t id)
{
	unsigned char msg[512];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, id);
	wire_put_string(&w, path);
	wire_put_int(&w, O_RDONLY | O_CLOEXEC);
	wire_put_int(&w, 0);
	size_t size = wire_writer_finish(&w);
	cr_assert_eq(send(sock, msg, size, MSG_NOSIGNAL | MSG_DONTWAIT), (ssize_t)size);
}

/* A channel with its queue full and another with one request, both ready
 * when the loop starts, the full one first: the loop reads the full one
 * ahead (no epoll_wait between its messages), but only so far: the other
 * channel's request is served after at most 8 of them, not after all (the
 * audit records the order in which requests were served). */
Test(evil_fds, a_busy_channel_does_not_keep_another_waiting)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *tmp = pmtest_tmpdir();
	char flood[256], probe[256], audit[256];
	snprintf(flood, sizeof(flood), "%s/flood", tmp);
	snprintf(probe, sizeof(probe), "%s/probe", tmp);
	snprintf(audit, sizeof(audit), "%s/audit.json", tmp);
	free(pmtest_write_file(tmp, "flood", "flood\n"));
	free(pmtest_write_file(tmp, "probe", "probe\n"));
	char policy[600];
	snprintf(policy, sizeof(policy), "open_ro { %s %s }\n", flood, probe);

	static struct monitor m;
	int a[2], b[2];
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, a) == 0);
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, b) == 0);
	sigset_t set;
	sigemptyset(&set);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	int afd = audit_open_file(audit);
	cr_assert(sfd >= 0 && afd >= 0);
	cr_assert(monitor_init(&m, "test_monitor_evil", load(policy), NULL, afd, getpid(), a[0],
			       sfd) == 0);
	snprintf(m.audit.log_path, sizeof(m.audit.log_path), "/nonexistent/log");
	cr_assert_not_null(monitor_channel_add(&m, b[0], getpid()));

	/* The busy channel first, as full as the kernel lets it be. */
	uint32_t queued = 0;
	for (;;) {
		unsigned char msg[512];
		struct wire_writer w;
		wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, queued + 1);
		wire_put_string(&w, flood);
		wire_put_int(&w, O_RDONLY | O_CLOEXEC);
		wire_put_int(&w, 0);
		size_t size = wire_writer_finish(&w);
		if (send(a[1], msg, size, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)size)
			break;
		queued++;
	}
	cr_assert(queued > 8, "only %u requests queued", (unsigned)queued);
	queue_open(b[1], probe, 1);

	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		monitor_loop(&m);
	close(a[0]);
	close(b[0]);
	unsigned char reply[256];
	int fds[WIRE_MAX_FDS], n = 0;
	cr_assert(wire_recv(b[1], reply, sizeof(reply), fds, &n, 0) > 0 && n == 1);
	close(fds[0]);
	for (uint32_t i = 0; i < queued; i++) {
		cr_assert(wire_recv(a[1], reply, sizeof(reply), fds, &n, 0) > 0 && n == 1);
		close(fds[0]);
	}
	/* The loop writes its queued records when it has nothing to do. */
	char text[1 << 16] = "";
	for (int tries = 0; tries < 100 && !strstr(text, "probe"); tries++) {
		usleep(20000);
		FILE *f = fopen(audit, "re");
		size_t got = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
		text[got] = '\0';
		if (f)
			fclose(f);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	const char *at = strstr(text, "/probe\",\"flags\"");
	cr_assert_not_null(at, "%s", text);
	int before = 0;
	for (const char *s = text; (s = strstr(s, "/flood\",\"flags\"")) && s < at; s++)
		before++;
	/* BATCH in monitor.c: read ahead, but no further. */
	cr_assert(before <= 8, "%d requests of the busy channel (of %u) were served first", before,
		  (unsigned)queued);
	cr_assert_eq(before, 8, "the busy channel was read ahead: %d in a row", before);
	pmtest_rmtree(tmp);
	free(tmp);
}
