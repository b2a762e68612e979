/*
 * test_sts.c: the STS client (sts.c) against a loopback stand-in.
 *
 * tests/lib/mini_sts.py runs as a child on 127.0.0.1 (plain HTTP), prints
 * each request it receives as one JSON line (into a file, not a pipe: a
 * full queue's thousand requests would fill a pipe and block it before
 * the test reads them), and checks each signature
 * with botocore's signer (without botocore the signature checks fail: it is
 * a test dependency).  It is found relative to the current directory:
 * run this binary from the repository root (tests/run and `make test` do).
 *
 * What is checked: the request shape libcurl 7.88 signs correctly (POST /,
 * the exact form body, SigV4 scope, SignedHeaders with host, x-amz-date and
 * x-amz-security-token), the result fields, an STS error reply, a reply
 * over STS_RESP_MAX, session tags (the form, and sets STS would refuse
 * refused before sending), a refused connection, several calls at once, more
 * calls than STS_CALLS_MAX (they wait, then all complete), two STS role
 * providers on one shared base (one base fetch, two AssumeRoles), and a
 * server that never answers (this one waits STS_TIMEOUT_MS, 10 s, once).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "creds/creds.h"

#define MINI_STS	"tests/lib/mini_sts.py"
#define PYTHON		"/usr/bin/python3"
#define LINE_MAX_TEST	(256 * 1024)	/* bytes of one JSON line from the stand-in */
#define CALLS_AT_ONCE	4		/* concurrent calls in the parallel test */
#define CHILD_WAIT_STEP_US	10000	/* polling the stand-in's output file */
#define CHILD_WAIT_STEPS	1000	/* ... at most 10 s for one line */

/* the stand-in's fixed test keys (mini_sts.py) */
#define AKID		"AKIDMINISTSTEST00001"
#define SECRET		"mini/sts+secret=key/0123456789abcdefghij"
#define BASE_TOKEN	"IQoJb3JpZ2luX2VjEBase/Token+With=Odd&Chars"

extern char **environ;

static pid_t child = -1;
static FILE *child_out;
static int port;
static char line[LINE_MAX_TEST];

/* The stand-in's next output line into line (it may not be written yet), or NULL. */
static char *
child_line(void)
{
	size_t len = 0;
	int i;

	line[0] = '\0';
	for (i = 0; i < CHILD_WAIT_STEPS; i++) {
		if (fgets(line + len, (int)(sizeof(line) - len), child_out) != NULL) {
			len += strlen(line + len);
			if (len > 0 && line[len - 1] == '\n')
				return line;
			if (len + 1 >= sizeof(line))
				return NULL;
			continue;	/* part of a line: the rest is being written */
		}
		clearerr(child_out);
		usleep(CHILD_WAIT_STEP_US);
	}
	return NULL;
}

/* What one call reported. */
struct outcome {
	int		 done;
	int		 got_r;
	struct sts_result r;
	char		 err[2 * ERRBUF_LEN];
	uint64_t	 at_ms;
};

static void
on_done(void *arg, const struct sts_result *r, const char *err)
{
	struct outcome *o = arg;

	assert_int_equal(o->done, 0);	/* exactly once */
	o->done = 1;
	o->at_ms = loop_now_ms();
	if (r != NULL) {
		o->got_r = 1;
		o->r = *r;
		assert_null(err);
	} else {
		assert_non_null(err);
		snprintf(o->err, sizeof(o->err), "%s", err);
	}
}

static void
base_cred(struct cred *c, const char *token)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->cr_akid, sizeof(c->cr_akid), "%s", AKID);
	snprintf(c->cr_secret, sizeof(c->cr_secret), "%s", SECRET);
	snprintf(c->cr_token, sizeof(c->cr_token), "%s", token);
}

