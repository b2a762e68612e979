/*
 * registry.c: the role registry.
 *
 * Each role has a key (fixed: how callers are mapped to it), a name and
 * account (what is served; a profile's chain edit can rename it), a cache
 * of its own (creds.c) and its current renderings, one per service kind
 * (enum role_rendering).  The cache calls back when what should be served
 * changes (new credentials, or expiry); the role is rendered again right
 * then, by every renderer (a lazy one only once the role was first asked of
 * it: registry_view), the new renderings swapped in, and only then is the
 * registry's owner told.  Nothing else is rebuilt: a renderer sees one
 * role.
 *
 * Renderings are their renderer's refcounted objects.  The registry holds
 * one reference to each of a role's current renderings; whoever serves from
 * one takes its own for as long as it points into it.
 *
 * A role removed while a fetch is under way cannot be freed yet (its
 * provider would call back into freed memory): it leaves the table at once,
 * is neither rendered nor reported again, and registry_tick frees it once
 * the fetch has ended.  The same goes for a role removed by the owner's
 * callback about that very role (the cache is still running then).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds/creds.h"

#define REGISTRY_CAP_INIT	4	/* first allocation of the role table */

void
registry_init(struct role_registry *rg, void (*changed)(void *arg, struct role *r),
    void *arg)
{
	memset(rg, 0, sizeof(*rg));
	rg->rg_changed = changed;
	rg->rg_arg = arg;
	rg->rg_clock = clock_wall;
}

void
registry_renderer(struct role_registry *rg, enum role_rendering which,
    const struct role_renderer *rr)
{
	rg->rg_render[which] = *rr;
}

/* Drop r's renderings (the registry's references). */
static void
views_drop(struct role *r)
{
	size_t k;

	for (k = 0; k < RENDERINGS; k++)
		if (r->ro_views[k] != NULL) {
			r->ro_reg->rg_render[k].rr_unref(r->ro_views[k]);
			r->ro_views[k] = NULL;
		}
}

/* "" or 1..ROLE_ACCOUNT_MAX digits. */
static int
account_ok(const char *s)
{
	size_t n = strlen(s);

	return n <= ROLE_ACCOUNT_MAX && all_digits(s, n);
}

static int
name_ok(const char *name, const char *account, char *err, size_t errlen)
{
	if (strlen(name) > ROLE_NAME_MAX) {
		snprintf(err, errlen, "role name over %d bytes", ROLE_NAME_MAX);
		return 0;
	}
	if (!account_ok(account)) {
		snprintf(err, errlen, "role account: not an account ID");
		return 0;
	}
	return 1;
}

/* The cache's credentials changed: render, swap, tell the owner. */
static void
role_changed(void *arg)
{
	struct role *r = arg;
	struct role_registry *rg = r->ro_reg;

	if (r->ro_retired)
		return;
	registry_render(r, rg->rg_clock());
	/* the owner may remove r: the cache that called us is still running */
	r->ro_calling = 1;
	if (rg->rg_changed != NULL)
		rg->rg_changed(rg->rg_arg, r);
	r->ro_calling = 0;
}

/* Room for one more role in the table.  0 / -1. */
static int
table_grow(struct role_registry *rg)
{
	struct role **grown;

	if (rg->rg_n < rg->rg_cap)
		return 0;
	if ((grown = array_grow(rg->rg_roles, &rg->rg_cap, sizeof(*grown), REGISTRY_CAP_INIT,
	    REGISTRY_ROLES_MAX)) == NULL)
		return -1;
	rg->rg_roles = grown;
	return 0;
}

struct role *
registry_add(struct role_registry *rg, const char *key, const char *name,
    const char *account, struct cred_provider *prov, char *err, size_t errlen)
{
	struct role *r = NULL;
	size_t klen = strlen(key);

	if (klen == 0 || klen > ROLE_KEY_MAX) {
		snprintf(err, errlen, "role key: 1 to %d bytes", ROLE_KEY_MAX);
		goto fail;
	}
	if (registry_find(rg, key) != NULL) {
		snprintf(err, errlen, "role key %s: already in use", key);
		goto fail;
	}
	if (rg->rg_n >= REGISTRY_ROLES_MAX) {
		snprintf(err, errlen, "more than %d roles", REGISTRY_ROLES_MAX);
		goto fail;
	}
	if (!name_ok(name, account, err, errlen))
		goto fail;
	if (table_grow(rg) == -1 || (r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "role registry: out of memory");
		goto fail;
	}
	memcpy(r->ro_key, key, klen + 1);
	snprintf(r->ro_name, sizeof(r->ro_name), "%s", name);
	snprintf(r->ro_account, sizeof(r->ro_account), "%s", account);
	r->ro_reg = rg;
	cred_cache_init(&r->ro_cache, prov, role_changed, r);
	r->ro_cache.cc_clock = rg->rg_clock;
	rg->rg_roles[rg->rg_n++] = r;
	return r;
fail:
	if (prov != NULL && prov->cp_free != NULL)
		prov->cp_free(prov);
	return NULL;
}

