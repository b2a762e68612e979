/*
 * iptables.c: the magic IP's rules through the iptables command, when
 * nftables is missing or unusable: chains GIMME-AWS-MINI-* in the raw, nat
 * and filter tables, one jump from each built-in chain, written with
 * iptables-restore --noflush (ip6tables-restore for the rows' IPv6
 * addresses), each with the same rules for every row of the endpoint
 * table.  Removal deletes the jumps it finds in iptables-save's listing,
 * then the chains.  The chain GIMME-AWS-MINI-RLN in raw records the
 * interfaces whose route_localnet we turned on, a RETURN rule each with the
 * comment "ifindex N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netfilter/netfilter.h"


#define IPT_CHAIN(x)		MAGIC_CHAIN_PREFIX x

/* ---- rule text ---------------------------------------------------------- */

/* iptables spells a prefix "veth+". */
static void
ipt_ifname(const char *pat, char *out, size_t len)
{
	size_t n = strlen(pat);

	snprintf(out, len, "%s", pat);
	if (n > 0 && n < len && out[n - 1] == '*')
		out[n - 1] = '+';
}

/* A row's magic address as a rule names it: "169.254.169.254/32". */
static void
ipt_magic(const struct magic_endpoint *me, int v6, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	nl_addr_text(v6 ? AF_INET6 : AF_INET, v6 ? me->me_ip6 : me->me_ip4, a, sizeof(a));
	snprintf(out, len, "%s/%s", a, v6 ? "128" : "32");
}

/* Where it goes: "127.0.0.1", "[fd00:ec2::254]". */
static void
ipt_to(const struct magic_endpoint *me, int v6, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	nl_addr_text(v6 ? AF_INET6 : AF_INET, v6 ? me->me_to6 : me->me_to4, a, sizeof(a));
	if (v6)
		snprintf(out, len, "[%s]", a);
	else
		snprintf(out, len, "%s", a);
}

/* Whether a row has an IPv6 address (ip6tables is run only with --ipv6). */
static int
ipt_has6(const struct magic_endpoint *me)
{
	return !IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)(const void *)me->me_ip6);
}

/*
 * raw: the guard (or the block), and the record of route_localnet.  The
 * IPv6 guard: a row's address (on lo, the server on it) for this host, and
 * for the pods on the row's TCP port only.
 */
static void
ipt_raw(const struct magic_conf *mc, int block, int v6, struct sbuf *b)
{
	char pods[MAGIC_PODS_TEXT_MAX], ifn[IF_NAMESIZE + 1], magic[INET6_ADDRSTRLEN + 5];
	size_t i, e;

	magic_pods_text(mc, pods, sizeof(pods));
	sbuf_printf(b, "*raw\n:" IPT_CHAIN("PRE") " - [0:0]\n");
	if (!v6)
		sbuf_printf(b, ":" IPT_CHAIN("RLN") " - [0:0]\n");
	if (block) {
		sbuf_printf(b, ":" IPT_CHAIN("OUT") " - [0:0]\n");
		for (i = 0; i < mc->mc_npods; i++)
			for (e = 0; e < mc->mc_nep; e++) {
				if (v6 && !magic_ep_pods_v6(mc, &mc->mc_ep[e]))
					continue;
				ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
				ipt_magic(&mc->mc_ep[e], v6, magic, sizeof(magic));
				sbuf_printf(b, "-A " IPT_CHAIN("PRE") " -i %s -d %s -p tcp --dport %u "
				    "-j DROP\n", ifn, magic, mc->mc_ep[e].me_port);
			}
		for (e = 0; e < mc->mc_nep; e++)
			if (!v6 || ipt_has6(&mc->mc_ep[e])) {
				ipt_magic(&mc->mc_ep[e], v6, magic, sizeof(magic));
				sbuf_printf(b, "-A " IPT_CHAIN("OUT") " -d %s -p tcp --dport %u "
				    "-j DROP\n", magic, mc->mc_ep[e].me_port);
			}
		sbuf_printf(b, "-I OUTPUT 1 -j " IPT_CHAIN("OUT") "\n");
	} else if (!v6) {
		for (i = 0; i < mc->mc_npods; i++) {
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			sbuf_printf(b, "-A " IPT_CHAIN("PRE") " -i %s -d 127.0.0.0/8 -j DROP\n", ifn);
		}
	} else {
		for (e = 0; e < mc->mc_nep; e++) {
			if (!magic_ep_pods_v6(mc, &mc->mc_ep[e]))
				continue;
			ipt_magic(&mc->mc_ep[e], 1, magic, sizeof(magic));
			for (i = 0; i < mc->mc_npods; i++) {
				ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
				sbuf_printf(b, "-A " IPT_CHAIN("PRE") " -i %s -d %s -p tcp --dport %u "
				    "-j RETURN\n", ifn, magic, mc->mc_ep[e].me_port);
			}
			sbuf_printf(b, "-A " IPT_CHAIN("PRE") " ! -i lo -d %s -j DROP\n", magic);
		}
	}
	sbuf_printf(b, "-I PREROUTING 1 -m comment --comment \"%s pods=%s\" -j " IPT_CHAIN("PRE")
	    "\nCOMMIT\n", PROGNAME, pods);
}

