/* libFuzzer harness for policy_decide(): the input picks a policy from a
 * small vocabulary (written as policy text and loaded by the real parser)
 * and a series of requests; each request is decided by policy_decide() and
 * by a naive matcher below, written from privman.conf(5) (and the note of
 * priv_bind(3) on IPv4-mapped addresses) rather than from decide.c. Any
 * disagreement aborts with both answers.
 *
 * The vocabulary is small on purpose, so that rules and requests meet:
 * path elements a, ab, b, "c d", wildcards * and ** as last elements, a few
 * ports, addresses, users, chroots, PAM services (auth lists, auth true for
 * the application's own service, auth false) and custom handles. Statements
 * that decide nothing here are written too (run { env }, allow_namespaces,
 * custom_timeout), so that they are parsed among the others and shown not
 * to change a decision. Users are resolved by this harness
 * (name -> uid from a fixed table) so that nothing depends on the system's
 * user database. */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "policy/conf.h"
#include "policy/envfilter.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- the input ------------------------------------------------------------ */

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned pick(struct input *in, unsigned n)
{
	if (!in->left || n <= 1)
		return 0;
	in->left--;
	return *in->p++ % n;
}

/* --- vocabulary ------------------------------------------------------------- */

static const char *const elements[] = {"a", "ab", "b", "c d"};
#define N_ELEMENTS (sizeof(elements) / sizeof(elements[0]))

struct user {
	const char *name;
	uid_t uid;
};
static const struct user users[] = {
	{"root", 0}, {"daemon", 1}, {"bin", 2}, {"nobody", 65534}, {"pmfuzz", 1000},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static const char *const chroots[] = {NULL, "/jail/a", "/jail/b"};
#define N_CHROOTS (sizeof(chroots) / sizeof(chroots[0]))

/* A clean absolute path of 0-3 elements; "/" for none. */
static void gen_path(struct input *in, char *out, size_t cap)
{
	unsigned depth = pick(in, 4);
	size_t len = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < depth; i++)
		len += (size_t)snprintf(out + len, cap - len, "/%s", elements[pick(in, N_ELEMENTS)]);
	if (!depth)
		snprintf(out, cap, "/");
}

/* A path rule: a path, or a directory followed by * or **. */
static void gen_path_rule(struct input *in, char *out, size_t cap)
{
	char dir[128];
	unsigned kind = pick(in, 3);
	gen_path(in, dir, sizeof(dir));
	if (kind == 0 && strcmp(dir, "/") != 0)
		snprintf(out, cap, "%s", dir);
	else
		snprintf(out, cap, "%s%s", strcmp(dir, "/") == 0 ? "" : dir,
			 kind == 1 ? "/*" : "/**");
}

/* --- the naive model, straight from the manual -------------------------------- */

#define MAX_RULES 32 /* more than the statements of one input */

struct rules {
	char text[MAX_RULES][160];
	size_t count;
};

struct bind_entry {
	bool any_port;
	unsigned port;
	int family; /* 0: every address of both families, -1: `*:port` */
	char addr[64];
};

struct run_scope {
	bool has_program;
	char program[160];
	struct rules users;
	const char *chroot;
	unsigned env; /* index in envs[] */
};

/* run { env }: what may pass to a program the scope grants. */
static const char *const envs[] = {"", " env { LANG LC_* TZ }", " env *", " env { PATH }"};
static const char *const env_lists[][4] = {{NULL}, {"LANG", "LC_*", "TZ", NULL}, {"*", NULL},
					   {"PATH", NULL}};

struct model {
	struct rules open_ro, open_ao, open_rw, unlink, run_as, services;
	bool custom_all;
	bool custom[256];
	unsigned scalars; /* given already: once in a file (privman.conf(5)) */
	struct bind_entry bind[MAX_RULES];
	size_t bind_count;
	struct run_scope run[4];
	size_t run_count;
	bool auth, auth_allow_rerun, fork, allow_rerun;
	const char *chroot;
};

/* "A last element * means any entry directly in that directory, one level
 * only; ** means any entry at any depth below it." */
