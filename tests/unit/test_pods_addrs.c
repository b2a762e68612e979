/*
 * test_pods_addrs.c: the address table (pods.h, addrs.c): who owns a source
 * address now, each rule, and the races of address reuse spelt out in
 * every order the watch may deliver them.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pods/pods.h"

#define UID_A	"aaaaaaaa-0000-4000-8000-000000000001"
#define UID_B	"bbbbbbbb-0000-4000-8000-000000000002"
#define UID_C	"cccccccc-0000-4000-8000-000000000003"
#define IP_1	"10.244.0.7"
#define IP_2	"10.244.0.8"
#define IP6_1	"fd00:10:244::7"

/* The caller's records: lookups return these. */
static int pod_a, pod_b, pod_c;

static struct pod_addr
addr(const char *text)
{
	struct pod_addr a;

	memset(&a, 0, sizeof(a));
	a.pa_family = strchr(text, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.pa_family, text, a.pa_addr), 1);
	return a;
}

static void *
who(const struct pod_table *t, const char *text)
{
	struct pod_addr a = addr(text);

	return pods_table_lookup(t, a.pa_family, a.pa_addr);
}

enum { RUNNING, FINISHED, DELETING, HOSTNET };

/* ADDED/MODIFIED of pod uid in state st listing ip1 (and ip2; NULL: none). */
static void
event(struct pod_table *t, const char *uid, void *user, int st, const char *ip1,
    const char *ip2)
{
	struct pod_state ps;

	memset(&ps, 0, sizeof(ps));
	ps.ps_uid = uid;
	ps.ps_user = user;
	ps.ps_finished = st == FINISHED;
	ps.ps_deleting = st == DELETING;
	ps.ps_host_network = st == HOSTNET;
	if (ip1 != NULL)
		ps.ps_addrs[ps.ps_naddrs++] = addr(ip1);
	if (ip2 != NULL)
		ps.ps_addrs[ps.ps_naddrs++] = addr(ip2);
	assert_int_equal(pods_table_update(t, &ps), 0);
}

static void
test_basic(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	assert_non_null(t);
	assert_null(who(t, IP_1));
	event(t, UID_A, &pod_a, RUNNING, IP_1, IP6_1);
	assert_ptr_equal(who(t, IP_1), &pod_a);
	assert_ptr_equal(who(t, IP6_1), &pod_a);	/* podIPs: both families */
	assert_null(who(t, IP_2));
	assert_int_equal(pods_table_pods(t), 1);
	assert_int_equal(pods_table_addrs(t), 2);
	/* the IPv4 bytes as an IPv6 address are another key */
	{
		struct pod_addr a = addr(IP_1);

		assert_null(pods_table_lookup(t, AF_INET6, a.pa_addr));
	}
	/* an address no longer listed is released; a new one taken */
	event(t, UID_A, &pod_a, RUNNING, IP_2, NULL);
	assert_null(who(t, IP_1));
	assert_null(who(t, IP6_1));
	assert_ptr_equal(who(t, IP_2), &pod_a);
	assert_int_equal(pods_table_addrs(t), 1);
	/* the caller's record follows the last event */
	event(t, UID_A, &pod_c, RUNNING, IP_2, NULL);
	assert_ptr_equal(who(t, IP_2), &pod_c);
	pods_table_remove(t, UID_A);
	assert_null(who(t, IP_2));
	assert_int_equal(pods_table_pods(t), 0);
	assert_int_equal(pods_table_addrs(t), 0);
	pods_table_remove(t, UID_A);	/* unknown: nothing */
	/* one address listed twice counts once */
	event(t, UID_B, &pod_b, RUNNING, IP_1, IP_1);
	assert_int_equal(pods_table_addrs(t), 1);
	pods_table_remove(t, UID_B);
	assert_int_equal(pods_table_addrs(t), 0);
	pods_table_free(t);
}

