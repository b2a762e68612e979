/*
 * source.c: which credential source the daemon serves, and following it.
 *
 * creds_source_open chooses the source (--source auto|example|env|profile,
 * and for auto, says why), builds its provider: the source itself, wrapped
 * in STS for a profile's role chain, --assume-role, or long-term keys that
 * GetSessionToken turns into session keys; and names the role served.
 * STS is started here, once, when a provider needs it.
 *
 * A profile source is followed: when the shared files change or on
 * SIGHUP (creds_source_reread), its role chain is read again.  A changed
 * chain gets a new provider in the cache at once, fetched from; the role
 * name changes with its first credentials (creds_source_role_due).  What
 * cannot be taken live (keys from another profile, a chain that needs STS
 * when STS was never started, a broken file) is logged and the chain in use
 * kept.  An unchanged chain is fetched again with the base's kept
 * credential forgotten, so edited keys take effect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds/creds.h"

int
creds_role_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > ROLE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("+=,.@_-", s[i]) != NULL))
			return 0;
	return 1;
}

/* The instance's own role, for a message. */
static const char *
own_role(const struct creds_source *cs)
{
	const struct creds_source_cfg *c = &cs->cs_cfg;

	return c->src_own_role != NULL && c->src_own_role[0] ? c->src_own_role :
	    c->src_inst_role != NULL ? c->src_inst_role : "";
}

/* STS, once: region, endpoint and CA bundle from flags, AWS_* variables, defaults. */
int
creds_source_sts_start(struct creds_source *cs, char *err, size_t errlen)
{
	const struct creds_source_cfg *c = &cs->cs_cfg;
	struct sts_config sc;
	const char *v;

	if (cs->cs_sts_started)
		return 0;
	memset(&sc, 0, sizeof(sc));
	if ((v = c->src_sts_region) == NULL && ((v = getenv("AWS_REGION")) == NULL ||
	    *v == '\0') && ((v = getenv("AWS_DEFAULT_REGION")) == NULL || *v == '\0'))
		v = c->src_region != NULL ? c->src_region : "";
	snprintf(sc.sc_region, sizeof(sc.sc_region), "%s", v);
	if ((v = c->src_sts_endpoint) != NULL ||
	    ((v = getenv("AWS_ENDPOINT_URL_STS")) != NULL && *v != '\0'))
		snprintf(sc.sc_endpoint, sizeof(sc.sc_endpoint), "%s", v);
	if ((v = c->src_ca_bundle) != NULL || ((v = getenv("AWS_CA_BUNDLE")) != NULL &&
	    *v != '\0'))
		snprintf(sc.sc_ca_bundle, sizeof(sc.sc_ca_bundle), "%s", v);
	if (sts_init(&sc, err, errlen) == -1)
		return -1;
	cs->cs_sts_started = 1;
	log_debug("STS: region %s, endpoint %s", sc.sc_region,
	    sc.sc_endpoint[0] ? sc.sc_endpoint : "regional");
	return 0;
}

/* A profile's role chain (none: root = profile). */
static int
source_profile_chain(const struct creds_source *cs, const char *profile,
    struct assume_step *steps, size_t *nsteps, char *root, size_t rootlen, char *err,
    size_t errlen)
{
	char cfgpath[AWSCONF_PATH_MAX], credpath[AWSCONF_PATH_MAX];
	char session[STS_SESSION_NAME_MAX + 1];
	struct aws_conf ac;
	int rc;

	if (awsconf_paths(cfgpath, sizeof(cfgpath), credpath, sizeof(credpath), err,
	    errlen) == -1 || awsconf_load(cfgpath, credpath, &ac, err, errlen) == -1)
		return -1;
	if (!awsconf_has_profile(&ac, profile)) {
		/* cred_provider_profile says which files were looked in */
		awsconf_free(&ac);
		*nsteps = 0;
		snprintf(root, rootlen, "%s", profile);
		return 0;
	}
	if (cs->cs_cfg.src_session_name != NULL)
		snprintf(session, sizeof(session), "%s", cs->cs_cfg.src_session_name);
	else
		sts_default_session_name(session, sizeof(session));
	rc = sts_profile_chain(&ac, profile, session, steps, nsteps, root, rootlen, err, errlen);
	awsconf_free(&ac);
	return rc;
}