/* Whether a row has a listener in this family to send its address to. */
static int
ipt_nat_row(const struct magic_endpoint *me, int v6)
{
	return !v6 || (ipt_has6(me) && me->me_port6 != 0);
}

/* nat: each row's address and port to its listener (pods, then this host). */
static void
ipt_nat(const struct magic_conf *mc, int v6, struct sbuf *b)
{
	char ifn[IF_NAMESIZE + 1], magic[INET6_ADDRSTRLEN + 5], to[INET6_ADDRSTRLEN + 2];
	size_t i, e;

	sbuf_printf(b, "*nat\n:" IPT_CHAIN("PRE") " - [0:0]\n:" IPT_CHAIN("OUT") " - [0:0]\n");
	for (i = 0; i < mc->mc_npods; i++)
		for (e = 0; e < mc->mc_nep; e++) {
			const struct magic_endpoint *me = &mc->mc_ep[e];
			if (!ipt_nat_row(me, v6) || (v6 && !magic_ep_pods_v6(mc, me)))
				continue;
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			ipt_magic(me, v6, magic, sizeof(magic));
			ipt_to(me, v6, to, sizeof(to));
			sbuf_printf(b, "-A " IPT_CHAIN("PRE") " -i %s -d %s -p tcp --dport %u "
			    "-j DNAT --to-destination %s:%u\n", ifn, magic, me->me_port, to,
			    v6 ? me->me_port6 : me->me_port4);
		}
	for (e = 0; e < mc->mc_nep; e++) {
		const struct magic_endpoint *me = &mc->mc_ep[e];
		if (!ipt_nat_row(me, v6))
			continue;
		ipt_magic(me, v6, magic, sizeof(magic));
		ipt_to(me, v6, to, sizeof(to));
		sbuf_printf(b, "-A " IPT_CHAIN("OUT") " -d %s -p tcp --dport %u -j DNAT "
		    "--to-destination %s:%u\n", magic, me->me_port, to,
		    v6 ? me->me_port6 : me->me_port4);
	}
	sbuf_printf(b, "-I PREROUTING 1 -j " IPT_CHAIN("PRE") "\n-I OUTPUT 1 -j "
	    IPT_CHAIN("OUT") "\nCOMMIT\n");
}

