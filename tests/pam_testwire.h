/* Playing the program on a PAM transaction's channel with raw messages,
 * against a monitor in the test's own process (struct monitor m and
 * channel c, defined by the including test), for test_pam_monitor.c and
 * test_pam_wrapper.c. Header-only so each test binary stays one file. */
#ifndef PRIVMAN_PAM_TESTWIRE_H
#define PRIVMAN_PAM_TESTWIRE_H

/* Start a transaction for `service` and `user` (NULL: none), as
 * priv_pam_start asks; returns the program's end of its channel, on which
 * the monitor queued the BEGIN of these (see begun()). */
static inline int start_for(uint32_t *id, const char *service, const char *user)
{
	static unsigned char msg[WIRE_MAX_MESSAGE];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg), WIRE_OP_PAM_START, 1);
	pam_wire_put_text(&w, service);
	pam_wire_put_text(&w, user);
	size_t size = wire_writer_finish(&w);
	struct wire_request req;
	const char *why = NULL;
	cr_assert_eq(wire_decode_request(msg, size, 0, &req, &why), 0);
	int fd_out = -1;
	int rc = pam_monitor_start(&m, &c, &req, NULL, &fd_out);
	if (rc < 0) {
		cr_assert_eq(fd_out, -1);
		return rc;
	}
	cr_assert(fd_out >= 0, "the monitor returns the program's end of the channel");
	*id = (uint32_t)rc;
	return fd_out;
}

static inline int start(uint32_t *id)
{
	return start_for(id, SERVICE, NULL);
}

static unsigned char buf[WIRE_MAX_MESSAGE + 1];

static inline void send_msg(int sock, struct wire_writer *w)
{
	size_t size = wire_writer_finish(w);
	cr_assert(size > 0);
	cr_assert(wire_send(sock, buf, size, NULL, 0, 0) == 0);
}

/* Wait for a message, reading the workers' reports meanwhile as the
 * monitor's loop would. */
static inline ssize_t receive(int sock)
{
	for (int i = 0; i < 500; i++) {
		const uid_t *list;
		size_t count;
		pam_authenticated_uids(&m, &list, &count);
		struct pollfd p = {.fd = sock, .events = POLLIN};
		if (poll(&p, 1, 10) == 1) {
			int fds[WIRE_MAX_FDS], nfds = 0;
			ssize_t n = wire_recv(sock, buf, sizeof(buf), fds, &nfds, 0);
			cr_assert_eq(nfds, 0);
			return n;
		}
	}
	cr_assert_fail("no reply within 5 s");
	return -1;
}

static inline int reply_status(ssize_t n, uint32_t op, uint32_t id)
{
	struct wire_header h;
	struct wire_reader r;
	cr_assert(n > 0);
	cr_assert_eq(wire_open_message(buf, (size_t)n, &h, &r), 0);
	cr_assert_eq(h.op, op);
	cr_assert_eq(h.id, id);
	return wire_get_int(&r);
}

/* The worker's answer to the BEGIN the monitor queued. */
static inline int begun(int sock, uint32_t id)
{
	return reply_status(receive(sock), PAM_WIRE_BEGIN, id);
}

/* One call; answers every conversation with `answer`. */
static inline int call(int sock, uint32_t id, int function, const char *answer)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf), PAM_WIRE_CALL, id);
	wire_put_int(&w, function);
	wire_put_int(&w, 0);
	send_msg(sock, &w);
	for (;;) {
		ssize_t n = receive(sock);
		static struct pam_wire_conv conv;
		if (pam_wire_decode_conv(buf, (size_t)n, id, &conv) == 0) {
			struct pam_response resp[PAM_MAX_NUM_MSG];
			char text[64];
			snprintf(text, sizeof(text), "%s", answer);
			for (int i = 0; i < conv.count; i++) {
				resp[i].resp = text;
				resp[i].resp_retcode = 0;
			}
			size_t size = pam_wire_encode_answer(buf, sizeof(buf), id, PAM_SUCCESS,
							     conv.count, resp);
			cr_assert(wire_send(sock, buf, size, NULL, 0, 0) == 0);
			continue;
		}
		return reply_status(n, PAM_WIRE_CALL, id);
	}
}

static inline bool listed(uid_t uid)
{
	const uid_t *list;
	size_t count;
	pam_authenticated_uids(&m, &list, &count);
	for (size_t i = 0; i < count; i++)
		if (list[i] == uid)
			return true;
	return false;
}

#endif
