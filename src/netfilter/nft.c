/*
 * nft.c: the magic IP's rules in nftables (libnftables, loaded with dlopen
 * on first use): one table, `inet gimme_aws_mini`, rebuilt whole by "add
 * table; delete table; table {...}" in one transaction, so that a second
 * start or a start after a crash ends with exactly one copy.  Its chains,
 * each with the same rules for every row of the endpoint table:
 *   guard  prerouting, before NAT: packets from the pod interfaces to
 *          127.0.0.0/8 are dropped (route_localnet would let a pod reach
 *          the node's loopback services otherwise); a row's IPv6 address
 *          is reachable from lo and the pods only
 *   pre    prerouting NAT: pods' magic address and port -> the listener
 *   out    output NAT: the host's own processes, likewise
 *   hop    output filter: replies to pods with TTL 1 are dropped (when a
 *          row plays the hop limit: IMDS, see magicip.c)
 *   block_pre/block_out  (--block-until-ready, before the rest exists)
 * and a set, `localnet`, naming the interfaces whose route_localnet we
 * turned on (each element's comment: "ifindex N"), so that a later
 * `magic-ip down` can turn them off again, by index.
 * The same library also serves iptables.c (whether a table iptables-nft
 * made is empty).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "netfilter/netfilter.h"

#define NFT_LIB			"libnftables.so.1"
#define NFT_VERDICT_MAX		96	/* "dnat ip6 to [<IPv6>]:<port>" and its NUL */

/* libnftables, through dlopen: the daemon maps it only when asked to. */
static struct {
	void		*lib;
	void		*ctx;
	void		*(*ctx_new)(uint32_t);
	void		(*ctx_free)(void *);
	int		(*buffer_output)(void *);
	int		(*buffer_error)(void *);
	const char	*(*get_output)(void *);
	const char	*(*get_error)(void *);
	int		(*run)(void *, const char *);
	int		(*run_file)(void *, const char *);
} nft;

/* ---- running nft ---------------------------------------------------------- */

