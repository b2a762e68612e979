/*
 * instance.c: the instance facts, what derives from them, and the snapshot.
 *
 * Three steps, each a function:
 *
 *   instance_default	   the default instance of contract §7
 *   instance_apply_config  facts from the --config file, then re-derive what
 *			   depends on them (region from the AZ, AZ ID,
 *			   partition, domain, hostnames)
 *   snapshot_build	   the per-version tree served to clients: generated
 *			   from the facts (contract §8, §9, §10), overlaid with
 *			   the config's meta-data and dynamic trees, signed,
 *			   finalized.  Instance data only: what a caller's role
 *			   adds under iam/ is rendered per role (roles.c) and
 *			   joined to the snapshot per request.
 *
 * Facts live in struct instance so that the identity document, the mac
 * directory, the hostnames and the top-level leaves can never disagree.  The
 * config paths read as facts (see meta_facts below) are therefore rendered
 * from the facts and not overlaid verbatim (a MAC given in upper case is
 * served in lower case, and so on).
 *
 * The one exception to "an object in the config is a directory":
 * dynamic/instance-identity/document given as an OBJECT is not a directory
 * but a set of identity document fields (contract §9.1).  The fields that
 * are facts (accountId, architecture, availabilityZone, imageId, instanceId,
 * instanceType, pendingTime, privateIp, region) are applied to the facts,
 * and so show up in meta-data too; the others (billingProducts,
 * devpayProductCodes, marketplaceProductCodes, kernelId, ramdiskId,
 * version) are read when the document is rendered.  Such an object is never
 * overlaid.  A document given as a string replaces the generated document
 * verbatim, and is what gets signed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "imds/imds.h"

#define LAUNCH_INDEX_MAX	1000000UL	/* largest ami-launch-index accepted */
#define ACCOUNT_DIGITS		12		/* digits in an AWS account ID */
#define IID_SHORT_HEX		8		/* hex digits of an old-style instance ID */
#define IID_LONG_HEX		17		/* hex digits of a current instance ID */
#define MAC_LEN			17		/* "0e:49:61:0f:c3:11" */
#define IPV4_LEN_MAX		15		/* "255.255.255.255" */
#define AZ_ID_LETTERS_MAX	26		/* AZ letters a..z map to az1..az26 */

#define ROOT_DEVICE		"/dev/xvda"
#define VHOSTMD_BODY		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
#define DOC_VERSION		"2017-09-30"
#define PATH_DOCUMENT		"dynamic/instance-identity/document"
#define PATH_TAGS		"meta-data/tags"
#define PATH_META		"meta-data"

/* ------------------------------------------------------------------ */
/* The default instance (contract §7)                                  */
/* ------------------------------------------------------------------ */

/* Copy a NUL-terminated string into a fact; the source always fits. */
static void
fact_set(char dst[FACT_MAX], const char *src)
{
	snprintf(dst, FACT_MAX, "%s", src);
}

void
instance_default(struct instance *inst, time_t now)
{
	struct utsname u;

	memset(inst, 0, sizeof(*inst));
	fact_set(inst->i_account, "123456789012");
	fact_set(inst->i_region, "us-east-1");
	fact_set(inst->i_az, "us-east-1a");
	fact_set(inst->i_az_id, "use1-az4");
	fact_set(inst->i_partition, "aws");
	fact_set(inst->i_domain, "amazonaws.com");
	fact_set(inst->i_instance_id, "i-0123456789abcdef0");
	fact_set(inst->i_instance_type, "t3.micro");
	fact_set(inst->i_ami_id, "ami-0abcdef1234567890");
	fact_set(inst->i_ami_launch_index, "0");
	fact_set(inst->i_ami_manifest_path, "(unknown)");
	fact_set(inst->i_reservation_id, "r-0fedcba9876543210");
	fact_set(inst->i_local_ipv4, "172.31.44.13");
	fact_set(inst->i_local_hostname, "ip-172-31-44-13.ec2.internal");
	fact_set(inst->i_public_ipv4, "203.0.113.25");
	fact_set(inst->i_public_hostname, "ec2-203-0-113-25.compute-1.amazonaws.com");
	fact_set(inst->i_mac, "0e:49:61:0f:c3:11");
	fact_set(inst->i_eni_id, "eni-0f95d3625f5c521cc");
	fact_set(inst->i_subnet_id, "subnet-0123abcd4567ef890");
	fact_set(inst->i_subnet_cidr, "172.31.32.0/20");
	fact_set(inst->i_vpc_id, "vpc-0fedcba98765432a1");
	fact_set(inst->i_vpc_cidr, "172.31.0.0/16");
	fact_set(inst->i_sg_name, "default");
	fact_set(inst->i_sg_id, "sg-0b07f8f6cb485d4df");
	fact_set(inst->i_role, "dev-instance-role");
	fact_set(inst->i_profile_id, "AIPAEXAMPLEID01234567");
	/* §7: the architecture SHOULD follow the host */
	if (uname(&u) == 0 && (strcmp(u.machine, "aarch64") == 0 ||
	    strcmp(u.machine, "arm64") == 0))
		fact_set(inst->i_arch, "arm64");
	else
		fact_set(inst->i_arch, "x86_64");
	inst->i_pending_time = now;
}

