/* libFuzzer harness for the root PAM worker's request decoder,
 * worker_request() in pam_worker.c, and what it calls: the real libpam,
 * the conversation (worker_conv) and the report of an authenticated user
 * (worker_report), in this process.
 *
 * pam_worker.c is included to reach its static worker. Two libpam calls
 * are redirected for the fuzzer's safety, with macros around the include:
 *   - pam_start reads the services from a folder of the harness
 *     (pam_start_confdir): "fuzz" (pam_matrix from libpam-wrapper, with a
 *     password file of the harness), "permit", "deny" and "other" (deny).
 *     No service of this system is ever loaded.
 *   - pam_set_item(PAM_SERVICE) aborts: libpam would load the service file
 *     the input names (an absolute path is read as is), as root; the worker
 *     must refuse it before libpam sees it.
 *   - pam_authenticate, pam_acct_mgmt, pam_set_item(PAM_USER) are watched,
 *     and pam_setcred, pam_open_session, pam_close_session and
 *     pam_chauthtok abort unless PAM_USER passed pam_authenticate and then
 *     pam_acct_mgmt in this transaction (pam_chauthtok with
 *     PAM_CHANGE_EXPIRED_AUTHTOK also after an acct_mgmt that said
 *     PAM_NEW_AUTHTOK_REQD), in the harness's own book of those calls.
 *
 * Each input picks one of a few policies (auth lists, auth true, auth
 * false) and the application's name, so that the service check at BEGIN
 * grants and refuses.
 * A fail delay never sleeps (PAM_FAIL_DELAY is set to a function that does
 * nothing).
 *
 * A thread plays the program's side of the conversation: it answers each
 * conversation with the next answer the input queued (any bytes), or with
 * the password when none is left, and reads the worker's reports as the
 * monitor does.
 *
 * Input: records, each a byte that picks a request (structured or raw) or
 * an answer to queue, then its fields; see one_record(). Properties: no
 * crash or leak (ASan, UBSan), every reply is one well-formed message with
 * the transaction's id and the operation of its request, and nothing blocks
 * (libFuzzer's -timeout). */
#include <security/pam_appl.h>

static int fuzz_pam_start(const char *service, const char *user, const struct pam_conv *conv,
			  pam_handle_t **pamh);
static int fuzz_pam_set_item(pam_handle_t *pamh, int type, const void *item);
static int fuzz_pam_authenticate(pam_handle_t *pamh, int flags);
static int fuzz_pam_acct_mgmt(pam_handle_t *pamh, int flags);
static int fuzz_pam_setcred(pam_handle_t *pamh, int flags);
static int fuzz_pam_open_session(pam_handle_t *pamh, int flags);
static int fuzz_pam_close_session(pam_handle_t *pamh, int flags);
static int fuzz_pam_chauthtok(pam_handle_t *pamh, int flags);
#define pam_start fuzz_pam_start
#define pam_set_item fuzz_pam_set_item
#define pam_authenticate fuzz_pam_authenticate
#define pam_acct_mgmt fuzz_pam_acct_mgmt
#define pam_setcred fuzz_pam_setcred
#define pam_open_session fuzz_pam_open_session
#define pam_close_session fuzz_pam_close_session
#define pam_chauthtok fuzz_pam_chauthtok
#include "../src/monitor/pam_worker.c"
#undef pam_start
#undef pam_set_item
#undef pam_authenticate
#undef pam_acct_mgmt
#undef pam_setcred
#undef pam_open_session
#undef pam_close_session
#undef pam_chauthtok

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/un.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MATRIX "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so"
#define PASSWORD "Matrix-Fern-8"
#define ID 7

static char confdir[64];

static void no_delay(int status, unsigned int usec, void *data)
{
}

static int fuzz_pam_start(const char *service, const char *user, const struct pam_conv *conv,
			  pam_handle_t **pamh)
{
	int rc = pam_start_confdir(service, user, conv, confdir, pamh);
	if (rc == PAM_SUCCESS)
		pam_set_item(*pamh, PAM_FAIL_DELAY, (const void *)no_delay);
	return rc;
}

