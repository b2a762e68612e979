/*
 * netfilter/: the magic addresses routed to the daemon, from a table of
 * endpoints (struct magic_endpoint: IPv4 address, IPv6 address or none,
 * port, the listener it goes to; IMDS is the first row, ECS's the next).
 *
 *   magicip.c   what the three ways share: the endpoint rows, the choice of
 *               packet filter, privileges, blocking until ready, pod
 *               interfaces (patterns, followed by index through link news
 *               while the rules are there) and their route_localnet record;
 *               up, down, status
 *   nft.c       nftables (libnftables by dlopen): the rule text for every
 *               row, one transaction, the localnet set, removal
 *   iptables.c  the iptables commands (spawned, MAGIC_CMD_TIMEOUT_MS, at most
 *               MAGIC_CMD_OUT_MAX of output): rule text, restore, removal
 *               from iptables-save's listing, the RLN record
 *   alias.c     the rows' addresses on lo (alias mode; nat's IPv6 address)
 *   netlink.c   rtnetlink: addresses, route_localnet, news of links and addresses
 *
 * The functions after "between the files of netfilter/" are for this
 * folder only.
 */
#ifndef NETFILTER_H
#define NETFILTER_H

#include "core/core.h"

#define MAGIC_IPV4		"169.254.169.254"	/* contract §1 */
#define MAGIC_IPV6		"fd00:ec2::254"
#define MAGIC_PORT		80
#define MAGIC_ECS_IPV4		"169.254.170.2"	/* the ECS credential endpoint (contract §11.1) */
#define MAGIC_ECS_PORT		80
#define MAGIC_POD_ID_IPV4	"169.254.170.23"	/* EKS Pod Identity (contract §11.2) */
#define MAGIC_POD_ID_IPV6	"fd00:ec2::23"
#define MAGIC_POD_ID_PORT	80
#define MAGIC_KNOWN_ROWS	3	/* rows any run may install: IMDS, ECS, Pod Identity */
#define MAGIC_PODS_MAX		16	/* --pod-interface patterns */
#define MAGIC_ENDPOINTS_MAX	4	/* rows of the endpoint table */
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
#define MAGIC_IFINDEX_MAX	0x7fffffffUL	/* an "ifindex N" of the record */
#define MAGIC_IPT_CHAINS_MAX	16	/* our chains in one iptables table */
#define MAGIC_STATUS_LINE_MAX	512	/* bytes: a line of /proc/self/status, a path */
#define MAGIC_RULE_LINE_MAX	256	/* bytes: one generated command */
#define MAGIC_PODS_TEXT_MAX	(MAGIC_PODS_MAX * (16 + 1) + 8)	/* "cni0,veth*" */
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

/*
 * One row of the endpoint table: a magic address (IPv4, and IPv6 or none)
 * and port that pods and host processes connect to, and the listener nat
 * mode sends it to.  IMDS is the first row (169.254.169.254, fd00:ec2::254,
 * port 80); the container endpoints (169.254.170.2; 169.254.170.23 and
 * fd00:ec2::23) are rows too.  The rule writers make the same rules for
 * every row.
 */
struct magic_endpoint {
	unsigned char	 me_ip4[4];	/* the magic IPv4 address */
	unsigned char	 me_ip6[16];	/* its IPv6 twin; all zero: none */
	unsigned	 me_port;	/* TCP port of both */
	int		 me_hop;	/* the hop chain applies (IMDS, contract §5.2) */
	unsigned char	 me_to4[4];	/* nat: where me_ip4:me_port goes */
	unsigned	 me_port4;
	unsigned char	 me_to6[16];	/* and [me_ip6]:me_port */
	unsigned	 me_port6;	/* 0: no IPv6 listener to send it to */
};

struct magic_conf {
	enum magic_mode	 mc_mode;
	enum magic_fw	 mc_fw;
	char		 mc_pods[MAGIC_PODS_MAX][16 + 1];	/* "cni0", "veth*", "auto" */
	size_t		 mc_npods;
	int		 mc_ipv6;	/* the rows' IPv6 addresses too */
	int		 mc_block;	/* --block-until-ready */
	struct magic_endpoint mc_ep[MAGIC_ENDPOINTS_MAX];	/* the endpoint table */
	size_t		 mc_nep;
};

/*
 * Fill in a row: ip4 and ip6 (NULL: none) as text, port, hop; no listener
 * yet (me_to4/me_port4, me_to6/me_port6 are the caller's).  0, -1 when an
 * address does not parse.
 */
int		 magicip_endpoint(struct magic_endpoint *me, const char *ip4, const char *ip6,
		    unsigned port, int hop);
/*
 * Every row a run may have installed (IMDS's, ECS's, Pod Identity's),
 * without listeners: what `magic-ip down` and `status` look for.  Fills rows[MAGIC_KNOWN_ROWS];
 * the count.
 */
size_t		 magicip_known_rows(struct magic_endpoint *rows);
/*
 * An interface whose route_localnet we turned on, as recorded with the
 * rules ("ifindex N" in the record's comment): removal resets it by index,
 * whatever it is called by then.
 */
