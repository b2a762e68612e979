/*
 * node.c: the node's pods, followed through the Kubernetes API, and the
 * role each is served (the part of pods/ that is not pure).
 *
 * Three reflectors (kube/): the pods of this node (field selector
 * spec.nodeName), the service accounts those pods use (ro_want: memory
 * grows with what the node uses, not with the cluster; one a pod names
 * that is not known yet is read with kube_get_serviceaccount), and, with
 * --namespace-restrictions, the namespaces.  Every change recomputes the
 * role of the pods it touches (pods_choose), updates the address table
 * (pods_table_update, _remove: its rules keep an address that changed
 * owner from ever serving the old pod's role to the new one) and moves the
 * role's users: the new role is acquired first (creds/assumed.c: its
 * credentials are fetched right then, before the pod's first request), the
 * old one released.  Every change wakes the requests waiting for a caller
 * (http_wake).
 *
 * A pod record keeps what `ctl pods` shows, compactly: its strings in one
 * allocation, its addresses, a pointer to its role (the ARN is the role's),
 * its source and reason.  A pod that names no role by annotation, whose
 * service account is not known yet, is "waiting": its requests wait as an
 * unknown address's do, rather than being served a role that its service
 * account may be about to replace.
 *
 * The request path (pods_node_who) does one hash lookup in the address
 * table, and for an address no pod owns, a scan of the host's own
 * addresses (host.c: at most POD_HOST_ADDRS_MAX, read again when the
 * kernel says they changed, off the request path).  Events look records up by a linear
 * scan: they are not the request path, and a node has some hundred pods.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pods/pods.h"
#include "creds/creds.h"
#include "http/http.h"
#include "kube/kube.h"

#define PN_CAP_INIT		16	/* first allocation of a record table */
#define PN_SA_RETRY_S		5	/* s before a service account GET that got no answer is tried again */
#define PN_HOST_NAME_MAX	256	/* bytes of the host name (the default node name) */
#define POD_REASON_BUCKETS	64	/* hash buckets of the pods' shared reasons */

/* A service account the node's pods use. */
struct pn_sa {
	char		*sa_ns;		/* malloc'd: "ns\0name\0" */
	const char	*sa_name;
	char		*sa_arn;	/* eks.amazonaws.com/role-arn, malloc'd; NULL: none */
	unsigned	 sa_users;	/* pods naming it */
	int		 sa_known;	/* its state came (list, watch, GET; absent counts) */
	struct kube_call *sa_call;	/* a GET in flight */
	time_t		 sa_retry;	/* a GET to try again then; 0: none due */
};

/* One pod of the node. */
struct pn_pod {
	char		*pp_uid;	/* malloc'd: "uid\0ns\0name\0sa\0role\0external-id\0" */
	const char	*pp_ns, *pp_name, *pp_sa, *pp_role, *pp_ext;
	struct pod_addr	 pp_addrs[POD_ADDRS_PER_POD];
	unsigned char	 pp_naddrs;
	unsigned char	 pp_finished;	/* Succeeded or Failed: no role, no address */
	unsigned char	 pp_host_network;
	unsigned char	 pp_waiting;	/* its service account (or namespace) is not known yet */
	unsigned char	 pp_source;	/* enum pod_source */
	struct pn_sa	*pp_sa_ref;	/* the account it counts on, or NULL */
	struct assumed	*pp_assumed;	/* its role, or NULL */
	struct pn_reason *pp_reason;	/* shared, or NULL */
};

/*
 * Why a pod has its role, or none: the same text for most pods of a node
 * (one annotation, one service account), so kept once and counted.
 */
struct pn_reason {
	struct pn_reason *re_next;	/* in its bucket */
	unsigned	 re_users;
	char		 re_text[];
};

static struct {
	struct pods_node_cfg cfg;
	struct pod_table *table;
	struct pn_pod	**pods;
	size_t		 npods, capp;
	struct pn_sa	**sas;
	size_t		 nsas, capsa;
	struct pod_ns	**nss;
	size_t		 nnss, capns;
	struct pn_reason *reasons[POD_REASON_BUCKETS];
	int		 ns_synced;	/* the namespaces' first list is in */
	struct kube_client *client;
	struct kube_reflector *refl[3];	/* pods, service accounts, namespaces */
	char		 node[KUBE_NAME_MAX + 1];
	char		 cluster[POD_CLUSTER_NAME_MAX + 1];	/* session tags' cluster name */
	int		 full_logged;	/* the table's POD_TABLE_PODS_MAX was logged */
	struct pods_node_stats stats;
} pn;

/* ---- small tables --------------------------------------------------------- */

/* Room for one more pointer in *tab.  0 / -1. */
static int
room(void *tabp, size_t n, size_t *cap, size_t max)
{
	void **tab = *(void ***)tabp, **grown;

	if (n < *cap)
		return 0;
	if ((grown = array_grow(tab, cap, sizeof(*grown), PN_CAP_INIT, max)) == NULL)
		return -1;
	*(void ***)tabp = grown;
	return 0;
}

