/*
 * channel.c: the daemon's side of the sandbox helper (helper.c), and the
 * channels between the two.
 *
 * Two jobs must not run inside the sandbox: credential_process
 * programs (aws sso, python scripts: they would inherit the filter,
 * no_new_privs and the nobody identity), and reading the files the daemon
 * re-reads while it runs (~/.aws/config and credentials at every fetch, the
 * --config and --user-data files at SIGHUP, the --ca-bundle at every STS
 * call), which the new user may not be allowed to open.  A helper process
 * does both, in the OpenBSD privsep manner: `gimme-aws-mini sandbox-helper`,
 * spawned (exec'd fresh, so it holds none of the daemon's keys or
 * credentials) before the drop (for a profile source, before start-up's
 * first fetch, so that no credential_process ever runs in the daemon), with
 * the environment (a credential_process it runs gets only part of it: see
 * helper.c), and talks to the daemon over two SOCK_SEQPACKET socket pairs:
 *
 *   open channel (fd 3 in the helper)    run channel (fd 4)
 *     daemon: OPEN seq slot                daemon: RUN seq timeout profile
 *     helper: errno, and the fd            helper: seq, ok, cred | error
 *             (SCM_RIGHTS)                         (later, from its loop)
 *
 * The daemon's side is handed to the credentials layer as its
 * credential_process runner (credproc_set_runner), so a profile fetch needs
 * no knowledge of the sandbox.
 *
 * What a compromised daemon can get from it is what it already had: the
 * helper opens only the paths it was given at start (slots), read-only, and
 * runs only the credential_process of a profile named in the request, as
 * it reads it from the shared files it was given (refusing a profile that
 * has none); it never runs a command line sent by the daemon.  Started as
 * root, the helper is another user than the daemon (root, or the shared
 * files' owner; non-dumpable after its user switch): the daemon can neither
 * trace it nor signal it, but for SIGCONT (same session).  Started as
 * another user, both are that user and the daemon can signal it (it then
 * has nothing the daemon lacks but a way out of the seccomp filter); the
 * helper ignores SIGINT, SIGHUP and SIGTERM either way, the process
 * group's signals being the daemon's.  What the helper itself may do (its
 * user and capabilities) is in helper.c.  The helper exits when the daemon
 * closes the channels (at exit, or by dying).
 *
 * The daemon keeps its PID (what systemd, Kubernetes and the tests signal
 * and inspect); the helper is its child.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "priv/priv.h"

#define SBX_SOCKID_LEN	48	/* "DEV:INO": two 64-bit numbers */

_Static_assert(SANDBOX_RUN_FD < SPAWN_FDS_MAX, "the helper's channels are spawn descriptors");

struct sbx_job {
	int		 j_used;
	uint32_t	 j_seq;
	unsigned	 j_timeout_ms;
	cred_done_fn	 j_done;
	void		*j_arg;
	struct loop_timer j_timer;	/* no answer in time */
};

static struct {
	int		 open_fd;	/* -1: no helper */
	int		 run_fd;
	pid_t		 pid;
	uint32_t	 seq;
	struct loop_watch w;
	char		*paths[SANDBOX_PATHS_MAX];	/* what the helper may open, NULL: nothing */
	struct sbx_job	 jobs[SANDBOX_JOBS_MAX];
	char		 desc[ERRBUF_LEN];	/* what it does, for sandbox_enter's line */
} sbx = { .open_fd = -1, .run_fd = -1, .pid = -1 };

/* ------------------------------------------------------------------ */
/* The channels: one message, and at most one descriptor              */
/* ------------------------------------------------------------------ */

/* Room for one descriptor in a message's control data. */
union fd_cmsg {
	struct cmsghdr	 hdr;
	char		 buf[CMSG_SPACE(sizeof(int))];
};

