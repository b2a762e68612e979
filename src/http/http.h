/*
 * http/: HTTP/1.1 as IMDS speaks it.
 *
 *   http_parse.c  the pure request parser (pointer, length; limits capped)
 *   server.c      listeners, connections, deadlines, per-client caps and
 *                 rate limits, draining at stop
 */
#ifndef HTTP_H
#define HTTP_H

#include "core/core.h"

#define HTTP_METHOD_MAX		16	/* bytes in a request method */
#define HTTP_HEAD_MAX		8192	/* bytes: request line + header block + CRLFs */
#define HTTP_HEADERS_MAX	64	/* header fields per request */
#define HTTP_HEAD_MIN		1024	/* bytes: the smallest --max-header-bytes */
#define HTTP_HEADERS_MIN	8	/* the smallest --max-headers */
#define HTTP_BODY_MAX		1024	/* bytes of request body read and discarded (PUT etc.) */
#define HTTP_CLEN_DIGITS	10	/* digits accepted in Content-Length */
#define HTTP_REQ_TIMEOUT_MS	10000	/* one absolute deadline per request, ms from accept */
#define HTTP_LINGER_MS		2000	/* after our FIN, wait this long for the client's EOF */
#define HTTP_RESP_HEAD_MAX	512	/* bytes: a response status line + headers */

#define CONN_MAX_DEFAULT	1024	/* connections served at once */
#define LISTEN_MAX		8	/* --listen addresses */
#define LISTEN_BACKLOG		511	/* listen(2) backlog */
#define ACCEPT_PAUSE_MS		100	/* pause accepting after EMFILE/ENFILE */

/*
 * Operations (issue #7): limits the serve flags change, the drain at stop,
 * the health listener.  HTTP_REQ_TIMEOUT_MS above is --request-timeout's
 * default; HTTP_HEAD_MAX and HTTP_HEADERS_MAX are the defaults and ceilings
 * of --max-header-bytes and --max-headers.
 */
#define CONN_PER_CLIENT_DEFAULT	256	/* connections at once from one client address (0: no cap) */
#define CONN_LIMIT_MAX		1000000	/* largest --max-connections, --max-connections-per-client */
#define REQ_TIMEOUT_MIN_MS	100	/* ms: smallest --request-timeout */
#define REQ_TIMEOUT_MAX_MS	600000	/* ms: largest --request-timeout */
#define RATE_LIMIT_MAX		100000	/* requests/s per client address: largest --rate-limit */
#define RATE_TRACK_MAX		4096	/* client addresses whose rate is remembered besides the connected */
#define SHUTDOWN_GRACE_MS	3000	/* ms: --shutdown-grace default, in-flight requests' time at stop */
#define SHUTDOWN_GRACE_MAX_MS	600000	/* ms: largest --shutdown-grace */

/* ------------------------------------------------------------------ */
/* http_parse.c: the pure, incremental request parser (habits 5-7)    */
/* ------------------------------------------------------------------ */

struct http_header {
	struct slice	 h_name;	/* as sent; compare with slice_ieq */
	struct slice	 h_value;	/* leading/trailing OWS removed */
};

struct http_req {
	struct slice	 r_method;
	struct slice	 r_target;	/* request-target as sent */
	int		 r_minor;	/* HTTP/1.<minor> */
	struct http_header r_hdr[HTTP_HEADERS_MAX];
	size_t		 r_nhdr;
	size_t		 r_head_len;	/* bytes up to and including the blank line */
	size_t		 r_body_len;	/* Content-Length, 0 when absent */
};

/*
 * Parse one request from buf[0..len).  Pure: no I/O, no allocation; req
 * points into buf.  Returns:
 *   > 0  complete: bytes consumed (head + body)
 *     0  need more input (len < HTTP_HEAD_MAX + HTTP_BODY_MAX)
 *   < 0  minus the HTTP status to answer: -400 malformed, -413 body too large,
 *        -431 head too large or too many headers, -501 Transfer-Encoding,
 *        -505 unsupported HTTP version.
 * A body is refused (400) on GET and HEAD; on other methods it may be up to
 * HTTP_BODY_MAX bytes and is counted in the consumed length.
 */
ssize_t		 http_parse(const char *buf, size_t len, struct http_req *req);
/*
 * The head's limits from now on (--max-header-bytes, --max-headers): each
 * is clamped to [HTTP_HEAD_MIN, HTTP_HEAD_MAX] and [HTTP_HEADERS_MIN,
 * HTTP_HEADERS_MAX]; until called, they are the maxima.
 */
void		 http_parse_limits(size_t head_max, size_t headers_max);
/* First header named name (case-insensitive); NULL if absent.  *count gets how many. */
const struct http_header *http_header_find(const struct http_req *req, const char *name,
		    size_t *count);

/* ------------------------------------------------------------------ */
/* server.c: listeners, connections, the per-client limits            */
/* ------------------------------------------------------------------ */
struct snapshot;	/* imds/imds.h */
struct role_view;	/* imds/imds.h */

/*
 * Bind every listener, after loop_init (which set up signals: SIGTERM and
 * SIGINT stop the loop, SIGHUP calls the hup callback).  Logs "listening on
 * ADDR" per listener.  0 / -1 with err.
 */
int		 server_init(const struct listen_addr *la, size_t n, size_t conn_max,
		    int access_log, char *err, size_t errlen);
/* Serve s from now on; takes over the caller's reference, drops the old one. */
void		 server_set_snapshot(struct snapshot *s);
/*
 * Who asks decides which role they get: resolve returns the role view
 * (borrowed; the server holds its own reference while it answers) of the
 * caller at peer (its address and port, as the access log writes them), or
 * NULL for none.  Unset: no caller has one.
 */
void		 server_role_resolver(struct role_view *(*resolve)(void *arg, const char *peer),
		    void *arg);
/* tick: called about once a second; hup: on SIGHUP.  Either may be NULL. */
void		 server_callbacks(void (*tick)(void), void (*hup)(void));
/* The port listener i (in server_init's order) is bound to: port 0 resolved. */
unsigned	 server_bound_port(size_t i);
/* Run until SIGTERM/SIGINT.  0, or -1 when the loop itself failed. */
/*
 * Run until SIGTERM/SIGINT, then drain: the listeners close at once (new
 * connections are refused), requests under way get up to the shutdown
 * grace to finish, the rest are closed.  0, or -1 when the loop failed.
 */
int		 server_run(void);
/* Close every connection and listener, drop the snapshot. */
void		 server_shutdown(void);

/* The limits of the ops flags; call before server_init. */
struct server_limits {
	unsigned long	 sl_per_client;	/* connections per client address; 0: no cap */
	unsigned	 sl_req_timeout_ms;	/* the absolute deadline of a request */
	unsigned	 sl_rate;	/* requests/s per client address (429 beyond); 0: off */
	unsigned	 sl_grace_ms;	/* drain time at SIGTERM/SIGINT */
};
void		 server_limits(const struct server_limits *sl);
/*
 * Open the health listener (GET /healthz, /readyz, /metrics; health.c) on
 * the loop, after loop_init; it serves from then on, during start-up too.
 * Logs "health endpoint on http://ADDR:PORT/".  0 / -1 with err.
 */
int		 server_health_init(const struct listen_addr *la, char *err, size_t errlen);
/* Connections of the metadata listeners open now (a gauge). */
size_t		 server_conns_open(void);

#endif /* HTTP_H */
