/* The layout of src/ shows the privilege boundary (README.md "Layout", and
 * the README.md of each folder). These tests read the source tree and hold
 * it to its rules:
 *   - what a folder may include, followed through every header it
 *     includes: src/program/ (the unprivileged program) never reaches a
 *     monitor/ header; src/policy/ (the language and the pure decision)
 *     reaches no monitor/, program/ or scope/ header; src/scope/,
 *     src/wire/ and src/common/, which both sides and the tools share,
 *     reach no monitor/ or program/ header;
 *   - no source file over LAYOUT_MAX_LINES lines;
 *   - no circle between modules (a .c file with its .h), seen through
 *     their includes.
 * Each failure names the file and line. The rules are checked first on a
 * small tree made here with one breach of each, so that a checker that
 * found nothing cannot pass for a clean tree. No root needed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/path.h"

#define LAYOUT_MAX_LINES 800
#define LAYOUT_MAX_FILES 1024
#define LAYOUT_MAX_INCLUDES 64
#define LAYOUT_MAX_MESSAGES 256

struct include_line {
	char target[128]; /* as written between the quotes */
	unsigned line;
	int file; /* the file of the tree it names, or -1 (a system or public header) */
};

struct source_file {
	char path[256];   /* from the root: "src/monitor/monitor.c" */
	char folder[64];  /* "monitor"; "" directly in src/ */
	char module[256]; /* the path without its extension */
	bool header;
	size_t lines;
	struct include_line inc[LAYOUT_MAX_INCLUDES];
	size_t inc_count;
};

struct tree {
	char root[PATH_MAX];
	struct source_file *files;
	size_t count;
};

struct report {
	char *messages[LAYOUT_MAX_MESSAGES];
	size_t count;
};

static void report_add(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(struct report *r, const char *fmt, ...)
{
	if (r->count == LAYOUT_MAX_MESSAGES)
		return;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_neq(vasprintf(&r->messages[r->count], fmt, ap), -1);
	va_end(ap);
	r->count++;
}

static bool report_has(const struct report *r, const char *text)
{
	for (size_t i = 0; i < r->count; i++)
		if (strstr(r->messages[i], text))
			return true;
	return false;
}

static void report_free(struct report *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->messages[i]);
	r->count = 0;
}

/* --- reading the tree ----------------------------------------------------- */

/* `#include "target"` (blanks allowed around '#'): the target, or NULL. */
static const char *include_target(const char *line, char *out, size_t cap)
{
	line += strspn(line, " \t");
	if (*line++ != '#')
		return NULL;
	line += strspn(line, " \t");
	if (strncmp(line, "include", 7) != 0)
		return NULL;
	line += 7;
	line += strspn(line, " \t");
	if (*line++ != '"')
		return NULL;
	const char *end = strchr(line, '"');
	if (!end || (size_t)(end - line) >= cap)
		return NULL;
	memcpy(out, line, (size_t)(end - line));
	out[end - line] = '\0';
	return out;
}

static void read_source(const struct tree *t, struct source_file *f)
{
	char full[PATH_MAX * 2];
	snprintf(full, sizeof(full), "%s/%s", t->root, f->path);
	FILE *in = fopen(full, "re");
	cr_assert(in, "cannot read %s", full);
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, in) >= 0) {
		f->lines++;
		char target[128];
		if (!include_target(line, target, sizeof(target)))
			continue;
		cr_assert_lt(f->inc_count, LAYOUT_MAX_INCLUDES, "%s: too many includes", f->path);
		struct include_line *inc = &f->inc[f->inc_count++];
		snprintf(inc->target, sizeof(inc->target), "%s", target);
		inc->line = (unsigned)f->lines;
		inc->file = -1;
	}
	free(line);
	fclose(in);
}

static void add_source(struct tree *t, const char *path)
{
	cr_assert_lt(t->count, LAYOUT_MAX_FILES, "too many files in src/");
	struct source_file *f = &t->files[t->count++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	const char *rest = path + strlen("src/");
	const char *slash = strchr(rest, '/');
	snprintf(f->folder, sizeof(f->folder), "%.*s", slash ? (int)(slash - rest) : 0, rest);
	size_t len = strlen(path);
	f->header = path[len - 1] == 'h';
	snprintf(f->module, sizeof(f->module), "%.*s", (int)(len - 2), path);
	read_source(t, f);
}

/* Every .c and .h file below `dir` (a path from the root). */
static void walk(struct tree *t, const char *dir)
{
	char full[PATH_MAX * 2];
	snprintf(full, sizeof(full), "%s/%s", t->root, dir);
	DIR *d = opendir(full);
	cr_assert(d, "cannot list %s", full);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[256];
		int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cr_assert(n > 0 && (size_t)n < sizeof(path), "path too long under %s", dir);
		snprintf(full, sizeof(full), "%s/%s", t->root, path);
		struct stat st;
		cr_assert_eq(lstat(full, &st), 0, "cannot stat %s", full);
		size_t len = strlen(e->d_name);
		if (S_ISDIR(st.st_mode))
			walk(t, path);
		else if (S_ISREG(st.st_mode) && len > 2 && e->d_name[len - 2] == '.' &&
			 (e->d_name[len - 1] == 'c' || e->d_name[len - 1] == 'h'))
			add_source(t, path);
	}
	closedir(d);
}

