/*
 * instance.c: the instance facts and what derives from them.
 *
 *   instance_default	   the default instance of contract §7
 *   instance_apply_config  facts from the --config file, then re-derive what
 *			   depends on them (region from the AZ, AZ ID,
 *			   partition, domain, hostnames)
 *
 * The tree served is built from them by snapshot.c.  Facts live in struct
 * instance so that the identity document, the mac directory, the
 * hostnames and the top-level leaves can never disagree.  The config paths
 * read as facts (see meta_facts below) are therefore rendered from the
 * facts and not overlaid verbatim (a MAC given in upper case is served in
 * lower case, and so on): instance_is_fact_path tells snapshot.c which.
 *
 * The one exception to "an object in the config is a directory":
 * dynamic/instance-identity/document given as an OBJECT is not a directory
 * but a set of identity document fields (contract §9.1).  The fields that
 * are facts (accountId, architecture, availabilityZone, imageId, instanceId,
 * instanceType, pendingTime, privateIp, region) are applied to the facts
 * here, and so show up in meta-data too; the others (billingProducts,
 * devpayProductCodes, marketplaceProductCodes, kernelId, ramdiskId,
 * version) are read when the document is rendered (snapshot.c).  Such an
 * object is never overlaid.  A document given as a string replaces the
 * generated document verbatim, and is what gets signed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <jansson.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define LAUNCH_INDEX_MAX	1000000UL	/* largest ami-launch-index accepted */
#define ACCOUNT_DIGITS		12		/* digits in an AWS account ID */
#define IID_SHORT_HEX		8		/* hex digits of an old-style instance ID */
#define IID_LONG_HEX		17		/* hex digits of a current instance ID */
#define MAC_LEN			17		/* "0e:49:61:0f:c3:11" */
#define IPV4_LEN_MAX		15		/* "255.255.255.255" */
#define AZ_ID_LETTERS_MAX	26		/* AZ letters a..z map to az1..az26 */
#define LOWER_HEX		"0123456789abcdef"


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

/* "i-" + 8 or 17 lower-case hex digits (contract §7). */
static int
instance_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && s[0] == 'i' && s[1] == '-' &&
	    (n - 2 == IID_SHORT_HEX || n - 2 == IID_LONG_HEX) &&
	    strspn(s + 2, LOWER_HEX) == n - 2;
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
		i += strspn(s + i, "0123456789");
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
		if (s[i] == '\0' || strchr(LOWER_HEX, s[i]) == NULL)
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
		i += strspn(s + i, "abcdefghijklmnopqrstuvwxyz");
		if (i == start)
			break;
		words++;
		if (i >= n || s[i] != '-')
			return 0;
		i++;
	}
	return words >= 2 && i < n && all_digits(s + i, n - i);
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

json_t *
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
	meta = cfg->cf_meta;
	doc = jpath(cfg->cf_dynamic, "instance-identity/document");

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

int
instance_is_fact_path(const char *path)
{
	static const char pfx[] = PATH_META "/";
	size_t i;

	if (strncmp(path, pfx, sizeof(pfx) - 1) != 0)
		return 0;
	path += sizeof(pfx) - 1;
	for (i = 0; i < sizeof(meta_facts) / sizeof(meta_facts[0]); i++)
		if (strcmp(path, meta_facts[i].fs_path) == 0)
			return 1;
	return strcmp(path, "security-groups") == 0;
}
