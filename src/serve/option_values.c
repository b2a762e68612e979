/*
 * option_values.c: the values serve's options take, as the option table
 * (options.c) names them: a checker per kind of string (0, or -1 with the
 * message), a parser where a value sets more than one field.  Each message
 * says what was expected and quotes what was given.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "serve/serve.h"

int
optval_check_source(const char *val, char *err, size_t errlen)
{
	if (strcmp(val, "auto") != 0 && strcmp(val, "example") != 0 &&
	    strcmp(val, "env") != 0 && strcmp(val, "profile") != 0) {
		snprintf(err, errlen, "expected auto, example, env or profile, got '%s'", val);
		return -1;
	}
	return 0;
}

int
optval_check_profile(const char *val, char *err, size_t errlen)
{
	if (*val == '\0' || strlen(val) > AWSCONF_PROFILE_MAX) {
		snprintf(err, errlen, "expected a profile name of 1 to %d bytes",
		    AWSCONF_PROFILE_MAX);
		return -1;
	}
	return 0;
}

int
optval_check_role_name(const char *val, char *err, size_t errlen)
{
	if (!creds_role_name_ok(val)) {
		snprintf(err, errlen, "'%s' is not a role name (1 to %d of A-Z a-z 0-9 + = , . @ _ -)",
		    val, ROLE_NAME_MAX);
		return -1;
	}
	return 0;
}

int
optval_check_role_arn(const char *val, char *err, size_t errlen)
{
	char name[ROLE_NAME_MAX + 1], acct[16];

	if (strlen(val) >= STS_ARN_MAX ||
	    sts_role_name(val, name, sizeof(name), acct, sizeof(acct)) == -1) {
		snprintf(err, errlen, "'%s' is not a role ARN (arn:aws:iam::123456789012:role/NAME)",
		    val);
		return -1;
	}
	return 0;
}

/* An ARN prefix a role name completes: arn:PARTITION:iam::ACCOUNT:role/[PATH/]. */
int
optval_check_base_arn(const char *val, char *err, size_t errlen)
{
	char arn[STS_ARN_MAX], name[ROLE_NAME_MAX + 1], acct[16];
	size_t n = strlen(val);

	if (n == 0 || n + ROLE_NAME_MAX > ROLE_KEY_MAX || val[n - 1] != '/' ||
	    snprintf(arn, sizeof(arn), "%sx", val) < 0 ||
	    sts_role_name(arn, name, sizeof(name), acct, sizeof(acct)) == -1) {
		snprintf(err, errlen, "'%s' is not a role ARN prefix of at most %d bytes "
		    "(arn:aws:iam::123456789012:role/)", val, ROLE_KEY_MAX - ROLE_NAME_MAX);
		return -1;
	}
	return 0;
}

/* A node's name: a DNS-1123 subdomain, as Kubernetes names nodes. */
int
optval_check_node_name(const char *val, char *err, size_t errlen)
{
	if (!pods_sa_name_ok(val, strlen(val))) {
		snprintf(err, errlen, "'%s' is not a node name (a DNS-1123 subdomain of at most "
		    "253 bytes: a-z, 0-9, '-', '.')", val);
		return -1;
	}
	return 0;
}

/* An EKS cluster name: 1 to 100 of [0-9A-Za-z][A-Za-z0-9_-]*. */
int
optval_check_cluster_name(const char *val, char *err, size_t errlen)
{
	if (!pods_cluster_name_ok(val, strlen(val))) {
		snprintf(err, errlen, "'%s' is not an EKS cluster name (1 to %d of A-Z a-z 0-9 "
		    "- _, starting with a letter or digit)", val, POD_CLUSTER_NAME_MAX);
		return -1;
	}
	return 0;
}

int
optval_check_external_id(const char *val, char *err, size_t errlen)
{
	if (*val == '\0' || strlen(val) > STS_EXTERNAL_ID_MAX) {
		snprintf(err, errlen, "expected 1 to %d bytes", STS_EXTERNAL_ID_MAX);
		return -1;
	}
	return 0;
}

int
optval_check_session_name(const char *val, char *err, size_t errlen)
{
	if (!sts_session_name_ok(val)) {
		snprintf(err, errlen, "'%s' is not a session name (2 to %d of A-Z a-z 0-9 _ + = "
		    ", . @ -)", val, STS_SESSION_NAME_MAX);
		return -1;
	}
	return 0;
}

int
optval_check_sts_region(const char *val, char *err, size_t errlen)
{
	char url[MD_PATH_MAX];

	if (sts_endpoint_for(val, url, sizeof(url)) == -1) {
		snprintf(err, errlen, "'%s' is not a region", val);
		return -1;
	}
	return 0;
}

int
optval_check_sts_endpoint(const char *val, char *err, size_t errlen)
{
	if ((strncmp(val, "https://", 8) != 0 && strncmp(val, "http://", 7) != 0) ||
	    strlen(val) >= MD_PATH_MAX) {
		snprintf(err, errlen, "expected an https:// URL, got '%s'", val);
		return -1;
	}
	return 0;
}

