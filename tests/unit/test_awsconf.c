/*
 * test_awsconf.c: ~/.aws/config and ~/.aws/credentials (awsconf.c).
 *
 * Strings go through awsconf_parse; files through awsconf_load and
 * awsconf_paths, in a temporary directory with HOME and the AWS_* variables
 * set per test.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "creds/creds.h"

#define T_TOKEN_LEN	4096	/* bytes of the long session token */
#define T_DIR_MAX	64	/* bytes in the temporary directory's path */
#define T_PATH_MAX	256	/* bytes in a path below it */
#define T_TEXT_MAX	(T_TOKEN_LEN + 256)	/* bytes of a generated file */

struct parsed {
	struct aws_section *p_s;
	size_t		 p_n;
	char		 p_err[ERRBUF_LEN];
};

static void
t_parse_ok(struct parsed *p, const char *text, size_t len, int is_config)
{
	memset(p, 0, sizeof(*p));
	if (awsconf_parse(text, len, is_config ? "/c" : "/k", is_config, &p->p_s, &p->p_n,
	    p->p_err, sizeof(p->p_err)) != 0)
		fail_msg("unexpected error: %s", p->p_err);
}

static void
t_parse_err(const char *text, size_t len, int is_config, const char *want)
{
	struct aws_section *s = (struct aws_section *)1;
	size_t n = 99;
	char err[ERRBUF_LEN] = "";

	assert_int_equal(awsconf_parse(text, len, is_config ? "/c" : "/k", is_config, &s, &n,
	    err, sizeof(err)), -1);
	assert_null(s);
	assert_int_equal(n, 0);
	assert_string_equal(err, want);
}

#define PARSE_OK(p, lit, cfg)		t_parse_ok((p), (lit), sizeof(lit) - 1, (cfg))
#define PARSE_ERR(lit, cfg, want)	t_parse_err((lit), sizeof(lit) - 1, (cfg), (want))

static void
t_free(struct parsed *p)
{
	awsconf_sections_free(p->p_s, p->p_n);
	p->p_s = NULL;
	p->p_n = 0;
}

static const struct aws_section *
t_sec(const struct parsed *p, const char *profile)
{
	size_t i;

	for (i = 0; i < p->p_n; i++)
		if (strcmp(p->p_s[i].sec_profile, profile) == 0)
			return &p->p_s[i];
	return NULL;
}

static const char *
t_val(const struct parsed *p, const char *profile, const char *key)
{
	const struct aws_section *s = t_sec(p, profile);
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->sec_nkv; i++)
		if (strcmp(s->sec_kv[i].kv_key, key) == 0)
			return s->sec_kv[i].kv_val;
	return NULL;
}

static unsigned
t_line(const struct parsed *p, const char *profile, const char *key)
{
	const struct aws_section *s = t_sec(p, profile);
	size_t i;

	for (i = 0; s != NULL && i < s->sec_nkv; i++)
		if (strcmp(s->sec_kv[i].kv_key, key) == 0)
			return s->sec_kv[i].kv_line;
	return 0;
}

/* ---- syntax ------------------------------------------------------------- */

static void
test_basic_credentials(void **state)
{
	struct parsed p;

	(void)state;
	PARSE_OK(&p,
	    "[default]\n"
	    "aws_access_key_id=AKIDEXAMPLE\n"
	    "aws_secret_access_key =   wJalrXUtnFEMI/K7MDENG  \n"
	    "aws_session_token\t=\tIQoJb3JpZ2luX2VjEA==\t\n"
	    "region:us-east-1\n"
	    "output : json\n"
	    "empty =\n"
	    "eq = a=b:c\n"
	    "colon:first=second\n"
	    "\n"
	    "[dev]\n"
	    "aws_access_key_id = AKIDDEV\n", 0);
	assert_int_equal(p.p_n, 2);
	assert_string_equal(p.p_s[0].sec_profile, "default");
	assert_string_equal(p.p_s[0].sec_file, "/k");
	assert_int_equal(p.p_s[0].sec_line, 1);
	assert_int_equal(p.p_s[0].sec_nkv, 8);
	assert_string_equal(t_val(&p, "default", "aws_access_key_id"), "AKIDEXAMPLE");
	assert_string_equal(t_val(&p, "default", "aws_secret_access_key"), "wJalrXUtnFEMI/K7MDENG");
	assert_string_equal(t_val(&p, "default", "aws_session_token"), "IQoJb3JpZ2luX2VjEA==");
	assert_string_equal(t_val(&p, "default", "region"), "us-east-1");
	assert_string_equal(t_val(&p, "default", "output"), "json");
	assert_string_equal(t_val(&p, "default", "empty"), "");
	assert_string_equal(t_val(&p, "default", "eq"), "a=b:c");
	assert_string_equal(t_val(&p, "default", "colon"), "first=second");
	assert_int_equal(t_line(&p, "default", "region"), 5);
	assert_string_equal(p.p_s[0].sec_kv[0].kv_file, "/k");
	assert_string_equal(t_val(&p, "dev", "aws_access_key_id"), "AKIDDEV");
	assert_int_equal(p.p_s[1].sec_line, 11);
	t_free(&p);
}