static bool path_matches(const char *rule, const char *path)
{
	size_t n = strlen(rule);
	if (n >= 3 && strcmp(rule + n - 3, "/**") == 0) {
		size_t d = n - 3; /* the directory is rule[0..d), "" for "/" */
		return strncmp(path, rule, d) == 0 && path[d] == '/' && path[d + 1] != '\0';
	}
	if (n >= 2 && strcmp(rule + n - 2, "/*") == 0) {
		size_t d = n - 2;
		return strncmp(path, rule, d) == 0 && path[d] == '/' && path[d + 1] != '\0' &&
		       !strchr(path + d + 1, '/');
	}
	return strcmp(rule, path) == 0;
}

static bool rules_match(const struct rules *r, const char *path)
{
	for (size_t i = 0; i < r->count; i++)
		if (path_matches(r->text[i], path))
			return true;
	return false;
}

/* open_rw: "O_TMPFILE in dir" for dir/(one star) or a /(two stars) above it. */
static bool tmpfile_granted(const struct rules *rw, const char *dir)
{
	char probe[200];
	snprintf(probe, sizeof(probe), "%s/unnamed", strcmp(dir, "/") == 0 ? "" : dir);
	for (size_t i = 0; i < rw->count; i++) {
		size_t n = strlen(rw->text[i]);
		bool wild = (n >= 2 && strcmp(rw->text[i] + n - 2, "/*") == 0) ||
			    (n >= 3 && strcmp(rw->text[i] + n - 3, "/**") == 0);
		if (wild && path_matches(rw->text[i], probe))
			return true;
	}
	return false;
}

static bool naive_open(const struct model *m, const char *path, int flags)
{
	int acc = flags & O_ACCMODE;
	bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
	if (tmpfile)
		return tmpfile_granted(&m->open_rw, path);
	/* open_ro: O_RDONLY without O_TRUNC or O_CREAT. */
	if (acc == O_RDONLY && !(flags & (O_TRUNC | O_CREAT)) && rules_match(&m->open_ro, path))
		return true;
	/* open_ao: O_WRONLY|O_APPEND, with or without O_CREAT; never for
	 * reading, never with O_TRUNC. */
	if (acc == O_WRONLY && (flags & O_APPEND) && !(flags & O_TRUNC) &&
	    rules_match(&m->open_ao, path))
		return true;
	/* open_rw: any access mode, create and truncate. */
	return rules_match(&m->open_rw, path);
}

static bool user_matches(const struct rules *r, uid_t uid)
{
	for (size_t i = 0; i < r->count; i++) {
		if (strcmp(r->text[i], "*") == 0) {
			if (uid != 0) /* any user but root */
				return true;
			continue;
		}
		for (size_t u = 0; u < N_USERS; u++)
			if (strcmp(users[u].name, r->text[i]) == 0 && users[u].uid == uid)
				return true;
	}
	return false;
}

static bool same_chroot(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool naive_run_as(const struct model *m, uid_t uid, const char *program,
			 const char *chroot, const uid_t *authenticated, size_t n_auth)
{
	const char *want = chroot ? chroot : m->chroot; /* NULL: the policy's own */
	bool named = false;
	for (size_t i = 0; i < m->run_count; i++) {
		const struct run_scope *s = &m->run[i];
		if (s->has_program && program && path_matches(s->program, program))
			named = true;
		bool program_ok = s->has_program ? program && path_matches(s->program, program)
						 : true;
		if (program_ok && user_matches(&s->users, uid) && same_chroot(s->chroot, want))
			return true;
	}
	/* run_as: in the policy's own chroot only, and not for a program a run
	 * scope names. */
	if (!named && same_chroot(want, m->chroot) && user_matches(&m->run_as, uid))
		return true;
	/* auth_allow_rerun: priv_rerunas only, own chroot, never root. */
	if (!program && m->auth_allow_rerun && uid != 0 && same_chroot(want, m->chroot))
		for (size_t i = 0; i < n_auth; i++)
			if (authenticated[i] == uid)
				return true;
	return false;
}

static bool naive_bind(const struct model *m, int family, unsigned port, const char *addr)
{
	if (port == 0)
		return false; /* "Port 0 is refused" */
	for (size_t i = 0; i < m->bind_count; i++) {
		const struct bind_entry *b = &m->bind[i];
		if (!b->any_port && b->port != port)
			continue;
		if (b->family <= 0)
			return true;
		/* An IPv4-mapped IPv6 address is not an IPv4 address. */
		if (b->family == family && strcmp(b->addr, addr) == 0)
			return true;
	}
	return false;
}


/* auth: "auth { SERVICE ... } grants the services named"; "auth true grants
 * one service only: the one named like the application (lowercased as PAM
 * does)"; "auth false revokes what the auth statements before it granted;
 * lists given after it add again". A service is "a plain PAM service name,
 * in lower case as PAM uses it: letters, digits and . _ - + @, no /, not .
 * or ..": the name asked for is lowercased as PAM does, then must be such
 * a name. Without a service (may the program begin a transaction at all):
 * some service is granted. */
static bool service_name(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in);
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = out[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-+@", c)))
			return false;
	}
	return true;
}

