/* The confine scope: the language (every mistake located), `privman check`
 * (the effective scope and what the kernel enforces), and the kernel's
 * enforcement checked by behaviour: `privman run` of cat, of python3's
 * http.server and of a probe (tests/helpers/confine_probe), and a program
 * split by priv_init, which reads only what the scope lets it read by
 * itself and still receives what the monitor grants. */
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>

#include "drop_testutil.h"
#include "policytest.h"
#include "scope/confine.h"

/* Test ports: 8110-8119. */
#define PORT_HTTP 8110
#define PORT_HTTP_REFUSED 8111
#define PORT_CONNECT_OK 8112
#define PORT_CONNECT_REFUSED 8113
#define PORT_BIND_OK 8114
#define PORT_BIND_REFUSED 8115

static char privman[PATH_MAX], probe[PATH_MAX];
static char user_name[40];
static char *dir;
static pid_t background = -1;

static void find_programs(void)
{
	pmtest_built(privman, sizeof(privman), "privman");
	pmtest_built(probe, sizeof(probe), "tests/helpers/confine_probe");
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	find_programs();
	if (geteuid() != 0)
		return;
	pmdrop_name(user_name, sizeof(user_name), "cf");
	pmtest_user_ensure(user_name);
	dir = pmtest_tmpdir();
}

static void teardown(void)
{
	if (background > 0) {
		kill(background, SIGKILL);
		waitpid(background, NULL, 0);
		background = -1;
	}
	if (geteuid() != 0)
		return;
	pmtest_user_remove(user_name);
	pmtest_rmtree(dir);
	free(dir);
}

TestSuite(confine, .init = setup, .fini = teardown, .timeout = 90);

/* --- helpers ------------------------------------------------------------------ */

/* Run a shell command; its stdout and stderr together, malloc'd; *status
 * its exit status. */
static char *capture(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *capture(int *status, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *full = NULL;
	cr_assert(asprintf(&full, "cd %s && { %s ; } 2>&1 </dev/null", dir ? dir : "/", cmd) > 0);
	FILE *p = popen(full, "r");
	cr_assert(p != NULL);
	char *out = calloc(1, 65536);
	cr_assert(out != NULL);
	size_t n = fread(out, 1, 65535, p);
	out[n] = '\0';
	int rc = pclose(p);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
	free(full);
	return out;
}

#define write_policy(name, ...) pmtest_write_filef(dir, (name), __VA_ARGS__)

/* `confine_probe ARGS` through privman run -c POLICY -u the test user. */
static char *run_probe(const char *policy, const char *args)
{
	int status;
	char *out = capture(&status, "%s run %s%s -u %s -- %s %s", privman, policy ? "-c " : "",
			    policy ? policy : "", user_name, probe, args);
	cr_assert_eq(status, 0, "the probe failed (%d):\n%s", status, out);
	return out;
}

#define expect_line(out, line) cr_expect(strstr((out), line "\n") != NULL, \
					 "wanted \"%s\" in:\n%s", line, (out))

/* A TCP listener on 127.0.0.1:port, for connects to reach. */
static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "port %d: %s", port,
		  strerror(errno));
	cr_assert(listen(fd, 8) == 0);
	return fd;
}

/* --- the language ----------------------------------------------------------------- */

Test(confine, scope_parses)
{
	struct diag d;
	struct policy *p = parse_text("confine {\n"
				      "    read { /usr /etc/ssl }\n"
				      "    write = /var/spool/app\n"
				      "    exec ( /usr/bin/id )\n"
				      "    bind { 8080 0 }\n"
				      "    connect { 53 https }\n"
				      "    STRICT yes\n"
				      "}\n",
				      &d);
	diag_print(&d);
	cr_assert_not_null(p);
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	const struct policy_confine *c = &p->confine;
	cr_assert(c->present);
	cr_expect_eq(c->lists[CONFINE_READ].count, 2);
	cr_expect_str_eq(c->lists[CONFINE_READ].items[1].text, "/etc/ssl");
	cr_expect_eq(c->lists[CONFINE_READ].items[1].origin.line, 2);
	cr_expect_eq(c->lists[CONFINE_READ].items[1].origin.column, 17);
	cr_expect_str_eq(c->lists[CONFINE_WRITE].items[0].text, "/var/spool/app");
	cr_expect_str_eq(c->lists[CONFINE_EXEC].items[0].text, "/usr/bin/id");
	cr_expect_eq(c->lists[CONFINE_BIND].items[0].port, 8080);
	cr_expect_eq(c->lists[CONFINE_BIND].items[1].port, 0);
	cr_expect_eq(c->lists[CONFINE_CONNECT].items[1].port, 443);
	cr_expect(c->strict && c->strict_set);
	cr_expect_not(confine_ports_any(c, CONFINE_BIND));
	policy_free(p);
	diag_free(&d);

	/* No scope: nothing is confined. */
	p = parse_text("fork true\n", &d);
	cr_assert_not_null(p);
	cr_expect_not(p->confine.present);
	policy_free(p);
	diag_free(&d);
}

