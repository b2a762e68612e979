/*
 * head.c: the response head writer.
 *
 * A status line and an ordered list of fields, nothing else: which fields a
 * service sends, and in which order, is the service's data (IMDS's orders
 * of contract §2.3 live in imds/routes.c, the health listener's in
 * ops/health.c).  Writes into the caller's buffer, never past cap.
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

/* A head being written into a capped buffer. */
struct head {
	char	*hd_buf;
	size_t	 hd_len, hd_cap;
	int	 hd_short;	/* something did not fit */
};

static void
head_put(struct head *h, const char *s, size_t n)
{
	if (h->hd_len + n > h->hd_cap) {
		h->hd_short = 1;
		return;
	}
	memcpy(h->hd_buf + h->hd_len, s, n);
	h->hd_len += n;
}

static void
head_lit(struct head *h, const char *s)
{
	head_put(h, s, strlen(s));
}

static void
head_num(struct head *h, unsigned long v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	head_put(h, d + i, sizeof(d) - i);
}

size_t
http_head_write(char *buf, size_t cap, int status, const struct http_field *f, size_t n)
{
	struct head h = { buf, 0, cap, 0 };
	size_t i;

	head_lit(&h, "HTTP/1.1 ");
	head_num(&h, (unsigned long)status);
	head_lit(&h, " ");
	head_lit(&h, http_reason(status));
	head_lit(&h, "\r\n");
	for (i = 0; i < n; i++) {
		head_lit(&h, f[i].hf_name);
		head_lit(&h, ": ");
		if (f[i].hf_value != NULL)
			head_lit(&h, f[i].hf_value);
		else
			head_num(&h, f[i].hf_num);
		head_lit(&h, "\r\n");
	}
	head_lit(&h, "\r\n");
	return h.hd_short ? 0 : h.hd_len;
}
