/*
 * pod_identity.c: the EKS Pod Identity endpoint as an HTTP service
 * (contract §11.2; per-pod-identity.md §5).
 *
 * The agent (aws/eks-pod-identity-agent) serves one route, GET or any
 * method, /v1/credentials (an exact match of Go's ServeMux; the query is
 * ignored), and checks, in this order (internal/validation/request.go):
 *
 *   403  Host, its port and IPv6 brackets removed (net.SplitHostPort), is
 *        not 169.254.170.23 or fd00:ec2::23:
 *        "Access Denied. Called agent through invalid address, please use
 *        either [169.254.170.23 fd00:ec2::23] address not HOST"
 *   400  "Service account token cannot be empty"
 *   400  "Service account token cannot be parsed: ERR" (golang-jwt/v5's
 *        ParseUnverified: three segments, base64url without padding, JSON
 *        header and claims, a known alg)
 *   400  "Service account token failed basic claim validations: ERR"
 *        (exp, nbf: "token is expired", "token is not valid yet")
 *
 * then asks EKS Auth (AssumeRoleForPodIdentity) and passes its errors
 * through with their status as "[REQUEST-ID]: (CODE): MESSAGE, fault:
 * client|server" (pkg/errors/errors.go), other failures as 500 and the
 * error's text.  Every error is Go's http.Error: text/plain; charset=utf-8,
 * nosniff, the message and LF.  A 200 is application/json, the role's
 * CTR_POD_IDENTITY rendering.  Other paths get Go's "404 page not found".
 *
 * Here EKS Auth's part is done on the node: the token is verified with the
 * Kubernetes TokenReview API for the audience pods.eks.amazonaws.com (the
 * request is held, HTTP_DEFER, until the verdict comes; requests with the
 * same token share one review), and the pod it names gets the role the
 * per-pod IMDS path would give it, the config's Pod Identity associations
 * first (pods_node_identity; with --session-tags the pod's own role,
 * assumed with EKS's six session tags, the review's pod name among them).  Verdicts are cached by the SHA-256 of the
 * token (the token itself is never kept) for at most PI_VERDICT_TTL_MS and
 * never past the token's exp (nor outside its exp and nbf on the wall clock:
 * then the token is checked again), at most PI_VERDICTS_MAX of them (the oldest
 * settled one makes room), and dropped when their pod is deleted
 * (pod_identity_pod_gone); a tracked pod whose role is chosen again
 * (pod_identity_pod_changed) has it chosen again for Pod Identity too.
 * The answers of EKS Auth's part:
 *
 *   400 InvalidTokenException        TokenReview did not authenticate the
 *                                    token, or not for the audience, or it
 *                                    is not a pod-bound service-account token
 *   503 ServiceUnavailableException  TokenReview failed (unreachable, 5xx,
 *                                    not answered by the request's deadline):
 *                                    nothing unverified is ever served
 *   404 ResourceNotFoundException    the pod has no role
 *   400 InvalidTokenException        the token's pod was deleted while its
 *                                    review was in flight (PI_GONE_MAX)
 *   429 ThrottlingException          a new token from an address that has
 *                                    PI_REVIEWS_PER_ADDR_MAX under review
 *                                    (not the node's own: hostNetwork pods)
 *   400 AccessDeniedException        a role is named but refused (a namespace
 *                                    restriction, not a role ARN)
 *   STS's status and code            STS refused the role (its request id)
 *   500                              the role's first credentials did not come
 *                                    within PI_WAIT_MS, or STS did not answer
 *
 * A request id that STS did not give is made up (random, UUID-shaped).
 * Listeners given with --pod-identity-listen also accept their own address
 * as Host (tests and loopback use; the magic IP's are always accepted), and
 * the 403 lists every host accepted, as the agent lists its TargetHosts.
 * The Host is the only thing the address of a request decides: hostNetwork
 * pods are served like any other.
 */
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "container/container.h"
#include "kube/kube.h"
#include "pods/pods.h"

#define PI_PATH		"/v1/credentials"
#define PI_HOST_V4	"169.254.170.23"	/* the agent's (netfilter.h's MAGIC_POD_ID_*) */
#define PI_HOST_V6	"fd00:ec2::23"
#define MSG_404		"404 page not found\n"
#define MSG_EMPTY	"Service account token cannot be empty"
#define MSG_PARSE	"Service account token cannot be parsed: "
#define MSG_CLAIMS	"Service account token failed basic claim validations: "
#define MSG_DENIED	"Access Denied. Called agent through invalid address, please use either "
#define PI_KEY_LEN	SHA256_DIGEST_LENGTH
#define PI_REQID_LEN	UUID_TEXT_LEN	/* a made-up request id: a UUID's text */
#define PI_BUCKETS	(2 * PI_VERDICTS_MAX)	/* the verdicts' hash chains (a power of 2) */