Test(confine, a_later_scope_replaces_the_earlier_whole)
{
	struct diag d;
	struct policy *p = parse_text("confine { read /usr connect * }\n"
				      "confine { write /srv }\n",
				      &d);
	cr_assert_not_null(p);
	cr_expect_eq(p->confine.lists[CONFINE_READ].count, 0);
	cr_expect_eq(p->confine.lists[CONFINE_CONNECT].count, 0);
	cr_expect_eq(p->confine.lists[CONFINE_WRITE].count, 1);
	cr_expect_eq(p->confine.origin.line, 2);
	policy_free(p);
	diag_free(&d);
}

static void expect_error(const char *text, const char *message)
{
	struct diag d;
	struct policy *p = parse_text(text, &d);
	if (p && policy_validate_syntax(p, &d) == 0)
		cr_expect_fail("accepted: %s", text);
	cr_expect(diag_has(&d, message), "for %s wanted \"%s\"", text, message);
	if (!diag_has(&d, message))
		diag_print(&d);
	policy_free(p);
	diag_free(&d);
}

Test(confine, every_mistake_is_located)
{
	expect_error("confine {\n  read { /usr etc }\n}\n",
		     "test.conf:2:15: error: confine { read } path \"etc\" is not an absolute path");
	expect_error("confine { write /var/spool/app/** }",
		     "test.conf:1:17: error: confine { write } path \"/var/spool/app/**\" contains "
		     "'*': a directory grants everything beneath it");
	expect_error("confine { exec /usr/bin/ }", "1:16: error: confine { exec } path "
						      "\"/usr/bin/\" ends with '/'");
	expect_error("confine { read /usr/../etc }", "contains a '..' element");
	expect_error("confine { bind 70000 }",
		     "1:16: error: confine { bind } port \"70000\" is not a port number");
	expect_error("confine { connect 0 }", "names port 0, which no connection reaches");
	expect_error("confine { connect nosuchservice }",
		     "is neither a port number nor a TCP service name");
	expect_error("confine { reed /usr }",
		     "1:11: error: unknown confine option 'reed'; did you mean 'read'?");
	expect_error("confine { open_ro /x }",
		     "'open_ro' is not valid inside 'confine' (it belongs at the top level)");
	expect_error("confine { strict maybe }", "1:18: error: expected true or false");
	expect_error("confine { strict true strict false }",
		     "'strict' is given a second time in this 'confine' scope");
	expect_error("confine { read /usr", "'confine' scope opened here is never closed");
	expect_error("confine read /usr", "expected '{' to open the confine scope");
}

/* --- privman check ------------------------------------------------------------ */

Test(confine, check_prints_the_effective_scope_and_the_kernel)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *policy = write_policy("p", "confine {\n"
						  "    read /etc/hostname\n"
						  "    bind 8080\n"
						  "}\n");
	int status;
	AUTOFREE char *out = capture(&status, "%s check -c %s", privman, policy);
	cr_assert_eq(status, 0, "%s", out);
	const char *wanted[] = {
		"confine {", "minimum: the loader, which the kernel runs",
		"write   \"/dev/null\"", "read    \"/etc/ld.so.cache\"",
		"read    \"/etc/hostname\"", "/p:2:10", "bind    8080",
		"connect { }", "every TCP connect is refused", "strict  false",
		"# this kernel: Linux ", "Landlock ABI ",
		"ABI 4 (Linux 6.7) TCP bind and connect only to the ports named",
		"ABI 6 (Linux 6.12) no signal and no abstract UNIX socket",
		"the seccomp filter (Linux 3.17) refuses, with EPERM unless said",
		"io_uring_setup", "ptrace",
		"SCTP, MPTCP, DCCP", "another architecture (i386 and x32 on x86-64)",
		"a family other than UNIX, IPv4, IPv6 and netlink", "MSG_FASTOPEN",
	};
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		cr_expect(strstr(out, wanted[i]) != NULL, "wanted \"%s\" in:\n%s", wanted[i], out);
	int abi = confine_kernel_abi();
	char line[64];
	snprintf(line, sizeof(line), "Landlock ABI %d", abi);
	cr_expect(strstr(out, line) != NULL, "wanted \"%s\" in:\n%s", line, out);

	AUTOFREE char *bare = write_policy("bare", "fork true\n");
	AUTOFREE char *none = capture(&status, "%s check -c %s", privman, bare);
	cr_expect(strstr(none, "# confine: none") != NULL, "%s", none);

	/* A path that does not exist: invalid, as priv_init would find it. */
	AUTOFREE char *missing = write_policy("missing", "confine {\n  exec /no/such/prog\n}\n");
	AUTOFREE char *refused = capture(&status, "%s check -c %s", privman, missing);
	cr_expect_eq(status, 1, "%s", refused);
	cr_expect(strstr(refused, "/missing:2:8: error: confine { exec } \"/no/such/prog\": No "
				  "such file or directory") != NULL,
		  "%s", refused);
}

