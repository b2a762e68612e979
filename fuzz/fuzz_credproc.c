/*
 * fuzz_credproc.c: libFuzzer target for credproc_split and credproc_parse
 * (style habit 14).  Both get the whole input: the splitter as a C string
 * (up to the first NUL), the parser as bytes in a heap copy of exactly that
 * length, so ASan sees any read past it.  Checked on every result:
 *   - split: 0 with 1..CREDPROC_ARGS_MAX words, NULL-terminated, whose bytes
 *     (NULs included) fit in len + 1; or -1 with argv NULL and a message
 *     that is one of the fixed forms (never the command's text);
 *   - split of a command without quotes or backslashes is plain splitting
 *     on space, TAB, CR and LF;
 *   - parse: 0 with a non-empty AccessKeyId and SecretAccessKey within the
 *     struct's limits, last_updated 0; or -1 with the credential wiped and
 *     a message that starts with one of the fixed forms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds/creds.h"
#include "fuzz.h"



static int
fuzz_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
fuzz_split(const uint8_t *data, size_t size)
{
	static const char *const forms[] = {
		"command is empty", "unterminated single quote (opened at offset ",
		"unterminated double quote (opened at offset ",
		"backslash at the end of the command (offset ", "command has more than ",
		NULL
	};
	char *cmd, **argv = NULL, err[ERRBUF_LEN];
	size_t len, n, bytes = 0, i, words = 0;
	int plain = 1;

	if ((cmd = malloc(size + 1)) == NULL)
		return;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	len = strlen(cmd);
	err[0] = '\0';
	if (credproc_split(cmd, &argv, err, sizeof(err)) == 0) {
		FUZZ_CHECK(argv != NULL);
		for (n = 0; argv[n] != NULL; n++)
			bytes += strlen(argv[n]) + 1;
		FUZZ_CHECK(n >= 1 && n <= CREDPROC_ARGS_MAX);
		FUZZ_CHECK(bytes <= len + 1);
	} else {
		FUZZ_CHECK(argv == NULL);
		FUZZ_CHECK(fuzz_starts(err, forms));
	}

	/* no quoting at all: the words are the runs of non-space bytes */
	for (i = 0; i < len; i++)
		if (cmd[i] == '\'' || cmd[i] == '"' || cmd[i] == '\\')
			plain = 0;
	if (plain) {
		for (i = 0; i < len; i++)
			if (!fuzz_space(cmd[i]) && (i == 0 || fuzz_space(cmd[i - 1])))
				words++;
		if (words == 0 || words > CREDPROC_ARGS_MAX)
			FUZZ_CHECK(argv == NULL);
		else {
			FUZZ_CHECK(argv != NULL);
			for (n = 0, i = 0; argv[n] != NULL; n++) {
				while (fuzz_space(cmd[i]))
					i++;
				FUZZ_CHECK(strncmp(cmd + i, argv[n], strlen(argv[n])) == 0);
				i += strlen(argv[n]);
				FUZZ_CHECK(cmd[i] == '\0' || fuzz_space(cmd[i]));
			}
			FUZZ_CHECK(n == words);
		}
	}
	credproc_argv_free(argv);
	free(cmd);
}

static void
fuzz_parse(const uint8_t *data, size_t size)
{
	static const char *const forms[] = {
		"output is empty", "output is not valid JSON (line ",
		"output has a duplicate key (line ", "output is not a JSON object",
		"Version is missing", "Version is not an integer", "unsupported Version ",
		"AccessKeyId is ", "SecretAccessKey is ", "SessionToken is ",
		"Expiration is ", NULL
	};
	static const struct cred zero;
	char *out, err[ERRBUF_LEN];
	struct cred c;

	if ((out = malloc(size == 0 ? 1 : size)) == NULL)
		return;
	memcpy(out, data, size);
	err[0] = '\0';
	if (credproc_parse(out, size, &c, err, sizeof(err)) == 0) {
		FUZZ_CHECK(c.cr_akid[0] != '\0' && c.cr_secret[0] != '\0');
		FUZZ_CHECK(strlen(c.cr_akid) <= CRED_AKID_MAX);
		FUZZ_CHECK(strlen(c.cr_secret) <= CRED_SECRET_MAX);
		FUZZ_CHECK(strlen(c.cr_token) <= CRED_TOKEN_MAX);
		FUZZ_CHECK(c.cr_last_updated == 0);
	} else {
		FUZZ_CHECK(memcmp(&c, &zero, sizeof(c)) == 0);
		FUZZ_CHECK(fuzz_starts(err, forms));
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_split(data, size);
	fuzz_parse(data, size);
	return 0;
}
