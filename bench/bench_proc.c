/* Benchmarks of the process calls, all measured in one run on one machine
 * (DESIGN.md "Performance method"), each as a ratio beside its goal:
 *
 *   - priv_rerunas (monitored, the new process exits at once) + priv_wait4
 *     against fork + exit + waitpid (goal 1.5x; the paper's 2.15x);
 *   - priv_fork against fork(2), each child exiting at once and reaped
 *     (goal 1.3x);
 *     both with every process pinned to CPU 0 and unpinned;
 *   - what bounds both: one round trip to the monitor (priv_wait4 with
 *     nothing to wait for), and the floor of a design that makes one
 *     process and two round trips (the request, and the wait or the
 *     child's hello): fork + exit + waitpid + 2 round trips;
 *   - the total PSS of the monitor side (one monitor serving every process)
 *     with 500 priv_fork workers alive, each having done a priv_open.
 *
 * Figures are medians of batch means. Run as root: bench_proc [WORKERS]. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "privman.h"

#define BATCHES 15
#define PER_BATCH 20

static char dir[64];
static char file[128];

/* The new process of a rerun ends at once: what is measured is the monitor
 * forking it, the drop, the channel, and the wait. */
static void exit_at_once(char *const *arg)
{
	_exit(0);
}

struct figures {
	double fork_exit, rerun, plain_fork, priv_fork_ns, round_trip;
};

static void measure(struct figures *f)
{
	double a[BATCHES], b[BATCHES], c[BATCHES], d[BATCHES], e[BATCHES];
	char *args[] = {"bench", NULL};
	for (int k = 0; k < BATCHES; k++) {
		/* fork + exit + waitpid */
		double t0 = now_ns();
		for (int i = 0; i < PER_BATCH; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid)
				die("fork");
		}
		a[k] = (now_ns() - t0) / PER_BATCH;
		/* priv_rerunas + priv_wait4 */
		t0 = now_ns();
		for (int i = 0; i < PER_BATCH; i++) {
			int pid = priv_rerunas(exit_at_once, args, "nobody", NULL,
					       PRIV_RR_OLD_SLAVE_MONITORED);
			int status;
			if (pid < 0 || priv_wait4(pid, &status, 0, NULL) != pid)
				die("priv_rerunas");
		}
		b[k] = (now_ns() - t0) / PER_BATCH;
		/* priv_fork + exit + waitpid (the child says hello first) */
		t0 = now_ns();
		for (int i = 0; i < PER_BATCH; i++) {
			pid_t pid = priv_fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid)
				die("priv_fork");
		}
		d[k] = (now_ns() - t0) / PER_BATCH;
		/* fork again, interleaved, so that both see the same machine */
		t0 = now_ns();
		for (int i = 0; i < PER_BATCH; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			if (pid < 0 || waitpid(pid, NULL, 0) != pid)
				die("fork");
		}
		c[k] = (now_ns() - t0) / PER_BATCH;
		/* one round trip: priv_wait4 with nothing to wait for */
		t0 = now_ns();
		for (int i = 0; i < PER_BATCH; i++) {
			int status;
			if (priv_wait4(-1, &status, WNOHANG, NULL) != -1 || errno != ECHILD)
				die("priv_wait4");
		}
		e[k] = (now_ns() - t0) / PER_BATCH;
	}
	f->fork_exit = median(a, BATCHES);
	f->rerun = median(b, BATCHES);
	f->plain_fork = median(c, BATCHES);
	f->priv_fork_ns = median(d, BATCHES);
	f->round_trip = median(e, BATCHES);
}

/* Run the timings in a program split by priv_init; results come back on a
 * pipe. */
static void timed_run(bool pinned, struct figures *f)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		if (pinned) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(0, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		priv_init("privman-bench-proc");
		struct figures got;
		measure(&got);
		if (write(p[1], &got, sizeof(got)) != (ssize_t)sizeof(got))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], f, sizeof(*f)) != (ssize_t)sizeof(*f))
		die("timed run");
	close(p[0]);
	waitpid(pid, NULL, 0);
}

/* Pss (kB) of process `pid`, from smaps_rollup. */
static long pss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* `workers` priv_fork workers, each with one priv_open done, all alive at
 * once; the monitor's PSS before and with them. The monitor is the process
 * forked here that called priv_init: its pid comes from fork. */
