/* Calls of the original API that later work implements. Until then they
 * fail cleanly: -1 or NULL with errno ENOSYS. */
#include <errno.h>
#include <stddef.h>

#include "privman.h"

pid_t priv_fork(void)
{
	errno = ENOSYS;
	return -1;
}

int priv_daemon(int nochdir, int noclose)
{
	errno = ENOSYS;
	return -1;
}

pid_t priv_wait4(pid_t pid, int *status, int options, struct rusage *rusage)
{
	errno = ENOSYS;
	return -1;
}

int priv_execve(const char *program, char *const argv[], char *const envp[], const char *user,
		const char *chroot)
{
	errno = ENOSYS;
	return -1;
}

FILE *priv_popen_as(const char *command, const char *type, const char *user)
{
	errno = ENOSYS;
	return NULL;
}

int priv_pclose(FILE *stream)
{
	errno = ENOSYS;
	return -1;
}

int priv_rerunas(void (*fnptr)(char *const *), char *const arg[], const char *user,
		 const char *chroot, int flags)
{
	errno = ENOSYS;
	return -1;
}

int priv_respawn_as(void (*fnptr)(char *const *), char *const arg[], const char *user,
		    const char *chroot)
{
	errno = ENOSYS;
	return -1;
}

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
