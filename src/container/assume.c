/*
 * assume.c: the roles the container endpoints assume on ask.
 *
 * An "ecs-credentials" id that names a role ARN, and /role/<name>
 * (--base-role-arn + name), mean a role assumed on the node's credentials
 * (creds/assumed.c, shared with the pods that name the same role): pinned
 * on the first ask, then cached and refreshed like any role.  At most
 * ECS_ROLES_MAX are pinned: a caller cannot grow the registry without bound.
 */
#include <stdio.h>
#include <string.h>

#include "container/container.h"

static struct {
	struct ctr_roles cr;
	size_t		 nadded;
} as;

void
ctr_roles_init(const struct ctr_roles *cr)
{
	as.cr = *cr;
	as.nadded = 0;
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
	struct assumed *a = assumed_find(arn, NULL);

	if (a != NULL && assumed_pinned(a))
		return assumed_role(a);
	if (strlen(arn) > ROLE_KEY_MAX) {
		snprintf(err, errlen, "not a role ARN of at most %d bytes", ROLE_KEY_MAX);
		return NULL;
	}
	if (as.nadded >= ECS_ROLES_MAX) {
		snprintf(err, errlen, "no room for another role (%d are served)", ECS_ROLES_MAX);
		return NULL;
	}
	if ((a = assumed_pin(arn, now, err, errlen)) == NULL)
		return NULL;
	as.nadded++;
	log_info("role %s: served on the container endpoints", arn);
	return assumed_role(a);
}
