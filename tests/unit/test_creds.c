/*
 * Unit tests of creds.c: the refresh policy and the cache, driven by a
 * clock and a provider of the test's own.  Nothing here sleeps.
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

#define T0	1748856028	/* "now" at the start of each test */

static time_t fake_now;
static time_t
fake_clock(void)
{
	return fake_now;
}

/* A provider answering from a script the test sets. */
static struct {
	int		 ok;
	struct cred	 c;
	const char	*err;
	int		 fetches;
	int		 changes;
	int		 defer;		/* answer when fake_answer says, with fp.c as it was */
	struct cred	 at_fetch;
	cred_done_fn	 done;
	void		*arg;
} fp;

static void
fake_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	(void)cp;
	(void)now;
	fp.fetches++;
	if (fp.defer) {
		fp.at_fetch = fp.c;
		fp.done = done;
		fp.arg = arg;
	} else if (fp.ok)
		done(arg, 1, &fp.c, NULL);
	else
		done(arg, 0, NULL, fp.err);
}

static struct cred_provider fake = {
	.cp_name = "fake",
	.cp_desc = "the test's provider",
	.cp_fetch = fake_fetch,
};

static void
changed(void *arg)
{
	(void)arg;
	fp.changes++;
}

static void
set_cred(const char *akid, const char *token, time_t exp)
{
	memset(&fp.c, 0, sizeof(fp.c));
	snprintf(fp.c.cr_akid, sizeof(fp.c.cr_akid), "%s", akid);
	snprintf(fp.c.cr_secret, sizeof(fp.c.cr_secret), "secretTEST");
	snprintf(fp.c.cr_token, sizeof(fp.c.cr_token), "%s", token);
	fp.c.cr_expiration = exp;
	fp.ok = 1;
}

static int
setup(void **state)
{
	(void)state;
	memset(&fp, 0, sizeof(fp));
	fake_now = T0;
	log_init(0, LOG_LVL_ERR + 1);	/* quiet: nothing is logged */
	return 0;
}

static void
policy_expiring(void **state)
{
	struct cred c;
	time_t at;
	uint32_t r;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.cr_expiration = T0 + 3600;
	/* 30 minutes before expiry, minus up to 5 minutes of jitter */
	for (r = 0; r < 1000; r += 7) {
		at = cred_refresh_at(&c, T0, T0, r);
		assert_true(at <= T0 + 3600 - CRED_REFRESH_AHEAD);
		assert_true(at >= T0 + 3600 - CRED_REFRESH_AHEAD - CRED_REFRESH_JITTER);
	}
	assert_int_equal(cred_refresh_at(&c, T0, T0, 0), T0 + 1800);
	/* "at the latest 15 minutes before": always true here */
	assert_true(cred_refresh_at(&c, T0, T0, UINT32_MAX) <= c.cr_expiration - 15 * 60);
	/* short-lived credentials: never more often than the minimum gap */
	c.cr_expiration = T0 + 600;
	assert_int_equal(cred_refresh_at(&c, T0, T0, 0), T0 + CRED_REFRESH_MIN_GAP);
	assert_int_equal(cred_served_expiration(&c, T0), T0 + 600);
}

static void
policy_rolling(void **state)
{
	struct cred c;
	time_t at;

	(void)state;
	memset(&c, 0, sizeof(c));
	/* no expiry of their own: served 6 h ahead, refreshed before < 1 h is left */
	assert_int_equal(cred_served_expiration(&c, T0), T0 + CRED_ROLLING_LIFETIME);
	at = cred_refresh_at(&c, T0, T0, 12345);
	assert_true(at <= T0 + CRED_ROLLING_LIFETIME - CRED_MIN_AHEAD);
	assert_true(at >= T0 + CRED_ROLLING_LIFETIME - CRED_MIN_AHEAD - CRED_REFRESH_JITTER);
}

static void
policy_backoff(void **state)
{
	unsigned n, b, prev = 0;

	(void)state;
	/* without jitter's extremes: the middle of the range doubles, then caps */
	for (n = 1; n <= 12; n++) {
		b = cred_backoff(n, 20);	/* rnd % 41 == 20: exactly 100% */
		assert_true(b >= prev);
		assert_true(b <= CRED_BACKOFF_MAX);
		prev = b;
	}
	assert_int_equal(cred_backoff(1, 20), CRED_BACKOFF_MIN);
	assert_int_equal(cred_backoff(2, 20), 2 * CRED_BACKOFF_MIN);
	assert_int_equal(cred_backoff(30, 20), CRED_BACKOFF_MAX);
	/* jitter stays within +-20% */
	assert_int_equal(cred_backoff(30, 0), CRED_BACKOFF_MAX * 80 / 100);
	assert_int_equal(cred_backoff(30, 40), CRED_BACKOFF_MAX * 120 / 100);
}

