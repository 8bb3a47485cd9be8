/* privman learn, end to end, for programs split by priv_init: they learn
 * through PRIVMAN_LEARN, the policy is written, and the same workload then
 * runs under it with no refusal. The helpers are examples/privman-demo (an
 * HTTP server), tests/helpers/monitor_prog (file requests), proc_prog
 * (reruns, fork, popen_as), pam_prog and custom_prog. Unmodified programs:
 * test_learn_broker.c. */
#include "learntest.h"

#define DEMO_PORT 783

TestSuite(learn, .init = setup, .fini = teardown, .timeout = 120);

/* The workload: a root-only file through priv_open, then quit. */
static void demo_workload(void)
{
	char body[4096], path[PATH_MAX];
	snprintf(path, sizeof(path), "/file%s/docs/index.txt", dir);
	int status = http_get(DEMO_PORT, path, body, sizeof(body));
	cr_assert_eq(status, 200, "GET %s: %d %s", path, status, body);
	cr_assert_str_eq(body, "only root may read this\n");
	status = http_get(DEMO_PORT, "/quit", body, sizeof(body));
	cr_assert_eq(status, 200);
}

Test(learn, the_demo_server_learns_then_runs_under_its_policy_with_no_refusal)
{
	make_dir("docs", 0700);
	secret("docs/index.txt", "only root may read this\n");
	char line[PATH_MAX * 2];
	snprintf(line, sizeof(line), "%s learn -o @/demo.conf -- %s %d", built("privman"),
		 built("examples/privman-demo"), DEMO_PORT);
	pid_t pid = spawn(line);
	demo_workload();
	int rc = wait_exit(pid);
	cr_assert_eq(rc, 0, "privman learn: %d\n%s", rc, err);
	cr_assert(strstr(err, "WARNING: learning"), "no warning at the start:\n%s", err);
	cr_assert(strstr(err, "observed 2 requests in 1 run of privman-demo: 0 granted by the "
			      "base, 2 learned, 0 refused"),
		  "%s", err);
	slurp("demo.conf", policy, sizeof(policy));
	/* Exactly what it needed: the port and the file, nothing else. */
	expect_line("\nbind 127.0.0.1:783 ");
	expect_line("\nopen_ro \"@/docs/index.txt\" ");
	expect_line("# used 1 time, first at ");
	expect_line("security {\n\tuser = nobody\n}\n");
	expect_no_line("open_rw");
	expect_no_line("run_as");
	expect_checks("demo.conf");

	/* The same workload under the policy written: nothing refused. */
	install("demo.conf", "privman-demo");
	snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_AUDIT=@/audit.json %s %d",
		 built("examples/privman-demo"), DEMO_PORT);
	pid = spawn(line);
	demo_workload();
	cr_assert_eq(wait_exit(pid), 0, "%s", err);
	char audit[1 << 14];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(strstr(audit, "\"op\":\"bind\""), "%s", audit);
	cr_assert(strstr(audit, "\"op\":\"open\""), "%s", audit);
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
	cr_assert(!strstr(audit, "learned"), "%s", audit);
}

/* --- file requests --------------------------------------------------------------------- */

static const char *monitor_prog(void)
{
	return built("tests/helpers/monitor_prog");
}

static void learn_files(const char *options, const char *requests, const char *output)
{
	char args[16384];
	snprintf(args, sizeof(args), "-o @/%s %s lrn -- %s lrn %s", output, options, monitor_prog(),
		 requests);
	expect_learn(args, output);
}

