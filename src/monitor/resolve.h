/* Path resolution for the monitor: the kernel resolves, the policy decides
 * on the real path of what was resolved, and that very object is opened.
 * Every function returns a non-negative value or -errno. */
#ifndef PRIVMAN_RESOLVE_H
#define PRIVMAN_RESOLVE_H

#include <stddef.h>
#include <sys/types.h>

/* openat2(dirfd, path, O_PATH | O_CLOEXEC | extra, RESOLVE_NO_MAGICLINKS):
 * an O_PATH handle on the object `path` names. `extra` may hold O_NOFOLLOW
 * and O_DIRECTORY. /proc/<pid>/fd/N style links are never followed. */
int resolve_handle(int dirfd, const char *path, int extra);

/* True when `path` is absolute and lexically clean: no empty, "." or ".."
 * component and no trailing slash. Walked with RESOLVE_NO_SYMLINKS, such a
 * path reaches exactly the object its string names: the real path of what
 * is opened is the string itself, with no readlink needed. */
int resolve_is_clean(const char *path);

/* openat2(AT_FDCWD, path, flags | O_CLOEXEC | O_NOCTTY, mode,
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) for a clean path: ELOOP
 * when a symlink is on the way (the caller then resolves it the long way).
 * Never blocks on a FIFO or device: it is opened non-blocking and then given
 * the blocking mode that was asked for. */
int resolve_open_clean(const char *path, int flags, mode_t mode);

/* Give `fd`, opened with O_NONBLOCK so that no FIFO or device could stall
 * the monitor, the blocking mode `flags` asked for. Returns fd, or -errno
 * (fd closed). A negative fd is returned as it is. */
int resolve_blocking(int fd, int flags);

/* An O_PATH | O_DIRECTORY handle on a clean path, with no symlink followed
 * (ELOOP when one is on the way). */
int resolve_handle_clean(const char *path);

/* The real path of an open fd, from /proc/self/fd/N, into buf. Fails with
 * ENOENT when it is not an absolute path (an anonymous inode, a deleted
 * file, or an object outside our root). Returns the length. */
int resolve_fd_path(int fd, char *buf, size_t cap);

/* Open the object behind an O_PATH handle again, with `flags`, through
 * /proc/self/fd/N. Returns the new fd. */
int resolve_reopen(int handle, int flags);

/* Split `path` into its parent ("." for a bare name) and last component.
 * The last component must be a real name: not empty, ".", ".." or followed
 * by a slash (EISDIR). Returns 0. */
int resolve_split(const char *path, char *parent, size_t parent_cap, char *name,
		  size_t name_cap);

/* dir + "/" + name, without doubling the slash of "/". Returns the length,
 * or -ENAMETOOLONG. */
int resolve_join(char *out, size_t cap, const char *dir, const char *name);

/* The lexically clean absolute form of `path`, taken relative to `base`
 * (an absolute path) when it is relative: "." and empty components dropped,
 * ".." removes the previous component (never above "/"). Used only to
 * choose the errno for an object that could not be resolved. */
int resolve_lexical(const char *base, const char *path, char *out, size_t cap);

/* The umask of process `pid` (from /proc/<pid>/status), or -errno. */
int resolve_umask(pid_t pid);

/* An O_PATH handle on the working directory of process `pid`, in the
 * monitor's view of the file system: the directory is named (from
 * /proc/<pid>/cwd), that name is resolved again from the monitor's root with
 * no symlink, and both must be the same object on the same mount. EXDEV
 * when they are not: the process works in another mount namespace, or in a
 * directory the monitor cannot name (deleted, overmounted, outside its
 * root). Never a handle into a mount namespace other than the monitor's. */
int resolve_cwd(pid_t pid);

/* The same for the directory that descriptor `fd` of thread `tid` is open
 * on (an openat() dirfd): EXDEV when it has no name in the monitor's view,
 * or is not a directory. */
int resolve_dirfd(pid_t tid, int fd);

#endif
