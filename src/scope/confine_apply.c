/* The confine scope applied with Landlock, plus the seccomp filter of
 * confine_filter.c.
 *
 * Everything is prepared as root before the drop changes anything: every
 * path opened (in the program's view: inside the chroot, resolved there),
 * the ruleset filled, the filter built. A mistake is then an error with its
 * place in the policy and nothing has changed. The drop enters the
 * ruleset after the chroot, while the process still holds CAP_SYS_ADMIN
 * (so no no_new_privs is needed: a program started by priv_init may still
 * run a setuid helper), or with no_new_privs when it never held it.
 *
 * Rights. read: read files, list directories. write: read, and write,
 * truncate, ioctl on devices, create (no device node), remove, rename and
 * link. exec: execute and read. A right that applies only to directories
 * is never given to a file (the kernel would refuse the rule). Handled:
 * every right this kernel knows, so that what is not granted is refused.
 * Landlock decides when a file is opened: descriptors opened before, and
 * those the monitor sends (priv_open), are not affected. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <unistd.h>
#include <linux/landlock.h>
#include <linux/openat2.h>

#include "scope/confine.h"

/* The uapi header of the build system may be older than the kernel: the
 * kernel's own values (include/uapi/linux/landlock.h). */
#ifndef LANDLOCK_CREATE_RULESET_ERRATA
#define LANDLOCK_CREATE_RULESET_ERRATA (1U << 1) /* Linux 6.15 */
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define CONFINE_RULE_NET_PORT 2                     /* LANDLOCK_RULE_NET_PORT, ABI 4 */
#define CONFINE_NET_BIND_TCP (1ULL << 0)            /* LANDLOCK_ACCESS_NET_BIND_TCP */
#define CONFINE_NET_CONNECT_TCP (1ULL << 1)         /* LANDLOCK_ACCESS_NET_CONNECT_TCP */
#define CONFINE_SCOPE_ABSTRACT_UNIX (1ULL << 0)     /* LANDLOCK_SCOPE_..., ABI 6 */
#define CONFINE_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels are given the
 * prefix they know. */
struct confine_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

struct confine_net_port_attr { /* struct landlock_net_port_attr */
	uint64_t allowed_access;
	uint64_t port;
};

#define FS_ABI1                                                                             \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                     \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |                     \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |                 \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |                     \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |                     \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |                   \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)
/* The rights a rule on a file (not a directory) may carry. */
#define FS_FILE                                                                             \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                     \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                     \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_EXEC (FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define FS_WRITE                                                                            \
	(FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |          \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV | LANDLOCK_ACCESS_FS_REMOVE_DIR |                   \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |                   \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |                     \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM |                     \
	 LANDLOCK_ACCESS_FS_REFER)

/* --- the kernel ------------------------------------------------------------ */

int confine_kernel_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, (size_t)0,
			   LANDLOCK_CREATE_RULESET_VERSION);
	return abi > 0 ? (int)abi : 0; /* ENOSYS: not built; EOPNOTSUPP: disabled */
}

/* Every filesystem right the ABI knows: all of them are handled. */
static uint64_t fs_handled(int abi)
{
	uint64_t fs = FS_ABI1;
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return abi >= 1 ? fs : 0;
}

/* What each ABI added, the first Linux that has it, and whether this
 * scope needs it. Without ABI 2 renames and links across directories are
 * always refused: stricter, not missing. */
struct feature {
	int abi;
	const char *linux_version;
	const char *what;
};

static const struct feature features[] = {
	{ 1, "5.13", "files: read, write, execute, create and remove only beneath the paths named" },
	{ 2, "5.19", "rename and link across directories beneath write (before: always refused)" },
	{ 3, "6.2", "truncate(2) only beneath write" },
	{ 4, "6.7", "TCP bind and connect only to the ports named" },
	{ 5, "6.10", "ioctl(2) on devices only beneath write" },
	{ 6, "6.12", "no signal and no abstract UNIX socket outside the program's own processes" },
	{ 7, "6.15", "refusals logged by the kernel's audit (where audit is on)" },
};

static bool feature_needed(const struct feature *f, const struct policy_confine *c)
{
	if (f->abi == 2 || f->abi == 7)
		return false;
	if (f->abi == 4)
		return !confine_ports_any(c, CONFINE_BIND) || !confine_ports_any(c, CONFINE_CONNECT);
	return true;
}

