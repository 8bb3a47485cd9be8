/* Path helpers both sides and the tools use: lexical ones (pure string
 * work on a path, no system call), and the two openat2(2) calls that walk
 * a clean path with no symlink. Every function returns a non-negative
 * value or -errno. The monitor's resolution of a program's request, which
 * also reads /proc, is monitor/resolve.h. */
#ifndef PRIVMAN_PATH_H
#define PRIVMAN_PATH_H

#include <stddef.h>
#include <linux/openat2.h>

/* True when `path` is absolute and lexically clean: no empty, "." or ".."
 * component and no trailing slash. Walked with RESOLVE_NO_SYMLINKS, such a
 * path reaches exactly the object its string names: the real path of what
 * is opened is the string itself, with no readlink needed. */
int path_is_clean(const char *path);

/* Split `path` into its parent ("." for a bare name) and last component.
 * The last component must be a real name: not empty, ".", ".." or followed
 * by a slash (EISDIR). Returns 0. */
int path_split(const char *path, char *parent, size_t parent_cap, char *name, size_t name_cap);

/* dir + "/" + name, without doubling the slash of "/". Returns the length,
 * or -ENAMETOOLONG. */
int path_join(char *out, size_t cap, const char *dir, const char *name);

/* The lexically clean absolute form of `path`, taken relative to `base`
 * (an absolute path) when it is relative: "." and empty components dropped,
 * ".." removes the previous component (never above "/"). Used only to
 * choose the errno for an object that could not be resolved. */
int path_lexical(const char *base, const char *path, char *out, size_t cap);

/* openat2(2), retried on EINTR. Returns the fd or -errno. */
int path_openat2(int dirfd, const char *path, struct open_how *how);

/* An O_PATH | O_DIRECTORY handle on a clean path, with no symlink followed
 * (ELOOP when one is on the way). The drop walks a chroot so, and the
 * policy's check of a chroot walks it alike. */
int path_dir_handle(const char *path);

#endif
