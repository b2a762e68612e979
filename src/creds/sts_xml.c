/*
 * sts_xml.c: parse the body of an STS reply (AWS query protocol, API
 * version 2011-06-15) with expat.
 *
 * The documents we accept, matched by local name whatever their namespace
 * (STS sends xmlns="https://sts.amazonaws.com/doc/2011-06-15/"; stubs often
 * send none):
 *
 *	AssumeRoleResponse			(action STS_ASSUME_ROLE)
 *	  AssumeRoleResult
 *	    AssumedRoleUser / Arn, AssumedRoleId
 *	    Credentials / AccessKeyId, SecretAccessKey, SessionToken, Expiration
 *	  ResponseMetadata / RequestId
 *
 *	GetSessionTokenResponse			(action STS_GET_SESSION_TOKEN)
 *	  GetSessionTokenResult
 *	    Credentials / (the same four)
 *	  ResponseMetadata / RequestId
 *
 *	ErrorResponse				(either action)
 *	  Error / Type, Code, Message
 *	  RequestId
 *
 * Other elements (SourceIdentity, PackedPolicySize, Error/Type, anything
 * new) are skipped with everything inside them.  A known element twice, or
 * an element inside a text field, is refused.  Text is trimmed of
 * surrounding whitespace and collected across character-data callbacks
 * (entity references, CDATA sections and line ends all split it) straight
 * into its field; a value longer than its field is an error naming the
 * element, except Message, which is cut at a character boundary because it
 * only ever reaches a log line.  Code, Message and RequestId have control
 * characters replaced by spaces; credential and ARN values with a control
 * character inside them are refused.
 *
 * Hostile XML: a DOCTYPE stops the parser before any declaration in it is
 * read, so no entity can be declared, let alone expanded (billion laughs,
 * XXE); entity declarations and external references are refused again in
 * case expat ever reports them without a DOCTYPE.  The input is capped at
 * STS_RESP_MAX bytes.
 *
 * Secrets: the body holds credentials, so expat gets a memory suite that
 * wipes every block it frees, the parser never outlives this call, and on
 * failure the result is wiped.  Error messages name elements, never values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "creds/creds.h"

#define SX_NS_SEP	'|'	/* expat's URI|local separator: never in a name */
#define SX_STACK_MAX	8	/* known elements nest at most 4 deep */
#define SX_TIME_MAX	64	/* bytes of an Expiration value, NUL included */
#define SX_NAME_SHOWN	64	/* bytes of an unknown root's name quoted in err */

/* Elements we know, by position.  SX_NONE: the document node. */
enum sx_node {
	SX_NONE,
	SX_AR_RESP, SX_GST_RESP, SX_ERR_RESP,
	SX_AR_RESULT, SX_GST_RESULT, SX_META, SX_ERROR,
	SX_ARU, SX_CREDS,
	/* leaves: text fields */
	SX_ARN, SX_ROLE_ID, SX_AKID, SX_SECRET, SX_TOKEN, SX_EXP, SX_META_RID,
	SX_CODE, SX_MESSAGE, SX_ERR_RID,
	SX_NODE_COUNT
};
#define SX_FIRST_LEAF	SX_ARN

/* How a leaf's text is kept. */
#define SX_F_TRUNCATE	0x01	/* cut at the field size instead of failing */
#define SX_F_SANITIZE	0x02	/* control characters become spaces */
#define SX_F_STRICT	0x04	/* a control character inside is an error */

struct sx_edge {
	enum sx_node	 e_parent;
	const char	*e_name;
	enum sx_node	 e_child;
};

