/* An adversarial program: after priv_init it speaks the wire by hand on its
 * channel and sends what a compromised program could send.
 *
 *   monitor_evil APPNAME lie N             one malformed message (variant N,
 *                                          see `lies`); prints how the
 *                                          monitor answered, then what a
 *                                          normal priv_open gets
 *   monitor_evil APPNAME random SEED COUNT random messages
 *   monitor_evil APPNAME flood COUNT PATH  COUNT open requests without reading
 *   monitor_evil APPNAME semantic GOOD BAD well-formed requests that lie about
 *                                          what they are
 *   monitor_evil APPNAME selfpair GOOD     both ends of one socketpair sent as
 *                                          channels (the policy grants fork)
 *
 * Every fd it receives is checked: "LEAK" is printed for any whose first
 * line is "secret". */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program/client.h"
#include "privman.h"
#include "wire/wire.h"

static int sock;
static long leaks;
static unsigned char buf[WIRE_MAX_MESSAGE + 256];
static unsigned char reply[WIRE_MAX_MESSAGE + 256];

static void check_fd(int fd)
{
	char line[64] = "";
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	if (n > 0) {
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "secret") == 0) {
			leaks++;
			printf("LEAK\n");
		}
	}
	close(fd);
}

/* Send raw bytes with nfds copies of fd 0 (or of `fd`). */
static int send_raw(const void *msg, size_t size, int nfds, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg, .iov_len = size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		int fds[4] = {fd, fd, fd, fd};
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Wait up to `ms` for a reply: prints and returns its status, or prints
 * ENDED and returns INT32_MIN when the monitor closed the channel. */
static int32_t await_reply(int ms)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0) {
		printf("SILENT\n");
		return INT32_MIN + 1;
	}
	int fds[WIRE_MAX_FDS], nfds = 0;
	ssize_t n = wire_recv(sock, reply, sizeof(reply), fds, &nfds, 0);
	if (n <= 0) {
		printf("ENDED\n");
		return INT32_MIN;
	}
	struct wire_header h;
	struct wire_reader r;
	int32_t status = INT32_MIN + 2;
	if (wire_open_message(reply, (size_t)n, &h, &r) == 0)
		status = wire_get_int(&r);
	printf("status %d%s\n", (int)status, nfds ? " fd" : "");
	for (int i = 0; i < nfds; i++)
		check_fd(fds[i]);
	return status;
}

static void normal_call(const char *good)
{
	int fd = priv_open(good, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		printf("ALIVE\n");
		check_fd(fd);
	} else {
		printf("%s\n", strerrorname_np(errno));
	}
}

static size_t open_msg(const char *path, int flags, uint32_t id)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_OPEN, id);
	wire_put_string(&w, path);
	wire_put_int(&w, flags);
	wire_put_int(&w, 0);
	return wire_writer_finish(&w);
}

static void set_u32(size_t offset, uint32_t v)
{
	memcpy(buf + offset, &v, sizeof(v));
}

#define H sizeof(struct wire_header)

