/*
 * test_util.c: formatting and parsing helpers (util.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "core/core.h"
#include "imds/imds.h"

#define T_BUF		512	/* bytes of scratch output */
#define T_WRAP		76	/* base64 line length of the identity signatures */
#define T_ROUNDTRIP_MAX	200	/* largest input length in the base64 round trip */
#define T_PATH_MAX	128	/* bytes in a temporary file path */
#define T_BIGFILE	10000	/* bytes: more than one 4096-byte read */

struct date_case {
	time_t		 dc_t;
	const char	*dc_imf;
	const char	*dc_iso;
};

static const struct date_case dates[] = {
	{ 0, "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00Z" },
	{ 1748856028, "Mon, 02 Jun 2025 09:20:28 GMT", "2025-06-02T09:20:28Z" },
	{ 951782400, "Tue, 29 Feb 2000 00:00:00 GMT", "2000-02-29T00:00:00Z" },
	{ 1709164800, "Thu, 29 Feb 2024 00:00:00 GMT", "2024-02-29T00:00:00Z" },
	{ 2147483647, "Tue, 19 Jan 2038 03:14:07 GMT", "2038-01-19T03:14:07Z" },
	{ (time_t)2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT", "2038-01-19T03:14:08Z" },
	{ (time_t)4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT", "2100-01-01T00:00:00Z" },
	{ (time_t)253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT", "9999-12-31T23:59:59Z" },
	{ -1, "Wed, 31 Dec 1969 23:59:59 GMT", "1969-12-31T23:59:59Z" },
};
#define NDATES	(sizeof(dates) / sizeof(dates[0]))

/* ---- array_grow -------------------------------------------------------- */

static void
test_array_grow(void **state)
{
	int *a = NULL;
	size_t cap = 0, i;

	(void)state;
	/* first, then doubling, clamped at max; the elements move with it */
	assert_non_null(a = array_grow(a, &cap, sizeof(*a), 3, 10));
	assert_int_equal(cap, 3);
	for (i = 0; i < cap; i++)
		a[i] = (int)i + 1;
	assert_non_null(a = array_grow(a, &cap, sizeof(*a), 3, 10));
	assert_int_equal(cap, 6);
	assert_int_equal(a[0], 1);
	assert_int_equal(a[2], 3);
	assert_non_null(a = array_grow(a, &cap, sizeof(*a), 3, 10));
	assert_int_equal(cap, 10);
	a[9] = 42;
	/* at max: NULL, and the array and cap are untouched */
	errno = 0;
	assert_null(array_grow(a, &cap, sizeof(*a), 3, 10));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(cap, 10);
	assert_int_equal(a[2], 3);
	assert_int_equal(a[9], 42);
	free(a);

	/* a count times size that would wrap fails before any allocation, cap untouched */
	cap = 4;
	errno = 0;
	assert_null(array_grow(NULL, &cap, SIZE_MAX / 4, 3, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(cap, 4);
}

static void
test_mem_strdup(void **state)
{
	char *s;

	(void)state;
	/* exactly n bytes, then a NUL: not a C-string copy of the source */
	assert_non_null(s = mem_strdup("abcdef", 3));
	assert_string_equal(s, "abc");
	free(s);
	assert_non_null(s = mem_strdup("a\0b", 3));
	assert_memory_equal(s, "a\0b\0", 4);
	free(s);
	/* nothing to copy: an empty string, and p is not read */
	assert_non_null(s = mem_strdup(NULL, 0));
	assert_string_equal(s, "");
	free(s);
	/* n + 1 would wrap */
	assert_null(mem_strdup("x", SIZE_MAX));
}

static void
test_close_keep_errno(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	errno = EXDEV;
	close_keep_errno(p[0]);
	assert_int_equal(errno, EXDEV);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);	/* closed */
	close(p[1]);
	/* a failing close(2) does not leak its own errno either */
	errno = EXDEV;
	close_keep_errno(p[1]);
	assert_int_equal(errno, EXDEV);
}

/* ---- dates ------------------------------------------------------------ */

static void
test_fmt_imf_date(void **state)
{
	char buf[IMF_DATE_LEN + 2];
	size_t i;

	(void)state;
	for (i = 0; i < NDATES; i++) {
		memset(buf, '#', sizeof(buf));
		assert_int_equal(fmt_imf_date(dates[i].dc_t, buf), IMF_DATE_LEN);
		assert_string_equal(buf, dates[i].dc_imf);
		assert_int_equal(buf[IMF_DATE_LEN + 1], '#');	/* no write past the NUL */
	}
}

static void
test_fmt_iso8601(void **state)
{
	char buf[ISO_DATE_LEN + 2];
	size_t i;

	(void)state;
	for (i = 0; i < NDATES; i++) {
		memset(buf, '#', sizeof(buf));
		assert_int_equal(fmt_iso8601(dates[i].dc_t, buf), ISO_DATE_LEN);
		assert_string_equal(buf, dates[i].dc_iso);
		assert_int_equal(buf[ISO_DATE_LEN + 1], '#');
	}
}

static int
piso(const char *s, time_t *t)
{
	return parse_iso8601(s, strlen(s), t);
}

static void
test_parse_iso8601_good(void **state)
{
	time_t t;
	size_t i;

	(void)state;
	for (i = 0; i < NDATES; i++) {
		t = 12345;
		assert_int_equal(piso(dates[i].dc_iso, &t), 0);
		assert_true(t == dates[i].dc_t);
	}
	assert_int_equal(piso("2025-06-02T09:20:28.123Z", &t), 0);
	assert_true(t == 1748856028);
	assert_int_equal(piso("2025-06-02T09:20:28.999999999Z", &t), 0);
	assert_true(t == 1748856028);	/* fractions are dropped, not rounded */
	assert_int_equal(piso("2025-06-02T09:20:28+00:00", &t), 0);
	assert_true(t == 1748856028);
	assert_int_equal(piso("2025-06-02T09:20:28-00:00", &t), 0);
	assert_true(t == 1748856028);
	assert_int_equal(piso("2025-06-02T09:20:28.5+00:00", &t), 0);
	assert_true(t == 1748856028);
	assert_int_equal(piso("2025-06-02T10:20:28+01:00", &t), 0);
	assert_true(t == 1748856028);
	assert_int_equal(piso("2025-06-02T03:50:28-05:30", &t), 0);
	assert_true(t == 1748856028);
	assert_int_equal(piso("2025-06-02t09:20:28z", &t), 0);
	assert_true(t == 1748856028);

	/* round trip over a range of times */
	for (t = 0; t < (time_t)4102444800LL; t += 12345679) {
		char buf[ISO_DATE_LEN + 1];
		time_t back = -1;
		fmt_iso8601(t, buf);
		assert_int_equal(piso(buf, &back), 0);
		assert_true(back == t);
	}
}

static void
test_parse_iso8601_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"2025-06-02T09:20:28",		/* no zone */
		"2025-06-02 09:20:28Z",		/* space for T */
		"2025-06-02T09:20:28ZZ",
		"2025-06-02T09:20:28Z ",
		" 2025-06-02T09:20:28Z",
		"2025-06-02T09:20:28.Z",	/* empty fraction */
		"2025-02-30T09:20:28Z",		/* no such day */
		"2025-06-31T09:20:28Z",
		"2023-02-29T00:00:00Z",		/* not a leap year */
		"2025-06-02T09:20:60Z",		/* leap second */
		"2025-06-02T09:20:28,5Z",
		"2025-06-02T09:20:28+0000",
		"2025-06-02T09:20:28+00",
		"2025-06-02T09:20:28+00:00Z",
		"2025-06-02T09:20:28+24:00",
		"2025-06-02T09:20:28+00:60",
		"2025-06-02T09:20Z",
		"2025-6-02T09:20:28Z",
		"2025/06/02T09:20:28Z",
		"2025-00-02T09:20:28Z",
		"2025-13-02T09:20:28Z",
		"2025-06-00T09:20:28Z",
		"2025-06-32T09:20:28Z",
		"2025-06-02T24:00:00Z",
		"2025-06-02T09:60:28Z",
		"2025-06-02T09:20:61Z",
		"2025-06-0aT09:20:28Z",
		"+025-06-02T09:20:28Z",
		"-025-06-02T09:20:28Z",
		"2025-06-02T09:20:28.1.2Z",
		"Mon, 02 Jun 2025 09:20:28 GMT",
	};
	time_t t = 777;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (piso(bad[i], &t) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(t == 777);	/* untouched on failure */
	}
	/* n bounds the input: the same bytes cut short are refused */
	assert_int_equal(parse_iso8601("2025-06-02T09:20:28Z", 19, &t), -1);
	assert_int_equal(parse_iso8601("2025-06-02T09:20:28+00:00", 24, &t), -1);
	/* bytes after n do not matter */
	assert_int_equal(parse_iso8601("2025-06-02T09:20:28Zgarbage", 20, &t), 0);
	assert_true(t == 1748856028);
}

/* ---- base64 ------------------------------------------------------------ */

static void
b64_eq(const char *in, size_t n, int urlsafe, int wrap, const char *want)
{
	char out[T_BUF];

	memset(out, '#', sizeof(out));
	assert_int_equal(b64_encode((const unsigned char *)in, n, out, sizeof(out), urlsafe,
	    wrap), strlen(want));
	assert_string_equal(out, want);
}

/* RFC 4648 §10 test vectors, both alphabets. */
static void
test_b64_rfc4648(void **state)
{
	static const char *const vec[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		b64_eq(vec[i][0], strlen(vec[i][0]), 0, 0, vec[i][1]);
		b64_eq(vec[i][0], strlen(vec[i][0]), 1, 0, vec[i][1]);
		b64_eq(vec[i][0], strlen(vec[i][0]), 0, T_WRAP, vec[i][1]);
	}
}

/* Characters 62 and 63 differ between the alphabets; NUL bytes are data. */
static void
test_b64_alphabets(void **state)
{
	static const char hi[] = { (char)0xfb, (char)0xff, (char)0xbf };
	static const char zeros[] = { 0, 0, 0, 0 };

	(void)state;
	b64_eq(hi, sizeof(hi), 0, 0, "+/+/");
	b64_eq(hi, sizeof(hi), 1, 0, "-_-_");
	b64_eq(hi, 2, 0, 0, "+/8=");
	b64_eq(hi, 2, 1, 0, "-_8=");
	b64_eq(zeros, sizeof(zeros), 0, 0, "AAAAAA==");
}

/* Lines of exactly wrap characters, LF between, never a trailing LF. */
static void
test_b64_wrap(void **state)
{
	unsigned char in[T_BUF / 2];
	char out[T_BUF];
	size_t n, len, i, col;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);

	/* 57 bytes are exactly 76 characters: one line, no LF */
	assert_int_equal(b64_encode(in, 57, out, sizeof(out), 0, T_WRAP), 76);
	assert_null(strchr(out, '\n'));
	/* 58 bytes: 76 + LF + 4 */
	assert_int_equal(b64_encode(in, 58, out, sizeof(out), 0, T_WRAP), 81);
	assert_int_equal(out[76], '\n');
	assert_int_equal(strlen(out + 77), 4);
	/* 114 bytes: 152 characters, two full lines, one LF between */
	assert_int_equal(b64_encode(in, 114, out, sizeof(out), 0, T_WRAP), 153);
	assert_int_equal(out[76], '\n');
	assert_int_not_equal(out[152], '\n');
	/* the 1024-bit RSA signature shape: 128 bytes, 172 chars, 174 with LFs */
	assert_int_equal(b64_encode(in, 128, out, sizeof(out), 0, T_WRAP), 174);

	for (n = 1; n < sizeof(in); n++) {
		size_t enc = (n + 2) / 3 * 4;
		len = b64_encode(in, n, out, sizeof(out), 0, T_WRAP);
		assert_int_equal(len, enc + (enc - 1) / T_WRAP);
		assert_int_equal(strlen(out), len);
		assert_int_not_equal(out[len - 1], '\n');
		for (i = 0, col = 0; i < len; i++) {
			if (out[i] == '\n') {
				assert_int_equal(col, T_WRAP);
				col = 0;
			} else
				col++;
		}
		assert_true(col >= 1 && col <= T_WRAP);
	}
	/* a small wrap, and no wrapping for 0 or a negative value */
	b64_eq("foobar", 6, 0, 4, "Zm9v\nYmFy");
	b64_eq("foobar", 6, 0, 3, "Zm9\nvYm\nFy");
	b64_eq("foobar", 6, 0, -1, "Zm9vYmFy");
}

/* The capacity counts the NUL; one byte short returns 0. */
static void
test_b64_cap(void **state)
{
	char out[T_BUF];

	(void)state;
	assert_int_equal(b64_encode((const unsigned char *)"foobar", 6, out, 9, 0, 0), 8);
	assert_int_equal(b64_encode((const unsigned char *)"foobar", 6, out, 8, 0, 0), 0);
	assert_int_equal(b64_encode((const unsigned char *)"foobar", 6, out, 0, 0, 0), 0);
	/* with a wrap the LFs count too: "Zm9v\nYmFy" is 9 + NUL */
	assert_int_equal(b64_encode((const unsigned char *)"foobar", 6, out, 10, 0, 4), 9);
	assert_int_equal(b64_encode((const unsigned char *)"foobar", 6, out, 9, 0, 4), 0);
	/* a token: 40 bytes into TOKEN_LEN + 1 */
	memset(out, 0, sizeof(out));
	assert_int_equal(b64_encode((const unsigned char *)out, TOKEN_RAW_LEN, out + 64,
	    TOKEN_LEN + 1, 1, 0), TOKEN_LEN);
	assert_int_equal(b64_encode((const unsigned char *)out, TOKEN_RAW_LEN, out + 64,
	    TOKEN_LEN, 1, 0), 0);
}

static void
test_b64url_roundtrip(void **state)
{
	unsigned char in[T_ROUNDTRIP_MAX], back[T_ROUNDTRIP_MAX];
	char enc[T_BUF];
	size_t n, i, len;
	unsigned seed = 7;

	(void)state;
	for (n = 0; n < sizeof(in); n++) {
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (unsigned char)(seed >> 16);
		}
		len = b64_encode(in, n, enc, sizeof(enc), 1, 0);
		assert_int_equal(len, (n + 2) / 3 * 4);
		assert_int_equal(b64url_decode(enc, len, back, sizeof(back)), (ssize_t)n);
		assert_memory_equal(in, back, n);
	}
	/* exact capacity is enough, one less is not */
	assert_int_equal(b64url_decode("Zm9vYmFy", 8, back, 6), 6);
	assert_int_equal(b64url_decode("Zm9vYmFy", 8, back, 5), -1);
	assert_int_equal(b64url_decode("Zm9vYg==", 8, back, 4), 4);
	assert_int_equal(b64url_decode("Zm9vYg==", 8, back, 3), -1);
	assert_int_equal(b64url_decode("-_-_", 4, back, 3), 3);
	assert_memory_equal(back, "\xfb\xff\xbf", 3);
}

