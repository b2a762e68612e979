/*
 * test_server.c: the HTTP server (http/server.c) with a test service of
 * its own on loopback: deferred answers (parked, then asked again after
 * http_wake, or answered HTTP_DEFER_STATUS at the deadline), who is asking
 * (struct http_peer), the head limits passed to the parser, and a full
 * pool evicting its oldest idle connection.  The clients are non-blocking
 * sockets watched by the same loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"

#define CLIENTS		4	/* test clients at once */
#define GUARD_MS	3000	/* a test's loop never runs longer */

/* What the test handler saw and does. */
static struct {
	int		 calls;		/* handler calls */
	int		 deferred;	/* of which answered HTTP_DEFER */
	int		 ready;		/* the answer is ready: stop deferring */
	int		 last_status;	/* the last call's hc_status */
	struct http_peer peer;		/* the last call's peer */
	int		 released;	/* sv_release calls */
} th;

/* One test client: its socket and what it read. */
struct tclient {
	struct loop_watch w;
	int		 fd;
	char		 buf[1024];
	size_t		 len;
	int		 eof;
	unsigned	 port;		/* its local port */
};

static struct tclient cl[CLIENTS];
static int done, guard_hit;
static struct loop_timer guard, later;
static char err[ERRBUF_LEN];

struct tstate {
	char	 body[32];
};

static enum http_verdict
test_handle(void *state, const struct http_call *call, struct http_reply *rp)
{
	struct tstate *ts = state;
	struct http_field f[] = { { "Content-Length", NULL, 0 }, { "Connection", "close", 0 } };
	int status = call->hc_status ? call->hc_status : 200;

	th.calls++;
	th.last_status = call->hc_status;
	th.peer = *call->hc_peer;
	if (call->hc_status == 0 && slice_eq(call->hc_req->r_target, "/later") && !th.ready) {
		th.deferred++;
		return HTTP_DEFER;
	}
	snprintf(ts->body, sizeof(ts->body), "%s", status == 200 ? "ready" : "");
	f[0].hf_num = strlen(ts->body);
	rp->hr_headlen = http_head_write(rp->hr_head, rp->hr_headcap, status, f, 2);
	rp->hr_body = ts->body;
	rp->hr_bodylen = strlen(ts->body);
	return HTTP_ANSWER;
}

static void
test_release(void *state)
{
	(void)state;
	th.released++;
}

static const struct http_service test_service = {
	.sv_name = "test",
	.sv_log_pre = "test service on ",
	.sv_log_post = "",
	.sv_handle = test_handle,
	.sv_release = test_release,
	.sv_state_size = sizeof(struct tstate),
};

static void
on_guard(void *arg)
{
	(void)arg;
	guard_hit = 1;
	done = 1;
}

/* Every client that sent something has its whole answer (EOF). */
static void
client_read(int fd, uint32_t events, void *arg)
{
	struct tclient *c = arg;
	ssize_t r;
	size_t i;

	(void)events;
	r = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (r > 0) {
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		return;
	}
	if (r == -1 && errno == EAGAIN)
		return;
	c->eof = 1;
	loop_watch_del(&c->w);
	for (i = 0, done = 1; i < CLIENTS; i++)
		if (cl[i].fd >= 0 && cl[i].w.lw_fd >= 0)
			done = 0;	/* still watched: no EOF yet */
}

static void
serve(const struct http_limits *lim)
{
	struct listen_addr la;

	assert_int_equal(listen_addr_parse("127.0.0.1:0", &la, err, sizeof(err)), 0);
	assert_int_equal(http_serve(&test_service, lim, &la, 1, err, sizeof(err)), 0);
	assert_true(http_bound_port(&test_service, 0) > 0);
}

