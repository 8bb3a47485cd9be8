/* privman check: validate policy files, print the effective policy, and
 * explain how a request would be decided. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "policy/pam_stack.h"
#include "policy/policy.h"
#include "scope/confine.h"
#include "scope/resolve_scope.h"

enum { EXIT_DENY = 3 };

static void check_usage(FILE *out)
{
	fprintf(out,
		"Usage: privman check [-c FILE]... [APP] [-a APPNAME] [-r REQUEST]... [-q] [--compat]\n"
		"\n"
		"Validate policy files and print the effective policy, each entry with the\n"
		"file:line:column it came from. Files are read in order: lists accumulate,\n"
		"a scalar given again in a later file replaces the earlier one (twice in one\n"
		"file is an error), a later `security` scope replaces an earlier one whole.\n"
		"\n"
		"  -c, --config FILE     read FILE (repeatable)\n"
		"  APP                   read the policy of APP: %s/APP\n"
		"  -r, --request REQ     explain how REQ is decided (repeatable); REQ is one of\n"
		"                          open_ro PATH | open_ao PATH | open_rw PATH\n"
		"                          open PATH FLAGS   (FLAGS like O_WRONLY|O_CREAT)\n"
		"                          unlink PATH\n"
		"                          bind PORT | bind ADDRESS:PORT | bind [V6]:PORT\n"
		"                          run_as USER [chroot DIR] [program PATH]\n"
		"                          auth SERVICE | auth | fork | rerun\n"
		"                          custom HANDLE\n"
		"  -a, --app APPNAME     the application's name (priv_init's appname), which\n"
		"                          `auth true` grants as a PAM service (default: APP)\n"
		"  -q, --quiet           do not print the effective policy\n"
		"      --compat          note each rule that the original Privman read\n"
		"                        differently (a /dir/* rule matched any depth there)\n"
		"  -h, --help            show this help\n"
		"\n"
		"Exit status: 0 valid (and every request allowed), 1 invalid policy,\n"
		"2 usage error, 3 valid but a request is denied. Options may follow APP.\n"
		"Granted PAM services whose stack trusts the caller (pam_rootok...) are\n"
		"warned about: the PAM worker runs as root. A `confine` scope is printed\n"
		"whole: the minimum every program gets, the policy's entries, and what\n"
		"this kernel's Landlock and seccomp enforce of it. See privman(1).\n",
		privman_conf_dir());
}

struct flag_name {
	const char *name;
	int value;
};

static const struct flag_name open_flags[] = {
	{ "O_RDONLY", O_RDONLY },     { "O_WRONLY", O_WRONLY },     { "O_RDWR", O_RDWR },
	{ "O_CREAT", O_CREAT },       { "O_EXCL", O_EXCL },         { "O_TRUNC", O_TRUNC },
	{ "O_APPEND", O_APPEND },     { "O_NONBLOCK", O_NONBLOCK }, { "O_CLOEXEC", O_CLOEXEC },
	{ "O_NOFOLLOW", O_NOFOLLOW }, { "O_DIRECTORY", O_DIRECTORY }, { "O_SYNC", O_SYNC },
	{ "O_DSYNC", O_DSYNC },       { "O_NOCTTY", O_NOCTTY },     { "O_NOATIME", O_NOATIME },
	{ "O_PATH", O_PATH },         { "O_TMPFILE", O_TMPFILE },   { NULL, 0 },
};

static int parse_open_flags(const char *text, int *flags)
{
	*flags = 0;
	char *copy = strdup(text);
	if (!copy)
		return -1;
	int rc = 0;
	char *save = NULL;
	for (char *w = strtok_r(copy, "|, ", &save); w; w = strtok_r(NULL, "|, ", &save)) {
		size_t i;
		for (i = 0; open_flags[i].name; i++)
			if (strcasecmp(open_flags[i].name, w) == 0 ||
			    strcasecmp(open_flags[i].name + 2, w) == 0)
				break;
		if (!open_flags[i].name) {
			fprintf(stderr, "privman check: unknown open flag '%s'\n", w);
			rc = -1;
			break;
		}
		*flags |= open_flags[i].value;
	}
	free(copy);
	return rc;
}

/* Parse "ADDRESS:PORT", "[V6]:PORT" or "PORT" into the request. */
static int parse_bind_request(const char *text, struct policy_request *req)
{
	char address[INET6_ADDRSTRLEN + 1] = "";
	const char *port = text;
	req->family = AF_INET;
	req->addr4.s_addr = htonl(INADDR_ANY);
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(address))
			return -1;
		memcpy(address, text + 1, (size_t)(close - text - 1));
		if (inet_pton(AF_INET6, address, &req->addr6) != 1)
			return -1;
		req->family = AF_INET6;
		port = close + 2;
	} else if (strchr(text, ':')) {
		const char *colon = strchr(text, ':');
		if ((size_t)(colon - text) >= sizeof(address))
			return -1;
		memcpy(address, text, (size_t)(colon - text));
		if (inet_pton(AF_INET, address, &req->addr4) != 1)
			return -1;
		port = colon + 1;
	}
	char *end = NULL;
	errno = 0;
	long value = strtol(port, &end, 10);
	if (errno || end == port || *end || value < 1 || value > 65535) {
		struct servent *s = getservbyname(port, "tcp");
		if (!s)
			return -1;
		value = ntohs((uint16_t)s->s_port);
	}
	req->port = (uint16_t)value;
	return 0;
}

