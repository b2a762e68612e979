/*
 * identity.c: the keys of the instance identity signatures (contract §9.2;
 * the signing is identity_sign.c's).
 *
 * Three keys sign the identity document: `signature` (RSA, 1024-bit when
 * generated), `pkcs7` (DSA, 1024-bit when generated) and `rsa2048` (RSA of
 * at least 2048 bits).  They come from a key file, trusted only when it is
 * private to the daemon's user, or are made: here (identity_init) or by the
 * key generator (keygen.c), whose answer, the keys as PEM and the
 * signatures of a first document, is written and taken in here.
 *
 * Each key gets a self-signed certificate: PKCS#7 needs one to name the
 * signer (issuer and serial), and local verifiers (Vault, SPIRE, openssl
 * smime -certfile) need the published copy.
 *
 * Only the OpenSSL 3 EVP/X509/PKCS7 API is used, no deprecated call.  This
 * runs at start-up and on each snapshot rebuild, never per request, so it
 * allocates freely.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/dsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define ID_RSA_SIG_BITS		1024	/* bits of a generated `signature` key (as AWS's mock) */
#define ID_RSA_2048_BITS	2048	/* bits of a generated `rsa2048` key, and the minimum loaded */
#define ID_DSA_BITS		1024	/* bits of a generated `pkcs7` DSA prime p */
#define ID_DSA_Q_BITS		160	/* bits of the DSA subgroup q (FIPS 186 L=1024, N=160) */
#define ID_KEYFILE_MAX		(256 * 1024)	/* bytes in a --identity-key file */
#define ID_KEYFILE_MODE		0600	/* mode of a key file we create */
#define ID_CERTFILE_MODE	0644	/* mode of the certificate file */
#define ID_SERIAL_LEN		16	/* bytes of random certificate serial */
#define ID_CERT_BACKDATE	(24L * 3600)	/* seconds: notBefore = now - this */
#define ID_CERT_DAYS		3653	/* days: notAfter = notBefore + 10 years */
#define ID_ERR_LEN		256	/* bytes of an OpenSSL error string */
#define ID_TMP_SUFFIX		".XXXXXX"	/* mkstemp template appended to the cert path */

static struct id_role id_roles[ROLE_COUNT] = {
	{ "signature", NULL, NULL },
	{ "pkcs7", NULL, NULL },
	{ "rsa2048", NULL, NULL },
};

/* Why the keys will not come (keygen.c's failure), "" while they may. */
static char id_failure[ERRBUF_LEN];

/*
 * Format "what: first queued OpenSSL error" into err and clear the queue.
 * Always returns -1 so that callers can write `return id_ossl_fail(...)`.
 */
int
id_ossl_fail(char *err, size_t errlen, const char *what)
{
	char ebuf[ID_ERR_LEN];
	unsigned long e;

	e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	else
		snprintf(ebuf, sizeof(ebuf), "unknown error");
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", what, ebuf);
	ERR_clear_error();
	return -1;
}

static void
role_clear(struct id_role *r)
{
	EVP_PKEY_free(r->kr_key);
	r->kr_key = NULL;
	X509_free(r->kr_cert);
	r->kr_cert = NULL;
}

/*
 * Never prompt for a pass phrase: an encrypted key is an error here.  u
 * points to a flag that records the request, for a clearer message.
 */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)u = 1;
	return -1;
}

static EVP_PKEY *
gen_rsa(unsigned bits, char *err, size_t errlen)
{
	EVP_PKEY *k;

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)) == NULL)
		id_ossl_fail(err, errlen, "RSA key generation");
	return k;
}

