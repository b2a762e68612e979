/*
 * serve.c: the daemon put together.  Start-up in order (options, privilege
 * checks, the config and instance, the credential source and its first
 * fetch, the control socket, the listeners, the magic IP, the sandbox),
 * the loop, then shutdown in reverse through one way out.  The creds verb
 * shares start-up up to the first credential.
 *
 * Every serve option can also come from a GIMME_* environment variable of
 * the same name (options.c); anything wrong on the command line or in the
 * config file is one line on stderr and a non-zero exit before anything is
 * served.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "serve/serve.h"
#include "priv/priv.h"

#define MAPS_LINE_MAX		512	/* bytes in one line of /proc/self/smaps */
#define TRIM_RANGES_MAX		512	/* library mappings serve_mem_trim may drop (35 libraries, several each) */

struct serve_options cli;	/* what the command line and environment asked for */
struct serve_state st;		/* the running state the loop's callbacks work on */

/* serve and creds: the options, or the usage message and exit 64 (0 for --help). */
static void
parse_args(int argc, char **argv)
{
	char err[OPTS_ERR_MAX];

	if (opts_parse(&cli, argc, argv, err, sizeof(err)) != 0)
		opts_usage_exit("%s", err);
	if (cli.help) {
		opts_help(stdout);
		exit(0);
	}
}

