/*
 * sandbox.c: least privilege once the privileged start is over (habit 12).
 *
 * serve starts as root (or with capabilities) to bind its listeners (port
 * 80 needs CAP_NET_BIND_SERVICE) and install packet-filter rules.  Once it
 * listens and has its first credential, sandbox_enter drops for good:
 *
 *   1. the helper (below) is started, when one is needed;
 *   2. as root: supplementary groups cleared, then gid, then uid
 *      (setresgid/setresuid) to --user (default nobody); the bounding set
 *      is cut down first, while CAP_SETPCAP is still there;
 *   3. every capability is dropped, except CAP_NET_ADMIN while packet-filter
 *      rules are installed (they are kept up to date, then removed at
 *      SIGTERM): effective = permitted = bounding = that one, no
 *      inheritable, no ambient;
 *   4. PR_SET_NO_NEW_PRIVS;
 *   5. a seccomp allow-list (libseccomp, loaded with dlopen like libcurl in
 *      sts.c and unloaded once the filter is in the kernel: it costs no
 *      resident memory afterwards).  The architecture is checked first
 *      (another ABI kills the process).
 *
 * Started as another user, there is no user switch (there is nothing to
 * switch from); capabilities the process may hold are still dropped, and
 * steps 4 and 5 still apply.  --no-sandbox skips all of it.
 *
 * What the filter does with a call outside the list: it fails with EPERM,
 * except a few that only injected code would make here (execve, execveat,
 * ptrace, process_vm_readv/writev), which kill the process at once
 * (SECCOMP_RET_KILL_PROCESS).  EPERM as the default keeps the daemon
 * serving when a library takes a rare path the list did not foresee (say a
 * resolver variant): that one operation fails and is logged and retried,
 * instead of every pod losing its credentials; the calls an exploit needs
 * to go further (run a program, reach into another process) end it.
 * clone3 fails with ENOSYS so that glibc falls back to clone, whose flags
 * the filter can see: threads (libcurl's resolver) only, no fork.
 *
 * The helper.  Two jobs must not run inside the sandbox: credential_process
 * programs (aws sso, python scripts: they would inherit the filter,
 * no_new_privs and the nobody identity), and reading the files the daemon
 * re-reads while it runs (~/.aws/config and credentials at every fetch, the
 * --config and --user-data files at SIGHUP, the --ca-bundle at every STS
 * call), which the new user may not be
 * allowed to open.  A helper process does both, in the OpenBSD privsep
 * manner: `gimme-aws-mini sandbox-helper`, spawned (exec'd fresh, so it
 * holds none of the daemon's keys or credentials) before the drop, keeps the
 * invoking user and the environment, and talks to the daemon over two
 * SOCK_SEQPACKET socket pairs:
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
 * has none); it never runs a command line sent by the daemon.  The daemon cannot signal or trace it (another user, or
 * no_new_privs and a non-dumpable process).  The helper exits when the
 * daemon closes the channels (at exit, or by dying).
 *
 * The daemon keeps its PID (what systemd, Kubernetes and the tests signal
 * and inspect); the helper is its child.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <seccomp.h>

#include "priv/priv.h"

extern char **environ;

#define LIBSECCOMP_SONAME	"libseccomp.so.2"	/* libseccomp2, Debian 12 */
#define SANDBOX_FD_FLOOR	10	/* the daemon's channel ends are moved at or above this */
#define CAP_BITS		64	/* capability numbers checked (0..63) */
#define HELPER_ARGC		(4 + SANDBOX_PATHS_MAX)	/* sandbox-helper FORMAT LEVEL RUN PATH... */
#define HELPER_RUNS		"credential_process"	/* RUN: the helper runs them; "": not */

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

/* ---- the channels' messages ----------------------------------------------- */

enum { SBX_OPEN = 1, SBX_RUN = 2 };

struct sbx_req {
	uint32_t	 q_type;	/* SBX_OPEN, SBX_RUN */
	uint32_t	 q_seq;		/* echoed in the reply */
	uint32_t	 q_arg;		/* OPEN: the slot; RUN: timeout in ms */
	char		 q_profile[AWSCONF_PROFILE_MAX + 1];	/* RUN: whose credential_process */
};

/* OPEN's answer (and, with seq 0, the helper's "ready"). */
struct sbx_open_rep {
	uint32_t	 o_seq;
	int32_t		 o_errno;	/* 0: the descriptor comes with it */
};

