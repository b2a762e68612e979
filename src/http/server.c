/*
 * server.c: listeners, the epoll loop, and connections.
 *
 * One thread, level-triggered epoll, non-blocking sockets.  Connections come
 * from a pool allocated once at start; a connection's buffers live inside
 * it, so the request path never allocates.  Each connection has one
 * absolute deadline (habit 8): HTTP_REQ_TIMEOUT_MS from accept to the end of
 * the response, then HTTP_LINGER_MS for the client's EOF after our FIN.
 * Because every deadline of a kind is "start + constant", two FIFO lists
 * ordered by start time are also ordered by deadline: the timer check looks
 * at list heads only.
 *
 * Life of a connection:
 *   READ   --complete request / parse error / deadline with bytes--> WRITE
 *   WRITE  --all bytes written: shutdown(SHUT_WR)--> closed, or LINGER
 *   LINGER --EOF, error or linger deadline--> closed
 *   READ   --EOF, or deadline with no bytes--> closed without a word
 *
 * After our FIN the connection is closed at once when every byte the client
 * sent has been consumed: the client has the whole response and nothing of
 * its own is left to turn our close into a reset.  Only a client that sent
 * more than one request's bytes is drained (LINGER) before the close, so
 * that the reset cannot destroy the response it has not read yet.
 *
 * A connection joins the epoll set only when it has to wait: most requests
 * are already there when accept returns, and are answered without it.
 *
 * Limits and fairness (issue #7): a table of client addresses counts each
 * one's open connections (--max-connections-per-client: more are closed at
 * once) and holds its token bucket (--rate-limit: a request over the rate
 * is answered 429).  The health listener has a small pool of its own, so a
 * full metadata pool never starves the probes.  At SIGTERM/SIGINT the
 * listeners close (new connections are refused) and the requests under way
 * get the shutdown grace to finish.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http/http.h"
#include "imds/imds.h"
#include "ops/ops.h"

#define EPOLL_BATCH		64	/* events per epoll_wait */
#define ACCEPT_BATCH		64	/* accepts per wakeup, so reads get their turn */
#define TICK_MS			1000	/* period of the server_tick callback */
#define PEER_LEN		(INET6_ADDRSTRLEN + 8)	/* "[addr]:port" */
#define MILLI			1000	/* a request's cost in a token bucket, milli-requests */

/* What an epoll event's data.ptr points at: each struct starts with its kind. */
enum ev_kind { EV_LISTENER, EV_CONN, EV_SIGNAL, EV_WATCH };
enum conn_state { CS_FREE, CS_READ, CS_WRITE, CS_LINGER };

struct listener {
	enum ev_kind	 l_kind;	/* EV_LISTENER: first member, see ev_kind_of */
	int		 l_fd;
	int		 l_family;
	unsigned	 l_port;	/* as bound */
	int		 l_health;	/* the health listener */
	char		 l_text[PEER_LEN];
};

struct conn {
	enum ev_kind	 c_kind;	/* EV_CONN */
	enum conn_state	 c_state;
	int		 c_fd;
	int		 c_family;
	int		 c_polled;	/* in the epoll set */
	uint64_t	 c_start_ms;	/* accept, or start of linger */
	struct conn	*c_next, *c_prev;	/* in a deadline list, or the free list */
	struct snapshot	*c_snap;	/* held while the body may point into it */
	struct role_view *c_role;	/* the caller's role view: held likewise */
	size_t		 c_inlen;
	size_t		 c_used;	/* bytes of c_in the request consumed */
	size_t		 c_headlen;
	size_t		 c_sent;	/* bytes of head + body written */
	size_t		 c_total;
	struct response	 c_rs;
	int		 c_health;	/* from the health listener's pool */
	int		 c_client;	/* index into the client table, or -1 */
	char		*c_body;	/* health: the body buffer of this slot */
	char		 c_peer[PEER_LEN];
	char		 c_head[HTTP_RESP_HEAD_MAX];
	char		 c_in[HTTP_HEAD_MAX + HTTP_BODY_MAX];
};

struct clist {
	struct conn	*head, *tail;
};

/* One client address: its connections and its request-rate bucket. */
struct client {
	unsigned char	 cl_addr[16];
	int		 cl_family;	/* 0: a free entry */
	unsigned long	 cl_nconn;	/* open connections */
	uint64_t	 cl_tokens;	/* milli-requests in the bucket, at most rate * MILLI */
	uint64_t	 cl_last_ms;	/* the bucket is filled up to this time */
	int		 cl_next;	/* next in its hash chain, or in the free list; -1 ends */
};

