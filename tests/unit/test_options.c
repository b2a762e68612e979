/*
 * test_options.c: serve's option table (serve/options.c) and the instance
 * options' value parser it shares with the config file (imds/config.c).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "serve/serve.h"

#define T_ARGS_MAX	16	/* words in one test command line */
#define T_NAME_MAX	64	/* bytes in a derived GIMME_* name */

/* Parse serve's words (NULL-terminated, "serve" first) into *o from a zeroed start. */
static int
parse(struct serve_options *o, char *err, size_t errlen, const char *const *words)
{
	char *argv[T_ARGS_MAX + 1];
	int argc = 0;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	while (words[argc] != NULL) {
		assert_true(argc < T_ARGS_MAX);
		argv[argc] = (char *)words[argc];	/* getopt moves the pointers only */
		argc++;
	}
	argv[argc] = NULL;
	return opts_parse(o, argc, argv, err, errlen);
}

static void
clear_env(void)
{
	size_t i;

	for (i = 0; i < opt_ndefs; i++)
		if (opt_defs[i].od_env != NULL)
			unsetenv(opt_defs[i].od_env);
}

static int
setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

/* Every row is whole: help, its variable named after the flag, what its kind needs. */
static void
test_rows_complete(void **state)
{
	char name[T_NAME_MAX];
	size_t i, j, k;

	(void)state;
	assert_true(opt_ndefs > 30);
	for (i = 0; i < opt_ndefs; i++) {
		const struct opt_def *d = &opt_defs[i];
		assert_non_null(d->od_flag);
		assert_non_null(d->od_help);
		assert_true(d->od_help[0] != '\0');
		assert_null(strstr(d->od_help, "\n\n"));
		for (j = i + 1; j < opt_ndefs; j++)
			assert_string_not_equal(d->od_flag, opt_defs[j].od_flag);
		if (d->od_kind == OPT_HELP) {
			assert_null(d->od_env);
			continue;
		}
		/* the man page's rule: GIMME_ and the flag, upper case, - as _ */
		assert_non_null(d->od_env);
		snprintf(name, sizeof(name), "GIMME_%s", d->od_flag);
		for (k = 0; name[k] != '\0'; k++)
			name[k] = name[k] == '-' ? '_' : (char)toupper((unsigned char)name[k]);
		assert_string_equal(d->od_env, name);
		switch (d->od_kind) {
		case OPT_NUMBER:
		case OPT_TIME:
			assert_true(d->od_lo <= d->od_hi);
			assert_true(d->od_hi > 0);
			if (d->od_kind == OPT_TIME)
				assert_non_null(d->od_eg);
			break;
		case OPT_WORD:
			assert_non_null(d->od_words);
			assert_non_null(d->od_words[0].ow_word);
			break;
		case OPT_LIST:
		case OPT_VALUE:
			assert_non_null(d->od_parse);
			break;
		case OPT_INSTANCE:
			assert_true(d->od_imds < IMDS_NOPTS);
			break;
		case OPT_SWITCH:
		case OPT_STRING:
		case OPT_HELP:
			break;
		}
		/* a value named in --help exactly when the option takes one */
		assert_int_equal(d->od_arg == NULL, d->od_kind == OPT_SWITCH);
	}
	assert_ptr_equal(opts_find("hop-limit"), &opt_defs[4]);
	assert_null(opts_find("no-such-option"));
}

