/*
 * kube/: the Kubernetes API client (issue #14): finding the API as
 * client-go does, following the pods, namespaces and service accounts of a
 * node (list, then watch), one-shot reads and TokenReview.  Everything runs
 * on the loop through httpc/ (libcurl); nothing blocks.  HTTPS with
 * verification, always.
 *
 *   config.c    where the API is: in a pod (the service-account directory
 *               and KUBERNETES_SERVICE_HOST/PORT), or a kubeconfig file
 *               (libyaml: current or given context, its cluster and user;
 *               files or inline data; exec and auth-provider users refused);
 *               errors as FILE:LINE: message
 *   event.c     the watch stream split into lines (capped: KUBE_LINE_MAX),
 *               watch events and list pages parsed (jansson) into small
 *               structs, one per kind, holding only the fields the feature
 *               uses; an object over a cap is rejected, never truncated
 *   client.c    the client: requests with the bearer token (the token file
 *               re-read when it changes, at least every KUBE_TOKEN_REREAD_S),
 *               the CA and client certificate as blobs (never on disk);
 *               one-shot GET of a ServiceAccount; TokenReview
 *   reflector.c list (paged) then watch, per resource, as client-go's
 *               reflector: resume from the last resourceVersion, bookmarks,
 *               410 (HTTP or in-stream) -> list again, backoff with jitter,
 *               deletions found by a relist reported
 *   verb.c      `gimme-aws-mini kube-watch`: one line per event (never a
 *               secret), for tests and for users checking access
 *
 *   internal.h  what client.c shares with reflector.c and event.c (requests)
 *
 * Lifecycle, for the daemon: loop_init; kube_config_find; kube_client_new
 * (takes the config); kube_reflector_start per resource; loop; ...;
 * kube_reflector_stop each; kube_client_free.  Every callback runs from
 * the loop, never from inside the kube_* call that asked for it.  A
 * reflector's callbacks run while its watch stream is read (inside
 * libcurl's write callback): there they may read anything and start
 * one-shot calls (kube_get_serviceaccount, kube_token_review: those start
 * from a loop timer), but must not cancel a call, stop a reflector or free
 * the client.  A one-shot call's done may do anything but free the client.
 */
#ifndef KUBE_H
#define KUBE_H

#include "core/core.h"

/* Where the API is. */
#define KUBE_SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_URL_MAX		512	/* bytes of the server URL */
#define KUBE_PATH_MAX		1024	/* bytes of a file path (kubeconfig, CA, token, key) */
#define KUBE_CONFIG_MAX		(1024 * 1024)	/* bytes of a kubeconfig file */
#define KUBE_PEM_MAX		(1024 * 1024)	/* bytes of a CA bundle, certificate or key */
#define KUBE_TOKEN_MAX		16384	/* bytes of a bearer token */
#define KUBE_TOKEN_REREAD_S	60	/* s: the token file is re-read at least this often */
#define KUBE_CONTEXT_MAX	253	/* bytes of a context name */
#define KUBE_YAML_DEPTH_MAX	32	/* nesting in a kubeconfig */
#define KUBE_YAML_ITEMS_MAX	4096	/* clusters, contexts, users (each) in a kubeconfig */

/* Object fields (the Kubernetes API's own limits). */
#define KUBE_NAME_MAX		253	/* DNS-1123 subdomain: pods, service accounts, nodes */
#define KUBE_NAMESPACE_MAX	63	/* DNS-1123 label */
#define KUBE_UID_MAX		64	/* a UID (a UUID: 36) */
#define KUBE_RV_MAX		64	/* a resourceVersion (opaque) */
#define KUBE_PHASE_MAX		16	/* Pending, Running, Succeeded, Failed, Unknown */
#define KUBE_IP_MAX		45	/* text of an IPv4 or IPv6 address */
#define KUBE_POD_IPS_MAX	2	/* pod addresses kept: one per family */
#define KUBE_ARN_MAX		2048	/* a role ARN (or name) in an annotation */
#define KUBE_EXTERNAL_ID_MAX	1224	/* iam.amazonaws.com/external-id (STS's limit) */
#define KUBE_NS_RULE_MAX	4096	/* allowed-roles (JSON array of globs), permitted (regex) */
#define KUBE_USERNAME_MAX	(16 + KUBE_NAMESPACE_MAX + KUBE_NAME_MAX)	/* system:serviceaccount:NS:SA */

