/* Learning decisions (src/policy/learn.c), pure: what a learning policy
 * grants, the rule it names for each kind of request, and what it never
 * grants. No root needed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>

#include "policytest.h"
#include "policy/learn.h"

static struct policy *learning(const char *text)
{
	struct diag d;
	struct policy *p = parse_text(text, &d);
	cr_assert(p, "the policy does not parse");
	diag_free(&d);
	p->learn = true;
	return p;
}

static void expect_learned(struct policy *p, const struct policy_request *r, const char *rule)
{
	struct policy_decision d;
	policy_decide(p, r, &d);
	cr_assert(d.allow && d.learned, "not learned: %s", d.reason);
	cr_assert_str_eq(d.directive, "learned");
	cr_assert_str_eq(d.rule, rule);
	cr_assert(strstr(d.reason, "granted while learning"), "%s", d.reason);
	/* The rule it names parses, and grants it when the policy is made of
	 * it (users are not resolved here: run_as is checked end to end). */
	if (*rule) {
		struct diag diag;
		struct policy *q = parse_text(rule, &diag);
		cr_assert(q, "the learned rule does not parse: %s", rule);
		if (r->op != POLICY_OP_RUN_AS) {
			cr_assert_eq(policy_validate_syntax(q, &diag), 0, "%s", rule);
			policy_decide(q, r, &d);
			cr_assert(d.allow, "%s does not grant it: %s", rule, d.reason);
		}
		policy_free(q);
		diag_free(&diag);
	}
}

static void expect_refused(struct policy *p, const struct policy_request *r, const char *why)
{
	struct policy_decision d;
	policy_decide(p, r, &d);
	cr_assert(!d.allow && !d.learned, "learned: %s", d.rule ? d.rule : "");
	if (why)
		cr_assert(strstr(d.reason, why), "%s", d.reason);
}

Test(learn_decide, each_open_mode_names_its_directive)
{
	struct policy *p = learning("open_ro /etc/hostname\n");
	struct policy_request r = {.op = POLICY_OP_OPEN, .path = "/srv/a b\"c", .flags = O_RDONLY};
	expect_learned(p, &r, "open_ro \"/srv/a b\\\"c\"");
	r.flags = O_WRONLY | O_APPEND | O_CREAT;
	expect_learned(p, &r, "open_ao \"/srv/a b\\\"c\"");
	r.flags = O_RDONLY | O_CREAT;
	expect_learned(p, &r, "open_rw \"/srv/a b\\\"c\"");
	r.flags = O_WRONLY | O_TRUNC;
	expect_learned(p, &r, "open_rw \"/srv/a b\\\"c\"");
	/* Granted only read-only, asked read-write: open_rw is learned. */
	r.path = "/etc/hostname";
	r.flags = O_RDWR;
	expect_learned(p, &r, "open_rw \"/etc/hostname\"");
	r.flags = O_RDONLY;
	struct policy_decision d;
	policy_decide(p, &r, &d);
	cr_assert(d.allow && !d.learned && strcmp(d.directive, "open_ro") == 0);
	r.path = "/tmp";
	r.flags = O_TMPFILE | O_RDWR;
	expect_learned(p, &r, "open_rw \"/tmp/*\"");
	policy_free(p);
}

Test(learn_decide, unlink_bind_process_pam_and_custom_requests)
{
	struct policy *p = learning("security { chroot = /srv/jail }\n");
	struct policy_request r = {.op = POLICY_OP_UNLINK, .path = "/run/x.pid"};
	expect_learned(p, &r, "unlink \"/run/x.pid\"");
	r = (struct policy_request){.op = POLICY_OP_BIND, .family = AF_INET, .port = 80};
	inet_pton(AF_INET, "127.0.0.1", &r.addr4);
	expect_learned(p, &r, "bind 127.0.0.1:80");
	r = (struct policy_request){.op = POLICY_OP_BIND, .family = AF_INET6, .port = 443};
	inet_pton(AF_INET6, "::1", &r.addr6);
	expect_learned(p, &r, "bind [::1]:443");
	r = (struct policy_request){.op = POLICY_OP_RUN_AS, .uid = 8, .user = "mail"};
	expect_learned(p, &r, "run_as mail"); /* the policy's own chroot */
	r.program = "/usr/bin/x";
	expect_learned(p, &r, "run { program \"/usr/bin/x\" user mail chroot \"/srv/jail\" }");
	r.program = NULL;
	r.chroot = "/srv/other";
	expect_learned(p, &r, "run { user mail chroot \"/srv/other\" }");
	r = (struct policy_request){.op = POLICY_OP_FORK};
	expect_learned(p, &r, "fork true");
	r = (struct policy_request){.op = POLICY_OP_RERUN};
	expect_learned(p, &r, "allow_rerun true");
	r = (struct policy_request){.op = POLICY_OP_AUTH, .service = "Login", .app = "x"};
	expect_learned(p, &r, "auth { login }");
	r = (struct policy_request){.op = POLICY_OP_AUTH, .app = "x"};
	expect_learned(p, &r, ""); /* any service: the one asked next is named */
	r = (struct policy_request){.op = POLICY_OP_CUSTOM, .handle = 7};
	expect_learned(p, &r, "custom 7");
	policy_free(p);
}

