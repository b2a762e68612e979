/*
 * magicip.c: route the endpoint table's magic addresses (169.254.169.254:80
 * first, contract §1) to the server, and take it all away again: what the
 * three ways of doing it share.
 *
 * nat mode (the default) puts everything in the host's packet filter, in a
 * place of our own, so that installing is one transaction and removing is
 * deleting that place: nftables (nft.c) or, when nftables is missing or
 * unusable, the iptables command (iptables.c).  alias mode puts the
 * addresses on lo instead (alias.c).  This file chooses among them, checks
 * the privileges, follows the pod interfaces and keeps the route_localnet
 * record.
 *
 * The server listens on loopback; a DNATed packet from a pod reaches
 * 127.0.0.1 only if the interface it came in on has route_localnet=1
 * (otherwise the kernel drops it as a martian), so that is set, through
 * rtnetlink, on every interface matching a pod pattern, including ones
 * created later (pods come and go: RTMGRP_LINK news).  Interfaces are
 * tracked by index: one renamed out of the patterns, which no guard rule
 * names any more, gets route_localnet 0 again at once, and removal resets
 * by index whatever the interface is called by then.  route_localnet is
 * turned on only while the rules (the guard) are there: when `magic-ip down`
 * removed them under a running daemon, it turns off what it had turned on
 * and follows the pod interfaces no more.
 *
 * The hop limit (contract §5.2): on EKS a pod is one routed hop from IMDS,
 * so a token reply sent with TTL 1 expires on the way and never arrives,
 * while hop limit 2 reaches the pod.  Here the reply is generated on the
 * pod's own node and would arrive whatever its TTL; the hop chain plays
 * the router's part by dropping packets that leave for a pod interface
 * with TTL 1 (IPv6: hop limit 1).  Host processes (through lo) are not a
 * hop away and always get their token.
 *
 * None of this runs on the request path: install at start, the route_localnet
 * news when an interface appears, removal at exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "netfilter/netfilter.h"

static struct {
	enum magic_fw	 fw;		/* what installed the rules (nat mode) */
	int		 installed;	/* rules (or the alias) are live */
	int		 blocking;	/* only the block chains are */
	int		 lost;		/* they were removed by someone else meanwhile */
	struct magic_conf conf;		/* as installed, pods resolved */
	int		 events_fd;
	struct loop_watch events;
	struct magic_localnet localnet[MAGIC_LOCALNET_MAX];	/* set by us */
	size_t		 nlocalnet;
} mi = { .events_fd = -1 };

/* ---- pod interface patterns ------------------------------------------- */

int
magicip_pod_pattern(const char *s, char *out, size_t len, char *err, size_t errlen)
{
	size_t n = strlen(s), i;
	int glob = 0;

	if (strcmp(s, "auto") == 0) {
		snprintf(out, len, "auto");
		return 0;
	}
	if (n > 0 && (s[n - 1] == '*' || s[n - 1] == '+')) {
		glob = 1;
		n--;
	}
	if (n == 0 || n >= IF_NAMESIZE || n + 2 > len) {
		snprintf(err, errlen, "'%s' is not an interface name (1 to %d characters, "
		    "optionally ending in * or +)", s, IF_NAMESIZE - 1);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* what the kernel allows, minus what would need quoting in a rule */
		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '"' || c == '\\' ||
		    c == '*' || c == '+' || c == '\'' || c == '{' || c == '}' || c == ';' ||
		    c == '#' || c == '$') {
			snprintf(err, errlen, "'%s' is not an interface name: character '%c'",
			    s, c);
			return -1;
		}
	}
	memcpy(out, s, n);
	if (glob)
		out[n++] = '*';
	out[n] = '\0';
	return 0;
}

/* An interface name against a pattern ("cni0", or "veth*" for a prefix). */
static int
pod_match_one(const char *pat, const char *name)
{
	size_t n = strlen(pat);

	if (n > 0 && pat[n - 1] == '*')
		return strncmp(pat, name, n - 1) == 0;
	return strcmp(pat, name) == 0;
}

/*
 * "auto": the pod bridges of the usual distributions that exist now
 * (cni0: kind, k3s, flannel; cbr0: kubenet; docker0: minikube's docker
 * driver and laptops), and the per-pod interfaces of calico and flannel.
 */