/* credential sources: moving to creds/ (issue 13 item 5) */

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
int
chain_check(void)
{
	struct assume_step steps[STS_CHAIN_MAX];
	struct cred_provider *base, *p, *old;
	char root[AWSCONF_PROFILE_MAX + 1], err[ERRBUF_LEN];
	char role[ROLE_NAME_MAX + 1], account[sizeof(st.next_account)];
	size_t n = 0, i;

	if (!st.chain_on)
		return 0;
	if (st.cache.cc_busy) {
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
	old = st.cache.cc_prov;
	st.cache.cc_prov = p;
	if (old->cp_free != NULL)
		old->cp_free(old);
	memcpy(st.chain, steps, sizeof(st.chain));
	st.nchain = n;
	snprintf(st.next_role, sizeof(st.next_role), "%s", role);
	snprintf(st.next_account, sizeof(st.next_account), "%s", account);
	st.next_after = st.cache.cc_n_ok;
	st.role_pending = 1;
	log_info("profile %s: the role chain changed (%zu role%s%s%.200s); credentials from "
	    "%s now", st.chain_profile, n, n == 1 ? "" : "s", n > 0 ? ", the last " : "",
	    n > 0 ? steps[n - 1].as_arn : "", p->cp_desc);
	cred_cache_refresh(&st.cache, time(NULL));
	return 1;
}

/* end of the credential sources moving to creds/ */

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
	if (daemon_load_config(&st.cfg, &st.inst, now, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	st.opt = daemon_options(&st.cfg);
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
	http_server_init(cli.grace_ms, &metrics.m_limit_hits[LIM_FDS]);
	cli.limits.hl_conn_max = cli.max_conn;
	http_parse_limits_set(&cli.limits.hl_parse, cli.head_max, cli.headers_max);
	if (choose_source(&prov, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	daemon_apply_role(&st.inst);
	cred_cache_init(&st.cache, prov, daemon_creds_changed, NULL);
	st.cache.cc_allow_long_term = cli.allow_long_term;
	/* the health listener answers from now on: /readyz says what is missing */
	health_callbacks(daemon_ready, daemon_health_creds);
	if (st.serve && cli.health_set && health_serve(&cli.health, &cli.limits.hl_parse, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_SYSTEM;
	}
	/* the first fetch decides: nothing is served without credentials */
	cred_cache_refresh(&st.cache, now);
	switch (loop_run_until(&st.cache.cc_fetched_once)) {
	case 0:
		break;
	case 1:		/* SIGTERM/SIGINT while waiting: a clean stop */
		log_info("stopped before the first credentials arrived");
		return -1;
	default:
		return EXIT_SYSTEM;
	}
	if (!st.cache.cc_have) {
		/* one line: the source, how it was chosen, what went wrong */
		fprintf(stderr, "%s: credentials from %s%s: %s\n", PROGNAME, prov->cp_desc,
		    st.source_why, st.cache.cc_error);
		return EXIT_CONFIG;
	}
	log_info("credentials: %s%s: access key %s, expiring in %ld s", prov->cp_desc,
	    st.source_why, st.cache.cc_cur.c_akid, (long)(st.cache.cc_cur.c_expiration - now));
	if (identity_init(cli.identity_key, cli.identity_cert, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	creds_ec2_placeholder(now, &st.ec2_cred);
	if ((files[0] = cred_provider_file(prov, 0)) != NULL) {
		files[1] = cred_provider_file(prov, 1);
		if (watch_files(files, 2, daemon_file_changed, NULL, err, sizeof(err)) == -1)
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
void
serve_mem_trim(void)
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
	if (st.cache.cc_prov != NULL) {
		sc->sb_paths[SANDBOX_PATH_AWS_CONFIG] = cred_provider_file(st.cache.cc_prov, 0);
		sc->sb_paths[SANDBOX_PATH_AWS_CREDS] = cred_provider_file(st.cache.cc_prov, 1);
		sc->sb_profile = cred_provider_profile_name(st.cache.cc_prov);
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
	cred_cache_free(&st.cache);
	cred_wipe(&st.ec2_cred);
	config_free(&st.cfg);
	life_free(&st.life);
	identity_cleanup();
	token_cleanup();
}

int
serve_main(int argc, char **argv)
{
	struct sandbox_cfg sc;
	char err[ERRBUF_LEN];
	int rc, ran = 0;

	parse_args(argc, argv);
	log_init(cli.log_json, cli.log_level);
	/* what needs privileges is checked before anything else is done */
	if (magicip_check_privileges(&cli.magic, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_NOPERM;
	}
	sandbox_config(&sc);
	if (sandbox_prepare(&sc, err, sizeof(err)) == -1)
		opts_usage_exit("--user: %s", err);
	if (cli.magic.mc_mode == MAGIC_NAT && cli.magic.mc_block) {
		opts_magic_targets(&cli, 0);
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
	rc = EXIT_SYSTEM;	/* until http_run says otherwise */
	/* before the listeners: a second daemon on the same socket stops here */
	if (cli.control != NULL && control_open(cli.control, cli.control_mode, cli.control_uid,
	    cli.control_gid, daemon_control, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out;
	}
	imds_serve_options(cli.access_log);
	if (http_serve(&imds_http_service, &cli.limits, cli.listen, cli.nlisten, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out_control;
	}
	st.serving = 1;
	if (daemon_publish() == -1) {
		rc = EXIT_CONFIG;
		goto out_server;
	}
	daemon_life_schedule();
	log_info("instance %s (%s) in %s, role %s; http-tokens %s, hop limit %d%s",
	    st.inst.i_instance_id, st.inst.i_instance_type, st.inst.i_az, st.inst.i_role,
	    st.opt.o_tokens_required ? "required" : "optional", st.opt.o_hop_limit,
	    st.opt.o_endpoint_enabled ? "" : ", endpoint disabled");
	/* listening, with credentials: now the magic IP may lead here */
	if (cli.magic.mc_mode != MAGIC_OFF) {
		opts_magic_targets(&cli, 1);
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
	loop_callbacks(daemon_tick, daemon_hup);
	serve_mem_trim();
	rc = http_run() == 0 ? 0 : EXIT_SYSTEM;
	ran = 1;
	loop_timer_cancel(&st.life_timer);
	/* every way out undoes what was set up, in reverse */
out_server:
	http_shutdown();
	imds_serve_snapshot(NULL);
	loop_cleanup();
out_control:
	control_close();
out:
	magic_remove();
	clean_up();
	if (ran)
		log_info("stopped");
	return rc;
}


/* creds: print what serve would hand out at iam/security-credentials/<role>. */
int
serve_creds_main(int argc, char **argv)
{
	const struct md_node *n;
	struct snapshot *s;
	char path[MD_PATH_MAX];
	int rc;

	parse_args(argc, argv);
	if ((rc = start_up()) != 0)
		return rc < 0 ? 0 : rc;
	if ((s = daemon_build()) == NULL)
		return EXIT_CONFIG;
	snprintf(path, sizeof(path), "meta-data/iam/security-credentials/%s", st.inst.i_role);
	if (st.inst.i_role[0] == '\0' ||
	    (n = tree_lookup(s->s_root, path, strlen(path))) == NULL || n->n_dir) {
		fprintf(stderr, "%s: no role is served (the config removed it)\n", PROGNAME);
		rc = EXIT_CONFIG;
	} else {
		fwrite(n->n_body, 1, n->n_bodylen, stdout);
		fputc('\n', stdout);
		log_info("role %s: the document served at /latest/%s", st.inst.i_role, path);
	}
	snapshot_unref(s);
	loop_cleanup();
	clean_up();
	return rc;
}

