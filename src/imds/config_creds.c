/*
 * config_creds.c: the --config file's sections for the credential
 * endpoints beyond the node's own (config.c reads the file and calls these):
 *
 *	"pod-identity-associations": [{"namespace", "service-account",
 *		"role-arn", "disable-session-tags"}, ...]	pods.h's rules
 *	"role-map": {"FROM-ARN": "TO-ARN", ...}		pods.h's rules
 *	"ecs-credentials": {"ID": "node" | "ROLE-ARN", ...}	container/ecs.c
 *
 * Checked as the rest of the file is: one line naming the place (cfg_err).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "imds/imds.h"
#include "imds/internal.h"
#include "pods/pods.h"

/* The pod rules of cfg, made on first use.  NULL (with the message) when out of memory. */
static struct pod_rules *
cfg_pods(struct cfg_ctx *cx, struct config *cfg, const char *key)
{
	if (cfg->cf_pods == NULL && (cfg->cf_pods = pods_rules_new()) == NULL)
		cfg_err(cx, "%s: out of memory", key);
	return cfg->cf_pods;
}

/* One member of an association: a string that ok accepts.  0 / -1. */
static int
assoc_member(struct cfg_ctx *cx, json_t *e, const char *key, int (*ok)(const char *, size_t),
    const char *what, const char **val, size_t *len)
{
	json_t *v = json_object_get(e, key);
	char why[POD_REASON_MAX] = "";

	cx->cx_key = key;
	if (v == NULL) {
		cx->cx_key = NULL;
		cfg_err(cx, "%s: \"%s\" is missing", cx->cx_path, key);
		return -1;
	}
	if (!json_is_string(v)) {
		cfg_err(cx, "%s: \"%s\": expected a string, got %s", cx->cx_path, key, cfg_jtype(v));
		return -1;
	}
	*val = json_string_value(v);
	*len = json_string_length(v);
	if (ok != NULL ? ok(*val, *len) : pods_arn_check(*val, *len, why, sizeof(why))) {
		cx->cx_key = NULL;
		return 0;
	}
	cfg_err(cx, "%s: \"%s\": \"%.64s\" is not %s%s%s", cx->cx_path, key, *val, what,
	    why[0] != '\0' ? ": " : "", why);
	return -1;
}

/* "role-map": {"FROM-ARN": "TO-ARN", ...}, at most POD_ROLE_MAP_MAX. */
int
config_check_role_map(struct cfg_ctx *cx, json_t *map, struct config *cfg)
{
	char why[POD_REASON_MAX];
	const char *k;
	json_t *v;

	if (!json_is_object(map) || json_object_size(map) > POD_ROLE_MAP_MAX) {
		cfg_err(cx, "%s: expected an object of at most %d ARNs, got %s", ROLE_MAP_KEY,
		    POD_ROLE_MAP_MAX, json_is_object(map) ? "more" : cfg_jtype(map));
		return -1;
	}
	json_object_foreach(map, k, v) {
		cx->cx_key = k;
		if (!pods_arn_check(k, strlen(k), why, sizeof(why))) {
			cfg_err(cx, "%s: \"%.64s\" is not a role ARN: %s", ROLE_MAP_KEY, k, why);
			return -1;
		}
		if (!json_is_string(v)) {
			cfg_err(cx, "%s: \"%.64s\": expected a role ARN, got %s", ROLE_MAP_KEY, k,
			    cfg_jtype(v));
			return -1;
		}
		if (!pods_arn_check(json_string_value(v), json_string_length(v), why,
		    sizeof(why))) {
			cfg_err(cx, "%s: \"%.64s\": \"%.64s\" is not a role ARN: %s",
			    ROLE_MAP_KEY, k, json_string_value(v), why);
			return -1;
		}
		if (cfg_pods(cx, cfg, ROLE_MAP_KEY) == NULL ||
		    pods_rules_map_add(cfg->cf_pods, k, strlen(k), json_string_value(v),
		    json_string_length(v)) != 0) {
			cfg_err(cx, "%s: out of memory", ROLE_MAP_KEY);
			return -1;
		}
	}
	cx->cx_key = NULL;
	return 0;
}

