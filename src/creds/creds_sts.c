/*
 * creds_sts.c: credentials through STS.
 *
 * One provider type wraps another (the base: environment, a profile, the
 * example keys) and either assumes a chain of roles with AssumeRole (from
 * --assume-role, or a profile's role_arn/source_profile chain), or turns
 * long-term base keys into session credentials with GetSessionToken.  Every
 * step is asynchronous: the base may answer from the loop
 * (credential_process), and so does STS (sts.c), so a request never waits
 * on any of it.  Errors name the step, the STS error code, its message and
 * request id; never a secret.
 *
 * The base sits behind a cred_base, which STS providers can share by
 * reference (cred_provider_sts_on): roles assumed from one source ask it,
 * and it fetches once for all of them (those that ask while a fetch is
 * under way wait on it), then keeps the credential for the roles that ask
 * later, until CRED_BASE_AHEAD before it expires (CRED_BASE_KEEP_MAX when
 * it has no expiry: static keys are cheap to read again, and edits the
 * file watch missed get in).  The source forgets it when the files change
 * (cp_forget).  serve's own STS provider has a base of its own
 * (cred_provider_sts, from source.c); assumed.c's roles share the node's.
 * A step may carry session tags (EKS Pod Identity's, assumed.c): they are
 * copied into the provider's one allocation and sent with its AssumeRole.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds/creds.h"

#define SESSION_PREFIX		"gimme-aws-mini-"
#define HOSTNAME_MAX		256	/* bytes of gethostname we keep */

/*
 * A base provider shared by STS roles: one fetch at a time, whose answer
 * goes to every role waiting on it, and a credential kept for the next
 * ones while it is fresh (cred_base_fresh).
 */
struct cred_base {
	struct cred_provider *b_prov;	/* owned */
	unsigned	 b_refs;
	int		 b_busy;	/* a fetch of b_prov is under way */
	unsigned	 b_gen;		/* bumped by cred_base_forget: a fetch of an older
					   generation is handed out, not kept */
	unsigned	 b_fetch_gen;	/* the generation of the fetch under way */
	int		 b_have;	/* b_cur is kept */
	struct cred	 b_cur;
	time_t		 b_fetched;	/* when b_cur came */
	unsigned long	 b_n_fetches;	/* fetches started (tests, the log) */
	struct sts_ctx	*b_wait;	/* roles waiting on the fetch, in order */
};

/*
 * A step of a role chain as a provider keeps it: struct assume_step's
 * fields, its strings packed behind the steps (STS_ARN_MAX and
 * STS_EXTERNAL_ID_MAX are bounds, not what roles use: a provider per
 * assumed role would keep 3 KiB of them).
 */
struct sts_step {
	const char	*ss_arn;
	const char	*ss_session;
	const char	*ss_external_id;	/* "" = none */
	unsigned	 ss_duration;
	const struct assume_tags *ss_tags;	/* NULL: none */
};

struct sts_ctx {
	size_t		 nsteps;
	unsigned	 duration;	/* GetSessionToken */
	int		 allow_long_term;
	struct cred_base *base;		/* a reference */
	struct sts_ctx	*wnext;		/* in base->b_wait */
	int		 waiting;	/* on the base */
	unsigned long	 wfetch;	/* ... for the base's fetch number wfetch */
	/* the fetch under way */
	size_t		 step;
	struct cred	*cur;		/* the credentials it signs with next; only while fetching */
	cred_done_fn	 done;
	void		*arg;
	/*
	 * nsteps of them (an assumed role: one), then the session tags of those
	 * that have them, then their strings and the provider's cp_desc
	 */
	struct sts_step	 steps[];
};

/* the tags follow the steps in one allocation */
_Static_assert(sizeof(struct sts_step) % _Alignof(struct assume_tags) == 0,
    "assume_tags after sts_step[] would be misaligned");

static void	sts_next(struct sts_ctx *x);
static void	sts_base_done(void *arg, int ok, const struct cred *c, const char *err);

