/*
 * arn.c: role ARNs as IAM writes them, and names completed by
 * --base-role-arn.
 *
 * An ARN here is arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME:
 *   PARTITION  "aws" or "aws-" then lower-case letters, digits and '-'
 *              (aws-cn, aws-us-gov, aws-iso-b, ...), at most POD_PARTITION_MAX;
 *   ACCOUNT    exactly 12 digits;
 *   PATH       what IAM's CreateRole allows: "/" or "/x.../" of bytes
 *              0x21..0x7e, at most POD_ROLE_PATH_MAX with both slashes;
 *   NAME       1..64 of letters, digits and + = , . @ _ -.
 * Nothing is half-built: on any fault the output is "" and why says it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "pods/pods.h"

#define ARN_PREFIX		"arn:"
#define ARN_IAM			":iam::"
#define ARN_ROLE		":role"

static int
name_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("+=,.@_-", c) != NULL);
}

int
pods_external_id_ok(const char *id, size_t len)
{
	size_t i;

	if (id == NULL || len < POD_EXTERNAL_ID_MIN || len > POD_EXTERNAL_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!name_byte_ok((unsigned char)id[i]) && id[i] != ':' && id[i] != '/')
			return 0;
	return 1;
}

static int
partition_ok(const char *p, size_t n)
{
	size_t i;

	if (n < 3 || n > POD_PARTITION_MAX || memcmp(p, "aws", 3) != 0)
		return 0;
	if (n == 3)
		return 1;
	if (p[3] != '-' || p[n - 1] == '-')
		return 0;
	for (i = 4; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
			return 0;
	return 1;
}

/*
 * The prefix "arn:P:iam::ACCOUNT:role" of arn[0..len): its length, or 0
 * with why.
 */
static size_t
arn_head(const char *arn, size_t len, char *why, size_t whylen)
{
	const char *colon;
	size_t i, plen, at;

	if (len < sizeof(ARN_PREFIX) - 1 || memcmp(arn, ARN_PREFIX, 4) != 0) {
		errf(why, whylen, "not an ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME)");
		return 0;
	}
	colon = memchr(arn + 4, ':', len - 4);
	plen = colon != NULL ? (size_t)(colon - arn - 4) : 0;
	if (colon == NULL || !partition_ok(arn + 4, plen)) {
		errf(why, whylen, "not a partition (aws, aws-cn, aws-us-gov, ...)");
		return 0;
	}
	at = 4 + plen;
	if (len - at < sizeof(ARN_IAM) - 1 || memcmp(arn + at, ARN_IAM, 6) != 0) {
		errf(why, whylen, "not an IAM ARN (expected :iam:: after the partition)");
		return 0;
	}
	at += 6;
	for (i = 0; i < POD_ACCOUNT_LEN && at + i < len && arn[at + i] >= '0' &&
	    arn[at + i] <= '9'; i++)
		;
	if (i != POD_ACCOUNT_LEN || (at + i < len && arn[at + i] != ':')) {
		errf(why, whylen, "the account is not 12 digits");
		return 0;
	}
	at += POD_ACCOUNT_LEN;
	if (len - at < sizeof(ARN_ROLE) - 1 || memcmp(arn + at, ARN_ROLE, 5) != 0) {
		errf(why, whylen, "not a role (expected :role/ after the account)");
		return 0;
	}
	return at + 5;
}