static void print_decision(const char *request, const struct policy_decision *decision)
{
	char where[512];
	printf("%s: %s\n", request, decision->allow ? "ALLOW" : "DENY");
	if (decision->origin)
		printf("  rule:   %s %s (%s)\n", decision->directive, decision->rule,
		       origin_format(decision->origin, where, sizeof(where)));
	else
		printf("  rule:   %s\n", decision->allow ? "-" : "none (default deny)");
	printf("  reason: %s\n", decision->reason);
	if (!decision->allow)
		printf("  errno:  %s\n", strerrorname_np(decision->error) ? strerrorname_np(decision->error) : "?");
}

/* Explain one request; returns EXIT_OK, EXIT_DENY or EXIT_USAGE. */
static int explain(const struct policy *p, const char *app, const char *text)
{
	char *copy = strdup(text);
	if (!copy)
		return EXIT_USAGE;
	/* OP, then the argument: the rest of the line (a path may hold
	 * spaces); for `open`, the last word is the flags. */
	char *op = copy + strspn(copy, " \t");
	char *arg = op + strcspn(op, " \t");
	char *extra = NULL;
	if (*arg) {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
	}
	size_t len = strlen(arg);
	while (len && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		arg[--len] = '\0';
	if (!*arg)
		arg = NULL;
	if (arg && strcasecmp(op, "open") == 0) {
		extra = strrchr(arg, ' ');
		if (extra) {
			*extra++ = '\0';
			for (len = strlen(arg); len && arg[len - 1] == ' ';)
				arg[--len] = '\0';
		}
	} else if (arg && strcasecmp(op, "open_ro") != 0 && strcasecmp(op, "open_ao") != 0 &&
		   strcasecmp(op, "open_rw") != 0 && strcasecmp(op, "unlink") != 0 &&
		   strcasecmp(op, "run_as") != 0 && strcasecmp(op, "runas") != 0 &&
		   strpbrk(arg, " \t")) {
		goto bad;
	}
	struct policy_request req = { 0 };
	char real[PATH_MAX];
	int rc = EXIT_USAGE;

	if (!*op)
		goto bad;
	if (strcasecmp(op, "open_ro") == 0 || strcasecmp(op, "open_ao") == 0 ||
	    strcasecmp(op, "open_rw") == 0 || strcasecmp(op, "open") == 0 ||
	    strcasecmp(op, "unlink") == 0) {
		if (!arg)
			goto bad;
		req.op = strcasecmp(op, "unlink") == 0 ? POLICY_OP_UNLINK : POLICY_OP_OPEN;
		if (strcasecmp(op, "open_ro") == 0)
			req.flags = O_RDONLY;
		else if (strcasecmp(op, "open_ao") == 0)
			req.flags = O_WRONLY | O_APPEND | O_CREAT;
		else if (strcasecmp(op, "open_rw") == 0)
			req.flags = O_RDWR | O_CREAT;
		else if (strcasecmp(op, "open") == 0) {
			if (!extra || parse_open_flags(extra, &req.flags) < 0)
				goto bad;
			extra = NULL;
		}
		if (extra)
			goto bad;
		req.path = arg;
		/* The monitor decides on the object really opened: follow the
		 * path here too when it exists, and say so. */
		if (arg[0] == '/' && realpath(arg, real) && strcmp(real, arg) != 0) {
			printf("note: %s resolves to %s; the monitor decides on that\n", arg, real);
			req.path = real;
		}
	} else if (strcasecmp(op, "bind") == 0) {
		if (!arg || extra || parse_bind_request(arg, &req) < 0)
			goto bad;
		req.op = POLICY_OP_BIND;
	} else if (strcasecmp(op, "run_as") == 0 || strcasecmp(op, "runas") == 0) {
		/* run_as USER [chroot DIR] [program PATH] */
		if (!arg)
			goto bad;
		char *words = arg + strcspn(arg, " \t");
		if (*words)
			*words++ = '\0';
		char *save = NULL;
		for (char *key = strtok_r(words, " \t", &save); key;
		     key = strtok_r(NULL, " \t", &save)) {
			char *value = strtok_r(NULL, " \t", &save);
			if (!value)
				goto bad;
			if (strcasecmp(key, "chroot") == 0)
				req.chroot = value;
			else if (strcasecmp(key, "program") == 0)
				req.program = value;
			else
				goto bad;
		}
		struct passwd *pw = getpwnam(arg);
		if (!pw) {
			fprintf(stderr, "privman check: unknown user '%s' in request\n", arg);
			goto out;
		}
		req.op = POLICY_OP_RUN_AS;
		req.uid = pw->pw_uid;
		req.user = arg;
	} else if (strcasecmp(op, "auth") == 0) {
		req.op = POLICY_OP_AUTH;
		req.service = arg; /* NULL: may any service be used? */
		req.app = app;
	} else if (strcasecmp(op, "fork") == 0 && !arg) {
		req.op = POLICY_OP_FORK;
	} else if ((strcasecmp(op, "rerun") == 0 || strcasecmp(op, "allow_rerun") == 0) && !arg) {
		req.op = POLICY_OP_RERUN;
	} else if (strcasecmp(op, "custom") == 0 && arg) {
		/* custom HANDLE: the handle priv_register_*_fn returned */
		char *end;
		errno = 0;
		long handle = strtol(arg, &end, 10);
		if (errno || *end || end == arg || handle < 0 || handle > INT32_MAX)
			goto bad;
		req.op = POLICY_OP_CUSTOM;
		req.handle = (int32_t)handle;
	} else {
		goto bad;
	}
	struct policy_decision decision;
	policy_decide(p, &req, &decision);
	print_decision(text, &decision);
	rc = decision.allow ? EXIT_OK : EXIT_DENY;
	goto out;
bad:
	fprintf(stderr,
		"privman check: cannot read request '%s'; expected e.g. 'open_ro /etc/passwd', "
		"'open /var/log/x O_WRONLY|O_APPEND', 'unlink PATH', 'bind 25', "
		"'bind 127.0.0.1:25', 'run_as mail [chroot DIR] [program PATH]', 'auth login', "
		"'auth', 'fork', 'rerun' or 'custom 0'\n",
		text);
out:
	free(copy);
	return rc;
}

/* --compat: what the original Privman read differently. Its rule of a
 * directory and a last element "*" matched any depth below the directory
 * (it tried each parent of the path with "*" appended); ours matches one
 * level, as its documentation said. */
static void compat_notes(const struct policy *p, struct diag *d)
{
	const struct {
		const char *name;
		const struct path_rules *rules;
	} lists[] = {
		{ "open_ro", &p->open_ro },
		{ "open_rw", &p->open_rw },
		{ "open_ao", &p->open_ao },
		{ "unlink", &p->unlink },
	};
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		for (size_t i = 0; i < lists[l].rules->count; i++) {
			const struct path_rule *r = &lists[l].rules->rules[i];
			size_t n = strlen(r->path);
			if (n < 2 || strcmp(r->path + n - 2, "/*") != 0)
				continue;
			/* The rule for the root's entries is in "/" itself. */
			int dir_len = n == 2 ? 1 : (int)n - 2;
			diag_note(d, &r->origin,
				  "%s %s matches entries directly in %.*s only; the original "
				  "Privman matched any depth below it: write %s* for that",
				  lists[l].name, r->path, dir_len, r->path, r->path);
		}
	}
}

