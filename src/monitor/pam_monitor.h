/* PAM on the monitor's side. priv_pam_start asks the monitor for a
 * transaction (WIRE_OP_PAM_START); once the policy's `auth` grants it, the
 * monitor returns to the program one end of a socketpair whose other end a
 * PAM worker owns, with the pam_handle_t for the whole transaction. The
 * worker was made ready ahead of need (forked from the PAM zygote, which
 * prepared the stack once: pam_zygote.c, pam_prepare.c; waiting for the
 * pid of the process it is to serve), so
 * that no fork and no reading of the PAM configuration is on the request's
 * path; the monitor queued the transaction's BEGIN on the channel, and
 * makes the next worker ready once this transaction's worker ended (at
 * once when others are in flight). Every
 * pam_* call and the conversation run in the worker, as root, and a
 * conversation that waits on the program stalls only that worker, never
 * the monitor.
 *
 * A worker whose user passes pam_authenticate and then pam_acct_mgmt in its
 * transaction reports that user's uid on a socket only the monitor and that
 * worker hold before it answers the program; the monitor reads every
 * report queued there before it decides a request, and keeps the list for
 * `auth_allow_rerun`. */
#ifndef PRIVMAN_PAM_MONITOR_H
#define PRIVMAN_PAM_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "monitor/state.h"

/* Transactions in flight, in all and per program process. */
#define PAM_MONITOR_MAX_WORKERS 64
#define PAM_MONITOR_MAX_PER_PROCESS 8
/* Users recorded as authenticated in one run of the program. */
#define PAM_MONITOR_MAX_USERS 256

/* epoll tags of the workers' report sockets: PAM_MONITOR_TAG + slot. The
 * range is bounded, above every channel index and below the tags of other
 * parts, so that the monitor's loop may test the ranges in any order. */
#define PAM_MONITOR_TAG (UINT64_C(1) << 31)

/* ... and PAM_MONITOR_READY_TAG, one above the slots: a worker is to be
 * made ready for the next transaction (pam_monitor.c). */
#define PAM_MONITOR_READY_TAG (PAM_MONITOR_TAG + PAM_MONITOR_MAX_WORKERS)

static inline int pam_monitor_owns_tag(uint64_t tag)
{
	return tag >= PAM_MONITOR_TAG && tag <= PAM_MONITOR_READY_TAG;
}

/* The WIRE_OP_PAM_START handler (monitor.c's dispatch table). Returns the
 * transaction's id (>= 0) with the program's end of its channel in *fd_out,
 * or -EPERM when `auth` refuses, -EAGAIN when the process has too many
 * transactions in flight, or another -errno. */
int pam_monitor_start(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		      int *fds, int *fd_out);

/* Before the monitor serves: make a PAM worker ready for the first
 * transaction, when the policy grants any PAM service. (Each transaction
 * then makes the next one ready after its answer.) */
void pam_monitor_prepare(struct monitor *m);

/* The policy was read again (SIGHUP): the worker made ready and the PAM
 * zygote hold the policy they were forked with, and prepared a service that
 * one granted; both are replaced by ones forked with the policy now in
 * force. */
void pam_monitor_reloaded(struct monitor *m);

/* A report socket is readable (tag as registered with epoll). */
void pam_monitor_event(struct monitor *m, uint64_t tag);

/* The uids that passed pam_authenticate and pam_acct_mgmt in one
 * transaction during this run of the program (never root), for the RUN_AS
 * request's `authenticated`. Reads every report already sent first, so a
 * program that saw its pam_acct_mgmt succeed finds its user here. The list
 * belongs to the monitor and stays valid until the next call. */
void pam_authenticated_uids(struct monitor *m, const uid_t **list, size_t *count);

/* Free the PAM state (workers keep running until their program ends). */
void pam_monitor_free(struct monitor *m);

/* In a child forked from the monitor for anything but a PAM worker (a
 * program process made by priv_rerunas, say): close the monitor's ends of
 * the report sockets, so that the child can neither read a worker's report
 * nor answer for the monitor. Leaves the shared epoll set alone. */
void pam_monitor_forget(struct monitor *m);

#endif
