/* The priv_pam_* calls: the program's side of a PAM transaction.
 *
 * priv_pam_start gets a channel of the transaction's own (one end of a
 * socketpair the monitor made; a root PAM worker holds the other end) and
 * returns a pointer to a handle of this file; the monitor never sees
 * that pointer, only the transaction id it chose. Every later call sends
 * one request on that channel and answers the worker's conversation
 * messages with the program's conversation function until the reply comes.
 *
 * A handle is checked against the live handles of this process before it is
 * touched: a forged pointer, one from another process (a fork), or one
 * already given to priv_pam_end is refused with PAM_SYSTEM_ERR and errno
 * EINVAL, and logged. Ended handles stay allocated for a while so that a
 * new handle does not reuse a stale one's address at once. */
#include "program/pam_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "program/client.h"
#include "wire/pam_wire.h"
#include "privman.h"

#define ENDED_KEPT 64
#define ITEM_SLOTS (PAM_AUTHTOK_TYPE + 1)

struct env_value {
	char *name;
	char *value;
	struct env_value *next;
};

struct privman_pam {
	bool live;
	int users;   /* calls in progress, under registry_lock */
	uint32_t id; /* the monitor's */
	int sock;    /* -1 once the transaction is lost */
	int lost;    /* errno that lost it */
	pid_t owner;
	struct pam_conv conv;
	pthread_mutex_t lock; /* error-checking: a call from inside our own
				 conversation is refused, not a deadlock */
	char *items[ITEM_SLOTS];
	struct env_value *env;
	unsigned char buf[WIRE_MAX_MESSAGE + 1];
	unsigned char out[WIRE_MAX_MESSAGE];
	struct pam_wire_conv conversation;
	struct privman_pam *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct privman_pam *live_handles, *ended_handles;
static size_t ended_count;

/* --- handles ------------------------------------------------------------------ */

static void forget_cache(struct privman_pam *h)
{
	for (size_t i = 0; i < ITEM_SLOTS; i++) {
		free(h->items[i]);
		h->items[i] = NULL;
	}
	while (h->env) {
		struct env_value *e = h->env;
		h->env = e->next;
		free(e->name);
		if (e->value)
			explicit_bzero(e->value, strlen(e->value));
		free(e->value);
		free(e);
	}
}

static void refuse_handle(const char *call, const char *kind)
{
	syslog(LOG_AUTHPRIV | LOG_WARNING, "%s: refused a %s PAM handle", call, kind);
	errno = EINVAL;
}

/* The live handle behind `pamh`, locked for one call, or NULL (errno). */
static struct privman_pam *acquire(pam_handle_t *pamh, const char *call)
{
	struct privman_pam *h = NULL, *p;
	const char *kind = "forged";

