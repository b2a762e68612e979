/*
 * httpc/: HTTP clients, one libcurl shared by every client on the loop.
 * The layer sits on core/ and under the clients: creds/sts.c (STS) and
 * kube/ (the Kubernetes API).  It knows nothing of what they send.
 *
 *   curl.c     libcurl loaded with dlopen on first use (not linked: see
 *              below), two multi handles (pools: streams, and calls, whose
 *              idle connections close HTTPC_IDLE_CLOSE_MS after the last
 *              call) driven by core/loop.c through the multi socket API
 *              (HTTPC_SOCKETS_MAX sockets in a static table, a loop timer
 *              each), and transfers (struct httpc_xfer) whose end is
 *              reported to their own callback from the loop; a reply body
 *              is kept whole up to a cap, or handed on as it comes (streams:
 *              a Kubernetes watch)
 *
 * Why dlopen: linking libcurl maps a dozen libraries whose constructors
 * (GnuTLS and p11-kit, through librtmp) cost about 1 MiB of private memory
 * in every daemon, whether it ever makes a request or not.  The
 * declarations of curl.h are kept; every call goes through the table
 * httpc_cu (the #defines below redirect the curl_* names to it), and since
 * -lcurl is not on the link line, a call that bypassed the table would not
 * link.  Include this header only in a client's .c files: it brings curl.h.
 *
 * Users: each client calls httpc_open once before its first transfer and
 * httpc_close once when it stops (after removing its own transfers); the
 * last close tears the multi handles down and calls curl_global_cleanup.
 */
#ifndef HTTPC_H
#define HTTPC_H

#define CURL_DISABLE_TYPECHECK	/* curl_easy_setopt is a plain function then */
#include <curl/curl.h>

#include "core/core.h"

/*
 * Each transfer needs up to two sockets while happy eyeballs races IPv4 and
 * IPv6, plus a cached idle connection or two: four slots a transfer, for
 * STS's STS_CALLS_MAX calls and the Kubernetes client's handful, is ample.
 */
#define HTTPC_SOCKETS_MAX	96	/* descriptors watched for libcurl */
#define HTTPC_MAXCONNECTS	8	/* idle connections libcurl keeps for reuse, a pool */
#define HTTPC_IDLE_CLOSE_MS	1000	/* ms with no call before the calls' connections close
					   (under the daemon's 2 s quiet time before a trim) */
#define HTTPC_READ_BUFFER	2048	/* bytes libcurl reads at a time (its default: 16 KiB) */
#define HTTPC_SEND_BUFFER	16384	/* bytes of libcurl's send buffer, its least (default 64 KiB:
					   an HTTPS request is copied there before it is sent) */
#define HTTPC_USERAGENT_MAX	64	/* bytes of "gimme-aws-mini/VERSION" */
#define LIBCURL_SONAME		"libcurl.so.4"	/* libcurl4-openssl-dev's library */
#define GNUTLS_NO_INIT_ENV	"GNUTLS_NO_IMPLICIT_INIT"	/* GnuTLS: no init in its constructor */

/* The libcurl functions the clients use (filled by httpc_open). */
struct httpc_curl {
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
	curl_version_info_data *(*version_info)(CURLversion);
};
extern struct httpc_curl httpc_cu;

/* curl.h's own three-argument checks would call the library directly */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init	(*httpc_cu.global_init)
#define curl_global_cleanup	(*httpc_cu.global_cleanup)
#define curl_easy_strerror	(*httpc_cu.easy_strerror)
#define curl_easy_init		(*httpc_cu.easy_init)
#define curl_easy_cleanup	(*httpc_cu.easy_cleanup)
#define curl_easy_setopt	(*httpc_cu.easy_setopt)
#define curl_easy_getinfo	(*httpc_cu.easy_getinfo)
#define curl_multi_init		(*httpc_cu.multi_init)
#define curl_multi_setopt	(*httpc_cu.multi_setopt)
#define curl_multi_cleanup	(*httpc_cu.multi_cleanup)
#define curl_multi_add_handle	(*httpc_cu.multi_add_handle)
#define curl_multi_remove_handle (*httpc_cu.multi_remove_handle)
#define curl_multi_socket_action (*httpc_cu.multi_socket_action)
#define curl_multi_info_read	(*httpc_cu.multi_info_read)
#define curl_multi_assign	(*httpc_cu.multi_assign)
#define curl_slist_append	(*httpc_cu.slist_append)
#define curl_slist_free_all	(*httpc_cu.slist_free_all)
#define curl_url		(*httpc_cu.url)
#define curl_url_cleanup	(*httpc_cu.url_cleanup)
#define curl_url_get		(*httpc_cu.url_get)
#define curl_url_set		(*httpc_cu.url_set)
#define curl_free		(*httpc_cu.free_)
#define curl_version_info	(*httpc_cu.version_info)

