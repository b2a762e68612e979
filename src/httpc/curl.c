/*
 * curl.c: libcurl on the event loop, shared by every HTTP client.
 *
 * The loop glue: CURLMOPT_SOCKETFUNCTION puts each socket libcurl wants
 * watched into a slot of a fixed table (HTTPC_SOCKETS_MAX) and registers it
 * with loop_watch_add; CURLMOPT_TIMERFUNCTION maps onto a loop_timer.
 * Events go back to libcurl through curl_multi_socket_action, after which
 * finished transfers are drained with curl_multi_info_read and reported to
 * their own hx_done.
 *
 * Two pools, each its own multi handle and so its own connection cache:
 * streams (a transfer with hx_on_data: the Kubernetes watches), and calls
 * (every other: STS, list pages, GETs, TokenReviews).  A call's connection
 * is kept for the next call, but not while nothing calls: once the calls
 * pool has had no transfer for HTTPC_IDLE_CLOSE_MS, its multi handle is
 * cleaned up, which closes its idle connections (each with its TLS state
 * and buffers, about 90 KiB), and the next call makes it again.  A burst
 * (the first fetch of a hundred roles) still reuses its connections.
 *
 * The socket table is static on purpose: the loop may still hold an event
 * for a slot in the batch it is working through after we dropped it, and a
 * static slot with lw_fd -1 is skipped where freed memory would be read.
 *
 * Completion is only ever reported from a loop callback (an event or the
 * timer); httpc_xfer_start only adds the transfer, so hx_done can never run
 * before it returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <dlfcn.h>
#include <stddef.h>

#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#include "httpc/httpc.h"

struct httpc_curl httpc_cu;

static const struct {
	const char	*name;
	size_t		 off;
} cu_syms[] = {
	{ "curl_global_init",		offsetof(struct httpc_curl, global_init) },
	{ "curl_global_cleanup",	offsetof(struct httpc_curl, global_cleanup) },
	{ "curl_easy_strerror",		offsetof(struct httpc_curl, easy_strerror) },
	{ "curl_easy_init",		offsetof(struct httpc_curl, easy_init) },
	{ "curl_easy_cleanup",		offsetof(struct httpc_curl, easy_cleanup) },
	{ "curl_easy_setopt",		offsetof(struct httpc_curl, easy_setopt) },
	{ "curl_easy_getinfo",		offsetof(struct httpc_curl, easy_getinfo) },
	{ "curl_multi_init",		offsetof(struct httpc_curl, multi_init) },
	{ "curl_multi_setopt",		offsetof(struct httpc_curl, multi_setopt) },
	{ "curl_multi_cleanup",		offsetof(struct httpc_curl, multi_cleanup) },
	{ "curl_multi_add_handle",	offsetof(struct httpc_curl, multi_add_handle) },
	{ "curl_multi_remove_handle",	offsetof(struct httpc_curl, multi_remove_handle) },
	{ "curl_multi_socket_action",	offsetof(struct httpc_curl, multi_socket_action) },
	{ "curl_multi_info_read",	offsetof(struct httpc_curl, multi_info_read) },
	{ "curl_multi_assign",		offsetof(struct httpc_curl, multi_assign) },
	{ "curl_slist_append",		offsetof(struct httpc_curl, slist_append) },
	{ "curl_slist_free_all",	offsetof(struct httpc_curl, slist_free_all) },
	{ "curl_url",			offsetof(struct httpc_curl, url) },
	{ "curl_url_cleanup",		offsetof(struct httpc_curl, url_cleanup) },
	{ "curl_url_get",		offsetof(struct httpc_curl, url_get) },
	{ "curl_url_set",		offsetof(struct httpc_curl, url_set) },
	{ "curl_free",			offsetof(struct httpc_curl, free_) },
	{ "curl_version_info",		offsetof(struct httpc_curl, version_info) },
};

/* A multi handle and what goes with it (see above). */
struct httpc_pool {
	CURLM		*multi;		/* NULL until used, and after an idle close */
	struct loop_timer timer;	/* the one libcurl asks for */
	struct loop_timer idle;		/* calls: the idle close */
	int		 running;	/* transfers in the multi handle, or pending for it */
};

enum { POOL_CALLS, POOL_STREAMS, POOLS };

static void	pool_done(struct httpc_pool *p);