/* One association, at cx_path ("pod-identity-associations/N").  0 / -1. */
static int
check_assoc_entry(struct cfg_ctx *cx, json_t *e, struct config *cfg)
{
	const char *ns, *sa, *arn, *k;
	size_t nslen, salen, arnlen, dup, line, col;
	char first[MD_PATH_MAX + 1];
	json_t *v;
	int rc;

	if (!json_is_object(e)) {
		cfg_err(cx, "%s: expected an object, got %s", cx->cx_path, cfg_jtype(e));
		return -1;
	}
	json_object_foreach(e, k, v) {
		if (strcmp(k, "namespace") != 0 && strcmp(k, "service-account") != 0 &&
		    strcmp(k, "role-arn") != 0 && strcmp(k, "disable-session-tags") != 0) {
			cx->cx_key = k;
			cfg_err(cx, "%s: unknown key \"%s\" (known: namespace, service-account, "
			    "role-arn, disable-session-tags)", cx->cx_path, k);
			return -1;
		}
	}
	/* EKS's disableSessionTags: a boolean */
	if ((v = json_object_get(e, "disable-session-tags")) != NULL && !json_is_boolean(v)) {
		cx->cx_key = "disable-session-tags";
		cfg_err(cx, "%s: disable-session-tags: expected true or false, got %s",
		    cx->cx_path, cfg_jtype(v));
		return -1;
	}
	if (assoc_member(cx, e, "namespace", pods_namespace_ok, "a namespace name", &ns,
	    &nslen) == -1 || assoc_member(cx, e, "service-account", pods_sa_name_ok,
	    "a service account name", &sa, &salen) == -1 || assoc_member(cx, e, "role-arn",
	    NULL, "a role ARN", &arn, &arnlen) == -1 || cfg_pods(cx, cfg, cx->cx_path) == NULL)
		return -1;
	rc = pods_rules_assoc_add(cfg->cf_pods, ns, nslen, sa, salen, arn, arnlen, &dup);
	if (rc == 0)
		cfg->cf_pods->pr_assoc[cfg->cf_pods->pr_nassoc - 1].pa_no_tags =
		    json_is_true(json_object_get(e, "disable-session-tags"));
	if (rc == -3) {
		/* both places: this one as the message's, the first by its line */
		snprintf(first, sizeof(first), "%s/%zu", POD_ASSOC_KEY, dup);
		cfg_where(cx, first, strlen(first), &line, &col);
		cfg_err(cx, "%s: a second association for %s/%s (the first: %s, line %zu)",
		    cx->cx_path, ns, sa, first, line);
	} else if (rc != 0) {
		cfg_err(cx, "%s: out of memory", cx->cx_path);
	}
	return rc == 0 ? 0 : -1;
}

/*
 * "pod-identity-associations": [{"namespace", "service-account",
 * "role-arn", "disable-session-tags"}, ...], at most POD_ASSOC_MAX, one per
 * namespace/service account (a second names the line of the first).
 */
int
config_check_pod_assoc(struct cfg_ctx *cx, json_t *arr, struct config *cfg)
{
	size_t i, saved;
	char idx[24];
	json_t *e;

	if (!json_is_array(arr) || json_array_size(arr) > POD_ASSOC_MAX) {
		cfg_err(cx, "%s: expected an array of at most %d associations, got %s",
		    cx->cx_path, POD_ASSOC_MAX, json_is_array(arr) ? "more" : cfg_jtype(arr));
		return -1;
	}
	json_array_foreach(arr, i, e) {
		snprintf(idx, sizeof(idx), "%zu", i);
		if (cfg_path_push(cx, idx, &saved) == -1 || check_assoc_entry(cx, e, cfg) == -1)
			return -1;
		cfg_path_pop(cx, saved);
	}
	return 0;
}

/*
 * "ecs-credentials": at most CONFIG_ECS_IDS_MAX ids of 1 to CONFIG_ECS_ID_MAX
 * bytes without control bytes, each "node" or a role ARN short enough to
 * be a registry key.
 */
int
config_check_ecs(struct cfg_ctx *cx, json_t *ids)
{
	char name[ROLE_NAME_MAX + 1], acct[CRED_ACCOUNT_BUF];
	const char *k, *arn;
	json_t *v;

	if (!json_is_object(ids)) {
		cfg_err(cx, "ecs-credentials: expected an object, got %s", cfg_jtype(ids));
		return -1;
	}
	if (json_object_size(ids) > CONFIG_ECS_IDS_MAX) {
		cfg_err(cx, "ecs-credentials: more than %d ids", CONFIG_ECS_IDS_MAX);
		return -1;
	}
	json_object_foreach(ids, k, v) {
		if (*k == '\0' || strlen(k) > CONFIG_ECS_ID_MAX || text_has_ctl(k, strlen(k))) {
			cfg_err(cx, "ecs-credentials: an id must be 1 to %d bytes without control "
			    "characters", CONFIG_ECS_ID_MAX);
			return -1;
		}
		if (!json_is_string(v)) {
			cfg_err(cx, "ecs-credentials/%s: expected \"node\" or a role ARN, got %s", k,
			    cfg_jtype(v));
			return -1;
		}
		arn = json_string_value(v);
		if (strcmp(arn, "node") != 0 && (strlen(arn) > ROLE_KEY_MAX ||
		    sts_role_name(arn, name, sizeof(name), acct, sizeof(acct)) == -1)) {
			cfg_err(cx, "ecs-credentials/%s: expected \"node\" or a role ARN of at most "
			    "%d bytes (arn:aws:iam::123456789012:role/NAME), got \"%.64s\"", k,
			    ROLE_KEY_MAX, arn);
			return -1;
		}
	}
	return 0;
}

const char *
config_ecs_role(const struct config *cfg, const char *id)
{
	json_t *v;

	if (cfg->cf_ecs == NULL || (v = json_object_get(cfg->cf_ecs, id)) == NULL)
		return NULL;
	return json_string_value(v);
}

