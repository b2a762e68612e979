/*
 * roles.c: a role as IMDS serves it, and how it joins the snapshot.
 *
 * The snapshot (snapshot.c) holds the instance only.  What a role adds to
 * meta-data/ (contract §8.6: iam/info and iam/security-credentials/<name>)
 * is rendered here, once per change of the role's credentials (the
 * registry, creds/registry.c, calls roles_render), into a small tree of its
 * own: its bodies and listings are ready bytes, and refcounted like the
 * snapshot.  The config's meta-data/iam entries are overlaid on it exactly
 * as snapshot_build overlays the rest of the config, so a config that edits
 * iam/ reads the same as before roles were apart.
 *
 * A request sees its caller's role view joined to the snapshot
 * (roles_lookup): meta-data/iam and below from the role view, meta-data/'s
 * listing with iam/ in it, everything else from the snapshot.  Without a
 * role view it sees the snapshot alone, where iam/ holds only what the
 * config put there.
 *
 * Last-Modified is the later of the two: a caller's view changed when
 * either part of it did.  With one role this is the time of the last
 * change of anything, as when credentials were baked into the snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define ROLE_ERROR_CODE		"AssumeRoleUnauthorizedAccess"
#define PATH_IAM		"meta-data/iam"

/* §8.6 credentials document (also §8.7's ec2-instance). */
void
roles_cred_json(struct jbuf *j, const struct cred *c, time_t now)
{
	char lu[ISO_DATE_LEN + 1], ex[ISO_DATE_LEN + 1];

	fmt_iso8601(c->cr_last_updated ? c->cr_last_updated : now, lu);
	/* a source without an expiry: the lifetime EC2's own credentials have */
	fmt_iso8601(c->cr_expiration ? c->cr_expiration : now + CRED_LIFETIME_EXAMPLE, ex);
	json_begin(j);
	json_str(j, "Code", "Success");
	json_str(j, "LastUpdated", lu);
	json_str(j, "Type", "AWS-HMAC");
	json_str(j, "AccessKeyId", c->cr_akid);
	json_str(j, "SecretAccessKey", c->cr_secret);
	json_str(j, "Token", c->cr_token);
	json_str(j, "Expiration", ex);
	json_end(j);
}

/* An info document's first members (§8.6 iam/info, §8.7 ec2/info); c may be NULL. */
void
roles_info_begin(struct jbuf *j, const struct cred *c, time_t now)
{
	char lu[ISO_DATE_LEN + 1];

	fmt_iso8601(c != NULL && c->cr_last_updated ? c->cr_last_updated : now, lu);
	jbuf_init(j);
	json_begin(j);
	json_str(j, "Code", "Success");
	json_str(j, "LastUpdated", lu);
}

/* iam/: info and security-credentials/<name> (§8.6).  0 / -1 with err. */
static int
gen_iam(struct md_node *root, const struct role_view_input *in, char *err, size_t errlen)
{
	const struct instance *inst = in->ri_inst;
	const struct cred *c = in->ri_cred;
	const char *account = in->ri_account != NULL && in->ri_account[0] != '\0' ?
	    in->ri_account : inst->i_account;
	char lu[ISO_DATE_LEN + 1], arn[3 * FACT_MAX + 64], msg[ERRBUF_LEN];
	char path[MD_PATH_MAX + 1];
	struct jbuf j;
	int n;

	snprintf(arn, sizeof(arn), "arn:%s:iam::%s:instance-profile/%s", inst->i_partition,
	    account, in->ri_name);
	roles_info_begin(&j, c, in->ri_now);
	json_str(&j, "InstanceProfileArn", arn);
	json_str(&j, "InstanceProfileId", inst->i_profile_id);
	json_end(&j);
	if (tree_set_json(root, PATH_IAM "/info", &j) == -1)
		goto fail;

	/* no credentials to serve (expired, not fetched yet): the leaf is absent */
	if (c == NULL && in->ri_absent)
		return 0;
	n = snprintf(path, sizeof(path), PATH_IAM "/security-credentials/%s", in->ri_name);
	if (n < 0 || (size_t)n >= sizeof(path))
		goto fail;
	jbuf_init(&j);
	if (c != NULL) {
		roles_cred_json(&j, c, in->ri_now);
	} else {
		/* the error form: still 200, Code not Success (§8.6) */
		if (in->ri_error != NULL && in->ri_error[0] != '\0')
			snprintf(msg, sizeof(msg), "%s", in->ri_error);
		else
			snprintf(msg, sizeof(msg), "EC2 cannot assume the role %s.", in->ri_name);
		fmt_iso8601(in->ri_now, lu);
		json_begin(&j);
		json_str(&j, "Code", ROLE_ERROR_CODE);
		json_str(&j, "Message", msg);
		json_str(&j, "LastUpdated", lu);
		json_end(&j);
	}
	if (tree_set_json(root, path, &j) == -1)
		goto fail;
	return 0;
fail:
	jbuf_free(&j);
	snprintf(err, errlen, "role %s: invalid name or out of memory", in->ri_name);
	return -1;
}

