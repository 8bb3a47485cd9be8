/* The program's side of PAM through the monitor (pam_client.c). The
 * priv_pam_* calls are declared in privman.h; this header is for the tests. */
#ifndef PRIVMAN_PAM_CLIENT_H
#define PRIVMAN_PAM_CLIENT_H

#include <security/pam_appl.h>
#include <stdint.h>

/* The transaction channel and the monitor's id for a live handle of this
 * process; -1 when the handle is not one. */
int pam_client_channel_fd(pam_handle_t *pamh);
int64_t pam_client_transaction_id(pam_handle_t *pamh);

#endif
