/*
 * test_config.c: the --config JSON file: what it accepts, and each error
 * message, exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "imds/imds.h"
#include "pods/pods.h"

#define NAME	"config.json"

/* Parse text, expecting success. */
static void
parse_ok(const char *text, struct config *cfg)
{
	char err[ERRBUF_LEN] = "";
	int rc = config_parse(text, strlen(text), NAME, cfg, err, sizeof(err));

	if (rc != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(rc, 0);
}

/* Parse text, expecting exactly the message want. */
static void
parse_err(const char *text, const char *want)
{
	char err[ERRBUF_LEN] = "";
	struct config cfg;

	assert_int_equal(config_parse(text, strlen(text), NAME, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
	/* a failed parse leaves nothing to free, and config_free is safe */
	assert_null(cfg.cf_root);
	assert_null(cfg.cf_user_data);
	config_free(&cfg);
}

static void
test_empty(void **state)
{
	struct config cfg;

	(void)state;
	config_init(&cfg);
	assert_null(cfg.cf_root);
	assert_int_equal(cfg.cf_opt_set, 0);
	config_free(&cfg);

	parse_ok("{}", &cfg);
	assert_non_null(cfg.cf_root);
	assert_null(cfg.cf_meta);
	assert_null(cfg.cf_dynamic);
	assert_int_equal(cfg.cf_user_data_set, 0);
	assert_int_equal(cfg.cf_opt_set, 0);
	config_free(&cfg);
	assert_null(cfg.cf_root);
	config_free(&cfg);	/* twice is harmless */
}

#define ARN_A	"arn:aws:iam::123456789012:role/uploader"
#define ARN_B	"arn:aws:iam::123456789012:role/team/reporter"

/* "pod-identity-associations" and "role-map" (issue 14): kept, and each error at its place. */
static void
test_pod_rules(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"pod-identity-associations\": [\n"
	    "    {\"namespace\": \"team-u\", \"service-account\": \"uploader\",\n"
	    "     \"role-arn\": \"" ARN_A "\"},\n"
	    "    {\"namespace\": \"team-u\", \"service-account\": \"reporter.v2\",\n"
	    "     \"role-arn\": \"" ARN_B "\", \"disable-session-tags\": true}\n"
	    "  ],\n"
	    "  \"role-map\": {\"" ARN_B "\": \"" ARN_A "\"}\n"
	    "}\n";
	struct config cfg, dup;
	const char *a;

	(void)state;
	parse_ok(text, &cfg);
	assert_non_null(cfg.cf_pods);
	assert_int_equal(cfg.cf_pods->pr_nassoc, 2);
	assert_string_equal(pods_rules_assoc_find(cfg.cf_pods, "team-u", 6, "uploader", 8), ARN_A);
	assert_string_equal(pods_rules_assoc_find(cfg.cf_pods, "team-u", 6, "reporter.v2", 11),
	    ARN_B);
	assert_null(pods_rules_assoc_find(cfg.cf_pods, "team-v", 6, "uploader", 8));
	/* EKS's disableSessionTags, per association */
	assert_int_equal(pods_rules_assoc_get(cfg.cf_pods, "team-u", 6, "uploader", 8)->pa_no_tags,
	    0);
	assert_int_equal(pods_rules_assoc_get(cfg.cf_pods, "team-u", 6, "reporter.v2",
	    11)->pa_no_tags, 1);
	assert_string_equal(pods_rules_map_find(cfg.cf_pods, ARN_B), ARN_A);
	assert_null(pods_rules_map_find(cfg.cf_pods, ARN_A));
	/* a copy owns its own rules */
	assert_int_equal(config_dup(&cfg, &dup), 0);
	config_free(&cfg);
	assert_null(cfg.cf_pods);
	a = pods_rules_assoc_find(dup.cf_pods, "team-u", 6, "uploader", 8);
	assert_non_null(a);
	assert_string_equal(a, ARN_A);
	assert_int_equal(pods_rules_assoc_get(dup.cf_pods, "team-u", 6, "reporter.v2",
	    11)->pa_no_tags, 1);
	assert_string_equal(pods_rules_map_find(dup.cf_pods, ARN_B), ARN_A);
	config_free(&dup);

	parse_ok("{\"role-map\": {}, \"pod-identity-associations\": []}", &cfg);
	config_free(&cfg);

	/* a second association for the same namespace/service account names both lines */
	parse_err("{\"pod-identity-associations\": [\n"
	    " {\"namespace\": \"a\", \"service-account\": \"s\", \"role-arn\": \"" ARN_A "\"},\n"
	    " {\"namespace\": \"b\", \"service-account\": \"s\", \"role-arn\": \"" ARN_A "\"},\n"
	    " {\"namespace\": \"a\", \"service-account\": \"s\", \"role-arn\": \"" ARN_B "\"}]}",
	    NAME ":4:2: pod-identity-associations/2: a second association for a/s (the first: "
	    "pod-identity-associations/0, line 2)");
	parse_err("{\"pod-identity-associations\": {}}",
	    NAME ":1:2: pod-identity-associations: expected an array of at most 1024 "
	    "associations, got an object");
	parse_err("{\"pod-identity-associations\": [\"x\"]}",
	    NAME ":1:32: pod-identity-associations/0: expected an object, got a string");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": \"a\",\n"
	    "  \"serviceAccount\": \"s\"}]}",
	    NAME ":2:3: pod-identity-associations/0: unknown key \"serviceAccount\" (known: "
	    "namespace, service-account, role-arn, disable-session-tags)");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": \"a\",\n"
	    "  \"disable-session-tags\": \"yes\"}]}",
	    NAME ":2:3: pod-identity-associations/0: disable-session-tags: expected true or "
	    "false, got a string");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": \"a\"}]}",
	    NAME ":1:32: pod-identity-associations/0: \"service-account\" is missing");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": \"A_b\"}]}",
	    NAME ":1:33: pod-identity-associations/0: \"namespace\": \"A_b\" is not a "
	    "namespace name");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": 7}]}",
	    NAME ":1:33: pod-identity-associations/0: \"namespace\": expected a string, "
	    "got a number");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": \"a\", "
	    "\"service-account\": \"s..t\"}]}",
	    NAME ":1:51: pod-identity-associations/0: \"service-account\": \"s..t\" is not "
	    "a service account name");
	parse_err("{\"pod-identity-associations\": [{\"namespace\": \"a\", "
	    "\"service-account\": \"s\",\n \"role-arn\": \"arn:aws:iam::12345:role/x\"}]}",
	    NAME ":2:2: pod-identity-associations/0: \"role-arn\": \"arn:aws:iam::12345:role/x\" "
	    "is not a role ARN: the account is not 12 digits");

	parse_err("{\"role-map\": []}",
	    NAME ":1:2: role-map: expected an object of at most 256 ARNs, got an array");
	parse_err("{\"role-map\": {\n \"" ARN_A "\": \"" ARN_B "\",\n \"app\": \"" ARN_B "\"}}",
	    NAME ":3:2: role-map: \"app\" is not a role ARN: not an ARN (expected "
	    "arn:PARTITION:iam::ACCOUNT:role/NAME)");
	parse_err("{\"role-map\": {\"" ARN_A "\": null}}",
	    NAME ":1:15: role-map: \"" ARN_A "\": expected a role ARN, got null");
	parse_err("{\"role-map\": {\"" ARN_A "\": \"arn:aws:iam::123456789012:user/x\"}}",
	    NAME ":1:15: role-map: \"" ARN_A "\": \"arn:aws:iam::123456789012:user/x\" is not "
	    "a role ARN: not a role (expected :role/ after the account)");
	parse_err("{\"role-map\": {\"" ARN_A "\": \"" ARN_B "\", \"" ARN_A "\": \"" ARN_B "\"}}",
	    NAME ":1:146: duplicate object key");
}