/* Succeeded/Failed pods keep their IPs in status: they never own them. */
static void
test_finished_and_host_network(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);
	event(t, UID_A, &pod_a, FINISHED, IP_1, NULL);
	assert_null(who(t, IP_1));
	assert_int_equal(pods_table_addrs(t), 0);
	/* first seen finished (a relist): owns nothing */
	event(t, UID_B, &pod_b, FINISHED, IP_2, NULL);
	assert_null(who(t, IP_2));
	/* a new pod on the finished pod's IP (kiam#249) gets it, whatever came first */
	event(t, UID_C, &pod_c, RUNNING, IP_1, NULL);
	assert_ptr_equal(who(t, IP_1), &pod_c);
	event(t, UID_A, &pod_a, FINISHED, IP_1, NULL);
	assert_ptr_equal(who(t, IP_1), &pod_c);
	/* hostNetwork: its podIP is the node's, it owns none (the node's identity serves it) */
	event(t, UID_B, &pod_b, HOSTNET, IP_2, NULL);
	assert_null(who(t, IP_2));
	event(t, UID_C, &pod_c, HOSTNET, IP_1, NULL);
	assert_null(who(t, IP_1));
	pods_table_free(t);
}

/*
 * Address reuse, in order: A deleted, then B given its IP.  A's role is
 * never served to B's address after B is known, nor between the two.
 */
static void
test_reuse_in_order(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);
	event(t, UID_A, &pod_a, DELETING, IP_1, NULL);	/* graceful: still A's */
	assert_ptr_equal(who(t, IP_1), &pod_a);
	pods_table_remove(t, UID_A);
	assert_null(who(t, IP_1));
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);
	assert_ptr_equal(who(t, IP_1), &pod_b);
	pods_table_free(t);
}

/* Out of order: B's ADDED before A's DELETED. */
static void
test_reuse_added_before_deleted(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);	/* a later owner replaces */
	assert_ptr_equal(who(t, IP_1), &pod_b);
	assert_false(pods_table_owns(t, UID_A, AF_INET, addr(IP_1).pa_addr));
	pods_table_remove(t, UID_A);			/* A no longer owns it: B keeps it */
	assert_ptr_equal(who(t, IP_1), &pod_b);
	assert_true(pods_table_owns(t, UID_B, AF_INET, addr(IP_1).pa_addr));
	assert_int_equal(pods_table_addrs(t), 1);
	pods_table_free(t);
}

/* Out of order: B's ADDED, then A's late MODIFIED still listing the IP, then A's DELETED. */
static void
test_reuse_late_modified(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);	/* A never takes back what it lost */
	assert_ptr_equal(who(t, IP_1), &pod_b);
	event(t, UID_A, &pod_a, DELETING, IP_1, NULL);
	assert_ptr_equal(who(t, IP_1), &pod_b);
	/* even when B goes first: the address is nobody's rather than A's */
	pods_table_remove(t, UID_B);
	assert_null(who(t, IP_1));
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);
	assert_null(who(t, IP_1));
	pods_table_remove(t, UID_A);
	assert_null(who(t, IP_1));
	/* A's other address is not affected by losing this one */
	event(t, UID_A, &pod_a, RUNNING, IP_1, IP6_1);
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);
	event(t, UID_A, &pod_a, RUNNING, IP_1, IP6_1);
	assert_ptr_equal(who(t, IP_1), &pod_b);
	assert_ptr_equal(who(t, IP6_1), &pod_a);
	pods_table_free(t);
}

/* A pod being deleted (first seen so, after a relist) never takes an address from another. */
static void
test_deleting_never_takes(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);
	event(t, UID_A, &pod_a, DELETING, IP_1, NULL);
	assert_ptr_equal(who(t, IP_1), &pod_b);
	/* and does not get it later either, when B goes */
	pods_table_remove(t, UID_B);
	event(t, UID_A, &pod_a, DELETING, IP_1, NULL);
	assert_null(who(t, IP_1));
	/* an address nobody owns it may still hold (it runs until it stops) */
	event(t, UID_C, &pod_c, DELETING, IP_2, NULL);
	assert_ptr_equal(who(t, IP_2), &pod_c);
	pods_table_free(t);
}