/* x's pool: a stream (a reply handed on as it comes) or a call. */
#define XFER_POOL(x)	(&hc.pools[(x)->hx_on_data != NULL ? POOL_STREAMS : POOL_CALLS])

/* One socket libcurl asked us to watch. */
struct httpc_sock {
	struct httpc_pool *hs_pool;	/* whose */
	int		 hs_used;
	uint32_t	 hs_events;	/* what is registered with the loop */
	struct loop_watch hs_watch;
};

static struct {
	int		 users;		/* httpc_open calls not yet closed */
	int		 global_inited;
	struct httpc_pool pools[POOLS];
	struct httpc_sock socks[HTTPC_SOCKETS_MAX];
	char		 useragent[HTTPC_USERAGENT_MAX];
	struct httpc_xfer *pending;	/* started from inside libcurl's callbacks: added after */
	int		 ssl_ours;	/* libcurl's TLS is our OpenSSL: its SSL_CTX is ours to set */
} hc;

/* Load libcurl and fill httpc_cu, once.  0 / -1 with err. */
static int
curl_load(char *err, size_t errlen)
{
	const char *e;
	void *h, *sym;
	size_t i;
	int gnutls_env;

	if (httpc_cu.h != NULL)
		return 0;
	/*
	 * Debian's libcurl brings GnuTLS (through librtmp), whose constructor
	 * initialises it in full (ASN.1 trees, its config: about 150 KiB of
	 * heap) though only OpenSSL ever runs here.  Its own variable skips
	 * that; it is set only for the dlopen, and not over the user's own.
	 * GnuTLS reads it with secure_getenv: a daemon exec'd with file
	 * capabilities (the image's) runs AT_SECURE, and GnuTLS initialises.
	 */
	gnutls_env = getenv(GNUTLS_NO_INIT_ENV) == NULL && setenv(GNUTLS_NO_INIT_ENV, "1", 0) == 0;
	h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (gnutls_env)
		unsetenv(GNUTLS_NO_INIT_ENV);
	if (h == NULL) {
		e = dlerror();
		snprintf(err, errlen, "HTTPS clients need %s (Debian: libcurl4): %s", LIBCURL_SONAME,
		    e != NULL ? e : "not found");
		return -1;
	}
	for (i = 0; i < sizeof(cu_syms) / sizeof(cu_syms[0]); i++) {
		if ((sym = dlsym(h, cu_syms[i].name)) == NULL) {
			snprintf(err, errlen, "%s has no %s", LIBCURL_SONAME, cu_syms[i].name);
			dlclose(h);
			memset(&httpc_cu, 0, sizeof(httpc_cu));
			return -1;
		}
		/* POSIX: a data pointer from dlsym converts to the function's type */
		memcpy((char *)&httpc_cu + cu_syms[i].off, &sym, sizeof(sym));
	}
	httpc_cu.h = h;
	return 0;
}

/* ---- loop glue --------------------------------------------------------- */

