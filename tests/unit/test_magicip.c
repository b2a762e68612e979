/*
 * test_magicip.c: the rule text of magicip.c (the pure parts): what nft and
 * iptables-restore are given, and the removal script made from a listing.
 * That the kernel accepts the rules and that they route is tested in
 * tests/net/, inside network namespaces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "netfilter/netfilter.h"

#define T_BUF	16384

static char buf[T_BUF];

static void
conf(struct magic_conf *mc, int ipv6)
{
	memset(mc, 0, sizeof(*mc));
	mc->mc_mode = MAGIC_NAT;
	strcpy(mc->mc_pods[0], "cni0");
	strcpy(mc->mc_pods[1], "veth*");
	mc->mc_npods = 2;
	/* the IMDS row, as main.c makes it */
	assert_int_equal(magicip_endpoint(&mc->mc_ep[0], MAGIC_IPV4, MAGIC_IPV6, MAGIC_PORT, 1),
	    0);
	mc->mc_nep = 1;
	inet_pton(AF_INET, "127.0.0.1", mc->mc_ep[0].me_to4);
	mc->mc_ep[0].me_port4 = 1338;
	mc->mc_ipv6 = ipv6;
	if (ipv6) {
		inet_pton(AF_INET6, "::1", mc->mc_ep[0].me_to6);
		mc->mc_ep[0].me_port6 = 1338;
	}
}

/* Exactly one line of text equal to line. */
static void
has_line(const char *text, const char *line)
{
	const char *p = text, *hit = NULL;
	size_t n = strlen(line), count = 0;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n' || p[-1] == '\t') && (p[n] == '\n' || p[n] == '\0')) {
			count++;
			hit = p;
		}
		p += n;
	}
	if (count != 1)
		fail_msg("want once: [%s], found %zu times in:\n%s", line, count, text);
	(void)hit;
}