static int lie(int n, const char *good)
{
	size_t size = open_msg(good, O_RDONLY, 1);
	int nfds = 0;
	switch (n) {
	case 0: /* the header claims more than was sent */
		set_u32(offsetof(struct wire_header, length), (uint32_t)(size - H + 10));
		break;
	case 1:
		set_u32(offsetof(struct wire_header, reserved), 7);
		break;
	case 2:
		set_u32(offsetof(struct wire_header, op), 99);
		break;
	case 3: /* the string field claims more than the message holds */
		set_u32(H + 4, 60000);
		break;
	case 4: { /* an int of eight bytes */
		struct wire_writer w;
		wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_EXIT, 1);
		wire_put_bytes(&w, "\1\0\0\0\0\0\0\0", 8);
		size = wire_writer_finish(&w);
		set_u32(H, WIRE_FIELD_INT);
		break;
	}
	case 5: /* a NUL inside the path: "/good\0/../secret" */
		buf[H + 8 + 1] = '\0';
		break;
	case 6: /* a field missing */
		size -= 12;
		set_u32(offsetof(struct wire_header, length), (uint32_t)(size - H));
		break;
	case 7: { /* a field too many */
		struct wire_writer w;
		w.buf = buf;
		w.cap = sizeof(buf);
		w.len = size;
		w.broken = false;
		wire_put_int(&w, 5);
		size = wire_writer_finish(&w);
		break;
	}
	case 8: /* larger than any message may be */
		memset(buf + size, 'x', WIRE_MAX_MESSAGE + 100 - size);
		size = WIRE_MAX_MESSAGE + 100;
		set_u32(offsetof(struct wire_header, length), (uint32_t)(size - H));
		break;
	case 9: /* a truncated header */
		size = 8;
		break;
	case 10: /* a stray fd on a request that takes none */
		nfds = 1;
		break;
	case 11: { /* bind without its socket */
		struct wire_writer w;
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
		wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 1);
		wire_put_bytes(&w, &sin, sizeof(sin));
		size = wire_writer_finish(&w);
		break;
	}
	case 12: { /* bind with three sockets */
		struct wire_writer w;
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
		wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 1);
		wire_put_bytes(&w, &sin, sizeof(sin));
		size = wire_writer_finish(&w);
		nfds = 3;
		break;
	}
	case 13: /* garbage */
		for (size_t i = 0; i < 100; i++)
			buf[i] = (unsigned char)(i * 37 + 11);
		size = 100;
		break;
	case 14: /* a reply-shaped message: op 0 */
		set_u32(offsetof(struct wire_header, op), 0);
		break;
	case 15: /* a channel the program made (a pipe here) */
	case 16: /* a channel the program made: a SEQPACKET socketpair's end */
	case 17: { /* a PAM transaction's channel the program made */
		struct wire_writer w;
		wire_writer_init(&w, buf, sizeof(buf),
				 n == 17 ? WIRE_OP_PAM_START : WIRE_OP_CHANNEL, 1);
		size = wire_writer_finish(&w);
		nfds = 1;
		break;
	}
	default:
		return -1;
	}
	int s = -1, other = -1;
	if (n == 15 || n == 16) {
		int pair[2];
		if ((n == 15 ? pipe2(pair, O_CLOEXEC)
			     : socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair)) < 0)
			return -1;
		s = pair[0];
		other = pair[1];
	} else if (nfds) {
		s = socket(n == 17 ? AF_UNIX : AF_INET,
			   (n == 17 ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	}
	if (send_raw(buf, size, nfds, s) < 0)
		printf("send %s\n", strerrorname_np(errno));
	if (s >= 0)
		close(s);
	if (other >= 0)
		close(other);
	await_reply(2000);
	normal_call(good);
	return 0;
}

/* Paths that would forge audit lines if copied raw, under DIR: each is
 * refused (or not found), and each refusal must be one audit line. */
static void nasty_paths(const char *dir)
{
	static const char *const tails[] = {
		"a\n<85>Dec  1 00:00:00 host t[1]: open /etc/shadow flags=0x0 pid=1: allow",
		"a\rb", "\033[2K\033[1G", "quo\"te\",\"decision\":\"allow", "back\\slash",
		"bad\xff\xfe\xc3", "\xe2\x80\xae", "\xc2\x9b", "\x01\x7f",
	};
	char path[PATH_MAX];
	int refused = 0;
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tails[i]);
		if (priv_open(path, O_RDONLY) < 0)
			refused++;
		if (priv_unlink(path) < 0)
			refused++;
	}
	printf("refused %d\n", refused);
}

/* Send raw bytes with one fd, and wait for the answer. */
static void send_and_await(const void *msg, size_t size, int nfds, int fd);

/* The attack that once made the monitor answer itself for ever: both ends
 * of one socketpair sent as two channels, with an EXIT request already
 * queued on one of them. Meanwhile a priv_fork child waits; once the attack
 * is over it asks for GOOD: the monitor must still serve it. */
static int selfpair(const char *good)
{
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	pid_t child = priv_fork();
	if (child < 0) {
		printf("priv_fork %s\n", strerrorname_np(errno));
		return -1;
	}
	if (child == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		printf("child: ");
		normal_call(good);
		fflush(stdout);
		_exit(0);
	}
	close(go[0]);

	int pair[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return -1;
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_EXIT, 77);
	wire_put_int(&w, 0);
	size_t size = wire_writer_finish(&w);
	if (send(pair[0], buf, size, MSG_NOSIGNAL) != (ssize_t)size)
		return -1;
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_CHANNEL, 1);
	size = wire_writer_finish(&w);
	send_and_await(buf, size, 1, pair[0]);
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_CHANNEL, 2);
	size = wire_writer_finish(&w);
	send_and_await(buf, size, 1, pair[1]);
	close(pair[0]);
	close(pair[1]);
	/* Time for a monitor that answers itself to write its lines. */
	usleep(300 * 1000);
	if (write(go[1], "g", 1) != 1)
		return -1;
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		printf("child failed\n");
	return 0;
}

static void random_messages(unsigned seed, long count, const char *good)
{
	srandom(seed);
	long sent = 0;
	for (; sent < count; sent++) {
		size_t size = (size_t)(random() % 300);
		if (random() % 8 == 0)
			size = (size_t)(random() % (WIRE_MAX_MESSAGE + 200));
		for (size_t i = 0; i < size; i++)
			buf[i] = (unsigned char)random();
		if (size >= H && random() % 2) { /* a plausible header */
			set_u32(0, (uint32_t)(1 + random() % (WIRE_OP_COUNT)));
			set_u32(offsetof(struct wire_header, length), (uint32_t)(size - H));
			set_u32(offsetof(struct wire_header, reserved), 0);
		}
		int nfds = random() % 6 == 0 ? 1 : 0;
		if (send_raw(buf, size, nfds, 0) < 0)
			break;
		/* Take whatever came back, without waiting. */
		struct pollfd p = {.fd = sock, .events = POLLIN};
		while (poll(&p, 1, 0) > 0) {
			int fds[WIRE_MAX_FDS], n = 0;
			if (wire_recv(sock, buf, sizeof(buf), fds, &n, 0) <= 0)
				goto done;
			for (int i = 0; i < n; i++)
				check_fd(fds[i]);
		}
	}
done:
	printf("random done\n");
	normal_call(good);
}

