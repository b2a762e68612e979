/*
 * srcload: an HTTP/1.1 load generator whose connections come from many
 * source addresses, as the pods of a node do (wrk has one).  bench/pods
 * builds and runs it; it is not part of the daemon.
 *
 *   srcload HOST PORT PATH SECONDS CONNS NSRC [NROLES]
 *
 * CONNS connections at once, each a new one per request (Connection:
 * close, as bench/run's wrk), the k-th from 127.1.(k / 250).(k % 250 + 1)
 * for k cycling through 0..NSRC-1.  With NROLES > 0 the path of source k is
 * PATH followed by "role-NNN" (k % NROLES, three digits): each pod asks for
 * its own role's credentials.  One second of warm-up, then SECONDS counted.
 * Prints one line: requests=N ok=N bad=N errors=N rps=N.  Loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SL_CONNS_MAX	1024	/* connections at once */
#define SL_SRC_MAX	60000	/* source addresses (127.1.0.1 ...) */
#define SL_REQ_MAX	512	/* bytes of one request */
#define SL_READ_MAX	16384	/* bytes read at once (a reply is read to its end) */
#define SL_WARMUP_MS	1000

struct sl_conn {
	int	 fd;
	unsigned k;		/* its source: 127.1.(k / 250).(k % 250 + 1) */
	int	 sent;
	int	 status;	/* 0 until the status line is read */
	char	 head[16];	/* the reply's first bytes */
	size_t	 nhead;
};

static struct sockaddr_in target;
static const char *path;
static unsigned nsrc, nroles, next_src;
static int ep;
static char rbuf[SL_READ_MAX];
static unsigned long n_ok, n_bad, n_err;
static int counting;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open c's next connection, from the next source address.  0 / -1. */
static int
sl_open(struct sl_conn *c)
{
	struct sockaddr_in src;
	struct epoll_event ev;
	unsigned k = next_src++ % nsrc;

	memset(c, 0, sizeof(*c));
	c->k = k;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f010000u | (k / 250) << 8 | (k % 250 + 1));
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) == -1 &&
	    errno != EINPROGRESS)) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

/* The request of source k (the one c's connection came from). */
static size_t
sl_request(char *buf, unsigned k)
{
	char role[16] = "";

	if (nroles > 0)
		snprintf(role, sizeof(role), "role-%03u", k % nroles);
	return (size_t)snprintf(buf, SL_REQ_MAX, "GET %s%s HTTP/1.1\r\nHost: 169.254.169.254\r\n"
	    "Connection: close\r\n\r\n", path, role);
}

/* c's request is done (ok, refused, or broken): count it, open the next. */
static void
sl_done(struct sl_conn *c, int broken)
{
	if (counting) {
		if (broken)
			n_err++;
		else if (c->status == 200)
			n_ok++;
		else
			n_bad++;
	}
	close(c->fd);
	while (sl_open(c) == -1)
		n_err += counting;
}

static void
sl_event(struct sl_conn *c, unsigned events)
{
	char req[SL_REQ_MAX];
	struct epoll_event ev;
	size_t len, want;
	ssize_t n;

	if (!c->sent && (events & EPOLLOUT)) {
		len = sl_request(req, c->k);
		if (send(c->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
			sl_done(c, 1);
			return;
		}
		c->sent = 1;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		n = read(c->fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			want = sizeof(c->head) - c->nhead;
			if (want > (size_t)n)
				want = (size_t)n;
			memcpy(c->head + c->nhead, rbuf, want);
			c->nhead += want;
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			return;
		break;
	}
	if (c->nhead >= 12 && memcmp(c->head, "HTTP/1.", 7) == 0)
		c->status = atoi(c->head + 9);
	sl_done(c, n == -1 || c->status == 0);
}

int
main(int argc, char **argv)
{
	static struct sl_conn conns[SL_CONNS_MAX];
	struct epoll_event evs[64];
	unsigned nconn, i;
	long long start, t0 = 0, t, secs;
	int n, j;

	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: srcload HOST PORT PATH SECONDS CONNS NSRC [NROLES]\n");
		return 64;
	}
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((unsigned short)atoi(argv[2]));
	path = argv[3];
	secs = atoll(argv[4]);
	nconn = (unsigned)atoi(argv[5]);
	nsrc = (unsigned)atoi(argv[6]);
	nroles = argc == 8 ? (unsigned)atoi(argv[7]) : 0;
	if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1 || secs <= 0 || nconn == 0 ||
	    nconn > SL_CONNS_MAX || nsrc == 0 || nsrc > SL_SRC_MAX) {
		fprintf(stderr, "srcload: bad arguments\n");
		return 64;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 71;
	for (i = 0; i < nconn; i++)
		if (sl_open(&conns[i]) == -1) {
			fprintf(stderr, "srcload: connect: %s\n", strerror(errno));
			return 71;
		}
	start = now_ms();
	for (;;) {
		t = now_ms();
		if (!counting && t - start >= SL_WARMUP_MS) {
			counting = 1;
			t0 = t;
		}
		if (counting && t - t0 >= secs * 1000)
			break;
		n = epoll_wait(ep, evs, 64, 100);
		for (j = 0; j < n; j++)
			sl_event(evs[j].data.ptr, evs[j].events);
	}
	t = now_ms() - t0;
	printf("requests=%lu ok=%lu bad=%lu errors=%lu rps=%.0f\n", n_ok + n_bad + n_err, n_ok,
	    n_bad, n_err, (double)(n_ok + n_bad) * 1000.0 / (double)t);
	return 0;
}
