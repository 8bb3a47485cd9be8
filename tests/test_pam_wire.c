/* The wire of a PAM transaction, without PAM or root: texts, the
 * conversation and its answers, and every bound. */
#include <security/pam_appl.h>

#include "wire/pam_wire.h"
#include "testutil.h"

static unsigned char buf[WIRE_MAX_MESSAGE + 1];

static size_t conv_of(int count, const char *const *texts, const int *styles)
{
	struct pam_message m[PAM_MAX_NUM_MSG + 1];
	const struct pam_message *p[PAM_MAX_NUM_MSG + 1];
	for (int i = 0; i < count; i++) {
		m[i].msg_style = styles ? styles[i] : PAM_PROMPT_ECHO_OFF;
		m[i].msg = texts[i];
		p[i] = &m[i];
	}
	return pam_wire_encode_conv(buf, sizeof(buf), 7, count, p);
}

Test(pam_wire, conversation_round_trip_with_several_messages)
{
	const char *texts[] = {"Password: ", NULL, "", "One-time code: "};
	int styles[] = {PAM_PROMPT_ECHO_OFF, PAM_TEXT_INFO, PAM_ERROR_MSG, PAM_PROMPT_ECHO_ON};
	size_t size = conv_of(4, texts, styles);
	cr_assert(size > 0);
	static struct pam_wire_conv c;
	cr_assert_eq(pam_wire_decode_conv(buf, size, 7, &c), 0);
	cr_assert_eq(c.count, 4);
	cr_assert_str_eq(c.text[0], "Password: ");
	cr_assert(c.null_text[1]);
	cr_assert(!c.null_text[2]);
	cr_assert_str_eq(c.text[2], "");
	cr_assert_str_eq(c.text[3], "One-time code: ");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(c.style[i], styles[i]);
	/* another transaction's id, or a cut message, is refused */
	cr_assert_eq(pam_wire_decode_conv(buf, size, 8, &c), -1);
	cr_assert_eq(pam_wire_decode_conv(buf, size - 1, 7, &c), -1);
}

Test(pam_wire, conversation_bounds)
{
	const char *texts[PAM_MAX_NUM_MSG + 1];
	char long_text[PAM_MAX_MSG_SIZE * 2];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	for (int i = 0; i <= PAM_MAX_NUM_MSG; i++)
		texts[i] = long_text;
	cr_assert_eq(conv_of(0, texts, NULL), 0, "no message");
	cr_assert_eq(conv_of(PAM_MAX_NUM_MSG + 1, texts, NULL), 0, "more than PAM allows");

	/* One message: cut to PAM_MAX_MSG_SIZE - 1. */
	static struct pam_wire_conv c;
	size_t size = conv_of(1, texts, NULL);
	cr_assert(size > 0);
	cr_assert_eq(pam_wire_decode_conv(buf, size, 7, &c), 0);
	cr_assert_eq(strlen(c.text[0]), PAM_MAX_MSG_SIZE - 1);

	/* The most PAM allows, each as long as it may be: all of them fit in
	 * one wire message, each cut to an equal share. */
	size = conv_of(PAM_MAX_NUM_MSG, texts, NULL);
	cr_assert(size > 0 && size <= WIRE_MAX_MESSAGE);
	cr_assert_eq(pam_wire_decode_conv(buf, size, 7, &c), 0);
	cr_assert_eq(c.count, PAM_MAX_NUM_MSG);
	size_t share = strlen(c.text[0]);
	cr_assert(share > 200 && share < PAM_MAX_MSG_SIZE, "share %zu", share);
	for (int i = 0; i < PAM_MAX_NUM_MSG; i++)
		cr_assert_eq(strlen(c.text[i]), share);
}

Test(pam_wire, binary_prompts_refused)
{
	const char *texts[] = {"x"};
	int styles[] = {7 /* PAM_BINARY_PROMPT */};
	size_t size = conv_of(1, texts, styles);
	static struct pam_wire_conv c;
	cr_assert_eq(pam_wire_decode_conv(buf, size, 7, &c), -1);
}

Test(pam_wire, answers_round_trip)
{
	char a[] = "Right-Horse-7", b[] = "";
	struct pam_response resp[3] = {{a, 0}, {NULL, 0}, {b, 0}};
	size_t size = pam_wire_encode_answer(buf, sizeof(buf), 9, PAM_SUCCESS, 3, resp);
	cr_assert(size > 0);
	struct pam_response *out = NULL;
	int status = -1;
	cr_assert_eq(pam_wire_decode_answer(buf, size, 9, 3, &status, &out), 0);
	cr_assert_eq(status, PAM_SUCCESS);
	cr_assert_str_eq(out[0].resp, a);
	cr_assert_null(out[1].resp);
	cr_assert_str_eq(out[2].resp, "");
	pam_wire_free_answer(out, 3);

	/* a count other than the conversation's, another id: refused */
	cr_assert_eq(pam_wire_decode_answer(buf, size, 9, 2, &status, &out), -1);
	cr_assert_null(out);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 10, 3, &status, &out), -1);

	/* the program's conversation failed */
	size = pam_wire_encode_answer(buf, sizeof(buf), 9, PAM_CONV_ERR, 3, NULL);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 9, 3, &status, &out), 0);
	cr_assert_eq(status, PAM_CONV_ERR);
	cr_assert_null(out);
}

