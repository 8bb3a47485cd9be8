/* Processes, the program's side: priv_fork, priv_daemon, priv_wait4,
 * priv_execve, priv_rerunas, priv_respawn_as, priv_popen_as, priv_pclose.
 * The monitor's side, and what each request may do, is in proc.c. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "privman.h"
#include "wire.h"

/* A request being built: on the heap, as the argument lists may fill a
 * whole message. */
struct request {
	struct wire_writer w;
	unsigned char buf[WIRE_MAX_MESSAGE];
};

static struct request *request_new(uint32_t op)
{
	struct request *r = malloc(sizeof(*r));
	if (r)
		wire_writer_init(&r->w, r->buf, sizeof(r->buf), op, 0);
	return r;
}

/* A string travels with its NUL; NULL as the NUL alone. */
static void put_cstr(struct wire_writer *w, const char *s)
{
	if (!s)
		s = "";
	size_t n = strnlen(s, WIRE_MAX_PAYLOAD);
	if (n >= WIRE_MAX_PAYLOAD) {
		w->broken = true;
		return;
	}
	wire_put_bytes(w, s, n + 1);
}

#define MAX_LIST 512

static void put_list(struct wire_writer *w, char *const list[])
{
	int32_t n = 0;
	while (list && list[n]) {
		if (++n > MAX_LIST) {
			w->broken = true;
			return;
		}
	}
	wire_put_int(w, n);
	for (int32_t i = 0; i < n; i++)
		put_cstr(w, list[i]);
}

/* Send and wait; returns the status, or -1 with errno (E2BIG when the
 * request does not fit in one message). */
static int request_call(struct request *r, int *fd_out, void *fields, size_t cap, size_t *size)
{
	size_t len = wire_writer_finish(&r->w);
	if (!len) {
		free(r);
		errno = E2BIG;
		return -1;
	}
	int rc = client_call_fields(r->buf, len, NULL, 0, fd_out, fields, cap, size);
	int e = errno;
	free(r);
	errno = e;
	return rc;
}

/* --- fork and daemon ------------------------------------------------------------ */

static int hello(void)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_HELLO, 0);
	size_t size = wire_writer_finish(&w);
	return client_call(msg, size, NULL, 0, NULL);
}

/* The monitor gives a socket for the child, which the child's first message
 * then proves to be its own: the kernel attaches its credentials. */
pid_t priv_fork(void)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_FORK, 0);
	size_t size = wire_writer_finish(&w);
	int sock = -1;
	if (client_call(msg, size, NULL, 0, &sock) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sock);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		/* The parent's channel was left behind by the fork handler. If the
		 * monitor refuses the hello, every later call fails with EPIPE. */
		client_attach(sock);
		int e = errno;
		hello();
		errno = e;
		return 0;
	}
	close(sock);
	return pid;
}

/* daemon(3) for both halves: the monitor detaches first (its first
 * process exits), then this process forks, with priv_fork so that the child
 * keeps the monitor, waits until the monitor knows the child, and exits. */
int priv_daemon(int nochdir, int noclose)
{
	unsigned char msg[64];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_DAEMON, 0);
	wire_put_int(&w, nochdir);
	wire_put_int(&w, noclose);
	size_t size = wire_writer_finish(&w);
	if (client_call(msg, size, NULL, 0, NULL) < 0)
		return -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = priv_fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid > 0) {
		char c;
		close(p[1]);
		/* The child writes once its hello was answered. */
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	if (write(p[1], "", 1) < 0) {
		/* the parent is gone already: nothing waits */
	}
	close(p[1]);
	if (setsid() < 0)
		return -1;
	if (!nochdir && chdir("/") < 0)
		return -1;
	if (!noclose) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0)
			return -1;
		if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(null, STDERR_FILENO) < 0) {
			close(null);
			return -1;
		}
		close(null);
	}
	return 0;
}

/* --- wait4 ------------------------------------------------------------------------ */

pid_t priv_wait4(pid_t pid, int *status, int options, struct rusage *rusage)
{
	unsigned char msg[64], fields[192];
	struct wire_writer w;
	size_t size = 0;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_WAIT, 0);
	wire_put_int(&w, (int32_t)pid);
	wire_put_int(&w, options);
	size_t len = wire_writer_finish(&w);
	int rc;
	do
		rc = client_call_fields(msg, len, NULL, 0, NULL, fields, sizeof(fields), &size);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -1;
	struct wire_reader r = {.p = fields, .left = size, .broken = false};
	struct rusage usage;
	int32_t wstatus = wire_get_int(&r);
	if (wire_get_bytes(&r, &usage, sizeof(usage)) != sizeof(usage) || !wire_reader_done(&r)) {
		errno = EPROTO;
		return -1;
	}
	if (rc > 0) {
		if (status)
			*status = wstatus;
		if (rusage)
			*rusage = usage;
	}
	return rc;
}

