/* What the library shows a program: the shared and the static library
 * export exactly the API of include/privman.h, a program's own names never
 * replace the library's, and no signal is ever sent to a pid <= 0 (a
 * process group, or every process). Run from the top of the source tree. */
#include <ctype.h>
#include <dirent.h>
#include <signal.h>

#include "common/kill_one.h"
#include "testutil.h"

#define MAX_NAMES 512

struct names {
	size_t count;
	char *name[MAX_NAMES];
};

static void add(struct names *n, const char *name)
{
	for (size_t i = 0; i < n->count; i++)
		if (strcmp(n->name[i], name) == 0)
			return;
	cr_assert(n->count < MAX_NAMES);
	n->name[n->count++] = strdup(name);
}

static bool has(const struct names *n, const char *name)
{
	for (size_t i = 0; i < n->count; i++)
		if (strcmp(n->name[i], name) == 0)
			return true;
	return false;
}

/* The functions include/privman.h declares: priv_NAME( outside comments. */
static void api(struct names *n)
{
	FILE *f = fopen("include/privman.h", "re");
	cr_assert(f, "run from the top of the source tree");
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		const char *s = line + strspn(line, " \t");
		if (*s == '*' || *s == '/' || *s == '#')
			continue;
		for (const char *p = strstr(s, "priv_"); p; p = strstr(p + 1, "priv_")) {
			if (p > line && (p[-1] == '_' || isalnum((unsigned char)p[-1])))
				continue;
			size_t len = 5 + strspn(p + 5, "abcdefghijklmnopqrstuvwxyz0123456789_");
			if (p[len] != '(')
				continue;
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)len, p);
			add(n, name);
		}
	}
	fclose(f);
	cr_assert(n->count > 20, "%zu API functions found", n->count);
}

static const char *build(void)
{
	const char *b = getenv("BUILD");
	return b && *b ? b : "build";
}

/* Defined global names, as `nm` lists them. */
static void defined(struct names *n, const char *args)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "nm %s 2>/dev/null", args);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	char line[512];
	while (fgets(line, sizeof(line), p)) {
		char addr[64], type[8], name[256];
		if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
			continue; /* "U name", or an archive member's header */
		if (strchr("TDBRWVGSi", type[0]))
			add(n, name);
	}
	cr_assert(pclose(p) == 0, "nm %s", args);
}

static void names_free(struct names *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->name[i]);
	n->count = 0;
}

static void exactly_the_api(const char *what, const char *args)
{
	struct names want = {0}, got = {0};
	api(&want);
	defined(&got, args);
	for (size_t i = 0; i < got.count; i++)
		cr_expect(has(&want, got.name[i]), "%s exports %s, which is not in privman.h", what,
			  got.name[i]);
	for (size_t i = 0; i < want.count; i++)
		cr_expect(has(&got, want.name[i]), "%s does not export %s", what, want.name[i]);
	names_free(&want);
	names_free(&got);
}

Test(symbols, the_shared_library_exports_exactly_the_api)
{
	char args[256];
	snprintf(args, sizeof(args), "-D --defined-only %s/libprivman.so", build());
	exactly_the_api("libprivman.so", args);
}

Test(symbols, the_static_library_exports_exactly_the_api)
{
	char args[256];
	snprintf(args, sizeof(args), "-g --defined-only %s/libprivman.a", build());
	exactly_the_api("libprivman.a", args);
}

/* A program defining monitor_init(), policy_decide(), audit_flush() and
 * other internal names, linked with each library: priv_init and priv_open
 * run the library's own code (once, priv_init called the program's
 * monitor_init, and the monitor then killed its whole process group). */
static void hijack(const char *kind)
{
	PMTEST_SKIP_UNLESS_ROOT();
	char *dir = pmtest_tmpdir();
	free(pmtest_write_file(dir, "granted", "granted\n"));
	char policy[512];
	snprintf(policy, sizeof(policy), "open_ro { %s/granted }\n", dir);
	free(pmtest_write_file(dir, "hijack", policy));
	char cmd[1024], out[1024] = "";
	snprintf(cmd, sizeof(cmd),
		 "PRIVMAN_CONF_DIR=%s setsid %s/tests/hijack/hijack-%s hijack %s/granted 2>&1", dir,
		 build(), kind, dir);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	pmtest_rmtree(dir);
	free(dir);
	cr_assert_str_eq(out, "open ok: granted\n", "%s", out);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

Test(symbols, a_programs_own_names_do_not_replace_the_shared_librarys)
{
	hijack("shared");
}

Test(symbols, a_programs_own_names_do_not_replace_the_static_librarys)
{
	hijack("static");
}

Test(symbols, kill_one_never_signals_a_group_or_everyone)
{
	errno = 0;
	cr_assert_eq(kill_one(0, 0), -1);
	cr_assert_eq(errno, ESRCH);
	cr_assert_eq(kill_one(-1, 0), -1);
	cr_assert_eq(kill_one(-getpgrp(), 0), -1);
	cr_assert_eq(kill_one(getpid(), 0), 0);
}

/* Every signal the library and its tools send goes through kill_one(). */
Test(symbols, no_raw_kill_in_the_library_or_the_tools)
{
	static const char *const dirs[] = {"src", "tools"};
	for (size_t d = 0; d < 2; d++) {
		DIR *dp = opendir(dirs[d]);
		cr_assert(dp, "run from the top of the source tree");
		struct dirent *e;
		while ((e = readdir(dp))) {
			size_t len = strlen(e->d_name);
			if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0)
				continue;
			char path[512], line[1024];
			snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
			FILE *f = fopen(path, "re");
			cr_assert(f);
			for (int no = 1; fgets(line, sizeof(line), f); no++)
				for (const char *p = strstr(line, "kill"); p; p = strstr(p + 1, "kill")) {
					bool ident = p > line && (p[-1] == '_' ||
								  isalnum((unsigned char)p[-1]));
					const char *q = p + 4;
					if (!ident && (*q == '(' || strncmp(q, "pg(", 3) == 0))
						cr_expect_fail("%s:%d: %s: use kill_one()", path, no,
							       line);
				}
			fclose(f);
		}
		closedir(dp);
	}
}
