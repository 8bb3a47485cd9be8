/* The monitor's side of PAM without root: pam_wrapper (libpam-wrapper)
 * reads the services from a folder of the test's, and pam_matrix checks
 * passwords against a file of the test's. The monitor and its workers run
 * in this process and its children; the test plays the program on the
 * transaction channel. Runs the same as root or not. */
#include <poll.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <sys/epoll.h>

#include "monitor/pam_monitor.h"
#include "scope/resolve_scope.h"
#include "wire/pam_wire.h"
#include "testutil.h"

#define WRAPPER "libpam_wrapper.so"
#define MATRIX "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so"
#define SERVICE "pmtest-wrap"
/* its account step runs pam_set_items, which sets PAM_USER from the
 * environment: a module that changes the user */
#define SERVICE_MOD "pmtest-wrapmod"
#define SET_ITEMS "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so"
/* pam_matrix knows users from its file only; the report resolves the name
 * with getpwnam, so the user is one every system has. */
#define USER "nobody"
#define PASSWORD "Matrix-Fern-8"

/* pam_wrapper must be loaded when the process starts: start again with it,
 * and with the folder of services it should read. */
static void __attribute__((constructor)) load_pam_wrapper(int argc, char **argv)
{
	if (getenv("PAM_WRAPPER"))
		return;
	char dir[] = "/tmp/pmtest.wrap.XXXXXX";
	if (!mkdtemp(dir))
		return;
	char path[128];
	snprintf(path, sizeof(path), "%s/passdb", dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "%s:%s:%s\n", USER, PASSWORD, SERVICE);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", dir, SERVICE);
	f = fopen(path, "we");
	if (!f)
		return;
	/* echo: the prompt is PAM_PROMPT_ECHO_ON; verbose: a PAM_TEXT_INFO or
	 * PAM_ERROR_MSG after each check: more conversation to cross. */
	fprintf(f,
		"auth required " MATRIX " passdb=%s/passdb echo verbose\n"
		"account required " MATRIX " passdb=%s/passdb\n"
		"session required " MATRIX " passdb=%s/passdb\n",
		dir, dir, dir);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", dir, SERVICE_MOD);
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f,
		"auth required " MATRIX " passdb=%s/passdb\n"
		"account required " SET_ITEMS "\n"
		"account required pam_permit.so\n"
		"session required pam_permit.so\n",
		dir);
	fclose(f);
	/* libpam reads "other" first and complains when there is none */
	snprintf(path, sizeof(path), "%s/other", dir);
	f = fopen(path, "we");
	if (!f)
		return;
	fputs("auth required pam_deny.so\naccount required pam_deny.so\n"
	      "session required pam_deny.so\npassword required pam_deny.so\n",
	      f);
	fclose(f);
	char owner[32];
	snprintf(owner, sizeof(owner), "%d", (int)getpid());
	setenv("PMTEST_WRAP_OWNER", owner, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
	setenv("PMTEST_WRAP_DIR", dir, 1);
	const char *preload = getenv("LD_PRELOAD");
	char value[512];
	snprintf(value, sizeof(value), "%s%s" WRAPPER, preload ? preload : "",
		 preload && *preload ? ":" : "");
	setenv("LD_PRELOAD", value, 1);
#ifdef __SANITIZE_ADDRESS__
	/* ASan refuses RTLD_DEEPBIND; pam_wrapper 1.1.4 reads the second name */
	setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
	const char *opts = getenv("ASAN_OPTIONS");
	char asan[512];
	snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", opts ? opts : "",
		 opts && *opts ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
#endif
	execv("/proc/self/exe", argv);
}

/* The process that made the folder removes it (exec keeps the pid; the
 * test runner's other processes leave it alone). */
