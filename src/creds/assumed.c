/*
 * assumed.c: roles assumed on the node's credentials, shared by their users.
 *
 * A role is (ARN, ExternalId): the same pair is one role of the registry,
 * fetched once and refreshed like any role (the registry's renderings, the
 * cache's schedule), whoever uses it: the pods that name it (pods/node.c),
 * the ECS endpoint's ids and /role/ (container/assume.c).  Its STS base is
 * the node's own credentials, those IMDS serves, through one shared base
 * (creds_sts.c's cred_base), so N roles refreshed together ask nothing more
 * of the source.
 *
 * Users are counted: assumed_acquire adds the role (and starts its first
 * fetch right then: a pod's credentials are there before its first request)
 * or takes one more use of it; assumed_release gives one back.  A role
 * nobody uses lingers ASSUMED_LINGER_S (a pod replaced by its next
 * generation finds it warm), then the tick removes it.  A pinned role (the
 * ECS endpoint's: asked for by name, never given back) stays.
 *
 * The registry's keys are capped (ROLE_KEY_MAX) and an ARN with a path, or
 * with an ExternalId, can be longer: such a role is keyed by the SHA-256 of
 * (ARN, ExternalId) ("sha256:" and 64 hex digits; an ARN starts "arn:", so
 * the two never meet), its ARN kept here for the log.  A role with no
 * ExternalId and an ARN that fits is keyed by its ARN, as before.
 *
 * A role with session tags (EKS Pod Identity's, which name the pod) is
 * keyed by the SHA-256 of (ARN, ExternalId, every tag's key, value and
 * transitivity): pods never share such credentials, and the same role
 * without tags (IMDS, ECS) is another role.  Its session name is chosen
 * when it is added (assumed_acquire_as), its user named for the log, and
 * its owner (the pod's uid) told gone drops it at the next tick once
 * unused, without lingering: no later pod has those tags.
 *
 * When STS refuses a role, the tick logs it once per failure streak: the
 * role, its users (the owner's ac_users: the pods), the cache's error (STS's
 * code and message, never a secret) and the remedy.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "creds/creds.h"

#define ASSUMED_KEY_PREFIX	"sha256:"	/* a digest key's start */
#define ASSUMED_CAP_INIT	8	/* first allocation of the table */
#define ASSUMED_USERS_TEXT	512	/* bytes of "pods a/b, c/d" in a refusal's line */

struct assumed {
	struct role	*a_role;	/* in the registry; its key is ours */
	char		*a_arn;		/* malloc'd, for the log and `ctl pods` */
	int		 a_has_ext;	/* an ExternalId is sent */
	int		 a_tagged;	/* session tags are sent */
	char		*a_who;		/* malloc'd: its user for the log, or NULL (ac_users) */
	char		*a_owner;	/* malloc'd: assumed_owner_gone's name, or NULL */
	int		 a_gone;	/* its owner is gone: dropped once unused */
	unsigned	 a_users;
	int		 a_pinned;	/* a user that never gives it back */
	time_t		 a_idle_since;	/* the last user left then; 0: in use */
	int		 a_logged;	/* this failure streak was logged */
};

static struct {
	struct assumed_cfg cfg;
	struct cred_base *base;		/* the node's credentials, shared */
	struct assumed	**tab;
	size_t		 n, cap;
	struct assumed_stats stats;
} as;

/* The node role's credentials as they are now (its cache refreshes them). */
static void
node_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	const struct cred_cache *cc = &as.cfg.ac_node->ro_cache;
	struct cred c;

	(void)cp;
	(void)now;
	if (cc->cc_have) {
		cred_kept_get(&cc->cc_cur, &c);
		done(arg, 1, &c, NULL);
		cred_wipe(&c);
	} else
		done(arg, 0, NULL, "the node's own credentials are not there (yet)");
}

static struct cred_provider node_provider = {
	.cp_name = "node",
	.cp_desc = "the node's credentials",
	.cp_fetch = node_fetch,
};

