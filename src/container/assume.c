/*
 * assume.c: the roles the container endpoints assume on ask.
 *
 * An "ecs-credentials" id that names a role ARN, and /role/<name>
 * (--base-role-arn + name), mean a role of the registry keyed by its ARN:
 * added on the first ask, then cached and refreshed like any role (the
 * registry's renderings, the cache's schedule).  Their STS base is the
 * node's own credentials, those IMDS serves, through one shared base
 * (creds_sts.c's cred_base): a provider that hands over the node role's
 * current credentials, so N roles refreshed together ask nothing more of
 * the source.  At most ECS_ROLES_MAX roles are added: a caller cannot grow
 * the registry without bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container/container.h"

static struct {
	struct ctr_roles cr;
	struct cred_base *base;		/* the node's credentials, shared */
	size_t		 nadded;
} as;

/* The node role's credentials as they are now (its cache refreshes them). */
static void
node_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	const struct cred_cache *cc = &as.cr.cr_node->ro_cache;

	(void)cp;
	(void)now;
	if (cc->cc_have)
		done(arg, 1, &cc->cc_cur, NULL);
	else
		done(arg, 0, NULL, "the node's own credentials are not there (yet)");
}

static struct cred_provider node_provider = {
	.cp_name = "node",
	.cp_desc = "the node's credentials",
	.cp_fetch = node_fetch,
};

int
ctr_roles_init(const struct ctr_roles *cr, char *err, size_t errlen)
{
	as.cr = *cr;
	as.nadded = 0;
	return cred_base_new(&node_provider, &as.base, err, errlen);
}

struct role *
ctr_node_role(void)
{
	return as.cr.cr_node;
}

const char *
ctr_base_arn(void)
{
	return as.cr.cr_base_arn;
}

struct role *
ctr_role_for_arn(const char *arn, time_t now, char *err, size_t errlen)
{
	char name[ROLE_NAME_MAX + 1], acct[CRED_ACCOUNT_BUF];
	struct assume_step step;
	struct cred_provider *p;
	struct role *r;

	if ((r = registry_find(as.cr.cr_reg, arn)) != NULL)
		return r;
	if (strlen(arn) > ROLE_KEY_MAX || sts_role_name(arn, name, sizeof(name), acct,
	    sizeof(acct)) == -1) {
		snprintf(err, errlen, "not a role ARN of at most %d bytes", ROLE_KEY_MAX);
		return NULL;
	}
	if (as.base == NULL || as.nadded >= ECS_ROLES_MAX) {
		snprintf(err, errlen, "no room for another role (%d are served)", ECS_ROLES_MAX);
		return NULL;
	}
	memset(&step, 0, sizeof(step));
	snprintf(step.as_arn, sizeof(step.as_arn), "%s", arn);
	if (as.cr.cr_session != NULL)
		snprintf(step.as_session, sizeof(step.as_session), "%s", as.cr.cr_session);
	else
		sts_default_session_name(step.as_session, sizeof(step.as_session));
	step.as_duration = as.cr.cr_duration;
	if (cred_provider_sts_on(as.base, &step, 1, as.cr.cr_duration, 0, &p, err,
	    errlen) == -1)
		return NULL;
	if ((r = registry_add(as.cr.cr_reg, arn, name, acct, p, err, errlen)) == NULL)
		return NULL;
	as.nadded++;
	log_info("role %s: added for the container endpoints, assumed with the node's "
	    "credentials", arn);
	registry_refresh(r, now);
	return r;
}

void
ctr_roles_free(void)
{
	if (as.base != NULL)
		cred_base_unref(as.base);
	as.base = NULL;
}
