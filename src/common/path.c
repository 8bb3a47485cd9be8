/* Path helpers both sides and the tools use (see path.h). */
#include "common/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int path_openat2(int dirfd, const char *path, struct open_how *how)
{
	long fd;
	do
		fd = syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

int path_is_clean(const char *path)
{
	if (path[0] != '/')
		return 0;
	if (path[1] == '\0')
		return 1;
	for (const char *p = path; *p;) {
		/* p is at a slash that starts a component */
		const char *c = p + 1;
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		p = end;
	}
	return 1;
}

int path_dir_handle(const char *path)
{
	struct open_how how = {
		.flags = (uint64_t)(O_PATH | O_DIRECTORY | O_CLOEXEC),
		.mode = 0,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	return path_openat2(AT_FDCWD, path, &how);
}

int path_split(const char *path, char *parent, size_t parent_cap, char *name, size_t name_cap)
{
	size_t len = strlen(path);
	if (len == 0)
		return -ENOENT;
	if (path[len - 1] == '/')
		return -EISDIR;
	const char *slash = strrchr(path, '/');
	const char *last = slash ? slash + 1 : path;
	size_t name_len = len - (size_t)(last - path);
	if (strcmp(last, ".") == 0 || strcmp(last, "..") == 0)
		return -EISDIR;
	if (name_len >= name_cap)
		return -ENAMETOOLONG;
	memcpy(name, last, name_len + 1);

	if (!slash) {
		if (parent_cap < 2)
			return -ENAMETOOLONG;
		strcpy(parent, ".");
		return 0;
	}
	size_t parent_len = (size_t)(slash - path);
	while (parent_len > 0 && path[parent_len - 1] == '/')
		parent_len--;
	if (parent_len == 0) { /* "/name" or "//name" */
		if (parent_cap < 2)
			return -ENAMETOOLONG;
		strcpy(parent, "/");
		return 0;
	}
	if (parent_len >= parent_cap)
		return -ENAMETOOLONG;
	memcpy(parent, path, parent_len);
	parent[parent_len] = '\0';
	return 0;
}

int path_join(char *out, size_t cap, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool root = dl == 1 && dir[0] == '/';
	size_t total = (root ? 1 : dl + 1) + nl;
	if (total >= cap)
		return -ENAMETOOLONG;
	if (root) {
		out[0] = '/';
		memcpy(out + 1, name, nl + 1);
	} else {
		memcpy(out, dir, dl);
		out[dl] = '/';
		memcpy(out + dl + 1, name, nl + 1);
	}
	return (int)total;
}

/* Append one component to a clean absolute path in out[0..*len). */
static int push_component(char *out, size_t cap, size_t *len, const char *c, size_t n)
{
	if (n == 0 || (n == 1 && c[0] == '.'))
		return 0;
	if (n == 2 && c[0] == '.' && c[1] == '.') {
		while (*len > 1 && out[*len - 1] != '/')
			(*len)--;
		if (*len > 1)
			(*len)--; /* the slash before the removed component */
		out[*len] = '\0';
		return 0;
	}
	size_t need = *len + (*len > 1 ? 1 : 0) + n;
	if (need >= cap)
		return -ENAMETOOLONG;
	if (*len > 1)
		out[(*len)++] = '/';
	memcpy(out + *len, c, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

static int push_path(char *out, size_t cap, size_t *len, const char *path)
{
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		int rc = push_component(out, cap, len, start, (size_t)(p - start));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int path_lexical(const char *base, const char *path, char *out, size_t cap)
{
	if (cap < 2)
		return -ENAMETOOLONG;
	size_t len = 1;
	out[0] = '/';
	out[1] = '\0';
	int rc = 0;
	if (path[0] != '/')
		rc = push_path(out, cap, &len, base);
	if (rc == 0)
		rc = push_path(out, cap, &len, path);
	return rc < 0 ? rc : (int)len;
}