static void
resolve_auto(struct magic_conf *mc)
{
	static const char *const cand[] = { "cni0", "cbr0", "docker0", "cali*", "flannel*" };
	char out[MAGIC_PODS_MAX][IF_NAMESIZE + 1];
	struct if_nameindex *ifs, *p;
	size_t i, j, n = 0;
	int want_auto = 0;

	for (i = 0; i < mc->mc_npods; i++)
		if (strcmp(mc->mc_pods[i], "auto") == 0)
			want_auto = 1;
		else if (n < MAGIC_PODS_MAX)
			snprintf(out[n++], sizeof(out[0]), "%s", mc->mc_pods[i]);
	if (want_auto && (ifs = if_nameindex()) != NULL) {
		for (j = 0; j < sizeof(cand) / sizeof(cand[0]); j++)
			for (p = ifs; p->if_index != 0; p++)
				if (pod_match_one(cand[j], p->if_name)) {
					for (i = 0; i < n; i++)
						if (strcmp(out[i], cand[j]) == 0)
							break;
					if (i == n && n < MAGIC_PODS_MAX)
						snprintf(out[n++], sizeof(out[0]), "%s", cand[j]);
					break;
				}
		if_freenameindex(ifs);
	}
	for (i = 0; i < n; i++)
		memcpy(mc->mc_pods[i], out[i], sizeof(out[0]));
	mc->mc_npods = n;
}

/* Whether an interface name matches one of mc's (resolved) patterns. */
static int
pod_match(const struct magic_conf *mc, const char *name)
{
	size_t i;

	for (i = 0; i < mc->mc_npods; i++)
		if (pod_match_one(mc->mc_pods[i], name))
			return 1;
	return 0;
}

void
magic_pods_text(const struct magic_conf *mc, char *buf, size_t len)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < mc->mc_npods && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? "," : "", mc->mc_pods[i]);
	if (mc->mc_npods == 0)
		snprintf(buf, len, "none");
}

/* ---- the endpoint table --------------------------------------------------- */

size_t
magicip_known_rows(struct magic_endpoint *rows)
{
	magicip_endpoint(&rows[0], MAGIC_IPV4, MAGIC_IPV6, MAGIC_PORT, 1);
	magicip_endpoint(&rows[1], MAGIC_ECS_IPV4, NULL, MAGIC_ECS_PORT, 0);
	magicip_endpoint(&rows[2], MAGIC_POD_ID_IPV4, MAGIC_POD_ID_IPV6, MAGIC_POD_ID_PORT, 0);
	return MAGIC_KNOWN_ROWS;
}

int
magicip_endpoint(struct magic_endpoint *me, const char *ip4, const char *ip6, unsigned port,
    int hop)
{
	memset(me, 0, sizeof(*me));
	if (inet_pton(AF_INET, ip4, me->me_ip4) != 1 ||
	    (ip6 != NULL && inet_pton(AF_INET6, ip6, me->me_ip6) != 1))
		return -1;
	me->me_port = port;
	me->me_hop = hop;
	return 0;
}

int
magic_ep_v6(const struct magic_conf *mc, const struct magic_endpoint *me)
{
	return mc->mc_ipv6 && !IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)(const void *)
	    me->me_ip6);
}

/*
 * Whether pods get the row's IPv6 address too: the server listens on that
 * address itself (put on lo), so a pod's packet can be DNATed to it.  A
 * target of ::1 serves host processes only: the kernel drops a packet
 * DNATed to ::1 that came in on another interface (IPv6 has no
 * route_localnet).
 */
int
magic_ep_pods_v6(const struct magic_conf *mc, const struct magic_endpoint *me)
{
	const struct in6_addr *to = (const struct in6_addr *)(const void *)me->me_to6;

	return magic_ep_v6(mc, me) && !IN6_IS_ADDR_LOOPBACK(to) &&
	    !IN6_IS_ADDR_UNSPECIFIED(to);
}

int
magic_any_hop(const struct magic_conf *mc)
{
	size_t e;

	for (e = 0; e < mc->mc_nep; e++)
		if (mc->mc_ep[e].me_hop)
			return 1;
	return 0;
}

