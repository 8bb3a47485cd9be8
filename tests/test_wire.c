/* The wire: encoding, the strict decoder, and fd passing with its checks.
 * No root needed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/wire.h"

static unsigned char msg[WIRE_MAX_MESSAGE + 64];

static size_t open_request(const char *path, int32_t flags, int32_t mode)
{
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, 42);
	wire_put_string(&w, path);
	wire_put_int(&w, flags);
	wire_put_int(&w, mode);
	return wire_writer_finish(&w);
}

static struct wire_request req;

static int decode(size_t size, int nfds, const char **why)
{
	return wire_decode_request(msg, size, nfds, &req, why);
}

Test(wire, open_request_round_trips)
{
	size_t n = open_request("/etc/passwd", O_RDONLY | O_CLOEXEC, 0644);
	cr_assert(n > sizeof(struct wire_header));
	const char *why = NULL;
	cr_assert_eq(decode(n, 0, &why), 0, "%s", why);
	cr_assert_eq(req.op, WIRE_OP_OPEN);
	cr_assert_eq(req.id, 42);
	cr_assert_str_eq(req.path, "/etc/passwd");
	cr_assert_eq(req.flags, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(req.mode, 0644);
}

Test(wire, every_operation_round_trips)
{
	struct wire_writer w;
	const char *why = NULL;

	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_UNLINK, 1);
	wire_put_string(&w, "relative/name");
	cr_assert_eq(decode(wire_writer_finish(&w), 0, &why), 0, "%s", why);
	cr_assert_str_eq(req.path, "relative/name");

	struct sockaddr_storage ss;
	memset(&ss, 7, sizeof(ss));
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_BIND, 2);
	wire_put_bytes(&w, &ss, 16);
	cr_assert_eq(decode(wire_writer_finish(&w), 1, &why), 0, "%s", why);
	cr_assert_eq(req.addrlen, 16);
	cr_assert_eq(memcmp(&req.addr, &ss, 16), 0);

	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_EXIT, 3);
	wire_put_int(&w, -5);
	cr_assert_eq(decode(wire_writer_finish(&w), 0, &why), 0, "%s", why);
	cr_assert_eq(req.status, -5);

	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_CHANNEL, 4);
	cr_assert_eq(decode(wire_writer_finish(&w), 0, &why), 0, "%s", why);
	/* A channel is a socketpair the monitor makes: a socket from the
	 * program is a protocol violation. */
	cr_assert_eq(decode(wire_writer_finish(&w), 1, &why), -1);
	cr_assert_eq(wire_reply_fds(WIRE_OP_CHANNEL, 0), 1);
}

/* Each malformed message is refused with errno EPROTO and a reason. */
static void refused(size_t size, int nfds)
{
	const char *why = NULL;
	errno = 0;
	cr_assert_eq(decode(size, nfds, &why), -1);
	cr_assert_eq(errno, EPROTO);
	cr_assert_not_null(why);
}

static void set_u32(size_t offset, uint32_t v)
{
	memcpy(msg + offset, &v, sizeof(v));
}

Test(wire, short_and_oversized_messages_are_refused)
{
	size_t n = open_request("/a", 0, 0);
	refused(0, 0);
	refused(sizeof(struct wire_header) - 1, 0);
	refused(n - 1, 0);      /* the header says more than came */
	refused(WIRE_MAX_MESSAGE + 1, 0);
}

Test(wire, header_lies_are_refused)
{
	size_t n = open_request("/a", 0, 0);
	set_u32(offsetof(struct wire_header, length), (uint32_t)(n - sizeof(struct wire_header) + 1));
	refused(n, 0);
	n = open_request("/a", 0, 0);
	set_u32(offsetof(struct wire_header, reserved), 1);
	refused(n, 0);
	n = open_request("/a", 0, 0);
	set_u32(offsetof(struct wire_header, op), 99);
	refused(n, 0);
	set_u32(offsetof(struct wire_header, op), 0);
	refused(n, 0);
}

Test(wire, unexpected_fds_are_refused)
{
	size_t n = open_request("/a", 0, 0);
	refused(n, 1);
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_BIND, 2);
	wire_put_bytes(&w, "0123456789abcdef", 16);
	n = wire_writer_finish(&w);
	refused(n, 0);
	refused(n, 2);
}

Test(wire, field_lies_are_refused)
{
	size_t h = sizeof(struct wire_header);
	size_t n = open_request("/abc", 0, 0);
	/* the string field claims more bytes than the message holds */
	set_u32(h + 4, 5000);
	refused(n, 0);
	/* a string with a NUL inside */
	n = open_request("/abc", 0, 0);
	msg[h + 8 + 1] = '\0';
	refused(n, 0);
	/* a field of the wrong type */
	n = open_request("/abc", 0, 0);
	set_u32(h, WIRE_FIELD_BYTES);
	refused(n, 0);
	/* an int of the wrong size */
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_EXIT, 1);
	wire_put_bytes(&w, "12345678", 8);
	n = wire_writer_finish(&w);
	set_u32(h, WIRE_FIELD_INT);
	refused(n, 0);
	/* a field missing */
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, 1);
	wire_put_string(&w, "/abc");
	wire_put_int(&w, 0);
	refused(wire_writer_finish(&w), 0);
	/* a field too many */
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_UNLINK, 1);
	wire_put_string(&w, "/abc");
	wire_put_int(&w, 0);
	refused(wire_writer_finish(&w), 0);
	/* trailing bytes that are no field */
	n = open_request("/abc", 0, 0);
	memset(msg + n, 0, 3);
	set_u32(offsetof(struct wire_header, length), (uint32_t)(n + 3 - h));
	refused(n + 3, 0);
	/* an empty path */
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, 1);
	uint32_t head[2] = {WIRE_FIELD_STRING, 0};
	memcpy(msg + h, head, 8);
	w.len = h + 8;
	wire_put_int(&w, 0);
	wire_put_int(&w, 0);
	refused(wire_writer_finish(&w), 0);
	/* a bind address larger than any sockaddr */
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_BIND, 1);
	static char big[sizeof(struct sockaddr_storage) + 1];
	wire_put_bytes(&w, big, sizeof(big));
	refused(wire_writer_finish(&w), 1);
}

