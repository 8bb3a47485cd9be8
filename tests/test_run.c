/* `privman run`, the command, end to end: each run is a real process that
 * drops and execs; what it reports from /proc/self/status is compared with
 * values computed from the request alone and with what util-linux setpriv
 * gives for the same request. */
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>

#include "scope/drop.h"
#include "drop_testutil.h"

static char privman[PATH_MAX], probe[PATH_MAX];
static char user_name[40], group_a[40], group_b[40];
static char *tmp_dir;
static pid_t server_pid = -1;

static void find_programs(void)
{
	pmtest_built(privman, sizeof(privman), "privman");
	pmtest_built(probe, sizeof(probe), "tests/helpers/run_probe");
}

static void setup(void)
{
	find_programs();
	if (geteuid() != 0)
		return;
	pmdrop_name(user_name, sizeof(user_name), "ru");
	pmdrop_name(group_a, sizeof(group_a), "rga");
	pmdrop_name(group_b, sizeof(group_b), "rgb");
	pmtest_user_ensure(user_name);
	pmtest_group_ensure(group_a);
	pmtest_group_ensure(group_b);
	tmp_dir = pmtest_tmpdir();
}

static void teardown(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}
	if (geteuid() != 0)
		return;
	pmtest_user_remove(user_name);
	pmtest_group_remove(group_a);
	pmtest_group_remove(group_b);
	pmtest_rmtree(tmp_dir);
	free(tmp_dir);
}

TestSuite(run, .init = setup, .fini = teardown, .timeout = 90);

/* --- running a command -------------------------------------------------- */

struct exec_job {
	const char *const *argv;
	const char *cwd;
	void (*before)(void);
};

static void child_exec(void *arg)
{
	const struct exec_job *job = arg;
	if (job->cwd && chdir(job->cwd) != 0)
		_exit(120);
	if (job->before)
		job->before();
	execv(job->argv[0], (char *const *)(uintptr_t)job->argv);
	perror(job->argv[0]);
	_exit(119);
}

static struct pmdrop_child run_argv(const char *const *argv, void (*before)(void))
{
	struct exec_job job = {argv, tmp_dir ? tmp_dir : "/", before};
	return pmdrop_fork(child_exec, &job, 30);
}

/* privman run OPTIONS... -- COMMAND...: both lists NULL-terminated. */
static struct pmdrop_child privman_run(const char *const *options, const char *const *command,
				       void (*before)(void))
{
	const char *argv[64];
	size_t n = 0;
	argv[n++] = privman;
	argv[n++] = "run";
	for (size_t i = 0; options && options[i]; i++)
		argv[n++] = options[i];
	argv[n++] = "--";
	for (size_t i = 0; command && command[i]; i++)
		argv[n++] = command[i];
	argv[n] = NULL;
	cr_assert(n < 64);
	return run_argv(argv, before);
}

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* --- expected values ---------------------------------------------------- */

/* What a request asks for, independent of how privman spells it. */
struct expectation {
	const char *user;
	const char *group; /* NULL: the user's primary group */
	const char *groups[3];
	const char *caps; /* cap_from_text, or NULL */
	bool no_new_privs;
};

/* After the exec of a plain program, the kernel gives permitted and
 * effective = ambient; privman raises ambient = permitted and
 * inheritable |= permitted; the bounding set keeps what is asked. */
static void expected_after_exec(const struct expectation *e, struct pmdrop_status *want)
{
	struct passwd *pw = getpwnam(e->user);
	cr_assert(pw != NULL, "no user %s", e->user);
	gid_t gid = pw->pw_gid;
	if (e->group)
		gid = getgrnam(e->group)->gr_gid;
	gid_t groups[3];
	size_t count = 0;
	for (; count < 3 && e->groups[count]; count++)
		groups[count] = getgrnam(e->groups[count])->gr_gid;
	uint64_t eff = 0, prm = 0, inh = 0;
	if (e->caps)
		pmdrop_masks(e->caps, &eff, &prm, &inh);
	uint64_t amb = prm;
	pmdrop_expect(want, pw->pw_uid, gid, groups, count, inh | prm, amb, amb, eff | prm | inh,
		      amb, e->no_new_privs);
}