int
optval_check_readable(const char *val, char *err, size_t errlen)
{
	if (access(val, R_OK) == -1) {
		snprintf(err, errlen, "%s: %s", val, strerror(errno));
		return -1;
	}
	return 0;
}

int
optval_check_control(const char *val, char *err, size_t errlen)
{
	struct sockaddr_un sa;

	return control_addr(val, &sa, err, errlen);
}

int
optval_check_user(const char *val, char *err, size_t errlen)
{
	if (*val == '\0') {
		snprintf(err, errlen, "expected a user name");
		return -1;
	}
	return 0;
}

/* One more address into list (*n of LISTEN_MAX).  0 / -1 with err. */
static int
listen_one(struct listen_addr *list, size_t *n, const char *one, char *err, size_t errlen)
{
	if (*n == LISTEN_MAX) {
		snprintf(err, errlen, "at most %d listen addresses", LISTEN_MAX);
		return -1;
	}
	if (listen_addr_parse(one, &list[*n], err, errlen) == -1)
		return -1;
	(*n)++;
	return 0;
}

/* One --listen address. */
int
optval_parse_listen(struct serve_options *o, const char *one, char *err, size_t errlen)
{
	return listen_one(o->listen, &o->nlisten, one, err, errlen);
}

int
optval_parse_ecs_listen(struct serve_options *o, const char *one, char *err, size_t errlen)
{
	return listen_one(o->ecs_listen, &o->necs_listen, one, err, errlen);
}

int
optval_parse_pi_listen(struct serve_options *o, const char *one, char *err, size_t errlen)
{
	return listen_one(o->pi_listen, &o->npi_listen, one, err, errlen);
}

/* One --pod-interface pattern. */
int
optval_parse_pod(struct serve_options *o, const char *one, char *err, size_t errlen)
{
	struct magic_conf *mc = &o->magic;

	if (mc->mc_npods == MAGIC_PODS_MAX) {
		snprintf(err, errlen, "at most %d pod interfaces", MAGIC_PODS_MAX);
		return -1;
	}
	if (magicip_pod_pattern(one, mc->mc_pods[mc->mc_npods], sizeof(mc->mc_pods[0]), err,
	    errlen) == -1)
		return -1;
	mc->mc_npods++;
	return 0;
}

int
optval_parse_duration(struct serve_options *o, const char *val, char *err, size_t errlen)
{
	if (sts_parse_duration(val, &o->duration) == -1) {
		snprintf(err, errlen, "expected a duration from 900 s to 12 h (3600, 90m, 1h), "
		    "got '%s'", val);
		return -1;
	}
	return 0;
}

/* N or N/s */
int
optval_parse_rate(struct serve_options *o, const char *val, char *err, size_t errlen)
{
	size_t len = strlen(val);
	unsigned long n;

	if (len > 2 && strcmp(val + len - 2, "/s") == 0)
		len -= 2;
	if (parse_uint_bounded(val, len, RATE_LIMIT_MAX, &n) != 0) {
		snprintf(err, errlen, "expected requests per second from 0 (off) to %d, as N/s, "
		    "got '%s'", RATE_LIMIT_MAX, val);
		return -1;
	}
	o->limits.hl_rate = (unsigned)n;
	return 0;
}

int
optval_parse_health(struct serve_options *o, const char *val, char *err, size_t errlen)
{
	if (listen_addr_parse(val, &o->health, err, errlen) == -1)
		return -1;
	o->health_set = 1;
	return 0;
}

/* An octal mode of 1 to 4 digits, at most 0777, with the owner's read and write. */
int
optval_parse_control_mode(struct serve_options *o, const char *val, char *err, size_t errlen)
{
	unsigned v = 0;
	size_t i, n = strlen(val);

	for (i = 0; i < n && n <= 4; i++) {
		if (val[i] < '0' || val[i] > '7')
			break;
		v = v * 8 + (unsigned)(val[i] - '0');
	}
	if (n == 0 || n > 4 || i < n || v > 0777 || (v & 0600) != 0600) {
		snprintf(err, errlen, "expected an octal mode from 0600 to 0777 that lets the "
		    "owner read and write (0600, 0660), got '%s'", val);
		return -1;
	}
	o->control_mode = v;
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
int
optval_parse_control_owner(struct serve_options *o, const char *val, char *err, size_t errlen)
{
	char user[256];
	const char *colon = strchr(val, ':');
	size_t n = colon != NULL ? (size_t)(colon - val) : strlen(val);
	unsigned long u, g = 0;

	if (n >= sizeof(user))
		goto bad;
	memcpy(user, val, n);
	user[n] = '\0';
	if (parse_id(user, 0, &u) == -1 || (colon != NULL && parse_id(colon + 1, 1, &g) == -1))
		goto bad;
	o->control_uid = (uid_t)u;
	if (colon != NULL)
		o->control_gid = (gid_t)g;
	return 0;
bad:
	snprintf(err, errlen, "expected USER or USER:GROUP (names or numbers), got '%s'", val);
	return -1;
}
