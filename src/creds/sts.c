/*
 * sts.c: the STS client (AssumeRole, GetSessionToken) over libcurl's multi
 * socket API, driven by our event loop (core/loop.c).
 *
 * Signing is libcurl's own SigV4 (CURLOPT_AWS_SIGV4).  Debian 12's libcurl
 * 7.88 gets it right in exactly one request shape, and every request here
 * has that shape (design.md, "libcurl"):
 *
 *	POST, path "/", empty query, a form body (CURLOPT_POSTFIELDS),
 *	provider "aws:amz:<region>:sts" spelled out (7.88 guesses region
 *	and service from the host name otherwise, and a loopback stand-in
 *	has neither), the session token as an X-Amz-Security-Token header,
 *	and no Date / X-Amz-Date of our own (libcurl adds X-Amz-Date).
 *
 * libcurl signs host, x-amz-date and every header we add ourselves
 * (content-type, x-amz-security-token); its own defaults (Accept,
 * User-Agent, Content-Length) go unsigned, which SigV4 allows.
 *
 * libcurl, its loading and its multi handle on the loop are httpc/'s
 * (shared with the Kubernetes client); each call here is one struct
 * httpc_xfer in a job.
 *
 * Completion is only ever reported from a loop callback (an event or the
 * timer); sts_call itself only adds the transfer, so done can never run
 * before sts_call returns.  done may start new calls (role chaining); it
 * must not call sts_cleanup.
 *
 * At most STS_CALLS_MAX transfers are in flight.  A call beyond that is
 * built at once (form, headers, keys handed to its easy handle: nothing of
 * the caller's is kept) and waits in a FIFO of up to STS_QUEUE_MAX; a
 * transfer that ends frees its slot before its done runs and gives it to
 * the oldest waiting call after, and a new call waits behind any waiting
 * one (one done starts too), so the order holds.  sts_cleanup reports the
 * calls still waiting (never sent).
 *
 * Secrets: the secret key goes to libcurl (CURLOPT_PASSWORD), which keeps
 * its own copy until the easy handle is freed; the token header and the
 * reply body (which carries the new credentials) are wiped by us.  Error
 * messages name the endpoint's host, never a key or the body.
 *
 * Session tags (AssumeRole's Tags and TransitiveTagKeys) are checked as
 * STS checks them before anything is sent: at most STS_TAGS_MAX, key and
 * value lengths, the pattern's ASCII characters, no key twice regardless of
 * case (STS: InvalidParameterValue).  A transitive tag is one of the Tags,
 * so TransitiveTagKeys never names a key that is not sent.
 *
 * Plain http:// is accepted only when the configured endpoint says so
 * (tests run a stand-in on 127.0.0.1); the protocol list of each transfer
 * is exactly the endpoint's scheme, and redirects are never followed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds/creds.h"
#include "httpc/httpc.h"

/*
 * Local limits (not shared with any other file).
 */
/* bytes of one tag's three fields: names with their numbers, key twice and value encoded (x3) */
#define STS_FORM_TAG_MAX	(96 + 3 * (2 * STS_TAG_KEY_MAX + STS_TAG_VALUE_MAX))
/* bytes of a form body: fixed names and numbers plus every value percent-encoded (x3) */
#define STS_FORM_MAX		(256 + 3 * (STS_ARN_MAX + STS_SESSION_NAME_MAX + \
				    STS_EXTERNAL_ID_MAX) + STS_TAGS_MAX * STS_FORM_TAG_MAX)
#define STS_PARAM_NAME_MAX	48	/* bytes of "TransitiveTagKeys.member.50" and the like */
#define STS_HOST_MAX		256	/* bytes of the endpoint host kept for messages */
#define STS_SIGV4_MAX		(16 + STS_REGION_BUF)	/* "aws:amz:<region>:sts" */
#define STS_REGION_MAX		32	/* characters in a region name */
#define STS_VERSION		"2011-06-15"	/* the STS API version */

typedef void (*sts_done_fn)(void *, const struct sts_result *, const char *);