static void
test_comments(void **state)
{
	struct parsed p;

	(void)state;
	PARSE_OK(&p,
	    "# top comment\n"
	    "; another\n"
	    "[default] # after the header\n"
	    "   # indented comment\n"
	    "a = abc # not a comment\n"
	    "b = x ; y\n"
	    "\t; indented semicolon\n"
	    "c = #x\n"
	    "[dev]; also after a header\n"
	    "d = 1\n", 0);
	assert_int_equal(p.p_n, 2);
	assert_int_equal(p.p_s[0].sec_nkv, 3);
	assert_string_equal(t_val(&p, "default", "a"), "abc # not a comment");
	assert_string_equal(t_val(&p, "default", "b"), "x ; y");
	assert_string_equal(t_val(&p, "default", "c"), "#x");
	assert_string_equal(t_val(&p, "dev", "d"), "1");
	t_free(&p);
}

static void
test_line_ends(void **state)
{
	struct parsed p;

	(void)state;
	/* CRLF, a lone CR (Python's universal newlines), no final newline, BOM */
	PARSE_OK(&p, "\xef\xbb\xbf[default]\r\na = 1\r\n\r\nb = 2\rc = 3", 0);
	assert_int_equal(p.p_n, 1);
	assert_string_equal(p.p_s[0].sec_profile, "default");
	assert_string_equal(t_val(&p, "default", "a"), "1");
	assert_string_equal(t_val(&p, "default", "b"), "2");
	assert_string_equal(t_val(&p, "default", "c"), "3");
	assert_int_equal(t_line(&p, "default", "b"), 4);
	assert_int_equal(t_line(&p, "default", "c"), 5);
	t_free(&p);

	/* a BOM anywhere else is not skipped: it is part of the key */
	PARSE_OK(&p, "[a]\n\xef\xbb\xbfk = v\n", 0);
	assert_string_equal(p.p_s[0].sec_kv[0].kv_key, "\xef\xbb\xbfk");
	t_free(&p);
	/* a BOM before a value line is still a value before any header */
	PARSE_ERR("\xef\xbb\xbfk = v\n", 0, "/k:1: key = value before any [section] header");
}

static void
test_empty_and_blank(void **state)
{
	struct parsed p;

	(void)state;
	PARSE_OK(&p, "", 0);
	assert_int_equal(p.p_n, 0);
	assert_null(p.p_s);
	t_free(&p);
	PARSE_OK(&p, "\n\n  \n# c\n", 1);
	assert_int_equal(p.p_n, 0);
	t_free(&p);
	/* only sections that are not profiles: no array at all */
	PARSE_OK(&p, "[plugins]\na = 1\n[sso-session x]\n[DEFAULT]\nb = 2\n", 1);
	assert_int_equal(p.p_n, 0);
	assert_null(p.p_s);
	t_free(&p);
	PARSE_OK(&p, "[default]", 1);
	assert_int_equal(p.p_n, 1);
	assert_int_equal(p.p_s[0].sec_nkv, 0);
	t_free(&p);
}

