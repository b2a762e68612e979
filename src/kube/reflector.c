/*
 * reflector.c: follow one resource as client-go's reflector does.
 *
 *   LIST   GET /api/v1/<resource>?limit=KUBE_LIST_LIMIT[&fieldSelector=..]
 *          [&continue=..], page after page (no resourceVersion: a
 *          consistent read).  Every item is upserted; at the last page the
 *          objects known before but absent now are reported deleted (with
 *          their identity only), synced is called, and the list's
 *          resourceVersion is where the watch starts.  A 410 on a continue
 *          token lists again from the start at once.
 *   WATCH  GET ...?watch=1&resourceVersion=RV&allowWatchBookmarks=true
 *          &timeoutSeconds=T (T drawn in [KUBE_WATCH_TIMEOUT_MIN_S, MAX_S)),
 *          streamed: lines (kube_lines, capped) -> events.  Every event and
 *          bookmark moves RV.  A watch the server ends normally (its
 *          timeout) is started again from RV at once, without a list.  An
 *          ERROR event with code 410 (inside the 200 stream) or an HTTP 410
 *          lists again.  Still open at T + KUBE_WATCH_GRACE_S: dead.
 *   WAIT   after a connection failure, a 5xx or other status, an ERROR
 *          event: backoff from KUBE_BACKOFF_START_MS doubling to
 *          KUBE_BACKOFF_CAP_MS, each wait drawn in [d/2, d) (jitter), then
 *          the same step again (a watch from RV, or a list).  A broken
 *          stream (a line over KUBE_LINE_MAX, or not an event) waits the
 *          same, then lists: a watch from the same RV would meet the same
 *          line, while the list carries the object as it is now.  What is
 *          known stays known meanwhile: nothing is reported deleted
 *          because the API cannot be reached.
 *
 * The store remembers, per object ("namespace/name"), its uid and the list
 * generation that last saw it: enough to find deletions after a relist
 * (and a uid change under the same name: a new object, the old one deleted
 * first).  An object rejected by the parser (a field over its cap) is
 * treated as absent: when known it is reported deleted, since its new state
 * cannot be represented, and the log says so.
 *
 * Events are handled as the stream delivers them, inside libcurl's write
 * callback: callbacks must not stop this reflector or free the client (see
 * kube.h); the next step always starts from a loop timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/internal.h"

#define STORE_BUCKETS_FIRST	64	/* hash buckets of a new store (doubles) */
#define STORE_KEY_MAX		(KUBE_NAMESPACE_MAX + 1 + KUBE_NAME_MAX)	/* "ns/name" */
#define REFLECTOR_PATH_MAX	(64 + 3 * (KUBE_SELECTOR_MAX + KUBE_CONTINUE_MAX + KUBE_RV_MAX))

struct store_ent {
	struct store_ent *se_next;
	unsigned	 se_gen;	/* the list generation that last saw it */
	char		 se_key[];	/* "ns/name" (or "name"), NUL, its uid ("" unknown), NUL */
};

/* The uid kept after e's key: each entry is as long as its own two strings. */
static const char *
ent_uid(const struct store_ent *e)
{
	return e->se_key + strlen(e->se_key) + 1;
}

struct store {
	struct store_ent **st_b;
	size_t		 st_nb;
	size_t		 st_n;
};

enum refl_step { STEP_LIST, STEP_WATCH };
/*
 * Why the line handler ended a watch: a 410 ERROR event (list again now);
 * another ERROR event (watch again after a backoff); a line that is not an
 * event or is over the cap (list again after a backoff: watching again from
 * the same resourceVersion would meet the same line).
 */
enum stream_end { END_NONE, END_RELIST, END_ERROR, END_BROKEN };

struct kube_reflector {
	struct kube_client *r_c;
	enum kube_kind	 r_kind;
	char		 r_selector[KUBE_SELECTOR_MAX + 1];
	long		 r_watch_timeout_s;	/* 0: drawn each time */
	const struct kube_reflector_ops *r_ops;
	void		*r_arg;
	struct kube_req	 r_rq;
	int		 r_rq_live;	/* r_rq holds a request */
	struct loop_timer r_timer;	/* the next step */
	enum refl_step	 r_step;	/* what the request in flight (or the next) does */
	char		 r_rv[KUBE_RV_MAX + 1];	/* last seen: where a watch resumes */
	char		 r_continue[KUBE_CONTINUE_MAX + 1];	/* the list's next page */
	unsigned	 r_gen;		/* the current list generation */
	int		 r_synced;
	uint64_t	 r_backoff_ms;	/* the next failure waits about this; 0: START */
	struct kube_lines r_lines;
	enum stream_end	 r_end;		/* why the stream handler stopped the watch */
	char		 r_end_why[ERRBUF_LEN];
	struct store	 r_store;
	struct kube_stats r_stats;
	struct kube_event r_ev;		/* scratch: one event */
};

