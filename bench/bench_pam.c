/* A PAM transaction through privman against plain PAM run as root,
 * measured in one run on one machine (DESIGN.md "Performance method").
 *
 * A transaction is what a login does: pam_start, pam_authenticate (the
 * password through the conversation), pam_acct_mgmt, pam_end. A root
 * process forked before priv_init runs it with libpam itself; the program,
 * after priv_init, runs it with the priv_pam_* calls. Two services:
 *
 *   pam_unix   the real case: one password prompt answered through the
 *              conversation, the MD5 hash checked against /etc/shadow;
 *   pam_permit no conversation and no module work: what is left is libpam
 *              (reading /etc/pam.d and loading the modules of the service
 *              and of "other") and privman's own cost.
 *
 * Two ways of running them, each for plain PAM and privman in turn:
 *
 *   (a) back to back: batches of transactions with nothing between them,
 *       timed per batch (the figure: a batch's time over its count). All
 *       the work of privman's PAM workers falls inside the batches: the
 *       monitor's order to the PAM zygote, the zygote's fork of the worker
 *       made ready for the next transaction (its stack prepared once, in
 *       the zygote), the worker's exit. CPU-bound.
 *   (b) one at a time: an idle gap before each transaction, the same for
 *       plain PAM and privman, as logins arrive at a server; the figure is
 *       the time of the transaction itself, from the program's first call
 *       to its last reply. Work that privman does in the gap (making the
 *       next worker ready) is not counted: it is off the request's path.
 *
 * Run as root: bench_pam [ROUNDS] (of (b); 100 by default). Reports
 * medians, unpinned and pinned to one CPU (each in a run of its own).
 * Creates the user pmtestbench and the services pmtest-bench-unix and
 * pmtest-bench-permit, and removes them. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
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

#define USER "pmtestbench"
#define PASSWORD "Bench-Lantern-5"
#define SERVICE_UNIX "pmtest-bench-unix"
#define SERVICE_PERMIT "pmtest-bench-permit"
#define MAX_ROUNDS 1000
#define BATCHES 15   /* (a): batches per service and side */
#define BATCH 20     /* (a): transactions per batch */
#define GAP_US 5000  /* (b): idle time before each transaction */
#define GOAL_US 150  /* added cost per transaction, pinned */

static int conversation(int count, const struct pam_message **msg, struct pam_response **resp,
			void *data)
{
	struct pam_response *r = calloc((size_t)count, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < count; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(PASSWORD);
	*resp = r;
	return PAM_SUCCESS;
}

static const struct pam_conv conv = {conversation, NULL};

/* One whole transaction, as a login does it. */
static int transaction(const char *service, bool priv)
{
	pam_handle_t *h = NULL;
	int rc = priv ? priv_pam_start(service, USER, &conv, &h)
		      : pam_start(service, USER, &conv, &h);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = priv ? priv_pam_authenticate(h, 0) : pam_authenticate(h, 0);
	if (rc == PAM_SUCCESS)
		rc = priv ? priv_pam_acct_mgmt(h, 0) : pam_acct_mgmt(h, 0);
	int end = priv ? priv_pam_end(h, rc) : pam_end(h, rc);
	return rc != PAM_SUCCESS ? rc : end;
}

/* `count` transactions back to back; their time in microseconds, or -1. */
static double run_batch(char which, int count, bool priv)
{
	double t0 = now_us();
	for (int i = 0; i < count; i++) {
		int rc = transaction(which == 'u' ? SERVICE_UNIX : SERVICE_PERMIT, priv);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "bench_pam: a %s PAM transaction: %s\n",
				priv ? "privman" : "plain", pam_strerror(NULL, rc));
			return -1;
		}
	}
	return now_us() - t0;
}

struct ask {
	char which; /* 'u': pam_unix, 'p': pam_permit */
	int count;
};

/* The root side: runs the batches asked for; writes their time. */
static void __attribute__((noreturn)) direct_server(int in, int out)
{
	struct ask a;
	while (read(in, &a, sizeof(a)) == sizeof(a)) {
		double took = run_batch(a.which, a.count, false);
		if (write(out, &took, sizeof(took)) != sizeof(took))
			break;
	}
	_exit(0);
}

static int to_server = -1, from_server = -1;

static double time_plain(char which, int count)
{
	struct ask a = {which, count};
	double took = -1;
	if (write(to_server, &a, sizeof(a)) != sizeof(a) ||
	    read(from_server, &took, sizeof(took)) != sizeof(took) || took < 0)
		exit(1);
	return took;
}

static double time_priv(char which, int count)
{
	double took = run_batch(which, count, true);
	if (took < 0)
		exit(1);
	return took;
}

struct pam_figures {
	double plain, priv; /* medians, microseconds per transaction */
};

/* (a): batches alternate between plain PAM and privman. */
static struct pam_figures back_to_back(char which, double *a, double *b)
{
	for (int i = 0; i < 2; i++) { /* warm up both */
		time_plain(which, BATCH);
		time_priv(which, BATCH);
	}
	for (int i = 0; i < BATCHES; i++) {
		a[i] = time_plain(which, BATCH) / BATCH;
		b[i] = time_priv(which, BATCH) / BATCH;
	}
	struct pam_figures f = {median(a, BATCHES), median(b, BATCHES)};
	return f;
}