_Static_assert((PI_BUCKETS & (PI_BUCKETS - 1)) == 0, "PI_BUCKETS is a power of 2");
_Static_assert(PI_VERDICTS_MAX < UINT16_MAX, "a verdict's index fits a chain link");

enum pv_state { PV_FREE, PV_PENDING, PV_OK, PV_DENIED, PV_FAILED };

/* One token's verdict (keyed by the token's digest). */
struct pi_verdict {
	unsigned char	 pv_key[PI_KEY_LEN];
	enum pv_state	 pv_state;
	uint64_t	 pv_made_ms;	/* asked then (the oldest settled one is evicted first) */
	uint64_t	 pv_until_ms;	/* dropped then */
	uint64_t	 pv_exp_ms;	/* the token's exp on the loop's clock; 0: none */
	struct kube_call *pv_call;	/* PENDING: the review in flight */
	int		 pv_resolved;	/* OK: the role was chosen (pv_role, or none) */
	int		 pv_refused;	/* resolved without a role: 1 refused, 0 none */
	struct assumed	*pv_role;	/* resolved: the pod's role (held), or NULL */
	uint16_t	 pv_next;	/* the next verdict of its hash chain: index + 1, 0 none */
	struct http_peer pv_asker;	/* who asked first (PENDING: counted against its address) */
	struct jwt_window pv_window;	/* the token's exp and nbf: the verdict holds within */
	char		 pv_uid[KUBE_UID_MAX + 1];
	char		 pv_name[KUBE_NAME_MAX + 1];	/* the review's pod name ("" unknown) */
	char		 pv_ns[KUBE_NAMESPACE_MAX + 1];
	char		 pv_sa[KUBE_NAME_MAX + 1];
	char		 pv_why[PI_WHY_MAX];	/* DENIED, FAILED, resolved without a role */
};

/*
 * The service's state; the verdicts (about 1 KiB each) are zero pages until
 * used.  A lookup follows one hash chain of the token's digest (the digest's
 * first bytes pick it: SHA-256 spreads them); taking a new entry and the
 * tick's expiry are scans, once per token and per second.
 */
static struct pi_state {
	struct pi_ops	 ops;
	char		 hosts[PI_HOSTS_MAX][PI_HOST_MAX + 1];	/* accepted Host values */
	size_t		 nhosts;
	int		 access_log;
	unsigned long	 deferred;	/* requests held since the last tick */
	size_t		 reviewing;	/* TokenReviews in flight (at most PI_REVIEWS_MAX) */
	struct pi_stats	 stats;
	struct pi_verdict verdicts[PI_VERDICTS_MAX];
	uint16_t	 chains[PI_BUCKETS];	/* a chain's first verdict: index + 1, 0 none */
	char		 gone[PI_GONE_MAX][KUBE_UID_MAX + 1];	/* the last pods deleted (a
						   ring; a uid is never given again) */
	size_t		 gone_next;
} pi;

/* ---- set-up --------------------------------------------------------------- */

void
pod_identity_setup(const struct pi_ops *ops, const char *const *hosts, size_t nhosts,
    int access_log)
{
	size_t i;

	pod_identity_stop();
	pi.ops = *ops;
	pi.access_log = access_log;
	pi.nhosts = 0;
	snprintf(pi.hosts[pi.nhosts++], sizeof(pi.hosts[0]), "%s", PI_HOST_V4);
	snprintf(pi.hosts[pi.nhosts++], sizeof(pi.hosts[0]), "%s", PI_HOST_V6);
	for (i = 0; i < nhosts && pi.nhosts < PI_HOSTS_MAX; i++)
		snprintf(pi.hosts[pi.nhosts++], sizeof(pi.hosts[0]), "%s", hosts[i]);
}

static uint16_t *
verdict_chain(const unsigned char key[PI_KEY_LEN])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return &pi.chains[h & (PI_BUCKETS - 1)];
}

/* v (keyed) put on its chain. */
static void
verdict_link(struct pi_verdict *v)
{
	uint16_t *head = verdict_chain(v->pv_key);

	v->pv_next = *head;
	*head = (uint16_t)(v - pi.verdicts + 1);
}

static void
verdict_unlink(struct pi_verdict *v)
{
	uint16_t *link = verdict_chain(v->pv_key), me = (uint16_t)(v - pi.verdicts + 1);

	while (*link != 0 && *link != me)
		link = &pi.verdicts[*link - 1].pv_next;
	if (*link == me)
		*link = v->pv_next;
}

/* v forgotten: its review cancelled, its role released. */
static void
verdict_free(struct pi_verdict *v, time_t now)
{
	verdict_unlink(v);
	if (v->pv_call != NULL && pi.ops.po_cancel != NULL)
		pi.ops.po_cancel(pi.ops.po_arg, v->pv_call);
	if (v->pv_state == PV_PENDING && pi.reviewing > 0)
		pi.reviewing--;
	if (v->pv_role != NULL && pi.ops.po_release != NULL)
		pi.ops.po_release(pi.ops.po_arg, v->pv_role, now);
	explicit_bzero(v, sizeof(*v));
}