/* Load libnftables and make a context.  0, or -1 with err. */
static int
nft_open(char *err, size_t errlen)
{
	if (nft.ctx != NULL)
		return 0;
	if (nft.lib == NULL) {
		if ((nft.lib = dlopen(NFT_LIB, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			snprintf(err, errlen, "nftables: %s", dlerror());
			return -1;
		}
		nft.ctx_new = (void *(*)(uint32_t))dlsym(nft.lib, "nft_ctx_new");
		nft.ctx_free = (void (*)(void *))dlsym(nft.lib, "nft_ctx_free");
		nft.buffer_output = (int (*)(void *))dlsym(nft.lib, "nft_ctx_buffer_output");
		nft.buffer_error = (int (*)(void *))dlsym(nft.lib, "nft_ctx_buffer_error");
		nft.get_output = (const char *(*)(void *))dlsym(nft.lib,
		    "nft_ctx_get_output_buffer");
		nft.get_error = (const char *(*)(void *))dlsym(nft.lib,
		    "nft_ctx_get_error_buffer");
		nft.run = (int (*)(void *, const char *))dlsym(nft.lib,
		    "nft_run_cmd_from_buffer");
		nft.run_file = (int (*)(void *, const char *))dlsym(nft.lib,
		    "nft_run_cmd_from_filename");
		if (!nft.ctx_new || !nft.ctx_free || !nft.buffer_output || !nft.buffer_error ||
		    !nft.get_output || !nft.get_error || !nft.run || !nft.run_file) {
			snprintf(err, errlen, "nftables: %s lacks a function", NFT_LIB);
			dlclose(nft.lib);
			memset(&nft, 0, sizeof(nft));
			return -1;
		}
	}
	if ((nft.ctx = nft.ctx_new(0)) == NULL) {
		snprintf(err, errlen, "nftables: no context");
		return -1;
	}
	nft.buffer_output(nft.ctx);
	nft.buffer_error(nft.ctx);
	return 0;
}

void
nft_close(void)
{
	if (nft.ctx != NULL)
		nft.ctx_free(nft.ctx);
	nft.ctx = NULL;
	if (nft.lib != NULL)
		dlclose(nft.lib);
	memset(&nft, 0, sizeof(nft));
}

/* nft's message for the command that failed, on one line, into err.  -1. */
static int
nft_fail(char *err, size_t errlen)
{
	const char *e = nft.get_error(nft.ctx);

	magic_first_lines(e != NULL && *e != '\0' ? e : "failed\n", err, errlen);
	return -1;
}

/*
 * Run nft commands as one transaction.  0, or -1 with err holding nft's
 * message, which quotes the rule it refused and the kernel's reason.
 * *outp (may be NULL) gets nft's output, valid until the next call.
 */
int
nft_run(const char *cmds, const char **outp, char *err, size_t errlen)
{
	if (nft_open(err, errlen) == -1)
		return -1;
	if (nft.run(nft.ctx, cmds) != 0)
		return nft_fail(err, errlen);
	if (outp != NULL)
		*outp = nft.get_output(nft.ctx);
	return 0;
}

/*
 * A whole rule set, as one transaction, through a file: nft's message on
 * failure then names the line and column and quotes the rule it refused
 * (from a buffer it quotes the wrong line).
 */
int
nft_run_rules(const char *rules, char *err, size_t errlen)
{
	char path[MAGIC_RULE_LINE_MAX];
	size_t len = strlen(rules);
	int fd, rc;

	if (nft_open(err, errlen) == -1)
		return -1;
	if ((fd = memfd_create("gimme-aws-mini.nft", MFD_CLOEXEC)) == -1 ||
	    write(fd, rules, len) != (ssize_t)len) {
		snprintf(err, errlen, "rules file: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = nft.run_file(nft.ctx, path);
	close(fd);
	return rc != 0 ? nft_fail(err, errlen) : 0;
}

/* Whether our table exists.  1, 0, or -1 with err (nftables unusable). */
int
nft_table_exists(char *err, size_t errlen)
{
	const char *out;

	if (nft_run("list tables inet", &out, err, errlen) == -1)
		return -1;
	return strstr(out, "table inet " MAGIC_TABLE "\n") != NULL;
}

/*
 * The elements of a set listing: "elements = { "a" comment "ifindex 7",
 * "b" }" (an element's comment is optional).
 */
static size_t
parse_elements(const char *text, struct magic_localnet *ln, size_t max)
{
	const char *p = strstr(text, "elements = {"), *q;
	size_t n = 0;

	if (p == NULL)
		return 0;
	for (p += 12; *p != '\0' && *p != '}' && n < max; p = q + 1) {
		if ((p = strchr(p, '"')) == NULL || (q = strchr(p + 1, '"')) == NULL)
			break;
		if ((size_t)(q - p - 1) >= IF_NAMESIZE)
			continue;
		memcpy(ln[n].ml_name, p + 1, (size_t)(q - p - 1));
		ln[n].ml_name[q - p - 1] = '\0';
		ln[n].ml_index = 0;
		if (strncmp(q + 1, " comment \"", 10) == 0) {
			p = q + 11;
			if ((q = strchr(p, '"')) == NULL)
				break;
			ln[n].ml_index = magic_localnet_index(p, (size_t)(q - p));
		}
		n++;
	}
	return n;
}

/* ---- iptables-nft's tables --------------------------------------------- */

/* Whether iptables-nft's table holds nothing (see iptables.c).  1, 0, -1 none. */
int
nft_table_empty(int v6, const char *table)
{
	char cmd[MAGIC_RULE_LINE_MAX], err[ERRBUF_LEN];
	const char *out, *line, *end;

	snprintf(cmd, sizeof(cmd), "list table %s %s", v6 ? "ip6" : "ip", table);
	if (nft_run(cmd, &out, err, sizeof(err)) == -1)
		return -1;	/* not there, or no nftables */
	for (line = out; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		while (line < end && (*line == '\t' || *line == ' '))
			line++;
		if (line == end || *line == '}' || strncmp(line, "table ", 6) == 0 ||
		    strncmp(line, "chain ", 6) == 0)
			continue;
		if (strncmp(line, "type ", 5) == 0 &&
		    memmem(line, (size_t)(end - line), "policy accept;", 14) != NULL)
			continue;
		return 0;	/* a rule, a set, a drop policy: someone's */
	}
	return 1;
}

/* ---- route_localnet's record -------------------------------------------- */

size_t
nft_localnet_names(struct magic_localnet *ln, size_t max)
{
	char err[ERRBUF_LEN];
	const char *out;

	if (nft_run("list set inet " MAGIC_TABLE " localnet", &out, err, sizeof(err)) == -1)
		return 0;
	return parse_elements(out, ln, max);
}

void
nft_localnet_note(const struct magic_localnet *ln, int add)
{
	char cmd[MAGIC_RULE_LINE_MAX], err[ERRBUF_LEN];

	if (add)
		snprintf(cmd, sizeof(cmd), "add element inet %s localnet { \"%s\" comment "
		    "\"ifindex %u\" }", MAGIC_TABLE, ln->ml_name, ln->ml_index);
	else
		snprintf(cmd, sizeof(cmd), "delete element inet %s localnet { \"%s\" }",
		    MAGIC_TABLE, ln->ml_name);
	if (nft_run(cmd, NULL, err, sizeof(err)) == -1)
		log_warn("magic-ip: %s %s: %s", add ? "recording" : "unrecording", ln->ml_name,
		    err);
}

/* ---- removal ------------------------------------------------------------ */

int
nft_down(char *err, size_t errlen)
{
	struct magic_localnet ln[MAGIC_LOCALNET_MAX];
	size_t n, i;
	int ex;

	if ((ex = nft_table_exists(err, errlen)) <= 0)
		return ex;
	n = nft_localnet_names(ln, MAGIC_LOCALNET_MAX);
	for (i = 0; i < n; i++)
		magic_localnet_off(&ln[i]);
	if (nft_run("delete table inet " MAGIC_TABLE, NULL, err, errlen) == -1)
		return -1;
	/*
	 * Again: a daemon still running may have turned one back on in
	 * between (it looks for the table first, and finds it gone after).
	 */
	for (i = 0; i < n; i++)
		magic_localnet_off(&ln[i]);
	return 1;
}


/* ---- rule text ---------------------------------------------------------- */

/*
 * The two pairs of chains over the rows, prerouting (from the pods) and
 * output (from this host): block_pre and block_out drop the rows' traffic
 * until the server is ready, pre and out send it to each row's listener.
 */
struct nft_rows {
	const char	*nr_pre, *nr_out;	/* the chains' names */
	const char	*nr_type;		/* "filter" or "nat" */
	int		 nr_prio;
	int		 nr_nat;		/* dnat to the listener, else drop */
};

static const struct nft_rows nft_block_rows = {
	"block_pre", "block_out", "filter", MAGIC_PRIO_GUARD, 0
};
static const struct nft_rows nft_nat_rows = { "pre", "out", "nat", MAGIC_PRIO_NAT, 1 };

/* Row e, with its addresses as text and its verdicts: drop, or dnat to its listener. */
static const struct magic_endpoint *
nft_row(const struct nft_rows *nr, const struct magic_conf *mc, size_t e,
    struct magic_ep_text *t, char v4[NFT_VERDICT_MAX], char v6[NFT_VERDICT_MAX])
{
	const struct magic_endpoint *me = &mc->mc_ep[e];

	magic_ep_text(me, t);
	if (!nr->nr_nat) {
		snprintf(v4, NFT_VERDICT_MAX, "drop");
		snprintf(v6, NFT_VERDICT_MAX, "drop");
	} else {
		snprintf(v4, NFT_VERDICT_MAX, "dnat ip to %s:%u", t->et_to4, me->me_port4);
		snprintf(v6, NFT_VERDICT_MAX, "dnat ip6 to [%s]:%u", t->et_to6, me->me_port6);
	}
	return me;
}

static void
nft_rows(const struct magic_conf *mc, const struct nft_rows *nr, struct sbuf *b)
{
	char v4[NFT_VERDICT_MAX], v6[NFT_VERDICT_MAX];
	const struct magic_endpoint *me;
	struct magic_ep_text t;
	size_t i, e;

	sbuf_printf(b, "\tchain %s {\n\t\ttype %s hook prerouting priority %d; "
	    "policy accept;\n", nr->nr_pre, nr->nr_type, nr->nr_prio);
	for (i = 0; i < mc->mc_npods; i++)
		for (e = 0; e < mc->mc_nep; e++) {
			me = nft_row(nr, mc, e, &t, v4, v6);
			sbuf_printf(b, "\t\tiifname \"%s\" ip daddr %s tcp dport %u %s\n",
			    mc->mc_pods[i], t.et_ip4, me->me_port, v4);
			if (magic_ep_pods_v6(mc, me))
				sbuf_printf(b, "\t\tiifname \"%s\" ip6 daddr %s tcp dport %u %s\n",
				    mc->mc_pods[i], t.et_ip6, me->me_port, v6);
		}
	sbuf_printf(b, "\t}\n\tchain %s {\n\t\ttype %s hook output priority %d; "
	    "policy accept;\n", nr->nr_out, nr->nr_type, nr->nr_prio);
	for (e = 0; e < mc->mc_nep; e++) {
		me = nft_row(nr, mc, e, &t, v4, v6);
		sbuf_printf(b, "\t\tip daddr %s tcp dport %u %s\n", t.et_ip4, me->me_port, v4);
		/* from this host, a row is sent over IPv6 only to a listener there */
		if (magic_ep_v6(mc, me) && (!nr->nr_nat || me->me_port6 != 0))
			sbuf_printf(b, "\t\tip6 daddr %s tcp dport %u %s\n", t.et_ip6,
			    me->me_port, v6);
	}
	sbuf_printf(b, "\t}\n");
}

/*
 * guard: pods never reach 127.0.0.0/8; a row's IPv6 address (on lo, the
 * server on it) from this host, and from the pods on the row's TCP port
 * only (the server's own port on it is not theirs).
 */
static void
nft_guard(const struct magic_conf *mc, struct sbuf *b)
{
	struct magic_ep_text t;
	size_t i, e;

	sbuf_printf(b, "\tchain guard {\n\t\ttype filter hook prerouting priority %d; "
	    "policy accept;\n", MAGIC_PRIO_GUARD);
	for (i = 0; i < mc->mc_npods; i++)
		sbuf_printf(b, "\t\tiifname \"%s\" ip daddr 127.0.0.0/8 drop\n", mc->mc_pods[i]);
	for (e = 0; e < mc->mc_nep; e++) {
		const struct magic_endpoint *me = &mc->mc_ep[e];
		if (!magic_ep_pods_v6(mc, me))
			continue;
		magic_ep_text(me, &t);
		for (i = 0; i < mc->mc_npods; i++)
			sbuf_printf(b, "\t\tiifname \"%s\" ip6 daddr %s tcp dport %u accept\n",
			    mc->mc_pods[i], t.et_ip6, me->me_port);
		sbuf_printf(b, "\t\tiifname != \"lo\" ip6 daddr %s drop\n", t.et_ip6);
	}
	sbuf_printf(b, "\t}\n");
}

size_t
magicip_nft_rules(const struct magic_conf *mc, int block, char *buf, size_t cap)
{
	struct sbuf b = SBUF_FIXED(buf, cap);
	char pods[MAGIC_PODS_TEXT_MAX];
	size_t i;

	magic_pods_text(mc, pods, sizeof(pods));
	/* replace whatever a previous run left, in the same transaction */
	sbuf_printf(&b, "add table inet %s\ndelete table inet %s\n", MAGIC_TABLE, MAGIC_TABLE);
	sbuf_printf(&b, "table inet %s {\n\tcomment \"%s pods=%s\"\n", MAGIC_TABLE, PROGNAME, pods);
	sbuf_printf(&b, "\tset localnet {\n\t\ttype ifname\n\t\tcomment \"route_localnet turned on "
	    "by " PROGNAME "\"\n\t}\n");
	if (block) {
		nft_rows(mc, &nft_block_rows, &b);
	} else {
		nft_guard(mc, &b);
		nft_rows(mc, &nft_nat_rows, &b);
		if (magic_any_hop(mc)) {
			sbuf_printf(&b, "\tchain hop {\n\t\ttype filter hook output priority %d; "
			    "policy accept;\n", MAGIC_PRIO_FILTER);
			for (i = 0; i < mc->mc_npods; i++)
				sbuf_printf(&b, "\t\toifname \"%s\" ip ttl 1 drop\n\t\toifname \"%s\" "
				    "ip6 hoplimit 1 drop\n", mc->mc_pods[i], mc->mc_pods[i]);
			sbuf_printf(&b, "\t}\n");
		}
	}
	sbuf_printf(&b, "}\n");
	return b.sb_full ? 0 : b.sb_len;
}