Test(learn, every_kind_of_file_request_becomes_its_rule_and_runs_under_it)
{
	secret("ro", "granted\n");
	secret("log", "");
	make_dir("spool", 0700);
	const char *requests = "open @/ro r write @/log wa entry open @/spool/new bct "
			       "unlink @/spool/new open @/missing r";
	learn_files("", requests, "files.conf");
	expect_line("\nopen_ro \"@/ro\" ");
	expect_line("\nopen_ao \"@/log\" ");
	expect_line("\nopen_rw \"@/spool/new\" ");
	expect_line("\nunlink \"@/spool/new\" ");
	/* Not there: the program saw ENOENT, and will again under the policy. */
	expect_line("\nopen_ro \"@/missing\" ");
	expect_checks("files.conf");
	cr_assert(strstr(out, "OK granted\nOK wrote\nOK \nOK\nERR ENOENT\n"), "%s", out);

	install("files.conf", "lrn");
	char line[16384], expanded[16384];
	snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_AUDIT=@/audit.json %s lrn %s",
		 monitor_prog(), requests);
	expand(line, expanded, sizeof(expanded));
	cr_assert_eq(sh(expanded), 0, "%s", err);
	cr_assert(strstr(out, "OK granted\nOK wrote\nOK \nOK\nERR ENOENT\n"), "%s", out);
	char audit[1 << 14];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
	slurp("log", audit, sizeof(audit));
	cr_assert_str_eq(audit, "entryentry");
}

Test(learn, collapse_makes_a_wildcard_of_n_siblings_and_no_fewer)
{
	make_dir("d", 0700);
	secret("d/a", "a\n");
	secret("d/b", "b\n");
	secret("d/c", "c\n");
	secret("other", "o\n");
	const char *requests = "open @/d/a r open @/d/b r open @/d/c r open @/d/a r open @/other r";
	learn_files("--collapse 3", requests, "three.conf");
	expect_line("\nopen_ro \"@/d/*\" ");
	expect_line("# used 4 times, first at ");
	expect_line("; 3 paths collapsed");
	expect_line("\nopen_ro \"@/other\" ");
	expect_no_line("\"@/d/a\"");
	expect_checks("three.conf");
	cr_assert(strstr(err, "3 paths collapsed into 1 wildcard"), "%s", err);

	learn_files("--collapse 4", requests, "four.conf");
	expect_line("\nopen_ro \"@/d/a\" ");
	expect_line("\nopen_ro \"@/d/b\" ");
	expect_line("\nopen_ro \"@/d/c\" ");
	expect_no_line("*");

	learn_files("", requests, "none.conf");
	expect_no_line("*");
}

Test(learn, a_protected_place_is_written_exactly_and_never_collapsed)
{
	/* /etc/shadow among other files of /etc: /etc/ * would grant it. */
	learn_files("--collapse 2", "open /etc/shadow r open /etc/hostname r open /etc/debian_version r",
		    "etc.conf");
	expect_line("\nopen_ro \"/etc/shadow\" ");
	expect_line("protected place: written exactly");
	expect_line("\nopen_ro \"/etc/hostname\" ");
	expect_line("\nopen_ro \"/etc/debian_version\" ");
	expect_no_line("*");
	expect_checks("etc.conf");

	/* A home with ssh keys: neither .ssh/ * nor home/ * (it holds .ssh). */
	make_dir("home", 0755);
	make_dir("home/.ssh", 0700);
	secret("home/.ssh/id_a", "key a\n");
	secret("home/.ssh/id_b", "key b\n");
	secret("home/x", "x\n");
	secret("home/y", "y\n");
	learn_files("--collapse 2",
		    "open @/home/.ssh/id_a r open @/home/.ssh/id_b r open @/home/x r open @/home/y r",
		    "home.conf");
	expect_line("\nopen_ro \"@/home/.ssh/id_a\" ");
	expect_line("\nopen_ro \"@/home/.ssh/id_b\" ");
	expect_line("\nopen_ro \"@/home/x\" ");
	expect_no_line("*");

	/* Without the keys, the same two files may become home/ *. */
	cr_assert_eq(pmtest_sh("rm -rf %s/home/.ssh", dir), 0);
	learn_files("--collapse 2", "open @/home/x r open @/home/y r", "home2.conf");
	expect_line("\nopen_ro \"@/home/*\" ");
}