/* Connect client i from src (a loopback address), send req (may be ""), watch its answer. */
static void
client_open_from(int i, const char *src, const char *req)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct tclient *c = &cl[i];

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, src, &sin.sin_addr), 1);
	assert_int_equal(bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)http_bound_port(&test_service, 0));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(c->fd, (struct sockaddr *)&sin, &sl), 0);
	c->port = ntohs(sin.sin_port);
	if (*req != '\0')
		assert_int_equal(write(c->fd, req, strlen(req)), (ssize_t)strlen(req));
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	assert_int_equal(loop_watch_add(&c->w, c->fd, EPOLLIN, client_read, c), 0);
}

static void
client_open(int i, const char *req)
{
	client_open_from(i, "127.0.0.1", req);
}

/* Run the loop until every watched client has its EOF (or the guard). */
static void
run(void)
{
	done = 0;
	guard_hit = 0;
	loop_timer_set(&guard, GUARD_MS, on_guard, NULL);
	assert_true(loop_run_until(&done) >= 0);
	loop_timer_cancel(&guard);
	assert_false(guard_hit);
}

static int
setup(void **state)
{
	size_t i;

	(void)state;
	memset(&th, 0, sizeof(th));
	memset(cl, 0, sizeof(cl));
	for (i = 0; i < CLIENTS; i++)
		cl[i].fd = cl[i].w.lw_fd = -1;
	if (loop_init(err, sizeof(err)) == -1)
		return -1;
	http_server_init(0, NULL);
	return 0;
}

static int
teardown(void **state)
{
	size_t i;

	(void)state;
	http_shutdown();
	for (i = 0; i < CLIENTS; i++)
		if (cl[i].fd >= 0) {
			loop_watch_del(&cl[i].w);
			close(cl[i].fd);
			cl[i].fd = -1;
		}
	loop_cleanup();
	return 0;
}

static struct http_limits
limits(size_t conn_max, unsigned timeout_ms, int evict)
{
	struct http_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.hl_conn_max = conn_max;
	lim.hl_req_timeout_ms = timeout_ms;
	lim.hl_evict = evict;
	lim.hl_parse = http_parse_limits_max;
	return lim;
}

/* At "later": the answer is ready; nothing was written before. */
static void
on_later(void *arg)
{
	(void)arg;
	assert_int_equal(cl[0].len, 0);
	assert_int_equal(cl[1].len, 0);
	th.ready = 1;
	http_wake();
}

