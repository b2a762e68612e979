/*
 * config.c: the --config JSON file.
 *
 *	{
 *	  "meta-data": { ... },		overlay of /<version>/meta-data/
 *	  "dynamic":   { ... },		overlay of /<version>/dynamic/
 *	  "user-data": "bytes" | null,
 *	  "options":   { "http-endpoint": "enabled", ... }	contract §5.4
 *	  "scenario":  { "spot-interruption": {...}, ... }	lifecycle.c, issue 8
 *	  "pod-identity-associations": [ {"namespace": "ns", "service-account":
 *			"sa", "role-arn": "arn:...", "disable-session-tags": false},
 *			... ]	issue 14, pods.h
 *	  "role-map":  { "FROM-ARN": "TO-ARN", ... }		issue 14, pods.h
 *	  "ecs-credentials": { "task-1": "arn:aws:iam::123456789012:role/task",
 *			       "task-2": "node" }	the ECS endpoint's ids (container/)
 *	}
 *
 * Under meta-data and dynamic a string is a leaf, an array of strings a
 * multi-valued leaf (joined by LF), an object a directory and null removes
 * the path.  Two places are stricter:
 *   - meta-data/tags holds only instance/, whose members are tags: keys as
 *     in contract §8.5, values strings (possibly empty) or null;
 *   - dynamic/instance-identity/document given as an object is not a
 *     directory: its members are identity document fields (contract §9.1),
 *     applied by instance.c.
 *
 * `ctl set`/`unset` change one path of the same tree (config_set_path), but
 * never the credentials nor the signed identity documents
 * (config_path_refused).
 *
 * Everything is checked here, when the file is read, so that a bad file is
 * refused at start-up with one line naming the place.  Only the types and
 * names are checked here; instance.c checks the values of the facts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imds/imds.h"
#include "imds/internal.h"
#include "pods/pods.h"

#define CFG_NAME_DEFAULT	"config"	/* name in messages when none is given */

#define PATH_TAGS		"meta-data/tags"
#define PATH_TAGS_INSTANCE	"meta-data/tags/instance"


/*
 * Where path (and cx_key under it, if set) is in the text: 1 with its line
 * and column, 0 when it is not found.
 */
