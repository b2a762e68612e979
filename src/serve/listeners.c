/*
 * listeners.c: the listeners the options imply beyond --listen: those
 * --magic-ip needs (alias: on the magic addresses themselves; nat with
 * --ipv6: on fd00:ec2::254), --ecs's and --pod-identity's default ones,
 * and the rows of the magic IP's endpoint table with the listeners nat
 * sends each to (IMDS's, ECS's with --ecs, Pod Identity's with
 * --pod-identity).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "serve/serve.h"
#include "container/container.h"

/* ------------------------------------------------------------------ */
/* --magic-ip's listeners                                             */
/* ------------------------------------------------------------------ */

/*
 * The listener --magic-ip (nat) sends family's traffic to: the first
 * loopback or wildcard one, else the first of that family.  -1 if none.
 */
static int
magic_target(const struct listen_addr *list, size_t n, int family)
{
	static const unsigned char any[16];
	size_t i;
	int first = -1;

	for (i = 0; i < n; i++) {
		const struct listen_addr *la = &list[i];
		if (la->la_family != family || la->la_freebind)
			continue;
		if (first == -1)
			first = (int)i;
		if (family == AF_INET ? la->la_addr[0] == 127 || memcmp(la->la_addr, any, 4) == 0 :
		    memcmp(la->la_addr, any, 15) == 0)	/* ::1 and :: */
			return (int)i;
	}
	return first;
}

/* serve's own listener of list on [ip6] (nat with --ipv6), or -1. */
static int
magic_own6(const struct listen_addr *list, size_t n, const char *ip6)
{
	unsigned char a6[16];
	size_t i;

	inet_pton(AF_INET6, ip6, a6);
	for (i = 0; i < n; i++)
		if (list[i].la_family == AF_INET6 && list[i].la_freebind &&
		    memcmp(list[i].la_addr, a6, 16) == 0)
			return (int)i;
	return -1;
}

/* Where nat sends a row's IPv4 address: listener i of sv, of list. */
static void
magic_to4(struct magic_endpoint *me, const struct http_service *sv,
    const struct listen_addr *list, int i, int bound)
{
	memcpy(me->me_to4, list[i].la_addr, 4);
	if (me->me_to4[0] == 0)		/* 0.0.0.0: the host itself */
		inet_pton(AF_INET, "127.0.0.1", me->me_to4);
	me->me_port4 = bound ? http_bound_port(sv, (size_t)i) : list[i].la_port;
}

/* Where nat sends a row's IPv6 address: listener i of sv, of list. */
static void
magic_to6(struct magic_endpoint *me, const struct http_service *sv,
    const struct listen_addr *list, int i, int bound)
{
	memcpy(me->me_to6, list[i].la_addr, 16);
	if (me->me_to6[15] == 0)	/* :: */
		inet_pton(AF_INET6, "::1", me->me_to6);
	me->me_port6 = bound ? http_bound_port(sv, (size_t)i) : list[i].la_port;
}

void
opts_magic_targets(struct serve_options *o, int bound)
{
	struct magic_conf *mc = &o->magic;
	struct magic_endpoint *me = &mc->mc_ep[0], *pe;
	int i;

	magicip_endpoint(me, MAGIC_IPV4, MAGIC_IPV6, MAGIC_PORT, 1);
	mc->mc_nep = 1;
	if ((i = magic_target(o->listen, o->nlisten, AF_INET)) >= 0)
		magic_to4(me, &imds_http_service, o->listen, i, bound);
	if (o->ecs) {
		/* ECS's row: 169.254.170.2:80 to the first loopback ECS listener */
		magicip_endpoint(&mc->mc_ep[mc->mc_nep], MAGIC_ECS_IPV4, NULL, MAGIC_ECS_PORT, 0);
		if ((i = magic_target(o->ecs_listen, o->necs_listen, AF_INET)) >= 0)
			magic_to4(&mc->mc_ep[mc->mc_nep], &ecs_http_service, o->ecs_listen, i,
			    bound);
		mc->mc_nep++;
	}
	if (o->pod_identity) {
		/* Pod Identity's: 169.254.170.23:80 (and [fd00:ec2::23]:80 to its own) */
		pe = &mc->mc_ep[mc->mc_nep++];
		magicip_endpoint(pe, MAGIC_POD_ID_IPV4, MAGIC_POD_ID_IPV6, MAGIC_POD_ID_PORT, 0);
		if ((i = magic_target(o->pi_listen, o->npi_listen, AF_INET)) >= 0)
			magic_to4(pe, &pod_identity_http_service, o->pi_listen, i, bound);
		if (mc->mc_ipv6 && ((i = magic_own6(o->pi_listen, o->npi_listen,
		    MAGIC_POD_ID_IPV6)) >= 0 || (i = magic_target(o->pi_listen, o->npi_listen,
		    AF_INET6)) >= 0))
			magic_to6(pe, &pod_identity_http_service, o->pi_listen, i, bound);
	}
	if (mc->mc_ipv6 && ((i = magic_own6(o->listen, o->nlisten, MAGIC_IPV6)) >= 0 ||
	    (i = magic_target(o->listen, o->nlisten, AF_INET6)) >= 0))
		magic_to6(me, &imds_http_service, o->listen, i, bound);
}

