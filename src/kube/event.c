/*
 * event.c: what the API server sends, parsed (pure: no I/O, no state).
 *
 * The watch stream is newline-delimited JSON; kube_lines splits it with a
 * capped buffer (a complete line inside one piece is handed on in place,
 * only a line split across pieces is copied).  Each line, and each item of
 * a list page (one at a time), is parsed with jansson into the small
 * structs of kube.h: only the fields the feature uses
 * (per-pod-identity.md §7.6), each within its named cap.
 * An object with a field over its cap, a field of the wrong type, or an
 * address that is not one, is rejected whole (KUBE_PARSE_REJECT, with the
 * field named and never its value), not truncated: a role cut short would
 * name another role.  Status objects (an in-stream ERROR) give their code.
 * TokenReview replies are parsed here too.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube/internal.h"

#define ANN_ROLE		"iam.amazonaws.com/role"
#define ANN_EXTERNAL_ID		"iam.amazonaws.com/external-id"
#define ANN_ALLOWED_ROLES	"iam.amazonaws.com/allowed-roles"
#define ANN_PERMITTED		"iam.amazonaws.com/permitted"
#define ANN_IRSA_ROLE		"eks.amazonaws.com/role-arn"
#define EXTRA_POD_NAME		"authentication.kubernetes.io/pod-name"
#define EXTRA_POD_UID		"authentication.kubernetes.io/pod-uid"
#define SA_USER_PREFIX		"system:serviceaccount:"
#define KUBE_POD_IPS_SEEN_MAX	16	/* podIPs entries looked at (the API allows 2) */

/* ---- fields ------------------------------------------------------------- */

/*
 * obj[key] (obj may be NULL) as a string into dst[cap]: absent or null is
 * "" (an error when required); not a string, over cap - 1 bytes, a NUL or a
 * control byte inside: -1 with err naming what.
 */
