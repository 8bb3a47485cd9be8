/* privman learn, end to end: real programs split by priv_init learn through
 * PRIVMAN_LEARN, the policy is written, and the same workload then runs
 * under it with no refusal. The helpers are examples/privman-demo (an HTTP
 * server), tests/helpers/monitor_prog (file requests) and proc_prog
 * (reruns, fork, popen_as). Ports 780-799. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"

#define USER1 "pmtestlrn1"
#define DEMO_PORT 783

static char *dir;
static pid_t spawned; /* a server still running: ended by teardown */

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
	pmtest_user_ensure(USER1);
}

static void teardown(void)
{
	if (spawned > 0) { /* a failed test left it: privman learn passes it on */
		kill(spawned, SIGTERM);
		for (int i = 0; i < 200 && waitpid(spawned, NULL, WNOHANG) == 0; i++)
			usleep(10000);
		kill(spawned, SIGKILL);
		waitpid(spawned, NULL, 0);
	}
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

TestSuite(learn, .init = setup, .fini = teardown, .timeout = 120);

static const char *built(const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	char rel[PATH_MAX];
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/%s", build && *build ? build : "build", name);
	char *path = paths[next++ % 4];
	if (!realpath(rel, path))
		snprintf(path, PATH_MAX, "%s", rel);
	return path;
}

static char out[1 << 16];
static char err[1 << 16];

static void slurp_path(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

static void slurp(const char *name, char *buf, size_t cap)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	slurp_path(p, buf, cap);
}

/* `text` with every "@" replaced by the test directory. */
static void expand(const char *text, char *buf, size_t cap)
{
	size_t o = 0, n = strlen(dir);
	for (const char *p = text; *p; p++) {
		size_t add = *p == '@' ? n : 1;
		cr_assert(o + add < cap, "%s: too long", text);
		if (*p == '@')
			memcpy(buf + o, dir, n);
		else
			buf[o] = *p;
		o += add;
	}
	buf[o] = '\0';
}

/* Run a shell command line ("@": the test directory) in it, stdout and
 * stderr into out and err; returns the exit status. */
static int sh(const char *line)
{
	char expanded[16384], cmd[20000];
	expand(line, expanded, sizeof(expanded));
	snprintf(cmd, sizeof(cmd), "cd %s && timeout -s KILL 60 %s >%s/out 2>%s/err </dev/null",
		 dir, expanded, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

/* privman learn ARGS; the policy written is read into `policy`. */
static char policy[1 << 16];

static int learn(const char *args, const char *output)
{
	char line[16384];
	snprintf(line, sizeof(line), "%s learn %s", built("privman"), args);
	int rc = sh(line);
	policy[0] = '\0';
	if (output)
		slurp(output, policy, sizeof(policy));
	return rc;
}

static void expect_learn(const char *args, const char *output)
{
	int rc = learn(args, output);
	cr_assert_eq(rc, 0, "privman learn %s: status %d\nstderr:\n%s", args, rc, err);
}

/* privman check of a written policy passes (out and err are kept). */
static void expect_checks(const char *name)
{
	char cmd[PATH_MAX * 3], said[1 << 14];
	snprintf(cmd, sizeof(cmd), "%s check -q -c %s/%s >%s/check.out 2>&1", built("privman"), dir,
		 name, dir);
	int rc = system(cmd);
	slurp("check.out", said, sizeof(said));
	cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
		  "privman check of %s failed:\n%s\npolicy:\n%s", name, said, policy);
}

static void expect_line(const char *text)
{
	char want[PATH_MAX * 2];
	expand(text, want, sizeof(want));
	cr_assert(strstr(policy, want), "no \"%s\" in the policy:\n%s\nstderr:\n%s", want, policy,
		  err);
}

static void expect_no_line(const char *text)
{
	char want[PATH_MAX * 2];
	expand(text, want, sizeof(want));
	cr_assert(!strstr(policy, want), "\"%s\" in the policy:\n%s", want, policy);
}

/* A file only root can read. */
static void secret(const char *name, const char *text)
{
	char *p = pmtest_write_file(dir, name, text);
	cr_assert(chmod(p, 0600) == 0);
	free(p);
}

static void make_dir(const char *name, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	cr_assert(mkdir(p, mode) == 0 || errno == EEXIST, "mkdir %s: %s", p, strerror(errno));
}

/* The policy written, installed for APP in @/conf. */
static void install(const char *name, const char *app)
{
	char from[PATH_MAX], to[PATH_MAX];
	make_dir("conf", 0755);
	snprintf(from, sizeof(from), "%s/%s", dir, name);
	snprintf(to, sizeof(to), "%s/conf/%s", dir, app);
	cr_assert(rename(from, to) == 0, "rename %s: %s", from, strerror(errno));
}

/* --- the demo server ---------------------------------------------------------------- */

/* GET `path` from 127.0.0.1:port: the body into buf. Waits for the server
 * for up to 5 s. Returns the HTTP status, or -1. */
static int http_get(int port, const char *path, char *buf, size_t cap)
{
	for (int attempt = 0; attempt < 250; attempt++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(s);
			usleep(20000);
			continue;
		}
		char req[PATH_MAX + 64];
		int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
		cr_assert(write(s, req, (size_t)n) == n);
		size_t got = 0;
		ssize_t r;
		while (got + 1 < cap && (r = read(s, buf + got, cap - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = '\0';
		close(s);
		int status = -1;
		sscanf(buf, "HTTP/1.%*d %d", &status);
		char *body = strstr(buf, "\r\n\r\n");
		if (body)
			memmove(buf, body + 4, strlen(body + 4) + 1);
		return status;
	}
	return -1;
}

static pid_t spawn(const char *line)
{
	char expanded[16384], cmd[20000];
	expand(line, expanded, sizeof(expanded));
	snprintf(cmd, sizeof(cmd), "cd %s && exec %s >%s/out 2>%s/err </dev/null", dir, expanded,
		 dir, dir);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	spawned = pid;
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;
	for (int i = 0; i < 1000; i++) {
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid) {
			spawned = 0;
			slurp("out", out, sizeof(out));
			slurp("err", err, sizeof(err));
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	cr_assert_fail("did not end in 10 s");
	return -1;
}

/* The workload: a root-only file through priv_open, then quit. */
static void demo_workload(void)
{
	char body[4096], path[PATH_MAX];
	snprintf(path, sizeof(path), "/file%s/docs/index.txt", dir);
	int status = http_get(DEMO_PORT, path, body, sizeof(body));
	cr_assert_eq(status, 200, "GET %s: %d %s", path, status, body);
	cr_assert_str_eq(body, "only root may read this\n");
	status = http_get(DEMO_PORT, "/quit", body, sizeof(body));
	cr_assert_eq(status, 200);
}

Test(learn, the_demo_server_learns_then_runs_under_its_policy_with_no_refusal)
{
	make_dir("docs", 0700);
	secret("docs/index.txt", "only root may read this\n");
	char line[PATH_MAX * 2];
	snprintf(line, sizeof(line), "%s learn -o @/demo.conf -- %s %d", built("privman"),
		 built("examples/privman-demo"), DEMO_PORT);
	pid_t pid = spawn(line);
	demo_workload();
	int rc = wait_exit(pid);
	cr_assert_eq(rc, 0, "privman learn: %d\n%s", rc, err);
	cr_assert(strstr(err, "WARNING: learning"), "no warning at the start:\n%s", err);
	cr_assert(strstr(err, "observed 2 requests in 1 run of privman-demo: 0 granted by the "
			      "base, 2 learned, 0 refused"),
		  "%s", err);
	slurp("demo.conf", policy, sizeof(policy));
	/* Exactly what it needed: the port and the file, nothing else. */
	expect_line("\nbind 127.0.0.1:783 ");
	expect_line("\nopen_ro \"@/docs/index.txt\" ");
	expect_line("# used 1 time, first at ");
	expect_line("security {\n\tuser = nobody\n}\n");
	expect_no_line("open_rw");
	expect_no_line("run_as");
	expect_checks("demo.conf");

	/* The same workload under the policy written: nothing refused. */
	install("demo.conf", "privman-demo");
	snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_AUDIT=@/audit.json %s %d",
		 built("examples/privman-demo"), DEMO_PORT);
	pid = spawn(line);
	demo_workload();
	cr_assert_eq(wait_exit(pid), 0, "%s", err);
	char audit[1 << 14];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(strstr(audit, "\"op\":\"bind\""), "%s", audit);
	cr_assert(strstr(audit, "\"op\":\"open\""), "%s", audit);
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
	cr_assert(!strstr(audit, "learned"), "%s", audit);
}

/* --- file requests --------------------------------------------------------------------- */

static const char *monitor_prog(void)
{
	return built("tests/helpers/monitor_prog");
}

static void learn_files(const char *options, const char *requests, const char *output)
{
	char args[16384];
	snprintf(args, sizeof(args), "-o @/%s %s lrn -- %s lrn %s", output, options, monitor_prog(),
		 requests);
	expect_learn(args, output);
}

Test(learn, every_kind_of_file_request_becomes_its_rule_and_runs_under_it)
{
	secret("ro", "granted\n");
	secret("log", "");
	make_dir("spool", 0700);
	const char *requests = "open @/ro r write @/log wa entry open @/spool/new bct "
			       "unlink @/spool/new open @/missing r";
	learn_files("", requests, "files.conf");
	expect_line("\nopen_ro \"@/ro\" ");
	expect_line("\nopen_ao \"@/log\" ");
	expect_line("\nopen_rw \"@/spool/new\" ");
	expect_line("\nunlink \"@/spool/new\" ");
	/* Not there: the program saw ENOENT, and will again under the policy. */
	expect_line("\nopen_ro \"@/missing\" ");
	expect_checks("files.conf");
	cr_assert(strstr(out, "OK granted\nOK wrote\nOK \nOK\nERR ENOENT\n"), "%s", out);

	install("files.conf", "lrn");
	char line[16384], expanded[16384];
	snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_AUDIT=@/audit.json %s lrn %s",
		 monitor_prog(), requests);
	expand(line, expanded, sizeof(expanded));
	cr_assert_eq(sh(expanded), 0, "%s", err);
	cr_assert(strstr(out, "OK granted\nOK wrote\nOK \nOK\nERR ENOENT\n"), "%s", out);
	char audit[1 << 14];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
	slurp("log", audit, sizeof(audit));
	cr_assert_str_eq(audit, "entryentry");
}

Test(learn, collapse_makes_a_wildcard_of_n_siblings_and_no_fewer)
{
	make_dir("d", 0700);
	secret("d/a", "a\n");
	secret("d/b", "b\n");
	secret("d/c", "c\n");
	secret("other", "o\n");
	const char *requests = "open @/d/a r open @/d/b r open @/d/c r open @/d/a r open @/other r";
	learn_files("--collapse 3", requests, "three.conf");
	expect_line("\nopen_ro \"@/d/*\" ");
	expect_line("# used 4 times, first at ");
	expect_line("; 3 paths collapsed");
	expect_line("\nopen_ro \"@/other\" ");
	expect_no_line("\"@/d/a\"");
	expect_checks("three.conf");
	cr_assert(strstr(err, "3 paths collapsed into 1 wildcard"), "%s", err);

	learn_files("--collapse 4", requests, "four.conf");
	expect_line("\nopen_ro \"@/d/a\" ");
	expect_line("\nopen_ro \"@/d/b\" ");
	expect_line("\nopen_ro \"@/d/c\" ");
	expect_no_line("*");

	learn_files("", requests, "none.conf");
	expect_no_line("*");
}

Test(learn, a_protected_place_is_written_exactly_and_never_collapsed)
{
	/* /etc/shadow among other files of /etc: /etc/ * would grant it. */
	learn_files("--collapse 2", "open /etc/shadow r open /etc/hostname r open /etc/debian_version r",
		    "etc.conf");
	expect_line("\nopen_ro \"/etc/shadow\" ");
	expect_line("protected place: written exactly");
	expect_line("\nopen_ro \"/etc/hostname\" ");
	expect_line("\nopen_ro \"/etc/debian_version\" ");
	expect_no_line("*");
	expect_checks("etc.conf");

	/* A home with ssh keys: neither .ssh/ * nor home/ * (it holds .ssh). */
	make_dir("home", 0755);
	make_dir("home/.ssh", 0700);
	secret("home/.ssh/id_a", "key a\n");
	secret("home/.ssh/id_b", "key b\n");
	secret("home/x", "x\n");
	secret("home/y", "y\n");
	learn_files("--collapse 2",
		    "open @/home/.ssh/id_a r open @/home/.ssh/id_b r open @/home/x r open @/home/y r",
		    "home.conf");
	expect_line("\nopen_ro \"@/home/.ssh/id_a\" ");
	expect_line("\nopen_ro \"@/home/.ssh/id_b\" ");
	expect_line("\nopen_ro \"@/home/x\" ");
	expect_no_line("*");

	/* Without the keys, the same two files may become home/ *. */
	cr_assert_eq(pmtest_sh("rm -rf %s/home/.ssh", dir), 0);
	learn_files("--collapse 2", "open @/home/x r open @/home/y r", "home2.conf");
	expect_line("\nopen_ro \"@/home/*\" ");
}

Test(learn, two_runs_merge_and_their_counts_add_up)
{
	secret("a", "a\n");
	secret("b", "b\n");
	learn_files("", "open @/a r open @/a r", "one.conf");
	expect_line("\nopen_ro \"@/a\"                  ");
	expect_line("# used 2 times, first at ");
	char first[128];
	const char *at = strstr(policy, "first at ");
	cr_assert(at);
	snprintf(first, sizeof(first), "%.29s", at);
	sleep(1); /* the second run's first use is a later second */

	/* The second run starts from the first: /a is granted, /b learned. */
	learn_files("-c @/one.conf", "open @/a r open @/b r", "two.conf");
	cr_assert(strstr(err, "1 granted by the base, 1 learned"), "%s", err);
	expect_line(" from 2 runs of lrn\n");
	expect_line("# used 3 times");
	cr_assert(strstr(policy, first), "the first use of /a (%s) is lost:\n%s", first, policy);
	expect_line("\nopen_ro \"@/b\" ");
	expect_checks("two.conf");
	cr_assert(strstr(err, "2 kept from the base") == NULL);
	cr_assert(strstr(err, "1 kept from the base, 1 learned"), "%s", err);

	/* A base's scope is kept. */
	char *base = pmtest_write_file(dir, "scope.conf",
				       "security { user = " USER1 " }\nopen_ro /nonexistent\n");
	free(base);
	learn_files("-c @/scope.conf", "uid open @/a r", "three.conf");
	expect_line("security {\n\tuser = " USER1 "\n}");
	expect_line("\nopen_ro \"/nonexistent\"");
	expect_line("from the base, not used");
	struct passwd *pw = getpwnam(USER1);
	char uid[64];
	snprintf(uid, sizeof(uid), "uid %u", (unsigned)pw->pw_uid);
	cr_assert(strstr(out, uid), "the run was not as the base's user: %s", out);
}

/* --- processes ------------------------------------------------------------------------ */

static const char *proc_prog(void)
{
	return built("tests/helpers/proc_prog");
}

/* The audit's refusals, but the environment variables dropped from what
 * runs as another user (not learned: a run scope's env list names them). */
static void expect_no_refusal(const char *audit)
{
	for (const char *line = audit; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char copy[8192];
		snprintf(copy, sizeof(copy), "%.*s", (int)len, line);
		cr_assert(!strstr(copy, "\"deny\"") || strstr(copy, "_env\""),
			  "a refusal under the learned policy:\n%s", copy);
	}
}

Test(learn, reruns_fork_and_popen_become_their_rules_and_root_is_never_learned)
{
	char args[4096];
	snprintf(args, sizeof(args), "-o @/p.conf proc -- %s proc popen " USER1 " id", proc_prog());
	expect_learn(args, "p.conf");
	cr_assert(strstr(out, "popen uid="), "%s", out);
	expect_line("\nrun { program \"/bin/sh\" user { " USER1 " } }");
	expect_line("\nallow_rerun true ");
	expect_no_line("run_as");
	expect_checks("p.conf");

	snprintf(args, sizeof(args), "-c @/p.conf -o @/q.conf proc -- %s proc rerun " USER1,
		 proc_prog());
	expect_learn(args, "q.conf");
	cr_assert(strstr(out, "user " USER1), "%s", out);
	expect_line("\nrun_as " USER1 " ");
	expect_line("\nallow_rerun true                                # used 2 times");

	/* Root: refused while learning, never written. */
	snprintf(args, sizeof(args), "-c @/q.conf -o @/r.conf proc -- %s proc rerun root",
		 proc_prog());
	expect_learn(args, "r.conf");
	cr_assert(strstr(out, "ERR EPERM"), "running as root was served: %s", out);
	cr_assert(strstr(err, "1 refused (1 to run as root: never learned)"), "%s", err);
	expect_no_line("run_as root");
	expect_no_line("{ root");
	expect_line("\nrun_as " USER1 " ");

	snprintf(args, sizeof(args), "-c @/r.conf -o @/s.conf proc -- %s proc fork", proc_prog());
	expect_learn(args, "s.conf");
	expect_line("\nfork true ");
	expect_checks("s.conf");

	/* All of it again under the policy: nothing refused. */
	install("s.conf", "proc");
	const char *workloads[] = {"rerun " USER1, "fork", "popen " USER1 " id"};
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		char line[4096];
		snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_AUDIT=@/audit.json "
					     "%s proc %s",
			 proc_prog(), workloads[i]);
		cr_assert_eq(sh(line), 0, "%s: %s", workloads[i], err);
	}
	char audit[1 << 15];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(strstr(audit, "\"op\":\"popen_as\""), "%s", audit);
	expect_no_refusal(audit);
}

Test(learn, pam_services_and_custom_functions_become_their_rules)
{
	/* A PAM service of its own: pam_permit for everything. */
	const char *service = "/etc/pam.d/" USER1;
	FILE *f = fopen(service, "we");
	cr_assert(f);
	fputs("auth required pam_permit.so\naccount required pam_permit.so\n", f);
	cr_assert(fclose(f) == 0);
	char args[4096];
	snprintf(args, sizeof(args), "-o @/pam.conf lrn -- %s lrn start " USER1 " " USER1
				     " auth acct end",
		 built("tests/helpers/pam_prog"));
	int rc = learn(args, "pam.conf");
	unlink(service);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(out, "auth PAM_SUCCESS"), "%s", out);
	expect_line("\nauth { " USER1 " } ");
	expect_checks("pam.conf");

	snprintf(args, sizeof(args), "-o @/custom.conf lrn -- %s lrn info 0 hello + info 0 again",
		 built("tests/helpers/custom_prog"));
	expect_learn(args, "custom.conf");
	cr_assert(!strstr(out, "ERR"), "%s", out);
	expect_line("\ncustom 0                                        # used 2 times");
	expect_checks("custom.conf");
}

