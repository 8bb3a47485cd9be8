/* The PAM zygote (pam_zygote.c): the process the PAM workers are forked
 * from, for pam_monitor.c only. */
#ifndef PRIVMAN_PAM_ZYGOTE_H
#define PRIVMAN_PAM_ZYGOTE_H

#include <stdint.h>
#include <sys/types.h>

#include "monitor/state.h"

/* In the monitor: have the zygote fork the worker of transaction `id`, a child of the monitor that serves on
 * `chan` and reports on `report` as pam_worker_main does, with the stack of
 * `service` (canonical and granted; "": whatever the zygote prepared last)
 * prepared. The monitor keeps its own copies of `chan` and `report`: the
 * caller closes them. Returns the worker's pid (the monitor's child, not
 * reaped yet), or -errno: -ENOSYS when there was no zygote (one is started,
 * preparing `service`, for the next call; the caller forks this worker
 * itself), else the zygote failed and is ended (the next call starts a new
 * one), and a worker it may have forked holds `chan` and `report`, so the
 * caller must not hand them to another. */
pid_t pam_zygote_fork(struct monitor *m, const char *service, int chan, int report, uint32_t id);

/* In the monitor: end the zygote (the policy was read again, or PAM's
 * state is freed). The workers it forked are the monitor's, and stay. */
void pam_zygote_end(void);

/* In a process forked from the monitor: close the monitor's end of the
 * zygote's socket. */
void pam_zygote_forget(void);

#endif
