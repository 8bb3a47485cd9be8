/* Custom functions: the table and its handles, the request decoder and the
 * `custom` directive (no root needed), then end to end as root with the
 * helper tests/helpers/custom_prog, a real program split by priv_init
 * whose functions run in the monitor's children. Ports 800-819. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor/custom.h"
#include "policytest.h"
#include "privman.h"
#include "testutil.h"
#include "wire/wire.h"

static char *info_a(char *const *args)
{
	return NULL;
}

static int cap_b(char *const *args)
{
	return -1;
}

/* --- the table ------------------------------------------------------------------ */

Test(custom_table, handles_count_from_zero_in_registration_order_across_kinds)
{
	cr_assert_eq(priv_register_info_fn(info_a), 0);
	cr_assert_eq(priv_register_cap_fn(cap_b), 1);
	cr_assert_eq(priv_register_info_fn(info_a), 2);
	cr_assert_eq(custom_lookup_info(0), info_a);
	cr_assert_eq(custom_lookup_cap(1), cap_b);
	/* A handle names one function of one kind. */
	cr_assert_null(custom_lookup_cap(0));
	cr_assert_null(custom_lookup_info(1));
	cr_assert_null(custom_lookup_info(3));
	cr_assert_null(custom_lookup_info(-1));
	cr_assert_null(custom_lookup_cap(INT32_MAX));
}

Test(custom_table, a_null_function_is_einval)
{
	errno = 0;
	cr_assert_eq(priv_register_info_fn(NULL), -1);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(priv_register_cap_fn(NULL), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(priv_register_cap_fn(cap_b), 0, "a refusal takes no handle");
}

Test(custom_table, the_table_holds_256_functions)
{
	for (int i = 0; i < CUSTOM_MAX_FUNCTIONS; i++)
		cr_assert_eq(priv_register_cap_fn(cap_b), i);
	errno = 0;
	cr_assert_eq(priv_register_info_fn(info_a), -1);
	cr_assert_eq(errno, ENOSPC);
}

Test(custom_table, registration_after_priv_init_is_eperm)
{
	cr_assert_eq(priv_register_info_fn(info_a), 0);
	custom_freeze(); /* what priv_init does before it forks */
	errno = 0;
	cr_assert_eq(priv_register_info_fn(info_a), -1);
	cr_assert_eq(errno, EPERM);
	errno = 0;
	cr_assert_eq(priv_register_cap_fn(cap_b), -1);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(custom_lookup_info(0), info_a, "the table made so far stays");
}

Test(custom_table, arguments_over_the_limits_are_e2big_before_anything_is_sent)
{
	static char *many[CUSTOM_MAX_ARGS + 2];
	for (int i = 0; i <= CUSTOM_MAX_ARGS; i++)
		many[i] = "x";
	errno = 0;
	cr_assert_null(priv_invoke_info_fn(0, many));
	cr_assert_eq(errno, E2BIG);
	static char big[CUSTOM_MAX_ARG_BYTES];
	memset(big, 'a', sizeof(big) - 1); /* with its NUL: exactly the limit */
	char *one[] = {big, NULL};
	char *two[] = {big, "", NULL};
	errno = 0;
	cr_assert_eq(priv_invoke_cap_fn(0, two), -1);
	cr_assert_eq(errno, E2BIG);
	/* Within the limits, the call goes on: no monitor here. */
	errno = 0;
	cr_assert_eq(priv_invoke_cap_fn(0, one), -1);
	cr_assert_eq(errno, ENOTCONN);
	many[CUSTOM_MAX_ARGS] = NULL;
	errno = 0;
	cr_assert_null(priv_invoke_info_fn(0, many));
	cr_assert_eq(errno, ENOTCONN);
}

/* --- the decoder -------------------------------------------------------------------- */

static struct wire_request req;
static struct custom_request creq;
static unsigned char msg[WIRE_MAX_MESSAGE];

/* Build a request: kind, handle, a claimed count, then `n` fields as given
 * (data with `sizes`). Returns whether the wire and custom.c accept it. */
static bool decode(int32_t kind, int32_t handle, int32_t count, int n, const char *const *data,
		   const size_t *sizes)
{
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_CUSTOM, 7);
	wire_put_int(&w, kind);
	wire_put_int(&w, handle);
	wire_put_int(&w, count);
	for (int i = 0; i < n; i++)
		wire_put_bytes(&w, data[i], sizes[i]);
	size_t size = wire_writer_finish(&w);
	cr_assert_gt(size, 0);
	const char *why;
	cr_assert_eq(wire_decode_request(msg, size, 0, &req, &why), 0);
	return custom_decode_request(&req, &creq);
}