/* ------------------------------------------------------------------ */
/* Checks of fact values                                               */
/* ------------------------------------------------------------------ */

static int
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* "i-" + 8 or 17 lower-case hex digits (contract §7). */
static int
instance_id_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 2 || s[0] != 'i' || s[1] != '-' ||
	    (n - 2 != IID_SHORT_HEX && n - 2 != IID_LONG_HEX))
		return 0;
	for (i = 2; i < n; i++)
		if (!is_lower_hex(s[i]))
			return 0;
	return 1;
}

/* Dotted-quad IPv4: four decimal numbers 0..255, no leading zeros. */
static int
ipv4_ok(const char *s)
{
	unsigned long v;
	size_t i = 0, start, n = strlen(s);
	int part;

	if (n > IPV4_LEN_MAX)
		return 0;
	for (part = 0; part < 4; part++) {
		start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || (i - start > 1 && s[start] == '0') ||
		    parse_uint_bounded(s + start, i - start, 255, &v) != 0)
			return 0;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == n;
}

/* Six hex pairs with colons; upper case is accepted and lowered in place. */
static int
mac_normalize(char *s)
{
	size_t i;

	if (strlen(s) != MAC_LEN)
		return 0;
	for (i = 0; i < MAC_LEN; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return 0;
			continue;
		}
		if (s[i] >= 'A' && s[i] <= 'F')
			s[i] = (char)(s[i] - 'A' + 'a');
		if (!is_lower_hex(s[i]))
			return 0;
	}
	return 1;
}

/*
 * A region: lower-case words and a number, "us-east-1", "us-gov-west-1",
 * "ap-southeast-2".
 */
static int
region_ok(const char *s)
{
	size_t i = 0, n = strlen(s), words = 0, start;

	for (;;) {
		start = i;
		while (i < n && s[i] >= 'a' && s[i] <= 'z')
			i++;
		if (i == start)
			break;
		words++;
		if (i >= n || s[i] != '-')
			return 0;
		i++;
	}
	if (words < 2 || i == n)
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* An AZ is its region plus exactly one lower-case letter (§7, §12.1). */
static int
az_ok(const char *s)
{
	size_t n = strlen(s);
	char region[FACT_MAX];

	if (n < 2 || n >= FACT_MAX || s[n - 1] < 'a' || s[n - 1] > 'z')
		return 0;
	memcpy(region, s, n - 1);
	region[n - 1] = '\0';
	return region_ok(region);
}

/* ------------------------------------------------------------------ */
/* Derivation                                                          */
/* ------------------------------------------------------------------ */

/*
 * The short region code of AZ IDs: the first word whole, each direction
 * word by its initials, the number: us-east-1 -> use1, ap-southeast-2 ->
 * apse2, eu-central-1 -> euc1, us-gov-west-1 -> usgw1.  0 / -1.
 */
static int
region_abbrev(const char *region, char *out, size_t cap)
{
	static const char *const dirs[] = { "north", "south", "east", "west", "central" };
	const char *p = region, *dash, *w, *wend;
	size_t o = 0, i, dl;
	int first = 1, matched;

	while ((dash = strchr(p, '-')) != NULL || *p != '\0') {
		wend = dash ? dash : p + strlen(p);
		if (first || dash == NULL) {
			/* the first word and the number are kept whole */
			if (o + (size_t)(wend - p) >= cap)
				return -1;
			memcpy(out + o, p, (size_t)(wend - p));
			o += (size_t)(wend - p);
		} else {
			for (w = p; w < wend; ) {
				matched = 0;
				for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
					dl = strlen(dirs[i]);
					if ((size_t)(wend - w) >= dl &&
					    memcmp(w, dirs[i], dl) == 0) {
						matched = 1;
						break;
					}
				}
				if (o + 1 >= cap)
					return -1;
				out[o++] = *w;
				/* not a direction word: its initial only ("gov" -> g) */
				w = matched ? w + dl : wend;
			}
		}
		first = 0;
		if (dash == NULL)
			break;
		p = dash + 1;
	}
	out[o] = '\0';
	return 0;
}

