/*
 * creds.c: credential providers behind one cache.
 *
 * A provider fetches a credential, at once (example, environment, static
 * keys in the shared files) or later from the event loop
 * (credential_process).  The cache keeps the last good credential and
 * decides when to fetch again: ahead of expiry, with jitter, and with
 * backoff after failures.  It never blocks a request: the server serves
 * whatever snapshot the cache last published (registry.c, serve/daemon.c), and a failed
 * refresh keeps the last good credential until it expires.  After that the
 * credentials path answers 404 until a fetch succeeds again.
 *
 * Secrets never reach the log: messages name sources, files and key IDs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds/creds.h"

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

#define BACKOFF_JITTER_PCT	20	/* backoff varies by +-this percent */

/* Fill cr_token with the base64 of text repeated n times. */
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
	if (b64_encode(raw, off, c->cr_token, sizeof(c->cr_token), 0, 0) == 0)
		c->cr_token[0] = '\0';
}

/* Copy a C string into a fixed field; -1 if it does not fit. */
static int
field_set(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* ---- the example provider ---------------------------------------------- */

static void
example_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	struct cred c;

	(void)cp;
	memset(&c, 0, sizeof(c));
	field_set(c.cr_akid, sizeof(c.cr_akid), EXAMPLE_AKID);
	field_set(c.cr_secret, sizeof(c.cr_secret), EXAMPLE_SECRET);
	token_text(&c, EXAMPLE_TOKEN_TEXT, EXAMPLE_TOKEN_REPEAT);
	/* No upstream expiry: they "last" as long as an EC2 role's do. */
	c.cr_last_updated = now;
	c.cr_expiration = now + CRED_LIFETIME_EXAMPLE;
	done(arg, 1, &c, NULL);
	cred_wipe(&c);
}

struct cred_provider cred_provider_example = {
	.cp_name = "example",
	.cp_desc = "AWS's documented example credentials (not valid at AWS)",
	.cp_fetch = example_fetch,
	.cp_free = NULL,
	.cp_ctx = NULL,
};

void
creds_ec2_placeholder(time_t now, struct cred *out)
{
	memset(out, 0, sizeof(*out));
	field_set(out->cr_akid, sizeof(out->cr_akid), EC2_AKID);
	field_set(out->cr_secret, sizeof(out->cr_secret), EC2_SECRET);
	token_text(out, EC2_TOKEN_TEXT, 1);
	out->cr_last_updated = now;
	out->cr_expiration = now + CRED_LIFETIME_EXAMPLE;
}

/* noinline: GCC's object-size check mistakes &cred for its first member */
__attribute__((noinline)) void
cred_wipe(struct cred *c)
{
	explicit_bzero(c, sizeof(*c));
}

int
cred_keep(struct cred_kept *k, const struct cred *c)
{
	size_t n = strnlen(c->cr_token, sizeof(c->cr_token) - 1);
	char *tok = NULL;

	if (n > 0 && (tok = mem_strdup(c->cr_token, n)) == NULL)
		return -1;
	cred_kept_wipe(k);
	memcpy(k->ck_akid, c->cr_akid, sizeof(k->ck_akid));
	memcpy(k->ck_secret, c->cr_secret, sizeof(k->ck_secret));
	k->ck_akid[sizeof(k->ck_akid) - 1] = '\0';
	k->ck_secret[sizeof(k->ck_secret) - 1] = '\0';
	k->ck_token = tok;
	k->ck_token_len = n;
	k->ck_expiration = c->cr_expiration;
	k->ck_last_updated = c->cr_last_updated;
	return 0;
}

void
cred_kept_get(const struct cred_kept *k, struct cred *c)
{
	memcpy(c->cr_akid, k->ck_akid, sizeof(c->cr_akid));
	memcpy(c->cr_secret, k->ck_secret, sizeof(c->cr_secret));
	/* only the token's bytes: the rest of cr_token is not read past its NUL */
	if (k->ck_token != NULL)
		memcpy(c->cr_token, k->ck_token, k->ck_token_len + 1);
	else
		c->cr_token[0] = '\0';
	c->cr_expiration = k->ck_expiration;
	c->cr_last_updated = k->ck_last_updated;
}

