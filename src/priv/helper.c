/*
 * helper.c: the sandbox helper process, `gimme-aws-mini sandbox-helper`
 * (started by channel.c, which says why it exists): it answers the
 * daemon's OPEN and RUN requests.
 *
 * What it may do itself (issue #17, finding 5).  Started as root, it
 * becomes at once the user whose files it reads and runs: the owner of
 * the shared files (~/.aws/config, else credentials) when it runs their
 * credential_process, since a credential_process run as root would be a
 * privilege escalation for anyone who can edit ~/.aws/config; root only
 * when root owns them (or they do not exist yet), and without any
 * capability then too.  It keeps:
 *
 *   CAP_DAC_READ_SEARCH (permitted, raised only around the open): to open
 *       the fixed file slots (--config, --user-data, --ca-bundle) whoever
 *       owns them, as the daemon could at start; never for the shared
 *       files, which it opens as their owner;
 *   CAP_DAC_OVERRIDE, CAP_FOWNER (permitted only, with a control socket):
 *       raised at exit, once the daemon is gone, to remove its socket;
 *
 * nothing else: an empty bounding set and SECBIT_NOROOT (locked), so that
 * a program it execs gets no capability even as uid 0; no ambient or
 * inheritable capability; no_new_privs.  Setting SECBIT_NOROOT takes
 * CAP_SETPCAP: a helper that stays uid 0 without it keeps no capability
 * at all (no_new_privs then caps what an exec'd program gets at the
 * helper's permitted set, which is empty) and says so.  Started as another
 * user, it stays that user and drops what capabilities it has.
 *
 * As ssh's StrictModes does, it refuses shared files (config,
 * credentials) that are not regular files, are writable by group or
 * others, or are owned by anyone but its user; and any directory on their
 * path owned by anyone but its user or root, or writable by group or
 * others (a sticky directory of root's, /tmp, excepted).  It opens them
 * without following a symbolic link anywhere on the path and parses what
 * it read from the descriptor it checked: at every RUN, and when the
 * daemon asks to open them; the message names the file.
 *
 * A credential_process it runs gets a minimal environment (helper_env):
 * PATH, its user's HOME, USER and LOGNAME, the locale and time zone, and
 * the AWS variables that hold no secret (helper_env_keep), never the
 * daemon's AWS keys or session token.  At exit it removes the daemon's
 * control socket only if the file there is still the one the daemon bound
 * (its device and inode: argv, or SBX_SOCK after an early start).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/securebits.h>

#include "priv/priv.h"

#define HELPER_KEEP		(1ULL << CAP_DAC_READ_SEARCH)	/* open the slots */
#define HELPER_KEEP_EXIT	(1ULL << CAP_DAC_OVERRIDE | 1ULL << CAP_FOWNER)	/* the socket */
#define HELPER_SECUREBITS	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED)

#define HELPER_ENV_MAX		64	/* variables a credential_process gets */
#define HELPER_PATH_DEFAULT	"/usr/local/bin:/usr/bin:/bin"	/* PATH when the daemon had none */
#define HELPER_ENV_LOCALE	"LC_"	/* LC_ALL, LC_CTYPE, ...: kept */

/*
 * What a credential_process it runs inherits of the daemon's environment
 * (helper_env): the locale, the time zone, and the AWS variables that hold
 * no secret.  Never AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or
 * AWS_SESSION_TOKEN (root's keys, if root had some), nor HOME (root's):
 * HOME, USER and LOGNAME are the helper's user's.
 */
static const char *const helper_env_keep[] = {
	"PATH", "LANG", "LANGUAGE", "TZ",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE", "AWS_STS_REGIONAL_ENDPOINTS",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO",
	"AWS_ENDPOINT_URL_SSO_OIDC", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_SDK_LOAD_CONFIG", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS", "AWS_METADATA_SERVICE_TIMEOUT",
	"AWS_METADATA_SERVICE_NUM_ATTEMPTS",
};

struct hjob {
	uint32_t	 h_seq;
};

static struct {
	int		 done;
	int		 runs;		/* it runs credential_process */
	const char	*paths[SANDBOX_PATHS_MAX];	/* "" : none */
	uint64_t	 keep;		/* capabilities: effective and permitted */
	uint64_t	 keep_exit;	/* ... permitted, raised at exit */
	int		 sock_known;	/* the control socket's file, to remove at exit */
	dev_t		 sock_dev;
	ino_t		 sock_ino;
	struct loop_watch w_open;
	struct loop_watch w_run;
} hl;

