/* Validation at load and decide(): every refusal with its message, every
 * grant with the rule that made it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/capability.h>

#include "policytest.h"
#include "testutil.h"

#define USER "pmtestpol"
#define GROUP "pmtestpolgrp"

static void make_users(void)
{
	pmtest_user_ensure(USER);
	pmtest_group_ensure(GROUP);
}

/* --- paths -------------------------------------------------------------- */

Test(paths, must_be_absolute_and_clean)
{
	cr_assert_refused("open_ro etc/passwd", "test.conf:1:9: error: open_ro path \"etc/passwd\" is "
						"not an absolute path");
	cr_assert_refused("open_rw /a/../etc/shadow", "contains a '..' element");
	cr_assert_refused("open_ao /a/./b", "contains a '.' element");
	cr_assert_refused("unlink /a//b", "contains an empty element ('//')");
	cr_assert_refused("open_ro /var/spool/", "ends with '/'");
	cr_assert_refused("open_ro /a/*/b", "has '*' other than as the whole last element");
	cr_assert_refused("open_ro /a/b*", "has '*' other than as the whole last element");
	cr_assert_refused("open_ro /a/***", "has '*' other than as the whole last element");
	cr_assert_refused("security { chroot /a/* }", "chroot \"/a/*\" contains '*'");
	cr_assert_refused("chroot jail", "chroot \"jail\" is not an absolute path");
}

Test(paths, wildcards_as_last_element)
{
	struct diag d;
	struct policy *p = load_text("open_ro { /var/mail/* /srv/** \"/*\" }", &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.rules[0].match, PATH_MATCH_CHILDREN);
	cr_assert_str_eq(p->open_ro.rules[0].dir, "/var/mail");
	cr_assert_eq(p->open_ro.rules[1].match, PATH_MATCH_SUBTREE);
	cr_assert_eq(p->open_ro.rules[2].match, PATH_MATCH_CHILDREN);
	cr_assert_str_eq(p->open_ro.rules[2].dir, "/");
	policy_free(p);
	diag_free(&d);
}

Test(paths, all_errors_are_reported_together)
{
	struct diag d;
	cr_assert_null(load_text("open_ro { a /b/../c }\nbind 0\n", &d));
	cr_assert_eq(d.errors, 3);
	cr_assert_diag(&d, "test.conf:1:11:");
	cr_assert_diag(&d, "test.conf:1:13:");
	cr_assert_diag(&d, "test.conf:2:6:");
	diag_free(&d);
}

/* --- ports -------------------------------------------------------------- */

Test(ports, forms_that_are_accepted)
{
	struct diag d;
	struct policy *p = load_text("bind { 25 smtp * 127.0.0.1:80 [::1]:443 *:993 10.1.2.3:* }", &d);
	cr_assert_not_null(p);
	const struct bind_rule *r = p->bind.rules;
	cr_assert_eq(r[0].port, 25);
	cr_assert_eq(r[0].family, AF_UNSPEC);
	cr_assert_eq(r[1].port, 25, "smtp resolves through /etc/services");
	cr_assert(r[2].any_port);
	cr_assert_eq(r[3].family, AF_INET);
	cr_assert_eq(r[3].addr4.s_addr, htonl(INADDR_LOOPBACK));
	cr_assert_eq(r[4].family, AF_INET6);
	cr_assert_eq(r[4].port, 443);
	cr_assert_eq(r[5].family, AF_UNSPEC);
	cr_assert_eq(r[5].port, 993);
	cr_assert(r[6].any_port);
	cr_assert_eq(r[6].family, AF_INET);
	policy_free(p);
	diag_free(&d);
}

Test(ports, forms_that_are_refused)
{
	cr_assert_refused("bind 0", "test.conf:1:6: error: bind \"0\" names port 0");
	cr_assert_refused("bind 65536", "is not a port number (1-65535)");
	cr_assert_refused("bind 1234567", "is not a port number (1-65535)");
	cr_assert_refused("bind nosuchservice", "is neither a port number nor a service name");
	cr_assert_refused("bind ::1:25", "IPv6 address without brackets");
	cr_assert_refused("bind [::1]25", "has '[' without ']:port'");
	cr_assert_refused("bind [::g]:25", "has an invalid IPv6 address");
	cr_assert_refused("bind localhost:25", "not a numeric IPv4 address");
	cr_assert_refused("bind 127.0.0.1:", "has no port");
}

