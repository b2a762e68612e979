/*
 * config_where.c: where a value is in the text of a config file, for the
 * "FILE:LINE:COL:" of config.c's messages.  jansson keeps no positions per
 * value, so the value is found again in text that jansson has already
 * accepted: the walk only has to tell strings from structure, and every
 * step is bounded by len.
 */
#include <stddef.h>
#include <string.h>

#include "imds/internal.h"

#define JS_INDEX_DIGITS_MAX	9	/* digits of an array index in a message's path */

static size_t
js_ws(const char *t, size_t len, size_t i)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
		i++;
	return i;
}

/* Past the string opening at t[i] == '"'. */
static size_t
js_string_end(const char *t, size_t len, size_t i)
{
	for (i++; i < len && t[i] != '"'; i++)
		if (t[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

/* Past the value starting at t[i]: a scalar, or a whole object or array. */
static size_t
js_value_end(const char *t, size_t len, size_t i)
{
	size_t depth = 0;

	while (i < len) {
		if (t[i] == '"') {
			i = js_string_end(t, len, i);
		} else if (t[i] == '{' || t[i] == '[') {
			depth++;
			i++;
		} else if (t[i] == '}' || t[i] == ']') {
			if (depth == 0)
				return i;	/* a scalar's end */
			i++;
			if (--depth == 0)
				return i;
		} else if (depth == 0 && (t[i] == ',' || t[i] == ' ' || t[i] == '\t' ||
		    t[i] == '\n' || t[i] == '\r')) {
			return i;
		} else {
			i++;
		}
	}
	return len;
}

/*
 * In the object opening at t[i], the offset of the member named name (its
 * key's opening quote), and in *val where its value starts.  (size_t)-1 if
 * there is none as written (a key spelt with escapes, say).
 */
size_t
js_member(const char *t, size_t len, size_t i, const char *name, size_t nlen, size_t *val)
{
	size_t k, n;

	if (i >= len || t[i] != '{')
		return (size_t)-1;
	for (i = js_ws(t, len, i + 1); i < len && t[i] == '"';) {
		k = i;
		i = js_string_end(t, len, i);
		n = i - k - 2;		/* the key between its quotes */
		i = js_ws(t, len, i);
		if (i < len && t[i] == ':')
			i = js_ws(t, len, i + 1);
		if (n == nlen && memcmp(t + k + 1, name, nlen) == 0) {
			*val = i;
			return k;
		}
		i = js_ws(t, len, js_value_end(t, len, i));
		if (i < len && t[i] == ',')
			i = js_ws(t, len, i + 1);
	}
	return (size_t)-1;
}

/* In the array opening at t[i], the offset of element idx, or (size_t)-1. */
static size_t
js_element(const char *t, size_t len, size_t i, size_t idx)
{
	if (i >= len || t[i] != '[')
		return (size_t)-1;
	for (i = js_ws(t, len, i + 1); idx > 0 && i < len && t[i] != ']'; idx--) {
		i = js_ws(t, len, js_value_end(t, len, i));
		if (i < len && t[i] == ',')
			i = js_ws(t, len, i + 1);
	}
	return i < len && t[i] != ']' ? i : (size_t)-1;
}

/*
 * The offset of what path ("options/http-tokens", "scenario/events/1")
 * names, a member's key or an array element, and in *val where its value
 * starts; (size_t)-1 if it is not found.
 */
size_t
js_locate(const char *t, size_t len, const char *path, size_t plen, size_t *val)
{
	const char *end = path + plen, *slash;
	size_t i = js_ws(t, len, 0), at = (size_t)-1, seg, idx, d;

	while (path < end) {
		slash = memchr(path, '/', (size_t)(end - path));
		seg = (size_t)((slash != NULL ? slash : end) - path);
		if (i < len && t[i] == '[') {
			if (seg == 0 || seg > JS_INDEX_DIGITS_MAX || strspn(path, "0123456789") < seg)
				return (size_t)-1;
			for (idx = 0, d = 0; d < seg; d++)
				idx = idx * 10 + (size_t)(path[d] - '0');
			i = at = js_element(t, len, i, idx);
		} else {
			at = js_member(t, len, i, path, seg, &i);
		}
		if (at == (size_t)-1)
			return at;
		path += seg + (slash != NULL);
	}
	*val = i;
	return at;
}
