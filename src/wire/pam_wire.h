/* The wire of one PAM transaction: spoken on the transaction's own
 * SOCK_SEQPACKET channel between the program (pam_client.c) and the root
 * PAM worker the monitor forked for it (pam_monitor.c), with the message
 * layout of wire.h. Every message's header carries the transaction's id,
 * which the monitor chose; a message with another id is a protocol
 * violation.
 *
 *   program                                     worker
 *   BEGIN service user?              ->
 *                                    <-         BEGIN status
 *   CALL function flags              ->
 *                                    <-         CONV count (style text?)*
 *   CONV status count (retcode text?)* ->       (as often as PAM asks)
 *                                    <-         CALL status
 *   SET_ITEM type text? | GET_ITEM type | PUTENV text | GETENV text |
 *   FAIL_DELAY usec | END status     ->
 *                                    <-         status [text?]
 *
 * A text is an INT length (-1: NULL, 0: empty) followed, when the length is
 * positive, by a BYTES field of exactly that length holding no NUL. */
#ifndef PRIVMAN_PAM_WIRE_H
#define PRIVMAN_PAM_WIRE_H

#include <security/pam_appl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

enum pam_wire_op {
	PAM_WIRE_BEGIN = 49,
	PAM_WIRE_CALL = 50,
	PAM_WIRE_CONV = 51,
	PAM_WIRE_SET_ITEM = 52,
	PAM_WIRE_GET_ITEM = 53,
	PAM_WIRE_PUTENV = 54,
	PAM_WIRE_GETENV = 55,
	PAM_WIRE_FAIL_DELAY = 56,
	PAM_WIRE_END = 57,
	/* worker -> monitor, on the worker's report socket */
	PAM_WIRE_AUTHENTICATED = 58,
};

/* The PAM functions a CALL runs. */
enum pam_wire_call {
	PAM_WIRE_AUTHENTICATE = 1,
	PAM_WIRE_ACCT_MGMT,
	PAM_WIRE_SETCRED,
	PAM_WIRE_OPEN_SESSION,
	PAM_WIRE_CLOSE_SESSION,
	PAM_WIRE_CHAUTHTOK,
};

/* Bounds, checked on both sides. A conversation message longer than its
 * share of one wire message is cut (PAM_MAX_MSG_SIZE bytes each when there
 * are few); an answer must be shorter than PAM_MAX_RESP_SIZE and all answers
 * must fit in one wire message. */
#define PAM_WIRE_MAX_TEXT 1023    /* items, service, user, env names */
#define PAM_WIRE_MAX_ENV 4095     /* "NAME=value" */
#define PAM_WIRE_MAX_MSG (PAM_MAX_MSG_SIZE - 1)
#define PAM_WIRE_MAX_RESP (PAM_MAX_RESP_SIZE - 1)

/* A conversation as it crossed the wire. */
struct pam_wire_conv {
	int count;
	int style[PAM_MAX_NUM_MSG];
	bool null_text[PAM_MAX_NUM_MSG];
	char text[PAM_MAX_NUM_MSG][PAM_MAX_MSG_SIZE];
};

/* Name of a call for logs ("pam_authenticate", ...), NULL when unknown. */
const char *pam_wire_call_name(int call);

/* Texts. pam_wire_get_text copies into buf (NUL-terminated) and returns the
 * length, -1 for NULL; -2 (and the reader broken) when it does not parse,
 * holds a NUL, or does not fit in cap with its NUL. */
void pam_wire_put_text(struct wire_writer *w, const char *s);
int pam_wire_get_text(struct wire_reader *r, char *buf, size_t cap);

/* Worker side: encode a conversation (count 1..PAM_MAX_NUM_MSG). Returns the
 * size, or 0. */
size_t pam_wire_encode_conv(void *buf, size_t cap, uint32_t id, int count,
			    const struct pam_message **msg);
/* Program side: decode one. Returns 0, or -1 when malformed. */
int pam_wire_decode_conv(const void *msg, size_t size, uint32_t id, struct pam_wire_conv *out);

/* Program side: encode the answers (`resp` may be NULL when status is not
 * PAM_SUCCESS). Returns the size, or 0 when an answer is too long or they do
 * not fit: the caller then answers PAM_CONV_ERR. */
size_t pam_wire_encode_answer(void *buf, size_t cap, uint32_t id, int status, int count,
			      const struct pam_response *resp);
/* Worker side: decode the answers to a conversation of `count` messages.
 * Returns 0 with *status and, on PAM_SUCCESS, *resp (malloc'd, for PAM to
 * free); -1 when malformed; -2 (ENOMEM) when out of memory. */
int pam_wire_decode_answer(const void *msg, size_t size, uint32_t id, int count, int *status,
			   struct pam_response **resp);

/* The PAM items that are strings, the only ones that cross the wire. The
 * program and the worker must agree on this list. */
bool pam_wire_string_item(int type);

/* Wipe and free an answer array. */
void pam_wire_free_answer(struct pam_response *resp, int count);

#endif