/* --- users, groups, chroot ---------------------------------------------- */

Test(scope, defaults_to_nobody_with_its_primary_group)
{
	struct diag d;
	struct policy *p = load_text("bind 25", &d);
	cr_assert_not_null(p);
	cr_assert(p->security.resolved);
	cr_assert_eq(p->security.uid, getpwnam("nobody")->pw_uid);
	cr_assert_eq(p->security.gid, getpwnam("nobody")->pw_gid);
	cr_assert_eq(p->security.gid_count, 0);
	cr_assert_eq(p->security.cap_permitted | p->security.cap_effective, 0);
	policy_free(p);
	diag_free(&d);
}

Test(scope, users_and_groups_resolve_to_ids, .init = make_users)
{
	struct diag d;
	struct policy *p = load_text("security { user " USER " group " GROUP
				     " supplemental_groups { " GROUP " " USER " " GROUP " } }",
				     &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->security.uid, getpwnam(USER)->pw_uid);
	cr_assert_eq(p->security.gid, getgrnam(GROUP)->gr_gid);
	cr_assert_eq(p->security.gid_count, 2, "duplicates are dropped");
	cr_assert_eq(p->security.gids[0], getgrnam(GROUP)->gr_gid);
	cr_assert_eq(p->security.gids[1], getgrnam(USER)->gr_gid);
	policy_free(p);
	diag_free(&d);
}

Test(scope, unknown_names_are_refused_where_written)
{
	cr_assert_refused("security {\n user pmtestnosuchuser\n}",
			  "test.conf:2:7: error: unknown user 'pmtestnosuchuser'");
	cr_assert_refused("unpriv_user pmtestnosuchuser", "test.conf:1:13: error: unknown user");
	cr_assert_refused("security { group pmtestnosuchgroup }",
			  "test.conf:1:18: error: unknown group 'pmtestnosuchgroup'");
	cr_assert_refused("security { supplemental_groups { nogroup pmtestnosuchgroup } }",
			  "test.conf:1:42: error: unknown group 'pmtestnosuchgroup'");
	cr_assert_refused("run_as { nobody pmtestnosuchuser }",
			  "test.conf:1:17: error: run_as: unknown user 'pmtestnosuchuser'");
	cr_assert_refused("run_as { nob* }", "run_as \"nob*\" is not a user name");
}

Test(scope, misspelt_names_get_a_suggestion)
{
	cr_assert_refused("security { user nobdy }", "unknown user 'nobdy' (not in the password "
						     "database); did you mean 'nobody'?");
	cr_assert_refused("security { group nogrup }", "did you mean 'nogroup'?");
	cr_assert_refused("run_as nobodyy", "run_as: unknown user 'nobodyy'; did you mean 'nobody'?");
}

Test(scope, unpriv_user_and_chroot_agree_with_the_scope, .init = make_users)
{
	struct diag d;
	struct policy *p = load_text("unpriv_user nobody\nsecurity { user nobody }", &d);
	cr_assert_not_null(p, "the same value twice is fine");
	policy_free(p);
	diag_free(&d);
	p = load_text("unpriv_user " USER "\n", &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->security.user.text, USER);
	cr_assert_eq(p->security.uid, getpwnam(USER)->pw_uid);
	policy_free(p);
	diag_free(&d);
	cr_assert_refused("unpriv_user nobody\nsecurity {\n user " USER "\n}",
			  "test.conf:1:13: error: unpriv_user \"nobody\" disagrees with security { "
			  "user \"" USER "\" } at test.conf:3:7");
	cr_assert_refused("chroot /\nsecurity { chroot /var }", "chroot \"/\" disagrees with "
								 "security { chroot \"/var\" }");
}

Test(scope, chroot_must_be_a_safe_directory)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *dir = pmtest_tmpdir();
	char text[512];
	snprintf(text, sizeof(text), "chroot %s/missing", dir);
	cr_assert_refused(text, "does not exist: create it (owned by root, mode 0755) or fix the path");
	AUTOFREE char *file = pmtest_write_file(dir, "file", "x");
	snprintf(text, sizeof(text), "chroot %s", file);
	cr_assert_refused(text, "is not a directory");
	snprintf(text, sizeof(text), "security { chroot %s }", dir);
	struct diag d;
	struct policy *p = load_text(text, &d);
	cr_assert_not_null(p, "a root-owned 0755 directory is a jail");
	policy_free(p);
	diag_free(&d);
	cr_assert_eq(chmod(dir, 0775), 0);
	cr_assert_refused(text, "is writable by its group; a jail must not be");
	cr_assert_eq(chmod(dir, 0757), 0);
	cr_assert_refused(text, "is writable by others; a jail must not be");
	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(chown(dir, 65534, 0), 0);
	cr_assert_refused(text, "is owned by uid 65534; a jail must be owned by root");
	cr_assert_eq(chown(dir, 0, 0), 0);
	pmtest_rmtree(dir);
}