/* The policy file of application `app`; returns -1 after a message. */
static int add_app(const char *app, char **path)
{
	if (strchr(app, '/') || app[0] == '.' || !app[0]) {
		fprintf(stderr, "privman check: '%s' is not an application name; use -c FILE "
				"for a file\n",
			app);
		return -1;
	}
	if (asprintf(path, "%s/%s", privman_conf_dir(), app) < 0)
		return -1;
	return 0;
}

/* Warn about each granted PAM service whose stack trusts the caller: the
 * PAM worker that runs it is root. */
static void warn_pam_service(const char *service, const struct origin *at, struct diag *d)
{
	struct pam_stack_report r;
	if (pam_stack_scan(NULL, service, &r) < 0)
		return; /* policy_validate() said the file is missing */
	for (size_t i = 0; i < r.count; i++) {
		const struct pam_stack_finding *f = &r.found[i];
		diag_warn(d, at,
			  "PAM service %s%s: %s line %u: %s %s %s; so a program granted this "
			  "service may %s without the user's password%s",
			  service, r.missing ? " (no file: the stack of other)" : "", f->file,
			  f->line, f->type, f->module, f->why,
			  strcmp(f->type, "auth") == 0 || strcmp(f->type, "account") == 0
				  ? "pass this stack as any user"
				  : "run it for any user it names",
			  strcmp(f->type, "auth") == 0 || strcmp(f->type, "account") == 0
				  ? " (auth_allow_rerun never records its users)"
				  : "");
	}
}

