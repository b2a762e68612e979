/*
 * netlink.c: the few rtnetlink requests the magic IP needs.
 *
 *   - an address on lo (alias mode): RTM_NEWADDR / RTM_DELADDR
 *   - route_localnet on one interface: RTM_NEWLINK carrying
 *     IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { ROUTE_LOCALNET } } },
 *     which works where /proc/sys is read-only (containers) as long as
 *     the process has CAP_NET_ADMIN
 *   - news of interfaces that appear (RTMGRP_LINK), so that pods created
 *     after start get route_localnet too
 *
 * Requests are synchronous on a private socket and wait for the kernel's
 * acknowledgement (NLM_F_ACK) with a receive timeout; they run at start,
 * at exit, and when an interface appears, never on the request path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "netfilter/netfilter.h"

/* A request: the netlink header, the family header, room for attributes. */
struct nl_req {
	struct nlmsghdr	 n;
	char		 buf[NL_REQ_MAX];
};

/* Append an attribute; nest_start/nest_end bracket nested ones.  -1 if full. */
static struct rtattr *
nl_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a;
	size_t at = NLMSG_ALIGN(r->n.nlmsg_len), need = RTA_SPACE(len);

	if (at + need > sizeof(*r))
		return NULL;
	a = (struct rtattr *)((char *)r + at);
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	r->n.nlmsg_len = (unsigned)(at + need);
	return a;
}

static void
nl_nest_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)r + r->n.nlmsg_len - (char *)nest);
}

/* Send r and wait for its acknowledgement.  0, or -1 with errno set (the kernel's). */
static int
nl_talk(struct nl_req *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { NL_TIMEOUT_MS / 1000, (NL_TIMEOUT_MS % 1000) * 1000 };
	char reply[NL_REPLY_MAX];
	struct nlmsghdr *h;
	ssize_t got;
	int fd, saved;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r->n.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->n.nlmsg_seq = 1;
	if (sendto(fd, r, r->n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		goto fail;
	for (;;) {
		if ((got = recv(fd, reply, sizeof(reply), 0)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		for (h = (struct nlmsghdr *)reply; NLMSG_OK(h, (size_t)got);
		    h = NLMSG_NEXT(h, got)) {
			if (h->nlmsg_seq != 1 || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
				errno = EPROTO;
				goto fail;
			}
			saved = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
			close(fd);
			errno = saved;
			return saved == 0 ? 0 : -1;
		}
	}
fail:
	close_keep_errno(fd);
	return -1;
}

int
nl_addr(int add, int family, const unsigned char *addr, const char *ifname,
    const char *label, char *err, size_t errlen)
{
	struct nl_req r;
	struct ifaddrmsg *ifa;
	unsigned idx;
	size_t alen = family == AF_INET6 ? 16 : 4;
	char text[INET6_ADDRSTRLEN];

	nl_addr_text(family, addr, text, sizeof(text));
	/* lo is 1 in every namespace; no ioctl, which the sandbox refuses */
	if ((idx = strcmp(ifname, "lo") == 0 ? NL_LOOPBACK_IFINDEX : if_nametoindex(ifname)) == 0) {
		snprintf(err, errlen, "%s: %s", ifname, strerror(errno));
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	r.n.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	r.n.nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
	ifa = NLMSG_DATA(&r.n);
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)(alen * 8);
	ifa->ifa_scope = RT_SCOPE_HOST;
	ifa->ifa_index = idx;
	if (family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;	/* usable at once, no duplicate detection */
	if (nl_attr(&r, IFA_LOCAL, addr, alen) == NULL || nl_attr(&r, IFA_ADDRESS, addr,
	    alen) == NULL || (label != NULL && family == AF_INET &&
	    nl_attr(&r, IFA_LABEL, label, strlen(label) + 1) == NULL)) {
		snprintf(err, errlen, "can't happen: netlink request too long");
		return -1;
	}
	if (nl_talk(&r) == -1) {
		snprintf(err, errlen, "%s %s %s %s: %s", add ? "adding" : "removing", text,
		    add ? "to" : "from", ifname, strerror(errno));
		return -1;
	}
	return 0;
}

int
nl_route_localnet(unsigned ifindex, const char *ifname, int on, char *err, size_t errlen)
{
	struct nl_req r;
	struct ifinfomsg *ifi;
	struct rtattr *spec, *inet, *conf;
	uint32_t v = on ? 1 : 0;

	if (ifindex == 0 && strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "%s: %s", ifname, strerror(ENODEV));
		errno = ENODEV;
		return -1;
	}
	/*
	 * the interface by index, or by name (IFLA_IFNAME, index 0): no ioctl,
	 * which the sandbox refuses
	 */
	memset(&r, 0, sizeof(r));
	r.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r.n.nlmsg_type = RTM_NEWLINK;
	ifi = NLMSG_DATA(&r.n);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if ((ifindex == 0 && nl_attr(&r, IFLA_IFNAME, ifname, strlen(ifname) + 1) == NULL) ||
	    (spec = nl_attr(&r, IFLA_AF_SPEC, NULL, 0)) == NULL ||
	    (inet = nl_attr(&r, AF_INET, NULL, 0)) == NULL ||
	    (conf = nl_attr(&r, IFLA_INET_CONF, NULL, 0)) == NULL ||
	    nl_attr(&r, IPV4_DEVCONF_ROUTE_LOCALNET, &v, sizeof(v)) == NULL) {
		snprintf(err, errlen, "can't happen: netlink request too long");
		return -1;
	}
	nl_nest_end(&r, conf);
	nl_nest_end(&r, inet);
	nl_nest_end(&r, spec);
	if (nl_talk(&r) == -1) {
		snprintf(err, errlen, "setting route_localnet=%u on %s: %s", v, ifname,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
nl_route_localnet_get(const char *ifname)
{
	char path[NL_SYSCTL_PATH_MAX], buf[8];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet",
	    ifname) >= (int)sizeof(path) || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return buf[0] == '1';
}

int
nl_events_open(unsigned groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
nl_link_events_read(int fd, void (*cb)(unsigned ifindex, const char *ifname, int gone,
    void *arg), void *arg)
{
	char buf[NL_REPLY_MAX];
	struct nlmsghdr *h;
	ssize_t got;

	for (;;) {
		if ((got = recv(fd, buf, sizeof(buf), 0)) == -1) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: events were lost; the caller rescans */
			return errno == EAGAIN ? 0 : -1;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
			struct ifinfomsg *ifi;
			struct rtattr *a;
			int alen;

			if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
				continue;
			ifi = NLMSG_DATA(h);
			alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
			for (a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				char name[IFNAMSIZ];
				size_t n = RTA_PAYLOAD(a);
				if (a->rta_type != IFLA_IFNAME || n == 0 || n > IFNAMSIZ)
					continue;
				memcpy(name, RTA_DATA(a), n);
				name[n - 1] = '\0';
				cb((unsigned)ifi->ifi_index, name, h->nlmsg_type == RTM_DELLINK,
				    arg);
			}
		}
	}
}

void
nl_addr_text(int family, const unsigned char *addr, char *out, size_t len)
{
	if (inet_ntop(family, addr, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}
