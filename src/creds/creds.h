/*
 * creds/: where credentials come from, and the cache that serves them.
 *
 *   creds.c       providers (example, env, profile) behind one cache with
 *                 the refresh policy; a request never waits on a provider;
 *                 what a cache keeps is sized to it (struct cred_kept)
 *   registry.c    the role registry: role key -> provider, cache, and the
 *                 role's renderings (one per service kind, refcounted), each
 *                 role refreshed on its own
 *   creds_sts.c   providers through STS (AssumeRole chains, GetSessionToken)
 *                 on a base provider that roles can share (one base fetch
 *                 for many: assumed.c's roles share the node's)
 *   assumed.c     roles assumed on the node's credentials, keyed by (role
 *                 ARN, ExternalId[, session tags]), shared and counted by
 *                 their users (the pods, the ECS endpoint), dropped
 *                 ASSUMED_LINGER_S after the last one left (a tagged role
 *                 at once when its pod is gone); STS's refusals logged once
 *                 per streak
 *   source.c      the source chosen (--source auto|example|env|profile, and
 *                 why), its provider and role name; a profile's role chain
 *                 followed through edits and SIGHUP
 *   awsconf.c     ~/.aws/config and ~/.aws/credentials as the AWS CLI reads them
 *   credproc.c    credential_process: split, run from the loop (or through
 *                 the runner handed in: the sandbox's helper), parse
 *   sts.c         the STS client (httpc/'s libcurl on the loop, SigV4; AssumeRole's
 *                 session tags); calls over STS_CALLS_MAX wait in a FIFO of
 *                 STS_QUEUE_MAX
 *   sts_xml.c     STS replies (expat)
 */
#ifndef CREDS_H
#define CREDS_H

#include "core/core.h"

#define CRED_AKID_MAX		128	/* bytes in an access key id */
#define CRED_SECRET_MAX		256	/* bytes in a secret access key */
#define CRED_TOKEN_MAX		8192	/* bytes in a session token */
#define CRED_LIFETIME_EXAMPLE	(6 * 3600)	/* s: example credentials last like EC2's */
#define CRED_ROLLING_LIFETIME	(6 * 3600)	/* s: served lifetime of keys with no expiry */
#define CRED_MIN_AHEAD		3600	/* s: served Expiration is at least this far ahead */
#define CRED_REFRESH_AHEAD	(30 * 60)	/* s: refresh expiring keys this long before */
#define CRED_REFRESH_JITTER	(5 * 60)	/* s: ... minus up to this much, spread */
#define CRED_REFRESH_MIN_GAP	60	/* s: never refresh a good credential more often */
#define CRED_BACKOFF_MIN	5	/* s: first retry after a failed refresh */
#define CRED_BACKOFF_MAX	300	/* s: retries back off up to this */
#define ROLE_NAME_MAX		64	/* IAM role names: [A-Za-z0-9+=,.@_-]{1,64} */
#define CRED_ACCOUNT_BUF	16	/* bytes kept of an account ID (12 digits) */
#define CRED_BASE_AHEAD		300	/* s: a shared base credential is reused until this
					   long before it expires */
#define CRED_BASE_KEEP_MAX	300	/* s: ... one without expiry, this long after it came */
#define ROLE_ACCOUNT_MAX	12	/* digits in the account ID of a role's ARN */
#define ROLE_KEY_MAX		128	/* bytes in a role registry key */
#define REGISTRY_ROLES_MAX	4096	/* roles one registry holds (one per pod, issue #14) */
#define ASSUMED_ROLES_MAX	1024	/* roles assumed on the node's credentials at once */
#define ASSUMED_LINGER_S	300	/* s a role nobody uses is kept (the next pod finds it warm) */
#define STS_STEP_TAGS_MAX	8	/* session tags one assumed role keeps (EKS Pod Identity: 6) */
#define ASSUMED_WHO_MAX		256	/* bytes of a tagged role's user, for the log */
#define ASSUMED_OWNER_MAX	64	/* bytes of a tagged role's owner (a pod uid) */

#define AWSCONF_FILE_MAX	(1024 * 1024)	/* bytes in ~/.aws/config or credentials */
#define AWSCONF_PROFILE_MAX	128	/* bytes in a profile name */
#define AWSCONF_PATH_MAX	400	/* bytes in the path of config or credentials */
#define CREDPROC_TIMEOUT_MS	30000	/* ms a credential_process may run */
#define CREDPROC_OUT_MAX	65536	/* bytes of its stdout kept; more is an error */
#define CREDPROC_ERR_MAX	512	/* bytes of its stderr's first line reported */
#define CREDPROC_ARGS_MAX	256	/* words in its command line */
#define CREDPROC_REAP_POLL_MS	20	/* ms between waitpid polls where pidfd_open is missing */

