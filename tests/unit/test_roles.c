/*
 * Unit tests of roles.c: a role rendered as IMDS serves it (contract §8.6),
 * joined to the snapshot as a caller with that role sees it, the config's
 * meta-data/iam overlaid on it exactly as on the rest, and the registry
 * driving it: a credential refresh renders the role again and neither
 * builds a snapshot nor signs an identity document.  The build links with
 * --wrap for identity_sign and snapshot_build (Makefile), so both are
 * counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "imds/imds.h"
#include "tree_assert.h"

#define NOW		1748854541	/* 2025-06-02T08:55:41Z */
#define ROLE		"dev-instance-role"
#define IAM		"meta-data/iam"
#define CREDS		IAM "/security-credentials/" ROLE

/* ---- counting what is expensive ------------------------------------------ */

static int signs, builds;

int		 __real_identity_sign(const char *doc, size_t len, struct identity_sigs *out,
		    char *err, size_t errlen);
int		 __wrap_identity_sign(const char *doc, size_t len, struct identity_sigs *out,
		    char *err, size_t errlen);
struct snapshot	*__real_snapshot_build(const struct snapshot_input *in, char *err,
		    size_t errlen);
struct snapshot	*__wrap_snapshot_build(const struct snapshot_input *in, char *err,
		    size_t errlen);

int
__wrap_identity_sign(const char *doc, size_t len, struct identity_sigs *out, char *err,
    size_t errlen)
{
	signs++;
	return __real_identity_sign(doc, len, out, err, errlen);
}

struct snapshot *
__wrap_snapshot_build(const struct snapshot_input *in, char *err, size_t errlen)
{
	builds++;
	return __real_snapshot_build(in, err, errlen);
}

/* ---- an instance, its snapshot and a caller's role view ------------------- */

static struct instance inst;
static struct config cfg;
static struct snapshot *snap;
static struct role_view *rv;	/* the caller's; NULL: a caller without a role */
static struct cred cred;

