/*
 * http/: HTTP/1.1 as IMDS speaks it.
 *
 *   http_parse.c  the pure request parser (pointer, length; the caller's limits)
 *   head.c        the response head writer: status line + an ordered field list
 *   limits.c      the per-client table: connections per address, token-bucket
 *                 rate, admission (refuse, or evict: server.c's evict_victim)
 *   server.c      services (listeners bound to a handler with its own limits),
 *                 connections, deadlines, deferred answers, draining at stop
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
#define LISTEN_MAX		8	/* --listen addresses; listeners of one service */
#define SERVICES_MAX		8	/* services served at once (IMDS, health, ...) */
#define ACCEPT_PAUSE_MS		100	/* pause accepting after EMFILE/ENFILE */
#define HTTP_DEFER_STATUS	503	/* a deferred request still unanswered at its deadline */
#define HTTP_FIELDS_MAX		16	/* fields in one response head */

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

/* The limits of one service's requests; http_parse_limits_set clamps them. */
struct http_parse_limits {
	size_t		 pl_head_max;	/* bytes: request line + header block + CRLFs */
	size_t		 pl_headers_max;	/* header fields */
};
/* The maxima: HTTP_HEAD_MAX, HTTP_HEADERS_MAX. */
extern const struct http_parse_limits http_parse_limits_max;

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
ssize_t		 http_parse(const char *buf, size_t len, const struct http_parse_limits *lim,
		    struct http_req *req);
/*
 * The head's limits (--max-header-bytes, --max-headers), clamped to
 * [HTTP_HEAD_MIN, HTTP_HEAD_MAX] and [HTTP_HEADERS_MIN, HTTP_HEADERS_MAX].
 */
void		 http_parse_limits_set(struct http_parse_limits *lim, size_t head_max,
		    size_t headers_max);
/* First header named name (case-insensitive); NULL if absent.  *count gets how many. */
const struct http_header *http_header_find(const struct http_req *req, const char *name,
		    size_t *count);

/* ------------------------------------------------------------------ */
/* head.c: the response head writer                                   */
/* ------------------------------------------------------------------ */

/* One header field: a text value, or (hf_value NULL) a number. */
struct http_field {
	const char	*hf_name;
	const char	*hf_value;
	unsigned long	 hf_num;
};
/* The reason phrase of a status (405 is nginx's "Not Allowed", contract §2.2). */
const char	*http_reason(int status);
/*
 * "HTTP/1.1 status reason", the fields in their order, the blank line, into
 * buf[0..cap).  Returns the length, or 0 when it does not fit.
 */
size_t		 http_head_write(char *buf, size_t cap, int status, const struct http_field *f,
		    size_t n);

/* ------------------------------------------------------------------ */
/* limits.c: the per-client table (no sockets: unit-tested alone)     */
/* ------------------------------------------------------------------ */
#define CLIENTS_MILLI		1000	/* a request's cost in a token bucket, milli-requests */

/* Who is asking: the peer of a connection.  Later also the pod. */
struct http_peer {
	int		 pe_family;	/* AF_INET or AF_INET6 */
	unsigned char	 pe_addr[16];	/* IPv4 in the first 4 bytes, the rest 0 */
	unsigned	 pe_port;
};

/* One client address: its connections and its request-rate bucket. */
struct client {
	unsigned char	 cl_addr[16];
	int		 cl_family;	/* 0: a free entry */
	unsigned long	 cl_nconn;	/* open connections */
	uint64_t	 cl_tokens;	/* milli-requests in the bucket, at most rate * CLIENTS_MILLI */
	uint64_t	 cl_last_ms;	/* the bucket is filled up to this time */
	int		 cl_next;	/* next in its hash chain, or in the free list; -1 ends */
};
/* A chained hash over a fixed array; entries are forgotten when idle. */
struct clients {
	struct client	*ct_ent;
	size_t		 ct_n;
	int		*ct_hash;	/* 1 + the index of a chain's first entry; 0: none */
	size_t		 ct_mask;
	size_t		 ct_fresh;	/* entries [ct_fresh, ct_n) were never used */
	int		 ct_free;	/* entries given back; -1 ends */
	unsigned long	 ct_per_client;	/* connections per address; 0: no cap */
	unsigned	 ct_rate;	/* requests/s per address; 0: off */
};
/*
 * A table for conn_max connected clients, one more when the service evicts
 * (the newcomer's entry is held before its victim's is released), plus
 * RATE_TRACK_MAX remembered for their rate when rate > 0; off (no
 * allocation) when per_client and rate are both 0.  0 / -1 with err.
 */