/* --- the kernel's ABI: enforce what it has, or refuse (strict) ------------- */

static struct policy *confine_policy(const char *text)
{
	struct diag d;
	struct policy *p = load_text(text, &d);
	diag_print(&d);
	diag_free(&d);
	cr_assert_not_null(p);
	return p;
}

Test(confine, strict_refuses_what_an_older_kernel_lacks)
{
	if (confine_kernel_abi() < 1)
		cr_skip_test("this kernel has no Landlock");
	struct policy *p = confine_policy("confine { read /etc/hostname strict true }");
	struct confine_plan plan;
	struct diag d;
	/* As on Linux 6.2 (ABI 3): no TCP rule, no ioctl rule, no scopes. */
	diag_init(&d);
	cr_expect_eq(confine_prepare(&p->confine, NULL, NULL, 3, &plan, &d), -1);
	cr_expect(diag_has(&d, "1:37: error: confine: strict, and this kernel (Landlock ABI 3) "
			       "cannot enforce: TCP bind and connect only to the ports named "
			       "(Landlock ABI 4, Linux 6.7)"));
	cr_expect(diag_has(&d, "(Landlock ABI 5, Linux 6.10)"));
	cr_expect(diag_has(&d, "(Landlock ABI 6, Linux 6.12)"));
	cr_expect_not(diag_has(&d, "Linux 6.2)"), "what ABI 3 has is not reported");
	diag_free(&d);
	/* As with no Landlock at all. */
	diag_init(&d);
	cr_expect_eq(confine_prepare(&p->confine, NULL, NULL, 0, &plan, &d), -1);
	cr_expect(diag_has(&d, "files: read, write, execute, create and remove only beneath "
			       "the paths named (Landlock ABI 1, Linux 5.13)"));
	diag_free(&d);
	/* With bind * and connect *, the TCP part is not needed. */
	struct policy *open_net =
		confine_policy("confine { read /etc/hostname bind * connect * strict true }");
	diag_init(&d);
	cr_expect_eq(confine_prepare(&open_net->confine, NULL, NULL, 3, &plan, &d), -1);
	cr_expect_not(diag_has(&d, "TCP bind"));
	diag_free(&d);
	/* This kernel: strict starts when it has every part. */
	diag_init(&d);
	if (confine_kernel_abi() >= 6) {
		cr_expect_eq(confine_prepare(&p->confine, NULL, NULL, confine_kernel_abi(), &plan, &d),
			     0);
		confine_plan_free(&plan);
	} else {
		cr_log_info("this kernel has Landlock ABI %d: strict cannot start here",
			    confine_kernel_abi());
	}
	diag_free(&d);
	policy_free(open_net);
	policy_free(p);
}

/* privman check's report for an older kernel: what it lacks is marked. */
Test(confine, the_report_marks_what_an_older_kernel_lacks)
{
	struct policy *p = confine_policy("confine { read /etc/hostname connect * }");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	confine_report(&p->confine, NULL, 3, out);
	fclose(out);
	cr_expect(strstr(text, "# this kernel: Linux ") && strstr(text, ", Landlock ABI 3"), "%s",
		  text);
	cr_expect(strstr(text, "ABI 3 (Linux 6.2) truncate(2) only beneath write: enforced\n"),
		  "%s", text);
	cr_expect(strstr(text, "ABI 4 (Linux 6.7) TCP bind and connect only to the ports named: "
			       "NOT ENFORCED\n"),
		  "%s", text);
	cr_expect(strstr(text, "ABI 6 (Linux 6.12) no signal and no abstract UNIX socket outside "
			       "the program's own processes: NOT ENFORCED\n"),
		  "%s", text);
	free(text);
	policy_free(p);

	/* strict: missing; bind * and connect *: the TCP part is not needed. */
	p = confine_policy("confine { read /etc/hostname bind * connect * strict on }");
	out = open_memstream(&text, &len);
	confine_report(&p->confine, NULL, 3, out);
	fclose(out);
	cr_expect(strstr(text, "TCP bind and connect only to the ports named: not needed here\n"),
		  "%s", text);
	cr_expect(strstr(text, "(Linux 6.10) ioctl(2) on devices only beneath write: MISSING: "
			       "strict, the program does not start\n"),
		  "%s", text);
	free(text);
	policy_free(p);
}

