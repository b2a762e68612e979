/*
 * core/: the layer everything else stands on.
 *
 *   util.c     dates, base64, bounded numbers and durations, slices, one-line
 *              text (control bytes, errf), (pointer, length) copies as strings,
 *              secret-wiping buffers, arrays that double up to a cap, files read
 *              with a cap, the hash of an address or a string (addr_hash,
 *              str_hash), non-blocking reads (read_some)
 *   buf.c      capped buffers (sbuf): a caller's fixed buffer, or a growable
 *              one with a ceiling
 *   log.c      one-line text or JSON logs; fatal exits
 *   json.c     the IMDS JSON pretty-printer (capped at JBUF_MAX)
 *   watch.c    inotify on files' parent directories, debounced
 *   loop.c     the event loop: epoll, fd watches, timers, signals (signalfd),
 *              an expire hook for modules with many deadlines, run-until
 *   sock.c     listen addresses ("ADDR:PORT", "[IPv6]:PORT"), listening
 *              sockets, socket addresses as text
 *   spawn.c    starting a program: clean signal state, own process group,
 *              exactly the descriptors given (SPAWN_FDS_MAX), PATH lookup;
 *              reaping it (spawn_reap)
 *
 * Nothing here knows about HTTP, credentials or IMDS.
 */
#ifndef CORE_H
#define CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define PROGNAME		"gimme-aws-mini"
#ifndef GIMME_VERSION
#define GIMME_VERSION		"0.1.0"
#endif

#define IMF_DATE_LEN		29	/* "Mon, 02 Jun 2025 09:20:28 GMT" */
#define ISO_DATE_LEN		20	/* "2025-06-02T09:20:28Z" */
#define ERRBUF_LEN		1024	/* bytes in an error message buffer */
#define OPT_ITEM_MAX		256	/* bytes in one item of a comma-separated option */

/* Exit codes (habit 13). */
#define EXIT_USAGE		64	/* bad flag or value */
#define EXIT_CONFIG		78	/* bad configuration file */
#define EXIT_SYSTEM		71	/* a system call failed */
#define EXIT_NOPERM		77	/* not allowed: privileges missing */
#define EXIT_BUG		70	/* can't happen */

/* A slice of untrusted bytes: never NUL-terminated. */
struct slice {
	const char	*p;
	size_t		 n;
};

/* ------------------------------------------------------------------ */
/* util.c: formatting helpers with fixed output sizes                 */
/* ------------------------------------------------------------------ */

/* IMF-fixdate (RFC 9110 §5.6.7) into buf[IMF_DATE_LEN + 1]; returns IMF_DATE_LEN. */
size_t		 fmt_imf_date(time_t t, char *buf);
/* "YYYY-MM-DDTHH:MM:SSZ" into buf[ISO_DATE_LEN + 1]; returns ISO_DATE_LEN. */
size_t		 fmt_iso8601(time_t t, char *buf);
/* Parse exactly "YYYY-MM-DDTHH:MM:SSZ" (also accepts a fraction and "+00:00"). 0 ok, -1 bad. */
int		 parse_iso8601(const char *s, size_t n, time_t *out);
/*
 * Base64 of in[0..n) into out (capacity cap, NUL-terminated).  urlsafe uses
 * '-' and '_'.  wrap > 0 inserts LF every wrap characters (never a trailing
 * LF).  Returns the length written, or 0 if cap is too small.
 */
size_t		 b64_encode(const unsigned char *in, size_t n, char *out, size_t cap,
		    int urlsafe, int wrap);
/* Decode base64url (with padding) of exactly n chars; returns bytes or -1. */
ssize_t		 b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/* The same in the standard alphabet ('+', '/'; kubeconfig's *-data).  Bytes or -1. */
ssize_t		 b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/*
 * Bounded unsigned decimal: digits only, no sign, no spaces, value <= max.
 * Returns 0, or -1 not a number, -2 too big.
 */
int		 parse_uint_bounded(const char *s, size_t n, unsigned long max,
		    unsigned long *out);
/* The units of parse_duration_bounded (bits of its units argument). */
#define DUR_MS		(1u << 0)	/* "500ms" */
#define DUR_S		(1u << 1)	/* "90s" */
#define DUR_M		(1u << 2)	/* "15m" */
#define DUR_H		(1u << 3)	/* "1h" */
#define DUR_D		(1u << 4)	/* "2d" */
enum dur_in { DUR_IN_S, DUR_IN_MS };	/* what parse_duration_bounded counts in */
/*
 * A duration in s[0..n): digits, then one of the units asked for (a bare
 * number is seconds), as seconds or milliseconds (in) within lo..hi.  No
 * sign, no spaces; never overflows ("ms" with DUR_IN_S is refused).
 * 0, or -1 (empty, junk, a unit not asked for, out of bounds).
 */
