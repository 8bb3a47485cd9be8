/* priv_init: load and check the policy as root, split the process into the
 * monitor (the parent, which stays root) and the program (the child, which
 * drops to the security scope and returns). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "monitor/audit.h"
#include "program/client.h"
#include "monitor/custom.h"
#include "monitor/learn_log.h"
#include "scope/confine.h"
#include "scope/drop.h"
#include "common/kill_one.h"
#include "monitor/monitor.h"
#include "monitor/pam_monitor.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"
#include "privman.h"
#include "monitor/proc.h"

/* EX_CONFIG from sysexits.h: the policy or the set-up is wrong. */
#define INIT_FAILED 78

static bool initialised;
static char ident[64];
/* The monitor lives for the whole life of the process; it never returns
 * into the program, so one static instance is all there is. */
static struct monitor the_monitor;
/* Where a process the monitor starts for priv_rerunas continues: the
 * return of priv_init, on the monitor's stack, which is priv_init's. */
static jmp_buf return_to_program;

/* A process the monitor started for priv_rerunas, already dropped to its
 * user (proc_rerun.c): it becomes the program on `sock`, runs the caller's
 * function, and returns from priv_init. */
static void __attribute__((noreturn)) enter_program(int sock, void (*fn)(char *const *),
						    char *const *args)
{
	client_attach(sock);
	if (fn)
		fn(args);
	longjmp(return_to_program, 1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) init_fail(const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: priv_init: %s\n", ident[0] ? ident : "privman", text);
	syslog(LOG_ERR, "priv_init: %s", text);
	exit(INIT_FAILED);
}

static void print_diag(const struct diag *d)
{
	for (size_t i = 0; i < d->count; i++) {
		fprintf(stderr, "%s\n", d->entries[i].text);
		syslog(d->entries[i].severity == DIAG_ERROR ? LOG_ERR : LOG_WARNING, "%s",
		       d->entries[i].text);
	}
}

/* The monitor is the parent: a thread started before priv_init would keep
 * running in it, as root, with the program's code. */
static int thread_count(void)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static bool appname_ok(const char *appname)
{
	if (!appname || !appname[0] || strlen(appname) >= sizeof(ident))
		return false;
	if (strcmp(appname, ".") == 0 || strcmp(appname, "..") == 0)
		return false;
	return strchr(appname, '/') == NULL;
}

static const char *conf_dir(void)
{
	/* Never let the environment choose the policy of a setuid program. */
	const char *dir = getauxval(AT_SECURE) ? NULL : getenv("PRIVMAN_CONF_DIR");
	return dir && *dir ? dir : PRIVMAN_SYSCONFDIR "/privman.d";
}

static struct policy *load_policy(const char *path, bool learning)
{
	struct diag d;
	diag_init(&d);
	const char *paths[1] = {path};
	struct policy *p;
	if (learning && access(path, F_OK) < 0 && errno == ENOENT) {
		/* Learning may start from nothing: the default scope, no grant. */
		fprintf(stderr, "%s: priv_init: learning: %s does not exist; starting from an "
				"empty policy (user nobody, nothing granted)\n",
			ident, path);
		p = conf_load_buffer(path, "", 0, &d);
	} else {
		p = conf_load_files(paths, 1, &d);
	}
	if (p && policy_validate(p, &d) < 0) {
		policy_free(p);
		p = NULL;
	}
	print_diag(&d);
	diag_free(&d);
	if (!p)
		init_fail("the policy %s is not valid; nothing was started", path);
	return p;
}

/* PRIVMAN_LEARN=FILE: the policy grants what it would refuse (but running
 * as root), and every decision goes to FILE (learn_log.h). */
static int learn_start(const char *file, struct policy *policy, const char *path)
{
	int fd = learn_log_open(file);
	if (fd < 0)
		init_fail("PRIVMAN_LEARN=%s: %s", file, strerror(errno));
	policy->learn = true;
	learn_log_start(fd, ident, path);
	fprintf(stderr,
		"%s: priv_init: LEARNING (PRIVMAN_LEARN=%s): every request the policy %s "
		"refuses is served as root would serve it, except running as root; do not "
		"run untrusted input this way\n",
		ident, file, path);
	syslog(LOG_WARNING, "priv_init: learning: every request is served as root would serve "
			    "it (PRIVMAN_LEARN=%s)", file);
	return fd;
}

/* Descriptors 0, 1 and 2 are open (on /dev/null when they were closed), as
 * glibc makes them for a set-id program: otherwise the monitor's own
 * sockets would take those numbers, and every child keeps 0-2. */
static void stdio_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int got = open("/dev/null", O_RDWR | O_NOCTTY);
		if (got != fd)
			init_fail("cannot open /dev/null as descriptor %d: %s", fd,
				  got < 0 ? strerror(errno) : "another descriptor was given");
	}
}

