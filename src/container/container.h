/*
 * container/: the container credential endpoints (contract §11): ECS's
 * (169.254.170.2, `serve --ecs`, and `exec`'s private one) and EKS Pod
 * Identity's (169.254.170.23 and [fd00:ec2::23], `serve --pod-identity`),
 * two layouts of the same rendering, a service each.
 *
 *   render.c   the role registry's RENDER_CONTAINER rendering of a role:
 *              its credentials as ready bodies, one per layout (ECS, Pod
 *              Identity), compact JSON as Go's encoding/json writes it
 *              (the agents are Go programs); what both services share:
 *              the handler's frame (ctr_handle: Go's raw 400, the head as
 *              Go writes it, HEAD, the access line; struct ctr_conn), a
 *              role's view served (ctr_serve_view), the wait for a role's
 *              first credentials (ctr_hold), percent-decoding, STS's
 *              refusal split into code, message, status and request id
 *   ecs.c      the ECS credential service (ecs_http_service):
 *              GET /v2/credentials/<id>, /v1/credentials?id=<id> (ids of the
 *              config file's "ecs-credentials"), /creds (the node's
 *              identity) and /role/<name> (assumed on first ask, completed
 *              by --base-role-arn); the agent's JSON errors and statuses;
 *              with a token (exec), 401 without it
 *   pod_identity.c  the EKS Pod Identity service (pod_identity_http_service):
 *              GET /v1/credentials, the agent's Host and token checks, the
 *              token verified by TokenReview (a verdict cache keyed by the
 *              token's SHA-256: PI_VERDICT_TTL_MS, PI_VERDICTS_MAX, dropped
 *              with its pod), the pod's role from pods/node.c
 *              (pods_node_identity), the agent's plain-text errors
 *   assume.c   roles assumed for the service: creds/assumed.c's roles on
 *              the node's credentials, pinned on first ask, at most
 *              ECS_ROLES_MAX of them
 *
 * Nothing here knows IMDS's formats; roles are the registry's (creds/).
 */
#ifndef CONTAINER_H
#define CONTAINER_H

#include "core/core.h"
#include "http/http.h"
#include "creds/creds.h"
#include "imds/imds.h"

#define CTR_ERR_BODY_MAX	2048	/* bytes of an error body, either service's */
#define ECS_ROLES_MAX		64	/* roles the service assumes on ask (ids' ARNs, /role/) */
#define ECS_WAIT_MS		5000	/* ms a request waits for a new role's first credentials */
#define ECS_ERR_BODY_MAX	1536	/* bytes of an error body (STS's message is in it) */
#define ECS_PATH_MAX		512	/* bytes of a request path or id, decoded */
#define ECS_TOKEN_MAX		128	/* bytes in exec's authorization token */
#define ECS_NODE_ID		"node"	/* an "ecs-credentials" value: the node's own role */

/* EKS Pod Identity (pod_identity.c). */
#define PI_AUDIENCE		"pods.eks.amazonaws.com"	/* the token's audience on EKS */
#define PI_VERDICT_TTL_MS	60000	/* ms a TokenReview verdict is kept (at most) */
#define PI_VERDICTS_MAX		1024	/* verdicts kept at once (a node runs some hundred pods) */
#define PI_REVIEWS_MAX		(KUBE_CALLS_MAX / 2)	/* TokenReviews in flight: the rest of the
						   client's calls are the pods' service accounts' */
#define PI_REVIEWS_PER_ADDR_MAX	4	/* new tokens one client address may have under
						   review at once (a pod has one token) */
#define PI_GONE_MAX		256	/* deleted pods' uids remembered (a review in flight
						   when its pod went may still name it) */
#define PI_FAILED_HOLD_MS	1000	/* ms a failed review is shared by the requests waiting */
#define PI_WAIT_MS		5000	/* ms a request waits for its role's first credentials */
#define PI_HOSTS_MAX		(2 + LISTEN_MAX)	/* Host values accepted: the magic IP's
						   two, and --pod-identity-listen's */