/* The wire. */
#define KUBE_LINE_MAX		(2 * 1024 * 1024)	/* bytes of one watch event line (etcd
						   stores objects up to 1.5 MiB) */
#define KUBE_BODY_MAX		(16 * 1024 * 1024)	/* bytes of a list page or other reply */
#define KUBE_LIST_LIMIT		250	/* items asked per list page */
#define KUBE_CONTINUE_MAX	4096	/* bytes of a list's continue token */
#define KUBE_SELECTOR_MAX	512	/* bytes of a field selector */
#define KUBE_WATCH_TIMEOUT_MIN_S 300	/* s: a watch's timeoutSeconds is drawn in */
#define KUBE_WATCH_TIMEOUT_MAX_S 600	/* ... [MIN, MAX), as client-go's 5 min x [1, 2) */
#define KUBE_WATCH_GRACE_S	60	/* s: a watch still open this long past its timeoutSeconds is dead */
#define KUBE_REQUEST_TIMEOUT_MS	30000	/* ms for a list page, a GET, a TokenReview */
#define KUBE_CONNECT_TIMEOUT_MS	5000	/* ms to connect to the API server */
#define KUBE_BACKOFF_START_MS	800	/* ms: first retry after a failure (client-go's) */
#define KUBE_BACKOFF_CAP_MS	30000	/* ms: retries back off up to this (doubling, jittered) */
#define KUBE_CALLS_MAX		64	/* one-shot calls (GET, TokenReview) in flight */
#define KUBE_STORE_MAX		100000	/* objects one reflector remembers */
#define KUBE_AUDIENCES_MAX	8	/* audiences read from a TokenReview status */

/* ------------------------------------------------------------------ */
/* config.c                                                           */
/* ------------------------------------------------------------------ */

/*
 * How to reach the API.  Key material is malloc'd and wiped when freed.
 * kc_ca NULL: the system store.  kc_token and kc_token_file: at most one
 * is set (kc_token_file is re-read by the client).  kc_cert and kc_key come
 * together.
 */
struct kube_config {
	char		 kc_server[KUBE_URL_MAX];	/* "https://host:port" (IPv6 bracketed) */
	char		*kc_ca;		/* PEM bundle */
	size_t		 kc_ca_len;
	char		*kc_cert;	/* client certificate, PEM */
	size_t		 kc_cert_len;
	char		*kc_key;	/* client key, PEM: a secret */
	size_t		 kc_key_len;
	char		*kc_token;	/* static bearer token: a secret */
	size_t		 kc_token_len;
	char		 kc_token_file[KUBE_PATH_MAX];	/* "" = none */
	char		 kc_origin[KUBE_PATH_MAX + KUBE_CONTEXT_MAX + 32];	/* for the log:
					   "in-cluster" or "FILE, context NAME" */
	char		 kc_cluster[KUBE_NAME_MAX + 1];	/* the context's cluster name; ""
					   in-cluster (a pod is not told its cluster's name) */
};

/*
 * In a pod: dir (NULL: KUBE_SA_DIR) holds token and ca.crt, and
 * KUBERNETES_SERVICE_HOST/PORT name the server.  1 when either variable is
 * empty (not in a cluster; kc untouched), 0 loaded, -1 with err.
 */
int		 kube_config_in_cluster(struct kube_config *kc, const char *dir, char *err,
		    size_t errlen);
/*
 * A kubeconfig file: path, or NULL for the first file of $KUBECONFIG, else
 * ~/.kube/config; context NULL: its current-context.  0 / -1 with err
 * ("FILE:LINE: message" where a line is known).
 */
int		 kube_config_load(struct kube_config *kc, const char *path, const char *context,
		    char *err, size_t errlen);
/*
 * The same from text (tests, fuzzing): file names the text in messages,
 * dir resolves relative paths.
 */
int		 kube_config_parse(struct kube_config *kc, const char *text, size_t len,
		    const char *file, const char *dir, const char *context, char *err,
		    size_t errlen);
/*
 * As client-go finds it: kubeconfig (when given), else $KUBECONFIG (when
 * set), else in-cluster (when its variables are set; sa_dir as above), else
 * ~/.kube/config.  0 / -1 with err.
 */
int		 kube_config_find(struct kube_config *kc, const char *kubeconfig,
		    const char *context, const char *sa_dir, char *err, size_t errlen);
/* Wipe and free the key material; kc zeroed. */
void		 kube_config_free(struct kube_config *kc);

