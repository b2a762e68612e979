/*
 * awsconf.c: the AWS CLI's shared files, ~/.aws/config and ~/.aws/credentials.
 *
 * Our own reader (Debian's inih cuts lines at 200 bytes; session tokens are
 * longer).  The grammar is that of Python's configparser.RawConfigParser with
 * its defaults, which is what botocore (botocore/configloader.py,
 * raw_config_parse) uses, and the profile naming of botocore's
 * build_profile_map and Session's merge of the credentials file:
 *
 *   - Lines end in LF, CRLF or a lone CR (Python reads text files with
 *     universal newlines).  A final line without an end is fine.  A NUL byte
 *     is an error.  A UTF-8 BOM at the very start is skipped (Python would
 *     keep it and then fail on the first header; skipping is kinder).
 *   - A line whose first non-blank character is '#' or ';' is a comment.
 *     There are no inline comments: "key = abc # x" has the value "abc # x".
 *   - "[name]" starts a section; whitespace inside the brackets is trimmed
 *     (configparser keeps it; we trim, as the issue asks).  After ']' only
 *     whitespace or a comment may follow (configparser silently ignores any
 *     text there; we refuse it).  A '[' without ']' is an error here.
 *   - "key = value" or "key: value": the first '=' or ':' separates; key and
 *     value are trimmed; an empty value is allowed.  Keys are lower-cased
 *     (configparser's optionxform, which botocore does not override), so
 *     "AWS_Access_Key_ID" is "aws_access_key_id" and is a duplicate of it.
 *     Section names keep their case.
 *   - A line indented deeper than the key line before it continues that
 *     key's value (configparser).  Blank lines inside are kept, trailing ones
 *     dropped; the lines are joined with LF, each trimmed.  When the key's own
 *     value was empty ("s3 =" followed by indented "k = v" lines), botocore
 *     parses the block as a sub-section: every non-blank line must hold '='.
 *     We check that, keep the parent key with the value "" and store none of
 *     the indented keys: they are never keys of the profile.
 *   - A duplicated key in one section, or a duplicated section in one file,
 *     is an error (configparser's strict mode, botocore's default).
 *   - configparser's "[DEFAULT]" section is not a section: its keys are
 *     inherited by every section of the same file that lacks them.  It may
 *     appear once (configparser would merge repeats; we refuse them).
 *
 * Profiles (build_profile_map):
 *   - config file: "[default]" is the profile "default"; "[profile NAME]"
 *     (one or more blanks after "profile") is NAME, so "[profile default]"
 *     is "default" too.  botocore splits the header with shlex and keeps it
 *     when there are exactly two words; we accept NAME without blanks,
 *     quotes or backslashes, or NAME wholly inside '...' or "..." (no
 *     backslash in "..."), and skip anything else like botocore skips a
 *     header that is not two words.  Every other section ("[sso-session x]",
 *     "[services x]", "[plugins]", "[dev]") is parsed but is not a profile.
 *   - When two sections name the same profile ("[default]" and
 *     "[profile default]"), botocore assigns them in file order into one
 *     dict, so the LATER section replaces the earlier one wholesale (no
 *     merge of keys).  We do the same.
 *   - credentials file: every "[name]" is the profile "name", literally
 *     ("[profile dev]" there is the profile "profile dev").
 *   - awsconf_get: the credentials file's keys win over the config file's
 *     for the same profile (botocore's Session updates the config profile's
 *     dict with the credentials profile's).
 *
 * Where we knowingly differ from botocore: a header whose name does not
 * start with "profile" plus a blank is not a profile (botocore's
 * startswith("profile") + shlex makes "[profiles x]" the profile "x");
 * names longer than AWSCONF_PROFILE_MAX bytes, files with more than
 * AC_KV_MAX keys, and a file that is a directory or unreadable are errors
 * (botocore skips what os.path.isfile rejects); only a leading "~" or "~/"
 * of AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE is expanded (no
 * "~user", no $VAR); bytes are not checked to be UTF-8.
 *
 * Values may be secrets: every value buffer is wiped before it is freed, and
 * no value is ever put into an error message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds/creds.h"

#define AC_BOM			"\xef\xbb\xbf"	/* UTF-8 byte order mark */
#define AC_BOM_LEN		3		/* bytes */
#define AC_PROFILE_WORD		"profile"	/* config file: "[profile NAME]" */
#define AC_PROFILE_WORD_LEN	7		/* bytes */
#define AC_DEFAULT_PROFILE	"default"
#define AC_DEFAULTS_SECTION	"DEFAULT"	/* configparser's default_section */
#define AC_GROW_FIRST		8		/* entries: first size of a growing array */
#define AC_HASH_FIRST		64		/* slots: first size of the name table (power of 2) */
#define AC_KV_MAX		65536		/* keys in one file, counting [DEFAULT]'s copies */
#define AC_HSEC			SIZE_MAX	/* ac_hent.he_sec of a section name */
#define AC_ENV_CONFIG		"AWS_CONFIG_FILE"
#define AC_ENV_CREDS		"AWS_SHARED_CREDENTIALS_FILE"
#define AC_HOME_CONFIG		"/.aws/config"
#define AC_HOME_CREDS		"/.aws/credentials"


