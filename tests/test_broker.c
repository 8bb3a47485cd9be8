/* `privman run`'s broker, end to end, with real programs that know nothing
 * of privman (cat, sh, rm, python3, nginx) and with hostile targets
 * (tests/helpers/broker_target.c). Each command runs as nobody with no
 * capability; what it gets beyond that comes from the root monitor. Port 80
 * is used by the server tests, which run one at a time (-j1). */
#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"

static char privman[PATH_MAX], target[PATH_MAX];
static char *dir;      /* a fresh root-owned 0755 directory */
static char *secret;   /* dir/secret: root 0600, "the-secret" */
static pid_t background = -1;

static void setup(void)
{
	pmtest_built(target, sizeof(target), "tests/helpers/broker_target");
	pmtest_built(privman, sizeof(privman), "privman");
	if (geteuid() != 0)
		return;
	dir = pmtest_tmpdir();
	secret = pmtest_write_file(dir, "secret", "the-secret\n");
	cr_assert(chmod(secret, 0600) == 0);
}

static void teardown(void)
{
	if (background > 0) {
		kill(background, SIGKILL);
		waitpid(background, NULL, 0);
		background = -1;
	}
	pmtest_rmtree(dir);
	free(dir);
	free(secret);
}

TestSuite(broker, .init = setup, .fini = teardown, .timeout = 60);

/* --- running privman run ------------------------------------------------- */

struct run {
	pid_t pid;
	int out, err; /* memfds */
	int status;
	char *stdout_text, *stderr_text;
};

static char *slurp(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	cr_assert(size >= 0);
	char *text = calloc(1, (size_t)size + 1);
	cr_assert(text != NULL);
	cr_assert(pread(fd, text, (size_t)size, 0) == size);
	close(fd);
	return text;
}

/* Start `privman run OPTIONS -- COMMAND` in `cwd`; both lists end in NULL. */
static struct run start(const char *cwd, const char *const *options, const char *const *command)
{
	const char *argv[64];
	size_t n = 0;
	argv[n++] = privman;
	argv[n++] = "run";
	for (size_t i = 0; options && options[i]; i++)
		argv[n++] = options[i];
	argv[n++] = "--";
	for (size_t i = 0; command[i]; i++)
		argv[n++] = command[i];
	argv[n] = NULL;
	cr_assert(n < 64);
	struct run r = {.status = -1};
	r.out = memfd_create("out", MFD_CLOEXEC);
	r.err = memfd_create("err", MFD_CLOEXEC);
	cr_assert(r.out >= 0 && r.err >= 0);
	fflush(NULL);
	r.pid = fork();
	cr_assert(r.pid >= 0);
	if (r.pid == 0) {
		if (dup2(r.out, 1) < 0 || dup2(r.err, 2) < 0 || chdir(cwd) < 0)
			_exit(120);
		execv(privman, (char *const *)(uintptr_t)argv);
		_exit(119);
	}
	background = r.pid;
	return r;
}

/* Wait at most `ms` for the run to end; false when it did not. */
static bool finish(struct run *r, int ms)
{
	for (int waited = 0;; waited++) {
		pid_t got = waitpid(r->pid, &r->status, WNOHANG);
		cr_assert(got >= 0);
		if (got == r->pid)
			break;
		if (waited >= ms)
			return false;
		usleep(1000);
	}
	background = -1;
	r->stdout_text = slurp(r->out);
	r->stderr_text = slurp(r->err);
	return true;
}

static struct run run_in(const char *cwd, const char *const *options, const char *const *command)
{
	struct run r = start(cwd, options, command);
	cr_assert(finish(&r, 30000), "privman run did not end");
	return r;
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

static void run_free(struct run *r)
{
	free(r->stdout_text);
	free(r->stderr_text);
}

/* A policy file in dir from printf-style text; returns its path. */
static char *policy(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *policy(const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	static int serial;
	char name[32];
	snprintf(name, sizeof(name), "policy%d.conf", serial++);
	return pmtest_write_file(dir, name, text);
}

/* A path in dir/w, a directory the command may write in. */
static char *writable(const char *name)
{
	char *w = NULL, *p = NULL;
	cr_assert(asprintf(&w, "%s/w", dir) > 0);
	if (mkdir(w, 0755) == 0)
		cr_assert(chmod(w, 01777) == 0);
	cr_assert(asprintf(&p, "%s/%s", w, name) > 0);
	free(w);
	return p;
}

static char *path_in(const char *name)
{
	char *p = NULL;
	cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static char *read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strdup("");
	return slurp(fd);
}

/* --- cat, sh, rm ------------------------------------------------------------ */

Test(broker, cat_of_a_root_only_file_granted_by_open_ro)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	AUTOFREE char *audit = path_in("audit.json");
	setenv("PRIVMAN_AUDIT", audit, 1);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"cat", secret, NULL});
	cr_expect_eq(exit_code(&r), 0, "status %d, stderr: %s", r.status, r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "the-secret\n");
	AUTOFREE char *log = read_file(audit);
	cr_expect(strstr(log, "\"decision\":\"allow\",\"directive\":\"open_ro\""), "%s", log);
	run_free(&r);

	/* The very same command without the broker: cat, as nobody, cannot. */
	r = run_in("/", (const char *[]){"-c", p, "--no-broker", NULL},
		   (const char *[]){"cat", secret, NULL});
	cr_expect_eq(exit_code(&r), 1);
	cr_expect(strstr(r.stderr_text, "Permission denied"), "%s", r.stderr_text);
	run_free(&r);
}