void
magic_ep_text(const struct magic_endpoint *me, struct magic_ep_text *t)
{
	inet_ntop(AF_INET, me->me_ip4, t->et_ip4, sizeof(t->et_ip4));
	inet_ntop(AF_INET6, me->me_ip6, t->et_ip6, sizeof(t->et_ip6));
	inet_ntop(AF_INET, me->me_to4, t->et_to4, sizeof(t->et_to4));
	inet_ntop(AF_INET6, me->me_to6, t->et_to6, sizeof(t->et_to6));
}

/* ---- commands' messages --------------------------------------------------- */

/*
 * A command's message on one line: lines joined with "; ", indentation and
 * nft's caret lines dropped, our rules file's name shortened to "line".
 */
void
magic_first_lines(const char *out, char *buf, size_t len)
{
	struct sbuf b = SBUF_FIXED(buf, len);
	const char *line, *end, *p;
	size_t n;

	buf[0] = '\0';
	for (line = out; *line != '\0' && !b.sb_full; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		while (line < end && (*line == ' ' || *line == '\t'))
			line++;
		if (line == end || strspn(line, "^~ ") >= (size_t)(end - line) ||
		    strncmp(line, "Try `", 5) == 0)
			continue;
		if (b.sb_len > 0)
			sbuf_printf(&b, "; ");
		if (strncmp(line, "/proc/self/fd/", 14) == 0 &&
		    (p = memchr(line, ':', (size_t)(end - line))) != NULL) {
			sbuf_printf(&b, "line");
			line = p;
		}
		if (b.sb_full)
			break;
		/* what fits of a long line, rather than none of it */
		if ((n = (size_t)(end - line)) >= b.sb_cap - b.sb_len) {
			n = b.sb_cap - b.sb_len - 1;
			b.sb_full = 1;
		}
		memcpy(b.sb_p + b.sb_len, line, n);
		b.sb_len += n;
		b.sb_p[b.sb_len] = '\0';
	}
}


/* ---- route_localnet ----------------------------------------------------- */