#define STS_RESP_MAX		65536	/* bytes of an STS reply kept; more is an error */
#define STS_TIMEOUT_MS		10000	/* ms for a whole STS request */
#define STS_CONNECT_TIMEOUT_MS	3000	/* ms to connect to STS */
#define STS_DURATION_MIN	900	/* s: STS's shortest session */
#define STS_DURATION_MAX	43200	/* s: STS's longest (the role's maximum may be less) */
#define STS_DURATION_DEFAULT	3600	/* s */
#define STS_SESSION_NAME_MAX	64	/* RoleSessionName: [\w+=,.@-]{2,64} */
#define STS_ARN_MAX		2048	/* bytes in a role ARN */
#define STS_EXTERNAL_ID_MAX	1224	/* bytes in an ExternalId */
#define STS_TAGS_MAX		50	/* session tags in one AssumeRole (Tags, TransitiveTagKeys) */
#define STS_TAG_KEY_MAX		128	/* characters in a session tag's key (1..128) */
#define STS_TAG_VALUE_MAX	256	/* characters in a session tag's value (0..256) */
#define STS_CHAIN_MAX		8	/* roles in a profile's source_profile chain */
#define STS_CALLS_MAX		8	/* STS requests in flight at once (each a TLS connection
					   of ~90 KiB while it lasts: 16 at once left 0.4 MiB
					   of heap pages half used after a burst) */
#define STS_QUEUE_MAX		ASSUMED_ROLES_MAX	/* more wait (FIFO) for a free slot: a role
						   has one fetch at a time, so every assumed role may wait */
#define STS_CA_BUNDLE_MAX	(4 * 1024 * 1024)	/* bytes in a --ca-bundle file */
#define STS_REGION_BUF		128	/* bytes kept of a configured region (sts.c refuses one over 32) */
#define STS_URL_MAX		1024	/* bytes in an endpoint URL or a CA bundle path */

/* A set of credentials as a provider hands them over (contract §8.6). */
struct cred {
	char		 cr_akid[CRED_AKID_MAX + 1];
	char		 cr_secret[CRED_SECRET_MAX + 1];
	char		 cr_token[CRED_TOKEN_MAX + 1];	/* "" when none */
	time_t		 cr_expiration;	/* true expiry, wall clock; 0 when the source has none */
	time_t		 cr_last_updated;/* when they were obtained, wall clock */
};

/* ------------------------------------------------------------------ */
/* creds.c: credential providers behind one cache                     */
/* ------------------------------------------------------------------ */

/*
 * A provider's answer: ok 1 with c filled (the callee wipes it after the
 * call; copy what you keep), or ok 0 with a one-line message in err (never a
 * secret).  Providers may answer at once or later from the event loop.
 */
typedef void	(*cred_done_fn)(void *arg, int ok, const struct cred *c, const char *err);

struct cred_provider {
	const char	*cp_name;	/* "example", "env", "profile" */
	/* for the log: "profile dev (/root/.aws/credentials)"; the provider's own storage */
	const char	*cp_desc;
	/* Start a fetch; done is called exactly once (possibly before return). */
	void		(*cp_fetch)(struct cred_provider *cp, time_t now, cred_done_fn done,
			    void *arg);
	void		(*cp_free)(struct cred_provider *cp);	/* may be NULL */
	/* Drop what it keeps between fetches (the files changed); may be NULL. */
	void		(*cp_forget)(struct cred_provider *cp);
	void		*cp_ctx;
	struct cred_provider *cp_base;	/* the provider under it (STS; borrowed), or NULL */
};

/* AWS's documented example credentials (contract §8.6). */
extern struct cred_provider cred_provider_example;
/* Placeholder identity-credentials/ec2 credentials, marked not valid upstream. */
void		 creds_ec2_placeholder(time_t now, struct cred *out);
/* Wipe a credential (explicit_bzero). */
void		 cred_wipe(struct cred *c);

/*
 * A credential as a cache keeps it between fetches: struct cred's fields,
 * but the session token in a block of its own length (STS's are 1 to 2 KiB
 * of CRED_TOKEN_MAX's 8), so a role costs what its keys are, not the most
 * a token may be.  The token is wiped when it is replaced or dropped.
 *   cred_keep: k gets a copy of c (what k held is wiped first); -1 when out
 *     of memory, k then unchanged.
 *   cred_kept_get: k as a struct cred in c (which the caller wipes when done).
 *   cred_kept_wipe: wipe k, free its token; k holds nothing.
 */
struct cred_kept {
	char		 ck_akid[CRED_AKID_MAX + 1];
	char		 ck_secret[CRED_SECRET_MAX + 1];
	char		*ck_token;	/* malloc'd, ck_token_len bytes and a NUL; NULL: none */
	size_t		 ck_token_len;
	time_t		 ck_expiration;	/* as in struct cred */
	time_t		 ck_last_updated;
};
int		 cred_keep(struct cred_kept *k, const struct cred *c);
void		 cred_kept_get(const struct cred_kept *k, struct cred *c);
void		 cred_kept_wipe(struct cred_kept *k);

/*
 * The refresh policy, pure so that tests drive it with their own clock.
 * rnd is a random 32-bit value (jitter).
 *   cred_refresh_at: when to fetch again after a success at now: expiring
 *     keys CRED_REFRESH_AHEAD (minus jitter) before they expire, keys with no
 *     expiry when their served Expiration gets within CRED_MIN_AHEAD; never
 *     sooner than CRED_REFRESH_MIN_GAP.
 *   cred_backoff: seconds to wait after the n-th consecutive failure (n >= 1).
 *   cred_served_expiration: the Expiration to serve: the real one, or for
 *     keys with none, fetched + CRED_ROLLING_LIFETIME.
 */
