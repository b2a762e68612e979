/*
 * imds/: what IMDS serves (contract references: shared/docs/imds-contract.md).
 *
 *   tree.c       the metadata tree: built, then immutable
 *   config.c     the --config JSON file (jansson), errors with line:column;
 *                the instance options' value parser (flags use it too)
 *   config_creds.c  its sections for the other credential endpoints: the pod
 *                rules (issue 14: pod-identity-associations, role-map, kept as
 *                pods.h's struct pod_rules) and "ecs-credentials"
 *   config_where.c  where a value is in the file's text (FILE:LINE:COL)
 *   instance.c   the instance facts and what derives from them
 *   snapshot.c   the snapshot: the tree served, built from the facts and the
 *                config, signed; refcounted
 *   roles.c      a role as IMDS serves it (iam/, refcounted), joined to the
 *                snapshot per request; the caller's role
 *   identity.c   the instance identity keys (OpenSSL): from a key file
 *                (trusted only when private to the daemon's user) or made,
 *                their certificates, the files written; the key generator's
 *                answer written (in the child) and taken in
 *   identity_sign.c  the signatures of a document (signature, pkcs7,
 *                rsa2048) with those keys; the last document signed and its
 *                signatures (the same bytes signed once)
 *   keygen.c     without a key file, the keys made by a child process
 *                (identity-keygen) while the daemon serves; it signs the
 *                first document too
 *   token.c      stateless IMDSv2 tokens
 *   routes.c     the rules: a parsed request and a snapshot to a response;
 *                the header orders of contract §2.3 (response_head)
 *   service.c    IMDS as an HTTP service: the handler, the current snapshot
 *   lifecycle.c  spot, rebalance, maintenance events, ASG state, tag edits,
 *                ctl set/unset overrides: the state, its checked changes, the
 *                `ctl` verbs, durations and times, what time moves
 *   lifecycle_json.c  the life cycle as JSON: the config's "scenario" read
 *                in, what IMDS serves (life_emit), `ctl state`
 *   internal.h   what these files share and nothing outside uses
 *
 * What the files of this folder share and nothing outside uses is in
 * internal.h.
 */
#ifndef IMDS_H
#define IMDS_H

#include "core/core.h"
#include "http/http.h"
#include "creds/creds.h"

#define TOKEN_TTL_MIN		1	/* seconds, contract §5.1 */
#define TOKEN_TTL_MAX		21600	/* seconds, contract §5.1 */
#define TOKEN_RAW_LEN		40	/* bytes before base64: version, expiry, MAC */
#define TOKEN_LEN		56	/* base64url characters, ends "==" */
#define TOKEN_KEY_LEN		32	/* bytes of per-process HMAC key */

#define HOP_LIMIT_MIN		1	/* contract §5.2 */
#define HOP_LIMIT_MAX		64

#define USER_DATA_MAX		16384	/* bytes, contract §10 / U33 */
#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes in a --config file */
#define CONFIG_ECS_IDS_MAX	1024	/* ids of its "ecs-credentials" */
#define CONFIG_ECS_ID_MAX	256	/* bytes in one of those ids */
#define MD_BODY_MAX		JBUF_MAX	/* bytes in any served body (aws-c-auth's limit) */
#define MD_NAME_MAX		255	/* bytes in one path segment of the tree */
#define MD_PATH_MAX		1024	/* bytes in a tree path */

/* lifecycle.c: the instance life cycle the control socket drives */
#define LIFE_EVENTS_MAX		32	/* scheduled events kept; history keeps as many more */
#define LIFE_EVENT_DESC_MAX	255	/* bytes in an event's Description */
#define LIFE_EVENT_ID_LEN	32	/* "instance-event-" + 17 hex digits */
#define LIFE_ACTION_MAX		16	/* bytes in a spot action ("hibernate") */
#define LIFE_ASG_STATE_MAX	32	/* bytes in an ASG target-lifecycle-state */
#define LIFE_TAGS_MAX		50	/* tag edits kept (AWS: 50 tags per resource) */
#define LIFE_TAG_KEY_MAX	128	/* bytes in a tag key (AWS's limit) */
#define LIFE_TAG_VALUE_MAX	256	/* bytes in a tag value (AWS's limit) */
#define LIFE_OVERRIDES_MAX	32	/* ctl set/unset paths kept */
#define LIFE_VALUE_MAX		1024	/* bytes in a ctl set value */
#define LIFE_SPOT_NOTICE_S	120	/* s: AWS's two-minute spot warning (default --in) */
#define LIFE_WHEN_MAX		(10L * 366 * 86400)	/* s: farthest relative time accepted */
#define LIFE_TIMER_SLACK_MS	5	/* ms: a time-driven change is published this long after its second turns */