static void
test_keys_lowercased(void **state)
{
	struct parsed p;

	(void)state;
	/* configparser's optionxform lower-cases keys; section names keep case */
	PARSE_OK(&p, "[Dev]\nAWS_Access_Key_ID = AKID\n", 0);
	assert_string_equal(p.p_s[0].sec_profile, "Dev");
	assert_string_equal(p.p_s[0].sec_kv[0].kv_key, "aws_access_key_id");
	assert_string_equal(t_val(&p, "Dev", "aws_access_key_id"), "AKID");
	t_free(&p);
	PARSE_ERR("[dev]\naws_access_key_id = a\nAWS_ACCESS_KEY_ID = b\n", 0,
	    "/k:3: duplicate key 'aws_access_key_id' in [dev] (first at line 2)");
}

static void
test_long_token(void **state)
{
	static char text[T_TEXT_MAX];
	char token[T_TOKEN_LEN + 1];
	struct parsed p;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < T_TOKEN_LEN; i++)
		token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[
		    (i * 7 + i / 64) % 64];
	token[T_TOKEN_LEN] = '\0';
	n = snprintf(text, sizeof(text), "[profile t]\r\naws_session_token = %s\r\nregion = x\r\n",
	    token);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	t_parse_ok(&p, text, (size_t)n, 1);
	assert_int_equal(strlen(t_val(&p, "t", "aws_session_token")), T_TOKEN_LEN);
	assert_string_equal(t_val(&p, "t", "aws_session_token"), token);
	assert_string_equal(t_val(&p, "t", "region"), "x");
	t_free(&p);
}

static void
test_subsection(void **state)
{
	struct parsed p;
	const struct aws_section *s;
	size_t i;

	(void)state;
	PARSE_OK(&p,
	    "[profile dev]\n"
	    "region = us-west-2\n"
	    "s3 =\n"
	    "  max_concurrent_requests = 20\n"
	    "\n"
	    "  # a comment inside\n"
	    "\taddressing_style = path\n"
	    "output = json\n"
	    "api_versions =\n"
	    "    ec2 = 2015-03-01\n"
	    "    cloudfront = 2015-09-17\n"
	    "cli_pager=\n", 1);
	s = t_sec(&p, "dev");
	assert_non_null(s);
	assert_int_equal(s->sec_nkv, 5);
	assert_string_equal(t_val(&p, "dev", "region"), "us-west-2");
	assert_string_equal(t_val(&p, "dev", "s3"), "");
	assert_string_equal(t_val(&p, "dev", "output"), "json");
	assert_int_equal(t_line(&p, "dev", "output"), 8);
	assert_string_equal(t_val(&p, "dev", "api_versions"), "");
	assert_string_equal(t_val(&p, "dev", "cli_pager"), "");
	for (i = 0; i < s->sec_nkv; i++) {
		assert_string_not_equal(s->sec_kv[i].kv_key, "max_concurrent_requests");
		assert_string_not_equal(s->sec_kv[i].kv_key, "addressing_style");
		assert_string_not_equal(s->sec_kv[i].kv_key, "ec2");
	}
	assert_null(t_val(&p, "dev", "max_concurrent_requests"));
	t_free(&p);

	/* every line of a sub-section needs '=' (botocore's _parse_nested) */
	PARSE_ERR("[profile dev]\ns3 =\n  max_concurrent_requests = 20\n  junk\n", 1,
	    "/c:4: malformed line in sub-section 's3' of [profile dev] (expected key = value)");
	PARSE_ERR("[profile dev]\ns3 =\n  addressing_style: path\n", 1,
	    "/c:3: malformed line in sub-section 's3' of [profile dev] (expected key = value)");
}

static void
test_continuation(void **state)
{
	struct parsed p;

	(void)state;
	/* a deeper-indented line after a non-empty value continues it (configparser) */
	PARSE_OK(&p,
	    "[default]\n"
	    "a = first\n"
	    "   second\n"
	    "\n"
	    "  # not part of it\n"
	    "\t third = x\n"
	    "\n"
	    "\n"
	    "b = 2\n"
	    "  c = 3\n"
	    "  d = 4\n"
	    "    e\n", 0);
	assert_int_equal(p.p_s[0].sec_nkv, 2);
	assert_string_equal(t_val(&p, "default", "a"), "first\nsecond\n\nthird = x");
	assert_string_equal(t_val(&p, "default", "b"), "2\nc = 3\nd = 4\ne");
	t_free(&p);

	/* indented keys right after a header are keys; equal indentation is a new key */
	PARSE_OK(&p, "  [default]\n  a = 1\n  b = 2\n    b2\n  c = 3\n", 0);
	assert_int_equal(p.p_s[0].sec_nkv, 3);
	assert_string_equal(t_val(&p, "default", "a"), "1");
	assert_string_equal(t_val(&p, "default", "b"), "2\nb2");
	assert_string_equal(t_val(&p, "default", "c"), "3");
	t_free(&p);
}