int		 clients_init(struct clients *ct, size_t conn_max, int evict,
		    unsigned long per_client, unsigned rate, char *err, size_t errlen);
void		 clients_free(struct clients *ct);
/* The entry of a peer, created if need be; -1 when the table is off (or full). */
int		 clients_get(struct clients *ct, const struct http_peer *pe, uint64_t now_ms);
/* One more / one fewer open connection of entry idx. */
void		 clients_hold(struct clients *ct, int idx);
void		 clients_release(struct clients *ct, int idx, uint64_t now_ms);
/* Take one request from the entry's bucket: 1 allowed, 0 over the rate. */
int		 clients_rate_ok(struct clients *ct, int idx, uint64_t now_ms);
/* Forget idle entries (full bucket, no connection); with force, also the first unconnected. */
void		 clients_gc(struct clients *ct, uint64_t now_ms, int force);

/* What to do with a new connection (clients_admit). */
enum admit {
	ADMIT,		/* serve it */
	ADMIT_EVICT,	/* serve it after evicting one of the service's connections */
	REFUSE_CLIENT,	/* close it: its address has its cap of connections */
	REFUSE_POOL	/* close it: the pool is full and nothing may be evicted */
};
/*
 * The decision for a newcomer from entry idx (-1: not tracked) when
 * pool_full says whether the service's pool is full and evict whether the
 * service evicts a connection to make room (server.c: the oldest still
 * reading a request of the address holding the most, after answering a
 * victim whose request is waiting unread).
 */
enum admit	 clients_admit(const struct clients *ct, int idx, int pool_full, int evict);

/* ------------------------------------------------------------------ */
/* server.c: services, connections, deferred answers                  */
/* ------------------------------------------------------------------ */

/* What a handler is asked: the request, or the error to answer. */
struct http_call {
	const struct http_req *hc_req;	/* the request when hc_status is 0, 429 or
					   HTTP_DEFER_STATUS (a parked one); else NULL: it
					   did not parse, or was half-read at its deadline */
	int		 hc_status;	/* 0: answer hc_req; else answer this status (400, 408,
					   413, 429 (hc_req set), 431, 501, 505, HTTP_DEFER_STATUS) */
	const struct http_peer *hc_peer;	/* who is asking */
	uint64_t	 hc_now_ms;	/* the loop's monotonic clock */
	const char	*hc_date;	/* the Date header's value (IMF-fixdate) */
};
/* What a handler answers: it writes the head and points at the body. */
struct http_reply {
	char		*hr_head;	/* the connection's buffer of HTTP_RESP_HEAD_MAX */
	size_t		 hr_headcap;
	size_t		 hr_headlen;	/* set by the handler; 0: did not fit (closed) */
	const char	*hr_body;	/* stays valid until the service's sv_release */
	size_t		 hr_bodylen;	/* bytes of body to send (0 for HEAD) */
	int		 hr_hop_limit;	/* > 0: IP TTL / IPv6 hop limit of the reply */
};
/* A handler's verdict. */
enum http_verdict {
	HTTP_ANSWER,	/* the reply is ready: send it */
	HTTP_DEFER	/* not yet: ask again after http_wake (never for hc_status != 0) */
};

/* The limit hits a service counts (each a counter of the service's, or NULL). */
enum http_hit { HIT_POOL, HIT_PER_CLIENT, HIT_RATE, HIT_TIMEOUT, HIT_COUNT };

