/* The wire: message encoding, the strict decoder, and fd passing. */
#include "wire/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FIELD_HEADER 8u

/* --- writer ----------------------------------------------------------------- */

void wire_writer_init(struct wire_writer *w, void *buf, size_t cap, uint32_t op, uint32_t id)
{
	w->buf = buf;
	w->cap = cap < WIRE_MAX_MESSAGE ? cap : WIRE_MAX_MESSAGE;
	w->len = sizeof(struct wire_header);
	w->broken = cap < sizeof(struct wire_header);
	if (!w->broken) {
		struct wire_header h = {.op = op, .id = id, .length = 0, .reserved = 0};
		memcpy(w->buf, &h, sizeof(h));
	}
}

static void put_field(struct wire_writer *w, uint32_t type, const void *data, size_t size)
{
	if (w->broken || size > WIRE_MAX_PAYLOAD || w->cap - w->len < FIELD_HEADER + size) {
		w->broken = true;
		return;
	}
	uint32_t head[2] = {type, (uint32_t)size};
	memcpy(w->buf + w->len, head, sizeof(head));
	if (size)
		memcpy(w->buf + w->len + FIELD_HEADER, data, size);
	w->len += FIELD_HEADER + size;
}

void wire_put_int(struct wire_writer *w, int32_t value)
{
	put_field(w, WIRE_FIELD_INT, &value, sizeof(value));
}

void wire_put_string(struct wire_writer *w, const char *s)
{
	size_t n = strnlen(s, WIRE_MAX_STRING);
	if (n == 0 || n >= WIRE_MAX_STRING) {
		w->broken = true;
		return;
	}
	put_field(w, WIRE_FIELD_STRING, s, n);
}

void wire_put_bytes(struct wire_writer *w, const void *data, size_t size)
{
	put_field(w, WIRE_FIELD_BYTES, data, size);
}

size_t wire_writer_finish(struct wire_writer *w)
{
	if (w->broken || w->len - sizeof(struct wire_header) > WIRE_MAX_PAYLOAD)
		return 0;
	uint32_t length = (uint32_t)(w->len - sizeof(struct wire_header));
	memcpy(w->buf + offsetof(struct wire_header, length), &length, sizeof(length));
	return w->len;
}

/* --- reader ----------------------------------------------------------------- */

int wire_open_message(const void *msg, size_t size, struct wire_header *h, struct wire_reader *r)
{
	r->p = NULL;
	r->left = 0;
	r->broken = true;
	if (size < sizeof(*h) || size > WIRE_MAX_MESSAGE) {
		errno = EPROTO;
		return -1;
	}
	memcpy(h, msg, sizeof(*h));
	if (h->reserved != 0 || h->length != size - sizeof(*h)) {
		errno = EPROTO;
		return -1;
	}
	r->p = (const unsigned char *)msg + sizeof(*h);
	r->left = h->length;
	r->broken = false;
	return 0;
}

/* The next field, if it has this type; NULL (and broken) otherwise. */
static const unsigned char *take_field(struct wire_reader *r, uint32_t type, uint32_t *size)
{
	if (r->broken || r->left < FIELD_HEADER)
		goto broken;
	uint32_t head[2];
	memcpy(head, r->p, sizeof(head));
	if (head[0] != type || head[1] > r->left - FIELD_HEADER)
		goto broken;
	const unsigned char *data = r->p + FIELD_HEADER;
	r->p += FIELD_HEADER + head[1];
	r->left -= FIELD_HEADER + head[1];
	*size = head[1];
	return data;
broken:
	r->broken = true;
	return NULL;
}

int32_t wire_get_int(struct wire_reader *r)
{
	uint32_t size;
	const unsigned char *data = take_field(r, WIRE_FIELD_INT, &size);
	if (!data || size != sizeof(int32_t)) {
		r->broken = true;
		return 0;
	}
	int32_t v;
	memcpy(&v, data, sizeof(v));
	return v;
}

