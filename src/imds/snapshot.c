/*
 * snapshot.c: the snapshot, the per-version tree served to clients.
 *
 * snapshot_build generates it from the instance facts (instance.c;
 * contract §8, §9, §10), overlays the config's meta-data and dynamic trees
 * (but not the paths that are facts: instance_is_fact_path), signs the
 * identity document (identity.c, or the keys still on their way from
 * keygen.c: the signature leaves pending) and finalizes it.  Instance data
 * only: what a caller's role adds under iam/ is rendered per role
 * (roles.c) and joined to the snapshot per request.  Immutable once built;
 * refcounted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define ROOT_DEVICE		"/dev/xvda"
#define VHOSTMD_BODY		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define DOC_VERSION		"2017-09-30"
#define PATH_TAGS		"meta-data/tags"

/* ------------------------------------------------------------------ */
/* snapshot_build                                                      */
/* ------------------------------------------------------------------ */

/* A tree under construction; the first failure sticks, with its message. */
struct build {
	struct md_node	*b_root;
	int		 b_failed;
	unsigned	 b_sig_pending;	/* 1 << i: leaves[i] of gen_signatures awaits the keys */
	char		*b_err;
	size_t		 b_errlen;
	char		 b_path[MD_PATH_MAX + 1];
};

static const char	*bpath(struct build *b, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));

/* Format a path into b->b_path (NULL when it does not fit). */
static const char *
bpath(struct build *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->b_path, sizeof(b->b_path), fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < sizeof(b->b_path) ? b->b_path : NULL;
}

static void
bfail(struct build *b, const char *path)
{
	if (!b->b_failed)
		snprintf(b->b_err, b->b_errlen, "building %s: invalid name or out of memory",
		    path != NULL ? path : "a path");
	b->b_failed = 1;
}

static void
bsetn(struct build *b, const char *path, const char *val, size_t len)
{
	if (b->b_failed)
		return;
	if (path == NULL || tree_set(b->b_root, path, val, len) == -1)
		bfail(b, path);
}

static void
bset(struct build *b, const char *path, const char *val)
{
	bsetn(b, path, val, strlen(val));
}

/* A jbuf document into the tree; j is emptied either way (it may be secret). */
static void
bset_json(struct build *b, const char *path, struct jbuf *j)
{
	if (b->b_failed || path == NULL)
		jbuf_free(j);
	else if (tree_set_json(b->b_root, path, j) == 0)
		return;
	bfail(b, path);
}

/* identity-credentials/ec2/ (§8.7). */
static void
gen_identity_creds(struct build *b, const struct snapshot_input *in)
{
	const struct cred *c = in->si_ec2_cred;
	struct jbuf j;

	roles_info_begin(&j, c, in->si_now);
	json_str(&j, "AccountId", in->si_inst->i_account);
	json_end(&j);
	bset_json(b, "meta-data/identity-credentials/ec2/info", &j);
	if (c != NULL) {
		jbuf_init(&j);
		roles_cred_json(&j, c, in->si_now);
		bset_json(b, "meta-data/identity-credentials/ec2/security-credentials/"
		    "ec2-instance", &j);
	}
	jbuf_free(&j);
}

/* Strings of a JSON array (validated by config.c); *vals malloc'd. */
static int
jstrings(json_t *arr, const char ***vals, size_t *n)
{
	json_t *e;
	size_t i;

	*vals = NULL;
	*n = json_array_size(arr);
	if (*n == 0)
		return 0;
	if ((*vals = calloc(*n, sizeof(**vals))) == NULL)
		return -1;
	json_array_foreach(arr, i, e)
		(*vals)[i] = json_string_value(e);
	return 0;
}