static int
jstr(const json_t *obj, const char *key, char *dst, size_t cap, const char *what,
    int required, char *err, size_t errlen)
{
	json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
	const char *s;
	size_t n;

	dst[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		errf(err, errlen, "%s missing", what);
		return -1;
	}
	if (!json_is_string(v)) {
		errf(err, errlen, "%s is not a string", what);
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= cap) {
		errf(err, errlen, "%s over %zu bytes", what, cap - 1);
		return -1;
	}
	if (memchr(s, '\0', n) != NULL || text_has_ctl(s, n)) {
		errf(err, errlen, "%s has a control byte", what);
		return -1;
	}
	if (required && n == 0) {
		errf(err, errlen, "%s is empty", what);
		return -1;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* obj[key] when it is an object, else NULL. */
static json_t *
jobj(const json_t *obj, const char *key)
{
	json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

/* The identity every object has: metadata.name, .namespace (when namespaced), .uid, .resourceVersion. */
static int
jmeta(const json_t *md, int namespaced, size_t namecap, struct kube_meta *m, char *err,
    size_t errlen)
{
	if (jstr(md, "name", m->km_name, namecap, "metadata.name", 1, err, errlen) == -1 ||
	    (namespaced && jstr(md, "namespace", m->km_namespace, sizeof(m->km_namespace),
	    "metadata.namespace", 1, err, errlen) == -1) ||
	    jstr(md, "uid", m->km_uid, sizeof(m->km_uid), "metadata.uid", 0, err, errlen) == -1 ||
	    jstr(md, "resourceVersion", m->km_rv, sizeof(m->km_rv), "metadata.resourceVersion", 0,
	    err, errlen) == -1)
		return -1;
	return 0;
}

/* One address: its text into the pod's list if its family has none yet.  0 / -1. */
static int
pod_ip_add(struct kube_pod *p, const json_t *v, char *err, size_t errlen)
{
	unsigned char bin[16];
	char ip[KUBE_IP_MAX + 1];
	size_t i;
	int fam;

	if (!json_is_string(v) || json_string_length(v) > KUBE_IP_MAX) {
		errf(err, errlen, "status.podIPs: not an address");
		return -1;
	}
	snprintf(ip, sizeof(ip), "%s", json_string_value(v));
	fam = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	if (strlen(ip) != json_string_length(v) || inet_pton(fam, ip, bin) != 1) {
		errf(err, errlen, "status.podIPs: not an address");
		return -1;
	}
	for (i = 0; i < p->kp_nips; i++)
		if ((strchr(p->kp_ips[i], ':') != NULL) == (fam == AF_INET6))
			return 0;	/* one per family */
	if (p->kp_nips < KUBE_POD_IPS_MAX)
		snprintf(p->kp_ips[p->kp_nips++], sizeof(p->kp_ips[0]), "%s", ip);
	return 0;
}

static int
pod_parse(const json_t *j, struct kube_pod *p, char *err, size_t errlen)
{
	json_t *md = jobj(j, "metadata"), *spec = jobj(j, "spec"), *st = jobj(j, "status");
	json_t *ann = jobj(md, "annotations"), *ips, *hn, *v;
	size_t i;

	if (jstr(spec, "nodeName", p->kp_node, sizeof(p->kp_node), "spec.nodeName", 0, err,
	    errlen) == -1 ||
	    jstr(spec, "serviceAccountName", p->kp_sa, sizeof(p->kp_sa),
	    "spec.serviceAccountName", 0, err, errlen) == -1 ||
	    jstr(st, "phase", p->kp_phase, sizeof(p->kp_phase), "status.phase", 0, err,
	    errlen) == -1 ||
	    jstr(ann, ANN_ROLE, p->kp_role, sizeof(p->kp_role), "annotation " ANN_ROLE, 0, err,
	    errlen) == -1 ||
	    jstr(ann, ANN_EXTERNAL_ID, p->kp_external_id, sizeof(p->kp_external_id),
	    "annotation " ANN_EXTERNAL_ID, 0, err, errlen) == -1)
		return -1;
	hn = spec != NULL ? json_object_get(spec, "hostNetwork") : NULL;
	if (hn != NULL && !json_is_boolean(hn) && !json_is_null(hn)) {
		errf(err, errlen, "spec.hostNetwork is not a boolean");
		return -1;
	}
	p->kp_host_network = json_is_true(hn);
	v = md != NULL ? json_object_get(md, "deletionTimestamp") : NULL;
	p->kp_deleting = v != NULL && !json_is_null(v);
	p->kp_nips = 0;
	ips = st != NULL ? json_object_get(st, "podIPs") : NULL;
	if (json_is_array(ips) && json_array_size(ips) > 0) {
		if (json_array_size(ips) > KUBE_POD_IPS_SEEN_MAX) {
			errf(err, errlen, "status.podIPs: over %d entries", KUBE_POD_IPS_SEEN_MAX);
			return -1;
		}
		for (i = 0; i < json_array_size(ips); i++) {
			v = json_array_get(ips, i);
			if (pod_ip_add(p, json_is_object(v) ? json_object_get(v, "ip") : NULL,
			    err, errlen) == -1)
				return -1;
		}
	} else if (ips != NULL && !json_is_null(ips) && !json_is_array(ips)) {
		errf(err, errlen, "status.podIPs is not a list");
		return -1;
	} else if ((v = st != NULL ? json_object_get(st, "podIP") : NULL) != NULL &&
	    !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0) &&
	    pod_ip_add(p, v, err, errlen) == -1)
		return -1;
	return 0;
}

/* One annotation of a namespace: present or not, its raw text. */
static int
ns_rule(const json_t *ann, const char *key, int *has, char *dst, size_t cap, char *err,
    size_t errlen)
{
	char what[64];

	snprintf(what, sizeof(what), "annotation %s", key);
	*has = ann != NULL && json_object_get(ann, key) != NULL &&
	    !json_is_null(json_object_get(ann, key));
	return jstr(ann, key, dst, cap, what, 0, err, errlen);
}

struct kube_meta *
kube_object_meta(struct kube_object *o)
{
	if (o->ob_kind == KUBE_NAMESPACE)
		return &o->ob_ns.kn_meta;
	if (o->ob_kind == KUBE_SERVICEACCOUNT)
		return &o->ob_sa.ks_meta;
	return &o->ob_pod.kp_meta;
}

int
kube_object_from_json(const struct json_t *j, enum kube_kind kind, struct kube_object *o,
    char *err, size_t errlen)
{
	json_t *md = jobj(j, "metadata"), *ann = jobj(md, "annotations");
	int rc = -1;

	memset(o, 0, sizeof(*o));
	o->ob_kind = kind;
	if (!json_is_object(j)) {
		errf(err, errlen, "not an object");
		return KUBE_PARSE_REJECT;
	}
	switch (kind) {
	case KUBE_POD:
		if (jmeta(md, 1, KUBE_NAME_MAX + 1, &o->ob_pod.kp_meta, err, errlen) == -1)
			break;
		o->ob_partial = 1;	/* the identity is known from here on */
		rc = pod_parse(j, &o->ob_pod, err, errlen);
		break;
	case KUBE_NAMESPACE:
		if (jmeta(md, 0, KUBE_NAMESPACE_MAX + 1, &o->ob_ns.kn_meta, err, errlen) == -1)
			break;
		o->ob_partial = 1;
		rc = ns_rule(ann, ANN_ALLOWED_ROLES, &o->ob_ns.kn_has_allowed,
		    o->ob_ns.kn_allowed_roles, sizeof(o->ob_ns.kn_allowed_roles), err, errlen);
		if (rc == 0)
			rc = ns_rule(ann, ANN_PERMITTED, &o->ob_ns.kn_has_permitted,
			    o->ob_ns.kn_permitted, sizeof(o->ob_ns.kn_permitted), err, errlen);
		break;
	case KUBE_SERVICEACCOUNT:
		if (jmeta(md, 1, KUBE_NAME_MAX + 1, &o->ob_sa.ks_meta, err, errlen) == -1)
			break;
		o->ob_partial = 1;
		rc = jstr(ann, ANN_IRSA_ROLE, o->ob_sa.ks_role_arn, sizeof(o->ob_sa.ks_role_arn),
		    "annotation " ANN_IRSA_ROLE, 0, err, errlen);
		break;
	}
	if (rc == 0) {
		o->ob_partial = 0;
		return KUBE_PARSE_OK;
	}
	return KUBE_PARSE_REJECT;
}

/* ---- events ------------------------------------------------------------- */

static const char *const kind_names[] = { "Pod", "Namespace", "ServiceAccount" };

/* j's "kind", when present, is want (plus suffix): 1 / 0. */
static int
kind_ok(const json_t *j, enum kube_kind kind, const char *suffix)
{
	char want[32];
	json_t *k = json_object_get(j, "kind");

	if (k == NULL)
		return 1;
	snprintf(want, sizeof(want), "%s%s", kind_names[kind], suffix);
	return json_is_string(k) && strcmp(json_string_value(k), want) == 0;
}

/* Release j, return rc: the common end of the parsers. */
static int
jdone(json_t *j, int rc)
{
	json_decref(j);
	return rc;
}

/* json_loadb with its message put in err.  NULL on failure. */
static json_t *
jload(const char *p, size_t n, const char *what, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;

	if ((j = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je)) == NULL)
		errf(err, errlen, "%s is not JSON: %s (column %d)", what, je.text, je.column);
	else if (!json_is_object(j)) {
		errf(err, errlen, "%s is not a JSON object", what);
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* An ERROR event's Status: code and message. */
static int
event_status(const json_t *obj, struct kube_event *ev, char *err, size_t errlen)
{
	json_t *code = json_object_get(obj, "code");
	char msg[256], reason[64];

	if (!json_is_integer(code) || json_integer_value(code) < 0 ||
	    json_integer_value(code) > 999) {
		errf(err, errlen, "watch ERROR event without a status code");
		return KUBE_PARSE_BAD;
	}
	ev->ev_code = (long)json_integer_value(code);
	if (jstr(obj, "message", msg, sizeof(msg), "message", 0, err, errlen) == -1)
		snprintf(msg, sizeof(msg), "(message unreadable)");
	if (jstr(obj, "reason", reason, sizeof(reason), "reason", 0, err, errlen) == -1)
		snprintf(reason, sizeof(reason), "?");
	errf(err, errlen, "watch ERROR %ld %s: %s", ev->ev_code, reason, msg);
	return KUBE_PARSE_OK;
}

int
kube_event_parse(const char *line, size_t n, enum kube_kind kind, struct kube_event *ev,
    char *err, size_t errlen)
{
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK",
	    "ERROR" };
	json_t *j, *t, *obj;
	size_t i;
	int rc = KUBE_PARSE_BAD;

	memset(ev, 0, sizeof(*ev));
	ev->ev_obj.ob_kind = kind;
	if ((j = jload(line, n, "watch event", err, errlen)) == NULL)
		return KUBE_PARSE_BAD;
	t = json_object_get(j, "type");
	obj = json_object_get(j, "object");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (json_is_string(t) && strcmp(json_string_value(t), types[i]) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0]) || !json_is_object(obj)) {
		errf(err, errlen, "watch event without a known type and an object");
		goto out;
	}
	ev->ev_type = (enum kube_event_type)i;
	if (ev->ev_type == KUBE_EV_ERROR) {
		rc = event_status(obj, ev, err, errlen);
		goto out;
	}
	if (!kind_ok(obj, kind, "")) {
		errf(err, errlen, "watch event of another kind (want %s)", kind_names[kind]);
		goto out;
	}
	if (jstr(jobj(obj, "metadata"), "resourceVersion", ev->ev_rv, sizeof(ev->ev_rv),
	    "metadata.resourceVersion", 1, err, errlen) == -1)
		goto out;
	if (ev->ev_type == KUBE_EV_BOOKMARK)
		rc = KUBE_PARSE_OK;
	else
		rc = kube_object_from_json(obj, kind, &ev->ev_obj, err, errlen);
out:
	return jdone(j, rc);
}

