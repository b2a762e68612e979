/*
 * ops/: operating the daemon.
 *
 *   health.c    /healthz, /readyz, /metrics on their own listener
 *   control.c   the control socket (ctl's server side); the file bound
 *               (control_bound), removed by the sandbox helper at exit
 *               only if still that file (control_remove_bound); the
 *               client's connect (control_dial), for ctl and the stale check
 *   ctl.c       `gimme-aws-mini ctl`, its client
 */
#ifndef OPS_H
#define OPS_H

#include "core/core.h"
#include "http/http.h"
#include "imds/imds.h"

#define CONTROL_LINE_MAX	8192	/* bytes in one control request line, LF included */
#define CONTROL_REPLY_MAX	(JBUF_MAX + 64)	/* bytes in one reply line, LF included */
#define CONTROL_ARGS_MAX	16	/* words in one control request */
#define CONTROL_CLIENTS_MAX	8	/* control connections served at once */
#define CONTROL_TIMEOUT_MS	5000	/* ms a control client has to send its line and read the reply */
#define CONTROL_MODE_DEFAULT	0600	/* permissions of the control socket */

#define HEALTH_CONN_MAX		16	/* health-listener connections at once (a pool of their own) */
#define HEALTH_PER_CLIENT_MAX	4	/* health connections at once from one address */
#define HEALTH_REQ_TIMEOUT_MS	1000	/* ms: a health request's deadline, head and answer */
#define HEALTH_BODY_MAX		16384	/* bytes in one /healthz, /readyz or /metrics body */
#define HEALTH_REASONS_MAX	8	/* reasons /readyz lists */
#define HEALTH_REASON_LEN	512	/* bytes in one reason */

/* ------------------------------------------------------------------ */
/* control.c: the control socket (a Unix stream socket, never TCP)    */
/* ------------------------------------------------------------------ */

/*
 * The request handler: words of one request in, one reply line out (without
 * its LF): "ok[ text]" or "error message".  Called from the loop.
 */
typedef void	(*control_fn)(const char *const *argv, size_t argc, char *reply, size_t cap);

struct sockaddr_un;
/* The socket address of a control socket path (1 to sun_path-1 bytes).  0 / -1 with err. */
int		 control_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen);
/*
 * A stream socket connected to sa, with send and receive timeouts of
 * timeout_ms when it is not 0: the descriptor, or -1 with err and errno
 * (ECONNREFUSED: nobody listens there).
 */
int		 control_dial(const struct sockaddr_un *sa, int timeout_ms, char *err,
		    size_t errlen);
/*
 * Remove the socket file at path if nobody listens there (a daemon that
 * stopped left it).  1 removed, 0 nothing there, -1 with err: a daemon
 * answers there, or it is not a socket.
 */
int		 control_remove_stale(const char *path, char *err, size_t errlen);
/*
 * Listen on path (a stale socket left by a dead daemon is replaced; a live
 * one, or any other file, is refused), mode and owner applied before
 * anyone can connect (uid/gid (uid_t)-1 / (gid_t)-1: unchanged), inside a
 * private directory beside path before it is renamed into place, so that
 * no link swapped in at path can redirect them.  Requests go to fn.  After
 * loop_init.  0 / -1 with err.
 */
int		 control_open(const char *path, unsigned mode, uid_t uid, gid_t gid,
		    control_fn fn, char *err, size_t errlen);
/* The socket file control_open made (its device and inode).  0, or -1: none open. */
int		 control_bound(dev_t *dev, ino_t *ino);
/*
 * Remove path if it is still the file control_bound named (the sandbox
 * helper, once the daemon is gone): 1 removed, 0 nothing there, -1 with
 * err (another file is there: a new daemon's).
 */
int		 control_remove_bound(const char *path, dev_t dev, ino_t ino, char *err,
		    size_t errlen);
/* Close every control connection and the listener, and remove the socket file. */
void		 control_close(void);
/*
 * Parse one request line (without its LF): a JSON array of 1 to
 * CONTROL_ARGS_MAX strings, none holding a NUL.  *argv is one malloc'd
 * block (pointers, then the words; NULL-terminated): free(*argv).  0 / -1
 * with err.
 */