Test(broker, what_is_not_granted_is_the_kernels_to_refuse)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"cat", "/etc/shadow", NULL});
	cr_expect_eq(exit_code(&r), 1);
	cr_expect(strstr(r.stderr_text, "/etc/shadow: Permission denied"), "%s", r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "");
	run_free(&r);
}

/* A confine scope applies under the broker too: the command reads nothing
 * outside it by itself (/etc/passwd is world-readable, and refused), yet
 * still gets what the monitor grants, opened in the monitor's unconfined
 * context. Without the confine hook on the broker's path, cat would read
 * /etc/passwd. */
Test(broker, a_confined_command_gets_only_what_the_broker_grants)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\nconfine { read { /usr } }\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"cat", secret, NULL});
	cr_expect_eq(exit_code(&r), 0, "status %d, stderr: %s", r.status, r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "the-secret\n");
	run_free(&r);

	r = run_in("/", (const char *[]){"-c", p, NULL},
		   (const char *[]){"cat", "/etc/passwd", NULL});
	cr_expect_eq(exit_code(&r), 1, "status %d", r.status);
	cr_expect(strstr(r.stderr_text, "/etc/passwd: Permission denied"), "%s", r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "");
	run_free(&r);
}

Test(broker, a_relative_path_and_a_dirfd_path)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in(dir, (const char *[]){"-c", p, NULL},
			      (const char *[]){"cat", "secret", NULL});
	cr_expect_eq(exit_code(&r), 0, "%s", r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "the-secret\n");
	run_free(&r);

	/* openat(dirfd, "secret") from a working directory elsewhere. */
	char script[1024];
	snprintf(script, sizeof(script),
		 "import os\n"
		 "d = os.open('%s', os.O_RDONLY | os.O_DIRECTORY)\n"
		 "f = os.open('secret', os.O_RDONLY, dir_fd=d)\n"
		 "print(os.read(f, 64).decode().strip())\n",
		 dir);
	r = run_in("/", (const char *[]){"-c", p, NULL},
		   (const char *[]){"python3", "-c", script, NULL});
	cr_expect_eq(exit_code(&r), 0, "%s", r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "the-secret\n");
	run_free(&r);
}

Test(broker, openat2_is_served_as_open_and_its_resolve_flags_are_the_kernels)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "openat2", secret, "0", NULL});
	cr_expect_str_eq(r.stdout_text, "openat2 the-secret\n", "%s", r.stderr_text);
	run_free(&r);
	/* RESOLVE_NO_SYMLINKS (4): a restriction the monitor does not take on
	 * itself; the kernel decides, as nobody. */
	r = run_in("/", (const char *[]){"-c", p, NULL},
		   (const char *[]){target, "openat2", secret, "4", NULL});
	cr_expect_str_eq(r.stdout_text, "openat2 EACCES\n", "%s", r.stderr_text);
	run_free(&r);
}