#define PI_HOST_MAX		63	/* bytes of an accepted host (an address's text) */
#define PI_HOST_SHOWN_MAX	256	/* bytes of a refused Host shown in the 403 */
#define PI_WHY_MAX		512	/* bytes of a verdict's reason (TokenReview's error) */
#define PI_JWT_PART_MAX		8192	/* bytes of a token's header or claims, decoded */

/* ------------------------------------------------------------------ */
/* render.c: a role's container rendering                             */
/* ------------------------------------------------------------------ */

/* The bodies a role is rendered into: one per endpoint's layout. */
enum ctr_layout {
	CTR_ECS,		/* RoleArn, AccessKeyId, SecretAccessKey, Token, Expiration */
	CTR_POD_IDENTITY,	/* AccessKeyId, SecretAccessKey, Token, AccountId, Expiration;
				   empty fields omitted, no RoleArn */
	CTR_LAYOUTS
};

/* A role's credentials, ready to write; refcounted like IMDS's role views. */
struct ctr_view {
	unsigned	 cv_refs;
	int		 cv_have;	/* 0: the role has no credentials (none yet, or expired) */
	char		*cv_body[CTR_LAYOUTS];	/* cv_have: compact JSON, no trailing LF */
	size_t		 cv_len[CTR_LAYOUTS];
	time_t		 cv_rendered;	/* when */
};

/* The bit of a layout in cx_layouts. */
#define CTR_LAYOUT_BIT(k)	(1U << (k))

/*
 * What the renderer reads besides the role: the instance (partition,
 * account), and which layouts the daemon serves (cx_layouts: CTR_LAYOUT_BIT
 * of each; 0: all).  A layout nobody serves is not rendered (its cv_body
 * is NULL): each is a copy of the role's credentials kept as long as it is.
 */
struct ctr_ctx {
	const struct instance *cx_inst;
	unsigned	 cx_layouts;
};

/*
 * The renderer to register as RENDER_CONTAINER: { ctr_render, ctr_view_unref,
 * &ctx, 1 } (lazy: a role's view is made at its first container request).
 * A new struct ctr_view of r at now, arg a struct ctr_ctx; NULL (logged)
 * when out of memory.  The unref takes a struct ctr_view.
 */
void		*ctr_render(void *arg, const struct role *r, time_t now);
void		 ctr_view_unref(void *v);
/* r's current container rendering (borrowed), or NULL. */
struct ctr_view	*ctr_view_of(const struct role *r);
void		 ctr_view_ref(struct ctr_view *v);
/* A role's ARN: arn:<partition>:iam::<account>:role/<name> ("" account: the instance's). */
void		 ctr_role_arn(const struct instance *inst, const struct role *r, char *out,
		    size_t len);
/*
 * A JSON string as Go's encoding/json writes it: '"', '\\', \n \r \t
 * short, other control bytes and <, >, & as \u00XX, U+2028 and U+2029
 * escaped, invalid UTF-8 as \ufffd.
 */
void		 ctr_json_quote(struct sbuf *b, const char *s, size_t n);
/*
 * An error of the agent's (ErrorMessage marshalled):
 * {"code":C,"message":M,"HTTPErrorCode":N}.  Into a fixed buffer.
 */
void		 ctr_json_error(struct sbuf *b, const char *code, const char *message, int status);

/* One connection's answer, the state of both services (sv_state_size). */
struct ctr_conn {
	struct ctr_view	*cc_view;	/* the body points into it: held until released */
	uint64_t	 cc_since_ms;	/* the request first waited then; 0: it has not */
	char		 cc_body[CTR_ERR_BODY_MAX];	/* an error's body */
};

/* What a container endpoint's answer is, for its head (ctr_head). */
enum ctr_shape {
	CTR_SHAPE_JSON,		/* a handler's JSON: application/json */
	CTR_SHAPE_TEXT,		/* Go's http.Error: text/plain; charset=utf-8, nosniff */
	CTR_SHAPE_RAW		/* Go's server on a request it cannot read: no Date, no
				   Content-Length */
};
/*
 * The head as Go's server writes it (the handler's fields, then Date and
 * Content-Length), then Connection: close (every connection is closed).
 */
void		 ctr_head(struct http_reply *rp, const struct http_call *call, int status,
		    enum ctr_shape shape, size_t bodylen);
