/*
 * pods.h: which role each pod of the node gets, and which pod owns a
 * source address (issue 14).  All but node.c is pure: plain values in,
 * plain values out; no Kubernetes client, no loop, no I/O.  node.c feeds
 * it what the watch says, and the daemon asks it one address per request.
 *
 *   arn.c      role ARNs: the IAM checks (pods_arn_check), a name completed
 *              by --base-role-arn (pods_opts_set, pods_role_resolve),
 *              ExternalId checks
 *   rules.c    the config file's "pod-identity-associations" and "role-map"
 *              (struct pod_rules: config.c fills it, duplicates found here)
 *   policy.c   --namespace-restrictions: a namespace's allowed-roles
 *              (kube2iam, JSON array of globs) and permitted (kiam, a
 *              regular expression, RE2 spelling turned into POSIX ERE),
 *              compiled once per annotation change (struct pod_ns)
 *   choose.c   the role of one pod: annotation, service account,
 *              association, default, none, or refused (pods_choose)
 *   tags.c     EKS Pod Identity's six session tags and its session name for a
 *              pod (--session-tags), the cluster's name and ARN
 *   addrs.c    the address table: IPv4/IPv6 address -> owning pod, owned by
 *              pod uid, O(1) lookup without allocation (struct pod_table)
 *   node.c     not pure: the node's pods, their service accounts and (with
 *              --namespace-restrictions) the namespaces followed through
 *              kube/'s reflectors; each change recomputes the pods' roles,
 *              updates the address table and moves the roles' users
 *              (creds/assumed.c: acquired, so fetched, when a pod appears);
 *              who a caller is (pods_node_who: one lookup); the host's own
 *              addresses (the node's identity); `ctl pods`'s listing; the
 *              role EKS Pod Identity serves a pod (pods_node_identity:
 *              associations first), a pod's changes and deletion told
 *              (pn_changed, pn_gone)
 *
 * Limits are the constants below.  Every text input is (pointer, length);
 * a NULL pointer means "absent".
 */
#ifndef PODS_H
#define PODS_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* IAM's limits (IAM User Guide, "IAM and STS quotas"; CreateRole). */
#define POD_ROLE_NAME_MAX	64	/* role name: [A-Za-z0-9+=,.@_-] */
#define POD_ROLE_PATH_MAX	512	/* "/" or "/.../", bytes 0x21..0x7e */
#define POD_PARTITION_MAX	32	/* "aws", "aws-cn", "aws-us-gov", ... (our cap) */
#define POD_ACCOUNT_LEN		12	/* account id: exactly 12 digits */
/* "arn:" P ":iam::" ACCOUNT ":role" PATH NAME */
#define POD_ARN_MAX		(4 + POD_PARTITION_MAX + 6 + POD_ACCOUNT_LEN + 5 + \
				    POD_ROLE_PATH_MAX + POD_ROLE_NAME_MAX)
#define POD_EXTERNAL_ID_MAX	1224	/* STS AssumeRole ExternalId: 2..1224 [\w+=,.@:/-] */
#define POD_EXTERNAL_ID_MIN	2
#define POD_REASON_MAX		256	/* bytes in a reason, for the log and `ctl pods` */
/* Kubernetes names: a namespace is a DNS label, a service account a DNS subdomain. */
#define POD_NAMESPACE_MAX	63
#define POD_SA_MAX		253
#define POD_UID_MAX		64	/* a pod uid (a UUID: 36) */

/* ------------------------------------------------------------------ */
/* arn.c                                                              */
/* ------------------------------------------------------------------ */

/* What serve's flags give: --base-role-arn, --default-role, --namespace-restrictions. */
struct pod_opts {
	char	 po_base[POD_ARN_MAX + 1];	/* "arn:...:role/[path/]" or "": no base */
	char	 po_default[POD_ARN_MAX + 1];	/* the default role's ARN, or "": none */
	int	 po_restrict;			/* 1: --namespace-restrictions */
};