static const struct sx_edge sx_edges[] = {
	{ SX_AR_RESP, "AssumeRoleResult", SX_AR_RESULT },
	{ SX_AR_RESP, "ResponseMetadata", SX_META },
	{ SX_GST_RESP, "GetSessionTokenResult", SX_GST_RESULT },
	{ SX_GST_RESP, "ResponseMetadata", SX_META },
	{ SX_AR_RESULT, "AssumedRoleUser", SX_ARU },
	{ SX_AR_RESULT, "Credentials", SX_CREDS },
	{ SX_GST_RESULT, "Credentials", SX_CREDS },
	{ SX_ARU, "Arn", SX_ARN },
	{ SX_ARU, "AssumedRoleId", SX_ROLE_ID },
	{ SX_CREDS, "AccessKeyId", SX_AKID },
	{ SX_CREDS, "SecretAccessKey", SX_SECRET },
	{ SX_CREDS, "SessionToken", SX_TOKEN },
	{ SX_CREDS, "Expiration", SX_EXP },
	{ SX_META, "RequestId", SX_META_RID },
	{ SX_ERR_RESP, "Error", SX_ERROR },
	{ SX_ERR_RESP, "RequestId", SX_ERR_RID },
	{ SX_ERROR, "Code", SX_CODE },
	{ SX_ERROR, "Message", SX_MESSAGE },
};

/* The names used in messages, by node. */
static const char *const sx_names[SX_NODE_COUNT] = {
	[SX_NONE] = "document",
	[SX_AR_RESP] = "AssumeRoleResponse",
	[SX_GST_RESP] = "GetSessionTokenResponse",
	[SX_ERR_RESP] = "ErrorResponse",
	[SX_AR_RESULT] = "AssumeRoleResult",
	[SX_GST_RESULT] = "GetSessionTokenResult",
	[SX_META] = "ResponseMetadata",
	[SX_ERROR] = "Error",
	[SX_ARU] = "AssumedRoleUser",
	[SX_CREDS] = "Credentials",
	[SX_ARN] = "Arn",
	[SX_ROLE_ID] = "AssumedRoleId",
	[SX_AKID] = "AccessKeyId",
	[SX_SECRET] = "SecretAccessKey",
	[SX_TOKEN] = "SessionToken",
	[SX_EXP] = "Expiration",
	[SX_META_RID] = "RequestId",
	[SX_CODE] = "Code",
	[SX_MESSAGE] = "Message",
	[SX_ERR_RID] = "RequestId",
};

/* Where a leaf's text goes: a field of struct sts_result, and how it is kept. */
struct sx_leaf {
	size_t		 l_off;		/* offsetof(struct sts_result, field) */
	size_t		 l_cap;		/* its size */
	unsigned	 l_flags;	/* SX_F_* */
};

#define SX_LEAF(field, flags) \
	{ offsetof(struct sts_result, field), sizeof(((struct sts_result *)0)->field), flags }

static const struct sx_leaf sx_leaves[SX_NODE_COUNT] = {
	[SX_ARN] = SX_LEAF(st_assumed_arn, SX_F_STRICT),
	[SX_ROLE_ID] = SX_LEAF(st_assumed_id, SX_F_STRICT),
	[SX_AKID] = SX_LEAF(st_cred.cr_akid, SX_F_STRICT),
	[SX_SECRET] = SX_LEAF(st_cred.cr_secret, SX_F_STRICT),
	[SX_TOKEN] = SX_LEAF(st_cred.cr_token, SX_F_STRICT),
	[SX_EXP] = { 0, 0, SX_F_STRICT },	/* into sx_state's s_exp */
	[SX_META_RID] = SX_LEAF(st_request_id, SX_F_SANITIZE),
	[SX_CODE] = SX_LEAF(st_code, SX_F_SANITIZE),
	[SX_MESSAGE] = SX_LEAF(st_message, SX_F_SANITIZE | SX_F_TRUNCATE),
	[SX_ERR_RID] = SX_LEAF(st_request_id, SX_F_SANITIZE),
};

/* The text field being filled. */
struct sx_text {
	char		*t_dst;
	size_t		 t_cap;		/* bytes of t_dst, NUL included */
	size_t		 t_len;		/* bytes kept so far */
	size_t		 t_ws;		/* whitespace held after t_len, not yet kept */
	int		 t_ws_lost;	/* some of it did not fit */
	int		 t_full;	/* SX_F_TRUNCATE: the rest is dropped */
	int		 t_ctl;		/* SX_F_STRICT: a control character was seen */
	unsigned	 t_flags;
};

