/*
 * main.c: the command line, start-up, and what the loop calls back.
 *
 *   gimme-aws-mini serve [options]    the metadata service
 *   gimme-aws-mini version
 *
 * Every serve option can also come from a GIMME_* environment variable of
 * the same name; flags win over the environment, the environment over the
 * config file's "options", and those over the defaults.  Anything wrong on
 * the command line or in the config file is one line on stderr and a
 * non-zero exit before anything is served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "http/http.h"
#include "creds/creds.h"
#include "imds/imds.h"
#include "netfilter/netfilter.h"
#include "ops/ops.h"
#include "priv/priv.h"

#define CRED_REFRESH_MARGIN	300	/* s: refresh this long before CRED_MIN_AHEAD is crossed */
#define MAPS_LINE_MAX		512	/* bytes in one line of /proc/self/smaps */
#define TRIM_RANGES_MAX		512	/* library mappings mem_trim may drop (35 libraries, several each) */

static const char usage_main[] =
"usage: " PROGNAME " <command> [options]\n"
"\n"
"A local stand-in for the EC2 Instance Metadata Service (IMDS).\n"
"\n"
"commands:\n"
"  serve      serve instance metadata and credentials (see " PROGNAME " serve --help)\n"
"  creds      print the credentials document serve would hand out, then exit;\n"
"             takes serve's options\n"
"  magic-ip status|down|up\n"
"             show, remove or install the routing of 169.254.169.254 (see\n"
"             " PROGNAME " magic-ip --help)\n"
"  ctl        change a running serve's spot notices, events, tags, paths\n"
"             through its control socket (see " PROGNAME " ctl --help)\n"
"  version    print the version and exit\n"
"  help       print this help\n";

static const char usage_serve[] =
"usage: " PROGNAME " serve [options]\n"
"\n"
"Serve the EC2 instance metadata of a built-in default instance (a t3.micro in\n"
"us-east-1a), changed by --config, with the credentials of --source.\n"
"Every option can also be set with the environment variable named after it\n"
"(GIMME_LISTEN, GIMME_HOP_LIMIT, ...); flags win over the environment, and\n"
"both over the config file's \"options\".\n"
"\n"
"options:\n"
"  --listen ADDR:PORT         listen here; repeatable; IPv6 as [ADDR]:PORT; port 0\n"
"                             picks a free port (default 127.0.0.1:1338;\n"
"                             GIMME_LISTEN takes a comma-separated list)\n"
"  --config FILE              JSON merged over the default instance: keys\n"
"                             \"meta-data\", \"dynamic\", \"user-data\", \"options\"\n"
"  --user-data FILE           serve FILE's bytes as user-data (at most 16384)\n"
"  --http-tokens optional|required\n"
"                             IMDSv2 tokens optional or required (default optional)\n"
"  --hop-limit N              IP TTL of token responses, 1..64 (default 1)\n"
"  --http-endpoint enabled|disabled\n"
"                             disabled answers every request 403 (default enabled)\n"
"  --source auto|example|env|profile\n"
"                             where credentials come from (default auto: the\n"
"                             environment's AWS_ACCESS_KEY_ID if set, else the\n"
"                             profile if the shared files have it, else AWS's\n"
"                             documented example credentials)\n"
"  --profile NAME             profile of ~/.aws/credentials and ~/.aws/config\n"
"                             (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE); default\n"
"                             AWS_PROFILE, else default; the files are watched\n"
"  --role-name NAME           role listed under iam/security-credentials/ (default:\n"
"                             the profile's name, else dev-instance-role)\n"
"  --allow-long-term-keys     serve keys that have no session token as they are\n"
"                             (by default they are exchanged for session keys\n"
"                             with STS GetSessionToken: many SDKs require a Token)\n"
"  --assume-role ARN          serve the credentials of this role, assumed with\n"
"                             the source's credentials (STS AssumeRole); a\n"
"                             profile's role_arn/source_profile chain is followed too\n"
"  --external-id ID           ExternalId for --assume-role\n"
"  --session-name NAME        RoleSessionName (default gimme-aws-mini-<hostname>)\n"
"  --duration D               session length: 3600, 90m, 1h (900 s to 12 h;\n"
"                             default STS's)\n"
"  --sts-region REGION        region STS requests are signed for and sent to\n"
"                             (default AWS_REGION, AWS_DEFAULT_REGION, else the\n"
"                             instance's region)\n"
"  --sts-endpoint URL         STS endpoint (default AWS_ENDPOINT_URL_STS, else\n"
"                             https://sts.<region>.amazonaws.com/)\n"
"  --ca-bundle FILE           CA certificates for STS (default AWS_CA_BUNDLE, else\n"
"                             the system store)\n"
"  --identity-key FILE        PEM private keys for the identity signatures; a\n"
"                             missing FILE is created with new keys (default:\n"
"                             new keys in memory at every start)\n"
"  --identity-cert FILE       write the matching certificates here (PEM)\n"
"  --max-connections N        connections served at once (default 1024)\n"
"  --max-connections-per-client N\n"
"                             connections at once from one client address; more\n"
"                             are closed at once (default 256; 0: no cap)\n"
"  --request-timeout T        the whole request and response, from accept: 10s,\n"
"                             500ms (default 10s; 100ms to 600s)\n"
"  --rate-limit N/s           requests per second per client address, answered\n"
"                             429 beyond (default off)\n"
"  --shutdown-grace T         at SIGTERM/SIGINT, time the requests under way get to\n"
"                             finish: 3s, 500ms (default 3s; 0 stops at once)\n"
"  --max-header-bytes N       request line and headers, in bytes, answered 431\n"
"                             beyond (default and most 8192; at least 1024)\n"
"  --max-headers N            header fields per request, answered 431 beyond\n"
"                             (default and most 64; at least 8)\n"
"  --health-listen ADDR:PORT  serve /healthz, /readyz and /metrics here (a port of\n"
"                             its own; default off)\n"
"  --access-log               log one line per request (GIMME_ACCESS_LOG=1)\n"
"  --log-format text|json     log line format on stderr (default text)\n"
"  --log-level debug|info|warn|error\n"
"                             least severe level logged (default info)\n"
"  --magic-ip[=nat|alias]     answer on http://169.254.169.254/ as IMDS does, once\n"
"                             listening with credentials; removed at exit.  nat\n"
"                             (default): rules in the packet filter send the\n"
"                             host's and the pods' requests to the first loopback\n"
"                             listener; alias: the address goes on lo and the\n"
"                             server also listens on 169.254.169.254:80 (needs root\n"
"                             or CAP_NET_ADMIN; GIMME_MAGIC_IP=1|nat|alias)\n"
"  --pod-interface NAME       where pods' requests come from: an interface, or a\n"
"                             prefix ending in * or + (veth*, cali+); repeatable\n"
"                             (GIMME_POD_INTERFACE: comma-separated).  Default\n"
"                             auto: those of cni0, cbr0, docker0, cali*, flannel*\n"
"                             that exist at start\n"
"  --firewall nft|iptables|auto\n"
"                             the packet filter for --magic-ip (default auto:\n"
"                             nftables through libnftables, else the iptables command)\n"
"  --ipv6                     also answer on http://[fd00:ec2::254]/ (with nat: the\n"
"                             address goes on lo and a listener on it, at the same\n"
"                             port, is added, for this host and the pods)\n"
"  --block-until-ready        with --magic-ip: drop requests to 169.254.169.254\n"
"                             from start until the server is ready, so that they\n"
"                             wait instead of failing\n"
"  --control PATH             listen for `" PROGNAME " ctl` on this Unix socket\n"
"                             (spot interruptions, events, ASG state, tags, any\n"
"                             path, credential rotation); a stale socket file is\n"
"                             replaced, a live one refused; removed at exit\n"
"  --control-mode MODE        its permissions, octal (default 0600)\n"
"  --control-owner USER[:GROUP]\n"
"                             its owner (names or numbers; needs the privilege)\n"
"  --user NAME                started as root: the user to run as once the\n"
"                             listeners are bound (default nobody); its primary\n"
"                             group, no supplementary groups\n"
"  --no-sandbox               keep every privilege (no user switch, capability\n"
"                             drop, no_new_privs or seccomp filter): for\n"
"                             debugging (GIMME_NO_SANDBOX=1)\n"
"  -h, --help                 print this help\n"
"\n"
"security: once listening with its first credential (and the magic IP's rules\n"
"in), serve switches to --user (as root), drops every capability but\n"
"CAP_NET_ADMIN while rules are installed, sets no_new_privs and loads a seccomp\n"
"allow-list (not with the iptables fallback, whose commands it runs); a helper\n"
"process keeps the invoking user to run credential_process and open the files\n"
"re-read later (the shared files, --config, --user-data, --ca-bundle).\n"
"\n"
"signals: SIGTERM or SIGINT stop (after the grace period); SIGHUP reloads the\n"
"config file (what ctl set/unset changed is applied over it again) and the\n"
"credentials.\n"
"\n"
"exit status: 0 stopped by a signal, 64 bad usage, 78 bad configuration or\n"
"no credentials from the source at start, 77 not allowed to change the\n"
"packet filter or addresses, 71 system error.\n";

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

enum opt_id {
	OPT_LISTEN = 1, OPT_CONFIG, OPT_USER_DATA, OPT_HTTP_TOKENS, OPT_HOP_LIMIT,
	OPT_HTTP_ENDPOINT, OPT_IDENTITY_KEY, OPT_IDENTITY_CERT, OPT_MAX_CONN,
	OPT_ACCESS_LOG, OPT_LOG_FORMAT, OPT_LOG_LEVEL, OPT_SOURCE, OPT_PROFILE,
	OPT_ROLE_NAME, OPT_LONG_TERM, OPT_ASSUME_ROLE, OPT_EXTERNAL_ID, OPT_SESSION_NAME,
	OPT_DURATION, OPT_STS_REGION, OPT_STS_ENDPOINT, OPT_CA_BUNDLE, OPT_MAGIC_IP,
	OPT_POD_IF, OPT_FIREWALL, OPT_IPV6, OPT_BLOCK, OPT_HELP,
	OPT_CONTROL, OPT_CONTROL_MODE, OPT_CONTROL_OWNER,
	/* operations (issue #7) */
	OPT_MAX_CONN_CLIENT, OPT_REQ_TIMEOUT, OPT_RATE_LIMIT, OPT_SHUTDOWN_GRACE,
	OPT_HEALTH_LISTEN, OPT_MAX_HEADER_BYTES, OPT_MAX_HEADERS,
	OPT_USER, OPT_NO_SANDBOX
};

