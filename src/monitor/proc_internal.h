/* Processes, the monitor's side: what the files of proc*.c share (not an
 * interface for anything else; see proc.h).
 *
 *   proc_book.c    the book of processes, reaping, priv_wait4
 *   proc_request.c decoding a request's fields
 *   proc_fds.c     the fds a new process keeps
 *   proc_fork.c    priv_fork and the hello of a forked child, priv_daemon
 *   proc_target.c  deciding a run as another user, and becoming it
 *   proc_rerun.c   priv_rerunas and priv_respawn_as
 *   proc_exec.c    priv_execve (both forms) and priv_popen_as
 *
 * Threat model: every program process may be hostile. A forked child is
 * believed only through the kernel (SCM_CREDENTIALS and SCM_PIDFD on a
 * socket made for it); a function pointer from a program is called only in
 * a new process after it has become the target user; a pid in a message
 * names only a process this monitor started for that very requester. */
#ifndef PRIVMAN_PROC_INTERNAL_H
#define PRIVMAN_PROC_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "monitor/channel.h"
#include "monitor/state.h"
#include "monitor/proc.h"
#include "policy/policy.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

#define PROC_MAX_ARGS 512
#define PROC_MAX_WAITERS 256
#define PROC_MAX_PENDING_PER_PARENT MONITOR_MAX_CHANNELS_PER_PROCESS
#define PROC_MAX_ANCESTRY 256
/* Processes the monitor started for one requester and that it has not
 * waited for: the monitor forks as root, so no RLIMIT_NPROC bounds them. */
#define PROC_MAX_STARTED 256
/* epoll tags (after MONITOR_PROC_TAG): a pidfd is tagged with its entry's
 * index, a priv_execve link with PROC_LINK_TAG + the index. */
#define PROC_LINK_TAG (UINT64_C(1) << 30)

enum proc_flags {
	PROC_CHILD = 1 << 0,     /* our child: reaped on SIGCHLD */
	PROC_PROGRAM = 1 << 1,   /* a program process: keeps the monitor alive */
	PROC_MONITORED = 1 << 2, /* its requester may priv_wait4 it */
	PROC_EXITED = 1 << 3,
	PROC_REPLACING = 1 << 4, /* priv_execve: it took its requester's place */
	PROC_STATUS_KNOWN = 1 << 5, /* not our child, but `status` is the one it
				       leaves with (caller_leaves_with) */
};

struct proc_entry {
	pid_t pid; /* 0: a free slot */
	int pidfd; /* taken while the pid was its own: signals go through it */
	int link;  /* PROC_REPLACING: the requester's link (see proc_exec_link_event), or -1 */
	unsigned flags;
	pid_t requester;
	int status;
	struct rusage usage;
};

struct proc_waiter {
	pid_t requester; /* 0: a free slot */
	pid_t want;      /* a pid, or -1 */
	size_t channel;
	int sock;
	uint32_t id;
};

struct proc_table {
	struct proc_entry *entries;
	size_t count, cap;
	struct proc_waiter waiters[PROC_MAX_WAITERS];
	bool program_gone;
	int program_status;
	bool program_is_child; /* false after priv_daemon */
	/* After priv_daemon: the main program, whose first child to say hello
	 * is the main program from then on, as daemon(3)'s child is. */
	pid_t daemon_caller;
	/* The credentials of the hello being handled. */
	pid_t hello_pid;
	int hello_pidfd;
	/* What this monitor added to the family's tally (see proc_tally_sync). */
	long published;
};

/* Every live process that the monitors of one program know (the program's
 * own processes, those started for it, respawned monitors) is counted in
 * one number that all of them share: a respawned monitor is a fork of
 * this one and keeps the mapping. The requester's RLIMIT_NPROC bounds it,
 * since the monitor forks as root and the kernel bounds nothing. Program
 * processes never see it: become() unmaps it first. */
extern long *proc_family_tally;

/* One decoded request of the process operations. Strings point into `text`. */
struct proc_request {
	uint64_t fnptr;
	int32_t flags;
	int32_t pid, options;
	int32_t nochdir, noclose;
	const char *user;    /* NULL: not given */
	const char *chroot;  /* NULL: not given */
	const char *program; /* execve: the program; popen: the command */
	char *args[PROC_MAX_ARGS + 1];
	char *env[PROC_MAX_ARGS + 1];
	size_t argc, envc;
	char text[WIRE_MAX_PAYLOAD];
	size_t used;
};
/* The request being handled (one at a time: the monitor is one thread). */
extern struct proc_request proc_req;

