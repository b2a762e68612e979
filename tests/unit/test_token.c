/*
 * test_token.c: stateless IMDSv2 tokens (token.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "imds/imds.h"

#define T_NOW		1000000	/* s: an arbitrary monotonic "now" */
#define T_TTL		600	/* s: a typical TTL */
#define T_GARBAGE_RUNS	2000	/* random 56-character strings tried */
#define T_MAC_OFF	8	/* raw offset of the MAC */
#define T_MAC_LEN	32	/* bytes of HMAC-SHA256 */
#define T_EXP_LEN	7	/* raw bytes 1..7: the expiry field */
#define T_EXP_MASK	((UINT64_C(1) << 56) - 1)
#define T_DAY		86400	/* s */
#define T_OFFSET_LABEL	"gimme-aws-mini token expiry offset"	/* token.c's */

static const unsigned char key_a[TOKEN_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* OpenSSL allocations, counted through CRYPTO_set_mem_functions. */
static unsigned long ossl_allocs;

static void *
count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return malloc(n);
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return realloc(p, n);
}

static void
count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static struct slice
sl(const char *s)
{
	struct slice r = { s, strlen(s) };
	return r;
}

static int
setup_key_a(void **state)
{
	(void)state;
	token_init_key(key_a);
	return 0;
}

static int
teardown_key(void **state)
{
	(void)state;
	token_cleanup();
	return 0;
}

/* Shape: 56 URL-safe base64 characters, "==" at the end, no NUL inside. */
static void
test_shape(void **state)
{
	char tok[TOKEN_LEN + 1];
	size_t i;

	(void)state;
	memset(tok, 'x', sizeof(tok));
	token_mint(T_NOW, T_TTL, NULL, tok);
	assert_int_equal(strlen(tok), TOKEN_LEN);
	assert_string_equal(tok + TOKEN_LEN - 2, "==");
	for (i = 0; i < TOKEN_LEN - 2; i++) {
		char c = tok[i];
		assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_');
	}
	/* the version byte, 0x01 */
	{
		unsigned char raw[TOKEN_RAW_LEN];
		assert_int_equal(b64url_decode(tok, TOKEN_LEN, raw, sizeof(raw)), TOKEN_RAW_LEN);
		assert_int_equal(raw[0], 0x01);
	}
}

/* Raw bytes 1..7 of tok, big-endian. */
static uint64_t
exp_field(const char *tok)
{
	unsigned char raw[TOKEN_RAW_LEN];
	uint64_t v = 0;
	int i;

	assert_int_equal(b64url_decode(tok, TOKEN_LEN, raw, sizeof(raw)), TOKEN_RAW_LEN);
	for (i = 1; i <= T_EXP_LEN; i++)
		v = v << 8 | raw[i];
	return v;
}

/* The offset token.c adds: the first 7 bytes of HMAC-SHA256(key, label), by OpenSSL. */
static uint64_t
offset_of(const unsigned char key[TOKEN_KEY_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t v = 0;
	int i;

	assert_non_null(HMAC(EVP_sha256(), key, TOKEN_KEY_LEN,
	    (const unsigned char *)T_OFFSET_LABEL, sizeof(T_OFFSET_LABEL) - 1, md, &mdlen));
	assert_int_equal(mdlen, T_MAC_LEN);
	for (i = 0; i < T_EXP_LEN; i++)
		v = v << 8 | md[i];
	return v;
}

/*
 * #17 finding 8: bytes 1..7 are not the monotonic clock (the host's
 * uptime): not now + ttl, under any key, and two keys (two processes) minting
 * at the same moment give unrelated fields.
 */
static void
test_expiry_hidden(void **state)
{
	unsigned char key_b[TOKEN_KEY_LEN];
	char tok[TOKEN_LEN + 1];
	uint64_t now, fa, fb, d;

	(void)state;
	memcpy(key_b, key_a, sizeof(key_b));
	key_b[0] ^= 0x80;
	for (now = 0; now < 5000000000ULL; now += 987654321ULL) {
		token_init_key(key_a);
		token_mint(now, T_TTL, NULL, tok);
		fa = exp_field(tok);
		token_init_key(key_b);
		token_mint(now, T_TTL, NULL, tok);
		fb = exp_field(tok);
		d = (fa - (now + T_TTL)) & T_EXP_MASK;
		assert_true(d > T_DAY && d < T_EXP_MASK - T_DAY);
		d = (fb - (now + T_TTL)) & T_EXP_MASK;
		assert_true(d > T_DAY && d < T_EXP_MASK - T_DAY);
		d = (fa - fb) & T_EXP_MASK;
		assert_true(d > T_DAY && d < T_EXP_MASK - T_DAY);
	}
	/* a random key (token_init) hides it too */
	assert_int_equal(token_init(), 0);
	token_mint(T_NOW, T_TTL, NULL, tok);
	d = (exp_field(tok) - (T_NOW + T_TTL)) & T_EXP_MASK;
	assert_true(d > T_DAY && d < T_EXP_MASK - T_DAY);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), T_TTL);
	token_init_key(key_a);
}