/* Instance options, contract §5.4. */
struct imds_options {
	int		 o_endpoint_enabled;	/* http-endpoint: 1 enabled, 0 disabled */
	int		 o_tokens_required;	/* http-tokens: 1 required, 0 optional */
	int		 o_hop_limit;		/* http-put-response-hop-limit, 1..64 */
	int		 o_tags_enabled;	/* instance-metadata-tags */
};
/* bits of config.cf_opt_set: which options the config file set */
#define OPT_SET_ENDPOINT	0x01
#define OPT_SET_TOKENS		0x02
#define OPT_SET_HOPLIMIT	0x04
#define OPT_SET_TAGS		0x08

/*
 * config.c: the instance options by name, with one value parser that both
 * the config file's "options" and serve's flags (--http-tokens, --hop-limit,
 * --http-endpoint) use.  A word option takes iod_words[0] or iod_words[1]
 * (iod_values[] are what they set); a number option (iod_words[0] NULL) a
 * decimal from iod_min to iod_max.
 */
enum imds_opt_id {
	IMDS_OPT_ENDPOINT, IMDS_OPT_TOKENS, IMDS_OPT_HOPLIMIT, IMDS_OPT_TAGS, IMDS_NOPTS
};
struct imds_opt_def {
	const char	*iod_key;	/* "http-tokens": its key in "options" */
	unsigned	 iod_bit;	/* OPT_SET_* */
	size_t		 iod_off;	/* offsetof(struct imds_options, its int) */
	const char	*iod_words[2];	/* in the contract's order (§5.4); NULL: a number */
	int		 iod_values[2];
	int		 iod_min, iod_max;	/* a number's bounds */
};
extern const struct imds_opt_def imds_opt_defs[IMDS_NOPTS];
/* The option named key (len bytes), or NULL. */
const struct imds_opt_def *imds_option_find(const char *key, size_t len);
/* Set d's option in *o and its bit in *set from val (len bytes).  0 / -1 (not a value of d). */
int		 imds_option_parse(const struct imds_opt_def *d, const char *val, size_t len,
		    struct imds_options *o, unsigned *set);
/* Copy into *dst the options of *src whose OPT_SET_* bits are in set (a layer over another). */
void		 imds_option_merge(struct imds_options *dst, const struct imds_options *src,
		    unsigned set);

/* ------------------------------------------------------------------ */
/* tree.c: the metadata tree (a builder, then immutable once final)   */
/* ------------------------------------------------------------------ */

struct md_node {
	char		*n_name;	/* one path segment, NUL-terminated */
	size_t		 n_namelen;
	int		 n_dir;		/* 1 directory (body = its listing), 0 leaf */
	int		 n_keep_empty;	/* leaf served even when empty (tag values, §8.5) */
	char		*n_body;	/* leaf value or listing; may hold any bytes */
	size_t		 n_bodylen;
	struct md_node	*n_kids;	/* children sorted by name, bytewise (ASCII order) */
	size_t		 n_nkids;
	size_t		 n_capkids;
};

/* A new empty directory to be used as a root; NULL on allocation failure. */
struct md_node	*tree_new(void);
void		 tree_free(struct md_node *root);
/*
 * Set a leaf at path ("a/b/c", no leading or trailing '/'), creating
 * directories; a directory or leaf already at path is replaced, and a leaf in
 * the way becomes a directory.  0 ok, -1 bad path or allocation failure.
 */
int		 tree_set(struct md_node *root, const char *path, const char *val, size_t len);
/* As tree_set, with n values joined by LF (no trailing LF). */
int		 tree_set_list(struct md_node *root, const char *path,
		    const char *const *vals, size_t n);
/* As tree_set, with j's document; j is emptied and its bytes wiped either way. */
int		 tree_set_json(struct md_node *root, const char *path, struct jbuf *j);
/* Make sure a directory exists at path.  0 / -1. */
int		 tree_mkdir(struct md_node *root, const char *path);
/* Mark a leaf as served even when empty.  0 / -1 (no such leaf). */
int		 tree_keep_empty(struct md_node *root, const char *path);
/* Remove whatever is at path; 0 removed, 1 nothing there. */
int		 tree_remove(struct md_node *root, const char *path);
/*
 * Finish the tree: drop empty leaves (unless kept) and empty directories,
 * then compute every listing (names joined by LF, directories suffixed '/',
 * ASCII order, no trailing LF).  0 / -1.
 */
int		 tree_finalize(struct md_node *root);
/*
 * The listing a finalized directory would have with a subdirectory name
 * among its children (one of that name already there is listed as a
 * directory): malloc'd, NUL-terminated, *outlen its length.  NULL on
 * failure, a bad name, or a listing over MD_BODY_MAX.
 */
