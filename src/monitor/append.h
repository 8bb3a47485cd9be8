/* open_ao without the file: the program gets the write end of a pipe, and
 * an appender process, with no privilege, copies what arrives to the end of
 * the file, which only it holds (see append.c). */
#ifndef PRIVMAN_APPEND_H
#define PRIVMAN_APPEND_H

#include <stdint.h>
#include <sys/types.h>

struct monitor;

/* The epoll tag of the appender's socket in the monitor's loop: above the
 * channels, the PAM workers and proc.c's tags, below the signal tag. */
#define APPEND_TAG (UINT64_MAX - 1)
/* Streams one appender serves at once (each costs it two fds and the
 * kernel one pipe): a pre-forking server's workers each hold one. */
#define APPEND_MAX_STREAMS 4096
/* How long a leaving monitor waits for the appender to write what the
 * program wrote before it ended. */
#define APPEND_FINISH_MS 5000

/* `file` was opened for an open that only open_ao grants: hand it to the
 * appender (started on first need) with the read end of a new pipe, and
 * return the pipe's write end for the program, with O_APPEND and the
 * caller's O_NONBLOCK. `file` is closed in every case. `path` and `pid`
 * name the stream in the appender's reports. Returns the fd or -errno:
 * EMFILE when APPEND_MAX_STREAMS are open, EAGAIN when the appender does
 * not keep up; *why then says why, for the caller's audit of the request
 * (object.c). Never blocks. */
int append_stream(struct monitor *m, int file, int flags, const char *path, pid_t pid,
		  const char **why);

/* The appender's socket is readable: take its reports (streams ended,
 * write errors, which are audited), or see that it ended. */
void append_event(struct monitor *m);

/* In a new monitor forked from this one (priv_respawn_as): forget the
 * appender, which serves the parent; one is started on first need. */
void append_forget(struct monitor *m);

/* The monitor is leaving: tell the appender, and wait (APPEND_FINISH_MS at
 * most) until it has written what the pipes held, so that everything the
 * program wrote before it ended is in the files when the monitor exits. */
void append_finish(struct monitor *m);

#endif
