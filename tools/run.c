/* privman run: drop to a security scope for good, then exec a command.
 *
 * The scope comes from the `security` scope of the policy files (validated
 * whole, as `privman check` would), then each command-line option replaces
 * one field, then the result is resolved against this system and applied
 * with drop_apply(DROP_FOR_EXEC), so that the kept capabilities survive the
 * exec of an unmodified program. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "commands.h"
#include "monitor/audit.h"
#include "monitor/broker.h"
#include "scope/confine.h"
#include "scope/drop.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"

/* A scope refused before anything changed: a bad file, an unknown user,
 * a capability this system cannot give, not root. */
#define EXIT_REFUSED EX_CONFIG
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127

static void run_usage(FILE *out)
{
	fprintf(out,
		"Usage: privman run [-a APP] [-c FILE]... [-u USER] [-g GROUP] [-G G1,G2]\n"
		"                   [--chroot DIR] [--caps TEXT] [--privileges TEXT]\n"
		"                   [--no-new-privs] [--allow-namespaces] [--no-broker]\n"
		"                   [--dry-run] [--] COMMAND [ARG]...\n"
		"\n"
		"Drop root for good to a security scope, then execute COMMAND (looked up in\n"
		"PATH, as the new user, inside the chroot). The scope is the `security` scope\n"
		"of the policy files; each option below replaces one of its fields. With no\n"
		"file and no option: user nobody, its primary group, no supplementary group,\n"
		"no capability.\n"
		"\n"
		"  -a, --app APP           read the policy of APP: %s/APP\n"
		"  -c, --config FILE       read the policy FILE (repeatable, in order)\n"
		"  -u, --user USER         become USER\n"
		"  -g, --group GROUP       with primary group GROUP (default: USER's group)\n"
		"  -G, --groups G1,G2      with exactly these supplementary groups\n"
		"                          (default: none; -G '' also means none)\n"
		"      --chroot DIR        chroot to DIR (root-owned, not writable by group or\n"
		"                          others), then chdir to /\n"
		"      --caps TEXT         keep these capabilities, a cap_from_text(3) text such\n"
		"                          as cap_net_bind_service+ep; they stay permitted and\n"
		"                          effective across the exec (ambient)\n"
		"      --privileges TEXT   Solaris privilege names mapped to capabilities, e.g.\n"
		"                          \"basic net_privaddr\"\n"
		"      --no-new-privs      set no_new_privs: no setuid program or file\n"
		"                          capability can grant privilege to COMMAND\n"
		"      --allow-namespaces  let COMMAND make namespaces and mounts (as\n"
		"                          `allow_namespaces true` in a policy file does);\n"
		"                          by default a seccomp filter refuses them\n"
		"      --no-broker         exec COMMAND directly even when the policy grants\n"
		"                          open, unlink or bind (see below)\n"
		"      --dry-run           print each step the drop would take; change nothing,\n"
		"                          run nothing\n"
		"  -h, --help              show this help\n"
		"\n"
		"Order of the drop: chroot and chdir /; the seccomp filter that refuses\n"
		"namespaces, mounts and chroot; the `confine` scope of the policy files,\n"
		"if any (Landlock and a seccomp filter; COMMAND may be executed); drop\n"
		"every other capability from the\n"
		"bounding set; lock the securebits noroot and no_setuid_fixup; setgroups;\n"
		"setresgid; setresuid; set the capability sets to exactly the kept ones\n"
		"(inheritable and ambient too); no_new_privs; verify it all, and that\n"
		"setuid(0) fails.\n"
		"\n"
		"The broker: when the policy has an open_ro, open_rw, open_ao, unlink or bind\n"
		"rule, a root monitor stays as the parent and COMMAND runs dropped under a\n"
		"seccomp filter that sends each open, openat, openat2, creat, unlink, unlinkat\n"
		"and bind of its whole process tree to the monitor. What the policy grants the\n"
		"monitor performs itself, as priv_open, priv_unlink and priv_bind would, and\n"
		"audits; everything else goes on in the kernel with COMMAND's own rights.\n"
		"io_uring is refused, and a call of another ABI (int 0x80) kills the process.\n"
		"Signals sent to privman run are passed on; when COMMAND ends, what it left\n"
		"running is killed; when the monitor dies, the whole tree does.\n"
		"\n"
		"Exit status: COMMAND's own; %d the scope was refused (nothing changed);\n"
		"%d the drop failed halfway (the process stopped); %d COMMAND is not\n"
		"executable; %d COMMAND was not found; %d usage error. See privman(1).\n",
		privman_conf_dir(), EXIT_REFUSED, DROP_FATAL_STATUS, EXIT_NOT_EXECUTABLE,
		EXIT_NOT_FOUND, EXIT_USAGE);
}