Test(learn, two_runs_merge_and_their_counts_add_up)
{
	secret("a", "a\n");
	secret("b", "b\n");
	learn_files("", "open @/a r open @/a r", "one.conf");
	expect_line("\nopen_ro \"@/a\"                  ");
	expect_line("# used 2 times, first at ");
	char first[128];
	const char *at = strstr(policy, "first at ");
	cr_assert(at);
	snprintf(first, sizeof(first), "%.29s", at);
	sleep(1); /* the second run's first use is a later second */

	/* The second run starts from the first: /a is granted, /b learned. */
	learn_files("-c @/one.conf", "open @/a r open @/b r", "two.conf");
	cr_assert(strstr(err, "1 granted by the base, 1 learned"), "%s", err);
	expect_line(" from 2 runs of lrn\n");
	expect_line("# used 3 times");
	cr_assert(strstr(policy, first), "the first use of /a (%s) is lost:\n%s", first, policy);
	expect_line("\nopen_ro \"@/b\" ");
	expect_checks("two.conf");
	cr_assert(strstr(err, "2 kept from the base") == NULL);
	cr_assert(strstr(err, "1 kept from the base, 1 learned"), "%s", err);

	/* A base's scope is kept. */
	char *base = pmtest_write_file(dir, "scope.conf",
				       "security { user = " USER1 " }\nopen_ro /nonexistent\n");
	free(base);
	learn_files("-c @/scope.conf", "uid open @/a r", "three.conf");
	expect_line("security {\n\tuser = " USER1 "\n}");
	expect_line("\nopen_ro \"/nonexistent\"");
	expect_line("from the base, not used");
	struct passwd *pw = getpwnam(USER1);
	char uid[64];
	snprintf(uid, sizeof(uid), "uid %u", (unsigned)pw->pw_uid);
	cr_assert(strstr(out, uid), "the run was not as the base's user: %s", out);
}

/* --- processes ------------------------------------------------------------------------ */

static const char *proc_prog(void)
{
	return built("tests/helpers/proc_prog");
}

/* The audit's refusals, but the environment variables dropped from what
 * runs as another user (not learned: a run scope's env list names them). */
static void expect_no_refusal(const char *audit)
{
	for (const char *line = audit; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char copy[8192];
		snprintf(copy, sizeof(copy), "%.*s", (int)len, line);
		cr_assert(!strstr(copy, "\"deny\"") || strstr(copy, "_env\""),
			  "a refusal under the learned policy:\n%s", copy);
	}
}

Test(learn, reruns_fork_and_popen_become_their_rules_and_root_is_never_learned)
{
	char args[4096];
	snprintf(args, sizeof(args), "-o @/p.conf proc -- %s proc popen " USER1 " id", proc_prog());
	expect_learn(args, "p.conf");
	cr_assert(strstr(out, "popen uid="), "%s", out);
	expect_line("\nrun { program \"/bin/sh\" user { " USER1 " } }");
	expect_line("\nallow_rerun true ");
	expect_no_line("run_as");
	expect_checks("p.conf");

	snprintf(args, sizeof(args), "-c @/p.conf -o @/q.conf proc -- %s proc rerun " USER1,
		 proc_prog());
	expect_learn(args, "q.conf");
	cr_assert(strstr(out, "user " USER1), "%s", out);
	expect_line("\nrun_as " USER1 " ");
	expect_line("\nallow_rerun true                                # used 2 times");

	/* Root: refused while learning, never written. */
	snprintf(args, sizeof(args), "-c @/q.conf -o @/r.conf proc -- %s proc rerun root",
		 proc_prog());
	expect_learn(args, "r.conf");
	cr_assert(strstr(out, "ERR EPERM"), "running as root was served: %s", out);
	cr_assert(strstr(err, "1 refused (1 to run as root: never learned)"), "%s", err);
	expect_no_line("run_as root");
	expect_no_line("{ root");
	expect_line("\nrun_as " USER1 " ");

	snprintf(args, sizeof(args), "-c @/r.conf -o @/s.conf proc -- %s proc fork", proc_prog());
	expect_learn(args, "s.conf");
	expect_line("\nfork true ");
	expect_checks("s.conf");

	/* All of it again under the policy: nothing refused. */
	install("s.conf", "proc");
	const char *workloads[] = {"rerun " USER1, "fork", "popen " USER1 " id"};
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		char line[4096];
		snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_AUDIT=@/audit.json "
					     "%s proc %s",
			 proc_prog(), workloads[i]);
		cr_assert_eq(sh(line), 0, "%s: %s", workloads[i], err);
	}
	char audit[1 << 15];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(strstr(audit, "\"op\":\"popen_as\""), "%s", audit);
	expect_no_refusal(audit);
}