struct role_view *
role_view_build(const struct role_view_input *in, char *err, size_t errlen)
{
	struct role_view *rv;
	const struct md_node *iam;

	if (in->ri_inst == NULL || in->ri_name == NULL) {
		snprintf(err, errlen, "role: no instance or no name");
		return NULL;
	}
	if ((rv = calloc(1, sizeof(*rv))) == NULL || (rv->rv_root = tree_new()) == NULL) {
		snprintf(err, errlen, "role: out of memory");
		free(rv);
		return NULL;
	}
	/* a role without a name lists nothing of its own; the config's iam/ still shows */
	if ((in->ri_name[0] != '\0' && gen_iam(rv->rv_root, in, err, errlen) == -1) ||
	    snapshot_overlay(rv->rv_root, in->ri_cfg, PATH_IAM, err, errlen) == -1)
		goto fail;
	if (tree_finalize(rv->rv_root) == -1) {
		snprintf(err, errlen, "role %s: a listing is too long, or out of memory",
		    in->ri_name);
		goto fail;
	}
	iam = tree_lookup(rv->rv_root, PATH_IAM, sizeof(PATH_IAM) - 1);
	rv->rv_iam_dir = iam != NULL && iam->n_dir;
	rv->rv_last_modified = in->ri_now;
	fmt_imf_date(in->ri_now, rv->rv_lastmod_str);
	rv->rv_refs = 1;
	return rv;
fail:
	tree_free(rv->rv_root);
	free(rv);
	return NULL;
}

void
role_view_ref(struct role_view *rv)
{
	if (rv != NULL)
		rv->rv_refs++;
}

int
ref_drop(unsigned *refs)
{
	if (*refs > 1) {
		(*refs)--;
		return 0;
	}
	return 1;
}

/* At the last reference: tree_free wipes every body (credentials) first. */
void
role_view_unref(struct role_view *rv)
{
	if (rv == NULL || !ref_drop(&rv->rv_refs))
		return;
	tree_free(rv->rv_root);
	explicit_bzero(rv, sizeof(*rv));
	free(rv);
}

struct role_view *
roles_render(void *arg, const struct role *r, time_t now)
{
	const struct roles_ctx *ctx = arg;
	const struct cred_cache *cc = &r->ro_cache;
	struct role_view_input in;
	struct role_view *rv;
	struct cred c;
	char err[ERRBUF_LEN];

	memset(&in, 0, sizeof(in));
	in.ri_inst = ctx->rc_inst;
	in.ri_cfg = ctx->rc_cfg;
	in.ri_name = r->ro_name;
	in.ri_account = r->ro_account;
	if (cc->cc_have) {
		cred_kept_get(&cc->cc_cur, &c);
		in.ri_cred = &c;
	}
	in.ri_absent = 1;	/* no credential: 404, and the log says why */
	in.ri_error = cred_cache_error(cc);
	in.ri_now = now;
	if ((rv = role_view_build(&in, err, sizeof(err))) == NULL)
		log_err("rendering the role %s: %s", r->ro_name, err);
	if (cc->cc_have)
		cred_wipe(&c);
	return rv;
}

static void *
render_any(void *arg, const struct role *r, time_t now)
{
	return roles_render(arg, r, now);
}

static void
unref_any(void *v)
{
	role_view_unref(v);
}

void
roles_renderer(struct role_renderer *rr, struct roles_ctx *ctx)
{
	memset(rr, 0, sizeof(*rr));
	rr->rr_render = render_any;
	rr->rr_unref = unref_any;
	rr->rr_arg = ctx;
}

struct role_view *
roles_view(const struct role *r)
{
	return r->ro_views[RENDER_IMDS];
}

enum roles_answer
roles_resolve(void *arg, const struct http_peer *peer, struct role_view **rv)
{
	const struct roles_who *w = arg;
	const struct role *r = w->rw_node;

	*rv = NULL;
	if (w->rw_who != NULL) {
		switch (w->rw_who(w->rw_arg, peer, &r)) {
		case WHO_UNKNOWN:
			return ROLES_UNKNOWN;
		case WHO_NODE:
			r = w->rw_node;
			break;
		case WHO_ROLE:
			if (r == NULL)
				return ROLES_READY;	/* a pod without a role */
			if (!r->ro_cache.cc_fetched_once)
				return ROLES_PENDING;
			if (!r->ro_cache.cc_have)
				return ROLES_READY;	/* refused: as without a role */
			break;
		}
	}
	*rv = r != NULL ? roles_view(r) : NULL;
	return ROLES_READY;
}

const struct md_node *
roles_lookup(const struct snapshot *s, const struct role_view *rv, const char *path,
    size_t len)
{
	if (rv != NULL) {
		if (md_under(path, len, PATH_IAM, sizeof(PATH_IAM) - 1))
			return tree_lookup(rv->rv_root, path, len);
		if (len == sizeof(PATH_META) - 1 && memcmp(path, PATH_META, len) == 0 &&
		    rv->rv_iam_dir && s->s_meta_iam.n_body != NULL)
			return &s->s_meta_iam;
	}
	return tree_lookup(s->s_root, path, len);
}

const char *
roles_last_modified(const struct snapshot *s, const struct role_view *rv)
{
	if (rv != NULL && rv->rv_last_modified > s->s_last_modified)
		return rv->rv_lastmod_str;
	return s->s_lastmod_str;
}
