/*
 * identity_sign.c: the instance identity signatures (contract §9.2) of a
 * document, with identity.c's keys, and the last document signed.
 *
 * Three keys sign the identity document, exactly as it is served:
 *
 *   signature  RSA (1024-bit when generated), PKCS#1 v1.5 over SHA-256 of the
 *              document; the body is the base64 of the raw signature.
 *   pkcs7      PKCS#7 SignedData embedding the document, DSA (1024-bit when
 *              generated) with SHA-1, signed attributes contentType,
 *              signingTime and messageDigest, no certificates inside.
 *   rsa2048    the same structure as pkcs7, RSA >= 2048 bits with SHA-256.
 *
 * Bodies are base64 in lines of 76 characters, no BEGIN/END lines, no
 * trailing LF.  The same bytes as the last document signed (here, or by the
 * key generator: its signatures are taken over by id_take_sigs) get the
 * same signatures without signing again.
 *
 * Only the OpenSSL 3 EVP/PKCS7 API is used, no deprecated call.  This runs
 * on each snapshot rebuild, never per request, so it allocates freely.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define ID_B64_WRAP		76	/* characters per base64 line (contract §9.2) */

/* ---- the last document signed ---------------------------------------- */

/* The last document signed and its signatures: the same bytes are not signed again. */
static struct {
	char		*doc;
	size_t		 len;
	struct identity_sigs sigs;
} id_last;

/* A malloc'd copy of len bytes at p into *dst.  0 / -1. */
int
id_dup_bytes(char **dst, size_t *dstlen, const char *p, size_t len)
{
	if ((*dst = mem_strdup(p, len)) == NULL)
		return -1;
	*dstlen = len;
	return 0;
}

/* Forget the last document signed. */
void
id_last_clear(void)
{
	identity_sigs_free(&id_last.sigs);
	id_wipe_drop(&id_last.doc, id_last.len);
	id_last.len = 0;
}

/* A decimal length of at most KEYGEN_OUT_MAX at *p, then sep.  0 / -1. */
static int
parse_len(const char **p, const char *end, char sep, size_t *out)
{
	size_t v = 0;

	if (*p >= end || **p < '0' || **p > '9')
		return -1;
	for (; *p < end && **p >= '0' && **p <= '9'; (*p)++)
		if ((v = v * 10 + (size_t)(**p - '0')) > KEYGEN_OUT_MAX)
			return -1;
	if (*p >= end || **p != sep)
		return -1;
	(*p)++;
	*out = v;
	return 0;
}

/*
 * The signatures after the PEM (p: at ID_SIGS_MARK) become id_last's, for
 * *doc (taken over).  Nothing usable: id_last stays empty (the first
 * snapshot then signs here).
 */
void
id_take_sigs(const char *p, const char *end, char **doc, size_t doclen)
{
	struct identity_sigs sg = { 0 };
	size_t l[3];

	p += sizeof(ID_SIGS_MARK) - 1;
	if (*doc == NULL || parse_len(&p, end, ' ', &l[0]) == -1 ||
	    parse_len(&p, end, ' ', &l[1]) == -1 || parse_len(&p, end, '\n', &l[2]) == -1 ||
	    (size_t)(end - p) != l[0] + l[1] + l[2])
		return;
	if (id_dup_bytes(&sg.is_signature, &sg.is_signature_len, p, l[0]) == -1 ||
	    id_dup_bytes(&sg.is_pkcs7, &sg.is_pkcs7_len, p + l[0], l[1]) == -1 ||
	    id_dup_bytes(&sg.is_rsa2048, &sg.is_rsa2048_len, p + l[0] + l[1], l[2]) == -1) {
		identity_sigs_free(&sg);
		return;
	}
	id_last_clear();
	id_last.doc = *doc;
	id_last.len = doclen;
	id_last.sigs = sg;
	*doc = NULL;
}

/* ---- signing ---------------------------------------------------------- */

/* Base64 in 76-column lines into a fresh malloc'd string.  0 / -1 with err. */
static int
b64_wrapped(const unsigned char *in, size_t n, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	size_t enc = (n + 2) / 3 * 4, cap;

	cap = enc + enc / ID_B64_WRAP + 1;
	if ((*out = malloc(cap)) == NULL) {
		snprintf(err, errlen, "identity signature: %s", strerror(errno));
		return -1;
	}
	*outlen = b64_encode(in, n, *out, cap, 0, ID_B64_WRAP);
	return 0;
}

/* `signature`: RSA PKCS#1 v1.5 over SHA-256 of doc. */
static int
sign_plain(const struct id_role *r, const char *doc, size_t len, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = -1;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, r->kr_key, NULL) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)doc, len) != 1) {
		id_ossl_fail(err, errlen, "identity signature: EVP_DigestSignInit");
		goto done;
	}
	if ((sig = malloc(siglen)) == NULL) {
		snprintf(err, errlen, "identity signature: %s", strerror(errno));
		goto done;
	}
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)doc, len) != 1) {
		id_ossl_fail(err, errlen, "identity signature: EVP_DigestSign");
		goto done;
	}
	rc = b64_wrapped(sig, siglen, out, outlen, err, errlen);
