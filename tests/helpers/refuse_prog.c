/* A program split by priv_init that asks for what the monitor's process
 * operations refuse, speaking the wire itself where the library would
 * refuse first (as hostile program code can), for tests/test_proc_audit.c.
 * Each prints "ERR <errno name>" for the refusal it was after, or "OK".
 *
 *   refuse_prog APPNAME forkcap
 *       asks for fork channels, never forking, until one is refused
 *   refuse_prog APPNAME waitfull USER
 *       priv_execve_spawn of /bin/sleep 2 as USER, then sends wait4
 *       requests for it on one channel, never reading a reply, until one
 *       is answered at once
 *   refuse_prog APPNAME waitopts
 *       priv_wait4 with WUNTRACED
 *   refuse_prog APPNAME rerunflags|respawnflags USER
 *       a rerunas (respawn_as) request with flags 0x100 (1)
 *   refuse_prog APPNAME popenmode|popennouser USER
 *       a popen_as request with mode 7, or with no user
 *   refuse_prog APPNAME spawnmany USER N
 *       N priv_execve_spawn of /bin/sleep 2 never waited for: "ERR X"
 *       when one is refused */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program/client.h"
#include "privman.h"
#include "wire/wire.h"

static char *env[] = {"PATH=/bin", NULL};

static int report(int rc)
{
	if (rc >= 0)
		printf("OK\n");
	else
		printf("ERR %s\n", errno == EAGAIN ? "EAGAIN" : errno == EINVAL ? "EINVAL" : strerror(errno));
	return 0;
}

static int forkcap(void)
{
	for (int i = 0; i < 1000; i++) {
		unsigned char msg[64];
		struct wire_writer w;
		wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_FORK, 0);
		size_t size = wire_writer_finish(&w);
		int sock = -1;
		if (client_call(msg, size, NULL, 0, &sock) < 0)
			return report(-1);
	}
	return report(0);
}

static pid_t spawn_sleep(const char *user)
{
	char *argv[] = {"sleep", "2", NULL};
	return priv_execve_spawn("/bin/sleep", argv, env, user, NULL);
}

static int waitfull(const char *user)
{
	if (spawn_sleep(user) < 0)
		return report(-1);
	int sock = client_channel_fd();
	for (uint32_t id = 1; id < 1000; id++) {
		unsigned char msg[64];
		struct wire_writer w;
		wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_WAIT, id);
		wire_put_int(&w, -1);
		wire_put_int(&w, 0);
		size_t size = wire_writer_finish(&w);
		if (wire_send(sock, msg, size, NULL, 0, 0) < 0)
			return report(-1);
		unsigned char buf[WIRE_MAX_MESSAGE];
		int fds[WIRE_MAX_FDS], nfds = 0;
		ssize_t n = wire_recv(sock, buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			usleep(200); /* deferred: no answer yet */
			n = wire_recv(sock, buf, sizeof(buf), fds, &nfds, MSG_DONTWAIT);
		}
		if (n < 0 && errno == EAGAIN)
			continue;
		struct wire_header h;
		struct wire_reader r;
		if (n <= 0 || wire_open_message(buf, (size_t)n, &h, &r) < 0)
			return report(-1);
		int32_t status = wire_get_int(&r);
		errno = status < 0 ? -status : 0;
		return report(status < 0 ? -1 : 0);
	}
	return report(0);
}

static int rerun_raw(uint32_t op, int32_t flags, const char *user)
{
	unsigned char msg[256];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), op, 0);
	uint64_t fn = 0;
	wire_put_bytes(&w, &fn, sizeof(fn));
	wire_put_int(&w, flags);
	wire_put_bytes(&w, user, strlen(user) + 1);
	wire_put_bytes(&w, "", 1);
	wire_put_int(&w, 0);
	size_t size = wire_writer_finish(&w);
	return report(client_call(msg, size, NULL, 0, NULL));
}

static int popen_raw(int32_t mode, const char *user)
{
	unsigned char msg[256];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_POPEN, 0);
	wire_put_bytes(&w, "true", 5);
	wire_put_int(&w, mode);
	wire_put_bytes(&w, user, strlen(user) + 1);
	size_t size = wire_writer_finish(&w);
	int fd = -1;
	return report(client_call(msg, size, NULL, 0, &fd));
}

static int spawnmany(const char *user, int n)
{
	for (int i = 0; i < n; i++)
		if (spawn_sleep(user) < 0)
			return report(-1);
	return report(0);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	const char *cmd = argv[2];
	const char *user = argc > 3 ? argv[3] : "";
	if (strcmp(cmd, "forkcap") == 0)
		return forkcap();
	if (strcmp(cmd, "waitfull") == 0)
		return waitfull(user);
	if (strcmp(cmd, "waitopts") == 0)
		return report(priv_wait4(-1, NULL, WUNTRACED, NULL));
	if (strcmp(cmd, "rerunflags") == 0)
		return rerun_raw(WIRE_OP_RERUN, 0x100, user);
	if (strcmp(cmd, "respawnflags") == 0)
		return rerun_raw(WIRE_OP_RESPAWN, 1, user);
	if (strcmp(cmd, "popenmode") == 0)
		return popen_raw(7, user);
	if (strcmp(cmd, "popennouser") == 0)
		return popen_raw(0, "");
	if (strcmp(cmd, "spawnmany") == 0 && argc == 5)
		return spawnmany(user, atoi(argv[4]));
	return 2;
}