/* "-all,+net_bind_service,..." for setpriv, which wants names without cap_. */
static void setpriv_caps(uint64_t mask, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "-all");
	for (int cap = 0; cap < 64; cap++) {
		if (!(mask & ((uint64_t)1 << cap)))
			continue;
		char *name = cap_to_name((cap_value_t)cap);
		used += (size_t)snprintf(buf + used, len - used, ",+%s",
					 strncmp(name, "cap_", 4) == 0 ? name + 4 : name);
		cap_free(name);
	}
}

/* The same request made with util-linux setpriv, exec'ing `cat`. */
static struct pmdrop_child setpriv_run(const struct expectation *e)
{
	static char reuid[64], regid[64], groups[256], inh[1100], amb[1100], bnd[1100];
	const char *argv[20];
	size_t n = 0;
	struct passwd *pw = getpwnam(e->user);
	gid_t gid = e->group ? getgrnam(e->group)->gr_gid : pw->pw_gid;
	snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)pw->pw_uid);
	snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)gid);
	argv[n++] = "/usr/bin/setpriv";
	argv[n++] = reuid;
	argv[n++] = regid;
	if (e->groups[0]) {
		size_t used = (size_t)snprintf(groups, sizeof(groups), "--groups=");
		for (size_t i = 0; i < 3 && e->groups[i]; i++)
			used += (size_t)snprintf(groups + used, sizeof(groups) - used, "%s%u",
						 i ? "," : "", getgrnam(e->groups[i])->gr_gid);
		argv[n++] = groups;
	} else {
		argv[n++] = "--clear-groups";
	}
	uint64_t eff = 0, prm = 0, ih = 0;
	if (e->caps)
		pmdrop_masks(e->caps, &eff, &prm, &ih);
	char caps[1024];
	setpriv_caps(ih | prm, caps, sizeof(caps));
	snprintf(inh, sizeof(inh), "--inh-caps=%s", caps);
	setpriv_caps(prm, caps, sizeof(caps));
	snprintf(amb, sizeof(amb), "--ambient-caps=%s", caps);
	setpriv_caps(eff | prm | ih, caps, sizeof(caps));
	snprintf(bnd, sizeof(bnd), "--bounding-set=%s", caps);
	argv[n++] = inh;
	argv[n++] = amb;
	argv[n++] = bnd;
	if (e->no_new_privs)
		argv[n++] = "--no-new-privs";
	argv[n++] = "--";
	argv[n++] = "/bin/cat";
	argv[n++] = "/proc/self/status";
	argv[n] = NULL;
	return run_argv(argv, NULL);
}

/* Run privman with `options`, exec'ing cat, and compare with the
 * expectation and with setpriv. */
static void expect_like_setpriv(const char *what, const char *const *options,
				const struct expectation *e)
{
	static const char *const cat_status[] = {"/bin/cat", "/proc/self/status", NULL};
	struct pmdrop_status want, got, reference;
	expected_after_exec(e, &want);

	struct pmdrop_child c = privman_run(options, cat_status, NULL);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s: privman run failed (status %d): %s", what,
		     c.status, c.err);
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0, "%s: %s", what, c.out);
	pmdrop_assert_status_eq(&got, &want, what);
	pmdrop_child_free(&c);

	c = setpriv_run(e);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s: setpriv failed (status %d): %s", what,
		     c.status, c.err);
	cr_assert_eq(pmdrop_parse_status(c.out, &reference), 0, "%s: %s", what, c.out);
	char label[256];
	snprintf(label, sizeof(label), "%s (privman run against setpriv)", what);
	pmdrop_assert_status_eq(&got, &reference, label);
	pmdrop_child_free(&c);
}

/* --- a table of scopes, against setpriv ---------------------------------- */

Test(run, built_in_default_is_nobody)
{
	PMTEST_SKIP_UNLESS_ROOT();
	struct expectation e = {.user = "nobody"};
	expect_like_setpriv("no option", NULL, &e);
}

