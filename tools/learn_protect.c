/* privman learn: protected places. A rule for one of them is written
 * exactly as learned and never becomes a wildcard, and no wildcard is
 * written whose directory holds one: `--collapse` must never turn a few
 * reads in /etc into a grant of /etc/shadow. The list names what gives
 * away secrets (password hashes, keys) or root (sudo, PAM, the boot chain,
 * the dynamic loader's configuration, cron, devices and kernel files). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "learn.h"

/* The place itself and everything below it. */
static const char *const protected_trees[] = {
	"/root",	     "/boot",		  "/etc/pam.d",		"/etc/pam.conf",
	"/etc/security",     "/etc/ssh",	  "/etc/ssl/private",	"/etc/sudoers",
	"/etc/sudoers.d",    "/etc/doas.conf",	  "/etc/passwd",	"/etc/group",
	"/etc/ld.so.preload", "/etc/ld.so.conf",  "/etc/ld.so.conf.d",	"/etc/crontab",
	"/etc/cron.d",	     "/var/spool/cron",	  "/etc/polkit-1",	"/etc/systemd",
	"/etc/krb5.keytab",  "/etc/shadow",	  "/etc/gshadow",	"/proc",
	"/sys",		     "/dev",		  "/var/lib/sss",	"/etc/privman.d",
	PRIVMAN_SYSCONFDIR "/privman.d",
};

/* Names starting so in their directory: shadow-, shadow.lock, sudoers.bak... */
static const char *const protected_prefixes[] = {
	"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/passwd", "/etc/group",
};

/* A directory of keys wherever it is: ~/.ssh, ~/.gnupg. */
static const char *const protected_elements[] = {".ssh", ".gnupg"};

static bool below(const char *path, const char *tree)
{
	size_t n = strlen(tree);
	return strncmp(path, tree, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool has_element(const char *path, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
		if (strncmp(p + 1, name, n) == 0 && (p[1 + n] == '\0' || p[1 + n] == '/'))
			return true;
	return false;
}

bool learn_protected(const char *path)
{
	for (size_t i = 0; i < sizeof(protected_trees) / sizeof(protected_trees[0]); i++)
		if (below(path, protected_trees[i]))
			return true;
	for (size_t i = 0; i < sizeof(protected_prefixes) / sizeof(protected_prefixes[0]); i++) {
		const char *prefix = protected_prefixes[i];
		if (strncmp(path, prefix, strlen(prefix)) == 0 && !strchr(path + strlen(prefix), '/'))
			return true;
	}
	for (size_t i = 0; i < sizeof(protected_elements) / sizeof(protected_elements[0]); i++)
		if (has_element(path, protected_elements[i]))
			return true;
	return false;
}

/* Is `dir` the directory of `place` (a protected entry directly in it)? */
static bool parent_of(const char *dir, const char *place)
{
	const char *slash = strrchr(place, '/');
	size_t n = (size_t)(slash - place);
	if (n == 0)
		return strcmp(dir, "/") == 0;
	return strlen(dir) == n && strncmp(dir, place, n) == 0;
}

bool learn_collapsible(const char *dir)
{
	if (dir[0] != '/' || strcmp(dir, "/") == 0 || learn_protected(dir))
		return false;
	for (size_t i = 0; i < sizeof(protected_trees) / sizeof(protected_trees[0]); i++)
		if (parent_of(dir, protected_trees[i]))
			return false;
	for (size_t i = 0; i < sizeof(protected_prefixes) / sizeof(protected_prefixes[0]); i++)
		if (parent_of(dir, protected_prefixes[i]))
			return false;
	/* dir/ * would name a key directory in it */
	for (size_t i = 0; i < sizeof(protected_elements) / sizeof(protected_elements[0]); i++) {
		char path[4096];
		struct stat st;
		size_t n = strlen(dir);
		if (n + 1 + strlen(protected_elements[i]) >= sizeof(path))
			return false;
		memcpy(path, dir, n);
		path[n] = '/';
		strcpy(path + n + 1, protected_elements[i]);
		if (lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
			return false;
	}
	return true;
}