/* noinline: as cred_wipe */
__attribute__((noinline)) void
cred_kept_wipe(struct cred_kept *k)
{
	wipe_free(k->ck_token, k->ck_token_len);
	explicit_bzero(k, sizeof(*k));
}

/* ---- the refresh policy (pure) ----------------------------------------- */

time_t
cred_served_expiration(const struct cred *c, time_t fetched)
{
	return c->cr_expiration != 0 ? c->cr_expiration : fetched + CRED_ROLLING_LIFETIME;
}

time_t
cred_refresh_at(const struct cred *c, time_t fetched, time_t now, uint32_t rnd)
{
	time_t jitter = (time_t)(rnd % (CRED_REFRESH_JITTER + 1)), at;

	if (c->cr_expiration != 0)
		at = c->cr_expiration - CRED_REFRESH_AHEAD - jitter;
	else	/* keep the rolling Expiration at least CRED_MIN_AHEAD away */
		at = fetched + CRED_ROLLING_LIFETIME - CRED_MIN_AHEAD - jitter;
	if (at < now + CRED_REFRESH_MIN_GAP)
		at = now + CRED_REFRESH_MIN_GAP;
	return at;
}

unsigned
cred_backoff(unsigned n, uint32_t rnd)
{
	unsigned long base = CRED_BACKOFF_MIN;
	unsigned i, pct;

	for (i = 1; i < n && base < CRED_BACKOFF_MAX; i++)
		base *= 2;
	if (base > CRED_BACKOFF_MAX)
		base = CRED_BACKOFF_MAX;
	/* spread retries of many daemons: base * (100 +- BACKOFF_JITTER_PCT)% */
	pct = 100 - BACKOFF_JITTER_PCT + rnd % (2 * BACKOFF_JITTER_PCT + 1);
	base = base * pct / 100;
	return base > 0 ? (unsigned)base : 1;
}

/* ---- the cache ---------------------------------------------------------- */

void
cred_cache_init(struct cred_cache *cc, struct cred_provider *p, void (*changed)(void *),
    void *arg)
{
	memset(cc, 0, sizeof(*cc));
	cc->cc_clock = clock_wall;
	cc->cc_prov = p;
	cc->cc_changed = changed;
	cc->cc_arg = arg;
}

static void
cache_changed(struct cred_cache *cc)
{
	if (cc->cc_changed != NULL)
		cc->cc_changed(cc->cc_arg);
}

/* A fetch failed.  The first fetch's failure is the start-up's to report. */
static void
cache_failed(struct cred_cache *cc, time_t now, const char *err, int first)
{
	unsigned wait;

	cc->cc_failures++;
	cc->cc_n_failed++;
	wait = cred_backoff(cc->cc_failures, rnd32());
	cc->cc_next = now + (time_t)wait;
	cred_cache_set_error(cc, err);
	if (first)
		return;
	if (cc->cc_have)
		log_warn("credentials from %s: %s; still serving %s (expires in %ld s); "
		    "retrying in %u s", cc->cc_prov->cp_desc, err, cc->cc_cur.ck_akid,
		    (long)(cc->cc_cur.ck_expiration - now), wait);
	else
		log_warn("credentials from %s: %s; retrying in %u s", cc->cc_prov->cp_desc,
		    err, wait);
}