/* What priv_init prepares before its fork, for both sides. */
struct split {
	char *path;
	struct policy *policy;
	int audit_fd;
	int learn_fd; /* PRIVMAN_LEARN's record, or -1 */
	struct confine_plan confine; /* prepared when the policy confines */
	int sv[2];
	sigset_t forwarded, old;
	struct sigaction old_chld;
};

/* Everything checked, and what is noted, before anything is opened. */
static void init_checks(const char *appname)
{
	if (!appname_ok(appname))
		init_fail("appname must be a non-empty file name without '/'");
	if (initialised)
		init_fail("called a second time; the process is already split");
	initialised = true;
	custom_freeze(); /* the monitor's copy of the table is the one made so far */
	stdio_open();
	proc_note_program_fds();
	snprintf(ident, sizeof(ident), "%s", appname);
	openlog(ident, LOG_PID, LOG_AUTHPRIV);

	if (geteuid() != 0)
		init_fail("must be called as root (effective uid is %u)", (unsigned)geteuid());
	int threads = thread_count();
	if (threads != 1)
		init_fail("must be called before any thread is started (%d threads)", threads);
}

/* The confine scope is prepared as root and before the fork: a path it
 * names that does not exist stops priv_init with nothing started. The
 * program enters it at the drop; the monitor never. */
static void confine_ready(struct split *sp)
{
	sp->confine = (struct confine_plan){ .ruleset_fd = -1 };
	if (!sp->policy->confine.present)
		return;
	struct diag d;
	diag_init(&d);
	int rc = confine_prepare(&sp->policy->confine, sp->policy->security.chroot.text, NULL,
				 confine_kernel_abi(), &sp->confine, &d);
	print_diag(&d);
	diag_free(&d);
	if (rc < 0)
		init_fail("the confine scope of %s cannot be applied; nothing was started",
			  sp->path);
}

/* The policy, the audit file, the namespace filter and the channel. */
static void split_prepare(struct split *sp, const char *appname)
{
	if (asprintf(&sp->path, "%s/%s", conf_dir(), appname) < 0)
		init_fail("out of memory");
	/* Never let the environment make a setuid program learn. */
	const char *learn_path = getauxval(AT_SECURE) ? NULL : getenv("PRIVMAN_LEARN");
	bool learning = learn_path && *learn_path;
	sp->policy = load_policy(sp->path, learning);
	confine_ready(sp);

	sp->audit_fd = -1;
	const char *audit_path = getauxval(AT_SECURE) ? NULL : getenv("PRIVMAN_AUDIT");
	if (audit_path && *audit_path) {
		sp->audit_fd = audit_open_file(audit_path);
		if (sp->audit_fd < 0)
			init_fail("PRIVMAN_AUDIT=%s: %s", audit_path, strerror(errno));
	}
	sp->learn_fd = learning ? learn_start(learn_path, sp->policy, sp->path) : -1;

	/* Made once, before the fork, for the program's drop and for every
	 * process the monitor starts later (a rerun's drop then only loads
	 * the namespace filter, already built). */
	if (drop_prepare() < 0)
		init_fail("the seccomp filter that refuses namespaces cannot be built: %s",
			  strerror(errno));
	/* What libseccomp used to build it is free again: give the pages back
	 * before the fork, so that the monitor does not keep them dirty. */
	malloc_trim(0);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp->sv) < 0)
		init_fail("socketpair: %s", strerror(errno));
}

