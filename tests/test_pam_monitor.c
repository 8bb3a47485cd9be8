/* The monitor's side of PAM in this process, with no program: a test plays
 * the program on the transaction channel with raw messages, and reads the
 * list that priv_rerunas's RUN_AS decision gets (pam_authenticated_uids),
 * without running the monitor's loop. */
#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>
#include <security/pam_appl.h>
#include <sys/epoll.h>

#include "monitor/pam_monitor.h"
#include "scope/resolve_scope.h"
#include "wire/pam_wire.h"
#include "testutil.h"

#define USER_A "pmtestpamma"
#define USER_B "pmtestpammb"
#define PASS_A "Quiet-Orchard-3"
#define SERVICE "pmtestpam-mon"

#ifdef __SANITIZE_ADDRESS__
/* The PAM workers are forks of this process. ASan's crypt interceptor looks
 * up the real crypt when the process starts, pam_unix loads libcrypt later,
 * and the call then jumps to NULL: start again with libcrypt loaded. */
static void __attribute__((constructor)) load_libcrypt_first(int argc, char **argv)
{
	const char *preload = getenv("LD_PRELOAD");
	if (preload && strstr(preload, "libcrypt.so.1"))
		return;
	const char *opts = getenv("ASAN_OPTIONS");
	char asan[512];
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", opts ? opts : "",
		 opts && *opts ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	setenv("LD_PRELOAD", "libcrypt.so.1", 1);
	execv("/proc/self/exe", argv);
}
#endif

static struct monitor m;
static struct monitor_channel c;

#include "pam_testwire.h"

static struct policy *load(const char *text)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("test.conf", text, strlen(text), &d);
	cr_assert(p && policy_validate(p, &d) == 0);
	diag_free(&d);
	return p;
}

static void setup(void)
{
	if (geteuid() != 0)
		return;
	pmtest_user_ensure(USER_A);
	pmtest_user_ensure(USER_B);
	cr_assert(pmtest_sh("echo '" USER_A ":" PASS_A "' | chpasswd") == 0);
	FILE *f = fopen("/etc/pam.d/" SERVICE, "we");
	cr_assert(f);
	fputs("auth required pam_unix.so nodelay\naccount required pam_unix.so\n", f);
	cr_assert(fclose(f) == 0);
	memset(&m, 0, sizeof(m));
	audit_init(&m.audit, "test_pam_monitor");
	m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert(m.epoll_fd >= 0);
	c.sock = -1;
	c.pid = getpid();
}

static void teardown(void)
{
	if (geteuid() != 0)
		return;
	pam_monitor_free(&m);
	if (m.policy)
		policy_free(m.policy);
	close(m.epoll_fd);
	unlink("/etc/pam.d/" SERVICE);
	pmtest_user_remove(USER_A);
	pmtest_user_remove(USER_B);
}

TestSuite(pam_monitor, .init = setup, .fini = teardown, .timeout = 30);

Test(pam_monitor, authenticated_uid_listed_before_the_program_hears)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\nauth_allow_rerun true\n");
	uid_t a = getpwnam(USER_A)->pw_uid, b = getpwnam(USER_B)->pw_uid;
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert(sock >= 0, "start: %s", strerror(-sock));
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, "wrong"), PAM_AUTH_ERR);
	cr_assert_eq(call(sock, id, PAM_WIRE_ACCT_MGMT, ""), PAM_SUCCESS);
	cr_assert_not(listed(a), "pam_acct_mgmt alone adds no one");
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, PASS_A), PAM_SUCCESS);
	cr_assert_not(listed(a), "pam_authenticate alone adds no one");
	cr_assert_eq(call(sock, id, PAM_WIRE_ACCT_MGMT, ""), PAM_SUCCESS);
	/* The report was queued before the reply: the uid is listed now. */
	const uid_t *list;
	size_t count;
	pam_authenticated_uids(&m, &list, &count);
	cr_assert_eq(count, 1);
	cr_assert_eq(list[0], a);
	cr_assert_not(listed(b));
	cr_assert_not(listed(0));
	close(sock);
}

Test(pam_monitor, refused_without_auth)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth false\n");
	uint32_t id = 0;
	cr_assert_eq(start(&id), -EPERM);
	policy_free(m.policy);
	m.policy = load("auth_allow_rerun true\n");
	cr_assert_eq(start(&id), -EPERM, "auth is off unless granted");
}