/* A fetch's answer, taken or refused.  now: the cache's clock. */
static void
cache_result(struct cred_cache *cc, time_t now, int ok, const struct cred *c, const char *err)
{
	char why[ERRBUF_LEN];
	int first = !cc->cc_fetched_once;

	cc->cc_fetched_once = 1;
	if (!ok) {
		cache_failed(cc, now, err != NULL ? err : "failed", first);
		return;
	}
	if (c->cr_akid[0] == '\0' || c->cr_secret[0] == '\0') {
		cache_failed(cc, now, "no access key id or secret access key", first);
		return;
	}
	if (c->cr_token[0] == '\0' && !cc->cc_allow_long_term) {
		/* the JavaScript SDK and others require a Token */
		snprintf(why, sizeof(why), "access key %s is a long-term key (no session token); "
		    "serve it as it is with --allow-long-term-keys", c->cr_akid);
		cache_failed(cc, now, why, first);
		return;
	}
	if (c->cr_expiration != 0 && c->cr_expiration <= now) {
		snprintf(why, sizeof(why), "access key %s expired %ld s ago", c->cr_akid,
		    (long)(now - c->cr_expiration));
		cache_failed(cc, now, why, first);
		return;
	}
	if (cred_keep(&cc->cc_cur, c) == -1) {
		cache_failed(cc, now, "out of memory", first);	/* the last good stays */
		return;
	}
	cc->cc_next = cred_refresh_at(c, now, now, rnd32());
	if (cc->cc_cur.ck_last_updated == 0)
		cc->cc_cur.ck_last_updated = now;
	cc->cc_cur.ck_expiration = cred_served_expiration(c, now);
	cc->cc_fetched = now;
	cc->cc_have = 1;
	cc->cc_n_ok++;
	cc->cc_failures = 0;
	cred_cache_set_error(cc, "");
	if (!first)	/* the first is the start-up's to report, with how it chose */
		log_info("credentials from %s: access key %s, expiring in %ld s%s",
		    cc->cc_prov->cp_desc, cc->cc_cur.ck_akid,
		    (long)(cc->cc_cur.ck_expiration - now),
		    c->cr_expiration == 0 ? " (no expiry of their own: a rolling Expiration)" : "");
	cache_changed(cc);
}

/*
 * A fetch ended.  A refresh asked for while it ran (an edit it may have
 * read before) fetches again at once.
 */
static void
cache_done(void *arg, int ok, const struct cred *c, const char *err)
{
	struct cred_cache *cc = arg;
	time_t now = cc->cc_clock();

	cc->cc_busy = 0;
	cache_result(cc, now, ok, c, err);
	if (cc->cc_again && !cc->cc_busy) {
		cc->cc_again = 0;
		cred_cache_refresh(cc, now);
	}
}

void
cred_cache_refresh(struct cred_cache *cc, time_t now)
{
	if (cc->cc_busy) {
		cc->cc_again = 1;	/* once this one ends */
		return;
	}
	cc->cc_busy = 1;
	cc->cc_again = 0;
	cc->cc_prov->cp_fetch(cc->cc_prov, now, cache_done, cc);
}

IDLE_PATH void
cred_cache_tick(struct cred_cache *cc, time_t now)
{
	if (cc->cc_have && cc->cc_cur.ck_expiration <= now) {
		cc->cc_have = 0;
		log_err("credentials %s from %s expired; the credentials path answers 404 "
		    "until a refresh succeeds%s%s", cc->cc_cur.ck_akid, cc->cc_prov->cp_desc,
		    cred_cache_error(cc)[0] ? ": " : "", cred_cache_error(cc));
		cred_kept_wipe(&cc->cc_cur);
		cache_changed(cc);
	}
	if (!cc->cc_busy && now >= cc->cc_next)
		cred_cache_refresh(cc, now);
}

void
cred_cache_free(struct cred_cache *cc)
{
	cred_kept_wipe(&cc->cc_cur);
	cred_cache_set_error(cc, "");
	if (cc->cc_prov != NULL && cc->cc_prov->cp_free != NULL)
		cc->cc_prov->cp_free(cc->cc_prov);
	cc->cc_prov = NULL;
}

const char *
cred_cache_error(const struct cred_cache *cc)
{
	return cc->cc_error != NULL ? cc->cc_error : "";
}

void
cred_cache_set_error(struct cred_cache *cc, const char *err)
{
	/* most roles never fail: a reason costs its length only while it stands */
	free(cc->cc_error);
	cc->cc_error = NULL;
	if (*err != '\0')
		cc->cc_error = mem_strdup(err, strnlen(err, ERRBUF_LEN - 1));
}

/* ---- the environment ---------------------------------------------------- */

static void
env_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN"), *exp = getenv("AWS_CREDENTIAL_EXPIRATION");
	struct cred c;

	(void)cp;
	(void)now;
	memset(&c, 0, sizeof(c));
	if (akid == NULL || *akid == '\0' || secret == NULL || *secret == '\0') {
		done(arg, 0, NULL, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set");
		return;
	}
	if (field_set(c.cr_akid, sizeof(c.cr_akid), akid) == -1 ||
	    field_set(c.cr_secret, sizeof(c.cr_secret), secret) == -1 ||
	    (token != NULL && field_set(c.cr_token, sizeof(c.cr_token), token) == -1)) {
		cred_wipe(&c);
		done(arg, 0, NULL, "a credential in the environment is too long");
		return;
	}
	if (exp != NULL && *exp != '\0' && parse_iso8601(exp, strlen(exp), &c.cr_expiration) == -1) {
		cred_wipe(&c);
		done(arg, 0, NULL, "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time "
		    "(YYYY-MM-DDTHH:MM:SSZ)");
		return;
	}
	done(arg, 1, &c, NULL);
	cred_wipe(&c);
}