struct role *
registry_find(const struct role_registry *rg, const char *key)
{
	size_t i;

	for (i = 0; i < rg->rg_n; i++)
		if (strcmp(rg->rg_roles[i]->ro_key, key) == 0)
			return rg->rg_roles[i];
	return NULL;
}

/* Drop r's renderings and free it (its fetch has ended). */
static void
role_free(struct role *r)
{
	views_drop(r);
	cred_cache_free(&r->ro_cache);
	explicit_bzero(r, sizeof(*r));
	free(r);
}

void
registry_remove(struct role_registry *rg, struct role *r)
{
	size_t i;

	for (i = 0; i < rg->rg_n && rg->rg_roles[i] != r; i++)
		;
	if (i == rg->rg_n)
		return;		/* not ours, or removed already */
	rg->rg_roles[i] = rg->rg_roles[--rg->rg_n];
	if (!r->ro_cache.cc_busy && !r->ro_calling) {
		role_free(r);
		return;
	}
	r->ro_retired = 1;
	r->ro_cache.cc_again = 0;	/* the fetch under way is its last */
	views_drop(r);
	r->ro_next = rg->rg_retired;
	rg->rg_retired = r;
}

int
registry_rename(struct role *r, const char *name, const char *account)
{
	char err[ERRBUF_LEN];

	if (!name_ok(name, account, err, sizeof(err)))
		return -1;
	snprintf(r->ro_name, sizeof(r->ro_name), "%s", name);
	snprintf(r->ro_account, sizeof(r->ro_account), "%s", account);
	return 0;
}

void
registry_refresh(struct role *r, time_t now)
{
	cred_cache_refresh(&r->ro_cache, now);
}

int
registry_render(struct role *r, time_t now)
{
	const struct role_renderer *rr;
	size_t k;
	void *v;
	int rc = 0;

	if (r->ro_retired)
		return -1;
	for (k = 0; k < RENDERINGS; k++) {
		rr = &r->ro_reg->rg_render[k];
		if (rr->rr_render == NULL || (rr->rr_lazy && r->ro_views[k] == NULL))
			continue;	/* a lazy one not used yet: its first use renders it */
		if ((v = rr->rr_render(rr->rr_arg, r, now)) == NULL) {
			rc = -1;
			continue;
		}
		if (r->ro_views[k] != NULL)
			rr->rr_unref(r->ro_views[k]);
		r->ro_views[k] = v;
	}
	return rc;
}

void *
registry_view(const struct role *cr, enum role_rendering which)
{
	struct role *r = (struct role *)(uintptr_t)cr;
	const struct role_renderer *rr;

	if (r->ro_views[which] == NULL && !r->ro_retired && r->ro_reg != NULL) {
		rr = &r->ro_reg->rg_render[which];
		if (rr->rr_render != NULL && rr->rr_lazy)
			r->ro_views[which] = rr->rr_render(rr->rr_arg, r, r->ro_reg->rg_clock());
	}
	return r->ro_views[which];
}

void
registry_render_all(struct role_registry *rg, time_t now)
{
	size_t i;

	for (i = 0; i < rg->rg_n; i++)
		registry_render(rg->rg_roles[i], now);
}

IDLE_PATH void
registry_tick(struct role_registry *rg, time_t now)
{
	struct role **pp, *r;
	size_t i;

	/*
	 * A tick may render and call the owner back, who may add or remove
	 * roles: a removal moves the last role into the slot, which this tick
	 * may then skip; the next one covers it.
	 */
	for (i = 0; i < rg->rg_n; i++)
		cred_cache_tick(&rg->rg_roles[i]->ro_cache, now);
	for (pp = &rg->rg_retired; (r = *pp) != NULL;) {
		if (r->ro_cache.cc_busy || r->ro_calling) {
			pp = &r->ro_next;
			continue;
		}
		*pp = r->ro_next;
		role_free(r);
	}
}

void
registry_free(struct role_registry *rg)
{
	struct role *r;

	while (rg->rg_n > 0)
		role_free(rg->rg_roles[--rg->rg_n]);
	while ((r = rg->rg_retired) != NULL) {
		rg->rg_retired = r->ro_next;
		role_free(r);
	}
	free(rg->rg_roles);
	rg->rg_roles = NULL;
	rg->rg_cap = 0;
}