/* Out of order: A's DELETED arrives before any event of B; then B. */
static void
test_reuse_three_pods(void **state)
{
	struct pod_table *t = pods_table_new();

	(void)state;
	event(t, UID_A, &pod_a, RUNNING, IP_1, NULL);
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);
	event(t, UID_C, &pod_c, RUNNING, IP_1, NULL);
	assert_ptr_equal(who(t, IP_1), &pod_c);
	pods_table_remove(t, UID_B);
	pods_table_remove(t, UID_A);
	assert_ptr_equal(who(t, IP_1), &pod_c);
	event(t, UID_B, &pod_b, RUNNING, IP_1, NULL);	/* a new B record: a later owner */
	assert_ptr_equal(who(t, IP_1), &pod_b);
	pods_table_free(t);
}

/* The caps, and many pods at once: every lookup finds its owner, removals leave no holes. */
static void
test_caps_and_many(void **state)
{
	struct pod_table *t = pods_table_new();
	static int users[POD_TABLE_PODS_MAX];
	char uid[POD_UID_MAX + 2], ip[INET6_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	struct pod_state ps;
	size_t i;

	(void)state;
	for (i = 0; i < POD_TABLE_PODS_MAX; i++) {
		snprintf(uid, sizeof(uid), "pod-%zu", i);
		snprintf(ip, sizeof(ip), "10.%zu.%zu.1", i / 256, i % 256);
		snprintf(ip6, sizeof(ip6), "fd00::%zx", i);
		event(t, uid, &users[i], RUNNING, ip, ip6);
	}
	assert_int_equal(pods_table_pods(t), POD_TABLE_PODS_MAX);
	assert_int_equal(pods_table_addrs(t), POD_TABLE_ADDRS_MAX);
	memset(&ps, 0, sizeof(ps));
	ps.ps_uid = "one-more";
	assert_int_equal(pods_table_update(t, &ps), -1);
	memset(uid, 'u', POD_UID_MAX + 1);
	uid[POD_UID_MAX + 1] = '\0';
	ps.ps_uid = uid;
	assert_int_equal(pods_table_update(t, &ps), -1);
	ps.ps_uid = "";
	assert_int_equal(pods_table_update(t, &ps), -1);
	/* remove every other pod: the rest are still found (backward-shift deletion) */
	for (i = 0; i < POD_TABLE_PODS_MAX; i += 2) {
		snprintf(uid, sizeof(uid), "pod-%zu", i);
		pods_table_remove(t, uid);
	}
	for (i = 0; i < POD_TABLE_PODS_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.%zu.%zu.1", i / 256, i % 256);
		snprintf(ip6, sizeof(ip6), "fd00::%zx", i);
		assert_ptr_equal(who(t, ip), i % 2 == 0 ? NULL : &users[i]);
		assert_ptr_equal(who(t, ip6), i % 2 == 0 ? NULL : &users[i]);
	}
	assert_int_equal(pods_table_addrs(t), POD_TABLE_ADDRS_MAX / 2);
	/* an address family other than IPv4/IPv6 is not an address */
	memset(&ps, 0, sizeof(ps));
	ps.ps_uid = "pod-0";
	ps.ps_naddrs = 1;
	ps.ps_addrs[0].pa_family = AF_UNIX;
	assert_int_equal(pods_table_update(t, &ps), 0);
	assert_int_equal(pods_table_addrs(t), POD_TABLE_ADDRS_MAX / 2);
	pods_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_finished_and_host_network),
		cmocka_unit_test(test_reuse_in_order),
		cmocka_unit_test(test_reuse_added_before_deleted),
		cmocka_unit_test(test_reuse_late_modified),
		cmocka_unit_test(test_deleting_never_takes),
		cmocka_unit_test(test_reuse_three_pods),
		cmocka_unit_test(test_caps_and_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
