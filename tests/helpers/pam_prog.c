/* A program split by priv_init that runs PAM through the monitor as its
 * command line says, printing one line per result, for tests/test_pam.c:
 *
 *   pam_prog APPNAME COMMAND...
 *
 *   start SERVICE USER|-    priv_pam_start                "start CODE [ERRNO]"
 *   answer TEXT             queue an answer for the next prompt (echo on or off)
 *   auth | acct | setcred | open | close | chauthtok
 *                           the call, flags 0              "auth CODE MS"
 *   chauthtok-expired       priv_pam_chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK)
 *                                                          "chauthtok-expired CODE MS"
 *   delay USEC              priv_pam_fail_delay            "delay CODE"
 *   set ITEM VALUE|-        priv_pam_set_item              "set CODE [ERRNO]"
 *   get ITEM                priv_pam_get_item              "get CODE VALUE|(null)"
 *                           ITEM: service user tty rhost ruser prompt xdisplay
 *                           authtok oldauthtok faildelay xauthdata conv
 *   putenv NAME[=VALUE]     priv_pam_putenv                "putenv CODE"
 *   getenv NAME             priv_pam_getenv                "getenv VALUE|(null)"
 *   end                     priv_pam_end                   "end CODE"
 *   stale | forged | null   priv_pam_authenticate with the handle just ended,
 *                           a made-up pointer, NULL        "stale CODE ERRNO"
 *   foreign                 a fork(2) child calls priv_pam_authenticate with
 *                           its parent's handle            "foreign CODE ERRNO"
 *   liar                    send the worker a request with another transaction
 *                           id on the handle's own channel  "liar sent"
 *   startmany N SERVICE     N transactions at once; prints each "start CODE ERRNO"
 *   closeconv               the next conversation closes the transaction channel
 *   hangconv                the next conversation prints "HANG <pid> <monitor>"
 *                           and waits for a line on stdin
 *   workers                 "workers N": PAM workers of this program's monitor
 *   waitworkers             wait up to 3 s for none;   "workers N"
 *   ready                   "ready N": workers made ready ahead of need (waits
 *                           up to 1 s for one)
 *   concurrent SERVICE USER PASSWORD PATH
 *                           a thread authenticates, its conversation waits while
 *                           this thread opens PATH with priv_open; prints
 *                           "opened FIRSTLINE" then "auth CODE" (or "conv-timeout")
 *   reentrant               the next conversation calls priv_pam_authenticate on
 *                           its own handle                 "reentrant CODE ERRNO"
 *   rerun USER              priv_rerunas(USER, monitored) and priv_wait4; the new
 *                           process prints "rerun-as UID" and exits 42
 *                                                          "rerun 0 STATUS" or
 *                                                          "rerun -1 ERRNO"
 *   Every conversation prints "conv N" and then "msg STYLE TEXT" per message. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "program/pam_client.h"
#include "wire/pam_wire.h"
#include "privman.h"

static const char *answers[64];
static size_t answer_count, answer_next;
static bool hang_next_conv, reenter_next_conv;
static int close_in_conv = -1; /* the channel to close in the next conversation */
static pam_handle_t *pamh, *ended;