static bool naive_auth(const struct model *m, const char *service, const char *app)
{
	if (!service)
		return m->services.count > 0 || m->auth;
	char want[256], own[256];
	if (!service_name(service, want, sizeof(want)))
		return false;
	for (size_t i = 0; i < m->services.count; i++)
		if (strcmp(m->services.text[i], want) == 0)
			return true;
	return m->auth && app && service_name(app, own, sizeof(own)) && strcmp(own, want) == 0;
}

/* custom: "the custom functions the program may invoke, named by the
 * handle ... * grants every function the program registers"; lists
 * accumulate. Whether a handle names a registered function is custom.c's
 * check, made before the policy's (ENOENT): `*` grants whatever handle it
 * is asked about. */
static bool naive_custom(const struct model *m, int32_t handle)
{
	if (m->custom_all)
		return true;
	return handle >= 0 && handle <= 255 && m->custom[handle];
}

/* --- building the policy -------------------------------------------------------- */

static const char *const bool_words[] = {"true", "false", "yes", "no", "on", "off", "1", "0",
					 "TRUE", "Off"};
#define N_BOOL_WORDS (sizeof(bool_words) / sizeof(bool_words[0]))

static bool bool_value(const char *w)
{
	return strcasecmp(w, "true") == 0 || strcasecmp(w, "yes") == 0 ||
	       strcasecmp(w, "on") == 0 || strcmp(w, "1") == 0;
}

struct port_word {
	const char *text;
	unsigned port;
};
static const struct port_word ports[] = {{"25", 25}, {"80", 80}, {"8080", 8080},
					 {"smtp", 25}, {"*", 0}};
#define N_PORTS (sizeof(ports) / sizeof(ports[0]))
static const char *const addrs4[] = {"127.0.0.1", "10.1.2.3", "0.0.0.0"};
static const char *const addrs6[] = {"::1", "::", "::ffff:127.0.0.1", "fe80::1"};

static void add_rule(struct rules *r, const char *text)
{
	if (r->count < MAX_RULES)
		snprintf(r->text[r->count++], sizeof(r->text[0]), "%s", text);
}

#define TEXT_MAX 8192

static size_t put(char *text, size_t len, const char *fmt, const char *a, const char *b)
{
	if (len >= TEXT_MAX)
		return len;
	int n = snprintf(text + len, TEXT_MAX - len, fmt, a, b);
	return n < 0 ? len : len + (size_t)n;
}