void
pod_identity_stop(void)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < PI_VERDICTS_MAX; i++)
		if (pi.verdicts[i].pv_state != PV_FREE)
			verdict_free(&pi.verdicts[i], now);
	memset(&pi.stats, 0, sizeof(pi.stats));
	memset(pi.gone, 0, sizeof(pi.gone));
	pi.gone_next = 0;
	pi.reviewing = 0;
}

/* ---- the verdict cache ---------------------------------------------------- */

static struct pi_verdict *
verdict_find(const unsigned char key[PI_KEY_LEN], uint64_t now_ms)
{
	struct pi_verdict *v;
	uint16_t at;

	for (at = *verdict_chain(key); at != 0; at = v->pv_next) {
		v = &pi.verdicts[at - 1];
		if (memcmp(v->pv_key, key, PI_KEY_LEN) != 0)
			continue;
		if (v->pv_state != PV_PENDING && v->pv_until_ms <= now_ms) {
			verdict_free(v, (time_t)(now_ms / 1000));
			return NULL;
		}
		return v;
	}
	return NULL;
}

/* A free entry: a free one, else the oldest settled one evicted; NULL: all under review. */
static struct pi_verdict *
verdict_new(uint64_t now_ms)
{
	struct pi_verdict *v, *old = NULL;
	size_t i;

	for (i = 0; i < PI_VERDICTS_MAX; i++) {
		v = &pi.verdicts[i];
		if (v->pv_state == PV_FREE)
			return v;
		if (v->pv_state != PV_PENDING && (old == NULL || v->pv_made_ms < old->pv_made_ms))
			old = v;
	}
	if (old != NULL) {
		pi.stats.ps_evicted++;
		verdict_free(old, (time_t)(now_ms / 1000));
	}
	return old;
}

/* How long v is kept from now: PI_VERDICT_TTL_MS, not past the token's exp. */
static void
verdict_settle(struct pi_verdict *v, enum pv_state st, uint64_t now_ms, uint64_t keep_ms)
{
	v->pv_state = st;
	v->pv_call = NULL;
	v->pv_until_ms = now_ms + keep_ms;
	if (v->pv_exp_ms != 0 && v->pv_exp_ms < v->pv_until_ms)
		v->pv_until_ms = v->pv_exp_ms;
}

/* The role of v's pod, chosen now if not yet.  0 chosen (or none); -1 not yet (waiting). */
static int
verdict_resolve(struct pi_verdict *v, time_t now)
{
	int rc;

	if (v->pv_resolved)
		return 0;
	v->pv_why[0] = '\0';
	rc = pi.ops.po_role(pi.ops.po_arg, v->pv_uid, v->pv_name, v->pv_ns, v->pv_sa, now,
	    &v->pv_role, v->pv_why, sizeof(v->pv_why));
	if (rc == POD_IDENTITY_WAIT)
		return -1;
	v->pv_resolved = 1;
	v->pv_refused = rc == POD_IDENTITY_REFUSED;
	if (rc != POD_IDENTITY_ROLE)
		v->pv_role = NULL;
	return 0;
}

static int
pod_was_deleted(const char *uid)
{
	size_t i;

	for (i = 0; i < PI_GONE_MAX; i++)
		if (strcmp(pi.gone[i], uid) == 0)
			return 1;
	return 0;
}

/* The TokenReview's answer (from the loop). */
static void
review_done(void *arg, const struct kube_review *r, const char *err)
{
	struct pi_verdict *v = arg;
	uint64_t now_ms = loop_now_ms() > v->pv_made_ms ? loop_now_ms() : v->pv_made_ms;

	if (pi.reviewing > 0)
		pi.reviewing--;
	if (r == NULL) {
		snprintf(v->pv_why, sizeof(v->pv_why), "%s", err != NULL ? err : "no answer");
		log_warn("pod identity: TokenReview failed: %s", v->pv_why);
		pi.stats.ps_review_failures++;
		verdict_settle(v, PV_FAILED, now_ms, PI_FAILED_HOLD_MS);
	} else if (!r->kr_authenticated || !r->kr_audience_ok || !r->kr_is_sa ||
	    r->kr_pod_uid[0] == '\0') {
		snprintf(v->pv_why, sizeof(v->pv_why), "%s", r->kr_error[0] != '\0' ?
		    r->kr_error : !r->kr_authenticated ? "not authenticated" :
		    !r->kr_audience_ok ? "not for the audience " PI_AUDIENCE :
		    !r->kr_is_sa ? "not a service account's token" : "not bound to a pod");
		pi.stats.ps_denied++;
		verdict_settle(v, PV_DENIED, now_ms, PI_VERDICT_TTL_MS);
	} else if (pod_was_deleted(r->kr_pod_uid)) {
		/* asked before the deletion, answered after: the pod is gone */
		snprintf(v->pv_why, sizeof(v->pv_why), "the token's pod %s/%s was deleted",
		    r->kr_namespace, r->kr_pod_name);
		pi.stats.ps_denied++;
		verdict_settle(v, PV_DENIED, now_ms, PI_VERDICT_TTL_MS);
	} else {
		snprintf(v->pv_uid, sizeof(v->pv_uid), "%s", r->kr_pod_uid);
		snprintf(v->pv_name, sizeof(v->pv_name), "%s", r->kr_pod_name);
		snprintf(v->pv_ns, sizeof(v->pv_ns), "%s", r->kr_namespace);
		snprintf(v->pv_sa, sizeof(v->pv_sa), "%s", r->kr_sa);
		verdict_settle(v, PV_OK, now_ms, PI_VERDICT_TTL_MS);
		(void)verdict_resolve(v, (time_t)pi.ops.po_clock());
	}
	http_wake();
}