/* ---- list pages, one item at a time ------------------------------------ */

/*
 * A list page is not parsed as one tree.  A page of KUBE_LIST_LIMIT pods is
 * megabytes of jansson's small blocks; what the caller keeps for each item
 * was carved out of the holes between them, and kept those heap pages
 * resident long after the tree was freed.  The page is read as its text
 * instead: its members besides items go into a small object, and each item
 * is parsed, handed on and freed before the next.  A first pass parses
 * every item and frees it, so a page that is not JSON hands on no item,
 * as when it was one tree (out of memory in the second pass, some may have
 * been: the page fails, and the reflector lists again).
 */

#define JSON_WS(c)	((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

struct lread {
	const char	*lr_p;
	size_t		 lr_n;
	size_t		 lr_off;	/* next byte to read */
	char		*lr_err;
	size_t		 lr_errlen;
};

/* The next byte after whitespace (not consumed), or -1 at the end. */
static int
lr_peek(struct lread *lr)
{
	while (lr->lr_off < lr->lr_n && JSON_WS(lr->lr_p[lr->lr_off]))
		lr->lr_off++;
	return lr->lr_off < lr->lr_n ? (unsigned char)lr->lr_p[lr->lr_off] : -1;
}

/* Consume c after whitespace.  0, or -1 with err. */
static int
lr_expect(struct lread *lr, char c)
{
	if (lr_peek(lr) != (unsigned char)c) {
		errf(lr->lr_err, lr->lr_errlen, "list is not JSON: '%c' expected at byte %zu",
		    c, lr->lr_off);
		return -1;
	}
	lr->lr_off++;
	return 0;
}

