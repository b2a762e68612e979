/*
 * priv/: least privilege (habit 12).
 *
 *   sandbox.c   the daemon's drop: the user switch, capabilities,
 *               no_new_privs, the seccomp filter (sandbox_prepare,
 *               sandbox_helper_early, sandbox_enter); the capability and
 *               user-switch primitives the helper uses too
 *   seccomp.c   the allow-list, loaded with libseccomp by dlopen
 *   channel.c   the daemon's side of the helper: starting it (for a
 *               profile before start-up's first fetch, else at the drop),
 *               the two channels (OPEN a file slot, RUN a profile's
 *               credential_process: SANDBOX_JOBS_MAX at once; SOCK, the
 *               control socket bound after an early start), installed
 *               as read_file_set_opener and credproc_set_runner;
 *               sandbox_cleanup
 *   helper.c    the helper process (sandbox_helper_main): it becomes the
 *               owner of the shared files with no capability but
 *               CAP_DAC_READ_SEARCH (permitted, raised to open the fixed
 *               slots) and no_new_privs, opens the shared files without
 *               following symbolic links, refuses them (StrictModes) when
 *               writable by group or others or owned by another user, or
 *               in a directory others may write, and answers the daemon
 *
 * priv/ depends on core/ and creds/ only: what else the helper does at exit
 * (the control socket) is handed to sandbox_helper_main.  The functions
 * after "between the files of priv/" are for this folder only.
 */
#ifndef PRIV_H
#define PRIV_H

#include "core/core.h"
#include "creds/creds.h"


#define SANDBOX_USER_DEFAULT	"nobody"	/* --user when started as root */
#define SANDBOX_PATHS_MAX	6	/* files the helper opens (or removes) for the daemon */
#define SANDBOX_PATH_AWS_CONFIG	0	/* slots of sandbox_cfg.sbc_paths */
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
	int		 sbc_disabled;	/* --no-sandbox: none of it */
	const char	*sbc_user;	/* --user; NULL: SANDBOX_USER_DEFAULT */
	int		 sbc_user_set;	/* --user or GIMME_USER given */
	int		 sbc_keep_net_admin;	/* packet-filter rules are installed: keep CAP_NET_ADMIN */
	int		 sbc_exec_net_admin;	/* ... and programs exec'd (iptables) need it too:
						   ambient, and no seccomp filter */
	int		 sbc_log_json;	/* the helper logs like the daemon */
	int		 sbc_log_level;	/* enum log_level */
	/* files re-read after the drop (SANDBOX_PATH_*), NULL when unused */
	const char	*sbc_paths[SANDBOX_PATHS_MAX];
	/* the control socket file bound (ops' control_bound; ino 0: not yet): the helper
	   removes only it */
	dev_t		 sbc_control_dev;
	ino_t		 sbc_control_ino;
	/*
	 * the profile source's profile, NULL: none.  Set, the helper runs
	 * credential_process for the daemon (the profile each request names,
	 * read from the shared files by the helper): sandbox_enter installs it as
	 * the credentials layer's runner (credproc_set_runner).
	 */
	const char	*sbc_profile;
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
 * not read), switch to sbc_user with no supplementary groups (as root),
 * keep only CAP_NET_ADMIN (sbc_keep_net_admin) or no capability, set
 * no_new_privs, load the seccomp allow-list.  Logs one "sandbox: ..." line.
 * Nothing when sbc_disabled.  0, or -1 with err (then the caller exits 71).
 */
int		 sandbox_enter(const struct sandbox_cfg *sc, char *err, size_t errlen);
/*
 * Start the helper now, before start-up's first credential fetch, when the
 * source needs it (sbc_profile: its credential_process runs there from the
 * first, as the files' owner, with the helper's checks).  sandbox_enter
 * then keeps it and tells it the control socket bound since.  Nothing when
 * sbc_disabled or no profile.  0, or -1 with err.
 */
int		 sandbox_helper_early(const struct sandbox_cfg *sc, char *err, size_t errlen);
/* Close the channels (the helper exits when it sees them close). */
void		 sandbox_cleanup(void);
/*
 * `gimme-aws-mini sandbox-helper ...`: the helper's main (started by
 * sandbox_enter); trim (may be NULL) is called once, before it idles.
 * remove_sock (may be NULL) removes the daemon's control socket once the
 * daemon is gone, if it is still the file the daemon bound (device, inode:
 * ops' control_remove_bound: 1 removed, 0 none, -1 with err); handed in so
 * that priv/ needs no ops/.
 */
