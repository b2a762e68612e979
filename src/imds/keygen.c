/*
 * keygen.c: the identity keys made by a child process while the daemon
 * serves (no --identity-key file; identity.c makes, signs and parses).
 *
 * Why a child process and not a thread: the daemon is single-threaded, and
 * the sandbox it enters a moment later drops capabilities and changes uid
 * (per thread in the kernel: a thread started before would keep them, or
 * be caught mid-way by the seccomp filter, which is synchronised to every
 * thread), and spawns its privileged helper.  A child needs no system call
 * the sandbox would refuse, and key generation's heap and the library
 * pages it touches (prime search, DSA parameters) are the child's, not the
 * server's.  The child is this binary exec'd afresh (`identity-keygen`,
 * posix_spawn: no copy-on-write of the server's pages while it works, no
 * descriptor or signal state inherited), at a lower priority so that the
 * first answers get the CPU first.  It reads the identity document on its
 * stdin (keygen_offer: the first snapshot's), makes the keys and
 * certificates, signs the document, and writes its answer (identity_keys_write)
 * to its stdout, a pipe, and exits.  The loop reads the pipe, hands the
 * answer to identity_take and calls ready.  The parent dying kills it
 * (PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imds/imds.h"

#define KEYGEN_NICE		10	/* nice value of the generator (the server's is 0) */

static struct {
	pid_t		 pid;		/* the child; 0: none */
	int		 fd;		/* the pipe's read end (its stdout); -1: none */
	int		 in_fd;		/* its stdin's write end, until the document is offered */
	struct loop_watch w;
	char		*buf;		/* what the child wrote so far (KEYGEN_OUT_MAX) */
	size_t		 len;
	char		*doc;		/* the document offered (malloc'd copy), NULL: none */
	size_t		 doc_len;
	void		(*ready)(void *arg, int ok);
	void		*arg;
} kg = { 0, -1, -1, { -1, 0, NULL, NULL, 0 }, NULL, 0, NULL, 0, NULL, NULL };

/* Wipe what the child wrote and the document offered. */
static void
kg_wipe(void)
{
	wipe_free(kg.buf, KEYGEN_OUT_MAX);
	kg.buf = NULL;
	kg.len = 0;
	wipe_free(kg.doc, kg.doc_len);
	kg.doc = NULL;
}

void
keygen_stop(void)
{
	if (kg.fd != -1) {
		close(kg.fd);	/* out of the epoll set with it */
		kg.w.lw_fd = -1;
		kg.fd = -1;
	}
	if (kg.in_fd != -1)
		close(kg.in_fd);
	kg.in_fd = -1;
	/* the sandbox may refuse kill(2): then the closed pipe (EPIPE) or our exit ends it */
	if (kg.pid > 0 && kill(kg.pid, SIGKILL) == 0)
		spawn_reap(kg.pid, NULL);
	kg.pid = 0;
	kg_wipe();
	kg.ready = NULL;
}

int
keygen_main(int argc, char **argv)
{
	char err[ERRBUF_LEN];
	int ok;

	/* argv[1]: the daemon's pid; it gone, so are we */
	if (argc != 2 || prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    strtol(argv[1], NULL, 10) != (long)getppid()) {
		fprintf(stderr, "%s: identity-keygen is started by serve, not by hand\n", PROGNAME);
		return EXIT_USAGE;
	}
	/* keys first, then the document from stdin, once the daemon has built it */
	ok = identity_keys_write(STDOUT_FILENO, STDIN_FILENO, err, sizeof(err)) == 0;
	if (!ok)	/* not PEM: the reason */
		(void)!write(STDOUT_FILENO, err, strnlen(err, sizeof(err)));
	return ok ? 0 : EXIT_SYSTEM;
}

/* The pipe's end: the keys (and the first signatures) in, then ready. */
static void
kg_finish(void)
{
	char err[ERRBUF_LEN] = "";
	int status = 0, ok = 0;

	loop_watch_del(&kg.w);
	close(kg.fd);
	kg.fd = -1;
	/* EOF: the child is exiting, so this wait is short */
	spawn_reap(kg.pid, &status);
	kg.pid = 0;
	if (kg.len == 0)
		snprintf(err, sizeof(err), "the generator exited (status %d) without a key",
		    status);
	else if (identity_take(kg.buf, kg.len, &kg.doc, kg.doc_len, err, sizeof(err)) == 0)
		ok = 1;
	if (ok)
		log_info("identity keys generated");
	else {
		log_err("identity keys: %s: signatures are not served", err);
		identity_fail(err);
	}
	kg_wipe();
	if (kg.ready != NULL)
		kg.ready(kg.arg, ok);
}