/* Each serve option, its flag and its environment variable. */
static const struct opt_def {
	enum opt_id	 id;
	const char	*flag;
	const char	*env;
	int		 has_arg;	/* 0 none, 1 required, 2 optional (--flag=value) */
} opt_defs[] = {
	{ OPT_LISTEN,		"listen",		"GIMME_LISTEN",		1 },
	{ OPT_CONFIG,		"config",		"GIMME_CONFIG",		1 },
	{ OPT_USER_DATA,	"user-data",		"GIMME_USER_DATA",	1 },
	{ OPT_HTTP_TOKENS,	"http-tokens",		"GIMME_HTTP_TOKENS",	1 },
	{ OPT_HOP_LIMIT,	"hop-limit",		"GIMME_HOP_LIMIT",	1 },
	{ OPT_HTTP_ENDPOINT,	"http-endpoint",	"GIMME_HTTP_ENDPOINT",	1 },
	{ OPT_IDENTITY_KEY,	"identity-key",		"GIMME_IDENTITY_KEY",	1 },
	{ OPT_IDENTITY_CERT,	"identity-cert",	"GIMME_IDENTITY_CERT",	1 },
	{ OPT_MAX_CONN,		"max-connections",	"GIMME_MAX_CONNECTIONS", 1 },
	{ OPT_ACCESS_LOG,	"access-log",		"GIMME_ACCESS_LOG",	0 },
	{ OPT_LOG_FORMAT,	"log-format",		"GIMME_LOG_FORMAT",	1 },
	{ OPT_LOG_LEVEL,	"log-level",		"GIMME_LOG_LEVEL",	1 },
	{ OPT_SOURCE,		"source",		"GIMME_SOURCE",		1 },
	{ OPT_PROFILE,		"profile",		"GIMME_PROFILE",	1 },
	{ OPT_ROLE_NAME,	"role-name",		"GIMME_ROLE_NAME",	1 },
	{ OPT_LONG_TERM,	"allow-long-term-keys",	"GIMME_ALLOW_LONG_TERM_KEYS", 0 },
	{ OPT_ASSUME_ROLE,	"assume-role",		"GIMME_ASSUME_ROLE",	1 },
	{ OPT_EXTERNAL_ID,	"external-id",		"GIMME_EXTERNAL_ID",	1 },
	{ OPT_SESSION_NAME,	"session-name",		"GIMME_SESSION_NAME",	1 },
	{ OPT_DURATION,		"duration",		"GIMME_DURATION",	1 },
	{ OPT_STS_REGION,	"sts-region",		"GIMME_STS_REGION",	1 },
	{ OPT_STS_ENDPOINT,	"sts-endpoint",		"GIMME_STS_ENDPOINT",	1 },
	{ OPT_CA_BUNDLE,	"ca-bundle",		"GIMME_CA_BUNDLE",	1 },
	{ OPT_MAGIC_IP,		"magic-ip",		"GIMME_MAGIC_IP",	2 },
	{ OPT_POD_IF,		"pod-interface",	"GIMME_POD_INTERFACE",	1 },
	{ OPT_FIREWALL,		"firewall",		"GIMME_FIREWALL",	1 },
	{ OPT_IPV6,		"ipv6",			"GIMME_IPV6",		0 },
	{ OPT_BLOCK,		"block-until-ready",	"GIMME_BLOCK_UNTIL_READY", 0 },
	{ OPT_HELP,		"help",			NULL,			0 },
	{ OPT_CONTROL,		"control",		"GIMME_CONTROL",	1 },
	{ OPT_CONTROL_MODE,	"control-mode",		"GIMME_CONTROL_MODE",	1 },
	{ OPT_CONTROL_OWNER,	"control-owner",	"GIMME_CONTROL_OWNER",	1 },
	{ OPT_MAX_CONN_CLIENT,	"max-connections-per-client", "GIMME_MAX_CONNECTIONS_PER_CLIENT", 1 },
	{ OPT_REQ_TIMEOUT,	"request-timeout",	"GIMME_REQUEST_TIMEOUT", 1 },
	{ OPT_RATE_LIMIT,	"rate-limit",		"GIMME_RATE_LIMIT",	1 },
	{ OPT_SHUTDOWN_GRACE,	"shutdown-grace",	"GIMME_SHUTDOWN_GRACE",	1 },
	{ OPT_HEALTH_LISTEN,	"health-listen",	"GIMME_HEALTH_LISTEN",	1 },
	{ OPT_MAX_HEADER_BYTES,	"max-header-bytes",	"GIMME_MAX_HEADER_BYTES", 1 },
	{ OPT_MAX_HEADERS,	"max-headers",		"GIMME_MAX_HEADERS",	1 },
	{ OPT_USER,		"user",			"GIMME_USER",		1 },
	{ OPT_NO_SANDBOX,	"no-sandbox",		"GIMME_NO_SANDBOX",	0 },
};
#define NOPT_DEFS	(sizeof(opt_defs) / sizeof(opt_defs[0]))

/* What the command line and environment asked for. */
static struct {
	struct listen_addr listen[LISTEN_MAX];
	size_t		 nlisten;
	int		 listen_from_flag;
	const char	*config_path;
	const char	*user_data_path;
	struct imds_options opt;	/* values of the options set here */
	unsigned	 opt_set;	/* OPT_SET_* */
	const char	*identity_key;
	const char	*identity_cert;
	unsigned long	 max_conn;
	int		 access_log;
	int		 log_json;
	enum log_level	 log_level;
	const char	*source;	/* auto, example, env, profile */
	const char	*profile;	/* NULL: AWS_PROFILE, else "default" */
	const char	*role_name;
	int		 allow_long_term;
	const char	*assume_role;
	const char	*external_id;
	const char	*session_name;
	unsigned	 duration;	/* s, 0 = STS's default */
	const char	*sts_region;
	const char	*sts_endpoint;
	const char	*ca_bundle;
	struct magic_conf magic;	/* --magic-ip and its companions */
	int		 pods_from_flag;
	const char	*control;	/* --control socket path, NULL: none */
	unsigned	 control_mode;
	uid_t		 control_uid;	/* (uid_t)-1: unchanged */
	gid_t		 control_gid;
	struct server_limits limits;	/* --max-connections-per-client, ... */
	struct listen_addr health;	/* --health-listen */
	int		 health_set;
	const char	*user;		/* --user; NULL: nobody */
	int		 no_sandbox;
	int		 magic_up_verb;	/* parsing `magic-ip up`, not serve */
	size_t		 head_max;	/* --max-header-bytes */
	size_t		 headers_max;	/* --max-headers */
} cli;

/* The running state the loop's callbacks work on. */
static struct {
	struct config	 cfg;
	struct instance	 inst;
	struct imds_options opt;
	struct role_registry roles;	/* the roles served and their credentials */
	struct roles_ctx roles_ctx;	/* what they are rendered from: inst, cfg */
	struct role	*inst_role;	/* the instance's role, in roles */
	struct cred_cache *cache;	/* its credentials: &inst_role->r_cache */
	char		 role[ROLE_NAME_MAX + 1];
	struct cred	 ec2_cred;
	int		 serving;	/* the server is up: publish snapshots */
	char		 source_why[ERRBUF_LEN];	/* why --source auto chose the source */
	char		 role_account[16];	/* account of an assumed role, "" if none */
	int		 sts_started;
	struct lifecycle life;		/* spot, events, ASG, tags, ctl set/unset */
	struct loop_timer life_timer;	/* the next time-driven change */
	time_t		 life_due;	/* ... and when it is due (wall clock) */
	int		 serve;		/* the serve verb (not creds): open the health listener */
	char		 own_role[FACT_MAX];	/* the instance's, before ours */
	char		 own_account[FACT_MAX];
	/*
	 * --source profile: the profile's role chain as followed now, looked at
	 * again when the shared files change or on SIGHUP.  A new chain gets a
	 * new provider at once; its role name is served from its first
	 * credentials on (until then the last good ones, under the old name).
	 */
	int		 chain_on;
	char		 chain_profile[AWSCONF_PROFILE_MAX + 1];
	char		 chain_root[AWSCONF_PROFILE_MAX + 1];
	struct assume_step chain[STS_CHAIN_MAX];
	size_t		 nchain;
	int		 chain_pending;	/* to look at once the fetch under way ends */
	int		 role_pending;	/* next_role waits for the new provider's first delivery */
	char		 next_role[ROLE_NAME_MAX + 1];
	char		 next_account[16];
	unsigned long	 next_after;	/* cc_n_ok when the provider was replaced */
} st;

static int	 chain_check(void);

static void __attribute__((format(printf, 1, 2), noreturn))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROGNAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s serve --help')\n", PROGNAME);
	exit(EXIT_USAGE);
}

/* A whole number from lo to hi, or a usage error naming src. */
static unsigned long
opt_range(const char *src, const char *val, unsigned long lo, unsigned long hi)
{
	unsigned long n;

	if (parse_uint_bounded(val, strlen(val), hi, &n) != 0 || n < lo)
		usage_error("%s: expected a number from %lu to %lu, got '%s'", src, lo, hi, val);
	return n;
}

/* A switch: no value (a flag), or 1/true/yes, 0/false/no (the environment). */
static int
opt_bool(const char *src, const char *val)
{
	if (val == NULL || strcmp(val, "1") == 0 || strcmp(val, "true") == 0 ||
	    strcmp(val, "yes") == 0)
		return 1;
	if (strcmp(val, "0") == 0 || strcmp(val, "false") == 0 || strcmp(val, "no") == 0)
		return 0;
	usage_error("%s: expected 1 or 0, got '%s'", src, val);
}

/* IAM role names: 1 to 64 of [A-Za-z0-9+=,.@_-]. */
static int
role_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > ROLE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("+=,.@_-", s[i]) != NULL))
			return 0;
	return 1;
}

/* An octal mode of 1 to 4 digits, at most 0777, with the owner's read and write. */
static int
parse_mode(const char *s, unsigned *out)
{
	unsigned v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (v > 0777 || (v & 0600) != 0600)
		return -1;
	*out = v;
	return 0;
}

