/* The `auth` directive (its list of PAM services), its decision, and the
 * reading of PAM stacks for modules that trust the caller (pam_stack.c),
 * against stacks written into a folder of the test's. Needs no root. */
#include "policy/conf.h"
#include "policy/pam_stack.h"
#include "policy/policy.h"
#include "scope/resolve_scope.h"
#include "testutil.h"

static struct policy *load(const char *text, struct diag *d)
{
	diag_init(d);
	struct policy *p = conf_load_buffer("test.conf", text, strlen(text), d);
	if (p && policy_validate(p, d) < 0) {
		policy_free(p);
		p = NULL;
	}
	return p;
}

static bool diag_has(const struct diag *d, const char *text)
{
	for (size_t i = 0; i < d->count; i++)
		if (strstr(d->entries[i].text, text))
			return true;
	return false;
}

static void assert_error(const char *policy, const char *message)
{
	struct diag d;
	struct policy *p = load(policy, &d);
	cr_assert_null(p, "%s was accepted", policy);
	cr_assert(diag_has(&d, message), "%s: expected \"%s\", got \"%s\"", policy, message,
		  d.count ? d.entries[0].text : "nothing");
	diag_free(&d);
}

static struct policy_decision decide(const struct policy *p, const char *service, const char *app)
{
	struct policy_request req = {.op = POLICY_OP_AUTH, .service = service, .app = app};
	struct policy_decision out;
	policy_decide(p, &req, &out);
	return out;
}

/* --- the directive ---------------------------------------------------------------------- */

Test(auth_list, services_parsed_and_accumulated)
{
	struct diag d;
	struct policy *p = load("auth { login imap }\nauth ( pop3 )\nauth = { smtp }\n", &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->auth_service_count, 4);
	cr_assert_str_eq(p->auth_services[0].text, "login");
	cr_assert_str_eq(p->auth_services[3].text, "smtp");
	cr_assert_eq(p->auth_services[1].origin.line, 1);
	cr_assert_eq(p->auth_services[1].origin.column, 14);
	cr_assert_not(p->auth.value, "a list does not grant the application's own service");
	policy_free(p);
	diag_free(&d);
}

Test(auth_list, false_revokes_what_came_before)
{
	struct diag d;
	struct policy *p = load("auth true\nauth { login }\nauth false\nauth { imap }\n", &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->auth_service_count, 1);
	cr_assert_str_eq(p->auth_services[0].text, "imap");
	cr_assert_not(p->auth.value);
	cr_assert(decide(p, "imap", "app").allow);
	cr_assert_not(decide(p, "login", "app").allow);
	policy_free(p);
	diag_free(&d);
}

Test(auth_list, names_must_be_plain_and_located)
{
	assert_error("auth ture\n", "test.conf:1:6: error: expected true or false, or a list of PAM "
				    "services in braces (auth { ture })");
	assert_error("auth login\n", "auth { login }");
	assert_error("\nauth { login ../x }\n", "test.conf:2:14: error: auth \"../x\" is not a PAM "
						"service name");
	assert_error("auth { /etc/pam.d/login }\n", "test.conf:1:8: error: auth \"/etc/pam.d/login\" "
						     "is not a PAM service name");
	assert_error("auth { . }\n", "auth \".\" is not a PAM service name");
	assert_error("auth { .. }\n", "auth \"..\" is not a PAM service name");
	assert_error("auth { \"a b\" }\n", "auth \"a b\" is not a PAM service name");
	assert_error("auth { \"\" }\n", "auth \"\" is not a PAM service name");
	assert_error("auth { Login }\n", "test.conf:1:8: error: auth \"Login\": PAM lowercases "
					 "service names; write \"login\"");
	assert_error("auth {\n", "never closed");
}

Test(auth_list, missing_service_file_warned)
{
	struct diag d;
	struct policy *p = load("auth { pmtestpam-nosuchservice }\n", &d);
	cr_assert_not_null(p, "a warning, not an error");
	cr_assert(diag_has(&d, "test.conf:1:8: warning: auth: PAM service pmtestpam-nosuchservice "
			       "has no file /etc/pam.d/pmtestpam-nosuchservice; PAM would use the "
			       "stack of /etc/pam.d/other"));
	policy_free(p);
	diag_free(&d);
}

/* --- the decision ------------------------------------------------------------------------- */