/* --- the effective list ----------------------------------------------------- */

/* One filesystem rule: the minimum, or an entry of the policy. */
struct entry {
	const char *path;
	enum confine_list list;
	const char *why;             /* the minimum's reason; NULL: the policy's */
	const struct origin *origin; /* the policy's entry */
};

#define CONFINE_COMMANDS_MAX 16

struct entries {
	struct entry *items;
	size_t count;
	char loader[PATH_MAX];
	/* The loader's directory as named (/lib64), its real directory
	 * (/usr/lib/x86_64-linux-gnu) and that name under /lib: a jail may
	 * hold the libraries at any of them. */
	char libdirs[3][PATH_MAX];
	char *commands[CONFINE_COMMANDS_MAX]; /* what execvp may run for the command */
	size_t command_count;
};

/* The minimum any dynamically linked program needs, beside the loader and
 * its library directory (found at run time). Absent ones are skipped. */
static const struct entry minimum[] = {
	{ "/etc/ld.so.cache", CONFINE_READ, "the loader's cache of library paths", NULL },
	{ "/etc/ld.so.preload", CONFINE_READ, "libraries the loader adds to every program", NULL },
	{ "/usr/lib/locale", CONFINE_READ, "locales (setlocale)", NULL },
	{ "/usr/share/locale", CONFINE_READ, "message catalogs and locale.alias", NULL },
	{ "/etc/localtime", CONFINE_READ, "the time zone", NULL },
	{ "/usr/share/zoneinfo", CONFINE_READ, "time zones (TZ, localtime)", NULL },
	{ "/dev/null", CONFINE_WRITE, "/dev/null", NULL },
	{ "/dev/zero", CONFINE_READ, "/dev/zero", NULL },
	{ "/dev/urandom", CONFINE_READ, "randomness (before getrandom(2) was used)", NULL },
};

/* The loader that starts this very program (PT_INTERP), e.g.
 * /lib64/ld-linux-x86-64.so.2: the system's, which starts every dynamically
 * linked program of this architecture. */
static int find_loader(struct dl_phdr_info *info, size_t size, void *data)
{
	char *out = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_INTERP)
			continue;
		snprintf(out, PATH_MAX, "%s",
			 (const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr));
		return 1;
	}
	return 1; /* the first object is the program itself: stop there */
}

static void find_libdirs(struct entries *e)
{
	char copy[PATH_MAX], real[PATH_MAX];
	e->loader[0] = '\0';
	for (int i = 0; i < 3; i++)
		e->libdirs[i][0] = '\0';
	dl_iterate_phdr(find_loader, e->loader);
	if (!e->loader[0])
		return;
	snprintf(copy, sizeof(copy), "%s", e->loader);
	snprintf(e->libdirs[0], PATH_MAX, "%s", dirname(copy));
	if (!realpath(e->loader, real))
		return;
	const char *dir = dirname(real);
	if (strcmp(dir, e->libdirs[0]) != 0)
		snprintf(e->libdirs[1], PATH_MAX, "%s", dir);
	if (strncmp(dir, "/usr/lib/", 9) == 0)
		snprintf(e->libdirs[2], PATH_MAX, "/lib/%.*s", PATH_MAX - 6, dir + 9);
}

/* Every file execvp(3) may run for `command` (PATH searched when it has no
 * '/'), in the program's view, into e->commands. Every one: which is run
 * depends on the directories the new user may search, known only after
 * the drop. */
static void find_commands(struct entries *e, const char *command, int root);

static void entries_free(struct entries *e)
{
	for (size_t i = 0; i < e->command_count; i++)
		free(e->commands[i]);
	free(e->items);
}