static EVP_PKEY *
gen_dsa(char *err, size_t errlen)
{
	EVP_PKEY_CTX *pctx = NULL, *kctx = NULL;
	EVP_PKEY *params = NULL, *key = NULL;

	if ((pctx = EVP_PKEY_CTX_new_from_name(NULL, "DSA", NULL)) == NULL ||
	    EVP_PKEY_paramgen_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_dsa_paramgen_bits(pctx, ID_DSA_BITS) <= 0 ||
	    EVP_PKEY_CTX_set_dsa_paramgen_q_bits(pctx, ID_DSA_Q_BITS) <= 0 ||
	    EVP_PKEY_paramgen(pctx, &params) <= 0) {
		id_ossl_fail(err, errlen, "DSA parameter generation");
		goto done;
	}
	if ((kctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(kctx) <= 0 ||
	    EVP_PKEY_keygen(kctx, &key) <= 0) {
		id_ossl_fail(err, errlen, "DSA key generation");
		EVP_PKEY_free(key);
		key = NULL;
	}
done:
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(params);
	return key;
}

/* Add one X.509 v3 extension given in openssl.cnf syntax. */
static int
cert_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * A self-signed X.509 v3 certificate for role r's key: subject = issuer =
 * CN "gimme-aws-mini instance identity (<role>)", O "gimme-aws-mini";
 * random positive serial; valid from a day ago for ten years.
 */
static X509 *
make_cert(const struct id_role *r, char *err, size_t errlen)
{
	unsigned char serial[ID_SERIAL_LEN];
	char cn[128];
	X509 *x = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	X509V3_CTX v3;
	time_t now;

	snprintf(cn, sizeof(cn), "%s instance identity (%s)", PROGNAME, r->kr_name);
	if (RAND_bytes(serial, sizeof(serial)) != 1) {
		id_ossl_fail(err, errlen, "certificate serial");
		goto fail;
	}
	serial[0] &= 0x7f;	/* positive, RFC 5280 §4.1.2.2 */
	serial[0] |= 0x40;	/* and always ID_SERIAL_LEN bytes long */
	now = time(NULL);
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(x, sn) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, -ID_CERT_BACKDATE, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), ID_CERT_DAYS, -ID_CERT_BACKDATE,
	    &now) == NULL ||
	    X509_set_pubkey(x, r->kr_key) != 1 ||
	    (name = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)PROGNAME, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1) {
		id_ossl_fail(err, errlen, "certificate creation");
		goto fail;
	}
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (!cert_add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
	    !cert_add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") ||
	    !cert_add_ext(x, &v3, NID_subject_key_identifier, "hash")) {
		id_ossl_fail(err, errlen, "certificate extensions");
		goto fail;
	}
	/*
	 * SHA-256 for every certificate; DSA-1024 with SHA-256 is allowed by
	 * OpenSSL (the digest is truncated to q), and SHA-1 is only the
	 * fallback should a build refuse it.
	 */
	if (X509_sign(x, r->kr_key, EVP_sha256()) <= 0) {
		ERR_clear_error();
		if (X509_sign(x, r->kr_key, EVP_sha1()) <= 0) {
			id_ossl_fail(err, errlen, "certificate signing");
			goto fail;
		}
	}
	X509_NAME_free(name);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return x;
fail:
	X509_NAME_free(name);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Give role r the key k unless it already has one; 1 when taken. */
static int
role_take(struct id_role *r, EVP_PKEY *k)
{
	if (r->kr_key != NULL || EVP_PKEY_up_ref(k) != 1)
		return 0;
	r->kr_key = k;
	return 1;
}

/* Line number (1-based) of p in text, for messages. */
static size_t
line_of(const char *text, const char *p)
{
	size_t line = 1;

	for (; text < p; text++)
		if (*text == '\n')
			line++;
	return line;
}

/*
 * Open an existing key file for reading, trusting it only if nobody else
 * could have written it or may read it (#17 finding 4): not a symbolic link
 * (O_NOFOLLOW, so neither is one followed), a regular file, owned by the
 * user the daemon runs as, with no permission for group or others.  Another
 * user who created the path first would otherwise supply keys they know and
 * forge signed documents.  1 opened (*fdp), 0 there is no such file (it
 * will be created), -1 with err naming the file and what is wrong.
 */
static int
open_key_file(const char *path, int *fdp, char *err, size_t errlen)
{
	static const struct { mode_t bit; const char *what; } open_to[] = {
		{ S_IWOTH, "writable by others" }, { S_IWGRP, "writable by group" },
		{ S_IROTH, "readable by others" }, { S_IRGRP, "readable by group" },
		{ S_IXOTH | S_IXGRP, "open to group or others" },
	};
	struct stat sb;
	size_t i;
	int fd;

	*fdp = -1;
	/* O_NONBLOCK: a FIFO put there must not hang the start */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
			snprintf(err, errlen, "identity key file %s: a symbolic link, which is not "
			    "followed: give the file's own path", path);
		else
			snprintf(err, errlen, "identity key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "identity key file %s: %s", path, strerror(errno));
		goto bad;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "identity key file %s: not a regular file", path);
		goto bad;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(err, errlen, "identity key file %s: owned by uid %u, not by uid %u that "
		    "the daemon runs as: another user may have written it", path,
		    (unsigned)sb.st_uid, (unsigned)geteuid());
		goto bad;
	}
	for (i = 0; i < sizeof(open_to) / sizeof(open_to[0]); i++)
		if (sb.st_mode & open_to[i].bit) {
			snprintf(err, errlen, "identity key file %s: mode %04o, %s: it must be "
			    "private to its owner (chmod 600)", path,
			    (unsigned)(sb.st_mode & 07777), open_to[i].what);
			goto bad;
		}
	*fdp = fd;
	return 1;
