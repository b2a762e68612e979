/*
 * service.c: IMDS as an HTTP service (http/server.c's handler).
 *
 * The handler takes the snapshot current when the request is answered,
 * holds a reference while the body (which may point into it) is written,
 * and answers with routes.c's rules and heads.  It counts what the answer
 * says for the metrics, and writes the access log line.  It is told who is
 * asking (struct http_peer): a resolver (imds_serve_resolver) turns the
 * peer into its role's view, which is held like the snapshot.
 *
 * A signature requested before the identity keys are there (routes.c says
 * rs_pending) is deferred, holding nothing; every snapshot published wakes
 * the deferred requests, which are asked again against it.
 *
 * With --pod-roles a request under meta-data/iam from an
 * address nobody is known to own yet (the pod started a moment ago, the
 * watch has not told), or whose role's first credentials are not there,
 * waits too: woken when the pods or a role change (http_wake) and at its
 * own deadline (http_wake_at, finer than the tick), then answered as for
 * no role, with a log line naming the address.  Only those requests wait:
 * everything else is answered from the snapshot at once.  Tokens are then
 * bound to the address they were issued to (token.c).
 */
#include <string.h>

#include "imds/imds.h"
#include "ops/ops.h"

/* One connection's answer: the response, the snapshot and role view its body may point into. */
struct imds_conn {
	struct response	 ic_rs;
	struct snapshot	*ic_snap;	/* held until sv_release */
	struct role_view *ic_role;	/* the caller's, held likewise; NULL: no role */
	uint64_t	 ic_wait_since;	/* ms: it first waited for its caller; 0: it has not */
};

static struct {
	struct snapshot	*snap;		/* current; connections hold their own refs */
	int		 access_log;
	int		 pods;		/* --pod-roles: callers wait for the resolver, tokens bound */
	unsigned	 pod_wait_ms;	/* --pod-wait */
	enum roles_answer (*resolve)(void *arg, const struct http_peer *peer,
			    struct role_view **rv);
	void		*resolve_arg;
	uint64_t	 waited;	/* requests that waited for their caller */
	uint64_t	 expired;	/* ... and were answered at the deadline */
} imds;

/* Count what the response says for the metrics. */
static void
imds_count(const struct response *rs)
{
	metrics_request(rs->rs_class, rs->rs_status);
	if (rs->rs_reject != TR_NONE)
		metrics.m_token_rejects[rs->rs_reject]++;
	if (rs->rs_class == PC_TOKEN && rs->rs_body == rs->rs_tokbuf)
		metrics.m_tokens_issued++;
	if (rs->rs_status == 431)
		metrics.m_limit_hits[LIM_HEAD]++;
	else if (rs->rs_status == 413)
		metrics.m_limit_hits[LIM_BODY]++;
}

/* The end of a wait for the caller: answered as for no role, and said. */
static void
imds_wait_over(const struct http_call *call, enum roles_answer who)
{
	char peer[SOCK_ADDR_TEXT_MAX];

	imds.expired++;
	http_peer_text(call->hc_peer, peer, sizeof(peer));
	log_warn("%s: %s after %u ms: meta-data/iam answered as for no role", peer,
	    who == ROLES_UNKNOWN ? "no pod known at this address (or its role not chosen yet)" :
	    "its role's first credentials are not there", imds.pod_wait_ms);
}

/*
 * The answer to a request into ic_rs (late: its deadline passed while it
 * waited).  1 answered, 0 to wait (holding nothing).
 */
static int
imds_answer(struct imds_conn *ic, const struct http_call *call, int late)
{
	struct response *rs = &ic->ic_rs;
	enum roles_answer who = ROLES_READY;
	uint64_t until;

	ic->ic_role = NULL;
	if (imds.resolve != NULL)
		who = imds.resolve(imds.resolve_arg, call->hc_peer, &ic->ic_role);
	role_view_ref(ic->ic_role);
	routes_handle(call->hc_req, imds.snap, ic->ic_role, imds.pods ?
	    call->hc_peer : NULL, call->hc_now_ms / 1000, rs);
	if (rs->rs_pending && !late)
		goto wait;	/* a signature before the keys: asked again at the next snapshot */
	if (who == ROLES_READY || !imds.pods || !rs->rs_iam ||
	    (rs->rs_status != 200 && rs->rs_status != 404))
		return 1;
	if (ic->ic_wait_since == 0) {
		ic->ic_wait_since = call->hc_now_ms;
		imds.waited++;
	}
	until = ic->ic_wait_since + imds.pod_wait_ms;
	if (!late && call->hc_now_ms < until) {
		http_wake_at(until);
		goto wait;
	}
	imds_wait_over(call, who);
	return 1;
wait:
	role_view_unref(ic->ic_role);
	ic->ic_role = NULL;
	return 0;
}

