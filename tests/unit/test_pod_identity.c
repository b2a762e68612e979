/*
 * Unit tests of container/pod_identity.c with made-up operations (no
 * Kubernetes API, no STS): the Host as the agent compares it, the JWT's
 * basic checks and their messages, the handler's answers byte for byte
 * (404, 403, 400s, the pass-through errors), and the verdict cache: one
 * TokenReview shared by concurrent requests, verdicts kept then dropped
 * after PI_VERDICT_TTL_MS or the token's exp, on the pod's deletion, at the
 * cap (the oldest settled one), a failed review never cached past
 * PI_FAILED_HOLD_MS and never served; the role's wait and STS's refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "container/container.h"
#include "kube/kube.h"
#include "pods/pods.h"

#define NOW	1748854541	/* 2025-06-02T08:55:41Z */
#define T0	100000		/* the loop's clock at the first request (ms) */
#define HOST	"169.254.170.23"
#define UID	"0f6a37f0-8c1a-4a36-9c2b-2a7d1c2f0a11"

/* ---- made-up operations --------------------------------------------------- */

static struct {
	int		 reviews;	/* TokenReviews asked */
	int		 cancels;
	int		 fail_start;	/* po_review returns -1 */
	void		(*done)(void *, const struct kube_review *, const char *);
	void		*darg;
	int		 role_rc;	/* what po_role answers */
	int		 roles;		/* po_role calls */
	int		 releases;
	struct role	 role;
	struct instance	 inst;
	struct ctr_ctx	 ctx;
} f;

static struct assumed *const FAKE_ASSUMED = (struct assumed *)&f;

static int
fake_review(void *arg, const char *token, size_t len, void (*done)(void *,
    const struct kube_review *, const char *), void *darg, struct kube_call **call, char *err,
    size_t errlen)
{
	(void)arg;
	(void)token;
	(void)len;
	if (f.fail_start) {
		snprintf(err, errlen, "kube: TokenReview: connection refused");
		return -1;
	}
	f.reviews++;
	f.done = done;
	f.darg = darg;
	*call = (struct kube_call *)&f.reviews;
	return 0;
}

static void
fake_cancel(void *arg, struct kube_call *call)
{
	(void)arg;
	(void)call;
	f.cancels++;
}

static const char *review_uid = UID;	/* the pod the reviews name */
static const unsigned char node_last = 1;	/* 10.0.0.1 is the node's own address */

static int
fake_role(void *arg, const char *uid, const char *name, const char *ns, const char *sa,
    time_t now, struct assumed **a, char *why, size_t whylen)
{
	(void)arg;
	(void)now;
	f.roles++;
	assert_string_equal(uid, review_uid);
	assert_string_equal(name, "web-0");	/* the review's, for the session tags */
	assert_string_equal(ns, "shop");
	assert_string_equal(sa, "api");
	if (f.role_rc == POD_IDENTITY_ROLE)
		*a = FAKE_ASSUMED;
	else if (f.role_rc == POD_IDENTITY_NONE)
		snprintf(why, whylen, "no role for service account shop/api: none named");
	else if (f.role_rc == POD_IDENTITY_REFUSED)
		snprintf(why, whylen, "pod shop/web-0: not allowed");
	return f.role_rc;
}

static void
fake_release(void *arg, struct assumed *a, time_t now)
{
	(void)arg;
	(void)now;
	assert_ptr_equal(a, FAKE_ASSUMED);
	f.releases++;
}

static const struct role *
fake_role_of(const struct assumed *a)
{
	assert_ptr_equal(a, FAKE_ASSUMED);
	return &f.role;
}

static double clock_now = NOW;	/* the wall clock the service reads */

static double
fake_clock(void)
{
	return clock_now;
}

static int fake_is_node(const struct http_peer *pe);

static int
fake_is_node(const struct http_peer *pe)
{
	return pe->pe_family == 2 && pe->pe_addr[3] == node_last;
}