/*
 * The names seen so far, to find duplicates in constant time: a 1 MiB file
 * of "k1=" lines is some 130000 keys, and a linear search per key took
 * half a minute.  Open addressing; names are borrowed from the sections.
 */
struct ac_hent {
	const char	*he_name;	/* NULL: a free slot */
	size_t		 he_sec;	/* section index, or AC_HSEC for a section name */
	unsigned	 he_line;
};

struct ac_hash {
	struct ac_hent	*h_e;
	size_t		 h_cap;		/* slots, a power of 2 */
	size_t		 h_n;		/* used slots, at most half of h_cap */
};

struct ac_parse {
	const char	*ap_path;
	int		 ap_is_config;
	char		*ap_err;
	size_t		 ap_errlen;
	unsigned	 ap_line;
	struct aws_section *ap_sec;
	size_t		 ap_nsec;
	size_t		 ap_seccap;
	size_t		 ap_kvcap;	/* capacity of the last section's sec_kv */
	int		 ap_inkey;	/* the last kv's value is open */
	int		 ap_nested;	/* ... and began empty: a sub-section may follow */
	size_t		 ap_indent;	/* indentation of the last header or key line */
	size_t		 ap_blanks;	/* blank lines pending inside the open value */
	size_t		 ap_nkv;	/* keys in the file so far */
	struct sbuf	 ap_val;	/* SBUF_GROWN(AWSCONF_FILE_MAX): capped from birth (habit 4) */
	struct ac_hash	 ap_names;
};

static int
ac_is_ws(unsigned char c)
{
	/* Python's str.strip() and \S, restricted to ASCII; CR and LF end lines */
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' ||
	    (c >= 0x1c && c <= 0x1f);
}

static struct slice
ac_trim(const char *p, size_t n)
{
	struct slice s;

	while (n > 0 && ac_is_ws((unsigned char)p[0])) {
		p++;
		n--;
	}
	while (n > 0 && ac_is_ws((unsigned char)p[n - 1]))
		n--;
	s.p = p;
	s.n = n;
	return s;
}

/* ---- name table ------------------------------------------------------- */

static size_t
ac_hash_slot(const struct ac_hash *h, size_t sec, const char *name)
{
	uint64_t v = 14695981039346656037ULL;	/* FNV-1a */
	size_t i, mask = h->h_cap - 1;
	const char *c;

	for (i = 0; i < sizeof(sec); i++) {
		v ^= (sec >> (i * 8)) & 0xff;
		v *= 1099511628211ULL;
	}
	for (c = name; *c != '\0'; c++) {
		v ^= (unsigned char)*c;
		v *= 1099511628211ULL;
	}
	for (i = (size_t)v & mask; h->h_e[i].he_name != NULL; i = (i + 1) & mask)
		if (h->h_e[i].he_sec == sec && strcmp(h->h_e[i].he_name, name) == 0)
			break;
	return i;
}