Test(run, scopes_match_setpriv)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char both[100];
	snprintf(both, sizeof(both), "%s,%s", group_a, group_b);
	struct {
		const char *what;
		const char *options[12];
		struct expectation e;
	} cases[] = {
		{"a user", {"-u", user_name, NULL}, {.user = user_name}},
		{"a user, a group, two supplementary groups",
		 {"--user", user_name, "-g", group_b, "-G", both, NULL},
		 {.user = user_name, .group = group_b, .groups = {group_a, group_b}}},
		{"bind below 1024",
		 {"-u", user_name, "--caps", "cap_net_bind_service+ep", NULL},
		 {.user = user_name, .caps = "cap_net_bind_service+ep"}},
		{"two kept, no_new_privs",
		 {"-u", "nobody", "--caps", "cap_net_admin,cap_net_raw+ep", "--no-new-privs", NULL},
		 {.user = "nobody", .caps = "cap_net_admin,cap_net_raw+ep", .no_new_privs = true}},
		{"permitted only, and an inheritable",
		 {"-u", user_name, "-G", group_a, "--caps", "cap_chown+p cap_kill+i", NULL},
		 {.user = user_name, .groups = {group_a}, .caps = "cap_chown+p cap_kill+i"}},
		{"Solaris privileges",
		 {"-u", user_name, "--privileges", "basic net_privaddr", NULL},
		 {.user = user_name, .caps = "cap_net_bind_service+ep"}},
		{"explicitly no supplementary group",
		 {"-u", user_name, "-G", "", NULL},
		 {.user = user_name}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_like_setpriv(cases[i].what, cases[i].options, &cases[i].e);
}

Test(run, setuid_zero_fails_in_the_command)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *options[] = {"-u", user_name, "--caps", "cap_net_bind_service+ep", NULL};
	const char *command[] = {probe, "setuid", NULL};
	struct pmdrop_child c = privman_run(options, command, NULL);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	char value[64];
	pmdrop_field(c.out, "XSetuid0", value, sizeof(value));
	cr_expect_str_eq(value, "EPERM");
	pmdrop_field(c.out, "XSetgid0", value, sizeof(value));
	cr_expect_str_eq(value, "EPERM");
	pmdrop_child_free(&c);

	/* The probe itself can tell: as root it succeeds. */
	c = run_argv(command, NULL);
	pmdrop_field(c.out, "XSetuid0", value, sizeof(value));
	cr_expect_str_eq(value, "ok");
	pmdrop_child_free(&c);
}

/* --- the policy files ------------------------------------------------------- */

#define write_policy(name, ...) pmtest_write_filef(tmp_dir, (name), __VA_ARGS__)

/* The seeds' stand-alone example, as written there. */
Test(run, seed_single_node)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *file = write_policy("ecelerity.conf",
				  "Security {\n"
				  "  user = %s\n"
				  "  group = %s\n"
				  "  # On Linux, allow binding to privileged ports without requiring\n"
				  "  # a process restart\n"
				  "  Capabilities = \"cap_net_bind_service+ep\"\n"
				  "  # On Solaris, allow binding to privileged ports without requiring\n"
				  "  # a process restart (version 3.0 and higher)\n"
				  "  Privileges = \"basic net_privaddr\"\n"
				  "}\n",
				  user_name, user_name);
	const char *options[] = {"-c", file, NULL};
	struct expectation e = {.user = user_name, .group = user_name,
				.caps = "cap_net_bind_service+ep"};
	expect_like_setpriv("seed single node", options, &e);
	free(file);
}

/* The seeds' cluster example: each capability this kernel's bounding set
 * lacks is refused by name and nothing runs; with none lacking it runs. */
Test(run, seed_cluster_follows_bounding_set)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *caps = "cap_net_admin+ep cap_net_bind_service+ep cap_net_raw+ep "
			   "cap_sys_resource+ep";
	char *file = write_policy("ecelerity-cluster.conf",
				  "Security {\n"
				  "  user = %s\n"
				  "  group = %s\n"
				  "  # Linux\n"
				  "  Capabilities = \"%s\"\n"
				  "  # Solaris\n"
				  "  Privileges = \"basic net_privaddr net_bindmlp sys_resource "
				  "sys_net_config net_rawaccess\"\n"
				  "}\n",
				  user_name, user_name, caps);
	char *marker = NULL;
	cr_assert(asprintf(&marker, "%s/cluster-ran", tmp_dir) > 0);
	const char *options[] = {"-c", file, NULL};
	const char *command[] = {"/bin/touch", marker, NULL};
	uint64_t eff, prm, inh;
	pmdrop_masks(caps, &eff, &prm, &inh);
	uint64_t missing = prm & ~pmdrop_bounding_now();

	struct pmdrop_child c = privman_run(options, command, NULL);
	if (!missing) {
		cr_expect_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
		cr_expect(access(marker, F_OK) == 0);
	} else {
		cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
		cr_expect(access(marker, F_OK) != 0, "the command ran");
		for (int cap = 0; cap < 64; cap++) {
			if (!(prm & ((uint64_t)1 << cap)))
				continue;
			char *name = cap_to_name((cap_value_t)cap);
			char message[128];
			snprintf(message, sizeof(message),
				 "capability %s is not in this system's bounding set", name);
			if (missing & ((uint64_t)1 << cap))
				cr_expect(strstr(c.err, message) != NULL, "want \"%s\" in: %s",
					  message, c.err);
			else
				cr_expect(strstr(c.err, message) == NULL, "%s is there: %s", name,
					  c.err);
			cap_free(name);
		}
		char where[PATH_MAX + 16];
		snprintf(where, sizeof(where), "%s:", file);
		cr_expect(strstr(c.err, where) != NULL, "the message names the file: %s", c.err);
	}
	pmdrop_child_free(&c);
	free(marker);
	free(file);
}