/* RUN's answer: a secret while it holds credentials; wiped after use. */
struct sbx_run_rep {
	uint32_t	 r_seq;
	int32_t		 r_ok;
	struct cred	 r_cred;
	char		 r_err[ERRBUF_LEN];
};

/* ---- the daemon's side ------------------------------------------------------ */

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
	/* from sandbox_prepare */
	int		 have_user;
	uid_t		 uid;
	gid_t		 gid;
	char		 user[64];
} sbx = { .open_fd = -1, .run_fd = -1, .pid = -1 };

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Receive one message and at most one descriptor (*fd, -1 when none). */
static ssize_t
recv_fd(int sock, void *buf, size_t len, int *fd, int flags)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { buf, len };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t r;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
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

/* Send one message with a descriptor (fd >= 0) or without. */
static int
send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr mh;
	struct cmsghdr *c;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
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
	memset(&q, 0, sizeof(q));
	q.q_type = SBX_OPEN;
	q.q_seq = ++sbx.seq;
	q.q_arg = (uint32_t)i;
	if (send_fd(sbx.open_fd, &q, sizeof(q), -1) == -1) {
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
		r = recv_fd(sbx.open_fd, &rep, sizeof(rep), &fd, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r != (ssize_t)sizeof(rep)) {
			if (fd >= 0)
				close(fd);
			log_err("sandbox: the helper is gone; %s can't be opened", path);
			errno = EACCES;
			return -1;
		}
		if (rep.o_seq != q.q_seq) {	/* the late answer to an earlier ask */
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (rep.o_errno != 0 || fd < 0) {
			if (fd >= 0)
				close(fd);
			errno = rep.o_errno != 0 ? rep.o_errno : EIO;
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

static void
on_job_timeout(void *arg)
{
	struct sbx_job *j = arg;
	cred_done_fn done = j->j_done;
	void *darg = j->j_arg;
	char msg[ERRBUF_LEN];

	snprintf(msg, sizeof(msg), "credential_process: no answer from the sandbox helper "
	    "within %u ms", j->j_timeout_ms + SANDBOX_JOB_GRACE_MS);
	job_clear(j);
	done(darg, 0, NULL, msg);
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
	for (i = 0; i < SANDBOX_JOBS_MAX; i++) {
		struct sbx_job *j = &sbx.jobs[i];
		cred_done_fn done = j->j_done;
		void *darg = j->j_arg;

		if (!j->j_used)
			continue;
		job_clear(j);
		done(darg, 0, NULL, "credential_process: the sandbox helper exited");
	}
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
		rep.r_err[sizeof(rep.r_err) - 1] = '\0';
		for (i = 0; i < SANDBOX_JOBS_MAX; i++) {
			struct sbx_job *j = &sbx.jobs[i];
			cred_done_fn done = j->j_done;
			void *darg = j->j_arg;

			if (!j->j_used || j->j_seq != rep.r_seq)
				continue;
			job_clear(j);
			if (rep.r_ok)
				done(darg, 1, &rep.r_cred, NULL);
			else
				done(darg, 0, NULL, rep.r_err);
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
	memset(&q, 0, sizeof(q));
	q.q_type = SBX_RUN;
	q.q_seq = ++sbx.seq;
	q.q_arg = timeout_ms;
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

/* Move a descriptor at or above SANDBOX_FD_FLOOR (so that dup2 onto 3 and 4 can't clash). */
static int
fd_raise(int *fd)
{
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, SANDBOX_FD_FLOOR);

	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* Spawn the helper and wait for its "ready".  0 / -1 with err. */
static int
helper_start(const struct sandbox_cfg *sc, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct sbx_open_rep rep;
	struct pollfd pfd;
	char level[16];
	const char *argv[HELPER_ARGC + 2];
	int op[2] = { -1, -1 }, rp[2] = { -1, -1 };
	int fa_ok = 0, attr_ok = 0, e, fd, i;
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, op) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rp) == -1 ||
	    fd_raise(&op[1]) == -1 || fd_raise(&rp[1]) == -1) {
		snprintf(err, errlen, "sandbox helper: socketpair: %s", strerror(errno));
		goto fail;
	}
	snprintf(level, sizeof(level), "%d", sc->sb_log_level);
	argv[0] = PROGNAME;
	argv[1] = "sandbox-helper";
	argv[2] = sc->sb_log_json ? "json" : "text";
	argv[3] = level;
	argv[4] = sc->sb_profile != NULL ? HELPER_RUNS : "";
	for (i = 0; i < SANDBOX_PATHS_MAX; i++)
		argv[5 + i] = sbx.paths[i] != NULL ? sbx.paths[i] : "";
	argv[HELPER_ARGC + 1] = NULL;

	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_fail;
	fa_ok = 1;
	if ((e = posix_spawn_file_actions_adddup2(&fa, op[1], SANDBOX_OPEN_FD)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, rp[1], SANDBOX_RUN_FD)) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, SANDBOX_RUN_FD + 1)) != 0)
		goto spawn_fail;
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto spawn_fail;
	attr_ok = 1;
	/* the loop blocked some signals for its signalfd; the helper sets up its own */
	if ((e = spawn_attr_clean(&attr, 0)) != 0)
		goto spawn_fail;
	/* this very binary, whatever its path: the helper is one of its verbs */
	if ((e = posix_spawn(&sbx.pid, "/proc/self/exe", &fa, &attr, (char *const *)argv,
	    environ)) != 0) {
		sbx.pid = -1;
		goto spawn_fail;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	fa_ok = attr_ok = 0;
	close(op[1]);
	close(rp[1]);
	op[1] = rp[1] = -1;

	pfd.fd = op[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, SANDBOX_READY_TIMEOUT_MS) != 1 ||
	    (r = recv_fd(op[0], &rep, sizeof(rep), &fd, 0)) != (ssize_t)sizeof(rep) ||
	    rep.o_seq != 0) {
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

spawn_fail:
	snprintf(err, errlen, "sandbox helper: /proc/self/exe: %s", strerror(e));
fail:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (rp[i] >= 0)
			close(rp[i]);
	}
	if (sbx.pid > 0) {
		/* it may be stuck before its loop: end it, then reap it */
		kill(sbx.pid, SIGKILL);
		while (waitpid(sbx.pid, NULL, 0) == -1 && errno == EINTR)
			;
		sbx.pid = -1;
	}
	return -1;
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

