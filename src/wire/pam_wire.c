/* The wire of one PAM transaction: texts and the conversation. */
#include "wire/pam_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per message: style INT, text length INT, text BYTES header. */
#define FIELD 8u
#define INT_FIELD (FIELD + 4u)
#define CONV_OVERHEAD (2 * INT_FIELD + FIELD)

const char *pam_wire_call_name(int call)
{
	switch (call) {
	case PAM_WIRE_AUTHENTICATE:
		return "pam_authenticate";
	case PAM_WIRE_ACCT_MGMT:
		return "pam_acct_mgmt";
	case PAM_WIRE_SETCRED:
		return "pam_setcred";
	case PAM_WIRE_OPEN_SESSION:
		return "pam_open_session";
	case PAM_WIRE_CLOSE_SESSION:
		return "pam_close_session";
	case PAM_WIRE_CHAUTHTOK:
		return "pam_chauthtok";
	default:
		return NULL;
	}
}

static void put_text_len(struct wire_writer *w, const char *s, size_t len)
{
	if (!s) {
		wire_put_int(w, -1);
		return;
	}
	if (len > INT32_MAX) {
		w->broken = true;
		return;
	}
	wire_put_int(w, (int32_t)len);
	if (len)
		wire_put_bytes(w, s, len);
}

void pam_wire_put_text(struct wire_writer *w, const char *s)
{
	put_text_len(w, s, s ? strlen(s) : 0);
}

int pam_wire_get_text(struct wire_reader *r, char *buf, size_t cap)
{
	int32_t len = wire_get_int(r);
	if (!r->broken && len == -1)
		return -1;
	if (r->broken || len < 0 || cap == 0 || (size_t)len >= cap)
		goto broken;
	if (len > 0 && (wire_get_bytes(r, buf, (size_t)len) != (size_t)len ||
			memchr(buf, '\0', (size_t)len)))
		goto broken;
	buf[len] = '\0';
	return len;
broken:
	r->broken = true;
	return -2;
}

size_t pam_wire_encode_conv(void *buf, size_t cap, uint32_t id, int count,
			    const struct pam_message **msg)
{
	struct wire_writer w;
	if (count < 1 || count > PAM_MAX_NUM_MSG || !msg)
		return 0;
	/* Each message gets an equal share of one wire message: PAM allows 32
	 * messages of 512 bytes, more than one message holds, and a prompt cut
	 * short is better than a conversation refused. */
	size_t share = (WIRE_MAX_PAYLOAD - INT_FIELD) / (size_t)count - CONV_OVERHEAD;
	if (share > PAM_WIRE_MAX_MSG)
		share = PAM_WIRE_MAX_MSG;
	wire_writer_init(&w, buf, cap, PAM_WIRE_CONV, id);
	wire_put_int(&w, count);
	for (int i = 0; i < count; i++) {
		const struct pam_message *m = msg[i];
		if (!m)
			return 0;
		wire_put_int(&w, m->msg_style);
		if (!m->msg) {
			put_text_len(&w, NULL, 0);
			continue;
		}
		put_text_len(&w, m->msg, strnlen(m->msg, share));
	}
	return wire_writer_finish(&w);
}

int pam_wire_decode_conv(const void *msg, size_t size, uint32_t id, struct pam_wire_conv *out)
{
	struct wire_header h;
	struct wire_reader r;
	if (wire_open_message(msg, size, &h, &r) < 0 || h.op != PAM_WIRE_CONV || h.id != id)
		return -1;
	int32_t count = wire_get_int(&r);
	if (r.broken || count < 1 || count > PAM_MAX_NUM_MSG)
		return -1;
	out->count = count;
	for (int i = 0; i < count; i++) {
		out->style[i] = wire_get_int(&r);
		switch (out->style[i]) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		default: /* binary prompts carry pointers, not text */
			return -1;
		}
		int len = pam_wire_get_text(&r, out->text[i], sizeof(out->text[i]));
		if (len == -2)
			return -1;
		out->null_text[i] = len == -1;
		if (len == -1)
			out->text[i][0] = '\0';
	}
	return wire_reader_done(&r) ? 0 : -1;
}

size_t pam_wire_encode_answer(void *buf, size_t cap, uint32_t id, int status, int count,
			      const struct pam_response *resp)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, cap, PAM_WIRE_CONV, id);
	if (status != PAM_SUCCESS) {
		wire_put_int(&w, status);
		return wire_writer_finish(&w);
	}
	if (count < 1 || count > PAM_MAX_NUM_MSG || !resp)
		return 0;
	wire_put_int(&w, PAM_SUCCESS);
	wire_put_int(&w, count);
	for (int i = 0; i < count; i++) {
		wire_put_int(&w, resp[i].resp_retcode);
		if (resp[i].resp && strnlen(resp[i].resp, PAM_MAX_RESP_SIZE) > PAM_WIRE_MAX_RESP)
			return 0;
		pam_wire_put_text(&w, resp[i].resp);
	}
	return wire_writer_finish(&w);
}

void pam_wire_free_answer(struct pam_response *resp, int count)
{
	if (!resp)
		return;
	for (int i = 0; i < count; i++) {
		if (resp[i].resp) {
			explicit_bzero(resp[i].resp, strlen(resp[i].resp));
			free(resp[i].resp);
		}
	}
	explicit_bzero(resp, sizeof(*resp) * (size_t)count);
	free(resp);
}

int pam_wire_decode_answer(const void *msg, size_t size, uint32_t id, int count, int *status,
			   struct pam_response **out)
{
	struct wire_header h;
	struct wire_reader r;
	char text[PAM_MAX_RESP_SIZE];
	int rc = -1;

	*out = NULL;
	if (count < 1 || count > PAM_MAX_NUM_MSG)
		return -1;
	if (wire_open_message(msg, size, &h, &r) < 0 || h.op != PAM_WIRE_CONV || h.id != id)
		return -1;
	*status = wire_get_int(&r);
	if (r.broken)
		return -1;
	if (*status != PAM_SUCCESS)
		return wire_reader_done(&r) && *status > 0 && *status < 64 ? 0 : -1;
	if (wire_get_int(&r) != count || r.broken)
		return -1;
	struct pam_response *resp = calloc((size_t)count, sizeof(*resp));
	if (!resp)
		return -2;
	for (int i = 0; i < count; i++) {
		resp[i].resp_retcode = wire_get_int(&r);
		int len = pam_wire_get_text(&r, text, sizeof(text));
		if (len == -2)
			goto out;
		if (len >= 0) {
			resp[i].resp = malloc((size_t)len + 1);
			if (!resp[i].resp) {
				rc = -2;
				goto out;
			}
			memcpy(resp[i].resp, text, (size_t)len + 1);
		}
	}
	if (!wire_reader_done(&r))
		goto out;
	*out = resp;
	resp = NULL;
	rc = 0;
out:
	explicit_bzero(text, sizeof(text));
	pam_wire_free_answer(resp, count);
	return rc;
}

bool pam_wire_string_item(int type)
{
	switch (type) {
	case PAM_SERVICE:
	case PAM_USER:
	case PAM_TTY:
	case PAM_RHOST:
	case PAM_RUSER:
	case PAM_USER_PROMPT:
	case PAM_XDISPLAY:
	case PAM_AUTHTOK_TYPE:
	case PAM_AUTHTOK:
	case PAM_OLDAUTHTOK:
		return true;
	default:
		return false;
	}
}