/* A message of the one buffer iov, with cm as its control data if with_fd. */
static void
msg_init(struct msghdr *mh, struct iovec *iov, union fd_cmsg *cm, int with_fd)
{
	memset(mh, 0, sizeof(*mh));
	memset(cm, 0, sizeof(*cm));
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	if (with_fd) {
		mh->msg_control = cm->buf;
		mh->msg_controllen = sizeof(cm->buf);
	}
}

ssize_t
sbx_recv_fd(int sock, void *buf, size_t len, int *fd, int flags)
{
	union fd_cmsg cm;
	struct iovec iov = { buf, len };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t r;

	*fd = -1;
	msg_init(&mh, &iov, &cm, 1);
	do
		r = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return r;
}

int
sbx_send_fd(int sock, const void *buf, size_t len, int fd)
{
	union fd_cmsg cm;
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t r;

	msg_init(&mh, &iov, &cm, fd >= 0);
	if (fd >= 0) {
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)len ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* The daemon's side of the helper                                     */
/* ------------------------------------------------------------------ */

/* A request of type with the next sequence number (its reply echoes it). */
static void
req_init(struct sbx_req *q, uint32_t type, uint32_t arg)
{
	memset(q, 0, sizeof(*q));
	q->q_type = type;
	q->q_seq = ++sbx.seq;
	q->q_arg = arg;
}

/*
 * read_file_capped's opener: the helper opens path if it is one of the
 * files it was given.  Blocks for at most SANDBOX_OPEN_TIMEOUT_MS (the
 * helper answers opens at once, even while it runs a credential_process).
 * A descriptor, or -1 with errno.
 */
static int
sandbox_open(const char *path)
{
	struct sbx_req q;
	struct sbx_open_rep rep;
	struct pollfd pfd;
	uint64_t deadline;
	ssize_t r;
	int i, fd, left;

	for (i = 0; i < SANDBOX_PATHS_MAX; i++)
		if (sbx.paths[i] != NULL && strcmp(sbx.paths[i], path) == 0)
			break;
	if (i == SANDBOX_PATHS_MAX || sbx.open_fd < 0) {
		errno = EACCES;
		return -1;
	}
	req_init(&q, SBX_OPEN, (uint32_t)i);
	if (sbx_send_fd(sbx.open_fd, &q, sizeof(q), -1) == -1) {
		log_err("sandbox: asking the helper to open %s: %s", path, strerror(errno));
		errno = EACCES;
		return -1;
	}
	deadline = mono_ms() + SANDBOX_OPEN_TIMEOUT_MS;
	for (;;) {
		uint64_t t = mono_ms();

		left = t >= deadline ? 0 : (int)(deadline - t);
		pfd.fd = sbx.open_fd;
		pfd.events = POLLIN;
		if (left == 0 || poll(&pfd, 1, left) == 0) {
			log_err("sandbox: the helper did not open %s within %d ms", path,
			    SANDBOX_OPEN_TIMEOUT_MS);
			errno = ETIMEDOUT;
			return -1;
		}
		r = sbx_recv_fd(sbx.open_fd, &rep, sizeof(rep), &fd, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r != (ssize_t)sizeof(rep)) {
			if (fd >= 0)
				close(fd);
			log_err("sandbox: the helper is gone; %s can't be opened", path);
			errno = EACCES;
			return -1;
		}
		if (rep.orp_seq != q.q_seq) {	/* the late answer to an earlier ask */
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (rep.orp_errno != 0 || fd < 0) {
			if (fd >= 0)
				close(fd);
			errno = rep.orp_errno != 0 ? rep.orp_errno : EIO;
			return -1;
		}
		return fd;
	}
}

static void
job_clear(struct sbx_job *j)
{
	loop_timer_cancel(&j->j_timer);
	j->j_used = 0;
}

/* The job is over: its slot freed first, as done may start another. */
static void
job_end(struct sbx_job *j, const struct cred *c, const char *msg)
{
	cred_done_fn done = j->j_done;
	void *darg = j->j_arg;

	job_clear(j);
	done(darg, c != NULL, c, msg);
}

static void
on_job_timeout(void *arg)
{
	struct sbx_job *j = arg;
	char msg[ERRBUF_LEN];

	snprintf(msg, sizeof(msg), "credential_process: no answer from the sandbox helper "
	    "within %u ms", j->j_timeout_ms + SANDBOX_JOB_GRACE_MS);
	job_end(j, NULL, msg);
}

/* The helper is gone: every run under way fails, and none can start. */
static void
helper_lost(void)
{
	size_t i;

	log_err("sandbox: the helper exited; credential_process can't run any more");
	loop_watch_del(&sbx.w);
	close(sbx.run_fd);
	sbx.run_fd = -1;
	for (i = 0; i < SANDBOX_JOBS_MAX; i++)
		if (sbx.jobs[i].j_used)
			job_end(&sbx.jobs[i], NULL,
			    "credential_process: the sandbox helper exited");
}

static void
on_run_reply(int fd, uint32_t events, void *unused)
{
	struct sbx_run_rep rep;
	ssize_t r;
	size_t i;

	(void)events;
	(void)unused;
	for (;;) {
		do
			r = recv(fd, &rep, sizeof(rep), MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r != (ssize_t)sizeof(rep)) {
			explicit_bzero(&rep, sizeof(rep));
			helper_lost();
			return;
		}
		rep.rrp_err[sizeof(rep.rrp_err) - 1] = '\0';
		for (i = 0; i < SANDBOX_JOBS_MAX; i++)
			if (sbx.jobs[i].j_used && sbx.jobs[i].j_seq == rep.rrp_seq) {
				job_end(&sbx.jobs[i], rep.rrp_ok ? &rep.rrp_cred : NULL,
				    rep.rrp_ok ? NULL : rep.rrp_err);
				break;
			}	/* no job: it timed out here already */
		explicit_bzero(&rep, sizeof(rep));
		if (sbx.run_fd < 0)
			return;	/* done stopped everything */
	}
}

/*
 * The credential_process runner (credproc_runner_fn) while the helper
 * runs them: the helper is asked for profile's, which it reads from the
 * files itself (cmd is not sent).  done is called exactly once, from the
 * loop.  0 started, -1 with err.
 */
static int
sandbox_credproc_run(const char *profile, const char *cmd, unsigned timeout_ms,
    cred_done_fn done, void *arg, char *err, size_t errlen)
{
	struct sbx_req q;
	struct sbx_job *j = NULL;
	size_t i;

	(void)cmd;
	if (strlen(profile) >= sizeof(q.q_profile)) {
		snprintf(err, errlen, "credential_process: profile name too long");
		return -1;
	}
	if (sbx.run_fd < 0) {
		snprintf(err, errlen, "credential_process: the sandbox helper exited");
		return -1;
	}
	for (i = 0; i < SANDBOX_JOBS_MAX && j == NULL; i++)
		if (!sbx.jobs[i].j_used)
			j = &sbx.jobs[i];
	if (j == NULL) {
		snprintf(err, errlen, "credential_process: %d runs already under way",
		    SANDBOX_JOBS_MAX);
		return -1;
	}
	req_init(&q, SBX_RUN, timeout_ms);
	snprintf(q.q_profile, sizeof(q.q_profile), "%s", profile);
	if (send(sbx.run_fd, &q, sizeof(q), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		snprintf(err, errlen, "credential_process: asking the sandbox helper: %s",
		    strerror(errno));
		return -1;
	}
	j->j_used = 1;
	j->j_seq = q.q_seq;
	j->j_timeout_ms = timeout_ms;
	j->j_done = done;
	j->j_arg = arg;
	loop_timer_set(&j->j_timer, (uint64_t)timeout_ms + SANDBOX_JOB_GRACE_MS,
	    on_job_timeout, j);
	return 0;
}

/* The control socket bound, "DEV:INO" ("" when none is, yet). */
static void
sbx_sockid(const struct sandbox_cfg *sc, char *out, size_t cap)
{
	out[0] = '\0';
	if (sc->sbc_paths[SANDBOX_PATH_CONTROL] != NULL && sc->sbc_control_ino != 0)
		snprintf(out, cap, "%llu:%llu", (unsigned long long)sc->sbc_control_dev,
		    (unsigned long long)sc->sbc_control_ino);
}

/* Spawn the helper and wait for its "ready".  0 / -1 with err. */
static int
helper_start(const struct sandbox_cfg *sc, char *err, size_t errlen)
{
	/* stdin, stdout, stderr as ours (its log lines go with the daemon's), the channels */
	struct spawn_spec sp = { .ss_prog = "/proc/self/exe", .ss_nio = SANDBOX_RUN_FD + 1 };
	struct sbx_open_rep rep;
	struct pollfd pfd;
	char level[16], sockid[SBX_SOCKID_LEN];
	const char *argv[SANDBOX_HELPER_ARGC + 2];
	int op[2] = { -1, -1 }, rp[2] = { -1, -1 };
	int e, fd, i;
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, op) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rp) == -1) {
		snprintf(err, errlen, "sandbox helper: socketpair: %s", strerror(errno));
		goto fail;
	}
	snprintf(level, sizeof(level), "%d", sc->sbc_log_level);
	argv[0] = PROGNAME;
	argv[1] = "sandbox-helper";
	argv[2] = sc->sbc_log_json ? "json" : "text";
	argv[3] = level;
	argv[4] = sc->sbc_profile != NULL ? SANDBOX_HELPER_RUNS : "";
	for (i = 0; i < SANDBOX_PATHS_MAX; i++)
		argv[5 + i] = sbx.paths[i] != NULL ? sbx.paths[i] : "";
	sbx_sockid(sc, sockid, sizeof(sockid));
	argv[5 + SANDBOX_PATHS_MAX] = sockid;
	argv[SANDBOX_HELPER_ARGC + 1] = NULL;
	sp.ss_argv = (char *const *)argv;
	for (i = 0; i < SANDBOX_OPEN_FD; i++)
		sp.ss_io[i].io_how = SPAWN_INHERIT;
	sp.ss_io[SANDBOX_OPEN_FD] = (struct spawn_io){ SPAWN_FD, op[1] };
	sp.ss_io[SANDBOX_RUN_FD] = (struct spawn_io){ SPAWN_FD, rp[1] };
	/* this very binary, whatever its path: the helper is one of its verbs */
	if ((e = spawn_start(&sp, &sbx.pid)) != 0) {
		snprintf(err, errlen, "sandbox helper: /proc/self/exe: %s", strerror(e));
		goto fail;
	}
	close(op[1]);
	close(rp[1]);
	op[1] = rp[1] = -1;

	pfd.fd = op[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, SANDBOX_READY_TIMEOUT_MS) != 1 ||
	    (r = sbx_recv_fd(op[0], &rep, sizeof(rep), &fd, 0)) != (ssize_t)sizeof(rep) ||
	    rep.orp_seq != 0) {
		snprintf(err, errlen, "sandbox helper (pid %ld) did not start", (long)sbx.pid);
		goto fail;
	}
	if (fd >= 0)
		close(fd);
	if (fcntl(rp[0], F_SETFL, O_NONBLOCK) == -1 ||
	    loop_watch_add(&sbx.w, rp[0], EPOLLIN, on_run_reply, NULL) == -1) {
		snprintf(err, errlen, "sandbox helper: watch: %s", strerror(errno));
		goto fail;
	}
	sbx.open_fd = op[0];
	sbx.run_fd = rp[0];
	read_file_set_opener(sandbox_open);
	/* from now on a credential_process runs there, or not at all (exec is filtered) */
	credproc_set_runner(sandbox_credproc_run);
	return 0;