static void
sts_finish(struct sts_ctx *x, int ok, const char *err)
{
	cred_done_fn done = x->done;
	void *arg = x->arg;
	char msg[ERRBUF_LEN];

	x->done = NULL;
	if (ok)
		done(arg, 1, x->cur, NULL);
	else if (x->nsteps == 0 && strncmp(err, "STS ", 4) == 0) {
		/* GetSessionToken failed: say how to do without it */
		snprintf(msg, sizeof(msg), "%.900s; or serve the long-term keys as they are "
		    "with --allow-long-term-keys", err);
		done(arg, 0, NULL, msg);
	} else
		done(arg, 0, NULL, err);
	cred_wipe(x->cur);
	free(x->cur);
	x->cur = NULL;
}

static void
sts_answer(void *arg, const struct sts_result *r, const char *terr)
{
	struct sts_ctx *x = arg;
	char err[ERRBUF_LEN];
	const char *what = x->nsteps > 0 ? "AssumeRole" : "GetSessionToken";
	const char *arn = x->nsteps > 0 ? x->steps[x->step].ss_arn : "";

	if (r == NULL) {
		snprintf(err, sizeof(err), "STS %s%s%s: %s", what, *arn ? " " : "", arn, terr);
		sts_finish(x, 0, err);
		return;
	}
	if (!r->st_ok) {
		snprintf(err, sizeof(err), "STS %s%s%s: %s: %s (HTTP %ld, request id %s)", what,
		    *arn ? " " : "", arn, r->st_code, r->st_message, r->st_http_status,
		    r->st_request_id[0] ? r->st_request_id : "none");
		sts_finish(x, 0, err);
		return;
	}
	cred_wipe(x->cur);
	*x->cur = r->st_cred;
	x->cur->cr_last_updated = 0;	/* the cache stamps it */
	if (x->nsteps == 0) {
		sts_finish(x, 1, NULL);
		return;
	}
	log_debug("STS AssumeRole %s: %s", arn, r->st_assumed_arn);
	x->step++;
	sts_next(x);
}

/* Take the next step with x->cur as the signing credentials. */
static void
sts_next(struct sts_ctx *x)
{
	struct sts_tag tags[STS_STEP_TAGS_MAX];
	const struct assume_tags *at;
	struct sts_req rq;
	char err[ERRBUF_LEN], msg[ERRBUF_LEN];
	size_t i;

	memset(&rq, 0, sizeof(rq));
	rq.sr_base = x->cur;
	if (x->nsteps == 0) {
		/* long-term keys only: session keys pass as they are */
		if (x->cur->cr_token[0] != '\0' || x->allow_long_term) {
			sts_finish(x, 1, NULL);
			return;
		}
		rq.sr_action = STS_GET_SESSION_TOKEN;
		rq.sr_duration = x->duration;
	} else {
		if (x->step == x->nsteps) {
			sts_finish(x, 1, NULL);
			return;
		}
		rq.sr_action = STS_ASSUME_ROLE;
		rq.sr_role_arn = x->steps[x->step].ss_arn;
		rq.sr_session_name = x->steps[x->step].ss_session;
		rq.sr_external_id = x->steps[x->step].ss_external_id;
		rq.sr_duration = x->steps[x->step].ss_duration;
		if ((at = x->steps[x->step].ss_tags) != NULL) {
			for (i = 0; i < at->at_n; i++)
				tags[i] = (struct sts_tag){ at->at_tag[i].at_key,
				    at->at_tag[i].at_value, at->at_tag[i].at_transitive };
			rq.sr_tags = tags;
			rq.sr_ntags = at->at_n;
		}
	}
	if (sts_call(&rq, sts_answer, x, err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "STS %s: %.900s", x->nsteps > 0 ? "AssumeRole" :
		    "GetSessionToken", err);
		sts_finish(x, 0, msg);
	}
}

static void
sts_base_done(void *arg, int ok, const struct cred *c, const char *err)
{
	struct sts_ctx *x = arg;
	char msg[ERRBUF_LEN];

	if (!ok) {
		snprintf(msg, sizeof(msg), "base credentials: %.900s", err);
		sts_finish(x, 0, msg);
		return;
	}
	cred_wipe(x->cur);
	*x->cur = *c;
	x->step = 0;
	sts_next(x);
}

/* ---- the shared base ---------------------------------------------------- */