/* ------------------------------------------------------------------ */
/* event.c: objects, events, lines                                    */
/* ------------------------------------------------------------------ */

enum kube_kind { KUBE_POD, KUBE_NAMESPACE, KUBE_SERVICEACCOUNT };

/* Every object's identity: metadata.namespace ("" for namespaces), .name, .uid, .resourceVersion. */
struct kube_meta {
	char		 km_namespace[KUBE_NAMESPACE_MAX + 1];
	char		 km_name[KUBE_NAME_MAX + 1];
	char		 km_uid[KUBE_UID_MAX + 1];
	char		 km_rv[KUBE_RV_MAX + 1];
};

/* The fields of a Pod the feature uses ("" when absent). */
struct kube_pod {
	struct kube_meta kp_meta;
	char		 kp_node[KUBE_NAME_MAX + 1];	/* spec.nodeName */
	char		 kp_sa[KUBE_NAME_MAX + 1];	/* spec.serviceAccountName */
	int		 kp_host_network;	/* spec.hostNetwork */
	char		 kp_phase[KUBE_PHASE_MAX + 1];	/* status.phase */
	/* status.podIPs (else status.podIP): at most one IPv4 and one IPv6, in order */
	size_t		 kp_nips;
	char		 kp_ips[KUBE_POD_IPS_MAX][KUBE_IP_MAX + 1];
	char		 kp_role[KUBE_ARN_MAX + 1];	/* iam.amazonaws.com/role */
	char		 kp_external_id[KUBE_EXTERNAL_ID_MAX + 1];	/* iam.amazonaws.com/external-id */
	int		 kp_deleting;	/* metadata.deletionTimestamp is set */
};

/* The fields of a Namespace (its name is at most KUBE_NAMESPACE_MAX bytes). */
struct kube_namespace {
	struct kube_meta kn_meta;
	int		 kn_has_allowed;	/* iam.amazonaws.com/allowed-roles present */
	char		 kn_allowed_roles[KUBE_NS_RULE_MAX + 1];	/* raw: a JSON array of globs */
	int		 kn_has_permitted;	/* iam.amazonaws.com/permitted present */
	char		 kn_permitted[KUBE_NS_RULE_MAX + 1];	/* raw: a regular expression */
};

/* The fields of a ServiceAccount. */
struct kube_sa {
	struct kube_meta ks_meta;
	char		 ks_role_arn[KUBE_ARN_MAX + 1];	/* eks.amazonaws.com/role-arn */
};

/*
 * One object of a reflector's kind.  Its identity (kube_meta: namespace,
 * name, uid) is always set; a deletion found by a relist (the object
 * vanished while no watch ran) carries only that, with ob_partial 1.
 */
struct kube_object {
	enum kube_kind	 ob_kind;
	int		 ob_partial;
	union {
		struct kube_pod		 ob_pod;
		struct kube_namespace	 ob_ns;
		struct kube_sa		 ob_sa;
	};
};

/* o's identity (whatever its kind). */
struct kube_meta *kube_object_meta(struct kube_object *o);

enum kube_event_type {
	KUBE_EV_ADDED, KUBE_EV_MODIFIED, KUBE_EV_DELETED, KUBE_EV_BOOKMARK, KUBE_EV_ERROR
};

/* A watch event. */
struct kube_event {
	enum kube_event_type ev_type;
	char		 ev_rv[KUBE_RV_MAX + 1];	/* the object's (or bookmark's) resourceVersion */
	long		 ev_code;	/* ERROR: the Status code (410: relist) */
	struct kube_object ev_obj;	/* ADDED, MODIFIED, DELETED */
};

#define KUBE_PARSE_OK		0
#define KUBE_PARSE_BAD		(-1)	/* not an event / list of this kind: the stream is broken */
#define KUBE_PARSE_REJECT	(-2)	/* a well-formed object over a cap or missing its
					   identity: ev_type and ev_rv are set, and the
					   identity when it could be read (ob_partial 1) */

/*
 * Parse an object (a JSON object of kind) into o.  KUBE_PARSE_OK,
 * KUBE_PARSE_REJECT with err (which field, never its value).
 */
struct json_t;
int		 kube_object_from_json(const struct json_t *j, enum kube_kind kind,
		    struct kube_object *o, char *err, size_t errlen);
/* Parse one watch line line[0..n) of kind.  One of KUBE_PARSE_*, err set unless OK. */
int		 kube_event_parse(const char *line, size_t n, enum kube_kind kind,
		    struct kube_event *ev, char *err, size_t errlen);