bad:
	close(fd);
	return -1;
}

/*
 * Read every PEM private key in the file; keep the first RSA key (signature),
 * the first RSA key of >= 2048 bits (rsa2048) and the first DSA key (pkcs7).
 * Other key types and other PEM blocks (certificates, parameters) are
 * skipped.  The blocks are found here rather than by calling
 * PEM_read_bio_PrivateKey until it fails, because OpenSSL 3 reports the end
 * of the input and a corrupt key with the same error.  text (len bytes,
 * at most ID_KEYFILE_MAX) is the file's or the generator's; path names it
 * in messages.  0 ok (at least one usable key), -1 with err.
 */
static int
parse_keys(const char *text, size_t len, const char *path, struct id_role *roles,
    char *err, size_t errlen)
{
	static const char begin[] = "-----BEGIN ";
	static const char label_end[] = "PRIVATE KEY-----";
	char what[ERRBUF_LEN];
	const char *p, *eol, *end = text + len;
	size_t ll;
	BIO *bio = NULL;
	EVP_PKEY *k = NULL;
	int found = 0, encrypted = 0, rc = -1;

	ERR_clear_error();
	for (p = text; (p = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1)) != NULL;
	    p = eol) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		ll = (size_t)(eol - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		/* a BEGIN line of its own whose label ends in "PRIVATE KEY" */
		if ((p != text && p[-1] != '\n') || ll < sizeof(begin) - 1 + sizeof(label_end) - 1 ||
		    memcmp(p + ll - (sizeof(label_end) - 1), label_end,
		    sizeof(label_end) - 1) != 0)
			continue;
		/* (int) is safe: len <= ID_KEYFILE_MAX */
		if ((bio = BIO_new_mem_buf(p, (int)(end - p))) == NULL) {
			id_ossl_fail(err, errlen, "identity key file: BIO_new_mem_buf");
			goto done;
		}
		if ((k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
		    &encrypted)) == NULL) {
			snprintf(what, sizeof(what), "identity key file %s: %sprivate key at line %zu",
			    path, encrypted ? "encrypted " : "", line_of(text, p));
			if (encrypted) {
				ERR_clear_error();
				snprintf(err, errlen, "%s: pass phrases are not supported", what);
			} else
				id_ossl_fail(err, errlen, what);
			goto done;
		}
		BIO_free(bio);
		bio = NULL;
		if (EVP_PKEY_is_a(k, "RSA")) {
			found += role_take(&roles[ROLE_SIG], k);
			if (EVP_PKEY_get_bits(k) >= ID_RSA_2048_BITS)
				found += role_take(&roles[ROLE_RSA2048], k);
		} else if (EVP_PKEY_is_a(k, "DSA"))
			found += role_take(&roles[ROLE_DSA], k);
		EVP_PKEY_free(k);
		k = NULL;
	}
	if (found == 0) {
		snprintf(err, errlen, "identity key file %s: no RSA or DSA private key", path);
		goto done;
	}
	rc = 0;
done:
	BIO_free(bio);
	return rc;
}

/* parse_keys of the key file fd (opened by open_key_file).  0 / -1 with err. */
static int
load_keys(int fd, const char *path, struct id_role *roles, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (read_fd_capped(fd, ID_KEYFILE_MAX, &text, &len) == -1) {
		snprintf(err, errlen, "identity key file %s: %s", path, strerror(errno));
		return -1;
	}
	rc = parse_keys(text, len, path, roles, err, errlen);
	wipe_free(text, len);
	return rc;
}

/* Write all of buf to fd.  0 / -1 (errno). */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* What roles_pem writes, in this order: the keys, the certificates, or both. */
enum pem_parts { PEM_KEYS, PEM_KEYS_CERTS, PEM_CERTS };

/*
 * The three keys (PKCS#8) and/or certificates as PEM, in role order, in a
 * new memory BIO; on the secure heap (cleared on free) when it holds keys.
 * NULL with err: "what: the OpenSSL call: its error".
 */