/* Start the stand-in and read its port. */
static int
group_setup(void **state)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { PYTHON, MINI_STS, NULL };
	char outpath[] = "/tmp/test-sts-out.XXXXXX";
	char err[ERRBUF_LEN];
	int p[2];

	(void)state;
	/* the stand-in is on loopback: no proxy from the environment */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (access(MINI_STS, R_OK) == -1) {
		fprintf(stderr, "test_sts: %s not found: run from the repository root\n",
		    MINI_STS);
		return -1;
	}
	/* the child appends to the file, we read it from our own offset */
	if ((p[1] = mkstemp(outpath)) == -1 || (p[0] = open(outpath, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	unlink(outpath);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	if (posix_spawn(&child, PYTHON, &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	child_out = fdopen(p[0], "r");
	if (child_out == NULL || child_line() == NULL || sscanf(line, "PORT %d", &port) != 1)
		return -1;
	if (loop_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "loop_init: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	if (child_out != NULL)
		fclose(child_out);
	loop_cleanup();
	return 0;
}

static int
init_with(const char *endpoint)
{
	struct sts_config cfg;
	char err[ERRBUF_LEN];

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.sc_region, sizeof(cfg.sc_region), "us-east-1");
	snprintf(cfg.sc_endpoint, sizeof(cfg.sc_endpoint), "%s", endpoint);
	if (sts_init(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "sts_init: %s\n", err);
		return -1;
	}
	return 0;
}

static int
setup(void **state)
{
	char url[64];

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	return init_with(url);
}

static int
teardown(void **state)
{
	(void)state;
	sts_cleanup();
	return 0;
}

/* Start one call and run the loop until it is reported. */
static void
call(const struct sts_req *rq, struct outcome *o)
{
	char err[ERRBUF_LEN];

	memset(o, 0, sizeof(*o));
	assert_int_equal(sts_call(rq, on_done, o, err, sizeof(err)), 0);
	assert_int_equal(o->done, 0);	/* never before sts_call returns */
	assert_int_equal(loop_run_until(&o->done), 0);
}

/* The next request the stand-in saw, as JSON. */
static json_t *
next_request(void)
{
	json_error_t je;
	json_t *j;

	assert_non_null(child_line());
	j = json_loads(line, 0, &je);
	assert_non_null(j);
	return j;
}

/* The value of the first header named name (case-insensitive), or NULL. */
static const char *
header(json_t *req, const char *name)
{
	json_t *h = json_object_get(req, "headers"), *pair;
	size_t i;

	json_array_foreach(h, i, pair) {
		if (strcasecmp(json_string_value(json_array_get(pair, 0)), name) == 0)
			return json_string_value(json_array_get(pair, 1));
	}
	return NULL;
}

/* The SignedHeaders list of an Authorization value, into buf. */
static const char *
signed_headers(const char *auth, char *buf, size_t len)
{
	const char *p = strstr(auth, "SignedHeaders="), *e;

	assert_non_null(p);
	p += strlen("SignedHeaders=");
	e = strchr(p, ',');
	assert_non_null(e);
	snprintf(buf, len, "%.*s", (int)(e - p), p);
	return buf;
}

/*
 * botocore's signer (an independent SigV4 implementation) agrees with the
 * request's signature.  "sig" is null when the stand-in could not import
 * botocore: that fails too, since botocore is a test dependency
 * (scripts/deps.sh test) and without it the signature is not checked.
 */
static void
botocore_agrees(json_t *req)
{
	json_t *sig = json_object_get(req, "sig");

	if (sig == NULL || json_is_null(sig))
		fail_msg("botocore is missing: the SigV4 signature was not checked "
		    "(install the test dependencies: scripts/deps.sh test)");
	assert_true(json_is_true(sig));
}

/* "AWS4-HMAC-SHA256 Credential=<akid>/<yyyymmdd>/us-east-1/sts/aws4_request, " */
static void
check_scope(const char *auth)
{
	const char *pre = "AWS4-HMAC-SHA256 Credential=" AKID "/";
	size_t i, n = strlen(pre);

	assert_non_null(auth);
	assert_memory_equal(auth, pre, n);
	for (i = 0; i < 8; i++)
		assert_true(auth[n + i] >= '0' && auth[n + i] <= '9');
	assert_memory_equal(auth + n + 8, "/us-east-1/sts/aws4_request, ",
	    strlen("/us-east-1/sts/aws4_request, "));
}

/* rq: an AssumeRole of the demo role as session, signed with base (its token: token). */
static void
demo_assume(struct sts_req *rq, struct cred *base, const char *token, const char *session)
{
	base_cred(base, token);
	memset(rq, 0, sizeof(*rq));
	rq->sr_action = STS_ASSUME_ROLE;
	rq->sr_base = base;
	rq->sr_role_arn = "arn:aws:iam::123456789012:role/demo";
	rq->sr_session_name = session;
}

static void
test_endpoint_for(void **state)
{
	char url[128];

	(void)state;
	assert_int_equal(sts_endpoint_for("us-east-1", url, sizeof(url)), 0);
	assert_string_equal(url, "https://sts.us-east-1.amazonaws.com/");
	assert_int_equal(sts_endpoint_for("eu-west-3", url, sizeof(url)), 0);
	assert_string_equal(url, "https://sts.eu-west-3.amazonaws.com/");
	assert_int_equal(sts_endpoint_for("cn-north-1", url, sizeof(url)), 0);
	assert_string_equal(url, "https://sts.cn-north-1.amazonaws.com.cn/");
	assert_int_equal(sts_endpoint_for("", url, sizeof(url)), -1);
	assert_int_equal(sts_endpoint_for("US-EAST-1", url, sizeof(url)), -1);
	assert_int_equal(sts_endpoint_for("us-east-1.evil.com/x", url, sizeof(url)), -1);
	assert_int_equal(sts_endpoint_for("us_east_1", url, sizeof(url)), -1);
	assert_int_equal(sts_endpoint_for("a23456789012345678901234567890123", url,
	    sizeof(url)), -1);	/* 33 characters */
	assert_int_equal(sts_endpoint_for("a2345678901234567890123456789012", url,
	    sizeof(url)), 0);	/* 32 */
	assert_int_equal(sts_endpoint_for("us-east-1", url, 10), -1);	/* too small */
}

static void
test_init_rejects(void **state)
{
	struct sts_config cfg;
	char err[ERRBUF_LEN];
	const char *bad[] = {
		"http://127.0.0.1:1/x", "http://127.0.0.1:1/?a=b", "ftp://127.0.0.1/",
		"http://u:p@127.0.0.1/", "not a url",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&cfg, 0, sizeof(cfg));
		snprintf(cfg.sc_region, sizeof(cfg.sc_region), "us-east-1");
		snprintf(cfg.sc_endpoint, sizeof(cfg.sc_endpoint), "%s", bad[i]);
		assert_int_equal(sts_init(&cfg, err, sizeof(err)), -1);
	}
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.sc_region, sizeof(cfg.sc_region), "Bad Region");
	assert_int_equal(sts_init(&cfg, err, sizeof(err)), -1);
	/* no endpoint: the regional default is fine (nothing is contacted) */
	snprintf(cfg.sc_region, sizeof(cfg.sc_region), "eu-west-1");
	assert_int_equal(sts_init(&cfg, err, sizeof(err)), 0);
	sts_cleanup();
}

static void
test_assume_role(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	json_t *req;
	const char *auth;
	char sh[256];

	(void)state;
	demo_assume(&rq, &base, BASE_TOKEN, "sess-1@x.y,z=w+v");
	rq.sr_external_id = "ext id/\xc3\xbc+&=~_.-";
	rq.sr_duration = 1800;
	call(&rq, &o);
	assert_true(o.got_r);
	assert_int_equal(o.r.st_ok, 1);
	assert_int_equal(o.r.st_http_status, 200);
	assert_string_equal(o.r.st_cred.cr_akid, "ASIAMINISTSRESULT001");
	assert_string_equal(o.r.st_cred.cr_secret, "resultSecret/0123456789+abcdefghijklmnop");
	assert_string_equal(o.r.st_cred.cr_token, "FwoGZXIvYXdzEMiniStsToken+/==");
	assert_string_equal(o.r.st_assumed_arn,
	    "arn:aws:sts::123456789012:assumed-role/demo/sess-1");
	assert_string_equal(o.r.st_assumed_id, "AROAMINISTS000000001:sess-1");

	req = next_request();
	assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(req, "path")), "/");
	assert_string_equal(json_string_value(json_object_get(req, "body")),
	    "Action=AssumeRole&Version=2011-06-15"
	    "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
	    "&RoleSessionName=sess-1%40x.y%2Cz%3Dw%2Bv"
	    "&DurationSeconds=1800"
	    "&ExternalId=ext%20id%2F%C3%BC%2B%26%3D~_.-");
	assert_string_equal(header(req, "Content-Type"),
	    "application/x-www-form-urlencoded; charset=utf-8");
	assert_string_equal(header(req, "X-Amz-Security-Token"), BASE_TOKEN);
	assert_string_equal(header(req, "User-Agent"), PROGNAME "/" GIMME_VERSION);
	assert_non_null(header(req, "X-Amz-Date"));
	assert_null(header(req, "Date"));
	auth = header(req, "Authorization");
	check_scope(auth);
	signed_headers(auth, sh, sizeof(sh));
	fprintf(stderr, "# SignedHeaders=%s botocore-verified=%s\n", sh,
	    json_is_true(json_object_get(req, "sig")) ? "yes" : "no");
	assert_string_equal(sh, "content-type;host;x-amz-date;x-amz-security-token");
	botocore_agrees(req);
	json_decref(req);
}