	pthread_mutex_lock(&registry_lock);
	for (p = live_handles; p; p = p->next) {
		if ((void *)p == (void *)pamh) {
			if (p->owner == getpid()) {
				h = p;
				h->users++;
			} else {
				kind = "foreign";
			}
			break;
		}
	}
	if (!p)
		for (p = ended_handles; p; p = p->next)
			if ((void *)p == (void *)pamh) {
				kind = "stale";
				break;
			}
	pthread_mutex_unlock(&registry_lock);
	if (!h) {
		refuse_handle(call, pamh ? kind : "NULL");
		return NULL;
	}
	int rc = pthread_mutex_lock(&h->lock);
	bool ended = false;
	pthread_mutex_lock(&registry_lock);
	if (rc != 0 || !h->live) {
		h->users--;
		ended = rc == 0;
	}
	pthread_mutex_unlock(&registry_lock);
	if (rc != 0) { /* EDEADLK: called from this handle's own conversation */
		syslog(LOG_AUTHPRIV | LOG_WARNING, "%s: called from the handle's own conversation",
		       call);
		errno = rc;
		return NULL;
	}
	if (ended) { /* ended by another thread while we waited */
		pthread_mutex_unlock(&h->lock);
		refuse_handle(call, "stale");
		return NULL;
	}
	return h;
}

static void release(struct privman_pam *h)
{
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_lock(&registry_lock);
	h->users--;
	pthread_mutex_unlock(&registry_lock);
}

static struct privman_pam *handle_new(void)
{
	struct privman_pam *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&h->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	h->sock = -1;
	h->owner = getpid();
	return h;
}

static void handle_free(struct privman_pam *h)
{
	forget_cache(h);
	if (h->sock >= 0)
		close(h->sock);
	pthread_mutex_destroy(&h->lock);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

/* After priv_pam_end: out of the live list, its memory wiped, its address
 * kept among the ended handles for a while. Called with h->lock held. */
static void retire(struct privman_pam *h)
{
	forget_cache(h);
	if (h->sock >= 0)
		close(h->sock);
	h->sock = -1;
	explicit_bzero(h->buf, sizeof(h->buf));
	explicit_bzero(h->out, sizeof(h->out));
	explicit_bzero(&h->conv, sizeof(h->conv));

	struct privman_pam *evict = NULL;
	pthread_mutex_lock(&registry_lock);
	for (struct privman_pam **pp = &live_handles; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	h->live = false;
	h->next = ended_handles;
	ended_handles = h;
	ended_count++;
	if (ended_count > ENDED_KEPT) {
		/* the oldest that no call is still inside */
		struct privman_pam **victim = NULL;
		for (struct privman_pam **pp = &ended_handles; *pp; pp = &(*pp)->next)
			if ((*pp)->users == 0 && *pp != h)
				victim = pp;
		if (victim) {
			evict = *victim;
			*victim = evict->next;
			ended_count--;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	if (evict)
		handle_free(evict);
}

int pam_client_channel_fd(pam_handle_t *pamh)
{
	struct privman_pam *h = acquire(pamh, "pam_client_channel_fd");
	if (!h)
		return -1;
	int fd = h->sock;
	release(h);
	return fd;
}

int64_t pam_client_transaction_id(pam_handle_t *pamh)
{
	struct privman_pam *h = acquire(pamh, "pam_client_transaction_id");
	if (!h)
		return -1;
	int64_t id = h->id;
	release(h);
	return id;
}

/* --- one exchange on the transaction channel ------------------------------------ */

static void lose(struct privman_pam *h, int err)
{
	if (h->sock >= 0)
		close(h->sock);
	h->sock = -1;
	h->lost = err;
}

/* Run the program's conversation function on the worker's messages and send
 * its answers. Returns 0, or -1 when the channel broke. */
static int converse(struct privman_pam *h, size_t size)
{
	struct pam_wire_conv *c = &h->conversation;
	if (pam_wire_decode_conv(h->buf, size, h->id, c) < 0)
		return -1;
	struct pam_message messages[PAM_MAX_NUM_MSG];
	const struct pam_message *pointers[PAM_MAX_NUM_MSG];
	for (int i = 0; i < c->count; i++) {
		messages[i].msg_style = c->style[i];
		messages[i].msg = c->null_text[i] ? NULL : c->text[i];
		pointers[i] = &messages[i];
	}
	struct pam_response *resp = NULL;
	int status = PAM_CONV_ERR;
	if (h->conv.conv)
		status = h->conv.conv(c->count, pointers, &resp, h->conv.appdata_ptr);
	if (status == PAM_SUCCESS && !resp)
		status = PAM_CONV_ERR;
	size_t out = pam_wire_encode_answer(h->out, sizeof(h->out), h->id, status, c->count,
					    status == PAM_SUCCESS ? resp : NULL);
	if (resp)
		pam_wire_free_answer(resp, c->count);
	if (!out) /* an answer too long, or too many to carry */
		out = pam_wire_encode_answer(h->out, sizeof(h->out), h->id, PAM_CONV_ERR, 0, NULL);
	int rc = wire_send(h->sock, h->out, out, NULL, 0, 0);
	explicit_bzero(h->out, out);
	return rc;
}

/* Wait for the reply to request `op`, answering conversations on the way
 * when `converses`. Returns the reply's PAM status and, when `text` is not
 * NULL, its text field (NULL or a malloc'd copy in *text); PAM_SYSTEM_ERR
 * with errno when the transaction is lost. */
static int await_reply(struct privman_pam *h, uint32_t op, bool converses, char **text)
{
	if (text)
		*text = NULL;
	for (;;) {
		int fds[WIRE_MAX_FDS], nfds = 0;
		ssize_t n = wire_recv(h->sock, h->buf, sizeof(h->buf), fds, &nfds, 0);
		if (n <= 0) {
			if (n == 0 || errno == ECONNRESET)
				errno = EPIPE;
			goto lost;
		}
		wire_close_fds(fds, nfds);
		struct wire_header hd;
		struct wire_reader r;
		if (nfds || wire_open_message(h->buf, (size_t)n, &hd, &r) < 0 || hd.id != h->id)
			goto protocol;
		if (hd.op == PAM_WIRE_CONV && converses) {
			if (converse(h, (size_t)n) < 0)
				goto protocol;
			continue;
		}
		if (hd.op != op)
			goto protocol;
		int32_t status = wire_get_int(&r);
		if (r.broken || status < 0 || status > 63)
			goto protocol;
		if (text) {
			char value[PAM_WIRE_MAX_ENV + 1];
			int len = pam_wire_get_text(&r, value, sizeof(value));
			if (len == -2)
				goto protocol;
			if (len >= 0 && !(*text = strdup(value))) {
				explicit_bzero(value, sizeof(value));
				errno = ENOMEM;
				return PAM_BUF_ERR;
			}
			explicit_bzero(value, sizeof(value));
		}
		if (!wire_reader_done(&r)) {
			if (text) {
				free(*text);
				*text = NULL;
			}
			goto protocol;
		}
		return status;
	}
protocol:
	errno = EPROTO;
lost:
	lose(h, errno);
	return PAM_SYSTEM_ERR;
}

/* Send the request in h->out (`size` bytes; wiped once sent) and wait for
 * its reply (await_reply). */
static int exchange(struct privman_pam *h, uint32_t op, size_t size, bool converses, char **text)
{
	if (text)
		*text = NULL;
	if (h->sock < 0) {
		explicit_bzero(h->out, size);
		errno = h->lost ? h->lost : EPIPE;
		return PAM_SYSTEM_ERR;
	}
	int rc = wire_send(h->sock, h->out, size, NULL, 0, 0);
	explicit_bzero(h->out, size);
	if (rc < 0) {
		lose(h, errno);
		return PAM_SYSTEM_ERR;
	}
	return await_reply(h, op, converses, text);
}

/* --- the calls ------------------------------------------------------------------ */

int priv_pam_start(const char *service, const char *user, const struct pam_conv *conv,
		   pam_handle_t **pamh_p)
{
	if (!pamh_p) {
		errno = EINVAL;
		return PAM_SYSTEM_ERR;
	}
	*pamh_p = NULL;
	if (!service || !conv || !service[0] || strnlen(service, 256) > 255 ||
	    (user && strnlen(user, PAM_WIRE_MAX_TEXT + 1) > PAM_WIRE_MAX_TEXT)) {
		errno = EINVAL;
		return PAM_SYSTEM_ERR;
	}

	struct privman_pam *h = handle_new();
	if (!h) {
		errno = ENOMEM;
		return PAM_BUF_ERR;
	}
	/* The monitor makes the transaction's socketpair, queues on it the
	 * BEGIN of the service and user named here, and sends our end: one
	 * round trip, then the worker's answer to BEGIN. */
	struct wire_writer w;
	int sock = -1;
	wire_writer_init(&w, h->out, sizeof(h->out), WIRE_OP_PAM_START, 0);
	pam_wire_put_text(&w, service);
	pam_wire_put_text(&w, user);
	size_t size = wire_writer_finish(&w);
	int id = size ? client_call(h->out, size, NULL, 0, &sock) : -1;
	int e = size ? errno : EINVAL;
	explicit_bzero(h->out, size);
	if (id < 0 || sock < 0) {
		if (sock >= 0)
			close(sock);
		handle_free(h);
		errno = id < 0 ? e : EPROTO;
		/* The policy's `auth` refused: as a service that may not be used. */
		return id < 0 && e == EPERM ? PAM_PERM_DENIED : PAM_SYSTEM_ERR;
	}
	h->sock = sock;
	h->id = (uint32_t)id;
	h->conv = *conv;

	int status = await_reply(h, PAM_WIRE_BEGIN, false, NULL);
	if (status != PAM_SUCCESS) {
		/* The worker refused the service: the policy does not grant it. */
		e = status == PAM_PERM_DENIED ? EPERM : errno;
		handle_free(h);
		errno = e;
		return status;
	}
	h->live = true;
	pthread_mutex_lock(&registry_lock);
	h->next = live_handles;
	live_handles = h;
	pthread_mutex_unlock(&registry_lock);
	*pamh_p = (pam_handle_t *)(void *)h;
	return PAM_SUCCESS;
}

static int call(pam_handle_t *pamh, int function, int flags, const char *name)
{
	struct privman_pam *h = acquire(pamh, name);
	if (!h)
		return PAM_SYSTEM_ERR;
	struct wire_writer w;
	wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_CALL, h->id);
	wire_put_int(&w, function);
	wire_put_int(&w, flags);
	size_t size = wire_writer_finish(&w);
	int status = exchange(h, PAM_WIRE_CALL, size, true, NULL);
	int e = errno;
	release(h);
	errno = e;
	return status;
}

int priv_pam_authenticate(pam_handle_t *pamh, int flags)
{
	return call(pamh, PAM_WIRE_AUTHENTICATE, flags, "priv_pam_authenticate");
}

int priv_pam_acct_mgmt(pam_handle_t *pamh, int flags)
{
	return call(pamh, PAM_WIRE_ACCT_MGMT, flags, "priv_pam_acct_mgmt");
}

int priv_pam_setcred(pam_handle_t *pamh, int flags)
{
	return call(pamh, PAM_WIRE_SETCRED, flags, "priv_pam_setcred");
}

int priv_pam_open_session(pam_handle_t *pamh, int flags)
{
	return call(pamh, PAM_WIRE_OPEN_SESSION, flags, "priv_pam_open_session");
}

int priv_pam_close_session(pam_handle_t *pamh, int flags)
{
	return call(pamh, PAM_WIRE_CLOSE_SESSION, flags, "priv_pam_close_session");
}

int priv_pam_chauthtok(pam_handle_t *pamh, int flags)
{
	return call(pamh, PAM_WIRE_CHAUTHTOK, flags, "priv_pam_chauthtok");
}

int priv_pam_end(pam_handle_t *pamh, int pam_status)
{
	struct privman_pam *h = acquire(pamh, "priv_pam_end");
	if (!h)
		return PAM_SYSTEM_ERR;
	struct wire_writer w;
	wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_END, h->id);
	wire_put_int(&w, pam_status);
	size_t size = wire_writer_finish(&w);
	int status = exchange(h, PAM_WIRE_END, size, false, NULL);
	int e = errno;
	/* Like pam_end, the handle is gone whatever the worker said. */
	retire(h);
	release(h);
	errno = e;
	return status;
}

int priv_pam_set_item(pam_handle_t *pamh, int item_type, const void *item)
{
	struct privman_pam *h = acquire(pamh, "priv_pam_set_item");
	if (!h)
		return PAM_SYSTEM_ERR;
	int status;
	if (item_type == PAM_CONV) {
		/* The conversation runs here, in the program: it is ours to keep. */
		if (item) {
			h->conv = *(const struct pam_conv *)item;
			status = PAM_SUCCESS;
		} else {
			status = PAM_PERM_DENIED;
			errno = EINVAL;
		}
	} else if (!pam_wire_string_item(item_type)) {
		/* PAM_FAIL_DELAY is a function pointer and PAM_XAUTHDATA holds
		 * pointers: neither can cross to the worker. */
		status = PAM_BAD_ITEM;
		errno = EINVAL;
	} else if (item && strnlen(item, PAM_WIRE_MAX_TEXT + 1) > PAM_WIRE_MAX_TEXT) {
		status = PAM_BUF_ERR;
		errno = ENAMETOOLONG;
	} else {
		struct wire_writer w;
		wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_SET_ITEM, h->id);
		wire_put_int(&w, item_type);
		pam_wire_put_text(&w, item);
		size_t size = wire_writer_finish(&w);
		status = exchange(h, PAM_WIRE_SET_ITEM, size, false, NULL);
		if (item_type == PAM_SERVICE && status == PAM_BAD_ITEM)
			errno = EPERM; /* chosen at pam_start, for good */
		if (item_type < ITEM_SLOTS) {
			free(h->items[item_type]);
			h->items[item_type] = NULL;
		}
	}
	int e = errno;
	release(h);
	errno = e;
	return status;
}

int priv_pam_get_item(pam_handle_t *pamh, int item_type, const void **item)
{
	if (!item) {
		errno = EINVAL;
		return PAM_SYSTEM_ERR;
	}
	*item = NULL;
	struct privman_pam *h = acquire(pamh, "priv_pam_get_item");
	if (!h)
		return PAM_SYSTEM_ERR;
	int status;
	if (item_type == PAM_CONV) {
		*item = &h->conv;
		status = PAM_SUCCESS;
	} else if (item_type == PAM_FAIL_DELAY) {
		status = PAM_SUCCESS; /* never set: see priv_pam_set_item */
	} else if (!pam_wire_string_item(item_type) || item_type == PAM_AUTHTOK ||
		   item_type == PAM_OLDAUTHTOK) {
		/* Secrets stay with the worker. */
		status = PAM_BAD_ITEM;
		errno = pam_wire_string_item(item_type) ? EPERM : EINVAL;
	} else {
		struct wire_writer w;
		char *value = NULL;
		wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_GET_ITEM, h->id);
		wire_put_int(&w, item_type);
		size_t size = wire_writer_finish(&w);
		status = exchange(h, PAM_WIRE_GET_ITEM, size, false, &value);
		if (status == PAM_SUCCESS) {
			free(h->items[item_type]);
			h->items[item_type] = value;
			*item = value;
		} else {
			free(value);
		}
	}
	int e = errno;
	release(h);
	errno = e;
	return status;
}

int priv_pam_putenv(pam_handle_t *pamh, const char *name_value)
{
	struct privman_pam *h = acquire(pamh, "priv_pam_putenv");
	if (!h)
		return PAM_SYSTEM_ERR;
	int status;
	if (!name_value || !name_value[0]) {
		status = PAM_PERM_DENIED;
		errno = EINVAL;
	} else if (strnlen(name_value, PAM_WIRE_MAX_ENV + 1) > PAM_WIRE_MAX_ENV) {
		status = PAM_BUF_ERR;
		errno = E2BIG;
	} else {
		struct wire_writer w;
		wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_PUTENV, h->id);
		pam_wire_put_text(&w, name_value);
		size_t size = wire_writer_finish(&w);
		status = exchange(h, PAM_WIRE_PUTENV, size, false, NULL);
	}
	int e = errno;
	release(h);
	errno = e;
	return status;
}

