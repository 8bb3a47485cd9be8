/* The program's side: the channel, and priv_open, priv_fopen, priv_unlink,
 * priv_bind and priv_exit.
 *
 * Many threads may call at once. Each sends its request (one SEQPACKET
 * message is atomic), then waits for the reply with its request id. One
 * waiting thread at a time reads the socket and hands each reply to the
 * thread it belongs to, so that requests are pipelined rather than
 * serialised behind one lock. */
#include "program/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privman.h"
#include "wire/wire.h"

struct pending {
	uint32_t id;
	uint32_t op;
	bool done;
	int status; /* >= 0, or -errno */
	int fd;
	unsigned char *fields; /* where the reply's further fields go */
	size_t fields_cap, fields_size;
	pthread_cond_t *cond; /* its thread's (wake) */
	struct pending *next;
};

/* What a thread waits on for its reply, made once per thread rather than
 * per call: a thread waits for one reply at a time. */
static __thread pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static struct {
	pthread_mutex_t lock;
	int sock;
	uint32_t next_id;
	bool reading;    /* a thread is in recvmsg */
	int dead;        /* errno for every call from now on, or 0 */
	struct pending *waiting;
} channel = {PTHREAD_MUTEX_INITIALIZER, -1, 1, false, ENOTCONN, NULL};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Each thread but the main one asks the monitor for a channel of its own on
 * its first call: no thread then waits for another's reply. The main
 * channel serves the main thread, and any thread that could not get one. */
#define MAX_OWN_CHANNELS 256

static __thread struct {
	int sock;
	uint32_t next_id;
	bool tried;
} own = {-1, 1, false};

static int own_registry[MAX_OWN_CHANNELS]; /* under channel.lock */
static size_t own_count;
static pthread_key_t own_key;
static pthread_once_t own_key_once = PTHREAD_ONCE_INIT;

static void own_unregister(int sock)
{
	for (size_t i = 0; i < own_count; i++) {
		if (own_registry[i] == sock) {
			own_registry[i] = own_registry[--own_count];
			return;
		}
	}
}

/* At thread exit: the monitor sees the channel close and forgets it. */
static void own_release(void *unused)
{
	if (own.sock < 0)
		return;
	pthread_mutex_lock(&channel.lock);
	own_unregister(own.sock);
	pthread_mutex_unlock(&channel.lock);
	close(own.sock);
	own.sock = -1;
}

static void own_make_key(void)
{
	pthread_key_create(&own_key, own_release);
}

static void before_fork(void)
{
	pthread_mutex_lock(&channel.lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&channel.lock);
}

/* A child made by fork(2) must not share the channel: replies meant for one
 * process would reach the other. priv_fork gives a child its own. */
static void after_fork_child(void)
{
	for (size_t i = 0; i < own_count; i++)
		close(own_registry[i]);
	own_count = 0;
	own.sock = -1;
	own.tried = true;
	if (channel.sock >= 0)
		close(channel.sock);
	channel.sock = -1;
	channel.dead = EPIPE;
	channel.reading = false;
	channel.waiting = NULL;
	pthread_mutex_init(&channel.lock, NULL);
}

static void register_atfork(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void client_attach(int sock)
{
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&channel.lock);
	channel.sock = sock;
	channel.dead = 0;
	channel.reading = false;
	pthread_mutex_unlock(&channel.lock);
}

int client_channel_fd(void)
{
	return channel.sock;
}

/* Called with the lock held: every waiting call fails with `err`. */
static void kill_channel(int err)
{
	if (!channel.dead)
		channel.dead = err;
	for (struct pending *p = channel.waiting; p; p = p->next) {
		if (!p->done) {
			p->done = true;
			p->status = -channel.dead;
			p->fd = -1;
		}
		pthread_cond_signal(p->cond);
	}
}

/* The fields after the status: copied out for a caller that takes them
 * (a successful reply only), otherwise there must be none. */
static int take_fields(struct wire_reader *r, int32_t status, unsigned char *fields, size_t cap,
		       size_t *size)
{
	*size = 0;
	if (r->left == 0)
		return 0;
	if (!fields || status < 0 || r->left > cap)
		return -1;
	memcpy(fields, r->p, r->left);
	*size = r->left;
	r->p += r->left;
	r->left = 0;
	return 0;
}