/* meta-data/ from the facts (contract §8, §8.1, §8.1.1, §8.2, §8.3). */
static void
gen_meta(struct build *b, const struct snapshot_input *in)
{
	const struct instance *inst = in->si_inst;
	const char *mac = inst->i_mac, **sgs = NULL;
	size_t nsg = 0;
	json_t *sgv;

	bset(b, "meta-data/ami-id", inst->i_ami_id);
	bset(b, "meta-data/ami-launch-index", inst->i_ami_launch_index);
	bset(b, "meta-data/ami-manifest-path", inst->i_ami_manifest_path);
	bset(b, "meta-data/block-device-mapping/ami", ROOT_DEVICE);
	bset(b, "meta-data/block-device-mapping/root", ROOT_DEVICE);
	bset(b, "meta-data/events/maintenance/history", "[]");
	bset(b, "meta-data/events/maintenance/scheduled", "[]");
	bset(b, "meta-data/hostname", inst->i_local_hostname);
	gen_identity_creds(b, in);
	bset(b, "meta-data/instance-action", "none");
	bset(b, "meta-data/instance-id", inst->i_instance_id);
	bset(b, "meta-data/instance-life-cycle", "on-demand");
	bset(b, "meta-data/instance-type", inst->i_instance_type);
	bset(b, "meta-data/local-hostname", inst->i_local_hostname);
	bset(b, "meta-data/local-ipv4", inst->i_local_ipv4);
	bset(b, "meta-data/mac", mac);
	bset(b, "meta-data/metrics/vhostmd", VHOSTMD_BODY);
	bset(b, "meta-data/placement/availability-zone", inst->i_az);
	bset(b, "meta-data/placement/availability-zone-id", inst->i_az_id);
	bset(b, "meta-data/placement/region", inst->i_region);
	bset(b, "meta-data/profile", "default-hvm");
	/* empty when there is no public IPv4: dropped by tree_finalize */
	bset(b, "meta-data/public-hostname", inst->i_public_hostname);
	bset(b, "meta-data/public-ipv4", inst->i_public_ipv4);
	bset(b, "meta-data/reservation-id", inst->i_reservation_id);
	bset(b, "meta-data/services/domain", inst->i_domain);
	bset(b, "meta-data/services/partition", inst->i_partition);
	bset(b, "meta-data/system", "nitro");

	/* network/interfaces/macs/<mac>/ (§8.1.1) */
#define MACP(leaf)	bpath(b, "meta-data/network/interfaces/macs/%s/" leaf, mac)
	bset(b, MACP("device-number"), "0");
	bset(b, MACP("interface-id"), inst->i_eni_id);
	if (inst->i_public_ipv4[0] != '\0')
		bset(b, bpath(b, "meta-data/network/interfaces/macs/%s/ipv4-associations/%s",
		    mac, inst->i_public_ipv4), inst->i_local_ipv4);
	bset(b, MACP("local-hostname"), inst->i_local_hostname);
	bset(b, MACP("local-ipv4s"), inst->i_local_ipv4);
	bset(b, MACP("mac"), mac);
	bset(b, MACP("network-card-index"), "0");
	bset(b, MACP("owner-id"), inst->i_account);
	bset(b, MACP("public-hostname"), inst->i_public_hostname);
	bset(b, MACP("public-ipv4s"), inst->i_public_ipv4);
	bset(b, MACP("security-group-ids"), inst->i_sg_id);
	bset(b, MACP("subnet-id"), inst->i_subnet_id);
	bset(b, MACP("subnet-ipv4-cidr-block"), inst->i_subnet_cidr);
	bset(b, MACP("vpc-id"), inst->i_vpc_id);
	bset(b, MACP("vpc-ipv4-cidr-block"), inst->i_vpc_cidr);
	bset(b, MACP("vpc-ipv4-cidr-blocks"), inst->i_vpc_cidr);

	/*
	 * security-groups, at the top and for the ENI: the config's list when
	 * it gives one (the fact is only its first name), else the fact.
	 */
	sgv = in->si_cfg ? jpath(in->si_cfg->cf_meta, "security-groups") : NULL;
	if (json_is_array(sgv) && json_array_size(sgv) > 0) {
		if (!b->b_failed && (jstrings(sgv, &sgs, &nsg) == -1 ||
		    tree_set_list(b->b_root, "meta-data/security-groups", sgs, nsg) == -1 ||
		    tree_set_list(b->b_root, MACP("security-groups"), sgs, nsg) == -1))
			bfail(b, "meta-data/security-groups");
		free(sgs);
	} else {
		bset(b, "meta-data/security-groups", inst->i_sg_name);
		bset(b, MACP("security-groups"), inst->i_sg_name);
	}
#undef MACP
}