Test(learn, a_record_naming_root_is_never_written)
{
	/* A record from elsewhere (--from) that says root was learned. */
	char *rec = pmtest_write_file(
		dir, "forged.json",
		"{\"time\":1.0,\"app\":\"x\",\"pid\":1,\"op\":\"start\",\"policy\":\"/p\"}\n"
		"{\"time\":2.0,\"app\":\"x\",\"pid\":1,\"op\":\"rerunas\",\"object\":\"-\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"run_as root\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
		"{\"time\":2.0,\"app\":\"x\",\"pid\":1,\"op\":\"rerunas\",\"object\":\"-\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"run { user { root } }\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
		"{\"time\":2.0,\"app\":\"x\",\"pid\":1,\"op\":\"rerunas\",\"object\":\"-\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"run_as *\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
		"{\"time\":3.0,\"app\":\"x\",\"pid\":1,\"op\":\"open\",\"object\":\"/etc/hostname\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"open_ro \\\"/etc/hostname\\\"\",\"origin\":\"\",\"errno\":0,"
		"\"reason\":\"\"}\n"
		"not a record\n");
	free(rec);
	expect_learn("-o @/f.conf --from @/forged.json", "f.conf");
	expect_no_line("run_as");
	expect_no_line("run {");
	expect_line("\nopen_ro \"/etc/hostname\" ");
	cr_assert(strstr(err, "3 learned rules not written"), "%s", err);
	cr_assert(strstr(err, "1 line of the record skipped"), "%s", err);
}