done:
	free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

/*
 * `pkcs7` and `rsa2048`: SignedData with the document embedded, one signer,
 * signed attributes (contentType, signingTime, messageDigest; no
 * SMIMECapabilities, like AWS's), no certificates.
 */
static int
sign_pkcs7(const struct id_role *r, const EVP_MD *mdalg, const char *doc, size_t len,
    char **out, size_t *outlen, char *err, size_t errlen)
{
	const int flags = PKCS7_BINARY | PKCS7_NOCERTS | PKCS7_NOSMIMECAP;
	BIO *in = NULL;
	PKCS7 *p7 = NULL;
	unsigned char *der = NULL;
	char what[ERRBUF_LEN];
	int dlen, rc = -1;

	snprintf(what, sizeof(what), "identity %s", r->kr_name);
	if (len > INT_MAX) {
		snprintf(err, errlen, "%s: document too large", what);
		goto done;
	}
	if ((in = BIO_new_mem_buf(doc, (int)len)) == NULL ||
	    (p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags | PKCS7_PARTIAL)) == NULL ||
	    PKCS7_sign_add_signer(p7, r->kr_cert, r->kr_key, mdalg, flags) == NULL ||
	    PKCS7_final(p7, in, flags) != 1) {
		id_ossl_fail(err, errlen, what);
		goto done;
	}
	if ((dlen = i2d_PKCS7(p7, &der)) <= 0) {
		id_ossl_fail(err, errlen, what);
		goto done;
	}
	rc = b64_wrapped(der, (size_t)dlen, out, outlen, err, errlen);
done:
	OPENSSL_free(der);
	PKCS7_free(p7);
	BIO_free(in);
	return rc;
}

/* The three signatures of doc with roles' keys.  0 / -1 with err. */
int
id_sign_doc(const struct id_role *roles, const char *doc, size_t len, struct identity_sigs *out,
    char *err, size_t errlen)
{
	out->is_signature = out->is_pkcs7 = out->is_rsa2048 = NULL;
	out->is_signature_len = out->is_pkcs7_len = out->is_rsa2048_len = 0;
	if (sign_plain(&roles[ROLE_SIG], doc, len, &out->is_signature,
	    &out->is_signature_len, err, errlen) == -1 ||
	    sign_pkcs7(&roles[ROLE_DSA], EVP_sha1(), doc, len, &out->is_pkcs7,
	    &out->is_pkcs7_len, err, errlen) == -1 ||
	    sign_pkcs7(&roles[ROLE_RSA2048], EVP_sha256(), doc, len, &out->is_rsa2048,
	    &out->is_rsa2048_len, err, errlen) == -1) {
		identity_sigs_free(out);
		return -1;
	}
	return 0;
}

/* Copies of src's signatures into dst.  0 / -1. */
static int
sigs_dup(const struct identity_sigs *src, struct identity_sigs *dst)
{
	memset(dst, 0, sizeof(*dst));
	if (id_dup_bytes(&dst->is_signature, &dst->is_signature_len, src->is_signature,
	    src->is_signature_len) == -1 ||
	    id_dup_bytes(&dst->is_pkcs7, &dst->is_pkcs7_len, src->is_pkcs7,
	    src->is_pkcs7_len) == -1 ||
	    id_dup_bytes(&dst->is_rsa2048, &dst->is_rsa2048_len, src->is_rsa2048,
	    src->is_rsa2048_len) == -1) {
		identity_sigs_free(dst);
		return -1;
	}
	return 0;
}

int
identity_sign(const char *doc, size_t len, struct identity_sigs *out, char *err,
    size_t errlen)
{
	const struct id_role *roles;

	memset(out, 0, sizeof(*out));
	if (id_last.doc != NULL && id_last.len == len && memcmp(id_last.doc, doc, len) == 0) {
		if (sigs_dup(&id_last.sigs, out) == -1) {
			snprintf(err, errlen, "identity signature: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((roles = id_keys(err, errlen)) == NULL ||
	    id_sign_doc(roles, doc, len, out, err, errlen) == -1)
		return -1;
	/* remembered for the next snapshot of the same document */
	id_last_clear();
	if (id_dup_bytes(&id_last.doc, &id_last.len, doc, len) == 0 &&
	    sigs_dup(out, &id_last.sigs) == -1)
		id_last_clear();
	return 0;
}

void
identity_sigs_free(struct identity_sigs *s)
{
	free(s->is_signature);
	free(s->is_pkcs7);
	free(s->is_rsa2048);
	s->is_signature = s->is_pkcs7 = s->is_rsa2048 = NULL;
	s->is_signature_len = s->is_pkcs7_len = s->is_rsa2048_len = 0;
}