struct magic_localnet {
	unsigned	 ml_index;	/* 0: not recorded (an older record) */
	char		 ml_name[16];
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
 * holds of ours, and the interfaces our route_localnet record names (with
 * their index, when the record has it).
 * Length, 0 when nothing is ours, -1 when cap is short.
 */
ssize_t		 magicip_ipt_removal(const char *save, char *buf, size_t cap,
		    struct magic_localnet *localnet, size_t *nlocalnet, size_t maxlocalnet);
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
/* between the files of netfilter/                                     */
/* ------------------------------------------------------------------ */

/* magicip.c: a row's text (inet_ntop of its four addresses) */
struct magic_ep_text {
	char		 et_ip4[16], et_ip6[46], et_to4[16], et_to6[46];
};
void		 magic_ep_text(const struct magic_endpoint *me, struct magic_ep_text *t);
/* Whether the row's IPv6 address is in use (--ipv6, the row has one). */
int		 magic_ep_v6(const struct magic_conf *mc, const struct magic_endpoint *me);
/* And the pods get it too (its listener is not on ::1). */
int		 magic_ep_pods_v6(const struct magic_conf *mc, const struct magic_endpoint *me);
/* Whether some row plays the hop limit (the hop chain is needed). */
int		 magic_any_hop(const struct magic_conf *mc);
/* "cni0,veth*" (or "none"): the patterns, as the rules' comment keeps them. */
void		 magic_pods_text(const struct magic_conf *mc, char *buf, size_t len);
/* A command's message on one line ("; " between its lines). */
void		 magic_first_lines(const char *out, char *buf, size_t len);
/* "ifindex N" of a record's comment at p (len bytes): N, or 0. */
unsigned	 magic_localnet_index(const char *p, size_t len);
/* route_localnet off on a recorded interface: by index, else by name (logs). */
void		 magic_localnet_off(const struct magic_localnet *ln);

/* nft.c */
int		 nft_run(const char *cmds, const char **outp, char *err, size_t errlen);
int		 nft_run_rules(const char *rules, char *err, size_t errlen);
int		 nft_table_exists(char *err, size_t errlen);	/* 1, 0, -1 unusable */
int		 nft_table_empty(int v6, const char *table);	/* iptables-nft's table */
void		 nft_close(void);
size_t		 nft_localnet_names(struct magic_localnet *ln, size_t max);
void		 nft_localnet_note(const struct magic_localnet *ln, int add);
int		 nft_down(char *err, size_t errlen);	/* 1 removed, 0 none, -1 */

/* iptables.c */
int		 ipt_have(void);		/* iptables-save exists */
int		 ipt_usable(char *err, size_t errlen);	/* 0 / -1 with err */
int		 ipt_install(const struct magic_conf *mc, int block, char *rules, size_t cap,
		    char *err, size_t errlen);
int		 ipt_down(int v6, int reset_localnet, char *err, size_t errlen);
size_t		 ipt_localnet_names(struct magic_localnet *ln, size_t max);
int		 ipt_guard_exists(char *err, size_t errlen);	/* 1, 0, -1 */
void		 ipt_localnet_note(const struct magic_localnet *ln, int add);
int		 ipt_status(FILE *out, char *err, size_t errlen);	/* 1 shown, 0, -1 */

/* alias.c */
int		 alias_up(const struct magic_conf *mc, char *err, size_t errlen);
/* The rows' addresses off lo (every known row's when mc has none).  1, 0, -1 with err. */
int		 alias_down(const struct magic_conf *mc, char *err, size_t errlen);
int		 alias_status(FILE *out);	/* 1 shown, 0 */
/* nat: the rows' IPv6 addresses the pods reach, on lo; and off again. */
int		 lo6_up(const struct magic_conf *mc, char *err, size_t errlen);
int		 lo6_down(char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* netlink.c: rtnetlink requests                                      */
/* ------------------------------------------------------------------ */

/* Add (add 1) or remove an address (/32, /128) on ifname.  0 / -1 with err. */
int		 nl_addr(int add, int family, const unsigned char *addr, const char *ifname,
		    const char *label, char *err, size_t errlen);
/*
 * Set route_localnet on one interface: by index, or by name when ifindex is
 * 0 (ifname names it in err either way).  0 / -1 with err (errno kept).
 */
int		 nl_route_localnet(unsigned ifindex, const char *ifname, int on, char *err,
		    size_t errlen);
/* Its current value: 1, 0, -1 unknown (no such interface). */
int		 nl_route_localnet_get(const char *ifname);
/* A non-blocking socket receiving the news of groups (RTMGRP_LINK, ...); -1 (errno). */
int		 nl_events_open(unsigned groups);
/*
 * Read what is there; cb per RTM_NEWLINK (gone 0: new, changed, renamed)
 * and RTM_DELLINK (gone 1).  0, -1 when news were lost (rescan).
 */
int		 nl_link_events_read(int fd, void (*cb)(unsigned ifindex, const char *ifname,
		    int gone, void *arg), void *arg);
void		 nl_addr_text(int family, const unsigned char *addr, char *out, size_t len);

#endif /* NETFILTER_H */
