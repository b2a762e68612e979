/*
 * routes.c: the IMDS rules, from a parsed request to a response.
 *
 * Pure: the caller passes the snapshot, the caller's role view and the
 * clock; nothing here does I/O or allocates.  Bodies point into the
 * snapshot or the role view (joined by roles_lookup), into static storage,
 * or into the response's own small buffer (a minted token, the
 * version-level listing).  The order of the checks follows contract §5.1
 * (disabled, path, X-Forwarded-For, TTL) and §5.3.
 */
#include <string.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define TOKEN_PATH		"latest/api/token"	/* after slash collapsing, §3 */
#define HDR_TOKEN		"x-aws-ec2-metadata-token"
#define HDR_TOKEN_TTL		"x-aws-ec2-metadata-token-ttl-seconds"
#define HDR_XFF			"x-forwarded-for"
#define ALLOW_TOKEN		"OPTIONS, PUT"
#define ALLOW_META		"GET, HEAD"
#define CT_PLAIN		"text/plain"
#define CT_HTML			"text/html"
#define CT_OCTET		"application/octet-stream"

/* Contract §6: the versions a 2024 instance listed (318 bytes joined). */
static const char *const versions[] = {
	"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
	"2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01",
	"2011-05-01", "2012-01-12", "2014-02-25", "2014-11-05", "2015-10-20",
	"2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17",
	"2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23",
	"2021-07-15", "2022-07-09", "2022-09-24", "2024-04-11", "latest",
};
#define NVERSIONS	(sizeof(versions) / sizeof(versions[0]))

static const char version_listing[] =
    "1.0\n2007-01-19\n2007-03-01\n2007-08-29\n2007-10-10\n"
    "2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\n2011-01-01\n"
    "2011-05-01\n2012-01-12\n2014-02-25\n2014-11-05\n2015-10-20\n"
    "2016-04-19\n2016-06-30\n2016-09-02\n2018-03-28\n2018-08-17\n"
    "2018-09-24\n2019-10-01\n2020-10-27\n2021-01-03\n2021-03-23\n"
    "2021-07-15\n2022-07-09\n2022-09-24\n2024-04-11\nlatest";

/*
 * The XHTML error page of contract §2.8: one TAB before the DTD URL, every
 * line ending in LF.  337 bytes for 404 and 403.
 */
#define XHTML_PAGE(title) \
	"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n" \
	"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n" \
	"\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n" \
	"<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n" \
	" <head>\n" \
	"  <title>" title "</title>\n" \
	" </head>\n" \
	" <body>\n" \
	"  <h1>" title "</h1>\n" \
	" </body>\n" \
	"</html>\n"
static const char page_404[] = XHTML_PAGE("404 - Not Found");
static const char page_403[] = XHTML_PAGE("403 - Forbidden");

static void
rs_reset(struct response *rs, int head_only)
{
	rs->rs_status = 200;
	rs->rs_shape = RESP_META;
	rs->rs_ctype = CT_PLAIN;
	rs->rs_allow = NULL;
	rs->rs_ttl = -1;
	rs->rs_hop_limit = 0;
	rs->rs_head_only = head_only;
	rs->rs_lastmod = NULL;
	rs->rs_body = "";
	rs->rs_bodylen = 0;
	rs->rs_token_used = 0;
	rs->rs_iam = 0;
	rs->rs_tokbuf[0] = '\0';
	rs->rs_class = PC_OTHER;
	rs->rs_reject = TR_NONE;
	rs->rs_pending = 0;
}

/* An empty-bodied answer in the K5 shape (401, 403 K7, 400, 408, ...). */
static void
rs_empty(struct response *rs, int status)
{
	rs->rs_status = status;
	rs->rs_shape = RESP_PLAIN;
	rs->rs_ctype = CT_PLAIN;
	rs->rs_body = "";
	rs->rs_bodylen = 0;
}

/* The K5 shape with its HTML page (404, 403). */
static void
rs_page(struct response *rs, int status)
{
	rs_empty(rs, status);
	rs->rs_ctype = CT_HTML;
	rs->rs_body = status == 404 ? page_404 : page_403;
	rs->rs_bodylen = status == 404 ? sizeof(page_404) - 1 : sizeof(page_403) - 1;
}