static const struct pi_ops ops = { fake_review, fake_cancel, fake_role, fake_release,
	fake_role_of, fake_clock, fake_is_node, NULL };

/* The verdict the review gives. */
static void
review_says(int authenticated)
{
	struct kube_review r;

	memset(&r, 0, sizeof(r));
	r.kr_authenticated = authenticated;
	r.kr_audience_ok = authenticated;
	r.kr_is_sa = authenticated;
	if (authenticated) {
		snprintf(r.kr_namespace, sizeof(r.kr_namespace), "shop");
		snprintf(r.kr_sa, sizeof(r.kr_sa), "api");
		snprintf(r.kr_pod_name, sizeof(r.kr_pod_name), "web-0");
		snprintf(r.kr_pod_uid, sizeof(r.kr_pod_uid), "%s", review_uid);
	} else
		snprintf(r.kr_error, sizeof(r.kr_error), "[invalid bearer token, token lookup "
		    "failed]");
	assert_non_null(f.done);
	f.done(f.darg, &r, NULL);
	f.done = NULL;
}

/* The role has the example credentials, rendered. */
static void
role_has_credentials(void)
{
	struct cred c;

	snprintf(f.role.ro_name, sizeof(f.role.ro_name), "app");
	f.role.ro_cache.cc_have = 1;
	f.role.ro_cache.cc_fetched_once = 1;
	memset(&c, 0, sizeof(c));
	snprintf(c.cr_akid, sizeof(c.cr_akid), "ASIATESTPODIDENTITY1");
	snprintf(c.cr_secret, sizeof(c.cr_secret), "secret");
	snprintf(c.cr_token, sizeof(c.cr_token), "session");
	c.cr_expiration = NOW + 3600;
	assert_int_equal(cred_keep(&f.role.ro_cache.cc_cur, &c), 0);
	f.role.ro_views[RENDER_CONTAINER] = ctr_render(&f.ctx, &f.role, NOW);
}

/* ---- tokens --------------------------------------------------------------- */

/* base64url without padding of s. */
static void
seg(char *out, size_t cap, const char *s)
{
	size_t n = b64_encode((const unsigned char *)s, strlen(s), out, cap, 1, 0);

	while (n > 0 && out[n - 1] == '=')
		out[--n] = '\0';
}

/* A JWT of header and claims, its signature made up. */
static const char *
jwt(const char *header, const char *claims)
{
	static char tok[4096];
	char h[1024], c[2048];

	seg(h, sizeof(h), header);
	seg(c, sizeof(c), claims);
	snprintf(tok, sizeof(tok), "%s.%s.c2lnbmF0dXJl", h, c);
	return tok;
}

/* A good token, told apart by n. */
static const char *
token(int n)
{
	char claims[256];

	snprintf(claims, sizeof(claims), "{\"aud\":[\"pods.eks.amazonaws.com\"],\"exp\":%d,"
	    "\"nbf\":%d,\"jti\":\"%d\"}", NOW + 3600, NOW - 10, n);
	return jwt("{\"alg\":\"RS256\",\"kid\":\"k\"}", claims);
}

/* ---- one request ---------------------------------------------------------- */

struct answer {
	enum http_verdict verdict;
	int		 status;
	char		 head[HTTP_RESP_HEAD_MAX];
	char		 body[CTR_ERR_BODY_MAX + 1];
};

static unsigned char conn[4][CTR_ERR_BODY_MAX + 64];
static unsigned char peer_last = 7;	/* the asker is 10.0.0.<peer_last> */