static int entries_push(struct entries *e, const struct entry *item)
{
	struct entry *grown = realloc(e->items, (e->count + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	e->items = grown;
	e->items[e->count++] = *item;
	return 0;
}

static int entries_build(struct entries *e, const struct policy_confine *c, const char *command,
			 int root)
{
	memset(e, 0, sizeof(*e));
	find_libdirs(e);
	int rc = 0;
	for (int i = 0; i < 3; i++)
		if (e->libdirs[i][0])
			rc |= entries_push(e, &(struct entry){ e->libdirs[i], CONFINE_READ,
							       "the loader and the system's "
							       "libraries (libc, gconv)", NULL });
	if (e->loader[0])
		rc |= entries_push(e, &(struct entry){ e->loader, CONFINE_EXEC,
						       "the loader, which the kernel runs for every "
						       "dynamically linked program", NULL });
	for (size_t i = 0; i < sizeof(minimum) / sizeof(minimum[0]); i++)
		rc |= entries_push(e, &minimum[i]);
	if (command)
		find_commands(e, command, root);
	for (size_t i = 0; i < e->command_count; i++)
		rc |= entries_push(e, &(struct entry){ e->commands[i], CONFINE_EXEC,
						       "the command privman run executes", NULL });
	for (int list = CONFINE_READ; list <= CONFINE_EXEC; list++)
		for (size_t i = 0; i < c->lists[list].count; i++)
			rc |= entries_push(e, &(struct entry){ c->lists[list].items[i].text,
							       (enum confine_list)list, NULL,
							       &c->lists[list].items[i].origin });
	return rc;
}

/* --- paths in the program's view ----------------------------------------- */

/* Open `path` as the program will see it: inside the chroot `root`
 * (symlinks resolved there) or, with -1, from the real root. */
static int open_in_view(int root, const char *path, int flags)
{
	if (root < 0)
		return open(path, flags | O_CLOEXEC);
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd;
	do
		fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

static void add_command(struct entries *e, const char *path)
{
	if (e->command_count < CONFINE_COMMANDS_MAX &&
	    (e->commands[e->command_count] = strdup(path)))
		e->command_count++;
}

static void find_commands(struct entries *e, const char *command, int root)
{
	if (strchr(command, '/')) {
		add_command(e, command);
		return;
	}
	const char *path = getenv("PATH");
	for (const char *dir = path ? path : "/bin:/usr/bin";;) {
		const char *end = strchrnul(dir, ':');
		char candidate[PATH_MAX];
		int n = snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)(end - dir),
				 end == dir ? "." : dir, command);
		struct stat st;
		int fd = n > 0 && (size_t)n < sizeof(candidate) ? open_in_view(root, candidate, O_PATH)
								  : -1;
		bool found = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			     (st.st_mode & 0111);
		if (fd >= 0)
			close(fd);
		if (found)
			add_command(e, candidate);
		if (*end == '\0')
			return;
		dir = end + 1;
	}
}

/* --- the ruleset ------------------------------------------------------------ */

static uint64_t list_rights(enum confine_list list)
{
	return list == CONFINE_WRITE ? FS_WRITE : list == CONFINE_EXEC ? FS_EXEC : FS_READ;
}

static int add_path_rule(int ruleset, int root, const struct entry *item, uint64_t handled,
			 const struct stat *root_st, bool *root_granted, struct diag *d)
{
	int fd = open_in_view(root, item->path, O_PATH);
	if (fd < 0) {
		if (item->why && errno == ENOENT)
			return 0; /* a minimum this system does not have */
		diag_error(d, item->origin, "confine { %s } \"%s\": %s%s",
			   confine_list_name(item->list), item->path, strerror(errno),
			   root >= 0 ? " (in the chroot)" : "");
		return -1;
	}
	struct stat st;
	int rc = fstat(fd, &st);
	uint64_t rights = list_rights(item->list) & handled;
	if (rc == 0 && !S_ISDIR(st.st_mode))
		rights &= FS_FILE;
	/* By inode: a symbolic link to "/" grants it as well. */
	if (rc == 0 && st.st_dev == root_st->st_dev && st.st_ino == root_st->st_ino &&
	    (rights & LANDLOCK_ACCESS_FS_READ_DIR))
		*root_granted = true;
	struct landlock_path_beneath_attr rule = { .allowed_access = rights, .parent_fd = fd };
	if (rc == 0)
		rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule,
				  0);
	if (rc != 0)
		diag_error(d, item->origin, "confine { %s } \"%s\": cannot add the rule: %s",
			   confine_list_name(item->list), item->path, strerror(errno));
	close(fd);
	return rc == 0 ? 0 : -1;
}