/* (b): one transaction at a time, the same idle gap before each. */
static struct pam_figures one_at_a_time(char which, int rounds, double *a, double *b)
{
	for (int i = 0; i < 3; i++) {
		time_plain(which, 1);
		time_priv(which, 1);
	}
	for (int i = 0; i < rounds; i++) {
		usleep(GAP_US);
		a[i] = time_plain(which, 1);
		usleep(GAP_US);
		b[i] = time_priv(which, 1);
	}
	struct pam_figures f = {median(a, rounds), median(b, rounds)};
	return f;
}

/* [mode: back to back, one at a time][service: unix, permit] */
typedef struct pam_figures figures_t[2][2];

static void measure(int out, int rounds)
{
	int down[2], up[2];
	if (pipe2(down, O_CLOEXEC) < 0 || pipe2(up, O_CLOEXEC) < 0)
		die("pipe");
	pid_t server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		close(down[1]);
		close(up[0]);
		direct_server(down[0], up[1]);
	}
	close(down[0]);
	close(up[1]);
	to_server = down[1];
	from_server = up[0];

	priv_init("bench_pam");

	double *a = calloc(MAX_ROUNDS, sizeof(double));
	double *b = calloc(MAX_ROUNDS, sizeof(double));
	if (!a || !b)
		die("calloc");
	figures_t f;
	const char which[2] = {'u', 'p'};
	for (int k = 0; k < 2; k++) {
		f[0][k] = back_to_back(which[k], a, b);
		f[1][k] = one_at_a_time(which[k], rounds, a, b);
	}
	if (write(out, f, sizeof(f)) != (ssize_t)sizeof(f))
		die("write");
	free(a);
	free(b);
	close(to_server);
	close(from_server);
	exit(0);
}

static void report(figures_t f[2], int rounds)
{
	static const char *const names[2] = {"pam_unix, MD5 hash", "pam_permit"};
	printf("pam: a transaction (pam_start, pam_authenticate, pam_acct_mgmt, pam_end), plain "
	       "PAM run as root against privman\n");
	for (int mode = 0; mode < 2; mode++) {
		if (mode == 0)
			printf("(a) back to back: batches of %d transactions with nothing between "
			       "them, alternating plain PAM and privman; per transaction, median of %d "
			       "batches. All the work of privman's PAM workers is counted (the PAM "
			       "zygote's fork of the next one, the monitor's order, the "
			       "worker's exit).\n",
			       BATCH, BATCHES);
		else
			printf("(b) one at a time: %d us idle before each transaction, the same for "
			       "plain PAM and privman (logins arriving at a server); the "
			       "transaction's own time, median of %d rounds. privman makes its next "
			       "worker ready in the gap: that work is off the request's path and not "
			       "counted.\n",
			       GAP_US, rounds);
		printf("%-30s %12s %12s   %s\n", "", "pinned", "unpinned", "goal");
		for (int k = 0; k < 2; k++) {
			const struct pam_figures *p = &f[1][mode][k], *u = &f[0][mode][k];
			double added = p->priv - p->plain;
			printf("%-30s %9.1f us %9.1f us\n", names[k], p->plain, u->plain);
			printf("%-30s %9.1f us %9.1f us\n", "  through privman", p->priv, u->priv);
			printf("%-30s %9.1f us %9.1f us   < %d us pinned: %s\n", "  added cost", added,
			       u->priv - u->plain, GOAL_US, added < GOAL_US ? "met" : "MISSED");
			printf("%-30s %11.2fx %11.2fx\n", "  ratio", p->priv / p->plain,
			       u->priv / u->plain);
		}
	}
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	if (rounds < 3 || rounds > MAX_ROUNDS)
		rounds = 100;
	if (geteuid() != 0) {
		printf("bench_pam: skipped (needs root)\n");
		return 0;
	}
	char dir[] = "/tmp/pmbench.XXXXXX";
	char policy[64];
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(policy, sizeof(policy), "%s/bench_pam", dir);
	if (chmod(dir, 0755) < 0 || write_text(policy, "auth { " SERVICE_UNIX " " SERVICE_PERMIT " }\n") < 0 ||
	    write_text("/etc/pam.d/" SERVICE_UNIX,
		       "auth required pam_unix.so nodelay\naccount required pam_unix.so\n") < 0 ||
	    write_text("/etc/pam.d/" SERVICE_PERMIT,
		       "auth required pam_permit.so\naccount required pam_permit.so\n") < 0)
		die("writing the policy and services");
	if (!getpwnam(USER))
		sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin " USER);
	if (sh("echo '" USER ":" PASSWORD "' | chpasswd -c MD5") != 0) {
		fprintf(stderr, "bench_pam: could not set the password of " USER "\n");
		return 1;
	}
	setenv("PRIVMAN_CONF_DIR", dir, 1);

	figures_t f[2]; /* [pinned] */
	int failed = 0;
	for (int pinned = 0; pinned < 2; pinned++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
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
				if (sched_setaffinity(0, sizeof(set), &set) < 0)
					die("sched_setaffinity");
			}
			measure(p[1], rounds);
		}
		close(p[1]);
		if (read(p[0], f[pinned], sizeof(f[pinned])) != (ssize_t)sizeof(f[pinned]))
			failed = 1;
		close(p[0]);
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	if (!failed)
		report(f, rounds);
	unlink("/etc/pam.d/" SERVICE_UNIX);
	unlink("/etc/pam.d/" SERVICE_PERMIT);
	unlink(policy);
	rmdir(dir);
	sh("userdel " USER " >/dev/null 2>&1; groupdel " USER " >/dev/null 2>&1");
	return failed;
}