/* "<abbrev>-az<k>" with k the AZ letter's rank: eu-west-1b -> euw1-az2. */
static int
derive_az_id(const char *region, const char *az, char out[FACT_MAX])
{
	char abbrev[FACT_MAX];
	int k = az[strlen(az) - 1] - 'a' + 1, n;

	if (k < 1 || k > AZ_ID_LETTERS_MAX || region_abbrev(region, abbrev, sizeof(abbrev)) == -1)
		return -1;
	n = snprintf(out, FACT_MAX, "%s-az%d", abbrev, k);
	return n > 0 && n < FACT_MAX ? 0 : -1;
}

/* Partition and DNS suffix of a region. */
static void
derive_partition(const char *region, char part[FACT_MAX], char dom[FACT_MAX])
{
	if (strncmp(region, "cn-", 3) == 0) {
		fact_set(part, "aws-cn");
		fact_set(dom, "amazonaws.com.cn");
	} else if (strncmp(region, "us-gov-", 7) == 0) {
		fact_set(part, "aws-us-gov");
		fact_set(dom, "amazonaws.com");
	} else {
		fact_set(part, "aws");
		fact_set(dom, "amazonaws.com");
	}
}

/* "172.31.44.13" -> "172-31-44-13" */
static void
dashed(const char *ip, char *out, size_t cap)
{
	size_t i;

	snprintf(out, cap, "%s", ip);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] == '.')
			out[i] = '-';
}

/*
 * §7: "PRE-a-b-c-d.EAST" in us-east-1, else "PRE-a-b-c-d.<region>.compute.TAIL":
 *   local:  ip-a-b-c-d.ec2.internal, ip-a-b-c-d.<region>.compute.internal
 *   public: ec2-a-b-c-d.compute-1.amazonaws.com, ec2-a-b-c-d.<region>.compute.<domain>
 */