static void flood(long count, const char *path)
{
	long sent = 0, replies = 0, with_fd = 0;
	uint32_t next_reply = 1;
	int bad_order = 0;
	while (replies < count) {
		if (sent < count) {
			size_t size = open_msg(path, O_RDONLY, (uint32_t)(sent + 1));
			if (sendmsg(sock, &(struct msghdr){.msg_iov = &(struct iovec){buf, size},
							.msg_iovlen = 1},
				    MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)size) {
				sent++;
				continue;
			}
			if (errno != EAGAIN) {
				printf("send %s\n", strerrorname_np(errno));
				break;
			}
		}
		int fds[WIRE_MAX_FDS], n = 0;
		ssize_t got = wire_recv(sock, buf, sizeof(buf), fds, &n, 0);
		if (got <= 0) {
			printf("ENDED\n");
			break;
		}
		struct wire_header h;
		memcpy(&h, buf, sizeof(h));
		if (h.id != next_reply)
			bad_order++;
		next_reply = h.id + 1;
		replies++;
		with_fd += n;
		for (int i = 0; i < n; i++)
			check_fd(fds[i]);
	}
	printf("flood %ld %ld %d\n", replies, with_fd, bad_order);
}

static void send_and_await(const void *msg, size_t size, int nfds, int fd)
{
	if (send_raw(msg, size, nfds, fd) < 0)
		printf("send %s\n", strerrorname_np(errno));
	else
		await_reply(2000);
}

static void semantic(const char *good, const char *bad)
{
	struct wire_writer w;
	size_t size;

	/* A refused file, asked for directly and through "..". */
	size = open_msg(bad, O_RDONLY, 1);
	send_and_await(buf, size, 0, -1);
	char dotdot[PATH_MAX];
	snprintf(dotdot, sizeof(dotdot), "%s/../%s", good, strrchr(bad, '/') + 1);
	size = open_msg(dotdot, O_RDONLY, 2);
	send_and_await(buf, size, 0, -1);
	/* A granted file with O_PATH, and with O_RDONLY|O_TRUNC. */
	size = open_msg(good, O_RDONLY | O_PATH, 3);
	send_and_await(buf, size, 0, -1);
	size = open_msg(good, O_RDONLY | O_TRUNC, 4);
	send_and_await(buf, size, 0, -1);
	/* bind: an IPv6 address for an IPv4 socket; a pipe; a unix socket;
	 * an address of two bytes. */
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	int s4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 5);
	wire_put_bytes(&w, &sin6, sizeof(sin6));
	send_and_await(buf, wire_writer_finish(&w), 1, s4);
	int p[2];
	if (pipe(p) < 0)
		return;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(80)};
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 6);
	wire_put_bytes(&w, &sin, sizeof(sin));
	send_and_await(buf, wire_writer_finish(&w), 1, p[0]);
	int su = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 7);
	wire_put_bytes(&w, &sin, sizeof(sin));
	send_and_await(buf, wire_writer_finish(&w), 1, su);
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 8);
	wire_put_bytes(&w, &sin, 2);
	send_and_await(buf, wire_writer_finish(&w), 1, s4);
	/* A channel: the monitor makes it and sends one end. */
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_CHANNEL, 9);
	size = wire_writer_finish(&w);
	send_and_await(buf, size, 0, -1);
	/* bind: the program's own end of its channel to the monitor. */
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_BIND, 10);
	wire_put_bytes(&w, &sin, sizeof(sin));
	send_and_await(buf, wire_writer_finish(&w), 1, sock);
	/* The same request id twice: both answered, in order. */
	size = open_msg(good, O_RDONLY, 11);
	send_and_await(buf, size, 0, -1);
	send_and_await(buf, size, 0, -1);
	close(s4);
	close(su);
	close(p[0]);
	close(p[1]);
	normal_call(good);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	sock = client_channel_fd();
	const char *mode = argv[2];
	if (strcmp(mode, "lie") == 0 && argc == 5)
		return lie(atoi(argv[3]), argv[4]) < 0 ? 3 : 0;
	if (strcmp(mode, "random") == 0 && argc == 6)
		random_messages((unsigned)atoi(argv[3]), atol(argv[4]), argv[5]);
	else if (strcmp(mode, "flood") == 0 && argc == 5)
		flood(atol(argv[3]), argv[4]);
	else if (strcmp(mode, "semantic") == 0 && argc == 5)
		semantic(argv[3], argv[4]);
	else if (strcmp(mode, "nasty") == 0 && argc == 4)
		nasty_paths(argv[3]);
	else if (strcmp(mode, "selfpair") == 0 && argc == 4)
		return selfpair(argv[3]) < 0 ? 3 : 0;
	else
		return 2;
	return leaks ? 1 : 0;
}