static struct {
	int		 epfd;
	int		 sigfd;
	enum ev_kind	 sig_kind;	/* epoll data for the signalfd */
	struct listener	 lst[LISTEN_MAX];
	size_t		 nlst;
	int		 accepting;	/* listeners registered for EPOLLIN */
	uint64_t	 accept_resume_ms;	/* after EMFILE: when to try again */
	struct conn	*pool;
	size_t		 pool_n;
	size_t		 pool_fresh;	/* slots from here on were never used */
	struct conn	*free;
	size_t		 nopen;
	struct clist	 req_list;	/* READ and WRITE, by accept time */
	struct clist	 linger_list;	/* LINGER, by linger start */
	struct snapshot	*snap;		/* current; connections hold their own refs */
	struct role_view *(*resolve)(void *arg, const char *peer);	/* the caller's role */
	void		*resolve_arg;
	int		 access_log;
	int		 stop;
	uint64_t	 now_ms;
	time_t		 date_sec;
	char		 date[IMF_DATE_LEN + 1];
	void		(*tick)(void);
	void		(*hup)(void);
	struct loop_timer *timers;	/* armed, soonest first */
	/* limits (server_limits) */
	unsigned long	 per_client;
	unsigned	 req_timeout_ms;
	unsigned	 rate;
	unsigned	 grace_ms;
	/* the client table: chained hash over a fixed array */
	struct client	*clients;
	size_t		 nclients;
	int		*chash;
	size_t		 chash_mask;
	int		 cfree;
	/* the health listener and its own pool */
	struct listener	 hlst;
	int		 hlst_open;
	int		 haccepting;
	struct conn	*hpool;
	char		*hbody;		/* HEALTH_CONN_MAX bodies of HEALTH_BODY_MAX */
	struct conn	*hfree;
	size_t		 hopen;
	/* stopping */
	int		 serving_run;	/* in server_run: a signal drains first */
	int		 draining;
	uint64_t	 drain_until;
} srv;

/* Wall-clock Date header, formatted at most once a second. */
static const char *
date_now(void)
{
	time_t t = time(NULL);

	if (t != srv.date_sec) {
		fmt_imf_date(t, srv.date);
		srv.date_sec = t;
	}
	return srv.date;
}

static void
clist_push(struct clist *l, struct conn *c)
{
	c->c_next = NULL;
	c->c_prev = l->tail;
	if (l->tail != NULL)
		l->tail->c_next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
clist_del(struct clist *l, struct conn *c)
{
	if (c->c_prev != NULL)
		c->c_prev->c_next = c->c_next;
	else
		l->head = c->c_next;
	if (c->c_next != NULL)
		c->c_next->c_prev = c->c_prev;
	else
		l->tail = c->c_prev;
	c->c_next = c->c_prev = NULL;
}

/* ---- listeners ---------------------------------------------------------- */

int
listen_addr_parse(const char *s, struct listen_addr *out, char *err, size_t errlen)
{
	const char *colon, *host, *port;
	char hostbuf[INET6_ADDRSTRLEN];
	size_t hlen;
	unsigned long p;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(out->la_text)) {
		snprintf(err, errlen, "'%s' is too long", s);
		return -1;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':') {
			snprintf(err, errlen, "'%s': expected [IPv6]:PORT", s);
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(rb - host);
		port = rb + 2;
		out->la_family = AF_INET6;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			snprintf(err, errlen, "'%s': expected ADDR:PORT", s);
			return -1;
		}
		host = s;
		hlen = (size_t)(colon - s);
		port = colon + 1;
		out->la_family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(hostbuf)) {
		snprintf(err, errlen, "'%s': bad address", s);
		return -1;
	}
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	if (inet_pton(out->la_family, hostbuf, out->la_addr) != 1) {
		snprintf(err, errlen, "'%s': '%s' is not an IPv%c address", s, hostbuf,
		    out->la_family == AF_INET ? '4' : '6');
		return -1;
	}
	if (parse_uint_bounded(port, strlen(port), 65535, &p) != 0) {
		snprintf(err, errlen, "'%s': port must be a number from 0 to 65535", s);
		return -1;
	}
	out->la_port = (unsigned)p;
	snprintf(out->la_text, sizeof(out->la_text), "%s", s);
	return 0;
}

static void
sockaddr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

