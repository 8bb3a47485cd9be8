/* The policy model's life cycle: make, copy, compare and free what conf.c
 * builds. validate.c checks it, decide.c decides against it, dump.c prints
 * it; scope/resolve_scope.c resolves its names on this system. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/* --- life cycle --------------------------------------------------------- */

struct policy *policy_new(void)
{
	return calloc(1, sizeof(struct policy));
}

static void value_free(struct policy_value *v)
{
	free(v->text);
	v->text = NULL;
}

static void path_rules_free(struct path_rules *r)
{
	for (size_t i = 0; i < r->count; i++) {
		free(r->rules[i].path);
		free(r->rules[i].dir);
	}
	free(r->rules);
	memset(r, 0, sizeof(*r));
}

void policy_security_free(struct policy_security *s)
{
	value_free(&s->user);
	value_free(&s->group);
	value_free(&s->chroot);
	value_free(&s->capabilities);
	value_free(&s->privileges);
	for (size_t i = 0; i < s->supplemental_count; i++)
		value_free(&s->supplemental_groups[i]);
	free(s->supplemental_groups);
	free(s->gids);
	memset(s, 0, sizeof(*s));
}

int policy_value_copy(struct policy_value *dst, const struct policy_value *src)
{
	dst->origin = src->origin;
	dst->text = NULL;
	if (src->text && !(dst->text = strdup(src->text)))
		return -1;
	return 0;
}

int policy_security_copy(struct policy_security *dst, const struct policy_security *src)
{
	*dst = *src;
	dst->user.text = dst->group.text = dst->chroot.text = NULL;
	dst->capabilities.text = dst->privileges.text = NULL;
	dst->supplemental_groups = NULL;
	dst->supplemental_count = 0;
	dst->gids = NULL;
	dst->gid_count = 0;
	if (policy_value_copy(&dst->user, &src->user) < 0 || policy_value_copy(&dst->group, &src->group) < 0 ||
	    policy_value_copy(&dst->chroot, &src->chroot) < 0 ||
	    policy_value_copy(&dst->capabilities, &src->capabilities) < 0 ||
	    policy_value_copy(&dst->privileges, &src->privileges) < 0)
		goto fail;
	if (src->supplemental_count) {
		dst->supplemental_groups =
			calloc(src->supplemental_count, sizeof(*dst->supplemental_groups));
		if (!dst->supplemental_groups)
			goto fail;
		for (size_t i = 0; i < src->supplemental_count; i++) {
			dst->supplemental_count++;
			if (policy_value_copy(&dst->supplemental_groups[i], &src->supplemental_groups[i]) <
			    0)
				goto fail;
		}
	}
	if (src->gid_count) {
		dst->gids = calloc(src->gid_count, sizeof(*dst->gids));
		if (!dst->gids)
			goto fail;
		memcpy(dst->gids, src->gids, src->gid_count * sizeof(*dst->gids));
		dst->gid_count = src->gid_count;
	}
	return 0;
fail:
	policy_security_free(dst);
	errno = ENOMEM;
	return -1;
}

static bool text_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool policy_security_equal(const struct policy_security *a, const struct policy_security *b)
{
	if (a->uid != b->uid || a->gid != b->gid || a->gid_count != b->gid_count ||
	    a->cap_effective != b->cap_effective || a->cap_permitted != b->cap_permitted ||
	    a->cap_inheritable != b->cap_inheritable)
		return false;
	const char *ra = a->chroot.text && strcmp(a->chroot.text, "/") ? a->chroot.text : NULL;
	const char *rb = b->chroot.text && strcmp(b->chroot.text, "/") ? b->chroot.text : NULL;
	if (!text_equal(ra, rb))
		return false;
	/* Group lists are compared as sets. */
	for (size_t i = 0; i < a->gid_count; i++) {
		bool found = false;
		for (size_t j = 0; j < b->gid_count && !found; j++)
			found = a->gids[i] == b->gids[j];
		if (!found)
			return false;
	}
	return true;
}

void policy_run_rule_free(struct run_rule *r)
{
	free(r->program.path);
	free(r->program.dir);
	for (size_t i = 0; i < r->users.count; i++)
		free(r->users.rules[i].name);
	free(r->users.rules);
	free(r->chroot.text);
	for (size_t i = 0; i < r->env_count; i++)
		free(r->env[i].text);
	free(r->env);
	memset(r, 0, sizeof(*r));
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	path_rules_free(&p->open_ro);
	path_rules_free(&p->open_rw);
	path_rules_free(&p->open_ao);
	path_rules_free(&p->unlink);
	for (size_t i = 0; i < p->bind.count; i++)
		free(p->bind.rules[i].text);
	free(p->bind.rules);
	for (size_t i = 0; i < p->run_as.count; i++)
		free(p->run_as.rules[i].name);
	free(p->run_as.rules);
	for (size_t i = 0; i < p->run.count; i++)
		policy_run_rule_free(&p->run.rules[i]);
	free(p->run.rules);
	for (size_t i = 0; i < p->custom.count; i++)
		free(p->custom.rules[i].text);
	free(p->custom.rules);
	value_free(&p->custom_timeout);
	for (size_t i = 0; i < p->auth_service_count; i++)
		value_free(&p->auth_services[i]);
	free(p->auth_services);
	value_free(&p->unpriv_user);
	value_free(&p->chroot);
	policy_security_free(&p->security);
	policy_confine_free(&p->confine);
	for (size_t i = 0; i < p->file_count; i++)
		free(p->files[i]);
	free(p->files);
	free(p);
}
