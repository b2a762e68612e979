/*
 * fuzz_http_parse.c: libFuzzer target for http_parse (style habit 14).
 *
 * The input is parsed whole, then a prefix of it (the split point comes from
 * the first byte) is parsed from a heap copy of exactly that length, so ASan
 * sees any read past len.  Checked on every result:
 *   - the return value is a byte count within len, 0, or one of the five
 *     statuses;
 *   - every slice lies inside the buffer; r_nhdr <= HTTP_HEADERS_MAX;
 *   - a complete request obeys the grammar (method of tchars, target of
 *     VCHARs, names of tchars, values trimmed and free of CR, LF, NUL) and
 *     its length is head + body within the limits;
 *   - a prefix that is complete or an error stays exactly that when the
 *     rest arrives (errors are reported as soon as they are seen);
 *   - a complete request parses to the same length on its own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define FUZZ_CHECK(x)	do { if (!(x)) abort(); } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 && memchr(extra, c, sizeof(extra) - 1));
}

static int
fuzz_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static void
fuzz_check_slice(struct slice s, const char *buf, size_t len)
{
	FUZZ_CHECK(s.p != NULL);
	FUZZ_CHECK(s.p >= buf && s.p <= buf + len);
	FUZZ_CHECK(s.n <= (size_t)(buf + len - s.p));
}

static void
fuzz_check_complete(const struct http_req *req, size_t len, ssize_t r)
{
	const struct http_header *h;
	unsigned long v;
	size_t i, k;
	unsigned char c;

	FUZZ_CHECK((size_t)r <= len);
	FUZZ_CHECK(req->r_head_len <= HTTP_HEAD_MAX);
	FUZZ_CHECK(req->r_body_len <= HTTP_BODY_MAX);
	FUZZ_CHECK((size_t)r == req->r_head_len + req->r_body_len);
	FUZZ_CHECK(req->r_minor >= 0 && req->r_minor <= 9);

	FUZZ_CHECK(req->r_method.n >= 1 && req->r_method.n <= HTTP_METHOD_MAX);
	for (k = 0; k < req->r_method.n; k++)
		FUZZ_CHECK(fuzz_is_tchar((unsigned char)req->r_method.p[k]));
	FUZZ_CHECK(req->r_target.n >= 1);
	for (k = 0; k < req->r_target.n; k++) {
		c = (unsigned char)req->r_target.p[k];
		FUZZ_CHECK(c >= 0x21 && c <= 0x7e);
	}
	for (i = 0; i < req->r_nhdr; i++) {
		h = &req->r_hdr[i];
		FUZZ_CHECK(h->h_name.n >= 1);
		for (k = 0; k < h->h_name.n; k++)
			FUZZ_CHECK(fuzz_is_tchar((unsigned char)h->h_name.p[k]));
		if (h->h_value.n > 0) {
			FUZZ_CHECK(!fuzz_is_ows((unsigned char)h->h_value.p[0]));
			FUZZ_CHECK(!fuzz_is_ows((unsigned char)h->h_value.p[h->h_value.n - 1]));
		}
		for (k = 0; k < h->h_value.n; k++) {
			c = (unsigned char)h->h_value.p[k];
			FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
	}
	/* every Content-Length says r_body_len; without one there is no body */
	h = http_header_find(req, "content-length", &k);
	FUZZ_CHECK((h == NULL) == (k == 0));
	FUZZ_CHECK(h == NULL || (h >= req->r_hdr && h < req->r_hdr + req->r_nhdr));
	if (h == NULL)
		FUZZ_CHECK(req->r_body_len == 0);
	for (i = 0; i < req->r_nhdr; i++) {
		h = &req->r_hdr[i];
		if (!slice_ieq(h->h_name, "Content-Length"))
			continue;
		FUZZ_CHECK(h->h_value.n <= HTTP_CLEN_DIGITS);
		FUZZ_CHECK(parse_uint_bounded(h->h_value.p, h->h_value.n, HTTP_BODY_MAX,
		    &v) == 0 && v == req->r_body_len);
	}
	/* GET and HEAD never carry a body */
	if ((req->r_method.n == 3 && memcmp(req->r_method.p, "GET", 3) == 0) ||
	    (req->r_method.n == 4 && memcmp(req->r_method.p, "HEAD", 4) == 0))
		FUZZ_CHECK(req->r_body_len == 0);
	/* TE is always refused, so a complete request has none */
	FUZZ_CHECK(http_header_find(req, "Transfer-Encoding", NULL) == NULL);
}

/* Parse buf[0..len) and check what does not depend on the rest of the input. */
static ssize_t
fuzz_parse(const char *buf, size_t len, struct http_req *req)
{
	ssize_t r;
	size_t i;

	r = http_parse(buf, len, &http_parse_limits_max, req);
	FUZZ_CHECK(r == 0 || r == -400 || r == -413 || r == -431 || r == -501 ||
	    r == -505 || (r > 0 && (size_t)r <= len));
	/* "more" is only possible while a head and body could still fit */
	FUZZ_CHECK(r != 0 || len < HTTP_HEAD_MAX + HTTP_BODY_MAX);
	FUZZ_CHECK(req->r_nhdr <= HTTP_HEADERS_MAX);
	fuzz_check_slice(req->r_method, buf, len);
	fuzz_check_slice(req->r_target, buf, len);
	for (i = 0; i < req->r_nhdr; i++) {
		fuzz_check_slice(req->r_hdr[i].h_name, buf, len);
		fuzz_check_slice(req->r_hdr[i].h_value, buf, len);
	}
	if (r > 0)
		fuzz_check_complete(req, len, r);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_req req;
	const char *buf = (const char *)data;
	ssize_t whole, part, alone;
	size_t split;
	char *copy;

	whole = fuzz_parse(buf, size, &req);

	/* the whole input again: the parser keeps no state between calls */
	FUZZ_CHECK(http_parse(buf, size, &http_parse_limits_max, &req) == whole);

	/* a complete request parses the same on its own */
	if (whole > 0) {
		if ((copy = malloc((size_t)whole)) == NULL)
			return 0;
		memcpy(copy, buf, (size_t)whole);
		alone = fuzz_parse(copy, (size_t)whole, &req);
		FUZZ_CHECK(alone == whole);
		free(copy);
	}

	/* a prefix, split where the first byte says */
	split = size == 0 ? 0 : (size_t)data[0] * (size + 1) / 256;
	if ((copy = malloc(split > 0 ? split : 1)) == NULL)
		return 0;
	if (split > 0)
		memcpy(copy, buf, split);
	part = fuzz_parse(copy, split, &req);
	free(copy);
	/* complete or refused on a prefix: the same once the rest arrives */
	if (part != 0)
		FUZZ_CHECK(part == whole);
	/* and conversely, the whole being complete, no prefix of it is an error */
	if (whole > 0)
		FUZZ_CHECK(part == 0 || part == whole);
	return 0;
}
