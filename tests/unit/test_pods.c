/*
 * test_pods.c: which role a pod gets (pods.h): role ARNs and names with
 * --base-role-arn, the order of the rules, namespace restrictions
 * (allowed-roles globs, permitted regular expressions), role-map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "creds/creds.h"
#include "pods/pods.h"

#define ACCT		"123456789012"
#define BASE		"arn:aws:iam::" ACCT ":role/"
#define ARN_A		BASE "app-a"
#define ARN_SA		BASE "reporter"
#define ARN_ASSOC	BASE "uploader"
#define ARN_DEF		BASE "node-default"
#define ARN_LOCAL	"arn:aws:iam::210987654321:role/dev-stand-in"

#define T(s)		((struct pod_text){ (s), sizeof(s) - 1 })
#define NONE		((struct pod_text){ NULL, 0 })

static void
arn_ok(const char *arn)
{
	char why[POD_REASON_MAX] = "";

	if (!pods_arn_check(arn, strlen(arn), why, sizeof(why)))
		print_error("%s: %s\n", arn, why);
	assert_true(pods_arn_check(arn, strlen(arn), why, sizeof(why)));
}

static void
arn_bad(const char *arn, const char *want)
{
	char why[POD_REASON_MAX] = "";

	assert_false(pods_arn_check(arn, strlen(arn), why, sizeof(why)));
	assert_string_equal(why, want);
}

static void
test_arn_check(void **state)
{
	char big[POD_ARN_MAX + 8];
	size_t n;

	(void)state;
	arn_ok(ARN_A);
	arn_ok("arn:aws-cn:iam::" ACCT ":role/x");
	arn_ok("arn:aws-us-gov:iam::" ACCT ":role/team/sub/a+b=c,d.e@f_g-h");
	arn_ok("arn:aws-iso-b:iam::" ACCT ":role/x");
	arn_bad("ARN:aws:iam::" ACCT ":role/x",
	    "not an ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME)");
	arn_bad("arn:aws-:iam::" ACCT ":role/x", "not a partition (aws, aws-cn, aws-us-gov, ...)");
	arn_bad("arn:gcp:iam::" ACCT ":role/x", "not a partition (aws, aws-cn, aws-us-gov, ...)");
	arn_bad("arn:AWS:iam::" ACCT ":role/x", "not a partition (aws, aws-cn, aws-us-gov, ...)");
	arn_bad("arn:aws:sts::" ACCT ":role/x",
	    "not an IAM ARN (expected :iam:: after the partition)");
	arn_bad("arn:aws:iam::12345678901:role/x", "the account is not 12 digits");
	arn_bad("arn:aws:iam::1234567890123:role/x", "the account is not 12 digits");
	arn_bad("arn:aws:iam::12345678901a:role/x", "the account is not 12 digits");
	arn_bad("arn:aws:iam::" ACCT ":user/x", "not a role (expected :role/ after the account)");
	arn_bad("arn:aws:iam::" ACCT ":role", "not a role (expected :role/ after the account)");
	arn_bad("arn:aws:iam::" ACCT ":rolex/y", "not a role (expected :role/ after the account)");
	arn_bad(BASE, "role name of 0 bytes (1 to 64)");
	arn_bad(BASE "team/", "role name of 0 bytes (1 to 64)");
	arn_bad(BASE "team//x", "role path holds an empty segment (//)");
	arn_bad(BASE "te am/x", "role path holds a byte IAM refuses (0x20)");
	arn_bad(BASE "a b", "role name holds a byte IAM refuses (0x20; letters, digits and "
	    "+ = , . @ _ -)");
	arn_bad(BASE "a:b", "role name holds a byte IAM refuses (0x3a; letters, digits and "
	    "+ = , . @ _ -)");
	/* names of 64 and 65 bytes */
	arn_ok(BASE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	arn_bad(BASE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "role name of 65 bytes (1 to 64)");
	/* a path of POD_ROLE_PATH_MAX bytes, then one more */
	n = (size_t)snprintf(big, sizeof(big), "%s", BASE);
	memset(big + n, 'p', POD_ROLE_PATH_MAX - 2);
	n += POD_ROLE_PATH_MAX - 2;
	memcpy(big + n, "/x", 3);
	arn_ok(big);
	memmove(big + n + 1, big + n, 3);
	big[n] = 'p';
	arn_bad(big, "role path longer than 512 bytes");
}

