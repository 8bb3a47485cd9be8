/* The policy language's grammar: what parses, what does not, and where the
 * error is reported. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/capability.h>

#include "policytest.h"
#include "testutil.h"

#define DATA "tests/data/"

static struct policy *parse_file(const char *path, struct diag *d)
{
	diag_init(d);
	const char *paths[] = { path };
	return conf_load_files(paths, 1, d);
}

/* --- the seeds parse as written ----------------------------------------- */

Test(seeds, single_node_example_parses)
{
	struct diag d;
	struct policy *p = parse_file(DATA "seed-single-node.conf", &d);
	cr_assert_not_null(p);
	cr_assert(p->security.present);
	cr_assert_str_eq(p->security.user.text, "ecuser");
	cr_assert_str_eq(p->security.group.text, "ecuser");
	cr_assert_str_eq(p->security.capabilities.text, "cap_net_bind_service+ep");
	cr_assert_eq(p->security.capabilities.origin.line, 6);
	cr_assert_eq(p->security.capabilities.origin.column, 18);
	policy_free(p);
	diag_free(&d);
}

Test(seeds, cluster_example_parses)
{
	struct diag d;
	struct policy *p = parse_file(DATA "seed-cluster.conf", &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->security.capabilities.text,
			 "cap_net_admin+ep cap_net_bind_service+ep cap_net_raw+ep "
			 "cap_sys_resource+ep");
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	cr_assert_eq(p->security.cap_permitted, (UINT64_C(1) << CAP_NET_ADMIN) |
							(UINT64_C(1) << CAP_NET_BIND_SERVICE) |
							(UINT64_C(1) << CAP_NET_RAW) |
							(UINT64_C(1) << CAP_SYS_RESOURCE));
	policy_free(p);
	diag_free(&d);
}

Test(seeds, security_scope_examples_parse)
{
	struct diag d;
	struct policy *p = parse_file(DATA "seed-security-standalone.conf", &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->security.privileges.text, "basic net_privaddr");
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	cr_assert_eq(p->security.cap_permitted, UINT64_C(1) << CAP_NET_BIND_SERVICE);
	cr_assert_eq(d.warnings, 0);
	policy_free(p);
	diag_free(&d);

	p = parse_file(DATA "seed-security-cluster.conf", &d);
	cr_assert_not_null(p);
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	/* net_bindmlp has no Linux meaning: warned, not refused. */
	cr_assert_eq(d.warnings, 1);
	cr_assert_diag(&d, "seed-security-cluster.conf:9:16: warning: Solaris privilege "
			   "'net_bindmlp' has no Linux equivalent");
	policy_free(p);
	diag_free(&d);
}

Test(seeds, privman_conf_example_parses)
{
	struct diag d;
	struct policy *p = parse_file(DATA "seed-privman.conf", &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.count, 1);
	cr_assert_str_eq(p->open_ro.rules[0].path, "/path/to/file");
	cr_assert_eq(p->open_rw.count, 0);
	cr_assert_eq(p->bind.count, 1);
	cr_assert_str_eq(p->run_as.rules[0].name, "user");
	cr_assert_str_eq(p->chroot.text, "/path/to/jail");
	cr_assert_str_eq(p->unpriv_user.text, "nobody");
	cr_assert(p->auth.set && p->auth.value);
	cr_assert(p->fork.set && !p->fork.value);
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	policy_free(p);
	diag_free(&d);
}

/* --- the grammar -------------------------------------------------------- */

Test(grammar, names_are_case_insensitive_values_are_not)
{
	struct diag d;
	struct policy *p = parse_text("OPEN_RO /Etc/X\nSecurity { USER = Nobody }\nAuTh TRUE\n", &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->open_ro.rules[0].path, "/Etc/X");
	cr_assert_str_eq(p->security.user.text, "Nobody");
	cr_assert(p->auth.value);
	cr_assert_eq(policy_validate(p, &d), -1);
	cr_assert_diag(&d, "test.conf:2:19: error: unknown user 'Nobody'");
	policy_free(p);
	diag_free(&d);
}

Test(grammar, equals_is_optional_and_both_list_brackets_work)
{
	struct diag d;
	struct policy *p = parse_text("bind = { 80 }\nbind 81\nbind = 82\nbind (83 84)\n"
				      "security { supplemental_groups = ( \"mail\" \"adm\" ) }\n"
				      "security = { supplemental_groups mail }\n",
				      &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->bind.count, 5);
	cr_assert_str_eq(p->bind.rules[4].text, "84");
	cr_assert_eq(p->security.supplemental_count, 1);
	policy_free(p);
	diag_free(&d);
}

