/* privman learn, end to end, for unmodified programs: they learn under the
 * broker of privman run (cat, sh, python3, nginx), only what their own
 * credentials could not do is written, and the same workload then runs
 * under the policy with no refusal. */
#include "learntest.h"

TestSuite(learn_broker, .init = setup, .fini = teardown, .timeout = 120);

/* --- unmodified programs, under the broker ---------------------------------------------- */

Test(learn_broker, unmodified_cat_of_a_root_only_file_learns_that_file_and_nothing_else)
{
	secret("secret", "only root\n");
	free(pmtest_write_file(dir, "public", "anyone\n"));
	/* Not a priv_init program: privman learn says it runs it under the broker. */
	expect_learn("-o @/cat.conf -- cat @/secret @/public", "cat.conf");
	cr_assert_str_eq(out, "only root\nanyone\n");
	cr_assert(strstr(err, "runs unmodified under the broker"), "%s", err);
	cr_assert(strstr(err, "observed 1 request in 1 run of cat: 0 granted by the base, 1 "
			      "learned"),
		  "%s", err);
	expect_line("\nopen_ro \"@/secret\" ");
	/* What cat could open itself (its libraries, the world-readable file)
	 * is not in the policy. */
	expect_no_line("\"@/public\"");
	expect_no_line("/lib");
	expect_no_line("/etc/");
	expect_no_line("open_rw");
	expect_checks("cat.conf");

	/* Without the policy cat cannot read it; with it, it can. */
	char line[4096];
	snprintf(line, sizeof(line), "%s run -- cat @/secret", built("privman"));
	cr_assert_neq(sh(line), 0, "cat read the secret without a policy: %s", out);
	expect_run("-c @/cat.conf -- cat @/secret @/public", "only root\nanyone\n");
}

Test(learn_broker, an_unmodified_shell_learns_append_create_unlink_and_bind)
{
	make_dir("locked", 0755); /* root's: nobody may not make or remove names */
	secret("locked/log", "");
	secret("locked/old", "old\n");
	free(pmtest_write_file(dir, "script",
			       "echo entry >> @/locked/log\n"
			       "echo new > @/locked/new\n"
			       "rm -f @/locked/old\n"
			       "echo mine > /tmp/pmtest-learn-own.$$ && rm -f /tmp/pmtest-learn-own.$$\n"
			       "python3 -c 'import socket; s = socket.socket(); "
			       "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
			       "s.bind((\"127.0.0.1\", 787)); t = socket.socket(); "
			       "t.bind((\"127.0.0.1\", 0)); print(\"bound\")'\n"));
	char script[PATH_MAX];
	expand("@/script", script, sizeof(script));
	char text[4096];
	slurp("script", text, sizeof(text));
	char expanded[8192];
	expand(text, expanded, sizeof(expanded));
	free(pmtest_write_file(dir, "script", expanded));
	cr_assert(chmod(script, 0755) == 0);

	expect_learn("-o @/sh.conf -- sh @/script", "sh.conf");
	cr_assert_str_eq(out, "bound\n", "%s", err);
	expect_line("\nopen_ao \"@/locked/log\" ");
	expect_line("\nopen_rw \"@/locked/new\" ");
	expect_line("\nunlink \"@/locked/old\" ");
	expect_line("\nbind 127.0.0.1:787 ");
	/* What nobody may do itself: its own file in /tmp, an ephemeral port. */
	expect_no_line("pmtest-learn-own");
	expect_no_line("127.0.0.1:0");
	expect_checks("sh.conf");

	/* Again, under the policy: the same results, nothing refused. */
	secret("locked/old", "old\n");
	expect_run("-c @/sh.conf -- sh @/script", "bound\n");
	slurp("locked/log", text, sizeof(text));
	cr_assert_str_eq(text, "entry\nentry\n");
	struct stat st;
	char old[PATH_MAX];
	expand("@/locked/old", old, sizeof(old));
	cr_assert(stat(old, &st) < 0, "the unlink was not served");
}

#define NGINX_PORT 789

/* nginx as in the broker's test: root-owned logs, a pid file in a root
 * folder, a privileged port; no policy at all to start from. */