static BIO *
roles_pem(struct id_role *roles, enum pem_parts parts, const char *what, char *err,
    size_t errlen)
{
	char msg[ID_ERR_LEN];
	const char *call = NULL;
	BIO *mem;
	int i;

	if ((mem = BIO_new(parts == PEM_CERTS ? BIO_s_mem() : BIO_s_secmem())) == NULL)
		call = "BIO_new";
	for (i = 0; call == NULL && parts != PEM_CERTS && i < ROLE_COUNT; i++)
		if (PEM_write_bio_PrivateKey(mem, roles[i].kr_key, NULL, NULL, 0,
		    NULL, NULL) != 1)
			call = "PEM_write_bio_PrivateKey";
	for (i = 0; call == NULL && parts != PEM_KEYS && i < ROLE_COUNT; i++)
		if (PEM_write_bio_X509(mem, roles[i].kr_cert) != 1)
			call = "PEM_write_bio_X509";
	if (call == NULL)
		return mem;
	snprintf(msg, sizeof(msg), "%s: %s", what, call);
	id_ossl_fail(err, errlen, msg);
	BIO_free(mem);
	return NULL;
}

/* The certificates of text (PEM, in role order, after the keys) into roles.  0 / -1 with err. */
static int
parse_certs(const char *text, size_t len, struct id_role *roles, char *err, size_t errlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	const char *p = text, *end = text + len;
	BIO *bio;
	int i;

	for (i = 0; i < ROLE_COUNT; i++, p += sizeof(begin) - 1) {
		if ((p = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1)) == NULL) {
			snprintf(err, errlen, "identity keys: %s's certificate missing",
			    roles[i].kr_name);
			return -1;
		}
		/* (int) is safe: len <= KEYGEN_OUT_MAX */
		if ((bio = BIO_new_mem_buf(p, (int)(end - p))) == NULL)
			return id_ossl_fail(err, errlen, "identity keys: certificate");
		roles[i].kr_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (roles[i].kr_cert == NULL)
			return id_ossl_fail(err, errlen, "identity keys: certificate");
	}
	return 0;
}

/*
 * Create path (O_EXCL, mode 0600) holding the three keys as PKCS#8 PEM, in
 * role order.  On failure nothing is left behind.  0 / -1 with err.
 */
static int
save_keys(const char *path, struct id_role *roles, char *err, size_t errlen)
{
	BIO *mem;
	char *data;
	long dlen;
	int fd, rc = -1;

	if ((mem = roles_pem(roles, PEM_KEYS, "identity keys", err, errlen)) == NULL)
		return -1;
	dlen = BIO_get_mem_data(mem, &data);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    ID_KEYFILE_MODE)) != -1) {
		if (write_all(fd, data, (size_t)dlen) == 0 && fsync(fd) == 0)
			rc = close(fd);
		else
			close_keep_errno(fd);
	}
	if (rc != 0) {
		snprintf(err, errlen, "identity key file %s: %s", path, strerror(errno));
		if (fd != -1)
			unlink(path);	/* created by us: nothing is left behind */
	}
	BIO_free(mem);	/* secure heap: cleared on free */
	return rc;
}

/*
 * Write the three certificates to path atomically: a temporary file in the
 * same directory (mode 0644), then rename(2).  0 / -1 with err.
 */
static int
save_certs(const char *path, struct id_role *roles, char *err, size_t errlen)
{
	BIO *mem = NULL;
	char *tmp = NULL, *data;
	size_t plen;
	long dlen;
	int fd = -1, i, rc = -1;

	if ((mem = roles_pem(roles, PEM_CERTS, "identity certificate file", err,
	    errlen)) == NULL)
		goto done;
	dlen = BIO_get_mem_data(mem, &data);
	plen = strlen(path) + sizeof(ID_TMP_SUFFIX);
	if ((tmp = malloc(plen)) == NULL) {
		snprintf(err, errlen, "identity certificate file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	snprintf(tmp, plen, "%s%s", path, ID_TMP_SUFFIX);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "identity certificate file %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		tmp = NULL;	/* nothing to unlink */
		goto done;
	}
	if (fchmod(fd, ID_CERTFILE_MODE) == -1 ||
	    write_all(fd, data, (size_t)dlen) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "identity certificate file %s: %s", tmp,
		    strerror(errno));
		goto done;
	}
	i = close(fd);
	fd = -1;
	if (i == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "identity certificate file %s: %s", path,
		    strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		if (rc != 0)
			unlink(tmp);
		free(tmp);
	}
	BIO_free(mem);
	return rc;
}