static void	refl_step(void *arg);

const char *
kube_kind_resource(enum kube_kind kind)
{
	static const char *const res[] = { "pods", "namespaces", "serviceaccounts" };

	return res[kind];
}

/* ---- the store ------------------------------------------------------------ */

/* Where key's entry is (or would be linked): the pointer to it. */
static struct store_ent **
store_slot(struct store *st, const char *key)
{
	struct store_ent **pp = &st->st_b[str_hash(key) & (st->st_nb - 1)];

	while (*pp != NULL && strcmp((*pp)->se_key, key) != 0)
		pp = &(*pp)->se_next;
	return pp;
}

/* Double the buckets (when they can; a full table just gets longer chains). */
static void
store_grow(struct store *st)
{
	size_t nb = st->st_nb == 0 ? STORE_BUCKETS_FIRST : st->st_nb * 2, i;
	struct store_ent **b, *e, *next;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return;
	for (i = 0; i < st->st_nb; i++)
		for (e = st->st_b[i]; e != NULL; e = next) {
			next = e->se_next;
			e->se_next = b[str_hash(e->se_key) & (nb - 1)];
			b[str_hash(e->se_key) & (nb - 1)] = e;
		}
	free(st->st_b);
	st->st_b = b;
	st->st_nb = nb;
}

static void
store_free(struct store *st)
{
	struct store_ent *e, *next;
	size_t i;

	for (i = 0; i < st->st_nb; i++)
		for (e = st->st_b[i]; e != NULL; e = next) {
			next = e->se_next;
			free(e);
		}
	free(st->st_b);
	memset(st, 0, sizeof(*st));
}

/* ---- objects -------------------------------------------------------------- */

/* "ns/name" or "name" into key[STORE_KEY_MAX + 1]. */
static void
obj_key(struct kube_object *o, char *key)
{
	const struct kube_meta *m = kube_object_meta(o);

	if (o->ob_kind != KUBE_NAMESPACE)
		snprintf(key, STORE_KEY_MAX + 1, "%s/%s", m->km_namespace, m->km_name);
	else
		snprintf(key, STORE_KEY_MAX + 1, "%s", m->km_name);
}

/* Report e deleted (identity only) and drop it. */
static void
refl_forget(struct kube_reflector *r, struct store_ent **pp)
{
	struct store_ent *e = *pp;
	struct kube_object *o = &r->r_ev.ev_obj;
	struct kube_meta *m;
	const char *slash;

	*pp = e->se_next;
	r->r_store.st_n--;
	memset(o, 0, sizeof(*o));
	o->ob_kind = r->r_kind;
	o->ob_partial = 1;
	m = kube_object_meta(o);
	slash = r->r_kind == KUBE_NAMESPACE ? NULL : strchr(e->se_key, '/');
	if (slash != NULL) {
		snprintf(m->km_namespace, sizeof(m->km_namespace), "%.*s",
		    (int)(slash - e->se_key), e->se_key);
		snprintf(m->km_name, sizeof(m->km_name), "%s", slash + 1);
	} else
		snprintf(m->km_name, sizeof(m->km_name), "%s", e->se_key);
	snprintf(m->km_uid, sizeof(m->km_uid), "%s", ent_uid(e));
	free(e);
	r->r_ops->ro_delete(r->r_arg, o);
}

