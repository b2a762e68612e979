/*
 * test_sts_xml.c: sts_xml_parse (sts_xml.c), the STS reply parser.
 *
 * The documents follow the shapes of the STS API reference (AssumeRole,
 * GetSessionToken, and the query protocol's ErrorResponse, namespace
 * https://sts.amazonaws.com/doc/2011-06-15/).  Every failing case also
 * checks that the message quotes none of the test secrets and that the
 * result was wiped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "creds/creds.h"

#define T_NS		"https://sts.amazonaws.com/doc/2011-06-15/"
#define T_AKID		"ASIAQXSECRETAKID7777"
#define T_SECRET	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"
#define T_TOKEN		"FwoGZXIvYXdzEXAMPLESESSIONTOKEN+/=="
#define T_ARN		"arn:aws:sts::123456789012:assumed-role/app/dev-session"
#define T_ROLE_ID	"AROA3XFRBF535PLBIFPI4:dev-session"
#define T_RID		"c6104cbe-af31-11e0-8154-cbc7ccf896c7"
#define T_EXP		"2011-07-15T23:28:33.359Z"
#define T_EXP_EPOCH	((time_t)1310772513)	/* 2011-07-15T23:28:33Z */
#define T_GST_EXP	"2011-07-11T19:55:29.611Z"
#define T_GST_EPOCH	((time_t)1310414129)	/* 2011-07-11T19:55:29Z */
#define T_STATUS	403	/* set before each parse: must survive it */
#define T_DOC_MAX	(STS_RESP_MAX + 4096)	/* bytes of a built test document */

static char doc[T_DOC_MAX];
static struct sts_result res;
static char err[ERRBUF_LEN];

/* ---- helpers ----------------------------------------------------------- */

static int
parse(const char *body, size_t len, enum sts_action action)
{
	memset(&res, 0x5a, sizeof(res));	/* junk: the parser must reset it */
	res.st_http_status = T_STATUS;
	memset(err, 'x', sizeof(err) - 1);
	err[sizeof(err) - 1] = '\0';
	return sts_xml_parse(body, len, action, &res, err, sizeof(err));
}

static int
parse_str(const char *body, enum sts_action action)
{
	return parse(body, strlen(body), action);
}

static void
assert_wiped(void)
{
	static const struct cred zero;
	struct sts_result z;

	assert_memory_equal(&res.st_cred, &zero, sizeof(zero));
	memset(&z, 0, sizeof(z));
	z.st_http_status = T_STATUS;
	assert_memory_equal(&res, &z, sizeof(z));
}

/* A failure: -1, the exact message, nothing secret in it, r wiped. */
static void
expect_fail(const char *body, size_t len, enum sts_action action, const char *msg)
{
	assert_int_equal(parse(body, len, action), -1);
	if (msg != NULL)
		assert_string_equal(err, msg);
	assert_true(err[0] != '\0');
	assert_null(strstr(err, T_SECRET));
	assert_null(strstr(err, T_TOKEN));
	assert_null(strstr(err, T_AKID));
	assert_null(strchr(err, '\n'));
	assert_wiped();
}

static void
expect_fail_str(const char *body, enum sts_action action, const char *msg)
{
	expect_fail(body, strlen(body), action, msg);
}

/* An AssumeRoleResponse from parts; NULL leaves an element out. */
static const char *
ar_doc(const char *akid, const char *secret, const char *token, const char *exp,
    const char *arn)
{
	static char creds[T_DOC_MAX];
	char aru[STS_ARN_MAX * 2];
	size_t o = 0;
	int n;

	creds[0] = aru[0] = '\0';
#define PART(tag, v) do {						\
		if ((v) != NULL) {					\
			n = snprintf(creds + o, sizeof(creds) - o,	\
			    "<" tag ">%s</" tag ">", (v));		\
			assert_true(n > 0 && (size_t)n < sizeof(creds) - o); \
			o += (size_t)n;					\
		}							\
	} while (0)
	PART("AccessKeyId", akid);
	PART("SecretAccessKey", secret);
	PART("SessionToken", token);
	PART("Expiration", exp);