const char *wire_get_string(struct wire_reader *r, char *buf, size_t cap)
{
	uint32_t size;
	const unsigned char *data = take_field(r, WIRE_FIELD_STRING, &size);
	if (!data || size == 0 || size >= cap || memchr(data, '\0', size)) {
		r->broken = true;
		return NULL;
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	return buf;
}

size_t wire_get_bytes(struct wire_reader *r, void *buf, size_t cap)
{
	uint32_t size;
	const unsigned char *data = take_field(r, WIRE_FIELD_BYTES, &size);
	if (!data || size == 0 || size > cap) {
		r->broken = true;
		return 0;
	}
	memcpy(buf, data, size);
	return size;
}

bool wire_reader_done(const struct wire_reader *r)
{
	return !r->broken && r->left == 0;
}

/* --- requests ------------------------------------------------------------------ */

static const char *const op_names[WIRE_OP_COUNT] = {
	[WIRE_OP_OPEN] = "open",
	[WIRE_OP_UNLINK] = "unlink",
	[WIRE_OP_BIND] = "bind",
	[WIRE_OP_EXIT] = "exit",
	[WIRE_OP_CHANNEL] = "channel",
	[WIRE_OP_PAM_START] = "pam_start",
	[WIRE_OP_FORK] = "fork",
	[WIRE_OP_HELLO] = "hello",
	[WIRE_OP_WAIT] = "wait4",
	[WIRE_OP_RERUN] = "rerunas",
	[WIRE_OP_RESPAWN] = "respawn_as",
	[WIRE_OP_EXECVE] = "execve",
	[WIRE_OP_EXEC_REPLACE] = "execve",
	[WIRE_OP_POPEN] = "popen_as",
	[WIRE_OP_DAEMON] = "daemon",
	[WIRE_OP_CUSTOM] = "custom",
};

const char *wire_op_name(uint32_t op)
{
	return op > 0 && op < WIRE_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

int wire_request_fds(uint32_t op)
{
	switch (op) {
	case WIRE_OP_OPEN:
	case WIRE_OP_UNLINK:
	case WIRE_OP_EXIT:
	case WIRE_OP_CHANNEL:
	case WIRE_OP_PAM_START:
		return 0;
	case WIRE_OP_BIND:
	case WIRE_OP_EXEC_REPLACE:
		return 1;
	case WIRE_OP_FORK:
	case WIRE_OP_HELLO:
	case WIRE_OP_WAIT:
	case WIRE_OP_RERUN:
	case WIRE_OP_RESPAWN:
	case WIRE_OP_EXECVE:
	case WIRE_OP_POPEN:
	case WIRE_OP_DAEMON:
	case WIRE_OP_CUSTOM:
		return 0;
	default:
		return -1;
	}
}

int wire_reply_fds(uint32_t op, int32_t status)
{
	if (status < 0)
		return 0;
	switch (op) {
	case WIRE_OP_OPEN:
	case WIRE_OP_CHANNEL:
	case WIRE_OP_PAM_START:
	case WIRE_OP_FORK:
	case WIRE_OP_POPEN:
	case WIRE_OP_CUSTOM:
		return 1;
	default:
		return 0;
	}
}

static int fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	errno = EPROTO;
	return -1;
}

int wire_decode_request(const void *msg, size_t size, int nfds, struct wire_request *req,
			const char **why)
{
	struct wire_header h;
	struct wire_reader r;

	if (wire_open_message(msg, size, &h, &r) < 0)
		return fail(why, "bad header or length");
	int want = wire_request_fds(h.op);
	if (want < 0)
		return fail(why, "unknown operation");
	if (nfds != want)
		return fail(why, "unexpected number of fds");

	req->op = h.op;
	req->id = h.id;
	req->nfds = nfds;
	req->path[0] = '\0';
	req->flags = req->mode = req->status = 0;
	req->addrlen = 0;
	req->payload = NULL;
	req->payload_size = 0;

	switch (h.op) {
	case WIRE_OP_OPEN:
		wire_get_string(&r, req->path, sizeof(req->path));
		req->flags = wire_get_int(&r);
		req->mode = wire_get_int(&r);
		break;
	case WIRE_OP_UNLINK:
		wire_get_string(&r, req->path, sizeof(req->path));
		break;
	case WIRE_OP_BIND:
		req->addrlen = (socklen_t)wire_get_bytes(&r, &req->addr, sizeof(req->addr));
		break;
	case WIRE_OP_EXIT:
		req->status = wire_get_int(&r);
		break;
	case WIRE_OP_CHANNEL:
		break; /* no fields: the monitor makes the socket and returns it */
	case WIRE_OP_PAM_START: /* pam_monitor.c reads its fields */
	case WIRE_OP_FORK:
	case WIRE_OP_HELLO:
	case WIRE_OP_WAIT:
	case WIRE_OP_RERUN:
	case WIRE_OP_RESPAWN:
	case WIRE_OP_EXECVE:
	case WIRE_OP_EXEC_REPLACE:
	case WIRE_OP_POPEN:
	case WIRE_OP_DAEMON:
	case WIRE_OP_CUSTOM:
		/* proc.c and custom.c read these fields as strictly, per
		 * operation. */
		req->payload = r.p;
		req->payload_size = r.left;
		return 0;
	default:
		return fail(why, "unknown operation");
	}
	if (!wire_reader_done(&r))
		return fail(why, "malformed fields");
	return 0;
}

/* --- transport ------------------------------------------------------------------ */

int wire_send(int sock, const void *msg, size_t size, const int *fds, int nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)msg, .iov_len = size};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds < 0 || nfds > WIRE_MAX_FDS || size > WIRE_MAX_MESSAGE) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
		if (n == (ssize_t)size)
			return 0;
		if (n >= 0) { /* SEQPACKET never sends part of a message */
			errno = EPROTO;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

void wire_close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

ssize_t wire_recv(int sock, void *buf, size_t cap, int *fds, int *nfds, int flags)
{
	union {
		/* Room for more than we accept, so that a surplus is seen and closed
		 * rather than silently truncated by the kernel. */
		char buf[CMSG_SPACE(sizeof(int) * (WIRE_MAX_FDS + 7))];
		struct cmsghdr align;
	} control;
	int got[WIRE_MAX_FDS + 7];
	int ngot = 0;
	bool bad = false;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	*nfds = 0;
	do {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (ngot < (int)(sizeof(got) / sizeof(got[0])))
				got[ngot++] = fd;
			else
				close(fd);
		}
	}
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || ngot > WIRE_MAX_FDS ||
	    (size_t)n >= cap || (n == 0 && ngot > 0)) {
		wire_close_fds(got, ngot);
		errno = EPROTO;
		return -1;
	}
	memcpy(fds, got, sizeof(int) * (size_t)ngot);
	*nfds = ngot;
	return n;
}