/* Session tags: Tags.member.N.Key/Value in order, then TransitiveTagKeys.member.M. */
static void
test_assume_role_tags(void **state)
{
	static const struct sts_tag tags[] = {
		{ "eks-cluster-arn", "arn:aws:eks:us-east-1:123456789012:cluster/dev", 1 },
		{ "kubernetes-pod-name", "web-0", 1 },
		{ "team", "a b+c@d=e", 0 },
		{ "empty", "", 1 },
	};
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	json_t *req;

	(void)state;
	demo_assume(&rq, &base, BASE_TOKEN, "eks-dev-web-0-x");
	rq.sr_tags = tags;
	rq.sr_ntags = sizeof(tags) / sizeof(tags[0]);
	call(&rq, &o);
	assert_true(o.got_r);
	assert_int_equal(o.r.st_ok, 1);
	req = next_request();
	assert_string_equal(json_string_value(json_object_get(req, "body")),
	    "Action=AssumeRole&Version=2011-06-15"
	    "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
	    "&RoleSessionName=eks-dev-web-0-x"
	    "&Tags.member.1.Key=eks-cluster-arn"
	    "&Tags.member.1.Value=arn%3Aaws%3Aeks%3Aus-east-1%3A123456789012%3Acluster%2Fdev"
	    "&Tags.member.2.Key=kubernetes-pod-name&Tags.member.2.Value=web-0"
	    "&Tags.member.3.Key=team&Tags.member.3.Value=a%20b%2Bc%40d%3De"
	    "&Tags.member.4.Key=empty&Tags.member.4.Value="
	    "&TransitiveTagKeys.member.1=eks-cluster-arn"
	    "&TransitiveTagKeys.member.2=kubernetes-pod-name"
	    "&TransitiveTagKeys.member.3=empty");
	botocore_agrees(req);
	json_decref(req);
}