size_t
magicip_ipt_rules(const struct magic_conf *mc, int block, int v6, char *buf, size_t cap)
{
	struct sbuf b = SBUF_FIXED(buf, cap);
	char ifn[IF_NAMESIZE + 1];
	size_t i, e;

	ipt_raw(mc, block, v6, &b);
	if (block)
		return b.sb_full ? 0 : b.sb_len;
	for (e = 0; e < mc->mc_nep; e++)
		if (ipt_nat_row(&mc->mc_ep[e], v6))
			break;
	if (e < mc->mc_nep)
		ipt_nat(mc, v6, &b);
	if (magic_any_hop(mc)) {
		sbuf_printf(&b, "*filter\n:" IPT_CHAIN("HOP") " - [0:0]\n");
		for (i = 0; i < mc->mc_npods; i++) {
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			sbuf_printf(&b, "-A " IPT_CHAIN("HOP") " -o %s -m %s --%s-eq 1 -j DROP\n",
			    ifn, v6 ? "hl" : "ttl", v6 ? "hl" : "ttl");
		}
		sbuf_printf(&b, "-I OUTPUT 1 -j " IPT_CHAIN("HOP") "\nCOMMIT\n");
	}
	return b.sb_full ? 0 : b.sb_len;
}


/* ---- running commands ----------------------------------------------------- */

/* Whether name is an executable in PATH (or /usr/sbin, where Debian has iptables). */
static int
have_cmd(const char *name)
{
	const char *path = getenv("PATH"), *p, *colon;
	char full[MAGIC_STATUS_LINE_MAX];

	if (path == NULL || *path == '\0')
		path = "/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path; ; p = colon + 1) {
		colon = strchr(p, ':');
		if (snprintf(full, sizeof(full), "%.*s/%s", colon ? (int)(colon - p) :
		    (int)strlen(p), p, name) < (int)sizeof(full) && access(full, X_OK) == 0)
			return 1;
		if (colon == NULL)
			break;
	}
	/* Debian keeps iptables in /usr/sbin, which a user's PATH may lack */
	snprintf(full, sizeof(full), "%s/%s", MAGIC_SBIN, name);
	return access(full, X_OK) == 0;
}

/*
 * Run argv (no shell) with input on its stdin; its stdout and stderr go to
 * out.  Returns the exit status (0..255), or -1 with err (could not run it,
 * killed, timed out, or more output than out holds: a listing cut short
 * must never pass for a whole one).  Blocks for at most
 * MAGIC_CMD_TIMEOUT_MS.
 */
static int
run_cmd(char *const argv[], const char *input, size_t inlen, char *out, size_t outcap,
    char *err, size_t errlen)
{
	/* stdin from the input, stdout and stderr into one pipe */
	struct spawn_spec sp = { .ss_prog = argv[0], .ss_argv = argv, .ss_search = 1,
	    .ss_fallback_dir = MAGIC_SBIN, .ss_nio = 3,
	    .ss_io = { { SPAWN_FD, -1 }, { SPAWN_PIPE, -1 }, { SPAWN_SAME, STDOUT_FILENO } } };
	int in = -1, outfd = -1, status, rc = -1, cut = 0, e;
	size_t got = 0;
	pid_t pid = -1;
	uint64_t deadline;

	out[0] = '\0';
	if ((in = memfd_create("gimme-rules", MFD_CLOEXEC)) == -1 ||
	    (inlen > 0 && write(in, input, inlen) != (ssize_t)inlen) ||
	    lseek(in, 0, SEEK_SET) == -1) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
		goto done;
	}
	sp.ss_io[STDIN_FILENO].io_fd = in;
	/* Debian keeps iptables in /usr/sbin, which a user's PATH may lack */
	if ((e = spawn_start(&sp, &pid)) != 0) {
		snprintf(err, errlen, "%s: %s%s", argv[0], strerror(e),
		    e == ENOENT ? " (is the iptables package installed?)" : "");
		pid = -1;
		goto done;
	}
	outfd = sp.ss_io[STDOUT_FILENO].io_fd;
	deadline = mono_ms() + MAGIC_CMD_TIMEOUT_MS;
	for (;;) {
		struct pollfd p = { outfd, POLLIN, 0 };
		uint64_t now;
		ssize_t r;

		now = mono_ms();
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
			kill(pid, SIGKILL);
			spawn_reap(pid, &status);
			snprintf(err, errlen, "%s: no answer in %d ms", argv[0], MAGIC_CMD_TIMEOUT_MS);
			pid = -1;
			goto done;
		}
		if (got == outcap - 1) {
			/* full: drain (within the deadline) so that the child ends */
			char sink[512];
			if ((r = read(outfd, sink, sizeof(sink))) > 0)
				cut = 1;
		} else if ((r = read(outfd, out + got, outcap - 1 - got)) > 0) {
			got += (size_t)r;
			out[got] = '\0';
		}
		if (r == 0 || (r == -1 && errno != EINTR))
			break;
	}
	spawn_reap(pid, &status);
	pid = -1;
	if (cut)
		snprintf(err, errlen, "%s: more than %zu bytes of output", argv[0], outcap - 1);
	else if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else
		snprintf(err, errlen, "%s: killed by signal %d", argv[0], WTERMSIG(status));