/* --help has a line for every row, with the start of its help text. */
static void
test_help_lists_every_row(void **state)
{
	char *text = NULL, line[T_NAME_MAX + 8], first[T_NAME_MAX];
	const char *nl;
	size_t len = 0, i;
	FILE *f;

	(void)state;
	assert_non_null(f = open_memstream(&text, &len));
	opts_help(f);
	fclose(f);
	for (i = 0; i < opt_ndefs; i++) {
		const struct opt_def *d = &opt_defs[i];
		if (d->od_kind == OPT_HELP)
			snprintf(line, sizeof(line), "\n  -h, --%s ", d->od_flag);
		else
			snprintf(line, sizeof(line), "\n  --%s%s", d->od_flag,
			    d->od_arg == NULL ? " " : d->od_arg[0] == '[' ? "[" : " ");
		assert_non_null(strstr(text, line));
		nl = strchr(d->od_help, '\n');
		snprintf(first, sizeof(first), "%.*s", nl != NULL ? (int)(nl - d->od_help) :
		    (int)strlen(d->od_help), d->od_help);
		assert_non_null(strstr(strstr(text, line), first));
	}
	assert_non_null(strstr(text, "usage: " PROGNAME " serve [options]\n"));
	assert_non_null(strstr(text, "exit status: 0 stopped by a signal, 64 bad usage, 78 "));
	free(text);
}

struct bad_case {
	const char	*bc_args[4];
	const char	*bc_msg;
};

/* Values out of bounds: exit status 64 and the message naming the flag. */
static void
test_bounds_refused(void **state)
{
	static const struct bad_case cases[] = {
		{ { "serve", "--max-connections", "0" },
		    "--max-connections: expected a number from 1 to 1000000, got '0'" },
		{ { "serve", "--max-connections", "1000001" },
		    "--max-connections: expected a number from 1 to 1000000, got '1000001'" },
		{ { "serve", "--hop-limit", "0" },
		    "--hop-limit: expected a number from 1 to 64, got '0'" },
		{ { "serve", "--hop-limit", "65" },
		    "--hop-limit: expected a number from 1 to 64, got '65'" },
		{ { "serve", "--http-tokens", "maybe" },
		    "--http-tokens: expected optional or required, got 'maybe'" },
		{ { "serve", "--http-endpoint", "on" },
		    "--http-endpoint: expected enabled or disabled, got 'on'" },
		{ { "serve", "--request-timeout", "99ms" },
		    "--request-timeout: expected a time from 100ms to 600s (10s, 500ms), got '99ms'" },
		{ { "serve", "--request-timeout", "601" },
		    "--request-timeout: expected a time from 100ms to 600s (10s, 500ms), got '601'" },
		{ { "serve", "--shutdown-grace", "601s" },
		    "--shutdown-grace: expected a time from 0 to 600s (3s, 500ms), got '601s'" },
		{ { "serve", "--max-header-bytes", "1023" },
		    "--max-header-bytes: expected a number from 1024 to 8192, got '1023'" },
		{ { "serve", "--max-headers", "65" },
		    "--max-headers: expected a number from 8 to 64, got '65'" },
		{ { "serve", "--rate-limit", "5/m" },
		    "--rate-limit: expected requests per second from 0 (off) to 100000, as N/s, "
		    "got '5/m'" },
		{ { "serve", "--log-level", "trace" },
		    "--log-level: expected debug, info, warn or error, got 'trace'" },
		{ { "serve", "--magic-ip=maybe" },
		    "--magic-ip: expected nat or alias, got 'maybe'" },
		{ { "serve", "--firewall", "pf" },
		    "--firewall: expected nft, iptables or auto, got 'pf'" },
		{ { "serve", "--control-mode", "0400" },
		    "--control-mode: expected an octal mode from 0600 to 0777 that lets the owner "
		    "read and write (0600, 0660), got '0400'" },
		{ { "serve", "--role-name", "a b" },
		    "--role-name: 'a b' is not a role name (1 to 64 of A-Z a-z 0-9 + = , . @ _ -)" },
		{ { "serve", "--ipv6" }, "--ipv6 needs --magic-ip" },
		{ { "serve", "--bogus" }, "unknown option '--bogus'" },
		{ { "serve", "--listen" }, "option '--listen' needs a value" },
		{ { "serve", "extra" }, "unexpected argument 'extra'" },
	};
	struct serve_options o;
	char err[OPTS_ERR_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(&o, err, sizeof(err), cases[i].bc_args), EXIT_USAGE);
		assert_string_equal(err, cases[i].bc_msg);
	}
}

