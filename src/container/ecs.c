/*
 * ecs.c: the ECS credential endpoint as an HTTP service (contract §11.1).
 *
 * The ECS agent's handlers (amazon-ecs-agent ecs-agent/tmds/handlers/v1
 * and v2) answer, on any method (no method is checked; HEAD is GET
 * without the body):
 *
 *   /v2/credentials/<id>      the id is the rest of the path, decoded
 *   /v1/credentials?id=<id>   the first id of the query, decoded
 *
 *   200 application/json   json.Marshal(IAMRoleCredentials): RoleArn,
 *                          AccessKeyId, SecretAccessKey, Token, Expiration
 *   400 NoIdInRequest       "CredentialsV<n>Request: No Credential ID in the request"
 *   400 InvalidIdInRequest  "CredentialsV<n>Request: Credentials not found"
 *   503 CredentialsUninitialized "CredentialsV<n>Request: Credentials uninitialized for ID"
 *   500 InternalServerError "Internal server error"
 *
 * errors as json.Marshal(ErrorMessage): {"code":..,"message":..,
 * "HTTPErrorCode":N} (the field has no JSON tag, so it is written too), no
 * trailing newline.  Other paths get gorilla/mux's 404 (Go's NotFound:
 * "404 page not found\n", text/plain; charset=utf-8, nosniff).  Go writes
 * the handler's fields, then Date and Content-Length; this server closes
 * every connection, so Connection: close follows.
 *
 * amazon-ecs-local-container-endpoints' paths, for docker-compose on a
 * laptop, answer in the same shapes: /creds (the node's identity) and
 * /role/<name> (that role under --base-role-arn, assumed on first ask).
 * A role whose first credentials are not there yet holds its request
 * (HTTP_DEFER, woken when a role renders, at each tick, and at its
 * deadline: http_wake_at) up to ECS_WAIT_MS, then answers 503 as the agent
 * does while it starts; a role whose fetch failed answers 500 with STS's code and message (the cache's
 * error, which never holds a secret).
 *
 * `exec` serves the same paths with a token: a request whose
 * Authorization is not exactly the token (compared in constant time) is
 * answered 401, JSON in the same shape.
 */
#include <stdio.h>
#include <string.h>

#include "container/container.h"
#include "ops/ops.h"

#define PATH_V1		"/v1/credentials"
#define PATH_V2		"/v2/credentials/"
#define PATH_CREDS	"/creds"
#define PATH_ROLE	"/role/"
#define MSG_NO_ID	"No Credential ID in the request"
#define MSG_NOT_FOUND	"Credentials not found"
#define MSG_UNINIT	"Credentials uninitialized for ID"

/* What a request asks for, from its target. */
struct ecs_ask {
	const char	*ea_prefix;	/* "CredentialsV2Request: " */
	enum { ASK_NOT_FOUND, ASK_ID, ASK_NODE, ASK_ROLE, ASK_BAD } ea_kind;
	char		 ea_arg[ECS_PATH_MAX + 1];	/* the id, or the role's name; decoded */
};

static struct ecs_state {
	const struct config *cfg;
	const char	*token;		/* exec's; NULL: none asked */
	int		 access_log;
	unsigned long	 deferred;	/* requests held since the last tick */
} ecs;

void
ecs_serve_setup(const struct config *cfg, const char *token, int access_log)
{
	ecs = (struct ecs_state){ cfg, token, access_log, 0 };
}

IDLE_PATH void
ecs_tick(void)
{
	if (ecs.deferred == 0)
		return;
	ecs.deferred = 0;
	http_wake();	/* a held request whose role's fetch failed is answered now */
}

/* The first id= of query q[0..n) (Go's URL.Query().Get), decoded; "" when none.  0 / -1. */
static int
query_id(const char *q, size_t n, char *out)
{
	const char *end = q + n, *amp, *eq;

	out[0] = '\0';
	for (; q < end; q = amp + 1) {
		if ((amp = memchr(q, '&', (size_t)(end - q))) == NULL)
			amp = end;
		if (memchr(q, ';', (size_t)(amp - q)) != NULL)
			continue;	/* Go skips a pair with a semicolon */
		if ((eq = memchr(q, '=', (size_t)(amp - q))) == NULL)
			eq = amp;
		if (eq - q == 2 && memcmp(q, "id", 2) == 0)
			return eq == amp ? 0 : ctr_unescape(eq + 1, (size_t)(amp - eq - 1), 1, out);
		if (amp == end)
			break;
	}
	return 0;
}

