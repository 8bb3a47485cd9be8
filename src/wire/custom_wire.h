/* Custom functions on the wire: what a WIRE_OP_CUSTOM request names (the
 * kind of function and its handle) and the limits both sides check. The
 * program's side is program/client_custom.c, the monitor's
 * monitor/custom.c. */
#ifndef PRIVMAN_CUSTOM_WIRE_H
#define PRIVMAN_CUSTOM_WIRE_H

enum custom_kind {
	CUSTOM_INFO = 0, /* char *fn(char *const *): a string */
	CUSTOM_CAP = 1,  /* int fn(char *const *): a file descriptor */
};

/* Functions registered in one program: handles 0 to 255 (the policy's
 * POLICY_CUSTOM_HANDLES; monitor/custom.h checks that they agree). */
#define CUSTOM_MAX_FUNCTIONS 256
/* An argument vector: strings, and bytes counting each string's NUL. */
#define CUSTOM_MAX_ARGS 256
#define CUSTOM_MAX_ARG_BYTES 8192
/* The longest string an info function may return (its NUL not counted):
 * the original's limit. */
#define CUSTOM_MAX_INFO 4096

#endif
