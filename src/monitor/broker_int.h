/* What the broker's files share (broker.h says what the broker is). Runs as
 * root, in the monitor, except broker_filter_install() and the guard. */
#ifndef PRIVMAN_BROKER_INT_H
#define PRIVMAN_BROKER_INT_H

#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct monitor;

struct broker {
	struct monitor *m; /* policy, audit and appender, for object.h */
	int listener;      /* the filter's notification fd; -1 once it hung up */
	/* Sized as the running kernel says (SECCOMP_GET_NOTIF_SIZES). */
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size;
	/* Counts, for the audit at the end. */
	unsigned long granted, continued;
};

/* The kinds of call the policy can grant: only those are sent to the
 * monitor (the others cost nothing). An open by its access mode: O_RDONLY
 * is granted by open_ro and open_rw, O_WRONLY by open_ao and open_rw,
 * O_RDWR by open_rw alone (privman.conf(5)). */
enum broker_ops {
	BROKER_OPEN_READ = 1 << 0,
	BROKER_OPEN_WRITE = 1 << 1,
	BROKER_OPEN_RDWR = 1 << 2,
	BROKER_UNLINK = 1 << 3,
	BROKER_BIND = 1 << 4,
};
#define BROKER_OPEN (BROKER_OPEN_READ | BROKER_OPEN_WRITE | BROKER_OPEN_RDWR)

/* broker_filter.c: in the command's process, as root: load the filter that
 * sends the calls of `ops` to the monitor, and return its listener fd, or
 * -errno. No system call the filter sends to the monitor may come between
 * this and the hand-over of the listener. */
int broker_filter_install(unsigned ops);

/* What the guard and the command's process start from. */
struct broker_start {
	int sock;              /* the command's end of the hand-over socket */
	int monitor_end;       /* the monitor's end, closed below it */
	int report;            /* the guard's report pipe: the command's status */
	sigset_t mask;         /* the command's signal mask */
	struct sigaction chld; /* the command's SIGCHLD disposition */
	unsigned ops;          /* enum broker_ops */
	void (*target)(void *arg); /* broker_target_fn (broker.h) */
	void *arg;
};

/* broker_tree.c: fork the guard, which forks the command. In the command:
 * its mask and SIGCHLD disposition back, the filter, the listener and a
 * pidfd of the command sent on `sock`, then target(arg). The guard writes
 * the command's wait status (an int) to `report` before it leaves. Returns
 * the guard's pid in the monitor, or -1 with errno. */
pid_t broker_tree_start(const struct broker_start *start);

/* Kill every process below this one, which are this process's children or
 * become so as their parents die (this process is a child subreaper), but
 * `spare` (0: none), and reap them. */
void broker_kill_tree(pid_t spare);

/* broker_notify.c: size the buffers and ask for synchronous wake-ups.
 * Returns 0 or -errno. */
int broker_notify_init(struct broker *b);

/* Wait for the next notification. Returns 0, or -errno: ENOENT when the
 * call was withdrawn (a signal) before it was taken, EINTR. */
int broker_receive(struct broker *b);

/* Answer the notification received. Takes the lock of the monitor's state
 * (broker_lock) only around what touches it. */
void broker_answer(struct broker *b);

/* broker.c: the lock of the monitor's state, shared by its two threads. */
void broker_lock(void);
void broker_unlock(void);

#endif
