/*
 * fuzz_config.c: libFuzzer target for config_parse, the --config JSON file
 * (issue #7: every parser of user-supplied input has a target).
 *
 * The input is copied to a heap buffer of exactly its length and parsed;
 * a parsed config is then applied to the default instance (the facts it may
 * set are checked there).  Checked on every result:
 *   - failure returns -1 with a one-line message starting "NAME:", and
 *     leaves an empty config (config_free after it is harmless);
 *   - success leaves err alone; user-data is at most USER_DATA_MAX bytes and
 *     present exactly when cf_user_data_set says so (or null); every option
 *     the file set is within its bounds;
 *   - instance_apply_config either succeeds or fails with one line, and the
 *     instance's facts stay NUL-terminated within FACT_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imds/imds.h"
#include "fuzz.h"

#define FUZZ_NAME	"fuzz.json"

static void
fuzz_check_err(const char *err)
{
	FUZZ_CHECK(strncmp(err, FUZZ_NAME ":", sizeof(FUZZ_NAME)) == 0);
	FUZZ_CHECK(strpbrk(err, "\r\n") == NULL);
}

static void
fuzz_check_instance(const struct instance *in)
{
	FUZZ_CHECK(memchr(in->i_instance_id, '\0', FACT_MAX) != NULL);
	FUZZ_CHECK(memchr(in->i_region, '\0', FACT_MAX) != NULL);
	FUZZ_CHECK(memchr(in->i_az, '\0', FACT_MAX) != NULL);
	FUZZ_CHECK(memchr(in->i_local_ipv4, '\0', FACT_MAX) != NULL);
	FUZZ_CHECK(memchr(in->i_mac, '\0', FACT_MAX) != NULL);
	FUZZ_CHECK(memchr(in->i_local_hostname, '\0', FACT_MAX) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct instance inst;
	char err[ERRBUF_LEN];
	char *buf;
	int rc;

	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	err[0] = '\0';
	rc = config_parse(buf, size, FUZZ_NAME, &cfg, err, sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -1);
		fuzz_check_err(err);
		FUZZ_CHECK(cfg.cf_root == NULL && cfg.cf_user_data == NULL);
		config_free(&cfg);
		free(buf);
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0');
	FUZZ_CHECK(cfg.cf_user_data_len <= USER_DATA_MAX);
	FUZZ_CHECK(cfg.cf_user_data == NULL ? cfg.cf_user_data_len == 0 : cfg.cf_user_data_set);
	if (cfg.cf_opt_set & OPT_SET_HOPLIMIT)
		FUZZ_CHECK(cfg.cf_opt.o_hop_limit >= HOP_LIMIT_MIN &&
		    cfg.cf_opt.o_hop_limit <= HOP_LIMIT_MAX);
	if (cfg.cf_opt_set & OPT_SET_TOKENS)
		FUZZ_CHECK(cfg.cf_opt.o_tokens_required == 0 || cfg.cf_opt.o_tokens_required == 1);
	if (cfg.cf_opt_set & OPT_SET_ENDPOINT)
		FUZZ_CHECK(cfg.cf_opt.o_endpoint_enabled == 0 || cfg.cf_opt.o_endpoint_enabled == 1);
	instance_default(&inst, 1700000000);
	err[0] = '\0';
	if (instance_apply_config(&inst, &cfg, err, sizeof(err)) == -1)
		FUZZ_CHECK(err[0] != '\0' && strpbrk(err, "\r\n") == NULL);
	fuzz_check_instance(&inst);
	config_free(&cfg);
	free(buf);
	return 0;
}
