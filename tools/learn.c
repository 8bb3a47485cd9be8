/* privman learn: run a program with a learning monitor, then write the
 * least policy that grants what it needed (learn_write.c).
 *
 * A program split by priv_init learns through PRIVMAN_LEARN: it runs as
 * root, as it always starts, with PRIVMAN_CONF_DIR naming a private folder
 * whose policy for APP includes the base files, and its monitor grants what
 * that policy refuses and records every decision (src/monitor/learn_log.h).
 * Then the record is read back and the policy written. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "common/kill_one.h"
#include "learn.h"
#include "policy/learn.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"

enum { EXIT_NOT_WRITTEN = 1 };

static void learn_usage(FILE *out)
{
	fprintf(out,
		"Usage: privman learn [-o FILE] [-c BASE]... [APP] [--collapse N]\n"
		"                     [--split | --broker] -- COMMAND [ARG]...\n"
		"       privman learn [-o FILE] [-c BASE]... [--collapse N] --from RECORD...\n"
		"\n"
		"Run COMMAND with a monitor that learns: what it needs beyond its own rights is\n"
		"served as root would serve it (never running as root) and recorded. When\n"
		"COMMAND ends (^C ends COMMAND, not this), write the least policy that grants\n"
		"it: the security scope and rules of the base, and one rule per object\n"
		"learned, each with how often and first when it was used.\n"
		"\n"
		"A program that calls priv_init(APP) learns every priv_* request it makes (it\n"
		"starts as root, with PRIVMAN_LEARN). Any other command runs unmodified under\n"
		"the broker of privman run, dropped to the base's scope: an open, unlink or\n"
		"bind it could make with its own credentials goes on in the kernel and is not\n"
		"recorded; one it could not is served and learned.\n"
		"\n"
		"WARNING: while learning, COMMAND gets whatever it asks for (but root).\n"
		"Run only trusted input through it, and review the policy it writes.\n"
		"\n"
		"  -o, --output FILE   write the policy to FILE (default: standard output)\n"
		"  -c, --config BASE   start from the policy BASE (repeatable): its scope and\n"
		"                      rules are kept, and its counts, when an earlier run of\n"
		"                      privman learn wrote it (merge runs: -c OLD -o NEW)\n"
		"  APP                 priv_init's appname (default: COMMAND's file name); with\n"
		"                      no -c, the base is %s/APP when it exists\n"
		"      --collapse N    N or more rules for files of one directory become one\n"
		"                      dir/* rule; never for protected places (privman(1))\n"
		"      --split         COMMAND calls priv_init (default: when its symbols say so)\n"
		"      --broker        COMMAND is unmodified: learn under the broker\n"
		"      --from RECORD   write from RECORD, a file PRIVMAN_LEARN=RECORD made,\n"
		"                      instead of running a command (repeatable); only a\n"
		"                      regular file of root's that no one else may write\n"
		"  -h, --help          show this help\n"
		"\n"
		"What was observed and what was written is said on standard error. Exit\n"
		"status: 0 the policy was written, %d it was not, %d usage error.\n",
		privman_conf_dir(), EXIT_NOT_WRITTEN, EXIT_USAGE);
}

struct learn_request {
	struct learn_options o;
	const char *app;
	const char **records;
	size_t record_count;
	char **command;
	char **owned; /* the bases' absolute paths, NULL-terminated */
	enum { MODE_GUESS, MODE_SPLIT, MODE_BROKER } mode;
};

static int usage_error(const char *message, const char *arg)
{
	fprintf(stderr, "privman learn: %s%s%s\nTry 'privman learn --help'.\n", message,
		arg ? " " : "", arg ? arg : "");
	return EXIT_USAGE;
}

static int append(const char ***list, size_t *count, const char *item)
{
	const char **grown = realloc(*list, (*count + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	grown[(*count)++] = item;
	*list = grown;
	return 0;
}

static int parse_collapse(const char *text, unsigned *n)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v < 2 || v > 100000)
		return -1;
	*n = (unsigned)v;
	return 0;
}

enum { OPT_COLLAPSE = 256, OPT_FROM, OPT_SPLIT, OPT_BROKER };