/* A review of the token for v, started (PENDING) or failed at once (FAILED). */
static void
verdict_ask(struct pi_verdict *v, const char *tok, size_t len, uint64_t now_ms)
{
	char err[ERRBUF_LEN];

	v->pv_state = PV_PENDING;
	v->pv_made_ms = now_ms;
	pi.stats.ps_reviews++;
	/* the rest of the client's calls stay free for the pods' service accounts */
	if (pi.reviewing >= PI_REVIEWS_MAX) {
		snprintf(err, sizeof(err), "%d TokenReviews in flight already", PI_REVIEWS_MAX);
		goto failed;
	}
	if (pi.ops.po_review(pi.ops.po_arg, tok, len, review_done, v, &v->pv_call, err,
	    sizeof(err)) == -1)
		goto failed;
	pi.reviewing++;
	return;
failed:
	snprintf(v->pv_why, sizeof(v->pv_why), "%.500s", err);
	log_warn("pod identity: TokenReview not asked: %s", err);
	pi.stats.ps_review_failures++;
	verdict_settle(v, PV_FAILED, now_ms, PI_FAILED_HOLD_MS);
}

void
pod_identity_pod_gone(const char *uid)
{
	time_t now = time(NULL);
	size_t i;

	if (*uid != '\0' && !pod_was_deleted(uid)) {
		snprintf(pi.gone[pi.gone_next], sizeof(pi.gone[0]), "%s", uid);
		pi.gone_next = (pi.gone_next + 1) % PI_GONE_MAX;
	}
	for (i = 0; i < PI_VERDICTS_MAX; i++)
		if (pi.verdicts[i].pv_state == PV_OK && strcmp(pi.verdicts[i].pv_uid, uid) == 0)
			verdict_free(&pi.verdicts[i], now);
}

void
pod_identity_pod_changed(const char *uid)
{
	struct pi_verdict *v;
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < PI_VERDICTS_MAX; i++) {
		v = &pi.verdicts[i];
		if (v->pv_state != PV_OK || !v->pv_resolved || strcmp(v->pv_uid, uid) != 0)
			continue;
		if (v->pv_role != NULL && pi.ops.po_release != NULL)
			pi.ops.po_release(pi.ops.po_arg, v->pv_role, now);
		v->pv_role = NULL;
		v->pv_resolved = 0;
	}
}

IDLE_PATH void
pod_identity_tick(uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < PI_VERDICTS_MAX; i++)
		if (pi.verdicts[i].pv_state != PV_FREE && pi.verdicts[i].pv_state != PV_PENDING &&
		    pi.verdicts[i].pv_until_ms <= now_ms)
			verdict_free(&pi.verdicts[i], (time_t)(now_ms / 1000));
	if (pi.deferred == 0)
		return;
	pi.deferred = 0;
	http_wake();	/* a held request whose role's fetch failed is answered now */
}

size_t
pod_identity_verdicts(void)
{
	size_t i, n = 0;

	for (i = 0; i < PI_VERDICTS_MAX; i++)
		n += pi.verdicts[i].pv_state != PV_FREE;
	return n;
}

const struct pi_stats *
pod_identity_stats(void)
{
	pi.stats.ps_verdicts = pod_identity_verdicts();
	return &pi.stats;
}

/* ---- the request ---------------------------------------------------------- */

/*
 * Host as the agent compares it: net.SplitHostPort's host when it splits
 * ("h:p", "[h]:p"), then one pair of brackets removed.
 */