/* Called with the lock held: hand one reply to its caller (no wake-up for
 * the reading thread's own: it looks when it has the lock again). */
static void deliver(const unsigned char *msg, size_t size, int *fds, int nfds)
{
	struct wire_header h;
	struct wire_reader r;
	struct pending *p = NULL;

	if (wire_open_message(msg, size, &h, &r) == 0)
		for (p = channel.waiting; p && p->id != h.id; p = p->next)
			;
	if (!p || p->done || p->op != h.op)
		goto bad;
	int32_t status = wire_get_int(&r);
	if (r.broken || status < -4095 || take_fields(&r, status, p->fields, p->fields_cap,
						      &p->fields_size) < 0)
		goto bad;
	if (nfds != wire_reply_fds(h.op, status))
		goto bad;
	p->status = status;
	p->fd = nfds ? fds[0] : -1;
	p->done = true;
	if (p->cond != &wake)
		pthread_cond_signal(p->cond);
	return;
bad:
	wire_close_fds(fds, nfds);
	kill_channel(EPROTO);
}

/* Called with the lock held by the one reading thread; drops it while it
 * waits in recvmsg. */
static void read_one(void)
{
	unsigned char buf[256];
	int fds[WIRE_MAX_FDS];
	int nfds = 0;
	int sock = channel.sock;

	channel.reading = true;
	pthread_mutex_unlock(&channel.lock);
	ssize_t n = wire_recv(sock, buf, sizeof(buf), fds, &nfds, 0);
	int err = errno;
	pthread_mutex_lock(&channel.lock);
	channel.reading = false;
	if (n > 0)
		deliver(buf, (size_t)n, fds, nfds);
	else if (n == 0 || err == ECONNRESET)
		kill_channel(EPIPE);
	else
		kill_channel(err == EPROTO ? EPROTO : EPIPE);
}

static void unlink_pending(struct pending *me)
{
	for (struct pending **pp = &channel.waiting; *pp; pp = &(*pp)->next) {
		if (*pp == me) {
			*pp = me->next;
			break;
		}
	}
	/* If nobody is reading, wake one waiter to take over. */
	if (!channel.reading)
		for (struct pending *p = channel.waiting; p; p = p->next)
			if (!p->done) {
				pthread_cond_signal(p->cond);
				break;
			}
}

/* The reply to a call on a thread's own channel; replies come in order. */
static int own_call(void *msg, size_t size, const int *fds, int nfds, int *fd_out,
		    unsigned char *fields, size_t fields_cap, size_t *fields_size)
{
	struct wire_header h;
	memcpy(&h, msg, sizeof(h));
	h.id = own.next_id++;
	memcpy(msg, &h, sizeof(h));
	if (wire_send(own.sock, msg, size, fds, nfds, 0) < 0)
		return -errno;

	unsigned char buf[256];
	int in[WIRE_MAX_FDS], nin = 0;
	ssize_t n = wire_recv(own.sock, buf, sizeof(buf), in, &nin, 0);
	if (n <= 0)
		return n == 0 || errno == ECONNRESET ? -EPIPE : -errno;
	struct wire_header rh;
	struct wire_reader r;
	int32_t status = 0;
	if (wire_open_message(buf, (size_t)n, &rh, &r) == 0)
		status = wire_get_int(&r);
	if (r.broken || take_fields(&r, status, fields, fields_cap, fields_size) < 0 ||
	    rh.id != h.id || rh.op != h.op || status < -4095 ||
	    nin != wire_reply_fds(h.op, status)) {
		wire_close_fds(in, nin);
		return -EPROTO;
	}
	if (fd_out)
		*fd_out = nin ? in[0] : -1;
	else if (nin)
		close(in[0]);
	return status;
}

static int main_call(void *msg, size_t size, const int *fds, int nfds, int *fd_out,
		     unsigned char *fields, size_t fields_cap, size_t *fields_size);