/*
 * A container service's sv_handle: answer (the service's: a request that
 * parsed, its status, or 0 to wait; the body in rp, *shape set, JSON
 * unless it says otherwise) or, for a request that did not parse, Go's
 * server's own "400 Bad Request"; then the head, HEAD's empty body, the
 * access log line (what: "ecs", "pod-identity").
 */
enum http_verdict ctr_handle(struct ctr_conn *cc, const struct http_call *call,
		    struct http_reply *rp, int (*answer)(struct ctr_conn *cc,
		    const struct http_call *call, struct http_reply *rp, enum ctr_shape *shape),
		    int access_log, const char *what);
/* A container service's sv_release: the view given back. */
void		 ctr_release(void *state);
/* r's credentials in layout as rp's body (cc holds the view): 1; 0 none now. */
int		 ctr_serve_view(struct ctr_conn *cc, struct http_reply *rp, const struct role *r,
		    enum ctr_layout layout);
/*
 * Whether the request may wait longer for what it needs (a role's first
 * credentials): 1 held (its wake-up asked, up to wait_ms from its first
 * wait); 0 its time is up, or it is at its deadline.
 */
int		 ctr_hold(struct ctr_conn *cc, const struct http_call *call, unsigned wait_ms);
/*
 * Percent-decode s[0..n) into out[ECS_PATH_MAX + 1] (plus: '+' is a
 * space).  0 / -1 (a bad escape, or over ECS_PATH_MAX).
 */
int		 ctr_unescape(const char *s, size_t n, int plus, char *out);
/* A role's failed fetch, when the cache's error is STS's refusal. */
struct ctr_sts_error {
	char		 se_code[64];		/* "AccessDenied" */
	char		 se_message[ERRBUF_LEN];	/* STS's message */
	long		 se_status;		/* STS's HTTP status; 0: not said */
	char		 se_request_id[128];	/* "" none */
};
/*
 * Split the cache's "STS AssumeRole ARN: Code: message (HTTP n, request id
 * r)" into e.  1 parsed; 0 not STS's answer (a transport failure, say).
 */
int		 ctr_sts_error_parse(const char *why, struct ctr_sts_error *e);

/* ------------------------------------------------------------------ */
/* assume.c: roles assumed on ask                                     */
/* ------------------------------------------------------------------ */

/* What assume.c works on (serve.c or exec fills it at start-up). */
struct ctr_roles {
	struct role_registry *cr_reg;
	struct role	*cr_node;	/* the node's own role (IMDS's) */
	const char	*cr_base_arn;	/* --base-role-arn: "arn:aws:iam::1:role/"; NULL: none */
};
/* Keep cr (copied); creds/assumed.c is started (assumed_init) before. */
void		 ctr_roles_init(const struct ctr_roles *cr);
/*
 * The role for arn: found, or added (and its first fetch started) when
 * there is room.  NULL with err when arn is not a role ARN, the ECS_ROLES_MAX
 * are taken, or adding failed.
 */
struct role	*ctr_role_for_arn(const char *arn, time_t now, char *err, size_t errlen);
/* The node's role. */
struct role	*ctr_node_role(void);
/* --base-role-arn (NULL: none). */
const char	*ctr_base_arn(void);

/* ------------------------------------------------------------------ */
/* ecs.c: the ECS credential service                                  */
/* ------------------------------------------------------------------ */

extern const struct http_service ecs_http_service;

/*
 * What the service answers from: the config (its "ecs-credentials",
 * borrowed: the daemon's, current after a reload), exec's token (NULL:
 * none asked), the access log.
 */
void		 ecs_serve_setup(const struct config *cfg, const char *token, int access_log);
/* Once a second: requests waiting for a role are asked again (its fetch may have failed). */
void		 ecs_tick(void);
/* Requests waiting now (a gauge; tests and the tick). */
size_t		 ecs_waiting(void);

/* ------------------------------------------------------------------ */
/* pod_identity.c: the EKS Pod Identity service                       */
/* ------------------------------------------------------------------ */

struct kube_review;
struct kube_call;
struct assumed;

/*
 * What the service works with: the daemon's (pod_identity_node_ops:
 * kube/'s TokenReview through pods/node.c's client, pods_node_identity,
 * creds/assumed.c), or a test's.
 */