/*
 * A document member that is not a fact: the config's value when the
 * document object gives one, else the default (a string, or null).
 */
static void
doc_other(struct jbuf *j, json_t *doc, const char *key, const char *dflt, int list)
{
	json_t *v = json_is_object(doc) ? json_object_get(doc, key) : NULL;
	const char **vals;
	size_t n;

	if (v == NULL) {
		json_str(j, key, dflt);
	} else if (json_is_string(v)) {
		json_str(j, key, json_string_value(v));
	} else if (list && json_is_array(v)) {
		if (jstrings(v, &vals, &n) == -1) {
			j->jb_b.sb_full = 1;	/* out of memory: the document fails */
			return;
		}
		/* [] is printed as null, like no products at all */
		json_strarray(j, key, vals, n);
		free(vals);
	} else {
		json_null_member(j, key);
	}
}

/* dynamic/instance-identity/document (§9.1), member order fixed. */
static void
gen_document(struct build *b, const struct snapshot_input *in)
{
	const struct instance *inst = in->si_inst;
	json_t *doc = NULL;
	char pt[ISO_DATE_LEN + 1];
	struct jbuf j;

	if (in->si_cfg != NULL)
		doc = jpath(in->si_cfg->cf_dynamic, "instance-identity/document");
	fmt_iso8601(inst->i_pending_time, pt);
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "accountId", inst->i_account);
	json_str(&j, "architecture", inst->i_arch);
	json_str(&j, "availabilityZone", inst->i_az);
	doc_other(&j, doc, "billingProducts", NULL, 1);
	doc_other(&j, doc, "devpayProductCodes", NULL, 1);
	doc_other(&j, doc, "marketplaceProductCodes", NULL, 1);
	json_str(&j, "imageId", inst->i_ami_id);
	json_str(&j, "instanceId", inst->i_instance_id);
	json_str(&j, "instanceType", inst->i_instance_type);
	doc_other(&j, doc, "kernelId", NULL, 0);
	json_str(&j, "pendingTime", pt);
	json_str(&j, "privateIp", inst->i_local_ipv4);
	doc_other(&j, doc, "ramdiskId", NULL, 0);
	json_str(&j, "region", inst->i_region);
	doc_other(&j, doc, "version", DOC_VERSION, 0);
	json_end(&j);
	bset_json(b, PATH_DOCUMENT, &j);
	jbuf_free(&j);
}

static void	 overlay(struct build *b, json_t *obj, char *path, size_t plen);

/*
 * Overlay one config value v at path (plen bytes, the whole path; the
 * buffer has room for MD_PATH_MAX): a string or an array sets a leaf, an
 * object recurses (a leaf in the way becomes a directory), null removes.
 * Skipped: meta-data/tags (gen_tags), the document-as-object exception, and
 * the fact paths.
 */
