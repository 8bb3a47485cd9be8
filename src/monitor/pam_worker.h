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

/* The steps of pam_worker_main, for the PAM zygote (pam_zygote.c) too,
 * which makes the first two once and forks a worker that makes the last:
 *
 * In a process forked from the monitor: leave its signal mask and umask,
 * close every fd but `keep` and the audit log's, and set up the worker's
 * state (the monitor's policy and audit log, as forked). */
void pam_worker_detach(struct monitor *m, const int *keep, size_t count);

/* Prepare the stack of `service` (canonical, granted; "": none) unless what
 * is prepared is that and fresh; anything else prepared is ended first. */
void pam_worker_prepare(const char *service);

/* The watch of what is prepared (readable once the configuration changed),
 * or -1 when nothing is. */
int pam_worker_watch(void);

/* Serve as above, in a child of `monitor`. Never returns. */
void pam_worker_serve(int chan, int report, uint32_t id, pid_t monitor)
	__attribute__((noreturn));

#endif