/* The file of the tree at `path` ("src/wire/../monitor/x.h" is
 * "src/monitor/x.h"), or -1. */
static int find_file(const struct tree *t, const char *path)
{
	char clean[PATH_MAX];
	if (path_lexical("/", path, clean, sizeof(clean)) < 0)
		return -1;
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->files[i].path, clean + 1) == 0)
			return (int)i;
	return -1;
}

/* As the compiler finds a quoted include: next to the including file,
 * then in src/ (-Isrc). */
static void resolve_includes(struct tree *t)
{
	for (size_t i = 0; i < t->count; i++) {
		struct source_file *f = &t->files[i];
		const char *slash = strrchr(f->path, '/');
		for (size_t j = 0; j < f->inc_count; j++) {
			char path[512];
			snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - f->path), f->path,
				 f->inc[j].target);
			int found = find_file(t, path);
			if (found < 0) {
				snprintf(path, sizeof(path), "src/%s", f->inc[j].target);
				found = find_file(t, path);
			}
			f->inc[j].file = found;
		}
	}
}

static int compare_files(const void *a, const void *b)
{
	return strcmp(((const struct source_file *)a)->path,
		      ((const struct source_file *)b)->path);
}

static void tree_load(struct tree *t, const char *root)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->root, sizeof(t->root), "%s", root);
	t->files = calloc(LAYOUT_MAX_FILES, sizeof(*t->files));
	cr_assert(t->files);
	walk(t, "src");
	qsort(t->files, t->count, sizeof(*t->files), compare_files);
	resolve_includes(t);
}

static void tree_free(struct tree *t)
{
	free(t->files);
	t->files = NULL;
}

/* The repository: where the Makefile says it was built from, or the
 * working directory (tests run from the root), or its parent. */
static void find_root(char *out, size_t cap)
{
	const char *candidates[] = {
#ifdef PRIVMAN_SOURCE_DIR
		PRIVMAN_SOURCE_DIR,
#endif
		".", "..", NULL,
	};
	for (size_t i = 0; candidates[i]; i++) {
		char probe[PATH_MAX];
		snprintf(probe, sizeof(probe), "%s/src/policy/policy.h", candidates[i]);
		if (access(probe, R_OK) == 0) {
			snprintf(out, cap, "%s", candidates[i]);
			return;
		}
	}
	cr_assert_fail("cannot find the source tree (src/policy/policy.h) from %s",
		       getcwd(out, cap) ? out : "?");
}

/* --- the rules -------------------------------------------------------------- */

/* Why a file of folder `from` may not include a header of folder `to`, or
 * NULL when it may. */
static const char *forbidden(const char *from, const char *to)
{
	bool to_monitor = strcmp(to, "monitor") == 0;
	bool to_program = strcmp(to, "program") == 0;
	if (strcmp(from, "program") == 0 && to_monitor)
		return "program code runs unprivileged and never includes a monitor header";
	if (strcmp(from, "policy") == 0 && (to_monitor || to_program || strcmp(to, "scope") == 0))
		return "the policy language and its pure decision include no monitor/, "
		       "program/ or scope/ header";
	if ((strcmp(from, "scope") == 0 || strcmp(from, "wire") == 0 ||
	     strcmp(from, "common") == 0) &&
	    (to_monitor || to_program))
		return "what both sides and the tools share includes no monitor/ or program/ "
		       "header";
	return NULL;
}

struct walk_state {
	const struct tree *t;
	int origin;                           /* the file whose reach is walked */
	bool *seen;
	const struct include_line *first;     /* the origin's include that leads here */
	char chain[1024];                     /* " -> src/x.h:3 -> ..." below the first */
	struct report *r;
};