/* One transfer in flight. */
struct sts_job {
	struct httpc_xfer j_x;		/* the easy handle; its hx_body holds secrets */
	struct curl_slist *j_headers;
	struct sbuf	 j_form;	/* the request body; CURLOPT_POSTFIELDS points here */
	enum sts_action	 j_action;
	sts_done_fn	 j_done;
	void		*j_arg;
	struct sts_result j_result;	/* holds secrets */
	struct sts_job	*j_prev, *j_next;	/* in flight (sts.jobs) */
	struct sts_job	*j_wnext;	/* waiting (sts.wait_head) */
};

static struct {
	int		 inited;
	int		 opened;	/* httpc_open succeeded */
	struct sts_job	*jobs;		/* in flight */
	size_t		 njobs;
	struct sts_job	*wait_head, *wait_tail;	/* built, waiting for a free slot: FIFO */
	size_t		 nwait;
	char		 region[STS_REGION_BUF];
	char		 endpoint[STS_URL_MAX];
	char		 host[STS_HOST_MAX];	/* for messages */
	char		 scheme[8];	/* "https" or "http": the only protocol allowed */
	char		 sigv4[STS_SIGV4_MAX];
	char		 ca_bundle[STS_URL_MAX];
} sts;

static void	sts_promote(void);

/* ---- form encoding ----------------------------------------------------- */

/* "&name=value" (no '&' for the first pair). */
static int
sts_form_add(struct sbuf *b, const char *name, const char *value)
{
	if (b->sb_len > 0 && httpc_buf_add(b, "&", 1) == -1)
		return -1;
	if (httpc_buf_add(b, name, strlen(name)) == -1 || httpc_buf_add(b, "=", 1) == -1)
		return -1;
	return httpc_pct_encode(b, value, strlen(value));
}

int
sts_tag_text_ok(const char *s, size_t len, size_t min, size_t max)
{
	size_t i;

	if (s == NULL || len < min || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || (s[i] != '\0' &&
		    strchr(" _.:/=+-@", s[i]) != NULL)))
			return 0;
	return 1;
}

/*
 * The session tags of rq, checked as STS checks them (count, lengths,
 * characters, keys unique regardless of case) so that a bad set is
 * refused here with its reason rather than by STS.  0 / -1 with err.
 */
static int
sts_tags_check(const struct sts_req *rq, char *err, size_t errlen)
{
	size_t i, j, n;

	if (rq->sr_ntags == 0)
		return 0;
	if (rq->sr_tags == NULL || rq->sr_ntags > STS_TAGS_MAX) {
		snprintf(err, errlen, "STS AssumeRole: more than %d session tags", STS_TAGS_MAX);
		return -1;
	}
	for (i = 0; i < rq->sr_ntags; i++) {
		const struct sts_tag *t = &rq->sr_tags[i];

		/* strnlen: a length over the cap is refused without reading further */
		if (t->stg_key == NULL || !sts_tag_text_ok(t->stg_key, strnlen(t->stg_key,
		    STS_TAG_KEY_MAX + 1), 1, STS_TAG_KEY_MAX)) {
			snprintf(err, errlen, "STS AssumeRole: session tag %zu: the key must be 1 to "
			    "%d of A-Z a-z 0-9 space _ . : / = + - @", i + 1, STS_TAG_KEY_MAX);
			return -1;
		}
		if (t->stg_value == NULL || !sts_tag_text_ok(t->stg_value, strnlen(t->stg_value,
		    STS_TAG_VALUE_MAX + 1), 0, STS_TAG_VALUE_MAX)) {
			snprintf(err, errlen, "STS AssumeRole: session tag %.*s: the value must be 0 "
			    "to %d of A-Z a-z 0-9 space _ . : / = + - @", STS_TAG_KEY_MAX, t->stg_key,
			    STS_TAG_VALUE_MAX);
			return -1;
		}
		n = strlen(t->stg_key);
		for (j = 0; j < i; j++)
			if (strlen(rq->sr_tags[j].stg_key) == n &&
			    strncasecmp(rq->sr_tags[j].stg_key, t->stg_key, n) == 0) {
				snprintf(err, errlen, "STS AssumeRole: session tag %.*s twice (keys "
				    "are compared regardless of case)", STS_TAG_KEY_MAX, t->stg_key);
				return -1;
			}
	}
	return 0;
}