static void
cache_serves_and_refreshes(void **state)
{
	struct cred_cache cc;

	(void)state;
	cred_cache_init(&cc, &fake, changed, NULL);
	cc.cc_clock = fake_clock;
	set_cred("ASIATESTFIRST0000001", "tokenA", T0 + 3600);
	cred_cache_refresh(&cc, fake_now);
	assert_int_equal(cc.cc_have, 1);
	assert_int_equal(cc.cc_fetched_once, 1);
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTFIRST0000001");
	assert_int_equal(cc.cc_cur.ck_expiration, T0 + 3600);	/* the real one */
	assert_int_equal(cc.cc_cur.ck_last_updated, T0);
	assert_int_equal(fp.changes, 1);

	/* nothing happens before it is due */
	fake_now = T0 + 1000;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(fp.fetches, 1);

	/* due: fetched off the request path, the new one served */
	set_cred("ASIATESTSECOND000002", "tokenB", T0 + 7200);
	fake_now = cc.cc_next;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(fp.fetches, 2);
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTSECOND000002");
	assert_int_equal(fp.changes, 2);
	cred_cache_free(&cc);
}

/* The deferred fetch answers with what it read when it started. */
static void
fake_answer(void)
{
	cred_done_fn done = fp.done;
	struct cred c = fp.at_fetch;

	assert_non_null(done);
	fp.done = NULL;
	done(fp.arg, 1, &c, NULL);
}

static void
cache_refresh_while_busy_fetches_again(void **state)
{
	struct cred_cache cc;

	(void)state;
	cred_cache_init(&cc, &fake, changed, NULL);
	cc.cc_clock = fake_clock;
	fp.defer = 1;
	set_cred("ASIATESTBEFORE000001", "tokenA", T0 + 3600);
	cred_cache_refresh(&cc, fake_now);
	assert_int_equal(fp.fetches, 1);
	/* an edit while that fetch runs (it read the files before it) */
	fake_now = T0 + 1;
	set_cred("ASIATESTAFTER0000002", "tokenB", T0 + 3600);
	cred_cache_refresh(&cc, fake_now);
	assert_int_equal(fp.fetches, 1);	/* never two at once */
	fake_answer();
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTBEFORE000001");
	assert_int_equal(fp.fetches, 2);	/* at once, not at the next refresh */
	assert_true(fake_now < cc.cc_next);
	fake_answer();
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTAFTER0000002");
	assert_int_equal(fp.fetches, 2);	/* and no more */
	assert_int_equal(fp.changes, 2);
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(fp.fetches, 2);
	cred_cache_free(&cc);
}

static void
cache_keeps_last_good_then_expires(void **state)
{
	struct cred_cache cc;
	time_t first_retry;

	(void)state;
	cred_cache_init(&cc, &fake, changed, NULL);
	cc.cc_clock = fake_clock;
	set_cred("ASIATESTFIRST0000001", "tokenA", T0 + 3600);
	cred_cache_refresh(&cc, fake_now);

	/* the source fails: keep serving, back off */
	fp.ok = 0;
	fp.err = "the source is down";
	fake_now = cc.cc_next;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(cc.cc_have, 1);
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTFIRST0000001");
	assert_int_equal(cc.cc_failures, 1);
	assert_string_equal(cred_cache_error(&cc), "the source is down");
	first_retry = cc.cc_next - fake_now;
	assert_true(first_retry >= CRED_BACKOFF_MIN * 80 / 100);
	assert_true(first_retry <= CRED_BACKOFF_MIN * 120 / 100 + 1);
	assert_int_equal(fp.changes, 1);	/* nothing new to serve */

	/* more failures back off further */
	fake_now = cc.cc_next;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(cc.cc_failures, 2);
	assert_true(cc.cc_next - fake_now >= 2 * CRED_BACKOFF_MIN * 80 / 100);

	/* at expiry the credential is dropped: the path answers 404 */
	fake_now = T0 + 3600;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(cc.cc_have, 0);
	assert_int_equal(fp.changes, 2);
	assert_string_equal(cc.cc_cur.ck_akid, "");	/* wiped */

	/* the source comes back: served again, failures forgotten */
	set_cred("ASIATESTTHIRD0000003", "tokenC", fake_now + 3600);
	fake_now = cc.cc_next > fake_now ? cc.cc_next : fake_now;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(cc.cc_have, 1);
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTTHIRD0000003");
	assert_int_equal(cc.cc_failures, 0);
	assert_string_equal(cred_cache_error(&cc), "");
	cred_cache_free(&cc);
}

