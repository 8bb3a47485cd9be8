/* priv_pam_authenticate against pam_authenticate, measured in one run on one
 * machine (DESIGN.md "Performance method").
 *
 * A root process forked before priv_init runs pam_authenticate itself; the
 * program, after priv_init, runs priv_pam_authenticate. Rounds alternate
 * between the two, so that both see the same machine. Two services:
 *
 *   pam_unix   the real case: one password prompt answered through the
 *              conversation, the hash checked against /etc/shadow;
 *   pam_permit no conversation and no work: what is left is privman's own
 *              cost per call (reported as an overhead in microseconds).
 *
 * Run as root: bench_pam [ROUNDS]. Reports medians, unpinned and pinned to
 * one CPU (each in a run of its own). Creates the user pmtestbench and the
 * services pmtest-bench-unix and pmtest-bench-permit, and removes them. */
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
#define PERMIT_ROUNDS 1000

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

/* One whole transaction, as a login does it: pam_start, pam_authenticate
 * (the password through the conversation), pam_acct_mgmt, pam_end. */
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

/* The root side: one plain transaction per byte read ('u': pam_unix, 'p':
 * pam_permit); writes its time. */
static void __attribute__((noreturn)) direct_server(int in, int out)
{
	char which;
	while (read(in, &which, 1) == 1) {
		double t0 = now_us();
		int rc = transaction(which == 'u' ? SERVICE_UNIX : SERVICE_PERMIT, false);
		double took = rc == PAM_SUCCESS ? now_us() - t0 : -1;
		if (write(out, &took, sizeof(took)) != sizeof(took))
			break;
	}
	_exit(0);
}

static double ask_direct(int to, int from, char which)
{
	double took = -1;
	if (write(to, &which, 1) != 1 || read(from, &took, sizeof(took)) != sizeof(took) ||
	    took < 0) {
		fprintf(stderr, "bench_pam: a plain PAM transaction failed\n");
		exit(1);
	}
	return took;
}

static double time_priv(char which)
{
	double t0 = now_us();
	int rc = transaction(which == 'u' ? SERVICE_UNIX : SERVICE_PERMIT, true);
	double took = now_us() - t0;
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "bench_pam: a privman PAM transaction: %s\n", pam_strerror(NULL, rc));
		exit(1);
	}
	return took;
}

struct pam_figures {
	double plain, priv; /* medians, microseconds */
};

/* Rounds alternate between plain PAM and privman, so that both see the
 * same machine. */
static struct pam_figures compare(int to, int from, char which, int rounds, double *a, double *b)
{
	for (int i = 0; i < 5; i++) { /* warm up both */
		ask_direct(to, from, which);
		time_priv(which);
	}
	for (int i = 0; i < rounds; i++) {
		a[i] = ask_direct(to, from, which);
		b[i] = time_priv(which);
	}
	struct pam_figures f = {median(a, rounds), median(b, rounds)};
	return f;
}

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

	priv_init("bench_pam");

	double *a = calloc(PERMIT_ROUNDS, sizeof(double));
	double *b = calloc(PERMIT_ROUNDS, sizeof(double));
	if (!a || !b)
		die("calloc");
	struct pam_figures f[2];
	f[0] = compare(down[1], up[0], 'u', rounds, a, b);
	f[1] = compare(down[1], up[0], 'p', PERMIT_ROUNDS, a, b);
	if (write(out, f, sizeof(f)) != (ssize_t)sizeof(f))
		die("write");
	free(a);
	free(b);
	close(down[1]);
	close(up[0]);
	exit(0);
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
	int rounds = argc > 1 ? atoi(argv[1]) : 200;
	if (rounds < 3 || rounds > PERMIT_ROUNDS)
		rounds = 200;
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

	struct pam_figures f[2][2]; /* [pinned][unix, permit] */
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
	if (!failed) {
		printf("pam: a transaction (pam_start, pam_authenticate, pam_acct_mgmt, pam_end), "
		       "plain PAM as root against privman, alternating; medians of %d (pam_unix) "
		       "and %d (pam_permit) rounds\n",
		       rounds, PERMIT_ROUNDS);
		printf("%-30s %12s %12s %10s   %s\n", "", "pinned", "unpinned", "", "goal");
		const char *names[2] = {"pam_unix, MD5 hash", "pam_permit"};
		for (int k = 0; k < 2; k++) {
			const struct pam_figures *p = &f[1][k], *u = &f[0][k];
			printf("%-30s %9.1f us %9.1f us\n", names[k], p->plain, u->plain);
			printf("%-30s %9.1f us %9.1f us\n", "  through privman", p->priv, u->priv);
			printf("%-30s %9.1f us %9.1f us %10s   < 150 us pinned: %s\n", "  added cost",
			       p->priv - p->plain, u->priv - u->plain, "",
			       p->priv - p->plain < 150 ? "met" : "MISSED");
			printf("%-30s %11.2fx %11.2fx\n", "  ratio", p->priv / p->plain,
			       u->priv / u->plain);
		}
	}
	unlink("/etc/pam.d/" SERVICE_UNIX);
	unlink("/etc/pam.d/" SERVICE_PERMIT);
	unlink(policy);
	rmdir(dir);
	sh("userdel " USER " >/dev/null 2>&1; groupdel " USER " >/dev/null 2>&1");
	return failed;
}