/* --- capabilities and privileges ---------------------------------------- */

Test(capabilities, parsed_by_libcap)
{
	struct diag d;
	struct policy *p = load_text("security { capabilities \"cap_net_bind_service,cap_net_raw+ep "
				     "cap_chown+p\" }",
				     &d);
	cr_assert_not_null(p);
	uint64_t bind = UINT64_C(1) << CAP_NET_BIND_SERVICE, raw = UINT64_C(1) << CAP_NET_RAW;
	cr_assert_eq(p->security.cap_effective, bind | raw);
	cr_assert_eq(p->security.cap_permitted, bind | raw | (UINT64_C(1) << CAP_CHOWN));
	cr_assert_eq(p->security.cap_inheritable, 0);
	policy_free(p);
	diag_free(&d);
}

Test(capabilities, bad_text_is_refused_naming_the_word)
{
	cr_assert_refused("security { capabilities \"cap_net_bind_service+ep cap_bogus+ep\" }",
			  "test.conf:1:25: error: capabilities \"cap_net_bind_service+ep "
			  "cap_bogus+ep\": cannot parse \"cap_bogus+ep\"");
	cr_assert_refused("security { capabilities \"cap_chown+e\" }",
			  "cannot be effective without being permitted");
}

Test(capabilities, outside_the_bounding_set_is_refused_naming_it)
{
	/* Find a capability this kernel's bounding set lacks (cap_sys_resource
	 * on the machines this project is built on); none: nothing to test. */
	cap_value_t missing = -1;
	for (cap_value_t c = 0; c < cap_max_bits(); c++)
		if (cap_get_bound(c) == 0) {
			missing = c;
			break;
		}
	if (missing < 0)
		cr_skip_test("every capability is in this system's bounding set");
	char *name = cap_to_name(missing);
	char text[256], message[256];
	snprintf(text, sizeof(text), "security { capabilities \"cap_net_bind_service+ep %s+ep\" }",
		 name);
	snprintf(message, sizeof(message), "test.conf:1:25: error: capability %s is not in this "
					   "system's bounding set",
		 name);
	cr_assert_refused(text, message);
	cap_free(name);
}

Test(capabilities, seeds_cluster_example_follows_the_bounding_set)
{
	const char *paths[] = { "tests/data/seed-security-cluster.conf" };
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_files(paths, 1, &d);
	cr_assert_not_null(p);
	/* The example names ecuser; keep the scope, use a user that exists. */
	free(p->security.user.text);
	free(p->security.group.text);
	p->security.user.text = strdup("nobody");
	p->security.group.text = strdup("nogroup");
	int rc = policy_validate(p, &d);
	if (cap_get_bound(CAP_SYS_RESOURCE) == 0) {
		cr_assert_eq(rc, -1);
		cr_assert_diag(&d, "seed-security-cluster.conf:7:18: error: capability "
				   "cap_sys_resource is not in this system's bounding set");
		cr_assert_eq(d.errors, 1, "only cap_sys_resource is missing");
	} else {
		cr_assert_eq(rc, 0);
	}
	policy_free(p);
	diag_free(&d);
}

Test(capabilities, seeds_name_a_user_that_must_exist)
{
	const char *paths[] = { "tests/data/seed-single-node.conf" };
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_files(paths, 1, &d);
	cr_assert_not_null(p);
	if (getpwnam("ecuser"))
		cr_skip_test("this system has a user ecuser");
	cr_assert_eq(policy_validate(p, &d), -1);
	cr_assert_diag(&d, "seed-single-node.conf:3:10: error: unknown user 'ecuser'");
	cr_assert_diag(&d, "seed-single-node.conf:4:11: error: unknown group 'ecuser'");
	policy_free(p);
	diag_free(&d);
}

