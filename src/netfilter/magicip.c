/*
 * magicip.c: route 169.254.169.254:80 to the server (contract §1), and
 * take it all away again.
 *
 * nat mode (the default) puts everything in the host's packet filter, in a
 * place of our own, so that installing is one transaction and removing is
 * deleting that place:
 *
 *   nftables (libnftables, loaded with dlopen on first use): one table,
 *   `inet gimme_aws_mini`, rebuilt whole by "add table; delete table;
 *   table {...}" in one transaction, so a second start or a start after a
 *   crash ends with exactly one copy.  Its chains:
 *     guard  prerouting, before NAT: packets from the pod interfaces to
 *            127.0.0.0/8 are dropped (route_localnet, below, would let a
 *            pod reach the node's loopback services otherwise)
 *     pre    prerouting NAT: pods' 169.254.169.254:80 -> the server
 *     out    output NAT: the host's own processes, likewise
 *     hop    output filter: replies to pods with TTL 1 are dropped (below)
 *     block_pre/block_out  (--block-until-ready, before the rest exists)
 *   and a set, `localnet`, naming the interfaces whose route_localnet we
 *   turned on, so that a later `magic-ip down` can turn them off again.
 *
 *   iptables (the command, when nftables is missing or unusable): chains
 *   GIMME-AWS-MINI-* in the raw, nat and filter tables, one jump from each
 *   built-in chain, written with iptables-restore --noflush.  Removal
 *   deletes the jumps it finds in iptables-save's listing, then the chains.
 *
 * The server listens on loopback; a DNATed packet from a pod reaches
 * 127.0.0.1 only if the interface it came in on has route_localnet=1
 * (otherwise the kernel drops it as a martian), so that is set, through
 * rtnetlink, on every interface matching a pod pattern, including ones
 * created later (pods come and go: RTMGRP_LINK news).
 *
 * The hop limit (contract §5.2): on EKS a pod is one routed hop from IMDS,
 * so a token reply sent with TTL 1 expires on the way and never arrives,
 * while hop limit 2 reaches the pod.  Here the reply is generated on the
 * pod's own node and would arrive whatever its TTL; the hop chain plays
 * the router's part by dropping packets that leave for a pod interface
 * with TTL 1 (IPv6: hop limit 1).  Host processes (through lo) are not a
 * hop away and always get their token.
 *
 * alias mode puts 169.254.169.254/32 (label lo:imds) on lo and the server
 * listens on it, port 80, itself: no packet filter at all (as aws-vault
 * does on a laptop).
 *
 * None of this runs on the request path: install at start, the route_localnet
 * news when an interface appears, removal at exit.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netfilter/netfilter.h"

extern char **environ;

#define NFT_LIB			"libnftables.so.1"
#define IPT_CHAIN(x)		MAGIC_CHAIN_PREFIX x

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

static struct {
	enum magic_fw	 fw;		/* what installed the rules (nat mode) */
	int		 installed;	/* rules (or the alias) are live */
	int		 blocking;	/* only the block chains are */
	struct magic_conf conf;		/* as installed, pods resolved */
	int		 events_fd;
	struct loop_watch events;
	char		 localnet[MAGIC_LOCALNET_MAX][IF_NAMESIZE];	/* set by us */
	size_t		 nlocalnet;
	int		 lo6;		/* nat: we put [fd00:ec2::254] on lo */
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
pod_match(const char *pat, const char *name)
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
				if (pod_match(cand[j], p->if_name)) {
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

/* "cni0,veth*": the patterns, as kept in the table's comment. */
static void
pods_text(const struct magic_conf *mc, char *buf, size_t len)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < mc->mc_npods && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? "," : "", mc->mc_pods[i]);
	if (mc->mc_npods == 0)
		snprintf(buf, len, "none");
}

/* ---- rule text ---------------------------------------------------------- */

/*
 * Whether pods get [fd00:ec2::254] too: the server listens on that address
 * itself (put on lo), so a pod's packet can be DNATed to it.  A target of
 * ::1 serves host processes only: the kernel drops a packet DNATed to ::1
 * that came in on another interface (IPv6 has no route_localnet).
 */
static int
pods_v6(const struct magic_conf *mc)
{
	const struct in6_addr *to = (const struct in6_addr *)(const void *)mc->mc_to6;

	return mc->mc_ipv6 && !IN6_IS_ADDR_LOOPBACK(to) && !IN6_IS_ADDR_UNSPECIFIED(to);
}


