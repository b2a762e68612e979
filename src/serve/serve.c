/*
 * serve.c: the daemon put together.  Start-up in order (options, privilege
 * checks, the config and instance, the identity key generator started, the
 * credential source and its first fetch, the control socket, the
 * listeners, the magic IP, the sandbox), the loop (start-up's memory given
 * back SERVE_TRIM_DELAY_MS later), then shutdown in reverse through one
 * way out (serve_shut_down: every exit from start_up's first step on, the creds
 * verb's too).  Nothing on the way to the first answer waits for the keys.
 * The creds verb shares start-up up to the first credential.
 *
 * Every serve option can also come from a GIMME_* environment variable of
 * the same name (options.c); anything wrong on the command line or in the
 * config file is one line on stderr and a non-zero exit before anything is
 * served.
 */
#include <arpa/inet.h>
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
#define SERVE_TRIM_DELAY_MS	100	/* ms after the listeners open: start-up's memory given back */
#define SERVE_MMAP_THRESHOLD	4096	/* bytes: malloc maps blocks this big on their own */
#define TRIM_RANGES_MAX		512	/* read-only file mappings serve_mem_trim may drop (36 files) */

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

static void	 sandbox_config(struct sandbox_cfg *sc);
static int	 assumed_start(char *err, size_t errlen);

/* What the credential source is made from (creds/source.c). */
static void
source_config(struct creds_source_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->src_source = cli.source;
	c->src_profile = cli.profile;
	c->src_role_name = cli.role_name;
	c->src_allow_long_term = cli.allow_long_term;
	c->src_assume_role = cli.assume_role;
	c->src_external_id = cli.external_id;
	c->src_session_name = cli.session_name;
	c->src_duration = cli.duration;
	c->src_sts_region = cli.sts_region;
	c->src_sts_endpoint = cli.sts_endpoint;
	c->src_ca_bundle = cli.ca_bundle;
	c->src_region = st.inst.i_region;
	c->src_own_role = st.own_role;
	c->src_inst_role = st.inst.i_role;
}

/* The identity keys are generated in the background: no file names them. */
static int
id_background(void)
{
	return cli.identity_key == NULL && cli.identity_cert == NULL;
}

/*
 * Everything up to the first credential: config, instance, the identity
 * keys (serve only: made in the background, or read from their file), the
 * source and its first fetch.  Shared by serve and creds.  0, the exit
 * status after a one-line message on stderr, or -1: stopped by a signal
 * while waiting (exit 0).
 */
