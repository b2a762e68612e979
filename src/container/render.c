/*
 * render.c: a role as the container endpoints serve it.
 *
 * The registry (creds/registry.c) calls ctr_render whenever a role's
 * credentials change, next to IMDS's rendering, and swaps the result in;
 * a request takes a reference on the role's view and writes its ready
 * bytes.  Each layout is what its agent's json.Marshal writes:
 *
 *   ECS (amazon-ecs-agent, IAMRoleCredentials):
 *     {"RoleArn":..,"AccessKeyId":..,"SecretAccessKey":..,"Token":..,"Expiration":..}
 *   Pod Identity (eks-pod-identity-agent, omitempty fields):
 *     {"AccessKeyId":..,"SecretAccessKey":..,"Token":..,"AccountId":..,"Expiration":..}
 *
 * compact, no trailing newline, strings escaped as Go escapes them.  The
 * Expiration is whole seconds in UTC ("2025-06-02T15:36:51Z"): the ECS
 * agent relays STS's, and Go's RFC 3339 has no fraction when it is zero.
 * Keys without an expiry of their own get the cache's rolling one, as
 * IMDS serves them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container/container.h"

#define CT_JSON		"application/json"
#define CT_TEXT		"text/plain; charset=utf-8"
#define CTR_FIELDS	5	/* Content-Type, X-Content-Type-Options, Date, Content-Length,
				   Connection */
#define RENDER_BODY_MAX	(CRED_AKID_MAX + CRED_SECRET_MAX + CRED_TOKEN_MAX + STS_ARN_MAX + 256)

/* The length of the UTF-8 sequence at s[0..n) if valid (Go's rules), else 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void
ctr_json_quote(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char esc[7];
	size_t i = 0, run, k;

	sbuf_put(b, "\"", 1);
	while (i < n) {
		for (run = i; run < n && u[run] >= 0x20 && u[run] < 0x80 && u[run] != '"' &&
		    u[run] != '\\' && u[run] != '<' && u[run] != '>' && u[run] != '&'; run++)
			;
		sbuf_put(b, s + i, run - i);
		if ((i = run) == n)
			break;
		if (u[i] == '"' || u[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			sbuf_put(b, esc, 2);
		} else if (u[i] == '\n' || u[i] == '\r' || u[i] == '\t') {
			sbuf_puts(b, u[i] == '\n' ? "\\n" : u[i] == '\r' ? "\\r" : "\\t");
		} else if (u[i] < 0x80) {
			/* other control bytes, and the HTML characters */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xf];
			sbuf_put(b, esc, 6);
		} else if ((k = utf8_len(u + i, n - i)) == 0) {
			sbuf_puts(b, "\\ufffd");
			i++;
			continue;
		} else if (k == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 &&
		    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)) {
			sbuf_puts(b, u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 3;
			continue;
		} else {
			sbuf_put(b, s + i, k);
			i += k;
			continue;
		}
		i++;
	}
	sbuf_put(b, "\"", 1);
}

/* ,"key":"value" (the comma unless first); omit: leave an empty value out. */
static void
member(struct sbuf *b, int *first, const char *key, const char *val, int omit)
{
	if (omit && *val == '\0')
		return;
	if (!*first)
		sbuf_put(b, ",", 1);
	*first = 0;
	ctr_json_quote(b, key, strlen(key));
	sbuf_put(b, ":", 1);
	ctr_json_quote(b, val, strlen(val));
}

void
ctr_json_error(struct sbuf *b, const char *code, const char *message, int status)
{
	int first = 1;

	sbuf_put(b, "{", 1);
	member(b, &first, "code", code, 0);
	member(b, &first, "message", message, 0);
	sbuf_printf(b, ",\"HTTPErrorCode\":%d}", status);
}

void
ctr_role_arn(const struct instance *inst, const struct role *r, char *out, size_t len)
{
	snprintf(out, len, "arn:%s:iam::%s:role/%s", inst->i_partition,
	    r->ro_account[0] != '\0' ? r->ro_account : inst->i_account, r->ro_name);
}