/* Take x out of the pointer table tab of *n (the last entry moves to its place). */
static void
tab_remove_ptr(void **tab, size_t *n, const void *x)
{
	size_t i;

	for (i = 0; i < *n && tab[i] != x; i++)
		;
	if (i < *n)
		tab[i] = tab[--*n];
}
#define tab_remove(tab, n, x)	tab_remove_ptr((void **)(tab), (n), (x))

static struct pn_pod *
pod_find(const char *uid)
{
	size_t i;

	for (i = 0; i < pn.npods; i++)
		if (strcmp(pn.pods[i]->pp_uid, uid) == 0)
			return pn.pods[i];
	return NULL;
}

static struct pn_sa *
sa_find(const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < pn.nsas; i++)
		if (strcmp(pn.sas[i]->sa_ns, ns) == 0 && strcmp(pn.sas[i]->sa_name, name) == 0)
			return pn.sas[i];
	return NULL;
}

static struct pod_ns *
ns_find(const char *name)
{
	size_t i;

	for (i = 0; i < pn.nnss; i++)
		if (strcmp(pn.nss[i]->pn_name, name) == 0)
			return pn.nss[i];
	return NULL;
}

/* s, or NULL when empty (pods.h's "absent"). */
static struct pod_text
text_of(const char *s)
{
	struct pod_text t = { NULL, 0 };

	if (s != NULL && *s != '\0') {
		t.p = s;
		t.len = strlen(s);
	}
	return t;
}