static int
listener_open(const struct listen_addr *la, struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (la->la_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, la->la_addr, 16);
		s6->sin6_port = htons((uint16_t)la->la_port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, la->la_addr, 4);
		s4->sin_port = htons((uint16_t)la->la_port);
		sl = sizeof(*s4);
	}
	fd = socket(la->la_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket for %s: %s", la->la_text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (la->la_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (la->la_freebind)
		setsockopt(fd, la->la_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
		    la->la_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 || listen(fd, LISTEN_BACKLOG) == -1) {
		snprintf(err, errlen, "listen on %s: %s", la->la_text, strerror(errno));
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	l->l_kind = EV_LISTENER;
	l->l_fd = fd;
	l->l_family = la->la_family;
	sockaddr_text(&ss, l->l_text, sizeof(l->l_text));
	l->l_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static void
accepting_set(int on)
{
	struct epoll_event ev;
	size_t i;

	if (srv.accepting == on)
		return;
	for (i = 0; i < srv.nlst; i++) {
		ev.events = EPOLLIN;
		ev.data.ptr = &srv.lst[i];
		if (on)
			epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.lst[i].l_fd, &ev);
		else
			epoll_ctl(srv.epfd, EPOLL_CTL_DEL, srv.lst[i].l_fd, NULL);
	}
	srv.accepting = on;
}

static void
health_accepting_set(int on)
{
	struct epoll_event ev;

	if (!srv.hlst_open || srv.haccepting == on)
		return;
	ev.events = EPOLLIN;
	ev.data.ptr = &srv.hlst;
	if (on)
		epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.hlst.l_fd, &ev);
	else
		epoll_ctl(srv.epfd, EPOLL_CTL_DEL, srv.hlst.l_fd, NULL);
	srv.haccepting = on;
}

/* ---- the client table --------------------------------------------------- */

static size_t
client_slot(int family, const unsigned char *a)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;	/* FNV-1a */
	size_t i;

	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h & srv.chash_mask;
}

/* The address of a peer as a key: 16 bytes, IPv4 in the first 4, the rest 0. */
static int
client_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	else
		memcpy(key, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	return ss->ss_family;
}

/* A full bucket and no connection: the entry says nothing a new one would not. */
static int
client_idle(const struct client *cl)
{
	uint64_t cap = (uint64_t)srv.rate * MILLI;

	return cl->cl_nconn == 0 && (srv.rate == 0 ||
	    cl->cl_tokens + (srv.now_ms - cl->cl_last_ms) * srv.rate >= cap);
}

static void
client_remove(int idx)
{
	struct client *cl = &srv.clients[idx];
	int *pp = &srv.chash[client_slot(cl->cl_family, cl->cl_addr)];

	while (*pp != idx)
		pp = &srv.clients[*pp].cl_next;
	*pp = cl->cl_next;
	cl->cl_family = 0;
	cl->cl_next = srv.cfree;
	srv.cfree = idx;
}

/* Drop idle entries; with force, also the first unconnected one if none was idle. */
static void
client_gc(int force)
{
	size_t i;
	int victim = -1;

	for (i = 0; i < srv.nclients; i++) {
		struct client *cl = &srv.clients[i];
		if (cl->cl_family == 0)
			continue;
		if (client_idle(cl))
			client_remove((int)i);
		else if (victim == -1 && cl->cl_nconn == 0)
			victim = (int)i;
	}
	if (force && srv.cfree == -1 && victim != -1)
		client_remove(victim);	/* forgets one client's rate: the table is full */
}

/* The entry of a peer, created if need be; -1 when the table is off (or full). */
static int
client_get(const struct sockaddr_storage *ss)
{
	unsigned char key[16];
	int family, idx;
	size_t slot;
	struct client *cl;

	if (srv.clients == NULL)
		return -1;
	family = client_key(ss, key);
	slot = client_slot(family, key);
	for (idx = srv.chash[slot]; idx != -1; idx = srv.clients[idx].cl_next)
		if (srv.clients[idx].cl_family == family &&
		    memcmp(srv.clients[idx].cl_addr, key, 16) == 0)
			return idx;
	if (srv.cfree == -1)
		client_gc(1);
	if ((idx = srv.cfree) == -1)
		return -1;
	cl = &srv.clients[idx];
	srv.cfree = cl->cl_next;
	memcpy(cl->cl_addr, key, 16);
	cl->cl_family = family;
	cl->cl_nconn = 0;
	cl->cl_tokens = (uint64_t)srv.rate * MILLI;
	cl->cl_last_ms = srv.now_ms;
	cl->cl_next = srv.chash[slot];
	srv.chash[slot] = idx;
	return idx;
}

static void
client_release(int idx)
{
	struct client *cl = &srv.clients[idx];

	cl->cl_nconn--;
	if (client_idle(cl))
		client_remove(idx);
}

/* Take one request from the client's bucket.  1 allowed, 0 over the rate. */
static int
client_rate_ok(int idx)
{
	struct client *cl = &srv.clients[idx];
	uint64_t cap = (uint64_t)srv.rate * MILLI;

	cl->cl_tokens += (srv.now_ms - cl->cl_last_ms) * srv.rate;
	if (cl->cl_tokens > cap)
		cl->cl_tokens = cap;
	cl->cl_last_ms = srv.now_ms;
	if (cl->cl_tokens < MILLI)
		return 0;
	cl->cl_tokens -= MILLI;
	return 1;
}

/* ---- connections -------------------------------------------------------- */

