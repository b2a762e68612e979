/*
 * gimme-aws-mini: the private header.
 *
 * This is the module map: every function used across files is declared here,
 * grouped under the file that defines it, together with the shared structs and
 * every tunable limit.  Everything else is static.  Section references
 * ("contract §N") point into shared/docs/imds-contract.md.
 */
#ifndef IMDS_H
#define IMDS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define PROGNAME		"gimme-aws-mini"
#ifndef GIMME_VERSION
#define GIMME_VERSION		"0.1.0"
#endif

/* ------------------------------------------------------------------ */
/* Limits.  Each is the one place its number is written.              */
/* ------------------------------------------------------------------ */

#define HTTP_METHOD_MAX		16	/* bytes in a request method */
#define HTTP_HEAD_MAX		8192	/* bytes: request line + header block + CRLFs */
#define HTTP_HEADERS_MAX	64	/* header fields per request */
#define HTTP_HEAD_MIN		1024	/* bytes: the smallest --max-header-bytes */
#define HTTP_HEADERS_MIN	8	/* the smallest --max-headers */
#define HTTP_BODY_MAX		1024	/* bytes of request body read and discarded (PUT etc.) */
#define HTTP_CLEN_DIGITS	10	/* digits accepted in Content-Length */
#define HTTP_REQ_TIMEOUT_MS	10000	/* one absolute deadline per request, ms from accept */
#define HTTP_LINGER_MS		2000	/* after our FIN, wait this long for the client's EOF */
#define HTTP_RESP_HEAD_MAX	512	/* bytes: a response status line + headers */

#define CONN_MAX_DEFAULT	1024	/* connections served at once */
#define LISTEN_MAX		8	/* --listen addresses */
#define LISTEN_BACKLOG		511	/* listen(2) backlog */
#define ACCEPT_PAUSE_MS		100	/* pause accepting after EMFILE/ENFILE */

#define TOKEN_TTL_MIN		1	/* seconds, contract §5.1 */
#define TOKEN_TTL_MAX		21600	/* seconds, contract §5.1 */
#define TOKEN_RAW_LEN		40	/* bytes before base64: version, expiry, MAC */
#define TOKEN_LEN		56	/* base64url characters, ends "==" */
#define TOKEN_KEY_LEN		32	/* bytes of per-process HMAC key */

#define HOP_LIMIT_MIN		1	/* contract §5.2 */
#define HOP_LIMIT_MAX		64

#define USER_DATA_MAX		16384	/* bytes, contract §10 / U33 */
#define CONFIG_FILE_MAX		(1024 * 1024)	/* bytes in a --config file */
#define MD_BODY_MAX		65535	/* bytes in any served body (aws-c-auth's limit) */
#define MD_NAME_MAX		255	/* bytes in one path segment of the tree */
#define MD_PATH_MAX		1024	/* bytes in a tree path */

#define CRED_AKID_MAX		128	/* bytes in an access key id */
#define CRED_SECRET_MAX		256	/* bytes in a secret access key */
#define CRED_TOKEN_MAX		8192	/* bytes in a session token */
#define CRED_LIFETIME_EXAMPLE	(6 * 3600)	/* s: example credentials last like EC2's */
#define CRED_ROLLING_LIFETIME	(6 * 3600)	/* s: served lifetime of keys with no expiry */
#define CRED_MIN_AHEAD		3600	/* s: served Expiration is at least this far ahead */
#define CRED_REFRESH_AHEAD	(30 * 60)	/* s: refresh expiring keys this long before */
#define CRED_REFRESH_JITTER	(5 * 60)	/* s: ... minus up to this much, spread */
#define CRED_REFRESH_MIN_GAP	60	/* s: never refresh a good credential more often */
#define CRED_BACKOFF_MIN	5	/* s: first retry after a failed refresh */
#define CRED_BACKOFF_MAX	300	/* s: retries back off up to this */
#define CRED_WATCH_DELAY_MS	100	/* ms: re-read a watched file this long after it changes */
#define ROLE_NAME_MAX		64	/* IAM role names: [A-Za-z0-9+=,.@_-]{1,64} */

#define AWSCONF_FILE_MAX	(1024 * 1024)	/* bytes in ~/.aws/config or credentials */
#define AWSCONF_PROFILE_MAX	128	/* bytes in a profile name */
#define AWSCONF_PATH_MAX	400	/* bytes in the path of config or credentials */
#define CREDPROC_TIMEOUT_MS	30000	/* ms a credential_process may run */
#define CREDPROC_OUT_MAX	65536	/* bytes of its stdout kept; more is an error */
#define CREDPROC_ERR_MAX	512	/* bytes of its stderr's first line reported */
#define CREDPROC_ARGS_MAX	256	/* words in its command line */
#define CREDPROC_REAP_POLL_MS	20	/* ms between waitpid polls where pidfd_open is missing */

#define STS_RESP_MAX		65536	/* bytes of an STS reply kept; more is an error */
#define STS_TIMEOUT_MS		10000	/* ms for a whole STS request */
#define STS_CONNECT_TIMEOUT_MS	3000	/* ms to connect to STS */
#define STS_DURATION_MIN	900	/* s: STS's shortest session */
#define STS_DURATION_MAX	43200	/* s: STS's longest (the role's maximum may be less) */
#define STS_DURATION_DEFAULT	3600	/* s */
#define STS_SESSION_NAME_MAX	64	/* RoleSessionName: [\w+=,.@-]{2,64} */
#define STS_ARN_MAX		2048	/* bytes in a role ARN */
#define STS_EXTERNAL_ID_MAX	1224	/* bytes in an ExternalId */
#define STS_CHAIN_MAX		8	/* roles in a profile's source_profile chain */
#define STS_CA_BUNDLE_MAX	(4 * 1024 * 1024)	/* bytes in a --ca-bundle file */

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

/* lifecycle.c and control.c: instance life cycle driven from the control socket (issue 8) */
#define LIFE_EVENTS_MAX		32	/* scheduled events kept; history keeps as many more */
#define LIFE_EVENT_DESC_MAX	255	/* bytes in an event's Description */
#define LIFE_EVENT_ID_LEN	32	/* "instance-event-" + 17 hex digits */
#define LIFE_ACTION_MAX		16	/* bytes in a spot action ("hibernate") */
#define LIFE_ASG_STATE_MAX	32	/* bytes in an ASG target-lifecycle-state */
#define LIFE_TAGS_MAX		50	/* tag edits kept (AWS: 50 tags per resource) */
#define LIFE_TAG_KEY_MAX	128	/* bytes in a tag key (AWS's limit) */
#define LIFE_TAG_VALUE_MAX	256	/* bytes in a tag value (AWS's limit) */
#define LIFE_OVERRIDES_MAX	32	/* ctl set/unset paths kept */
#define LIFE_VALUE_MAX		1024	/* bytes in a ctl set value */
#define LIFE_SPOT_NOTICE_S	120	/* s: AWS's two-minute spot warning (default --in) */
#define LIFE_WHEN_MAX		(10L * 366 * 86400)	/* s: farthest relative time accepted */
#define LIFE_TIMER_SLACK_MS	5	/* ms: a time-driven change is published this long after its second turns */
#define CONTROL_LINE_MAX	8192	/* bytes in one control request line, LF included */
#define CONTROL_REPLY_MAX	(JBUF_MAX + 64)	/* bytes in one reply line, LF included */
#define CONTROL_ARGS_MAX	16	/* words in one control request */
#define CONTROL_CLIENTS_MAX	8	/* control connections served at once */
#define CONTROL_TIMEOUT_MS	5000	/* ms a control client has to send its line and read the reply */
#define CONTROL_MODE_DEFAULT	0600	/* permissions of the control socket */

#define IMF_DATE_LEN		29	/* "Mon, 02 Jun 2025 09:20:28 GMT" */
#define ISO_DATE_LEN		20	/* "2025-06-02T09:20:28Z" */
#define ERRBUF_LEN		1024	/* bytes in an error message buffer */
#define OPT_ITEM_MAX		256	/* bytes in one item of a comma-separated option */

/*
 * Operations (issue #7): limits the serve flags change, the drain at stop,
 * the health listener.  HTTP_REQ_TIMEOUT_MS above is --request-timeout's
 * default; HTTP_HEAD_MAX and HTTP_HEADERS_MAX are the defaults and ceilings
 * of --max-header-bytes and --max-headers.
 */
