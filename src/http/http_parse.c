/*
 * http_parse.c: the pure, incremental HTTP/1.x request parser (habits 5-7).
 *
 * http_parse() is handed the bytes received so far and parses them from the
 * start every time.  It does no I/O and no allocation, never looks past len
 * and never relies on a NUL; every slice it fills in points into the caller's
 * buffer.  It answers "complete, n bytes", "need more" or an HTTP status, and
 * it reports an error as soon as the bytes already received prove it.
 *
 * The head (request line and header section, RFC 9112 §2.1) is read by one
 * state machine driven by a table: each byte is first classified, then
 * http_parse_trans[state][class] gives the next state plus the actions to
 * run on that byte.  A "-" cell means 400.
 *
 *   byte classes: CTL  controls other than HT, CR, LF (NUL and DEL included)
 *                 HT SP CR LF ':'
 *                 tchar  token characters (RFC 9110 §5.6.2)
 *                 VIS    the other visible characters, 0x21-0x7E
 *                 obs    obs-text, 0x80-0xFF
 *
 *   state       CTL  HT   SP    CR     LF    ':'  tchar VIS  obs
 *   START        -    -    -     -      -     -   METH   -    -
 *   METH         -    -   TGT0   -      -     -   METH   -    -
 *   TGT0         -    -    -     -      -    TGT  TGT   TGT   -
 *   TGT          -    -   VER0   -      -    TGT  TGT   TGT   -
 *   VER0         -    -    -     -      -     -   VER   VER   -
 *   VER          -    -    -    RLLF    -     -   VER   VER   -
 *   RLLF         -    -    -     -     LINE   -    -     -    -
 *   LINE         -    -    -    ENDLF   -     -   NAME   -    -
 *   NAME         -    -    -     -      -    OWS  NAME   -    -
 *   OWS          -   OWS  OWS   HLF     -    VAL  VAL   VAL  VAL
 *   VAL          -   VAL  VAL   HLF     -    VAL  VAL   VAL  VAL
 *   HLF          -    -    -     -     LINE   -    -     -    -
 *   ENDLF        -    -    -     -     done   -    -     -    -
 *
 * What the "-" cells enforce, with the rule behind each:
 *   - one SP exactly between the three request-line parts, no HTTP/0.9
 *     "GET /" (RFC 9112 §3); no empty line before the request line either:
 *     RFC 9112 §2.2 lets a server skip one, but our clients never send it
 *     and the connection never carries a second request;
 *   - CR only as the first half of CRLF, never a bare LF (RFC 9112 §2.2);
 *   - no NUL or other control byte anywhere in the head (RFC 9110 §5.5);
 *   - no whitespace between a field name and its colon (RFC 9112 §5.1);
 *   - no line starting with SP or HT: obs-fold, or whitespace after the
 *     request line (RFC 9112 §5.2, §2.2);
 *   - no line without a colon, and no empty field name.
 *
 * The actions on the cells (http_parse_trans[] says which cell runs which)
 * keep the slices: MARK remembers where a token starts; METHOD, TARGET and
 * HNAME close one; MLEN bounds the method; VBYTE checks each version byte
 * against "HTTP/d.d" and VERSION judges the whole version; HNEW opens a
 * header field (and counts it); VSTART, VEXT and VEMPTY keep the value
 * without the OWS around it (RFC 9112 §5.1); DONE ends the head.
 *
 * Limits: a method longer than HTTP_METHOD_MAX is a 400; more than
 * headers_max fields, or no end of head within head_max bytes, is a 431
 * (the caller's struct http_parse_limits, each service its own; at most
 * HTTP_HEADERS_MAX and HTTP_HEAD_MAX).  No state here.  The version must
 * have the shape "HTTP/d.d": major 1 is accepted
 * with any minor, any other major is a 505.
 *
 * After the head, http_parse_body() applies the framing rules (RFC 9112 §6).
 */
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "http/http.h"

#define HTTP_VERSION_LEN	8	/* bytes in "HTTP/d.d" (RFC 9112 §2.3) */
#define HTTP_VERSION_MAJOR	5	/* offset of the major digit in it */
#define HTTP_VERSION_MINOR	7	/* offset of the minor digit in it */

/* The statuses http_parse answers with (returned negated). */
#define ST_BAD_REQUEST		400
#define ST_CONTENT_TOO_LARGE	413
#define ST_FIELDS_TOO_LARGE	431
#define ST_NOT_IMPLEMENTED	501
#define ST_VERSION_UNSUPPORTED	505

const struct http_parse_limits http_parse_limits_max = { HTTP_HEAD_MAX, HTTP_HEADERS_MAX };