static void block_signals(struct split *sp)
{
	/* Block the signals the monitor forwards before forking, so that none
	 * is lost between fork and signalfd; the program gets its mask back. */
	sigemptyset(&sp->forwarded);
	int signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaddset(&sp->forwarded, signals[i]);
	if (sigprocmask(SIG_BLOCK, &sp->forwarded, &sp->old) < 0)
		init_fail("sigprocmask: %s", strerror(errno));
	fflush(NULL); /* nothing buffered is written twice */

	/* The monitor learns of the program's end through SIGCHLD: an ignored
	 * SIGCHLD (or SA_NOCLDWAIT) would reap it unseen. Set before the fork,
	 * while no child can have signalled: setting SIG_DFL discards a pending
	 * SIGCHLD. The program gets its own disposition back. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &dfl, &sp->old_chld) < 0)
		init_fail("sigaction: %s", strerror(errno));
}

/* The child of the fork: drop to the security scope and be the program. */
static void program_side(struct split *sp)
{
	close(sp->sv[0]);
	if (sp->audit_fd >= 0)
		close(sp->audit_fd);
	if (sp->learn_fd >= 0)
		close(sp->learn_fd);
	sigaction(SIGCHLD, &sp->old_chld, NULL);
	sigprocmask(SIG_SETMASK, &sp->old, NULL);
	struct diag d;
	diag_init(&d);
	/* From here on the program may not make a namespace: with one it
	 * could show the monitor a file system of its own making. */
	unsigned flags = sp->policy->allow_namespaces.value ? 0 : DROP_NO_NAMESPACES;
	if (drop_apply_confined(&sp->policy->security, -1,
				sp->policy->confine.present ? &sp->confine : NULL, flags, &d) < 0) {
		print_diag(&d);
		init_fail("the security scope of %s cannot be applied", sp->path);
	}
	confine_plan_free(&sp->confine);
	print_diag(&d);
	diag_free(&d);
	policy_free(sp->policy);
	free(sp->path);
	client_attach(sp->sv[1]);
}

/* The parent of the fork: the monitor of `program`, ready to run. The
 * program's pid comes from fork, not from anything the program says
 * (SO_PEERCRED of a socketpair names its creator). */
static struct monitor *monitor_side(struct split *sp, pid_t program)
{
	close(sp->sv[1]);
	confine_plan_free(&sp->confine);
	signal(SIGPIPE, SIG_IGN);
	/* Timers the program set before priv_init belong to the program. */
	struct itimerval off;
	memset(&off, 0, sizeof(off));
	setitimer(ITIMER_REAL, &off, NULL);
	setitimer(ITIMER_VIRTUAL, &off, NULL);
	setitimer(ITIMER_PROF, &off, NULL);
	/* Tell the two apart in ps and top, as sshd's "[priv]" does. */
	char name[16];
	snprintf(name, sizeof(name), "%.9s[priv]", ident);
	prctl(PR_SET_NAME, name);
	/* Files made for the program carry the program's umask, read from
	 * /proc per request, and nothing of the monitor's. */
	umask(0);
	if (chdir("/") < 0)
		syslog(LOG_WARNING, "monitor: chdir /: %m");
	int sfd = signalfd(-1, &sp->forwarded, SFD_CLOEXEC | SFD_NONBLOCK);
	struct monitor *m = &the_monitor;
	if (sfd < 0 || monitor_init(m, ident, sp->policy, sp->path, sp->audit_fd, program,
				    sp->sv[0], sfd) < 0) {
		syslog(LOG_CRIT, "monitor: cannot start: %m; ending the program");
		kill_one(program, SIGKILL); /* our child; nothing reaped it yet */
		_exit(INIT_FAILED);
	}
	m->audit.learn_fd = sp->learn_fd;
	proc_set_program_entry(enter_program);
	pam_monitor_prepare(m);
	return m;
}

void priv_init(const char *appname)
{
	struct split sp;
	init_checks(appname);
	split_prepare(&sp, appname);
	block_signals(&sp);
	pid_t pid = fork();
	if (pid < 0)
		init_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		program_side(&sp);
		return;
	}
	struct monitor *m = monitor_side(&sp, pid);
	/* The monitor's stack is priv_init's: a process it starts for
	 * priv_rerunas comes back here (enter_program) and returns. */
	if (setjmp(return_to_program))
		return; /* a new program process, already dropped (proc_rerun.c) */
	monitor_run(m);
}