/* Without strict, an older ABI's rules are enforced and the rest reported:
 * entered for real in a child (as on Linux 6.2: files yes, TCP no). */
Test(confine, an_older_abi_enforces_what_it_has)
{
	if (confine_kernel_abi() < 3)
		cr_skip_test("this kernel has Landlock ABI %d, < 3", confine_kernel_abi());
	struct policy *p = confine_policy("confine { read /etc/hostname bind 1 }");
	struct confine_plan plan;
	struct diag d;
	diag_init(&d);
	cr_assert_eq(confine_prepare(&p->confine, NULL, NULL, 3, &plan, &d), 0);
	cr_expect(diag_has(&d, "warning: confine: this kernel (Landlock ABI 3) does not enforce: "
			       "TCP bind and connect only to the ports named (Landlock ABI 4, "
			       "Linux 6.7); the rest is enforced"));
	diag_free(&d);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		const char *step;
		if (confine_enforce(&plan, &step) != 0)
			_exit(10);
		if (open("/etc/hostname", O_RDONLY) < 0)
			_exit(11);
		if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
			_exit(12);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT_BIND_OK) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			_exit(13); /* TCP is not handled at ABI 3 */
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	confine_plan_free(&plan);
	policy_free(p);
}

/* --- privman run ---------------------------------------------------------------- */

Test(confine, run_cat_reads_only_what_is_named)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *allowed = pmtest_write_file(dir, "allowed.txt", "allowed text\n");
	AUTOFREE char *other = pmtest_write_file(dir, "other.txt", "other text\n");
	AUTOFREE char *policy = write_policy("p", "confine { read %s }\n", allowed);
	int status;
	AUTOFREE char *ok = capture(&status, "%s run -c %s -- cat %s", privman, policy, allowed);
	cr_expect_eq(status, 0, "%s", ok);
	cr_expect_str_eq(ok, "allowed text\n");
	AUTOFREE char *refused = capture(&status, "%s run -c %s -- cat /etc/passwd %s", privman,
					 policy, other);
	cr_expect_eq(status, 1, "%s", refused);
	cr_expect(strstr(refused, "cat: /etc/passwd: Permission denied") != NULL, "%s", refused);
	cr_expect(strstr(refused, "other.txt: Permission denied") != NULL, "%s", refused);
	/* Without a confine scope nothing changes. */
	AUTOFREE char *bare = write_policy("bare", "security { user nobody }\n");
	AUTOFREE char *free_cat = capture(&status, "%s run -c %s -- cat %s", privman, bare, other);
	cr_expect_eq(status, 0, "%s", free_cat);
	cr_expect_str_eq(free_cat, "other text\n");
}

/* A scope may grant "/" itself, by name or through a symbolic link: the
 * drop's proof (opening "/" must fail) then does not apply. */
Test(confine, run_with_the_root_granted)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char link[PATH_MAX];
	snprintf(link, sizeof(link), "%s/root", dir);
	cr_assert(symlink("/", link) == 0);
	AUTOFREE char *policy = write_policy("p", "confine { read %s }\n", link);
	int status;
	AUTOFREE char *out = capture(&status, "%s run -c %s -- cat /etc/hostname", privman, policy);
	cr_expect_eq(status, 0, "%s", out);
}

Test(confine, run_refuses_a_path_that_does_not_exist)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *policy = write_policy("p", "confine {\n  read /no/such/dir\n}\n");
	int status;
	AUTOFREE char *out = capture(&status, "%s run -c %s -- echo ran", privman, policy);
	cr_expect_eq(status, EX_CONFIG, "%s", out);
	cr_expect(strstr(out, "/p:2:8: error: confine { read } \"/no/such/dir\": No such file or "
			      "directory") != NULL,
		  "%s", out);
	cr_expect(strstr(out, "ran") == NULL, "%s", out);
}

