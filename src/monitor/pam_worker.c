/* The PAM worker: the process that owns one transaction's pam_handle_t
 * and runs every pam_* call and the conversation as root. The threat model
 * and what the program may not choose: pam_monitor.c. */
#include "monitor/pam_worker.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "monitor/pam_env.h"
#include "monitor/pam_prepare.h"
#include "monitor/proc_internal.h"
#include "wire/pam_wire.h"

/* --- the worker ------------------------------------------------------------- */

#define MAX_REPORTS 16

struct worker {
	int chan;
	int report;
	uint32_t id;
	pid_t program;
	struct audit *audit;
	pam_handle_t *pamh;
	bool broken;    /* the program lied: end after the current call */
	const struct policy *policy;
	const char *app; /* the application's name: `auth true` grants it */
	char service[POLICY_SERVICE_MAX + 1]; /* as PAM uses it */
	char service_log[4 * (POLICY_SERVICE_MAX + 1)]; /* escaped, for logs */
	struct pam_trust trust; /* of the service's stack */
	struct pam_prepared prepared; /* before BEGIN: see pam_prepare.c */
	char *authenticated; /* PAM_USER after pam_authenticate succeeded */
	char *passed;        /* PAM_USER after pam_acct_mgmt succeeded for it */
	char *expired;       /* PAM_USER whose pam_acct_mgmt said
				PAM_NEW_AUTHTOK_REQD after pam_authenticate */
	uid_t reported[MAX_REPORTS];
	size_t report_count;
	unsigned char in[WIRE_MAX_MESSAGE + 1];
	unsigned char out[WIRE_MAX_MESSAGE];
	/* How much of `in` and `out` a message may have been written to: the
	 * rest is as the zygote left it (zero), and wiping it at the end
	 * would only copy the zygote's pages into this process. */
	size_t in_used, out_used;
};

static struct worker the_worker;

/* `n` bytes (a size, or -1 when unknown) were written to a buffer of `cap`:
 * raise its mark. */
static void used(size_t *mark, ssize_t n, size_t cap)
{
	size_t u = n < 0 || (size_t)n > cap ? cap : (size_t)n;
	*mark = u > *mark ? u : *mark;
}

static void __attribute__((noreturn)) worker_exit(struct worker *w, int pam_status)
{
	if (w->pamh)
		pam_end(w->pamh, pam_status | PAM_DATA_SILENT);
	w->pamh = NULL;
	pam_prepared_drop(&w->prepared);
	explicit_bzero(w->in, w->in_used);
	explicit_bzero(w->out, w->out_used);
	free(w->authenticated);
	free(w->passed);
	free(w->expired);
	audit_finish(w->audit);
	/* The monitor frees the slot at the report's end of file: before the
	 * process ends, whose close of the stack's watch waits (pam_prepare.c). */
	close(w->report);
	close(w->chan);
	_exit(0);
}

/* The program is gone: nobody will answer, nobody will read a reply. */
static void __attribute__((noreturn)) worker_lost(struct worker *w)
{
	audit_event(w->audit, LOG_INFO, "pam: pid %d left transaction %u; its worker ends",
		    (int)w->program, (unsigned)w->id);
	/* pam_end is not called from inside a module's conversation: the
	 * transaction is abandoned, and the process goes with it. */
	w->pamh = NULL;
	worker_exit(w, PAM_ABORT);
}

static void worker_violation(struct worker *w, const char *why)
{
	audit_protocol(w->audit, w->program, why);
	w->broken = true;
}

