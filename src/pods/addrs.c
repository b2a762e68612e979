/*
 * addrs.c: which pod owns a source address now.
 *
 * The request path asks pods_table_lookup once per request: an open
 * addressing hash (linear probing, at most half full, deletion by backward
 * shift, so no tombstones) keyed by family + 16 address bytes, in one
 * allocation made by pods_table_new.  The watch path (pods_table_update,
 * pods_table_remove) finds a pod by uid with a linear scan of at most
 * POD_TABLE_PODS_MAX records: events are rare next to requests.
 *
 * Ownership is by pod, so that an address changing hands never serves
 * the old pod's role to the new one, whatever order the events come in:
 *   - a finished (Succeeded/Failed) pod and a hostNetwork pod own nothing;
 *   - a later pod listing an address another owns takes it, and the
 *     loser's claim is marked lost: its late events (MODIFIED still listing
 *     the address, a relist) never take it back;
 *   - a pod being deleted never takes an address from another pod;
 *   - deleting a pod removes only the addresses it still owns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/core.h"
#include "pods/pods.h"

#if (POD_TABLE_SLOTS & (POD_TABLE_SLOTS - 1)) != 0
#error "POD_TABLE_SLOTS must be a power of 2"
#endif

#define SLOT_FREE		0	/* s_pod of an empty slot: calloc's zeros, no page touched */

struct slot {
	unsigned char	 s_addr[16];
	int32_t		 s_pod;		/* 1 + index into t_pods, or SLOT_FREE */
	int32_t		 s_family;
};

struct claim {
	struct pod_addr	 c_addr;
	int		 c_lost;	/* 1: another pod took it (or had it when we were deleting) */
};

struct pod_rec {
	char		 r_uid[POD_UID_MAX + 1];	/* "" : a free record */
	void		*r_user;
	struct claim	 r_claims[POD_ADDRS_PER_POD];	/* what it listed last */
	size_t		 r_nclaims;
};

struct pod_table {
	struct slot	 t_slots[POD_TABLE_SLOTS];
	struct pod_rec	 t_pods[POD_TABLE_PODS_MAX];
	size_t		 t_npods;
	size_t		 t_naddrs;
};

static int
addr_eq(const struct slot *s, int family, const unsigned char addr[16])
{
	return s->s_family == family && memcmp(s->s_addr, addr, 16) == 0;
}

/* The slot holding the address, or the empty slot where it would go. */
static size_t
slot_find(const struct pod_table *t, int family, const unsigned char addr[16])
{
	size_t i = addr_hash(family, addr) & (POD_TABLE_SLOTS - 1);

	while (t->t_slots[i].s_pod != SLOT_FREE && !addr_eq(&t->t_slots[i], family, addr))
		i = (i + 1) & (POD_TABLE_SLOTS - 1);
	return i;
}