time_t		 cred_refresh_at(const struct cred *c, time_t fetched, time_t now, uint32_t rnd);
unsigned	 cred_backoff(unsigned n, uint32_t rnd);
time_t		 cred_served_expiration(const struct cred *c, time_t fetched);

/* The one credential cache: a request never waits on a provider. */
struct cred_cache {
	struct cred_provider *cc_prov;
	struct cred_kept cc_cur;	/* last good, as served (Expiration filled in) */
	int		 cc_have;	/* cc_cur holds a credential that has not expired */
	time_t		 cc_fetched;	/* when cc_cur was obtained */
	time_t		 cc_next;	/* next fetch (wall clock) */
	unsigned	 cc_failures;	/* consecutive failed fetches */
	int		 cc_busy;	/* a fetch is under way */
	int		 cc_again;	/* ... and a refresh was asked for meanwhile: fetch again */
	int		 cc_allow_long_term;	/* keys with no session token are served */
	int		 cc_fetched_once;	/* a fetch has ended, well or not (start-up waits on it) */
	char		*cc_error;	/* why the last fetch failed (malloc'd), or NULL: cred_cache_error */
	unsigned long	 cc_n_ok;	/* fetches that delivered credentials (metrics) */
	unsigned long	 cc_n_failed;	/* fetches that failed (metrics) */
	time_t		(*cc_clock)(void);	/* wall clock; tests set their own */
	/* called (from the loop) whenever what should be served changes */
	void		(*cc_changed)(void *arg);
	void		*cc_arg;
};

void		 cred_cache_init(struct cred_cache *cc, struct cred_provider *p,
		    void (*changed)(void *), void *arg);
/*
 * Fetch now (the start, a file change).  If one is under way, another
 * follows as soon as it ends (it may have read the files before the edit).
 */
void		 cred_cache_refresh(struct cred_cache *cc, time_t now);
/* Once a second: refresh when due, expire what has expired. */
void		 cred_cache_tick(struct cred_cache *cc, time_t now);
void		 cred_cache_free(struct cred_cache *cc);
/* Why cc's last fetch failed, "" when it did not (never NULL; the cache's own storage). */
const char	*cred_cache_error(const struct cred_cache *cc);
/*
 * Set that reason (at most ERRBUF_LEN - 1 bytes of err; "" clears it).  Out
 * of memory for the copy, the reason is lost ("": the log has it).
 */
void		 cred_cache_set_error(struct cred_cache *cc, const char *err);

/* Keys from AWS_ACCESS_KEY_ID etc.; 0, or -1 with err when they are incomplete or absent. */
int		 cred_provider_env(struct cred_provider **out, char *err, size_t errlen);
/*
 * A profile of the shared files (static keys, or credential_process).
 * Checks the profile exists and is usable now; the files are re-read at
 * each fetch, so edits take effect.  0 / -1 with err.
 */
int		 cred_provider_profile(const char *profile, struct cred_provider **out,
		    char *err, size_t errlen);
/* A profile provider's files (which 0: config, 1: credentials), through wrappers; NULL for others. */
const char	*cred_provider_file(const struct cred_provider *cp, int which);
/* A profile provider's profile name (through wrappers); NULL for other providers. */
const char	*cred_provider_profile_name(const struct cred_provider *cp);

/* ------------------------------------------------------------------ */
/* registry.c: the role registry                                      */
/* ------------------------------------------------------------------ */

/*
 * Many roles at once, each with its own provider and cache, refreshed on
 * its own.  A role has one rendering per service kind (enum
 * role_rendering: what that service serves for it, ready bytes, e.g.
 * IMDS's iam/ documents in imds/roles.c, the container endpoints' JSON in
 * container/render.c), made by that kind's renderer whenever the role's
 * credentials change, every kind at once, and each swapped in whole: a
 * rendering is refcounted, so a request that points into the old one keeps
 * it alive until written.  The renderers are registered at start-up, before
 * the first role; a kind without one is not rendered (its slot stays NULL).
 * Nothing here knows a wire format.
 */
struct role;

/* Who a caller is, as a resolver of the identity per request finds it. */
enum role_who {
	WHO_NODE,	/* the node itself, or a hostNetwork pod: the node's role */
	WHO_ROLE,	/* a pod: its role (NULL: none) */
	WHO_UNKNOWN	/* an address nobody is known to own (yet) */
};

/* The renderings a role has: a fixed, small set, one slot each. */
enum role_rendering {
	RENDER_IMDS,		/* imds/roles.c: struct role_view */
	RENDER_CONTAINER,	/* container/render.c: struct ctr_view (ECS, Pod Identity) */
	RENDERINGS
};

struct role_renderer {
	/* A new rendering of r at now, holding one reference; NULL (logged) on failure. */
	void		*(*rr_render)(void *arg, const struct role *r, time_t now);
	void		 (*rr_unref)(void *v);
	void		*rr_arg;
	int		 rr_lazy;	/* rendered at a role's first use (registry_view), then
					   kept current; 0: every role, always */
};

struct role_registry {
	struct role	**rg_roles;	/* the live roles, in no order */
	size_t		 rg_n;
	size_t		 rg_cap;
	struct role	*rg_retired;	/* removed while a fetch was under way */
	struct role_renderer rg_render[RENDERINGS];	/* rr_render NULL: not rendered */
	/* after a role's credentials changed and it was rendered again; may be NULL */
	void		(*rg_changed)(void *arg, struct role *r);
	void		*rg_arg;
	time_t		(*rg_clock)(void);	/* wall clock; tests set their own */
};

