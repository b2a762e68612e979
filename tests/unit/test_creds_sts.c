/*
 * Unit tests of creds_sts.c's pure parts: profile role chains, role ARNs,
 * durations and session names; and the shared base's waiters; assumed.c's
 * keys with session tags (one role per set of tags, dropped at once when
 * its owner is gone).  (The STS round trips are tested against
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

/* ---- assumed.c: session tags ---------------------------------------------- */

static void
no_creds(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	(void)cp;
	(void)now;
	done(arg, 0, NULL, "none here");
}

static void
free_provider(struct cred_provider *cp)
{
	free(cp);
}

/* EKS Pod Identity's six tags for pod name/uid. */
static void
pod_tags(struct assume_tags *t, const char *name, const char *uid)
{
	static const char *const keys[] = { "eks-cluster-arn", "eks-cluster-name",
		"kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name",
		"kubernetes-pod-uid" };
	const char *vals[] = { "arn:aws:eks:us-east-1:123456789012:cluster/dev", "dev", "shop",
		"api", name, uid };
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < 6; i++) {
		snprintf(t->at_tag[i].at_key, sizeof(t->at_tag[i].at_key), "%s", keys[i]);
		snprintf(t->at_tag[i].at_value, sizeof(t->at_tag[i].at_value), "%s", vals[i]);
		t->at_tag[i].at_transitive = 1;
	}
	t->at_n = 6;
}

static void
assumed_tagged_per_pod(void **state)
{
	static const char arn[] = "arn:aws:iam::123456789012:role/app";
	struct cred_provider *np = calloc(1, sizeof(*np));
	struct role_registry rg;
	struct assume_tags ta, tb;
	struct assumed_how ha = { &ta, "eks-dev-web-0-1234", "pod shop/web-0", "uid-a" };
	struct assumed_how hb = { &tb, "eks-dev-web-1-5678", "pod shop/web-1", "uid-b" };
	struct assumed *a, *a2, *b, *plain;
	struct assumed_cfg ac;
	struct role *node;
	char err[ERRBUF_LEN];
	time_t now = 1000000;

	(void)state;
	assert_non_null(np);
	np->cp_name = "none";
	np->cp_fetch = no_creds;
	np->cp_free = free_provider;	/* the registry owns it */
	registry_init(&rg, NULL, NULL);
	node = registry_add(&rg, "node", "node", "", np, err, sizeof(err));
	assert_non_null(node);
	ac = (struct assumed_cfg){ &rg, node, NULL, 0, NULL, NULL };
	assert_int_equal(assumed_init(&ac, err, sizeof(err)), 0);
	pod_tags(&ta, "web-0", "uid-a");
	pod_tags(&tb, "web-1", "uid-b");

	a = assumed_acquire_as(arn, NULL, &ha, now, err, sizeof(err));
	b = assumed_acquire_as(arn, NULL, &hb, now, err, sizeof(err));
	plain = assumed_acquire(arn, NULL, now, err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(plain);
	/* one role each: another pod's tags, or none, never share credentials */
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(a, plain);
	assert_ptr_not_equal(assumed_role(a), assumed_role(b));
	assert_true(assumed_tagged(a));
	assert_false(assumed_tagged(plain));
	assert_ptr_equal(assumed_find(arn, NULL), plain);	/* the untagged one */
	assert_string_equal(assumed_arn(a), arn);
	assert_memory_equal(assumed_role(a)->ro_key, "sha256:", 7);
	assert_string_equal(assumed_role(plain)->ro_key, arn);
	/* the same tags: the same role, another user */
	a2 = assumed_acquire_as(arn, NULL, &ha, now, err, sizeof(err));
	assert_ptr_equal(a2, a);
	assert_int_equal(assumed_stats()->as_roles, 3);
	assert_int_equal(assumed_stats()->as_tagged, 2);

	/* the pod goes: its tagged role is dropped at the next tick, once unused */
	assumed_release(a, now);
	assumed_owner_gone("uid-a");
	assumed_tick(now);
	assert_int_equal(assumed_stats()->as_roles, 3);	/* one user left */
	assumed_release(a2, now);
	assumed_tick(now);
	assert_int_equal(assumed_stats()->as_roles, 2);
	assert_int_equal(assumed_stats()->as_tagged, 1);
	/* the others linger as before */
	assumed_release(b, now);
	assumed_release(plain, now);
	assumed_tick(now + 1);
	assert_int_equal(assumed_stats()->as_roles, 2);
	assumed_tick(now + ASSUMED_LINGER_S);
	assert_int_equal(assumed_stats()->as_roles, 0);
	assumed_free();
	registry_free(&rg);
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
		cmocka_unit_test(assumed_tagged_per_pod),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
