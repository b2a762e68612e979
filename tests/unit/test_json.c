/*
 * test_json.c: the IMDS pretty-printer, byte for byte (contract §2.7).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "contract_fixtures.h"

/* Take the buffer and compare it with want, length first. */
static void
assert_doc(struct jbuf *j, const char *want, size_t wantlen)
{
	size_t len = 0;
	char *p = jbuf_take(j, &len);

	assert_non_null(p);
	assert_int_equal(len, wantlen);
	assert_int_equal(strlen(want), wantlen);
	assert_memory_equal(p, want, len);
	assert_int_equal(p[len], '\0');
	free(p);
	/* taken: j is empty again */
	assert_null(j->jb_b.sb_p);
	assert_int_equal(j->jb_b.sb_len, 0);
}

/* §2.7's example: 98 bytes, no LF after the brace. */
static void
test_identity_credentials_info(void **state)
{
	static const char want[] =
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:02Z\",\n"
	    "  \"AccountId\" : \"123456789012\"\n"
	    "}";
	struct jbuf j;

	(void)state;
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "Code", "Success");
	json_str(&j, "LastUpdated", "2025-06-02T08:56:02Z");
	json_str(&j, "AccountId", "123456789012");
	json_end(&j);
	assert_doc(&j, want, 98);
}

/* §8.6's iam/info: 204 bytes. */
static void
test_iam_info(void **state)
{
	static const char want[] =
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T09:14:07Z\",\n"
	    "  \"InstanceProfileArn\" : \"arn:aws:iam::123456789012:instance-profile/dev-instance-role\",\n"
	    "  \"InstanceProfileId\" : \"AIPAEXAMPLEID01234567\"\n"
	    "}";
	struct jbuf j;

	(void)state;
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "Code", "Success");
	json_str(&j, "LastUpdated", "2025-06-02T09:14:07Z");
	json_str(&j, "InstanceProfileArn",
	    "arn:aws:iam::123456789012:instance-profile/dev-instance-role");
	json_str(&j, "InstanceProfileId", "AIPAEXAMPLEID01234567");
	json_end(&j);
	assert_doc(&j, want, 204);
}

/* §9.1's default identity document: 476 bytes, with nulls. */
static void
test_identity_document(void **state)
{
	static const char want[] =
	    CONTRACT_DOCUMENT("x86_64");
	struct jbuf j;

	(void)state;
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "accountId", "123456789012");
	json_str(&j, "architecture", "x86_64");
	json_str(&j, "availabilityZone", "us-east-1a");
	json_null_member(&j, "billingProducts");
	json_strarray(&j, "devpayProductCodes", NULL, 0);	/* n == 0: null */
	json_str(&j, "marketplaceProductCodes", NULL);		/* NULL: null */
	json_str(&j, "imageId", "ami-0abcdef1234567890");
	json_str(&j, "instanceId", "i-0123456789abcdef0");
	json_str(&j, "instanceType", "t3.micro");
	json_null_member(&j, "kernelId");
	json_str(&j, "pendingTime", "2025-06-02T08:55:41Z");
	json_str(&j, "privateIp", "172.31.44.13");
	json_null_member(&j, "ramdiskId");
	json_str(&j, "region", "us-east-1");
	json_str(&j, "version", "2017-09-30");
	json_end(&j);
	assert_doc(&j, want, 476);
}

static void
test_arrays(void **state)
{
	const char *one[] = { "bp-6ba54002" };
	const char *two[] = { "a", "b\"c" };
	static const char want[] =
	    "{\n"
	    "  \"billingProducts\" : [ \"bp-6ba54002\" ],\n"
	    "  \"x\" : [ \"a\", \"b\\\"c\" ]\n"
	    "}";
	struct jbuf j;

	(void)state;
	jbuf_init(&j);
	json_begin(&j);
	json_strarray(&j, "billingProducts", one, 1);
	json_strarray(&j, "x", two, 2);
	json_end(&j);
	assert_doc(&j, want, sizeof(want) - 1);
}

/* Rule 5: the escapes, '/' and UTF-8 untouched. */
static void
test_escapes(void **state)
{
	static const char in[] = "q\" b\\ / + \n \r \t \b \f \x01 \x1f \x7f caf\xc3\xa9";
	static const char want[] =
	    "\"q\\\" b\\\\ / + \\n \\r \\t \\b \\f \\u0001 \\u001F \x7f caf\xc3\xa9\"";
	struct jbuf j;

	(void)state;
	jbuf_init(&j);
	json_quote(&j, in, sizeof(in) - 1);
	assert_doc(&j, want, sizeof(want) - 1);

	/* an embedded NUL is escaped too, not a terminator */
	jbuf_init(&j);
	json_quote(&j, "a\0b", 3);
	assert_doc(&j, "\"a\\u0000b\"", 10);

	/* keys are escaped like values */
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "k\"", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	json_end(&j);
	assert_doc(&j, "{\n  \"k\\\"\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n}",
	    strlen("{\n  \"k\\\"\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n}"));
}

static void
test_empty(void **state)
{
	struct jbuf j;

	(void)state;
	/* nothing written: an empty string, not NULL */
	jbuf_init(&j);
	assert_doc(&j, "", 0);
	/* an empty object prints as Jackson does */
	jbuf_init(&j);
	json_begin(&j);
	json_end(&j);
	assert_doc(&j, "{ }", 3);
}

/* Past JBUF_MAX the error sticks and take returns NULL. */
static void
test_cap(void **state)
{
	struct jbuf j;
	char *big, *p;
	size_t len = 1;

	(void)state;
	big = malloc(JBUF_MAX);
	assert_non_null(big);
	memset(big, 'a', JBUF_MAX);

	/* exactly JBUF_MAX bytes fit */
	jbuf_init(&j);
	json_quote(&j, big, JBUF_MAX - 2);
	assert_int_equal(j.jb_b.sb_full, 0);
	assert_int_equal(j.jb_b.sb_len, JBUF_MAX);
	p = jbuf_take(&j, &len);
	assert_non_null(p);
	assert_int_equal(len, JBUF_MAX);
	free(p);

	/* one more does not, and nothing after that helps */
	jbuf_init(&j);
	json_quote(&j, big, JBUF_MAX - 1);
	assert_int_equal(j.jb_b.sb_full, 1);
	json_end(&j);
	p = jbuf_take(&j, &len);
	assert_null(p);
	assert_int_equal(len, 0);
	assert_null(j.jb_b.sb_p);

	/* jbuf_free on a used buffer, then reuse */
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "a", "b");
	jbuf_free(&j);
	assert_null(j.jb_b.sb_p);
	jbuf_free(&j);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_credentials_info),
		cmocka_unit_test(test_iam_info),
		cmocka_unit_test(test_identity_document),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
