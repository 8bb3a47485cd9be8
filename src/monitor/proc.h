/* Processes: the monitor's side of priv_fork, priv_daemon, priv_wait4,
 * priv_execve, priv_rerunas, priv_respawn_as and priv_popen_as, and the
 * book of every process the monitor serves or started.
 *
 * One monitor serves every program process, each on its own channel. A
 * process is known by what the kernel says: the pid fork returned, or, for
 * a child the program forked, the credentials the kernel attached to its
 * first message, checked to descend from the process that asked for it. */
#ifndef PRIVMAN_PROC_H
#define PRIVMAN_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "monitor/state.h"

/* Handlers for the dispatch table (see monitor.c). */
int proc_handle_fork(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		     int *fds, int *fd_out);
int proc_handle_hello(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out);
int proc_handle_wait(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		     int *fds, int *fd_out);
int proc_handle_rerun(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out);
int proc_handle_respawn(struct monitor *m, struct monitor_channel *c,
			const struct wire_request *req, int *fds, int *fd_out);
int proc_handle_execve(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out);
int proc_handle_exec_replace(struct monitor *m, struct monitor_channel *c,
			     const struct wire_request *req, int *fds, int *fd_out);
int proc_handle_popen(struct monitor *m, struct monitor_channel *c,
		      const struct wire_request *req, int *fds, int *fd_out);
int proc_handle_daemon(struct monitor *m, struct monitor_channel *c,
		       const struct wire_request *req, int *fds, int *fd_out);

/* Decode the fields of a process request strictly: false on any mismatch
 * (a protocol violation). Pure; used by the handlers and the fuzzer. */
bool proc_decode_request(const struct wire_request *req);

/* Read the first message of a pending channel (a forked child's hello),
 * with the credentials the kernel attached to it. */
/* Between events, in the monitor's loop: the fork channel for the next
 * priv_fork, made ahead once one was answered (proc_fork.c). In a monitor
 * forked from another: the other's is closed. */
void proc_fork_prepare(void);
void proc_fork_forget_spare(void);
void proc_serve_pending(struct monitor *m, struct monitor_channel *c);

/* A child of the monitor was reaped. Ends the monitor (never returns) when
 * it was the last program process. */
void proc_reaped(struct monitor *m, pid_t pid, int status, const struct rusage *usage);

/* A signal sent to the monitor by a process (or the monitor's own
 * SIGKILL when it fails): for the main program while it runs, else for
 * every other program process the monitor serves (priv_fork children that
 * said hello, priv_rerunas processes). Each through its pidfd: never a pid
 * that may have been reused. */
void proc_forward_signal(struct monitor *m, int sig);

/* An epoll event with a tag proc_*.c chose (a process it watches ended). */
void proc_event(struct monitor *m, uint64_t tag);

/* In priv_init, before anything else is opened: remember the fds the
 * program holds, which a rerun process gets back. */
void proc_note_program_fds(void);

/* In a new process forked from the monitor that runs code of the program
 * (a custom function, custom.c): close every fd of the monitor but `keep`;
 * the fds the program held at priv_init stay. */
void proc_close_monitor_fds_but(int keep);

/* How a process the monitor starts for priv_rerunas becomes the program:
 * it speaks on `sock`, calls `fn` (when not NULL) with `args`, and goes on
 * as if priv_init had just returned there. priv_init (split/init.c), which
 * knows the program's side, gives it before the monitor runs: nothing of
 * the monitor includes or calls the program's code. Never returns. */
typedef void (*proc_program_entry)(int sock, void (*fn)(char *const *), char *const *args);
void proc_set_program_entry(proc_program_entry entry);

#endif