#undef PART
	if (arn != NULL) {
		n = snprintf(aru, sizeof(aru), "<AssumedRoleUser><Arn>%s</Arn>"
		    "<AssumedRoleId>" T_ROLE_ID "</AssumedRoleId></AssumedRoleUser>", arn);
		assert_true(n > 0 && (size_t)n < sizeof(aru));
	}
	n = snprintf(doc, sizeof(doc), "<AssumeRoleResponse xmlns=\"" T_NS "\">"
	    "<AssumeRoleResult>%s<Credentials>%s</Credentials></AssumeRoleResult>"
	    "<ResponseMetadata><RequestId>" T_RID "</RequestId></ResponseMetadata>"
	    "</AssumeRoleResponse>", aru, creds);
	assert_true(n > 0 && (size_t)n < sizeof(doc));
	return doc;
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
expect_creds(const char *akid, const char *secret, const char *token, time_t exp)
{
	assert_int_equal(res.st_ok, 1);
	assert_string_equal(res.st_cred.cr_akid, akid);
	assert_string_equal(res.st_cred.cr_secret, secret);
	assert_string_equal(res.st_cred.cr_token, token);
	assert_int_equal(res.st_cred.cr_expiration, exp);
	assert_int_equal(res.st_cred.cr_last_updated, 0);
	assert_int_equal(res.st_http_status, T_STATUS);
	assert_string_equal(res.st_code, "");
	assert_string_equal(res.st_message, "");
}

/* ---- success ----------------------------------------------------------- */

/* The AssumeRole reply as the API reference shows it, pretty-printed. */
static const char ar_full[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<AssumeRoleResponse xmlns=\"" T_NS "\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>DevUser123</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>" T_ARN "</Arn>\n"
    "      <AssumedRoleId>" T_ROLE_ID "</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>" T_AKID "</AccessKeyId>\n"
    "      <SecretAccessKey>\n        " T_SECRET "\n      </SecretAccessKey>\n"
    "      <SessionToken>" T_TOKEN "</SessionToken>\n"
    "      <Expiration>" T_EXP "</Expiration>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>6</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>" T_RID "</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

static void
test_assume_role_ok(void **state)
{
	(void)state;
	assert_int_equal(parse_str(ar_full, STS_ASSUME_ROLE), 0);
	expect_creds(T_AKID, T_SECRET, T_TOKEN, T_EXP_EPOCH);
	assert_string_equal(res.st_assumed_arn, T_ARN);
	assert_string_equal(res.st_assumed_id, T_ROLE_ID);
	assert_string_equal(res.st_request_id, T_RID);

	/* the compact form, and the minimum: no AssumedRoleId, no metadata */
	assert_int_equal(parse_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, T_EXP, T_ARN),
	    STS_ASSUME_ROLE), 0);
	expect_creds(T_AKID, T_SECRET, T_TOKEN, T_EXP_EPOCH);
	assert_int_equal(parse_str("<AssumeRoleResponse><AssumeRoleResult>"
	    "<AssumedRoleUser><Arn>a</Arn></AssumedRoleUser><Credentials>"
	    "<Expiration>2030-01-02T03:04:05Z</Expiration><SessionToken>t</SessionToken>"
	    "<SecretAccessKey>s</SecretAccessKey><AccessKeyId>k</AccessKeyId>"
	    "</Credentials></AssumeRoleResult></AssumeRoleResponse>", STS_ASSUME_ROLE), 0);
	expect_creds("k", "s", "t", (time_t)1893553445);
	assert_string_equal(res.st_assumed_arn, "a");
	assert_string_equal(res.st_assumed_id, "");
	assert_string_equal(res.st_request_id, "");
}

static const char gst_full[] =
    "<GetSessionTokenResponse xmlns=\"" T_NS "\">\n"
    "  <GetSessionTokenResult>\n"
    "    <Credentials>\n"
    "      <SessionToken>\n       " T_TOKEN "\n      </SessionToken>\n"
    "      <SecretAccessKey>\n      " T_SECRET "\n      </SecretAccessKey>\n"
    "      <Expiration>" T_GST_EXP "</Expiration>\n"
    "      <AccessKeyId>" T_AKID "</AccessKeyId>\n"
    "    </Credentials>\n"
    "  </GetSessionTokenResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</GetSessionTokenResponse>";

static void
test_get_session_token_ok(void **state)
{
	(void)state;
	assert_int_equal(parse_str(gst_full, STS_GET_SESSION_TOKEN), 0);
	expect_creds(T_AKID, T_SECRET, T_TOKEN, T_GST_EPOCH);
	assert_string_equal(res.st_assumed_arn, "");
	assert_string_equal(res.st_assumed_id, "");
	assert_string_equal(res.st_request_id, "58c5dbae-abef-11e0-8cfe-09039844ac7d");

	/* "+00:00" instead of "Z", no fraction */
	assert_int_equal(parse_str("<GetSessionTokenResponse><GetSessionTokenResult>"
	    "<Credentials><AccessKeyId>k</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
	    "<SessionToken>t</SessionToken><Expiration>2030-01-02T03:04:05+00:00"
	    "</Expiration></Credentials></GetSessionTokenResult>"
	    "</GetSessionTokenResponse>", STS_GET_SESSION_TOKEN), 0);
	expect_creds("k", "s", "t", (time_t)1893553445);
}