Test(confine, run_files_ports_and_exec)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char spool[PATH_MAX], other[PATH_MAX];
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	cr_assert(mkdir(spool, 0777) == 0 && chmod(spool, 0777) == 0);
	cr_assert(mkdir(other, 0777) == 0 && chmod(other, 0777) == 0);
	AUTOFREE char *policy = write_policy("p",
					     "confine {\n"
					     "  write %s\n"
					     "  exec /usr/bin/id\n"
					     "  bind %d\n"
					     "  connect %d\n"
					     "}\n",
					     spool, PORT_BIND_OK, PORT_CONNECT_OK);
	int ok_fd = listen_on(PORT_CONNECT_OK), refused_fd = listen_on(PORT_CONNECT_REFUSED);
	char args[3 * PATH_MAX + 256];
	snprintf(args, sizeof(args),
		 "create %s/made create %s/made read %s/made exec /usr/bin/id exec /usr/bin/whoami "
		 "bind %d bind %d connect %d connect %d fastopen %d",
		 spool, other, spool, PORT_BIND_OK, PORT_BIND_REFUSED, PORT_CONNECT_OK,
		 PORT_CONNECT_REFUSED, PORT_CONNECT_REFUSED);
	AUTOFREE char *out = run_probe(policy, args);
	char line[PATH_MAX + 64];
	snprintf(line, sizeof(line), "create %s/made: ok\n", spool);
	cr_expect(strstr(out, line) != NULL, "%s", out);
	snprintf(line, sizeof(line), "create %s/made: EACCES\n", other);
	cr_expect(strstr(out, line) != NULL, "%s", out);
	snprintf(line, sizeof(line), "read %s/made: ok\n", spool);
	cr_expect(strstr(out, line) != NULL, "%s", out);
	expect_line(out, "exec /usr/bin/id: ok");
	expect_line(out, "exec /usr/bin/whoami: EACCES");
	if (confine_kernel_abi() >= 4) {
		/* TCP Fast Open connects through sendto, past Landlock's
		 * connect rule: the filter refuses it. */
		snprintf(line, sizeof(line), "bind %d: ok\nbind %d: EACCES\nconnect %d: ok\n"
					     "connect %d: EACCES\nfastopen %d: EOPNOTSUPP\n",
			 PORT_BIND_OK, PORT_BIND_REFUSED, PORT_CONNECT_OK, PORT_CONNECT_REFUSED,
			 PORT_CONNECT_REFUSED);
		cr_expect(strstr(out, line) != NULL, "wanted\n%s\nin\n%s", line, out);
	} else {
		cr_log_info("Landlock ABI %d: no TCP rule to test", confine_kernel_abi());
	}
	/* The same without the scope: everything works. */
	AUTOFREE char *free_out = run_probe(NULL, args);
	snprintf(line, sizeof(line), "create %s/made: ok\n", other);
	cr_expect(strstr(free_out, line) != NULL, "%s", free_out);
	expect_line(free_out, "exec /usr/bin/whoami: ok");
	snprintf(line, sizeof(line), "connect %d: ok\n", PORT_CONNECT_REFUSED);
	cr_expect(strstr(free_out, line) != NULL, "%s", free_out);
	close(ok_fd);
	close(refused_fd);
}

static bool served(const char *url, const char *token)
{
	for (int i = 0; i < 100; i++) {
		int status;
		AUTOFREE char *out = capture(&status, "curl -s --max-time 2 %s", url);
		if (status == 0 && strcmp(out, token) == 0)
			return true;
		if (waitpid(background, &status, WNOHANG) == background) {
			background = -1;
			return false;
		}
		usleep(100000);
	}
	return false;
}

static pid_t start_server(const char *policy, int port, const char *www, const char *log)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0 ||
		    chdir(www) != 0)
			_exit(120);
		char port_text[16];
		snprintf(port_text, sizeof(port_text), "%d", port);
		execl(privman, privman, "run", "-c", policy, "-u", user_name, "--", "python3", "-m",
		      "http.server", port_text, "--bind", "127.0.0.1", "--directory", www,
		      (char *)NULL);
		_exit(119);
	}
	return pid;
}

static char *slurp(const char *path)
{
	int status;
	return capture(&status, "cat %s", path);
}

