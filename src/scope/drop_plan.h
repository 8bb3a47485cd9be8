/* Phase 1 of the drop (drop_plan.c): every check that can be made before
 * anything changes, and what the process will hold once it is done. A
 * failure here leaves the process as it was. drop.c applies the plan and
 * proves it. */
#ifndef PRIVMAN_DROP_PLAN_H
#define PRIVMAN_DROP_PLAN_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include <linux/securebits.h>

#include "policy/diag.h"
#include "policy/policy.h"
#include "scope/drop_flags.h"

/* The securebits every non-root drop sets and locks: exec of a setuid-root
 * file or of any file as uid 0 grants nothing (NOROOT), and the uid change
 * leaves the capability sets alone (NO_SETUID_FIXUP) so that cap_set_proc()
 * afterwards decides, alone, what is kept. KEEP_CAPS is not needed:
 * NO_SETUID_FIXUP supersedes it. */
#define DROP_SECUREBITS                                                                    \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                   \
	 SECBIT_NO_SETUID_FIXUP_LOCKED)

struct drop_plan {
	const struct policy_security *scope;
	unsigned flags;
	bool dry_run;
	int last_cap;

	/* What the process holds once the drop is done. */
	uint64_t effective;
	uint64_t permitted;
	uint64_t inheritable;
	uint64_t ambient;
	uint64_t bounding;
	uint64_t bounding_before; /* the bounding set when the plan was made */
	uint64_t effective_before; /* the effective set when the plan was made */

	gid_t *groups; /* the scope's supplementary groups, sorted, unique */
	size_t group_count;

	bool keep_root;       /* user root, no capabilities named: caps untouched */
	bool change_bounding; /* drop from the bounding set, lock securebits */
	bool change_caps;     /* cap_set_proc() and the ambient set */
	int chroot_fd;        /* O_PATH handle of the checked jail, or -1 */
	const struct sock_fprog *filter; /* DROP_NO_NAMESPACES: built, not yet loaded */
	bool filter_inherited;  /* DROP_SHARED_DONE: in force already, not loaded again */
	bool verify_bounding;   /* the bounding set and securebits are proven */
	bool filter_nnp;        /* no CAP_SYS_ADMIN: the filter needs no_new_privs */
	struct confine_plan *confine; /* the confine scope, prepared; or NULL */
};

/* Make the plan for `s` (resolved), into the jail `jail` (-1: the scope's
 * chroot by name) with `flags` (drop_flags.h). Returns 0, or -1 with the reasons
 * in `d` and nothing changed (the plan is then freed). */
int drop_plan_make(struct drop_plan *plan, const struct policy_security *s, int jail,
		   unsigned flags, struct diag *d);

void drop_plan_free(struct drop_plan *plan);

/* The plan of drop_apply_shared(): the namespace filter (DROP_NO_NAMESPACES)
 * and an empty bounding set with the securebits locked, for a root process
 * with one thread that stays root to make the drops of its children.
 * Returns 0, or -1 with the reasons in `d`. */
int drop_plan_shared(struct drop_plan *plan, unsigned flags, struct diag *d);

/* What every plan of this process and its forks needs and that never
 * changes, made now (drop_prepare() in drop.h). 0, or -1 with errno. */
int drop_plan_prepare(void);

/* The namespace filter the drops load: the raw BPF the build made from
 * scope/namespace_filter.c. */
const struct sock_fprog *drop_namespace_bpf(void);

#endif
