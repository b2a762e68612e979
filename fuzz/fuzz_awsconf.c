/*
 * fuzz_awsconf.c: libFuzzer target for awsconf_parse (style habit 14).
 *
 * The input is copied to a heap buffer of exactly its length (so ASan sees
 * any read past it) and parsed as a config file and as a credentials file.
 * Checked on every result:
 *   - success leaves err alone and returns an array (or NULL when empty);
 *     failure returns NULL, 0 and a one-line message starting "PATH:";
 *   - every profile name is non-empty, at most AWSCONF_PROFILE_MAX bytes,
 *     free of CR, LF and NUL, and unique in its file;
 *   - every key is non-empty, lower-case ASCII letters only as far as case
 *     goes, free of CR and LF, and unique in its section;
 *   - every value is a string free of CR with no blank at either end; an LF
 *     appears only inside a multi-line (continued) value, never at an end;
 *   - kv_file and sec_file point at the path we passed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds/creds.h"

#define FUZZ_CHECK(x)	do { if (!(x)) abort(); } while (0)
#define FUZZ_PATH	"/fuzz/aws"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\n' ||
	    (c >= 0x1c && c <= 0x1f);
}

static void
fuzz_check_value(const char *v)
{
	size_t n;

	FUZZ_CHECK(v != NULL);
	n = strlen(v);
	FUZZ_CHECK(strchr(v, '\r') == NULL);
	if (n > 0) {
		FUZZ_CHECK(!fuzz_blank(v[0]));
		FUZZ_CHECK(!fuzz_blank(v[n - 1]));
	}
}

static void
fuzz_check(const struct aws_section *s, size_t n)
{
	size_t i, j, k;

	FUZZ_CHECK((s == NULL) == (n == 0));
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(s[i].sec_profile != NULL && s[i].sec_profile[0] != '\0');
		FUZZ_CHECK(strlen(s[i].sec_profile) <= AWSCONF_PROFILE_MAX);
		FUZZ_CHECK(strpbrk(s[i].sec_profile, "\r\n") == NULL);
		FUZZ_CHECK(strcmp(s[i].sec_file, FUZZ_PATH) == 0);
		FUZZ_CHECK(s[i].sec_line > 0);
		FUZZ_CHECK(s[i].sec_nkv == 0 || s[i].sec_kv != NULL);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(s[i].sec_profile, s[j].sec_profile) != 0);
		for (j = 0; j < s[i].sec_nkv; j++) {
			const struct aws_kv *kv = &s[i].sec_kv[j];
			const char *c;

			FUZZ_CHECK(kv->kv_key != NULL && kv->kv_key[0] != '\0');
			FUZZ_CHECK(strpbrk(kv->kv_key, "\r\n") == NULL);
			for (c = kv->kv_key; *c != '\0'; c++)
				FUZZ_CHECK(*c < 'A' || *c > 'Z');
			fuzz_check_value(kv->kv_val);
			FUZZ_CHECK(strcmp(kv->kv_file, FUZZ_PATH) == 0);
			FUZZ_CHECK(kv->kv_line > 0);
			for (k = 0; k < j; k++)
				FUZZ_CHECK(strcmp(kv->kv_key, s[i].sec_kv[k].kv_key) != 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_section *s;
	char err[ERRBUF_LEN];
	char *buf;
	size_t n;
	int is_config, rc;

	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	for (is_config = 0; is_config <= 1; is_config++) {
		err[0] = '\0';
		rc = awsconf_parse(buf, size, FUZZ_PATH, is_config, &s, &n, err, sizeof(err));
		if (rc == 0) {
			FUZZ_CHECK(err[0] == '\0');
			fuzz_check(s, n);
			awsconf_sections_free(s, n);
		} else {
			FUZZ_CHECK(rc == -1 && s == NULL && n == 0);
			FUZZ_CHECK(strncmp(err, FUZZ_PATH ":", sizeof(FUZZ_PATH)) == 0);
			FUZZ_CHECK(strpbrk(err, "\r\n") == NULL);
		}
	}
	free(buf);
	return 0;
}