struct role {
	char		 ro_key[ROLE_KEY_MAX + 1];	/* the registry's key, fixed */
	char		 ro_name[ROLE_NAME_MAX + 1];	/* the role's name as served */
	char		 ro_account[ROLE_ACCOUNT_MAX + 1];	/* its ARN's account; "": the instance's */
	struct cred_cache ro_cache;	/* owns the provider */
	void		*ro_views[RENDERINGS];	/* current renderings (one reference each), or NULL */
	struct role_registry *ro_reg;
	int		 ro_retired;	/* removed: no longer rendered nor found */
	int		 ro_calling;	/* in the owner's callback about this role */
	struct role	*ro_next;	/* in rg_retired */
};

/* An empty registry, with no renderer yet; changed may be NULL. */
void		 registry_init(struct role_registry *rg,
		    void (*changed)(void *arg, struct role *r), void *arg);
/* Render the roles' which rendering with rr (copied): at start-up, before any role. */
void		 registry_renderer(struct role_registry *rg, enum role_rendering which,
		    const struct role_renderer *rr);
/*
 * Add a role under key (1..ROLE_KEY_MAX bytes, not in use) named name,
 * account "" or ROLE_ACCOUNT_MAX digits at most, served from prov, which the
 * role takes over (also on failure).  Nothing is fetched yet
 * (registry_refresh).  The role or NULL with err.
 */
struct role	*registry_add(struct role_registry *rg, const char *key, const char *name,
		    const char *account, struct cred_provider *prov, char *err, size_t errlen);
/* The live role under key, or NULL. */
struct role	*registry_find(const struct role_registry *rg, const char *key);
/*
 * Remove r: it is no longer found, and its rendering is dropped (requests
 * holding a reference keep theirs).  A fetch under way finishes first; the
 * role is freed by the tick after it ends.
 */
void		 registry_remove(struct role_registry *rg, struct role *r);
/* Change what a role is called (its rendering follows at the next render). 0 / -1. */
int		 registry_rename(struct role *r, const char *name, const char *account);
/* Fetch r's credentials now (cred_cache_refresh). */
void		 registry_refresh(struct role *r, time_t now);
/*
 * Render r again at now, every rendering, and swap each in.  0, or -1 when
 * one failed (its old rendering stays; the others are new).
 */
int		 registry_render(struct role *r, time_t now);
/* Render every role again at now (what they are rendered from besides their credentials changed). */
void		 registry_render_all(struct role_registry *rg, time_t now);
/*
 * r's which rendering (not referenced for the caller), rendered now if its
 * renderer is lazy and this is its first use; NULL when there is none.
 * The renderings are the registry's cache: r is const to its users.
 */
void		*registry_view(const struct role *r, enum role_rendering which);
/* Once a second: each role's cache_tick; frees retired roles whose fetch has ended. */
void		 registry_tick(struct role_registry *rg, time_t now);
/* Free every role, retired ones too: at exit, once no fetch can call back. */
void		 registry_free(struct role_registry *rg);

/* ------------------------------------------------------------------ */
/* creds_sts.c: credentials through STS                               */
/* ------------------------------------------------------------------ */

struct aws_conf;	/* awsconf.c, below */

/* The session tags of one AssumeRole, as a step keeps them (sts.c's limits hold). */
struct assume_tags {
	size_t		 at_n;		/* at most STS_STEP_TAGS_MAX */
	struct assume_tag {
		char	 at_key[STS_TAG_KEY_MAX + 1];
		char	 at_value[STS_TAG_VALUE_MAX + 1];
		int	 at_transitive;
	}		 at_tag[STS_STEP_TAGS_MAX];
};

/* One AssumeRole of a chain. */
struct assume_step {
	char		 as_arn[STS_ARN_MAX];
	char		 as_session[STS_SESSION_NAME_MAX + 1];
	char		 as_external_id[STS_EXTERNAL_ID_MAX + 1];	/* "" = none */
	unsigned	 as_duration;	/* s; 0 = STS's default */
	/* session tags, NULL: none; borrowed here, copied by cred_provider_sts_on */
	const struct assume_tags *as_tags;
};

/*
 * A base provider STS providers can share (one source feeding many roles:
 * assumed.c's, on the node's credentials):
 * refcounted; one fetch at a time, whose answer goes to every role waiting
 * on it; a good credential is kept and handed to the next roles until
 * CRED_BASE_AHEAD before its expiry (CRED_BASE_KEEP_MAX after it came when
 * it has none), so N roles refreshed together cause one base fetch.
 *   cred_base_new: takes p over (freed on failure too); one reference.
 *   cred_base_forget: drop the kept credential (the files changed); a
 *     fetch under way still answers its waiters but is not kept.
 *   cred_base_fetches: fetches of the base provider started so far.
 * The last unref frees p; not while a fetch of p is under way (at exit only).
 */
struct cred_base;
int		 cred_base_new(struct cred_provider *p, struct cred_base **out, char *err,
		    size_t errlen);