static void
conn_close(struct conn *c)
{
	if (c->c_state == CS_LINGER)
		clist_del(&srv.linger_list, c);
	else
		clist_del(&srv.req_list, c);
	close(c->c_fd);		/* also removes it from the epoll set */
	c->c_polled = 0;
	if (c->c_snap != NULL) {
		snapshot_unref(c->c_snap);
		c->c_snap = NULL;
	}
	role_view_unref(c->c_role);
	c->c_role = NULL;
	c->c_state = CS_FREE;
	if (c->c_health) {
		c->c_next = srv.hfree;
		srv.hfree = c;
		srv.hopen--;
		return;
	}
	if (c->c_client >= 0)
		client_release(c->c_client);
	c->c_client = -1;
	c->c_next = srv.free;
	srv.free = c;
	srv.nopen--;
	if (!srv.accepting && srv.accept_resume_ms == 0 && !srv.draining)
		accepting_set(1);	/* a slot is free again */
}

/* Wait for events on c (joining the epoll set if needed).  0 / -1. */
static int
conn_events(struct conn *c, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(srv.epfd, c->c_polled ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->c_fd,
	    &ev) == -1) {
		log_warn("%s: epoll_ctl: %s", c->c_peer, strerror(errno));
		return -1;
	}
	c->c_polled = 1;
	return 0;
}

/* All of the response is out: send our FIN and wait for the client's. */
static void
conn_linger(struct conn *c)
{
	shutdown(c->c_fd, SHUT_WR);
	if (c->c_used == c->c_inlen) {
		conn_close(c);
		return;
	}
	clist_del(&srv.req_list, c);
	c->c_state = CS_LINGER;
	c->c_start_ms = srv.now_ms;
	clist_push(&srv.linger_list, c);
	if (c->c_snap != NULL) {
		snapshot_unref(c->c_snap);
		c->c_snap = NULL;
	}
	role_view_unref(c->c_role);
	c->c_role = NULL;
	if (conn_events(c, EPOLLIN | EPOLLRDHUP) == -1)
		conn_close(c);
}

static void
conn_write(struct conn *c)
{
	struct iovec iov[2];
	size_t bodylen = c->c_rs.rs_head_only ? 0 : c->c_rs.rs_bodylen;
	ssize_t w;
	int n;

	while (c->c_sent < c->c_total) {
		n = 0;
		if (c->c_sent < c->c_headlen) {
			iov[n].iov_base = c->c_head + c->c_sent;
			iov[n++].iov_len = c->c_headlen - c->c_sent;
			if (bodylen > 0) {
				iov[n].iov_base = (void *)(uintptr_t)c->c_rs.rs_body;
				iov[n++].iov_len = bodylen;
			}
		} else {
			size_t off = c->c_sent - c->c_headlen;
			iov[n].iov_base = (void *)(uintptr_t)(c->c_rs.rs_body + off);
			iov[n++].iov_len = bodylen - off;
		}
		w = writev(c->c_fd, iov, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (conn_events(c, EPOLLOUT) == -1)
					conn_close(c);
				return;
			}
			conn_close(c);	/* the client went away */
			return;
		}
		c->c_sent += (size_t)w;
	}
	conn_linger(c);
}

/*
 * Contract §5.2: the token response leaves with the hop limit as its IP TTL
 * (IPv6: unicast hop limit).  Set on the accepted socket just before the
 * write; the connection closes afterwards, so it is never restored.
 */
static void
conn_hop_limit(struct conn *c, int hops)
{
	if (c->c_family == AF_INET6) {
		if (setsockopt(c->c_fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops,
		    sizeof(hops)) == -1)
			log_warn("%s: setting the hop limit: %s", c->c_peer, strerror(errno));
	} else if (setsockopt(c->c_fd, IPPROTO_IP, IP_TTL, &hops, sizeof(hops)) == -1)
		log_warn("%s: setting the IP TTL: %s", c->c_peer, strerror(errno));
}

/* Count what the response says for the metrics. */
static void
conn_count(const struct response *rs)
{
	metrics_request(rs->rs_class, rs->rs_status);
	if (rs->rs_reject != TR_NONE)
		metrics.m_token_rejects[rs->rs_reject]++;
	if (rs->rs_class == PC_TOKEN && rs->rs_body == rs->rs_tokbuf)
		metrics.m_tokens_issued++;
	if (rs->rs_status == 431)
		metrics.m_limit_hits[LIM_HEAD]++;
	else if (rs->rs_status == 413)
		metrics.m_limit_hits[LIM_BODY]++;
}