void
routes_error(int status, struct response *rs)
{
	rs_reset(rs, 0);
	rs_empty(rs, status);
	rs->rs_class = PC_ERROR;
}

/* md_under for a literal name */
#define UNDER(p, n, lit)	md_under(p, n, lit, sizeof(lit) - 1)

/* The metrics' class of a path below a version ("meta-data/iam/..."). */
static enum path_class
path_class_of(const char *p, size_t n)
{
	if (UNDER(p, n, "meta-data/iam/security-credentials") ||
	    UNDER(p, n, "meta-data/identity-credentials"))
		return PC_CREDENTIALS;
	if (UNDER(p, n, "dynamic/instance-identity"))
		return PC_IDENTITY;
	if (UNDER(p, n, PATH_META))
		return PC_META_DATA;
	if (UNDER(p, n, "user-data"))
		return PC_USER_DATA;
	return PC_OTHER;
}

/*
 * Reduce a request-target to the lookup path of contract §3: keep only the
 * path of an absolute-form target, drop the query, collapse runs of '/',
 * remove the leading '/' and note (then remove) one trailing '/'.  out has
 * room for HTTP_HEAD_MAX bytes.  Returns the length, or -1 when the target
 * is neither origin-form nor absolute-form.
 */
static ssize_t
normalize(struct slice t, char *out, int *trailing)
{
	const char *p = t.p, *end = t.p + t.n;
	size_t o = 0;

	if (t.n >= 7 && slice_ieq((struct slice){ t.p, 7 }, "http://")) {
		p += 7;
		while (p < end && *p != '/' && *p != '?')
			p++;		/* the authority is ignored (§1) */
		if (p == end || *p == '?')
			p = "/", end = p + 1;
	}
	if (p == end || *p != '/')
		return -1;
	for (; p < end && *p != '?'; p++) {
		if (*p == '/' && (o == 0 || out[o - 1] == '/'))
			continue;	/* leading '/' and repeats */
		out[o++] = *p;
	}
	*trailing = 0;
	if (o > 0 && out[o - 1] == '/') {
		*trailing = 1;
		o--;
	}
	return (ssize_t)o;
}

static int
is_version(const char *s, size_t n)
{
	size_t i;

	for (i = NVERSIONS; i-- > 0;) {	/* "latest" first: most requests */
		if (strlen(versions[i]) == n && memcmp(versions[i], s, n) == 0)
			return 1;
	}
	return 0;
}

/* The token PUT, contract §5.1; disabled and path were checked already. */
static void
token_put(const struct http_req *req, const struct snapshot *snap,
    const struct http_peer *bind, uint64_t now, struct response *rs)
{
	const struct http_header *h;
	unsigned long ttl;
	size_t count;

	if (http_header_find(req, HDR_XFF, &count) != NULL) {
		rs_empty(rs, 403);
		rs->rs_reject = TR_XFF;
		return;
	}
	/* U11: exactly one header, digits only, 1..21600; else 400 */
	h = http_header_find(req, HDR_TOKEN_TTL, &count);
	if (h == NULL || count != 1 ||
	    parse_uint_bounded(h->h_value.p, h->h_value.n, TOKEN_TTL_MAX, &ttl) != 0 ||
	    ttl < TOKEN_TTL_MIN) {
		rs_empty(rs, 400);
		rs->rs_reject = TR_TTL_BAD;
		return;
	}
	token_mint(now, (unsigned)ttl, bind, rs->rs_tokbuf);
	rs->rs_status = 200;
	rs->rs_shape = RESP_PLAIN;	/* K4 */
	rs->rs_ttl = (long)ttl;
	rs->rs_body = rs->rs_tokbuf;
	rs->rs_bodylen = TOKEN_LEN;
	rs->rs_hop_limit = snap->s_opt.o_hop_limit;
}

