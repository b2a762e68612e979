/*
 * head.c: the response head writer.
 *
 * A status line and an ordered list of fields, nothing else: which fields a
 * service sends, and in which order, is the service's data (the orders of
 * contract §2.3 live in imds/routes.c, response_head, which the health
 * listener, ops/health.c, uses too).  Writes into the caller's buffer,
 * never past cap.
 */
#include <string.h>

#include "http/http.h"

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Not Allowed";		/* sic: nginx's phrase, §2.2 */
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";	/* /readyz; a deferred answer too late */
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* Written into the caller's buffer as bytes (SBUF_RAW: no NUL, nothing allocated). */
size_t
http_head_write(char *buf, size_t cap, int status, const struct http_field *f, size_t n)
{
	struct sbuf h = SBUF_RAW(buf, cap);
	size_t i;

	sbuf_puts(&h, "HTTP/1.1 ");
	sbuf_num(&h, (unsigned long)status);
	sbuf_put(&h, " ", 1);
	sbuf_puts(&h, http_reason(status));
	sbuf_put(&h, "\r\n", 2);
	for (i = 0; i < n; i++) {
		sbuf_puts(&h, f[i].hf_name);
		sbuf_put(&h, ": ", 2);
		if (f[i].hf_value != NULL)
			sbuf_puts(&h, f[i].hf_value);
		else
			sbuf_num(&h, f[i].hf_num);
		sbuf_put(&h, "\r\n", 2);
	}
	sbuf_put(&h, "\r\n", 2);
	return h.sb_full ? 0 : h.sb_len;
}