/* The entry for (sec, name), or NULL. */
static struct ac_hent *
ac_hash_find(const struct ac_hash *h, size_t sec, const char *name)
{
	size_t i;

	if (h->h_cap == 0)
		return NULL;
	i = ac_hash_slot(h, sec, name);
	return h->h_e[i].he_name != NULL ? &h->h_e[i] : NULL;
}

/* Add (sec, name), which is not there yet.  0 / -1 (ENOMEM). */
static int
ac_hash_add(struct ac_hash *h, size_t sec, const char *name, unsigned line)
{
	struct ac_hash nh;
	size_t i, j;

	if ((h->h_n + 1) * 2 > h->h_cap) {
		nh.h_cap = h->h_cap > 0 ? h->h_cap * 2 : AC_HASH_FIRST;
		nh.h_n = 0;
		if ((nh.h_e = calloc(nh.h_cap, sizeof(*nh.h_e))) == NULL)
			return -1;
		for (i = 0; i < h->h_cap; i++) {
			if (h->h_e[i].he_name == NULL)
				continue;
			j = ac_hash_slot(&nh, h->h_e[i].he_sec, h->h_e[i].he_name);
			nh.h_e[j] = h->h_e[i];
			nh.h_n++;
		}
		free(h->h_e);
		*h = nh;
	}
	i = ac_hash_slot(h, sec, name);
	h->h_e[i].he_name = name;
	h->h_e[i].he_sec = sec;
	h->h_e[i].he_line = line;
	h->h_n++;
	return 0;
}

static void
ac_hash_free(struct ac_hash *h)
{
	free(h->h_e);
	h->h_e = NULL;
	h->h_cap = 0;
	h->h_n = 0;
}

/* ---- value buffer ------------------------------------------------------ */

/* Append to the value.  0 / -1 with errno (EFBIG past the ceiling). */
static int
ac_vbuf_add(struct sbuf *b, const char *p, size_t n)
{
	if (n > b->sb_max - b->sb_len) {
		errno = EFBIG;
		return -1;
	}
	sbuf_put(b, n > 0 ? p : "", n);	/* p may be NULL when n is 0 */
	return b->sb_full ? -1 : 0;
}

/* Hand the value over as an exact-size string; the buffer is left empty. */
static char *
ac_vbuf_take(struct sbuf *b)
{
	char *s;

	s = mem_strdup(b->sb_p != NULL ? b->sb_p : "", b->sb_len);
	sbuf_free(b);
	return s;
}

/* ---- sections ------------------------------------------------------------ */

static void
ac_kv_clear(struct aws_kv *kv)
{
	free(kv->kv_key);
	kv->kv_key = NULL;
	if (kv->kv_val != NULL) {
		wipe_free(kv->kv_val, strlen(kv->kv_val));
		kv->kv_val = NULL;
	}
}

static void
ac_section_clear(struct aws_section *s)
{
	size_t i;

	for (i = 0; i < s->sec_nkv; i++)
		ac_kv_clear(&s->sec_kv[i]);
	free(s->sec_kv);
	s->sec_kv = NULL;
	s->sec_nkv = 0;
	free(s->sec_profile);
	s->sec_profile = NULL;
}

void
awsconf_sections_free(struct aws_section *s, size_t n)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < n; i++)
		ac_section_clear(&s[i]);
	free(s);
}

static const struct aws_kv *
ac_find_kv(const struct aws_section *s, const char *key)
{
	struct slice k;
	size_t i;

	k.p = key;
	k.n = strlen(key);
	for (i = 0; i < s->sec_nkv; i++)
		if (slice_ieq(k, s->sec_kv[i].kv_key))
			return &s->sec_kv[i];
	return NULL;
}

static const struct aws_section *
ac_find_section(const struct aws_section *s, size_t n, const char *profile)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strcmp(s[i].sec_profile, profile) == 0)
			return &s[i];
	return NULL;
}

/* ---- the parser -------------------------------------------------------- */