/*
 * A shared file as StrictModes would take it: a regular file, not writable
 * by group or others, owned by the helper's user (root's helper: root).
 * st: the file's.  0, or -1 with err naming it.
 */
static int
shared_file_ok(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		errf(err, errlen, "%s is not a regular file: refused", path);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		errf(err, errlen, "%s is writable by group or others (mode %04o): refused, "
		    "as ssh's StrictModes does (chmod go-w %s)", path,
		    (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	if (st->st_uid != getuid()) {
		if (getuid() == 0)
			errf(err, errlen, "%s is owned by uid %lu, neither root nor the helper's "
			    "user (uid 0): refused", path, (unsigned long)st->st_uid);
		else
			errf(err, errlen, "%s is owned by uid %lu, not the helper's user (uid "
			    "%lu): refused", path, (unsigned long)st->st_uid,
			    (unsigned long)getuid());
		return -1;
	}
	return 0;
}

/*
 * A directory on the way to a shared file (path's first len bytes), as
 * StrictModes takes it: owned by the helper's user or root, and not
 * writable by group or others, but for a sticky directory of root's (/tmp:
 * nobody else may rename or remove what is in it).  0, or -1 with err.
 */
static int
shared_dir_ok(const char *path, size_t len, const struct stat *st, char *err, size_t errlen)
{
	int len_i = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;

	if (st->st_uid != 0 && st->st_uid != getuid()) {
		errf(err, errlen, "%.*s is owned by uid %lu, neither root nor the helper's user "
		    "(uid %lu): refused", len_i, path, (unsigned long)st->st_uid,
		    (unsigned long)getuid());
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_uid == 0 && (st->st_mode & S_ISVTX))) {
		errf(err, errlen, "%.*s is writable by group or others (mode %04o): refused, as "
		    "ssh's StrictModes does", len_i, path, (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Why openat of name in dfd failed with e: a symbolic link is named as one. */
static void
shared_open_err(int dfd, const char *name, const char *path, size_t len, int e, char *err,
    size_t errlen)
{
	struct stat st;
	int len_i = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		errf(err, errlen, "%.*s is a symbolic link: refused (the shared files are "
		    "opened without following links)", len_i, path);
	else
		errf(err, errlen, "%.*s: %s", len_i, path, strerror(e));
}

/*
 * Open a shared file (config, credentials) for reading, as its checks
 * see it: one component at a time from / (or the working directory), none
 * of them followed if it is a symbolic link (openat with O_NOFOLLOW: what
 * openat2's RESOLVE_NO_SYMLINKS does, and each directory is checked on the
 * way: shared_dir_ok), then the file itself (shared_file_ok) on the
 * descriptor that is read.  No capability is raised: the helper opens them
 * as their owner.  The awsconf_open_fn: a descriptor, or -1 with errno
 * (ENOENT: missing) and err naming the file.
 */
static int
shared_open(const char *path, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = strlen(path), at, end;
	int dfd, fd, fl, e;

	if (n == 0 || n >= sizeof(buf)) {
		errf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	if ((dfd = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(dfd, &st) == -1) {
		e = errno;
		errf(err, errlen, "%s: %s", path, strerror(e));
		goto fail;
	}
	if (shared_dir_ok(path, path[0] == '/' ? 1 : 0, &st, err, errlen) == -1) {
		e = EPERM;
		goto fail;
	}
	for (at = 0;; at = end + 1) {
		while (buf[at] == '/')
			at++;
		for (end = at; buf[end] != '\0' && buf[end] != '/'; end++)
			;
		if (buf[end] == '\0')
			break;		/* the last component: the file */
		buf[end] = '\0';
		fd = openat(dfd, buf + at, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		e = errno;
		if (fd == -1) {
			if (e != ENOENT)
				shared_open_err(dfd, buf + at, path, end, e, err, errlen);
			goto fail;
		}
		close(dfd);
		dfd = fd;
		if (fstat(dfd, &st) == -1 || shared_dir_ok(path, end, &st, err, errlen) == -1) {
			e = EPERM;
			goto fail;
		}
	}
	/* O_NONBLOCK: a FIFO in a file's place must not hang the helper */
	if ((fd = openat(dfd, buf + at, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY)) == -1) {
		e = errno;
		if (e != ENOENT)
			shared_open_err(dfd, buf + at, path, n, e, err, errlen);
		goto fail;
	}
	close(dfd);
	dfd = -1;
	if (fstat(fd, &st) == -1 || (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		e = errno;
		errf(err, errlen, "%s: %s", path, strerror(e));
		close(fd);
		goto fail;
	}
	if (shared_file_ok(path, &st, err, errlen) == -1) {
		close(fd);
		e = EPERM;
		goto fail;
	}
	return fd;
fail:
	if (dfd >= 0)
		close(dfd);
	errno = e;
	return -1;
}

/*
 * Whose the shared files are: the owner of the config file, else of the
 * credentials file (lstat: a symbolic link is its maker's, and is refused
 * at open); 0 when neither exists (yet).  gid: the owner's group (the
 * file's when the owner has no passwd entry).
 */
static void
shared_owner(uid_t *uid, gid_t *gid)
{
	static const int slot[] = { SANDBOX_PATH_AWS_CONFIG, SANDBOX_PATH_AWS_CREDS };
	struct passwd *pw;
	struct stat st;
	size_t i;

	*uid = 0;
	*gid = 0;
	for (i = 0; i < sizeof(slot) / sizeof(slot[0]); i++)
		if (hl.paths[slot[i]][0] != '\0' && lstat(hl.paths[slot[i]], &st) == 0) {
			*uid = st.st_uid;
			*gid = (pw = getpwuid(st.st_uid)) != NULL ? pw->pw_gid : st.st_gid;
			return;
		}
}

/* Raise (on 1) or lower (0) CAP_DAC_READ_SEARCH, for a fixed slot's open. */
static int
helper_dac(int on)
{
	return sbx_caps_set(on ? hl.keep : 0, hl.keep | hl.keep_exit, 0);
}

/* The helper's own drop (the top comment).  0, or -1 with err. */
static int
helper_drop(char *err, size_t errlen)
{
	uint64_t eff, prm;
	uid_t uid = getuid();
	gid_t gid = getgid();
	int noroot = 0;

	if (sbx_caps_get(&eff, &prm) == -1) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -1;
	}
	hl.keep = HELPER_KEEP & prm;
	hl.keep_exit = hl.paths[SANDBOX_PATH_CONTROL][0] != '\0' ? HELPER_KEEP_EXIT & prm : 0;
	if (eff & (1ULL << CAP_SETPCAP)) {
		if (prctl(PR_SET_SECUREBITS, HELPER_SECUREBITS, 0, 0, 0) == -1) {
			snprintf(err, errlen, "PR_SET_SECUREBITS: %s", strerror(errno));
			return -1;
		}
		if (sbx_bounding_drop(0) == -1) {
			snprintf(err, errlen, "PR_CAPBSET_DROP: %s", strerror(errno));
			return -1;
		}
		noroot = 1;
	}
	if (geteuid() == 0 && hl.runs)
		shared_owner(&uid, &gid);
	if (geteuid() == 0 && uid != 0 &&
	    sbx_become(uid, gid, hl.keep | hl.keep_exit, err, errlen) == -1)
		return -1;
	if (getuid() == 0 && !noroot && (hl.keep | hl.keep_exit) != 0) {
		/*
		 * Root without SECBIT_NOROOT: a program it execs would get the
		 * permitted set (no_new_privs caps it there, not below), so it
		 * keeps none.
		 */
		log_warn("sandbox helper: no CAP_SETPCAP to set SECBIT_NOROOT: it keeps no "
		    "capability (files it can't open as root without one stay unread)");
		hl.keep = hl.keep_exit = 0;
	}
	/* CAP_DAC_READ_SEARCH permitted only: raised for a fixed slot's open (helper_dac) */
	if (sbx_caps_settle(0, hl.keep | hl.keep_exit, 0, err, errlen) == -1)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	if (sbx_caps_get(&eff, &prm) == -1 || eff != 0 || prm != (hl.keep | hl.keep_exit)) {
		snprintf(err, errlen, "can't happen: capabilities %#llx/%#llx", (unsigned long long)eff,
		    (unsigned long long)prm);
		return -1;
	}
	/* debug: the daemon's "sandbox:" line names the helper; start-up refusals are one line */
	log_debug("sandbox helper: uid %lu, gid %lu, capabilities: %s%s, no_new_privs",
	    (unsigned long)getuid(), (unsigned long)getgid(),
	    hl.keep ? "dac_read_search (raised to open the fixed files)" : "none",
	    hl.keep_exit ? " (and dac_override, fowner at exit)" : "");
	return 0;
}

/* a then b, malloc'd; NULL when out of memory */
static char *
strcat_alloc(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p;

	if ((p = malloc(na + nb + 1)) == NULL)
		return NULL;
	memcpy(p, a, na);
	memcpy(p + na, b, nb + 1);
	return p;
}

/* Whether the variable "NAME=..." at e is one helper_env keeps. */
static int
helper_env_kept(const char *e)
{
	size_t i, n = strcspn(e, "=");

	if (e[n] != '=')
		return 0;
	if (strncmp(e, HELPER_ENV_LOCALE, strlen(HELPER_ENV_LOCALE)) == 0)
		return 1;
	for (i = 0; i < sizeof(helper_env_keep) / sizeof(helper_env_keep[0]); i++)
		if (strlen(helper_env_keep[i]) == n && strncmp(e, helper_env_keep[i], n) == 0)
			return 1;
	return 0;
}

/*
 * The environment a credential_process gets (spawned with the helper's):
 * the daemon's, down to helper_env_keep, and the helper's user's HOME,
 * USER and LOGNAME (none when the user has no passwd entry).  0, or -1
 * with err.
 */
static int
helper_env(char *err, size_t errlen)
{
	extern char **environ;
	char *keep[HELPER_ENV_MAX + 4];
	struct passwd *pw = getpwuid(getuid());
	size_t n = 0, i;
	int path = 0;

	for (i = 0; environ != NULL && environ[i] != NULL && n < HELPER_ENV_MAX; i++) {
		if (!helper_env_kept(environ[i]))
			continue;
		if ((keep[n] = strdup(environ[i])) == NULL)
			goto nomem;
		path |= strncmp(keep[n++], "PATH=", 5) == 0;
	}
	if (!path && (keep[n++] = strdup("PATH=" HELPER_PATH_DEFAULT)) == NULL)
		goto nomem;
	if (pw != NULL && ((keep[n++] = strcat_alloc("HOME=", pw->pw_dir)) == NULL ||
	    (keep[n++] = strcat_alloc("USER=", pw->pw_name)) == NULL ||
	    (keep[n++] = strcat_alloc("LOGNAME=", pw->pw_name)) == NULL))
		goto nomem;
	if (clearenv() != 0) {
		errf(err, errlen, "clearenv failed");
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (putenv(keep[i]) != 0) {	/* keep[i] is the environment's from now on */
			errf(err, errlen, "putenv: %s", strerror(errno));
			return -1;
		}
	return 0;
nomem:
	errf(err, errlen, "environment: out of memory");
	n = n > 0 && keep[n - 1] == NULL ? n - 1 : n;
fail:
	for (i = 0; i < n; i++)
		free(keep[i]);
	return -1;
}

/* Answer one RUN.  Wipes what it sent. */
static void
helper_reply(uint32_t seq, int ok, const struct cred *c, const char *msg)
{
	struct sbx_run_rep rep;

	memset(&rep, 0, sizeof(rep));
	rep.rrp_seq = seq;
	rep.rrp_ok = ok;
	if (ok)
		rep.rrp_cred = *c;
	else
		snprintf(rep.rrp_err, sizeof(rep.rrp_err), "%s", msg);
	if (sbx_send_fd(SANDBOX_RUN_FD, &rep, sizeof(rep), -1) == -1 && errno != EPIPE)
		log_err("sandbox helper: answering: %s", strerror(errno));
	explicit_bzero(&rep, sizeof(rep));
}

static void
helper_run_done(void *arg, int ok, const struct cred *c, const char *msg)
{
	struct hjob *j = arg;

	helper_reply(j->h_seq, ok, c, msg);
	free(j);
}

/* A profile name as a request carries it: terminated, not empty, no control byte. */
static int
helper_profile_ok(const char *p, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && p[i] != '\0'; i++)
		if (CTL_BYTE(p[i]))
			return 0;
	return i > 0 && i < cap;
}

/* RUN: the named profile's credential_process, as the files say now. */
static void
helper_run(uint32_t seq, unsigned timeout_ms, const char *profile)
{
	const char *cfg = hl.paths[SANDBOX_PATH_AWS_CONFIG], *crd = hl.paths[SANDBOX_PATH_AWS_CREDS];
	char err[ERRBUF_LEN];
	struct aws_conf ac;
	struct hjob *j;
	const char *cmd;

	if (!hl.runs || cfg[0] == '\0' || crd[0] == '\0') {
		helper_reply(seq, 0, NULL, "credential_process: the sandbox helper runs none");
		return;
	}
	if (timeout_ms == 0 || timeout_ms > CREDPROC_TIMEOUT_MS)
		timeout_ms = CREDPROC_TIMEOUT_MS;
	if (awsconf_load_open(cfg, crd, shared_open, &ac, err, sizeof(err)) == -1) {
		helper_reply(seq, 0, NULL, err);	/* the daemon's message says it */
		return;
	}
	if ((cmd = awsconf_get(&ac, profile, "credential_process", NULL)) == NULL) {
		snprintf(err, sizeof(err), "profile %s has no credential_process any more",
		    profile);
		awsconf_free(&ac);
		helper_reply(seq, 0, NULL, err);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		awsconf_free(&ac);
		helper_reply(seq, 0, NULL, "credential_process: out of memory");
		return;
	}
	j->h_seq = seq;
	if (credproc_run(cmd, timeout_ms, helper_run_done, j, err, sizeof(err)) == -1) {
		free(j);
		helper_reply(seq, 0, NULL, err);
	}
	awsconf_free(&ac);
}

/*
 * One request of type from the daemon: 1 got it, 0 nothing yet; anything
 * else (the channel closed because the daemon exited, or a request not
 * ours to answer) ends the helper.
 */
static int
helper_recv(int fd, int type, struct sbx_req *q)
{
	ssize_t r;

	do
		r = recv(fd, q, sizeof(*q), MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r != (ssize_t)sizeof(*q) || ((int)q->q_type != type &&
	    !(type == SBX_OPEN && q->q_type == SBX_SOCK))) {
		hl.done = 1;
		return 0;
	}
	return 1;
}

static void
helper_on_run(int fd, uint32_t events, void *unused)
{
	struct sbx_req q;

	(void)events;
	(void)unused;
	if (helper_recv(fd, SBX_RUN, &q) != 1)
		return;
	if (!helper_profile_ok(q.q_profile, sizeof(q.q_profile)))
		helper_reply(q.q_seq, 0, NULL, "credential_process: the request names no "
		    "profile");
	else
		helper_run(q.q_seq, q.q_arg, q.q_profile);
}

/* A fixed slot (not a shared file): opened with CAP_DAC_READ_SEARCH raised. */
static int
helper_open_fixed(const char *path)
{
	int f, fl, e;

	if (helper_dac(1) == -1)
		return -1;
	/* O_NONBLOCK: a FIFO in a file's place must not hang the helper */
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	e = errno;
	if (helper_dac(0) == -1) {
		log_err("sandbox helper: capset: %s", strerror(errno));
		hl.done = 1;	/* never go on with the capability raised */
	}
	if (f >= 0 && ((fl = fcntl(f, F_GETFL)) == -1 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) == -1)) {
		e = errno;
		close(f);
		f = -1;
	}
	errno = e;
	return f;
}

static void	 helper_sockid(const char *s);

static void
helper_on_open(int fd, uint32_t events, void *unused)
{
	struct sbx_open_rep rep;
	struct sbx_req q;
	char err[ERRBUF_LEN];
	int f = -1;

	(void)events;
	(void)unused;
	if (helper_recv(fd, SBX_OPEN, &q) != 1)
		return;
	if (q.q_type == SBX_SOCK) {
		/* once: after an early start, the socket the daemon bound since */
		q.q_profile[sizeof(q.q_profile) - 1] = '\0';
		if (!hl.sock_known)
			helper_sockid(q.q_profile);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	rep.orp_seq = q.q_seq;
	if (q.q_arg >= SANDBOX_PATHS_MAX || q.q_arg == SANDBOX_PATH_CONTROL ||
	    hl.paths[q.q_arg][0] == '\0')
		rep.orp_errno = EACCES;	/* only the files named at start */
	else if (q.q_arg <= SANDBOX_PATH_AWS_CREDS) {
		if ((f = shared_open(hl.paths[q.q_arg], err, sizeof(err))) == -1) {
			rep.orp_errno = errno == ENOENT ? ENOENT : EPERM;
			if (errno != ENOENT)
				log_err("sandbox helper: %s", err);
		}
	} else if ((f = helper_open_fixed(hl.paths[q.q_arg])) == -1)
		rep.orp_errno = errno;
	if (sbx_send_fd(fd, &rep, sizeof(rep), rep.orp_errno == 0 ? f : -1) == -1)
		hl.done = 1;
	if (f >= 0)
		close(f);
}

/* "DEV:INO" (the control socket the daemon bound) into hl; "" or malformed: none. */
static void
helper_sockid(const char *s)
{
	const char *colon = strchr(s, ':');
	unsigned long dev, ino;

	hl.sock_known = colon != NULL &&
	    parse_uint_bounded(s, (size_t)(colon - s), ULONG_MAX, &dev) == 0 &&
	    parse_uint_bounded(colon + 1, strlen(colon + 1), ULONG_MAX, &ino) == 0;
	if (hl.sock_known) {
		hl.sock_dev = (dev_t)dev;
		hl.sock_ino = (ino_t)ino;
	}
}

int
sandbox_helper_main(int argc, char **argv, void (*trim)(void), sandbox_remove_fn remove_sock)
{
	struct sbx_open_rep ready;
	struct stat st3, st4;
	unsigned long level;
	char err[ERRBUF_LEN];
	sigset_t quiet;
	int i;

	if (argc != SANDBOX_HELPER_ARGC || fstat(SANDBOX_OPEN_FD, &st3) == -1 ||
	    !S_ISSOCK(st3.st_mode) || fstat(SANDBOX_RUN_FD, &st4) == -1 || !S_ISSOCK(st4.st_mode) ||
	    parse_uint_bounded(argv[2], strlen(argv[2]), LOG_LVL_ERR, &level) != 0) {
		fprintf(stderr, "%s: sandbox-helper is started by serve, not by hand\n", PROGNAME);
		return EXIT_USAGE;
	}
	log_init(strcmp(argv[1], "json") == 0, (enum log_level)level);
	hl.runs = strcmp(argv[3], SANDBOX_HELPER_RUNS) == 0;
	for (i = 0; i < SANDBOX_PATHS_MAX; i++)
		hl.paths[i] = argv[4 + i];
	helper_sockid(argv[4 + SANDBOX_PATHS_MAX]);
	if (helper_drop(err, sizeof(err)) == -1 || helper_env(err, sizeof(err)) == -1) {
		log_err("sandbox helper: %s", err);
		return EXIT_SYSTEM;
	}
	if (loop_init(err, sizeof(err)) == -1) {
		log_err("sandbox helper: %s", err);
		return EXIT_SYSTEM;
	}
	/*
	 * Ctrl-C, SIGTERM and SIGHUP are the daemon's: the helper lives until the
	 * daemon closes the channels, so that it can still serve the
	 * daemon's last reload or shutdown.
	 */
	sigemptyset(&quiet);
	sigaddset(&quiet, SIGINT);
	sigaddset(&quiet, SIGHUP);
	sigaddset(&quiet, SIGTERM);	/* systemd and `kill -- -PGID` signal the whole group */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &quiet, NULL);
	if (loop_watch_add(&hl.w_open, SANDBOX_OPEN_FD, EPOLLIN, helper_on_open, NULL) == -1 ||
	    loop_watch_add(&hl.w_run, SANDBOX_RUN_FD, EPOLLIN, helper_on_run, NULL) == -1) {
		log_err("sandbox helper: epoll: %s", strerror(errno));
		loop_cleanup();
		return EXIT_SYSTEM;
	}
	memset(&ready, 0, sizeof(ready));
	if (sbx_send_fd(SANDBOX_OPEN_FD, &ready, sizeof(ready), -1) == -1) {
		loop_cleanup();
		return EXIT_SYSTEM;
	}
	if (trim != NULL)
		trim();		/* it idles like the daemon: give back start-up's pages too */
	(void)loop_run_until(&hl.done);
	/*
	 * The daemon is gone.  Its control socket's directory may not be
	 * writable by the user it became: the socket file goes here, if it is
	 * still the one the daemon bound (not a second daemon's, which may
	 * have started meanwhile).
	 */
	if (hl.keep_exit != 0 && sbx_caps_set(hl.keep | hl.keep_exit, hl.keep | hl.keep_exit,
	    0) == -1)
		log_warn("sandbox helper: capset: %s", strerror(errno));
	if (hl.paths[SANDBOX_PATH_CONTROL][0] != '\0' && hl.sock_known && remove_sock != NULL &&
	    remove_sock(hl.paths[SANDBOX_PATH_CONTROL], hl.sock_dev, hl.sock_ino, err,
	    sizeof(err)) == -1)
		log_info("sandbox helper: left the control socket: %s", err);
	loop_watch_del(&hl.w_open);
	loop_watch_del(&hl.w_run);
	loop_cleanup();
	close(SANDBOX_OPEN_FD);
	close(SANDBOX_RUN_FD);
	return 0;
}