/* The harness's own book of the calls that prove who the user is. */
static struct {
	char authenticated[PAM_WIRE_MAX_TEXT + 1]; /* PAM_USER at the last pam_authenticate that
						      succeeded; "" when none counts */
	bool passed;  /* pam_acct_mgmt then succeeded for that user */
	bool expired; /* pam_acct_mgmt then said PAM_NEW_AUTHTOK_REQD */
} book;

static void book_forget(void)
{
	book.authenticated[0] = '\0';
	book.passed = book.expired = false;
}

static const char *current_user(pam_handle_t *pamh)
{
	const void *user = NULL;
	if (pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS)
		return NULL;
	return user;
}

static bool book_is_current(pam_handle_t *pamh)
{
	const char *user = current_user(pamh);
	return book.authenticated[0] && user && strcmp(user, book.authenticated) == 0;
}

static int fuzz_pam_set_item(pam_handle_t *pamh, int type, const void *item)
{
	if (type == PAM_SERVICE) {
		fprintf(stderr, "fuzz_pam_worker: the worker passed the program's PAM_SERVICE to "
				"pam_set_item: libpam would load that file as root\n");
		abort();
	}
	int rc = pam_set_item(pamh, type, item);
	if (type == PAM_USER && rc == PAM_SUCCESS)
		book_forget();
	return rc;
}

static int fuzz_pam_authenticate(pam_handle_t *pamh, int flags)
{
	book_forget();
	int rc = pam_authenticate(pamh, flags);
	const char *user = current_user(pamh);
	if (rc == PAM_SUCCESS && user)
		snprintf(book.authenticated, sizeof(book.authenticated), "%s", user);
	return rc;
}

static int fuzz_pam_acct_mgmt(pam_handle_t *pamh, int flags)
{
	book.passed = book.expired = false;
	int rc = pam_acct_mgmt(pamh, flags);
	if (book_is_current(pamh)) {
		book.passed = rc == PAM_SUCCESS;
		book.expired = rc == PAM_NEW_AUTHTOK_REQD;
	}
	return rc;
}

static bool trace; /* PMFUZZ_TRACE: the calls that act for the user, on stderr */

/* A call that acts for the user as root: only after the proof. */
static void book_check(pam_handle_t *pamh, const char *call, bool expired_ok)
{
	if (trace)
		fprintf(stderr, "fuzz_pam_worker: %s for %s\n", call, book.authenticated);
	if (book_is_current(pamh) && (book.passed || (expired_ok && book.expired)))
		return;
	const char *user = current_user(pamh);
	fprintf(stderr, "fuzz_pam_worker: the worker called %s for user %s, who has not passed "
			"pam_authenticate and pam_acct_mgmt in this transaction\n",
		call, user ? user : "(none)");
	abort();
}

static int fuzz_pam_setcred(pam_handle_t *pamh, int flags)
{
	book_check(pamh, "pam_setcred", false);
	return pam_setcred(pamh, flags);
}

static int fuzz_pam_open_session(pam_handle_t *pamh, int flags)
{
	book_check(pamh, "pam_open_session", false);
	return pam_open_session(pamh, flags);
}

static int fuzz_pam_close_session(pam_handle_t *pamh, int flags)
{
	book_check(pamh, "pam_close_session", false);
	return pam_close_session(pamh, flags);
}

static int fuzz_pam_chauthtok(pam_handle_t *pamh, int flags)
{
	book_check(pamh, "pam_chauthtok", (flags & PAM_CHANGE_EXPIRED_AUTHTOK) != 0);
	bool was_expired = book.expired && book_is_current(pamh);
	int rc = pam_chauthtok(pamh, flags);
	/* The expired password changed: the session may follow. */
	if (rc == PAM_SUCCESS && (flags & PAM_CHANGE_EXPIRED_AUTHTOK) && was_expired)
		book.passed = true;
	return rc;
}

/* --- the program's side ------------------------------------------------------------ */

static int chan[2], report[2]; /* [0] the worker's end, [1] the other */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define MAX_ANSWERS 8
static struct {
	unsigned char bytes[1024];
	size_t size;
} answers[MAX_ANSWERS];
static size_t answer_count, answer_next;