Test(pam_monitor, the_channel_is_a_socketpair_the_monitor_made)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert(sock >= 0);
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);
	cr_assert(getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
	len = sizeof(domain);
	cr_assert(getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0);
	cr_assert(type == SOCK_SEQPACKET && domain == AF_UNIX);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	close(sock);
}

Test(pam_monitor, slots_come_back_when_workers_end)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	int socks[PAM_MONITOR_MAX_PER_PROCESS];
	uint32_t id = 0;
	for (int i = 0; i < PAM_MONITOR_MAX_PER_PROCESS; i++) {
		socks[i] = start(&id);
		cr_assert(socks[i] >= 0);
	}
	cr_assert_eq(start(&id), -EAGAIN);
	/* The program closes one channel: its worker ends, and the slot is
	 * free again once the monitor has seen the worker go. */
	close(socks[0]);
	int rc = -EAGAIN;
	for (int i = 0; i < 300 && rc == -EAGAIN; i++) {
		usleep(10000);
		rc = start(&id);
	}
	cr_assert(rc >= 0, "a slot came back");
	close(rc);
	for (int i = 1; i < PAM_MONITOR_MAX_PER_PROCESS; i++)
		close(socks[i]);
}

/* The children of this process (the monitor here) named `comm`. */
static int children_named(const char *comm, pid_t *pids, int cap)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	char want[32];
	snprintf(want, sizeof(want), "(%s)", comm);
	while (d && (e = readdir(d))) {
		char path[300], stat[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t got = fread(stat, 1, sizeof(stat) - 1, f);
		fclose(f);
		stat[got] = '\0';
		char *paren = strrchr(stat, ')');
		int ppid = 0;
		if (paren && strstr(stat, want) && sscanf(paren + 2, "%*c %d", &ppid) == 1 &&
		    ppid == getpid() && n < cap)
			pids[n++] = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return n;
}

/* A worker made ready ahead of need that is gone by the time a
 * transaction comes (killed, reaped) is replaced by one forked then; it is
 * never signalled, its pid being anyone's after the reaping. */
Test(pam_monitor, a_ready_worker_that_ended_is_replaced)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	m.program = getpid();
	pam_monitor_prepare(&m);
	pid_t ready[4];
	int n = 0;
	for (int i = 0; i < 200 && (n = children_named("privman-pamrdy", ready, 4)) == 0; i++)
		usleep(10000);
	cr_assert_eq(n, 1, "one worker made ready");
	cr_assert(kill(ready[0], SIGKILL) == 0);
	cr_assert_eq(waitpid(ready[0], NULL, 0), ready[0]);
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert(sock >= 0, "start: %s", strerror(-sock));
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	close(sock);
}

/* No worker is made ready for a program that may not use PAM. */
Test(pam_monitor, no_worker_ready_without_auth)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth false\n");
	m.program = getpid();
	pam_monitor_prepare(&m);
	pid_t ready[4];
	usleep(50000);
	cr_assert_eq(children_named("privman-pamrdy", ready, 4), 0);
}

Test(pam_monitor, forget_closes_report_sockets_only)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert(sock >= 0);
	int before = 0, after = 0;
	for (int fd = 0; fd < 1024; fd++)
		before += fcntl(fd, F_GETFD) >= 0;
	pam_monitor_forget(&m);
	for (int fd = 0; fd < 1024; fd++)
		after += fcntl(fd, F_GETFD) >= 0;
	/* the report socket and the worker's pidfd (the next worker is made
	 * ready once this one ends: no eventfd asks for it yet), and the PAM
	 * zygote's socket and pidfd */
	cr_assert_eq(after, before - 4, "the report socket and the pidfds closed");
	cr_assert(fcntl(m.epoll_fd, F_GETFD) >= 0);
	cr_assert(fcntl(sock, F_GETFD) >= 0);
	/* the transaction itself still works: the worker does not need it */
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	close(sock);
}

/* --- what the program may not choose, on the wire itself --------------------------------- */