Test(capabilities, solaris_privileges_map_to_capabilities)
{
	struct diag d;
	struct policy *p = load_text("security { privileges \"basic net_privaddr proc_setid "
				     "file_dac_read,net_rawaccess\" }",
				     &d);
	cr_assert_not_null(p);
	uint64_t want = (UINT64_C(1) << CAP_NET_BIND_SERVICE) | (UINT64_C(1) << CAP_SETUID) |
			(UINT64_C(1) << CAP_SETGID) | (UINT64_C(1) << CAP_DAC_READ_SEARCH) |
			(UINT64_C(1) << CAP_NET_RAW);
	cr_assert_eq(p->security.cap_permitted, want);
	cr_assert_eq(p->security.cap_effective, want);
	cr_assert_eq(d.warnings, 0);
	policy_free(p);
	diag_free(&d);

	p = load_text("security { privileges \"basic net_bindmlp\" }", &d);
	cr_assert_not_null(p);
	cr_assert_diag(&d, "test.conf:1:23: warning: Solaris privilege 'net_bindmlp' has no Linux "
			   "equivalent; ignored");
	cr_assert_eq(p->security.cap_permitted, 0);
	policy_free(p);
	diag_free(&d);

	cr_assert_refused("security { privileges \"net_privadr\" }",
			  "unknown Solaris privilege 'net_privadr'; did you mean 'net_privaddr'?");
	cr_assert_refused("security { privileges \"frobnicate\" }",
			  "unknown Solaris privilege 'frobnicate'");
}

Test(capabilities, root_with_capabilities_is_warned)
{
	struct diag d;
	struct policy *p = load_text("security { user root capabilities \"cap_net_bind_service+ep\" }",
				     &d);
	cr_assert_not_null(p);
	cr_assert_diag(&d, "warning: user root with capabilities");
	policy_free(p);
	diag_free(&d);
	p = load_text("security { user root }", &d);
	cr_assert_not_null(p);
	cr_assert_diag(&d, "note: user root without capabilities: the process keeps full root");
	policy_free(p);
	diag_free(&d);
	/* Naming capabilities counts, even none: root then keeps nothing. */
	p = load_text("security { user root capabilities \"\" }", &d);
	cr_assert_not_null(p);
	cr_assert_diag(&d, "warning: user root with capabilities");
	cr_assert_not(diag_has(&d, "keeps full root"));
	policy_free(p);
	diag_free(&d);
}

/* --- decide() ----------------------------------------------------------- */

static struct policy *decide_policy;

static void load_decide_policy(void)
{
	struct diag d;
	decide_policy = load_text("open_ro { /etc/motd \"/srv/my files/*\" /data/** }\n"
				  "open_ao /var/log/app.log\n"
				  "open_rw { /var/spool/app/* }\n"
				  "unlink /var/spool/app/*\n"
				  "bind { 25 127.0.0.1:80 [::1]:443 }\n"
				  "run_as { nobody }\n"
				  "auth true\n",
				  &d);
	cr_assert_not_null(decide_policy);
	diag_free(&d);
}

static struct policy_decision open_decision(const char *path, int flags)
{
	struct policy_request req = { .op = POLICY_OP_OPEN, .path = path, .flags = flags };
	struct policy_decision out;
	policy_decide(decide_policy, &req, &out);
	return out;
}

#define cr_assert_open(path, flags, allowed, err)                                            \
	do {                                                                                 \
		struct policy_decision o_ = open_decision((path), (flags));                  \
		cr_assert_eq(o_.allow, (allowed), "%s 0x%x: %s", (path), (unsigned)(flags),  \
			     o_.reason);                                                     \
		cr_assert_eq(o_.error, (err), "%s 0x%x: errno %d: %s", (path),               \
			     (unsigned)(flags), o_.error, o_.reason);                        \
	} while (0)

TestSuite(decide, .init = load_decide_policy);

Test(decide, read_only_grant)
{
	cr_assert_open("/etc/motd", O_RDONLY, true, 0);
	cr_assert_open("/etc/motd", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, true, 0);
	cr_assert_open("/etc/motd", O_RDONLY | O_TRUNC, false, EACCES);
	cr_assert_open("/etc/motd", O_RDONLY | O_CREAT, false, EACCES);
	cr_assert_open("/etc/motd", O_WRONLY, false, EACCES);
	cr_assert_open("/etc/motd", O_RDWR, false, EACCES);
	cr_assert_open("/etc/motd", O_WRONLY | O_APPEND, false, EACCES);
	struct policy_decision o = open_decision("/etc/motd", O_RDWR);
	cr_assert_str_eq(o.reason, "/etc/motd is granted only by open_ro, and O_RDWR needs open_rw");
	cr_assert_eq(o.origin->line, 1);
	cr_assert_eq(o.origin->column, 11);
}

