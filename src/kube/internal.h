/*
 * kube/internal.h: what client.c shares with reflector.c (not for other layers).
 */
#ifndef KUBE_INTERNAL_H
#define KUBE_INTERNAL_H

#include "httpc/httpc.h"
#include "kube/kube.h"

#define KUBE_STATUS_MSG_MAX	256	/* bytes of an API Status message kept for the log */

/* One request to the API server (embedded in its owner). */
struct kube_req {
	struct httpc_xfer rq_x;
	struct curl_slist *rq_headers;	/* carries the token: wiped */
	char		*rq_body;	/* POST body (may carry a token): wiped */
	size_t		 rq_body_len;
};

/*
 * Build a request for path (with its query) on c: GET, or POST of
 * body[0..len) (copied) when body is not NULL.  stream: the reply goes to
 * on_data as it comes, and the transfer ends after life_s seconds at most
 * (a watch's timeoutSeconds and a grace: the server should have ended it);
 * else it is kept up to KUBE_BODY_MAX within KUBE_REQUEST_TIMEOUT_MS.  Not
 * started.  0 / -1 with err.
 */
int		 kube_req_init(struct kube_client *c, struct kube_req *rq, const char *path,
		    const char *body, size_t len, int (*on_data)(void *, const char *, size_t),
		    long life_s, void (*done)(void *arg, CURLcode cc), void *arg, char *err,
		    size_t errlen);
/* Stop (unreported) and free everything, wiping what may hold a token. */
void		 kube_req_free(struct kube_req *rq);
/*
 * Why a request did not give what was wanted: a transport failure (cc),
 * or "HTTP status: the Status message" from the reply body.
 */
void		 kube_req_why(const struct kube_req *rq, CURLcode cc, const char *what,
		    char *msg, size_t msglen);
/* A Status object's message (one line) from body[0..n), or "" when it is not one. */
void		 kube_status_message(const char *body, size_t n, char *out, size_t cap);

#endif /* KUBE_INTERNAL_H */