Test(broker, o_creat_in_an_open_rw_directory_and_unlink)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *spool = path_in("spool");
	cr_assert(mkdir(spool, 0755) == 0);
	AUTOFREE char *made = path_in("spool/made");
	AUTOFREE char *victim = pmtest_write_file(dir, "victim", "x\n");
	AUTOFREE char *kept = pmtest_write_file(dir, "kept", "x\n");
	AUTOFREE char *p = policy("open_rw %s/**\nunlink %s\n", spool, victim);
	char script[2048];
	snprintf(script, sizeof(script), "umask 027; echo made > %s && rm -f %s && rm -f %s",
		 made, victim, kept);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"sh", "-c", script, NULL});
	cr_expect_neq(exit_code(&r), 0, "the kernel let nobody remove %s", kept);
	cr_expect(strstr(r.stderr_text, "Permission denied"), "%s", r.stderr_text);
	AUTOFREE char *content = read_file(made);
	cr_expect_str_eq(content, "made\n");
	struct stat st;
	cr_assert(stat(made, &st) == 0);
	cr_expect_eq(st.st_uid, 0, "made by the monitor");
	cr_expect_eq(st.st_mode & 07777, 0640, "the command's umask: %o", st.st_mode & 07777);
	cr_expect(access(victim, F_OK) < 0, "the granted unlink happened");
	cr_expect(access(kept, F_OK) == 0, "the other file stays");
	run_free(&r);
}

/* An O_TMPFILE that takes the long way (a path that is not clean) is opened
 * through the directory's handle again: with the mode asked for, less the
 * umask and the set-id bits. Without the mode, the monitor's open(2) took
 * whatever its register held, and the fortified libc aborted the monitor. */
Test(broker, o_tmpfile_on_the_long_way_gets_its_mode)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *spool = path_in("spool");
	cr_assert(mkdir(spool, 0755) == 0);
	AUTOFREE char *p = policy("open_rw %s/*\n", spool);
	char script[1024];
	snprintf(script, sizeof(script),
		 "import os\n"
		 "os.umask(0o027)\n"
		 "for p in ['%s', '%s/.', '%s/../spool']:\n"
		 "    f = os.open(p, os.O_TMPFILE | os.O_RDWR, 0o6777)\n"
		 "    st = os.fstat(f)\n"
		 "    print(oct(st.st_mode), st.st_uid)\n",
		 spool, spool, spool);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"python3", "-c", script, NULL});
	cr_expect_eq(exit_code(&r), 0, "status %d, stderr: %s", r.status, r.stderr_text);
	cr_expect_str_eq(r.stdout_text, "0o100750 0\n0o100750 0\n0o100750 0\n", "%s",
			 r.stderr_text);
	run_free(&r);
}

Test(broker, calls_the_policy_cannot_grant_are_not_even_sent)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* open_ao grants O_WRONLY only: cat's opens, all O_RDONLY, never reach
	 * the monitor; with open_ro they all do (and go on in the kernel). */
	AUTOFREE char *log = pmtest_write_file(dir, "log", "");
	AUTOFREE char *audit = path_in("audit.json");
	setenv("PRIVMAN_AUDIT", audit, 1);
	AUTOFREE char *p = policy("open_ao %s\n", log);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"cat", "/etc/hostname", NULL});
	cr_expect_eq(exit_code(&r), 0, "%s", r.stderr_text);
	run_free(&r);
	AUTOFREE char *text = read_file(audit);
	cr_expect(strstr(text, "0 calls granted, 0 left to the kernel"), "%s", text);

	unlink(audit);
	AUTOFREE char *q = policy("open_ro %s\n", secret);
	r = run_in("/", (const char *[]){"-c", q, NULL},
		   (const char *[]){"cat", "/etc/hostname", NULL});
	run_free(&r);
	AUTOFREE char *text2 = read_file(audit);
	cr_expect(strstr(text2, "0 calls granted, ") && !strstr(text2, " 0 left to the kernel"),
		  "%s", text2);
}

Test(broker, status_and_signals_pass_through)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"sh", "-c", "exit 7", NULL});
	cr_expect_eq(exit_code(&r), 7);
	run_free(&r);

	/* SIGTERM to privman run reaches the command, whose death is its. */
	AUTOFREE char *pids = writable("pids");
	r = start("/", (const char *[]){"-c", p, NULL},
		  (const char *[]){target, "sleep", pids, NULL});
	for (int i = 0; i < 5000 && access(pids, F_OK) < 0; i++)
		usleep(1000);
	cr_assert(kill(r.pid, SIGTERM) == 0);
	cr_assert(finish(&r, 5000));
	cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM, "status %d",
		  r.status);
	run_free(&r);
}

Test(broker, no_broker_without_a_rule_it_could_serve)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("run_as nobody\n");
	/* The command replaces privman run itself: its parent is this test. */
	char expect[32];
	snprintf(expect, sizeof(expect), "%d\n", (int)getpid());
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"sh", "-c", "echo $PPID", NULL});
	cr_expect_str_eq(r.stdout_text, expect);
	run_free(&r);
}

