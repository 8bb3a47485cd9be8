/* The PAM stack a worker prepares ahead of need (pam_prepare.c), and the
 * BEGIN the monitor queues for a PAM_START (pam_monitor.c), against the
 * monitor's side of PAM in this process with no program: a test plays the
 * program with raw messages, and drives what the monitor's loop would do
 * (make the next worker ready) itself. */
#include <dirent.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <security/pam_appl.h>
#include <sys/epoll.h>

#include "monitor/pam_monitor.h"
#include "scope/resolve_scope.h"
#include "wire/pam_wire.h"
#include "testutil.h"

#define USER_A "pmtestppa"
#define SERVICE "pmtestpp-a"
#define SERVICE_B "pmtestpp-b"
/* never granted: its stack loads pam_echo, which no other stack here does */
#define SERVICE_X "pmtestpp-x"

#define PAM_FIXTURE_IDENT "test_pam_prepare"
#include "pam_fixture.h"

TestSuite(pam_prepare, .init = setup, .fini = teardown, .timeout = 30);

/* A worker made ready (a child of this process named privman-pamrdy);
 * with `waiting`, only once it waits for its transaction: its preparation
 * is done. 0 when there is none. */
static pid_t ready_worker(bool waiting)
{
	/* blocked in recvfrom(2): waiting for its program */
	return child_named("privman-pamrdy", waiting ? SYS_recvfrom : -1);
}

/* The worker made ready, once its preparation is done. */
static pid_t prepared_worker(void)
{
	for (int i = 0; i < 500; i++) {
		pid_t pid = ready_worker(true);
		if (pid)
			return pid;
		usleep(10000);
	}
	cr_assert_fail("no worker made ready within 5 s");
	return 0;
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

/* The program asks for another service than the one prepared: that one's
 * stack runs, never the prepared one. */
Test(pam_prepare, a_prepared_stack_of_another_service_is_never_used)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " " SERVICE_B " }\n");
	pam_monitor_prepare(&m);
	cr_assert(maps_have(prepared_worker(), "pam_exec.so"), "the first granted is prepared");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE_B, USER_A);
	cr_assert(sock >= 0, "start: %s", strerror(-sock));
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, ""), PAM_SUCCESS);
	cr_assert(marked("marker-b"), "the stack of the service asked for ran");
	cr_assert_not(marked("marker-a"), "the prepared stack of another service ran");
	close(sock);
}

/* The stack prepared is the one the last transaction asked for, and it is
 * used for it. */
Test(pam_prepare, the_last_service_asked_is_prepared_next)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " " SERVICE_B " }\n");
	pam_monitor_prepare(&m);
	prepared_worker();
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE_B, USER_A);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	close(sock);
	next_worker();
	prepared_worker();
	sock = start_for(&id, SERVICE_B, USER_A);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, ""), PAM_SUCCESS);
	cr_assert(marked("marker-b"));
	cr_assert_not(marked("marker-a"));
	close(sock);
}

/* An administrator's edit after the worker prepared the stack takes effect
 * for the transaction that begins after it: written in place, and
 * replaced by a rename. */
Test(pam_prepare, an_edit_after_preparation_takes_effect)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	pam_monitor_prepare(&m);
	prepared_worker();
	write_service(SERVICE, "auth required pam_deny.so\naccount required pam_deny.so\n");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, ""), PAM_AUTH_ERR,
		     "the stack from before the edit was used");
	close(sock);

	next_worker();
	prepared_worker();
	cr_assert(pmtest_sh("printf 'auth required pam_permit.so\\n' > /etc/pam.d/.pmtestpp-new && "
			    "mv /etc/pam.d/.pmtestpp-new /etc/pam.d/" SERVICE) == 0);
	sock = start_for(&id, SERVICE, USER_A);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, ""), PAM_SUCCESS,
		     "the stack from before the rename was used");
	close(sock);
}

/* A program that asks for a service the policy does not grant is refused,
 * and the next worker does not prepare that service: none of its modules
 * is loaded into a root process. */
Test(pam_prepare, a_service_the_policy_does_not_grant_is_never_prepared)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	pam_monitor_prepare(&m);
	prepared_worker();
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE_X, USER_A);
	cr_assert_eq(begun(sock, id), PAM_PERM_DENIED);
	close(sock);
	next_worker();
	pid_t ready = prepared_worker();
	cr_assert(maps_have(ready, "pam_exec.so"), "the granted service is prepared instead");
	cr_assert_not(maps_have(ready, "pam_echo.so"), "a service not granted was prepared");
}

/* The BEGIN is the monitor's, of the service and user in PAM_START: one the
 * program sends after it is "begun twice", and the worker ends. */
Test(pam_prepare, the_program_cannot_send_a_begin_of_its_own)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " " SERVICE_B " }\n");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_BEGIN, id);
	pam_wire_put_text(&w, SERVICE_B);
	pam_wire_put_text(&w, USER_A);
	send_msg(sock, &w);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(receive(sock), 0, "the worker ends at a second BEGIN");
	close(sock);
}

/* PAM_START's fields are read strictly: a service (not empty) and a user
 * (or none), nothing after them. */
Test(pam_prepare, malformed_pam_start_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	static unsigned char msg[WIRE_MAX_MESSAGE];
	for (int k = 0; k < 4; k++) {
		struct wire_writer w;
		wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_PAM_START, 1);
		if (k == 1) {
			pam_wire_put_text(&w, "");
			pam_wire_put_text(&w, USER_A);
		} else if (k == 2) {
			pam_wire_put_text(&w, SERVICE);
			pam_wire_put_text(&w, USER_A);
			wire_put_int(&w, 1);
		} else if (k == 3) {
			pam_wire_put_text(&w, NULL);
			pam_wire_put_text(&w, NULL);
		}
		size_t size = wire_writer_finish(&w);
		struct wire_request req;
		const char *why = NULL;
		cr_assert_eq(wire_decode_request(msg, size, 0, &req, &why), 0);
		int fd_out = -1;
		cr_assert_eq(pam_monitor_start(&m, &c, &req, NULL, &fd_out), MONITOR_VIOLATION,
			     "case %d", k);
		cr_assert_eq(fd_out, -1);
	}
}

/* The worker made ready holds the policy it was forked with: after the
 * policy is read again, it is replaced, so that a service the new policy
 * no longer grants is refused at once (and never served from the stack
 * prepared for it). */
Test(pam_prepare, a_reload_replaces_the_worker_made_ready)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE_B " " SERVICE " }\n");
	pam_monitor_prepare(&m);
	pid_t old = prepared_worker();
	policy_free(m.policy);
	m.policy = load("auth { " SERVICE " }\n");
	pam_monitor_reloaded(&m);
	pid_t gone = 0;
	for (int i = 0; i < 300 && gone != old; i++) {
		gone = waitpid(old, NULL, WNOHANG);
		if (gone != old)
			usleep(10000);
	}
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE_B, USER_A);
	cr_assert_eq(begun(sock, id), PAM_PERM_DENIED, "a service no longer granted was served");
	close(sock);
	cr_assert_not(marked("marker-b"));
	cr_assert_eq(gone, old, "the worker of the old policy left");
}
