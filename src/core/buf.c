/*
 * buf.c: capped buffers (struct sbuf, core.h).
 *
 * One type for the three kinds of appended bytes: text in a caller's fixed
 * buffer (rule sets, metrics, messages), bytes in a caller's fixed buffer
 * with no NUL (response heads: no allocation on the request path), and
 * text in a malloc'd buffer grown up to a ceiling (JSON documents, STS
 * requests), wiped whenever it moves or is freed.  sbuf_put's common case
 * (and sbuf_puts) is inline in core.h; the rest is here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* Mark b full; what fitted before stays whole (and NUL-terminated, for text). */
static void
sbuf_overflow(struct sbuf *b)
{
	b->sb_full = 1;
	if (!b->sb_raw && b->sb_len < b->sb_cap)
		b->sb_p[b->sb_len] = '\0';
}

/* SBUF_GROWN: room for n more bytes and the NUL.  0 / -1 (b full). */
static int
sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t need, cap;
	char *np;

	if (b->sb_full)
		return -1;
	if (!b->sb_grow || n > b->sb_max - b->sb_len) {
		sbuf_overflow(b);
		return -1;
	}
	need = b->sb_len + n + 1;
	if (need <= b->sb_cap)
		return 0;
	cap = b->sb_cap ? b->sb_cap : SBUF_GROW_FIRST;
	while (cap < need)
		cap *= 2;
	if (cap > b->sb_max + 1)
		cap = b->sb_max + 1;
	if ((np = wipe_grow(b->sb_p, b->sb_p != NULL ? b->sb_len + 1 : 0, b->sb_cap, cap)) ==
	    NULL) {
		sbuf_overflow(b);
		return -1;
	}
	if (b->sb_p == NULL)
		np[0] = '\0';
	b->sb_p = np;
	b->sb_cap = cap;
	return 0;
}

void
sbuf_put_slow(struct sbuf *b, const char *s, size_t n)
{
	if (sbuf_reserve(b, n) == -1)
		return;
	memcpy(b->sb_p + b->sb_len, s, n);
	b->sb_len += n;
	b->sb_p[b->sb_len] = '\0';
}

void
sbuf_num(struct sbuf *b, unsigned long v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	sbuf_put(b, d + i, sizeof(d) - i);
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (b->sb_full)
		return;
	room = b->sb_cap - b->sb_len;
	va_start(ap, fmt);
	n = vsnprintf(room > 0 ? b->sb_p + b->sb_len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room) {
		b->sb_len += (size_t)n;
		return;
	}
	/* too long for the room: grow and print again, or stop here */
	if (n < 0 || sbuf_reserve(b, (size_t)n) == -1) {
		sbuf_overflow(b);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->sb_p + b->sb_len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->sb_len += (size_t)n;
}

char *
sbuf_take(struct sbuf *b, size_t *len)
{
	char *p;

	if (b->sb_p == NULL)
		sbuf_reserve(b, 0);	/* nothing added: hand over "" */
	if (b->sb_full) {
		sbuf_free(b);
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	/*
	 * Growth doubles: what is handed over is cut to its text (and NUL), so
	 * a body kept for as long as a role lives costs its length, not up to
	 * twice that.  Without the memory for the copy the grown buffer is
	 * handed over as it is.
	 */
	if (b->sb_cap > b->sb_len + 1 && (p = malloc(b->sb_len + 1)) != NULL) {
		memcpy(p, b->sb_p, b->sb_len + 1);
		wipe_free(b->sb_p, b->sb_cap);
	} else
		p = b->sb_p;
	if (len != NULL)
		*len = b->sb_len;
	b->sb_p = NULL;
	b->sb_len = b->sb_cap = 0;
	return p;
}

void
sbuf_free(struct sbuf *b)
{
	if (b->sb_grow) {
		wipe_free(b->sb_p, b->sb_cap);
		b->sb_p = NULL;
		b->sb_cap = 0;
	}
	b->sb_len = 0;
	b->sb_full = 0;
}