Test(wire, paths_of_path_max_are_refused_by_the_writer_and_the_reader)
{
	static char path[PATH_MAX + 1];
	memset(path, 'a', PATH_MAX);
	path[0] = '/';
	path[PATH_MAX] = '\0';
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_UNLINK, 1);
	wire_put_string(&w, path);
	cr_assert_eq(wire_writer_finish(&w), 0);
	/* Forged by hand: the reader refuses it too. */
	size_t h = sizeof(struct wire_header);
	uint32_t head[2] = {WIRE_FIELD_STRING, PATH_MAX};
	memcpy(msg + h, head, 8);
	memcpy(msg + h + 8, path, PATH_MAX);
	set_u32(offsetof(struct wire_header, length), 8 + PATH_MAX);
	refused(h + 8 + PATH_MAX, 0);
	path[PATH_MAX - 1] = '\0';
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_UNLINK, 1);
	wire_put_string(&w, path);
	const char *why = NULL;
	cr_assert_eq(decode(wire_writer_finish(&w), 0, &why), 0, "%s", why);
}

Test(wire, writer_refuses_what_does_not_fit)
{
	unsigned char small[24];
	struct wire_writer w;
	wire_writer_init(&w, small, sizeof(small), WIRE_OP_EXIT, 1);
	wire_put_int(&w, 1);
	cr_assert_eq(wire_writer_finish(&w), 0); /* 28 bytes needed */
	wire_writer_init(&w, small, sizeof(small), WIRE_OP_UNLINK, 1);
	wire_put_string(&w, "/a/long/path/name");
	cr_assert_eq(wire_writer_finish(&w), 0);
}

/* --- transport ------------------------------------------------------------------------ */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static void pair(int sv[2])
{
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
}

Test(wire, an_fd_travels_and_arrives_close_on_exec)
{
	int sv[2];
	pair(sv);
	int fd = open("/dev/null", O_RDONLY); /* without O_CLOEXEC on purpose */
	size_t n = open_request("/x", 0, 0);
	cr_assert_eq(wire_send(sv[0], msg, n, &fd, 1, 0), 0);
	static unsigned char buf[WIRE_MAX_MESSAGE + 1];
	int fds[WIRE_MAX_FDS], nfds = -1;
	ssize_t got = wire_recv(sv[1], buf, sizeof(buf), fds, &nfds, 0);
	cr_assert_eq(got, (ssize_t)n);
	cr_assert_eq(nfds, 1);
	cr_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

Test(wire, surplus_fds_are_a_protocol_error_and_are_closed)
{
	int sv[2];
	pair(sv);
	int before = count_fds();
	/* Three fds in one message, sent by hand. */
	int fds_out[3] = {0, 1, 2};
	union {
		char b[CMSG_SPACE(sizeof(fds_out))];
		struct cmsghdr align;
	} control;
	size_t n = open_request("/x", 0, 0);
	struct iovec iov = {.iov_base = msg, .iov_len = n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
			    .msg_controllen = sizeof(control.b)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds_out));
	memcpy(CMSG_DATA(c), fds_out, sizeof(fds_out));
	cr_assert_eq(sendmsg(sv[0], &mh, 0), (ssize_t)n);
	static unsigned char buf[WIRE_MAX_MESSAGE + 1];
	int fds[WIRE_MAX_FDS], nfds = -1;
	errno = 0;
	cr_assert_eq(wire_recv(sv[1], buf, sizeof(buf), fds, &nfds, 0), -1);
	cr_assert_eq(errno, EPROTO);
	cr_assert_eq(nfds, 0);
	cr_assert_eq(count_fds(), before, "every received fd was closed");
	close(sv[0]);
	close(sv[1]);
}

Test(wire, a_message_larger_than_the_buffer_is_a_protocol_error)
{
	int sv[2];
	pair(sv);
	int before = count_fds();
	size_t n = open_request("/a/path/that/does/not/fit", 0, 0);
	int fd = 0;
	cr_assert_eq(wire_send(sv[0], msg, n, &fd, 1, 0), 0);
	unsigned char small[24];
	int fds[WIRE_MAX_FDS], nfds = -1;
	errno = 0;
	cr_assert_eq(wire_recv(sv[1], small, sizeof(small), fds, &nfds, 0), -1);
	cr_assert_eq(errno, EPROTO);
	cr_assert_eq(count_fds(), before, "the fd that came with it was closed");
	close(sv[0]);
	close(sv[1]);
}

Test(wire, no_sigpipe_when_the_peer_is_gone)
{
	int sv[2];
	pair(sv);
	close(sv[1]);
	size_t n = open_request("/x", 0, 0);
	errno = 0;
	cr_assert_eq(wire_send(sv[0], msg, n, NULL, 0, 0), -1);
	cr_assert_eq(errno, EPIPE);
	close(sv[0]);
}

Test(wire, end_of_file_reads_as_zero)
{
	int sv[2];
	pair(sv);
	close(sv[0]);
	unsigned char buf[64];
	int fds[WIRE_MAX_FDS], nfds = -1;
	cr_assert_eq(wire_recv(sv[1], buf, sizeof(buf), fds, &nfds, 0), 0);
	close(sv[1]);
}