/* Tags.member.N.Key/Value for each tag, then TransitiveTagKeys.member.M.  0 / -1. */
static int
sts_form_tags(struct sbuf *b, const struct sts_req *rq)
{
	char name[STS_PARAM_NAME_MAX];
	size_t i, m = 0;

	for (i = 0; i < rq->sr_ntags; i++) {
		snprintf(name, sizeof(name), "Tags.member.%zu.Key", i + 1);
		if (sts_form_add(b, name, rq->sr_tags[i].stg_key) == -1)
			return -1;
		snprintf(name, sizeof(name), "Tags.member.%zu.Value", i + 1);
		if (sts_form_add(b, name, rq->sr_tags[i].stg_value) == -1)
			return -1;
	}
	for (i = 0; i < rq->sr_ntags; i++) {
		if (!rq->sr_tags[i].stg_transitive)
			continue;
		snprintf(name, sizeof(name), "TransitiveTagKeys.member.%zu", ++m);
		if (sts_form_add(b, name, rq->sr_tags[i].stg_key) == -1)
			return -1;
	}
	return 0;
}

/* Build the form body of rq into b.  0 / -1 with err. */
static int
sts_form_build(const struct sts_req *rq, struct sbuf *b, char *err, size_t errlen)
{
	char num[16];

	if (rq->sr_action == STS_ASSUME_ROLE) {
		if (rq->sr_role_arn == NULL || rq->sr_role_arn[0] == '\0' ||
		    strlen(rq->sr_role_arn) > STS_ARN_MAX) {
			snprintf(err, errlen, "STS AssumeRole: role ARN missing or over %d bytes",
			    STS_ARN_MAX);
			return -1;
		}
		if (rq->sr_session_name == NULL || rq->sr_session_name[0] == '\0' ||
		    strlen(rq->sr_session_name) > STS_SESSION_NAME_MAX) {
			snprintf(err, errlen,
			    "STS AssumeRole: session name missing or over %d bytes",
			    STS_SESSION_NAME_MAX);
			return -1;
		}
		if (rq->sr_external_id != NULL &&
		    strlen(rq->sr_external_id) > STS_EXTERNAL_ID_MAX) {
			snprintf(err, errlen, "STS AssumeRole: external id over %d bytes",
			    STS_EXTERNAL_ID_MAX);
			return -1;
		}
		if (sts_tags_check(rq, err, errlen) == -1)
			return -1;
		if (sts_form_add(b, "Action", "AssumeRole") == -1 ||
		    sts_form_add(b, "Version", STS_VERSION) == -1 ||
		    sts_form_add(b, "RoleArn", rq->sr_role_arn) == -1 ||
		    sts_form_add(b, "RoleSessionName", rq->sr_session_name) == -1)
			goto nomem;
	} else if (rq->sr_action == STS_GET_SESSION_TOKEN) {
		if (sts_form_add(b, "Action", "GetSessionToken") == -1 ||
		    sts_form_add(b, "Version", STS_VERSION) == -1)
			goto nomem;
	} else {
		snprintf(err, errlen, "STS: unknown action %d", (int)rq->sr_action);
		return -1;
	}
	if (rq->sr_duration != 0) {
		snprintf(num, sizeof(num), "%u", rq->sr_duration);
		if (sts_form_add(b, "DurationSeconds", num) == -1)
			goto nomem;
	}
	if (rq->sr_action == STS_ASSUME_ROLE && rq->sr_external_id != NULL &&
	    rq->sr_external_id[0] != '\0' &&
	    sts_form_add(b, "ExternalId", rq->sr_external_id) == -1)
		goto nomem;
	if (rq->sr_action == STS_ASSUME_ROLE && sts_form_tags(b, rq) == -1)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "STS: request body: out of memory");
	return -1;
}

/* ---- endpoint ---------------------------------------------------------- */

/* Lower-case letters, digits and '-', 1..STS_REGION_MAX characters. */
static int
sts_region_ok(const char *region)
{
	size_t i;

	if (region == NULL)
		return 0;
	for (i = 0; region[i] != '\0'; i++) {
		if (i >= STS_REGION_MAX)
			return 0;
		if (!((region[i] >= 'a' && region[i] <= 'z') ||
		    (region[i] >= '0' && region[i] <= '9') || region[i] == '-'))
			return 0;
	}
	return i > 0;
}