/*
 * The provider serving base through steps[0..nsteps) (a profile's role
 * chain; --assume-role is added after them, so steps has room for
 * STS_CHAIN_MAX), and the role name and account it serves ("" for the
 * instance's own).  profile names a profile source, NULL for the others.
 * base is taken over: freed on failure.  0, or -1 with err.
 */
static int
source_chain_provider(struct creds_source *cs, struct cred_provider *base,
    struct assume_step *steps, size_t nsteps, const char *profile, struct cred_provider **out,
    char *role, size_t rolelen, char *account, size_t acctlen, char *err, size_t errlen)
{
	const struct creds_source_cfg *c = &cs->cs_cfg;
	struct cred_provider *p = base;

	role[0] = account[0] = '\0';
	if (c->src_assume_role != NULL) {
		if (nsteps == STS_CHAIN_MAX) {
			snprintf(err, errlen, "more than %d roles to assume", STS_CHAIN_MAX);
			goto fail;
		}
		memset(&steps[nsteps], 0, sizeof(steps[nsteps]));
		snprintf(steps[nsteps].as_arn, sizeof(steps[nsteps].as_arn), "%s",
		    c->src_assume_role);
		snprintf(steps[nsteps].as_external_id, sizeof(steps[nsteps].as_external_id), "%s",
		    c->src_external_id != NULL ? c->src_external_id : "");
		if (c->src_session_name != NULL)
			snprintf(steps[nsteps].as_session, sizeof(steps[nsteps].as_session), "%s",
			    c->src_session_name);
		else
			sts_default_session_name(steps[nsteps].as_session,
			    sizeof(steps[nsteps].as_session));
		steps[nsteps++].as_duration = c->src_duration;
	}
	/*
	 * Through STS: roles to assume, or the environment's and profiles' keys,
	 * which GetSessionToken turns into session keys if they are long-term.
	 */
	if (nsteps > 0 || (base->cp_fetch != cred_provider_example.cp_fetch &&
	    !c->src_allow_long_term)) {
		if (creds_source_sts_start(cs, err, errlen) == -1)
			goto fail;
		/* takes base over, on failure too */
		if (cred_provider_sts(base, steps, nsteps, c->src_duration,
		    c->src_allow_long_term, &p, err, errlen) == -1)
			return -1;
	}
	if (nsteps > 0) {
		/* the role served is the one assumed last; its account owns the instance */
		char name[ROLE_NAME_MAX + 1], acct[CRED_ACCOUNT_BUF];
		if (sts_role_name(steps[nsteps - 1].as_arn, name, sizeof(name), acct,
		    sizeof(acct)) == -1) {
			snprintf(err, errlen, "role_arn %.200s is not a role ARN",
			    steps[nsteps - 1].as_arn);
			base = p;
			goto fail;
		}
		snprintf(role, rolelen, "%s", name);
		snprintf(account, acctlen, "%s", acct);
	}
	if (c->src_role_name != NULL)
		snprintf(role, rolelen, "%s", c->src_role_name);
	else if (nsteps > 0)
		;	/* named after the role, above */
	else if (profile != NULL && creds_role_name_ok(profile))
		snprintf(role, rolelen, "%s", profile);
	else if (profile != NULL)
		log_warn("profile name %s is not a valid role name; listing the role %s",
		    profile, own_role(cs));
	*out = p;
	return 0;
fail:
	if (base->cp_free != NULL)
		base->cp_free(base);
	return -1;
}