/* The pipe is readable: take what is there; at EOF (or too much), finish. */
static void
kg_readable(int fd, uint32_t events, void *arg)
{
	ssize_t r;

	(void)events;
	(void)arg;
	for (;;) {
		if (kg.len == KEYGEN_OUT_MAX) {
			kg.len = 0;	/* more than keys: not trusted */
			break;
		}
		if ((r = read_some(fd, kg.buf + kg.len, KEYGEN_OUT_MAX - kg.len)) == -1)
			return;
		if (r == 0)
			break;	/* EOF or an error */
		kg.len += (size_t)r;
	}
	kg_finish();
}

/* Move *fd above stdout if it is not.  0 / -1 (errno). */
static int
kg_raise(int *fd)
{
	int nfd;

	if (*fd > STDOUT_FILENO)
		return 0;
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) == -1)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* Spawn `identity-keygen` with its stdin on in, its stdout on out.  0 / an errno. */
static int
kg_spawn(int in, int out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char ppid[24];
	char *argv[] = { PROGNAME, "identity-keygen", ppid, NULL };
	int e;

	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		return e;
	if ((e = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return e;
	}
	/* the loop's blocked signals unblocked, SIGPIPE (ignored here) the default */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	if ((e = posix_spawn_file_actions_adddup2(&fa, in, STDIN_FILENO)) == 0 &&
	    (e = posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO)) == 0 &&
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1)) == 0 &&
	    (e = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (e = posix_spawnattr_setsigdefault(&attr, &dfl)) == 0 &&
	    (e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) == 0)
		/* this very binary, whatever its path: the generator is one of its verbs */
		e = posix_spawn(&kg.pid, "/proc/self/exe", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return e;
}

int
keygen_start(void (*ready)(void *arg, int ok), void *arg, char *err, size_t errlen)
{
	int p[2] = { -1, -1 }, q[2] = { -1, -1 }, e;

	if (kg.pid != 0 || (kg.buf = malloc(KEYGEN_OUT_MAX)) == NULL) {
		snprintf(err, errlen, "identity keys: %s", kg.pid != 0 ? "already under way" :
		    strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1 || pipe2(q, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "identity keys: pipe: %s", strerror(errno));
		/* pipe2 leaves a failed pair untouched: only what it opened is closed */
		for (int i = 0; i < 2; i++) {
			if (p[i] >= 0)
				close(p[i]);
			if (q[i] >= 0)
				close(q[i]);
		}
		free(kg.buf);
		kg.buf = NULL;
		return -1;
	}
	/* the child's ends above stdout: dup2 onto 0 and 1 must not clash (a daemon
	   started with them closed) */
	e = kg_raise(&q[0]) == 0 && kg_raise(&p[1]) == 0 ? kg_spawn(q[0], p[1]) : errno;
	close(p[1]);
	close(q[0]);
	kg.fd = p[0];
	kg.in_fd = q[1];
	kg.len = 0;
	kg.ready = ready;
	kg.arg = arg;
	if (e != 0) {
		kg.pid = 0;
		snprintf(err, errlen, "identity keys: starting the generator: %s", strerror(e));
		keygen_stop();
		return -1;
	}
	/* it yields to the server: the first answers need the CPU more */
	(void)setpriority(PRIO_PROCESS, (id_t)kg.pid, KEYGEN_NICE);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1 || fcntl(q[1], F_SETFL, O_NONBLOCK) == -1 ||
	    loop_watch_add(&kg.w, p[0], EPOLLIN, kg_readable, NULL) == -1) {
		snprintf(err, errlen, "identity keys: watching the pipe: %s", strerror(errno));
		keygen_stop();
		return -1;
	}
	return 0;
}

void
keygen_offer(const char *doc, size_t len)
{
	ssize_t w;

	if (kg.in_fd == -1)
		return;
	/* one write into an empty pipe: all of it, or the child signs nothing */
	if (doc != NULL && len > 0 && len <= KEYGEN_OUT_MAX && (kg.doc = malloc(len)) != NULL) {
		memcpy(kg.doc, doc, len);
		kg.doc_len = len;
		if ((w = write(kg.in_fd, doc, len)) < 0 || (size_t)w != len) {
			wipe_free(kg.doc, kg.doc_len);
			kg.doc = NULL;
		}
	}
	close(kg.in_fd);
	kg.in_fd = -1;
}