struct cred_base *cred_base_ref(struct cred_base *b);
void		 cred_base_unref(struct cred_base *b);
void		 cred_base_forget(struct cred_base *b);
unsigned long	 cred_base_fetches(const struct cred_base *b);

/*
 * An STS provider on base (takes a reference): with steps, assume each role
 * in turn (the first with the base credentials, each next with the previous
 * role's); without steps, turn long-term base keys into session credentials
 * with GetSessionToken (duration s), unless allow_long_term.  The steps
 * are copied, their session tags (as_tags) with them.  sts_init must
 * have been called before it fetches.  Its cp_forget forgets the base's
 * kept credential.  0 / -1 with err.
 */
int		 cred_provider_sts_on(struct cred_base *base, const struct assume_step *steps,
		    size_t nsteps, unsigned duration, int allow_long_term,
		    struct cred_provider **out, char *err, size_t errlen);
/* The same on a base of its own: takes base over (freed on failure too). */
int		 cred_provider_sts(struct cred_provider *base, const struct assume_step *steps,
		    size_t nsteps, unsigned duration, int allow_long_term,
		    struct cred_provider **out, char *err, size_t errlen);
/*
 * The role chain of a profile (role_arn, source_profile, external_id,
 * role_session_name, duration_seconds, as the AWS CLI reads them): steps in
 * the order they are assumed, and the profile that holds the keys in root.
 * A profile without role_arn gives 0 steps and root = profile.  Loops,
 * chains over STS_CHAIN_MAX and role_arn without source_profile: -1 with
 * err.  default_session names sessions that the profiles leave unnamed.
 */
int		 sts_profile_chain(const struct aws_conf *ac, const char *profile,
		    const char *default_session, struct assume_step *steps, size_t *nsteps,
		    char *root, size_t rootlen, char *err, size_t errlen);
/* The role name of an ARN (arn:aws:iam::123456789012:role/path/app -> app) and its account. 0 / -1. */
int		 sts_role_name(const char *arn, char *name, size_t namelen, char *account,
		    size_t acctlen);
/* A RoleSessionName: 2 to 64 of [A-Za-z0-9_+=,.@-]. */
int		 sts_session_name_ok(const char *s);
/* gimme-aws-mini-<hostname>, cut to STS's characters and length. */
void		 sts_default_session_name(char *out, size_t len);
/* "3600", "90s", "15m", "1h" -> seconds within STS_DURATION_MIN..MAX.  0 / -1. */
int		 sts_parse_duration(const char *s, unsigned *out);

/* ------------------------------------------------------------------ */
/* assumed.c: roles assumed on the node's credentials                 */
/* ------------------------------------------------------------------ */

/*
 * One role (ARN, ExternalId, session tags) assumed on the node's
 * credentials, and its users.
 */
struct assumed;

/* What assumed.c works on (serve.c fills it at start-up). */
struct assumed_cfg {
	struct role_registry *ac_reg;
	struct role	*ac_node;	/* the node's own role: the base of every one */
	const char	*ac_session;	/* RoleSessionName (--session-name); NULL: gimme-aws-mini-<host> */
	unsigned	 ac_duration;	/* s; 0: STS's default */
	/* who uses a, for a refusal's log line ("pods ns/a, ns/b"); may be NULL */
	void		(*ac_users)(void *arg, const struct assumed *a, char *buf, size_t len);
	void		*ac_arg;
};

/*
 * How a role is assumed beyond its ARN and ExternalId (assumed_acquire_as;
 * strings borrowed for the call).  Session tags make the role one of its
 * own: (ARN, ExternalId, tags) is its key, so credentials with one pod's
 * tags never serve another pod.
 */
struct assumed_how {
	const struct assume_tags *ah_tags;	/* NULL: none */
	const char	*ah_session;	/* RoleSessionName when the role is added; NULL: ac_session */
	const char	*ah_who;	/* its user, for the log ("pod ns/name"); NULL: ac_users */
	const char	*ah_owner;	/* assumed_owner_gone drops it at once (a pod uid); NULL: none */
};

/* Counters for the metrics. */
struct assumed_stats {
	size_t		 as_roles;	/* assumed now (a gauge) */
	size_t		 as_tagged;	/* ... of which with session tags (a gauge) */
	uint64_t	 as_added;	/* roles added */
	uint64_t	 as_dropped;	/* roles dropped after lingering */
	uint64_t	 as_refusals;	/* failure streaks (STS refused, or did not answer) */
};

/* Keep cfg (copied) and make the shared base on the node's credentials (once).  0 / -1. */
int		 assumed_init(const struct assumed_cfg *cfg, char *err, size_t errlen);
/*
 * One more user of (arn, external_id) (NULL or "": none): the role found,
 * or added with its first fetch started now.  NULL with err: not a role
 * ARN, ASSUMED_ROLES_MAX taken, out of memory.
 */
struct assumed	*assumed_acquire(const char *arn, const char *external_id, time_t now,
		    char *err, size_t errlen);
/* The same with how (NULL: as assumed_acquire): session tags, a session name, a user. */
struct assumed	*assumed_acquire_as(const char *arn, const char *external_id,
		    const struct assumed_how *how, time_t now, char *err, size_t errlen);
/*
 * The owner (a pod) is gone for good: its roles (ah_owner) are dropped at
 * the next tick once nobody uses them, without lingering.
 */
