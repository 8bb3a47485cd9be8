/* The seccomp part of the confine scope: what Landlock does not see.
 * Loaded alongside the namespace filter of drop.c (filters stack: the
 * strictest answer wins), never instead of it. */
#include <errno.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "scope/confine.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOCK_DCCP
#define SOCK_DCCP 6
#endif

/* System calls refused with EPERM whatever their arguments, by purpose.
 * Names, so that a call this libseccomp or architecture does not know is
 * skipped rather than a failure (the spellings of other architectures
 * among them). */
struct call_group {
	const char *why;
	const char *const calls[16];
};

static const struct call_group refused[] = {
	{ "io_uring (its requests bypass the system calls filtered here)",
	  { "io_uring_setup", "io_uring_enter", "io_uring_register", NULL } },
	{ "tracing and reading other processes",
	  { "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", NULL } },
	{ "kernel modules and kexec",
	  { "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	    NULL } },
	{ "mounts",
	  { "mount", "umount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen",
	    "fsconfig", "fsmount", "fspick", "mount_setattr", NULL } },
	{ "keyrings", { "add_key", "request_key", "keyctl", NULL } },
	{ "clocks",
	  { "settimeofday", "clock_settime", "clock_settime64", "clock_adjtime",
	    "clock_adjtime64", "adjtimex", "stime", NULL } },
	{ "other kernel interfaces no server needs",
	  { "bpf", "perf_event_open", "userfaultfd", "swapon", "swapoff", "reboot", "acct",
	    "quotactl", "syslog", "iopl", "ioperm", "open_by_handle_at", "uselib", "vhangup",
	    NULL } },
};

/* Stream and message protocols of IPv4 and IPv6 that are not TCP: Landlock's
 * bind and connect rules see only TCP, so these would bypass them. */
static const int refused_protocols[] = { IPPROTO_SCTP, IPPROTO_MPTCP, IPPROTO_DCCP };
static const int refused_types[] = { SOCK_SEQPACKET, SOCK_DCCP }; /* SCTP, DCCP by type */
static const int inet_families[] = { AF_INET, AF_INET6 };

/* The address families a confined program may open: UNIX, IPv4, IPv6 (whose
 * TCP ports Landlock rules) and netlink (getaddrinfo asks the kernel which
 * addresses are configured). Every other family fails with EAFNOSUPPORT,
 * as systemd's RestrictAddressFamilies= makes it: some reach TCP ports from
 * inside the kernel, where no Landlock hook sees them (AF_SMC connects a
 * TCP socket of its own), most only widen what the kernel exposes. Families
 * are small numbers: below AF_NETLINK + 1 each one refused is named; from
 * there on one comparison refuses them all, and any value with bits set
 * above the 32 the kernel reads. */
static int add_families(scmp_filter_ctx ctx)
{
	const uint32_t eafnosupport = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	int rc = 0;
	for (int family = 0; rc == 0 && family < AF_NETLINK; family++) {
		if (family == AF_UNIX || family == AF_INET || family == AF_INET6)
			continue;
		rc = seccomp_rule_add(ctx, eafnosupport, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family));
	}
	if (rc == 0)
		rc = seccomp_rule_add(ctx, eafnosupport, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)AF_NETLINK));
	/* A pair is of UNIX sockets only. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, eafnosupport, SCMP_SYS(socketpair), 1,
				      SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)AF_UNIX));
	return rc;
}

static int add_calls(scmp_filter_ctx ctx)
{
	for (size_t g = 0; g < sizeof(refused) / sizeof(refused[0]); g++) {
		for (size_t i = 0; refused[g].calls[i]; i++) {
			int nr = seccomp_syscall_resolve_name(refused[g].calls[i]);
			if (nr == __NR_SCMP_ERROR)
				continue;
			int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
			/* A name with no number on one of the filter's
			 * architectures is refused there by nothing: fine. */
			if (rc != 0 && rc != -EDOM && rc != -EINVAL)
				return rc;
		}
	}
	return 0;
}

/* The kernel reads socket(2)'s arguments as ints: compare the low 32 bits
 * only, so that garbage in the high half changes nothing. */