/* The bounds themselves are accepted, and land in their targets. */
static void
test_bounds_accepted(void **state)
{
	static const char *const lo[] = { "serve", "--max-connections", "1", "--hop-limit", "1",
	    "--request-timeout", "100ms", "--shutdown-grace", "0", "--max-header-bytes", "1024",
	    "--max-headers", "8", NULL };
	static const char *const hi[] = { "serve", "--max-connections", "1000000",
	    "--hop-limit", "64", "--request-timeout", "600s", "--shutdown-grace", "60s",
	    "--max-header-bytes", "8192", "--max-headers", "64", "--rate-limit", "7/s", NULL };
	struct serve_options o;
	char err[OPTS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), lo), 0);
	assert_int_equal(o.max_conn, 1);
	assert_int_equal(o.opt.o_hop_limit, 1);
	assert_int_equal(o.opt_set, OPT_SET_HOPLIMIT);
	assert_int_equal(o.limits.hl_req_timeout_ms, 100);
	assert_int_equal(o.grace_ms, 0);
	assert_int_equal(o.head_max, 1024);
	assert_int_equal(o.headers_max, 8);
	assert_int_equal(parse(&o, err, sizeof(err), hi), 0);
	assert_int_equal(o.max_conn, 1000000);
	assert_int_equal(o.opt.o_hop_limit, 64);
	assert_int_equal(o.limits.hl_req_timeout_ms, 600000);
	assert_int_equal(o.grace_ms, 60000);
	assert_int_equal(o.head_max, HTTP_HEAD_MAX);
	assert_int_equal(o.headers_max, HTTP_HEADERS_MAX);
	assert_int_equal(o.limits.hl_rate, 7);
}

/* Nothing given: the defaults --help states. */
static void
test_defaults(void **state)
{
	static const char *const none[] = { "serve", NULL };
	struct serve_options o;
	char err[OPTS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), none), 0);
	assert_int_equal(o.nlisten, 1);
	assert_string_equal(o.listen[0].la_text, "127.0.0.1:1338");
	assert_int_equal(o.max_conn, CONN_MAX_DEFAULT);
	assert_int_equal(o.limits.hl_per_client, CONN_PER_CLIENT_DEFAULT);
	assert_int_equal(o.limits.hl_req_timeout_ms, HTTP_REQ_TIMEOUT_MS);
	assert_int_equal(o.grace_ms, SHUTDOWN_GRACE_MS);
	assert_int_equal(o.log_level, LOG_LVL_INFO);
	assert_int_equal(o.control_mode, CONTROL_MODE_DEFAULT);
	assert_int_equal(o.opt_set, 0);
	assert_int_equal(o.magic.mc_mode, MAGIC_OFF);
	assert_int_equal(o.help, 0);
}