int		 parse_duration_bounded(const char *s, size_t n, unsigned units, enum dur_in in,
		    unsigned long lo, unsigned long hi, unsigned long *out);
/* A control byte: below 0x20 (LF, TAB, ESC, ...) or DEL.  The one rule of one-line text. */
#define CTL_BYTE(c)	((unsigned char)(c) < 0x20 || (unsigned char)(c) == 0x7f)
/* s[0..n) has a control byte. */
int		 text_has_ctl(const char *s, size_t n);
/* s is text to serve or show: at most max bytes (before its NUL), no control byte. */
int		 text_ok(const char *s, size_t max);
/*
 * Copy src[0..n) into dst (cap bytes; cut at cap - 1, NUL-terminated) with
 * control bytes as '?'; dst may be src (in place).  Returns the length.
 */
size_t		 text_clean(char *dst, size_t cap, const char *src, size_t n);
/*
 * An error message into err[errlen] (nothing when err is NULL or errlen 0):
 * printf-style, cut to fit, one line (control bytes as '?').
 */
void		 errf(char *err, size_t errlen, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
void		 verrf(char *err, size_t errlen, const char *fmt, va_list ap)
		    __attribute__((format(printf, 3, 0)));
/* s[0..n) is all ASCII digits (n may be 0). */
int		 all_digits(const char *s, size_t n);
/* s equals the C string lit, byte for byte. */
int		 slice_eq(struct slice s, const char *lit);
/* ASCII case-insensitive comparison of a slice with a C string. */
int		 slice_ieq(struct slice s, const char *lit);
/* Wipe n bytes at p (may be NULL), then free it: for anything that may hold a secret. */
void		 wipe_free(void *p, size_t n);
/*
 * Grow a buffer that may hold secrets: a new block of newcap bytes with the
 * first used bytes copied, the old one (oldcap bytes) wiped and freed.  Not
 * realloc, which would free an unwiped copy.  NULL (old untouched) on failure.
 */
void		*wipe_grow(void *old, size_t used, size_t oldcap, size_t newcap);
/*
 * Room for more in a full malloc'd array of *cap elements of size bytes: the
 * capacity doubles (first when it is 0), at most max elements.  The array,
 * moved (realloc), with *cap updated; NULL (array and *cap untouched) when
 * *cap is already max (or max elements would not fit in a size_t), or out of
 * memory.  Not for secrets (see wipe_grow).
 */
void		*array_grow(void *arr, size_t *cap, size_t size, size_t first, size_t max);
/*
 * On the code an idle daemon runs every second (the loop, the tick and
 * what it calls, the trim): kept together in .text.hot, so that once
 * serve_mem_trim has dropped the code pages, an idle daemon faults back one
 * or two of the kernel's 64 KiB fault-around windows of its text, not one
 * in every part of it.
 */
#define IDLE_PATH	__attribute__((hot))
/*
 * Zero n bytes at p, writing only those not zero already: a page never
 * written (the .bss, a fresh mapping) is the kernel's shared zero page to
 * a read, so a large struct cleared at start costs resident memory only
 * for the parts then used.
 */
void		 mem_zero(void *p, size_t n);
/* A malloc'd copy of the n bytes at p, NUL-terminated (p may be NULL when n is 0); NULL. */
char		*mem_strdup(const char *p, size_t n);
/* FNV-1a of an address as struct http_peer carries it: family, then 16 bytes. */
uint32_t	 addr_hash(int family, const unsigned char addr[16]);
/* FNV-1a of a NUL-terminated string. */
uint32_t	 str_hash(const char *s);
/* close(2) fd on an error path, errno left as the error that led there. */
void		 close_keep_errno(int fd);
/*
 * Read a whole file of at most max bytes; *out is malloc'd, NUL-terminated. 0 / -1 (errno).
 * When open fails with EACCES or EPERM and an opener is set, the opener is
 * asked for a descriptor (priv/channel.c: the helper opens the files the
 * daemon must re-read after dropping its user); it returns an fd or -1 with
 * errno.
 */
int		 read_file_capped(const char *path, size_t max, char **out, size_t *outlen);
/* The same from an open descriptor, read to its end (left open).  0 / -1 (errno). */
int		 read_fd_capped(int fd, size_t max, char **out, size_t *outlen);
/*
 * read(2) of a non-blocking descriptor (a pipe, a socket), retried on EINTR:
 * the bytes read, 0 at the end (EOF, or an error that ends the stream just
 * the same), or -1 when it would block.
 */
ssize_t		 read_some(int fd, void *buf, size_t n);
/* time(NULL): the wall clock as a function, for clocks that tests replace. */
time_t		 clock_wall(void);
/* 32 random bits for jitter (getrandom; never blocks; not for secrets). */
uint32_t	 rnd32(void);
#define UUID_TEXT_LEN		36	/* a UUID's text: 8-4-4-4-12 hex digits */
/* A random (version 4) UUID's text, from rnd32: for ids and names, not secrets. */
void		 uuid4_text(char out[UUID_TEXT_LEN + 1]);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t	 mono_ms(void);
void		 read_file_set_opener(int (*opener)(const char *path));


/* ------------------------------------------------------------------ */
/* spawn.c: starting programs (posix_spawn)                           */
/* ------------------------------------------------------------------ */
#define SPAWN_FDS_MAX		5	/* child descriptors set up: 0-2, and two more (the helper's) */
#define SPAWN_PATH_MAX		512	/* bytes: a fallback directory and a program name */

/* What child descriptor N (the index in ss_io) is. */
struct spawn_io {
	enum {
		SPAWN_INHERIT,		/* ours as it is (unless close-on-exec) */
		SPAWN_DEVNULL,		/* /dev/null, read-only */
		SPAWN_FD,		/* a copy of our io_fd */
		SPAWN_PIPE,		/* a new pipe's write end; io_fd gets the read end
					   (close-on-exec, blocking) once it is started */
		SPAWN_SAME,		/* the same as the child's earlier descriptor io_fd */
	}		 io_how;
	int		 io_fd;
};

struct spawn_spec {
	const char	*ss_prog;	/* a path, or with ss_search a name looked up in PATH */
	char *const	*ss_argv;
	int		 ss_search;	/* PATH lookup (posix_spawnp) */
	const char	*ss_fallback_dir;	/* ss_search: not in PATH, then here (or NULL) */
	int		 ss_own_group;	/* its own process group (killed whole) */
	int		 ss_nio;	/* child descriptors 0 .. ss_nio-1 as ss_io says; others closed */
	struct spawn_io	 ss_io[SPAWN_FDS_MAX];
	char *const	*ss_envp;	/* its environment; NULL: ours */
};

/*
 * Start s: no blocked signal (the loop blocks some for its signalfd),
 * default dispositions, ss_envp or the environment as it is.  0 (*pid set; the read
 * ends of SPAWN_PIPE in their io_fd), or the error number (nothing is left
 * open; exec failures such as ENOENT and EACCES are reported here).
 */
int		 spawn_start(struct spawn_spec *s, pid_t *pid);
/* Wait for the child pid to exit (waitpid, retried on EINTR); its status into *status if not NULL. */
void		 spawn_reap(pid_t pid, int *status);

/* ------------------------------------------------------------------ */
/* buf.c: capped buffers                                              */
/* ------------------------------------------------------------------ */
#define SBUF_GROW_FIRST		256	/* bytes of a growable buffer's first allocation */

/*
 * Bytes appended into a capped buffer, of one of three kinds:
 *   SBUF_FIXED  text in the caller's buffer (never past sb_cap, always NUL-terminated);
 *   SBUF_RAW    bytes in the caller's buffer, all sb_cap of them usable, no NUL
 *               (the response heads);
 *   SBUF_GROWN  text in a malloc'd buffer grown up to sb_max bytes, wiped
 *               whenever it moves or is freed (it may hold credentials).
 * An append that does not fit (or finds no memory) adds nothing and sets
 * sb_full, which is sticky: nothing more is added, what is there stays whole.
 * Appending allocates nothing but for a SBUF_GROWN buffer.
 */
struct sbuf {
	char		*sb_p;
	size_t		 sb_len;
	size_t		 sb_cap;	/* bytes at sb_p */
	int		 sb_full;	/* sticky: something did not fit (and was not added) */
	size_t		 sb_max;	/* SBUF_GROWN: most bytes of text */
	unsigned char	 sb_grow;	/* SBUF_GROWN: sb_p is malloc'd */
	unsigned char	 sb_raw;	/* SBUF_RAW: no NUL kept */
};
#define SBUF_FIXED(p, cap)	{ (p), 0, (cap), 0, 0, 0, 0 }
#define SBUF_RAW(p, cap)	{ (p), 0, (cap), 0, 0, 0, 1 }
#define SBUF_GROWN(max)		{ NULL, 0, 0, 0, (max), 1, 0 }

/* The rare cases of sbuf_put: full, or a SBUF_GROWN buffer that must grow. */
void		 sbuf_put_slow(struct sbuf *b, const char *s, size_t n);
/* Append s[0..n).  The common case is inline: the head writer calls it per field. */
static inline void
sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	size_t room = b->sb_cap - b->sb_len;

	if (b->sb_full || n > room || (n == room && !b->sb_raw)) {
		sbuf_put_slow(b, s, n);
		return;
	}
	memcpy(b->sb_p + b->sb_len, s, n);
	b->sb_len += n;
	if (!b->sb_raw)
		b->sb_p[b->sb_len] = '\0';
}
static inline void
sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
}
/* Decimal digits of v. */
void		 sbuf_num(struct sbuf *b, unsigned long v);
/* Append printf-style (needs room for the NUL, even in a SBUF_RAW buffer). */
void		 sbuf_printf(struct sbuf *b, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * SBUF_GROWN: hand the text over in a block of its length + 1 (caller frees;
 * "" when nothing was added), b emptied; NULL when full.
 */
char		*sbuf_take(struct sbuf *b, size_t *len);
/* SBUF_GROWN: wipe and free; b emptied (same kind, same max). */
void		 sbuf_free(struct sbuf *b);

/* ------------------------------------------------------------------ */
/* log.c                                                              */
/* ------------------------------------------------------------------ */

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };
void		 log_init(int json, enum log_level min);
void		 log_msg(enum log_level lvl, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
/* One access-log line; imds is "v2" (valid token), "v1" (none) or "bad". */
void		 log_access(const char *client, struct slice method, struct slice path,
		    int status, size_t bytes, const char *imds);
/* fatal appends strerror(errno); fatalx does not.  Both exit(code). */
void		 fatal(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
void		 fatalx(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

/* ------------------------------------------------------------------ */
/* json.c: the IMDS pretty-printer (contract §2.7)                    */
/* ------------------------------------------------------------------ */

#define JBUF_MAX		65535	/* bytes in one emitted document (aws-c-auth's limit of a body) */

struct jbuf {
	struct sbuf	 jb_b;		/* SBUF_GROWN(JBUF_MAX) */
	int		 jb_members;	/* members so far in the open object */
};

void		 jbuf_init(struct jbuf *j);
void		 jbuf_free(struct jbuf *j);
/* Hand the text over (caller frees) and reset j; NULL when it did not fit or no memory. */
char		*jbuf_take(struct jbuf *j, size_t *len);
/* "{\n" ... "\n}" with members "  \"key\" : value", separated ",\n". */
void		 json_begin(struct jbuf *j);
/* val NULL emits null */
void		 json_str(struct jbuf *j, const char *key, const char *val);
/* A null member.  Not json_null: jansson.h declares that name. */
void		 json_null_member(struct jbuf *j, const char *key);
/* inline array "[ \"a\", \"b\" ]"; n == 0 emits null */
void		 json_strarray(struct jbuf *j, const char *key, const char *const *vals, size_t n);
void		 json_end(struct jbuf *j);
/* Append a JSON string literal (quoted, escaped per §2.7 rule 5). */
void		 json_quote(struct jbuf *j, const char *s, size_t n);
/* Append s as it is (layout around documents, e.g. the events array "[ ", " ]"). */
void		 json_raw(struct jbuf *j, const char *s);

/* ------------------------------------------------------------------ */
/* watch.c: notice edits of files (inotify)                           */
/* ------------------------------------------------------------------ */
#define WATCH_DELAY_MS		100	/* ms: call back this long after a watched file changes */

#define WATCH_FILES_MAX		4	/* files one watch follows */

/*
 * Call cb(arg) from the loop, WATCH_DELAY_MS after any of paths is
 * written, created, replaced by a rename (as editors and `aws configure`
 * do) or removed.  Watches the parent directories, so files that do not
 * exist yet are noticed when they appear.  0 / -1 with err.
 */
int		 watch_files(const char *const *paths, size_t n, void (*cb)(void *), void *arg,
		    char *err, size_t errlen);
void		 watch_stop(void);

/* ------------------------------------------------------------------ */
/* loop.c: the event loop (fd watchers, timers, signals)              */
/* ------------------------------------------------------------------ */

#define LOOP_TICK_MS		1000	/* ms: period of the tick callback */

/*
 * The loop's small interface for other modules: watch a descriptor, set a
 * timer.  Callers own the structs (embedded in their own state); nothing is
 * allocated.  Callbacks run from the loop, never re-entrantly.  A watch
 * whose lw_fd is -1 is skipped (an event of this batch for a closed fd).
 */
struct loop_watch {
	int		 lw_fd;
	int		 lw_polled;	/* in the epoll set; private */
	void		(*lw_cb)(int fd, uint32_t events, void *arg);
	void		*lw_arg;
	uint64_t	 lw_batch;	/* the event batch it was filled in; private */
};
struct loop_timer {
	uint64_t	 lt_at_ms;	/* monotonic ms; private */
	int		 lt_armed;
	void		(*lt_cb)(void *arg);
	void		*lt_arg;
	struct loop_timer *lt_next;	/* private */
};

/* The epoll set and signals (SIGTERM, SIGINT, SIGHUP blocked, SIGPIPE ignored).  0 / -1. */
int		 loop_init(char *err, size_t errlen);
/* Watch fd for events (EPOLLIN, EPOLLOUT, ...).  0 / -1 (errno; w is left unwatched). */
int		 loop_watch_add(struct loop_watch *w, int fd, uint32_t events,
		    void (*cb)(int fd, uint32_t events, void *arg), void *arg);
/* Fill w without watching yet (a descriptor that joins the set only when it must wait). */
void		 loop_watch_init(struct loop_watch *w, int fd,
		    void (*cb)(int fd, uint32_t events, void *arg), void *arg);
/* Wait for events on w from now on (joins the set, or changes its events).  0 / -1 (errno). */
int		 loop_watch_set(struct loop_watch *w, uint32_t events);
/* Stop watching (close(2) of a watched fd does it too: then just set lw_fd -1). */
void		 loop_watch_del(struct loop_watch *w);
/* Call cb(arg) delay_ms from now (re-arming moves it). */
void		 loop_timer_set(struct loop_timer *t, uint64_t delay_ms, void (*cb)(void *),
		    void *arg);
void		 loop_timer_cancel(struct loop_timer *t);
/* Monotonic milliseconds as of this loop iteration. */
uint64_t	 loop_now_ms(void);
/* Descriptor events and timers dispatched so far (any I/O, any timer; not the tick). */
uint64_t	 loop_activity(void);
/* tick: about once a LOOP_TICK_MS; hup: on SIGHUP.  Either may be NULL. */
void		 loop_callbacks(void (*tick)(void), void (*hup)(void));
/*
 * The hooks of the HTTP server (either may be NULL).  term(signo) on
 * SIGTERM/SIGINT: 1 when it takes over the stop (it calls loop_stop when
 * done), 0 to stop at once.  expire(now) before every wait: expires what is
 * due, returns the monotonic ms it must run again by (UINT64_MAX: never).
 */
void		 loop_hooks(int (*term)(unsigned signo), uint64_t (*expire)(uint64_t now_ms));
/* Make loop_run_until return 1 after this iteration. */
void		 loop_stop(void);
/* Run until *done becomes non-zero (done may be NULL), or a stop (then 1). 0 / 1 / -1. */
int		 loop_run_until(const int *done);
/* Tear the loop down: the signalfd, the epoll set, the timers and hooks. */
void		 loop_cleanup(void);

/* ------------------------------------------------------------------ */
/* sock.c: listen addresses and listening sockets                     */
/* ------------------------------------------------------------------ */
#define SOCK_BACKLOG		511	/* listen(2) backlog */
#define SOCK_ADDR_TEXT_MAX	(46 + 8)	/* "[addr]:port" with its NUL (INET6_ADDRSTRLEN + 8) */
#define LISTEN_ADDR_TEXT_MAX	64	/* bytes of a --listen address as given, with its NUL */

struct listen_addr {
	char		 la_text[LISTEN_ADDR_TEXT_MAX];	/* as given: "127.0.0.1:1338", "[::1]:80" */
	int		 la_family;
	unsigned char	 la_addr[16];
	unsigned	 la_port;
	int		 la_freebind;	/* bind before the address exists (alias mode) */
};
/* Parse "ADDR:PORT" or "[IPv6]:PORT".  0 / -1 with err. */
int		 listen_addr_parse(const char *s, struct listen_addr *out, char *err, size_t errlen);

/* A listening socket as bound. */
struct sock_bound {
	int		 so_fd;		/* non-blocking, close-on-exec */
	int		 so_family;
	unsigned	 so_port;	/* port 0 resolved */
	char		 so_text[SOCK_ADDR_TEXT_MAX];	/* "addr:port" as bound */
};
/* Bind and listen on la.  0 / -1 with err (the address and why). */
int		 sock_listen(const struct listen_addr *la, struct sock_bound *b, char *err,
		    size_t errlen);
/* "addr:port" or "[addr]:port" of an AF_INET or AF_INET6 sockaddr (ss), cut at len. */
struct sockaddr_storage;
void		 sock_addr_text(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif /* CORE_H */
