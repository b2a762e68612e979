/*
 * server.c: services and their connections, on the loop (core/loop.c).
 *
 * A service is a set of listeners bound to a handler (struct http_service)
 * with its own limits (struct http_limits): its connection pool, per-client
 * cap, request deadline, rate, head limits, and whether a full pool evicts
 * a connection for a newcomer (evict_victim: the oldest still reading a
 * request, of the address holding the most; a victim whose request is
 * already waiting unread is answered first).  IMDS and health are the first
 * two (imds/service.c, ops/health.c).
 *
 * Connections come from the service's pool, allocated once at start; a
 * connection's buffers (and its handler's state) live inside it, so the
 * request path never allocates.  Each connection has one absolute deadline
 * (habit 8): the service's request timeout from accept to the end of the
 * response, then HTTP_LINGER_MS for the client's EOF after our FIN.
 * Because every deadline of a kind is "start + the service's constant", two
 * FIFO lists per service ordered by start time are also ordered by
 * deadline: the expire hook looks at list heads only.
 *
 * Life of a connection:
 *   READ   --complete request / parse error / deadline with bytes--> WRITE
 *   READ   --complete request, the handler says "not yet"--> PARKED
 *   PARKED --http_wake, the handler answers--> WRITE
 *   PARKED --deadline: the handler answers HTTP_DEFER_STATUS--> WRITE
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
 * are already there when accept returns, and are answered without it.  A
 * parked connection waits for nothing but an error or hang-up (events 0);
 * http_wake asks every parked request again from the expire hook, that is
 * from the loop, before its next wait.
 *
 * Limits and fairness (issue #7, issue #17): each service's client table
 * (limits.c) counts each address's connections and holds its token bucket.
 * A service that does not evict pauses accepting while its pool is full;
 * one that evicts (health) closes the oldest connection still reading a
 * request of the address holding the most (evict_one).  At SIGTERM/SIGINT the listeners close (new connections are
 * refused) and the requests under way get the shutdown grace to finish;
 * one still parked when it runs out (or at once, with no grace) is
 * answered HTTP_DEFER_STATUS rather than reset (answer_parked).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http/http.h"

#define ACCEPT_BATCH		64	/* accepts per wakeup, so reads get their turn */

enum conn_state { CS_FREE, CS_READ, CS_PARKED, CS_WRITE, CS_LINGER };

struct service;

struct listener {
	struct loop_watch li_w;
	struct sock_bound li_sb;
	struct service	*li_svc;
};

struct conn {
	struct loop_watch c_w;		/* lw_fd: the socket */
	enum conn_state	 c_state;
	struct service	*c_svc;
	uint64_t	 c_start_ms;	/* accept, or start of linger */
	struct conn	*c_next, *c_prev;	/* in a deadline list, or the free list */
	int		 c_answered;	/* the handler answered: sv_release is due */
	int		 c_client;	/* index into the service's client table, or -1 */
	void		*c_hstate;	/* the handler's sv_state_size bytes */
	size_t		 c_inlen;
	size_t		 c_used;	/* bytes of c_in the request consumed */
	size_t		 c_headlen;
	size_t		 c_sent;	/* bytes of head + body written */
	size_t		 c_total;
	const char	*c_body;
	size_t		 c_bodylen;
	struct http_peer c_peer;
	char		 c_head[HTTP_RESP_HEAD_MAX];
	char		 c_in[HTTP_HEAD_MAX + HTTP_BODY_MAX];
};

struct clist {
	struct conn	*head, *tail;
};

struct service {
	const struct http_service *se_def;
	struct http_limits se_lim;
	struct listener	 se_lst[LISTEN_MAX];
	size_t		 se_nlst;
	int		 se_accepting;	/* listeners wait for EPOLLIN */
	struct conn	*se_pool;
	size_t		 se_pool_fresh;	/* slots from here on were never used */
	char		*se_hstate;	/* hl_conn_max handler states */
	struct conn	*se_free;
	size_t		 se_nopen;
	struct clist	 se_req;		/* READ, PARKED and WRITE, by accept time */
	struct clist	 se_linger;	/* LINGER, by linger start */
	struct clients	 se_clients;
};