static void
test_namespaces(void **state)
{
	static const char *const docs[] = {
		/* none */
		"<AssumeRoleResponse><AssumeRoleResult>"
		"<AssumedRoleUser><Arn>A</Arn></AssumedRoleUser><Credentials>"
		"<AccessKeyId>K</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
		"<SessionToken>T</SessionToken><Expiration>" T_EXP "</Expiration>"
		"</Credentials></AssumeRoleResult></AssumeRoleResponse>",
		/* a prefix */
		"<sts:AssumeRoleResponse xmlns:sts=\"" T_NS "\"><sts:AssumeRoleResult>"
		"<sts:AssumedRoleUser><sts:Arn>A</sts:Arn></sts:AssumedRoleUser>"
		"<sts:Credentials><sts:AccessKeyId>K</sts:AccessKeyId>"
		"<sts:SecretAccessKey>S</sts:SecretAccessKey><sts:SessionToken>T"
		"</sts:SessionToken><sts:Expiration>" T_EXP "</sts:Expiration>"
		"</sts:Credentials></sts:AssumeRoleResult></sts:AssumeRoleResponse>",
		/* another namespace */
		"<AssumeRoleResponse xmlns=\"urn:example:other\"><AssumeRoleResult>"
		"<AssumedRoleUser><Arn>A</Arn></AssumedRoleUser><Credentials>"
		"<AccessKeyId>K</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
		"<SessionToken>T</SessionToken><Expiration>" T_EXP "</Expiration>"
		"</Credentials></AssumeRoleResult></AssumeRoleResponse>",
		/* attributes are ignored */
		"<AssumeRoleResponse xmlns=\"" T_NS "\" a=\"1\"><AssumeRoleResult b=\"2\">"
		"<AssumedRoleUser><Arn c=\"3\">A</Arn></AssumedRoleUser><Credentials>"
		"<AccessKeyId>K</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
		"<SessionToken>T</SessionToken><Expiration>" T_EXP "</Expiration>"
		"</Credentials></AssumeRoleResult></AssumeRoleResponse>",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (parse_str(docs[i], STS_ASSUME_ROLE) != 0)
			fail_msg("doc %zu: %s", i, err);
		expect_creds("K", "S", "T", T_EXP_EPOCH);
		assert_string_equal(res.st_assumed_arn, "A");
	}
	/* expat (since 2.4.5) refuses a URI holding the separator we gave it */
	expect_fail_str("<ErrorResponse xmlns=\"urn:x|y\"><Error><Code>c</Code>"
	    "</Error></ErrorResponse>", STS_ASSUME_ROLE, NULL);
	assert_non_null(strstr(err, "not well-formed"));
	/* an unbound prefix is not well-formed */
	expect_fail_str("<sts:AssumeRoleResponse/>", STS_ASSUME_ROLE, NULL);
	assert_non_null(strstr(err, "not well-formed"));
}

/* Entity references, character references and CDATA split the text. */
static void
test_split_text(void **state)
{
	char *big, *want;
	size_t i, o;
	int n;

	(void)state;
	assert_int_equal(parse_str(ar_doc("AS&#73;A&#x41;",
	    "  a&amp;b&lt;c&gt;d&quot;e&apos;f<![CDATA[ <&> ]]>g\n  ",
	    "<![CDATA[ \n tok]]>en<![CDATA[]]><![CDATA[+/=]]>&#x3D; \n",
	    "<![CDATA[2011-07-15T23:28:33]]>.359Z", T_ARN), STS_ASSUME_ROLE), 0);
	expect_creds("ASIAA", "a&b<c>d\"e'f <&> g", "token+/==", T_EXP_EPOCH);

	/* a token of 8192 bytes delivered as 4096 two-byte pieces */
	big = malloc(CRED_TOKEN_MAX * 8);
	want = malloc(CRED_TOKEN_MAX + 1);
	assert_non_null(big);
	assert_non_null(want);
	for (i = 0, o = 0; i < CRED_TOKEN_MAX / 2; i++) {
		n = snprintf(big + o, CRED_TOKEN_MAX * 8 - o, i % 2 ? "A&#66;" :
		    "<![CDATA[CD]]>");
		o += (size_t)n;
		memcpy(want + i * 2, i % 2 ? "AB" : "CD", 2);
	}
	want[CRED_TOKEN_MAX] = '\0';
	assert_int_equal(parse_str(ar_doc("K", "S", big, T_EXP, T_ARN),
	    STS_ASSUME_ROLE), 0);
	assert_string_equal(res.st_cred.cr_token, want);
	assert_int_equal(strlen(res.st_cred.cr_token), CRED_TOKEN_MAX);
	free(big);
	free(want);
}

