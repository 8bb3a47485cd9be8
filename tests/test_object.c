/* Open, unlink and bind are audited exactly once per request, whichever way
 * they end: a grant, a denial, a refusal before any decision (bad flags, a
 * working directory outside the monitor's view, not a socket...). Each
 * request goes through the socket front end (monitor_handle_message) of a
 * monitor that runs in this process, and the records it adds to the JSON
 * audit are counted. As root (files of root, privileged ports). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/monitor.h"
#include "monitor/object.h"
#include "testutil.h"
#include "wire/wire.h"

static char *dir;
static char audit_path[512];
static struct monitor m;
static struct monitor_channel *chan;
static int peer = -1;
static size_t seen; /* bytes of the audit file already counted */

static void policy_text(char *buf, size_t cap)
{
	snprintf(buf, cap,
		 "open_ro { \"%s/ro\" \"%s/pub/*\" }\n"
		 "open_rw { \"%s/rw/*\" }\n"
		 "unlink { \"%s/rw/*\" }\n"
		 "bind { 127.0.0.1:704 }\n",
		 dir, dir, dir, dir);
}

/* A channel for process `pid` (the kernel's word, in a real monitor). */
static void channel_for(pid_t pid)
{
	int sv[2];
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	chan = monitor_channel_add(&m, sv[0], pid);
	cr_assert(chan, "channel: %s", strerror(errno));
	if (peer >= 0)
		close(peer);
	peer = sv[1];
}

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	signal(SIGPIPE, SIG_IGN);
	dir = pmtest_tmpdir();
	free(pmtest_write_file(dir, "ro", "ro\n"));
	free(pmtest_write_file(dir, "secret", "secret\n"));
	pmtest_sh("mkdir %s/pub %s/rw %s/gone && echo x > %s/rw/old", dir, dir, dir, dir);

	char text[4096];
	policy_text(text, sizeof(text));
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("test_object.conf", text, strlen(text), &d);
	cr_assert(p && policy_validate(p, &d) == 0, "policy: %s", d.count ? d.entries[0].text : "");
	diag_free(&d);

	memset(&m, 0, sizeof(m));
	m.policy = p;
	audit_init(&m.audit, "test_object");
	/* Records go to the file only, never to this machine's syslog. */
	snprintf(m.audit.log_path, sizeof(m.audit.log_path), "%s/no-syslog", dir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.json", dir);
	m.audit.fd = audit_open_file(audit_path);
	m.channels = calloc(MONITOR_MAX_CHANNELS, sizeof(*m.channels));
	m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	m.signal_fd = -1;
	cr_assert(m.audit.fd >= 0 && m.channels && m.epoll_fd >= 0);
	channel_for(getpid());
	seen = 0;
}

static void teardown(void)
{
	if (chdir("/") != 0)
		cr_log_warn("chdir /: %s", strerror(errno));
	pmtest_rmtree(dir);
	free(dir);
}

TestSuite(object, .init = setup, .fini = teardown, .timeout = 30);

/* Serve one message with `fd` (or -1), read the status of the reply, and
 * count the request records it left in the audit; the last one is copied
 * into `last`. */
static int serve(const void *msg, size_t size, int fd, int *records, char *last, size_t cap)
{
	memcpy(m.buf, msg, size);
	int fds[1] = {fd};
	int rc = monitor_handle_message(&m, chan, size, fds, fd >= 0 ? 1 : 0);
	cr_assert_eq(rc, 0, "the request was not answered");

	unsigned char reply[WIRE_MAX_MESSAGE + 1];
	int rfds[WIRE_MAX_FDS], nr = 0;
	ssize_t n = wire_recv(peer, reply, sizeof(reply), rfds, &nr, MSG_DONTWAIT);
	cr_assert(n > 0, "no reply");
	for (int i = 0; i < nr; i++)
		close(rfds[i]);
	struct wire_header h;
	struct wire_reader r;
	cr_assert(wire_open_message(reply, (size_t)n, &h, &r) == 0);
	int status = wire_get_int(&r);

	audit_flush(&m.audit);
	char buf[1 << 16];
	FILE *f = fopen(audit_path, "re");
	cr_assert(f);
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	*records = 0;
	last[0] = '\0';
	for (char *line = buf + seen; *line;) {
		char *end = strchr(line, '\n');
		cr_assert(end, "a record without its newline");
		*end = '\0';
		if (!strstr(line, "\"op\":\"event\"")) {
			(*records)++;
			snprintf(last, cap, "%s", line);
		}
		line = end + 1;
	}
	seen = len;
	return status;
}

