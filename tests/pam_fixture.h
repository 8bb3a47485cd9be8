/* What test_pam_prepare.c and test_pam_zygote.c share: the monitor's side
 * of PAM in this process with no program (a monitor `m`, the channel `c` of
 * the program it plays), a directory of the test's own, and the services
 * SERVICE, SERVICE_B (stacks that leave a marker when they authenticate)
 * and SERVICE_X (never granted; its stack loads pam_echo). The includer
 * defines USER_A, SERVICE, SERVICE_B, SERVICE_X and PAM_FIXTURE_IDENT (the
 * audit ident) first, then includes this once. */
#ifndef PRIVMAN_TEST_PAM_FIXTURE_H
#define PRIVMAN_TEST_PAM_FIXTURE_H

#include <dirent.h>

#ifdef __SANITIZE_ADDRESS__
/* The PAM workers are forks of this process: see test_pam_monitor.c. */
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
static char *dir;

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

static void write_service(const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/etc/pam.d/%s", name);
	FILE *f = fopen(path, "we");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert(fclose(f) == 0);
}

/* A stack that leaves `marker` in the test's directory when it
 * authenticates, and lets anyone pass. */
static void marking_service(const char *name, const char *marker)
{
	char text[PATH_MAX + 256];
	snprintf(text, sizeof(text),
		 "auth optional pam_exec.so /usr/bin/touch %s/%s\n"
		 "auth required pam_permit.so\naccount required pam_permit.so\n",
		 dir, marker);
	write_service(name, text);
}

static bool marked(const char *marker)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, marker);
	return access(path, F_OK) == 0;
}

static void setup(void)
{
	if (geteuid() != 0)
		return;
	pmtest_user_ensure(USER_A);
	dir = pmtest_tmpdir();
	marking_service(SERVICE, "marker-a");
	marking_service(SERVICE_B, "marker-b");
	write_service(SERVICE_X, "auth optional pam_echo.so never prepared\n"
				 "auth required pam_permit.so\naccount required pam_permit.so\n");
	memset(&m, 0, sizeof(m));
	audit_init(&m.audit, PAM_FIXTURE_IDENT);
	m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert(m.epoll_fd >= 0);
	m.program = getpid();
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
	unlink("/etc/pam.d/" SERVICE_B);
	unlink("/etc/pam.d/" SERVICE_X);
	pmtest_user_remove(USER_A);
	pmtest_sh("rm -rf '%s'", dir);
	free(dir);
}

/* A child of this process named `comm`; with `waiting`, only once it is
 * blocked in `syscall_nr` (its preparation done). 0 when there is none. */
static pid_t child_named(const char *comm, long syscall_nr)
{
	char want[64], name[32];
	snprintf(want, sizeof(want), "%ld ", syscall_nr);
	snprintf(name, sizeof(name), "(%s)", comm);
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && (e = readdir(d)) && !found) {
		char path[300], text[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t got = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[got] = '\0';
		char *paren = strrchr(text, ')');
		int ppid = 0;
		if (!paren || !strstr(text, name) || sscanf(paren + 2, "%*c %d", &ppid) != 1 ||
		    ppid != getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/syscall", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		got = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[got] = '\0';
		if (syscall_nr < 0 || strncmp(text, want, strlen(want)) == 0)
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* What the monitor's loop does once the worker of the only transaction
 * ended: it reads the end of the report socket, then makes the next
 * worker ready. */
static void next_worker(void)
{
	for (int i = 0; i < 500; i++) {
		const uid_t *list;
		size_t count;
		pam_authenticated_uids(&m, &list, &count);
		pam_monitor_event(&m, PAM_MONITOR_READY_TAG);
		if (child_named("privman-pamrdy", -1))
			return;
		usleep(10000);
	}
	cr_assert_fail("no worker made ready within 5 s of the last one's end");
}

#endif