Test(run, options_override_the_file)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *file = write_policy("base.conf",
				  "security {\n  user = %s\n  capabilities = \"cap_chown+ep\"\n}\n",
				  user_name);
	const char *options[] = {"-c", file, "-u", "nobody", "--caps", "cap_kill+ep", NULL};
	struct expectation e = {.user = "nobody", .caps = "cap_kill+ep"};
	expect_like_setpriv("options over a file", options, &e);
	/* A field the command line leaves alone comes from the file. */
	const char *keep_caps[] = {"-c", file, "-u", "nobody", NULL};
	struct expectation e2 = {.user = "nobody", .caps = "cap_chown+ep"};
	expect_like_setpriv("file's capabilities kept", keep_caps, &e2);
	free(file);
}

Test(run, bad_policy_file)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *file = write_policy("bad.conf", "security {\n  usr = nobody\n}\n");
	const char *options[] = {"-c", file, NULL};
	const char *command[] = {"/bin/true", NULL};
	struct pmdrop_child c = privman_run(options, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
	char where[PATH_MAX + 16];
	snprintf(where, sizeof(where), "%s:2:", file);
	cr_expect(strstr(c.err, where) != NULL, "want %s in: %s", where, c.err);
	cr_expect(strstr(c.err, "the security scope was refused; nothing was changed") != NULL,
		  "%s", c.err);
	pmdrop_child_free(&c);

	const char *missing[] = {"-c", "/nonexistent/privman.conf", NULL};
	c = privman_run(missing, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "/nonexistent/privman.conf") != NULL, "%s", c.err);
	pmdrop_child_free(&c);
	free(file);
}

/* --- an unmodified server binds port 80 as nobody ----------------------------- */

/* Wait until 127.0.0.1:80 can be bound (nothing else holds it). */
static bool port_80_free(void)
{
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert(fd >= 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc == 0)
			return true;
		usleep(100000);
	}
	return false;
}

static struct pmdrop_child curl(const char *url)
{
	const char *argv[] = {"/usr/bin/curl", "-s", "--max-time", "2", url, NULL};
	return run_argv(argv, NULL);
}