/*
 * 1 when arn[0..len) is a role ARN as IAM writes it:
 * arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, PARTITION "aws" or
 * "aws-x[-y...]" (lower-case letters and digits), ACCOUNT 12 digits, PATH
 * and NAME in IAM's charsets and lengths.  0 with why naming the fault.
 */
int		 pods_arn_check(const char *arn, size_t len, char *why, size_t whylen);
/*
 * Fill o: base (NULL: none) must be "arn:P:iam::ACCOUNT:role" optionally
 * followed by "/" and a path; a "/" is appended when missing (kube2iam).
 * def (NULL: none) is a name or an ARN, resolved against the base now.
 * 0 / -1 with err ("--base-role-arn: ...", "--default-role: ...").
 */
int		 pods_opts_set(struct pod_opts *o, const char *base, size_t baselen,
		    const char *def, size_t deflen, int restrict_ns, char *err, size_t errlen);
/*
 * A role as a pod or a pattern names it, as a checked ARN into
 * out[POD_ARN_MAX + 1].  A value starting with "arn:" (any case, as
 * kube2iam) is used as is; otherwise one leading "/" is dropped (kiam; kube2iam
 * would write "role//x", which IAM refuses) and o's base is prepended, so
 * that "team/app" keeps its path.  0 / -1 with why (out is then "").
 */
int		 pods_role_resolve(const struct pod_opts *o, const char *val, size_t len,
		    char *out, char *why, size_t whylen);
/* 1 when id[0..len) is an STS ExternalId (2..1224 of [A-Za-z0-9+=,.@:/_-]). */
int		 pods_external_id_ok(const char *id, size_t len);

/* ------------------------------------------------------------------ */
/* rules.c: the config file's pod rules                               */
/* ------------------------------------------------------------------ */

#define POD_ASSOC_MAX		1024	/* "pod-identity-associations" entries */
#define POD_ROLE_MAP_MAX	256	/* "role-map" entries */

struct pod_assoc {
	char	*pa_namespace;	/* one malloc'd block holding the three, checked */
	char	*pa_sa;
	char	*pa_arn;
	int	 pa_no_tags;	/* "disable-session-tags": true (EKS's disableSessionTags) */
};

struct pod_map {
	char	*pm_from;	/* one malloc'd block holding both, checked ARNs */
	char	*pm_to;
};

/* What the config file says about pods; owned by struct config. */
struct pod_rules {
	struct pod_assoc pr_assoc[POD_ASSOC_MAX];
	size_t		 pr_nassoc;
	struct pod_map	 pr_map[POD_ROLE_MAP_MAX];
	size_t		 pr_nmap;
};

/* A new, empty set of rules; NULL when out of memory. */
struct pod_rules *pods_rules_new(void);
void		 pods_rules_free(struct pod_rules *r);
/* A deep copy; NULL when out of memory. */
struct pod_rules *pods_rules_dup(const struct pod_rules *r);
/* 1 when s[0..len) is a Kubernetes namespace name (DNS-1123 label). */
int		 pods_namespace_ok(const char *s, size_t len);
/* 1 when s[0..len) is a service account name (DNS-1123 subdomain). */
int		 pods_sa_name_ok(const char *s, size_t len);
/*
 * Add an association (the values checked by the caller with the functions
 * above).  0; -1 out of memory; -2 full (POD_ASSOC_MAX); -3 the same
 * namespace/service account is already there, at index *dup.
 */
int		 pods_rules_assoc_add(struct pod_rules *r, const char *ns, size_t nslen,
		    const char *sa, size_t salen, const char *arn, size_t arnlen, size_t *dup);
/* Add a role-map entry from -> to (checked ARNs).  0; -1 out of memory; -2 full. */
int		 pods_rules_map_add(struct pod_rules *r, const char *from, size_t fromlen,
		    const char *to, size_t tolen);