/* ---- profile naming ---------------------------------------------------- */

static void
test_config_naming(void **state)
{
	struct parsed p;

	(void)state;
	PARSE_OK(&p,
	    "[default]\nregion = d\n"
	    "[profile dev]\nregion = dev\n"
	    "[profile \t tabbed ]\nregion = t\n"
	    "[ profile spaced ]\nregion = s\n"
	    "[profile \"my prof\"]\nregion = q\n"
	    "[profile 'single']\nregion = q1\n"
	    "[sso-session corp]\nsso_region = us-east-1\n"
	    "[services local]\ns3 =\n  endpoint_url = http://localhost\n"
	    "[plugins]\ncli_legacy_plugin_path = /x\n"
	    "[prod]\nregion = bare\n"
	    "[profilefoo]\nregion = pf\n"
	    "[profile a b]\nregion = ab\n"
	    "[profile]\nregion = p\n"
	    "[Default]\nregion = D\n", 1);
	assert_int_equal(p.p_n, 6);
	assert_string_equal(t_val(&p, "default", "region"), "d");
	assert_string_equal(t_val(&p, "dev", "region"), "dev");
	assert_string_equal(t_val(&p, "tabbed", "region"), "t");
	assert_string_equal(t_val(&p, "spaced", "region"), "s");
	assert_string_equal(t_val(&p, "my prof", "region"), "q");
	assert_string_equal(t_val(&p, "single", "region"), "q1");
	assert_null(t_sec(&p, "corp"));
	assert_null(t_sec(&p, "sso-session corp"));
	assert_null(t_sec(&p, "local"));
	assert_null(t_sec(&p, "plugins"));
	assert_null(t_sec(&p, "prod"));
	assert_null(t_sec(&p, "foo"));
	assert_null(t_sec(&p, "Default"));
	assert_int_equal(t_sec(&p, "dev")->sec_line, 3);
	t_free(&p);
}

static void
test_credentials_naming(void **state)
{
	struct parsed p;

	(void)state;
	/* in the credentials file every section is a profile, named literally */
	PARSE_OK(&p,
	    "[default]\na = 1\n"
	    "[profile dev]\na = 2\n"
	    "[dev]\na = 3\n"
	    "[sso-session x]\na = 4\n", 0);
	assert_int_equal(p.p_n, 4);
	assert_string_equal(t_val(&p, "default", "a"), "1");
	assert_string_equal(t_val(&p, "profile dev", "a"), "2");
	assert_string_equal(t_val(&p, "dev", "a"), "3");
	assert_string_equal(t_val(&p, "sso-session x", "a"), "4");
	t_free(&p);
}

static void
test_default_and_profile_default(void **state)
{
	struct parsed p;

	(void)state;
	/* botocore: the later section replaces the earlier one wholesale */
	PARSE_OK(&p,
	    "[default]\nregion = plain\noutput = text\n"
	    "[profile default]\nregion = prefixed\n", 1);
	assert_int_equal(p.p_n, 1);
	assert_string_equal(t_val(&p, "default", "region"), "prefixed");
	assert_null(t_val(&p, "default", "output"));
	assert_int_equal(p.p_s[0].sec_line, 4);
	t_free(&p);

	PARSE_OK(&p,
	    "[profile default]\nregion = prefixed\n"
	    "[profile dev]\nregion = dev\n"
	    "[default]\nregion = plain\n"
	    "[profile  dev]\nregion = dev2\n", 1);
	assert_int_equal(p.p_n, 2);
	assert_string_equal(t_val(&p, "default", "region"), "plain");
	assert_string_equal(t_val(&p, "dev", "region"), "dev2");
	t_free(&p);
}