#define CONN_PER_CLIENT_DEFAULT	256	/* connections at once from one client address (0: no cap) */
#define CONN_LIMIT_MAX		1000000	/* largest --max-connections, --max-connections-per-client */
#define REQ_TIMEOUT_MIN_MS	100	/* ms: smallest --request-timeout */
#define REQ_TIMEOUT_MAX_MS	600000	/* ms: largest --request-timeout */
#define RATE_LIMIT_MAX		100000	/* requests/s per client address: largest --rate-limit */
#define RATE_TRACK_MAX		4096	/* client addresses whose rate is remembered besides the connected */
#define SHUTDOWN_GRACE_MS	3000	/* ms: --shutdown-grace default, in-flight requests' time at stop */
#define SHUTDOWN_GRACE_MAX_MS	600000	/* ms: largest --shutdown-grace */
#define HEALTH_CONN_MAX		16	/* health-listener connections at once (a pool of their own) */
#define HEALTH_BODY_MAX		16384	/* bytes in one /healthz, /readyz or /metrics body */
#define HEALTH_REASONS_MAX	8	/* reasons /readyz lists */
#define HEALTH_REASON_LEN	512	/* bytes in one reason */

/* Exit codes (habit 13). */
#define EXIT_USAGE		64	/* bad flag or value */
#define EXIT_CONFIG		78	/* bad configuration file */
#define EXIT_SYSTEM		71	/* a system call failed */
#define EXIT_NOPERM		77	/* not allowed: privileges missing */
#define EXIT_BUG		70	/* can't happen */

/* ------------------------------------------------------------------ */
/* Shared structs.                                                     */
/* ------------------------------------------------------------------ */

/* A slice of untrusted bytes: never NUL-terminated. */
struct slice {
	const char	*p;
	size_t		 n;
};

/* Instance options, contract §5.4. */
struct imds_options {
	int		 o_endpoint_enabled;	/* http-endpoint: 1 enabled, 0 disabled */
	int		 o_tokens_required;	/* http-tokens: 1 required, 0 optional */
	int		 o_hop_limit;		/* http-put-response-hop-limit, 1..64 */
	int		 o_tags_enabled;	/* instance-metadata-tags */
};
/* bits of config.c_opt_set: which options the config file set */
#define OPT_SET_ENDPOINT	0x01
#define OPT_SET_TOKENS		0x02
#define OPT_SET_HOPLIMIT	0x04
#define OPT_SET_TAGS		0x08

/* A set of credentials as a provider hands them over (contract §8.6). */
struct cred {
	char		 c_akid[CRED_AKID_MAX + 1];
	char		 c_secret[CRED_SECRET_MAX + 1];
	char		 c_token[CRED_TOKEN_MAX + 1];	/* "" when none */
	time_t		 c_expiration;	/* true expiry, wall clock; 0 when the source has none */
	time_t		 c_last_updated;/* when they were obtained, wall clock */
};

/* ------------------------------------------------------------------ */
/* util.c: formatting helpers with fixed output sizes                  */
/* ------------------------------------------------------------------ */

/* IMF-fixdate (RFC 9110 §5.6.7) into buf[IMF_DATE_LEN + 1]; returns IMF_DATE_LEN. */
size_t		 fmt_imf_date(time_t t, char *buf);
/* "YYYY-MM-DDTHH:MM:SSZ" into buf[ISO_DATE_LEN + 1]; returns ISO_DATE_LEN. */
size_t		 fmt_iso8601(time_t t, char *buf);
/* Parse exactly "YYYY-MM-DDTHH:MM:SSZ" (also accepts a fraction and "+00:00"). 0 ok, -1 bad. */
int		 parse_iso8601(const char *s, size_t n, time_t *out);
/*
 * Base64 of in[0..n) into out (capacity cap, NUL-terminated).  urlsafe uses
 * '-' and '_'.  wrap > 0 inserts LF every wrap characters (never a trailing
 * LF).  Returns the length written, or 0 if cap is too small.
 */
size_t		 b64_encode(const unsigned char *in, size_t n, char *out, size_t cap,
		    int urlsafe, int wrap);
/* Decode base64url (with padding) of exactly n chars; returns bytes or -1. */
ssize_t		 b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);
/*
 * Bounded unsigned decimal: digits only, no sign, no spaces, value <= max.
 * Returns 0, or -1 not a number, -2 too big.
 */
int		 parse_uint_bounded(const char *s, size_t n, unsigned long max,
		    unsigned long *out);
/* s equals the C string lit, byte for byte. */
int		 slice_eq(struct slice s, const char *lit);
/* ASCII case-insensitive comparison of a slice with a C string. */
int		 slice_ieq(struct slice s, const char *lit);
/* Wipe n bytes at p (may be NULL), then free it: for anything that may hold a secret. */
void		 wipe_free(void *p, size_t n);
/*
 * Grow a buffer that may hold secrets: a new block of newcap bytes with the
 * first used bytes copied, the old one (oldcap bytes) wiped and freed.  Not
 * realloc, which would free an unwiped copy.  NULL (old untouched) on failure.
 */
void		*wipe_grow(void *old, size_t used, size_t oldcap, size_t newcap);
/* Text built in a caller's buffer: never past sb_cap, always NUL-terminated. */
struct sbuf {
	char		*sb_p;
	size_t		 sb_len;
	size_t		 sb_cap;
	int		 sb_full;	/* sticky: something did not fit (and was not added) */
};
/* Append printf-style; on overflow set sb_full and add nothing more. */
void		 sbuf_printf(struct sbuf *b, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * Read a whole file of at most max bytes; *out is malloc'd, NUL-terminated. 0 / -1 (errno).
 * When open fails with EACCES or EPERM and an opener is set, the opener is
 * asked for a descriptor (sandbox.c: the helper opens the files the daemon
 * must re-read after dropping its user); it returns an fd or -1 with errno.
 */
int		 read_file_capped(const char *path, size_t max, char **out, size_t *outlen);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t	 mono_ms(void);
void		 read_file_set_opener(int (*opener)(const char *path));

/* ------------------------------------------------------------------ */
/* log.c                                                               */
/* ------------------------------------------------------------------ */

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };
void		 log_init(int json, enum log_level min);
void		 log_msg(enum log_level lvl, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
/* One access-log line; imds is "v2" (valid token), "v1" (none) or "bad". */
void		 log_access(const char *client, struct slice method, struct slice path,
		    int status, size_t bytes, const char *imds);
/* fatal appends strerror(errno); fatalx does not.  Both exit(code). */
void		 fatal(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
void		 fatalx(int code, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3), noreturn));

/* ------------------------------------------------------------------ */
/* http_parse.c: the pure, incremental request parser (habits 5-7)     */
/* ------------------------------------------------------------------ */

struct http_header {
	struct slice	 h_name;	/* as sent; compare with slice_ieq */
	struct slice	 h_value;	/* leading/trailing OWS removed */
};

struct http_req {
	struct slice	 r_method;
	struct slice	 r_target;	/* request-target as sent */
	int		 r_minor;	/* HTTP/1.<minor> */
	struct http_header r_hdr[HTTP_HEADERS_MAX];
	size_t		 r_nhdr;
	size_t		 r_head_len;	/* bytes up to and including the blank line */
	size_t		 r_body_len;	/* Content-Length, 0 when absent */
};

/*
 * Parse one request from buf[0..len).  Pure: no I/O, no allocation; req
 * points into buf.  Returns:
 *   > 0  complete: bytes consumed (head + body)
 *     0  need more input (len < HTTP_HEAD_MAX + HTTP_BODY_MAX)
 *   < 0  minus the HTTP status to answer: -400 malformed, -413 body too large,
 *        -431 head too large or too many headers, -501 Transfer-Encoding,
 *        -505 unsupported HTTP version.
 * A body is refused (400) on GET and HEAD; on other methods it may be up to
 * HTTP_BODY_MAX bytes and is counted in the consumed length.
 */
ssize_t		 http_parse(const char *buf, size_t len, struct http_req *req);
/*
 * The head's limits from now on (--max-header-bytes, --max-headers): each
 * is clamped to [HTTP_HEAD_MIN, HTTP_HEAD_MAX] and [HTTP_HEADERS_MIN,
 * HTTP_HEADERS_MAX]; until called, they are the maxima.
 */
