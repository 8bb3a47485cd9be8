/* A program split by priv_init that exercises the process calls, for the
 * tests in tests/test_proc.c. One line of output per result; a refusal
 * prints "ERR <ERRNO NAME>".
 *
 *   proc_prog APPNAME COMMAND ARGS...
 *
 * With PROC_PROG_WAIT_FOR=FILE in the environment, the command waits after
 * priv_init until FILE exists.
 *
 *   whoami                    "user NAME"
 *   rerun USER...             rerun as each USER in turn (flags 0); every
 *                             run prints "user NAME" (and "ROOT" when the
 *                             file /jail-marker exists: it sits in a chroot)
 *   rerunchroot USER CHROOT   one rerun as USER inside CHROOT
 *   rerunwait USER STATUS     rerun as USER, monitored; the new run prints
 *                             "user NAME" and exits STATUS; the caller
 *                             prints "waited same|other exit N"
 *   respawnfork USER          priv_fork, priv_respawn_as USER whose program
 *                             priv_forks, priv_fork again: each child
 *                             prints "ino N" (its channel's inode)
 *   respawnwait USER STATUS   priv_respawn_as USER; the new run prints
 *                             "user NAME" and exits STATUS; the caller
 *                             waits for the new monitor: "waited same exit
 *                             N", then "still served"
 *   popen USER COMMAND        priv_popen_as(COMMAND, "r"): "popen OUTPUT",
 *                             then "status N" from priv_pclose
 *   popenmany USER N          N priv_popen_as never closed: "opened N", or
 *                             "opened K then ERRNO"
 *   popenw USER COMMAND TEXT  priv_popen_as(COMMAND, "w"), writes TEXT
 *   execve USER CHROOT PROGRAM ARG...  priv_execve_spawn (USER or CHROOT "-" for NULL)
 *                             "exit N" from priv_wait4
 *   forkfd                    asks for two fork channels and passes them on fd 3
 *                             ("given"), then after a line on stdin says
 *                             whether its own channel still works
 *   waitnone                  priv_wait4(-1): "ERR ECHILD", then with
 *                             WUNTRACED and of pid 0 (EINVAL), then of
 *                             itself (ECHILD)
 *   fork                      priv_fork; the child exits 0: "forked"
 *   forkopen PATH             the child priv_opens PATH: "child OK LINE"
 *   workers N PATH            N priv_fork workers at once, each priv_opens
 *                             PATH and checks it reads "granted"; they wait
 *                             until all are up, so N channels are open at
 *                             once: "workers OK BAD"
 *   tree N PATH [rerun USER]  N workers (and a monitored rerun as USER)
 *                             that priv_open PATH every 20 ms and exit 3
 *                             once the monitor is gone; prints "MAIN pid",
 *                             "WORKER pid" (and "RERUN pid") then does the
 *                             same as they do, reaping them
 *   daemon PATH OUT           priv_daemon(0, 0), then priv_open of PATH;
 *                             writes "daemon OK sid own cwd / ..." to OUT
 *   execenv USER PROGRAM ENTRY... [-- ARG...]
 *                             priv_execve_spawn(PROGRAM, {PROGRAM, ARG...},
 *                             {ENTRY...}): "exit N"
 *   fds USER FILE             a monitored rerun as USER writes what its
 *                             descriptors 0-2 are to FILE (with
 *                             PROC_PROG_CLOSE_STDIO set, the program closes
 *                             0-2 before priv_init)
 *   limits USER rerun|execve  sets RLIMIT_NOFILE 77 and RLIMIT_CORE 51200,
 *                             then a monitored rerun (or a priv_execve_spawn of
 *                             /bin/sh) as USER prints the two limits it has:
 *                             "open files 77", "core file size 51200"
 *   nproc LIMIT USER N rerun|respawn|execve|popen|chain
 *                             sets RLIMIT_NPROC LIMIT, then starts N
 *                             processes that stay until the file "release"
 *                             exists (execve, popen: 2 s): "started K" (then
 *                             "ERR ERRNO" when one was refused); chain: N
 *                             reruns with flags 0,
 *                             each caller staying, each run printing "link K"
 *
 *   zygote USER|KILL...      for each USER a monitored rerun that prints
 *                             "user NAME" and what it holds: "probe seccomp
 *                             N setns ERRNO unshare ERRNO bounding HEX
 *                             caps HEX", then "waited exit N"; at KILL it
 *                             prints "monitor PID" and waits (10 s at most)
 *                             for the file "killed"; at the end "done"
 *
 * PROC_PROG_SETENV="NAME=VALUE;..." is put in the environment before
 * priv_init: the monitor's environment, which priv_popen_as passes on. */
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "program/client.h"
#include "privman.h"
#include "wire/wire.h"

