/*
 * test_instance.c: the default instance, config facts and derivation, and
 * the snapshot tree, byte for byte against the contract (§6-§10).  Paths
 * are looked up as a caller with the instance's role sees them: the
 * snapshot joined with the role's view (roles.c), as the server serves.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "imds/imds.h"
#include "tree_assert.h"
#include "contract_fixtures.h"

#define NOW		1748854541	/* 2025-06-02T08:55:41Z, §9.1's pendingTime */
#define EC2_UPDATED	1748854562	/* 2025-06-02T08:56:02Z, §8.7 */
#define ROLE_UPDATED	1748855647	/* 2025-06-02T09:14:07Z, §8.6 */
#define ROLE_EXPIRES	1748878611	/* 2025-06-02T15:36:51Z, §8.6 */
#define EC2_EXPIRES	1748876162	/* 2025-06-02T14:56:02Z */

#define MACDIR		"meta-data/network/interfaces/macs/0e:49:61:0f:c3:11"

/* §8: the default top-level listing, 25 entries, 312 bytes. */
static const char default_listing[] =
    "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nevents/\n"
    "hostname\niam/\nidentity-credentials/\ninstance-action\ninstance-id\n"
    "instance-life-cycle\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\nmetrics/\n"
    "network/\nplacement/\nprofile\npublic-hostname\npublic-ipv4\nreservation-id\n"
    "security-groups\nservices/\nsystem";

/* §8.1.1: the mac directory, 17 entries, 249 bytes. */
static const char default_mac_listing[] =
    "device-number\ninterface-id\nipv4-associations/\nlocal-hostname\nlocal-ipv4s\nmac\n"
    "network-card-index\nowner-id\npublic-hostname\npublic-ipv4s\nsecurity-group-ids\n"
    "security-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block\n"
    "vpc-ipv4-cidr-blocks";

static struct cred role_cred, ec2_cred;
static char host_arch[16];
static struct role_view *cur_rv;	/* the caller's role view: the last build's role */

