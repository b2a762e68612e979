/*
 * test_http_parse.c: unit tests for the request parser (src/http_parse.c),
 * driven from strings (style habit 14).
 *
 * Every parse goes through parse_n(), which copies the input into a heap
 * block of exactly its length, so a sanitizer build catches any read past
 * len; req then points into that copy until the next parse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define BIG_MAX		(HTTP_HEAD_MAX * 2 + HTTP_BODY_MAX)	/* bytes in a built request */

static struct http_req req;
static struct http_parse_limits lim = { HTTP_HEAD_MAX, HTTP_HEADERS_MAX };	/* the caller's limits */
static char *cur;		/* the bytes req points into */
static size_t curlen;

/* The from-string entry point: parse exactly n bytes of s. */
static ssize_t
parse_n(const char *s, size_t n)
{
	free(cur);
	cur = malloc(n ? n : 1);
	assert_non_null(cur);
	if (n > 0)
		memcpy(cur, s, n);
	curlen = n;
	return http_parse(cur, n, &lim, &req);
}

static ssize_t
parse_str(const char *s)
{
	return parse_n(s, strlen(s));
}

/* A string literal, NULs and all. */
#define PARSE_LIT(lit)	parse_n((lit), sizeof(lit) - 1)

static int
teardown(void **state)
{
	(void)state;
	free(cur);
	cur = NULL;
	curlen = 0;
	return 0;
}

/* s is inside the parsed bytes and equals lit. */
static void
assert_slice(struct slice s, const char *lit)
{
	size_t n = strlen(lit);

	assert_non_null(s.p);
	assert_true(s.p >= cur && s.p + s.n <= cur + curlen);
	assert_int_equal(s.n, n);
	if (n > 0)
		assert_memory_equal(s.p, lit, n);
}

static void
assert_hdr(size_t i, const char *name, const char *value)
{
	assert_true(i < req.r_nhdr);
	assert_slice(req.r_hdr[i].h_name, name);
	assert_slice(req.r_hdr[i].h_value, value);
}

/* ------------------------------------------------------------------ */
/* A small bounded string builder for the big requests.                */
/* ------------------------------------------------------------------ */

struct sb {
	char	 b_p[BIG_MAX];
	size_t	 b_n;
};

static void
sb_addn(struct sb *b, const char *s, size_t n)
{
	assert_true(n <= sizeof(b->b_p) - b->b_n);
	memcpy(b->b_p + b->b_n, s, n);
	b->b_n += n;
}

static void
sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void
sb_rep(struct sb *b, char c, size_t n)
{
	assert_true(n <= sizeof(b->b_p) - b->b_n);
	memset(b->b_p + b->b_n, c, n);
	b->b_n += n;
}

static void
sb_uint(struct sb *b, size_t v)
{
	char d[32];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	sb_addn(b, d + i, sizeof(d) - i);
}

static struct sb big;

/* ------------------------------------------------------------------ */
/* Well-formed requests                                                */
/* ------------------------------------------------------------------ */

static void
test_simple_get(void **state)
{
	static const char r[] =
	    "GET /latest/meta-data/ HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_slice(req.r_method, "GET");
	assert_slice(req.r_target, "/latest/meta-data/");
	assert_int_equal(req.r_minor, 1);
	assert_int_equal(req.r_nhdr, 3);
	assert_hdr(0, "Host", "169.254.169.254");
	assert_hdr(1, "User-Agent", "curl/7.88.1");
	assert_hdr(2, "Accept", "*/*");
	assert_int_equal(req.r_head_len, sizeof(r) - 1);
	assert_int_equal(req.r_body_len, 0);
}

static void
test_no_headers(void **state)
{
	(void)state;
	assert_int_equal(parse_str("GET / HTTP/1.0\r\n\r\n"), 18);
	assert_slice(req.r_method, "GET");
	assert_slice(req.r_target, "/");
	assert_int_equal(req.r_minor, 0);
	assert_int_equal(req.r_nhdr, 0);
	assert_int_equal(req.r_head_len, 18);
}

static void
test_minor_versions(void **state)
{
	static const char *const ok[] = {
	    "GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.2\r\n\r\n", "GET / HTTP/1.9\r\n\r\n",
	};
	static const int minor[] = { 0, 1, 2, 9 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse_str(ok[i]), 18);
		assert_int_equal(req.r_minor, minor[i]);
	}
}