/* --- the environment and the fds ------------------------------------------------------- */

Test(learn, the_record_never_reaches_the_program_nor_what_runs_as_another_user)
{
	char line[4096];
	snprintf(line, sizeof(line),
		 "env PRIVMAN_CONF_DIR=@/none PRIVMAN_LEARN=@/record.json %s proc popen " USER1
		 " 'ls -l /proc/self/fd/ | tr -s \"\\n\" \" \"'",
		 proc_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	cr_assert(strstr(out, " 1 -> pipe:"), "%s", out);
	cr_assert(!strstr(out, "record.json"), "the record leaked:\n%s", out);
	/* The program side: as many fds learning as not. */
	make_dir("conf", 0755);
	free(pmtest_write_file(dir, "conf/lrn", ""));
	snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf %s lrn fds", monitor_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	static char plain[sizeof(out)];
	memcpy(plain, out, sizeof(out));
	snprintf(line, sizeof(line),
		 "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_LEARN=@/record.json %s lrn fds",
		 monitor_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	cr_assert_str_eq(out, plain, "the program holds another fd while learning");
	char record[1 << 15];
	slurp("record.json", record, sizeof(record));
	cr_assert(strstr(record, "\"op\":\"start\""), "%s", record);
	cr_assert(strstr(record, "\"rule\":\"run { program \\\"/bin/sh\\\" user " USER1), "%s",
		  record);
}

Test(learn, a_setuid_program_ignores_privman_learn)
{
	/* Started by a user, a setuid-root program has AT_SECURE: neither
	 * PRIVMAN_LEARN nor PRIVMAN_CONF_DIR may choose what it grants. */
	char line[4096];
	snprintf(line, sizeof(line), "cp %s @/suid && chmod 4755 @/suid && chmod 0755 @",
		 monitor_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	make_dir("conf", 0755);
	free(pmtest_write_file(dir, "conf/lrn", ""));
	snprintf(line, sizeof(line),
		 "setpriv --reuid " USER1 " --regid " USER1 " --clear-groups env "
		 "PRIVMAN_CONF_DIR=@/conf PRIVMAN_LEARN=@/record.json @/suid lrn open /etc/shadow r");
	sh(line);
	struct stat st;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/record.json", dir);
	cr_assert(stat(path, &st) < 0 && errno == ENOENT, "PRIVMAN_LEARN was followed:\n%s%s",
		  out, err);
	cr_assert(!strstr(out, "OK root:"), "/etc/shadow was served:\n%s", out);
	cr_assert(!strstr(err, "LEARNING"), "%s", err);
}

/* --- the command line -------------------------------------------------------------------- */

static void expect_usage(const char *args, int want, const char *message)
{
	int rc = learn(args, NULL);
	cr_assert_eq(rc, want, "privman learn %s: %d, not %d\n%s", args, rc, want, err);
	cr_assert(strstr(err, message), "privman learn %s: no \"%s\" in:\n%s", args, message, err);
}

Test(learn, bad_arguments_are_clear_errors)
{
	expect_usage("", 2, "missing COMMAND");
	expect_usage("-o @/x", 2, "missing COMMAND");
	expect_usage("--collapse 1 -- true", 2, "--collapse needs a number of files, 2 or more: 1");
	expect_usage("--collapse many -- true", 2, "--collapse needs a number");
	expect_usage("--collapse", 2, "this option needs a value: --collapse");
	expect_usage("--bogus -- true", 2, "unknown option: --bogus");
	expect_usage("a b -- true", 2, "one APP only");
	expect_usage("a/b -- true", 2, "APP must be a file name");
	expect_usage("--from @/x -- true", 2, "either --from RECORD or '--' COMMAND");
	expect_usage("-c @/nonexistent -- true", 1, "cannot read the base");
	free(pmtest_write_file(dir, "bad.conf", "open_ro { relative }\n"));
	expect_usage("-c @/bad.conf -- true", 1, "the base policy is not valid; nothing was run");
	expect_usage("--from @/nonexistent", 1, "cannot read the record");
	/* Not a program that calls priv_init: nothing learned, nothing written. */
	expect_usage("-o @/x.conf --split -- /bin/true", 1, "made no request through priv_init");
	expect_usage("--split --broker -- true", 2, "give --split or --broker, once");
	/* APP must be the name the program gives priv_init. */
	char args[PATH_MAX];
	snprintf(args, sizeof(args), "-o @/y.conf other -- %s lrn open /etc/hostname r",
		 monitor_prog());
	expect_usage(args, 1, "called priv_init(\"lrn\"), not \"other\"");
	struct stat st;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/x.conf", dir);
	cr_assert(stat(path, &st) < 0, "a policy was written");
	cr_assert_eq(learn("--help", NULL), 0);
	cr_assert(strstr(out, "WARNING"), "%s", out);
}

/* --- unmodified programs, under the broker ---------------------------------------------- */

static void expect_run(const char *args, const char *want_out)
{
	char line[16384];
	snprintf(line, sizeof(line), "env PRIVMAN_AUDIT=@/audit.json %s run %s", built("privman"),
		 args);
	int rc = sh(line);
	cr_assert_eq(rc, 0, "privman run %s: %d\n%s%s", args, rc, out, err);
	cr_assert_str_eq(out, want_out, "privman run %s:\n%s", args, err);
	char audit[1 << 15];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
}

Test(learn, unmodified_cat_of_a_root_only_file_learns_that_file_and_nothing_else)
{
	secret("secret", "only root\n");
	free(pmtest_write_file(dir, "public", "anyone\n"));
	/* Not a priv_init program: privman learn says it runs it under the broker. */
	expect_learn("-o @/cat.conf -- cat @/secret @/public", "cat.conf");
	cr_assert_str_eq(out, "only root\nanyone\n");
	cr_assert(strstr(err, "runs unmodified under the broker"), "%s", err);
	cr_assert(strstr(err, "observed 1 request in 1 run of cat: 0 granted by the base, 1 "
			      "learned"),
		  "%s", err);
	expect_line("\nopen_ro \"@/secret\" ");
	/* What cat could open itself (its libraries, the world-readable file)
	 * is not in the policy. */
	expect_no_line("\"@/public\"");
	expect_no_line("/lib");
	expect_no_line("/etc/");
	expect_no_line("open_rw");
	expect_checks("cat.conf");

	/* Without the policy cat cannot read it; with it, it can. */
	char line[4096];
	snprintf(line, sizeof(line), "%s run -- cat @/secret", built("privman"));
	cr_assert_neq(sh(line), 0, "cat read the secret without a policy: %s", out);
	expect_run("-c @/cat.conf -- cat @/secret @/public", "only root\nanyone\n");
}

Test(learn, an_unmodified_shell_learns_append_create_unlink_and_bind)
{
	make_dir("locked", 0755); /* root's: nobody may not make or remove names */
	secret("locked/log", "");
	secret("locked/old", "old\n");
	free(pmtest_write_file(dir, "script",
			       "echo entry >> @/locked/log\n"
			       "echo new > @/locked/new\n"
			       "rm -f @/locked/old\n"
			       "echo mine > /tmp/pmtest-learn-own.$$ && rm -f /tmp/pmtest-learn-own.$$\n"
			       "python3 -c 'import socket; s = socket.socket(); "
			       "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
			       "s.bind((\"127.0.0.1\", 787)); t = socket.socket(); "
			       "t.bind((\"127.0.0.1\", 0)); print(\"bound\")'\n"));
	char script[PATH_MAX];
	expand("@/script", script, sizeof(script));
	char text[4096];
	slurp("script", text, sizeof(text));
	char expanded[8192];
	expand(text, expanded, sizeof(expanded));
	free(pmtest_write_file(dir, "script", expanded));
	cr_assert(chmod(script, 0755) == 0);

	expect_learn("-o @/sh.conf -- sh @/script", "sh.conf");
	cr_assert_str_eq(out, "bound\n", "%s", err);
	expect_line("\nopen_ao \"@/locked/log\" ");
	expect_line("\nopen_rw \"@/locked/new\" ");
	expect_line("\nunlink \"@/locked/old\" ");
	expect_line("\nbind 127.0.0.1:787 ");
	/* What nobody may do itself: its own file in /tmp, an ephemeral port. */
	expect_no_line("pmtest-learn-own");
	expect_no_line("127.0.0.1:0");
	expect_checks("sh.conf");

	/* Again, under the policy: the same results, nothing refused. */
	secret("locked/old", "old\n");
	expect_run("-c @/sh.conf -- sh @/script", "bound\n");
	slurp("locked/log", text, sizeof(text));
	cr_assert_str_eq(text, "entry\nentry\n");
	struct stat st;
	char old[PATH_MAX];
	expand("@/locked/old", old, sizeof(old));
	cr_assert(stat(old, &st) < 0, "the unlink was not served");
}

#define NGINX_PORT 789

/* nginx as in the broker's test: root-owned logs, a pid file in a root
 * folder, a privileged port; no policy at all to start from. */
static void nginx_setup(void)
{
	make_dir("www", 0755);
	make_dir("logs", 0755);
	make_dir("run", 0755);
	make_dir("tmp", 0755);
	free(pmtest_write_file(dir, "www/index.html", "served by nginx\n"));
	secret("logs/error.log", "");
	secret("logs/access.log", "");
	cr_assert(pmtest_sh("chown nobody %s/tmp", dir) == 0);
	char text[8192];
	expand("daemon off;\nworker_processes 2;\npid @/run/nginx.pid;\n"
	       "error_log @/logs/error.log notice;\nevents { worker_connections 64; }\n"
	       "http {\n access_log @/logs/access.log;\n client_body_temp_path @/tmp/body;\n"
	       " proxy_temp_path @/tmp/proxy;\n fastcgi_temp_path @/tmp/fastcgi;\n"
	       " uwsgi_temp_path @/tmp/uwsgi;\n scgi_temp_path @/tmp/scgi;\n"
	       " server { listen 127.0.0.1:789; root @/www; }\n}\n",
	       text, sizeof(text));
	free(pmtest_write_file(dir, "nginx.conf", text));
}

/* Start LINE, get the page, stop it with SIGTERM. */
static void nginx_session(const char *line)
{
	pid_t pid = spawn(line);
	char body[4096];
	int status = http_get(NGINX_PORT, "/index.html", body, sizeof(body));
	cr_assert_eq(status, 200, "nginx: %d %s", status, body);
	cr_assert_str_eq(body, "served by nginx\n");
	cr_assert(kill(pid, SIGTERM) == 0);
	cr_assert_eq(wait_exit(pid), 0, "%s", err);
}

Test(learn, unmodified_nginx_learns_its_policy_then_runs_under_it_with_no_refusal)
{
	cr_assert(access("/usr/sbin/nginx", X_OK) == 0, "nginx-light is installed by deps.sh");
	nginx_setup();
	char line[8192];
	snprintf(line, sizeof(line),
		 "%s learn -o @/nginx.policy -- /usr/sbin/nginx -e @/logs/error.log -c "
		 "@/nginx.conf",
		 built("privman"));
	nginx_session(line);
	slurp("nginx.policy", policy, sizeof(policy));
	/* What the broker's test grants by hand, and nothing else. */
	expect_line("\nbind 127.0.0.1:789 ");
	expect_line("\nopen_ao \"@/logs/access.log\" ");
	expect_line("\nopen_ao \"@/logs/error.log\" ");
	expect_line("\nopen_rw \"@/run/nginx.pid\" ");
	expect_line("\nunlink \"@/run/nginx.pid\" ");
	cr_assert(strstr(err, "wrote 5 rules"), "%s\n%s", err, policy);
	expect_checks("nginx.policy");

	snprintf(line, sizeof(line),
		 "env PRIVMAN_AUDIT=@/audit.json %s run -c @/nginx.policy -- /usr/sbin/nginx -e "
		 "@/logs/error.log -c @/nginx.conf",
		 built("privman"));
	nginx_session(line);
	char audit[1 << 15];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(strstr(audit, "\"op\":\"bind\""), "%s", audit);
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
	char log[4096];
	slurp("logs/access.log", log, sizeof(log));
	cr_assert(strstr(log, "\"GET /index.html HTTP/1.0\" 200"), "access.log: %s", log);
}

Test(learn, under_the_base_scope_the_users_own_files_are_not_learned)
{
	secret("mine", "mine\n");
	secret("roots", "root's\n");
	char path[PATH_MAX];
	expand("@/mine", path, sizeof(path));
	struct passwd *pw = getpwnam(USER1);
	cr_assert(pw && chown(path, pw->pw_uid, pw->pw_gid) == 0);
	free(pmtest_write_file(dir, "base.conf", "security { user = " USER1 " }\n"));
	expect_learn("-c @/base.conf -o @/own.conf -- cat @/mine @/roots", "own.conf");
	cr_assert_str_eq(out, "mine\nroot's\n", "%s", err);
	expect_line("\nopen_ro \"@/roots\" ");
	expect_no_line("\"@/mine\"");
	expect_line("security {\n\tuser = " USER1 "\n}");
	expect_run("-c @/own.conf -- cat @/mine @/roots", "mine\nroot's\n");
}
