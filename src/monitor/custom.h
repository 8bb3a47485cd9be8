/* Custom functions: priv_register_info_fn and priv_register_cap_fn record a
 * function before priv_init; priv_invoke_info_fn and priv_invoke_cap_fn ask
 * the monitor to run it, as root, with an argument vector.
 *
 * The monitor is a fork of the process that registered them, so it holds
 * the same table at the same addresses: a request names a handle, never a
 * pointer. The policy must grant the handle (`custom`), every invocation is
 * audited, and each one runs in a short-lived child of the monitor, so that
 * a function that crashes, hangs or scribbles over its memory never touches
 * the monitor's own state. */
#ifndef PRIVMAN_CUSTOM_H
#define PRIVMAN_CUSTOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/custom_table.h"
#include "monitor/monitor.h"

/* Invocations in flight, in all and per program process. */
#define CUSTOM_MAX_INFLIGHT 32
#define CUSTOM_MAX_PER_PROCESS 4

/* epoll tags: CUSTOM_TAG + 2 * slot for the answer socket of an invocation,
 * + 1 for its timer. Above every channel index, below the PAM and process
 * tags, so that the monitor's loop may test the ranges in any order. */
#define CUSTOM_TAG (UINT64_C(1) << 30)

static inline int custom_owns_tag(uint64_t tag)
{
	return tag >= CUSTOM_TAG && tag - CUSTOM_TAG < 2 * CUSTOM_MAX_INFLIGHT;
}

/* --- the monitor's side (custom.c) ----------------------------------------- */

/* One request, decoded. Strings point into `text`. */
struct custom_request {
	int32_t kind;
	int32_t handle;
	int32_t count;  /* as sent */
	size_t bytes;   /* every string with its NUL */
	char *argv[WIRE_MAX_PAYLOAD / 9 + 1];
	char text[WIRE_MAX_PAYLOAD];
};

/* Decode the fields of a WIRE_OP_CUSTOM request strictly: kind, handle, an
 * INT count and that many strings (BYTES, each with exactly one NUL, at
 * its end). False on any mismatch (a protocol violation); a well-formed
 * request over the limits decodes, and its handler refuses it. Pure; used
 * by the handler and the fuzzer. */
bool custom_decode_request(const struct wire_request *req, struct custom_request *out);

/* The WIRE_OP_CUSTOM handler (monitor.c's dispatch table). Refusals:
 * -E2BIG over the limits, -ENOENT for a handle that names no function of
 * that kind, -EPERM when the policy does not grant it, -EAGAIN with too
 * many in flight. Otherwise the reply is deferred until the function's
 * process answers: a string's length and a pipe holding it, or the
 * function's fd; the function's errno; -EIO when the process died without
 * answering or answered nonsense; -ETIMEDOUT when it ran out of time (it
 * is killed). */
int custom_handle(struct monitor *m, struct monitor_channel *c, const struct wire_request *req,
		  int *fds, int *fd_out);

/* An epoll event with a tag custom_owns_tag() accepts. */
void custom_event(struct monitor *m, uint64_t tag);

#endif