/* ---- STS errors -------------------------------------------------------- */

struct err_case {
	const char	*ec_code;
	const char	*ec_message;
	const char	*ec_rid;
};

static const struct err_case err_cases[] = {
	{ "AccessDenied", "User: arn:aws:iam::123456789012:user/dev is not authorized "
	    "to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/app",
	    "4a9d6a37-1e6b-4a2c-9e43-4a38f1c4a0c1" },
	{ "Throttling", "Rate exceeded", "0b5f6a1c-6d4e-4c48-8e0f-7e6a2b1f9d10" },
	{ "InvalidClientTokenId", "The security token included in the request is invalid.",
	    "abcd-5678" },
	{ "SignatureDoesNotMatch", "The request signature we calculated does not match "
	    "the signature you provided. Check your AWS Secret Access Key and signing "
	    "method. Consult the service documentation for details.", "req-1" },
};

static void
test_error_response(void **state)
{
	size_t i;
	int n, a;

	(void)state;
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		for (a = 0; a < 2; a++) {
			n = snprintf(doc, sizeof(doc),
			    "<ErrorResponse xmlns=\"" T_NS "\">\n  <Error>\n"
			    "    <Type>Sender</Type>\n    <Code>%s</Code>\n"
			    "    <Message>%s</Message>\n  </Error>\n"
			    "  <RequestId>%s</RequestId>\n</ErrorResponse>\n",
			    err_cases[i].ec_code, err_cases[i].ec_message,
			    err_cases[i].ec_rid);
			assert_true(n > 0 && (size_t)n < sizeof(doc));
			assert_int_equal(parse_str(doc, a ? STS_ASSUME_ROLE :
			    STS_GET_SESSION_TOKEN), 0);
			assert_int_equal(res.st_ok, 0);
			assert_string_equal(res.st_code, err_cases[i].ec_code);
			assert_string_equal(res.st_message, err_cases[i].ec_message);
			assert_string_equal(res.st_request_id, err_cases[i].ec_rid);
			assert_string_equal(res.st_cred.cr_akid, "");
			assert_string_equal(res.st_cred.cr_secret, "");
			assert_string_equal(res.st_cred.cr_token, "");
			assert_int_equal(res.st_cred.cr_expiration, 0);
			assert_int_equal(res.st_http_status, T_STATUS);
		}

	/* no namespace, no Type, no Message, no RequestId */
	assert_int_equal(parse_str("<ErrorResponse><Error><Code>ExpiredToken</Code>"
	    "</Error></ErrorResponse>", STS_ASSUME_ROLE), 0);
	assert_int_equal(res.st_ok, 0);
	assert_string_equal(res.st_code, "ExpiredToken");
	assert_string_equal(res.st_message, "");
	assert_string_equal(res.st_request_id, "");

	/* no Code */
	expect_fail_str("<ErrorResponse><Error><Message>m</Message></Error>"
	    "</ErrorResponse>", STS_ASSUME_ROLE, "ErrorResponse has no <Code>");
	expect_fail_str("<ErrorResponse><RequestId>r</RequestId></ErrorResponse>",
	    STS_ASSUME_ROLE, "ErrorResponse has no <Error>");
	expect_fail_str("<ErrorResponse><Error><Code> </Code></Error></ErrorResponse>",
	    STS_ASSUME_ROLE, "<Code> is empty");
	/* Code where STS never puts it */
	expect_fail_str("<ErrorResponse><Code>AccessDenied</Code></ErrorResponse>",
	    STS_ASSUME_ROLE, "ErrorResponse has no <Error>");
}