struct target {
	struct policy_security scope;
	unsigned drop_flags; /* DROP_NO_NAMESPACES unless allow_namespaces */
	int jail;            /* the checked chroot's handle, or -1 */
	char user[256];
	char chroot[PATH_MAX];
	const struct run_rule *run; /* the run scope that granted it, or NULL */
	/* A rerun or respawn runs the program's own code: its confine scope
	 * applies (a program started by priv_execve has its run scope). */
	const struct policy_confine *confine;
	/* The requester's resource limits, read when it asked (charge()). */
	struct rlimit limits[RLIMIT_NLIMITS];
	bool limits_read;
};

/* Each handler's target: its jail handle is closed when the handler
 * returns (in the monitor; a new process has used it by then). */
void proc_target_release(struct target *t);
#define TARGET_CLEANUP __attribute__((cleanup(proc_target_release)))

/* proc_book.c */
struct proc_table *proc_book(struct monitor *m);
struct proc_entry *proc_entry_find(struct proc_table *t, pid_t pid);
struct proc_entry *proc_entry_add(struct proc_table *t, pid_t pid, int pidfd, unsigned flags,
				  pid_t requester);
void proc_entry_free(struct monitor *m, struct proc_entry *e);
void proc_entry_signal(struct proc_entry *e, int sig);
void proc_link_close(struct monitor *m, struct proc_entry *e);
void proc_tally_sync(struct monitor *m);

/* proc_fds.c: in a new process forked from the monitor, close every fd of
 * the monitor but the `extra` ones (and those the program held at priv_init
 * when `program_fds_too`). */
void proc_close_monitor_fds(bool program_fds_too, const int *extra, size_t n_extra);

/* proc_target.c */
int proc_decide_bool(struct monitor *m, struct monitor_channel *c, enum policy_op op,
		     const char *name);
int proc_allow_run_as(struct monitor *m, struct monitor_channel *c, const char *op,
		      const char *user, const char *chroot, const char *program,
		      struct target *t);
void proc_become(const struct target *t, int umask_value, int cwd, unsigned drop_flags);
/* The scope of a run as t->user (uid, gid, no supplementary groups), as
 * proc_allow_run_as decides it. */
void proc_target_scope(struct target *t, uid_t uid, gid_t gid);
int proc_charge(struct monitor *m, struct monitor_channel *c, const char *op, struct target *t,
		long n);
/* True (audited) when the requester has PROC_MAX_STARTED processes it
 * has not waited for. */
bool proc_too_many_started(struct monitor *m, struct monitor_channel *c, const char *op,
			   const char *object);
int proc_requester_cwd(struct monitor *m, struct monitor_channel *c, const struct target *t,
		       const char *op);
pid_t proc_start(struct monitor *m, struct monitor_channel *c, const struct target *t,
		 const char *op, int *cwd, int *mask);

/* proc_rerun.c: in a new process, become the program that falls out of
 * priv_init as the target, on `sock`, running proc_req's function.
 * `drop_flags` are added to the target's. Never returns. */
void __attribute__((noreturn)) proc_become_program(const struct target *t, int sock, int cwd,
						   int mask, unsigned drop_flags);

/* proc_zygote.c: start a rerun process (it becomes the program through
 * proc_become_program) from the zygote, which is started first when there
 * is none. Its pid, the monitor's child; -ENOSYS when the zygote cannot
 * start this target's process (the caller starts it itself), or another
 * -errno (audited where it is a refusal). */
pid_t proc_zygote_start(struct monitor *m, struct monitor_channel *c, const struct target *t,
			const struct wire_request *req, int sock);
/* A child of the monitor was reaped: it may be the zygote. */
void proc_zygote_reaped(pid_t pid);
/* In a monitor forked from another (a respawn): the zygote is the other's. */
void proc_zygote_forget(void);

/* proc_exec.c: the caller of priv_execve sent something on its link. */
void proc_exec_link_event(struct monitor *m, struct proc_entry *e);

#endif