unsigned
magic_localnet_index(const char *p, size_t len)
{
	unsigned long v = 0;
	size_t i;

	if (len < 9 || strncmp(p, "ifindex ", 8) != 0)
		return 0;
	for (i = 8; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		if ((v = v * 10 + (unsigned long)(p[i] - '0')) > MAGIC_IFINDEX_MAX)
			return 0;
	return i < len && p[i] != '"' ? 0 : (unsigned)v;
}

void
magic_localnet_off(const struct magic_localnet *ln)
{
	char err[ERRBUF_LEN];

	if (nl_route_localnet(ln->ml_index, ln->ml_name, 0, err, sizeof(err)) == -1 &&
	    errno != ENODEV)
		log_warn("magic-ip: %s", err);
}

/* Add (add 1) or take out an entry of the record kept with the rules. */
static void
localnet_note(const struct magic_localnet *ln, int add)
{
	if (mi.fw == FW_NFT)
		nft_localnet_note(ln, add);
	else
		ipt_localnet_note(ln, add);
}

/* Record an interface whose route_localnet we turned on, here and with the rules. */
static void
localnet_record(unsigned ifindex, const char *ifname)
{
	struct magic_localnet ln = { .ml_index = ifindex };

	snprintf(ln.ml_name, sizeof(ln.ml_name), "%s", ifname);
	mi.localnet[mi.nlocalnet++] = ln;	/* localnet_one checked there is room */
	localnet_note(&ln, 1);
}

/* Forget record k (the interface is gone, or no longer a pod interface). */
static void
localnet_forget(size_t k)
{
	localnet_note(&mi.localnet[k], 0);
	mi.localnet[k] = mi.localnet[--mi.nlocalnet];
}

static struct magic_localnet *
localnet_find(unsigned ifindex, size_t *k)
{
	size_t i;

	for (i = 0; i < mi.nlocalnet; i++)
		if (mi.localnet[i].ml_index == ifindex) {
			*k = i;
			return &mi.localnet[i];
		}
	return NULL;
}

/*
 * Whether our guard is still in the packet filter: `magic-ip down` (the
 * DaemonSet's preStop) may have removed the rules under a running daemon.
 * 1 yes, 0 gone; unknown (the packet filter did not answer) counts as gone.
 */
static int
rules_present(void)
{
	char err[ERRBUF_LEN];
	int r;

	r = mi.fw == FW_NFT ? nft_table_exists(err, sizeof(err)) :
	    ipt_guard_exists(err, sizeof(err));
	if (r == -1)
		log_warn("magic-ip: are the rules still there? %s", err);
	return r == 1;
}

/*
 * One interface's news (or the scan): route_localnet on if it matches a pod
 * pattern and is off; off again if one of ours was renamed out of the
 * patterns; forgotten when it is gone.  check (news, not the scan right
 * after installing): turn nothing on unless the rules are still there
 * (route_localnet=1 without the guard opens the node's 127.0.0.1 to pods);
 * gone, mi.lost is set and nothing more is done.
 */
static void
localnet_one(unsigned ifindex, const char *ifname, int gone, void *check)
{
	char err[ERRBUF_LEN];
	struct magic_localnet *ln;
	size_t k;

	if (mi.lost)
		return;
	if ((ln = localnet_find(ifindex, &k)) != NULL) {
		if (gone) {
			localnet_forget(k);
		} else if (!pod_match(&mi.conf, ifname)) {
			/* renamed out of the patterns: no guard rule names it now */
			if (nl_route_localnet(ifindex, ifname, 0, err, sizeof(err)) == -1 &&
			    errno != ENODEV)
				log_warn("magic-ip: %s", err);
			log_info("magic-ip: route_localnet off on %s (was %s, not a pod interface "
			    "now)", ifname, ln->ml_name);
			localnet_forget(k);
			return;
		} else if (strcmp(ln->ml_name, ifname) != 0) {
			localnet_note(ln, 0);
			snprintf(ln->ml_name, sizeof(ln->ml_name), "%s", ifname);
			localnet_note(ln, 1);
		}
	}
	if (gone || !pod_match(&mi.conf, ifname) || nl_route_localnet_get(ifname) != 0)
		return;	/* not a pod interface, already on, or gone */
	if (check != NULL && !rules_present()) {
		mi.lost = 1;
		return;
	}
	if (ln == NULL && mi.nlocalnet >= MAGIC_LOCALNET_MAX) {
		/* one we could not record would never be turned off again */
		log_warn("magic-ip: route_localnet left off on %s: %d pod interfaces already "
		    "(MAGIC_LOCALNET_MAX); pods behind it won't reach the server", ifname,
		    MAGIC_LOCALNET_MAX);
		return;
	}
	if (nl_route_localnet(ifindex, ifname, 1, err, sizeof(err)) == -1) {
		log_warn("magic-ip: %s (pods behind it won't reach the server)", err);
		return;
	}
	if (ln == NULL)
		localnet_record(ifindex, ifname);
	log_debug("magic-ip: route_localnet on %s", ifname);
}

/* Every interface (check: as localnet_one's). */
static void
localnet_scan(void *check)
{
	struct if_nameindex *ifs, *p;

	if ((ifs = if_nameindex()) == NULL)
		return;
	for (p = ifs; p->if_index != 0; p++)
		localnet_one(p->if_index, p->if_name, 0, check);
	if_freenameindex(ifs);
}

/*
 * The record left by a run that died: those still on stay ours, found by
 * their recorded index (whatever they are called now; the scan then turns
 * off one renamed out of the patterns), else by name.
 */
static void
localnet_adopt(const struct magic_localnet *prev, size_t n)
{
	struct if_nameindex *ifs, *p, *hit;
	size_t i;

	if ((ifs = if_nameindex()) == NULL)
		return;
	for (i = 0; i < n; i++) {
		hit = NULL;
		for (p = ifs; p->if_index != 0 && hit == NULL; p++)
			if (prev[i].ml_index != 0 ? p->if_index == prev[i].ml_index :
			    strcmp(p->if_name, prev[i].ml_name) == 0)
				hit = p;
		if (hit != NULL && nl_route_localnet_get(hit->if_name) == 1)
			localnet_record(hit->if_index, hit->if_name);
	}
	if_freenameindex(ifs);
}

/* Turn route_localnet off again where we turned it on, by index. */
static void
localnet_reset(void)
{
	size_t i;

	for (i = 0; i < mi.nlocalnet; i++)
		magic_localnet_off(&mi.localnet[i]);
	mi.nlocalnet = 0;
}

static void
unwatch_links(void)
{
	if (mi.events_fd == -1)
		return;
	loop_watch_del(&mi.events);
	close(mi.events_fd);
	mi.events_fd = -1;
}

static void
on_link_event(int fd, uint32_t events, void *unused)
{
	(void)events;
	(void)unused;
	if (nl_link_events_read(fd, localnet_one, &mi) == -1)
		localnet_scan(&mi);	/* news were lost (ENOBUFS): look at everything */
	if (!mi.lost)
		return;
	/*
	 * The rules were removed under us (`magic-ip down`): what we turned on
	 * goes off (by index, as at exit), and pod interfaces are left alone
	 * from now on.  SIGTERM then finds nothing more to remove.
	 */
	log_warn("magic-ip: the rules were removed while running (magic-ip down?): "
	    "route_localnet is reset and pod interfaces are no longer followed");
	localnet_reset();
	unwatch_links();
}

/* ---- the interface -------------------------------------------------------- */

int
magicip_check_privileges(const struct magic_conf *mc, char *err, size_t errlen)
{
	char line[MAGIC_STATUS_LINE_MAX];
	unsigned long long eff = 0;
	unsigned port = MAGIC_PORT;
	size_t e;
	FILE *f;

	if (mc->mc_mode == MAGIC_OFF)
		return 0;
	if ((f = fopen("/proc/self/status", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "CapEff: %llx", &eff) == 1)
				break;
		fclose(f);
	}
	if (!(eff & (1ULL << MAGIC_CAP_NET_ADMIN))) {
		snprintf(err, errlen, "--magic-ip needs CAP_NET_ADMIN to change the %s: run as "
		    "root, or give the binary the capability (setcap cap_net_admin,"
		    "cap_net_bind_service+ep)", mc->mc_mode == MAGIC_ALIAS ? "addresses of lo" :
		    "packet filter");
		return -1;
	}
	for (e = 0; e < mc->mc_nep; e++)
		if (mc->mc_ep[e].me_port < port)
			port = mc->mc_ep[e].me_port;
	if (mc->mc_mode == MAGIC_ALIAS && !(eff & (1ULL << MAGIC_CAP_NET_BIND))) {
		/* port 80 is below ip_unprivileged_port_start unless lowered */
		unsigned long start = 1024;
		if ((f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re")) != NULL) {
			if (fscanf(f, "%lu", &start) != 1)
				start = 1024;
			fclose(f);
		}
		if (start > port) {
			snprintf(err, errlen, "--magic-ip=alias listens on port %u, which needs "
			    "CAP_NET_BIND_SERVICE: run as root, or give the binary the capability",
			    port);
			return -1;
		}
	}
	return 0;
}

/* Choose the packet filter for nat mode.  0, or -1 with err naming both failures. */
static int
choose_fw(enum magic_fw want, enum magic_fw *out, char *err, size_t errlen)
{
	char e1[ERRBUF_LEN], e2[ERRBUF_LEN];

	if (want != FW_IPTABLES) {
		if (nft_table_exists(e1, sizeof(e1)) >= 0) {
			*out = FW_NFT;
			return 0;
		}
		if (want == FW_NFT) {
			snprintf(err, errlen, "%s", e1);
			return -1;
		}
	}
	if (ipt_usable(e2, sizeof(e2)) == 0) {
		if (want == FW_AUTO)
			log_info("magic-ip: nftables is not usable (%s); using iptables", e1);
		*out = FW_IPTABLES;
		return 0;
	}
	if (want == FW_IPTABLES)
		snprintf(err, errlen, "%s", e2);
	else
		snprintf(err, errlen, "no usable packet filter: %s; %s", e1, e2);
	return -1;
}

/* Install (block 0) or the blocking rules (block 1) with the chosen filter. */
static int
install(const struct magic_conf *mc, int block, char *err, size_t errlen)
{
	char *rules;
	int rc = -1;

	if ((rules = malloc(MAGIC_RULES_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (mi.fw == FW_IPTABLES)
		rc = ipt_install(mc, block, rules, MAGIC_RULES_MAX, err, errlen);
	else if (magicip_nft_rules(mc, block, rules, MAGIC_RULES_MAX) == 0)
		snprintf(err, errlen, "rules over %d bytes", MAGIC_RULES_MAX);
	else
		rc = nft_run_rules(rules, err, errlen);
	free(rules);
	return rc;
}

/* "169.254.169.254:80, 169.254.170.2:80": the rows' IPv4 addresses, for the log. */
static void
eps_text(const struct magic_conf *mc, char *buf, size_t len)
{
	struct sbuf b = SBUF_FIXED(buf, len);
	struct magic_ep_text t;
	size_t e;

	buf[0] = '\0';
	for (e = 0; e < mc->mc_nep; e++) {
		magic_ep_text(&mc->mc_ep[e], &t);
		sbuf_printf(&b, "%s%s:%u", e ? ", " : "", t.et_ip4, mc->mc_ep[e].me_port);
	}
}

int
magicip_block(const struct magic_conf *mc, char *err, size_t errlen)
{
	char eps[MAGIC_ENDPOINTS_MAX * (INET_ADDRSTRLEN + 8)];

	mi.conf = *mc;
	resolve_auto(&mi.conf);
	if (choose_fw(mc->mc_fw, &mi.fw, err, errlen) == -1 ||
	    install(&mi.conf, 1, err, errlen) == -1)
		return -1;
	mi.blocking = 1;
	eps_text(&mi.conf, eps, sizeof(eps));
	log_info("magic-ip: blocking %s until the server is ready (%s)", eps,
	    mi.fw == FW_NFT ? "nft" : "iptables");
	return 0;
}

/* "magic-ip: installed (nft): ...", a line per row and family. */
static void
log_installed(void)
{
	char pods[MAGIC_PODS_TEXT_MAX];
	const char *fw = mi.fw == FW_NFT ? "nft" : "iptables";
	struct magic_ep_text t;
	size_t e;

	magic_pods_text(&mi.conf, pods, sizeof(pods));
	for (e = 0; e < mi.conf.mc_nep; e++) {
		const struct magic_endpoint *me = &mi.conf.mc_ep[e];
		magic_ep_text(me, &t);
		log_info("magic-ip: installed (%s): %s:%u -> %s:%u for this host and pods on %s",
		    fw, t.et_ip4, me->me_port, t.et_to4, me->me_port4, pods);
		if (magic_ep_v6(&mi.conf, me) && me->me_port6 != 0)
			log_info("magic-ip: installed (%s): [%s]:%u -> [%s]:%u for this host%s",
			    fw, t.et_ip6, me->me_port, t.et_to6, me->me_port6,
			    magic_ep_pods_v6(&mi.conf, me) ? " and the pods" : " (a target on ::1 "
			    "cannot serve pods)");
	}
	if (mi.conf.mc_npods == 0)
		log_warn("magic-ip: no pod interface found: only this host's processes are "
		    "routed (name them with --pod-interface)");
}

/* Follow new pod interfaces from the loop (RTMGRP_LINK news). */
static void
watch_links(void)
{
	if ((mi.events_fd = nl_events_open(RTMGRP_LINK)) == -1 ||
	    loop_watch_add(&mi.events, mi.events_fd, EPOLLIN, on_link_event, NULL) == -1) {
		log_warn("magic-ip: new pod interfaces won't be noticed: %s", strerror(errno));
		if (mi.events_fd != -1)
			close(mi.events_fd);	/* not left open, unwatched */
		mi.events_fd = -1;
	}
}

int
magicip_up(const struct magic_conf *mc, int watch, char *err, size_t errlen)
{
	struct magic_localnet prev[MAGIC_LOCALNET_MAX];
	size_t nprev;

	mi.conf = *mc;
	resolve_auto(&mi.conf);
	if (mc->mc_mode == MAGIC_ALIAS) {
		if (alias_up(&mi.conf, err, errlen) == -1)
			return -1;
		mi.installed = 1;
		return 0;
	}
	if (!mi.blocking && choose_fw(mc->mc_fw, &mi.fw, err, errlen) == -1)
		return -1;
	/* a run killed before it could clean up turned these on: they stay ours */
	nprev = mi.fw == FW_NFT ? nft_localnet_names(prev, MAGIC_LOCALNET_MAX) :
	    ipt_localnet_names(prev, MAGIC_LOCALNET_MAX);
	if (install(&mi.conf, 0, err, errlen) == -1)
		return -1;
	if (lo6_up(&mi.conf, err, errlen) == -1) {
		char e2[ERRBUF_LEN];
		mi.installed = 1;
		magicip_down(1, e2, sizeof(e2));
		return -1;
	}
	mi.blocking = 0;
	mi.installed = 1;
	mi.nlocalnet = 0;
	mi.lost = 0;
	localnet_adopt(prev, nprev);
	localnet_scan(NULL);
	if (watch && mi.conf.mc_npods > 0)
		watch_links();
	log_installed();
	return 0;
}

int
magicip_installed(void)
{
	return mi.installed;
}

enum magic_fw
magicip_firewall(void)
{
	return mi.installed && mi.conf.mc_mode == MAGIC_NAT ? mi.fw : FW_AUTO;
}

/* What magicip_down removed (bits: 1 nft, 2 iptables, 4 the address), and its error. */
struct down_tally {
	int		 dt_removed;
	int		 dt_failed;
	char		*dt_err;	/* the last failure that counts */
	size_t		 dt_errlen;
};

/*
 * One removal's outcome r (1 removed, 0 nothing there, -1 failed with e):
 * bit is added to what was removed; a failure counts only when counts.
 */
static void
down_tally(struct down_tally *t, int r, int bit, int counts, const char *e)
{
	if (r == 1)
		t->dt_removed |= bit;
	else if (r == -1 && counts) {
		snprintf(t->dt_err, t->dt_errlen, "%s", e);
		t->dt_failed = 1;
	}
}

int
magicip_down(int quiet, char *err, size_t errlen)
{
	struct down_tally t = { 0, 0, err, errlen };
	char e[ERRBUF_LEN];
	int own;

	unwatch_links();
	err[0] = '\0';
	/* a daemon takes back what it installed; `magic-ip down` looks everywhere */
	own = mi.installed || mi.blocking ? (mi.conf.mc_mode == MAGIC_ALIAS ? 4 :
	    mi.fw == FW_NFT ? 1 : 2) : 7;
	/* the address first: no moment with it on lo and no guard */
	down_tally(&t, lo6_down(e, sizeof(e)), 0, 1, e);
	/* by index, whatever the interfaces are called now; the record's names below */
	localnet_reset();
	/* nftables, when it can be used at all (missing is not an error here) */
	if (own & 1)
		down_tally(&t, nft_down(e, sizeof(e)), 1, mi.fw == FW_NFT && mi.installed, e);
	/* iptables, when the command exists */
	if ((own & 2) && (ipt_have() || mi.fw == FW_IPTABLES)) {
		down_tally(&t, ipt_down(0, 1, e, sizeof(e)), 2, 1, e);
		down_tally(&t, ipt_down(1, 1, e, sizeof(e)), 2, mi.conf.mc_ipv6, e);
	}
	if (own & 4)
		down_tally(&t, alias_down(&mi.conf, e, sizeof(e)), 4, 1, e);
	nft_close();
	mi.installed = mi.blocking = 0;
	if (!quiet || t.dt_removed)
		log_info("magic-ip: removed%s%s%s%s", t.dt_removed ? ":" :
		    " (nothing was installed)",
		    t.dt_removed & 1 ? " nft table inet " MAGIC_TABLE : "",
		    t.dt_removed & 2 ? " iptables chains " MAGIC_CHAIN_PREFIX "*" : "",
		    t.dt_removed & 4 ? " the address on lo" : "");
	return t.dt_failed ? -1 : t.dt_removed != 0;
}

int
magicip_status(FILE *out, char *err, size_t errlen)
{
	const char *o;
	int any = 0, r;

	err[0] = '\0';
	if (nft_table_exists(err, errlen) == 1 &&
	    nft_run("list table inet " MAGIC_TABLE, &o, err, errlen) == 0) {
		fprintf(out, "nftables: table inet %s\n%s", MAGIC_TABLE, o);
		any = 1;
	}
	nft_close();
	if ((r = ipt_status(out, err, errlen)) == -1)
		return -1;
	if (r == 1)
		any = 1;
	if (alias_status(out) == 1)
		any = 1;
	if (!any)
		fprintf(out, "nothing installed\n");
	if (err[0] != '\0')
		fprintf(stderr, "%s: magic-ip status: could not look everywhere: %s\n", PROGNAME,
		    err);
	return any ? 0 : 1;
}