/* Message is cut to its field, at a character boundary; controls become spaces. */
static void
test_error_message_cut(void **state)
{
	char msg[sizeof(res.st_message) * 2];
	size_t cap = sizeof(res.st_message) - 1;
	int n;

	(void)state;
	/* 510 'a' then "é" (2 bytes) would need 512 bytes: the é goes */
	memset(msg, 'a', cap - 1);
	memcpy(msg + cap - 1, "\xc3\xa9 and more", 12);
	n = snprintf(doc, sizeof(doc), "<ErrorResponse><Error><Code>Throttling</Code>"
	    "<Message>%s</Message></Error></ErrorResponse>", msg);
	assert_true(n > 0 && (size_t)n < sizeof(doc));
	assert_int_equal(parse_str(doc, STS_ASSUME_ROLE), 0);
	assert_int_equal(strlen(res.st_message), cap - 1);
	assert_int_equal(strspn(res.st_message, "a"), cap - 1);

	/* exactly full, then more */
	memset(msg, 'b', cap + 100);
	msg[cap + 100] = '\0';
	n = snprintf(doc, sizeof(doc), "<ErrorResponse><Error><Code>Throttling</Code>"
	    "<Message>%s</Message></Error></ErrorResponse>", msg);
	assert_true(n > 0 && (size_t)n < sizeof(doc));
	assert_int_equal(parse_str(doc, STS_ASSUME_ROLE), 0);
	assert_int_equal(strlen(res.st_message), cap);

	/* TAB, LF, CR and DEL become spaces; the ends are trimmed */
	assert_int_equal(parse_str("<ErrorResponse><Error><Code>\tAccess&#x7f;Denied\n"
	    "</Code><Message>\n line1\nline2\r\n\tend&#x7F;&#x9;</Message></Error>"
	    "<RequestId>r&#xD;id</RequestId></ErrorResponse>", STS_ASSUME_ROLE), 0);
	assert_string_equal(res.st_code, "Access Denied");
	assert_string_equal(res.st_message, "line1 line2  end");
	assert_string_equal(res.st_request_id, "r id");

	/* a Code longer than its field is an error, not a cut */
	memset(msg, 'C', sizeof(res.st_code));
	msg[sizeof(res.st_code)] = '\0';
	n = snprintf(doc, sizeof(doc), "<ErrorResponse><Error><Code>%s</Code>"
	    "</Error></ErrorResponse>", msg);
	assert_true(n > 0 && (size_t)n < sizeof(doc));
	expect_fail_str(doc, STS_ASSUME_ROLE, "<Code> is longer than 127 bytes");
}

/* ---- hostile XML ------------------------------------------------------- */