/* Start privman run ... in the background; stdout and stderr to files. */
static pid_t start_server(const char *const *argv, const char *log)
{
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0 ||
		    chdir(tmp_dir) != 0)
			_exit(120);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(119);
	}
	return pid;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return strdup("");
	char *text = calloc(1, 65536);
	cr_assert(text != NULL);
	size_t n = fread(text, 1, 65535, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

Test(run, web_server_binds_port_80_as_nobody)
{
	PMTEST_SKIP_UNLESS_ROOT();
	cr_assert(port_80_free(), "127.0.0.1:80 stays in use by another process");
	char token[64];
	snprintf(token, sizeof(token), "served by pid %ld at %ld", (long)getpid(), (long)time(NULL));
	char *served = NULL;
	cr_assert(asprintf(&served, "%s/www", tmp_dir) > 0);
	cr_assert(mkdir(served, 0755) == 0);
	free(pmtest_write_file(served, "token.txt", token));
	char log[PATH_MAX];
	snprintf(log, sizeof(log), "%s/server.log", tmp_dir);

	const char *argv[] = {privman, "run", "-u", "nobody", "--caps", "cap_net_bind_service+ep",
			      "--", "python3", "-m", "http.server", "80", "--bind", "127.0.0.1",
			      "--directory", served, NULL};
	server_pid = start_server(argv, log);

	bool answered = false;
	for (int i = 0; i < 100 && !answered; i++) {
		struct pmdrop_child c = curl("http://127.0.0.1:80/token.txt");
		answered = pmdrop_exit_status(&c) == 0 && strcmp(c.out, token) == 0;
		pmdrop_child_free(&c);
		if (!answered) {
			int status;
			if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
				server_pid = -1;
				break;
			}
			usleep(100000);
		}
	}
	char *text = read_text(log);
	cr_expect(answered, "the server did not serve the token; its log:\n%s", text);
	free(text);

	if (server_pid > 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/status", (long)server_pid);
		text = read_text(path);
		struct pmdrop_status got;
		cr_expect_eq(pmdrop_parse_status(text, &got), 0, "%s", text);
		cr_expect_str_eq(got.uid, "65534 65534 65534 65534");
		cr_expect_str_eq(got.groups, "");
		cr_expect_str_eq(got.cap_eff, "0000000000000400", "only cap_net_bind_service");
		cr_expect_str_eq(got.cap_prm, "0000000000000400");
		cr_expect_str_eq(got.cap_bnd, "0000000000000400");
		cr_expect_str_eq(got.cap_amb, "0000000000000400");
		free(text);
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = -1;
	}

	/* The same without the capability: the bind is refused. */
	cr_assert(port_80_free(), "127.0.0.1:80 stays in use");
	const char *bare[] = {privman, "run", "-u", "nobody", "--", "python3", "-m", "http.server",
			      "80", "--bind", "127.0.0.1", "--directory", served, NULL};
	server_pid = start_server(bare, log);
	int status = 0;
	bool exited = false;
	for (int i = 0; i < 100 && !exited; i++) {
		exited = waitpid(server_pid, &status, WNOHANG) == server_pid;
		if (!exited)
			usleep(100000);
	}
	if (exited)
		server_pid = -1;
	text = read_text(log);
	cr_expect(exited, "without the capability the server kept running:\n%s", text);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0, "status %d", status);
	cr_expect(strstr(text, "Permission denied") != NULL, "%s", text);
	free(text);
	free(served);
}

/* --- chroot -------------------------------------------------------------------- */

static char *make_jail(const char *name, mode_t mode, uid_t owner)
{
	char *path = NULL;
	cr_assert(asprintf(&path, "%s/%s", tmp_dir, name) > 0);
	cr_assert(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
	cr_assert(chmod(path, mode) == 0);
	cr_assert(chown(path, owner, 0) == 0);
	return path;
}

Test(run, chroot_jail)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("jail", 0755, 0);
	/* The probe and the libraries it loads, at the same paths inside. */
	cr_assert_eq(pmtest_sh("cp '%s' '%s/run_probe' && for lib in $(ldd '%s' | grep -o "
			       "'/[^ ]*'); do cp -L --parents \"$lib\" '%s' || exit 1; done",
			       probe, jail, probe, jail),
		     0);
	struct stat want;
	cr_assert(stat(jail, &want) == 0);
	const char *options[] = {"-u", user_name, "--chroot", jail, NULL};
	const char *command[] = {"/run_probe", "whereami", NULL};
	struct pmdrop_child c = privman_run(options, command, NULL);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "status %d: %s", c.status, c.err);
	char value[256], expect[64];
	snprintf(expect, sizeof(expect), "%ju:%ju", (uintmax_t)want.st_dev,
		 (uintmax_t)want.st_ino);
	pmdrop_field(c.out, "XRoot", value, sizeof(value));
	cr_expect_str_eq(value, expect, "\"/\" of the command is not the jail");
	pmdrop_field(c.out, "XCwd", value, sizeof(value));
	cr_expect_str_eq(value, "/");
	pmdrop_field(c.out, "XUid", value, sizeof(value));
	snprintf(expect, sizeof(expect), "%u", (unsigned)getpwnam(user_name)->pw_uid);
	cr_expect_str_eq(value, expect);
	pmdrop_child_free(&c);

	/* A command that is not in the jail is not found there. */
	const char *outside[] = {"/bin/true", NULL};
	c = privman_run(options, outside, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 127, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "command not found inside the chroot") != NULL, "%s", c.err);
	pmdrop_child_free(&c);
	free(jail);
}