size_t
magicip_nft_rules(const struct magic_conf *mc, int block, char *buf, size_t cap)
{
	struct sbuf b = { buf, 0, cap, 0 };
	char pods[MAGIC_PODS_MAX * (IF_NAMESIZE + 1) + 8], to4[INET_ADDRSTRLEN],
	    to6[INET6_ADDRSTRLEN];
	size_t i;

	pods_text(mc, pods, sizeof(pods));
	inet_ntop(AF_INET, mc->mc_to4, to4, sizeof(to4));
	inet_ntop(AF_INET6, mc->mc_to6, to6, sizeof(to6));
	/* replace whatever a previous run left, in the same transaction */
	sbuf_printf(&b, "add table inet %s\ndelete table inet %s\n", MAGIC_TABLE, MAGIC_TABLE);
	sbuf_printf(&b, "table inet %s {\n\tcomment \"%s pods=%s\"\n", MAGIC_TABLE, PROGNAME, pods);
	sbuf_printf(&b, "\tset localnet {\n\t\ttype ifname\n\t\tcomment \"route_localnet turned on "
	    "by " PROGNAME "\"\n\t}\n");
	if (block) {
		sbuf_printf(&b, "\tchain block_pre {\n\t\ttype filter hook prerouting priority %d; "
		    "policy accept;\n", MAGIC_PRIO_GUARD);
		for (i = 0; i < mc->mc_npods; i++) {
			sbuf_printf(&b, "\t\tiifname \"%s\" ip daddr %s tcp dport %d drop\n",
			    mc->mc_pods[i], MAGIC_IPV4, MAGIC_PORT);
			if (pods_v6(mc))
				sbuf_printf(&b, "\t\tiifname \"%s\" ip6 daddr %s tcp dport %d "
				    "drop\n", mc->mc_pods[i], MAGIC_IPV6, MAGIC_PORT);
		}
		sbuf_printf(&b, "\t}\n\tchain block_out {\n\t\ttype filter hook output priority %d; "
		    "policy accept;\n\t\tip daddr %s tcp dport %d drop\n", MAGIC_PRIO_GUARD,
		    MAGIC_IPV4, MAGIC_PORT);
		if (mc->mc_ipv6)
			sbuf_printf(&b, "\t\tip6 daddr %s tcp dport %d drop\n", MAGIC_IPV6, MAGIC_PORT);
		sbuf_printf(&b, "\t}\n}\n");
		return b.sb_full ? 0 : b.sb_len;
	}
	sbuf_printf(&b, "\tchain guard {\n\t\ttype filter hook prerouting priority %d; "
	    "policy accept;\n", MAGIC_PRIO_GUARD);
	for (i = 0; i < mc->mc_npods; i++)
		sbuf_printf(&b, "\t\tiifname \"%s\" ip daddr 127.0.0.0/8 drop\n", mc->mc_pods[i]);
	if (pods_v6(mc)) {
		/* the address on lo (and the server on it) for this host and the pods only */
		for (i = 0; i < mc->mc_npods; i++)
			sbuf_printf(&b, "\t\tiifname \"%s\" ip6 daddr %s accept\n", mc->mc_pods[i],
			    MAGIC_IPV6);
		sbuf_printf(&b, "\t\tiifname != \"lo\" ip6 daddr %s drop\n", MAGIC_IPV6);
	}
	sbuf_printf(&b, "\t}\n\tchain pre {\n\t\ttype nat hook prerouting priority %d; "
	    "policy accept;\n", MAGIC_PRIO_NAT);
	for (i = 0; i < mc->mc_npods; i++) {
		sbuf_printf(&b, "\t\tiifname \"%s\" ip daddr %s tcp dport %d dnat ip to %s:%u\n",
		    mc->mc_pods[i], MAGIC_IPV4, MAGIC_PORT, to4, mc->mc_port4);
		if (pods_v6(mc))
			sbuf_printf(&b, "\t\tiifname \"%s\" ip6 daddr %s tcp dport %d dnat ip6 to "
			    "[%s]:%u\n", mc->mc_pods[i], MAGIC_IPV6, MAGIC_PORT, to6, mc->mc_port6);
	}
	sbuf_printf(&b, "\t}\n\tchain out {\n\t\ttype nat hook output priority %d; "
	    "policy accept;\n\t\tip daddr %s tcp dport %d dnat ip to %s:%u\n", MAGIC_PRIO_NAT,
	    MAGIC_IPV4,
	    MAGIC_PORT, to4, mc->mc_port4);
	if (mc->mc_ipv6 && mc->mc_port6 != 0)
		sbuf_printf(&b, "\t\tip6 daddr %s tcp dport %d dnat ip6 to [%s]:%u\n", MAGIC_IPV6,
		    MAGIC_PORT, to6, mc->mc_port6);
	sbuf_printf(&b, "\t}\n\tchain hop {\n\t\ttype filter hook output priority %d; "
	    "policy accept;\n", MAGIC_PRIO_FILTER);
	for (i = 0; i < mc->mc_npods; i++)
		sbuf_printf(&b, "\t\toifname \"%s\" ip ttl 1 drop\n\t\toifname \"%s\" ip6 hoplimit 1 "
		    "drop\n", mc->mc_pods[i], mc->mc_pods[i]);
	sbuf_printf(&b, "\t}\n}\n");
	return b.sb_full ? 0 : b.sb_len;
}