/* One JSON value (any type) at the reading point.  The value, or NULL with err. */
static json_t *
lr_value(struct lread *lr)
{
	json_error_t je;
	json_t *v;

	v = json_loadb(lr->lr_p + lr->lr_off, lr->lr_n - lr->lr_off, JSON_DISABLE_EOF_CHECK |
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (v == NULL) {
		errf(lr->lr_err, lr->lr_errlen, "list is not JSON: %s (byte %zu)", je.text,
		    lr->lr_off + (je.position > 0 ? (size_t)je.position : 0));
		return NULL;
	}
	lr->lr_off += (size_t)je.position;
	return v;
}

/*
 * The items array from its '[' (or a null): each item parsed, handed to
 * each(arg, item) (when each is set) and freed.  The count, or -1 with err.
 */
static long
lr_items(struct lread *lr, void (*each)(void *arg, const json_t *item), void *arg)
{
	json_t *v;
	long n = 0;

	if (lr_peek(lr) != '[') {
		if ((v = lr_value(lr)) == NULL)
			return -1;
		if (!json_is_null(v)) {
			json_decref(v);
			errf(lr->lr_err, lr->lr_errlen, "list items is not an array");
			return -1;
		}
		json_decref(v);
		return 0;
	}
	lr->lr_off++;
	if (lr_peek(lr) == ']') {
		lr->lr_off++;
		return 0;
	}
	for (;;) {
		if ((v = lr_value(lr)) == NULL)
			return -1;
		if (each != NULL)
			each(arg, v);
		json_decref(v);
		n++;
		if (lr_peek(lr) == ']') {
			lr->lr_off++;
			return n;
		}
		if (lr_expect(lr, ',') == -1)
			return -1;
	}
}

/*
 * The page's members but items into *head, the offset of items' value in
 * *items_at (0: none), every item parsed once.  0, or -1 with err.
 */
static int
lr_page(struct lread *lr, json_t **head, size_t *items_at)
{
	const char *key;
	json_t *k, *v;
	size_t klen;
	int items;

	*items_at = 0;
	if ((*head = json_object()) == NULL) {
		errf(lr->lr_err, lr->lr_errlen, "out of memory");
		return -1;
	}
	if (lr_expect(lr, '{') == -1)
		return -1;
	if (lr_peek(lr) == '}') {
		lr->lr_off++;
		goto end;
	}
	for (;;) {
		if (lr_peek(lr) != '"') {
			errf(lr->lr_err, lr->lr_errlen, "list is not JSON: a key expected at byte %zu",
			    lr->lr_off);
			return -1;
		}
		if ((k = lr_value(lr)) == NULL)
			return -1;
		key = json_string_value(k);
		klen = json_string_length(k);
		if (memchr(key, '\0', klen) != NULL) {	/* as jansson refuses in an object */
			errf(lr->lr_err, lr->lr_errlen, "list is not JSON: a NUL in a key");
			json_decref(k);
			return -1;
		}
		items = klen == 5 && memcmp(key, "items", 5) == 0;
		if (items ? *items_at != 0 : json_object_getn(*head, key, klen) != NULL) {
			errf(lr->lr_err, lr->lr_errlen, "list is not JSON: member %.64s twice",
			    key);
			json_decref(k);
			return -1;
		}
		if (lr_expect(lr, ':') == -1) {
			json_decref(k);
			return -1;
		}
		if (items) {
			lr_peek(lr);
			*items_at = lr->lr_off;
			if (lr_items(lr, NULL, NULL) == -1) {
				json_decref(k);
				return -1;
			}
		} else if ((v = lr_value(lr)) == NULL ||
		    json_object_setn_new(*head, key, klen, v) == -1) {
			if (v != NULL)
				errf(lr->lr_err, lr->lr_errlen, "out of memory");
			json_decref(k);
			return -1;
		}
		json_decref(k);
		if (lr_peek(lr) == '}') {
			lr->lr_off++;
			break;
		}
		if (lr_expect(lr, ',') == -1)
			return -1;
	}
end:
	if (lr_peek(lr) != -1) {
		errf(lr->lr_err, lr->lr_errlen, "list is not JSON: end of text expected at byte %zu",
		    lr->lr_off);
		return -1;
	}
	return 0;
}

struct list_each {
	enum kube_kind	 le_kind;
	struct kube_object *le_o;
	struct kube_list_page *le_pg;
	void		(*le_item)(void *arg, const struct kube_object *o, int rc,
			    const char *err);
	void		*le_arg;
};

static void
list_item(void *arg, const json_t *item)
{
	struct list_each *le = arg;
	char ierr[ERRBUF_LEN];
	int r = kube_object_from_json(item, le->le_kind, le->le_o, ierr, sizeof(ierr));

	le->le_pg->lp_items++;
	if (r != KUBE_PARSE_OK)
		le->le_pg->lp_rejected++;
	le->le_item(le->le_arg, le->le_o, r, r == KUBE_PARSE_OK ? NULL : ierr);
}

int
kube_list_parse(const char *body, size_t n, enum kube_kind kind, struct kube_list_page *pg,
    void (*item)(void *arg, const struct kube_object *o, int rc, const char *err), void *arg,
    char *err, size_t errlen)
{
	struct lread lr = { body, n, 0, err, errlen };
	struct list_each le = { kind, NULL, pg, item, arg };
	json_t *j = NULL, *md;
	size_t items_at;
	int rc = KUBE_PARSE_BAD;

	memset(pg, 0, sizeof(*pg));
	if (lr_page(&lr, &j, &items_at) == -1)
		goto out;
	md = jobj(j, "metadata");
	if (!kind_ok(j, kind, "List") || md == NULL || items_at == 0) {
		errf(err, errlen, "not a %sList", kind_names[kind]);
		goto out;
	}
	if (jstr(md, "resourceVersion", pg->lp_rv, sizeof(pg->lp_rv),
	    "list metadata.resourceVersion", 1, err, errlen) == -1 ||
	    jstr(md, "continue", pg->lp_continue, sizeof(pg->lp_continue), "list continue", 0,
	    err, errlen) == -1)
		goto out;
	if ((le.le_o = malloc(sizeof(*le.le_o))) == NULL) {
		errf(err, errlen, "out of memory");
		goto out;
	}
	lr.lr_off = items_at;
	if (lr_items(&lr, list_item, &le) == -1)	/* parsed once already: memory only */
		goto out;
	rc = KUBE_PARSE_OK;
out:
	free(le.le_o);
	return jdone(j, rc);
}

void
kube_status_message(const char *body, size_t n, char *out, size_t cap)
{
	json_t *j, *m;

	out[0] = '\0';
	if ((j = json_loadb(body, n, 0, NULL)) == NULL)
		return;
	m = json_object_get(j, "message");
	if (json_is_string(m))
		text_clean(out, cap, json_string_value(m), strlen(json_string_value(m)));
	json_decref(j);
}

/* ---- TokenReview ---------------------------------------------------------- */

/* "system:serviceaccount:NS:NAME" into the review. */
static void
review_user(struct kube_review *r, const char *user)
{
	const char *ns, *colon;
	size_t plen = strlen(SA_USER_PREFIX);

	if (strncmp(user, SA_USER_PREFIX, plen) != 0)
		return;
	ns = user + plen;
	if ((colon = strchr(ns, ':')) == NULL || colon == ns || colon[1] == '\0' ||
	    (size_t)(colon - ns) > KUBE_NAMESPACE_MAX || strlen(colon + 1) > KUBE_NAME_MAX ||
	    strchr(colon + 1, ':') != NULL)
		return;
	snprintf(r->kr_namespace, sizeof(r->kr_namespace), "%.*s", (int)(colon - ns), ns);
	snprintf(r->kr_sa, sizeof(r->kr_sa), "%s", colon + 1);
	r->kr_is_sa = 1;
}

/* extra[key]: a list of one string (the API's shape), or nothing. */
static int
review_extra(const json_t *extra, const char *key, char *dst, size_t cap, char *err,
    size_t errlen)
{
	json_t *v = extra != NULL ? json_object_get(extra, key) : NULL;
	json_t *holder;
	int rc;

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) != 1) {
		errf(err, errlen, "status.user.extra %s: not a list of one", key);
		return -1;
	}
	if ((holder = json_pack("{sO}", "v", json_array_get(v, 0))) == NULL) {
		errf(err, errlen, "out of memory");
		return -1;
	}
	rc = jstr(holder, "v", dst, cap, key, 1, err, errlen);
	json_decref(holder);
	return rc;
}

