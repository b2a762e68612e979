/*
 * fuzz_sts_xml.c: libFuzzer target for sts_xml_parse (style habit 14).
 * The input is parsed as a reply to each action, from a heap copy of
 * exactly its length so ASan sees any read past it.  Checked every time:
 *   - 0 with st_ok 1: the four credential fields are non-empty and within
 *     their limits, cr_last_updated is 0, AssumeRole has an assumed ARN, and
 *     no STS error is reported;
 *   - 0 with st_ok 0: a non-empty Code and no credentials at all;
 *   - -1: a one-line message of one of the fixed forms, and the result
 *     wiped except st_http_status, which every call leaves alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "creds/creds.h"
#include "fuzz.h"

#define FUZZ_STATUS	200	/* st_http_status before the call */


static void
fuzz_one(const char *body, size_t size, enum sts_action action)
{
	static const char *const forms[] = {
		"STS reply body is empty", "STS reply body is over ",
		"STS reply is not well-formed XML: ", "DOCTYPE refused",
		"entity declaration refused", "unexpected document element <",
		"unexpected element inside <", "duplicate <", "ErrorResponse has no <",
		"AssumeRoleResponse has no <", "GetSessionTokenResponse has no <",
		"<Arn> ", "<AssumedRoleId> ", "<AccessKeyId> ", "<SecretAccessKey> ",
		"<SessionToken> ", "<Expiration> ", "<RequestId> ", "<Code> ",
		NULL
	};
	static struct sts_result r, zero;
	char err[ERRBUF_LEN];

	memset(&r, 0xa5, sizeof(r));
	r.st_http_status = FUZZ_STATUS;
	err[0] = '\0';
	if (sts_xml_parse(body, size, action, &r, err, sizeof(err)) == 0) {
		FUZZ_CHECK(r.st_http_status == FUZZ_STATUS);
		FUZZ_CHECK(r.st_cred.cr_last_updated == 0);
		FUZZ_CHECK(memchr(r.st_message, '\0', sizeof(r.st_message)) != NULL);
		FUZZ_CHECK(memchr(r.st_request_id, '\0', sizeof(r.st_request_id)) != NULL);
		if (r.st_ok == 1) {
			FUZZ_CHECK(r.st_cred.cr_akid[0] != '\0');
			FUZZ_CHECK(r.st_cred.cr_secret[0] != '\0');
			FUZZ_CHECK(r.st_cred.cr_token[0] != '\0');
			FUZZ_CHECK(strlen(r.st_cred.cr_akid) <= CRED_AKID_MAX);
			FUZZ_CHECK(strlen(r.st_cred.cr_secret) <= CRED_SECRET_MAX);
			FUZZ_CHECK(strlen(r.st_cred.cr_token) <= CRED_TOKEN_MAX);
			FUZZ_CHECK(strlen(r.st_assumed_arn) < sizeof(r.st_assumed_arn));
			FUZZ_CHECK(strlen(r.st_assumed_id) < sizeof(r.st_assumed_id));
			FUZZ_CHECK(r.st_code[0] == '\0');
			if (action == STS_ASSUME_ROLE)
				FUZZ_CHECK(r.st_assumed_arn[0] != '\0');
		} else {
			FUZZ_CHECK(r.st_ok == 0);
			FUZZ_CHECK(r.st_code[0] != '\0');
			FUZZ_CHECK(strlen(r.st_code) < sizeof(r.st_code));
			FUZZ_CHECK(memcmp(&r.st_cred, &zero.st_cred, sizeof(r.st_cred)) == 0);
		}
	} else {
		zero.st_http_status = FUZZ_STATUS;
		FUZZ_CHECK(memcmp(&r, &zero, sizeof(r)) == 0);
		zero.st_http_status = 0;
		FUZZ_CHECK(fuzz_starts(err, forms));
		FUZZ_CHECK(strchr(err, '\n') == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	if ((body = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(body, data, size);
	fuzz_one(body, size, STS_ASSUME_ROLE);
	fuzz_one(body, size, STS_GET_SESSION_TOKEN);
	free(body);
	return 0;
}