/* The GIMME_* variables are applied; flags win over them; lists are replaced. */
static void
test_env_applied(void **state)
{
	static const char *const none[] = { "serve", NULL };
	static const char *const flags[] = { "serve", "--hop-limit", "7", "--listen",
	    "127.0.0.1:9", NULL };
	struct serve_options o;
	char err[OPTS_ERR_MAX];

	(void)state;
	setenv("GIMME_HOP_LIMIT", "5", 1);
	setenv("GIMME_ACCESS_LOG", "1", 1);
	setenv("GIMME_LISTEN", "127.0.0.1:1,[::1]:2", 1);
	setenv("GIMME_LOG_LEVEL", "warn", 1);
	setenv("GIMME_REQUEST_TIMEOUT", "500ms", 1);
	setenv("GIMME_HTTP_TOKENS", "required", 1);
	setenv("GIMME_MAGIC_IP", "yes", 1);
	setenv("GIMME_ROLE_NAME", "env-role", 1);
	assert_int_equal(parse(&o, err, sizeof(err), none), 0);
	assert_int_equal(o.opt.o_hop_limit, 5);
	assert_int_equal(o.opt.o_tokens_required, 1);
	assert_int_equal(o.opt_set, OPT_SET_HOPLIMIT | OPT_SET_TOKENS);
	assert_int_equal(o.access_log, 1);
	assert_int_equal(o.log_level, LOG_LVL_WARN);
	assert_int_equal(o.limits.hl_req_timeout_ms, 500);
	assert_int_equal(o.magic.mc_mode, MAGIC_NAT);
	assert_string_equal(o.role_name, "env-role");
	assert_int_equal(o.nlisten, 2);
	assert_string_equal(o.listen[1].la_text, "[::1]:2");
	assert_int_equal(parse(&o, err, sizeof(err), flags), 0);
	assert_int_equal(o.opt.o_hop_limit, 7);
	assert_int_equal(o.nlisten, 1);
	assert_string_equal(o.listen[0].la_text, "127.0.0.1:9");
	/* a bad variable is named in the message */
	setenv("GIMME_ACCESS_LOG", "maybe", 1);
	assert_int_equal(parse(&o, err, sizeof(err), none), EXIT_USAGE);
	assert_string_equal(err, "GIMME_ACCESS_LOG: expected 1 or 0, got 'maybe'");
	clear_env();
}

/* --help stops parsing where it stands; what came before it still counts. */
static void
test_help_stops(void **state)
{
	static const char *const help[] = { "serve", "--help", "--hop-limit", "0", NULL };
	static const char *const late[] = { "serve", "--bogus", "-h", NULL };
	struct serve_options o;
	char err[OPTS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), help), 0);
	assert_int_equal(o.help, 1);
	assert_int_equal(parse(&o, err, sizeof(err), late), EXIT_USAGE);
	assert_string_equal(err, "unknown option '--bogus'");
}

/* The flags and the config file's "options" share one value parser. */
static void
test_instance_options_shared(void **state)
{
	static const char *const flags[] = { "serve", "--http-tokens", "required",
	    "--http-endpoint", "disabled", "--hop-limit", "3", NULL };
	static const char json[] = "{\"options\": {\"http-tokens\": \"required\", "
	    "\"http-endpoint\": \"disabled\", \"http-put-response-hop-limit\": 3}}";
	const struct imds_opt_def *d;
	struct imds_options io;
	struct serve_options o;
	struct config cfg;
	char err[OPTS_ERR_MAX];
	unsigned set = 0;

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), flags), 0);
	config_init(&cfg);
	assert_int_equal(config_parse(json, sizeof(json) - 1, "t.json", &cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.cf_opt_set, o.opt_set);
	assert_int_equal(cfg.cf_opt.o_tokens_required, o.opt.o_tokens_required);
	assert_int_equal(cfg.cf_opt.o_endpoint_enabled, o.opt.o_endpoint_enabled);
	assert_int_equal(cfg.cf_opt.o_hop_limit, o.opt.o_hop_limit);
	config_free(&cfg);

	memset(&io, 0, sizeof(io));
	assert_non_null(d = imds_option_find("instance-metadata-tags", 22));
	assert_int_equal(imds_option_parse(d, "enabled", 7, &io, &set), 0);
	assert_int_equal(io.o_tags_enabled, 1);
	assert_int_equal(set, OPT_SET_TAGS);
	assert_int_equal(imds_option_parse(d, "enabled\0x", 9, &io, &set), -1);
	assert_int_equal(imds_option_parse(d, "enable", 6, &io, &set), -1);
	assert_non_null(d = imds_option_find("http-put-response-hop-limit", 27));
	assert_int_equal(imds_option_parse(d, "65", 2, &io, &set), -1);
	assert_int_equal(imds_option_parse(d, "-1", 2, &io, &set), -1);
	assert_int_equal(imds_option_parse(d, "64", 2, &io, &set), 0);
	assert_int_equal(io.o_hop_limit, 64);
	assert_null(imds_option_find("http-token", 10));

	/* a layer over another: only what its bits say */
	memset(&io, 0, sizeof(io));
	imds_option_merge(&io, &o.opt, OPT_SET_TOKENS);
	assert_int_equal(io.o_tokens_required, 1);
	assert_int_equal(io.o_endpoint_enabled, 0);
	assert_int_equal(io.o_hop_limit, 0);
	imds_option_merge(&io, &o.opt, o.opt_set);
	assert_int_equal(io.o_hop_limit, 3);
}