Test(custom_decode, a_vector_of_strings_with_their_nul)
{
	const char *data[] = {"one", "", "three"};
	size_t sizes[] = {4, 1, 6};
	cr_assert(decode(CUSTOM_CAP, 3, 3, 3, data, sizes));
	cr_assert_eq(creq.kind, CUSTOM_CAP);
	cr_assert_eq(creq.handle, 3);
	cr_assert_eq(creq.count, 3);
	cr_assert_str_eq(creq.argv[0], "one");
	cr_assert_str_eq(creq.argv[1], "");
	cr_assert_str_eq(creq.argv[2], "three");
	cr_assert_null(creq.argv[3]);
	cr_assert_eq(creq.bytes, 11);
	cr_assert(decode(CUSTOM_INFO, -5, 0, 0, NULL, NULL), "no arguments; any handle decodes");
	cr_assert_null(creq.argv[0]);
	cr_assert_str_eq(wire_op_name(WIRE_OP_CUSTOM), "custom");
	cr_assert_eq(wire_request_fds(WIRE_OP_CUSTOM), 0);
	cr_assert_eq(wire_reply_fds(WIRE_OP_CUSTOM, 0), 1, "a pipe or the function's fd");
	cr_assert_eq(wire_reply_fds(WIRE_OP_CUSTOM, 4096), 1);
	cr_assert_eq(wire_reply_fds(WIRE_OP_CUSTOM, -EPERM), 0);
}

Test(custom_decode, lies_are_refused)
{
	const char *data[] = {"one", "two"};
	size_t sizes[] = {4, 4};
	cr_assert_not(decode(2, 0, 1, 1, data, sizes), "an unknown kind");
	cr_assert_not(decode(-1, 0, 1, 1, data, sizes), "an unknown kind");
	cr_assert_not(decode(CUSTOM_INFO, 0, 3, 2, data, sizes), "fewer strings than counted");
	cr_assert_not(decode(CUSTOM_INFO, 0, 1, 2, data, sizes), "more strings than counted");
	cr_assert_not(decode(CUSTOM_INFO, 0, -1, 0, NULL, NULL), "a negative count");
	cr_assert_not(decode(CUSTOM_INFO, 0, INT32_MAX, 2, data, sizes), "a huge count");
	size_t no_nul[] = {3};
	cr_assert_not(decode(CUSTOM_INFO, 0, 1, 1, data, no_nul), "a string without its NUL");
	const char *inner[] = {"a\0b"};
	size_t inner_size[] = {4};
	cr_assert_not(decode(CUSTOM_INFO, 0, 1, 1, inner, inner_size), "a NUL inside");
}

Test(custom_decode, a_vector_over_the_limits_decodes_for_the_handler_to_refuse)
{
	static const char *data[CUSTOM_MAX_ARGS + 1];
	static size_t sizes[CUSTOM_MAX_ARGS + 1];
	for (int i = 0; i <= CUSTOM_MAX_ARGS; i++) {
		data[i] = "x";
		sizes[i] = 2;
	}
	cr_assert(decode(CUSTOM_INFO, 0, CUSTOM_MAX_ARGS + 1, CUSTOM_MAX_ARGS + 1, data, sizes));
	cr_assert_eq(creq.count, CUSTOM_MAX_ARGS + 1);
}

/* --- the policy ----------------------------------------------------------------------- */

static void decide(const struct policy *p, int32_t handle, struct policy_decision *d)
{
	struct policy_request r;
	memset(&r, 0, sizeof(r));
	r.op = POLICY_OP_CUSTOM;
	r.handle = handle;
	policy_decide(p, &r, d);
}

Test(custom_policy, default_deny)
{
	struct diag dg;
	struct policy *p = load_text("fork true\n", &dg);
	cr_assert_not_null(p);
	struct policy_decision d;
	decide(p, 0, &d);
	cr_assert_not(d.allow);
	cr_assert_eq(d.error, EPERM);
	cr_assert(strstr(d.reason, "refused unless the policy names them"), "%s", d.reason);
	policy_free(p);
	diag_free(&dg);
}

Test(custom_policy, a_list_of_handles_grants_those_only)
{
	struct diag dg;
	struct policy *p = load_text("custom { 0 2 }\ncustom = ( 17 )\n", &dg);
	cr_assert_not_null(p);
	struct policy_decision d;
	decide(p, 0, &d);
	cr_assert(d.allow);
	cr_assert_str_eq(d.directive, "custom");
	cr_assert_str_eq(d.rule, "0");
	cr_assert_eq(d.origin->line, 1);
	decide(p, 17, &d);
	cr_assert(d.allow, "lists accumulate");
	cr_assert_eq(d.origin->line, 2);
	decide(p, 1, &d);
	cr_assert_not(d.allow);
	cr_assert_eq(d.error, EPERM);
	cr_assert(strstr(d.reason, "no custom rule names function 1"), "%s", d.reason);
	decide(p, -1, &d);
	cr_assert_not(d.allow);
	policy_free(p);
	diag_free(&dg);
}