/* Add one listener of our own to list (*n of LISTEN_MAX).  0 / -1 with err. */
static int
list_add(struct listen_addr *list, size_t *n, const char *why, const char *text,
    int freebind, char *err, size_t errlen)
{
	if (*n == LISTEN_MAX) {
		snprintf(err, errlen, "%s: needs a listener more than the %d allowed", why,
		    LISTEN_MAX);
		return -1;
	}
	if (listen_addr_parse(text, &list[*n], err, errlen) == -1)
		fatalx(EXIT_BUG, "can't happen: %s", err);
	list[(*n)++].la_freebind = freebind;
	return 0;
}

/* An IMDS listener of our own (for --magic-ip).  0 / -1 with err. */
static int
listen_add(struct serve_options *o, const char *text, int freebind, char *err, size_t errlen)
{
	return list_add(o->listen, &o->nlisten, "--magic-ip", text, freebind, err, errlen);
}

/* A container endpoint's magic address, as its listeners need it. */
struct ctr_listen {
	const char	*cl_flag;	/* "--ecs": its listeners are given by cl_flag-listen */
	const char	*cl_ip4;	/* its magic IPv4 address */
	const char	*cl_ip6;	/* its magic IPv6 address; NULL: it has none */
	int		 cl_port;	/* the port of both */
};

static const struct ctr_listen ecs_magic = {
	"--ecs", MAGIC_ECS_IPV4, NULL, MAGIC_ECS_PORT
};
static const struct ctr_listen pi_magic = {
	"--pod-identity", MAGIC_POD_ID_IPV4, MAGIC_POD_ID_IPV6, MAGIC_POD_ID_PORT
};

/*
 * A container endpoint's listeners (list, *n; *on: it is served): those
 * its -listen flag gave, and with --magic-ip those its row needs (alias:
 * on its magic address itself, 169.254.170.2:80 or 169.254.170.23:80, and
 * with --ipv6 on its IPv6 one, [fd00:ec2::23]:80, where it has one; nat: a
 * loopback one, on a free port unless its -listen flag gave one, and with
 * --ipv6 one on its IPv6 address, which magicip_up puts on lo, on the same
 * port).  0 / -1 with err.
 */
static int
ctr_listeners(struct serve_options *o, const struct ctr_listen *cl, int *on,
    struct listen_addr *list, size_t *n, char *err, size_t errlen)
{
	char text[sizeof(o->listen[0].la_text)];
	int i;

