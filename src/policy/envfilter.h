/* The environment of a program the monitor starts as another user
 * (priv_execve, priv_popen_as): what may pass from the requester.
 *
 * The requester is hostile and the environment is a way into the new
 * process's code (LD_PRELOAD, GCONV_PATH, a shell's ENV...): the kernel
 * does not set AT_SECURE for it (the monitor changes the ids before
 * execve), so glibc filters nothing. Here a variable passes only when
 * it is well-formed, named once, short, not one that glibc drops for
 * set-id programs (nor a shell startup hook), and named by the `env`
 * list of the policy's grant. Pure functions: no system call. */
#ifndef PRIVMAN_ENVFILTER_H
#define PRIVMAN_ENVFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* The longest NAME=value that passes, in bytes. */
#define ENV_MAX_ENTRY 4096

/* True when a variable named `name` (`len` bytes, no '=') is never
 * passed, whatever the policy says: glibc's list for AT_SECURE programs
 * (unsecvars.h), GLIBC_TUNABLES, every LD_* and MALLOC_*, and the shell
 * hooks that run code at startup (ENV, BASH_ENV, BASH_FUNC_*, SHELLOPTS,
 * BASHOPTS, PS4). */
bool env_never_passed(const char *name, size_t len);

/* True for a well-formed name: [A-Za-z_][A-Za-z0-9_]*. */
bool env_name_valid(const char *name, size_t len);

/* True for an `env` list entry: a name, a name followed by '*' (any
 * name that begins so), or '*' alone. */
bool env_pattern_valid(const char *pattern);

/* What env_filter() dropped: names only (escaped), never values. */
struct env_report {
	size_t dropped;
	size_t len;
	bool full; /* text ends with ", ...": more were dropped */
	char text[480];
};

/* Copy to `out` (room for count + 1) the entries of `in` that pass, in
 * their order, and NULL. `allow` is the grant's `env` list (NULL or empty:
 * nothing passes). Returns how many passed. */
size_t env_filter(char *const in[], size_t count, const struct policy_value *allow,
		  size_t allow_count, char **out, struct env_report *report);

#endif