static enum http_verdict
imds_handle(void *state, const struct http_call *call, struct http_reply *rp)
{
	struct imds_conn *ic = state;
	struct response *rs = &ic->ic_rs;
	struct slice method = { "-", 1 }, target = { "-", 1 };
	char peer[SOCK_ADDR_TEXT_MAX];
	const char *v;

	if (call->hc_status == 0) {
		if (!imds_answer(ic, call, 0))
			return HTTP_DEFER;
	} else if (call->hc_status == HTTP_DEFER_STATUS && ic->ic_wait_since != 0) {
		(void)imds_answer(ic, call, 1);	/* the request's deadline came first */
	} else
		routes_error(call->hc_status, rs);	/* 429: K10, empty, K5 order */
	if (call->hc_req != NULL) {
		method = call->hc_req->r_method;
		target = call->hc_req->r_target;
	}
	imds_count(rs);
	/* the body may point into the snapshot: hold it until written */
	ic->ic_snap = imds.snap;
	snapshot_ref(ic->ic_snap);
	rp->hr_headlen = response_head(rs, call->hc_date, rp->hr_head,
	    rp->hr_headcap);
	rp->hr_body = rs->rs_body;
	rp->hr_bodylen = rs->rs_head_only ? 0 : rs->rs_bodylen;
	rp->hr_hop_limit = rs->rs_hop_limit;
	if (imds.access_log) {
		http_peer_text(call->hc_peer, peer, sizeof(peer));
		v = rs->rs_token_used > 0 ? "v2" : rs->rs_token_used < 0 ? "bad" : "v1";
		log_access(peer, method, target, rs->rs_status,
		    rp->hr_bodylen, v);
	}
	return HTTP_ANSWER;
}

static void
imds_release(void *state)
{
	struct imds_conn *ic = state;

	if (ic->ic_snap != NULL)
		snapshot_unref(ic->ic_snap);
	ic->ic_snap = NULL;
	role_view_unref(ic->ic_role);
	ic->ic_role = NULL;
}

const struct http_service imds_http_service = {
	.sv_name = "imds",
	.sv_log_pre = "listening on ",
	.sv_log_post = "",
	.sv_handle = imds_handle,
	.sv_release = imds_release,
	.sv_state_size = sizeof(struct imds_conn),
	.sv_hits = {
		[HIT_POOL] = &metrics.m_limit_hits[LIM_MAX_CONN],
		[HIT_PER_CLIENT] = &metrics.m_limit_hits[LIM_PER_CLIENT],
		[HIT_RATE] = &metrics.m_limit_hits[LIM_RATE],
		[HIT_TIMEOUT] = &metrics.m_limit_hits[LIM_REQ_TIMEOUT],
	},
};

void
imds_serve_options(int access_log, int pods, unsigned pod_wait_ms)
{
	imds.access_log = access_log;
	imds.pods = pods;
	imds.pod_wait_ms = pod_wait_ms;
}

void
imds_serve_resolver(enum roles_answer (*resolve)(void *arg, const struct http_peer *peer,
    struct role_view **rv), void *arg)
{
	imds.resolve = resolve;
	imds.resolve_arg = arg;
}

void
imds_serve_waits(uint64_t *waited, uint64_t *expired)
{
	*waited = imds.waited;
	*expired = imds.expired;
}

void
imds_serve_snapshot(struct snapshot *s)
{
	struct snapshot *old = imds.snap;

	imds.snap = s;
	if (old != NULL)
		snapshot_unref(old);
	if (s != NULL)
		http_wake();	/* requests waiting for a signature may have it now */
}