Test(grammar, comments_of_both_kinds)
{
	struct diag d;
	struct policy *p = parse_text("# a comment\nopen_ro /a # trailing\n/* block\n open_ro /b\n*/"
				      "open_ro { /c/* /* and more */ /d }\n",
				      &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.count, 3);
	cr_assert_str_eq(p->open_ro.rules[1].path, "/c/*");
	cr_assert_str_eq(p->open_ro.rules[2].path, "/d");
	policy_free(p);
	diag_free(&d);
}

Test(grammar, quoted_strings_with_escapes_and_spaces)
{
	struct diag d;
	struct policy *p = parse_text("open_ro { \"/srv/my files/index.html\" \"/q\\\"\\\\\\t\" }\n", &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->open_ro.rules[0].path, "/srv/my files/index.html");
	cr_assert_str_eq(p->open_ro.rules[1].path, "/q\"\\\t");
	policy_free(p);
	diag_free(&d);
}

Test(grammar, empty_file_and_empty_lists)
{
	struct diag d;
	struct policy *p = parse_text("", &d);
	cr_assert_not_null(p);
	policy_free(p);
	p = parse_text("open_ro { }\nbind ( )\n", &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.count + p->bind.count, 0);
	policy_free(p);
	diag_free(&d);
}

/* --- syntax errors name file:line:column -------------------------------- */

#define cr_assert_syntax_error(text, needle)                                                 \
	do {                                                                                 \
		struct diag d_;                                                              \
		struct policy *p_ = parse_text((text), &d_);                                 \
		cr_assert_null(p_, "parsed: %s", (text));                                    \
		cr_assert_diag(&d_, (needle));                                               \
		diag_free(&d_);                                                              \
	} while (0)

Test(syntax, unknown_directive_suggests_nearest)
{
	cr_assert_syntax_error("open_ro /a\nopen_r0 /b\n",
			       "test.conf:2:1: error: unknown directive 'open_r0'; did you mean "
			       "'open_ro'?");
	cr_assert_syntax_error("unpriv_usr nobody", "did you mean 'unpriv_user'?");
	cr_assert_syntax_error("frobnicate 1", "test.conf:1:1: error: unknown directive 'frobnicate'");
}

Test(syntax, unknown_security_option_suggests_nearest)
{
	cr_assert_syntax_error("security {\n  capabilites = \"cap_chown+ep\"\n}\n",
			       "test.conf:2:3: error: unknown security option 'capabilites'; did "
			       "you mean 'capabilities'?");
	cr_assert_syntax_error("security { bind 25 }", "'bind' is not valid inside 'security'");
	cr_assert_syntax_error("user nobody", "'user' is valid only inside 'security { ... }'");
}

Test(syntax, unterminated_things)
{
	cr_assert_syntax_error("open_ro \"/a\n", "test.conf:1:9: error: string opened here is not "
						 "closed");
	cr_assert_syntax_error("/* never\nclosed", "test.conf:1:1: error: comment opened here is "
						   "never closed");
	cr_assert_syntax_error("open_ro {\n/a\n", "test.conf:1:9: error: list of 'open_ro' opened "
						"here is never closed with '}'");
	cr_assert_syntax_error("open_ro ( /a }", "expected a value or ')' to close the list");
	cr_assert_syntax_error("security {\nuser nobody\n", "test.conf:1:10: error: 'security' "
							 "scope opened here is never closed");
}

Test(syntax, bad_tokens)
{
	cr_assert_syntax_error("open_ro /a;\n", "test.conf:1:11: error: unexpected ';' "
						"(statements need no ';')");
	cr_assert_syntax_error("open_ro '/a'", "unexpected ''' (quote values with '\"')");
	cr_assert_syntax_error("open_ro \"/a\\q\"", "test.conf:1:12: error: unknown escape");
	cr_assert_syntax_error("open_ro /a\n\x01", "test.conf:2:1: error: unexpected byte 0x01");
	cr_assert_syntax_error("\"open_ro\" /a", "expected a directive name, found a quoted string");
}

Test(syntax, nul_byte_is_refused)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_buffer("test.conf", "bind 25\nbi\0nd 80\n", 17, &d);
	cr_assert_null(p);
	cr_assert_diag(&d, "test.conf:2:3: error: a NUL byte is not allowed");
	diag_free(&d);
}