static void
test_defaults_section(void **state)
{
	struct parsed p;

	(void)state;
	/* configparser's [DEFAULT]: inherited by every section lacking the key */
	PARSE_OK(&p,
	    "[DEFAULT]\nregion = eu-west-1\noutput = json\n"
	    "[default]\nregion = us-east-1\n"
	    "[profile dev]\n", 1);
	assert_int_equal(p.p_n, 2);
	assert_null(t_sec(&p, "DEFAULT"));
	assert_string_equal(t_val(&p, "default", "region"), "us-east-1");
	assert_string_equal(t_val(&p, "default", "output"), "json");
	assert_string_equal(t_val(&p, "dev", "region"), "eu-west-1");
	assert_int_equal(t_line(&p, "dev", "region"), 2);
	t_free(&p);
}

/* ---- errors -------------------------------------------------------------- */

static void
test_errors(void **state)
{
	static const char nul[] = "[default]\na = 1\nb = x\0y\n";

	(void)state;
	PARSE_ERR("[dev]\naws_access_key_id = a\nregion = r\naws_access_key_id = b\n", 0,
	    "/k:4: duplicate key 'aws_access_key_id' in [dev] (first at line 2)");
	PARSE_ERR("[dev]\na = 1\n[other]\n[dev]\n", 0,
	    "/k:4: duplicate section [dev] (first at line 1)");
	PARSE_ERR("[profile dev]\na = 1\n[ profile dev ]\n", 1,
	    "/c:3: duplicate section [profile dev] (first at line 1)");
	PARSE_ERR("[dev]\na = 1\njust some words\n", 0,
	    "/k:3: malformed line (expected [section], key = value or a comment)");
	PARSE_ERR("# c\na = 1\n[dev]\n", 1,
	    "/c:2: key = value before any [section] header");
	t_parse_err(nul, sizeof(nul) - 1, 0, "/k:3: NUL byte");
	PARSE_ERR("[dev] extra\n", 0, "/k:1: malformed section header (text after ']')");
	PARSE_ERR("\n[dev\n", 0, "/k:2: malformed section header (no ']')");
	PARSE_ERR("[dev]]\n", 0, "/k:1: malformed section header (text after ']')");
	PARSE_ERR("[  ]\n", 0, "/k:1: empty section name");
	PARSE_ERR("[d]\n = v\n", 0, "/k:2: empty key before '='");
	PARSE_ERR("[d]\n: v\n", 0, "/k:2: empty key before ':'");
	PARSE_ERR("[d]\r\na = 1\r\nA : 2\r\n", 0,
	    "/k:3: duplicate key 'a' in [d] (first at line 2)");
	/* control bytes in names never break the one-line message */
	PARSE_ERR("[d\x1b]\na = 1\na = 2\n", 0,
	    "/k:3: duplicate key 'a' in [d?] (first at line 2)");
}

static void
test_long_section_name(void **state)
{
	char text[AWSCONF_PROFILE_MAX + 16];
	char want[ERRBUF_LEN];
	struct parsed p;

	(void)state;
	text[0] = '[';
	memset(text + 1, 'n', AWSCONF_PROFILE_MAX);
	memcpy(text + 1 + AWSCONF_PROFILE_MAX, "]\n", 2);
	t_parse_ok(&p, text, AWSCONF_PROFILE_MAX + 3, 0);
	assert_int_equal(strlen(p.p_s[0].sec_profile), AWSCONF_PROFILE_MAX);
	t_free(&p);
	memcpy(text + 1 + AWSCONF_PROFILE_MAX, "n]\n", 3);
	snprintf(want, sizeof(want), "/k:1: section name longer than %d bytes",
	    AWSCONF_PROFILE_MAX);
	t_parse_err(text, AWSCONF_PROFILE_MAX + 4, 0, want);
}

static void
test_key_limits(void **state)
{
	const size_t cap = 1024 * 1024;
	char *text = malloc(cap);
	char want[ERRBUF_LEN];
	struct parsed p;
	size_t n = 0, i;
	int w;

	(void)state;
	assert_non_null(text);
	/* at most 65536 keys per file (duplicates are found by hashing) */
	n = (size_t)snprintf(text, cap, "[a]\n");
	for (i = 0; i < 65536; i++) {
		w = snprintf(text + n, cap - n, "k%zu=\n", i);
		assert_true(w > 0 && (size_t)w < cap - n);
		n += (size_t)w;
	}
	t_parse_ok(&p, text, n, 0);
	assert_int_equal(p.p_s[0].sec_nkv, 65536);
	t_free(&p);
	memcpy(text + n, "x=\n", 3);
	snprintf(want, sizeof(want), "/k:%d: more than 65536 keys", 65536 + 2);
	t_parse_err(text, n + 3, 0, want);

	/* [DEFAULT]'s copies count: 300 keys into 300 sections is too many */
	n = (size_t)snprintf(text, cap, "\n[DEFAULT]\n");
	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, cap - n, "d%zu = v\n", i);
	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, cap - n, "[s%zu]\n", i);
	t_parse_err(text, n, 0,
	    "/k:2: more than 65536 keys after copying [DEFAULT]'s into every section");
	free(text);
}

