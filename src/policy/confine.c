/* The `confine` scope: its entries as written, checked and resolved. What
 * the kernel makes of them is scope/confine_apply.c's business. */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/confine.h"

static const char *const list_names[CONFINE_LISTS] = {
	[CONFINE_READ] = "read",   [CONFINE_WRITE] = "write",     [CONFINE_EXEC] = "exec",
	[CONFINE_BIND] = "bind",   [CONFINE_CONNECT] = "connect",
};

const char *confine_list_name(enum confine_list list)
{
	return (unsigned)list < CONFINE_LISTS ? list_names[list] : "?";
}

int confine_add_item(struct policy_confine *c, enum confine_list list, char *text,
		     const struct origin *at)
{
	struct confine_items *l = &c->lists[list];
	struct confine_item *grown = realloc(l->items, (l->count + 1) * sizeof(*grown));
	if (!grown) {
		free(text);
		return -1;
	}
	l->items = grown;
	memset(&grown[l->count], 0, sizeof(grown[0]));
	grown[l->count].text = text;
	grown[l->count].origin = *at;
	l->count++;
	return 0;
}

void policy_confine_free(struct policy_confine *c)
{
	for (int list = 0; list < CONFINE_LISTS; list++) {
		for (size_t i = 0; i < c->lists[list].count; i++)
			free(c->lists[list].items[i].text);
		free(c->lists[list].items);
	}
	memset(c, 0, sizeof(*c));
}

/* A Landlock rule grants a file, or a directory and everything beneath it:
 * there is no pattern to write, and a path is taken as it is. So it must
 * be absolute and clean (no "//", ".", "..", trailing '/') and hold no '*',
 * which would read as a wildcard. Returns NULL or what is wrong. */
static const char *confine_path_check(const char *path)
{
	if (path[0] != '/')
		return "is not an absolute path (it must start with '/')";
	if (strlen(path) >= PATH_MAX)
		return "is longer than PATH_MAX";
	if (strchr(path, '*'))
		return "contains '*': a directory grants everything beneath it, so write "
		       "the directory itself (/var/spool/app, not /var/spool/app/**)";
	if (strcmp(path, "/") == 0)
		return NULL;
	for (const char *element = path + 1;;) {
		const char *end = strchr(element, '/');
		size_t len = end ? (size_t)(end - element) : strlen(element);
		if (len == 0)
			return end ? "contains an empty element ('//')"
				   : "ends with '/'; write the directory without it";
		if (len == 1 && element[0] == '.')
			return "contains a '.' element; write the path without it";
		if (len == 2 && element[0] == '.' && element[1] == '.')
			return "contains a '..' element; write the real path";
		if (!end)
			return NULL;
		element = end + 1;
	}
}

/* A TCP port: a number, a service in /etc/services (tcp), or `*`. Port 0
 * in `bind` is the ephemeral port the kernel picks (bind to port 0). */
static const char *confine_port_check(struct confine_item *item, enum confine_list list)
{
	const char *text = item->text;
	if (strcmp(text, "*") == 0) {
		item->any = true;
		return NULL;
	}
	if (*text == '\0')
		return "is empty: expected a TCP port number, a service name or *";
	if (strspn(text, "0123456789") == strlen(text)) {
		long value = strlen(text) > 5 ? 65536 : strtol(text, NULL, 10);
		if (value > 65535)
			return "is not a port number (0-65535)";
		if (value == 0 && list == CONFINE_CONNECT)
			return "names port 0, which no connection reaches";
		item->port = (uint16_t)value;
		return NULL;
	}
	struct servent *s = getservbyname(text, "tcp");
	if (!s)
		return "is neither a port number nor a TCP service name in /etc/services";
	item->port = ntohs((uint16_t)s->s_port);
	return NULL;
}

int policy_confine_validate(struct policy_confine *c, struct diag *d)
{
	int rc = 0;
	if (!c->present)
		return 0;
	for (int list = 0; list < CONFINE_LISTS; list++) {
		bool ports = list == CONFINE_BIND || list == CONFINE_CONNECT;
		for (size_t i = 0; i < c->lists[list].count; i++) {
			struct confine_item *item = &c->lists[list].items[i];
			const char *why = ports ? confine_port_check(item, list)
						: confine_path_check(item->text);
			if (why) {
				diag_error(d, &item->origin, "confine { %s } %s \"%s\" %s",
					   list_names[list], ports ? "port" : "path", item->text,
					   why);
				rc = -1;
			}
		}
	}
	return rc;
}

bool policy_confine_equal(const struct policy_confine *a, const struct policy_confine *b)
{
	if (a->present != b->present || a->strict != b->strict)
		return false;
	for (int list = 0; list < CONFINE_LISTS; list++) {
		if (a->lists[list].count != b->lists[list].count)
			return false;
		for (size_t i = 0; i < a->lists[list].count; i++)
			if (strcmp(a->lists[list].items[i].text, b->lists[list].items[i].text) != 0)
				return false;
	}
	return true;
}

bool confine_ports_any(const struct policy_confine *c, enum confine_list list)
{
	for (size_t i = 0; i < c->lists[list].count; i++)
		if (c->lists[list].items[i].any)
			return true;
	return false;
}