/*
 * One transfer, embedded in the client's own state.  httpc_xfer_init makes
 * its easy handle with the options every client wants (CURLOPT_PRIVATE,
 * the error buffer, no signals, no redirects, TLS verification on, our
 * User-Agent, the write callback below); the client adds its own (URL,
 * protocols, timeouts, body, headers) and calls httpc_xfer_start.
 *
 * The reply: with hx_on_data NULL, the body is kept in hx_body (SBUF_GROWN
 * with the cap given to httpc_xfer_init, wiped when freed); going past the
 * cap aborts the transfer with hx_too_big set.  With hx_on_data set, each
 * piece is handed on as it arrives and nothing is kept; a return of -1
 * aborts the transfer (its end is then CURLE_WRITE_ERROR).
 *
 * hx_done runs exactly once per started transfer, from the loop (never
 * from httpc_xfer_start), after the handle left the multi: the client may
 * free the transfer there or start it again.  httpc_xfer_stop removes a
 * transfer in flight without reporting it.
 */
struct httpc_xfer {
	CURL		*hx_easy;
	struct sbuf	 hx_body;	/* the reply (hx_on_data NULL) */
	int		 hx_too_big;	/* the reply went past its cap */
	int		 hx_running;	/* in the multi handle (or about to be: hx_pending) */
	int		 hx_pending;	/* started inside a libcurl callback: not added yet */
	struct httpc_xfer *hx_next;	/* the pending list */
	char		 hx_curlerr[CURL_ERROR_SIZE];
	int		(*hx_on_data)(void *arg, const char *p, size_t n);
	void		(*hx_done)(void *arg, CURLcode cc);
	void		*hx_arg;
};

/*
 * curl_easy_setopt, or leave through the caller's fail: label with
 * "WHO: CURLOPT_NAME: why" in err (the caller has CURLcode cc, err, errlen).
 */
#define HTTPC_SETOPT(who, h, opt, val) do {				\
	if ((cc = curl_easy_setopt((h), (opt), (val))) != CURLE_OK) {	\
		snprintf(err, errlen, "%s: %s: %s", (who), #opt,	\
		    curl_easy_strerror(cc));				\
		goto fail;						\
	}								\
} while (0)

/*
 * Load libcurl (once) and curl_global_init (first user; the pools come with
 * their first transfer).  0 / -1 with err.
 */
int		 httpc_open(char *err, size_t errlen);
/* One user less; the last one tears it down (its transfers must be stopped first). */
void		 httpc_close(void);
/*
 * A new easy handle in x with the common options, the reply kept up to
 * body_max bytes (or streamed, when the caller sets x->hx_on_data after
 * this and keeps it until the end: it also picks the pool), done(arg, cc)
 * at its end.  0 / -1 with err (x holds nothing then).
 */
int		 httpc_xfer_init(struct httpc_xfer *x, size_t body_max,
		    void (*done)(void *arg, CURLcode cc), void *arg, char *err, size_t errlen);
/* Hand x to the multi handle: it starts from the loop.  0 / -1 with err. */
int		 httpc_xfer_start(struct httpc_xfer *x, char *err, size_t errlen);
/* Out of the multi (if in), not reported. */
void		 httpc_xfer_stop(struct httpc_xfer *x);
/* Stop, free the easy handle, wipe and free the body.  x may be reused with httpc_xfer_init. */
void		 httpc_xfer_free(struct httpc_xfer *x);
/* The HTTP status of the last response (0: none). */
long		 httpc_xfer_status(const struct httpc_xfer *x);
/* "WHO: what libcurl said (its error buffer)" for a transfer that ended with cc. */
void		 httpc_xfer_error(const struct httpc_xfer *x, CURLcode cc, const char *who,
		    char *msg, size_t msglen);
/* A blob option (CURLOPT_CAINFO_BLOB, _SSLCERT_BLOB, _SSLKEY_BLOB): libcurl copies it.  CURLE_OK or its error. */
CURLcode	 httpc_setopt_blob(CURL *easy, CURLoption opt, const void *p, size_t n);
/* Percent-encode s (RFC 3986 unreserved pass, every other byte %XX) onto b.  0 / -1 (b full). */
int		 httpc_pct_encode(struct sbuf *b, const char *s, size_t n);
/* Append n bytes to b.  0, or -1 when that passed b's cap (sb_full). */
int		 httpc_buf_add(struct sbuf *b, const void *p, size_t n);
/* Wipe every header of *h (they may carry a token), free the list, *h NULL. */
void		 httpc_headers_free(struct curl_slist **h);

#endif /* HTTPC_H */