static size_t gen_statement(struct input *in, struct model *m, char *text, size_t len)
{
	static const char *const dirs[] = {"open_ro", "open_ao", "open_rw", "unlink"};
	char rule[160];
	unsigned kind = pick(in, 14);
	switch (kind) {
	case 0: case 1: case 2: case 3: {
		struct rules *r[] = {&m->open_ro, &m->open_ao, &m->open_rw, &m->unlink};
		if (r[kind]->count == MAX_RULES)
			return len;
		gen_path_rule(in, rule, sizeof(rule));
		add_rule(r[kind], rule);
		/* Upper case names: directive names are case-insensitive. */
		return put(text, len, pick(in, 2) ? "%s \"%s\"\n" : "%s { \"%s\" }\n",
			   pick(in, 4) ? dirs[kind] : (kind == 0 ? "OPEN_RO" : dirs[kind]), rule);
	}
	case 4: {
		if (m->bind_count == MAX_RULES)
			return len;
		struct bind_entry *b = &m->bind[m->bind_count];
		const struct port_word *pw = &ports[pick(in, N_PORTS)];
		b->any_port = pw->port == 0;
		b->port = pw->port;
		unsigned a = pick(in, 4);
		char word[96];
		if (a == 0) {
			b->family = 0;
			snprintf(word, sizeof(word), "%s", pw->text);
		} else if (a == 1) {
			b->family = -1;
			snprintf(word, sizeof(word), "*:%s", pw->text);
		} else if (a == 2) {
			b->family = AF_INET;
			snprintf(b->addr, sizeof(b->addr), "%s", addrs4[pick(in, 3)]);
			snprintf(word, sizeof(word), "%s:%s", b->addr, pw->text);
		} else {
			b->family = AF_INET6;
			snprintf(b->addr, sizeof(b->addr), "%s", addrs6[pick(in, 4)]);
			snprintf(word, sizeof(word), "[%s]:%s", b->addr, pw->text);
		}
		m->bind_count++;
		return put(text, len, "bind \"%s\"%s\n", word, "");
	}
	case 5: {
		const char *name = pick(in, 3) ? users[pick(in, N_USERS - 1)].name : "*";
		add_rule(&m->run_as, name);
		return put(text, len, "%s \"%s\"\n", pick(in, 2) ? "run_as" : "runas", name);
	}
	case 6: {
		static const char *const names[] = {"auth", "auth_allow_rerun", "fork",
						    "allow_rerun"};
		bool *v[] = {&m->auth, &m->auth_allow_rerun, &m->fork, &m->allow_rerun};
		unsigned which = pick(in, 4);
		const char *w = bool_words[pick(in, N_BOOL_WORDS)];
		if (m->scalars & (1u << which))
			return len; /* "within one file a scalar may be given once" */
		m->scalars |= 1u << which;
		*v[which] = bool_value(w); /* a scalar given again replaces it */
		if (which == 0 && !*v[which])
			m->services.count = 0; /* auth false revokes the lists before it */
		return put(text, len, "%s %s\n", names[which], w);
	}
	case 7: {
		if (m->run_count == 4)
			return len;
		struct run_scope *s = &m->run[m->run_count++];
		memset(s, 0, sizeof(*s));
		len = put(text, len, "run {%s%s", "", "");
		if (pick(in, 3)) {
			s->has_program = true;
			gen_path_rule(in, s->program, sizeof(s->program));
			len = put(text, len, " program \"%s\"%s", s->program, "");
		}
		unsigned n = 1 + pick(in, 2);
		len = put(text, len, " user {%s%s", "", "");
		for (unsigned i = 0; i < n; i++) {
			const char *name = pick(in, 3) ? users[pick(in, N_USERS - 1)].name : "*";
			add_rule(&s->users, name);
			len = put(text, len, " \"%s\"%s", name, "");
		}
		len = put(text, len, " }%s%s", "", "");
		s->chroot = chroots[pick(in, N_CHROOTS)];
		if (s->chroot)
			len = put(text, len, " chroot \"%s\"%s", s->chroot, "");
		/* env decides what passes, not whether the program runs. */
		s->env = pick(in, 4);
		len = put(text, len, "%s%s", envs[s->env], "");
		return put(text, len, " }\n%s%s", "", "");
	}
	case 8:
		if (m->chroot)
			return len; /* one value: a second one would disagree */
		m->chroot = chroots[1 + pick(in, N_CHROOTS - 1)];
		return put(text, len, pick(in, 2) ? "chroot \"%s\"\n%s" : "security { chroot \"%s\" }\n%s",
			   m->chroot, "");
	case 10: {
		/* auth { SERVICE ... }, also in ( ) */
		static const char *const services[] = {"login", "imap", "fuzz", "su", "a.b",
						       "x_y-1+@", "sshd"};
		if (m->services.count + 3 > MAX_RULES)
			return len; /* the model holds what the policy holds */
		bool paren = pick(in, 4) == 0;
		unsigned n = 1 + pick(in, 3);
		len = put(text, len, "%s %s", pick(in, 4) ? "auth" : "AUTH", paren ? "(" : "{");
		for (unsigned i = 0; i < n; i++) {
			const char *name = services[pick(in, 7)];
			add_rule(&m->services, name);
			len = put(text, len, " %s%s", name, "");
		}
		return put(text, len, " %s\n%s", paren ? ")" : "}", "");
	}
	case 11: {
		/* custom { HANDLE ... } or custom * */
		if (pick(in, 5) == 0) {
			m->custom_all = true;
			return put(text, len, "custom *\n%s%s", "", "");
		}
		static const char *const handles[] = {"0", "1", "2", "3", "255", "4"};
		static const int values[] = {0, 1, 2, 3, 255, 4};
		unsigned n = 1 + pick(in, 3);
		len = put(text, len, "custom {%s%s", "", "");
		for (unsigned i = 0; i < n; i++) {
			unsigned h = pick(in, 6);
			m->custom[values[h]] = true;
			len = put(text, len, " %s%s", handles[h], "");
		}
		return put(text, len, " }\n%s%s", "", "");
	}
	case 12:
		/* Decides nothing asked here. */
		switch (pick(in, 3)) {
		case 0:
			if (m->scalars & (1u << 4))
				return len;
			m->scalars |= 1u << 4;
			return put(text, len, "allow_namespaces %s\n%s", bool_words[pick(in, N_BOOL_WORDS)],
				   "");
		case 1:
			if (m->scalars & (1u << 5))
				return len;
			m->scalars |= 1u << 5;
			return put(text, len, "custom_timeout %s\n%s", pick(in, 2) ? "1" : "3600", "");
		default:
			return put(text, len, "# nothing %s%s\n", "", "");
		}
	default:
		return put(text, len, "# nothing %s%s\n", "", "");
	}
}