static int add_port_rules(int ruleset, const struct policy_confine *c, enum confine_list list,
			  uint64_t right, struct diag *d)
{
	for (size_t i = 0; i < c->lists[list].count; i++) {
		const struct confine_item *item = &c->lists[list].items[i];
		struct confine_net_port_attr rule = { .allowed_access = right, .port = item->port };
		if (syscall(SYS_landlock_add_rule, ruleset, CONFINE_RULE_NET_PORT, &rule, 0) != 0) {
			diag_error(d, &item->origin, "confine { %s } %s: cannot add the rule: %s",
				   confine_list_name(list), item->text, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int ruleset_create(int abi, const struct policy_confine *c, struct diag *d)
{
	struct confine_ruleset_attr attr = { .handled_access_fs = fs_handled(abi) };
	size_t size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		if (!confine_ports_any(c, CONFINE_BIND))
			attr.handled_access_net |= CONFINE_NET_BIND_TCP;
		if (!confine_ports_any(c, CONFINE_CONNECT))
			attr.handled_access_net |= CONFINE_NET_CONNECT_TCP;
		size = offsetof(struct confine_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = CONFINE_SCOPE_ABSTRACT_UNIX | CONFINE_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0U);
	if (fd < 0)
		diag_error(d, &c->origin, "confine: cannot create a Landlock ruleset (ABI %d): %s",
			   abi, strerror(errno));
	return fd;
}

static int ruleset_fill(struct confine_plan *plan, const struct policy_confine *c,
			const struct entries *e, int root, struct diag *d)
{
	int rc = 0;
	uint64_t handled = fs_handled(plan->abi);
	struct stat root_st;
	if ((root >= 0 ? fstat(root, &root_st) : stat("/", &root_st)) != 0) {
		diag_error(d, &c->origin, "confine: cannot stat the root: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < e->count; i++)
		if (add_path_rule(plan->ruleset_fd, root, &e->items[i], handled, &root_st,
				  &plan->root_granted, d) < 0)
			rc = -1;
	if (plan->abi >= 4 && !confine_ports_any(c, CONFINE_BIND) &&
	    add_port_rules(plan->ruleset_fd, c, CONFINE_BIND, CONFINE_NET_BIND_TCP, d) < 0)
		rc = -1;
	if (plan->abi >= 4 && !confine_ports_any(c, CONFINE_CONNECT) &&
	    add_port_rules(plan->ruleset_fd, c, CONFINE_CONNECT, CONFINE_NET_CONNECT_TCP, d) < 0)
		rc = -1;
	return rc;
}

/* --- what the kernel cannot do ------------------------------------------- */

/* Each part this scope needs and the kernel lacks: an error with `strict`,
 * else a warning and a line in syslog. Returns how many are missing. */
static int report_missing(const struct policy_confine *c, int abi, struct diag *d)
{
	int missing = 0;
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct feature *f = &features[i];
		if (f->abi <= abi || !feature_needed(f, c))
			continue;
		missing++;
		const struct origin *at = c->strict ? &c->strict_origin : &c->origin;
		if (c->strict) {
			diag_error(d, at,
				   "confine: strict, and this kernel (Landlock ABI %d) cannot "
				   "enforce: %s (Landlock ABI %d, Linux %s); the program does "
				   "not start",
				   abi, f->what, f->abi, f->linux_version);
		} else {
			diag_warn(d, at,
				  "confine: this kernel (Landlock ABI %d) does not enforce: %s "
				  "(Landlock ABI %d, Linux %s); the rest is enforced",
				  abi, f->what, f->abi, f->linux_version);
			syslog(LOG_AUTHPRIV | LOG_WARNING,
			       "confine: Landlock ABI %d does not enforce: %s (ABI %d, Linux %s)",
			       abi, f->what, f->abi, f->linux_version);
		}
	}
	return missing;
}

/* --- prepare, enforce ------------------------------------------------------ */

void confine_plan_free(struct confine_plan *plan)
{
	if (plan->ruleset_fd >= 0)
		close(plan->ruleset_fd);
	plan->ruleset_fd = -1;
	if (plan->filter)
		seccomp_release(plan->filter);
	plan->filter = NULL;
}

static int open_root(const char *chroot, const struct policy_confine *c, struct diag *d)
{
	if (!chroot || strcmp(chroot, "/") == 0)
		return -1;
	int fd = open(chroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		diag_error(d, &c->origin, "confine: cannot open the chroot %s: %s", chroot,
			   strerror(errno));
	return fd;
}

int confine_prepare(const struct policy_confine *c, const char *chroot, const char *command,
		    int abi, struct confine_plan *plan, struct diag *d)
{
	memset(plan, 0, sizeof(*plan));
	plan->ruleset_fd = -1;
	plan->abi = abi > CONFINE_ABI_KNOWN ? CONFINE_ABI_KNOWN : abi;
	int root = open_root(chroot, c, d);
	if (root < 0 && chroot && strcmp(chroot, "/") != 0)
		return -1;
	int failed = report_missing(c, abi, d) && c->strict;
	struct entries e;
	if (entries_build(&e, c, command, root) != 0) {
		diag_error(d, &c->origin, "confine: out of memory");
		failed = 1;
	}
	if (!failed && plan->abi >= 1) {
		plan->ruleset_fd = ruleset_create(plan->abi, c, d);
		if (plan->ruleset_fd < 0 || ruleset_fill(plan, c, &e, root, d) < 0)
			failed = 1;
	}
	entries_free(&e);
	if (root >= 0)
		close(root);
	if (!failed && !(plan->filter = confine_filter_build())) {
		diag_error(d, &c->origin, "confine: cannot build the seccomp filter: %s",
			   strerror(errno));
		failed = 1;
	}
	if (failed) {
		confine_plan_free(plan);
		errno = EPERM;
		return -1;
	}
	snprintf(plan->summary, sizeof(plan->summary),
		 "Landlock ABI %d (%s), and a seccomp filter (io_uring, ptrace, SCTP/MPTCP/DCCP, "
		 "modules, mounts, keyrings, clocks)",
		 plan->abi, plan->abi ? "files, TCP ports and scopes as the kernel has them"
				      : "absent: no file or port rule is enforced");
	syslog(LOG_AUTHPRIV | LOG_INFO, "confine: %s", plan->summary);
	return 0;
}

static bool holds_sys_admin(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t value = CAP_CLEAR;
	if (caps) {
		cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &value);
		cap_free(caps);
	}
	return value == CAP_SET;
}

int confine_enforce(struct confine_plan *plan, const char **step)
{
	*step = "no_new_privs";
	if (!holds_sys_admin() && prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
		return -errno;
	if (plan->ruleset_fd >= 0) {
		*step = "landlock_restrict_self";
		if (syscall(SYS_landlock_restrict_self, plan->ruleset_fd, 0U) != 0)
			return -errno;
		close(plan->ruleset_fd);
		plan->ruleset_fd = -1;
	}
	if (plan->filter) {
		*step = "the confine filter";
		int rc = seccomp_attr_set(plan->filter, SCMP_FLTATR_CTL_NNP, 0);
		if (rc == 0)
			rc = seccomp_load(plan->filter);
		if (rc != 0)
			return rc;
	}
	/* The proof: "/" is granted to no one unless the policy says so, so
	 * listing it must now be refused by Landlock. */
	if (plan->abi >= 1 && !plan->root_granted) {
		*step = "verification (\"/\" could still be opened)";
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return -EPERM;
		}
		if (errno != EACCES)
			return -errno;
	}
	return 0;
}

/* --- privman check ---------------------------------------------------------- */

int confine_check_paths(const struct policy_confine *c, const char *chroot, struct diag *d)
{
	if (!c->present)
		return 0;
	int root = open_root(chroot, c, d);
	if (root < 0 && chroot && strcmp(chroot, "/") != 0)
		return -1;
	int rc = 0;
	for (int list = CONFINE_READ; list <= CONFINE_EXEC; list++) {
		for (size_t i = 0; i < c->lists[list].count; i++) {
			const struct confine_item *item = &c->lists[list].items[i];
			int fd = open_in_view(root, item->text, O_PATH);
			if (fd >= 0) {
				close(fd);
				continue;
			}
			diag_error(d, &item->origin, "confine { %s } \"%s\": %s%s",
				   confine_list_name((enum confine_list)list), item->text,
				   strerror(errno), root >= 0 ? " (in the chroot)" : "");
			rc = -1;
		}
	}
	if (root >= 0)
		close(root);
	return rc;
}

static void report_entry(FILE *out, const struct entry *item, int root)
{
	char where[512];
	int fd = open_in_view(root, item->path, O_PATH);
	int n = fprintf(out, "    %-7s \"%s\"", confine_list_name(item->list), item->path);
	fprintf(out, "%*s# %s%s\n", n < 48 ? 48 - n : 1, "",
		item->why ? "minimum: " : "",
		item->why ? item->why : origin_format(item->origin, where, sizeof(where)));
	if (fd < 0)
		fprintf(out, "            # %s: %s%s\n", item->why ? "absent, skipped" : "ERROR",
			strerror(errno), root >= 0 ? " (in the chroot)" : "");
	else
		close(fd);
}

static void report_ports(FILE *out, const struct policy_confine *c, enum confine_list list)
{
	char where[512];
	const struct confine_items *l = &c->lists[list];
	if (l->count == 0)
		fprintf(out, "    %-7s { }%*s# none: every TCP %s is refused\n",
			confine_list_name(list), 48 - 15, "", confine_list_name(list));
	for (size_t i = 0; i < l->count; i++) {
		int n = fprintf(out, "    %-7s %s", confine_list_name(list), l->items[i].text);
		if (!l->items[i].any && strcmp(l->items[i].text, "0") != 0 &&
		    strspn(l->items[i].text, "0123456789") != strlen(l->items[i].text))
			n += fprintf(out, " (%u)", l->items[i].port);
		fprintf(out, "%*s# %s\n", n < 48 ? 48 - n : 1, "",
			origin_format(&l->items[i].origin, where, sizeof(where)));
	}
}

static void report_kernel(FILE *out, const struct policy_confine *c, int abi)
{
	struct utsname u;
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	/* Errata: Landlock bugs fixed in this kernel, one bit each
	 * (Documentation/userspace-api/landlock.rst); 0 where none or the
	 * query is older than the kernel. */
	long errata = syscall(SYS_landlock_create_ruleset, NULL, (size_t)0,
			      LANDLOCK_CREATE_RULESET_ERRATA);
	fprintf(out, "    # this kernel: Linux %s, Landlock ABI %d%s", u.release, abi,
		abi == 0 ? " (absent or disabled: only the seccomp part applies)" : "");
	if (abi > 0 && errata > 0)
		fprintf(out, ", errata fixed 0x%lx", (unsigned long)errata);
	fputs("\n", out);
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		const struct feature *f = &features[i];
		const char *state = f->abi <= abi ? "enforced"
				    : !feature_needed(f, c) ? "not needed here"
				    : c->strict ? "MISSING: strict, the program does not start"
						: "NOT ENFORCED";
		fprintf(out, "    #   ABI %d (Linux %s) %s: %s\n", f->abi, f->linux_version, f->what,
			state);
	}
	if (abi > CONFINE_ABI_KNOWN)
		fprintf(out, "    #   (the kernel has ABI %d; privman uses what ABI %d defines)\n",
			abi, CONFINE_ABI_KNOWN);
	fputs("    #   no Linux restricts: UDP, pathname UNIX sockets, listen(2) on a socket never "
	      "bound (an ephemeral port), stat, chdir, chmod, chown, access\n",
	      out);
	fputs("    # the seccomp filter (Linux 3.17) refuses, with EPERM unless said:\n", out);
	confine_filter_describe(out, "    #   ");
}

void confine_report(const struct policy_confine *c, const char *chroot, int abi, FILE *out)
{
	char where[512];
	if (!c->present) {
		fputs("# confine: none (the program is not confined beyond the security scope)\n",
		      out);
		return;
	}
	int root = chroot && strcmp(chroot, "/") != 0
			   ? open(chroot, O_PATH | O_DIRECTORY | O_CLOEXEC)
			   : -1;
	fprintf(out, "confine {%*s# %s\n", 31, "", origin_format(&c->origin, where, sizeof(where)));
	if (root >= 0)
		fprintf(out, "    # paths inside the chroot %s\n", chroot);
	struct entries e;
	if (entries_build(&e, c, NULL, root) == 0)
		for (size_t i = 0; i < e.count; i++)
			report_entry(out, &e.items[i], root);
	entries_free(&e);
	fputs("    # privman run also grants exec of the command it runs\n", out);
	report_ports(out, c, CONFINE_BIND);
	report_ports(out, c, CONFINE_CONNECT);
	int n = fprintf(out, "    strict  %s", c->strict ? "true" : "false");
	fprintf(out, "%*s# %s\n", 48 - n, "",
		c->strict_set ? origin_format(&c->strict_origin, where, sizeof(where))
			      : "default");
	report_kernel(out, c, abi);
	fputs("}\n", out);
	if (root >= 0)
		close(root);
}