/* Byte classes: the columns of the table. */
enum http_parse_class {
	C_CTL,		/* control bytes but HT, CR, LF; NUL and DEL too */
	C_HT,
	C_SP,
	C_CR,
	C_LF,
	C_COL,		/* ':' */
	C_TOK,		/* tchar */
	C_VIS,		/* visible but not tchar, not ':' */
	C_OBS,		/* obs-text, 0x80-0xFF */
	C__N
};

/*
 * States: the rows of the table.  S_ERR is 0 so that every cell the table
 * below leaves out is an error.
 */
enum http_parse_state {
	S_ERR,		/* not a state: the "-" cells, 400 */
	S_START,	/* first byte of the method */
	S_METH,		/* in the method */
	S_TGT0,		/* first byte of the request-target */
	S_TGT,		/* in the request-target */
	S_VER0,		/* first byte of the version */
	S_VER,		/* in the version */
	S_RLLF,		/* request line's CR seen, LF expected */
	S_LINE,		/* start of a field line, or of the empty line */
	S_NAME,		/* in a field name */
	S_OWS,		/* after the colon, before the value */
	S_VAL,		/* in a field value */
	S_HLF,		/* field line's CR seen, LF expected */
	S_ENDLF,	/* empty line's CR seen, LF expected */
	S__N
};

/* A cell: the next state in the low bits, action bits above. */
#define T_STATE		0x000fu
#define A_MARK		0x0010u	/* a token starts at this byte */
#define A_MLEN		0x0020u	/* one more method byte: bound the method */
#define A_METHOD	0x0040u	/* the method ends before this byte */
#define A_TARGET	0x0080u	/* the request-target ends before this byte */
#define A_VBYTE		0x0100u	/* check this version byte */
#define A_VERSION	0x0200u	/* the version ends before this byte: judge it */
#define A_HNEW		0x0400u	/* a field name starts at this byte */
#define A_HNAME		0x0800u	/* the field name ends before this byte */
#define A_VEMPTY	0x1000u	/* the line ends with no value */
#define A_VSTART	0x2000u	/* the value starts at this byte */
#define A_VEXT		0x4000u	/* the value runs at least up to this byte */
#define A_DONE		0x8000u	/* this LF ends the head */

_Static_assert(S__N - 1 <= T_STATE, "the states must fit in T_STATE");

