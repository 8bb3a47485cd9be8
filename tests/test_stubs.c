/* Calls before priv_init, and the calls later work implements: they fail
 * cleanly, never crash or hang. No root needed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <netinet/in.h>

#include "privman.h"

Test(stubs, calls_before_priv_init_fail_with_enotconn)
{
	errno = 0;
	cr_assert_eq(priv_open("/etc/hostname", O_RDONLY), -1);
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_null(priv_fopen("/etc/hostname", "r"));
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_unlink("/tmp/x"), -1);
	cr_assert_eq(errno, ENOTCONN);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	errno = 0;
	cr_assert_eq(priv_bind(0, (struct sockaddr *)&sin, sizeof(sin)), -1);
	cr_assert_eq(errno, ENOTCONN);
}

Test(stubs, argument_errors_are_those_of_the_system_calls)
{
	errno = 0;
	cr_assert_eq(priv_open(NULL, O_RDONLY), -1);
	cr_assert_eq(errno, EFAULT);
	errno = 0;
	cr_assert_eq(priv_open("", O_RDONLY), -1);
	cr_assert_eq(errno, ENOENT);
	static char longpath[PATH_MAX + 10];
	memset(longpath, 'a', sizeof(longpath) - 1);
	errno = 0;
	cr_assert_eq(priv_unlink(longpath), -1);
	cr_assert_eq(errno, ENAMETOOLONG);
	errno = 0;
	cr_assert_null(priv_fopen("/etc/hostname", "q"));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(priv_bind(3, NULL, 16), -1);
	cr_assert_eq(errno, EFAULT);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	errno = 0;
	cr_assert_eq(priv_bind(3, (struct sockaddr *)&sin, 0), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(stubs, process_calls_before_priv_init_fail_with_enotconn)
{
	errno = 0;
	cr_assert_eq(priv_fork(), -1);
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_daemon(0, 0), -1);
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_wait4(-1, NULL, 0, NULL), -1);
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_execve("/bin/true", NULL, NULL, NULL, NULL), -1);
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_null(priv_popen_as("true", "r", "nobody"));
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_rerunas(NULL, NULL, "nobody", NULL, 0), -1);
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_respawn_as(NULL, NULL, "nobody", NULL), -1);
	cr_assert_eq(errno, ENOTCONN);
	/* A stream priv_popen_as did not open. */
	errno = 0;
	cr_assert_eq(priv_pclose(NULL), -1);
	cr_assert_eq(errno, ECHILD);
	errno = 0;
	cr_assert_null(priv_popen_as("true", "x", "nobody"));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(priv_rerunas(NULL, NULL, "nobody", NULL, 2), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(stubs, later_calls_are_enosys)
{
	pam_handle_t *h = (pam_handle_t *)1;
	cr_assert_eq(priv_pam_start("login", "nobody", NULL, &h), PAM_SYSTEM_ERR);
	cr_assert_null(h);
	cr_assert_eq(priv_pam_authenticate(NULL, 0), PAM_SYSTEM_ERR);
	cr_assert_eq(priv_pam_end(NULL, 0), PAM_SYSTEM_ERR);
	cr_assert_null(priv_pam_getenv(NULL, "X"));
}

Test(stubs, custom_calls_before_priv_init_fail_with_enotconn)
{
	errno = 0;
	cr_assert_null(priv_invoke_info_fn(0, NULL));
	cr_assert_eq(errno, ENOTCONN);
	errno = 0;
	cr_assert_eq(priv_invoke_cap_fn(0, NULL), -1);
	cr_assert_eq(errno, ENOTCONN);
}