/* The whole parse; lives on sts_xml_parse's stack. */
struct sx_state {
	XML_Parser	 s_parser;
	enum sts_action	 s_action;
	struct sts_result *s_r;
	enum sx_node	 s_stack[SX_STACK_MAX];
	size_t		 s_depth;	/* known elements open */
	size_t		 s_skip;	/* unknown elements open (inside the top) */
	enum sx_node	 s_root;
	uint32_t	 s_seen;	/* bit per enum sx_node */
	struct sx_text	 s_text;
	char		 s_exp[SX_TIME_MAX];
	int		 s_failed;
	char		*s_err;
	size_t		 s_errlen;
};

/* ---- expat's memory: every freed block is wiped ------------------------ */

/* Each block starts with its size, padded to keep the payload aligned. */
#define SX_HDR	(sizeof(max_align_t))

static void *
sx_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - SX_HDR || (p = malloc(SX_HDR + n)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + SX_HDR;
}

static void
sx_free(void *ptr)
{
	unsigned char *p;
	size_t n;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - SX_HDR;
	memcpy(&n, p, sizeof(n));
	explicit_bzero(p, SX_HDR + n);
	free(p);
}

static void *
sx_realloc(void *ptr, size_t n)
{
	void *np;
	size_t old;

	if ((np = sx_malloc(n)) == NULL)
		return NULL;
	if (ptr != NULL) {
		memcpy(&old, (unsigned char *)ptr - SX_HDR, sizeof(old));
		memcpy(np, ptr, old < n ? old : n);
		sx_free(ptr);
	}
	return np;
}

static const XML_Memory_Handling_Suite sx_memsuite = {
	sx_malloc, sx_realloc, sx_free
};

/* ---- helpers ----------------------------------------------------------- */

static void
sx_fail(struct sx_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record the first error and stop the parser. */
static void
sx_fail(struct sx_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->s_failed)
		return;
	st->s_failed = 1;
	va_start(ap, fmt);
	verrf(st->s_err, st->s_errlen, fmt, ap);
	va_end(ap);
	if (st->s_parser != NULL)
		XML_StopParser(st->s_parser, XML_FALSE);
}

/* The local part of an expat name: after the last separator, if any. */
static const char *
sx_local(const XML_Char *name)
{
	const char *p = strrchr(name, SX_NS_SEP);

	return p != NULL ? p + 1 : name;
}

static int
sx_is_leaf(enum sx_node n)
{
	return n >= SX_FIRST_LEAF && n < SX_NODE_COUNT;
}

static int
sx_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Point s_text at the field leaf n fills. */
static void
sx_text_open(struct sx_state *st, enum sx_node n)
{
	struct sx_text *t = &st->s_text;
	const struct sx_leaf *l;

	if (!sx_is_leaf(n))
		abort();	/* can't happen: only leaves get here */
	l = &sx_leaves[n];
	memset(t, 0, sizeof(*t));
	/* Expiration is kept as text here, parsed once the document is complete */
	t->t_dst = n == SX_EXP ? st->s_exp : (char *)st->s_r + l->l_off;
	t->t_cap = n == SX_EXP ? sizeof(st->s_exp) : l->l_cap;
	t->t_flags = l->l_flags;
	t->t_dst[0] = '\0';
}

/* Drop a UTF-8 sequence left incomplete at the end of a cut field. */
static void
sx_text_cut(struct sx_text *t, unsigned char next)
{
	if ((next & 0xc0) != 0x80)
		return;	/* next starts a character: the kept ones are whole */
	while (t->t_len > 0 && ((unsigned char)t->t_dst[t->t_len - 1] & 0xc0) == 0x80)
		t->t_len--;
	if (t->t_len > 0 && (unsigned char)t->t_dst[t->t_len - 1] >= 0xc0)
		t->t_len--;
}