/* The associated role of namespace/sa, or NULL. */
const char	*pods_rules_assoc_find(const struct pod_rules *r, const char *ns, size_t nslen,
		    const char *sa, size_t salen);
/* The association of namespace/sa, or NULL. */
const struct pod_assoc *pods_rules_assoc_get(const struct pod_rules *r, const char *ns,
		    size_t nslen, const char *sa, size_t salen);
/* What role-map replaces arn by, or NULL. */
const char	*pods_rules_map_find(const struct pod_rules *r, const char *arn);

/* ------------------------------------------------------------------ */
/* policy.c: --namespace-restrictions                                 */
/* ------------------------------------------------------------------ */

#define POD_NS_ANNOTATION_MAX	4096	/* bytes of allowed-roles or permitted we read */
#define POD_NS_GLOBS_MAX	64	/* patterns in allowed-roles */
#define POD_NS_REGEX_MAX	(2 * POD_NS_ANNOTATION_MAX + 8)	/* the ERE it becomes */
#define POD_RE_REPEAT_MAX	1000	/* a repeat count (RE2's limit) */
#define POD_RE_ATOMS_MAX	20000	/* atoms once repeats are expanded (regcomp's memory) */
#define POD_RE_DEPTH_MAX	32	/* groups open at once */

/*
 * One namespace's restriction, built when its annotations change:
 *   allowed-roles (kube2iam): a JSON array of globs, each completed as a
 *     role (pods_role_resolve) and matched against the whole role ARN, '*'
 *     standing for any bytes ('/' included) and nothing else special, as
 *     ryanuber/go-glob does;
 *   permitted (kiam): a regular expression matched against the role ARN,
 *     anchored as kiam's default (strict) does, but grouped: ^(RE)$ (kiam
 *     writes "^" + RE + "$", so that "a|b" was "^a|b$").
 * A role is allowed when either allows it; a namespace with neither, or
 * with a value that does not parse, allows none (the fault is in
 * pn_fault, for the reason).
 */
struct pod_ns {
	char	 pn_name[POD_NAMESPACE_MAX + 1];
	char	*pn_globs;	/* malloc'd: pn_nglobs NUL-terminated patterns, back to back */
	size_t	 pn_nglobs;
	int	 pn_allowed_set;	/* 1: allowed-roles was given (even empty) */
	regex_t	 pn_re;
	int	 pn_re_set;	/* 1: pn_re compiled */
	char	 pn_fault[POD_REASON_MAX];	/* why an annotation was refused, or "" */
};

/*
 * Build np for namespace name from its annotations (NULL: absent).  np
 * must be zeroed or hold an earlier pods_ns_set's result (freed here).
 * 0; -1 only when out of memory (np then allows none).  An annotation that
 * does not parse is not an error: it allows nothing, and pn_fault says why.
 */
int		 pods_ns_set(struct pod_ns *np, const struct pod_opts *o, const char *name,
		    size_t namelen, const char *allowed, size_t allowedlen,
		    const char *permitted, size_t permittedlen);
void		 pods_ns_free(struct pod_ns *np);
/* 1 when np allows arn; 0 with why naming the namespace and the rule. */
int		 pods_ns_allows(const struct pod_ns *np, const char *arn, char *why,
		    size_t whylen);
/* 1 when the glob pattern p (only '*' special) matches all of s. */
int		 pods_glob_match(const char *p, const char *s);
/*
 * Turn a Go (RE2) expression into a POSIX ERE for regcomp(REG_EXTENDED):
 * \d \w \s and their negations become bracket expressions (in brackets
 * too), lazy quantifiers become greedy (same match or not), (?: becomes
 * (, an escaped punctuation mark stays escaped outside brackets and
 * becomes itself inside them.  What POSIX has no form for (flags (?i),
 * named groups, \b \A \z \pN \Q, octal/hex escapes) is refused, and so is
 * what RE2 refuses and glibc's regcomp would grow without bound: a repeat
 * of a repeat ("a**"), counts over POD_RE_REPEAT_MAX, more than
 * POD_RE_ATOMS_MAX atoms once the repeats are expanded, groups nested
 * deeper than POD_RE_DEPTH_MAX.
 * 0 / -1 with why.  out holds outmax bytes (NUL included).
 */