/*
 * One kind of service: a row per endpoint (IMDS in imds/service.c, health in
 * ops/health.c; next the container endpoints).  Adding an endpoint is a
 * handler, a `const struct http_service` row next to it, and one http_serve
 * call at start-up with its struct http_limits.  The handler runs on the
 * loop, must not block, and answers into the connection's head buffer and
 * its own state; a request it defers whose connection closes is dropped
 * without a call (sv_release follows answers only).
 */
struct http_service {
	const char	*sv_name;	/* for logs */
	const char	*sv_log_pre;	/* logged per listener: pre, the address as bound, post */
	const char	*sv_log_post;
	/* decide the answer; state is this connection's sv_state_size bytes */
	enum http_verdict (*sv_handle)(void *state, const struct http_call *call,
			    struct http_reply *rp);
	/* the reply's body is no longer needed (may be NULL) */
	void		(*sv_release)(void *state);
	size_t		 sv_state_size;	/* bytes of handler state per connection (zeroed at accept) */
	uint64_t	*sv_hits[HIT_COUNT];	/* limit hit counters (metrics) */
};
/* The limits of one service. */
struct http_limits {
	size_t		 hl_conn_max;	/* connections at once: the service's pool */
	unsigned long	 hl_per_client;	/* connections at once per client address; 0: no cap */
	unsigned	 hl_req_timeout_ms;	/* deadline from accept to the end of the reply */
	unsigned	 hl_rate;	/* requests/s per client address (429 beyond); 0: off */
	int		 hl_evict;	/* pool full: evict a still-reading connection for a newcomer */
	struct http_parse_limits hl_parse;	/* the request head's limits */
};

/* Server-wide settings (before any service): the drain at stop, the fd-exhaustion counter. */
void		 http_server_init(unsigned grace_ms, uint64_t *fd_hits);
/*
 * SIGTERM/SIGINT go to term (its loop hook's contract: 1 it took them
 * over) instead of stopping the services (exec forwards them to its
 * command); NULL: the drain again.
 */
void		 http_signals(int (*term)(unsigned signo));
/*
 * Serve sv on the n addresses la with limits lim: bind each listener, take
 * connections from now on (after loop_init).  Logs each listener.
 * A service (sv) is served at most once.  0 / -1 with err.
 */
int		 http_serve(const struct http_service *sv, const struct http_limits *lim,
		    const struct listen_addr *la, size_t n, char *err, size_t errlen);
/* A peer as "addr:port" or "[addr]:port", for log lines (SOCK_ADDR_TEXT_MAX). */
void		 http_peer_text(const struct http_peer *pe, char *buf, size_t len);
/* The port listener i of sv is bound to (port 0 resolved); 0 if none. */
unsigned	 http_bound_port(const struct http_service *sv, size_t i);
/* Connections of sv open now (a gauge). */
size_t		 http_conns_open(const struct http_service *sv);
/*
 * Ask every deferred request again (from the loop, before its next wait):
 * a module whose answer was not ready calls this when it may be.
 */
void		 http_wake(void);
/*
 * The same at ms (the loop's monotonic clock, loop_now_ms) at the latest:
 * a handler holding a request until its own deadline, finer than the tick,
 * asks for the wake-up it needs each time it defers (one time is kept, the
 * earliest: the requests woken then that still wait ask again).
 */
void		 http_wake_at(uint64_t ms);
/*
 * Run until SIGTERM/SIGINT, then drain: the listeners close at once (new
 * connections are refused), requests under way get up to the shutdown
 * grace to finish; then a deferred one still waiting is answered
 * HTTP_DEFER_STATUS (so too at once without a grace), the rest are
 * closed.  0, or -1 when the loop failed.
 */
int		 http_run(void);
/* Close every connection and listener of every service (at exit). */
void		 http_shutdown(void);

#endif /* HTTP_H */
