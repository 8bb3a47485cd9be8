/* The namespace filter's rules (namespace_filter.h). Linked into the
 * library for the tests, and into the generator that makes the BPF the
 * library loads: nothing here runs in a drop. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scope/namespace_filter.h"

/* Every flag of clone(2) and unshare(2) that makes a namespace. */
static const unsigned long namespace_flags[] = {
	CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET, CLONE_NEWTIME,
};

/* System calls that enter a namespace, or change a mount table or a root:
 * refused whatever their arguments. */
static const int mount_calls[] = {
	SCMP_SYS(setns),   SCMP_SYS(mount),      SCMP_SYS(umount2),  SCMP_SYS(pivot_root),
	SCMP_SYS(chroot),  SCMP_SYS(open_tree),  SCMP_SYS(move_mount), SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig), SCMP_SYS(fsmount),  SCMP_SYS(fspick),   SCMP_SYS(mount_setattr),
	SCMP_SYS(umount), /* i386 only */
};

/* A seccomp filter that makes EPERM of every way to a new namespace or a
 * changed mount table: with a user namespace of its own a program can
 * rearrange its view of the file system (bind a secret file over one it is
 * granted), and nothing of that may ever reach the monitor. clone3 passes
 * its flags in memory a filter cannot read: it fails with ENOSYS, and libc
 * falls back to clone, whose flags the filter sees. Everything else is
 * allowed; the filter is inherited by every child and kept across execve. */
scmp_filter_ctx namespace_filter_build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return NULL;
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;
	/* An x86-64 process may also make the system calls of the i386 and x32
	 * ABIs: the same rules apply to them (libseccomp numbers each). A call
	 * of any other ABI ends the process, whose arguments the rules could
	 * not read. */
	if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
		rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
		if (rc == 0 || rc == -EEXIST)
			rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree of the syscall numbers rather than a list: the kernel
	 * runs the filter for every number when it loads it (its cache of
	 * allowed calls), on every new process the monitor starts. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; rc == 0 && i < sizeof(mount_calls) / sizeof(mount_calls[0]); i++)
		rc = seccomp_rule_add(ctx, eperm, mount_calls[i], 0);
	for (size_t i = 0; rc == 0 && i < sizeof(namespace_flags) / sizeof(namespace_flags[0]);
	     i++) {
		unsigned long f = namespace_flags[i];
		rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(unshare), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		/* clone's low byte is the exit signal, not CLONE_NEWTIME. */
		if (rc == 0 && f != CLONE_NEWTIME)
			rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
	}
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc != 0) {
		seccomp_release(ctx);
		errno = -rc;
		return NULL;
	}
	return ctx;
}

int namespace_filter_export(struct sock_fprog *out)
{
	out->len = 0;
	out->filter = NULL;
	scmp_filter_ctx ctx = namespace_filter_build();
	if (!ctx)
		return -errno;
	int rc = 0;
	int fd = memfd_create("privman-filter", MFD_CLOEXEC);
	off_t size = -1;
	void *bpf = NULL;
	if (fd < 0 || (rc = seccomp_export_bpf(ctx, fd)) != 0 ||
	    (size = lseek(fd, 0, SEEK_CUR)) <= 0 || size % sizeof(struct sock_filter) ||
	    size / sizeof(struct sock_filter) > BPF_MAXINSNS || !(bpf = malloc((size_t)size)) ||
	    pread(fd, bpf, (size_t)size, 0) != size)
		rc = rc ? rc : errno ? -errno : -EIO;
	seccomp_release(ctx);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		free(bpf);
		return rc;
	}
	out->len = (unsigned short)(size / sizeof(struct sock_filter));
	out->filter = bpf;
	return 0;
}