static int set_item(int sock, uint32_t id, int type, const char *value)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_SET_ITEM, id);
	wire_put_int(&w, type);
	pam_wire_put_text(&w, value);
	send_msg(sock, &w);
	return reply_status(receive(sock), PAM_WIRE_SET_ITEM, id);
}

static char *get_service(int sock, uint32_t id)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_GET_ITEM, id);
	wire_put_int(&w, PAM_SERVICE);
	send_msg(sock, &w);
	ssize_t n = receive(sock);
	struct wire_header h;
	struct wire_reader r;
	cr_assert_eq(wire_open_message(buf, (size_t)n, &h, &r), 0);
	cr_assert_eq(wire_get_int(&r), PAM_SUCCESS);
	char value[PAM_WIRE_MAX_TEXT + 1];
	cr_assert(pam_wire_get_text(&r, value, sizeof(value)) > 0);
	return strdup(value);
}

Test(pam_monitor, service_named_at_begin_must_be_granted)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	const char *refused[] = {"/tmp/pmtestpam-x", "../../tmp/pmtestpam-x", "..", ".", "other",
				 "login", SERVICE "/x", "test_pam_monitor"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		uint32_t id = 0;
		int sock = start_for(&id, refused[i], USER_A);
		cr_assert(sock >= 0);
		cr_assert_eq(begun(sock, id), PAM_PERM_DENIED, "%s", refused[i]);
		/* the worker ends: the channel closes */
		cr_assert_eq(receive(sock), 0);
		close(sock);
	}
	/* `auth true` adds the application's own: here the audit's ident.
	 * (A reload, as the monitor's: the workers forked from then on decide
	 * with the new policy.) */
	policy_free(m.policy);
	m.policy = load("auth true\n");
	pam_monitor_reloaded(&m);
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert_eq(begun(sock, id), PAM_PERM_DENIED);
	close(sock);
	sock = start_for(&id, "test_pam_monitor", USER_A);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	close(sock);
}

Test(pam_monitor, service_item_never_changes)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert(sock >= 0);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	cr_assert_eq(set_item(sock, id, PAM_SERVICE, "/tmp/pmtestpam-x"), PAM_BAD_ITEM);
	cr_assert_eq(set_item(sock, id, PAM_SERVICE, "../x"), PAM_BAD_ITEM);
	cr_assert_eq(set_item(sock, id, PAM_SERVICE, "other"), PAM_BAD_ITEM);
	cr_assert_eq(set_item(sock, id, PAM_SERVICE, NULL), PAM_BAD_ITEM);
	AUTOFREE char *service = get_service(sock, id);
	cr_assert_str_eq(service, SERVICE);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, PASS_A), PAM_SUCCESS);
	close(sock);
}

Test(pam_monitor, calls_in_order_for_the_same_user)
{
	PMTEST_SKIP_UNLESS_ROOT();
	m.policy = load("auth { " SERVICE " }\n");
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER_A);
	cr_assert(sock >= 0);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	const int later[] = {PAM_WIRE_SETCRED, PAM_WIRE_OPEN_SESSION, PAM_WIRE_CLOSE_SESSION,
			     PAM_WIRE_CHAUTHTOK};
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(call(sock, id, later[i], PASS_A), PAM_PERM_DENIED, "before auth");
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, PASS_A), PAM_SUCCESS);
	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(call(sock, id, later[i], PASS_A), PAM_PERM_DENIED, "before acct");
	cr_assert_eq(call(sock, id, PAM_WIRE_ACCT_MGMT, ""), PAM_SUCCESS);
	/* another user, or the same one set again: start over */
	cr_assert_eq(set_item(sock, id, PAM_USER, USER_B), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_SETCRED, ""), PAM_PERM_DENIED);
	cr_assert_eq(set_item(sock, id, PAM_USER, USER_A), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_SETCRED, ""), PAM_PERM_DENIED);
	/* authenticate again, fail: what passed before counts no more */
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, PASS_A), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_ACCT_MGMT, ""), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_SETCRED, ""), PAM_SUCCESS);
	cr_assert_eq(call(sock, id, PAM_WIRE_AUTHENTICATE, "wrong"), PAM_AUTH_ERR);
	cr_assert_eq(call(sock, id, PAM_WIRE_SETCRED, ""), PAM_PERM_DENIED);
	close(sock);
}