/* Tags STS would refuse are refused before anything is sent. */
static void
test_assume_role_bad_tags(void **state)
{
	struct sts_tag many[STS_TAGS_MAX + 1], t[2];
	char keys[STS_TAGS_MAX + 1][8], longkey[STS_TAG_KEY_MAX + 2],
	    longval[STS_TAG_VALUE_MAX + 2], maxval[STS_TAG_VALUE_MAX + 1];
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	char err[ERRBUF_LEN];
	size_t i;

	(void)state;
	memset(&o, 0, sizeof(o));
	demo_assume(&rq, &base, "", "s1");
	for (i = 0; i < STS_TAGS_MAX + 1; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		many[i] = (struct sts_tag){ keys[i], "v", 1 };
	}
	rq.sr_tags = many;
	rq.sr_ntags = STS_TAGS_MAX + 1;
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 50 session tags"));
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	memset(longval, 'v', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	memset(maxval, 'v', sizeof(maxval) - 1);
	maxval[sizeof(maxval) - 1] = '\0';
	rq.sr_tags = t;
	rq.sr_ntags = 1;
	t[0] = (struct sts_tag){ longkey, "v", 0 };	/* key over 128 */
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	t[0] = (struct sts_tag){ "", "v", 0 };		/* empty key */
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	t[0] = (struct sts_tag){ "k", longval, 0 };	/* value over 256 */
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	t[0] = (struct sts_tag){ "k", "a,b", 0 };	/* ',' is not in the pattern */
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	t[0] = (struct sts_tag){ "k\xc3\xa9", "v", 0 };	/* not ASCII: not sent */
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	rq.sr_ntags = 2;
	t[0] = (struct sts_tag){ "Team", "a", 0 };
	t[1] = (struct sts_tag){ "team", "b", 1 };	/* the same key, case aside */
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(o.done, 0);
	/* the limits themselves are fine: 50 tags, a value of 256 */
	t[1] = (struct sts_tag){ "other", maxval, 1 };
	assert_true(sts_tag_text_ok(maxval, strlen(maxval), 0, STS_TAG_VALUE_MAX));
	assert_false(sts_tag_text_ok(longval, strlen(longval), 0, STS_TAG_VALUE_MAX));
	assert_true(sts_tag_text_ok("", 0, 0, STS_TAG_VALUE_MAX));
	assert_false(sts_tag_text_ok("", 0, 1, STS_TAG_KEY_MAX));
	rq.sr_tags = many;
	rq.sr_ntags = STS_TAGS_MAX;
	call(&rq, &o);
	assert_true(o.got_r);
	json_decref(next_request());
	rq.sr_tags = t;
	rq.sr_ntags = 2;
	call(&rq, &o);
	assert_true(o.got_r);
	json_decref(next_request());
}

static void
test_session_token_no_token(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	json_t *req;
	const char *auth;
	char sh[256];

	(void)state;
	base_cred(&base, "");
	memset(&rq, 0, sizeof(rq));
	rq.sr_action = STS_GET_SESSION_TOKEN;
	rq.sr_base = &base;
	call(&rq, &o);
	assert_true(o.got_r);
	assert_int_equal(o.r.st_ok, 1);
	assert_string_equal(o.r.st_cred.cr_akid, "ASIAMINISTSRESULT002");

	req = next_request();
	assert_string_equal(json_string_value(json_object_get(req, "body")),
	    "Action=GetSessionToken&Version=2011-06-15");
	assert_null(header(req, "X-Amz-Security-Token"));
	auth = header(req, "Authorization");
	check_scope(auth);
	signed_headers(auth, sh, sizeof(sh));
	assert_string_equal(sh, "content-type;host;x-amz-date");
	botocore_agrees(req);
	json_decref(req);
}

static void
test_error_reply(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	json_t *req;

	(void)state;
	demo_assume(&rq, &base, BASE_TOKEN, "mode-error");
	call(&rq, &o);
	assert_true(o.got_r);
	assert_int_equal(o.r.st_ok, 0);
	assert_int_equal(o.r.st_http_status, 500);
	assert_string_equal(o.r.st_code, "AccessDenied");
	assert_string_equal(o.r.st_request_id, "33333333-2222-3333-4444-555555555555");
	req = next_request();
	json_decref(req);
}

static void
test_reply_too_big(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	char want[64];

	(void)state;
	demo_assume(&rq, &base, "", "mode-big");
	call(&rq, &o);
	assert_false(o.got_r);
	snprintf(want, sizeof(want), "reply exceeds %d bytes", STS_RESP_MAX);
	fprintf(stderr, "# %s\n", o.err);
	assert_non_null(strstr(o.err, want));
	assert_non_null(strstr(o.err, "STS 127.0.0.1"));
	json_decref(next_request());
}

static void
test_parallel(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o[CALLS_AT_ONCE];
	char err[ERRBUF_LEN];
	int i, all;

	(void)state;
	demo_assume(&rq, &base, BASE_TOKEN, "sess-par");
	memset(o, 0, sizeof(o));
	for (i = 0; i < CALLS_AT_ONCE; i++) {
		if (i == 1)
			rq.sr_session_name = "mode-error";
		else if (i == 2)
			rq.sr_session_name = "mode-big";
		else
			rq.sr_session_name = "sess-par";
		assert_int_equal(sts_call(&rq, on_done, &o[i], err, sizeof(err)), 0);
	}
	for (;;) {
		for (all = 1, i = 0; i < CALLS_AT_ONCE; i++)
			all &= o[i].done;
		if (all)
			break;
		assert_int_equal(loop_run_until(&o[0].done), 0);
		/* loop_run_until watches one flag: wait for the rest one by one */
		for (i = 1; i < CALLS_AT_ONCE; i++)
			if (!o[i].done)
				assert_int_equal(loop_run_until(&o[i].done), 0);
	}
	assert_int_equal(o[0].r.st_ok, 1);
	assert_int_equal(o[1].r.st_ok, 0);
	assert_false(o[2].got_r);
	assert_int_equal(o[3].r.st_ok, 1);
	for (i = 0; i < CALLS_AT_ONCE; i++)
		json_decref(next_request());
}

static void
test_bad_requests(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	char err[ERRBUF_LEN], arn[STS_ARN_MAX + 2];

	(void)state;
	memset(&o, 0, sizeof(o));
	base_cred(&base, "");
	memset(&rq, 0, sizeof(rq));
	rq.sr_action = STS_ASSUME_ROLE;
	rq.sr_base = &base;
	rq.sr_session_name = "s1";
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);	/* no ARN */
	memset(arn, 'a', sizeof(arn) - 1);
	arn[sizeof(arn) - 1] = '\0';
	rq.sr_role_arn = arn;
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);	/* too long */
	rq.sr_role_arn = "arn:aws:iam::123456789012:role/demo";
	base.cr_secret[0] = '\0';
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);	/* no key */
	rq.sr_base = NULL;
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), -1);
	assert_int_equal(o.done, 0);
}