/* Replace *dst by a copy of src (NULL or "": none).  0 / -1. */
static int
set_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src != NULL && *src != '\0' && (c = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

/* ---- service accounts ----------------------------------------------------- */

static void	 sa_get(struct pn_sa *sa, time_t now);
static void	 sa_free(struct pn_sa *sa);
static void	 pods_of_sa(const struct pn_sa *sa, time_t now);

static void
sa_got(void *arg, const struct kube_sa *ksa, long status, const char *err)
{
	struct pn_sa *sa = arg;

	sa->sa_call = NULL;
	if (sa->sa_users == 0) {
		sa_free(sa);	/* its last pod left while it was read */
		return;
	}
	if (ksa == NULL && status != 404) {
		log_warn("service account %s/%s: %s; trying again in %d s", sa->sa_ns,
		    sa->sa_name, err != NULL ? err : "no answer", PN_SA_RETRY_S);
		sa->sa_retry = time(NULL) + PN_SA_RETRY_S;
		return;
	}
	if (ksa != NULL && set_str(&sa->sa_arn, ksa->ks_role_arn) == -1)
		log_err("service account %s/%s: out of memory", sa->sa_ns, sa->sa_name);
	sa->sa_known = 1;
	pn.stats.ps_sa_gets++;
	pods_of_sa(sa, time(NULL));
}

/* Read sa now (a pod names it and the watch has not told of it). */
static void
sa_get(struct pn_sa *sa, time_t now)
{
	char err[ERRBUF_LEN];

	sa->sa_retry = 0;
	if (pn.client == NULL || sa->sa_call != NULL || sa->sa_known)
		return;
	if (kube_get_serviceaccount(pn.client, sa->sa_ns, sa->sa_name, sa_got, sa, &sa->sa_call,
	    err, sizeof(err)) == -1) {
		log_warn("service account %s/%s: %s; trying again in %d s", sa->sa_ns, sa->sa_name,
		    err, PN_SA_RETRY_S);
		sa->sa_retry = now + PN_SA_RETRY_S;
	}
}

/* One more pod uses ns/name: its entry, made (and read) on first use; NULL when out of memory. */
static struct pn_sa *
sa_hold(const char *ns, const char *name, time_t now)
{
	struct pn_sa *sa = sa_find(ns, name);
	size_t nl = strlen(ns) + 1, ml = strlen(name) + 1;

	if (sa == NULL) {
		if (room(&pn.sas, pn.nsas, &pn.capsa, POD_TABLE_PODS_MAX) == -1 ||
		    (sa = calloc(1, sizeof(*sa))) == NULL)
			return NULL;
		if ((sa->sa_ns = malloc(nl + ml)) == NULL) {
			free(sa);
			return NULL;
		}
		memcpy(sa->sa_ns, ns, nl);
		memcpy(sa->sa_ns + nl, name, ml);
		sa->sa_name = sa->sa_ns + nl;
		pn.sas[pn.nsas++] = sa;
		sa_get(sa, now);
	}
	sa->sa_users++;
	return sa;
}

/* Forget sa (its GET, if any, cancelled: not from a reflector's callback). */
static void
sa_free(struct pn_sa *sa)
{

	tab_remove(pn.sas, &pn.nsas, sa);
	if (sa->sa_call != NULL)
		kube_call_cancel(sa->sa_call);
	free(sa->sa_arn);
	free(sa->sa_ns);
	free(sa);
}

/*
 * One pod fewer uses sa: forgotten with the last, or, with a GET in flight
 * (a reflector's callback may not cancel it), when its answer comes.
 */
static void
sa_drop(struct pn_sa *sa)
{
	if (sa != NULL && --sa->sa_users == 0 && sa->sa_call == NULL)
		sa_free(sa);
}

/* ---- the role of a pod ---------------------------------------------------- */

static struct pn_reason **
reason_slot(const char *why)
{
	struct pn_reason **pp;

	for (pp = &pn.reasons[str_hash(why) % POD_REASON_BUCKETS]; *pp != NULL;
	    pp = &(*pp)->re_next)
		if (strcmp((*pp)->re_text, why) == 0)
			break;
	return pp;
}

/* One pod fewer gives r as its reason (r may be NULL): forgotten with the last. */
static void
reason_put(struct pn_reason *r)
{
	struct pn_reason **pp;

	if (r == NULL || --r->re_users > 0)
		return;
	pp = reason_slot(r->re_text);
	*pp = r->re_next;
	free(r);
}

/* A pod's reason ("" none), changed only when it did; out of memory, the old one stays. */
static void
pod_reason(struct pn_pod *p, const char *why)
{
	struct pn_reason **pp, *r = NULL;
	size_t n = strlen(why);

	if (p->pp_reason != NULL ? strcmp(p->pp_reason->re_text, why) == 0 : n == 0)
		return;
	if (n > 0) {
		if ((r = *(pp = reason_slot(why))) == NULL) {
			if ((r = malloc(sizeof(*r) + n + 1)) == NULL)
				return;
			r->re_next = NULL;
			r->re_users = 0;
			memcpy(r->re_text, why, n + 1);
			*pp = r;
		}
		r->re_users++;
	}
	reason_put(p->pp_reason);
	p->pp_reason = r;
}

/* Choose p's role again and move its use of roles. */
static void
pod_recompute(struct pn_pod *p, time_t now)
{
	static struct pod_role pr;	/* 2.5 KB: not on the stack of a watch callback */
	const struct pod_rules *rules = pn.cfg.pn_rules != NULL ? *pn.cfg.pn_rules : NULL;
	const struct pod_opts *o = pn.cfg.pn_opts;
	struct assumed *a = NULL, *old = p->pp_assumed;
	struct pod_facts f;
	int waits_sa, waits_ns;
	char err[ERRBUF_LEN];

	memset(&pr, 0, sizeof(pr));
	/*
	 * What its role depends on and is not known yet (its service account;
	 * with restrictions, its namespace, whose event may come after the
	 * pod's): it waits, as an unknown address does, rather than being
	 * refused or served a role about to change.
	 */
	waits_sa = p->pp_role[0] == '\0' && p->pp_sa_ref != NULL && !p->pp_sa_ref->sa_known;
	waits_ns = o->po_restrict && !p->pp_host_network && ns_find(p->pp_ns) == NULL;
	p->pp_waiting = !p->pp_finished && (waits_sa || waits_ns);
	if (p->pp_finished || p->pp_waiting) {
		pr.pr_source = POD_SRC_NONE;
		snprintf(pr.pr_reason, sizeof(pr.pr_reason), "%s", p->pp_finished ?
		    "the pod has finished" : waits_sa ? "waiting for its service account" :
		    "waiting for its namespace");
	} else {
		memset(&f, 0, sizeof(f));
		f.pf_namespace = text_of(p->pp_ns);
		f.pf_name = text_of(p->pp_name);
		f.pf_sa = text_of(p->pp_sa);
		f.pf_role = text_of(p->pp_role);
		f.pf_external_id = text_of(p->pp_ext);
		f.pf_sa_role_arn = text_of(p->pp_sa_ref != NULL ? p->pp_sa_ref->sa_arn : NULL);
		pods_choose(o, rules, o->po_restrict ? ns_find(p->pp_ns) : NULL, &f, &pr);
	}
	if (pr.pr_arn[0] != '\0' && (a = assumed_acquire(pr.pr_arn, pr.pr_external_id, now, err,
	    sizeof(err))) == NULL) {
		pr.pr_source = POD_SRC_REFUSED;
		snprintf(pr.pr_reason, sizeof(pr.pr_reason), "role %.150s: %.90s", pr.pr_arn,
		    err);
	}
	p->pp_assumed = a;
	assumed_release(old, now);	/* after: a role kept is not left to linger */
	if (a != old || p->pp_source != pr.pr_source) {
		if (a != NULL)
			log_info("pod %s/%s: role %s (%s)", p->pp_ns, p->pp_name, assumed_arn(a),
			    pods_source_name(pr.pr_source));
		else if (pr.pr_source == POD_SRC_REFUSED)
			log_warn("pod %s/%s: no role: %s", p->pp_ns, p->pp_name, pr.pr_reason);
		else
			log_info("pod %s/%s: no role (%s)", p->pp_ns, p->pp_name, pr.pr_reason);
		pn.stats.ps_role_changes++;
	}
	p->pp_source = (unsigned char)pr.pr_source;
	pod_reason(p, pr.pr_reason);
	if (pn.cfg.pn_changed != NULL)
		pn.cfg.pn_changed(p->pp_uid);	/* Pod Identity chooses again too */
}

/* Every pod using sa, again. */
static void
pods_of_sa(const struct pn_sa *sa, time_t now)
{
	size_t i;

	for (i = 0; i < pn.npods; i++)
		if (pn.pods[i]->pp_sa_ref == sa)
			pod_recompute(pn.pods[i], now);
	http_wake();
}

/* Every pod of namespace ns (NULL: every pod), again. */
static void
pods_of_ns(const char *ns, time_t now)
{
	size_t i;

	for (i = 0; i < pn.npods; i++)
		if (ns == NULL || strcmp(pn.pods[i]->pp_ns, ns) == 0)
			pod_recompute(pn.pods[i], now);
	http_wake();
}

/* ---- pods ----------------------------------------------------------------- */

/* The strings of kp into p (one allocation).  0 / -1. */
static int
pod_strings(struct pn_pod *p, const struct kube_pod *kp)
{
	const char *src[6] = { kp->kp_meta.km_uid, kp->kp_meta.km_namespace,
	    kp->kp_meta.km_name, kp->kp_sa, kp->kp_role, kp->kp_external_id };
	const char **dst[6] = { NULL, &p->pp_ns, &p->pp_name, &p->pp_sa, &p->pp_role,
	    &p->pp_ext };
	size_t len[6], total = 0, i, off = 0;
	char *buf;

	for (i = 0; i < 6; i++)
		total += (len[i] = strlen(src[i])) + 1;
	if ((buf = malloc(total)) == NULL)
		return -1;
	for (i = 0; i < 6; i++) {
		memcpy(buf + off, src[i], len[i] + 1);
		if (dst[i] != NULL)
			*dst[i] = buf + off;
		off += len[i] + 1;
	}
	free(p->pp_uid);
	p->pp_uid = buf;
	return 0;
}

/* kp's addresses into p (text that does not parse is skipped). */
static void
pod_addrs(struct pn_pod *p, const struct kube_pod *kp)
{
	struct pod_addr *a;
	size_t i;

	p->pp_naddrs = 0;
	for (i = 0; i < kp->kp_nips && i < POD_ADDRS_PER_POD; i++) {
		a = &p->pp_addrs[p->pp_naddrs];
		memset(a, 0, sizeof(*a));
		if (inet_pton(AF_INET, kp->kp_ips[i], a->pa_addr) == 1)
			a->pa_family = AF_INET;
		else if (inet_pton(AF_INET6, kp->kp_ips[i], a->pa_addr) == 1)
			a->pa_family = AF_INET6;
		else
			continue;
		p->pp_naddrs++;
	}
}

static void
pod_free(struct pn_pod *p, time_t now)
{
	assumed_release(p->pp_assumed, now);
	sa_drop(p->pp_sa_ref);
	reason_put(p->pp_reason);
	free(p->pp_uid);
	free(p);
}

static void
pod_upsert(const struct kube_pod *kp, time_t now)
{
	struct pn_pod *p = pod_find(kp->kp_meta.km_uid);
	int fresh = p == NULL;
	struct pod_state ps;
	struct pn_sa *sa = NULL;
	size_t i;

	if (kp->kp_meta.km_uid[0] == '\0' || strlen(kp->kp_meta.km_uid) > POD_UID_MAX) {
		log_warn("pod %s/%s: no usable metadata.uid: not served", kp->kp_meta.km_namespace,
		    kp->kp_meta.km_name);
		return;
	}
	if (fresh && (room(&pn.pods, pn.npods, &pn.capp, POD_TABLE_PODS_MAX) == -1 ||
	    (p = calloc(1, sizeof(*p))) == NULL)) {
		log_err("pod %s/%s: out of memory", kp->kp_meta.km_namespace, kp->kp_meta.km_name);
		return;
	}
	if (pod_strings(p, kp) == -1) {
		log_err("pod %s/%s: out of memory", kp->kp_meta.km_namespace, kp->kp_meta.km_name);
		if (fresh)
			free(p);
		return;
	}
	pod_addrs(p, kp);
	p->pp_finished = strcmp(kp->kp_phase, "Succeeded") == 0 ||
	    strcmp(kp->kp_phase, "Failed") == 0;
	p->pp_host_network = kp->kp_host_network != 0;
	memset(&ps, 0, sizeof(ps));
	ps.ps_uid = p->pp_uid;
	ps.ps_host_network = p->pp_host_network;
	ps.ps_finished = p->pp_finished;
	ps.ps_deleting = kp->kp_deleting;
	for (i = 0; i < p->pp_naddrs; i++)
		ps.ps_addrs[i] = p->pp_addrs[i];
	ps.ps_naddrs = p->pp_naddrs;
	ps.ps_user = p;
	if (pods_table_update(pn.table, &ps) == -1) {
		if (!pn.full_logged)
			log_err("pod %s/%s: more than %d pods on this node: not served", p->pp_ns,
			    p->pp_name, POD_TABLE_PODS_MAX);
		pn.full_logged = 1;
		if (fresh) {
			free(p->pp_uid);
			free(p);
		}
		return;
	}
	if (fresh)
		pn.pods[pn.npods++] = p;
	/*
	 * the account it names (a hostNetwork pod is the node for IMDS: it needs
	 * none, unless Pod Identity serves it by its token)
	 */
	if (p->pp_sa[0] != '\0' && (!p->pp_host_network || pn.cfg.pn_changed != NULL) &&
	    (sa = sa_hold(p->pp_ns, p->pp_sa, now)) == NULL)
		log_err("pod %s/%s: out of memory", p->pp_ns, p->pp_name);
	sa_drop(p->pp_sa_ref);
	p->pp_sa_ref = sa;
	pod_recompute(p, now);
	http_wake();
}

static void
pod_delete(const char *uid, time_t now)
{
	struct pn_pod *p = pod_find(uid);

	if (p == NULL)
		return;
	pods_table_remove(pn.table, uid);
	tab_remove(pn.pods, &pn.npods, p);
	log_info("pod %s/%s: gone", p->pp_ns, p->pp_name);
	if (pn.cfg.pn_gone != NULL)
		pn.cfg.pn_gone(uid);	/* Pod Identity's verdicts of the pod */
	assumed_owner_gone(uid);	/* its session-tagged roles go once unused */
	pod_free(p, now);
	http_wake();
}

/* ---- namespaces ----------------------------------------------------------- */

static void
ns_upsert(const struct kube_namespace *kn, time_t now)
{
	const char *name = kn->kn_meta.km_name;
	struct pod_ns *np = ns_find(name);

	if (np == NULL) {
		if (room(&pn.nss, pn.nnss, &pn.capns, KUBE_STORE_MAX) == -1 ||
		    (np = calloc(1, sizeof(*np))) == NULL) {
			log_err("namespace %s: out of memory", name);
			return;
		}
		pn.nss[pn.nnss++] = np;
	}
	if (pods_ns_set(np, pn.cfg.pn_opts, name, strlen(name),
	    kn->kn_has_allowed ? kn->kn_allowed_roles : NULL, strlen(kn->kn_allowed_roles),
	    kn->kn_has_permitted ? kn->kn_permitted : NULL, strlen(kn->kn_permitted)) == -1)
		log_err("namespace %s: out of memory: it allows no role", name);
	pods_of_ns(name, now);
}

static void
ns_delete(const char *name, time_t now)
{
	struct pod_ns *np = ns_find(name);

	if (np == NULL)
		return;
	tab_remove(pn.nss, &pn.nnss, np);
	pods_ns_free(np);
	free(np);
	pods_of_ns(name, now);
}

/* ---- what the reflectors tell --------------------------------------------- */

void
pods_node_upsert(void *arg, const struct kube_object *o)
{
	time_t now = time(NULL);
	struct pn_sa *sa;

	(void)arg;
	switch (o->ob_kind) {
	case KUBE_POD:
		pod_upsert(&o->ob_pod, now);
		break;
	case KUBE_NAMESPACE:
		ns_upsert(&o->ob_ns, now);
		break;
	case KUBE_SERVICEACCOUNT:
		if ((sa = sa_find(o->ob_sa.ks_meta.km_namespace, o->ob_sa.ks_meta.km_name)) == NULL)
			break;
		sa->sa_known = 1;
		if (set_str(&sa->sa_arn, o->ob_sa.ks_role_arn) == -1)
			log_err("service account %s/%s: out of memory", sa->sa_ns, sa->sa_name);
		pods_of_sa(sa, now);
		break;
	}
}

void
pods_node_delete(void *arg, const struct kube_object *o)
{
	const struct kube_meta *m = kube_object_meta((struct kube_object *)o);
	time_t now = time(NULL);
	struct pn_sa *sa;

	(void)arg;
	switch (o->ob_kind) {
	case KUBE_POD:
		pod_delete(m->km_uid, now);
		break;
	case KUBE_NAMESPACE:
		ns_delete(m->km_name, now);
		break;
	case KUBE_SERVICEACCOUNT:
		if ((sa = sa_find(m->km_namespace, m->km_name)) == NULL)
			break;
		sa->sa_known = 1;
		(void)set_str(&sa->sa_arn, NULL);
		pods_of_sa(sa, now);
		break;
	}
}

int
pods_node_want(void *arg, const struct kube_object *o)
{
	const struct kube_meta *m = kube_object_meta((struct kube_object *)o);

	(void)arg;
	return o->ob_kind != KUBE_SERVICEACCOUNT || sa_find(m->km_namespace, m->km_name) != NULL;
}

static void
ns_synced(void *arg)
{
	(void)arg;
	if (!pn.ns_synced)
		log_info("namespaces: %zu known", pn.nnss);
	pn.ns_synced = 1;
}

static void
pods_synced(void *arg)
{
	(void)arg;
	log_info("pods of node %s: %zu tracked, %zu addresses", pn.node, pn.npods,
	    pods_table_addrs(pn.table));
}

static void
sas_synced(void *arg)
{
	(void)arg;
}

/* ---- the request path ----------------------------------------------------- */

enum role_who
pods_node_who(void *arg, const struct http_peer *pe, const struct role **r)
{
	const struct pn_pod *p;

	(void)arg;
	*r = NULL;
	if (pn.table != NULL &&
	    (p = pods_table_lookup(pn.table, pe->pe_family, pe->pe_addr)) != NULL) {
		if (p->pp_waiting)
			return WHO_UNKNOWN;
		*r = p->pp_assumed != NULL ? assumed_role(p->pp_assumed) : NULL;
		return WHO_ROLE;
	}
	return pods_host_has(pe) ? WHO_NODE : WHO_UNKNOWN;
}

/* ---- EKS Pod Identity ----------------------------------------------------- */

/*
 * The pod's own role with EKS's session tags (pods_node_identity).  1 with
 * *a, -2 refused (why).
 */
static int
identity_tagged(const struct pod_role *pr, const char *uid, const char *name, const char *ns,
    const char *sa, time_t now, struct assumed **a, char *why, size_t whylen)
{
	static struct assume_tags tags;	/* 3 KB: off the stack */
	char arn[POD_CLUSTER_ARN_MAX], session[STS_SESSION_NAME_MAX + 1],
	    uuid[POD_UUID_LEN + 1], who[ASSUMED_WHO_MAX], err[ERRBUF_LEN];
	struct pod_tag_facts f = { arn, pn.cluster, ns, sa, name, uid };
	struct assumed_how how = { &tags, session, who, uid };

	if (pods_cluster_arn(pr->pr_arn, pn.cfg.pn_region != NULL ? pn.cfg.pn_region : "",
	    pn.cluster, arn, sizeof(arn)) == -1) {
		snprintf(why, whylen, "role %.300s: no cluster ARN for its session tags",
		    pr->pr_arn);
		return POD_IDENTITY_REFUSED;
	}
	if (pods_session_tags(&f, &tags, err, sizeof(err)) == -1) {
		snprintf(why, whylen, "pod %s/%s: %.300s", ns, name, err);
		return POD_IDENTITY_REFUSED;
	}
	uuid4_text(uuid);
	pods_session_name(pn.cluster, name, uuid, session, sizeof(session));
	snprintf(who, sizeof(who), "pod %s/%s (EKS Pod Identity, session tags)", ns,
	    *name != '\0' ? name : uid);
	if ((*a = assumed_acquire_as(pr->pr_arn, pr->pr_external_id, &how, now, err,
	    sizeof(err))) == NULL) {
		snprintf(why, whylen, "role %.300s: %.150s", pr->pr_arn, err);
		return POD_IDENTITY_REFUSED;
	}
	return POD_IDENTITY_ROLE;
}

int
pods_node_identity(const char *uid, const char *name, const char *ns, const char *sa,
    time_t now, struct assumed **a, char *why, size_t whylen)
{
	static struct pod_role pr;	/* 2.5 KB: off the stack */
	const struct pod_rules *rules = pn.cfg.pn_rules != NULL ? *pn.cfg.pn_rules : NULL;
	const struct pod_opts *o = pn.cfg.pn_opts;
	const struct pn_pod *p = pod_find(uid);
	const struct pn_sa *s = sa_find(ns, sa);
	const struct pod_assoc *assoc;
	struct pod_facts f;
	char err[ERRBUF_LEN];

	*a = NULL;
	memset(&f, 0, sizeof(f));
	f.pf_namespace = text_of(ns);
	f.pf_sa = text_of(sa);
	if (p != NULL) {
		f.pf_name = text_of(p->pp_name);
		name = p->pp_name;	/* the watch's, as the review's */
		if (p->pp_finished) {
			snprintf(why, whylen, "pod %s/%s: no role: the pod has finished", ns,
			    p->pp_name);
			return POD_IDENTITY_NONE;
		}
	}
	if (name == NULL)
		name = "";
	/* an association first; else the rest as pods_choose does */
	assoc = pods_rules_assoc_get(rules, ns, strlen(ns), sa, strlen(sa));
	if (assoc == NULL) {
		if (p != NULL && p->pp_waiting)
			return POD_IDENTITY_WAIT;
		if (p != NULL) {
			f.pf_role = text_of(p->pp_role);
			f.pf_external_id = text_of(p->pp_ext);
		}
		f.pf_sa_role_arn = text_of(s != NULL ? s->sa_arn : NULL);
	}
	pods_choose(o, rules, o != NULL && o->po_restrict ? ns_find(ns) : NULL, &f, &pr);
	if (pr.pr_source == POD_SRC_REFUSED) {
		snprintf(why, whylen, "pod %s/%s: %s", ns, p != NULL ? p->pp_name : "-",
		    pr.pr_reason);
		return POD_IDENTITY_REFUSED;
	}
	if (pr.pr_arn[0] == '\0') {
		snprintf(why, whylen, "no role for service account %s/%s: %s", ns, sa,
		    pr.pr_reason);
		return POD_IDENTITY_NONE;
	}
	/* EKS's session tags unless the association turns them off (disableSessionTags) */
	if (pn.cfg.pn_session_tags && (assoc == NULL || !assoc->pa_no_tags))
		return identity_tagged(&pr, uid, name, ns, sa, now, a, why, whylen);
	if ((*a = assumed_acquire(pr.pr_arn, pr.pr_external_id, now, err, sizeof(err))) == NULL) {
		snprintf(why, whylen, "role %.300s: %.150s", pr.pr_arn, err);
		return POD_IDENTITY_REFUSED;
	}
	return POD_IDENTITY_ROLE;
}

struct kube_client *
pods_node_client(void)
{
	return pn.client;
}

/* ---- the tick, the listing ------------------------------------------------ */

IDLE_PATH void
pods_node_tick(time_t now)
{
	size_t i;

	pods_host_tick();
	for (i = 0; i < pn.nsas; i++)
		if (pn.sas[i]->sa_retry != 0 && pn.sas[i]->sa_retry <= now)
			sa_get(pn.sas[i], now);
}

void
pods_node_rules_changed(void)
{
	pods_of_ns(NULL, time(NULL));
}

void
pods_node_each(void (*fn)(void *arg, const struct pod_info *pi), void *arg)
{
	const struct role *r;
	struct pod_info pi;
	struct pn_pod *p;
	size_t i;

	for (i = 0; i < pn.npods; i++) {
		p = pn.pods[i];
		memset(&pi, 0, sizeof(pi));
		pi.pi_namespace = p->pp_ns;
		pi.pi_name = p->pp_name;
		pi.pi_uid = p->pp_uid;
		pi.pi_addrs = p->pp_addrs;
		pi.pi_naddrs = p->pp_naddrs;
		pi.pi_source = p->pp_host_network ? POD_SRC_NONE : (enum pod_source)p->pp_source;
		pi.pi_reason = p->pp_host_network ? "hostNetwork: the node's role" :
		    p->pp_reason != NULL ? p->pp_reason->re_text : "";
		pi.pi_host_network = p->pp_host_network;
		if (p->pp_assumed != NULL) {
			r = assumed_role(p->pp_assumed);
			pi.pi_arn = assumed_arn(p->pp_assumed);
			pi.pi_served = r->ro_cache.cc_have;
			pi.pi_expiration = r->ro_cache.cc_have ? r->ro_cache.cc_cur.ck_expiration : 0;
			pi.pi_error = r->ro_cache.cc_have ? "" : cred_cache_error(&r->ro_cache);
		}
		fn(arg, &pi);
	}
}

void
pods_node_users(void *arg, const struct assumed *a, char *buf, size_t len)
{
	size_t i, off = 0;
	int n;

	(void)arg;
	buf[0] = '\0';
	for (i = 0; i < pn.npods && off < len; i++) {
		if (pn.pods[i]->pp_assumed != a)
			continue;
		n = snprintf(buf + off, len - off, "%s%s/%s", off == 0 ? "pods " : ", ",
		    pn.pods[i]->pp_ns, pn.pods[i]->pp_name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

IDLE_PATH const struct pods_node_stats *
pods_node_stats(void)
{
	size_t i;

	pn.stats.ps_pods = pn.npods;
	pn.stats.ps_addrs = pn.table != NULL ? pods_table_addrs(pn.table) : 0;
	pn.stats.ps_sas = pn.nsas;
	pn.stats.ps_namespaces = pn.nnss;
	pn.stats.ps_watch_restarts = 0;
	for (i = 0; i < 3; i++)
		if (pn.refl[i] != NULL)
			pn.stats.ps_watch_restarts += kube_reflector_stats(pn.refl[i])->ks_watch_restarts;
	return &pn.stats;
}

/* ---- start, stop ---------------------------------------------------------- */

int
pods_node_init(const struct pods_node_cfg *cfg, char *err, size_t errlen)
{
	memset(&pn, 0, sizeof(pn));
	pn.cfg = *cfg;
	snprintf(pn.cluster, sizeof(pn.cluster), "%s", cfg->pn_cluster != NULL ?
	    cfg->pn_cluster : POD_CLUSTER_DEFAULT);	/* pods_node_start looks further */
	if ((pn.table = pods_table_new()) == NULL) {
		snprintf(err, errlen, "--pod-roles: out of memory");
		return -1;
	}
	pods_host_read();
	return 0;
}

/* The node's name: --node-name, else $NODE_NAME, else the host name.  0 / -1. */
static int
node_name(char *err, size_t errlen)
{
	const char *n = pn.cfg.pn_node != NULL ? pn.cfg.pn_node : getenv("NODE_NAME");
	char host[PN_HOST_NAME_MAX];

	if (n == NULL || *n == '\0') {
		if (gethostname(host, sizeof(host)) == -1) {
			snprintf(err, errlen, "--pod-roles: no --node-name, no NODE_NAME, no host name");
			return -1;
		}
		host[sizeof(host) - 1] = '\0';
		n = host;
	}
	if (strlen(n) > KUBE_NAME_MAX) {
		snprintf(err, errlen, "--node-name: over %d bytes", KUBE_NAME_MAX);
		return -1;
	}
	snprintf(pn.node, sizeof(pn.node), "%s", n);
	return 0;
}

/*
 * The cluster's name for the session tags: --cluster-name (checked by the
 * options), else the kubeconfig context's cluster when it is an EKS
 * cluster name (or an EKS cluster's ARN), else POD_CLUSTER_DEFAULT; logged.
 */
static void
cluster_name(const char *kubeconfig_cluster)
{
	const char *from;

	if (pn.cfg.pn_cluster != NULL) {
		snprintf(pn.cluster, sizeof(pn.cluster), "%s", pn.cfg.pn_cluster);
		from = "--cluster-name";
	} else if (kubeconfig_cluster[0] != '\0' && pods_cluster_from_kubeconfig(
	    kubeconfig_cluster, pn.cluster, sizeof(pn.cluster)) == 0)
		from = "the kubeconfig's cluster";
	else {
		snprintf(pn.cluster, sizeof(pn.cluster), "%s", POD_CLUSTER_DEFAULT);
		from = kubeconfig_cluster[0] != '\0' ? "the default: the kubeconfig's cluster "
		    "name is not an EKS cluster name" : "the default: in-cluster, no name is known";
	}
	log_info("pod identity: session tags for cluster %s (%s), region %s", pn.cluster, from,
	    pn.cfg.pn_region != NULL ? pn.cfg.pn_region : "-");
}

int
pods_node_start(const struct pods_node_cfg *cfg, char *err, size_t errlen)
{
	static const struct kube_reflector_ops pod_ops = { pods_node_upsert, pods_node_delete,
	    pods_synced, NULL };
	static const struct kube_reflector_ops sa_ops = { pods_node_upsert, pods_node_delete,
	    sas_synced, pods_node_want };
	static const struct kube_reflector_ops ns_ops = { pods_node_upsert, pods_node_delete,
	    ns_synced, NULL };
	struct kube_reflector_spec spec;
	struct kube_config kc;
	char sel[KUBE_SELECTOR_MAX], why[ERRBUF_LEN];

	if (pods_node_init(cfg, err, errlen) == -1 || node_name(err, errlen) == -1)
		return -1;
	memset(&kc, 0, sizeof(kc));
	if (kube_config_find(&kc, cfg->pn_kubeconfig, NULL, cfg->pn_sa_dir, why,
	    sizeof(why)) == -1) {
		kube_config_free(&kc);
		snprintf(err, errlen, "--pod-roles: the Kubernetes API: %s", why);
		return -1;
	}
	if (cfg->pn_session_tags)
		cluster_name(kc.kc_cluster);
	if (kube_client_new(&kc, &pn.client, why, sizeof(why)) == -1) {
		kube_config_free(&kc);
		snprintf(err, errlen, "--pod-roles: the Kubernetes API: %s", why);
		return -1;
	}
	log_info("pods: following node %s through %s (%s)", pn.node,
	    kube_client_server(pn.client), kube_client_origin(pn.client));
	if (pods_host_watch() == -1)
		log_info("pods: the host's addresses are read every second (netlink: %s)",
		    strerror(errno));
	snprintf(sel, sizeof(sel), "spec.nodeName=%s", pn.node);
	spec = (struct kube_reflector_spec){ KUBE_POD, sel, 0, &pod_ops, NULL };
	if (kube_reflector_start(pn.client, &spec, &pn.refl[0], why, sizeof(why)) == -1)
		goto fail;
	spec = (struct kube_reflector_spec){ KUBE_SERVICEACCOUNT, NULL, 0, &sa_ops, NULL };
	if (kube_reflector_start(pn.client, &spec, &pn.refl[1], why, sizeof(why)) == -1)
		goto fail;
	spec = (struct kube_reflector_spec){ KUBE_NAMESPACE, NULL, 0, &ns_ops, NULL };
	if (cfg->pn_opts->po_restrict &&
	    kube_reflector_start(pn.client, &spec, &pn.refl[2], why, sizeof(why)) == -1)
		goto fail;
	return 0;
fail:
	pods_host_unwatch();
	snprintf(err, errlen, "--pod-roles: %s", why);
	return -1;
}

void
pods_node_stop(void)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < 3; i++)
		if (pn.refl[i] != NULL)
			kube_reflector_stop(pn.refl[i]);
	pods_host_unwatch();
	while (pn.npods > 0)
		pod_free(pn.pods[--pn.npods], now);
	while (pn.nsas > 0)
		sa_free(pn.sas[pn.nsas - 1]);	/* with a GET in flight only */
	for (i = 0; i < pn.nnss; i++) {
		pods_ns_free(pn.nss[i]);
		free(pn.nss[i]);
	}
	if (pn.client != NULL)
		kube_client_free(pn.client);
	pods_table_free(pn.table);
	free(pn.pods);
	free(pn.sas);
	free(pn.nss);
	memset(&pn, 0, sizeof(pn));
}