/* --pod-identity: its listeners, given and implied, and the magic IP's row. */
static void
test_pod_identity_listeners(void **state)
{
	static const char *const alone[] = { "serve", "--pod-identity", NULL };
	static const char *const given[] = { "serve", "--pod-identity-listen", "127.0.0.1:8081",
		"--node-name", "n1", NULL };
	static const char *const nat[] = { "serve", "--pod-identity", "--magic-ip", "--ipv6",
		NULL };
	static const char *const alias[] = { "serve", "--pod-identity", "--magic-ip=alias",
		"--ipv6", NULL };
	static const unsigned char v4[4] = { 169, 254, 170, 23 }, lo[4] = { 127, 0, 0, 1 };
	struct serve_options o;
	struct magic_endpoint *me;
	char err[OPTS_ERR_MAX];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), alone), EXIT_USAGE);
	assert_string_equal(err, "--pod-identity needs --pod-identity-listen ADDR:PORT or "
	    "--magic-ip");
	/* given: implies --pod-identity, and the pods' options with it (not --pod-roles) */
	assert_int_equal(parse(&o, err, sizeof(err), given), 0);
	assert_true(o.pod_identity && !o.pod_roles);
	assert_int_equal(o.npi_listen, 1);
	assert_int_equal(o.npi_given, 1);
	/* nat: a loopback listener of its own, and one on [fd00:ec2::23] for --ipv6 */
	assert_int_equal(parse(&o, err, sizeof(err), nat), 0);
	assert_int_equal(o.npi_given, 0);
	assert_int_equal(o.npi_listen, 2);
	assert_string_equal(o.pi_listen[0].la_text, "127.0.0.1:0");
	assert_int_equal(o.pi_listen[1].la_family, AF_INET6);
	assert_true(o.pi_listen[1].la_freebind);
	opts_magic_targets(&o, 0);
	assert_int_equal(o.magic.mc_nep, 2);
	me = &o.magic.mc_ep[1];
	assert_memory_equal(me->me_ip4, v4, 4);
	assert_int_equal(me->me_port, 80);
	assert_false(me->me_hop);
	assert_memory_equal(me->me_to4, lo, 4);
	assert_int_equal(me->me_ip6[0], 0xfd);
	assert_int_equal(me->me_ip6[15], 0x23);
	assert_memory_equal(me->me_to6, me->me_ip6, 16);	/* its own listener there */
	/* alias: on the two addresses themselves */
	assert_int_equal(parse(&o, err, sizeof(err), alias), 0);
	assert_int_equal(o.npi_listen, 2);
	assert_string_equal(o.pi_listen[0].la_text, "169.254.170.23:80");
	assert_string_equal(o.pi_listen[1].la_text, "[fd00:ec2::23]:80");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rows_complete, setup),
		cmocka_unit_test_setup(test_help_lists_every_row, setup),
		cmocka_unit_test_setup(test_bounds_refused, setup),
		cmocka_unit_test_setup(test_bounds_accepted, setup),
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_env_applied, setup),
		cmocka_unit_test_setup(test_help_stops, setup),
		cmocka_unit_test_setup(test_instance_options_shared, setup),
		cmocka_unit_test_setup(test_pod_identity_listeners, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
