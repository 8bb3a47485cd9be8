/* The PAM worker (pam_worker.c): the process the monitor forks for one
 * transaction (pam_monitor.c). Not an interface for anything else. */
#ifndef PRIVMAN_PAM_WORKER_H
#define PRIVMAN_PAM_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "monitor/state.h"

/* In the new process: prepare the stack of `service` ("": none; see
 * pam_prepare.h), wait for the pid of the program to serve on `report`
 * (the monitor sends it when it hands the worker out; end of file: leave),
 * then serve transaction `id` on `chan` and report authenticated users on
 * `report`, as root, until the transaction ends. Dies with `monitor`. Never
 * returns. */
void pam_worker_main(struct monitor *m, int chan, int report, uint32_t id, pid_t monitor,
		     const char *service) __attribute__((noreturn));

#endif