/* The value is kept per name in the handle, as pam_getenv's points into
 * the handle: valid until the same name is read again or priv_pam_end. */
const char *priv_pam_getenv(pam_handle_t *pamh, const char *name)
{
	struct privman_pam *h = acquire(pamh, "priv_pam_getenv");
	if (!h)
		return NULL;
	const char *result = NULL;
	int e = 0;
	if (!name || !name[0] || strnlen(name, PAM_WIRE_MAX_TEXT + 1) > PAM_WIRE_MAX_TEXT) {
		e = EINVAL;
		goto out;
	}
	struct wire_writer w;
	char *value = NULL;
	wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_GETENV, h->id);
	pam_wire_put_text(&w, name);
	size_t size = wire_writer_finish(&w);
	int status = exchange(h, PAM_WIRE_GETENV, size, false, &value);
	if (status != PAM_SUCCESS || !value) {
		e = status == PAM_SUCCESS ? ENOENT : errno;
		free(value);
		goto out;
	}
	struct env_value *ev;
	for (ev = h->env; ev; ev = ev->next)
		if (strcmp(ev->name, name) == 0)
			break;
	if (!ev) {
		ev = calloc(1, sizeof(*ev));
		if (!ev || !(ev->name = strdup(name))) {
			free(ev);
			free(value);
			e = ENOMEM;
			goto out;
		}
		ev->next = h->env;
		h->env = ev;
	} else if (ev->value) {
		explicit_bzero(ev->value, strlen(ev->value));
		free(ev->value);
	}
	ev->value = value;
	result = value;
out:
	release(h);
	errno = e;
	return result;
}

int priv_pam_fail_delay(pam_handle_t *pamh, unsigned int usec)
{
	struct privman_pam *h = acquire(pamh, "priv_pam_fail_delay");
	if (!h)
		return PAM_SYSTEM_ERR;
	struct wire_writer w;
	wire_writer_init(&w, h->out, sizeof(h->out), PAM_WIRE_FAIL_DELAY, h->id);
	wire_put_int(&w, (int32_t)usec);
	size_t size = wire_writer_finish(&w);
	int status = exchange(h, PAM_WIRE_FAIL_DELAY, size, false, NULL);
	int e = errno;
	release(h);
	errno = e;
	return status;
}