static void
test_doctype_refused(void **state)
{
	static const char *const docs[] = {
		"<!DOCTYPE AssumeRoleResponse><AssumeRoleResponse/>",
		/* billion laughs */
		"<?xml version=\"1.0\"?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol \"lol\">\n"
		" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		" <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
		" <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		" <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		" <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
		" <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
		" <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
		" <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
		" <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
		"]>\n"
		"<ErrorResponse><Error><Code>&lol9;</Code></Error></ErrorResponse>",
		/* XXE */
		("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<ErrorResponse><Error><Code>&x;</Code></Error></ErrorResponse>"),
		/* external DTD, parameter entities */
		"<!DOCTYPE r SYSTEM \"http://127.0.0.1/evil.dtd\"><ErrorResponse/>",
		"<!DOCTYPE r [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><r/>",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_fail_str(docs[i], STS_ASSUME_ROLE, "DOCTYPE refused");
	/* without a DTD, an entity reference is undefined */
	expect_fail_str("<ErrorResponse><Error><Code>&lol9;</Code></Error>"
	    "</ErrorResponse>", STS_ASSUME_ROLE, NULL);
	assert_non_null(strstr(err, "undefined entity"));
}

static void
test_wrong_root(void **state)
{
	(void)state;
	expect_fail_str(gst_full, STS_ASSUME_ROLE, "unexpected document element "
	    "<GetSessionTokenResponse>, wanted <AssumeRoleResponse>");
	expect_fail_str(ar_full, STS_GET_SESSION_TOKEN, "unexpected document element "
	    "<AssumeRoleResponse>, wanted <GetSessionTokenResponse>");
	expect_fail_str("<GetCallerIdentityResponse xmlns=\"" T_NS "\">"
	    "<GetCallerIdentityResult/></GetCallerIdentityResponse>", STS_ASSUME_ROLE,
	    "unexpected document element <GetCallerIdentityResponse>, wanted "
	    "<AssumeRoleResponse>");
	/* the Result of the other action */
	expect_fail_str("<AssumeRoleResponse><GetSessionTokenResult><Credentials>"
	    "<AccessKeyId>" T_AKID "</AccessKeyId><SecretAccessKey>" T_SECRET
	    "</SecretAccessKey><SessionToken>" T_TOKEN "</SessionToken><Expiration>"
	    T_EXP "</Expiration></Credentials></GetSessionTokenResult>"
	    "</AssumeRoleResponse>", STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <AssumeRoleResult>");
	/* Credentials outside the Result */
	expect_fail_str("<GetSessionTokenResponse><GetSessionTokenResult/><Credentials>"
	    "<AccessKeyId>" T_AKID "</AccessKeyId><SecretAccessKey>" T_SECRET
	    "</SecretAccessKey><SessionToken>" T_TOKEN "</SessionToken><Expiration>"
	    T_EXP "</Expiration></Credentials></GetSessionTokenResponse>",
	    STS_GET_SESSION_TOKEN, "GetSessionTokenResponse has no <Credentials>");
	/* a bad action */
	expect_fail_str(ar_full, (enum sts_action)7, "unknown STS action");
}

static void
test_missing_fields(void **state)
{
	(void)state;
	expect_fail_str(ar_doc(T_AKID, T_SECRET, NULL, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <SessionToken>");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, "", T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "<SessionToken> is empty");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, " \n\t ", T_EXP, T_ARN),
	    STS_ASSUME_ROLE, "<SessionToken> is empty");
	expect_fail_str(ar_doc(NULL, T_SECRET, T_TOKEN, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <AccessKeyId>");
	expect_fail_str(ar_doc(T_AKID, NULL, T_TOKEN, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <SecretAccessKey>");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, NULL, T_ARN), STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <Expiration>");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, T_EXP, NULL), STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <AssumedRoleUser>");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, T_EXP, ""), STS_ASSUME_ROLE,
	    "<Arn> is empty");
	expect_fail_str("<AssumeRoleResponse><AssumeRoleResult><AssumedRoleUser>"
	    "<Arn>a</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>",
	    STS_ASSUME_ROLE, "AssumeRoleResponse has no <Credentials>");
	expect_fail_str("<AssumeRoleResponse/>", STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <AssumeRoleResult>");
	expect_fail_str("<GetSessionTokenResponse><GetSessionTokenResult><Credentials>"
	    "<AccessKeyId>" T_AKID "</AccessKeyId><SecretAccessKey>" T_SECRET
	    "</SecretAccessKey><Expiration>" T_EXP "</Expiration></Credentials>"
	    "</GetSessionTokenResult></GetSessionTokenResponse>", STS_GET_SESSION_TOKEN,
	    "GetSessionTokenResponse has no <SessionToken>");

	/* an Expiration that does not parse */
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, "2011-07-15 23:28:33Z", T_ARN),
	    STS_ASSUME_ROLE, "<Expiration> is not an ISO 8601 UTC time");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, "1310772513", T_ARN),
	    STS_ASSUME_ROLE, "<Expiration> is not an ISO 8601 UTC time");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, T_SECRET, T_ARN),
	    STS_ASSUME_ROLE, "<Expiration> is not an ISO 8601 UTC time");
}