/* A user or group: a name that exists, or a number. */
static int
parse_id(const char *s, int group, unsigned long *out)
{
	struct passwd *pw;
	struct group *gr;

	if (*s == '\0')
		return -1;
	if (parse_uint_bounded(s, strlen(s), 0x7fffffffUL, out) == 0)
		return 0;
	if (group) {
		if ((gr = getgrnam(s)) == NULL)
			return -1;
		*out = gr->gr_gid;
	} else {
		if ((pw = getpwnam(s)) == NULL)
			return -1;
		*out = pw->pw_uid;
	}
	return 0;
}

/* USER[:GROUP] */
static int
parse_owner(const char *s, uid_t *uid, gid_t *gid)
{
	char user[256];
	const char *colon = strchr(s, ':');
	size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	unsigned long v;

	if (n >= sizeof(user))
		return -1;
	memcpy(user, s, n);
	user[n] = '\0';
	if (parse_id(user, 0, &v) == -1)
		return -1;
	*uid = (uid_t)v;
	if (colon != NULL) {
		if (parse_id(colon + 1, 1, &v) == -1)
			return -1;
		*gid = (gid_t)v;
	}
	return 0;
}

/*
 * A time: "10s", "500ms", or a bare number of seconds, within
 * min_ms..max_ms.  0 / -1.
 */
static int
parse_ms(const char *val, unsigned min_ms, unsigned max_ms, unsigned *out)
{
	size_t n = strlen(val);
	unsigned long v, scale = 1000;

	if (n > 2 && strcmp(val + n - 2, "ms") == 0) {
		n -= 2;
		scale = 1;
	} else if (n > 1 && val[n - 1] == 's')
		n -= 1;
	if (parse_uint_bounded(val, n, max_ms, &v) != 0 || v * scale > max_ms ||
	    v * scale < min_ms)
		return -1;
	*out = (unsigned)(v * scale);
	return 0;
}

/* One --listen address. */
static void
listen_item(const char *src, const char *one)
{
	char err[ERRBUF_LEN];

	if (cli.nlisten == LISTEN_MAX)
		usage_error("%s: at most %d listen addresses", src, LISTEN_MAX);
	if (listen_addr_parse(one, &cli.listen[cli.nlisten], err, sizeof(err)) == -1)
		usage_error("%s: %s", src, err);
	cli.nlisten++;
}

/* One --pod-interface pattern. */
static void
pod_item(const char *src, const char *one)
{
	char err[ERRBUF_LEN];

	if (cli.magic.mc_npods == MAGIC_PODS_MAX)
		usage_error("%s: at most %d pod interfaces", src, MAGIC_PODS_MAX);
	if (magicip_pod_pattern(one, cli.magic.mc_pods[cli.magic.mc_npods],
	    sizeof(cli.magic.mc_pods[0]), err, sizeof(err)) == -1)
		usage_error("%s: %s", src, err);
	cli.magic.mc_npods++;
}

/* item() for each comma-separated value of val (the environment lists several). */
static void
opt_list(const char *src, const char *val, void (*item)(const char *src, const char *one))
{
	char one[OPT_ITEM_MAX];
	const char *p, *comma;
	size_t len;

	for (p = val; ; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len >= sizeof(one))
			usage_error("%s: '%.*s' is too long", src, (int)len, p);
		memcpy(one, p, len);
		one[len] = '\0';
		item(src, one);
		if (comma == NULL)
			break;
	}
}

/* One option from a flag (src "--name") or the environment (src "GIMME_X"). */
static void
opt_apply(const struct opt_def *d, const char *src, const char *val)
{
	char err[ERRBUF_LEN];
	unsigned long n;

	switch (d->id) {
	case OPT_LISTEN:
		opt_list(src, val, listen_item);
		break;
	case OPT_CONFIG:
		cli.config_path = val;
		break;
	case OPT_USER_DATA:
		cli.user_data_path = val;
		break;
	case OPT_HTTP_TOKENS:
		if (strcmp(val, "optional") == 0)
			cli.opt.o_tokens_required = 0;
		else if (strcmp(val, "required") == 0)
			cli.opt.o_tokens_required = 1;
		else
			usage_error("%s: expected optional or required, got '%s'", src, val);
		cli.opt_set |= OPT_SET_TOKENS;
		break;
	case OPT_HOP_LIMIT:
		cli.opt.o_hop_limit = (int)opt_range(src, val, HOP_LIMIT_MIN, HOP_LIMIT_MAX);
		cli.opt_set |= OPT_SET_HOPLIMIT;
		break;
	case OPT_HTTP_ENDPOINT:
		if (strcmp(val, "enabled") == 0)
			cli.opt.o_endpoint_enabled = 1;
		else if (strcmp(val, "disabled") == 0)
			cli.opt.o_endpoint_enabled = 0;
		else
			usage_error("%s: expected enabled or disabled, got '%s'", src, val);
		cli.opt_set |= OPT_SET_ENDPOINT;
		break;
	case OPT_IDENTITY_KEY:
		cli.identity_key = val;
		break;
	case OPT_IDENTITY_CERT:
		cli.identity_cert = val;
		break;
	case OPT_MAX_CONN:
		cli.max_conn = opt_range(src, val, 1, CONN_LIMIT_MAX);
		break;
	case OPT_ACCESS_LOG:
		cli.access_log = opt_bool(src, val);
		break;
	case OPT_LONG_TERM:
		cli.allow_long_term = opt_bool(src, val);
		break;
	case OPT_SOURCE:
		if (strcmp(val, "auto") != 0 && strcmp(val, "example") != 0 &&
		    strcmp(val, "env") != 0 && strcmp(val, "profile") != 0)
			usage_error("%s: expected auto, example, env or profile, got '%s'", src, val);
		cli.source = val;
		break;
	case OPT_PROFILE:
		if (*val == '\0' || strlen(val) > AWSCONF_PROFILE_MAX)
			usage_error("%s: expected a profile name of 1 to %d bytes", src,
			    AWSCONF_PROFILE_MAX);
		cli.profile = val;
		break;
	case OPT_ASSUME_ROLE: {
		char name[ROLE_NAME_MAX + 1], acct[16];
		if (strlen(val) >= STS_ARN_MAX ||
		    sts_role_name(val, name, sizeof(name), acct, sizeof(acct)) == -1)
			usage_error("%s: '%s' is not a role ARN "
			    "(arn:aws:iam::123456789012:role/NAME)", src, val);
		cli.assume_role = val;
		break;
	}
	case OPT_EXTERNAL_ID:
		if (*val == '\0' || strlen(val) > STS_EXTERNAL_ID_MAX)
			usage_error("%s: expected 1 to %d bytes", src, STS_EXTERNAL_ID_MAX);
		cli.external_id = val;
		break;
	case OPT_SESSION_NAME:
		if (!sts_session_name_ok(val))
			usage_error("%s: '%s' is not a session name (2 to %d of A-Z a-z 0-9 _ + = "
			    ", . @ -)", src, val, STS_SESSION_NAME_MAX);
		cli.session_name = val;
		break;
	case OPT_DURATION:
		if (sts_parse_duration(val, &cli.duration) == -1)
			usage_error("%s: expected a duration from 900 s to 12 h (3600, 90m, 1h), "
			    "got '%s'", src, val);
		break;
	case OPT_STS_REGION: {
		char url[MD_PATH_MAX];
		if (sts_endpoint_for(val, url, sizeof(url)) == -1)
			usage_error("%s: '%s' is not a region", src, val);
		cli.sts_region = val;
		break;
	}
	case OPT_STS_ENDPOINT:
		if ((strncmp(val, "https://", 8) != 0 && strncmp(val, "http://", 7) != 0) ||
		    strlen(val) >= MD_PATH_MAX)
			usage_error("%s: expected an https:// URL, got '%s'", src, val);
		cli.sts_endpoint = val;
		break;
	case OPT_CA_BUNDLE:
		if (access(val, R_OK) == -1)
			usage_error("%s: %s: %s", src, val, strerror(errno));
		cli.ca_bundle = val;
		break;
	case OPT_ROLE_NAME:
		if (!role_name_ok(val))
			usage_error("%s: '%s' is not a role name (1 to %d of A-Z a-z 0-9 + = , . @ _ -)",
			    src, val, ROLE_NAME_MAX);
		cli.role_name = val;
		break;
	case OPT_LOG_FORMAT:
		if (strcmp(val, "text") == 0)
			cli.log_json = 0;
		else if (strcmp(val, "json") == 0)
			cli.log_json = 1;
		else
			usage_error("%s: expected text or json, got '%s'", src, val);
		break;
	case OPT_LOG_LEVEL:
		if (strcmp(val, "debug") == 0)
			cli.log_level = LOG_LVL_DEBUG;
		else if (strcmp(val, "info") == 0)
			cli.log_level = LOG_LVL_INFO;
		else if (strcmp(val, "warn") == 0)
			cli.log_level = LOG_LVL_WARN;
		else if (strcmp(val, "error") == 0)
			cli.log_level = LOG_LVL_ERR;
		else
			usage_error("%s: expected debug, info, warn or error, got '%s'", src, val);
		break;
	case OPT_MAGIC_IP:
		if (val == NULL || strcmp(val, "nat") == 0 || strcmp(val, "1") == 0 ||
		    strcmp(val, "true") == 0 || strcmp(val, "yes") == 0)
			cli.magic.mc_mode = MAGIC_NAT;
		else if (strcmp(val, "alias") == 0)
			cli.magic.mc_mode = MAGIC_ALIAS;
		else if (strcmp(val, "0") == 0 || strcmp(val, "false") == 0 ||
		    strcmp(val, "no") == 0)
			cli.magic.mc_mode = MAGIC_OFF;
		else
			usage_error("%s: expected nat or alias, got '%s'", src, val);
		break;
	case OPT_POD_IF:
		opt_list(src, val, pod_item);
		break;
	case OPT_FIREWALL:
		if (strcmp(val, "auto") == 0)
			cli.magic.mc_fw = FW_AUTO;
		else if (strcmp(val, "nft") == 0)
			cli.magic.mc_fw = FW_NFT;
		else if (strcmp(val, "iptables") == 0)
			cli.magic.mc_fw = FW_IPTABLES;
		else
			usage_error("%s: expected nft, iptables or auto, got '%s'", src, val);
		break;
	case OPT_IPV6:
		cli.magic.mc_ipv6 = opt_bool(src, val);
		break;
	case OPT_BLOCK:
		cli.magic.mc_block = opt_bool(src, val);
		break;
	case OPT_HELP:
		fputs(usage_serve, stdout);
		exit(0);
	case OPT_MAX_CONN_CLIENT:
		cli.limits.sl_per_client = opt_range(src, val, 0, CONN_LIMIT_MAX);
		break;
	case OPT_REQ_TIMEOUT:
		if (parse_ms(val, REQ_TIMEOUT_MIN_MS, REQ_TIMEOUT_MAX_MS,
		    &cli.limits.sl_req_timeout_ms) == -1)
			usage_error("%s: expected a time from %dms to %ds (10s, 500ms), got '%s'",
			    src, REQ_TIMEOUT_MIN_MS, REQ_TIMEOUT_MAX_MS / 1000, val);
		break;
	case OPT_RATE_LIMIT: {
		size_t len = strlen(val);
		if (len > 2 && strcmp(val + len - 2, "/s") == 0)
			len -= 2;
		if (parse_uint_bounded(val, len, RATE_LIMIT_MAX, &n) != 0)
			usage_error("%s: expected requests per second from 0 (off) to %d, as "
			    "N/s, got '%s'", src, RATE_LIMIT_MAX, val);
		cli.limits.sl_rate = (unsigned)n;
		break;
	}
	case OPT_SHUTDOWN_GRACE:
		if (parse_ms(val, 0, SHUTDOWN_GRACE_MAX_MS, &cli.limits.sl_grace_ms) == -1)
			usage_error("%s: expected a time from 0 to %ds (3s, 500ms), got '%s'",
			    src, SHUTDOWN_GRACE_MAX_MS / 1000, val);
		break;
	case OPT_MAX_HEADER_BYTES:
		cli.head_max = opt_range(src, val, HTTP_HEAD_MIN, HTTP_HEAD_MAX);
		break;
	case OPT_MAX_HEADERS:
		cli.headers_max = opt_range(src, val, HTTP_HEADERS_MIN, HTTP_HEADERS_MAX);
		break;
	case OPT_HEALTH_LISTEN:
		if (listen_addr_parse(val, &cli.health, err, sizeof(err)) == -1)
			usage_error("%s: %s", src, err);
		cli.health_set = 1;
		break;
	case OPT_USER:
		if (*val == '\0')
			usage_error("%s: expected a user name", src);
		cli.user = val;
		break;
	case OPT_NO_SANDBOX:
		cli.no_sandbox = opt_bool(src, val);
		break;
	case OPT_CONTROL: {
		struct sockaddr_un sa;
		if (control_addr(val, &sa, err, sizeof(err)) == -1)
			usage_error("%s: %s", src, err);
		cli.control = val;
		break;
	}
	case OPT_CONTROL_MODE:
		if (parse_mode(val, &cli.control_mode) == -1)
			usage_error("%s: expected an octal mode from 0600 to 0777 that lets the "
			    "owner read and write (0600, 0660), got '%s'", src, val);
		break;
	case OPT_CONTROL_OWNER:
		if (parse_owner(val, &cli.control_uid, &cli.control_gid) == -1)
			usage_error("%s: expected USER or USER:GROUP (names or numbers), got '%s'",
			    src, val);
		break;
	}
}