int		 pods_re2_to_ere(const char *re, size_t len, char *out, size_t outmax,
		    char *why, size_t whylen);

/* ------------------------------------------------------------------ */
/* choose.c: the role of a pod                                        */
/* ------------------------------------------------------------------ */

enum pod_source {
	POD_SRC_NONE,		/* no role: credentials 404 */
	POD_SRC_ANNOTATION,	/* iam.amazonaws.com/role */
	POD_SRC_SERVICE_ACCOUNT,	/* the ServiceAccount's eks.amazonaws.com/role-arn */
	POD_SRC_ASSOCIATION,	/* the config's pod-identity-associations */
	POD_SRC_DEFAULT,	/* --default-role */
	POD_SRC_REFUSED		/* a role was named but is not served: pr_reason says why */
};

/* (pointer, length) of a value the watch gave; p NULL: absent. */
struct pod_text {
	const char	*p;
	size_t		 len;
};

/* What choosing a pod's role looks at. */
struct pod_facts {
	struct pod_text	 pf_namespace;
	struct pod_text	 pf_name;	/* for the reason only */
	struct pod_text	 pf_sa;		/* spec.serviceAccountName */
	struct pod_text	 pf_role;	/* annotation iam.amazonaws.com/role */
	struct pod_text	 pf_external_id;	/* annotation iam.amazonaws.com/external-id */
	struct pod_text	 pf_sa_role_arn;	/* the SA's eks.amazonaws.com/role-arn */
};

struct pod_role {
	enum pod_source	 pr_source;
	char		 pr_arn[POD_ARN_MAX + 1];	/* what is served (after role-map); "" none */
	int		 pr_mapped;	/* 1: role-map replaced the chosen ARN */
	char		 pr_external_id[POD_EXTERNAL_ID_MAX + 1];	/* "" none */
	char		 pr_reason[POD_REASON_MAX];	/* one line for the log and `ctl pods` */
};

/* "annotation", "service-account", "association", "default", "none", "refused". */
const char	*pods_source_name(enum pod_source s);
/*
 * The role of the pod f describes: the first of its annotation, its
 * service account's role-arn, an association of rules (NULL: none), the
 * default; else none.  With o->po_restrict, ns (NULL: the namespace is not
 * known yet) must allow the chosen ARN unless it is the default role's;
 * the check is on the ARN the manifests name, before role-map.  A value
 * that is not a valid role, an ExternalId that is not valid, or a role the
 * namespace refuses gives POD_SRC_REFUSED with an empty ARN.
 */
void		 pods_choose(const struct pod_opts *o, const struct pod_rules *rules,
		    const struct pod_ns *ns, const struct pod_facts *f, struct pod_role *out);

/* ------------------------------------------------------------------ */
/* tags.c: EKS Pod Identity's session tags                            */
/* ------------------------------------------------------------------ */

#define POD_SESSION_TAGS	6	/* the tags EKS sets on a pod's session */
#define POD_CLUSTER_NAME_MAX	100	/* an EKS cluster name: [0-9A-Za-z][A-Za-z0-9_-]* */
#define POD_CLUSTER_DEFAULT	"gimme-aws-mini"	/* the cluster's name when none is known */
#define POD_CLUSTER_ARN_MAX	(POD_ARN_MAX + POD_CLUSTER_NAME_MAX + 64)	/* bytes of its ARN */
#define POD_UUID_LEN		UUID_TEXT_LEN	/* a UUID's text */

struct assume_tags;	/* creds/creds.h */