Test(custom_policy, star_grants_every_function)
{
	struct diag dg;
	struct policy *p = load_text("custom *\n", &dg);
	cr_assert_not_null(p);
	struct policy_decision d;
	decide(p, 255, &d);
	cr_assert(d.allow);
	cr_assert_str_eq(d.rule, "*");
	policy_free(p);
	diag_free(&dg);
}

Test(custom_policy, bad_entries_are_located_errors)
{
	cr_assert_refused("custom { 0 my_socket }\n", "test.conf:1:12: error: custom \"my_socket\"");
	cr_assert_refused("custom 256\n", "neither the handle of a registered function (0 to 255");
	cr_assert_refused("custom -1\n", "custom \"-1\"");
	cr_assert_refused("custom 01\n", "custom \"01\"");
	cr_assert_refused("custom true\n", "nor '*'");
	cr_assert_refused("custom_timeout 0\n", "custom_timeout \"0\" is not a number of seconds");
	cr_assert_refused("custom_timeout 3601\n", "from 1 to 3600");
	cr_assert_refused("custom_timeout 1.5\n", "custom_timeout \"1.5\"");
	cr_assert_refused("custom_timeout { 1 2 }\n", "custom_timeout");
	cr_assert_refused("costum 1\n", "custom");
}

Test(custom_policy, the_dump_shows_grants_and_timeout)
{
	struct diag dg;
	struct policy *p = load_text("custom { 1 * }\ncustom_timeout 3\n", &dg);
	cr_assert_not_null(p);
	cr_assert_eq(p->custom_timeout_s, 3);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	policy_dump(p, f);
	fclose(f);
	cr_assert(strstr(text, "custom 1 "), "%s", text);
	cr_assert(strstr(text, "custom * (every registered function)"), "%s", text);
	cr_assert(strstr(text, "custom_timeout 3 "), "%s", text);
	free(text);
	policy_free(p);

	p = load_text("custom 4\n", &dg);
	f = open_memstream(&text, &len);
	policy_dump(p, f);
	fclose(f);
	cr_assert(strstr(text, "custom_timeout 10 (default)"), "%s", text);
	free(text);
	policy_free(p);

	p = load_text("fork true\n", &dg);
	f = open_memstream(&text, &len);
	policy_dump(p, f);
	fclose(f);
	cr_assert_null(strstr(text, "custom"), "nothing when nothing is granted: %s", text);
	free(text);
	policy_free(p);
	diag_free(&dg);
}

/* --- end to end ------------------------------------------------------------------------ */

static char *dir;

static void setup(void)
{
	PMTEST_SKIP_UNLESS_ROOT();
	dir = pmtest_tmpdir();
}

static void teardown(void)
{
	if (!getenv("KEEP"))
		pmtest_rmtree(dir);
	free(dir);
}

static const char *helper(const char *name)
{
	static char path[PATH_MAX];
	char rel[256];
	const char *build = getenv("BUILD");
	snprintf(rel, sizeof(rel), "%s/%s", build && *build ? build : "build", name);
	if (!realpath(rel, path))
		snprintf(path, sizeof(path), "%s", rel);
	return path;
}

static void policy(const char *text)
{
	free(pmtest_write_file(dir, "t", text));
}

static char out[1 << 16];
static char err[1 << 14];
static char audit[1 << 18];

#define slurp(name, buf, cap) pmtest_slurp(dir, (name), (buf), (cap))

#define HANDLES "handles 0 1 2 3 4 5 6 7 8 9 10 11\n"

/* Run the helper with ARGS; returns its exit status. */
static int run(const char *args)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && rm -f audit.json; PRIVMAN_CONF_DIR=%s PRIVMAN_AUDIT=%s/audit.json "
		 "timeout -s KILL 60 %s t %s >%s/out 2>%s/err </dev/null",
		 dir, dir, dir, helper("tests/helpers/custom_prog"), args, dir, dir);
	int rc = system(cmd);
	slurp("out", out, sizeof(out));
	slurp("err", err, sizeof(err));
	slurp("audit.json", audit, sizeof(audit));
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void expect(const char *args, const char *want)
{
	int rc = run(args);
	cr_assert_eq(rc, 0, "exit status %d for %s\nstdout:\n%s\nstderr:\n%s", rc, args, out, err);
	cr_assert_str_eq(out, want, "for %s\nstderr:\n%s\naudit:\n%s", args, err, audit);
}