static int
derive_hostname(const struct instance *in, const char *ip, const char *pre, const char *east,
    const char *tail, char out[FACT_MAX])
{
	char d[FACT_MAX];
	int n;

	dashed(ip, d, sizeof(d));
	if (strcmp(in->i_region, "us-east-1") == 0)
		n = snprintf(out, FACT_MAX, "%s-%s.%s", pre, d, east);
	else
		n = snprintf(out, FACT_MAX, "%s-%s.%s.compute.%s", pre, d, in->i_region, tail);
	return n > 0 && n < FACT_MAX ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* instance_apply_config                                               */
/* ------------------------------------------------------------------ */

/* Facts a config can set; one bit each in apply.a_set. */
enum fact {
	F_AMI_ID, F_LAUNCH_INDEX, F_MANIFEST, F_INSTANCE_ID, F_TYPE, F_RESERVATION,
	F_LOCAL_IPV4, F_PUBLIC_IPV4, F_MAC, F_LOCAL_HOSTNAME, F_PUBLIC_HOSTNAME,
	F_SG, F_AZ, F_AZ_ID, F_REGION, F_PARTITION, F_DOMAIN, F_ACCOUNT, F_ARCH,
	F_PENDING, F_COUNT
};

/* How a fact's value is checked. */
enum fact_check {
	FC_TEXT, FC_INSTANCE_ID, FC_IPV4, FC_MAC, FC_AZ, FC_REGION, FC_INDEX,
	FC_ACCOUNT, FC_ARCH, FC_TIME
};

struct fact_src {
	const char	*fs_path;	/* under meta-data/, or a document field */
	enum fact	 fs_fact;
	size_t		 fs_off;	/* offsetof(struct instance, field) */
	enum fact_check	 fs_check;
	int		 fs_null_none;	/* null means "none" (a fact), not just removal */
};

#define FACT(path, f, field, chk, nn)	{ path, f, offsetof(struct instance, field), chk, nn }

/*
 * The meta-data paths read as facts.  security-groups is handled on its
 * own (a list of which the first name is the fact); hostname is not a fact:
 * it follows local-hostname unless the config sets it, and then the config
 * value is simply overlaid.
 */
static const struct fact_src meta_facts[] = {
	FACT("ami-id",				F_AMI_ID, i_ami_id, FC_TEXT, 0),
	FACT("ami-launch-index",		F_LAUNCH_INDEX, i_ami_launch_index, FC_INDEX, 0),
	FACT("ami-manifest-path",		F_MANIFEST, i_ami_manifest_path, FC_TEXT, 0),
	FACT("instance-id",			F_INSTANCE_ID, i_instance_id, FC_INSTANCE_ID, 0),
	FACT("instance-type",			F_TYPE, i_instance_type, FC_TEXT, 0),
	FACT("reservation-id",			F_RESERVATION, i_reservation_id, FC_TEXT, 0),
	FACT("local-ipv4",			F_LOCAL_IPV4, i_local_ipv4, FC_IPV4, 0),
	FACT("public-ipv4",			F_PUBLIC_IPV4, i_public_ipv4, FC_IPV4, 1),
	FACT("mac",				F_MAC, i_mac, FC_MAC, 0),
	FACT("local-hostname",		F_LOCAL_HOSTNAME, i_local_hostname, FC_TEXT, 0),
	FACT("public-hostname",		F_PUBLIC_HOSTNAME, i_public_hostname, FC_TEXT, 1),
	FACT("placement/availability-zone",	F_AZ, i_az, FC_AZ, 0),
	FACT("placement/availability-zone-id",	F_AZ_ID, i_az_id, FC_TEXT, 0),
	FACT("placement/region",		F_REGION, i_region, FC_REGION, 0),
	FACT("services/partition",		F_PARTITION, i_partition, FC_TEXT, 0),
	FACT("services/domain",			F_DOMAIN, i_domain, FC_TEXT, 0),
};

/* Identity document fields that are facts (the others: see doc_render). */
static const struct fact_src doc_facts[] = {
	FACT("accountId",		F_ACCOUNT, i_account, FC_ACCOUNT, 0),
	FACT("architecture",		F_ARCH, i_arch, FC_ARCH, 0),
	FACT("availabilityZone",	F_AZ, i_az, FC_AZ, 0),
	FACT("imageId",			F_AMI_ID, i_ami_id, FC_TEXT, 0),
	FACT("instanceId",		F_INSTANCE_ID, i_instance_id, FC_INSTANCE_ID, 0),
	FACT("instanceType",		F_TYPE, i_instance_type, FC_TEXT, 0),
	FACT("pendingTime",		F_PENDING, i_pending_time, FC_TIME, 0),
	FACT("privateIp",		F_LOCAL_IPV4, i_local_ipv4, FC_IPV4, 0),
	FACT("region",			F_REGION, i_region, FC_REGION, 0),
};

struct apply {
	struct instance	 a_in;		/* the facts being built */
	unsigned	 a_set;		/* 1 << F_*: given explicitly */
	char		 a_src[F_COUNT][MD_PATH_MAX + 1];	/* where each came from */
	char		*a_err;
	size_t		 a_errlen;
};

static void	 apply_err(struct apply *a, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static void
apply_err(struct apply *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(a->a_err, a->a_errlen, fmt, ap);
	va_end(ap);
}

/* Walk "a/b/c" through nested objects; NULL when a step is missing. */
static json_t *
jpath(json_t *obj, const char *path)
{
	char seg[MD_NAME_MAX + 1];
	const char *p = path, *slash;
	size_t len;

	while (obj != NULL) {
		if (!json_is_object(obj))
			return NULL;
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len > MD_NAME_MAX)
			return NULL;
		memcpy(seg, p, len);
		seg[len] = '\0';
		obj = json_object_get(obj, seg);
		if (slash == NULL)
			return obj;
		p = slash + 1;
	}
	return NULL;
}

/* Check val per chk; may normalize it in place (MAC). 0 / -1. */
static int
fact_check(enum fact_check chk, char *val, time_t *t)
{
	unsigned long idx;

	if (val[0] == '\0' || !text_ok(val, SIZE_MAX))	/* served verbatim */
		return -1;
	switch (chk) {
	case FC_TEXT:
		return 0;
	case FC_INSTANCE_ID:
		return instance_id_ok(val) ? 0 : -1;
	case FC_IPV4:
		return ipv4_ok(val) ? 0 : -1;
	case FC_MAC:
		return mac_normalize(val) ? 0 : -1;
	case FC_AZ:
		return az_ok(val) ? 0 : -1;
	case FC_REGION:
		return region_ok(val) ? 0 : -1;
	case FC_INDEX:
		return parse_uint_bounded(val, strlen(val), LAUNCH_INDEX_MAX, &idx) == 0 ? 0 : -1;
	case FC_ACCOUNT:
		return strlen(val) == ACCOUNT_DIGITS && all_digits(val, ACCOUNT_DIGITS) ? 0 : -1;
	case FC_ARCH:
		return strcmp(val, "x86_64") == 0 || strcmp(val, "arm64") == 0 ||
		    strcmp(val, "i386") == 0 ? 0 : -1;
	case FC_TIME:
		return parse_iso8601(val, strlen(val), t);
	default:
		return -1;
	}
}

static const char *
fact_what(enum fact_check chk)
{
	switch (chk) {
	case FC_INSTANCE_ID:
		return "an instance ID: i- and 8 or 17 lower-case hex digits";
	case FC_IPV4:
		return "an IPv4 address";
	case FC_MAC:
		return "a MAC address: six hex pairs separated by ':'";
	case FC_AZ:
		return "an availability zone: a region and one lower-case letter";
	case FC_REGION:
		return "a region such as us-east-1";
	case FC_INDEX:
		return "a launch index";
	case FC_ACCOUNT:
		return "a 12-digit account ID";
	case FC_ARCH:
		return "x86_64, arm64 or i386";
	case FC_TIME:
		return "a time YYYY-MM-DDTHH:MM:SSZ";
	case FC_TEXT:
	default:
		return "a non-empty value without control characters";
	}
}

/*
 * Take one fact from v (found at src).  A value given twice (meta-data and
 * the document) must agree.  0 / -1.
 */
static int
take_fact(struct apply *a, const struct fact_src *fs, const char *src, json_t *v)
{
	char val[FACT_MAX], *dst;
	time_t t = 0;
	size_t len;

	if (json_is_null(v)) {
		if (!fs->fs_null_none)
			return 0;	/* just removed from the tree (overlay) */
		val[0] = '\0';
	} else if (!json_is_string(v)) {
		apply_err(a, "%s: expected a string, got %s", src,
		    json_is_array(v) ? "an array" : json_is_object(v) ? "an object" : "a value");
		return -1;
	} else {
		len = json_string_length(v);
		if (len >= FACT_MAX) {
			apply_err(a, "%s: value longer than %d bytes", src, FACT_MAX - 1);
			return -1;
		}
		memcpy(val, json_string_value(v), len + 1);
		if (strlen(val) != len || fact_check(fs->fs_check, val, &t) == -1) {
			apply_err(a, "%s: \"%s\" is not %s", src, val, fact_what(fs->fs_check));
			return -1;
		}
	}
	if (fs->fs_fact == F_PENDING) {
		a->a_in.i_pending_time = t;
	} else {
		dst = (char *)&a->a_in + fs->fs_off;
		if ((a->a_set & (1u << fs->fs_fact)) && strcmp(dst, val) != 0) {
			apply_err(a, "%s: \"%s\" disagrees with %s \"%s\"", src, val,
			    a->a_src[fs->fs_fact], dst);
			return -1;
		}
		memcpy(dst, val, strlen(val) + 1);
	}
	a->a_set |= 1u << fs->fs_fact;
	snprintf(a->a_src[fs->fs_fact], sizeof(a->a_src[0]), "%s", src);
	return 0;
}

/* security-groups: a name or a list of names; the first is the fact. */
static int
take_security_groups(struct apply *a, json_t *v)
{
	static const struct fact_src sg = FACT("security-groups", F_SG, i_sg_name, FC_TEXT, 0);
	json_t *first;

	if (json_is_array(v)) {
		if ((first = json_array_get(v, 0)) == NULL)
			return 0;	/* empty list: an empty leaf, dropped */
		return take_fact(a, &sg, "meta-data/security-groups", first);
	}
	return take_fact(a, &sg, "meta-data/security-groups", v);
}

/* Re-derive what depends on the facts that changed (§7).  0 / -1. */
static int
derive(struct apply *a, const struct instance *before)
{
	struct instance *in = &a->a_in;
	size_t n;
	int region_changed, set_az, set_region;

	set_az = (a->a_set >> F_AZ) & 1;
	set_region = (a->a_set >> F_REGION) & 1;

	/* region <-> AZ: the AZ is its region plus one letter */
	if (set_az) {
		n = strlen(in->i_az);
		if (set_region && (strncmp(in->i_az, in->i_region, n - 1) != 0 ||
		    in->i_region[n - 1] != '\0')) {
			apply_err(a, "%s: \"%s\" does not match %s \"%s\"", a->a_src[F_REGION],
			    in->i_region, a->a_src[F_AZ], in->i_az);
			return -1;
		}
		memcpy(in->i_region, in->i_az, n - 1);
		in->i_region[n - 1] = '\0';
	} else if (set_region) {
		n = strlen(in->i_region);
		if (strncmp(in->i_az, in->i_region, n) != 0 || strlen(in->i_az) != n + 1) {
			/* a region alone moves the instance to its first AZ */
			if (n + 1 >= FACT_MAX) {
				apply_err(a, "%s: region too long", a->a_src[F_REGION]);
				return -1;
			}
			memcpy(in->i_az, in->i_region, n);
			in->i_az[n] = 'a';
			in->i_az[n + 1] = '\0';
		}
	}
	region_changed = strcmp(in->i_region, before->i_region) != 0;

	if (strcmp(in->i_az, before->i_az) != 0 && !((a->a_set >> F_AZ_ID) & 1) &&
	    derive_az_id(in->i_region, in->i_az, in->i_az_id) == -1) {
		apply_err(a, "placement/availability-zone-id: cannot derive one from \"%s\"",
		    in->i_az);
		return -1;
	}
	if (region_changed) {
		char part[FACT_MAX], dom[FACT_MAX];

		derive_partition(in->i_region, part, dom);
		if (!((a->a_set >> F_PARTITION) & 1))
			fact_set(in->i_partition, part);
		if (!((a->a_set >> F_DOMAIN) & 1))
			fact_set(in->i_domain, dom);
	}
	if (!((a->a_set >> F_LOCAL_HOSTNAME) & 1) &&
	    (region_changed || strcmp(in->i_local_ipv4, before->i_local_ipv4) != 0) &&
	    derive_hostname(in, in->i_local_ipv4, "ip", "ec2.internal", "internal",
	    in->i_local_hostname) == -1) {
		apply_err(a, "local-hostname: derived name longer than %d bytes", FACT_MAX - 1);
		return -1;
	}
	if (!((a->a_set >> F_PUBLIC_HOSTNAME) & 1)) {
		if (in->i_public_ipv4[0] == '\0')
			in->i_public_hostname[0] = '\0';	/* no public IPv4, no name */
		else if ((region_changed || strcmp(in->i_domain, before->i_domain) != 0 ||
		    strcmp(in->i_public_ipv4, before->i_public_ipv4) != 0 ||
		    in->i_public_hostname[0] == '\0') &&
		    derive_hostname(in, in->i_public_ipv4, "ec2", "compute-1.amazonaws.com",
		    in->i_domain, in->i_public_hostname) == -1) {
			apply_err(a, "public-hostname: derived name longer than %d bytes",
			    FACT_MAX - 1);
			return -1;
		}
	}
	return 0;
}

int
instance_apply_config(struct instance *inst, const struct config *cfg, char *err,
    size_t errlen)
{
	struct apply *a;
	json_t *meta, *doc, *v;
	char src[MD_PATH_MAX + 1];
	size_t i;
	int rc = -1;

	if (cfg == NULL)
		return 0;
	/* about 6 KiB of paths: on the heap */
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "instance: out of memory");
		return -1;
	}
	a->a_in = *inst;
	a->a_err = err;
	a->a_errlen = errlen;
	meta = cfg->c_meta;
	doc = jpath(cfg->c_dynamic, "instance-identity/document");

	for (i = 0; i < sizeof(meta_facts) / sizeof(meta_facts[0]); i++) {
		if ((v = jpath(meta, meta_facts[i].fs_path)) == NULL)
			continue;
		snprintf(src, sizeof(src), "meta-data/%s", meta_facts[i].fs_path);
		if (take_fact(a, &meta_facts[i], src, v) == -1)
			goto done;
	}
	if ((v = jpath(meta, "security-groups")) != NULL && !json_is_null(v) &&
	    take_security_groups(a, v) == -1)
		goto done;
	/* the document-as-object exception: its fact fields (see the top) */
	if (json_is_object(doc)) {
		for (i = 0; i < sizeof(doc_facts) / sizeof(doc_facts[0]); i++) {
			if ((v = json_object_get(doc, doc_facts[i].fs_path)) == NULL)
				continue;
			snprintf(src, sizeof(src), "%s/%s", PATH_DOCUMENT, doc_facts[i].fs_path);
			if (take_fact(a, &doc_facts[i], src, v) == -1)
				goto done;
		}
	}
	if (derive(a, inst) == -1)
		goto done;
	*inst = a->a_in;
	rc = 0;
