/*
 * test_health.c: the health listener's answers from parsed requests
 * (health.c), without sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/ops.h"

static int ready_calls;
static const char *reason_text;

static void
fake_ready(struct health_reasons *r)
{
	ready_calls++;
	if (reason_text != NULL) {
		health_reason_add(r, "%s", reason_text);
		health_reason_add(r, "magic-ip: rules not installed");
	}
}

static void
fake_creds(struct health_creds *hc)
{
	hc->hcr_refreshes = 3;
	hc->hcr_failures = 2;
	hc->hcr_have = 1;
	hc->hcr_expires_in = 1234;
}

/* Parse raw and answer it; returns the body (NUL-terminated in buf). */
static const char *
ask(const char *raw, struct response *rs, char *buf, size_t cap)
{
	struct http_req req;
	ssize_t n = http_parse(raw, strlen(raw), &http_parse_limits_max, &req);

	health_handle(n > 0 ? &req : NULL, n > 0 ? 0 : (int)-n, rs, buf, cap);
	/* a body is written into buf, NUL-terminated; no body is the empty string */
	assert_non_null(rs->rs_body);
	if (rs->rs_bodylen > 0) {
		assert_ptr_equal(rs->rs_body, buf);
		assert_true(rs->rs_bodylen < cap);
		assert_int_equal(strlen(rs->rs_body), rs->rs_bodylen);
	} else
		assert_string_equal(rs->rs_body, "");
	return rs->rs_body;
}

static void
test_healthz(void **state)
{
	struct response rs;
	char buf[HEALTH_BODY_MAX];

	(void)state;
	assert_string_equal(ask("GET /healthz HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf)),
	    "{\"status\":\"ok\"}");
	assert_int_equal(rs.rs_status, 200);
	assert_string_equal(rs.rs_ctype, "application/json");
	assert_int_equal(rs.rs_head_only, 0);
	ask("HEAD /healthz HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf));
	assert_int_equal(rs.rs_head_only, 1);
	ask("GET /nothing HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf));
	assert_int_equal(rs.rs_status, 404);
	assert_int_equal(rs.rs_bodylen, 0);
	ask("DELETE /healthz HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf));
	assert_int_equal(rs.rs_status, 405);
	assert_string_equal(rs.rs_allow, "GET, HEAD");
	ask("GET /healthz HTTP/1.1\r\nbad header\r\n\r\n", &rs, buf, sizeof(buf));
	assert_int_equal(rs.rs_status, 400);
}

static void
test_readyz(void **state)
{
	struct response rs;
	char buf[HEALTH_BODY_MAX];

	(void)state;
	health_callbacks(fake_ready, fake_creds);
	reason_text = NULL;
	assert_string_equal(ask("GET /readyz HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf)),
	    "{\"ready\":true}");
	assert_int_equal(rs.rs_status, 200);
	reason_text = "credentials: \"quoted\" \\ and\ta tab";
	assert_string_equal(ask("GET /readyz?x=1 HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf)),
	    "{\"ready\":false,\"reasons\":[\"credentials: \\\"quoted\\\" \\\\ and\\u0009a tab\","
	    "\"magic-ip: rules not installed\"]}");
	assert_int_equal(rs.rs_status, 503);
	assert_int_equal(ready_calls, 2);
}

static void
test_metrics(void **state)
{
	struct response rs;
	char buf[HEALTH_BODY_MAX];
	const char *body;

	(void)state;
	health_callbacks(fake_ready, fake_creds);
	memset(&metrics, 0, sizeof(metrics));
	metrics_request(PC_CREDENTIALS, 200);
	metrics_request(PC_CREDENTIALS, 200);
	metrics_request(PC_ERROR, 418);		/* not a counted status: "other" */
	metrics.m_token_rejects[TR_EXPIRED] = 7;
	metrics.m_limit_hits[LIM_RATE] = 5;
	body = ask("GET /metrics HTTP/1.1\r\n\r\n", &rs, buf, sizeof(buf));
	assert_string_equal(rs.rs_ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(body,
	    "\ngimme_requests_total{class=\"credentials\",status=\"200\"} 2\n"));
	assert_non_null(strstr(body, "\ngimme_requests_total{class=\"error\",status=\"other\"} 1\n"));
	assert_non_null(strstr(body, "\ngimme_token_rejections_total{reason=\"expired\"} 7\n"));
	assert_non_null(strstr(body, "\ngimme_limit_hits_total{limit=\"rate-limit\"} 5\n"));
	assert_non_null(strstr(body, "\ngimme_credential_refreshes_total 3\n"));
	assert_non_null(strstr(body, "\ngimme_credential_refresh_failures_total 2\n"));
	assert_non_null(strstr(body, "\ngimme_credentials_expiry_seconds 1234\n"));
	assert_non_null(strstr(body, "# TYPE gimme_connections_open gauge\n"));
	assert_int_equal(rs.rs_bodylen, strlen(body));
	/* a buffer too small: cut, never overrun */
	ask("GET /metrics HTTP/1.1\r\n\r\n", &rs, buf, 64);
	assert_true(rs.rs_bodylen < 64);
}

static void
test_reasons_capped(void **state)
{
	struct health_reasons r;
	char big[HEALTH_REASON_LEN * 2];
	int i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.rn_n = 0;
	for (i = 0; i < HEALTH_REASONS_MAX + 3; i++)
		health_reason_add(&r, "%s", big);
	assert_int_equal(r.rn_n, HEALTH_REASONS_MAX);
	assert_int_equal(strlen(r.rn_text[0]), HEALTH_REASON_LEN - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_readyz),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_reasons_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