enum {
	OPT_CHROOT = 256,
	OPT_CAPS,
	OPT_PRIVILEGES,
	OPT_NO_NEW_PRIVS,
	OPT_ALLOW_NAMESPACES,
	OPT_DRY_RUN,
	OPT_NO_BROKER,
};

static const struct option run_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"user", required_argument, NULL, 'u'},
	{"group", required_argument, NULL, 'g'},
	{"groups", required_argument, NULL, 'G'},
	{"chroot", required_argument, NULL, OPT_CHROOT},
	{"caps", required_argument, NULL, OPT_CAPS},
	{"privileges", required_argument, NULL, OPT_PRIVILEGES},
	{"no-new-privs", no_argument, NULL, OPT_NO_NEW_PRIVS},
	{"allow-namespaces", no_argument, NULL, OPT_ALLOW_NAMESPACES},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"no-broker", no_argument, NULL, OPT_NO_BROKER},
	{"app", required_argument, NULL, 'a'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* What the command line asked for. */
struct run_request {
	const char **files;
	size_t file_count;
	const char *user;
	const char *group;
	const char *groups; /* "G1,G2" */
	const char *chroot;
	const char *caps;
	const char *privileges;
	bool no_new_privs;
	bool allow_namespaces; /* --allow-namespaces, or a file says so */
	bool dry_run;
	bool no_broker;
	char *app_file; /* -a APP: <conf dir>/APP, read first */
	char **command;
};

/* Each override is located at its option, so that a message names it. */
static const struct origin at_user = {"--user", 0, 0};
static const struct origin at_group = {"--group", 0, 0};
static const struct origin at_groups = {"--groups", 0, 0};
static const struct origin at_chroot = {"--chroot", 0, 0};
static const struct origin at_caps = {"--caps", 0, 0};
static const struct origin at_privileges = {"--privileges", 0, 0};

static int usage_error(const char *message, const char *arg)
{
	fprintf(stderr, "privman run: %s%s%s\nTry 'privman run --help'.\n", message,
		arg ? " " : "", arg ? arg : "");
	return EXIT_USAGE;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct run_request *req)
{
	int opt;
	opterr = 0;
	optind = 1;
	/* '+': stop at COMMAND, whose own options are not ours. */
	while ((opt = getopt_long(argc, argv, "+:a:c:u:g:G:h", run_options, NULL)) != -1) {
		switch (opt) {
		case 'a':
			if (!optarg[0] || optarg[0] == '.' || strchr(optarg, '/'))
				return usage_error("not an application name (use -c FILE for a "
						   "file):",
						   optarg);
			free(req->app_file);
			if (asprintf(&req->app_file, "%s/%s", privman_conf_dir(), optarg) < 0) {
				req->app_file = NULL;
				fprintf(stderr, "privman run: out of memory\n");
				return EXIT_REFUSED;
			}
			break;
		case 'c': {
			const char **grown =
				realloc(req->files, (req->file_count + 1) * sizeof(*grown));
			if (!grown) {
				fprintf(stderr, "privman run: out of memory\n");
				return EXIT_REFUSED;
			}
			req->files = grown;
			req->files[req->file_count++] = optarg;
			break;
		}
		case 'u':
			req->user = optarg;
			break;
		case 'g':
			req->group = optarg;
			break;
		case 'G':
			req->groups = optarg;
			break;
		case OPT_CHROOT:
			req->chroot = optarg;
			break;
		case OPT_CAPS:
			req->caps = optarg;
			break;
		case OPT_PRIVILEGES:
			req->privileges = optarg;
			break;
		case OPT_NO_NEW_PRIVS:
			req->no_new_privs = true;
			break;
		case OPT_ALLOW_NAMESPACES:
			req->allow_namespaces = true;
			break;
		case OPT_DRY_RUN:
			req->dry_run = true;
			break;
		case OPT_NO_BROKER:
			req->no_broker = true;
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		case ':':
			return usage_error("this option needs a value:", argv[optind - 1]);
		default:
			return usage_error("unknown option:", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("missing COMMAND: say what to run after the options "
				   "(for example: privman run -u nobody -- id)",
				   NULL);
	if (argv[optind][0] == '\0')
		return usage_error("COMMAND is empty", NULL);
	req->command = argv + optind;
	return -1;
}

static int set_value(struct policy_value *v, const char *text, const struct origin *at)
{
	char *copy = strdup(text);
	if (!copy)
		return -1;
	free(v->text);
	v->text = copy;
	v->origin = *at;
	return 0;
}

/* -G "a,b": replace the supplementary groups. An empty text means none. */
static int set_groups(struct policy_security *s, const char *list, struct diag *d)
{
	for (size_t i = 0; i < s->supplemental_count; i++)
		free(s->supplemental_groups[i].text);
	free(s->supplemental_groups);
	s->supplemental_groups = NULL;
	s->supplemental_count = 0;
	s->supplemental_set = true;
	if (*list == '\0')
		return 0;

	size_t count = 1;
	for (const char *p = list; *p; p++)
		count += *p == ',';
	s->supplemental_groups = calloc(count, sizeof(*s->supplemental_groups));
	if (!s->supplemental_groups)
		return -1;
	const char *start = list;
	for (;;) {
		const char *end = strchrnul(start, ',');
		if (end == start) {
			diag_error(d, &at_groups,
				   "\"%s\" has an empty group name: separate group names with "
				   "single commas",
				   list);
			return -1;
		}
		struct policy_value *v = &s->supplemental_groups[s->supplemental_count];
		v->text = strndup(start, (size_t)(end - start));
		if (!v->text)
			return -1;
		v->origin = at_groups;
		s->supplemental_count++;
		if (*end == '\0')
			break;
		start = end + 1;
	}
	return 0;
}

/* Apply the command line to the scope. Returns 0 or -1 (reasons in d). */
static int apply_overrides(struct policy_security *s, const struct run_request *req,
			   struct diag *d)
{
	int rc = 0;
	if (req->user && set_value(&s->user, req->user, &at_user) < 0)
		rc = -1;
	if (req->group && set_value(&s->group, req->group, &at_group) < 0)
		rc = -1;
	if (req->chroot && set_value(&s->chroot, req->chroot, &at_chroot) < 0)
		rc = -1;
	if (req->caps && set_value(&s->capabilities, req->caps, &at_caps) < 0)
		rc = -1;
	if (req->privileges && set_value(&s->privileges, req->privileges, &at_privileges) < 0)
		rc = -1;
	if (req->groups && set_groups(s, req->groups, d) < 0)
		rc = -1;
	if (rc < 0 && !d->errors)
		diag_error(d, NULL, "out of memory");
	return rc;
}

/* Print a diagnostic list, each message once: the resolver and the drop
 * may both remark on the same thing. */
static void print_diag(const struct diag *d, const struct diag *already, FILE *out)
{
	for (size_t i = 0; i < d->count; i++) {
		bool seen = false;
		for (size_t j = 0; already && j < already->count && !seen; j++)
			seen = strcmp(already->entries[j].text, d->entries[i].text) == 0;
		if (!seen)
			fprintf(out, "privman run: %s\n", d->entries[i].text);
	}
}

/* The scope of the files, validated whole; or the built-in default. A file
 * that says `allow_namespaces true` lets the command make namespaces. The
 * policy itself is kept in *policy for the broker. */
static int load_scope(struct run_request *req, struct policy_security *s, struct diag *d,
		      struct policy **policy)
{
	memset(s, 0, sizeof(*s));
	*policy = NULL;
	size_t count = req->file_count + (req->app_file ? 1 : 0);
	if (count == 0)
		return 0; /* user nobody, as policy_security_resolve() defaults */
	const char **files = calloc(count, sizeof(*files));
	if (!files) {
		diag_error(d, NULL, "out of memory");
		return -1;
	}
	size_t n = 0;
	if (req->app_file)
		files[n++] = req->app_file;
	for (size_t i = 0; i < req->file_count; i++)
		files[n++] = req->files[i];
	struct policy *p = conf_load_files(files, count, d);
	free(files);
	if (!p)
		return -1;
	int rc = policy_validate(p, d);
	if (p->allow_namespaces.value)
		req->allow_namespaces = true;
	if (rc == 0 && policy_security_copy(s, &p->security) < 0) {
		diag_error(d, NULL, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		*policy = p;
	else
		policy_free(p);
	return rc;
}

/* After execvp() failed with EACCES for a bare name: is there such a file
 * in some PATH directory (it is not executable: 126), or only directories
 * this user may not search (not found: 127)? execvp() reports EACCES for
 * both. */
static bool found_in_path(const char *name, char *unsearchable, size_t len)
{
	const char *path = getenv("PATH");
	bool found = false;
	size_t used = 0;
	unsearchable[0] = '\0';
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *dir = path; !found;) {
		const char *end = strchrnul(dir, ':');
		char candidate[4096];
		int n = snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)(end - dir),
				 end == dir ? "." : dir, name);
		struct stat st;
		if (n > 0 && (size_t)n < sizeof(candidate)) {
			if (stat(candidate, &st) == 0)
				found = true;
			else if (errno == EACCES && used < len) {
				int w = snprintf(unsearchable + used, len - used, "%s%.*s",
						 used ? ", " : "", (int)(end - dir), dir);
				if (w > 0)
					used += (size_t)w;
			}
		}
		if (*end == '\0')
			break;
		dir = end + 1;
	}
	return found;
}

static int exec_command(char **command, const struct policy_security *s)
{
	execvp(command[0], command);
	int err = errno;
	const char *where = s->chroot.text ? " inside the chroot" : "";
	bool bare = strchr(command[0], '/') == NULL;
	char unsearchable[1024] = "";
	if (err == ENOENT || err == ENOTDIR ||
	    (err == EACCES && bare && !found_in_path(command[0], unsearchable,
						     sizeof(unsearchable)))) {
		fprintf(stderr, "privman run: %s: command not found%s%s", command[0],
			bare ? " in PATH" : "", where);
		if (bare)
			fprintf(stderr, " (PATH=%s)", getenv("PATH") ? getenv("PATH") : "unset");
		if (unsearchable[0])
			fprintf(stderr, "; uid %u may not search %s", (unsigned)s->uid,
				unsearchable);
		fprintf(stderr, ": give a full path, or fix PATH\n");
		return EXIT_NOT_FOUND;
	}
	fprintf(stderr,
		"privman run: cannot execute %s%s: %s; it must be an executable file that uid "
		"%u may run\n",
		command[0], where, strerror(err), (unsigned)s->uid);
	return EXIT_NOT_EXECUTABLE;
}

/* What the command's process needs once the broker's filter is in place. */
struct target {
	struct policy_security *scope;
	struct confine_plan *confine; /* prepared, or NULL */
	unsigned flags;
	char **command;
};

/* In the command's process, still root, under the broker's filter: drop,
 * then exec. A scope refused here changed nothing (as without the broker). */
static void run_target(void *arg)
{
	struct target *t = arg;
	struct diag d;
	diag_init(&d);
	if (drop_apply_confined(t->scope, -1, t->confine, t->flags, &d) < 0) {
		print_diag(&d, NULL, stderr);
		fprintf(stderr, "privman run: the security scope was refused; %s was not run\n",
			t->command[0]);
		fflush(NULL);
		_exit(EXIT_REFUSED);
	}
	print_diag(&d, NULL, stderr);
	/* The drop cleared the death signal; the guard's end kills the
	 * command in any case, this only makes it quicker. */
	pid_t guard = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != guard)
		_exit(EXIT_REFUSED);
	closelog();
	fflush(NULL);
	int status = exec_command(t->command, t->scope);
	fflush(NULL);
	_exit(status);
}

/* The JSON audit file PRIVMAN_AUDIT names (never for a set-id caller). */
static int audit_file(void)
{
	const char *path = getauxval(AT_SECURE) ? NULL : getenv("PRIVMAN_AUDIT");
	if (!path || !*path)
		return -1;
	int fd = audit_open_file(path);
	if (fd < 0)
		fprintf(stderr, "privman run: PRIVMAN_AUDIT=%s: %s (no JSON audit)\n", path,
			strerror(errno));
	return fd;
}

/* Serve COMMAND through the broker with `policy`, whose scope becomes the
 * one resolved with the command line's options. Returns only on failure. */
static int run_brokered(struct policy *policy, struct policy_security *scope,
			struct confine_plan *confine, unsigned flags, char **command)
{
	policy_security_free(&policy->security);
	if (policy_security_copy(&policy->security, scope) < 0) {
		fprintf(stderr, "privman run: out of memory\n");
		return EXIT_REFUSED;
	}
	static struct target t;
	t.scope = scope;
	t.confine = confine;
	t.flags = flags;
	t.command = command;
	broker_run(policy, "privman", audit_file(), run_target, &t);
	return 70;
}

int cmd_run(int argc, char **argv)
{
	struct run_request req = {0};
	int status = parse_args(argc, argv, &req);
	if (status >= 0) {
		free(req.files);
		free(req.app_file);
		return status;
	}

	struct policy_security scope;
	struct policy *policy = NULL;
	struct diag resolve_diag, drop_diag;
	diag_init(&resolve_diag);
	diag_init(&drop_diag);
	FILE *report = req.dry_run ? stdout : stderr;

	status = EXIT_REFUSED;
	if (load_scope(&req, &scope, &resolve_diag, &policy) < 0 ||
	    apply_overrides(&scope, &req, &resolve_diag) < 0 ||
	    policy_security_resolve(&scope, &resolve_diag) < 0) {
		print_diag(&resolve_diag, NULL, stderr);
		fprintf(stderr, "privman run: the security scope was refused; nothing was "
				"changed and %s was not run\n",
			req.command[0]);
		goto out;
	}
	print_diag(&resolve_diag, NULL, report);

	unsigned flags = DROP_FOR_EXEC;
	if (req.no_new_privs)
		flags |= DROP_NO_NEW_PRIVS;
	/* As for the program of priv_init: a process dropped for good has no
	 * business rearranging its view of the file system, and a user
	 * namespace is where most of the kernel's attack surface for
	 * unprivileged processes lies. */
	if (!req.allow_namespaces)
		flags |= DROP_NO_NAMESPACES;
	if (run_learn_start(&policy, req.command, req.no_broker) < 0)
		goto out;
	bool brokered = policy && broker_wanted(policy) && !req.no_broker;
	if (req.dry_run)
		flags |= DROP_DRY_RUN;
	else /* reach syslog before a chroot hides /dev/log */
		openlog("privman", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);

	/* The confine scope, in the view of the chroot the command will have
	 * (--chroot included), with exec of the command it will run; with the
	 * broker or without, it is entered in the command's process. */
	struct confine_plan confine = { .ruleset_fd = -1 };
	bool confined = policy && policy->confine.present;
	if (confined && confine_prepare(&policy->confine, scope.chroot.text, req.command[0],
					confine_kernel_abi(), &confine, &drop_diag) < 0) {
		print_diag(&drop_diag, &resolve_diag, stderr);
		fprintf(stderr, "privman run: the confine scope was refused; nothing was "
				"changed and %s was not run\n",
			req.command[0]);
		goto out;
	}
	if (brokered && !req.dry_run) {
		status = run_brokered(policy, &scope, confined ? &confine : NULL, flags,
				      req.command);
		confine_plan_free(&confine);
		goto out;
	}
	int dropped = drop_apply_confined(&scope, -1, confined ? &confine : NULL, flags,
					  &drop_diag);
	confine_plan_free(&confine);
	if (dropped < 0) {
		print_diag(&drop_diag, &resolve_diag, stderr);
		fprintf(stderr, "privman run: the security scope was refused; nothing was "
				"changed and %s was not run\n",
			req.command[0]);
		goto out;
	}
	print_diag(&drop_diag, &resolve_diag, report);
	if (req.dry_run) {
		if (brokered)
			printf("privman run: the policy grants open, unlink or bind: a root "
			       "monitor stays as the parent and serves them through a seccomp "
			       "filter loaded before the drop (the broker; --no-broker: none)\n");
		printf("privman run: then execute");
		for (char **arg = req.command; *arg; arg++)
			printf(" %s", *arg);
		printf("\n");
		status = EXIT_OK;
		goto out;
	}
	closelog();
	fflush(NULL);
	status = exec_command(req.command, &scope);
	/* The exec failed in a process that has already dropped, perhaps into
	 * a jail: end it as a failed exec in a child ends, without the exit
	 * handlers of the process that started (nor the sanitizers' leak
	 * check, which needs the /proc a jail lacks). */
	fflush(NULL);
	_exit(status);
out:
	diag_free(&resolve_diag);
	diag_free(&drop_diag);
	policy_security_free(&scope);
	if (policy)
		policy_free(policy);
	free(req.files);
	free(req.app_file);
	return status;
}
