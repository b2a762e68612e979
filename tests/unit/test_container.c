/*
 * Unit tests of container/render.c: a role's ECS and Pod Identity bodies
 * byte for byte (key order, compact, no trailing newline, the rolling
 * Expiration of keys without one, the instance's account for the node's
 * role), Pod Identity's omitted empty fields, no body without credentials,
 * and strings escaped as Go's encoding/json escapes them; the agent's error
 * shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "container/container.h"

#define NOW		1748854541	/* 2025-06-02T08:55:41Z */

static struct instance inst;
static struct ctr_ctx ctx = { &inst, 0 };	/* every layout */
static struct role role;

static void
set_role(const char *name, const char *account, const char *token, time_t exp)
{
	struct cred c;

	cred_kept_wipe(&role.ro_cache.cc_cur);	/* the last test's */
	memset(&role, 0, sizeof(role));
	snprintf(role.ro_name, sizeof(role.ro_name), "%s", name);
	snprintf(role.ro_account, sizeof(role.ro_account), "%s", account);
	role.ro_cache.cc_have = 1;
	memset(&c, 0, sizeof(c));
	snprintf(c.cr_akid, sizeof(c.cr_akid), "ASIATESTCONTAINER001");
	snprintf(c.cr_secret, sizeof(c.cr_secret), "TESTsecret/+=");
	snprintf(c.cr_token, sizeof(c.cr_token), "%s", token);
	c.cr_expiration = exp;
	assert_int_equal(cred_keep(&role.ro_cache.cc_cur, &c), 0);
}

static void
assert_body(const struct ctr_view *v, enum ctr_layout k, const char *want)
{
	assert_non_null(v->cv_body[k]);
	assert_int_equal(v->cv_len[k], strlen(want));
	assert_memory_equal(v->cv_body[k], want, strlen(want));
}

static int
setup(void **state)
{
	(void)state;
	memset(&inst, 0, sizeof(inst));
	snprintf(inst.i_partition, sizeof(inst.i_partition), "aws");
	snprintf(inst.i_account, sizeof(inst.i_account), "123456789012");
	return 0;
}

/* The node's role (account ""): the instance's account in RoleArn and AccountId. */
static void
layouts_node_role(void **state)
{
	struct ctr_view *v;

	(void)state;
	set_role("dev-instance-role", "", "IQoJTEST", NOW + 3600);
	v = ctr_render(&ctx, &role, NOW);
	assert_non_null(v);
	assert_true(v->cv_have);
	assert_body(v, CTR_ECS, "{\"RoleArn\":\"arn:aws:iam::123456789012:role/dev-instance-role\","
	    "\"AccessKeyId\":\"ASIATESTCONTAINER001\",\"SecretAccessKey\":\"TESTsecret/+=\","
	    "\"Token\":\"IQoJTEST\",\"Expiration\":\"2025-06-02T09:55:41Z\"}");
	assert_body(v, CTR_POD_IDENTITY, "{\"AccessKeyId\":\"ASIATESTCONTAINER001\","
	    "\"SecretAccessKey\":\"TESTsecret/+=\",\"Token\":\"IQoJTEST\","
	    "\"AccountId\":\"123456789012\",\"Expiration\":\"2025-06-02T09:55:41Z\"}");
	ctr_view_unref(v);
}

/* A role of its own account, keys without a token nor an expiry. */
static void
layouts_other_account_no_token(void **state)
{
	struct ctr_view *v;

	(void)state;
	set_role("app", "210987654321", "", 0);
	v = ctr_render(&ctx, &role, NOW);
	assert_non_null(v);
	/* ECS writes every field; Pod Identity omits the empty Token */
	assert_body(v, CTR_ECS, "{\"RoleArn\":\"arn:aws:iam::210987654321:role/app\","
	    "\"AccessKeyId\":\"ASIATESTCONTAINER001\",\"SecretAccessKey\":\"TESTsecret/+=\","
	    "\"Token\":\"\",\"Expiration\":\"2025-06-02T14:55:41Z\"}");
	assert_body(v, CTR_POD_IDENTITY, "{\"AccessKeyId\":\"ASIATESTCONTAINER001\","
	    "\"SecretAccessKey\":\"TESTsecret/+=\",\"AccountId\":\"210987654321\","
	    "\"Expiration\":\"2025-06-02T14:55:41Z\"}");
	ctr_view_unref(v);
}

/* No credentials: a view that says so, with no body; refs keep it alive. */
static void
no_credentials(void **state)
{
	struct ctr_view *v;

	(void)state;
	set_role("app", "", "x", NOW + 60);
	role.ro_cache.cc_have = 0;
	v = ctr_render(&ctx, &role, NOW);
	assert_non_null(v);
	assert_false(v->cv_have);
	assert_null(v->cv_body[CTR_ECS]);
	ctr_view_ref(v);
	ctr_view_unref(v);
	assert_int_equal(v->cv_refs, 1);
	ctr_view_unref(v);
}

static void
quote_is(const char *in, size_t n, const char *want)
{
	char buf[256];
	struct sbuf b = SBUF_FIXED(buf, sizeof(buf));

	ctr_json_quote(&b, in, n);
	assert_false(b.sb_full);
	assert_string_equal(buf, want);
}

/* Go's encoding/json: HTML characters, controls, U+2028/9, invalid UTF-8. */
static void
go_escaping(void **state)
{
	static const struct { const char *in; size_t n; const char *want; } t[] = {
		{ "plain", 5, "\"plain\"" },
		{ "a<b>&c", 6, "\"a\\u003cb\\u003e\\u0026c\"" },
		{ "q\"b\\", 4, "\"q\\\"b\\\\\"" },
		{ "\n\r\t\x01\x1f", 5, "\"\\n\\r\\t\\u0001\\u001f\"" },
		{ "\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\"" },
		{ "\xc3\xa9", 2, "\"\xc3\xa9\"" },			/* é as it is */
		{ "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"" },	/* U+1F600 */
		{ "a\xffz", 3, "\"a\\ufffdz\"" },			/* a stray byte */
		{ "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },		/* overlong */
		{ "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },	/* a surrogate */
		{ "\xe2\x82", 2, "\"\\ufffd\\ufffd\"" },		/* cut short */
		{ "\x7f", 1, "\"\x7f\"" },			/* DEL is not escaped */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		quote_is(t[i].in, t[i].n, t[i].want);
}

/* The agent's ErrorMessage: code, message, and HTTPErrorCode (no JSON tag). */
static void
error_shape(void **state)
{
	char buf[256];
	struct sbuf b = SBUF_FIXED(buf, sizeof(buf));

	(void)state;
	ctr_json_error(&b, "NoIdInRequest",
	    "CredentialsV2Request: No Credential ID in the request", 400);
	assert_string_equal(buf, "{\"code\":\"NoIdInRequest\",\"message\":\"CredentialsV2Request: "
	    "No Credential ID in the request\",\"HTTPErrorCode\":400}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(layouts_node_role, setup),
		cmocka_unit_test_setup(layouts_other_account_no_token, setup),
		cmocka_unit_test_setup(no_credentials, setup),
		cmocka_unit_test(go_escaping),
		cmocka_unit_test(error_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