static void
resolve(const struct pod_opts *o, const char *val, const char *want)
{
	char out[POD_ARN_MAX + 1], why[POD_REASON_MAX] = "";
	int rc = pods_role_resolve(o, val, strlen(val), out, why, sizeof(why));

	if (rc != 0)
		print_error("%s: %s\n", val, why);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
}

static void
resolve_bad(const struct pod_opts *o, const char *val, const char *want)
{
	char out[POD_ARN_MAX + 1], why[POD_REASON_MAX] = "";

	assert_int_equal(pods_role_resolve(o, val, strlen(val), out, why, sizeof(why)), -1);
	assert_string_equal(out, "");	/* never a partial ARN */
	assert_string_equal(why, want);
}

static void
opts(struct pod_opts *o, const char *base, const char *def, int restrict_ns)
{
	char err[ERRBUF_LEN] = "";
	int rc = pods_opts_set(o, base, base != NULL ? strlen(base) : 0, def,
	    def != NULL ? strlen(def) : 0, restrict_ns, err, sizeof(err));

	if (rc != 0)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
}

static void
opts_bad(const char *base, const char *def, const char *want)
{
	char err[ERRBUF_LEN] = "";
	struct pod_opts o;

	assert_int_equal(pods_opts_set(&o, base, base != NULL ? strlen(base) : 0, def,
	    def != NULL ? strlen(def) : 0, 0, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

/* kube2iam's RoleARN, with kiam's leading-slash rule; the base's trailing '/' added. */
static void
test_resolve(void **state)
{
	struct pod_opts o, none;

	(void)state;
	opts(&none, NULL, NULL, 0);
	resolve(&none, ARN_A, ARN_A);
	resolve_bad(&none, "app-a", "a role name without --base-role-arn to complete it");
	resolve_bad(&none, "", "empty role");

	/* with and without the trailing slash, the same base */
	opts(&o, "arn:aws:iam::" ACCT ":role", NULL, 0);
	assert_string_equal(o.po_base, BASE);
	opts(&o, BASE, NULL, 0);
	assert_string_equal(o.po_base, BASE);
	resolve(&o, "app-a", ARN_A);
	resolve(&o, "team/app-a", BASE "team/app-a");	/* a name with a path keeps it */
	resolve(&o, "/app-a", ARN_A);			/* a leading slash is dropped */
	resolve_bad(&o, "//app-a", "role path holds an empty segment (//)");
	resolve(&o, ARN_LOCAL, ARN_LOCAL);		/* an ARN, cross-account */
	/* "arn:" in any case marks an ARN (kube2iam), which must then be valid */
	resolve_bad(&o, "Arn:aws:iam::" ACCT ":role/x",
	    "not an ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME)");
	resolve_bad(&o, "app a", "role name holds a byte IAM refuses (0x20; letters, digits "
	    "and + = , . @ _ -)");
	resolve_bad(&o, "team//a", "role path holds an empty segment (//)");
	resolve_bad(&o, "team/", "role name of 0 bytes (1 to 64)");

	/* a base with a path, without its last slash */
	opts(&o, BASE "eks/cluster-1", NULL, 0);
	assert_string_equal(o.po_base, BASE "eks/cluster-1/");
	resolve(&o, "app-a", BASE "eks/cluster-1/app-a");

	/* the default role: a name completed now, or an ARN */
	opts(&o, BASE, "node-default", 0);
	assert_string_equal(o.po_default, ARN_DEF);
	opts(&o, NULL, ARN_DEF, 0);
	assert_string_equal(o.po_default, ARN_DEF);

	opts_bad("arn:aws:iam::" ACCT ":user/", NULL,
	    "--base-role-arn: not a role (expected :role/ after the account)");
	opts_bad("arn:aws:iam::" ACCT ":rolex", NULL, "--base-role-arn: expected / after :role");
	opts_bad("arn:aws:iam::1:role/", NULL, "--base-role-arn: the account is not 12 digits");
	opts_bad(BASE "a//b", NULL, "--base-role-arn: the path holds a byte IAM refuses or an "
	    "empty segment");
	opts_bad(NULL, "node-default", "--default-role: a role name without --base-role-arn "
	    "to complete it");
	opts_bad(BASE, "bad name", "--default-role: role name holds a byte IAM refuses (0x20; "
	    "letters, digits and + = , . @ _ -)");
}

static struct pod_rules *
rules(void)
{
	struct pod_rules *r = pods_rules_new();
	size_t dup = 99;

	assert_non_null(r);
	assert_int_equal(pods_rules_assoc_add(r, "team-u", 6, "uploader", 8, ARN_ASSOC,
	    strlen(ARN_ASSOC), &dup), 0);
	assert_int_equal(pods_rules_assoc_add(r, "team-u", 6, "uploader", 8, ARN_A,
	    strlen(ARN_A), &dup), -3);
	assert_int_equal(dup, 0);
	return r;
}

static void
choose(const struct pod_opts *o, const struct pod_rules *r, const struct pod_ns *ns,
    const struct pod_facts *f, enum pod_source src, const char *arn, const char *reason)
{
	struct pod_role out;

	pods_choose(o, r, ns, f, &out);
	if (out.pr_source != src || strcmp(out.pr_arn, arn) != 0 ||
	    strcmp(out.pr_reason, reason) != 0)
		print_error("got %s %s \"%s\"\n", pods_source_name(out.pr_source), out.pr_arn,
		    out.pr_reason);
	assert_int_equal(out.pr_source, src);
	assert_string_equal(out.pr_arn, arn);
	assert_string_equal(out.pr_reason, reason);
	if (src == POD_SRC_REFUSED || src == POD_SRC_NONE)	/* nothing half-kept */
		assert_true(out.pr_external_id[0] == '\0' && out.pr_mapped == 0);
}

static struct pod_text
text(const char *s)
{
	return (struct pod_text){ s, strlen(s) };
}

#define BAD_EXT		"iam.amazonaws.com/external-id: not an ExternalId (2 to 1224 " \
			    "of letters, digits and + = , . @ : / _ -)"

/* Values that refuse the pod (NULL: absent), and the reason. */
static const struct {
	const char	*rf_role, *rf_sa_arn, *rf_ext, *rf_why;
} refusals[] = {
	{ "bad name", NULL, NULL, "iam.amazonaws.com/role \"bad name\": role name holds a "
	    "byte IAM refuses (0x20; letters, digits and + = , . @ _ -)" },
	{ "arn:aws:iam::" ACCT ":role/a/b//c", NULL, NULL, "iam.amazonaws.com/role "
	    "\"arn:aws:iam::" ACCT ":role/a/b//c\": role path holds an empty segment (//)" },
	/* IRSA takes ARNs only */
	{ NULL, "reporter", NULL, "service account uploader eks.amazonaws.com/role-arn "
	    "\"reporter\": not an ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME)" },
	{ NULL, NULL, "x", BAD_EXT },
	{ NULL, NULL, "a b", BAD_EXT },
	{ "app-a", NULL, "a\tb", BAD_EXT },
};

/* "Which role": annotation, service account, association, default, none; the first that applies. */
static void
test_choose_order(void **state)
{
	struct pod_rules *r = rules();
	struct pod_opts o, nodef;
	struct pod_facts f = {
		.pf_namespace = T("team-u"), .pf_name = T("web-1"), .pf_sa = T("uploader"),
		.pf_role = T("app-a"), .pf_external_id = NONE, .pf_sa_role_arn = T(ARN_SA),
	};
	struct pod_role out;
	size_t i;

	(void)state;
	opts(&o, BASE, "node-default", 0);
	opts(&nodef, BASE, NULL, 0);
	choose(&o, r, NULL, &f, POD_SRC_ANNOTATION, ARN_A, "pod annotation iam.amazonaws.com/role");
	f.pf_role = T("");	/* empty: as absent */
	choose(&o, r, NULL, &f, POD_SRC_SERVICE_ACCOUNT, ARN_SA,
	    "service account uploader eks.amazonaws.com/role-arn");
	f.pf_role = NONE;
	f.pf_sa_role_arn = NONE;
	choose(&o, r, NULL, &f, POD_SRC_ASSOCIATION, ARN_ASSOC,
	    "pod-identity-association team-u/uploader");
	f.pf_sa = T("other");
	choose(&o, r, NULL, &f, POD_SRC_DEFAULT, ARN_DEF, "--default-role");
	choose(&nodef, r, NULL, &f, POD_SRC_NONE, "", "no iam.amazonaws.com/role, service "
	    "account role-arn, pod-identity-association or --default-role");
	choose(&nodef, NULL, NULL, &f, POD_SRC_NONE, "", "no iam.amazonaws.com/role, service "
	    "account role-arn, pod-identity-association or --default-role");
	/* no serviceAccountName: the API's "default" */
	f.pf_sa = NONE;
	assert_int_equal(pods_rules_assoc_add(r, "team-u", 6, "default", 7, ARN_SA,
	    strlen(ARN_SA), &(size_t){ 0 }), 0);
	choose(&o, r, NULL, &f, POD_SRC_ASSOCIATION, ARN_SA,
	    "pod-identity-association team-u/default");

	/* ExternalId: kept with the role, whatever its source */
	f.pf_sa = T("uploader");
	f.pf_external_id = T("ext-42:a/b");
	pods_choose(&o, r, NULL, &f, &out);
	assert_int_equal(out.pr_source, POD_SRC_ASSOCIATION);
	assert_string_equal(out.pr_external_id, "ext-42:a/b");
	/* a present but bad value refuses: it never falls through to a weaker rule */
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		f.pf_role = refusals[i].rf_role != NULL ? text(refusals[i].rf_role) : NONE;
		f.pf_sa_role_arn = refusals[i].rf_sa_arn != NULL ?
		    text(refusals[i].rf_sa_arn) : NONE;
		f.pf_external_id = text(refusals[i].rf_ext != NULL ? refusals[i].rf_ext : "e-1");
		choose(&o, r, NULL, &f, POD_SRC_REFUSED, "", refusals[i].rf_why);
	}
	pods_rules_free(r);

	assert_string_equal(pods_source_name(POD_SRC_SERVICE_ACCOUNT), "service-account");
	assert_string_equal(pods_source_name(POD_SRC_REFUSED), "refused");
	assert_string_equal(pods_source_name(POD_SRC_NONE), "none");
}

static void
ns_set(struct pod_ns *np, const struct pod_opts *o, const char *allowed,
    const char *permitted)
{
	assert_int_equal(pods_ns_set(np, o, "team-u", 6, allowed,
	    allowed != NULL ? strlen(allowed) : 0, permitted,
	    permitted != NULL ? strlen(permitted) : 0), 0);
}

#define NO_RULE		"namespace team-u allows it by no rule "
#define NO_GLOB		"no allowed-roles pattern matches"

/*
 * A namespace's two annotations (NULL: absent), the role ARNs they allow
 * (separated by spaces; NULL: none), one they do not, and the reason.
 */
static const struct ns_case {
	const char	*nc_allowed, *nc_permitted, *nc_yes, *nc_no, *nc_why;
} ns_cases[] = {
	/*
	 * kube2iam: globs completed by the base, '*' only (crossing '/'),
	 * against the whole ARN: a name pattern never spans accounts
	 */
	{ "[\"app-*\", \"" ARN_LOCAL "\"]", NULL, ARN_A " " BASE "app-/deep/x " ARN_LOCAL,
	    BASE "other", NO_RULE "(" NO_GLOB ", no permitted)" },
	{ "[\"app-*\"]", NULL, NULL, "arn:aws:iam::210987654321:role/app-a",
	    NO_RULE "(" NO_GLOB ", no permitted)" },
	/* '?' and '[' are literal for go-glob */
	{ "[\"app-?\", \"[ab]\"]", NULL, BASE "app-? " BASE "[ab]", ARN_A,
	    NO_RULE "(" NO_GLOB ", no permitted)" },
	{ "[\"*\"]", NULL, ARN_A, ARN_LOCAL, NO_RULE "(" NO_GLOB ", no permitted)" },
	{ "[\"arn:aws:iam::*:role/*\"]", NULL, ARN_LOCAL " " ARN_A, "arn:aws-cn:iam::" ACCT
	    ":role/x", NO_RULE "(" NO_GLOB ", no permitted)" },
	/* neither annotation allows none; a bad value allows none, and says why */
	{ NULL, NULL, NULL, ARN_A, "namespace team-u has neither "
	    "iam.amazonaws.com/allowed-roles nor iam.amazonaws.com/permitted" },
	{ "[]", NULL, NULL, ARN_A, NO_RULE "(allowed-roles is empty, no permitted)" },
	{ "app-a", NULL, NULL, ARN_A, NO_RULE "(allowed-roles: '[' or '{' expected near 'app')" },
	{ "{\"a\": 1}", NULL, NULL, ARN_A, NO_RULE "(allowed-roles: not a JSON array of at "
	    "most 64 strings)" },
	{ "[\"app-a\", 3]", NULL, NULL, ARN_A, NO_RULE "(allowed-roles: an element is not a "
	    "string)" },
	{ "[\"app\\u0000-a\"]", NULL, NULL, ARN_A, NO_RULE "(allowed-roles: \\u0000 is not "
	    "allowed without JSON_ALLOW_NUL near '\"app\\u0000-a\"')" },
	/* kiam: a regular expression against the ARN, anchored on both ends */
	{ NULL, "arn:aws:iam::\\d{12}:role/app-.*", ARN_A, "x" ARN_A,
	    NO_RULE "(no allowed-roles, permitted does not match)" },
	/* anchored: the role name alone does not match (kiam v4 matches the ARN) */
	{ NULL, "app-a", NULL, ARN_A, NO_RULE "(no allowed-roles, permitted does not match)" },
	/* grouped: kiam's "^a|b$" would let any ARN starting with the first through */
	{ NULL, "arn:.*:role/app-a|arn:.*:role/app-b", ARN_A " " BASE "app-b", ARN_A "-admin",
	    NO_RULE "(no allowed-roles, permitted does not match)" },
	/* RE2 spellings: \w, lazy quantifiers, (?:...) */
	{ NULL, "arn:aws:iam::[0-9]+:role/(?:app|web)-\\w+?", ARN_A " " BASE "web-x_1",
	    BASE "web-x.1", NO_RULE "(no allowed-roles, permitted does not match)" },
	/* either annotation may allow */
	{ "[\"other\"]", ".*/app-a", ARN_A " " BASE "other", BASE "third",
	    NO_RULE "(" NO_GLOB ", permitted does not match)" },
	/* what cannot be compiled allows none, and says why */
	{ NULL, "", NULL, ARN_A, NO_RULE "(permitted: empty)" },
	{ NULL, "(?i)app", NULL, ARN_A, NO_RULE "(permitted: (?flags) and named groups have "
	    "no POSIX form)" },
	{ "[1]", "\\bapp", NULL, ARN_A, NO_RULE "(allowed-roles: an element is not a string; "
	    "permitted: \\b has no POSIX form)" },
	{ NULL, "(app", NULL, ARN_A, NO_RULE "(permitted: Unmatched ( or \\()" },
};

static void
ns_expect(const struct pod_ns *np, const char *arn, const char *want, size_t i)
{
	char why[POD_REASON_MAX] = "";
	int rc = pods_ns_allows(np, arn, why, sizeof(why));

	if (rc != (want == NULL))
		print_error("case %zu, %s: %s\n", i, arn, why);
	assert_int_equal(rc, want == NULL);
	if (want != NULL)
		assert_string_equal(why, want);
}

/* kube2iam's allowed-roles and kiam's permitted, one namespace at a time. */
static void
test_ns_rules(void **state)
{
	char arn[POD_ARN_MAX + 1];
	const struct ns_case *c;
	const char *y, *sp;
	struct pod_opts o;
	struct pod_ns np;
	size_t i;

	(void)state;
	memset(&np, 0, sizeof(np));
	opts(&o, BASE, NULL, 1);
	for (i = 0; i < sizeof(ns_cases) / sizeof(ns_cases[0]); i++) {
		c = &ns_cases[i];
		ns_set(&np, &o, c->nc_allowed, c->nc_permitted);	/* frees the last */
		for (y = c->nc_yes; y != NULL; y = sp != NULL ? sp + 1 : NULL) {
			sp = strchr(y, ' ');
			snprintf(arn, sizeof(arn), "%.*s", (int)(sp != NULL ? (size_t)(sp - y) :
			    strlen(y)), y);
			ns_expect(&np, arn, NULL, i);
		}
		ns_expect(&np, c->nc_no, c->nc_why, i);
	}
	pods_ns_free(&np);
	pods_ns_free(&np);	/* twice is harmless */
}

static const struct {
	const char	*ec_re2, *ec_want;
} ere_cases[] = {
	{ "a.b", "a.b" },
	{ "\\d+\\D\\w\\W\\s\\S", "[0-9]+[^0-9][A-Za-z0-9_][^A-Za-z0-9_][ \t\n\f\r][^ \t\n\f\r]" },
	{ "a*?b+?c??d{2,3}?", "a*b+c?d{2,3}" },		/* lazy: the same match or not */
	{ "(?:a|b)", "(a|b)" },
	{ "\\.\\*\\/\\-", "\\.\\*\\/\\-" },
	{ "a{x}", "a\\{x\\}" },		/* RE2: a '{' that is no repeat is literal */
	{ "\\t", "\t" },
	/* brackets: escapes become bytes; ] first, ^ and - last */
	{ "[\\w.-]", "[A-Za-z0-9_.-]" },
	{ "[a\\-z]", "[az-]" },
	{ "[\\]a]", "[]a]" },
	{ "[]a]", "[]a]" },
	{ "[^\\]\\^]", "[^]^]" },
	{ "[\\^]", "\\^" },
	{ "[\\^-]", "(\\^|-)" },
	{ "[\\[x]", "[x[]" },
	{ "[[:alpha:]_]", "[[:alpha:]_]" },
	{ "[a-z0-9]", "[a-z0-9]" },
	{ "[[:word:]]", "!a [:class:] POSIX does not know" },
	{ "[\\D]", "!\\D in brackets has no POSIX form" },
	{ "[a-\\]]", "!a range in brackets with an escaped end" },
	{ "[abc", "!a [ without its ]" },
	{ "(?P<n>a)", "!(?flags) and named groups have no POSIX form" },
	{ "\\pL", "!\\p has no POSIX form" },
	{ "\\1", "!\\1 has no POSIX form" },
	{ "\\Qa.b\\E", "!\\Q has no POSIX form" },
	{ "a\\", "!a trailing backslash" },
	/* what would make regcomp grow without bound, and RE2 refuses too */
	{ "a**", "!a repeat of nothing or of a repeat (RE2 refuses it too)" },
	{ "()++", "!a repeat of nothing or of a repeat (RE2 refuses it too)" },
	{ "a{2}{3}", "!a repeat of nothing or of a repeat (RE2 refuses it too)" },
	{ "*a", "!a repeat of nothing or of a repeat (RE2 refuses it too)" },
	{ "(|*)", "!a repeat of nothing or of a repeat (RE2 refuses it too)" },
	{ "a{1001}", "!a repeat count over 1000 (RE2's limit)" },
	{ "a{1,99999999999999999999}", "!a repeat count over 1000 (RE2's limit)" },
	{ "a{1000}", "a{1000}" },
	{ "(a{100}){100}", "(a{100}){100}" },		/* 10,000 atoms */
	{ "((a{100}){100}){3}", "!more than 20000 atoms once its repeats are expanded" },
	{ "((((((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+",
	    "!more than 20000 atoms once its repeats are expanded" },
	{ "((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))",
	    "!groups nested deeper than 32" },
};

/* Where Go's RE2 and POSIX ERE differ, and what is done about it. */
static void
test_re2_to_ere(void **state)
{
	char out[POD_NS_REGEX_MAX], why[POD_REASON_MAX];
	const char *re, *want;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(ere_cases) / sizeof(ere_cases[0]); i++) {
		re = ere_cases[i].ec_re2;
		want = ere_cases[i].ec_want;
		why[0] = '\0';
		rc = pods_re2_to_ere(re, strlen(re), out, sizeof(out), why, sizeof(why));
		if (rc != (want[0] == '!' ? -1 : 0))
			print_error("%s: %s\n", re, why);
		assert_int_equal(rc, want[0] == '!' ? -1 : 0);
		assert_string_equal(want[0] == '!' ? why : out, want + (want[0] == '!'));
	}
	assert_int_equal(pods_re2_to_ere("a\0b", 3, out, sizeof(out), why, sizeof(why)), -1);
	assert_string_equal(why, "a NUL byte");
	assert_int_equal(pods_re2_to_ere("\\w\\w", 4, out, 8, why, sizeof(why)), -1);
	assert_string_equal(why, "longer than 7 bytes once translated");
}

/* The restriction in the choice: every source but the default role; checked before role-map. */
static void
test_restrict_choose(void **state)
{
	struct pod_rules *r = rules();
	struct pod_opts o;
	struct pod_ns np;
	struct pod_facts f = {
		.pf_namespace = T("team-u"), .pf_name = T("web-1"), .pf_sa = T("uploader"),
		.pf_role = T("app-a"), .pf_external_id = NONE, .pf_sa_role_arn = NONE,
	};
	struct pod_role out;

	(void)state;
	memset(&np, 0, sizeof(np));
	opts(&o, BASE, "node-default", 1);
	ns_set(&np, &o, "[\"app-a\"]", NULL);
	choose(&o, r, &np, &f, POD_SRC_ANNOTATION, ARN_A, "pod annotation iam.amazonaws.com/role");
	/* a namespace not known yet: refused, not guessed */
	choose(&o, r, NULL, &f, POD_SRC_REFUSED, "", ARN_A ": namespace team-u not known (yet)");
	/* the association is checked too */
	f.pf_role = NONE;
	choose(&o, r, &np, &f, POD_SRC_REFUSED, "", ARN_ASSOC ": namespace team-u allows it "
	    "by no rule (no allowed-roles pattern matches, no permitted)");
	/* the default role is not: neither when defaulted nor when named */
	f.pf_sa = T("other");
	choose(&o, r, &np, &f, POD_SRC_DEFAULT, ARN_DEF, "--default-role");
	choose(&o, r, NULL, &f, POD_SRC_DEFAULT, ARN_DEF, "--default-role");
	f.pf_role = T("node-default");
	choose(&o, r, &np, &f, POD_SRC_ANNOTATION, ARN_DEF, "pod annotation iam.amazonaws.com/role");

	/* role-map: after the check, which is on the ARN the manifests name */
	assert_int_equal(pods_rules_map_add(r, ARN_A, strlen(ARN_A), ARN_LOCAL,
	    strlen(ARN_LOCAL)), 0);
	f.pf_role = T("app-a");
	pods_choose(&o, r, &np, &f, &out);
	assert_int_equal(out.pr_source, POD_SRC_ANNOTATION);
	assert_string_equal(out.pr_arn, ARN_LOCAL);
	assert_int_equal(out.pr_mapped, 1);
	assert_string_equal(out.pr_reason, "pod annotation iam.amazonaws.com/role, role-map "
	    "from " ARN_A);
	/* a namespace allowing only the map's target does not allow the source */
	ns_set(&np, &o, "[\"" ARN_LOCAL "\"]", NULL);
	choose(&o, r, &np, &f, POD_SRC_REFUSED, "", ARN_A ": namespace team-u allows it by "
	    "no rule (no allowed-roles pattern matches, no permitted)");
	/* without restrictions the map applies all the same */
	o.po_restrict = 0;
	choose(&o, r, NULL, &f, POD_SRC_ANNOTATION, ARN_LOCAL, "pod annotation "
	    "iam.amazonaws.com/role, role-map from " ARN_A);
	pods_ns_free(&np);
	pods_rules_free(r);
}

static void
test_rules(void **state)
{
	struct pod_rules *r = pods_rules_new(), *d;
	char ns[8];
	size_t i, dup = 0;

	(void)state;
	assert_true(pods_namespace_ok("team-u", 6));
	assert_false(pods_namespace_ok("-team", 5));
	assert_false(pods_namespace_ok("Team", 4));
	assert_false(pods_namespace_ok("a.b", 3));
	assert_false(pods_namespace_ok("", 0));
	assert_true(pods_sa_name_ok("reporter.v2", 11));
	assert_false(pods_sa_name_ok("a..b", 4));
	assert_false(pods_sa_name_ok("a.", 2));
	assert_false(pods_sa_name_ok("a_b", 3));
	/* the caps */
	for (i = 0; i < POD_ASSOC_MAX; i++) {
		snprintf(ns, sizeof(ns), "n%zu", i);
		assert_int_equal(pods_rules_assoc_add(r, ns, strlen(ns), "s", 1, ARN_A,
		    strlen(ARN_A), &dup), 0);
	}
	assert_int_equal(pods_rules_assoc_add(r, "x", 1, "s", 1, ARN_A, strlen(ARN_A), &dup), -2);
	assert_int_equal(pods_rules_assoc_add(r, "n7", 2, "s", 1, ARN_A, strlen(ARN_A), &dup), -3);
	assert_int_equal(dup, 7);
	for (i = 0; i < POD_ROLE_MAP_MAX; i++)
		assert_int_equal(pods_rules_map_add(r, ARN_A, strlen(ARN_A), ARN_SA,
		    strlen(ARN_SA)), 0);
	assert_int_equal(pods_rules_map_add(r, ARN_A, strlen(ARN_A), ARN_SA, strlen(ARN_SA)), -2);
	d = pods_rules_dup(r);
	assert_non_null(d);
	assert_int_equal(d->pr_nassoc, POD_ASSOC_MAX);
	assert_string_equal(pods_rules_assoc_find(d, "n1023", 5, "s", 1), ARN_A);
	assert_null(pods_rules_assoc_find(d, "n1023", 5, "t", 1));
	assert_null(pods_rules_assoc_find(d, "n1024", 5, "s", 1));
	pods_rules_free(r);
	pods_rules_free(d);
	pods_rules_free(NULL);
}

/* tags.c: EKS Pod Identity's six tags, the session name, the cluster's name and ARN. */
static void
test_session_tags(void **state)
{
	static const char *const keys[] = { "eks-cluster-arn", "eks-cluster-name",
		"kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name",
		"kubernetes-pod-uid" };
	struct pod_tag_facts f = { "arn:aws:eks:eu-west-1:123456789012:cluster/dev", "dev", "shop",
		"api", "web-0", "5e0bd49b-f040-43b0-99b7-22765a53f7f3" };
	const char *vals[6];
	struct assume_tags t;
	char out[POD_CLUSTER_ARN_MAX], why[256], name[STS_SESSION_NAME_MAX + 1];
	char longpod[POD_SA_MAX + 1];
	size_t i;

	(void)state;
	assert_int_equal(pods_session_tags(&f, &t, why, sizeof(why)), 0);
	assert_int_equal(t.at_n, 6);
	memcpy(vals, &f, sizeof(vals));
	for (i = 0; i < 6; i++) {
		assert_string_equal(t.at_tag[i].at_key, keys[i]);
		assert_string_equal(t.at_tag[i].at_value, vals[i]);
		assert_int_equal(t.at_tag[i].at_transitive, 1);
	}
	f.tf_pod_name = "a,b";	/* not a tag value */
	assert_int_equal(pods_session_tags(&f, &t, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "kubernetes-pod-name"));

	/* the cluster's ARN: the role's partition and account, the region given */
	assert_int_equal(pods_cluster_arn("arn:aws:iam::123456789012:role/team/app", "eu-west-1",
	    "dev", out, sizeof(out)), 0);
	assert_string_equal(out, "arn:aws:eks:eu-west-1:123456789012:cluster/dev");
	assert_int_equal(pods_cluster_arn("arn:aws-cn:iam::210987654321:role/x", "cn-north-1",
	    "c", out, sizeof(out)), 0);
	assert_string_equal(out, "arn:aws-cn:eks:cn-north-1:210987654321:cluster/c");
	assert_int_equal(pods_cluster_arn("arn:aws:sts::123456789012:role/x", "r", "c", out,
	    sizeof(out)), -1);
	assert_int_equal(pods_cluster_arn("arn:aws:iam::1234:role/x", "r", "c", out, sizeof(out)),
	    -1);

	/* cluster names as EKS takes them; a kubeconfig's, or its EKS ARN's name */
	assert_true(pods_cluster_name_ok("kind-kind", 9));
	assert_true(pods_cluster_name_ok("Dev_1", 5));
	assert_false(pods_cluster_name_ok("-dev", 4));
	assert_false(pods_cluster_name_ok("dev.local", 9));
	assert_false(pods_cluster_name_ok("", 0));
	assert_int_equal(pods_cluster_from_kubeconfig("minikube", out, sizeof(out)), 0);
	assert_string_equal(out, "minikube");
	assert_int_equal(pods_cluster_from_kubeconfig(
	    "arn:aws:eks:us-east-1:123456789012:cluster/prod-1", out, sizeof(out)), 0);
	assert_string_equal(out, "prod-1");
	assert_int_equal(pods_cluster_from_kubeconfig("admin@dev.example", out, sizeof(out)), -1);
	assert_string_equal(out, "");

	/* eks-CLUSTER-POD-UUID, STS's characters, cut at 64 */
	pods_session_name("dev", "web-0", "0f8fad5b-d9cb-469f-a165-70867728950e", name,
	    sizeof(name));
	assert_string_equal(name, "eks-dev-web-0-0f8fad5b-d9cb-469f-a165-70867728950e");
	assert_true(sts_session_name_ok(name));
	memset(longpod, 'p', sizeof(longpod) - 1);
	longpod[sizeof(longpod) - 1] = '\0';
	pods_session_name("dev", longpod, "0f8fad5b-d9cb-469f-a165-70867728950e", name,
	    sizeof(name));
	assert_int_equal(strlen(name), STS_SESSION_NAME_MAX);
	assert_memory_equal(name, "eks-dev-ppp", 11);
	pods_session_name("dev", "a/b", "u", name, sizeof(name));
	assert_string_equal(name, "eks-dev-a-b-u");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arn_check),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_choose_order),
		cmocka_unit_test(test_ns_rules),
		cmocka_unit_test(test_re2_to_ere),
		cmocka_unit_test(test_restrict_choose),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_session_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