static const char *code_name(int code)
{
	static const char *const names[] = {
		[PAM_SUCCESS] = "PAM_SUCCESS",
		[PAM_OPEN_ERR] = "PAM_OPEN_ERR",
		[PAM_SYMBOL_ERR] = "PAM_SYMBOL_ERR",
		[PAM_SERVICE_ERR] = "PAM_SERVICE_ERR",
		[PAM_SYSTEM_ERR] = "PAM_SYSTEM_ERR",
		[PAM_BUF_ERR] = "PAM_BUF_ERR",
		[PAM_PERM_DENIED] = "PAM_PERM_DENIED",
		[PAM_AUTH_ERR] = "PAM_AUTH_ERR",
		[PAM_CRED_INSUFFICIENT] = "PAM_CRED_INSUFFICIENT",
		[PAM_AUTHINFO_UNAVAIL] = "PAM_AUTHINFO_UNAVAIL",
		[PAM_USER_UNKNOWN] = "PAM_USER_UNKNOWN",
		[PAM_MAXTRIES] = "PAM_MAXTRIES",
		[PAM_NEW_AUTHTOK_REQD] = "PAM_NEW_AUTHTOK_REQD",
		[PAM_ACCT_EXPIRED] = "PAM_ACCT_EXPIRED",
		[PAM_SESSION_ERR] = "PAM_SESSION_ERR",
		[PAM_CRED_UNAVAIL] = "PAM_CRED_UNAVAIL",
		[PAM_CRED_EXPIRED] = "PAM_CRED_EXPIRED",
		[PAM_CRED_ERR] = "PAM_CRED_ERR",
		[PAM_NO_MODULE_DATA] = "PAM_NO_MODULE_DATA",
		[PAM_CONV_ERR] = "PAM_CONV_ERR",
		[PAM_AUTHTOK_ERR] = "PAM_AUTHTOK_ERR",
		[PAM_AUTHTOK_RECOVERY_ERR] = "PAM_AUTHTOK_RECOVERY_ERR",
		[PAM_AUTHTOK_LOCK_BUSY] = "PAM_AUTHTOK_LOCK_BUSY",
		[PAM_AUTHTOK_DISABLE_AGING] = "PAM_AUTHTOK_DISABLE_AGING",
		[PAM_TRY_AGAIN] = "PAM_TRY_AGAIN",
		[PAM_IGNORE] = "PAM_IGNORE",
		[PAM_ABORT] = "PAM_ABORT",
		[PAM_AUTHTOK_EXPIRED] = "PAM_AUTHTOK_EXPIRED",
		[PAM_MODULE_UNKNOWN] = "PAM_MODULE_UNKNOWN",
		[PAM_BAD_ITEM] = "PAM_BAD_ITEM",
	};
	if (code >= 0 && code < (int)(sizeof(names) / sizeof(names[0])) && names[code])
		return names[code];
	return "PAM_?";
}

static volatile int rerun_started;

/* Runs in the new process, after it has become the target user. */
static void rerun_as_user(char *const *arg)
{
	(void)arg;
	printf("rerun-as %u %u\n", (unsigned)getuid(), (unsigned)geteuid());
	fflush(stdout);
	_exit(42);
}

static const char *errno_name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "0";
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* PAM workers are the monitor's children named privman-pam (serving a
 * transaction) or privman-pamrdy (made ready for the next one). */
static int count_named(pid_t monitor, const char *comm)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		char *close_paren = strrchr(buf, ')');
		int ppid = 0;
		if (close_paren && strstr(buf, comm) &&
		    sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == monitor)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int count_workers(pid_t monitor)
{
	return count_named(monitor, "(privman-pam)");
}

static const char *style_name(int style)
{
	switch (style) {
	case PAM_PROMPT_ECHO_OFF:
		return "echo_off";
	case PAM_PROMPT_ECHO_ON:
		return "echo_on";
	case PAM_ERROR_MSG:
		return "error";
	case PAM_TEXT_INFO:
		return "info";
	default:
		return "?";
	}
}

/* For "concurrent": the conversation waits until the main thread opened. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_state; /* 0 idle, 1 conversation waiting, 2 released */
static bool gated_conv;

