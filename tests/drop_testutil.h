/* Helpers for the privilege-drop tests (test_drop.c, test_run.c): run code
 * or a command in a forked child and capture what it prints, read the
 * credential lines of /proc/<pid>/status, and build expected values from
 * a request without going through the code under test. */
#ifndef PRIVMAN_DROP_TESTUTIL_H
#define PRIVMAN_DROP_TESTUTIL_H

#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/capability.h>
#include <sys/mman.h>

#include "testutil.h"

/* The credential lines of /proc/<pid>/status, whitespace collapsed. */
struct pmdrop_status {
	char uid[64];
	char gid[64];
	char groups[512];
	char cap_inh[32];
	char cap_prm[32];
	char cap_eff[32];
	char cap_bnd[32];
	char cap_amb[32];
	char no_new_privs[8];
};

/* Copy the value of "Name:" from status text into out, whitespace runs
 * collapsed to one space and trimmed. Returns 0, or -1 when missing. */
static inline int pmdrop_field(const char *text, const char *name, char *out, size_t len)
{
	size_t name_len = strlen(name);
	const char *line = text;
	while (line && *line) {
		if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
			const char *p = line + name_len + 1;
			size_t used = 0;
			bool space = false;
			while (*p == ' ' || *p == '\t')
				p++;
			for (; *p && *p != '\n'; p++) {
				if (isspace((unsigned char)*p)) {
					space = true;
					continue;
				}
				if (space && used && used + 1 < len)
					out[used++] = ' ';
				space = false;
				if (used + 1 < len)
					out[used++] = *p;
			}
			out[used] = '\0';
			return 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	out[0] = '\0';
	return -1;
}

static inline int pmdrop_parse_status(const char *text, struct pmdrop_status *st)
{
	int missing = 0;
	missing |= pmdrop_field(text, "Uid", st->uid, sizeof(st->uid));
	missing |= pmdrop_field(text, "Gid", st->gid, sizeof(st->gid));
	missing |= pmdrop_field(text, "Groups", st->groups, sizeof(st->groups));
	missing |= pmdrop_field(text, "CapInh", st->cap_inh, sizeof(st->cap_inh));
	missing |= pmdrop_field(text, "CapPrm", st->cap_prm, sizeof(st->cap_prm));
	missing |= pmdrop_field(text, "CapEff", st->cap_eff, sizeof(st->cap_eff));
	missing |= pmdrop_field(text, "CapBnd", st->cap_bnd, sizeof(st->cap_bnd));
	missing |= pmdrop_field(text, "CapAmb", st->cap_amb, sizeof(st->cap_amb));
	missing |= pmdrop_field(text, "NoNewPrivs", st->no_new_privs, sizeof(st->no_new_privs));
	return missing;
}

/* Assert that two status snapshots agree on every credential line. */
#define pmdrop_assert_status_eq(got, want, what)                                            \
	do {                                                                                \
		cr_expect_str_eq((got)->uid, (want)->uid, "%s: Uid", what);                 \
		cr_expect_str_eq((got)->gid, (want)->gid, "%s: Gid", what);                 \
		cr_expect_str_eq((got)->groups, (want)->groups, "%s: Groups", what);        \
		cr_expect_str_eq((got)->cap_inh, (want)->cap_inh, "%s: CapInh", what);      \
		cr_expect_str_eq((got)->cap_prm, (want)->cap_prm, "%s: CapPrm", what);      \
		cr_expect_str_eq((got)->cap_eff, (want)->cap_eff, "%s: CapEff", what);      \
		cr_expect_str_eq((got)->cap_bnd, (want)->cap_bnd, "%s: CapBnd", what);      \
		cr_expect_str_eq((got)->cap_amb, (want)->cap_amb, "%s: CapAmb", what);      \
		cr_expect_str_eq((got)->no_new_privs, (want)->no_new_privs,                 \
				 "%s: NoNewPrivs", what);                                   \
	} while (0)

/* The expected status for ids, a group list and capability masks, in the
 * kernel's format (groups ascending, masks as 16 hex digits). */
static inline void pmdrop_expect(struct pmdrop_status *st, uid_t uid, gid_t gid,
				 const gid_t *groups, size_t group_count, uint64_t inh,
				 uint64_t prm, uint64_t eff, uint64_t bnd, uint64_t amb, int nnp)
{
	snprintf(st->uid, sizeof(st->uid), "%u %u %u %u", uid, uid, uid, uid);
	snprintf(st->gid, sizeof(st->gid), "%u %u %u %u", gid, gid, gid, gid);
	gid_t sorted[64];
	cr_assert(group_count <= 64);
	if (group_count)
		memcpy(sorted, groups, group_count * sizeof(*groups));
	for (size_t i = 1; i < group_count; i++)
		for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			gid_t t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	size_t used = 0;
	st->groups[0] = '\0';
	for (size_t i = 0; i < group_count; i++) {
		if (i && sorted[i] == sorted[i - 1])
			continue;
		used += (size_t)snprintf(st->groups + used, sizeof(st->groups) - used, "%s%u",
					 used ? " " : "", sorted[i]);
	}
	snprintf(st->cap_inh, sizeof(st->cap_inh), "%016" PRIx64, inh);
	snprintf(st->cap_prm, sizeof(st->cap_prm), "%016" PRIx64, prm);
	snprintf(st->cap_eff, sizeof(st->cap_eff), "%016" PRIx64, eff);
	snprintf(st->cap_bnd, sizeof(st->cap_bnd), "%016" PRIx64, bnd);
	snprintf(st->cap_amb, sizeof(st->cap_amb), "%016" PRIx64, amb);
	snprintf(st->no_new_privs, sizeof(st->no_new_privs), "%d", nnp);
}

/* This process's bounding set, read from the kernel's own report. */
static inline uint64_t pmdrop_bounding_now(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	cr_assert(f != NULL);
	char line[256];
	uint64_t mask = 0;
	bool found = false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %" SCNx64, &mask) == 1) {
			found = true;
			break;
		}
	fclose(f);
	cr_assert(found, "no CapBnd line in /proc/self/status");
	return mask;
}