static void
cache_rolling_expiration(void **state)
{
	struct cred_cache cc;

	(void)state;
	cred_cache_init(&cc, &fake, changed, NULL);
	cc.cc_clock = fake_clock;
	cc.cc_allow_long_term = 1;
	set_cred("AKIATESTLONGTERM0001", "", 0);
	cred_cache_refresh(&cc, fake_now);
	assert_int_equal(cc.cc_have, 1);
	assert_int_equal(cc.cc_cur.ck_expiration, T0 + CRED_ROLLING_LIFETIME);
	/* refreshed while at least CRED_MIN_AHEAD is left: Expiration moves on */
	fake_now = cc.cc_next;
	assert_true(cc.cc_cur.ck_expiration - fake_now >= CRED_MIN_AHEAD);
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(cc.cc_cur.ck_expiration, fake_now + CRED_ROLLING_LIFETIME);
	cred_cache_free(&cc);
}

static void
cache_refuses_bad_credentials(void **state)
{
	struct cred_cache cc;

	(void)state;
	cred_cache_init(&cc, &fake, changed, NULL);
	cc.cc_clock = fake_clock;
	/* long-term keys without the switch */
	set_cred("AKIATESTLONGTERM0001", "", 0);
	cred_cache_refresh(&cc, fake_now);
	assert_int_equal(cc.cc_have, 0);
	assert_int_equal(cc.cc_fetched_once, 1);
	assert_non_null(strstr(cred_cache_error(&cc), "--allow-long-term-keys"));
	assert_non_null(strstr(cred_cache_error(&cc), "AKIATESTLONGTERM0001"));
	assert_null(strstr(cred_cache_error(&cc), "secretTEST"));
	/* already expired */
	set_cred("ASIATESTEXPIRED00001", "token", T0 - 10);
	fake_now = cc.cc_next;
	cred_cache_tick(&cc, fake_now);
	assert_int_equal(cc.cc_have, 0);
	assert_non_null(strstr(cred_cache_error(&cc), "expired"));
	/* a provider error is kept for the log and the error form */
	fp.ok = 0;
	fp.err = "profile dev is in neither file";
	fake_now = cc.cc_next;
	cred_cache_tick(&cc, fake_now);
	assert_string_equal(cred_cache_error(&cc), "profile dev is in neither file");
	assert_int_equal(fp.changes, 0);
	cred_cache_free(&cc);
}

static void
env_provider(void **state)
{
	struct cred_provider *p;
	struct cred_cache cc;
	char err[ERRBUF_LEN];

	(void)state;
	unsetenv("AWS_ACCESS_KEY_ID");
	assert_int_equal(cred_provider_env(&p, err, sizeof(err)), -1);
	setenv("AWS_ACCESS_KEY_ID", "ASIATESTENVIRONMENT1", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envSecretTEST", 1);
	setenv("AWS_SESSION_TOKEN", "envTokenTEST", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2025-06-02T12:00:00Z", 1);
	assert_int_equal(cred_provider_env(&p, err, sizeof(err)), 0);
	cred_cache_init(&cc, p, changed, NULL);
	cc.cc_clock = fake_clock;
	cred_cache_refresh(&cc, fake_now);
	assert_int_equal(cc.cc_have, 1);
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTENVIRONMENT1");
	assert_string_equal(cc.cc_cur.ck_secret, "envSecretTEST");
	assert_string_equal(cc.cc_cur.ck_token, "envTokenTEST");
	assert_int_equal(cc.cc_cur.ck_expiration, 1748865600);
	/* a bad expiration is an error that names the variable */
	setenv("AWS_CREDENTIAL_EXPIRATION", "tomorrow", 1);
	fake_now = cc.cc_next;
	cred_cache_tick(&cc, fake_now);
	assert_non_null(strstr(cred_cache_error(&cc), "AWS_CREDENTIAL_EXPIRATION"));
	assert_string_equal(cc.cc_cur.ck_akid, "ASIATESTENVIRONMENT1");	/* kept */
	cred_cache_free(&cc);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_CREDENTIAL_EXPIRATION");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(policy_expiring, setup),
		cmocka_unit_test_setup(policy_rolling, setup),
		cmocka_unit_test_setup(policy_backoff, setup),
		cmocka_unit_test_setup(cache_serves_and_refreshes, setup),
		cmocka_unit_test_setup(cache_refresh_while_busy_fetches_again, setup),
		cmocka_unit_test_setup(cache_keeps_last_good_then_expires, setup),
		cmocka_unit_test_setup(cache_rolling_expiration, setup),
		cmocka_unit_test_setup(cache_refuses_bad_credentials, setup),
		cmocka_unit_test_setup(env_provider, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
