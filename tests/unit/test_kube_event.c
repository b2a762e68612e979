/*
 * test_kube_event.c: what the API server sends, parsed (kube/event.c).
 *
 * Pods, namespaces and service accounts in the JSON shapes of the
 * Kubernetes documentation (per-pod-identity.md §7): every field the
 * feature uses, podIPs (one per family, podIP as the fallback), the caps
 * (an object over one is rejected with its identity, not truncated),
 * malformed input; watch events (ADDED, DELETED, BOOKMARK, the in-stream
 * ERROR 410); list pages (resourceVersion, continue, items); TokenReview
 * replies; and the line splitter (pieces across lines, CRLF, the cap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/kube.h"

#define T_BIG		(KUBE_ARN_MAX + 64)	/* bytes of an over-cap annotation */

/* The pod of §7.6, with deletionTimestamp and hostNetwork added. */
static const char pod_json[] =
"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
"\"metadata\":{\"name\":\"api-7d9f\",\"namespace\":\"shop\","
"\"uid\":\"5e0bd49b-f040-43b0-99b7-22765a53f7f3\",\"resourceVersion\":\"10596\","
"\"deletionTimestamp\":\"2025-06-02T09:20:28Z\","
"\"annotations\":{\"iam.amazonaws.com/role\":\"shop-api\",\"iam.amazonaws.com/external-id\":\"x\","
"\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"},"
"\"managedFields\":[{\"manager\":\"kubelet\"}]},"
"\"spec\":{\"nodeName\":\"minikube\",\"serviceAccountName\":\"shop-api\",\"hostNetwork\":true,"
"\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]},"
"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.12\",\"podIPs\":[{\"ip\":\"10.244.0.12\"},"
"{\"ip\":\"fd00:10:244::c\"}],\"hostIP\":\"192.168.49.2\"}}}";

/* What the tests parse into. */
static struct kube_event ev;
static const struct kube_pod *const p = &ev.ev_obj.ob_pod;
static char err[ERRBUF_LEN];

static int
t_event(const char *s, enum kube_kind kind, struct kube_event *evp, char *errp)
{
	errp[0] = '\0';
	return kube_event_parse(s, strlen(s), kind, evp, errp, ERRBUF_LEN);
}

static void
test_pod(void **state)
{
	(void)state;
	assert_int_equal(t_event(pod_json, KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(ev.ev_type, KUBE_EV_MODIFIED);	/* the §7.6 pod */
	assert_string_equal(ev.ev_rv, "10596");
	assert_int_equal(ev.ev_obj.ob_kind, KUBE_POD);
	assert_int_equal(ev.ev_obj.ob_partial, 0);
	assert_string_equal(p->kp_meta.km_namespace, "shop");
	assert_string_equal(p->kp_meta.km_name, "api-7d9f");
	assert_string_equal(p->kp_meta.km_uid, "5e0bd49b-f040-43b0-99b7-22765a53f7f3");
	assert_string_equal(p->kp_meta.km_rv, "10596");
	assert_string_equal(p->kp_node, "minikube");
	assert_string_equal(p->kp_sa, "shop-api");
	assert_int_equal(p->kp_host_network, 1);
	assert_string_equal(p->kp_phase, "Running");
	assert_int_equal(p->kp_nips, 2);
	assert_string_equal(p->kp_ips[0], "10.244.0.12");
	assert_string_equal(p->kp_ips[1], "fd00:10:244::c");
	assert_string_equal(p->kp_role, "shop-api");
	assert_string_equal(p->kp_external_id, "x");
	assert_int_equal(p->kp_deleting, 1);
}

static void
test_pod_addresses(void **state)
{
	(void)state;
	/* Pending: no address, no phase, hostNetwork omitted */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"spec\":{},\"status\":{}}}",
	    KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(p->kp_nips, 0);
	assert_int_equal(p->kp_host_network, 0);
	assert_int_equal(p->kp_deleting, 0);
	assert_string_equal(p->kp_phase, "");
	assert_string_equal(p->kp_role, "");
	/* podIP only */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"status\":{\"podIP\":\"fd00::7\"}}}",
	    KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(p->kp_nips, 1);
	assert_string_equal(p->kp_ips[0], "fd00::7");
	/* one per family: the second IPv4 is dropped */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.1\"},"
	    "{\"ip\":\"10.0.0.2\"},{\"ip\":\"::1\"}]}}}", KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(p->kp_nips, 2);
	assert_string_equal(p->kp_ips[0], "10.0.0.1");
	assert_string_equal(p->kp_ips[1], "::1");
	/* not an address: rejected, the identity kept */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.300\"}]}}}",
	    KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "status.podIPs: not an address");
	assert_int_equal(ev.ev_obj.ob_partial, 1);
	assert_string_equal(p->kp_meta.km_name, "a");
	assert_string_equal(ev.ev_rv, "5");
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\"},\"spec\":{\"hostNetwork\":\"yes\"}}}",
	    KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "spec.hostNetwork is not a boolean");
}

