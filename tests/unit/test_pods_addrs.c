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
	struct pod_addr a = { strchr(text, ':') != NULL ? AF_INET6 : AF_INET, { 0 } };

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
	struct pod_state ps = {
		.ps_uid = uid, .ps_user = user, .ps_finished = st == FINISHED,
		.ps_deleting = st == DELETING, .ps_host_network = st == HOSTNET,
	};

	if (ip1 != NULL)
		ps.ps_addrs[ps.ps_naddrs++] = addr(ip1);
	if (ip2 != NULL)
		ps.ps_addrs[ps.ps_naddrs++] = addr(ip2);
	assert_int_equal(pods_table_update(t, &ps), 0);
}

/*
 * The races, as the watch may deliver them: a script of words,
 *   P:STATE:ADDRS   an ADDED or MODIFIED of pod P (A, B, C) in STATE (run,
 *                   fin: Succeeded/Failed, del: being deleted, host:
 *                   hostNetwork) listing ADDRS (1: IP_1, 2: IP_2, 6: IP6_1,
 *                   -: none), two joined by ','
 *   P:gone          its DELETED
 *   ?XP             then: address X's owner is P ('-': nobody)
 */
static const struct race {
	const char	*r_name;
	const char	*r_script;
} races[] = {
	/* Succeeded/Failed pods keep their IPs in status: they never own them (kiam#249) */
	{ "finished", "A:run:1 ?1A A:fin:1 ?1- B:fin:2 ?2- C:run:1 ?1C A:fin:1 ?1C" },
	/* hostNetwork: its podIP is the node's; it owns none (the node's identity serves it) */
	{ "host_network", "A:run:1 ?1A B:host:1 ?1A A:host:1 ?1-" },
	/* reuse in order: A terminating (still A's), deleted; then B given its IP */
	{ "reuse_in_order", "A:run:1 ?1A A:del:1 ?1A A:gone ?1- B:run:1 ?1B" },
	/* out of order: B's ADDED before A's DELETED; a later owner replaces */
	{ "added_before_deleted", "A:run:1 ?1A B:run:1 ?1B A:gone ?1B" },
	/*
	 * out of order: A's late MODIFIED still listing the IP after B's ADDED:
	 * A never takes back what it lost, even once B is gone (nobody's
	 * rather than A's); A's other address stays A's
	 */
	{ "late_modified", "A:run:1,6 ?1A ?6A B:run:1 ?1B ?6A A:run:1,6 ?1B ?6A "
	    "A:del:1,6 ?1B ?6A B:gone ?1- A:run:1,6 ?1- ?6A A:gone ?1- ?6-" },
	/*
	 * a pod being deleted (first seen so, after a relist) never takes an
	 * address from another, nor later; one nobody owns it may hold
	 */
	{ "deleting_never_takes", "B:run:1 ?1B A:del:1 ?1B B:gone ?1- A:del:1 ?1- "
	    "C:del:2 ?2C" },
	/* three owners in turn; the first two deleted in either order; a new B */
	{ "three_pods", "A:run:1 ?1A B:run:1 ?1B C:run:1 ?1C B:gone ?1C A:gone ?1C "
	    "B:run:1 ?1B" },
	/* an address no longer listed is released */
	{ "unlisted", "A:run:1,6 ?1A ?6A A:run:2 ?1- ?6- ?2A A:run:- ?2-" },
};

static void *
user_of(char pod)
{
	return pod == 'A' ? (void *)&pod_a : pod == 'B' ? (void *)&pod_b :
	    pod == 'C' ? (void *)&pod_c : NULL;
}

static const char *
ip_of(char c)
{
	return c == '1' ? IP_1 : c == '2' ? IP_2 : c == '6' ? IP6_1 : NULL;
}

/* One word of a script at w (n bytes). */
static void
script_word(struct pod_table *t, const char *w, size_t n)
{
	static const char *const states[] = { "run", "fin", "del", "host" };
	const char *uid = w[0] == 'A' ? UID_A : w[0] == 'B' ? UID_B : UID_C;
	size_t st;

	if (w[0] == '?') {
		assert_int_equal(n, 3);
		if (who(t, ip_of(w[1])) != user_of(w[2]))
			print_error("%s should be %c's\n", ip_of(w[1]), w[2]);
		assert_ptr_equal(who(t, ip_of(w[1])), user_of(w[2]));
		return;
	}
	assert_true(n > 2 && w[1] == ':');
	if (n == 6 && memcmp(w + 2, "gone", 4) == 0) {
		pods_table_remove(t, uid);
		return;
	}
	for (st = 0; st < 4; st++)
		if (strncmp(w + 2, states[st], strlen(states[st])) == 0)
			break;
	assert_true(st < 4);
	n = 3 + strlen(states[st]);
	event(t, uid, user_of(w[0]), (int)st, ip_of(w[n]), w[n + 1] == ',' ? ip_of(w[n + 2]) :
	    NULL);
}

/* Run the race in *state. */
static void
test_race(void **state)
{
	const struct race *r = *state;
	struct pod_table *t = pods_table_new();
	const char *w = r->r_script, *sp;

	assert_non_null(t);
	for (; w != NULL; w = sp != NULL ? sp + 1 : NULL) {
		sp = strchr(w, ' ');
		script_word(t, w, sp != NULL ? (size_t)(sp - w) : strlen(w));
	}
	pods_table_free(t);
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
	struct CMUnitTest tests[2 + sizeof(races) / sizeof(races[0])];
	size_t i, n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_basic);
	for (i = 0; i < sizeof(races) / sizeof(races[0]); i++)
		tests[n++] = (struct CMUnitTest){ races[i].r_name, test_race, NULL, NULL,
		    (void *)&races[i] };
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_caps_and_many);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
