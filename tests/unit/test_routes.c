/*
 * Unit tests of routes.c: request bytes in, response decided, head bytes
 * out.  A small hand-built snapshot stands in for the instance and a
 * hand-built role view for the caller's role, so these tests pin the IMDS
 * rules (contract §3-§5) independently of the trees' contents.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imds/imds.h"

#define NOW	1000	/* monotonic seconds the tests pretend it is */

static struct snapshot snap;
static struct role_view role;		/* the caller's role, as roles.c renders one */
static const struct role_view *caller;	/* what route() passes: &role, or NULL (no role) */

static int
setup(void **state)
{
	static const unsigned char key[TOKEN_KEY_LEN] = { 1, 2, 3 };

	(void)state;
	memset(&snap, 0, sizeof(snap));
	token_init_key(key);
	snap.s_root = tree_new();
	assert_non_null(snap.s_root);
	assert_int_equal(tree_set(snap.s_root, "meta-data/instance-id", "i-0123456789abcdef0", 19), 0);
	assert_int_equal(tree_set(snap.s_root, "meta-data/placement/availability-zone", "us-east-1a", 10), 0);
	assert_int_equal(tree_set(snap.s_root, "dynamic/instance-identity/document", "{}", 2), 0);
	assert_int_equal(tree_finalize(snap.s_root), 0);
	snap.s_meta_iam.n_dir = 1;
	snap.s_meta_iam.n_body = tree_listing_with_dir(tree_lookup(snap.s_root, "meta-data", 9),
	    "iam", 3, &snap.s_meta_iam.n_bodylen);
	assert_non_null(snap.s_meta_iam.n_body);
	snap.s_opt = (struct imds_options){ 1, 0, 1, 0 };
	snap.s_last_modified = 1748854562;
	snprintf(snap.s_lastmod_str, sizeof(snap.s_lastmod_str), "Mon, 02 Jun 2025 08:56:02 GMT");

	memset(&role, 0, sizeof(role));
	role.rv_root = tree_new();
	assert_non_null(role.rv_root);
	assert_int_equal(tree_set(role.rv_root, "meta-data/iam/info", "{\"i\"}", 5), 0);
	assert_int_equal(tree_set(role.rv_root, "meta-data/iam/security-credentials/dev-instance-role", "{}", 2), 0);
	assert_int_equal(tree_finalize(role.rv_root), 0);
	role.rv_iam_dir = 1;
	role.rv_last_modified = snap.s_last_modified;
	snprintf(role.rv_lastmod_str, sizeof(role.rv_lastmod_str), "%s", snap.s_lastmod_str);
	role.rv_refs = 1;
	caller = &role;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tree_free(snap.s_root);
	free(snap.s_meta_iam.n_body);
	tree_free(role.rv_root);
	return 0;
}

/* Parse raw request bytes and route them. */
static void
route(const char *raw, struct response *rs)
{
	struct http_req req;
	ssize_t n = http_parse(raw, strlen(raw), &http_parse_limits_max, &req);

	assert_true(n > 0);
	routes_handle(&req, &snap, caller, NULL, NOW, rs);
}

static void
assert_body(const struct response *rs, int status, const char *body)
{
	assert_int_equal(rs->rs_status, status);
	assert_int_equal(rs->rs_bodylen, strlen(body));
	assert_memory_equal(rs->rs_body, body, rs->rs_bodylen);
}