Test(confine, run_python_http_server)
{
	PMTEST_SKIP_UNLESS_ROOT();
	if (confine_kernel_abi() < 4)
		cr_skip_test("Landlock ABI %d has no TCP rule", confine_kernel_abi());
	char www[PATH_MAX], log[PATH_MAX], url[128], token[64];
	snprintf(www, sizeof(www), "%s/www", dir);
	snprintf(log, sizeof(log), "%s/server.log", dir);
	cr_assert(mkdir(www, 0755) == 0);
	snprintf(token, sizeof(token), "served by %ld", (long)getpid());
	free(pmtest_write_file(www, "token.txt", token));
	char link[PATH_MAX + 16];
	snprintf(link, sizeof(link), "%s/passwd", www);
	cr_assert(symlink("/etc/passwd", link) == 0);
	/* What python3 reads: its library, and the MIME types http.server
	 * looks up. */
	if (access("/usr/lib/python3.11", F_OK) != 0)
		cr_skip_test("no /usr/lib/python3.11 here");
	const char *mime = access("/etc/mime.types", F_OK) == 0 ? "/etc/mime.types" : "";
	const char *dist = access("/usr/lib/python3", F_OK) == 0 ? "/usr/lib/python3" : "";
	AUTOFREE char *policy = write_policy("p",
					     "confine {\n"
					     "  read { /usr/lib/python3.11 %s %s %s }\n"
					     "  bind %d\n"
					     "}\n",
					     dist, www, mime, PORT_HTTP);
	background = start_server(policy, PORT_HTTP, www, log);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/token.txt", PORT_HTTP);
	bool answered = served(url, token);
	AUTOFREE char *text = slurp(log);
	cr_expect(answered, "the confined server did not serve the token; its log:\n%s", text);
	/* It may not read beyond what is named: a symbolic link in www to
	 * /etc/passwd, which http.server follows, is refused by the kernel. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/passwd", PORT_HTTP);
	int status;
	AUTOFREE char *passwd = capture(&status, "curl -s --max-time 2 %s", url);
	cr_expect(strstr(passwd, "root:") == NULL, "the server read /etc/passwd:\n%s", passwd);
	cr_expect(strstr(passwd, "404") != NULL, "%s", passwd);
	if (background > 0) {
		kill(background, SIGTERM);
		waitpid(background, NULL, 0);
		background = -1;
	}

	/* A port not in bind: the server cannot start. */
	background = start_server(policy, PORT_HTTP_REFUSED, www, log);
	status = 0;
	bool exited = false;
	for (int i = 0; i < 100 && !exited; i++) {
		exited = waitpid(background, &status, WNOHANG) == background;
		if (!exited)
			usleep(100000);
	}
	if (exited)
		background = -1;
	AUTOFREE char *refused = slurp(log);
	cr_expect(exited && WIFEXITED(status) && WEXITSTATUS(status) != 0,
		  "bound a port outside bind:\n%s", refused);
	cr_expect(strstr(refused, "PermissionError") != NULL, "%s", refused);
}

/* In a chroot, paths are the program's: resolved inside the jail (a
 * symbolic link there too), and the minimum is found where the jail holds
 * the loader and libc. */
Test(confine, run_in_a_chroot_resolves_paths_inside_it)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char jail[PATH_MAX];
	snprintf(jail, sizeof(jail), "%s/jail", dir);
	cr_assert(mkdir(jail, 0755) == 0);
	cr_assert_eq(pmtest_sh("cp '%s' '%s/confine_probe' && for lib in $(ldd '%s' | grep -o "
			       "'/[^ ]*'); do cp -L --parents \"$lib\" '%s' || exit 1; done && "
			       "mkdir -m 755 '%s/data' && echo ok > '%s/data/ok.txt' && "
			       "echo no > '%s/data/no.txt' && ln -s /data/ok.txt '%s/data/link' && "
			       "chmod 644 '%s/data/ok.txt' '%s/data/no.txt'",
			       probe, jail, probe, jail, jail, jail, jail, jail, jail, jail),
		     0);
	cr_assert(access("/data/ok.txt", F_OK) != 0, "this test needs no /data/ok.txt here");
	AUTOFREE char *policy = write_policy("p", "confine { read /data/link }\n");
	int status;
	AUTOFREE char *out = capture(&status,
				     "%s run -c %s -u %s --chroot %s -- /confine_probe read "
				     "/data/ok.txt read /data/no.txt",
				     privman, policy, user_name, jail);
	cr_expect_eq(status, 0, "%s", out);
	expect_line(out, "read /data/ok.txt: ok");
	expect_line(out, "read /data/no.txt: EACCES");
}

/* --- what Landlock's scopes and the filter refuse --------------------------- */

/* A process of the test user outside the probe's domain. */
static pid_t same_user_sleeper(void)
{
	struct passwd *pw = getpwnam(user_name);
	cr_assert_not_null(pw);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
			_exit(120);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int i = 0; i < 600; i++)
			usleep(100000);
		_exit(0);
	}
	return pid;
}

