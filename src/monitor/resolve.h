/* Path resolution for the monitor: the kernel resolves, the policy decides
 * on the real path of what was resolved, and that very object is opened.
 * Every function returns a non-negative value or -errno. What needs no
 * /proc and no program (the lexical helpers, the clean walks) is in
 * common/path.h. */
#ifndef PRIVMAN_RESOLVE_H
#define PRIVMAN_RESOLVE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/path.h" /* the lexical helpers, and path_dir_handle() */

/* openat2(dirfd, path, O_PATH | O_CLOEXEC | extra, RESOLVE_NO_MAGICLINKS):
 * an O_PATH handle on the object `path` names. `extra` may hold O_NOFOLLOW
 * and O_DIRECTORY. /proc/<pid>/fd/N style links are never followed. */
int resolve_handle(int dirfd, const char *path, int extra);

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

/* The real path of an open fd, from /proc/self/fd/N, into buf. Fails with
 * ENOENT when it is not an absolute path (an anonymous inode, a deleted
 * file, or an object outside our root). Returns the length. */
int resolve_fd_path(int fd, char *buf, size_t cap);

/* Open the object behind an O_PATH handle again, with `flags`, through
 * /proc/self/fd/N. `mode` is the new file's with O_TMPFILE (a handle on its
 * directory), and is always passed: open(2) would otherwise take whatever
 * the register holds (and a fortified libc aborts). Returns the new fd. */
int resolve_reopen(int handle, int flags, mode_t mode);

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