/* Report every finished transfer, of both pools. */
static void
httpc_drain(void)
{
	struct httpc_pool *p;
	struct httpc_xfer *x;
	CURLMsg *m;
	char *priv;
	int left;
	size_t i;

	for (i = 0; i < POOLS; i++) {
		p = &hc.pools[i];
		/* p->multi goes NULL if a done callback closed the last user */
		while (p->multi != NULL && (m = curl_multi_info_read(p->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			priv = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
			x = (struct httpc_xfer *)(void *)priv;
			if (x == NULL)
				continue;
			/* m is invalid once the handle is removed: keep the result first */
			CURLcode cc = m->data.result;

			curl_multi_remove_handle(p->multi, x->hx_easy);
			x->hx_running = 0;
			pool_done(p);
			x->hx_done(x->hx_arg, cc);
		}
	}
}

/*
 * Add the transfers started while libcurl was calling us back (a watch
 * event that makes a pod's role fetch, say): libcurl refuses to be called
 * from its own callbacks (CURLM_RECURSIVE_API_CALL), so they waited here.
 * One that cannot be added ends at once, as a failed transfer.
 */
static void
httpc_add_pending(void)
{
	struct httpc_xfer *x;

	while ((x = hc.pending) != NULL) {
		hc.pending = x->hx_next;
		x->hx_next = NULL;
		x->hx_pending = 0;
		if (curl_multi_add_handle(XFER_POOL(x)->multi, x->hx_easy) != CURLM_OK) {
			x->hx_running = 0;
			pool_done(XFER_POOL(x));
			snprintf(x->hx_curlerr, sizeof(x->hx_curlerr), "curl_multi_add_handle failed");
			x->hx_done(x->hx_arg, CURLE_FAILED_INIT);
		}
	}
}

/* The loop saw activity on a socket of libcurl's. */
static void
httpc_on_sock(int fd, uint32_t events, void *arg)
{
	struct httpc_sock *ss = arg;
	struct httpc_pool *p = ss->hs_pool;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	if (p->multi != NULL)
		curl_multi_socket_action(p->multi, fd, flags, &running);
	httpc_add_pending();
	httpc_drain();
	httpc_add_pending();	/* a done callback may start the next */
}

/* The loop timer libcurl asked for ran out. */
static void
httpc_on_timer(void *arg)
{
	struct httpc_pool *p = arg;
	int running;

	if (p->multi != NULL)
		curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	httpc_add_pending();
	httpc_drain();
	httpc_add_pending();
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what, or stop watching it. */
static int
httpc_sock_cb(CURL *easy, curl_socket_t s, int what, void *clientp, void *socketp)
{
	struct httpc_pool *p = clientp;
	struct httpc_sock *ss = socketp;
	uint32_t events = 0;
	size_t i;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* libcurl forgets the socket and its assigned pointer itself */
		if (ss != NULL) {
			loop_watch_del(&ss->hs_watch);
			ss->hs_used = 0;
			ss->hs_events = 0;
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (ss == NULL) {
		for (i = 0; i < HTTPC_SOCKETS_MAX && hc.socks[i].hs_used; i++)
			;
		if (i == HTTPC_SOCKETS_MAX) {
			/* libcurl (7.85 on) fails the transfers on -1 */
			log_err("libcurl: more than %d sockets to watch", HTTPC_SOCKETS_MAX);
			return -1;
		}
		ss = &hc.socks[i];
		ss->hs_pool = p;
		ss->hs_used = 1;
		ss->hs_events = 0;
		ss->hs_watch.lw_fd = -1;
		curl_multi_assign(p->multi, s, ss);
	} else if (ss->hs_events == events)
		return 0;
	/* loop_watch_add only adds: changing the events is a delete and an add */
	loop_watch_del(&ss->hs_watch);
	ss->hs_events = 0;
	if (loop_watch_add(&ss->hs_watch, s, events, httpc_on_sock, ss) == 0) {
		ss->hs_events = events;
		return 0;
	}
	log_err("libcurl: watching socket %d: %s", (int)s, strerror(errno));
	return -1;
}

/* CURLMOPT_TIMERFUNCTION: one timer a pool; -1 cancels it. */
static int
httpc_timer_cb(CURLM *multi, long timeout_ms, void *clientp)
{
	struct httpc_pool *p = clientp;

	(void)multi;
	if (timeout_ms < 0)
		loop_timer_cancel(&p->timer);
	else	/* even 0: libcurl must not be re-entered from here */
		loop_timer_set(&p->timer, (uint64_t)timeout_ms, httpc_on_timer, p);
	return 0;
}

/* ---- pools ------------------------------------------------------------- */

/* p's multi handle, made if it has none.  0 / -1 with err. */
static int
pool_multi(struct httpc_pool *p, char *err, size_t errlen)
{
	if (p->multi != NULL)
		return 0;
	if ((p->multi = curl_multi_init()) == NULL) {
		snprintf(err, errlen, "libcurl: curl_multi_init failed");
		return -1;
	}
	if (curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, httpc_sock_cb) != CURLM_OK ||
	    curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, (void *)p) != CURLM_OK ||
	    curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, httpc_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, (void *)p) != CURLM_OK ||
	    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)HTTPC_MAXCONNECTS) !=
	    CURLM_OK) {
		snprintf(err, errlen, "libcurl: curl_multi_setopt failed");
		curl_multi_cleanup(p->multi);
		p->multi = NULL;
		return -1;
	}
	return 0;
}

/* Clean p's multi handle up (its connections close) and forget its sockets and timers. */
static void
pool_close(struct httpc_pool *p)
{
	size_t i;

	if (p->multi != NULL)
		curl_multi_cleanup(p->multi);
	p->multi = NULL;
	loop_timer_cancel(&p->timer);
	loop_timer_cancel(&p->idle);
	for (i = 0; i < HTTPC_SOCKETS_MAX; i++) {
		if (hc.socks[i].hs_pool != p)
			continue;
		if (hc.socks[i].hs_used)
			loop_watch_del(&hc.socks[i].hs_watch);
		hc.socks[i].hs_used = 0;
		hc.socks[i].hs_events = 0;
		hc.socks[i].hs_pool = NULL;
	}
}