static void
test_pod_patterns(void **state)
{
	char out[32], err[ERRBUF_LEN];

	(void)state;
	assert_int_equal(magicip_pod_pattern("cni0", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "cni0");
	assert_int_equal(magicip_pod_pattern("cali+", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "cali*");
	assert_int_equal(magicip_pod_pattern("veth*", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "veth*");
	assert_int_equal(magicip_pod_pattern("auto", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "auto");
	/* 15 characters is the kernel's longest name */
	assert_int_equal(magicip_pod_pattern("abcdefghijklmno", out, sizeof(out), err,
	    sizeof(err)), 0);
	assert_int_equal(magicip_pod_pattern("abcdefghijklmnop", out, sizeof(out), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not an interface name"));
	/* nothing that could break out of a quoted rule */
	assert_int_equal(magicip_pod_pattern("a\"b", out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(magicip_pod_pattern("a b", out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(magicip_pod_pattern("a;b", out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(magicip_pod_pattern("*", out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(magicip_pod_pattern("", out, sizeof(out), err, sizeof(err)), -1);
	assert_int_equal(magicip_pod_pattern("a*b", out, sizeof(out), err, sizeof(err)), -1);
}

static void
test_nft_rules(void **state)
{
	struct magic_conf mc;
	size_t n;

	(void)state;
	conf(&mc, 1);
	n = magicip_nft_rules(&mc, 0, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(n, strlen(buf));
	/* one transaction: whatever was there goes, then the table */
	{
		const char *head = "add table inet gimme_aws_mini\n"
		    "delete table inet gimme_aws_mini\ntable inet gimme_aws_mini {\n";
		assert_int_equal(strncmp(buf, head, strlen(head)), 0);
	}
	has_line(buf, "comment \"gimme-aws-mini pods=cni0,veth*\"");
	has_line(buf, "iifname \"cni0\" ip daddr 169.254.169.254 tcp dport 80 dnat ip to "
	    "127.0.0.1:1338");
	has_line(buf, "iifname \"veth*\" ip daddr 169.254.169.254 tcp dport 80 dnat ip to "
	    "127.0.0.1:1338");
	has_line(buf, "ip daddr 169.254.169.254 tcp dport 80 dnat ip to 127.0.0.1:1338");
	has_line(buf, "ip6 daddr fd00:ec2::254 tcp dport 80 dnat ip6 to [::1]:1338");
	has_line(buf, "iifname \"cni0\" ip daddr 127.0.0.0/8 drop");
	has_line(buf, "oifname \"cni0\" ip ttl 1 drop");
	has_line(buf, "oifname \"veth*\" ip6 hoplimit 1 drop");
	has_line(buf, "type nat hook prerouting priority -100; policy accept;");
	has_line(buf, "type filter hook prerouting priority -110; policy accept;");
	assert_null(strstr(buf, "block_"));
	/* a target on ::1 serves the host only: no pod is sent there */
	assert_null(strstr(buf, "iifname \"cni0\" ip6"));

	/* serve's own: the server on [fd00:ec2::254], for the pods too */
	inet_pton(AF_INET6, "fd00:ec2::254", mc.mc_ep[0].me_to6);
	mc.mc_ep[0].me_port6 = 1339;
	assert_true(magicip_nft_rules(&mc, 0, buf, sizeof(buf)) > 0);
	has_line(buf, "iifname \"cni0\" ip6 daddr fd00:ec2::254 tcp dport 80 dnat ip6 to "
	    "[fd00:ec2::254]:1339");
	has_line(buf, "iifname \"veth*\" ip6 daddr fd00:ec2::254 tcp dport 80 dnat ip6 to "
	    "[fd00:ec2::254]:1339");
	has_line(buf, "ip6 daddr fd00:ec2::254 tcp dport 80 dnat ip6 to [fd00:ec2::254]:1339");
	/* the guard: lo may reach the address, the pods its port 80 only, nothing else */
	has_line(buf, "iifname \"cni0\" ip6 daddr fd00:ec2::254 tcp dport 80 accept");
	has_line(buf, "iifname != \"lo\" ip6 daddr fd00:ec2::254 drop");
	assert_true(strstr(buf, "iifname \"veth*\" ip6 daddr fd00:ec2::254 tcp dport 80 accept") <
	    strstr(buf, "iifname != \"lo\" ip6 daddr fd00:ec2::254 drop"));
	assert_null(strstr(buf, "ip6 daddr fd00:ec2::254 accept"));
	/* and blocked until ready like the IPv4 address */
	assert_true(magicip_nft_rules(&mc, 1, buf, sizeof(buf)) > 0);
	has_line(buf, "iifname \"cni0\" ip6 daddr fd00:ec2::254 tcp dport 80 drop");

	/* without IPv6, nothing of it */
	conf(&mc, 0);
	assert_true(magicip_nft_rules(&mc, 0, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "fd00:ec2::254"));
	/* too small a buffer is refused, not cut */
	assert_int_equal(magicip_nft_rules(&mc, 0, buf, 200), 0);
}

static void
test_nft_block(void **state)
{
	struct magic_conf mc;

	(void)state;
	conf(&mc, 0);
	assert_true(magicip_nft_rules(&mc, 1, buf, sizeof(buf)) > 0);
	has_line(buf, "iifname \"cni0\" ip daddr 169.254.169.254 tcp dport 80 drop");
	has_line(buf, "ip daddr 169.254.169.254 tcp dport 80 drop");
	assert_null(strstr(buf, "dnat"));
}

static void
test_ipt_rules(void **state)
{
	struct magic_conf mc;

	(void)state;
	conf(&mc, 1);
	assert_true(magicip_ipt_rules(&mc, 0, 0, buf, sizeof(buf)) > 0);
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i veth+ -d 169.254.169.254/32 -p tcp --dport 80 "
	    "-j DNAT --to-destination 127.0.0.1:1338");
	has_line(buf, "-A GIMME-AWS-MINI-OUT -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT "
	    "--to-destination 127.0.0.1:1338");
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i cni0 -d 127.0.0.0/8 -j DROP");
	has_line(buf, "-A GIMME-AWS-MINI-HOP -o cni0 -m ttl --ttl-eq 1 -j DROP");
	has_line(buf, "-I PREROUTING 1 -m comment --comment \"gimme-aws-mini pods=cni0,veth*\" "
	    "-j GIMME-AWS-MINI-PRE");
	assert_non_null(strstr(buf, "*raw\n"));
	assert_non_null(strstr(buf, "*nat\n"));
	assert_non_null(strstr(buf, "*filter\n"));

	assert_true(magicip_ipt_rules(&mc, 0, 1, buf, sizeof(buf)) > 0);
	has_line(buf, "-A GIMME-AWS-MINI-OUT -d fd00:ec2::254/128 -p tcp --dport 80 -j DNAT "
	    "--to-destination [::1]:1338");
	has_line(buf, "-A GIMME-AWS-MINI-HOP -o veth+ -m hl --hl-eq 1 -j DROP");
	assert_null(strstr(buf, "-i cni0"));	/* ::1: the host only */

	/* serve's own: the server on [fd00:ec2::254], for the pods too */
	inet_pton(AF_INET6, "fd00:ec2::254", mc.mc_ep[0].me_to6);
	assert_true(magicip_ipt_rules(&mc, 0, 1, buf, sizeof(buf)) > 0);
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i cni0 -d fd00:ec2::254/128 -p tcp --dport 80 "
	    "-j DNAT --to-destination [fd00:ec2::254]:1338");
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i veth+ -d fd00:ec2::254/128 -p tcp --dport 80 "
	    "-j RETURN");
	assert_null(strstr(buf, "fd00:ec2::254/128 -j RETURN"));
	has_line(buf, "-A GIMME-AWS-MINI-PRE ! -i lo -d fd00:ec2::254/128 -j DROP");
}

/* A listing as iptables-save prints it, with a CNI's rules beside ours. */
static const char listing[] =
	"# Generated by iptables-save v1.8.9 (nf_tables) on Sun Nov 29 06:00:00 2026\n"
	"*raw\n"
	":PREROUTING ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n"
	":GIMME-AWS-MINI-PRE - [0:0]\n"
	":GIMME-AWS-MINI-RLN - [0:0]\n"
	"-A PREROUTING -m comment --comment \"gimme-aws-mini pods=cni0\" -j GIMME-AWS-MINI-PRE\n"
	"-A GIMME-AWS-MINI-PRE -i cni0 -d 127.0.0.0/8 -j DROP\n"
	"-A GIMME-AWS-MINI-RLN -i cni0 -j RETURN\n"
	"-A GIMME-AWS-MINI-RLN -i veth12ab -m comment --comment \"ifindex 7\" -j RETURN\n"
	"COMMIT\n"
	"*nat\n"
	":PREROUTING ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n"
	":CNI-MASQ - [0:0]\n"
	":GIMME-AWS-MINI-PRE - [0:0]\n"
	"-A PREROUTING -j GIMME-AWS-MINI-PRE\n"
	"-A POSTROUTING -s 10.244.0.0/16 -j CNI-MASQ\n"
	"-A CNI-MASQ -j MASQUERADE\n"
	"-A GIMME-AWS-MINI-PRE -i cni0 -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -j DNAT "
	"--to-destination 127.0.0.1:1338\n"
	"COMMIT\n"
	"*filter\n"
	":FORWARD ACCEPT [0:0]\n"
	"-A FORWARD -i cni0 -j ACCEPT\n"
	"COMMIT\n";

static void
test_ipt_removal(void **state)
{
	struct magic_localnet names[8];
	size_t nnames = 0;
	ssize_t n;

	(void)state;
	n = magicip_ipt_removal(listing, buf, sizeof(buf), names, &nnames, 8);
	assert_true(n > 0);
	assert_string_equal(buf,
	    "*raw\n"
	    "-D PREROUTING -m comment --comment \"gimme-aws-mini pods=cni0\" -j GIMME-AWS-MINI-PRE\n"
	    "-F GIMME-AWS-MINI-PRE\n-F GIMME-AWS-MINI-RLN\n"
	    "-X GIMME-AWS-MINI-PRE\n-X GIMME-AWS-MINI-RLN\n"
	    "COMMIT\n"
	    "*nat\n"
	    "-D PREROUTING -j GIMME-AWS-MINI-PRE\n"
	    "-F GIMME-AWS-MINI-PRE\n-X GIMME-AWS-MINI-PRE\n"
	    "COMMIT\n"
	    "*filter\n"
	    "COMMIT\n");
	assert_int_equal(nnames, 2);
	assert_string_equal(names[0].ml_name, "cni0");
	assert_int_equal(names[0].ml_index, 0);
	assert_string_equal(names[1].ml_name, "veth12ab");
	assert_int_equal(names[1].ml_index, 7);

	/* nothing of ours: nothing to do */
	nnames = 0;
	n = magicip_ipt_removal("*nat\n:PREROUTING ACCEPT [0:0]\n-A POSTROUTING -j MASQUERADE\n"
	    "COMMIT\n", buf, sizeof(buf), names, &nnames, 8);
	assert_int_equal(n, 0);
	assert_int_equal(nnames, 0);
	/* a script that does not fit is refused */
	nnames = 0;
	assert_int_equal(magicip_ipt_removal(listing, buf, 64, names, &nnames, 8), -1);
}


/* A second row beside IMDS: EKS Pod Identity's addresses, its own listener, no hop limit. */
static void
conf2(struct magic_conf *mc)
{
	struct magic_endpoint *me = &mc->mc_ep[1];

	conf(mc, 1);
	inet_pton(AF_INET6, "fd00:ec2::254", mc->mc_ep[0].me_to6);
	mc->mc_ep[0].me_port6 = 1339;
	assert_int_equal(magicip_endpoint(me, "169.254.170.23", "fd00:ec2::23", 80, 0), 0);
	inet_pton(AF_INET, "127.0.0.1", me->me_to4);
	me->me_port4 = 1340;
	inet_pton(AF_INET6, "fd00:ec2::23", me->me_to6);
	me->me_port6 = 1341;
	mc->mc_nep = 2;
}

static void
test_two_endpoints_nft(void **state)
{
	struct magic_conf mc;
	const char *table;
	size_t n;

	(void)state;
	assert_int_equal(magicip_endpoint(&mc.mc_ep[0], "169.254.170.300", NULL, 80, 0), -1);
	conf2(&mc);
	n = magicip_nft_rules(&mc, 0, buf, sizeof(buf));
	assert_true(n > 0);
	/* DNAT of both rows, from each pod interface and from this host */
	has_line(buf, "iifname \"cni0\" ip daddr 169.254.169.254 tcp dport 80 dnat ip to "
	    "127.0.0.1:1338");
	has_line(buf, "iifname \"cni0\" ip daddr 169.254.170.23 tcp dport 80 dnat ip to "
	    "127.0.0.1:1340");
	has_line(buf, "iifname \"veth*\" ip daddr 169.254.170.23 tcp dport 80 dnat ip to "
	    "127.0.0.1:1340");
	has_line(buf, "iifname \"veth*\" ip6 daddr fd00:ec2::23 tcp dport 80 dnat ip6 to "
	    "[fd00:ec2::23]:1341");
	has_line(buf, "ip daddr 169.254.170.23 tcp dport 80 dnat ip to 127.0.0.1:1340");
	has_line(buf, "ip6 daddr fd00:ec2::23 tcp dport 80 dnat ip6 to [fd00:ec2::23]:1341");
	has_line(buf, "ip daddr 169.254.169.254 tcp dport 80 dnat ip to 127.0.0.1:1338");
	/* the guard of both IPv6 addresses */
	has_line(buf, "iifname != \"lo\" ip6 daddr fd00:ec2::254 drop");
	has_line(buf, "iifname != \"lo\" ip6 daddr fd00:ec2::23 drop");
	has_line(buf, "iifname \"cni0\" ip6 daddr fd00:ec2::23 tcp dport 80 accept");
	/* one hop chain, for the pods (the IMDS row plays the hop limit) */
	has_line(buf, "oifname \"cni0\" ip ttl 1 drop");
	has_line(buf, "oifname \"veth*\" ip6 hoplimit 1 drop");
	/* blocked until ready: both */
	assert_true(magicip_nft_rules(&mc, 1, buf, sizeof(buf)) > 0);
	has_line(buf, "iifname \"cni0\" ip daddr 169.254.170.23 tcp dport 80 drop");
	has_line(buf, "iifname \"cni0\" ip daddr 169.254.169.254 tcp dport 80 drop");
	has_line(buf, "ip6 daddr fd00:ec2::23 tcp dport 80 drop");
	/* everything is in our table, which removal deletes whole */
	assert_true(magicip_nft_rules(&mc, 0, buf, sizeof(buf)) > 0);
	table = strstr(buf, "table inet gimme_aws_mini {\n");
	assert_non_null(table);
	assert_null(strstr(table + 1, "table "));
	assert_string_equal(buf + n - 2, "}\n");
	/* without the IMDS row, no row plays the hop limit: no hop chain */
	mc.mc_ep[0] = mc.mc_ep[1];
	mc.mc_nep = 1;
	assert_true(magicip_nft_rules(&mc, 0, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "chain hop"));
	assert_null(strstr(buf, "169.254.169.254"));
}

/*
 * The restore input as iptables-save would list it once applied: the
 * jumps inserted at 1 appear as appended.
 */
static void
as_listing(const char *rules, char *out, size_t cap)
{
	const char *line, *end;
	size_t at = 0;

	for (line = rules; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (strncmp(line, "-I ", 3) == 0) {
			const char *sp = strchr(line + 3, ' ');
			at += (size_t)snprintf(out + at, cap - at, "-A %.*s%.*s\n",
			    (int)(sp - line - 3), line + 3, (int)(end - sp - 2), sp + 2);
		} else
			at += (size_t)snprintf(out + at, cap - at, "%.*s\n", (int)(end - line), line);
		assert_true(at < cap);
	}
}

/* Whether the script's section for table (from "*table" to COMMIT) has the line want. */
static int
in_table(const char *script, const char *table, size_t tlen, const char *want)
{
	char head[40];
	const char *sec, *commit, *p;
	size_t n = strlen(want);

	snprintf(head, sizeof(head), "%.*s\n", (int)tlen, table);
	if ((sec = strstr(script, head)) == NULL || (commit = strstr(sec, "COMMIT\n")) == NULL)
		return 0;
	for (p = sec; (p = strstr(p, want)) != NULL && p < commit; p += n)
		if (p[-1] == '\n' && p[n] == '\n')
			return 1;
	return 0;
}

/* Every chain the rules make is flushed and deleted, every jump to one deleted. */
static void
removal_takes_all(const char *rules)
{
	static char listing2[T_BUF], script[T_BUF];
	struct magic_localnet names[8];
	char want[128];
	const char *line, *end, *table = "";
	size_t nnames = 0, tlen = 0;

	as_listing(rules, listing2, sizeof(listing2));
	assert_true(magicip_ipt_removal(listing2, script, sizeof(script), names, &nnames, 8) > 0);
	for (line = rules; *line != '\0'; line = *end ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (line[0] == '*') {
			table = line;
			tlen = (size_t)(end - line);
		} else if (line[0] == ':') {
			snprintf(want, sizeof(want), "-X %.*s", (int)strcspn(line + 1, " "), line + 1);
			if (!in_table(script, table, tlen, want))
				fail_msg("no [%s] in %.*s of:\n%s", want, (int)tlen, table, script);
		} else if (strncmp(line, "-I ", 3) == 0) {
			const char *sp = strchr(line + 3, ' ');
			snprintf(want, sizeof(want), "-D %.*s%.*s", (int)(sp - line - 3), line + 3,
			    (int)(end - sp - 2), sp + 2);
			if (!in_table(script, table, tlen, want))
				fail_msg("no [%s] in %.*s of:\n%s", want, (int)tlen, table, script);
		}
	}
}

static void
test_two_endpoints_ipt(void **state)
{
	struct magic_conf mc;

	(void)state;
	conf2(&mc);
	assert_true(magicip_ipt_rules(&mc, 0, 0, buf, sizeof(buf)) > 0);
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i cni0 -d 169.254.169.254/32 -p tcp --dport 80 "
	    "-j DNAT --to-destination 127.0.0.1:1338");
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i veth+ -d 169.254.170.23/32 -p tcp --dport 80 "
	    "-j DNAT --to-destination 127.0.0.1:1340");
	has_line(buf, "-A GIMME-AWS-MINI-OUT -d 169.254.170.23/32 -p tcp --dport 80 -j DNAT "
	    "--to-destination 127.0.0.1:1340");
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i cni0 -d 127.0.0.0/8 -j DROP");
	has_line(buf, "-A GIMME-AWS-MINI-HOP -o veth+ -m ttl --ttl-eq 1 -j DROP");
	removal_takes_all(buf);

	assert_true(magicip_ipt_rules(&mc, 0, 1, buf, sizeof(buf)) > 0);
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i cni0 -d fd00:ec2::23/128 -p tcp --dport 80 "
	    "-j DNAT --to-destination [fd00:ec2::23]:1341");
	has_line(buf, "-A GIMME-AWS-MINI-OUT -d fd00:ec2::254/128 -p tcp --dport 80 -j DNAT "
	    "--to-destination [fd00:ec2::254]:1339");
	has_line(buf, "-A GIMME-AWS-MINI-PRE ! -i lo -d fd00:ec2::23/128 -j DROP");
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i veth+ -d fd00:ec2::23/128 -p tcp --dport 80 "
	    "-j RETURN");
	has_line(buf, "-A GIMME-AWS-MINI-PRE ! -i lo -d fd00:ec2::254/128 -j DROP");
	has_line(buf, "-A GIMME-AWS-MINI-HOP -o cni0 -m hl --hl-eq 1 -j DROP");
	removal_takes_all(buf);

	/* blocked until ready: both */
	assert_true(magicip_ipt_rules(&mc, 1, 0, buf, sizeof(buf)) > 0);
	has_line(buf, "-A GIMME-AWS-MINI-PRE -i cni0 -d 169.254.170.23/32 -p tcp --dport 80 "
	    "-j DROP");
	has_line(buf, "-A GIMME-AWS-MINI-OUT -d 169.254.170.23/32 -p tcp --dport 80 -j DROP");
	has_line(buf, "-A GIMME-AWS-MINI-OUT -d 169.254.169.254/32 -p tcp --dport 80 -j DROP");
	removal_takes_all(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_patterns),
		cmocka_unit_test(test_nft_rules),
		cmocka_unit_test(test_nft_block),
		cmocka_unit_test(test_ipt_rules),
		cmocka_unit_test(test_ipt_removal),
		cmocka_unit_test(test_two_endpoints_nft),
		cmocka_unit_test(test_two_endpoints_ipt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