struct pi_ops {
	/* kube_token_review's contract, for PI_AUDIENCE */
	int		(*po_review)(void *arg, const char *token, size_t len,
			    void (*done)(void *, const struct kube_review *, const char *),
			    void *darg, struct kube_call **call, char *err, size_t errlen);
	void		(*po_cancel)(void *arg, struct kube_call *call);
	/*
	 * the role of pod uid (name: the review's, "" unknown; namespace ns,
	 * service account sa): pods.h's POD_IDENTITY_*
	 */
	int		(*po_role)(void *arg, const char *uid, const char *name, const char *ns,
			    const char *sa, time_t now, struct assumed **a, char *why,
			    size_t whylen);
	void		(*po_release)(void *arg, struct assumed *a, time_t now);
	const struct role *(*po_role_of)(const struct assumed *a);
	double		(*po_clock)(void);	/* the wall clock, s and fraction (exp, nbf) */
	/* 1: pe is the node's own (hostNetwork pods: not capped per address); NULL: none is */
	int		(*po_is_node)(const struct http_peer *pe);
	void		*po_arg;
};
extern const struct pi_ops pod_identity_node_ops;

/* Counters and gauges (metrics, tests). */
struct pi_stats {
	uint64_t	 ps_reviews;	/* TokenReviews asked */
	uint64_t	 ps_review_failures;	/* ... that failed (unreachable, 5xx) */
	uint64_t	 ps_denied;	/* tokens TokenReview did not authenticate */
	uint64_t	 ps_cached;	/* requests answered from a verdict kept */
	uint64_t	 ps_evicted;	/* verdicts dropped to make room */
	uint64_t	 ps_throttled;	/* new tokens refused: their address had PI_REVIEWS_PER_ADDR_MAX
				   under review (429) */
	uint64_t	 ps_served;	/* credentials served */
	size_t		 ps_verdicts;	/* kept now (a gauge) */
};

extern const struct http_service pod_identity_http_service;

/*
 * Serve with ops (copied); hosts[0..nhosts) are accepted as Host besides
 * 169.254.170.23 and fd00:ec2::23 (--pod-identity-listen's addresses;
 * copied, at most PI_HOSTS_MAX - 2).  Verdicts kept are dropped.
 */
void		 pod_identity_setup(const struct pi_ops *ops, const char *const *hosts,
		    size_t nhosts, int access_log);
/* Every verdict dropped (reviews cancelled, roles released): at exit. */
void		 pod_identity_stop(void);
/*
 * The pod uid was deleted: its verdicts are dropped (node.c's pn_gone), and
 * a review in flight that names it is taken as a denial.
 */
void		 pod_identity_pod_gone(const char *uid);
/*
 * The pod uid's role was chosen again (node.c's pn_changed: its manifests,
 * its service account, the config): its verdicts give their role back and
 * choose again at their next request (the token's verdict stays).
 */
void		 pod_identity_pod_changed(const char *uid);
/* Once a second: verdicts past their time dropped; held requests asked again. */
void		 pod_identity_tick(uint64_t now_ms);
/* Verdicts kept now. */
size_t		 pod_identity_verdicts(void);
const struct pi_stats *pod_identity_stats(void);
/* Host as the agent compares it: its port and IPv6 brackets removed (net.SplitHostPort). */
struct slice	 pod_identity_host(struct slice host);
/* A token's validity in time, its claims as they are (s, with their fraction). */
struct jwt_window {
	double		 jw_exp, jw_nbf;
	int		 jw_has_exp, jw_has_nbf;
};
/*
 * The agent's checks of a token tok[0..n) at now (golang-jwt/v5, the
 * signature not verified): three base64url segments, JSON header and
 * claims, a known alg, exp and nbf.  0 (*w its exp and nbf) / -1 with msg
 * the agent's 400 message.
 */
int		 pod_identity_jwt_check(const char *tok, size_t n, double now,
		    struct jwt_window *w, char *msg, size_t len);
/* 1 when w holds at now: exp and nbf as pod_identity_jwt_check checks them. */
int		 pod_identity_jwt_holds(const struct jwt_window *w, double now);

#endif /* CONTAINER_H */