static int worker_conv(int count, const struct pam_message **msg, struct pam_response **resp,
		       void *data)
{
	struct worker *w = data;
	/* A module that wants no answers (messages only) may pass no place for
	 * them; pam_matrix does. */
	struct pam_response *unwanted = NULL;
	if (!resp)
		resp = &unwanted;
	*resp = NULL;
	if (w->broken || count < 1 || count > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	size_t size = pam_wire_encode_conv(w->out, sizeof(w->out), w->id, count, msg);
	used(&w->out_used, size ? (ssize_t)size : -1, sizeof(w->out));
	if (!size)
		return PAM_CONV_ERR;
	if (wire_send(w->chan, w->out, size, NULL, 0, 0) < 0)
		worker_lost(w);
	int fds[WIRE_MAX_FDS], nfds = 0;
	ssize_t n = wire_recv(w->chan, w->in, sizeof(w->in), fds, &nfds, 0);
	used(&w->in_used, n, sizeof(w->in));
	if (n == 0 || (n < 0 && errno != EPROTO))
		worker_lost(w);
	if (n < 0 || nfds) {
		wire_close_fds(fds, nfds);
		worker_violation(w, "a PAM conversation answer was truncated or carried fds");
		return PAM_CONV_ERR;
	}
	int status = PAM_CONV_ERR;
	int rc = pam_wire_decode_answer(w->in, (size_t)n, w->id, count, &status, resp);
	explicit_bzero(w->in, (size_t)n);
	if (rc == -2)
		return PAM_BUF_ERR;
	if (rc < 0) {
		worker_violation(w, "malformed PAM conversation answer");
		return PAM_CONV_ERR;
	}
	if (status != PAM_SUCCESS || resp == &unwanted) {
		pam_wire_free_answer(*resp, count);
		*resp = NULL;
		return status == PAM_SUCCESS ? PAM_SUCCESS : PAM_CONV_ERR;
	}
	return PAM_SUCCESS;
}

static const char *item_text(struct worker *w, int type)
{
	const void *v = NULL;
	if (!w->pamh || pam_get_item(w->pamh, type, &v) != PAM_SUCCESS)
		return NULL;
	return v;
}

static bool secret_item(int type)
{
	return type == PAM_AUTHTOK || type == PAM_OLDAUTHTOK;
}

/* A program-chosen text for a log line: printable ASCII but '\\' as is,
 * every other byte as \xNN, so that it can neither forge a line nor hide
 * in one. Cut to fit `cap`. */
static const char *escaped(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (!in)
		in = "-";
	for (; *in && o + 5 < cap; in++) {
		unsigned char c = (unsigned char)*in;
		/* One word of a log line: anything that could read as a field
		 * separator or a field of its own (space, '=', ':', quotes) is
		 * escaped too. */
		if (c > 0x20 && c < 0x7f && !strchr("\\=:\"'", c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static void forget(char **user)
{
	free(*user);
	*user = NULL;
}

/* Whatever passed before no longer counts (PAM_USER set, authentication
 * run again). */
static void forget_proofs(struct worker *w)
{
	forget(&w->authenticated);
	forget(&w->passed);
	forget(&w->expired);
}

static bool is_current_user(struct worker *w, const char *user)
{
	const char *now = item_text(w, PAM_USER);
	return user && now && strcmp(user, now) == 0;
}

/* Tell the monitor that PAM_USER passed pam_authenticate and then
 * pam_acct_mgmt in this transaction. Sent before the program hears of its
 * success, so the monitor finds it when the program asks next. */
static void worker_report(struct worker *w)
{
	const char *user = item_text(w, PAM_USER);
	if (!user || !w->authenticated || strcmp(user, w->authenticated) != 0)
		return;
	if (w->trust.trusts_caller) {
		char name[256];
		audit_refusal(w->audit, "auth_allow_rerun", escaped(user, name, sizeof(name)),
			      w->program, EPERM, w->trust.note);
		return;
	}
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &found) != 0 || !found) {
		char user_log[256];
		audit_event(w->audit, LOG_WARNING,
			    "pam: %s passed PAM but is not a user of this system; not recorded",
			    escaped(user, user_log, sizeof(user_log)));
		return;
	}
	for (size_t i = 0; i < w->report_count; i++)
		if (w->reported[i] == found->pw_uid)
			return;
	if (w->report_count == MAX_REPORTS || found->pw_uid > INT32_MAX)
		return;
	struct wire_writer wr;
	unsigned char msg[PAM_WIRE_MAX_TEXT + 64];
	wire_writer_init(&wr, msg, sizeof(msg), PAM_WIRE_AUTHENTICATED, w->id);
	wire_put_int(&wr, (int32_t)found->pw_uid);
	pam_wire_put_text(&wr, user);
	size_t size = wire_writer_finish(&wr);
	/* Queued on the monitor's end before the program hears of its
	 * success: the monitor reads every queued report before it decides a
	 * request (pam_authenticated_uids), so the user is known by then
	 * without a round trip. */
	if (!size || wire_send(w->report, msg, size, NULL, 0, 0) < 0) {
		char user_log[256];
		audit_event(w->audit, LOG_WARNING, "pam: %s could not be reported to the monitor",
			    escaped(user, user_log, sizeof(user_log)));
		return;
	}
	w->reported[w->report_count++] = found->pw_uid;
}

/* pam_setcred, the session calls and pam_chauthtok act for the user as
 * root: they run only for the user who passed pam_authenticate and then
 * pam_acct_mgmt in this transaction, and who is still PAM_USER. The one
 * exception is the expired password: pam_chauthtok with
 * PAM_CHANGE_EXPIRED_AUTHTOK for the user who authenticated and whose
 * pam_acct_mgmt answered PAM_NEW_AUTHTOK_REQD. Returns NULL, or why not. */
static const char *call_refused(struct worker *w, int call, int flags)
{
	switch (call) {
	case PAM_WIRE_AUTHENTICATE:
	case PAM_WIRE_ACCT_MGMT:
		return NULL;
	case PAM_WIRE_CHAUTHTOK:
		if ((flags & PAM_CHANGE_EXPIRED_AUTHTOK) && is_current_user(w, w->expired))
			return NULL;
		break;
	default:
		break;
	}
	if (is_current_user(w, w->passed))
		return NULL;
	if (w->authenticated && is_current_user(w, w->authenticated))
		return "PAM_USER has not passed pam_acct_mgmt after pam_authenticate in this "
		       "transaction";
	return "PAM_USER has not passed pam_authenticate and pam_acct_mgmt in this transaction "
	       "(the root PAM worker would act for any user without proof)";
}

static int worker_call(struct worker *w, int call, int flags)
{
	int rc;
	char user_log[256];
	const char *why = call_refused(w, call, flags);
	if (why) {
		const char *name = pam_wire_call_name(call);
		char object[sizeof(w->service_log) + sizeof(user_log) + 16];
		snprintf(object, sizeof(object), "service=%s user=%s", w->service_log,
			 escaped(item_text(w, PAM_USER), user_log, sizeof(user_log)));
		audit_refusal(w->audit, name ? name : "pam_call", object, w->program, EPERM, why);
		return PAM_PERM_DENIED;
	}
	switch (call) {
	case PAM_WIRE_AUTHENTICATE:
		forget_proofs(w);
		rc = pam_authenticate(w->pamh, flags);
		if (rc == PAM_SUCCESS) {
			const char *user = item_text(w, PAM_USER);
			w->authenticated = user ? strdup(user) : NULL;
		}
		break;
	case PAM_WIRE_ACCT_MGMT:
		forget(&w->passed);
		forget(&w->expired);
		rc = pam_acct_mgmt(w->pamh, flags);
		if (!w->authenticated || !is_current_user(w, w->authenticated))
			break;
		if (rc == PAM_SUCCESS) {
			w->passed = strdup(w->authenticated);
			worker_report(w);
		} else if (rc == PAM_NEW_AUTHTOK_REQD) {
			w->expired = strdup(w->authenticated);
		}
		break;
	case PAM_WIRE_SETCRED:
		rc = pam_setcred(w->pamh, flags);
		break;
	case PAM_WIRE_OPEN_SESSION:
		rc = pam_open_session(w->pamh, flags);
		break;
	case PAM_WIRE_CLOSE_SESSION:
		rc = pam_close_session(w->pamh, flags);
		break;
	case PAM_WIRE_CHAUTHTOK:
		rc = pam_chauthtok(w->pamh, flags);
		/* The expired password is changed: the session may follow, as
		 * login and sshd go on (auth_allow_rerun still needs a
		 * pam_acct_mgmt that succeeds). */
		if (rc == PAM_SUCCESS && (flags & PAM_CHANGE_EXPIRED_AUTHTOK) &&
		    is_current_user(w, w->expired) && !is_current_user(w, w->passed)) {
			forget(&w->passed);
			w->passed = w->expired;
			w->expired = NULL;
		}
		break;
	default:
		worker_violation(w, "unknown PAM function");
		return PAM_SYSTEM_ERR;
	}
	audit_event(w->audit, rc == PAM_SUCCESS ? LOG_INFO : LOG_NOTICE,
		    "%s service=%s user=%s pid=%d: %s", pam_wire_call_name(call), w->service_log,
		    escaped(item_text(w, PAM_USER), user_log, sizeof(user_log)), (int)w->program,
		    pam_strerror(w->pamh, rc));
	return rc;
}

/* BEGIN: the service the program names must be one the policy grants,
 * decided on the name as PAM will use it. Returns a PAM status. */
static int worker_choose_service(struct worker *w, const char *asked)
{
	char log[sizeof(w->service_log)];
	escaped(asked, log, sizeof(log));
	struct policy_request pr;
	struct policy_decision d;
	memset(&pr, 0, sizeof(pr));
	pr.op = POLICY_OP_AUTH;
	pr.service = asked;
	pr.app = w->app;
	policy_decide(w->policy, &pr, &d);
	audit_decision(w->audit, "pam_start", log, 0, w->program, &d, 0);
	if (!d.allow)
		return PAM_PERM_DENIED;
	if (policy_service_canon(asked, w->service, sizeof(w->service)) < 0)
		return PAM_PERM_DENIED; /* decide() refused it already */
	escaped(w->service, w->service_log, sizeof(w->service_log));
	return PAM_SUCCESS;
}

/* pam_start for the service decided, with the user the program named: the
 * stack prepared ahead of need when it is that service's and the
 * configuration did not change since (pam_prepare.c), else a fresh one.
 * Returns a PAM status. */
static int worker_pam_start(struct worker *w, const char *user)
{
	const struct pam_conv conv = {worker_conv, w};
	int status;
	w->pamh = pam_prepared_take(&w->prepared, w->service, &w->trust);
	if (!w->pamh) {
		pam_trust_scan(w->service, &w->trust);
		status = pam_start(w->service, user, &conv, &w->pamh);
	} else if (user) {
		/* As pam_start(service, user) would have set it. */
		status = pam_set_item(w->pamh, PAM_USER, user);
		if (status != PAM_SUCCESS) {
			pam_end(w->pamh, status | PAM_DATA_SILENT);
			w->pamh = NULL;
		}
	} else {
		status = PAM_SUCCESS;
	}
	if (status == PAM_SUCCESS)
		pam_keep_modules();
	return status;
}

/* A string item the program sets. PAM_SERVICE was chosen at pam_start and
 * stays (Linux-PAM would load the stack of the new name, a path included);
 * the items that access-control modules trust (PAM_RUSER, PAM_RHOST,
 * PAM_TTY) are logged. Returns a PAM status. */
static int worker_set_item(struct worker *w, int type, const char *value)
{
	char log[4 * 256];
	if (!pam_wire_string_item(type))
		return PAM_BAD_ITEM;
	if (type == PAM_SERVICE) {
		audit_refusal(w->audit, "pam_set_item", escaped(value, log, sizeof(log)),
			      w->program, EPERM,
			      "PAM_SERVICE is chosen once, at pam_start, from the services the "
			      "policy grants; it cannot be changed");
		return PAM_BAD_ITEM;
	}
	int status = pam_set_item(w->pamh, type, value);
	if (type == PAM_USER && status == PAM_SUCCESS)
		forget_proofs(w);
	if (type == PAM_RUSER || type == PAM_RHOST || type == PAM_TTY)
		audit_event(w->audit, LOG_INFO, "pam_set_item %s=%s service=%s pid=%d: %s",
			    type == PAM_RUSER ? "PAM_RUSER" : type == PAM_RHOST ? "PAM_RHOST"
										  : "PAM_TTY",
			    escaped(value, log, sizeof(log)), w->service_log, (int)w->program,
			    pam_strerror(w->pamh, status));
	else if (status != PAM_SUCCESS)
		audit_event(w->audit, LOG_NOTICE, "pam_set_item %d pid=%d: %s", type,
			    (int)w->program, pam_strerror(w->pamh, status));
	return status;
}

/* pam_putenv for the program: setting a name from the list above is
 * refused and logged (unsetting it is not). Returns a PAM status. */
static int worker_putenv(struct worker *w, const char *text)
{
	if (strchr(text, '=') && pam_env_unsafe(text)) {
		char name[256];
		size_t len = strcspn(text, "=");
		char copy[128];
		snprintf(copy, sizeof(copy), "%.*s", (int)(len < 100 ? len : 100), text);
		audit_refusal(w->audit, "pam_putenv", escaped(copy, name, sizeof(name)),
			      w->program, EPERM,
			      "a variable the loader or an interpreter reads: modules such as "
			      "pam_exec pass the PAM environment to what they run as root");
		return PAM_PERM_DENIED;
	}
	return pam_putenv(w->pamh, text);
}

/* What a request answers: a PAM status, and for some a text (NULL
 * included) after it. */
struct reply {
	int status;
	bool has_value;
	const char *value;
};

/* The handlers of the requests: each decodes its fields from `r` and runs
 * the request, filling `out`; false when the fields are malformed. */

static bool req_begin(struct worker *w, struct wire_reader *r, struct reply *out, bool *last)
{
	char service[PAM_WIRE_MAX_TEXT + 1], user[PAM_WIRE_MAX_TEXT + 1], user_log[256];
	int n = pam_wire_get_text(r, service, sizeof(service));
	int u = pam_wire_get_text(r, user, sizeof(user));
	if (n < 1 || u == -2 || !wire_reader_done(r))
		return false;
	out->status = worker_choose_service(w, service);
	if (out->status != PAM_SUCCESS) {
		*last = true;
		return true;
	}
	out->status = worker_pam_start(w, u >= 0 ? user : NULL);
	audit_event(w->audit, out->status == PAM_SUCCESS ? LOG_INFO : LOG_NOTICE,
		    "pam_start service=%s user=%s pid=%d transaction %u: %s", w->service_log,
		    escaped(u >= 0 ? user : NULL, user_log, sizeof(user_log)), (int)w->program,
		    (unsigned)w->id, pam_strerror(w->pamh, out->status));
	if (out->status != PAM_SUCCESS) {
		w->pamh = NULL;
		*last = true;
	}
	return true;
}

static bool req_call(struct worker *w, struct wire_reader *r, struct reply *out)
{
	int call = wire_get_int(r);
	int flags = wire_get_int(r);
	if (!wire_reader_done(r))
		return false;
	out->status = worker_call(w, call, flags);
	return true;
}

static bool req_set_item(struct worker *w, struct wire_reader *r, struct reply *out)
{
	char text[PAM_WIRE_MAX_ENV + 1];
	int type = wire_get_int(r);
	int n = pam_wire_get_text(r, text, sizeof(text));
	bool done = wire_reader_done(r);
	bool ok = done && n != -2 && (n < 0 || (size_t)n <= PAM_WIRE_MAX_TEXT);
	if (ok)
		out->status = worker_set_item(w, type, n >= 0 ? text : NULL);
	explicit_bzero(text, sizeof(text));
	return ok;
}

static bool req_get_item(struct worker *w, struct wire_reader *r, struct reply *out)
{
	int type = wire_get_int(r);
	if (!wire_reader_done(r))
		return false;
	if (!pam_wire_string_item(type) || secret_item(type)) {
		out->status = PAM_BAD_ITEM;
		audit_event(w->audit, LOG_NOTICE, "pam_get_item %d pid=%d: refused", type,
			    (int)w->program);
		return true;
	}
	const void *v = NULL;
	out->status = pam_get_item(w->pamh, type, &v);
	if (out->status == PAM_SUCCESS) {
		out->has_value = true;
		out->value = v;
		if (out->value && strlen(out->value) > PAM_WIRE_MAX_TEXT)
			out->status = PAM_BUF_ERR;
	}
	return true;
}

static bool req_putenv(struct worker *w, struct wire_reader *r, struct reply *out)
{
	char text[PAM_WIRE_MAX_ENV + 1];
	int n = pam_wire_get_text(r, text, sizeof(text));
	bool ok = n >= 1 && wire_reader_done(r);
	if (ok)
		out->status = worker_putenv(w, text);
	explicit_bzero(text, sizeof(text));
	return ok;
}

static bool req_getenv(struct worker *w, struct wire_reader *r, struct reply *out)
{
	char name[PAM_WIRE_MAX_TEXT + 1];
	int n = pam_wire_get_text(r, name, sizeof(name));
	if (n < 1 || !wire_reader_done(r))
		return false;
	out->value = pam_getenv(w->pamh, name);
	out->has_value = true;
	out->status = PAM_SUCCESS;
	if (out->value && strlen(out->value) > PAM_WIRE_MAX_ENV)
		out->status = PAM_BUF_ERR;
	return true;
}

static bool req_fail_delay(struct worker *w, struct wire_reader *r, struct reply *out)
{
	int usec = wire_get_int(r);
	if (!wire_reader_done(r))
		return false;
	out->status = pam_fail_delay(w->pamh, (unsigned int)usec);
	return true;
}

static bool req_end(struct worker *w, struct wire_reader *r, struct reply *out, bool *last)
{
	int end_status = wire_get_int(r);
	if (!wire_reader_done(r))
		return false;
	out->status = pam_end(w->pamh, end_status);
	w->pamh = NULL;
	*last = true;
	return true;
}

/* The header of a request: well-formed, for this transaction, and BEGIN
 * first and once. Returns false after a protocol violation. */
static bool request_fits(struct worker *w, size_t size, struct wire_header *h,
			 struct wire_reader *r)
{
	if (wire_open_message(w->in, size, h, r) < 0) {
		worker_violation(w, "malformed PAM request");
		return false;
	}
	if (h->id != w->id) {
		worker_violation(w, "PAM request for a transaction this worker does not serve "
				    "(forged or stale handle)");
		return false;
	}
	if ((h->op == PAM_WIRE_BEGIN) != (w->pamh == NULL)) {
		worker_violation(w, w->pamh ? "PAM transaction begun twice"
					    : "PAM request before the transaction began");
		return false;
	}
	return true;
}

/* Decode and run one request; fill w->out with the reply. Returns the
 * reply's size, or 0 after a protocol violation. */
static size_t worker_request(struct worker *w, size_t size, bool *last)
{
	struct wire_header h;
	struct wire_reader r;
	struct reply out = {.status = PAM_SYSTEM_ERR};
	bool ok;

	if (!request_fits(w, size, &h, &r))
		return 0;
	switch (h.op) {
	case PAM_WIRE_BEGIN:
		ok = req_begin(w, &r, &out, last);
		break;
	case PAM_WIRE_CALL:
		ok = req_call(w, &r, &out);
		if (ok && w->broken)
			return 0;
		break;
	case PAM_WIRE_SET_ITEM:
		ok = req_set_item(w, &r, &out);
		break;
	case PAM_WIRE_GET_ITEM:
		ok = req_get_item(w, &r, &out);
		break;
	case PAM_WIRE_PUTENV:
		ok = req_putenv(w, &r, &out);
		break;
	case PAM_WIRE_GETENV:
		ok = req_getenv(w, &r, &out);
		break;
	case PAM_WIRE_FAIL_DELAY:
		ok = req_fail_delay(w, &r, &out);
		break;
	case PAM_WIRE_END:
		ok = req_end(w, &r, &out, last);
		break;
	default:
		worker_violation(w, "unknown PAM request");
		return 0;
	}
	if (!ok) {
		worker_violation(w, "malformed PAM request");
		return 0;
	}
	struct wire_writer wr;
	wire_writer_init(&wr, w->out, sizeof(w->out), h.op, w->id);
	wire_put_int(&wr, out.status);
	if (out.has_value)
		pam_wire_put_text(&wr, out.status == PAM_SUCCESS ? out.value : NULL);
	size_t reply = wire_writer_finish(&wr);
	used(&w->out_used, reply ? (ssize_t)reply : -1, sizeof(w->out));
	return reply;
}

/* A worker made ready ahead of need waits here for the pid of the process
 * it is to serve; the monitor alone holds the other end of `report`. */
static pid_t worker_wait_program(int report)
{
	int32_t pid = 0;
	ssize_t n;
	do
		n = recv(report, &pid, sizeof(pid), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(pid) || pid <= 0)
		_exit(0); /* the monitor dropped it, or is gone */
	return pid;
}

/* The process dies with the monitor, its parent; it never outlives it as
 * root. */
static void die_with(pid_t monitor)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != monitor)
		_exit(1);
}

void pam_worker_detach(struct monitor *m, const int *keep, size_t count)
{
	struct worker *w = &the_worker;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The monitor runs with umask 0 (it applies the program's own per
	 * request); files that modules write (shadow, lastlog, home
	 * directories) get the usual one. */
	umask(022);

	if (m->audit.log_sock >= 0)
		close(m->audit.log_sock);
	m->audit.log_sock = -1;
	m->audit.log_retry_ms = 0;
	m->audit.pid = getpid();
	int all[8];
	size_t n = 0;
	for (size_t i = 0; i < count && n < 6; i++)
		all[n++] = keep[i];
	all[n++] = m->audit.fd;
	all[n++] = m->audit.learn_fd;
	/* Not the program's other channels (their end of file would never
	 * come), the epoll set, or the signalfd of the monitor. */
	proc_close_monitor_fds(false, all, n);

	memset(w, 0, sizeof(*w));
	w->chan = w->report = -1;
	w->audit = &m->audit;
	w->policy = m->policy;
	/* The monitor's audit ident is priv_init's appname. */
	w->app = m->audit.ident;
	w->prepared.watch = -1;
}

/* Prepare the stack of `service` while no transaction is given: only one
 * the policy this worker decides with grants (the monitor chose it so; this
 * is checked again here, silently: no program asked for anything yet). What
 * is prepared already and fresh for it stays. */
void pam_worker_prepare(const char *service)
{
	struct worker *w = &the_worker;
	struct policy_request pr;
	struct policy_decision d;
	char canon[POLICY_SERVICE_MAX + 1];
	if (!service || !service[0] || pam_prepared_fresh(&w->prepared, service))
		return;
	pam_prepared_reset(&w->prepared);
	memset(&pr, 0, sizeof(pr));
	pr.op = POLICY_OP_AUTH;
	pr.service = service;
	pr.app = w->app;
	policy_decide(w->policy, &pr, &d);
	if (!d.allow || d.learned || policy_service_canon(service, canon, sizeof(canon)) < 0 ||
	    strcmp(canon, service) != 0)
		return;
	const struct pam_conv conv = {worker_conv, w};
	pam_prepared_open(&w->prepared, canon, &conv);
}

int pam_worker_watch(void)
{
	return the_worker.prepared.pamh ? the_worker.prepared.watch : -1;
}

void pam_worker_serve(int chan, int report, uint32_t id, pid_t monitor)
{
	struct worker *w = &the_worker;
	die_with(monitor);
	w->audit->pid = getpid();
	/* Named privman-pam once it serves a transaction. */
	prctl(PR_SET_NAME, "privman-pamrdy");
	w->chan = chan;
	w->report = report;
	w->id = id;
	w->program = worker_wait_program(report);
	prctl(PR_SET_NAME, "privman-pam");

	for (;;) {
		int fds[WIRE_MAX_FDS], nfds = 0;
		ssize_t n = wire_recv(w->chan, w->in, sizeof(w->in), fds, &nfds, 0);
		used(&w->in_used, n, sizeof(w->in));
		if (n == 0 || (n < 0 && errno != EPROTO)) {
			if (w->pamh)
				audit_event(w->audit, LOG_INFO,
					    "pam: pid %d closed transaction %u without pam_end",
					    (int)w->program, (unsigned)w->id);
			worker_exit(w, PAM_ABORT);
		}
		if (n < 0 || nfds) {
			wire_close_fds(fds, nfds);
			worker_violation(w, "truncated PAM request or unexpected fds");
			worker_exit(w, PAM_ABORT);
		}
		bool last = false;
		size_t size = worker_request(w, (size_t)n, &last);
		explicit_bzero(w->in, (size_t)n);
		if (!size)
			worker_exit(w, PAM_ABORT);
		if (wire_send(w->chan, w->out, size, NULL, 0, 0) < 0)
			worker_exit(w, PAM_ABORT);
		audit_flush(w->audit);
		if (last)
			worker_exit(w, PAM_SUCCESS);
	}
}

void pam_worker_main(struct monitor *m, int chan, int report, uint32_t id, pid_t monitor,
		     const char *service)
{
	die_with(monitor);
	int keep[] = {chan, report};
	pam_worker_detach(m, keep, 2);
	pam_worker_prepare(service);
	pam_worker_serve(chan, report, id, monitor);
}
