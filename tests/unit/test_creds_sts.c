/*
 * Unit tests of creds_sts.c's pure parts: profile role chains, role ARNs,
 * durations and session names.  (The STS round trips are tested against
 * the stand-in in tests/clients/test_sts.py.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "creds/creds.h"

/* Parse config and credentials texts into an aws_conf as awsconf_load would. */
static void
conf_from(struct aws_conf *ac, const char *config, const char *creds)
{
	char err[ERRBUF_LEN];

	memset(ac, 0, sizeof(*ac));
	ac->ac_config_path = strdup("config");
	ac->ac_creds_path = strdup("credentials");
	assert_int_equal(awsconf_parse(config, strlen(config), ac->ac_config_path, 1,
	    &ac->ac_config, &ac->ac_nconfig, err, sizeof(err)), 0);
	assert_int_equal(awsconf_parse(creds, strlen(creds), ac->ac_creds_path, 0,
	    &ac->ac_creds, &ac->ac_ncreds, err, sizeof(err)), 0);
	ac->ac_config_found = ac->ac_creds_found = 1;
}

static void
chain_two_levels(void **state)
{
	struct aws_conf ac;
	struct assume_step steps[STS_CHAIN_MAX];
	char root[64], err[ERRBUF_LEN];
	size_t n;

	(void)state;
	conf_from(&ac,
	    "[profile app]\n"
	    "role_arn = arn:aws:iam::210987654321:role/app\n"
	    "source_profile = ops\n"
	    "external_id = ext-123\n"
	    "role_session_name = alice\n"
	    "duration_seconds = 1800\n"
	    "[profile ops]\n"
	    "role_arn = arn:aws:iam::123456789012:role/ops\n"
	    "source_profile = base\n",
	    "[base]\naws_access_key_id = AKIDTESTBASE00000001\naws_secret_access_key = s\n");
	assert_int_equal(sts_profile_chain(&ac, "app", "dflt-session", steps, &n, root,
	    sizeof(root), err, sizeof(err)), 0);
	assert_string_equal(root, "base");
	assert_int_equal(n, 2);
	/* assumed from the keys outwards */
	assert_string_equal(steps[0].as_arn, "arn:aws:iam::123456789012:role/ops");
	assert_string_equal(steps[0].as_session, "dflt-session");
	assert_string_equal(steps[0].as_external_id, "");
	assert_int_equal(steps[0].as_duration, 0);
	assert_string_equal(steps[1].as_arn, "arn:aws:iam::210987654321:role/app");
	assert_string_equal(steps[1].as_session, "alice");
	assert_string_equal(steps[1].as_external_id, "ext-123");
	assert_int_equal(steps[1].as_duration, 1800);

	/* a profile without role_arn: no steps, itself the root */
	assert_int_equal(sts_profile_chain(&ac, "base", "s", steps, &n, root, sizeof(root),
	    err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_string_equal(root, "base");
	awsconf_free(&ac);
}

static void
chain_errors(void **state)
{
	struct aws_conf ac;
	struct assume_step steps[STS_CHAIN_MAX];
	char root[64], err[ERRBUF_LEN];
	size_t n;

	(void)state;
	conf_from(&ac,
	    "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n"
	    "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = a\n"
	    "[profile orphan]\nrole_arn = arn:aws:iam::123456789012:role/o\n"
	    "[profile dangling]\nrole_arn = arn:aws:iam::123456789012:role/d\n"
	    "source_profile = nowhere\n"
	    "[profile short]\nrole_arn = arn:aws:iam::123456789012:role/s\n"
	    "source_profile = self\nduration_seconds = 60\n"
	    "[profile self]\nrole_arn = arn:aws:iam::123456789012:role/self\n"
	    "source_profile = self\n",
	    "[self]\naws_access_key_id = AKIDTESTSELF00000001\naws_secret_access_key = s\n");
	assert_int_equal(sts_profile_chain(&ac, "a", "s", steps, &n, root, sizeof(root), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "config:2: source_profile chain loops: a -> b -> a");
	assert_int_equal(sts_profile_chain(&ac, "orphan", "s", steps, &n, root, sizeof(root),
	    err, sizeof(err)), -1);
	assert_string_equal(err, "config:8: profile orphan has role_arn but no source_profile");
	assert_int_equal(sts_profile_chain(&ac, "dangling", "s", steps, &n, root, sizeof(root),
	    err, sizeof(err)), -1);
	assert_string_equal(err, "config:11: source_profile nowhere: no such profile");
	assert_int_equal(sts_profile_chain(&ac, "short", "s", steps, &n, root, sizeof(root),
	    err, sizeof(err)), -1);
	assert_string_equal(err, "config:15: duration_seconds must be 900 to 43200");
	/* its own source: one step, with its own keys (as the AWS CLI allows) */
	assert_int_equal(sts_profile_chain(&ac, "self", "s", steps, &n, root, sizeof(root),
	    err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(root, "self");
	awsconf_free(&ac);
}

static void
role_names(void **state)
{
	char name[ROLE_NAME_MAX + 1], acct[16];

	(void)state;
	assert_int_equal(sts_role_name("arn:aws:iam::123456789012:role/app", name,
	    sizeof(name), acct, sizeof(acct)), 0);
	assert_string_equal(name, "app");
	assert_string_equal(acct, "123456789012");
	assert_int_equal(sts_role_name("arn:aws-cn:iam::210987654321:role/path/to/web", name,
	    sizeof(name), acct, sizeof(acct)), 0);
	assert_string_equal(name, "web");
	assert_string_equal(acct, "210987654321");
	assert_int_equal(sts_role_name("arn:aws:iam::123456789012:user/app", name, sizeof(name),
	    acct, sizeof(acct)), -1);
	assert_int_equal(sts_role_name("arn:aws:iam::12345:role/app", name, sizeof(name),
	    acct, sizeof(acct)), -1);
	assert_int_equal(sts_role_name("arn:aws:iam::123456789012:role/", name, sizeof(name),
	    acct, sizeof(acct)), -1);
	assert_int_equal(sts_role_name("app", name, sizeof(name), acct, sizeof(acct)), -1);
}

static void
durations_and_sessions(void **state)
{
	char s[STS_SESSION_NAME_MAX + 1];
	unsigned d;
	size_t i;

	(void)state;
	assert_int_equal(sts_parse_duration("3600", &d), 0);
	assert_int_equal(d, 3600);
	assert_int_equal(sts_parse_duration("1h", &d), 0);
	assert_int_equal(d, 3600);
	assert_int_equal(sts_parse_duration("15m", &d), 0);
	assert_int_equal(d, 900);
	assert_int_equal(sts_parse_duration("12h", &d), 0);
	assert_int_equal(d, 43200);
	assert_int_equal(sts_parse_duration("899", &d), -1);
	assert_int_equal(sts_parse_duration("13h", &d), -1);
	assert_int_equal(sts_parse_duration("1d", &d), -1);
	assert_int_equal(sts_parse_duration("h", &d), -1);
	assert_int_equal(sts_parse_duration("", &d), -1);

	assert_true(sts_session_name_ok("gimme-aws-mini-node1"));
	assert_true(sts_session_name_ok("a.b@c=d,e+f_g-h"));
	assert_false(sts_session_name_ok("a"));
	assert_false(sts_session_name_ok("has space"));
	assert_false(sts_session_name_ok("slash/no"));
	sts_default_session_name(s, sizeof(s));
	assert_memory_equal(s, "gimme-aws-mini-", 15);
	assert_true(strlen(s) <= STS_SESSION_NAME_MAX);
	for (i = 0; s[i] != '\0'; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_+=,.@-", s[i]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_two_levels),
		cmocka_unit_test(chain_errors),
		cmocka_unit_test(role_names),
		cmocka_unit_test(durations_and_sessions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
