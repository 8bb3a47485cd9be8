/* What the program may not set in a PAM transaction's environment
 * (pam_env.c), for the PAM worker (pam_worker.c). */
#ifndef PRIVMAN_PAM_ENV_H
#define PRIVMAN_PAM_ENV_H

#include <stdbool.h>

/* Whether `text` ("NAME=value" or "NAME") names a variable the dynamic
 * loader, libc, a shell or an interpreter reads to load code or find files
 * (or is no valid name at all). */
bool pam_env_unsafe(const char *text);

#endif
