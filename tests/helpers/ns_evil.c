/* A compromised program that rearranges its own view of the file system
 * (a user and mount namespace of its own) and then asks the monitor for
 * files by relative paths, or swaps FIFOs in under the monitor's opens.
 * Used by tests/test_monitor_ns.c. After priv_init it runs its arguments as
 * a list of steps, printing one line per result ("ERR" lines carry the
 * errno name):
 *
 *   ns                 unshare(CLONE_NEWUSER | CLONE_NEWNS), map itself to
 *                      root there: "ns ERRNO" on failure (and stop)
 *   bind SRC DST       bind-mount SRC over DST (recursively): "bind ERRNO"
 *                      on failure (and stop)
 *   cd DIR             chdir
 *   exit               _exit(0) (in a chroot there is no /proc for the
 *                      sanitizers' exit handlers)
 *   open PATH MODE     priv_open, MODE ro, rw, creat (O_RDWR|O_CREAT):
 *                      "open OK FIRSTLINE" or "open ERRNO"
 *   unlink PATH        priv_unlink: "unlink OK" or "unlink ERRNO"
 *   rerun USER         priv_rerunas(USER, monitored); the new process prints
 *                      "rerun ran in CWD" and exits 0; here "rerun waited"
 *                      or "rerun ERRNO"
 *   popen USER CMD     priv_popen_as(CMD, "r", USER): "popen FIRSTLINE"
 *   filter             try to make namespaces and mounts: one line,
 *                      "filter unshare=E clone=E setns=E mount=E chroot=E
 *                      fsopen=E open_tree=E clone3=E [unshare32=E] seccomp=N"
 *                      (unshare32: through the i386 ABI, on x86-64)
 *   forkfilter         the same in a priv_fork child
 *   rerunfilter USER   the same in a process of priv_rerunas as USER
 *   jailrace JAIL USER COUNT
 *                      a child swaps the directory JAIL for a symlink to "/"
 *                      and back, while this process asks COUNT times for a
 *                      monitored priv_rerunas as USER in the chroot JAIL;
 *                      each new process exits 0 when it sees /jail-marker:
 *                      "jailrace escaped E jailed J"
 *   race KIND NAME FLAGS COUNT
 *                      a child swaps NAME (relative) in and out as KIND
 *                      (fifo, fifolink: a symlink to a FIFO, fiforename: a
 *                      regular file and a FIFO renamed in turn) while this
 *                      process asks COUNT times for priv_open(NAME, FLAGS:
 *                      a number); each answer must come within 5 seconds:
 *                      "race answered N" or "race SILENT" (the monitor
 *                      hangs)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>

#include "program/client.h"
#include "privman.h"
#include "wire/wire.h"

static char **rerun_args;

static void rerun_entry(char *const *arg)
{
	size_t n = 0;
	while (arg && arg[n])
		n++;
	rerun_args = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; rerun_args && i < n; i++)
		rerun_args[i] = strdup(arg[i]);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int make_namespace(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	/* The drop left the process non-dumpable, which makes /proc/self
	 * root's; any program can undo that. */
	prctl(PR_SET_DUMPABLE, 1L, 0L, 0L, 0L);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		printf("ns %s\n", ename(errno));
		return -1;
	}
	char map[64];
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	write_file("/proc/self/gid_map", map);
	return 0;
}

static void first_line(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void do_open(const char *path, const char *mode)
{
	int flags = O_RDONLY;
	if (strcmp(mode, "rw") == 0)
		flags = O_RDWR;
	else if (strcmp(mode, "creat") == 0)
		flags = O_RDWR | O_CREAT;
	int fd = priv_open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("open %s\n", ename(errno));
		return;
	}
	char line[128];
	first_line(fd, line, sizeof(line));
	printf("open OK %s\n", line);
	close(fd);
}

/* --- the filter -------------------------------------------------------- */

static const char *try(long rc)
{
	return rc < 0 ? ename(errno) : "OK";
}