int
cfg_where(const struct cfg_ctx *cx, const char *path, size_t plen, size_t *line,
    size_t *col)
{
	size_t at, key_at, val, i;

	*line = 1;
	*col = 1;
	if (cx->cx_text == NULL ||
	    (at = js_locate(cx->cx_text, cx->cx_len, path, plen, &val)) == (size_t)-1)
		return 0;
	if (cx->cx_key != NULL && (key_at = js_member(cx->cx_text, cx->cx_len, val,
	    cx->cx_key, strlen(cx->cx_key), &val)) != (size_t)-1)
		at = key_at;
	for (i = 0; i < at; i++) {
		if (cx->cx_text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
	return 1;
}

/*
 * "NAME: " + message, one line.  A message starts with the path it is
 * about ("options/http-tokens: expected ..."); when that path is found in
 * the text (and cx_key under it, if set), the file name is followed by its
 * line and column, as in jansson's own syntax errors.
 */
void
cfg_err(struct cfg_ctx *cx, const char *fmt, ...)
{
	char msg[ERRBUF_LEN];
	const char *colon;
	size_t line, col;
	va_list ap;

	if (cx->cx_err == NULL || cx->cx_errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((colon = strstr(msg, ": ")) != NULL &&
	    cfg_where(cx, msg, (size_t)(colon - msg), &line, &col))
		errf(cx->cx_err, cx->cx_errlen, "%s:%zu:%zu: %s", cx->cx_name, line, col, msg);
	else
		errf(cx->cx_err, cx->cx_errlen, "%s: %s", cx->cx_name, msg);
}

/* "a string", "a number", ...: what a value is, for messages. */
const char *
cfg_jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* Append "/key" (or "key" at the top) to the current path.  0 / -1. */
int
cfg_path_push(struct cfg_ctx *cx, const char *key, size_t *saved)
{
	size_t klen = strlen(key), add = klen + (cx->cx_pathlen > 0);

	*saved = cx->cx_pathlen;
	if (add > MD_PATH_MAX - cx->cx_pathlen) {
		cfg_err(cx, "%s/%.40s...: path longer than %d bytes", cx->cx_path, key,
		    MD_PATH_MAX);
		return -1;
	}
	if (cx->cx_pathlen > 0)
		cx->cx_path[cx->cx_pathlen++] = '/';
	memcpy(cx->cx_path + cx->cx_pathlen, key, klen);
	cx->cx_pathlen += klen;
	cx->cx_path[cx->cx_pathlen] = '\0';
	return 0;
}

void
cfg_path_pop(struct cfg_ctx *cx, size_t saved)
{
	cx->cx_pathlen = saved;
	cx->cx_path[saved] = '\0';
}

/*
 * A string or array-of-strings leaf must fit in a served body.  The array
 * case also requires every element to be a string.  0 / -1.
 */
static int
check_leaf(struct cfg_ctx *cx, json_t *v, const char *expected)
{
	size_t i, total = 0;
	json_t *e;

	if (json_is_string(v)) {
		if (json_string_length(v) > MD_BODY_MAX) {
			cfg_err(cx, "%s: value of %zu bytes, more than %d", cx->cx_path,
			    json_string_length(v), MD_BODY_MAX);
			return -1;
		}
		return 0;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e)) {
			cfg_err(cx, "%s: expected %s, got an array holding %s", cx->cx_path,
			    expected, cfg_jtype(e));
			return -1;
		}
		total += json_string_length(e) + (i > 0);
		if (total > MD_BODY_MAX) {
			cfg_err(cx, "%s: values of more than %d bytes in all", cx->cx_path,
			    MD_BODY_MAX);
			return -1;
		}
	}
	return 0;
}

/*
 * Tag keys exposed in IMDS (contract §8.5): letters, digits and
 * + - = . , _ : @, and not ".", ".." or "_index".
 */
int
config_tag_key_ok(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n > MD_NAME_MAX || strcmp(k, ".") == 0 || strcmp(k, "..") == 0 ||
	    strcmp(k, "_index") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		char c = k[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (strchr("+-=.,_:@", c) == NULL)
			return 0;
	}
	return 1;
}

/* meta-data/tags: only instance/, which holds tags. */
static int
check_tags(struct cfg_ctx *cx, json_t *tags)
{
	const char *k, *tk;
	json_t *v, *tv;
	size_t saved, saved2;

	if (json_is_null(tags))
		return 0;
	if (!json_is_object(tags)) {
		cfg_err(cx, "%s: expected an object or null, got %s", cx->cx_path, cfg_jtype(tags));
		return -1;
	}
	json_object_foreach(tags, k, v) {
		if (cfg_path_push(cx, k, &saved) == -1)
			return -1;
		if (strcmp(cx->cx_path, PATH_TAGS_INSTANCE) != 0) {
			cfg_err(cx, "%s: only instance/ is allowed under tags/", cx->cx_path);
			return -1;
		}
		if (json_is_null(v)) {
			cfg_path_pop(cx, saved);
			continue;
		}
		if (!json_is_object(v)) {
			cfg_err(cx, "%s: expected an object or null, got %s", cx->cx_path,
			    cfg_jtype(v));
			return -1;
		}
		json_object_foreach(v, tk, tv) {
			if (!config_tag_key_ok(tk)) {
				cx->cx_key = tk;
				cfg_err(cx, "%s: invalid tag key \"%s\": tag keys may hold only "
				    "letters, digits and + - = . , _ : @ and may not be \".\", "
				    "\"..\" or \"_index\"", cx->cx_path, tk);
				return -1;
			}
			if (cfg_path_push(cx, tk, &saved2) == -1)
				return -1;
			if (!json_is_string(tv) && !json_is_null(tv)) {
				cfg_err(cx, "%s: expected a string or null, got %s", cx->cx_path,
				    cfg_jtype(tv));
				return -1;
			}
			if (json_is_string(tv) && check_leaf(cx, tv, "a string") == -1)
				return -1;
			cfg_path_pop(cx, saved2);
		}
		cfg_path_pop(cx, saved);
	}
	return 0;
}

/* Identity document fields a config may give, and their types (§9.1). */
enum doc_kind {
	DOC_STRING,		/* a string */
	DOC_STRING_NULL,	/* a string or null */
	DOC_LIST_NULL		/* an array of strings or null */
};

static const struct {
	const char	*df_name;
	enum doc_kind	 df_kind;
} doc_fields[] = {
	{ "accountId",			DOC_STRING },
	{ "architecture",		DOC_STRING },
	{ "availabilityZone",		DOC_STRING },
	{ "billingProducts",		DOC_LIST_NULL },
	{ "devpayProductCodes",		DOC_LIST_NULL },
	{ "marketplaceProductCodes",	DOC_LIST_NULL },
	{ "imageId",			DOC_STRING },
	{ "instanceId",			DOC_STRING },
	{ "instanceType",		DOC_STRING },
	{ "kernelId",			DOC_STRING_NULL },
	{ "pendingTime",		DOC_STRING },
	{ "privateIp",			DOC_STRING },
	{ "ramdiskId",			DOC_STRING_NULL },
	{ "region",			DOC_STRING },
	{ "version",			DOC_STRING },
};

/* dynamic/instance-identity/document as an object: document fields. */
static int
check_document(struct cfg_ctx *cx, json_t *doc)
{
	const char *k;
	json_t *v;
	size_t i, saved;
	int ok;

	json_object_foreach(doc, k, v) {
		for (i = 0; i < sizeof(doc_fields) / sizeof(doc_fields[0]); i++)
			if (strcmp(k, doc_fields[i].df_name) == 0)
				break;
		if (i == sizeof(doc_fields) / sizeof(doc_fields[0])) {
			cx->cx_key = k;
			cfg_err(cx, "%s: unknown identity document field \"%s\"", cx->cx_path, k);
			return -1;
		}
		if (cfg_path_push(cx, k, &saved) == -1)
			return -1;
		switch (doc_fields[i].df_kind) {
		case DOC_STRING:
			ok = json_is_string(v);
			if (!ok)
				cfg_err(cx, "%s: expected a string, got %s", cx->cx_path,
				    cfg_jtype(v));
			break;
		case DOC_STRING_NULL:
			ok = json_is_string(v) || json_is_null(v);
			if (!ok)
				cfg_err(cx, "%s: expected a string or null, got %s",
				    cx->cx_path, cfg_jtype(v));
			break;
		case DOC_LIST_NULL:
		default:
			ok = json_is_array(v) || json_is_null(v);
			if (!ok)
				cfg_err(cx, "%s: expected an array of strings or null, got %s",
				    cx->cx_path, cfg_jtype(v));
			else if (json_is_array(v) &&
			    check_leaf(cx, v, "an array of strings or null") == -1)
				ok = 0;
			break;
		}
		if (!ok)
			return -1;
		if (json_is_string(v) && check_leaf(cx, v, "a string") == -1)
			return -1;
		cfg_path_pop(cx, saved);
	}
	return 0;
}

/* A directory of the meta-data or dynamic overlay, at cx_path. */
static int
check_dir(struct cfg_ctx *cx, json_t *dir)
{
	static const char expected[] = "a string, an array of strings, an object or null";
	const char *k;
	json_t *v;
	size_t saved;

	json_object_foreach(dir, k, v) {
		if (!tree_name_ok(k, strlen(k))) {
			cx->cx_key = k;
			cfg_err(cx, "%s: invalid name \"%s\": a path segment is 1 to %d "
			    "visible ASCII characters without '/', '?' or '#', and not "
			    "\".\" or \"..\"", cx->cx_path, k, MD_NAME_MAX);
			return -1;
		}
		if (cfg_path_push(cx, k, &saved) == -1)
			return -1;
		if (strcmp(cx->cx_path, PATH_TAGS) == 0) {
			if (check_tags(cx, v) == -1)
				return -1;
		} else if (strcmp(cx->cx_path, PATH_DOCUMENT) == 0 && json_is_object(v)) {
			/* the one object that is not a directory: see instance.c */
			if (check_document(cx, v) == -1)
				return -1;
		} else if (json_is_object(v)) {
			if (check_dir(cx, v) == -1)
				return -1;
		} else if (json_is_string(v) || json_is_array(v)) {
			if (check_leaf(cx, v, expected) == -1)
				return -1;
		} else if (!json_is_null(v)) {
			cfg_err(cx, "%s: expected %s, got %s", cx->cx_path, expected, cfg_jtype(v));
			return -1;
		}
		cfg_path_pop(cx, saved);
	}
	return 0;
}

const struct imds_opt_def imds_opt_defs[IMDS_NOPTS] = {
	[IMDS_OPT_ENDPOINT] = { "http-endpoint", OPT_SET_ENDPOINT,
	    offsetof(struct imds_options, o_endpoint_enabled), { "enabled", "disabled" },
	    { 1, 0 }, 0, 0 },
	[IMDS_OPT_TOKENS] = { "http-tokens", OPT_SET_TOKENS,
	    offsetof(struct imds_options, o_tokens_required), { "optional", "required" },
	    { 0, 1 }, 0, 0 },
	[IMDS_OPT_HOPLIMIT] = { "http-put-response-hop-limit", OPT_SET_HOPLIMIT,
	    offsetof(struct imds_options, o_hop_limit), { NULL, NULL }, { 0, 0 },
	    HOP_LIMIT_MIN, HOP_LIMIT_MAX },
	[IMDS_OPT_TAGS] = { "instance-metadata-tags", OPT_SET_TAGS,
	    offsetof(struct imds_options, o_tags_enabled), { "enabled", "disabled" },
	    { 1, 0 }, 0, 0 },
};

const struct imds_opt_def *
imds_option_find(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < IMDS_NOPTS; i++)
		if (strlen(imds_opt_defs[i].iod_key) == len &&
		    memcmp(imds_opt_defs[i].iod_key, key, len) == 0)
			return &imds_opt_defs[i];
	return NULL;
}