char		*tree_listing_with_dir(const struct md_node *dir, const char *name, size_t len,
		    size_t *outlen);
/* Look up "a/b/c" (segments separated by single '/'; len 0 is root). NULL if absent. */
const struct md_node *tree_lookup(const struct md_node *root, const char *path, size_t len);
/*
 * 1 when name[0..len) may be one path segment: 1..MD_NAME_MAX visible ASCII
 * bytes, no '/', '?' or '#', and not "." or "..".  Used by config.c too.
 */
int		 tree_name_ok(const char *name, size_t len);

/* ------------------------------------------------------------------ */
/* config.c: the --config JSON file (jansson)                         */
/* ------------------------------------------------------------------ */

struct lifecycle;	/* lifecycle.c, below */
struct pod_rules;	/* pods/pods.h */

struct config {
	void		*cf_root;	/* json_t *: the whole document, owned */
	void		*cf_meta;	/* json_t *: "meta-data" object, borrowed, or NULL */
	void		*cf_dynamic;	/* json_t *: "dynamic" object, borrowed, or NULL */
	int		 cf_user_data_set;	/* 1 when user-data is given (file or flag) */
	char		*cf_user_data;	/* malloc'd bytes, NULL when not set or null */
	size_t		 cf_user_data_len;
	struct imds_options cf_opt;	/* values of the options the file set */
	unsigned	 cf_opt_set;	/* OPT_SET_* bits */
	void		*cf_scenario;	/* json_t *: "scenario" object (validated), borrowed, or NULL */
	struct pod_rules *cf_pods;	/* "pod-identity-associations", "role-map"; owned, or NULL */
	void		*cf_ecs;	/* json_t *: "ecs-credentials" object (validated), borrowed, or NULL */
};

/* An empty configuration (nothing set).  */
void		 config_init(struct config *cfg);
/* The daemon's start, which a "scenario"'s times count from (unset: now). */
void		 config_set_start(time_t start);
/*
 * Parse a config document.  name is used in messages ("FILE:LINE:COL: ...").
 * Validates the top-level keys, the options and the type of every tree
 * value (string, array of strings, object, null); user-data at most
 * USER_DATA_MAX bytes.  0 ok, -1 with a one-line message in err.
 */
int		 config_parse(const char *text, size_t len, const char *name,
		    struct config *cfg, char *err, size_t errlen);
/*
 * The role an "ecs-credentials" id names: "node" or a role ARN (both
 * checked when the file was read); NULL when the file names no such id.
 */
const char	*config_ecs_role(const struct config *cfg, const char *id);
/* config_parse of a file (at most CONFIG_FILE_MAX bytes). */
int		 config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void		 config_free(struct config *cfg);
/* Tag keys IMDS exposes (contract §8.5): letters, digits, + - = . , _ : @; not ".", "..", "_index". */
int		 config_tag_key_ok(const char *k);
/* A deep copy of src into dst (its JSON and user data).  0 / -1 (out of memory). */
int		 config_dup(const struct config *src, struct config *dst);
/*
 * Why `ctl set`/`unset` may not change path (at, below or above the
 * credentials, iam/info and the signed identity documents), or NULL when
 * it may.  The config file is not bound by this.
 */
const char	*config_path_refused(const char *path);
/*
 * Set (val non-NULL: a string leaf of len bytes) or remove (val NULL: null,
 * as in the file) one path "meta-data/..." or "dynamic/..." of cfg, with the
 * checks the file gets; a leaf in the way becomes a directory.  A path
 * config_path_refused names is refused.  Either the whole change is made or
 * cfg is untouched.  0 / -1 with "PATH: message".
 */
