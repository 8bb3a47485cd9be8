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
#define PERMIT_ROUNDS 2000

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

/* The root side: one pam_authenticate per byte read; writes its time. */
static void __attribute__((noreturn)) direct_server(int in, int out)
{
	pam_handle_t *unix_h = NULL, *permit_h = NULL;
	if (pam_start(SERVICE_UNIX, USER, &conv, &unix_h) != PAM_SUCCESS ||
	    pam_start(SERVICE_PERMIT, USER, &conv, &permit_h) != PAM_SUCCESS)
		_exit(1);
	char which;
	while (read(in, &which, 1) == 1) {
		pam_handle_t *h = which == 'u' ? unix_h : permit_h;
		double t0 = now_us();
		int rc = pam_authenticate(h, 0);
		double took = rc == PAM_SUCCESS ? now_us() - t0 : -1;
		if (write(out, &took, sizeof(took)) != sizeof(took))
			break;
	}
	pam_end(unix_h, PAM_SUCCESS);
	pam_end(permit_h, PAM_SUCCESS);
	_exit(0);
}

static double ask_direct(int to, int from, char which)
{
	double took = -1;
	if (write(to, &which, 1) != 1 || read(from, &took, sizeof(took)) != sizeof(took) ||
	    took < 0) {
		fprintf(stderr, "bench_pam: direct pam_authenticate failed\n");
		exit(1);
	}
	return took;
}

static double time_priv(pam_handle_t *h)
{
	double t0 = now_us();
	int rc = priv_pam_authenticate(h, 0);
	double took = now_us() - t0;
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "bench_pam: priv_pam_authenticate: %s\n", pam_strerror(NULL, rc));
		exit(1);
	}
	return took;
}

static void measure(const char *mode, int rounds)
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

	pam_handle_t *unix_h = NULL, *permit_h = NULL;
	if (priv_pam_start(SERVICE_UNIX, USER, &conv, &unix_h) != PAM_SUCCESS ||
	    priv_pam_start(SERVICE_PERMIT, USER, &conv, &permit_h) != PAM_SUCCESS) {
		fprintf(stderr, "bench_pam: priv_pam_start failed\n");
		exit(1);
	}
	double *direct = calloc(PERMIT_ROUNDS, sizeof(double));
	double *priv = calloc(PERMIT_ROUNDS, sizeof(double));
	if (!direct || !priv)
		die("calloc");

	/* warm up both */
	ask_direct(down[1], up[0], 'u');
	time_priv(unix_h);
	for (int i = 0; i < rounds; i++) {
		direct[i] = ask_direct(down[1], up[0], 'u');
		priv[i] = time_priv(unix_h);
	}
	double du = median(direct, rounds), pu = median(priv, rounds);
	printf("  %-9s pam_unix    pam_authenticate %9.1f us  priv_pam_authenticate %9.1f us"
	       "  ratio %.3f  (%d rounds)\n",
	       mode, du, pu, pu / du, rounds);

	for (int i = 0; i < 100; i++) {
		ask_direct(down[1], up[0], 'p');
		time_priv(permit_h);
	}
	for (int i = 0; i < PERMIT_ROUNDS; i++) {
		direct[i] = ask_direct(down[1], up[0], 'p');
		priv[i] = time_priv(permit_h);
	}
	double dp = median(direct, PERMIT_ROUNDS), pp = median(priv, PERMIT_ROUNDS);
	printf("  %-9s pam_permit  pam_authenticate %9.1f us  priv_pam_authenticate %9.1f us"
	       "  privman's own cost %.1f us  (%d rounds)\n",
	       mode, dp, pp, pp - dp, PERMIT_ROUNDS);
	fflush(stdout);
	priv_pam_end(unix_h, PAM_SUCCESS);
	priv_pam_end(permit_h, PAM_SUCCESS);
	free(direct);
	free(priv);
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
	int rounds = argc > 1 ? atoi(argv[1]) : 25;
	if (rounds < 3 || rounds > PERMIT_ROUNDS)
		rounds = 25;
	if (geteuid() != 0) {
		printf("bench_pam: skipped (needs root)\n");
		return 0;
	}
	char dir[] = "/tmp/pmbench.XXXXXX";
	char policy[64];
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(policy, sizeof(policy), "%s/bench_pam", dir);
	if (chmod(dir, 0755) < 0 || write_text(policy, "auth true\n") < 0 ||
	    write_text("/etc/pam.d/" SERVICE_UNIX, "auth required pam_unix.so nodelay\n") < 0 ||
	    write_text("/etc/pam.d/" SERVICE_PERMIT, "auth required pam_permit.so\n") < 0)
		die("writing the policy and services");
	if (!getpwnam(USER))
		sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin " USER);
	if (sh("echo '" USER ":" PASSWORD "' | chpasswd") != 0) {
		fprintf(stderr, "bench_pam: could not set the password of " USER "\n");
		return 1;
	}
	setenv("PRIVMAN_CONF_DIR", dir, 1);

	printf("pam: priv_pam_authenticate against pam_authenticate in one run, medians\n");
	fflush(stdout);
	int failed = 0;
	for (int pinned = 0; pinned < 2; pinned++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			if (pinned) {
				cpu_set_t set;
				CPU_ZERO(&set);
				CPU_SET(0, &set);
				if (sched_setaffinity(0, sizeof(set), &set) < 0)
					die("sched_setaffinity");
			}
			measure(pinned ? "pinned" : "unpinned", rounds);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	unlink("/etc/pam.d/" SERVICE_UNIX);
	unlink("/etc/pam.d/" SERVICE_PERMIT);
	unlink(policy);
	rmdir(dir);
	sh("userdel " USER " >/dev/null 2>&1; groupdel " USER " >/dev/null 2>&1");
	return failed;
}