static void
overlay_value(struct build *b, json_t *v, char *path, size_t plen)
{
	const char **vals;
	size_t n;

	if (strcmp(path, PATH_TAGS) == 0 ||
	    (strcmp(path, PATH_DOCUMENT) == 0 && json_is_object(v))) {
		/* handled elsewhere */
	} else if (json_is_object(v)) {
		if (tree_mkdir(b->b_root, path) == -1)
			bfail(b, path);
		else
			overlay(b, v, path, plen);
	} else if (json_is_string(v)) {
		if (!instance_is_fact_path(path))
			bsetn(b, path, json_string_value(v), json_string_length(v));
	} else if (json_is_array(v)) {
		if (!instance_is_fact_path(path)) {
			if (jstrings(v, &vals, &n) == -1 ||
			    tree_set_list(b->b_root, path, vals, n) == -1)
				bfail(b, path);
			free(vals);
		}
	} else if (json_is_null(v)) {
		tree_remove(b->b_root, path);
	}
}

/* Overlay each member of a config object at path (path[0..plen) holds the prefix). */
static void
overlay(struct build *b, json_t *obj, char *path, size_t plen)
{
	const char *k;
	json_t *v;
	size_t klen;

	json_object_foreach(obj, k, v) {
		if (b->b_failed)
			return;
		klen = strlen(k);
		if (plen + 1 + klen > MD_PATH_MAX) {	/* config.c refuses these */
			bfail(b, path);
			return;
		}
		path[plen] = '/';
		memcpy(path + plen + 1, k, klen + 1);
		overlay_value(b, v, path, plen + 1 + klen);
		path[plen] = '\0';
	}
}

int
snapshot_overlay(struct md_node *root, const struct config *cfg, const char *path,
    char *err, size_t errlen)
{
	static const char meta[] = "meta-data/", dyn[] = "dynamic/";
	struct build *b;
	json_t *v;
	size_t len = strlen(path);
	int rc;

	if (cfg == NULL)
		return 0;
	if (strncmp(path, meta, sizeof(meta) - 1) == 0)
		v = jpath(cfg->cf_meta, path + sizeof(meta) - 1);
	else if (strncmp(path, dyn, sizeof(dyn) - 1) == 0)
		v = jpath(cfg->cf_dynamic, path + sizeof(dyn) - 1);
	else
		v = NULL;
	if (v == NULL)
		return 0;	/* the config says nothing there */
	if (len > MD_PATH_MAX) {
		snprintf(err, errlen, "overlay: path too long");
		return -1;
	}
	/* about 1 KiB of path: on the heap, as snapshot_build's */
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "overlay: out of memory");
		return -1;
	}
	b->b_root = root;
	b->b_err = err;
	b->b_errlen = errlen;
	memcpy(b->b_path, path, len + 1);
	overlay_value(b, v, b->b_path, len);
	rc = b->b_failed ? -1 : 0;
	free(b);
	return rc;
}

/* One tag leaf, served even when its value is empty. */
static void
btag(struct build *b, const char *key, const char *val, size_t len)
{
	const char *p = bpath(b, "meta-data/tags/instance/%s", key);

	bsetn(b, p, val, len);
	if (!b->b_failed && tree_keep_empty(b->b_root, p) == -1)
		bfail(b, p);
}

/*
 * tags/instance/<key> (§8.5): only when enabled; empty values are served.
 * The config's tags, then the control socket's edits over them.
 */
static void
gen_tags(struct build *b, const struct snapshot_input *in)
{
	json_t *tags = in->si_cfg ? jpath(in->si_cfg->cf_meta, "tags/instance") : NULL, *v;
	const struct life_tag *t;
	const char *k;
	size_t i;

	tree_remove(b->b_root, PATH_TAGS);
	if (!in->si_opt.o_tags_enabled)
		return;
	if (json_is_object(tags)) {
		json_object_foreach(tags, k, v) {
			if (!json_is_string(v))
				continue;	/* null: no such tag */
			btag(b, k, json_string_value(v), json_string_length(v));
		}
	}
	for (i = 0; in->si_life != NULL && i < in->si_life->l_ntags; i++) {
		t = &in->si_life->l_tags[i];
		if (!t->tg_removed)
			btag(b, t->tg_key, t->tg_value, strlen(t->tg_value));
		else if (bpath(b, "meta-data/tags/instance/%s", t->tg_key) != NULL)
			tree_remove(b->b_root, b->b_path);
	}
}