Test(pam_wire, answers_bounds)
{
	char long_answer[PAM_MAX_RESP_SIZE + 1];
	memset(long_answer, 'y', sizeof(long_answer) - 1);
	long_answer[PAM_MAX_RESP_SIZE] = '\0';
	struct pam_response one = {long_answer, 0};
	cr_assert_eq(pam_wire_encode_answer(buf, sizeof(buf), 1, PAM_SUCCESS, 1, &one), 0,
		     "an answer of PAM_MAX_RESP_SIZE bytes");
	long_answer[PAM_MAX_RESP_SIZE - 1] = '\0';
	cr_assert(pam_wire_encode_answer(buf, sizeof(buf), 1, PAM_SUCCESS, 1, &one) > 0);

	/* 32 answers of 511 bytes do not fit one message: refused, not cut */
	struct pam_response many[PAM_MAX_NUM_MSG];
	for (int i = 0; i < PAM_MAX_NUM_MSG; i++)
		many[i] = one;
	cr_assert_eq(pam_wire_encode_answer(buf, sizeof(buf), 1, PAM_SUCCESS, PAM_MAX_NUM_MSG,
					    many),
		     0);
	cr_assert_eq(pam_wire_encode_answer(buf, sizeof(buf), 1, PAM_SUCCESS, PAM_MAX_NUM_MSG + 1,
					    many),
		     0);
}

Test(pam_wire, hostile_answers_refused)
{
	/* an answer with an embedded NUL, claimed length longer than sent, an
	 * out-of-range status, trailing bytes */
	struct wire_writer w;
	struct pam_response *out = NULL;
	int status;

	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CONV, 3);
	wire_put_int(&w, PAM_SUCCESS);
	wire_put_int(&w, 1);
	wire_put_int(&w, 0);
	wire_put_int(&w, 3);
	wire_put_bytes(&w, "a\0b", 3);
	size_t size = wire_writer_finish(&w);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 3, 1, &status, &out), -1);

	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CONV, 3);
	wire_put_int(&w, PAM_SUCCESS);
	wire_put_int(&w, 1);
	wire_put_int(&w, 0);
	wire_put_int(&w, 9);
	wire_put_bytes(&w, "abc", 3);
	size = wire_writer_finish(&w);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 3, 1, &status, &out), -1);

	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CONV, 3);
	wire_put_int(&w, PAM_SUCCESS);
	wire_put_int(&w, 1);
	wire_put_int(&w, 0);
	wire_put_int(&w, PAM_MAX_RESP_SIZE);
	char big[PAM_MAX_RESP_SIZE];
	memset(big, 'z', sizeof(big));
	wire_put_bytes(&w, big, sizeof(big));
	size = wire_writer_finish(&w);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 3, 1, &status, &out), -1);

	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CONV, 3);
	wire_put_int(&w, -5);
	size = wire_writer_finish(&w);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 3, 1, &status, &out), -1);

	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CONV, 3);
	wire_put_int(&w, PAM_CONV_ERR);
	wire_put_int(&w, 0);
	size = wire_writer_finish(&w);
	cr_assert_eq(pam_wire_decode_answer(buf, size, 3, 1, &status, &out), -1);
	cr_assert_null(out);
}

Test(pam_wire, texts)
{
	struct wire_writer w;
	struct wire_reader r;
	struct wire_header h;
	char out[8];
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_GETENV, 1);
	pam_wire_put_text(&w, NULL);
	pam_wire_put_text(&w, "");
	pam_wire_put_text(&w, "1234567");
	pam_wire_put_text(&w, "12345678");
	size_t size = wire_writer_finish(&w);
	cr_assert_eq(wire_open_message(buf, size, &h, &r), 0);
	cr_assert_eq(pam_wire_get_text(&r, out, sizeof(out)), -1);
	cr_assert_eq(pam_wire_get_text(&r, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(pam_wire_get_text(&r, out, sizeof(out)), 7);
	cr_assert_str_eq(out, "1234567");
	cr_assert_eq(pam_wire_get_text(&r, out, sizeof(out)), -2, "does not fit with its NUL");
	cr_assert(r.broken);
}

Test(pam_wire, pam_start_is_a_monitor_request_whose_reply_brings_the_socket)
{
	struct wire_writer w;
	struct wire_request req;
	const char *why = NULL;
	wire_writer_init(&w, buf, sizeof(buf), WIRE_OP_PAM_START, 1);
	pam_wire_put_text(&w, "login");
	pam_wire_put_text(&w, NULL);
	size_t size = wire_writer_finish(&w);
	cr_assert_eq(wire_decode_request(buf, size, 0, &req, &why), 0);
	cr_assert_eq(req.op, WIRE_OP_PAM_START);
	/* the service and user: the monitor reads them (pam_monitor.c) */
	cr_assert(req.payload && req.payload_size > 0);
	cr_assert_str_eq(wire_op_name(WIRE_OP_PAM_START), "pam_start");
	cr_assert_eq(wire_decode_request(buf, size, 1, &req, &why), -1,
		     "a socket from the program is refused: the monitor makes it");
	cr_assert_eq(wire_reply_fds(WIRE_OP_PAM_START, 3), 1);
	cr_assert_eq(wire_reply_fds(WIRE_OP_PAM_START, -EPERM), 0);
	/* the transaction's own operations never reach the monitor's decoder */
	for (uint32_t op = PAM_WIRE_BEGIN; op <= PAM_WIRE_AUTHENTICATED; op++) {
		wire_writer_init(&w, buf, sizeof(buf), op, 1);
		size = wire_writer_finish(&w);
		cr_assert_eq(wire_decode_request(buf, size, 0, &req, &why), -1, "op %u", op);
	}
}