done:
	if (in != -1)
		close(in);
	if (outfd != -1)
		close(outfd);
	return rc;
}

int
ipt_have(void)
{
	return have_cmd("iptables-save");
}

int
ipt_usable(char *err, size_t errlen)
{
	char *argv[] = { "iptables-restore", "--version", NULL };
	char out[MAGIC_STATUS_LINE_MAX];

	return run_cmd(argv, "", 0, out, sizeof(out), err, errlen) == 0 ? 0 : -1;
}

/* ---- restore and save --------------------------------------------------- */

/* A command that failed: "name: the first lines of its output" into err.  -1. */
static int
ipt_fail(const char *name, const char *out, char *err, size_t errlen)
{
	char msg[ERRBUF_LEN];

	magic_first_lines(out, msg, sizeof(msg));
	snprintf(err, errlen, "%s: %s", name, msg);
	return -1;
}

static int
ipt_restore(int v6, const char *rules, char *err, size_t errlen)
{
	char *argv[] = { v6 ? "ip6tables-restore" : "iptables-restore", "-w", "5",
	    "--noflush", NULL };
	char out[MAGIC_CMD_OUT_MAX], msg[ERRBUF_LEN];
	int rc;

	if ((rc = run_cmd(argv, rules, strlen(rules), out, sizeof(out), err, errlen)) == -1)
		return -1;
	if (rc != 0) {
		/* iptables-restore names the line; quote it */
		unsigned long line = 0;
		const char *l, *p = rules;
		magic_first_lines(out, msg, sizeof(msg));
		/* legacy: "line 12 failed"; nf_tables: "Error occurred at line: 12" */
		if ((l = strstr(out, "line: ")) != NULL)
			line = strtoul(l + 6, NULL, 10);
		else if ((l = strstr(out, "line ")) != NULL)
			line = strtoul(l + 5, NULL, 10);
		if (line == 0)
			l = NULL;
		for (; line > 1 && p != NULL; line--)
			if ((p = strchr(p, '\n')) != NULL)
				p++;
		if (l != NULL && p != NULL)
			snprintf(err, errlen, "%s: %s (rule: %.*s)", argv[0], msg,
			    (int)strcspn(p, "\n"), p);
		else
			snprintf(err, errlen, "%s: %s", argv[0], msg);
		return -1;
	}
	return 0;
}

/* iptables-save's listing of one family (all tables).  0, or -1 with err. */
static int
ipt_save(int v6, char *out, size_t cap, char *err, size_t errlen)
{
	char *argv[] = { v6 ? "ip6tables-save" : "iptables-save", NULL };
	int rc;

	if ((rc = run_cmd(argv, "", 0, out, cap, err, errlen)) == -1)
		return -1;
	return rc != 0 ? ipt_fail(argv[0], out, err, errlen) : 0;
}

/*
 * From a listing, the restore script that removes everything ours: the
 * jumps to our chains ("-A X ... -j GIMME-AWS-MINI-..." becomes "-D X
 * ..."), then our chains (flushed, then deleted).  Also collects the
 * interfaces of the route_localnet record.  Returns the script's length
 * (0: nothing of ours), or -1 when it does not fit.
 */
ssize_t
magicip_ipt_removal(const char *save, char *buf, size_t cap,
    struct magic_localnet *localnet, size_t *nlocalnet, size_t maxlocalnet)
{
	struct sbuf b = SBUF_FIXED(buf, cap);
	char table[32] = "", chains[MAGIC_IPT_CHAINS_MAX][64];
	const char *line, *end;
	size_t nchains = 0, i, ours = 0;