/* life_emit's setter: one leaf into the tree. */
static int
life_set(void *arg, const char *path, const char *val, size_t len)
{
	struct build *b = arg;

	bsetn(b, path, val, len);
	return b->b_failed ? -1 : 0;
}

/*
 * spot/, events/, autoscaling/ and instance-life-cycle from the life cycle
 * (§8.3, §8.4), over gen_meta's defaults and under the config's overlay.
 */
static void
gen_life(struct build *b, const struct snapshot_input *in)
{
	if (in->si_life != NULL && !b->b_failed &&
	    life_emit(in->si_life, in->si_now, life_set, b) == -1)
		bfail(b, "the life cycle's entries");
}

/* The signature leaves of dynamic/instance-identity/ (§9.2), in identity_sigs' order. */
static const char *const sig_leaves[SNAP_SIG_LEAVES] = { "signature", "pkcs7", "rsa2048" };

/*
 * signature, pkcs7 and rsa2048 (§9.2) over the document exactly as served,
 * i.e. after the overlay.  A signature leaf the config sets (or removes)
 * is left to the config.  Until the keys are there (keygen.c) the
 * leaves are listed but pending, empty: snapshot_build records them, a
 * request for one waits, and the snapshot is built again once they are.
 * When they will not come (identity_failure), the leaves are absent: the
 * listing changes once, and a request for one is answered 404.
 * 0 / -1 with err.
 */
static int
gen_signatures(struct build *b, const struct snapshot_input *in)
{
	json_t *idd = in->si_cfg ? jpath(in->si_cfg->cf_dynamic, "instance-identity") : NULL;
	const struct md_node *d;
	struct identity_sigs sigs;
	const char *body[SNAP_SIG_LEAVES], *path;
	size_t len[SNAP_SIG_LEAVES], i;
	int ready = identity_ready();

	d = tree_lookup(b->b_root, PATH_DOCUMENT, strlen(PATH_DOCUMENT));
	if (d == NULL || d->n_dir || d->n_bodylen == 0 || (!ready && identity_failure() != NULL)) {
		keygen_offer(NULL, 0);
		return 0;	/* no document, nothing to sign (or nothing to sign with) */
	}
	if (!ready)	/* the key generator signs it too */
		keygen_offer(d->n_body, d->n_bodylen);
	if (ready && identity_sign(d->n_body, d->n_bodylen, &sigs, b->b_err, b->b_errlen) == -1)
		return -1;
	/* d is not used past this point: inserting siblings may move it */
	body[0] = ready ? sigs.is_signature : "";
	len[0] = ready ? sigs.is_signature_len : 0;
	body[1] = ready ? sigs.is_pkcs7 : "";
	len[1] = ready ? sigs.is_pkcs7_len : 0;
	body[2] = ready ? sigs.is_rsa2048 : "";
	len[2] = ready ? sigs.is_rsa2048_len : 0;
	for (i = 0; i < SNAP_SIG_LEAVES; i++) {
		if (json_is_object(idd) && json_object_get(idd, sig_leaves[i]) != NULL)
			continue;
		path = bpath(b, "dynamic/instance-identity/%s", sig_leaves[i]);
		bsetn(b, path, body[i], len[i]);
		if (!ready && !b->b_failed) {
			/* listed while pending: the listing does not change when they come */
			if (tree_keep_empty(b->b_root, path) == -1)
				bfail(b, "dynamic/instance-identity");
			b->b_sig_pending |= 1u << i;
		}
	}
	if (ready)
		identity_sigs_free(&sigs);
	return b->b_failed ? -1 : 0;
}

