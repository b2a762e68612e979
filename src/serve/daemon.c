/*
 * daemon.c: the running daemon.  The snapshot of the current state, built
 * and published, and what the loop calls back once serve.c has started it:
 * new credentials, a watched file changed, the one-second tick, SIGHUP,
 * a control request, the lifecycle timer, /readyz and /metrics.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "serve/serve.h"

#define SERVE_RETRIM_QUIET_S	2	/* s after the last pod or role change, or I/O: memory given back */
#define PODS_PAGE_TAIL_MAX	(6 * POD_UID_MAX + 32)	/* bytes of a pods page's end:
						   ],"next":"UID"} (escaped) and its NUL */
#define PODS_PAGE_ROWS_MAX	256	/* pods rendered for one page (more than fit) */
#define CRED_REFRESH_MARGIN	300	/* s: refresh this long before CRED_MIN_AHEAD is crossed */

/* Defaults, then the config file's options, then flags and environment. */
struct imds_options
daemon_options(const struct config *cfg)
{
	struct imds_options o = { 1, 0, 1, 0 };

	imds_option_merge(&o, &cfg->cf_opt, cfg->cf_opt_set);
	imds_option_merge(&o, &cli.opt, cli.opt_set);
	return o;
}

/*
 * Read the config file and user data into cfg and derive the instance.
 * 0, or -1 with a one-line message in err.
 */
int
daemon_load_config(struct config *cfg, struct instance *inst, time_t now, char *err,
    size_t errlen)
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
		free(cfg->cf_user_data);
		cfg->cf_user_data = data;
		cfg->cf_user_data_len = len;
		cfg->cf_user_data_set = 1;
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
void
daemon_apply_role(struct instance *inst)
{
	snprintf(st.own_role, sizeof(st.own_role), "%s", inst->i_role);
	snprintf(st.own_account, sizeof(st.own_account), "%s", inst->i_account);
	role_overlay(inst);
}