static int add_sockets(scmp_filter_ctx ctx)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(refused_protocols) / sizeof(int); i++)
		rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					      (scmp_datum_t)refused_protocols[i]));
	for (size_t f = 0; rc == 0 && f < sizeof(inet_families) / sizeof(int); f++)
		for (size_t t = 0; rc == 0 && t < sizeof(refused_types) / sizeof(int); t++)
			/* The type's low bits; SOCK_CLOEXEC and SOCK_NONBLOCK
			 * are above them. */
			rc = seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 2,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						      (scmp_datum_t)inet_families[f]),
					      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf,
						      (scmp_datum_t)refused_types[t]));
	return rc;
}

/* TCP Fast Open by sendto(2), sendmsg(2) or sendmmsg(2) with MSG_FASTOPEN
 * connects without connect(2), and so without Landlock's check.
 * EOPNOTSUPP is what a kernel with Fast Open off answers: a program then
 * falls back to connect(2), which is checked (as is TCP_FASTOPEN_CONNECT,
 * which goes through it). The flags are an int: one bit is compared. */
static int add_fastopen(scmp_filter_ctx ctx)
{
	const uint32_t eopnotsupp = SCMP_ACT_ERRNO(EOPNOTSUPP);
	const scmp_datum_t fastopen = MSG_FASTOPEN;
	int rc = seccomp_rule_add(ctx, eopnotsupp, SCMP_SYS(sendto), 1,
				  SCMP_A3(SCMP_CMP_MASKED_EQ, fastopen, fastopen));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, eopnotsupp, SCMP_SYS(sendmsg), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, fastopen, fastopen));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, eopnotsupp, SCMP_SYS(sendmmsg), 1,
				      SCMP_A3(SCMP_CMP_MASKED_EQ, fastopen, fastopen));
	return rc;
}

scmp_filter_ctx confine_filter_build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return NULL;
	/* Only this architecture's system calls: an x86-64 process may also
	 * make those of i386 (int 0x80) and x32, which a confined program
	 * has no business with (systemd's SystemCallArchitectures=native).
	 * They end it; so do socketcall(2)'s, whose arguments sit in memory
	 * no filter reads. One architecture also keeps the filter short: it
	 * is compiled on every priv_init. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree of system call numbers rather than a list: shorter
	 * for the kernel to check each call against, and to load. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	/* Each refusal goes to the kernel's audit log (where audit is on and
	 * kernel.seccomp.actions_logged has errno): a confined program that
	 * tries is seen. */
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (rc == 0)
		rc = add_calls(ctx);
	if (rc == 0)
		rc = add_sockets(ctx);
	if (rc == 0)
		rc = add_families(ctx);
	if (rc == 0)
		rc = add_fastopen(ctx);
	if (rc != 0) {
		seccomp_release(ctx);
		errno = -rc;
		return NULL;
	}
	return ctx;
}

void confine_filter_describe(FILE *out, const char *indent)
{
	for (size_t g = 0; g < sizeof(refused) / sizeof(refused[0]); g++) {
		fprintf(out, "%s%s:", indent, refused[g].why);
		for (size_t i = 0; refused[g].calls[i]; i++)
			fprintf(out, " %s", refused[g].calls[i]);
		fputs("\n", out);
	}
	fprintf(out,
		"%sIPv4 and IPv6 sockets that are not TCP but connect (SCTP, MPTCP, DCCP: "
		"Landlock's port rules see only TCP): socket fails\n",
		indent);
	fprintf(out,
		"%ssendto, sendmsg and sendmmsg with MSG_FASTOPEN (a TCP connect that "
		"Landlock does not see): they fail with EOPNOTSUPP, and a program falls "
		"back to connect\n",
		indent);
	fprintf(out,
		"%ssockets of a family other than UNIX, IPv4, IPv6 and netlink (AF_SMC, "
		"AF_VSOCK, AF_PACKET...): socket fails with EAFNOSUPPORT\n",
		indent);
	fprintf(out,
		"%sthe system calls of another architecture (i386 and x32 on x86-64): the "
		"process is killed\n",
		indent);
}