static void
test_refused(void **state)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	uint64_t t0;
	char url[64];
	int fd;

	(void)state;
	/* a port that was free a moment ago and has no listener now */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	sts_cleanup();
	assert_int_equal(init_with(url), 0);

	base_cred(&base, "");
	memset(&rq, 0, sizeof(rq));
	rq.sr_action = STS_GET_SESSION_TOKEN;
	rq.sr_base = &base;
	t0 = loop_now_ms();
	call(&rq, &o);
	assert_false(o.got_r);
	fprintf(stderr, "# %s\n", o.err);
	assert_non_null(strstr(o.err, "STS 127.0.0.1: "));
	assert_true(o.at_ms - t0 <= STS_CONNECT_TIMEOUT_MS + 500);
}

static void
test_timeout(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	uint64_t t0;

	(void)state;
	if (getenv("STS_TEST_SKIP_SLOW") != NULL)
		skip();
	demo_assume(&rq, &base, "", "mode-hang");
	t0 = loop_now_ms();
	call(&rq, &o);
	assert_false(o.got_r);
	fprintf(stderr, "# %s\n", o.err);
	assert_non_null(strstr(o.err, "Timeout"));
	assert_true(o.at_ms - t0 >= STS_TIMEOUT_MS - 100);
	assert_true(o.at_ms - t0 <= STS_TIMEOUT_MS + 1500);
	json_decref(next_request());
}