/* The version-level listing (§6): child names without the '/' suffix. */
static void
version_listing_of(const struct md_node *root, struct response *rs)
{
	size_t i, o = 0;

	for (i = 0; i < root->n_nkids; i++) {
		const struct md_node *k = &root->n_kids[i];
		if (o + k->n_namelen + 1 >= sizeof(rs->rs_tokbuf))
			break;
		if (o > 0)
			rs->rs_tokbuf[o++] = '\n';
		memcpy(rs->rs_tokbuf + o, k->n_name, k->n_namelen);
		o += k->n_namelen;
	}
	rs->rs_tokbuf[o] = '\0';
	rs->rs_body = rs->rs_tokbuf;
	rs->rs_bodylen = o;
}

void
routes_handle(const struct http_req *req, const struct snapshot *snap,
    const struct role_view *rv, const struct http_peer *bind, uint64_t now,
    struct response *rs)
{
	char path[HTTP_HEAD_MAX];
	const struct http_header *tok;
	const struct md_node *node;
	size_t count, seg;
	ssize_t n;
	int trailing, get, head;
	long left;

	get = slice_eq(req->r_method, "GET");
	head = slice_eq(req->r_method, "HEAD");
	rs_reset(rs, head);
	rs->rs_lastmod = roles_last_modified(snap, rv);

	if ((n = normalize(req->r_target, path, &trailing)) < 0) {
		rs_empty(rs, 400);
		return;
	}
	/* §5.4: a disabled endpoint refuses everything, the token PUT too (K9). */
	if (!snap->s_opt.o_endpoint_enabled) {
		rs_page(rs, 403);
		return;
	}
	if ((size_t)n == sizeof(TOKEN_PATH) - 1 && memcmp(path, TOKEN_PATH, (size_t)n) == 0 &&
	    !trailing) {
		rs->rs_class = PC_TOKEN;
		if (slice_eq(req->r_method, "PUT"))
			token_put(req, snap, bind, now, rs);
		else {
			/* K6, and U8's OPTIONS answer */
			rs_empty(rs, slice_eq(req->r_method, "OPTIONS") ? 200 : 405);
			rs->rs_allow = ALLOW_TOKEN;
		}
		return;
	}
	if (slice_eq(req->r_method, "PUT")) {
		rs_empty(rs, 403);	/* K7: trailing slash, dated prefix, elsewhere */
		return;
	}
	if (!get && !head) {
		rs_empty(rs, 405);	/* U8 */
		rs->rs_allow = ALLOW_META;
		return;
	}

	/* the metrics' class, by the path below a version */
	for (seg = 0; seg < (size_t)n && path[seg] != '/'; seg++)
		;
	if (seg < (size_t)n && is_version(path, seg)) {
		rs->rs_class = path_class_of(path + seg + 1, (size_t)n - seg - 1);
		rs->rs_iam = UNDER(path + seg + 1, (size_t)n - seg - 1, PATH_META "/iam");
	}

	/* §5.3: the token, if any, before anything is revealed. */
	tok = http_header_find(req, HDR_TOKEN, &count);
	if (tok != NULL) {
		if (http_header_find(req, HDR_XFF, &count) != NULL) {
			rs_empty(rs, 403);	/* U3 */
			rs->rs_reject = TR_XFF;
			return;
		}
		if ((left = token_check(now, tok->h_value, bind, &rs->rs_reject)) <= 0) {
			rs_empty(rs, 401);	/* U1 */
			rs->rs_token_used = -1;
			return;
		}
		rs->rs_ttl = left;
		rs->rs_token_used = 1;
	} else if (snap->s_opt.o_tokens_required) {
		rs_empty(rs, 401);
		rs->rs_reject = TR_MISSING;
		return;
	}

	if (n == 0) {
		rs->rs_body = version_listing;
		rs->rs_bodylen = sizeof(version_listing) - 1;
		return;
	}
	if (!is_version(path, seg)) {
		rs_page(rs, 404);
		return;
	}
	if (seg == (size_t)n) {
		version_listing_of(snap->s_root, rs);
		return;
	}
	node = roles_lookup(snap, rv, path + seg + 1, (size_t)n - seg - 1);
	if (node == NULL) {
		rs_page(rs, 404);
		return;
	}
	if (snapshot_sig_pending(snap, node)) {
		rs->rs_pending = 1;	/* the keys are on their way: ask again then */
		return;
	}
	rs->rs_body = node->n_body;
	rs->rs_bodylen = node->n_bodylen;
	/* §2.5: user-data is octet-stream (U17); it sits right under the version */
	if (!node->n_dir && n - (ssize_t)seg - 1 == (ssize_t)sizeof("user-data") - 1 &&
	    memcmp(path + seg + 1, "user-data", sizeof("user-data") - 1) == 0)
		rs->rs_ctype = CT_OCTET;
}