Test(confine, signals_ptrace_and_abstract_sockets_stay_in_the_domain)
{
	PMTEST_SKIP_UNLESS_ROOT();
	if (confine_kernel_abi() < 6)
		cr_skip_test("Landlock ABI %d has no scopes (ABI 6, Linux 6.12)",
			     confine_kernel_abi());
	AUTOFREE char *policy = write_policy("p", "confine { }\n");
	background = same_user_sleeper();
	char name[64];
	snprintf(name, sizeof(name), "pmtestcf.%ld", (long)getpid());
	int un = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	memcpy(a.sun_path + 1, name, strlen(name));
	cr_assert(bind(un, (struct sockaddr *)&a,
		       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) == 0);
	cr_assert(listen(un, 8) == 0);

	char args[256];
	snprintf(args, sizeof(args), "kill %ld ptrace %ld abstract %s", (long)background,
		 (long)background, name);
	AUTOFREE char *out = run_probe(policy, args);
	char line[256];
	snprintf(line, sizeof(line), "kill %ld: EPERM\nptrace %ld: EPERM\nabstract %s: EPERM\n",
		 (long)background, (long)background, name);
	cr_expect(strstr(out, line) != NULL, "wanted\n%s\nin\n%s", line, out);
	/* Unconfined, the same user may signal it and reach the socket. */
	AUTOFREE char *free_out = run_probe(NULL, args);
	snprintf(line, sizeof(line), "kill %ld: ok\n", (long)background);
	cr_expect(strstr(free_out, line) != NULL, "%s", free_out);
	snprintf(line, sizeof(line), "abstract %s: ok\n", name);
	cr_expect(strstr(free_out, line) != NULL, "%s", free_out);
	close(un);
}

Test(confine, io_uring_and_protocols_that_bypass_tcp_rules_are_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *policy = write_policy("p", "confine { bind * connect * }\n");
	const char *args = "iouring - mptcp - sctp - seqpacket - int80 - family 1 family 2 "
			   "family 10 family 16 family 40 family 43 family 17 family 46 pair 1 "
			   "pair 2";
	AUTOFREE char *out = run_probe(policy, args);
	expect_line(out, "iouring -: EPERM");
	/* Families: UNIX, IPv4, IPv6 and netlink only (vsock, SMC, packet, one
	 * past the last are refused); pairs of UNIX sockets only. */
	expect_line(out, "family 1: ok\nfamily 2: ok\nfamily 10: ok\nfamily 16: ok\n"
			 "family 40: EAFNOSUPPORT\nfamily 43: EAFNOSUPPORT\n"
			 "family 17: EAFNOSUPPORT\nfamily 46: EAFNOSUPPORT\npair 1: ok\n"
			 "pair 2: EAFNOSUPPORT");
#if defined(__x86_64__)
	expect_line(out, "int80 -: SYS"); /* another architecture's calls: killed */
#endif
	expect_line(out, "mptcp -: EPERM");
	expect_line(out, "sctp -: EPERM");
	expect_line(out, "seqpacket -: EPERM");
	/* Unconfined, none of them is refused by a filter (the kernel may
	 * lack the protocol, or have io_uring disabled: not EPERM then). */
	AUTOFREE char *free_out = run_probe(NULL, args);
	cr_log_info("unconfined:\n%s", free_out);
	cr_expect(strstr(free_out, "mptcp -: EPERM") == NULL, "%s", free_out);
	cr_expect(strstr(free_out, "sctp -: EPERM") == NULL, "%s", free_out);
#if defined(__x86_64__)
	expect_line(free_out, "int80 -: ok");
#endif
}

/* --- priv_init ------------------------------------------------------------------- */

