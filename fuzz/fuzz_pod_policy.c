/*
 * fuzz_pod_policy.c: libFuzzer target for a namespace's restriction
 * annotations (pods.h, policy.c): kube2iam's iam.amazonaws.com/allowed-roles
 * (a JSON array of globs) and kiam's iam.amazonaws.com/permitted (a Go
 * regular expression, turned into a POSIX ERE).
 *
 * The input is "ALLOWED\nPERMITTED": the bytes before the first LF are
 * allowed-roles, those after it permitted (no LF: only allowed-roles; an
 * empty side is absent).  Each side is copied to a heap buffer of exactly
 * its length (ASan sees any read past it).  Checked on every input:
 *   - pods_ns_set succeeds (no allocation fails here) with at most
 *     POD_NS_GLOBS_MAX patterns and a NUL-terminated fault;
 *   - pods_ns_allows answers 0 or 1 for a few ARNs; a refusal's reason names
 *     the namespace and is one line;
 *   - pods_re2_to_ere of permitted either fails with a reason or gives a
 *     NUL-terminated ERE shorter than its buffer, which regcomp accepts or
 *     refuses without harm;
 *   - a second pods_ns_set over the first frees it (LeakSanitizer).
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pods/pods.h"
#include "fuzz.h"

#define FUZZ_NS		"fuzz-ns"
#define FUZZ_BASE	"arn:aws:iam::123456789012:role/"

static const char *const fuzz_arns[] = {
	FUZZ_BASE "app-a",
	FUZZ_BASE "team/app-b",
	"arn:aws:iam::210987654321:role/x",
	"arn:aws-cn:iam::123456789012:role/a/b/c/d+e=f,g.h@i_j-k",
	NULL
};

static char *
fuzz_copy(const uint8_t *p, size_t n)
{
	char *b = malloc(n > 0 ? n : 1);

	if (b != NULL && n > 0)
		memcpy(b, p, n);
	return b;
}

static void
fuzz_check_ns(const struct pod_ns *np)
{
	char why[POD_REASON_MAX];
	size_t i;
	int ok;

	FUZZ_CHECK(np->pn_nglobs <= POD_NS_GLOBS_MAX);
	FUZZ_CHECK(memchr(np->pn_fault, '\0', sizeof(np->pn_fault)) != NULL);
	FUZZ_CHECK(strcmp(np->pn_name, FUZZ_NS) == 0);
	for (i = 0; fuzz_arns[i] != NULL; i++) {
		why[0] = '\0';
		ok = pods_ns_allows(np, fuzz_arns[i], why, sizeof(why));
		FUZZ_CHECK(ok == 0 || ok == 1);
		if (ok == 0) {
			FUZZ_CHECK(strncmp(why, "namespace " FUZZ_NS " ", 11 + 7) == 0);
			FUZZ_CHECK(strpbrk(why, "\r\n") == NULL);
		}
	}
}

static void
fuzz_check_ere(const char *re, size_t n)
{
	char out[POD_NS_REGEX_MAX], why[POD_REASON_MAX];
	regex_t rx;

	why[0] = '\0';
	memset(out, 'x', sizeof(out));
	if (pods_re2_to_ere(re, n, out, sizeof(out), why, sizeof(why)) == -1) {
		FUZZ_CHECK(why[0] != '\0');
		return;
	}
	FUZZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	if (regcomp(&rx, out, REG_EXTENDED | REG_NOSUB) == 0) {
		(void)regexec(&rx, fuzz_arns[0], 0, NULL, 0);
		regfree(&rx);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *lf = memchr(data, '\n', size);
	size_t alen = lf != NULL ? (size_t)(lf - data) : size;
	size_t plen = lf != NULL ? size - alen - 1 : 0;
	char *allowed = NULL, *permitted = NULL;
	struct pod_opts o;
	struct pod_ns np;

	memset(&o, 0, sizeof(o));
	memcpy(o.po_base, FUZZ_BASE, sizeof(FUZZ_BASE));
	o.po_restrict = 1;
	memset(&np, 0, sizeof(np));
	if ((alen > 0 && (allowed = fuzz_copy(data, alen)) == NULL) ||
	    (plen > 0 && (permitted = fuzz_copy(lf + 1, plen)) == NULL))
		goto out;
	FUZZ_CHECK(pods_ns_set(&np, &o, FUZZ_NS, strlen(FUZZ_NS), allowed, alen, permitted,
	    plen) == 0);
	fuzz_check_ns(&np);
	/* the other way round, over the first: what it held is freed */
	FUZZ_CHECK(pods_ns_set(&np, &o, FUZZ_NS, strlen(FUZZ_NS), permitted, plen, allowed,
	    alen) == 0);
	fuzz_check_ns(&np);
	if (permitted != NULL)
		fuzz_check_ere(permitted, plen);
	if (allowed != NULL)
		fuzz_check_ere(allowed, alen);
out:
	pods_ns_free(&np);
	free(allowed);
	free(permitted);
	return 0;
}