int
imds_option_parse(const struct imds_opt_def *d, const char *val, size_t len,
    struct imds_options *o, unsigned *set)
{
	unsigned long n;
	int v, i;

	if (d->iod_words[0] == NULL) {
		if (parse_uint_bounded(val, len, (unsigned long)d->iod_max, &n) != 0 ||
		    n < (unsigned long)d->iod_min)
			return -1;
		v = (int)n;
	} else {
		/* the length too: an embedded NUL never matches */
		for (i = 0; i < 2; i++)
			if (strlen(d->iod_words[i]) == len && memcmp(d->iod_words[i], val, len) == 0)
				break;
		if (i == 2)
			return -1;
		v = d->iod_values[i];
	}
	memcpy((char *)o + d->iod_off, &v, sizeof(v));
	*set |= d->iod_bit;
	return 0;
}

void
imds_option_merge(struct imds_options *dst, const struct imds_options *src, unsigned set)
{
	size_t i;

	for (i = 0; i < IMDS_NOPTS; i++)
		if (set & imds_opt_defs[i].iod_bit)
			memcpy((char *)dst + imds_opt_defs[i].iod_off,
			    (const char *)src + imds_opt_defs[i].iod_off, sizeof(int));
}

/* "options": contract §5.4; the values by imds_option_parse. */
static int
check_options(struct cfg_ctx *cx, json_t *opts, struct config *cfg)
{
	const struct imds_opt_def *d;
	const char *k;
	json_t *v;
	size_t saved;
	char num[32];

	if (!json_is_object(opts)) {
		cfg_err(cx, "options: expected an object, got %s", cfg_jtype(opts));
		return -1;
	}
	json_object_foreach(opts, k, v) {
		if (cfg_path_push(cx, k, &saved) == -1)
			return -1;
		if ((d = imds_option_find(k, strlen(k))) == NULL) {
			cfg_err(cx, "%s: unknown option (known: http-endpoint, http-tokens, "
			    "http-put-response-hop-limit, instance-metadata-tags)", cx->cx_path);
			return -1;
		}
		if (d->iod_words[0] == NULL) {
			if (!json_is_integer(v)) {
				cfg_err(cx, "%s: expected an integer from %d to %d, got %s",
				    cx->cx_path, d->iod_min, d->iod_max, cfg_jtype(v));
				return -1;
			}
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			if (imds_option_parse(d, num, strlen(num), &cfg->cf_opt,
			    &cfg->cf_opt_set) == -1) {
				cfg_err(cx, "%s: expected an integer from %d to %d, got %s",
				    cx->cx_path, d->iod_min, d->iod_max, num);
				return -1;
			}
		} else if (!json_is_string(v)) {
			cfg_err(cx, "%s: expected \"%s\" or \"%s\", got %s", cx->cx_path,
			    d->iod_words[0], d->iod_words[1], cfg_jtype(v));
			return -1;
		} else if (imds_option_parse(d, json_string_value(v), json_string_length(v),
		    &cfg->cf_opt, &cfg->cf_opt_set) == -1) {
			cfg_err(cx, "%s: expected \"%s\" or \"%s\", got \"%.64s\"", cx->cx_path,
			    d->iod_words[0], d->iod_words[1], json_string_value(v));
			return -1;
		}
		cfg_path_pop(cx, saved);
	}
	return 0;
}

