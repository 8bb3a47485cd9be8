/* Helpers shared by the tests: real users and groups with the `pmtest`
 * prefix, root checks, temporary files. Header-only so each test binary
 * stays one file. */
#ifndef PRIVMAN_TESTUTIL_H
#define PRIVMAN_TESTUTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PMTEST_SKIP_UNLESS_ROOT()                                                        \
	do {                                                                             \
		if (geteuid() != 0)                                                      \
			cr_skip_test("needs root (run `make check` as root)");           \
	} while (0)

/* Run a shell command; returns its exit status, or -1. */
static inline int pmtest_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int pmtest_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

/* Create a system group `name` if missing. */
static inline void pmtest_group_ensure(const char *name)
{
	if (getgrnam(name))
		return;
	pmtest_sh("groupadd --system %s >/dev/null 2>&1", name);
	cr_assert(getgrnam(name) != NULL, "could not create group %s", name);
}

/* Create a user `name` with its own primary group if missing. */
static inline void pmtest_user_ensure(const char *name)
{
	if (getpwnam(name))
		return;
	pmtest_sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "
		  "%s >/dev/null 2>&1",
		  name);
	cr_assert(getpwnam(name) != NULL, "could not create user %s", name);
}

static inline void pmtest_user_remove(const char *name)
{
	if (getpwnam(name))
		pmtest_sh("userdel %s >/dev/null 2>&1", name);
	if (getgrnam(name))
		pmtest_sh("groupdel %s >/dev/null 2>&1", name);
}

static inline void pmtest_group_remove(const char *name)
{
	if (getgrnam(name))
		pmtest_sh("groupdel %s >/dev/null 2>&1", name);
}

/* Write `text` to a fresh file under a private temporary directory;
 * returns a malloc'd path. */
static inline char *pmtest_write_file(const char *dir, const char *name, const char *text)
{
	char *path = NULL;
	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	FILE *f = fopen(path, "we");
	cr_assert(f != NULL, "fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert(fclose(f) == 0);
	return path;
}

/* The file `name` of `dir` in buf (at most cap - 1 bytes, then a NUL); an
 * empty string when it cannot be opened. */
static inline void pmtest_slurp(const char *dir, const char *name, char *buf, size_t cap)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* pmtest_write_file with the text formatted by printf. */
static inline char *pmtest_write_filef(const char *dir, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline char *pmtest_write_filef(const char *dir, const char *name, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return pmtest_write_file(dir, name, text);
}

/* In `out`, the path of `rel` ("privman", "tests/helpers/x") in the build
 * tree this test binary is in (<build>/tests/test_x), whichever BUILD made
 * it; asserts that it is built. */
static inline void pmtest_built(char *out, size_t len, const char *rel)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert(n > 0);
	self[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(dirname(self)), rel);
	cr_assert(access(out, X_OK) == 0, "%s is not built", out);
}

/* A fresh 0755 root-owned temporary directory; returns a malloc'd path. */
static inline char *pmtest_tmpdir(void)
{
	char *dir = strdup("/tmp/pmtest.XXXXXX");
	cr_assert(dir && mkdtemp(dir) != NULL);
	cr_assert(chmod(dir, 0755) == 0);
	return dir;
}

/* `AUTOFREE char *p = ...;` frees p when it goes out of scope. */
static inline void pmtest_freep(void *p)
{
	free(*(void **)p);
}
#define AUTOFREE __attribute__((cleanup(pmtest_freep)))

static inline void pmtest_rmtree(const char *dir)
{
	if (dir && strncmp(dir, "/tmp/pmtest.", 12) == 0)
		pmtest_sh("rm -rf '%s'", dir);
}

#endif