/* Whether the kept credential may serve a role fetching at now. */
static int
cred_base_fresh(const struct cred_base *b, time_t now)
{
	if (!b->b_have)
		return 0;
	if (b->b_cur.cr_expiration != 0)
		return now < b->b_cur.cr_expiration - CRED_BASE_AHEAD;
	return now < b->b_fetched + CRED_BASE_KEEP_MAX;
}

/* The first role waiting on fetch number fetch, taken off b_wait; NULL: none. */
static struct sts_ctx *
cred_base_take(struct cred_base *b, unsigned long fetch)
{
	struct sts_ctx **pp, *w;

	for (pp = &b->b_wait; *pp != NULL; pp = &(*pp)->wnext)
		if ((*pp)->wfetch == fetch) {
			w = *pp;
			*pp = w->wnext;
			w->wnext = NULL;
			return w;
		}
	return NULL;
}

/*
 * Hand one answer to every role waiting on the fetch.  Each is taken off
 * b_wait only as its turn comes, so that a role's done may free another
 * waiting role (cred_base_cancel finds it there); a role that asks again
 * meanwhile waits, at the tail, for the next fetch (another wfetch), which
 * may answer at once, inside this loop: so the first waiter of this fetch
 * is looked for anywhere in the list.
 */
static void
cred_base_done(void *arg, int ok, const struct cred *c, const char *err)
{
	struct cred_base *b = arg;
	unsigned long fetch = b->b_n_fetches;
	struct sts_ctx *w;
	struct cred got;
	time_t now = time(NULL);

	b->b_busy = 0;
	memset(&got, 0, sizeof(got));
	if (ok)
		got = *c;	/* c is the provider's, wiped after we return */
	if (ok && b->b_fetch_gen == b->b_gen) {
		cred_wipe(&b->b_cur);
		b->b_cur = got;
		b->b_fetched = now;
		b->b_have = 1;
	}
	b->b_refs++;	/* a role's done may drop its reference */
	while ((w = cred_base_take(b, fetch)) != NULL) {
		w->waiting = 0;
		sts_base_done(w, ok, ok ? &got : NULL, err);
	}
	cred_wipe(&got);
	cred_base_unref(b);
}

/* A role's fetch asks the base: at once from the kept credential, else through its fetch. */
static void
cred_base_get(struct cred_base *b, struct sts_ctx *x, time_t now)
{
	struct sts_ctx **tail;

	if (!b->b_busy && cred_base_fresh(b, now)) {
		struct cred c = b->b_cur;

		sts_base_done(x, 1, &c, NULL);
		cred_wipe(&c);
		return;
	}
	for (tail = &b->b_wait; *tail != NULL; tail = &(*tail)->wnext)
		;
	*tail = x;
	x->wnext = NULL;
	x->waiting = 1;
	if (b->b_busy) {
		x->wfetch = b->b_n_fetches;
		return;		/* coalesced with the fetch under way */
	}
	b->b_busy = 1;
	b->b_fetch_gen = b->b_gen;
	x->wfetch = ++b->b_n_fetches;
	b->b_prov->cp_fetch(b->b_prov, now, cred_base_done, b);	/* may answer at once */
}

/* A role that goes away stops waiting. */
static void
cred_base_cancel(struct cred_base *b, struct sts_ctx *x)
{
	struct sts_ctx **pp;

	for (pp = &b->b_wait; *pp != NULL; pp = &(*pp)->wnext)
		if (*pp == x) {
			*pp = x->wnext;
			break;
		}
	x->wnext = NULL;
	x->waiting = 0;
}

int
cred_base_new(struct cred_provider *p, struct cred_base **out, char *err, size_t errlen)
{
	struct cred_base *b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		if (p->cp_free != NULL)
			p->cp_free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->b_prov = p;
	b->b_refs = 1;
	*out = b;
	return 0;
}

struct cred_base *
cred_base_ref(struct cred_base *b)
{
	b->b_refs++;
	return b;
}

void
cred_base_unref(struct cred_base *b)
{
	if (b == NULL || --b->b_refs > 0)
		return;
	if (b->b_prov->cp_free != NULL)
		b->b_prov->cp_free(b->b_prov);
	cred_wipe(&b->b_cur);
	free(b);
}

void
cred_base_forget(struct cred_base *b)
{
	b->b_gen++;
	b->b_have = 0;
	cred_wipe(&b->b_cur);
}

