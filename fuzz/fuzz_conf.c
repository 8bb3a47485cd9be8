/* libFuzzer harness for the policy language: any bytes through the lexer,
 * the parser (includes too), the syntax validation, decide() and the dump.
 *
 * The input is read as the file "fuzz.conf" of a scratch folder that holds
 * files to include: nested ones, a cycle, a chain deeper than the parser
 * allows, a syntax error, a file writable by others, a symlink, a FIFO, a
 * folder and one larger than the size limit, and files with the newer
 * statements (auth lists and auth false, custom, custom_timeout,
 * allow_namespaces, run { env }). Every path rule of an accepted policy is
 * decided for itself, a child and a grandchild, in each access mode, and
 * for unlink; every PAM service it names (and the same name in upper case,
 * and a few others) for a few application names; custom handles; each run
 * scope's env list filters a fixed environment. */
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

#include "policy/conf.h"
#include "policy/envfilter.h"
#include "policy/policy.h"

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
	put("auth.conf", "auth { login imap }\nauth ( sshd )\ncustom { 0 2 }\ncustom_timeout 5\n", 0644);
	put("noauth.conf", "auth { su }\nauth false\nauth { login }\ncustom *\n", 0644);
	put("ns.conf", "allow_namespaces true\nrun { program /bin/true user nobody env { LANG LC_* } }\n",
	    0644);
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

static void decide_service(const struct policy *p, const char *service)
{
	static const char *const apps[] = {NULL, "fuzz", "Login", "bad/app"};
	struct policy_decision out;
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
		struct policy_request r = {.op = POLICY_OP_AUTH, .service = service, .app = apps[i]};
		policy_decide(p, &r, &out);
	}
}

/* Every service the policy names, in upper case too, and a few others. */
static void decide_services(const struct policy *p)
{
	static const char *const others[] = {"login", "LOGIN", "../x", "/tmp/x", ".", "", "fuzz"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		decide_service(p, others[i]);
	for (size_t i = 0; i < p->auth_service_count && i < 16; i++) {
		char upper[256];
		const char *s = p->auth_services[i].text;
		decide_service(p, s);
		size_t n = 0;
		for (; s[n] && n < sizeof(upper) - 1; n++)
			upper[n] = (char)(s[n] >= 'a' && s[n] <= 'z' ? s[n] - 'a' + 'A' : s[n]);
		upper[n] = '\0';
		decide_service(p, upper);
	}
}

/* A run scope's env list over an environment of every kind of entry. */
static void filter_env(const struct run_rule *r)
{
	static char *const env[] = {"LANG=C", "LC_ALL=C", "LD_PRELOAD=/x.so", "PATH=/bin", "=x",
				    "NOEQ", "BASH_FUNC_x%%=() {", "TZ=UTC", "MALLOC_CHECK_=3"};
	char *out[sizeof(env) / sizeof(env[0]) + 1];
	struct env_report report;
	memset(&report, 0, sizeof(report));
	env_filter(env, sizeof(env) / sizeof(env[0]), r->env, r->env_count, out, &report);
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
		for (enum policy_op op = POLICY_OP_AUTH; op <= POLICY_OP_CUSTOM; op++) {
			struct policy_request b = {.op = op};
			policy_decide(p, &b, &out);
		}
		decide_services(p);
		static const int32_t handles[] = {0, 1, 255, 256, -1};
		for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
			struct policy_request c = {.op = POLICY_OP_CUSTOM, .handle = handles[i]};
			policy_decide(p, &c, &out);
		}
		for (size_t i = 0; i < p->run.count && i < 8; i++)
			filter_env(&p->run.rules[i]);
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