static void *program_side(void *arg)
{
	static unsigned char buf[WIRE_MAX_MESSAGE + 1];
	static struct pam_wire_conv cv;
	for (;;) {
		struct pollfd p[2] = {{.fd = chan[1], .events = POLLIN},
				      {.fd = report[1], .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents & POLLIN) /* a report, read as the monitor does */
			(void)recv(report[1], buf, sizeof(buf), 0);
		if (!(p[0].revents & POLLIN))
			continue;
		ssize_t n = recv(chan[1], buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		pthread_mutex_lock(&lock);
		if (answer_next < answer_count) {
			send(chan[1], answers[answer_next].bytes, answers[answer_next].size,
			     MSG_NOSIGNAL);
			answer_next++;
			pthread_mutex_unlock(&lock);
			continue;
		}
		pthread_mutex_unlock(&lock);
		int count = 1;
		if (pam_wire_decode_conv(buf, (size_t)n, ID, &cv) == 0)
			count = cv.count;
		else
			cv.count = 0;
		struct pam_response resp[PAM_MAX_NUM_MSG];
		for (int i = 0; i < count; i++) {
			bool prompt = i < cv.count && (cv.style[i] == PAM_PROMPT_ECHO_ON ||
						       cv.style[i] == PAM_PROMPT_ECHO_OFF);
			resp[i].resp = prompt ? (char *)PASSWORD : NULL;
			resp[i].resp_retcode = 0;
		}
		size_t size = pam_wire_encode_answer(buf, sizeof(buf), ID, PAM_SUCCESS, count, resp);
		send(chan[1], buf, size ? size : 1, MSG_NOSIGNAL);
	}
	return NULL;
}

/* --- set up ---------------------------------------------------------------------- */

static struct audit audit;
static int log_sink = -1;

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* The policies an input chooses from: the services they grant decide
 * BEGIN. "other" is never granted: it is the stack of a service without a
 * file. */
static const char *const policy_texts[] = {
	"auth { fuzz permit }\n",
	"auth true\n",
	"auth { deny }\nauth false\nauth { fuzz }\n",
	"auth ( permit deny )\nauth { fuzz }\n",
	"",
	"auth false\n",
};
#define N_POLICIES (sizeof(policy_texts) / sizeof(policy_texts[0]))
static struct policy *policies[N_POLICIES];
/* The application's name, which `auth true` grants as a service. */
static const char *const apps[] = {"fuzz", "Fuzz", "permit", "deny", "FUZZ", "other", ""};

static void load_policies(void)
{
	for (size_t i = 0; i < N_POLICIES; i++) {
		struct diag d;
		diag_init(&d);
		policies[i] = conf_load_buffer("fuzz_pam_worker.conf", policy_texts[i],
					       strlen(policy_texts[i]), &d);
		if (!policies[i]) {
			for (size_t j = 0; j < d.count; j++)
				fprintf(stderr, "%s\n", d.entries[j].text);
			abort();
		}
		diag_free(&d);
	}
}

static int remove_all(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void remove_confdir(void)
{
	nftw(confdir, remove_all, 8, FTW_DEPTH | FTW_PHYS);
}

/* pam_chauthtok through pam_matrix rewrites the password file: each
 * input starts from the same one. */
static void reset_passdb(void)
{
	write_file(confdir, "passdb",
		   "nobody:" PASSWORD ":fuzz\nroot:" PASSWORD ":fuzz\npmfuzz:" PASSWORD ":fuzz\n");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(confdir, sizeof(confdir), "/tmp/pmfuzz.pam.XXXXXX");
	if (!mkdtemp(confdir)) {
		perror("fuzz_pam_worker: mkdtemp");
		abort();
	}
	atexit(remove_confdir);
	char text[1024];
	reset_passdb();
	snprintf(text, sizeof(text),
		 "auth required " MATRIX " passdb=%s/passdb verbose\n"
		 "account required " MATRIX " passdb=%s/passdb\n"
		 "password required " MATRIX " passdb=%s/passdb\n"
		 "session required " MATRIX " passdb=%s/passdb\n",
		 confdir, confdir, confdir, confdir);
	write_file(confdir, "fuzz", text);
	write_file(confdir, "permit",
		   "auth required pam_permit.so\naccount required pam_permit.so\n"
		   "password required pam_permit.so\nsession required pam_permit.so\n");
	const char *deny = "auth required pam_deny.so\naccount required pam_deny.so\n"
			   "password required pam_deny.so\nsession required pam_deny.so\n";
	write_file(confdir, "deny", deny);
	write_file(confdir, "other", deny);

	load_policies();
	trace = getenv("PMFUZZ_TRACE") != NULL;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) < 0) {
		perror("fuzz_pam_worker: socketpair");
		abort();
	}
	pthread_t t;
	if (pthread_create(&t, NULL, program_side, NULL) != 0)
		abort();

	audit_init(&audit, "fuzz_pam_worker");
	snprintf(audit.log_path, sizeof(audit.log_path), "%s/log.sock", confdir);
	log_sink = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", audit.log_path);
	if (log_sink < 0 || bind(log_sink, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		abort();
	audit.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return 0;
}

static void drain_log(void)
{
	char line[AUDIT_LINE_MAX + 64];
	audit_flush(&audit);
	while (recv(log_sink, line, sizeof(line), MSG_DONTWAIT) > 0)
		;
}

/* --- the input ---------------------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static unsigned pick(struct input *in, unsigned n)
{
	return n ? u8(in) % n : 0;
}

static int32_t i32(struct input *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | u8(in);
	return (int32_t)v;
}

/* A text: NULL, a word, or up to 127 bytes of the input. */
static const char *get_text(struct input *in, const char *const *words, size_t n, char *buf,
			    size_t cap)
{
	unsigned b = u8(in);
	if (b == 0xff)
		return NULL;
	if (b < 0x80)
		return words[b % n];
	size_t len = b & 0x7f;
	if (len > in->left)
		len = in->left;
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, in->p, len);
	buf[len] = '\0';
	in->p += len;
	in->left -= len;
	return buf;
}

static const char *const services[] = {"fuzz", "permit", "deny", "nosuch", "../fuzz",
				       "/tmp/x", ".", "..", "fuzz/"};
static const char *const names[] = {"nobody", "root", "pmfuzz", "", "no such user",
				    "PATH=/bin", "HOME", "LD_PRELOAD=/tmp/x.so", "A=", "=x",
				    PASSWORD};

static unsigned char message[WIRE_MAX_MESSAGE + 64];

/* A request built field by field, sometimes with a field too many or an id
 * of another transaction. */
static size_t structured(struct input *in)
{
	static const uint32_t ops[] = {PAM_WIRE_BEGIN,     PAM_WIRE_CALL,   PAM_WIRE_SET_ITEM,
				       PAM_WIRE_GET_ITEM,  PAM_WIRE_PUTENV, PAM_WIRE_GETENV,
				       PAM_WIRE_FAIL_DELAY, PAM_WIRE_END,   PAM_WIRE_CONV};
	unsigned o = u8(in);
	uint32_t op = ops[o % 9];
	char buf[256], buf2[256];
	struct wire_writer w;
	wire_writer_init(&w, message, sizeof(message), op, o & 0x80 ? (uint32_t)i32(in) : ID);
	switch (op) {
	case PAM_WIRE_BEGIN:
		pam_wire_put_text(&w, get_text(in, services, 9, buf, sizeof(buf)));
		pam_wire_put_text(&w, get_text(in, names, 11, buf2, sizeof(buf2)));
		break;
	case PAM_WIRE_CALL:
		wire_put_int(&w, pick(in, 8) == 7 ? i32(in) : (int32_t)(1 + pick(in, 6)));
		wire_put_int(&w, pick(in, 4) == 3 ? i32(in) : 0);
		break;
	case PAM_WIRE_SET_ITEM:
		wire_put_int(&w, pick(in, 16) == 15 ? i32(in) : (int32_t)pick(in, 15));
		pam_wire_put_text(&w, get_text(in, names, 11, buf, sizeof(buf)));
		break;
	case PAM_WIRE_GET_ITEM:
		wire_put_int(&w, pick(in, 16) == 15 ? i32(in) : (int32_t)pick(in, 15));
		break;
	case PAM_WIRE_PUTENV:
	case PAM_WIRE_GETENV:
		pam_wire_put_text(&w, get_text(in, names, 11, buf, sizeof(buf)));
		break;
	case PAM_WIRE_FAIL_DELAY:
	case PAM_WIRE_END:
		wire_put_int(&w, i32(in));
		break;
	default:
		break;
	}
	if (pick(in, 16) == 0)
		wire_put_int(&w, 0); /* a field too many */
	return wire_writer_finish(&w);
}

static size_t raw(struct input *in, unsigned char *out, size_t cap)
{
	size_t n = u8(in) | u8(in) << 8;
	if (n > in->left)
		n = in->left;
	if (n > cap)
		n = cap;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return n;
}

static void queue_answer(struct input *in)
{
	pthread_mutex_lock(&lock);
	if (answer_count < MAX_ANSWERS) {
		size_t n;
		if (pick(in, 2)) {
			n = raw(in, answers[answer_count].bytes, sizeof(answers[0].bytes));
		} else {
			/* A well-formed answer, maybe to another count or id. */
			struct pam_response resp[4];
			char text[128];
			int count = 1 + (int)pick(in, 4);
			for (int i = 0; i < count; i++) {
				resp[i].resp = (char *)get_text(in, names, 11, text, sizeof(text));
				resp[i].resp_retcode = 0;
			}
			int status = pick(in, 4) ? PAM_SUCCESS : i32(in);
			n = pam_wire_encode_answer(answers[answer_count].bytes,
						   sizeof(answers[0].bytes), pick(in, 8) ? ID : ID + 1,
						   status, count, status == PAM_SUCCESS ? resp : NULL);
		}
		if (n)
			answers[answer_count++].size = n;
	}
	pthread_mutex_unlock(&lock);
}

/* The reply of worker_request: one message for this transaction, of the
 * request's operation, starting with a status. */
static void check_reply(struct worker *w, size_t size, uint32_t op)
{
	struct wire_header h;
	struct wire_reader r;
	if (wire_open_message(w->out, size, &h, &r) < 0 || h.id != ID || h.op != op) {
		fprintf(stderr, "fuzz_pam_worker: a malformed reply\n");
		abort();
	}
	wire_get_int(&r);
	if (r.broken) {
		fprintf(stderr, "fuzz_pam_worker: a reply without a status\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct worker *w = &the_worker;
	struct input in = {data, size};
	memset(w, 0, sizeof(*w));
	w->chan = chan[0];
	w->report = report[0];
	w->id = ID;
	w->program = getpid();
	w->audit = &audit;
	reset_passdb();
	unsigned choice = u8(&in);
	w->policy = policies[choice % N_POLICIES];
	w->app = apps[(choice / N_POLICIES) % (sizeof(apps) / sizeof(apps[0]))];
	book_forget();
	pthread_mutex_lock(&lock);
	answer_count = answer_next = 0;
	pthread_mutex_unlock(&lock);

	for (int i = 0; i < 24 && in.left; i++) {
		unsigned kind = u8(&in) % 8;
		if (kind == 7) {
			queue_answer(&in);
			continue;
		}
		size_t n = kind == 6 ? raw(&in, message, sizeof(w->in)) : structured(&in);
		if (!n)
			continue;
		memcpy(w->in, message, n);
		uint32_t op = 0;
		if (n >= sizeof(op))
			memcpy(&op, w->in, sizeof(op));
		bool last = false;
		size_t reply = worker_request(w, n, &last);
		explicit_bzero(w->in, n);
		drain_log();
		if (!reply)
			break; /* a violation: the worker ends */
		check_reply(w, reply, op);
		if (last)
			break;
	}
	/* As worker_exit does, without leaving. */
	if (w->pamh)
		pam_end(w->pamh, PAM_ABORT | PAM_DATA_SILENT);
	w->pamh = NULL;
	forget_proofs(w);
	drain_log();
	return 0;
}