Test(syntax, missing_values)
{
	cr_assert_syntax_error("chroot", "test.conf:1:7: error: expected a value for 'chroot', "
					 "found the end of the file");
	cr_assert_syntax_error("auth", "expected true, false, or a list of PAM services");
	cr_assert_syntax_error("open_ro", "expected a value or a list");
	cr_assert_syntax_error("open_ro { { } }", "expected a value or '}' to close the list");
	cr_assert_syntax_error("security user", "expected '{' to open the security scope");
	cr_assert_syntax_error("security { user }", "expected a value for 'user'");
}

Test(syntax, booleans)
{
	static const char *const good[] = { "true", "false", "yes", "no", "on", "off",
					    "1",    "0",     "TRUE", "Off" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "fork %s", good[i]);
		struct diag d;
		struct policy *p = parse_text(text, &d);
		cr_assert_not_null(p, "%s", text);
		cr_assert_eq(p->fork.value, i % 2 == 0 && i < 8 ? true : i == 8, "%s", text);
		policy_free(p);
		diag_free(&d);
	}
	cr_assert_syntax_error("fork maybe", "test.conf:1:6: error: expected true or false (or "
					     "yes/no, on/off, 1/0), not 'maybe'");
}

Test(syntax, overlong_value)
{
	size_t n = CONF_MAX_TOKEN + 20;
	char *text = malloc(n + 16);
	strcpy(text, "open_ro /");
	memset(text + 9, 'a', n);
	text[9 + n] = '\0';
	cr_assert_syntax_error(text, "value longer than");
	free(text);
}

/* --- several files, includes, overrides --------------------------------- */