/* Point s at the finalized leaves gen_signatures left pending. */
static void
sig_pending_record(struct snapshot *s, const struct build *b)
{
	char path[sizeof(PATH_DOCUMENT) + MD_NAME_MAX];
	const struct md_node *n;
	size_t i;
	int len;

	for (i = 0; i < SNAP_SIG_LEAVES; i++) {
		if (!(b->b_sig_pending & (1u << i)))
			continue;
		len = snprintf(path, sizeof(path), "dynamic/instance-identity/%s", sig_leaves[i]);
		if ((n = tree_lookup(b->b_root, path, (size_t)len)) != NULL && !n->n_dir)
			s->s_sig_pending[s->s_nsig_pending++] = n;
	}
}

int
snapshot_sig_pending(const struct snapshot *s, const struct md_node *n)
{
	size_t i;

	for (i = 0; i < s->s_nsig_pending; i++)
		if (s->s_sig_pending[i] == n)
			return 1;
	return 0;
}

struct snapshot *
snapshot_build(const struct snapshot_input *in, char *err, size_t errlen)
{
	struct snapshot *s = NULL;
	struct build *b = NULL;
	const struct config *cfg = in->si_cfg;
	const struct md_node *n;

	if (in->si_inst == NULL) {
		snprintf(err, errlen, "snapshot: no instance");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || (b = calloc(1, sizeof(*b))) == NULL ||
	    (b->b_root = tree_new()) == NULL) {
		snprintf(err, errlen, "snapshot: out of memory");
		goto fail;
	}
	b->b_err = err;
	b->b_errlen = errlen;

	gen_meta(b, in);
	gen_life(b, in);
	gen_document(b, in);
	/* §10: user-data only when given and not empty, bytes verbatim */
	if (cfg != NULL && cfg->cf_user_data_set && cfg->cf_user_data_len > 0)
		bsetn(b, "user-data", cfg->cf_user_data, cfg->cf_user_data_len);
	if (cfg != NULL && json_is_object((json_t *)cfg->cf_meta)) {
		snprintf(b->b_path, sizeof(b->b_path), "meta-data");
		overlay(b, cfg->cf_meta, b->b_path, strlen(b->b_path));
	}
	if (cfg != NULL && json_is_object((json_t *)cfg->cf_dynamic)) {
		snprintf(b->b_path, sizeof(b->b_path), "dynamic");
		overlay(b, cfg->cf_dynamic, b->b_path, strlen(b->b_path));
	}
	gen_tags(b, in);
	if (b->b_failed || gen_signatures(b, in) == -1)
		goto fail;
	if (tree_finalize(b->b_root) == -1) {
		snprintf(err, errlen, "snapshot: a listing is too long, or out of memory");
		goto fail;
	}
	/* meta-data/ as listed to a caller whose role has an iam/ (roles.c) */
	n = tree_lookup(b->b_root, PATH_META, sizeof(PATH_META) - 1);
	if (n != NULL && n->n_dir) {
		s->s_meta_iam.n_dir = 1;
		if ((s->s_meta_iam.n_body = tree_listing_with_dir(n, "iam", 3,
		    &s->s_meta_iam.n_bodylen)) == NULL) {
			snprintf(err, errlen, "snapshot: meta-data's listing is too long, or out "
			    "of memory");
			goto fail;
		}
	}
	sig_pending_record(s, b);
	s->s_root = b->b_root;
	b->b_root = NULL;
	s->s_opt = in->si_opt;
	s->s_last_modified = in->si_now;
	fmt_imf_date(in->si_now, s->s_lastmod_str);
	s->s_refs = 1;
	free(b);
	return s;
fail:
	if (b != NULL)
		tree_free(b->b_root);
	free(b);
	if (s != NULL)
		free(s->s_meta_iam.n_body);
	free(s);
	return NULL;
}

void
snapshot_ref(struct snapshot *s)
{
	if (s != NULL)
		s->s_refs++;
}

/* At the last reference: tree_free wipes every body (credentials) first. */
void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL || !ref_drop(&s->s_refs))
		return;
	tree_free(s->s_root);
	free(s->s_meta_iam.n_body);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
