/*
 * serve/: the daemon put together, the top layer (it calls every other).
 *
 *   options.c   serve's options: one table (flag, kind, bounds, GIMME_*
 *               variable, target, help line) that parsing, the environment
 *               and `serve --help` all come from; which of them exec takes
 *   option_values.c  the values they take: a checker or parser per kind,
 *               named by the table's rows
 *   listeners.c the listeners the options imply (--magic-ip's, --ecs's,
 *              --pod-identity's) and
 *               the magic IP's endpoint rows with their targets
 *   serve.c     start-up in order, shutdown in reverse (one way out); the
 *               serve and creds verbs
 *   exec.c      the exec verb: COMMAND run with a private ECS-style credential
 *               endpoint on loopback (a token of its own), signals forwarded
 *   daemon.c    the running daemon: the snapshot built and published, and what
 *               the loop calls back (credentials changed, identity keys ready,
 *               files changed, the tick, SIGHUP, control requests, the
 *               lifecycle timer, readiness)
 *
 * Precedence: flags win over the environment, the environment over the
 * config file's "options", and those over the defaults.
 */
#ifndef SERVE_H
#define SERVE_H

#include <sys/types.h>

#include "core/core.h"
#include "http/http.h"
#include "creds/creds.h"
#include "imds/imds.h"
#include "netfilter/netfilter.h"
#include "ops/ops.h"
#include "container/container.h"
#include "pods/pods.h"

#define OPTS_ERR_MAX		4096	/* bytes in an option error message (it quotes the value) */

/* ------------------------------------------------------------------ */
/* options.c: the option table and its parser                         */
/* ------------------------------------------------------------------ */

/* What the command line and environment asked for (opts_parse fills it). */
struct serve_options {
	struct listen_addr listen[LISTEN_MAX];
	size_t		 nlisten;
	const char	*config_path;
	const char	*user_data_path;
	struct imds_options opt;	/* values of the instance options set here */
	unsigned	 opt_set;	/* OPT_SET_* */
	const char	*identity_key;
	const char	*identity_cert;
	unsigned long	 max_conn;
	int		 access_log;
	int		 log_json;
	enum log_level	 log_level;
	const char	*source;	/* auto, example, env, profile */
	const char	*profile;	/* NULL: AWS_PROFILE, else "default" */
	const char	*role_name;
	int		 allow_long_term;
	const char	*assume_role;
	const char	*external_id;
	const char	*session_name;
	unsigned	 duration;	/* s, 0 = STS's default */
	const char	*sts_region;
	const char	*sts_endpoint;
	const char	*ca_bundle;
	struct magic_conf magic;	/* --magic-ip and its companions */
	int		 pods_from_flag;
	const char	*control;	/* --control socket path, NULL: none */
	unsigned	 control_mode;
	uid_t		 control_uid;	/* (uid_t)-1: unchanged */
	gid_t		 control_gid;
	struct http_limits limits;	/* IMDS's: --max-connections-per-client, ... */
	unsigned	 grace_ms;	/* --shutdown-grace */
	struct listen_addr health;	/* --health-listen */
	int		 health_set;
	const char	*user;		/* --user; NULL: nobody */
	int		 no_sandbox;
	int		 magic_up_verb;	/* parsing `magic-ip up`, not serve */
	int		 exec_verb;	/* parsing `exec`: only the options it takes */
	int		 exec_argi;	/* exec: argv index of the command */
	int		 ecs;		/* --ecs: serve the ECS credential endpoint */
	struct listen_addr ecs_listen[LISTEN_MAX];	/* its listeners */
	size_t		 necs_listen;
	const char	*base_role_arn;	/* --base-role-arn: what /role/<name> and pods' names complete */
	int		 pod_roles;	/* --pod-roles: each pod its own role */
	int		 pod_identity;	/* --pod-identity: serve the EKS Pod Identity endpoint */
	struct listen_addr pi_listen[LISTEN_MAX];	/* its listeners */
	size_t		 npi_listen;
	size_t		 npi_given;	/* the first npi_listen given by --pod-identity-listen */
	int		 session_tags;	/* --session-tags: Pod Identity with EKS's session tags */
	const char	*cluster_name;	/* --cluster-name; NULL: the kubeconfig's, else the default */
	const char	*node_name;	/* --node-name; NULL: $NODE_NAME, else the host name */
	const char	*kubeconfig;	/* --kubeconfig; NULL: in-cluster, KUBECONFIG, ~/.kube/config */
	unsigned	 pod_wait_ms;	/* --pod-wait */
	const char	*default_role;	/* --default-role NAME|ARN */
	int		 ns_restrict;	/* --namespace-restrictions */
	struct pod_opts	 pod_opts;	/* the three above, checked (opts_parse) */
	unsigned long	 head_max;	/* --max-header-bytes */
	unsigned long	 headers_max;	/* --max-headers */
	int		 help;		/* --help came (parsing stopped there) */
};