/* "user-data": a string of at most USER_DATA_MAX bytes, or null. */
static int
check_user_data(struct cfg_ctx *cx, json_t *v, struct config *cfg)
{
	size_t len;

	if (json_is_null(v)) {
		/* given, and empty: nothing is served (contract §10) */
		cfg->cf_user_data_set = 1;
		return 0;
	}
	if (!json_is_string(v)) {
		cfg_err(cx, "user-data: expected a string or null, got %s", cfg_jtype(v));
		return -1;
	}
	len = json_string_length(v);
	if (len > USER_DATA_MAX) {
		cfg_err(cx, "user-data: %zu bytes, more than the %d allowed", len, USER_DATA_MAX);
		return -1;
	}
	if ((cfg->cf_user_data = mem_strdup(json_string_value(v), len)) == NULL) {
		cfg_err(cx, "user-data: out of memory");
		return -1;
	}
	cfg->cf_user_data_len = len;
	cfg->cf_user_data_set = 1;
	return 0;
}

/* When the daemon started (config_set_start); 0: now. */
static time_t scenario_start;

void
config_set_start(time_t start)
{
	scenario_start = start;
}

/*
 * "scenario": checked by applying it to a scratch lifecycle, so that the
 * file and the daemon can never disagree on what is valid.  Its times
 * count from the daemon's start, at a reload too (which does not replay
 * it): an event that has ended since then does not make the file wrong.
 */