/* Whitespace inside a strict value may only be spaces: a TAB or LF is refused. */
static void
sx_text_check_ws(struct sx_text *t)
{
	size_t i;

	for (i = t->t_len; i < t->t_len + t->t_ws; i++)
		if (t->t_dst[i] != ' ')
			t->t_ctl = 1;
}

/*
 * Add n bytes of character data.  Leading whitespace is dropped; later
 * whitespace is held (written past t_len when there is room) and kept only
 * once more text follows it, so trailing whitespace never counts against
 * the field size.  -1 when the field overflows.
 */
static int
sx_text_add(struct sx_text *t, const char *s, size_t n)
{
	size_t i, room = t->t_cap - 1;
	unsigned char c;

	for (i = 0; i < n && !t->t_full; i++) {
		c = (unsigned char)s[i];
		if (CTL_BYTE(c)) {
			if (t->t_flags & SX_F_SANITIZE)
				c = ' ';
			else if ((t->t_flags & SX_F_STRICT) && !sx_space(c))
				t->t_ctl = 1;	/* TAB, LF, CR: see sx_text_check_ws */
		}
		if (sx_space(c)) {
			if (t->t_len == 0)
				continue;
			if (t->t_len + t->t_ws < room)
				t->t_dst[t->t_len + t->t_ws] = (char)c;
			else
				t->t_ws_lost = 1;
			t->t_ws++;
			continue;
		}
		if (t->t_ws > 0) {
			if (t->t_ws_lost)
				goto overflow;
			if (t->t_flags & SX_F_STRICT)
				sx_text_check_ws(t);
			t->t_len += t->t_ws;
			t->t_ws = 0;
		}
		if (t->t_len >= room) {
			sx_text_cut(t, c);
			goto overflow;
		}
		t->t_dst[t->t_len++] = (char)c;
	}
	return 0;

overflow:
	if (t->t_flags & SX_F_TRUNCATE) {
		t->t_full = 1;
		return 0;
	}
	return -1;
}

/* NUL-terminate the field, clearing whatever was written past its end. */
static void
sx_text_close(struct sx_text *t)
{
	while (t->t_len > 0 && sx_space((unsigned char)t->t_dst[t->t_len - 1]))
		t->t_len--;
	memset(t->t_dst + t->t_len, 0, t->t_cap - t->t_len);
}

/* ---- expat handlers ---------------------------------------------------- */

static enum sx_node
sx_root_for(const char *local)
{
	if (strcmp(local, "AssumeRoleResponse") == 0)
		return SX_AR_RESP;
	if (strcmp(local, "GetSessionTokenResponse") == 0)
		return SX_GST_RESP;
	if (strcmp(local, "ErrorResponse") == 0)
		return SX_ERR_RESP;
	return SX_NONE;
}

static void XMLCALL
sx_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct sx_state *st = ud;
	const char *local = sx_local(name);
	enum sx_node top, child = SX_NONE, want;
	size_t i;

	(void)atts;
	if (st->s_failed)
		return;
	if (st->s_skip > 0) {
		st->s_skip++;
		return;
	}
	if (st->s_depth == 0) {
		want = st->s_action == STS_ASSUME_ROLE ? SX_AR_RESP : SX_GST_RESP;
		child = sx_root_for(local);
		if (child != want && child != SX_ERR_RESP) {
			sx_fail(st, "unexpected document element <%.*s>, wanted <%s>",
			    SX_NAME_SHOWN, local, sx_names[want]);
			return;
		}
		st->s_root = child;
	} else {
		top = st->s_stack[st->s_depth - 1];
		if (sx_is_leaf(top)) {
			sx_fail(st, "unexpected element inside <%s>", sx_names[top]);
			return;
		}
		for (i = 0; i < sizeof(sx_edges) / sizeof(sx_edges[0]); i++)
			if (sx_edges[i].e_parent == top &&
			    strcmp(sx_edges[i].e_name, local) == 0) {
				child = sx_edges[i].e_child;
				break;
			}
		if (child == SX_NONE) {
			st->s_skip = 1;	/* unknown: skip it and all inside */
			return;
		}
	}
	if (st->s_seen & (UINT32_C(1) << child)) {
		sx_fail(st, "duplicate <%s>", sx_names[child]);
		return;
	}
	st->s_seen |= UINT32_C(1) << child;
	if (st->s_depth >= SX_STACK_MAX) {
		sx_fail(st, "elements nested too deeply");	/* can't happen */
		return;
	}
	st->s_stack[st->s_depth++] = child;
	if (sx_is_leaf(child))
		sx_text_open(st, child);
}