static void
get_leaf_and_slash_forms(void **state)
{
	struct response rs;

	(void)state;
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
	assert_int_equal(rs.rs_shape, RESP_META);
	assert_int_equal(rs.rs_ttl, -1);
	route("GET /latest/meta-data/instance-id/ HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
	route("GET //latest//meta-data///instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
	route("GET /latest/meta-data/instance-id?x=1/ HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
	route("GET http://169.254.169.254/latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
	route("GET /2009-04-04/meta-data/instance-id HTTP/1.0\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
}

static void
listings(void **state)
{
	struct response rs;

	(void)state;
	route("GET /latest/meta-data HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "iam/\ninstance-id\nplacement/");
	route("GET /latest/meta-data/ HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "iam/\ninstance-id\nplacement/");
	route("GET /latest HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "dynamic\nmeta-data");
	route("GET /latest/meta-data/iam/security-credentials HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "dev-instance-role");
	route("GET / HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
	assert_int_equal(rs.rs_bodylen, 318);
	assert_memory_equal(rs.rs_body + 318 - 7, "\nlatest", 7);
	route("GET /// HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_bodylen, 318);
}

static void
not_found(void **state)
{
	struct response rs;

	(void)state;
	route("GET /latest/meta-data/nope HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	assert_int_equal(rs.rs_bodylen, 337);
	assert_string_equal(rs.rs_ctype, "text/html");
	route("GET /1999-01-01/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	route("GET /latest/meta-data/./instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	route("GET /latest/meta-data/instance%2Did HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	route("GET /latest/api HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
}

static void
methods(void **state)
{
	struct response rs;

	(void)state;
	route("POST /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 405);
	assert_string_equal(rs.rs_allow, "GET, HEAD");
	assert_int_equal(rs.rs_bodylen, 0);
	route("GET /latest/api/token HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 405);
	assert_string_equal(rs.rs_allow, "OPTIONS, PUT");
	route("OPTIONS /latest/api/token HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
	assert_string_equal(rs.rs_allow, "OPTIONS, PUT");
	route("HEAD /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
	assert_int_equal(rs.rs_head_only, 1);
	assert_int_equal(rs.rs_bodylen, 19);
	route("PUT /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 403);
	assert_int_equal(rs.rs_bodylen, 0);
}

static void
token_put_rules(void **state)
{
	struct response rs;

	(void)state;
	route("PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
	assert_int_equal(rs.rs_shape, RESP_PLAIN);
	assert_int_equal(rs.rs_ttl, 21600);
	assert_int_equal(rs.rs_bodylen, TOKEN_LEN);
	assert_int_equal(rs.rs_hop_limit, 1);
	assert_memory_equal(rs.rs_body + TOKEN_LEN - 2, "==", 2);
	route("PUT //latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
	assert_int_equal(rs.rs_ttl, 1);
	route("PUT /latest/api/token/ HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 403);
	route("PUT /2021-03-23/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 403);
	route("PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 403);
	route("PUT /latest/api/token HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 400);
	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 0\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 400);
	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 21601\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 400);
	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: +5\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 400);
	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 5\r\n"
	    "x-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 400);
}

static void
token_use(void **state)
{
	struct response rs;
	char tok[TOKEN_LEN + 1], req[512];

	(void)state;
	token_mint(NOW - 25, 21600, NULL, tok);
	snprintf(req, sizeof(req), "GET /latest/meta-data/instance-id HTTP/1.1\r\n"
	    "X-aws-ec2-metadata-token: %s\r\n\r\n", tok);
	route(req, &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");
	assert_int_equal(rs.rs_ttl, 21575);	/* counts down, §5.3 */
	assert_int_equal(rs.rs_token_used, 1);

	snprintf(req, sizeof(req), "GET /latest/meta-data/instance-id HTTP/1.1\r\n"
	    "X-aws-ec2-metadata-token: %s\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", tok);
	route(req, &rs);
	assert_int_equal(rs.rs_status, 403);

	tok[5] = tok[5] == 'A' ? 'B' : 'A';
	snprintf(req, sizeof(req), "GET /latest/meta-data/instance-id HTTP/1.1\r\n"
	    "X-aws-ec2-metadata-token: %s\r\n\r\n", tok);
	route(req, &rs);
	assert_int_equal(rs.rs_status, 401);
	assert_int_equal(rs.rs_bodylen, 0);

	route("GET /latest/meta-data/instance-id HTTP/1.1\r\nX-aws-ec2-metadata-token:\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 401);

	/* expired: minted long ago */
	token_mint(NOW - 100, 60, NULL, tok);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n", tok);
	route(req, &rs);
	assert_int_equal(rs.rs_status, 401);

	/* X-Forwarded-For without a token is served (U3) */
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
}

static void
required_and_disabled(void **state)
{
	struct response rs;

	(void)state;
	snap.s_opt.o_tokens_required = 1;
	route("GET / HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 401);
	route("GET /latest HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 401);
	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 200);
	snap.s_opt.o_tokens_required = 0;

	snap.s_opt.o_endpoint_enabled = 0;
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 403);
	assert_int_equal(rs.rs_bodylen, 337);
	assert_string_equal(rs.rs_ctype, "text/html");
	assert_non_null(strstr(rs.rs_body, "<title>403 - Forbidden</title>"));
	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 403);
	snap.s_opt.o_endpoint_enabled = 1;
}

/* The exact head bytes of K2, K4, K5 and K6 (contract §2.3). */
static void
heads(void **state)
{
	static const char date[] = "Mon, 02 Jun 2025 09:20:28 GMT";
	struct response rs;
	char buf[HTTP_RESP_HEAD_MAX];
	size_t n;

	(void)state;
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf,
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Accept-Ranges: none\r\n"
	    "Last-Modified: Mon, 02 Jun 2025 08:56:02 GMT\r\n"
	    "Content-Length: 19\r\n"
	    "Date: Mon, 02 Jun 2025 09:20:28 GMT\r\n"
	    "Server: EC2ws\r\n"
	    "Connection: close\r\n\r\n");

	route("PUT /latest/api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf,
	    "HTTP/1.1 200 OK\r\n"
	    "X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n"
	    "Content-Length: 56\r\n"
	    "Date: Mon, 02 Jun 2025 09:20:28 GMT\r\n"
	    "Server: EC2ws\r\n"
	    "Connection: close\r\n"
	    "Content-Type: text/plain\r\n\r\n");

	route("GET /latest/api/token HTTP/1.1\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf,
	    "HTTP/1.1 405 Not Allowed\r\n"
	    "Allow: OPTIONS, PUT\r\n"
	    "Content-Length: 0\r\n"
	    "Date: Mon, 02 Jun 2025 09:20:28 GMT\r\n"
	    "Server: EC2ws\r\n"
	    "Connection: close\r\n"
	    "Content-Type: text/plain\r\n\r\n");

	routes_error(431, &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_string_equal(buf,
	    "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	    "Content-Length: 0\r\n"
	    "Date: Mon, 02 Jun 2025 09:20:28 GMT\r\n"
	    "Server: EC2ws\r\n"
	    "Connection: close\r\n"
	    "Content-Type: text/plain\r\n\r\n");

	/* a head that does not fit is refused, not truncated */
	assert_int_equal(response_head(&rs, date, buf, 20), 0);
}

/*
 * The caller's role (roles.c joins it to the snapshot): meta-data/ lists
 * iam/ and iam/ answers from the role view; without a role neither.
 */
static void
role_view_joined(void **state)
{
	struct response rs;

	(void)state;
	route("GET /latest/meta-data/iam HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "info\nsecurity-credentials/");
	route("GET /latest/meta-data/iam/info/ HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "{\"i\"}");
	route("GET /2012-01-12/meta-data/iam/security-credentials/dev-instance-role HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "{}");
	assert_int_equal(rs.rs_class, PC_CREDENTIALS);
	route("GET /latest/meta-data/iam/security-credentials/other-role HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	route("GET /latest/meta-data/iamx HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	/* the rest still comes from the snapshot */
	route("GET /latest/meta-data/placement HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "availability-zone");
	route("GET /latest/dynamic/instance-identity HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "document");

	caller = NULL;	/* a caller without a role (§8.1, U14) */
	route("GET /latest/meta-data/ HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "instance-id\nplacement/");
	route("GET /latest/meta-data/iam/ HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	assert_int_equal(rs.rs_bodylen, 337);
	route("GET /latest/meta-data/iam/info HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	route("GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\n\r\n", &rs);
	assert_int_equal(rs.rs_status, 404);
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "i-0123456789abcdef0");

	/* a role whose iam/ the config removed: not listed either */
	caller = &role;
	role.rv_iam_dir = 0;
	route("GET /latest/meta-data HTTP/1.1\r\n\r\n", &rs);
	assert_body(&rs, 200, "instance-id\nplacement/");
	role.rv_iam_dir = 1;
}

/* Last-Modified: the later of the snapshot's and the caller's role's. */
static void
last_modified(void **state)
{
	static const char date[] = "Mon, 02 Jun 2025 09:20:28 GMT";
	struct response rs;
	char buf[HTTP_RESP_HEAD_MAX];
	size_t n;

	(void)state;
	/* the role's credentials changed after the snapshot was built */
	role.rv_last_modified = snap.s_last_modified + 1085;
	snprintf(role.rv_lastmod_str, sizeof(role.rv_lastmod_str), "Mon, 02 Jun 2025 09:14:07 GMT");
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\r\nLast-Modified: Mon, 02 Jun 2025 09:14:07 GMT\r\n"));
	route("GET /latest/meta-data/iam/security-credentials/dev-instance-role HTTP/1.1\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\r\nLast-Modified: Mon, 02 Jun 2025 09:14:07 GMT\r\n"));

	/* a caller without that role sees the snapshot's */
	caller = NULL;
	route("GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\r\nLast-Modified: Mon, 02 Jun 2025 08:56:02 GMT\r\n"));

	/* the snapshot rebuilt after the role was rendered: the snapshot's */
	caller = &role;
	role.rv_last_modified = snap.s_last_modified - 60;
	snprintf(role.rv_lastmod_str, sizeof(role.rv_lastmod_str), "Mon, 02 Jun 2025 08:55:02 GMT");
	route("GET /latest/meta-data/iam/info HTTP/1.1\r\n\r\n", &rs);
	n = response_head(&rs, date, buf, sizeof(buf));
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\r\nLast-Modified: Mon, 02 Jun 2025 08:56:02 GMT\r\n"));

	role.rv_last_modified = snap.s_last_modified;
	snprintf(role.rv_lastmod_str, sizeof(role.rv_lastmod_str), "%s", snap.s_lastmod_str);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_leaf_and_slash_forms),
		cmocka_unit_test(listings),
		cmocka_unit_test(not_found),
		cmocka_unit_test(methods),
		cmocka_unit_test(token_put_rules),
		cmocka_unit_test(token_use),
		cmocka_unit_test(required_and_disabled),
		cmocka_unit_test(heads),
		cmocka_unit_test(role_view_joined),
		cmocka_unit_test(last_modified),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