int
creds_source_open(struct creds_source *cs, const struct creds_source_cfg *cfg,
    struct cred_provider **out, char *role, size_t rolelen, char *account, size_t acctlen,
    char *err, size_t errlen)
{
	const char *src, *profile, *akid = getenv("AWS_ACCESS_KEY_ID");
	char why[ERRBUF_LEN] = "";	/* how auto chose, logged once the source delivers */
	char cfgpath[AWSCONF_PATH_MAX], credpath[AWSCONF_PATH_MAX];
	char root[AWSCONF_PROFILE_MAX + 1];
	struct assume_step steps[STS_CHAIN_MAX];
	size_t nsteps = 0;
	struct aws_conf ac;
	int use_profile = 0;

	mem_zero(cs, sizeof(*cs));	/* its chain's room is used only with a profile's roles */
	cs->cs_cfg = *cfg;
	src = cfg->src_source != NULL ? cfg->src_source : "auto";
	profile = cfg->src_profile;
	if (profile == NULL && (profile = getenv("AWS_PROFILE")) != NULL && *profile == '\0')
		profile = NULL;
	if (profile == NULL)
		profile = "default";

	if (strcmp(src, "auto") == 0) {
		if (akid != NULL && *akid != '\0') {
			src = "env";
			snprintf(why, sizeof(why), " (auto: AWS_ACCESS_KEY_ID is set)");
		} else if (awsconf_paths(cfgpath, sizeof(cfgpath), credpath, sizeof(credpath),
		    err, errlen) == -1) {
			src = "example";
			snprintf(why, sizeof(why), " (auto: no AWS_ACCESS_KEY_ID, and no shared "
			    "files: %.200s)", err);
		} else if (awsconf_load(cfgpath, credpath, &ac, err, errlen) == 0) {
			use_profile = awsconf_has_profile(&ac, profile);
			src = use_profile ? "profile" : "example";
			if (use_profile)
				snprintf(why, sizeof(why), " (auto: no AWS_ACCESS_KEY_ID; profile %s "
				    "is in the shared files)", profile);
			else
				snprintf(why, sizeof(why), " (auto: no AWS_ACCESS_KEY_ID, and profile "
				    "%s is in neither %s (%s) nor %s (%s))", profile, credpath,
				    ac.ac_creds_found ? "read" : "no such file", cfgpath,
				    ac.ac_config_found ? "read" : "no such file");
			awsconf_free(&ac);
		} else
			return -1;	/* a broken file is the user's to fix, not a reason to fall back */
	}
	if (strcmp(src, "env") == 0) {
		if (cred_provider_env(out, err, errlen) == -1)
			return -1;
	} else if (strcmp(src, "profile") == 0) {
		/* a role profile: its chain ends at the profile holding the keys */
		if (source_profile_chain(cs, profile, steps, &nsteps, root, sizeof(root), err,
		    errlen) == -1 || cred_provider_profile(root, out, err, errlen) == -1)
			return -1;
		use_profile = 1;
	} else
		*out = &cred_provider_example;

	if (source_chain_provider(cs, *out, steps, nsteps, use_profile ? profile : NULL, out,
	    role, rolelen, account, acctlen, err, errlen) == -1)
		return -1;
	if (use_profile && strcmp(src, "profile") == 0) {
		/* followed from now on: see source_chain_check */
		cs->cs_chain_on = 1;
		snprintf(cs->cs_chain_profile, sizeof(cs->cs_chain_profile), "%s", profile);
		snprintf(cs->cs_chain_root, sizeof(cs->cs_chain_root), "%s", root);
		memcpy(cs->cs_chain, steps, sizeof(cs->cs_chain));
		cs->cs_nchain = nsteps;	/* the profile's own: the provider added to a copy */
	}
	snprintf(cs->cs_why, sizeof(cs->cs_why), "%s", why);
	return 0;
}

/* Two steps of a role chain are the same request to STS. */
static int
same_step(const struct assume_step *a, const struct assume_step *b)
{
	return strcmp(a->as_arn, b->as_arn) == 0 && strcmp(a->as_session, b->as_session) == 0 &&
	    strcmp(a->as_external_id, b->as_external_id) == 0 &&
	    a->as_duration == b->as_duration;
}

/*
 * A profile source: look at its role chain again.  A changed chain gets a
 * new provider in cc, fetched from at once; its role name is served from
 * its first credentials on (creds_source_role_due).  What cannot be taken
 * live is logged, and the chain in use kept.  1 when a fetch was started
 * here, else 0.
 */