/* The calls pool's idle time ran out. */
static void
pool_idle_due(void *arg)
{
	struct httpc_pool *p = arg;

	if (p->running == 0)
		pool_close(p);
}

/* One transfer of p less; the calls pool closes after HTTPC_IDLE_CLOSE_MS with none. */
static void
pool_done(struct httpc_pool *p)
{
	if (p->running > 0)
		p->running--;
	if (p->running == 0 && p == &hc.pools[POOL_CALLS])
		loop_timer_set(&p->idle, HTTPC_IDLE_CLOSE_MS, pool_idle_due, p);
}

/* ---- open / close ------------------------------------------------------ */

/* Tear both pools down (their multi handles, watches and timers); global cleanup. */
static void
httpc_teardown(void)
{
	size_t i;

	for (i = 0; i < POOLS; i++) {
		pool_close(&hc.pools[i]);
		hc.pools[i].running = 0;
	}
	hc.pending = NULL;
	if (hc.global_inited)
		curl_global_cleanup();
	hc.global_inited = 0;
}

int
httpc_open(char *err, size_t errlen)
{
	curl_version_info_data *vi;
	char ours[32];
	CURLcode cc;

	if (hc.users > 0) {
		hc.users++;
		return 0;
	}
	snprintf(hc.useragent, sizeof(hc.useragent), "%s/%s", PROGNAME, GIMME_VERSION);
	if (curl_load(err, errlen) == -1)
		return -1;
	if ((cc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(cc));
		return -1;
	}
	hc.global_inited = 1;
	vi = curl_version_info(CURLVERSION_NOW);
	snprintf(ours, sizeof(ours), "OpenSSL/%d.", OPENSSL_VERSION_MAJOR);
	hc.ssl_ours = vi != NULL && vi->ssl_version != NULL &&
	    strncmp(vi->ssl_version, ours, strlen(ours)) == 0;
	hc.users = 1;
	return 0;
}

void
httpc_close(void)
{
	if (hc.users == 0 || --hc.users > 0)
		return;
	httpc_teardown();
}

/* ---- transfers --------------------------------------------------------- */

int
httpc_buf_add(struct sbuf *b, const void *p, size_t n)
{
	sbuf_put(b, p, n);
	return b->sb_full ? -1 : 0;
}

/* CURLOPT_WRITEFUNCTION: keep the reply up to its cap, or hand it on. */
static size_t
httpc_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct httpc_xfer *x = arg;
	size_t n = size * nmemb;

	if (x->hx_on_data != NULL)
		return x->hx_on_data(x->hx_arg, p, n) == -1 ? 0 : n;
	if (httpc_buf_add(&x->hx_body, p, n) == -1) {
		x->hx_too_big = 1;
		return 0;	/* a short count aborts the transfer */
	}
	return n;
}

/*
 * CURLOPT_SSL_CTX_FUNCTION: each new connection's TLS context gives its
 * record buffers back while nothing is read or written (about 34 KiB a
 * connection; a watch waits most of its life).  Set only when libcurl's
 * TLS is the OpenSSL we link (hc.ssl_ours), and a refusal is no failure.
 */
static CURLcode
httpc_ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *arg)
{
	(void)easy;
	(void)arg;
	SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

int
httpc_xfer_init(struct httpc_xfer *x, size_t body_max, void (*done)(void *arg, CURLcode cc),
    void *arg, char *err, size_t errlen)
{
	CURLcode cc;

	memset(x, 0, sizeof(*x));
	x->hx_body = (struct sbuf)SBUF_GROWN(body_max);
	x->hx_done = done;
	x->hx_arg = arg;
	if (hc.users == 0) {
		snprintf(err, errlen, "libcurl: not opened");
		return -1;
	}
	if ((x->hx_easy = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "libcurl: out of memory");
		return -1;
	}
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_PRIVATE, (void *)x);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_ERRORBUFFER, x->hx_curlerr);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_NOSIGNAL, 1L);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_FOLLOWLOCATION, 0L);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_SSL_VERIFYPEER, 1L);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_SSL_VERIFYHOST, 2L);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_USERAGENT, hc.useragent);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_WRITEFUNCTION, httpc_write_cb);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_WRITEDATA, (void *)x);
	if (hc.ssl_ours)
		(void)curl_easy_setopt(x->hx_easy, CURLOPT_SSL_CTX_FUNCTION, httpc_ssl_ctx_cb);
	/* a handle keeps both buffers as long as it lives: a watch's, for minutes */
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_BUFFERSIZE, (long)HTTPC_READ_BUFFER);
	HTTPC_SETOPT("libcurl", x->hx_easy, CURLOPT_UPLOAD_BUFFERSIZE, (long)HTTPC_SEND_BUFFER);
	return 0;