/* The request gets `status`, and exactly one record, which holds `want`. */
static void once(const void *msg, size_t size, int fd, int status, const char *want)
{
	int records;
	char last[8192];
	int got = serve(msg, size, fd, &records, last, sizeof(last));
	cr_expect_eq(got, status, "status %d, wanted %d (%s)", got, status, want);
	cr_expect_eq(records, 1, "%d records for one request (%s):\n%s", records, want, last);
	cr_expect(strstr(last, want), "the record lacks %s:\n%s", want, last);
}

static void open_once(const char *path, int flags, int status, const char *want)
{
	unsigned char msg[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, 7);
	wire_put_string(&w, path);
	wire_put_int(&w, flags);
	wire_put_int(&w, 0644);
	size_t size = wire_writer_finish(&w);
	cr_assert(size);
	once(msg, size, -1, status, want);
}

static void unlink_once(const char *path, int status, const char *want)
{
	unsigned char msg[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_UNLINK, 7);
	wire_put_string(&w, path);
	size_t size = wire_writer_finish(&w);
	cr_assert(size);
	once(msg, size, -1, status, want);
}

/* Bind `fd` (given away: the front end closes it) to 127.0.0.1:port, with
 * an address of `len` bytes. */
static void bind_once(int fd, int port, size_t len, int status, const char *want)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned char msg[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_BIND, 7);
	wire_put_bytes(&w, &sin, len);
	size_t size = wire_writer_finish(&w);
	cr_assert(size);
	once(msg, size, fd, status, want);
}