Test(files, lists_accumulate_scalars_replace_security_replaced_whole)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	AUTOFREE char *base = pmtest_write_file(dir, "base.conf",
				       "open_ro /a\nbind 25\nunpriv_user nobody\nfork true\n"
				       "security {\n user = nobody\n group = nogroup\n"
				       " capabilities = \"cap_net_bind_service+ep\"\n}\n");
	AUTOFREE char *cluster = pmtest_write_file(dir, "cluster.conf",
					  "open_ro /b\nbind 26\nfork false\n"
					  "Security {\n user = nobody\n capabilities = \"cap_net_raw+ep\"\n}\n");
	const char *paths[] = { base, cluster };
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_files(paths, 2, &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.count, 2);
	cr_assert_eq(p->bind.count, 2);
	cr_assert_eq(p->fork.value, false);
	cr_assert_str_eq(p->fork.origin.file, cluster);
	/* The cluster file's scope replaces the base one whole: no group. */
	cr_assert_null(p->security.group.text);
	cr_assert_str_eq(p->security.capabilities.text, "cap_net_raw+ep");
	cr_assert_str_eq(p->security.origin.file, cluster);
	cr_assert_eq(policy_validate_syntax(p, &d), 0);
	cr_assert_eq(p->security.cap_permitted, UINT64_C(1) << CAP_NET_RAW);
	policy_free(p);
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, include_is_relative_to_the_including_file)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	free(pmtest_write_file(dir, "sub/inner.conf", "open_ro /inner\n"));
	free(pmtest_write_file(dir, "sub/mid.conf", "include \"inner.conf\"\nopen_ro /mid\n"));
	AUTOFREE char *top = pmtest_write_file(dir, "top.conf", "open_ro /top\ninclude sub/mid.conf\nbind 25\n");
	struct diag d;
	struct policy *p = parse_file(top, &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.count, 3);
	cr_assert_str_eq(p->open_ro.rules[1].path, "/inner");
	cr_assert(strstr(p->open_ro.rules[1].origin.file, "sub/inner.conf"));
	cr_assert_eq(p->bind.count, 1);
	policy_free(p);
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, include_cycle_is_an_error)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	free(pmtest_write_file(dir, "a.conf", "open_ro /a\ninclude b.conf\n"));
	free(pmtest_write_file(dir, "b.conf", "include \"a.conf\"\n"));
	char path[256];
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	struct diag d;
	struct policy *p = parse_file(path, &d);
	cr_assert_null(p);
	cr_assert_diag(&d, "b.conf:1:9: error: include cycle");
	diag_free(&d);

	free(pmtest_write_file(dir, "self.conf", "include self.conf\n"));
	snprintf(path, sizeof(path), "%s/self.conf", dir);
	p = parse_file(path, &d);
	cr_assert_null(p);
	cr_assert_diag(&d, "self.conf:1:9: error: include cycle");
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, missing_include_and_missing_file)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	AUTOFREE char *top = pmtest_write_file(dir, "top.conf", "bind 25\ninclude \"nope.conf\"\n");
	struct diag d;
	struct policy *p = parse_file(top, &d);
	cr_assert_null(p);
	cr_assert_diag(&d, "top.conf:2:9: error: cannot open policy file");
	cr_assert_diag(&d, "nope.conf: No such file or directory");
	diag_free(&d);

	p = parse_file("/nonexistent/privman.conf", &d);
	cr_assert_null(p);
	cr_assert_diag(&d, "error: cannot open policy file /nonexistent/privman.conf: No such file");
	diag_free(&d);

	p = parse_file("/etc", &d);
	cr_assert_null(p);
	cr_assert_diag(&d, "policy file /etc is not a regular file");
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, nothing_is_half_loaded)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	AUTOFREE char *good = pmtest_write_file(dir, "good.conf", "open_ro /a\n");
	AUTOFREE char *bad = pmtest_write_file(dir, "bad.conf", "open_ro /b\nbogus 1\n");
	const char *paths[] = { good, bad };
	struct diag d;
	diag_init(&d);
	cr_assert_null(conf_load_files(paths, 2, &d));
	cr_assert_diag(&d, "bad.conf:2:1: error: unknown directive 'bogus'");
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, include_depth_is_bounded)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	for (int i = 0; i < 20; i++) {
		char name[32], text[64];
		snprintf(name, sizeof(name), "f%d.conf", i);
		snprintf(text, sizeof(text), "include f%d.conf\n", i + 1);
		free(pmtest_write_file(dir, name, text));
	}
	free(pmtest_write_file(dir, "f20.conf", "bind 25\n"));
	char path[256];
	snprintf(path, sizeof(path), "%s/f0.conf", dir);
	struct diag d;
	cr_assert_null(parse_file(path, &d));
	cr_assert_diag(&d, "includes nested deeper than");
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, untrusted_policy_file_is_refused_by_root)
{
	PMTEST_SKIP_UNLESS_ROOT();
	AUTOFREE char *dir = pmtest_tmpdir();
	AUTOFREE char *path = pmtest_write_file(dir, "p.conf", "bind 25\n");
	cr_assert_eq(chmod(path, 0666), 0);
	struct diag d;
	cr_assert_null(parse_file(path, &d));
	cr_assert_diag(&d, "is writable by others; a privileged monitor must not trust it");
	diag_free(&d);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(chown(path, 65534, 0), 0);
	cr_assert_null(parse_file(path, &d));
	cr_assert_diag(&d, "is owned by uid 65534, not root");
	diag_free(&d);
	cr_assert_eq(chown(path, 0, 0), 0);
	struct policy *p = parse_file(path, &d);
	cr_assert_not_null(p);
	policy_free(p);
	diag_free(&d);
	pmtest_rmtree(dir);
}

Test(files, oversized_policy_file_is_refused)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	char path[256];
	snprintf(path, sizeof(path), "%s/big.conf", dir);
	FILE *f = fopen(path, "we");
	cr_assert_not_null(f);
	for (int i = 0; i < CONF_MAX_FILE_SIZE / 16 + 1; i++)
		fputs("# padding line\n\n", f);
	fclose(f);
	struct diag d;
	cr_assert_null(parse_file(path, &d));
	cr_assert_diag(&d, "is larger than 1048576 bytes");
	diag_free(&d);
	pmtest_rmtree(dir);
}

/* --- policy files written for the original Privman ---------------------- */

/* The original read "/var/run/a#b" as one path; a comment starting there
 * would grant "/var/run/a" instead, without a word. */