static void pss_run(int workers, long *before, long *with, int *ok)
{
	int report[2], go[2];
	if (pipe(report) < 0 || pipe(go) < 0)
		die("pipe");
	fflush(NULL);
	pid_t monitor = fork();
	if (monitor < 0)
		die("fork");
	if (monitor == 0) {
		close(report[0]);
		close(go[1]);
		priv_init("privman-bench-proc");
		char c = 'i';
		if (write(report[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		int ready[2];
		if (pipe(ready) < 0)
			_exit(1);
		for (int i = 0; i < workers; i++) {
			pid_t pid = priv_fork();
			if (pid < 0)
				_exit(1);
			if (pid == 0) {
				close(ready[0]);
				int fd = priv_open(file, O_RDONLY | O_CLOEXEC);
				c = fd >= 0 ? 'y' : 'n';
				if (write(ready[1], &c, 1) != 1)
					_exit(1);
				/* Alive until the bench has read the PSS. */
				if (read(go[0], &c, 1) < 0)
					_exit(1);
				_exit(0);
			}
		}
		close(ready[1]);
		int good = 0;
		for (int i = 0; i < workers; i++)
			if (read(ready[0], &c, 1) == 1 && c == 'y')
				good++;
		if (write(report[1], &good, sizeof(good)) != (ssize_t)sizeof(good))
			_exit(1);
		while (wait(NULL) > 0 || errno == EINTR)
			;
		_exit(0);
	}
	close(report[1]);
	close(go[0]);
	char c;
	if (read(report[0], &c, 1) != 1)
		die("pss run");
	usleep(100000);
	*before = pss_kb(monitor);
	if (write(go[1], "g", 1) != 1 || read(report[0], ok, sizeof(*ok)) != (ssize_t)sizeof(*ok))
		die("pss run");
	usleep(100000);
	*with = pss_kb(monitor);
	close(go[1]); /* the workers end, then the program, then the monitor */
	close(report[0]);
	waitpid(monitor, NULL, 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/privman-bench-proc.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		die("mkdtemp");
	snprintf(file, sizeof(file), "%s/granted", dir);
	FILE *f = fopen(file, "we");
	if (!f || fputs("granted\n", f) < 0 || fclose(f) != 0 || chmod(file, 0600) < 0)
		die(file);
	char policy[160];
	snprintf(policy, sizeof(policy), "%s/privman-bench-proc", dir);
	f = fopen(policy, "we");
	if (!f)
		die("policy");
	fprintf(f, "fork true\nallow_rerun true\nrun_as { nobody }\nopen_ro { %s }\n", file);
	fclose(f);
	setenv("PRIVMAN_CONF_DIR", dir, 1);
	unsetenv("PRIVMAN_AUDIT");
}

static void cleanup(void)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/privman-bench-proc", dir);
	unlink(path);
	unlink(file);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		fprintf(stderr, "bench_proc: needs root (priv_init)\n");
		return 1;
	}
	int workers = argc > 1 ? atoi(argv[1]) : 500;
	setup();
	struct figures pinned, unpinned;
	timed_run(true, &pinned);
	timed_run(false, &unpinned);
	long before, with;
	int ok;
	pss_run(workers, &before, &with, &ok);
	cleanup();

	const struct figures *p = &pinned, *u = &unpinned;
	double rerun_p = p->rerun / p->fork_exit, rerun_u = u->rerun / u->fork_exit;
	double fork_p = p->priv_fork_ns / p->plain_fork, fork_u = u->priv_fork_ns / u->plain_fork;
	printf("medians of %d batches of %d, interleaved   %12s %12s   %s\n", BATCHES, PER_BATCH,
	       "pinned", "unpinned", "goal");
	printf("%-44s %9.1f us %9.1f us\n", "fork + exit + waitpid", p->fork_exit / 1e3,
	       u->fork_exit / 1e3);
	printf("%-44s %9.1f us %9.1f us\n", "priv_rerunas + priv_wait4", p->rerun / 1e3,
	       u->rerun / 1e3);
	printf("%-44s %11.2fx %11.2fx   <= 1.5x pinned: %s\n", "  rerunas + wait4 / fork + exit + waitpid",
	       rerun_p, rerun_u, rerun_p <= 1.5 ? "met" : "MISSED");
	printf("%-44s %9.1f us %9.1f us\n", "fork + exit + waitpid (again)", p->plain_fork / 1e3,
	       u->plain_fork / 1e3);
	printf("%-44s %9.1f us %9.1f us\n", "priv_fork + exit + waitpid", p->priv_fork_ns / 1e3,
	       u->priv_fork_ns / 1e3);
	printf("%-44s %11.2fx %11.2fx   <= 1.3x pinned: %s\n", "  priv_fork / fork", fork_p, fork_u,
	       fork_p <= 1.3 ? "met" : "MISSED");
	printf("%-44s %9.1f us %9.1f us\n", "one round trip (priv_wait4, nothing to wait)",
	       p->round_trip / 1e3, u->round_trip / 1e3);
	double floor_p = (p->fork_exit + 2 * p->round_trip) / p->fork_exit;
	double floor_u = (u->fork_exit + 2 * u->round_trip) / u->fork_exit;
	printf("%-44s %11.2fx %11.2fx   (the design's floor: one process, 2 round trips)\n",
	       "  bound: (fork+exit+waitpid + 2 trips) / fork", floor_p, floor_u);
	printf("%-44s %9.1f us %9.1f us\n", "  rerunas + wait4 above that bound",
	       (p->rerun - p->fork_exit - 2 * p->round_trip) / 1e3,
	       (u->rerun - u->fork_exit - 2 * u->round_trip) / 1e3);
	printf("%-44s %9.1f us %9.1f us\n", "  priv_fork above that bound",
	       (p->priv_fork_ns - p->plain_fork - 2 * p->round_trip) / 1e3,
	       (u->priv_fork_ns - u->plain_fork - 2 * u->round_trip) / 1e3);
	printf("%-44s %.2f MiB before, %.2f MiB with %d workers (%d opened): %.1f kB per "
	       "worker\n",
	       "monitor side total PSS", (double)before / 1024, (double)with / 1024, workers, ok,
	       workers ? (double)(with - before) / workers : 0.0);
	printf("%-44s %38s   < 16 MiB: %s\n", "", "",
	       with >= 0 && with < 16 * 1024 && ok == workers ? "met" : "MISSED");
	return with >= 0 && ok == workers ? 0 : 1;
}