/* iptables spells a prefix "veth+". */
static void
ipt_ifname(const char *pat, char *out, size_t len)
{
	size_t n = strlen(pat);

	snprintf(out, len, "%s", pat);
	if (n > 0 && n < len && out[n - 1] == '*')
		out[n - 1] = '+';
}

size_t
magicip_ipt_rules(const struct magic_conf *mc, int block, int v6, char *buf, size_t cap)
{
	struct sbuf b = { buf, 0, cap, 0 };
	char pods[MAGIC_PODS_MAX * (IF_NAMESIZE + 1) + 8], to[INET6_ADDRSTRLEN + 2],
	    ifn[IF_NAMESIZE + 1];
	const char *magic = v6 ? MAGIC_IPV6 "/128" : MAGIC_IPV4 "/32";
	size_t i;

	pods_text(mc, pods, sizeof(pods));
	if (v6) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, mc->mc_to6, a, sizeof(a));
		snprintf(to, sizeof(to), "[%s]", a);
	} else
		inet_ntop(AF_INET, mc->mc_to4, to, sizeof(to));
	/* raw: the guard (or the block), and the record of route_localnet */
	sbuf_printf(&b, "*raw\n:" IPT_CHAIN("PRE") " - [0:0]\n");
	if (!v6)
		sbuf_printf(&b, ":" IPT_CHAIN("RLN") " - [0:0]\n");
	if (block) {
		sbuf_printf(&b, ":" IPT_CHAIN("OUT") " - [0:0]\n");
		for (i = 0; i < mc->mc_npods && (!v6 || pods_v6(mc)); i++) {
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			sbuf_printf(&b, "-A " IPT_CHAIN("PRE") " -i %s -d %s -p tcp --dport %d -j DROP\n",
			    ifn, magic, MAGIC_PORT);
		}
		sbuf_printf(&b, "-A " IPT_CHAIN("OUT") " -d %s -p tcp --dport %d -j DROP\n", magic,
		    MAGIC_PORT);
		sbuf_printf(&b, "-I OUTPUT 1 -j " IPT_CHAIN("OUT") "\n");
	} else if (!v6) {
		for (i = 0; i < mc->mc_npods; i++) {
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			sbuf_printf(&b, "-A " IPT_CHAIN("PRE") " -i %s -d 127.0.0.0/8 -j DROP\n", ifn);
		}
	} else if (pods_v6(mc)) {
		/* the address on lo (and the server on it) for this host and the pods only */
		for (i = 0; i < mc->mc_npods; i++) {
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			sbuf_printf(&b, "-A " IPT_CHAIN("PRE") " -i %s -d %s -j RETURN\n", ifn, magic);
		}
		sbuf_printf(&b, "-A " IPT_CHAIN("PRE") " ! -i lo -d %s -j DROP\n", magic);
	}
	sbuf_printf(&b, "-I PREROUTING 1 -m comment --comment \"%s pods=%s\" -j " IPT_CHAIN("PRE")
	    "\nCOMMIT\n", PROGNAME, pods);
	if (block)
		return b.sb_full ? 0 : b.sb_len;
	if (!v6 || mc->mc_port6 != 0) {
		sbuf_printf(&b, "*nat\n:" IPT_CHAIN("PRE") " - [0:0]\n:" IPT_CHAIN("OUT") " - [0:0]\n");
		for (i = 0; i < mc->mc_npods && (!v6 || pods_v6(mc)); i++) {
			ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
			sbuf_printf(&b, "-A " IPT_CHAIN("PRE") " -i %s -d %s -p tcp --dport %d "
			    "-j DNAT --to-destination %s:%u\n", ifn, magic, MAGIC_PORT, to,
			    v6 ? mc->mc_port6 : mc->mc_port4);
		}
		sbuf_printf(&b, "-A " IPT_CHAIN("OUT") " -d %s -p tcp --dport %d -j DNAT "
		    "--to-destination %s:%u\n", magic, MAGIC_PORT, to,
		    v6 ? mc->mc_port6 : mc->mc_port4);
		sbuf_printf(&b, "-I PREROUTING 1 -j " IPT_CHAIN("PRE") "\n-I OUTPUT 1 -j "
		    IPT_CHAIN("OUT") "\nCOMMIT\n");
	}
	sbuf_printf(&b, "*filter\n:" IPT_CHAIN("HOP") " - [0:0]\n");
	for (i = 0; i < mc->mc_npods; i++) {
		ipt_ifname(mc->mc_pods[i], ifn, sizeof(ifn));
		sbuf_printf(&b, "-A " IPT_CHAIN("HOP") " -o %s -m %s --%s-eq 1 -j DROP\n", ifn,
		    v6 ? "hl" : "ttl", v6 ? "hl" : "ttl");
	}
	sbuf_printf(&b, "-I OUTPUT 1 -j " IPT_CHAIN("HOP") "\nCOMMIT\n");
	return b.sb_full ? 0 : b.sb_len;
}