static void warn_pam_stacks(const struct policy *p, const char *app, struct diag *d)
{
	for (size_t i = 0; i < p->auth_service_count; i++)
		warn_pam_service(p->auth_services[i].text, &p->auth_services[i].origin, d);
	if (!p->auth.value)
		return;
	char own[POLICY_SERVICE_MAX + 1];
	if (!app)
		diag_note(d, &p->auth.origin,
			  "auth true grants one PAM service: the one named like the application "
			  "(priv_init's appname); name the application (APP or --app) to check it");
	else if (policy_service_canon(app, own, sizeof(own)) < 0)
		diag_warn(d, &p->auth.origin,
			  "auth true grants no PAM service: the application's name '%s' is not a "
			  "PAM service name",
			  app);
	else {
		char etc[PATH_MAX], usr[PATH_MAX];
		snprintf(etc, sizeof(etc), "/etc/pam.d/%s", own);
		snprintf(usr, sizeof(usr), "/usr/lib/pam.d/%s", own);
		diag_note(d, &p->auth.origin,
			  "auth true grants one PAM service: %s (the application's own)", own);
		if (access(etc, F_OK) < 0 && access(usr, F_OK) < 0)
			diag_warn(d, &p->auth.origin,
				  "auth: PAM service %s has no file %s; PAM would use the stack of "
				  "/etc/pam.d/other for it",
				  own, etc);
		warn_pam_service(own, &p->auth.origin, d);
	}
}