	buf[0] = '\0';
	for (line = save; *line != '\0'; line = *end ? end + 1 : end) {
		size_t len;
		end = line + strcspn(line, "\n");
		len = (size_t)(end - line);
		if (line[0] == '*' && len < sizeof(table)) {
			memcpy(table, line + 1, len - 1);
			table[len - 1] = '\0';
			nchains = 0;
			sbuf_printf(&b, "*%s\n", table);
		} else if (line[0] == ':' && strncmp(line + 1, MAGIC_CHAIN_PREFIX,
		    strlen(MAGIC_CHAIN_PREFIX)) == 0 && nchains < MAGIC_IPT_CHAINS_MAX) {
			size_t cl = strcspn(line + 1, " \n");
			if (cl < sizeof(chains[0])) {
				memcpy(chains[nchains], line + 1, cl);
				chains[nchains++][cl] = '\0';
			}
		} else if (strncmp(line, "-A ", 3) == 0) {
			const char *j = strstr(line, " -j " MAGIC_CHAIN_PREFIX);
			int in_ours = strncmp(line + 3, MAGIC_CHAIN_PREFIX,
			    strlen(MAGIC_CHAIN_PREFIX)) == 0;
			if (j != NULL && j < end && !in_ours) {
				sbuf_printf(&b, "-D %.*s\n", (int)(len - 3), line + 3);
				ours++;
			}
			if (in_ours && strncmp(line + 3, IPT_CHAIN("RLN") " -i ",
			    strlen(IPT_CHAIN("RLN") " -i ")) == 0 && *nlocalnet < maxlocalnet) {
				const char *n = line + 3 + strlen(IPT_CHAIN("RLN") " -i "), *c;
				size_t nl = strcspn(n, " \n");
				struct magic_localnet *ln = &localnet[*nlocalnet];
				if (nl < IF_NAMESIZE) {
					memcpy(ln->ml_name, n, nl);
					ln->ml_name[nl] = '\0';
					/* -m comment --comment "ifindex 7" */
					c = memmem(n, (size_t)(end - n), "--comment \"", 11);
					ln->ml_index = c == NULL ? 0 : magic_localnet_index(c + 11,
					    (size_t)(end - c - 11));
					(*nlocalnet)++;
				}
			}
		} else if (strcmp(table, "") != 0 && strncmp(line, "COMMIT", 6) == 0) {
			for (i = 0; i < nchains; i++)
				sbuf_printf(&b, "-F %s\n", chains[i]);
			for (i = 0; i < nchains; i++)
				sbuf_printf(&b, "-X %s\n", chains[i]);
			ours += nchains;
			sbuf_printf(&b, "COMMIT\n");
		}
	}
	if (b.sb_full)
		return -1;
	return ours == 0 ? 0 : (ssize_t)b.sb_len;
}

/*
 * iptables-nft makes the tables and built-in chains it writes to, and the
 * iptables command can't delete them.  When a table did not exist before
 * our rules, install() puts an empty chain GIMME-AWS-MINI-NEW in it (so
 * the fact survives a crash); once our chains are gone, such a table is
 * deleted through nft if it holds nothing at all (built-in chains with
 * policy accept and no rule, which change no packet), so that a node with
 * no iptables rules before has none after.  Tables that existed before
 * are never touched.
 */
#define IPT_TABLES	{ "raw", "nat", "filter" }

static void
ipt_prune_made(int v6, const char *save)
{
	char cmd[MAGIC_RULE_LINE_MAX], err[ERRBUF_LEN], table[32] = "";
	const char *line, *end;

	for (line = save; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (line[0] == '*' && (size_t)(end - line) < sizeof(table)) {
			memcpy(table, line + 1, (size_t)(end - line - 1));
			table[end - line - 1] = '\0';
		} else if (strncmp(line, ":" IPT_CHAIN("NEW") " ", strlen(IPT_CHAIN("NEW")) + 2) == 0 &&
		    nft_table_empty(v6, table) == 1) {
			snprintf(cmd, sizeof(cmd), "delete table %s %s", v6 ? "ip6" : "ip", table);
			if (nft_run(cmd, NULL, err, sizeof(err)) == -1)
				log_debug("magic-ip: %s: %s", cmd, err);
		}
	}
}