int
serve_start_up(void)
{
	struct cred_provider *prov;
	struct role_renderer rr;
	struct creds_source_cfg scfg;
	struct sandbox_cfg sc;
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
	if (life_scenario(&st.life, st.cfg.cf_scenario, now, err, sizeof(err)) == -1) {
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
	/*
	 * Without a key or certificate file the identity keys are made in the
	 * background from here on (a child process): nothing waits for them
	 * but a request for a signature.  creds serves none: no keys.
	 */
	if (st.serve && id_background() && keygen_start(daemon_identity_ready, NULL, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_SYSTEM;
	}
	http_server_init(cli.grace_ms, &metrics.m_limit_hits[LIM_FDS]);
	cli.limits.hl_conn_max = cli.max_conn;
	http_parse_limits_set(&cli.limits.hl_parse, cli.head_max, cli.headers_max);
	source_config(&scfg);
	if (creds_source_open(&st.src, &scfg, &prov, st.role, sizeof(st.role), st.role_account,
	    sizeof(st.role_account), err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	daemon_apply_role(&st.inst);
	st.roles_ctx.rc_inst = &st.inst;
	st.roles_ctx.rc_cfg = &st.cfg;
	registry_init(&st.roles, daemon_creds_changed, NULL);
	roles_renderer(&rr, &st.roles_ctx);
	registry_renderer(&st.roles, RENDER_IMDS, &rr);
	if (st.container) {
		st.ctr_ctx.cx_inst = &st.inst;
		/* exec serves the ECS endpoint; serve what its flags say */
		st.ctr_ctx.cx_layouts = (!st.serve || cli.ecs ? CTR_LAYOUT_BIT(CTR_ECS) : 0) |
		    (cli.pod_identity ? CTR_LAYOUT_BIT(CTR_POD_IDENTITY) : 0);
		/* lazy: most pods' roles are asked for at one endpoint only */
		registry_renderer(&st.roles, RENDER_CONTAINER, &(struct role_renderer){
		    ctr_render, ctr_view_unref, &st.ctr_ctx, 1 });
	}
	if ((st.inst_role = registry_add(&st.roles, ROLE_KEY_INSTANCE, st.inst.i_role, "", prov,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	st.cache = &st.inst_role->ro_cache;
	st.cache->cc_allow_long_term = cli.allow_long_term;
	/* the health listener answers from now on: /readyz says what is missing */
	health_callbacks(daemon_ready, daemon_health_creds);
	health_metrics_more(daemon_metrics_pods);
	if (st.serve && cli.health_set && health_serve(&cli.health, &cli.limits.hl_parse, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_SYSTEM;
	}
	/* a credential_process runs in the sandbox helper from the first (#17 finding 5) */
	sandbox_config(&sc);
	if (st.serve && sandbox_helper_early(&sc, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: sandbox: %s\n", PROGNAME, err);
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
		    st.src.cs_why, cred_cache_error(st.cache));
		return EXIT_CONFIG;
	}
	log_info("credentials: %s%s: access key %s, expiring in %ld s", prov->cp_desc,
	    st.src.cs_why, st.cache->cc_cur.ck_akid, (long)(st.cache->cc_cur.ck_expiration - now));
	/* a key file to read or write, a certificate file to write: checked before serving */
	if (st.serve && !id_background() && identity_init(cli.identity_key, cli.identity_cert,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	if ((st.container || (st.serve && (cli.pod_roles || cli.pod_identity))) &&
	    assumed_start(err, sizeof(err)) == -1) {
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
 * Roles assumed on the node's credentials (--ecs, exec, --pod-roles,
 * --pod-identity): the STS client, the shared roles (creds/assumed.c), the
 * container endpoints' use of them, then the node's pods (serve only),
 * whose roles are fetched as the first list delivers them (Pod Identity's
 * verdicts are told of their pod's deletion).
 */
static int
assumed_start(char *err, size_t errlen)
{
	int watch = cli.pod_roles || cli.pod_identity;
	struct assumed_cfg ac = { &st.roles, st.inst_role, cli.session_name, cli.duration,
	    watch ? pods_node_users : NULL, NULL };
	struct ctr_roles cr = { &st.roles, st.inst_role, cli.base_role_arn };
	struct pods_node_cfg pc = { cli.kubeconfig, cli.node_name, NULL, &cli.pod_opts,
	    &st.cfg.cf_pods, cli.pod_identity ? pod_identity_pod_gone : NULL,
	    cli.pod_identity ? pod_identity_pod_changed : NULL, cli.session_tags,
	    cli.cluster_name, st.inst.i_region };

	if (creds_source_sts_start(&st.src, err, errlen) == -1 ||
	    assumed_init(&ac, err, errlen) == -1)
		return -1;
	st.assumed = 1;
	if (st.container)
		ctr_roles_init(&cr);
	if (!st.serve || !watch)
		return 0;
	if (pods_node_start(&pc, err, errlen) == -1)
		return -1;
	st.pods = 1;
	return 0;
}

/*
 * Give back the memory that start-up needed and serving does not: free heap
 * pages, and the code pages that start-up and the burst faulted in: of the
 * shared libraries (mostly libcrypto, for key generation and signing) and
 * of the daemon itself (options, config, keys, sandbox: a third of its
 * text, run once), mapped in 64 KiB chunks by the kernel's fault-around.
 * Only read-only private file mappings with no privately modified page,
 * in memory or swapped out ("Anonymous: 0 kB" and "Swap: 0 kB" in smaps),
 * are dropped: their pages equal the file's, so a later use faults them
 * back from the page cache (the next request after a quiet spell takes a
 * few minor faults).  Writable mappings, RELRO ones (relocated, then made
 * read-only) and the kernel's own ([vdso]: no file) keep their pages.
 */
IDLE_PATH void
serve_mem_trim(void)
{
	struct { unsigned long lo, hi; } drop[TRIM_RANGES_MAX];
	char line[MAPS_LINE_MAX], perms[5];
	unsigned long lo = 0, hi = 0, a, b, kb;
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
			cand = perms[1] != 'w' && perms[3] == 'p' && strchr(line, '/') != NULL;	/* a file */
		} else if (cand && sscanf(line, "Anonymous: %lu kB", &kb) == 1) {
			cand = kb == 0;
		} else if (cand && sscanf(line, "Swap: %lu kB", &kb) == 1) {
			/* a modified page swapped out counts here, not in Anonymous */
			if (kb == 0) {
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

static struct loop_timer trim_timer;	/* start-up's trim, once serving */

static void
trim_due(void *unused)
{
	(void)unused;
	serve_mem_trim();
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
	sc->sbc_disabled = cli.no_sandbox;
	sc->sbc_user = cli.user;
	sc->sbc_user_set = cli.user != NULL;
	sc->sbc_log_json = cli.log_json;
	sc->sbc_log_level = (int)cli.log_level;
	sc->sbc_paths[SANDBOX_PATH_CONFIG] = cli.config_path;
	sc->sbc_paths[SANDBOX_PATH_USER_DATA] = cli.user_data_path;
	sc->sbc_paths[SANDBOX_PATH_CONTROL] = cli.control;
	/* the file bound, once it is (ino 0 before) */
	(void)control_bound(&sc->sbc_control_dev, &sc->sbc_control_ino);
	if (st.cache != NULL) {
		sc->sbc_paths[SANDBOX_PATH_AWS_CONFIG] = cred_provider_file(st.cache->cc_prov, 0);
		sc->sbc_paths[SANDBOX_PATH_AWS_CREDS] = cred_provider_file(st.cache->cc_prov, 1);
		sc->sbc_profile = cred_provider_profile_name(st.cache->cc_prov);
	}
	sc->sbc_paths[SANDBOX_PATH_CA_BUNDLE] = creds_source_ca_bundle(&st.src);
	/* rules or the alias to keep up and remove at exit */
	sc->sbc_keep_net_admin = magicip_installed();
	sc->sbc_exec_net_admin = magicip_firewall() == FW_IPTABLES;
}

/*
 * Every way out, from start_up's first step on: what was set up is undone,
 * in reverse.  Each step does nothing when its part was never set up, so
 * this one ladder serves every exit: start_up failing half-way, serve's
 * own failures, a clean stop, the creds verb.
 */
void
serve_shut_down(void)
{
	/* serve_main's part: the listeners (IMDS and health), the control socket,
	   the magic IP, the sandbox (after: its helper may remove the rules) */
	http_shutdown();
	imds_serve_snapshot(NULL);
	control_close();
	if (st.serve)
		magic_remove();
	sandbox_cleanup();
	/* start_up's, last step first */
	watch_stop();
	cred_wipe(&st.ec2_cred);
	identity_cleanup();
	credproc_stop_all();	/* a fetch under way: its cache goes next */
	pod_identity_stop();	/* its reviews and roles: before the client and roles go */
	if (st.pods)
		pods_node_stop();	/* its roles released: before assumed_free */
	st.pods = 0;
	if (st.assumed)
		assumed_free();
	st.assumed = 0;
	registry_free(&st.roles);
	st.inst_role = NULL;
	st.cache = NULL;
	creds_source_close(&st.src);
	keygen_stop();
	loop_cleanup();
	token_cleanup();
	life_free(&st.life);
	config_free(&st.cfg);
}

/*
 * The Pod Identity endpoint: --pod-identity-listen's addresses are
 * accepted as Host too (the magic IP's always are).  0 / -1 with err.
 */
static int
pod_identity_start(char *err, size_t errlen)
{
	char hosts[LISTEN_MAX][INET6_ADDRSTRLEN];
	const char *given[LISTEN_MAX];
	size_t i;

	for (i = 0; i < cli.npi_given; i++) {
		inet_ntop(cli.pi_listen[i].la_family, cli.pi_listen[i].la_addr, hosts[i],
		    sizeof(hosts[i]));
		given[i] = hosts[i];
	}
	pod_identity_setup(&pod_identity_node_ops, given, cli.npi_given, cli.access_log);
	return http_serve(&pod_identity_http_service, &cli.limits, cli.pi_listen,
	    cli.npi_listen, err, errlen);
}

int
serve_main(int argc, char **argv)
{
	struct sandbox_cfg sc;
	char err[ERRBUF_LEN];
	int rc, ran = 0;

	/*
	 * Blocks of a page and more get their own mappings, given back whole
	 * when freed; no pad at the heap's top.  A daemon's bursts (a hundred
	 * TLS connections' buffers at once, list pages) then leave no
	 * half-used heap pages behind between the small blocks that stay.
	 */
	mallopt(M_MMAP_THRESHOLD, SERVE_MMAP_THRESHOLD);
	mallopt(M_TOP_PAD, 0);
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
	st.container = cli.ecs || cli.pod_identity;
	if ((rc = serve_start_up()) != 0) {
		serve_shut_down();
		return rc < 0 ? 0 : rc;	/* < 0: stopped by a signal while starting */
	}
	rc = EXIT_SYSTEM;	/* until http_run says otherwise */
	/* before the listeners: a second daemon on the same socket stops here */
	if (cli.control != NULL && control_open(cli.control, cli.control_mode, cli.control_uid,
	    cli.control_gid, daemon_control, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out;
	}
	imds_serve_options(cli.access_log, cli.pod_roles, cli.pod_wait_ms);
	if (http_serve(&imds_http_service, &cli.limits, cli.listen, cli.nlisten, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out;
	}
	st.who.rw_node = st.inst_role;
	st.who.rw_who = st.pods && cli.pod_roles ? pods_node_who : NULL;
	imds_serve_resolver(roles_resolve, &st.who);
	ecs_serve_setup(&st.cfg, NULL, cli.access_log);
	if (cli.ecs && http_serve(&ecs_http_service, &cli.limits, cli.ecs_listen, cli.necs_listen,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out;
	}
	if (cli.pod_identity && pod_identity_start(err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		goto out;
	}
	st.serving = 1;
	if (daemon_publish() == -1) {
		rc = EXIT_CONFIG;
		goto out;
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
			goto out;
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
		goto out;
	}
	loop_callbacks(daemon_tick, daemon_hup);
	/* off the path of the first answers: the trim reads smaps, ~1 ms */
	loop_timer_set(&trim_timer, SERVE_TRIM_DELAY_MS, trim_due, NULL);
	rc = http_run() == 0 ? 0 : EXIT_SYSTEM;
	ran = 1;
	loop_timer_cancel(&trim_timer);
	loop_timer_cancel(&st.life_timer);
out:
	serve_shut_down();	/* every way out undoes what was set up, in reverse */
	if (ran)
		log_info("stopped");
	return rc;
}


/* creds: print what serve would hand out at iam/security-credentials/<role>. */
int
serve_creds_main(int argc, char **argv)
{
	const struct md_node *n;
	char path[MD_PATH_MAX];
	int rc;

	parse_args(argc, argv);
	if ((rc = serve_start_up()) != 0) {
		serve_shut_down();
		return rc < 0 ? 0 : rc;
	}
	snprintf(path, sizeof(path), "meta-data/iam/security-credentials/%s", st.inst.i_role);
	if (registry_render(st.inst_role, time(NULL)) == -1)
		rc = EXIT_CONFIG;
	else if (st.inst.i_role[0] == '\0' || (n = tree_lookup(roles_view(st.inst_role)->rv_root,
	    path, strlen(path))) == NULL || n->n_dir) {
		fprintf(stderr, "%s: no role is served (the config removed it)\n", PROGNAME);
		rc = EXIT_CONFIG;
	} else {
		fwrite(n->n_body, 1, n->n_bodylen, stdout);
		fputc('\n', stdout);
		log_info("role %s: the document served at /latest/%s", st.inst.i_role, path);
	}
	serve_shut_down();
	return rc;
}