/* policy_validate() resolves users with the system's database; the
 * harness resolves them from its own table instead. */
static void resolve_users(struct runas_rules *r)
{
	for (size_t i = 0; i < r->count; i++)
		for (size_t u = 0; u < N_USERS; u++)
			if (strcmp(r->rules[i].name, users[u].name) == 0) {
				r->rules[i].uid = users[u].uid;
				r->rules[i].gid = users[u].uid;
			}
}

/* --- requests ---------------------------------------------------------------------- */

static const char *program_text;

/* The environment a caller passes, and what privman.conf(5) says of each
 * entry: "a name, a name ending in * (any name that begins so), or * alone";
 * never (priv_execve(3)) what glibc drops for AT_SECURE programs, LD_*,
 * MALLOC_*, GLIBC_TUNABLES and the shell hooks. An entry without '=' or
 * with a name that is not one is dropped. */
static char *const caller_env[] = {
	"LANG=C",	   "LC_ALL=C", "TZ=UTC",	    "PATH=/bin",     "LD_PRELOAD=/x.so",
	"HOME=/",	   "LCX=1",    "MALLOC_CHECK_=3", "GCONV_PATH=/x", "BASH_FUNC_x%%=() {",
	"=x",		   "NOEQ",     "LC_=1",		    "TZDIR=/x",      "GLIBC_TUNABLES=x",
	"BASH_ENV=/x", "PS4=$(x)", "LANGUAGE=en",
};
#define N_CALLER_ENV (sizeof(caller_env) / sizeof(caller_env[0]))
static const char *const never_names[] = {"LD_PRELOAD", "MALLOC_CHECK_", "GCONV_PATH",
					  "BASH_FUNC_x%%", "TZDIR", "GLIBC_TUNABLES", "BASH_ENV",
					  "PS4"};

static bool naive_env_passes(unsigned list, const char *entry)
{
	const char *eq = strchr(entry, '=');
	if (!eq || eq == entry)
		return false;
	size_t n = (size_t)(eq - entry);
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)n, entry);
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '_' || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= 'a' && name[i] <= 'z') || (i && name[i] >= '0' && name[i] <= '9')))
			return false;
	for (size_t i = 0; i < sizeof(never_names) / sizeof(never_names[0]); i++)
		if (strcmp(name, never_names[i]) == 0)
			return false;
	for (size_t i = 0; env_lists[list][i]; i++) {
		const char *pat = env_lists[list][i];
		size_t pl = strlen(pat);
		if (pat[pl - 1] == '*' ? strncmp(name, pat, pl - 1) == 0 : strcmp(name, pat) == 0)
			return true;
	}
	return false;
}

/* A run_as granted by a run scope: that scope grants the request, and its
 * env list lets pass what the manual says. */