struct slice
pod_identity_host(struct slice h)
{
	const char *p = h.p, *end = h.p + h.n, *c, *rb;

	if (h.n > 0 && p[0] == '[') {
		rb = memchr(p, ']', h.n);
		if (rb != NULL && rb + 1 < end && rb[1] == ':' && memchr(p + 1, '[',
		    (size_t)(rb - p - 1)) == NULL && memchr(rb + 1, '[', (size_t)(end - rb - 1))
		    == NULL && memchr(rb + 1, ']', (size_t)(end - rb - 1)) == NULL)
			h = (struct slice){ p + 1, (size_t)(rb - p - 1) };
	} else {
		for (c = end; c > p && c[-1] != ':'; c--)
			;
		if (c > p && memchr(p, ':', (size_t)(c - 1 - p)) == NULL &&
		    memchr(p, '[', (size_t)(c - 1 - p)) == NULL &&
		    memchr(p, ']', (size_t)(c - 1 - p)) == NULL &&
		    memchr(c, '[', (size_t)(end - c)) == NULL &&
		    memchr(c, ']', (size_t)(end - c)) == NULL)
			h.n = (size_t)(c - 1 - p);
	}
	if (h.n > 1 && h.p[0] == '[' && h.p[h.n - 1] == ']')
		h = (struct slice){ h.p + 1, h.n - 2 };
	return h;
}

/* 1 when host is one of the hosts accepted. */
static int
host_ok(struct slice host)
{
	size_t i;

	for (i = 0; i < pi.nhosts; i++)
		if (strlen(pi.hosts[i]) == host.n && memcmp(pi.hosts[i], host.p, host.n) == 0)
			return 1;
	return 0;
}

/* A plain-text error (Go's http.Error: the message and LF) into the connection's buffer. */
static int
pi_error(struct ctr_conn *pc, struct http_reply *rp, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
pi_error(struct ctr_conn *pc, struct http_reply *rp, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(pc->cc_body, sizeof(pc->cc_body) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(pc->cc_body) - 2)
		n = (int)sizeof(pc->cc_body) - 2;	/* cut: the LF still ends it */
	pc->cc_body[n++] = '\n';
	pc->cc_body[n] = '\0';
	rp->hr_body = pc->cc_body;
	rp->hr_bodylen = (size_t)n;
	return status;
}

/* EKS Auth's error as the agent passes it through: "[id]: (code): message, fault: f". */
static int
pi_api_error(struct ctr_conn *pc, struct http_reply *rp, int status, const char *reqid,
    const char *code, const char *msg)
{
	char made[PI_REQID_LEN + 1];

	if (reqid == NULL || *reqid == '\0') {
		uuid4_text(made);
		reqid = made;
	}
	return pi_error(pc, rp, status, "[%s]: (%s): %s, fault: %s", reqid, code, msg,
	    status >= 500 ? "server" : "client");
}

/* The 403: the host shown as the agent shows it, its accepted hosts in Go's %s of a []string. */
static int
pi_host_denied(struct ctr_conn *pc, struct http_reply *rp, struct slice host)
{
	char list[PI_HOSTS_MAX * (PI_HOST_MAX + 1) + 2];
	size_t i, off = 0;

	list[off++] = '[';
	for (i = 0; i < pi.nhosts; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? " " : "",
		    pi.hosts[i]);
	snprintf(list + off, sizeof(list) - off, "]");
	return pi_error(pc, rp, 403, MSG_DENIED "%s address not %.*s", list,
	    (int)(host.n < PI_HOST_SHOWN_MAX ? host.n : PI_HOST_SHOWN_MAX), host.p);
}

/* ---- the JWT's basic checks (golang-jwt/v5, signature not verified) ------- */

/* The algorithms golang-jwt/v5 knows (GetSigningMethod). */
static const char *const jwt_algs[] = { "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA", "none", NULL };

/*
 * Decode one segment as base64.RawURLEncoding (no padding) into out[cap].
 * Its length, or -1 with *bad the byte Go names.
 */
static ssize_t
segment_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *bad)
{
	char pad[PI_JWT_PART_MAX * 4 / 3 + 4];
	size_t i;
	ssize_t len;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_')) {
			*bad = i;
			return -1;
		}
	if (n % 4 == 1 || n + 3 > sizeof(pad)) {
		*bad = n % 4 == 1 ? n - 1 : 0;
		return -1;
	}
	memcpy(pad, s, n);
	for (i = n; i % 4 != 0; i++)
		pad[i] = '=';
	if ((len = b64url_decode(pad, i, out, cap)) < 0)
		*bad = 0;
	return len;
}