static int	ac_fail(struct ac_parse *ap, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static int
ac_fail(struct ac_parse *ap, const char *fmt, ...)
{
	char msg[ERRBUF_LEN];
	va_list va;

	va_start(va, fmt);
	vsnprintf(msg, sizeof(msg), fmt, va);
	va_end(va);
	/* "PATH:LINE: message" (LINE 0: "PATH: message") */
	if (ap->ap_line > 0)
		errf(ap->ap_err, ap->ap_errlen, "%s:%u: %s", ap->ap_path, ap->ap_line, msg);
	else
		errf(ap->ap_err, ap->ap_errlen, "%s: %s", ap->ap_path, msg);
	return -1;
}

static int
ac_oom(struct ac_parse *ap)
{
	return ac_fail(ap, "%s", strerror(errno != 0 ? errno : ENOMEM));
}

static struct aws_section *
ac_last(struct ac_parse *ap)
{
	return &ap->ap_sec[ap->ap_nsec - 1];
}

/* End the open value, if any: the last kv gets it. */
static int
ac_close_key(struct ac_parse *ap)
{
	struct aws_section *s;
	char *v;

	if (!ap->ap_inkey)
		return 0;
	ap->ap_inkey = 0;
	ap->ap_blanks = 0;
	if ((v = ac_vbuf_take(&ap->ap_val)) == NULL)
		return ac_oom(ap);
	s = ac_last(ap);
	s->sec_kv[s->sec_nkv - 1].kv_val = v;
	return 0;
}

/* A line indented deeper than the open key's line. */
static int
ac_continuation(struct ac_parse *ap, struct slice t)
{
	struct aws_section *s = ac_last(ap);

	if (ap->ap_nested) {
		/* botocore's _parse_nested splits each line at its first '=' */
		if (memchr(t.p, '=', t.n) == NULL)
			return ac_fail(ap, "malformed line in sub-section '%s' of [%s] "
			    "(expected key = value)", s->sec_kv[s->sec_nkv - 1].kv_key,
			    s->sec_profile);
		return 0;
	}
	for (; ap->ap_blanks > 0; ap->ap_blanks--)
		if (ac_vbuf_add(&ap->ap_val, "\n", 1) == -1)
			return ac_oom(ap);
	if (ac_vbuf_add(&ap->ap_val, "\n", 1) == -1 ||
	    ac_vbuf_add(&ap->ap_val, t.p, t.n) == -1)
		return ac_oom(ap);
	return 0;
}

static int
ac_header(struct ac_parse *ap, struct slice t)
{
	const char *close;
	struct slice name, rest;
	struct aws_section *s, *ns;
	const struct ac_hent *he;

	if ((close = memchr(t.p, ']', t.n)) == NULL)
		return ac_fail(ap, "malformed section header (no ']')");
	name = ac_trim(t.p + 1, (size_t)(close - t.p - 1));
	rest = ac_trim(close + 1, (size_t)(t.p + t.n - close - 1));
	if (rest.n > 0 && rest.p[0] != '#' && rest.p[0] != ';')
		return ac_fail(ap, "malformed section header (text after ']')");
	if (name.n == 0)
		return ac_fail(ap, "empty section name");
	if (name.n > AWSCONF_PROFILE_MAX)
		return ac_fail(ap, "section name longer than %d bytes", AWSCONF_PROFILE_MAX);
	if (ap->ap_nsec == ap->ap_seccap) {
		if ((ns = array_grow(ap->ap_sec, &ap->ap_seccap, sizeof(*ns), AC_GROW_FIRST,
		    SIZE_MAX)) == NULL)
			return ac_oom(ap);
		ap->ap_sec = ns;
	}
	s = &ap->ap_sec[ap->ap_nsec];
	memset(s, 0, sizeof(*s));
	if ((s->sec_profile = mem_strdup(name.p, name.n)) == NULL)
		return ac_oom(ap);
	if ((he = ac_hash_find(&ap->ap_names, AC_HSEC, s->sec_profile)) != NULL) {
		ac_fail(ap, "duplicate section [%s] (first at line %u)", s->sec_profile,
		    he->he_line);
		ac_section_clear(s);
		return -1;
	}
	if (ac_hash_add(&ap->ap_names, AC_HSEC, s->sec_profile, ap->ap_line) == -1) {
		ac_section_clear(s);
		return ac_oom(ap);
	}
	s->sec_file = ap->ap_path;
	s->sec_line = ap->ap_line;
	ap->ap_nsec++;
	ap->ap_kvcap = 0;
	return 0;
}

static int
ac_keyline(struct ac_parse *ap, struct slice t)
{
	struct aws_section *s = ac_last(ap);
	struct aws_kv *nkv, *kv;
	const struct ac_hent *he;
	struct slice key, val;
	size_t i;
	char *k = NULL;
	int rc = -1;

	for (i = 0; i < t.n && t.p[i] != '=' && t.p[i] != ':'; i++)
		;
	if (i == t.n) {
		ac_fail(ap, "malformed line (expected [section], key = value or a comment)");
		goto done;
	}
	key = ac_trim(t.p, i);
	val = ac_trim(t.p + i + 1, t.n - i - 1);
	if (key.n == 0) {
		ac_fail(ap, "empty key before '%c'", t.p[i]);
		goto done;
	}
	if ((k = mem_strdup(key.p, key.n)) == NULL) {
		ac_oom(ap);
		goto done;
	}
	for (i = 0; i < key.n; i++)
		if (k[i] >= 'A' && k[i] <= 'Z')
			k[i] = (char)(k[i] - 'A' + 'a');
	if ((he = ac_hash_find(&ap->ap_names, ap->ap_nsec - 1, k)) != NULL) {
		ac_fail(ap, "duplicate key '%s' in [%s] (first at line %u)", k,
		    s->sec_profile, he->he_line);
		goto done;
	}
	if (ap->ap_nkv >= AC_KV_MAX) {
		ac_fail(ap, "more than %d keys", AC_KV_MAX);
		goto done;
	}
	if (s->sec_nkv == ap->ap_kvcap) {
		if ((nkv = array_grow(s->sec_kv, &ap->ap_kvcap, sizeof(*nkv), AC_GROW_FIRST,
		    SIZE_MAX)) == NULL) {
			ac_oom(ap);
			goto done;
		}
		s->sec_kv = nkv;
	}
	if (ac_vbuf_add(&ap->ap_val, val.p, val.n) == -1 ||
	    ac_hash_add(&ap->ap_names, ap->ap_nsec - 1, k, ap->ap_line) == -1) {
		ac_oom(ap);
		goto done;
	}
	ap->ap_nkv++;
	kv = &s->sec_kv[s->sec_nkv++];
	kv->kv_key = k;
	k = NULL;
	kv->kv_val = NULL;	/* set by ac_close_key */
	kv->kv_file = ap->ap_path;
	kv->kv_line = ap->ap_line;
	ap->ap_inkey = 1;
	ap->ap_nested = val.n == 0;
	ap->ap_blanks = 0;
	rc = 0;
done:
	free(k);
	return rc;
}

static int
ac_line(struct ac_parse *ap, const char *p, size_t n)
{
	size_t indent = 0;
	struct slice t;

	if (memchr(p, '\0', n) != NULL)
		return ac_fail(ap, "NUL byte");
	while (indent < n && ac_is_ws((unsigned char)p[indent]))
		indent++;
	t = ac_trim(p + indent, n - indent);
	if (t.n == 0) {
		if (ap->ap_inkey)
			ap->ap_blanks++;
		return 0;
	}
	if (t.p[0] == '#' || t.p[0] == ';')
		return 0;
	if (ap->ap_inkey && indent > ap->ap_indent)
		return ac_continuation(ap, t);
	if (ac_close_key(ap) == -1)
		return -1;
	ap->ap_indent = indent;
	if (t.p[0] == '[')
		return ac_header(ap, t);
	if (ap->ap_nsec == 0)
		return ac_fail(ap, "key = value before any [section] header");
	return ac_keyline(ap, t);
}

/* configparser's [DEFAULT]: its keys go into every section that lacks them. */
static int
ac_apply_defaults(struct ac_parse *ap)
{
	const struct aws_section *d = NULL;
	struct aws_section *s;
	struct aws_kv *nkv, *kv;
	size_t i, j, need;

	for (i = 0; i < ap->ap_nsec; i++)
		if (strcmp(ap->ap_sec[i].sec_profile, AC_DEFAULTS_SECTION) == 0)
			d = &ap->ap_sec[i];
	if (d == NULL || d->sec_nkv == 0)
		return 0;
	for (i = 0; i < ap->ap_nsec; i++) {
		s = &ap->ap_sec[i];
		if (s == d)
			continue;
		for (need = 0, j = 0; j < d->sec_nkv; j++)
			if (ac_hash_find(&ap->ap_names, i, d->sec_kv[j].kv_key) == NULL)
				need++;
		if (need == 0)
			continue;
		/* the copies count: a big [DEFAULT] times many sections */
		if (need > AC_KV_MAX - ap->ap_nkv) {
			ap->ap_line = d->sec_line;
			return ac_fail(ap, "more than %d keys after copying [%s]'s "
			    "into every section", AC_KV_MAX, AC_DEFAULTS_SECTION);
		}
		if ((nkv = reallocarray(s->sec_kv, s->sec_nkv + need, sizeof(*nkv))) == NULL)
			return ac_oom(ap);
		s->sec_kv = nkv;
		for (j = 0; j < d->sec_nkv; j++) {
			if (ac_hash_find(&ap->ap_names, i, d->sec_kv[j].kv_key) != NULL)
				continue;
			kv = &s->sec_kv[s->sec_nkv];
			memset(kv, 0, sizeof(*kv));
			kv->kv_file = d->sec_kv[j].kv_file;
			kv->kv_line = d->sec_kv[j].kv_line;
			if ((kv->kv_key = strdup(d->sec_kv[j].kv_key)) == NULL ||
			    (kv->kv_val = strdup(d->sec_kv[j].kv_val)) == NULL) {
				ac_kv_clear(kv);
				return ac_oom(ap);
			}
			s->sec_nkv++;
			ap->ap_nkv++;
		}
	}
	return 0;
}

/*
 * The profile a section header names, malloc'd, or NULL with *none set when
 * it names none (config file: [sso-session x], [plugins], ...).
 */
static char *
ac_profile_name(const char *raw, int is_config, int *none)
{
	struct slice r, n;
	size_t i;

	*none = 1;
	if (strcmp(raw, AC_DEFAULTS_SECTION) == 0)
		return NULL;
	r.p = raw;
	r.n = strlen(raw);
	if (!is_config || strcmp(raw, AC_DEFAULT_PROFILE) == 0) {
		*none = 0;
		return mem_strdup(r.p, r.n);
	}
	if (r.n <= AC_PROFILE_WORD_LEN || memcmp(raw, AC_PROFILE_WORD, AC_PROFILE_WORD_LEN) != 0 ||
	    !ac_is_ws((unsigned char)raw[AC_PROFILE_WORD_LEN]))
		return NULL;
	n = ac_trim(raw + AC_PROFILE_WORD_LEN, r.n - AC_PROFILE_WORD_LEN);
	if (n.n >= 2 && (n.p[0] == '"' || n.p[0] == '\'') && n.p[n.n - 1] == n.p[0]) {
		/* one shlex word quoted whole: "a b" or 'a b' */
		n.p++;
		n.n -= 2;
		if (memchr(n.p, raw[r.n - 1], n.n) != NULL ||
		    (raw[r.n - 1] == '"' && memchr(n.p, '\\', n.n) != NULL))
			return NULL;
	} else {
		for (i = 0; i < n.n; i++)
			if (ac_is_ws((unsigned char)n.p[i]) || n.p[i] == '"' ||
			    n.p[i] == '\'' || n.p[i] == '\\')
				return NULL;
	}
	if (n.n == 0)
		return NULL;
	*none = 0;
	return mem_strdup(n.p, n.n);
}

/*
 * Turn the file's sections into its profiles, in place: sections that name
 * no profile are dropped, and in the config file a later section naming the
 * same profile replaces the earlier one (botocore's build_profile_map).
 */
static int
ac_profiles(struct ac_parse *ap)
{
	struct aws_section *s;
	struct ac_hent *he;
	struct ac_hash seen;	/* profile name -> its slot, in he_line */
	size_t i, j, k = 0;
	char *name;
	int none, rc = -1;

	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < ap->ap_nsec; i++) {
		s = &ap->ap_sec[i];
		name = ac_profile_name(s->sec_profile, ap->ap_is_config, &none);
		if (name == NULL) {
			/*
			 * Every slot from k to i is now cleared or moved out
			 * (zeroed), so on failure the caller frees all
			 * ap_nsec slots safely.
			 */
			ac_section_clear(s);
			if (none)
				continue;
			ac_oom(ap);
			goto done;
		}
		free(s->sec_profile);
		s->sec_profile = name;
		if ((he = ac_hash_find(&seen, AC_HSEC, name)) != NULL) {
			/* the table borrows the earlier name: point it at ours */
			j = he->he_line;
			ac_section_clear(&ap->ap_sec[j]);
			he->he_name = name;
		} else {
			j = k++;
			if (ac_hash_add(&seen, AC_HSEC, name, (unsigned)j) == -1) {
				ac_oom(ap);
				goto done;
			}
		}
		if (j != i) {
			ap->ap_sec[j] = *s;
			memset(s, 0, sizeof(*s));
		}
	}
	ap->ap_nsec = k;
	rc = 0;
done:
	ac_hash_free(&seen);
	return rc;
}

