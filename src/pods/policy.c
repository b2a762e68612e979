/*
 * policy.c: --namespace-restrictions.  A namespace's two annotations,
 * checked and compiled once when they change (pods_ns_set), then asked
 * about a role ARN at each pod event (pods_ns_allows):
 *
 *   iam.amazonaws.com/allowed-roles (kube2iam): a JSON array of globs.
 *     kube2iam completes each pattern as a role (RoleARN: a value not
 *     starting with "arn:" gets the base ARN in front) and matches it with
 *     ryanuber/go-glob against the role's full ARN; go-glob knows only '*'
 *     (any bytes, '/' included).  A value that does not parse allows
 *     nothing (kube2iam logs it and uses an empty list).
 *   iam.amazonaws.com/permitted (kiam): a Go regular expression matched
 *     against the role ARN; kiam's default (strict) compiles "^" + RE + "$".
 *     Here it is ^(RE)$ so that an alternation stays anchored on both
 *     sides.  Go's RE2 syntax is turned into POSIX ERE by pods_re2_to_ere
 *     and compiled with regcomp(REG_EXTENDED | REG_NOSUB).  An empty value
 *     allows nothing (kiam).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/core.h"
#include "pods/pods.h"

#define STR_(x)			#x
#define STR(x)			STR_(x)
#define RE_CLASS_DIGIT		"0-9"
#define RE_CLASS_WORD		"A-Za-z0-9_"
#define RE_CLASS_SPACE		" \t\n\f\r"

int
pods_glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	/* the last '*' seen is retried one byte further on each mismatch */
	while (*s != '\0') {
		if (*p == '*') {
			star = ++p;
			resume = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star;
			s = ++resume;
		} else {
			return 0;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* Output of the translation: bounded appends. */
struct re_out {
	char	*o_buf;
	size_t	 o_len;
	size_t	 o_max;	/* NUL included */
	int	 o_full;
};

static void
re_put(struct re_out *o, const char *s, size_t n)
{
	if (n >= o->o_max - o->o_len) {
		o->o_full = 1;
		return;
	}
	memcpy(o->o_buf + o->o_len, s, n);
	o->o_len += n;
	o->o_buf[o->o_len] = '\0';
}

static void
re_puts(struct re_out *o, const char *s)
{
	re_put(o, s, strlen(s));
}

/* The control byte of \n \t \r \f \v, or 0. */
static char
re_control(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case 'f': return '\f';
	case 'v': return '\v';
	}
	return 0;
}

/* The contents of \d \w \s (lower case), or NULL. */
static const char *
re_class(char c)
{
	switch (c) {
	case 'd': return RE_CLASS_DIGIT;
	case 'w': return RE_CLASS_WORD;
	case 's': return RE_CLASS_SPACE;
	}
	return NULL;
}

static int
re_punct(char c)
{
	return c > 0x20 && c < 0x7f && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'));
}

static const char *const posix_classes[] = {
	"alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
	"space", "upper", "xdigit", NULL
};

/* The bytes of a bracket expression that POSIX wants in given places. */
struct re_bracket {
	int	 b_rbracket, b_dash, b_caret, b_lbracket;
};

/*
 * One item of a bracket expression at re[*i] (not its closing ']'), into
 * body.  0 / -1 with why.
 */
static int
re_bracket_item(const char *re, size_t len, size_t *i, int first, struct re_bracket *b,
    struct re_out *body, int *plain, char *why, size_t whylen)
{
	const char *cls, *end;
	char c = re[*i], ctl;
	size_t k;

	*plain = 0;
	if (c == '[' && *i + 1 < len && re[*i + 1] == ':') {
		end = memmem(re + *i + 2, len - *i - 2, ":]", 2);
		for (k = 0; end != NULL && posix_classes[k] != NULL; k++)
			if ((size_t)(end - re - *i - 2) == strlen(posix_classes[k]) &&
			    memcmp(re + *i + 2, posix_classes[k], strlen(posix_classes[k])) == 0)
				break;
		if (end == NULL || posix_classes[k] == NULL) {
			errf(why, whylen, "a [:class:] POSIX does not know");
			return -1;
		}
		re_put(body, re + *i, (size_t)(end - re - *i) + 2);
		*i = (size_t)(end - re) + 2;
		return 0;
	}
	if (c == '\\') {
		if (*i + 1 >= len) {
			errf(why, whylen, "a trailing backslash");
			return -1;
		}
		c = re[++*i];
		(*i)++;
		if ((cls = re_class(c)) != NULL) {
			re_puts(body, cls);
		} else if ((ctl = re_control(c)) != 0) {
			re_put(body, &ctl, 1);
			*plain = 1;
		} else if (c == ']') {
			b->b_rbracket = 1;
		} else if (c == '-') {
			b->b_dash = 1;
		} else if (c == '^') {
			b->b_caret = 1;
		} else if (c == '[') {
			b->b_lbracket = 1;
		} else if (re_punct(c)) {
			re_put(body, &c, 1);	/* a backslash is itself in POSIX brackets */
			*plain = c != '\\';
		} else {
			errf(why, whylen, "\\%c in brackets has no POSIX form", c);
			return -1;
		}
		return 0;
	}
	(*i)++;
	if (c == ']' && first)
		b->b_rbracket = 1;
	else if (c == '-' && (first || (*i < len && re[*i] == ']')))
		b->b_dash = 1;
	else if (c == '^')
		b->b_caret = 1;
	else if (c == '[')
		b->b_lbracket = 1;
	else if (c == '\0') {
		errf(why, whylen, "a NUL byte");
		return -1;
	} else {
		re_put(body, &c, 1);
		*plain = 1;
	}
	return 0;
}

/* The bracket expression opening at re[*i] == '['.  0 / -1 with why. */
static int
re_bracket(const char *re, size_t len, size_t *i, struct re_out *o, char *why,
    size_t whylen)
{
	char bodybuf[POD_NS_REGEX_MAX];
	struct re_out body = { bodybuf, 0, sizeof(bodybuf), 0 };
	struct re_bracket b = { 0, 0, 0, 0 };
	int neg = 0, first = 1, plain = 0, last_plain = 0;

	bodybuf[0] = '\0';
	(*i)++;
	if (*i < len && re[*i] == '^') {
		neg = 1;
		(*i)++;
	}
	while (*i < len && (first || re[*i] != ']')) {
		if (!first && re[*i] == '-' && *i + 1 < len && re[*i + 1] != ']') {
			/* a range: both ends plain bytes */
			if (!last_plain || re[*i + 1] == '\\' || re[*i + 1] == '[' ||
			    re[*i + 1] == '\0') {
				errf(why, whylen, "a range in brackets with an escaped end");
				return -1;
			}
			re_put(&body, "-", 1);
			re_put(&body, re + *i + 1, 1);
			*i += 2;
			last_plain = 0;
			continue;
		}
		if (re_bracket_item(re, len, i, first, &b, &body, &plain, why, whylen) == -1)
			return -1;
		last_plain = plain;
		first = 0;
	}
	if (*i >= len) {
		errf(why, whylen, "a [ without its ]");
		return -1;
	}
	(*i)++;
	if (!neg && body.o_len == 0 && !b.b_rbracket && !b.b_lbracket) {
		/* only ^ and -: "[^" would negate, so an alternation */
		re_puts(o, b.b_dash ? "(\\^|-)" : "\\^");
		return 0;
	}
	re_puts(o, neg ? "[^" : "[");
	if (b.b_rbracket)
		re_puts(o, "]");
	re_put(o, bodybuf, body.o_len);
	if (b.b_lbracket)
		re_puts(o, "[");
	if (b.b_caret)
		re_puts(o, "^");
	if (b.b_dash)
		re_puts(o, "-");
	re_puts(o, "]");
	if (body.o_full)
		o->o_full = 1;
	return 0;
}

/*
 * A counted repeat {n}, {n,}, {n,m} at re[i]: its length, and in *most the
 * copies it makes (n + 1 for {n,}); 0 when it is none (RE2: a literal '{').
 */
static size_t
re_repeat(const char *re, size_t len, size_t i, unsigned long *most)
{
	unsigned long n = 0, m = 0;
	size_t j = i + 1, d;

	for (d = 0; j < len && re[j] >= '0' && re[j] <= '9'; j++, d++)
		if (n <= POD_RE_REPEAT_MAX)
			n = n * 10 + (unsigned long)(re[j] - '0');
	if (d == 0)
		return 0;
	m = n;
	if (j < len && re[j] == ',') {
		m = n + 1;
		for (j++, d = 0; j < len && re[j] >= '0' && re[j] <= '9'; j++, d++)
			if ((d == 0 ? (m = 0) : m) <= POD_RE_REPEAT_MAX)
				m = m * 10 + (unsigned long)(re[j] - '0');
	}
	*most = m > n ? m : n;
	return j < len && re[j] == '}' ? j + 1 - i : 0;
}

/*
 * What regcomp will build, counted: glibc copies a repeated atom for each
 * of {n,m}'s copies and once more for '+', so stacked and nested repeats
 * grow it exponentially ("()++++..." exhausts memory).  RE2 refuses a
 * repeat of a repeat and counts over 1000; here too, and the atoms that the
 * copies make are capped at POD_RE_ATOMS_MAX.
 */
struct re_size {
	unsigned long	 z_total;	/* atoms so far, copies counted */
	unsigned long	 z_atom;	/* z_total where the last atom (or group) began */
	int		 z_have_atom;	/* a repeat may follow */
	int		 z_repeated;	/* the last thing was a repeat */
	unsigned long	 z_open[POD_RE_DEPTH_MAX];	/* z_total at each open '(' */
	size_t		 z_depth;
};

/* An atom, a '(' (open 1) or a ')' (open -1), or '|' (open 2).  0 / -1 with why. */
static int
re_size_step(struct re_size *z, int open, char *why, size_t whylen)
{
	if (open == 1) {
		if (z->z_depth >= POD_RE_DEPTH_MAX) {
			errf(why, whylen, "groups nested deeper than %d", POD_RE_DEPTH_MAX);
			return -1;
		}
		z->z_open[z->z_depth++] = z->z_total;
		z->z_have_atom = 0;
	} else if (open == 2) {
		z->z_have_atom = 0;
	} else {
		z->z_atom = open == -1 && z->z_depth > 0 ? z->z_open[--z->z_depth] : z->z_total;
		z->z_total += open == 0;
		z->z_have_atom = 1;
	}
	z->z_repeated = 0;
	return 0;
}

/* A repeat making most copies of the last atom.  0 / -1 with why. */
static int
re_size_repeat(struct re_size *z, unsigned long most, char *why, size_t whylen)
{
	unsigned long w = z->z_total - z->z_atom;

	if (!z->z_have_atom || z->z_repeated) {
		errf(why, whylen, "a repeat of nothing or of a repeat (RE2 refuses it too)");
		return -1;
	}
	if (most > POD_RE_REPEAT_MAX) {
		errf(why, whylen, "a repeat count over %d (RE2's limit)", POD_RE_REPEAT_MAX);
		return -1;
	}
	if (most > 1 && w > (POD_RE_ATOMS_MAX - z->z_atom) / most) {
		errf(why, whylen, "more than %d atoms once its repeats are expanded",
		    POD_RE_ATOMS_MAX);
		return -1;
	}
	if (most > 1)
		z->z_total = z->z_atom + w * most;
	z->z_repeated = 1;
	return 0;
}

/* One escape outside brackets at re[*i] == '\\'.  0 / -1 with why. */
static int
re_escape(const char *re, size_t len, size_t *i, struct re_out *o, char *why,
    size_t whylen)
{
	const char *cls;
	char c, ctl;

	if (*i + 1 >= len) {
		errf(why, whylen, "a trailing backslash");
		return -1;
	}
	c = re[*i + 1];
	*i += 2;
	if ((cls = re_class((char)(c | 0x20))) != NULL && (c | 0x20) != c) {
		re_puts(o, "[^");
		re_puts(o, cls);
		re_puts(o, "]");
	} else if (cls != NULL) {
		re_puts(o, "[");
		re_puts(o, cls);
		re_puts(o, "]");
	} else if ((ctl = re_control(c)) != 0) {
		re_put(o, &ctl, 1);
	} else if (re_punct(c)) {
		re_put(o, re + *i - 2, 2);
	} else {
		errf(why, whylen, "\\%c has no POSIX form", c);
		return -1;
	}
	return 0;
}

/* One step of the translation at re[*i], not an escape nor a bracket.  0 / -1 with why. */
static int
re_step(const char *re, size_t len, size_t *i, struct re_out *o, struct re_size *z,
    char *why, size_t whylen)
{
	unsigned long most;
	size_t n;
	char c = re[*i];

	if (c == '(' && *i + 1 < len && re[*i + 1] == '?' && (*i + 2 >= len || re[*i + 2] != ':')) {
		errf(why, whylen, "(?flags) and named groups have no POSIX form");
		return -1;
	}
	if (c == '{' && (n = re_repeat(re, len, *i, &most)) > 0) {
		if (re_size_repeat(z, most, why, whylen) == -1)
			return -1;
		re_put(o, re + *i, n);
		*i += n;
	} else if (c == '*' || c == '+' || c == '?') {
		if (re_size_repeat(z, c == '+' ? 2 : 1, why, whylen) == -1)
			return -1;
		re_put(o, &c, 1);
		(*i)++;
	} else {
		if (re_size_step(z, c == '(' ? 1 : c == ')' ? -1 : c == '|' ? 2 : 0, why,
		    whylen) == -1)
			return -1;
		if (c == '{' || c == '}')
			re_puts(o, c == '{' ? "\\{" : "\\}");	/* no repeat: literal */
		else
			re_put(o, &c, 1);
		*i += c == '(' && *i + 1 < len && re[*i + 1] == '?' ? 3 : 1;	/* (?: is ( */
		return 0;
	}
	if (*i < len && re[*i] == '?')
		(*i)++;	/* lazy: matches or not alike */
	return 0;
}

int
pods_re2_to_ere(const char *re, size_t len, char *out, size_t outmax, char *why,
    size_t whylen)
{
	struct re_out o = { out, 0, outmax, 0 };
	struct re_size z;
	size_t i = 0;
	int rc;

	if (outmax == 0)
		return -1;
	memset(&z, 0, sizeof(z));
	out[0] = '\0';
	while (i < len && !o.o_full) {
		if (re[i] == '\0') {
			errf(why, whylen, "a NUL byte");
			return -1;
		}
		if (re[i] == '\\' || re[i] == '[') {
			rc = re[i] == '[' ? re_bracket(re, len, &i, &o, why, whylen) :
			    re_escape(re, len, &i, &o, why, whylen);
			if (rc == -1 || re_size_step(&z, 0, why, whylen) == -1)
				return -1;
		} else if (re_step(re, len, &i, &o, &z, why, whylen) == -1) {
			return -1;
		}
	}
	if (o.o_full) {
		errf(why, whylen, "longer than %zu bytes once translated", outmax - 1);
		return -1;
	}
	return 0;
}

void
pods_ns_free(struct pod_ns *np)
{
	free(np->pn_globs);
	if (np->pn_re_set)
		regfree(&np->pn_re);
	memset(np, 0, sizeof(*np));
}

/* Append ("; ") "which: msg" to pn_fault. */
static void
ns_fault(struct pod_ns *np, const char *which, const char *msg)
{
	size_t n = strlen(np->pn_fault);

	if (n > 0 && n + 2 < sizeof(np->pn_fault)) {
		memcpy(np->pn_fault + n, "; ", 3);
		n += 2;
	}
	snprintf(np->pn_fault + n, sizeof(np->pn_fault) - n, "%s: %s", which, msg);
}

/* allowed-roles into pn_globs.  0; -1 out of memory; a bad value: a fault. */
static int
ns_globs(struct pod_ns *np, const struct pod_opts *o, const char *v, size_t len)
{
	json_error_t jerr;
	json_t *arr, *e;
	const char *s, *base = o != NULL ? o->po_base : "";
	size_t i, total = 0, at = 0, n, blen = strlen(base);

	np->pn_allowed_set = 1;
	if (len > POD_NS_ANNOTATION_MAX) {
		ns_fault(np, "allowed-roles", "too long");
		return 0;
	}
	arr = json_loadb(v, len, 0, &jerr);
	if (arr == NULL || !json_is_array(arr) || json_array_size(arr) > POD_NS_GLOBS_MAX) {
		ns_fault(np, "allowed-roles", arr == NULL ? jerr.text :
		    "not a JSON array of at most " STR(POD_NS_GLOBS_MAX) " strings");
		json_decref(arr);
		return 0;
	}
	json_array_foreach(arr, i, e) {
		if (!json_is_string(e)) {	/* jansson refuses \u0000 without JSON_ALLOW_NUL */
			ns_fault(np, "allowed-roles", "an element is not a string");
			json_decref(arr);
			return 0;
		}
		total += json_string_length(e) + blen + 1;
	}
	if ((np->pn_globs = malloc(total + 1)) == NULL) {
		json_decref(arr);
		return -1;
	}
	json_array_foreach(arr, i, e) {
		s = json_string_value(e);
		n = json_string_length(e);
		if (!(n >= 4 && strncasecmp(s, "arn:", 4) == 0)) {
			if (n > 0 && s[0] == '/') {
				s++;
				n--;
			}
			memcpy(np->pn_globs + at, base, blen);
			at += blen;
		}
		memcpy(np->pn_globs + at, s, n);
		at += n;
		np->pn_globs[at++] = '\0';
	}
	np->pn_nglobs = json_array_size(arr);
	json_decref(arr);
	return 0;
}

/* permitted into pn_re; a bad value: a fault. */
static void
ns_regex(struct pod_ns *np, const char *v, size_t len)
{
	char ere[POD_NS_REGEX_MAX + 4], why[POD_REASON_MAX];
	int rc;

	if (len == 0) {
		ns_fault(np, "permitted", "empty");
		return;
	}
	if (len > POD_NS_ANNOTATION_MAX) {
		ns_fault(np, "permitted", "too long");
		return;
	}
	memcpy(ere, "^(", 2);
	if (pods_re2_to_ere(v, len, ere + 2, POD_NS_REGEX_MAX, why, sizeof(why)) == -1) {
		ns_fault(np, "permitted", why);
		return;
	}
	strcat(ere, ")$");
	if ((rc = regcomp(&np->pn_re, ere, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, &np->pn_re, why, sizeof(why));
		ns_fault(np, "permitted", why);
		return;
	}
	np->pn_re_set = 1;
}

int
pods_ns_set(struct pod_ns *np, const struct pod_opts *o, const char *name, size_t namelen,
    const char *allowed, size_t allowedlen, const char *permitted, size_t permittedlen)
{
	pods_ns_free(np);
	if (name == NULL)
		namelen = 0;
	if (namelen > POD_NAMESPACE_MAX)
		namelen = POD_NAMESPACE_MAX;
	if (namelen > 0)
		memcpy(np->pn_name, name, namelen);
	np->pn_name[namelen] = '\0';
	if (allowed != NULL && ns_globs(np, o, allowed, allowedlen) == -1) {
		pods_ns_free(np);
		return -1;
	}
	if (permitted != NULL)
		ns_regex(np, permitted, permittedlen);
	return 0;
}

int
pods_ns_allows(const struct pod_ns *np, const char *arn, char *why, size_t whylen)
{
	const char *g = np->pn_globs;
	size_t i;

	for (i = 0; i < np->pn_nglobs; i++, g += strlen(g) + 1)
		if (pods_glob_match(g, arn))
			return 1;
	if (np->pn_re_set && regexec(&np->pn_re, arn, 0, NULL, 0) == 0)
		return 1;
	if (!np->pn_allowed_set && !np->pn_re_set && np->pn_fault[0] == '\0')
		errf(why, whylen, "namespace %s has neither iam.amazonaws.com/allowed-roles "
		    "nor iam.amazonaws.com/permitted", np->pn_name);
	else if (np->pn_fault[0] != '\0')
		errf(why, whylen, "namespace %s allows it by no rule (%s)", np->pn_name,
		    np->pn_fault);
	else
		errf(why, whylen, "namespace %s allows it by no rule (%s, %s)", np->pn_name,
		    !np->pn_allowed_set ? "no allowed-roles" : np->pn_nglobs == 0 ?
		    "allowed-roles is empty" : "no allowed-roles pattern matches",
		    np->pn_re_set ? "permitted does not match" : "no permitted");
	return 0;
}
