/*
 * util.c: small formatting and parsing helpers with fixed output sizes.
 * Everything here is pure and allocation-free except read_fd_capped, read_file_capped and
 * the clocks (clock_wall, mono_ms).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define FNV_BASIS	2166136261u	/* FNV-1a */
#define FNV_PRIME	16777619u
#define MEM_ZERO_PAGE	4096	/* bytes mem_zero looks at together (a page: x86-64, arm64 4K) */

static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Two decimal digits; v is 0..99. */
static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

static void
put4(char *p, int v)
{
	p[0] = (char)('0' + (v / 1000) % 10);
	p[1] = (char)('0' + (v / 100) % 10);
	p[2] = (char)('0' + (v / 10) % 10);
	p[3] = (char)('0' + v % 10);
}

/*
 * "Mon, 02 Jun 2025 09:20:28 GMT".  Written by hand rather than with
 * strftime so that the locale can never change a byte (RFC 9110 §5.6.7).
 */
size_t
fmt_imf_date(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	memcpy(buf, days[tm.tm_wday], 3);
	buf[3] = ',';
	buf[4] = ' ';
	put2(buf + 5, tm.tm_mday);
	buf[7] = ' ';
	memcpy(buf + 8, months[tm.tm_mon], 3);
	buf[11] = ' ';
	put4(buf + 12, tm.tm_year + 1900);
	buf[16] = ' ';
	put2(buf + 17, tm.tm_hour);
	buf[19] = ':';
	put2(buf + 20, tm.tm_min);
	buf[22] = ':';
	put2(buf + 23, tm.tm_sec);
	memcpy(buf + 25, " GMT", 4);
	buf[IMF_DATE_LEN] = '\0';
	return IMF_DATE_LEN;
}

/* "2025-06-02T09:20:28Z": UTC, whole seconds (contract §8.6). */
size_t
fmt_iso8601(time_t t, char *buf)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	put4(buf, tm.tm_year + 1900);
	buf[4] = '-';
	put2(buf + 5, tm.tm_mon + 1);
	buf[7] = '-';
	put2(buf + 8, tm.tm_mday);
	buf[10] = 'T';
	put2(buf + 11, tm.tm_hour);
	buf[13] = ':';
	put2(buf + 14, tm.tm_min);
	buf[16] = ':';
	put2(buf + 17, tm.tm_sec);
	buf[19] = 'Z';
	buf[ISO_DATE_LEN] = '\0';
	return ISO_DATE_LEN;
}

static int
digits(const char *s, size_t n, int *out)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return mdays[m - 1] + (m == 2 && leap);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long
days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * "YYYY-MM-DDTHH:MM:SS" followed by an optional fraction and then "Z" or
 * "+00:00" / "-00:00" style offset.  Sources such as credential_process and
 * STS write these; we always serve whole seconds.
 */
int
parse_iso8601(const char *s, size_t n, time_t *out)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 1;
	size_t i;
	long long t;

	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	/* a leap second is not representable in time_t: refused */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    se > 59)
		return -1;
	i = 19;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return -1;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		sign = s[i] == '-' ? -1 : 1;
		if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		i += 6;
	} else
		return -1;
	if (i != n)
		return -1;
	t = (long long)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	t -= sign * (oh * 3600 + om * 60);
	*out = (time_t)t;
	return 0;
}

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
b64_encode(const unsigned char *in, size_t n, char *out, size_t cap, int urlsafe,
    int wrap)
{
	const char *tab = urlsafe ? b64url : b64std;
	size_t enc = (n + 2) / 3 * 4, need, o = 0, col = 0, i;
	char quad[4];
	int k;

	need = enc + (wrap > 0 && enc > 0 ? (enc - 1) / (size_t)wrap : 0) + 1;
	if (need > cap)
		return 0;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		quad[0] = tab[(v >> 18) & 63];
		quad[1] = tab[(v >> 12) & 63];
		quad[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		quad[3] = i + 2 < n ? tab[v & 63] : '=';
		for (k = 0; k < 4; k++) {
			if (wrap > 0 && col == (size_t)wrap) {
				out[o++] = '\n';
				col = 0;
			}
			out[o++] = quad[k];
			col++;
		}
	}
	out[o] = '\0';
	return o;
}

static int
b64_val(char c, int urlsafe)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (urlsafe ? '-' : '+'))
		return 62;
	if (c == (urlsafe ? '_' : '/'))
		return 63;
	return -1;
}

/* Either alphabet, padded, canonical. */
static ssize_t
b64_decode_alpha(const char *in, size_t n, unsigned char *out, size_t cap, int urlsafe)
{
	size_t i, o = 0;
	int k, v[4];

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)	/* data after padding */
				return -1;
			if ((v[k] = b64_val(in[i + k], urlsafe)) < 0)
				return -1;
		}
		if (o + 3 - (size_t)pad > cap)
			return -1;
		/* canonical only: the bits a padded quantum leaves unused are zero */
		if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0))
			return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (ssize_t)o;
}

ssize_t
b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	return b64_decode_alpha(in, n, out, cap, 1);
}

ssize_t
b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	return b64_decode_alpha(in, n, out, cap, 0);
}

int
parse_uint_bounded(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || !all_digits(s, n))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)	/* d > max: max - d would wrap */
			return -2;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* The units parse_duration_bounded knows, longest suffix first, in milliseconds. */
static const struct {
	const char	*du_suffix;
	unsigned	 du_bit;
	unsigned long	 du_ms;
} dur_units[] = {
	{ "ms", DUR_MS, 1 },
	{ "s", DUR_S, 1000 },
	{ "m", DUR_M, 60 * 1000 },
	{ "h", DUR_H, 3600 * 1000 },
	{ "d", DUR_D, 86400 * 1000 },
};