/* An object added or changed: remember it, tell.  (A new uid: the old object went first.) */
static void
refl_upsert(struct kube_reflector *r, struct kube_object *o)
{
	char key[STORE_KEY_MAX + 1];
	const char *uid = kube_object_meta(o)->km_uid;
	struct store_ent **pp, *e, *grown;
	size_t klen, ulen;

	obj_key(o, key);
	if (r->r_ops->ro_want != NULL && !r->r_ops->ro_want(r->r_arg, o)) {
		if (r->r_store.st_nb != 0 && *(pp = store_slot(&r->r_store, key)) != NULL)
			refl_forget(r, pp);	/* no longer wanted: gone for the caller */
		return;
	}
	if (r->r_store.st_nb == 0 || r->r_store.st_n >= r->r_store.st_nb * 2)
		store_grow(&r->r_store);
	if (r->r_store.st_nb == 0) {
		log_err("kube: %s: out of memory", kube_kind_resource(r->r_kind));
		return;
	}
	pp = store_slot(&r->r_store, key);
	if (*pp != NULL && uid[0] != '\0' && ent_uid(*pp)[0] != '\0' &&
	    strcmp(ent_uid(*pp), uid) != 0) {
		struct kube_object keep = *o;	/* refl_forget reuses the scratch event */

		refl_forget(r, pp);
		*o = keep;
		pp = store_slot(&r->r_store, key);
	}
	if ((e = *pp) == NULL && r->r_store.st_n >= KUBE_STORE_MAX) {
		r->r_stats.ks_rejected++;
		log_warn("kube: %s: over %d objects; %s ignored", kube_kind_resource(r->r_kind),
		    KUBE_STORE_MAX, key);
		return;
	}
	/*
	 * A new entry, or its uid learnt (it was not known): sized again.
	 * Without the memory, a new object is not taken; a known one keeps
	 * its entry as it was (its uid not learnt) and is still told.
	 */
	if (e == NULL || strcmp(ent_uid(e), uid) != 0) {
		klen = strlen(key);
		ulen = strlen(uid);
		if ((grown = realloc(e, sizeof(*e) + klen + 1 + ulen + 1)) == NULL) {
			log_err("kube: %s: out of memory", kube_kind_resource(r->r_kind));
			if (e == NULL)
				return;
		} else {
			if (e == NULL) {
				grown->se_next = NULL;
				r->r_store.st_n++;
			}
			memcpy(grown->se_key, key, klen + 1);
			memcpy(grown->se_key + klen + 1, uid, ulen + 1);
			*pp = e = grown;
		}
	}
	e->se_gen = r->r_gen;
	r->r_ops->ro_upsert(r->r_arg, o);
}

/* An object gone (a DELETED event, with its last state). */
static void
refl_delete(struct kube_reflector *r, struct kube_object *o)
{
	char key[STORE_KEY_MAX + 1];
	struct store_ent **pp, *e;

	obj_key(o, key);
	if (r->r_store.st_nb == 0 || *(pp = store_slot(&r->r_store, key)) == NULL) {
		/*
		 * Never stored: rejected, or not wanted when it came.  One the
		 * owner wants now (it read it by itself since: a service
		 * account a new pod names) is reported gone all the same.
		 */
		if (r->r_ops->ro_want != NULL && r->r_ops->ro_want(r->r_arg, o))
			r->r_ops->ro_delete(r->r_arg, o);
		return;
	}
	e = *pp;
	*pp = e->se_next;
	r->r_store.st_n--;
	free(e);
	r->r_ops->ro_delete(r->r_arg, o);
}

/* A rejected object: logged; when its identity is known and it was known, it is gone. */
static void
refl_reject(struct kube_reflector *r, struct kube_object *o, const char *why)
{
	char key[STORE_KEY_MAX + 1];
	struct store_ent **pp;

	r->r_stats.ks_rejected++;
	if (!o->ob_partial) {
		log_warn("kube: %s: an object rejected: %s", kube_kind_resource(r->r_kind), why);
		return;
	}
	obj_key(o, key);
	log_warn("kube: %s: %s rejected (%s); it is treated as absent",
	    kube_kind_resource(r->r_kind), key, why);
	if (r->r_store.st_nb != 0 && *(pp = store_slot(&r->r_store, key)) != NULL)
		refl_forget(r, pp);
}

/* ---- steps ---------------------------------------------------------------- */

/* Run the next step after delay_ms. */
static void
refl_next(struct kube_reflector *r, enum refl_step step, uint64_t delay_ms)
{
	r->r_step = step;
	loop_timer_set(&r->r_timer, delay_ms, refl_step, r);
}

