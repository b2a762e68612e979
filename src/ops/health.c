/*
 * health.c: the health listener's answers, and the metrics.
 *
 *   GET /healthz   200 {"status":"ok"}: the loop answers
 *   GET /readyz    200 {"ready":true}, or 503 {"ready":false,"reasons":[...]}
 *                  with one reason per part not ready (serve/daemon.c's callback)
 *   GET /metrics   Prometheus text exposition format 0.0.4
 *
 * HEAD is answered like GET without the body; other methods 405, other
 * paths 404, requests that do not parse their status, all with empty
 * bodies.  The listener is separate from the metadata listeners (a port of
 * its own, bound to the node) and never reached through the magic IP.
 *
 * The listener is its own HTTP service (health_serve): a small pool, a
 * per-address cap, a short deadline, and a full pool evicts its oldest
 * connection still reading a request, so that no client can starve the
 * probes (issue #17).
 *
 * The counters live in `metrics`, written on the loop by the services
 * (imds/service.c, http/server.c's limit hits); this file only reads them,
 * on the same thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"

#define CT_JSON		"application/json"
#define CT_PROM		"text/plain; version=0.0.4; charset=utf-8"

struct metrics metrics;

static void	(*ready_cb)(struct health_reasons *);
static void	(*creds_cb)(struct health_creds *);
static void	(*more_cb)(struct sbuf *);

/* The statuses counted apart, by index of metrics.m_requests; the last is "other". */
static const int statuses[] = {
	200, 400, 401, 403, 404, 405, 408, 413, 429, 431, 501, 505, 0
};
#define NSTATUSES	(sizeof(statuses) / sizeof(statuses[0]))
_Static_assert(NSTATUSES == METRIC_STATUSES, "metrics.m_requests has a column per status");

static const char *const class_names[PC_COUNT] = {
	"token", "credentials", "identity", "meta-data", "user-data", "other", "error"
};
static const char *const reject_names[TR_COUNT] = {
	"", "missing", "expired", "invalid", "ttl-bad", "x-forwarded-for"
};
static const char *const limit_names[LIM_COUNT] = {
	"max-connections", "max-connections-per-client", "rate-limit", "request-timeout",
	"header-size", "body-size", "file-descriptors", "health-connections"
};

void
health_callbacks(void (*ready)(struct health_reasons *), void (*creds)(struct health_creds *))
{
	ready_cb = ready;
	creds_cb = creds;
}