/* Empty roles named as id_roles. */
static void
roles_blank(struct id_role *nr)
{
	int i;

	for (i = 0; i < ROLE_COUNT; i++) {
		nr[i].kr_name = id_roles[i].kr_name;
		nr[i].kr_key = NULL;
		nr[i].kr_cert = NULL;
	}
}

/* Generate the keys nr lacks (all when it has none).  0 / -1 with err. */
static int
roles_generate(struct id_role *nr, char *err, size_t errlen)
{
	if (nr[ROLE_SIG].kr_key == NULL &&
	    (nr[ROLE_SIG].kr_key = gen_rsa(ID_RSA_SIG_BITS, err, errlen)) == NULL)
		return -1;
	if (nr[ROLE_DSA].kr_key == NULL && (nr[ROLE_DSA].kr_key = gen_dsa(err, errlen)) == NULL)
		return -1;
	if (nr[ROLE_RSA2048].kr_key == NULL &&
	    (nr[ROLE_RSA2048].kr_key = gen_rsa(ID_RSA_2048_BITS, err, errlen)) == NULL)
		return -1;
	return 0;
}

/* Each key's certificate.  0 / -1 with err. */
static int
roles_certify(struct id_role *nr, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < ROLE_COUNT; i++)
		if ((nr[i].kr_cert = make_cert(&nr[i], err, errlen)) == NULL)
			return -1;
	return 0;
}

/* Sign with nr from now on: only a complete set is published. */
static void
roles_publish(struct id_role *nr)
{
	int i;

	for (i = 0; i < ROLE_COUNT; i++) {
		role_clear(&id_roles[i]);
		id_roles[i] = nr[i];
	}
}

static void
roles_drop(struct id_role *nr)
{
	int i;

	for (i = 0; i < ROLE_COUNT; i++)
		role_clear(&nr[i]);
	ERR_clear_error();
}

int
identity_init(const char *key_file, const char *cert_file, char *err, size_t errlen)
{
	struct id_role nr[ROLE_COUNT];
	int fd = -1, write_keys = 0, rc = 0;

	roles_blank(nr);
	if (key_file != NULL) {
		switch (open_key_file(key_file, &fd, err, errlen)) {
		case 0:
			write_keys = 1;
			break;
		case 1:
			rc = load_keys(fd, key_file, nr, err, errlen);
			close(fd);
			break;
		default:
			rc = -1;
		}
	}
	/* Generate what the file did not provide (everything when there is none). */
	if (rc == -1 || roles_generate(nr, err, errlen) == -1 ||
	    roles_certify(nr, err, errlen) == -1 ||
	    (write_keys && save_keys(key_file, nr, err, errlen) == -1) ||
	    (cert_file != NULL && save_certs(cert_file, nr, err, errlen) == -1)) {
		roles_drop(nr);
		return -1;
	}
	/* new keys: what the old ones signed, or would have, goes */
	identity_cleanup();
	roles_publish(nr);
	return 0;
}

/* ---- for the key generator (keygen.c) ---------------------------------- */

/*
 * The generator's answer is the keys and certificates as PEM, then
 * ID_SIGS_MARK with the three lengths and the signatures of the document
 * it was given.  The server keeps the PEM (id_pem) and parses it only for a
 * document the generator did not sign: until then it runs no OpenSSL code
 * and holds none of OpenSSL's state (a third of a megabyte of heap, and its
 * library pages).
 */
static char	*id_pem;	/* the generator's keys and certificates; NULL: none, or in id_roles */
static size_t	 id_pem_len;

/* wipe_free *p (len bytes), and forget it. */
void
id_wipe_drop(char **p, size_t len)
{
	wipe_free(*p, len);
	*p = NULL;
}

/* After the PEM in mem: ID_SIGS_MARK, the lengths, then doc's signatures. */
static int
append_sigs(BIO *mem, const struct id_role *nr, const char *doc, size_t len, char *err,
    size_t errlen)
{
	struct identity_sigs sg;
	int ok;

	if (id_sign_doc(nr, doc, len, &sg, err, errlen) == -1)
		return -1;
	ok = BIO_printf(mem, "%s%zu %zu %zu\n", ID_SIGS_MARK, sg.is_signature_len,
	    sg.is_pkcs7_len, sg.is_rsa2048_len) > 0 &&
	    BIO_write(mem, sg.is_signature, (int)sg.is_signature_len) ==
	    (int)sg.is_signature_len &&
	    BIO_write(mem, sg.is_pkcs7, (int)sg.is_pkcs7_len) == (int)sg.is_pkcs7_len &&
	    BIO_write(mem, sg.is_rsa2048, (int)sg.is_rsa2048_len) == (int)sg.is_rsa2048_len;
	identity_sigs_free(&sg);
	if (!ok)
		return id_ossl_fail(err, errlen, "identity keys: BIO_write");
	return 0;
}

