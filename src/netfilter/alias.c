/*
 * alias.c: the magic addresses on lo.  alias mode puts each row's IPv4
 * address (/32, label lo:imds) on lo, and its IPv6 one with --ipv6, and the
 * server listens on them itself: no packet filter at all (as aws-vault does
 * on a laptop).  nat mode with --ipv6 puts a row's IPv6 address on lo too
 * when the server listens there for the pods (lo6_up).
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "netfilter/netfilter.h"


/* The IPv6 addresses lo6_up put on lo (nat mode), to take off again. */
static struct {
	unsigned char	 addr[MAGIC_ENDPOINTS_MAX][16];
	size_t		 n;
} lo6;

/* The rows of mc, or, when it has none (`magic-ip down`), every known row. */
static const struct magic_endpoint *
rows(const struct magic_conf *mc, size_t *n, struct magic_endpoint *known)
{
	if (mc->mc_nep > 0) {
		*n = mc->mc_nep;
		return mc->mc_ep;
	}
	*n = magicip_known_rows(known);
	return known;
}

/* Whether lo carries addr (for IPv4: under our label).  1 / 0. */
static int
alias_present(int family, const unsigned char *addr)
{
	struct ifaddrs *ifa, *p;
	int found = 0;

	if (getifaddrs(&ifa) == -1)
		return 0;
	for (p = ifa; p != NULL && !found; p = p->ifa_next) {
		if (p->ifa_addr == NULL || p->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			found = strcmp(p->ifa_name, MAGIC_LABEL) == 0 &&
			    memcmp(&((struct sockaddr_in *)p->ifa_addr)->sin_addr, addr, 4) == 0;
		else
			found = strcmp(p->ifa_name, "lo") == 0 &&
			    memcmp(&((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr, addr, 16) == 0;
	}
	freeifaddrs(ifa);
	return found;
}

/*
 * Put addr on lo (add 1) or take it off (add 0), under our label for
 * IPv4, unless it already is, or is not, there.  1 done, 0 nothing to do,
 * -1 with err.
 */
static int
alias_set(int add, int family, const unsigned char *addr, char *err, size_t errlen)
{
	if (alias_present(family, addr) == add)
		return 0;
	if (nl_addr(add, family, addr, "lo", family == AF_INET ? MAGIC_LABEL : NULL, err,
	    errlen) == -1)
		return -1;
	return 1;
}

int
lo6_up(const struct magic_conf *mc, char *err, size_t errlen)
{
	size_t e;
	int r;

	for (e = 0; e < mc->mc_nep; e++) {
		const unsigned char *a6 = mc->mc_ep[e].me_ip6;
		if (!magic_ep_pods_v6(mc, &mc->mc_ep[e]))
			continue;
		if ((r = alias_set(1, AF_INET6, a6, err, errlen)) == -1)
			return -1;
		if (r == 1 && lo6.n < MAGIC_ENDPOINTS_MAX)	/* ours: taken off again */
			memcpy(lo6.addr[lo6.n++], a6, 16);
	}
	return 0;
}

int
lo6_down(char *err, size_t errlen)
{
	int rc = 0;

	while (lo6.n > 0)
		if (alias_set(0, AF_INET6, lo6.addr[--lo6.n], err, errlen) == -1)
			rc = -1;
	return rc;
}

int
alias_up(const struct magic_conf *mc, char *err, size_t errlen)
{
	char e2[ERRBUF_LEN], text[MAGIC_ENDPOINTS_MAX * (INET6_ADDRSTRLEN * 2 + 8)];
	struct sbuf b = SBUF_FIXED(text, sizeof(text));
	struct magic_ep_text t;
	size_t e;

	for (e = 0; e < mc->mc_nep; e++) {
		const struct magic_endpoint *me = &mc->mc_ep[e];
		if (alias_set(1, AF_INET, me->me_ip4, err, errlen) == -1 ||
		    (magic_ep_v6(mc, me) && alias_set(1, AF_INET6, me->me_ip6, err, errlen) == -1)) {
			alias_down(mc, e2, sizeof(e2));
			return -1;
		}
		magic_ep_text(me, &t);
		sbuf_printf(&b, "%s%s%s%s", e ? ", " : "", t.et_ip4, magic_ep_v6(mc, me) ?
		    " and " : "", magic_ep_v6(mc, me) ? t.et_ip6 : "");
	}
	log_info("magic-ip: installed (alias): %s on lo", text);
	return 0;
}

int
alias_down(const struct magic_conf *mc, char *err, size_t errlen)
{
	struct magic_endpoint known[MAGIC_KNOWN_ROWS];
	const struct magic_endpoint *me;
	size_t n, e;
	int any = 0, r4, r6;

	me = rows(mc, &n, known);
	for (e = 0; e < n; e++) {
		if ((r4 = alias_set(0, AF_INET, me[e].me_ip4, err, errlen)) == -1 ||
		    (r6 = alias_set(0, AF_INET6, me[e].me_ip6, err, errlen)) == -1)
			return -1;
		any |= r4 | r6;
	}
	return any;
}

int
alias_status(FILE *out)
{
	struct magic_conf none = { .mc_nep = 0 };
	struct magic_endpoint known[MAGIC_KNOWN_ROWS];
	const struct magic_endpoint *me;
	char a[INET6_ADDRSTRLEN];
	size_t n, e;
	int any = 0;

	me = rows(&none, &n, known);
	for (e = 0; e < n; e++) {
		if (alias_present(AF_INET, me[e].me_ip4)) {
			nl_addr_text(AF_INET, me[e].me_ip4, a, sizeof(a));
			fprintf(out, "alias: %s/32 on lo (label %s)\n", a, MAGIC_LABEL);
			any = 1;
		}
		if (alias_present(AF_INET6, me[e].me_ip6)) {
			nl_addr_text(AF_INET6, me[e].me_ip6, a, sizeof(a));
			fprintf(out, "alias: %s/128 on lo\n", a);
			any = 1;
		}
	}
	return any;
}