unsigned long
cred_base_fetches(const struct cred_base *b)
{
	return b->b_n_fetches;
}

/* ---- the provider ------------------------------------------------------- */

static void
sts_fetch(struct cred_provider *cp, time_t now, cred_done_fn done, void *arg)
{
	struct sts_ctx *x = cp->cp_ctx;

	if (x->done != NULL) {	/* the cache never overlaps fetches */
		done(arg, 0, NULL, "can't happen: a fetch is under way");
		return;
	}
	/* 8 KiB that only a fetch needs: many roles keep none between fetches */
	if ((x->cur = calloc(1, sizeof(*x->cur))) == NULL) {
		done(arg, 0, NULL, "out of memory");
		return;
	}
	x->done = done;
	x->arg = arg;
	cred_base_get(x->base, x, now);
}

static void
sts_forget(struct cred_provider *cp)
{
	struct sts_ctx *x = cp->cp_ctx;

	cred_base_forget(x->base);
}

static void
sts_free(struct cred_provider *cp)
{
	struct sts_ctx *x = cp->cp_ctx;

	if (x->waiting)
		cred_base_cancel(x->base, x);
	cred_base_unref(x->base);
	if (x->cur != NULL)
		cred_wipe(x->cur);
	free(x->cur);
	free(x);
	free(cp);
}

/* Copy s (at most max bytes of it, and a NUL) to *at, which moves past it; the copy. */
static const char *
pack(char **at, const char *s, size_t max)
{
	char *copy = *at;
	size_t n = strnlen(s, max);

	memcpy(copy, s, n);
	copy[n] = '\0';
	*at += n + 1;
	return copy;
}

int
cred_provider_sts_on(struct cred_base *base, const struct assume_step *steps, size_t nsteps,
    unsigned duration, int allow_long_term, struct cred_provider **out, char *err,
    size_t errlen)
{
	struct cred_provider *p;
	struct sts_ctx *x;
	struct assume_tags *tags;
	char desc[ERRBUF_LEN], *at;
	size_t i, size, ntagged = 0;

	if (nsteps > STS_CHAIN_MAX) {
		snprintf(err, errlen, "more than %d roles to assume", STS_CHAIN_MAX);
		return -1;
	}
	for (i = 0; i < nsteps; i++) {
		if (steps[i].as_tags == NULL)
			continue;
		if (steps[i].as_tags->at_n > STS_STEP_TAGS_MAX) {
			snprintf(err, errlen, "more than %d session tags", STS_STEP_TAGS_MAX);
			return -1;
		}
		ntagged++;
	}
	if (nsteps > 0)
		snprintf(desc, sizeof(desc), "role %.300s%s (STS AssumeRole%s with %.600s)",
		    steps[nsteps - 1].as_arn, nsteps > 1 ? ", a chain" : "",
		    ntagged > 0 ? ", session tags," : "", base->b_prov->cp_desc);
	else
		snprintf(desc, sizeof(desc), "%.900s (keys without a session token go through "
		    "STS GetSessionToken)", base->b_prov->cp_desc);
	size = sizeof(*x) + nsteps * sizeof(x->steps[0]) + ntagged * sizeof(*tags) +
	    strlen(desc) + 1;
	for (i = 0; i < nsteps; i++)
		size += strnlen(steps[i].as_arn, STS_ARN_MAX - 1) +
		    strnlen(steps[i].as_session, STS_SESSION_NAME_MAX) +
		    strnlen(steps[i].as_external_id, STS_EXTERNAL_ID_MAX) + 3;
	/* one allocation, freed as one */
	if ((p = calloc(1, sizeof(*p))) == NULL || (x = calloc(1, size)) == NULL) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tags = (struct assume_tags *)(void *)&x->steps[nsteps];
	at = (char *)&tags[ntagged];
	for (i = 0; i < nsteps; i++) {
		x->steps[i].ss_arn = pack(&at, steps[i].as_arn, STS_ARN_MAX - 1);
		x->steps[i].ss_session = pack(&at, steps[i].as_session, STS_SESSION_NAME_MAX);
		x->steps[i].ss_external_id = pack(&at, steps[i].as_external_id,
		    STS_EXTERNAL_ID_MAX);
		x->steps[i].ss_duration = steps[i].as_duration;
		if (steps[i].as_tags != NULL) {
			*tags = *steps[i].as_tags;
			x->steps[i].ss_tags = tags++;
		}
	}
	p->cp_desc = pack(&at, desc, sizeof(desc) - 1);
	x->nsteps = nsteps;
	x->duration = duration;
	x->allow_long_term = allow_long_term;
	x->base = cred_base_ref(base);
	p->cp_name = "sts";
	p->cp_fetch = sts_fetch;
	p->cp_forget = sts_forget;
	p->cp_free = sts_free;
	p->cp_ctx = x;
	p->cp_base = base->b_prov;	/* borrowed: the files and profile of the source */
	*out = p;
	return 0;
}