/* Known answers, computed independently (HMAC-SHA256, key 00..1f, its offset 0x7111204e44677a). */
static void
test_known_answer(void **state)
{
	char tok[TOKEN_LEN + 1];

	(void)state;
	token_mint(1000, 21600, NULL, tok);
	assert_string_equal(tok, "AXERIE5Ev8K_HHvjBUG65XNnDrmsTsugGG7u3s918KdIFrRjfzW6LA==");
	token_mint(0, 1, NULL, tok);
	assert_string_equal(tok, "AXERIE5EZ3uxvcDbSVfiI2oHRXODk5DJh5vqRPJ4mn9NzibsHo2f-Q==");
}

/*
 * The MAC equals OpenSSL's HMAC() over the first 8 raw bytes, and bytes 1..7
 * are the expiry plus the key's offset mod 2^56, for many expiries.
 */
static void
test_mac_matches_openssl(void **state)
{
	unsigned char key[TOKEN_KEY_LEN], raw[TOKEN_RAW_LEN], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char tok[TOKEN_LEN + 1];
	uint64_t now, off;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(0xa5 ^ (i * 7));
	token_init_key(key);
	off = offset_of(key);
	for (now = 0; now < 5000000000ULL; now += 123456789ULL) {
		uint64_t exp = 0;
		token_mint(now, 21600, NULL, tok);
		assert_int_equal(b64url_decode(tok, TOKEN_LEN, raw, sizeof(raw)),
		    TOKEN_RAW_LEN);
		assert_int_equal(raw[0], 0x01);
		for (i = 1; i < T_MAC_OFF; i++)
			exp = exp << 8 | raw[i];
		assert_true(exp == ((now + 21600 + off) & T_EXP_MASK));
		assert_non_null(HMAC(EVP_sha256(), key, sizeof(key), raw, T_MAC_OFF, md,
		    &mdlen));
		assert_int_equal(mdlen, T_MAC_LEN);
		assert_memory_equal(raw + T_MAC_OFF, md, T_MAC_LEN);
	}
	token_init_key(key_a);
}

/* Seconds left count down and reach 0 at expiry. */
static void
test_countdown(void **state)
{
	char tok[TOKEN_LEN + 1];

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), T_TTL);
	assert_int_equal(token_check(T_NOW + 5, sl(tok), NULL, NULL), T_TTL - 5);
	assert_int_equal(token_check(T_NOW + T_TTL - 1, sl(tok), NULL, NULL), 1);
	assert_int_equal(token_check(T_NOW + T_TTL, sl(tok), NULL, NULL), 0);
	assert_int_equal(token_check(T_NOW + T_TTL + 1, sl(tok), NULL, NULL), 0);
	assert_int_equal(token_check(UINT64_MAX, sl(tok), NULL, NULL), 0);
	/* why it was refused, from the same decode */
	{
		enum token_reject why = TR_NONE;
		assert_int_equal(token_check(T_NOW + T_TTL, sl(tok), NULL, &why), 0);
		assert_int_equal(why, TR_EXPIRED);
		why = TR_NONE;
		tok[TOKEN_LEN - 3] = tok[TOKEN_LEN - 3] == 'A' ? 'B' : 'A';
		assert_int_equal(token_check(T_NOW, sl(tok), NULL, &why), 0);
		assert_int_equal(why, TR_INVALID);
		why = TR_NONE;
		assert_int_equal(token_check(T_NOW, sl(""), NULL, &why), 0);
		assert_int_equal(why, TR_INVALID);
	}
}