static void XMLCALL
sx_end(void *ud, const XML_Char *name)
{
	struct sx_state *st = ud;
	enum sx_node top;

	(void)name;
	if (st->s_failed)
		return;
	if (st->s_skip > 0) {
		st->s_skip--;
		return;
	}
	if (st->s_depth == 0)
		return;	/* can't happen: expat matches tags */
	top = st->s_stack[--st->s_depth];
	if (!sx_is_leaf(top))
		return;
	sx_text_close(&st->s_text);
	if (st->s_text.t_ctl)
		sx_fail(st, "<%s> has a control character", sx_names[top]);
	memset(&st->s_text, 0, sizeof(st->s_text));
}

static void XMLCALL
sx_chars(void *ud, const XML_Char *s, int n)
{
	struct sx_state *st = ud;
	enum sx_node top;

	if (st->s_failed || st->s_skip > 0 || st->s_depth == 0 || n <= 0)
		return;
	top = st->s_stack[st->s_depth - 1];
	if (!sx_is_leaf(top))
		return;	/* whitespace between elements */
	if (sx_text_add(&st->s_text, s, (size_t)n) == -1)
		sx_fail(st, "<%s> is longer than %zu bytes", sx_names[top],
		    st->s_text.t_cap - 1);
}

static void XMLCALL
sx_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	sx_fail(ud, "DOCTYPE refused");
}

static void XMLCALL
sx_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
    int value_len, const XML_Char *base, const XML_Char *sysid,
    const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	sx_fail(ud, "entity declaration refused");
}

static int XMLCALL
sx_external(XML_Parser p, const XML_Char *context, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid)
{
	(void)p;
	(void)context;
	(void)base;
	(void)sysid;
	(void)pubid;
	return XML_STATUS_ERROR;	/* never fetched */
}

/* ---- after the parse --------------------------------------------------- */

static int
sx_has(const struct sx_state *st, enum sx_node n)
{
	return (st->s_seen & (UINT32_C(1) << n)) != 0;
}

/* A required element: present.  0 / -1 with err. */
static int
sx_want(struct sx_state *st, enum sx_node n)
{
	if (sx_has(st, n))
		return 0;
	sx_fail(st, "%s has no <%s>", sx_names[st->s_root], sx_names[n]);
	return -1;
}

/* A required text field: present and not empty.  0 / -1 with err. */
static int
sx_need(struct sx_state *st, enum sx_node n, const char *val)
{
	if (sx_want(st, n) == -1)
		return -1;
	if (val[0] == '\0') {
		sx_fail(st, "<%s> is empty", sx_names[n]);
		return -1;
	}
	return 0;
}