Test(learn, pam_services_and_custom_functions_become_their_rules)
{
	/* A PAM service of its own: pam_permit for everything. */
	const char *service = "/etc/pam.d/" USER1;
	FILE *f = fopen(service, "we");
	cr_assert(f);
	fputs("auth required pam_permit.so\naccount required pam_permit.so\n", f);
	cr_assert(fclose(f) == 0);
	char args[4096];
	snprintf(args, sizeof(args), "-o @/pam.conf lrn -- %s lrn start " USER1 " " USER1
				     " auth acct end",
		 built("tests/helpers/pam_prog"));
	int rc = learn(args, "pam.conf");
	unlink(service);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(out, "auth PAM_SUCCESS"), "%s", out);
	expect_line("\nauth { " USER1 " } ");
	expect_checks("pam.conf");

	snprintf(args, sizeof(args), "-o @/custom.conf lrn -- %s lrn info 0 hello + info 0 again",
		 built("tests/helpers/custom_prog"));
	expect_learn(args, "custom.conf");
	cr_assert(!strstr(out, "ERR"), "%s", out);
	expect_line("\ncustom 0                                        # used 2 times");
	expect_checks("custom.conf");
}

Test(learn, a_record_naming_root_is_never_written)
{
	/* A record from elsewhere (--from) that says root was learned. */
	char *rec = pmtest_write_file(
		dir, "forged.json",
		"{\"time\":1.0,\"app\":\"x\",\"pid\":1,\"op\":\"start\",\"policy\":\"/p\"}\n"
		"{\"time\":2.0,\"app\":\"x\",\"pid\":1,\"op\":\"rerunas\",\"object\":\"-\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"run_as root\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
		"{\"time\":2.0,\"app\":\"x\",\"pid\":1,\"op\":\"rerunas\",\"object\":\"-\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"run { user { root } }\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
		"{\"time\":2.0,\"app\":\"x\",\"pid\":1,\"op\":\"rerunas\",\"object\":\"-\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"run_as *\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
		"{\"time\":3.0,\"app\":\"x\",\"pid\":1,\"op\":\"open\",\"object\":\"/etc/hostname\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"open_ro \\\"/etc/hostname\\\"\",\"origin\":\"\",\"errno\":0,"
		"\"reason\":\"\"}\n"
		"not a record\n");
	free(rec);
	expect_learn("-o @/f.conf --from @/forged.json", "f.conf");
	expect_no_line("run_as");
	expect_no_line("run {");
	expect_line("\nopen_ro \"/etc/hostname\" ");
	cr_assert(strstr(err, "3 learned rules not written"), "%s", err);
	cr_assert(strstr(err, "1 line of the record skipped"), "%s", err);
}

/* A record that anyone but root could have written is never read: each is
 * refused by name, with what is wrong, and nothing is written. */
static void expect_untrusted_record(const char *name, const char *what)
{
	char args[PATH_MAX];
	snprintf(args, sizeof(args), "-o @/u.conf --from @/%s", name);
	int rc = learn(args, NULL);
	cr_assert_eq(rc, 1, "%s: %d\n%s", name, rc, err);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "cannot read the record %s/%s: %s", dir, name, what);
	cr_assert(strstr(err, want), "no \"%s\" in:\n%s", want, err);
	snprintf(want, sizeof(want), "%s/u.conf", dir);
	cr_assert(access(want, F_OK) < 0, "a policy was written from %s", name);
}