static void
conn_respond(struct conn *c, const struct http_req *req, int status)
{
	struct slice method = { "-", 1 }, target = { "-", 1 };
	const char *imds;

	if (c->c_health) {
		health_handle(req, status, &c->c_rs, c->c_body, HEALTH_BODY_MAX);
		if (status != 0)
			c->c_used = 0;
		c->c_headlen = response_head(&c->c_rs, date_now(), c->c_head,
		    sizeof(c->c_head));
		goto send;
	}
	if (status == 0 && srv.rate > 0 && c->c_client >= 0 && !client_rate_ok(c->c_client)) {
		/* over the client's rate: 429, contract K10 (empty, K5 order) */
		metrics.m_limit_hits[LIM_RATE]++;
		routes_error(429, &c->c_rs);
		method = req->r_method;
		target = req->r_target;
	} else if (status == 0) {
		/* the body may point into the caller's role view: held until written */
		c->c_role = srv.resolve != NULL ? srv.resolve(srv.resolve_arg, c->c_peer) : NULL;
		role_view_ref(c->c_role);
		routes_handle(req, srv.snap, c->c_role, srv.now_ms / 1000, &c->c_rs);
		method = req->r_method;
		target = req->r_target;
	} else {
		routes_error(status, &c->c_rs);
		c->c_used = 0;	/* how far it got is unknown: drain what is left */
	}
	conn_count(&c->c_rs);
	/* the body may point into the snapshot: hold it until written */
	c->c_snap = srv.snap;
	snapshot_ref(c->c_snap);
	c->c_headlen = response_head(&c->c_rs, date_now(), c->c_head, sizeof(c->c_head));
send:
	if (c->c_headlen == 0) {
		log_err("can't happen: response head over %d bytes", HTTP_RESP_HEAD_MAX);
		conn_close(c);
		return;
	}
	c->c_total = c->c_headlen + (c->c_rs.rs_head_only ? 0 : c->c_rs.rs_bodylen);
	c->c_sent = 0;
	if (c->c_rs.rs_hop_limit > 0)
		conn_hop_limit(c, c->c_rs.rs_hop_limit);
	if (srv.access_log && !c->c_health) {
		imds = c->c_rs.rs_token_used > 0 ? "v2" : c->c_rs.rs_token_used < 0 ? "bad" : "v1";
		log_access(c->c_peer, method, target, c->c_rs.rs_status,
		    c->c_rs.rs_head_only ? 0 : c->c_rs.rs_bodylen, imds);
	}
	c->c_state = CS_WRITE;
	conn_write(c);
}

static void
conn_read(struct conn *c)
{
	struct http_req req;
	ssize_t r, n;

	for (;;) {
		if (c->c_inlen == sizeof(c->c_in)) {
			/* cannot happen: the parser answers 431/413 before */
			conn_respond(c, NULL, 431);
			return;
		}
		r = read(c->c_fd, c->c_in + c->c_inlen, sizeof(c->c_in) - c->c_inlen);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (conn_events(c, EPOLLIN) == -1)
					conn_close(c);
				return;
			}
			conn_close(c);
			return;
		}
		if (r == 0) {
			conn_close(c);	/* gave up before a whole request */
			return;
		}
		c->c_inlen += (size_t)r;
		n = http_parse(c->c_in, c->c_inlen, &req);
		if (n > 0) {
			c->c_used = (size_t)n;
			conn_respond(c, &req, 0);
			return;
		}
		if (n < 0) {
			conn_respond(c, NULL, (int)-n);
			return;
		}
	}
}

static void
conn_drain(struct conn *c)
{
	char sink[512];
	ssize_t r;

	for (;;) {
		r = read(c->c_fd, sink, sizeof(sink));
		if (r > 0)
			continue;
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			return;
		conn_close(c);	/* EOF or error: done */
		return;
	}
}

static void
do_accept(struct listener *l)
{
	struct sockaddr_storage ss;
	struct conn *c;
	socklen_t sl;
	int fd, i, cl = -1;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (!l->l_health && srv.free == NULL && srv.pool_fresh == srv.pool_n) {
			metrics.m_limit_hits[LIM_MAX_CONN]++;
			accepting_set(0);	/* resumes in conn_close */
			return;
		}
		sl = sizeof(ss);
		fd = accept4(l->l_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* pause instead of spinning on a listener we can't serve */
				log_warn("accept: %s; pausing %d ms", strerror(errno),
				    ACCEPT_PAUSE_MS);
				metrics.m_limit_hits[LIM_FDS]++;
				accepting_set(0);
				health_accepting_set(0);
				srv.accept_resume_ms = srv.now_ms + ACCEPT_PAUSE_MS;
			}
			return;
		}
		if (l->l_health) {
			if ((c = srv.hfree) == NULL) {
				metrics.m_limit_hits[LIM_HEALTH_CONN]++;
				close(fd);	/* a probe retries; the pool stays small */
				continue;
			}
			srv.hfree = c->c_next;
			srv.hopen++;
		} else {
			if ((cl = client_get(&ss)) >= 0 && srv.per_client > 0 &&
			    srv.clients[cl].cl_nconn >= srv.per_client) {
				/* one address may not take the pool: closed at once */
				metrics.m_limit_hits[LIM_PER_CLIENT]++;
				close(fd);
				continue;
			}
			/* reuse the most recently freed slot (its pages are warm) */
			if ((c = srv.free) != NULL)
				srv.free = c->c_next;
			else
				c = &srv.pool[srv.pool_fresh++];
			c->c_health = 0;
			c->c_client = cl;
			if (cl >= 0)
				srv.clients[cl].cl_nconn++;
			srv.nopen++;
		}
		c->c_kind = EV_CONN;
		c->c_fd = fd;
		c->c_family = l->l_family;
		c->c_state = CS_READ;
		c->c_start_ms = srv.now_ms;
		c->c_inlen = 0;
		c->c_used = 0;
		c->c_polled = 0;
		c->c_snap = NULL;
		c->c_role = NULL;
		sockaddr_text(&ss, c->c_peer, sizeof(c->c_peer));
		clist_push(&srv.req_list, c);
		conn_read(c);	/* the request is often there already */
	}
}