/* What target asks for (ask filled). */
static void
ecs_route(struct slice target, struct ecs_ask *a)
{
	const char *q = memchr(target.p, '?', target.n);
	struct slice path = { target.p, q != NULL ? (size_t)(q - target.p) : target.n };
	char p[ECS_PATH_MAX + 1];
	size_t n;

	a->ea_prefix = "CredentialsV2Request: ";
	a->ea_kind = ASK_NOT_FOUND;
	a->ea_arg[0] = '\0';
	if (ctr_unescape(path.p, path.n, 0, p) == -1) {
		a->ea_kind = ASK_BAD;
		return;
	}
	n = strlen(p);
	if (strcmp(p, PATH_V1) == 0) {
		a->ea_prefix = "CredentialsV1Request: ";
		a->ea_kind = ASK_ID;
		if (q != NULL && query_id(q + 1, target.n - path.n - 1, a->ea_arg) == -1)
			a->ea_kind = ASK_BAD;
	} else if (strncmp(p, PATH_V2, sizeof(PATH_V2) - 1) == 0) {
		a->ea_kind = ASK_ID;
		memcpy(a->ea_arg, p + sizeof(PATH_V2) - 1, n - (sizeof(PATH_V2) - 1) + 1);
	} else if (strcmp(p, PATH_CREDS) == 0 || strcmp(p, PATH_CREDS "/") == 0) {
		a->ea_kind = ASK_NODE;
	} else if (strncmp(p, PATH_ROLE, sizeof(PATH_ROLE) - 1) == 0 &&
	    n > sizeof(PATH_ROLE) - 1) {
		a->ea_kind = ASK_ROLE;
		memcpy(a->ea_arg, p + sizeof(PATH_ROLE) - 1, n - (sizeof(PATH_ROLE) - 1) + 1);
		n = strlen(a->ea_arg);
		if (a->ea_arg[n - 1] == '/')
			a->ea_arg[n - 1] = '\0';	/* "/role/app/" too */
	}
}

/* An agent's JSON error into the connection's buffer. */
static int
ecs_error(struct ctr_conn *ec, struct http_reply *rp, int status, const char *code,
    const char *prefix, const char *msg)
{
	struct sbuf b = SBUF_FIXED(ec->cc_body, ECS_ERR_BODY_MAX);
	char text[ECS_ERR_BODY_MAX];

	snprintf(text, sizeof(text), "%s%s", prefix, msg);
	ctr_json_error(&b, code, text, status);
	rp->hr_body = ec->cc_body;
	rp->hr_bodylen = b.sb_len;
	return status;
}

/*
 * A role's failed fetch as the agent's error: STS's code and message when
 * the cache's error is STS's, else InternalServerError with the error as it is.
 */
static int
ecs_fetch_error(struct ctr_conn *ec, struct http_reply *rp, const char *why)
{
	struct ctr_sts_error e;

	if (ctr_sts_error_parse(why, &e))
		return ecs_error(ec, rp, 500, e.se_code, "", e.se_message);
	return ecs_error(ec, rp, 500, "InternalServerError", "", why);
}