Test(auth_decide, listed_services_only)
{
	struct diag d;
	struct policy *p = load("auth { login imap }\n", &d);
	cr_assert_not_null(p);
	struct policy_decision o = decide(p, "imap", "myserver");
	cr_assert(o.allow);
	cr_assert_str_eq(o.rule, "imap");
	cr_assert(decide(p, "IMAP", "myserver").allow, "as PAM uses it: lower case");
	o = decide(p, "myserver", "myserver");
	cr_assert_not(o.allow, "no auth true: not even the application's own");
	cr_assert_eq(o.error, EPERM);
	o = decide(p, "su", "myserver");
	cr_assert_not(o.allow);
	cr_assert(strstr(o.reason, "PAM service su is not granted"), "%s", o.reason);
	const char *bad[] = {"/etc/pam.d/login", "../login", "login/", ".", "..", "", "lo gin",
			     "login\n", "/tmp/x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = decide(p, bad[i], "myserver");
		cr_assert_not(o.allow, "%s", bad[i]);
		cr_assert_eq(o.error, EINVAL, "%s", bad[i]);
	}
	/* without a service: may any be used at all? */
	cr_assert(decide(p, NULL, NULL).allow);
	policy_free(p);
	diag_free(&d);
}

Test(auth_decide, auth_true_grants_the_application_service_only)
{
	struct diag d;
	struct policy *p = load("auth true\n", &d);
	cr_assert_not_null(p);
	struct policy_decision o = decide(p, "myserver", "myserver");
	cr_assert(o.allow);
	cr_assert_str_eq(o.rule, "true");
	cr_assert(decide(p, "myserver", "MyServer").allow, "the name as PAM uses it");
	cr_assert_not(decide(p, "login", "myserver").allow);
	cr_assert_not(decide(p, "su", "myserver").allow);
	cr_assert_not(decide(p, "myserver", NULL).allow, "no application, no service");
	cr_assert_not(decide(p, "../myserver", "../myserver").allow);
	cr_assert_not(decide(p, "x", "a/x").allow, "an application name that is no service name");
	cr_assert(decide(p, NULL, NULL).allow);
	policy_free(p);
	p = load("auth_allow_rerun true\n", &d);
	o = decide(p, NULL, NULL);
	cr_assert_not(o.allow, "default deny");
	cr_assert_not(decide(p, "login", "login").allow);
	policy_free(p);
	diag_free(&d);
}

Test(auth_decide, dump_names_every_service)
{
	struct diag d;
	struct policy *p = load("auth true\nauth { login imap }\n", &d);
	cr_assert_not_null(p);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	policy_dump(p, f);
	fclose(f);
	cr_assert(strstr(text, "auth true"), "%s", text);
	cr_assert(strstr(text, "the one named like the application"), "%s", text);
	cr_assert(strstr(text, "auth {\n    login"), "%s", text);
	cr_assert(strstr(text, "# test.conf:2:14"), "%s", text);
	free(text);
	policy_free(p);
	diag_free(&d);
}

/* --- reading stacks ------------------------------------------------------------------------ */

static char *dir, *vendor;
static const char *dirs[3];

static void stacks_setup(void)
{
	dir = pmtest_tmpdir();
	vendor = pmtest_tmpdir();
	dirs[0] = dir;
	dirs[1] = vendor;
	dirs[2] = NULL;
}

static void stacks_teardown(void)
{
	pmtest_rmtree(dir);
	pmtest_rmtree(vendor);
	free(dir);
	free(vendor);
}

static void stack(const char *in, const char *name, const char *text)
{
	free(pmtest_write_file(in, name, text));
}

static struct pam_stack_report scan(const char *service)
{
	struct pam_stack_report r;
	cr_assert_eq(pam_stack_scan(dirs, service, &r), 0, "%s", service);
	return r;
}

TestSuite(pam_stack, .init = stacks_setup, .fini = stacks_teardown);

Test(pam_stack, rootok_found_through_includes)
{
	stack(dir, "su", "# su\n"
			 "auth       sufficient pam_rootok.so\n"
			 "@include common-auth\n");
	stack(dir, "common-auth", "auth [success=1 default=ignore] pam_unix.so nullok\n"
				  "auth requisite pam_deny.so\nauth required pam_permit.so\n");
	struct pam_stack_report r = scan("su");
	cr_assert_not(r.missing);
	cr_assert_eq(r.count, 1, "pam_permit as Debian's primer is not reported");
	cr_assert_str_eq(r.found[0].module, "pam_rootok");
	cr_assert_str_eq(r.found[0].type, "auth");
	cr_assert_eq(r.found[0].line, 2);
	cr_assert(pam_stack_trusts_caller(&r, NULL));

	/* deeper: @include, then `include`, then `substack`, with a control in
	 * brackets that holds spaces and a path to the module */
	stack(dir, "a", "@include b\n");
	stack(dir, "b", "account include c\nauth include c\n");
	stack(dir, "c", "account substack d\nauth substack d\n");
	stack(dir, "d", "auth [success=done new_authtok_reqd=done default=die] "
			"/lib/x86_64-linux-gnu/security/pam_rootok.so\n"
			"-account \\\n   sufficient pam_rootok\n");
	r = scan("a");
	/* b's account include reads c's account lines only, its auth include
	 * c's auth lines only: each finding once */
	cr_assert_eq(r.count, 2);
	cr_assert_str_eq(r.found[0].type, "account");
	cr_assert_eq(r.found[0].line, 2, "a continued line counts from its first");
	cr_assert(strstr(r.found[0].file, "/d"));
	cr_assert_str_eq(r.found[1].type, "auth");
	cr_assert_eq(r.found[1].line, 1);
}