/* A failure: log, count, wait (backoff with jitter), then step again. */
static void
refl_fail(struct kube_reflector *r, enum refl_step step, const char *why)
{
	uint64_t d = r->r_backoff_ms == 0 ? KUBE_BACKOFF_START_MS : r->r_backoff_ms;
	uint64_t wait = d / 2 + rnd32() % (d / 2 + 1);

	r->r_stats.ks_errors++;
	r->r_backoff_ms = d * 2 > KUBE_BACKOFF_CAP_MS ? KUBE_BACKOFF_CAP_MS : d * 2;
	log_warn("kube: %s: %s; %s again in %llu ms", kube_kind_resource(r->r_kind), why,
	    step == STEP_LIST ? "list" : "watch", (unsigned long long)wait);
	refl_next(r, step, wait);
}

/* A list item. */
static void
refl_item(void *arg, const struct kube_object *o, int rc, const char *err)
{
	struct kube_reflector *r = arg;

	r->r_ev.ev_obj = *o;
	if (rc == KUBE_PARSE_OK)
		refl_upsert(r, &r->r_ev.ev_obj);
	else
		refl_reject(r, &r->r_ev.ev_obj, err);
}

/* A list page came (or not). */
static void
refl_list_done(void *arg, CURLcode cc)
{
	struct kube_reflector *r = arg;
	const struct sbuf *b = &r->r_rq.rq_x.hx_body;
	long status = httpc_xfer_status(&r->r_rq.rq_x);
	struct kube_list_page pg;
	char why[ERRBUF_LEN];
	size_t i;
	struct store_ent **pp;

	if (cc != CURLE_OK || status != 200) {
		int expired = cc == CURLE_OK && status == 410 && r->r_continue[0] != '\0';

		kube_req_why(&r->r_rq, cc, "list", why, sizeof(why));
		kube_req_free(&r->r_rq);
		r->r_rq_live = 0;
		r->r_continue[0] = '\0';
		if (expired) {	/* the continue token expired: from the start, now */
			r->r_stats.ks_expired++;
			log_info("kube: %s: %s; listing again", kube_kind_resource(r->r_kind), why);
			refl_next(r, STEP_LIST, 0);
		} else
			refl_fail(r, STEP_LIST, why);
		return;
	}
	r->r_stats.ks_pages++;
	if (kube_list_parse(b->sb_p != NULL ? b->sb_p : "", b->sb_len, r->r_kind, &pg,
	    refl_item, r, why, sizeof(why)) != KUBE_PARSE_OK) {
		kube_req_free(&r->r_rq);
		r->r_rq_live = 0;
		r->r_continue[0] = '\0';
		refl_fail(r, STEP_LIST, why);
		return;
	}
	kube_req_free(&r->r_rq);
	r->r_rq_live = 0;
	if (pg.lp_continue[0] != '\0') {
		snprintf(r->r_continue, sizeof(r->r_continue), "%s", pg.lp_continue);
		refl_next(r, STEP_LIST, 0);
		return;
	}
	/* the last page: what this list did not see is gone */
	for (i = 0; i < r->r_store.st_nb; i++)
		for (pp = &r->r_store.st_b[i]; *pp != NULL;)
			if ((*pp)->se_gen != r->r_gen)
				refl_forget(r, pp);
			else
				pp = &(*pp)->se_next;
	snprintf(r->r_rv, sizeof(r->r_rv), "%s", pg.lp_rv);
	r->r_stats.ks_lists++;
	r->r_synced = 1;
	r->r_backoff_ms = 0;
	log_info("kube: %s: listed %zu at resourceVersion %s", kube_kind_resource(r->r_kind),
	    r->r_store.st_n, r->r_rv);
	r->r_ops->ro_synced(r->r_arg);
	refl_next(r, STEP_WATCH, 0);
}