static const uint8_t http_parse_class[128] = {
	C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL,	/* 00 */
	C_CTL, C_HT,  C_LF,  C_CTL, C_CTL, C_CR,  C_CTL, C_CTL,	/* 08 */
	C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL,	/* 10 */
	C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL, C_CTL,	/* 18 */
	C_SP,  C_TOK, C_VIS, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 20  !"#$%&' */
	C_VIS, C_VIS, C_TOK, C_TOK, C_VIS, C_TOK, C_TOK, C_VIS,	/* 28 ()*+,-./ */
	C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 30 01234567 */
	C_TOK, C_TOK, C_COL, C_VIS, C_VIS, C_VIS, C_VIS, C_VIS,	/* 38 89:;<=>? */
	C_VIS, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 40 @ABCDEFG */
	C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 48 HIJKLMNO */
	C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 50 PQRSTUVW */
	C_TOK, C_TOK, C_TOK, C_VIS, C_VIS, C_VIS, C_TOK, C_TOK,	/* 58 XYZ[\]^_ */
	C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 60 `abcdefg */
	C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 68 hijklmno */
	C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK, C_TOK,	/* 70 pqrstuvw */
	C_TOK, C_TOK, C_TOK, C_VIS, C_TOK, C_VIS, C_TOK, C_CTL,	/* 78 xyz{|}~ DEL */
};

/*
 * The drawing at the top of the file, row by row, with the actions; the
 * cells left out are S_ERR.
 */
static const uint16_t http_parse_trans[S__N][C__N] = {
	[S_START] = {
		[C_TOK] = S_METH | A_MARK,
	},
	[S_METH] = {
		[C_TOK] = S_METH | A_MLEN,
		[C_SP]  = S_TGT0 | A_METHOD,
	},
	[S_TGT0] = {
		[C_COL] = S_TGT | A_MARK,
		[C_TOK] = S_TGT | A_MARK,
		[C_VIS] = S_TGT | A_MARK,
	},
	[S_TGT] = {
		[C_COL] = S_TGT,
		[C_TOK] = S_TGT,
		[C_VIS] = S_TGT,
		[C_SP]  = S_VER0 | A_TARGET,
	},
	[S_VER0] = {
		[C_TOK] = S_VER | A_MARK | A_VBYTE,
		[C_VIS] = S_VER | A_MARK | A_VBYTE,
	},
	[S_VER] = {
		[C_TOK] = S_VER | A_VBYTE,
		[C_VIS] = S_VER | A_VBYTE,
		[C_CR]  = S_RLLF | A_VERSION,
	},
	[S_RLLF] = {
		[C_LF]  = S_LINE,
	},
	[S_LINE] = {
		[C_TOK] = S_NAME | A_HNEW,
		[C_CR]  = S_ENDLF,
	},
	[S_NAME] = {
		[C_TOK] = S_NAME,
		[C_COL] = S_OWS | A_HNAME,
	},
	[S_OWS] = {
		[C_HT]  = S_OWS,
		[C_SP]  = S_OWS,
		[C_COL] = S_VAL | A_VSTART,
		[C_TOK] = S_VAL | A_VSTART,
		[C_VIS] = S_VAL | A_VSTART,
		[C_OBS] = S_VAL | A_VSTART,
		[C_CR]  = S_HLF | A_VEMPTY,
	},
	[S_VAL] = {
		[C_HT]  = S_VAL,
		[C_SP]  = S_VAL,
		[C_COL] = S_VAL | A_VEXT,
		[C_TOK] = S_VAL | A_VEXT,
		[C_VIS] = S_VAL | A_VEXT,
		[C_OBS] = S_VAL | A_VEXT,
		[C_CR]  = S_HLF,
	},
	[S_HLF] = {
		[C_LF]  = S_LINE,
	},
	[S_ENDLF] = {
		[C_LF]  = S_START | A_DONE,	/* the state is not used again */
	},
};

/* The shape of a version, one character per byte; 'd' is any digit. */
static const char http_parse_version_shape[HTTP_VERSION_LEN + 1] = "HTTP/d.d";

static unsigned
http_parse_classify(unsigned char c)
{
	return c >= 0x80 ? C_OBS : http_parse_class[c];
}

/*
 * Byte k of the version.  Checked as it arrives so that "GET / HTTX" is a
 * 400 at once; HTTP-name is case-sensitive (RFC 9112 §2.3).
 */
static int
http_parse_version_byte(size_t k, unsigned char c)
{
	if (k >= HTTP_VERSION_LEN)
		return 0;
	if (http_parse_version_shape[k] == 'd')
		return c >= '0' && c <= '9';
	return c == (unsigned char)http_parse_version_shape[k];
}

/* A Content-Length value without its leading zeros, for comparing values. */
static struct slice
http_parse_strip_zeros(struct slice s)
{
	while (s.n > 1 && s.p[0] == '0') {
		s.p++;
		s.n--;
	}
	return s;
}

/*
 * The framing of the message once the head is complete (RFC 9112 §6.3).
 * Returns what http_parse returns.
 */
static ssize_t
http_parse_body(struct http_req *req, size_t len)
{
	const struct http_header *cl;
	struct slice first, other;
	unsigned long v = 0;
	size_t i, need;
	int r = 0;

	/*
	 * We implement no transfer coding, so any Transfer-Encoding is a 501
	 * (RFC 9112 §6.1); it is checked first because with it Content-Length
	 * would not frame the body anyway (RFC 9112 §6.3 rule 3).
	 */
	if (http_header_find(req, "Transfer-Encoding", NULL) != NULL)
		return -ST_NOT_IMPLEMENTED;

	if ((cl = http_header_find(req, "Content-Length", NULL)) == NULL)
		return (ssize_t)req->r_head_len;

	/*
	 * Content-Length = 1*DIGIT (RFC 9110 §8.6), here at most
	 * HTTP_CLEN_DIGITS of them.  Several fields are one value when they
	 * all say the same number; otherwise the framing is ambiguous, a 400
	 * (RFC 9112 §6.3 rule 5).  Values are compared without leading zeros
	 * so that no conversion can overflow.
	 */
	first = http_parse_strip_zeros(cl->h_value);
	for (i = 0; i < req->r_nhdr; i++) {
		if (!slice_ieq(req->r_hdr[i].h_name, "Content-Length"))
			continue;
		other = req->r_hdr[i].h_value;
		if (other.n > HTTP_CLEN_DIGITS)
			return -ST_BAD_REQUEST;
		r = parse_uint_bounded(other.p, other.n, HTTP_BODY_MAX, &v);
		if (r == -1)
			return -ST_BAD_REQUEST;
		other = http_parse_strip_zeros(other);
		if (other.n != first.n || memcmp(other.p, first.p, first.n) != 0)
			return -ST_BAD_REQUEST;
	}
	/* All equal: r and v are those of every one of them. */

	/* A body on GET or HEAD has no meaning for IMDS (RFC 9110 §9.3.1). */
	if ((slice_eq(req->r_method, "GET") ||
	    slice_eq(req->r_method, "HEAD")) && (r == -2 || v > 0))
		return -ST_BAD_REQUEST;
	if (r == -2)
		return -ST_CONTENT_TOO_LARGE;

	req->r_body_len = v;
	need = req->r_head_len + v;
	return len < need ? 0 : (ssize_t)need;
}

ssize_t
http_parse(const char *buf, size_t len, const struct http_parse_limits *lim,
    struct http_req *req)
{
	const unsigned char *p = (const unsigned char *)buf;
	struct http_header *h = NULL;
	size_t i, mark = 0, scan;
	unsigned state = S_START;
	uint16_t t;

	req->r_method = (struct slice){ buf, 0 };
	req->r_target = (struct slice){ buf, 0 };
	req->r_minor = 0;
	req->r_nhdr = 0;
	req->r_head_len = 0;
	req->r_body_len = 0;

	/* The head must end within head_max bytes; look no further. */
	scan = len < lim->pl_head_max ? len : lim->pl_head_max;
	for (i = 0; i < scan; i++) {
		t = http_parse_trans[state][http_parse_classify(p[i])];
		state = t & T_STATE;
		if (state == S_ERR)
			return -ST_BAD_REQUEST;

		if (t & A_MARK)
			mark = i;
		if ((t & A_MLEN) && i - mark >= HTTP_METHOD_MAX)
			return -ST_BAD_REQUEST;
		if (t & A_METHOD)
			req->r_method = (struct slice){ buf + mark, i - mark };
		if (t & A_TARGET)
			req->r_target = (struct slice){ buf + mark, i - mark };
		if ((t & A_VBYTE) && !http_parse_version_byte(i - mark, p[i]))
			return -ST_BAD_REQUEST;
		if (t & A_VERSION) {
			if (i - mark != HTTP_VERSION_LEN)
				return -ST_BAD_REQUEST;
			/*
			 * Any other major version is one we do not speak
			 * (RFC 9112 §2.3, RFC 9110 §15.6.6); every 1.x is
			 * served as 1.1 is (RFC 9110 §2.5).
			 */
			if (p[mark + HTTP_VERSION_MAJOR] != '1')
				return -ST_VERSION_UNSUPPORTED;
			req->r_minor = p[mark + HTTP_VERSION_MINOR] - '0';
		}
		if (t & A_HNEW) {
			if (req->r_nhdr == lim->pl_headers_max)
				return -ST_FIELDS_TOO_LARGE;
			h = &req->r_hdr[req->r_nhdr++];
			h->h_name = (struct slice){ buf + i, 0 };
			h->h_value = (struct slice){ buf + i, 0 };
			mark = i;
		}
		/* h is set: the table reaches these only after A_HNEW. */
		if (t & A_HNAME)
			h->h_name.n = i - mark;
		if (t & A_VEMPTY)
			h->h_value = (struct slice){ buf + i, 0 };
		if (t & A_VSTART)
			h->h_value = (struct slice){ buf + i, 1 };
		if (t & A_VEXT)	/* not on SP or HT: that trims trailing OWS */
			h->h_value.n = (size_t)(buf + i + 1 - h->h_value.p);
		if (t & A_DONE) {
			req->r_head_len = i + 1;
			return http_parse_body(req, len);
		}
	}
	/* No end of head in the first head_max bytes: it is too large. */
	return len > lim->pl_head_max ? -ST_FIELDS_TOO_LARGE : 0;
}

void
http_parse_limits_set(struct http_parse_limits *lim, size_t head_max, size_t headers_max)
{
	lim->pl_head_max = head_max < HTTP_HEAD_MIN ? HTTP_HEAD_MIN :
	    head_max > HTTP_HEAD_MAX ? HTTP_HEAD_MAX : head_max;
	lim->pl_headers_max = headers_max < HTTP_HEADERS_MIN ? HTTP_HEADERS_MIN :
	    headers_max > HTTP_HEADERS_MAX ? HTTP_HEADERS_MAX : headers_max;
}

const struct http_header *
http_header_find(const struct http_req *req, const char *name, size_t *count)
{
	const struct http_header *first = NULL;
	size_t i, n = 0;

	for (i = 0; i < req->r_nhdr; i++) {
		if (!slice_ieq(req->r_hdr[i].h_name, name))
			continue;
		if (first == NULL)
			first = &req->r_hdr[i];
		n++;
	}
	if (count != NULL)
		*count = n;
	return first;
}
