/*
 * netfilter/: the magic address routed to the daemon.
 *
 *   magicip.c   nft or iptables rules, or an alias on lo; pod interfaces;
 *               blocking until ready; removal of what an earlier run left
 *   netlink.c   rtnetlink: addresses, route_localnet, link events
 */
#ifndef NETFILTER_H
#define NETFILTER_H

#include "core/core.h"

#define MAGIC_IPV4		"169.254.169.254"	/* contract §1 */
#define MAGIC_IPV6		"fd00:ec2::254"
#define MAGIC_PORT		80
#define MAGIC_PODS_MAX		16	/* --pod-interface patterns */
#define MAGIC_TABLE		"gimme_aws_mini"	/* our nftables table (family inet) */
#define MAGIC_CHAIN_PREFIX	"GIMME-AWS-MINI-"	/* our iptables chains */
#define MAGIC_LABEL		"lo:imds"	/* label of the alias address */
#define MAGIC_PRIO_GUARD	-110	/* nft priority: before dstnat (-100) */
#define MAGIC_PRIO_NAT		-100	/* nft priority of our NAT chains (dstnat) */
#define MAGIC_PRIO_FILTER	0	/* nft priority of the hop chain (filter) */
#define MAGIC_RULES_MAX		16384	/* bytes of generated rules */
#define MAGIC_CMD_OUT_MAX	262144	/* bytes kept of iptables-save's output */
#define MAGIC_CMD_TIMEOUT_MS	10000	/* ms an iptables command may take */
#define MAGIC_LOCALNET_MAX	256	/* interfaces whose route_localnet we turn on */
#define MAGIC_IPT_CHAINS_MAX	16	/* our chains in one iptables table */
#define MAGIC_STATUS_LINE_MAX	512	/* bytes: a line of /proc/self/status, a path */
#define MAGIC_RULE_LINE_MAX	256	/* bytes: one generated command */
#define MAGIC_CAP_NET_ADMIN	12	/* bit of CapEff */
#define MAGIC_CAP_NET_BIND	10	/* CAP_NET_BIND_SERVICE */
#define MAGIC_SBIN		"/usr/sbin"	/* where Debian keeps iptables */
#define NL_REQ_MAX		256	/* bytes of attributes in a netlink request */
#define NL_REPLY_MAX		8192	/* bytes of a netlink read */
#define NL_TIMEOUT_MS		2000	/* ms to wait for the kernel's answer */
#define NL_LOOPBACK_IFINDEX	1	/* lo's index in every network namespace */
#define NL_SYSCTL_PATH_MAX	96	/* bytes: /proc/sys/net/ipv4/conf/IF/route_localnet */

/* ------------------------------------------------------------------ */
/* magicip.c: 169.254.169.254 routed to the server                    */
/* ------------------------------------------------------------------ */

enum magic_mode { MAGIC_OFF, MAGIC_NAT, MAGIC_ALIAS };
enum magic_fw { FW_AUTO, FW_NFT, FW_IPTABLES };

struct magic_conf {
	enum magic_mode	 mc_mode;
	enum magic_fw	 mc_fw;
	char		 mc_pods[MAGIC_PODS_MAX][16 + 1];	/* "cni0", "veth*", "auto" */
	size_t		 mc_npods;
	int		 mc_ipv6;	/* [fd00:ec2::254] too */
	int		 mc_block;	/* --block-until-ready */
	unsigned char	 mc_to4[4];	/* nat mode: where 169.254.169.254:80 goes */
	unsigned	 mc_port4;
	unsigned char	 mc_to6[16];	/* and [fd00:ec2::254]:80 */
	unsigned	 mc_port6;	/* 0: no IPv6 listener to send it to */
};

/* Check and normalise a --pod-interface value ("cali+" -> "cali*").  0 / -1 with err. */
int		 magicip_pod_pattern(const char *s, char *out, size_t len, char *err,
		    size_t errlen);
/* Whether this process may do what mc asks (CAP_NET_ADMIN).  0 / -1 with err. */
int		 magicip_check_privileges(const struct magic_conf *mc, char *err, size_t errlen);
/* The nft commands (one transaction) for mc: the full rules, or only the blocking ones. */
size_t		 magicip_nft_rules(const struct magic_conf *mc, int block, char *buf, size_t cap);
/* The iptables-restore (v6: ip6tables-restore) input for mc. */
size_t		 magicip_ipt_rules(const struct magic_conf *mc, int block, int v6, char *buf,
		    size_t cap);
/*
 * The iptables-restore input that removes what an iptables-save listing
 * holds of ours, and the interfaces our route_localnet record names.
 * Length, 0 when nothing is ours, -1 when cap is short.
 */
ssize_t		 magicip_ipt_removal(const char *save, char *buf, size_t cap,
		    char localnet[][16], size_t *nlocalnet, size_t maxlocalnet);
/* Drop traffic to the magic IP until magicip_up.  0 / -1 with err. */
int		 magicip_block(const struct magic_conf *mc, char *err, size_t errlen);
/*
 * Install the rules (nat) or the address on lo (alias), replacing any left
 * by an earlier run; watch: follow new pod interfaces from the loop.
 * Logs "magic-ip: installed ...".  0 / -1 with err (nothing left applied).
 */
int		 magicip_up(const struct magic_conf *mc, int watch, char *err, size_t errlen);
/* Whether rules are installed (readiness). */
int		 magicip_installed(void);
/* The packet filter the installed rules are in (FW_AUTO: none, or alias mode). */
enum magic_fw	 magicip_firewall(void);
/*
 * Remove everything of ours: the nft table, the iptables chains, the
 * address on lo, route_localnet where we turned it on.  1 removed, 0
 * nothing there, -1 with err.  quiet: no log line when nothing was there.
 */
int		 magicip_down(int quiet, char *err, size_t errlen);
/* Print what is installed.  0 something, 1 nothing. */
int		 magicip_status(FILE *out, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* netlink.c: rtnetlink requests                                      */
/* ------------------------------------------------------------------ */

/* Add (add 1) or remove an address (/32, /128) on ifname.  0 / -1 with err. */
int		 nl_addr(int add, int family, const unsigned char *addr, const char *ifname,
		    const char *label, char *err, size_t errlen);
/* Set route_localnet on one interface.  0 / -1 with err (errno kept). */
int		 nl_route_localnet(const char *ifname, int on, char *err, size_t errlen);
/* Its current value: 1, 0, -1 unknown (no such interface). */
int		 nl_route_localnet_get(const char *ifname);
/* A non-blocking socket receiving news of links (RTMGRP_LINK); -1 (errno). */
int		 nl_link_events_open(void);
/* Read what is there; cb per RTM_NEWLINK.  0, -1 when news were lost (rescan). */
int		 nl_link_events_read(int fd, void (*cb)(const char *ifname, void *arg), void *arg);
void		 nl_addr_text(int family, const unsigned char *addr, char *out, size_t len);

#endif /* NETFILTER_H */