void		 http_parse_limits(size_t head_max, size_t headers_max);
/* First header named name (case-insensitive); NULL if absent.  *count gets how many. */
const struct http_header *http_header_find(const struct http_req *req, const char *name,
		    size_t *count);

/* ------------------------------------------------------------------ */
/* tree.c: the metadata tree (a builder, then immutable once final)    */
/* ------------------------------------------------------------------ */

struct md_node {
	char		*n_name;	/* one path segment, NUL-terminated */
	size_t		 n_namelen;
	int		 n_dir;		/* 1 directory (body = its listing), 0 leaf */
	int		 n_keep_empty;	/* leaf served even when empty (tag values, §8.5) */
	char		*n_body;	/* leaf value or listing; may hold any bytes */
	size_t		 n_bodylen;
	struct md_node	*n_kids;	/* children sorted by name, bytewise (ASCII order) */
	size_t		 n_nkids;
	size_t		 n_capkids;
};

/* A new empty directory to be used as a root; NULL on allocation failure. */
struct md_node	*tree_new(void);
void		 tree_free(struct md_node *root);
/*
 * Set a leaf at path ("a/b/c", no leading or trailing '/'), creating
 * directories; a directory or leaf already at path is replaced, and a leaf in
 * the way becomes a directory.  0 ok, -1 bad path or allocation failure.
 */
int		 tree_set(struct md_node *root, const char *path, const char *val, size_t len);
/* As tree_set, with n values joined by LF (no trailing LF). */
int		 tree_set_list(struct md_node *root, const char *path,
		    const char *const *vals, size_t n);
/* Make sure a directory exists at path.  0 / -1. */
int		 tree_mkdir(struct md_node *root, const char *path);
/* Mark a leaf as served even when empty.  0 / -1 (no such leaf). */
int		 tree_keep_empty(struct md_node *root, const char *path);
/* Remove whatever is at path; 0 removed, 1 nothing there. */
int		 tree_remove(struct md_node *root, const char *path);
/*
 * Finish the tree: drop empty leaves (unless kept) and empty directories,
 * then compute every listing (names joined by LF, directories suffixed '/',
 * ASCII order, no trailing LF).  0 / -1.
 */
int		 tree_finalize(struct md_node *root);
/* Look up "a/b/c" (segments separated by single '/'; len 0 is root). NULL if absent. */
const struct md_node *tree_lookup(const struct md_node *root, const char *path, size_t len);
/*
 * 1 when name[0..len) may be one path segment: 1..MD_NAME_MAX visible ASCII
 * bytes, no '/', '?' or '#', and not "." or "..".  Used by config.c too.
 */
int		 tree_name_ok(const char *name, size_t len);

/* ------------------------------------------------------------------ */
/* json.c: the IMDS pretty-printer (contract §2.7)                     */
/* ------------------------------------------------------------------ */

#define JBUF_MAX		MD_BODY_MAX	/* bytes in one emitted document */

struct jbuf {
	char		*j_p;		/* malloc'd, NUL-terminated */
	size_t		 j_len;
	size_t		 j_cap;
	int		 j_members;	/* members so far in the open object */
	int		 j_err;		/* sticky: allocation failure or over JBUF_MAX */
};

void		 jbuf_init(struct jbuf *j);
void		 jbuf_free(struct jbuf *j);
/* Hand the buffer over: returns j_p (caller frees) and resets j; NULL on error. */
char		*jbuf_take(struct jbuf *j, size_t *len);
/* "{\n" ... "\n}" with members "  \"key\" : value", separated ",\n". */
void		 json_begin(struct jbuf *j);
/* val NULL emits null */
void		 json_str(struct jbuf *j, const char *key, const char *val);
/* A null member.  Not json_null: jansson.h declares that name. */
void		 json_null_member(struct jbuf *j, const char *key);
/* inline array "[ \"a\", \"b\" ]"; n == 0 emits null */
void		 json_strarray(struct jbuf *j, const char *key, const char *const *vals, size_t n);
void		 json_end(struct jbuf *j);
/* Append a JSON string literal (quoted, escaped per §2.7 rule 5). */
void		 json_quote(struct jbuf *j, const char *s, size_t n);
/* Append s as it is (layout around documents, e.g. the events array "[ ", " ]"). */
void		 json_raw(struct jbuf *j, const char *s);

/* ------------------------------------------------------------------ */
/* config.c: the --config JSON file (jansson)                          */
/* ------------------------------------------------------------------ */

struct lifecycle;	/* lifecycle.c, below */

struct config {
	void		*c_root;	/* json_t *: the whole document, owned */
	void		*c_meta;	/* json_t *: "meta-data" object, borrowed, or NULL */
	void		*c_dynamic;	/* json_t *: "dynamic" object, borrowed, or NULL */
	int		 c_user_data_set;	/* 1 when user-data is given (file or flag) */
	char		*c_user_data;	/* malloc'd bytes, NULL when not set or null */
	size_t		 c_user_data_len;
	struct imds_options c_opt;	/* values of the options the file set */
	unsigned	 c_opt_set;	/* OPT_SET_* bits */
	void		*c_scenario;	/* json_t *: "scenario" object (validated), borrowed, or NULL */
};

/* An empty configuration (nothing set).  */
void		 config_init(struct config *cfg);
/* The daemon's start, which a "scenario"'s times count from (unset: now). */
void		 config_set_start(time_t start);
/*
 * Parse a config document.  name is used in messages ("FILE:LINE:COL: ...").
 * Validates the top-level keys, the options and the type of every tree
 * value (string, array of strings, object, null); user-data at most
 * USER_DATA_MAX bytes.  0 ok, -1 with a one-line message in err.
 */
int		 config_parse(const char *text, size_t len, const char *name,
		    struct config *cfg, char *err, size_t errlen);
/* config_parse of a file (at most CONFIG_FILE_MAX bytes). */
int		 config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void		 config_free(struct config *cfg);
/* Tag keys IMDS exposes (contract §8.5): letters, digits, + - = . , _ : @; not ".", "..", "_index". */
int		 config_tag_key_ok(const char *k);
/* A deep copy of src into dst (its JSON and user data).  0 / -1 (out of memory). */
int		 config_dup(const struct config *src, struct config *dst);
/*
 * Set (val non-NULL: a string leaf of len bytes) or remove (val NULL: null,
 * as in the file) one path "meta-data/..." or "dynamic/..." of cfg, with the
 * checks the file gets; a leaf in the way becomes a directory.  Either the
 * whole change is made or cfg is untouched.  0 / -1 with "PATH: message".
 */