/* A second call started from the first one's done callback (role chaining). */
static struct outcome chain_first, chain_second;
static struct cred chain_base;

static void
on_done_chain(void *arg, const struct sts_result *r, const char *err)
{
	struct sts_req rq;
	char e[ERRBUF_LEN];

	on_done(arg, r, err);
	assert_non_null(r);
	/* sign the next call with what this one returned */
	chain_base = r->st_cred;
	memset(&rq, 0, sizeof(rq));
	rq.sr_action = STS_ASSUME_ROLE;
	rq.sr_base = &chain_base;
	rq.sr_role_arn = "arn:aws:iam::123456789012:role/second";
	rq.sr_session_name = "sess-2";
	assert_int_equal(sts_call(&rq, on_done, &chain_second, e, sizeof(e)), 0);
	assert_int_equal(chain_second.done, 0);
}

static void
test_chain_from_done(void **state)
{
	struct sts_req rq;
	struct cred base;
	char err[ERRBUF_LEN];
	json_t *req;
	const char *auth;

	(void)state;
	memset(&chain_first, 0, sizeof(chain_first));
	memset(&chain_second, 0, sizeof(chain_second));
	base_cred(&base, "");
	memset(&rq, 0, sizeof(rq));
	rq.sr_action = STS_ASSUME_ROLE;
	rq.sr_base = &base;
	rq.sr_role_arn = "arn:aws:iam::123456789012:role/first";
	rq.sr_session_name = "sess-1";
	assert_int_equal(sts_call(&rq, on_done_chain, &chain_first, err, sizeof(err)), 0);
	assert_int_equal(loop_run_until(&chain_second.done), 0);
	assert_int_equal(chain_first.r.st_ok, 1);
	assert_int_equal(chain_second.r.st_ok, 1);
	json_decref(next_request());
	req = next_request();
	auth = header(req, "Authorization");
	assert_non_null(auth);
	/* signed with the first call's result and its token */
	assert_non_null(strstr(auth, "Credential=ASIAMINISTSRESULT001/"));
	assert_string_equal(header(req, "X-Amz-Security-Token"), "FwoGZXIvYXdzEMiniStsToken+/==");
	json_decref(req);
}

