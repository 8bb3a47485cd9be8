/* privman-demo: a small HTTP server split by priv_init.
 *
 * Started as root, it calls priv_init("privman-demo"): from then on it runs
 * as the policy's unprivileged user with no capability, and the monitor
 * (its parent, still root) does for it only what
 * <sysconfdir>/privman.d/privman-demo grants: bind 127.0.0.1:80 and read
 * the files under /run/privman-demo/.
 *
 *   GET /self           the server's uid, gids and capability sets
 *   GET /file/PATH      PATH read through priv_open (the monitor decides)
 *   GET /direct/PATH    PATH read with plain open(2), as the server itself
 *   GET /quit           stop
 *
 * Usage: privman-demo [PORT]   (default 80) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "privman.h"

static void reply(int c, int code, const char *reason, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 code, reason, len);
	if (write(c, head, (size_t)n) < 0 || write(c, body, len) < 0)
		perror("privman-demo: write");
}

static void reply_text(int c, int code, const char *reason, const char *text)
{
	reply(c, code, reason, text, strlen(text));
}

static void serve_fd(int c, int fd)
{
	char body[16384];
	ssize_t n = read(fd, body, sizeof(body));
	close(fd);
	if (n < 0)
		reply_text(c, 500, "Error", "read failed\n");
	else
		reply(c, 200, "OK", body, (size_t)n);
}

static void serve_error(int c, const char *how, const char *path, int err)
{
	char text[1024];
	snprintf(text, sizeof(text), "%s(%s): %s\n", how, path, strerror(err));
	if (err == EACCES || err == EPERM)
		reply_text(c, 403, "Forbidden", text);
	else if (err == ENOENT)
		reply_text(c, 404, "Not Found", text);
	else
		reply_text(c, 500, "Error", text);
}

/* Who am I: the lines of /proc/self/status that say so. */
static void serve_self(int c)
{
	char status[8192], body[4096];
	size_t o = 0;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f) {
		reply_text(c, 500, "Error", "no /proc/self/status\n");
		return;
	}
	while (fgets(status, sizeof(status), f)) {
		static const char *const keys[] = {"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:",
						   "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(status, keys[i], strlen(keys[i])) == 0 &&
			    o + strlen(status) < sizeof(body))
				o += (size_t)snprintf(body + o, sizeof(body) - o, "%s", status);
	}
	fclose(f);
	reply(c, 200, "OK", body, o);
}

/* One request; returns 0 to go on, 1 to stop. */
static int serve(int c)
{
	char req[2048];
	ssize_t n = read(c, req, sizeof(req) - 1);
	if (n <= 0)
		return 0;
	req[n] = '\0';
	char path[1024];
	if (sscanf(req, "GET %1023s", path) != 1) {
		reply_text(c, 400, "Bad Request", "only GET\n");
		return 0;
	}
	if (strcmp(path, "/self") == 0) {
		serve_self(c);
	} else if (strncmp(path, "/file/", 6) == 0) {
		const char *file = path + 5; /* keep the leading slash */
		int fd = priv_open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			serve_error(c, "priv_open", file, errno);
		else
			serve_fd(c, fd);
	} else if (strncmp(path, "/direct/", 8) == 0) {
		const char *file = path + 7;
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			serve_error(c, "open", file, errno);
		else
			serve_fd(c, fd);
	} else if (strcmp(path, "/quit") == 0) {
		reply_text(c, 200, "OK", "bye\n");
		return 1;
	} else {
		reply_text(c, 404, "Not Found", "try /self, /file/PATH, /direct/PATH, /quit\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 80;

	priv_init("privman-demo");

	/* From here on: unprivileged. Only the monitor can bind a port below
	 * 1024 for us, and only the one the policy names. */
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		fprintf(stderr, "privman-demo: bind(2) of port %d worked without the monitor: "
				"the drop failed\n",
			port);
		priv_exit(1);
	}
	fprintf(stderr, "privman-demo: bind(2) of 127.0.0.1:%d as uid %u: %s (as expected)\n",
		port, (unsigned)getuid(), strerror(errno));
	if (priv_bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "privman-demo: priv_bind(127.0.0.1:%d): %s\n", port, strerror(errno));
		priv_exit(1);
	}
	if (listen(s, 16) < 0) {
		perror("privman-demo: listen");
		priv_exit(1);
	}
	fprintf(stderr, "privman-demo: priv_bind(127.0.0.1:%d) granted; serving as uid %u\n",
		port, (unsigned)getuid());
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("privman-demo: accept");
			priv_exit(1);
		}
		int stop = serve(c);
		close(c);
		if (stop)
			break;
	}
	close(s);
	priv_exit(0);
}