/* One line of the watch stream.  0, or -1 to end the stream (r_end says why). */
static int
refl_line(void *arg, const char *s, size_t n)
{
	struct kube_reflector *r = arg;
	struct kube_event *ev = &r->r_ev;
	char err[ERRBUF_LEN];
	int rc;

	rc = kube_event_parse(s, n, r->r_kind, ev, err, sizeof(err));
	if (rc == KUBE_PARSE_BAD) {
		r->r_end = END_BROKEN;
		snprintf(r->r_end_why, sizeof(r->r_end_why), "%s", err);
		return -1;
	}
	r->r_stats.ks_events++;
	if (ev->ev_type == KUBE_EV_ERROR) {
		r->r_end = ev->ev_code == 410 ? END_RELIST : END_ERROR;
		snprintf(r->r_end_why, sizeof(r->r_end_why), "%s", err);
		return -1;
	}
	if (ev->ev_rv[0] != '\0')
		snprintf(r->r_rv, sizeof(r->r_rv), "%s", ev->ev_rv);
	if (rc == KUBE_PARSE_REJECT)
		refl_reject(r, &ev->ev_obj, err);
	else if (ev->ev_type == KUBE_EV_ADDED || ev->ev_type == KUBE_EV_MODIFIED)
		refl_upsert(r, &ev->ev_obj);
	else if (ev->ev_type == KUBE_EV_DELETED)
		refl_delete(r, &ev->ev_obj);
	return 0;
}

/* CURLOPT_WRITEFUNCTION of a watch: split, handle. */
static int
refl_on_data(void *arg, const char *p, size_t n)
{
	struct kube_reflector *r = arg;
	char err[ERRBUF_LEN];

	if (httpc_xfer_status(&r->r_rq.rq_x) != 200)
		return httpc_buf_add(&r->r_rq.rq_x.hx_body, p, n) == -1 ? -1 : 0;
	if (kube_lines_feed(&r->r_lines, p, n, refl_line, r, err, sizeof(err)) == -1) {
		if (r->r_end == END_NONE) {	/* the line was over the cap */
			r->r_end = END_BROKEN;
			snprintf(r->r_end_why, sizeof(r->r_end_why), "%s", err);
		}
		return -1;
	}
	return 0;
}

/* The watch ended. */
static void
refl_watch_done(void *arg, CURLcode cc)
{
	struct kube_reflector *r = arg;
	long status = httpc_xfer_status(&r->r_rq.rq_x);
	char why[ERRBUF_LEN];
	enum stream_end end = r->r_end;

	r->r_stats.ks_watch_restarts++;
	if (end == END_NONE)
		kube_req_why(&r->r_rq, cc, "watch", why, sizeof(why));
	kube_req_free(&r->r_rq);
	r->r_rq_live = 0;
	kube_lines_reset(&r->r_lines);
	r->r_end = END_NONE;
	if (end == END_RELIST || (end == END_NONE && cc == CURLE_OK && status == 410)) {
		r->r_stats.ks_expired++;
		log_info("kube: %s: %s; listing again", kube_kind_resource(r->r_kind),
		    end == END_RELIST ? r->r_end_why : why);
		refl_next(r, STEP_LIST, 0);
	} else if (end == END_BROKEN || end == END_ERROR) {
		log_warn("kube: %s: watch stream: %s", kube_kind_resource(r->r_kind),
		    r->r_end_why);
		refl_fail(r, end == END_BROKEN ? STEP_LIST : STEP_WATCH, end == END_BROKEN ?
		    "watch stream broken" : "watch ended by the server");
	} else if (cc == CURLE_OK && status == 200) {	/* timeoutSeconds: again from RV */
		r->r_backoff_ms = 0;
		refl_next(r, STEP_WATCH, 0);
	} else
		refl_fail(r, STEP_WATCH, why);
}

/* The query: fieldSelector (when given), then what the step adds. */
static void
refl_path(struct kube_reflector *r, struct sbuf *p, long timeout_s)
{
	sbuf_printf(p, "/api/v1/%s?", kube_kind_resource(r->r_kind));
	if (r->r_selector[0] != '\0') {
		sbuf_puts(p, "fieldSelector=");
		httpc_pct_encode(p, r->r_selector, strlen(r->r_selector));
		sbuf_puts(p, "&");
	}
	if (r->r_step == STEP_LIST) {
		sbuf_printf(p, "limit=%d", KUBE_LIST_LIMIT);
		if (r->r_continue[0] != '\0') {
			sbuf_puts(p, "&continue=");
			httpc_pct_encode(p, r->r_continue, strlen(r->r_continue));
		}
		return;
	}
	sbuf_puts(p, "watch=1&resourceVersion=");
	httpc_pct_encode(p, r->r_rv, strlen(r->r_rv));
	sbuf_printf(p, "&allowWatchBookmarks=true&timeoutSeconds=%ld", timeout_s);
}