/* Check what the document held against what its kind requires. */
static int
sx_finish(struct sx_state *st)
{
	struct sts_result *r = st->s_r;

	if (st->s_root == SX_ERR_RESP) {
		if (sx_want(st, SX_ERROR) == -1 || sx_need(st, SX_CODE, r->st_code) == -1)
			return -1;
		r->st_ok = 0;
		return 0;
	}
	if ((st->s_root == SX_AR_RESP && (sx_want(st, SX_AR_RESULT) == -1 ||
	    sx_want(st, SX_ARU) == -1 || sx_need(st, SX_ARN, r->st_assumed_arn) == -1)) ||
	    (st->s_root == SX_GST_RESP && sx_want(st, SX_GST_RESULT) == -1) ||
	    sx_want(st, SX_CREDS) == -1 ||
	    sx_need(st, SX_AKID, r->st_cred.cr_akid) == -1 ||
	    sx_need(st, SX_SECRET, r->st_cred.cr_secret) == -1 ||
	    sx_need(st, SX_TOKEN, r->st_cred.cr_token) == -1 ||
	    sx_need(st, SX_EXP, st->s_exp) == -1)
		return -1;
	if (parse_iso8601(st->s_exp, strlen(st->s_exp), &r->st_cred.cr_expiration) == -1) {
		sx_fail(st, "<Expiration> is not an ISO 8601 UTC time");
		return -1;
	}
	r->st_cred.cr_last_updated = 0;
	r->st_ok = 1;
	return 0;
}

/* ---- the entry point --------------------------------------------------- */

int
sts_xml_parse(const char *body, size_t len, enum sts_action action,
    struct sts_result *r, char *err, size_t errlen)
{
	static const XML_Char sep[] = { SX_NS_SEP, '\0' };
	struct sx_state st;
	long status;
	int rc = -1;

	/* everything the fail path touches is set before the first jump */
	status = r->st_http_status;
	explicit_bzero(r, sizeof(*r));
	r->st_http_status = status;
	memset(&st, 0, sizeof(st));
	st.s_action = action;
	st.s_r = r;
	st.s_err = err;
	st.s_errlen = err != NULL ? errlen : 0;
	if (st.s_errlen > 0)
		err[0] = '\0';

	if (action != STS_ASSUME_ROLE && action != STS_GET_SESSION_TOKEN) {
		sx_fail(&st, "unknown STS action");
		goto fail;
	}
	if (body == NULL || len == 0) {
		sx_fail(&st, "STS reply body is empty");
		goto fail;
	}
	if (len > STS_RESP_MAX) {
		sx_fail(&st, "STS reply body is over %d bytes", STS_RESP_MAX);
		goto fail;
	}
	if ((st.s_parser = XML_ParserCreate_MM(NULL, &sx_memsuite, sep)) == NULL) {
		sx_fail(&st, "out of memory for the XML parser");
		goto fail;
	}
	XML_SetUserData(st.s_parser, &st);
	XML_SetElementHandler(st.s_parser, sx_start, sx_end);
	XML_SetCharacterDataHandler(st.s_parser, sx_chars);
	XML_SetStartDoctypeDeclHandler(st.s_parser, sx_doctype);
	XML_SetEntityDeclHandler(st.s_parser, sx_entity);
	XML_SetExternalEntityRefHandler(st.s_parser, sx_external);
	XML_SetParamEntityParsing(st.s_parser, XML_PARAM_ENTITY_PARSING_NEVER);

	if (XML_Parse(st.s_parser, body, (int)len, XML_TRUE) != XML_STATUS_OK) {
		/* our handlers' message wins over expat's "parsing aborted" */
		if (!st.s_failed) {
			enum XML_Error e = XML_GetErrorCode(st.s_parser);
			unsigned long line = XML_GetCurrentLineNumber(st.s_parser);
			unsigned long col = XML_GetCurrentColumnNumber(st.s_parser);

			sx_fail(&st, "STS reply is not well-formed XML: %s (line %lu, column %lu)",
			    XML_ErrorString(e), line, col);
		}
		goto fail;
	}
	if (st.s_failed || sx_finish(&st) == -1)
		goto fail;
	rc = 0;

fail:
	if (st.s_parser != NULL) {
		XML_ParserFree(st.s_parser);
		st.s_parser = NULL;
	}
	explicit_bzero(&st.s_text, sizeof(st.s_text));
	if (rc == -1) {
		explicit_bzero(r, sizeof(*r));
		r->st_http_status = status;
	}
	return rc;
}
