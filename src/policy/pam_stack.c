/* Reading a PAM stack for modules the root worker must not be trusted
 * with. See pam_stack.h. */
#include "policy/pam_stack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 16
#define MAX_LINE 8192
#define MAX_WORDS 64

static const char *const system_dirs[] = {"/etc/pam.d", "/usr/lib/pam.d", NULL};

struct scan {
	const char *const *dirs;
	struct pam_stack_report *out;
};

/* The file PAM reads for `name`: itself when absolute, else the first
 * directory that has it. */
static int find_file(struct scan *s, const char *name, char *path, size_t cap)
{
	if (name[0] == '/') {
		s->out->outside = true;
		if ((size_t)snprintf(path, cap, "%s", name) >= cap)
			return -1;
		return access(path, F_OK);
	}
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		s->out->outside = true;
		return -1;
	}
	for (size_t i = 0; s->dirs[i]; i++) {
		if ((size_t)snprintf(path, cap, "%s/%s", s->dirs[i], name) >= cap)
			continue;
		if (access(path, F_OK) == 0)
			return 0;
	}
	return -1;
}

static bool has_word(char **words, size_t count, const char *word)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(words[i], word) == 0)
			return true;
	return false;
}

/* Why module `module` (basename without .so) with its control and
 * arguments is unsafe under a root worker, or NULL. */
static const char *module_risk(const char *module, const char *control, char **args,
			       size_t count, const char *type)
{
	if (strcmp(module, "pam_rootok") == 0)
		return "succeeds when the caller's uid is 0, and the PAM worker runs as root: "
		       "it succeeds for every user, with no password";
	if (strcmp(module, "pam_wheel") == 0 && has_word(args, count, "trust"))
		return "with 'trust', succeeds by the caller's group membership, and the caller "
		       "is the root PAM worker";
	if (strcmp(module, "pam_succeed_if") == 0 && has_word(args, count, "use_uid"))
		return "with 'use_uid', tests the caller, which is the root PAM worker, not the "
		       "user";
	if (strcmp(module, "pam_rhosts") == 0 || strcmp(module, "pam_rhosts_auth") == 0)
		return "trusts PAM_RHOST and PAM_RUSER, which the program sets";
	if (strcmp(module, "pam_permit") == 0 && strcmp(control, "sufficient") == 0 &&
	    (strcmp(type, "auth") == 0 || strcmp(type, "account") == 0))
		return "is 'sufficient': it succeeds for anyone";
	return NULL;
}

static void add_finding(struct scan *s, const char *file, unsigned line, const char *type,
			const char *module, const char *why)
{
	struct pam_stack_report *r = s->out;
	if (r->count == PAM_STACK_MAX_FINDINGS)
		return;
	struct pam_stack_finding *f = &r->found[r->count++];
	snprintf(f->file, sizeof(f->file), "%s", file);
	f->line = line;
	snprintf(f->type, sizeof(f->type), "%s", type);
	snprintf(f->module, sizeof(f->module), "%s", module);
	f->why = why;
}

static bool known_type(const char *type)
{
	return strcmp(type, "auth") == 0 || strcmp(type, "account") == 0 ||
	       strcmp(type, "password") == 0 || strcmp(type, "session") == 0;
}

static int scan_file(struct scan *s, const char *name, const char *only_type, unsigned depth);

/* Split a logical line into words; a control in brackets is one word. */
static size_t split(char *line, char **words)
{
	size_t n = 0;
	char *p = line;
	while (n < MAX_WORDS) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		char *start = p;
		if (*p == '[' && n == 1) {
			char *close = strchr(p, ']');
			p = close ? close + 1 : p + strlen(p);
		} else {
			p += strcspn(p, " \t\r\n");
		}
		if (*p)
			*p++ = '\0';
		words[n++] = start;
	}
	return n;
}

static void scan_line(struct scan *s, const char *file, unsigned line, char *text,
		      const char *only_type, unsigned depth)
{
	char *words[MAX_WORDS];
	size_t n = split(text, words);
	if (n == 0)
		return;
	if (strcmp(words[0], "@include") == 0) {
		if (n >= 2)
			scan_file(s, words[1], only_type, depth + 1);
		return;
	}
	if (n < 3)
		return;
	char type[16];
	const char *t = words[0][0] == '-' ? words[0] + 1 : words[0];
	snprintf(type, sizeof(type), "%s", t);
	for (char *c = type; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	if (!known_type(type) || (only_type && strcmp(type, only_type) != 0))
		return;
	const char *control = words[1];
	if (strcasecmp(control, "include") == 0 || strcasecmp(control, "substack") == 0) {
		scan_file(s, words[2], type, depth + 1);
		return;
	}
	/* The module: a path or a name, with or without ".so". */
	const char *base = strrchr(words[2], '/');
	if (base)
		s->out->outside = true;
	base = base ? base + 1 : words[2];
	char module[64];
	snprintf(module, sizeof(module), "%s", base);
	size_t len = strlen(module);
	if (len > 3 && strcmp(module + len - 3, ".so") == 0)
		module[len - 3] = '\0';
	const char *why = module_risk(module, control, words + 3, n - 3, type);
	if (why)
		add_finding(s, file, line, type, module, why);
}

static int scan_file(struct scan *s, const char *name, const char *only_type, unsigned depth)
{
	char path[PATH_MAX];
	if (depth > MAX_DEPTH || find_file(s, name, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	FILE *f = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
		close(fd);
		return -1;
	}
	if (depth == 0)
		snprintf(s->out->file, sizeof(s->out->file), "%s", path);
	char *logical = malloc(MAX_LINE);
	char raw[MAX_LINE];
	unsigned number = 0, first = 0;
	size_t used = 0;
	if (!logical) {
		fclose(f);
		return -1;
	}
	while (fgets(raw, sizeof(raw), f)) {
		number++;
		if (used == 0)
			first = number;
		raw[strcspn(raw, "\n")] = '\0';
		char *hash = strchr(raw, '#');
		if (hash)
			*hash = '\0';
		size_t len = strlen(raw);
		bool more = len && raw[len - 1] == '\\';
		if (more)
			raw[--len] = ' ';
		if (used + len + 2 < MAX_LINE) {
			memcpy(logical + used, raw, len);
			used += len;
			logical[used++] = ' ';
		}
		if (more)
			continue;
		logical[used] = '\0';
		scan_line(s, path, first, logical, only_type, depth);
		used = 0;
	}
	if (used) {
		logical[used] = '\0';
		scan_line(s, path, first, logical, only_type, depth);
	}
	free(logical);
	fclose(f);
	return 0;
}

int pam_stack_scan(const char *const *dirs, const char *service, struct pam_stack_report *out)
{
	struct scan s = {dirs ? dirs : system_dirs, out};
	memset(out, 0, sizeof(*out));
	char path[PATH_MAX];
	if (!service || service[0] == '/' || find_file(&s, service, path, sizeof(path)) < 0) {
		out->missing = true;
		service = "other";
	}
	if (scan_file(&s, service, NULL, 0) < 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

bool pam_stack_trusts_caller(const struct pam_stack_report *r,
			     const struct pam_stack_finding **first)
{
	for (size_t i = 0; i < r->count; i++) {
		if (strcmp(r->found[i].type, "auth") == 0 ||
		    strcmp(r->found[i].type, "account") == 0) {
			if (first)
				*first = &r->found[i];
			return true;
		}
	}
	return false;
}
