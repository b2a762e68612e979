/*
 * options.c: serve's options, one table.
 *
 * Each row of opt_defs[] is one option: its flag, the kind of value it
 * takes (and so how it is parsed and what its message says), its bounds,
 * its GIMME_* variable, the field it sets and its help.  The environment,
 * the flags and `serve --help` all come from the table, and the man page's
 * OPTIONS are checked against --help (tests/ops/test_manpage.py), so none
 * of them can name an option the others lack.  The rows are in --help's
 * order, which is also the order the environment is read in.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/serve.h"

#define OPTS_HELP_COLUMN	29	/* --help: where the help text starts */
#define OPTS_SOURCE_MAX		64	/* bytes in a message's "--flag" or "GIMME_X" */

#define OFF(field)	offsetof(struct serve_options, field)
/*
 * OFF(field), checked at compile time to be as wide as the type the kind
 * stores through (a struct with a _Static_assert member: C11, a constant).
 */
#define OFF_AS(field, type)	(OFF(field) + 0 * sizeof(struct { \
	_Static_assert(sizeof(((struct serve_options *)0)->field) == sizeof(type), \
	    #field " is not " #type "-sized"); int oa_unused; }))

static int	 opts_pods(struct serve_options *, char *, size_t);

static const struct opt_word words_log_format[] = {
	{ "text", 0, 0 }, { "json", 1, 0 }, { NULL, 0, 0 }
};
static const struct opt_word words_log_level[] = {
	{ "debug", LOG_LVL_DEBUG, 0 }, { "info", LOG_LVL_INFO, 0 },
	{ "warn", LOG_LVL_WARN, 0 }, { "error", LOG_LVL_ERR, 0 }, { NULL, 0, 0 }
};
/* the first is what --magic-ip alone means; the environment's switch words too */
static const struct opt_word words_magic[] = {
	{ "nat", MAGIC_NAT, 0 }, { "alias", MAGIC_ALIAS, 0 },
	{ "1", MAGIC_NAT, 1 }, { "true", MAGIC_NAT, 1 }, { "yes", MAGIC_NAT, 1 },
	{ "0", MAGIC_OFF, 1 }, { "false", MAGIC_OFF, 1 }, { "no", MAGIC_OFF, 1 },
	{ NULL, 0, 0 }
};
static const struct opt_word words_firewall[] = {
	{ "nft", FW_NFT, 0 }, { "iptables", FW_IPTABLES, 0 }, { "auto", FW_AUTO, 0 },
	{ NULL, 0, 0 }
};

/* OPT_WORD writes an int into these (its rows check the field, OFF_AS) */
_Static_assert(sizeof(enum log_level) == sizeof(int), "log_level is int-sized");
_Static_assert(sizeof(enum magic_mode) == sizeof(int), "magic_mode is int-sized");
_Static_assert(sizeof(enum magic_fw) == sizeof(int), "magic_fw is int-sized");

#define ROW_STRING(flag, arg, env, field, check, help) \
	{ flag, arg, OPT_STRING, 0, 0, 0, NULL, env, OFF_AS(field, const char *), NULL, 0, check, NULL, help }
#define ROW_SWITCH(flag, env, field, help) \
	{ flag, NULL, OPT_SWITCH, 0, 0, 0, NULL, env, OFF_AS(field, int), NULL, 0, NULL, NULL, help }
#define ROW_NUMBER(flag, arg, lo, hi, env, field, help) \
	{ flag, arg, OPT_NUMBER, 0, lo, hi, NULL, env, OFF_AS(field, unsigned long), NULL, 0, NULL, NULL, help }
#define ROW_TIME(flag, arg, lo, hi, eg, env, field, help) \
	{ flag, arg, OPT_TIME, 0, lo, hi, eg, env, OFF_AS(field, unsigned), NULL, 0, NULL, NULL, help }
#define ROW_WORD(flag, arg, opt, env, field, words, help) \
	{ flag, arg, OPT_WORD, opt, 0, 0, NULL, env, OFF_AS(field, int), words, 0, NULL, NULL, help }
#define ROW_INSTANCE(flag, arg, env, which, help) \
	{ flag, arg, OPT_INSTANCE, 0, 0, 0, NULL, env, 0, NULL, which, NULL, NULL, help }
#define ROW_LIST(flag, arg, env, count, parse, help) \
	{ flag, arg, OPT_LIST, 0, 0, 0, NULL, env, OFF(count), NULL, 0, NULL, parse, help }
#define ROW_VALUE(flag, arg, env, parse, help) \
	{ flag, arg, OPT_VALUE, 0, 0, 0, NULL, env, 0, NULL, 0, NULL, parse, help }

const struct opt_def opt_defs[] = {
	ROW_LIST("listen", "ADDR:PORT", "GIMME_LISTEN", nlisten, optval_parse_listen,
	    "listen here; repeatable; IPv6 as [ADDR]:PORT; port 0\n"
	    "picks a free port (default 127.0.0.1:1338;\n"
	    "GIMME_LISTEN takes a comma-separated list)"),
	ROW_STRING("config", "FILE", "GIMME_CONFIG", config_path, NULL,
	    "JSON merged over the default instance: keys\n"
	    "\"meta-data\", \"dynamic\", \"user-data\", \"options\""),
	ROW_STRING("user-data", "FILE", "GIMME_USER_DATA", user_data_path, NULL,
	    "serve FILE's bytes as user-data (at most 16384)"),
	ROW_INSTANCE("http-tokens", "optional|required", "GIMME_HTTP_TOKENS", IMDS_OPT_TOKENS,
	    "IMDSv2 tokens optional or required (default optional)"),
	ROW_INSTANCE("hop-limit", "N", "GIMME_HOP_LIMIT", IMDS_OPT_HOPLIMIT,
	    "IP TTL of token responses, 1..64 (default 1)"),
	ROW_INSTANCE("http-endpoint", "enabled|disabled", "GIMME_HTTP_ENDPOINT",
	    IMDS_OPT_ENDPOINT,
	    "disabled answers every request 403 (default enabled)"),
	ROW_STRING("source", "auto|example|env|profile", "GIMME_SOURCE", source, optval_check_source,
	    "where credentials come from (default auto: the\n"
	    "environment's AWS_ACCESS_KEY_ID if set, else the\n"
	    "profile if the shared files have it, else AWS's\n"
	    "documented example credentials)"),
	ROW_STRING("profile", "NAME", "GIMME_PROFILE", profile, optval_check_profile,
	    "profile of ~/.aws/credentials and ~/.aws/config\n"
	    "(AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE); default\n"
	    "AWS_PROFILE, else default; the files are watched"),
	ROW_STRING("role-name", "NAME", "GIMME_ROLE_NAME", role_name, optval_check_role_name,
	    "role listed under iam/security-credentials/ (default:\n"
	    "the profile's name, else dev-instance-role)"),
	ROW_SWITCH("allow-long-term-keys", "GIMME_ALLOW_LONG_TERM_KEYS", allow_long_term,
	    "serve keys that have no session token as they are\n"
	    "(by default they are exchanged for session keys\n"
	    "with STS GetSessionToken: many SDKs require a Token)"),
	ROW_STRING("assume-role", "ARN", "GIMME_ASSUME_ROLE", assume_role, optval_check_role_arn,
	    "serve the credentials of this role, assumed with\n"
	    "the source's credentials (STS AssumeRole); a\n"
	    "profile's role_arn/source_profile chain is followed too"),
	ROW_STRING("external-id", "ID", "GIMME_EXTERNAL_ID", external_id, optval_check_external_id,
	    "ExternalId for --assume-role"),
	ROW_STRING("session-name", "NAME", "GIMME_SESSION_NAME", session_name,
	    optval_check_session_name,
	    "RoleSessionName (default gimme-aws-mini-<hostname>)"),
	ROW_VALUE("duration", "D", "GIMME_DURATION", optval_parse_duration,
	    "session length: 3600, 90m, 1h (900 s to 12 h;\n"
	    "default STS's)"),
	ROW_STRING("sts-region", "REGION", "GIMME_STS_REGION", sts_region, optval_check_sts_region,
	    "region STS requests are signed for and sent to\n"
	    "(default AWS_REGION, AWS_DEFAULT_REGION, else the\n"
	    "instance's region)"),
	ROW_STRING("sts-endpoint", "URL", "GIMME_STS_ENDPOINT", sts_endpoint,
	    optval_check_sts_endpoint,
	    "STS endpoint (default AWS_ENDPOINT_URL_STS, else\n"
	    "https://sts.<region>.amazonaws.com/)"),
	ROW_STRING("ca-bundle", "FILE", "GIMME_CA_BUNDLE", ca_bundle, optval_check_readable,
	    "CA certificates for STS (default AWS_CA_BUNDLE, else\n"
	    "the system store)"),
	ROW_SWITCH("ecs", "GIMME_ECS", ecs,
	    "also serve ECS container credentials (what\n"
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI names):\n"
	    "/v2/credentials/ID and /v1/credentials?id=ID for the\n"
	    "config's \"ecs-credentials\" ids, /creds (this\n"
	    "identity), /role/NAME (assumed); with --magic-ip on\n"
	    "169.254.170.2:80 too"),
	ROW_LIST("ecs-listen", "ADDR:PORT", "GIMME_ECS_LISTEN", necs_listen, optval_parse_ecs_listen,
	    "serve it here too; repeatable; implies --ecs"),
	ROW_STRING("base-role-arn", "ARN", "GIMME_BASE_ROLE_ARN", base_role_arn, optval_check_base_arn,
	    "what /role/NAME and a pod's role name complete into\n"
	    "a role ARN (arn:aws:iam::123456789012:role/ or with\n"
	    "a path); roles are assumed with this identity's\n"
	    "credentials"),
	ROW_SWITCH("pod-roles", "GIMME_POD_ROLES", pod_roles,
	    "each pod of this node gets the role its manifests\n"
	    "name (annotation iam.amazonaws.com/role, its service\n"
	    "account's eks.amazonaws.com/role-arn, the config's\n"
	    "pod-identity-associations, --default-role), found by\n"
	    "the request's source address through the Kubernetes\n"
	    "API; the node and hostNetwork pods get this identity"),
	ROW_SWITCH("pod-identity", "GIMME_POD_IDENTITY", pod_identity,
	    "also serve EKS Pod Identity credentials (what\n"
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI and\n"
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE name): GET\n"
	    "/v1/credentials with the pod's projected token,\n"
	    "verified by TokenReview; the pod's role as\n"
	    "--pod-roles chooses it, pod-identity-associations\n"
	    "first; follows the node's pods through the\n"
	    "Kubernetes API; with --magic-ip on 169.254.170.23:80\n"
	    "(and [fd00:ec2::23]:80 with --ipv6) too"),
	ROW_LIST("pod-identity-listen", "ADDR:PORT", "GIMME_POD_IDENTITY_LISTEN", npi_listen,
	    optval_parse_pi_listen,
	    "serve it here too (its address is then accepted as\n"
	    "Host); repeatable; implies --pod-identity"),
	ROW_SWITCH("session-tags", "GIMME_SESSION_TAGS", session_tags,
	    "with --pod-identity: assume each pod's role as EKS\n"
	    "does, with its six transitive session tags\n"
	    "(eks-cluster-arn, eks-cluster-name,\n"
	    "kubernetes-namespace, kubernetes-service-account,\n"
	    "kubernetes-pod-name, kubernetes-pod-uid) and session\n"
	    "name eks-CLUSTER-POD-UUID: credentials of its own per\n"
	    "pod; the role's trust policy must allow\n"
	    "sts:TagSession for this identity"),
	ROW_STRING("cluster-name", "NAME", "GIMME_CLUSTER_NAME", cluster_name,
	    optval_check_cluster_name,
	    "the cluster the session tags name (default: the\n"
	    "kubeconfig's cluster when it is an EKS cluster name\n"
	    "or ARN, else gimme-aws-mini); its ARN is\n"
	    "arn:aws:eks:REGION:ACCOUNT:cluster/NAME with the\n"
	    "instance's region and the role's account"),
	ROW_STRING("node-name", "NAME", "GIMME_NODE_NAME", node_name, optval_check_node_name,
	    "the node whose pods are served (default NODE_NAME,\n"
	    "else the host name)"),
	ROW_STRING("kubeconfig", "FILE", "GIMME_KUBECONFIG", kubeconfig, optval_check_readable,
	    "where the Kubernetes API is (default: in a pod its\n"
	    "service account, else KUBECONFIG, else\n"
	    "~/.kube/config; its current context)"),
	ROW_TIME("pod-wait", "T", 0, POD_WAIT_MAX_MS, "1s, 500ms", "GIMME_POD_WAIT", pod_wait_ms,
	    "how long a credential request from an address no\n"
	    "pod is known to own yet waits for the watch, then\n"
	    "404 (default 1s; at most 10s)"),
	ROW_STRING("default-role", "NAME|ARN", "GIMME_DEFAULT_ROLE", default_role, NULL,
	    "the role of a pod whose manifests name none (default:\n"
	    "none, its credential paths 404)"),
	ROW_SWITCH("namespace-restrictions", "GIMME_NAMESPACE_RESTRICTIONS", ns_restrict,
	    "serve a pod a role only when its namespace allows it\n"
	    "(iam.amazonaws.com/allowed-roles, a JSON array of\n"
	    "globs; iam.amazonaws.com/permitted, a regular\n"
	    "expression); --default-role is always allowed"),
	ROW_STRING("identity-key", "FILE", "GIMME_IDENTITY_KEY", identity_key, NULL,
	    "PEM private keys for the identity signatures; a\n"
	    "missing FILE is created with new keys (default:\n"
	    "new keys in memory at every start)"),
	ROW_STRING("identity-cert", "FILE", "GIMME_IDENTITY_CERT", identity_cert, NULL,
	    "write the matching certificates here (PEM)"),
	ROW_NUMBER("max-connections", "N", 1, CONN_LIMIT_MAX, "GIMME_MAX_CONNECTIONS",
	    max_conn,
	    "connections served at once (default 1024)"),
	ROW_NUMBER("max-connections-per-client", "N", 0, CONN_LIMIT_MAX,
	    "GIMME_MAX_CONNECTIONS_PER_CLIENT", limits.hl_per_client,
	    "connections at once from one client address; more\n"
	    "are closed at once (default 256; 0: no cap)"),
	ROW_TIME("request-timeout", "T", REQ_TIMEOUT_MIN_MS, REQ_TIMEOUT_MAX_MS, "10s, 500ms",
	    "GIMME_REQUEST_TIMEOUT", limits.hl_req_timeout_ms,
	    "the whole request and response, from accept: 10s,\n"
	    "500ms (default 10s; 100ms to 600s)"),
	ROW_VALUE("rate-limit", "N/s", "GIMME_RATE_LIMIT", optval_parse_rate,
	    "requests per second per client address, answered\n"
	    "429 beyond (default off)"),
	ROW_TIME("shutdown-grace", "T", 0, SHUTDOWN_GRACE_MAX_MS, "3s, 500ms",
	    "GIMME_SHUTDOWN_GRACE", grace_ms,
	    "at SIGTERM/SIGINT, time the requests under way get to\n"
	    "finish: 3s, 500ms (default 3s; 0 stops at once)"),
	ROW_NUMBER("max-header-bytes", "N", HTTP_HEAD_MIN, HTTP_HEAD_MAX,
	    "GIMME_MAX_HEADER_BYTES", head_max,
	    "request line and headers, in bytes, answered 431\n"
	    "beyond (default and most 8192; at least 1024)"),
	ROW_NUMBER("max-headers", "N", HTTP_HEADERS_MIN, HTTP_HEADERS_MAX,
	    "GIMME_MAX_HEADERS", headers_max,
	    "header fields per request, answered 431 beyond\n"
	    "(default and most 64; at least 8)"),
	ROW_VALUE("health-listen", "ADDR:PORT", "GIMME_HEALTH_LISTEN", optval_parse_health,
	    "serve /healthz, /readyz and /metrics here (a port of\n"
	    "its own; default off)"),
	ROW_SWITCH("access-log", "GIMME_ACCESS_LOG", access_log,
	    "log one line per request (GIMME_ACCESS_LOG=1)"),
	ROW_WORD("log-format", "text|json", 0, "GIMME_LOG_FORMAT", log_json, words_log_format,
	    "log line format on stderr (default text)"),
	ROW_WORD("log-level", "debug|info|warn|error", 0, "GIMME_LOG_LEVEL", log_level,
	    words_log_level,
	    "least severe level logged (default info)"),
	ROW_WORD("magic-ip", "[=nat|alias]", 1, "GIMME_MAGIC_IP", magic.mc_mode, words_magic,
	    "answer on http://169.254.169.254/ as IMDS does, once\n"
	    "listening with credentials; removed at exit.  nat\n"
	    "(default): rules in the packet filter send the\n"
	    "host's and the pods' requests to the first loopback\n"
	    "listener; alias: the address goes on lo and the\n"
	    "server also listens on 169.254.169.254:80 (needs root\n"
	    "or CAP_NET_ADMIN; GIMME_MAGIC_IP=1|nat|alias)"),
	ROW_LIST("pod-interface", "NAME", "GIMME_POD_INTERFACE", magic.mc_npods, optval_parse_pod,
	    "where pods' requests come from: an interface, or a\n"
	    "prefix ending in * or + (veth*, cali+); repeatable\n"
	    "(GIMME_POD_INTERFACE: comma-separated).  Default\n"
	    "auto: those of cni0, cbr0, docker0, cali*, flannel*\n"
	    "that exist at start"),
	ROW_WORD("firewall", "nft|iptables|auto", 0, "GIMME_FIREWALL", magic.mc_fw,
	    words_firewall,
	    "the packet filter for --magic-ip (default auto:\n"
	    "nftables through libnftables, else the iptables command)"),
	ROW_SWITCH("ipv6", "GIMME_IPV6", magic.mc_ipv6,
	    "also answer on http://[fd00:ec2::254]/ (with nat: the\n"
	    "address goes on lo and a listener on it, at the same\n"
	    "port, is added, for this host and the pods)"),
	ROW_SWITCH("block-until-ready", "GIMME_BLOCK_UNTIL_READY", magic.mc_block,
	    "with --magic-ip: drop requests to 169.254.169.254\n"
	    "from start until the server is ready, so that they\n"
	    "wait instead of failing"),
	ROW_STRING("control", "PATH", "GIMME_CONTROL", control, optval_check_control,
	    "listen for `" PROGNAME " ctl` on this Unix socket\n"
	    "(spot interruptions, events, ASG state, tags, any\n"
	    "path, credential rotation); a stale socket file is\n"
	    "replaced, a live one refused; removed at exit"),
	ROW_VALUE("control-mode", "MODE", "GIMME_CONTROL_MODE", optval_parse_control_mode,
	    "its permissions, octal (default 0600)"),
	ROW_VALUE("control-owner", "USER[:GROUP]", "GIMME_CONTROL_OWNER", optval_parse_control_owner,
	    "its owner (names or numbers; needs the privilege)"),
	ROW_STRING("user", "NAME", "GIMME_USER", user, optval_check_user,
	    "started as root: the user to run as once the\n"
	    "listeners are bound (default nobody); its primary\n"
	    "group, no supplementary groups"),
	ROW_SWITCH("no-sandbox", "GIMME_NO_SANDBOX", no_sandbox,
	    "keep every privilege (no user switch, capability\n"
	    "drop, no_new_privs or seccomp filter): for\n"
	    "debugging (GIMME_NO_SANDBOX=1)"),
	{ "help", NULL, OPT_HELP, 0, 0, 0, NULL, NULL, 0, NULL, 0, NULL, NULL,
	    "print this help" },
};
const size_t opt_ndefs = sizeof(opt_defs) / sizeof(opt_defs[0]);

