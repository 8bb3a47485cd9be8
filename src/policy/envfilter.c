/* The environment of a program started as another user: see envfilter.h. */
#include "policy/envfilter.h"

#include <stdio.h>
#include <string.h>

/* glibc 2.36 sysdeps/generic/unsecvars.h (GLIBC_TUNABLES included: glibc
 * filters it separately for set-id programs), less the LD_ and MALLOC_
 * names, which go as whole prefixes below; then the shell startup hooks. */
static const char *const never_names[] = {
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN",
	"LOCPATH", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR",
	"TZDIR",
	/* A shell reads a file named by ENV or BASH_ENV, takes functions
	 * from BASH_FUNC_*, options (xtrace, then PS4's substitutions) from
	 * SHELLOPTS and BASHOPTS. */
	"ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", NULL,
};

/* Every name with one of these prefixes: the dynamic loader's (LD_PRELOAD,
 * LD_LIBRARY_PATH, LD_AUDIT, LD_AOUT_*, ...) and malloc's debugging and
 * tunables aliases (MALLOC_TRACE, MALLOC_CHECK_, ...). */
static const char *const never_prefixes[] = {"LD_", "MALLOC_", "BASH_FUNC_", NULL};

bool env_name_valid(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		if (!letter && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

bool env_never_passed(const char *name, size_t len)
{
	for (size_t i = 0; never_names[i]; i++)
		if (strlen(never_names[i]) == len && memcmp(never_names[i], name, len) == 0)
			return true;
	for (size_t i = 0; never_prefixes[i]; i++) {
		size_t n = strlen(never_prefixes[i]);
		if (len >= n && memcmp(never_prefixes[i], name, n) == 0)
			return true;
	}
	return false;
}

bool env_pattern_valid(const char *pattern)
{
	size_t len = strlen(pattern);
	if (len == 1 && pattern[0] == '*')
		return true;
	if (len > 1 && pattern[len - 1] == '*')
		len--;
	return env_name_valid(pattern, len);
}

static bool pattern_matches(const char *pattern, const char *name, size_t len)
{
	size_t n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '*')
		return len >= n - 1 && memcmp(pattern, name, n - 1) == 0;
	return n == len && memcmp(pattern, name, len) == 0;
}

static bool allowed(const struct policy_value *allow, size_t allow_count, const char *name,
		    size_t len)
{
	for (size_t i = 0; allow && i < allow_count; i++)
		if (allow[i].text && pattern_matches(allow[i].text, name, len))
			return true;
	return false;
}

/* A value glibc would refuse to use as a path in a set-id program: TZ
 * naming a file outside the system's zone files (tzfile.c), and a locale
 * that is a path rather than a name. */
static bool unsafe_value(const char *name, size_t len, const char *value)
{
	if (len == 2 && memcmp(name, "TZ", 2) == 0) {
		const char *file = value[0] == ':' ? value + 1 : value;
		if (strstr(file, "../"))
			return true;
		return file[0] == '/' && strcmp(file, "/etc/localtime") != 0 &&
		       strncmp(file, "/usr/share/zoneinfo/", 20) != 0;
	}
	bool locale = (len == 4 && memcmp(name, "LANG", 4) == 0) ||
		      (len == 8 && memcmp(name, "LANGUAGE", 8) == 0) ||
		      (len > 3 && memcmp(name, "LC_", 3) == 0);
	return locale && strchr(value, '/') != NULL;
}

static const char NOT_LISTED[] = "not in the env list";

/* The length of the name of `entry`, or 0 when it has no '='. */
static size_t name_length(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : 0;
}

static bool named_twice(char *const in[], size_t count, size_t at, size_t len)
{
	for (size_t i = 0; i < count; i++)
		if (i != at && name_length(in[i]) == len && memcmp(in[i], in[at], len) == 0)
			return true;
	return false;
}

/* Add "NAME (why)" to the report: the name's bytes, any outside
 * [A-Za-z0-9_] as \xNN, at most 48 of them; never the value. */
static void report_drop(struct env_report *r, const char *name, size_t len, const char *why)
{
	r->dropped++;
	if (r->full)
		return;
	char buf[48 * 4 + 80];
	size_t o = 0;
	for (size_t i = 0; i < len && i < 48; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", c);
	}
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s (%s)", len > 48 ? "..." : "",
			      len == 0 ? "(no name)" : "", why);
	const char *sep = r->len ? ", " : "";
	/* Room left for ", ..." when the next one does not fit. */
	if (r->len + strlen(sep) + o + 6 >= sizeof(r->text)) {
		if (!r->full && r->len + 6 < sizeof(r->text))
			r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, ", ...");
		r->full = true;
		return;
	}
	r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len, "%s%s", sep, buf);
}

/* Why entry `i` of `in` does not pass, or NULL when it does. */
static const char *verdict(char *const in[], size_t count, size_t i,
			   const struct policy_value *allow, size_t allow_count)
{
	const char *entry = in[i];
	size_t len = name_length(entry);
	if (len == 0)
		return "malformed";
	if (!env_name_valid(entry, len))
		return "malformed name";
	if (strlen(entry) >= ENV_MAX_ENTRY)
		return "too long";
	if (named_twice(in, count, i, len))
		return "given twice";
	if (env_never_passed(entry, len))
		return "never passed";
	if (unsafe_value(entry, len, entry + len + 1))
		return "unsafe value";
	if (!allowed(allow, allow_count, entry, len))
		return NOT_LISTED;
	return NULL;
}

size_t env_filter(char *const in[], size_t count, const struct policy_value *allow,
		  size_t allow_count, char **out, struct env_report *report)
{
	memset(report, 0, sizeof(*report));
	size_t kept = 0;
	/* The report names what was refused as unsafe first, then what the
	 * policy did not name: the first part is the news. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < count; i++) {
			const char *why = verdict(in, count, i, allow, allow_count);
			if (!why && pass == 0)
				out[kept++] = in[i];
			if (!why || (why == NOT_LISTED) != (pass == 1))
				continue;
			/* Without '=', the whole entry is the only name it has. */
			const char *entry = in[i];
			report_drop(report, entry,
				    strchr(entry, '=') ? name_length(entry) : strlen(entry), why);
		}
	}
	out[kept] = NULL;
	return kept;
}
