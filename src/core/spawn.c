/*
 * spawn.c: starting a program (posix_spawn), the one way every part of the
 * daemon does it: credential_process (creds/credproc.c), the iptables
 * commands (netfilter/iptables.c), the sandbox helper (priv/) and the
 * identity key generator (imds/keygen.c).
 *
 * The child gets clean signal state (no blocked signal: the loop blocks
 * some for its signalfd; default dispositions: the daemon ignores
 * SIGPIPE), optionally its own process group (to be killed whole), and
 * exactly the descriptors asked for: child descriptors 0 .. ss_nio-1 as
 * struct spawn_io says, every other one closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"

extern char **environ;

/* No blocked signal, default dispositions, and with own_group its own process group. */
static int
spawn_attr_clean(posix_spawnattr_t *attr, int own_group)
{
	sigset_t none, dfl;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int e;

	sigemptyset(&none);
	sigfillset(&dfl);
	sigdelset(&dfl, SIGKILL);
	sigdelset(&dfl, SIGSTOP);
	if (own_group)
		flags |= POSIX_SPAWN_SETPGROUP;
	if ((e = posix_spawnattr_setflags(attr, flags)) != 0 ||
	    (own_group && (e = posix_spawnattr_setpgroup(attr, 0)) != 0) ||
	    (e = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(attr, &dfl)) != 0)
		return e;
	return 0;
}

/*
 * The file actions for child descriptor c.  raised[c]: the parent's
 * descriptor to give, moved above the child's range first (so that no
 * dup2 overwrites a descriptor a later one needs); pipe_w[c]: a new pipe's
 * write end.  0, or the error number.
 */
static int
spawn_fa_one(posix_spawn_file_actions_t *fa, const struct spawn_spec *s, int c,
    const int *raised, const int *pipe_w)
{
	const struct spawn_io *io = &s->ss_io[c];

	switch (io->io_how) {
	case SPAWN_INHERIT:
		return 0;
	case SPAWN_DEVNULL:
		return posix_spawn_file_actions_addopen(fa, c, "/dev/null", O_RDONLY, 0);
	case SPAWN_FD:
		return posix_spawn_file_actions_adddup2(fa, raised[c], c);
	case SPAWN_PIPE:
		return posix_spawn_file_actions_adddup2(fa, pipe_w[c], c);
	case SPAWN_SAME:
		/* after the descriptor it copies (an earlier one) is in place */
		if (io->io_fd < 0 || io->io_fd >= c)
			return EINVAL;
		return posix_spawn_file_actions_adddup2(fa, io->io_fd, c);
	}
	return EINVAL;
}

/* posix_spawn(p) of s with fa and attr; ENOENT in PATH tries ss_fallback_dir. */
static int
spawn_exec(const struct spawn_spec *s, const posix_spawn_file_actions_t *fa,
    const posix_spawnattr_t *attr, pid_t *pid)
{
	char *const *env = s->ss_envp != NULL ? s->ss_envp : environ;
	char full[SPAWN_PATH_MAX];
	int e;

	if (!s->ss_search)
		return posix_spawn(pid, s->ss_prog, fa, attr, s->ss_argv, env);
	/* posix_spawnp reports exec failures (ENOENT, EACCES) here */
	e = posix_spawnp(pid, s->ss_prog, fa, attr, s->ss_argv, env);
	if (e != ENOENT || s->ss_fallback_dir == NULL || strchr(s->ss_prog, '/') != NULL)
		return e;
	if (snprintf(full, sizeof(full), "%s/%s", s->ss_fallback_dir, s->ss_prog) >=
	    (int)sizeof(full))
		return ENAMETOOLONG;
	return posix_spawn(pid, full, fa, attr, s->ss_argv, env);
}

int
spawn_start(struct spawn_spec *s, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int raised[SPAWN_FDS_MAX], pipe_r[SPAWN_FDS_MAX], pipe_w[SPAWN_FDS_MAX];
	int fa_ok = 0, attr_ok = 0, e = 0, c, p[2];

	*pid = -1;
	if (s->ss_nio < 0 || s->ss_nio > SPAWN_FDS_MAX)
		return EINVAL;
	for (c = 0; c < SPAWN_FDS_MAX; c++)
		raised[c] = pipe_r[c] = pipe_w[c] = -1;
	for (c = 0; c < s->ss_nio && e == 0; c++) {
		const struct spawn_io *io = &s->ss_io[c];

		if (io->io_how == SPAWN_FD &&
		    (raised[c] = fcntl(io->io_fd, F_DUPFD_CLOEXEC, SPAWN_FDS_MAX)) == -1)
			e = errno;
		/* the child's end stays blocking: a writer must not see EAGAIN */
		else if (io->io_how == SPAWN_PIPE) {
			if (pipe2(p, O_CLOEXEC) == -1)
				e = errno;
			else {
				pipe_r[c] = p[0];
				pipe_w[c] = p[1];
			}
		}
	}
	if (e != 0 || (e = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	fa_ok = 1;
	for (c = 0; c < s->ss_nio && e == 0; c++)
		e = spawn_fa_one(&fa, s, c, raised, pipe_w);
	/* nothing else of ours: the listeners, the epoll set, the channels stay here */
	if (e != 0 || (e = posix_spawn_file_actions_addclosefrom_np(&fa, s->ss_nio)) != 0)
		goto out;
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = 1;
	if ((e = spawn_attr_clean(&attr, s->ss_own_group)) != 0)
		goto out;
	if ((e = spawn_exec(s, &fa, &attr, pid)) != 0)
		*pid = -1;
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (c = 0; c < SPAWN_FDS_MAX; c++) {
		if (raised[c] >= 0)
			close(raised[c]);
		if (pipe_w[c] >= 0)
			close(pipe_w[c]);
		if (pipe_r[c] >= 0 && e != 0)
			close(pipe_r[c]);
		else if (pipe_r[c] >= 0)
			s->ss_io[c].io_fd = pipe_r[c];	/* the parent's end */
	}
	return e;
}

void
spawn_reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
}