Test(learn_decide, never_root_nor_what_is_malformed_nor_what_no_rule_can_name)
{
	struct policy *p = learning("");
	struct policy_request r = {.op = POLICY_OP_RUN_AS, .uid = 0, .user = "root"};
	expect_refused(p, &r, "learning never grants running as root");
	r.user = "toor"; /* any name of uid 0 */
	expect_refused(p, &r, "never grants running as root");
	r = (struct policy_request){.op = POLICY_OP_OPEN, .path = "/etc/x", .flags = O_PATH};
	expect_refused(p, &r, NULL);
	r = (struct policy_request){.op = POLICY_OP_OPEN, .path = "/srv/*", .flags = O_RDONLY};
	expect_refused(p, &r, "learning cannot write a rule");
	r.path = "relative";
	expect_refused(p, &r, NULL);
	static char long_path[PATH_MAX];
	memset(long_path, '"', sizeof(long_path) - 1);
	long_path[0] = '/';
	r.path = long_path; /* too long once quoted */
	expect_refused(p, &r, NULL);
	r = (struct policy_request){.op = POLICY_OP_BIND, .family = AF_INET, .port = 0};
	expect_refused(p, &r, NULL);
	r = (struct policy_request){.op = POLICY_OP_BIND, .family = AF_UNIX, .port = 80};
	expect_refused(p, &r, NULL);
	r = (struct policy_request){.op = POLICY_OP_AUTH, .service = "../x", .app = "x"};
	expect_refused(p, &r, NULL);
	r = (struct policy_request){.op = POLICY_OP_RUN_AS, .uid = 5, .user = "*"};
	expect_refused(p, &r, NULL);
	/* Not learning: the same policy refuses what it refuses. */
	p->learn = false;
	r = (struct policy_request){.op = POLICY_OP_FORK};
	expect_refused(p, &r, "fork is off");
	policy_free(p);
}

/* The language escapes \n and \t, no other control byte: a path with one
 * (\r, ESC, DEL...) is never learned, and no rule carries it raw into the
 * policy file, where it would break the line or drive a terminal. */
Test(learn_decide, a_control_byte_with_no_escape_is_never_learned)
{
	struct policy *p = learning("");
	static const char *const bad[] = {
		"/srv/a\rb", "/srv/\x1b[2Jx", "/srv/a\x7f", "/srv/a\x01", "/srv/a\x1f",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct policy_request r = {.op = POLICY_OP_OPEN, .path = bad[i], .flags = O_RDONLY};
		expect_refused(p, &r, "learning never writes a control character");
		r = (struct policy_request){.op = POLICY_OP_UNLINK, .path = bad[i]};
		expect_refused(p, &r, "learning never writes a control character");
		r = (struct policy_request){.op = POLICY_OP_RUN_AS, .uid = 1000, .user = "x",
					    .program = bad[i]};
		expect_refused(p, &r, "learning never writes a control character");
		char out[64];
		cr_assert_eq(policy_value_write(bad[i], true, out, sizeof(out)), -1);
		cr_assert(!policy_value_writable(bad[i]));
	}
	/* Those it escapes stay on one line. */
	struct policy_request r = {.op = POLICY_OP_OPEN, .path = "/srv/a\nb\tc", .flags = O_RDONLY};
	expect_learned(p, &r, "open_ro \"/srv/a\\nb\\tc\"");
	policy_free(p);
}
