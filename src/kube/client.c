/*
 * client.c: the Kubernetes API client: requests on httpc/'s libcurl, the
 * bearer token, one-shot calls (GET of a ServiceAccount, TokenReview).
 *
 * The token: a static one from the kubeconfig, or a file (in a pod, or a
 * kubeconfig's tokenFile) re-read before a request when its mtime changed
 * or KUBE_TOKEN_REREAD_S passed since it was read (the kubelet rotates
 * projected tokens; clients that never re-read get 401s).  A file that
 * cannot be read keeps the token read last, with a warning.  Trailing
 * white space is dropped, as client-go does.  The token goes into the
 * Authorization header of each request; the header list is wiped when
 * the request is freed.  It is never logged.
 *
 * TLS: the CA bundle, client certificate and key are handed to libcurl as
 * blobs (copied by libcurl into its own memory; never on disk).
 * Verification is always on (httpc_xfer_init); only https is allowed and
 * redirects are never followed.
 *
 * One-shot calls start from a zero-delay loop timer, never inside the
 * kube_* call: so done never runs before it returns, and a call may be
 * asked for from a reflector's callback, which runs inside libcurl's write
 * callback where libcurl refuses new transfers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "kube/internal.h"

#define KUBE_AUDIENCE_MAX	256	/* bytes of a TokenReview audience */
#define KUBE_REVIEW_BODY_MAX	(KUBE_TOKEN_MAX + 2 * KUBE_AUDIENCE_MAX + 256)	/* bytes of its JSON */

struct kube_client {
	struct kube_config c_cfg;
	char		*c_token;	/* the current token (secret); NULL: none */
	size_t		 c_token_len;
	struct timespec	 c_token_mtime;	/* of the file when it was read */
	uint64_t	 c_token_read_ms;	/* mono ms of that read */
	struct kube_call *c_calls;	/* one-shot calls pending or in flight */
	size_t		 c_ncalls;
};

enum call_type { CALL_GET_SA, CALL_REVIEW };

struct kube_call {
	struct kube_client *k_c;
	enum call_type	 k_type;
	struct kube_req	 k_rq;
	struct loop_timer k_start;	/* starts it from the loop */
	void		(*k_sa_done)(void *, const struct kube_sa *, long, const char *);
	void		(*k_rv_done)(void *, const struct kube_review *, const char *);
	void		*k_arg;
	char		 k_audience[KUBE_AUDIENCE_MAX + 1];
	struct kube_call *k_prev, *k_next;
};

/* ---- the token ------------------------------------------------------------ */

/* Take t[0..n) (trimmed) as the current token; t is wiped and freed. */
static void
token_set(struct kube_client *c, char *t, size_t n)
{
	size_t len = n;

	while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' ' ||
	    t[len - 1] == '\t'))
		len--;
	if (len == 0 || text_has_ctl(t, len)) {
		log_warn("kube: token file %s: empty or not one line; keeping the last token",
		    c->c_cfg.kc_token_file);
		wipe_free(t, n);
		return;
	}
	wipe_free(c->c_token, c->c_token_len);
	explicit_bzero(t + len, n - len);
	t[len] = '\0';
	c->c_token = t;
	c->c_token_len = len;	/* wiped as len bytes; the tail is zero already */
}

/* Re-read the token file when it changed or is old.  Never fails: the last token stays. */
static void
token_refresh(struct kube_client *c)
{
	struct stat st;
	char *t;
	size_t n;

	if (c->c_cfg.kc_token_file[0] == '\0')
		return;
	if (stat(c->c_cfg.kc_token_file, &st) == 0 && c->c_token != NULL &&
	    st.st_mtim.tv_sec == c->c_token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->c_token_mtime.tv_nsec &&
	    mono_ms() - c->c_token_read_ms < (uint64_t)KUBE_TOKEN_REREAD_S * 1000)
		return;
	if (read_file_capped(c->c_cfg.kc_token_file, KUBE_TOKEN_MAX, &t, &n) == -1) {
		log_warn("kube: token file %s: %s%s", c->c_cfg.kc_token_file, strerror(errno),
		    c->c_token != NULL ? "; keeping the last token" : "");
		return;
	}
	c->c_token_mtime = st.st_mtim;
	c->c_token_read_ms = mono_ms();
	token_set(c, t, n);
}