/* ---- running commands (iptables) ---------------------------------------- */

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
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int in = -1, pipefd[2] = { -1, -1 }, status, rc = -1, cut = 0;
	size_t got = 0;
	pid_t pid = -1;
	uint64_t deadline;

	out[0] = '\0';
	if ((in = memfd_create("gimme-rules", MFD_CLOEXEC)) == -1 ||
	    (inlen > 0 && write(in, input, inlen) != (ssize_t)inlen) ||
	    lseek(in, 0, SEEK_SET) == -1 || pipe2(pipefd, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(errno));
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	/* not the loop's blocked signals, nor its ignored SIGPIPE */
	posix_spawnattr_init(&attr);
	errno = spawn_attr_clean(&attr, 0);
	if (errno == 0)
		errno = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	if (errno == ENOENT && strchr(argv[0], '/') == NULL) {
		char full[MAGIC_STATUS_LINE_MAX];
		snprintf(full, sizeof(full), "%s/%s", MAGIC_SBIN, argv[0]);
		errno = posix_spawn(&pid, full, &fa, &attr, argv, environ);
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (errno != 0) {
		snprintf(err, errlen, "%s: %s%s", argv[0], strerror(errno),
		    errno == ENOENT ? " (is the iptables package installed?)" : "");
		pid = -1;
		goto done;
	}
	deadline = mono_ms() + MAGIC_CMD_TIMEOUT_MS;
	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		uint64_t now;
		ssize_t r;

		now = mono_ms();
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(err, errlen, "%s: no answer in %d ms", argv[0], MAGIC_CMD_TIMEOUT_MS);
			pid = -1;
			goto done;
		}
		if (got == outcap - 1) {
			/* full: drain (within the deadline) so that the child ends */
			char sink[512];
			if ((r = read(pipefd[0], sink, sizeof(sink))) > 0)
				cut = 1;
		} else if ((r = read(pipefd[0], out + got, outcap - 1 - got)) > 0) {
			got += (size_t)r;
			out[got] = '\0';
		}
		if (r == 0 || (r == -1 && errno != EINTR))
			break;
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
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
	if (pipefd[0] != -1)
		close(pipefd[0]);
	if (pipefd[1] != -1)
		close(pipefd[1]);
	return rc;
}

/*
 * A command's message on one line: lines joined with "; ", indentation and
 * nft's caret lines dropped, our rules file's name shortened to "line".
 */