static void check_run_scope(const struct policy *p, const struct model *m,
			    const struct policy_request *req, const struct policy_decision *d,
			    const char *what)
{
	if (!d->allow || !d->run)
		return;
	size_t i = (size_t)(d->run - p->run.rules);
	if (i >= p->run.count || i >= m->run_count) {
		fprintf(stderr, "fuzz_decide: %s: granted by a run scope that is not one\n", what);
		abort();
	}
	const struct run_scope *s = &m->run[i];
	bool program_ok = s->has_program ? req->program && path_matches(s->program, req->program)
					 : true;
	const char *want = req->chroot ? req->chroot : m->chroot;
	if (!program_ok || !user_matches(&s->users, req->uid) || !same_chroot(s->chroot, want)) {
		fprintf(stderr, "fuzz_decide: %s: granted by run scope %zu, which does not grant "
				"it\npolicy:\n%s\n",
			what, i + 1, program_text);
		abort();
	}
	char *out[N_CALLER_ENV + 1];
	struct env_report report;
	memset(&report, 0, sizeof(report));
	size_t passed = env_filter(caller_env, N_CALLER_ENV, d->run->env, d->run->env_count, out,
				   &report);
	size_t k = 0;
	for (size_t e = 0; e < N_CALLER_ENV; e++) {
		bool naive = naive_env_passes(s->env, caller_env[e]);
		bool got = k < passed && out[k] == caller_env[e];
		if (got)
			k++;
		if (naive != got) {
			fprintf(stderr, "fuzz_decide: %s: env_filter and privman.conf(5) disagree "
					"on %s under%s: env_filter %s, naive %s\n",
				what, caller_env[e], envs[s->env], got ? "passes" : "drops",
				naive ? "passes" : "drops");
			abort();
		}
	}
	if (k != passed || out[passed] != NULL) {
		fprintf(stderr, "fuzz_decide: env_filter passed entries out of order\n");
		abort();
	}
}


static const int open_flags[] = {
	O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_CREAT,
	O_WRONLY | O_APPEND, O_WRONLY | O_APPEND | O_CREAT, O_WRONLY | O_APPEND | O_TRUNC,
	O_RDWR | O_APPEND, O_WRONLY | O_CREAT | O_TRUNC, O_RDWR | O_CREAT, O_WRONLY | O_TMPFILE,
	O_RDWR | O_TMPFILE, O_RDONLY | O_CLOEXEC, O_WRONLY | O_APPEND | O_CLOEXEC,
};
#define N_OPEN_FLAGS (sizeof(open_flags) / sizeof(open_flags[0]))


static void __attribute__((noreturn))
disagree(const char *what, bool decided, const struct policy_decision *d, bool naive)
{
	fprintf(stderr,
		"fuzz_decide: policy_decide and privman.conf(5) disagree on %s:\n"
		"  policy_decide: %s (%s: %s)\n  naive matcher: %s\npolicy:\n%s\n",
		what, decided ? "allow" : "deny", d->directive ? d->directive : "-", d->reason,
		naive ? "allow" : "deny", program_text);
	abort();
}

