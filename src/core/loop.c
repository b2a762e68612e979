/*
 * loop.c: the event loop.  One thread, level-triggered epoll.
 *
 * Every epoll event's data.ptr is a struct loop_watch: the loop calls its
 * callback with the events.  An event a batch still holds for a watch
 * closed, or closed and filled again, by an earlier callback of the same
 * batch is skipped (lw_fd -1, or lw_batch this batch's): it was the old
 * descriptor's.  Level-triggered, a live one is reported again.  Timers are a short list sorted by deadline
 * (a handful at most).  Modules with many deadlines of their own (the HTTP
 * server's connections) register one expire hook instead: it runs before
 * every wait, expires what is due and says when it next needs to run.
 * SIGTERM/SIGINT and SIGHUP arrive through a signalfd: SIGHUP calls the hup
 * callback; SIGTERM/SIGINT call the term hook, which may take over the stop
 * (the HTTP server drains its connections, then calls loop_stop), or stop
 * the loop at once.  The tick callback runs about once a LOOP_TICK_MS.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/core.h"

#define EPOLL_BATCH		64	/* events per epoll_wait */

static struct {
	int		 epfd;
	uint64_t	 batch;		/* epoll_wait calls so far */
	uint64_t	 activity;	/* descriptor events and timers dispatched so far */
	struct loop_watch sigw;		/* the signalfd */
	int		 stop;
	uint64_t	 now_ms;
	struct loop_timer *timers;	/* armed, soonest first */
	void		(*tick)(void);
	void		(*hup)(void);
	int		(*term)(unsigned signo);
	uint64_t	(*expire)(uint64_t now_ms);
} lp = { .epfd = -1, .sigw = { .lw_fd = -1 } };

static void
on_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (lp.hup != NULL)
				lp.hup();
		} else if (lp.term == NULL || !lp.term(si.ssi_signo)) {
			log_info("signal %u: stopping", si.ssi_signo);
			lp.stop = 1;
		}
	}
}

int
loop_init(char *err, size_t errlen)
{
	sigset_t mask, old;
	int fd;

	memset(&lp, 0, sizeof(lp));
	lp.sigw.lw_fd = -1;
	if ((lp.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	if ((fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto fail;
	}
	if (loop_watch_add(&lp.sigw, fd, EPOLLIN, on_signal, NULL) == -1) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		close(fd);
		goto fail;
	}
	lp.now_ms = mono_ms();
	return 0;
fail:
	/* as it was before: no descriptor kept, the signals as blocked as they were */
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(lp.epfd);
	lp.epfd = -1;
	return -1;
}

void
loop_watch_init(struct loop_watch *w, int fd, void (*cb)(int fd, uint32_t events, void *arg),
    void *arg)
{
	w->lw_fd = fd;
	w->lw_polled = 0;
	w->lw_batch = lp.batch;
	w->lw_cb = cb;
	w->lw_arg = arg;
}

int
loop_watch_set(struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(lp.epfd, w->lw_polled ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->lw_fd,
	    &ev) == -1)
		return -1;
	w->lw_polled = 1;
	return 0;
}

int
loop_watch_add(struct loop_watch *w, int fd, uint32_t events,
    void (*cb)(int fd, uint32_t events, void *arg), void *arg)
{
	loop_watch_init(w, fd, cb, arg);
	if (loop_watch_set(w, events) == -1) {
		w->lw_fd = -1;		/* not watched: loop_watch_del has nothing to do */
		return -1;
	}
	return 0;
}

void
loop_watch_del(struct loop_watch *w)
{
	if (w->lw_fd >= 0 && w->lw_polled)
		epoll_ctl(lp.epfd, EPOLL_CTL_DEL, w->lw_fd, NULL);
	w->lw_polled = 0;
	w->lw_fd = -1;
}

void
loop_timer_cancel(struct loop_timer *t)
{
	struct loop_timer **pp;

	if (!t->lt_armed)
		return;
	for (pp = &lp.timers; *pp != NULL; pp = &(*pp)->lt_next)
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
	for (pp = &lp.timers; *pp != NULL && (*pp)->lt_at_ms <= t->lt_at_ms;
	    pp = &(*pp)->lt_next)
		;
	t->lt_next = *pp;
	*pp = t;
	t->lt_armed = 1;
}

IDLE_PATH uint64_t
loop_activity(void)
{
	return lp.activity;
}

IDLE_PATH uint64_t
loop_now_ms(void)
{
	return lp.now_ms;
}

void
loop_callbacks(void (*tick)(void), void (*hup)(void))
{
	lp.tick = tick;
	lp.hup = hup;
}

void
loop_hooks(int (*term)(unsigned signo), uint64_t (*expire)(uint64_t now_ms))
{
	lp.term = term;
	lp.expire = expire;
}

void
loop_stop(void)
{
	lp.stop = 1;
}

/* Run due timers and the expire hook; returns ms to wait at most (-1: no deadline). */
static int
timers_run(void)
{
	struct loop_timer *t;
	uint64_t next = UINT64_MAX, e;

	while ((t = lp.timers) != NULL && t->lt_at_ms <= lp.now_ms) {
		lp.timers = t->lt_next;
		t->lt_armed = 0;
		t->lt_next = NULL;
		lp.activity++;
		t->lt_cb(t->lt_arg);	/* may re-arm t or others */
	}
	if (lp.timers != NULL)
		next = lp.timers->lt_at_ms;
	if (lp.expire != NULL && (e = lp.expire(lp.now_ms)) < next)
		next = e;
	if (next == UINT64_MAX)
		return -1;
	return next <= lp.now_ms ? 0 : (int)(next - lp.now_ms);
}

IDLE_PATH int
loop_run_until(const int *done)
{
	struct epoll_event evs[EPOLL_BATCH];
	uint64_t next_tick;
	int i, n, timeout, t;

	lp.now_ms = mono_ms();
	next_tick = lp.now_ms + LOOP_TICK_MS;
	while (!lp.stop && (done == NULL || !*done)) {
		timeout = timers_run();
		if (lp.stop || (done != NULL && *done))
			break;		/* a timer finished the job */
		t = next_tick > lp.now_ms ? (int)(next_tick - lp.now_ms) : 0;
		if (timeout < 0 || t < timeout)
			timeout = t;
		n = epoll_wait(lp.epfd, evs, EPOLL_BATCH, timeout);
		if (n == -1 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			return -1;
		}
		lp.now_ms = mono_ms();
		lp.batch++;
		if (n > 0)
			lp.activity += (uint64_t)n;
		/*
		 * A watch closed by an earlier callback of this batch has lw_fd -1;
		 * one filled again since (a freed slot reused for a new descriptor)
		 * has this batch's stamp: either way its event is the old
		 * descriptor's, and is skipped.
		 */
		for (i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;
			if (w->lw_fd >= 0 && w->lw_batch != lp.batch)
				w->lw_cb(w->lw_fd, evs[i].events, w->lw_arg);
		}
		if (lp.now_ms >= next_tick) {
			next_tick = lp.now_ms + LOOP_TICK_MS;
			if (lp.tick != NULL)
				lp.tick();
		}
	}
	return lp.stop ? 1 : 0;
}

void
loop_cleanup(void)
{
	if (lp.sigw.lw_fd != -1)
		close(lp.sigw.lw_fd);
	lp.sigw.lw_fd = -1;
	if (lp.epfd != -1)
		close(lp.epfd);
	lp.epfd = -1;
	lp.timers = NULL;
	lp.term = NULL;
	lp.expire = NULL;
}