static const char *at(const char *name)
{
	static char p[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

Test(object, every_open_is_audited_once)
{
	open_once(at("ro"), O_RDONLY, 0, "\"decision\":\"allow\"");
	open_once(at("ro"), O_WRONLY, -EACCES, "\"decision\":\"deny\"");
	open_once(at("secret"), O_RDONLY, -EACCES, "no open_ro or open_rw rule");
	open_once(at("ro"), O_RDONLY | O_PATH, -EINVAL, "open flags not allowed");
	open_once(at("pub/none"), O_RDONLY, -ENOENT, "\"errno\":2}");
	open_once(at("none/x"), O_RDONLY, -EACCES, "\"decision\":\"deny\"");
	open_once(at("pub/../secret"), O_RDONLY, -EACCES, "\"decision\":\"deny\"");
	open_once(at("rw/new"), O_RDWR | O_CREAT, 0, "\"decision\":\"allow\"");
	open_once(at("rw/old"), O_RDWR | O_CREAT | O_EXCL, -EEXIST, "\"errno\":17}");
	open_once(at("pub/new"), O_WRONLY | O_CREAT, -EACCES, "\"decision\":\"deny\"");
	open_once(at("pub"), O_TMPFILE | O_RDWR, -EINVAL, "O_TMPFILE needs open_rw");
}

Test(object, every_unlink_is_audited_once)
{
	unlink_once(at("rw/old"), 0, "\"decision\":\"allow\"");
	unlink_once(at("rw/old"), -ENOENT, "\"errno\":2}");
	unlink_once(at("ro"), -EACCES, "no unlink rule");
	unlink_once(at("rw/"), -EACCES, "\"decision\":\"deny\"");
	unlink_once(at("none/x"), -EACCES, "\"decision\":\"deny\"");
}

/* A relative path from a working directory the monitor cannot name (here a
 * deleted one) is refused with EXDEV before any decision: one record. */
Test(object, a_relative_path_from_outside_the_view_is_audited_once)
{
	cr_assert(chdir(at("gone")) == 0);
	cr_assert(rmdir(at("gone")) == 0);
	open_once("ro", O_RDONLY, -EXDEV, "not in the monitor's view of the file system");
	open_once("x", O_RDWR | O_CREAT, -EXDEV, "not in the monitor's view of the file system");
	unlink_once("x", -EXDEV, "not in the monitor's view of the file system");
	/* The flags are checked first, as before. */
	open_once("ro", O_RDONLY | O_PATH, -EINVAL, "open flags not allowed");
}

/* A requester that is gone: its umask and working directory cannot be read.
 * Each of these refusals has its record too. */
Test(object, a_requester_that_is_gone_is_audited_once)
{
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0)
		_exit(0);
	cr_assert(waitpid(child, NULL, 0) == child);
	channel_for(child);
	open_once(at("rw/new"), O_RDWR | O_CREAT, -ENOENT, "the umask of the process could not");
	open_once("ro", O_RDONLY, -ENOENT, "the working directory could not be resolved");
	unlink_once("x", -ENOENT, "the working directory could not be resolved");
	open_once(at("ro"), O_RDONLY, 0, "\"decision\":\"allow\"");
}

Test(object, every_bind_is_audited_once)
{
	int fd = open(at("ro"), O_RDONLY | O_CLOEXEC);
	bind_once(fd, 704, sizeof(struct sockaddr_in), -ENOTSOCK, "not a socket");

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int held = dup(fd); /* the monitor holds it too */
	bind_once(fd, 704, sizeof(struct sockaddr_in), -EBADF, "a socket of the monitor's own");
	close(held);

	bind_once(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 704, sizeof(struct sockaddr_in),
		  -EAFNOSUPPORT, "only IPv4 and IPv6 sockets");
	bind_once(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), 704,
		  sizeof(struct sockaddr_in), -EAFNOSUPPORT, "only IPv4 and IPv6 sockets");
	bind_once(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 704, 8, -EINVAL,
		  "an address shorter than its family's");
	bind_once(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 705, sizeof(struct sockaddr_in),
		  -EACCES, "no bind rule matches 127.0.0.1:705");
	bind_once(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 704, sizeof(struct sockaddr_in),
		  0, "\"decision\":\"allow\"");
}

/* The handler itself never audits: only object_audit() writes, once. */
Test(object, the_handler_never_audits)
{
	struct object_request req;
	struct object_result res;
	memset(&req, 0, sizeof(req));
	req.op = OBJECT_OPEN;
	req.pid = getpid();
	req.path = at("secret");
	req.base = AT_FDCWD;
	req.flags = O_RDONLY;
	req.sock = -1;
	object_handle(&m, &req, &res);
	cr_expect_eq(res.error, EACCES);
	cr_expect(res.decided && !res.decision.allow);
	cr_expect_eq(res.fd, -1);
	audit_flush(&m.audit);
	struct stat st;
	cr_assert(stat(audit_path, &st) == 0);
	cr_expect_eq(st.st_size, 0, "object_handle wrote to the audit");
	object_audit(&m, &req, &res);
	audit_flush(&m.audit);
	cr_assert(stat(audit_path, &st) == 0);
	cr_expect_gt(st.st_size, 0, "object_audit wrote nothing");
}

/* A front end that gives a relative path no base never gets it resolved
 * from the monitor's own working directory. */
Test(object, a_relative_path_without_a_base_is_refused)
{
	struct object_request req;
	struct object_result res;
	cr_assert(chdir(dir) == 0); /* where "ro" is granted */
	memset(&req, 0, sizeof(req));
	req.op = OBJECT_OPEN;
	req.pid = getpid();
	req.path = "ro";
	req.base = AT_FDCWD;
	req.flags = O_RDONLY;
	req.sock = -1;
	object_handle(&m, &req, &res);
	cr_expect_eq(res.error, EXDEV);
	cr_expect(!res.decided);
	cr_expect_eq(res.fd, -1);
	req.op = OBJECT_UNLINK;
	req.path = "rw/old";
	object_handle(&m, &req, &res);
	cr_expect_eq(res.error, EXDEV);
	cr_expect(access("rw/old", F_OK) == 0);
}