static void nginx_setup(void)
{
	make_dir("www", 0755);
	make_dir("logs", 0755);
	make_dir("run", 0755);
	make_dir("tmp", 0755);
	free(pmtest_write_file(dir, "www/index.html", "served by nginx\n"));
	secret("logs/error.log", "");
	secret("logs/access.log", "");
	cr_assert(pmtest_sh("chown nobody %s/tmp", dir) == 0);
	char text[8192];
	expand("daemon off;\nworker_processes 2;\npid @/run/nginx.pid;\n"
	       "error_log @/logs/error.log notice;\nevents { worker_connections 64; }\n"
	       "http {\n access_log @/logs/access.log;\n client_body_temp_path @/tmp/body;\n"
	       " proxy_temp_path @/tmp/proxy;\n fastcgi_temp_path @/tmp/fastcgi;\n"
	       " uwsgi_temp_path @/tmp/uwsgi;\n scgi_temp_path @/tmp/scgi;\n"
	       " server { listen 127.0.0.1:789; root @/www; }\n}\n",
	       text, sizeof(text));
	free(pmtest_write_file(dir, "nginx.conf", text));
}

/* Start LINE, get the page, stop it with SIGTERM. */
static void nginx_session(const char *line)
{
	pid_t pid = spawn(line);
	char body[4096];
	int status = http_get(NGINX_PORT, "/index.html", body, sizeof(body));
	cr_assert_eq(status, 200, "nginx: %d %s", status, body);
	cr_assert_str_eq(body, "served by nginx\n");
	cr_assert(kill(pid, SIGTERM) == 0);
	cr_assert_eq(wait_exit(pid), 0, "%s", err);
}

Test(learn_broker, unmodified_nginx_learns_its_policy_then_runs_under_it_with_no_refusal)
{
	cr_assert(access("/usr/sbin/nginx", X_OK) == 0, "nginx-light is installed by deps.sh");
	nginx_setup();
	char line[8192];
	snprintf(line, sizeof(line),
		 "%s learn -o @/nginx.policy -- /usr/sbin/nginx -e @/logs/error.log -c "
		 "@/nginx.conf",
		 built("privman"));
	nginx_session(line);
	slurp("nginx.policy", policy, sizeof(policy));
	/* What the broker's test grants by hand, and nothing else. */
	expect_line("\nbind 127.0.0.1:789 ");
	expect_line("\nopen_ao \"@/logs/access.log\" ");
	expect_line("\nopen_ao \"@/logs/error.log\" ");
	expect_line("\nopen_rw \"@/run/nginx.pid\" ");
	expect_line("\nunlink \"@/run/nginx.pid\" ");
	cr_assert(strstr(err, "wrote 5 rules"), "%s\n%s", err, policy);
	expect_checks("nginx.policy");

	snprintf(line, sizeof(line),
		 "env PRIVMAN_AUDIT=@/audit.json %s run -c @/nginx.policy -- /usr/sbin/nginx -e "
		 "@/logs/error.log -c @/nginx.conf",
		 built("privman"));
	nginx_session(line);
	char audit[1 << 15];
	slurp("audit.json", audit, sizeof(audit));
	cr_assert(strstr(audit, "\"op\":\"bind\""), "%s", audit);
	cr_assert(!strstr(audit, "\"deny\""), "a refusal under the learned policy:\n%s", audit);
	char log[4096];
	slurp("logs/access.log", log, sizeof(log));
	cr_assert(strstr(log, "\"GET /index.html HTTP/1.0\" 200"), "access.log: %s", log);
}

Test(learn_broker, under_the_base_scope_the_users_own_files_are_not_learned)
{
	secret("mine", "mine\n");
	secret("roots", "root's\n");
	char path[PATH_MAX];
	expand("@/mine", path, sizeof(path));
	struct passwd *pw = getpwnam(USER1);
	cr_assert(pw && chown(path, pw->pw_uid, pw->pw_gid) == 0);
	free(pmtest_write_file(dir, "base.conf", "security { user = " USER1 " }\n"));
	expect_learn("-c @/base.conf -o @/own.conf -- cat @/mine @/roots", "own.conf");
	cr_assert_str_eq(out, "mine\nroot's\n", "%s", err);
	expect_line("\nopen_ro \"@/roots\" ");
	expect_no_line("\"@/mine\"");
	expect_line("security {\n\tuser = " USER1 "\n}");
	expect_run("-c @/own.conf -- cat @/mine @/roots", "mine\nroot's\n");
}