Test(broker, the_policy_of_an_application_and_the_dry_run)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char text[PATH_MAX + 16];
	snprintf(text, sizeof(text), "open_ro %s\n", secret);
	free(pmtest_write_file(dir, "myapp", text));
	setenv("PRIVMAN_CONF_DIR", dir, 1);
	struct run r = run_in("/", (const char *[]){"-a", "myapp", NULL},
			      (const char *[]){"cat", secret, NULL});
	cr_expect_str_eq(r.stdout_text, "the-secret\n", "%s", r.stderr_text);
	run_free(&r);

	r = run_in("/", (const char *[]){"-a", "myapp", "--dry-run", NULL},
		   (const char *[]){"cat", secret, NULL});
	cr_expect_eq(exit_code(&r), 0);
	cr_expect(strstr(r.stdout_text, "a root monitor stays as the parent"), "%s",
		  r.stdout_text);
	run_free(&r);

	r = run_in("/", (const char *[]){"-a", "../myapp", NULL},
		   (const char *[]){"cat", secret, NULL});
	cr_expect_eq(exit_code(&r), 2, "%s", r.stderr_text);
	cr_expect(strstr(r.stderr_text, "not an application name"), "%s", r.stderr_text);
	run_free(&r);
	unsetenv("PRIVMAN_CONF_DIR");
}

Test(broker, bind_of_a_granted_port_and_of_another)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *audit = path_in("audit.json");
	setenv("PRIVMAN_AUDIT", audit, 1);
	AUTOFREE char *p = policy("bind 127.0.0.1:740\n");
	const char *script = "import socket\n"
			     "for port in (740, 741):\n"
			     "    s = socket.socket()\n"
			     "    try:\n"
			     "        s.bind(('127.0.0.1', port)); print(port, 'bound')\n"
			     "    except OSError as e:\n"
			     "        print(port, e.strerror)\n";
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"python3", "-c", script, NULL});
	cr_expect_str_eq(r.stdout_text, "740 bound\n741 Permission denied\n", "%s",
			 r.stderr_text);
	run_free(&r);
	AUTOFREE char *log = read_file(audit);
	cr_expect(strstr(log, "\"op\":\"bind\",\"object\":\"127.0.0.1:740\""), "%s", log);
	cr_expect(!strstr(log, "127.0.0.1:741"), "%s", log);
}

/* --- servers on port 80 ------------------------------------------------------ */

static bool port80_answers(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

/* Port 80 free, or another test's server there goes away (10 s). */
static bool port80_free(void)
{
	for (int i = 0; i < 1000 && port80_answers(); i++)
		usleep(10000);
	return !port80_answers();
}

static void wait_port80(struct run *r)
{
	for (int i = 0; i < 10000 && !port80_answers(); i++) {
		cr_assert(waitpid(r->pid, &r->status, WNOHANG) == 0, "the server ended");
		usleep(1000);
	}
	cr_assert(port80_answers(), "nothing listens on port 80");
}

/* curl's output for `url`. */
static char *curl(const char *url)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 %s", url);
	FILE *f = popen(cmd, "r");
	cr_assert(f != NULL);
	char *text = calloc(1, 4096);
	size_t n = fread(text, 1, 4095, f);
	text[n] = '\0';
	pclose(f);
	return text;
}

static pid_t parent_of(pid_t pid)
{
	char file[64];
	int ppid = 0;
	snprintf(file, sizeof(file), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(file, "r");
	if (f) {
		if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
			ppid = 0;
		fclose(f);
	}
	return ppid;
}

static bool below(pid_t pid, pid_t ancestor)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++, pid = parent_of(pid))
		if (pid == ancestor)
			return true;
	return false;
}

/* Every process named `name` below privman run: nobody, no capability. */
static void expect_unprivileged(const struct run *r, const char *name)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "pgrep -x %s", name);
	FILE *f = popen(cmd, "r");
	int pid, seen = 0;
	while (fscanf(f, "%d", &pid) == 1) {
		if (!below(pid, r->pid))
			continue;
		seen++;
		char file[64], line[256];
		snprintf(file, sizeof(file), "/proc/%d/status", pid);
		FILE *st = fopen(file, "r");
		cr_assert(st != NULL);
		while (fgets(line, sizeof(line), st)) {
			if (strncmp(line, "Uid:", 4) == 0)
				cr_expect_str_eq(line, "Uid:\t65534\t65534\t65534\t65534\n");
			if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0)
				cr_expect(strstr(line, "\t0000000000000000"), "%d %s", pid, line);
		}
		fclose(st);
	}
	pclose(f);
	cr_expect_gt(seen, 0, "no %s below privman run", name);
}