/* The timer: start the step's request. */
static void
refl_step(void *arg)
{
	struct kube_reflector *r = arg;
	struct sbuf p = SBUF_GROWN(REFLECTOR_PATH_MAX);
	char err[ERRBUF_LEN];
	long timeout_s = r->r_watch_timeout_s > 0 ? r->r_watch_timeout_s :
	    KUBE_WATCH_TIMEOUT_MIN_S +
	    (long)(rnd32() % (KUBE_WATCH_TIMEOUT_MAX_S - KUBE_WATCH_TIMEOUT_MIN_S));
	int watch;

	if (r->r_step == STEP_WATCH && r->r_rv[0] == '\0')
		r->r_step = STEP_LIST;	/* nothing to resume from */
	watch = r->r_step == STEP_WATCH;
	if (!watch && r->r_continue[0] == '\0')
		r->r_gen++;	/* a new list */
	refl_path(r, &p, timeout_s);
	if (p.sb_full) {
		sbuf_free(&p);
		refl_fail(r, r->r_step, "out of memory");
		return;
	}
	if (kube_req_init(r->r_c, &r->r_rq, p.sb_p, NULL, 0, watch ? refl_on_data : NULL,
	    timeout_s + KUBE_WATCH_GRACE_S, watch ? refl_watch_done : refl_list_done, r,
	    err, sizeof(err)) == -1) {
		sbuf_free(&p);
		refl_fail(r, r->r_step, err);
		return;
	}
	sbuf_free(&p);
	if (httpc_xfer_start(&r->r_rq.rq_x, err, sizeof(err)) == -1) {
		kube_req_free(&r->r_rq);
		refl_fail(r, r->r_step, err);
		return;
	}
	r->r_rq_live = 1;
	r->r_end = END_NONE;
	if (watch)
		r->r_stats.ks_watches++;
}

/* ---- public --------------------------------------------------------------- */

int
kube_reflector_start(struct kube_client *c, const struct kube_reflector_spec *spec,
    struct kube_reflector **out, char *err, size_t errlen)
{
	struct kube_reflector *r;

	*out = NULL;
	if (spec->rs_ops == NULL || spec->rs_ops->ro_upsert == NULL ||
	    spec->rs_ops->ro_delete == NULL || spec->rs_ops->ro_synced == NULL ||
	    (unsigned)spec->rs_kind > KUBE_SERVICEACCOUNT) {
		errf(err, errlen, "kube: reflector: a kind and three callbacks are needed");
		return -1;
	}
	if ((spec->rs_field_selector != NULL &&
	    strlen(spec->rs_field_selector) > KUBE_SELECTOR_MAX) ||
	    spec->rs_watch_timeout_s < 0 || spec->rs_watch_timeout_s > KUBE_WATCH_TIMEOUT_MAX_S) {
		errf(err, errlen, "kube: field selector over %d bytes, or a watch timeout out of "
		    "0..%d s", KUBE_SELECTOR_MAX, KUBE_WATCH_TIMEOUT_MAX_S);
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		errf(err, errlen, "kube: out of memory");
		return -1;
	}
	r->r_c = c;
	r->r_kind = spec->rs_kind;
	if (spec->rs_field_selector != NULL)
		snprintf(r->r_selector, sizeof(r->r_selector), "%s", spec->rs_field_selector);
	r->r_watch_timeout_s = spec->rs_watch_timeout_s;
	r->r_ops = spec->rs_ops;
	r->r_arg = spec->rs_arg;
	kube_lines_init(&r->r_lines, KUBE_LINE_MAX);
	refl_next(r, STEP_LIST, 0);
	*out = r;
	return 0;
}

void
kube_reflector_stop(struct kube_reflector *r)
{
	if (r == NULL)
		return;
	loop_timer_cancel(&r->r_timer);
	if (r->r_rq_live)
		kube_req_free(&r->r_rq);
	kube_lines_free(&r->r_lines);
	store_free(&r->r_store);
	free(r);
}

int
kube_reflector_synced(const struct kube_reflector *r)
{
	return r->r_synced;
}

size_t
kube_reflector_count(const struct kube_reflector *r)
{
	return r->r_store.st_n;
}

IDLE_PATH const struct kube_stats *
kube_reflector_stats(const struct kube_reflector *r)
{
	return &r->r_stats;
}