/* The role the request asks for, or an error answered (*status set). */
static struct role *
ecs_role(struct ctr_conn *ec, struct http_reply *rp, const struct ecs_ask *a, time_t now,
    int *status)
{
	char arn[STS_ARN_MAX], err[ERRBUF_LEN];
	const char *named;
	struct role *r;

	switch (a->ea_kind) {
	case ASK_NODE:
		return ctr_node_role();
	case ASK_ID:
		if (a->ea_arg[0] == '\0') {
			*status = ecs_error(ec, rp, 400, "NoIdInRequest", a->ea_prefix, MSG_NO_ID);
			return NULL;
		}
		if ((named = config_ecs_role(ecs.cfg, a->ea_arg)) == NULL) {
			*status = ecs_error(ec, rp, 400, "InvalidIdInRequest", a->ea_prefix,
			    MSG_NOT_FOUND);
			return NULL;
		}
		if (strcmp(named, ECS_NODE_ID) == 0)
			return ctr_node_role();
		snprintf(arn, sizeof(arn), "%s", named);
		break;
	default:	/* ASK_ROLE */
		if (ctr_base_arn() == NULL || !creds_role_name_ok(a->ea_arg)) {
			*status = ecs_error(ec, rp, 400, "InvalidIdInRequest", a->ea_prefix,
			    ctr_base_arn() == NULL ? MSG_NOT_FOUND " (/role/ needs --base-role-arn)" :
			    MSG_NOT_FOUND " (not a role name)");
			return NULL;
		}
		snprintf(arn, sizeof(arn), "%s%s", ctr_base_arn(), a->ea_arg);
		break;
	}
	if ((r = ctr_role_for_arn(arn, now, err, sizeof(err))) == NULL)
		*status = ecs_error(ec, rp, 500, "InternalServerError", a->ea_prefix, err);
	return r;
}

/*
 * The answer for r: its credentials, its failure, or (HTTP_DEFER) not yet.
 * The status, or 0 to wait.
 */
static int
ecs_serve_role(struct ctr_conn *ec, struct http_reply *rp, const struct http_call *call,
    const struct ecs_ask *a, const struct role *r)
{
	const struct cred_cache *cc = &r->ro_cache;

	if (ctr_serve_view(ec, rp, r, CTR_ECS))
		return 200;
	if (cc->cc_fetched_once && cred_cache_error(cc)[0] != '\0')
		return ecs_fetch_error(ec, rp, cred_cache_error(cc));
	if (!cc->cc_fetched_once && ctr_hold(ec, call, ECS_WAIT_MS)) {
		ecs.deferred++;
		return 0;
	}
	return ecs_error(ec, rp, 503, "CredentialsUninitialized", a->ea_prefix, MSG_UNINIT);
}

/* Authorization is exactly exec's token (constant time over the token's length). */
static int
token_ok(const struct http_req *req)
{
	const struct http_header *h = http_header_find(req, "Authorization", NULL);
	size_t n = strlen(ecs.token), i;
	unsigned char d = 0;

	if (h == NULL || h->h_value.n != n)
		return 0;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(h->h_value.p[i] ^ ecs.token[i]);
	return d == 0;
}

/* A request that parsed: its status (0: wait), the body set in rp. */
static int
ecs_answer(struct ctr_conn *ec, const struct http_call *call, struct http_reply *rp,
    enum ctr_shape *shape)
{
	struct ecs_ask a;
	struct role *r;
	int status = 0;

	ecs_route(call->hc_req->r_target, &a);
	if (ecs.token != NULL && !token_ok(call->hc_req))
		return ecs_error(ec, rp, 401, "AccessDenied", "",
		    "Authorization token missing or not the one given");
	if (a.ea_kind == ASK_NOT_FOUND || a.ea_kind == ASK_BAD) {
		*shape = a.ea_kind == ASK_BAD ? CTR_SHAPE_RAW : CTR_SHAPE_TEXT;
		rp->hr_body = a.ea_kind == ASK_BAD ? "400 Bad Request" : "404 page not found\n";
		rp->hr_bodylen = strlen(rp->hr_body);
		return a.ea_kind == ASK_BAD ? 400 : 404;
	}
	if (call->hc_status == HTTP_DEFER_STATUS)	/* held to its deadline */
		return ecs_error(ec, rp, 503, "CredentialsUninitialized", a.ea_prefix,
		    MSG_UNINIT);
	if ((r = ecs_role(ec, rp, &a, (time_t)(call->hc_now_ms / 1000), &status)) == NULL)
		return status;
	return ecs_serve_role(ec, rp, call, &a, r);
}

static enum http_verdict
ecs_handle(void *state, const struct http_call *call, struct http_reply *rp)
{
	return ctr_handle(state, call, rp, ecs_answer, ecs.access_log, "ecs");
}

/* The service (its listeners are logged "ECS credentials on ADDR:PORT"). */
const struct http_service ecs_http_service = {
	.sv_handle = ecs_handle, .sv_release = ctr_release,
	.sv_state_size = sizeof(struct ctr_conn),
	.sv_name = "ecs", .sv_log_pre = "ECS credentials on ", .sv_log_post = "",
};