/* ---- requests ------------------------------------------------------------- */

/* The Authorization and Accept headers (and Content-Type for a body).  0 / -1. */
static int
req_headers(struct kube_client *c, struct kube_req *rq, int post)
{
	struct sbuf h = SBUF_GROWN(KUBE_TOKEN_MAX + 32);
	struct curl_slist *nl;

	if ((nl = curl_slist_append(NULL, "Accept: application/json")) == NULL)
		return -1;
	rq->rq_headers = nl;
	if (post && (nl = curl_slist_append(rq->rq_headers,
	    "Content-Type: application/json")) == NULL)
		return -1;
	rq->rq_headers = nl;
	if (c->c_token == NULL)
		return 0;
	sbuf_puts(&h, "Authorization: Bearer ");
	sbuf_put(&h, c->c_token, c->c_token_len);
	nl = h.sb_full ? NULL : curl_slist_append(rq->rq_headers, h.sb_p);
	sbuf_free(&h);
	if (nl == NULL)
		return -1;
	rq->rq_headers = nl;
	return 0;
}

int
kube_req_init(struct kube_client *c, struct kube_req *rq, const char *path, const char *body,
    size_t len, int (*on_data)(void *, const char *, size_t), long life_s,
    void (*done)(void *arg, CURLcode cc), void *arg, char *err, size_t errlen)
{
	struct sbuf url = SBUF_GROWN(KUBE_URL_MAX + KUBE_CONTINUE_MAX * 3 + KUBE_SELECTOR_MAX * 3 +
	    256);
	const struct kube_config *kc = &c->c_cfg;
	CURL *e;
	CURLcode cc;

	memset(rq, 0, sizeof(*rq));
	token_refresh(c);
	if (httpc_xfer_init(&rq->rq_x, KUBE_BODY_MAX, done, arg, err, errlen) == -1)
		return -1;
	e = rq->rq_x.hx_easy;
	rq->rq_x.hx_on_data = on_data;
	sbuf_puts(&url, kc->kc_server);
	sbuf_puts(&url, path);
	if (url.sb_full || req_headers(c, rq, body != NULL) == -1) {
		errf(err, errlen, "kube: out of memory");
		goto fail;
	}
	HTTPC_SETOPT("kube", e, CURLOPT_URL, url.sb_p);
	HTTPC_SETOPT("kube", e, CURLOPT_PROTOCOLS_STR, "https");
	HTTPC_SETOPT("kube", e, CURLOPT_HTTPHEADER, rq->rq_headers);
	HTTPC_SETOPT("kube", e, CURLOPT_CONNECTTIMEOUT_MS, (long)KUBE_CONNECT_TIMEOUT_MS);
	HTTPC_SETOPT("kube", e, CURLOPT_TCP_KEEPALIVE, 1L);
	/*
	 * A stream's bound is one deadline, not a low-speed limit: libcurl
	 * checks a low speed by waking every second for every stream, which
	 * keeps its code and libssl's in memory on an idle node.
	 */
	HTTPC_SETOPT("kube", e, CURLOPT_TIMEOUT_MS, on_data != NULL ? 1000 * life_s :
	    (long)KUBE_REQUEST_TIMEOUT_MS);
	if (body != NULL) {
		if ((rq->rq_body = mem_strdup(body, len)) == NULL) {
			errf(err, errlen, "kube: out of memory");
			goto fail;
		}
		rq->rq_body_len = len;
		HTTPC_SETOPT("kube", e, CURLOPT_POST, 1L);
		HTTPC_SETOPT("kube", e, CURLOPT_POSTFIELDS, rq->rq_body);
		HTTPC_SETOPT("kube", e, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	if (kc->kc_ca != NULL &&
	    (cc = httpc_setopt_blob(e, CURLOPT_CAINFO_BLOB, kc->kc_ca, kc->kc_ca_len)) != CURLE_OK)
		goto blob;
	if (kc->kc_cert != NULL) {
		HTTPC_SETOPT("kube", e, CURLOPT_SSLCERTTYPE, "PEM");
		HTTPC_SETOPT("kube", e, CURLOPT_SSLKEYTYPE, "PEM");
		if ((cc = httpc_setopt_blob(e, CURLOPT_SSLCERT_BLOB, kc->kc_cert,
		    kc->kc_cert_len)) != CURLE_OK ||
		    (cc = httpc_setopt_blob(e, CURLOPT_SSLKEY_BLOB, kc->kc_key,
		    kc->kc_key_len)) != CURLE_OK)
			goto blob;
	}
	sbuf_free(&url);
	return 0;
blob:
	errf(err, errlen, "kube: TLS material refused by libcurl: %s", curl_easy_strerror(cc));
fail:
	sbuf_free(&url);
	kube_req_free(rq);
	return -1;
}

void
kube_req_free(struct kube_req *rq)
{
	httpc_xfer_free(&rq->rq_x);
	httpc_headers_free(&rq->rq_headers);
	wipe_free(rq->rq_body, rq->rq_body_len);
	rq->rq_body = NULL;
	rq->rq_body_len = 0;
}

void
kube_req_why(const struct kube_req *rq, CURLcode cc, const char *what, char *msg,
    size_t msglen)
{
	char smsg[KUBE_STATUS_MSG_MAX];
	long status = httpc_xfer_status(&rq->rq_x);

	if (rq->rq_x.hx_too_big) {
		errf(msg, msglen, "%s: reply over %d bytes", what, KUBE_BODY_MAX);
		return;
	}
	if (cc != CURLE_OK) {
		httpc_xfer_error(&rq->rq_x, cc, what, msg, msglen);
		return;
	}
	kube_status_message(rq->rq_x.hx_body.sb_p != NULL ? rq->rq_x.hx_body.sb_p : "",
	    rq->rq_x.hx_body.sb_len, smsg, sizeof(smsg));
	errf(msg, msglen, "%s: HTTP %ld%s%s", what, status, smsg[0] != '\0' ? ": " : "", smsg);
}

/* ---- the client ----------------------------------------------------------- */

int
kube_client_new(struct kube_config *kc, struct kube_client **out, char *err, size_t errlen)
{
	struct kube_client *c;
	size_t n;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		errf(err, errlen, "kube: out of memory");
		return -1;
	}
	if (httpc_open(err, errlen) == -1) {
		free(c);
		return -1;
	}
	c->c_cfg = *kc;
	explicit_bzero(kc, sizeof(*kc));	/* taken over */
	/* "https://host/" and "https://host" are the same server */
	n = strlen(c->c_cfg.kc_server);
	while (n > 8 && c->c_cfg.kc_server[n - 1] == '/')
		c->c_cfg.kc_server[--n] = '\0';
	if (c->c_cfg.kc_token != NULL) {
		c->c_token = c->c_cfg.kc_token;
		c->c_token_len = c->c_cfg.kc_token_len;
		c->c_cfg.kc_token = NULL;
		c->c_cfg.kc_token_len = 0;
	}
	token_refresh(c);
	*out = c;
	return 0;
}

/* Unlink and free a call (its transfer stopped, unreported). */
static void
call_free(struct kube_call *k)
{
	struct kube_client *c = k->k_c;

	if (k->k_prev != NULL)
		k->k_prev->k_next = k->k_next;
	else
		c->c_calls = k->k_next;
	if (k->k_next != NULL)
		k->k_next->k_prev = k->k_prev;
	c->c_ncalls--;
	loop_timer_cancel(&k->k_start);
	kube_req_free(&k->k_rq);
	explicit_bzero(k, sizeof(*k));
	free(k);
}

void
kube_client_free(struct kube_client *c)
{
	if (c == NULL)
		return;
	while (c->c_calls != NULL)
		call_free(c->c_calls);
	wipe_free(c->c_token, c->c_token_len);
	kube_config_free(&c->c_cfg);
	free(c);
	httpc_close();
}

const char *
kube_client_server(const struct kube_client *c)
{
	return c->c_cfg.kc_server;
}

const char *
kube_client_origin(const struct kube_client *c)
{
	return c->c_cfg.kc_origin;
}

/* ---- one-shot calls ------------------------------------------------------- */

void
kube_call_cancel(struct kube_call *k)
{
	if (k != NULL)
		call_free(k);
}

/* The call's transfer ended: parse, report, free. */
static void
call_done(void *arg, CURLcode cc)
{
	struct kube_call *k = arg;
	const struct sbuf *b = &k->k_rq.rq_x.hx_body;
	long status = httpc_xfer_status(&k->k_rq.rq_x);
	char msg[ERRBUF_LEN], perr[ERRBUF_LEN];
	struct kube_object *o = NULL;
	struct kube_review rv;
	json_t *j;
	int ok = cc == CURLE_OK && !k->k_rq.rq_x.hx_too_big;

	if (k->k_type == CALL_GET_SA) {
		if (ok && status == 200 &&
		    (j = json_loadb(b->sb_p != NULL ? b->sb_p : "", b->sb_len, 0, NULL)) != NULL) {
			if ((o = malloc(sizeof(*o))) != NULL &&
			    kube_object_from_json(j, KUBE_SERVICEACCOUNT, o, perr,
			    sizeof(perr)) != KUBE_PARSE_OK) {
				errf(msg, sizeof(msg), "ServiceAccount rejected: %s", perr);
				free(o);
				o = NULL;
				status = 0;
			}
			json_decref(j);
			if (o != NULL)
				k->k_sa_done(k->k_arg, &o->ob_sa, status, NULL);
			else
				k->k_sa_done(k->k_arg, NULL, status, msg);
		} else {
			kube_req_why(&k->k_rq, cc, "kube: GET ServiceAccount", msg, sizeof(msg));
			k->k_sa_done(k->k_arg, NULL, ok ? status : 0, msg);
		}
		free(o);
	} else {
		if (ok && (status == 200 || status == 201) &&
		    kube_review_parse(b->sb_p != NULL ? b->sb_p : "", b->sb_len, k->k_audience,
		    &rv, perr, sizeof(perr)) == 0) {
			k->k_rv_done(k->k_arg, &rv, NULL);
			explicit_bzero(&rv, sizeof(rv));
		} else {
			if (ok && (status == 200 || status == 201))
				errf(msg, sizeof(msg), "kube: TokenReview reply: %s", perr);
			else
				kube_req_why(&k->k_rq, cc, "kube: TokenReview", msg, sizeof(msg));
			k->k_rv_done(k->k_arg, NULL, msg);
		}
	}
	call_free(k);
}

/* The zero-delay timer: start the transfer, or report why it could not start. */
static void
call_start(void *arg)
{
	struct kube_call *k = arg;
	char err[ERRBUF_LEN];

	if (httpc_xfer_start(&k->k_rq.rq_x, err, sizeof(err)) == 0)
		return;
	if (k->k_type == CALL_GET_SA)
		k->k_sa_done(k->k_arg, NULL, 0, err);
	else
		k->k_rv_done(k->k_arg, NULL, err);
	call_free(k);
}

/* A new call of type for path (body: POST).  NULL with err. */
static struct kube_call *
call_new(struct kube_client *c, enum call_type type, const char *path, const char *body,
    size_t len, void *arg, char *err, size_t errlen)
{
	struct kube_call *k;

	if (c->c_ncalls >= KUBE_CALLS_MAX) {
		errf(err, errlen, "kube: %d calls in flight already", KUBE_CALLS_MAX);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		errf(err, errlen, "kube: out of memory");
		return NULL;
	}
	if (kube_req_init(c, &k->k_rq, path, body, len, NULL, 0, call_done, k, err,
	    errlen) == -1) {
		free(k);
		return NULL;
	}
	k->k_c = c;
	k->k_type = type;
	k->k_arg = arg;
	k->k_next = c->c_calls;
	if (c->c_calls != NULL)
		c->c_calls->k_prev = k;
	c->c_calls = k;
	c->c_ncalls++;
	loop_timer_set(&k->k_start, 0, call_start, k);
	return k;
}

int
kube_get_serviceaccount(struct kube_client *c, const char *ns, const char *name,
    void (*done)(void *arg, const struct kube_sa *sa, long status, const char *err),
    void *arg, struct kube_call **call, char *err, size_t errlen)
{
	struct sbuf p = SBUF_GROWN(64 + 3 * (KUBE_NAMESPACE_MAX + KUBE_NAME_MAX));
	struct kube_call *k = NULL;

	if (strlen(ns) == 0 || strlen(ns) > KUBE_NAMESPACE_MAX || strlen(name) == 0 ||
	    strlen(name) > KUBE_NAME_MAX) {
		errf(err, errlen, "kube: ServiceAccount namespace or name empty or too long");
		return -1;
	}
	sbuf_puts(&p, "/api/v1/namespaces/");
	httpc_pct_encode(&p, ns, strlen(ns));
	sbuf_puts(&p, "/serviceaccounts/");
	httpc_pct_encode(&p, name, strlen(name));
	if (!p.sb_full)
		k = call_new(c, CALL_GET_SA, p.sb_p, NULL, 0, arg, err, errlen);
	else
		errf(err, errlen, "kube: out of memory");
	sbuf_free(&p);
	if (k == NULL)
		return -1;
	k->k_sa_done = done;
	if (call != NULL)
		*call = k;
	return 0;
}

int
kube_token_review(struct kube_client *c, const char *token, size_t len, const char *audience,
    void (*done)(void *arg, const struct kube_review *r, const char *err), void *arg,
    struct kube_call **call, char *err, size_t errlen)
{
	struct kube_call *k = NULL;
	json_t *j;
	char *body;

	if (len == 0 || len > KUBE_TOKEN_MAX || audience == NULL ||
	    strlen(audience) > KUBE_AUDIENCE_MAX) {
		errf(err, errlen, "kube: TokenReview: token empty or over %d bytes, or audience "
		    "over %d", KUBE_TOKEN_MAX, KUBE_AUDIENCE_MAX);
		return -1;
	}
	j = json_pack("{s:s, s:s, s:{s:s%, s:[s]}}", "apiVersion", "authentication.k8s.io/v1",
	    "kind", "TokenReview", "spec", "token", token, len, "audiences", audience);
	body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	if (j != NULL) {
		/* jansson's copy of the token: wipe it before it is freed */
		json_t *t = json_object_get(json_object_get(j, "spec"), "token");

		if (json_is_string(t))
			explicit_bzero((char *)(uintptr_t)json_string_value(t),
			    json_string_length(t));
		json_decref(j);
	}
	if (body == NULL) {
		errf(err, errlen, "kube: TokenReview: the token is not UTF-8, or out of memory");
		return -1;
	}
	if (strlen(body) <= KUBE_REVIEW_BODY_MAX)
		k = call_new(c, CALL_REVIEW, "/apis/authentication.k8s.io/v1/tokenreviews", body,
		    strlen(body), arg, err, errlen);
	else
		errf(err, errlen, "kube: TokenReview body over %d bytes", KUBE_REVIEW_BODY_MAX);
	wipe_free(body, strlen(body));
	if (k == NULL)
		return -1;
	k->k_rv_done = done;
	snprintf(k->k_audience, sizeof(k->k_audience), "%s", audience);
	if (call != NULL)
		*call = k;
	return 0;
}