static void __attribute__((destructor)) remove_service_dir(void)
{
	const char *dir = getenv("PMTEST_WRAP_DIR"), *owner = getenv("PMTEST_WRAP_OWNER");
	if (!dir || !owner || atoi(owner) != (int)getpid() ||
	    strncmp(dir, "/tmp/pmtest.wrap.", 17) != 0)
		return;
	/* pam_wrapper copies the services into /tmp/pam.?, and a test process
	 * that ends with _exit leaves its copy: remove the copies of ours. */
	pmtest_sh("for d in /tmp/pam.?; do grep -qs 'passdb=%s/' \"$d/" SERVICE "\" && "
		  "rm -rf \"$d\"; done; rm -rf '%s'",
		  dir, dir);
}

static struct monitor m;
static struct monitor_channel c;

#include "pam_testwire.h"

static void setup(void)
{
	cr_assert(getenv("PAM_WRAPPER"), "not running under pam_wrapper");
	struct diag d;
	diag_init(&d);
	const char *text = "auth { " SERVICE " " SERVICE_MOD " }\nauth_allow_rerun true\n";
	m.policy = conf_load_buffer("test.conf", text, strlen(text), &d);
	cr_assert(m.policy && policy_validate(m.policy, &d) == 0);
	diag_free(&d);
	audit_init(&m.audit, "test_pam_wrapper");
	m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert(m.epoll_fd >= 0);
	c.sock = -1;
	c.pid = getpid();
}

static void teardown(void)
{
	pam_monitor_free(&m);
	policy_free(m.policy);
	close(m.epoll_fd);
}

TestSuite(pam_wrapper, .init = setup, .fini = teardown, .timeout = 30);

/* A call whose conversation is checked: every message's style and text
 * are collected into `seen`. */
static int call_seen(int sock, uint32_t id, int function, const char *answer, char *seen,
		     size_t cap)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CALL, id);
	wire_put_int(&w, function);
	wire_put_int(&w, 0);
	send_msg(sock, &w);
	seen[0] = '\0';
	for (;;) {
		ssize_t n = receive(sock);
		static struct pam_wire_conv cv;
		if (pam_wire_decode_conv(buf, (size_t)n, id, &cv) < 0)
			return reply_status(n, PAM_WIRE_CALL, id);
		struct pam_response resp[PAM_MAX_NUM_MSG];
		char text[64];
		snprintf(text, sizeof(text), "%s", answer);
		for (int i = 0; i < cv.count; i++) {
			size_t len = strlen(seen);
			snprintf(seen + len, cap - len, "%d:%s|", cv.style[i], cv.text[i]);
			bool prompt = cv.style[i] == PAM_PROMPT_ECHO_ON ||
				      cv.style[i] == PAM_PROMPT_ECHO_OFF;
			resp[i].resp = prompt ? text : NULL;
			resp[i].resp_retcode = 0;
		}
		size_t size =
			pam_wire_encode_answer(buf, sizeof(buf), id, PAM_SUCCESS, cv.count, resp);
		cr_assert(wire_send(sock, buf, size, NULL, 0, 0) == 0);
	}
}

static char *getenv_wire(int sock, uint32_t id, const char *name)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_GETENV, id);
	pam_wire_put_text(&w, name);
	send_msg(sock, &w);
	ssize_t n = receive(sock);
	struct wire_header h;
	struct wire_reader r;
	cr_assert_eq(wire_open_message(buf, (size_t)n, &h, &r), 0);
	cr_assert_eq(wire_get_int(&r), PAM_SUCCESS);
	char value[PAM_WIRE_MAX_ENV + 1];
	int len = pam_wire_get_text(&r, value, sizeof(value));
	cr_assert(len >= -1 && wire_reader_done(&r));
	return len >= 0 ? strdup(value) : NULL;
}