Test(decide, append_only_grant)
{
	cr_assert_open("/var/log/app.log", O_WRONLY | O_APPEND, true, 0);
	cr_assert_open("/var/log/app.log", O_WRONLY | O_APPEND | O_CREAT, true, 0);
	cr_assert_open("/var/log/app.log", O_RDONLY, false, EACCES);
	cr_assert_open("/var/log/app.log", O_WRONLY | O_APPEND | O_TRUNC, false, EACCES);
	cr_assert_open("/var/log/app.log", O_RDWR | O_APPEND, false, EACCES);
	cr_assert_open("/var/log/app.log", O_WRONLY, false, EACCES);
}

Test(decide, read_write_grant)
{
	cr_assert_open("/var/spool/app/q1", O_RDONLY, true, 0);
	cr_assert_open("/var/spool/app/q1", O_RDWR | O_CREAT | O_TRUNC, true, 0);
	cr_assert_open("/var/spool/app/q1", O_WRONLY | O_APPEND, true, 0);
	cr_assert_open("/var/spool/app", O_RDWR | O_TMPFILE, true, 0);
	cr_assert_open("/etc/motd", O_RDWR | O_TMPFILE, false, EACCES);
}

Test(decide, dangerous_and_unknown_flags)
{
	cr_assert_open("/etc/motd", O_PATH, false, EINVAL);
	cr_assert_open("/etc/motd", O_RDONLY | O_ASYNC, false, EINVAL);
	cr_assert_open("/etc/motd", O_ACCMODE, false, EINVAL);
	cr_assert_open("/etc/motd", O_RDONLY | (1 << 30), false, EINVAL);
}

Test(decide, one_level_and_any_depth)
{
	cr_assert_open("/srv/my files/index.html", O_RDONLY, true, 0);
	cr_assert_open("/srv/my files/sub/index.html", O_RDONLY, false, EACCES);
	cr_assert_open("/srv/my files", O_RDONLY, false, EACCES);
	cr_assert_open("/srv/my filesX/a", O_RDONLY, false, EACCES);
	cr_assert_open("/data/a", O_RDONLY, true, 0);
	cr_assert_open("/data/a/b/c/d", O_RDONLY, true, 0);
	cr_assert_open("/data", O_RDONLY, false, EACCES);
	cr_assert_open("/database/x", O_RDONLY, false, EACCES);
	cr_assert_open("/etc/motd2", O_RDONLY, false, EACCES);
	cr_assert_open("relative", O_RDONLY, false, EACCES);
}

Test(decide, unlink)
{
	struct policy_request req = { .op = POLICY_OP_UNLINK, .path = "/var/spool/app/q1" };
	struct policy_decision out;
	policy_decide(decide_policy, &req, &out);
	cr_assert(out.allow);
	cr_assert_str_eq(out.directive, "unlink");
	req.path = "/var/spool/app/sub/q1";
	policy_decide(decide_policy, &req, &out);
	cr_assert_not(out.allow);
	cr_assert_eq(out.error, EACCES);
	req.path = "/etc/motd";
	policy_decide(decide_policy, &req, &out);
	cr_assert_not(out.allow, "open_ro does not grant unlink");
}

/* The reasons of grants, built by appending, read as snprintf wrote them;
 * a decision reused after a longer reason holds only the new one. */
Test(decide, grant_reasons_read_as_before)
{
	struct policy_decision o = open_decision("/var/spool/app/q1", O_RDWR | O_CREAT | O_TRUNC);
	cr_assert_str_eq(o.reason, "O_RDWR|O_CREAT|O_TRUNC /var/spool/app/q1 is granted by open_rw");
	struct policy_request req = { .op = POLICY_OP_OPEN, .path = "/etc/motd", .flags = O_RDONLY };
	policy_decide(decide_policy, &req, &o);
	cr_assert_str_eq(o.reason, "O_RDONLY /etc/motd is granted by open_ro");
	req = (struct policy_request){ .op = POLICY_OP_UNLINK, .path = "/var/spool/app/q1" };
	policy_decide(decide_policy, &req, &o);
	cr_assert_str_eq(o.reason, "unlink of /var/spool/app/q1 is granted");
	/* A path as long as the reason: cut where snprintf cut it. */
	static char path[600];
	memset(path, 'x', sizeof(path) - 1);
	memcpy(path, "/data/", 6);
	o = open_decision(path, O_RDONLY);
	cr_assert(o.allow);
	char want[sizeof(path) + 64];
	snprintf(want, sizeof(want), "O_RDONLY %s is granted by open_ro", path);
	want[sizeof(o.reason) - 1] = '\0'; /* where snprintf into the reason cut it */
	cr_assert_str_eq(o.reason, want);
}