/*
 * Mark, in rules, the tables that don't exist yet (see ipt_prune_made).
 * Returns a malloc'd copy, or NULL (then rules are used as they are).
 */
static char *
ipt_mark_new(int v6, const char *rules)
{
	static const char *const tables[] = IPT_TABLES;
	char cmd[MAGIC_RULE_LINE_MAX], err[ERRBUF_LEN], head[40], *out, *p;
	const char *o;
	size_t i, len = strlen(rules);

	if ((out = malloc(len + sizeof(tables) / sizeof(tables[0]) * 40 + 1)) == NULL)
		return NULL;
	memcpy(out, rules, len + 1);
	snprintf(cmd, sizeof(cmd), "list tables %s", v6 ? "ip6" : "ip");
	if (nft_run(cmd, &o, err, sizeof(err)) == -1)
		return out;	/* no nftables: iptables-legacy's tables always exist */
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(cmd, sizeof(cmd), "table %s %s\n", v6 ? "ip6" : "ip", tables[i]);
		snprintf(head, sizeof(head), "*%s\n", tables[i]);
		if (strstr(o, cmd) != NULL || (p = strstr(out, head)) == NULL)
			continue;
		p += strlen(head);
		memmove(p + strlen(":" IPT_CHAIN("NEW") " - [0:0]\n"), p, strlen(p) + 1);
		memcpy(p, ":" IPT_CHAIN("NEW") " - [0:0]\n", strlen(":" IPT_CHAIN("NEW") " - [0:0]\n"));
	}
	return out;
}