/* Expire connections whose deadline has passed, run due timers; returns ms to the next one. */
static int
timers_run(void)
{
	struct loop_timer *t;
	struct conn *c;
	uint64_t next = UINT64_MAX;

	while ((t = srv.timers) != NULL && t->lt_at_ms <= srv.now_ms) {
		srv.timers = t->lt_next;
		t->lt_armed = 0;
		t->lt_next = NULL;
		t->lt_cb(t->lt_arg);	/* may re-arm t or others */
	}
	if (srv.timers != NULL)
		next = srv.timers->lt_at_ms;

	while ((c = srv.req_list.head) != NULL &&
	    c->c_start_ms + srv.req_timeout_ms <= srv.now_ms) {
		if (!c->c_health)
			metrics.m_limit_hits[LIM_REQ_TIMEOUT]++;
		if (c->c_state == CS_READ && c->c_inlen > 0)
			conn_respond(c, NULL, 408);	/* partial request: 408 */
		else
			conn_close(c);	/* idle, or a reader too slow for our reply */
		if (srv.req_list.head == c)	/* 408 still being written */
			conn_close(c);
	}
	while ((c = srv.linger_list.head) != NULL &&
	    c->c_start_ms + HTTP_LINGER_MS <= srv.now_ms)
		conn_close(c);
	if (srv.req_list.head != NULL && srv.req_list.head->c_start_ms + srv.req_timeout_ms < next)
		next = srv.req_list.head->c_start_ms + srv.req_timeout_ms;
	if (srv.linger_list.head != NULL &&
	    srv.linger_list.head->c_start_ms + HTTP_LINGER_MS < next)
		next = srv.linger_list.head->c_start_ms + HTTP_LINGER_MS;
	if (srv.accept_resume_ms != 0) {
		if (srv.accept_resume_ms <= srv.now_ms) {
			srv.accept_resume_ms = 0;
			if (!srv.draining) {
				if (srv.free != NULL || srv.pool_fresh < srv.pool_n)
					accepting_set(1);
				health_accepting_set(1);
			}
		} else if (srv.accept_resume_ms < next)
			next = srv.accept_resume_ms;
	}
	if (srv.draining && srv.drain_until < next)
		next = srv.drain_until;
	if (next == UINT64_MAX)
		return -1;
	return next <= srv.now_ms ? 0 : (int)(next - srv.now_ms);
}

/* ---- public ------------------------------------------------------------- */

