/*
 * creds.c: credential providers.
 *
 * A provider fills a struct cred; the server keeps the last good one and
 * rebuilds the snapshot when it is replaced (main.c), so a request never
 * waits on a provider.  This file holds the providers that need no I/O:
 * AWS's documented example credentials, and the placeholder credentials of
 * identity-credentials/ec2 (contract §8.7).
 */
#include <stdio.h>
#include <string.h>

#include "imds.h"

/* AWS's documentation placeholders (contract §8.6). */
#define EXAMPLE_AKID		"ASIAIOSFODNN7EXAMPLE"
#define EXAMPLE_SECRET		"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
/*
 * The example session token: real ones are long base64 strings (about
 * 1 KiB); clients such as botocore pass them through untouched.  We serve
 * the base64 of a sentence that says what it is, repeated to a realistic
 * length, so that nobody can mistake it for a live token.
 */
#define EXAMPLE_TOKEN_TEXT	"gimme-aws-mini example session token: not valid at AWS. "
#define EXAMPLE_TOKEN_REPEAT	12	/* 57 bytes each: ~912 base64 characters */

/* Placeholders for the instance identity role (contract §8.7). */
#define EC2_AKID		"ASIAEC2IDENTEXAMPLE0"
#define EC2_SECRET		"EC2InstanceIdentityPlaceholderEXAMPLEKEY"
#define EC2_TOKEN_TEXT		"gimme-aws-mini placeholder instance identity credentials: not valid at AWS. "

/* Fill c_token with the base64 of text repeated n times. */
static void
token_text(struct cred *c, const char *text, int n)
{
	unsigned char raw[CRED_TOKEN_MAX / 2];
	size_t len = strlen(text), off = 0;
	int i;

	for (i = 0; i < n && off + len <= sizeof(raw); i++) {
		memcpy(raw + off, text, len);
		off += len;
	}
	if (b64_encode(raw, off, c->c_token, sizeof(c->c_token), 0, 0) == 0)
		c->c_token[0] = '\0';
}

static int
example_fetch(struct cred_provider *cp, time_t now, struct cred *out, char *err,
    size_t errlen)
{
	(void)cp;
	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	snprintf(out->c_akid, sizeof(out->c_akid), "%s", EXAMPLE_AKID);
	snprintf(out->c_secret, sizeof(out->c_secret), "%s", EXAMPLE_SECRET);
	token_text(out, EXAMPLE_TOKEN_TEXT, EXAMPLE_TOKEN_REPEAT);
	/* No upstream expiry: they "last" as long as an EC2 role's do. */
	out->c_last_updated = now;
	out->c_expiration = now + CRED_LIFETIME_EXAMPLE;
	return 0;
}

struct cred_provider cred_provider_example = {
	.cp_name = "example",
	.cp_fetch = example_fetch,
	.cp_ctx = NULL,
};

void
creds_ec2_placeholder(time_t now, struct cred *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->c_akid, sizeof(out->c_akid), "%s", EC2_AKID);
	snprintf(out->c_secret, sizeof(out->c_secret), "%s", EC2_SECRET);
	token_text(out, EC2_TOKEN_TEXT, 1);
	out->c_last_updated = now;
	out->c_expiration = now + CRED_LIFETIME_EXAMPLE;
}

void
cred_wipe(struct cred *c)
{
	explicit_bzero(c, sizeof(*c));
}