/* The values of a pod's tags (NUL-terminated; NULL: empty). */
struct pod_tag_facts {
	const char	*tf_cluster_arn;
	const char	*tf_cluster;
	const char	*tf_namespace;
	const char	*tf_sa;
	const char	*tf_pod_name;
	const char	*tf_pod_uid;
};

/* 1 when s[0..len) is an EKS cluster name (1..100 of [0-9A-Za-z][A-Za-z0-9_-]*). */
int		 pods_cluster_name_ok(const char *s, size_t len);
/*
 * The EKS cluster name a kubeconfig's cluster name gives: itself when it is
 * one, the name part of an EKS cluster ARN (aws eks update-kubeconfig's).
 * 0 / -1 (neither: out "").
 */
int		 pods_cluster_from_kubeconfig(const char *name, char *out, size_t outlen);
/* arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME, partition and account role_arn's.  0 / -1. */
int		 pods_cluster_arn(const char *role_arn, const char *region, const char *cluster,
		    char *out, size_t outlen);
/* EKS's six tags, all transitive, in its order.  0 / -1 with why (a value STS would refuse). */
int		 pods_session_tags(const struct pod_tag_facts *f, struct assume_tags *out,
		    char *why, size_t whylen);
/* eks-CLUSTER-POD-UUID in STS's characters, cut at STS_SESSION_NAME_MAX. */
void		 pods_session_name(const char *cluster, const char *pod, const char *uuid,
		    char *out, size_t outlen);

/* ------------------------------------------------------------------ */
/* addrs.c: source address -> the pod that owns it now               */
/* ------------------------------------------------------------------ */

#define POD_TABLE_PODS_MAX	2048	/* pods tracked (kubelet's default is 110 per node) */
#define POD_ADDRS_PER_POD	2	/* status.podIPs: one per family */
#define POD_TABLE_ADDRS_MAX	(POD_TABLE_PODS_MAX * POD_ADDRS_PER_POD)
#define POD_TABLE_SLOTS		(2 * POD_TABLE_ADDRS_MAX)	/* hash slots, a power of 2, <= 50% full */

/* One address as struct http_peer carries it. */
struct pod_addr {
	int		 pa_family;	/* AF_INET or AF_INET6 */
	unsigned char	 pa_addr[16];	/* IPv4 in the first 4 bytes, the rest 0 */
};

/* What the watch says of a pod, for the table. */
struct pod_state {
	const char	*ps_uid;	/* metadata.uid, NUL-terminated, <= POD_UID_MAX */
	int		 ps_host_network;	/* spec.hostNetwork */
	int		 ps_finished;	/* phase Succeeded or Failed */
	int		 ps_deleting;	/* metadata.deletionTimestamp set */
	struct pod_addr	 ps_addrs[POD_ADDRS_PER_POD];	/* status.podIPs */
	size_t		 ps_naddrs;
	void		*ps_user;	/* the caller's record of the pod, returned by lookups */
};

struct pod_table;

/* A new, empty table (it grows with the pods, up to POD_TABLE_PODS_MAX); NULL when out of memory. */
struct pod_table *pods_table_new(void);
void		 pods_table_free(struct pod_table *t);
/*
 * A pod was added or modified (or listed).  The rules:
 *   - a finished (Succeeded/Failed) or hostNetwork pod owns no address: what
 *     it owned is released;
 *   - an address the pod no longer lists is released;
 *   - a listed address nobody owns becomes the pod's; one another pod owns
 *     becomes this pod's (a later owner replaces) unless this pod is being
 *     deleted, or lost this address to another pod before: a pod never
 *     takes back an address it lost (its late events cannot steal it);
 *   - the caller's ps_user is updated.
 * 0; -1 when the table is full (POD_TABLE_PODS_MAX pods) or out of memory.
 */