/* ---- response heads ---------------------------------------------------- */

/* The fields of an IMDS head (contract §2.3). */
enum k_field {
	KF_TTL,		/* X-Aws-Ec2-Metadata-Token-Ttl-Seconds: only a 200 with a TTL */
	KF_ALLOW,	/* Allow: when the response has one */
	KF_CTYPE,	/* Content-Type */
	KF_RANGES,	/* Accept-Ranges: none */
	KF_LASTMOD,	/* Last-Modified: the later of the snapshot's and the role view's */
	KF_CLEN,	/* Content-Length */
	KF_DATE,	/* Date */
	KF_SERVER,	/* Server: EC2ws */
	KF_CONN		/* Connection: close */
};

/*
 * META (K1/K2/K3): [TTL] [Allow] Content-Type Accept-Ranges Last-Modified
 *                  Content-Length Date Server Connection
 */
static const enum k_field order_meta[] = {
	KF_TTL, KF_ALLOW, KF_CTYPE, KF_RANGES, KF_LASTMOD, KF_CLEN, KF_DATE, KF_SERVER, KF_CONN
};
/* PLAIN (K4-K10): [TTL: K4] [Allow] Content-Length Date Server Connection Content-Type */
static const enum k_field order_plain[] = {
	KF_TTL, KF_ALLOW, KF_CLEN, KF_DATE, KF_SERVER, KF_CONN, KF_CTYPE
};
#define ORDER_LEN(o)	(sizeof(o) / sizeof((o)[0]))
_Static_assert(ORDER_LEN(order_meta) <= HTTP_FIELDS_MAX, "a head fits http_field[]");

/* The status line and headers in the order of the response's shape. */
size_t
response_head(const struct response *rs, const char *date, char *buf, size_t cap)
{
	struct http_field f[HTTP_FIELDS_MAX];
	const enum k_field *order = rs->rs_shape == RESP_META ? order_meta : order_plain;
	size_t i, n = 0, len = rs->rs_shape == RESP_META ? ORDER_LEN(order_meta) :
	    ORDER_LEN(order_plain);

	for (i = 0; i < len; i++) {
		struct http_field *x = &f[n];
		x->hf_value = NULL;
		x->hf_num = 0;
		switch (order[i]) {
		case KF_TTL:
			/* only a 200 says the token's TTL (K1, K3, K4); K5 to K10 show none */
			if (rs->rs_ttl < 0 || rs->rs_status != 200)
				continue;
			x->hf_name = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds";
			x->hf_num = (unsigned long)rs->rs_ttl;
			break;
		case KF_ALLOW:
			if (rs->rs_allow == NULL)
				continue;
			x->hf_name = "Allow";
			x->hf_value = rs->rs_allow;
			break;
		case KF_CTYPE:
			x->hf_name = "Content-Type";
			x->hf_value = rs->rs_ctype;
			break;
		case KF_RANGES:
			x->hf_name = "Accept-Ranges";
			x->hf_value = "none";
			break;
		case KF_LASTMOD:
			x->hf_name = "Last-Modified";
			x->hf_value = rs->rs_lastmod != NULL ? rs->rs_lastmod : "";
			break;
		case KF_CLEN:
			x->hf_name = "Content-Length";
			x->hf_num = rs->rs_bodylen;
			break;
		case KF_DATE:
			x->hf_name = "Date";
			x->hf_value = date;
			break;
		case KF_SERVER:
			x->hf_name = "Server";
			x->hf_value = "EC2ws";
			break;
		case KF_CONN:
			x->hf_name = "Connection";
			x->hf_value = "close";
			break;
		}
		n++;
	}
	return http_head_write(buf, cap, rs->rs_status, f, n);
}