Test(learn_broker, the_last_call_before_the_command_ends_is_recorded)
{
	/* cat opens the file and ends at once: the monitor ends with it, and
	 * must have written the record of that open first (it once lost it
	 * about one time in ten). */
	secret("secret", "only root\n");
	char line[4096];
	snprintf(line, sizeof(line),
		 "sh -c 'for i in $(seq 60); do env PRIVMAN_LEARN=@/record.json %s run -- cat "
		 "@/secret || exit 1; done'",
		 built("privman"));
	cr_assert_eq(sh(line), 0, "%s", err);
	char record[1 << 16];
	slurp("record.json", record, sizeof(record));
	int learned = 0;
	for (const char *p = record; (p = strstr(p, "\"verdict\":\"learned\"")); p++)
		learned++;
	cr_assert_eq(learned, 60, "%d of 60 opens recorded", learned);
}

/* The record is read back by root and made into rules: the monitor writes
 * only a file that is root's alone. The program (here USER1) made
 * record.json its own, writable by all, to write rules of its choosing into
 * it; it put a symlink where the next record goes, for root to append to
 * the file it names; it put a FIFO there, for the monitor to wait on. Each
 * run is refused before the command starts, and nothing is written. */
Test(learn_broker, a_record_the_program_could_write_or_that_leads_elsewhere_is_refused)
{
	char record[PATH_MAX], link[PATH_MAX], fifo[PATH_MAX], elsewhere[PATH_MAX];
	expand("@/record.json", record, sizeof(record));
	expand("@/link.json", link, sizeof(link));
	expand("@/fifo.json", fifo, sizeof(fifo));
	expand("@/elsewhere", elsewhere, sizeof(elsewhere));
	free(pmtest_write_file(dir, "record.json", ""));
	struct passwd *pw = getpwnam(USER1);
	cr_assert(pw && chown(record, pw->pw_uid, pw->pw_gid) == 0 && chmod(record, 0666) == 0);
	cr_assert(symlink(elsewhere, link) == 0);
	cr_assert(mkfifo(fifo, 0600) == 0);

	const char *names[] = {"record.json", "link.json", "fifo.json"};
	for (size_t i = 0; i < 3; i++) {
		char line[4096];
		snprintf(line, sizeof(line), "env PRIVMAN_LEARN=@/%s %s run -- echo ran", names[i],
			 built("privman"));
		cr_expect_neq(sh(line), 0, "%s accepted: %s", names[i], err);
		cr_expect_str_eq(out, "", "%s: the command ran", names[i]);
		cr_expect(strstr(err, "PRIVMAN_LEARN="), "%s: %s", names[i], err);
	}
	struct stat st;
	cr_expect(stat(record, &st) == 0 && st.st_size == 0, "root wrote to the program's file");
	cr_expect(access(elsewhere, F_OK) < 0, "root followed the symlink");

	/* A record of root's own, as privman learn makes it, is written. */
	char line[4096];
	snprintf(line, sizeof(line), "env PRIVMAN_LEARN=@/mine.json %s run -- echo ran",
		 built("privman"));
	cr_expect_eq(sh(line), 0, "%s", err);
	cr_expect_str_eq(out, "ran\n");
}

/* The prober has the program's uid, so the program can stop it. The
 * monitor then waits for its answer only so long: the call goes to the
 * kernel (nobody may not read /etc/gshadow), and the monitor serves on.
 * Without the limit the monitor waited for ever, and the command with it. */