int
loop_init(char *err, size_t errlen)
{
	sigset_t mask;
	struct epoll_event ev;

	memset(&srv, 0, sizeof(srv));
	srv.sigfd = -1;
	srv.req_timeout_ms = HTTP_REQ_TIMEOUT_MS;
	srv.grace_ms = SHUTDOWN_GRACE_MS;
	srv.cfree = -1;
	if ((srv.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((srv.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		return -1;
	}
	srv.sig_kind = EV_SIGNAL;
	ev.events = EPOLLIN;
	ev.data.ptr = &srv.sig_kind;
	epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.sigfd, &ev);
	srv.now_ms = mono_ms();
	return 0;
}

int
loop_watch_add(struct loop_watch *w, int fd, uint32_t events,
    void (*cb)(int fd, uint32_t events, void *arg), void *arg)
{
	struct epoll_event ev;

	w->lw_kind = EV_WATCH;
	w->lw_fd = fd;
	w->lw_cb = cb;
	w->lw_arg = arg;
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		w->lw_fd = -1;		/* not watched: loop_watch_del has nothing to do */
		return -1;
	}
	return 0;
}

void
loop_watch_del(struct loop_watch *w)
{
	if (w->lw_fd >= 0)
		epoll_ctl(srv.epfd, EPOLL_CTL_DEL, w->lw_fd, NULL);
	w->lw_fd = -1;
}

void
loop_timer_cancel(struct loop_timer *t)
{
	struct loop_timer **pp;

	if (!t->lt_armed)
		return;
	for (pp = &srv.timers; *pp != NULL; pp = &(*pp)->lt_next)
		if (*pp == t) {
			*pp = t->lt_next;
			break;
		}
	t->lt_armed = 0;
	t->lt_next = NULL;
}

void
loop_timer_set(struct loop_timer *t, uint64_t delay_ms, void (*cb)(void *), void *arg)
{
	struct loop_timer **pp;

	loop_timer_cancel(t);
	/*
	 * From the clock now, not the loop's cached time: a timer set
	 * before the loop runs, or after slow work in a callback (spawning
	 * a credential_process), would otherwise fire early by that much.
	 */
	t->lt_at_ms = mono_ms() + delay_ms;
	t->lt_cb = cb;
	t->lt_arg = arg;
	/* a handful of timers at most: a sorted list is enough */
	for (pp = &srv.timers; *pp != NULL && (*pp)->lt_at_ms <= t->lt_at_ms;
	    pp = &(*pp)->lt_next)
		;
	t->lt_next = *pp;
	*pp = t;
	t->lt_armed = 1;
}

uint64_t
loop_now_ms(void)
{
	return srv.now_ms;
}

unsigned
server_bound_port(size_t i)
{
	return i < srv.nlst ? srv.lst[i].l_port : 0;
}

int
server_init(const struct listen_addr *la, size_t n, size_t conn_max, int access_log,
    char *err, size_t errlen)
{
	size_t i;

	srv.access_log = access_log;
	for (i = 0; i < n; i++) {
		if (listener_open(&la[i], &srv.lst[i], err, errlen) == -1)
			return -1;
		srv.nlst++;
	}
	/*
	 * calloc: pages of the pool stay untouched, and cost no resident
	 * memory, until a slot is first used (pool_fresh hands them out).
	 */
	if ((srv.pool = calloc(conn_max, sizeof(*srv.pool))) == NULL) {
		snprintf(err, errlen, "connection pool of %zu: out of memory", conn_max);
		return -1;
	}
	srv.pool_n = conn_max;
	srv.pool_fresh = 0;
	if (srv.per_client > 0 || srv.rate > 0) {
		/* every connected client, plus as many remembered for their rate */
		size_t hsize = 1;
		srv.nclients = conn_max + (srv.rate > 0 ? RATE_TRACK_MAX : 0);
		while (hsize < 2 * srv.nclients)
			hsize <<= 1;
		if ((srv.clients = calloc(srv.nclients, sizeof(*srv.clients))) == NULL ||
		    (srv.chash = malloc(hsize * sizeof(*srv.chash))) == NULL) {
			snprintf(err, errlen, "client table of %zu: out of memory", srv.nclients);
			return -1;
		}
		srv.chash_mask = hsize - 1;
		for (i = 0; i < hsize; i++)
			srv.chash[i] = -1;
		srv.cfree = -1;
		for (i = srv.nclients; i-- > 0;) {
			srv.clients[i].cl_next = srv.cfree;
			srv.cfree = (int)i;
		}
	}
	for (i = 0; i < srv.nlst; i++)
		log_info("listening on %s", srv.lst[i].l_text);
	return 0;
}

void
server_set_snapshot(struct snapshot *s)
{
	struct snapshot *old = srv.snap;

	srv.snap = s;
	if (old != NULL)
		snapshot_unref(old);
}

void
server_role_resolver(struct role_view *(*resolve)(void *arg, const char *peer), void *arg)
{
	srv.resolve = resolve;
	srv.resolve_arg = arg;
}

void
server_callbacks(void (*tick)(void), void (*hup)(void))
{
	srv.tick = tick;
	srv.hup = hup;
}

/*
 * SIGTERM/SIGINT while serving: close the listeners at once, so that new
 * connections are refused rather than left in a backlog nobody reads, and
 * give the requests under way the grace period.
 */
static void
server_drain_begin(unsigned signo)
{
	size_t i;

	accepting_set(0);
	health_accepting_set(0);
	for (i = 0; i < srv.nlst; i++)
		close(srv.lst[i].l_fd);
	srv.nlst = 0;
	if (srv.hlst_open)
		close(srv.hlst.l_fd);
	srv.hlst_open = 0;
	srv.draining = 1;
	srv.drain_until = srv.now_ms + srv.grace_ms;
	log_info("signal %u: stopping; listeners closed, %zu connections under way get up "
	    "to %u ms", signo, srv.nopen + srv.hopen, srv.grace_ms);
}

static void
on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(srv.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (srv.hup != NULL)
				srv.hup();
		} else if (srv.serving_run && !srv.draining && srv.grace_ms > 0) {
			server_drain_begin(si.ssi_signo);
		} else {
			log_info("signal %u: stopping", si.ssi_signo);
			srv.stop = 1;
		}
	}
}