static struct policy_decision bind_decision(int family, const char *address, uint16_t port)
{
	struct policy_request req = { .op = POLICY_OP_BIND, .family = family, .port = port };
	if (family == AF_INET)
		inet_pton(AF_INET, address, &req.addr4);
	else
		inet_pton(AF_INET6, address, &req.addr6);
	struct policy_decision out;
	policy_decide(decide_policy, &req, &out);
	return out;
}

Test(decide, bind_checks_family_port_and_address)
{
	cr_assert(bind_decision(AF_INET, "0.0.0.0", 25).allow);
	cr_assert(bind_decision(AF_INET6, "::", 25).allow);
	cr_assert(bind_decision(AF_INET, "127.0.0.1", 80).allow);
	struct policy_decision o = bind_decision(AF_INET, "0.0.0.0", 80);
	cr_assert_not(o.allow, "port 80 is granted only on 127.0.0.1");
	cr_assert_eq(o.error, EACCES);
	cr_assert_str_eq(o.reason, "no bind rule matches 0.0.0.0:80");
	cr_assert_str_eq(bind_decision(AF_INET, "127.0.0.1", 80).reason,
			 "bind to 127.0.0.1:80 is granted");
	cr_assert_str_eq(bind_decision(AF_INET6, "::1", 443).reason, "bind to [::1]:443 is granted");
	cr_assert_str_eq(bind_decision(AF_INET6, "::", 25).reason, "bind to [::]:25 is granted");
	cr_assert_not(bind_decision(AF_INET6, "::1", 80).allow);
	cr_assert(bind_decision(AF_INET6, "::1", 443).allow);
	cr_assert_not(bind_decision(AF_INET, "127.0.0.1", 443).allow);
	cr_assert_not(bind_decision(AF_INET, "127.0.0.1", 26).allow);
	struct policy_request req = { .op = POLICY_OP_BIND, .family = AF_UNIX, .port = 25 };
	policy_decide(decide_policy, &req, &o);
	cr_assert_not(o.allow);
}

/* privman.conf(5): "Port 0 is refused". A rule cannot name it, and a rule
 * for any port (`*`, `*:*`, an address with `*`) does not grant it either.
 * Found by fuzz_decide. */
Test(decide, bind_port_zero_refused_even_by_any_port)
{
	struct diag d;
	struct policy *p = load_text("bind { * *:* 127.0.0.1:* }", &d);
	cr_assert_not_null(p);
	struct policy_request req = { .op = POLICY_OP_BIND, .family = AF_INET, .port = 0 };
	inet_pton(AF_INET, "127.0.0.1", &req.addr4);
	struct policy_decision out;
	policy_decide(p, &req, &out);
	cr_assert_not(out.allow);
	cr_assert_eq(out.error, EACCES);
	cr_assert(strstr(out.reason, "port 0 is never granted"), "%s", out.reason);
	req.family = AF_INET6;
	policy_decide(p, &req, &out);
	cr_assert_not(out.allow);
	req.port = 1;
	policy_decide(p, &req, &out);
	cr_assert(out.allow, "any other port is granted by *");
	policy_free(p);
}

Test(decide, run_as_star_never_means_root)
{
	struct diag d;
	struct policy *p = load_text("run_as *", &d);
	cr_assert_not_null(p);
	struct policy_request req = { .op = POLICY_OP_RUN_AS, .uid = 65534, .user = "nobody" };
	struct policy_decision out;
	policy_decide(p, &req, &out);
	cr_assert(out.allow);
	req.uid = 0;
	req.user = "root";
	policy_decide(p, &req, &out);
	cr_assert_not(out.allow);
	cr_assert_eq(out.error, EPERM);
	cr_assert(strstr(out.reason, "'*' never means root"));
	policy_free(p);
	p = load_text("run_as { * root }", &d);
	cr_assert_not_null(p);
	policy_decide(p, &req, &out);
	cr_assert(out.allow, "root when named");
	policy_free(p);
	diag_free(&d);
}