static void filter(const char *who)
{
	int seccomp = -1;
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &seccomp) == 1)
			break;
	if (f)
		fclose(f);

	printf("%s unshare=%s", who, try(unshare(CLONE_NEWUSER)));
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL,
			   NULL);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	printf(" clone=%s", try(pid));
	int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	printf(" setns=%s", try(setns(ns, CLONE_NEWNS)));
	close(ns);
	printf(" mount=%s", try(mount("none", "/tmp", "tmpfs", 0, NULL)));
	printf(" chroot=%s", try(chroot("/")));
	long fs = syscall(SYS_fsopen, "tmpfs", 0);
	printf(" fsopen=%s", try(fs));
	if (fs >= 0)
		close((int)fs);
	long tree = syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */);
	printf(" open_tree=%s", try(tree));
	if (tree >= 0)
		close((int)tree);
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_NEWUSER;
	args.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	printf(" clone3=%s", try(pid));
#if defined(__x86_64__)
	/* unshare(CLONE_NEWUSER) through the i386 ABI (its number is 310). */
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
	if (r == 0)
		printf(" unshare32=OK");
	else
		printf(" unshare32=%s", ename((int)-r));
#endif
	printf(" seccomp=%d\n", seccomp);
	fflush(stdout);
}

/* --- FIFO races ---------------------------------------------------------- */

static void swap_loop(const char *kind, const char *name)
{
	char other[256];
	snprintf(other, sizeof(other), ".%s.fifo", name);
	mkfifo(other, 0600);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L);
	time_t end = time(NULL) + 60;
	while (time(NULL) < end) {
		if (strcmp(kind, "fifo") == 0) {
			mkfifo(name, 0600);
			unlink(name);
		} else if (strcmp(kind, "fifolink") == 0) {
			if (symlink(other, name) == 0)
				unlink(name);
		} else { /* fiforename: a regular file, then a FIFO, under one name */
			char tmp[300];
			snprintf(tmp, sizeof(tmp), ".%s.file", name);
			int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
			rename(tmp, name);
			snprintf(tmp, sizeof(tmp), ".%s.fifo2", name);
			mkfifo(tmp, 0600);
			rename(tmp, name);
		}
	}
	_exit(0);
}

/* One open request by hand, so that a monitor that never answers is seen:
 * returns 0 when answered within 5 s. */
static int open_bounded(const char *name, int flags, uint32_t id)
{
	static unsigned char buf[WIRE_MAX_MESSAGE + 256];
	int sock = client_channel_fd();
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_OPEN, id);
	wire_put_string(&w, name);
	wire_put_int(&w, flags);
	wire_put_int(&w, 0600);
	size_t size = wire_writer_finish(&w);
	if (wire_send(sock, buf, size, NULL, 0, 0) < 0)
		return -1;
	struct pollfd p = {.fd = sock, .events = POLLIN};
	if (poll(&p, 1, 5000) <= 0)
		return -1;
	int fds[WIRE_MAX_FDS], nfds = 0;
	if (wire_recv(sock, buf, sizeof(buf), fds, &nfds, 0) <= 0)
		return -1;
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return 0;
}

static void race(const char *kind, const char *name, int flags, long count)
{
	pid_t child = fork();
	if (child == 0)
		swap_loop(kind, name);
	long answered = 0;
	for (; answered < count; answered++) {
		if (open_bounded(name, flags, (uint32_t)(answered + 1)) < 0) {
			printf("race SILENT after %ld\n", answered);
			fflush(stdout);
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			return;
		}
		/* Whatever the monitor made, the next turn starts afresh. */
		if (flags & O_CREAT)
			unlink(name);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("race answered %ld\n", answered);
}

/* --- a chroot swapped between check and use ----------------------------- */

static void jail_swap_loop(const char *jail)
{
	char real[4096];
	snprintf(real, sizeof(real), "%s.real", jail);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L);
	time_t end = time(NULL) + 60;
	while (time(NULL) < end) {
		/* Half the time each: the jail is there when the monitor checks
		 * it, the symlink a moment later when a process starts. */
		if (rename(jail, real) < 0)
			continue;
		if (symlink("/", jail) == 0) {
			usleep(200);
			unlink(jail);
		}
		rename(real, jail);
		usleep(200);
	}
	_exit(0);
}