Test(broker, python_http_server_on_port_80_as_nobody)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *www = path_in("www");
	cr_assert(mkdir(www, 0755) == 0);
	AUTOFREE char *page = pmtest_write_file(www, "index.html", "served by python\n");
	AUTOFREE char *p = policy("bind 127.0.0.1:80\n");
	cr_assert(port80_free(), "port 80 is taken");
	struct run r = start(www, (const char *[]){"-c", p, NULL},
			     (const char *[]){"python3", "-m", "http.server", "80", "--bind",
					      "127.0.0.1", NULL});
	wait_port80(&r);
	AUTOFREE char *got = curl("http://127.0.0.1/index.html");
	cr_expect_str_eq(got, "served by python\n");
	expect_unprivileged(&r, "python3");
	cr_assert(kill(r.pid, SIGTERM) == 0);
	cr_assert(finish(&r, 5000));
	run_free(&r);
}

/* A directory with nginx's configuration, root-owned logs and pid file
 * place, and its policy. */
static char *nginx_setup(char **conf)
{
	AUTOFREE char *www = path_in("www");
	AUTOFREE char *logs = path_in("logs");
	AUTOFREE char *run = path_in("run");
	AUTOFREE char *tmp = path_in("tmp");
	cr_assert(mkdir(www, 0755) == 0 && mkdir(logs, 0755) == 0 && mkdir(run, 0755) == 0 &&
		  mkdir(tmp, 0755) == 0);
	free(pmtest_write_file(www, "index.html", "served by nginx\n"));
	free(pmtest_write_file(logs, "error.log", ""));
	free(pmtest_write_file(logs, "access.log", ""));
	char text[4096];
	snprintf(text, sizeof(text),
		 "daemon off;\nmaster_process on;\nworker_processes 2;\n"
		 "pid %s/nginx.pid;\nerror_log %s/error.log notice;\n"
		 "events { worker_connections 256; }\n"
		 "http {\n access_log %s/access.log;\n"
		 " client_body_temp_path %s/body;\n proxy_temp_path %s/proxy;\n"
		 " fastcgi_temp_path %s/fastcgi;\n uwsgi_temp_path %s/uwsgi;\n"
		 " scgi_temp_path %s/scgi;\n"
		 " server { listen 127.0.0.1:80; root %s; }\n}\n",
		 run, logs, logs, tmp, tmp, tmp, tmp, tmp, www);
	*conf = pmtest_write_file(dir, "nginx.conf", text);
	/* nginx makes its temporary directories at start: as nobody, where
	 * nobody may. */
	cr_assert(pmtest_sh("chown nobody '%s' && chmod 600 '%s'/*.log", tmp, logs) == 0);
	return policy("bind 127.0.0.1:80\n"
		      "open_ao { %s/error.log %s/access.log }\n"
		      "open_rw %s/nginx.pid\nunlink %s/nginx.pid\n",
		      logs, logs, run, run);
}

Test(broker, nginx_on_port_80_as_nobody_with_root_owned_logs_and_pid_file)
{
	PMTEST_SKIP_UNLESS_ROOT();
	cr_assert(access("/usr/sbin/nginx", X_OK) == 0, "nginx-light is installed by deps.sh");
	AUTOFREE char *conf = NULL;
	AUTOFREE char *p = nginx_setup(&conf);
	AUTOFREE char *error_log = path_in("logs/error.log");
	AUTOFREE char *access_log = path_in("logs/access.log");
	AUTOFREE char *pid_file = path_in("run/nginx.pid");
	cr_assert(port80_free(), "port 80 is taken");
	struct run r = start("/", (const char *[]){"-c", p, NULL},
			     (const char *[]){"/usr/sbin/nginx", "-e", error_log, "-c", conf, NULL});
	wait_port80(&r);
	AUTOFREE char *got = curl("http://127.0.0.1/index.html");
	cr_expect_str_eq(got, "served by nginx\n");
	expect_unprivileged(&r, "nginx");
	struct stat st;
	cr_expect(stat(pid_file, &st) == 0 && st.st_uid == 0, "the pid file, made by root");
	AUTOFREE char *pid_text = read_file(pid_file);
	cr_expect(atoi(pid_text) > 0, "pid file: %s", pid_text);

	cr_assert(kill(r.pid, SIGTERM) == 0); /* nginx's fast shutdown */
	cr_assert(finish(&r, 10000));
	cr_expect_eq(exit_code(&r), 0, "status %d: %s", r.status, r.stderr_text);
	AUTOFREE char *access_text = read_file(access_log);
	cr_expect(strstr(access_text, "\"GET /index.html HTTP/1.1\" 200"), "access.log: %s",
		  access_text);
	AUTOFREE char *error_text = read_file(error_log);
	cr_expect(strstr(error_text, "[notice]"), "error.log: %s", error_text);
	cr_expect(stat(access_log, &st) == 0 && st.st_uid == 0 && (st.st_mode & 0777) == 0600);
	cr_expect(access(pid_file, F_OK) < 0, "nginx removed its pid file (unlink granted)");
	run_free(&r);
}