int
awsconf_parse(const char *text, size_t len, const char *path, int is_config,
    struct aws_section **out, size_t *nout, char *err, size_t errlen)
{
	struct ac_parse ap;
	const char *p, *q, *end;

	memset(&ap, 0, sizeof(ap));
	ap.ap_path = path;
	ap.ap_is_config = is_config;
	ap.ap_err = err;
	ap.ap_errlen = errlen;
	ap.ap_val = (struct sbuf)SBUF_GROWN(AWSCONF_FILE_MAX);
	*out = NULL;
	*nout = 0;
	if (len > AWSCONF_FILE_MAX) {
		errf(err, errlen, "%s: larger than %d bytes", path, AWSCONF_FILE_MAX);
		goto fail;
	}
	p = text;
	end = text + len;
	if (len >= AC_BOM_LEN && memcmp(text, AC_BOM, AC_BOM_LEN) == 0)
		p += AC_BOM_LEN;
	while (p < end) {
		for (q = p; q < end && *q != '\n' && *q != '\r'; q++)
			;
		ap.ap_line++;
		if (ac_line(&ap, p, (size_t)(q - p)) == -1)
			goto fail;
		if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n')
			q++;
		p = q < end ? q + 1 : q;
	}
	if (ac_close_key(&ap) == -1 || ac_apply_defaults(&ap) == -1)
		goto fail;
	ac_hash_free(&ap.ap_names);	/* it borrows the names ac_profiles replaces */
	if (ac_profiles(&ap) == -1)
		goto fail;
	if (ap.ap_nsec == 0) {
		/* no profile at all: no array either */
		free(ap.ap_sec);
		ap.ap_sec = NULL;
	}
	*out = ap.ap_sec;
	*nout = ap.ap_nsec;
	return 0;
fail:
	ac_hash_free(&ap.ap_names);
	sbuf_free(&ap.ap_val);
	awsconf_sections_free(ap.ap_sec, ap.ap_nsec);
	return -1;
}

