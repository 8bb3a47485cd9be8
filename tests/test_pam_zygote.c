/* The PAM zygote (pam_zygote.c): the process the PAM workers are forked
 * from, with the stack prepared once. Against the monitor's side of PAM in
 * this process with no program, as test_pam_prepare.c: a test plays the
 * program with raw messages and drives what the monitor's loop would do. */
#include <dirent.h>
#include <poll.h>
#include <linux/kcmp.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <security/pam_appl.h>
#include <sys/epoll.h>

#include "monitor/pam_monitor.h"
#include "monitor/pam_prepare.h"
#include "monitor/pam_zygote.h"
#include "scope/resolve_scope.h"
#include "wire/pam_wire.h"
#include "testutil.h"

#define USER_A "pmtestpza"
#define SERVICE "pmtestpz-a"
#define SERVICE_B "pmtestpz-b"
/* never granted: its stack loads pam_echo, which no other stack here does */
#define SERVICE_X "pmtestpz-x"

#define PAM_FIXTURE_IDENT "test_pam_zygote"
#include "pam_fixture.h"

TestSuite(pam_zygote, .init = setup, .fini = teardown, .timeout = 30);

static pid_t wait_child(const char *comm, long syscall_nr)
{
	for (int i = 0; i < 500; i++) {
		pid_t pid = child_named(comm, syscall_nr);
		if (pid)
			return pid;
		usleep(10000);
	}
	cr_assert_fail("no %s within 5 s", comm);
	return 0;
}

/* The worker made ready, waiting for its program in recvfrom(2). */
static pid_t ready_worker(void)
{
	return wait_child("privman-pamrdy", SYS_recvfrom);
}

/* The zygote, waiting for an order in poll(2). */
static pid_t the_zygote(void)
{
	return wait_child("privman-pamzyg", SYS_poll);
}

static bool maps_have(pid_t pid, const char *text)
{
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	cr_assert(f);
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

/* The fd of `pid` that is an inotify instance, or -1. */
static int inotify_fd(pid_t pid)
{
	char path[64], target[64];
	for (int fd = 0; fd < 64; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:inotify") == 0)
			return fd;
	}
	return -1;
}

/* How many of the fds of `pid` are sockets. */
static int sockets_of(pid_t pid)
{
	char path[64], target[64];
	int count = 0;
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		count += strncmp(target, "socket:", 7) == 0;
	}
	return count;
}

/* One whole transaction of `service`: BEGIN and pam_authenticate. */
static int authenticate(const char *service)
{
	uint32_t id = 0;
	int sock = start_for(&id, service, USER_A);
	cr_assert(sock >= 0, "start: %s", strerror(-sock));
	int rc = begun(sock, id);
	if (rc == PAM_SUCCESS)
		rc = call(sock, id, PAM_WIRE_AUTHENTICATE, "");
	close(sock);
	return rc;
}

/* The first worker is forked by the monitor itself while the zygote it
 * started prepares; once a transaction took it, the next one is forked
 * from the zygote. Returns that one, ready. */
static pid_t zygote_worker(void)
{
	pam_monitor_prepare(&m);
	ready_worker();
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS);
	next_worker();
	return ready_worker();
}

/* The worker made ready is the monitor's child, forked from the zygote:
 * it holds the zygote's own watch of the configuration, and the stack's
 * modules are mapped in it before any BEGIN, though no module function
 * ran. It holds no socket but its two (not the zygote's), and the zygote
 * none but its own. */
Test(pam_zygote, the_worker_made_ready_is_forked_from_the_zygote)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	pid_t worker = zygote_worker();
	char marker[PATH_MAX];
	snprintf(marker, sizeof(marker), "%s/marker-a", dir);
	cr_assert(unlink(marker) == 0);
	pid_t zygote = the_zygote();
	cr_assert_neq(worker, zygote);
	cr_assert(maps_have(zygote, "pam_exec.so"), "the zygote prepared the stack");
	cr_assert(maps_have(worker, "pam_exec.so"), "the modules are mapped before BEGIN");
	cr_assert_not(marked("marker-a"), "a module function ran while preparing");
	int zw = inotify_fd(zygote), ww = inotify_fd(worker);
	cr_assert(zw >= 0 && ww >= 0, "both watch the configuration");
	cr_assert_eq(syscall(SYS_kcmp, zygote, worker, KCMP_FILE, zw, ww), 0,
		     "the worker's watch is not the zygote's: not forked from it");
	cr_assert_eq(sockets_of(worker), 2, "the channel and the report socket only");
	cr_assert_eq(sockets_of(zygote), 1, "the zygote's own socket only");
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS);
	cr_assert(marked("marker-a"), "the prepared stack ran");
}

/* A zygote killed is noticed at the next order: that worker is forked by
 * the monitor itself (it prepares on its own), the one after it by a new
 * zygote, and every transaction works. */
