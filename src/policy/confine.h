/* The `confine` scope of the policy language: what the program may do by
 * itself after the drop (read, write, execute files; bind and connect TCP
 * ports), as the operator wrote it. conf.c parses it into lists of values;
 * confine.c checks them and resolves the ports. scope/confine_apply.c turns the
 * result into a Landlock ruleset and a seccomp filter. */
#ifndef PRIVMAN_POLICY_CONFINE_H
#define PRIVMAN_POLICY_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/diag.h"

enum confine_list {
	CONFINE_READ,    /* read files, list directories */
	CONFINE_WRITE,   /* read, and write, create, remove, rename */
	CONFINE_EXEC,    /* execute (and read) */
	CONFINE_BIND,    /* TCP ports */
	CONFINE_CONNECT, /* TCP ports */
	CONFINE_LISTS,
};

/* One entry of a list as written; for ports, what it resolved to. */
struct confine_item {
	char *text;
	struct origin origin;
	bool any;      /* bind/connect `*`: that direction is not restricted */
	uint16_t port; /* bind/connect */
};

struct confine_items {
	struct confine_item *items;
	size_t count;
};

struct policy_confine {
	bool present; /* a `confine` scope was written */
	struct origin origin;
	struct confine_items lists[CONFINE_LISTS];
	/* `strict true`: refuse to start when the kernel lacks a right the
	 * scope needs, instead of enforcing what it has and reporting the rest. */
	bool strict;
	bool strict_set;
	struct origin strict_origin;
};

/* The name of a list as written in the language ("read", "bind"...). */
const char *confine_list_name(enum confine_list list);

/* Append the parser's value to a list; takes `text`. Returns 0 or -1. */
int confine_add_item(struct policy_confine *c, enum confine_list list, char *text,
		     const struct origin *at);

void policy_confine_free(struct policy_confine *c);

/* Check every entry (paths absolute and lexically clean, no wildcard;
 * ports numbers or services, or `*`) and resolve the ports. Returns 0, or
 * -1 with every mistake located in `d`. Touches nothing but /etc/services. */
int policy_confine_validate(struct policy_confine *c, struct diag *d);

/* True when two scopes say the same, entry by entry (a reload compares
 * the running scope with the new one). */
bool policy_confine_equal(const struct policy_confine *a, const struct policy_confine *b);

/* True when `bind` (or `connect`) has a `*`: that direction is open. */
bool confine_ports_any(const struct policy_confine *c, enum confine_list list);

#endif