/* Two deferred requests: parked, silent, then both answered after one wake. */
static void
test_defer_wake(void **state)
{
	struct http_limits lim = limits(8, 2000, 0);

	(void)state;
	serve(&lim);
	client_open(0, "GET /later HTTP/1.1\r\n\r\n");
	client_open(1, "GET /later HTTP/1.1\r\n\r\n");
	loop_timer_set(&later, 200, on_later, NULL);
	run();
	assert_int_equal(th.deferred, 2);
	assert_int_equal(th.calls, 4);	/* each asked twice */
	assert_int_equal(th.last_status, 0);
	assert_string_equal(cl[0].buf,
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nready");
	assert_string_equal(cl[1].buf, cl[0].buf);
	assert_int_equal(th.released, 2);	/* once per answer, not per ask */
}

/* A wake before anything is parked, or with nothing ready, answers nothing early. */
static void
on_wake_early(void *arg)
{
	(void)arg;
	http_wake();		/* not ready yet: asked again, parked again */
	loop_timer_set(&later, 100, on_later, NULL);
}

static void
test_defer_rewake(void **state)
{
	struct http_limits lim = limits(8, 2000, 0);
	struct loop_timer early;

	(void)state;
	memset(&early, 0, sizeof(early));
	serve(&lim);
	client_open(0, "GET /later HTTP/1.1\r\n\r\n");
	loop_timer_set(&early, 50, on_wake_early, NULL);
	run();
	assert_int_equal(th.deferred, 2);	/* parked, woken, parked again */
	assert_int_equal(th.calls, 3);
	assert_non_null(strstr(cl[0].buf, "\r\n\r\nready"));
}

/* Never ready: at the deadline the handler answers HTTP_DEFER_STATUS. */
static void
test_defer_deadline(void **state)
{
	struct http_limits lim = limits(8, 300, 0);
	uint64_t t0;

	(void)state;
	serve(&lim);
	client_open(0, "GET /later HTTP/1.1\r\n\r\n");
	t0 = mono_ms();
	run();
	assert_true(mono_ms() - t0 >= 250);
	assert_int_equal(th.deferred, 1);
	assert_int_equal(th.calls, 2);
	assert_int_equal(th.last_status, HTTP_DEFER_STATUS);
	assert_non_null(strstr(cl[0].buf, "HTTP/1.1 503 Service Unavailable\r\n"));
}

static void
on_term(void *arg)
{
	(void)arg;
	kill(getpid(), SIGTERM);	/* blocked, read by the loop's signalfd */
}

/*
 * A request still parked when the shutdown grace runs out is answered
 * HTTP_DEFER_STATUS, not reset; with no grace at all, too.
 */
static void
stop_parked(unsigned grace_ms)
{
	struct http_limits lim = limits(8, 10000, 0);
	struct loop_timer term;
	struct pollfd pfd;
	ssize_t r;

	memset(&term, 0, sizeof(term));
	http_server_init(grace_ms, NULL);
	serve(&lim);
	client_open(0, "GET /later HTTP/1.1\r\n\r\n");
	loop_timer_set(&term, 100, on_term, NULL);
	assert_int_equal(http_run(), 0);
	assert_int_equal(th.deferred, 1);
	http_shutdown();
	pfd.fd = cl[0].fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, GUARD_MS), 1);
	r = read(cl[0].fd, cl[0].buf, sizeof(cl[0].buf) - 1);
	assert_true(r > 0);
	cl[0].buf[r] = '\0';
	assert_non_null(strstr(cl[0].buf, "HTTP/1.1 503 Service Unavailable\r\n"));
	assert_int_equal(th.last_status, HTTP_DEFER_STATUS);
}

static void
test_grace_over_answers_parked(void **state)
{
	(void)state;
	stop_parked(200);
}

static void
test_no_grace_answers_parked(void **state)
{
	(void)state;
	stop_parked(0);
}

/*
 * The loop: a watch closed and filled again with a new descriptor during
 * a batch (a freed connection slot reused at once) does not get the old
 * descriptor's event of that batch.  Both pipes are readable; whichever
 * callback runs first closes the other's pipe and refills its watch with
 * a third (readable too).
 */
static struct loop_watch swap_w[2];
static int swap_fds[3][2], swap_calls;

static void
swap_cb(int fd, uint32_t events, void *arg)
{
	struct loop_watch *other = &swap_w[1 - (int)(intptr_t)arg];

	(void)fd;
	(void)events;
	if (swap_calls++ > 0)
		return;
	done = 1;
	close(other->lw_fd);
	assert_int_equal(loop_watch_add(other, swap_fds[2][0], EPOLLIN, swap_cb,
	    (void *)(intptr_t)(other - swap_w)), 0);
}

static void
test_loop_reused_watch(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(pipe(swap_fds[i]), 0);
		assert_int_equal(write(swap_fds[i][1], "x", 1), 1);
	}
	swap_calls = 0;
	for (i = 0; i < 2; i++)
		assert_int_equal(loop_watch_add(&swap_w[i], swap_fds[i][0], EPOLLIN, swap_cb,
		    (void *)(intptr_t)i), 0);
	done = 0;
	assert_true(loop_run_until(&done) >= 0);
	assert_int_equal(swap_calls, 1);
	for (i = 0; i < 2; i++) {
		int fd = swap_w[i].lw_fd;	/* its own pipe's, or the third's */
		loop_watch_del(&swap_w[i]);
		close(fd);
		close(swap_fds[i][1]);
	}
	close(swap_fds[2][1]);
}