int
kube_review_parse(const char *body, size_t n, const char *audience, struct kube_review *r,
    char *err, size_t errlen)
{
	char user[KUBE_USERNAME_MAX + 1];
	json_t *j, *st, *u, *auds, *a, *extra;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((j = jload(body, n, "TokenReview", err, errlen)) == NULL)
		return -1;
	if (!json_is_string(json_object_get(j, "kind")) ||
	    strcmp(json_string_value(json_object_get(j, "kind")), "TokenReview") != 0 ||
	    (st = jobj(j, "status")) == NULL) {
		errf(err, errlen, "not a TokenReview with a status");
		goto out;
	}
	a = json_object_get(st, "authenticated");
	if (a != NULL && !json_is_boolean(a)) {
		errf(err, errlen, "status.authenticated is not a boolean");
		goto out;
	}
	r->kr_authenticated = json_is_true(a);
	if (json_is_string(json_object_get(st, "error")))
		text_clean(r->kr_error, sizeof(r->kr_error),
		    json_string_value(json_object_get(st, "error")),
		    strlen(json_string_value(json_object_get(st, "error"))));
	u = jobj(st, "user");
	if (jstr(u, "username", user, sizeof(user), "status.user.username", 0, err,
	    errlen) == -1)
		goto out;
	review_user(r, user);
	extra = jobj(u, "extra");
	if (review_extra(extra, EXTRA_POD_NAME, r->kr_pod_name, sizeof(r->kr_pod_name), err,
	    errlen) == -1 ||
	    review_extra(extra, EXTRA_POD_UID, r->kr_pod_uid, sizeof(r->kr_pod_uid), err,
	    errlen) == -1)
		goto out;
	auds = json_object_get(st, "audiences");
	for (i = 0; json_is_array(auds) && i < json_array_size(auds) &&
	    i < KUBE_AUDIENCES_MAX; i++)
		if (json_is_string(json_array_get(auds, i)) && audience != NULL &&
		    strcmp(json_string_value(json_array_get(auds, i)), audience) == 0)
			r->kr_audience_ok = 1;
	rc = 0;
out:
	return jdone(j, rc);
}