static void
test_caps(void **state)
{
	static char line[T_BIG + 512], big[T_BIG + 1];
	(void)state;
	memset(big, 'r', KUBE_ARN_MAX);
	big[KUBE_ARN_MAX] = '\0';	/* exactly the cap: kept whole */
	snprintf(line, sizeof(line), "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\",\"annotations\":{\"iam.amazonaws.com/role\":"
	    "\"%s\"}}}}", big);
	assert_int_equal(t_event(line, KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(strlen(ev.ev_obj.ob_pod.kp_role), KUBE_ARN_MAX);
	big[KUBE_ARN_MAX] = 'r';	/* one more: rejected, never cut */
	big[KUBE_ARN_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\",\"annotations\":{\"iam.amazonaws.com/role\":"
	    "\"%s\"}}}}", big);
	assert_int_equal(t_event(line, KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "annotation iam.amazonaws.com/role over 2048 bytes");
	assert_string_equal(ev.ev_obj.ob_pod.kp_role, "");
	assert_int_equal(ev.ev_obj.ob_partial, 1);
	/* a namespace name over 63 (DNS-1123 label): rejected, no identity */
	memset(big, 'n', 64);
	big[64] = '\0';
	snprintf(line, sizeof(line), "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"%s\",\"resourceVersion\":\"5\"}}}", big);
	assert_int_equal(t_event(line, KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "metadata.namespace over 63 bytes");
	assert_int_equal(ev.ev_obj.ob_partial, 0);
	/* a control byte in an annotation */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\",\"annotations\":{"
	    "\"iam.amazonaws.com/external-id\":\"a\\nb\"}}}}", KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "annotation iam.amazonaws.com/external-id has a control byte");
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\",\"resourceVersion\":\"5\",\"annotations\":{"
	    "\"iam.amazonaws.com/role\":\"a\\u0000b\"}}}}", KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "annotation iam.amazonaws.com/role has a control byte");
}

static void
test_namespace_sa(void **state)
{
	(void)state;
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Namespace\","
	    "\"metadata\":{\"name\":\"shop\",\"uid\":\"u1\",\"resourceVersion\":\"7\",\"annotations\":{"
	    "\"iam.amazonaws.com/allowed-roles\":\"[\\\"app-*\\\"]\",\"iam.amazonaws.com/permitted\":"
	    "\"\"}}}}", KUBE_NAMESPACE, &ev, err), KUBE_PARSE_OK);
	assert_string_equal(ev.ev_obj.ob_ns.kn_meta.km_name, "shop");
	assert_string_equal(ev.ev_obj.ob_ns.kn_meta.km_namespace, "");
	assert_int_equal(ev.ev_obj.ob_ns.kn_has_allowed, 1);
	assert_string_equal(ev.ev_obj.ob_ns.kn_allowed_roles, "[\"app-*\"]");
	assert_int_equal(ev.ev_obj.ob_ns.kn_has_permitted, 1);	/* present, empty */
	assert_string_equal(ev.ev_obj.ob_ns.kn_permitted, "");
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\","
	    "\"resourceVersion\":\"8\"}}}", KUBE_NAMESPACE, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(ev.ev_obj.ob_ns.kn_has_allowed, 0);
	assert_int_equal(ev.ev_obj.ob_ns.kn_has_permitted, 0);
	assert_int_equal(t_event("{\"type\":\"DELETED\",\"object\":{\"kind\":\"ServiceAccount\","
	    "\"metadata\":{\"name\":\"api\",\"namespace\":\"shop\",\"uid\":\"u2\",\"resourceVersion\":"
	    "\"9\",\"annotations\":{\"eks.amazonaws.com/role-arn\":"
	    "\"arn:aws:iam::123456789012:role/reporter\"}}}}", KUBE_SERVICEACCOUNT, &ev, err),
	    KUBE_PARSE_OK);
	assert_int_equal(ev.ev_type, KUBE_EV_DELETED);
	assert_string_equal(ev.ev_obj.ob_sa.ks_meta.km_namespace, "shop");
	assert_string_equal(ev.ev_obj.ob_sa.ks_role_arn, "arn:aws:iam::123456789012:role/reporter");
	/* a ServiceAccount event on a pod watch is a broken stream */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"kind\":\"ServiceAccount\","
	    "\"metadata\":{\"name\":\"api\",\"namespace\":\"shop\",\"resourceVersion\":\"9\"}}}",
	    KUBE_POD, &ev, err), KUBE_PARSE_BAD);
}