/* Capability masks from a cap_from_text() string, through libcap alone. */
static inline void pmdrop_masks(const char *text, uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	*eff = *prm = *inh = 0;
	cap_t caps = cap_from_text(text);
	cr_assert(caps != NULL, "cap_from_text(\"%s\")", text);
	for (int cap = 0; cap < 64; cap++) {
		cap_flag_value_t v;
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_EFFECTIVE, &v) == 0 && v)
			*eff |= (uint64_t)1 << cap;
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_PERMITTED, &v) == 0 && v)
			*prm |= (uint64_t)1 << cap;
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_INHERITABLE, &v) == 0 && v)
			*inh |= (uint64_t)1 << cap;
	}
	cap_free(caps);
}

/* What a finished child printed and how it ended. */
struct pmdrop_child {
	int status; /* as from waitpid() */
	char *out;
	char *err;
};

static inline void pmdrop_child_free(struct pmdrop_child *c)
{
	free(c->out);
	free(c->err);
	c->out = c->err = NULL;
}

static inline char *pmdrop_read_memfd(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	cr_assert(size >= 0);
	char *text = calloc(1, (size_t)size + 1);
	cr_assert(text != NULL);
	cr_assert(pread(fd, text, (size_t)size, 0) == size);
	return text;
}

/* Fork; the child points stdout and stderr at memory files, runs fn(arg)
 * and exits 0 when fn returns. The parent waits at most `timeout` seconds
 * (then kills the child) and returns what it printed. */
static inline struct pmdrop_child pmdrop_fork(void (*fn)(void *), void *arg, unsigned timeout)
{
	int out = memfd_create("pmdrop-out", MFD_CLOEXEC);
	int err = memfd_create("pmdrop-err", MFD_CLOEXEC);
	cr_assert(out >= 0 && err >= 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
			_exit(120);
		alarm(timeout);
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	struct pmdrop_child c = {0};
	for (unsigned waited = 0;; waited++) {
		pid_t r = waitpid(pid, &c.status, WNOHANG);
		cr_assert(r >= 0);
		if (r == pid)
			break;
		if (waited >= timeout * 100) {
			kill(pid, SIGKILL);
			waitpid(pid, &c.status, 0);
			break;
		}
		usleep(10000);
	}
	c.out = pmdrop_read_memfd(out);
	c.err = pmdrop_read_memfd(err);
	close(out);
	close(err);
	return c;
}

/* The exit status of a child that exited, or -1 (killed by a signal). */
static inline int pmdrop_exit_status(const struct pmdrop_child *c)
{
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}

/* In a child: become `uid`/`gid` with no groups, the plain way. */
static inline void pmdrop_become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		perror("pmdrop_become");
		_exit(121);
	}
}

/* Print /proc/self/status to stdout. */
static inline void pmdrop_print_status(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f) {
		perror("/proc/self/status");
		_exit(122);
	}
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
}

/* A per-test name with the pmtest prefix, so that concurrent runs of the
 * suite (in several checkouts) never share a user. */
static inline void pmdrop_name(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "pmtest%s%ld", what, (long)getpid());
}

#endif
