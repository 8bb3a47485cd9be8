/* Path resolution for the monitor (see resolve.h). */
#include "monitor/resolve.h"
#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* "/proc/self/fd/" + a decimal int, without the cost of snprintf. */
static void fd_link(char buf[32], int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	char digits[12];
	int n = 0;
	unsigned v = (unsigned)fd;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(buf, prefix, sizeof(prefix) - 1);
	char *p = buf + sizeof(prefix) - 1;
	while (n)
		*p++ = digits[--n];
	*p = '\0';
}

int resolve_handle(int dirfd, const char *path, int extra)
{
	struct open_how how = {
		.flags = (uint64_t)(O_PATH | O_CLOEXEC | (extra & (O_NOFOLLOW | O_DIRECTORY))),
		.mode = 0,
		.resolve = RESOLVE_NO_MAGICLINKS,
	};
	return path_openat2(dirfd, path, &how);
}

int resolve_open_clean(const char *path, int flags, mode_t mode)
{
	bool creating = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC),
		.mode = creating ? mode : 0,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = path_openat2(AT_FDCWD, path, &how);
	if (fd >= 0 && !(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & O_APPEND) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int resolve_blocking(int fd, int flags)
{
	if (fd < 0 || (flags & O_NONBLOCK))
		return fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int resolve_fd_path(int fd, char *buf, size_t cap)
{
	char link[32];
	fd_link(link, fd);
	ssize_t n = readlink(link, buf, cap);
	if (n < 0)
		return -errno;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	if (buf[0] != '/')
		return -ENOENT;
	return (int)n;
}

int resolve_reopen(int handle, int flags, mode_t mode)
{
	char link[32];
	fd_link(link, handle);
	int fd;
	do
		fd = open(link, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

int resolve_umask(pid_t pid)
{
	char file[64], buf[2048];
	snprintf(file, sizeof(file), "/proc/%d/status", (int)pid);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	buf[n] = '\0';
	const char *line = strstr(buf, "\nUmask:");
	if (!line)
		return -ENOENT;
	char *end;
	unsigned long mask = strtoul(line + 7, &end, 8);
	if (end == line + 7 || mask > 0777)
		return -EINVAL;
	return (int)mask;
}

/* True when two handles are the same object reached through the same
 * mount: a mount belongs to one mount namespace only, so a handle on the
 * same mount as one the monitor found from its own root is in the
 * monitor's view. This subsumes comparing /proc/<pid>/ns/mnt with the
 * monitor's (every mount of a new namespace is a copy with a new id), and
 * also refuses a directory of the monitor's own namespace that its name no
 * longer reaches. Both handles are held, so no mount id can be reused
 * between the two statx calls. */
static bool same_object(int a, int b)
{
	struct statx sa, sb;
	unsigned want = STATX_TYPE | STATX_INO | STATX_MNT_ID;
	if (statx(a, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, want, &sa) < 0 ||
	    statx(b, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, want, &sb) < 0)
		return false;
	if (!(sa.stx_mask & STATX_MNT_ID) || !(sb.stx_mask & STATX_MNT_ID))
		return false; /* a kernel that cannot tell: never guess */
	return sa.stx_mnt_id == sb.stx_mnt_id && sa.stx_dev_major == sb.stx_dev_major &&
	       sa.stx_dev_minor == sb.stx_dev_minor && sa.stx_ino == sb.stx_ino;
}

/* An O_PATH handle, in the monitor's view, on the directory that the magic
 * link `file` (/proc/<pid>/cwd, /proc/<tid>/fd/N) leads to. */
static int resolve_magic_dir(const char *file)
{
	char path[PATH_MAX];
	/* A magic link into the program's world: with a mount namespace of its
	 * own, what it leads to is a mount the program arranged. It is only
	 * used to learn a name and to check that the name means the same thing
	 * here. */
	int theirs = open(file, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (theirs < 0)
		return -errno;
	int rc = resolve_fd_path(theirs, path, sizeof(path));
	int mine = rc < 0 ? rc : path_dir_handle(path);
	if (mine >= 0 && !same_object(theirs, mine)) {
		close(mine);
		mine = -EXDEV;
	}
	close(theirs);
	/* Whatever went wrong (no absolute name, a deleted directory, a
	 * symlink or another object under that name here), the program's
	 * directory has no name in the monitor's view. */
	return mine >= 0 ? mine : -EXDEV;
}

int resolve_cwd(pid_t pid)
{
	char file[64];
	snprintf(file, sizeof(file), "/proc/%d/cwd", (int)pid);
	return resolve_magic_dir(file);
}

int resolve_dirfd(pid_t tid, int fd)
{
	char file[64];
	if (fd < 0)
		return -EBADF;
	snprintf(file, sizeof(file), "/proc/%d/fd/%d", (int)tid, fd);
	return resolve_magic_dir(file);
}
