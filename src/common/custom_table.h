/* The table of custom functions, which both sides read: the program
 * registers functions in it before priv_init (program/client_custom.c), and
 * the monitor, a fork of the same process, finds them there by handle
 * (monitor/custom.c). What the table holds and the limits of an invocation
 * are here, so that neither side includes the other's headers. */
#ifndef PRIVMAN_CUSTOM_TABLE_H
#define PRIVMAN_CUSTOM_TABLE_H

#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

enum custom_kind {
	CUSTOM_INFO = 0, /* char *fn(char *const *): a string */
	CUSTOM_CAP = 1,  /* int fn(char *const *): a file descriptor */
};

/* Functions registered in one program: handles 0 to 255. */
#define CUSTOM_MAX_FUNCTIONS POLICY_CUSTOM_HANDLES
/* An argument vector: strings, and bytes counting each string's NUL. */
#define CUSTOM_MAX_ARGS 256
#define CUSTOM_MAX_ARG_BYTES 8192
/* The longest string an info function may return (its NUL not counted):
 * the original's limit. */
#define CUSTOM_MAX_INFO 4096

/* priv_init, before it forks: no registration from now on. */
void custom_freeze(void);

typedef char *(*custom_info_fn)(char *const *);
typedef int (*custom_cap_fn)(char *const *);

/* The function registered as `handle` if it is of that kind, or NULL. The
 * table is read without a lock: the monitor reads it only after
 * custom_freeze(), when nothing writes it any more. */
custom_info_fn custom_lookup_info(int32_t handle);
custom_cap_fn custom_lookup_cap(int32_t handle);

/* The umask of the process when priv_init froze the table: a function runs
 * with it, as it did in the original's monitor (ours runs with umask 0). */
mode_t custom_umask(void);

#endif