/* The request text through the handler on connection c, at ms (deadline: the server's 503). */
static void
ask_on(int c, const char *text, uint64_t ms, int deadline, struct answer *a)
{
	static struct http_req req;
	struct http_peer peer = { .pe_family = 2, .pe_addr = { 10, 0, 0, peer_last },
	    .pe_port = 1 };
	struct http_call call = { &req, deadline ? HTTP_DEFER_STATUS : 0, &peer, ms,
	    "Mon, 02 Jun 2025 08:55:41 GMT" };
	struct http_reply rp;

	assert_true(pod_identity_http_service.sv_state_size <= sizeof(conn[c]));
	assert_true(http_parse(text, strlen(text), &http_parse_limits_max, &req) > 0);
	memset(a, 0, sizeof(*a));
	memset(&rp, 0, sizeof(rp));
	rp.hr_head = a->head;
	rp.hr_headcap = sizeof(a->head);
	a->verdict = pod_identity_http_service.sv_handle(conn[c], &call, &rp);
	if (a->verdict == HTTP_DEFER)
		return;
	a->status = atoi(a->head + 9);
	assert_true(rp.hr_bodylen < sizeof(a->body));
	memcpy(a->body, rp.hr_body, rp.hr_bodylen);
	pod_identity_http_service.sv_release(conn[c]);
}

static void
ask(const char *text, uint64_t ms, struct answer *a)
{
	ask_on(0, text, ms, 0, a);
}

/* GET /v1/credentials with host and token (NULL: no Authorization). */
static const char *
req(const char *host, const char *tok)
{
	static char text[8192];

	snprintf(text, sizeof(text), "GET /v1/credentials HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
	    host, tok != NULL ? "Authorization: " : "", tok != NULL ? tok : "",
	    tok != NULL ? "\r\n" : "");
	return text;
}

static void
assert_answer(const struct answer *a, int status, const char *body)
{
	assert_int_equal(a->verdict, HTTP_ANSWER);
	assert_int_equal(a->status, status);
	assert_string_equal(a->body, body);
}

/* An error of EKS Auth's passed through: "[<uuid>]: (code): msg, fault: f\n". */
static void
assert_api_error(const struct answer *a, int status, const char *code, const char *msg,
    const char *fault)
{
	char want[CTR_ERR_BODY_MAX];

	assert_int_equal(a->verdict, HTTP_ANSWER);
	assert_int_equal(a->status, status);
	assert_true(strlen(a->body) > 40 && a->body[0] == '[' && a->body[37] == ']');
	snprintf(want, sizeof(want), ": (%s): %s, fault: %s\n", code, msg, fault);
	assert_string_equal(a->body + 38, want);
	assert_non_null(strstr(a->head, "Content-Type: text/plain; charset=utf-8\r\n"
	    "X-Content-Type-Options: nosniff\r\n"));
}