fail:
	for (i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (rp[i] >= 0)
			close(rp[i]);
	}
	if (sbx.pid > 0) {
		/* it may be stuck before its loop: end it, then reap it */
		kill(sbx.pid, SIGKILL);
		spawn_reap(sbx.pid, NULL);
		sbx.pid = -1;
	}
	return -1;
}

int
sbx_helper_start(const struct sandbox_cfg *sc, int switching, char *desc, size_t desclen,
    char *err, size_t errlen)
{
	struct sbx_req q;
	int i, npaths = 0;

	desc[0] = '\0';
	if (sbx.open_fd >= 0) {
		/* started early: the control socket bound since is news to it */
		memset(&q, 0, sizeof(q));
		q.q_type = SBX_SOCK;
		sbx_sockid(sc, q.q_profile, sizeof(q.q_profile));
		if (q.q_profile[0] != '\0' && sbx_send_fd(sbx.open_fd, &q, sizeof(q), -1) == -1) {
			snprintf(err, errlen, "sandbox helper: %s", strerror(errno));
			return -1;
		}
		snprintf(desc, desclen, "%s", sbx.desc);
		return 0;
	}
	/*
	 * For a profile (its credential_process, and its files, which the new
	 * user may not read), and for the config and user-data files when the
	 * user changes.
	 */
	for (i = 0; i < SANDBOX_PATHS_MAX; i++) {
		const char *p = sc->sbc_paths[i];

		if (p == NULL)
			continue;
		if (sc->sbc_profile == NULL && !switching)
			continue;	/* no helper: the daemon reads them itself, as before */
		if (i <= SANDBOX_PATH_AWS_CREDS && sc->sbc_profile == NULL)
			continue;
		if ((sbx.paths[i] = strdup(p)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		npaths++;
	}
	if (sc->sbc_profile == NULL && npaths == 0)
		return 0;
	if (helper_start(sc, err, errlen) == -1)
		return -1;
	snprintf(sbx.desc, sizeof(sbx.desc), "; helper pid %ld %s%s%s", (long)sbx.pid,
	    sc->sbc_profile != NULL ? "runs credential_process" : "",
	    sc->sbc_profile != NULL && npaths > 0 ? ", " : "",
	    npaths > 0 ? "opens the files re-read" : "");
	snprintf(desc, desclen, "%s", sbx.desc);
	return 0;
}

void
sandbox_cleanup(void)
{
	size_t i;

	read_file_set_opener(NULL);
	credproc_set_runner(NULL);
	if (sbx.run_fd >= 0) {
		loop_watch_del(&sbx.w);
		close(sbx.run_fd);
		sbx.run_fd = -1;
	}
	if (sbx.open_fd >= 0)
		close(sbx.open_fd);
	sbx.open_fd = -1;
	for (i = 0; i < SANDBOX_JOBS_MAX; i++)
		if (sbx.jobs[i].j_used)
			job_clear(&sbx.jobs[i]);
	for (i = 0; i < SANDBOX_PATHS_MAX; i++) {
		free(sbx.paths[i]);
		sbx.paths[i] = NULL;
	}
	/*
	 * The helper exits when it sees the channels close: reaped here when
	 * it does so at once, as it does unless a credential_process is still
	 * running.  Exit never waits longer than SANDBOX_EXIT_WAIT_MS for it;
	 * after that, init (or our parent as subreaper) reaps it.
	 */
	if (sbx.pid > 0) {
		for (i = 0; i < SANDBOX_EXIT_WAIT_MS / SANDBOX_EXIT_POLL_MS; i++) {
			pid_t r = waitpid(sbx.pid, NULL, WNOHANG);
			if (r == sbx.pid || (r == -1 && errno != EINTR))
				break;
			poll(NULL, 0, SANDBOX_EXIT_POLL_MS);
		}
	}
	sbx.pid = -1;
}