/* Called on a thread's first request: get it a channel of its own. */
static void own_setup(void)
{
	own.tried = true;
	if (gettid() == getpid())
		return;
	pthread_once(&own_key_once, own_make_key);
	/* The monitor makes the socketpair and sends us our end. */
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_CHANNEL, 0);
	size_t size = wire_writer_finish(&w);
	pthread_mutex_lock(&channel.lock);
	bool room = own_count < MAX_OWN_CHANNELS;
	pthread_mutex_unlock(&channel.lock);
	int sock = -1;
	if (!room || main_call(msg, size, NULL, 0, &sock, NULL, 0, NULL) < 0 || sock < 0)
		return;
	pthread_mutex_lock(&channel.lock);
	room = own_count < MAX_OWN_CHANNELS;
	if (room)
		own_registry[own_count++] = sock;
	pthread_mutex_unlock(&channel.lock);
	if (!room) {
		close(sock);
		return;
	}
	own.sock = sock;
	pthread_setspecific(own_key, &own);
}

int client_call(void *msg, size_t size, const int *fds, int nfds, int *fd_out)
{
	return client_call_fields(msg, size, fds, nfds, fd_out, NULL, 0, NULL);
}

int client_call_fields(void *msg, size_t size, const int *fds, int nfds, int *fd_out,
		       void *fields, size_t fields_cap, size_t *fields_size)
{
	size_t ignored;
	if (!fields_size)
		fields_size = &ignored;
	*fields_size = 0;
	if (!own.tried && channel.sock >= 0)
		own_setup();
	if (own.sock >= 0) {
		int status = own_call(msg, size, fds, nfds, fd_out, fields, fields_cap,
				      fields_size);
		if (status >= 0)
			return status;
		if (status != -EPIPE && status != -EPROTO && status != -ECONNRESET) {
			errno = -status;
			return -1;
		}
		/* The monitor is gone or broke with us: so is every channel. */
		pthread_mutex_lock(&channel.lock);
		own_unregister(own.sock);
		kill_channel(status == -EPROTO ? EPROTO : EPIPE);
		pthread_mutex_unlock(&channel.lock);
		close(own.sock);
		own.sock = -1;
		errno = status == -EPROTO ? EPROTO : EPIPE;
		return -1;
	}
	return main_call(msg, size, fds, nfds, fd_out, fields, fields_cap, fields_size);
}

static int main_call(void *msg, size_t size, const int *fds, int nfds, int *fd_out,
		     unsigned char *fields, size_t fields_cap, size_t *fields_size)
{
	struct pending me = {.done = false, .status = 0, .fd = -1, .next = NULL,
			     .fields = fields, .fields_cap = fields_cap, .fields_size = 0,
			     .cond = &wake};
	struct wire_header h;

	if (size < sizeof(h)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&h, msg, sizeof(h));
	pthread_mutex_lock(&channel.lock);
	if (channel.dead || channel.sock < 0) {
		int err = channel.dead ? channel.dead : ENOTCONN;
		pthread_mutex_unlock(&channel.lock);
		errno = err;
		return -1;
	}
	me.id = channel.next_id++;
	me.op = h.op;
	me.next = channel.waiting;
	channel.waiting = &me;
	int sock = channel.sock;
	pthread_mutex_unlock(&channel.lock);

	h.id = me.id;
	memcpy(msg, &h, sizeof(h));
	int rc = wire_send(sock, msg, size, fds, nfds, 0);
	int err = errno;

	pthread_mutex_lock(&channel.lock);
	if (rc < 0) {
		if (err == EPIPE || err == ECONNRESET || err == ENOTCONN)
			kill_channel(EPIPE);
		me.done = true;
		me.status = -(channel.dead ? channel.dead : err);
	}
	while (!me.done) {
		if (!channel.reading)
			read_one();
		else
			pthread_cond_wait(me.cond, &channel.lock);
	}
	unlink_pending(&me);
	pthread_mutex_unlock(&channel.lock);

	if (me.status < 0) {
		errno = -me.status;
		return -1;
	}
	if (fields_size)
		*fields_size = me.fields_size;
	if (fd_out)
		*fd_out = me.fd;
	else if (me.fd >= 0)
		close(me.fd);
	return me.status;
}

