/*
 * test_limits.c: the per-client table (http/limits.c) without sockets:
 * connections counted per address, the token bucket, forgetting entries,
 * and the admission decision (refuse, or evict for a newcomer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http/http.h"

static struct clients ct;
static char err[ERRBUF_LEN];

/* A peer from an address in text; IPv6 when it has a ':'. */
static struct http_peer
peer(const char *addr)
{
	struct http_peer pe;

	memset(&pe, 0, sizeof(pe));
	pe.pe_family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(pe.pe_family, addr, pe.pe_addr), 1);
	pe.pe_port = 40000;
	return pe;
}

static int
teardown(void **state)
{
	(void)state;
	clients_free(&ct);
	return 0;
}

/* Per-client cap 2: a third connection from one address is refused, others are not. */
static void
test_per_client_count(void **state)
{
	struct http_peer a = peer("127.0.0.2"), b = peer("127.0.0.1");
	int ia, ib, again;

	(void)state;
	assert_int_equal(clients_init(&ct, 16, 0, 2, 0, err, sizeof(err)), 0);
	ia = clients_get(&ct, &a, 0);
	assert_true(ia >= 0);
	assert_int_equal(clients_admit(&ct, ia, 0, 0), ADMIT);
	clients_hold(&ct, ia);
	a.pe_port = 40001;	/* the port is not part of the client */
	assert_int_equal(clients_get(&ct, &a, 0), ia);
	assert_int_equal(clients_admit(&ct, ia, 0, 0), ADMIT);
	clients_hold(&ct, ia);
	assert_int_equal(clients_admit(&ct, ia, 0, 0), REFUSE_CLIENT);
	/* even when evicting: the cap is the address's, not the pool's */
	assert_int_equal(clients_admit(&ct, ia, 1, 1), REFUSE_CLIENT);

	ib = clients_get(&ct, &b, 0);
	assert_true(ib >= 0);
	assert_int_not_equal(ib, ia);
	assert_int_equal(clients_admit(&ct, ib, 0, 0), ADMIT);

	clients_release(&ct, ia, 0);
	assert_int_equal(clients_admit(&ct, ia, 0, 0), ADMIT);
	clients_release(&ct, ia, 0);
	/* no connection and no rate: the entry is forgotten, then made again from zero */
	assert_int_equal(ct.ct_ent[ia].cl_family, 0);
	again = clients_get(&ct, &a, 0);
	assert_true(again >= 0);
	assert_int_equal(ct.ct_ent[again].cl_nconn, 0);
}

/* The same 16 bytes under another family are another client. */
static void
test_family_apart(void **state)
{
	struct http_peer v4 = peer("10.0.0.1"), v6;
	int i4, i6;

	(void)state;
	v6 = v4;
	v6.pe_family = AF_INET6;
	assert_int_equal(clients_init(&ct, 4, 0, 1, 0, err, sizeof(err)), 0);
	i4 = clients_get(&ct, &v4, 0);
	clients_hold(&ct, i4);
	i6 = clients_get(&ct, &v6, 0);
	assert_true(i6 >= 0);
	assert_int_not_equal(i4, i6);
	assert_int_equal(clients_admit(&ct, i6, 0, 0), ADMIT);
	assert_int_equal(clients_admit(&ct, i4, 0, 0), REFUSE_CLIENT);
}

/* The pool: full and not evicting refuses; full and evicting makes room. */
static void
test_admit_pool(void **state)
{
	(void)state;
	assert_int_equal(clients_init(&ct, 4, 0, 0, 0, err, sizeof(err)), 0);
	assert_null(ct.ct_ent);		/* off: nothing allocated */
	assert_int_equal(clients_get(&ct, &(struct http_peer){ .pe_family = AF_INET }, 0), -1);
	assert_int_equal(clients_admit(&ct, -1, 0, 0), ADMIT);
	assert_int_equal(clients_admit(&ct, -1, 1, 0), REFUSE_POOL);
	assert_int_equal(clients_admit(&ct, -1, 1, 1), ADMIT_EVICT);
	assert_int_equal(clients_admit(&ct, -1, 0, 1), ADMIT);
}