/* ---- lines ---------------------------------------------------------------- */

void
kube_lines_init(struct kube_lines *l, size_t max)
{
	l->kl_buf = (struct sbuf)SBUF_GROWN(max);
	l->kl_max = max;
}

void
kube_lines_reset(struct kube_lines *l)
{
	sbuf_free(&l->kl_buf);
}

void
kube_lines_free(struct kube_lines *l)
{
	sbuf_free(&l->kl_buf);
}

/* One complete line s[0..n) (a CR before the LF dropped; empty lines skipped). */
static int
lines_emit(const char *s, size_t n, int (*line)(void *, const char *, size_t), void *arg)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	return n == 0 ? 0 : line(arg, s, n);
}

int
kube_lines_feed(struct kube_lines *l, const char *p, size_t n,
    int (*line)(void *arg, const char *s, size_t len), void *arg, char *err, size_t errlen)
{
	const char *nl;
	size_t seg;
	int rc;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		seg = nl != NULL ? (size_t)(nl - p) : n;
		if (l->kl_buf.sb_len + seg > l->kl_max) {
			errf(err, errlen, "a watch event line over %zu bytes", l->kl_max);
			sbuf_free(&l->kl_buf);
			return -1;
		}
		if (nl == NULL) {	/* a partial line: keep it for the next piece */
			sbuf_put(&l->kl_buf, p, seg);
			if (l->kl_buf.sb_full) {
				errf(err, errlen, "out of memory for a watch line");
				sbuf_free(&l->kl_buf);
				return -1;
			}
			return 0;
		}
		if (l->kl_buf.sb_len == 0)
			rc = lines_emit(p, seg, line, arg);
		else {
			sbuf_put(&l->kl_buf, p, seg);
			rc = l->kl_buf.sb_full ? -1 : lines_emit(l->kl_buf.sb_p,
			    l->kl_buf.sb_len, line, arg);
			sbuf_free(&l->kl_buf);
		}
		if (rc == -1) {
			errf(err, errlen, "watch line handler stopped the stream");
			return -1;
		}
		p += seg + 1;
		n -= seg + 1;
	}
	return 0;
}
