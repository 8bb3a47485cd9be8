/* libFuzzer harness for the policy language: any bytes through the lexer,
 * the parser (includes too), the syntax validation, decide() and the dump.
 *
 * The input is read as the file "fuzz.conf" of a scratch folder that holds
 * files to include: nested ones, a cycle, a chain deeper than the parser
 * allows, a syntax error, a file writable by others, a symlink, a FIFO, a
 * folder and one larger than the size limit. Every path rule of an
 * accepted policy is decided for itself, a child and a grandchild, in
 * each access mode, and for unlink. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char scratch[64];
static char name[128];

static void put(const char *file, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", scratch, file);
	FILE *f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
	chmod(path, mode);
}

static int remove_all(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void remove_scratch(void)
{
	nftw(scratch, remove_all, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[256], text[256];
	snprintf(scratch, sizeof(scratch), "/tmp/pmfuzz.conf.XXXXXX");
	if (!mkdtemp(scratch)) {
		perror("fuzz_conf: mkdtemp");
		abort();
	}
	chmod(scratch, 0755);
	atexit(remove_scratch);
	snprintf(name, sizeof(name), "%s/fuzz.conf", scratch);
	snprintf(path, sizeof(path), "%s/sub", scratch);
	mkdir(path, 0755);
	put("a.conf", "open_ro /etc/a\ninclude \"sub/b.conf\"\nauth true\n", 0644);
	put("sub/b.conf", "bind { 25 127.0.0.1:80 }\nsecurity { user nobody }\nopen_rw \"/var/b/**\"\n",
	    0644);
	put("sub/up.conf", "include \"../a.conf\"\nrun_as nobody\n", 0644);
	put("self.conf", "fork true\ninclude \"self.conf\"\n", 0644);
	put("loop1.conf", "include \"loop2.conf\"\n", 0644);
	put("loop2.conf", "include \"loop1.conf\"\n", 0644);
	put("bad.conf", "open_ro {\n", 0644);
	put("others.conf", "open_rw /\n", 0666);
	for (int i = 0; i < 20; i++) {
		char file[32];
		snprintf(file, sizeof(file), "deep%d.conf", i);
		snprintf(text, sizeof(text), "unlink /tmp/d%d\ninclude \"deep%d.conf\"\n", i, i + 1);
		put(file, text, 0644);
	}
	put("deep20.conf", "allow_rerun true\n", 0644);
	snprintf(path, sizeof(path), "%s/link.conf", scratch);
	symlink("a.conf", path);
	snprintf(path, sizeof(path), "%s/fifo.conf", scratch);
	mkfifo(path, 0644);
	snprintf(path, sizeof(path), "%s/dir.conf", scratch);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/big.conf", scratch);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, CONF_MAX_FILE_SIZE + 1) < 0)
		abort();
	close(fd);
	return 0;
}

static void decide_path(const struct policy *p, const char *path)
{
	static const int flags[] = {O_RDONLY, O_WRONLY | O_APPEND, O_RDWR | O_TRUNC,
				    O_RDONLY | O_CREAT, O_WRONLY | O_APPEND | O_CREAT,
				    O_RDWR | O_TMPFILE};
	struct policy_decision out;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct policy_request req = {.op = POLICY_OP_OPEN, .path = path, .flags = flags[i]};
		policy_decide(p, &req, &out);
	}
	struct policy_request req = {.op = POLICY_OP_UNLINK, .path = path};
	policy_decide(p, &req, &out);
}

static void decide_rules(const struct policy *p, const struct path_rules *rules)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < rules->count && i < 16; i++) {
		const struct path_rule *r = &rules->rules[i];
		decide_path(p, r->path);
		if (!r->dir)
			continue;
		const char *sep = strcmp(r->dir, "/") == 0 ? "" : "/";
		snprintf(path, sizeof(path), "%s%sx", r->dir, sep);
		decide_path(p, path);
		snprintf(path, sizeof(path), "%s%sx/y", r->dir, sep);
		decide_path(p, path);
		decide_path(p, r->dir);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = policy_new();
	if (!p)
		return 0;
	if (conf_parse_text(p, name, (const char *)data, size, 0, &d) == 0 &&
	    policy_validate_syntax(p, &d) == 0) {
		static const char *const paths[] = {"/", "/etc/passwd", "/var/spool/mail/x",
						    "/var/spool/mail/x/y", "/a b/c"};
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			decide_path(p, paths[i]);
		decide_rules(p, &p->open_ro);
		decide_rules(p, &p->open_ao);
		decide_rules(p, &p->open_rw);
		decide_rules(p, &p->unlink);
		struct policy_decision out;
		static const uint16_t ports[] = {0, 25, 80, 443};
		for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
			struct policy_request bind = {.op = POLICY_OP_BIND, .family = AF_INET,
						      .port = ports[i]};
			policy_decide(p, &bind, &out);
			bind.family = AF_INET6;
			policy_decide(p, &bind, &out);
		}
		for (size_t i = 0; i < p->run.count && i < 8; i++) {
			const struct run_rule *r = &p->run.rules[i];
			struct policy_request run = {.op = POLICY_OP_RUN_AS, .uid = 65534,
						     .user = "nobody", .chroot = r->chroot.text,
						     .program = r->has_program ? r->program.path : NULL};
			policy_decide(p, &run, &out);
		}
		struct policy_request run = {.op = POLICY_OP_RUN_AS, .uid = 0, .user = "root"};
		policy_decide(p, &run, &out);
		for (enum policy_op op = POLICY_OP_AUTH; op <= POLICY_OP_RERUN; op++) {
			struct policy_request b = {.op = op};
			policy_decide(p, &b, &out);
		}
		FILE *null = fopen("/dev/null", "we");
		if (null) {
			policy_dump(p, null);
			fclose(null);
		}
	}
	policy_free(p);
	diag_free(&d);
	return 0;
}
