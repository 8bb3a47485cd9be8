/* privman: privilege separation for Internet servers.
 *
 * priv_init() splits the calling program in two: a small monitor that keeps
 * root, and the program itself, which drops to the policy's security scope
 * and asks the monitor through the priv_*() calls below for the privileged
 * operations its policy file <sysconfdir>/privman.d/<appname> grants.
 *
 * The prototypes are those of the original Privman API, so that a program
 * written for it compiles unchanged. Every call returns what the system call
 * it replaces returns, with errno set as the kernel would set it. */
#ifndef PRIVMAN_H
#define PRIVMAN_H

#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <security/pam_appl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library exports these names and no other (it is built with hidden
 * visibility and a version script): a program may define any other name. */
#pragma GCC visibility push(default)

void priv_init(const char *appname);
int priv_open(const char *pathname, int flags, ...);
FILE *priv_fopen(const char *pathname, const char *mode);
int priv_unlink(const char *pathname);
int priv_bind(int sockfd, struct sockaddr *addr, socklen_t addrlen);
void priv_exit(int status) __attribute__((noreturn));

pid_t priv_fork(void);
int priv_daemon(int nochdir, int noclose);
pid_t priv_wait4(pid_t pid, int *status, int options, struct rusage *rusage);
/* Like execve(2): on success the program takes the caller's place and the
 * call does not return (the caller leaves with the program's status). */
int priv_execve(const char *program, char *const argv[], char *const envp[], const char *user,
		const char *chroot);
/* Extension: the program runs beside the caller, which gets its pid for
 * priv_wait4 (see priv_execve(3)). */
pid_t priv_execve_spawn(const char *program, char *const argv[], char *const envp[],
			const char *user, const char *chroot);
FILE *priv_popen_as(const char *command, const char *type, const char *user);
int priv_pclose(FILE *stream);

/* The original spelling of the enum's name is kept for compatibility. */
enum priv_rereunas_flags { PRIV_RR_OLD_SLAVE_MONITORED = 1 };
int priv_rerunas(void (*fnptr)(char *const *), char *const arg[], const char *user,
		 const char *chroot, int flags);
int priv_respawn_as(void (*fnptr)(char *const *), char *const arg[], const char *user,
		    const char *chroot);

int priv_pam_start(const char *service, const char *user, const struct pam_conv *conv,
		   pam_handle_t **pamh_p);
int priv_pam_authenticate(pam_handle_t *pamh, int flags);
int priv_pam_acct_mgmt(pam_handle_t *pamh, int flags);
int priv_pam_setcred(pam_handle_t *pamh, int flags);
int priv_pam_open_session(pam_handle_t *pamh, int flags);
int priv_pam_close_session(pam_handle_t *pamh, int flags);
int priv_pam_chauthtok(pam_handle_t *pamh, int flags);
int priv_pam_end(pam_handle_t *pamh, int pam_status);
int priv_pam_set_item(pam_handle_t *pamh, int item_type, const void *item);
int priv_pam_get_item(pam_handle_t *pamh, int item_type, const void **item);
int priv_pam_putenv(pam_handle_t *pamh, const char *name_value);
const char *priv_pam_getenv(pam_handle_t *pamh, const char *name);
int priv_pam_fail_delay(pam_handle_t *pamh, unsigned int usec);

/* "Custom" functions: registered before priv_init (handles 0, 1, 2...),
 * invoked by handle afterwards; each invocation runs as root in a process
 * forked from the monitor, when the policy's `custom` names the handle. An
 * info function's string is malloc'd for the caller. See priv_custom(3). */
int priv_register_info_fn(char *(*fnptr)(char *const *));
int priv_register_cap_fn(int (*fnptr)(char *const *));
char *priv_invoke_info_fn(int handle, char *const args[]);
int priv_invoke_cap_fn(int handle, char *const args[]);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
