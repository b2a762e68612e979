/*
 * token.c: stateless IMDSv2 session tokens (contract §5.1, §5.3).
 *
 * A token is 40 raw bytes, sent as 56 characters of URL-safe base64 ending
 * "==" (the shape of AWS's own tokens):
 *
 *   offset  0      1 byte   version (TOKEN_VERSION)
 *   offset  1      7 bytes  expiry + offset mod 2^56, big-endian
 *   offset  8     32 bytes  HMAC-SHA256(key, bytes 0..7 [+ the peer])
 *
 * With --pod-roles a token is bound to the address it was issued to: the
 * MAC also covers the peer's family (one byte) and its 16 address bytes
 * (TOKEN_BIND_LEN), which the token does not carry; the same token from
 * another address fails the MAC, as a forged one does.  Its bytes and
 * length are the same either way.
 *
 * The expiry is in monotonic seconds, which is the host's uptime: in the
 * clear it would tell every client when the host booted (#17 finding 8).
 * So it travels shifted by a secret 56-bit offset, the first 7 bytes of
 * HMAC-SHA256(key, TOKEN_OFFSET_LABEL) (the label is longer than the 8
 * bytes a token's MAC covers, so the two never collide).  A token then
 * tells its holder nothing it did not know: the offset is unknown, and the
 * difference between two tokens' expiries is the one the holder asked for.
 *
 * The key is random per process, so a restart invalidates every token
 * (allowed: clients re-fetch on 401) and draws a new offset.  Nothing is
 * stored per token.
 *
 * Minting and checking run on the request path, so neither allocates (style
 * habit 9).  OpenSSL's one-shot HMAC() and the EVP_MAC API allocate a
 * context per call; instead the HMAC (RFC 2104) is written out over the
 * low-level SHA256_CTX, with the inner and outer key blocks absorbed once in
 * token_init and the two contexts copied per call.  Those functions are
 * deprecated in OpenSSL 3 but remain supported; we silence that here only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "imds/imds.h"

#define TOKEN_VERSION		0x01	/* first raw byte */
#define TOKEN_EXPIRY_OFF	1	/* byte offset of the expiry */
#define TOKEN_EXPIRY_LEN	7	/* bytes of big-endian expiry (56 bits of seconds) */
#define TOKEN_SIGNED_LEN	8	/* bytes covered by the MAC: version + expiry */
#define TOKEN_MAC_LEN		SHA256_DIGEST_LENGTH	/* 32 bytes of HMAC-SHA256 */
#define TOKEN_BIND_LEN		17	/* bytes of a peer the MAC covers: family, address */
#define TOKEN_EXPIRY_MASK	((UINT64_C(1) << (8 * TOKEN_EXPIRY_LEN)) - 1)
#define TOKEN_OFFSET_LABEL	"gimme-aws-mini token expiry offset"	/* HMAC input of the offset */
#define HMAC_BLOCK_LEN		SHA256_CBLOCK	/* 64 bytes: SHA-256 block size */
#define HMAC_IPAD		0x36	/* RFC 2104 inner pad byte */
#define HMAC_OPAD		0x5c	/* RFC 2104 outer pad byte */

#if TOKEN_SIGNED_LEN + TOKEN_MAC_LEN != TOKEN_RAW_LEN
#error "token layout does not add up to TOKEN_RAW_LEN"
#endif

/* The key, and SHA-256 states that have absorbed (key ^ ipad) and (key ^ opad). */
static unsigned char	tok_key[TOKEN_KEY_LEN];
static SHA256_CTX	tok_inner;
static SHA256_CTX	tok_outer;
static uint64_t		tok_offset;	/* added to the expiry, mod 2^56 (see the top) */

/* HMAC-SHA256 of msg and then bind[0..blen) under tok_key, from the precomputed states. */
static void
token_hmac(const unsigned char *msg, size_t len, const unsigned char *bind, size_t blen,
    unsigned char mac[TOKEN_MAC_LEN])
{
	SHA256_CTX c;
	unsigned char inner[TOKEN_MAC_LEN];

	c = tok_inner;
	SHA256_Update(&c, msg, len);
	if (blen > 0)
		SHA256_Update(&c, bind, blen);
	SHA256_Final(inner, &c);
	c = tok_outer;
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(mac, &c);
	explicit_bzero(inner, sizeof(inner));
	explicit_bzero(&c, sizeof(c));
}

/*
 * Absorb the padded key blocks (the key is shorter than a block, RFC 2104
 * §2), and derive the expiry offset from the key.
 */
