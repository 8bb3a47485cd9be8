/* libFuzzer harness for the monitor's message decoder. The first byte says
 * how many fds came with the message (0-2); the rest is the message.
 * Properties: the decoder never reads out of bounds (ASan), and whatever
 * it accepts re-encodes to the very same bytes (the encoding is canonical,
 * so no two messages mean the same request). Decoded paths and flags also go
 * through the monitor's pure path and flag checks. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "monitor/custom.h"
#include "monitor/object.h"
#include "monitor/proc.h"
#include "monitor/resolve.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char again[WIRE_MAX_MESSAGE + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_request req;
	if (size < 1)
		return 0;
	int nfds = data[0] % 3;
	const char *why = NULL;
	if (wire_decode_request(data + 1, size - 1, nfds, &req, &why) < 0) {
		if (!why)
			__builtin_trap();
		return 0;
	}

	struct wire_writer w;
	wire_writer_init(&w, again, sizeof(again), req.op, req.id);
	switch (req.op) {
	case WIRE_OP_OPEN:
		wire_put_string(&w, req.path);
		wire_put_int(&w, req.flags);
		wire_put_int(&w, req.mode);
		monitor_open_flags_ok(req.flags);
		break;
	case WIRE_OP_UNLINK:
		wire_put_string(&w, req.path);
		break;
	case WIRE_OP_BIND:
		wire_put_bytes(&w, &req.addr, req.addrlen);
		break;
	case WIRE_OP_EXIT:
		wire_put_int(&w, req.status);
		break;
	case WIRE_OP_CHANNEL:
	case WIRE_OP_PAM_START:
		break;
	case WIRE_OP_FORK:
	case WIRE_OP_HELLO:
	case WIRE_OP_WAIT:
	case WIRE_OP_RERUN:
	case WIRE_OP_RESPAWN:
	case WIRE_OP_EXECVE:
	case WIRE_OP_EXEC_REPLACE:
	case WIRE_OP_POPEN:
	case WIRE_OP_DAEMON:
		/* Their fields are read by proc.c's strict decoder. */
		proc_decode_request(&req);
		if (w.len + req.payload_size <= w.cap) {
			memcpy(w.buf + w.len, req.payload, req.payload_size);
			w.len += req.payload_size;
		}
		break;
	case WIRE_OP_CUSTOM: {
		/* Re-encoded from what custom.c decoded: canonical too. */
		static struct custom_request creq;
		if (!custom_decode_request(&req, &creq)) {
			memcpy(w.buf + w.len, req.payload, req.payload_size);
			w.len += req.payload_size;
			break;
		}
		wire_put_int(&w, creq.kind);
		wire_put_int(&w, creq.handle);
		wire_put_int(&w, creq.count);
		for (int32_t i = 0; i < creq.count; i++)
			wire_put_bytes(&w, creq.argv[i], strlen(creq.argv[i]) + 1);
		if (creq.argv[creq.count] != NULL)
			__builtin_trap();
		break;
	}
	default:
		__builtin_trap(); /* accepted an operation it does not know */
	}
	size_t n = wire_writer_finish(&w);
	if (n != size - 1 || memcmp(again, data + 1, n) != 0)
		__builtin_trap();

	if (req.op == WIRE_OP_OPEN || req.op == WIRE_OP_UNLINK) {
		char parent[PATH_MAX], name[NAME_MAX + 1], out[PATH_MAX];
		path_is_clean(req.path);
		path_split(req.path, parent, sizeof(parent), name, sizeof(name));
		if (path_lexical("/base/dir", req.path, out, sizeof(out)) >= 0 && out[0] != '/')
			__builtin_trap();
	}
	return 0;
}