#define cr_assert_audit(needle)                                                            \
	cr_assert(strstr(audit, (needle)), "the audit lacks %s:\n%s", (needle), audit)

TestSuite(custom, .init = setup, .fini = teardown, .timeout = 60);

Test(custom, both_kinds_run_as_root_with_their_arguments)
{
	policy("custom { 0 1 }\n");
	expect("info 0 a 'b c' '' + cap 1 801",
	       HANDLES "info uid=0 argc=3 first=a\ncap socket 127.0.0.1:801\n");
	cr_assert_audit("\"op\":\"custom_info\",\"object\":\"info 0 argc=3\"");
	cr_assert_audit("\"decision\":\"allow\",\"directive\":\"custom\",\"rule\":\"0\"");
	cr_assert_audit("it returned a string of 20 bytes\",\"errno\":0");
	cr_assert_audit("\"object\":\"cap 1 argc=1\"");
	cr_assert_audit("it returned a socket\",\"errno\":0");
}

Test(custom, a_socket_from_a_cap_function_is_bound_with_priv_bind_as_myecho_does)
{
	policy("custom 11\nbind 127.0.0.1:802\n");
	expect("echo 802", HANDLES "echo test passed\n");
}

Test(custom, default_deny_is_eperm_and_audited)
{
	policy("fork true\n");
	expect("info 0 + cap 1 803", HANDLES "ERR EPERM\nERR EPERM\n");
	cr_assert_audit("\"op\":\"custom_info\",\"object\":\"info 0 argc=0\",\"flags\":0");
	cr_assert_audit("\"decision\":\"deny\"");
	cr_assert_audit("custom functions are refused unless the policy names them");
	cr_assert_audit("\"errno\":1}");
	policy("custom { 0 }\n");
	expect("info 0 + cap 1 803", HANDLES "info uid=0 argc=0 first=-\nERR EPERM\n");
	cr_assert_audit("no custom rule names function 1");
}

Test(custom, registration_after_priv_init_is_eperm)
{
	policy("custom *\n");
	expect("register + info 0", HANDLES "ERR EPERM\ninfo uid=0 argc=0 first=-\n");
}

Test(custom, an_unknown_handle_or_the_other_kind_is_enoent)
{
	policy("custom *\n");
	expect("info 99 + info -1 + info 1 + cap 0 + cap 12",
	       HANDLES "ERR ENOENT\nERR ENOENT\nERR ENOENT\nERR ENOENT\nERR ENOENT\n");
	cr_assert_audit("\"object\":\"info 99 argc=0\"");
	cr_assert_audit("no info function has that handle\",\"errno\":2");
	cr_assert_audit("no cap function has that handle\",\"errno\":2");
}

Test(custom, the_functions_errno_comes_back)
{
	policy("custom *\n");
	expect("info 2 33 + info 2 110 + cap 3 + info 2 0 + cap 7",
	       HANDLES "ERR EDOM\nERR ETIMEDOUT\nERR EDOM\nERR EIO\nERR EBADF\n");
	cr_assert_audit("the function failed\",\"errno\":33");
}

Test(custom, a_string_of_4096_bytes_comes_back_a_longer_one_is_eoverflow)
{
	policy("custom *\n");
	expect("info 6 0 + info 6 4096 + info 6 4097",
	       HANDLES "info \ninfo len 4096\nERR EOVERFLOW\n");
}

Test(custom, argument_vectors_are_bounded)
{
	policy("custom *\n");
	/* The client refuses first; the limits themselves pass. */
	expect("bigargs 257 1 + bigargs 2 4096 + bigargs 256 1 + bigargs 2 4095",
	       HANDLES "ERR E2BIG\nERR E2BIG\ninfo uid=0 argc=256 first=a\n"
		       "info uid=0 argc=2 first=aaaaaaaaaaaaaaaaaaaa\n");
	/* The monitor refuses a request built past the client, audits it, and
	 * goes on serving. */
	expect("raw 257 1 + raw 2 4500 + raw 256 1 + info 0",
	       HANDLES "ERR E2BIG\nERR E2BIG\nraw answered 22\ninfo uid=0 argc=0 first=-\n");
	cr_assert_audit("\"object\":\"info 0 argc=257\"");
	cr_assert_audit("the argument vector is over the limits (256 strings, 8192 bytes)\","
			"\"errno\":7");
}