Test(learn, a_record_anyone_else_could_write_is_refused)
{
	static const char record[] =
		"{\"time\":1.0,\"app\":\"x\",\"pid\":1,\"op\":\"start\",\"policy\":\"/p\"}\n"
		"{\"time\":3.0,\"app\":\"x\",\"pid\":1,\"op\":\"open\",\"object\":\"/etc/shadow\","
		"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","
		"\"rule\":\"open_ro \\\"/etc/shadow\\\"\",\"origin\":\"\",\"errno\":0,"
		"\"reason\":\"\"}\n";
	char *good = pmtest_write_file(dir, "good.json", record);
	cr_assert(chmod(good, 0600) == 0);

	char *user = pmtest_write_file(dir, "user.json", record);
	struct passwd *pw = getpwnam(USER1);
	cr_assert(pw != NULL);
	cr_assert(chown(user, pw->pw_uid, pw->pw_gid) == 0);
	expect_untrusted_record("user.json", "it is not owned by root");

	char *group = pmtest_write_file(dir, "group.json", record);
	cr_assert(chmod(group, 0620) == 0);
	expect_untrusted_record("group.json", "others than its owner may write it");
	cr_assert(chmod(group, 0602) == 0);
	expect_untrusted_record("group.json", "others than its owner may write it");

	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/link.json", dir);
	cr_assert(symlink(good, p) == 0);
	expect_untrusted_record("link.json", "it is a symlink");

	snprintf(p, sizeof(p), "%s/hard.json", dir);
	cr_assert(link(good, p) == 0);
	expect_untrusted_record("hard.json", "it has more than one name");
	expect_untrusted_record("good.json", "it has more than one name");
	cr_assert(unlink(p) == 0);

	/* A FIFO: refused at once, no wait for a writer. */
	snprintf(p, sizeof(p), "%s/fifo.json", dir);
	cr_assert(mkfifo(p, 0600) == 0);
	expect_untrusted_record("fifo.json", "it is not a regular file");
	expect_untrusted_record(".", "it is not a regular file");

	/* root's own, one name, written by root only: read. */
	expect_learn("-o @/u.conf --from @/good.json", "u.conf");
	expect_line("\nopen_ro \"/etc/shadow\" ");
	free(good);
	free(user);
	free(group);
}

/* A record (an older one, or another's) whose learned rules carry a \r, an
 * ESC or a DEL raw: the language has no escape for them, so the rules are
 * not written, and the summary says so; the policy file has none of them.
 * A \n and a \t are written escaped, each rule on its line. */
Test(learn, a_control_byte_in_a_learned_path_never_reaches_the_policy)
{
#define REC(path)                                                                              \
	"{\"time\":3.0,\"app\":\"x\",\"pid\":1,\"op\":\"open\",\"object\":\"" path "\","        \
	"\"flags\":0,\"verdict\":\"learned\",\"directive\":\"learned\","                         \
	"\"rule\":\"open_ro \\\"" path "\\\"\",\"origin\":\"\",\"errno\":0,\"reason\":\"\"}\n"
	free(pmtest_write_file(dir, "ctl.json",
			       "{\"time\":1.0,\"app\":\"x\",\"pid\":1,\"op\":\"start\",\"policy\":\"/p\"}\n"
			       REC("/srv/a\\u000dopen_rw /") REC("/srv/\\u001b[2Jb")
			       REC("/srv/c\\u007f") REC("/srv/d\\\\nopen_rw /\\\\te")
			       REC("/etc/hostname")));
#undef REC
	expect_learn("-o @/ctl.conf --from @/ctl.json", "ctl.conf");
	for (const char *c = policy; *c; c++)
		cr_assert(*c == '\n' || *c == '\t' || ((unsigned char)*c >= 0x20 && *c != 0x7f),
			  "a control byte 0x%02x in the policy:\n%s", (unsigned char)*c, policy);
	expect_line("\nopen_ro \"/etc/hostname\" ");
	expect_line("\nopen_ro \"/srv/d\\nopen_rw /\\te\" ");
	expect_no_line("\nopen_rw");
	cr_assert(strstr(err, "3 learned rules not written: a control character"), "%s", err);
}

/* --- the environment and the fds ------------------------------------------------------- */