/* The TTL bounds of contract §5.1. */
static void
test_ttl_bounds(void **state)
{
	char tok[TOKEN_LEN + 1];

	(void)state;
	token_mint(T_NOW, TOKEN_TTL_MIN, NULL, tok);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), 1);
	assert_int_equal(token_check(T_NOW + 1, sl(tok), NULL, NULL), 0);
	token_mint(T_NOW, TOKEN_TTL_MAX, NULL, tok);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), 21600);
	assert_int_equal(token_check(T_NOW + 25, sl(tok), NULL, NULL), 21575);
	assert_int_equal(token_check(T_NOW + TOKEN_TTL_MAX, sl(tok), NULL, NULL), 0);
	/* monotonic clocks start near 0 */
	token_mint(0, TOKEN_TTL_MAX, NULL, tok);
	assert_int_equal(token_check(0, sl(tok), NULL, NULL), 21600);
}

/* Every single-bit flip of every character is refused. */
static void
test_bit_flips(void **state)
{
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	struct slice s = { bad, TOKEN_LEN };
	size_t i;
	int b;

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	for (i = 0; i < TOKEN_LEN; i++)
		for (b = 0; b < 8; b++) {
			memcpy(bad, tok, sizeof(bad));
			bad[i] = (char)(bad[i] ^ (1 << b));
			assert_int_equal(token_check(T_NOW, s, NULL, NULL), 0);
		}
}

/* Every raw-bit flip, re-encoded canonically, fails the MAC or the version. */
static void
test_raw_bit_flips(void **state)
{
	unsigned char raw[TOKEN_RAW_LEN];
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	size_t i;
	int b;

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	assert_int_equal(b64url_decode(tok, TOKEN_LEN, raw, sizeof(raw)), TOKEN_RAW_LEN);
	for (i = 0; i < TOKEN_RAW_LEN; i++)
		for (b = 0; b < 8; b++) {
			raw[i] ^= (unsigned char)(1 << b);
			assert_int_equal(b64_encode(raw, sizeof(raw), bad, sizeof(bad), 1, 0),
			    TOKEN_LEN);
			assert_int_equal(token_check(T_NOW, sl(bad), NULL, NULL), 0);
			raw[i] ^= (unsigned char)(1 << b);
		}
}

/* The spare bits of the last data character: only one spelling is valid. */
static void
test_noncanonical(void **state)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	size_t i;
	int ok = 0;

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	for (i = 0; i < sizeof(alpha) - 1; i++) {
		memcpy(bad, tok, sizeof(bad));
		bad[TOKEN_LEN - 3] = alpha[i];
		if (token_check(T_NOW, sl(bad), NULL, NULL) != 0)
			ok++;
	}
	assert_int_equal(ok, 1);
}

static void
test_length(void **state)
{
	char tok[TOKEN_LEN + 1], longer[TOKEN_LEN + 8];
	struct slice s;

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	s.p = tok;
	for (s.n = 0; s.n < TOKEN_LEN; s.n++)
		assert_int_equal(token_check(T_NOW, s, NULL, NULL), 0);
	memcpy(longer, tok, TOKEN_LEN);
	memcpy(longer + TOKEN_LEN, "AAAA", 4);
	s.p = longer;
	for (s.n = TOKEN_LEN + 1; s.n <= TOKEN_LEN + 4; s.n++)
		assert_int_equal(token_check(T_NOW, s, NULL, NULL), 0);
	/* without the padding */
	s.p = tok;
	s.n = TOKEN_LEN - 2;
	assert_int_equal(token_check(T_NOW, s, NULL, NULL), 0);
	assert_int_equal(token_check(T_NOW, sl(""), NULL, NULL), 0);
}

