/* A PAM stack prepared ahead of need (pam_prepare.c), for the PAM worker
 * (pam_worker.c) only. */
#ifndef PRIVMAN_PAM_PREPARE_H
#define PRIVMAN_PAM_PREPARE_H

#include <security/pam_appl.h>
#include <stdbool.h>

#include "policy/policy.h"

/* Whether a service's stack holds a module that trusts the caller (the
 * root worker): its users are never recorded for auth_allow_rerun. */
struct pam_trust {
	bool trusts_caller;
	char note[768];
};

/* What a worker made ready before it was given a transaction: pam_start
 * of one service, with no user yet. */
struct pam_prepared {
	pam_handle_t *pamh; /* NULL: nothing prepared */
	int watch;          /* inotify: the directories PAM read the stack from */
	char service[POLICY_SERVICE_MAX + 1];
	struct pam_trust trust;
};

/* Scan the stack of `service` (canonical) for modules that trust the
 * caller, into `out`. */
void pam_trust_scan(const char *service, struct pam_trust *out);

/* In a worker not yet given a transaction: pam_start(service, NULL, conv)
 * (libpam reads the configuration and loads the modules; no module function
 * runs), with the directories it reads the stack from watched first. Leaves
 * `p` empty when anything fails, or when the stack names a file or module
 * by a path outside those directories. `service` must be canonical and
 * granted: the caller decides it. */
void pam_prepared_open(struct pam_prepared *p, const char *service, const struct pam_conv *conv);

/* At BEGIN, once the worker decided `service` (canonical): the prepared
 * handle, when it is for exactly that service and nothing in the watched
 * directories changed since before it was read (an administrator's edit
 * takes effect for every transaction that begins after it); its trust scan
 * in *trust. Otherwise the prepared handle is ended and NULL returned.
 * Either way `p` holds no handle afterwards; its watch stays open until the
 * process ends (closing it is slow: see pam_prepared_drop). */
pam_handle_t *pam_prepared_take(struct pam_prepared *p, const char *service,
				struct pam_trust *trust);

/* Once the transaction's handle is chosen: the modules loaded stay mapped
 * until the process ends. The worker ends after its one transaction, and
 * the kernel unmaps everything at once then: pam_end's dlclose of each
 * module (an munmap and TLB flush per mapping) would only make the reply to
 * pam_end wait. Their ELF destructors do not run (nor would they at
 * _exit). Not before: a prepared handle that is discarded must unload its
 * modules, so that a fresh pam_start loads a module file replaced since. */
void pam_keep_modules(void);

/* Whether `p` holds a handle for exactly `service` (canonical) and nothing
 * in the watched directories changed since before it was read. Reads no
 * event: the watch may be shared with other processes. */
bool pam_prepared_fresh(const struct pam_prepared *p, const char *service);

/* In the PAM zygote, before it prepares again: end what was prepared and
 * close its watch (the workers forked from it hold the watch too, and
 * still see every event on it). */
void pam_prepared_reset(struct pam_prepared *p);

/* End what was prepared, if anything (the watch is left to the end of the
 * process). */
void pam_prepared_drop(struct pam_prepared *p);

#endif