Test(pam_wrapper, authenticate_account_session_without_root)
{
	uid_t uid = getpwnam(USER)->pw_uid;
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, USER);
	cr_assert(sock >= 0, "start: %s", strerror(-sock));
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);

	char seen[1024];
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_AUTHENTICATE, "not it", seen, sizeof(seen)),
		     PAM_AUTH_ERR);
	cr_assert(strncmp(seen, "2:", 2) == 0, "an echo-on prompt first: %s", seen);
	cr_assert(strstr(seen, "|3:"), "then an error message: %s", seen);
	cr_assert_not(listed(uid));

	cr_assert_eq(call_seen(sock, id, PAM_WIRE_AUTHENTICATE, PASSWORD, seen, sizeof(seen)),
		     PAM_SUCCESS);
	cr_assert(strstr(seen, "|4:"), "then a text message: %s", seen);
	cr_assert_not(listed(uid), "not before the account step");
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_ACCT_MGMT, "", seen, sizeof(seen)), PAM_SUCCESS);
	cr_assert(listed(uid), "listed once both passed");

	/* pam_matrix's session sets HOMEDIR in the PAM environment: a
	 * module's variable read through the wire */
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_OPEN_SESSION, "", seen, sizeof(seen)),
		     PAM_SUCCESS);
	AUTOFREE char *home = getenv_wire(sock, id, "HOMEDIR");
	cr_assert_not_null(home);
	cr_assert_str_eq(home, "/home/" USER, "pam_matrix's own convention");
	AUTOFREE char *none = getenv_wire(sock, id, "PMTEST_UNSET");
	cr_assert_null(none);
	close(sock);
}

Test(pam_wrapper, unknown_user_refused)
{
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE, "pmtestnosuchuser");
	cr_assert(sock >= 0);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	char seen[1024];
	cr_assert_neq(call_seen(sock, id, PAM_WIRE_AUTHENTICATE, PASSWORD, seen, sizeof(seen)),
		      PAM_SUCCESS);
	cr_assert_neq(call_seen(sock, id, PAM_WIRE_ACCT_MGMT, "", seen, sizeof(seen)), PAM_SUCCESS);
	const uid_t *list;
	size_t count;
	pam_authenticated_uids(&m, &list, &count);
	cr_assert_eq(count, 0);
	close(sock);
}

Test(pam_wrapper, service_and_order_enforced_without_root)
{
	uint32_t id = 0;
	int sock = start_for(&id, "/tmp/pmtest.wrap.x/" SERVICE, USER);
	cr_assert(sock >= 0);
	cr_assert_eq(begun(sock, id), PAM_PERM_DENIED);
	close(sock);
	sock = start_for(&id, SERVICE, USER);
	cr_assert(sock >= 0);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_SET_ITEM, id);
	wire_put_int(&w, PAM_SERVICE);
	pam_wire_put_text(&w, "other");
	send_msg(sock, &w);
	cr_assert_eq(reply_status(receive(sock), PAM_WIRE_SET_ITEM, id), PAM_BAD_ITEM);
	char seen[1024];
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_OPEN_SESSION, "", seen, sizeof(seen)),
		     PAM_PERM_DENIED, "no session before authentication");
	cr_assert_str_eq(seen, "", "and no module ran");
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_AUTHENTICATE, PASSWORD, seen, sizeof(seen)),
		     PAM_SUCCESS);
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_ACCT_MGMT, "", seen, sizeof(seen)), PAM_SUCCESS);
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_OPEN_SESSION, "", seen, sizeof(seen)),
		     PAM_SUCCESS);
	close(sock);
}

Test(pam_wrapper, user_changed_by_a_module_has_not_passed)
{
	/* pam_matrix authenticates nobody; the account step then makes
	 * PAM_USER root. Neither root nor nobody passed both steps. */
	setenv("PAM_USER", "root", 1);
	uint32_t id = 0;
	int sock = start_for(&id, SERVICE_MOD, USER);
	cr_assert(sock >= 0);
	cr_assert_eq(begun(sock, id), PAM_SUCCESS);
	char seen[1024];
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_AUTHENTICATE, PASSWORD, seen, sizeof(seen)),
		     PAM_SUCCESS);
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_ACCT_MGMT, "", seen, sizeof(seen)), PAM_SUCCESS);
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_OPEN_SESSION, "", seen, sizeof(seen)),
		     PAM_PERM_DENIED);
	cr_assert_eq(call_seen(sock, id, PAM_WIRE_CHAUTHTOK, "", seen, sizeof(seen)),
		     PAM_PERM_DENIED);
	cr_assert_not(listed(0));
	cr_assert_not(listed(getpwnam(USER)->pw_uid));
	close(sock);
}
