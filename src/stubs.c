/* Calls of the original API that later work implements. Until then they
 * fail cleanly: -1 or NULL with errno ENOSYS. */
#include <errno.h>
#include <stddef.h>

#include "privman.h"

int priv_register_info_fn(char *(*fnptr)(char *const *))
{
	errno = ENOSYS;
	return -1;
}

int priv_register_cap_fn(int (*fnptr)(char *const *))
{
	errno = ENOSYS;
	return -1;
}

char *priv_invoke_info_fn(int handle, char *const args[])
{
	errno = ENOSYS;
	return NULL;
}

int priv_invoke_cap_fn(int handle, char *const args[])
{
	errno = ENOSYS;
	return -1;
}