int
cred_provider_sts(struct cred_provider *base, const struct assume_step *steps, size_t nsteps,
    unsigned duration, int allow_long_term, struct cred_provider **out, char *err,
    size_t errlen)
{
	struct cred_base *b;
	int rc;

	if (cred_base_new(base, &b, err, errlen) == -1)
		return -1;
	rc = cred_provider_sts_on(b, steps, nsteps, duration, allow_long_term, out, err, errlen);
	cred_base_unref(b);	/* the provider holds it now, or nobody: freed */
	return rc;
}

/* ---- names, durations, chains ------------------------------------------ */

int
sts_role_name(const char *arn, char *name, size_t namelen, char *account, size_t acctlen)
{
	const char *p = arn, *acct, *res, *slash;
	int i;

	/* arn:PARTITION:iam::ACCOUNT:role/[path/]NAME */
	if (strncmp(p, "arn:", 4) != 0)
		return -1;
	p += 4;
	for (i = 0; i < 3; i++) {	/* partition, service, region */
		if ((p = strchr(p, ':')) == NULL)
			return -1;
		p++;
	}
	acct = p;
	if ((res = strchr(acct, ':')) == NULL || res - acct != 12)
		return -1;
	res++;
	if (strncmp(res, "role/", 5) != 0 || (slash = strrchr(res, '/')) == NULL ||
	    slash[1] == '\0' || strlen(slash + 1) >= namelen || acctlen < 13)
		return -1;
	memcpy(account, acct, 12);
	account[12] = '\0';
	snprintf(name, namelen, "%s", slash + 1);
	return 0;
}

void
sts_default_session_name(char *out, size_t len)
{
	char host[HOSTNAME_MAX];
	size_t i, o;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	o = (size_t)snprintf(out, len, "%s", SESSION_PREFIX);
	for (i = 0; host[i] != '\0' && o + 1 < len && o < STS_SESSION_NAME_MAX; i++) {
		char c = host[i];
		/* RoleSessionName allows [\w+=,.@-] */
		out[o++] = (isalnum((unsigned char)c) || strchr("_+=,.@-", c) != NULL) ? c : '-';
	}
	out[o] = '\0';
}