int cmd_check(int argc, char **argv)
{
	enum { OPT_COMPAT = 256 };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "compat", no_argument, NULL, OPT_COMPAT },
		{ "request", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "app", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char **files = calloc((size_t)argc + 1, sizeof(*files));
	const char **requests = calloc((size_t)argc + 1, sizeof(*requests));
	char *app_path = NULL;
	const char *app = NULL;
	size_t file_count = 0, request_count = 0;
	bool quiet = false, compat = false;
	const char *app_name = NULL; /* --app */
	int rc = EXIT_USAGE;
	if (!files || !requests)
		goto out;

	/* '-': operands come back in order as option 1, so that options may
	 * follow APP whatever POSIXLY_CORRECT says. */
	int c;
	while ((c = getopt_long(argc, argv, "-c:r:a:qh", options, NULL)) != -1) {
		switch (c) {
		case 1: /* APP, read where it stands among the -c files */
			if (app) {
				fprintf(stderr, "privman check: unexpected argument '%s'\n", optarg);
				check_usage(stderr);
				goto out;
			}
			app = optarg;
			if (add_app(app, &app_path) < 0)
				goto out;
			files[file_count++] = app_path;
			break;
		case 'c':
			files[file_count++] = optarg;
			break;
		case 'r':
			requests[request_count++] = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_COMPAT:
			compat = true;
			break;
		case 'a':
			app_name = optarg;
			break;
		case 'h':
			check_usage(stdout);
			rc = EXIT_OK;
			goto out;
		default:
			check_usage(stderr);
			goto out;
		}
	}
	if (optind < argc && !app) { /* after "--" */
		app = argv[optind++];
		if (add_app(app, &app_path) < 0)
			goto out;
		files[file_count++] = app_path;
	}
	if (optind < argc) {
		fprintf(stderr, "privman check: unexpected argument '%s'\n", argv[optind]);
		check_usage(stderr);
		goto out;
	}
	if (!app_name)
		app_name = app; /* the application's own PAM service for `auth true` */
	if (file_count == 0) {
		fprintf(stderr, "privman check: no policy given: name an APP or use -c FILE\n");
		check_usage(stderr);
		goto out;
	}

	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_files(files, file_count, &d);
	if (p && compat)
		compat_notes(p, &d);
	if (p && policy_validate(p, &d) < 0) {
		policy_free(p);
		p = NULL;
	}
	/* As priv_init and privman run would refuse it. */
	if (p && confine_check_paths(&p->confine, p->security.chroot.text, &d) < 0) {
		policy_free(p);
		p = NULL;
	}
	if (p)
		warn_pam_stacks(p, app_name, &d);
	for (size_t i = 0; i < d.count; i++)
		fprintf(stderr, "%s\n", d.entries[i].text);
	diag_free(&d);
	if (!p) {
		fprintf(stderr, "privman check: the policy is invalid; nothing was granted\n");
		rc = EXIT_INVALID;
		goto out;
	}
	if (!quiet) {
		policy_dump(p, stdout);
		/* The effective confine scope, and what this kernel enforces. */
		confine_report(&p->confine, p->security.chroot.text, confine_kernel_abi(),
			       stdout);
	}
	rc = EXIT_OK;
	for (size_t i = 0; i < request_count; i++) {
		int r = explain(p, app_name, requests[i]);
		if (r == EXIT_USAGE || (r == EXIT_DENY && rc == EXIT_OK))
			rc = r;
	}
	policy_free(p);
out:
	free(files);
	free(requests);
	free(app_path);
	return rc;
}