static void jail_race(const char *jail, const char *user, long count)
{
	pid_t child = fork();
	if (child == 0)
		jail_swap_loop(jail);
	long escaped = 0, jailed = 0;
	char *args[] = {"jailcheck", NULL};
	for (long i = 0; i < count; i++) {
		int pid = priv_rerunas(rerun_entry, args, user, jail, PRIV_RR_OLD_SLAVE_MONITORED);
		if (pid < 0)
			continue;
		int status = 0;
		if (priv_wait4(pid, &status, 0, NULL) != pid || !WIFEXITED(status))
			continue;
		if (WEXITSTATUS(status) == 0)
			jailed++;
		else if (WEXITSTATUS(status) == 1)
			escaped++;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	char real[4096];
	snprintf(real, sizeof(real), "%s.real", jail);
	if (rename(real, jail) < 0 && errno == ENOTDIR) { /* the symlink is in place */
		unlink(jail);
		rename(real, jail);
	}
	printf("jailrace escaped %ld jailed %ld\n", escaped, jailed);
}

/* --- steps ------------------------------------------------------------- */

static int steps(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		int left = argc - i - 1;
		if (strcmp(s, "ns") == 0) {
			if (make_namespace() < 0)
				return 3;
		} else if (strcmp(s, "bind") == 0 && left >= 2) {
			if (mount(argv[i + 1], argv[i + 2], NULL, MS_BIND | MS_REC, NULL) < 0) {
				printf("bind %s\n", ename(errno));
				return 3;
			}
			i += 2;
		} else if (strcmp(s, "exit") == 0) {
			fflush(NULL);
			_exit(0);
		} else if (strcmp(s, "cd") == 0 && left >= 1) {
			if (chdir(argv[++i]) < 0) {
				printf("cd %s\n", ename(errno));
				return 3;
			}
		} else if (strcmp(s, "open") == 0 && left >= 2) {
			do_open(argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (strcmp(s, "unlink") == 0 && left >= 1) {
			int rc = priv_unlink(argv[++i]);
			printf("unlink %s\n", rc < 0 ? ename(errno) : "OK");
		} else if ((strcmp(s, "rerun") == 0 || strcmp(s, "rerunfilter") == 0) &&
			   left >= 1) {
			char *args[] = {(char *)(uintptr_t)s, NULL};
			int pid = priv_rerunas(rerun_entry, args, argv[++i], NULL,
					       PRIV_RR_OLD_SLAVE_MONITORED);
			if (pid < 0) {
				printf("rerun %s\n", ename(errno));
				continue;
			}
			int status;
			fflush(stdout);
			priv_wait4(pid, &status, 0, NULL);
			printf("rerun waited\n");
		} else if (strcmp(s, "popen") == 0 && left >= 2) {
			FILE *f = priv_popen_as(argv[i + 2], "r", argv[i + 1]);
			char line[256] = "";
			if (!f) {
				printf("popen %s\n", ename(errno));
			} else {
				if (!fgets(line, sizeof(line), f))
					line[0] = '\0';
				line[strcspn(line, "\n")] = '\0';
				priv_pclose(f);
				printf("popen %s\n", line);
			}
			i += 2;
		} else if (strcmp(s, "filter") == 0) {
			filter("program");
		} else if (strcmp(s, "forkfilter") == 0) {
			fflush(stdout);
			pid_t pid = priv_fork();
			if (pid == 0) {
				filter("child");
				_exit(0);
			}
			if (pid < 0)
				printf("fork %s\n", ename(errno));
			else
				waitpid(pid, NULL, 0);
		} else if (strcmp(s, "jailrace") == 0 && left >= 3) {
			jail_race(argv[i + 1], argv[i + 2], atol(argv[i + 3]));
			i += 3;
		} else if (strcmp(s, "race") == 0 && left >= 4) {
			race(argv[i + 1], argv[i + 2], atoi(argv[i + 3]), atol(argv[i + 4]));
			i += 4;
		} else {
			printf("bad step %s\n", s);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	if (rerun_args) { /* the new process of a rerun */
		if (strcmp(rerun_args[0], "jailcheck") == 0)
			_exit(access("/jail-marker", F_OK) == 0 ? 0 : 1); /* no /proc here */
		if (strcmp(rerun_args[0], "rerunfilter") == 0) {
			filter("rerun");
		} else {
			char cwd[4096];
			printf("rerun ran in %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : ename(errno));
		}
		fflush(stdout);
		_exit(0);
	}
	return steps(argc - 2, argv + 2);
}
