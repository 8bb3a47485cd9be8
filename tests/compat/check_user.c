/* check_user: authenticate a user through PAM in the monitor, then become
 * that user.
 *
 *   check_user SERVICE USER PASSWORD
 *
 * The conversation (run here, in the unprivileged program) answers the
 * password prompt with PASSWORD. After pam_authenticate and pam_acct_mgmt,
 * the program reruns itself as USER (the policy's auth_allow_rerun adds a
 * user who authenticated to run_as); the new run says who it is. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <privman.h>
#include <security/pam_appl.h>

static const char *password;
static int rerun;

static int answer(int n, const struct pam_message **msg, struct pam_response **resp,
		  void *data)
{
	struct pam_response *r = calloc(n, sizeof(*r));
	int i;

	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(password);
			break;
		case PAM_PROMPT_ECHO_ON:
			r[i].resp = strdup((const char *)data);
			break;
		default:
			break;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static void mark(char *const *arg)
{
	rerun = 1;
}

int main(int argc, char *argv[])
{
	struct pam_conv conv = { answer, NULL };
	pam_handle_t *pamh = NULL;
	struct passwd *pw;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: check_user SERVICE USER PASSWORD\n");
		return 2;
	}
	password = argv[3];
	conv.appdata_ptr = argv[2];

	priv_init("check_user");

	pw = getpwuid(getuid());
	if (rerun) {
		printf("now running as %s\n", pw ? pw->pw_name : "?");
		return 0;
	}
	printf("check_user runs as %s\n", pw ? pw->pw_name : "?");

	rc = priv_pam_start(argv[1], argv[2], &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		printf("pam_start: %s\n", pam_strerror(pamh, rc));
		return 1;
	}
	rc = priv_pam_authenticate(pamh, 0);
	printf("authenticate: %s\n", pam_strerror(pamh, rc));
	if (rc == PAM_SUCCESS) {
		rc = priv_pam_acct_mgmt(pamh, 0);
		printf("acct_mgmt: %s\n", pam_strerror(pamh, rc));
	}
	priv_pam_end(pamh, rc);

	fflush(stdout);
	if (priv_rerunas(mark, NULL, argv[2], NULL, 0) < 0) {
		printf("priv_rerunas %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	return 0;
}