/* --- hostile targets ---------------------------------------------------------- */

static long field(const char *text, const char *name)
{
	const char *p = strstr(text, name);
	cr_assert(p, "no %s in: %s", name, text);
	return atol(p + strlen(name));
}

Test(broker, a_thread_rewriting_the_path_gets_only_granted_objects)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* /etc/shadow is refused by the kernel; the other file is root's 0600
	 * too, with its own line: neither must ever be read. */
	AUTOFREE char *other = pmtest_write_file(dir, "other", "not-granted\n");
	cr_assert(chmod(other, 0600) == 0);
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "race", secret, other, "20000",
					       "the-secret", NULL});
	cr_expect_eq(exit_code(&r), 0, "%s", r.stderr_text);
	cr_expect_eq(field(r.stdout_text, "other="), 0, "%s", r.stdout_text);
	cr_expect_gt(field(r.stdout_text, "granted="), 0, "%s", r.stdout_text);
	cr_expect_gt(field(r.stdout_text, "refused="), 0, "%s", r.stdout_text);
	run_free(&r);
}

Test(broker, symlink_swaps_get_only_granted_objects)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *other = pmtest_write_file(dir, "other", "not-granted\n");
	cr_assert(chmod(other, 0600) == 0);
	AUTOFREE char *links = path_in("links");
	cr_assert(mkdir(links, 0755) == 0 && chmod(links, 01777) == 0);
	AUTOFREE char *link = path_in("links/link");
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "symlink", link, secret, other, "20000",
					       "the-secret", NULL});
	cr_expect_eq(exit_code(&r), 0, "%s", r.stderr_text);
	cr_expect_eq(field(r.stdout_text, "other="), 0, "%s", r.stdout_text);
	cr_expect_gt(field(r.stdout_text, "granted="), 0, "%s", r.stdout_text);
	run_free(&r);
}

Test(broker, io_uring_is_refused)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "uring", NULL});
	cr_expect_str_eq(r.stdout_text, "uring EPERM\n");
	run_free(&r);
}

Test(broker, a_call_of_the_i386_abi_kills_the_process)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "int80", NULL});
	cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSYS, "status %d, out %s",
		  r.status, r.stdout_text);
	cr_expect_str_eq(r.stdout_text, "");
	run_free(&r);
}

Test(broker, a_thread_with_its_own_working_directory)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* The main thread works in dir/b, where "secret" is not granted; the
	 * thread that opens works in dir, where it is. */
	AUTOFREE char *b = path_in("b");
	cr_assert(mkdir(b, 0755) == 0);
	free(pmtest_write_file(b, "secret", "wrong-one\n"));
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	struct run r = run_in(b, (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "thread", dir, "secret", NULL});
	cr_expect_str_eq(r.stdout_text, "thread the-secret\n", "%s", r.stderr_text);
	run_free(&r);
}

Test(broker, a_handled_signal_never_repeats_a_granted_exclusive_create)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *spool = path_in("spool");
	cr_assert(mkdir(spool, 0755) == 0);
	AUTOFREE char *file = path_in("spool/f");
	AUTOFREE char *p = policy("open_rw %s/*\nunlink %s/*\n", spool, spool);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "excl", file, "3000", NULL});
	cr_expect_eq(field(r.stdout_text, "ok="), 3000, "%s %s", r.stdout_text, r.stderr_text);
	run_free(&r);
}

