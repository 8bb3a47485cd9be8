/* The namespace filter the drops load: the raw BPF made at build time
 * (src/scope/gen/) is exactly what libseccomp makes from the rules now
 * (scope/namespace_filter.c), and, loaded, it refuses every way to a new
 * namespace or a changed mount table, in each ABI an x86-64 process can
 * call. */
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "scope/drop_plan.h"
#include "scope/namespace_filter.h"
#include "testutil.h"

TestSuite(drop_filter, .timeout = 30);

Test(drop_filter, generated_bytes_are_libseccomps)
{
	const struct sock_fprog *built = drop_namespace_bpf();
	struct sock_fprog now;
	int rc = namespace_filter_export(&now);
	cr_assert_eq(rc, 0, "libseccomp: %s", strerror(-rc));
	cr_expect_eq(built->len, now.len, "the generated filter has %u instructions, "
		     "libseccomp makes %u", built->len, now.len);
	cr_expect(built->len == now.len &&
			  memcmp(built->filter, now.filter, now.len * sizeof(*now.filter)) == 0,
		  "the generated filter differs from libseccomp's: rebuild it");
	free(now.filter);
	cr_expect_eq(drop_plan_prepare(), 0, "made for this ABI: %s", strerror(errno));
}

/* --- the loaded filter, in a child ------------------------------------------- */

static int report = -1; /* the child's pipe: one line per failed check */
static pid_t cached_pid; /* the child's, to tell a process a clone made */

static void fail(const char *what, long got, int err, int want)
{
	dprintf(report, "%s: returned %ld (%s), expected %s\n", what, got,
		got < 0 ? strerror(err) : "success", strerror(want));
}

/* A call that must fail with `want`. */
static void expect_errno(const char *what, long got, int want)
{
	int err = errno;
	if (got != -1 || err != want)
		fail(what, got, err, want);
}

#define EXPECT(call, want) expect_errno(#call, (long)(call), want)

static const unsigned long ns_flags[] = {
	CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET, CLONE_NEWTIME,
};


/* A clone that succeeded: the new process leaves at once. */
static void clone_check(const char *what, long got, int want)
{
	if (got == 0 && getpid() != cached_pid)
		_exit(0);
	if (got > 0)
		waitpid((pid_t)got, NULL, 0);
	int err = errno;
	if (got != -1 || err != want)
		fail(what, got, err, want);
}

static void native_checks(void)
{
	char what[64];
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		snprintf(what, sizeof(what), "unshare(%#lx)", ns_flags[i]);
		expect_errno(what, unshare((int)ns_flags[i]), EPERM);
		snprintf(what, sizeof(what), "unshare(CLONE_FILES | %#lx)", ns_flags[i]);
		expect_errno(what, unshare(CLONE_FILES | (int)ns_flags[i]), EPERM);
		if (ns_flags[i] == CLONE_NEWTIME)
			continue;
		snprintf(what, sizeof(what), "clone(%#lx | SIGCHLD)", ns_flags[i]);
		clone_check(what, syscall(SYS_clone, ns_flags[i] | SIGCHLD, 0L, 0L, 0L, 0L), EPERM);
	}
	struct clone_args args = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
	clone_check("clone3(CLONE_NEWUSER)", syscall(SYS_clone3, &args, sizeof(args)), ENOSYS);
	args.flags = 0;
	clone_check("clone3(0)", syscall(SYS_clone3, &args, sizeof(args)), ENOSYS);
	/* The kernel would answer EBADF, ENOENT, EINVAL...: EPERM is the filter. */
	EXPECT(syscall(SYS_setns, -1, 0), EPERM);
	EXPECT(syscall(SYS_mount, "none", "/nonexistent", "tmpfs", 0L, NULL), EPERM);
	EXPECT(syscall(SYS_umount2, "/nonexistent", 0), EPERM);
	EXPECT(syscall(SYS_pivot_root, "/nonexistent", "/nonexistent"), EPERM);
	EXPECT(syscall(SYS_chroot, "/"), EPERM);
	EXPECT(syscall(SYS_open_tree, -1, "/nonexistent", 0), EPERM);
	EXPECT(syscall(SYS_move_mount, -1, "", -1, "", 0), EPERM);
	EXPECT(syscall(SYS_fsopen, "tmpfs", 0), EPERM);
	EXPECT(syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0), EPERM);
	EXPECT(syscall(SYS_fsmount, -1, 0, 0), EPERM);
	EXPECT(syscall(SYS_fspick, -1, "/nonexistent", 0), EPERM);
	EXPECT(syscall(SYS_mount_setattr, -1, "/nonexistent", 0, NULL, 0), EPERM);
	/* Not a filter that refuses everything. */
	if (unshare(CLONE_FILES) != 0)
		dprintf(report, "unshare(CLONE_FILES) refused: %s\n", strerror(errno));
}

