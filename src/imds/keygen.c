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
 * spawn_start: no copy-on-write of the server's pages while it works, no
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

int
keygen_start(void (*ready)(void *arg, int ok), void *arg, char *err, size_t errlen)
{
	char ppid[24];
	char *argv[] = { PROGNAME, "identity-keygen", ppid, NULL };
	/* this very binary, whatever its path: the generator is one of its verbs */
	struct spawn_spec sp = { .ss_prog = "/proc/self/exe", .ss_argv = argv, .ss_nio = 3 };
	int q[2], e;

	if (kg.pid != 0 || (kg.buf = malloc(KEYGEN_OUT_MAX)) == NULL) {
		snprintf(err, errlen, "identity keys: %s", kg.pid != 0 ? "already under way" :
		    strerror(errno));
		return -1;
	}
	if (pipe2(q, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "identity keys: pipe: %s", strerror(errno));
		free(kg.buf);
		kg.buf = NULL;
		return -1;
	}
	snprintf(ppid, sizeof(ppid), "%ld", (long)getpid());
	/* the document in on its stdin, the answer out on its stdout; stderr as ours */
	sp.ss_io[STDIN_FILENO] = (struct spawn_io){ SPAWN_FD, q[0] };
	sp.ss_io[STDOUT_FILENO] = (struct spawn_io){ SPAWN_PIPE, -1 };
	sp.ss_io[STDERR_FILENO] = (struct spawn_io){ SPAWN_INHERIT, -1 };
	e = spawn_start(&sp, &kg.pid);
	close(q[0]);
	kg.fd = sp.ss_io[STDOUT_FILENO].io_fd;
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
	if (fcntl(kg.fd, F_SETFL, O_NONBLOCK) == -1 || fcntl(q[1], F_SETFL, O_NONBLOCK) == -1 ||
	    loop_watch_add(&kg.w, kg.fd, EPOLLIN, kg_readable, NULL) == -1) {
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