static void reach(struct walk_state *w, int file)
{
	const struct source_file *f = &w->t->files[file];
	for (size_t i = 0; i < f->inc_count; i++) {
		const struct include_line *inc = &f->inc[i];
		if (inc->file < 0 || w->seen[inc->file])
			continue;
		w->seen[inc->file] = true;
		size_t mark = strlen(w->chain);
		if (file == w->origin)
			w->first = inc;
		else
			snprintf(w->chain + mark, sizeof(w->chain) - mark, " -> %s:%u includes %s",
				 f->path, inc->line, inc->target);
		const struct source_file *to = &w->t->files[inc->file];
		const char *from = w->t->files[w->origin].folder;
		const char *why = forbidden(from, to->folder);
		if (why)
			report_add(w->r, "%s:%u: includes %s%s, a %s/ header: %s",
				   w->t->files[w->origin].path, w->first->line, w->first->target,
				   w->chain, to->folder, why);
		reach(w, inc->file);
		w->chain[mark] = '\0';
	}
}

static void check_includes(const struct tree *t, struct report *r)
{
	bool *seen = calloc(t->count, sizeof(*seen));
	cr_assert(seen);
	for (size_t i = 0; i < t->count; i++) {
		memset(seen, 0, t->count * sizeof(*seen));
		seen[i] = true;
		struct walk_state w = { .t = t, .origin = (int)i, .seen = seen, .r = r };
		reach(&w, (int)i);
	}
	free(seen);
}

static void check_lengths(const struct tree *t, struct report *r)
{
	for (size_t i = 0; i < t->count; i++)
		if (t->files[i].lines > LAYOUT_MAX_LINES)
			report_add(r, "%s:%d: %zu lines, more than %d: split it along a seam",
				   t->files[i].path, LAYOUT_MAX_LINES + 1, t->files[i].lines,
				   LAYOUT_MAX_LINES);
}

/* --- circles between modules ------------------------------------------------ */

/* Modules are numbered by the first of their files (the .c sorts before
 * the .h): module_of[i] is the module of file i. */
struct modules {
	const struct tree *t;
	int *module_of;
	int *state; /* per module: 0 not visited, 1 on the path, 2 done */
	int *path;  /* the modules on the current path, by depth */
	const struct include_line **via; /* the include that left each of them */
	int *via_file;
	size_t depth;
	struct report *r;
};

static void number_modules(struct modules *m)
{
	for (size_t i = 0; i < m->t->count; i++) {
		m->module_of[i] = (int)i;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(m->t->files[j].module, m->t->files[i].module) == 0) {
				m->module_of[i] = m->module_of[j];
				break;
			}
		}
	}
}

static void report_circle(struct modules *m, size_t from)
{
	char text[2048] = "";
	size_t used = 0;
	for (size_t k = from; k < m->depth; k++) {
		const struct source_file *f = &m->t->files[m->via_file[k]];
		int n = snprintf(text + used, sizeof(text) - used, "%s%s:%u includes %s",
				 used ? " -> " : "", f->path, m->via[k]->line, m->via[k]->target);
		if (n < 0 || (size_t)n >= sizeof(text) - used)
			break;
		used += (size_t)n;
	}
	report_add(m->r, "%s: a circle between modules: %s",
		   m->t->files[m->path[from]].module, text);
}

static void visit_module(struct modules *m, int module)
{
	m->state[module] = 1;
	m->path[m->depth++] = module;
	for (size_t i = 0; i < m->t->count; i++) {
		if (m->module_of[i] != module)
			continue;
		const struct source_file *f = &m->t->files[i];
		for (size_t j = 0; j < f->inc_count; j++) {
			int target = f->inc[j].file;
			if (target < 0 || m->module_of[target] == module)
				continue;
			int next = m->module_of[target];
			m->via[m->depth - 1] = &f->inc[j];
			m->via_file[m->depth - 1] = (int)i;
			if (m->state[next] == 1) {
				size_t from = 0;
				while (m->path[from] != next)
					from++;
				report_circle(m, from);
			} else if (m->state[next] == 0) {
				visit_module(m, next);
			}
		}
	}
	m->depth--;
	m->state[module] = 2;
}

static void check_circles(const struct tree *t, struct report *r)
{
	size_t n = t->count ? t->count : 1;
	struct modules m = {
		.t = t, .r = r,
		.module_of = calloc(n, sizeof(int)), .state = calloc(n, sizeof(int)),
		.path = calloc(n, sizeof(int)), .via = calloc(n, sizeof(*m.via)),
		.via_file = calloc(n, sizeof(int)),
	};
	cr_assert(m.module_of && m.state && m.path && m.via && m.via_file);
	number_modules(&m);
	for (size_t i = 0; i < t->count; i++)
		if (m.module_of[i] == (int)i && m.state[i] == 0)
			visit_module(&m, (int)i);
	free(m.module_of);
	free(m.state);
	free(m.path);
	free(m.via);
	free(m.via_file);
}

/* --- the checker on a tree made to break each rule once -------------------- */