/* One layout of c into a new buffer (v->cv_body[which]).  0 / -1. */
static int
render_layout(struct ctr_view *v, enum ctr_layout which, const char *arn, const char *account,
    const struct cred *c, const char *exp)
{
	struct sbuf b = SBUF_GROWN(RENDER_BODY_MAX);
	int first = 1, pod = which == CTR_POD_IDENTITY;

	sbuf_put(&b, "{", 1);
	if (!pod)
		member(&b, &first, "RoleArn", arn, 0);
	member(&b, &first, "AccessKeyId", c->cr_akid, pod);
	member(&b, &first, "SecretAccessKey", c->cr_secret, pod);
	member(&b, &first, "Token", c->cr_token, pod);
	if (pod)
		member(&b, &first, "AccountId", account, 1);
	member(&b, &first, "Expiration", exp, pod);
	sbuf_put(&b, "}", 1);
	if ((v->cv_body[which] = sbuf_take(&b, &v->cv_len[which])) == NULL) {
		sbuf_free(&b);
		return -1;
	}
	return 0;
}

void *
ctr_render(void *arg, const struct role *r, time_t now)
{
	const struct ctr_ctx *ctx = arg;
	const struct cred_cache *cc = &r->ro_cache;
	char arn[STS_ARN_MAX], exp[ISO_DATE_LEN + 1];
	const char *account;
	struct ctr_view *v;
	struct cred c;
	int k, rc = 0;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto oom;
	v->cv_refs = 1;
	v->cv_rendered = now;
	if (!cc->cc_have)
		return v;	/* nothing to serve: the service says why */
	ctr_role_arn(ctx->cx_inst, r, arn, sizeof(arn));
	account = r->ro_account[0] != '\0' ? r->ro_account : ctx->cx_inst->i_account;
	/* a source without an expiry: the lifetime EC2's own credentials have */
	fmt_iso8601(cc->cc_cur.ck_expiration ? cc->cc_cur.ck_expiration :
	    now + CRED_LIFETIME_EXAMPLE, exp);
	cred_kept_get(&cc->cc_cur, &c);
	for (k = 0; k < CTR_LAYOUTS && rc == 0; k++)
		if (ctx->cx_layouts == 0 || (ctx->cx_layouts & CTR_LAYOUT_BIT(k)))
			rc = render_layout(v, (enum ctr_layout)k, arn, account, &c, exp);
	cred_wipe(&c);
	if (rc == -1) {
		ctr_view_unref(v);
		goto oom;
	}
	v->cv_have = 1;
	return v;
oom:
	log_err("rendering the role %s for the container endpoints: out of memory", r->ro_name);
	return NULL;
}

struct ctr_view *
ctr_view_of(const struct role *r)
{
	return registry_view(r, RENDER_CONTAINER);
}

void
ctr_view_ref(struct ctr_view *v)
{
	if (v != NULL)
		v->cv_refs++;
}

/* At the last reference: the bodies (credentials) wiped, then freed. */
void
ctr_view_unref(void *p)
{
	struct ctr_view *v = p;
	int k;

	if (v == NULL)
		return;
	if (v->cv_refs > 1) {
		v->cv_refs--;
		return;
	}
	for (k = 0; k < CTR_LAYOUTS; k++)
		wipe_free(v->cv_body[k], v->cv_len[k]);
	explicit_bzero(v, sizeof(*v));
	free(v);
}

/* ---- what both services answer with -------------------------------------- */

void
ctr_head(struct http_reply *rp, const struct http_call *call, int status,
    enum ctr_shape shape, size_t bodylen)
{
	struct http_field f[CTR_FIELDS];
	size_t n = 0;

	f[n++] = (struct http_field){ "Content-Type", shape == CTR_SHAPE_JSON ? CT_JSON :
	    CT_TEXT, 0 };
	if (shape == CTR_SHAPE_TEXT)
		f[n++] = (struct http_field){ "X-Content-Type-Options", "nosniff", 0 };
	if (shape != CTR_SHAPE_RAW) {
		f[n++] = (struct http_field){ "Date", call->hc_date, 0 };
		f[n++] = (struct http_field){ "Content-Length", NULL, bodylen };
	}
	f[n++] = (struct http_field){ "Connection", "close", 0 };
	rp->hr_headlen = http_head_write(rp->hr_head, rp->hr_headcap, status, f, n);
}

enum http_verdict
ctr_handle(struct ctr_conn *cc, const struct http_call *call, struct http_reply *rp,
    int (*answer)(struct ctr_conn *cc, const struct http_call *call, struct http_reply *rp,
    enum ctr_shape *shape), int access_log, const char *what)
{
	struct slice method = { "-", 1 }, target = { "-", 1 };
	enum ctr_shape shape = CTR_SHAPE_JSON;
	int status, head = 0;
	char peer[SOCK_ADDR_TEXT_MAX];

