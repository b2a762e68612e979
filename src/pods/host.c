/*
 * host.c: the host's own addresses, the node's identity (hostNetwork pods
 * and the node's own processes call from them).  pods_node_who looks an
 * address no pod owns up here, and Pod Identity exempts them from its
 * per-address throttle.
 *
 * They are read with getifaddrs at start, then again only when the kernel
 * says an address came or went: a NETLINK_ROUTE socket joined to the IPv4
 * and IPv6 address groups, on the loop.  (Read every second, they woke an
 * idle daemon and kept libc's netlink code in its memory.)  A notification
 * is not parsed: any message, or an overrun (ENOBUFS: some were lost), means
 * read them all again.  Without the socket (no loop: unit tests; or the
 * kernel refused it) the tick reads them, as before.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pods/pods.h"
#include "core/core.h"
#include "http/http.h"
#include "netfilter/netfilter.h"

#define HOST_NOTIFY_BUF		4096	/* bytes read at a time from the netlink socket (discarded) */
#define HOST_NOTIFY_READS_MAX	64	/* reads at one wake-up (the rest wakes the loop again) */

static struct {
	struct pod_addr	 addrs[POD_HOST_ADDRS_MAX];
	size_t		 n;
	int		 fd;		/* the netlink socket; -1: none, the tick reads */
	int		 read;		/* read once: a change is logged from then on */
	struct loop_watch w;
} host = { .fd = -1 };

void
pods_host_read(void)
{
	struct pod_addr was[POD_HOST_ADDRS_MAX], *a;
	struct ifaddrs *ifa, *i;
	size_t nwas = host.n;

	if (getifaddrs(&ifa) == -1)
		return;		/* keep the set we have */
	memcpy(was, host.addrs, nwas * sizeof(was[0]));
	host.n = 0;
	for (i = ifa; i != NULL && host.n < POD_HOST_ADDRS_MAX; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		a = &host.addrs[host.n++];
		memset(a, 0, sizeof(*a));
		a->pa_family = i->ifa_addr->sa_family;
		if (a->pa_family == AF_INET)
			memcpy(a->pa_addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		else
			memcpy(a->pa_addr,
			    &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
	}
	freeifaddrs(ifa);
	if (host.read && (host.n != nwas || memcmp(was, host.addrs, nwas * sizeof(was[0])) != 0))
		log_info("pods: the host's own addresses changed: %zu now", host.n);
	host.read = 1;
}

/* The kernel told of an address change (or lost some notices): drain, read again. */
static void
host_notified(int fd, uint32_t events, void *arg)
{
	char buf[HOST_NOTIFY_BUF];
	ssize_t n;
	int i = 0;

	(void)events;
	(void)arg;
	do
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (++i < HOST_NOTIFY_READS_MAX &&
	    (n > 0 || (n == -1 && (errno == EINTR || errno == ENOBUFS))));
	pods_host_read();
}

int
pods_host_watch(void)
{
	int fd;

	if (host.fd != -1)
		return 0;
	if ((fd = nl_events_open(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)) == -1)
		return -1;
	if (loop_watch_add(&host.w, fd, EPOLLIN, host_notified, NULL) == -1) {
		close(fd);
		return -1;
	}
	host.fd = fd;
	pods_host_read();	/* what changed between the first read and the socket */
	return 0;
}

void
pods_host_unwatch(void)
{
	if (host.fd == -1)
		return;
	loop_watch_del(&host.w);
	close(host.fd);
	host.fd = -1;
}

IDLE_PATH void
pods_host_tick(void)
{
	if (host.fd == -1)
		pods_host_read();
}

int
pods_host_has(const struct http_peer *pe)
{
	size_t i, n = pe->pe_family == AF_INET ? 4 : 16;

	for (i = 0; i < host.n; i++)
		if (host.addrs[i].pa_family == pe->pe_family &&
		    memcmp(host.addrs[i].pa_addr, pe->pe_addr, n) == 0)
			return 1;
	return 0;
}
