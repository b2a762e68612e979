/*
 * libFuzzer target: the whole request-to-response function.  Bytes are
 * parsed as a request; a complete one is routed against the real default
 * instance and its role (built once), as a caller with that role or with
 * none, and its head formatted, exactly as the server does.
 * Checked: every answer is one of the statuses IMDS uses, no 200 body is
 * empty, bodies lie within readable memory, and heads always fit.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imds/imds.h"
#include "fuzz.h"

static struct snapshot *snap;
static struct role_view *rv;
static struct config cfg;
static struct instance inst;
static struct cred role, ec2;

/* The example provider answers at once: keep what it hands over. */
static void
take_cred(void *arg, int ok, const struct cred *c, const char *err)
{
	(void)err;
	if (ok)
		*(struct cred *)arg = *c;
}

static void
build_once(void)
{
	struct snapshot_input in;
	struct role_view_input ri;
	char err[ERRBUF_LEN];
	time_t now = 1748856028;	/* fixed: runs are reproducible */
	static const unsigned char key[TOKEN_KEY_LEN] = { 7 };

	token_init_key(key);
	if (identity_init(NULL, NULL, err, sizeof(err)) == -1)
		abort();
	config_init(&cfg);
	instance_default(&inst, now);
	cred_provider_example.cp_fetch(&cred_provider_example, now, take_cred, &role);
	if (role.cr_akid[0] == '\0')
		abort();
	creds_ec2_placeholder(now, &ec2);
	memset(&in, 0, sizeof(in));
	in.si_inst = &inst;
	in.si_cfg = &cfg;
	in.si_opt = (struct imds_options){ 1, 0, 1, 0 };
	in.si_ec2_cred = &ec2;
	in.si_now = now;
	if ((snap = snapshot_build(&in, err, sizeof(err))) == NULL)
		abort();
	memset(&ri, 0, sizeof(ri));
	ri.ri_inst = &inst;
	ri.ri_cfg = &cfg;
	ri.ri_name = inst.i_role;
	ri.ri_cred = &role;
	ri.ri_absent = 1;
	ri.ri_now = now;
	if ((rv = role_view_build(&ri, err, sizeof(err))) == NULL)
		abort();
}

/* The statuses IMDS answers with. */
static const int statuses[] = { 200, 400, 401, 403, 404, 405, 0 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req req;
	struct response rs;
	char head[HTTP_RESP_HEAD_MAX];
	ssize_t n;
	size_t hl;

	if (snap == NULL)
		build_once();
	n = http_parse((const char *)data, size, &http_parse_limits_max, &req);
	if (n <= 0)
		return 0;
	/* the first byte picks the options, so every mode gets explored */
	snap->s_opt.o_tokens_required = size > 0 && (data[0] & 1);
	snap->s_opt.o_endpoint_enabled = !(size > 0 && (data[0] & 2) && (data[0] & 4));
	/* bit 3: a caller without a role */
	routes_handle(&req, snap, size > 0 && (data[0] & 8) ? NULL : rv, NULL, 2000, &rs);
	assert(fuzz_status_in(rs.rs_status, statuses));
	assert(rs.rs_body != NULL);
	assert(rs.rs_bodylen <= MD_BODY_MAX);
	if (rs.rs_body == rs.rs_tokbuf)
		assert(rs.rs_bodylen < sizeof(rs.rs_tokbuf));
	/* §2.6: no empty 200 bodies (the default instance has no empty tags);
	 * the OPTIONS answer, which carries Allow, is the one empty 200 */
	if (rs.rs_status == 200 && rs.rs_allow == NULL)
		assert(rs.rs_bodylen > 0);
	hl = response_head(&rs, "Mon, 02 Jun 2025 09:20:28 GMT", head, sizeof(head));
	assert(hl > 0);
	assert(memcmp(head, "HTTP/1.1 ", 9) == 0);
	assert(hl >= 4 && memcmp(head + hl - 4, "\r\n\r\n", 4) == 0);
	/* touch every body byte: ASan catches a body pointing outside memory */
	{
		volatile unsigned char sum = 0;
		size_t i;
		for (i = 0; i < rs.rs_bodylen; i++)
			sum ^= (unsigned char)rs.rs_body[i];
		(void)sum;
	}
	return 0;
}