int
loop_run_until(const int *done)
{
	struct epoll_event evs[EPOLL_BATCH];
	uint64_t next_tick;
	int i, n, timeout, t;

	srv.now_ms = mono_ms();
	next_tick = srv.now_ms + TICK_MS;
	if (srv.nlst > 0)
		accepting_set(1);
	while (!srv.stop && (done == NULL || !*done)) {
		timeout = timers_run();
		if (done != NULL && *done)
			break;		/* a timer finished the job */
		t = next_tick > srv.now_ms ? (int)(next_tick - srv.now_ms) : 0;
		if (timeout < 0 || t < timeout)
			timeout = t;
		n = epoll_wait(srv.epfd, evs, EPOLL_BATCH, timeout);
		if (n == -1 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			return -1;
		}
		srv.now_ms = mono_ms();
		for (i = 0; i < n; i++) {
			enum ev_kind *k = evs[i].data.ptr;
			if (*k == EV_LISTENER)
				do_accept((struct listener *)k);
			else if (*k == EV_SIGNAL)
				on_signal();
			else if (*k == EV_WATCH) {
				struct loop_watch *w = (struct loop_watch *)k;
				if (w->lw_fd >= 0)
					w->lw_cb(w->lw_fd, evs[i].events, w->lw_arg);
			} else {
				struct conn *c = (struct conn *)k;
				if (c->c_state == CS_READ)
					conn_read(c);
				else if (c->c_state == CS_WRITE)
					conn_write(c);
				else if (c->c_state == CS_LINGER)
					conn_drain(c);
			}
		}
		if (srv.now_ms >= next_tick) {
			next_tick = srv.now_ms + TICK_MS;
			if (srv.tick != NULL)
				srv.tick();
			if (srv.rate > 0)
				client_gc(0);
		}
		if (srv.draining && (srv.nopen + srv.hopen == 0 || srv.now_ms >= srv.drain_until)) {
			if (srv.nopen + srv.hopen > 0)
				log_warn("grace period over: closing %zu connections",
				    srv.nopen + srv.hopen);
			else
				log_info("every connection finished");
			srv.stop = 1;
		}
	}
	return srv.stop ? 1 : 0;
}

int
server_run(void)
{
	int rc;

	srv.serving_run = 1;
	rc = loop_run_until(NULL);

	return rc < 0 ? -1 : 0;
}

void
loop_cleanup(void)
{
	if (srv.sigfd != -1)
		close(srv.sigfd);
	srv.sigfd = -1;
	if (srv.epfd != -1)
		close(srv.epfd);
	srv.epfd = -1;
}

/* Close everything (at exit). */
void
server_shutdown(void)
{
	size_t i;

	for (i = 0; i < srv.pool_fresh; i++)
		if (srv.pool[i].c_state != CS_FREE)
			conn_close(&srv.pool[i]);
	for (i = 0; i < srv.nlst; i++)
		close(srv.lst[i].l_fd);
	srv.nlst = 0;
	if (srv.hpool != NULL)
		for (i = 0; i < HEALTH_CONN_MAX; i++)
			if (srv.hpool[i].c_state != CS_FREE)
				conn_close(&srv.hpool[i]);
	if (srv.hlst_open)
		close(srv.hlst.l_fd);
	srv.hlst_open = 0;
	free(srv.hpool);
	srv.hpool = NULL;
	free(srv.hbody);
	srv.hbody = NULL;
	free(srv.clients);
	srv.clients = NULL;
	free(srv.chash);
	srv.chash = NULL;
	if (srv.snap != NULL)
		snapshot_unref(srv.snap);
	srv.snap = NULL;
	free(srv.pool);
	srv.pool = NULL;
	loop_cleanup();
}

void
server_limits(const struct server_limits *sl)
{
	srv.per_client = sl->sl_per_client;
	srv.req_timeout_ms = sl->sl_req_timeout_ms;
	srv.rate = sl->sl_rate;
	srv.grace_ms = sl->sl_grace_ms;
}

size_t
server_conns_open(void)
{
	return srv.nopen;
}

int
server_health_init(const struct listen_addr *la, char *err, size_t errlen)
{
	size_t i;

	if ((srv.hpool = calloc(HEALTH_CONN_MAX, sizeof(*srv.hpool))) == NULL ||
	    (srv.hbody = calloc(HEALTH_CONN_MAX, HEALTH_BODY_MAX)) == NULL) {
		snprintf(err, errlen, "health listener: out of memory");
		return -1;
	}
	if (listener_open(la, &srv.hlst, err, errlen) == -1)
		return -1;
	srv.hlst.l_health = 1;
	srv.hlst_open = 1;
	srv.hfree = NULL;
	for (i = HEALTH_CONN_MAX; i-- > 0;) {
		struct conn *c = &srv.hpool[i];
		c->c_health = 1;
		c->c_client = -1;
		c->c_body = srv.hbody + i * HEALTH_BODY_MAX;
		c->c_next = srv.hfree;
		srv.hfree = c;
	}
	health_accepting_set(1);
	log_info("health endpoint on http://%s/", srv.hlst.l_text);
	return 0;
}