static const struct option learn_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"config", required_argument, NULL, 'c'},
	{"collapse", required_argument, NULL, OPT_COLLAPSE},
	{"from", required_argument, NULL, OPT_FROM},
	{"split", no_argument, NULL, OPT_SPLIT},
	{"broker", no_argument, NULL, OPT_BROKER},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct learn_request *req)
{
	opterr = 0;
	optind = 1;
	for (;;) {
		/* '+': stop at APP and at COMMAND; options may follow APP. */
		int opt = getopt_long(argc, argv, "+:o:c:h", learn_options, NULL);
		if (opt == -1) {
			if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
				if (req->app)
					return usage_error("one APP only, and COMMAND after '--':",
							   argv[optind]);
				req->app = argv[optind++];
				continue;
			}
			break;
		}
		switch (opt) {
		case 'o':
			req->o.output = optarg;
			break;
		case 'c':
			if (append(&req->o.bases, &req->o.base_count, optarg) < 0)
				return usage_error("out of memory", NULL);
			break;
		case OPT_COLLAPSE:
			if (parse_collapse(optarg, &req->o.collapse) < 0)
				return usage_error("--collapse needs a number of files, 2 or more:",
						   optarg);
			break;
		case OPT_FROM:
			if (append(&req->records, &req->record_count, optarg) < 0)
				return usage_error("out of memory", NULL);
			break;
		case OPT_SPLIT:
		case OPT_BROKER:
			if (req->mode != MODE_GUESS)
				return usage_error("give --split or --broker, once", NULL);
			req->mode = opt == OPT_SPLIT ? MODE_SPLIT : MODE_BROKER;
			break;
		case 'h':
			learn_usage(stdout);
			return EXIT_OK;
		case ':':
			return usage_error("this option needs a value:", argv[optind - 1]);
		default:
			return usage_error("unknown option:", argv[optind - 1]);
		}
	}
	bool has_command = optind < argc;
	if (req->record_count && has_command)
		return usage_error("give either --from RECORD or '--' COMMAND, not both", NULL);
	if (!req->record_count && !has_command)
		return usage_error("missing COMMAND: say what to run after '--' (for example: "
				   "privman learn -o demo.conf -- ./privman-demo 8080)",
				   NULL);
	if (has_command && argv[optind][0] == '\0')
		return usage_error("COMMAND is empty", NULL);
	req->command = has_command ? argv + optind : NULL;
	if (!req->app && has_command) {
		const char *slash = strrchr(argv[optind], '/');
		req->app = slash ? slash + 1 : argv[optind];
	}
	if (req->app && (!req->app[0] || strchr(req->app, '/') || strcmp(req->app, ".") == 0 ||
			 strcmp(req->app, "..") == 0))
		return usage_error("APP must be a file name, as priv_init takes it:", req->app);
	return -1;
}

/* The base files as absolute paths (the policy of the run includes them
 * from another folder); with no -c, the installed policy of APP if any.
 * req->o.bases becomes a NULL-terminated array of malloc'd paths. */
static int resolve_bases(struct learn_request *req)
{
	const char **given = req->o.bases;
	size_t n = req->o.base_count;
	char *installed = NULL;
	const char *one[1];
	if (!n && req->app && req->command) {
		if (asprintf(&installed, "%s/%s", privman_conf_dir(), req->app) < 0)
			return -1;
		if (access(installed, F_OK) == 0) {
			fprintf(stderr, "privman learn: starting from %s (-c starts from another "
					"policy)\n",
				installed);
			one[0] = installed;
			given = one;
			n = 1;
		}
	}
	char **abs = calloc(n + 1, sizeof(*abs));
	const char **view = calloc(n + 1, sizeof(*view));
	int rc = abs && view ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		view[i] = abs[i] = realpath(given[i], NULL);
		if (!abs[i]) {
			fprintf(stderr, "privman learn: cannot read the base %s: %s\n", given[i],
				strerror(errno));
			rc = -1;
		}
	}
	free(installed);
	free(req->o.bases);
	req->o.bases = view;
	req->o.base_count = rc == 0 ? n : 0;
	req->owned = abs;
	return rc;
}

/* The base is checked whole before anything runs. */
static int check_base(const struct learn_options *o)
{
	if (!o->base_count)
		return 0;
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_files(o->bases, o->base_count, &d);
	int rc = p && policy_validate(p, &d) == 0 ? 0 : -1;
	for (size_t i = 0; i < d.count; i++)
		fprintf(stderr, "privman learn: %s\n", d.entries[i].text);
	if (rc < 0)
		fprintf(stderr, "privman learn: the base policy is not valid; nothing was run\n");
	policy_free(p);
	diag_free(&d);
	return rc;
}