static int
setup(void **state)
{
	char err[ERRBUF_LEN];

	(void)state;
	if (identity_init(NULL, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "identity_init: %s\n", err);
		return -1;
	}
	memset(&cred, 0, sizeof(cred));
	snprintf(cred.cr_akid, sizeof(cred.cr_akid), "ASIAIOSFODNN7EXAMPLE");
	snprintf(cred.cr_secret, sizeof(cred.cr_secret), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	snprintf(cred.cr_token, sizeof(cred.cr_token), "IQoJb3JpZ2luX2VjE+/=");
	cred.cr_last_updated = NOW + 1106;	/* 09:14:07 */
	cred.cr_expiration = NOW + 24070;	/* 15:36:51 */
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	identity_cleanup();
	return 0;
}

/* The snapshot of inst and cfg at now. */
static void
build_snapshot(time_t now)
{
	struct snapshot_input in;
	char err[ERRBUF_LEN];

	memset(&in, 0, sizeof(in));
	in.si_inst = &inst;
	in.si_cfg = &cfg;
	in.si_opt = (struct imds_options){ 1, 0, 1, 0 };
	in.si_now = now;
	snap = snapshot_build(&in, err, sizeof(err));
	if (snap == NULL)
		print_error("snapshot_build: %s\n", err);
	assert_non_null(snap);
}

/* The instance of cfgtext (NULL: none), its snapshot, and the role view of c. */
static void
serve(const char *cfgtext, const struct cred *c, int absent)
{
	struct role_view_input ri;
	char err[ERRBUF_LEN];

	config_init(&cfg);
	if (cfgtext != NULL)
		assert_int_equal(config_parse(cfgtext, strlen(cfgtext), "test.json", &cfg, err,
		    sizeof(err)), 0);
	instance_default(&inst, NOW);
	assert_int_equal(instance_apply_config(&inst, &cfg, err, sizeof(err)), 0);
	build_snapshot(NOW);
	memset(&ri, 0, sizeof(ri));
	ri.ri_inst = &inst;
	ri.ri_cfg = &cfg;
	ri.ri_name = inst.i_role;
	ri.ri_cred = c;
	ri.ri_absent = absent;
	ri.ri_now = NOW + 60;
	rv = role_view_build(&ri, err, sizeof(err));
	if (rv == NULL)
		print_error("role_view_build: %s\n", err);
	assert_non_null(rv);
}

static void
unserve(void)
{
	role_view_unref(rv);
	rv = NULL;
	snapshot_unref(snap);
	snap = NULL;
	config_free(&cfg);
}

static const struct md_node *
look(const struct role_view *v, const char *path)
{
	return roles_lookup(snap, v, path, strlen(path));
}

static void
assert_body(const struct role_view *v, const char *path, const char *want)
{
	assert_node_body(look(v, path), path, want);
}

static void
assert_absent(const struct role_view *v, const char *path)
{
	assert_node_absent(look(v, path), path);
}

/* The meta-data/ listing holds entry as a whole line. */
static int
listed(const struct role_view *v, const char *entry)
{
	const struct md_node *n = look(v, "meta-data");
	size_t k = strlen(entry);
	const char *p = n->n_body, *end = n->n_body + n->n_bodylen;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t len = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		if (len == k && memcmp(p, entry, k) == 0)
			return 1;
		p += len + 1;
	}
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

/* A caller with the role: its documents; a caller without: no iam/ (U14). */
static void
with_and_without_role(void **state)
{
	(void)state;
	serve(NULL, &cred, 1);
	assert_true(listed(rv, "iam/"));
	assert_body(rv, IAM, "info\nsecurity-credentials/");
	assert_body(rv, IAM "/security-credentials", ROLE);
	assert_body(rv, IAM "/info",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T09:14:07Z\",\n"
	    "  \"InstanceProfileArn\" : \"arn:aws:iam::123456789012:instance-profile/dev-instance-role\",\n"
	    "  \"InstanceProfileId\" : \"AIPAEXAMPLEID01234567\"\n"
	    "}");
	assert_body(rv, CREDS,
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T09:14:07Z\",\n"
	    "  \"Type\" : \"AWS-HMAC\",\n"
	    "  \"AccessKeyId\" : \"ASIAIOSFODNN7EXAMPLE\",\n"
	    "  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\n"
	    "  \"Token\" : \"IQoJb3JpZ2luX2VjE+/=\",\n"
	    "  \"Expiration\" : \"2025-06-02T15:36:51Z\"\n"
	    "}");
	assert_absent(rv, IAM "/security-credentials/other-role");
	assert_absent(rv, IAM "/security-credentials-extended");
	/* the instance's own leaves are the snapshot's */
	assert_ptr_equal(look(rv, "meta-data/instance-id"), look(NULL, "meta-data/instance-id"));
	assert_true(look(rv, "meta-data/identity-credentials/ec2") != NULL);

	/* without a role: nothing of it, and the rest the same */
	assert_false(listed(NULL, "iam/"));
	assert_absent(NULL, IAM);
	assert_absent(NULL, IAM "/info");
	assert_absent(NULL, CREDS);
	assert_true(listed(NULL, "instance-id"));
	assert_true(listed(NULL, "identity-credentials/"));

	/* Last-Modified: the later of the two */
	assert_string_equal(roles_last_modified(snap, rv), "Mon, 02 Jun 2025 08:56:41 GMT");
	assert_string_equal(roles_last_modified(snap, NULL), "Mon, 02 Jun 2025 08:55:41 GMT");
	unserve();
}

/* No credentials yet (or expired): iam/info answers, the role's leaf is 404. */
static void
credentials_absent(void **state)
{
	(void)state;
	serve(NULL, NULL, 1);
	assert_true(listed(rv, "iam/"));
	assert_body(rv, IAM, "info");
	assert_absent(rv, IAM "/security-credentials");
	assert_absent(rv, CREDS);
	/* without a credential, LastUpdated is when it was rendered */
	assert_non_null(strstr(look(rv, IAM "/info")->n_body,
	    "\"LastUpdated\" : \"2025-06-02T08:56:41Z\""));
	unserve();

	/* the §8.6 error form instead, when asked for */
	serve(NULL, NULL, 0);
	assert_body(rv, IAM "/security-credentials", ROLE);
	assert_body(rv, CREDS,
	    "{\n"
	    "  \"Code\" : \"AssumeRoleUnauthorizedAccess\",\n"
	    "  \"Message\" : \"EC2 cannot assume the role dev-instance-role.\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:41Z\"\n"
	    "}");
	unserve();
}

/*
 * The config's meta-data/iam is overlaid on the role's documents exactly
 * as on the rest of the tree, so a config that edits iam/ serves what it
 * served when the role was part of the snapshot.
 */
static void
config_edits_iam(void **state)
{
	(void)state;
	/* removed: neither listed nor served, with or without a role */
	serve("{\"meta-data\": {\"iam\": null}}", &cred, 1);
	assert_false(listed(rv, "iam/"));
	assert_false(listed(rv, "iam"));
	assert_absent(rv, IAM);
	assert_absent(rv, CREDS);
	assert_ptr_equal(look(rv, "meta-data"), look(NULL, "meta-data"));
	unserve();

	/* info replaced, the credentials kept */
	serve("{\"meta-data\": {\"iam\": {\"info\": \"custom\"}}}", &cred, 1);
	assert_body(rv, IAM, "info\nsecurity-credentials/");
	assert_body(rv, IAM "/info", "custom");
	assert_non_null(look(rv, CREDS));
	/* without a role only what the config put there */
	assert_true(listed(NULL, "iam/"));
	assert_body(NULL, IAM, "info");
	assert_body(NULL, IAM "/info", "custom");
	assert_absent(NULL, CREDS);
	unserve();

	/* another name beside the role's */
	serve("{\"meta-data\": {\"iam\": {\"security-credentials\": {\"extra\": \"x\"}}}}",
	    &cred, 1);
	assert_body(rv, IAM "/security-credentials", ROLE "\nextra");
	assert_body(rv, IAM "/security-credentials/extra", "x");
	assert_body(NULL, IAM "/security-credentials", "extra");
	unserve();

	/* the role's leaf removed: iam/ lists info alone */
	serve("{\"meta-data\": {\"iam\": {\"security-credentials\": {\"" ROLE "\": null}}}}",
	    &cred, 1);
	assert_body(rv, IAM, "info");
	assert_absent(rv, IAM "/security-credentials");
	assert_absent(rv, CREDS);
	unserve();

	/* both removed: iam/ empty, so not listed */
	serve("{\"meta-data\": {\"iam\": {\"info\": null, \"security-credentials\": null}}}",
	    &cred, 1);
	assert_false(listed(rv, "iam/"));
	assert_absent(rv, IAM);
	unserve();

	/* a leaf instead of the directory */
	serve("{\"meta-data\": {\"iam\": \"flat\"}}", &cred, 1);
	assert_true(listed(rv, "iam"));
	assert_false(listed(rv, "iam/"));
	assert_body(rv, IAM, "flat");
	assert_absent(rv, IAM "/info");
	assert_body(NULL, IAM, "flat");
	unserve();

	/* an object where info was: a directory */
	serve("{\"meta-data\": {\"iam\": {\"info\": {\"a\": \"b\"}}}}", &cred, 1);
	assert_body(rv, IAM "/info", "a");
	assert_body(rv, IAM "/info/a", "b");
	unserve();
}

/* The instance's facts reach the role's documents: partition and account. */
static void
facts_in_info(void **state)
{
	struct role_view_input ri;
	struct role_view *v;
	char err[ERRBUF_LEN];

	(void)state;
	serve("{\"meta-data\": {\"placement\": {\"availability-zone\": \"cn-north-1a\"}}}",
	    &cred, 1);
	assert_non_null(strstr(look(rv, IAM "/info")->n_body,
	    "\"arn:aws-cn:iam::123456789012:instance-profile/dev-instance-role\""));
	/* a role of another account, another name */
	memset(&ri, 0, sizeof(ri));
	ri.ri_inst = &inst;
	ri.ri_cfg = &cfg;
	ri.ri_name = "app";
	ri.ri_account = "210987654321";
	ri.ri_cred = &cred;
	ri.ri_absent = 1;
	ri.ri_now = NOW;
	v = role_view_build(&ri, err, sizeof(err));
	assert_non_null(v);
	assert_non_null(strstr(look(v, IAM "/info")->n_body,
	    "\"arn:aws-cn:iam::210987654321:instance-profile/app\""));
	assert_body(v, IAM "/security-credentials", "app");
	assert_absent(v, CREDS);
	role_view_unref(v);
	unserve();
}

/* A provider that answers at once with a new key each time. */
static int fetches;

static void
counting_fetch(struct cred_provider *cp, time_t t, cred_done_fn done, void *arg)
{
	struct cred c = cred;

	(void)cp;
	snprintf(c.cr_akid, sizeof(c.cr_akid), "ASIAFETCH%011d", ++fetches);
	c.cr_last_updated = t;
	c.cr_expiration = t + 3600;
	done(arg, 1, &c, NULL);
}

static struct cred_provider counting = {
	.cp_name = "counting",
	.cp_desc = "the test's provider",
	.cp_fetch = counting_fetch,
};
static struct cred_provider counting_pod = {
	.cp_name = "counting",
	.cp_desc = "the test's provider for a pod",
	.cp_fetch = counting_fetch,
};

static time_t clock_now;
static const struct role *who_pod;	/* the role of the pod at 10.0.0.7 */

/* The resolver's who: 10.0.0.7 a pod, 10.0.0.8 nobody known, else the node. */
static enum role_who
test_who(void *arg, const struct http_peer *pe, const struct role **r)
{
	(void)arg;
	*r = NULL;
	if (pe->pe_addr[3] == 7) {
		*r = who_pod;
		return WHO_ROLE;
	}
	return pe->pe_addr[3] == 8 ? WHO_UNKNOWN : WHO_NODE;
}

static time_t
test_clock(void)
{
	return clock_now;
}

/*
 * Through the registry: each refresh renders its role again and swaps the
 * view, and neither builds a snapshot nor signs a document.
 */
static void
refresh_builds_and_signs_nothing(void **state)
{
	struct roles_ctx ctx;
	struct role_registry rg;
	struct role_renderer rr;
	struct role *r, *pod;
	struct role_view *held, *got;
	struct roles_who who = { NULL, NULL, NULL };
	char err[ERRBUF_LEN], want[64];
	int i;

	(void)state;
	signs = builds = 0;
	serve(NULL, &cred, 1);
	assert_int_equal(builds, 1);
	assert_int_equal(signs, 1);
	role_view_unref(rv);
	rv = NULL;

	ctx.rc_inst = &inst;
	ctx.rc_cfg = &cfg;
	registry_init(&rg, NULL, NULL);
	roles_renderer(&rr, &ctx);
	registry_renderer(&rg, RENDER_IMDS, &rr);
	rg.rg_clock = test_clock;
	clock_now = NOW + 100;
	r = registry_add(&rg, ROLE_KEY_INSTANCE, inst.i_role, "", &counting, err, sizeof(err));
	assert_non_null(r);
	pod = registry_add(&rg, "pod-1", "app", "", &counting_pod, err, sizeof(err));
	assert_non_null(pod);
	struct http_peer peer = { .pe_family = AF_INET, .pe_addr = { 10, 0, 0, 7 }, .pe_port = 4711 };
	who.rw_node = r;
	assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_READY);
	assert_null(got);	/* nothing rendered yet */

	for (i = 1; i <= 3; i++) {
		clock_now = NOW + 100 * i;
		held = roles_view(r);
		role_view_ref(held);	/* a request in flight */
		registry_refresh(r, clock_now);
		assert_ptr_not_equal(roles_view(r), held);
		/* every caller gets the instance's role today */
		assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_READY);
		assert_ptr_equal(got, roles_view(r));
		snprintf(want, sizeof(want), "\"AccessKeyId\" : \"ASIAFETCH%011d\"", i);
		assert_non_null(strstr(look(roles_view(r), CREDS)->n_body, want));
		/* Last-Modified moves with the role, the snapshot stays */
		assert_string_equal(roles_last_modified(snap, roles_view(r)),
		    roles_view(r)->rv_lastmod_str);
		assert_int_equal(roles_view(r)->rv_last_modified, clock_now);
		assert_int_equal(snap->s_last_modified, NOW);
		if (held != NULL) {
			/* what the request points into is still there */
			snprintf(want, sizeof(want), "ASIAFETCH%011d", i - 1);
			assert_non_null(strstr(look(held, CREDS)->n_body, want));
		}
		role_view_unref(held);
	}
	/* pods: before its role's first fetch a pod's request waits; nobody's too */
	who.rw_who = test_who;
	who_pod = pod;
	assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_PENDING);
	assert_null(got);
	peer.pe_addr[3] = 8;
	assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_UNKNOWN);
	assert_null(got);
	peer.pe_addr[3] = 1;	/* the node */
	assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_READY);
	assert_ptr_equal(got, roles_view(r));
	who_pod = NULL;		/* a pod without a role: ready, no view */
	peer.pe_addr[3] = 7;
	got = roles_view(r);
	assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_READY);
	assert_null(got);
	who_pod = pod;

	/* another role, refreshed on its own: its own name, the instance's untouched */
	held = roles_view(r);
	registry_refresh(pod, clock_now);
	assert_ptr_equal(roles_view(r), held);
	assert_body(roles_view(pod), IAM "/security-credentials", "app");
	assert_non_null(strstr(look(roles_view(pod), IAM "/security-credentials/app")->n_body,
	    "ASIAFETCH00000000004"));
	assert_absent(roles_view(pod), CREDS);
	assert_int_equal(roles_resolve(&who, &peer, &got), ROLES_READY);
	assert_ptr_equal(got, roles_view(pod));	/* the pod's, not the node's */

	/* four refreshes: not one snapshot, not one signature */
	assert_int_equal(builds, 1);
	assert_int_equal(signs, 1);

	/* an instance change is what rebuilds and re-signs; the roles follow it */
	snapshot_unref(snap);
	build_snapshot(NOW + 1000);
	registry_render_all(&rg, snap->s_last_modified);
	assert_int_equal(builds, 2);
	assert_int_equal(signs, 2);
	assert_int_equal(roles_view(r)->rv_last_modified, NOW + 1000);
	assert_int_equal(roles_view(pod)->rv_last_modified, NOW + 1000);
	registry_free(&rg);
	unserve();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(with_and_without_role),
		cmocka_unit_test(credentials_absent),
		cmocka_unit_test(config_edits_iam),
		cmocka_unit_test(facts_in_info),
		cmocka_unit_test(refresh_builds_and_signs_nothing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