/* Build a snapshot of the instance as of now (wall clock).  NULL (logged) on failure. */
struct snapshot *
daemon_build(time_t now)
{
	struct snapshot_input in;
	struct snapshot *s;
	char err[ERRBUF_LEN];

	memset(&in, 0, sizeof(in));
	in.si_inst = &st.inst;
	in.si_cfg = &st.cfg;
	in.si_opt = st.opt;
	in.si_ec2_cred = &st.ec2_cred;
	in.si_now = now;
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
int
daemon_publish(void)
{
	struct snapshot *s;

	if (!st.serving)
		return 0;
	if ((s = daemon_build(time(NULL))) == NULL)
		return -1;
	st.snap_at = s->s_last_modified;
	registry_render_all(&st.roles, s->s_last_modified);
	imds_serve_snapshot(s);
	return 0;
}

/*
 * The identity keys are there (keygen.c), or will not come (ok 0, the
 * failure recorded by keygen.c): the snapshot served is built again as
 * of the same instant, with its signatures or without the signature
 * leaves (the same bytes and Last-Modified otherwise; roles are not
 * rendered again), and the requests waiting for one are answered (404
 * without).  Before serving, the first publish signs, or leaves them out.
 * Start-up's trim again: key parsing and certificates touched library
 * pages and heap that serving does not need.
 *
 * A failure is not retried: the generator does CPU work only, and what
 * makes it fail (out of memory, a broken crypto library, a kill) would
 * make a retry fail the same way or flip the listing back and forth;
 * /readyz says why instead (daemon_ready), as start-up's exit 78 did.
 */
void
daemon_identity_ready(void *unused, int ok)
{
	struct snapshot *s;

	(void)unused;
	if (!st.serving || (s = daemon_build(st.snap_at)) == NULL)
		return;
	imds_serve_snapshot(s);
	if (ok)
		serve_mem_trim();
}

/*
 * A role's credentials changed, and the registry has rendered it again:
 * nothing else to do, unless the instance's role takes its new name now.
 */
void
daemon_creds_changed(void *unused, struct role *r)
{
	char role[sizeof(st.role)], account[sizeof(st.role_account)];

	(void)unused;
	http_wake();	/* a container request may be waiting for this role's first credentials */
	if (r == st.inst_role && creds_source_role_due(&st.src, st.cache, role, sizeof(role),
	    account, sizeof(account))) {
		/* the new chain's first credentials: its role name with them */
		if (strcmp(st.role, role) != 0)
			log_info("serving the role %s (was %s)", role[0] ? role : st.own_role,
			    st.role[0] ? st.role : st.own_role);
		snprintf(st.role, sizeof(st.role), "%s", role);
		snprintf(st.role_account, sizeof(st.role_account), "%s", account);
		role_overlay(&st.inst);
		daemon_publish();	/* the account is the instance's too */
	}
}

/* A watched file changed: fetch again. */
void
daemon_file_changed(void *unused)
{
	(void)unused;
	creds_source_reread(&st.src, st.cache, CREDS_REREAD_FILES);
}

/*
 * What ran last left freed heap and faulted library pages behind, given
 * back (serve_mem_trim) once it is over: SERVE_RETRIM_QUIET_S after the
 * last pod or role change (the pods' first list and their roles' fetches,
 * a wave of new pods), even while requests keep coming; or as long after
 * the last I/O or timer of any kind (a burst of requests, a watch event or
 * bookmark, libcurl's connect timer running out after the connection).
 * The kernel maps code in fault-around chunks of 64 KiB, so one TLS record
 * decrypted for a watch bookmark brings back about 2 MiB of libcurl, libssl
 * and libcrypto.
 */
static void
daemon_retrim(uint64_t now_ms)
{
	const struct assumed_stats *as;
	uint64_t changes = 0, io = loop_activity();

	if (st.pods)
		changes += pods_node_stats()->ps_role_changes;
	if (st.assumed) {
		as = assumed_stats();
		changes += as->as_added + as->as_dropped;
	}
	if (changes != st.trim_changes) {
		st.trim_changes = changes;
		st.trim_at = now_ms + 1000 * SERVE_RETRIM_QUIET_S;
	}
	if (io != st.trim_io) {
		st.trim_io = io;
		st.trim_io_at = now_ms + 1000 * SERVE_RETRIM_QUIET_S;
	}
	if ((st.trim_at != 0 && now_ms >= st.trim_at) ||
	    (st.trim_io_at != 0 && now_ms >= st.trim_io_at)) {
		serve_mem_trim();
		st.trim_at = st.trim_io_at = 0;
	}
}

/* Once a second: refresh what is due, expire what has expired. */
IDLE_PATH void
daemon_tick(void)
{
	time_t now = time(NULL);

	registry_tick(&st.roles, now);
	creds_source_tick(&st.src, st.cache);
	ecs_tick();
	pod_identity_tick(loop_now_ms());
	if (st.pods)
		pods_node_tick(now);
	if (st.assumed)
		assumed_tick(now);
	daemon_retrim(loop_now_ms());	/* monotonic: a clock step moves no trim */
	if (st.ec2_cred.cr_expiration - now < CRED_MIN_AHEAD + CRED_REFRESH_MARGIN) {
		cred_wipe(&st.ec2_cred);
		creds_ec2_placeholder(now, &st.ec2_cred);
		daemon_publish();
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

/*
 * Serve cfg and inst from now on (ctl set/unset, SIGHUP): the old config
 * is freed, cfg's memory is st.cfg's afterwards, and our role goes over
 * the new instance's.
 */
static void
adopt_config(struct config *cfg, const struct instance *inst)
{
	config_free(&st.cfg);
	st.cfg = *cfg;
	st.inst = *inst;
	daemon_apply_role(&st.inst);
}

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
	daemon_publish();
	daemon_life_schedule();
}

/* Arm the timer for the next time-driven change, to the second it is due. */
void
daemon_life_schedule(void)
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
	adopt_config(&cfg, &inst);
	if (daemon_publish() == -1)
		snprintf(reply, cap, "error building the metadata failed (see the log)");
	else
		snprintf(reply, cap, "ok %s %s", path, val != NULL ? "set" : "removed");
}

/*
 * `ctl pods`' page: the pods whose uid comes after the cursor, in uid order,
 * as many as fit one reply, "ok {"pods":[...],"next":"UID" or null}"; the
 * next page starts after the last uid sent, so that a pod added or deleted
 * between pages neither hides another nor repeats one.  Two passes: the uids
 * after the cursor, sorted; then the rows of the first PODS_PAGE_ROWS_MAX of
 * them only (a whole listing is not rendered again for every page).
 */
struct pods_page {
	const char	*pg_after;	/* the cursor: "" for the first page */
	char		**pg_uids;	/* the uids after it (sorted after the first pass) */
	char		**pg_rows;	/* pg_rows[i]: pg_uids[i]'s row, JSON (i < pg_nrows) */
	size_t		 pg_n, pg_cap, pg_nrows;
	int		 pg_failed;
};

static int
uid_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first pass: pi's uid, if after the cursor. */
static void
pods_page_uid(void *arg, const struct pod_info *pi)
{
	struct pods_page *pg = arg;
	char **uids;

	if (pg->pg_failed || strcmp(pi->pi_uid, pg->pg_after) <= 0)
		return;
	if (pg->pg_n == pg->pg_cap) {
		if ((uids = array_grow(pg->pg_uids, &pg->pg_cap, sizeof(*uids), 64,
		    POD_TABLE_PODS_MAX)) == NULL) {
			pg->pg_failed = 1;
			return;
		}
		pg->pg_uids = uids;
	}
	if ((pg->pg_uids[pg->pg_n] = mem_strdup(pi->pi_uid, strlen(pi->pi_uid))) == NULL)
		pg->pg_failed = 1;
	else
		pg->pg_n++;
}

/* The second pass: pi's row, if among the page's uids (never a secret: ARNs, reasons, STS's error text). */
static void
pods_page_row(void *arg, const struct pod_info *pi)
{
	struct pods_page *pg = arg;
	char addr[SOCK_ADDR_TEXT_MAX], when[ISO_DATE_LEN + 1];
	const char *key = pi->pi_uid;
	char **at;
	json_t *o, *addrs;
	size_t i;

	if (pg->pg_failed || (at = bsearch(&key, pg->pg_uids, pg->pg_nrows, sizeof(*at),
	    uid_cmp)) == NULL)
		return;
	o = json_object();
	addrs = json_array();
	for (i = 0; i < pi->pi_naddrs; i++)
		if (inet_ntop(pi->pi_addrs[i].pa_family, pi->pi_addrs[i].pa_addr, addr,
		    sizeof(addr)) != NULL)
			json_array_append_new(addrs, json_string(addr));
	when[0] = '\0';
	if (pi->pi_expiration != 0)
		fmt_iso8601(pi->pi_expiration, when);
	json_object_set_new(o, "namespace", json_string(pi->pi_namespace));
	json_object_set_new(o, "name", json_string(pi->pi_name));
	json_object_set_new(o, "uid", json_string(pi->pi_uid));
	json_object_set_new(o, "addresses", addrs);
	json_object_set_new(o, "role", pi->pi_host_network ? json_string(st.inst.i_role) :
	    pi->pi_arn != NULL ? json_string(pi->pi_arn) : json_null());
	json_object_set_new(o, "source", json_string(pi->pi_host_network ? "node" :
	    pods_source_name(pi->pi_source)));
	json_object_set_new(o, "reason", json_string(pi->pi_reason));
	json_object_set_new(o, "served", json_boolean(pi->pi_host_network || pi->pi_served));
	json_object_set_new(o, "expiration", when[0] != '\0' ? json_string(when) : json_null());
	json_object_set_new(o, "error", json_string(pi->pi_error != NULL ? pi->pi_error : ""));
	if ((pg->pg_rows[at - pg->pg_uids] = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII)) ==
	    NULL)
		pg->pg_failed = 1;
	json_decref(o);
}