static void
set_flag(void *arg)
{
	*(int *)arg = 1;
}

/* Cleanup with a call in flight: nothing reported, nothing leaked. */
static void
test_cleanup_in_flight(void **state)
{
	struct sts_req rq;
	struct cred base;
	struct outcome o;
	struct loop_timer t;
	char err[ERRBUF_LEN];
	int waited = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	memset(&t, 0, sizeof(t));
	demo_assume(&rq, &base, BASE_TOKEN, "mode-hang");
	assert_int_equal(sts_call(&rq, on_done, &o, err, sizeof(err)), 0);
	/* let it connect and send (the stand-in then holds it), then tear down */
	loop_timer_set(&t, 300, set_flag, &waited);
	assert_int_equal(loop_run_until(&waited), 0);
	json_decref(next_request());
	sts_cleanup();
	assert_int_equal(o.done, 0);
	assert_int_equal(setup(NULL), 0);	/* teardown cleans up again */
}

/* Run the loop until every outcome of o[0..n) is reported. */
static void
wait_all(struct outcome *o, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!o[i].done)
			assert_int_equal(loop_run_until(&o[i].done), 0);
}

/*
 * More calls than STS_CALLS_MAX: the rest wait (not refused) and all
 * complete, each reported once; past STS_QUEUE_MAX waiting, a call is
 * refused.
 */
static void
test_queue_beyond_cap(void **state)
{
	enum { N = STS_CALLS_MAX + STS_QUEUE_MAX };
	static struct outcome o[N], extra;
	struct sts_req rq;
	struct cred base;
	char err[ERRBUF_LEN];
	size_t i;

	(void)state;
	demo_assume(&rq, &base, BASE_TOKEN, "sess-queue");
	memset(o, 0, sizeof(o));
	memset(&extra, 0, sizeof(extra));
	for (i = 0; i < N; i++)
		assert_int_equal(sts_call(&rq, on_done, &o[i], err, sizeof(err)), 0);
	assert_int_equal(sts_call(&rq, on_done, &extra, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "waiting already"));
	/* the request was copied: changing what rq pointed to changes nothing */
	memset(&base, 0, sizeof(base));
	wait_all(o, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(o[i].got_r, 1);
		assert_int_equal(o[i].r.st_ok, 1);
	}
	assert_int_equal(extra.done, 0);
	for (i = 0; i < N; i++) {
		json_t *req = next_request();
		const char *auth = header(req, "Authorization");

		assert_non_null(auth);
		assert_non_null(strstr(auth, "Credential=" AKID "/"));
		json_decref(req);
	}
}

/* Cleanup with calls waiting: each is reported once; those in flight are not. */
static void
test_cleanup_waiting(void **state)
{
	enum { N = STS_CALLS_MAX + 2 };
	static struct outcome o[N];
	struct sts_req rq;
	struct cred base;
	char err[ERRBUF_LEN];
	size_t i;

	(void)state;
	demo_assume(&rq, &base, BASE_TOKEN, "sess-never");
	memset(o, 0, sizeof(o));
	for (i = 0; i < N; i++)
		assert_int_equal(sts_call(&rq, on_done, &o[i], err, sizeof(err)), 0);
	sts_cleanup();	/* before the loop ran: nothing was sent */
	for (i = 0; i < N; i++) {
		if (i < STS_CALLS_MAX) {
			assert_int_equal(o[i].done, 0);
			continue;
		}
		assert_int_equal(o[i].done, 1);
		assert_false(o[i].got_r);
		assert_non_null(strstr(o[i].err, "shutting down"));
	}
	assert_int_equal(setup(NULL), 0);	/* teardown cleans up again */
}

/* ---- STS providers on one shared base (creds_sts.c) ---------------------- */

/* A base provider that answers from the loop and counts its fetches. */
struct counting_base {
	int		 fetches;
	struct loop_timer timer;
	cred_done_fn	 done;
	void		*arg;
};

static void
counting_answer(void *arg)
{
	struct counting_base *cb = arg;
	struct cred c;

	base_cred(&c, BASE_TOKEN);
	c.cr_expiration = time(NULL) + 3600;
	cb->done(cb->arg, 1, &c, NULL);
}