/* ---- files --------------------------------------------------------------- */

struct tdir {
	char	 td_dir[T_DIR_MAX];
	char	 td_config[T_PATH_MAX];
	char	 td_creds[T_PATH_MAX];
};

static void
t_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
t_dir(struct tdir *td)
{
	char aws[T_PATH_MAX];

	snprintf(td->td_dir, sizeof(td->td_dir), "/tmp/test_awsconf.XXXXXX");
	assert_non_null(mkdtemp(td->td_dir));
	snprintf(aws, sizeof(aws), "%s/.aws", td->td_dir);
	assert_int_equal(mkdir(aws, 0700), 0);
	snprintf(td->td_config, sizeof(td->td_config), "%s/.aws/config", td->td_dir);
	snprintf(td->td_creds, sizeof(td->td_creds), "%s/.aws/credentials", td->td_dir);
	assert_int_equal(setenv("HOME", td->td_dir, 1), 0);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

static void
t_rmdir(struct tdir *td)
{
	char p[T_PATH_MAX];

	unlink(td->td_config);
	unlink(td->td_creds);
	snprintf(p, sizeof(p), "%s/.aws/other", td->td_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/.aws", td->td_dir);
	rmdir(p);
	rmdir(td->td_dir);
}

static void
test_load_precedence(void **state)
{
	static const char config[] =
	    "[default]\nregion = us-east-1\n"
	    "[profile dev]\nregion = eu-west-1\naws_access_key_id = FROMCONFIG\n"
	    "aws_secret_access_key = cfgsecret\n"
	    "[profile cfgonly]\nregion = x\n";
	static const char creds[] =
	    "[dev]\naws_access_key_id = FROMCREDS\n"
	    "[profile dev]\naws_access_key_id = LITERAL\n"
	    "[credsonly]\naws_access_key_id = C\n";
	struct tdir td;
	struct aws_conf c;
	const struct aws_kv *kv;
	char err[ERRBUF_LEN] = "";

	(void)state;
	t_dir(&td);
	t_write(td.td_config, config, sizeof(config) - 1);
	t_write(td.td_creds, creds, sizeof(creds) - 1);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), 0);
	assert_string_equal(c.ac_config_path, td.td_config);
	assert_string_equal(c.ac_creds_path, td.td_creds);
	assert_int_equal(c.ac_config_found, 1);
	assert_int_equal(c.ac_creds_found, 1);
	assert_int_equal(c.ac_nconfig, 3);
	assert_int_equal(c.ac_ncreds, 3);

	/* the credentials file wins, key by key */
	assert_string_equal(awsconf_get(&c, "dev", "aws_access_key_id", &kv), "FROMCREDS");
	assert_ptr_equal(kv->kv_file, c.ac_creds_path);
	assert_int_equal(kv->kv_line, 2);
	assert_string_equal(awsconf_get(&c, "dev", "region", &kv), "eu-west-1");
	assert_ptr_equal(kv->kv_file, c.ac_config_path);
	assert_int_equal(kv->kv_line, 4);
	assert_string_equal(awsconf_get(&c, "dev", "aws_secret_access_key", NULL), "cfgsecret");
	assert_string_equal(awsconf_get(&c, "profile dev", "aws_access_key_id", NULL), "LITERAL");
	assert_null(awsconf_get(&c, "dev", "output", &kv));
	assert_null(kv);
	assert_null(awsconf_get(&c, "nope", "region", &kv));
	assert_null(kv);

	assert_true(awsconf_has_profile(&c, "default"));
	assert_true(awsconf_has_profile(&c, "dev"));
	assert_true(awsconf_has_profile(&c, "cfgonly"));
	assert_true(awsconf_has_profile(&c, "credsonly"));
	assert_true(awsconf_has_profile(&c, "profile dev"));
	assert_false(awsconf_has_profile(&c, "profile cfgonly"));
	assert_false(awsconf_has_profile(&c, "Dev"));
	assert_false(awsconf_has_profile(&c, "nope"));
	awsconf_free(&c);
	assert_null(c.ac_config_path);
	assert_null(c.ac_config);
	awsconf_free(&c);	/* twice is harmless */
	t_rmdir(&td);
}