/* PUT for a token with no Content-Length, as `curl -X PUT` sends it. */
static void
test_token_put_no_clen(void **state)
{
	static const char r[] =
	    "PUT /latest/api/token HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"
	    "\r\n";
	const struct http_header *h;
	size_t n;

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_slice(req.r_method, "PUT");
	assert_slice(req.r_target, "/latest/api/token");
	assert_int_equal(req.r_nhdr, 4);
	assert_int_equal(req.r_body_len, 0);
	h = http_header_find(&req, "x-aws-ec2-metadata-token-ttl-seconds", &n);
	assert_ptr_equal(h, &req.r_hdr[3]);
	assert_int_equal(n, 1);
	assert_slice(h->h_name, "X-aws-ec2-metadata-token-ttl-seconds");
	assert_slice(h->h_value, "21600");
	assert_null(http_header_find(&req, "Content-Length", &n));
	assert_int_equal(n, 0);
}

/* The token PUT as botocore (urllib3) sends it, Content-Length: 0. */
static void
test_token_put_botocore(void **state)
{
	static const char r[] =
	    "PUT /latest/api/token HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "Accept-Encoding: identity\r\n"
	    "x-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"
	    "User-Agent: aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 botocore/2.4.5\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_int_equal(req.r_nhdr, 5);
	assert_hdr(4, "Content-Length", "0");
	assert_int_equal(req.r_body_len, 0);
	assert_int_equal(req.r_head_len, sizeof(r) - 1);
}

static void
test_absolute_form(void **state)
{
	static const char r[] =
	    "GET http://169.254.169.254/latest/meta-data/instance-id HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "Proxy-Connection: Keep-Alive\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_slice(req.r_target, "http://169.254.169.254/latest/meta-data/instance-id");
	assert_hdr(1, "Proxy-Connection", "Keep-Alive");
}

/* Any token is a method here; routing answers 405 later. */
static void
test_methods(void **state)
{
	(void)state;
	assert_int_equal(parse_str("M-SEARCH * HTTP/1.1\r\n\r\n"), 23);
	assert_slice(req.r_method, "M-SEARCH");
	assert_slice(req.r_target, "*");
	assert_int_equal(parse_str("get / HTTP/1.1\r\n\r\n"), 18);
	assert_slice(req.r_method, "get");
	assert_int_equal(parse_str("OPTIONS /latest/api/token HTTP/1.1\r\n\r\n"), 38);
	/* HTTP_METHOD_MAX bytes exactly, then one more. */
	assert_int_equal(parse_str("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n"), 31);
	assert_int_equal(req.r_method.n, HTTP_METHOD_MAX);
	assert_int_equal(parse_str("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n"), -400);
}

static void
test_header_case(void **state)
{
	static const char r[] =
	    "GET /latest/meta-data/ HTTP/1.1\r\n"
	    "x-aws-ec2-metadata-token: AAA\r\n"
	    "X-Forwarded-For: 10.0.0.1\r\n"
	    "X-AWS-EC2-METADATA-TOKEN: BBB\r\n"
	    "\r\n";
	const struct http_header *h;
	size_t n = 99;

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	h = http_header_find(&req, "X-aws-ec2-metadata-token", &n);
	assert_ptr_equal(h, &req.r_hdr[0]);
	assert_int_equal(n, 2);
	assert_slice(h->h_value, "AAA");
	h = http_header_find(&req, "x-forwarded-for", &n);
	assert_ptr_equal(h, &req.r_hdr[1]);
	assert_int_equal(n, 1);
	/* a prefix or an extension of a name is another name */
	assert_null(http_header_find(&req, "X-Forwarded", &n));
	assert_int_equal(n, 0);
	assert_null(http_header_find(&req, "X-Forwarded-For-", NULL));
	/* count may be NULL */
	assert_ptr_equal(http_header_find(&req, "X-AWS-EC2-METADATA-TOKEN", NULL),
	    &req.r_hdr[0]);
}

static void
test_ows_trim(void **state)
{
	static const char r[] =
	    "GET / HTTP/1.1\r\n"
	    "A: \t value with  inner \t space \t \r\n"
	    "B:v\r\n"
	    "C:\t\tx\r\n"
	    "D: y \r\n"
	    "E: a:b: c\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_int_equal(req.r_nhdr, 5);
	assert_hdr(0, "A", "value with  inner \t space");
	assert_hdr(1, "B", "v");
	assert_hdr(2, "C", "x");
	assert_hdr(3, "D", "y");
	assert_hdr(4, "E", "a:b: c");
}

static void
test_empty_value(void **state)
{
	static const char r[] =
	    "GET / HTTP/1.1\r\n"
	    "X-Empty:\r\n"
	    "X-Blank:   \t \r\n"
	    "Host: h\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_int_equal(req.r_nhdr, 3);
	assert_hdr(0, "X-Empty", "");
	assert_hdr(1, "X-Blank", "");
	assert_hdr(2, "Host", "h");
}