static int
check_scenario(struct cfg_ctx *cx, json_t *v)
{
	struct lifecycle *l;
	char msg[ERRBUF_LEN];
	int rc;

	if ((l = malloc(sizeof(*l))) == NULL) {
		cfg_err(cx, "scenario: out of memory");
		return -1;
	}
	life_init(l);
	rc = life_scenario(l, v, scenario_start != 0 ? scenario_start : time(NULL), msg,
	    sizeof(msg));
	if (rc == -1)
		cfg_err(cx, "%s", msg);
	life_free(l);
	free(l);
	return rc;
}

void
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* EC2's defaults (contract §5.4); they count only where cf_opt_set says */
	cfg->cf_opt.o_endpoint_enabled = 1;
	cfg->cf_opt.o_tokens_required = 0;
	cfg->cf_opt.o_hop_limit = HOP_LIMIT_MIN;
	cfg->cf_opt.o_tags_enabled = 0;
}

/*
 * cfg is overwritten (it must hold nothing that needs freeing).  On error
 * it is left as config_init leaves it.
 */
int
config_parse(const char *text, size_t len, const char *name, struct config *cfg,
    char *err, size_t errlen)
{
	struct cfg_ctx cx;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *k;
	size_t saved;

	config_init(cfg);
	memset(&cx, 0, sizeof(cx));
	cx.cx_name = name != NULL ? name : CFG_NAME_DEFAULT;
	cx.cx_err = err;
	cx.cx_errlen = errlen;
	cx.cx_text = text;
	cx.cx_len = len;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* "FILE:LINE:COLUMN: message"; duplicate keys land here too */
		errf(err, errlen, "%s:%d:%d: %s", cx.cx_name, jerr.line, jerr.column, jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		cfg_err(&cx, "expected an object at the top level, got %s", cfg_jtype(root));
		goto fail;
	}
	cfg->cf_root = root;
	json_object_foreach(root, k, v) {
		if (strcmp(k, "meta-data") == 0 || strcmp(k, "dynamic") == 0) {
			if (!json_is_object(v)) {
				cfg_err(&cx, "%s: expected an object, got %s", k, cfg_jtype(v));
				goto fail;
			}
			if (cfg_path_push(&cx, k, &saved) == -1 || check_dir(&cx, v) == -1)
				goto fail;
			cfg_path_pop(&cx, saved);
			if (k[0] == 'm')
				cfg->cf_meta = v;
			else
				cfg->cf_dynamic = v;
		} else if (strcmp(k, "user-data") == 0) {
			if (check_user_data(&cx, v, cfg) == -1)
				goto fail;
		} else if (strcmp(k, "options") == 0) {
			if (cfg_path_push(&cx, k, &saved) == -1 ||
			    check_options(&cx, v, cfg) == -1)
				goto fail;
			cfg_path_pop(&cx, saved);
		} else if (strcmp(k, "scenario") == 0) {
			if (check_scenario(&cx, v) == -1)
				goto fail;
			cfg->cf_scenario = v;
		} else if (strcmp(k, POD_ASSOC_KEY) == 0) {
			if (cfg_path_push(&cx, k, &saved) == -1 ||
			    config_check_pod_assoc(&cx, v, cfg) == -1)
				goto fail;
			cfg_path_pop(&cx, saved);
		} else if (strcmp(k, ROLE_MAP_KEY) == 0) {
			if (config_check_role_map(&cx, v, cfg) == -1)
				goto fail;
		} else if (strcmp(k, "ecs-credentials") == 0) {
			if (config_check_ecs(&cx, v) == -1)
				goto fail;
			cfg->cf_ecs = v;
		} else {
			cfg_err(&cx, "%s: unknown top-level key (known: meta-data, dynamic, "
			    "user-data, options, scenario, ecs-credentials, " POD_ASSOC_KEY ", "
			    ROLE_MAP_KEY ")", k);
			goto fail;
		}
	}
	return 0;
fail:
	if (cfg->cf_root == NULL)
		json_decref(root);
	config_free(cfg);
	return -1;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	config_init(cfg);
	if (read_file_capped(path, CONFIG_FILE_MAX, &text, &len) == -1) {
		if (errno == EFBIG)
			errf(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		else
			errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_parse(text, len, path, cfg, err, errlen);
	free(text);
	return rc;
}

/* Frees what cfg holds and leaves it as config_init does. */
void
config_free(struct config *cfg)
{
	json_decref((json_t *)cfg->cf_root);
	pods_rules_free(cfg->cf_pods);
	wipe_free(cfg->cf_user_data, cfg->cf_user_data_len);
	config_init(cfg);
}

int
config_dup(const struct config *src, struct config *dst)
{
	config_init(dst);
	dst->cf_opt = src->cf_opt;
	dst->cf_opt_set = src->cf_opt_set;
	dst->cf_user_data_set = src->cf_user_data_set;
	if (src->cf_root != NULL) {
		if ((dst->cf_root = json_deep_copy((json_t *)src->cf_root)) == NULL)
			goto fail;
		dst->cf_meta = json_object_get(dst->cf_root, "meta-data");
		dst->cf_dynamic = json_object_get(dst->cf_root, "dynamic");
		dst->cf_scenario = json_object_get(dst->cf_root, "scenario");
		dst->cf_ecs = json_object_get(dst->cf_root, "ecs-credentials");
	}
	if (src->cf_pods != NULL && (dst->cf_pods = pods_rules_dup(src->cf_pods)) == NULL)
		goto fail;
	if (src->cf_user_data != NULL) {
		if ((dst->cf_user_data = malloc(src->cf_user_data_len + 1)) == NULL)
			goto fail;
		memcpy(dst->cf_user_data, src->cf_user_data, src->cf_user_data_len + 1);
		dst->cf_user_data_len = src->cf_user_data_len;
	}
	return 0;
fail:
	config_free(dst);
	return -1;
}

/*
 * What `ctl set`/`unset` may not change (#17 finding 7): whoever reaches the
 * control socket could otherwise hand pods credentials of their choosing, or
 * have a document of their own signed.  A path is refused at, under or
 * above (it would replace the whole directory) each of these.  The config
 * file, the operator's own, may still set them.
 */
#define WHY_CREDS	"the credentials are not settable: they come from the credential " \
			"source (ctl rotate-credentials fetches them again)"
#define WHY_IDENTITY	"the signed identity documents are not settable: the identity " \
			"document is derived from the instance facts (set those, such as " \
			"meta-data/placement/availability-zone or meta-data/instance-type)"
static const struct {
	const char	*pp_path;
	const char	*pp_why;
} protected_paths[] = {
	{ "meta-data/iam/info",				WHY_CREDS },
	{ "meta-data/iam/security-credentials",		WHY_CREDS },
	{ "meta-data/identity-credentials",		WHY_CREDS },
	{ "dynamic/instance-identity",			WHY_IDENTITY },
};

const char *
config_path_refused(const char *path)
{
	size_t i, n, pn = strlen(path);

	for (i = 0; i < sizeof(protected_paths) / sizeof(protected_paths[0]); i++) {
		n = strlen(protected_paths[i].pp_path);
		/* the path itself or below it */
		if (strncmp(path, protected_paths[i].pp_path, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return protected_paths[i].pp_why;
		/* a directory above it */
		if (pn < n && strncmp(protected_paths[i].pp_path, path, pn) == 0 &&
		    protected_paths[i].pp_path[pn] == '/')
			return protected_paths[i].pp_why;
	}
	return NULL;
}

int
config_set_path(struct config *cfg, const char *path, const char *val, size_t len,
    char *err, size_t errlen)
{
	struct cfg_ctx cx;
	char seg[MD_NAME_MAX + 1];
	const char *top, *p, *slash, *why;
	json_t *root = NULL, *sub = NULL, *dir, *next;
	size_t n;

	memset(&cx, 0, sizeof(cx));
	cx.cx_name = "set";
	cx.cx_err = err;
	cx.cx_errlen = errlen;
	if ((why = config_path_refused(path)) != NULL) {
		errf(err, errlen, "%.200s: %s", path, why);
		return -1;
	}
	if (strncmp(path, "meta-data/", 10) == 0)
		top = "meta-data";
	else if (strncmp(path, "dynamic/", 8) == 0)
		top = "dynamic";
	else {
		errf(err, errlen, "%.64s: a path starts with meta-data/ or dynamic/", path);
		return -1;
	}
	if (strlen(path) > MD_PATH_MAX || (val != NULL && len > MD_BODY_MAX)) {
		errf(err, errlen, "%.64s: path or value too long", path);
		return -1;
	}
	/* a copy of the subtree is changed and checked; cfg only if all is well */
	root = cfg->cf_root != NULL ? (json_t *)cfg->cf_root : NULL;
	sub = root != NULL ? json_object_get(root, top) : NULL;
	sub = sub != NULL ? json_deep_copy(sub) : json_object();
	if (sub == NULL)
		goto nomem;
	dir = sub;
	for (p = path + strlen(top) + 1; ; p = slash + 1) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (!tree_name_ok(p, n) || n > MD_NAME_MAX) {
			errf(err, errlen, "%.200s: invalid name \"%.*s\": a path segment is 1 to "
			    "%d visible ASCII characters without '/', '?' or '#', and not \".\" or "
			    "\"..\"", path, (int)(n > 64 ? 64 : n), p, MD_NAME_MAX);
			goto fail;
		}
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (slash == NULL)
			break;
		next = json_object_get(dir, seg);
		if (!json_is_object(next)) {
			/* a leaf (or null) in the way becomes a directory */
			if ((next = json_object()) == NULL || json_object_set_new(dir, seg, next) == -1)
				goto nomem;
		}
		dir = next;
	}
	if ((next = val != NULL ? json_stringn(val, len) : json_null()) == NULL) {
		/* jansson keeps strings UTF-8, as the file's are */
		errf(err, errlen, "%.200s: the value is not UTF-8 text", path);
		goto fail;
	}
	if (json_object_set_new(dir, seg, next) == -1)
		goto nomem;
	snprintf(cx.cx_path, sizeof(cx.cx_path), "%s", top);
	cx.cx_pathlen = strlen(top);
	if (check_dir(&cx, sub) == -1)
		goto fail;
	if (root == NULL) {
		if ((root = json_object()) == NULL)
			goto nomem;
		cfg->cf_root = root;
	}
	if (json_object_set_new(root, top, sub) == -1) {
		sub = NULL;	/* json_object_set_new dropped it */
		goto nomem;
	}
	cfg->cf_meta = json_object_get(root, "meta-data");
	cfg->cf_dynamic = json_object_get(root, "dynamic");
	return 0;
nomem:
	snprintf(err, errlen, "%.64s: out of memory", path);
fail:
	json_decref(sub);
	return -1;
}