/* Rate 4/s: a burst of 4, then one more every 250 ms; the bucket holds at most 4. */
static void
test_rate_bucket(void **state)
{
	struct http_peer a = peer("192.0.2.7");
	int i, idx, ok;

	(void)state;
	assert_int_equal(clients_init(&ct, 4, 0, 0, 4, err, sizeof(err)), 0);
	idx = clients_get(&ct, &a, 1000);
	for (i = 0; i < 4; i++)
		assert_int_equal(clients_rate_ok(&ct, idx, 1000), 1);
	assert_int_equal(clients_rate_ok(&ct, idx, 1000), 0);
	assert_int_equal(clients_rate_ok(&ct, idx, 1249), 0);
	assert_int_equal(clients_rate_ok(&ct, idx, 1250), 1);
	assert_int_equal(clients_rate_ok(&ct, idx, 1250), 0);
	/* a long pause refills to the cap, not beyond */
	for (ok = 0, i = 0; i < 10; i++)
		ok += clients_rate_ok(&ct, idx, 100000);
	assert_int_equal(ok, 4);
	/* an emptied bucket keeps the entry though nothing is connected */
	clients_gc(&ct, 100000, 0);
	assert_int_equal(clients_get(&ct, &a, 100000), idx);
	assert_int_equal(clients_rate_ok(&ct, idx, 100000), 0);
	/* once full again, the gc forgets it */
	clients_gc(&ct, 101000, 0);
	assert_int_equal(ct.ct_ent[idx].cl_family, 0);
}

/* A full table forgets an unconnected client's rate, never a connected client. */
static void
test_table_full(void **state)
{
	char addr[32];
	struct http_peer pe;
	size_t i, n;
	int idx;

	(void)state;
	assert_int_equal(clients_init(&ct, 1, 0, 1, 1, err, sizeof(err)), 0);
	n = ct.ct_n;
	assert_int_equal(n, 1 + RATE_TRACK_MAX);
	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "10.%zu.%zu.1", i / 256, i % 256);
		pe = peer(addr);
		idx = clients_get(&ct, &pe, 0);
		assert_true(idx >= 0);
		assert_int_equal(clients_rate_ok(&ct, idx, 0), 1);	/* bucket emptied: not idle */
	}
	assert_int_equal(ct.ct_free, -1);
	pe = peer("172.16.0.1");
	idx = clients_get(&ct, &pe, 0);
	assert_true(idx >= 0);		/* one unconnected entry was forgotten */
	clients_hold(&ct, idx);

	/* now every entry holds a connection: nothing may be forgotten */
	clients_free(&ct);
	assert_int_equal(clients_init(&ct, 1, 0, 1, 1, err, sizeof(err)), 0);
	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "10.%zu.%zu.2", i / 256, i % 256);
		pe = peer(addr);
		idx = clients_get(&ct, &pe, 0);
		assert_true(idx >= 0);
		clients_hold(&ct, idx);
	}
	pe = peer("172.16.0.2");
	assert_int_equal(clients_get(&ct, &pe, 0), -1);
	for (i = 0; i < n; i++)
		assert_int_equal(ct.ct_ent[i].cl_nconn, 1);
}

/*
 * An evicting service's table: the newcomer's entry is held before the
 * victim's is released, so a pool of conn_max distinct addresses plus the
 * newcomer's is conn_max + 1 connected entries.
 */
static void
test_evict_one_more(void **state)
{
	char addr[32];
	struct http_peer pe;
	size_t i;
	int idx;

	(void)state;
	assert_int_equal(clients_init(&ct, 4, 1, 1, 0, err, sizeof(err)), 0);
	for (i = 0; i < 4; i++) {
		snprintf(addr, sizeof(addr), "10.0.0.%zu", i + 1);
		pe = peer(addr);
		assert_true((idx = clients_get(&ct, &pe, 0)) >= 0);
		clients_hold(&ct, idx);
	}
	pe = peer("10.0.1.1");	/* the newcomer, counted while a victim is chosen */
	assert_true((idx = clients_get(&ct, &pe, 0)) >= 0);
	assert_int_equal(clients_admit(&ct, idx, 1, 1), ADMIT_EVICT);
	clients_hold(&ct, idx);
	/* the per-client cap still holds for it */
	assert_int_equal(clients_get(&ct, &pe, 0), idx);
	assert_int_equal(clients_admit(&ct, idx, 1, 1), REFUSE_CLIENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_per_client_count, teardown),
		cmocka_unit_test_teardown(test_family_apart, teardown),
		cmocka_unit_test_teardown(test_admit_pool, teardown),
		cmocka_unit_test_teardown(test_rate_bucket, teardown),
		cmocka_unit_test_teardown(test_evict_one_more, teardown),
		cmocka_unit_test_teardown(test_table_full, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