static const char help_head[] =
"usage: " PROGNAME " serve [options]\n"
"\n"
"Serve the EC2 instance metadata of a built-in default instance (a t3.micro in\n"
"us-east-1a), changed by --config, with the credentials of --source.\n"
"Every option can also be set with the environment variable named after it\n"
"(GIMME_LISTEN, GIMME_HOP_LIMIT, ...); flags win over the environment, and\n"
"both over the config file's \"options\".\n"
"\n"
"options:\n";

static const char help_tail[] =
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

void
opts_help_rows(FILE *out, int exec)
{
	char head[OPTS_HELP_COLUMN + 64];
	const char *p, *nl;
	size_t i;
	int n;

	for (i = 0; i < opt_ndefs; i++) {
		const struct opt_def *d = &opt_defs[i];
		if (exec && !opts_exec_takes(d))
			continue;
		if (d->od_kind == OPT_HELP)
			snprintf(head, sizeof(head), "-h, --%s", d->od_flag);
		else
			snprintf(head, sizeof(head), "--%s%s%s", d->od_flag,
			    d->od_arg != NULL && d->od_arg[0] != '[' ? " " : "",
			    d->od_arg != NULL ? d->od_arg : "");
		/* the text at its column, or on the next line when the flag reaches it */
		n = (int)strlen(head) + 4 > OPTS_HELP_COLUMN ? 0 : OPTS_HELP_COLUMN - 2;
		fprintf(out, "  %-*s", n, head);
		if (n == 0)
			fprintf(out, "\n%*s", OPTS_HELP_COLUMN, "");
		for (p = d->od_help; ; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL) {
				fprintf(out, "%s\n", p);
				break;
			}
			fprintf(out, "%.*s\n%*s", (int)(nl - p), p, OPTS_HELP_COLUMN, "");
		}
	}
}