static void
test_events(void **state)
{
	(void)state;
	assert_int_equal(t_event("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":"
	    "\"v1\",\"metadata\":{\"resourceVersion\":\"12746\"}}}", KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(ev.ev_type, KUBE_EV_BOOKMARK);
	assert_string_equal(ev.ev_rv, "12746");
	/* the in-stream 410 (captured against kind) */
	assert_int_equal(t_event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
	    "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 "
	    "(3171407)\",\"reason\":\"Expired\",\"code\":410}}", KUBE_POD, &ev, err), KUBE_PARSE_OK);
	assert_int_equal(ev.ev_type, KUBE_EV_ERROR);
	assert_int_equal(ev.ev_code, 410);
	assert_string_equal(err, "watch ERROR 410 Expired: too old resource version: 1 (3171407)");
	assert_int_equal(t_event("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}", KUBE_POD,
	    &ev, err), KUBE_PARSE_BAD);
	/* malformed */
	assert_int_equal(t_event("{\"type\":\"ADDED\"", KUBE_POD, &ev, err), KUBE_PARSE_BAD);
	assert_int_equal(t_event("[]", KUBE_POD, &ev, err), KUBE_PARSE_BAD);
	assert_string_equal(err, "watch event is not a JSON object");
	assert_int_equal(t_event("{\"type\":\"RENAMED\",\"object\":{}}", KUBE_POD, &ev, err),
	    KUBE_PARSE_BAD);
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\"}}}", KUBE_POD, &ev, err), KUBE_PARSE_BAD);
	assert_string_equal(err, "metadata.resourceVersion missing");
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}", KUBE_POD,
	    &ev, err), KUBE_PARSE_BAD);
	/* no name: rejected without an identity */
	assert_int_equal(t_event("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"n\","
	    "\"resourceVersion\":\"3\"}}}", KUBE_POD, &ev, err), KUBE_PARSE_REJECT);
	assert_string_equal(err, "metadata.name missing");
	assert_int_equal(ev.ev_obj.ob_partial, 0);
}

struct items {
	int		 ok, rejected;
	char		 names[4][KUBE_NAME_MAX + 1];
};

static void
on_item(void *arg, const struct kube_object *o, int rc, const char *why)
{
	struct items *it = arg;

	if (rc == KUBE_PARSE_OK) {
		assert_null(why);
		snprintf(it->names[it->ok++ % 4], sizeof(it->names[0]), "%s",
		    o->ob_pod.kp_meta.km_name);
	} else {
		assert_non_null(why);
		it->rejected++;
	}
}