static void
test_strict_structure(void **state)
{
	(void)state;
	/* a known element twice */
	expect_fail_str("<AssumeRoleResponse><AssumeRoleResult><Credentials>"
	    "<AccessKeyId>" T_AKID "</AccessKeyId><AccessKeyId>" T_AKID "</AccessKeyId>"
	    "</Credentials></AssumeRoleResult></AssumeRoleResponse>", STS_ASSUME_ROLE,
	    "duplicate <AccessKeyId>");
	expect_fail_str("<ErrorResponse><Error><Code>a</Code></Error><Error>"
	    "<Code>b</Code></Error></ErrorResponse>", STS_ASSUME_ROLE, "duplicate <Error>");
	/* an element inside a text field */
	expect_fail_str(ar_doc(T_AKID, T_SECRET, "FwoG<b>" T_TOKEN "</b>", T_EXP, T_ARN),
	    STS_ASSUME_ROLE, "unexpected element inside <SessionToken>");
	/* control characters inside a credential */
	expect_fail_str(ar_doc(T_AKID, "wJalr\tXUtn", T_TOKEN, T_EXP, T_ARN),
	    STS_ASSUME_ROLE, "<SecretAccessKey> has a control character");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, "Fwo\nGZX", T_EXP, T_ARN),
	    STS_ASSUME_ROLE, "<SessionToken> has a control character");
	expect_fail_str(ar_doc(T_AKID, T_SECRET, "Fwo&#x7f;GZX", T_EXP, T_ARN),
	    STS_ASSUME_ROLE, "<SessionToken> has a control character");
	/* inner spaces are kept as sent */
	assert_int_equal(parse_str(ar_doc("A B", T_SECRET, T_TOKEN, T_EXP, T_ARN),
	    STS_ASSUME_ROLE), 0);
	assert_string_equal(res.st_cred.cr_akid, "A B");
	/* unknown elements, deep or shallow, are skipped with their contents */
	assert_int_equal(parse_str("<AssumeRoleResponse><X><Credentials><AccessKeyId>"
	    "no</AccessKeyId></Credentials></X><AssumeRoleResult><Y><Z><Arn>no</Arn>"
	    "</Z></Y><AssumedRoleUser><Arn>A</Arn><Extra>e</Extra></AssumedRoleUser>"
	    "<Credentials><New/><AccessKeyId>K</AccessKeyId><SecretAccessKey>S"
	    "</SecretAccessKey><SessionToken>T</SessionToken><Expiration>" T_EXP
	    "</Expiration></Credentials></AssumeRoleResult><ResponseMetadata>"
	    "<Other>o</Other><RequestId>R</RequestId></ResponseMetadata>"
	    "</AssumeRoleResponse>", STS_ASSUME_ROLE), 0);
	expect_creds("K", "S", "T", T_EXP_EPOCH);
	assert_string_equal(res.st_assumed_arn, "A");
	assert_string_equal(res.st_request_id, "R");
	/* comments and processing instructions are ignored */
	assert_int_equal(parse_str("<?xml version=\"1.0\"?><!-- c --><?pi x?>"
	    "<ErrorResponse><Error><Code>A<!-- c -->B<?pi?>C</Code></Error>"
	    "</ErrorResponse>", STS_ASSUME_ROLE), 0);
	assert_string_equal(res.st_code, "ABC");
}

static void
test_overlong(void **state)
{
	char *s;

	(void)state;
	s = repeat('K', CRED_AKID_MAX + 1);
	expect_fail_str(ar_doc(s, T_SECRET, T_TOKEN, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "<AccessKeyId> is longer than 128 bytes");
	s[CRED_AKID_MAX] = '\0';
	assert_int_equal(parse_str(ar_doc(s, T_SECRET, T_TOKEN, T_EXP, T_ARN),
	    STS_ASSUME_ROLE), 0);
	assert_string_equal(res.st_cred.cr_akid, s);
	free(s);

	s = repeat('S', CRED_SECRET_MAX + 1);
	expect_fail_str(ar_doc(T_AKID, s, T_TOKEN, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "<SecretAccessKey> is longer than 256 bytes");
	free(s);

	s = repeat('T', CRED_TOKEN_MAX + 1);
	expect_fail_str(ar_doc(T_AKID, T_SECRET, s, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "<SessionToken> is longer than 8192 bytes");
	free(s);

	/* exactly full, with whitespace around it that does not count */
	s = repeat(' ', CRED_TOKEN_MAX + 400);
	memset(s + 200, 'T', CRED_TOKEN_MAX);
	assert_int_equal(parse_str(ar_doc(T_AKID, T_SECRET, s, T_EXP, T_ARN),
	    STS_ASSUME_ROLE), 0);
	assert_int_equal(strlen(res.st_cred.cr_token), CRED_TOKEN_MAX);
	assert_int_equal(strspn(res.st_cred.cr_token, "T"), CRED_TOKEN_MAX);
	/* ... but whitespace inside that would not fit is an overflow */
	s[200 + CRED_TOKEN_MAX - 1] = ' ';
	s[200 + CRED_TOKEN_MAX + 100] = 'T';
	expect_fail_str(ar_doc(T_AKID, T_SECRET, s, T_EXP, T_ARN), STS_ASSUME_ROLE,
	    "<SessionToken> is longer than 8192 bytes");
	free(s);

	s = repeat('a', STS_ARN_MAX);
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, T_EXP, s), STS_ASSUME_ROLE,
	    "<Arn> is longer than 2047 bytes");
	free(s);

	s = repeat('r', sizeof(res.st_request_id));
	snprintf(doc, sizeof(doc), "<ErrorResponse><Error><Code>c</Code></Error>"
	    "<RequestId>%s</RequestId></ErrorResponse>", s);
	expect_fail_str(doc, STS_ASSUME_ROLE, "<RequestId> is longer than 127 bytes");
	free(s);

	s = repeat('9', 100);
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, s, T_ARN), STS_ASSUME_ROLE,
	    "<Expiration> is longer than 63 bytes");
	free(s);

	/* the whole body */
	s = repeat(' ', STS_RESP_MAX + 1);
	memcpy(s, ar_full, strlen(ar_full));
	expect_fail(s, STS_RESP_MAX + 1, STS_ASSUME_ROLE,
	    "STS reply body is over 65536 bytes");
	/* exactly the cap is fine */
	assert_int_equal(parse(s, STS_RESP_MAX, STS_ASSUME_ROLE), 0);
	expect_creds(T_AKID, T_SECRET, T_TOKEN, T_EXP_EPOCH);
	free(s);
}