static void expect_refused(const char *const *options, const char *const *messages)
{
	char *marker = NULL;
	cr_assert(asprintf(&marker, "%s/refused-ran", tmp_dir) > 0);
	const char *command[] = {"/bin/touch", marker, NULL};
	struct pmdrop_child c = privman_run(options, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
	for (size_t i = 0; messages[i]; i++)
		cr_expect(strstr(c.err, messages[i]) != NULL, "want \"%s\" in: %s", messages[i],
			  c.err);
	cr_expect(strstr(c.err, "the security scope was refused; nothing was changed") != NULL,
		  "%s", c.err);
	cr_expect(access(marker, F_OK) != 0, "the command ran");
	pmdrop_child_free(&c);
	free(marker);
}

Test(run, chroot_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/no-such-jail", tmp_dir);
	char *owned = make_jail("owned", 0755, getpwnam(user_name)->pw_uid);
	char *group_writable = make_jail("group-writable", 0775, 0);
	char *other_writable = make_jail("other-writable", 0757, 0);
	/* A good jail, but named through a symlink: whoever can change the
	 * link would choose the jail. */
	char *good = make_jail("good", 0755, 0);
	char link[PATH_MAX];
	snprintf(link, sizeof(link), "%s/link", tmp_dir);
	cr_assert(symlink(good, link) == 0);
	free(good);
	struct {
		const char *jail;
		const char *message;
	} cases[] = {
		{missing, "does not exist: create it"},
		{owned, "is owned by uid"},
		{group_writable, "is writable by its group"},
		{other_writable, "is writable by others"},
		{link, "a symlink is on the way"},
		{"relative/jail", "relative/jail"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *options[] = {"-u", user_name, "--chroot", cases[i].jail, NULL};
		const char *messages[] = {"--chroot:", cases[i].jail, cases[i].message, NULL};
		expect_refused(options, messages);
	}
	free(owned);
	free(group_writable);
	free(other_writable);
}

/* --- every error path ------------------------------------------------------------ */

Test(run, unknown_user_and_groups)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char nosuch[64];
	pmdrop_name(nosuch, sizeof(nosuch), "nosuch");
	char list[128];
	snprintf(list, sizeof(list), "%s,%s", group_a, nosuch);
	const char *user[] = {"-u", nosuch, NULL};
	const char *user_msg[] = {"--user: error: unknown user", nosuch, NULL};
	expect_refused(user, user_msg);
	const char *group[] = {"-u", user_name, "-g", nosuch, NULL};
	const char *group_msg[] = {"--group: error: unknown group", nosuch, NULL};
	expect_refused(group, group_msg);
	const char *groups[] = {"-u", user_name, "-G", list, NULL};
	const char *groups_msg[] = {"--groups: error: unknown group", nosuch, NULL};
	expect_refused(groups, groups_msg);
	const char *empty[] = {"-u", user_name, "-G", "a,,b", NULL};
	const char *empty_msg[] = {"--groups: error: \"a,,b\" has an empty group name", NULL};
	expect_refused(empty, empty_msg);
}

Test(run, bad_capabilities)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *caps[] = {"--caps", "cap_net_bind_servce+ep", NULL};
	const char *caps_msg[] = {"--caps: error:", "cap_net_bind_servce", NULL};
	expect_refused(caps, caps_msg);
	const char *privileges[] = {"--privileges", "basic net_privadr", NULL};
	const char *privileges_msg[] = {"--privileges: error:", "net_privadr", NULL};
	expect_refused(privileges, privileges_msg);
	const char *effective[] = {"--caps", "cap_chown+e", NULL};
	const char *effective_msg[] = {"--caps: error:", "+ep", NULL};
	expect_refused(effective, effective_msg);
}

static void become_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		_exit(118);
	pmdrop_become(pw->pw_uid, pw->pw_gid);
}

Test(run, not_root)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *options[] = {"-u", user_name, NULL};
	const char *command[] = {"/bin/true", NULL};
	struct pmdrop_child c = privman_run(options, command, become_nobody);
	cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "not running as root (uid 65534)") != NULL, "%s", c.err);
	cr_expect(strstr(c.err, "start it as root") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	const char *caps[] = {"--caps", "cap_net_bind_service+ep", NULL};
	c = privman_run(caps, command, become_nobody);
	cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "does not hold cap_net_bind_service") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	/* Asking nobody to be nobody needs no root. */
	const char *status[] = {"/bin/cat", "/proc/self/status", NULL};
	const char *nnp[] = {"--no-new-privs", NULL};
	c = privman_run(nnp, status, become_nobody);
	cr_expect_eq(pmdrop_exit_status(&c), 0, "status %d: %s", c.status, c.err);
	struct pmdrop_status got;
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0, "%s", c.out);
	cr_expect_str_eq(got.uid, "65534 65534 65534 65534");
	cr_expect_str_eq(got.no_new_privs, "1");
	pmdrop_child_free(&c);
}

