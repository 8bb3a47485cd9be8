/* The cost of the confine scope (Landlock and its seccomp filter): on
 * priv_init until the program runs, and on an open(2) the program makes by
 * itself, each against the same policy without the scope, measured in one
 * run (DESIGN.md "Performance method"). Medians of batch means, pinned to
 * CPU 0 and unpinned. */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/landlock.h>

#include "bench.h"
#include "privman.h"

#define BATCHES 21

static char dir[64];
static char file[128];
static int iterations = 5000;

static void pin(bool pinned)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (pinned) {
		CPU_SET(0, &set);
	} else {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			CPU_SET((int)i, &set);
	}
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity");
}

static void read_all(int fd, void *buf, size_t size)
{
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, (char *)buf + got, size - got);
		if (n <= 0)
			die("read results");
		got += (size_t)n;
	}
}

/* In a program split by priv_init with the policy `app`: open(2) + close of
 * the data file, the median of batch means in ns. */
static double open_cost(const char *app)
{
	int res[2];
	if (pipe2(res, O_CLOEXEC) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(res[0]);
		priv_init(app);
		double samples[BATCHES];
		for (int b = 0; b < BATCHES; b++) { /* batches of iterations / BATCHES */
			double t0 = now_ns();
			for (int i = 0; i < iterations; i++) {
				int fd = open(file, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					die("open");
				close(fd);
			}
			samples[b] = (now_ns() - t0) / iterations;
		}
		double m = median(samples, BATCHES);
		if (write(res[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(1);
		exit(0);
	}
	close(res[1]);
	double m;
	read_all(res[0], &m, sizeof(m));
	close(res[0]);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_confine: the program failed (status 0x%x)\n", status);
		exit(1);
	}
	return m;
}

/* priv_init until the program runs, in ns: one sample. */
static double init_once(const char *app)
{
	int res[2];
	if (pipe2(res, O_CLOEXEC) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(res[0]);
		double t0 = now_ns();
		priv_init(app);
		double d = now_ns() - t0;
		if (write(res[1], &d, sizeof(d)) != (ssize_t)sizeof(d))
			_exit(1);
		exit(0);
	}
	close(res[1]);
	double d;
	read_all(res[0], &d, sizeof(d));
	close(res[0]);
	waitpid(pid, NULL, 0);
	return d;
}

/* The two policies alternate, sample by sample (and program by program
 * for open), so that a change in the machine's load weighs on both. */
static void measure(double init[2], double open_ns[2])
{
	static const char *const apps[2] = { "bench-plain", "bench-confined" };
	double samples[2][BATCHES];
	for (int b = 0; b < BATCHES; b++)
		for (int a = 0; a < 2; a++)
			samples[a][b] = init_once(apps[a]);
	for (int a = 0; a < 2; a++)
		init[a] = median(samples[a], BATCHES);
	enum { ROUNDS = 5 };
	double rounds[2][ROUNDS];
	for (int r = 0; r < ROUNDS; r++)
		for (int a = 0; a < 2; a++)
			rounds[a][r] = open_cost(apps[a]);
	for (int a = 0; a < 2; a++)
		open_ns[a] = median(rounds[a], ROUNDS);
}

static void write_policy(const char *app, const char *text)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, app);
	FILE *f = fopen(path, "we");
	if (!f)
		die("policy");
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/privman-bench.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		die("mkdtemp");
	snprintf(file, sizeof(file), "%s/data", dir);
	FILE *f = fopen(file, "we");
	if (!f)
		die("data file");
	fputs("benchmark data\n", f);
	fclose(f);
	chmod(file, 0644);
	char text[512];
	write_policy("bench-plain", "security { user nobody }\n");
	/* A short scope, as a server would have one: its data, a spool, the
	 * TLS certificates, two ports. */
	snprintf(text, sizeof(text),
		 "security { user nobody }\n"
		 "confine {\n  read { %s /etc/ssl }\n  write /var/tmp\n"
		 "  bind 8199\n  connect { 53 443 }\n}\n",
		 dir);
	write_policy("bench-confined", text);
	setenv("PRIVMAN_CONF_DIR", dir, 1);
	unsetenv("PRIVMAN_AUDIT");
}

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	if (geteuid() != 0) {
		fprintf(stderr, "bench_confine: needs root (priv_init)\n");
		return 1;
	}
	if (argc > 1)
		iterations = atoi(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();
	double init[2][2], open_ns[2][2]; /* [pinned, unpinned][plain, confined] */
	for (int i = 0; i < 2; i++) {
		pin(i == 0);
		measure(init[i], open_ns[i]);
	}
	pin(false);
	cleanup();

	printf("Landlock ABI %ld on this kernel\n",
	       syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION));
	printf("%-44s %12s %12s\n", "median of batch means", "pinned", "unpinned");
	printf("%-44s %9.3f ms %9.3f ms\n", "priv_init until the program runs",
	       init[0][0] / 1e6, init[1][0] / 1e6);
	printf("%-44s %9.3f ms %9.3f ms\n", "  the same, confined", init[0][1] / 1e6,
	       init[1][1] / 1e6);
	printf("%-44s %11.2fx %11.2fx\n", "  confined / plain", init[0][1] / init[0][0],
	       init[1][1] / init[1][0]);
	printf("%-44s %9.2f us %9.2f us\n", "open(2) + close by the program", open_ns[0][0] / 1e3,
	       open_ns[1][0] / 1e3);
	printf("%-44s %9.2f us %9.2f us\n", "  the same, confined (file granted)",
	       open_ns[0][1] / 1e3, open_ns[1][1] / 1e3);
	printf("%-44s %11.2fx %11.2fx\n", "  confined / plain", open_ns[0][1] / open_ns[0][0],
	       open_ns[1][1] / open_ns[1][0]);
	return 0;
}