Test(confine, priv_init_program_reads_granted_files_only_through_the_monitor)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *mine = pmtest_write_file(dir, "mine.txt", "mine\n");
	AUTOFREE char *policy = write_policy("t",
					     "open_ro /etc/passwd\n"
					     "bind 127.0.0.1:%d\n"
					     "allow_rerun true\n"
					     "run_as %s\n"
					     "security { user %s }\n"
					     "confine { read %s }\n",
					     PORT_BIND_REFUSED, user_name, user_name, mine);
	int status;
	AUTOFREE char *out = capture(&status,
				     "PRIVMAN_CONF_DIR=%s %s init t read /etc/passwd privopen "
				     "/etc/passwd read %s privopen /etc/group bind %d privbind %d "
				     "rerun %s",
				     dir, probe, mine, PORT_BIND_REFUSED, PORT_BIND_REFUSED, user_name);
	cr_expect_eq(status, 0, "%s", out);
	expect_line(out, "read /etc/passwd: EACCES");
	expect_line(out, "privopen /etc/passwd: ok");
	char line[PATH_MAX + 32];
	snprintf(line, sizeof(line), "read %s: ok\n", mine);
	cr_expect(strstr(out, line) != NULL, "%s", out);
	expect_line(out, "privopen /etc/group: EACCES"); /* the policy's refusal */
	/* A port: the program may not bind it itself, the monitor does. */
	char port_lines[128];
	snprintf(port_lines, sizeof(port_lines), "bind %d: %s\nprivbind %d: ok\n",
		 PORT_BIND_REFUSED, confine_kernel_abi() >= 4 ? "EACCES" : "ok", PORT_BIND_REFUSED);
	cr_expect(strstr(out, port_lines) != NULL, "wanted\n%s\nin\n%s", port_lines, out);
	/* A rerun runs the program's code anew: confined as well. */
	expect_line(out, "rerun read /etc/passwd: EACCES");

	/* Without the scope, the program reads /etc/passwd itself. */
	AUTOFREE char *bare = write_policy("t", "security { user %s }\n", user_name);
	AUTOFREE char *free_out = capture(&status, "PRIVMAN_CONF_DIR=%s %s init t read /etc/passwd",
					  dir, probe);
	expect_line(free_out, "read /etc/passwd: ok");
}

Test(confine, priv_init_refuses_a_scope_it_cannot_apply)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *policy = write_policy("t", "confine {\n  write /no/such/spool\n}\n");
	int status;
	AUTOFREE char *out = capture(&status, "PRIVMAN_CONF_DIR=%s %s init t read /etc/passwd", dir,
				     probe);
	cr_expect_neq(status, 0, "%s", out);
	cr_expect(strstr(out, "/t:2:9: error: confine { write } \"/no/such/spool\"") != NULL, "%s",
		  out);
	cr_expect(strstr(out, "read /etc/passwd") == NULL, "the program ran:\n%s", out);
}

/* SIGHUP: a changed scope is reported (it applies to reruns from then on);
 * one naming a path that does not exist is refused, the policy unchanged. */
static bool wait_for_text(const char *path, const char *text)
{
	for (int i = 0; i < 500; i++) {
		AUTOFREE char *got = slurp(path);
		if (strstr(got, text))
			return true;
		usleep(10000);
	}
	return false;
}

Test(confine, a_reload_reports_a_changed_scope)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *mine = pmtest_write_file(dir, "mine.txt", "mine\n");
	AUTOFREE char *policy = write_policy("t", "confine { read %s }\n", mine);
	char out[PATH_MAX], audit[PATH_MAX], go[PATH_MAX];
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(audit, sizeof(audit), "%s/audit.json", dir);
	snprintf(go, sizeof(go), "%s/go", dir);
	fflush(NULL);
	background = fork();
	cr_assert(background >= 0);
	if (background == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
			_exit(120);
		setenv("PRIVMAN_CONF_DIR", dir, 1);
		setenv("PRIVMAN_AUDIT", audit, 1);
		execl(probe, probe, "init", "t", "nohup", "-", "ready", "-", "waitfor", go, "read", mine,
		      (char *)NULL);
		_exit(119);
	}
	cr_assert(wait_for_text(out, "ready -: ok\n"), "the program did not start");

	free(write_policy("t", "confine { read { %s /etc/passwd } }\n", mine));
	cr_assert(kill(background, SIGHUP) == 0);
	cr_assert(wait_for_text(audit, "reloaded"), "no reload");
	AUTOFREE char *log = slurp(audit);
	cr_expect(strstr(log, "the confine scope changed: it applies to reruns started from now "
			      "on") != NULL,
		  "%s", log);

	free(write_policy("t", "confine {\n  read /no/such/file\n}\n"));
	cr_assert(kill(background, SIGHUP) == 0);
	if (!wait_for_text(audit, "unchanged")) {
		AUTOFREE char *all = slurp(audit);
		cr_assert_fail("the broken reload was not refused:\n%s", all);
	}

	int fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert(fd >= 0);
	close(fd);
	int status;
	cr_assert_eq(waitpid(background, &status, 0), background);
	background = -1;
	AUTOFREE char *text = slurp(out);
	char line[PATH_MAX + 16];
	snprintf(line, sizeof(line), "read %s: ok\n", mine);
	cr_expect(strstr(text, line) != NULL, "%s", text);
}