int
cred_provider_env(struct cred_provider **out, char *err, size_t errlen)
{
	struct cred_provider *p;
	const char *akid = getenv("AWS_ACCESS_KEY_ID");

	if (akid == NULL || *akid == '\0') {
		snprintf(err, errlen, "AWS_ACCESS_KEY_ID is not set");
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->cp_name = "env";
	p->cp_desc = "the environment (AWS_ACCESS_KEY_ID)";
	p->cp_fetch = env_fetch;
	p->cp_free = (void (*)(struct cred_provider *))free;
	*out = p;
	return 0;
}

/* ---- a profile of the shared files -------------------------------------- */

struct profile_ctx {
	char		 pc_name[AWSCONF_PROFILE_MAX + 1];
	char		 pc_config[AWSCONF_PATH_MAX];
	char		 pc_creds[AWSCONF_PATH_MAX];
	char		 pc_desc[ERRBUF_LEN];	/* the provider's cp_desc */
	cred_done_fn	 pc_done;	/* of the credential_process under way */
	void		*pc_arg;
};

/* Static keys of a profile: aws_access_key_id and friends. */
static int
profile_static(const struct aws_conf *ac, const char *name, struct cred *c, char *err,
    size_t errlen)
{
	const struct aws_kv *where = NULL;
	const char *akid = awsconf_get(ac, name, "aws_access_key_id", &where);
	const char *secret = awsconf_get(ac, name, "aws_secret_access_key", NULL);
	const char *token = awsconf_get(ac, name, "aws_session_token", NULL);

	if (token == NULL)	/* the older name botocore still reads */
		token = awsconf_get(ac, name, "aws_security_token", NULL);
	if (secret == NULL || *secret == '\0') {
		snprintf(err, errlen, "%s:%u: profile %s has aws_access_key_id but no "
		    "aws_secret_access_key", where->kv_file, where->kv_line, name);
		return -1;
	}
	if (field_set(c->cr_akid, sizeof(c->cr_akid), akid) == -1 ||
	    field_set(c->cr_secret, sizeof(c->cr_secret), secret) == -1 ||
	    (token != NULL && field_set(c->cr_token, sizeof(c->cr_token), token) == -1)) {
		snprintf(err, errlen, "%s:%u: a key of profile %s is too long", where->kv_file,
		    where->kv_line, name);
		return -1;
	}
	return 0;
}

static void
profile_proc_done(void *arg, int ok, const struct cred *c, const char *err)
{
	struct profile_ctx *pc = arg;

	pc->pc_done(pc->pc_arg, ok, c, err);
}

/*
 * The AWS CLI's order within a profile: static keys of the credentials
 * file, then credential_process, then static keys of the config file.
 */
static void
profile_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	struct profile_ctx *pc = cp->cp_ctx;
	struct aws_conf ac;
	const struct aws_kv *kv = NULL;
	const char *proc;
	char err[ERRBUF_LEN];
	struct cred c;

	(void)now;
	memset(&c, 0, sizeof(c));
	if (awsconf_load(pc->pc_config, pc->pc_creds, &ac, err, sizeof(err)) == -1) {
		done(arg, 0, NULL, err);
		return;
	}
	if (!awsconf_has_profile(&ac, pc->pc_name)) {
		snprintf(err, sizeof(err), "profile %s is in neither %s nor %s", pc->pc_name,
		    pc->pc_creds, pc->pc_config);
		goto fail;
	}
	if (awsconf_get(&ac, pc->pc_name, "aws_access_key_id", &kv) != NULL &&
	    kv->kv_file == ac.ac_creds_path) {
		if (profile_static(&ac, pc->pc_name, &c, err, sizeof(err)) == -1)
			goto fail;
		goto ok;
	}
	if ((proc = awsconf_get(&ac, pc->pc_name, "credential_process", NULL)) != NULL) {
		pc->pc_done = done;
		pc->pc_arg = arg;
		if (credproc_run_profile(pc->pc_name, proc, CREDPROC_TIMEOUT_MS,
		    profile_proc_done, pc, err, sizeof(err)) == -1)
			goto fail;
		awsconf_free(&ac);
		return;		/* done comes from the loop */
	}
	if (kv != NULL) {
		if (profile_static(&ac, pc->pc_name, &c, err, sizeof(err)) == -1)
			goto fail;
		goto ok;
	}
	if (awsconf_get(&ac, pc->pc_name, "role_arn", &kv) != NULL)
		snprintf(err, sizeof(err), "%s:%u: profile %s assumes a role (role_arn), which "
		    "needs STS; give keys or a credential_process", kv->kv_file, kv->kv_line,
		    pc->pc_name);
	else
		snprintf(err, sizeof(err), "profile %s has no aws_access_key_id and no "
		    "credential_process", pc->pc_name);
fail:
	awsconf_free(&ac);
	cred_wipe(&c);
	done(arg, 0, NULL, err);
	return;
ok:
	awsconf_free(&ac);
	done(arg, 1, &c, NULL);
	cred_wipe(&c);
}

