/* What the privman learn tests share: a private directory, real users,
 * the privman command and its helpers run through the shell, the policy
 * written read back, a server started in the background. Ports 780-799. */
#ifndef PRIVMAN_LEARNTEST_H
#define PRIVMAN_LEARNTEST_H

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"

#define USER1 "pmtestlrn1"

static char *dir;
static pid_t spawned; /* a server still running: ended by teardown */

static inline void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure(USER1);
}

static inline void teardown(void)
{
	if (spawned > 0) { /* a failed test left it: privman learn passes it on */
		kill(spawned, SIGTERM);
		for (int i = 0; i < 200 && waitpid(spawned, NULL, WNOHANG) == 0; i++)
			usleep(10000);
		kill(spawned, SIGKILL);
		waitpid(spawned, NULL, 0);
	}
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}


static inline const char *built(const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	char rel[PATH_MAX];
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/%s", build && *build ? build : "build", name);
	char *path = paths[next++ % 4];
	if (!realpath(rel, path))
		snprintf(path, PATH_MAX, "%s", rel);
	return path;
}

static char out[1 << 16];
static char err[1 << 16];

static inline void slurp_path(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

static inline void slurp(const char *name, char *buf, size_t cap)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	slurp_path(p, buf, cap);
}

/* `text` with every "@" replaced by the test directory. */
static inline void expand(const char *text, char *buf, size_t cap)
{
	size_t o = 0, n = strlen(dir);
	for (const char *p = text; *p; p++) {
		size_t add = *p == '@' ? n : 1;
		cr_assert(o + add < cap, "%s: too long", text);
		if (*p == '@')
			memcpy(buf + o, dir, n);
		else
			buf[o] = *p;
		o += add;
	}
	buf[o] = '\0';
}

/* Run a shell command line ("@": the test directory) in it, stdout and
 * stderr into out and err; returns the exit status. */
static inline int sh(const char *line)
{
	char expanded[16384], cmd[20000];
	expand(line, expanded, sizeof(expanded));
	snprintf(cmd, sizeof(cmd), "cd %s && timeout -s KILL 60 %s >%s/out 2>%s/err </dev/null",
		 dir, expanded, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

/* privman learn ARGS; the policy written is read into `policy`. */
static char policy[1 << 16];

static inline int learn(const char *args, const char *output)
{
	char line[16384 + PATH_MAX + 16];
	snprintf(line, sizeof(line), "%s learn %s", built("privman"), args);
	int rc = sh(line);
	policy[0] = '\0';
	if (output)
		slurp(output, policy, sizeof(policy));
	return rc;
}

static inline void expect_learn(const char *args, const char *output)
{
	int rc = learn(args, output);
	cr_assert_eq(rc, 0, "privman learn %s: status %d\nstderr:\n%s", args, rc, err);
}

/* privman check of a written policy passes (out and err are kept). */
static inline void expect_checks(const char *name)
{
	char cmd[PATH_MAX * 3], said[1 << 14];
	snprintf(cmd, sizeof(cmd), "%s check -q -c %s/%s >%s/check.out 2>&1", built("privman"), dir,
		 name, dir);
	int rc = system(cmd);
	slurp("check.out", said, sizeof(said));
	cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
		  "privman check of %s failed:\n%s\npolicy:\n%s", name, said, policy);
}

static inline void expect_line(const char *text)
{
	char want[PATH_MAX * 2];
	expand(text, want, sizeof(want));
	cr_assert(strstr(policy, want), "no \"%s\" in the policy:\n%s\nstderr:\n%s", want, policy,
		  err);
}

static inline void expect_no_line(const char *text)
{
	char want[PATH_MAX * 2];
	expand(text, want, sizeof(want));
	cr_assert(!strstr(policy, want), "\"%s\" in the policy:\n%s", want, policy);
}

/* A file only root can read. */
static inline void secret(const char *name, const char *text)
{
	char *p = pmtest_write_file(dir, name, text);
	cr_assert(chmod(p, 0600) == 0);
	free(p);
}

static inline void make_dir(const char *name, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert(mkdir(p, mode) == 0 || errno == EEXIST, "mkdir %s: %s", p, strerror(errno));
}

/* The policy written, installed for APP in @/conf. */
static inline void install(const char *name, const char *app)
{
	char from[PATH_MAX], to[PATH_MAX];
	make_dir("conf", 0755);
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	snprintf(to, sizeof(to), "%s/conf/%s", dir, app);
	cr_assert(rename(from, to) == 0, "rename %s: %s", from, strerror(errno));
}

/* --- the demo server ---------------------------------------------------------------- */

/* GET `path` from 127.0.0.1:port: the body into buf. Waits for the server
 * for up to 5 s. Returns the HTTP status, or -1. */
static inline int http_get(int port, const char *path, char *buf, size_t cap)
{
	for (int attempt = 0; attempt < 250; attempt++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(s);
			usleep(20000);
			continue;
		}
		char req[PATH_MAX + 64];
		int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
		cr_assert(write(s, req, (size_t)n) == n);
		size_t got = 0;
		ssize_t r;
		while (got + 1 < cap && (r = read(s, buf + got, cap - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = '\0';
		close(s);
		int status = -1;
		sscanf(buf, "HTTP/1.%*d %d", &status);
		char *body = strstr(buf, "\r\n\r\n");
		if (body)
			memmove(buf, body + 4, strlen(body + 4) + 1);
		return status;
	}
	return -1;
}

static inline pid_t spawn(const char *line)
{
	char expanded[16384], cmd[20000];
	expand(line, expanded, sizeof(expanded));
	snprintf(cmd, sizeof(cmd), "cd %s && exec %s >%s/out 2>%s/err </dev/null", dir, expanded,
		 dir, dir);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	spawned = pid;
	return pid;
}

static inline int wait_exit(pid_t pid)
{
	int status;
	for (int i = 0; i < 1000; i++) {
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid) {
			spawned = 0;
			slurp("out", out, sizeof(out));
			slurp("err", err, sizeof(err));
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("did not end in 10 s");
	return -1;
}


static inline void expect_run(const char *args, const char *want_out)
{
	char line[16384];
	snprintf(line, sizeof(line), "env PRIVMAN_AUDIT=@/audit.json %s run %s", built("privman"),
		 args);
	int rc = sh(line);
	cr_assert_eq(rc, 0, "privman run %s: %d\n%s%s", args, rc, out, err);
	cr_assert_str_eq(out, want_out, "privman run %s:\n%s", args, err);
	char audit[1 << 15];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
}

#endif
