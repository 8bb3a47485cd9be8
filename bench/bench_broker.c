/* The broker of `privman run` (privman(1), "THE BROKER"), measured in one
 * run, pinned to one CPU and unpinned (DESIGN.md "Performance method"):
 *
 *   - open(2) + close of a file the process may open itself, with no filter
 *     (bare);
 *   - the same open under the broker: not granted, so the monitor lets the
 *     kernel do it (CONTINUE); the difference is what the broker adds to
 *     every open it does not grant;
 *   - open of a root-only file that the policy grants, under the broker:
 *     the monitor opens it and injects the fd (ADDFD);
 *   - priv_open of the same file, in a program split by priv_init.
 *
 * The program under the broker is this one (`bench_broker --inside`), run
 * by `privman run` as nobody. Figures are medians of batch means. Run as
 * root. */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "privman.h"

#define BATCHES 31
#define PER_BATCH 500

static char dir[64], granted[128], readable[128], policy[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/privman-bench.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		die("mkdtemp");
	snprintf(granted, sizeof(granted), "%s/granted", dir);
	snprintf(readable, sizeof(readable), "%s/readable", dir);
	snprintf(policy, sizeof(policy), "%s/privman-bench-broker", dir);
	int fd = open(granted, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int fd2 = open(readable, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fd2 < 0)
		die("setup");
	close(fd);
	close(fd2);
	FILE *f = fopen(policy, "we");
	if (!f)
		die("policy");
	fprintf(f, "open_ro \"%s\"\n", granted);
	fclose(f);
	setenv("PRIVMAN_CONF_DIR", dir, 1);
	unsetenv("PRIVMAN_AUDIT");
}

static void cleanup(void)
{
	unlink(granted);
	unlink(readable);
	unlink(policy);
	rmdir(dir);
}

static void pin(bool pinned)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	long n = pinned ? 1 : sysconf(_SC_NPROCESSORS_ONLN);
	for (long i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

/* Median of batch means of open + close, in ns. */
static double opens(const char *path, bool priv)
{
	double v[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now_ns();
		for (int i = 0; i < PER_BATCH; i++) {
			int fd = priv ? priv_open(path, O_RDONLY) : open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				die(path);
			close(fd);
		}
		v[b] = (now_ns() - t0) / PER_BATCH;
	}
	return median(v, BATCHES);
}

/* One figure from a child, through a pipe. */
static double from_child(int fd, pid_t pid)
{
	double v = -1;
	FILE *f = fdopen(fd, "r");
	if (!f || fscanf(f, "%lf", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	waitpid(pid, NULL, 0);
	return v;
}

static double priv_open_cost(void)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		priv_init("privman-bench-broker");
		dprintf(p[1], "%f\n", opens(granted, true));
		_exit(0);
	}
	close(p[1]);
	return from_child(p[0], pid);
}

/* privman run -c POLICY -- bench_broker --inside GRANTED READABLE: the
 * CONTINUEd and the brokered open, from the program's side. */
static void broker_costs(const char *privman, double *cont, double *brokered)
{
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die("readlink");
	self[n] = '\0';
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], 1) < 0)
			_exit(1);
		execl(privman, privman, "run", "-c", policy, "--", self, "--inside", granted,
		      readable, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	if (!f || fscanf(f, "%lf %lf", cont, brokered) != 2)
		*cont = *brokered = -1;
	if (f)
		fclose(f);
	waitpid(pid, NULL, 0);
}

static const char *met(bool ok)
{
	return ok ? "met" : "NOT MET";
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--inside") == 0) {
		double cont = opens(argv[3], false);
		double brokered = opens(argv[2], false);
		printf("%f %f\n", cont, brokered);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_broker: needs root\n");
		return 1;
	}
	const char *build = getenv("BUILD");
	char privman[4096];
	snprintf(privman, sizeof(privman), "%s/privman", build && *build ? build : "build");
	if (access(privman, X_OK) < 0)
		die(privman);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();
	double bare[2], cont[2], brokered[2], priv[2];
	for (int i = 0; i < 2; i++) {
		pin(i == 0);
		bare[i] = opens(readable, false);
		broker_costs(privman, &cont[i], &brokered[i]);
		priv[i] = priv_open_cost();
	}
	pin(false);
	cleanup();
	if (cont[0] < 0 || priv[0] < 0) {
		fprintf(stderr, "bench_broker: a run failed\n");
		return 1;
	}
	printf("%-44s %12s %12s   %s\n", "median of batch means", "pinned", "unpinned", "goal");
	printf("%-44s %9.2f us %9.2f us\n", "open(2) + close, no filter", bare[0] / 1e3,
	       bare[1] / 1e3);
	printf("%-44s %9.2f us %9.2f us\n", "open + close under the broker, not granted",
	       cont[0] / 1e3, cont[1] / 1e3);
	printf("%-44s %9.2f us %9.2f us   < 10 us pinned: %s\n", "  added by the broker (CONTINUE)",
	       (cont[0] - bare[0]) / 1e3, (cont[1] - bare[1]) / 1e3,
	       met(cont[0] - bare[0] < 10e3));
	printf("%-44s %9.2f us %9.2f us\n", "open + close under the broker, granted",
	       brokered[0] / 1e3, brokered[1] / 1e3);
	printf("%-44s %9.2f us %9.2f us\n", "priv_open + close", priv[0] / 1e3, priv[1] / 1e3);
	printf("%-44s %11.2fx %11.2fx   <= 1.25x pinned: %s\n", "  brokered open / priv_open",
	       brokered[0] / priv[0], brokered[1] / priv[1], met(brokered[0] / priv[0] <= 1.25));
	return 0;
}
