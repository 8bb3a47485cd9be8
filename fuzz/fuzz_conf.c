/* libFuzzer harness for the policy language: any bytes through the lexer,
 * the parser, the syntax validation and decide(). Includes are refused so
 * the harness reads no files. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d;
	diag_init(&d);
	struct policy *p = policy_new();
	if (!p)
		return 0;
	if (conf_parse_text(p, "fuzz.conf", (const char *)data, size, CONF_NO_INCLUDE, &d) == 0 &&
	    policy_validate_syntax(p, &d) == 0) {
		static const char *const paths[] = { "/", "/etc/passwd", "/var/spool/mail/x",
						     "/var/spool/mail/x/y", "/a b/c" };
		static const int flags[] = { O_RDONLY, O_WRONLY | O_APPEND, O_RDWR | O_TRUNC,
					     O_RDONLY | O_CREAT, O_PATH };
		struct policy_decision out;
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			struct policy_request req = { .op = POLICY_OP_OPEN, .path = paths[i],
						      .flags = flags[i] };
			policy_decide(p, &req, &out);
			req.op = POLICY_OP_UNLINK;
			policy_decide(p, &req, &out);
		}
		struct policy_request bind = { .op = POLICY_OP_BIND, .family = AF_INET, .port = 25 };
		policy_decide(p, &bind, &out);
		struct policy_request run = { .op = POLICY_OP_RUN_AS, .uid = 0, .user = "root" };
		policy_decide(p, &run, &out);
		FILE *null = fopen("/dev/null", "we");
		if (null) {
			policy_dump(p, null);
			fclose(null);
		}
	}
	policy_free(p);
	diag_free(&d);
	return 0;
}