int
sts_endpoint_for(const char *region, char *url, size_t len)
{
	int n;

	if (len > 0)
		url[0] = '\0';
	if (!sts_region_ok(region))
		return -1;
	/* the China partition lives under its own domain */
	n = snprintf(url, len, "https://sts.%s.amazonaws.com%s/", region,
	    strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			url[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Check an endpoint URL has the one shape we sign correctly (scheme http or
 * https, path "/", no query, no user info) and note its scheme and host.
 */
static int
sts_endpoint_check(const char *url, char *err, size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL, *user = NULL;
	int rc = -1;

	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "STS endpoint: out of memory");
		goto fail;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "STS endpoint \"%s\": not a URL", url);
		goto fail;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		snprintf(err, errlen, "STS endpoint \"%s\": scheme must be https (or http)",
		    url);
		goto fail;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(err, errlen, "STS endpoint: user info not allowed");
		goto fail;
	}
	/* libcurl 7.88 signs only an empty query and the path "/" correctly */
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    strcmp(path, "/") != 0 ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		snprintf(err, errlen, "STS endpoint \"%s\": path must be \"/\" with no query",
		    url);
		goto fail;
	}
	if (strlen(host) >= sizeof(sts.host)) {
		snprintf(err, errlen, "STS endpoint: host name too long");
		goto fail;
	}
	snprintf(sts.scheme, sizeof(sts.scheme), "%s", scheme);
	snprintf(sts.host, sizeof(sts.host), "%s", host);
	rc = 0;
fail:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	if (u != NULL)
		curl_url_cleanup(u);
	return rc;
}

/* ---- jobs -------------------------------------------------------------- */

/* Free j's transfer (the reply wiped), its headers and form (the easy handle out of the multi). */
static void
sts_job_release(struct sts_job *j)
{
	httpc_xfer_free(&j->j_x);
	httpc_headers_free(&j->j_headers);
	sbuf_free(&j->j_form);
}