static void
test_obs_text_value(void **state)
{
	static const char r[] =
	    "GET / HTTP/1.1\r\n"
	    "X-Name: caf\xc3\xa9 \xff\x80\r\n"
	    "X-Obs:\xe2\x82\xac\r\n"
	    "\r\n";

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_hdr(0, "X-Name", "caf\xc3\xa9 \xff\x80");
	assert_hdr(1, "X-Obs", "\xe2\x82\xac");
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

struct err_case {
	const char	*ec_req;
	int		 ec_status;
};

static void
run_err_cases(const struct err_case *c, size_t n)
{
	size_t i;
	ssize_t r;

	for (i = 0; i < n; i++) {
		r = parse_str(c[i].ec_req);
		if (r != -c[i].ec_status)
			fail_msg("case %zu (%s): got %zd, want %d", i, c[i].ec_req, r,
			    -c[i].ec_status);
	}
}

static void
test_errors_request_line(void **state)
{
	static const struct err_case c[] = {
		{ "GET  / HTTP/1.1\r\n\r\n", 400 },		/* two SPs */
		{ "GET /  HTTP/1.1\r\n\r\n", 400 },
		{ " GET / HTTP/1.1\r\n\r\n", 400 },		/* leading SP */
		{ "GET / HTTP/1.1 \r\n\r\n", 400 },		/* trailing SP */
		{ "GET / HTTP/1.1 x\r\n\r\n", 400 },		/* a fourth part */
		{ "GET\t/ HTTP/1.1\r\n\r\n", 400 },		/* HT is not SP */
		{ "GET /\tHTTP/1.1\r\n\r\n", 400 },
		{ "GET /\r\n\r\n", 400 },			/* HTTP/0.9 style */
		{ "GET /\r\n", 400 },
		{ "GET / \r\n\r\n", 400 },			/* empty version */
		{ "GET\r\n\r\n", 400 },
		{ "\r\nGET / HTTP/1.1\r\n\r\n", 400 },		/* empty line first */
		{ "G(T / HTTP/1.1\r\n\r\n", 400 },		/* not a tchar */
		{ "GE:T / HTTP/1.1\r\n\r\n", 400 },
		{ "G\xc3\x89T / HTTP/1.1\r\n\r\n", 400 },
		{ "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400 },	/* 8-bit target */
		{ "GET /a\x7f HTTP/1.1\r\n\r\n", 400 },	/* DEL */
		{ "GET /a\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "GET / http/1.1\r\n\r\n", 400 },		/* case-sensitive */
		{ "GET / HTTP/1.1x\r\n\r\n", 400 },
		{ "GET / HTTP/1.\r\n\r\n", 400 },
		{ "GET / HTTP/1\r\n\r\n", 400 },
		{ "GET / HTTP/\r\n\r\n", 400 },
		{ "GET / HTTP\r\n\r\n", 400 },
		{ "GET / HTTP/11.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.10\r\n\r\n", 400 },
		{ "GET / HTTP/1,1\r\n\r\n", 400 },
		{ "GET / HTTP/a.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.a\r\n\r\n", 400 },
		{ "GET / HTTX/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/2\r\n\r\n", 400 },		/* not d.d: 400, not 505 */
		{ "GET / HTTP/20.0\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\n\r\n", 400 },		/* bare LF */
		{ "GET / HTTP/1.1\n\n", 400 },
		{ "GET / HTTP/1.1\rX\r\n\r\n", 400 },		/* bare CR */
		{ "GET / HTTP/1.1\r\r\n\r\n", 400 },
	};

	(void)state;
	run_err_cases(c, sizeof(c) / sizeof(c[0]));
}

static void
test_errors_headers(void **state)
{
	static const struct err_case c[] = {
		{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400 },	/* SP before colon */
		{ "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nNo Colon here\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400 },	/* SP after request line */
		{ "GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400 },	/* obs-fold */
		{ "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA(b: c\r\n\r\n", 400 },	/* not a tchar */
		{ "GET / HTTP/1.1\r\nA\xc3\xa9: c\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400 },	/* CTL in value */
		{ "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: \x1b[0m\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\nB: c\r\n\r\n", 400 },	/* bare LF */
		{ "GET / HTTP/1.1\r\nA: b\r\n\n", 400 },
		{ "GET / HTTP/1.1\r\nA:\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA: b\rB: c\r\n\r\n", 400 },	/* bare CR */
		{ "GET / HTTP/1.1\r\nA: b\r\n\rX", 400 },
		{ "GET / HTTP/1.1\r\nA: b\r\n\r\r\n", 400 },
		{ "GET / HTTP/1.1\r\nA\r: b\r\n\r\n", 400 },
	};

	(void)state;
	run_err_cases(c, sizeof(c) / sizeof(c[0]));
}

static void
test_errors_body_and_version(void **state)
{
	static const struct err_case c[] = {
		/* 505: HTTP/d.d with a major other than 1 */
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / HTTP/0.9\r\n\r\n", 505 },
		{ "GET / HTTP/3.0\r\n\r\n", 505 },
		{ "PUT /latest/api/token HTTP/9.9\r\n\r\n", 505 },
		/* 501: any Transfer-Encoding, checked before body rules */
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "PUT / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 501 },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 501 },
		{ "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", 501 },
		{ "PUT / HTTP/1.1\r\nContent-Length: x\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", 501 },
		{ "GET / HTTP/1.1\r\nContent-Length: 5\r\n"
		    "TRANSFER-ENCODING: gzip\r\n\r\n", 501 },
		/* 400: Content-Length syntax */
		{ "PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 00000000000\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 400 },
		/* 400: a body on GET or HEAD, whatever its size */
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400 },
		{ "HEAD / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n", 400 },
		/* 413: too big a body elsewhere */
		{ "PUT / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n", 413 },
		{ "POST / HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n", 413 },
		{ "get / HTTP/1.1\r\nContent-Length: 4096\r\n\r\n", 413 },
		/* 400: Content-Length fields that disagree */
		{ "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 0\r\ncontent-length:\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
		    "Content-Length: 50\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 9999999999\r\n"
		    "Content-Length: 9999999998\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: x\r\n\r\n", 400 },
	};

	(void)state;
	run_err_cases(c, sizeof(c) / sizeof(c[0]));
}

/*
 * Errors visible in a prefix are reported without waiting for the rest of
 * the request.
 */
static void
test_errors_immediate(void **state)
{
	static const struct err_case c[] = {
		{ "G(", 400 },
		{ " ", 400 },
		{ "\r", 400 },
		{ "GET  ", 400 },
		{ "GET /\r", 400 },
		{ "GET /a\x80", 400 },
		{ "GET / H", 0 },
		{ "GET / HTTP/1.", 0 },
		{ "GET / X", 400 },
		{ "GET / HTTX", 400 },
		{ "GET / HTTP/1.1x", 400 },
		{ "GET / HTTP/1.1 ", 400 },
		{ "GET / HTTP/2.0\r", 505 },
		{ "GET / HTTP/1.1\r\r", 400 },
		{ "GET / HTTP/1.1\n", 400 },
		{ "GET / HTTP/1.1\r\n ", 400 },
		{ "GET / HTTP/1.1\r\nHost ", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\x01", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\rb", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r", 0 },
		{ "GET / HTTP/1.1\r\nHost: a\r\n\rb", 400 },
		{ "ABCDEFGHIJKLMNOPQ", 400 },			/* method too long */
		{ "ABCDEFGHIJKLMNOP", 0 },
	};
	size_t i;
	ssize_t r;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		r = parse_str(c[i].ec_req);
		if (r != -c[i].ec_status)
			fail_msg("case %zu: got %zd, want %d", i, r, -c[i].ec_status);
	}
}

/* A NUL anywhere in the head is a 400, seen as soon as it arrives. */
static void
test_nul_everywhere(void **state)
{
	static const char r[] = "GET /a HTTP/1.1\r\nHost: h\r\nX: y z\r\n\r\n";
	char b[sizeof(r)];
	size_t i;

	(void)state;
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	for (i = 0; i < sizeof(r) - 1; i++) {
		memcpy(b, r, sizeof(r));
		b[i] = '\0';
		if (parse_n(b, sizeof(r) - 1) != -400)
			fail_msg("NUL at %zu: not 400", i);
		if (parse_n(b, i + 1) != -400)
			fail_msg("NUL at %zu, end of input: not 400", i);
	}
}

/*
 * Each byte value in each part of the request, against the grammar written
 * out again here independently of the parser's class table.
 */
static int
is_tchar(unsigned c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != 0 && memchr(extra, (int)c, sizeof(extra) - 1));
}

/* Parse s with the byte at position at replaced by c; true when the result is want. */
static int
parse_with(char *s, size_t n, size_t at, unsigned c, ssize_t want)
{
	s[at] = (char)c;
	return parse_n(s, n) == want;
}

#define SWEEP(s, at, want)	parse_with((s), sizeof(s) - 1, (at), c, \
				    (want) ? (ssize_t)sizeof(s) - 1 : -400)

static void
test_byte_classes(void **state)
{
	/* the byte at the '?' in each (first and inner bytes of each part) */
	char meth0[] = "?ET / HTTP/1.1\r\n\r\n";
	char meth[] = "G?T / HTTP/1.1\r\n\r\n";
	char tgt0[] = "GET ?a HTTP/1.1\r\n\r\n";
	char tgt[] = "GET /a?b HTTP/1.1\r\n\r\n";
	char name0[] = "GET / HTTP/1.1\r\n?Y: v\r\n\r\n";
	char name[] = "GET / HTTP/1.1\r\nX?Y: v\r\n\r\n";
	char val0[] = "GET / HTTP/1.1\r\nX: ?b\r\n\r\n";
	char val[] = "GET / HTTP/1.1\r\nX: a?b\r\n\r\n";
	char major[] = "GET / HTTP/?.1\r\n\r\n";
	int tchar, vchar, fieldc;
	unsigned c;
	char v3[3];

	(void)state;
	for (c = 0; c < 256; c++) {
		tchar = is_tchar(c);
		vchar = c >= 0x21 && c <= 0x7e;
		/* field-vchar and the whitespace allowed inside a value */
		fieldc = c == '\t' || c == ' ' || vchar || c >= 0x80;

		if (!SWEEP(meth0, 0, tchar) || !SWEEP(meth, 1, tchar))
			fail_msg("method byte 0x%02x", c);
		if (!SWEEP(tgt0, 4, vchar) || !SWEEP(tgt, 6, vchar))
			fail_msg("target byte 0x%02x", c);
		/* "X:Y: v" is the field X with the value "Y: v" */
		if (!SWEEP(name0, 16, tchar) || !SWEEP(name, 17, tchar || c == ':'))
			fail_msg("name byte 0x%02x", c);

		if (!SWEEP(val0, 19, fieldc))
			fail_msg("first value byte 0x%02x", c);
		if (fieldc && (c == ' ' || c == '\t'))	/* leading OWS is trimmed */
			assert_hdr(0, "X", "b");
		else if (fieldc) {
			assert_int_equal(req.r_hdr[0].h_value.n, 2);
			assert_int_equal((unsigned char)req.r_hdr[0].h_value.p[0], c);
		}

		if (!SWEEP(val, 20, fieldc))
			fail_msg("value byte 0x%02x", c);
		if (fieldc) {
			v3[0] = 'a';
			v3[1] = (char)c;
			v3[2] = 'b';
			assert_int_equal(req.r_hdr[0].h_value.n, 3);
			assert_memory_equal(req.r_hdr[0].h_value.p, v3, 3);
		}

		/* the major version: 1 served, another digit 505, else 400 */
		if (!parse_with(major, sizeof(major) - 1, 11, c,
		    c == '1' ? (ssize_t)sizeof(major) - 1 :
		    c >= '0' && c <= '9' ? -505 : -400))
			fail_msg("major byte 0x%02x", c);
	}
}

/* ------------------------------------------------------------------ */
/* Incremental input, pipelining, bodies                               */
/* ------------------------------------------------------------------ */

static const char *const valid_reqs[] = {
	"GET / HTTP/1.1\r\n\r\n",
	"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "x-aws-ec2-metadata-token: AQAEAFTj2eWxjfk0m6lJ1Ej2zTX1pEb2aN4o7xg7tVn7ZK4I8yNgIg==\r\n"
	    "\r\n",
	"PUT /latest/api/token HTTP/1.1\r\n"
	    "Host: 169.254.169.254\r\n"
	    "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"
	    "\r\n",
	"PUT /latest/api/token HTTP/1.1\r\n"
	    "Content-Length: 5\r\n"
	    "X-aws-ec2-metadata-token-ttl-seconds: 60\r\n"
	    "\r\n"
	    "hello",
	"GET http://169.254.169.254/ HTTP/1.0\r\nA:\r\nB: \t x \t\r\n\r\n",
	"HEAD /latest/meta-data/ami-id HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
};

/* Every split point of a valid request is "more", then the whole is complete. */
static void
test_incremental(void **state)
{
	size_t i, k, n;
	ssize_t r;

	(void)state;
	for (i = 0; i < sizeof(valid_reqs) / sizeof(valid_reqs[0]); i++) {
		n = strlen(valid_reqs[i]);
		for (k = 0; k < n; k++) {
			r = parse_n(valid_reqs[i], k);
			if (r != 0)
				fail_msg("request %zu cut at %zu: got %zd", i, k, r);
		}
		assert_int_equal(parse_n(valid_reqs[i], n), n);
	}
}

/* Bytes after a complete request are left alone, whatever they are. */
static void
test_pipelined(void **state)
{
	static const char two[] =
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char junk[] = "GET / HTTP/1.1\r\n\r\n\0\r\n\x80 garbage\n";
	static const char body[] =
	    "PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /b HTTP/1.1\r\n\r\n";
	size_t i, n;
	struct sb *b = &big;

	(void)state;
	assert_int_equal(PARSE_LIT(two), strlen("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
	assert_slice(req.r_target, "/a");
	assert_int_equal(PARSE_LIT(junk), 18);
	assert_int_equal(PARSE_LIT(body), 41);
	assert_int_equal(req.r_body_len, 3);

	/* each valid request followed by anything stays complete, same length */
	for (i = 0; i < sizeof(valid_reqs) / sizeof(valid_reqs[0]); i++) {
		n = strlen(valid_reqs[i]);
		b->b_n = 0;
		sb_add(b, valid_reqs[i]);
		sb_add(b, "\r\n\n\rX: \x01\x7f");
		sb_rep(b, '\0', 4);
		assert_int_equal(parse_n(b->b_p, b->b_n), n);
	}
}

static void
test_put_body(void **state)
{
	static const char r[] =
	    "PUT /latest/api/token HTTP/1.1\r\n"
	    "Content-Length: 11\r\n"
	    "\r\n"
	    "hello world";
	size_t head = sizeof(r) - 1 - 11, k;

	(void)state;
	/* head complete, body still missing: more */
	for (k = head; k < sizeof(r) - 1; k++)
		assert_int_equal(parse_n(r, k), 0);
	assert_int_equal(PARSE_LIT(r), sizeof(r) - 1);
	assert_int_equal(req.r_head_len, head);
	assert_int_equal(req.r_body_len, 11);
	assert_slice(req.r_method, "PUT");
}

static void
test_body_limits(void **state)
{
	struct sb *b = &big;
	static const char *const methods[] = { "PUT", "POST", "DELETE", "OPTIONS", "get" };
	size_t i, head;

	(void)state;
	/* exactly HTTP_BODY_MAX on each method that may have a body */
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		b->b_n = 0;
		sb_add(b, methods[i]);
		sb_add(b, " / HTTP/1.1\r\nContent-Length: ");
		sb_uint(b, HTTP_BODY_MAX);
		sb_add(b, "\r\n\r\n");
		head = b->b_n;
		sb_rep(b, 'x', HTTP_BODY_MAX);
		assert_int_equal(parse_n(b->b_p, b->b_n - 1), 0);
		assert_int_equal(parse_n(b->b_p, b->b_n), b->b_n);
		assert_int_equal(req.r_head_len, head);
		assert_int_equal(req.r_body_len, HTTP_BODY_MAX);
	}
	/* GET and HEAD may say 0 */
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 37);
	assert_int_equal(parse_str("HEAD / HTTP/1.1\r\nContent-Length: 000\r\n\r\n"), 40);
	assert_int_equal(req.r_body_len, 0);
	/* HTTP_CLEN_DIGITS digits are fine, their value decides */
	assert_int_equal(parse_str("PUT / HTTP/1.1\r\nContent-Length: 0000000000\r\n\r\n"), 46);
	assert_int_equal(parse_str("PUT / HTTP/1.1\r\nContent-Length: 0000000002\r\n\r\nab"), 48);
	assert_int_equal(req.r_body_len, 2);
	assert_int_equal(parse_str("PUT / HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n"), -413);
}

/* s is one complete request and nothing more. */
static void
assert_complete(const char *s)
{
	ssize_t r = parse_str(s);

	if (r != (ssize_t)strlen(s))
		fail_msg("%s: got %zd, want %zu", s, r, strlen(s));
}

static void
test_clen_duplicates(void **state)
{
	(void)state;
	/* identical values are one */
	assert_complete("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "content-length: 5\r\n\r\nhello");
	assert_int_equal(req.r_body_len, 5);
	/* identical numbers: leading zeros and OWS do not make a difference */
	assert_complete("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "X: y\r\nCONTENT-LENGTH: 005 \r\nContent-Length:5\r\n\r\nhello");
	assert_int_equal(req.r_body_len, 5);
	assert_complete("PUT / HTTP/1.1\r\nContent-Length: 0\r\n"
	    "Content-Length: 00\r\n\r\n");
	assert_int_equal(req.r_body_len, 0);
	assert_complete("GET / HTTP/1.1\r\nContent-Length: 0\r\n"
	    "Content-Length: 0\r\n\r\n");
	/* the same too-big value twice is one value: 413 */
	assert_int_equal(parse_str("PUT / HTTP/1.1\r\nContent-Length: 9999999999\r\n"
	    "Content-Length: 9999999999\r\n\r\n"), -413);
	/* different values: the framing is ambiguous */
	assert_int_equal(parse_str("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\nhello!"), -400);
	assert_int_equal(parse_str("PUT / HTTP/1.1\r\nContent-Length: 6\r\n"
	    "Content-Length: 60\r\n\r\nhello!"), -400);
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

static void
build_headers(struct sb *b, size_t n)
{
	size_t i;

	b->b_n = 0;
	sb_add(b, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++) {
		sb_add(b, "X-H");
		sb_uint(b, i);
		sb_add(b, ": v");
		sb_uint(b, i);
		sb_add(b, "\r\n");
	}
	sb_add(b, "\r\n");
}

static void
test_headers_max(void **state)
{
	struct sb *b = &big;
	size_t cut;

	(void)state;
	build_headers(b, HTTP_HEADERS_MAX);
	assert_int_equal(parse_n(b->b_p, b->b_n), b->b_n);
	assert_int_equal(req.r_nhdr, HTTP_HEADERS_MAX);
	assert_hdr(0, "X-H0", "v0");
	assert_hdr(HTTP_HEADERS_MAX - 1, "X-H63", "v63");

	build_headers(b, HTTP_HEADERS_MAX + 1);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
	/* the 65th field is refused as soon as its name starts */
	cut = b->b_n - strlen("X-H64: v64\r\n\r\n");
	assert_int_equal(parse_n(b->b_p, cut), 0);
	assert_int_equal(parse_n(b->b_p, cut + 1), -431);
}

/* A head of exactly HTTP_HEAD_MAX bytes, with a body of body bytes after it. */
static void
build_head(struct sb *b, const char *method, size_t head, size_t body)
{
	static const char pre[] = " / HTTP/1.1\r\nContent-Length: ";
	size_t fixed;

	b->b_n = 0;
	sb_add(b, method);
	sb_add(b, pre);
	sb_uint(b, body);
	sb_add(b, "\r\nX-Pad: ");
	fixed = b->b_n + strlen("\r\n\r\n");
	assert_true(head > fixed);
	sb_rep(b, 'p', head - fixed);
	sb_add(b, "\r\n\r\n");
	assert_int_equal(b->b_n, head);
	sb_rep(b, 'b', body);
}

static void
test_head_limit(void **state)
{
	struct sb *b = &big;

	(void)state;
	build_head(b, "GET", HTTP_HEAD_MAX, 0);
	assert_int_equal(parse_n(b->b_p, b->b_n), HTTP_HEAD_MAX);
	assert_int_equal(req.r_head_len, HTTP_HEAD_MAX);
	assert_int_equal(parse_n(b->b_p, b->b_n - 1), 0);

	/* one byte over: more until the limit, 431 when it is passed */
	build_head(b, "GET", HTTP_HEAD_MAX + 1, 0);
	assert_int_equal(parse_n(b->b_p, HTTP_HEAD_MAX), 0);
	assert_int_equal(parse_n(b->b_p, HTTP_HEAD_MAX + 1), -431);

	/* the largest request of all: head and body both at their limits */
	build_head(b, "PUT", HTTP_HEAD_MAX, HTTP_BODY_MAX);
	assert_int_equal(b->b_n, HTTP_HEAD_MAX + HTTP_BODY_MAX);
	assert_int_equal(parse_n(b->b_p, b->b_n - 1), 0);
	assert_int_equal(parse_n(b->b_p, b->b_n), HTTP_HEAD_MAX + HTTP_BODY_MAX);

	/* no end of head in sight */
	b->b_n = 0;
	sb_add(b, "GET / HTTP/1.1\r\nX: ");
	sb_rep(b, 'v', HTTP_HEAD_MAX * 2);
	assert_int_equal(parse_n(b->b_p, HTTP_HEAD_MAX), 0);
	assert_int_equal(parse_n(b->b_p, HTTP_HEAD_MAX + 1), -431);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
}

/* --max-header-bytes and --max-headers: lower limits, clamped to their range. */
static void
test_lowered_limits(void **state)
{
	struct sb *b = &big;

	(void)state;
	http_parse_limits_set(&lim, 2000, 10);
	build_headers(b, 10);
	assert_int_equal(parse_n(b->b_p, b->b_n), b->b_n);
	build_headers(b, 11);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
	build_head(b, "GET", 2000, 0);
	assert_int_equal(parse_n(b->b_p, b->b_n), 2000);
	build_head(b, "GET", 2001, 0);
	assert_int_equal(parse_n(b->b_p, 2000), 0);
	assert_int_equal(parse_n(b->b_p, 2001), -431);

	/* below the floors and above the ceilings: clamped */
	http_parse_limits_set(&lim, 1, 1);
	build_headers(b, HTTP_HEADERS_MIN);
	assert_int_equal(parse_n(b->b_p, b->b_n), b->b_n);
	build_headers(b, HTTP_HEADERS_MIN + 1);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
	build_head(b, "GET", HTTP_HEAD_MIN, 0);
	assert_int_equal(parse_n(b->b_p, b->b_n), HTTP_HEAD_MIN);
	build_head(b, "GET", HTTP_HEAD_MIN + 1, 0);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
	http_parse_limits_set(&lim, HTTP_HEAD_MAX * 2, HTTP_HEADERS_MAX * 2);
	build_headers(b, HTTP_HEADERS_MAX + 1);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
	build_head(b, "GET", HTTP_HEAD_MAX + 1, 0);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);
}

/* After test_lowered_limits, pass or fail: the maxima for the others. */
static int
teardown_limits(void **state)
{
	http_parse_limits_set(&lim, HTTP_HEAD_MAX, HTTP_HEADERS_MAX);
	return teardown(state);
}

static void
test_request_line_limit(void **state)
{
	struct sb *b = &big;

	(void)state;
	b->b_n = 0;
	sb_add(b, "GET /");
	sb_rep(b, 'a', HTTP_HEAD_MAX);
	sb_add(b, " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse_n(b->b_p, HTTP_HEAD_MAX), 0);
	assert_int_equal(parse_n(b->b_p, HTTP_HEAD_MAX + 1), -431);
	assert_int_equal(parse_n(b->b_p, b->b_n), -431);

	/* a long target that fits is fine */
	b->b_n = 0;
	sb_add(b, "GET /");
	sb_rep(b, 'a', HTTP_HEAD_MAX - strlen("GET / HTTP/1.1\r\n\r\n"));
	sb_add(b, " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse_n(b->b_p, b->b_n), HTTP_HEAD_MAX);
	assert_int_equal(req.r_target.n, HTTP_HEAD_MAX - strlen("GET  HTTP/1.1\r\n\r\n"));
}

static void
test_empty_input(void **state)
{
	(void)state;
	assert_int_equal(parse_n("", 0), 0);
	assert_int_equal(req.r_nhdr, 0);
	assert_int_equal(req.r_method.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_simple_get, teardown),
		cmocka_unit_test_teardown(test_no_headers, teardown),
		cmocka_unit_test_teardown(test_minor_versions, teardown),
		cmocka_unit_test_teardown(test_token_put_no_clen, teardown),
		cmocka_unit_test_teardown(test_token_put_botocore, teardown),
		cmocka_unit_test_teardown(test_absolute_form, teardown),
		cmocka_unit_test_teardown(test_methods, teardown),
		cmocka_unit_test_teardown(test_header_case, teardown),
		cmocka_unit_test_teardown(test_ows_trim, teardown),
		cmocka_unit_test_teardown(test_empty_value, teardown),
		cmocka_unit_test_teardown(test_obs_text_value, teardown),
		cmocka_unit_test_teardown(test_errors_request_line, teardown),
		cmocka_unit_test_teardown(test_errors_headers, teardown),
		cmocka_unit_test_teardown(test_errors_body_and_version, teardown),
		cmocka_unit_test_teardown(test_errors_immediate, teardown),
		cmocka_unit_test_teardown(test_nul_everywhere, teardown),
		cmocka_unit_test_teardown(test_byte_classes, teardown),
		cmocka_unit_test_teardown(test_incremental, teardown),
		cmocka_unit_test_teardown(test_pipelined, teardown),
		cmocka_unit_test_teardown(test_put_body, teardown),
		cmocka_unit_test_teardown(test_body_limits, teardown),
		cmocka_unit_test_teardown(test_clen_duplicates, teardown),
		cmocka_unit_test_teardown(test_headers_max, teardown),
		cmocka_unit_test_teardown(test_head_limit, teardown),
		cmocka_unit_test_teardown(test_lowered_limits, teardown_limits),
		cmocka_unit_test_teardown(test_request_line_limit, teardown),
		cmocka_unit_test_teardown(test_empty_input, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
