/* libFuzzer harness for the decoders of a PAM transaction's wire: the
 * conversation the program decodes and the answers the root worker decodes.
 * The first byte picks the decoder (and, for answers, the number of
 * messages asked); the rest is the message. Properties: no read out of
 * bounds and no leak (ASan), and whatever is accepted re-encodes to the
 * very same bytes, so no two messages mean the same thing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/pam_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char again[WIRE_MAX_MESSAGE + 64];
static struct pam_wire_conv conv;

static void conversation(const uint8_t *msg, size_t size)
{
	if (pam_wire_decode_conv(msg, size, 1, &conv) < 0)
		return;
	struct pam_message m[PAM_MAX_NUM_MSG];
	const struct pam_message *p[PAM_MAX_NUM_MSG];
	size_t longest = 0;
	for (int i = 0; i < conv.count; i++) {
		m[i].msg_style = conv.style[i];
		m[i].msg = conv.null_text[i] ? NULL : conv.text[i];
		p[i] = &m[i];
		size_t n = strlen(conv.text[i]);
		longest = n > longest ? n : longest;
	}
	size_t n = pam_wire_encode_conv(again, sizeof(again), 1, conv.count, p);
	/* The encoder cuts texts longer than their share; others come back
	 * byte for byte. */
	if (n && (n != size || memcmp(again, msg, n) != 0)) {
		struct pam_wire_conv back;
		if (pam_wire_decode_conv(again, n, 1, &back) < 0 || back.count != conv.count)
			__builtin_trap();
		if (longest < 300)
			__builtin_trap();
	}
}

static void answers(int count, const uint8_t *msg, size_t size)
{
	int status = 0;
	struct pam_response *resp = NULL;
	int rc = pam_wire_decode_answer(msg, size, 1, count, &status, &resp);
	if (rc < 0) {
		if (resp)
			__builtin_trap();
		return;
	}
	size_t n = pam_wire_encode_answer(again, sizeof(again), 1, status, count, resp);
	if (n != size || memcmp(again, msg, n) != 0)
		__builtin_trap();
	pam_wire_free_answer(resp, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 0x80)
		answers(1 + data[0] % PAM_MAX_NUM_MSG, data + 1, size - 1);
	else
		conversation(data + 1, size - 1);
	return 0;
}