static void
test_full(void **state)
{
	static const char text[] =
	    "{\n"
	    "  \"meta-data\": {\n"
	    "    \"placement\": { \"availability-zone\": \"eu-west-1b\" },\n"
	    "    \"security-groups\": [\"web\", \"ssh\"],\n"
	    "    \"public-ipv4\": null,\n"
	    "    \"custom\": { \"deep\": { \"leaf\": \"v\" }, \"empty\": {}, \"list\": [] },\n"
	    "    \"tags\": { \"instance\": { \"Name\": \"web-1\", \"empty\": \"\", "
	    "\"a+-=.,_:@Z9\": \"x\", \"gone\": null } }\n"
	    "  },\n"
	    "  \"dynamic\": {\n"
	    "    \"instance-identity\": { \"document\": { \"accountId\": \"210987654321\", "
	    "\"billingProducts\": [\"bp-1\"], \"kernelId\": null, \"version\": \"2017-09-30\" } }\n"
	    "  },\n"
	    "  \"user-data\": \"#!/bin/sh\\necho hi\\n\",\n"
	    "  \"options\": {\n"
	    "    \"http-endpoint\": \"disabled\",\n"
	    "    \"http-tokens\": \"required\",\n"
	    "    \"http-put-response-hop-limit\": 2,\n"
	    "    \"instance-metadata-tags\": \"enabled\"\n"
	    "  }\n"
	    "}\n";
	struct config cfg;

	(void)state;
	parse_ok(text, &cfg);
	assert_non_null(cfg.cf_meta);
	assert_non_null(cfg.cf_dynamic);
	assert_int_equal(cfg.cf_user_data_set, 1);
	assert_int_equal(cfg.cf_user_data_len, 18);
	assert_memory_equal(cfg.cf_user_data, "#!/bin/sh\necho hi\n", 18);
	assert_int_equal(cfg.cf_opt_set,
	    OPT_SET_ENDPOINT | OPT_SET_TOKENS | OPT_SET_HOPLIMIT | OPT_SET_TAGS);
	assert_int_equal(cfg.cf_opt.o_endpoint_enabled, 0);
	assert_int_equal(cfg.cf_opt.o_tokens_required, 1);
	assert_int_equal(cfg.cf_opt.o_hop_limit, 2);
	assert_int_equal(cfg.cf_opt.o_tags_enabled, 1);
	config_free(&cfg);

	/* the other value of each option, and only some options set */
	parse_ok("{\"options\": {\"http-endpoint\": \"enabled\", \"http-tokens\": \"optional\","
	    " \"instance-metadata-tags\": \"disabled\", \"http-put-response-hop-limit\": 64}}",
	    &cfg);
	assert_int_equal(cfg.cf_opt.o_endpoint_enabled, 1);
	assert_int_equal(cfg.cf_opt.o_tokens_required, 0);
	assert_int_equal(cfg.cf_opt.o_tags_enabled, 0);
	assert_int_equal(cfg.cf_opt.o_hop_limit, 64);
	config_free(&cfg);
	parse_ok("{\"options\": {\"http-tokens\": \"required\"}}", &cfg);
	assert_int_equal(cfg.cf_opt_set, OPT_SET_TOKENS);
	config_free(&cfg);
}