Test(original, hash_inside_an_unquoted_value_is_refused)
{
	cr_assert_syntax_error("open_ro /var/run/a#b\n",
			       "test.conf:1:19: error: '#' inside a value; quote the value");
	cr_assert_syntax_error("open_rw {\n /etc/motd\n /var/run/x#1 }\n",
			       "test.conf:3:12: error: '#' inside a value");
	cr_assert_syntax_error("unlink /tmp/a#\n", "test.conf:1:14: error: '#' inside a value");
	cr_assert_syntax_error("fork true# on\n", "test.conf:1:10: error: '#' inside a value");
	cr_assert_syntax_error("chroot /jail#x\n", "test.conf:1:13: error: '#' inside a value");

	/* Quoted, '#' belongs to the path; after a blank it starts a comment. */
	struct diag d;
	struct policy *p = parse_text("open_ro { \"/var/run/a#b\" /var/run/c #d\n /e }\n"
				      "open_ro /f\t# tab\n",
				      &d);
	cr_assert_not_null(p);
	cr_assert_eq(p->open_ro.count, 4);
	cr_assert_str_eq(p->open_ro.rules[0].path, "/var/run/a#b");
	cr_assert_str_eq(p->open_ro.rules[1].path, "/var/run/c");
	cr_assert_str_eq(p->open_ro.rules[2].path, "/e");
	cr_assert_str_eq(p->open_ro.rules[3].path, "/f");
	policy_free(p);
	diag_free(&d);
}

/* The original refused a second chroot or unpriv_user ("Duplicate jail
 * entries"); within one file a second value of any scalar is an error that
 * names both places. */
Test(original, second_scalar_in_one_file_is_refused)
{
	cr_assert_syntax_error("chroot /var/empty\nopen_ro /a\nchroot /srv/jail\n",
			       "test.conf:3:8: error: 'chroot' is given a second time in this file "
			       "(first at test.conf:1:8)");
	cr_assert_syntax_error("unpriv_user nobody\nUnpriv_User = daemon\n",
			       "test.conf:2:15: error: 'unpriv_user' is given a second time in this "
			       "file (first at test.conf:1:13)");
	cr_assert_syntax_error("fork true\nfork false\n",
			       "test.conf:2:6: error: 'fork' is given a second time in this file");
	cr_assert_syntax_error("security {\n user nobody\n group nogroup\n user daemon\n}\n",
			       "test.conf:4:7: error: 'user' is given a second time in this "
			       "'security' scope (first at test.conf:2:7)");
	cr_assert_syntax_error("run { program /bin/true program /bin/false }\n",
			       "test.conf:1:33: error: 'program' is given a second time in this "
			       "'run' scope (first at test.conf:1:15)");

	/* Separate scopes are separate: a later one replaces an earlier one. */
	struct diag d;
	struct policy *p = parse_text("security { user nobody }\nsecurity { user daemon }\n"
				      "run { chroot /a }\nrun { chroot /b }\n",
				      &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->security.user.text, "daemon");
	policy_free(p);
	diag_free(&d);
}

Test(original, later_file_still_replaces_a_scalar)
{
	AUTOFREE char *dir = pmtest_tmpdir();
	AUTOFREE char *base = pmtest_write_file(dir, "base.conf", "chroot /a\nunpriv_user nobody\n"
								  "include inc.conf\n");
	free(pmtest_write_file(dir, "inc.conf", "chroot /b\n"));
	AUTOFREE char *local = pmtest_write_file(dir, "local.conf", "chroot /c\n");
	const char *paths[] = { base, local };
	struct diag d;
	diag_init(&d);
	struct policy *p = conf_load_files(paths, 2, &d);
	cr_assert_not_null(p);
	cr_assert_str_eq(p->chroot.text, "/c");
	cr_assert_str_eq(p->chroot.origin.file, local);
	policy_free(p);
	diag_free(&d);

	/* The same file twice (an include between) is still the same file. */
	AUTOFREE char *twice = pmtest_write_file(dir, "twice.conf", "chroot /a\ninclude inc.conf\n"
								    "chroot /c\n");
	cr_assert_null(parse_file(twice, &d));
	char message[512];
	snprintf(message, sizeof(message),
		 "twice.conf:3:8: error: 'chroot' is given a second time in this file (first at "
		 "%s:1:8)",
		 twice);
	cr_assert_diag(&d, message);
	diag_free(&d);
	pmtest_rmtree(dir);
}

/* The original read "bind 0" as any port. Refused, saying what to write,
 * rather than read as a grant of every port. */
Test(original, bind_zero_is_refused_saying_to_write_star)
{
	static const char *const zeros[] = { "bind 0\n", "bind 00\n", "bind { 25 *:0 }\n",
					     "bind 127.0.0.1:0\n", "bind [::1]:0\n" };
	for (size_t i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++)
		cr_assert_refused(zeros[i], "names port 0: for any port write *");
	struct diag d;
	struct policy *p = load_text("bind *\n", &d);
	cr_assert_not_null(p);
	policy_free(p);
	diag_free(&d);
}