/* A private folder (0700, root's) holding the policy of the run, APP, that
 * includes the base files, and the record the monitor writes. */
struct learn_dir {
	char path[64];
	char *policy;
	char *record;
};

static int prepare_dir(struct learn_dir *dir, const struct learn_request *req)
{
	snprintf(dir->path, sizeof(dir->path), "/tmp/privman-learn.XXXXXX");
	if (!mkdtemp(dir->path)) {
		fprintf(stderr, "privman learn: mkdtemp: %s\n", strerror(errno));
		dir->path[0] = '\0';
		return -1;
	}
	if (asprintf(&dir->policy, "%s/%s", dir->path, req->app) < 0 ||
	    asprintf(&dir->record, "%s/record.json", dir->path) < 0)
		return -1;
	FILE *f = fopen(dir->policy, "wxe");
	if (!f) {
		fprintf(stderr, "privman learn: %s: %s\n", dir->policy, strerror(errno));
		return -1;
	}
	fprintf(f, "# privman learn: the policy of one learning run\n");
	for (size_t i = 0; i < req->o.base_count; i++) {
		char quoted[PATH_MAX * 2 + 8];
		if (policy_value_write(req->o.bases[i], true, quoted, sizeof(quoted)) < 0) {
			/* Left out, the run would learn without that base. */
			fprintf(stderr, "privman learn: the name of the base %d cannot be "
					"written in a policy (a control character?)\n",
				(int)i + 1);
			fclose(f);
			return -1;
		}
		fprintf(f, "include %s\n", quoted);
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void remove_dir(struct learn_dir *dir)
{
	if (dir->record)
		unlink(dir->record);
	if (dir->policy)
		unlink(dir->policy);
	if (dir->path[0])
		rmdir(dir->path);
	free(dir->record);
	free(dir->policy);
}

static volatile pid_t running; /* read by the signal handler */

static void forward(int sig)
{
	int saved = errno;
	kill_one(running, sig); /* nothing before the fork, nor after the wait */
	errno = saved;
}

/* In the child: a program split by priv_init runs as it always starts,
 * learning through PRIVMAN_LEARN; any other runs under the broker of
 * `privman run` with PRIVMAN_LEARN, from the base files. */
static void __attribute__((noreturn))
exec_learning(const struct learn_request *req, const struct learn_dir *dir)
{
	if (setenv("PRIVMAN_LEARN", dir->record, 1) < 0)
		_exit(127);
	if (req->mode == MODE_SPLIT) {
		if (setenv("PRIVMAN_CONF_DIR", dir->path, 1) < 0)
			_exit(127);
		execvp(req->command[0], req->command);
	} else {
		size_t n = 0;
		while (req->command[n])
			n++;
		char **argv = calloc(3 + 2 * req->o.base_count + 1 + n + 1, sizeof(*argv));
		if (!argv)
			_exit(127);
		size_t a = 0;
		argv[a++] = (char *)"privman";
		argv[a++] = (char *)"run";
		for (size_t i = 0; i < req->o.base_count; i++) {
			argv[a++] = (char *)"-c";
			argv[a++] = req->owned[i];
		}
		argv[a++] = (char *)"--";
		for (size_t i = 0; i < n; i++)
			argv[a++] = req->command[i];
		execv("/proc/self/exe", argv);
	}
	fprintf(stderr, "privman learn: cannot execute %s: %s\n",
		req->mode == MODE_SPLIT ? req->command[0] : "privman run", strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Run COMMAND learning; returns its wait status, or -1. */
static int run_learning(const struct learn_request *req, const struct learn_dir *dir)
{
	fprintf(stderr,
		"privman learn: WARNING: learning: %s gets every privileged request it makes "
		"(all but running as root) served as root would serve it; feed it only trusted "
		"input, and review the policy written\n",
		req->command[0]);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "privman learn: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0)
		exec_learning(req, dir);
	/* ^C at the terminal ends COMMAND (it gets it too), and the policy is
	 * still written; a SIGTERM or SIGHUP for us is passed on. */
	running = pid;
	struct sigaction ignore = {.sa_handler = SIG_IGN}, pass = {.sa_handler = forward};
	sigaction(SIGINT, &ignore, NULL);
	sigaction(SIGQUIT, &ignore, NULL);
	sigaction(SIGTERM, &pass, NULL);
	sigaction(SIGHUP, &pass, NULL);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	running = 0;
	return status;
}

static void say_status(const char *command, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "privman learn: %s exited with status %d\n", command,
			WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "privman learn: %s ended by signal %d (%s)\n", command,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* The appname of a run recorded under another name than APP, or NULL. */
static const char *other_app(const struct learn_records *records, const char *app)
{
	for (size_t i = 0; i < records->count; i++)
		if (strcmp(records->items[i].verdict, "start") == 0 &&
		    strcmp(records->items[i].app, app) != 0)
			return records->items[i].app;
	return NULL;
}

static int learn_from_run(struct learn_request *req, struct learn_records *records)
{
	if (geteuid() != 0) {
		fprintf(stderr, "privman learn: must be run as root: the monitor that serves "
				"while learning is root (effective uid is %u)\n",
			(unsigned)geteuid());
		return -1;
	}
	if (req->mode == MODE_GUESS)
		req->mode = learn_calls_priv_init(req->command[0]) ? MODE_SPLIT : MODE_BROKER;
	fprintf(stderr, "privman learn: %s %s\n", req->command[0],
		req->mode == MODE_SPLIT ? "calls priv_init: its monitor learns (PRIVMAN_LEARN)"
					: "runs unmodified under the broker of privman run, "
					  "learning");
	struct learn_dir dir = {0};
	int rc = prepare_dir(&dir, req);
	int status = rc == 0 ? run_learning(req, &dir) : -1;
	if (status != -1)
		say_status(req->command[0], status);
	const char *why = NULL;
	if (status != -1 && learn_records_read(dir.record, records, &why) < 0) {
		if (req->mode == MODE_SPLIT)
			fprintf(stderr,
				"privman learn: %s made no request through priv_init (%s), so "
				"nothing was learned; is it a program that calls "
				"priv_init(\"%s\")? (--broker runs it unmodified)\n",
				req->command[0], why, req->app);
		else
			fprintf(stderr, "privman learn: %s was not started under the broker "
					"(%s); nothing was learned\n",
				req->command[0], why);
		status = -1;
	} else if (status != -1 && !records->runs) {
		fprintf(stderr, "privman learn: the record of %s is empty\n", req->command[0]);
		status = -1;
	} else if (status != -1 && req->mode == MODE_SPLIT && other_app(records, req->app)) {
		/* It ran without the base, from an empty policy: what it needed
		 * there is not what it needs with the base's scope. */
		fprintf(stderr,
			"privman learn: %s called priv_init(\"%s\"), not \"%s\", and ran without "
			"the base; give its name as APP: privman learn [-c BASE]... %s -- ...\n",
			req->command[0], other_app(records, req->app), req->app,
			other_app(records, req->app));
		status = -1;
	}
	remove_dir(&dir);
	return status == -1 ? -1 : 0;
}

static int learn_from_records(const struct learn_request *req, struct learn_records *records)
{
	for (size_t i = 0; i < req->record_count; i++) {
		const char *why = NULL;
		if (learn_records_read(req->records[i], records, &why) < 0) {
			fprintf(stderr, "privman learn: cannot read the record %s: %s\n",
				req->records[i], why);
			return -1;
		}
	}
	return 0;
}

static char *describe_command(char **command)
{
	size_t len = 1;
	for (char **a = command; *a; a++)
		len += strlen(*a) + 1;
	char *text = malloc(len);
	if (!text)
		return NULL;
	text[0] = '\0';
	for (char **a = command; *a; a++) {
		strcat(text, *a);
		if (a[1])
			strcat(text, " ");
	}
	/* It goes in a comment: one line. */
	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return text;
}

int cmd_learn(int argc, char **argv)
{
	struct learn_request req;
	memset(&req, 0, sizeof(req));
	int status = parse_args(argc, argv, &req);
	if (status >= 0) {
		free(req.o.bases);
		free(req.records);
		return status;
	}
	status = EXIT_NOT_WRITTEN;
	struct learn_records records = {0};
	char *what = req.command ? describe_command(req.command) : NULL;
	req.o.what = what;
	if (resolve_bases(&req) < 0 || check_base(&req.o) < 0)
		goto out;
	if (req.command ? learn_from_run(&req, &records) < 0
			: learn_from_records(&req, &records) < 0)
		goto out;
	if (learn_write(&req.o, &records, stderr) == 0)
		status = EXIT_OK;
out:
	learn_records_free(&records);
	for (size_t i = 0; req.owned && req.owned[i]; i++)
		free(req.owned[i]);
	free(req.owned);
	free(req.o.bases);
	free(req.records);
	free(what);
	return status;
}