static struct {
	struct service	 svc[SERVICES_MAX];
	size_t		 nsvc;
	unsigned	 grace_ms;
	int		(*term)(unsigned signo);	/* http_signals: SIGTERM/SIGINT go here instead */
	uint64_t	*fd_hits;
	uint64_t	 accept_resume_ms;	/* after EMFILE: when to try again */
	uint64_t	 next_gc_ms;	/* the client tables' rate entries */
	int		 wake;		/* http_wake was called */
	uint64_t	 wake_at;	/* http_wake_at: the earliest time asked; 0: none */
	size_t		 nparked;
	int		 running;	/* in http_run: a signal drains first */
	int		 draining;
	uint64_t	 drain_until;
	time_t		 date_sec;
	char		 date[IMF_DATE_LEN + 1];
} srv = { .grace_ms = SHUTDOWN_GRACE_MS };

static void	conn_event(int fd, uint32_t events, void *arg);

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
hit(const struct service *s, enum http_hit h)
{
	if (s->se_def->sv_hits[h] != NULL)
		(*s->se_def->sv_hits[h])++;
}

static size_t
conns_open(void)
{
	size_t i, n = 0;

	for (i = 0; i < srv.nsvc; i++)
		n += srv.svc[i].se_nopen;
	return n;
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

static int
pool_full(const struct service *s)
{
	return s->se_free == NULL && s->se_pool_fresh == s->se_lim.hl_conn_max;
}

/* Listen (EPOLLIN) or pause (events 0: a listener reports nothing else). */
static void
accepting_set(struct service *s, int on)
{
	size_t i;

	if (s->se_accepting == on)
		return;
	for (i = 0; i < s->se_nlst; i++)
		if (loop_watch_set(&s->se_lst[i].li_w, on ? EPOLLIN : 0) == -1)
			log_warn("%s: epoll_ctl: %s", s->se_lst[i].li_sb.so_text, strerror(errno));
	s->se_accepting = on;
}

/* ---- connections -------------------------------------------------------- */

static void
conn_release(struct conn *c)
{
	if (c->c_answered && c->c_svc->se_def->sv_release != NULL)
		c->c_svc->se_def->sv_release(c->c_hstate);
	c->c_answered = 0;
}

static void
conn_close(struct conn *c)
{
	struct service *s = c->c_svc;

	if (c->c_state == CS_LINGER)
		clist_del(&s->se_linger, c);
	else
		clist_del(&s->se_req, c);
	if (c->c_state == CS_PARKED)
		srv.nparked--;
	close(c->c_w.lw_fd);	/* also removes it from the epoll set */
	c->c_w.lw_fd = -1;	/* an event of this batch for it is skipped */
	c->c_w.lw_polled = 0;
	conn_release(c);
	c->c_state = CS_FREE;
	if (c->c_client >= 0)
		clients_release(&s->se_clients, c->c_client, loop_now_ms());
	c->c_client = -1;
	c->c_next = s->se_free;
	s->se_free = c;
	s->se_nopen--;
	if (srv.draining) {
		if (conns_open() == 0) {
			log_info("every connection finished");
			loop_stop();
		}
	} else if (!s->se_accepting && srv.accept_resume_ms == 0)
		accepting_set(s, 1);	/* a slot is free again */
}

/* Wait for events on c (joining the epoll set if needed).  0 / -1. */
static int
conn_events(struct conn *c, uint32_t events)
{
	char peer[SOCK_ADDR_TEXT_MAX];

	if (loop_watch_set(&c->c_w, events) == -1) {
		http_peer_text(&c->c_peer, peer, sizeof(peer));
		log_warn("%s: epoll_ctl: %s", peer, strerror(errno));
		return -1;
	}
	return 0;
}

/* All of the response is out: send our FIN and wait for the client's. */
static void
conn_linger(struct conn *c)
{
	struct service *s = c->c_svc;

	shutdown(c->c_w.lw_fd, SHUT_WR);
	if (c->c_used == c->c_inlen) {
		conn_close(c);
		return;
	}
	clist_del(&s->se_req, c);
	c->c_state = CS_LINGER;
	c->c_start_ms = loop_now_ms();
	clist_push(&s->se_linger, c);
	conn_release(c);
	if (conn_events(c, EPOLLIN | EPOLLRDHUP) == -1)
		conn_close(c);
}

static void
conn_write(struct conn *c)
{
	struct iovec iov[2];
	ssize_t w;
	int n;

	while (c->c_sent < c->c_total) {
		n = 0;
		if (c->c_sent < c->c_headlen) {
			iov[n].iov_base = c->c_head + c->c_sent;
			iov[n++].iov_len = c->c_headlen - c->c_sent;
			if (c->c_bodylen > 0) {
				iov[n].iov_base = (void *)(uintptr_t)c->c_body;
				iov[n++].iov_len = c->c_bodylen;
			}
		} else {
			size_t off = c->c_sent - c->c_headlen;
			iov[n].iov_base = (void *)(uintptr_t)(c->c_body + off);
			iov[n++].iov_len = c->c_bodylen - off;
		}
		w = writev(c->c_w.lw_fd, iov, n);
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
	int v6 = c->c_peer.pe_family == AF_INET6;
	char peer[SOCK_ADDR_TEXT_MAX];

	if (setsockopt(c->c_w.lw_fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    v6 ? IPV6_UNICAST_HOPS : IP_TTL, &hops, sizeof(hops)) == -1) {
		http_peer_text(&c->c_peer, peer, sizeof(peer));
		log_warn("%s: setting the %s: %s", peer, v6 ? "hop limit" : "IP TTL",
		    strerror(errno));
	}
}

/* Wait for http_wake: no events but an error or hang-up (EPOLLERR/EPOLLHUP always report). */
static void
conn_park(struct conn *c)
{
	c->c_state = CS_PARKED;
	srv.nparked++;
	if (c->c_w.lw_polled && conn_events(c, 0) == -1)
		conn_close(c);
}

/*
 * Ask the handler (req parsed when status is 0 or 429; status 0 may be
 * deferred), then send its answer.
 */
static void
conn_ask(struct conn *c, const struct http_req *req, int status)
{
	struct http_call call = { req, status, &c->c_peer, loop_now_ms(), date_now() };
	struct http_reply rp = { c->c_head, sizeof(c->c_head), 0, "", 0, 0 };
	enum http_verdict v;

	if (c->c_state == CS_PARKED) {
		c->c_state = CS_READ;
		srv.nparked--;
	}
	v = c->c_svc->se_def->sv_handle(c->c_hstate, &call, &rp);
	if (v == HTTP_DEFER && status == 0) {
		conn_park(c);
		return;
	}
	c->c_answered = 1;
	if (rp.hr_headlen == 0) {
		log_err("can't happen: response head over %d bytes", HTTP_RESP_HEAD_MAX);
		conn_close(c);
		return;
	}
	c->c_headlen = rp.hr_headlen;
	c->c_body = rp.hr_body;
	c->c_bodylen = rp.hr_bodylen;
	c->c_total = c->c_headlen + c->c_bodylen;
	c->c_sent = 0;
	if (rp.hr_hop_limit > 0)
		conn_hop_limit(c, rp.hr_hop_limit);
	c->c_state = CS_WRITE;
	conn_write(c);
}

/* A request parsed (status 0), or the status of a parse error or deadline. */
static void
conn_respond(struct conn *c, const struct http_req *req, int status)
{
	struct service *s = c->c_svc;

	if (status != 0)
		c->c_used = 0;	/* how far it got is unknown: drain what is left */
	else if (s->se_lim.hl_rate > 0 && c->c_client >= 0 &&
	    !clients_rate_ok(&s->se_clients, c->c_client, loop_now_ms())) {
		/* over the client's rate: 429 */
		hit(s, HIT_RATE);
		status = 429;
	}
	conn_ask(c, status == 0 || status == 429 ? req : NULL, status);
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
		r = read_some(c->c_w.lw_fd, c->c_in + c->c_inlen, sizeof(c->c_in) - c->c_inlen);
		if (r == -1) {	/* all read: wait for more */
			if (conn_events(c, EPOLLIN) == -1)
				conn_close(c);
			return;
		}
		if (r == 0) {
			conn_close(c);	/* gave up before a whole request, or an error */
			return;
		}
		c->c_inlen += (size_t)r;
		n = http_parse(c->c_in, c->c_inlen, &c->c_svc->se_lim.hl_parse, &req);
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

/* A parked request asked again: its bytes are still in c_in, parsed again (pure, cheap). */
static void
conn_reask(struct conn *c, int status)
{
	struct http_req req;

	if (http_parse(c->c_in, c->c_inlen, &c->c_svc->se_lim.hl_parse, &req) <= 0) {
		log_err("can't happen: a parked request no longer parses");
		conn_close(c);
		return;
	}
	conn_ask(c, &req, status);
}

static void
conn_drain(struct conn *c)
{
	char sink[512];
	ssize_t r;

	while ((r = read_some(c->c_w.lw_fd, sink, sizeof(sink))) > 0)
		;
	if (r == 0)
		conn_close(c);	/* EOF or error: done */
}

static void
conn_event(int fd, uint32_t events, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	switch (c->c_state) {
	case CS_READ:
		conn_read(c);
		break;
	case CS_WRITE:
		conn_write(c);
		break;
	case CS_LINGER:
		conn_drain(c);
		break;
	case CS_PARKED:
		if (events & (EPOLLERR | EPOLLHUP))
			conn_close(c);	/* gone: nobody to answer */
		break;
	case CS_FREE:
		break;
	}
}

/* ---- accepting ---------------------------------------------------------- */

static void
peer_of(const struct sockaddr_storage *ss, struct http_peer *pe)
{
	memset(pe->pe_addr, 0, sizeof(pe->pe_addr));
	pe->pe_family = ss->ss_family;
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		memcpy(pe->pe_addr, &s6->sin6_addr, 16);
		pe->pe_port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		memcpy(pe->pe_addr, &s4->sin_addr, 4);
		pe->pe_port = ntohs(s4->sin_port);
	}
}

/*
 * Written only when a log line needs it: formatting the address costs more
 * than the rest of a request's own work.
 */
void
http_peer_text(const struct http_peer *pe, char *buf, size_t len)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = pe->pe_family;
	if (pe->pe_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		memcpy(&s6->sin6_addr, pe->pe_addr, 16);
		s6->sin6_port = htons(pe->pe_port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		memcpy(&s4->sin_addr, pe->pe_addr, 4);
		s4->sin_port = htons(pe->pe_port);
	}
	sock_addr_text(&ss, buf, len);
}

/*
 * The eviction victim: of the connections still reading their request, the
 * oldest of the address holding the most connections (so that a flood from
 * some addresses evicts its own, not the one probe of another); NULL when
 * every connection is answering.
 */
static struct conn *
evict_victim(const struct service *s)
{
	struct conn *c, *victim = NULL;
	unsigned long n, most = 0;

	for (c = s->se_req.head; c != NULL; c = c->c_next) {
		if (c->c_state != CS_READ)
			continue;
		n = c->c_client >= 0 ? s->se_clients.ct_ent[c->c_client].cl_nconn : 0;
		if (victim == NULL || n > most) {
			victim = c;
			most = n;
		}
	}
	return victim;
}

/*
 * Make room for a newcomer by closing a still-reading connection (evict_victim).
 * A connection whose bytes are waiting unread is not idle (accepted just
 * before a burst of others): it is read first, and answered if its request
 * is whole.  1 when a slot is free, 0 when every connection is answering.
 */
static int
evict_one(struct service *s)
{
	struct conn *c;
	size_t tries;
	char b;

	for (tries = 0; tries < s->se_lim.hl_conn_max && s->se_free == NULL; tries++) {
		if ((c = evict_victim(s)) == NULL)
			return 0;
		if (recv(c->c_w.lw_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
			conn_read(c);	/* answered (its slot free), or still partial */
			if (s->se_free != NULL || c->c_state != CS_READ)
				continue;
		}
		conn_close(c);
	}
	return s->se_free != NULL;
}

/* A slot for a newcomer admitted so (not REFUSE_CLIENT), or NULL (counted: refuse it). */
static struct conn *
conn_slot(struct service *s, enum admit adm)
{
	struct conn *c;

	switch (adm) {
	case REFUSE_CLIENT:	/* not here: see do_accept */
	case REFUSE_POOL:
		hit(s, HIT_POOL);
		return NULL;
	case ADMIT_EVICT:
		hit(s, HIT_POOL);
		if (!evict_one(s))
			return NULL;	/* every slot is answering: the newcomer retries */
		break;
	case ADMIT:
		break;
	}
	/* reuse the most recently freed slot (its pages are warm) */
	if ((c = s->se_free) != NULL)
		s->se_free = c->c_next;
	else {
		c = &s->se_pool[s->se_pool_fresh];
		c->c_hstate = s->se_hstate + s->se_pool_fresh * s->se_def->sv_state_size;
		s->se_pool_fresh++;
	}
	memset(c->c_hstate, 0, s->se_def->sv_state_size);	/* each connection starts afresh */
	return c;
}

static void
accept_paused(void)
{
	size_t i;

	log_warn("accept: %s; pausing %d ms", strerror(errno), ACCEPT_PAUSE_MS);
	if (srv.fd_hits != NULL)
		(*srv.fd_hits)++;
	for (i = 0; i < srv.nsvc; i++)
		accepting_set(&srv.svc[i], 0);
	srv.accept_resume_ms = loop_now_ms() + ACCEPT_PAUSE_MS;
}

static void
do_accept(int lfd, uint32_t events, void *arg)
{
	struct listener *l = arg;
	struct service *s = l->li_svc;
	struct sockaddr_storage ss;
	struct http_peer pe;
	struct conn *c;
	socklen_t sl;
	enum admit adm;
	int fd, i, cl;

	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		if (!s->se_lim.hl_evict && pool_full(s)) {
			hit(s, HIT_POOL);
			accepting_set(s, 0);	/* resumes in conn_close */
			return;
		}
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_paused();	/* rather than spin on a listener */
			return;
		}
		peer_of(&ss, &pe);
		cl = clients_get(&s->se_clients, &pe, loop_now_ms());
		adm = clients_admit(&s->se_clients, cl, pool_full(s), s->se_lim.hl_evict);
		if (adm == REFUSE_CLIENT) {
			hit(s, HIT_PER_CLIENT);	/* one address may not take the pool */
			close(fd);
			continue;
		}
		if (cl >= 0)	/* held first: an evicted connection may share the entry */
			clients_hold(&s->se_clients, cl);
		if ((c = conn_slot(s, adm)) == NULL) {
			if (cl >= 0)
				clients_release(&s->se_clients, cl, loop_now_ms());
			close(fd);
			continue;
		}
		c->c_svc = s;
		c->c_client = cl;
		s->se_nopen++;
		loop_watch_init(&c->c_w, fd, conn_event, c);
		c->c_peer = pe;
		c->c_state = CS_READ;
		c->c_start_ms = loop_now_ms();
		c->c_inlen = 0;
		c->c_used = 0;
		c->c_answered = 0;
		clist_push(&s->se_req, c);
		conn_read(c);	/* the request is often there already */
	}
}

/* ---- deadlines, wake-ups, the drain ------------------------------------- */

/* Expire one service's connections; returns its next deadline. */
static uint64_t
service_expire(struct service *s, uint64_t now)
{
	unsigned tmo = s->se_lim.hl_req_timeout_ms;
	uint64_t next = UINT64_MAX;
	struct conn *c;

	while ((c = s->se_req.head) != NULL && c->c_start_ms + tmo <= now) {
		hit(s, HIT_TIMEOUT);
		if (c->c_state == CS_READ && c->c_inlen > 0)
			conn_respond(c, NULL, 408);	/* partial request: 408 */
		else if (c->c_state == CS_PARKED)
			conn_reask(c, HTTP_DEFER_STATUS);	/* the answer came too late */
		else
			conn_close(c);	/* idle, or a reader too slow for our reply */
		if (s->se_req.head == c)	/* the answer still being written */
			conn_close(c);
	}
	while ((c = s->se_linger.head) != NULL && c->c_start_ms + HTTP_LINGER_MS <= now)
		conn_close(c);
	if (s->se_req.head != NULL)
		next = s->se_req.head->c_start_ms + tmo;
	if (s->se_linger.head != NULL && s->se_linger.head->c_start_ms + HTTP_LINGER_MS < next)
		next = s->se_linger.head->c_start_ms + HTTP_LINGER_MS;
	return next;
}

/* Ask every parked request again. */
static void
wake_parked(void)
{
	struct conn *c, *next;
	size_t i;

	srv.wake = 0;
	for (i = 0; i < srv.nsvc && srv.nparked > 0; i++)
		for (c = srv.svc[i].se_req.head; c != NULL; c = next) {
			next = c->c_next;	/* c leaves the list when answered */
			if (c->c_state == CS_PARKED)
				conn_reask(c, 0);
		}
}

/*
 * The loop is about to stop with requests still parked: each is answered
 * what a deadline would have got (HTTP_DEFER_STATUS) rather than reset.
 */
static void
answer_parked(void)
{
	struct conn *c, *next;
	size_t i;

	for (i = 0; i < srv.nsvc && srv.nparked > 0; i++)
		for (c = srv.svc[i].se_req.head; c != NULL; c = next) {
			next = c->c_next;
			if (c->c_state == CS_PARKED)
				conn_reask(c, HTTP_DEFER_STATUS);
		}
}

/* The loop's expire hook. */
IDLE_PATH static uint64_t
http_expire(uint64_t now)
{
	uint64_t next = UINT64_MAX, t;
	size_t i;

	if (srv.wake_at != 0 && srv.wake_at <= now) {
		srv.wake_at = 0;
		srv.wake = 1;	/* a handler's own deadline: it answers now */
	}
	if (srv.wake && srv.nparked > 0)
		wake_parked();	/* clears srv.wake first: a handler may wake again */
	else
		srv.wake = 0;	/* nothing parked: nothing to ask again */
	for (i = 0; i < srv.nsvc; i++)
		if ((t = service_expire(&srv.svc[i], now)) < next)
			next = t;
	if (now >= srv.next_gc_ms) {
		srv.next_gc_ms = now + LOOP_TICK_MS;
		for (i = 0; i < srv.nsvc; i++)
			if (srv.svc[i].se_lim.hl_rate > 0)
				clients_gc(&srv.svc[i].se_clients, now, 0);
	}
	if (srv.accept_resume_ms != 0) {
		if (srv.accept_resume_ms <= now) {
			srv.accept_resume_ms = 0;
			for (i = 0; i < srv.nsvc && !srv.draining; i++)
				if (srv.svc[i].se_lim.hl_evict || !pool_full(&srv.svc[i]))
					accepting_set(&srv.svc[i], 1);
		} else if (srv.accept_resume_ms < next)
			next = srv.accept_resume_ms;
	}
	if (srv.wake_at != 0 && srv.wake_at < next)
		next = srv.wake_at;
	if (srv.wake && srv.nparked > 0)
		next = now;	/* woken again while asking: do not sleep */
	if (srv.draining) {
		if (now >= srv.drain_until) {
			answer_parked();
			log_warn("grace period over: closing %zu connections", conns_open());
			loop_stop();
		} else if (srv.drain_until < next)
			next = srv.drain_until;
	}
	return next;
}

/*
 * SIGTERM/SIGINT while serving: close the listeners at once, so that new
 * connections are refused rather than left in a backlog nobody reads, and
 * give the requests under way the grace period.
 */
static int
http_term(unsigned signo)
{
	size_t i, j;

	if (srv.term != NULL)
		return srv.term(signo);
	if (!srv.running || srv.draining)
		return 0;
	if (srv.grace_ms == 0) {
		answer_parked();	/* no grace: the loop stops now */
		return 0;
	}
	for (i = 0; i < srv.nsvc; i++) {
		struct service *s = &srv.svc[i];
		for (j = 0; j < s->se_nlst; j++) {
			close(s->se_lst[j].li_w.lw_fd);
			s->se_lst[j].li_w.lw_fd = -1;
		}
		s->se_nlst = 0;
		s->se_accepting = 0;
	}
	srv.draining = 1;
	srv.drain_until = loop_now_ms() + srv.grace_ms;
	log_info("signal %u: stopping; listeners closed, %zu connections under way get up "
	    "to %u ms", signo, conns_open(), srv.grace_ms);
	if (conns_open() == 0) {
		log_info("every connection finished");
		loop_stop();
	}
	return 1;
}

/* ---- public ------------------------------------------------------------- */

void
http_signals(int (*term)(unsigned signo))
{
	srv.term = term;
}

void
http_server_init(unsigned grace_ms, uint64_t *fd_hits)
{
	srv.grace_ms = grace_ms;
	srv.fd_hits = fd_hits;
	loop_hooks(http_term, http_expire);
}

static struct service *
service_of(const struct http_service *sv)
{
	size_t i;

	for (i = 0; i < srv.nsvc; i++)
		if (srv.svc[i].se_def == sv)
			return &srv.svc[i];
	return NULL;
}

static void
service_close(struct service *s)
{
	size_t i;

	for (i = 0; i < s->se_pool_fresh; i++)
		if (s->se_pool[i].c_state != CS_FREE)
			conn_close(&s->se_pool[i]);
	for (i = 0; i < s->se_nlst; i++)
		close(s->se_lst[i].li_w.lw_fd);
	s->se_nlst = 0;
	free(s->se_pool);
	s->se_pool = NULL;
	free(s->se_hstate);
	s->se_hstate = NULL;
	clients_free(&s->se_clients);
}

int
http_serve(const struct http_service *sv, const struct http_limits *lim,
    const struct listen_addr *la, size_t n, char *err, size_t errlen)
{
	struct service *s;
	size_t i;

	if (srv.nsvc == SERVICES_MAX || n > LISTEN_MAX || service_of(sv) != NULL) {
		snprintf(err, errlen, "%s: too many services or listeners", sv->sv_name);
		return -1;
	}
	s = &srv.svc[srv.nsvc];
	memset(s, 0, sizeof(*s));
	s->se_def = sv;
	s->se_lim = *lim;
	if (s->se_lim.hl_conn_max == 0)
		s->se_lim.hl_conn_max = 1;
	/*
	 * calloc: pages of the pool stay untouched, and cost no resident
	 * memory, until a slot is first used (se_pool_fresh hands them out).
	 */
	if ((s->se_pool = calloc(s->se_lim.hl_conn_max, sizeof(*s->se_pool))) == NULL ||
	    (sv->sv_state_size > 0 && (s->se_hstate = calloc(s->se_lim.hl_conn_max,
	    sv->sv_state_size)) == NULL)) {
		snprintf(err, errlen, "%s: connection pool of %zu: out of memory", sv->sv_name,
		    s->se_lim.hl_conn_max);
		service_close(s);
		return -1;
	}
	if (clients_init(&s->se_clients, s->se_lim.hl_conn_max, lim->hl_evict,
	    lim->hl_per_client, lim->hl_rate,
	    err, errlen) == -1) {
		service_close(s);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (sock_listen(&la[i], &s->se_lst[i].li_sb, err, errlen) == -1) {
			service_close(s);
			return -1;
		}
		s->se_lst[i].li_svc = s;
		loop_watch_init(&s->se_lst[i].li_w, s->se_lst[i].li_sb.so_fd, do_accept, &s->se_lst[i]);
		s->se_nlst++;
	}
	srv.nsvc++;
	accepting_set(s, 1);
	for (i = 0; i < s->se_nlst; i++)
		log_info("%s%s%s", sv->sv_log_pre, s->se_lst[i].li_sb.so_text, sv->sv_log_post);
	return 0;
}

unsigned
http_bound_port(const struct http_service *sv, size_t i)
{
	const struct service *s = service_of(sv);

	return s != NULL && i < s->se_nlst ? s->se_lst[i].li_sb.so_port : 0;
}

size_t
http_conns_open(const struct http_service *sv)
{
	const struct service *s = service_of(sv);

	return s != NULL ? s->se_nopen : 0;
}

void
http_wake(void)
{
	srv.wake = 1;
}

void
http_wake_at(uint64_t ms)
{
	if (srv.wake_at == 0 || ms < srv.wake_at)
		srv.wake_at = ms;
}

int
http_run(void)
{
	int rc;

	srv.running = 1;
	rc = loop_run_until(NULL);
	srv.running = 0;
	return rc < 0 ? -1 : 0;
}

void
http_shutdown(void)
{
	size_t i;

	srv.draining = 0;
	for (i = 0; i < srv.nsvc; i++)
		service_close(&srv.svc[i]);
	srv.nsvc = 0;
	srv.nparked = 0;
	srv.accept_resume_ms = 0;
	srv.wake_at = 0;
}