/* Standard-alphabet and whitespace variants are not tokens. */
static void
test_bad_chars(void **state)
{
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	static const char subst[] = "+/ \t=.\x80";
	size_t i, k;

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	for (i = 0; i < TOKEN_LEN; i++)
		for (k = 0; k < sizeof(subst) - 1; k++) {
			memcpy(bad, tok, sizeof(bad));
			if (bad[i] == subst[k])
				continue;
			bad[i] = subst[k];
			assert_int_equal(token_check(T_NOW, sl(bad), NULL, NULL), 0);
		}
}

static void
test_other_key(void **state)
{
	unsigned char key_b[TOKEN_KEY_LEN];
	char tok[TOKEN_LEN + 1];

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, tok);
	memcpy(key_b, key_a, sizeof(key_b));
	key_b[TOKEN_KEY_LEN - 1] ^= 1;
	token_init_key(key_b);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), 0);
	/* a random key (token_init) neither */
	assert_int_equal(token_init(), 0);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), 0);
	/* but the token minted under the new key works */
	token_mint(T_NOW, T_TTL, NULL, tok);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), T_TTL);
	/* and no longer after another token_init */
	assert_int_equal(token_init(), 0);
	assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), 0);
	token_init_key(key_a);
}

/* Random strings of the right length and alphabet never pass. */
static void
test_garbage(void **state)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char bad[TOKEN_LEN + 1];
	unsigned seed = 12345;
	int run;
	size_t i;

	(void)state;
	for (run = 0; run < T_GARBAGE_RUNS; run++) {
		for (i = 0; i < TOKEN_LEN; i++) {
			seed = seed * 1103515245u + 12345u;
			bad[i] = alpha[(seed >> 16) % 64];
		}
		if (run % 2 == 0) {	/* half of them padded and versioned like ours */
			bad[0] = 'A';
			bad[1] = 'Q';
			bad[TOKEN_LEN - 2] = '=';
			bad[TOKEN_LEN - 1] = '=';
		}
		bad[TOKEN_LEN] = '\0';
		assert_int_equal(token_check(T_NOW, sl(bad), NULL, NULL), 0);
	}
	memset(bad, '=', TOKEN_LEN);
	assert_int_equal(token_check(T_NOW, sl(bad), NULL, NULL), 0);
	memset(bad, 'A', TOKEN_LEN);
	assert_int_equal(token_check(T_NOW, sl(bad), NULL, NULL), 0);
}

/* A slice is not NUL-terminated: bytes past n must not matter. */
static void
test_slice_bounds(void **state)
{
	char buf[TOKEN_LEN + 16];
	struct slice s = { buf, TOKEN_LEN };

	(void)state;
	token_mint(T_NOW, T_TTL, NULL, buf);
	memset(buf + TOKEN_LEN, '!', sizeof(buf) - TOKEN_LEN);
	assert_int_equal(token_check(T_NOW, s, NULL, NULL), T_TTL);
}

/* Mint and check run per request: no allocation inside OpenSSL (habit 9). */
static void
test_no_allocation(void **state)
{
	char tok[TOKEN_LEN + 1];
	unsigned long before;
	int i;

	(void)state;
	before = ossl_allocs;
	assert_true(before > 0);	/* the counter works: HMAC() above allocated */
	for (i = 0; i < 1000; i++) {
		token_mint(T_NOW + (uint64_t)i, T_TTL, NULL, tok);
		assert_int_equal(token_check(T_NOW + (uint64_t)i, sl(tok), NULL, NULL), T_TTL);
		tok[3] ^= 1;
		assert_int_equal(token_check(T_NOW, sl(tok), NULL, NULL), 0);
	}
	assert_int_equal(ossl_allocs, before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_mac_matches_openssl),
		cmocka_unit_test(test_expiry_hidden),
		cmocka_unit_test(test_countdown),
		cmocka_unit_test(test_ttl_bounds),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_raw_bit_flips),
		cmocka_unit_test(test_noncanonical),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_bad_chars),
		cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_slice_bounds),
		cmocka_unit_test(test_no_allocation),
	};

	/* before anything makes OpenSSL allocate */
	if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
		return 1;
	return cmocka_run_group_tests(tests, setup_key_a, teardown_key);
}