static void
test_syntax(void **state)
{
	(void)state;
	parse_err("{\n  \"meta-data\": ,\n}",
	    NAME ":2:16: unexpected token near ','");
	parse_err("{\"user-data\": \"x\"",
	    NAME ":1:17: '}' expected near end of file");
	parse_err("",
	    NAME ":1:0: '[' or '{' expected near end of file");
	/* duplicates are refused, reported the same way */
	parse_err("{\n  \"options\": {},\n  \"options\": {}\n}",
	    NAME ":3:11: duplicate object key near '\"options\"'");
	parse_err("{\"meta-data\": {\"a\": \"1\", \"a\": \"2\"}}",
	    NAME ":1:28: duplicate object key near '\"a\"'");
	/* NUL is not allowed in strings */
	parse_err("{\"user-data\": \"a\\u0000b\"}",
	    NAME ":1:24: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"'");
}

/* "ecs-credentials": ids to "node" or a role ARN, kept through config_dup. */
static void
test_ecs_ids(void **state)
{
	struct config cfg, dup;

	(void)state;
	parse_ok("{\"ecs-credentials\": {\"task-1\": \"arn:aws:iam::123456789012:role/task\", "
	    "\"task-2\": \"node\"}}", &cfg);
	assert_string_equal(config_ecs_role(&cfg, "task-1"), "arn:aws:iam::123456789012:role/task");
	assert_string_equal(config_ecs_role(&cfg, "task-2"), "node");
	assert_null(config_ecs_role(&cfg, "task-3"));
	assert_int_equal(config_dup(&cfg, &dup), 0);
	assert_string_equal(config_ecs_role(&dup, "task-2"), "node");
	config_free(&dup);
	config_free(&cfg);
	parse_ok("{}", &cfg);
	assert_null(config_ecs_role(&cfg, "task-1"));
	config_free(&cfg);
}

static void
test_top_level(void **state)
{
	(void)state;
	parse_err("{\"meta-data\": {}, \"metadata\": {}}",
	    NAME ":1:19: metadata: unknown top-level key (known: meta-data, dynamic, "
	    "user-data, options, scenario, ecs-credentials, pod-identity-associations, "
	    "role-map)");
	parse_err("[1, 2]", NAME ": expected an object at the top level, got an array");
	parse_err("{\"meta-data\": []}", NAME ":1:2: meta-data: expected an object, got an array");
	parse_err("{\"dynamic\": \"x\"}", NAME ":1:2: dynamic: expected an object, got a string");
	/* the ECS endpoint's ids */
	parse_err("{\"ecs-credentials\": []}",
	    NAME ":1:2: ecs-credentials: expected an object, got an array");
	parse_err("{\"ecs-credentials\": {\"t\": 1}}",
	    NAME ":1:22: ecs-credentials/t: expected \"node\" or a role ARN, got a number");
	parse_err("{\"ecs-credentials\": {\"t\": \"arn:aws:iam::12:user/x\"}}",
	    NAME ":1:22: ecs-credentials/t: expected \"node\" or a role ARN of at most 128 bytes "
	    "(arn:aws:iam::123456789012:role/NAME), got \"arn:aws:iam::12:user/x\"");
	parse_err("{\"options\": null}", NAME ":1:2: options: expected an object, got null");
}

/*
 * Where an error is: the line and column of the key (or array element) the
 * message's path names, found in the text again after strings holding
 * brackets and quotes; none when the key is spelt with an escape.
 */
static void
test_where(void **state)
{
	(void)state;
	parse_err("{\n"
	    "  \"user-data\": \"}{][\\\"\\\\,\",\n"
	    "  \"options\": {\n"
	    "    \"http-tokens\": \"required\"\n"
	    "  },\n"
	    "  \"meta-data\": {\n"
	    "    \"placement\": {\n"
	    "      \"availability-zone\": [\"a\", \"]}\\\"\"],\n"
	    "      \"region\": 5\n"
	    "    }\n"
	    "  }\n"
	    "}\n",
	    NAME ":9:7: meta-data/placement/region: expected a string, an array of strings, "
	    "an object or null, got a number");
	/* an array element, tabs and CRLF: a tab is one column */
	parse_err("{\"scenario\": {\r\n"
	    "\t\"events\": [\r\n"
	    "\t\t{\"code\": \"system-reboot\", \"not-before\": \"+1h\"},\r\n"
	    "\t\t{\"code\": \"system-reboot\"}\r\n"
	    "\t]\r\n"
	    "}}\r\n",
	    NAME ":4:3: scenario/events/1: \"code\" and \"not-before\" (strings) are required");
	/* a bad key is pointed at itself, not at its parent */
	parse_err("{\"meta-data\": {\n"
	    "  \"ok\": \"1\",\n"
	    "  \"no?\": \"2\"\n"
	    "}}",
	    NAME ":3:3: meta-data: invalid name \"no?\": a path segment is 1 to 255 visible "
	    "ASCII characters without '/', '?' or '#', and not \".\" or \"..\"");
	/* "\u0062" is b: jansson reads it, the text does not spell it */
	parse_err("{\"meta-data\": {\"a\\u0062\": 1}}",
	    NAME ": meta-data/ab: expected a string, an array of strings, an object or null, "
	    "got a number");
}

static void
test_options(void **state)
{
	(void)state;
	parse_err("{\"options\": {\"http-protocol-ipv6\": \"enabled\"}}",
	    NAME ":1:14: options/http-protocol-ipv6: unknown option (known: http-endpoint, "
	    "http-tokens, http-put-response-hop-limit, instance-metadata-tags)");
	parse_err("{\"options\": {\"http-tokens\": \"sometimes\"}}",
	    NAME ":1:14: options/http-tokens: expected \"optional\" or \"required\", got \"sometimes\"");
	parse_err("{\"options\": {\"http-endpoint\": \"Enabled\"}}",
	    NAME ":1:14: options/http-endpoint: expected \"enabled\" or \"disabled\", got \"Enabled\"");
	parse_err("{\"options\": {\"instance-metadata-tags\": true}}",
	    NAME ":1:14: options/instance-metadata-tags: expected \"enabled\" or \"disabled\", "
	    "got a boolean");
	parse_err("{\"options\": {\"http-put-response-hop-limit\": 65}}",
	    NAME ":1:14: options/http-put-response-hop-limit: expected an integer from 1 to 64, "
	    "got 65");
	parse_err("{\"options\": {\"http-put-response-hop-limit\": 0}}",
	    NAME ":1:14: options/http-put-response-hop-limit: expected an integer from 1 to 64, "
	    "got 0");
	parse_err("{\"options\": {\"http-put-response-hop-limit\": \"2\"}}",
	    NAME ":1:14: options/http-put-response-hop-limit: expected an integer from 1 to 64, "
	    "got a string");
	parse_err("{\"options\": {\"http-put-response-hop-limit\": 2.0}}",
	    NAME ":1:14: options/http-put-response-hop-limit: expected an integer from 1 to 64, "
	    "got a number");
}

static void
test_tree_types(void **state)
{
	(void)state;
	parse_err("{\"meta-data\": {\"placement\": {\"region\": 1}}}",
	    NAME ":1:30: meta-data/placement/region: expected a string, an array of strings, "
	    "an object or null, got a number");
	parse_err("{\"dynamic\": {\"x\": false}}",
	    NAME ":1:14: dynamic/x: expected a string, an array of strings, an object or null, "
	    "got a boolean");
	parse_err("{\"meta-data\": {\"security-groups\": [\"a\", 2]}}",
	    NAME ":1:16: meta-data/security-groups: expected a string, an array of strings, "
	    "an object or null, got an array holding a number");
	parse_err("{\"meta-data\": {\"a\": [[\"b\"]]}}",
	    NAME ":1:16: meta-data/a: expected a string, an array of strings, an object or null, "
	    "got an array holding an array");
	/* names that cannot be path segments */
	parse_err("{\"meta-data\": {\"a/b\": \"x\"}}",
	    NAME ":1:16: meta-data: invalid name \"a/b\": a path segment is 1 to 255 visible "
	    "ASCII characters without '/', '?' or '#', and not \".\" or \"..\"");
	parse_err("{\"meta-data\": {\"x\": {\"..\": \"x\"}}}",
	    NAME ":1:22: meta-data/x: invalid name \"..\": a path segment is 1 to 255 visible "
	    "ASCII characters without '/', '?' or '#', and not \".\" or \"..\"");
	parse_err("{\"meta-data\": {\"\": \"x\"}}",
	    NAME ":1:16: meta-data: invalid name \"\": a path segment is 1 to 255 visible "
	    "ASCII characters without '/', '?' or '#', and not \".\" or \"..\"");
	/* a control character in a key never breaks the one-line message */
	parse_err("{\"meta-data\": {\"a\\nb\": \"x\"}}",
	    NAME ":1:2: meta-data: invalid name \"a?b\": a path segment is 1 to 255 visible "
	    "ASCII characters without '/', '?' or '#', and not \".\" or \"..\"");
}

static void
test_tags(void **state)
{
	struct config cfg;

	(void)state;
	parse_err("{\"meta-data\": {\"tags\": {\"instance\": {\"bad key\": \"v\"}}}}",
	    NAME ":1:38: meta-data/tags/instance: invalid tag key \"bad key\": tag keys may hold "
	    "only letters, digits and + - = . , _ : @ and may not be \".\", \"..\" or "
	    "\"_index\"");
	parse_err("{\"meta-data\": {\"tags\": {\"instance\": {\"_index\": \"v\"}}}}",
	    NAME ":1:38: meta-data/tags/instance: invalid tag key \"_index\": tag keys may hold "
	    "only letters, digits and + - = . , _ : @ and may not be \".\", \"..\" or "
	    "\"_index\"");
	parse_err("{\"meta-data\": {\"tags\": {\"instance\": {\"a/b\": \"v\"}}}}",
	    NAME ":1:38: meta-data/tags/instance: invalid tag key \"a/b\": tag keys may hold "
	    "only letters, digits and + - = . , _ : @ and may not be \".\", \"..\" or "
	    "\"_index\"");
	parse_err("{\"meta-data\": {\"tags\": {\"instance\": {\"Name\": 3}}}}",
	    NAME ":1:38: meta-data/tags/instance/Name: expected a string or null, got a number");
	parse_err("{\"meta-data\": {\"tags\": {\"instance\": {\"Name\": [\"a\"]}}}}",
	    NAME ":1:38: meta-data/tags/instance/Name: expected a string or null, got an array");
	parse_err("{\"meta-data\": {\"tags\": {\"host\": {}}}}",
	    NAME ":1:25: meta-data/tags/host: only instance/ is allowed under tags/");
	parse_err("{\"meta-data\": {\"tags\": \"x\"}}",
	    NAME ":1:16: meta-data/tags: expected an object or null, got a string");
	parse_err("{\"meta-data\": {\"tags\": {\"instance\": []}}}",
	    NAME ":1:25: meta-data/tags/instance: expected an object or null, got an array");
	parse_ok("{\"meta-data\": {\"tags\": null}}", &cfg);
	config_free(&cfg);
	parse_ok("{\"meta-data\": {\"tags\": {\"instance\": null}}}", &cfg);
	config_free(&cfg);
}

static void
test_document(void **state)
{
	struct config cfg;

	(void)state;
	parse_err("{\"dynamic\": {\"instance-identity\": {\"document\": {\"colour\": \"x\"}}}}",
	    NAME ":1:49: dynamic/instance-identity/document: unknown identity document field "
	    "\"colour\"");
	parse_err("{\"dynamic\": {\"instance-identity\": {\"document\": {\"kernelId\": 1}}}}",
	    NAME ":1:49: dynamic/instance-identity/document/kernelId: expected a string or null, "
	    "got a number");
	parse_err("{\"dynamic\": {\"instance-identity\": {\"document\": {\"instanceId\": null}}}}",
	    NAME ":1:49: dynamic/instance-identity/document/instanceId: expected a string, "
	    "got null");
	parse_err("{\"dynamic\": {\"instance-identity\": {\"document\": "
	    "{\"billingProducts\": \"bp\"}}}}",
	    NAME ":1:49: dynamic/instance-identity/document/billingProducts: expected an array of "
	    "strings or null, got a string");
	parse_err("{\"dynamic\": {\"instance-identity\": {\"document\": "
	    "{\"billingProducts\": [1]}}}}",
	    NAME ":1:49: dynamic/instance-identity/document/billingProducts: expected an array of "
	    "strings or null, got an array holding a number");
	/* a document given as a string is just a leaf */
	parse_ok("{\"dynamic\": {\"instance-identity\": {\"document\": \"{}\"}}}", &cfg);
	config_free(&cfg);
}

static void
test_user_data(void **state)
{
	struct config cfg;
	char *text, want[ERRBUF_LEN];
	size_t n = USER_DATA_MAX + 1;

	(void)state;
	parse_ok("{\"user-data\": null}", &cfg);
	assert_int_equal(cfg.cf_user_data_set, 1);
	assert_null(cfg.cf_user_data);
	assert_int_equal(cfg.cf_user_data_len, 0);
	config_free(&cfg);

	parse_ok("{\"user-data\": \"\"}", &cfg);
	assert_int_equal(cfg.cf_user_data_set, 1);
	assert_int_equal(cfg.cf_user_data_len, 0);
	config_free(&cfg);

	parse_err("{\"user-data\": 5}", NAME ":1:2: user-data: expected a string or null, got a number");

	/* {"user-data": "xxx...x"} with USER_DATA_MAX + 1, then exactly the max */
	text = malloc(n + 32);
	assert_non_null(text);
	memcpy(text, "{\"user-data\": \"", 15);
	memset(text + 15, 'x', n);
	memcpy(text + 15 + n, "\"}", 3);
	snprintf(want, sizeof(want), NAME ":1:2: user-data: %d bytes, more than the %d allowed",
	    USER_DATA_MAX + 1, USER_DATA_MAX);
	parse_err(text, want);
	memcpy(text + 15 + n - 1, "\"}", 3);
	parse_ok(text, &cfg);
	assert_int_equal(cfg.cf_user_data_len, USER_DATA_MAX);
	config_free(&cfg);
	free(text);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX", err[ERRBUF_LEN], want[ERRBUF_LEN + 64];
	static const char body[] = "{\n  \"options\": {\"bogus\": 1}\n}\n";
	struct config cfg;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(config_load("/nonexistent/gimme.json", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/gimme.json: No such file or directory");
	config_free(&cfg);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(body, 1, sizeof(body) - 1, f), sizeof(body) - 1);
	assert_int_equal(fflush(f), 0);
	/* messages carry the path as given, and the line and column */
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2:15: options/bogus: unknown option (known: "
	    "http-endpoint, http-tokens, http-put-response-hop-limit, instance-metadata-tags)",
	    path);
	assert_string_equal(err, want);

	/* a good file */
	assert_int_equal(ftruncate(fd, 0), 0);
	rewind(f);
	fputs("{\"options\": {\"http-tokens\": \"required\"}}", f);
	assert_int_equal(fflush(f), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.cf_opt.o_tokens_required, 1);
	config_free(&cfg);

	/* larger than CONFIG_FILE_MAX */
	assert_int_equal(ftruncate(fd, CONFIG_FILE_MAX + 1), 0);
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
	assert_string_equal(err, want);
	fclose(f);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_ecs_ids),
		cmocka_unit_test(test_where),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_tree_types),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_user_data),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_pod_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