static void
test_list(void **state)
{
	static const char page[] = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":"
	    "{\"resourceVersion\":\"10245\",\"continue\":\"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ\","
	    "\"remainingItemCount\":3},\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\","
	    "\"resourceVersion\":\"1\"}},{\"metadata\":{\"namespace\":\"n\"}},{\"metadata\":{\"name\":"
	    "\"b\",\"namespace\":\"n\",\"resourceVersion\":\"2\"}}]}";
	static const char other[] = "{\"kind\":\"NamespaceList\",\"metadata\":{"
	    "\"resourceVersion\":\"4\"},\"items\":[]}";
	static const char last[] = "{\"metadata\":{\"resourceVersion\":\"4\"},\"items\":null}";
	struct kube_list_page pg;
	struct items it;

	(void)state;
	memset(&it, 0, sizeof(it));
	assert_int_equal(kube_list_parse(page, strlen(page), KUBE_POD, &pg, on_item, &it, err,
	    sizeof(err)), KUBE_PARSE_OK);
	assert_string_equal(pg.lp_rv, "10245");
	assert_string_equal(pg.lp_continue, "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
	assert_int_equal(pg.lp_items, 3);
	assert_int_equal(pg.lp_rejected, 1);
	assert_int_equal(it.ok, 2);
	assert_string_equal(it.names[0], "a");
	assert_string_equal(it.names[1], "b");
	/* the last page: no continue; items null */
	assert_int_equal(kube_list_parse(last, strlen(last), KUBE_POD, &pg, on_item, &it, err, sizeof(err)), KUBE_PARSE_OK);
	assert_string_equal(pg.lp_continue, "");
	assert_int_equal(pg.lp_items, 0);
	assert_int_equal(kube_list_parse(other, strlen(other), KUBE_POD, &pg, on_item, &it, err,
	    sizeof(err)), KUBE_PARSE_BAD);
	assert_string_equal(err, "not a PodList");
	assert_int_equal(kube_list_parse("{\"metadata\":{},\"items\":[]}", 26, KUBE_POD, &pg,
	    on_item, &it, err, sizeof(err)), KUBE_PARSE_BAD);
	assert_string_equal(err, "list metadata.resourceVersion missing");
}

/*
 * A page is read one item at a time, yet taken whole or not at all: a page
 * that is not JSON somewhere (after good items too) hands on no item; the
 * members may come in any order, with any whitespace; items twice, items
 * not an array, trailing bytes are refused.
 */
static void
test_list_streamed(void **state)
{
	static const char *const bad[] = {
		/* a good item, then a broken one */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"name\":"
		    "\"a\",\"namespace\":\"n\"}},{\"metadata\":}]}",
		/* items, then a broken member after them */
		"{\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"}}],\"metadata\":"
		    "{\"resourceVersion\":\"1\"},\"kind\":}",
		/* items twice */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[],\"items\":[]}",
		/* another member twice */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"kind\":\"PodList\",\"kind\":\"PodList\","
		    "\"items\":[]}",
		/* a duplicate key inside an item */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"name\":"
		    "\"a\",\"name\":\"b\",\"namespace\":\"n\"}}]}",
		/* a NUL in a key of the page (jansson refuses one in any object) */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"ki\\u0000nd\":1,\"items\":[]}",
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\\u0000\":1,\"items\":[]}",
		/* bytes after the page */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[]} x",
		/* items not an array */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":{}}",
		/* no comma between items */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{} {}]}",
		/* cut short */
		"{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{}",
		"[]",
		"",
	};
	static const char spaced[] = " \r\n{ \"items\" :\t[ {\"metadata\":{\"name\":\"a\","
	    "\"namespace\":\"n\"}} ,\n{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"}} ] ,"
	    "\"metadata\" : {\"resourceVersion\":\"7\"} , \"kind\":\"PodList\" }\n";
	struct kube_list_page pg;
	struct items it;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&it, 0, sizeof(it));
		if (kube_list_parse(bad[i], strlen(bad[i]), KUBE_POD, &pg, on_item, &it, err,
		    sizeof(err)) != KUBE_PARSE_BAD)
			fail_msg("page %zu taken: %s", i, bad[i]);
		assert_int_equal(it.ok + it.rejected, 0);
		assert_true(err[0] != '\0');
	}
	memset(&it, 0, sizeof(it));
	assert_int_equal(kube_list_parse(spaced, strlen(spaced), KUBE_POD, &pg, on_item, &it, err,
	    sizeof(err)), KUBE_PARSE_OK);
	assert_string_equal(pg.lp_rv, "7");
	assert_int_equal(pg.lp_items, 2);
	assert_int_equal(it.ok, 2);
	assert_string_equal(it.names[0], "a");
	assert_string_equal(it.names[1], "b");
	/* no items member at all: not a list */
	assert_int_equal(kube_list_parse("{\"metadata\":{\"resourceVersion\":\"1\"}}", 36,
	    KUBE_POD, &pg, on_item, &it, err, sizeof(err)), KUBE_PARSE_BAD);
	assert_string_equal(err, "not a PodList");
}