static void
test_garbage(void **state)
{
	static const char *const docs[] = {
		"hello",
		"{\"AccessKeyId\": \"" T_AKID "\"}",
		"<",
		"<AssumeRoleResponse>",
		"<AssumeRoleResponse></AssumeRoleResult>",
		"<ErrorResponse><Error><Code>x</Code></Error></ErrorResponse><x/>",
		"\xef\xbb\xbf\xff\xfe",
		"<?xml version=\"1.0\" encoding=\"EBCDIC-XYZ\"?><a/>",
	};
	size_t i, half;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		expect_fail_str(docs[i], STS_ASSUME_ROLE, NULL);
		assert_non_null(strstr(err, "STS reply is not well-formed XML: "));
	}
	/* truncated anywhere inside */
	for (half = 1; half < strlen(ar_full) - 2; half += 7) {
		expect_fail(ar_full, half, STS_ASSUME_ROLE, NULL);
		if (strstr(err, "not well-formed") == NULL)
			assert_non_null(strstr(err, "unexpected document element"));
	}
	/* a NUL inside */
	memcpy(doc, ar_full, sizeof(ar_full));
	doc[100] = '\0';
	expect_fail(doc, sizeof(ar_full) - 1, STS_ASSUME_ROLE, NULL);
	/* empty */
	expect_fail("", 0, STS_ASSUME_ROLE, "STS reply body is empty");
	expect_fail(NULL, 0, STS_ASSUME_ROLE, "STS reply body is empty");
	expect_fail_str("   \n", STS_ASSUME_ROLE, NULL);
}

/* No failure message quotes a secret, even when the secret is in an odd place. */
static void
test_err_never_secret(void **state)
{
	static const char *const docs[] = {
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>" T_AKID
		"</AccessKeyId><SecretAccessKey>" T_SECRET "</SecretAccessKey>"
		"<SessionToken>" T_TOKEN "</SessionToken></Credentials>",
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><SecretAccessKey>"
		T_SECRET "<" T_TOKEN "/></SecretAccessKey></Credentials>"
		"</AssumeRoleResult></AssumeRoleResponse>",
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><SessionToken>"
		T_TOKEN "&" T_SECRET ";</SessionToken></Credentials></AssumeRoleResult>"
		"</AssumeRoleResponse>",
		"<AssumeRoleResponse><AssumeRoleResult><Credentials><Expiration>"
		T_SECRET "</Expiration><AccessKeyId>" T_AKID "</AccessKeyId>"
		"<SecretAccessKey>" T_SECRET "</SecretAccessKey><SessionToken>" T_TOKEN
		"</SessionToken></Credentials></AssumeRoleResult></AssumeRoleResponse>",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		expect_fail_str(docs[i], STS_ASSUME_ROLE, NULL);

	/* a failure after the credentials were read wipes them */
	expect_fail_str(ar_doc(T_AKID, T_SECRET, T_TOKEN, T_EXP, NULL), STS_ASSUME_ROLE,
	    "AssumeRoleResponse has no <AssumedRoleUser>");

	/* no err buffer at all is fine */
	memset(&res, 0, sizeof(res));
	assert_int_equal(sts_xml_parse("x", 1, STS_ASSUME_ROLE, &res, NULL, 0), -1);
	assert_int_equal(sts_xml_parse("x", 1, STS_ASSUME_ROLE, &res, err, 0), -1);
	/* a short one is cut, and terminated */
	assert_int_equal(sts_xml_parse(gst_full, strlen(gst_full), STS_ASSUME_ROLE,
	    &res, err, 8), -1);
	assert_string_equal(err, "unexpec");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assume_role_ok),
		cmocka_unit_test(test_get_session_token_ok),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_split_text),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_error_message_cut),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_wrong_root),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_strict_structure),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_err_never_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