void		 assumed_owner_gone(const char *owner);
/* A user that never gives it back (the ECS endpoint's roles): at most one pin per role. */
struct assumed	*assumed_pin(const char *arn, time_t now, char *err, size_t errlen);
/* One user fewer (a NULL a: nothing); the last leaves it to linger. */
void		 assumed_release(struct assumed *a, time_t now);
/* The role of (arn, external_id), without session tags, if assumed, or NULL. */
struct assumed	*assumed_find(const char *arn, const char *external_id);
struct role	*assumed_role(const struct assumed *a);
const char	*assumed_arn(const struct assumed *a);
int		 assumed_pinned(const struct assumed *a);
/* 1 when a is assumed with session tags. */
int		 assumed_tagged(const struct assumed *a);
/* Once a second: drop roles idle ASSUMED_LINGER_S; log a refusal streak's start. */
void		 assumed_tick(time_t now);
const struct assumed_stats *assumed_stats(void);
/* fn for each role assumed now (the metrics). */
void		 assumed_each(void (*fn)(void *arg, const struct assumed *a), void *arg);
/* At exit, before the registry is freed (it frees the roles). */
void		 assumed_free(void);

/* ------------------------------------------------------------------ */
/* source.c: the source chosen, a profile's role chain followed       */
/* ------------------------------------------------------------------ */

/* What the source is made from: flags and variables (strings borrowed for the source's life). */
struct creds_source_cfg {
	const char	*src_source;	/* --source: auto, example, env, profile; NULL: auto */
	const char	*src_profile;	/* --profile; NULL: AWS_PROFILE, else "default" */
	const char	*src_role_name;	/* --role-name; NULL: named after the role or profile */
	int		 src_allow_long_term;	/* keys without a session token served as they are */
	const char	*src_assume_role;	/* --assume-role ARN, assumed last; NULL: none */
	const char	*src_external_id;	/* its ExternalId; NULL: none */
	const char	*src_session_name;	/* RoleSessionName; NULL: gimme-aws-mini-<host> */
	unsigned	 src_duration;	/* s; 0: STS's default */
	const char	*src_sts_region;	/* NULL: AWS_REGION, AWS_DEFAULT_REGION, src_region */
	const char	*src_sts_endpoint;	/* NULL: AWS_ENDPOINT_URL_STS, else regional */
	const char	*src_ca_bundle;	/* NULL: AWS_CA_BUNDLE, else the system store */
	const char	*src_region;	/* the instance's region */
	/* for a message: the instance's own role (src_own_role once known, a buffer kept current) */
	const char	*src_own_role;
	const char	*src_inst_role;
};

/* The source in use; creds_source_open fills it, the daemon keeps it. */
struct creds_source {
	struct creds_source_cfg cs_cfg;
	char		 cs_why[ERRBUF_LEN];	/* " (auto: ...)": how auto chose; "" otherwise */
	int		 cs_sts_started;
	/* a profile source: its role chain as followed now */
	int		 cs_chain_on;
	char		 cs_chain_profile[AWSCONF_PROFILE_MAX + 1];
	char		 cs_chain_root[AWSCONF_PROFILE_MAX + 1];	/* the profile with the keys */
	struct assume_step cs_chain[STS_CHAIN_MAX];
	size_t		 cs_nchain;
	int		 cs_pending;	/* to look at once the fetch under way ends */
	int		 cs_role_pending;	/* cs_next_* wait for the new provider's first delivery */
	char		 cs_next_role[ROLE_NAME_MAX + 1];
	char		 cs_next_account[CRED_ACCOUNT_BUF];
	unsigned long	 cs_next_after;	/* cc_n_ok when the provider was replaced */
};

/* IAM role names: 1 to ROLE_NAME_MAX of [A-Za-z0-9+=,.@_-]. */
int		 creds_role_name_ok(const char *s);
/*
 * Choose the source (cfg->src_source; for auto, cs_why says why), build its
 * provider (*out; the caller's cache owns it), start STS when it needs it,
 * and name the role served (role, account: "" for the instance's own).
 * 0, or -1 with err.
 */
int		 creds_source_open(struct creds_source *cs, const struct creds_source_cfg *cfg,
		    struct cred_provider **out, char *role, size_t rolelen, char *account,
		    size_t acctlen, char *err, size_t errlen);
enum creds_reread { CREDS_REREAD_FILES, CREDS_REREAD_HUP };
/*
 * The shared files changed, or SIGHUP: a profile's role chain is looked at
 * again (changed: a new provider in cc, fetching); otherwise what the
 * provider kept is forgotten and cc fetches again.  Logs what it does.
 */
void		 creds_source_reread(struct creds_source *cs, struct cred_cache *cc,
		    enum creds_reread why);
/* Once a second: a look at the chain that waited for a fetch to end. */
void		 creds_source_tick(struct creds_source *cs, struct cred_cache *cc);
/*
 * 1 when a new chain's first credentials are in cc: the role name and
 * account to serve from now on (role, account); else 0.
 */
int		 creds_source_role_due(struct creds_source *cs, const struct cred_cache *cc,
		    char *role, size_t rolelen, char *account, size_t acctlen);
