/* myecho: an echo service whose listening socket comes from a custom
 * capability function, as the original's myecho made its socket.
 *
 *   myecho PORT BINDPORT DENIEDPORT
 *
 * Before priv_init it registers an info function (a greeting that says who
 * ran it) and a cap function (a TCP socket bound to 127.0.0.1:PORT, which
 * only root may bind). After priv_init, as the unprivileged user, it
 * prints the greeting, listens on the socket it was given, connects to it,
 * and echoes a line back. Then: a socket of its own bound with priv_bind()
 * to BINDPORT (granted) and DENIEDPORT (not granted), an IPv6 one to
 * BINDPORT, an unknown handle, and a registration after priv_init. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <privman.h>

static void loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Runs in the monitor's world, as root. */
static char *greeting(char *const *args)
{
	char buf[128];
	int n = 0;

	while (args != NULL && args[n] != NULL)
		n++;
	snprintf(buf, sizeof(buf), "hello %s from uid %d (%d args)",
		 n > 0 ? args[0] : "nobody", (int)geteuid(), n);
	return strdup(buf);
}

/* Runs in the monitor's world, as root: binds a privileged port. */
static int listener(char *const *args)
{
	struct sockaddr_in sin;
	int s, on = 1, e;

	if (args == NULL || args[0] == NULL) {
		errno = EINVAL;
		return -1;
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	loopback(&sin, atoi(args[0]));
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static int echo_once(int ls, int port)
{
	struct sockaddr_in sin;
	char buf[64];
	int c, a;
	ssize_t n;

	if (listen(ls, 1) < 0) {
		perror("listen");
		return -1;
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	loopback(&sin, port);
	if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("connect");
		return -1;
	}
	a = accept(ls, NULL, NULL);
	if (a < 0 || write(c, "echo me", 7) != 7) {
		perror("accept");
		return -1;
	}
	n = read(a, buf, sizeof(buf));
	if (n <= 0 || write(a, buf, n) != n) {
		perror("echo");
		return -1;
	}
	n = read(c, buf, sizeof(buf) - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	printf("echoed: %s\n", buf);
	close(a);
	close(c);
	return 0;
}

static void try_bind(int port)
{
	struct sockaddr_in sin;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int on = 1;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	loopback(&sin, port);
	if (priv_bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		printf("priv_bind %d: %s\n", port, strerror(errno));
	else
		printf("priv_bind %d: bound\n", port);
	close(s);
}

/* As the original's myecho6 did: the same port on the IPv6 loopback. */
static void try_bind6(int port)
{
	struct sockaddr_in6 sin6;
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	int on = 1;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	sin6.sin6_addr = in6addr_loopback;
	if (priv_bind(s, (struct sockaddr *)&sin6, sizeof(sin6)) < 0)
		printf("priv_bind [::1]:%d: %s\n", port, strerror(errno));
	else
		printf("priv_bind [::1]:%d: bound\n", port);
	close(s);
}

int main(int argc, char *argv[])
{
	char *args[] = { "myecho", "two", NULL };
	char *portarg[2] = { NULL, NULL };
	struct passwd *pw;
	int info, cap, fd;
	char *s;

	if (argc != 4) {
		fprintf(stderr, "usage: myecho PORT BINDPORT DENIEDPORT\n");
		return 2;
	}
	info = priv_register_info_fn(greeting);
	cap = priv_register_cap_fn(listener);
	printf("handles %d %d\n", info, cap);

	priv_init("myecho");

	pw = getpwuid(getuid());
	printf("myecho runs as %s\n", pw ? pw->pw_name : "?");

	s = priv_invoke_info_fn(info, args);
	if (s == NULL) {
		printf("info: %s\n", strerror(errno));
		return 1;
	}
	printf("info: %s\n", s);
	free(s);

	portarg[0] = argv[1];
	fd = priv_invoke_cap_fn(cap, portarg);
	if (fd < 0) {
		printf("cap: %s\n", strerror(errno));
		return 1;
	}
	if (echo_once(fd, atoi(argv[1])) < 0)
		return 1;
	close(fd);

	try_bind(atoi(argv[2]));
	try_bind(atoi(argv[3]));
	try_bind6(atoi(argv[2]));

	if (priv_invoke_info_fn(7, args) == NULL)
		printf("handle 7: %s\n", strerror(errno));
	if (priv_register_info_fn(greeting) < 0)
		printf("register after priv_init: %s\n", strerror(errno));
	return 0;
}