int
parse_duration_bounded(const char *s, size_t n, unsigned units, enum dur_in in, unsigned long lo,
    unsigned long hi, unsigned long *out)
{
	unsigned long ms = 1000, mult, v;	/* a bare number is seconds */
	size_t i, k;

	for (i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
		k = strlen(dur_units[i].du_suffix);
		if ((units & dur_units[i].du_bit) && n >= k &&
		    memcmp(s + n - k, dur_units[i].du_suffix, k) == 0) {
			ms = dur_units[i].du_ms;
			n -= k;
			break;
		}
	}
	mult = in == DUR_IN_MS ? ms : ms / 1000;
	if (mult == 0)		/* "ms" asked for a count of seconds */
		return -1;
	/* v <= hi / mult: v * mult cannot pass hi, nor wrap */
	if (parse_uint_bounded(s, n, hi / mult, &v) != 0 || v * mult < lo)
		return -1;
	*out = v * mult;
	return 0;
}

uint32_t
addr_hash(int family, const unsigned char addr[16])
{
	uint32_t h = FNV_BASIS ^ (uint32_t)family;
	size_t i;

	for (i = 0; i < 16; i++)
		h = (h ^ addr[i]) * FNV_PRIME;
	return h;
}

uint32_t
str_hash(const char *s)
{
	uint32_t h = FNV_BASIS;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * FNV_PRIME;
	return h;
}

int
text_has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (CTL_BYTE(s[i]))
			return 1;
	return 0;
}

int
text_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + (max < SIZE_MAX));

	return n <= max && !text_has_ctl(s, n);
}

size_t
text_clean(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	if (cap == 0)
		return 0;
	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = CTL_BYTE(src[i]) ? '?' : src[i];
	dst[n] = '\0';
	return n;
}

void
verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err == NULL || errlen == 0)
		return;
	vsnprintf(err, errlen, fmt, ap);
	text_clean(err, errlen, err, strlen(err));
}

void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
}

int
all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
slice_eq(struct slice s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

int
slice_ieq(struct slice s, const char *lit)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		unsigned char a = (unsigned char)s.p[i], b = (unsigned char)lit[i];
		if (b == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b + 32);
		if (a != b)
			return 0;
	}
	return lit[s.n] == '\0';
}

void
wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

void *
wipe_grow(void *old, size_t used, size_t oldcap, size_t newcap)
{
	void *p;

	if ((p = malloc(newcap)) == NULL)
		return NULL;
	if (old != NULL) {
		memcpy(p, old, used);
		wipe_free(old, oldcap);
	}
	return p;
}

/* the way to files the dropped user may not open (priv/channel.c: sandbox_open), or NULL */
static int	(*read_file_opener)(const char *path);

void
read_file_set_opener(int (*opener)(const char *path))
{
	read_file_opener = opener;
}

int
read_fd_capped(int fd, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	int saved;

	*out = NULL;
	*outlen = 0;
	for (;;) {
		if (len == cap) {
			char *nb;
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return -1;
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

int
read_file_capped(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd, rc;

	*out = NULL;
	*outlen = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* after the privilege drop: the helper may open it for us */
		if ((errno != EACCES && errno != EPERM) || read_file_opener == NULL ||
		    (fd = read_file_opener(path)) == -1)
			return -1;
	}
	rc = read_fd_capped(fd, max, out, outlen);
	close_keep_errno(fd);
	return rc;
}

/*
 * By page: one with any byte set is resident already and cleared whole
 * (memset); one all zeros is only read.  No store the compiler could make
 * unconditional is left to it.
 */
void
mem_zero(void *p, size_t n)
{
	unsigned char *b = p, *end = b + n, *next;
	const unsigned char *c;

	while (b < end) {
		next = (unsigned char *)(((uintptr_t)b | (MEM_ZERO_PAGE - 1)) + 1);
		if (next > end || next < b)
			next = end;
		for (c = b; c < next && *c == 0; c++)
			;
		if (c < next)
			memset(b, 0, (size_t)(next - b));
		b = next;
	}
}

char *
mem_strdup(const char *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX || (s = malloc(n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void *
array_grow(void *arr, size_t *cap, size_t size, size_t first, size_t max)
{
	size_t n;
	void *p;

	if (max > SIZE_MAX / size)	/* max * size bytes must be representable */
		max = SIZE_MAX / size;
	if (*cap >= max) {
		errno = ENOMEM;
		return NULL;
	}
	n = *cap == 0 ? first : *cap > max / 2 ? max : *cap * 2;
	if (n > max)
		n = max;
	if ((p = reallocarray(arr, n, size)) == NULL)
		return NULL;
	*cap = n;
	return p;
}

ssize_t
read_some(int fd, void *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;
	return r < 0 ? 0 : r;
}

void
close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

time_t
clock_wall(void)
{
	return time(NULL);
}

IDLE_PATH uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint32_t
rnd32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)time(NULL) * 2654435761u;	/* jitter only: any value will do */
	return r;
}

void
uuid4_text(char out[UUID_TEXT_LEN + 1])
{
	uint32_t w[4] = { rnd32(), rnd32(), rnd32(), rnd32() };

	snprintf(out, UUID_TEXT_LEN + 1, "%08x-%04x-4%03x-%04x-%04x%08x", w[0], w[1] >> 16,
	    w[1] & 0xfff, 0x8000 | (w[2] >> 18), w[2] & 0xffff, w[3]);
}