int
identity_keys_write(int out, int in, char *err, size_t errlen)
{
	struct id_role nr[ROLE_COUNT];
	BIO *mem = NULL;
	char *data, *doc = NULL;
	size_t len = 0;
	long dlen;
	int rc = -1;

	roles_blank(nr);
	if (roles_generate(nr, err, errlen) == 0 && roles_certify(nr, err, errlen) == 0 &&
	    (mem = roles_pem(nr, PEM_KEYS_CERTS, "identity keys", err, errlen)) != NULL) {
		/* the document, once the daemon has built it (none: keys only) */
		if (read_fd_capped(in, KEYGEN_OUT_MAX, &doc, &len) == -1)
			len = 0;
		if (len == 0 || append_sigs(mem, nr, doc, len, err, errlen) == 0) {
			dlen = BIO_get_mem_data(mem, &data);
			if (dlen <= 0 || (size_t)dlen > KEYGEN_OUT_MAX)
				snprintf(err, errlen, "identity keys: %ld bytes to write", dlen);
			else if (write_all(out, data, (size_t)dlen) == -1)
				snprintf(err, errlen, "identity keys: %s", strerror(errno));
			else
				rc = 0;
		}
	}
	free(doc);
	BIO_free(mem);	/* secure heap: cleared */
	roles_drop(nr);
	return rc;
}

int
identity_take(const char *buf, size_t len, char **doc, size_t doclen, char *err,
    size_t errlen)
{
	const char *mark, *end = buf + len;

	if (len < 5 || memcmp(buf, "-----", 5) != 0) {
		/* not PEM: the generator's reason, at most a line of it */
		snprintf(err, errlen, "%.*s", (int)(len < 200 ? len : 200), buf);
		return -1;
	}
	if ((mark = memmem(buf, len, ID_SIGS_MARK, sizeof(ID_SIGS_MARK) - 1)) == NULL)
		mark = end;
	/* new keys: what the old ones signed goes */
	identity_cleanup();
	if (id_dup_bytes(&id_pem, &id_pem_len, buf, (size_t)(mark - buf)) == -1) {
		snprintf(err, errlen, "identity keys: out of memory");
		return -1;
	}
	if (mark != end)
		id_take_sigs(mark, end, doc, doclen);
	return 0;
}

void
identity_fail(const char *why)
{
	(void)text_clean(id_failure, sizeof(id_failure), why, strlen(why));	/* one line */
}

const char *
identity_failure(void)
{
	return id_failure[0] != '\0' ? id_failure : NULL;
}

int
identity_ready(void)
{
	return id_roles[ROLE_SIG].kr_key != NULL || id_pem != NULL;
}

/* The child's keys (id_pem) into id_roles, for a document it did not sign.  0 / -1 with err. */
static int
roles_load(char *err, size_t errlen)
{
	struct id_role nr[ROLE_COUNT];
	int i;

	if (id_roles[ROLE_SIG].kr_key != NULL)
		return 0;
	if (id_pem == NULL) {
		snprintf(err, errlen, "identity: keys not initialised");
		return -1;
	}
	roles_blank(nr);
	if (parse_keys(id_pem, id_pem_len, "(generated)", nr, err, errlen) == -1 ||
	    parse_certs(id_pem, id_pem_len, nr, err, errlen) == -1)
		goto fail;
	for (i = 0; i < ROLE_COUNT; i++)
		if (nr[i].kr_key == NULL) {
			snprintf(err, errlen, "identity keys: no %s key", nr[i].kr_name);
			goto fail;
		}
	roles_publish(nr);
	id_wipe_drop(&id_pem, id_pem_len);
	id_pem_len = 0;
	return 0;
fail:
	roles_drop(nr);
	return -1;
}

const struct id_role *
id_keys(char *err, size_t errlen)
{
	return roles_load(err, errlen) == -1 ? NULL : id_roles;
}

void
identity_cleanup(void)
{
	int i;

	id_wipe_drop(&id_pem, id_pem_len);
	id_pem_len = 0;
	id_failure[0] = '\0';
	id_last_clear();
	for (i = 0; i < ROLE_COUNT; i++)
		role_clear(&id_roles[i]);
}