static void one_request(struct input *in, const struct policy *p, const struct model *m)
{
	struct policy_request req;
	struct policy_decision d;
	char path[160], what[512];
	bool naive;
	memset(&req, 0, sizeof(req));
	switch (pick(in, 8)) {
	case 0: {
		gen_path(in, path, sizeof(path));
		req.op = POLICY_OP_OPEN;
		req.path = path;
		req.flags = open_flags[pick(in, N_OPEN_FLAGS)];
		naive = naive_open(m, path, req.flags);
		snprintf(what, sizeof(what), "open %s flags %#o", path, (unsigned)req.flags);
		break;
	}
	case 1:
		gen_path(in, path, sizeof(path));
		req.op = POLICY_OP_UNLINK;
		req.path = path;
		naive = rules_match(&m->unlink, path);
		snprintf(what, sizeof(what), "unlink %s", path);
		break;
	case 2: {
		static const unsigned req_ports[] = {0, 25, 80, 8080, 1, 65535};
		req.op = POLICY_OP_BIND;
		req.port = (uint16_t)req_ports[pick(in, 6)];
		const char *addr;
		if (pick(in, 2)) {
			req.family = AF_INET;
			addr = addrs4[pick(in, 3)];
			inet_pton(AF_INET, addr, &req.addr4);
		} else {
			req.family = AF_INET6;
			addr = addrs6[pick(in, 4)];
			inet_pton(AF_INET6, addr, &req.addr6);
		}
		naive = naive_bind(m, req.family, req.port, addr);
		snprintf(what, sizeof(what), "bind %s port %u", addr, (unsigned)req.port);
		break;
	}
	case 3: {
		static const char *const programs[] = {NULL, "/a", "/a/b", "/ab", "/a/ab/b", "/b"};
		const struct user *u = &users[pick(in, N_USERS)];
		uid_t auth[3];
		size_t n_auth = pick(in, 4);
		for (size_t i = 0; i < n_auth; i++)
			auth[i] = users[pick(in, N_USERS)].uid;
		req.op = POLICY_OP_RUN_AS;
		req.uid = u->uid;
		req.user = u->name;
		req.program = programs[pick(in, 6)];
		req.chroot = chroots[pick(in, N_CHROOTS)];
		req.authenticated = auth;
		req.authenticated_count = n_auth;
		naive = naive_run_as(m, req.uid, req.program, req.chroot, auth, n_auth);
		snprintf(what, sizeof(what), "run_as %s program %s chroot %s (%zu authenticated)",
			 u->name, req.program ? req.program : "(rerun)",
			 req.chroot ? req.chroot : "(own)", n_auth);
		policy_decide(p, &req, &d);
		if (d.allow != naive)
			disagree(what, d.allow, &d, naive);
		check_run_scope(p, m, &req, &d, what);
		return;
	}
	case 4: {
		static const char *const services[] = {NULL,   "login",  "LOGIN", "Fuzz",  "fuzz",
						       "imap", "su",     "a.b",   "x_y-1+@", "../x",
						       "/tmp/x", ".",    "..",    "",      "a/b",
						       "lo gin", "sshd", "app",   "App.1", "a\nb"};
		static const char *const apps[] = {NULL, "fuzz", "Fuzz", "login", "bad/app", "",
						   "app", "..", "APP.1"};
		req.op = POLICY_OP_AUTH;
		req.service = services[pick(in, 20)];
		req.app = apps[pick(in, 9)];
		naive = naive_auth(m, req.service, req.app);
		snprintf(what, sizeof(what), "auth service %s app %s",
			 req.service ? req.service : "(none)", req.app ? req.app : "(none)");
		break;
	}
	case 5: {
		static const int32_t handles[] = {0, 1, 2, 3, 4, 7, 255, 256, -1, INT32_MIN};
		req.op = POLICY_OP_CUSTOM;
		req.handle = handles[pick(in, 10)];
		naive = naive_custom(m, req.handle);
		snprintf(what, sizeof(what), "custom %d", (int)req.handle);
		break;
	}
	default: {
		static const enum policy_op ops[] = {POLICY_OP_FORK, POLICY_OP_RERUN};
		unsigned which = pick(in, 2);
		req.op = ops[which];
		naive = which == 0 ? m->fork : m->allow_rerun;
		snprintf(what, sizeof(what), "%s", policy_op_name(req.op));
		break;
	}
	}
	policy_decide(p, &req, &d);
	if (d.allow != naive)
		disagree(what, d.allow, &d, naive);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[TEXT_MAX];
	static struct model m;
	struct input in = {data, size};
	memset(&m, 0, sizeof(m));
	size_t len = 0;
	unsigned statements = pick(&in, 24);
	for (unsigned i = 0; i < statements; i++)
		len = gen_statement(&in, &m, text, len);
	text[len < TEXT_MAX ? len : TEXT_MAX - 1] = '\0';
	program_text = text;

	struct diag d;
	diag_init(&d);
	struct policy *p = policy_new();
	if (!p)
		return 0;
	int rc = conf_parse_text(p, "decide.conf", text, strlen(text), CONF_NO_INCLUDE, &d);
	if (rc == 0)
		rc = policy_validate_syntax(p, &d);
	if (rc < 0) {
		/* The generator writes only what the manual allows. */
		fprintf(stderr, "fuzz_decide: the parser refused a policy the manual allows:\n%s\n",
			text);
		for (size_t i = 0; i < d.count; i++)
			fprintf(stderr, "  %s\n", d.entries[i].text);
		abort();
	}
	resolve_users(&p->run_as);
	for (size_t i = 0; i < p->run.count; i++)
		resolve_users(&p->run.rules[i].users);

	for (int i = 0; i < 64 && in.left; i++)
		one_request(&in, p, &m);
	policy_free(p);
	diag_free(&d);
	return 0;
}
