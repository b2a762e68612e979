/*
 * main.c: the verbs.
 *
 *   gimme-aws-mini serve [options]    the metadata service (serve/)
 *   gimme-aws-mini creds [options]    the credentials serve would hand out (serve/)
 *   gimme-aws-mini exec [options] -- COMMAND   COMMAND with a private credential endpoint (serve/)
 *   gimme-aws-mini magic-ip status|down|up   the routing of the magic IP (netfilter/)
 *   gimme-aws-mini ctl ...            a running serve's control socket (ops/)
 *   gimme-aws-mini sandbox-helper     internal: serve's privileged helper (priv/)
 *   gimme-aws-mini kube-watch ...     the Kubernetes API client by itself (kube/)
 *   gimme-aws-mini version | help
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kube/kube.h"
#include "netfilter/netfilter.h"
#include "ops/ops.h"
#include "priv/priv.h"
#include "serve/serve.h"

static const char usage_main[] =
"usage: " PROGNAME " <command> [options]\n"
"\n"
"A local stand-in for the EC2 Instance Metadata Service (IMDS).\n"
"\n"
"commands:\n"
"  serve      serve instance metadata and credentials (see " PROGNAME " serve --help)\n"
"  creds      print the credentials document serve would hand out, then exit;\n"
"             takes serve's options\n"
"  exec       run a command with a private credential endpoint, refreshed while\n"
"             it runs (see " PROGNAME " exec --help)\n"
"  magic-ip status|down|up\n"
"             show, remove or install the routing of 169.254.169.254 (see\n"
"             " PROGNAME " magic-ip --help)\n"
"  ctl        change a running serve's spot notices, events, tags, paths\n"
"             through its control socket (see " PROGNAME " ctl --help)\n"
"  version    print the version and exit\n"
"  help       print this help\n";

static const char usage_magic[] =
"usage: " PROGNAME " magic-ip status\n"
"       " PROGNAME " magic-ip down\n"
"       " PROGNAME " magic-ip up [--listen ADDR:PORT] [--pod-interface NAME]...\n"
"                        [--firewall nft|iptables|auto] [--ipv6]\n"
"\n"
"status  print what is installed: the nftables table inet " MAGIC_TABLE ", the\n"
"        iptables chains " MAGIC_CHAIN_PREFIX "*, the address " MAGIC_IPV4 " on lo;\n"
"        exit 0 when something is, 1 when nothing is\n"
"down    remove all of it (what a daemon killed with SIGKILL left behind), and\n"
"        turn route_localnet off again where it was turned on\n"
"up      install the nat rules for a server listening at --listen (default\n"
"        127.0.0.1:1338) that is not this process, then exit; pod interfaces\n"
"        created later are not followed (serve --magic-ip does that); with\n"
"        --ipv6, [fd00:ec2::254] goes to [::1] at the same port, for this host\n"
"        only (pods need an IPv6 --listen that is not loopback)\n"
"\n"
"exit status: 0 done, 1 nothing installed (status), 64 bad usage, 77 not\n"
"allowed, 71 the packet filter refused (its message names the rule).\n";

/* help, --help or -h: a verb's help rather than a command */
static int
is_help(const char *word)
{
	return strcmp(word, "help") == 0 || strcmp(word, "--help") == 0 ||
	    strcmp(word, "-h") == 0;
}

/* word is no command of usage's (prefix: the verb it follows, "magic-ip: "): exit 64. */
static int
unknown_command(const char *prefix, const char *word, const char *usage)
{
	fprintf(stderr, "%s: %sunknown command '%s'\n", PROGNAME, prefix, word);
	fputs(usage, stderr);
	return EXIT_USAGE;
}

/* magic-ip status|down|up */
static int
cmd_magic(int argc, char **argv)
{
	static struct serve_options o;	/* magic-ip up: serve's options, for the nat rules */
	char err[OPTS_ERR_MAX];
	int rc;

	if (argc < 2 || is_help(argv[1])) {
		fputs(usage_magic, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "down") == 0) {
		if (argc > 2) {
			fprintf(stderr, "%s: magic-ip %s: unexpected argument '%s'\n", PROGNAME,
			    argv[1], argv[2]);
			return EXIT_USAGE;
		}
		log_init(0, LOG_LVL_INFO);
		if (strcmp(argv[1], "status") == 0) {
			rc = magicip_status(stdout, err, sizeof(err));
			return rc;
		}
		o.magic.mc_mode = MAGIC_NAT;
		if (magicip_check_privileges(&o.magic, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", PROGNAME, err);
			return EXIT_NOPERM;
		}
		if (magicip_down(0, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: magic-ip down: %s\n", PROGNAME, err);
			return EXIT_SYSTEM;
		}
		return 0;
	}
	if (strcmp(argv[1], "up") == 0) {
		if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
			fputs(usage_magic, stdout);
			return 0;
		}
		o.magic.mc_mode = MAGIC_NAT;
		o.magic_up_verb = 1;
		if (opts_parse(&o, argc - 1, argv + 1, err, sizeof(err)) != 0)
			opts_usage_exit("%s", err);
		if (o.help) {		/* serve's options, so serve's help */
			opts_help(stdout);
			return 0;
		}
		if (o.magic.mc_mode != MAGIC_NAT || o.magic.mc_block) {
			fprintf(stderr, "%s: magic-ip up installs the nat rules only\n", PROGNAME);
			return EXIT_USAGE;
		}
		opts_magic_targets(&o, 0);
		if (o.magic.mc_ep[0].me_port4 == 0) {
			fprintf(stderr, "%s: magic-ip up: --listen needs a port other than 0\n",
			    PROGNAME);
			return EXIT_USAGE;
		}
		log_init(o.log_json, o.log_level);
		if (magicip_check_privileges(&o.magic, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", PROGNAME, err);
			return EXIT_NOPERM;
		}
		if (magicip_up(&o.magic, 0, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: magic-ip up: %s\n", PROGNAME, err);
			return EXIT_SYSTEM;
		}
		return 0;
	}
	return unknown_command("magic-ip: ", argv[1], usage_magic);
}

/* The helper trims as serve does and removes serve's control socket (priv/ knows neither). */
static int
cmd_sandbox_helper(int argc, char **argv)
{
	return sandbox_helper_main(argc, argv, serve_mem_trim, control_remove_bound);
}

/* The verbs that are a function of their own: its name, and the function. */
static const struct verb {
	const char	*v_name;
	int		(*v_main)(int argc, char **argv);
} verbs[] = {
	{ "serve", serve_main },
	{ "creds", serve_creds_main },
	{ "exec", serve_exec_main },
	{ "magic-ip", cmd_magic },
	{ "ctl", ctl_main },
	{ "sandbox-helper", cmd_sandbox_helper },	/* internal: started by serve */
	{ "identity-keygen", keygen_main },		/* internal: started by serve */
	{ "kube-watch", kube_watch_main },		/* for tests and checking access */
};

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].v_name) == 0)
			return verbs[i].v_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PROGNAME, GIMME_VERSION);
		return 0;
	}
	if (is_help(argv[1])) {
		fputs(usage_main, stdout);
		return 0;
	}
	return unknown_command("", argv[1], usage_main);
}