int		 pods_table_update(struct pod_table *t, const struct pod_state *st);
/* The pod was deleted: it and the addresses it still owns are forgotten. */
void		 pods_table_remove(struct pod_table *t, const char *uid);
/* The ps_user of the pod that owns the address now, or NULL.  No allocation. */
void		*pods_table_lookup(const struct pod_table *t, int family,
		    const unsigned char addr[16]);
/* Pods tracked, addresses owned. */
size_t		 pods_table_pods(const struct pod_table *t);
size_t		 pods_table_addrs(const struct pod_table *t);
/* Whether uid owns addr now (for `ctl pods` and tests). */
int		 pods_table_owns(const struct pod_table *t, const char *uid, int family,
		    const unsigned char addr[16]);

/* ------------------------------------------------------------------ */
/* node.c: the node's pods (not pure: kube/, creds/assumed.c)          */
/* ------------------------------------------------------------------ */

#define POD_WAIT_DEFAULT_MS	1000	/* --pod-wait: SDKs give up on IMDS after about 1 s */
#define POD_WAIT_MAX_MS		10000	/* ... at most */
#define POD_HOST_ADDRS_MAX	64	/* the host's own addresses kept (the node's identity) */

struct kube_object;
struct kube_client;
struct http_peer;
struct role;
struct assumed;
enum role_who;

/* What serve gives node.c (strings borrowed for its life). */
struct pods_node_cfg {
	const char	*pn_kubeconfig;	/* --kubeconfig; NULL: KUBECONFIG, in-cluster, ~/.kube/config */
	const char	*pn_node;	/* --node-name; NULL: $NODE_NAME, else the host name */
	const char	*pn_sa_dir;	/* the in-cluster directory; NULL: KUBE_SA_DIR */
	const struct pod_opts *pn_opts;	/* --base-role-arn, --default-role, --namespace-restrictions */
	struct pod_rules *const *pn_rules;	/* the config's (current after a reload); may hold NULL */
	void		(*pn_gone)(const char *uid);	/* a pod was deleted (NULL: nobody asks) */
	/* a pod's role was chosen again (NULL: nobody asks; set: Pod Identity is served, so
	   hostNetwork pods' service accounts are followed too) */
	void		(*pn_changed)(const char *uid);
	/* --session-tags: Pod Identity's roles are assumed with EKS's session tags */
	int		 pn_session_tags;
	const char	*pn_cluster;	/* --cluster-name; NULL: the kubeconfig's, else POD_CLUSTER_DEFAULT */
	const char	*pn_region;	/* the node's region, for the cluster's ARN */
};

/* One pod, as `ctl pods` shows it (valid during the callback only). */
struct pod_info {
	const char	*pi_namespace;
	const char	*pi_name;
	const char	*pi_uid;
	const struct pod_addr *pi_addrs;
	size_t		 pi_naddrs;
	const char	*pi_arn;	/* its role's ARN, or NULL: none */
	enum pod_source	 pi_source;
	const char	*pi_reason;	/* why this role, or none ("" none) */
	int		 pi_host_network;	/* the node's identity */
	int		 pi_served;	/* its role has credentials now */
	time_t		 pi_expiration;	/* ... until then (0: none) */
	const char	*pi_error;	/* why its role has none (STS's refusal; "" none) */
};

/* Counters and gauges for the metrics. */
struct pods_node_stats {
	size_t		 ps_pods;	/* pods tracked (gauge) */
	size_t		 ps_addrs;	/* addresses owned (gauge) */
	size_t		 ps_sas;	/* service accounts kept (gauge) */
	size_t		 ps_namespaces;	/* namespaces kept (gauge) */
	uint64_t	 ps_watch_restarts;	/* the reflectors' ks_watch_restarts, summed */
	uint64_t	 ps_sa_gets;	/* service accounts read one by one */
	uint64_t	 ps_role_changes;	/* a pod's role set or changed */
};