/* A list page: its resourceVersion, continue token, items (each handed to item). */
struct kube_list_page {
	char		 lp_rv[KUBE_RV_MAX + 1];
	char		 lp_continue[KUBE_CONTINUE_MAX + 1];	/* "" = the last page */
	size_t		 lp_items;	/* items seen */
	size_t		 lp_rejected;	/* items rejected (logged by item's caller) */
};
/*
 * Parse a list page body[0..n) of kind: item(arg, o, rc, err) for each
 * item, rc KUBE_PARSE_OK or KUBE_PARSE_REJECT (with err).  KUBE_PARSE_OK,
 * or KUBE_PARSE_BAD with err (not a list, or not JSON anywhere in it: then
 * no item is handed on; out of memory, some may have been).  Items are
 * parsed one at a time, never the page as one tree.
 */
int		 kube_list_parse(const char *body, size_t n, enum kube_kind kind,
		    struct kube_list_page *pg, void (*item)(void *arg,
		    const struct kube_object *o, int rc, const char *err), void *arg,
		    char *err, size_t errlen);

/*
 * The newline-delimited stream split into lines (without the newline), at
 * most max bytes each.  kl_buf holds a partial line between feeds.
 */
struct kube_lines {
	struct sbuf	 kl_buf;	/* SBUF_GROWN(max) */
	size_t		 kl_max;
};
void		 kube_lines_init(struct kube_lines *l, size_t max);
/* Forget a partial line (a new stream). */
void		 kube_lines_reset(struct kube_lines *l);
void		 kube_lines_free(struct kube_lines *l);
/*
 * Feed p[0..n): line(arg, s, len) for each complete line (empty lines are
 * skipped).  0; -1 when a line passed max (err set; the partial line is
 * dropped) or line returned -1 (its own reason).
 */
int		 kube_lines_feed(struct kube_lines *l, const char *p, size_t n,
		    int (*line)(void *arg, const char *s, size_t len), void *arg, char *err,
		    size_t errlen);

/* ------------------------------------------------------------------ */
/* client.c                                                           */
/* ------------------------------------------------------------------ */

struct kube_client;

/*
 * A client for kc (taken over on success: kc is zeroed, its material freed
 * with the client; on failure kc is still the caller's to free).  Opens
 * httpc/ (libcurl); loop_init first.  0 / -1 with err.
 */
int		 kube_client_new(struct kube_config *kc, struct kube_client **out, char *err,
		    size_t errlen);
/* Cancel its calls (unreported), free it.  Its reflectors must be stopped first. */
void		 kube_client_free(struct kube_client *c);
/* The server URL and where the configuration came from, for the log. */
const char	*kube_client_server(const struct kube_client *c);
const char	*kube_client_origin(const struct kube_client *c);

/* One one-shot call in flight (GET, TokenReview). */
struct kube_call;
/* Cancel: its done is never called.  Not from its own done. */
void		 kube_call_cancel(struct kube_call *k);

/*
 * GET /api/v1/namespaces/NS/serviceaccounts/NAME.  done(arg, sa, status,
 * err) exactly once from the loop unless cancelled: sa set (status 200; sa
 * is valid during the call only) and err NULL, or sa NULL with status the
 * HTTP status (404: no such account; 0: no answer, or a reply that could
 * not be read or was rejected) and err one line.  *call (call may be NULL)
 * gets the handle, valid until done runs.  0 / -1 with err (done not called).
 */
int		 kube_get_serviceaccount(struct kube_client *c, const char *ns, const char *name,
		    void (*done)(void *arg, const struct kube_sa *sa, long status,
		    const char *err), void *arg, struct kube_call **call, char *err,
		    size_t errlen);

/* A TokenReview's verdict. */
struct kube_review {
	int		 kr_authenticated;	/* status.authenticated */
	int		 kr_audience_ok;	/* status.audiences has the audience asked */
	int		 kr_is_sa;	/* the user is system:serviceaccount:NS:NAME */
	char		 kr_namespace[KUBE_NAMESPACE_MAX + 1];	/* from status.user.username */
	char		 kr_sa[KUBE_NAME_MAX + 1];
	char		 kr_pod_name[KUBE_NAME_MAX + 1];	/* extra authentication.kubernetes.io/pod-name */
	char		 kr_pod_uid[KUBE_UID_MAX + 1];	/* extra ...pod-uid */
	char		 kr_error[256];	/* status.error ("" = none), one line */
};

