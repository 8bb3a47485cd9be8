/* Reading this process's credentials and this kernel's limits (creds.h). */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <unistd.h>

#include "scope/creds.h"

/* --- reading this system ----------------------------------------------- */

/* The highest capability number of the running kernel: never a list
 * compiled in, since the kernel may be newer or older than the headers. */
int creds_last_cap(void)
{
	static int known = -1; /* it never changes while the system runs */
	if (known >= 0)
		return known;
	int last = -1;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = -1;
		fclose(f);
	}
	if (last < 0)
		last = (int)cap_max_bits() - 1; /* libcap probes the kernel */
	if (last >= CREDS_MASK_BITS)
		last = CREDS_MASK_BITS - 1;
	known = last;
	return last;
}

/* "cap_chown, cap_kill" or "none". */
const char *creds_mask_names(uint64_t mask, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int cap = 0; cap < CREDS_MASK_BITS; cap++) {
		if (!(mask & creds_bit(cap)))
			continue;
		char name[64];
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
				 policy_cap_name(cap, name, sizeof(name)));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(buf, len, "none");
	return buf;
}

static int compare_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort and remove duplicates in place; returns the new count. */
size_t creds_gids_normalize(gid_t *gids, size_t count)
{
	if (count == 0)
		return 0;
	qsort(gids, count, sizeof(*gids), compare_gid);
	size_t out = 1;
	for (size_t i = 1; i < count; i++)
		if (gids[i] != gids[out - 1])
			gids[out++] = gids[i];
	return out;
}

/* The process's supplementary groups, sorted; NULL with *count 0 is an
 * empty list. Returns -1 on error. */
int creds_groups(gid_t **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	int n = getgroups(0, NULL);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	gid_t *list = calloc((size_t)n, sizeof(*list));
	if (!list)
		return -1;
	n = getgroups(n, list);
	if (n < 0) {
		free(list);
		return -1;
	}
	*count = creds_gids_normalize(list, (size_t)n);
	*out = list;
	return 0;
}

bool creds_gids_equal(const gid_t *a, size_t a_count, const gid_t *b, size_t b_count)
{
	return a_count == b_count && (a_count == 0 || memcmp(a, b, a_count * sizeof(*a)) == 0);
}

/* Number of threads, or 0 when /proc cannot tell. cap_set_proc() and the
 * bounding set act on the calling thread only, so a drop with other
 * threads running would leave them privileged. The entries of
 * /proc/self/task read with getdents64 into a buffer on the stack: a drop
 * is on the path of every rerun, and opendir()'s 32 KiB buffer costs more
 * than the reading. */
size_t creds_thread_count(void)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	union {
		struct dirent64 entry;
		char bytes[4096];
	} buf;
	size_t n = 0;
	ssize_t got;
	while ((got = getdents64(fd, &buf, sizeof(buf))) > 0) {
		for (ssize_t at = 0; at < got;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf.bytes + at);
			if (e->d_reclen == 0)
				break;
			if (e->d_name[0] != '.')
				n++;
			at += e->d_reclen;
		}
	}
	close(fd);
	return got < 0 ? 0 : n;
}

/* True when the kernel says this process is alone: unshare(CLONE_THREAD)
 * changes nothing then, and fails with EINVAL when another thread (or any
 * task sharing its memory or signal handlers) exists. False when it cannot
 * tell this way: creds_thread_count() then counts. One system call, where
 * counting reads /proc. */
bool creds_single_threaded(void)
{
	return unshare(CLONE_THREAD) == 0;
}

/* The process's capability sets as masks. */
int creds_caps(int last_cap, uint64_t *effective, uint64_t *permitted,
			uint64_t *inheritable)
{
	cap_t caps = cap_get_proc();
	if (!caps)
		return -1;
	*effective = *permitted = *inheritable = 0;
	for (int cap = 0; cap <= last_cap; cap++) {
		cap_flag_value_t v;
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_EFFECTIVE, &v) == 0 && v)
			*effective |= creds_bit(cap);
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_PERMITTED, &v) == 0 && v)
			*permitted |= creds_bit(cap);
		if (cap_get_flag(caps, (cap_value_t)cap, CAP_INHERITABLE, &v) == 0 && v)
			*inheritable |= creds_bit(cap);
	}
	cap_free(caps);
	return 0;
}

uint64_t creds_bounding(int last_cap)
{
	uint64_t mask = 0;
	for (int cap = 0; cap <= last_cap; cap++)
		if (cap_get_bound((cap_value_t)cap) == 1)
			mask |= creds_bit(cap);
	return mask;
}

uint64_t creds_ambient(int last_cap, uint64_t candidates)
{
	uint64_t mask = 0;
	for (int cap = 0; cap <= last_cap; cap++)
		if ((candidates & creds_bit(cap)) && cap_get_ambient((cap_value_t)cap) == 1)
			mask |= creds_bit(cap);
	return mask;
}

const char *creds_user_text(const struct policy_security *s, char *buf, size_t len)
{
	const char *name = s->user.text;
	struct passwd *pw = name ? NULL : getpwuid(s->uid);
	if (pw)
		name = pw->pw_name;
	if (name)
		snprintf(buf, len, "%s (uid %u)", name, (unsigned)s->uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)s->uid);
	return buf;
}
