/*
 * libFuzzer target: the ECS credential service's handler (container/ecs.c)
 * on whatever parses as a request: its routes, the percent-decoding of
 * paths and of the v1 query's id, the id lookup in the config, exec's token
 * check.  The node's role holds the example credentials, rendered by the
 * container renderer; the config names two ids.  The first byte picks
 * whether a token is asked for (exec).
 * Checked: every answer is one of the agent's statuses, the head fits and
 * ends the head, a 200 is the rendered ECS body itself, bodies lie within
 * readable memory, nothing waits (the role has its credentials).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container/container.h"
#include "fuzz.h"

static struct config cfg;
static struct instance inst;
static struct role_registry reg;
static struct ctr_ctx ctx;
static struct role *node;
static const char ids[] = "{\"ecs-credentials\": {\"task-2\": \"node\", \"a<b&c\": \"node\"}}";

#define NOW	1748856028	/* fixed: runs are reproducible */

static time_t
fixed_clock(void)
{
	return NOW;
}

static void
build_once(void)
{
	struct ctr_roles cr;
	struct assumed_cfg ac = { NULL, NULL, NULL, 0, NULL, NULL };
	char err[ERRBUF_LEN];
	time_t now = NOW;

	if (config_parse(ids, sizeof(ids) - 1, "ids.json", &cfg, err, sizeof(err)) == -1)
		abort();
	instance_default(&inst, now);
	registry_init(&reg, NULL, NULL);
	reg.rg_clock = fixed_clock;	/* the example credentials are of NOW */
	ctx.cx_inst = &inst;
	registry_renderer(&reg, RENDER_CONTAINER, &(struct role_renderer){ ctr_render,
	    ctr_view_unref, &ctx });
	if ((node = registry_add(&reg, "instance", inst.i_role, "", &cred_provider_example, err,
	    sizeof(err))) == NULL)
		abort();
	registry_refresh(node, now);	/* the example provider answers at once */
	FUZZ_CHECK(ctr_view_of(node) != NULL && ctr_view_of(node)->cv_have);
	memset(&cr, 0, sizeof(cr));
	cr.cr_reg = &reg;
	cr.cr_node = node;
	ac.ac_reg = &reg;
	ac.ac_node = node;
	if (assumed_init(&ac, err, sizeof(err)) == -1)
		abort();
	ctr_roles_init(&cr);
}

/* The statuses the agent answers with (and the server's own 400). */
static const int statuses[] = { 200, 400, 401, 404, 500, 503, 0 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char state[CTR_ERR_BODY_MAX + 64];
	struct http_peer peer = { .pe_family = 2, .pe_addr = { 127, 0, 0, 1 }, .pe_port = 1 };
	struct http_req req;
	struct http_call call = { &req, 0, &peer, 2000, "Mon, 02 Jun 2025 09:20:28 GMT" };
	char head[HTTP_RESP_HEAD_MAX];
	struct http_reply rp = { head, sizeof(head), 0, "", 0, 0 };
	const struct ctr_view *v;
	volatile unsigned char sum = 0;
	size_t i;
	int status;

	if (node == NULL)
		build_once();
	if (http_parse((const char *)data, size, &http_parse_limits_max, &req) <= 0)
		return 0;
	FUZZ_CHECK(ecs_http_service.sv_state_size <= sizeof(state));
	memset(state, 0, sizeof(state));
	ecs_serve_setup(&cfg, size > 0 && (data[0] & 1) ? "0123abcd" : NULL, 0);
	FUZZ_CHECK(ecs_http_service.sv_handle(state, &call, &rp) == HTTP_ANSWER);
	status = fuzz_head_status(head, rp.hr_headlen, statuses);
	v = ctr_view_of(node);
	if (status == 200 && rp.hr_bodylen > 0)
		FUZZ_CHECK(rp.hr_body == v->cv_body[CTR_ECS] && rp.hr_bodylen == v->cv_len[CTR_ECS]);
	for (i = 0; i < rp.hr_bodylen; i++)
		sum ^= (unsigned char)rp.hr_body[i];
	(void)sum;
	ecs_http_service.sv_release(state);
	return 0;
}