/* Start STS with the source's region, endpoint and CA bundle, if not yet (roles assumed later).  0 / -1 with err. */
int		 creds_source_sts_start(struct creds_source *cs, char *err, size_t errlen);
/* The CA bundle file STS reads at each call (for the sandbox), NULL: none. */
const char	*creds_source_ca_bundle(const struct creds_source *cs);
/* Stop STS if it was started (waiting calls are reported). */
void		 creds_source_close(struct creds_source *cs);

/* ------------------------------------------------------------------ */
/* awsconf.c: ~/.aws/config and ~/.aws/credentials                    */
/* ------------------------------------------------------------------ */

struct aws_kv {
	char		*kv_key;
	char		*kv_val;	/* wiped on free: may be a secret */
	const char	*kv_file;	/* the path it came from (borrowed from aws_conf) */
	unsigned	 kv_line;
};

struct aws_section {
	char		*sec_profile;	/* profile name ("default", "dev") */
	struct aws_kv	*sec_kv;
	size_t		 sec_nkv;
	const char	*sec_file;
	unsigned	 sec_line;	/* line of the [header] */
};

struct aws_conf {
	char		*ac_config_path;	/* as resolved (may not exist) */
	char		*ac_creds_path;
	int		 ac_config_found;	/* the file existed and was read */
	int		 ac_creds_found;
	struct aws_section *ac_config;	/* profiles of the config file */
	size_t		 ac_nconfig;
	struct aws_section *ac_creds;	/* profiles of the credentials file */
	size_t		 ac_ncreds;
};

/*
 * The paths the AWS CLI uses: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE
 * (a leading "~/" expanded), else $HOME/.aws/config and .aws/credentials.
 * 0 / -1 with err (no HOME and no variable).
 */
int		 awsconf_paths(char *config, size_t clen, char *creds, size_t crlen,
		    char *err, size_t errlen);
/*
 * Read both files (a missing file is not an error: *_found says so).
 * Syntax errors, duplicated keys or sections -> -1 with "FILE:LINE: message".
 */
int		 awsconf_load(const char *config_path, const char *creds_path,
		    struct aws_conf *out, char *err, size_t errlen);
/*
 * How awsconf_load_open opens a file: a descriptor to read, or -1 with
 * errno (ENOENT: the file is missing, not an error) and, for any other
 * errno, err saying why (naming the file).
 */
typedef int	(*awsconf_open_fn)(const char *path, char *err, size_t errlen);
/* awsconf_load, each file opened by opener (priv/helper.c: no symlink, StrictModes). */
int		 awsconf_load_open(const char *config_path, const char *creds_path,
		    awsconf_open_fn opener, struct aws_conf *out, char *err, size_t errlen);
/* Parse one file's text (from a string, for tests).  is_config selects [profile x] naming. */
int		 awsconf_parse(const char *text, size_t len, const char *path, int is_config,
		    struct aws_section **out, size_t *nout, char *err, size_t errlen);
/* Whether either file has the profile. */
int		 awsconf_has_profile(const struct aws_conf *c, const char *profile);
/*
 * A profile's value for key with the AWS CLI's precedence (the credentials
 * file wins over the config file); NULL if unset.  *kv (may be NULL) gets
 * where it came from.
 */
const char	*awsconf_get(const struct aws_conf *c, const char *profile, const char *key,
		    const struct aws_kv **kv);
void		 awsconf_free(struct aws_conf *c);
void		 awsconf_sections_free(struct aws_section *s, size_t n);

/* ------------------------------------------------------------------ */
/* credproc.c: credential_process                                     */
/* ------------------------------------------------------------------ */

/*
 * Split a command line into words as the AWS CLI does (botocore's
 * shlex.split, POSIX mode: '...' literal; inside "..." only \" and \\ are
 * escapes; a backslash outside quotes escapes the next character; no
 * expansion of variables, globs or ~).  *argv is malloc'd and
 * NULL-terminated; free with credproc_argv_free.  0 / -1 with err.
 */
int		 credproc_split(const char *cmd, char ***argv, char *err, size_t errlen);
void		 credproc_argv_free(char **argv);
/*
 * Parse a credential_process's stdout: JSON with Version 1, AccessKeyId,
 * SecretAccessKey, and optional SessionToken and Expiration (ISO 8601).
 * 0 / -1 with err (never quoting the output: it may hold secrets).
 */
int		 credproc_parse(const char *out, size_t len, struct cred *c, char *err,
		    size_t errlen);
/*
 * Run cmd without a shell (credproc_split, execvp), stdin /dev/null, stdout
 * capped at CREDPROC_OUT_MAX, killed after timeout_ms; from the event loop.
 * done is called exactly once, from the loop (never before return), with
 * the parsed credential or an error naming the program, its exit status or
 * signal, and the first line of its stderr (never its stdout).  0 started,
 * -1 with err (then done is not called).
 */
int		 credproc_run(const char *cmd, unsigned timeout_ms, cred_done_fn done,
		    void *arg, char *err, size_t errlen);
/* At exit: every run under way killed, reaped and freed; its done is not called. */
void		 credproc_stop_all(void);
/*
 * Who runs a profile's credential_process.  By default this process, with
 * credproc_run(cmd).  The sandbox installs a runner that has its helper
 * run it: the helper is told the profile only, and reads that profile's
 * command from the shared files itself (cmd is not sent).  A runner keeps
 * credproc_run's contract.
 */
