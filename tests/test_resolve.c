/* Path helpers of the monitor: splitting, joining, lexical cleaning, and
 * resolution by the kernel. No root needed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/resolve.h"

static void split_is(const char *path, int rc, const char *parent, const char *name)
{
	char p[PATH_MAX], n[NAME_MAX + 1];
	cr_assert_eq(path_split(path, p, sizeof(p), n, sizeof(n)), rc, "split %s", path);
	if (rc == 0) {
		cr_assert_str_eq(p, parent, "parent of %s", path);
		cr_assert_str_eq(n, name, "name of %s", path);
	}
}

Test(resolve, split)
{
	split_is("/etc/passwd", 0, "/etc", "passwd");
	split_is("/passwd", 0, "/", "passwd");
	split_is("//passwd", 0, "/", "passwd");
	split_is("a/b//c", 0, "a/b", "c");
	split_is("name", 0, ".", "name");
	split_is("", -ENOENT, NULL, NULL);
	split_is("/etc/", -EISDIR, NULL, NULL);
	split_is("/etc/.", -EISDIR, NULL, NULL);
	split_is("/etc/..", -EISDIR, NULL, NULL);
	split_is("..", -EISDIR, NULL, NULL);
	char long_name[NAME_MAX + 3];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	split_is(long_name, -ENAMETOOLONG, NULL, NULL);
}

Test(resolve, join)
{
	char out[16];
	cr_assert_eq(path_join(out, sizeof(out), "/", "a"), 2);
	cr_assert_str_eq(out, "/a");
	cr_assert_eq(path_join(out, sizeof(out), "/etc", "passwd"), 11);
	cr_assert_str_eq(out, "/etc/passwd");
	cr_assert_eq(path_join(out, sizeof(out), "/etc/xyz", "passwd1"), -ENAMETOOLONG);
}

static void lexical_is(const char *base, const char *path, const char *want)
{
	char out[PATH_MAX];
	cr_assert(path_lexical(base, path, out, sizeof(out)) > 0);
	cr_assert_str_eq(out, want, "%s + %s", base, path);
}

Test(resolve, lexical)
{
	lexical_is("/", "/etc/passwd", "/etc/passwd");
	lexical_is("/home/u", "a/../b/./c", "/home/u/b/c");
	lexical_is("/home/u", "../../../../etc", "/etc");
	lexical_is("/x", "/a//b/", "/a/b");
	lexical_is("/x", "..", "/");
	lexical_is("/", ".", "/");
}

Test(resolve, clean)
{
	cr_assert(path_is_clean("/"));
	cr_assert(path_is_clean("/etc/passwd"));
	cr_assert(path_is_clean("/a/.hidden/..x"));
	cr_assert(!path_is_clean("etc/passwd"));
	cr_assert(!path_is_clean("/etc//passwd"));
	cr_assert(!path_is_clean("/etc/./passwd"));
	cr_assert(!path_is_clean("/etc/../passwd"));
	cr_assert(!path_is_clean("/etc/"));
	cr_assert(!path_is_clean("/etc/.."));
	cr_assert(!path_is_clean(""));
}

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pmtest.XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert(system(cmd) == 0);
}

Test(resolve, handles_and_real_paths, .init = setup, .fini = teardown)
{
	char p[256], real[PATH_MAX], link[256];
	snprintf(p, sizeof(p), "%s/file", dir);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	close(fd);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert(symlink("file", link) == 0);

	int h = resolve_handle(AT_FDCWD, link, 0);
	cr_assert(h >= 0);
	cr_assert(resolve_fd_path(h, real, sizeof(real)) > 0);
	cr_assert_str_eq(real, p, "a symlink resolves to its target");
	int r = resolve_reopen(h, O_RDONLY, 0);
	cr_assert(r >= 0);
	cr_assert(fcntl(r, F_GETFD) & FD_CLOEXEC);
	close(r);
	close(h);

	h = resolve_handle(AT_FDCWD, link, O_NOFOLLOW);
	cr_assert(h >= 0);
	cr_assert(resolve_fd_path(h, real, sizeof(real)) > 0);
	cr_assert_str_eq(real, link, "O_NOFOLLOW stops at the link");
	close(h);

	/* The clean path walk refuses every symlink; the magic ones always. */
	cr_assert_eq(resolve_open_clean(link, O_RDONLY, 0), -ELOOP);
	char magic[300];
	snprintf(magic, sizeof(magic), "/proc/self/root%s", p);
	cr_assert_eq(resolve_handle(AT_FDCWD, magic, 0), -ELOOP);
	int ok = resolve_open_clean(p, O_RDONLY, 0);
	cr_assert(ok >= 0);
	cr_assert_eq(fcntl(ok, F_GETFL) & O_NONBLOCK, 0, "the blocking mode asked for");
	close(ok);
	cr_assert_eq(path_dir_handle(dir) >= 0, 1);
}

Test(resolve, a_deleted_file_has_no_path, .init = setup, .fini = teardown)
{
	char p[256], real[PATH_MAX];
	snprintf(p, sizeof(p), "%s/gone", dir);
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	cr_assert(unlink(p) == 0);
	int n = resolve_fd_path(fd, real, sizeof(real));
	/* "/tmp/.../gone (deleted)": absolute, but never a granted name as such */
	cr_assert(n < 0 || strstr(real, "(deleted)"));
	close(fd);
	int s[2];
	cr_assert(pipe(s) == 0);
	cr_assert_eq(resolve_fd_path(s[0], real, sizeof(real)), -ENOENT, "pipe:[...]");
	close(s[0]);
	close(s[1]);
}

Test(resolve, umask_and_cwd_of_a_process)
{
	mode_t old = umask(027);
	cr_assert_eq(resolve_umask(getpid()), 027);
	umask(old);
	int cwd = resolve_cwd(getpid());
	cr_assert(cwd >= 0);
	char real[PATH_MAX], here[PATH_MAX];
	cr_assert(resolve_fd_path(cwd, real, sizeof(real)) > 0);
	cr_assert(getcwd(here, sizeof(here)));
	cr_assert_str_eq(real, here);
	close(cwd);
}

/* A process whose working directory is reached through a mount namespace
 * of its own (as root: no user namespace needed), or was deleted: the
 * monitor cannot name it in its own view. */
Test(resolve, a_cwd_in_another_mount_namespace_has_no_name_here)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to make a mount namespace");
	char tmp[] = "/tmp/pmtest.XXXXXX";
	cr_assert(mkdtemp(tmp));
	int ready[2], done[2];
	cr_assert(pipe(ready) == 0 && pipe(done) == 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char c = 'x';
		/* The same directory, on a copy of the mount it lives on. */
		if (unshare(CLONE_NEWNS) < 0 || chdir(tmp) < 0)
			c = 'e';
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char c = 0;
	cr_assert(read(ready[0], &c, 1) == 1 && c == 'x');
	int cwd = resolve_cwd(pid);
	if (cwd >= 0)
		close(cwd);
	cr_expect_eq(cwd, -EXDEV, "a handle into another mount namespace");
	cr_assert(write(done[1], &c, 1) == 1);
	waitpid(pid, NULL, 0);

	/* A deleted working directory. */
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (chdir(tmp) < 0 || rmdir(tmp) < 0)
			c = 'e';
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	cr_assert(read(ready[0], &c, 1) == 1 && c == 'x');
	cwd = resolve_cwd(pid);
	if (cwd >= 0)
		close(cwd);
	cr_expect_eq(cwd, -EXDEV, "a deleted directory");
	cr_assert(write(done[1], &c, 1) == 1);
	waitpid(pid, NULL, 0);
	rmdir(tmp);
}
