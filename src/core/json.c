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
 * Arrays are inline: [ "a", "b" ].  The buffer is a growable sbuf with a
 * hard ceiling of JBUF_MAX bytes; going past it, or running out of memory,
 * sets its sticky sb_full, which jbuf_take reports.  Buffers may hold
 * credentials: sbuf wipes old storage whenever it is released.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void
jbuf_init(struct jbuf *j)
{
	static const struct sbuf grown = SBUF_GROWN(JBUF_MAX);

	j->jb_b = grown;
	j->jb_members = 0;
}

void
jbuf_free(struct jbuf *j)
{
	sbuf_free(&j->jb_b);
	jbuf_init(j);
}

char *
jbuf_take(struct jbuf *j, size_t *len)
{
	char *p = sbuf_take(&j->jb_b, len);

	jbuf_init(j);
	return p;
}

static void
jbuf_put(struct jbuf *j, const char *s, size_t n)
{
	sbuf_put(&j->jb_b, s, n);
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
	/* the bytes JSON has a short form for, and its letter */
	static const char short_esc[] = {
		['"'] = '"', ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
		['\b'] = 'b', ['\f'] = 'f',
	};
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
		if (c < sizeof(short_esc) && short_esc[c] != '\0') {
			esc[1] = short_esc[c];
			jbuf_put(j, esc, 2);
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			jbuf_put(j, esc, 6);
		}
	}
	jbuf_put(j, s + run, n - run);
	jbuf_put(j, "\"", 1);
}

void
json_raw(struct jbuf *j, const char *s)
{
	sbuf_puts(&j->jb_b, s);
}

void
json_begin(struct jbuf *j)
{
	jbuf_put(j, "{\n", 2);
	j->jb_members = 0;
}

/* Separator and key: ",\n" between members, then `  "key" : `. */
static void
json_key(struct jbuf *j, const char *key)
{
	if (j->jb_members++ > 0)
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
	if (j->jb_members == 0 && !j->jb_b.sb_full && j->jb_b.sb_len >= 2 &&
	    memcmp(j->jb_b.sb_p + j->jb_b.sb_len - 2, "{\n", 2) == 0) {
		j->jb_b.sb_len -= 1;
		j->jb_b.sb_p[j->jb_b.sb_len] = '\0';
		jbuf_put(j, " }", 2);
		return;
	}
	jbuf_put(j, "\n}", 2);
}