static void
profile_free(struct cred_provider *cp)
{
	free(cp->cp_ctx);
	free(cp);
}

int
cred_provider_profile(const char *profile, struct cred_provider **out, char *err,
    size_t errlen)
{
	struct cred_provider *p = NULL;
	struct profile_ctx *pc = NULL;
	struct aws_conf ac;

	if (strlen(profile) == 0 || strlen(profile) > AWSCONF_PROFILE_MAX) {
		snprintf(err, errlen, "bad profile name '%s'", profile);
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL || (pc = calloc(1, sizeof(*pc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(pc->pc_name, sizeof(pc->pc_name), "%s", profile);
	if (awsconf_paths(pc->pc_config, sizeof(pc->pc_config), pc->pc_creds,
	    sizeof(pc->pc_creds), err, errlen) == -1)
		goto fail;
	if (awsconf_load(pc->pc_config, pc->pc_creds, &ac, err, errlen) == -1)
		goto fail;
	if (!awsconf_has_profile(&ac, profile)) {
		snprintf(err, errlen, "profile %s is in neither %s (%s) nor %s (%s)", profile,
		    pc->pc_creds, ac.ac_creds_found ? "read" : "no such file",
		    pc->pc_config, ac.ac_config_found ? "read" : "no such file");
		awsconf_free(&ac);
		goto fail;
	}
	snprintf(pc->pc_desc, sizeof(pc->pc_desc), "profile %s (%s%s%s)", profile,
	    ac.ac_creds_found ? pc->pc_creds : "",
	    ac.ac_creds_found && ac.ac_config_found ? ", " : "",
	    ac.ac_config_found ? pc->pc_config : "");
	p->cp_desc = pc->pc_desc;
	awsconf_free(&ac);
	p->cp_name = "profile";
	p->cp_fetch = profile_fetch;
	p->cp_free = profile_free;
	p->cp_ctx = pc;
	*out = p;
	return 0;
fail:
	free(pc);
	free(p);
	return -1;
}

/* The profile under cp (through the STS wrapper), or NULL for other providers. */
static const struct profile_ctx *
profile_ctx_of(const struct cred_provider *cp)
{
	while (cp->cp_base != NULL)
		cp = cp->cp_base;
	return cp->cp_fetch == profile_fetch ? cp->cp_ctx : NULL;
}

/* The paths of a profile provider, for watching (NULL for other providers). */
const char *
cred_provider_file(const struct cred_provider *cp, int which)
{
	const struct profile_ctx *pc = profile_ctx_of(cp);

	return pc == NULL ? NULL : which == 0 ? pc->pc_config : pc->pc_creds;
}

/* The profile of a profile provider (through wrappers); NULL for others. */
const char *
cred_provider_profile_name(const struct cred_provider *cp)
{
	const struct profile_ctx *pc = profile_ctx_of(cp);

	return pc == NULL ? NULL : pc->pc_name;
}