static const char *appname;
/* Set in the new process by rerun_entry, which runs there after the drop:
 * main then knows it is a rerun and what to do. */
static char **rerun_args;

static void rerun_entry(char *const *arg)
{
	size_t n = 0;
	while (arg && arg[n])
		n++;
	rerun_args = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		rerun_args[i] = strdup(arg[i]);
}

static void err(void)
{
	printf("ERR %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	fflush(stdout);
}

static void print_user(void)
{
	struct passwd *pw = getpwuid(getuid());
	if (pw)
		printf("user %s", pw->pw_name);
	else
		printf("uid %u", (unsigned)getuid());
	printf("%s\n", access("/jail-marker", F_OK) == 0 ? " in jail" : "");
	fflush(stdout);
}

static int open_granted(const char *path)
{
	int fd = priv_open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[16] = "";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strncmp(buf, "granted", 7) == 0 ? 0 : -2;
}

/* Stay until the test's file "release" exists (at most 20 s). */
static void hold(void)
{
	for (int i = 0; i < 2000 && access("release", F_OK) < 0; i++)
		usleep(10000);
}

static void release(void)
{
	int fd = open("release", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static void print_limits(void)
{
	struct rlimit nofile, core;
	getrlimit(RLIMIT_NOFILE, &nofile);
	getrlimit(RLIMIT_CORE, &core);
	printf("open files %llu\ncore file size %llu\n", (unsigned long long)nofile.rlim_cur,
	       (unsigned long long)core.rlim_cur);
	fflush(stdout);
}

/* Link K of N of a chain of reruns with flags 0: the caller stays. */
static int chain_link(int k, int n, char *user)
{
	printf("link %d\n", k);
	fflush(stdout);
	if (k >= n) {
		release();
		return 0;
	}
	char next[16], total[16];
	snprintf(next, sizeof(next), "%d", k + 1);
	snprintf(total, sizeof(total), "%d", n);
	char *args[] = {"nchain", next, total, user, NULL};
	if (priv_rerunas(rerun_entry, args, user, NULL, 0) < 0) {
		err();
		release();
		return 1;
	}
	hold();
	return 0;
}

static void set_limit(int resource, rlim_t soft)
{
	struct rlimit r;
	getrlimit(resource, &r);
	r.rlim_cur = soft;
	if (setrlimit(resource, &r) < 0)
		perror("setrlimit");
}

/* Start N processes of MODE that hold until "release". */
static int nproc(int n, const char *user, const char *mode)
{
	int started = 0, failed = 0;
	unlink("release"); /* left by an earlier run */
	for (; started < n; started++) {
		int pid = -1;
		if (strcmp(mode, "rerun") == 0) {
			char *args[] = {"hold", NULL};
			pid = priv_rerunas(rerun_entry, args, user, NULL,
					   PRIV_RR_OLD_SLAVE_MONITORED);
		} else if (strcmp(mode, "execve") == 0) {
			/* One process each, that forks nothing: the kernel's own
			 * RLIMIT_NPROC for USER is not what is tested here. */
			char *argv[] = {"sleep", "2", NULL};
			pid = priv_execve_spawn("/bin/sleep", argv, NULL, user, NULL);
		} else if (strcmp(mode, "respawn") == 0) {
			char *args[] = {"hold", NULL};
			pid = priv_respawn_as(rerun_entry, args, user, NULL);
		} else if (strcmp(mode, "popen") == 0) {
			FILE *f = priv_popen_as("exec sleep 2", "r", user);
			pid = f ? 1 : -1;
		}
		if (pid < 0) {
			failed = errno;
			break;
		}
	}
	printf("started %d\n", started);
	if (failed) {
		errno = failed;
		err();
	}
	fflush(stdout);
	release();
	while (priv_wait4(-1, NULL, 0, NULL) > 0)
		;
	return 0;
}

/* priv_fork; the child prints "ino N", the inode of the channel the
 * monitor gave it, and exits 0; the parent waits for it. */
static int fork_ino(void)
{
	pid_t pid = priv_fork();
	if (pid < 0) {
		err();
		return 1;
	}
	if (pid == 0) {
		struct stat st;
		if (fstat(client_channel_fd(), &st) < 0)
			_exit(2);
		printf("ino %ju\n", (uintmax_t)st.st_ino);
		fflush(stdout);
		_exit(0);
	}
	int status;
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* The new process of a rerun: what rerun_args says. */
/* What a rerun process holds: the namespace filter, no bounding set, no
 * capability. */
static void probe(void)
{
	int mode = prctl(PR_GET_SECCOMP, 0L, 0L, 0L, 0L);
	errno = 0;
	long r = syscall(SYS_setns, -1, 0);
	const char *setns_err = r == 0 ? "none" : strerrorname_np(errno);
	errno = 0;
	r = unshare(CLONE_NEWUSER);
	const char *unshare_err = r == 0 ? "none" : strerrorname_np(errno);
	uint64_t bounding = 0;
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0L, 0L, 0L) == 1)
			bounding |= UINT64_C(1) << cap;
	cap_t caps = cap_get_proc();
	char *text = caps ? cap_to_text(caps, NULL) : NULL;
	printf("probe seccomp %d setns %s unshare %s bounding %" PRIx64 " caps %s\n", mode,
	       setns_err, unshare_err, bounding, text ? text : "?");
	cap_free(text);
	cap_free(caps);
	fflush(stdout);
}

/* Monitored reruns as each user in turn; see the usage. */
static int zygote_runs(char **users)
{
	for (; *users; users++) {
		if (strcmp(*users, "KILL") == 0) {
			printf("monitor %d\n", (int)getppid());
			fflush(stdout);
			for (int i = 0; i < 1000 && access("killed", F_OK) < 0; i++)
				usleep(10000);
			continue;
		}
		char *args[] = {"probe", NULL};
		int pid = priv_rerunas(rerun_entry, args, *users, NULL, PRIV_RR_OLD_SLAVE_MONITORED);
		int status = -1;
		if (pid < 0 || priv_wait4(pid, &status, 0, NULL) != pid) {
			err();
			return 1;
		}
		printf("waited exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		fflush(stdout);
	}
	printf("done\n");
	return 0;
}

static int continue_rerun(void)
{
	if (strcmp(rerun_args[0], "hold") == 0) {
		hold();
		_exit(0);
	}
	if (strcmp(rerun_args[0], "fds") == 0 && rerun_args[1]) {
		/* What descriptors 0-2 are in the new process, into a file
		 * (the program's own stdio was closed). */
		FILE *f = fopen(rerun_args[1], "we");
		for (int fd = 0; f && fd <= 2; fd++) {
			char link[64], target[256];
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			fprintf(f, "%d %s\n", fd, n > 0 ? target : "closed");
		}
		if (f)
			fclose(f);
		_exit(0);
	}
	if (strcmp(rerun_args[0], "limits") == 0) {
		print_limits();
		fflush(NULL);
		_exit(0);
	}
	if (strcmp(rerun_args[0], "nchain") == 0 && rerun_args[1] && rerun_args[2] && rerun_args[3])
		return chain_link(atoi(rerun_args[1]), atoi(rerun_args[2]), rerun_args[3]);
	print_user();
	if (strcmp(rerun_args[0], "probe") == 0) {
		probe();
		_exit(0);
	}
	if (strcmp(rerun_args[0], "chain") == 0 && rerun_args[1]) {
		char *next = rerun_args[1];
		rerun_args[1] = "chain"; /* the users after `next` follow it */
		int rc = priv_rerunas(rerun_entry, rerun_args + 1, next, NULL, 0);
		if (rc < 0)
			err();
		free(next);
		return rc < 0 ? 1 : 0; /* flags 0: the old process exits */
	}
	if (strcmp(rerun_args[0], "forkino") == 0) {
		int rc = fork_ino();
		fflush(NULL);
		_exit(rc);
	}
	if (strcmp(rerun_args[0], "exit") == 0) {
		/* _exit: in a jail there is no /proc for LeakSanitizer to read
		 * at exit (make asan). */
		fflush(NULL);
		_exit(atoi(rerun_args[1]));
	}
	if (strcmp(rerun_args[0], "loop") == 0) {
		for (;;) {
			if (open_granted(rerun_args[1]) == -1 && errno == EPIPE)
				return 3;
			usleep(20000);
		}
	}
	return 0;
}

static int tree(int n, char *path, const char *rerun_user)
{
	printf("MAIN %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		pid_t pid = priv_fork();
		if (pid < 0) {
			err();
			return 1;
		}
		if (pid == 0) {
			for (;;) {
				if (open_granted(path) == -1 && errno == EPIPE)
					_exit(3);
				usleep(20000);
			}
		}
		printf("WORKER %d\n", (int)pid);
		fflush(stdout);
	}
	if (rerun_user) {
		char *args[] = {"loop", path, NULL};
		int pid = priv_rerunas(rerun_entry, args, rerun_user, NULL,
				       PRIV_RR_OLD_SLAVE_MONITORED);
		if (pid < 0) {
			err();
			return 1;
		}
		printf("RERUN %d\n", pid);
		fflush(stdout);
	}
	printf("READY\n");
	fflush(stdout);
	/* Serve on, reaping workers, until the monitor is gone; then wait for
	 * the workers, which find it gone too. */
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (open_granted(path) == -1 && errno == EPIPE) {
			while (wait(NULL) > 0 || errno == EINTR)
				;
			return 3;
		}
		usleep(20000);
	}
}

static int workers(int n, const char *path)
{
	int ready[2], go[2];
	if (pipe(ready) < 0 || pipe(go) < 0)
		return 1;
	pid_t *pids = calloc((size_t)n, sizeof(pid_t));
	for (int i = 0; i < n; i++) {
		pids[i] = priv_fork();
		if (pids[i] < 0) {
			err();
			return 1;
		}
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			int first = open_granted(path);
			if (write(ready[1], "x", 1) != 1)
				_exit(4);
			char c;
			/* All workers are alive here at once. */
			if (read(go[0], &c, 1) < 0)
				_exit(4);
			int second = open_granted(path);
			_exit(first == 0 && second == 0 ? 0 : 1);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < n; i++) {
		char c;
		if (read(ready[0], &c, 1) != 1)
			break;
	}
	const char *hold = getenv("PROC_PROG_HOLD"); /* a file to touch, then wait for its removal */
	if (hold && *hold) {
		printf("HOLD %d\n", (int)getpid());
		fflush(stdout);
		int fd = open(hold, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		while (access(hold, F_OK) == 0)
			usleep(10000);
	}
	close(go[1]);
	int ok = 0, bad = 0;
	for (int i = 0; i < n; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			ok++;
		else
			bad++;
	}
	printf("workers %d %d\n", ok, bad);
	free(pids);
	return 0;
}

static char *dash_null(char *s)
{
	return strcmp(s, "-") == 0 ? NULL : s;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: proc_prog APPNAME COMMAND ARGS...\n");
		return 2;
	}
	appname = argv[1];
	const char *setenv_list = getenv("PROC_PROG_SETENV");
	if (setenv_list && *setenv_list) {
		char *list = strdup(setenv_list), *save = NULL;
		for (char *e = strtok_r(list, ";", &save); e; e = strtok_r(NULL, ";", &save))
			putenv(e);
	}
	if (getenv("PROC_PROG_CLOSE_STDIO")) {
		close(0);
		close(1);
		close(2);
	}
	priv_init(appname);
	if (rerun_args)
		return continue_rerun();
	/* A test changes the world between priv_init and the request. */
	const char *wait_for = getenv("PROC_PROG_WAIT_FOR");
	for (int i = 0; wait_for && *wait_for && i < 1000 && access(wait_for, F_OK) < 0; i++)
		usleep(10000);

	const char *cmd = argv[2];
	if (strcmp(cmd, "whoami") == 0) {
		print_user();
	} else if (strcmp(cmd, "zygote") == 0 && argc >= 4) {
		return zygote_runs(argv + 3);
	} else if (strcmp(cmd, "rerun") == 0 && argc >= 4) {
		print_user();
		char *first = argv[3];
		argv[3] = "chain";
		if (priv_rerunas(rerun_entry, argv + 3, first, NULL, 0) < 0) {
			err();
			return 1;
		}
	} else if (strcmp(cmd, "rerunchroot") == 0 && argc == 5) {
		char *args[] = {"exit", "0", NULL};
		if (priv_rerunas(rerun_entry, args, argv[3], argv[4], 0) < 0) {
			err();
			return 1;
		}
	} else if (strcmp(cmd, "rerunwait") == 0 && argc == 5) {
		char *args[] = {"exit", argv[4], NULL};
		int pid = priv_rerunas(rerun_entry, args, argv[3], NULL,
				       PRIV_RR_OLD_SLAVE_MONITORED);
		if (pid < 0) {
			err();
			return 1;
		}
		int status = -1;
		pid_t got = priv_wait4(pid, &status, 0, NULL);
		if (got < 0) {
			err();
			return 1;
		}
		printf("waited %s exit %d\n", got == pid ? "same" : "other",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(cmd, "respawnfork") == 0 && argc == 4) {
		/* A priv_fork each before and after a respawn whose program
		 * priv_forks too: each child prints its channel's inode. */
		if (fork_ino() != 0)
			return 1;
		char *args[] = {"forkino", NULL};
		int pid = priv_respawn_as(rerun_entry, args, argv[3], NULL);
		if (pid < 0) {
			err();
			return 1;
		}
		int status = -1;
		if (priv_wait4(pid, &status, 0, NULL) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			printf("respawn failed\n");
			return 1;
		}
		if (fork_ino() != 0)
			return 1;
	} else if (strcmp(cmd, "respawnwait") == 0 && argc == 5) {
		char *args[] = {"exit", argv[4], NULL};
		int pid = priv_respawn_as(rerun_entry, args, argv[3], NULL);
		if (pid < 0) {
			err();
			return 1;
		}
		int status = -1;
		pid_t got = priv_wait4(pid, &status, 0, NULL);
		if (got < 0) {
			err();
			return 1;
		}
		printf("waited %s exit %d\n", got == pid ? "same" : "other",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		/* This process keeps its own monitor. */
		printf("still %s\n", priv_wait4(-1, NULL, WNOHANG, NULL) < 0 && errno == ECHILD
					      ? "served"
					      : "broken");
	} else if (strcmp(cmd, "popen") == 0 && argc == 5) {
		FILE *f = priv_popen_as(argv[4], "r", dash_null(argv[3]));
		if (!f) {
			err();
			return 0;
		}
		char line[256] = "";
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		line[strcspn(line, "\n")] = '\0';
		printf("popen %s\n", line);
		int status = priv_pclose(f);
		printf("status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(cmd, "popenmany") == 0 && argc == 5) {
		int n = 0, max = atoi(argv[4]);
		while (n < max && priv_popen_as("exit 0", "r", argv[3]))
			n++;
		printf("opened %d", n);
		if (n < max)
			printf(" then %s", strerrorname_np(errno));
		printf("\n");
	} else if (strcmp(cmd, "popenw") == 0 && argc == 6) {
		FILE *f = priv_popen_as(argv[4], "w", argv[3]);
		if (!f) {
			err();
			return 0;
		}
		fputs(argv[5], f);
		int status = priv_pclose(f);
		printf("status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(cmd, "execve") == 0 && argc >= 6) {
		char *env[] = {"PATH=/bin", NULL};
		int pid = priv_execve_spawn(argv[5], argv + 5, env, dash_null(argv[3]),
					    dash_null(argv[4]));
		if (pid < 0) {
			err();
			return 0;
		}
		int status;
		if (priv_wait4(pid, &status, 0, NULL) != pid) {
			err();
			return 1;
		}
		printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(cmd, "execenv") == 0 && argc >= 5) {
		/* execenv USER PROGRAM ENTRY... [-- ARG...] */
		char *args[64] = {argv[4], NULL};
		int na = 1;
		for (int i = 5; i < argc; i++) {
			if (strcmp(argv[i], "--") != 0)
				continue;
			argv[i] = NULL; /* ends the environment */
			for (int j = i + 1; j < argc && na < 63; j++)
				args[na++] = argv[j];
			args[na] = NULL;
			break;
		}
		int pid = priv_execve_spawn(argv[4], args, argv + 5, dash_null(argv[3]), NULL);
		if (pid < 0) {
			err();
			return 0;
		}
		int status;
		if (priv_wait4(pid, &status, 0, NULL) != pid) {
			err();
			return 1;
		}
		printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(cmd, "fds") == 0 && argc == 5) {
		char *args[] = {"fds", argv[4], NULL};
		int pid = priv_rerunas(rerun_entry, args, argv[3], NULL, PRIV_RR_OLD_SLAVE_MONITORED);
		if (pid < 0 || priv_wait4(pid, NULL, 0, NULL) != pid)
			return 1;
	} else if (strcmp(cmd, "limits") == 0 && argc == 5) {
		set_limit(RLIMIT_NOFILE, 77);
		set_limit(RLIMIT_CORE, 51200);
		int pid;
		if (strcmp(argv[4], "rerun") == 0) {
			char *args[] = {"limits", NULL};
			pid = priv_rerunas(rerun_entry, args, argv[3], NULL,
					   PRIV_RR_OLD_SLAVE_MONITORED);
		} else {
			char *args[] = {"sh", "-c",
					"sed -n 's/^Max \\(open files\\|core file size\\) *"
					"\\([0-9a-z]*\\).*/\\1 \\2/p' /proc/self/limits",
					NULL};
			pid = priv_execve_spawn("/bin/sh", args, NULL, argv[3], NULL);
		}
		if (pid < 0 || priv_wait4(pid, NULL, 0, NULL) != pid) {
			err();
			return 1;
		}
	} else if (strcmp(cmd, "nproc") == 0 && argc == 7) {
		set_limit(RLIMIT_NPROC, (rlim_t)atoi(argv[3]));
		if (strcmp(argv[6], "chain") == 0) {
			char *args[] = {"nchain", "1", argv[5], argv[4], NULL};
			if (priv_rerunas(rerun_entry, args, argv[4], NULL, 0) < 0) {
				err();
				return 1;
			}
			hold();
			return 0;
		}
		return nproc(atoi(argv[5]), argv[4], argv[6]);
	} else if (strcmp(cmd, "forkfd") == 0) {
		/* Ask for a fork channel and give it away on fd 3, to a process
		 * that does not descend from this one. */
		unsigned char msg[64];
		struct wire_writer w;
		wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_FORK, 0);
		size_t size = wire_writer_finish(&w);
		for (int i = 0; i < 2; i++) {
			int sock = -1;
			if (client_call(msg, size, NULL, 0, &sock) < 0) {
				err();
				return 0;
			}
			if (wire_send(3, msg, size, &sock, 1, 0) < 0) {
				err();
				return 1;
			}
			close(sock);
		}
		printf("given\n");
		fflush(stdout);
		char line[8];
		if (!fgets(line, sizeof(line), stdin))
			return 0;
		/* Still served on its own channel. */
		printf("after %s\n", priv_wait4(-1, NULL, WNOHANG, NULL) < 0 && errno == ECHILD
					     ? "served"
					     : "broken");
	} else if (strcmp(cmd, "waitnone") == 0) {
		if (priv_wait4(-1, NULL, 0, NULL) < 0)
			err();
		if (priv_wait4(-1, NULL, WUNTRACED, NULL) < 0)
			err();
		if (priv_wait4(0, NULL, 0, NULL) < 0)
			err();
		if (priv_wait4(getpid(), NULL, WNOHANG, NULL) < 0)
			err();
	} else if (strcmp(cmd, "fork") == 0) {
		pid_t pid = priv_fork();
		if (pid < 0) {
			err();
			return 0;
		}
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		printf("forked\n");
	} else if (strcmp(cmd, "forkopen") == 0 && argc == 4) {
		pid_t pid = priv_fork();
		if (pid < 0) {
			err();
			return 0;
		}
		if (pid == 0) {
			int rc = open_granted(argv[3]);
			printf(rc == 0 ? "child OK granted\n" : "child ERR %s\n",
			       strerrorname_np(errno));
			fflush(stdout);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		printf("parent %s\n", open_granted(argv[3]) == 0 ? "OK granted" : "ERR");
	} else if (strcmp(cmd, "workers") == 0 && argc == 5) {
		return workers(atoi(argv[3]), argv[4]);
	} else if (strcmp(cmd, "tree") == 0 && argc >= 5) {
		return tree(atoi(argv[3]), argv[4], argc >= 7 ? argv[6] : NULL);
	} else if (strcmp(cmd, "daemon") == 0 && argc == 5) {
		if (priv_daemon(0, 0) < 0) {
			err();
			return 0;
		}
		FILE *out = fopen(argv[4], "we");
		int rc = open_granted(argv[3]);
		char cwd[64] = "";
		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = '\0';
		if (out) {
			fprintf(out, "daemon %s sid %s cwd %s stdin %s\n", rc == 0 ? "OK" : "ERR",
				getsid(0) == getpid() ? "own" : "other", cwd,
				isatty(0) || fcntl(0, F_GETFD) < 0 ? "?" : "open");
			fclose(out);
		}
	} else {
		fprintf(stderr, "proc_prog: bad command %s\n", cmd);
		return 2;
	}
	return 0;
}
