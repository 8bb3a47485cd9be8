/* The broker's seccomp filter, loaded by the command's process before it
 * drops (broker_int.h). libseccomp builds it; it is loaded here with the
 * flags libseccomp 2.5 cannot set. */
#include "monitor/broker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* An io_uring performs opens and binds that no filter sees. */
static const int refused[] = {
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
};

/* open and openat with an access mode the policy can grant. An O_PATH
 * handle is never brokered (object.h refuses the flag): not sent either. */
static int add_opens(scmp_filter_ctx ctx, unsigned ops)
{
	static const struct {
		unsigned op;
		int mode;
	} modes[] = {
		{BROKER_OPEN_READ, O_RDONLY},
		{BROKER_OPEN_WRITE, O_WRONLY},
		{BROKER_OPEN_RDWR, O_RDWR},
	};
	const uint32_t notify = SCMP_ACT_NOTIFY;
	const scmp_datum_t mask = O_ACCMODE | O_PATH;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!(ops & modes[i].op))
			continue;
		scmp_datum_t mode = (scmp_datum_t)modes[i].mode;
		rc = seccomp_rule_add(ctx, notify, SCMP_SYS(open), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, mask, mode));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, notify, SCMP_SYS(openat), 1,
					      SCMP_A2(SCMP_CMP_MASKED_EQ, mask, mode));
	}
	/* creat truncates: open_rw alone grants it. openat2's flags are in
	 * memory: every one is sent. */
	if (rc == 0 && (ops & BROKER_OPEN_RDWR))
		rc = seccomp_rule_add(ctx, notify, SCMP_SYS(creat), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, notify, SCMP_SYS(openat2), 0);
	return rc;
}

/* The calls served by the broker: each one either gets what the policy
 * grants from the monitor, or goes on in the kernel as if nothing had
 * looked at it. A call the policy cannot grant is not sent at all. */
static int add_rules(scmp_filter_ctx ctx, unsigned ops)
{
	const uint32_t notify = SCMP_ACT_NOTIFY;
	int rc = 0;
	if (ops & BROKER_OPEN)
		rc = add_opens(ctx, ops);
	if (rc == 0 && (ops & BROKER_UNLINK)) {
		rc = seccomp_rule_add(ctx, notify, SCMP_SYS(unlink), 0);
		/* Nor is rmdir. */
		if (rc == 0)
			rc = seccomp_rule_add(ctx, notify, SCMP_SYS(unlinkat), 1,
					      SCMP_A2(SCMP_CMP_MASKED_EQ, AT_REMOVEDIR, 0));
	}
	if (rc == 0 && (ops & BROKER_BIND))
		rc = seccomp_rule_add(ctx, notify, SCMP_SYS(bind), 0);
	for (size_t i = 0; rc == 0 && i < sizeof(refused) / sizeof(refused[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), refused[i], 0);
	return rc;
}

/* The filter as BPF: only the native ABI (an i386 call by int 0x80 on
 * x86-64 names other system calls, unread by these rules: the process is
 * killed). */
static int build(unsigned ops, struct sock_filter **out, size_t *count)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc == 0)
		rc = add_rules(ctx, ops);
	int mem = rc == 0 ? memfd_create("privman-filter", MFD_CLOEXEC) : -1;
	if (rc == 0 && mem < 0)
		rc = -errno;
	if (rc == 0)
		rc = seccomp_export_bpf(ctx, mem);
	seccomp_release(ctx);
	off_t size = rc == 0 ? lseek(mem, 0, SEEK_END) : -1;
	if (rc == 0 && (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
			size > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter))))
		rc = -EINVAL;
	struct sock_filter *prog = rc == 0 ? malloc((size_t)size) : NULL;
	if (rc == 0 && !prog)
		rc = -ENOMEM;
	if (rc == 0 && pread(mem, prog, (size_t)size, 0) != size)
		rc = -EIO;
	if (mem >= 0)
		close(mem);
	if (rc < 0) {
		free(prog);
		return rc;
	}
	*out = prog;
	*count = (size_t)size / sizeof(struct sock_filter);
	return 0;
}

int broker_filter_install(unsigned ops)
{
	struct sock_filter *insns;
	size_t count;
	int rc = build(ops, &insns, &count);
	if (rc < 0)
		return rc;
	struct sock_fprog prog = {.len = (unsigned short)count, .filter = insns};
	/* Once the monitor has received a notification, only a fatal signal
	 * interrupts the call: a signal handled in between would otherwise
	 * restart, say, an O_CREAT | O_EXCL open that the monitor has already
	 * performed, and the program would see EEXIST for its own file. */
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER |
			      SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (fd < 0 && errno == EACCES) {
		/* Not root (no CAP_SYS_ADMIN): the kernel wants no_new_privs. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
			fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	}
	int err = errno;
	free(insns);
	return fd < 0 ? -err : (int)fd;
}