Test(broker, proc_self_is_the_commands_own)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* Even where the policy grants /proc, /proc/self is resolved by the
	 * kernel for the command, never as the monitor's. */
	AUTOFREE char *p = policy("open_ro { /proc/** %s }\n", secret);
	AUTOFREE char *audit = path_in("audit.json");
	setenv("PRIVMAN_AUDIT", audit, 1);
	setenv("PMTEST_MONITOR_ONLY", "monitor-environment", 1);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"env", "-u", "PMTEST_MONITOR_ONLY", "sh", "-c",
					       "head -1 /proc/self/status; "
					       "tr '\\0' '\\n' < /proc/self/environ",
					       NULL});
	unsetenv("PMTEST_MONITOR_ONLY");
	cr_expect(strncmp(r.stdout_text, "Name:\thead\n", 11) == 0, "%s", r.stdout_text);
	cr_expect(!strstr(r.stdout_text, "monitor-environment"), "%s", r.stdout_text);
	AUTOFREE char *log = read_file(audit);
	cr_expect(strstr(log, "a /proc object reached in the monitor's context"), "%s", log);
	run_free(&r);
}

static int fds_of(pid_t pid)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", (int)pid);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	pclose(f);
	return n;
}

Test(broker, callers_killed_mid_request_cost_the_monitor_nothing)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	AUTOFREE char *pids = writable("pids");
	/* The monitor's own descriptors, before and after 200 callers died
	 * while it was opening a file for them. */
	struct run idle = start("/", (const char *[]){"-c", p, NULL},
				(const char *[]){target, "sleep", pids, NULL});
	for (int i = 0; i < 5000 && access(pids, F_OK) < 0; i++)
		usleep(1000);
	int before = fds_of(idle.pid);
	kill(idle.pid, SIGTERM);
	cr_assert(finish(&idle, 5000));
	run_free(&idle);

	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){target, "dying", secret, "200", NULL});
	cr_expect_str_eq(r.stdout_text, "dying the-secret\n", "%s", r.stderr_text);
	run_free(&r);
	cr_expect_gt(before, 0);
	/* The same run again, measured while the callers die. */
	r = start("/", (const char *[]){"-c", p, NULL},
		  (const char *[]){target, "dying", secret, "300", NULL});
	usleep(200000);
	int during = fds_of(r.pid);
	cr_assert(finish(&r, 30000));
	cr_expect_leq(during, before + 2, "the monitor holds %d fds, %d when idle", during, before);
	run_free(&r);
}

Test(broker, a_working_directory_in_another_mount_namespace_is_not_served)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* The command may make namespaces here: it binds /etc over a directory
	 * whose entries the policy grants, and reads "shadow" relative to it.
	 * Its working directory has no name in the monitor's view: the kernel
	 * decides, in the command's own view and with its own rights. */
	AUTOFREE char *x = path_in("x");
	cr_assert(mkdir(x, 0755) == 0);
	AUTOFREE char *p = policy("allow_namespaces true\nopen_ro %s/*\n", x);
	char script[1024];
	snprintf(script, sizeof(script),
		 "mount --bind /etc %s && cd %s && cat shadow; echo status $?", x, x);
	struct run r = run_in("/", (const char *[]){"-c", p, NULL},
			      (const char *[]){"unshare", "-Urm", "sh", "-c", script, NULL});
	cr_expect(strstr(r.stdout_text, "status 1"), "out: %s err: %s", r.stdout_text,
		  r.stderr_text);
	cr_expect(!strstr(r.stdout_text, "root:"), "%s", r.stdout_text);
	cr_expect(strstr(r.stderr_text, "Permission denied"), "%s", r.stderr_text);
	run_free(&r);
}

/* --- the tree and the monitor -------------------------------------------------- */

static int read_pids(const char *file, pid_t *pids, int max)
{
	for (int i = 0; i < 5000 && access(file, F_OK) < 0; i++)
		usleep(1000);
	FILE *f = fopen(file, "r");
	cr_assert(f != NULL, "no pid file");
	int n = 0;
	while (n < max && fscanf(f, "%d", &pids[n]) == 1)
		n++;
	fclose(f);
	return n;
}

