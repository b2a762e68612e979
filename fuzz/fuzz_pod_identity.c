/*
 * libFuzzer target: the EKS Pod Identity handler (container/pod_identity.c)
 * on whatever parses as a request: the route, the Host as the agent splits
 * it, the token's JWT checks (base64url, JSON, alg, exp/nbf), the verdict
 * cache.  The TokenReview and the role are made up: the first byte picks
 * the review's verdict (authenticated, not, failed) and the role's answer
 * (credentials, none, refused, waiting).  A deferred request is answered
 * after the verdict comes (and at its deadline).
 * Checked: every answer is one of the agent's statuses, the head fits and
 * ends the head, a 200 is the rendered Pod Identity body itself, an error
 * body ends with LF (Go's http.Error) unless it is the server's own 400,
 * bodies lie within readable memory; nothing is served before a verdict.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container/container.h"
#include "kube/kube.h"
#include "pods/pods.h"
#include "fuzz.h"

#define NOW	1748856028	/* fixed: runs are reproducible */

static struct instance inst;
static struct ctr_ctx ctx;
static struct role role;
static struct {
	int		 verdict;	/* 0 authenticated, 1 not, 2 failed */
	int		 role_rc;
	void		(*done)(void *, const struct kube_review *, const char *);
	void		*darg;
} fz;

static int
fz_review(void *arg, const char *token, size_t len, void (*done)(void *,
    const struct kube_review *, const char *), void *darg, struct kube_call **call, char *err,
    size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	FUZZ_CHECK(token != NULL && len > 0);
	fz.done = done;
	fz.darg = darg;
	*call = (struct kube_call *)&fz;
	return 0;
}

static void
fz_cancel(void *arg, struct kube_call *call)
{
	(void)arg;
	(void)call;
	fz.done = NULL;
}

static int
fz_role(void *arg, const char *uid, const char *name, const char *ns, const char *sa,
    time_t now, struct assumed **a, char *why, size_t whylen)
{
	(void)arg;
	(void)uid;
	(void)name;
	(void)ns;
	(void)sa;
	(void)now;
	if (fz.role_rc == POD_IDENTITY_ROLE)
		*a = (struct assumed *)&role;
	else
		snprintf(why, whylen, "made up");
	return fz.role_rc;
}

static void
fz_release(void *arg, struct assumed *a, time_t now)
{
	(void)arg;
	(void)now;
	FUZZ_CHECK(a == (struct assumed *)&role);
}

static const struct role *
fz_role_of(const struct assumed *a)
{
	FUZZ_CHECK(a == (const struct assumed *)&role);
	return &role;
}

static double
fz_clock(void)
{
	return NOW;
}

static const struct pi_ops ops = { fz_review, fz_cancel, fz_role, fz_release, fz_role_of,
	fz_clock, NULL, NULL };

static void
build_once(void)
{
	struct cred c;

	log_init(0, LOG_LVL_ERR);	/* the made-up failures' warnings: not on every run */
	memset(&inst, 0, sizeof(inst));
	snprintf(inst.i_partition, sizeof(inst.i_partition), "aws");
	snprintf(inst.i_account, sizeof(inst.i_account), "123456789012");
	ctx.cx_inst = &inst;
	snprintf(role.ro_name, sizeof(role.ro_name), "app");
	role.ro_cache.cc_have = 1;
	role.ro_cache.cc_fetched_once = 1;
	memset(&c, 0, sizeof(c));
	snprintf(c.cr_akid, sizeof(c.cr_akid), "ASIAFUZZPODIDENTITY1");
	snprintf(c.cr_secret, sizeof(c.cr_secret), "s");
	snprintf(c.cr_token, sizeof(c.cr_token), "t");
	c.cr_expiration = NOW + 3600;
	FUZZ_CHECK(cred_keep(&role.ro_cache.cc_cur, &c) == 0);
	role.ro_views[RENDER_CONTAINER] = ctr_render(&ctx, &role, NOW);
	FUZZ_CHECK(ctr_view_of(&role) != NULL && ctr_view_of(&role)->cv_have);
}

/* The review's verdict, as the first byte picked. */
static void
fz_verdict(void)
{
	struct kube_review r;
	void (*done)(void *, const struct kube_review *, const char *) = fz.done;

	fz.done = NULL;
	memset(&r, 0, sizeof(r));
	if (fz.verdict == 2) {
		done(fz.darg, NULL, "kube: TokenReview: made-up failure");
		return;
	}
	r.kr_authenticated = r.kr_audience_ok = r.kr_is_sa = fz.verdict == 0;
	snprintf(r.kr_namespace, sizeof(r.kr_namespace), "shop");
	snprintf(r.kr_sa, sizeof(r.kr_sa), "api");
	snprintf(r.kr_pod_uid, sizeof(r.kr_pod_uid), "uid-1");
	done(fz.darg, &r, NULL);
}

/* The statuses the agent answers with (and the server's own 400). */
static const int statuses[] = { 200, 400, 403, 404, 500, 503, 0 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char state[CTR_ERR_BODY_MAX + 64];
	static const int rcs[] = { POD_IDENTITY_ROLE, POD_IDENTITY_NONE, POD_IDENTITY_REFUSED,
		POD_IDENTITY_WAIT };
	struct http_peer peer = { .pe_family = 2, .pe_addr = { 10, 0, 0, 7 }, .pe_port = 1 };
	struct http_req req;
	struct http_call call = { &req, 0, &peer, 2000, "Mon, 02 Jun 2025 09:20:28 GMT" };
	char head[HTTP_RESP_HEAD_MAX];
	struct http_reply rp = { head, sizeof(head), 0, "", 0, 0 };
	const struct ctr_view *v;
	volatile unsigned char sum = 0;
	enum http_verdict hv;
	int status, reviewed = 0;
	size_t i;

	if (role.ro_views[RENDER_CONTAINER] == NULL)
		build_once();
	if (size < 1 || http_parse((const char *)data + 1, size - 1, &http_parse_limits_max,
	    &req) <= 0)
		return 0;
	FUZZ_CHECK(pod_identity_http_service.sv_state_size <= sizeof(state));
	memset(state, 0, sizeof(state));
	fz.verdict = data[0] % 3;
	fz.role_rc = rcs[(data[0] >> 2) % 4];
	fz.done = NULL;
	pod_identity_setup(&ops, (const char *const[]){ "127.0.0.1" }, 1, 0);
	while ((hv = pod_identity_http_service.sv_handle(state, &call, &rp)) == HTTP_DEFER) {
		FUZZ_CHECK(call.hc_status == 0);
		if (fz.done != NULL && !reviewed) {
			reviewed = 1;
			fz_verdict();
		} else
			call.hc_status = HTTP_DEFER_STATUS;	/* its deadline */
	}
	status = fuzz_head_status(head, rp.hr_headlen, statuses);
	v = ctr_view_of(&role);
	if (status == 200) {
		FUZZ_CHECK(reviewed && fz.verdict == 0 && fz.role_rc == POD_IDENTITY_ROLE);
		if (rp.hr_bodylen > 0)
			FUZZ_CHECK(rp.hr_body == v->cv_body[CTR_POD_IDENTITY] &&
			    rp.hr_bodylen == v->cv_len[CTR_POD_IDENTITY]);
	}
	for (i = 0; i < rp.hr_bodylen; i++)
		sum ^= (unsigned char)rp.hr_body[i];
	(void)sum;
	pod_identity_http_service.sv_release(state);
	pod_identity_stop();
	return 0;
}