Test(decide, booleans_default_to_deny)
{
	struct policy_request req = { .op = POLICY_OP_AUTH };
	struct policy_decision out;
	policy_decide(decide_policy, &req, &out);
	cr_assert(out.allow);
	req.op = POLICY_OP_FORK;
	policy_decide(decide_policy, &req, &out);
	cr_assert_not(out.allow);
	cr_assert_eq(out.error, EPERM);
	cr_assert_null(out.origin);
	req.op = POLICY_OP_RERUN;
	policy_decide(decide_policy, &req, &out);
	cr_assert_not(out.allow);
}

Test(decide, empty_policy_denies_everything)
{
	struct diag d;
	struct policy *p = load_text("", &d);
	cr_assert_not_null(p);
	static const int flags[] = { O_RDONLY, O_WRONLY | O_APPEND, O_RDWR | O_CREAT };
	for (size_t i = 0; i < 3; i++) {
		struct policy_request req = { .op = POLICY_OP_OPEN, .path = "/etc/motd",
					      .flags = flags[i] };
		struct policy_decision out;
		policy_decide(p, &req, &out);
		cr_assert_not(out.allow);
		cr_assert_eq(out.error, EACCES);
	}
	policy_free(p);
	diag_free(&d);
}

/* --- run scopes: (program, user, chroot) together ----------------------- */

static struct policy *load_jails(char **jail)
{
	*jail = pmtest_tmpdir();
	char text[1024];
	snprintf(text, sizeof(text),
		 "run_as { nobody " USER " }\n"
		 "run {\n program /usr/sbin/sendmail\n user { nobody }\n chroot %s\n}\n"
		 "run { user * chroot %s }\n"
		 "run { program \"/usr/lib/app/*\" user " USER " }\n"
		 "auth_allow_rerun true\n",
		 *jail, *jail);
	struct diag d;
	struct policy *p = load_text(text, &d);
	if (!p)
		diag_print(&d);
	cr_assert_not_null(p);
	diag_free(&d);
	return p;
}

static struct policy_decision run_decision(const struct policy *p, const char *user,
					   const char *program, const char *chroot)
{
	struct passwd *pw = getpwnam(user);
	cr_assert_not_null(pw, "%s", user);
	struct policy_request req = { .op = POLICY_OP_RUN_AS, .uid = pw->pw_uid, .user = user,
				      .program = program, .chroot = chroot };
	struct policy_decision out;
	policy_decide(p, &req, &out);
	return out;
}

Test(run_scope, program_user_and_chroot_go_together, .init = make_users)
{
	AUTOFREE char *jail = NULL;
	struct policy *p = load_jails(&jail);
	/* The named program: only as nobody, only in the jail. */
	struct policy_decision o = run_decision(p, "nobody", "/usr/sbin/sendmail", jail);
	cr_assert(o.allow, "%s", o.reason);
	cr_assert_str_eq(o.directive, "run");
	o = run_decision(p, "nobody", "/usr/sbin/sendmail", NULL);
	cr_assert_not(o.allow, "a named program is not granted by run_as outside its jail");
	cr_assert_eq(o.error, EPERM);
	cr_assert(strstr(o.reason, "a run scope names this program"));
	o = run_decision(p, USER, "/usr/sbin/sendmail", jail);
	cr_assert(o.allow, "the `*` run scope grants any non-root user in the jail");
	o = run_decision(p, "root", "/usr/sbin/sendmail", jail);
	cr_assert_not(o.allow);
	/* Another program: run_as, without a chroot. */
	o = run_decision(p, USER, "/bin/true", NULL);
	cr_assert(o.allow, "%s", o.reason);
	cr_assert_str_eq(o.directive, "run_as");
	o = run_decision(p, USER, "/bin/true", "/");
	cr_assert(o.allow, "\"/\" is no chroot");
	o = run_decision(p, USER, "/bin/true", "/tmp");
	cr_assert_not(o.allow, "run_as does not grant another chroot");
	cr_assert(strstr(o.reason, "a run scope can grant another chroot"));
	/* A wildcard program, any chroot unset. */
	o = run_decision(p, USER, "/usr/lib/app/worker", NULL);
	cr_assert(o.allow);
	o = run_decision(p, "nobody", "/usr/lib/app/worker", NULL);
	cr_assert_not(o.allow, "the app's run scope names only " USER);
	o = run_decision(p, USER, "/usr/lib/app/sub/worker", NULL);
	cr_assert(o.allow, "one level deeper is not the named program: run_as applies");
	policy_free(p);
	pmtest_rmtree(jail);
}