/*
 * The listener --magic-ip (nat) sends family's traffic to: the first
 * loopback or wildcard one, else the first of that family.  -1 if none.
 */
static int
magic_target(int family)
{
	static const unsigned char any[16];
	size_t i;
	int first = -1;

	for (i = 0; i < cli.nlisten; i++) {
		const struct listen_addr *la = &cli.listen[i];
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

/* serve's own listener on [fd00:ec2::254] (nat with --ipv6), or -1. */
static int
magic_own6(void)
{
	unsigned char a6[16];
	size_t i;

	inet_pton(AF_INET6, MAGIC_IPV6, a6);
	for (i = 0; i < cli.nlisten; i++)
		if (cli.listen[i].la_family == AF_INET6 && cli.listen[i].la_freebind &&
		    memcmp(cli.listen[i].la_addr, a6, 16) == 0)
			return (int)i;
	return -1;
}

/* Fill in where nat sends the magic IP, once the listeners are bound (port 0). */
static void
magic_targets(int bound)
{
	struct magic_conf *mc = &cli.magic;
	int i;

	if ((i = magic_target(AF_INET)) >= 0) {
		memcpy(mc->mc_to4, cli.listen[i].la_addr, 4);
		if (mc->mc_to4[0] == 0)		/* 0.0.0.0: the host itself */
			inet_pton(AF_INET, "127.0.0.1", mc->mc_to4);
		mc->mc_port4 = bound ? server_bound_port((size_t)i) : cli.listen[i].la_port;
	}
	if (mc->mc_ipv6 && ((i = magic_own6()) >= 0 || (i = magic_target(AF_INET6)) >= 0)) {
		memcpy(mc->mc_to6, cli.listen[i].la_addr, 16);
		if (mc->mc_to6[15] == 0)	/* :: */
			inet_pton(AF_INET6, "::1", mc->mc_to6);
		mc->mc_port6 = bound ? server_bound_port((size_t)i) : cli.listen[i].la_port;
	}
}

/* Add one listener of our own (for --magic-ip). */
static void
listen_add(const char *text, int freebind)
{
	char err[ERRBUF_LEN];

	if (cli.nlisten == LISTEN_MAX)
		usage_error("--magic-ip: needs a listener more than the %d allowed", LISTEN_MAX);
	if (listen_addr_parse(text, &cli.listen[cli.nlisten], err, sizeof(err)) == -1)
		fatalx(EXIT_BUG, "can't happen: %s", err);
	cli.listen[cli.nlisten++].la_freebind = freebind;
}

/* --magic-ip's checks, and the listeners it needs. */
static void
magic_listeners(void)
{
	struct magic_conf *mc = &cli.magic;
	char text[sizeof(cli.listen[0].la_text)];
	int i;

	if (mc->mc_mode == MAGIC_OFF) {
		if (mc->mc_block || mc->mc_ipv6 || cli.pods_from_flag)
			usage_error("--%s needs --magic-ip", mc->mc_block ? "block-until-ready" :
			    mc->mc_ipv6 ? "ipv6" : "pod-interface");
		return;
	}
	if (mc->mc_npods == 0) {
		snprintf(mc->mc_pods[0], sizeof(mc->mc_pods[0]), "auto");
		mc->mc_npods = 1;
	}
	if (mc->mc_mode == MAGIC_ALIAS) {
		if (mc->mc_block)
			usage_error("--block-until-ready works with --magic-ip=nat only: with alias "
			    "the address appears only once the server is ready");
		snprintf(text, sizeof(text), "%s:%d", MAGIC_IPV4, MAGIC_PORT);
		listen_add(text, 1);
		if (mc->mc_ipv6) {
			snprintf(text, sizeof(text), "[%s]:%d", MAGIC_IPV6, MAGIC_PORT);
			listen_add(text, 1);
		}
		return;
	}
	if ((i = magic_target(AF_INET)) < 0)
		usage_error("--magic-ip: no IPv4 listener to send %s to (add --listen "
		    "127.0.0.1:PORT)", MAGIC_IPV4);
	if (mc->mc_ipv6 && !cli.magic_up_verb) {
		/*
		 * On [fd00:ec2::254] itself, which magicip_up puts on lo: a pod's
		 * packet can be DNATed there (never to ::1, which the kernel drops
		 * when it comes from another interface)
		 */
		snprintf(text, sizeof(text), "[%s]:%u", MAGIC_IPV6, cli.listen[i].la_port);
		listen_add(text, 1);
	} else if (mc->mc_ipv6 && magic_target(AF_INET6) < 0) {
		/* magic-ip up: a server elsewhere, on ::1 unless --listen says */
		snprintf(text, sizeof(text), "[::1]:%u", cli.listen[i].la_port);
		listen_add(text, 0);
	}
}

static void
parse_serve_args(int argc, char **argv)
{
	struct option longopts[NOPT_DEFS + 1];
	char src[64];
	const char *v;
	size_t i;
	int ch;

	cli.max_conn = CONN_MAX_DEFAULT;
	cli.log_level = LOG_LVL_INFO;
	cli.control_mode = CONTROL_MODE_DEFAULT;
	cli.control_uid = (uid_t)-1;
	cli.control_gid = (gid_t)-1;
	cli.limits.sl_per_client = CONN_PER_CLIENT_DEFAULT;
	cli.limits.sl_req_timeout_ms = HTTP_REQ_TIMEOUT_MS;
	cli.limits.sl_grace_ms = SHUTDOWN_GRACE_MS;
	cli.head_max = HTTP_HEAD_MAX;
	cli.headers_max = HTTP_HEADERS_MAX;
	for (i = 0; i < NOPT_DEFS; i++) {
		if (opt_defs[i].env == NULL || (v = getenv(opt_defs[i].env)) == NULL)
			continue;
		opt_apply(&opt_defs[i], opt_defs[i].env, v);
	}
	for (i = 0; i < NOPT_DEFS; i++) {
		longopts[i].name = opt_defs[i].flag;
		longopts[i].has_arg = opt_defs[i].has_arg == 2 ? optional_argument :
		    opt_defs[i].has_arg ? required_argument : no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = opt_defs[i].id;
	}
	memset(&longopts[NOPT_DEFS], 0, sizeof(longopts[0]));
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h')
			ch = OPT_HELP;
		if (ch == '?')
			usage_error("unknown option '%s'", argv[optind - 1]);
		if (ch == ':')
			usage_error("option '%s' needs a value", argv[optind - 1]);
		for (i = 0; i < NOPT_DEFS; i++)
			if ((int)opt_defs[i].id == ch)
				break;
		if (i == NOPT_DEFS)
			usage_error("can't happen: option %d", ch);
		if (opt_defs[i].id == OPT_LISTEN && !cli.listen_from_flag) {
			cli.nlisten = 0;	/* flags replace the environment's list */
			cli.listen_from_flag = 1;
		}
		if (opt_defs[i].id == OPT_POD_IF && !cli.pods_from_flag) {
			cli.magic.mc_npods = 0;
			cli.pods_from_flag = 1;
		}
		snprintf(src, sizeof(src), "--%s", opt_defs[i].flag);
		opt_apply(&opt_defs[i], src, optarg);
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (cli.nlisten == 0) {
		char err[ERRBUF_LEN];
		if (listen_addr_parse("127.0.0.1:1338", &cli.listen[0], err, sizeof(err)) == -1)
			fatalx(EXIT_BUG, "can't happen: %s", err);
		cli.nlisten = 1;
	}
	magic_listeners();
	/* the health port is the node's, never one the metadata is served on */
	for (i = 0; cli.health_set && cli.health.la_port != 0 && i < cli.nlisten; i++)
		if (cli.listen[i].la_port == cli.health.la_port)
			usage_error("--health-listen %s: port %u is a metadata listener's (%s)",
			    cli.health.la_text, cli.health.la_port, cli.listen[i].la_text);
}

/* Defaults, then the config file's options, then flags and environment. */
static struct imds_options
effective_options(const struct config *cfg)
{
	struct imds_options o = { 1, 0, 1, 0 };

	if (cfg->c_opt_set & OPT_SET_ENDPOINT)
		o.o_endpoint_enabled = cfg->c_opt.o_endpoint_enabled;
	if (cfg->c_opt_set & OPT_SET_TOKENS)
		o.o_tokens_required = cfg->c_opt.o_tokens_required;
	if (cfg->c_opt_set & OPT_SET_HOPLIMIT)
		o.o_hop_limit = cfg->c_opt.o_hop_limit;
	if (cfg->c_opt_set & OPT_SET_TAGS)
		o.o_tags_enabled = cfg->c_opt.o_tags_enabled;
	if (cli.opt_set & OPT_SET_ENDPOINT)
		o.o_endpoint_enabled = cli.opt.o_endpoint_enabled;
	if (cli.opt_set & OPT_SET_TOKENS)
		o.o_tokens_required = cli.opt.o_tokens_required;
	if (cli.opt_set & OPT_SET_HOPLIMIT)
		o.o_hop_limit = cli.opt.o_hop_limit;
	return o;
}

/*
 * Read the config file and user data into cfg and derive the instance.
 * 0, or -1 with a one-line message in err.
 */
static int
load_config(struct config *cfg, struct instance *inst, time_t now, char *err, size_t errlen)
{
	config_init(cfg);
	if (cli.config_path != NULL && config_load(cli.config_path, cfg, err, errlen) == -1)
		return -1;
	if (cli.user_data_path != NULL) {
		char *data;
		size_t len;
		if (read_file_capped(cli.user_data_path, USER_DATA_MAX, &data, &len) == -1) {
			snprintf(err, errlen, "%s: %s%s", cli.user_data_path, strerror(errno),
			    errno == EFBIG ? " (user data is at most 16384 bytes)" : "");
			config_free(cfg);
			return -1;
		}
		free(cfg->c_user_data);
		cfg->c_user_data = data;
		cfg->c_user_data_len = len;
		cfg->c_user_data_set = 1;
	}
	instance_default(inst, now);
	if (instance_apply_config(inst, cfg, err, errlen) == -1) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* The role served: ours (st.role, st.role_account) over the instance's own. */
static void
role_overlay(struct instance *inst)
{
	snprintf(inst->i_role, sizeof(inst->i_role), "%s",
	    st.role[0] != '\0' ? st.role : st.own_role);
	/* iam/info's ARN names the role's account */
	snprintf(inst->i_account, sizeof(inst->i_account), "%s",
	    st.role_account[0] != '\0' ? st.role_account : st.own_account);
	if (st.inst_role != NULL && registry_rename(st.inst_role, inst->i_role, "") == -1)
		log_err("role %s: not a name the registry takes", inst->i_role);
}

/*
 * The role is the default instance's unless --role-name or a profile names
 * it.  inst is as loaded: its own role and account are kept for a later
 * change of ours.
 */
static void
apply_role(struct instance *inst)
{
	snprintf(st.own_role, sizeof(st.own_role), "%s", inst->i_role);
	snprintf(st.own_account, sizeof(st.own_account), "%s", inst->i_account);
	role_overlay(inst);
}

/* Build a snapshot of the instance as it is now.  NULL (logged) on failure. */
static struct snapshot *
build(void)
{
	struct snapshot_input in;
	struct snapshot *s;
	char err[ERRBUF_LEN];

	memset(&in, 0, sizeof(in));
	in.si_inst = &st.inst;
	in.si_cfg = &st.cfg;
	in.si_opt = st.opt;
	in.si_ec2_cred = &st.ec2_cred;
	in.si_now = time(NULL);
	/* events whose NotAfter passed are history before anything is served */
	if (life_advance(&st.life, in.si_now) > 0)
		log_info("maintenance events completed (NotAfter passed)");
	in.si_life = &st.life;
	if ((s = snapshot_build(&in, err, sizeof(err))) == NULL)
		log_err("building the metadata: %s", err);
	return s;
}

/*
 * Serve a new snapshot of the instance, and the roles rendered again from
 * it at the same time.  0 / -1 (logged).
 */
static int
publish(void)
{
	struct snapshot *s;

	if (!st.serving)
		return 0;
	if ((s = build()) == NULL)
		return -1;
	registry_render_all(&st.roles, s->s_last_modified);
	server_set_snapshot(s);
	return 0;
}

/*
 * A role's credentials changed, and the registry has rendered it again:
 * nothing else to do, unless the instance's role takes its new name now.
 */
static void
on_creds_changed(void *unused, struct role *r)
{
	(void)unused;
	if (r == st.inst_role && st.role_pending && st.cache->cc_n_ok > st.next_after) {
		/* the new chain's first credentials: its role name with them */
		st.role_pending = 0;
		if (strcmp(st.role, st.next_role) != 0)
			log_info("serving the role %s (was %s)", st.next_role[0] ? st.next_role :
			    st.own_role, st.role[0] ? st.role : st.own_role);
		snprintf(st.role, sizeof(st.role), "%s", st.next_role);
		snprintf(st.role_account, sizeof(st.role_account), "%s", st.next_account);
		role_overlay(&st.inst);
		publish();	/* the account is the instance's too */
	}
}

/* A watched file changed: fetch again. */
static void
on_file_changed(void *unused)
{
	(void)unused;
	if (chain_check())
		return;		/* a new chain, fetched from already */
	log_info("credentials from %s: a file changed, reading it again",
	    st.cache->cc_prov->cp_desc);
	cred_cache_refresh(st.cache, time(NULL));
}

/* Once a second: refresh what is due, expire what has expired. */
static void
on_tick(void)
{
	time_t now = time(NULL);

	registry_tick(&st.roles, now);
	if (st.chain_pending && !st.cache->cc_busy)
		chain_check();
	if (st.ec2_cred.c_expiration - now < CRED_MIN_AHEAD + CRED_REFRESH_MARGIN) {
		cred_wipe(&st.ec2_cred);
		creds_ec2_placeholder(now, &st.ec2_cred);
		publish();
	}
}

/*
 * The control socket's set/unset over cfg, then the facts again (as
 * load_config derives them).  0 / -1 with err.
 */
static int
apply_overrides(struct config *cfg, struct instance *inst, char *err, size_t errlen)
{
	const struct life_override *o;
	size_t i;

	if (st.life.l_nov == 0)
		return 0;
	for (i = 0; i < st.life.l_nov; i++) {
		o = &st.life.l_ov[i];
		if (config_set_path(cfg, o->lo_path, o->lo_value, o->lo_len, err, errlen) == -1)
			return -1;
	}
	instance_default(inst, st.inst.i_pending_time);
	return instance_apply_config(inst, cfg, err, errlen);
}

static void	 life_schedule(void);

/*
 * A time-driven change is due (a notice becomes visible, an event ends).
 * time() reads a coarse clock that may still show the second before: then
 * wait a little more, so that the change is published exactly once it shows.
 */
static void
on_life_timer(void *unused)
{
	(void)unused;
	if (time(NULL) < st.life_due) {
		loop_timer_set(&st.life_timer, LIFE_TIMER_SLACK_MS, on_life_timer, NULL);
		return;
	}
	publish();
	life_schedule();
}

/* Arm the timer for the next time-driven change, to the second it is due. */
static void
life_schedule(void)
{
	struct timespec ts;
	time_t now = time(NULL), next;
	uint64_t ms;

	if ((next = life_next_change(&st.life, now)) == 0) {
		loop_timer_cancel(&st.life_timer);
		return;
	}
	st.life_due = next;
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = next > ts.tv_sec ? (uint64_t)(next - ts.tv_sec) * 1000 -
	    (uint64_t)(ts.tv_nsec / 1000000) : 0;
	loop_timer_set(&st.life_timer, ms + LIFE_TIMER_SLACK_MS, on_life_timer, NULL);
}

/* ctl set PATH VALUE / ctl unset PATH (val NULL): as --config would. */
static void
control_set(const char *path, const char *val, char *reply, size_t cap)
{
	struct config cfg;
	struct instance inst;
	char err[ERRBUF_LEN];
	size_t len = val != NULL ? strlen(val) : 0;

	if (config_dup(&st.cfg, &cfg) == -1) {
		snprintf(reply, cap, "error out of memory");
		return;
	}
	instance_default(&inst, st.inst.i_pending_time);
	if (config_set_path(&cfg, path, val, len, err, sizeof(err)) == -1 ||
	    instance_apply_config(&inst, &cfg, err, sizeof(err)) == -1 ||
	    life_override_set(&st.life, path, val, len, err, sizeof(err)) == -1) {
		config_free(&cfg);
		snprintf(reply, cap, "error %s %s", val != NULL ? "set" : "unset", err);
		return;
	}
	config_free(&st.cfg);
	st.cfg = cfg;
	st.inst = inst;
	apply_role(&st.inst);
	if (publish() == -1)
		snprintf(reply, cap, "error building the metadata failed (see the log)");
	else
		snprintf(reply, cap, "ok %s %s", path, val != NULL ? "set" : "removed");
}

/* One control request (control.c): the lifecycle verbs, set, unset, rotate-credentials, state. */
static void
on_control(const char *const *argv, size_t argc, char *reply, size_t cap)
{
	char text[ERRBUF_LEN], *json;
	time_t now = time(NULL);
	int rc;

	/* what time alone has changed comes first: `event complete` sees it */
	life_advance(&st.life, now);
	rc = life_command(&st.life, argv, argc, now, text, sizeof(text));
	if (rc == 0) {
		if (publish() == -1)
			snprintf(reply, cap, "error building the metadata failed (see the log)");
		else
			snprintf(reply, cap, "ok %s%s", text, strcmp(argv[0], "tag") == 0 &&
			    !st.opt.o_tags_enabled ? " (kept, not served: instance-metadata-tags "
			    "is disabled)" : "");
		life_schedule();
		return;
	}
	if (rc == -1) {
		snprintf(reply, cap, "error %s", text);
		return;
	}
	if (strcmp(argv[0], "set") == 0 && argc == 3)
		control_set(argv[1], argv[2], reply, cap);
	else if (strcmp(argv[0], "unset") == 0 && argc == 2)
		control_set(argv[1], NULL, reply, cap);
	else if (strcmp(argv[0], "set") == 0 || strcmp(argv[0], "unset") == 0)
		snprintf(reply, cap, "error %s: expected %s", argv[0],
		    argv[0][0] == 's' ? "PATH VALUE" : "PATH");
	else if (strcmp(argv[0], "rotate-credentials") == 0 && argc == 1) {
		if (st.cache->cc_busy) {
			snprintf(reply, cap, "ok a fetch from %s is already under way",
			    st.cache->cc_prov->cp_desc);
			return;
		}
		log_info("credentials from %s: rotating on request", st.cache->cc_prov->cp_desc);
		cred_cache_refresh(st.cache, now);
		snprintf(reply, cap, "ok fetching credentials from %s", st.cache->cc_prov->cp_desc);
	} else if (strcmp(argv[0], "state") == 0 && argc == 1) {
		if ((json = life_state_json(&st.life, now)) == NULL)
			snprintf(reply, cap, "error out of memory");
		else if ((size_t)snprintf(reply, cap, "ok %s", json) >= cap)
			snprintf(reply, cap, "error the state is larger than a reply line");
		free(json);
	} else if (strcmp(argv[0], "rotate-credentials") == 0 || strcmp(argv[0], "state") == 0)
		snprintf(reply, cap, "error %s: takes no arguments", argv[0]);
	else
		snprintf(reply, cap, "error unknown verb '%.64s' (see '%s ctl --help')", argv[0],
		    PROGNAME);
}

/* SIGHUP: reload the config file; a bad one is refused and the old one kept. */
static void
on_hup(void)
{
	struct config cfg;
	struct instance inst;
	char err[ERRBUF_LEN];

	if (load_config(&cfg, &inst, st.inst.i_pending_time, err, sizeof(err)) == -1) {
		log_err("reload refused, still serving the previous config: %s", err);
		return;
	}
	/* what ctl set/unset changed stays changed */
	if (apply_overrides(&cfg, &inst, err, sizeof(err)) == -1) {
		config_free(&cfg);
		log_err("reload refused, still serving the previous config: a path set with "
		    "ctl no longer fits the new file: %s", err);
		return;
	}
	config_free(&st.cfg);
	st.cfg = cfg;
	st.inst = inst;
	apply_role(&st.inst);
	st.opt = effective_options(&st.cfg);
	if (publish() == 0)
		log_info("reloaded %s", cli.config_path != NULL ? cli.config_path :
		    "the configuration");
	/*
	 * and the credentials: a fetch now (the last good ones stay until it
	 * delivers), through a profile's new role chain if it changed
	 */
	if (chain_check())
		return;
	log_info("SIGHUP: reading the credentials from %s again", st.cache->cc_prov->cp_desc);
	cred_cache_refresh(st.cache, time(NULL));
}

/*
 * /readyz: one reason per part that is not ready; none means ready.  The
 * reasons never hold a secret (cc_error never does).
 */
static void
on_ready(struct health_reasons *r)
{
	if (!st.cache->cc_fetched_once)
		health_reason_add(r, "credentials: waiting for the first fetch from %s",
		    st.cache->cc_prov->cp_desc);
	else if (!st.cache->cc_have)
		health_reason_add(r, "credentials: %s", st.cache->cc_error[0] ? st.cache->cc_error :
		    "expired, and no refresh has delivered yet");
	if (!st.serving)
		health_reason_add(r, "metadata: not serving yet");
	if (cli.magic.mc_mode != MAGIC_OFF && !magicip_installed())
		health_reason_add(r, "magic-ip: %s", st.serving ? "installing the rules" :
		    cli.magic.mc_block ? "blocked until the server is ready" :
		    "rules not installed yet");
}

/* /metrics: the credential cache's counters and the served expiry. */
static void
on_health_creds(struct health_creds *hc)
{
	hc->hc_refreshes = st.cache->cc_n_ok;
	hc->hc_failures = st.cache->cc_n_failed;
	hc->hc_have = st.cache->cc_have;
	hc->hc_expires_in = st.cache->cc_have ?
	    (long)(st.cache->cc_cur.c_expiration - time(NULL)) : 0;
}

/* STS, once: region, endpoint and CA bundle from flags, AWS_* variables, defaults. */
static int
start_sts(char *err, size_t errlen)
{
	struct sts_config sc;
	const char *v;

	if (st.sts_started)
		return 0;
	memset(&sc, 0, sizeof(sc));
	if ((v = cli.sts_region) == NULL && ((v = getenv("AWS_REGION")) == NULL || *v == '\0') &&
	    ((v = getenv("AWS_DEFAULT_REGION")) == NULL || *v == '\0'))
		v = st.inst.i_region;
	snprintf(sc.sc_region, sizeof(sc.sc_region), "%s", v);
	if ((v = cli.sts_endpoint) != NULL ||
	    ((v = getenv("AWS_ENDPOINT_URL_STS")) != NULL && *v != '\0'))
		snprintf(sc.sc_endpoint, sizeof(sc.sc_endpoint), "%s", v);
	if ((v = cli.ca_bundle) != NULL || ((v = getenv("AWS_CA_BUNDLE")) != NULL && *v != '\0'))
		snprintf(sc.sc_ca_bundle, sizeof(sc.sc_ca_bundle), "%s", v);
	if (sts_init(&sc, err, errlen) == -1)
		return -1;
	st.sts_started = 1;
	log_debug("STS: region %s, endpoint %s", sc.sc_region,
	    sc.sc_endpoint[0] ? sc.sc_endpoint : "regional");
	return 0;
}

/* A profile's role chain (none: root = profile). */
static int
profile_chain(const char *profile, struct assume_step *steps, size_t *nsteps, char *root,
    size_t rootlen, char *err, size_t errlen)
{
	char cfgpath[AWSCONF_PATH_MAX], credpath[AWSCONF_PATH_MAX];
	char session[STS_SESSION_NAME_MAX + 1];
	struct aws_conf ac;
	int rc;

	if (awsconf_paths(cfgpath, sizeof(cfgpath), credpath, sizeof(credpath), err,
	    errlen) == -1 || awsconf_load(cfgpath, credpath, &ac, err, errlen) == -1)
		return -1;
	if (!awsconf_has_profile(&ac, profile)) {
		/* cred_provider_profile says which files were looked in */
		awsconf_free(&ac);
		*nsteps = 0;
		snprintf(root, rootlen, "%s", profile);
		return 0;
	}
	if (cli.session_name != NULL)
		snprintf(session, sizeof(session), "%s", cli.session_name);
	else
		sts_default_session_name(session, sizeof(session));
	rc = sts_profile_chain(&ac, profile, session, steps, nsteps, root, rootlen, err, errlen);
	awsconf_free(&ac);
	return rc;
}

/*
 * The provider serving base through steps[0..nsteps) (a profile's role
 * chain; --assume-role is added after them, so steps has room for
 * STS_CHAIN_MAX), and the role name and account it serves ("" for the
 * instance's own).  profile names a profile source, NULL for the others.
 * base is taken over: freed on failure.  0, or -1 with err.
 */
static int
chain_provider(struct cred_provider *base, struct assume_step *steps, size_t nsteps,
    const char *profile, struct cred_provider **out, char *role, size_t rolelen,
    char *account, size_t acctlen, char *err, size_t errlen)
{
	struct cred_provider *p = base;

	role[0] = account[0] = '\0';
	if (cli.assume_role != NULL) {
		if (nsteps == STS_CHAIN_MAX) {
			snprintf(err, errlen, "more than %d roles to assume", STS_CHAIN_MAX);
			goto fail;
		}
		memset(&steps[nsteps], 0, sizeof(steps[nsteps]));
		snprintf(steps[nsteps].as_arn, sizeof(steps[nsteps].as_arn), "%s", cli.assume_role);
		snprintf(steps[nsteps].as_external_id, sizeof(steps[nsteps].as_external_id), "%s",
		    cli.external_id != NULL ? cli.external_id : "");
		if (cli.session_name != NULL)
			snprintf(steps[nsteps].as_session, sizeof(steps[nsteps].as_session), "%s",
			    cli.session_name);
		else
			sts_default_session_name(steps[nsteps].as_session,
			    sizeof(steps[nsteps].as_session));
		steps[nsteps++].as_duration = cli.duration;
	}
	/*
	 * Through STS: roles to assume, or the environment's and profiles' keys,
	 * which GetSessionToken turns into session keys if they are long-term.
	 */
	if (nsteps > 0 || (base->cp_fetch != cred_provider_example.cp_fetch &&
	    !cli.allow_long_term)) {
		if (start_sts(err, errlen) == -1 ||
		    cred_provider_sts(base, steps, nsteps, cli.duration, cli.allow_long_term,
		    &p, err, errlen) == -1)
			goto fail;
	}
	if (nsteps > 0) {
		/* the role served is the one assumed last; its account owns the instance */
		char name[ROLE_NAME_MAX + 1], acct[16];
		if (sts_role_name(steps[nsteps - 1].as_arn, name, sizeof(name), acct,
		    sizeof(acct)) == -1) {
			snprintf(err, errlen, "role_arn %.200s is not a role ARN",
			    steps[nsteps - 1].as_arn);
			base = p;
			goto fail;
		}
		snprintf(role, rolelen, "%s", name);
		snprintf(account, acctlen, "%s", acct);
	}
	if (cli.role_name != NULL)
		snprintf(role, rolelen, "%s", cli.role_name);
	else if (nsteps > 0)
		;	/* named after the role, above */
	else if (profile != NULL && role_name_ok(profile))
		snprintf(role, rolelen, "%s", profile);
	else if (profile != NULL)
		log_warn("profile name %s is not a valid role name; listing the role %s",
		    profile, st.own_role[0] ? st.own_role : st.inst.i_role);
	*out = p;
	return 0;
fail:
	if (base->cp_free != NULL)
		base->cp_free(base);
	return -1;
}

/*
 * Choose the credential source (--source), log which and why, and set the
 * role name.  0, or -1 with err.
 */
static int
choose_source(struct cred_provider **out, char *err, size_t errlen)
{
	const char *src = cli.source != NULL ? cli.source : "auto";
	const char *profile = cli.profile, *akid = getenv("AWS_ACCESS_KEY_ID");
	char why[ERRBUF_LEN] = "";	/* how auto chose, logged once the source delivers */
	char cfgpath[AWSCONF_PATH_MAX], credpath[AWSCONF_PATH_MAX];
	char root[AWSCONF_PROFILE_MAX + 1];
	struct assume_step steps[STS_CHAIN_MAX];
	size_t nsteps = 0;
	struct aws_conf ac;
	int use_profile = 0;

	if (profile == NULL && (profile = getenv("AWS_PROFILE")) != NULL && *profile == '\0')
		profile = NULL;
	if (profile == NULL)
		profile = "default";

	if (strcmp(src, "auto") == 0) {
		if (akid != NULL && *akid != '\0') {
			src = "env";
			snprintf(why, sizeof(why), " (auto: AWS_ACCESS_KEY_ID is set)");
		} else if (awsconf_paths(cfgpath, sizeof(cfgpath), credpath, sizeof(credpath),
		    err, errlen) == -1) {
			src = "example";
			snprintf(why, sizeof(why), " (auto: no AWS_ACCESS_KEY_ID, and no shared "
			    "files: %.200s)", err);
		} else if (awsconf_load(cfgpath, credpath, &ac, err, errlen) == 0) {
			use_profile = awsconf_has_profile(&ac, profile);
			src = use_profile ? "profile" : "example";
			if (use_profile)
				snprintf(why, sizeof(why), " (auto: no AWS_ACCESS_KEY_ID; profile %s "
				    "is in the shared files)", profile);
			else
				snprintf(why, sizeof(why), " (auto: no AWS_ACCESS_KEY_ID, and profile "
				    "%s is in neither %s (%s) nor %s (%s))", profile, credpath,
				    ac.ac_creds_found ? "read" : "no such file", cfgpath,
				    ac.ac_config_found ? "read" : "no such file");
			awsconf_free(&ac);
		} else
			return -1;	/* a broken file is the user's to fix, not a reason to fall back */
	}
	if (strcmp(src, "env") == 0) {
		if (cred_provider_env(out, err, errlen) == -1)
			return -1;
	} else if (strcmp(src, "profile") == 0) {
		/* a role profile: its chain ends at the profile holding the keys */
		if (profile_chain(profile, steps, &nsteps, root, sizeof(root), err, errlen) == -1 ||
		    cred_provider_profile(root, out, err, errlen) == -1)
			return -1;
		use_profile = 1;
	} else
		*out = &cred_provider_example;

	if (chain_provider(*out, steps, nsteps, use_profile ? profile : NULL, out, st.role,
	    sizeof(st.role), st.role_account, sizeof(st.role_account), err, errlen) == -1)
		return -1;
	if (use_profile && strcmp(src, "profile") == 0) {
		/* followed from now on: see chain_check */
		st.chain_on = 1;
		snprintf(st.chain_profile, sizeof(st.chain_profile), "%s", profile);
		snprintf(st.chain_root, sizeof(st.chain_root), "%s", root);
		memcpy(st.chain, steps, sizeof(st.chain));
		st.nchain = nsteps;	/* the profile's own: chain_provider added to a copy */
	}
	snprintf(st.source_why, sizeof(st.source_why), "%s", why);
	return 0;
}

/* Two steps of a role chain are the same request to STS. */
static int
same_step(const struct assume_step *a, const struct assume_step *b)
{
	return strcmp(a->as_arn, b->as_arn) == 0 && strcmp(a->as_session, b->as_session) == 0 &&
	    strcmp(a->as_external_id, b->as_external_id) == 0 &&
	    a->as_duration == b->as_duration;
}

/*
 * A profile source: look at its role chain again (the shared files changed,
 * or SIGHUP).  A changed chain gets a new provider, fetched from at once;
 * the role's name changes with its first credentials (on_creds_changed).
 * What cannot be taken live (keys from another profile, a chain needing STS
 * that was never started, a broken file) is logged, and the chain in use
 * kept.  1 when a fetch was started here, else 0.
 */
static int
chain_check(void)
{
	struct assume_step steps[STS_CHAIN_MAX];
	struct cred_provider *base, *p, *old;
	char root[AWSCONF_PROFILE_MAX + 1], err[ERRBUF_LEN];
	char role[ROLE_NAME_MAX + 1], account[sizeof(st.next_account)];
	size_t n = 0, i;

	if (!st.chain_on)
		return 0;
	if (st.cache->cc_busy) {
		st.chain_pending = 1;	/* on_tick comes back once the fetch ends */
		return 0;
	}
	st.chain_pending = 0;
	memset(steps, 0, sizeof(steps));
	if (profile_chain(st.chain_profile, steps, &n, root, sizeof(root), err,
	    sizeof(err)) == -1) {
		log_warn("profile %s: %s; keeping the role chain in use", st.chain_profile, err);
		return 0;
	}
	for (i = 0; i < n && i < st.nchain && same_step(&steps[i], &st.chain[i]); i++)
		;
	if (strcmp(root, st.chain_root) == 0 && n == st.nchain && i == n)
		return 0;
	if (strcmp(root, st.chain_root) != 0) {
		log_warn("profile %s now takes its keys from profile %s, not %s: restart to "
		    "use them; keeping the role chain in use", st.chain_profile, root,
		    st.chain_root);
		return 0;
	}
	if (n > 0 && !st.sts_started) {
		log_warn("profile %s now assumes a role, which needs STS (not started with "
		    "--allow-long-term-keys and no role): restart to use it; keeping the "
		    "credentials in use", st.chain_profile);
		return 0;
	}
	if (cred_provider_profile(root, &base, err, sizeof(err)) == -1 ||
	    chain_provider(base, steps, n, st.chain_profile, &p, role, sizeof(role), account,
	    sizeof(account), err, sizeof(err)) == -1) {
		log_warn("profile %s: the new role chain: %s; keeping the one in use",
		    st.chain_profile, err);
		return 0;
	}
	old = st.cache->cc_prov;
	st.cache->cc_prov = p;
	if (old->cp_free != NULL)
		old->cp_free(old);
	memcpy(st.chain, steps, sizeof(st.chain));
	st.nchain = n;
	snprintf(st.next_role, sizeof(st.next_role), "%s", role);
	snprintf(st.next_account, sizeof(st.next_account), "%s", account);
	st.next_after = st.cache->cc_n_ok;
	st.role_pending = 1;
	log_info("profile %s: the role chain changed (%zu role%s%s%.200s); credentials from "
	    "%s now", st.chain_profile, n, n == 1 ? "" : "s", n > 0 ? ", the last " : "",
	    n > 0 ? steps[n - 1].as_arn : "", p->cp_desc);
	cred_cache_refresh(st.cache, time(NULL));
	return 1;
}

/*
 * Everything up to the first credential: config, instance, keys, the
 * source and its first fetch.  Shared by serve and creds.  0, the exit
 * status after a one-line message on stderr, or -1: stopped by a signal
 * while waiting (exit 0).
 */
static int
start_up(void)
{
	struct cred_provider *prov;
	char err[ERRBUF_LEN];
	time_t now = time(NULL);
	const char *files[2];

	log_init(cli.log_json, cli.log_level);
	config_set_start(now);	/* the scenario's times, at every reload too */
	if (load_config(&st.cfg, &st.inst, now, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	st.opt = effective_options(&st.cfg);
	/* the scenario's times count from the start */
	life_init(&st.life);
	if (life_scenario(&st.life, st.cfg.c_scenario, now, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", PROGNAME,
		    cli.config_path != NULL ? cli.config_path : "config", err);
		return EXIT_CONFIG;
	}
	if (token_init() == -1)
		fatal(EXIT_SYSTEM, "token key");
	if (loop_init(err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_SYSTEM;
	}
	server_limits(&cli.limits);
	http_parse_limits(cli.head_max, cli.headers_max);
	if (choose_source(&prov, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	apply_role(&st.inst);
	st.roles_ctx.rc_inst = &st.inst;
	st.roles_ctx.rc_cfg = &st.cfg;
	registry_init(&st.roles, &(struct role_renderer){ roles_render, role_view_unref,
	    &st.roles_ctx }, on_creds_changed, NULL);
	if ((st.inst_role = registry_add(&st.roles, ROLE_KEY_INSTANCE, st.inst.i_role, "", prov,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	st.cache = &st.inst_role->r_cache;
	st.cache->cc_allow_long_term = cli.allow_long_term;
	/* the health listener answers from now on: /readyz says what is missing */
	health_callbacks(on_ready, on_health_creds);
	if (st.serve && cli.health_set && server_health_init(&cli.health, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_SYSTEM;
	}
	/* the first fetch decides: nothing is served without credentials */
	cred_cache_refresh(st.cache, now);
	switch (loop_run_until(&st.cache->cc_fetched_once)) {
	case 0:
		break;
	case 1:		/* SIGTERM/SIGINT while waiting: a clean stop */
		log_info("stopped before the first credentials arrived");
		return -1;
	default:
		return EXIT_SYSTEM;
	}
	if (!st.cache->cc_have) {
		/* one line: the source, how it was chosen, what went wrong */
		fprintf(stderr, "%s: credentials from %s%s: %s\n", PROGNAME, prov->cp_desc,
		    st.source_why, st.cache->cc_error);
		return EXIT_CONFIG;
	}
	log_info("credentials: %s%s: access key %s, expiring in %ld s", prov->cp_desc,
	    st.source_why, st.cache->cc_cur.c_akid, (long)(st.cache->cc_cur.c_expiration - now));
	if (identity_init(cli.identity_key, cli.identity_cert, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	creds_ec2_placeholder(now, &st.ec2_cred);
	if ((files[0] = cred_provider_file(prov, 0)) != NULL) {
		files[1] = cred_provider_file(prov, 1);
		if (watch_files(files, 2, on_file_changed, NULL, err, sizeof(err)) == -1)
			log_warn("edits of the shared files won't be noticed: %s", err);
	}
	return 0;
}

/*
 * Give back the memory that start-up needed and serving does not: free heap
 * pages, and the pages of shared libraries that key generation and signing
 * faulted in (mostly libcrypto, mapped in large chunks by the kernel's
 * fault-around).  Only read-only private file mappings with no privately
 * modified page ("Anonymous: 0 kB" in smaps) are dropped: their pages equal
 * the file's, so a later use simply faults them back from the page cache.
 * Writable mappings, and RELRO ones (relocated, then made read-only), keep
 * their pages.
 */
static void
mem_trim(void)
{
	struct { unsigned long lo, hi; } drop[TRIM_RANGES_MAX];
	char line[MAPS_LINE_MAX], perms[5];
	unsigned long lo = 0, hi = 0, a, b, anon;
	size_t n = 0, i;
	int cand = 0;
	FILE *f;

	malloc_trim(0);
	if ((f = fopen("/proc/self/smaps", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL && n < TRIM_RANGES_MAX) {
		if (sscanf(line, "%lx-%lx %4s", &a, &b, perms) == 3) {
			lo = a;
			hi = b;
			cand = perms[1] != 'w' && perms[3] == 'p' && strstr(line, ".so") != NULL;
		} else if (cand && sscanf(line, "Anonymous: %lu kB", &anon) == 1) {
			if (anon == 0) {
				drop[n].lo = lo;
				drop[n++].hi = hi;
			}
			cand = 0;
		}
	}
	fclose(f);
	/* all at the end: libc's own pages go too, and nothing here refaults them */
	for (i = 0; i < n; i++)
		madvise((void *)drop[i].lo, drop[i].hi - drop[i].lo, MADV_DONTNEED);
}

/* Take the magic IP away again (exit paths); failures are logged. */
static void
magic_remove(void)
{
	char err[ERRBUF_LEN];

	if (cli.magic.mc_mode == MAGIC_OFF)
		return;
	if (magicip_down(1, err, sizeof(err)) == -1)
		log_err("magic-ip: removing the rules: %s (run '%s magic-ip down')", err, PROGNAME);
}

/* What the sandbox needs to know (sandbox.c). */
static void
sandbox_config(struct sandbox_cfg *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->sb_disabled = cli.no_sandbox;
	sc->sb_user = cli.user;
	sc->sb_user_set = cli.user != NULL;
	sc->sb_log_json = cli.log_json;
	sc->sb_log_level = (int)cli.log_level;
	sc->sb_paths[SANDBOX_PATH_CONFIG] = cli.config_path;
	sc->sb_paths[SANDBOX_PATH_USER_DATA] = cli.user_data_path;
	sc->sb_paths[SANDBOX_PATH_CONTROL] = cli.control;
	if (st.cache != NULL) {
		sc->sb_paths[SANDBOX_PATH_AWS_CONFIG] = cred_provider_file(st.cache->cc_prov, 0);
		sc->sb_paths[SANDBOX_PATH_AWS_CREDS] = cred_provider_file(st.cache->cc_prov, 1);
		sc->sb_profile = cred_provider_profile_name(st.cache->cc_prov);
	}
	if (st.sts_started) {	/* start_sts's choice */
		const char *v = cli.ca_bundle;
		if (v == NULL && (v = getenv("AWS_CA_BUNDLE")) != NULL && *v == '\0')
			v = NULL;
		sc->sb_paths[SANDBOX_PATH_CA_BUNDLE] = v;
	}
	/* rules or the alias to keep up and remove at exit */
	sc->sb_keep_net_admin = magicip_installed();
	sc->sb_exec_net_admin = magicip_firewall() == FW_IPTABLES;
}

static void
clean_up(void)
{
	sandbox_cleanup();
	if (st.sts_started)
		sts_cleanup();
	watch_stop();
	registry_free(&st.roles);
	st.inst_role = NULL;
	st.cache = NULL;
	cred_wipe(&st.ec2_cred);
	config_free(&st.cfg);
	life_free(&st.life);
	identity_cleanup();
	token_cleanup();
}

static int
cmd_serve(int argc, char **argv)
{
	struct sandbox_cfg sc;
	char err[ERRBUF_LEN];
	int rc, ran = 0;

	parse_serve_args(argc, argv);
	log_init(cli.log_json, cli.log_level);
	/* what needs privileges is checked before anything else is done */
	if (magicip_check_privileges(&cli.magic, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_NOPERM;
	}
	sandbox_config(&sc);
	if (sandbox_prepare(&sc, err, sizeof(err)) == -1)
		usage_error("--user: %s", err);
	if (cli.magic.mc_mode == MAGIC_NAT && cli.magic.mc_block) {
		magic_targets(0);
		if (magicip_block(&cli.magic, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: magic-ip: %s\n", PROGNAME, err);
			return EXIT_SYSTEM;
		}
	}
	st.serve = 1;
	if ((rc = start_up()) != 0) {
		magic_remove();
		return rc < 0 ? 0 : rc;	/* < 0: stopped by a signal while starting */
	}
	rc = EXIT_SYSTEM;	/* until server_run says otherwise */
	/* before the listeners: a second daemon on the same socket stops here */
	if (cli.control != NULL && control_open(cli.control, cli.control_mode, cli.control_uid,
	    cli.control_gid, on_control, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out;
	}
	if (server_init(cli.listen, cli.nlisten, cli.max_conn, cli.access_log, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out_control;
	}
	server_role_resolver(roles_resolve, &st.roles);
	st.serving = 1;
	if (publish() == -1) {
		rc = EXIT_CONFIG;
		goto out_server;
	}
	life_schedule();
	log_info("instance %s (%s) in %s, role %s; http-tokens %s, hop limit %d%s",
	    st.inst.i_instance_id, st.inst.i_instance_type, st.inst.i_az, st.inst.i_role,
	    st.opt.o_tokens_required ? "required" : "optional", st.opt.o_hop_limit,
	    st.opt.o_endpoint_enabled ? "" : ", endpoint disabled");
	/* listening, with credentials: now the magic IP may lead here */
	if (cli.magic.mc_mode != MAGIC_OFF) {
		magic_targets(1);
		if (magicip_up(&cli.magic, 1, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: magic-ip: %s\n", PROGNAME, err);
			goto out_server;
		}
	}
	/*
	 * The rules are in (above): now the privileges go.  CAP_NET_ADMIN stays
	 * while rules are installed, to follow new pod interfaces and remove
	 * them at SIGTERM; the iptables path also execs iptables-restore, so
	 * there the capability is ambient and no seccomp filter is loaded.
	 */
	sandbox_config(&sc);
	if (sandbox_enter(&sc, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: sandbox: %s\n", PROGNAME, err);
		goto out_server;
	}
	server_callbacks(on_tick, on_hup);
	mem_trim();
	rc = server_run() == 0 ? 0 : EXIT_SYSTEM;
	ran = 1;
	loop_timer_cancel(&st.life_timer);
	/* every way out undoes what was set up, in reverse */
out_server:
	server_shutdown();
out_control:
	control_close();
out:
	magic_remove();
	clean_up();
	if (ran)
		log_info("stopped");
	return rc;
}

/* magic-ip status|down|up */
static int
cmd_magic(int argc, char **argv)
{
	char err[ERRBUF_LEN];
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
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
		cli.magic.mc_mode = MAGIC_NAT;
		if (magicip_check_privileges(&cli.magic, err, sizeof(err)) == -1) {
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
		cli.magic.mc_mode = MAGIC_NAT;
		cli.magic_up_verb = 1;
		parse_serve_args(argc - 1, argv + 1);
		if (cli.magic.mc_mode != MAGIC_NAT || cli.magic.mc_block) {
			fprintf(stderr, "%s: magic-ip up installs the nat rules only\n", PROGNAME);
			return EXIT_USAGE;
		}
		magic_targets(0);
		if (cli.magic.mc_port4 == 0) {
			fprintf(stderr, "%s: magic-ip up: --listen needs a port other than 0\n",
			    PROGNAME);
			return EXIT_USAGE;
		}
		log_init(cli.log_json, cli.log_level);
		if (magicip_check_privileges(&cli.magic, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", PROGNAME, err);
			return EXIT_NOPERM;
		}
		if (magicip_up(&cli.magic, 0, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: magic-ip up: %s\n", PROGNAME, err);
			return EXIT_SYSTEM;
		}
		return 0;
	}
	fprintf(stderr, "%s: magic-ip: unknown command '%s'\n", PROGNAME, argv[1]);
	fputs(usage_magic, stderr);
	return EXIT_USAGE;
}

/* creds: print what serve would hand out at iam/security-credentials/<role>. */
static int
cmd_creds(int argc, char **argv)
{
	const struct md_node *n;
	char path[MD_PATH_MAX];
	int rc;

	parse_serve_args(argc, argv);
	if ((rc = start_up()) != 0)
		return rc < 0 ? 0 : rc;
	if (registry_render(st.inst_role, time(NULL)) == -1)
		return EXIT_CONFIG;
	snprintf(path, sizeof(path), "meta-data/iam/security-credentials/%s", st.inst.i_role);
	if (st.inst.i_role[0] == '\0' || (n = tree_lookup(st.inst_role->r_view->rv_root, path,
	    strlen(path))) == NULL || n->n_dir) {
		fprintf(stderr, "%s: no role is served (the config removed it)\n", PROGNAME);
		rc = EXIT_CONFIG;
	} else {
		fwrite(n->n_body, 1, n->n_bodylen, stdout);
		fputc('\n', stdout);
		log_info("role %s: the document served at /latest/%s", st.inst.i_role, path);
	}
	loop_cleanup();
	clean_up();
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "creds") == 0)
		return cmd_creds(argc - 1, argv + 1);
	if (strcmp(argv[1], "magic-ip") == 0)
		return cmd_magic(argc - 1, argv + 1);
	if (strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "sandbox-helper") == 0)	/* internal: started by serve */
		return sandbox_helper_main(argc - 1, argv + 1, mem_trim);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", PROGNAME, GIMME_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	fprintf(stderr, "%s: unknown command '%s'\n", PROGNAME, argv[1]);
	fputs(usage_main, stderr);
	return EXIT_USAGE;
}