/* --- the calls ---------------------------------------------------------------- */

/* Room for the largest request these calls build. */
#define REQUEST_CAP (sizeof(struct wire_header) + 4 * 8 + PATH_MAX + 2 * sizeof(int32_t) + 128)

static int check_path(const char *path)
{
	if (!path) {
		errno = EFAULT;
		return -1;
	}
	size_t n = strnlen(path, PATH_MAX);
	if (n == 0) {
		errno = ENOENT;
		return -1;
	}
	if (n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int priv_open(const char *pathname, int flags, ...)
{
	unsigned char msg[REQUEST_CAP];
	struct wire_writer w;
	mode_t mode = 0;

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (check_path(pathname) < 0)
		return -1;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_OPEN, 0);
	wire_put_string(&w, pathname);
	wire_put_int(&w, flags);
	wire_put_int(&w, (int32_t)mode);
	size_t size = wire_writer_finish(&w);
	if (!size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = -1;
	if (client_call(msg, size, NULL, 0, &fd) < 0)
		return -1;
	/* Every fd arrives close-on-exec (MSG_CMSG_CLOEXEC); give it the
	 * flag the caller asked for. */
	if (!(flags & O_CLOEXEC) && fcntl(fd, F_SETFD, 0) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* fopen(3) modes: r, r+, w, w+, a, a+, with b (ignored), e (O_CLOEXEC) and
 * x (O_EXCL). Returns the open flags, or -1 (EINVAL). */
static int fopen_flags(const char *mode, char *fdopen_mode)
{
	int flags;
	switch (mode[0]) {
	case 'r':
		flags = O_RDONLY;
		break;
	case 'w':
		flags = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		flags = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	bool plus = false;
	for (const char *p = mode + 1; *p && *p != ','; p++) {
		switch (*p) {
		case '+':
			plus = true;
			break;
		case 'e':
			flags |= O_CLOEXEC;
			break;
		case 'x':
			flags |= O_EXCL;
			break;
		case 'b':
		case 'm':
		case 'c':
			break;
		default:
			return -1;
		}
	}
	if (plus)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	fdopen_mode[0] = mode[0];
	fdopen_mode[1] = plus ? '+' : '\0';
	fdopen_mode[2] = '\0';
	return flags;
}

FILE *priv_fopen(const char *pathname, const char *mode)
{
	char fdmode[4];
	if (!mode) {
		errno = EINVAL;
		return NULL;
	}
	int flags = fopen_flags(mode, fdmode);
	if (flags < 0) {
		errno = EINVAL;
		return NULL;
	}
	int fd = priv_open(pathname, flags, 0666);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, fdmode);
	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

int priv_unlink(const char *pathname)
{
	unsigned char msg[REQUEST_CAP];
	struct wire_writer w;
	if (check_path(pathname) < 0)
		return -1;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_UNLINK, 0);
	wire_put_string(&w, pathname);
	size_t size = wire_writer_finish(&w);
	if (!size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return client_call(msg, size, NULL, 0, NULL) < 0 ? -1 : 0;
}

int priv_bind(int sockfd, struct sockaddr *addr, socklen_t addrlen)
{
	unsigned char msg[REQUEST_CAP];
	struct wire_writer w;
	if (!addr) {
		errno = EFAULT;
		return -1;
	}
	if (addrlen == 0 || addrlen > sizeof(struct sockaddr_storage)) {
		errno = EINVAL;
		return -1;
	}
	if (sockfd < 0) {
		errno = EBADF;
		return -1;
	}
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_BIND, 0);
	wire_put_bytes(&w, addr, addrlen);
	size_t size = wire_writer_finish(&w);
	if (!size) {
		errno = EINVAL;
		return -1;
	}
	return client_call(msg, size, &sockfd, 1, NULL) < 0 ? -1 : 0;
}

void priv_exit(int status)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_EXIT, 0);
	wire_put_int(&w, status);
	size_t size = wire_writer_finish(&w);
	/* The monitor exits with our status once we are gone; telling it first
	 * only puts the reason in its audit trail. */
	if (size && channel.sock >= 0)
		client_call(msg, size, NULL, 0, NULL);
	exit(status);
}