/* The handler is told who is asking. */
static void
test_peer(void **state)
{
	struct http_limits lim = limits(8, 2000, 0);
	char want[64], got[SOCK_ADDR_TEXT_MAX];

	(void)state;
	serve(&lim);
	client_open(0, "GET / HTTP/1.1\r\n\r\n");
	run();
	assert_int_equal(th.calls, 1);
	assert_int_equal(th.peer.pe_family, AF_INET);
	assert_memory_equal(th.peer.pe_addr, "\x7f\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(th.peer.pe_port, cl[0].port);
	snprintf(want, sizeof(want), "127.0.0.1:%u", cl[0].port);
	http_peer_text(&th.peer, got, sizeof(got));
	assert_string_equal(got, want);
}

/* The service's own head limits reach the parser: 431 past its headers_max. */
static void
test_parse_limits(void **state)
{
	struct http_limits lim = limits(8, 2000, 0);

	(void)state;
	http_parse_limits_set(&lim.hl_parse, HTTP_HEAD_MIN, HTTP_HEADERS_MIN);
	serve(&lim);
	client_open(0, "GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\n"
	    "g: 1\r\nh: 1\r\ni: 1\r\n\r\n");
	run();
	assert_int_equal(th.last_status, 431);
	assert_non_null(strstr(cl[0].buf, "HTTP/1.1 431 "));
}

/* A full pool that evicts: the oldest idle connection goes, the newcomer is answered. */
static void
test_evict_oldest_idle(void **state)
{
	struct http_limits lim = limits(2, 2000, 1);

	(void)state;
	serve(&lim);
	client_open(0, "");		/* idle: the oldest */
	client_open(1, "GE");		/* idle too, a partial request */
	client_open(2, "GET / HTTP/1.1\r\n\r\n");
	/* run until 0 (evicted) and 2 (answered) are done; 1 stays open */
	loop_watch_del(&cl[1].w);
	run();
	assert_int_equal(cl[0].eof, 1);
	assert_int_equal(cl[0].len, 0);		/* closed without a word */
	assert_non_null(strstr(cl[2].buf, "\r\n\r\nready"));
	assert_int_equal(http_conns_open(&test_service), 1);	/* client 1 still connected */
}

/*
 * The victim is the oldest idle connection of the address holding the
 * most: a flood from one address evicts its own, not an older probe.
 */
static void
test_evict_busiest_address(void **state)
{
	struct http_limits lim = limits(3, 2000, 1);

	(void)state;
	lim.hl_per_client = 3;
	serve(&lim);
	client_open_from(0, "127.0.0.1", "");	/* the probe: oldest, alone on its address */
	client_open_from(1, "127.0.0.2", "");	/* the flood */
	client_open_from(2, "127.0.0.2", "");
	client_open_from(3, "127.0.0.3", "GET / HTTP/1.1\r\n\r\n");
	loop_watch_del(&cl[0].w);		/* wait for 1 (evicted) and 3 (answered) */
	loop_watch_del(&cl[2].w);
	run();
	assert_int_equal(cl[1].eof, 1);
	assert_int_equal(cl[1].len, 0);
	assert_non_null(strstr(cl[3].buf, "\r\n\r\nready"));
	assert_int_equal(http_conns_open(&test_service), 2);	/* 0 and 2 */
	assert_int_equal(th.calls, 1);
}

/* A pool that does not evict pauses accepting; the newcomer waits for a free slot. */
static void
test_no_evict_waits(void **state)
{
	struct http_limits lim = limits(1, 300, 0);

	(void)state;
	serve(&lim);
	client_open(0, "");		/* holds the only slot until its deadline */
	client_open(1, "GET / HTTP/1.1\r\n\r\n");
	run();
	assert_int_equal(cl[0].len, 0);
	assert_non_null(strstr(cl[1].buf, "\r\n\r\nready"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defer_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_rewake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_over_answers_parked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_grace_answers_parked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_reused_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_oldest_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_busiest_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_evict_waits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
