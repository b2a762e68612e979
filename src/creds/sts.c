/*
 * sts.c: the STS client (AssumeRole, GetSessionToken) over libcurl's multi
 * socket API, driven by our event loop (core/loop.c).
 *
 * Signing is libcurl's own SigV4 (CURLOPT_AWS_SIGV4).  Debian 12's libcurl
 * 7.88 gets it right in exactly one request shape, and every request here
 * has that shape (design.md, "libcurl"):
 *
 *	POST, path "/", empty query, a form body (CURLOPT_POSTFIELDS),
 *	provider "aws:amz:<region>:sts" spelled out (7.88 guesses region
 *	and service from the host name otherwise, and a loopback stand-in
 *	has neither), the session token as an X-Amz-Security-Token header,
 *	and no Date / X-Amz-Date of our own (libcurl adds X-Amz-Date).
 *
 * libcurl signs host, x-amz-date and every header we add ourselves
 * (content-type, x-amz-security-token); its own defaults (Accept,
 * User-Agent, Content-Length) go unsigned, which SigV4 allows.
 *
 * The loop glue: CURLMOPT_SOCKETFUNCTION puts each socket libcurl wants
 * watched into a slot of a fixed table (STS_SOCKETS_MAX) and registers it
 * with loop_watch_add; CURLMOPT_TIMERFUNCTION maps onto one loop_timer.
 * Events go back to libcurl through curl_multi_socket_action, after which
 * finished transfers are drained with curl_multi_info_read and reported.
 * The table is static on purpose: the loop may still hold an event for a
 * slot in the batch it is working through after we dropped it, and a
 * static slot with lw_fd -1 is skipped where freed memory would be read.
 *
 * Completion is only ever reported from a loop callback (an event or the
 * timer); sts_call itself only adds the transfer, so done can never run
 * before sts_call returns.  done may start new calls (role chaining); it
 * must not call sts_cleanup.
 *
 * At most STS_CALLS_MAX transfers are in flight.  A call beyond that is
 * built at once (form, headers, keys handed to its easy handle: nothing of
 * the caller's is kept) and waits in a FIFO of up to STS_QUEUE_MAX; a
 * transfer that ends gives its slot to the oldest waiting call before its
 * done runs, and a new call waits behind any waiting one, so the order
 * holds.  sts_cleanup reports the calls still waiting (never sent).
 *
 * Secrets: the secret key goes to libcurl (CURLOPT_PASSWORD), which keeps
 * its own copy until the easy handle is freed; the token header and the
 * reply body (which carries the new credentials) are wiped by us.  Error
 * messages name the endpoint's host, never a key or the body.
 *
 * Plain http:// is accepted only when the configured endpoint says so
 * (tests run a stand-in on 127.0.0.1); the protocol list of each transfer
 * is exactly the endpoint's scheme, and redirects are never followed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/*
 * libcurl is loaded with dlopen when STS is first used, not linked: linking
 * it maps a dozen libraries whose constructors (GnuTLS and p11-kit, through
 * librtmp) cost about 1 MiB of private memory in every daemon, STS or not.
 * The declarations of curl.h are kept; every call below goes through the
 * table `cu` (the #defines after it), and since -lcurl is not on the link
 * line, a call that bypassed the table would not link.
 */
#define CURL_DISABLE_TYPECHECK	/* curl_easy_setopt is a plain function then */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stddef.h>

#include "creds/creds.h"

/*
 * Local limits (not shared with any other file).
 * Each call needs up to two sockets while happy eyeballs races IPv4 and
 * IPv6, plus a cached idle connection or two: four slots a call is ample.
 */
#define STS_SOCKETS_MAX		(4 * STS_CALLS_MAX)	/* descriptors watched for libcurl */
#define STS_MAXCONNECTS		4	/* idle connections libcurl keeps for reuse */
/* bytes of a form body: fixed names and numbers plus every value percent-encoded (x3) */
#define STS_FORM_MAX		(256 + 3 * (STS_ARN_MAX + STS_SESSION_NAME_MAX + \
				    STS_EXTERNAL_ID_MAX))
#define STS_HOST_MAX		256	/* bytes of the endpoint host kept for messages */
#define STS_SIGV4_MAX		(16 + STS_REGION_BUF)	/* "aws:amz:<region>:sts" */
#define STS_REGION_MAX		32	/* characters in a region name */
#define STS_VERSION		"2011-06-15"	/* the STS API version */
#define LIBCURL_SONAME		"libcurl.so.4"	/* libcurl4-openssl-dev's library */

