/* Custom functions, the program's side: the table of registered functions,
 * priv_register_info_fn, priv_register_cap_fn, priv_invoke_info_fn and
 * priv_invoke_cap_fn. The monitor's side is custom.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "program/client.h"
#include "common/custom_table.h"
#include "privman.h"
#include "wire/wire.h"

/* One handle per function, of either kind, in the order they were
 * registered, as the original numbered them: 0, 1, 2... */
static struct {
	pthread_mutex_t lock;
	bool frozen;
	mode_t umask;
	int32_t count;
	struct {
		enum custom_kind kind;
		custom_info_fn info;
		custom_cap_fn cap;
	} fn[CUSTOM_MAX_FUNCTIONS];
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

void custom_freeze(void)
{
	pthread_mutex_lock(&table.lock);
	table.frozen = true;
	table.umask = umask(0);
	umask(table.umask);
	pthread_mutex_unlock(&table.lock);
}

mode_t custom_umask(void)
{
	return table.umask;
}

static int add(enum custom_kind kind, custom_info_fn info, custom_cap_fn cap)
{
	if (!info && !cap) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&table.lock);
	int err = 0;
	int32_t handle = -1;
	if (table.frozen)
		err = EPERM; /* the monitor's copy of the table is fixed */
	else if (table.count == CUSTOM_MAX_FUNCTIONS)
		err = ENOSPC;
	else {
		handle = table.count++;
		table.fn[handle].kind = kind;
		table.fn[handle].info = info;
		table.fn[handle].cap = cap;
	}
	pthread_mutex_unlock(&table.lock);
	if (err) {
		errno = err;
		return -1;
	}
	return (int)handle;
}

int priv_register_info_fn(char *(*fnptr)(char *const *))
{
	return add(CUSTOM_INFO, fnptr, NULL);
}

int priv_register_cap_fn(int (*fnptr)(char *const *))
{
	return add(CUSTOM_CAP, NULL, fnptr);
}

custom_info_fn custom_lookup_info(int32_t handle)
{
	if (handle < 0 || handle >= table.count || table.fn[handle].kind != CUSTOM_INFO)
		return NULL;
	return table.fn[handle].info;
}

custom_cap_fn custom_lookup_cap(int32_t handle)
{
	if (handle < 0 || handle >= table.count || table.fn[handle].kind != CUSTOM_CAP)
		return NULL;
	return table.fn[handle].cap;
}

/* Send kind, handle and the argument vector; returns the status and the fd
 * of the reply, or -1 with errno (E2BIG over the limits, which the monitor
 * also enforces). */
static int invoke(enum custom_kind kind, int handle, char *const args[], int *fd)
{
	size_t count = 0, bytes = 0;
	for (; args && args[count]; count++) {
		if (count == CUSTOM_MAX_ARGS) {
			errno = E2BIG;
			return -1;
		}
		bytes += strnlen(args[count], CUSTOM_MAX_ARG_BYTES) + 1;
		if (bytes > CUSTOM_MAX_ARG_BYTES) {
			errno = E2BIG;
			return -1;
		}
	}
	unsigned char *msg = malloc(WIRE_MAX_MESSAGE);
	if (!msg)
		return -1;
	struct wire_writer w;
	wire_writer_init(&w, msg, WIRE_MAX_MESSAGE, WIRE_OP_CUSTOM, 0);
	wire_put_int(&w, kind);
	wire_put_int(&w, handle);
	wire_put_int(&w, (int32_t)count);
	for (size_t i = 0; i < count; i++)
		wire_put_bytes(&w, args[i], strlen(args[i]) + 1);
	size_t size = wire_writer_finish(&w);
	int rc;
	if (!size) {
		errno = E2BIG;
		rc = -1;
	} else {
		rc = client_call(msg, size, NULL, 0, fd);
	}
	int e = errno;
	free(msg);
	errno = e;
	return rc;
}

/* The string of an info function: exactly `length` bytes on the pipe the
 * monitor filled and closed, then its end. */
static char *read_string(int fd, size_t length)
{
	char *s = length <= CUSTOM_MAX_INFO ? malloc(length + 1) : NULL;
	size_t got = 0;
	char extra;
	int err = length <= CUSTOM_MAX_INFO ? ENOMEM : EPROTO;
	if (!s)
		goto fail;
	while (got < length) {
		ssize_t n = read(fd, s + got, length - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EPROTO;
			goto fail;
		}
		got += (size_t)n;
	}
	ssize_t n;
	while ((n = read(fd, &extra, 1)) < 0 && errno == EINTR)
		;
	if (n != 0 || memchr(s, '\0', length)) {
		err = EPROTO;
		goto fail;
	}
	s[length] = '\0';
	close(fd);
	return s;
fail:
	free(s);
	close(fd);
	errno = err;
	return NULL;
}

char *priv_invoke_info_fn(int handle, char *const args[])
{
	int fd = -1;
	int length = invoke(CUSTOM_INFO, handle, args, &fd);
	if (length < 0)
		return NULL;
	return read_string(fd, (size_t)length);
}

int priv_invoke_cap_fn(int handle, char *const args[])
{
	int fd = -1;
	if (invoke(CUSTOM_CAP, handle, args, &fd) < 0)
		return -1;
	/* Every fd arrives close-on-exec (MSG_CMSG_CLOEXEC); the original's
	 * did not. */
	if (fcntl(fd, F_SETFD, 0) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