static void
test_b64url_bad(void **state)
{
	static const char *const bad[] = {
		"Z", "Zg", "Zg=", "Zm9vY", "Zm9vYg=",	/* length not a multiple of 4 */
		"+/8=", "Zm9v+A==", "Zm9/",		/* standard alphabet */
		"Zm9 ", "Zm9\n", "Zm9.",
		"Z===", "====", "=AAA", "A=AA",		/* misplaced padding */
		"Zg=A",					/* data after padding */
		"Zg==Zg==",				/* padding before the end */
		"Zm8=Zm9v",
		"Zh==",					/* non-zero bits under the padding */
		"Zm9=",
	};
	unsigned char out[T_BUF];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (b64url_decode(bad[i], strlen(bad[i]), out, sizeof(out)) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(b64url_decode("Zm9\0", 4, out, sizeof(out)), -1);	/* a NUL inside */
	assert_int_equal(b64url_decode("", 0, out, sizeof(out)), 0);
}

/* ---- parse_uint_bounded ----------------------------------------------- */

static int
pu(const char *s, unsigned long max, unsigned long *out)
{
	return parse_uint_bounded(s, strlen(s), max, out);
}

static void
test_parse_uint(void **state)
{
	unsigned long v;

	(void)state;
	v = 99;
	assert_int_equal(pu("0", 21600, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pu("1", 21600, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(pu("21600", 21600, &v), 0);
	assert_int_equal(v, 21600);
	assert_int_equal(pu("007", 21600, &v), 0);	/* leading zeros are digits */
	assert_int_equal(v, 7);
	assert_int_equal(pu("21601", 21600, &v), -2);
	assert_int_equal(pu("30000", 21600, &v), -2);
	assert_int_equal(pu("99999", 21600, &v), -2);
	assert_int_equal(pu("64", 64, &v), 0);
	assert_int_equal(pu("65", 64, &v), -2);
	assert_int_equal(pu("100", 64, &v), -2);

	/* not numbers */
	assert_int_equal(pu("", 21600, &v), -1);
	assert_int_equal(pu("+1", 21600, &v), -1);
	assert_int_equal(pu("-1", 21600, &v), -1);
	assert_int_equal(pu(" 1", 21600, &v), -1);
	assert_int_equal(pu("1 ", 21600, &v), -1);
	assert_int_equal(pu("1a", 21600, &v), -1);
	assert_int_equal(pu("0x10", 21600, &v), -1);
	assert_int_equal(pu("1.5", 21600, &v), -1);
	assert_int_equal(pu("\xd9\xa1", 21600, &v), -1);	/* ARABIC-INDIC DIGIT ONE */
	/* a non-digit anywhere wins over "too big" */
	assert_int_equal(pu("99999999999999999999x", ULONG_MAX, &v), -1);

	/* the full range of unsigned long */
	assert_int_equal(pu("18446744073709551615", ULONG_MAX, &v), 0);
	assert_true(v == ULONG_MAX);
	assert_int_equal(pu("18446744073709551616", ULONG_MAX, &v), -2);
	assert_int_equal(pu("99999999999999999999", ULONG_MAX, &v), -2);
	assert_int_equal(pu("000000000000000000000000000001", ULONG_MAX, &v), 0);
	assert_int_equal(v, 1);

	/* a single digit above a small max */
	assert_int_equal(pu("7", 5, &v), -2);
	assert_int_equal(pu("5", 5, &v), 0);
	assert_int_equal(pu("1", 0, &v), -2);
	assert_int_equal(pu("0", 0, &v), 0);
	assert_int_equal(pu("10", 9, &v), -2);
	assert_int_equal(pu("9", 9, &v), 0);

	/* n bounds the input */
	assert_int_equal(parse_uint_bounded("123", 2, 1000, &v), 0);
	assert_int_equal(v, 12);
	/* untouched on failure */
	v = 42;
	assert_int_equal(pu("21601", 21600, &v), -2);
	assert_int_equal(pu("x", 21600, &v), -1);
	assert_int_equal(v, 42);
}

/* ---- slice_ieq --------------------------------------------------------- */

static struct slice
sl(const char *s, size_t n)
{
	struct slice r = { s, n };
	return r;
}

static void
test_slice_ieq(void **state)
{
	(void)state;
	assert_true(slice_ieq(sl("Content-Length", 14), "content-length"));
	assert_true(slice_ieq(sl("X-AWS-EC2-METADATA-TOKEN", 24), "x-aws-ec2-metadata-token"));
	assert_true(slice_ieq(sl("abc", 3), "ABC"));
	assert_true(slice_ieq(sl("", 0), ""));
	/* a slice is not NUL-terminated: only n bytes count */
	assert_true(slice_ieq(sl("hostXXX", 4), "Host"));
	assert_false(slice_ieq(sl("host", 3), "host"));	/* shorter */
	assert_false(slice_ieq(sl("hosts", 5), "host"));	/* longer */
	assert_false(slice_ieq(sl("", 0), "a"));
	assert_false(slice_ieq(sl("a", 1), ""));
	assert_false(slice_ieq(sl("a\0b", 3), "a"));	/* NUL inside the slice */
	/* only ASCII letters fold: '@'/'`', '['/'{', ']'/'}', '^'/'~' */
	assert_false(slice_ieq(sl("@", 1), "`"));
	assert_false(slice_ieq(sl("[", 1), "{"));
	assert_false(slice_ieq(sl("]", 1), "}"));
	assert_false(slice_ieq(sl("^", 1), "~"));
	assert_false(slice_ieq(sl("\xc3\xa9", 2), "\xc3\x89"));	/* é vs É: bytes */
	assert_true(slice_ieq(sl("\xc3\xa9", 2), "\xc3\xa9"));
	assert_false(slice_ieq(sl("\xe1", 1), "\xc1"));	/* Latin-1 letters do not fold */
	assert_false(slice_ieq(sl("GET", 3), "PUT"));
}

/* ---- read_file_capped ------------------------------------------------- */

static void
write_bytes(const char *path, const char *data, size_t n)
{
	FILE *f;

	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void
test_read_file_capped(void **state)
{
	char dir[] = "/tmp/test_util.XXXXXX", path[T_PATH_MAX], *big, *out;
	size_t len, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);

	/* small file, exact contents, NUL-terminated */
	write_bytes(path, "hello\0world", 11);
	assert_int_equal(read_file_capped(path, 100, &out, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(out, "hello\0world", 12);
	free(out);

	/* exactly max bytes is fine, one more is EFBIG */
	assert_int_equal(read_file_capped(path, 11, &out, &len), 0);
	assert_int_equal(len, 11);
	free(out);
	errno = 0;
	out = (char *)1;
	assert_int_equal(read_file_capped(path, 10, &out, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(out);
	assert_int_equal(len, 0);

	/* empty file: an empty string, not NULL */
	write_bytes(path, "", 0);
	assert_int_equal(read_file_capped(path, 100, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(out[0], '\0');
	free(out);
	assert_int_equal(read_file_capped(path, 0, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);

	/* larger than one read, around the cap */
	assert_non_null(big = malloc(T_BIGFILE));
	for (i = 0; i < T_BIGFILE; i++)
		big[i] = (char)('a' + i % 26);
	write_bytes(path, big, T_BIGFILE);
	assert_int_equal(read_file_capped(path, T_BIGFILE, &out, &len), 0);
	assert_int_equal(len, T_BIGFILE);
	assert_memory_equal(out, big, T_BIGFILE);
	assert_int_equal(out[T_BIGFILE], '\0');
	free(out);
	assert_int_equal(read_file_capped(path, T_BIGFILE - 1, &out, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(read_file_capped(path, 4096, &out, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(read_file_capped(path, 0, &out, &len), -1);
	assert_int_equal(errno, EFBIG);
	write_bytes(path, big, 4096);
	assert_int_equal(read_file_capped(path, 4096, &out, &len), 0);
	assert_int_equal(len, 4096);
	free(out);
	write_bytes(path, big, 4097);
	assert_int_equal(read_file_capped(path, 4096, &out, &len), -1);
	assert_int_equal(errno, EFBIG);
	free(big);

	/* missing file and directory */
	unlink(path);
	assert_int_equal(read_file_capped(path, 100, &out, &len), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(out);
	assert_int_equal(read_file_capped(dir, 100, &out, &len), -1);
	assert_int_equal(errno, EISDIR);
	assert_null(out);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- durations -------------------------------------------------------- */

struct dur_case {
	const char	*dc_s;
	unsigned	 dc_units;
	enum dur_in	 dc_in;
	unsigned long	 dc_lo, dc_hi;
	int		 dc_rc;
	unsigned long	 dc_want;
};

#define U_ALL	(DUR_MS | DUR_S | DUR_M | DUR_H | DUR_D)

static const struct dur_case durs[] = {
	/* units, in seconds and in milliseconds */
	{ "3600", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, 3600 },
	{ "90s", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, 90 },
	{ "15m", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, 900 },
	{ "1h", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, 3600 },
	{ "2d", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, 172800 },
	{ "10s", U_ALL, DUR_IN_MS, 0, ULONG_MAX, 0, 10000 },
	{ "500ms", U_ALL, DUR_IN_MS, 0, ULONG_MAX, 0, 500 },
	{ "7", U_ALL, DUR_IN_MS, 0, ULONG_MAX, 0, 7000 },
	{ "0ms", U_ALL, DUR_IN_MS, 0, ULONG_MAX, 0, 0 },
	/* "ms" cannot be counted in seconds */
	{ "500ms", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	/* a unit not asked for is junk ("5ms" without DUR_MS reads as "5m" + 's') */
	{ "1d", DUR_S | DUR_M | DUR_H, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "5ms", DUR_S | DUR_M, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "5m", DUR_MS | DUR_S, DUR_IN_MS, 0, ULONG_MAX, -1, 0 },
	/* bounds, inclusive, after the unit */
	{ "899", DUR_S, DUR_IN_S, 900, 43200, -1, 0 },
	{ "900", DUR_S, DUR_IN_S, 900, 43200, 0, 900 },
	{ "12h", DUR_H, DUR_IN_S, 900, 43200, 0, 43200 },
	{ "43201", DUR_H, DUR_IN_S, 900, 43200, -1, 0 },
	{ "13h", DUR_H, DUR_IN_S, 900, 43200, -1, 0 },
	{ "14m", DUR_M, DUR_IN_S, 900, 43200, -1, 0 },
	/* overflow: never wraps into the bounds */
	{ "18446744073709551615", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, ULONG_MAX },
	{ "18446744073709551616", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "18446744073709551615d", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "213503982334601d", U_ALL, DUR_IN_S, 0, ULONG_MAX, 0, 213503982334601UL * 86400 },
	{ "213503982334602d", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "18446744073709552s", U_ALL, DUR_IN_MS, 0, ULONG_MAX, -1, 0 },
	/* empty and junk */
	{ "", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "s", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "ms", U_ALL, DUR_IN_MS, 0, ULONG_MAX, -1, 0 },
	{ "h", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "-1", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "+1", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ " 1", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "1 s", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "1hs", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "1H", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "1.5h", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
	{ "0x10", U_ALL, DUR_IN_S, 0, ULONG_MAX, -1, 0 },
};
#define NDURS	(sizeof(durs) / sizeof(durs[0]))

static void
test_parse_duration(void **state)
{
	unsigned long v;
	size_t i;

	(void)state;
	for (i = 0; i < NDURS; i++) {
		v = 12345;
		assert_int_equal(parse_duration_bounded(durs[i].dc_s, strlen(durs[i].dc_s),
		    durs[i].dc_units, durs[i].dc_in, durs[i].dc_lo, durs[i].dc_hi, &v),
		    durs[i].dc_rc);
		if (durs[i].dc_rc == 0)
			assert_true(v == durs[i].dc_want);
		else
			assert_true(v == 12345);	/* untouched on failure */
	}
	/* s[0..n): a length that stops before the unit, or mid-number */
	assert_int_equal(parse_duration_bounded("15m", 2, U_ALL, DUR_IN_S, 0, 100, &v), 0);
	assert_true(v == 15);
	assert_int_equal(parse_duration_bounded("15m", 0, U_ALL, DUR_IN_S, 0, 100, &v), -1);
}

/* ---- control bytes and error messages -------------------------------- */

static void
test_text_ctl(void **state)
{
	char buf[16];

	(void)state;
	assert_false(text_has_ctl("plain text ~", 12));
	assert_true(text_has_ctl("a\tb", 3));
	assert_true(text_has_ctl("a\x7f", 2));
	assert_true(text_has_ctl("a\x1b[2J", 5));
	assert_false(text_has_ctl("a\nb", 1));	/* only s[0..n) */
	assert_false(text_has_ctl("caf\xc3\xa9", 5));	/* UTF-8 is text */
	assert_true(text_has_ctl("\0", 1));

	assert_true(text_ok("", 0));
	assert_true(text_ok("abc", 3));
	assert_false(text_ok("abcd", 3));
	assert_false(text_ok("a\rb", 10));
	assert_true(text_ok("long enough", SIZE_MAX));

	assert_int_equal(text_clean(buf, sizeof(buf), "a\nb\x7f" "c\td", 7), 7);
	assert_string_equal(buf, "a?b?c?d");
	/* cut at cap - 1, always terminated */
	assert_int_equal(text_clean(buf, 4, "abcdef", 6), 3);
	assert_string_equal(buf, "abc");
	/* in place */
	strcpy(buf, "x\x01y");
	assert_int_equal(text_clean(buf, sizeof(buf), buf, strlen(buf)), 3);
	assert_string_equal(buf, "x?y");
	assert_int_equal(text_clean(buf, 0, "abc", 3), 0);
}

/* Rss of the mapping at p, in kB, from /proc/self/smaps; -1 if not found. */
static long
mapping_rss_kb(const void *p)
{
	char line[512];
	unsigned long lo, hi;
	long rss = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && sscanf(line, "Rss: %ld kB", &rss) == 1)
			break;
	}
	fclose(f);
	return rss;
}

/*
 * mem_zero clears every byte, and writes only those that were not zero: a
 * fresh mapping of 64 pages with one page written costs that page after
 * it, where memset makes all 64 resident.
 */
static void
test_mem_zero(void **state)
{
	const size_t pages = 64, pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *m, small[37];
	size_t i;

	(void)state;
	memset(small, 0xa5, sizeof(small));
	small[0] = 0;
	mem_zero(small, sizeof(small));
	for (i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0);

	m = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	madvise(m, pages * pg, MADV_NOHUGEPAGE);
	m[3 * pg + 17] = 'x';
	m[pages * pg - 1] = 'y';
	mem_zero(m, pages * pg);
	for (i = 0; i < pages * pg; i++)
		if (m[i] != 0)
			fail_msg("byte %zu not zeroed", i);
	assert_int_equal(mapping_rss_kb(m), (long)(2 * pg / 1024));
	memset(m, 0, pages * pg);
	assert_int_equal(mapping_rss_kb(m), (long)(pages * pg / 1024));
	munmap(m, pages * pg);
}

static void
test_errf(void **state)
{
	char err[16];

	(void)state;
	errf(err, sizeof(err), "%s: %d", "bad\nline", 7);
	assert_string_equal(err, "bad?line: 7");
	errf(err, sizeof(err), "%s", "a long message cut to fit");
	assert_string_equal(err, "a long message ");
	memset(err, 'x', sizeof(err));
	errf(err, 0, "nothing");
	assert_int_equal(err[0], 'x');
	errf(NULL, 10, "nothing");
}

/* ---- capped buffers --------------------------------------------------- */

static void
test_sbuf_fixed(void **state)
{
	char buf[8];
	struct sbuf b = SBUF_FIXED(buf, sizeof(buf));

	(void)state;
	sbuf_puts(&b, "abc");
	sbuf_printf(&b, "%d", 12);
	assert_int_equal(b.sb_len, 5);
	assert_string_equal(buf, "abc12");
	/* text needs its NUL: 7 bytes fit, an 8th does not, and nothing is cut */
	sbuf_put(&b, "de", 2);
	assert_string_equal(buf, "abc12de");
	sbuf_put(&b, "f", 1);
	assert_true(b.sb_full);
	assert_string_equal(buf, "abc12de");
	/* sticky: a later small append adds nothing */
	b.sb_len = 3;
	buf[3] = '\0';
	sbuf_put(&b, "x", 1);
	assert_string_equal(buf, "abc");

	/* printf that does not fit leaves what was there whole */
	{
		struct sbuf c = SBUF_FIXED(buf, sizeof(buf));

		sbuf_printf(&c, "%s", "12");
		sbuf_printf(&c, "%s", "345678");
		assert_true(c.sb_full);
		assert_int_equal(c.sb_len, 2);
		assert_string_equal(buf, "12");
	}
}

static void
test_sbuf_raw(void **state)
{
	char buf[6];
	struct sbuf b = SBUF_RAW(buf, sizeof(buf));

	(void)state;
	memset(buf, 'x', sizeof(buf));
	sbuf_puts(&b, "HT");
	sbuf_num(&b, 200);
	sbuf_num(&b, 0);
	/* all six bytes are usable, no NUL written */
	assert_false(b.sb_full);
	assert_int_equal(b.sb_len, 6);
	assert_memory_equal(buf, "HT2000", 6);
	sbuf_put(&b, "", 0);
	assert_false(b.sb_full);
	sbuf_put(&b, "!", 1);
	assert_true(b.sb_full);
	assert_int_equal(b.sb_len, 6);
}

static void
test_sbuf_grown(void **state)
{
	struct sbuf b = SBUF_GROWN(1000);
	char *p;
	size_t len, i;

	(void)state;
	/* nothing added: "" is handed over */
	p = sbuf_take(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	/* grows past its first allocation, by put and by printf */
	for (i = 0; i < 99; i++)
		sbuf_puts(&b, "0123456789");
	sbuf_printf(&b, "%s", "abcdefghi");
	assert_false(b.sb_full);
	assert_int_equal(b.sb_len, 999);
	assert_true(b.sb_cap <= 1001);
	sbuf_put(&b, "j", 1);			/* exactly the ceiling */
	assert_false(b.sb_full);
	sbuf_put(&b, "k", 1);			/* one past it */
	assert_true(b.sb_full);
	assert_int_equal(b.sb_len, 1000);
	assert_null(sbuf_take(&b, &len));
	assert_int_equal(len, 0);
	assert_null(b.sb_p);
	/* after a take the buffer starts again, same ceiling */
	sbuf_printf(&b, "%0*d", 1001, 0);
	assert_true(b.sb_full);
	sbuf_free(&b);
	assert_false(b.sb_full);
	sbuf_printf(&b, "%0*d", 1000, 0);
	assert_false(b.sb_full);
	p = sbuf_take(&b, &len);
	assert_int_equal(len, 1000);
	assert_int_equal(strlen(p), 1000);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_array_grow),
		cmocka_unit_test(test_mem_strdup),
		cmocka_unit_test(test_close_keep_errno),
		cmocka_unit_test(test_fmt_imf_date),
		cmocka_unit_test(test_fmt_iso8601),
		cmocka_unit_test(test_parse_iso8601_good),
		cmocka_unit_test(test_parse_iso8601_bad),
		cmocka_unit_test(test_b64_rfc4648),
		cmocka_unit_test(test_b64_alphabets),
		cmocka_unit_test(test_b64_wrap),
		cmocka_unit_test(test_b64_cap),
		cmocka_unit_test(test_b64url_roundtrip),
		cmocka_unit_test(test_b64url_bad),
		cmocka_unit_test(test_parse_uint),
		cmocka_unit_test(test_slice_ieq),
		cmocka_unit_test(test_read_file_capped),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_text_ctl),
		cmocka_unit_test(test_errf),
		cmocka_unit_test(test_mem_zero),
		cmocka_unit_test(test_sbuf_fixed),
		cmocka_unit_test(test_sbuf_raw),
		cmocka_unit_test(test_sbuf_grown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