static struct {
	void		*h;
	CURLcode	(*global_init)(long);
	void		(*global_cleanup)(void);
	const char	*(*easy_strerror)(CURLcode);
	CURL		*(*easy_init)(void);
	void		(*easy_cleanup)(CURL *);
	CURLcode	(*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	(*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLM		*(*multi_init)(void);
	CURLMcode	(*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	(*multi_cleanup)(CURLM *);
	CURLMcode	(*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	(*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	(*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	CURLMcode	(*multi_assign)(CURLM *, curl_socket_t, void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		(*slist_free_all)(struct curl_slist *);
	CURLU		*(*url)(void);
	void		(*url_cleanup)(CURLU *);
	CURLUcode	(*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode	(*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	void		(*free_)(void *);
} cu;

static const struct {
	const char	*name;
	size_t		 off;
} cu_syms[] = {
	{ "curl_global_init",		offsetof(__typeof__(cu), global_init) },
	{ "curl_global_cleanup",	offsetof(__typeof__(cu), global_cleanup) },
	{ "curl_easy_strerror",		offsetof(__typeof__(cu), easy_strerror) },
	{ "curl_easy_init",		offsetof(__typeof__(cu), easy_init) },
	{ "curl_easy_cleanup",		offsetof(__typeof__(cu), easy_cleanup) },
	{ "curl_easy_setopt",		offsetof(__typeof__(cu), easy_setopt) },
	{ "curl_easy_getinfo",		offsetof(__typeof__(cu), easy_getinfo) },
	{ "curl_multi_init",		offsetof(__typeof__(cu), multi_init) },
	{ "curl_multi_setopt",		offsetof(__typeof__(cu), multi_setopt) },
	{ "curl_multi_cleanup",		offsetof(__typeof__(cu), multi_cleanup) },
	{ "curl_multi_add_handle",	offsetof(__typeof__(cu), multi_add_handle) },
	{ "curl_multi_remove_handle",	offsetof(__typeof__(cu), multi_remove_handle) },
	{ "curl_multi_socket_action",	offsetof(__typeof__(cu), multi_socket_action) },
	{ "curl_multi_info_read",	offsetof(__typeof__(cu), multi_info_read) },
	{ "curl_multi_assign",		offsetof(__typeof__(cu), multi_assign) },
	{ "curl_slist_append",		offsetof(__typeof__(cu), slist_append) },
	{ "curl_slist_free_all",	offsetof(__typeof__(cu), slist_free_all) },
	{ "curl_url",			offsetof(__typeof__(cu), url) },
	{ "curl_url_cleanup",		offsetof(__typeof__(cu), url_cleanup) },
	{ "curl_url_get",		offsetof(__typeof__(cu), url_get) },
	{ "curl_url_set",		offsetof(__typeof__(cu), url_set) },
	{ "curl_free",			offsetof(__typeof__(cu), free_) },
};

/* curl.h's own three-argument checks would call the library directly */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init	(*cu.global_init)
#define curl_global_cleanup	(*cu.global_cleanup)
#define curl_easy_strerror	(*cu.easy_strerror)
#define curl_easy_init		(*cu.easy_init)
#define curl_easy_cleanup	(*cu.easy_cleanup)
#define curl_easy_setopt	(*cu.easy_setopt)
#define curl_easy_getinfo	(*cu.easy_getinfo)
#define curl_multi_init		(*cu.multi_init)
#define curl_multi_setopt	(*cu.multi_setopt)
#define curl_multi_cleanup	(*cu.multi_cleanup)
#define curl_multi_add_handle	(*cu.multi_add_handle)
#define curl_multi_remove_handle (*cu.multi_remove_handle)
#define curl_multi_socket_action (*cu.multi_socket_action)
#define curl_multi_info_read	(*cu.multi_info_read)
#define curl_multi_assign	(*cu.multi_assign)
#define curl_slist_append	(*cu.slist_append)
#define curl_slist_free_all	(*cu.slist_free_all)
#define curl_url		(*cu.url)
#define curl_url_cleanup	(*cu.url_cleanup)
#define curl_url_get		(*cu.url_get)
#define curl_url_set		(*cu.url_set)
#define curl_free		(*cu.free_)

/* Load libcurl and fill cu, once.  0 / -1 with err. */
static int
curl_load(char *err, size_t errlen)
{
	const char *e;
	void *h, *sym;
	size_t i;

	if (cu.h != NULL)
		return 0;
	if ((h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(err, errlen, "STS needs %s (Debian: libcurl4): %s", LIBCURL_SONAME,
		    e != NULL ? e : "not found");
		return -1;
	}
	for (i = 0; i < sizeof(cu_syms) / sizeof(cu_syms[0]); i++) {
		if ((sym = dlsym(h, cu_syms[i].name)) == NULL) {
			snprintf(err, errlen, "%s has no %s", LIBCURL_SONAME, cu_syms[i].name);
			dlclose(h);
			memset(&cu, 0, sizeof(cu));
			return -1;
		}
		/* POSIX: a data pointer from dlsym converts to the function's type */
		memcpy((char *)&cu + cu_syms[i].off, &sym, sizeof(sym));
	}
	cu.h = h;
	return 0;
}

typedef void (*sts_done_fn)(void *, const struct sts_result *, const char *);

/* One socket libcurl asked us to watch. */
struct sts_sock {
	int		 sck_used;
	uint32_t	 sck_events;	/* what is registered with the loop */
	struct loop_watch sck_watch;
};

/* One transfer in flight. */
struct sts_job {
	CURL		*j_easy;
	struct curl_slist *j_headers;
	struct sbuf	 j_form;	/* the request body; CURLOPT_POSTFIELDS points here */
	struct sbuf	 j_reply;	/* the reply body: holds secrets */
	int		 j_too_big;	/* the reply went past STS_RESP_MAX */
	enum sts_action	 j_action;
	sts_done_fn	 j_done;
	void		*j_arg;
	struct sts_result j_result;	/* holds secrets */
	char		 j_curlerr[CURL_ERROR_SIZE];
	struct sts_job	*j_prev, *j_next;	/* in flight (sts.jobs) */
	struct sts_job	*j_wnext;	/* waiting (sts.wait_head) */
};

static struct {
	int		 inited;
	int		 global_inited;
	CURLM		*multi;
	struct loop_timer timer;
	struct sts_sock	 socks[STS_SOCKETS_MAX];
	struct sts_job	*jobs;		/* in flight */
	size_t		 njobs;
	struct sts_job	*wait_head, *wait_tail;	/* built, waiting for a free slot: FIFO */
	size_t		 nwait;
	char		 region[STS_REGION_BUF];
	char		 endpoint[STS_URL_MAX];
	char		 host[STS_HOST_MAX];	/* for messages */
	char		 scheme[8];	/* "https" or "http": the only protocol allowed */
	char		 sigv4[STS_SIGV4_MAX];
	char		 ca_bundle[STS_URL_MAX];
	char		 useragent[64];
} sts;

static void	sts_drain(void);
static void	sts_promote(void);

/* ---- buffers ----------------------------------------------------------- */

/*
 * Append n bytes to a growable sbuf (SBUF_GROWN: its ceiling is fixed at
 * birth, style habit 4).  0, or -1 when that passed the ceiling or memory
 * ran out.
 */
static int
sts_buf_add(struct sbuf *b, const void *p, size_t n)
{
	sbuf_put(b, p, n);
	return b->sb_full ? -1 : 0;
}

/* ---- form encoding ----------------------------------------------------- */

/* RFC 3986 §2.3 unreserved characters pass; every other byte is %XX (upper case). */
static int
sts_form_add_value(struct sbuf *b, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s;
	char enc[3];

	for (s = (const unsigned char *)v; *s != '\0'; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' ||
		    *s == '~') {
			if (sts_buf_add(b, s, 1) == -1)
				return -1;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[*s >> 4];
		enc[2] = hex[*s & 0x0f];
		if (sts_buf_add(b, enc, 3) == -1)
			return -1;
	}
	return 0;
}

/* "&name=value" (no '&' for the first pair). */
static int
sts_form_add(struct sbuf *b, const char *name, const char *value)
{
	if (b->sb_len > 0 && sts_buf_add(b, "&", 1) == -1)
		return -1;
	if (sts_buf_add(b, name, strlen(name)) == -1 || sts_buf_add(b, "=", 1) == -1)
		return -1;
	return sts_form_add_value(b, value);
}

/* Build the form body of rq into b.  0 / -1 with err. */
static int
sts_form_build(const struct sts_req *rq, struct sbuf *b, char *err, size_t errlen)
{
	char num[16];

	if (rq->sr_action == STS_ASSUME_ROLE) {
		if (rq->sr_role_arn == NULL || rq->sr_role_arn[0] == '\0' ||
		    strlen(rq->sr_role_arn) > STS_ARN_MAX) {
			snprintf(err, errlen, "STS AssumeRole: role ARN missing or over %d bytes",
			    STS_ARN_MAX);
			return -1;
		}
		if (rq->sr_session_name == NULL || rq->sr_session_name[0] == '\0' ||
		    strlen(rq->sr_session_name) > STS_SESSION_NAME_MAX) {
			snprintf(err, errlen,
			    "STS AssumeRole: session name missing or over %d bytes",
			    STS_SESSION_NAME_MAX);
			return -1;
		}
		if (rq->sr_external_id != NULL &&
		    strlen(rq->sr_external_id) > STS_EXTERNAL_ID_MAX) {
			snprintf(err, errlen, "STS AssumeRole: external id over %d bytes",
			    STS_EXTERNAL_ID_MAX);
			return -1;
		}
		if (sts_form_add(b, "Action", "AssumeRole") == -1 ||
		    sts_form_add(b, "Version", STS_VERSION) == -1 ||
		    sts_form_add(b, "RoleArn", rq->sr_role_arn) == -1 ||
		    sts_form_add(b, "RoleSessionName", rq->sr_session_name) == -1)
			goto nomem;
	} else if (rq->sr_action == STS_GET_SESSION_TOKEN) {
		if (sts_form_add(b, "Action", "GetSessionToken") == -1 ||
		    sts_form_add(b, "Version", STS_VERSION) == -1)
			goto nomem;
	} else {
		snprintf(err, errlen, "STS: unknown action %d", (int)rq->sr_action);
		return -1;
	}
	if (rq->sr_duration != 0) {
		snprintf(num, sizeof(num), "%u", rq->sr_duration);
		if (sts_form_add(b, "DurationSeconds", num) == -1)
			goto nomem;
	}
	if (rq->sr_action == STS_ASSUME_ROLE && rq->sr_external_id != NULL &&
	    rq->sr_external_id[0] != '\0' &&
	    sts_form_add(b, "ExternalId", rq->sr_external_id) == -1)
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "STS: request body: out of memory");
	return -1;
}

/* ---- endpoint ---------------------------------------------------------- */

/* Lower-case letters, digits and '-', 1..STS_REGION_MAX characters. */
static int
sts_region_ok(const char *region)
{
	size_t i;

	if (region == NULL)
		return 0;
	for (i = 0; region[i] != '\0'; i++) {
		if (i >= STS_REGION_MAX)
			return 0;
		if (!((region[i] >= 'a' && region[i] <= 'z') ||
		    (region[i] >= '0' && region[i] <= '9') || region[i] == '-'))
			return 0;
	}
	return i > 0;
}

int
sts_endpoint_for(const char *region, char *url, size_t len)
{
	int n;

	if (len > 0)
		url[0] = '\0';
	if (!sts_region_ok(region))
		return -1;
	/* the China partition lives under its own domain */
	n = snprintf(url, len, "https://sts.%s.amazonaws.com%s/", region,
	    strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			url[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Check an endpoint URL has the one shape we sign correctly (scheme http or
 * https, path "/", no query, no user info) and note its scheme and host.
 */
static int
sts_endpoint_check(const char *url, char *err, size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL, *user = NULL;
	int rc = -1;

	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "STS endpoint: out of memory");
		goto fail;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "STS endpoint \"%s\": not a URL", url);
		goto fail;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		snprintf(err, errlen, "STS endpoint \"%s\": scheme must be https (or http)",
		    url);
		goto fail;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(err, errlen, "STS endpoint: user info not allowed");
		goto fail;
	}
	/* libcurl 7.88 signs only an empty query and the path "/" correctly */
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    strcmp(path, "/") != 0 ||
	    curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		snprintf(err, errlen, "STS endpoint \"%s\": path must be \"/\" with no query",
		    url);
		goto fail;
	}
	if (strlen(host) >= sizeof(sts.host)) {
		snprintf(err, errlen, "STS endpoint: host name too long");
		goto fail;
	}
	snprintf(sts.scheme, sizeof(sts.scheme), "%s", scheme);
	snprintf(sts.host, sizeof(sts.host), "%s", host);
	rc = 0;
fail:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	if (u != NULL)
		curl_url_cleanup(u);
	return rc;
}

/* ---- loop glue --------------------------------------------------------- */

/* The loop saw activity on a socket of libcurl's. */
static void
sts_on_sock(int fd, uint32_t events, void *arg)
{
	int flags = 0, running;

	(void)arg;
	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(sts.multi, fd, flags, &running);
	sts_drain();
}

/* The loop timer libcurl asked for ran out. */
static void
sts_on_timer(void *arg)
{
	int running;

	(void)arg;
	curl_multi_socket_action(sts.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	sts_drain();
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what, or stop watching it. */
static int
sts_sock_cb(CURL *easy, curl_socket_t s, int what, void *clientp, void *socketp)
{
	struct sts_sock *ss = socketp;
	uint32_t events = 0;
	size_t i;

	(void)easy;
	(void)clientp;
	if (what == CURL_POLL_REMOVE) {
		/* libcurl forgets the socket and its assigned pointer itself */
		if (ss != NULL) {
			loop_watch_del(&ss->sck_watch);
			ss->sck_used = 0;
			ss->sck_events = 0;
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (ss == NULL) {
		for (i = 0; i < STS_SOCKETS_MAX && sts.socks[i].sck_used; i++)
			;
		if (i == STS_SOCKETS_MAX) {
			/* libcurl (7.85 on) fails the transfers on -1 */
			log_err("STS: more than %d sockets to watch", STS_SOCKETS_MAX);
			return -1;
		}
		ss = &sts.socks[i];
		ss->sck_used = 1;
		ss->sck_events = 0;
		ss->sck_watch.lw_fd = -1;
		curl_multi_assign(sts.multi, s, ss);
	} else if (ss->sck_events == events)
		return 0;
	/* loop_watch_add only adds: changing the events is a delete and an add */
	loop_watch_del(&ss->sck_watch);
	ss->sck_events = 0;
	if (loop_watch_add(&ss->sck_watch, s, events, sts_on_sock, ss) == -1) {
		log_err("STS: watching socket %d: %s", (int)s, strerror(errno));
		return -1;
	}
	ss->sck_events = events;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer; -1 cancels it. */
static int
sts_timer_cb(CURLM *multi, long timeout_ms, void *clientp)
{
	(void)multi;
	(void)clientp;
	if (timeout_ms < 0)
		loop_timer_cancel(&sts.timer);
	else	/* even 0: libcurl must not be re-entered from here */
		loop_timer_set(&sts.timer, (uint64_t)timeout_ms, sts_on_timer, NULL);
	return 0;
}

/* ---- jobs -------------------------------------------------------------- */

/* CURLOPT_WRITEFUNCTION: keep the reply, up to STS_RESP_MAX. */
static size_t
sts_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sts_job *j = arg;
	size_t n = size * nmemb;

	if (sts_buf_add(&j->j_reply, p, n) == -1) {
		j->j_too_big = 1;
		return 0;	/* a short count aborts the transfer */
	}
	return n;
}

/* Wipe the token out of the header list before freeing it. */
static void
sts_headers_free(struct curl_slist **h)
{
	struct curl_slist *l;

	for (l = *h; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(*h);
	*h = NULL;
}

/* Unlink (if linked), free everything; the easy handle must be out of the multi. */
static void
sts_job_free(struct sts_job *j)
{
	if (j == NULL)
		return;
	if (j->j_prev != NULL)
		j->j_prev->j_next = j->j_next;
	else if (sts.jobs == j)
		sts.jobs = j->j_next;
	if (j->j_next != NULL)
		j->j_next->j_prev = j->j_prev;
	if (j->j_easy != NULL)
		curl_easy_cleanup(j->j_easy);
	j->j_easy = NULL;
	sts_headers_free(&j->j_headers);
	sbuf_free(&j->j_form);
	sbuf_free(&j->j_reply);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* A transfer ended: report it, then free the job.  From the loop only. */
static void
sts_finish(struct sts_job *j, CURLcode cc)
{
	char msg[ERRBUF_LEN + 64], perr[ERRBUF_LEN];
	long status = 0;

	curl_multi_remove_handle(sts.multi, j->j_easy);
	if (sts.njobs > 0)
		sts.njobs--;
	/* the slot goes to the oldest waiting call before done may start new ones */
	sts_promote();
	curl_easy_getinfo(j->j_easy, CURLINFO_RESPONSE_CODE, &status);
	if (j->j_too_big) {
		snprintf(msg, sizeof(msg), "STS %s: reply exceeds %d bytes", sts.host,
		    STS_RESP_MAX);
		j->j_done(j->j_arg, NULL, msg);
	} else if (cc != CURLE_OK) {
		/* the error buffer has the detail (which timeout, what TLS said) */
		if (j->j_curlerr[0] != '\0')
			snprintf(msg, sizeof(msg), "STS %s: %s (%.*s)", sts.host,
			    curl_easy_strerror(cc), CURL_ERROR_SIZE, j->j_curlerr);
		else
			snprintf(msg, sizeof(msg), "STS %s: %s", sts.host,
			    curl_easy_strerror(cc));
		j->j_done(j->j_arg, NULL, msg);
	} else if (sts_xml_parse(j->j_reply.sb_p != NULL ? j->j_reply.sb_p : "",
	    j->j_reply.sb_len, j->j_action, &j->j_result, perr, sizeof(perr)) == -1) {
		snprintf(msg, sizeof(msg), "STS reply (HTTP %ld): %s", status, perr);
		j->j_done(j->j_arg, NULL, msg);
	} else {
		j->j_result.st_http_status = status;
		j->j_done(j->j_arg, &j->j_result, NULL);
	}
	sts_job_free(j);	/* wipes the reply and the result */
}

/*
 * Hand a built job to libcurl and link it in flight.  Adding only arms the
 * timer: the transfer starts from the loop.  0, or -1 with err (j untouched).
 */
static int
sts_start(struct sts_job *j, char *err, size_t errlen)
{
	if (curl_multi_add_handle(sts.multi, j->j_easy) != CURLM_OK) {
		snprintf(err, errlen, "STS: curl_multi_add_handle failed");
		return -1;
	}
	j->j_next = sts.jobs;
	if (sts.jobs != NULL)
		sts.jobs->j_prev = j;
	sts.jobs = j;
	sts.njobs++;
	return 0;
}

/* The first waiting job, unlinked; NULL when none waits. */
static struct sts_job *
sts_dequeue(void)
{
	struct sts_job *j = sts.wait_head;

	if (j == NULL)
		return NULL;
	if ((sts.wait_head = j->j_wnext) == NULL)
		sts.wait_tail = NULL;
	j->j_wnext = NULL;
	sts.nwait--;
	return j;
}

/*
 * Start waiting calls, oldest first, while slots are free.  One that
 * libcurl refuses is reported at once (from the loop: this runs after a
 * transfer ended).
 */
static void
sts_promote(void)
{
	char err[ERRBUF_LEN];
	struct sts_job *j;

	while (sts.njobs < STS_CALLS_MAX && (j = sts_dequeue()) != NULL) {
		if (sts_start(j, err, sizeof(err)) == 0)
			continue;
		j->j_done(j->j_arg, NULL, err);
		sts_job_free(j);
	}
}

/* Report every finished transfer. */
static void
sts_drain(void)
{
	struct sts_job *j;
	CURLMsg *m;
	char *priv;
	int left;

	if (sts.multi == NULL)
		return;
	while ((m = curl_multi_info_read(sts.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		j = (struct sts_job *)(void *)priv;
		if (j != NULL)
			sts_finish(j, m->data.result);
	}
}

/* ---- public ------------------------------------------------------------ */

int
sts_init(const struct sts_config *cfg, char *err, size_t errlen)
{
	CURLcode cc;

	if (sts.inited) {
		snprintf(err, errlen, "STS: already initialised");
		return -1;
	}
	if (!sts_region_ok(cfg->sc_region)) {
		snprintf(err, errlen, "STS: bad region \"%.*s\"", STS_REGION_MAX,
		    cfg->sc_region);
		return -1;
	}
	snprintf(sts.region, sizeof(sts.region), "%s", cfg->sc_region);
	if (cfg->sc_endpoint[0] != '\0')
		snprintf(sts.endpoint, sizeof(sts.endpoint), "%s", cfg->sc_endpoint);
	else if (sts_endpoint_for(sts.region, sts.endpoint, sizeof(sts.endpoint)) == -1) {
		snprintf(err, errlen, "STS: no endpoint for region %s", sts.region);
		return -1;
	}
	snprintf(sts.ca_bundle, sizeof(sts.ca_bundle), "%s", cfg->sc_ca_bundle);
	snprintf(sts.sigv4, sizeof(sts.sigv4), "aws:amz:%s:sts", sts.region);
	snprintf(sts.useragent, sizeof(sts.useragent), "%s/%s", PROGNAME, GIMME_VERSION);
	if (curl_load(err, errlen) == -1)
		return -1;
	if (!sts.global_inited) {
		if ((cc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
			snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(cc));
			return -1;
		}
		sts.global_inited = 1;
	}
	if (sts_endpoint_check(sts.endpoint, err, errlen) == -1)
		goto fail;
	if ((sts.multi = curl_multi_init()) == NULL) {
		snprintf(err, errlen, "curl_multi_init failed");
		goto fail;
	}
	if (curl_multi_setopt(sts.multi, CURLMOPT_SOCKETFUNCTION, sts_sock_cb) != CURLM_OK ||
	    curl_multi_setopt(sts.multi, CURLMOPT_TIMERFUNCTION, sts_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(sts.multi, CURLMOPT_MAXCONNECTS, (long)STS_MAXCONNECTS) !=
	    CURLM_OK) {
		snprintf(err, errlen, "curl_multi_setopt failed");
		goto fail;
	}
	sts.inited = 1;
	return 0;
fail:
	if (sts.multi != NULL)
		curl_multi_cleanup(sts.multi);
	sts.multi = NULL;
	curl_global_cleanup();
	sts.global_inited = 0;
	return -1;
}

/* curl_easy_setopt, or leave through fail: with the option's name in err. */
#define STS_SETOPT(h, opt, val) do {					\
	if ((cc = curl_easy_setopt((h), (opt), (val))) != CURLE_OK) {	\
		snprintf(err, errlen, "STS: %s: %s", #opt,		\
		    curl_easy_strerror(cc));				\
		goto fail;						\
	}								\
} while (0)

int
sts_call(const struct sts_req *rq, void (*done)(void *arg, const struct sts_result *r,
    const char *err), void *arg, char *err, size_t errlen)
{
	struct sts_job *j = NULL;
	struct curl_slist *nl;
	struct sbuf tok;
	CURLcode cc;
	const struct cred *b = rq->sr_base;

	tok = (struct sbuf)SBUF_GROWN(CRED_TOKEN_MAX + 64);
	if (!sts.inited) {
		snprintf(err, errlen, "STS: not initialised");
		goto fail;
	}
	if (sts.njobs + sts.nwait >= STS_CALLS_MAX + STS_QUEUE_MAX) {
		snprintf(err, errlen, "STS: %d requests in flight and %d waiting already",
		    STS_CALLS_MAX, STS_QUEUE_MAX);
		goto fail;
	}
	if (b == NULL || b->cr_akid[0] == '\0' || b->cr_secret[0] == '\0') {
		snprintf(err, errlen, "STS: no signing credentials");
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "STS: out of memory");
		goto fail;
	}
	j->j_form = (struct sbuf)SBUF_GROWN(STS_FORM_MAX);
	j->j_reply = (struct sbuf)SBUF_GROWN(STS_RESP_MAX);
	j->j_action = rq->sr_action;
	j->j_done = done;
	j->j_arg = arg;
	if (sts_form_build(rq, &j->j_form, err, errlen) == -1)
		goto fail;

	/* headers: the token is signed because libcurl signs every header we add */
	if ((nl = curl_slist_append(NULL,
	    "Content-Type: application/x-www-form-urlencoded; charset=utf-8")) == NULL)
		goto nomem;
	j->j_headers = nl;
	if (b->cr_token[0] != '\0') {
		if (sts_buf_add(&tok, "X-Amz-Security-Token: ", 22) == -1 ||
		    sts_buf_add(&tok, b->cr_token, strlen(b->cr_token)) == -1)
			goto nomem;
		if ((nl = curl_slist_append(j->j_headers, tok.sb_p)) == NULL)
			goto nomem;
		j->j_headers = nl;
	}
	sbuf_free(&tok);

	if ((j->j_easy = curl_easy_init()) == NULL)
		goto nomem;
	STS_SETOPT(j->j_easy, CURLOPT_PRIVATE, (void *)j);
	STS_SETOPT(j->j_easy, CURLOPT_ERRORBUFFER, j->j_curlerr);
	STS_SETOPT(j->j_easy, CURLOPT_URL, sts.endpoint);
	STS_SETOPT(j->j_easy, CURLOPT_PROTOCOLS_STR, sts.scheme);
	STS_SETOPT(j->j_easy, CURLOPT_NOSIGNAL, 1L);
	STS_SETOPT(j->j_easy, CURLOPT_POST, 1L);
	STS_SETOPT(j->j_easy, CURLOPT_POSTFIELDS, j->j_form.sb_p);
	STS_SETOPT(j->j_easy, CURLOPT_POSTFIELDSIZE, (long)j->j_form.sb_len);
	STS_SETOPT(j->j_easy, CURLOPT_HTTPHEADER, j->j_headers);
	STS_SETOPT(j->j_easy, CURLOPT_AWS_SIGV4, sts.sigv4);
	STS_SETOPT(j->j_easy, CURLOPT_USERNAME, b->cr_akid);
	STS_SETOPT(j->j_easy, CURLOPT_PASSWORD, b->cr_secret);
	STS_SETOPT(j->j_easy, CURLOPT_USERAGENT, sts.useragent);
	STS_SETOPT(j->j_easy, CURLOPT_TIMEOUT_MS, (long)STS_TIMEOUT_MS);
	STS_SETOPT(j->j_easy, CURLOPT_CONNECTTIMEOUT_MS, (long)STS_CONNECT_TIMEOUT_MS);
	STS_SETOPT(j->j_easy, CURLOPT_FOLLOWLOCATION, 0L);
	STS_SETOPT(j->j_easy, CURLOPT_SSL_VERIFYPEER, 1L);
	STS_SETOPT(j->j_easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (sts.ca_bundle[0] != '\0') {
		/*
		 * Read here, as a blob, rather than named with CURLOPT_CAINFO:
		 * libcurl would open it at every connection, and after the
		 * privilege drop only read_file_capped can still reach a file the
		 * new user may not open (through the sandbox helper).  Edits
		 * still take effect at the next call.
		 */
		struct curl_blob blob;
		char *ca;
		size_t calen;

		if (read_file_capped(sts.ca_bundle, STS_CA_BUNDLE_MAX, &ca, &calen) == -1) {
			snprintf(err, errlen, "STS: CA bundle %s: %s", sts.ca_bundle,
			    strerror(errno));
			goto fail;
		}
		blob.data = ca;
		blob.len = calen;
		blob.flags = CURL_BLOB_COPY;
		cc = curl_easy_setopt(j->j_easy, CURLOPT_CAINFO_BLOB, &blob);
		free(ca);
		if (cc != CURLE_OK) {
			snprintf(err, errlen, "STS: CURLOPT_CAINFO_BLOB: %s", curl_easy_strerror(cc));
			goto fail;
		}
	}
	STS_SETOPT(j->j_easy, CURLOPT_WRITEFUNCTION, sts_write_cb);
	STS_SETOPT(j->j_easy, CURLOPT_WRITEDATA, (void *)j);

	/* every slot taken, or calls older than this one waiting: wait behind them */
	if (sts.njobs >= STS_CALLS_MAX || sts.wait_head != NULL) {
		if (sts.wait_tail != NULL)
			sts.wait_tail->j_wnext = j;
		else
			sts.wait_head = j;
		sts.wait_tail = j;
		sts.nwait++;
		return 0;
	}
	if (sts_start(j, err, errlen) == -1)
		goto fail;
	return 0;
nomem:
	snprintf(err, errlen, "STS: out of memory");
fail:
	sbuf_free(&tok);
	sts_job_free(j);	/* not linked yet: only frees */
	return -1;
}

#undef STS_SETOPT

void
sts_cleanup(void)
{
	struct sts_job *j;
	size_t i;

	/*
	 * Calls still waiting are told (their done may not start new calls:
	 * sts_call refuses from here on); calls in flight end unreported.
	 */
	sts.inited = 0;
	while ((j = sts_dequeue()) != NULL) {
		j->j_done(j->j_arg, NULL, "STS: shutting down; the request was never sent");
		sts_job_free(j);
	}
	while (sts.jobs != NULL) {
		if (sts.multi != NULL)
			curl_multi_remove_handle(sts.multi, sts.jobs->j_easy);
		sts_job_free(sts.jobs);	/* unlinks it */
	}
	sts.njobs = 0;
	if (sts.multi != NULL)
		curl_multi_cleanup(sts.multi);
	sts.multi = NULL;
	loop_timer_cancel(&sts.timer);
	for (i = 0; i < STS_SOCKETS_MAX; i++) {
		if (sts.socks[i].sck_used)
			loop_watch_del(&sts.socks[i].sck_watch);
		sts.socks[i].sck_used = 0;
		sts.socks[i].sck_events = 0;
	}
	if (sts.global_inited)
		curl_global_cleanup();
	sts.global_inited = 0;
	sts.inited = 0;
}