/* What kind of value an option takes, and so how it is parsed. */
enum opt_kind {
	OPT_SWITCH,	/* no value; the environment's 1/true/yes or 0/false/no (int) */
	OPT_NUMBER,	/* a whole number from od_lo to od_hi (unsigned long) */
	OPT_TIME,	/* 10s, 500ms, or seconds, from od_lo to od_hi ms (unsigned) */
	OPT_WORD,	/* one of od_words (an int-sized enum or int: the word's value) */
	OPT_STRING,	/* a string, checked by od_check if set (const char *) */
	OPT_LIST,	/* comma-separated in the environment, repeatable as flags, which
			   replace the environment's; od_parse takes one item, od_off is
			   the count (size_t) set to 0 then */
	OPT_VALUE,	/* a value od_parse parses into the options itself */
	OPT_INSTANCE,	/* an instance option (imds_option_parse): od_imds */
	OPT_HELP	/* print the help */
};

/* One word of an OPT_WORD option; hidden words are accepted but not named. */
struct opt_word {
	const char	*ow_word;
	int		 ow_value;
	int		 ow_hidden;
};

/* One row of the table: everything about one option. */
struct opt_def {
	const char	*od_flag;	/* "listen": --listen */
	const char	*od_arg;	/* its value in --help: "ADDR:PORT", "[=nat|alias]", NULL */
	enum opt_kind	 od_kind;
	int		 od_optional;	/* the value may be left out (--flag=value): the first word */
	unsigned long	 od_lo, od_hi;	/* OPT_NUMBER, OPT_TIME (ms) bounds */
	const char	*od_eg;		/* OPT_TIME: examples in its message ("10s, 500ms") */
	const char	*od_env;	/* "GIMME_LISTEN"; NULL only for help */
	size_t		 od_off;	/* offsetof(struct serve_options, its target) */
	const struct opt_word *od_words;	/* OPT_WORD: ends with a NULL word */
	enum imds_opt_id od_imds;	/* OPT_INSTANCE */
	/* OPT_STRING: 0, or -1 with what follows "--flag: " in the message */
	int		(*od_check)(const char *val, char *err, size_t errlen);
	/* OPT_LIST (one item), OPT_VALUE: 0, or -1 with the message's rest */
	int		(*od_parse)(struct serve_options *o, const char *val, char *err,
			    size_t errlen);
	const char	*od_help;	/* its help, lines separated by '\n' */
};

extern const struct opt_def opt_defs[];
extern const size_t opt_ndefs;