#ifdef __x86_64__
#define X32(nr) (0x40000000L | (nr))

static void x32_checks(void)
{
	/* The x32 numbers of unshare, setns, chroot, pivot_root, mount. The
	 * filter answers before the kernel could say ENOSYS (x32 disabled). */
	EXPECT(syscall(X32(272), CLONE_NEWUSER), EPERM);
	EXPECT(syscall(X32(308), -1, 0), EPERM);
	EXPECT(syscall(X32(161), "/"), EPERM);
	EXPECT(syscall(X32(155), "/nonexistent", "/nonexistent"), EPERM);
	EXPECT(syscall(X32(165), "none", "/nonexistent", "tmpfs", 0L, NULL), EPERM);
	clone_check("x32 clone(CLONE_NEWUSER)", syscall(X32(56), CLONE_NEWUSER | SIGCHLD, 0L,
							0L, 0L, 0L), EPERM);
	clone_check("x32 clone3", syscall(X32(435), NULL, 0), ENOSYS);
}

/* An i386 system call from this process: what a 32-bit program makes. */
static long int80(long nr, long a, long b)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

static void int80_expect(const char *what, long got, int want)
{
	if (got == 0 && getpid() != cached_pid)
		_exit(0);
	if (got != -want)
		dprintf(report, "i386 %s: returned %ld, expected -%d\n", what, got, want);
}

/* With no pointer the kernel would say EFAULT: EPERM is the filter. */
static void i386_checks(void)
{
	int80_expect("unshare(CLONE_NEWUSER)", int80(310, CLONE_NEWUSER, 0), EPERM);
	int80_expect("unshare(CLONE_NEWNS)", int80(310, CLONE_NEWNS, 0), EPERM);
	int80_expect("setns", int80(346, -1, 0), EPERM);
	int80_expect("chroot", int80(61, 0, 0), EPERM);
	int80_expect("mount", int80(21, 0, 0), EPERM);
	int80_expect("umount", int80(22, 0, 0), EPERM);
	int80_expect("pivot_root", int80(217, 0, 0), EPERM);
	int80_expect("clone(CLONE_NEWUSER)", int80(120, CLONE_NEWUSER | SIGCHLD, 0), EPERM);
	int80_expect("clone3", int80(435, 0, 0), ENOSYS);
	int80_expect("fsopen", int80(430, 0, 0), EPERM);
}

/* Whether this kernel runs i386 calls at all (IA32 emulation). */
static bool i386_available(void)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(int80(20, 0, 0) == getpid() ? 0 : 1); /* getpid */
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
#endif

Test(drop_filter, loaded_refuses_namespaces_and_mounts)
{
	PMTEST_SKIP_UNLESS_ROOT(); /* as root, every refused call would succeed */
	bool i386 = false;
#ifdef __x86_64__
	i386 = i386_available();
	if (!i386)
		cr_log_info("this kernel runs no i386 system calls: not checked");
#endif
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		report = p[1];
		cached_pid = getpid();
		if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, drop_namespace_bpf()) != 0) {
			dprintf(report, "cannot load the filter: %s\n", strerror(errno));
			_exit(1);
		}
		native_checks();
#ifdef __x86_64__
		x32_checks();
		if (i386)
			i386_checks();
#endif
		_exit(0);
	}
	close(p[1]);
	char out[8192];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(out) - 1 && (n = read(p[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child ended with status %#x", st);
	cr_expect_str_eq(out, "", "not refused:\n%s", out);
}