void
opts_help(FILE *out)
{
	fputs(help_head, out);
	opts_help_rows(out, 0);
	fputs(help_tail, out);
}

static const char *usage_verb = "serve";	/* whose --help a usage message points to */

void
opts_usage_exit(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROGNAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s %s --help')\n", PROGNAME, usage_verb);
	exit(EXIT_USAGE);
}

const struct opt_def *
opts_find(const char *flag)
{
	size_t i;

	for (i = 0; i < opt_ndefs; i++)
		if (strcmp(opt_defs[i].od_flag, flag) == 0)
			return &opt_defs[i];
	return NULL;
}

/* The options exec takes: the credential options, and what they read. */
static const char *const exec_flags[] = {
	"config", "source", "profile", "role-name", "allow-long-term-keys", "assume-role",
	"external-id", "session-name", "duration", "sts-region", "sts-endpoint", "ca-bundle",
	"base-role-arn", "log-format", "log-level", "help"
};

int
opts_exec_takes(const struct opt_def *d)
{
	size_t i;

	for (i = 0; i < sizeof(exec_flags) / sizeof(exec_flags[0]); i++)
		if (strcmp(d->od_flag, exec_flags[i]) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* options that go together                                           */
/* ------------------------------------------------------------------ */

/*
 * --pod-roles' companions: each needs it (or --pod-identity, which follows
 * the node's pods too); --base-role-arn, --default-role and
 * --namespace-restrictions become the pods' options (pods_opts_set checks
 * the default role, completed by the base).  0 / -1 with err.
 */
static int
opts_pods(struct serve_options *o, char *err, size_t errlen)
{
	static const char *const needs[] = { "node-name", "kubeconfig", "default-role" };
	const char *base = o->base_role_arn, *def = o->default_role;
	const char *given[3] = { o->node_name, o->kubeconfig, o->default_role };
	int watch = o->pod_roles || o->pod_identity;
	size_t i;

	for (i = 0; !watch && i < 3; i++)
		if (given[i] != NULL) {
			snprintf(err, errlen, "--%s needs --pod-roles", needs[i]);
			return -1;
		}
	if (!watch && o->ns_restrict) {
		snprintf(err, errlen, "--namespace-restrictions needs --pod-roles");
		return -1;
	}
	/* the tags are EKS Pod Identity's: IMDS's per-pod roles and ECS have none */
	if (o->session_tags && !o->pod_identity) {
		snprintf(err, errlen, "--session-tags needs --pod-identity (only the EKS Pod "
		    "Identity endpoint's credentials carry session tags)");
		return -1;
	}
	if (o->cluster_name != NULL && !o->session_tags) {
		snprintf(err, errlen, "--cluster-name needs --session-tags (the cluster is "
		    "named only in the session tags)");
		return -1;
	}
	if (!watch)
		return 0;
	if (o->ecs) {
		/* its /creds and /role/NAME answer whoever asks: any pod would get any role */
		snprintf(err, errlen, "--ecs cannot be combined with --%s: the ECS endpoint "
		    "serves /creds (this identity) and /role/NAME to any caller, so a pod would "
		    "get the node's identity or any role", o->pod_roles ? "pod-roles" :
		    "pod-identity");
		return -1;
	}
	if (pods_opts_set(&o->pod_opts, base, base != NULL ? strlen(base) : 0, def,
	    def != NULL ? strlen(def) : 0, o->ns_restrict, err, errlen) == -1)
		return -1;
	return 0;
}

/* "a, b or c" of words not hidden */
static void
words_list(const struct opt_word *w, char *buf, size_t cap)
{
	size_t n = 0, i, k = 0;
	int len = 0;

	for (i = 0; w[i].ow_word != NULL; i++)
		n += !w[i].ow_hidden;
	buf[0] = '\0';
	for (i = 0; w[i].ow_word != NULL && len >= 0 && (size_t)len < cap; i++) {
		if (w[i].ow_hidden)
			continue;
		k++;
		len += snprintf(buf + len, cap - (size_t)len, "%s%s",
		    k == 1 ? "" : k == n ? " or " : ", ", w[i].ow_word);
	}
}

/* ------------------------------------------------------------------ */
/* one value                                                          */
/* ------------------------------------------------------------------ */

/* item() for each comma-separated value of val (the environment lists several). */
static int
opt_list(struct serve_options *o, const struct opt_def *d, const char *src, const char *val,
    char *err, size_t errlen)
{
	char one[OPT_ITEM_MAX], why[OPTS_ERR_MAX];
	const char *p, *comma;
	size_t len;

	for (p = val; ; p = comma + 1) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len >= sizeof(one)) {
			snprintf(err, errlen, "%s: '%.*s' is too long", src, (int)len, p);
			return -1;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		if (d->od_parse(o, one, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", src, why);
			return -1;
		}
		if (comma == NULL)
			break;
	}
	return 0;
}

/* One option from a flag (src "--name") or the environment (src "GIMME_X").  0 / -1 with err. */
static int
opt_apply(struct serve_options *o, const struct opt_def *d, const char *src, const char *val,
    char *err, size_t errlen)
{
	char why[OPTS_ERR_MAX];
	void *target = (char *)o + d->od_off;
	const struct imds_opt_def *io;
	unsigned long n;
	size_t i;
	int v;

	switch (d->od_kind) {
	case OPT_SWITCH:
		if (val == NULL || strcmp(val, "1") == 0 || strcmp(val, "true") == 0 ||
		    strcmp(val, "yes") == 0)
			*(int *)target = 1;
		else if (strcmp(val, "0") == 0 || strcmp(val, "false") == 0 ||
		    strcmp(val, "no") == 0)
			*(int *)target = 0;
		else {
			snprintf(err, errlen, "%s: expected 1 or 0, got '%s'", src, val);
			return -1;
		}
		return 0;
	case OPT_NUMBER:
		if (parse_uint_bounded(val, strlen(val), d->od_hi, &n) != 0 || n < d->od_lo) {
			snprintf(err, errlen, "%s: expected a number from %lu to %lu, got '%s'", src,
			    d->od_lo, d->od_hi, val);
			return -1;
		}
		*(unsigned long *)target = n;
		return 0;
	case OPT_TIME:
		/* a time: "10s", "500ms", or a bare number of seconds */
		if (parse_duration_bounded(val, strlen(val), DUR_MS | DUR_S, DUR_IN_MS, d->od_lo,
		    d->od_hi, &n) == -1) {
			char lo[32];
			if (d->od_lo == 0)
				snprintf(lo, sizeof(lo), "0");
			else
				snprintf(lo, sizeof(lo), "%lums", d->od_lo);
			snprintf(err, errlen, "%s: expected a time from %s to %lus (%s), got '%s'",
			    src, lo, d->od_hi / 1000, d->od_eg, val);
			return -1;
		}
		*(unsigned *)target = (unsigned)n;
		return 0;
	case OPT_WORD:
		for (i = 0; d->od_words[i].ow_word != NULL; i++)
			if (val == NULL ? d->od_optional : strcmp(val, d->od_words[i].ow_word) == 0)
				break;
		if (d->od_words[i].ow_word == NULL) {
			words_list(d->od_words, why, sizeof(why));
			snprintf(err, errlen, "%s: expected %s, got '%s'", src, why, val);
			return -1;
		}
		v = d->od_words[i].ow_value;
		memcpy(target, &v, sizeof(v));
		return 0;
	case OPT_STRING:
		if (d->od_check != NULL && d->od_check(val, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", src, why);
			return -1;
		}
		*(const char **)target = val;
		return 0;
	case OPT_LIST:
		return opt_list(o, d, src, val, err, errlen);
	case OPT_VALUE:
		if (d->od_parse(o, val, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", src, why);
			return -1;
		}
		return 0;
	case OPT_INSTANCE:
		io = &imds_opt_defs[d->od_imds];
		if (imds_option_parse(io, val, strlen(val), &o->opt, &o->opt_set) == 0)
			return 0;
		if (io->iod_words[0] != NULL)
			snprintf(err, errlen, "%s: expected %s or %s, got '%s'", src,
			    io->iod_words[0], io->iod_words[1], val);
		else
			snprintf(err, errlen, "%s: expected a number from %d to %d, got '%s'", src,
			    io->iod_min, io->iod_max, val);
		return -1;
	case OPT_HELP:
		o->help = 1;
		return 0;
	}
	snprintf(err, errlen, "can't happen: option kind %d", (int)d->od_kind);
	return -1;
}

/* ------------------------------------------------------------------ */
/* the whole command line                                             */
/* ------------------------------------------------------------------ */

/* What parsing starts from; the caller may have set magic (magic-ip up). */
static void
opts_defaults(struct serve_options *o)
{
	o->max_conn = CONN_MAX_DEFAULT;
	o->log_level = o->exec_verb ? LOG_LVL_WARN : LOG_LVL_INFO;	/* exec: COMMAND's output */
	o->control_mode = CONTROL_MODE_DEFAULT;
	o->control_uid = (uid_t)-1;
	o->control_gid = (gid_t)-1;
	o->limits.hl_per_client = CONN_PER_CLIENT_DEFAULT;
	o->limits.hl_req_timeout_ms = HTTP_REQ_TIMEOUT_MS;
	o->grace_ms = SHUTDOWN_GRACE_MS;
	o->pod_wait_ms = POD_WAIT_DEFAULT_MS;
	o->head_max = HTTP_HEAD_MAX;
	o->headers_max = HTTP_HEADERS_MAX;
}

int
opts_parse(struct serve_options *o, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[sizeof(opt_defs) / sizeof(opt_defs[0]) + 1];
	char flagged[sizeof(opt_defs) / sizeof(opt_defs[0])];	/* a list given as flags */
	char src[OPTS_SOURCE_MAX];
	const struct opt_def *d;
	const char *v;
	size_t i;
	int ch;

	opts_defaults(o);
	usage_verb = o->exec_verb ? "exec" : "serve";
	for (i = 0; i < opt_ndefs; i++) {
		if (opt_defs[i].od_env == NULL || (v = getenv(opt_defs[i].od_env)) == NULL ||
		    (o->exec_verb && !opts_exec_takes(&opt_defs[i])))
			continue;
		if (opt_apply(o, &opt_defs[i], opt_defs[i].od_env, v, err, errlen) == -1)
			return EXIT_USAGE;
	}
	for (i = 0; i < opt_ndefs; i++) {
		d = &opt_defs[i];
		longopts[i].name = d->od_flag;
		longopts[i].has_arg = d->od_optional ? optional_argument :
		    d->od_kind == OPT_SWITCH || d->od_kind == OPT_HELP ? no_argument :
		    required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = (int)i + 256;		/* beyond every short option */
	}
	memset(&longopts[opt_ndefs], 0, sizeof(longopts[0]));
	memset(flagged, 0, sizeof(flagged));
	opterr = 0;
	optind = 0;	/* a fresh start, also of a second parse in one process */
	/* exec: options up to the command (the first word that is not one, or after --) */
	while ((ch = getopt_long(argc, argv, o->exec_verb ? "+:h" : ":h", longopts,
	    NULL)) != -1) {
		if (ch == '?') {
			snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (ch == ':') {
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (ch == 'h')
			d = opts_find("help");
		else
			d = &opt_defs[ch - 256];
		i = (size_t)(d - opt_defs);
		if (o->exec_verb && !opts_exec_takes(d)) {
			snprintf(err, errlen, "exec does not take --%s", d->od_flag);
			return EXIT_USAGE;
		}
		if (d->od_kind == OPT_LIST && !flagged[i]) {
			/* flags replace the environment's list */
			memset((char *)o + d->od_off, 0, sizeof(size_t));
			flagged[i] = 1;
		}
		snprintf(src, sizeof(src), "--%s", d->od_flag);
		if (opt_apply(o, d, src, optarg, err, errlen) == -1)
			return EXIT_USAGE;
		if (o->help)
			return 0;
	}
	if (o->exec_verb) {
		o->exec_argi = optind;	/* the command; exec checks there is one */
		return 0;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	o->pods_from_flag = flagged[opts_find("pod-interface") - opt_defs];
	if (o->nlisten == 0) {
		if (listen_addr_parse("127.0.0.1:1338", &o->listen[0], err, errlen) == -1)
			fatalx(EXIT_BUG, "can't happen: %s", err);
		o->nlisten = 1;
	}
	if (opts_listeners(o, err, errlen) == -1 || opts_pods(o, err, errlen) == -1)
		return EXIT_USAGE;
	/* the health port is the node's, never one the metadata is served on */
	for (i = 0; o->health_set && o->health.la_port != 0 && i < o->nlisten; i++)
		if (o->listen[i].la_port == o->health.la_port) {
			snprintf(err, errlen, "--health-listen %s: port %u is a metadata listener's "
			    "(%s)", o->health.la_text, o->health.la_port, o->listen[i].la_text);
			return EXIT_USAGE;
		}
	return 0;
}