static void path_is_tmp_dir(void)
{
	setenv("PATH", tmp_dir, 1);
}

Test(run, command_not_found_or_not_executable)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *name[] = {"pmtest-no-such-command", NULL};
	struct pmdrop_child c = privman_run(NULL, name, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 127, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "pmtest-no-such-command: command not found in PATH") != NULL,
		  "%s", c.err);
	pmdrop_child_free(&c);

	const char *path[] = {"/nonexistent/program", NULL};
	c = privman_run(NULL, path, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 127, "status %d: %s", c.status, c.err);
	pmdrop_child_free(&c);

	char *plain = pmtest_write_file(tmp_dir, "not-executable", "#!/bin/sh\n");
	cr_assert(chmod(plain, 0644) == 0);
	const char *file[] = {plain, NULL};
	c = privman_run(NULL, file, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 126, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "cannot execute") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	/* Found in PATH but not executable: 126, not "not found". */
	const char *bare[] = {"not-executable", NULL};
	c = privman_run(NULL, bare, path_is_tmp_dir);
	cr_expect_eq(pmdrop_exit_status(&c), 126, "status %d: %s", c.status, c.err);
	pmdrop_child_free(&c);
	free(plain);
}

Test(run, exit_status_is_the_commands)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *command[] = {"/bin/sh", "-c", "exit 7", NULL};
	struct pmdrop_child c = privman_run(NULL, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 7, "status %d: %s", c.status, c.err);
	pmdrop_child_free(&c);
}

Test(run, usage_errors)
{
	const char *unknown[] = {privman, "run", "--bogus", "--", "/bin/true", NULL};
	struct pmdrop_child c = run_argv(unknown, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 2, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "unknown option: --bogus") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	const char *no_command[] = {privman, "run", "-u", "nobody", NULL};
	c = run_argv(no_command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 2, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "missing COMMAND") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	const char *no_value[] = {privman, "run", "-u", NULL};
	c = run_argv(no_value, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 2, "status %d: %s", c.status, c.err);
	cr_expect(strstr(c.err, "this option needs a value: -u") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	/* The command's own options are not privman's. */
	const char *theirs[] = {privman, "run", "--dry-run", "/bin/ls", "-u", "--bogus", NULL};
	c = run_argv(theirs, NULL);
	cr_expect_neq(pmdrop_exit_status(&c), 2, "%s", c.err);
	pmdrop_child_free(&c);
}

/* Unlike `privman check`, run does not permute: from COMMAND on, every word
 * is COMMAND's, also without "--" and also when it looks like one of ours
 * (a permuting getopt would read -c and -u here and refuse the scope). */
Test(run, words_after_the_command_are_the_commands)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *bare[] = {privman, "run", "-u", "nobody", "/bin/echo", "-c",
			      "/nonexistent", "-u", "root", "--dry-run", "--", "x", NULL};
	const char *dashed[] = {privman, "run", "-u", "nobody", "--", "/bin/echo", "-c",
				"/nonexistent", "-u", "root", "--dry-run", "--", "x", NULL};
	const char *const *forms[] = {bare, dashed};
	for (int posix = 0; posix < 2; posix++) {
		if (posix)
			setenv("POSIXLY_CORRECT", "1", 1);
		for (size_t i = 0; i < 2; i++) {
			struct pmdrop_child c = run_argv(forms[i], NULL);
			cr_expect_eq(pmdrop_exit_status(&c), 0, "form %zu: status %d: %s", i,
				     c.status, c.err);
			cr_expect_str_eq(c.out, "-c /nonexistent -u root --dry-run -- x\n",
					 "form %zu", i);
			pmdrop_child_free(&c);
		}
	}
	unsetenv("POSIXLY_CORRECT");
}

Test(run, help_names_every_option)
{
	const char *help[] = {privman, "run", "--help", NULL};
	struct pmdrop_child c = run_argv(help, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 0);
	const char *words[] = {"--config", "--user", "--group", "--groups", "--chroot", "--caps",
			       "--privileges", "--no-new-privs", "--dry-run", "--help",
			       "Exit status", "78", "127", "126", NULL};
	for (size_t i = 0; words[i]; i++)
		cr_expect(strstr(c.out, words[i]) != NULL, "--help lacks %s", words[i]);
	pmdrop_child_free(&c);
}