Test(pam_stack, include_keeps_its_own_type)
{
	stack(dir, "svc", "session include other-stack\n");
	stack(dir, "other-stack", "auth sufficient pam_rootok.so\nsession optional pam_rootok.so\n");
	struct pam_stack_report r = scan("svc");
	cr_assert_eq(r.count, 1);
	cr_assert_str_eq(r.found[0].type, "session");
	cr_assert_not(pam_stack_trusts_caller(&r, NULL), "a session is no proof of identity");
}

Test(pam_stack, other_when_the_service_has_no_file)
{
	stack(dir, "other", "auth sufficient pam_rootok.so\n");
	struct pam_stack_report r = scan("pmtestpam-none");
	cr_assert(r.missing);
	cr_assert_eq(r.count, 1);
	cr_assert(strstr(r.file, "/other"));
	/* a vendor file counts as the service's own */
	stack(vendor, "vend", "auth required pam_unix.so\n");
	r = scan("vend");
	cr_assert_not(r.missing);
	cr_assert_eq(r.count, 0);
	/* neither the service nor other */
	AUTOFREE char *other = NULL;
	cr_assert(asprintf(&other, "%s/other", dir) > 0);
	cr_assert(unlink(other) == 0);
	struct pam_stack_report none;
	cr_assert_eq(pam_stack_scan(dirs, "pmtestpam-none", &none), -1);
}

Test(pam_stack, other_modules_that_trust_the_caller)
{
	stack(dir, "s", "auth sufficient pam_wheel.so trust group=wheel\n"
			"auth required pam_wheel.so group=wheel\n"
			"account sufficient pam_succeed_if.so use_uid user = root\n"
			"account sufficient pam_succeed_if.so uid = 0\n"
			"auth sufficient pam_rhosts.so\n"
			"auth sufficient pam_permit.so\n"
			"auth required pam_permit.so\n"
			"AUTH optional pam_rootok.so # upper case type\n"
			"# auth sufficient pam_rootok.so\n");
	struct pam_stack_report r = scan("s");
	cr_assert_eq(r.count, 5);
	cr_assert_str_eq(r.found[0].module, "pam_wheel");
	cr_assert_eq(r.found[0].line, 1);
	cr_assert_str_eq(r.found[1].module, "pam_succeed_if");
	cr_assert_eq(r.found[1].line, 3);
	cr_assert_str_eq(r.found[2].module, "pam_rhosts");
	cr_assert_str_eq(r.found[3].module, "pam_permit");
	cr_assert_eq(r.found[3].line, 6);
	cr_assert_str_eq(r.found[4].module, "pam_rootok");
	cr_assert_eq(r.found[4].line, 8);
}

Test(pam_stack, include_cycles_end)
{
	stack(dir, "x", "@include y\nauth sufficient pam_rootok.so\n");
	stack(dir, "y", "@include x\n");
	struct pam_stack_report r = scan("x");
	cr_assert_geq(r.count, 1);
	cr_assert_leq(r.count, PAM_STACK_MAX_FINDINGS);
}

Test(pam_stack, system_services)
{
	/* On Debian, su starts with pam_rootok; login does not. */
	struct pam_stack_report r;
	if (access("/etc/pam.d/su", F_OK) == 0 && pam_stack_scan(NULL, "su", &r) == 0) {
		const struct pam_stack_finding *f = NULL;
		cr_assert(pam_stack_trusts_caller(&r, &f));
		cr_assert_str_eq(f->module, "pam_rootok");
	}
	if (access("/etc/pam.d/login", F_OK) == 0 && pam_stack_scan(NULL, "login", &r) == 0)
		cr_assert_not(pam_stack_trusts_caller(&r, NULL));
}