static void
test_load_missing(void **state)
{
	static const char creds[] = "[default]\naws_access_key_id = A\n";
	struct tdir td;
	struct aws_conf c;
	char err[ERRBUF_LEN] = "";

	(void)state;
	t_dir(&td);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), 0);
	assert_int_equal(c.ac_config_found, 0);
	assert_int_equal(c.ac_creds_found, 0);
	assert_int_equal(c.ac_nconfig, 0);
	assert_int_equal(c.ac_ncreds, 0);
	assert_false(awsconf_has_profile(&c, "default"));
	assert_null(awsconf_get(&c, "default", "region", NULL));
	assert_string_equal(c.ac_config_path, td.td_config);
	awsconf_free(&c);

	t_write(td.td_creds, creds, sizeof(creds) - 1);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), 0);
	assert_int_equal(c.ac_config_found, 0);
	assert_int_equal(c.ac_creds_found, 1);
	assert_string_equal(awsconf_get(&c, "default", "aws_access_key_id", NULL), "A");
	awsconf_free(&c);
	t_rmdir(&td);
}

static void
test_load_errors(void **state)
{
	static const char bad[] = "[default]\r\nregion = a\r\nregion = b\r\n";
	struct tdir td;
	struct aws_conf c;
	char err[ERRBUF_LEN] = "";
	char want[ERRBUF_LEN];
	char aws[T_PATH_MAX];
	char *big;

	(void)state;
	t_dir(&td);
	/* a syntax error names the file and line */
	t_write(td.td_creds, bad, sizeof(bad) - 1);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: duplicate key 'region' in [default] (first at line 2)",
	    td.td_creds);
	assert_string_equal(err, want);
	assert_null(c.ac_config_path);
	assert_null(c.ac_creds_path);
	unlink(td.td_creds);

	/* a directory is not a missing file */
	snprintf(aws, sizeof(aws), "%s/.aws", td.td_dir);
	assert_int_equal(awsconf_load(aws, td.td_creds, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", aws, strerror(EISDIR));
	assert_string_equal(err, want);

	/* too big */
	big = malloc(AWSCONF_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '#', AWSCONF_FILE_MAX + 1);
	t_write(td.td_config, big, AWSCONF_FILE_MAX + 1);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", td.td_config, strerror(EFBIG));
	assert_string_equal(err, want);
	/* exactly the limit is fine */
	t_write(td.td_config, big, AWSCONF_FILE_MAX);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), 0);
	assert_int_equal(c.ac_config_found, 1);
	awsconf_free(&c);
	free(big);

	/* unreadable (skipped when running as root, which reads anything) */
	if (geteuid() != 0) {
		t_write(td.td_config, "[a]\n", 4);
		assert_int_equal(chmod(td.td_config, 0), 0);
		assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err,
		    sizeof(err)), -1);
		snprintf(want, sizeof(want), "%s: %s", td.td_config, strerror(EACCES));
		assert_string_equal(err, want);
	}
	t_rmdir(&td);
}

static void
test_load_long_token(void **state)
{
	static char text[T_TEXT_MAX];
	char token[T_TOKEN_LEN + 1];
	struct tdir td;
	struct aws_conf c;
	char err[ERRBUF_LEN] = "";
	size_t i;
	int n;

	(void)state;
	t_dir(&td);
	for (i = 0; i < T_TOKEN_LEN; i++)
		token[i] = (char)('A' + i % 26);
	token[T_TOKEN_LEN] = '\0';
	n = snprintf(text, sizeof(text),
	    "[default]\naws_access_key_id = AKID\naws_session_token=%s", token);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	t_write(td.td_creds, text, (size_t)n);
	assert_int_equal(awsconf_load(td.td_config, td.td_creds, &c, err, sizeof(err)), 0);
	assert_string_equal(awsconf_get(&c, "default", "aws_session_token", NULL), token);
	awsconf_free(&c);
	t_rmdir(&td);
}