	if (*n > 0)
		*on = 1;
	if (!*on)
		return 0;
	switch (o->magic.mc_mode) {
	case MAGIC_OFF:
		if (*n == 0) {
			snprintf(err, errlen, "%s needs %s-listen ADDR:PORT or --magic-ip",
			    cl->cl_flag, cl->cl_flag);
			return -1;
		}
		return 0;
	case MAGIC_ALIAS:
		snprintf(text, sizeof(text), "%s:%d", cl->cl_ip4, cl->cl_port);
		if (list_add(list, n, cl->cl_flag, text, 1, err, errlen) == -1)
			return -1;
		if (cl->cl_ip6 == NULL || !o->magic.mc_ipv6)
			return 0;
		snprintf(text, sizeof(text), "[%s]:%d", cl->cl_ip6, cl->cl_port);
		return list_add(list, n, cl->cl_flag, text, 1, err, errlen);
	default:
		if ((i = magic_target(list, *n, AF_INET)) < 0) {
			if (list_add(list, n, cl->cl_flag, "127.0.0.1:0", 0, err, errlen) == -1)
				return -1;
			i = (int)*n - 1;
		}
		if (cl->cl_ip6 == NULL || !o->magic.mc_ipv6 || o->magic_up_verb)
			return 0;
		snprintf(text, sizeof(text), "[%s]:%u", cl->cl_ip6, list[i].la_port);
		return list_add(list, n, cl->cl_flag, text, 1, err, errlen);
	}
}

/* --magic-ip's checks, and the listeners it needs.  0 / -1 with err. */
static int
magic_listeners(struct serve_options *o, char *err, size_t errlen)
{
	struct magic_conf *mc = &o->magic;
	char text[sizeof(o->listen[0].la_text)];
	int i;

	if (mc->mc_mode == MAGIC_OFF) {
		if (mc->mc_block || mc->mc_ipv6 || o->pods_from_flag) {
			snprintf(err, errlen, "--%s needs --magic-ip", mc->mc_block ?
			    "block-until-ready" : mc->mc_ipv6 ? "ipv6" : "pod-interface");
			return -1;
		}
		return 0;
	}
	if (mc->mc_npods == 0) {
		snprintf(mc->mc_pods[0], sizeof(mc->mc_pods[0]), "auto");
		mc->mc_npods = 1;
	}
	if (mc->mc_mode == MAGIC_ALIAS) {
		if (mc->mc_block) {
			snprintf(err, errlen, "--block-until-ready works with --magic-ip=nat only: "
			    "with alias the address appears only once the server is ready");
			return -1;
		}
		snprintf(text, sizeof(text), "%s:%d", MAGIC_IPV4, MAGIC_PORT);
		if (listen_add(o, text, 1, err, errlen) == -1)
			return -1;
		if (mc->mc_ipv6) {
			snprintf(text, sizeof(text), "[%s]:%d", MAGIC_IPV6, MAGIC_PORT);
			return listen_add(o, text, 1, err, errlen);
		}
		return 0;
	}
	if ((i = magic_target(o->listen, o->nlisten, AF_INET)) < 0) {
		snprintf(err, errlen, "--magic-ip: no IPv4 listener to send %s to (add --listen "
		    "127.0.0.1:PORT)", MAGIC_IPV4);
		return -1;
	}
	if (mc->mc_ipv6 && !o->magic_up_verb) {
		/*
		 * On [fd00:ec2::254] itself, which magicip_up puts on lo: a pod's
		 * packet can be DNATed there (never to ::1, which the kernel drops
		 * when it comes from another interface)
		 */
		snprintf(text, sizeof(text), "[%s]:%u", MAGIC_IPV6, o->listen[i].la_port);
		return listen_add(o, text, 1, err, errlen);
	} else if (mc->mc_ipv6 && magic_target(o->listen, o->nlisten, AF_INET6) < 0) {
		/* magic-ip up: a server elsewhere, on ::1 unless --listen says */
		snprintf(text, sizeof(text), "[::1]:%u", o->listen[i].la_port);
		return listen_add(o, text, 0, err, errlen);
	}
	return 0;
}


int
opts_listeners(struct serve_options *o, char *err, size_t errlen)
{
	if (magic_listeners(o, err, errlen) == -1 || ctr_listeners(o, &ecs_magic, &o->ecs,
	    o->ecs_listen, &o->necs_listen, err, errlen) == -1)
		return -1;
	o->npi_given = o->npi_listen;	/* --pod-identity-listen's, before ours */
	return ctr_listeners(o, &pi_magic, &o->pod_identity, o->pi_listen, &o->npi_listen,
	    err, errlen);
}