Test(custom, a_lying_request_ends_the_service)
{
	policy("custom *\n");
	expect("rawbad 2 1 + info 0", HANDLES "ERR EPIPE\nERR EPIPE\n");
	cr_assert_audit("\"op\":\"protocol\"");
	expect("rawbad 0 2 + info 0", HANDLES "ERR EPIPE\nERR EPIPE\n");
}

Test(custom, a_crashing_function_is_eio_and_the_monitor_serves_on)
{
	policy("custom *\n");
	expect("info 4 + info 0 + info 9 + info 0",
	       HANDLES "ERR EIO\ninfo uid=0 argc=0 first=-\nERR EIO\ninfo uid=0 argc=0 first=-\n");
	cr_assert_audit("\"object\":\"info 4 argc=0\"");
	cr_assert_audit("\"errno\":5}");
}

Test(custom, a_function_that_scribbles_touches_nothing_of_the_monitor)
{
	policy("custom *\nopen_ro /etc/hostname\n");
	/* Run in the monitor, as the original did, it would have set the
	 * counter to 1000 and written garbage to every channel. */
	expect("info 8 + info 10 + info 8 + info 0",
	       HANDLES "info calls=1\nERR EIO\ninfo calls=1\ninfo uid=0 argc=0 first=-\n");
	cr_assert_audit("its process answered nonsense");
}

Test(custom, a_hanging_function_times_out_and_the_monitor_never_waits_for_it)
{
	policy("custom *\ncustom_timeout 1\nopen_ro /etc/hostname\n");
	time_t t0 = time(NULL);
	expect("whilehang 5 + info 0",
	       HANDLES "served while hanging\nERR ETIMEDOUT\ninfo uid=0 argc=0 first=-\n");
	cr_assert_leq(time(NULL) - t0, 5);
	cr_assert_audit("it ran out of time (1 s) and was killed\",\"errno\":110");
}

Test(custom, a_process_has_at_most_four_functions_running)
{
	policy("custom *\ncustom_timeout 1\n");
	expect("hangmany 5 5 + info 0",
	       HANDLES "ERR EAGAIN\nERR ETIMEDOUT\nERR ETIMEDOUT\nERR ETIMEDOUT\nERR ETIMEDOUT\n"
		       "info uid=0 argc=0 first=-\n");
	cr_assert_audit("too many custom functions running for this process or in all\","
			"\"errno\":11");
}

Test(custom, functions_whose_requester_is_gone_make_room_when_the_monitor_is_full)
{
	policy("custom *\nfork true\n");
	/* 8 processes start 4 functions that hang, and leave: every one of
	 * the 32 slots is taken until the timeout, 10 s away. */
	time_t t0 = time(NULL);
	expect("orphans 8 5", HANDLES "info uid=0 argc=0 first=-\n");
	cr_assert_leq(time(NULL) - t0, 5);
	cr_assert_audit("its requester is gone and the slot was needed; killed\",\"errno\":125");
}

Test(custom, a_monitor_made_by_respawn_forgets_the_invocations_it_inherited)
{
	pmtest_user_ensure("pmtestcu1");
	policy("custom *\nfork true\nallow_rerun true\nrun_as pmtestcu1\n");
	/* Every slot is taken by invocations whose requesters left, when the
	 * monitor duplicates itself. The new one frees its copies of the slots
	 * (their processes belong to the old monitor, which times them out);
	 * it must not take them for its own, kill them and say so. */
	expect("respawnfull pmtestcu1 5", HANDLES "new info uid=0 argc=1 first=new\nwaited exit 0\n");
	cr_assert_null(strstr(audit, "slot was needed"), "%s", audit);
}

Test(custom, privman_check_explains_a_custom_request)
{
	policy("custom { 3 }\n");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s check -c %s/t --request 'custom 3' >%s/out 2>&1",
		 helper("privman"), dir, dir);
	cr_assert_eq(pmtest_sh("%s", cmd), 0);
	slurp("out", out, sizeof(out));
	cr_assert(strstr(out, "custom 3"), "%s", out);
	cr_assert(strstr(out, "custom function 3 is granted"), "%s", out);
	snprintf(cmd, sizeof(cmd), "%s check -q -c %s/t --request 'custom 4' >%s/out 2>&1",
		 helper("privman"), dir, dir);
	cr_assert_neq(pmtest_sh("%s", cmd), 0);
	slurp("out", out, sizeof(out));
	cr_assert(strstr(out, "no custom rule names function 4"), "%s", out);
	snprintf(cmd, sizeof(cmd), "%s check -q -c %s/t --request 'custom x' >%s/out 2>&1",
		 helper("privman"), dir, dir);
	cr_assert_eq(pmtest_sh("%s", cmd), 2);
}