Test(learn, the_record_never_reaches_the_program_nor_what_runs_as_another_user)
{
	char line[4096];
	snprintf(line, sizeof(line),
		 "env PRIVMAN_CONF_DIR=@/none PRIVMAN_LEARN=@/record.json %s proc popen " USER1
		 " 'ls -l /proc/self/fd/ | tr -s \"\\n\" \" \"'",
		 proc_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	cr_assert(strstr(out, " 1 -> pipe:"), "%s", out);
	cr_assert(!strstr(out, "record.json"), "the record leaked:\n%s", out);
	/* The program side: as many fds learning as not. */
	make_dir("conf", 0755);
	free(pmtest_write_file(dir, "conf/lrn", ""));
	snprintf(line, sizeof(line), "env PRIVMAN_CONF_DIR=@/conf %s lrn fds", monitor_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	static char plain[sizeof(out)];
	memcpy(plain, out, sizeof(out));
	snprintf(line, sizeof(line),
		 "env PRIVMAN_CONF_DIR=@/conf PRIVMAN_LEARN=@/record.json %s lrn fds",
		 monitor_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	cr_assert_str_eq(out, plain, "the program holds another fd while learning");
	char record[1 << 15];
	slurp("record.json", record, sizeof(record));
	cr_assert(strstr(record, "\"op\":\"start\""), "%s", record);
	cr_assert(strstr(record, "\"rule\":\"run { program \\\"/bin/sh\\\" user " USER1), "%s",
		  record);
}

Test(learn, a_setuid_program_ignores_privman_learn)
{
	/* Started by a user, a setuid-root program has AT_SECURE: neither
	 * PRIVMAN_LEARN nor PRIVMAN_CONF_DIR may choose what it grants. */
	char line[4096];
	snprintf(line, sizeof(line), "cp %s @/suid && chmod 4755 @/suid && chmod 0755 @",
		 monitor_prog());
	cr_assert_eq(sh(line), 0, "%s", err);
	make_dir("conf", 0755);
	free(pmtest_write_file(dir, "conf/lrn", ""));
	snprintf(line, sizeof(line),
		 "setpriv --reuid " USER1 " --regid " USER1 " --clear-groups env "
		 "PRIVMAN_CONF_DIR=@/conf PRIVMAN_LEARN=@/record.json @/suid lrn open /etc/shadow r");
	sh(line);
	struct stat st;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/record.json", dir);
	cr_assert(stat(path, &st) < 0 && errno == ENOENT, "PRIVMAN_LEARN was followed:\n%s%s",
		  out, err);
	cr_assert(!strstr(out, "OK root:"), "/etc/shadow was served:\n%s", out);
	cr_assert(!strstr(err, "LEARNING"), "%s", err);
}

/* --- the command line -------------------------------------------------------------------- */

static void expect_usage(const char *args, int want, const char *message)
{
	int rc = learn(args, NULL);
	cr_assert_eq(rc, want, "privman learn %s: %d, not %d\n%s", args, rc, want, err);
	cr_assert(strstr(err, message), "privman learn %s: no \"%s\" in:\n%s", args, message, err);
}

Test(learn, bad_arguments_are_clear_errors)
{
	expect_usage("", 2, "missing COMMAND");
	expect_usage("-o @/x", 2, "missing COMMAND");
	expect_usage("--collapse 1 -- true", 2, "--collapse needs a number of files, 2 or more: 1");
	expect_usage("--collapse many -- true", 2, "--collapse needs a number");
	expect_usage("--collapse", 2, "this option needs a value: --collapse");
	expect_usage("--bogus -- true", 2, "unknown option: --bogus");
	expect_usage("a b -- true", 2, "one APP only");
	expect_usage("a/b -- true", 2, "APP must be a file name");
	expect_usage("--from @/x -- true", 2, "either --from RECORD or '--' COMMAND");
	expect_usage("-c @/nonexistent -- true", 1, "cannot read the base");
	free(pmtest_write_file(dir, "bad.conf", "open_ro { relative }\n"));
	expect_usage("-c @/bad.conf -- true", 1, "the base policy is not valid; nothing was run");
	expect_usage("--from @/nonexistent", 1, "cannot read the record");
	/* Not a program that calls priv_init: nothing learned, nothing written. */
	expect_usage("-o @/x.conf --split -- /bin/true", 1, "made no request through priv_init");
	expect_usage("--split --broker -- true", 2, "give --split or --broker, once");
	/* APP must be the name the program gives priv_init. */
	char args[PATH_MAX];
	snprintf(args, sizeof(args), "-o @/y.conf other -- %s lrn open /etc/hostname r",
		 monitor_prog());
	expect_usage(args, 1, "called priv_init(\"lrn\"), not \"other\"");
	struct stat st;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/x.conf", dir);
	cr_assert(stat(path, &st) < 0, "a policy was written");
	cr_assert_eq(learn("--help", NULL), 0);
	cr_assert(strstr(out, "WARNING"), "%s", out);
}