/* One segment decoded and parsed as a JSON object; NULL with msg set ("header"/"claim"). */
static json_t *
segment_json(const char *s, size_t n, const char *what, char *msg, size_t len)
{
	unsigned char raw[PI_JWT_PART_MAX];
	json_error_t jerr;
	json_t *j;
	ssize_t k;
	size_t bad = 0;

	if ((k = segment_decode(s, n, raw, sizeof(raw), &bad)) < 0) {
		snprintf(msg, len, "token is malformed: could not base64 decode %s: illegal "
		    "base64 data at input byte %zu", what, bad);
		return NULL;
	}
	if ((j = json_loadb((const char *)raw, (size_t)k, 0, &jerr)) == NULL ||
	    !json_is_object(j)) {
		snprintf(msg, len, "token is malformed: could not JSON decode %s: %s", what,
		    j == NULL ? jerr.text : "not an object");
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A NumericDate claim: 1 present (*t its seconds), 0 absent, -1 not a number. */
static int
numeric_date(const json_t *claims, const char *key, double *t)
{
	const json_t *v = json_object_get(claims, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return -1;
	*t = json_number_value(v);
	return 1;
}

/* The header's alg: 0 known, -1 with msg. */
static int
jwt_alg(const json_t *hdr, char *msg, size_t len)
{
	const json_t *alg = json_object_get(hdr, "alg");
	size_t i;

	if (!json_is_string(alg)) {
		snprintf(msg, len, "token is unverifiable: signing method (alg) is unspecified");
		return -1;
	}
	for (i = 0; jwt_algs[i] != NULL; i++)
		if (strcmp(jwt_algs[i], json_string_value(alg)) == 0)
			return 0;
	snprintf(msg, len, "token is unverifiable: signing method (alg) is unavailable");
	return -1;
}

int
pod_identity_jwt_holds(const struct jwt_window *w, double now)
{
	return !(w->jw_has_exp && !(now < w->jw_exp)) && !(w->jw_has_nbf && now < w->jw_nbf);
}

int
pod_identity_jwt_check(const char *tok, size_t n, double now, struct jwt_window *w,
    char *msg, size_t len)
{
	const char *d1 = memchr(tok, '.', n), *d2, *d3;
	json_t *hdr = NULL, *claims = NULL;
	double iat = 0;
	int rc = -1, he, hn;
	int expired, early;

	memset(w, 0, sizeof(*w));
	d2 = d1 != NULL ? memchr(d1 + 1, '.', (size_t)(tok + n - d1 - 1)) : NULL;
	d3 = d2 != NULL ? memchr(d2 + 1, '.', (size_t)(tok + n - d2 - 1)) : NULL;
	if (d1 == NULL || d2 == NULL || d3 != NULL) {
		snprintf(msg, len, MSG_PARSE "token is malformed: token contains an invalid "
		    "number of segments");
		return -1;
	}
	snprintf(msg, len, "%s", MSG_PARSE);
	if ((hdr = segment_json(tok, (size_t)(d1 - tok), "header", msg + strlen(msg),
	    len - strlen(msg))) == NULL || (claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1),
	    "claim", msg + strlen(msg), len - strlen(msg))) == NULL)
		goto out;
	if ((he = numeric_date(claims, "exp", &w->jw_exp)) == -1 ||
	    (hn = numeric_date(claims, "nbf", &w->jw_nbf)) == -1 ||
	    numeric_date(claims, "iat", &iat) == -1) {
		snprintf(msg + strlen(msg), len - strlen(msg), "token is malformed: could not "
		    "JSON decode claim: a date is not a number");
		goto out;
	}
	w->jw_has_exp = he == 1;
	w->jw_has_nbf = hn == 1;
	if (jwt_alg(hdr, msg + strlen(msg), len - strlen(msg)) == -1)
		goto out;
	if (!pod_identity_jwt_holds(w, now)) {
		expired = w->jw_has_exp && !(now < w->jw_exp);
		early = w->jw_has_nbf && now < w->jw_nbf;
		snprintf(msg, len, MSG_CLAIMS "%s%s%s", expired ? "token is expired" : "",
		    expired && early ? ", " : "", early ? "token is not valid yet" : "");
		goto out;
	}
	rc = 0;
out:
	json_decref(hdr);
	json_decref(claims);
	return rc;
}

/* ---- the answer ----------------------------------------------------------- */

/* The credentials of v's role, its failure, or (0) not yet. */
static int
pi_serve_role(struct ctr_conn *pc, struct http_reply *rp, const struct http_call *call,
    const struct pi_verdict *v)
{
	const struct role *r = pi.ops.po_role_of(v->pv_role);
	const struct cred_cache *cc = &r->ro_cache;
	struct ctr_sts_error e;

	if (ctr_serve_view(pc, rp, r, CTR_POD_IDENTITY)) {
		pi.stats.ps_served++;
		return 200;
	}
	if (cc->cc_fetched_once && cred_cache_error(cc)[0] != '\0') {
		if (ctr_sts_error_parse(cred_cache_error(cc), &e))
			return pi_api_error(pc, rp, e.se_status >= 400 && e.se_status <= 599 ?
			    (int)e.se_status : 500, e.se_request_id, e.se_code, e.se_message);
		return pi_error(pc, rp, 500, "%s", cred_cache_error(cc));
	}
	if (!cc->cc_fetched_once && ctr_hold(pc, call, PI_WAIT_MS)) {
		pi.deferred++;
		return 0;
	}
	return pi_error(pc, rp, 500, "operation error EKS Auth: AssumeRoleForPodIdentity, "
	    "credentials of the role not there within %d ms", PI_WAIT_MS);
}

/* A verified token's answer: its pod's role, or why none. */
static int
pi_verified(struct ctr_conn *pc, struct http_reply *rp, const struct http_call *call,
    struct pi_verdict *v)
{
	if (verdict_resolve(v, (time_t)pi.ops.po_clock()) == -1) {
		/* the pod's service account is being read: hold as for a role */
		if (ctr_hold(pc, call, PI_WAIT_MS)) {
			pi.deferred++;
			return 0;
		}
		return pi_error(pc, rp, 500, "operation error EKS Auth: "
		    "AssumeRoleForPodIdentity, the pod's service account %s/%s not known "
		    "within %d ms", v->pv_ns, v->pv_sa, PI_WAIT_MS);
	}
	if (v->pv_role == NULL)
		return v->pv_refused ? pi_api_error(pc, rp, 400, NULL, "AccessDeniedException",
		    v->pv_why) : pi_api_error(pc, rp, 404, NULL, "ResourceNotFoundException",
		    v->pv_why);
	return pi_serve_role(pc, rp, call, v);
}

/* The reviews in flight that peer's address asked for. */
static size_t
reviews_of(const struct http_peer *peer)
{
	size_t i, n = 0;

	for (i = 0; i < PI_VERDICTS_MAX; i++)
		n += pi.verdicts[i].pv_state == PV_PENDING &&
		    pi.verdicts[i].pv_asker.pe_family == peer->pe_family &&
		    memcmp(pi.verdicts[i].pv_asker.pe_addr, peer->pe_addr, sizeof(peer->pe_addr)) == 0;
	return n;
}

/*
 * The token's verdict v (NULL: none yet, asked now): asked, waited for (0),
 * or answered.  w is the token's window, now the wall clock.  One address
 * has at most PI_REVIEWS_PER_ADDR_MAX new tokens under review: a pod sending
 * made-up tokens neither takes the TokenReviews the others need nor pushes
 * their verdicts out faster than reviews answer (EKS Auth's throttling: 429).
 */
static int
pi_token(struct ctr_conn *pc, struct http_reply *rp, const struct http_call *call,
    struct slice tok, const unsigned char key[PI_KEY_LEN], struct pi_verdict *v,
    const struct jwt_window *w, double now)
{
	char msg[PI_WHY_MAX + 64];

	if (v == NULL) {
		/* the node's own address is every hostNetwork pod's: not capped */
		if ((pi.ops.po_is_node == NULL || !pi.ops.po_is_node(call->hc_peer)) &&
		    reviews_of(call->hc_peer) >= PI_REVIEWS_PER_ADDR_MAX) {
			pi.stats.ps_throttled++;
			return pi_api_error(pc, rp, 429, NULL, "ThrottlingException",
			    "too many tokens from this address under review");
		}
		if ((v = verdict_new(call->hc_now_ms)) == NULL)
			return pi_api_error(pc, rp, 503, NULL, "ServiceUnavailableException",
			    "too many tokens under review");
		memcpy(v->pv_key, key, PI_KEY_LEN);
		v->pv_asker = *call->hc_peer;
		v->pv_window = *w;
		verdict_link(v);
		/* on the loop's clock, not after the exp (now < exp: checked) */
		v->pv_exp_ms = 0;
		if (w->jw_has_exp)
			v->pv_exp_ms = call->hc_now_ms + (w->jw_exp - now < 4e9 ?
			    (uint64_t)((w->jw_exp - now) * 1000) : (uint64_t)4e12);
		verdict_ask(v, tok.p, tok.n, call->hc_now_ms);
	} else if (v->pv_state != PV_PENDING)
		pi.stats.ps_cached++;
	switch (v->pv_state) {
	case PV_PENDING:
		if (call->hc_status != HTTP_DEFER_STATUS)
			return 0;	/* woken by review_done; the request's deadline ends it */
		return pi_api_error(pc, rp, 503, NULL, "ServiceUnavailableException",
		    "the token could not be verified: TokenReview did not answer in time");
	case PV_FAILED:
		snprintf(msg, sizeof(msg), "the token could not be verified (%s)", v->pv_why);
		return pi_api_error(pc, rp, 503, NULL, "ServiceUnavailableException", msg);
	case PV_DENIED:
		return pi_api_error(pc, rp, 400, NULL, "InvalidTokenException", v->pv_why);
	default:
		return pi_verified(pc, rp, call, v);
	}
}

/* A request that parsed: its status (0: wait), the body set in rp. */
static int
pi_answer(struct ctr_conn *pc, const struct http_call *call, struct http_reply *rp,
    enum ctr_shape *shape)
{
	const struct http_req *req = call->hc_req;
	const char *q = memchr(req->r_target.p, '?', req->r_target.n);
	const struct http_header *h;
	char path[ECS_PATH_MAX + 1], msg[CTR_ERR_BODY_MAX];
	unsigned char key[PI_KEY_LEN];
	struct slice host = { "", 0 }, tok = { "", 0 };
	struct pi_verdict *v;
	size_t nhost = 0;
	struct jwt_window w;
	double now;
	int status;

	*shape = CTR_SHAPE_TEXT;
	if (ctr_unescape(req->r_target.p, q != NULL ? (size_t)(q - req->r_target.p) :
	    req->r_target.n, 0, path) == -1) {
		*shape = CTR_SHAPE_RAW;
		rp->hr_body = "400 Bad Request";
		rp->hr_bodylen = strlen(rp->hr_body);
		return 400;
	}
	if ((h = http_header_find(req, "Host", &nhost)) != NULL)
		host = h->h_value;
	if (nhost > 1 || (nhost == 0 && req->r_minor >= 1)) {
		/* Go's server: "400 Bad Request: missing required Host header" */
		*shape = CTR_SHAPE_RAW;
		snprintf(pc->cc_body, sizeof(pc->cc_body), "400 Bad Request: %s", nhost > 1 ?
		    "too many Host headers" : "missing required Host header");
		rp->hr_body = pc->cc_body;
		rp->hr_bodylen = strlen(pc->cc_body);
		return 400;
	}
	if (strcmp(path, PI_PATH) != 0) {
		rp->hr_body = MSG_404;
		rp->hr_bodylen = sizeof(MSG_404) - 1;
		return 404;
	}
	host = pod_identity_host(host);
	if (!host_ok(host))
		return pi_host_denied(pc, rp, host);
	if ((h = http_header_find(req, "Authorization", NULL)) != NULL)
		tok = h->h_value;
	if (tok.n == 0)
		return pi_error(pc, rp, 400, MSG_EMPTY);
	/*
	 * A token with a settled verdict passed the checks when it was asked:
	 * while its exp and nbf still hold on the wall clock, it is not parsed
	 * again.
	 */
	SHA256((const unsigned char *)tok.p, tok.n, key);
	now = pi.ops.po_clock();
	v = verdict_find(key, call->hc_now_ms);
	if (v == NULL || v->pv_state == PV_PENDING || !pod_identity_jwt_holds(&v->pv_window,
	    now)) {
		if (pod_identity_jwt_check(tok.p, tok.n, now, &w, msg, sizeof(msg)) == -1)
			return pi_error(pc, rp, 400, "%s", msg);
	} else
		w = v->pv_window;
	if ((status = pi_token(pc, rp, call, tok, key, v, &w, now)) == 200)
		*shape = CTR_SHAPE_JSON;
	return status;
}

static enum http_verdict
pi_handle(void *state, const struct http_call *call, struct http_reply *rp)
{
	return ctr_handle(state, call, rp, pi_answer, pi.access_log, "pod-identity");
}

/* The service (its listeners are logged "EKS Pod Identity credentials on ADDR:PORT"). */
const struct http_service pod_identity_http_service = {
	.sv_handle = pi_handle, .sv_release = ctr_release,
	.sv_state_size = sizeof(struct ctr_conn),
	.sv_name = "pod-identity", .sv_log_pre = "EKS Pod Identity credentials on ",
	.sv_log_post = "",
};

/* ---- the daemon's operations: kube/'s TokenReview, pods/node.c's roles ---- */

/*
 * CLOCK_REALTIME with its fraction, as Go's time.Now(): time(NULL) reads the
 * coarse clock, which can still say the last second when a token's nbf (its
 * iat, the API server's now) already says this one.
 */
static double
wall_precise(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return (double)time(NULL);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
node_review(void *arg, const char *token, size_t len, void (*done)(void *,
    const struct kube_review *, const char *), void *darg, struct kube_call **call, char *err,
    size_t errlen)
{
	struct kube_client *c = pods_node_client();

	(void)arg;
	if (c == NULL) {
		snprintf(err, errlen, "no Kubernetes client");
		return -1;
	}
	return kube_token_review(c, token, len, PI_AUDIENCE, done, darg, call, err, errlen);
}

static void
node_cancel(void *arg, struct kube_call *call)
{
	(void)arg;
	kube_call_cancel(call);
}

static int
node_role(void *arg, const char *uid, const char *name, const char *ns, const char *sa,
    time_t now, struct assumed **a, char *why, size_t whylen)
{
	(void)arg;
	return pods_node_identity(uid, name, ns, sa, now, a, why, whylen);
}

static void
node_release(void *arg, struct assumed *a, time_t now)
{
	(void)arg;
	assumed_release(a, now);
}

static const struct role *
node_role_of(const struct assumed *a)
{
	return assumed_role(a);
}

const struct pi_ops pod_identity_node_ops = {
	.po_review = node_review, .po_cancel = node_cancel, .po_role = node_role,
	.po_release = node_release, .po_role_of = node_role_of, .po_clock = wall_precise,
	.po_is_node = pods_host_has, .po_arg = NULL,
};