typedef int	(*sandbox_remove_fn)(const char *path, dev_t dev, ino_t ino, char *err,
		    size_t errlen);
int		 sandbox_helper_main(int argc, char **argv, void (*trim)(void),
		    sandbox_remove_fn remove_sock);

/* ------------------------------------------------------------------ */
/* between the files of priv/                                         */
/* ------------------------------------------------------------------ */
#define SANDBOX_CAP_BITS	64	/* capability numbers looked at (0..63) */
/* sandbox-helper FORMAT LEVEL RUN PATH... SOCKET ("DEV:INO" of the control socket, or "") */
#define SANDBOX_HELPER_ARGC	(5 + SANDBOX_PATHS_MAX)
#define SANDBOX_HELPER_RUNS	"credential_process"	/* RUN: the helper runs them; "": not */

/*
 * The channels' messages (fixed size: one SOCK_SEQPACKET message each).
 * SBX_SOCK (open channel, no answer, taken once): the control socket the
 * daemon bound after an early start, "DEV:INO" in q_profile.
 */
enum { SBX_OPEN = 1, SBX_RUN = 2, SBX_SOCK = 3 };

struct sbx_req {
	uint32_t	 q_type;	/* SBX_OPEN, SBX_RUN */
	uint32_t	 q_seq;		/* echoed in the reply */
	uint32_t	 q_arg;		/* OPEN: the slot; RUN: timeout in ms */
	char		 q_profile[AWSCONF_PROFILE_MAX + 1];	/* RUN: whose credential_process */
};

/* OPEN's answer (and, with seq 0, the helper's "ready"). */
struct sbx_open_rep {
	uint32_t	 orp_seq;
	int32_t		 orp_errno;	/* 0: the descriptor comes with it */
};

/* RUN's answer: a secret while it holds credentials; wiped after use. */
struct sbx_run_rep {
	uint32_t	 rrp_seq;
	int32_t		 rrp_ok;
	struct cred	 rrp_cred;
	char		 rrp_err[ERRBUF_LEN];
};

/* channel.c: one message with at most one descriptor (fd -1: none).  0 / -1. */
int		 sbx_send_fd(int sock, const void *buf, size_t len, int fd);
/* ... received (*fd -1 when none came): its length, or -1 (errno). */
ssize_t		 sbx_recv_fd(int sock, void *buf, size_t len, int *fd, int flags);
/*
 * channel.c: start the helper when sandbox_enter needs one (a profile, or,
 * switching users, files to re-read).  0 (desc: what it does, "" when
 * none was needed), or -1 with err.  Started already (early), it tells
 * the helper the control socket (SBX_SOCK) and gives the same desc.
 */
int		 sbx_helper_start(const struct sandbox_cfg *sc, int switching, char *desc,
		    size_t desclen, char *err, size_t errlen);

/* sandbox.c: capability sets as 64-bit masks (bit N: capability N). */
int		 sbx_caps_get(uint64_t *eff, uint64_t *prm);	/* 0 / -1 */
int		 sbx_caps_set(uint64_t eff, uint64_t prm, uint64_t inh);	/* 0 / -1 */
/* sbx_caps_set, then the ambient set cleared.  0 / -1 with err. */
int		 sbx_caps_settle(uint64_t eff, uint64_t prm, uint64_t inh, char *err,
		    size_t errlen);
int		 sbx_bounding_drop(uint64_t keep);	/* 0 / -1 (errno) */
/*
 * As root: become uid/gid for good, no supplementary groups, keeping the
 * permitted capabilities in keep (the caller sets them after).  0 / -1 with err.
 */
int		 sbx_become(uid_t uid, gid_t gid, uint64_t keep, char *err, size_t errlen);

/* seccomp.c: build and load the filter; *nrules: rules in it.  0 / -1 with err. */
int		 sbx_seccomp_install(unsigned *nrules, char *err, size_t errlen);

#endif /* PRIV_H */