	if (call->hc_req != NULL && (call->hc_status == 0 ||
	    call->hc_status == HTTP_DEFER_STATUS)) {
		if ((status = answer(cc, call, rp, &shape)) == 0)
			return HTTP_DEFER;
		method = call->hc_req->r_method;
		target = call->hc_req->r_target;
		head = slice_eq(method, "HEAD");
	} else {
		/* Go's server on a request it cannot read: "400 Bad Request" as text */
		status = call->hc_status;
		shape = CTR_SHAPE_RAW;
		snprintf(cc->cc_body, sizeof(cc->cc_body), "%d %s", status, http_reason(status));
		rp->hr_body = cc->cc_body;
		rp->hr_bodylen = strlen(cc->cc_body);
	}
	cc->cc_since_ms = 0;
	ctr_head(rp, call, status, shape, rp->hr_bodylen);
	if (head)
		rp->hr_bodylen = 0;
	if (access_log) {
		http_peer_text(call->hc_peer, peer, sizeof(peer));
		log_access(peer, method, target, status, rp->hr_bodylen, what);
	}
	return HTTP_ANSWER;
}

void
ctr_release(void *state)
{
	struct ctr_conn *cc = state;

	ctr_view_unref(cc->cc_view);
	cc->cc_view = NULL;
	cc->cc_since_ms = 0;
}

int
ctr_serve_view(struct ctr_conn *cc, struct http_reply *rp, const struct role *r,
    enum ctr_layout layout)
{
	struct ctr_view *v = ctr_view_of(r);

	/* a layout not rendered: the service was not set up to serve it (can't happen) */
	if (v == NULL || !v->cv_have || v->cv_body[layout] == NULL)
		return 0;
	cc->cc_view = v;
	ctr_view_ref(v);
	rp->hr_body = v->cv_body[layout];
	rp->hr_bodylen = v->cv_len[layout];
	return 1;
}

int
ctr_hold(struct ctr_conn *cc, const struct http_call *call, unsigned wait_ms)
{
	if (call->hc_status == HTTP_DEFER_STATUS)
		return 0;
	if (cc->cc_since_ms == 0)
		cc->cc_since_ms = call->hc_now_ms;
	if (call->hc_now_ms - cc->cc_since_ms >= wait_ms)
		return 0;
	http_wake_at(cc->cc_since_ms + wait_ms);
	return 1;
}

/* One hex digit's value, or -1. */
static int
hexval(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p = c != '\0' ? strchr(digits, c | 0x20) : NULL;

	return p != NULL && (c >= 'A' || (c >= '0' && c <= '9')) ? (int)(p - digits) : -1;
}

int
ctr_unescape(const char *s, size_t n, int plus, char *out)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (o == ECS_PATH_MAX)
			return -1;
		if (s[i] == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = plus && s[i] == '+' ? ' ' : s[i];
	}
	out[o] = '\0';
	return 0;
}

/* A run of [A-Za-z0-9.] at s: its length. */
static size_t
code_len(const char *s)
{
	size_t n;

	for (n = 0; (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
	    (s[n] >= '0' && s[n] <= '9') || s[n] == '.'; n++)
		;
	return n;
}

int
ctr_sts_error_parse(const char *why, struct ctr_sts_error *e)
{
	const char *p = strstr(why, ": "), *c, *tail;
	size_t n;

	memset(e, 0, sizeof(*e));
	if (p == NULL || strncmp(why, "STS ", 4) != 0)
		return 0;
	c = p + 2;
	n = code_len(c);
	if (n == 0 || n >= sizeof(e->se_code) || c[n] != ':' || c[n + 1] != ' ')
		return 0;
	memcpy(e->se_code, c, n);
	snprintf(e->se_message, sizeof(e->se_message), "%s", c + n + 2);
	if ((tail = strstr(e->se_message, " (HTTP ")) != NULL) {
		if (sscanf(tail, " (HTTP %3ld, request id %127[^)])", &e->se_status,
		    e->se_request_id) < 1)
			e->se_status = 0;
		e->se_message[tail - e->se_message] = '\0';
	}
	if (strcmp(e->se_request_id, "none") == 0)
		e->se_request_id[0] = '\0';
	return 1;
}