/* --- running as another user ----------------------------------------------------- */

static int rerun(uint32_t op, void (*fnptr)(char *const *), char *const arg[], const char *user,
		 const char *chroot, int flags)
{
	struct request *r = request_new(op);
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	/* The function's address is the same in the new process: the monitor
	 * that forks it is a fork of this program. */
	uint64_t address = (uint64_t)(uintptr_t)fnptr;
	wire_put_bytes(&r->w, &address, sizeof(address));
	wire_put_int(&r->w, flags);
	put_cstr(&r->w, user);
	put_cstr(&r->w, chroot);
	put_list(&r->w, arg);
	return request_call(r, NULL, NULL, 0, NULL);
}

int priv_rerunas(void (*fnptr)(char *const *), char *const arg[], const char *user,
		 const char *chroot, int flags)
{
	if (flags & ~PRIV_RR_OLD_SLAVE_MONITORED) {
		errno = EINVAL;
		return -1;
	}
	return rerun(WIRE_OP_RERUN, fnptr, arg, user, chroot, flags);
}

int priv_respawn_as(void (*fnptr)(char *const *), char *const arg[], const char *user,
		    const char *chroot)
{
	return rerun(WIRE_OP_RESPAWN, fnptr, arg, user, chroot, 0);
}

int priv_execve(const char *program, char *const argv[], char *const envp[], const char *user,
		const char *chroot)
{
	if (!program) {
		errno = EFAULT;
		return -1;
	}
	struct request *r = request_new(WIRE_OP_EXECVE);
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	put_cstr(&r->w, program);
	put_cstr(&r->w, user);
	put_cstr(&r->w, chroot);
	put_list(&r->w, argv);
	put_list(&r->w, envp);
	return request_call(r, NULL, NULL, 0, NULL);
}

/* --- popen ------------------------------------------------------------------------ */

/* The streams priv_popen_as opened, with the pid priv_pclose waits for. */
struct popened {
	FILE *stream;
	pid_t pid;
	struct popened *next;
};
static struct popened *popened;
static pthread_mutex_t popened_lock = PTHREAD_MUTEX_INITIALIZER;

FILE *priv_popen_as(const char *command, const char *type, const char *user)
{
	if (!command || !type || !user) {
		errno = EINVAL;
		return NULL;
	}
	int cloexec = 0;
	if ((type[0] != 'r' && type[0] != 'w') ||
	    (type[1] && !(type[1] == 'e' && type[2] == '\0'))) {
		errno = EINVAL;
		return NULL;
	}
	cloexec = type[1] == 'e';
	struct popened *entry = malloc(sizeof(*entry));
	struct request *r = request_new(WIRE_OP_POPEN);
	if (!entry || !r) {
		free(entry);
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	put_cstr(&r->w, command);
	wire_put_int(&r->w, type[0] == 'r' ? 0 : 1);
	put_cstr(&r->w, user);
	int fd = -1;
	int pid = request_call(r, &fd, NULL, 0, NULL);
	if (pid < 0) {
		free(entry);
		return NULL;
	}
	if (!cloexec)
		fcntl(fd, F_SETFD, 0);
	FILE *f = fdopen(fd, type[0] == 'r' ? "r" : "w");
	if (!f) {
		int e = errno;
		close(fd);
		free(entry);
		priv_wait4(pid, NULL, 0, NULL);
		errno = e;
		return NULL;
	}
	entry->stream = f;
	entry->pid = pid;
	pthread_mutex_lock(&popened_lock);
	entry->next = popened;
	popened = entry;
	pthread_mutex_unlock(&popened_lock);
	return f;
}

int priv_pclose(FILE *stream)
{
	struct popened *found = NULL;
	pthread_mutex_lock(&popened_lock);
	for (struct popened **p = &popened; *p; p = &(*p)->next) {
		if ((*p)->stream == stream) {
			found = *p;
			*p = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&popened_lock);
	if (!found) {
		errno = ECHILD;
		return -1;
	}
	pid_t pid = found->pid;
	free(found);
	fclose(stream);
	int status;
	if (priv_wait4(pid, &status, 0, NULL) < 0)
		return -1;
	return status;
}