static bool alive(pid_t pid)
{
	char file[64], state = '?';
	snprintf(file, sizeof(file), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(file, "r");
	if (!f)
		return false;
	int got = fscanf(f, "%*d (%*[^)]) %c", &state);
	fclose(f);
	return got == 1 && state != 'Z';
}

/* The monitor's children: the guard (and the appender, if any). */
static pid_t child_of(pid_t parent)
{
	char file[64];
	snprintf(file, sizeof(file), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	FILE *f = fopen(file, "r");
	int pid = -1;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

static int children_count(pid_t parent)
{
	char file[64];
	snprintf(file, sizeof(file), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	FILE *f = fopen(file, "r");
	int n = 0, pid;
	if (!f)
		return -1;
	while (fscanf(f, "%d", &pid) == 1)
		n++;
	fclose(f);
	return n;
}

Test(broker, an_open_under_proc_is_left_to_the_kernel_before_any_act)
{
	PMTEST_SKIP_UNLESS_ROOT();
	/* open_ao grants /proc: an append there, served, would be an append
	 * stream, whose appender is forked from the monitor on first need.
	 * A /proc object is the kernel's to open for the command: decided
	 * before the monitor opens anything, so no appender is started (the
	 * monitor's only child stays the guard). */
	AUTOFREE char *p = policy("open_ao /proc/**\n");
	AUTOFREE char *ready = writable("ready");
	AUTOFREE char *audit = path_in("audit.json");
	char script[PATH_MAX + 128];
	snprintf(script, sizeof(script), "exec 3>>/proc/self/comm; echo $? > %s; sleep 3", ready);
	setenv("PRIVMAN_AUDIT", audit, 1);
	struct run r = start("/", (const char *[]){"-c", p, NULL},
			     (const char *[]){"sh", "-c", script, NULL});
	for (int i = 0; i < 5000 && access(ready, F_OK) < 0; i++)
		usleep(1000);
	usleep(50000); /* "0\n" written */
	int children = children_count(r.pid);
	kill(r.pid, SIGTERM);
	cr_assert(finish(&r, 5000));
	AUTOFREE char *status = read_file(ready);
	cr_expect_str_eq(status, "0\n", "the kernel refused: %s", r.stderr_text);
	cr_expect_eq(children, 1, "the monitor has %d children (an appender?)", children);
	AUTOFREE char *log = read_file(audit);
	cr_expect(strstr(log, "a /proc object reached in the monitor's context"), "%s", log);
	run_free(&r);
}

Test(broker, kill_9_of_the_monitor_ends_the_whole_tree_within_500ms)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	AUTOFREE char *pids_file = writable("pids");
	struct run r = start("/", (const char *[]){"-c", p, NULL},
			     (const char *[]){target, "tree", pids_file, NULL});
	pid_t pids[3];
	cr_assert_eq(read_pids(pids_file, pids, 3), 3);
	pid_t guard = child_of(r.pid);
	cr_assert(guard > 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert(kill(r.pid, SIGKILL) == 0);
	bool any = true;
	while (any) {
		any = alive(guard);
		for (int i = 0; i < 3; i++)
			any |= alive(pids[i]);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		cr_assert(ms < 500 || !any, "still alive after %ld ms: %d %d %d (guard %d)", ms,
			  pids[0], pids[1], pids[2], guard);
		usleep(1000);
	}
	cr_assert(finish(&r, 1000));
	run_free(&r);
}

Test(broker, kill_9_of_the_guard_ends_the_tree_too)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *audit = path_in("audit.json");
	setenv("PRIVMAN_AUDIT", audit, 1);
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	AUTOFREE char *pids_file = writable("pids");
	struct run r = start("/", (const char *[]){"-c", p, NULL},
			     (const char *[]){target, "tree", pids_file, NULL});
	pid_t pids[3];
	cr_assert_eq(read_pids(pids_file, pids, 3), 3);
	pid_t guard = child_of(r.pid);
	cr_assert(guard > 0);
	cr_assert(kill(guard, SIGKILL) == 0);
	cr_assert(finish(&r, 2000), "the monitor did not leave");
	cr_expect_eq(exit_code(&r), 70, "status %d", r.status);
	for (int i = 0; i < 3; i++)
		cr_expect(!alive(pids[i]), "%d lives on", pids[i]);
	run_free(&r);
	AUTOFREE char *log = read_file(audit);
	cr_expect(strstr(log, "the guard ended"), "%s", log);
}

Test(broker, kill_9_of_the_command_ends_the_monitor_with_its_status)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *p = policy("open_ro %s\n", secret);
	AUTOFREE char *pids_file = writable("pids");
	struct run r = start("/", (const char *[]){"-c", p, NULL},
			     (const char *[]){target, "tree", pids_file, NULL});
	pid_t pids[3];
	cr_assert_eq(read_pids(pids_file, pids, 3), 3);
	pid_t guard = child_of(r.pid);
	cr_assert(kill(pids[0], SIGKILL) == 0);
	cr_assert(finish(&r, 2000), "the monitor did not leave");
	cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL, "status %d", r.status);
	cr_expect(!alive(guard));
	for (int i = 1; i < 3; i++)
		cr_expect(!alive(pids[i]), "%d lives on", pids[i]);
	run_free(&r);
}