static void
counting_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	struct counting_base *cb = cp->cp_ctx;

	(void)now;
	cb->fetches++;
	cb->done = done;
	cb->arg = arg;
	loop_timer_set(&cb->timer, 0, counting_answer, cb);
}

/* What a provider delivered. */
struct delivery {
	int		 done;
	int		 ok;
	char		 akid[CRED_AKID_MAX + 1];
	char		 err[ERRBUF_LEN];
};

static void
on_delivery(void *arg, int ok, const struct cred *c, const char *err)
{
	struct delivery *d = arg;

	assert_int_equal(d->done, 0);	/* exactly once */
	d->done = 1;
	d->ok = ok;
	if (ok)
		snprintf(d->akid, sizeof(d->akid), "%s", c->cr_akid);
	else
		snprintf(d->err, sizeof(d->err), "%s", err);
}

static void
fetch_wait(struct cred_provider *p, struct delivery *d)
{
	memset(d, 0, sizeof(*d));
	p->cp_fetch(p, time(NULL), on_delivery, d);
	assert_int_equal(loop_run_until(&d->done), 0);
	assert_int_equal(d->ok, 1);
	assert_string_equal(d->akid, "ASIAMINISTSRESULT001");
}

/*
 * Two roles assumed from one base: their fetches at once cause one base
 * fetch and two AssumeRole calls; a later fetch reuses the kept base
 * credential; once forgotten, the base is fetched again.
 */
static void
test_shared_base(void **state)
{
	static struct counting_base cb;
	struct cred_provider base = { .cp_name = "counting", .cp_desc = "a counting base",
	    .cp_fetch = counting_fetch, .cp_ctx = &cb };
	struct assume_step s1, s2;
	struct cred_provider *r1, *r2;
	struct cred_base *b;
	struct delivery d1, d2;
	char err[ERRBUF_LEN];
	const char *arns[2];
	json_t *req;
	int i;

	(void)state;
	memset(&cb, 0, sizeof(cb));
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	snprintf(s1.as_arn, sizeof(s1.as_arn), "arn:aws:iam::123456789012:role/one");
	snprintf(s1.as_session, sizeof(s1.as_session), "sess-one");
	snprintf(s2.as_arn, sizeof(s2.as_arn), "arn:aws:iam::123456789012:role/two");
	snprintf(s2.as_session, sizeof(s2.as_session), "sess-two");
	assert_int_equal(cred_base_new(&base, &b, err, sizeof(err)), 0);
	assert_int_equal(cred_provider_sts_on(b, &s1, 1, 0, 0, &r1, err, sizeof(err)), 0);
	assert_int_equal(cred_provider_sts_on(b, &s2, 1, 0, 0, &r2, err, sizeof(err)), 0);
	cred_base_unref(b);	/* the roles hold it */
	assert_ptr_equal(r1->cp_base, &base);

	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	r1->cp_fetch(r1, time(NULL), on_delivery, &d1);
	r2->cp_fetch(r2, time(NULL), on_delivery, &d2);
	assert_int_equal(loop_run_until(&d1.done), 0);
	assert_int_equal(loop_run_until(&d2.done), 0);
	assert_int_equal(d1.ok, 1);
	assert_int_equal(d2.ok, 1);
	assert_int_equal(cb.fetches, 1);
	assert_int_equal(cred_base_fetches(b), 1);
	/* two AssumeRole calls, signed with the one base credential */
	for (i = 0; i < 2; i++) {
		req = next_request();
		assert_non_null(strstr(header(req, "Authorization"), "Credential=" AKID "/"));
		arns[i] = strstr(json_string_value(json_object_get(req, "body")), "role%2Fone") ?
		    "one" : "two";
		json_decref(req);
	}
	assert_string_not_equal(arns[0], arns[1]);

	/* a later fetch: the kept base credential, no base fetch */
	fetch_wait(r1, &d1);
	assert_int_equal(cb.fetches, 1);
	json_decref(next_request());

	/* the files changed: forgotten, fetched again once */
	r2->cp_forget(r2);
	fetch_wait(r2, &d2);
	assert_int_equal(cb.fetches, 2);
	json_decref(next_request());

	r1->cp_free(r1);
	r2->cp_free(r2);	/* the last reference: the base goes (its cp_free is NULL) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_for),
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test_setup_teardown(test_assume_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assume_role_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assume_role_bad_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_token_no_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_from_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_beyond_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