/* ---- files --------------------------------------------------------------- */

static int
ac_path_one(const char *env, const char *home, const char *suffix, char *buf, size_t cap,
    char *err, size_t errlen)
{
	const char *v = getenv(env);
	int n;

	if (v != NULL && v[0] != '\0') {
		if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
			if (home == NULL) {
				snprintf(err, errlen, "%s: cannot expand '~': HOME is not set", env);
				return -1;
			}
			n = snprintf(buf, cap, "%s%s", home, v + 1);
		} else
			n = snprintf(buf, cap, "%s", v);
	} else {
		if (home == NULL) {
			snprintf(err, errlen, "neither HOME nor %s is set", env);
			return -1;
		}
		n = snprintf(buf, cap, "%s%s", home, suffix);
	}
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "%s: the path is longer than %zu bytes", env,
		    cap > 0 ? cap - 1 : 0);
		return -1;
	}
	return 0;
}

int
awsconf_paths(char *config, size_t clen, char *creds, size_t crlen, char *err, size_t errlen)
{
	const char *home = getenv("HOME");
	int rc = 0;

	if (home != NULL && home[0] == '\0')
		home = NULL;
	if (ac_path_one(AC_ENV_CONFIG, home, AC_HOME_CONFIG, config, clen, err, errlen) == -1 ||
	    ac_path_one(AC_ENV_CREDS, home, AC_HOME_CREDS, creds, crlen, err, errlen) == -1)
		rc = -1;
	if (rc == -1 && errlen > 0)
		text_clean(err, errlen, err, strlen(err));
	return rc;
}