/* mkdir -p, for the made tree. */
static void make_dirs(char *dir)
{
	for (char *slash = strchr(dir + 1, '/');; slash = strchr(slash + 1, '/')) {
		if (slash)
			*slash = '\0';
		cr_assert(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir %s", dir);
		if (!slash)
			return;
		*slash = '/';
	}
}

static void put_file(const char *root, const char *path, const char *text, size_t filler)
{
	char full[PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", root, path);
	char *slash = strrchr(full, '/');
	*slash = '\0';
	make_dirs(full);
	*slash = '/';
	FILE *out = fopen(full, "we");
	cr_assert(out, "cannot write %s", full);
	fputs(text, out);
	for (size_t i = 0; i < filler; i++)
		fputs("/* filler */\n", out);
	cr_assert_eq(fclose(out), 0);
}

static void make_bad_tree(char *root, size_t cap)
{
	snprintf(root, cap, "/tmp/pmtest-layout-XXXXXX");
	cr_assert(mkdtemp(root));
	put_file(root, "src/policy/policy.h", "/* the marker find_root looks for */\n", 0);
	put_file(root, "src/monitor/monitor.h", "\n", 0);
	/* Through a wire header, on the include's own line 3. */
	put_file(root, "src/program/client.c",
		 "/* program */\n#include <stdio.h>\n#include \"wire/wire.h\"\n", 0);
	put_file(root, "src/wire/wire.h", "#include \"../monitor/monitor.h\"\n", 0);
	put_file(root, "src/policy/decide.c", "#include \"scope/drop.h\"\n", 0);
	put_file(root, "src/scope/drop.h", "\n", 0);
	/* a.c -> b.h, b.c -> a.h: a circle. */
	put_file(root, "src/split/a.c", "#include \"split/b.h\"\n", 0);
	put_file(root, "src/split/a.h", "\n", 0);
	put_file(root, "src/split/b.c", "#include \"a.h\"\n", 0);
	put_file(root, "src/split/b.h", "\n", 0);
	put_file(root, "src/common/long.c", "", LAYOUT_MAX_LINES + 1);
	put_file(root, "src/common/fits.c", "", LAYOUT_MAX_LINES);
}

Test(layout, checker_finds_each_breach)
{
	char root[64];
	make_bad_tree(root, sizeof(root));
	struct tree t;
	tree_load(&t, root);
	struct report r = { 0 };

	check_includes(&t, &r);
	cr_expect(report_has(&r, "src/program/client.c:3: includes wire/wire.h -> "
				 "src/wire/wire.h:1 includes ../monitor/monitor.h, a monitor/ header"),
		  "a monitor header reached through another header is found");
	cr_expect(report_has(&r, "src/wire/wire.h:1: includes ../monitor/monitor.h"));
	cr_expect(report_has(&r, "src/policy/decide.c:1: includes scope/drop.h, a scope/ header"));
	cr_expect_eq(r.count, 3, "exactly the three breaches, not %zu", r.count);
	report_free(&r);

	check_lengths(&t, &r);
	cr_expect(report_has(&r, "src/common/long.c:801: 801 lines"));
	cr_expect_eq(r.count, 1, "only the file over the limit, not %zu", r.count);
	report_free(&r);

	check_circles(&t, &r);
	cr_expect(report_has(&r, "a circle between modules: src/split/a.c:1 includes split/b.h -> "
				 "src/split/b.c:1 includes a.h"));
	cr_expect_eq(r.count, 1, "one circle, not %zu", r.count);
	report_free(&r);

	tree_free(&t);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_expect_eq(system(cmd), 0);
}

/* --- the rules on this tree -------------------------------------------------- */

static void check_tree(void (*check)(const struct tree *, struct report *), const char *what)
{
	char root[PATH_MAX];
	find_root(root, sizeof(root));
	struct tree t;
	tree_load(&t, root);
	cr_assert_gt(t.count, 20, "src/ under %s holds only %zu source files", root, t.count);
	struct report r = { 0 };
	check(&t, &r);
	for (size_t i = 0; i < r.count; i++)
		cr_log_error("%s", r.messages[i]);
	cr_expect_eq(r.count, 0, "%zu %s (listed above)", r.count, what);
	report_free(&r);
	tree_free(&t);
}

Test(layout, includes_respect_the_boundary)
{
	check_tree(check_includes, "includes across the privilege boundary");
}

/* Fails until every long file is split: each is named. */
Test(layout, no_file_over_800_lines)
{
	check_tree(check_lengths, "files over 800 lines");
}

/* Fails while modules call each other in a circle: each circle is named. */
Test(layout, no_circle_between_modules)
{
	check_tree(check_circles, "circles between modules");
}