int
pods_arn_check(const char *arn, size_t len, char *why, size_t whylen)
{
	size_t at, last, i;

	if (arn == NULL || len > POD_ARN_MAX) {
		errf(why, whylen, "longer than %d bytes", POD_ARN_MAX);
		return 0;
	}
	if ((at = arn_head(arn, len, why, whylen)) == 0)
		return 0;
	if (at >= len || arn[at] != '/') {
		errf(why, whylen, "not a role (expected :role/ after the account)");
		return 0;
	}
	/* the path is arn[at..last], the name after it */
	for (last = len; last > at && arn[last - 1] != '/'; last--)
		;
	if (last - at > POD_ROLE_PATH_MAX) {
		errf(why, whylen, "role path longer than %d bytes", POD_ROLE_PATH_MAX);
		return 0;
	}
	for (i = at; i < last; i++) {
		if ((unsigned char)arn[i] < 0x21 || (unsigned char)arn[i] > 0x7e) {
			errf(why, whylen, "role path holds a byte IAM refuses (0x%02x)",
			    (unsigned char)arn[i]);
			return 0;
		}
		if (i > at && arn[i] == '/' && arn[i - 1] == '/') {
			errf(why, whylen, "role path holds an empty segment (//)");
			return 0;
		}
	}
	if (len == last || len - last > POD_ROLE_NAME_MAX) {
		errf(why, whylen, "role name of %zu bytes (1 to %d)", len - last,
		    POD_ROLE_NAME_MAX);
		return 0;
	}
	for (i = last; i < len; i++) {
		if (!name_byte_ok((unsigned char)arn[i])) {
			errf(why, whylen, "role name holds a byte IAM refuses (0x%02x; "
			    "letters, digits and + = , . @ _ -)", (unsigned char)arn[i]);
			return 0;
		}
	}
	return 1;
}

int
pods_role_resolve(const struct pod_opts *o, const char *val, size_t len, char *out,
    char *why, size_t whylen)
{
	size_t blen;

	out[0] = '\0';
	if (val == NULL || len == 0) {
		errf(why, whylen, "empty role");
		return -1;
	}
	if (len >= 4 && strncasecmp(val, ARN_PREFIX, 4) == 0) {
		if (!pods_arn_check(val, len, why, whylen))
			return -1;
		memcpy(out, val, len);
		out[len] = '\0';
		return 0;
	}
	if (o == NULL || o->po_base[0] == '\0') {
		errf(why, whylen, "a role name without --base-role-arn to complete it");
		return -1;
	}
	if (val[0] == '/') {
		val++;
		len--;
	}
	blen = strlen(o->po_base);
	if (len > POD_ARN_MAX - blen) {
		errf(why, whylen, "longer than %d bytes once completed", POD_ARN_MAX);
		return -1;
	}
	memcpy(out, o->po_base, blen);
	memcpy(out + blen, val, len);
	out[blen + len] = '\0';
	if (!pods_arn_check(out, blen + len, why, whylen)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int
pods_opts_set(struct pod_opts *o, const char *base, size_t baselen, const char *def,
    size_t deflen, int restrict_ns, char *err, size_t errlen)
{
	char why[POD_REASON_MAX];
	size_t at, i;

	memset(o, 0, sizeof(*o));
	o->po_restrict = restrict_ns;
	if (base != NULL) {
		/* the head, then nothing, or "/" and a path (its last "/" optional) */
		if ((at = arn_head(base, baselen, why, sizeof(why))) == 0) {
			errf(err, errlen, "--base-role-arn: %s", why);
			return -1;
		}
		if (baselen > at && base[at] != '/') {
			errf(err, errlen, "--base-role-arn: expected / after :role");
			return -1;
		}
		for (i = at; i < baselen; i++) {
			if ((unsigned char)base[i] < 0x21 || (unsigned char)base[i] > 0x7e ||
			    (i > at && base[i] == '/' && base[i - 1] == '/')) {
				errf(err, errlen, "--base-role-arn: the path holds a byte IAM "
				    "refuses or an empty segment");
				return -1;
			}
		}
		if (baselen + (baselen == at || base[baselen - 1] != '/') - at >
		    POD_ROLE_PATH_MAX) {
			errf(err, errlen, "--base-role-arn: role path longer than %d bytes",
			    POD_ROLE_PATH_MAX);
			return -1;
		}
		memcpy(o->po_base, base, baselen);
		if (baselen == at || base[baselen - 1] != '/')
			o->po_base[baselen++] = '/';
		o->po_base[baselen] = '\0';
	}
	if (def != NULL && pods_role_resolve(o, def, deflen, o->po_default, why,
	    sizeof(why)) == -1) {
		errf(err, errlen, "--default-role: %s", why);
		return -1;
	}
	return 0;
}