static void
test_review(void **state)
{
	static const char ok[] = "{\"kind\":\"TokenReview\",\"apiVersion\":\"authentication.k8s.io/v1\","
	    "\"metadata\":{\"creationTimestamp\":null},\"spec\":{\"token\":\"x\",\"audiences\":"
	    "[\"pods.eks.amazonaws.com\"]},\"status\":{\"authenticated\":true,\"user\":{\"username\":"
	    "\"system:serviceaccount:shop:api\",\"uid\":\"u\",\"groups\":[\"system:serviceaccounts\"],"
	    "\"extra\":{\"authentication.kubernetes.io/pod-name\":[\"api-7d9f\"],"
	    "\"authentication.kubernetes.io/pod-uid\":[\"5e0bd49b\"]}},\"audiences\":"
	    "[\"pods.eks.amazonaws.com\"]}}";
	static const char no[] = "{\"kind\":\"TokenReview\",\"status\":{\"user\":{},\"error\":"
	    "\"[invalid bearer token, token lookup failed]\"}}";
	struct kube_review r;

	(void)state;
	assert_int_equal(kube_review_parse(ok, strlen(ok), "pods.eks.amazonaws.com", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.kr_authenticated, 1);
	assert_int_equal(r.kr_audience_ok, 1);
	assert_int_equal(r.kr_is_sa, 1);
	assert_string_equal(r.kr_namespace, "shop");
	assert_string_equal(r.kr_sa, "api");
	assert_string_equal(r.kr_pod_name, "api-7d9f");
	assert_string_equal(r.kr_pod_uid, "5e0bd49b");
	assert_string_equal(r.kr_error, "");
	assert_int_equal(kube_review_parse(ok, strlen(ok), "sts.amazonaws.com", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.kr_audience_ok, 0);
	assert_int_equal(kube_review_parse(no, strlen(no), "a", &r, err, sizeof(err)), 0);
	assert_int_equal(r.kr_authenticated, 0);
	assert_int_equal(r.kr_is_sa, 0);
	assert_string_equal(r.kr_error, "[invalid bearer token, token lookup failed]");
	assert_int_equal(kube_review_parse("{\"kind\":\"Status\",\"code\":403}", 28, "a", &r, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "not a TokenReview with a status");
	assert_int_equal(kube_review_parse("{\"kind\":\"TokenReview\",\"status\":{\"user\":{\"extra\":"
	    "{\"authentication.kubernetes.io/pod-name\":\"x\"}}}}", 96, "a", &r, err, sizeof(err)), -1);
}

/* The lines seen, joined with '|'. */
static char seen[256];

static int
on_line(void *arg, const char *s, size_t n)
{
	(void)arg;
	if (memchr(s, 'X', n) != NULL)
		return -1;
	if (seen[0] != '\0')
		strcat(seen, "|");
	strncat(seen, s, n);
	return 0;
}

static void
test_lines(void **state)
{
	struct kube_lines l;

	(void)state;
	seen[0] = '\0';
	kube_lines_init(&l, 8);
	assert_int_equal(kube_lines_feed(&l, "ab", 2, on_line, NULL, err, sizeof(err)), 0);
	assert_int_equal(kube_lines_feed(&l, "c\nde\r\n\n", 7, on_line, NULL, err, sizeof(err)), 0);
	assert_int_equal(kube_lines_feed(&l, "12345678\n", 9, on_line, NULL, err, sizeof(err)), 0);
	assert_int_equal(kube_lines_feed(&l, "1234", 4, on_line, NULL, err, sizeof(err)), 0);
	assert_int_equal(kube_lines_feed(&l, "5678\nf", 6, on_line, NULL, err, sizeof(err)), 0);
	assert_string_equal(seen, "abc|de|12345678|12345678");
	/* over the cap, in one piece or across pieces */
	assert_int_equal(kube_lines_feed(&l, "23456789", 8, on_line, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "a watch event line over 8 bytes");
	kube_lines_reset(&l);
	assert_int_equal(kube_lines_feed(&l, "123456789\n", 10, on_line, NULL, err, sizeof(err)),
	    -1);
	/* the handler stops the stream */
	assert_int_equal(kube_lines_feed(&l, "X\n", 2, on_line, NULL, err, sizeof(err)), -1);
	kube_lines_reset(&l);
	assert_int_equal(kube_lines_feed(&l, "g\n", 2, on_line, NULL, err, sizeof(err)), 0);
	assert_string_equal(seen, "abc|de|12345678|12345678|g");
	kube_lines_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_pod_addresses),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_namespace_sa),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_list_streamed),
		cmocka_unit_test(test_review),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
