/* The table of custom functions (client_custom.c): filled in the program
 * by priv_register_info_fn and priv_register_cap_fn before priv_init, and
 * read by the monitor, a fork of the program that holds the same table at
 * the same addresses (monitor/custom.c). */
#ifndef PRIVMAN_CLIENT_CUSTOM_H
#define PRIVMAN_CLIENT_CUSTOM_H

#include <stdint.h>
#include <sys/types.h>

#include "wire/custom_wire.h"

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