int		 config_set_path(struct config *cfg, const char *path, const char *val,
		    size_t len, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* instance.c: the instance facts, derived data, and the snapshot      */
/* ------------------------------------------------------------------ */

#define FACT_MAX		128	/* bytes in one instance fact */

/* The facts of an instance from which the whole tree is derived (contract §7). */
struct instance {
	char		 i_account[FACT_MAX];
	char		 i_region[FACT_MAX];
	char		 i_az[FACT_MAX];
	char		 i_az_id[FACT_MAX];
	char		 i_partition[FACT_MAX];	/* aws, aws-cn, aws-us-gov */
	char		 i_domain[FACT_MAX];	/* amazonaws.com, amazonaws.com.cn */
	char		 i_instance_id[FACT_MAX];
	char		 i_instance_type[FACT_MAX];
	char		 i_ami_id[FACT_MAX];
	char		 i_ami_launch_index[FACT_MAX];
	char		 i_ami_manifest_path[FACT_MAX];
	char		 i_reservation_id[FACT_MAX];
	char		 i_local_ipv4[FACT_MAX];
	char		 i_local_hostname[FACT_MAX];
	char		 i_public_ipv4[FACT_MAX];	/* "" when none */
	char		 i_public_hostname[FACT_MAX];	/* "" when none */
	char		 i_mac[FACT_MAX];
	char		 i_eni_id[FACT_MAX];
	char		 i_subnet_id[FACT_MAX];
	char		 i_subnet_cidr[FACT_MAX];
	char		 i_vpc_id[FACT_MAX];
	char		 i_vpc_cidr[FACT_MAX];
	char		 i_sg_name[FACT_MAX];
	char		 i_sg_id[FACT_MAX];
	char		 i_role[FACT_MAX];		/* "" when no role is attached */
	char		 i_profile_id[FACT_MAX];	/* AIPA... */
	char		 i_arch[FACT_MAX];		/* x86_64 or arm64 */
	time_t		 i_pending_time;
};

/* A finished, immutable view of everything served; swapped whole. */
struct snapshot {
	struct md_node	*s_root;	/* per-version tree: meta-data/, dynamic/, user-data */
	struct imds_options s_opt;
	time_t		 s_last_modified;
	char		 s_lastmod_str[IMF_DATE_LEN + 1];
	char		 s_role[FACT_MAX];	/* role listed under iam/, "" when none */
	unsigned	 s_refs;	/* holders; freed at 0 */
};

/* What a snapshot is built from besides the facts and the config. */
struct snapshot_input {
	const struct instance	*si_inst;
	const struct config	*si_cfg;	/* tree overlay, user data */
	struct imds_options	 si_opt;	/* effective options (flags merged) */
	const struct cred	*si_role_cred;	/* NULL: see si_role_absent */
	int			 si_role_absent;/* with no cred: 404 (1) or the §8.6 error form (0) */
	const char		*si_role_error;	/* message for the error form */
	const struct cred	*si_ec2_cred;	/* identity-credentials/ec2 (§8.7) */
	time_t			 si_now;	/* wall clock: LastUpdated, Last-Modified */
	const struct lifecycle	*si_life;	/* spot, events, ASG, tag edits; NULL: none */
};

/* The default instance of contract §7 (pending time = now, arch from the host). */
void		 instance_default(struct instance *inst, time_t now);
/*
 * Apply the facts found in the config (instance-id, placement/..., local-ipv4,
 * public-ipv4, mac, ...) and re-derive what depends on them (region,
 * hostnames, partition, ...).  0 ok, -1 with a message (e.g. an AZ that is
 * not region + one letter).
 */
int		 instance_apply_config(struct instance *inst, const struct config *cfg,
		    char *err, size_t errlen);
/*
 * Build the snapshot: generate the tree from the facts, overlay the config
 * tree, sign the identity document (identity.c), finalize.  NULL with err.
 * The result has s_refs = 1.
 */
struct snapshot	*snapshot_build(const struct snapshot_input *in, char *err, size_t errlen);
void		 snapshot_ref(struct snapshot *s);
void		 snapshot_unref(struct snapshot *s);

/* ------------------------------------------------------------------ */
/* identity.c: instance identity signatures (contract §9.2, OpenSSL)   */
/* ------------------------------------------------------------------ */

struct identity_sigs {
	char		*is_signature;	/* base64, 76-col, no trailing LF; malloc'd */
	size_t		 is_signature_len;
	char		*is_pkcs7;
	size_t		 is_pkcs7_len;
	char		*is_rsa2048;
	size_t		 is_rsa2048_len;
};

/*
 * Load the keys from key_file (PEM private keys: an RSA key signs
 * `signature`, an RSA key of at least 2048 bits `rsa2048`, a DSA key
 * `pkcs7`), generating what is missing; when key_file names a file that
 * does not exist, generate all and write them there (mode 0600).  key_file
 * NULL: generate in memory.  cert_file non-NULL: write the matching
 * self-signed certificates there (PEM: signature's, pkcs7's, rsa2048's).
 * 0 ok, -1 with err.
 */
int		 identity_init(const char *key_file, const char *cert_file,
		    char *err, size_t errlen);
/* Sign doc exactly as served.  0 ok (free with identity_sigs_free), -1 with err. */
int		 identity_sign(const char *doc, size_t len, struct identity_sigs *out,
		    char *err, size_t errlen);
void		 identity_sigs_free(struct identity_sigs *s);
void		 identity_cleanup(void);

/* ------------------------------------------------------------------ */
/* token.c: stateless IMDSv2 tokens (contract §5)                      */
/* ------------------------------------------------------------------ */

/* Create the per-process key (getrandom).  0 / -1. */
int		 token_init(void);
/* Test hook: use a fixed key. */
void		 token_init_key(const unsigned char key[TOKEN_KEY_LEN]);
/* Why a token was not accepted (metrics). */
enum token_reject {
	TR_NONE,
	TR_MISSING,	/* http-tokens required, no token */
	TR_EXPIRED,	/* ours, but past its TTL */
	TR_INVALID,	/* malformed, or not minted by this process */
	TR_TTL_BAD,	/* token PUT: TTL header missing, repeated or out of range */
	TR_XFF,		/* X-Forwarded-For on a token PUT or with a token */
	TR_COUNT
};
/* Mint a token valid for ttl seconds from now (monotonic seconds); out gets TOKEN_LEN + NUL. */
void		 token_mint(uint64_t now, unsigned ttl, char out[TOKEN_LEN + 1]);
/*
 * Check a token: returns seconds left (> 0) when valid, 0 when it is
 * expired, malformed, or not issued by this process; then *why (unless
 * NULL) says which: TR_EXPIRED (ours, past its TTL) or TR_INVALID.  One
 * decode, no allocation.
 */
long		 token_check(uint64_t now, struct slice tok, enum token_reject *why);
void		 token_cleanup(void);

/* ------------------------------------------------------------------ */
/* routes.c: the IMDS rules, request to response (pure)                */
/* ------------------------------------------------------------------ */

/* Path classes, for the metrics (health.c). */
enum path_class {
	PC_TOKEN,	/* /latest/api/token */
	PC_CREDENTIALS,	/* iam/security-credentials/..., identity-credentials/... */
	PC_IDENTITY,	/* dynamic/instance-identity/... */
	PC_META_DATA,	/* the rest of meta-data/... */
	PC_USER_DATA,	/* user-data */
	PC_OTHER,	/* listings of the root and versions, dynamic/, unknown versions, methods */
	PC_ERROR,	/* requests that did not parse (400, 408, 413, 431, 501, 505) */
	PC_COUNT
};

/* Response header shapes (contract §2.3). */
enum resp_shape {
	RESP_META,	/* K1/K2: Content-Type, Accept-Ranges, Last-Modified, Content-Length, Date, Server, Connection */
	RESP_PLAIN	/* K4/K5: Content-Length, Date, Server, Connection, Content-Type */
};

struct response {
	int		 rs_status;
	enum resp_shape	 rs_shape;
	const char	*rs_ctype;
	const char	*rs_allow;	/* Allow header value, or NULL */
	long		 rs_ttl;	/* X-Aws-Ec2-Metadata-Token-Ttl-Seconds, -1 absent */
	int		 rs_hop_limit;	/* > 0: set IP TTL / hop limit before writing */
	int		 rs_head_only;	/* HEAD: no body on the wire */
	const char	*rs_body;	/* into the snapshot, static, or rs_tokbuf */
	size_t		 rs_bodylen;
	int		 rs_token_used;	/* request carried a valid token */
	char		 rs_tokbuf[TOKEN_LEN + 1];
	enum path_class	 rs_class;	/* for the metrics */
	enum token_reject rs_reject;	/* why a token or token request was refused */
};

/*
 * Decide the response to a parsed request.  now_wall is the wall clock,
 * now_mono monotonic seconds (tokens).  Bodies point into snap or static
 * storage; no allocation.
 */
void		 routes_handle(const struct http_req *req, const struct snapshot *snap,
		    uint64_t now_mono, struct response *rs);
/* A response to a parse failure (status 400/408/413/431/501/505). */
void		 routes_error(int status, struct response *rs);
/* Format the status line and headers into buf; returns bytes or 0 if cap is short. */
size_t		 response_head(const struct response *rs, const struct snapshot *snap,
		    const char *date, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* creds.c: credential providers behind one cache                      */
/* ------------------------------------------------------------------ */

/*
 * A provider's answer: ok 1 with c filled (the callee wipes it after the
 * call; copy what you keep), or ok 0 with a one-line message in err (never a
 * secret).  Providers may answer at once or later from the event loop.
 */
typedef void	(*cred_done_fn)(void *arg, int ok, const struct cred *c, const char *err);

struct cred_provider {
	const char	*cp_name;	/* "example", "env", "profile" */
	char		 cp_desc[ERRBUF_LEN];	/* for the log: "profile dev (/root/.aws/credentials)" */
	/* Start a fetch; done is called exactly once (possibly before return). */
	void		(*cp_fetch)(struct cred_provider *cp, time_t now, cred_done_fn done,
			    void *arg);
	void		(*cp_free)(struct cred_provider *cp);	/* may be NULL */
	void		*cp_ctx;
	struct cred_provider *cp_base;	/* a wrapped provider (STS), or NULL */
};

/* AWS's documented example credentials (contract §8.6). */
extern struct cred_provider cred_provider_example;
/* Placeholder identity-credentials/ec2 credentials, marked not valid upstream. */
void		 creds_ec2_placeholder(time_t now, struct cred *out);
/* Wipe a credential (explicit_bzero). */
void		 cred_wipe(struct cred *c);

/*
 * The refresh policy, pure so that tests drive it with their own clock.
 * rnd is a random 32-bit value (jitter).
 *   cred_refresh_at: when to fetch again after a success at now: expiring
 *     keys CRED_REFRESH_AHEAD (minus jitter) before they expire, keys with no
 *     expiry when their served Expiration gets within CRED_MIN_AHEAD; never
 *     sooner than CRED_REFRESH_MIN_GAP.
 *   cred_backoff: seconds to wait after the n-th consecutive failure (n >= 1).
 *   cred_served_expiration: the Expiration to serve: the real one, or for
 *     keys with none, fetched + CRED_ROLLING_LIFETIME.
 */
time_t		 cred_refresh_at(const struct cred *c, time_t fetched, time_t now, uint32_t rnd);
unsigned	 cred_backoff(unsigned n, uint32_t rnd);
time_t		 cred_served_expiration(const struct cred *c, time_t fetched);

/* The one credential cache: a request never waits on a provider. */
struct cred_cache {
	struct cred_provider *cc_prov;
	struct cred	 cc_cur;	/* last good, as served (Expiration filled in) */
	int		 cc_have;	/* cc_cur holds a credential that has not expired */
	time_t		 cc_fetched;	/* when cc_cur was obtained */
	time_t		 cc_next;	/* next fetch (wall clock) */
	unsigned	 cc_failures;	/* consecutive failed fetches */
	int		 cc_busy;	/* a fetch is under way */
	int		 cc_allow_long_term;	/* keys with no session token are served */
	int		 cc_fetched_once;	/* a fetch has ended, well or not (start-up waits on it) */
	char		 cc_error[ERRBUF_LEN];	/* why the last fetch failed */
	unsigned long	 cc_n_ok;	/* fetches that delivered credentials (metrics) */
	unsigned long	 cc_n_failed;	/* fetches that failed (metrics) */
	time_t		(*cc_clock)(void);	/* wall clock; tests set their own */
	/* called (from the loop) whenever what should be served changes */
	void		(*cc_changed)(void *arg);
	void		*cc_arg;
};

void		 cred_cache_init(struct cred_cache *cc, struct cred_provider *p,
		    void (*changed)(void *), void *arg);
/* Fetch now (the start, a file change).  Nothing happens if one is under way. */
void		 cred_cache_refresh(struct cred_cache *cc, time_t now);
/* Once a second: refresh when due, expire what has expired. */
void		 cred_cache_tick(struct cred_cache *cc, time_t now);
void		 cred_cache_free(struct cred_cache *cc);

/* Keys from AWS_ACCESS_KEY_ID etc.; 0, or -1 with err when they are incomplete or absent. */
int		 cred_provider_env(struct cred_provider **out, char *err, size_t errlen);
/*
 * A profile of the shared files (static keys, or credential_process).
 * Checks the profile exists and is usable now; the files are re-read at
 * each fetch, so edits take effect.  0 / -1 with err.
 */
int		 cred_provider_profile(const char *profile, struct cred_provider **out,
		    char *err, size_t errlen);
/* A profile provider's files (which 0: config, 1: credentials), through wrappers; NULL for others. */
const char	*cred_provider_file(const struct cred_provider *cp, int which);
/* A profile provider's profile name (through wrappers); NULL for other providers. */
const char	*cred_provider_profile_name(const struct cred_provider *cp);

/* ------------------------------------------------------------------ */
/* creds_sts.c: credentials through STS                                */
/* ------------------------------------------------------------------ */

struct aws_conf;	/* awsconf.c, below */

/* One AssumeRole of a chain. */
struct assume_step {
	char		 as_arn[STS_ARN_MAX];
	char		 as_session[STS_SESSION_NAME_MAX + 1];
	char		 as_external_id[STS_EXTERNAL_ID_MAX + 1];	/* "" = none */
	unsigned	 as_duration;	/* s; 0 = STS's default */
};

/*
 * Wrap base: with steps, assume each role in turn (the first with the base
 * credentials, each next with the previous role's); without steps, turn
 * long-term base keys into session credentials with GetSessionToken
 * (duration s), unless allow_long_term.  sts_init must have been called.
 * Takes base over (freed with the wrapper).  0 / -1 with err.
 */
int		 cred_provider_sts(struct cred_provider *base, const struct assume_step *steps,
		    size_t nsteps, unsigned duration, int allow_long_term,
		    struct cred_provider **out, char *err, size_t errlen);
/*
 * The role chain of a profile (role_arn, source_profile, external_id,
 * role_session_name, duration_seconds, as the AWS CLI reads them): steps in
 * the order they are assumed, and the profile that holds the keys in root.
 * A profile without role_arn gives 0 steps and root = profile.  Loops,
 * chains over STS_CHAIN_MAX and role_arn without source_profile: -1 with
 * err.  default_session names sessions that the profiles leave unnamed.
 */
int		 sts_profile_chain(const struct aws_conf *ac, const char *profile,
		    const char *default_session, struct assume_step *steps, size_t *nsteps,
		    char *root, size_t rootlen, char *err, size_t errlen);
/* The role name of an ARN (arn:aws:iam::123456789012:role/path/app -> app) and its account. 0 / -1. */
int		 sts_role_name(const char *arn, char *name, size_t namelen, char *account,
		    size_t acctlen);
/* A RoleSessionName: 2 to 64 of [A-Za-z0-9_+=,.@-]. */
int		 sts_session_name_ok(const char *s);
/* gimme-aws-mini-<hostname>, cut to STS's characters and length. */
void		 sts_default_session_name(char *out, size_t len);
/* "3600", "90s", "15m", "1h" -> seconds within STS_DURATION_MIN..MAX.  0 / -1. */
int		 sts_parse_duration(const char *s, unsigned *out);

/* ------------------------------------------------------------------ */
/* watch.c: notice edits of files (inotify)                            */
/* ------------------------------------------------------------------ */

#define WATCH_FILES_MAX		4	/* files one watch follows */

/*
 * Call cb(arg) from the loop, CRED_WATCH_DELAY_MS after any of paths is
 * written, created, replaced by a rename (as editors and `aws configure`
 * do) or removed.  Watches the parent directories, so files that do not
 * exist yet are noticed when they appear.  0 / -1 with err.
 */
int		 watch_files(const char *const *paths, size_t n, void (*cb)(void *), void *arg,
		    char *err, size_t errlen);
void		 watch_stop(void);

/* ------------------------------------------------------------------ */
/* awsconf.c: ~/.aws/config and ~/.aws/credentials                     */
/* ------------------------------------------------------------------ */

struct aws_kv {
	char		*kv_key;
	char		*kv_val;	/* wiped on free: may be a secret */
	const char	*kv_file;	/* the path it came from (borrowed from aws_conf) */
	unsigned	 kv_line;
};

struct aws_section {
	char		*as_profile;	/* profile name ("default", "dev") */
	struct aws_kv	*as_kv;
	size_t		 as_nkv;
	const char	*as_file;
	unsigned	 as_line;	/* line of the [header] */
};

struct aws_conf {
	char		*ac_config_path;	/* as resolved (may not exist) */
	char		*ac_creds_path;
	int		 ac_config_found;	/* the file existed and was read */
	int		 ac_creds_found;
	struct aws_section *ac_config;	/* profiles of the config file */
	size_t		 ac_nconfig;
	struct aws_section *ac_creds;	/* profiles of the credentials file */
	size_t		 ac_ncreds;
};

/*
 * The paths the AWS CLI uses: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE
 * (a leading "~/" expanded), else $HOME/.aws/config and .aws/credentials.
 * 0 / -1 with err (no HOME and no variable).
 */
int		 awsconf_paths(char *config, size_t clen, char *creds, size_t crlen,
		    char *err, size_t errlen);
/*
 * Read both files (a missing file is not an error: *_found says so).
 * Syntax errors, duplicated keys or sections -> -1 with "FILE:LINE: message".
 */
int		 awsconf_load(const char *config_path, const char *creds_path,
		    struct aws_conf *out, char *err, size_t errlen);
/* Parse one file's text (from a string, for tests).  is_config selects [profile x] naming. */
int		 awsconf_parse(const char *text, size_t len, const char *path, int is_config,
		    struct aws_section **out, size_t *nout, char *err, size_t errlen);
/* Whether either file has the profile. */
int		 awsconf_has_profile(const struct aws_conf *c, const char *profile);
/*
 * A profile's value for key with the AWS CLI's precedence (the credentials
 * file wins over the config file); NULL if unset.  *kv (may be NULL) gets
 * where it came from.
 */
const char	*awsconf_get(const struct aws_conf *c, const char *profile, const char *key,
		    const struct aws_kv **kv);
void		 awsconf_free(struct aws_conf *c);
void		 awsconf_sections_free(struct aws_section *s, size_t n);

/* ------------------------------------------------------------------ */
/* credproc.c: credential_process                                      */
/* ------------------------------------------------------------------ */

/*
 * Split a command line into words as the AWS CLI does (botocore's
 * shlex.split, POSIX mode: '...' literal; inside "..." only \" and \\ are
 * escapes; a backslash outside quotes escapes the next character; no
 * expansion of variables, globs or ~).  *argv is malloc'd and
 * NULL-terminated; free with credproc_argv_free.  0 / -1 with err.
 */
int		 credproc_split(const char *cmd, char ***argv, char *err, size_t errlen);
void		 credproc_argv_free(char **argv);
/*
 * Parse a credential_process's stdout: JSON with Version 1, AccessKeyId,
 * SecretAccessKey, and optional SessionToken and Expiration (ISO 8601).
 * 0 / -1 with err (never quoting the output: it may hold secrets).
 */
int		 credproc_parse(const char *out, size_t len, struct cred *c, char *err,
		    size_t errlen);
/*
 * Attributes for a child of the loop (attr: a posix_spawnattr_t *, set up
 * with posix_spawnattr_init): no blocked signal (the loop blocks some for
 * its signalfd), default dispositions, and with own_group its own process
 * group (killed whole).  0, or the error number.
 */
int		 spawn_attr_clean(void *attr, int own_group);
/*
 * Run cmd without a shell (credproc_split, execvp), stdin /dev/null, stdout
 * capped at CREDPROC_OUT_MAX, killed after timeout_ms; from the event loop.
 * done is called exactly once, from the loop (never before return), with
 * the parsed credential or an error naming the program, its exit status or
 * signal, and the first line of its stderr (never its stdout).  0 started,
 * -1 with err (then done is not called).
 */
int		 credproc_run(const char *cmd, unsigned timeout_ms, cred_done_fn done,
		    void *arg, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* sts.c, sts_xml.c: the STS client                                    */
/* ------------------------------------------------------------------ */

enum sts_action { STS_ASSUME_ROLE, STS_GET_SESSION_TOKEN };

/* Where and how STS is reached (one per process). */
struct sts_config {
	char		 sc_region[FACT_MAX];	/* signing region, e.g. us-east-1 */
	char		 sc_endpoint[MD_PATH_MAX];	/* URL; "" = https://sts.<region>.<domain>/ */
	char		 sc_ca_bundle[MD_PATH_MAX];	/* "" = the system store */
};

/* One call.  Strings are borrowed for the duration of sts_call only. */
struct sts_req {
	enum sts_action	 sr_action;
	const struct cred *sr_base;	/* signing credentials (token sent as X-Amz-Security-Token) */
	const char	*sr_role_arn;	/* AssumeRole */
	const char	*sr_session_name;	/* AssumeRole */
	const char	*sr_external_id;	/* AssumeRole; NULL or "" = none */
	unsigned	 sr_duration;	/* DurationSeconds; 0 = STS's default */
};

/* What came back: credentials, or STS's error. */
struct sts_result {
	int		 st_ok;		/* 1: st_cred holds credentials */
	struct cred	 st_cred;	/* c_expiration from STS's Expiration */
	char		 st_assumed_arn[STS_ARN_MAX];	/* AssumedRoleUser/Arn (AssumeRole) */
	char		 st_assumed_id[256];		/* AssumedRoleUser/AssumedRoleId */
	long		 st_http_status;
	char		 st_code[128];	/* <Error><Code>, e.g. AccessDenied, Throttling */
	char		 st_message[512];	/* <Error><Message> */
	char		 st_request_id[128];	/* <RequestId> */
};

/*
 * Parse an STS reply body (expat): the credentials of an
 * AssumeRoleResponse / GetSessionTokenResponse, or an ErrorResponse's
 * Code, Message and RequestId (r->st_ok 0).  A DOCTYPE, an unexpected
 * document, a missing field, sizes over their fields: -1 with err.  0 when
 * r holds either credentials or an STS error.  Messages never quote
 * secrets.
 */
int		 sts_xml_parse(const char *body, size_t len, enum sts_action action,
		    struct sts_result *r, char *err, size_t errlen);

/* The regional endpoint: https://sts.<region>.amazonaws.com/ (.amazonaws.com.cn in cn-*). 0 / -1. */
int		 sts_endpoint_for(const char *region, char *url, size_t len);
/* curl_global_init and a multi handle driven by the loop (loop_init first).  0 / -1 with err. */
int		 sts_init(const struct sts_config *cfg, char *err, size_t errlen);
/*
 * Send one request (POST, form body, signed with SigV4 by libcurl as
 * "aws:amz:<region>:sts"), from the loop.  done is called exactly once,
 * from the loop, never before return: with r (st_ok 1 credentials, st_ok 0
 * an STS error with code/message/request id) and err NULL, or r NULL and
 * err describing a transport failure (timeout, refused, TLS, bad reply).
 * 0 started, -1 with err (done not called).
 */
int		 sts_call(const struct sts_req *rq, void (*done)(void *arg,
		    const struct sts_result *r, const char *err), void *arg, char *err,
		    size_t errlen);
void		 sts_cleanup(void);

/* ------------------------------------------------------------------ */
/* server.c: the event loop, listeners, connections                    */
/* ------------------------------------------------------------------ */

/*
 * The loop's small interface for other modules: watch a descriptor, set a
 * timer.  Callers own the structs (embedded in their own state); nothing is
 * allocated.  Callbacks run from the loop, never re-entrantly.
 */
struct loop_watch {
	int		 lw_kind;	/* private */
	int		 lw_fd;
	void		(*lw_cb)(int fd, uint32_t events, void *arg);
	void		*lw_arg;
};
struct loop_timer {
	uint64_t	 lt_at_ms;	/* monotonic ms; private */
	int		 lt_armed;
	void		(*lt_cb)(void *arg);
	void		*lt_arg;
	struct loop_timer *lt_next;	/* private */
};

/* The epoll set and signals, without listeners (server_init calls it). 0 / -1. */
int		 loop_init(char *err, size_t errlen);
/* Watch fd for events (EPOLLIN, EPOLLOUT, ...).  0 / -1 (errno; w is left unwatched). */
int		 loop_watch_add(struct loop_watch *w, int fd, uint32_t events,
		    void (*cb)(int fd, uint32_t events, void *arg), void *arg);
void		 loop_watch_del(struct loop_watch *w);
/* Call cb(arg) delay_ms from now (re-arming moves it). */
void		 loop_timer_set(struct loop_timer *t, uint64_t delay_ms, void (*cb)(void *),
		    void *arg);
void		 loop_timer_cancel(struct loop_timer *t);
/* Monotonic milliseconds as of this loop iteration. */
uint64_t	 loop_now_ms(void);
/* Run until *done becomes non-zero, or SIGTERM/SIGINT (then 1). 0 / 1 / -1. */
int		 loop_run_until(const int *done);
/* Tear the loop down (after loop_init without server_init). */
void		 loop_cleanup(void);

struct listen_addr {
	char		 la_text[64];	/* as given: "127.0.0.1:1338", "[::1]:80" */
	int		 la_family;
	unsigned char	 la_addr[16];
	unsigned	 la_port;
	int		 la_freebind;	/* bind before the address exists (alias mode) */
};
/* Parse "ADDR:PORT" or "[IPv6]:PORT".  0 / -1 with err. */
int		 listen_addr_parse(const char *s, struct listen_addr *out, char *err, size_t errlen);
/*
 * Bind every listener, after loop_init (which set up signals: SIGTERM and
 * SIGINT stop the loop, SIGHUP calls the hup callback).  Logs "listening on
 * ADDR" per listener.  0 / -1 with err.
 */
int		 server_init(const struct listen_addr *la, size_t n, size_t conn_max,
		    int access_log, char *err, size_t errlen);
/* Serve s from now on; takes over the caller's reference, drops the old one. */
void		 server_set_snapshot(struct snapshot *s);
/* tick: called about once a second; hup: on SIGHUP.  Either may be NULL. */
void		 server_callbacks(void (*tick)(void), void (*hup)(void));
/* The port listener i (in server_init's order) is bound to: port 0 resolved. */
unsigned	 server_bound_port(size_t i);
/* Run until SIGTERM/SIGINT.  0, or -1 when the loop itself failed. */
/*
 * Run until SIGTERM/SIGINT, then drain: the listeners close at once (new
 * connections are refused), requests under way get up to the shutdown
 * grace to finish, the rest are closed.  0, or -1 when the loop failed.
 */
int		 server_run(void);
/* Close every connection and listener, drop the snapshot. */
void		 server_shutdown(void);

/* ------------------------------------------------------------------ */
/* magicip.c: 169.254.169.254 routed to the server                     */
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
/* netlink.c: rtnetlink requests                                       */
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

/* lifecycle.c: spot, rebalance, maintenance events, ASG, tag edits    */
/* ------------------------------------------------------------------ */

/*
 * The instance's life cycle as the control socket and the config's
 * "scenario" set it.  Pure: every function takes the wall clock `now`, so
 * tests drive it with their own; nothing here does I/O.  snapshot_build
 * renders it with life_emit.
 */
enum life_event_state { LIFE_EV_ACTIVE, LIFE_EV_COMPLETED, LIFE_EV_CANCELED };

struct life_event {
	char		 le_id[LIFE_EVENT_ID_LEN + 1];	/* instance-event-... */
	char		 le_code[32];	/* system-reboot, ... (contract §8.3) */
	char		 le_desc[LIFE_EVENT_DESC_MAX + 1];	/* without the history prefix */
	time_t		 le_not_before;
	time_t		 le_not_after;	/* 0: none (no NotAfter member, never completes by itself) */
	enum life_event_state le_state;
};

struct life_tag {
	char		 lt_key[LIFE_TAG_KEY_MAX + 1];
	char		 lt_value[LIFE_TAG_VALUE_MAX + 1];
	int		 lt_removed;	/* 1: `tag rm`, hides the config's tag of that key */
};

struct life_override {
	char		 lo_path[MD_PATH_MAX + 1];	/* "meta-data/..." or "dynamic/..." */
	char		*lo_value;	/* malloc'd; NULL: removed (unset) */
	size_t		 lo_len;
};

struct lifecycle {
	int		 l_spot_instance;	/* instance-life-cycle is spot */
	int		 l_spot_set;		/* an interruption notice is scheduled */
	char		 l_spot_action[LIFE_ACTION_MAX];	/* terminate, stop, hibernate */
	time_t		 l_spot_notice_at;	/* served from this time */
	time_t		 l_spot_time;		/* the action's time */
	int		 l_rebalance_set;
	time_t		 l_rebalance_at;	/* noticeTime, and served from then */
	struct life_event l_sched[LIFE_EVENTS_MAX];	/* scheduled, in the order added */
	size_t		 l_nsched;
	struct life_event l_hist[LIFE_EVENTS_MAX];	/* ended, oldest first */
	size_t		 l_nhist;
	unsigned long	 l_event_seq;	/* EventIds are numbered */
	char		 l_asg_state[LIFE_ASG_STATE_MAX + 1];	/* "" none */
	struct life_tag	 l_tags[LIFE_TAGS_MAX];	/* edits over the config's tags */
	size_t		 l_ntags;
	struct life_override l_ov[LIFE_OVERRIDES_MAX];	/* ctl set/unset, in order */
	size_t		 l_nov;
};

void		 life_init(struct lifecycle *l);
void		 life_free(struct lifecycle *l);
/*
 * A duration: digits with an optional unit s, m, h or d ("90", "90s", "2m",
 * "1h"), at most LIFE_WHEN_MAX s.  0 / -1.
 */
int		 life_parse_duration(const char *s, long *out);
/* A time: "+DURATION" from now, "now", or YYYY-MM-DDTHH:MM:SSZ.  0 / -1. */
int		 life_parse_when(const char *s, time_t now, time_t *out);
/* "21 Jan 2019 09:00:43 GMT" (contract §8.3) into buf (at least 32 bytes); returns its length. */
size_t		 life_fmt_event_time(time_t t, char *buf, size_t cap);
/*
 * Run one lifecycle verb (spot-interrupt, spot-cancel, rebalance, event,
 * asg-state, tag) given as words.  Everything is checked before anything
 * changes.  0 done (reply holds what to say), -1 refused (reply holds why),
 * 1 not a lifecycle verb (nothing touched).
 */
int		 life_command(struct lifecycle *l, const char *const *argv, size_t argc,
		    time_t now, char *reply, size_t cap);
/* Record an override (val NULL: a removal); replaces one of the same path.  0 / -1 with err. */
int		 life_override_set(struct lifecycle *l, const char *path, const char *val,
		    size_t len, char *err, size_t errlen);
/*
 * Apply the config's "scenario" (a json_t *) relative to start.  Also the
 * scenario's only check: config.c calls it on a scratch lifecycle.  0 / -1
 * with "scenario/...: message".
 */
int		 life_scenario(struct lifecycle *l, const void *scenario, time_t start,
		    char *err, size_t errlen);
/* Events whose NotAfter has passed become completed, in history.  Returns how many moved. */
size_t		 life_advance(struct lifecycle *l, time_t now);
/* The next time after now at which what is served changes; 0 when nothing is due. */
time_t		 life_next_change(const struct lifecycle *l, time_t now);
/*
 * Render what is served at now: set(arg, path, value, len) for
 * meta-data/instance-life-cycle (spot only), spot/instance-action and
 * spot/termination-time, events/recommendations/rebalance,
 * events/maintenance/{scheduled,history}, autoscaling/target-lifecycle-state.
 * Stops at the first set that fails.  0 / -1.
 */
int		 life_emit(const struct lifecycle *l, time_t now,
		    int (*set)(void *arg, const char *path, const char *val, size_t len),
		    void *arg);
/* The whole state as one line of compact JSON (malloc'd); NULL on failure. */
char		*life_state_json(const struct lifecycle *l, time_t now);

/* ------------------------------------------------------------------ */
/* control.c: the control socket (a Unix stream socket, never TCP)     */
/* ------------------------------------------------------------------ */

/*
 * The request handler: words of one request in, one reply line out (without
 * its LF): "ok[ text]" or "error message".  Called from the loop.
 */
typedef void	(*control_fn)(const char *const *argv, size_t argc, char *reply, size_t cap);

struct sockaddr_un;
/* The socket address of a control socket path (1 to sun_path-1 bytes).  0 / -1 with err. */
int		 control_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen);
/*
 * Remove the socket file at path if nobody listens there (a daemon that
 * stopped left it).  1 removed, 0 nothing there, -1 with err: a daemon
 * answers there, or it is not a socket.
 */
int		 control_remove_stale(const char *path, char *err, size_t errlen);
/*
 * Listen on path (a stale socket left by a dead daemon is replaced; a live
 * one, or any other file, is refused), mode and owner applied before
 * anyone can connect (uid/gid (uid_t)-1 / (gid_t)-1: unchanged).  Requests
 * go to fn.  After loop_init.  0 / -1 with err.
 */
int		 control_open(const char *path, unsigned mode, uid_t uid, gid_t gid,
		    control_fn fn, char *err, size_t errlen);
/* Close every control connection and the listener, and remove the socket file. */
void		 control_close(void);
/*
 * Parse one request line (without its LF): a JSON array of 1 to
 * CONTROL_ARGS_MAX strings, none holding a NUL.  *argv is one malloc'd
 * block (pointers, then the words; NULL-terminated): free(*argv).  0 / -1
 * with err.
 */
int		 control_parse_request(const char *line, size_t len, char ***argv, size_t *argc,
		    char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* ctl.c: the `ctl` command, a client of the control socket            */
/* ------------------------------------------------------------------ */

/* gimme-aws-mini ctl [--control PATH] VERB [ARGS...]; returns the exit status. */
int		 ctl_main(int argc, char **argv);
/* The limits of the ops flags; call before server_init. */
struct server_limits {
	unsigned long	 sl_per_client;	/* connections per client address; 0: no cap */
	unsigned	 sl_req_timeout_ms;	/* the absolute deadline of a request */
	unsigned	 sl_rate;	/* requests/s per client address (429 beyond); 0: off */
	unsigned	 sl_grace_ms;	/* drain time at SIGTERM/SIGINT */
};
void		 server_limits(const struct server_limits *sl);
/*
 * Open the health listener (GET /healthz, /readyz, /metrics; health.c) on
 * the loop, after loop_init; it serves from then on, during start-up too.
 * Logs "health endpoint on http://ADDR:PORT/".  0 / -1 with err.
 */
int		 server_health_init(const struct listen_addr *la, char *err, size_t errlen);
/* Connections of the metadata listeners open now (a gauge). */
size_t		 server_conns_open(void);

/* ------------------------------------------------------------------ */
/* health.c: /healthz, /readyz and /metrics (Prometheus text 0.0.4)    */
/* ------------------------------------------------------------------ */

/* The limits whose hits are counted (gimme_limit_hits_total{limit=...}). */
enum limit_kind {
	LIM_MAX_CONN,		/* --max-connections: accepting paused, pool full */
	LIM_PER_CLIENT,		/* --max-connections-per-client: a connection closed at once */
	LIM_RATE,		/* --rate-limit: answered 429 */
	LIM_REQ_TIMEOUT,	/* --request-timeout: 408 or closed */
	LIM_HEAD,		/* HTTP_HEAD_MAX / HTTP_HEADERS_MAX: 431 */
	LIM_BODY,		/* HTTP_BODY_MAX: 413 */
	LIM_FDS,		/* out of descriptors (EMFILE...): accepting paused */
	LIM_HEALTH_CONN,	/* HEALTH_CONN_MAX: a health connection closed at once */
	LIM_COUNT
};

/* Counters of the metadata server, kept by server.c. */
#define METRIC_STATUSES		13	/* statuses counted apart, "other" included (health.c) */
struct metrics {
	uint64_t	 m_requests[PC_COUNT][METRIC_STATUSES];	/* by class and status (health.c's table) */
	uint64_t	 m_tokens_issued;
	uint64_t	 m_token_rejects[TR_COUNT];
	uint64_t	 m_limit_hits[LIM_COUNT];
};
extern struct metrics metrics;

/* Reasons /readyz lists; filled by the readiness callback. */
struct health_reasons {
	size_t		 hr_n;
	char		 hr_text[HEALTH_REASONS_MAX][HEALTH_REASON_LEN];
};
/* What the credential cache reports to /metrics. */
struct health_creds {
	unsigned long	 hc_refreshes;	/* fetches that delivered */
	unsigned long	 hc_failures;	/* fetches that failed */
	int		 hc_have;	/* credentials are served */
	long		 hc_expires_in;	/* s until the served credentials expire */
};
/* Add one reason (printf-style; cut at HEALTH_REASON_LEN, at most HEALTH_REASONS_MAX). */
void		 health_reason_add(struct health_reasons *r, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/*
 * main.c's view of readiness (add a reason for each thing not ready; none
 * means ready) and of the credentials.  Either may be NULL.
 */
void		 health_callbacks(void (*ready)(struct health_reasons *r),
		    void (*creds)(struct health_creds *hc));
/* Count one answered metadata request. */
void		 metrics_request(enum path_class pc, int status);
/*
 * Answer a request to the health listener (status 0: req parsed; else the
 * parse error).  The body goes to buf[0..cap) and rs points at it.
 */
void		 health_handle(const struct http_req *req, int status, struct response *rs,
		    char *buf, size_t cap);

/* sandbox.c: least privilege (habit 12)                               */
/* ------------------------------------------------------------------ */

#define SANDBOX_USER_DEFAULT	"nobody"	/* --user when started as root */
#define SANDBOX_PATHS_MAX	6	/* files the helper opens (or removes) for the daemon */
#define SANDBOX_PATH_AWS_CONFIG	0	/* slots of sandbox_cfg.sb_paths */
#define SANDBOX_PATH_AWS_CREDS	1
#define SANDBOX_PATH_CONFIG	2
#define SANDBOX_PATH_USER_DATA	3
#define SANDBOX_PATH_CA_BUNDLE	4	/* --ca-bundle, read at every STS call */
#define SANDBOX_PATH_CONTROL	5	/* --control: removed by the helper once the daemon exits */
#define SANDBOX_JOBS_MAX	4	/* credential_process runs in flight through the helper */
#define SANDBOX_READY_TIMEOUT_MS 10000	/* ms for the helper to start */
#define SANDBOX_OPEN_TIMEOUT_MS	5000	/* ms for the helper to open a file */
#define SANDBOX_JOB_GRACE_MS	5000	/* ms past a run's own timeout before the daemon gives up */
#define SANDBOX_EXIT_WAIT_MS	500	/* ms the daemon waits at exit for the helper to end */
#define SANDBOX_EXIT_POLL_MS	10	/* ... looking this often */
#define SANDBOX_OPEN_FD		3	/* the helper's end of the open channel */
#define SANDBOX_RUN_FD		4	/* the helper's end of the run channel */

struct sandbox_cfg {
	int		 sb_disabled;	/* --no-sandbox: none of it */
	const char	*sb_user;	/* --user; NULL: SANDBOX_USER_DEFAULT */
	int		 sb_user_set;	/* --user or GIMME_USER given */
	int		 sb_keep_net_admin;	/* packet-filter rules are installed: keep CAP_NET_ADMIN */
	int		 sb_exec_net_admin;	/* ... and programs exec'd (iptables) need it too:
						   ambient, and no seccomp filter */
	int		 sb_log_json;	/* the helper logs like the daemon */
	int		 sb_log_level;	/* enum log_level */
	/* files re-read after the drop (SANDBOX_PATH_*), NULL when unused */
	const char	*sb_paths[SANDBOX_PATHS_MAX];
	/* the profile whose credential_process the helper runs; NULL: none */
	const char	*sb_profile;
};

/*
 * Check the configuration before anything starts: the --user exists (as
 * root).  0, or -1 with err (a usage error).
 */
int		 sandbox_prepare(const struct sandbox_cfg *sc, char *err, size_t errlen);
/*
 * Drop privileges for good, after the listeners are bound, the first
 * credential is in and packet-filter rules are installed.  In order: start
 * the helper when one is needed (a profile source, or files the new user may
 * not read), switch to sb_user with no supplementary groups (as root),
 * keep only CAP_NET_ADMIN (sb_keep_net_admin) or no capability, set
 * no_new_privs, load the seccomp allow-list.  Logs one "sandbox: ..." line.
 * Nothing when sb_disabled.  0, or -1 with err (then the caller exits 71).
 */
int		 sandbox_enter(const struct sandbox_cfg *sc, char *err, size_t errlen);
/* Whether the helper runs credential_process for this process. */
int		 sandbox_helper_active(void);
/*
 * credproc_run's contract, through the helper: it runs the credential_process
 * of sb_profile as read from the files now.  done is called exactly once,
 * from the loop.  0 started, -1 with err.
 */
int		 sandbox_credproc_run(unsigned timeout_ms, cred_done_fn done, void *arg,
		    char *err, size_t errlen);
/* Close the channels (the helper exits when it sees them close). */
void		 sandbox_cleanup(void);
/*
 * `gimme-aws-mini sandbox-helper ...`: the helper's main (started by
 * sandbox_enter); trim (may be NULL) is called once, before it idles.
 */
int		 sandbox_helper_main(int argc, char **argv, void (*trim)(void));

#endif /* IMDS_H */