Test(run_scope, rerun_has_no_program, .init = make_users)
{
	AUTOFREE char *jail = NULL;
	struct policy *p = load_jails(&jail);
	struct policy_decision o = run_decision(p, "nobody", NULL, jail);
	cr_assert(o.allow, "the `*` scope has no program: it grants priv_rerunas in the jail");
	o = run_decision(p, "nobody", NULL, NULL);
	cr_assert(o.allow);
	o = run_decision(p, "root", NULL, NULL);
	cr_assert_not(o.allow);
	policy_free(p);
	pmtest_rmtree(jail);
}

Test(run_scope, auth_allow_rerun_adds_only_authenticated_users, .init = make_users)
{
	struct diag d;
	struct policy *p = load_text("auth_allow_rerun true\n", &d);
	cr_assert_not_null(p);
	uid_t user = getpwnam(USER)->pw_uid, root = 0;
	struct policy_request req = { .op = POLICY_OP_RUN_AS, .uid = user, .user = USER };
	struct policy_decision o;
	policy_decide(p, &req, &o);
	cr_assert_not(o.allow, "not authenticated");
	req.authenticated = &user;
	req.authenticated_count = 1;
	policy_decide(p, &req, &o);
	cr_assert(o.allow, "%s", o.reason);
	cr_assert_str_eq(o.directive, "auth_allow_rerun");
	req.program = "/bin/sh";
	policy_decide(p, &req, &o);
	cr_assert_not(o.allow, "auth_allow_rerun is for priv_rerunas only");
	req.program = NULL;
	req.chroot = "/tmp";
	policy_decide(p, &req, &o);
	cr_assert_not(o.allow, "nor another chroot");
	req.chroot = NULL;
	req.uid = root;
	req.authenticated = &root;
	policy_decide(p, &req, &o);
	cr_assert_not(o.allow, "root is never added");
	policy_free(p);
	p = load_text("auth_allow_rerun false\n", &d);
	req.uid = user;
	req.authenticated = &user;
	policy_decide(p, &req, &o);
	cr_assert_not(o.allow);
	policy_free(p);
	diag_free(&d);
}

Test(run_scope, refused_when_wrong)
{
	cr_assert_refused("run { program /bin/x }", "test.conf:1:5: error: this run scope names no "
						   "user");
	cr_assert_refused("run { user nobody program bin/x }", "run { program } path \"bin/x\" is "
								"not an absolute path");
	cr_assert_refused("run { user pmtestnosuchuser }", "run { user }: unknown user "
							   "'pmtestnosuchuser'");
	cr_assert_refused("run { user nobody chroot /nonexistent/jail }", "chroot directory "
									  "/nonexistent/jail does not exist");
	cr_assert_refused("run { user nobody chroot /tmp }", "chroot /tmp is writable by others");
	cr_assert_refused("run { user nobody bind 25 }", "'bind' is not valid inside 'run'");
	cr_assert_refused("run { usr nobody }", "unknown run option 'usr'; did you mean 'user'?");
}

Test(scope, equal_scopes_compare_by_what_they_grant, .init = make_users)
{
	struct diag d;
	struct policy *a = load_text("security { user nobody capabilities \"cap_net_raw+ep\" }", &d);
	struct policy *b = load_text("unpriv_user nobody\nsecurity { group nogroup capabilities "
				     "\"cap_net_raw=ep\" }",
				     &d);
	struct policy *c = load_text("security { user nobody capabilities \"cap_net_admin+ep\" }", &d);
	struct policy *e = load_text("security { user " USER " capabilities \"cap_net_raw+ep\" }", &d);
	struct policy *f = load_text("security { user nobody supplemental_groups " GROUP
				     " capabilities \"cap_net_raw+ep\" }",
				     &d);
	cr_assert(a && b && c && e && f);
	cr_assert(policy_security_equal(&a->security, &b->security), "written differently, same");
	cr_assert_not(policy_security_equal(&a->security, &c->security), "capabilities differ");
	cr_assert_not(policy_security_equal(&a->security, &e->security), "users differ");
	cr_assert_not(policy_security_equal(&a->security, &f->security), "groups differ");
	policy_free(a);
	policy_free(b);
	policy_free(c);
	policy_free(e);
	policy_free(f);
	diag_free(&d);
}
