/* What the program may not set in a PAM transaction's environment: names
 * the dynamic loader, libc or a shell or interpreter reads to load code or
 * find files, glibc's list for AT_SECURE programs and more. A module such as
 * pam_exec hands the PAM environment to the commands it runs as root. */
#include "monitor/pam_env.h"

#include <string.h>

#include "policy/envfilter.h"

bool pam_env_unsafe(const char *text)
{
	/* Beyond what is never passed to a program started as another user
	 * (envfilter.h): what a shell or an interpreter that pam_exec may run
	 * reads to find or load code. */
	static const char *const names[] = {
		"IFS", "CDPATH", "PATH", "ZDOTDIR", "HOME", "XDG_CONFIG_HOME",
		"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PERL5LIB",
		"PERL5OPT", "PERL5DB", "PERLLIB", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS",
		"NODE_PATH", "LUA_INIT", "LUA_PATH", "LUA_CPATH", "JAVA_TOOL_OPTIONS",
		"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", NULL,
	};
	size_t len = strcspn(text, "=");
	if (!env_name_valid(text, len) || env_never_passed(text, len))
		return true;
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == len && strncmp(text, names[i], len) == 0)
			return true;
	return strncmp(text, "GIT_", 4) == 0;
}
