/* The program's side of the channel to the monitor. Thread-safe: requests
 * from many threads are in flight at once and each reply goes to the
 * thread whose request id it carries. */
#ifndef PRIVMAN_CLIENT_H
#define PRIVMAN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Use `sock` as the channel (priv_init, in the program). */
void client_attach(int sock);

/* The channel's fd, or -1 (for tests that speak the wire themselves). */
int client_channel_fd(void);

/* Send the request in msg (built with a wire_writer; its id is filled in
 * here) with `nfds` fds, and wait for its reply. Returns the reply's status
 * (>= 0) and stores a returned fd in *fd_out (when fd_out is not NULL and
 * the operation returns one); or -1 with errno: the status's errno, EPIPE
 * when the monitor is gone, EPROTO when it answered nonsense. */
int client_call(void *msg, size_t size, const int *fds, int nfds, int *fd_out);

/* client_call for a reply that carries fields after its status: they are
 * copied, still encoded, into `fields` (at most `cap` bytes; a larger reply
 * is a protocol error) and their size stored in *fields_size. */
int client_call_fields(void *msg, size_t size, const int *fds, int nfds, int *fd_out,
		       void *fields, size_t cap, size_t *fields_size);

#endif
