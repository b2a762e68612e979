/*
 * log.c: one line per event on stderr, as text or JSON.
 *
 * Text:  2025-06-02T09:20:28Z info: listening on 127.0.0.1:1338
 * JSON:  {"time":"2025-06-02T09:20:28Z","level":"info","msg":"listening on 127.0.0.1:1338"}
 *
 * Messages are built in a fixed buffer and written with one write(2), so
 * lines never interleave.  Nothing here ever sees a secret: callers log key
 * IDs and file names only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define LOG_LINE_MAX	2048	/* bytes in one log line, truncated beyond */

static int		log_json;
static enum log_level	log_min = LOG_LVL_INFO;

static const char *const lvl_names[] = { "debug", "info", "warn", "error" };

void
log_init(int json, enum log_level min)
{
	log_json = json;
	log_min = min;
}

/* Append s[0..n) to buf, escaped for the current format. */
static size_t
log_put(char *buf, size_t off, size_t cap, const char *s, size_t n, int json)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && off + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (json && (c == '"' || c == '\\')) {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (CTL_BYTE(c) || (json && c >= 0x80)) {
			/* control bytes never reach the terminal raw */
			buf[off++] = '\\';
			if (json) {
				memcpy(buf + off, "u00", 3);
				off += 3;
			} else
				buf[off++] = 'x';
			buf[off++] = hex[c >> 4];
			buf[off++] = hex[c & 15];
		} else
			buf[off++] = (char)c;
	}
	return off;
}

/* Append s[0..n) as it is, cut at cap. */
static size_t
log_raw(char *buf, size_t off, size_t cap, const char *s, size_t n)
{
	if (off >= cap)
		return off;
	if (n > cap - off)
		n = cap - off;
	memcpy(buf + off, s, n);
	return off + n;
}

static size_t
log_lit(char *buf, size_t off, size_t cap, const char *s)
{
	return log_raw(buf, off, cap, s, strlen(s));
}

static void
log_emit(enum log_level lvl, const char *msg, size_t msglen, const char *extra,
    size_t extralen)
{
	char line[LOG_LINE_MAX + 64], ts[ISO_DATE_LEN + 1];
	size_t off = 0, cap = sizeof(line) - 2;
	ssize_t w;

	fmt_iso8601(time(NULL), ts);
	if (log_json) {
		off = log_lit(line, off, cap, "{\"time\":\"");
		off = log_lit(line, off, cap, ts);
		off = log_lit(line, off, cap, "\",\"level\":\"");
		off = log_lit(line, off, cap, lvl_names[lvl]);
		off = log_lit(line, off, cap, "\",\"msg\":\"");
		off = log_put(line, off, cap, msg, msglen, 1);
		off = log_lit(line, off, cap, "\"");
		if (extra != NULL)	/* pre-rendered JSON members */
			off = log_raw(line, off, cap, extra, extralen);
		off = log_lit(line, off, cap + 1, "}");
	} else {
		off = log_lit(line, off, cap, ts);
		off = log_lit(line, off, cap, " ");
		off = log_lit(line, off, cap, lvl_names[lvl]);
		off = log_lit(line, off, cap, ": ");
		off = log_put(line, off, cap, msg, msglen, 0);
		if (extra != NULL)
			off = log_raw(line, off, cap, extra, extralen);
	}
	line[off++] = '\n';
	do
		w = write(STDERR_FILENO, line, off);
	while (w == -1 && errno == EINTR);
}

static void
log_vmsg(enum log_level lvl, const char *errstr, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int n;
	size_t len;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	len = n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n;
	if (errstr != NULL) {
		n = snprintf(msg + len, sizeof(msg) - len, ": %s", errstr);
		if (n > 0)
			len += (size_t)n >= sizeof(msg) - len ? sizeof(msg) - len - 1 : (size_t)n;
	}
	log_emit(lvl, msg, len, NULL, 0);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, NULL, fmt, ap);
	va_end(ap);
}

/*
 * One field of a log line: ` name=value` as text, `,"name":"value"` as
 * JSON (`,"name":value` for numbers).  value is escaped for the format.
 */
static size_t
log_field(char *buf, size_t off, size_t cap, const char *name, const char *val, size_t n,
    int number)
{
	off = log_lit(buf, off, cap, log_json ? ",\"" : " ");
	off = log_lit(buf, off, cap, name);
	off = log_lit(buf, off, cap, log_json ? (number ? "\":" : "\":\"") : "=");
	off = log_put(buf, off, cap, val, n, log_json);
	if (log_json && !number)
		off = log_lit(buf, off, cap, "\"");
	return off;
}

/*
 * The access log: "access client=... method=... path=... status=... bytes=...
 * imds=v1|v2|bad".  method and path are untrusted bytes: they are escaped.
 */
void
log_access(const char *client, struct slice method, struct slice path, int status,
    size_t bytes, const char *imds)
{
	char extra[LOG_LINE_MAX], num[32];
	size_t off = 0, cap = sizeof(extra);
	int n;

	if (LOG_LVL_INFO < log_min)
		return;
	off = log_field(extra, off, cap, "client", client, strlen(client), 0);
	off = log_field(extra, off, cap, "method", method.p, method.n, 0);
	off = log_field(extra, off, cap, "path", path.p, path.n, 0);
	n = snprintf(num, sizeof(num), "%d", status);
	off = log_field(extra, off, cap, "status", num, (size_t)n, 1);
	n = snprintf(num, sizeof(num), "%zu", bytes);
	off = log_field(extra, off, cap, "bytes", num, (size_t)n, 1);
	off = log_field(extra, off, cap, "imds", imds, strlen(imds), 0);
	log_emit(LOG_LVL_INFO, "access", 6, extra, off);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, e, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(code);
}