static int
source_chain_check(struct creds_source *cs, struct cred_cache *cc)
{
	struct assume_step steps[STS_CHAIN_MAX];
	struct cred_provider *base, *p, *old;
	char root[AWSCONF_PROFILE_MAX + 1], err[ERRBUF_LEN];
	char role[ROLE_NAME_MAX + 1], account[sizeof(cs->cs_next_account)];
	size_t n = 0, i;

	if (!cs->cs_chain_on)
		return 0;
	if (cc->cc_busy) {
		cs->cs_pending = 1;	/* creds_source_tick comes back once the fetch ends */
		return 0;
	}
	cs->cs_pending = 0;
	memset(steps, 0, sizeof(steps));
	if (source_profile_chain(cs, cs->cs_chain_profile, steps, &n, root, sizeof(root), err,
	    sizeof(err)) == -1) {
		log_warn("profile %s: %s; keeping the role chain in use", cs->cs_chain_profile,
		    err);
		return 0;
	}
	for (i = 0; i < n && i < cs->cs_nchain && same_step(&steps[i], &cs->cs_chain[i]); i++)
		;
	if (strcmp(root, cs->cs_chain_root) == 0 && n == cs->cs_nchain && i == n)
		return 0;
	if (strcmp(root, cs->cs_chain_root) != 0) {
		log_warn("profile %s now takes its keys from profile %s, not %s: restart to "
		    "use them; keeping the role chain in use", cs->cs_chain_profile, root,
		    cs->cs_chain_root);
		return 0;
	}
	if (n > 0 && !cs->cs_sts_started) {
		log_warn("profile %s now assumes a role, which needs STS (not started with "
		    "--allow-long-term-keys and no role): restart to use it; keeping the "
		    "credentials in use", cs->cs_chain_profile);
		return 0;
	}
	if (cred_provider_profile(root, &base, err, sizeof(err)) == -1 ||
	    source_chain_provider(cs, base, steps, n, cs->cs_chain_profile, &p, role,
	    sizeof(role), account, sizeof(account), err, sizeof(err)) == -1) {
		log_warn("profile %s: the new role chain: %s; keeping the one in use",
		    cs->cs_chain_profile, err);
		return 0;
	}
	old = cc->cc_prov;
	cc->cc_prov = p;
	if (old->cp_free != NULL)
		old->cp_free(old);
	memcpy(cs->cs_chain, steps, sizeof(cs->cs_chain));
	cs->cs_nchain = n;
	snprintf(cs->cs_next_role, sizeof(cs->cs_next_role), "%s", role);
	snprintf(cs->cs_next_account, sizeof(cs->cs_next_account), "%s", account);
	cs->cs_next_after = cc->cc_n_ok;
	cs->cs_role_pending = 1;
	log_info("profile %s: the role chain changed (%zu role%s%s%.200s); credentials from "
	    "%s now", cs->cs_chain_profile, n, n == 1 ? "" : "s", n > 0 ? ", the last " : "",
	    n > 0 ? steps[n - 1].as_arn : "", p->cp_desc);
	cred_cache_refresh(cc, time(NULL));
	return 1;
}

void
creds_source_reread(struct creds_source *cs, struct cred_cache *cc, enum creds_reread why)
{
	if (source_chain_check(cs, cc))
		return;		/* a new chain, fetched from already */
	if (cc->cc_prov->cp_forget != NULL)
		cc->cc_prov->cp_forget(cc->cc_prov);
	if (why == CREDS_REREAD_FILES)
		log_info("credentials from %s: a file changed, reading it again",
		    cc->cc_prov->cp_desc);
	else
		log_info("SIGHUP: reading the credentials from %s again", cc->cc_prov->cp_desc);
	cred_cache_refresh(cc, time(NULL));
}

IDLE_PATH void
creds_source_tick(struct creds_source *cs, struct cred_cache *cc)
{
	if (cs->cs_pending && !cc->cc_busy)
		source_chain_check(cs, cc);
}

int
creds_source_role_due(struct creds_source *cs, const struct cred_cache *cc, char *role,
    size_t rolelen, char *account, size_t acctlen)
{
	if (!cs->cs_role_pending || cc->cc_n_ok <= cs->cs_next_after)
		return 0;
	/* the new chain's first credentials: its role name with them */
	cs->cs_role_pending = 0;
	snprintf(role, rolelen, "%s", cs->cs_next_role);
	snprintf(account, acctlen, "%s", cs->cs_next_account);
	return 1;
}

const char *
creds_source_ca_bundle(const struct creds_source *cs)
{
	const char *v = cs->cs_cfg.src_ca_bundle;

	if (!cs->cs_sts_started)
		return NULL;
	if (v == NULL && (v = getenv("AWS_CA_BUNDLE")) != NULL && *v == '\0')
		v = NULL;
	return v;
}

void
creds_source_close(struct creds_source *cs)
{
	if (cs->cs_sts_started)
		sts_cleanup();
	cs->cs_sts_started = 0;
}