Test(pam_zygote, a_killed_zygote_is_replaced)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	zygote_worker();
	pid_t old = the_zygote();
	cr_assert(kill(old, SIGKILL) == 0);
	cr_assert_eq(waitpid(old, NULL, 0), old);
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS, "the worker made ready serves");
	next_worker();
	pid_t worker = ready_worker();
	cr_assert(maps_have(worker, "pam_exec.so"), "the monitor's own worker prepares");
	cr_assert_eq(child_named("privman-pamzyg", -1), 0, "no zygote until the next need");
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS);
	next_worker(); /* the monitor's own again, while a new zygote prepares */
	ready_worker();
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS);
	next_worker();
	worker = ready_worker();
	pid_t zygote = the_zygote();
	cr_assert_neq(zygote, old);
	int zw = inotify_fd(zygote), ww = inotify_fd(worker);
	cr_assert_eq(syscall(SYS_kcmp, zygote, worker, KCMP_FILE, zw, ww), 0,
		     "the next worker comes from the new zygote");
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS);
}

/* An administrator's edit after the zygote prepared takes effect for the
 * next transaction: the worker forked before it starts afresh, and the
 * zygote prepares again before it forks the next one. */
Test(pam_zygote, an_edit_after_the_zygote_prepared_takes_effect)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	zygote_worker();
	pid_t zygote = the_zygote();
	write_service(SERVICE, "auth required pam_deny.so\naccount required pam_deny.so\n");
	cr_assert_eq(authenticate(SERVICE), PAM_AUTH_ERR, "the stack from before the edit ran");
	next_worker();
	pid_t worker = ready_worker();
	cr_assert_eq(the_zygote(), zygote);
	/* its watch, the zygote's new one, saw nothing: prepared after the edit */
	int pidfd = (int)syscall(SYS_pidfd_open, worker, 0);
	int watch = (int)syscall(SYS_pidfd_getfd, pidfd, inotify_fd(worker), 0);
	int queued = -1;
	cr_assert(watch >= 0 && ioctl(watch, FIONREAD, &queued) == 0);
	cr_assert_eq(queued, 0, "the zygote did not prepare again after the edit");
	close(watch);
	close(pidfd);
	cr_assert_eq(authenticate(SERVICE), PAM_AUTH_ERR, "the stack from before the edit ran");
}

static int no_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

/* The zygote and the workers forked from it share one watch: a worker that
 * sees an edit leaves it there for the others (and the zygote), which
 * must not use their stack from before it either. */
Test(pam_zygote, a_worker_that_sees_an_edit_leaves_it_to_the_others)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const struct pam_conv conv = {no_conv, NULL};
	struct pam_prepared p;
	pam_prepared_open(&p, SERVICE, &conv);
	cr_assert(p.pamh, "prepared");
	cr_assert(pam_prepared_fresh(&p, SERVICE));
	marking_service(SERVICE, "edited");
	pid_t pid = fork();
	if (pid == 0) {
		struct pam_trust trust;
		_exit(pam_prepared_take(&p, SERVICE, &trust) ? 1 : 0);
	}
	int status = -1;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(status, 0, "the other process used the stack from before the edit");
	cr_assert_not(pam_prepared_fresh(&p, SERVICE),
		      "the edit was taken from this process by the other one");
	pam_prepared_reset(&p);
}

/* The zygote decides with the policy it was forked with: a reload ends it,
 * and a service the new policy does not grant is refused by every worker
 * made from then on. */
Test(pam_zygote, a_reload_replaces_the_zygote)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE_B " " SERVICE " }\n");
	zygote_worker();
	pid_t old = the_zygote();
	policy_free(m.policy);
	m.policy = load("auth { " SERVICE " }\n");
	pam_monitor_reloaded(&m);
	pid_t gone = 0;
	for (int i = 0; i < 300 && gone != old; i++) {
		gone = waitpid(old, NULL, WNOHANG);
		if (gone != old)
			usleep(10000);
	}
	cr_assert_eq(gone, old, "the zygote of the old policy left");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(authenticate(SERVICE_B), PAM_PERM_DENIED,
			     "a service no longer granted was served");
		next_worker();
	}
	cr_assert_not(marked("marker-b"));
	cr_assert_neq(the_zygote(), old);
	cr_assert_eq(authenticate(SERVICE), PAM_SUCCESS);
}

/* A service the policy does not grant is never prepared: not after a
 * program asked for it, and not by the zygote even when the monitor orders
 * it (the zygote checks with its own copy of the policy). */
Test(pam_zygote, a_service_not_granted_is_never_prepared)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	zygote_worker();
	cr_assert_eq(authenticate(SERVICE_X), PAM_PERM_DENIED);
	next_worker();
	pid_t worker = ready_worker();
	cr_assert_not(maps_have(worker, "pam_echo.so"), "a service not granted was prepared");
	cr_assert_not(maps_have(the_zygote(), "pam_echo.so"));

	int chan[2], sv[2];
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) == 0);
	cr_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = pam_zygote_fork(&m, SERVICE_X, chan[0], sv[1], 77);
	cr_assert(pid > 0, "forked: %s", strerror(-pid));
	pid_t zygote = the_zygote();
	cr_assert_not(maps_have(zygote, "pam_echo.so"), "the zygote prepared it when ordered");
	cr_assert_not(maps_have(pid, "pam_echo.so"));
	close(chan[0]);
	close(chan[1]);
	close(sv[0]);
	close(sv[1]);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
}