static int
setup(void **state)
{
	(void)state;
	memset(&f, 0, sizeof(f));
	snprintf(f.inst.i_partition, sizeof(f.inst.i_partition), "aws");
	snprintf(f.inst.i_account, sizeof(f.inst.i_account), "123456789012");
	f.ctx.cx_inst = &f.inst;
	f.role_rc = POD_IDENTITY_ROLE;
	memset(conn, 0, sizeof(conn));
	clock_now = NOW;	/* what a test changed, even one that failed half-way */
	review_uid = UID;
	peer_last = 7;
	pod_identity_setup(&ops, (const char *const[]){ "127.0.0.1" }, 1, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	pod_identity_stop();
	ctr_view_unref(f.role.ro_views[RENDER_CONTAINER]);
	cred_kept_wipe(&f.role.ro_cache.cc_cur);
	cred_cache_set_error(&f.role.ro_cache, "");
	return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_host(void **state)
{
	static const char *const cases[][2] = {
		{ "169.254.170.23", "169.254.170.23" }, { "169.254.170.23:80", "169.254.170.23" },
		{ "[fd00:ec2::23]:80", "fd00:ec2::23" }, { "[fd00:ec2::23]", "fd00:ec2::23" },
		{ "fd00:ec2::23", "fd00:ec2::23" }, { "localhost:8080", "localhost" },
		{ "a:b:c", "a:b:c" }, { "[x]y:1", "[x]y:1" }, { "host:", "host" }, { "", "" },
	};
	struct slice h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = pod_identity_host((struct slice){ cases[i][0], strlen(cases[i][0]) });
		assert_int_equal(h.n, strlen(cases[i][1]));
		assert_memory_equal(h.p, cases[i][1], h.n);
	}
}

static void
check_jwt(const char *tok, const char *want)
{
	char msg[CTR_ERR_BODY_MAX];
	struct jwt_window w;
	int rc = pod_identity_jwt_check(tok, strlen(tok), NOW, &w, msg, sizeof(msg));

	if (want == NULL) {
		assert_int_equal(rc, 0);
		return;
	}
	assert_int_equal(rc, -1);
	assert_string_equal(msg, want);
}

static void
test_jwt(void **state)
{
	char claims[128];
	struct jwt_window w;
	char msg[256];

	(void)state;
	check_jwt(token(1), NULL);
	assert_int_equal(pod_identity_jwt_check(token(1), strlen(token(1)), NOW, &w, msg,
	    sizeof(msg)), 0);
	assert_true(w.jw_has_exp && w.jw_has_nbf);
	assert_true(w.jw_exp == NOW + 3600 && w.jw_nbf == NOW - 10);
	assert_true(pod_identity_jwt_holds(&w, NOW + 3599.9));
	assert_false(pod_identity_jwt_holds(&w, NOW + 3600));
	assert_false(pod_identity_jwt_holds(&w, NOW - 10.5));
	check_jwt("abc", "Service account token cannot be parsed: token is malformed: token "
	    "contains an invalid number of segments");
	check_jwt("a.b.c.d", "Service account token cannot be parsed: token is malformed: "
	    "token contains an invalid number of segments");
	check_jwt("eyJh*.e30.x", "Service account token cannot be parsed: token is malformed: "
	    "could not base64 decode header: illegal base64 data at input byte 4");
	check_jwt("eyJhbGciOiJSUzI1NiJ9.e30=.x", "Service account token cannot be parsed: "
	    "token is malformed: could not base64 decode claim: illegal base64 data at input "
	    "byte 3");
	check_jwt(jwt("{\"alg\":\"RS256\"}", "[1]"), "Service account token cannot be parsed: "
	    "token is malformed: could not JSON decode claim: not an object");
	check_jwt(jwt("{}", "{}"), "Service account token cannot be parsed: token is "
	    "unverifiable: signing method (alg) is unspecified");
	check_jwt(jwt("{\"alg\":\"XX1\"}", "{}"), "Service account token cannot be parsed: "
	    "token is unverifiable: signing method (alg) is unavailable");
	check_jwt(jwt("{\"alg\":\"RS256\"}", "{\"exp\":\"soon\"}"), "Service account token "
	    "cannot be parsed: token is malformed: could not JSON decode claim: a date is not "
	    "a number");
	snprintf(claims, sizeof(claims), "{\"exp\":%d}", NOW);
	check_jwt(jwt("{\"alg\":\"RS256\"}", claims), "Service account token failed basic "
	    "claim validations: token is expired");
	snprintf(claims, sizeof(claims), "{\"nbf\":%d}", NOW + 5);
	check_jwt(jwt("{\"alg\":\"RS256\"}", claims), "Service account token failed basic "
	    "claim validations: token is not valid yet");
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"nbf\":%d}", NOW - 5, NOW + 5);
	check_jwt(jwt("{\"alg\":\"RS256\"}", claims), "Service account token failed basic "
	    "claim validations: token is expired, token is not valid yet");
	check_jwt(jwt("{\"alg\":\"none\"}", "{}"), NULL);	/* no exp: nothing to fail */
}