int
ipt_down(int v6, int reset_localnet, char *err, size_t errlen)
{
	char *save, *script;
	struct magic_localnet ln[MAGIC_LOCALNET_MAX];
	size_t nln = 0, i;
	ssize_t n;
	int rc = -1;

	save = malloc(MAGIC_CMD_OUT_MAX);
	script = malloc(MAGIC_CMD_OUT_MAX);
	if (save == NULL || script == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (ipt_save(v6, save, MAGIC_CMD_OUT_MAX, err, errlen) == -1)
		goto done;
	n = magicip_ipt_removal(save, script, MAGIC_CMD_OUT_MAX, ln, &nln, MAGIC_LOCALNET_MAX);
	if (n == -1) {
		snprintf(err, errlen, "%s-save's listing is too long", v6 ? "ip6tables" : "iptables");
		goto done;
	}
	if (n == 0) {
		rc = 0;
		goto done;
	}
	if (reset_localnet)
		for (i = 0; i < nln; i++)
			magic_localnet_off(&ln[i]);
	rc = ipt_restore(v6, script, err, errlen) == 0 ? 1 : -1;
	if (rc == 1)
		ipt_prune_made(v6, save);
	/* again: a running daemon may have turned one back on in between (as nft_down) */
	if (rc == 1 && reset_localnet)
		for (i = 0; i < nln; i++)
			magic_localnet_off(&ln[i]);
done:
	free(save);
	free(script);
	return rc;
}

/* ipt_restore, with the tables it creates marked as ours. */
static int
ipt_restore_marked(int v6, const char *rules, char *err, size_t errlen)
{
	char *marked = ipt_mark_new(v6, rules);
	int rc;

	rc = ipt_restore(v6, marked != NULL ? marked : rules, err, errlen);
	free(marked);
	return rc;
}

int
ipt_install(const struct magic_conf *mc, int block, char *rules, size_t cap, char *err,
    size_t errlen)
{
	char e2[ERRBUF_LEN];
	int v6;

	/* whatever is there goes first, so that exactly one copy remains */
	if (ipt_down(0, 0, err, errlen) == -1 || (mc->mc_ipv6 && ipt_down(1, 0, err, errlen) == -1))
		return -1;
	for (v6 = 0; v6 <= (mc->mc_ipv6 ? 1 : 0); v6++) {
		if (magicip_ipt_rules(mc, block, v6, rules, cap) == 0) {
			snprintf(err, errlen, "rules over %zu bytes", cap);
			goto undo;
		}
		if (ipt_restore_marked(v6, rules, err, errlen) == -1)
			goto undo;
	}
	return 0;
undo:
	/* each table commits on its own: take back the ones that did */
	ipt_down(0, 0, e2, sizeof(e2));
	if (mc->mc_ipv6)
		ipt_down(1, 0, e2, sizeof(e2));
	return -1;
}

/* ---- route_localnet's record -------------------------------------------- */

size_t
ipt_localnet_names(struct magic_localnet *ln, size_t max)
{
	char err[ERRBUF_LEN], *save, *script;
	size_t n = 0;

	save = malloc(MAGIC_CMD_OUT_MAX);
	script = malloc(MAGIC_CMD_OUT_MAX);
	if (save != NULL && script != NULL &&
	    ipt_save(0, save, MAGIC_CMD_OUT_MAX, err, sizeof(err)) == 0)
		magicip_ipt_removal(save, script, MAGIC_CMD_OUT_MAX, ln, &n, max);
	free(save);
	free(script);
	return n;
}

/* Whether our guard chain (raw PRE) is there.  1, 0, or -1 with err. */
int
ipt_guard_exists(char *err, size_t errlen)
{
	char *argv[] = { "iptables", "-w", "5", "-t", "raw", "-S", IPT_CHAIN("PRE"), NULL };
	char out[MAGIC_RULE_LINE_MAX * 16];
	int rc;

	/* 1: no such chain (other failures exit 2 and up, or can't run) */
	if ((rc = run_cmd(argv, "", 0, out, sizeof(out), err, errlen)) == -1)
		return -1;
	if (rc > 1)
		return ipt_fail(argv[0], out, err, errlen);
	return rc == 0;
}

void
ipt_localnet_note(const struct magic_localnet *ln, int add)
{
	char cmd[MAGIC_RULE_LINE_MAX], err[ERRBUF_LEN];

	snprintf(cmd, sizeof(cmd), "*raw\n-%c " IPT_CHAIN("RLN") " -i %s -m comment --comment "
	    "\"ifindex %u\" -j RETURN\nCOMMIT\n", add ? 'A' : 'D', ln->ml_name, ln->ml_index);
	if (ipt_restore(0, cmd, err, sizeof(err)) == -1)
		log_warn("magic-ip: %s %s: %s", add ? "recording" : "unrecording", ln->ml_name,
		    err);
}

/* ---- status ------------------------------------------------------------- */

int
ipt_status(FILE *out, char *err, size_t errlen)
{
	char *buf;
	int any = 0, v6;

	if ((buf = malloc(MAGIC_CMD_OUT_MAX)) == NULL)
		return -1;
	for (v6 = 0; v6 < 2; v6++) {
		const char *line, *end, *table = NULL;
		size_t tlen = 0;
		int shown = 0;
		if (!have_cmd("iptables-save") ||
		    ipt_save(v6, buf, MAGIC_CMD_OUT_MAX, err, errlen) == -1)
			break;
		for (line = buf; *line != '\0'; line = *end ? end + 1 : end) {
			end = line + strcspn(line, "\n");
			if (line[0] == '*') {
				table = line + 1;
				tlen = (size_t)(end - line - 1);
			} else if (memmem(line, (size_t)(end - line), MAGIC_CHAIN_PREFIX,
			    strlen(MAGIC_CHAIN_PREFIX)) != NULL && line[0] == '-') {
				if (!shown)
					fprintf(out, "%s:\n", v6 ? "ip6tables" : "iptables");
				shown = any = 1;
				fprintf(out, "\t-t %.*s %.*s\n", (int)tlen, table ? table : "?",
				    (int)(end - line), line);
			}
		}
	}
	free(buf);
	return any;
}