static int
ac_load_one(const char *path, int is_config, awsconf_open_fn opener, struct aws_section **s,
    size_t *n, int *found, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = -1, fd;

	*found = 0;
	if (opener != NULL) {
		/* the text parsed is read from the very descriptor the opener checked */
		if ((fd = opener(path, err, errlen)) == -1)
			return errno == ENOENT ? 0 : -1;
		rc = read_fd_capped(fd, AWSCONF_FILE_MAX, &buf, &len);
		close_keep_errno(fd);
	} else
		rc = read_file_capped(path, AWSCONF_FILE_MAX, &buf, &len);
	if (rc == -1) {
		if (errno == ENOENT)
			return 0;
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	*found = 1;
	rc = awsconf_parse(buf, len, path, is_config, s, n, err, errlen);
	wipe_free(buf, len);
	return rc;
}

int
awsconf_load(const char *config_path, const char *creds_path, struct aws_conf *out,
    char *err, size_t errlen)
{
	return awsconf_load_open(config_path, creds_path, NULL, out, err, errlen);
}

int
awsconf_load_open(const char *config_path, const char *creds_path, awsconf_open_fn opener,
    struct aws_conf *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if ((out->ac_config_path = strdup(config_path)) == NULL ||
	    (out->ac_creds_path = strdup(creds_path)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (ac_load_one(out->ac_config_path, 1, opener, &out->ac_config, &out->ac_nconfig,
	    &out->ac_config_found, err, errlen) == -1)
		goto fail;
	if (ac_load_one(out->ac_creds_path, 0, opener, &out->ac_creds, &out->ac_ncreds,
	    &out->ac_creds_found, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	awsconf_free(out);
	return -1;
}

int
awsconf_has_profile(const struct aws_conf *c, const char *profile)
{
	return ac_find_section(c->ac_creds, c->ac_ncreds, profile) != NULL ||
	    ac_find_section(c->ac_config, c->ac_nconfig, profile) != NULL;
}

const char *
awsconf_get(const struct aws_conf *c, const char *profile, const char *key,
    const struct aws_kv **kv)
{
	const struct aws_section *s;
	const struct aws_kv *found = NULL;

	if ((s = ac_find_section(c->ac_creds, c->ac_ncreds, profile)) != NULL)
		found = ac_find_kv(s, key);
	if (found == NULL && (s = ac_find_section(c->ac_config, c->ac_nconfig, profile)) != NULL)
		found = ac_find_kv(s, key);
	if (kv != NULL)
		*kv = found;
	return found != NULL ? found->kv_val : NULL;
}

void
awsconf_free(struct aws_conf *c)
{
	awsconf_sections_free(c->ac_config, c->ac_nconfig);
	awsconf_sections_free(c->ac_creds, c->ac_ncreds);
	free(c->ac_config_path);
	free(c->ac_creds_path);
	memset(c, 0, sizeof(*c));
}