/* Unlink (if linked), free everything; the easy handle must be out of the multi. */
static void
sts_job_free(struct sts_job *j)
{
	if (j == NULL)
		return;
	if (j->j_prev != NULL)
		j->j_prev->j_next = j->j_next;
	else if (sts.jobs == j)
		sts.jobs = j->j_next;
	if (j->j_next != NULL)
		j->j_next->j_prev = j->j_prev;
	sts_job_release(j);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/*
 * A transfer ended (out of the multi already): report it, then free the
 * job.  From the loop only.  The transfer (libcurl's handle, the reply, the
 * form) is freed before done runs, so what done keeps (a role's
 * credentials and rendering) is made in the memory the call used, not
 * around it; the oldest waiting call takes the slot after done (a call
 * done starts meanwhile queues behind it: sts_call queues while any waits).
 */
static void
sts_finish(void *arg, CURLcode cc)
{
	struct sts_job *j = arg;
	char msg[ERRBUF_LEN + 64], perr[ERRBUF_LEN], who[STS_HOST_MAX + 8];
	const struct sts_result *res = NULL;
	long status;

	if (sts.njobs > 0)
		sts.njobs--;
	status = httpc_xfer_status(&j->j_x);
	if (j->j_x.hx_too_big) {
		snprintf(msg, sizeof(msg), "STS %s: reply exceeds %d bytes", sts.host,
		    STS_RESP_MAX);
	} else if (cc != CURLE_OK) {
		snprintf(who, sizeof(who), "STS %s", sts.host);
		httpc_xfer_error(&j->j_x, cc, who, msg, sizeof(msg));
	} else if (sts_xml_parse(j->j_x.hx_body.sb_p != NULL ? j->j_x.hx_body.sb_p : "",
	    j->j_x.hx_body.sb_len, j->j_action, &j->j_result, perr, sizeof(perr)) == -1) {
		snprintf(msg, sizeof(msg), "STS reply (HTTP %ld): %s", status, perr);
	} else {
		j->j_result.st_http_status = status;
		res = &j->j_result;
	}
	sts_job_release(j);
	j->j_done(j->j_arg, res, res != NULL ? NULL : msg);
	sts_job_free(j);	/* wipes the result */
	sts_promote();
}

/*
 * Hand a built job to libcurl and link it in flight.  Adding only arms the
 * timer: the transfer starts from the loop.  0, or -1 with err (j untouched).
 */
static int
sts_start(struct sts_job *j, char *err, size_t errlen)
{
	if (httpc_xfer_start(&j->j_x, err, errlen) == -1)
		return -1;
	j->j_next = sts.jobs;
	if (sts.jobs != NULL)
		sts.jobs->j_prev = j;
	sts.jobs = j;
	sts.njobs++;
	return 0;
}

/* The first waiting job, unlinked; NULL when none waits. */
static struct sts_job *
sts_dequeue(void)
{
	struct sts_job *j = sts.wait_head;

	if (j == NULL)
		return NULL;
	if ((sts.wait_head = j->j_wnext) == NULL)
		sts.wait_tail = NULL;
	j->j_wnext = NULL;
	sts.nwait--;
	return j;
}

/*
 * Start waiting calls, oldest first, while slots are free.  One that
 * libcurl refuses is reported at once (from the loop: this runs after a
 * transfer ended).
 */
static void
sts_promote(void)
{
	char err[ERRBUF_LEN];
	struct sts_job *j;

	while (sts.njobs < STS_CALLS_MAX && (j = sts_dequeue()) != NULL) {
		if (sts_start(j, err, sizeof(err)) == 0)
			continue;
		j->j_done(j->j_arg, NULL, err);
		sts_job_free(j);
	}
}

/* ---- public ------------------------------------------------------------ */

int
sts_init(const struct sts_config *cfg, char *err, size_t errlen)
{
	if (sts.inited) {
		snprintf(err, errlen, "STS: already initialised");
		return -1;
	}
	if (!sts_region_ok(cfg->sc_region)) {
		snprintf(err, errlen, "STS: bad region \"%.*s\"", STS_REGION_MAX,
		    cfg->sc_region);
		return -1;
	}
	snprintf(sts.region, sizeof(sts.region), "%s", cfg->sc_region);
	if (cfg->sc_endpoint[0] != '\0')
		snprintf(sts.endpoint, sizeof(sts.endpoint), "%s", cfg->sc_endpoint);
	else if (sts_endpoint_for(sts.region, sts.endpoint, sizeof(sts.endpoint)) == -1) {
		snprintf(err, errlen, "STS: no endpoint for region %s", sts.region);
		return -1;
	}
	snprintf(sts.ca_bundle, sizeof(sts.ca_bundle), "%s", cfg->sc_ca_bundle);
	snprintf(sts.sigv4, sizeof(sts.sigv4), "aws:amz:%s:sts", sts.region);
	if (!sts.opened) {
		if (httpc_open(err, errlen) == -1)
			return -1;
		sts.opened = 1;
	}
	if (sts_endpoint_check(sts.endpoint, err, errlen) == -1)
		goto fail;
	sts.inited = 1;
	return 0;
fail:
	httpc_close();
	sts.opened = 0;
	return -1;
}

int
sts_call(const struct sts_req *rq, void (*done)(void *arg, const struct sts_result *r,
    const char *err), void *arg, char *err, size_t errlen)
{
	struct sts_job *j = NULL;
	struct curl_slist *nl;
	struct sbuf tok;
	CURLcode cc;
	const struct cred *b = rq->sr_base;

	tok = (struct sbuf)SBUF_GROWN(CRED_TOKEN_MAX + 64);
	if (!sts.inited) {
		snprintf(err, errlen, "STS: not initialised");
		goto fail;
	}
	if (sts.njobs + sts.nwait >= STS_CALLS_MAX + STS_QUEUE_MAX) {
		snprintf(err, errlen, "STS: %d requests in flight and %d waiting already",
		    STS_CALLS_MAX, STS_QUEUE_MAX);
		goto fail;
	}
	if (b == NULL || b->cr_akid[0] == '\0' || b->cr_secret[0] == '\0') {
		snprintf(err, errlen, "STS: no signing credentials");
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "STS: out of memory");
		goto fail;
	}
	j->j_form = (struct sbuf)SBUF_GROWN(STS_FORM_MAX);
	j->j_action = rq->sr_action;
	j->j_done = done;
	j->j_arg = arg;
	if (sts_form_build(rq, &j->j_form, err, errlen) == -1)
		goto fail;

	/* headers: the token is signed because libcurl signs every header we add */
	if ((nl = curl_slist_append(NULL,
	    "Content-Type: application/x-www-form-urlencoded; charset=utf-8")) == NULL)
		goto nomem;
	j->j_headers = nl;
	if (b->cr_token[0] != '\0') {
		if (httpc_buf_add(&tok, "X-Amz-Security-Token: ", 22) == -1 ||
		    httpc_buf_add(&tok, b->cr_token, strlen(b->cr_token)) == -1)
			goto nomem;
		if ((nl = curl_slist_append(j->j_headers, tok.sb_p)) == NULL)
			goto nomem;
		j->j_headers = nl;
	}
	sbuf_free(&tok);

	if (httpc_xfer_init(&j->j_x, STS_RESP_MAX, sts_finish, j, err, errlen) == -1)
		goto fail;
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_URL, sts.endpoint);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_PROTOCOLS_STR, sts.scheme);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_POST, 1L);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_POSTFIELDS, j->j_form.sb_p);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_POSTFIELDSIZE, (long)j->j_form.sb_len);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_HTTPHEADER, j->j_headers);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_AWS_SIGV4, sts.sigv4);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_USERNAME, b->cr_akid);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_PASSWORD, b->cr_secret);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_TIMEOUT_MS, (long)STS_TIMEOUT_MS);
	HTTPC_SETOPT("STS", j->j_x.hx_easy, CURLOPT_CONNECTTIMEOUT_MS, (long)STS_CONNECT_TIMEOUT_MS);
	if (sts.ca_bundle[0] != '\0') {
		/*
		 * Read here, as a blob, rather than named with CURLOPT_CAINFO:
		 * libcurl would open it at every connection, and after the
		 * privilege drop only read_file_capped can still reach a file the
		 * new user may not open (through the sandbox helper).  Edits
		 * still take effect at the next call.
		 */
		char *ca;
		size_t calen;

		if (read_file_capped(sts.ca_bundle, STS_CA_BUNDLE_MAX, &ca, &calen) == -1) {
			snprintf(err, errlen, "STS: CA bundle %s: %s", sts.ca_bundle,
			    strerror(errno));
			goto fail;
		}
		cc = httpc_setopt_blob(j->j_x.hx_easy, CURLOPT_CAINFO_BLOB, ca, calen);
		free(ca);
		if (cc != CURLE_OK) {
			snprintf(err, errlen, "STS: CURLOPT_CAINFO_BLOB: %s", curl_easy_strerror(cc));
			goto fail;
		}
	}

	/* every slot taken, or calls older than this one waiting: wait behind them */
	if (sts.njobs >= STS_CALLS_MAX || sts.wait_head != NULL) {
		if (sts.wait_tail != NULL)
			sts.wait_tail->j_wnext = j;
		else
			sts.wait_head = j;
		sts.wait_tail = j;
		sts.nwait++;
		return 0;
	}
	if (sts_start(j, err, errlen) == -1)
		goto fail;
	return 0;
nomem:
	snprintf(err, errlen, "STS: out of memory");
fail:
	sbuf_free(&tok);
	sts_job_free(j);	/* not linked yet: only frees */
	return -1;
}

void
sts_cleanup(void)
{
	struct sts_job *j;

	/*
	 * Calls still waiting are told (their done may not start new calls:
	 * sts_call refuses from here on); calls in flight end unreported.
	 */
	sts.inited = 0;
	while ((j = sts_dequeue()) != NULL) {
		j->j_done(j->j_arg, NULL, "STS: shutting down; the request was never sent");
		sts_job_free(j);
	}
	while (sts.jobs != NULL)
		sts_job_free(sts.jobs);	/* out of the multi, unlinked */
	sts.njobs = 0;
	if (sts.opened)
		httpc_close();
	sts.opened = 0;
	sts.inited = 0;
}
