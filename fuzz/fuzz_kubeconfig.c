/*
 * fuzz_kubeconfig.c: libFuzzer target for the kubeconfig reader
 * (kube/config.c, libyaml).
 *
 * The input, from a heap copy of exactly its length, is parsed as a
 * kubeconfig with its current context and with the context "x" (relative
 * paths resolve under a directory that does not exist, so no file is ever
 * read).  Checked every time:
 *   - 0: the server starts "https://" and is one line; the client
 *     certificate and key come together; at most one of token and token
 *     file; the origin names the file;
 *   - -1: a one-line message starting with the file's name, and the config
 *     left with no key material.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "fuzz.h"

#define FUZZ_FILE	"/fuzz/kubeconfig"
#define FUZZ_DIR	"/nonexistent-fuzz-dir"

static void
fuzz_one(const char *text, size_t size, const char *context)
{
	struct kube_config kc;
	char err[ERRBUF_LEN];

	err[0] = '\0';
	if (kube_config_parse(&kc, text, size, FUZZ_FILE, FUZZ_DIR, context, err,
	    sizeof(err)) == 0) {
		FUZZ_CHECK(strncmp(kc.kc_server, "https://", 8) == 0);
		FUZZ_CHECK(!text_has_ctl(kc.kc_server, strlen(kc.kc_server)));
		FUZZ_CHECK((kc.kc_cert == NULL) == (kc.kc_key == NULL));
		FUZZ_CHECK(kc.kc_token == NULL || kc.kc_token_file[0] == '\0');
		FUZZ_CHECK(strncmp(kc.kc_origin, FUZZ_FILE, strlen(FUZZ_FILE)) == 0);
		kube_config_free(&kc);
	} else {
		FUZZ_CHECK(strncmp(err, FUZZ_FILE ":", strlen(FUZZ_FILE) + 1) == 0);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
		FUZZ_CHECK(kc.kc_ca == NULL && kc.kc_cert == NULL && kc.kc_key == NULL &&
		    kc.kc_token == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if ((text = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(text, data, size);
	fuzz_one(text, size, NULL);
	fuzz_one(text, size, "x");
	free(text);
	return 0;
}
