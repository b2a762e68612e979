/*
 * addrs.c: which pod owns a source address now.
 *
 * The request path asks pods_table_lookup once per request: an open
 * addressing hash (linear probing, at most half full, deletion by backward
 * shift, so no tombstones) keyed by family + 16 address bytes.  The watch
 * path (pods_table_update, pods_table_remove) finds a pod by uid with a
 * linear scan of the records: events are rare next to requests.  Both grow
 * with the node (doubling, the hash rebuilt), up to POD_TABLE_PODS_MAX pods
 * and POD_TABLE_SLOTS slots, and never shrink: memory follows the most pods
 * the node has had, not the most it may have.
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

#define POD_TABLE_SLOTS_MIN	64	/* hash slots at first */
#define POD_TABLE_RECS_INIT	16	/* pod records at first */

#if (POD_TABLE_SLOTS & (POD_TABLE_SLOTS - 1)) != 0
#error "POD_TABLE_SLOTS must be a power of 2"
#endif
#if (POD_TABLE_SLOTS_MIN & (POD_TABLE_SLOTS_MIN - 1)) != 0 || \
    POD_TABLE_SLOTS_MIN < 2 * POD_ADDRS_PER_POD || POD_TABLE_SLOTS_MIN > POD_TABLE_SLOTS
#error "POD_TABLE_SLOTS_MIN must be a power of 2 with room for a pod, at most POD_TABLE_SLOTS"
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
	struct slot	*t_slots;	/* t_mask + 1 of them, a power of 2 */
	size_t		 t_mask;
	struct pod_rec	*t_pods;	/* t_cap records; a free one has r_uid "" */
	size_t		 t_cap;
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
	size_t i = addr_hash(family, addr) & t->t_mask;

	while (t->t_slots[i].s_pod != SLOT_FREE && !addr_eq(&t->t_slots[i], family, addr))
		i = (i + 1) & t->t_mask;
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
		j = (j + 1) & t->t_mask;
		if (t->t_slots[j].s_pod == SLOT_FREE)
			return;
		home = addr_hash(t->t_slots[j].s_family, t->t_slots[j].s_addr) & t->t_mask;
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
	struct pod_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	/* calloc: every slot SLOT_FREE */
	if ((t->t_slots = calloc(POD_TABLE_SLOTS_MIN, sizeof(*t->t_slots))) == NULL) {
		free(t);
		return NULL;
	}
	t->t_mask = POD_TABLE_SLOTS_MIN - 1;
	return t;
}

void
pods_table_free(struct pod_table *t)
{
	if (t == NULL)
		return;
	free(t->t_slots);
	free(t->t_pods);
	free(t);
}

/*
 * Room in the hash for n more addresses, at most half full: the slots
 * doubled and every address put in again when needed.  POD_TABLE_SLOTS is
 * twice POD_TABLE_ADDRS_MAX, so a table that has them all has room for
 * every address its pods may own.  0 / -1 (out of memory: the table is
 * unchanged).
 */
static int
slots_room(struct pod_table *t, size_t n)
{
	struct slot *old = t->t_slots, *s;
	size_t oldn = t->t_mask + 1, newn = oldn, i, k;

	while (2 * (t->t_naddrs + n) > newn && newn < POD_TABLE_SLOTS)
		newn *= 2;
	if (newn == oldn)
		return 0;
	if ((s = calloc(newn, sizeof(*s))) == NULL)
		return -1;
	for (i = 0; i < oldn; i++) {
		if (old[i].s_pod == SLOT_FREE)
			continue;
		k = addr_hash(old[i].s_family, old[i].s_addr) & (newn - 1);
		while (s[k].s_pod != SLOT_FREE)
			k = (k + 1) & (newn - 1);
		s[k] = old[i];
	}
	t->t_slots = s;
	t->t_mask = newn - 1;
	free(old);
	return 0;
}

static long
rec_find(const struct pod_table *t, const char *uid)
{
	size_t i;

	for (i = 0; i < t->t_cap; i++)
		if (t->t_pods[i].r_uid[0] != '\0' && strcmp(t->t_pods[i].r_uid, uid) == 0)
			return (long)i;
	return -1;
}

/* A free record for uid, the records grown (doubled) when none is.  Its index, or -1. */
static long
rec_new(struct pod_table *t, const char *uid)
{
	struct pod_rec *grown;
	size_t i, cap;

	for (i = 0; i < t->t_cap && t->t_pods[i].r_uid[0] != '\0'; i++)
		;
	if (i == t->t_cap) {
		cap = t->t_cap;
		if ((grown = array_grow(t->t_pods, &cap, sizeof(*grown), POD_TABLE_RECS_INIT,
		    POD_TABLE_PODS_MAX)) == NULL)
			return -1;
		memset(&grown[t->t_cap], 0, (cap - t->t_cap) * sizeof(*grown));
		t->t_pods = grown;
		t->t_cap = cap;
	}
	memset(&t->t_pods[i], 0, sizeof(t->t_pods[i]));
	memcpy(t->t_pods[i].r_uid, uid, strlen(uid));
	t->t_npods++;
	return (long)i;
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
	/* room first: nothing is changed by a pod that cannot be taken */
	if (slots_room(t, POD_ADDRS_PER_POD) == -1)
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

IDLE_PATH size_t
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