/* option_values.c: the values the table's rows check and parse.  0 / -1 with err. */
int		 optval_check_source(const char *val, char *err, size_t errlen);
int		 optval_check_profile(const char *val, char *err, size_t errlen);
int		 optval_check_role_name(const char *val, char *err, size_t errlen);
int		 optval_check_role_arn(const char *val, char *err, size_t errlen);
int		 optval_check_external_id(const char *val, char *err, size_t errlen);
int		 optval_check_session_name(const char *val, char *err, size_t errlen);
int		 optval_check_sts_region(const char *val, char *err, size_t errlen);
int		 optval_check_sts_endpoint(const char *val, char *err, size_t errlen);
int		 optval_check_readable(const char *val, char *err, size_t errlen);
int		 optval_check_control(const char *val, char *err, size_t errlen);
int		 optval_check_user(const char *val, char *err, size_t errlen);
int		 optval_check_base_arn(const char *val, char *err, size_t errlen);
int		 optval_check_node_name(const char *val, char *err, size_t errlen);
int		 optval_check_cluster_name(const char *val, char *err, size_t errlen);
int		 optval_parse_listen(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_ecs_listen(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_pi_listen(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_pod(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_duration(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_rate(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_health(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_control_mode(struct serve_options *o, const char *val, char *err,
		    size_t errlen);
int		 optval_parse_control_owner(struct serve_options *o, const char *val, char *err,
		    size_t errlen);

/* The row of --flag, or NULL. */
const struct opt_def *opts_find(const char *flag);
/*
 * Defaults, then the GIMME_* variables, then argv's flags (argv[0] is the
 * verb), then the checks across options (--magic-ip's companions, the
 * health port).  0 (o->help set when --help stopped it), or EXIT_USAGE with
 * the message in err.
 */
int		 opts_parse(struct serve_options *o, int argc, char **argv, char *err,
		    size_t errlen);
/* `serve --help`, the option lines generated from the table. */
void		 opts_help(FILE *out);
/* The option lines alone: every option's, or (exec) those exec takes. */
void		 opts_help_rows(FILE *out, int exec);
/*
 * "gimme-aws-mini: MSG (see 'gimme-aws-mini serve --help')" on stderr and
 * exit EXIT_USAGE.
 */
void		 opts_usage_exit(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
/* listeners.c */
/* The endpoint table's rows and where nat sends each, once bound (bound: their real ports). */
void		 opts_magic_targets(struct serve_options *o, int bound);
/* --magic-ip's and --ecs's checks, and the listeners they add.  0 / -1 with err. */
int		 opts_listeners(struct serve_options *o, char *err, size_t errlen);
/* Whether `exec` takes the option of row d. */
int		 opts_exec_takes(const struct opt_def *d);
/* exec.c: `exec --help`. */
void		 opts_exec_help(FILE *out);

/* ------------------------------------------------------------------ */
/* serve.c: start-up and shutdown, the serve and creds verbs          */
/* ------------------------------------------------------------------ */

/* serve [options]: runs until a signal.  The exit status. */
int		 serve_main(int argc, char **argv);
/* creds [options]: print the credentials document serve would hand out.  The exit status. */
int		 serve_creds_main(int argc, char **argv);
/*
 * The start-up that serve, creds and exec share (up to the first
 * credential; for exec and --ecs the container rendering and its assumed
 * roles too): 0, an exit status after a one-line message, or -1 (stopped
 * by a signal while waiting).  serve_shut_down undoes it, from any point.
 */
int		 serve_start_up(void);
void		 serve_shut_down(void);

/* exec.c: exec [credential options] -- COMMAND [ARGS...].  The exit status. */
int		 serve_exec_main(int argc, char **argv);
/*
 * Give back the memory start-up needed and serving does not (heap, and the
 * clean pages of shared libraries).  The sandbox helper calls it too.
 */
void		 serve_mem_trim(void);

/* ------------------------------------------------------------------ */
/* serve.c and daemon.c: the running state (not for other modules)    */
/* ------------------------------------------------------------------ */

struct serve_state {
	struct config	 cfg;
	struct instance	 inst;
	struct imds_options opt;
	struct role_registry roles;	/* the roles served and their credentials */
	struct roles_ctx roles_ctx;	/* what they are rendered from: inst, cfg */
	struct ctr_ctx	 ctr_ctx;	/* ... for the container endpoints (--ecs, exec): inst */
	struct role	*inst_role;	/* the instance's role, in roles */
	struct roles_who who;		/* who a caller is (roles_resolve) */
	int		 assumed;	/* creds/assumed.c started (--ecs, exec, --pod-roles) */
	int		 pods;		/* pods/node.c started (--pod-roles) */
	uint64_t	 trim_changes;	/* pods' and roles' changes seen (daemon_retrim) */
	uint64_t	 trim_at;	/* monotonic ms: memory given back then, if nothing changes; 0: none */
	uint64_t	 trim_io;	/* loop_activity() seen */
	uint64_t	 trim_io_at;	/* monotonic ms: given back then, if no I/O or timer runs; 0: none */
	struct cred_cache *cache;	/* its credentials: &inst_role->ro_cache */
	char		 role[ROLE_NAME_MAX + 1];
	struct cred	 ec2_cred;
	int		 serving;	/* the server is up: publish snapshots */
	time_t		 snap_at;	/* the instant the snapshot served is of */
	char		 role_account[16];	/* account of an assumed role, "" if none */
	struct creds_source src;	/* where the credentials come from (creds/source.c) */
	struct lifecycle life;		/* spot, events, ASG, tags, ctl set/unset */
	struct loop_timer life_timer;	/* the next time-driven change */
	time_t		 life_due;	/* ... and when it is due (wall clock) */
	int		 serve;		/* the serve verb (not creds): open the health listener */
	int		 container;	/* --ecs or exec: the container rendering and assumed roles */
	char		 own_role[FACT_MAX];	/* the instance's, before ours */
	char		 own_account[FACT_MAX];
};

/* serve.c's: the options parsed, the running state (short names: the code reads as before) */
extern struct serve_options cli;
extern struct serve_state st;

/* daemon.c */
/* Read the config file and user data, derive the instance.  0 / -1 with err. */
int		 daemon_load_config(struct config *cfg, struct instance *inst, time_t now,
		    char *err, size_t errlen);
/* The instance options in force: defaults, the config file's, then the flags'. */
struct imds_options daemon_options(const struct config *cfg);
/* Keep inst's own role and account, and serve ours over them. */
void		 daemon_apply_role(struct instance *inst);
/* A snapshot of the current state as of now (wall clock); NULL (logged). */
struct snapshot	*daemon_build(time_t now);
/* Serve a new snapshot (once serving).  0 / -1 (logged). */
int		 daemon_publish(void);
/* Arm the timer for the next time-driven lifecycle change. */
void		 daemon_life_schedule(void);
/* The loop's callbacks, handed over by serve.c. */
void		 daemon_creds_changed(void *unused, struct role *r);
void		 daemon_identity_ready(void *unused, int ok);
void		 daemon_file_changed(void *unused);
void		 daemon_tick(void);
void		 daemon_hup(void);
void		 daemon_control(const char *const *argv, size_t argc, char *reply, size_t cap);
void		 daemon_ready(struct health_reasons *r);
void		 daemon_health_creds(struct health_creds *hc);
void		 daemon_metrics_pods(struct sbuf *o);

#endif /* SERVE_H */