static void
token_precompute(void)
{
	static const char label[] = TOKEN_OFFSET_LABEL;
	unsigned char pad[HMAC_BLOCK_LEN], mac[TOKEN_MAC_LEN];
	size_t i;

	memset(pad, 0, sizeof(pad));
	memcpy(pad, tok_key, TOKEN_KEY_LEN);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= HMAC_IPAD;
	SHA256_Init(&tok_inner);
	SHA256_Update(&tok_inner, pad, sizeof(pad));
	/* ipad ^ opad turns one padded block into the other */
	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= HMAC_IPAD ^ HMAC_OPAD;
	SHA256_Init(&tok_outer);
	SHA256_Update(&tok_outer, pad, sizeof(pad));
	explicit_bzero(pad, sizeof(pad));
	token_hmac((const unsigned char *)label, sizeof(label) - 1, NULL, 0, mac);
	tok_offset = 0;
	for (i = 0; i < TOKEN_EXPIRY_LEN; i++)
		tok_offset = tok_offset << 8 | mac[i];
	explicit_bzero(mac, sizeof(mac));
}

int
token_init(void)
{
	size_t got = 0;
	ssize_t r;

	while (got < TOKEN_KEY_LEN) {
		r = getrandom(tok_key + got, TOKEN_KEY_LEN - got, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			explicit_bzero(tok_key, sizeof(tok_key));
			return -1;
		}
		got += (size_t)r;
	}
	token_precompute();
	return 0;
}

void
token_init_key(const unsigned char key[TOKEN_KEY_LEN])
{
	memcpy(tok_key, key, TOKEN_KEY_LEN);
	token_precompute();
}

/* What of the peer the MAC covers into b[TOKEN_BIND_LEN]: its length (0: unbound). */
static size_t
token_bind(const struct http_peer *pe, unsigned char b[TOKEN_BIND_LEN])
{
	if (pe == NULL)
		return 0;
	b[0] = (unsigned char)pe->pe_family;
	memcpy(b + 1, pe->pe_addr, sizeof(pe->pe_addr));
	return TOKEN_BIND_LEN;
}

void
token_mint(uint64_t now, unsigned ttl, const struct http_peer *bind, char out[TOKEN_LEN + 1])
{
	unsigned char raw[TOKEN_RAW_LEN], b[TOKEN_BIND_LEN];
	uint64_t exp = (now + ttl + tok_offset) & TOKEN_EXPIRY_MASK;
	int i;

	raw[0] = TOKEN_VERSION;
	for (i = 0; i < TOKEN_EXPIRY_LEN; i++)
		raw[TOKEN_EXPIRY_OFF + i] =
		    (unsigned char)(exp >> (8 * (TOKEN_EXPIRY_LEN - 1 - i)));
	token_hmac(raw, TOKEN_SIGNED_LEN, b, token_bind(bind, b), raw + TOKEN_SIGNED_LEN);
	(void)b64_encode(raw, sizeof(raw), out, TOKEN_LEN + 1, 1, 0);
}

/* Decode and authenticate tok (for bind); *exp gets its expiry.  0, or -1 when it is not ours. */
static int
token_open(struct slice tok, const struct http_peer *bind, uint64_t *exp)
{
	unsigned char raw[TOKEN_RAW_LEN], mac[TOKEN_MAC_LEN], b[TOKEN_BIND_LEN];
	char canon[TOKEN_LEN + 1];
	uint64_t field = 0;
	int i;

	*exp = 0;
	if (tok.n != TOKEN_LEN ||
	    b64url_decode(tok.p, tok.n, raw, sizeof(raw)) != TOKEN_RAW_LEN)
		return -1;
	/*
	 * The last character before "==" carries 4 unused bits that the
	 * decoder ignores; re-encoding rejects the 15 other spellings of a
	 * token, so exactly one string is valid.
	 */
	if (b64_encode(raw, sizeof(raw), canon, sizeof(canon), 1, 0) != TOKEN_LEN ||
	    memcmp(canon, tok.p, TOKEN_LEN) != 0)
		return -1;
	if (raw[0] != TOKEN_VERSION)
		return -1;
	token_hmac(raw, TOKEN_SIGNED_LEN, b, token_bind(bind, b), mac);
	if (CRYPTO_memcmp(mac, raw + TOKEN_SIGNED_LEN, TOKEN_MAC_LEN) != 0)
		return -1;
	for (i = 0; i < TOKEN_EXPIRY_LEN; i++)
		field = field << 8 | raw[TOKEN_EXPIRY_OFF + i];
	*exp = (field - tok_offset) & TOKEN_EXPIRY_MASK;
	return 0;
}

long
token_check(uint64_t now, struct slice tok, const struct http_peer *bind,
    enum token_reject *why)
{
	uint64_t exp;
	int ok = token_open(tok, bind, &exp) == 0;

	if (ok && exp > now)
		return (long)(exp - now);
	if (why != NULL)
		*why = ok ? TR_EXPIRED : TR_INVALID;
	return 0;
}

void
token_cleanup(void)
{
	explicit_bzero(tok_key, sizeof(tok_key));
	explicit_bzero(&tok_inner, sizeof(tok_inner));
	explicit_bzero(&tok_outer, sizeof(tok_outer));
	tok_offset = 0;
}