/*
 * POST /apis/authentication.k8s.io/v1/tokenreviews with spec.token =
 * token[0..len) and spec.audiences = [audience].  The token is copied into
 * the request body only, wiped when the call ends, never logged.
 * done(arg, r, err) exactly once from the loop unless cancelled: r the
 * verdict (HTTP 200/201: authenticated or not; r valid during the call
 * only) and err NULL; or r NULL and
 * err a transport failure, an HTTP status other than 200/201, or a reply
 * that is not a TokenReview.  0 / -1 with err (done not called).
 */
int		 kube_token_review(struct kube_client *c, const char *token, size_t len,
		    const char *audience, void (*done)(void *arg, const struct kube_review *r,
		    const char *err), void *arg, struct kube_call **call, char *err,
		    size_t errlen);
/* Parse a TokenReview reply (tests, fuzzing).  0 / -1 with err. */
int		 kube_review_parse(const char *body, size_t n, const char *audience,
		    struct kube_review *r, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* reflector.c                                                        */
/* ------------------------------------------------------------------ */

/* What a reflector tells (all from the loop). */
struct kube_reflector_ops {
	/* an object added or changed (after a list: every object listed) */
	void		(*ro_upsert)(void *arg, const struct kube_object *o);
	/* an object gone: a DELETED event (its last state), or absent from a relist (ob_partial) */
	void		(*ro_delete)(void *arg, const struct kube_object *o);
	/* a list (the first, or a relist) is complete: what is known is the cluster's state */
	void		(*ro_synced)(void *arg);
	/*
	 * Optional (NULL: every object): whether o is wanted.  One not wanted
	 * is neither remembered nor reported (and, when it was, it is reported
	 * deleted); so memory grows only with what is wanted (the service
	 * accounts the node's pods use, say: kube_get_serviceaccount fetches
	 * one that becomes wanted, and its later changes come by the watch).
	 */
	int		(*ro_want)(void *arg, const struct kube_object *o);
};

/* Counters for the metrics (monotonic). */
struct kube_stats {
	uint64_t	 ks_lists;	/* lists completed */
	uint64_t	 ks_pages;	/* list pages read */
	uint64_t	 ks_watches;	/* watches started */
	uint64_t	 ks_watch_restarts;	/* watches that ended (timeout, 410, error): each is
					   followed by a new watch or a list */
	uint64_t	 ks_expired;	/* 410s: HTTP, in-stream, or on a continue token */
	uint64_t	 ks_errors;	/* transport failures, 5xx and other statuses, bad streams */
	uint64_t	 ks_events;	/* watch events handled (bookmarks included) */
	uint64_t	 ks_rejected;	/* objects rejected (over a cap) */
};

/* What to follow. */
struct kube_reflector_spec {
	enum kube_kind	 rs_kind;
	const char	*rs_field_selector;	/* e.g. "spec.nodeName=NODE"; NULL: none (copied) */
	long		 rs_watch_timeout_s;	/* a watch's timeoutSeconds; 0: drawn in
					   [KUBE_WATCH_TIMEOUT_MIN_S, MAX_S) each time (tests set it) */
	const struct kube_reflector_ops *rs_ops;
	void		*rs_arg;
};

struct kube_reflector;

/*
 * Follow spec's resource through c: list (KUBE_LIST_LIMIT a page), then
 * watch; the first request starts from the loop.  Failures are retried
 * with backoff forever; what is known stays known meanwhile.  0 / -1 with err.
 */
int		 kube_reflector_start(struct kube_client *c, const struct kube_reflector_spec *spec,
		    struct kube_reflector **out, char *err, size_t errlen);
/* Stop and free: no callback after this. */
void		 kube_reflector_stop(struct kube_reflector *r);
/* A list has completed (the first sync happened); stays 1. */
int		 kube_reflector_synced(const struct kube_reflector *r);
/* Objects known now. */
size_t		 kube_reflector_count(const struct kube_reflector *r);
const struct kube_stats *kube_reflector_stats(const struct kube_reflector *r);
/* "pods", "namespaces", "serviceaccounts". */
const char	*kube_kind_resource(enum kube_kind kind);

/* ------------------------------------------------------------------ */
/* verb.c                                                             */
/* ------------------------------------------------------------------ */

/* `gimme-aws-mini kube-watch ...`: the exit code. */
int		 kube_watch_main(int argc, char **argv);

#endif /* KUBE_H */