/* ------------------------------------------------------------------ */
/* Privileges                                                          */
/* ------------------------------------------------------------------ */

/* The capability sets (effective, permitted) as 64-bit masks.  0 / -1. */
static int
caps_get(uint64_t *eff, uint64_t *prm)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) == -1)
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

/* Effective = permitted = keep, inheritable inh (a subset).  0 / -1. */
static int
caps_set(uint64_t keep, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	d[0].inheritable = (uint32_t)inh;
	d[1].inheritable = (uint32_t)(inh >> 32);
	return (int)syscall(SYS_capset, &h, d);
}

/* Drop every capability but keep from the bounding set.  0 / -1 (errno). */
static int
bounding_drop(uint64_t keep)
{
	int c;

	for (c = 0; c < CAP_BITS; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break;		/* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1)
			return -1;
	}
	return 0;
}

/* The user switch and capabilities: steps 2 and 3 of the top comment.  0 / -1 with err. */
static int
drop_privileges(uint64_t keep, uint64_t ambient, int *switched, char *err, size_t errlen)
{
	uint64_t eff, prm;
	uid_t ru, eu, su;

	*switched = 0;
	if (caps_get(&eff, &prm) == -1) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -1;
	}
	keep &= prm;	/* a capability we do not have can't be kept */
	/* the bounding set can only be cut with CAP_SETPCAP; without it there is nothing to gain */
	if ((eff & (1ULL << CAP_SETPCAP)) && bounding_drop(keep) == -1) {
		snprintf(err, errlen, "PR_CAPBSET_DROP: %s", strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && sbx.have_user && sbx.uid != 0) {
		/* keep the permitted set across setresuid only when something is kept */
		if (prctl(PR_SET_KEEPCAPS, keep != 0, 0, 0, 0) == -1) {
			snprintf(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
			return -1;
		}
		if (setgroups(0, NULL) == -1) {
			snprintf(err, errlen, "setgroups: %s", strerror(errno));
			return -1;
		}
		if (setresgid(sbx.gid, sbx.gid, sbx.gid) == -1) {
			snprintf(err, errlen, "setresgid %lu: %s", (unsigned long)sbx.gid,
			    strerror(errno));
			return -1;
		}
		if (setresuid(sbx.uid, sbx.uid, sbx.uid) == -1) {
			snprintf(err, errlen, "setresuid %lu: %s", (unsigned long)sbx.uid,
			    strerror(errno));
			return -1;
		}
		(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		*switched = 1;
	}
	ambient &= keep;
	if (caps_set(keep, ambient) == -1) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	/* EINVAL before Linux 4.3, which has no ambient set to clear */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 && errno != EINVAL) {
		snprintf(err, errlen, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
		return -1;
	}
	/* what programs we exec keep (the iptables commands), despite no_new_privs */
	for (int c = 0; c < CAP_BITS; c++)
		if ((ambient & (1ULL << c)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) == -1) {
			snprintf(err, errlen, "PR_CAP_AMBIENT_RAISE: %s", strerror(errno));
			return -1;
		}
	/* paranoia, as OpenSSH: the old identity must be out of reach */
	if (*switched) {
		if (getresuid(&ru, &eu, &su) == -1 || ru != sbx.uid || eu != sbx.uid ||
		    su != sbx.uid || setuid(0) != -1 || setgid(0) != -1) {
			snprintf(err, errlen, "can't happen: root is still within reach after "
			    "switching to %s", sbx.user);
			return -1;
		}
	}
	if (caps_get(&eff, &prm) == -1 || eff != keep || prm != keep) {
		snprintf(err, errlen, "can't happen: capabilities %#llx/%#llx, wanted %#llx",
		    (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)keep);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* seccomp                                                             */
/* ------------------------------------------------------------------ */

/* Calls allowed with any arguments. */
static const int allow_any[] = {
	/* descriptors and files (opens are checked below) */
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(pread64), SCMP_SYS(write),
	SCMP_SYS(writev), SCMP_SYS(close), SCMP_SYS(lseek), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fcntl), SCMP_SYS(fcntl64),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(dup),
	SCMP_SYS(dup3), SCMP_SYS(pipe2), SCMP_SYS(eventfd2), SCMP_SYS(getdents64),
	/* the control socket's file at exit (as root-turned-nobody, the helper does it) */
	SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	/* the loop, libcurl's polling */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2),
	SCMP_SYS(epoll_ctl), SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* libnftables waits for the kernel's answers with select */
	SCMP_SYS(select), SCMP_SYS(pselect6),
	/* sockets: serving, STS (connect, DNS over UDP and netlink), the helper's channels */
	SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(getsockname),
	SCMP_SYS(getpeername), SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(shutdown), SCMP_SYS(socketpair),
	/* memory (mmap and mprotect are checked below) */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/* time */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	/* who and where */
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(uname),
	SCMP_SYS(sysinfo), SCMP_SYS(getrandom), SCMP_SYS(getrlimit),
	/* signals, exit, threads (libcurl's resolver) */
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall), SCMP_SYS(tgkill),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(futex), SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq), SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(wait4),
};

/* Calls that only injected code would make here: they kill the process. */
static const int kill_any[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
};

static struct {
	scmp_filter_ctx	(*init)(uint32_t);
	int		(*rule_add)(scmp_filter_ctx, uint32_t, int, unsigned int, ...);
	int		(*attr_set)(scmp_filter_ctx, enum scmp_filter_attr, uint32_t);
	int		(*load)(scmp_filter_ctx);
	void		(*release)(scmp_filter_ctx);
} lsc;

/*
 * Build and load the filter.  *nrules gets how many rules went in.
 * 0 / -1 with err.  libseccomp is loaded for this and unloaded after.
 */
static int __attribute__((unused))
seccomp_install(unsigned *nrules, char *err, size_t errlen)
{
	const uint32_t wx = PROT_WRITE | PROT_EXEC;
	const uint32_t ro_mask = O_ACCMODE | O_CREAT | O_TRUNC;
	const uint32_t allow = SCMP_ACT_ALLOW;
	scmp_filter_ctx ctx = NULL;
	void *h;
	size_t i;
	int rc = -1, bad = 0, r;

	*nrules = 0;
	if ((h = dlopen(LIBSECCOMP_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "seccomp: %s (install libseccomp2, or --no-sandbox)",
		    dlerror());
		return -1;
	}
	*(void **)&lsc.init = dlsym(h, "seccomp_init");
	*(void **)&lsc.rule_add = dlsym(h, "seccomp_rule_add");
	*(void **)&lsc.attr_set = dlsym(h, "seccomp_attr_set");
	*(void **)&lsc.load = dlsym(h, "seccomp_load");
	*(void **)&lsc.release = dlsym(h, "seccomp_release");
	if (lsc.init == NULL || lsc.rule_add == NULL || lsc.attr_set == NULL ||
	    lsc.load == NULL || lsc.release == NULL) {
		snprintf(err, errlen, "seccomp: %s lacks a function", LIBSECCOMP_SONAME);
		goto out;
	}
	if ((ctx = lsc.init(SCMP_ACT_ERRNO(EPERM))) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		goto out;
	}
	/* every thread (a resolver thread could be alive); no_new_privs is set already */
	(void)lsc.attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);

#define RULE(act, nr, ...) do {						\
		r = lsc.rule_add(ctx, (act), (nr), __VA_ARGS__);		\
		if (r == 0)						\
			(*nrules)++;					\
		else if (r != -EDOM)	/* not a call of this architecture */ \
			bad = r;					\
	} while (0)

	for (i = 0; i < sizeof(allow_any) / sizeof(allow_any[0]); i++)
		RULE(allow, allow_any[i], 0);
	for (i = 0; i < sizeof(kill_any) / sizeof(kill_any[0]); i++)
		RULE(SCMP_ACT_KILL_PROCESS, kill_any[i], 0);
	/* glibc tries clone3 first and falls back to clone on ENOSYS */
	RULE(SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* clone: threads only (no fork, no new namespaces) */
	RULE(allow, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
	    CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWNET, CLONE_THREAD));
	/* files: read-only opens (config, shared files, /etc for DNS, /proc/self/smaps) */
	RULE(allow, SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, ro_mask, O_RDONLY));
	RULE(allow, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, ro_mask, O_RDONLY));
	/* sockets of these families only (netlink: getaddrinfo, and the packet filter) */
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	RULE(allow, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));
	/* ioctl: isatty (stdio), FIONREAD and FIONBIO (libcurl) */
	RULE(allow, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TCGETS));
	RULE(allow, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	RULE(allow, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	/* W^X: no mapping both writable and executable */
	RULE(allow, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, 0));
	RULE(allow, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_WRITE));
	RULE(allow, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_EXEC));
	RULE(allow, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, 0));
	RULE(allow, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_WRITE));
	RULE(allow, SCMP_SYS(mprotect), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_EXEC));
	/* getrlimit through prlimit64 (glibc): reading only */
	RULE(allow, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
#undef RULE
	if (bad != 0) {
		snprintf(err, errlen, "seccomp_rule_add: %s", strerror(-bad));
		goto out;
	}
	if ((r = lsc.load(ctx)) != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
		goto out;
	}
	rc = 0;
out:
	if (ctx != NULL)
		lsc.release(ctx);
	memset(&lsc, 0, sizeof(lsc));
	dlclose(h);
	return rc;
}

