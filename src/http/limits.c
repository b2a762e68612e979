/*
 * limits.c: the per-client table of a service.
 *
 * A client is an address (the port is not part of it).  The table counts
 * each one's open connections (the service's per-client cap: more are
 * refused at once) and holds its token bucket (the service's rate: a
 * request over it is answered 429).  A chained hash over an array sized at
 * start: every connected client has an entry, plus RATE_TRACK_MAX more
 * remembered for their rate; an entry whose bucket is full and that has no
 * connection says nothing a new one would not, and is forgotten.  When the
 * table is full, the first unconnected entry is forgotten (its rate is
 * lost, never a connection count).  Nothing here does I/O: the clock is an
 * argument, so the unit test drives it.
 *
 * Both arrays come from calloc and are used from their start: the hash
 * holds 1 + an entry's index (0: empty), and entries are handed out from
 * ct_fresh up before any is reused, so the pages past the most clients
 * there have been at once are never touched (a table for 1024 connections
 * is 57 KiB, most of it never needed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static size_t
clients_slot(const struct clients *ct, int family, const unsigned char *a)
{
	return addr_hash(family, a) & ct->ct_mask;
}

int
clients_init(struct clients *ct, size_t conn_max, int evict, unsigned long per_client,
    unsigned rate, char *err, size_t errlen)
{
	size_t hsize = 1;

	memset(ct, 0, sizeof(*ct));
	ct->ct_free = -1;
	ct->ct_per_client = per_client;
	ct->ct_rate = rate;
	if (per_client == 0 && rate == 0)
		return 0;	/* off: clients_get answers -1 */
	/* an evicting service holds the newcomer's entry before it closes a victim */
	ct->ct_n = conn_max + (evict ? 1 : 0) + (rate > 0 ? RATE_TRACK_MAX : 0);
	while (hsize < 2 * ct->ct_n)
		hsize <<= 1;
	if ((ct->ct_ent = calloc(ct->ct_n, sizeof(*ct->ct_ent))) == NULL ||
	    (ct->ct_hash = calloc(hsize, sizeof(*ct->ct_hash))) == NULL) {
		snprintf(err, errlen, "client table of %zu: out of memory", ct->ct_n);
		clients_free(ct);
		return -1;
	}
	ct->ct_mask = hsize - 1;
	return 0;
}

void
clients_free(struct clients *ct)
{
	free(ct->ct_ent);
	free(ct->ct_hash);
	ct->ct_ent = NULL;
	ct->ct_hash = NULL;
	ct->ct_n = 0;
	ct->ct_fresh = 0;
	ct->ct_free = -1;
}

/* A full bucket and no connection: the entry says nothing a new one would not. */
static int
clients_idle(const struct clients *ct, const struct client *cl, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)ct->ct_rate * CLIENTS_MILLI;

	return cl->cl_nconn == 0 && (ct->ct_rate == 0 ||
	    cl->cl_tokens + (now_ms - cl->cl_last_ms) * ct->ct_rate >= cap);
}

static void
clients_remove(struct clients *ct, int idx)
{
	struct client *cl = &ct->ct_ent[idx];
	int *head = &ct->ct_hash[clients_slot(ct, cl->cl_family, cl->cl_addr)], i;

	if (*head - 1 == idx)
		*head = cl->cl_next + 1;
	else {
		for (i = *head - 1; ct->ct_ent[i].cl_next != idx; i = ct->ct_ent[i].cl_next)
			;
		ct->ct_ent[i].cl_next = cl->cl_next;
	}
	cl->cl_family = 0;
	cl->cl_next = ct->ct_free;
	ct->ct_free = idx;
}

void
clients_gc(struct clients *ct, uint64_t now_ms, int force)
{
	size_t i;
	int victim = -1;

	for (i = 0; i < ct->ct_fresh; i++) {
		struct client *cl = &ct->ct_ent[i];
		if (cl->cl_family == 0)
			continue;
		if (clients_idle(ct, cl, now_ms))
			clients_remove(ct, (int)i);
		else if (victim == -1 && cl->cl_nconn == 0)
			victim = (int)i;
	}
	if (force && ct->ct_free == -1 && ct->ct_fresh == ct->ct_n && victim != -1)
		clients_remove(ct, victim);	/* forgets one client's rate: the table is full */
}

int
clients_get(struct clients *ct, const struct http_peer *pe, uint64_t now_ms)
{
	size_t slot;
	struct client *cl;
	int idx;

	if (ct->ct_ent == NULL)
		return -1;
	slot = clients_slot(ct, pe->pe_family, pe->pe_addr);
	for (idx = ct->ct_hash[slot] - 1; idx != -1; idx = ct->ct_ent[idx].cl_next)
		if (ct->ct_ent[idx].cl_family == pe->pe_family &&
		    memcmp(ct->ct_ent[idx].cl_addr, pe->pe_addr, 16) == 0)
			return idx;
	if (ct->ct_free == -1 && ct->ct_fresh == ct->ct_n)
		clients_gc(ct, now_ms, 1);
	if ((idx = ct->ct_free) != -1)
		ct->ct_free = ct->ct_ent[idx].cl_next;
	else if (ct->ct_fresh < ct->ct_n)
		idx = (int)ct->ct_fresh++;
	else
		return -1;
	cl = &ct->ct_ent[idx];
	memcpy(cl->cl_addr, pe->pe_addr, 16);
	cl->cl_family = pe->pe_family;
	cl->cl_nconn = 0;
	cl->cl_tokens = (uint64_t)ct->ct_rate * CLIENTS_MILLI;
	cl->cl_last_ms = now_ms;
	cl->cl_next = ct->ct_hash[slot] - 1;
	ct->ct_hash[slot] = idx + 1;
	return idx;
}

void
clients_hold(struct clients *ct, int idx)
{
	ct->ct_ent[idx].cl_nconn++;
}

void
clients_release(struct clients *ct, int idx, uint64_t now_ms)
{
	struct client *cl = &ct->ct_ent[idx];

	cl->cl_nconn--;
	if (clients_idle(ct, cl, now_ms))
		clients_remove(ct, idx);
}

int
clients_rate_ok(struct clients *ct, int idx, uint64_t now_ms)
{
	struct client *cl = &ct->ct_ent[idx];
	uint64_t cap = (uint64_t)ct->ct_rate * CLIENTS_MILLI;

	cl->cl_tokens += (now_ms - cl->cl_last_ms) * ct->ct_rate;
	if (cl->cl_tokens > cap)
		cl->cl_tokens = cap;
	cl->cl_last_ms = now_ms;
	if (cl->cl_tokens < CLIENTS_MILLI)
		return 0;
	cl->cl_tokens -= CLIENTS_MILLI;
	return 1;
}

enum admit
clients_admit(const struct clients *ct, int idx, int pool_full, int evict)
{
	if (idx >= 0 && ct->ct_per_client > 0 && ct->ct_ent[idx].cl_nconn >= ct->ct_per_client)
		return REFUSE_CLIENT;	/* one address may not take the pool */
	if (!pool_full)
		return ADMIT;
	return evict ? ADMIT_EVICT : REFUSE_POOL;
}