static void
test_paths(void **state)
{
	char config[T_PATH_MAX], creds[T_PATH_MAX], err[ERRBUF_LEN];
	char small[16];

	(void)state;
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(awsconf_paths(config, sizeof(config), creds, sizeof(creds), err,
	    sizeof(err)), 0);
	assert_string_equal(config, "/home/u/.aws/config");
	assert_string_equal(creds, "/home/u/.aws/credentials");

	setenv("AWS_CONFIG_FILE", "~/cfg/aws.ini", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/creds", 1);
	assert_int_equal(awsconf_paths(config, sizeof(config), creds, sizeof(creds), err,
	    sizeof(err)), 0);
	assert_string_equal(config, "/home/u/cfg/aws.ini");
	assert_string_equal(creds, "/etc/aws/creds");

	/* empty means unset; "~user" and a "~" later on are not expanded */
	setenv("AWS_CONFIG_FILE", "", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~other/c~/x", 1);
	assert_int_equal(awsconf_paths(config, sizeof(config), creds, sizeof(creds), err,
	    sizeof(err)), 0);
	assert_string_equal(config, "/home/u/.aws/config");
	assert_string_equal(creds, "~other/c~/x");

	/* no HOME: fine when both variables are absolute */
	unsetenv("HOME");
	setenv("AWS_CONFIG_FILE", "/a/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/a/creds", 1);
	assert_int_equal(awsconf_paths(config, sizeof(config), creds, sizeof(creds), err,
	    sizeof(err)), 0);
	assert_string_equal(config, "/a/config");
	assert_string_equal(creds, "/a/creds");

	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	assert_int_equal(awsconf_paths(config, sizeof(config), creds, sizeof(creds), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "neither HOME nor AWS_SHARED_CREDENTIALS_FILE is set");

	setenv("HOME", "", 1);
	setenv("AWS_CONFIG_FILE", "~/x", 1);
	assert_int_equal(awsconf_paths(config, sizeof(config), creds, sizeof(creds), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "AWS_CONFIG_FILE: cannot expand '~': HOME is not set");

	setenv("HOME", "/home/u", 1);
	setenv("AWS_CONFIG_FILE", "/a/very/long/path/indeed", 1);
	assert_int_equal(awsconf_paths(small, sizeof(small), creds, sizeof(creds), err,
	    sizeof(err)), -1);
	assert_string_equal(err, "AWS_CONFIG_FILE: the path is longer than 15 bytes");
	unsetenv("AWS_CONFIG_FILE");
}

static void
test_paths_load(void **state)
{
	static const char creds[] = "[default]\naws_access_key_id = VIAENV\n";
	char config[T_PATH_MAX], cpath[T_PATH_MAX], err[ERRBUF_LEN], other[T_PATH_MAX];
	struct tdir td;
	struct aws_conf c;

	(void)state;
	t_dir(&td);
	snprintf(other, sizeof(other), "%s/.aws/other", td.td_dir);
	t_write(other, creds, sizeof(creds) - 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/other", 1);
	assert_int_equal(awsconf_paths(config, sizeof(config), cpath, sizeof(cpath), err,
	    sizeof(err)), 0);
	assert_string_equal(cpath, other);
	assert_string_equal(config, td.td_config);
	assert_int_equal(awsconf_load(config, cpath, &c, err, sizeof(err)), 0);
	assert_int_equal(c.ac_config_found, 0);
	assert_int_equal(c.ac_creds_found, 1);
	assert_string_equal(awsconf_get(&c, "default", "aws_access_key_id", NULL), "VIAENV");
	awsconf_free(&c);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	t_rmdir(&td);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_credentials),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_empty_and_blank),
		cmocka_unit_test(test_keys_lowercased),
		cmocka_unit_test(test_long_token),
		cmocka_unit_test(test_subsection),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_config_naming),
		cmocka_unit_test(test_credentials_naming),
		cmocka_unit_test(test_default_and_profile_default),
		cmocka_unit_test(test_defaults_section),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_section_name),
		cmocka_unit_test(test_key_limits),
		cmocka_unit_test(test_load_precedence),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_long_token),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_paths_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