/*
 * Find the API (kube_config_find), start the reflectors (pods of the node,
 * service accounts, namespaces with restrictions).  After loop_init and
 * assumed_init.  0 / -1 with err ("--pod-roles: ...").
 */
int		 pods_node_start(const struct pods_node_cfg *cfg, char *err, size_t errlen);
/* The state alone, without the API (unit tests feed the callbacks).  0 / -1. */
int		 pods_node_init(const struct pods_node_cfg *cfg, char *err, size_t errlen);
/* Stop the reflectors, release every role, free everything (before assumed_free). */
void		 pods_node_stop(void);
/* The reflectors' callbacks (struct kube_reflector_ops), for unit tests too. */
void		 pods_node_upsert(void *arg, const struct kube_object *o);
void		 pods_node_delete(void *arg, const struct kube_object *o);
int		 pods_node_want(void *arg, const struct kube_object *o);
/*
 * Who is at pe (struct roles_who's rw_who): a pod (WHO_ROLE, *r its role or
 * NULL), the node or a hostNetwork pod (WHO_NODE: the host's own address),
 * or nobody known yet (WHO_UNKNOWN; also a pod waiting for its service
 * account).  One hash lookup; no allocation.
 */
enum role_who	 pods_node_who(void *arg, const struct http_peer *pe, const struct role **r);
/* What pods_node_identity answers. */
#define POD_IDENTITY_ROLE	1	/* *a: the pod's role, held for the caller */
#define POD_IDENTITY_NONE	0	/* no role (why says so) */
#define POD_IDENTITY_WAIT	(-1)	/* not yet: the pod's service account is being read */
#define POD_IDENTITY_REFUSED	(-2)	/* a role is named but refused (why says why) */

/*
 * The role EKS Pod Identity serves the pod uid (name: the TokenReview's,
 * NULL or "": unknown) of namespace ns and service account sa (a
 * TokenReview's): the config's pod-identity-association of ns/sa first,
 * else as pods_choose does, from the pod's record when this node tracks it
 * (its annotation, its service account's role-arn), else from ns/sa alone
 * (the account's role-arn when it is known here).  With pn_session_tags
 * (and no "disable-session-tags" on the association) the role is the
 * pod's own, assumed with EKS's six session tags and session name.  1 (the
 * role, *a acquired: assumed_release it), 0 none, -2 refused (why says
 * why), -1 not yet (the pod's service account is being read): the
 * POD_IDENTITY_* values above.
 */
int		 pods_node_identity(const char *uid, const char *name, const char *ns,
		    const char *sa, time_t now, struct assumed **a, char *why, size_t whylen);
/* The Kubernetes client (TokenReview), or NULL before pods_node_start. */
struct kube_client *pods_node_client(void);
/* Once a second: service account reads due again (and the host's addresses, unwatched). */
void		 pods_node_tick(time_t now);

/* ---- host.c: the host's own addresses (the node's identity) ---------------- */

/* Read them (getifaddrs); a failure keeps the set there was. */
void		 pods_host_read(void);
/* Read them again whenever the kernel says they changed (netlink, on the loop).  0 / -1 (errno). */
int		 pods_host_watch(void);
/* Stop that (pods_node_stop). */
void		 pods_host_unwatch(void);
/* Once a second: read them when they are not watched. */
void		 pods_host_tick(void);
/* 1 when pe is one of them (the node, hostNetwork pods). */
int		 pods_host_has(const struct http_peer *pe);
/* The config's rules changed (a reload): every pod's role again. */
void		 pods_node_rules_changed(void);
/* fn for each pod (`ctl pods`). */
void		 pods_node_each(void (*fn)(void *arg, const struct pod_info *pi), void *arg);
/* The pods using a, "pods ns/a, ns/b" into buf (struct assumed_cfg's ac_users). */
void		 pods_node_users(void *arg, const struct assumed *a, char *buf, size_t len);
const struct pods_node_stats *pods_node_stats(void);

#endif /* PODS_H */
