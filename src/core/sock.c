/*
 * sock.c: listening sockets and socket addresses as text.
 *
 * listen_addr_parse reads "ADDR:PORT" and "[IPv6]:PORT" (bounded: the text
 * is under LISTEN_ADDR_TEXT_MAX bytes, the port a bounded number);
 * sock_listen binds a non-blocking, close-on-exec listener (SO_REUSEADDR,
 * IPv6 only on IPv6 addresses, IP_FREEBIND in alias mode) with a backlog of
 * SOCK_BACKLOG; sock_addr_text writes "addr:port" or "[addr]:port".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"

int
listen_addr_parse(const char *s, struct listen_addr *out, char *err, size_t errlen)
{
	const char *colon, *host, *port;
	char hostbuf[INET6_ADDRSTRLEN];
	size_t hlen;
	unsigned long p;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(out->la_text)) {
		snprintf(err, errlen, "'%s' is too long", s);
		return -1;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':') {
			snprintf(err, errlen, "'%s': expected [IPv6]:PORT", s);
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(rb - host);
		port = rb + 2;
		out->la_family = AF_INET6;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			snprintf(err, errlen, "'%s': expected ADDR:PORT", s);
			return -1;
		}
		host = s;
		hlen = (size_t)(colon - s);
		port = colon + 1;
		out->la_family = AF_INET;
	}
	if (hlen == 0 || hlen >= sizeof(hostbuf)) {
		snprintf(err, errlen, "'%s': bad address", s);
		return -1;
	}
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	if (inet_pton(out->la_family, hostbuf, out->la_addr) != 1) {
		snprintf(err, errlen, "'%s': '%s' is not an IPv%c address", s, hostbuf,
		    out->la_family == AF_INET ? '4' : '6');
		return -1;
	}
	if (parse_uint_bounded(port, strlen(port), 65535, &p) != 0) {
		snprintf(err, errlen, "'%s': port must be a number from 0 to 65535", s);
		return -1;
	}
	out->la_port = (unsigned)p;
	snprintf(out->la_text, sizeof(out->la_text), "%s", s);
	return 0;
}

void
sock_addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

int
sock_listen(const struct listen_addr *la, struct sock_bound *b, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (la->la_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, la->la_addr, 16);
		s6->sin6_port = htons((uint16_t)la->la_port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, la->la_addr, 4);
		s4->sin_port = htons((uint16_t)la->la_port);
		sl = sizeof(*s4);
	}
	fd = socket(la->la_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket for %s: %s", la->la_text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (la->la_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (la->la_freebind)
		setsockopt(fd, la->la_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
		    la->la_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 || listen(fd, SOCK_BACKLOG) == -1) {
		snprintf(err, errlen, "listen on %s: %s", la->la_text, strerror(errno));
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	b->so_fd = fd;
	b->so_family = la->la_family;
	sock_addr_text(&ss, b->so_text, sizeof(b->so_text));
	b->so_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}