static int conversation(int count, const struct pam_message **msg, struct pam_response **resp,
			void *data)
{
	printf("conv %d\n", count);
	for (int i = 0; i < count; i++)
		printf("msg %s %s\n", style_name(msg[i]->msg_style),
		       msg[i]->msg ? msg[i]->msg : "(null)");
	fflush(stdout);
	if (close_in_conv >= 0) {
		close(close_in_conv);
		close_in_conv = -1;
		return PAM_CONV_ERR;
	}
	if (hang_next_conv) {
		hang_next_conv = false;
		printf("HANG %d %d\n", (int)getpid(), (int)getppid());
		fflush(stdout);
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			return PAM_CONV_ERR;
	}
	if (reenter_next_conv) {
		reenter_next_conv = false;
		int rc = priv_pam_authenticate(pamh, 0);
		printf("reentrant %s %s\n", code_name(rc), errno_name(errno));
		fflush(stdout);
	}
	if (gated_conv) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 5;
		pthread_mutex_lock(&gate_lock);
		gate_state = 1;
		pthread_cond_broadcast(&gate_cond);
		while (gate_state != 2)
			if (pthread_cond_timedwait(&gate_cond, &gate_lock, &until) == ETIMEDOUT)
				break;
		bool released = gate_state == 2;
		pthread_mutex_unlock(&gate_lock);
		if (!released) {
			printf("conv-timeout\n");
			fflush(stdout);
			return PAM_CONV_ERR;
		}
	}
	struct pam_response *r = calloc((size_t)count, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < count; i++) {
		int style = msg[i]->msg_style;
		if (style != PAM_PROMPT_ECHO_OFF && style != PAM_PROMPT_ECHO_ON)
			continue;
		if (answer_next >= answer_count) {
			for (int j = 0; j < i; j++)
				free(r[j].resp);
			free(r);
			return PAM_CONV_ERR;
		}
		r[i].resp = strdup(answers[answer_next++]);
	}
	*resp = r;
	return PAM_SUCCESS;
}

static const struct pam_conv conv = {conversation, NULL};

static int item_type(const char *name)
{
	static const struct {
		const char *name;
		int type;
	} items[] = {
		{"service", PAM_SERVICE}, {"user", PAM_USER},
		{"tty", PAM_TTY},         {"rhost", PAM_RHOST},
		{"ruser", PAM_RUSER},     {"prompt", PAM_USER_PROMPT},
		{"xdisplay", PAM_XDISPLAY}, {"authtok", PAM_AUTHTOK},
		{"oldauthtok", PAM_OLDAUTHTOK}, {"faildelay", PAM_FAIL_DELAY},
		{"xauthdata", PAM_XAUTHDATA}, {"conv", PAM_CONV},
	};
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (strcmp(items[i].name, name) == 0)
			return items[i].type;
	fprintf(stderr, "unknown item %s\n", name);
	exit(2);
}

struct concurrent_job {
	const char *service, *user;
	int rc;
};

static void *concurrent_auth(void *arg)
{
	struct concurrent_job *job = arg;
	pam_handle_t *h = NULL;
	job->rc = priv_pam_start(job->service, job->user, &conv, &h);
	if (job->rc == PAM_SUCCESS) {
		pamh = h;
		job->rc = priv_pam_authenticate(h, 0);
		priv_pam_end(h, job->rc);
	}
	pthread_mutex_lock(&gate_lock);
	gate_state = 2; /* wake the main thread if the conversation never came */
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	return NULL;
}

static void concurrent(const char *service, const char *user, const char *password,
		       const char *path)
{
	struct concurrent_job job = {service, user, -1};
	pthread_t t;
	answers[answer_count++] = password;
	gated_conv = true;
	pthread_create(&t, NULL, concurrent_auth, &job);
	pthread_mutex_lock(&gate_lock);
	while (gate_state == 0)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	int fd = priv_open(path, O_RDONLY);
	if (fd < 0) {
		printf("opened ERR %s\n", errno_name(errno));
	} else {
		char buf[128] = "";
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		printf("opened %s\n", buf);
		close(fd);
	}
	fflush(stdout);
	pthread_mutex_lock(&gate_lock);
	gate_state = 2;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	pthread_join(t, NULL);
	gated_conv = false;
	printf("auth %s\n", code_name(job.rc));
}