static void
first_lines(const char *out, char *buf, size_t len)
{
	struct sbuf b = { buf, 0, len, 0 };
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

/* ---- nftables ----------------------------------------------------------- */

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

static void
nft_close(void)
{
	if (nft.ctx != NULL)
		nft.ctx_free(nft.ctx);
	nft.ctx = NULL;
	if (nft.lib != NULL)
		dlclose(nft.lib);
	memset(&nft, 0, sizeof(nft));
}

/*
 * Run nft commands as one transaction.  0, or -1 with err holding nft's
 * message, which quotes the rule it refused and the kernel's reason.
 * *outp (may be NULL) gets nft's output, valid until the next call.
 */
static int
nft_run(const char *cmds, const char **outp, char *err, size_t errlen)
{
	const char *e;

	if (nft_open(err, errlen) == -1)
		return -1;
	if (nft.run(nft.ctx, cmds) != 0) {
		e = nft.get_error(nft.ctx);
		first_lines(e != NULL && *e != '\0' ? e : "failed\n", err, errlen);
		return -1;
	}
	if (outp != NULL)
		*outp = nft.get_output(nft.ctx);
	return 0;
}

/*
 * A whole rule set, as one transaction, through a file: nft's message on
 * failure then names the line and column and quotes the rule it refused
 * (from a buffer it quotes the wrong line).
 */
static int
nft_run_rules(const char *rules, char *err, size_t errlen)
{
	char path[MAGIC_RULE_LINE_MAX];
	const char *e;
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
	if (rc != 0) {
		e = nft.get_error(nft.ctx);
		first_lines(e != NULL && *e != '\0' ? e : "failed\n", err, errlen);
		return -1;
	}
	return 0;
}

/* Whether our table exists.  1, 0, or -1 with err (nftables unusable). */
static int
nft_table_exists(char *err, size_t errlen)
{
	const char *out;

	if (nft_run("list tables inet", &out, err, errlen) == -1)
		return -1;
	return strstr(out, "table inet " MAGIC_TABLE "\n") != NULL;
}

/* The quoted names in "elements = { "a", "b" }" of a set listing. */
static size_t
parse_elements(const char *text, char names[][IF_NAMESIZE], size_t max)
{
	const char *p = strstr(text, "elements = {"), *q;
	size_t n = 0;

	if (p == NULL)
		return 0;
	for (p += 12; *p != '\0' && *p != '}' && n < max; p = q + 1) {
		if ((p = strchr(p, '"')) == NULL || (q = strchr(p + 1, '"')) == NULL)
			break;
		if ((size_t)(q - p - 1) < IF_NAMESIZE) {
			memcpy(names[n], p + 1, (size_t)(q - p - 1));
			names[n++][q - p - 1] = '\0';
		}
	}
	return n;
}

/* ---- iptables ----------------------------------------------------------- */

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
		first_lines(out, msg, sizeof(msg));
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
	if (rc != 0) {
		char msg[ERRBUF_LEN];
		first_lines(out, msg, sizeof(msg));
		snprintf(err, errlen, "%s: %s", argv[0], msg);
		return -1;
	}
	return 0;
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
    char localnet[][16], size_t *nlocalnet, size_t maxlocalnet)
{
	struct sbuf b = { buf, 0, cap, 0 };
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
				const char *n = line + 3 + strlen(IPT_CHAIN("RLN") " -i ");
				size_t nl = strcspn(n, " \n");
				if (nl < IF_NAMESIZE) {
					memcpy(localnet[*nlocalnet], n, nl);
					localnet[(*nlocalnet)++][nl] = '\0';
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

static int
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

/* Remove our iptables (or ip6tables) rules.  1 removed, 0 none, -1 with err. */
static int
ipt_down(int v6, int reset_localnet, char *err, size_t errlen)
{
	char *save, *script;
	char names[MAGIC_LOCALNET_MAX][IF_NAMESIZE], e2[ERRBUF_LEN];
	size_t nnames = 0, i;
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
	n = magicip_ipt_removal(save, script, MAGIC_CMD_OUT_MAX, names, &nnames,
	    MAGIC_LOCALNET_MAX);
	if (n == -1) {
		snprintf(err, errlen, "%s-save's listing is too long", v6 ? "ip6tables" : "iptables");
		goto done;
	}
	if (n == 0) {
		rc = 0;
		goto done;
	}
	if (reset_localnet)
		for (i = 0; i < nnames; i++)
			if (nl_route_localnet(names[i], 0, e2, sizeof(e2)) == -1 && errno != ENODEV)
				log_warn("magic-ip: %s", e2);
	rc = ipt_restore(v6, script, err, errlen) == 0 ? 1 : -1;
	if (rc == 1)
		ipt_prune_made(v6, save);
done:
	free(save);
	free(script);
	return rc;
}

/* ---- route_localnet ----------------------------------------------------- */

/* Record an interface whose route_localnet we turned on, with the rules. */
static void
localnet_record(const char *ifname)
{
	char cmd[MAGIC_RULE_LINE_MAX], err[ERRBUF_LEN];

	if (mi.nlocalnet < MAGIC_LOCALNET_MAX)
		snprintf(mi.localnet[mi.nlocalnet++], IF_NAMESIZE, "%s", ifname);
	if (mi.fw == FW_NFT) {
		snprintf(cmd, sizeof(cmd), "add element inet %s localnet { \"%s\" }", MAGIC_TABLE,
		    ifname);
		if (nft_run(cmd, NULL, err, sizeof(err)) == -1)
			log_warn("magic-ip: recording %s: %s", ifname, err);
	} else {
		snprintf(cmd, sizeof(cmd), "*raw\n-A " IPT_CHAIN("RLN") " -i %s -j RETURN\nCOMMIT\n",
		    ifname);
		if (ipt_restore(0, cmd, err, sizeof(err)) == -1)
			log_warn("magic-ip: recording %s: %s", ifname, err);
	}
}

/* route_localnet on one interface if it matches a pod pattern and is off. */
static void
localnet_one(const char *ifname, void *unused)
{
	char err[ERRBUF_LEN];
	size_t i;

	(void)unused;
	for (i = 0; i < mi.conf.mc_npods; i++)
		if (pod_match(mi.conf.mc_pods[i], ifname))
			break;
	if (i == mi.conf.mc_npods || nl_route_localnet_get(ifname) != 0)
		return;	/* not a pod interface, already on, or gone */
	for (i = 0; i < mi.nlocalnet; i++)
		if (strcmp(mi.localnet[i], ifname) == 0)
			break;
	if (nl_route_localnet(ifname, 1, err, sizeof(err)) == -1) {
		log_warn("magic-ip: %s (pods behind it won't reach the server)", err);
		return;
	}
	if (i == mi.nlocalnet)
		localnet_record(ifname);
	log_debug("magic-ip: route_localnet on %s", ifname);
}

static void
localnet_scan(void)
{
	struct if_nameindex *ifs, *p;

	if ((ifs = if_nameindex()) == NULL)
		return;
	for (p = ifs; p->if_index != 0; p++)
		localnet_one(p->if_name, NULL);
	if_freenameindex(ifs);
}

static void
on_link_event(int fd, uint32_t events, void *unused)
{
	(void)events;
	(void)unused;
	if (nl_link_events_read(fd, localnet_one, NULL) == -1)
		localnet_scan();	/* news were lost (ENOBUFS): look at everything */
}

/* ---- alias mode ----------------------------------------------------------- */

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
 * nat with --ipv6: [fd00:ec2::254] on lo, where the server listens (bound
 * with IPV6_FREEBIND before the address exists).  Put there after the
 * guard that keeps other interfaces from it.  0 / -1 with err.
 */
static int
lo6_up(char *err, size_t errlen)
{
	unsigned char a6[16];

	inet_pton(AF_INET6, MAGIC_IPV6, a6);
	if (alias_present(AF_INET6, a6))
		return 0;
	if (nl_addr(1, AF_INET6, a6, "lo", NULL, err, errlen) == -1)
		return -1;
	mi.lo6 = 1;
	return 0;
}

/* Take [fd00:ec2::254] off lo again if lo6_up put it there.  -1 with err. */
static int
lo6_down(char *err, size_t errlen)
{
	unsigned char a6[16];

	if (!mi.lo6)
		return 0;
	mi.lo6 = 0;
	inet_pton(AF_INET6, MAGIC_IPV6, a6);
	if (!alias_present(AF_INET6, a6))
		return 0;
	return nl_addr(0, AF_INET6, a6, "lo", NULL, err, errlen);
}

static int
alias_down(char *err, size_t errlen)
{
	unsigned char a4[4], a6[16];
	int any = 0;

	inet_pton(AF_INET, MAGIC_IPV4, a4);
	inet_pton(AF_INET6, MAGIC_IPV6, a6);
	if (alias_present(AF_INET, a4)) {
		if (nl_addr(0, AF_INET, a4, "lo", MAGIC_LABEL, err, errlen) == -1)
			return -1;
		any = 1;
	}
	if (alias_present(AF_INET6, a6)) {
		if (nl_addr(0, AF_INET6, a6, "lo", NULL, err, errlen) == -1)
			return -1;
		any = 1;
	}
	return any;
}

/* ---- the interface -------------------------------------------------------- */

int
magicip_check_privileges(const struct magic_conf *mc, char *err, size_t errlen)
{
	char line[MAGIC_STATUS_LINE_MAX];
	unsigned long long eff = 0;
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
	if (mc->mc_mode == MAGIC_ALIAS && !(eff & (1ULL << MAGIC_CAP_NET_BIND))) {
		/* port 80 is below ip_unprivileged_port_start unless lowered */
		unsigned long start = 1024;
		if ((f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re")) != NULL) {
			if (fscanf(f, "%lu", &start) != 1)
				start = 1024;
			fclose(f);
		}
		if (start > MAGIC_PORT) {
			snprintf(err, errlen, "--magic-ip=alias listens on port %d, which needs "
			    "CAP_NET_BIND_SERVICE: run as root, or give the binary the capability",
			    MAGIC_PORT);
			return -1;
		}
	}
	return 0;
}

/* Choose the packet filter for nat mode.  0, or -1 with err naming both failures. */
static int
choose_fw(enum magic_fw want, enum magic_fw *out, char *err, size_t errlen)
{
	char e1[ERRBUF_LEN], e2[ERRBUF_LEN], out2[MAGIC_STATUS_LINE_MAX];
	char *argv[] = { "iptables-restore", "--version", NULL };

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
	if (run_cmd(argv, "", 0, out2, sizeof(out2), e2, sizeof(e2)) == 0) {
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

/* Install (block 0) or the blocking rules (block 1) with the chosen filter. */
static int
install(const struct magic_conf *mc, int block, char *err, size_t errlen)
{
	char *rules;
	char e2[ERRBUF_LEN];
	int rc = -1;

	if ((rules = malloc(MAGIC_RULES_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (mi.fw == FW_NFT) {
		if (magicip_nft_rules(mc, block, rules, MAGIC_RULES_MAX) == 0)
			snprintf(err, errlen, "rules over %d bytes", MAGIC_RULES_MAX);
		else
			rc = nft_run_rules(rules, err, errlen);
		goto done;
	}
	/* iptables: whatever is there goes first, so that exactly one copy remains */
	if (ipt_down(0, 0, err, errlen) == -1 || (mc->mc_ipv6 && ipt_down(1, 0, err, errlen) == -1))
		goto done;
	if (magicip_ipt_rules(mc, block, 0, rules, MAGIC_RULES_MAX) == 0) {
		snprintf(err, errlen, "rules over %d bytes", MAGIC_RULES_MAX);
		goto done;
	}
	if (ipt_restore_marked(0, rules, err, errlen) == -1)
		goto undo;
	if (mc->mc_ipv6) {
		if (magicip_ipt_rules(mc, block, 1, rules, MAGIC_RULES_MAX) == 0) {
			snprintf(err, errlen, "rules over %d bytes", MAGIC_RULES_MAX);
			goto undo;
		}
		if (ipt_restore_marked(1, rules, err, errlen) == -1)
			goto undo;
	}
	rc = 0;
	goto done;
undo:
	/* each table commits on its own: take back the ones that did */
	ipt_down(0, 0, e2, sizeof(e2));
	if (mc->mc_ipv6)
		ipt_down(1, 0, e2, sizeof(e2));
done:
	free(rules);
	return rc;
}

int
magicip_block(const struct magic_conf *mc, char *err, size_t errlen)
{
	mi.conf = *mc;
	resolve_auto(&mi.conf);
	if (choose_fw(mc->mc_fw, &mi.fw, err, errlen) == -1 ||
	    install(&mi.conf, 1, err, errlen) == -1)
		return -1;
	mi.blocking = 1;
	log_info("magic-ip: blocking %s:%d until the server is ready (%s)", MAGIC_IPV4,
	    MAGIC_PORT, mi.fw == FW_NFT ? "nft" : "iptables");
	return 0;
}

/* The route_localnet record of rules already installed (by a run that died). */
static size_t
prev_localnet(char names[][IF_NAMESIZE], size_t max)
{
	char err[ERRBUF_LEN], *save, *script;
	const char *out;
	size_t n = 0;

	if (mi.fw == FW_NFT) {
		if (nft_run("list set inet " MAGIC_TABLE " localnet", &out, err, sizeof(err)) == 0)
			n = parse_elements(out, names, max);
		return n;
	}
	save = malloc(MAGIC_CMD_OUT_MAX);
	script = malloc(MAGIC_CMD_OUT_MAX);
	if (save != NULL && script != NULL &&
	    ipt_save(0, save, MAGIC_CMD_OUT_MAX, err, sizeof(err)) == 0)
		magicip_ipt_removal(save, script, MAGIC_CMD_OUT_MAX, names, &n, max);
	free(save);
	free(script);
	return n;
}

int
magicip_up(const struct magic_conf *mc, int watch, char *err, size_t errlen)
{
	char pods[MAGIC_PODS_MAX * (IF_NAMESIZE + 1) + 8], to[INET6_ADDRSTRLEN];
	char prev[MAGIC_LOCALNET_MAX][IF_NAMESIZE];
	size_t nprev, i;

	mi.conf = *mc;
	resolve_auto(&mi.conf);
	pods_text(&mi.conf, pods, sizeof(pods));
	if (mc->mc_mode == MAGIC_ALIAS) {
		unsigned char a4[4], a6[16];
		inet_pton(AF_INET, MAGIC_IPV4, a4);
		inet_pton(AF_INET6, MAGIC_IPV6, a6);
		if (!alias_present(AF_INET, a4) &&
		    nl_addr(1, AF_INET, a4, "lo", MAGIC_LABEL, err, errlen) == -1)
			return -1;
		if (mc->mc_ipv6 && !alias_present(AF_INET6, a6) &&
		    nl_addr(1, AF_INET6, a6, "lo", NULL, err, errlen) == -1) {
			char e2[ERRBUF_LEN];
			alias_down(e2, sizeof(e2));
			return -1;
		}
		mi.installed = 1;
		log_info("magic-ip: installed (alias): %s%s on lo", MAGIC_IPV4,
		    mc->mc_ipv6 ? " and " MAGIC_IPV6 : "");
		return 0;
	}
	if (!mi.blocking && choose_fw(mc->mc_fw, &mi.fw, err, errlen) == -1)
		return -1;
	/* a run killed before it could clean up turned these on: they stay ours */
	nprev = prev_localnet(prev, MAGIC_LOCALNET_MAX);
	if (install(&mi.conf, 0, err, errlen) == -1)
		return -1;
	if (pods_v6(&mi.conf) && lo6_up(err, errlen) == -1) {
		char e2[ERRBUF_LEN];
		mi.installed = 1;
		magicip_down(1, e2, sizeof(e2));
		return -1;
	}
	mi.blocking = 0;
	mi.installed = 1;
	mi.nlocalnet = 0;
	for (i = 0; i < nprev; i++)
		if (nl_route_localnet_get(prev[i]) == 1)
			localnet_record(prev[i]);
	localnet_scan();
	if (watch && mi.conf.mc_npods > 0) {
		if ((mi.events_fd = nl_link_events_open()) == -1 ||
		    loop_watch_add(&mi.events, mi.events_fd, EPOLLIN, on_link_event,
		    NULL) == -1) {
			log_warn("magic-ip: new pod interfaces won't be noticed: %s",
			    strerror(errno));
			if (mi.events_fd != -1)
				close(mi.events_fd);	/* not left open, unwatched */
			mi.events_fd = -1;
		}
	}
	inet_ntop(AF_INET, mi.conf.mc_to4, to, sizeof(to));
	log_info("magic-ip: installed (%s): %s:%d -> %s:%u for this host and pods on %s",
	    mi.fw == FW_NFT ? "nft" : "iptables", MAGIC_IPV4, MAGIC_PORT, to, mi.conf.mc_port4,
	    pods);
	if (mi.conf.mc_ipv6 && mi.conf.mc_port6 != 0) {
		inet_ntop(AF_INET6, mi.conf.mc_to6, to, sizeof(to));
		log_info("magic-ip: installed (%s): [%s]:%d -> [%s]:%u for this host%s",
		    mi.fw == FW_NFT ? "nft" : "iptables", MAGIC_IPV6, MAGIC_PORT, to,
		    mi.conf.mc_port6, pods_v6(&mi.conf) ? " and the pods" : " (a target on ::1 "
		    "cannot serve pods)");
	}
	if (mi.conf.mc_npods == 0)
		log_warn("magic-ip: no pod interface found: only this host's processes are "
		    "routed (name them with --pod-interface)");
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

/* Remove what nft holds of ours.  1 removed, 0 none, -1 with err. */
static int
nft_down(char *err, size_t errlen)
{
	char names[MAGIC_LOCALNET_MAX][IF_NAMESIZE], e2[ERRBUF_LEN];
	const char *out;
	size_t n, i;
	int ex;

	if ((ex = nft_table_exists(err, errlen)) <= 0)
		return ex;
	if (nft_run("list set inet " MAGIC_TABLE " localnet", &out, e2, sizeof(e2)) == 0) {
		n = parse_elements(out, names, MAGIC_LOCALNET_MAX);
		for (i = 0; i < n; i++)
			if (nl_route_localnet(names[i], 0, e2, sizeof(e2)) == -1 && errno != ENODEV)
				log_warn("magic-ip: %s", e2);
	}
	if (nft_run("delete table inet " MAGIC_TABLE, NULL, err, errlen) == -1)
		return -1;
	return 1;
}

int
magicip_down(int quiet, char *err, size_t errlen)
{
	char e[ERRBUF_LEN];
	int r, removed = 0, failed = 0, own;

	if (mi.events_fd != -1) {
		loop_watch_del(&mi.events);
		close(mi.events_fd);
		mi.events_fd = -1;
	}
	err[0] = '\0';
	/* a daemon takes back what it installed; `magic-ip down` looks everywhere */
	own = mi.installed || mi.blocking ? (mi.conf.mc_mode == MAGIC_ALIAS ? 4 :
	    mi.fw == FW_NFT ? 1 : 2) : 7;
	/* the address first: no moment with it on lo and no guard */
	if (lo6_down(e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s", e);
		failed = 1;
	}
	if (!(own & 1))
		goto iptables;
	/* nftables, when it can be used at all (missing is not an error here) */
	if ((r = nft_down(e, sizeof(e))) == 1)
		removed |= 1;
	else if (r == -1 && mi.fw == FW_NFT && mi.installed) {
		snprintf(err, errlen, "%s", e);
		failed = 1;
	}
iptables:
	/* iptables, when the command exists */
	if ((own & 2) && (have_cmd("iptables-save") || mi.fw == FW_IPTABLES)) {
		if ((r = ipt_down(0, 1, e, sizeof(e))) == 1)
			removed |= 2;
		else if (r == -1) {
			snprintf(err, errlen, "%s", e);
			failed = 1;
		}
		if ((r = ipt_down(1, 1, e, sizeof(e))) == 1)
			removed |= 2;
		else if (r == -1 && mi.conf.mc_ipv6) {
			snprintf(err, errlen, "%s", e);
			failed = 1;
		}
	}
	if (!(own & 4))
		r = 0;
	else if ((r = alias_down(e, sizeof(e))) == 1)
		removed |= 4;
	else if (r == -1) {
		snprintf(err, errlen, "%s", e);
		failed = 1;
	}
	nft_close();
	mi.installed = mi.blocking = 0;
	if (!quiet || removed)
		log_info("magic-ip: removed%s%s%s%s", removed ? ":" : " (nothing was installed)",
		    removed & 1 ? " nft table inet " MAGIC_TABLE : "",
		    removed & 2 ? " iptables chains " MAGIC_CHAIN_PREFIX "*" : "",
		    removed & 4 ? " the address on lo" : "");
	return failed ? -1 : removed != 0;
}

int
magicip_status(FILE *out, char *err, size_t errlen)
{
	char *buf;
	const char *o;
	unsigned char a4[4], a6[16];
	int any = 0, v6;

	err[0] = '\0';
	if (nft_table_exists(err, errlen) == 1 &&
	    nft_run("list table inet " MAGIC_TABLE, &o, err, errlen) == 0) {
		fprintf(out, "nftables: table inet %s\n%s", MAGIC_TABLE, o);
		any = 1;
	}
	nft_close();
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
	inet_pton(AF_INET, MAGIC_IPV4, a4);
	inet_pton(AF_INET6, MAGIC_IPV6, a6);
	if (alias_present(AF_INET, a4)) {
		fprintf(out, "alias: %s/32 on lo (label %s)\n", MAGIC_IPV4, MAGIC_LABEL);
		any = 1;
	}
	if (alias_present(AF_INET6, a6)) {
		fprintf(out, "alias: %s/128 on lo\n", MAGIC_IPV6);
		any = 1;
	}
	if (!any)
		fprintf(out, "nothing installed\n");
	if (err[0] != '\0')
		fprintf(stderr, "%s: magic-ip status: could not look everywhere: %s\n", PROGNAME,
		    err);
	return any ? 0 : 1;
}