Test(run, dry_run_runs_nothing)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *jail = make_jail("dry-jail", 0755, 0);
	char *marker = NULL;
	cr_assert(asprintf(&marker, "%s/dry-ran", tmp_dir) > 0);
	const char *options[] = {"--dry-run", "-u", user_name, "-G", group_a, "--chroot", jail,
				 "--caps", "cap_net_bind_service+ep", "--no-new-privs", NULL};
	const char *command[] = {"/bin/touch", marker, NULL};
	struct pmdrop_child c = privman_run(options, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 0, "status %d: %s", c.status, c.err);
	cr_expect(access(marker, F_OK) != 0, "--dry-run ran the command");
	const char *steps[] = {"chroot to", "bounding set", "securebits", "supplementary groups",
			       "gid", "uid", "capability sets", "ambient", "no_new_privs",
			       "verify", "then execute /bin/touch", NULL};
	const char *last = c.out;
	for (size_t i = 0; steps[i]; i++) {
		const char *at = strstr(last, steps[i]);
		cr_expect(at != NULL, "step \"%s\" missing or out of order:\n%s", steps[i], c.out);
		if (at)
			last = at;
	}
	pmdrop_child_free(&c);

	/* A refused scope is refused in a dry run too. */
	const char *bad[] = {"--dry-run", "-u", "pmtest-no-such-user", NULL};
	c = privman_run(bad, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), EX_CONFIG, "status %d: %s", c.status, c.err);
	pmdrop_child_free(&c);
	free(marker);
	free(jail);
}

Test(run, root_target)
{
	PMTEST_SKIP_UNLESS_ROOT();
	const char *cat_status[] = {"/bin/cat", "/proc/self/status", NULL};
	const char *with_caps[] = {"-u", "root", "--caps", "cap_net_bind_service+ep", NULL};
	struct pmdrop_child c = privman_run(with_caps, cat_status, NULL);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	cr_expect_eq(count_of(c.err, "user root with capabilities"), 1,
		     "the warning, once: %s", c.err);
	struct pmdrop_status got;
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0);
	cr_expect_str_eq(got.uid, "0 0 0 0");
	cr_expect_str_eq(got.cap_eff, "0000000000000400", "root keeps only what is named");
	cr_expect_str_eq(got.cap_bnd, "0000000000000400");
	pmdrop_child_free(&c);

	const char *keep[] = {"-u", "root", NULL};
	c = privman_run(keep, cat_status, NULL);
	cr_assert_eq(pmdrop_exit_status(&c), 0, "%s", c.err);
	cr_expect_eq(count_of(c.err, "user root without capabilities"), 1, "the note, once: %s",
		     c.err);
	cr_assert_eq(pmdrop_parse_status(c.out, &got), 0);
	char bounding[32];
	snprintf(bounding, sizeof(bounding), "%016" PRIx64, pmdrop_bounding_now());
	cr_expect_str_eq(got.uid, "0 0 0 0");
	cr_expect_str_eq(got.cap_eff, bounding, "root stays root");
	cr_expect_str_eq(got.groups, "");
	pmdrop_child_free(&c);
}

Test(run, the_command_makes_no_namespace_unless_allowed)
{
	PMTEST_SKIP_UNLESS_ROOT();
	if (access("/usr/bin/unshare", X_OK) != 0)
		cr_skip_test("needs /usr/bin/unshare (util-linux)");
	const char *command[] = {"/usr/bin/unshare", "--user", "--mount", "true", NULL};
	const char *options[] = {"-u", user_name, NULL};
	struct pmdrop_child c = privman_run(options, command, NULL);
	cr_expect_neq(pmdrop_exit_status(&c), 0, "unshare ran: %s", c.err);
	cr_expect(strstr(c.err, "Operation not permitted") != NULL, "%s", c.err);
	pmdrop_child_free(&c);

	const char *allowed[] = {"-u", user_name, "--allow-namespaces", NULL};
	c = privman_run(allowed, command, NULL);
	cr_expect_eq(pmdrop_exit_status(&c), 0, "status %d: %s", c.status, c.err);
	pmdrop_child_free(&c);
}