void
health_reason_add(struct health_reasons *r, const char *fmt, ...)
{
	va_list ap;

	if (r->rn_n == HEALTH_REASONS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(r->rn_text[r->rn_n], sizeof(r->rn_text[0]), fmt, ap);
	va_end(ap);
	r->rn_n++;
}

void
metrics_request(enum path_class pc, int status)
{
	size_t i;

	for (i = 0; i < NSTATUSES - 1 && statuses[i] != status; i++)
		;
	metrics.m_requests[pc][i]++;
}


/* A JSON string literal of s: quotes, backslashes and control bytes escaped. */
static void
ojson_str(struct sbuf *o, const char *s)
{
	sbuf_printf(o, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sbuf_printf(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			sbuf_printf(o, "\\u%04x", c);
		else
			sbuf_printf(o, "%c", c);
	}
	sbuf_printf(o, "\"");
}

static void
readyz(struct sbuf *o, struct response *rs)
{
	struct health_reasons r;
	size_t i;

	r.rn_n = 0;
	if (ready_cb != NULL)
		ready_cb(&r);
	if (r.rn_n == 0) {
		sbuf_printf(o, "{\"ready\":true}");
		return;
	}
	rs->rs_status = 503;
	sbuf_printf(o, "{\"ready\":false,\"reasons\":[");
	for (i = 0; i < r.rn_n; i++) {
		if (i > 0)
			sbuf_printf(o, ",");
		ojson_str(o, r.rn_text[i]);
	}
	sbuf_printf(o, "]}");
}

void
health_prom_head(struct sbuf *o, const char *name, const char *type, const char *help)
{
	sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
health_prom_value(struct sbuf *o, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	health_prom_head(o, name, type, help);
	sbuf_printf(o, "%s %llu\n", name, v);
}

/* A counter by one label: label="names[i]" counts[i] for i from first to n - 1. */
static void
prom_by_label(struct sbuf *o, const char *name, const char *help, const char *label,
    const char *const *names, const uint64_t *counts, size_t first, size_t n)
{
	size_t i;

	health_prom_head(o, name, "counter", help);
	for (i = first; i < n; i++)
		sbuf_printf(o, "%s{%s=\"%s\"} %llu\n", name, label, names[i],
		    (unsigned long long)counts[i]);
}

static void
metrics_text(struct sbuf *o)
{
	struct health_creds hc;
	size_t c, i;
	int any;

	health_prom_head(o, "gimme_requests_total", "counter",
	    "Metadata requests answered, by path class and status.");
	any = 0;
	for (c = 0; c < PC_COUNT; c++)
		for (i = 0; i < NSTATUSES; i++) {
			if (metrics.m_requests[c][i] == 0)
				continue;
			any = 1;
			if (statuses[i] != 0)
				sbuf_printf(o, "gimme_requests_total{class=\"%s\",status=\"%d\"} %llu\n",
				    class_names[c], statuses[i],
				    (unsigned long long)metrics.m_requests[c][i]);
			else
				sbuf_printf(o, "gimme_requests_total{class=\"%s\",status=\"other\"} %llu\n",
				    class_names[c], (unsigned long long)metrics.m_requests[c][i]);
		}
	if (!any)	/* a series with no sample is invisible: show the zero */
		sbuf_printf(o, "gimme_requests_total{class=\"token\",status=\"200\"} 0\n");

	health_prom_value(o, "gimme_tokens_issued_total", "counter", "IMDSv2 session tokens issued.",
	    metrics.m_tokens_issued);

	prom_by_label(o, "gimme_token_rejections_total",
	    "Requests refused for their token or token request, by reason.", "reason",
	    reject_names, metrics.m_token_rejects, 1, TR_COUNT);

	memset(&hc, 0, sizeof(hc));
	if (creds_cb != NULL)
		creds_cb(&hc);
	health_prom_value(o, "gimme_credential_refreshes_total", "counter",
	    "Credential fetches from the source that delivered.", hc.hcr_refreshes);
	health_prom_value(o, "gimme_credential_refresh_failures_total", "counter",
	    "Credential fetches from the source that failed.", hc.hcr_failures);
	health_prom_value(o, "gimme_credentials_expiry_seconds", "gauge",
	    "Seconds until the served credentials expire (0: none served).",
	    hc.hcr_have && hc.hcr_expires_in > 0 ? (unsigned long long)hc.hcr_expires_in : 0);

	health_prom_value(o, "gimme_connections_open", "gauge",
	    "Connections of the metadata listeners open now.",
	    http_conns_open(&imds_http_service));

	prom_by_label(o, "gimme_limit_hits_total",
	    "Times a limit refused, closed or paused something, by limit.", "limit",
	    limit_names, metrics.m_limit_hits, 0, LIM_COUNT);
	if (more_cb != NULL)
		more_cb(o);
}

void
health_metrics_more(void (*more)(struct sbuf *o))
{
	more_cb = more;
}

void
health_handle(const struct http_req *req, int status, struct response *rs, char *buf,
    size_t cap)
{
	struct sbuf o = SBUF_FIXED(buf, cap);
	struct slice path;
	int head;

	memset(rs, 0, sizeof(*rs));
	rs->rs_shape = RESP_PLAIN;
	rs->rs_ctype = "text/plain";
	rs->rs_ttl = -1;
	rs->rs_body = "";
	rs->rs_class = PC_OTHER;
	buf[0] = '\0';
	if (status != 0) {
		rs->rs_status = status;
		return;
	}
	head = slice_eq(req->r_method, "HEAD");
	if (!head && !slice_eq(req->r_method, "GET")) {
		rs->rs_status = 405;
		rs->rs_allow = "GET, HEAD";
		return;
	}
	/* the query, if any, is ignored: probes may add cache-busters */
	path = req->r_target;
	if (memchr(path.p, '?', path.n) != NULL)
		path.n = (size_t)((const char *)memchr(path.p, '?', path.n) - path.p);
	rs->rs_status = 200;
	rs->rs_head_only = head;
	if (slice_eq(path, "/healthz")) {
		rs->rs_ctype = CT_JSON;
		sbuf_printf(&o, "{\"status\":\"ok\"}");
	} else if (slice_eq(path, "/readyz")) {
		rs->rs_ctype = CT_JSON;
		readyz(&o, rs);
	} else if (slice_eq(path, "/metrics")) {
		rs->rs_ctype = CT_PROM;
		metrics_text(&o);
	} else {
		rs->rs_status = 404;
		rs->rs_head_only = 0;
		return;
	}
	if (o.sb_full)
		log_warn("health: the answer to %.*s is cut at %zu bytes", (int)path.n, path.p,
		    cap);
	rs->rs_body = buf;
	rs->rs_bodylen = o.sb_len;
}

/* ---- the health service --------------------------------------------------- */

/* One connection's answer: the response and its body. */
struct health_conn {
	struct response	 hn_rs;
	char		 hn_body[HEALTH_BODY_MAX];
};

static enum http_verdict
health_serve_one(void *state, const struct http_call *call, struct http_reply *rp)
{
	struct health_conn *h = state;

	health_handle(call->hc_status == 0 ? call->hc_req : NULL, call->hc_status, &h->hn_rs,
	    h->hn_body, sizeof(h->hn_body));
	rp->hr_headlen = response_head(&h->hn_rs, call->hc_date, rp->hr_head,
	    rp->hr_headcap);
	rp->hr_body = h->hn_rs.rs_body;
	rp->hr_bodylen = h->hn_rs.rs_head_only ? 0 : h->hn_rs.rs_bodylen;
	return HTTP_ANSWER;
}

static const struct http_service health_http_service = {
	.sv_name = "health",
	.sv_log_pre = "health endpoint on http://",
	.sv_log_post = "/",
	.sv_handle = health_serve_one,
	.sv_release = NULL,
	.sv_state_size = sizeof(struct health_conn),
	.sv_hits = {
		[HIT_POOL] = &metrics.m_limit_hits[LIM_HEALTH_CONN],
		[HIT_PER_CLIENT] = &metrics.m_limit_hits[LIM_HEALTH_CONN],
	},
};

int
health_serve(const struct listen_addr *la, const struct http_parse_limits *pl, char *err,
    size_t errlen)
{
	struct http_limits lim = {
		.hl_conn_max = HEALTH_CONN_MAX,
		.hl_per_client = HEALTH_PER_CLIENT_MAX,
		.hl_req_timeout_ms = HEALTH_REQ_TIMEOUT_MS,
		.hl_rate = 0,
		.hl_evict = 1,
		.hl_parse = *pl,
	};

	return http_serve(&health_http_service, &lim, la, 1, err, errlen);
}