/*
 * Test hook (tests/wire/test_sandbox.py; not documented for users):
 * GIMME_TEST_FORBIDDEN_SYSCALL=eperm makes the daemon try unshare(0) once
 * the sandbox is up (a no-op when allowed; refused by the filter), =kill
 * tries execveat on no descriptor (EBADF when allowed; kills under the
 * filter).  Neither changes anything when it is allowed.
 */
static void
forbidden_probe(const char *what)
{
	long r;

	if (strcmp(what, "eperm") == 0) {
		r = syscall(SYS_unshare, 0);
		log_warn("sandbox test: unshare(0): %s", r == 0 ? "allowed" : strerror(errno));
	} else if (strcmp(what, "kill") == 0) {
		log_warn("sandbox test: execveat(-1) next");
		r = syscall(SYS_execveat, -1, "", NULL, NULL, AT_EMPTY_PATH);
		log_warn("sandbox test: execveat(-1): %s", r == 0 ? "allowed" : strerror(errno));
	}
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

int
sandbox_prepare(const struct sandbox_cfg *sc_, char *err, size_t errlen)
{
	const char *name = sc_->sb_user != NULL ? sc_->sb_user : SANDBOX_USER_DEFAULT;
	struct passwd *pw;

	if (sc_->sb_disabled || geteuid() != 0)
		return 0;
	if (strlen(name) >= sizeof(sbx.user)) {
		snprintf(err, errlen, "user name '%s' is too long", name);
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "no user named '%s'%s%s", name, errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return -1;
	}
	sbx.uid = pw->pw_uid;
	sbx.gid = pw->pw_gid;
	snprintf(sbx.user, sizeof(sbx.user), "%s", name);
	sbx.have_user = 1;
	return 0;
}

int
sandbox_enter(const struct sandbox_cfg *sc_, char *err, size_t errlen)
{
	const uint64_t keep = sc_->sb_keep_net_admin ? 1ULL << CAP_NET_ADMIN : 0;
	const char *probe = getenv("GIMME_TEST_FORBIDDEN_SYSCALL");
	char helper[ERRBUF_LEN] = "", filter[256];
	int switching, switched = 0, i, npaths = 0;
	unsigned nrules = 0;

	if (sc_->sb_disabled) {
		log_warn("sandbox: off (--no-sandbox): uid %lu keeps every privilege it started "
		    "with", (unsigned long)geteuid());
		return 0;
	}
	switching = geteuid() == 0 && sbx.have_user && sbx.uid != 0;

	/*
	 * 1. The helper: for a profile (its credential_process, and its files,
	 * which the new user may not read), and for the config and user-data
	 * files when the user changes.
	 */
	for (i = 0; i < SANDBOX_PATHS_MAX; i++) {
		const char *p = sc_->sb_paths[i];

		if (p == NULL)
			continue;
		if (sc_->sb_profile == NULL && !switching)
			continue;	/* no helper: the daemon reads them itself, as before */
		if (i <= SANDBOX_PATH_AWS_CREDS && sc_->sb_profile == NULL)
			continue;
		if ((sbx.paths[i] = strdup(p)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		npaths++;
	}
	if (sc_->sb_profile != NULL || npaths > 0) {
		if (helper_start(sc_, err, errlen) == -1)
			return -1;
		snprintf(helper, sizeof(helper), "; helper pid %ld (%s) %s%s%s",
		    (long)sbx.pid, geteuid() == 0 ? "root" : "invoking user",
		    sc_->sb_profile != NULL ? "runs credential_process" : "",
		    sc_->sb_profile != NULL && npaths > 0 ? ", " : "",
		    npaths > 0 ? "opens the files re-read" : "");
	}

	/*
	 * 2, 3. The user and capabilities.  (The packet-filter rules were
	 * installed before this call; keep says whether to keep CAP_NET_ADMIN.)
	 */
	if (drop_privileges(keep, sc_->sb_exec_net_admin ? keep : 0, &switched, err,
	    errlen) == -1)
		return -1;
	if (!switched && sc_->sb_user_set && geteuid() != 0)
		log_warn("sandbox: not started as root: --user %s ignored, staying uid %lu",
		    sc_->sb_user, (unsigned long)geteuid());

	/* 4. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}

	/* 5. */
#ifdef SANDBOX_SANITIZER
	/* AddressSanitizer's runtime (LeakSanitizer's ptrace at exit) is not on the list */
	snprintf(filter, sizeof(filter), "no seccomp filter (sanitizer build)");
	(void)nrules;
#else
	if (sc_->sb_exec_net_admin) {
		/* the iptables commands are exec'd, which the filter kills */
		snprintf(filter, sizeof(filter), "no seccomp filter (the magic IP's iptables rules "
		    "are kept up with the iptables commands; nftables allows one)");
	} else {
		if (seccomp_install(&nrules, err, errlen) == -1)
			return -1;
		snprintf(filter, sizeof(filter), "seccomp allow-list of %u rules (others EPERM; "
		    "exec and ptrace kill)", nrules);
	}
#endif
	if (switched)
		log_info("sandbox: user %s (uid %lu, gid %lu, no supplementary groups), "
		    "capabilities: %s, no_new_privs, %s%s", sbx.user, (unsigned long)sbx.uid,
		    (unsigned long)sbx.gid, keep ? (sc_->sb_exec_net_admin ? "net_admin (also "
		    "ambient)" : "net_admin") : "none", filter, helper);
	else
		log_info("sandbox: uid %lu (not switched%s), capabilities: %s, no_new_privs, %s%s",
		    (unsigned long)geteuid(), geteuid() == 0 ? ": --user is root" : ": not root",
		    keep ? (sc_->sb_exec_net_admin ? "net_admin (also ambient)" : "net_admin") :
		    "none", filter, helper);
	if (probe != NULL)
		forbidden_probe(probe);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The helper process                                                  */
/* ------------------------------------------------------------------ */

struct hjob {
	uint32_t	 h_seq;
};

static struct {
	int		 done;
	int		 runs;		/* it runs credential_process */
	const char	*paths[SANDBOX_PATHS_MAX];	/* "" : none */
	struct loop_watch w_open;
	struct loop_watch w_run;
} hl;

/* Answer one RUN.  Wipes what it sent. */
static void
helper_reply(uint32_t seq, int ok, const struct cred *c, const char *msg)
{
	struct sbx_run_rep rep;

	memset(&rep, 0, sizeof(rep));
	rep.r_seq = seq;
	rep.r_ok = ok;
	if (ok)
		rep.r_cred = *c;
	else
		snprintf(rep.r_err, sizeof(rep.r_err), "%s", msg);
	if (send_fd(SANDBOX_RUN_FD, &rep, sizeof(rep), -1) == -1 && errno != EPIPE)
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
	if (awsconf_load(cfg, crd, &ac, err, sizeof(err)) == -1) {
		helper_reply(seq, 0, NULL, err);
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
	if (r != (ssize_t)sizeof(*q) || (int)q->q_type != type) {
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

static void
helper_on_open(int fd, uint32_t events, void *unused)
{
	struct sbx_open_rep rep;
	struct sbx_req q;
	int f = -1, fl;

	(void)events;
	(void)unused;
	if (helper_recv(fd, SBX_OPEN, &q) != 1)
		return;
	memset(&rep, 0, sizeof(rep));
	rep.o_seq = q.q_seq;
	if (q.q_arg >= SANDBOX_PATHS_MAX || q.q_arg == SANDBOX_PATH_CONTROL ||
	    hl.paths[q.q_arg][0] == '\0')
		rep.o_errno = EACCES;	/* only the files named at start */
	/* O_NONBLOCK: a FIFO in a file's place must not hang the helper */
	else if ((f = open(hl.paths[q.q_arg], O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		rep.o_errno = errno;
	else if ((fl = fcntl(f, F_GETFL)) == -1 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) == -1)
		rep.o_errno = errno;
	if (send_fd(fd, &rep, sizeof(rep), rep.o_errno == 0 ? f : -1) == -1)
		hl.done = 1;
	if (f >= 0)
		close(f);
}

int
sandbox_helper_main(int argc, char **argv, void (*trim)(void),
    int (*remove_sock)(const char *path, char *err, size_t errlen))
{
	struct sbx_open_rep ready;
	struct stat st3, st4;
	unsigned long level;
	char err[ERRBUF_LEN];
	sigset_t quiet;
	int i;

	if (argc != HELPER_ARGC || fstat(SANDBOX_OPEN_FD, &st3) == -1 || !S_ISSOCK(st3.st_mode) ||
	    fstat(SANDBOX_RUN_FD, &st4) == -1 || !S_ISSOCK(st4.st_mode) ||
	    parse_uint_bounded(argv[2], strlen(argv[2]), LOG_LVL_ERR, &level) != 0) {
		fprintf(stderr, "%s: sandbox-helper is started by serve, not by hand\n", PROGNAME);
		return EXIT_USAGE;
	}
	log_init(strcmp(argv[1], "json") == 0, (enum log_level)level);
	hl.runs = strcmp(argv[3], HELPER_RUNS) == 0;
	for (i = 0; i < SANDBOX_PATHS_MAX; i++)
		hl.paths[i] = argv[4 + i];
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
	if (send_fd(SANDBOX_OPEN_FD, &ready, sizeof(ready), -1) == -1) {
		loop_cleanup();
		return EXIT_SYSTEM;
	}
	if (trim != NULL)
		trim();		/* it idles like the daemon: give back start-up's pages too */
	(void)loop_run_until(&hl.done);
	/*
	 * The daemon is gone.  Its control socket's directory may not be
	 * writable by the user it became: the socket file goes here, unless
	 * someone listens on it (a second daemon that started meanwhile).
	 */
	if (hl.paths[SANDBOX_PATH_CONTROL][0] != '\0' && remove_sock != NULL &&
	    remove_sock(hl.paths[SANDBOX_PATH_CONTROL], err, sizeof(err)) == -1)
		log_info("sandbox helper: left the control socket: %s", err);
	loop_watch_del(&hl.w_open);
	loop_watch_del(&hl.w_run);
	loop_cleanup();
	close(SANDBOX_OPEN_FD);
	close(SANDBOX_RUN_FD);
	return 0;
}