static int
setup(void **state)
{
	char err[ERRBUF_LEN];
	struct utsname u;

	(void)state;
	if (identity_init(NULL, NULL, err, sizeof(err)) == -1) {
		fprintf(stderr, "identity_init: %s\n", err);
		return -1;
	}
	memset(&role_cred, 0, sizeof(role_cred));
	snprintf(role_cred.cr_akid, sizeof(role_cred.cr_akid), "ASIAIOSFODNN7EXAMPLE");
	snprintf(role_cred.cr_secret, sizeof(role_cred.cr_secret),
	    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	snprintf(role_cred.cr_token, sizeof(role_cred.cr_token), "IQoJb3JpZ2luX2VjE+/=");
	role_cred.cr_last_updated = ROLE_UPDATED;
	role_cred.cr_expiration = ROLE_EXPIRES;
	memset(&ec2_cred, 0, sizeof(ec2_cred));
	snprintf(ec2_cred.cr_akid, sizeof(ec2_cred.cr_akid), "ASIAEC2PLACEHOLDER00");
	snprintf(ec2_cred.cr_secret, sizeof(ec2_cred.cr_secret), "not/valid+upstream");
	ec2_cred.cr_last_updated = EC2_UPDATED;
	ec2_cred.cr_expiration = EC2_EXPIRES;
	assert_int_equal(uname(&u), 0);
	snprintf(host_arch, sizeof(host_arch), "%s",
	    strcmp(u.machine, "aarch64") == 0 ? "arm64" : "x86_64");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	role_view_unref(cur_rv);
	cur_rv = NULL;
	identity_cleanup();
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static const struct md_node *
look(const struct snapshot *s, const char *path)
{
	return roles_lookup(s, cur_rv, path, strlen(path));
}

/* Entries of a listing body (LF-separated, none after the last). */
static size_t
entries(const struct md_node *n)
{
	size_t i, k = n->n_bodylen > 0;

	for (i = 0; i < n->n_bodylen; i++)
		k += n->n_body[i] == '\n';
	return k;
}

static void
assert_body(const struct snapshot *s, const char *path, const char *want)
{
	assert_node_body(look(s, path), path, want);
}

static void
assert_absent(const struct snapshot *s, const char *path)
{
	assert_node_absent(look(s, path), path);
}

/*
 * Walk the finalized tree: every directory's listing names exactly its
 * children (sorted, '/' on directories, LF-separated, no trailing LF), and
 * no leaf is empty unless it is a kept tag value.
 */
static void
check_walk(const struct md_node *d)
{
	size_t i, off = 0;
	char *want = malloc(MD_BODY_MAX + 1);

	assert_non_null(want);
	assert_true(d->n_dir);
	assert_true(d->n_nkids > 0 || d->n_bodylen == 0);
	for (i = 0; i < d->n_nkids; i++) {
		const struct md_node *k = &d->n_kids[i];
		if (i > 0) {
			const struct md_node *p = &d->n_kids[i - 1];
			size_t m = p->n_namelen < k->n_namelen ? p->n_namelen : k->n_namelen;
			int c = memcmp(p->n_name, k->n_name, m);
			assert_true(c < 0 || (c == 0 && p->n_namelen < k->n_namelen));
			want[off++] = '\n';
		}
		assert_true(tree_name_ok(k->n_name, k->n_namelen));
		memcpy(want + off, k->n_name, k->n_namelen);
		off += k->n_namelen;
		if (k->n_dir) {
			want[off++] = '/';
			assert_true(k->n_nkids > 0);
			check_walk(k);
		} else {
			assert_true(k->n_bodylen > 0 || k->n_keep_empty);
		}
	}
	assert_int_equal(d->n_bodylen, off);
	assert_memory_equal(d->n_body, want, off);
	free(want);
}

/* Does any name anywhere under d start with prefix? */
static int
any_name(const struct md_node *d, const char *prefix)
{
	size_t i, n = strlen(prefix);

	for (i = 0; i < d->n_nkids; i++) {
		if (d->n_kids[i].n_namelen >= n && memcmp(d->n_kids[i].n_name, prefix, n) == 0)
			return 1;
		if (d->n_kids[i].n_dir && any_name(&d->n_kids[i], prefix))
			return 1;
	}
	return 0;
}

static void	 check_walk(const struct md_node *d);

/*
 * The caller's role from now on: inst's role rendered as the daemon renders
 * it (roles.c), with credential c or, without one, error's §8.6 error
 * form.  No role name: no role view.
 */
static void
set_role(const struct instance *inst, const struct config *cfg, const struct cred *c,
    const char *error, time_t now)
{
	struct role_view_input ri;
	char err[ERRBUF_LEN];

	role_view_unref(cur_rv);
	cur_rv = NULL;
	if (inst->i_role[0] == '\0')
		return;
	memset(&ri, 0, sizeof(ri));
	ri.ri_inst = inst;
	ri.ri_cfg = cfg;
	ri.ri_name = inst->i_role;
	ri.ri_cred = c;
	ri.ri_error = error;
	ri.ri_now = now;
	if ((cur_rv = role_view_build(&ri, err, sizeof(err))) == NULL)
		print_error("role: %s\n", err);
	assert_non_null(cur_rv);
	check_walk(cur_rv->rv_root);
}

/*
 * Default instance + config text (NULL: none) + options -> snapshot.  On a
 * config or fact error returns NULL with err; the config must parse.
 */
static struct snapshot *
build(const char *cfgtext, int tags, struct instance *out, char *err, size_t errlen)
{
	struct snapshot_input in;
	struct instance inst;
	struct config cfg;
	struct snapshot *s = NULL;

	role_view_unref(cur_rv);
	cur_rv = NULL;
	instance_default(&inst, NOW);
	config_init(&cfg);
	if (cfgtext != NULL && config_parse(cfgtext, strlen(cfgtext), "test.json", &cfg, err,
	    errlen) == -1) {
		print_error("config: %s\n", err);
		fail();
	}
	if (instance_apply_config(&inst, &cfg, err, errlen) == -1)
		goto done;
	memset(&in, 0, sizeof(in));
	in.si_inst = &inst;
	in.si_cfg = &cfg;
	in.si_opt.o_endpoint_enabled = 1;
	in.si_opt.o_hop_limit = 1;
	in.si_opt.o_tags_enabled = tags;
	in.si_ec2_cred = &ec2_cred;
	in.si_now = NOW;
	s = snapshot_build(&in, err, errlen);
	if (s != NULL) {
		check_walk(s->s_root);
		set_role(&inst, &cfg, &role_cred, NULL, NOW);
	}
	if (out != NULL)
		*out = inst;
done:
	config_free(&cfg);
	return s;
}

static struct snapshot *
build_ok(const char *cfgtext, int tags)
{
	char err[ERRBUF_LEN] = "";
	struct snapshot *s = build(cfgtext, tags, NULL, err, sizeof(err));

	if (s == NULL)
		print_error("build: %s\n", err);
	assert_non_null(s);
	return s;
}

static void
build_err(const char *cfgtext, const char *want)
{
	char err[ERRBUF_LEN] = "";

	assert_null(build(cfgtext, 0, NULL, err, sizeof(err)));
	assert_string_equal(err, want);
}

/* The §9.1 document with the host's architecture. */
static void
default_document(char *buf, size_t cap)
{
	snprintf(buf, cap,
	    CONTRACT_DOCUMENT("%s"), host_arch);
}

/* Signature bodies: base64, lines of at most 76, no trailing LF. */
static void
check_b64_body(const struct md_node *n)
{
	size_t i, col = 0;

	assert_non_null(n);
	assert_true(n->n_bodylen > 0);
	assert_true(n->n_body[n->n_bodylen - 1] != '\n');
	for (i = 0; i < n->n_bodylen; i++) {
		if (n->n_body[i] == '\n') {
			assert_int_equal(col, 76);
			col = 0;
			continue;
		}
		col++;
		assert_true(col <= 76);
	}
}

/* The pkcs7 body decodes to a SignedData that embeds exactly doc. */
static void
check_pkcs7_embeds(const struct snapshot *s, const char *leaf, const char *doc, size_t len)
{
	const struct md_node *n = look(s, leaf);
	unsigned char *flat, *der;
	size_t i, m = 0;
	int dl;

	check_b64_body(n);
	flat = malloc(n->n_bodylen + 1);
	der = malloc(n->n_bodylen);
	assert_non_null(flat);
	assert_non_null(der);
	for (i = 0; i < n->n_bodylen; i++)
		if (n->n_body[i] != '\n')
			flat[m++] = (unsigned char)n->n_body[i];
	dl = EVP_DecodeBlock(der, flat, (int)m);
	assert_true(dl > 0);
	assert_non_null(memmem(der, (size_t)dl, doc, len));
	free(flat);
	free(der);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_default_instance(void **state)
{
	struct instance in;

	(void)state;
	instance_default(&in, NOW);
	assert_string_equal(in.i_account, "123456789012");
	assert_string_equal(in.i_region, "us-east-1");
	assert_string_equal(in.i_az, "us-east-1a");
	assert_string_equal(in.i_az_id, "use1-az4");
	assert_string_equal(in.i_instance_id, "i-0123456789abcdef0");
	assert_string_equal(in.i_instance_type, "t3.micro");
	assert_string_equal(in.i_local_hostname, "ip-172-31-44-13.ec2.internal");
	assert_string_equal(in.i_public_hostname, "ec2-203-0-113-25.compute-1.amazonaws.com");
	assert_string_equal(in.i_role, "dev-instance-role");
	assert_string_equal(in.i_arch, host_arch);
	assert_int_equal(in.i_pending_time, NOW);
}

/* Derivation is stable: applying an empty config changes nothing. */
static void
test_apply_nothing(void **state)
{
	struct instance a, b;
	struct config cfg;
	char err[ERRBUF_LEN];

	(void)state;
	instance_default(&a, NOW);
	b = a;
	config_init(&cfg);
	assert_int_equal(instance_apply_config(&b, &cfg, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(instance_apply_config(&b, NULL, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_default_tree(void **state)
{
	struct snapshot *s = build_ok(NULL, 0);
	const struct md_node *root = s->s_root, *n;
	char doc[1024];

	(void)state;
	/* the per-version root: no user-data by default (§6) */
	assert_int_equal(root->n_nkids, 2);
	assert_body(s, "", "dynamic/\nmeta-data/");

	/* §8: 25 entries, 312 bytes */
	assert_int_equal(sizeof(default_listing) - 1, 312);
	assert_body(s, "meta-data", default_listing);
	assert_int_equal(entries(look(s, "meta-data")), 25);
	/* §8.1.1: 17 entries, 249 bytes */
	assert_int_equal(sizeof(default_mac_listing) - 1, 249);
	assert_body(s, MACDIR, default_mac_listing);

	/* §8.1's sub-listings */
	assert_body(s, "meta-data/block-device-mapping", "ami\nroot");
	assert_body(s, "meta-data/events", "maintenance/");
	assert_body(s, "meta-data/events/maintenance", "history\nscheduled");
	assert_body(s, "meta-data/iam", "info\nsecurity-credentials/");
	assert_body(s, "meta-data/identity-credentials", "ec2/");
	assert_body(s, "meta-data/identity-credentials/ec2", "info\nsecurity-credentials/");
	assert_body(s, "meta-data/identity-credentials/ec2/security-credentials", "ec2-instance");
	assert_body(s, "meta-data/metrics", "vhostmd");
	assert_body(s, "meta-data/network", "interfaces/");
	assert_body(s, "meta-data/network/interfaces", "macs/");
	assert_body(s, "meta-data/network/interfaces/macs", "0e:49:61:0f:c3:11/");
	assert_body(s, "meta-data/placement", "availability-zone\navailability-zone-id\nregion");
	assert_body(s, "meta-data/services", "domain\npartition");

	/* §8.1 leaves */
	assert_body(s, "meta-data/ami-id", "ami-0abcdef1234567890");
	assert_body(s, "meta-data/ami-launch-index", "0");
	assert_body(s, "meta-data/ami-manifest-path", "(unknown)");
	assert_body(s, "meta-data/block-device-mapping/ami", "/dev/xvda");
	assert_body(s, "meta-data/block-device-mapping/root", "/dev/xvda");
	assert_body(s, "meta-data/events/maintenance/history", "[]");
	assert_body(s, "meta-data/events/maintenance/scheduled", "[]");
	assert_body(s, "meta-data/hostname", "ip-172-31-44-13.ec2.internal");
	assert_body(s, "meta-data/instance-action", "none");
	assert_body(s, "meta-data/instance-id", "i-0123456789abcdef0");
	assert_body(s, "meta-data/instance-life-cycle", "on-demand");
	assert_body(s, "meta-data/instance-type", "t3.micro");
	assert_body(s, "meta-data/local-hostname", "ip-172-31-44-13.ec2.internal");
	assert_body(s, "meta-data/local-ipv4", "172.31.44.13");
	assert_body(s, "meta-data/mac", "0e:49:61:0f:c3:11");
	assert_body(s, "meta-data/metrics/vhostmd", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
	assert_body(s, "meta-data/placement/availability-zone", "us-east-1a");
	assert_body(s, "meta-data/placement/availability-zone-id", "use1-az4");
	assert_body(s, "meta-data/placement/region", "us-east-1");
	assert_body(s, "meta-data/profile", "default-hvm");
	assert_body(s, "meta-data/public-hostname", "ec2-203-0-113-25.compute-1.amazonaws.com");
	assert_body(s, "meta-data/public-ipv4", "203.0.113.25");
	assert_body(s, "meta-data/reservation-id", "r-0fedcba9876543210");
	assert_body(s, "meta-data/security-groups", "default");
	assert_body(s, "meta-data/services/domain", "amazonaws.com");
	assert_body(s, "meta-data/services/partition", "aws");
	assert_body(s, "meta-data/system", "nitro");

	/* §8.1.1 leaves */
	assert_body(s, MACDIR "/device-number", "0");
	assert_body(s, MACDIR "/interface-id", "eni-0f95d3625f5c521cc");
	assert_body(s, MACDIR "/ipv4-associations", "203.0.113.25");
	assert_body(s, MACDIR "/ipv4-associations/203.0.113.25", "172.31.44.13");
	assert_body(s, MACDIR "/local-hostname", "ip-172-31-44-13.ec2.internal");
	assert_body(s, MACDIR "/local-ipv4s", "172.31.44.13");
	assert_body(s, MACDIR "/mac", "0e:49:61:0f:c3:11");
	assert_body(s, MACDIR "/network-card-index", "0");
	assert_body(s, MACDIR "/owner-id", "123456789012");
	assert_body(s, MACDIR "/public-hostname", "ec2-203-0-113-25.compute-1.amazonaws.com");
	assert_body(s, MACDIR "/public-ipv4s", "203.0.113.25");
	assert_body(s, MACDIR "/security-group-ids", "sg-0b07f8f6cb485d4df");
	assert_body(s, MACDIR "/security-groups", "default");
	assert_body(s, MACDIR "/subnet-id", "subnet-0123abcd4567ef890");
	assert_body(s, MACDIR "/subnet-ipv4-cidr-block", "172.31.32.0/20");
	assert_body(s, MACDIR "/vpc-id", "vpc-0fedcba98765432a1");
	assert_body(s, MACDIR "/vpc-ipv4-cidr-block", "172.31.0.0/16");
	assert_body(s, MACDIR "/vpc-ipv4-cidr-blocks", "172.31.0.0/16");

	/* §8.6: iam/info is 204 bytes with the example values */
	assert_int_equal(look(s, "meta-data/iam/info")->n_bodylen, 204);
	assert_body(s, "meta-data/iam/info",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T09:14:07Z\",\n"
	    "  \"InstanceProfileArn\" : \"arn:aws:iam::123456789012:instance-profile/dev-instance-role\",\n"
	    "  \"InstanceProfileId\" : \"AIPAEXAMPLEID01234567\"\n"
	    "}");
	assert_body(s, "meta-data/iam/security-credentials", "dev-instance-role");
	assert_int_equal(look(s, "meta-data/iam/security-credentials")->n_bodylen, 17);
	assert_body(s, "meta-data/iam/security-credentials/dev-instance-role",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T09:14:07Z\",\n"
	    "  \"Type\" : \"AWS-HMAC\",\n"
	    "  \"AccessKeyId\" : \"ASIAIOSFODNN7EXAMPLE\",\n"
	    "  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\n"
	    "  \"Token\" : \"IQoJb3JpZ2luX2VjE+/=\",\n"
	    "  \"Expiration\" : \"2025-06-02T15:36:51Z\"\n"
	    "}");
	assert_absent(s, "meta-data/iam/security-credentials-extended");
	assert_absent(s, "meta-data/iam/security-credentials/other-role");

	/* §8.7: info is 98 bytes */
	assert_int_equal(look(s, "meta-data/identity-credentials/ec2/info")->n_bodylen, 98);
	assert_body(s, "meta-data/identity-credentials/ec2/info",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:02Z\",\n"
	    "  \"AccountId\" : \"123456789012\"\n"
	    "}");
	assert_body(s, "meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:02Z\",\n"
	    "  \"Type\" : \"AWS-HMAC\",\n"
	    "  \"AccessKeyId\" : \"ASIAEC2PLACEHOLDER00\",\n"
	    "  \"SecretAccessKey\" : \"not/valid+upstream\",\n"
	    "  \"Token\" : \"\",\n"
	    "  \"Expiration\" : \"2025-06-02T14:56:02Z\"\n"
	    "}");

	/* §9: dynamic/ and the 476-byte document */
	assert_body(s, "dynamic", "instance-identity/");
	assert_body(s, "dynamic/instance-identity", "document\npkcs7\nrsa2048\nsignature");
	default_document(doc, sizeof(doc));
	if (strcmp(host_arch, "x86_64") == 0)
		assert_int_equal(strlen(doc), 476);
	assert_body(s, "dynamic/instance-identity/document", doc);
	check_b64_body(look(s, "dynamic/instance-identity/signature"));
	check_pkcs7_embeds(s, "dynamic/instance-identity/pkcs7", doc, strlen(doc));
	check_pkcs7_embeds(s, "dynamic/instance-identity/rsa2048", doc, strlen(doc));

	/* absent by default */
	assert_absent(s, "user-data");
	assert_absent(s, "meta-data/tags");
	assert_absent(s, "meta-data/public-keys");
	assert_absent(s, "meta-data/spot");

	/* the snapshot's own fields, and the role's */
	assert_null(tree_lookup(s->s_root, "meta-data/iam", 13));
	assert_string_equal(cur_rv->rv_lastmod_str, "Mon, 02 Jun 2025 08:55:41 GMT");
	assert_int_equal(s->s_refs, 1);
	assert_int_equal(s->s_last_modified, NOW);
	assert_string_equal(s->s_lastmod_str, "Mon, 02 Jun 2025 08:55:41 GMT");
	assert_int_equal(s->s_opt.o_endpoint_enabled, 1);
	assert_int_equal(s->s_opt.o_hop_limit, 1);
	n = look(s, "meta-data/iam/info");
	assert_false(n->n_dir);
	snapshot_unref(s);
}

/* §8.6 error form when the role's credentials cannot be had. */
static void
test_role_error(void **state)
{
	struct snapshot_input in;
	struct instance inst;
	struct snapshot *s;
	char err[ERRBUF_LEN];

	(void)state;
	instance_default(&inst, NOW);
	memset(&in, 0, sizeof(in));
	in.si_inst = &inst;
	in.si_now = NOW + 60;
	in.si_ec2_cred = NULL;
	s = snapshot_build(&in, err, sizeof(err));
	assert_non_null(s);
	check_walk(s->s_root);
	set_role(&inst, NULL, NULL, "EC2 cannot assume the role dev-instance-role.", NOW + 60);
	assert_body(s, "meta-data/iam/security-credentials/dev-instance-role",
	    "{\n"
	    "  \"Code\" : \"AssumeRoleUnauthorizedAccess\",\n"
	    "  \"Message\" : \"EC2 cannot assume the role dev-instance-role.\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:41Z\"\n"
	    "}");
	/* info still answers; without a cred, LastUpdated is now */
	assert_body(s, "meta-data/iam/info",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:41Z\",\n"
	    "  \"InstanceProfileArn\" : \"arn:aws:iam::123456789012:instance-profile/dev-instance-role\",\n"
	    "  \"InstanceProfileId\" : \"AIPAEXAMPLEID01234567\"\n"
	    "}");
	/* no ec2 credential: info only */
	assert_body(s, "meta-data/identity-credentials/ec2", "info");
	/* no config: no user-data, no tags */
	assert_body(s, "", "dynamic/\nmeta-data/");
	assert_body(s, "meta-data/iam/security-credentials", "dev-instance-role");
	snapshot_unref(s);
}

/* No role: iam/ is neither listed nor served (§8.1, U14). */
static void
test_no_role(void **state)
{
	struct snapshot_input in;
	struct instance inst;
	struct snapshot *s;
	char err[ERRBUF_LEN];

	(void)state;
	instance_default(&inst, NOW);
	inst.i_role[0] = '\0';
	memset(&in, 0, sizeof(in));
	in.si_inst = &inst;
	in.si_now = NOW;
	in.si_ec2_cred = &ec2_cred;
	s = snapshot_build(&in, err, sizeof(err));
	assert_non_null(s);
	check_walk(s->s_root);
	set_role(&inst, NULL, &role_cred, NULL, NOW);
	assert_null(cur_rv);	/* no role, no role view */
	assert_absent(s, "meta-data/iam");
	assert_absent(s, "meta-data/iam/info");
	assert_int_equal(entries(look(s, "meta-data")), 24);
	assert_null(strstr(look(s, "meta-data")->n_body, "iam/"));
	snapshot_unref(s);
}

/* Overlay: leaf set, array joined, object merge, null removal. */
static void
test_config_merge(void **state)
{
	static const char cfg[] =
	    "{\"meta-data\": {\n"
	    "  \"custom\": \"value\",\n"
	    "  \"hostname\": \"my-host.example\",\n"
	    "  \"security-groups\": [\"web\", \"ssh\"],\n"
	    "  \"ancestor-ami-ids\": [\"ami-1\", \"ami-2\", \"ami-3\"],\n"
	    "  \"placement\": {\"group-name\": \"pg-1\", \"partition-number\": \"1\"},\n"
	    "  \"public-keys\": {\"0=my-key\": \"x\", \"0\": {\"openssh-key\": \"ssh-ed25519 AAAA my-key\"}},\n"
	    "  \"profile\": null,\n"
	    "  \"events\": {\"maintenance\": null},\n"
	    "  \"nothing-here\": null,\n"
	    "  \"system\": {\"kind\": \"nitro\"},\n"
	    "  \"empty-leaf\": \"\",\n"
	    "  \"empty-list\": [],\n"
	    "  \"empty-dir\": {},\n"
	    "  \"network\": {\"interfaces\": {\"macs\": {\"0e:49:61:0f:c3:11\": {\"ipv6s\": \"2001:db8::1\"}}}}\n"
	    "},\n"
	    "\"dynamic\": {\"fws\": {\"instance-monitoring\": \"disabled\"}}}";
	struct snapshot *s = build_ok(cfg, 0);

	(void)state;
	assert_body(s, "meta-data/custom", "value");
	/* hostname is overlaid; local-hostname keeps the derived name */
	assert_body(s, "meta-data/hostname", "my-host.example");
	assert_body(s, "meta-data/local-hostname", "ip-172-31-44-13.ec2.internal");
	/* lists, joined by LF; security groups also for the ENI */
	assert_body(s, "meta-data/security-groups", "web\nssh");
	assert_body(s, MACDIR "/security-groups", "web\nssh");
	assert_body(s, "meta-data/ancestor-ami-ids", "ami-1\nami-2\nami-3");
	/* object merge: placement keeps its three and gains two */
	assert_body(s, "meta-data/placement",
	    "availability-zone\navailability-zone-id\ngroup-name\npartition-number\nregion");
	assert_body(s, "meta-data/placement/region", "us-east-1");
	assert_body(s, "meta-data/public-keys", "0/\n0=my-key");
	assert_body(s, "meta-data/public-keys/0/openssh-key", "ssh-ed25519 AAAA my-key");
	assert_body(s, MACDIR "/ipv6s", "2001:db8::1");
	/* null removes, an emptied directory disappears */
	assert_absent(s, "meta-data/profile");
	assert_absent(s, "meta-data/events");
	assert_absent(s, "meta-data/nothing-here");
	/* an object turns a leaf into a directory */
	assert_body(s, "meta-data/system", "kind");
	/* empty values are not served */
	assert_absent(s, "meta-data/empty-leaf");
	assert_absent(s, "meta-data/empty-list");
	assert_absent(s, "meta-data/empty-dir");
	assert_body(s, "meta-data",
	    "ami-id\nami-launch-index\nami-manifest-path\nancestor-ami-ids\nblock-device-mapping/\n"
	    "custom\nhostname\niam/\nidentity-credentials/\ninstance-action\ninstance-id\n"
	    "instance-life-cycle\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\nmetrics/\n"
	    "network/\nplacement/\npublic-hostname\npublic-ipv4\npublic-keys/\nreservation-id\n"
	    "security-groups\nservices/\nsystem/");
	assert_body(s, "dynamic", "fws/\ninstance-identity/");
	assert_body(s, "dynamic/fws/instance-monitoring", "disabled");
	snapshot_unref(s);

	/* a single security group name */
	s = build_ok("{\"meta-data\": {\"security-groups\": \"web\"}}", 0);
	assert_body(s, "meta-data/security-groups", "web");
	assert_body(s, MACDIR "/security-groups", "web");
	snapshot_unref(s);
	/* removed at the top, kept for the ENI */
	s = build_ok("{\"meta-data\": {\"security-groups\": null}}", 0);
	assert_absent(s, "meta-data/security-groups");
	assert_body(s, MACDIR "/security-groups", "default");
	snapshot_unref(s);
}

/* The document-as-object exception: fields, not a directory. */
static void
test_document_object(void **state)
{
	static const char cfg[] =
	    "{\"dynamic\": {\"instance-identity\": {\"document\": {\n"
	    "  \"accountId\": \"210987654321\",\n"
	    "  \"architecture\": \"arm64\",\n"
	    "  \"pendingTime\": \"2025-06-01T00:00:00Z\",\n"
	    "  \"billingProducts\": [\"bp-6ba54002\"],\n"
	    "  \"marketplaceProductCodes\": [\"a\", \"b\"],\n"
	    "  \"kernelId\": \"aki-1\",\n"
	    "  \"instanceType\": \"m5.large\"\n"
	    "}}}}";
	struct snapshot *s = build_ok(cfg, 0);

	(void)state;
	assert_body(s, "dynamic/instance-identity", "document\npkcs7\nrsa2048\nsignature");
	assert_body(s, "dynamic/instance-identity/document",
	    "{\n"
	    "  \"accountId\" : \"210987654321\",\n"
	    "  \"architecture\" : \"arm64\",\n"
	    "  \"availabilityZone\" : \"us-east-1a\",\n"
	    "  \"billingProducts\" : [ \"bp-6ba54002\" ],\n"
	    "  \"devpayProductCodes\" : null,\n"
	    "  \"marketplaceProductCodes\" : [ \"a\", \"b\" ],\n"
	    "  \"imageId\" : \"ami-0abcdef1234567890\",\n"
	    "  \"instanceId\" : \"i-0123456789abcdef0\",\n"
	    "  \"instanceType\" : \"m5.large\",\n"
	    "  \"kernelId\" : \"aki-1\",\n"
	    "  \"pendingTime\" : \"2025-06-01T00:00:00Z\",\n"
	    "  \"privateIp\" : \"172.31.44.13\",\n"
	    "  \"ramdiskId\" : null,\n"
	    "  \"region\" : \"us-east-1\",\n"
	    "  \"version\" : \"2017-09-30\"\n"
	    "}");
	/* the facts reach meta-data too */
	assert_body(s, "meta-data/instance-type", "m5.large");
	assert_body(s, MACDIR "/owner-id", "210987654321");
	assert_body(s, "meta-data/identity-credentials/ec2/info",
	    "{\n"
	    "  \"Code\" : \"Success\",\n"
	    "  \"LastUpdated\" : \"2025-06-02T08:56:02Z\",\n"
	    "  \"AccountId\" : \"210987654321\"\n"
	    "}");
	assert_non_null(strstr(look(s, "meta-data/iam/info")->n_body,
	    "arn:aws:iam::210987654321:instance-profile/dev-instance-role"));
	snapshot_unref(s);

	/* meta-data and the document must agree */
	build_err("{\"meta-data\": {\"instance-id\": \"i-0aaaaaaaaaaaaaaaa\"}, \"dynamic\": "
	    "{\"instance-identity\": {\"document\": {\"instanceId\": \"i-0bbbbbbbbbbbbbbbb\"}}}}",
	    "dynamic/instance-identity/document/instanceId: \"i-0bbbbbbbbbbbbbbbb\" disagrees "
	    "with meta-data/instance-id \"i-0aaaaaaaaaaaaaaaa\"");
	build_err("{\"dynamic\": {\"instance-identity\": {\"document\": "
	    "{\"accountId\": \"12345\"}}}}",
	    "dynamic/instance-identity/document/accountId: \"12345\" is not a 12-digit "
	    "account ID");
	build_err("{\"dynamic\": {\"instance-identity\": {\"document\": "
	    "{\"pendingTime\": \"yesterday\"}}}}",
	    "dynamic/instance-identity/document/pendingTime: \"yesterday\" is not a time "
	    "YYYY-MM-DDTHH:MM:SSZ");
	build_err("{\"dynamic\": {\"instance-identity\": {\"document\": "
	    "{\"architecture\": \"sparc\"}}}}",
	    "dynamic/instance-identity/document/architecture: \"sparc\" is not x86_64, "
	    "arm64 or i386");
}

/* A document given as a string is served, and signed, verbatim. */
static void
test_document_string(void **state)
{
	struct snapshot *s = build_ok("{\"dynamic\": {\"instance-identity\": "
	    "{\"document\": \"{\\\"custom\\\" : 1}\", \"signature\": \"fixed\"}}}", 0);

	(void)state;
	assert_body(s, "dynamic/instance-identity/document", "{\"custom\" : 1}");
	assert_body(s, "dynamic/instance-identity/signature", "fixed");
	check_pkcs7_embeds(s, "dynamic/instance-identity/pkcs7", "{\"custom\" : 1}", 14);
	snapshot_unref(s);

	/* no document, no signatures */
	s = build_ok("{\"dynamic\": {\"instance-identity\": {\"document\": null}}}", 0);
	assert_absent(s, "dynamic/instance-identity");
	assert_absent(s, "dynamic");
	assert_body(s, "", "meta-data/");
	snapshot_unref(s);
}

/* Setting the AZ moves region, hostnames, AZ ID and the document. */
static void
test_derived_az(void **state)
{
	struct instance inst;
	struct snapshot *s;
	char err[ERRBUF_LEN];
	const struct md_node *doc;

	(void)state;
	s = build("{\"meta-data\": {\"placement\": {\"availability-zone\": \"eu-west-1b\"}}}", 0,
	    &inst, err, sizeof(err));
	assert_non_null(s);
	assert_body(s, "meta-data/placement/availability-zone", "eu-west-1b");
	assert_body(s, "meta-data/placement/region", "eu-west-1");
	assert_body(s, "meta-data/placement/availability-zone-id", "euw1-az2");
	assert_body(s, "meta-data/local-hostname", "ip-172-31-44-13.eu-west-1.compute.internal");
	assert_body(s, "meta-data/hostname", "ip-172-31-44-13.eu-west-1.compute.internal");
	assert_body(s, MACDIR "/local-hostname", "ip-172-31-44-13.eu-west-1.compute.internal");
	assert_body(s, "meta-data/public-hostname",
	    "ec2-203-0-113-25.eu-west-1.compute.amazonaws.com");
	assert_body(s, MACDIR "/public-hostname",
	    "ec2-203-0-113-25.eu-west-1.compute.amazonaws.com");
	assert_body(s, "meta-data/services/partition", "aws");
	assert_body(s, "meta-data/services/domain", "amazonaws.com");
	doc = look(s, "dynamic/instance-identity/document");
	assert_non_null(strstr(doc->n_body, "  \"availabilityZone\" : \"eu-west-1b\",\n"));
	assert_non_null(strstr(doc->n_body, "  \"region\" : \"eu-west-1\",\n"));
	check_pkcs7_embeds(s, "dynamic/instance-identity/rsa2048", doc->n_body, doc->n_bodylen);
	assert_string_equal(inst.i_region, "eu-west-1");
	snapshot_unref(s);

	/* other partitions */
	s = build_ok("{\"meta-data\": {\"placement\": {\"availability-zone\": \"cn-north-1a\"}}}", 0);
	assert_body(s, "meta-data/placement/region", "cn-north-1");
	assert_body(s, "meta-data/placement/availability-zone-id", "cnn1-az1");
	assert_body(s, "meta-data/services/partition", "aws-cn");
	assert_body(s, "meta-data/services/domain", "amazonaws.com.cn");
	assert_body(s, "meta-data/local-hostname", "ip-172-31-44-13.cn-north-1.compute.internal");
	assert_body(s, "meta-data/public-hostname",
	    "ec2-203-0-113-25.cn-north-1.compute.amazonaws.com.cn");
	assert_non_null(strstr(look(s, "meta-data/iam/info")->n_body,
	    "\"arn:aws-cn:iam::123456789012:instance-profile/dev-instance-role\""));
	snapshot_unref(s);
	s = build_ok("{\"meta-data\": {\"placement\": {\"availability-zone\": \"us-gov-west-1a\"}}}", 0);
	assert_body(s, "meta-data/placement/availability-zone-id", "usgw1-az1");
	assert_body(s, "meta-data/services/partition", "aws-us-gov");
	assert_body(s, "meta-data/services/domain", "amazonaws.com");
	snapshot_unref(s);
	s = build_ok("{\"meta-data\": {\"placement\": {\"availability-zone\": \"ap-southeast-2c\"}}}", 0);
	assert_body(s, "meta-data/placement/availability-zone-id", "apse2-az3");
	snapshot_unref(s);
	/* the region alone: its first AZ */
	s = build_ok("{\"meta-data\": {\"placement\": {\"region\": \"eu-central-1\"}}}", 0);
	assert_body(s, "meta-data/placement/availability-zone", "eu-central-1a");
	assert_body(s, "meta-data/placement/availability-zone-id", "euc1-az1");
	snapshot_unref(s);
	/* the same AZ as the default keeps the default ID */
	s = build_ok("{\"meta-data\": {\"placement\": {\"availability-zone\": \"us-east-1a\", "
	    "\"region\": \"us-east-1\"}}}", 0);
	assert_body(s, "meta-data/placement/availability-zone-id", "use1-az4");
	snapshot_unref(s);

	/* explicit values win over derivation */
	s = build_ok("{\"meta-data\": {\"placement\": {\"availability-zone\": \"eu-west-1b\", "
	    "\"availability-zone-id\": \"euw1-az3\"}, \"local-hostname\": \"box.internal\", "
	    "\"services\": {\"domain\": \"example.com\"}}}", 0);
	assert_body(s, "meta-data/placement/availability-zone-id", "euw1-az3");
	assert_body(s, "meta-data/local-hostname", "box.internal");
	assert_body(s, "meta-data/hostname", "box.internal");
	assert_body(s, "meta-data/services/domain", "example.com");
	assert_body(s, "meta-data/public-hostname", "ec2-203-0-113-25.eu-west-1.compute.example.com");
	snapshot_unref(s);

	/* errors */
	build_err("{\"meta-data\": {\"placement\": {\"availability-zone\": \"eu-west-1b\", "
	    "\"region\": \"us-west-2\"}}}",
	    "meta-data/placement/region: \"us-west-2\" does not match "
	    "meta-data/placement/availability-zone \"eu-west-1b\"");
	build_err("{\"meta-data\": {\"placement\": {\"availability-zone\": \"eu-west-1\"}}}",
	    "meta-data/placement/availability-zone: \"eu-west-1\" is not an availability zone: "
	    "a region and one lower-case letter");
	build_err("{\"meta-data\": {\"placement\": {\"availability-zone\": \"eu-west-1bb\"}}}",
	    "meta-data/placement/availability-zone: \"eu-west-1bb\" is not an availability "
	    "zone: a region and one lower-case letter");
	build_err("{\"meta-data\": {\"placement\": {\"region\": \"Mars\"}}}",
	    "meta-data/placement/region: \"Mars\" is not a region such as us-east-1");
}

static void
test_instance_id(void **state)
{
	struct snapshot *s;

	(void)state;
	s = build_ok("{\"meta-data\": {\"instance-id\": \"i-0abcdef0123456789\"}}", 0);
	assert_body(s, "meta-data/instance-id", "i-0abcdef0123456789");
	assert_non_null(strstr(look(s, "dynamic/instance-identity/document")->n_body,
	    "  \"instanceId\" : \"i-0abcdef0123456789\",\n"));
	snapshot_unref(s);
	s = build_ok("{\"meta-data\": {\"instance-id\": \"i-0123abcd\"}}", 0);
	assert_body(s, "meta-data/instance-id", "i-0123abcd");
	snapshot_unref(s);
	build_err("{\"meta-data\": {\"instance-id\": \"i-0123456789ABCDEF0\"}}",
	    "meta-data/instance-id: \"i-0123456789ABCDEF0\" is not an instance ID: i- and 8 "
	    "or 17 lower-case hex digits");
	build_err("{\"meta-data\": {\"instance-id\": \"\"}}",
	    "meta-data/instance-id: \"\" is not an instance ID: i- and 8 or 17 lower-case "
	    "hex digits");
	build_err("{\"meta-data\": {\"instance-id\": [\"i-0123abcd\"]}}",
	    "meta-data/instance-id: expected a string, got an array");
	build_err("{\"meta-data\": {\"ami-launch-index\": \"one\"}}",
	    "meta-data/ami-launch-index: \"one\" is not a launch index");
	build_err("{\"meta-data\": {\"ami-id\": \"ami-\\u0001\"}}",
	    "meta-data/ami-id: \"ami-?\" is not a non-empty value without control characters");
	/* null on a fact path other than the public ones: only the leaf goes */
	s = build_ok("{\"meta-data\": {\"instance-id\": null}}", 0);
	assert_absent(s, "meta-data/instance-id");
	assert_non_null(strstr(look(s, "dynamic/instance-identity/document")->n_body,
	    "i-0123456789abcdef0"));
	snapshot_unref(s);
}

static void
test_addresses(void **state)
{
	struct snapshot *s;

	(void)state;
	s = build_ok("{\"meta-data\": {\"local-ipv4\": \"10.1.2.194\", "
	    "\"public-ipv4\": \"198.51.100.7\", \"mac\": \"0E:49:61:0F:C3:22\"}}", 0);
	assert_body(s, "meta-data/local-ipv4", "10.1.2.194");
	assert_body(s, "meta-data/local-hostname", "ip-10-1-2-194.ec2.internal");
	assert_body(s, "meta-data/public-ipv4", "198.51.100.7");
	assert_body(s, "meta-data/public-hostname", "ec2-198-51-100-7.compute-1.amazonaws.com");
	assert_body(s, "meta-data/mac", "0e:49:61:0f:c3:22");
	assert_body(s, "meta-data/network/interfaces/macs", "0e:49:61:0f:c3:22/");
	assert_body(s, "meta-data/network/interfaces/macs/0e:49:61:0f:c3:22/local-ipv4s",
	    "10.1.2.194");
	assert_body(s, "meta-data/network/interfaces/macs/0e:49:61:0f:c3:22/ipv4-associations/"
	    "198.51.100.7", "10.1.2.194");
	assert_body(s, "meta-data/network/interfaces/macs/0e:49:61:0f:c3:22/mac",
	    "0e:49:61:0f:c3:22");
	assert_non_null(strstr(look(s, "dynamic/instance-identity/document")->n_body,
	    "  \"privateIp\" : \"10.1.2.194\",\n"));
	snapshot_unref(s);

	build_err("{\"meta-data\": {\"local-ipv4\": \"10.1.2.256\"}}",
	    "meta-data/local-ipv4: \"10.1.2.256\" is not an IPv4 address");
	build_err("{\"meta-data\": {\"local-ipv4\": \"010.1.2.3\"}}",
	    "meta-data/local-ipv4: \"010.1.2.3\" is not an IPv4 address");
	build_err("{\"meta-data\": {\"public-ipv4\": \"1.2.3\"}}",
	    "meta-data/public-ipv4: \"1.2.3\" is not an IPv4 address");
	build_err("{\"meta-data\": {\"public-ipv4\": \"1.2.3.4.\"}}",
	    "meta-data/public-ipv4: \"1.2.3.4.\" is not an IPv4 address");
	build_err("{\"meta-data\": {\"mac\": \"0e:49:61:0f:c3\"}}",
	    "meta-data/mac: \"0e:49:61:0f:c3\" is not a MAC address: six hex pairs separated "
	    "by ':'");
	build_err("{\"meta-data\": {\"mac\": \"0e-49-61-0f-c3-11\"}}",
	    "meta-data/mac: \"0e-49-61-0f-c3-11\" is not a MAC address: six hex pairs "
	    "separated by ':'");
	build_err("{\"meta-data\": {\"local-ipv4\": {\"a\": \"b\"}}}",
	    "meta-data/local-ipv4: expected a string, got an object");
}

/* public-ipv4 null: every public entry leaves every listing. */
static void
test_no_public_ipv4(void **state)
{
	struct instance inst;
	struct snapshot *s;
	char err[ERRBUF_LEN];

	(void)state;
	s = build("{\"meta-data\": {\"public-ipv4\": null}}", 0, &inst, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(inst.i_public_ipv4, "");
	assert_string_equal(inst.i_public_hostname, "");
	assert_body(s, "meta-data",
	    "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nevents/\n"
	    "hostname\niam/\nidentity-credentials/\ninstance-action\ninstance-id\n"
	    "instance-life-cycle\ninstance-type\nlocal-hostname\nlocal-ipv4\nmac\nmetrics/\n"
	    "network/\nplacement/\nprofile\nreservation-id\nsecurity-groups\nservices/\nsystem");
	assert_body(s, MACDIR,
	    "device-number\ninterface-id\nlocal-hostname\nlocal-ipv4s\nmac\n"
	    "network-card-index\nowner-id\nsecurity-group-ids\n"
	    "security-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block\n"
	    "vpc-ipv4-cidr-blocks");
	assert_absent(s, "meta-data/public-ipv4");
	assert_absent(s, "meta-data/public-hostname");
	assert_absent(s, MACDIR "/public-ipv4s");
	assert_absent(s, MACDIR "/public-hostname");
	assert_absent(s, MACDIR "/ipv4-associations");
	assert_false(any_name(s->s_root, "public"));
	assert_false(any_name(s->s_root, "ipv4-associations"));
	snapshot_unref(s);

	/* public-hostname null: the address stays, the names go */
	s = build_ok("{\"meta-data\": {\"public-hostname\": null}}", 0);
	assert_body(s, "meta-data/public-ipv4", "203.0.113.25");
	assert_absent(s, "meta-data/public-hostname");
	assert_absent(s, MACDIR "/public-hostname");
	assert_body(s, MACDIR "/public-ipv4s", "203.0.113.25");
	snapshot_unref(s);
}

/* §8.5: tags only when enabled; empty values are served. */
static void
test_tags(void **state)
{
	static const char cfg[] =
	    "{\"meta-data\": {\"tags\": {\"instance\": {\"Name\": \"web-1\", \"Env\": \"dev\", "
	    "\"empty\": \"\", \"gone\": null, \"a:b@c\": \"x\"}}}}";
	struct snapshot *s;
	const struct md_node *n;

	(void)state;
	s = build_ok(cfg, 1);
	assert_int_equal(entries(look(s, "meta-data")), 26);
	assert_non_null(strstr(look(s, "meta-data")->n_body, "\nsystem\ntags/"));
	assert_body(s, "meta-data/tags", "instance/");
	assert_body(s, "meta-data/tags/instance", "Env\nName\na:b@c\nempty");
	assert_body(s, "meta-data/tags/instance/Name", "web-1");
	n = look(s, "meta-data/tags/instance/empty");
	assert_non_null(n);
	assert_int_equal(n->n_bodylen, 0);
	assert_absent(s, "meta-data/tags/instance/gone");
	snapshot_unref(s);

	/* disabled: nothing, whatever the config says */
	s = build_ok(cfg, 0);
	assert_body(s, "meta-data", default_listing);
	assert_absent(s, "meta-data/tags");
	snapshot_unref(s);

	/* enabled without tags: tags/ not listed (U25) */
	s = build_ok(NULL, 1);
	assert_body(s, "meta-data", default_listing);
	snapshot_unref(s);
}

/* §10: user-data only when given and not empty; bytes verbatim. */
static void
test_user_data(void **state)
{
	struct snapshot *s;

	(void)state;
	s = build_ok("{\"user-data\": \"#!/bin/sh\\necho h\\u00e9\\n\"}", 0);
	assert_body(s, "", "dynamic/\nmeta-data/\nuser-data");
	assert_body(s, "user-data", "#!/bin/sh\necho h\xc3\xa9\n");
	snapshot_unref(s);
	s = build_ok("{\"user-data\": \"\"}", 0);
	assert_body(s, "", "dynamic/\nmeta-data/");
	assert_absent(s, "user-data");
	snapshot_unref(s);
	s = build_ok("{\"user-data\": null}", 0);
	assert_body(s, "", "dynamic/\nmeta-data/");
	snapshot_unref(s);
	s = build_ok("{}", 0);
	assert_body(s, "", "dynamic/\nmeta-data/");
	snapshot_unref(s);
}

static void
test_refcount(void **state)
{
	struct snapshot *s = build_ok(NULL, 0);

	(void)state;
	snapshot_ref(s);
	assert_int_equal(s->s_refs, 2);
	snapshot_unref(s);
	assert_int_equal(s->s_refs, 1);
	snapshot_unref(s);	/* freed: ASan would catch a use after this */
	snapshot_ref(NULL);
	snapshot_unref(NULL);
}

/*
 * Without keys the signature leaves are listed and pending; once the key
 * generation failed (identity_fail) they are absent, and nothing is
 * pending: the listing changes once, a request gets 404 rather than waiting.
 */
static void
test_signatures_pending_then_failed(void **state)
{
	static const char *const leaves[] = { "signature", "pkcs7", "rsa2048" };
	char path[64], err[ERRBUF_LEN];
	const struct md_node *n;
	struct snapshot *s;
	size_t i;

	(void)state;
	identity_cleanup();	/* no keys yet */
	assert_null(identity_failure());
	s = build_ok(NULL, 0);
	n = look(s, "dynamic/instance-identity");
	assert_non_null(n);
	assert_int_equal(n->n_bodylen, strlen("document\npkcs7\nrsa2048\nsignature"));
	assert_memory_equal(n->n_body, "document\npkcs7\nrsa2048\nsignature", n->n_bodylen);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "dynamic/instance-identity/%s", leaves[i]);
		assert_non_null(n = look(s, path));
		assert_true(snapshot_sig_pending(s, n));
	}
	snapshot_unref(s);

	identity_fail("the generator exited (status 9)\nwithout a key");
	assert_string_equal(identity_failure(), "the generator exited (status 9)?without a key");
	s = build_ok(NULL, 0);
	n = look(s, "dynamic/instance-identity");
	assert_non_null(n);
	assert_int_equal(n->n_bodylen, strlen("document"));
	assert_memory_equal(n->n_body, "document", n->n_bodylen);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "dynamic/instance-identity/%s", leaves[i]);
		assert_null(look(s, path));
	}
	assert_int_equal(s->s_nsig_pending, 0);
	snapshot_unref(s);

	/* keys again (the other tests sign): the failure is forgotten with them */
	assert_int_equal(identity_init(NULL, NULL, err, sizeof(err)), 0);
	assert_null(identity_failure());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_instance),
		cmocka_unit_test(test_apply_nothing),
		cmocka_unit_test(test_default_tree),
		cmocka_unit_test(test_role_error),
		cmocka_unit_test(test_no_role),
		cmocka_unit_test(test_config_merge),
		cmocka_unit_test(test_document_object),
		cmocka_unit_test(test_document_string),
		cmocka_unit_test(test_derived_az),
		cmocka_unit_test(test_instance_id),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_no_public_ipv4),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_user_data),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_signatures_pending_then_failed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