int
assumed_init(const struct assumed_cfg *cfg, char *err, size_t errlen)
{
	if (as.base != NULL)
		return 0;	/* serve and exec share start-up: once */
	as.cfg = *cfg;
	return cred_base_new(&node_provider, &as.base, err, errlen);
}

/* The registry key of (arn, ext, tags) into key[ROLE_KEY_MAX + 1]. */
static void
assumed_key(const char *arn, const char *ext, const struct assume_tags *tags,
    char key[ROLE_KEY_MAX + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	size_t i, off;

	if (*ext == '\0' && tags == NULL && strlen(arn) <= ROLE_KEY_MAX) {
		memcpy(key, arn, strlen(arn) + 1);
		return;
	}
	SHA256_Init(&c);
	SHA256_Update(&c, arn, strlen(arn) + 1);	/* each NUL separates */
	SHA256_Update(&c, ext, strlen(ext) + 1);
	/* a tagged role never keys as an untagged one, even with no tag */
	SHA256_Update(&c, tags != NULL ? "T" : "U", 1);
	for (i = 0; tags != NULL && i < tags->at_n; i++) {
		/* key NUL value NUL and 't' or 'n': a tag's fields never run together */
		SHA256_Update(&c, tags->at_tag[i].at_key, strlen(tags->at_tag[i].at_key) + 1);
		SHA256_Update(&c, tags->at_tag[i].at_value, strlen(tags->at_tag[i].at_value) + 1);
		SHA256_Update(&c, tags->at_tag[i].at_transitive ? "t" : "n", 1);
	}
	SHA256_Final(md, &c);
	off = sizeof(ASSUMED_KEY_PREFIX) - 1;
	memcpy(key, ASSUMED_KEY_PREFIX, off);
	for (i = 0; i < sizeof(md); i++)
		snprintf(key + off + 2 * i, 3, "%02x", md[i]);
}

/* The role keyed (arn, ext, tags), or NULL. */
static struct assumed *
assumed_lookup(const char *arn, const char *ext, const struct assume_tags *tags)
{
	char key[ROLE_KEY_MAX + 1];
	size_t i;

	assumed_key(arn, ext, tags, key);
	for (i = 0; i < as.n; i++)
		if (strcmp(as.tab[i]->a_role->ro_key, key) == 0)
			return as.tab[i];
	return NULL;
}

struct assumed *
assumed_find(const char *arn, const char *external_id)
{
	return assumed_lookup(arn, external_id != NULL ? external_id : "", NULL);
}

/* a's strings and a */
static void
assumed_free_one(struct assumed *a)
{
	free(a->a_arn);
	free(a->a_who);
	free(a->a_owner);
	free(a);
}

/* A new role for (arn, ext, how), its first fetch started.  NULL with err. */
static struct assumed *
assumed_new(const char *arn, const char *ext, const struct assumed_how *how, time_t now,
    char *err, size_t errlen)
{
	char name[ROLE_NAME_MAX + 1], acct[CRED_ACCOUNT_BUF], key[ROLE_KEY_MAX + 1];
	struct assumed **grown, *a;
	struct assume_step step;
	struct cred_provider *p;

	if (strlen(arn) >= sizeof(step.as_arn) || strlen(ext) >= sizeof(step.as_external_id) ||
	    sts_role_name(arn, name, sizeof(name), acct, sizeof(acct)) == -1) {
		snprintf(err, errlen, "not a role ARN");
		return NULL;
	}
	if (as.base == NULL || as.n >= ASSUMED_ROLES_MAX) {
		snprintf(err, errlen, "no room for another role (%d are assumed)",
		    ASSUMED_ROLES_MAX);
		return NULL;
	}
	if (as.n == as.cap) {
		if ((grown = array_grow(as.tab, &as.cap, sizeof(*grown), ASSUMED_CAP_INIT,
		    ASSUMED_ROLES_MAX)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		as.tab = grown;
	}
	memset(&step, 0, sizeof(step));
	snprintf(step.as_arn, sizeof(step.as_arn), "%s", arn);
	snprintf(step.as_external_id, sizeof(step.as_external_id), "%s", ext);
	if (how->ah_session != NULL && sts_session_name_ok(how->ah_session))
		snprintf(step.as_session, sizeof(step.as_session), "%s", how->ah_session);
	else if (as.cfg.ac_session != NULL)
		snprintf(step.as_session, sizeof(step.as_session), "%s", as.cfg.ac_session);
	else
		sts_default_session_name(step.as_session, sizeof(step.as_session));
	step.as_duration = as.cfg.ac_duration;
	step.as_tags = how->ah_tags;	/* copied by the provider */
	if ((a = calloc(1, sizeof(*a))) == NULL || (a->a_arn = strdup(arn)) == NULL ||
	    (how->ah_who != NULL && (a->a_who = strndup(how->ah_who, ASSUMED_WHO_MAX)) == NULL) ||
	    (how->ah_owner != NULL && (a->a_owner = strndup(how->ah_owner,
	    ASSUMED_OWNER_MAX)) == NULL)) {
		if (a != NULL)
			assumed_free_one(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	assumed_key(arn, ext, how->ah_tags, key);
	if (cred_provider_sts_on(as.base, &step, 1, as.cfg.ac_duration, 0, &p, err,
	    errlen) == -1 || (a->a_role = registry_add(as.cfg.ac_reg, key, name, acct, p, err,
	    errlen)) == NULL) {
		assumed_free_one(a);
		return NULL;
	}
	a->a_has_ext = *ext != '\0';
	a->a_tagged = how->ah_tags != NULL;
	as.tab[as.n++] = a;
	as.stats.as_roles = as.n;
	as.stats.as_added++;
	as.stats.as_tagged += a->a_tagged;
	if (a->a_tagged)
		log_info("role %s%s: assumed with the node's credentials, session %s, %zu session "
		    "tags, for %s", arn, a->a_has_ext ? " (with an ExternalId)" : "",
		    step.as_session, how->ah_tags->at_n, a->a_who != NULL ? a->a_who : "-");
	else
		log_info("role %s%s: assumed with the node's credentials", arn,
		    a->a_has_ext ? " (with an ExternalId)" : "");
	registry_refresh(a->a_role, now);
	return a;
}

struct assumed *
assumed_acquire_as(const char *arn, const char *external_id, const struct assumed_how *how,
    time_t now, char *err, size_t errlen)
{
	static const struct assumed_how plain;
	const char *ext = external_id != NULL ? external_id : "";
	struct assumed *a;

	if (how == NULL)
		how = &plain;
	if ((a = assumed_lookup(arn, ext, how->ah_tags)) == NULL &&
	    (a = assumed_new(arn, ext, how, now, err, errlen)) == NULL)
		return NULL;
	a->a_users++;
	a->a_idle_since = 0;
	a->a_gone = 0;	/* a user again (a pod told gone, then named again) */
	return a;
}

struct assumed *
assumed_acquire(const char *arn, const char *external_id, time_t now, char *err,
    size_t errlen)
{
	return assumed_acquire_as(arn, external_id, NULL, now, err, errlen);
}

void
assumed_owner_gone(const char *owner)
{
	size_t i;

	for (i = 0; owner != NULL && i < as.n; i++)
		if (as.tab[i]->a_owner != NULL && strcmp(as.tab[i]->a_owner, owner) == 0)
			as.tab[i]->a_gone = 1;
}

struct assumed *
assumed_pin(const char *arn, time_t now, char *err, size_t errlen)
{
	struct assumed *a = assumed_find(arn, "");

	if (a != NULL && a->a_pinned)
		return a;
	if ((a = assumed_acquire(arn, "", now, err, errlen)) != NULL)
		a->a_pinned = 1;
	return a;
}

void
assumed_release(struct assumed *a, time_t now)
{
	if (a == NULL || a->a_users == 0)
		return;
	if (--a->a_users == 0 && !a->a_pinned)
		a->a_idle_since = now;
}

struct role *
assumed_role(const struct assumed *a)
{
	return a->a_role;
}

const char *
assumed_arn(const struct assumed *a)
{
	return a->a_arn;
}

int
assumed_pinned(const struct assumed *a)
{
	return a->a_pinned;
}

int
assumed_tagged(const struct assumed *a)
{
	return a->a_tagged;
}

/* Remove table entry i (its role leaves the registry). */
static void
assumed_drop(size_t i)
{
	struct assumed *a = as.tab[i];

	if (a->a_gone)
		log_info("role %s: %s is gone, its session-tagged credentials dropped", a->a_arn,
		    a->a_who != NULL ? a->a_who : "its user");
	else
		log_info("role %s: no user for %d s, dropped", a->a_arn, ASSUMED_LINGER_S);
	registry_remove(as.cfg.ac_reg, a->a_role);
	as.tab[i] = as.tab[--as.n];
	as.stats.as_roles = as.n;
	as.stats.as_dropped++;
	as.stats.as_tagged -= a->a_tagged;
	assumed_free_one(a);
}

/* A failure streak's line: once, when it starts. */
IDLE_PATH static void
assumed_refused(struct assumed *a)
{
	const struct cred_cache *cc = &a->a_role->ro_cache;
	char users[ASSUMED_USERS_TEXT] = "";
	int denied;

	if (cc->cc_failures == 0 || !cc->cc_fetched_once) {
		a->a_logged = 0;
		return;
	}
	if (a->a_logged)
		return;
	a->a_logged = 1;
	as.stats.as_refusals++;
	if (a->a_who != NULL)
		snprintf(users, sizeof(users), "%s", a->a_who);
	else if (as.cfg.ac_users != NULL)
		as.cfg.ac_users(as.cfg.ac_arg, a, users, sizeof(users));
	denied = strstr(cred_cache_error(cc), ": AccessDenied: ") != NULL;
	log_warn("role %s%s%s: not served: %s%s", a->a_arn, users[0] != '\0' ? ", for " : "",
	    users, cred_cache_error(cc), !denied ? "" : a->a_tagged ?
	    "; with --session-tags the role's trust policy must allow sts:TagSession as well "
	    "as sts:AssumeRole for the principal of this node's credentials (the one STS "
	    "names), or serve without --session-tags (or set \"disable-session-tags\": true "
	    "on the pod's association in the config file)" :
	    "; an IRSA role usually trusts only the cluster's OIDC provider: map it to a role "
	    "you can assume with \"role-map\" in the config file");
}

IDLE_PATH void
assumed_tick(time_t now)
{
	size_t i;

	for (i = 0; i < as.n;) {
		if (as.tab[i]->a_users == 0 && !as.tab[i]->a_pinned && (as.tab[i]->a_gone ||
		    now - as.tab[i]->a_idle_since >= ASSUMED_LINGER_S)) {
			assumed_drop(i);	/* the last entry moved here: look at i again */
			continue;
		}
		assumed_refused(as.tab[i]);
		i++;
	}
}

void
assumed_each(void (*fn)(void *arg, const struct assumed *a), void *arg)
{
	size_t i;

	for (i = 0; i < as.n; i++)
		fn(arg, as.tab[i]);
}

IDLE_PATH const struct assumed_stats *
assumed_stats(void)
{
	return &as.stats;	/* kept as roles come and go: read every tick */
}

void
assumed_free(void)
{
	size_t i;

	for (i = 0; i < as.n; i++)
		assumed_free_one(as.tab[i]);
	free(as.tab);
	if (as.base != NULL)
		cred_base_unref(as.base);
	memset(&as, 0, sizeof(as));
}