/* Empty slot i, moving later entries of its run back (no tombstones). */
static void
slot_delete(struct pod_table *t, size_t i)
{
	size_t j = i, home;

	t->t_slots[i].s_pod = SLOT_FREE;
	t->t_naddrs--;
	for (;;) {
		j = (j + 1) & (POD_TABLE_SLOTS - 1);
		if (t->t_slots[j].s_pod == SLOT_FREE)
			return;
		home = addr_hash(t->t_slots[j].s_family, t->t_slots[j].s_addr) &
		    (POD_TABLE_SLOTS - 1);
		/* j may move to i when its home is not cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->t_slots[i] = t->t_slots[j];
			t->t_slots[j].s_pod = SLOT_FREE;
			i = j;
		}
	}
}

struct pod_table *
pods_table_new(void)
{
	return calloc(1, sizeof(struct pod_table));	/* every slot SLOT_FREE */
}

void
pods_table_free(struct pod_table *t)
{
	free(t);
}

static long
rec_find(const struct pod_table *t, const char *uid)
{
	size_t i;

	for (i = 0; i < POD_TABLE_PODS_MAX; i++)
		if (t->t_pods[i].r_uid[0] != '\0' && strcmp(t->t_pods[i].r_uid, uid) == 0)
			return (long)i;
	return -1;
}

static long
rec_new(struct pod_table *t, const char *uid)
{
	size_t i;

	for (i = 0; i < POD_TABLE_PODS_MAX; i++) {
		if (t->t_pods[i].r_uid[0] == '\0') {
			memset(&t->t_pods[i], 0, sizeof(t->t_pods[i]));
			memcpy(t->t_pods[i].r_uid, uid, strlen(uid));
			t->t_npods++;
			return (long)i;
		}
	}
	return -1;
}

static struct claim *
claim_find(struct pod_rec *r, const struct pod_addr *a)
{
	size_t i;

	for (i = 0; i < r->r_nclaims; i++)
		if (r->r_claims[i].c_addr.pa_family == a->pa_family &&
		    memcmp(r->r_claims[i].c_addr.pa_addr, a->pa_addr, 16) == 0)
			return &r->r_claims[i];
	return NULL;
}

/* Release what pod p owns among its claims that are not in keep[0..n). */
static void
release_unlisted(struct pod_table *t, long p, const struct claim *keep, size_t n)
{
	struct pod_rec *r = &t->t_pods[p];
	const struct pod_addr *a;
	size_t i, k, s;

	for (i = 0; i < r->r_nclaims; i++) {
		a = &r->r_claims[i].c_addr;
		for (k = 0; k < n; k++)
			if (keep[k].c_addr.pa_family == a->pa_family &&
			    memcmp(keep[k].c_addr.pa_addr, a->pa_addr, 16) == 0)
				break;
		if (k < n)
			continue;
		s = slot_find(t, a->pa_family, a->pa_addr);
		if (t->t_slots[s].s_pod == p + 1)
			slot_delete(t, s);
	}
}

/* Pod p claims c (not lost): own it if the rules let it. */
static void
claim_take(struct pod_table *t, long p, struct claim *c, int deleting)
{
	size_t s = slot_find(t, c->c_addr.pa_family, c->c_addr.pa_addr);
	struct slot *sl = &t->t_slots[s];
	struct claim *other;

	if (sl->s_pod == p + 1)
		return;
	if (sl->s_pod == SLOT_FREE) {
		memcpy(sl->s_addr, c->c_addr.pa_addr, 16);
		sl->s_family = c->c_addr.pa_family;
		sl->s_pod = (int32_t)p + 1;
		t->t_naddrs++;
		return;
	}
	if (deleting) {
		c->c_lost = 1;
		return;
	}
	if ((other = claim_find(&t->t_pods[sl->s_pod - 1], &c->c_addr)) != NULL)
		other->c_lost = 1;
	sl->s_pod = (int32_t)p + 1;
}

int
pods_table_update(struct pod_table *t, const struct pod_state *st)
{
	struct claim next[POD_ADDRS_PER_POD], *old;
	size_t i, k, n = 0;
	long p;

	memset(next, 0, sizeof(next));
	if (st->ps_uid == NULL || st->ps_uid[0] == '\0' || strlen(st->ps_uid) > POD_UID_MAX)
		return -1;
	if ((p = rec_find(t, st->ps_uid)) == -1 && (p = rec_new(t, st->ps_uid)) == -1)
		return -1;
	if (!st->ps_finished && !st->ps_host_network) {
		for (i = 0; i < st->ps_naddrs && i < POD_ADDRS_PER_POD; i++) {
			if (st->ps_addrs[i].pa_family != AF_INET &&
			    st->ps_addrs[i].pa_family != AF_INET6)
				continue;
			for (k = 0; k < n; k++)
				if (next[k].c_addr.pa_family == st->ps_addrs[i].pa_family &&
				    memcmp(next[k].c_addr.pa_addr, st->ps_addrs[i].pa_addr, 16) == 0)
					break;
			if (k < n)
				continue;
			next[n].c_addr = st->ps_addrs[i];
			old = claim_find(&t->t_pods[p], &st->ps_addrs[i]);
			next[n].c_lost = old != NULL && old->c_lost;
			n++;
		}
	}
	release_unlisted(t, p, next, n);
	for (i = 0; i < n; i++)
		if (!next[i].c_lost)
			claim_take(t, p, &next[i], st->ps_deleting);
	memcpy(t->t_pods[p].r_claims, next, n * sizeof(next[0]));
	t->t_pods[p].r_nclaims = n;
	t->t_pods[p].r_user = st->ps_user;
	return 0;
}

void
pods_table_remove(struct pod_table *t, const char *uid)
{
	long p;

	if (uid == NULL || (p = rec_find(t, uid)) == -1)
		return;
	release_unlisted(t, p, NULL, 0);
	memset(&t->t_pods[p], 0, sizeof(t->t_pods[p]));
	t->t_npods--;
}

void *
pods_table_lookup(const struct pod_table *t, int family, const unsigned char addr[16])
{
	size_t s = slot_find(t, family, addr);

	if (t->t_slots[s].s_pod == SLOT_FREE)
		return NULL;
	return t->t_pods[t->t_slots[s].s_pod - 1].r_user;
}

size_t
pods_table_pods(const struct pod_table *t)
{
	return t->t_npods;
}

size_t
pods_table_addrs(const struct pod_table *t)
{
	return t->t_naddrs;
}

int
pods_table_owns(const struct pod_table *t, const char *uid, int family,
    const unsigned char addr[16])
{
	size_t s = slot_find(t, family, addr);
	long p = rec_find(t, uid);

	return p != -1 && t->t_slots[s].s_pod == p + 1;
}