typedef int	(*credproc_runner_fn)(const char *profile, const char *cmd,
		    unsigned timeout_ms, cred_done_fn done, void *arg, char *err, size_t errlen);
/* Install a runner; NULL: credproc_run in this process again. */
void		 credproc_set_runner(credproc_runner_fn fn);
/* Run profile's credential_process cmd through the runner installed. */
int		 credproc_run_profile(const char *profile, const char *cmd, unsigned timeout_ms,
		    cred_done_fn done, void *arg, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* sts.c, sts_xml.c: the STS client                                   */
/* ------------------------------------------------------------------ */

enum sts_action { STS_ASSUME_ROLE, STS_GET_SESSION_TOKEN };

/* Where and how STS is reached (one per process). */
struct sts_config {
	char		 sc_region[STS_REGION_BUF];	/* signing region, e.g. us-east-1 */
	char		 sc_endpoint[STS_URL_MAX];	/* URL; "" = https://sts.<region>.<domain>/ */
	char		 sc_ca_bundle[STS_URL_MAX];	/* "" = the system store */
};

/*
 * One session tag of an AssumeRole (Tags.member.N.Key/Value; with
 * st_transitive its key is in TransitiveTagKeys too).  Keys 1 to
 * STS_TAG_KEY_MAX, values 0 to STS_TAG_VALUE_MAX characters of STS's
 * pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]; this client sends its ASCII part
 * only (letters, digits, space, _ . : / = + - @): bytes are characters.
 */
struct sts_tag {
	const char	*stg_key;
	const char	*stg_value;
	int		 stg_transitive;
};

/* One call.  Strings are borrowed for the duration of sts_call only. */
struct sts_req {
	enum sts_action	 sr_action;
	const struct cred *sr_base;	/* signing credentials (token sent as X-Amz-Security-Token) */
	const char	*sr_role_arn;	/* AssumeRole */
	const char	*sr_session_name;	/* AssumeRole */
	const char	*sr_external_id;	/* AssumeRole; NULL or "" = none */
	unsigned	 sr_duration;	/* DurationSeconds; 0 = STS's default */
	const struct sts_tag *sr_tags;	/* AssumeRole's session tags (sr_ntags of them) */
	size_t		 sr_ntags;	/* at most STS_TAGS_MAX; keys unique, case aside */
};

/* What came back: credentials, or STS's error. */
struct sts_result {
	int		 st_ok;		/* 1: st_cred holds credentials */
	struct cred	 st_cred;	/* cr_expiration from STS's Expiration */
	char		 st_assumed_arn[STS_ARN_MAX];	/* AssumedRoleUser/Arn (AssumeRole) */
	char		 st_assumed_id[256];		/* AssumedRoleUser/AssumedRoleId */
	long		 st_http_status;
	char		 st_code[128];	/* <Error><Code>, e.g. AccessDenied, Throttling */
	char		 st_message[512];	/* <Error><Message> */
	char		 st_request_id[128];	/* <RequestId> */
};

/*
 * Parse an STS reply body (expat): the credentials of an
 * AssumeRoleResponse / GetSessionTokenResponse, or an ErrorResponse's
 * Code, Message and RequestId (r->st_ok 0).  A DOCTYPE, an unexpected
 * document, a missing field, sizes over their fields: -1 with err.  0 when
 * r holds either credentials or an STS error.  Messages never quote
 * secrets.
 */
int		 sts_xml_parse(const char *body, size_t len, enum sts_action action,
		    struct sts_result *r, char *err, size_t errlen);

/* The regional endpoint: https://sts.<region>.amazonaws.com/ (.amazonaws.com.cn in cn-*). 0 / -1. */
int		 sts_endpoint_for(const char *region, char *url, size_t len);
/*
 * 1 when s[0..len) may be a session tag's key (min 1) or value (min 0) of
 * at most max characters: ASCII letters, digits, space, _ . : / = + - @.
 */
int		 sts_tag_text_ok(const char *s, size_t len, size_t min, size_t max);
/* Open httpc/ (libcurl on the loop; loop_init first) and check the endpoint.  0 / -1 with err. */
int		 sts_init(const struct sts_config *cfg, char *err, size_t errlen);
/*
 * Send one request (POST, form body, signed with SigV4 by libcurl as
 * "aws:amz:<region>:sts"), from the loop.  With STS_CALLS_MAX in flight,
 * the request (copied: rq is borrowed for this call only) waits in a FIFO
 * of up to STS_QUEUE_MAX for a slot.  done is called exactly once, never
 * before return: from the loop with r (st_ok 1 credentials, st_ok 0 an STS
 * error with code/message/request id) and err NULL, or r NULL and err
 * describing a transport failure (timeout, refused, TLS, bad reply); or,
 * for a call still waiting, from sts_cleanup with r NULL.  0 started or
 * waiting, -1 with err (done not called; also when the queue is full).
 */
int		 sts_call(const struct sts_req *rq, void (*done)(void *arg,
		    const struct sts_result *r, const char *err), void *arg, char *err,
		    size_t errlen);
/*
 * Stop: waiting calls are reported (r NULL, "shutting down"), calls in
 * flight are dropped unreported.  Not from a done callback.
 */
void		 sts_cleanup(void);

#endif /* CREDS_H */
