/*
 * Unit tests of creds_sts.c's pure parts: profile role chains, role ARNs,
 * durations and session names; and the shared base's waiters.  (The STS round trips are tested against
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

/* ---- the shared base ---------------------------------------------------- */

/* A base provider that answers when the test says (fake_base_answer). */
static struct {
	cred_done_fn	 done;
	void		*arg;
	int		 fetches;
} fb;

static void
fake_base_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	(void)cp;
	(void)now;
	fb.done = done;
	fb.arg = arg;
	fb.fetches++;
}

static void
fake_base_answer(void)
{
	struct cred c;
	cred_done_fn done = fb.done;

	memset(&c, 0, sizeof(c));
	snprintf(c.cr_akid, sizeof(c.cr_akid), "ASIATESTBASE00000001");
	snprintf(c.cr_secret, sizeof(c.cr_secret), "s");
	snprintf(c.cr_token, sizeof(c.cr_token), "t");	/* a session: no STS call */
	c.cr_expiration = time(NULL) + 3600;
	fb.done = NULL;
	done(fb.arg, 1, &c, NULL);
}

/* Role A's answer frees role B, which waits on the same fetch. */
static struct {
	struct cred_provider *other;
	int		 a_done, b_done;
} roles;

static void
role_a_done(void *arg, int ok, const struct cred *c, const char *err)
{
	(void)arg;
	(void)c;
	(void)err;
	assert_true(ok);
	roles.a_done++;
	roles.other->cp_free(roles.other);	/* B goes away while it waits */
	roles.other = NULL;
}

static void
role_b_done(void *arg, int ok, const struct cred *c, const char *err)
{
	(void)arg;
	(void)ok;
	(void)c;
	(void)err;
	roles.b_done++;
}

static void
base_done_frees_another_waiter(void **state)
{
	static struct cred_provider base = { .cp_name = "fake", .cp_fetch = fake_base_fetch };
	struct cred_provider *a, *b, *c;
	struct cred_base *cb;
	char err[ERRBUF_LEN];

	(void)state;
	memset(&fb, 0, sizeof(fb));
	memset(&roles, 0, sizeof(roles));
	assert_int_equal(cred_base_new(&base, &cb, err, sizeof(err)), 0);
	assert_int_equal(cred_provider_sts_on(cb, NULL, 0, 0, 0, &a, err, sizeof(err)), 0);
	assert_int_equal(cred_provider_sts_on(cb, NULL, 0, 0, 0, &b, err, sizeof(err)), 0);
	assert_int_equal(cred_provider_sts_on(cb, NULL, 0, 0, 0, &c, err, sizeof(err)), 0);
	cred_base_unref(cb);
	roles.other = b;
	a->cp_fetch(a, time(NULL), role_a_done, NULL);
	b->cp_fetch(b, time(NULL), role_b_done, NULL);
	assert_int_equal(fb.fetches, 1);	/* b waits on a's fetch */
	fake_base_answer();
	assert_int_equal(roles.a_done, 1);
	assert_int_equal(roles.b_done, 0);	/* freed before its turn: never called */
	/* the base still works for the roles left: c gets the kept credential */
	c->cp_fetch(c, time(NULL), role_b_done, NULL);
	assert_int_equal(fb.fetches, 1);
	assert_int_equal(roles.b_done, 1);
	c->cp_free(c);
	a->cp_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_two_levels),
		cmocka_unit_test(chain_errors),
		cmocka_unit_test(role_names),
		cmocka_unit_test(durations_and_sessions),
		cmocka_unit_test(base_done_frees_another_waiter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
