/* Learning under the broker (privman run with PRIVMAN_LEARN, which privman
 * learn sets for an unmodified program). The policy learns (policy/learn.h):
 * what it refuses is served and recorded. But an unmodified program also
 * makes every call it can make by itself (its libraries, its own files),
 * and those must be neither served nor written into its policy: before the
 * policy is asked, a call the program's own credentials would pass is let
 * go on in the kernel, unrecorded.
 *
 * Whether they would pass is asked of a prober: a process forked from the
 * monitor that holds exactly the scope's uid, gid and groups, no
 * capability, in the scope's chroot, and answers with faccessat2(2)
 * (AT_EACCESS) along the path the monitor resolved. Asking changes nothing:
 * its answer only chooses between continuing the call in the kernel (with
 * the program's credentials: nothing gained) and serving it as learning
 * serves everything. */
#ifndef PRIVMAN_BROKER_LEARN_H
#define PRIVMAN_BROKER_LEARN_H

#include <stdbool.h>

struct audit;
struct broker;
struct object_request;

/* The record (learn_log.h) the broker's audit writes to: set by privman run
 * before broker_run(). */
void broker_learn_set_record(int fd);

/* In broker_run(): give the audit the record. */
void broker_learn_attach(struct audit *a);

/* True when the policy learns and the program could make this call itself:
 * the broker then lets the kernel perform it, and records nothing. */
bool broker_learn_own_right(struct broker *b, const struct object_request *req);

#endif
