/* The wire between a program and its monitor: one SOCK_SEQPACKET message is
 * one request or one reply.
 *
 *   message = header payload
 *   header  = op:u32 id:u32 length:u32 reserved:u32   (host byte order)
 *   payload = field*                                  (exactly `length` bytes)
 *   field   = type:u32 size:u32 data[size]
 *
 * A request's fields are fixed per operation; a reply starts with an INT
 * field holding the status (>= 0, or -errno) and carries at most the fds the
 * operation promises. Readers are strict: any length, type or count that
 * does not match breaks the reader for good, and the caller treats the
 * message as a protocol violation. */
#ifndef PRIVMAN_WIRE_H
#define PRIVMAN_WIRE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum wire_op {
	WIRE_OP_OPEN = 1,   /* path, flags, mode        -> status, fd */
	WIRE_OP_UNLINK = 2, /* path                     -> status */
	WIRE_OP_BIND = 3,   /* sockaddr + socket fd     -> status */
	WIRE_OP_EXIT = 4,   /* status                   -> status */
	WIRE_OP_CHANNEL = 5, /*                         -> status, fd: one more
				channel for the same process (one per thread),
				a socketpair the monitor made */
	/* Processes (proc.c). Strings travel as BYTES with their NUL; lists as
	 * an INT count and that many strings. */
	WIRE_OP_FORK = 32,    /*                          -> status, fd: the
				 channel a priv_fork child says hello on */
	WIRE_OP_HELLO = 33,   /* (the first message of a forked child, with
				 the kernel's credentials) -> status */
	WIRE_OP_WAIT = 34,    /* pid, options             -> pid, wstatus, rusage */
	WIRE_OP_RERUN = 35,   /* fnptr, flags, user, chroot, args -> status */
	WIRE_OP_RESPAWN = 36, /* fnptr, user, chroot, args -> status */
	WIRE_OP_EXECVE = 37,  /* program, user, chroot, argv, envp -> pid */
	WIRE_OP_POPEN = 38,   /* command, type, user      -> pid, fd */
	WIRE_OP_DAEMON = 39,  /* nochdir, noclose         -> status */
	WIRE_OP_EXEC_REPLACE = 44, /* program, user, chroot, argv, envp + the
				      caller's end of a link socket, on which
				      the caller's stdin/stdout/stderr wait
				      -> status (see proc.c: priv_execve) */
	WIRE_OP_PAM_START = 48, /* service, user        -> status, fd: the id of a
				   PAM transaction, served on the socket that
				   comes with the reply (made by the monitor,
				   the BEGIN of these fields queued on it)
				   (49-63: pam_wire.h, on that socket only) */
	WIRE_OP_CUSTOM = 64,  /* kind, handle, count, strings (custom.h) -> info:
				 length and a pipe holding the string; cap:
				 status, fd */
	WIRE_OP_COUNT
};

enum wire_field_type {
	WIRE_FIELD_INT = 1,    /* 4 bytes, int32 */
	WIRE_FIELD_STRING = 2, /* bytes without NUL */
	WIRE_FIELD_BYTES = 3,  /* opaque bytes */
};

struct wire_header {
	uint32_t op;
	uint32_t id;
	uint32_t length; /* payload bytes after the header */
	uint32_t reserved; /* zero */
};

/* Hard limits, checked on both sides. */
#define WIRE_MAX_PAYLOAD (8192u + PATH_MAX)
#define WIRE_MAX_MESSAGE (sizeof(struct wire_header) + WIRE_MAX_PAYLOAD)
#define WIRE_MAX_FDS 1
#define WIRE_MAX_STRING PATH_MAX /* including the terminating NUL once decoded */

/* --- building a message ------------------------------------------------- */

struct wire_writer {
	unsigned char *buf;
	size_t cap;
	size_t len;
	bool broken; /* a field did not fit */
};

void wire_writer_init(struct wire_writer *w, void *buf, size_t cap, uint32_t op, uint32_t id);
void wire_put_int(struct wire_writer *w, int32_t value);
void wire_put_string(struct wire_writer *w, const char *s);
void wire_put_bytes(struct wire_writer *w, const void *data, size_t size);
/* Fill in the header's length; returns the message size, or 0 when broken. */
size_t wire_writer_finish(struct wire_writer *w);

/* --- reading a message -------------------------------------------------- */

struct wire_reader {
	const unsigned char *p;
	size_t left;
	bool broken;
};

/* Check a whole message's header against its size and the limits; on success
 * set `h` and a reader over the payload. Returns 0 or -1 (EPROTO). */
int wire_open_message(const void *msg, size_t size, struct wire_header *h, struct wire_reader *r);

int32_t wire_get_int(struct wire_reader *r);
/* Copy a STRING field into `buf` (NUL-terminated). An empty string, an
 * embedded NUL, or one that does not fit with its NUL breaks the reader.
 * Returns buf, or NULL when broken. */
const char *wire_get_string(struct wire_reader *r, char *buf, size_t cap);
/* Copy a BYTES field of at most `cap` bytes; returns its size, 0 when broken. */
size_t wire_get_bytes(struct wire_reader *r, void *buf, size_t cap);
/* True when every byte was consumed and nothing broke. */
bool wire_reader_done(const struct wire_reader *r);

/* --- requests, decoded ---------------------------------------------------- */

/* The fixed fields first and the path last, read only up to its NUL: a
 * request touches the page of its head, not also one 4 KiB on. */
struct wire_request {
	uint32_t op;
	uint32_t id;
	int32_t flags;
	int32_t mode;
	int32_t status;
	socklen_t addrlen;
	int nfds; /* fds that came with it */
	/* Operations whose fields their handler decodes (proc.c): the payload,
	 * not yet read, inside the message buffer. */
	const unsigned char *payload;
	size_t payload_size;
	struct sockaddr_storage addr;
	char path[WIRE_MAX_STRING];
};

/* How many fds a request of `op` carries (-1 for an unknown op). */
int wire_request_fds(uint32_t op);

/* How many fds a reply to `op` with `status` carries. */
int wire_reply_fds(uint32_t op, int32_t status);

/* Decode and check one request message that came with `nfds` fds. Returns 0,
 * or -1 with errno EPROTO and a short reason in *why (a static string). */
int wire_decode_request(const void *msg, size_t size, int nfds, struct wire_request *req,
			const char **why);

/* Name of an operation for logs ("open", "unlink", ...), "?" when unknown. */
const char *wire_op_name(uint32_t op);

/* --- transport ------------------------------------------------------------ */

/* Send one message with up to WIRE_MAX_FDS fds (MSG_NOSIGNAL, plus `flags`,
 * e.g. MSG_DONTWAIT). Returns 0 or -1 with errno (EPIPE once the peer is
 * gone, EAGAIN when it does not read and MSG_DONTWAIT was given). */
int wire_send(int sock, const void *msg, size_t size, const int *fds, int nfds, int flags);

/* Receive one message into buf (cap bytes, at least WIRE_MAX_MESSAGE + 1).
 * Received fds are close-on-exec and stored in fds[0..*nfds). A message or
 * control data that was truncated is a protocol error: every fd that came
 * with it is closed and -1 returned with errno EPROTO. Returns the size,
 * 0 at end of file, or -1 with errno. `flags` is added to recvmsg's. */
ssize_t wire_recv(int sock, void *buf, size_t cap, int *fds, int *nfds, int flags);

void wire_close_fds(int *fds, int nfds);

#endif