Test(learn_broker, a_prober_the_program_stopped_holds_nothing_up)
{
	free(pmtest_write_file(dir, "stop.py",
			       "import os, signal\n"
			       "os.open('/etc/shadow', os.O_RDONLY)\n"
			       "probers = []\n"
			       "for p in os.listdir('/proc'):\n"
			       "    try:\n"
			       "        if open('/proc/%s/comm' % p).read() == 'privman-probe\\n':\n"
			       "            probers.append(int(p))\n"
			       "    except (OSError, ValueError):\n"
			       "        pass\n"
			       "for p in probers:\n"
			       "    os.kill(p, signal.SIGSTOP)\n"
			       "print('stopped', len(probers))\n"
			       "try:\n"
			       "    os.open('/etc/gshadow', os.O_RDONLY)\n"
			       "    print('opened')\n"
			       "except OSError as e:\n"
			       "    print(e.strerror)\n"));
	char line[4096];
	snprintf(line, sizeof(line),
		 "env PRIVMAN_LEARN=@/record.json timeout -s KILL 20 %s run -- python3 @/stop.py",
		 built("privman"));
	cr_assert_eq(sh(line), 0, "%s", err);
	cr_expect_str_eq(out, "stopped 1\nPermission denied\n", "%s", err);
	char record[1 << 16];
	slurp("record.json", record, sizeof(record));
	cr_expect(strstr(record, "\"object\":\"/etc/shadow\""), "%s", record);
	cr_expect(!strstr(record, "/etc/gshadow"), "%s", record);
}

/* While learning every path is granted, but never the record itself: a
 * program that could write it, read it or remove it (and make another)
 * would write the rules privman learn makes of it. The kernel decides each
 * of these calls instead, as nobody. */
Test(learn_broker, the_record_itself_is_never_served)
{
	free(pmtest_write_file(dir, "forge.py",
			       "import os, sys\n"
			       "r = sys.argv[1]\n"
			       "for what, call in [\n"
			       "        ('append', lambda: os.open(r, os.O_WRONLY | os.O_APPEND)),\n"
			       "        ('write', lambda: os.open(r, os.O_RDWR)),\n"
			       "        ('read', lambda: os.open(r, os.O_RDONLY)),\n"
			       "        ('link', lambda: os.open(r + '.d/../' + os.path.basename(r),\n"
			       "                                 os.O_RDONLY)),\n"
			       "        ('unlink', lambda: os.unlink(r))]:\n"
			       "    try:\n"
			       "        fd = call()\n"
			       "        if fd is not None:\n"
			       "            os.write(fd, b'{\"forged\":1}\\n')\n"
			       "        print(what, 'served')\n"
			       "    except OSError as e:\n"
			       "        print(what, e.strerror)\n"));
	make_dir("record.json.d", 0755);
	char line[4096];
	snprintf(line, sizeof(line), "env PRIVMAN_LEARN=@/record.json %s run -- python3 @/forge.py "
				     "@/record.json",
		 built("privman"));
	cr_assert_eq(sh(line), 0, "%s", err);
	cr_expect_str_eq(out,
			 "append Permission denied\nwrite Permission denied\n"
			 "read Permission denied\nlink Permission denied\n"
			 "unlink Permission denied\n",
			 "%s", err);
	char record[1 << 16];
	slurp("record.json", record, sizeof(record));
	cr_expect(!strstr(record, "forged"), "%s", record);
	cr_expect(!strstr(record, "record.json\""), "the record learned itself: %s", record);
}

/* Nor the base files, which privman learn reads again to write the policy:
 * a program that could append to one would have its own rules kept "from
 * the base". */
Test(learn_broker, the_base_is_never_served_while_learning)
{
	free(pmtest_write_file(dir, "base.conf", "security { user = nobody }\n"));
	free(pmtest_write_file(dir, "forge.py",
			       "import sys\n"
			       "try:\n"
			       "    open(sys.argv[1], 'a').write('open_rw /etc/shadow\\n')\n"
			       "    print('served')\n"
			       "except OSError as e:\n"
			       "    print(e.strerror)\n"));
	expect_learn("-c @/base.conf -o @/out.conf --broker -- python3 @/forge.py @/base.conf",
		     "out.conf");
	cr_expect_str_eq(out, "Permission denied\n", "%s", err);
	char base[4096];
	slurp("base.conf", base, sizeof(base));
	cr_expect_str_eq(base, "security { user = nobody }\n");
	expect_no_line("/etc/shadow");
}
