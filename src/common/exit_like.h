/* Leave the way another process left. */
#ifndef PRIVMAN_COMMON_EXIT_LIKE_H
#define PRIVMAN_COMMON_EXIT_LIKE_H

/* End this process as one with wait status `status` ended: its exit code,
 * or death by its signal (without a core dump: the process that died
 * already dumped any core worth having). */
void exit_like(int status) __attribute__((noreturn));

#endif