int		 control_parse_request(const char *line, size_t len, char ***argv, size_t *argc,
		    char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* ctl.c: the `ctl` command, a client of the control socket           */
/* ------------------------------------------------------------------ */

/* gimme-aws-mini ctl [--control PATH] VERB [ARGS...]; returns the exit status. */
int		 ctl_main(int argc, char **argv);
/* ------------------------------------------------------------------ */
/* health.c: /healthz, /readyz and /metrics (Prometheus text 0.0.4)   */
/* ------------------------------------------------------------------ */

/* The limits whose hits are counted (gimme_limit_hits_total{limit=...}). */
enum limit_kind {
	LIM_MAX_CONN,		/* --max-connections: accepting paused, pool full */
	LIM_PER_CLIENT,		/* --max-connections-per-client: a connection closed at once */
	LIM_RATE,		/* --rate-limit: answered 429 */
	LIM_REQ_TIMEOUT,	/* --request-timeout: 408 or closed */
	LIM_HEAD,		/* HTTP_HEAD_MAX / HTTP_HEADERS_MAX: 431 */
	LIM_BODY,		/* HTTP_BODY_MAX: 413 */
	LIM_FDS,		/* out of descriptors (EMFILE...): accepting paused */
	LIM_HEALTH_CONN,	/* HEALTH_CONN_MAX, HEALTH_PER_CLIENT_MAX: a health
				   connection refused, or evicted for a newcomer */
	LIM_COUNT
};

/* Counters of the metadata service (imds/service.c) and its limits (http/server.c). */
#define METRIC_STATUSES		13	/* statuses counted apart, "other" included (health.c) */
struct metrics {
	uint64_t	 m_requests[PC_COUNT][METRIC_STATUSES];	/* by class and status (health.c's table) */
	uint64_t	 m_tokens_issued;
	uint64_t	 m_token_rejects[TR_COUNT];
	uint64_t	 m_limit_hits[LIM_COUNT];
};
extern struct metrics metrics;

/* Reasons /readyz lists; filled by the readiness callback. */
struct health_reasons {
	size_t		 rn_n;
	char		 rn_text[HEALTH_REASONS_MAX][HEALTH_REASON_LEN];
};
/* What the credential cache reports to /metrics. */
struct health_creds {
	unsigned long	 hcr_refreshes;	/* fetches that delivered */
	unsigned long	 hcr_failures;	/* fetches that failed */
	int		 hcr_have;	/* credentials are served */
	long		 hcr_expires_in;	/* s until the served credentials expire */
};
/* Add one reason (printf-style; cut at HEALTH_REASON_LEN, at most HEALTH_REASONS_MAX). */
void		 health_reason_add(struct health_reasons *r, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * serve/daemon.c's view of readiness (add a reason for each thing not ready; none
 * means ready) and of the credentials.  Either may be NULL.
 */
void		 health_callbacks(void (*ready)(struct health_reasons *r),
		    void (*creds)(struct health_creds *hc));
/* More series at the end of /metrics (serve/daemon.c's: pods, roles); NULL: none. */
void		 health_metrics_more(void (*more)(struct sbuf *o));
/* A series' "# HELP" and "# TYPE" lines. */
void		 health_prom_head(struct sbuf *o, const char *name, const char *type,
		    const char *help);
/* A series of one sample without labels: its head, then "name v". */
void		 health_prom_value(struct sbuf *o, const char *name, const char *type,
		    const char *help, unsigned long long v);
/* Count one answered metadata request. */
void		 metrics_request(enum path_class pc, int status);
/*
 * Answer a request to the health listener (status 0: req parsed; else the
 * parse error).  The body goes to buf[0..cap) and rs points at it.
 */
void		 health_handle(const struct http_req *req, int status, struct response *rs,
		    char *buf, size_t cap);
/*
 * Serve the health listener on la (a service of its own: HEALTH_CONN_MAX
 * connections, HEALTH_PER_CLIENT_MAX per address, HEALTH_REQ_TIMEOUT_MS,
 * a still-reading connection evicted for a newcomer, http/server.c's
 * evict_victim; the head limits pl),
 * after loop_init and http_server_init; it serves from then on, during
 * start-up too.  Logs "health endpoint on http://ADDR:PORT/".  0 / -1 with err.
 */
int		 health_serve(const struct listen_addr *la, const struct http_parse_limits *pl,
		    char *err, size_t errlen);

#endif /* OPS_H */
