/*
 * container/: the container credential endpoints (contract §11): ECS's
 * (169.254.170.2, `serve --ecs`, and `exec`'s private one); EKS Pod
 * Identity's (169.254.170.23) is to come, as a second layout of the same
 * rendering and a service of its own.
 *
 *   render.c   the role registry's RENDER_CONTAINER rendering of a role:
 *              its credentials as ready bodies, one per layout (ECS, Pod
 *              Identity), compact JSON as Go's encoding/json writes it
 *              (the agents are Go programs)
 *   ecs.c      the ECS credential service (ecs_http_service):
 *              GET /v2/credentials/<id>, /v1/credentials?id=<id> (ids of the
 *              config file's "ecs-credentials"), /creds (the node's
 *              identity) and /role/<name> (assumed on first ask, completed
 *              by --base-role-arn); the agent's JSON errors and statuses;
 *              with a token (exec), 401 without it
 *   assume.c   roles assumed for the service: creds/assumed.c's roles on
 *              the node's credentials, pinned on first ask, at most
 *              ECS_ROLES_MAX of them
 *
 * Nothing here knows IMDS's formats; roles are the registry's (creds/).
 */
#ifndef CONTAINER_H
#define CONTAINER_H

#include "core/core.h"
#include "http/http.h"
#include "creds/creds.h"
#include "imds/imds.h"

#define ECS_ROLES_MAX		64	/* roles the service assumes on ask (ids' ARNs, /role/) */
#define ECS_WAIT_MS		5000	/* ms a request waits for a new role's first credentials */
#define ECS_ERR_BODY_MAX	1536	/* bytes of an error body (STS's message is in it) */
#define ECS_PATH_MAX		512	/* bytes of a request path or id, decoded */
#define ECS_TOKEN_MAX		128	/* bytes in exec's authorization token */
#define ECS_NODE_ID		"node"	/* an "ecs-credentials" value: the node's own role */

/* ------------------------------------------------------------------ */
/* render.c: a role's container rendering                             */
/* ------------------------------------------------------------------ */

/* The bodies a role is rendered into: one per endpoint's layout. */
enum ctr_layout {
	CTR_ECS,		/* RoleArn, AccessKeyId, SecretAccessKey, Token, Expiration */
	CTR_POD_IDENTITY,	/* AccessKeyId, SecretAccessKey, Token, AccountId, Expiration;
				   empty fields omitted, no RoleArn */
	CTR_LAYOUTS
};

/* A role's credentials, ready to write; refcounted like IMDS's role views. */
struct ctr_view {
	unsigned	 cv_refs;
	int		 cv_have;	/* 0: the role has no credentials (none yet, or expired) */
	char		*cv_body[CTR_LAYOUTS];	/* cv_have: compact JSON, no trailing LF */
	size_t		 cv_len[CTR_LAYOUTS];
	time_t		 cv_rendered;	/* when */
};

/* What the renderer reads besides the role: the instance (partition, account). */
struct ctr_ctx {
	const struct instance *cx_inst;
};

/*
 * The renderer to register as RENDER_CONTAINER: { ctr_render, ctr_view_unref,
 * &ctx }.  A new struct ctr_view of r at
 * now, arg a struct ctr_ctx; NULL (logged) when out of memory.  The unref
 * takes a struct ctr_view.
 */
void		*ctr_render(void *arg, const struct role *r, time_t now);
void		 ctr_view_unref(void *v);
/* r's current container rendering (borrowed), or NULL. */
struct ctr_view	*ctr_view_of(const struct role *r);
void		 ctr_view_ref(struct ctr_view *v);
/* A role's ARN: arn:<partition>:iam::<account>:role/<name> ("" account: the instance's). */
void		 ctr_role_arn(const struct instance *inst, const struct role *r, char *out,
		    size_t len);
/*
 * A JSON string as Go's encoding/json writes it: '"', '\\', \n \r \t
 * short, other control bytes and <, >, & as \u00XX, U+2028 and U+2029
 * escaped, invalid UTF-8 as \ufffd.
 */
void		 ctr_json_quote(struct sbuf *b, const char *s, size_t n);
/*
 * An error of the agent's (ErrorMessage marshalled):
 * {"code":C,"message":M,"HTTPErrorCode":N}.  Into a fixed buffer.
 */
void		 ctr_json_error(struct sbuf *b, const char *code, const char *message, int status);

/* ------------------------------------------------------------------ */
/* assume.c: roles assumed on ask                                     */
/* ------------------------------------------------------------------ */

/* What assume.c works on (serve.c or exec fills it at start-up). */
struct ctr_roles {
	struct role_registry *cr_reg;
	struct role	*cr_node;	/* the node's own role (IMDS's) */
	const char	*cr_base_arn;	/* --base-role-arn: "arn:aws:iam::1:role/"; NULL: none */
};
/* Keep cr (copied); creds/assumed.c is started (assumed_init) before. */
void		 ctr_roles_init(const struct ctr_roles *cr);
/*
 * The role for arn: found, or added (and its first fetch started) when
 * there is room.  NULL with err when arn is not a role ARN, the ECS_ROLES_MAX
 * are taken, or adding failed.
 */
struct role	*ctr_role_for_arn(const char *arn, time_t now, char *err, size_t errlen);
/* The node's role. */
struct role	*ctr_node_role(void);
/* --base-role-arn (NULL: none). */
const char	*ctr_base_arn(void);

/* ------------------------------------------------------------------ */
/* ecs.c: the ECS credential service                                  */
/* ------------------------------------------------------------------ */

extern const struct http_service ecs_http_service;

/*
 * What the service answers from: the config (its "ecs-credentials",
 * borrowed: the daemon's, current after a reload), exec's token (NULL:
 * none asked), the access log.
 */
void		 ecs_serve_setup(const struct config *cfg, const char *token, int access_log);
/* Once a second: requests waiting for a role are asked again (its fetch may have failed). */
void		 ecs_tick(void);
/* Requests waiting now (a gauge; tests and the tick). */
size_t		 ecs_waiting(void);

#endif /* CONTAINER_H */