static void run_call(const char *cmd)
{
	double t0 = now_ms();
	int rc;
	if (strcmp(cmd, "auth") == 0)
		rc = priv_pam_authenticate(pamh, 0);
	else if (strcmp(cmd, "acct") == 0)
		rc = priv_pam_acct_mgmt(pamh, 0);
	else if (strcmp(cmd, "setcred") == 0)
		rc = priv_pam_setcred(pamh, PAM_ESTABLISH_CRED);
	else if (strcmp(cmd, "open") == 0)
		rc = priv_pam_open_session(pamh, 0);
	else if (strcmp(cmd, "close") == 0)
		rc = priv_pam_close_session(pamh, 0);
	else if (strcmp(cmd, "chauthtok-expired") == 0)
		rc = priv_pam_chauthtok(pamh, PAM_CHANGE_EXPIRED_AUTHTOK);
	else
		rc = priv_pam_chauthtok(pamh, 0);
	int e = errno;
	printf("%s %s %.0f%s%s\n", cmd, code_name(rc), now_ms() - t0, rc ? " " : "",
	       rc ? errno_name(e) : "");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pam_prog APPNAME COMMAND...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	if (rerun_started)
		return 0; /* never reached: rerun_as_user ends the new process */
	pid_t monitor = getppid();

	for (int i = 2; i < argc; i++) {
		const char *cmd = argv[i];
		const char *a1 = i + 1 < argc ? argv[i + 1] : NULL;
		const char *a2 = i + 2 < argc ? argv[i + 2] : NULL;
		if (strcmp(cmd, "start") == 0 && a2) {
			errno = 0;
			int rc = priv_pam_start(a1, strcmp(a2, "-") ? a2 : NULL, &conv, &pamh);
			printf("start %s%s%s\n", code_name(rc), rc ? " " : "",
			       rc ? errno_name(errno) : "");
			i += 2;
		} else if (strcmp(cmd, "answer") == 0 && a1) {
			if (answer_count < 64)
				answers[answer_count++] = a1;
			i++;
		} else if (strcmp(cmd, "auth") == 0 || strcmp(cmd, "acct") == 0 ||
			   strcmp(cmd, "setcred") == 0 || strcmp(cmd, "open") == 0 ||
			   strcmp(cmd, "close") == 0 || strcmp(cmd, "chauthtok") == 0 ||
			   strcmp(cmd, "chauthtok-expired") == 0) {
			run_call(cmd);
		} else if (strcmp(cmd, "delay") == 0 && a1) {
			printf("delay %s\n",
			       code_name(priv_pam_fail_delay(pamh, (unsigned)strtoul(a1, NULL, 10))));
			i++;
		} else if (strcmp(cmd, "set") == 0 && a2) {
			const void *value = strcmp(a2, "-") ? a2 : NULL;
			struct pam_conv other = {conversation, NULL};
			if (item_type(a1) == PAM_CONV)
				value = &other;
			int rc = priv_pam_set_item(pamh, item_type(a1), value);
			printf("set %s%s%s\n", code_name(rc), rc ? " " : "",
			       rc ? errno_name(errno) : "");
			i += 2;
		} else if (strcmp(cmd, "get") == 0 && a1) {
			const void *value = NULL;
			int type = item_type(a1);
			int rc = priv_pam_get_item(pamh, type, &value);
			if (type == PAM_CONV)
				printf("get %s %s\n", code_name(rc),
				       value && ((const struct pam_conv *)value)->conv == conversation
					       ? "ours"
					       : "(other)");
			else
				printf("get %s %s\n", code_name(rc),
				       value ? (const char *)value : "(null)");
			i++;
		} else if (strcmp(cmd, "putenv") == 0 && a1) {
			printf("putenv %s\n", code_name(priv_pam_putenv(pamh, a1)));
			i++;
		} else if (strcmp(cmd, "getenv") == 0 && a1) {
			const char *v = priv_pam_getenv(pamh, a1);
			printf("getenv %s\n", v ? v : "(null)");
			i++;
		} else if (strcmp(cmd, "end") == 0) {
			int rc = priv_pam_end(pamh, PAM_SUCCESS);
			printf("end %s\n", code_name(rc));
			ended = pamh;
			pamh = NULL;
		} else if (strcmp(cmd, "stale") == 0 || strcmp(cmd, "forged") == 0 ||
			   strcmp(cmd, "null") == 0) {
			static char not_a_handle[256];
			pam_handle_t *h = cmd[0] == 's'   ? ended
					  : cmd[0] == 'f' ? (pam_handle_t *)(void *)not_a_handle
							  : NULL;
			errno = 0;
			int rc = priv_pam_authenticate(h, 0);
			printf("%s %s %s\n", cmd, code_name(rc), errno_name(errno));
		} else if (strcmp(cmd, "foreign") == 0) {
			fflush(stdout);
			pid_t child = fork();
			if (child == 0) {
				errno = 0;
				int rc = priv_pam_authenticate(pamh, 0);
				printf("foreign %s %s\n", code_name(rc), errno_name(errno));
				fflush(stdout);
				_exit(0);
			}
			waitpid(child, NULL, 0);
		} else if (strcmp(cmd, "liar") == 0) {
			unsigned char msg[128];
			struct wire_writer w;
			uint32_t id = (uint32_t)pam_client_transaction_id(pamh) + 1;
			wire_writer_init(&w, msg, sizeof(msg), PAM_WIRE_CALL, id);
			wire_put_int(&w, PAM_WIRE_AUTHENTICATE);
			wire_put_int(&w, 0);
			size_t size = wire_writer_finish(&w);
			int rc = wire_send(pam_client_channel_fd(pamh), msg, size, NULL, 0, 0);
			printf("liar %s\n", rc == 0 ? "sent" : "failed");
		} else if (strcmp(cmd, "startmany") == 0 && a2) {
			int n = atoi(a1);
			for (int k = 0; k < n; k++) {
				pam_handle_t *h = NULL;
				errno = 0;
				int rc = priv_pam_start(a2, NULL, &conv, &h);
				printf("start %s %s\n", code_name(rc), errno_name(errno));
			}
			i += 2;
		} else if (strcmp(cmd, "closeconv") == 0) {
			close_in_conv = pam_client_channel_fd(pamh);
		} else if (strcmp(cmd, "hangconv") == 0) {
			hang_next_conv = true;
		} else if (strcmp(cmd, "reentrant") == 0) {
			reenter_next_conv = true;
		} else if (strcmp(cmd, "workers") == 0) {
			printf("workers %d\n", count_workers(monitor));
		} else if (strcmp(cmd, "ready") == 0) {
			int n = count_named(monitor, "(privman-pamrdy)");
			for (int k = 0; k < 100 && n == 0; k++) {
				usleep(10000);
				n = count_named(monitor, "(privman-pamrdy)");
			}
			printf("ready %d\n", n);
		} else if (strcmp(cmd, "waitworkers") == 0) {
			int n = count_workers(monitor);
			for (int k = 0; k < 300 && n > 0; k++) {
				usleep(10000);
				n = count_workers(monitor);
			}
			printf("workers %d\n", n);
		} else if (strcmp(cmd, "rerun") == 0 && a1) {
			char *const args[] = { NULL };
			rerun_started = 1;
			pid_t pid = priv_rerunas(rerun_as_user, args, a1, NULL,
						 PRIV_RR_OLD_SLAVE_MONITORED);
			int status = 0;
			if (pid < 0)
				printf("rerun -1 %s\n", errno_name(errno));
			else if (priv_wait4(pid, &status, 0, NULL) != pid)
				printf("rerun wait4 %s\n", errno_name(errno));
			else
				printf("rerun 0 %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			i++;
		} else if (strcmp(cmd, "concurrent") == 0 && i + 4 < argc) {
			concurrent(argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4]);
			i += 4;
		} else {
			fprintf(stderr, "pam_prog: bad command %s\n", cmd);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}