int		 config_set_path(struct config *cfg, const char *path, const char *val,
		    size_t len, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* instance.c, snapshot.c: the instance facts, derived data, snapshot */
/* ------------------------------------------------------------------ */

#define FACT_MAX		128	/* bytes in one instance fact */
#define SNAP_SIG_LEAVES		3	/* signature, pkcs7, rsa2048 (§9.2) */

/* The facts of an instance from which the whole tree is derived (contract §7). */
struct instance {
	char		 i_account[FACT_MAX];
	char		 i_region[FACT_MAX];
	char		 i_az[FACT_MAX];
	char		 i_az_id[FACT_MAX];
	char		 i_partition[FACT_MAX];	/* aws, aws-cn, aws-us-gov */
	char		 i_domain[FACT_MAX];	/* amazonaws.com, amazonaws.com.cn */
	char		 i_instance_id[FACT_MAX];
	char		 i_instance_type[FACT_MAX];
	char		 i_ami_id[FACT_MAX];
	char		 i_ami_launch_index[FACT_MAX];
	char		 i_ami_manifest_path[FACT_MAX];
	char		 i_reservation_id[FACT_MAX];
	char		 i_local_ipv4[FACT_MAX];
	char		 i_local_hostname[FACT_MAX];
	char		 i_public_ipv4[FACT_MAX];	/* "" when none */
	char		 i_public_hostname[FACT_MAX];	/* "" when none */
	char		 i_mac[FACT_MAX];
	char		 i_eni_id[FACT_MAX];
	char		 i_subnet_id[FACT_MAX];
	char		 i_subnet_cidr[FACT_MAX];
	char		 i_vpc_id[FACT_MAX];
	char		 i_vpc_cidr[FACT_MAX];
	char		 i_sg_name[FACT_MAX];
	char		 i_sg_id[FACT_MAX];
	char		 i_role[FACT_MAX];		/* "" when no role is attached */
	char		 i_profile_id[FACT_MAX];	/* AIPA... */
	char		 i_arch[FACT_MAX];		/* x86_64 or arm64 */
	time_t		 i_pending_time;
};

/*
 * A finished, immutable view of the instance, served to every caller;
 * swapped whole.  No role's data: a caller's role (roles.c) is joined to it
 * per request.
 */
struct snapshot {
	struct md_node	*s_root;	/* per-version tree: meta-data/, dynamic/, user-data */
	/* meta-data/ as listed to a caller whose role has iam/: a listing, no children */
	struct md_node	 s_meta_iam;
	struct imds_options s_opt;
	time_t		 s_last_modified;
	char		 s_lastmod_str[IMF_DATE_LEN + 1];
	/* signature leaves listed but awaiting the identity keys (a request waits) */
	const struct md_node *s_sig_pending[SNAP_SIG_LEAVES];
	size_t		 s_nsig_pending;
	unsigned	 s_refs;	/* holders; freed at 0 */
};

/* What a snapshot is built from besides the facts and the config. */
struct snapshot_input {
	const struct instance	*si_inst;
	const struct config	*si_cfg;	/* tree overlay, user data */
	struct imds_options	 si_opt;	/* effective options (flags merged) */
	const struct cred	*si_ec2_cred;	/* identity-credentials/ec2 (§8.7) */
	time_t			 si_now;	/* wall clock: LastUpdated, Last-Modified */
	const struct lifecycle	*si_life;	/* spot, events, ASG, tag edits; NULL: none */
};

/* The default instance of contract §7 (pending time = now, arch from the host). */
void		 instance_default(struct instance *inst, time_t now);
/*
 * Apply the facts found in the config (instance-id, placement/..., local-ipv4,
 * public-ipv4, mac, ...) and re-derive what depends on them (region,
 * hostnames, partition, ...).  0 ok, -1 with a message (e.g. an AZ that is
 * not region + one letter).
 */
int		 instance_apply_config(struct instance *inst, const struct config *cfg,
		    char *err, size_t errlen);
/*
 * Build the snapshot: generate the tree from the facts, overlay the config
 * tree, sign the identity document (identity.c; while its keys are not
 * there, the signature leaves are listed and pending), finalize.  NULL with err.
 * The result has s_refs = 1.
 */
struct snapshot	*snapshot_build(const struct snapshot_input *in, char *err, size_t errlen);
/*
 * 1 when n is a signature leaf of s still awaiting the identity keys: its
 * request waits (routes.c) until a snapshot built with them is published.
 */
int		 snapshot_sig_pending(const struct snapshot *s, const struct md_node *n);
void		 snapshot_ref(struct snapshot *s);
void		 snapshot_unref(struct snapshot *s);
/*
 * Overlay what cfg holds at path ("meta-data/..." or "dynamic/...") onto
 * root at the same path, as snapshot_build overlays the whole config (a
 * role's iam/, roles.c).  Nothing there: 0.  0 / -1 with err.
 */
int		 snapshot_overlay(struct md_node *root, const struct config *cfg,
		    const char *path, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* roles.c: a role as IMDS serves it, joined to the snapshot          */
/* ------------------------------------------------------------------ */

#define ROLE_KEY_INSTANCE	"instance"	/* registry key of the instance profile's role */

/*
 * IMDS's rendering of one role (contract §8.6): meta-data/iam/ with info
 * and security-credentials/<name>, with the config's meta-data/iam
 * overlaid as snapshot_build overlays the rest.  Immutable; refcounted
 * like the snapshot (a request holds it while its body points into it).
 */
struct role_view {
	struct md_node	*rv_root;	/* meta-data/iam/... only, finalized */
	int		 rv_iam_dir;	/* meta-data/ lists iam/ (the config may remove it) */
	time_t		 rv_last_modified;	/* when rendered */
	char		 rv_lastmod_str[IMF_DATE_LEN + 1];
	unsigned	 rv_refs;	/* holders; freed at 0 */
};

/* What a role view is rendered from. */
struct role_view_input {
	const struct instance	*ri_inst;	/* partition, account, instance profile ID */
	const struct config	*ri_cfg;	/* its meta-data/iam overlay; NULL: none */
	const char		*ri_name;	/* the role's name; "": nothing of its own */
	const char		*ri_account;	/* the ARN's account; NULL or "": the instance's */
	const struct cred	*ri_cred;	/* NULL: see ri_absent */
	int			 ri_absent;	/* with no cred: 404 (1) or the §8.6 error form (0) */
	const char		*ri_error;	/* message for the error form */
	time_t			 ri_now;	/* LastUpdated without a cred; Last-Modified */
};

/* Render a role.  NULL with err.  The result has rv_refs = 1. */
struct role_view *role_view_build(const struct role_view_input *in, char *err, size_t errlen);
void		 role_view_ref(struct role_view *rv);
void		 role_view_unref(struct role_view *rv);

/* What roles_render reads besides the role: the instance as served now. */
struct roles_ctx {
	const struct instance	*rc_inst;
	const struct config	*rc_cfg;
};
/*
 * The role registry's IMDS rendering (RENDER_IMDS; arg a struct roles_ctx):
 * the role's name, account and credentials; while it has none the
 * credentials leaf is absent (404).  NULL (logged).
 */
struct role_view *roles_render(void *arg, const struct role *r, time_t now);
/* The renderer to register as RENDER_IMDS: roles_render and role_view_unref on ctx. */
void		 roles_renderer(struct role_renderer *rr, struct roles_ctx *ctx);
/* r's current IMDS rendering (borrowed), or NULL. */
struct role_view *roles_view(const struct role *r);
/* What a resolver says of a caller. */
enum roles_answer {
	ROLES_READY,	/* *rv is the caller's view (NULL: it has no role) */
	ROLES_UNKNOWN,	/* nobody is known at its address (yet): *rv NULL */
	ROLES_PENDING	/* its role's first credentials are not there (yet): *rv NULL */
};
/* Who a caller is, for roles_resolve (serve.c fills it). */
struct roles_who {
	const struct role *rw_node;	/* the node's role: today's single one */
	/* NULL: every caller is the node; else the caller's role (pods/node.c) */
	enum role_who	(*rw_who)(void *arg, const struct http_peer *peer,
			    const struct role **r);
	void		*rw_arg;
};
/*
 * The caller's role view (borrowed) into *rv.  arg: a struct roles_who.
 * The node and its processes get the node's role; a pod its role's view,
 * while the role has credentials (none, or refused: no view, as an instance
 * without a profile).  One lookup, no allocation.
 */
enum roles_answer roles_resolve(void *arg, const struct http_peer *peer,
		    struct role_view **rv);
/*
 * What path (below a version, e.g. "meta-data/iam/info") serves to a caller
 * whose role view is rv (NULL: none): meta-data/iam and below from rv,
 * meta-data/'s listing with iam/ when rv has one, the rest from s.  NULL if
 * absent.  No allocation.
 */
const struct md_node *roles_lookup(const struct snapshot *s, const struct role_view *rv,
		    const char *path, size_t len);
/* That caller's Last-Modified: the later of s's and rv's. */
const char	*roles_last_modified(const struct snapshot *s, const struct role_view *rv);
/* The §8.6 credentials document (also §8.7's ec2-instance) into j. */
void		 roles_cred_json(struct jbuf *j, const struct cred *c, time_t now);
/* An info document begun: Code, and LastUpdated (c's, or now when c is NULL or has none). */
void		 roles_info_begin(struct jbuf *j, const struct cred *c, time_t now);

/* ------------------------------------------------------------------ */
/* identity.c, identity_sign.c: identity signatures (§9.2, OpenSSL) */
/* ------------------------------------------------------------------ */

struct identity_sigs {
	char		*is_signature;	/* base64, 76-col, no trailing LF; malloc'd */
	size_t		 is_signature_len;
	char		*is_pkcs7;
	size_t		 is_pkcs7_len;
	char		*is_rsa2048;
	size_t		 is_rsa2048_len;
};

/*
 * Load the keys from key_file (PEM private keys: an RSA key signs
 * `signature`, an RSA key of at least 2048 bits `rsa2048`, a DSA key
 * `pkcs7`), generating what is missing; when key_file names a file that
 * does not exist, generate all and write them there (mode 0600).  key_file
 * NULL: generate in memory.  cert_file non-NULL: write the matching
 * self-signed certificates there (PEM: signature's, pkcs7's, rsa2048's).
 * 0 ok, -1 with err.
 */
int		 identity_init(const char *key_file, const char *cert_file,
		    char *err, size_t errlen);
/*
 * For keygen.c.  Make new keys and their certificates, then read a
 * document from in (to its end; none: nothing signed), and write the
 * generator's answer to out: the keys and certificates as PEM, then the
 * document's signatures.  0 / -1 with err.
 */
int		 identity_keys_write(int out, int in, char *err, size_t errlen);
/*
 * Sign with the keys of such an answer (len bytes) from now on; its
 * signatures, of *doc (doclen bytes), are taken over with it (*doc NULL
 * then).  0 / -1 with err (not an answer: the generator's message).
 */
int		 identity_take(const char *buf, size_t len, char **doc, size_t doclen,
		    char *err, size_t errlen);
/* 1 when the keys are there to sign with (identity_init, or keygen's). */
int		 identity_ready(void);
/* The keys dropped, and what they signed. */
void		 identity_cleanup(void);
/* identity_sign.c */
/*
 * The keys will not come (keygen.c: the generator failed), for why (a
 * message without a secret): from now on the signature leaves are absent,
 * not pending.  identity_failure: why, or NULL while they may come.
 */
void		 identity_fail(const char *why);
const char	*identity_failure(void);
/*
 * Sign doc exactly as served.  The same bytes as the last document signed
 * (or the generator's) get the same signatures, without signing again.
 * 0 ok (free with identity_sigs_free), -1 with err.
 */
int		 identity_sign(const char *doc, size_t len, struct identity_sigs *out,
		    char *err, size_t errlen);
void		 identity_sigs_free(struct identity_sigs *s);

/* ------------------------------------------------------------------ */
/* keygen.c: the identity keys made by a child process                */
/* ------------------------------------------------------------------ */

#define KEYGEN_OUT_MAX		(16 * 1024)	/* bytes of the generator's answer (~8 kB), or of a document */

/*
 * Make the keys in the background (no key or certificate file): a child
 * process makes them while the daemon serves, the loop takes them in and
 * calls ready(arg, ok) once (ok 0: logged and recorded with identity_fail;
 * the signature leaves are then absent).
 * After loop_init, before the sandbox.  0 / -1 with err.
 */
int		 keygen_start(void (*ready)(void *arg, int ok), void *arg,
		    char *err, size_t errlen);
/*
 * The document the generator should sign while it is at it (the first
 * snapshot's; NULL: none), so that the server needs no OpenSSL until a
 * different one is signed.  Only the first offer counts; without a
 * generator under way, nothing.
 */
void		 keygen_offer(const char *doc, size_t len);
/* Stop a generation under way (the child killed and reaped). */
void		 keygen_stop(void);
/*
 * `gimme-aws-mini identity-keygen PPID` (internal, spawned by keygen_start):
 * read the document on stdin, write the answer (identity_keys_write) to
 * stdout.  The exit status.
 */
int		 keygen_main(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* token.c: stateless IMDSv2 tokens (contract §5)                     */
/* ------------------------------------------------------------------ */

/* Create the per-process key (getrandom).  0 / -1. */
int		 token_init(void);
/* Test hook: use a fixed key. */
void		 token_init_key(const unsigned char key[TOKEN_KEY_LEN]);
/* Why a token was not accepted (metrics). */
enum token_reject {
	TR_NONE,
	TR_MISSING,	/* http-tokens required, no token */
	TR_EXPIRED,	/* ours, but past its TTL */
	TR_INVALID,	/* malformed, or not minted by this process */
	TR_TTL_BAD,	/* token PUT: TTL header missing, repeated or out of range */
	TR_XFF,		/* X-Forwarded-For on a token PUT or with a token */
	TR_COUNT
};
/*
 * Mint a token valid for ttl seconds from now (monotonic seconds), bound to
 * the peer bind (NULL: to nobody); out gets TOKEN_LEN + NUL.
 */
void		 token_mint(uint64_t now, unsigned ttl, const struct http_peer *bind,
		    char out[TOKEN_LEN + 1]);
/*
 * Check a token presented by bind (NULL: tokens are not bound): returns
 * seconds left (> 0) when valid, 0 when it is expired, malformed, not
 * issued by this process, or issued to another address; then *why (unless
 * NULL) says which: TR_EXPIRED (ours, past its TTL) or TR_INVALID.  One
 * decode, no allocation.
 */
long		 token_check(uint64_t now, struct slice tok, const struct http_peer *bind,
		    enum token_reject *why);
void		 token_cleanup(void);

/* ------------------------------------------------------------------ */
/* routes.c: the IMDS rules, request to response (pure)               */
/* ------------------------------------------------------------------ */

/* Path classes, for the metrics (health.c). */
enum path_class {
	PC_TOKEN,	/* /latest/api/token */
	PC_CREDENTIALS,	/* iam/security-credentials/..., identity-credentials/... */
	PC_IDENTITY,	/* dynamic/instance-identity/... */
	PC_META_DATA,	/* the rest of meta-data/... */
	PC_USER_DATA,	/* user-data */
	PC_OTHER,	/* listings of the root and versions, dynamic/, unknown versions, methods */
	PC_ERROR,	/* requests that did not parse (400, 408, 413, 431, 501, 505) */
	PC_COUNT
};

/* Response header shapes (contract §2.3). */
enum resp_shape {
	RESP_META,	/* K1/K2: Content-Type, Accept-Ranges, Last-Modified, Content-Length, Date, Server, Connection */
	RESP_PLAIN	/* K4/K5: Content-Length, Date, Server, Connection, Content-Type */
};

struct response {
	int		 rs_status;
	enum resp_shape	 rs_shape;
	const char	*rs_ctype;
	const char	*rs_allow;	/* Allow header value, or NULL */
	long		 rs_ttl;	/* X-Aws-Ec2-Metadata-Token-Ttl-Seconds, -1 absent */
	int		 rs_hop_limit;	/* > 0: set IP TTL / hop limit before writing */
	int		 rs_head_only;	/* HEAD: no body on the wire */
	const char	*rs_lastmod;	/* Last-Modified (RESP_META): into the snapshot or role view */
	const char	*rs_body;	/* into the snapshot or role view, static, or rs_tokbuf */
	size_t		 rs_bodylen;
	int		 rs_token_used;	/* request carried a valid token */
	char		 rs_tokbuf[TOKEN_LEN + 1];
	enum path_class	 rs_class;	/* for the metrics */
	enum token_reject rs_reject;	/* why a token or token request was refused */
	int		 rs_pending;	/* no answer yet: a signature awaiting the keys (defer) */
	int		 rs_iam;	/* the path is meta-data/iam or below (a caller's role) */
};

/*
 * Decide the response to a parsed request from a caller whose role view is
 * rv (NULL: the caller has no role; roles_resolve).  Tokens are bound to
 * bind (NULL: unbound; --pod-roles binds them to the peer).  now_mono is
 * monotonic seconds (tokens).  Bodies point into snap, rv or static storage: hold
 * both until the response is written.  No allocation.  rs_pending set: no
 * answer yet (a signature awaiting the keys); ask again with a later snapshot.
 */
void		 routes_handle(const struct http_req *req, const struct snapshot *snap,
		    const struct role_view *rv, const struct http_peer *bind, uint64_t now_mono,
		    struct response *rs);
/* A response to a parse failure (status 400/408/413/431/501/505). */
void		 routes_error(int status, struct response *rs);
/* Format the status line and headers into buf; returns bytes or 0 if cap is short. */
size_t		 response_head(const struct response *rs, const char *date, char *buf,
		    size_t cap);

/* ------------------------------------------------------------------ */
/* service.c: IMDS as an HTTP service                                 */
/* ------------------------------------------------------------------ */

/* The IMDS row: http_serve(&imds_http_service, limits, listeners, ...). */
extern const struct http_service imds_http_service;
/*
 * access_log: one line per answered request (log_access).  pods
 * (--pod-roles): tokens are bound to the peer that asked for them, and a
 * request under meta-data/iam from a caller the resolver does not know
 * yet (or whose role's first credentials are not there) waits for it up to
 * pod_wait_ms, then is answered as for no role (logged, naming the address).
 */
void		 imds_serve_options(int access_log, int pods, unsigned pod_wait_ms);
/*
 * Serve s from now on; takes over the caller's reference, drops the old one
 * (s NULL: none), and asks the deferred requests again (http_wake).
 */
void		 imds_serve_snapshot(struct snapshot *s);
/* Who gets which role: the resolver gives the caller's role view (NULL: no role; not held). */
void		 imds_serve_resolver(enum roles_answer (*resolve)(void *arg,
		    const struct http_peer *peer, struct role_view **rv), void *arg);
/* Requests that waited for their caller (--pod-wait), and those answered at its end (counters). */
void		 imds_serve_waits(uint64_t *waited, uint64_t *expired);

/* ------------------------------------------------------------------ */
/* lifecycle.c: spot, rebalance, maintenance events, ASG, tag edits   */
/* ------------------------------------------------------------------ */

/*
 * The instance's life cycle as the control socket and the config's
 * "scenario" set it.  Pure: every function takes the wall clock `now`, so
 * tests drive it with their own; nothing here does I/O.  snapshot_build
 * renders it with life_emit (lifecycle_json.c).
 */
enum life_event_state { LIFE_EV_ACTIVE, LIFE_EV_COMPLETED, LIFE_EV_CANCELED };

struct life_event {
	char		 le_id[LIFE_EVENT_ID_LEN + 1];	/* instance-event-... */
	char		 le_code[32];	/* system-reboot, ... (contract §8.3) */
	char		 le_desc[LIFE_EVENT_DESC_MAX + 1];	/* without the history prefix */
	time_t		 le_not_before;
	time_t		 le_not_after;	/* 0: none (no NotAfter member, never completes by itself) */
	enum life_event_state le_state;
};

struct life_tag {
	char		 tg_key[LIFE_TAG_KEY_MAX + 1];
	char		 tg_value[LIFE_TAG_VALUE_MAX + 1];
	int		 tg_removed;	/* 1: `tag rm`, hides the config's tag of that key */
};

struct life_override {
	char		 lo_path[MD_PATH_MAX + 1];	/* "meta-data/..." or "dynamic/..." */
	char		*lo_value;	/* malloc'd; NULL: removed (unset) */
	size_t		 lo_len;
};

struct lifecycle {
	int		 l_spot_instance;	/* instance-life-cycle is spot */
	int		 l_spot_set;		/* an interruption notice is scheduled */
	char		 l_spot_action[LIFE_ACTION_MAX];	/* terminate, stop, hibernate */
	time_t		 l_spot_notice_at;	/* served from this time */
	time_t		 l_spot_time;		/* the action's time */
	int		 l_rebalance_set;
	time_t		 l_rebalance_at;	/* noticeTime, and served from then */
	struct life_event l_sched[LIFE_EVENTS_MAX];	/* scheduled, in the order added */
	size_t		 l_nsched;
	struct life_event l_hist[LIFE_EVENTS_MAX];	/* ended, oldest first */
	size_t		 l_nhist;
	unsigned long	 l_event_seq;	/* EventIds are numbered */
	char		 l_asg_state[LIFE_ASG_STATE_MAX + 1];	/* "" none */
	struct life_tag	 l_tags[LIFE_TAGS_MAX];	/* edits over the config's tags */
	size_t		 l_ntags;
	struct life_override l_ov[LIFE_OVERRIDES_MAX];	/* ctl set/unset, in order */
	size_t		 l_nov;
};

void		 life_init(struct lifecycle *l);
void		 life_free(struct lifecycle *l);
/*
 * A duration: digits with an optional unit s, m, h or d ("90", "90s", "2m",
 * "1h"), at most LIFE_WHEN_MAX s.  0 / -1.
 */
int		 life_parse_duration(const char *s, long *out);
/* A time: "+DURATION" from now, "now", or YYYY-MM-DDTHH:MM:SSZ.  0 / -1. */
int		 life_parse_when(const char *s, time_t now, time_t *out);
/*
 * Run one lifecycle verb (spot-interrupt, spot-cancel, rebalance, event,
 * asg-state, tag) given as words.  Everything is checked before anything
 * changes.  0 done (reply holds what to say), -1 refused (reply holds why),
 * 1 not a lifecycle verb (nothing touched).
 */
int		 life_command(struct lifecycle *l, const char *const *argv, size_t argc,
		    time_t now, char *reply, size_t cap);
/* Record an override (val NULL: a removal); replaces one of the same path.  0 / -1 with err. */
int		 life_override_set(struct lifecycle *l, const char *path, const char *val,
		    size_t len, char *err, size_t errlen);
/* Events whose NotAfter has passed become completed, in history.  Returns how many moved. */
size_t		 life_advance(struct lifecycle *l, time_t now);
/* The next time after now at which what is served changes; 0 when nothing is due. */
time_t		 life_next_change(const struct lifecycle *l, time_t now);
/* lifecycle_json.c */
/*
 * Apply the config's "scenario" (a json_t *) relative to start.  Also the
 * scenario's only check: config.c calls it on a scratch lifecycle.  0 / -1
 * with "scenario/...: message".
 */
int		 life_scenario(struct lifecycle *l, const void *scenario, time_t start,
		    char *err, size_t errlen);
/* "21 Jan 2019 09:00:43 GMT" (contract §8.3) into buf (at least 32 bytes); returns its length. */
size_t		 life_fmt_event_time(time_t t, char *buf, size_t cap);
/*
 * Render what is served at now: set(arg, path, value, len) for
 * meta-data/instance-life-cycle (spot only), spot/instance-action and
 * spot/termination-time, events/recommendations/rebalance,
 * events/maintenance/{scheduled,history}, autoscaling/target-lifecycle-state.
 * Stops at the first set that fails.  0 / -1.
 */
int		 life_emit(const struct lifecycle *l, time_t now,
		    int (*set)(void *arg, const char *path, const char *val, size_t len),
		    void *arg);
/* The whole state as one line of compact JSON (malloc'd); NULL on failure. */
char		*life_state_json(const struct lifecycle *l, time_t now);

#endif /* IMDS_H */