static void
test_checks_before_review(void **state)
{
	struct answer a;

	(void)state;
	ask("GET /v1/credentials/ HTTP/1.1\r\nHost: " HOST "\r\n\r\n", T0, &a);
	assert_answer(&a, 404, "404 page not found\n");
	ask("GET /latest/meta-data/ HTTP/1.1\r\nHost: " HOST "\r\n\r\n", T0, &a);
	assert_answer(&a, 404, "404 page not found\n");
	ask(req("localhost:80", token(1)), T0, &a);
	assert_answer(&a, 403, "Access Denied. Called agent through invalid address, please "
	    "use either [169.254.170.23 fd00:ec2::23 127.0.0.1] address not localhost\n");
	assert_non_null(strstr(a.head, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: "));
	ask(req("[fd00:ec2::23]:80", NULL), T0, &a);
	assert_answer(&a, 400, "Service account token cannot be empty\n");
	ask(req("127.0.0.1:8080", "Bearer x"), T0, &a);	/* a listener's own address */
	assert_answer(&a, 400, "Service account token cannot be parsed: token is malformed: "
	    "token contains an invalid number of segments\n");
	ask("GET /v1/credentials HTTP/1.1\r\n\r\n", T0, &a);
	assert_answer(&a, 400, "400 Bad Request: missing required Host header");
	ask("GET /v1/%zz HTTP/1.1\r\nHost: " HOST "\r\n\r\n", T0, &a);
	assert_answer(&a, 400, "400 Bad Request");
	assert_int_equal(f.reviews, 0);
	assert_int_equal(pod_identity_verdicts(), 0);
}

static void
test_shared_review_then_cached(void **state)
{
	struct answer a, b;
	char want[1024];
	const struct ctr_view *v;

	(void)state;
	role_has_credentials();
	ask_on(0, req(HOST, token(1)), T0, 0, &a);
	ask_on(1, req(HOST ":80", token(1)), T0 + 5, 0, &b);
	assert_int_equal(a.verdict, HTTP_DEFER);
	assert_int_equal(b.verdict, HTTP_DEFER);
	assert_int_equal(f.reviews, 1);		/* one review for both */
	review_says(1);
	ask_on(0, req(HOST, token(1)), T0 + 10, 0, &a);
	ask_on(1, req(HOST ":80", token(1)), T0 + 10, 0, &b);
	v = ctr_view_of(&f.role);
	snprintf(want, sizeof(want), "%.*s", (int)v->cv_len[CTR_POD_IDENTITY],
	    v->cv_body[CTR_POD_IDENTITY]);
	assert_answer(&a, 200, want);
	assert_answer(&b, 200, want);
	assert_non_null(strstr(a.head, "Content-Type: application/json\r\n"));
	assert_null(strstr(want, "RoleArn"));
	assert_int_equal(f.roles, 1);
	/* later requests: the verdict kept, no review */
	ask(req(HOST, token(1)), T0 + PI_VERDICT_TTL_MS - 1, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(f.reviews, 1);
	assert_int_equal(pod_identity_stats()->ps_cached, 3);
	/* past the TTL: reviewed again */
	ask(req(HOST, token(1)), T0 + PI_VERDICT_TTL_MS + 1, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	assert_int_equal(f.reviews, 2);
	assert_int_equal(f.releases, 1);	/* the old verdict's role given back */
}

static void
test_denied_and_failed(void **state)
{
	struct answer a;

	(void)state;
	ask(req(HOST, token(2)), T0, &a);
	review_says(0);
	ask(req(HOST, token(2)), T0 + 1, &a);
	assert_api_error(&a, 400, "InvalidTokenException", "[invalid bearer token, token "
	    "lookup failed]", "client");
	ask(req(HOST, token(2)), T0 + 2, &a);	/* the denial is kept too */
	assert_int_equal(a.status, 400);
	assert_int_equal(f.reviews, 1);
	assert_int_equal(f.roles, 0);
	/* TokenReview fails: 503, kept only PI_FAILED_HOLD_MS */
	ask(req(HOST, token(3)), T0, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	f.done(f.darg, NULL, "kube: TokenReview: HTTP 500: etcd down");
	ask(req(HOST, token(3)), T0 + 1, &a);
	assert_api_error(&a, 503, "ServiceUnavailableException", "the token could not be "
	    "verified (kube: TokenReview: HTTP 500: etcd down)", "server");
	ask(req(HOST, token(3)), T0 + PI_FAILED_HOLD_MS + 1, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);	/* asked again */
	assert_int_equal(f.reviews, 3);
	f.role_rc = POD_IDENTITY_NONE;
	review_says(1);
	ask(req(HOST, token(3)), T0 + PI_FAILED_HOLD_MS + 2, &a);
	assert_api_error(&a, 404, "ResourceNotFoundException", "no role for service account "
	    "shop/api: none named", "client");
	/* a review that cannot even start */
	f.fail_start = 1;
	ask(req(HOST, token(4)), T0, &a);
	assert_api_error(&a, 503, "ServiceUnavailableException", "the token could not be "
	    "verified (kube: TokenReview: connection refused)", "server");
	/* the request's deadline while the review is under way */
	f.fail_start = 0;
	ask_on(0, req(HOST, token(5)), T0, 1, &a);
	assert_api_error(&a, 503, "ServiceUnavailableException", "the token could not be "
	    "verified: TokenReview did not answer in time", "server");
}

static void
test_pod_gone_and_token_exp(void **state)
{
	struct answer a;
	char claims[128];
	const char *tok;

	(void)state;
	role_has_credentials();
	ask(req(HOST, token(6)), T0, &a);
	review_says(1);
	ask(req(HOST, token(6)), T0 + 1, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(pod_identity_verdicts(), 1);
	/* the pod's role chosen again (an annotation edited, say): chosen again here too */
	pod_identity_pod_changed(UID);
	assert_int_equal(f.releases, 1);
	ask(req(HOST, token(6)), T0 + 1, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(f.roles, 2);
	assert_int_equal(f.reviews, 1);		/* the token's verdict stays */
	f.releases = 0;
	pod_identity_pod_gone("another-uid");
	assert_int_equal(pod_identity_verdicts(), 1);
	pod_identity_pod_gone(UID);
	assert_int_equal(pod_identity_verdicts(), 0);
	assert_int_equal(f.releases, 1);
	ask(req(HOST, token(6)), T0 + 2, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);	/* never served from the dropped verdict */
	assert_int_equal(f.reviews, 2);
	/* its review, asked before the deletion, answers after it: a denial */
	review_says(1);
	ask(req(HOST, token(6)), T0 + 3, &a);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, ": (InvalidTokenException): the token's pod shop/web-0 "
	    "was deleted, fault: client\n"));
	assert_int_equal(f.roles, 2);		/* no role chosen for it */
	assert_int_equal(f.reviews, 2);
	/* a token (of another pod) expiring in 10 s: its verdict goes with it, not after the TTL */
	snprintf(claims, sizeof(claims), "{\"exp\":%d,\"jti\":\"short\"}", NOW + 10);
	tok = jwt("{\"alg\":\"RS256\"}", claims);
	ask(req(HOST, tok), T0, &a);
	review_uid = "6c3a1e2b-5d4f-4a8e-9b7c-1d2e3f4a5b6c";
	review_says(1);
	review_uid = UID;
	clock_now = NOW + 9.5;
	ask(req(HOST, tok), T0 + 9500, &a);
	assert_int_equal(a.status, 200);	/* from its verdict */
	/* at its exp, before any tick: not served from the verdict, refused as expired */
	clock_now = NOW + 10;
	ask(req(HOST, tok), T0 + 10000, &a);
	assert_int_equal(a.status, 400);
	assert_string_equal(a.body, "Service account token failed basic claim validations: "
	    "token is expired\n");
	assert_int_equal(f.reviews, 3);
	assert_int_equal(pod_identity_verdicts(), 1);	/* token(6)'s is left */
	pod_identity_tick(T0 + 10001);
	assert_int_equal(pod_identity_verdicts(), 1);
	clock_now = NOW;
}

static void
test_cap(void **state)
{
	struct answer a;
	int i;

	(void)state;
	f.role_rc = POD_IDENTITY_NONE;
	for (i = 0; i < PI_VERDICTS_MAX; i++) {
		ask(req(HOST, token(100 + i)), T0 + (uint64_t)i, &a);
		review_says(1);
	}
	assert_int_equal(pod_identity_verdicts(), PI_VERDICTS_MAX);
	/* each is found again (a full table's hash chains): none reviewed twice */
	for (i = 0; i < PI_VERDICTS_MAX; i++) {
		ask(req(HOST, token(100 + i)), T0 + 4000, &a);
		assert_int_equal(a.status, 404);
	}
	assert_int_equal(f.reviews, PI_VERDICTS_MAX);
	assert_int_equal(pod_identity_stats()->ps_cached, PI_VERDICTS_MAX);
	ask(req(HOST, token(99)), T0 + 5000, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	assert_int_equal(pod_identity_verdicts(), PI_VERDICTS_MAX);
	assert_int_equal(pod_identity_stats()->ps_evicted, 1);
	review_says(1);
	/* the oldest (token 100) went: asked again; the newest is kept */
	ask(req(HOST, token(100 + PI_VERDICTS_MAX - 1)), T0 + 5001, &a);
	assert_int_equal(a.status, 404);
	ask(req(HOST, token(100)), T0 + 5002, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	review_says(1);
}

static void
test_reviews_per_address(void **state)
{
	struct answer a;
	int i;

	(void)state;
	for (i = 0; i < PI_REVIEWS_PER_ADDR_MAX; i++) {
		ask_on(i % 4, req(HOST, token(200 + i)), T0, 0, &a);
		assert_int_equal(a.verdict, HTTP_DEFER);
	}
	/* one more new token from the same address: throttled, not reviewed */
	ask(req(HOST, token(300)), T0 + 1, &a);
	assert_int_equal(a.status, 429);
	assert_non_null(strstr(a.body, ": (ThrottlingException): "));
	assert_non_null(strstr(a.body, "fault: client\n"));
	assert_int_equal(f.reviews, PI_REVIEWS_PER_ADDR_MAX);
	assert_int_equal(pod_identity_stats()->ps_throttled, 1);
	/* a token already under review is still waited for */
	ask(req(HOST, token(200)), T0 + 1, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	/* one review answered (token 203's): the address may ask again */
	review_says(1);
	ask(req(HOST, token(300)), T0 + 2, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	assert_int_equal(f.reviews, PI_REVIEWS_PER_ADDR_MAX + 1);
	/* another address is not held back by this one's */
	peer_last = 8;
	ask(req(HOST, token(301)), T0 + 2, &a);
	peer_last = 7;
	assert_int_equal(a.verdict, HTTP_DEFER);
	assert_int_equal(f.reviews, PI_REVIEWS_PER_ADDR_MAX + 2);
	/* the node's own address (every hostNetwork pod's) is not capped */
	peer_last = node_last;
	for (i = 0; i < PI_REVIEWS_PER_ADDR_MAX + 2; i++) {
		ask_on(i % 4, req(HOST, token(400 + i)), T0 + 3, 0, &a);
		assert_int_equal(a.verdict, HTTP_DEFER);
	}
	assert_int_equal(pod_identity_stats()->ps_throttled, 1);
}

static void
test_window_of_a_kept_verdict(void **state)
{
	struct answer a;
	char claims[128];
	const char *tok;

	(void)state;
	role_has_credentials();
	/* exp with a fraction, asked 0.4 s before it */
	snprintf(claims, sizeof(claims), "{\"exp\":%d.7,\"jti\":\"frac\"}", NOW);
	tok = jwt("{\"alg\":\"RS256\"}", claims);
	clock_now = NOW + 0.3;
	ask(req(HOST, tok), T0, &a);
	review_says(1);
	clock_now = NOW + 0.69;
	ask(req(HOST, tok), T0 + 390, &a);
	assert_int_equal(a.status, 200);
	clock_now = NOW + 0.71;
	ask(req(HOST, tok), T0 + 410, &a);
	assert_string_equal(a.body, "Service account token failed basic claim validations: "
	    "token is expired\n");
	/* the wall clock stepped past the exp while the loop's clock did not move */
	tok = token(8);
	ask(req(HOST, tok), T0, &a);
	review_says(1);
	ask(req(HOST, tok), T0 + 1, &a);
	assert_int_equal(a.status, 200);
	clock_now = NOW + 3600;
	ask(req(HOST, tok), T0 + 2, &a);
	assert_int_equal(a.status, 400);
	assert_string_equal(a.body, "Service account token failed basic claim validations: "
	    "token is expired\n");
	/* ... or back before its nbf */
	clock_now = NOW - 11;
	ask(req(HOST, tok), T0 + 3, &a);
	assert_string_equal(a.body, "Service account token failed basic claim validations: "
	    "token is not valid yet\n");
	clock_now = NOW;
	ask(req(HOST, tok), T0 + 4, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(f.reviews, 2);
}

static void
test_role_wait_and_refusal(void **state)
{
	struct answer a;

	(void)state;
	snprintf(f.role.ro_name, sizeof(f.role.ro_name), "app");
	ask(req(HOST, token(7)), T0, &a);
	review_says(1);
	/* no credentials yet: held up to PI_WAIT_MS, then the 500 */
	ask_on(2, req(HOST, token(7)), T0 + 1, 0, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	ask_on(2, req(HOST, token(7)), T0 + 1 + PI_WAIT_MS, 0, &a);
	assert_int_equal(a.status, 500);
	assert_non_null(strstr(a.body, "AssumeRoleForPodIdentity"));
	/* STS refused: its status, code, message and request id */
	f.role.ro_cache.cc_fetched_once = 1;
	cred_cache_set_error(&f.role.ro_cache, "STS AssumeRole "
	    "arn:aws:iam::123456789012:role/app: AccessDenied: not authorized to perform "
	    "sts:AssumeRole (HTTP 403, request id 1b2c)");
	ask(req(HOST, token(7)), T0 + 2, &a);
	assert_answer(&a, 403, "[1b2c]: (AccessDenied): not authorized to perform "
	    "sts:AssumeRole, fault: client\n");
	/* STS not reached: 500, the error as it is */
	cred_cache_set_error(&f.role.ro_cache, "STS AssumeRole "
	    "arn:aws:iam::123456789012:role/app: Could not connect");
	ask(req(HOST, token(7)), T0 + 3, &a);
	assert_answer(&a, 500, "STS AssumeRole arn:aws:iam::123456789012:role/app: Could not "
	    "connect\n");
	/* a role refused by the node's rules */
	f.role_rc = POD_IDENTITY_REFUSED;
	ask(req(HOST, token(8)), T0, &a);
	review_says(1);
	ask(req(HOST, token(8)), T0 + 1, &a);
	assert_api_error(&a, 400, "AccessDeniedException", "pod shop/web-0: not allowed",
	    "client");
	/* the pod's service account still being read: held, then the 500 */
	f.role_rc = POD_IDENTITY_WAIT;
	ask(req(HOST, token(9)), T0, &a);
	review_says(1);
	ask_on(3, req(HOST, token(9)), T0 + 1, 0, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	ask_on(3, req(HOST, token(9)), T0 + 2, 1, &a);
	assert_int_equal(a.status, 500);
}

static void
test_stop_cancels(void **state)
{
	struct answer a;

	(void)state;
	ask(req(HOST, token(10)), T0, &a);
	assert_int_equal(a.verdict, HTTP_DEFER);
	pod_identity_stop();
	assert_int_equal(f.cancels, 1);
	assert_int_equal(pod_identity_verdicts(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks_before_review, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_review_then_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_denied_and_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_gone_and_token_exp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reviews_per_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_of_a_kept_verdict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_wait_and_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_cancels, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