done:
	free(a);
	return rc;
}

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

/* A jbuf document into the tree; the buffer is wiped (it may be secret). */
static void
bset_json(struct build *b, const char *path, struct jbuf *j)
{
	size_t len;
	char *doc;

	if ((doc = jbuf_take(j, &len)) == NULL) {
		bfail(b, path);
		return;
	}
	bsetn(b, path, doc, len);
	explicit_bzero(doc, len);
	free(doc);
}

/* identity-credentials/ec2/ (§8.7). */
static void
gen_identity_creds(struct build *b, const struct snapshot_input *in)
{
	const struct cred *c = in->si_ec2_cred;
	char lu[ISO_DATE_LEN + 1];
	struct jbuf j;

	fmt_iso8601(c != NULL && c->c_last_updated ? c->c_last_updated : in->si_now, lu);
	jbuf_init(&j);
	json_begin(&j);
	json_str(&j, "Code", "Success");
	json_str(&j, "LastUpdated", lu);
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
	sgv = in->si_cfg ? jpath(in->si_cfg->c_meta, "security-groups") : NULL;
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
			j->j_b.sb_full = 1;	/* out of memory: the document fails */
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
		doc = jpath(in->si_cfg->c_dynamic, "instance-identity/document");
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

/* meta-data paths rendered from the facts: config strings there are not overlaid. */
static int
is_fact_path(const char *path)
{
	static const char pfx[] = "meta-data/";
	size_t i;

	if (strncmp(path, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	path += sizeof(pfx) - 1;
	for (i = 0; i < sizeof(meta_facts) / sizeof(meta_facts[0]); i++)
		if (strcmp(path, meta_facts[i].fs_path) == 0)
			return 1;
	return strcmp(path, "security-groups") == 0;
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
		if (!is_fact_path(path))
			bsetn(b, path, json_string_value(v), json_string_length(v));
	} else if (json_is_array(v)) {
		if (!is_fact_path(path)) {
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
		v = jpath(cfg->c_meta, path + sizeof(meta) - 1);
	else if (strncmp(path, dyn, sizeof(dyn) - 1) == 0)
		v = jpath(cfg->c_dynamic, path + sizeof(dyn) - 1);
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
	json_t *tags = in->si_cfg ? jpath(in->si_cfg->c_meta, "tags/instance") : NULL, *v;
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
		if (!t->lt_removed)
			btag(b, t->lt_key, t->lt_value, strlen(t->lt_value));
		else if (bpath(b, "meta-data/tags/instance/%s", t->lt_key) != NULL)
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
	json_t *idd = in->si_cfg ? jpath(in->si_cfg->c_dynamic, "instance-identity") : NULL;
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
	if (cfg != NULL && cfg->c_user_data_set && cfg->c_user_data_len > 0)
		bsetn(b, "user-data", cfg->c_user_data, cfg->c_user_data_len);
	if (cfg != NULL && json_is_object((json_t *)cfg->c_meta)) {
		snprintf(b->b_path, sizeof(b->b_path), "meta-data");
		overlay(b, cfg->c_meta, b->b_path, strlen(b->b_path));
	}
	if (cfg != NULL && json_is_object((json_t *)cfg->c_dynamic)) {
		snprintf(b->b_path, sizeof(b->b_path), "dynamic");
		overlay(b, cfg->c_dynamic, b->b_path, strlen(b->b_path));
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
	if (s == NULL)
		return;
	if (s->s_refs > 1) {
		s->s_refs--;
		return;
	}
	tree_free(s->s_root);
	free(s->s_meta_iam.n_body);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