int
sts_parse_duration(const char *s, unsigned *out)
{
	unsigned long v;

	if (parse_duration_bounded(s, strlen(s), DUR_S | DUR_M | DUR_H, DUR_IN_S, STS_DURATION_MIN,
	    STS_DURATION_MAX, &v) == -1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
sts_session_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 2 || n > STS_SESSION_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_+=,.@-", s[i]) == NULL)
			return 0;
	return 1;
}

/* "FILE:LINE: source_profile chain loops: a -> b -> a" */
static void
chain_loop(char *err, size_t errlen, const struct aws_kv *kv, const char *const *seen,
    size_t n, const char *again)
{
	size_t i, off;
	int w;

	w = snprintf(err, errlen, "%s:%u: source_profile chain loops:", kv->kv_file, kv->kv_line);
	off = w < 0 ? 0 : (size_t)w;
	for (i = 0; i <= n && off < errlen; i++) {
		w = snprintf(err + off, errlen - off, "%s%s", i == 0 ? " " : " -> ",
		    i < n ? seen[i] : again);
		off += w < 0 ? 0 : (size_t)w;
	}
}

int
sts_profile_chain(const struct aws_conf *ac, const char *profile, const char *default_session,
    struct assume_step *steps, size_t *nsteps, char *root, size_t rootlen, char *err,
    size_t errlen)
{
	const char *seen[STS_CHAIN_MAX + 1], *cur = profile, *v, *src;
	struct assume_step tmp[STS_CHAIN_MAX];
	const struct aws_kv *kv;
	size_t n = 0, i;
	unsigned long d;

	for (;;) {
		if (awsconf_get(ac, cur, "role_arn", &kv) == NULL)
			break;		/* cur holds the keys */
		for (i = 0; i < n; i++)
			if (strcmp(seen[i], cur) == 0) {
				chain_loop(err, errlen, kv, seen, n, cur);
				return -1;
			}
		if (n == STS_CHAIN_MAX) {
			snprintf(err, errlen, "profile %s: more than %d roles in its source_profile "
			    "chain", profile, STS_CHAIN_MAX);
			return -1;
		}
		seen[n] = cur;
		memset(&tmp[n], 0, sizeof(tmp[n]));
		v = awsconf_get(ac, cur, "role_arn", &kv);
		if (strlen(v) >= sizeof(tmp[n].as_arn)) {
			snprintf(err, errlen, "%s:%u: role_arn is too long", kv->kv_file, kv->kv_line);
			return -1;
		}
		snprintf(tmp[n].as_arn, sizeof(tmp[n].as_arn), "%s", v);
		if ((v = awsconf_get(ac, cur, "external_id", &kv)) != NULL) {
			if (strlen(v) >= sizeof(tmp[n].as_external_id)) {
				snprintf(err, errlen, "%s:%u: external_id is too long", kv->kv_file,
				    kv->kv_line);
				return -1;
			}
			snprintf(tmp[n].as_external_id, sizeof(tmp[n].as_external_id), "%s", v);
		}
		if ((v = awsconf_get(ac, cur, "role_session_name", &kv)) != NULL) {
			if (!sts_session_name_ok(v)) {
				snprintf(err, errlen, "%s:%u: role_session_name must be 2 to %d of "
				    "A-Z a-z 0-9 _ + = , . @ -", kv->kv_file, kv->kv_line,
				    STS_SESSION_NAME_MAX);
				return -1;
			}
			snprintf(tmp[n].as_session, sizeof(tmp[n].as_session), "%s", v);
		} else
			snprintf(tmp[n].as_session, sizeof(tmp[n].as_session), "%s", default_session);
		if ((v = awsconf_get(ac, cur, "duration_seconds", &kv)) != NULL) {
			if (parse_uint_bounded(v, strlen(v), STS_DURATION_MAX, &d) != 0 ||
			    d < STS_DURATION_MIN) {
				snprintf(err, errlen, "%s:%u: duration_seconds must be %d to %d",
				    kv->kv_file, kv->kv_line, STS_DURATION_MIN, STS_DURATION_MAX);
				return -1;
			}
			tmp[n].as_duration = (unsigned)d;
		}
		if ((src = awsconf_get(ac, cur, "source_profile", &kv)) == NULL) {
			const struct aws_kv *ra;
			awsconf_get(ac, cur, "role_arn", &ra);
			if (awsconf_get(ac, cur, "credential_source", &kv) != NULL)
				snprintf(err, errlen, "%s:%u: credential_source is not supported; use "
				    "source_profile", kv->kv_file, kv->kv_line);
			else
				snprintf(err, errlen, "%s:%u: profile %s has role_arn but no "
				    "source_profile", ra->kv_file, ra->kv_line, cur);
			return -1;
		}
		if (!awsconf_has_profile(ac, src)) {
			snprintf(err, errlen, "%s:%u: source_profile %s: no such profile",
			    kv->kv_file, kv->kv_line, src);
			return -1;
		}
		n++;
		/* a profile that is its own source holds its keys (as the AWS CLI allows) */
		if (strcmp(src, cur) == 0)
			break;
		cur = src;
	}
	if (strlen(cur) >= rootlen) {
		snprintf(err, errlen, "profile name %s is too long", cur);
		return -1;
	}
	snprintf(root, rootlen, "%s", cur);
	/* assumed from the keys outwards: the profile asked for comes last */
	for (i = 0; i < n; i++)
		steps[i] = tmp[n - 1 - i];
	*nsteps = n;
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
}