/* The page's rows written into reply[0..cap): as many as fit; -1 with reply the error. */
static int
pods_page_write(const struct pods_page *pg, char *reply, size_t cap)
{
	size_t i, n, sent = 0, len = (size_t)snprintf(reply, cap, "ok {\"pods\":[");
	json_t *uid;
	char *next;

	for (i = 0; i < pg->pg_nrows; i++) {
		if (pg->pg_rows[i] == NULL)
			continue;	/* gone between the passes: can't be (one loop turn) */
		n = strlen(pg->pg_rows[i]);
		/* room for it, a comma, and the page's end */
		if (len + n + 1 + PODS_PAGE_TAIL_MAX >= cap)
			break;
		if (sent++ > 0)
			reply[len++] = ',';
		memcpy(reply + len, pg->pg_rows[i], n);
		len += n;
	}
	if (sent == 0 && i < pg->pg_nrows) {
		snprintf(reply, cap, "error pods: the row of pod %s does not fit a reply",
		    pg->pg_uids[i]);
		return -1;
	}
	if (i == pg->pg_n) {
		snprintf(reply + len, cap - len, "],\"next\":null}");
		return 0;
	}
	uid = json_string(pg->pg_uids[i - 1]);
	next = uid != NULL ? json_dumps(uid, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
	json_decref(uid);
	if (next == NULL) {
		snprintf(reply, cap, "error pods: out of memory");
		return -1;
	}
	snprintf(reply + len, cap - len, "],\"next\":%s}", next);
	free(next);
	return 0;
}

/* ctl pods [--after UID]: a page of the node's pods. */
static void
control_pods(const char *const *argv, size_t argc, char *reply, size_t cap)
{
	struct pods_page pg;
	size_t i;

	if (!st.pods) {
		snprintf(reply, cap, "error pods: the daemon does not follow pods (no --pod-roles)");
		return;
	}
	memset(&pg, 0, sizeof(pg));
	pg.pg_after = "";
	if (argc == 3 && strcmp(argv[1], "--after") == 0 && strlen(argv[2]) <= POD_UID_MAX)
		pg.pg_after = argv[2];
	else if (argc != 1) {
		snprintf(reply, cap, "error pods: expected nothing or --after UID (at most %d "
		    "bytes)", POD_UID_MAX);
		return;
	}
	pods_node_each(pods_page_uid, &pg);
	if (!pg.pg_failed) {
		qsort(pg.pg_uids, pg.pg_n, sizeof(*pg.pg_uids), uid_cmp);
		pg.pg_nrows = pg.pg_n < PODS_PAGE_ROWS_MAX ? pg.pg_n : PODS_PAGE_ROWS_MAX;
		if (pg.pg_nrows > 0 && (pg.pg_rows = calloc(pg.pg_nrows,
		    sizeof(*pg.pg_rows))) == NULL)
			pg.pg_failed = 1;
	}
	if (!pg.pg_failed)
		pods_node_each(pods_page_row, &pg);
	if (pg.pg_failed)
		snprintf(reply, cap, "error pods: out of memory");
	else
		(void)pods_page_write(&pg, reply, cap);
	for (i = 0; i < pg.pg_n; i++)
		free(pg.pg_uids[i]);
	for (i = 0; i < pg.pg_nrows; i++)
		free(pg.pg_rows[i]);
	free(pg.pg_uids);
	free(pg.pg_rows);
}

/* One control request (control.c): the lifecycle verbs, set, unset, rotate-credentials, state. */
void
daemon_control(const char *const *argv, size_t argc, char *reply, size_t cap)
{
	char text[ERRBUF_LEN], *json;
	time_t now = time(NULL);
	int rc;

	/* what time alone has changed comes first: `event complete` sees it */
	life_advance(&st.life, now);
	rc = life_command(&st.life, argv, argc, now, text, sizeof(text));
	if (rc == 0) {
		if (daemon_publish() == -1)
			snprintf(reply, cap, "error building the metadata failed (see the log)");
		else
			snprintf(reply, cap, "ok %s%s", text, strcmp(argv[0], "tag") == 0 &&
			    !st.opt.o_tags_enabled ? " (kept, not served: instance-metadata-tags "
			    "is disabled)" : "");
		daemon_life_schedule();
		return;
	}
	if (rc == -1) {
		snprintf(reply, cap, "error %s", text);
		return;
	}
	if (strcmp(argv[0], "pods") == 0)
		control_pods(argv, argc, reply, cap);
	else if (strcmp(argv[0], "set") == 0 && argc == 3)
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
void
daemon_hup(void)
{
	struct config cfg;
	struct instance inst;
	char err[ERRBUF_LEN];

	if (daemon_load_config(&cfg, &inst, st.inst.i_pending_time, err, sizeof(err)) == -1) {
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
	adopt_config(&cfg, &inst);
	st.opt = daemon_options(&st.cfg);
	if (st.pods)
		pods_node_rules_changed();	/* associations, role-map */
	if (daemon_publish() == 0)
		log_info("reloaded %s", cli.config_path != NULL ? cli.config_path :
		    "the configuration");
	/*
	 * and the credentials: a fetch now (the last good ones stay until it
	 * delivers), through a profile's new role chain if it changed
	 */
	creds_source_reread(&st.src, st.cache, CREDS_REREAD_HUP);
}

/*
 * /readyz: one reason per part that is not ready; none means ready.  The
 * reasons never hold a secret (cc_error never does).
 */
void
daemon_ready(struct health_reasons *r)
{
	if (!st.cache->cc_fetched_once)
		health_reason_add(r, "credentials: waiting for the first fetch from %s",
		    st.cache->cc_prov->cp_desc);
	else if (!st.cache->cc_have)
		health_reason_add(r, "credentials: %s", cred_cache_error(st.cache)[0] ?
		    cred_cache_error(st.cache) :
		    "expired, and no refresh has delivered yet");
	if (!st.serving)
		health_reason_add(r, "metadata: not serving yet");
	if (identity_failure() != NULL)
		health_reason_add(r, "identity: signatures not served: %s", identity_failure());
	if (cli.magic.mc_mode != MAGIC_OFF && !magicip_installed())
		health_reason_add(r, "magic-ip: %s", st.serving ? "installing the rules" :
		    cli.magic.mc_block ? "blocked until the server is ready" :
		    "rules not installed yet");
}

/*
 * The assumed roles' failures, summed per ARN: several roles share an ARN
 * (ExternalIds, and with --session-tags one role per pod), and one series
 * per label set is all Prometheus keeps.
 */
struct arn_failures {
	struct arn_sum {
		const char	*su_arn;
		unsigned long	 su_failed;
	}		*af_sums;
	size_t		 af_n, af_cap;
};

static void
role_failures_add(void *arg, const struct assumed *a)
{
	struct arn_failures *af = arg;
	const struct cred_cache *cc = &assumed_role(a)->ro_cache;
	struct arn_sum *sums;
	size_t i;

	if (cc->cc_n_failed == 0)
		return;
	for (i = 0; i < af->af_n; i++)
		if (strcmp(af->af_sums[i].su_arn, assumed_arn(a)) == 0) {
			af->af_sums[i].su_failed += cc->cc_n_failed;
			return;
		}
	if (af->af_n == af->af_cap) {
		if ((sums = array_grow(af->af_sums, &af->af_cap, sizeof(*sums), 16,
		    ASSUMED_ROLES_MAX)) == NULL)
			return;		/* out of memory: that ARN left out of this scrape */
		af->af_sums = sums;
	}
	af->af_sums[af->af_n].su_arn = assumed_arn(a);
	af->af_sums[af->af_n++].su_failed = cc->cc_n_failed;
}

/* One series per ARN with failures (the ARN is checked: no quote, no backslash). */
static void
metrics_role_failures(struct sbuf *o)
{
	struct arn_failures af = { NULL, 0, 0 };
	size_t i;

	assumed_each(role_failures_add, &af);
	for (i = 0; i < af.af_n; i++)
		sbuf_printf(o, "gimme_role_sts_failures_total{role=\"%s\"} %lu\n",
		    af.af_sums[i].su_arn, af.af_sums[i].su_failed);
	free(af.af_sums);
}

/* /metrics' series of --pod-identity: TokenReviews, verdicts, what was served. */
static void
metrics_pod_identity(struct sbuf *o)
{
	const struct pi_stats *ps = pod_identity_stats();

	health_prom_value(o, "gimme_pod_identity_reviews_total", "counter",
	    "TokenReviews asked.", ps->ps_reviews);
	health_prom_value(o, "gimme_pod_identity_review_failures_total", "counter",
	    "TokenReviews that failed (unreachable, 5xx): answered 503.", ps->ps_review_failures);
	health_prom_value(o, "gimme_pod_identity_denied_total", "counter",
	    "Tokens TokenReview did not authenticate.", ps->ps_denied);
	health_prom_value(o, "gimme_pod_identity_cached_total", "counter",
	    "Requests answered from a verdict kept.", ps->ps_cached);
	health_prom_value(o, "gimme_pod_identity_served_total", "counter",
	    "Credentials served.", ps->ps_served);
	health_prom_value(o, "gimme_pod_identity_throttled_total", "counter",
	    "New tokens refused (429): their address had too many under review.",
	    ps->ps_throttled);
	health_prom_value(o, "gimme_pod_identity_verdicts", "gauge",
	    "TokenReview verdicts kept (at most a minute each).", ps->ps_verdicts);
}

/* /metrics' series of --pod-roles (and --pod-identity): pods, roles, watches, waits, STS
 * failures per role; Pod Identity's. */
void
daemon_metrics_pods(struct sbuf *o)
{
	const struct pods_node_stats *ps;
	uint64_t waited, expired;

	if (!st.pods)
		return;
	ps = pods_node_stats();
	imds_serve_waits(&waited, &expired);
	health_prom_value(o, "gimme_pods_tracked", "gauge", "Pods of this node followed.",
	    ps->ps_pods);
	health_prom_value(o, "gimme_pod_addresses", "gauge", "Pod addresses known.",
	    ps->ps_addrs);
	health_prom_value(o, "gimme_roles_cached", "gauge",
	    "Roles assumed on the node's credentials and kept.", assumed_stats()->as_roles);
	health_prom_value(o, "gimme_roles_session_tagged", "gauge",
	    "... of which assumed with a pod's session tags (--session-tags).",
	    assumed_stats()->as_tagged);
	health_prom_value(o, "gimme_watch_restarts_total", "counter",
	    "Kubernetes watches that ended and were started again.", ps->ps_watch_restarts);
	health_prom_value(o, "gimme_pod_waits_total", "counter",
	    "Credential requests that waited for their caller's pod or role.", waited);
	health_prom_value(o, "gimme_pod_wait_timeouts_total", "counter",
	    "... of which answered as for no role at the end of --pod-wait.", expired);
	health_prom_head(o, "gimme_role_sts_failures_total", "counter",
	    "Failed STS fetches per role ARN, summed over the roles of it kept (ARNs with "
	    "failures only).");
	metrics_role_failures(o);
	if (cli.pod_identity)
		metrics_pod_identity(o);
}

/* /metrics: the credential cache's counters and the served expiry. */
void
daemon_health_creds(struct health_creds *hc)
{
	hc->hcr_refreshes = st.cache->cc_n_ok;
	hc->hcr_failures = st.cache->cc_n_failed;
	hc->hcr_have = st.cache->cc_have;
	hc->hcr_expires_in = st.cache->cc_have ?
	    (long)(st.cache->cc_cur.ck_expiration - time(NULL)) : 0;
}

