/* Processes: the fields of a request, decoded strictly. */
#include "monitor/proc_internal.h"

#include <stddef.h>
#include <string.h>

/* --- reading the fields of a request ----------------------------------------- */

struct proc_request proc_req;

/* A string: BYTES holding the characters and one NUL, no other NUL. An
 * empty one (just the NUL) is NULL when `optional`. */
static const char *get_cstr(struct wire_reader *r, bool optional)
{
	char *at = proc_req.text + proc_req.used;
	size_t cap = sizeof(proc_req.text) - proc_req.used;
	if (cap == 0) {
		r->broken = true;
		return NULL;
	}
	size_t n = wire_get_bytes(r, at, cap);
	if (r->broken || n == 0 || at[n - 1] != '\0' || strlen(at) != n - 1) {
		r->broken = true;
		return NULL;
	}
	proc_req.used += n;
	if (n == 1 && optional)
		return NULL;
	return at;
}

static size_t get_list(struct wire_reader *r, char **out)
{
	int32_t count = wire_get_int(r);
	if (r->broken || count < 0 || count > PROC_MAX_ARGS) {
		r->broken = true;
		out[0] = NULL;
		return 0;
	}
	for (int32_t i = 0; i < count; i++) {
		out[i] = (char *)(uintptr_t)get_cstr(r, false);
		if (r->broken) {
			out[0] = NULL;
			return 0;
		}
	}
	out[count] = NULL;
	return (size_t)count;
}

bool proc_decode_request(const struct wire_request *req)
{
	struct wire_reader r = {.p = req->payload, .left = req->payload_size, .broken = false};
	memset(&proc_req, 0, offsetof(struct proc_request, text));
	proc_req.used = 0;
	switch (req->op) {
	case WIRE_OP_FORK:
	case WIRE_OP_HELLO:
		break;
	case WIRE_OP_WAIT:
		proc_req.pid = wire_get_int(&r);
		proc_req.options = wire_get_int(&r);
		break;
	case WIRE_OP_RERUN:
	case WIRE_OP_RESPAWN:
		if (wire_get_bytes(&r, &proc_req.fnptr, sizeof(proc_req.fnptr)) !=
		    sizeof(proc_req.fnptr))
			r.broken = true;
		proc_req.flags = wire_get_int(&r);
		proc_req.user = get_cstr(&r, true);
		proc_req.chroot = get_cstr(&r, true);
		proc_req.argc = get_list(&r, proc_req.args);
		break;
	case WIRE_OP_EXECVE:
	case WIRE_OP_EXEC_REPLACE:
		proc_req.program = get_cstr(&r, false);
		proc_req.user = get_cstr(&r, true);
		proc_req.chroot = get_cstr(&r, true);
		proc_req.argc = get_list(&r, proc_req.args);
		proc_req.envc = get_list(&r, proc_req.env);
		break;
	case WIRE_OP_POPEN:
		proc_req.program = get_cstr(&r, false);
		proc_req.flags = wire_get_int(&r);
		proc_req.user = get_cstr(&r, true);
		break;
	case WIRE_OP_DAEMON:
		proc_req.nochdir = wire_get_int(&r);
		proc_req.noclose = wire_get_int(&r);
		break;
	default:
		return false;
	}
	return wire_reader_done(&r);
}
