/*
 * json.c: the IMDS pretty-printer (contract §2.7).
 *
 * IMDS prints its JSON documents the way Jackson's default pretty-printer
 * does, and clients have been checked against those bytes, so no JSON
 * library's output will do.  The layout, for one flat object:
 *
 *	{\n
 *	  "Key" : "value",\n
 *	  "Other" : null\n
 *	}			<- no LF after the brace
 *
 * Arrays are inline: [ "a", "b" ].  The buffer has a hard ceiling of
 * JBUF_MAX bytes; going past it, or running out of memory, sets a sticky
 * error that jbuf_take reports.  Buffers may hold credentials, so old
 * storage is wiped whenever it is released.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define JBUF_INIT	256	/* bytes of the first allocation */

void
jbuf_init(struct jbuf *j)
{
	memset(j, 0, sizeof(*j));
}

void
jbuf_free(struct jbuf *j)
{
	wipe_free(j->j_p, j->j_cap);
	jbuf_init(j);
}

/* Make room for n more bytes plus the NUL; 0 / -1 (and j_err set). */
static int
jbuf_grow(struct jbuf *j, size_t n)
{
	size_t need, cap;
	char *np;

	if (j->j_err)
		return -1;
	if (n > JBUF_MAX - j->j_len) {
		j->j_err = 1;
		return -1;
	}
	need = j->j_len + n + 1;
	if (need <= j->j_cap)
		return 0;
	cap = j->j_cap ? j->j_cap : JBUF_INIT;
	while (cap < need)
		cap *= 2;
	if (cap > JBUF_MAX + 1)
		cap = JBUF_MAX + 1;
	if ((np = wipe_grow(j->j_p, j->j_p != NULL ? j->j_len + 1 : 0, j->j_cap, cap)) == NULL) {
		j->j_err = 1;
		return -1;
	}
	if (j->j_p == NULL)
		np[0] = '\0';
	j->j_p = np;
	j->j_cap = cap;
	return 0;
}

static void
jbuf_put(struct jbuf *j, const char *s, size_t n)
{
	if (jbuf_grow(j, n) == -1)
		return;
	memcpy(j->j_p + j->j_len, s, n);
	j->j_len += n;
	j->j_p[j->j_len] = '\0';
}

static void
jbuf_puts(struct jbuf *j, const char *s)
{
	jbuf_put(j, s, strlen(s));
}

char *
jbuf_take(struct jbuf *j, size_t *len)
{
	char *p;

	if (!j->j_err && j->j_p == NULL)
		jbuf_grow(j, 0);	/* nothing written: hand over "" */
	if (j->j_err) {
		jbuf_free(j);
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	p = j->j_p;
	if (len != NULL)
		*len = j->j_len;
	jbuf_init(j);
	return p;
}

/*
 * §2.7 rule 5: escape '"', '\\' and the control characters (short forms
 * where JSON has them, \u00XX otherwise, upper-case hex as Jackson writes
 * it).  '/' stays as is; bytes >= 0x80 pass through (UTF-8 stays UTF-8).
 */
void
json_quote(struct jbuf *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;
	char esc[7];
	unsigned char c;

	jbuf_put(j, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jbuf_put(j, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			jbuf_put(j, esc, 6);
			continue;
		}
		jbuf_put(j, esc, 2);
	}
	jbuf_put(j, s + run, n - run);
	jbuf_put(j, "\"", 1);
}

void
json_raw(struct jbuf *j, const char *s)
{
	jbuf_puts(j, s);
}

void
json_begin(struct jbuf *j)
{
	jbuf_put(j, "{\n", 2);
	j->j_members = 0;
}

/* Separator and key: ",\n" between members, then `  "key" : `. */
static void
json_key(struct jbuf *j, const char *key)
{
	if (j->j_members++ > 0)
		jbuf_put(j, ",\n", 2);
	jbuf_put(j, "  ", 2);
	json_quote(j, key, strlen(key));
	jbuf_put(j, " : ", 3);
}

void
json_str(struct jbuf *j, const char *key, const char *val)
{
	if (val == NULL) {
		json_null_member(j, key);
		return;
	}
	json_key(j, key);
	json_quote(j, val, strlen(val));
}

void
json_null_member(struct jbuf *j, const char *key)
{
	json_key(j, key);
	jbuf_put(j, "null", 4);
}

void
json_strarray(struct jbuf *j, const char *key, const char *const *vals, size_t n)
{
	size_t i;

	if (n == 0) {
		json_null_member(j, key);
		return;
	}
	json_key(j, key);
	jbuf_put(j, "[ ", 2);
	for (i = 0; i < n; i++) {
		if (i > 0)
			jbuf_put(j, ", ", 2);
		json_quote(j, vals[i], strlen(vals[i]));
	}
	jbuf_put(j, " ]", 2);
}

void
json_end(struct jbuf *j)
{
	/* Jackson prints an empty object as "{ }". */
	if (j->j_members == 0 && !j->j_err && j->j_len >= 2 &&
	    memcmp(j->j_p + j->j_len - 2, "{\n", 2) == 0) {
		j->j_len -= 1;
		j->j_p[j->j_len] = '\0';
		jbuf_puts(j, " }");
		return;
	}
	jbuf_put(j, "\n}", 2);
}
