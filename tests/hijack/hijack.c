/* A program that defines, for its own use, names the library uses inside:
 * a server may well have its own monitor_init() or policy_decide(). Linked
 * with the shared or the static library as any user links it, priv_init and
 * the calls must still run the library's own code; one of these running in
 * the monitor (as root) would print HIJACKED and end it.
 *
 *   hijack-shared APPNAME PATH   priv_init, then priv_open(PATH): "open ok"
 *   hijack-static APPNAME PATH   the same, linked with libprivman.a */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privman.h"

static void hijacked(const char *name)
{
	printf("HIJACKED %s\n", name);
	fflush(stdout);
	_exit(99);
}

#define HIJACK(name)                \
	void name(void);            \
	void name(void)             \
	{                           \
		hijacked(#name);    \
	}

HIJACK(monitor_init)
HIJACK(monitor_run)
HIJACK(monitor_handle_message)
HIJACK(monitor_reply)
HIJACK(monitor_finish)
HIJACK(policy_decide)
HIJACK(policy_validate)
HIJACK(policy_free)
HIJACK(conf_load_files)
HIJACK(conf_parse_file)
HIJACK(drop_apply)
HIJACK(audit_init)
HIJACK(audit_flush)
HIJACK(audit_decision)
HIJACK(audit_event)
HIJACK(wire_send)
HIJACK(wire_recv)
HIJACK(wire_decode_request)
HIJACK(wire_writer_init)
HIJACK(client_attach)
HIJACK(client_call)
HIJACK(client_call_fields)
HIJACK(resolve_handle)
HIJACK(resolve_open_clean)
HIJACK(resolve_umask)
HIJACK(proc_reaped)
HIJACK(proc_event)
HIJACK(pam_monitor_start)
HIJACK(diag_init)
HIJACK(capmap_privileges)

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	priv_init(argv[1]);
	int fd = priv_open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("open %s\n", strerror(errno));
		return 1;
	}
	char line[64] = "";
	ssize_t n = read(fd, line, sizeof(line) - 1);
	printf("open ok: %.*s", n > 0 ? (int)n : 0, line);
	close(fd);
	return 0;
}