fail:
	httpc_xfer_free(x);
	return -1;
}

int
httpc_xfer_start(struct httpc_xfer *x, char *err, size_t errlen)
{
	struct httpc_pool *p = XFER_POOL(x);
	CURLMcode mc;

	x->hx_too_big = 0;
	x->hx_curlerr[0] = '\0';
	if (hc.users == 0) {
		snprintf(err, errlen, "libcurl: not opened");
		return -1;
	}
	if (pool_multi(p, err, errlen) == -1)
		return -1;
	if ((mc = curl_multi_add_handle(p->multi, x->hx_easy)) != CURLM_OK &&
	    mc != CURLM_RECURSIVE_API_CALL) {
		snprintf(err, errlen, "libcurl: curl_multi_add_handle failed");
		return -1;
	}
	p->running++;
	loop_timer_cancel(&p->idle);
	if (mc == CURLM_RECURSIVE_API_CALL) {
		/* inside one of libcurl's callbacks: added once it returns */
		x->hx_next = hc.pending;
		hc.pending = x;
		x->hx_pending = 1;
	}
	x->hx_running = 1;
	return 0;
}

void
httpc_xfer_stop(struct httpc_xfer *x)
{
	struct httpc_xfer **pp;

	if (!x->hx_running)
		return;
	if (x->hx_pending) {
		for (pp = &hc.pending; *pp != NULL && *pp != x; pp = &(*pp)->hx_next)
			;
		if (*pp == x)
			*pp = x->hx_next;
		x->hx_next = NULL;
		x->hx_pending = 0;
	} else if (XFER_POOL(x)->multi != NULL && x->hx_easy != NULL)
		curl_multi_remove_handle(XFER_POOL(x)->multi, x->hx_easy);
	x->hx_running = 0;
	pool_done(XFER_POOL(x));
}

void
httpc_xfer_free(struct httpc_xfer *x)
{
	httpc_xfer_stop(x);
	sbuf_free(&x->hx_body);
	if (x->hx_easy != NULL)
		curl_easy_cleanup(x->hx_easy);
	x->hx_easy = NULL;
}

long
httpc_xfer_status(const struct httpc_xfer *x)
{
	long status = 0;

	if (x->hx_easy != NULL)
		curl_easy_getinfo(x->hx_easy, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

void
httpc_xfer_error(const struct httpc_xfer *x, CURLcode cc, const char *who, char *msg,
    size_t msglen)
{
	/* the error buffer has the detail (which timeout, what TLS said) */
	if (x->hx_curlerr[0] != '\0')
		snprintf(msg, msglen, "%s: %s (%.*s)", who, curl_easy_strerror(cc),
		    CURL_ERROR_SIZE, x->hx_curlerr);
	else
		snprintf(msg, msglen, "%s: %s", who, curl_easy_strerror(cc));
}

CURLcode
httpc_setopt_blob(CURL *easy, CURLoption opt, const void *p, size_t n)
{
	struct curl_blob blob;

	blob.data = (void *)(uintptr_t)p;
	blob.len = n;
	blob.flags = CURL_BLOB_COPY;
	return curl_easy_setopt(easy, opt, &blob);
}

int
httpc_pct_encode(struct sbuf *b, const char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)v;
	char enc[3];
	size_t i;

	for (i = 0; i < n; i++) {
		if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
		    s[i] == '.' || s[i] == '~') {
			if (httpc_buf_add(b, &s[i], 1) == -1)
				return -1;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[s[i] >> 4];
		enc[2] = hex[s[i] & 0x0f];
		if (httpc_buf_add(b, enc, 3) == -1)
			return -1;
	}
	return 0;
}

void
httpc_headers_free(struct curl_slist **h)
{
	struct curl_slist *l;

	for (l = *h; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(*h);
	*h = NULL;
}
