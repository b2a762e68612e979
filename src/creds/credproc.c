/*
 * credproc.c: credential_process, as the AWS CLI runs it.
 *
 * The AWS CLI (botocore ProcessProvider) splits the profile's
 * credential_process value with compat_shell_split, which on Linux is
 * Python's shlex.split in POSIX mode, runs the words without a shell,
 * and reads a JSON document from the program's stdout:
 *
 *	{ "Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
 *	  "SessionToken": "...", "Expiration": "2025-06-02T09:20:28Z" }
 *
 * A non-zero exit is a failure whose message is the program's stderr.
 *
 * Everything the program prints on stdout may be a secret: it is never
 * quoted in a message, and the buffer that holds it is wiped.  The command
 * line itself may carry secrets too, so split errors give an offset, not
 * the text.
 *
 * credproc_run is asynchronous: the child's stdout, stderr and a pidfd are
 * watched by the event loop (core/loop.c), a loop timer bounds its run time,
 * and the result is reported once, from the loop.  No SIGCHLD handler is
 * involved: the pidfd says when the child has exited and waitpid reaps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "creds/creds.h"


#define CREDPROC_VERSION	1	/* the only "Version" of the output format */
#define CREDPROC_NAME_SHOWN	96	/* bytes of argv[0] shown in a message */
#define CREDPROC_OUT_INIT	4096	/* first capacity of the stdout buffer */
#define CREDPROC_READ_CHUNK	4096	/* bytes per read(2) of stderr */

/* ------------------------------------------------------------------ */
/* Splitting                                                           */
/* ------------------------------------------------------------------ */

/*
 * shlex.split(s) in POSIX mode, whitespace_split, no comments: exactly what
 * botocore's compat_shell_split does on Linux.  Checked against Python's
 * shlex:
 *   - word separators are space, TAB, CR and LF only (not VT or FF);
 *   - outside quotes, a backslash makes the next character literal (a
 *     backslash-newline is kept as a newline, not a line continuation);
 *   - '...' is literal;
 *   - inside "...", a backslash escapes only '"' and '\\'; before anything
 *     else (including '$', '`' and newline) it is kept, unlike sh(1);
 *   - quoted parts join the word around them; "" alone is an empty word;
 *   - '#' is an ordinary character (shlex.split sets comments=False);
 *   - an unterminated quote or a trailing backslash is an error.
 */

static int
is_split_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int
credproc_split(const char *cmd, char ***argvp, char *err, size_t errlen)
{
	enum { S_SPACE, S_WORD, S_SQUOTE, S_DQUOTE } st = S_SPACE;
	size_t len, i, nwords = 0, quote_at = 0, ptrs;
	char **argv = NULL, *store;
	int rc = -1;

	*argvp = NULL;
	len = strlen(cmd);
	/*
	 * One block: CREDPROC_ARGS_MAX + 1 pointers, then the words.  The
	 * words never need more than len + 1 bytes: each output byte consumes
	 * an input byte, and each word's NUL is paid for by the separator
	 * (or the end) after it, or by the two quotes of an empty word.
	 */
	ptrs = (CREDPROC_ARGS_MAX + 1) * sizeof(char *);
	if ((argv = malloc(ptrs + len + 1)) == NULL) {
		errf(err, errlen, "out of memory");
		goto fail;
	}
	store = (char *)argv + ptrs;

	for (i = 0; i < len; i++) {
		char ch = cmd[i];

		switch (st) {
		case S_SPACE:
		case S_WORD:
			if (st == S_SPACE) {
				if (is_split_space(ch))
					continue;
				if (nwords == CREDPROC_ARGS_MAX) {
					errf(err, errlen, "command has more than %d words "
					    "(at offset %zu)", CREDPROC_ARGS_MAX, i);
					goto fail;
				}
				argv[nwords++] = store;
				st = S_WORD;
			} else if (is_split_space(ch)) {
				*store++ = '\0';
				st = S_SPACE;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote_at = i;
				st = ch == '\'' ? S_SQUOTE : S_DQUOTE;
			} else if (ch == '\\') {
				if (i + 1 == len) {
					errf(err, errlen, "backslash at the end of the "
					    "command (offset %zu)", i);
					goto fail;
				}
				*store++ = cmd[++i];
			} else
				*store++ = ch;
			break;
		case S_SQUOTE:
			if (ch == '\'')
				st = S_WORD;
			else
				*store++ = ch;
			break;
		case S_DQUOTE:
			if (ch == '"')
				st = S_WORD;
			else if (ch == '\\' && i + 1 < len &&
			    (cmd[i + 1] == '"' || cmd[i + 1] == '\\'))
				*store++ = cmd[++i];
			else
				*store++ = ch;	/* a lone '\' is kept (shlex) */
			break;
		}
	}
	if (st == S_SQUOTE || st == S_DQUOTE) {
		errf(err, errlen, "unterminated %s quote (opened at offset %zu)",
		    st == S_SQUOTE ? "single" : "double", quote_at);
		goto fail;
	}
	if (st == S_WORD)
		*store = '\0';
	if (nwords == 0) {
		errf(err, errlen, "command is empty");
		goto fail;
	}
	argv[nwords] = NULL;
	*argvp = argv;
	argv = NULL;
	rc = 0;
fail:
	if (argv != NULL) {
		/* the command line may hold a secret: wipe the partial words */
		explicit_bzero(argv, ptrs + len + 1);
		free(argv);
	}
	return rc;
}

void
credproc_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	/* the words are contiguous in the block after the pointers */
	for (i = 0; argv[i] != NULL; i++)
		explicit_bzero(argv[i], strlen(argv[i]));
	free(argv);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/*
 * While jansson parses a secret, its buffers (the lexer's string buffer,
 * the decoded strings, the hashtable keys) are freed through this, which
 * wipes them first.  Only installed when jansson uses the libc allocator,
 * whose block sizes malloc_usable_size knows.
 */
static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/*
 * Copy the string member key of obj into dst[cap] (at most cap - 1 bytes).
 * Returns 0 copied, 1 absent or null (when optional), -1 with err.
 */
static int
get_string(json_t *obj, const char *key, int required, char *dst, size_t cap,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	size_t n;

	if (v == NULL || (!required && json_is_null(v))) {
		if (required) {
			errf(err, errlen, "%s is missing", key);
			return -1;
		}
		return 1;
	}
	if (!json_is_string(v)) {
		errf(err, errlen, "%s is not a string", key);
		return -1;
	}
	n = json_string_length(v);
	if (n == 0 && required) {
		errf(err, errlen, "%s is empty", key);
		return -1;
	}
	if (n >= cap) {
		errf(err, errlen, "%s is longer than %zu bytes", key, cap - 1);
		return -1;
	}
	/* jansson refuses \u0000 without JSON_ALLOW_NUL: no NUL inside */
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return 0;
}

int
credproc_parse(const char *out, size_t len, struct cred *c, char *err, size_t errlen)
{
	json_malloc_t old_malloc;
	json_free_t old_free;
	json_error_t jerr;
	json_t *root = NULL, *v;
	char when[ISO_DATE_LEN + 64];
	size_t n, i;
	int rc = -1, swapped = 0, r;

	memset(c, 0, sizeof(*c));
	memset(&jerr, 0, sizeof(jerr));

	/* output of only whitespace: say so rather than "not JSON" */
	for (i = 0; i < len && is_split_space(out[i]); i++)
		;
	if (i == len) {
		errf(err, errlen, "output is empty");
		goto fail;
	}

	json_get_alloc_funcs(&old_malloc, &old_free);
	if (old_free == free) {
		json_set_alloc_funcs(old_malloc, wiping_free);
		swapped = 1;
	}
	/* JSON_DECODE_ANY: a lone string or number is "not an object" below */
	root = json_loadb(out, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		/*
		 * jerr.text quotes the offending token ("near '...'"), which
		 * may be a secret: give only the position.
		 */
		if (json_error_code(&jerr) == json_error_duplicate_key)
			errf(err, errlen, "output has a duplicate key (line %d, "
			    "column %d)", jerr.line, jerr.column);
		else
			errf(err, errlen, "output is not valid JSON (line %d, "
			    "column %d)", jerr.line, jerr.column);
		goto fail;
	}
	if (!json_is_object(root)) {
		errf(err, errlen, "output is not a JSON object");
		goto fail;
	}

	/* botocore: parsed.get('Version') != 1 is an error */
	v = json_object_get(root, "Version");
	if (v == NULL) {
		errf(err, errlen, "Version is missing (want %d)", CREDPROC_VERSION);
		goto fail;
	}
	if (!json_is_integer(v)) {
		errf(err, errlen, "Version is not an integer (want %d)", CREDPROC_VERSION);
		goto fail;
	}
	if (json_integer_value(v) != CREDPROC_VERSION) {
		errf(err, errlen, "unsupported Version %lld (want %d)",
		    (long long)json_integer_value(v), CREDPROC_VERSION);
		goto fail;
	}

	if (get_string(root, "AccessKeyId", 1, c->cr_akid, sizeof(c->cr_akid),
	    err, errlen) < 0 ||
	    get_string(root, "SecretAccessKey", 1, c->cr_secret, sizeof(c->cr_secret),
	    err, errlen) < 0 ||
	    get_string(root, "SessionToken", 0, c->cr_token, sizeof(c->cr_token),
	    err, errlen) < 0)
		goto fail;

	/* Expiration: optional; absent or null means the keys do not expire */
	r = get_string(root, "Expiration", 0, when, sizeof(when), err, errlen);
	if (r < 0)
		goto fail;
	if (r == 0) {
		n = strlen(when);
		if (parse_iso8601(when, n, &c->cr_expiration) != 0) {
			errf(err, errlen, "Expiration is not an ISO 8601 date-time "
			    "(like 2025-06-02T09:20:28Z)");
			goto fail;
		}
	}
	c->cr_last_updated = 0;	/* the caller knows when */
	rc = 0;
fail:
	json_decref(root);
	if (swapped)
		json_set_alloc_funcs(old_malloc, old_free);
	explicit_bzero(&jerr, sizeof(jerr));	/* jerr.text may quote a secret */
	explicit_bzero(when, sizeof(when));
	if (rc != 0)
		explicit_bzero(c, sizeof(*c));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */

enum job_kill { KILL_NONE, KILL_TIMEOUT, KILL_OVERSIZE, KILL_NOMEM };

/*
 * One run.  Malloc'd by credproc_run, freed after done returns.  A
 * descriptor is -1 once closed; its watch is removed before it is closed.
 */
struct job {
	pid_t		 j_pid;
	int		 j_pidfd;
	int		 j_outfd;
	int		 j_errfd;
	struct loop_watch j_wpid;
	struct loop_watch j_wout;
	struct loop_watch j_werr;
	struct loop_timer j_timer;	/* the deadline, then the completion */
	struct loop_timer j_reap_timer;	/* without a pidfd: polls waitpid */
	unsigned	 j_timeout_ms;
	int		 j_reaped;
	int		 j_status;	/* from waitpid, when reaped */
	int		 j_reap_failed;	/* waitpid said ECHILD (someone else reaped) */
	enum job_kill	 j_kill;
	int		 j_finishing;	/* completion is scheduled */
	char		*j_out;		/* stdout so far: a secret */
	size_t		 j_outlen;
	size_t		 j_outcap;
	char		 j_errline[CREDPROC_ERR_MAX + 1];	/* first stderr line */
	size_t		 j_errlinelen;
	int		 j_errline_done;	/* saw its newline, or it filled up */
	char		 j_name[CREDPROC_NAME_SHOWN + 1];	/* argv[0], printable */
	cred_done_fn	 j_done;
	void		*j_arg;
	struct job	*j_next;	/* the jobs under way (credproc_stop_all) */
};

static struct job *jobs;	/* under way, owned by the loop */

static void
job_unlink(struct job *j)
{
	struct job **pp;

	for (pp = &jobs; *pp != NULL; pp = &(*pp)->j_next)
		if (*pp == j) {
			*pp = j->j_next;
			return;
		}
}

static void	job_check(struct job *j);

/* argv[0] for messages: at most CREDPROC_NAME_SHOWN bytes, controls as '?'. */
static void
set_name(struct job *j, const char *argv0)
{
	text_clean(j->j_name, sizeof(j->j_name), argv0, strnlen(argv0, CREDPROC_NAME_SHOWN));
}

static void
close_fd(struct loop_watch *w, int *fd)
{
	if (*fd < 0)
		return;
	loop_watch_del(w);
	close(*fd);
	*fd = -1;
}

static void
wipe_out(struct job *j)
{
	wipe_free(j->j_out, j->j_outcap);
	j->j_out = NULL;
	j->j_outlen = j->j_outcap = 0;
}

/*
 * SIGKILL the child and its process group (it leads its own, so a shell
 * script's children go too).  Only while it is not reaped: until then its
 * pid, and so its group id, cannot be reused.
 */
static void
job_kill(struct job *j, enum job_kill why)
{
	if (j->j_kill == KILL_NONE)
		j->j_kill = why;
	if (j->j_reaped)
		return;
	(void)kill(-j->j_pid, SIGKILL);
	/* in case it left its group (setsid): the pidfd reaches it anyway */
	if (j->j_pidfd >= 0)
		(void)pidfd_send_signal(j->j_pidfd, SIGKILL, NULL, 0);
}

/* Grow the stdout buffer; the old copy is wiped (no realloc). 0 / -1. */
static int
out_grow(struct job *j)
{
	size_t cap = j->j_outcap == 0 ? CREDPROC_OUT_INIT : j->j_outcap * 2;
	char *p;

	/* one byte beyond the limit, to notice output over it */
	if (cap > CREDPROC_OUT_MAX + 1)
		cap = CREDPROC_OUT_MAX + 1;
	if ((p = wipe_grow(j->j_out, j->j_outlen, j->j_outcap, cap)) == NULL)
		return -1;
	j->j_out = p;
	j->j_outcap = cap;
	return 0;
}

static void
on_stdout(int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	ssize_t r;

	(void)fd;
	(void)events;
	if (j->j_outfd < 0)
		return;	/* an event already fetched when we stopped watching */
	for (;;) {
		if (j->j_outlen == j->j_outcap && j->j_outcap <= CREDPROC_OUT_MAX &&
		    out_grow(j) < 0) {
			/* no memory for its output: give up on this run */
			job_kill(j, KILL_NOMEM);
			close_fd(&j->j_wout, &j->j_outfd);
			break;
		}
		r = read_some(j->j_outfd, j->j_out + j->j_outlen, j->j_outcap - j->j_outlen);
		if (r == -1)
			return;
		if (r == 0) {
			close_fd(&j->j_wout, &j->j_outfd);
			break;
		}
		j->j_outlen += (size_t)r;
		if (j->j_outlen > CREDPROC_OUT_MAX) {
			job_kill(j, KILL_OVERSIZE);
			close_fd(&j->j_wout, &j->j_outfd);
			wipe_out(j);
			break;
		}
	}
	job_check(j);
}

/* Keep the first line of stderr; drain the rest so the child never blocks. */
static void
on_stderr(int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	char buf[CREDPROC_READ_CHUNK];
	ssize_t r;
	size_t i;

	(void)fd;
	(void)events;
	if (j->j_errfd < 0)
		return;
	for (;;) {
		r = read_some(j->j_errfd, buf, sizeof(buf));
		if (r == -1)
			return;
		if (r == 0) {
			close_fd(&j->j_werr, &j->j_errfd);
			break;
		}
		for (i = 0; i < (size_t)r && !j->j_errline_done; i++) {
			if (buf[i] == '\n' || j->j_errlinelen == CREDPROC_ERR_MAX) {
				j->j_errline_done = 1;
				break;
			}
			j->j_errline[j->j_errlinelen++] = buf[i];
		}
	}
	job_check(j);
}

/* Reap the child if it has exited: 1 reaped (or gone), 0 still running. */
static int
job_try_reap(struct job *j)
{
	pid_t r;
	int st;

	do
		r = waitpid(j->j_pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0)
		j->j_reap_failed = 1;	/* ECHILD: SIGCHLD ignored elsewhere? */
	else
		j->j_status = st;
	j->j_reaped = 1;
	return 1;
}

static void
on_exit_fd(int fd, uint32_t events, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)events;
	if (j->j_pidfd < 0 || !job_try_reap(j))
		return;	/* a stale event, or not yet (spurious wake-up) */
	close_fd(&j->j_wpid, &j->j_pidfd);
	job_check(j);
}

/*
 * Without pidfd_open (Linux before 5.3, some sandboxes, valgrind): poll
 * waitpid every CREDPROC_REAP_POLL_MS instead.  We install no SIGCHLD
 * handler, so this is the only other way to learn of the exit.
 */
static void
on_reap_poll(void *arg)
{
	struct job *j = arg;

	if (job_try_reap(j))
		job_check(j);
	else
		loop_timer_set(&j->j_reap_timer, CREDPROC_REAP_POLL_MS, on_reap_poll, j);
}

static void
on_timeout(void *arg)
{
	struct job *j = arg;

	job_kill(j, KILL_TIMEOUT);
	/*
	 * Already reaped but a pipe is still open: a grandchild holds it.
	 * Stop waiting for it (it gets EPIPE or SIGPIPE when it writes).
	 */
	if (j->j_reaped) {
		close_fd(&j->j_wout, &j->j_outfd);
		close_fd(&j->j_werr, &j->j_errfd);
	}
	job_check(j);
}

/* Printable copy of the first stderr line into dst[cap]; trailing CR dropped. */
static void
errline_text(const struct job *j, char *dst, size_t cap)
{
	size_t n = j->j_errlinelen;

	if (n > 0 && j->j_errline[n - 1] == '\r')
		n--;
	text_clean(dst, cap, j->j_errline, n);
}

/* The completion, from a loop timer: report, then free everything. */
static void
job_complete(void *arg)
{
	struct job *j = arg;
	char msg[ERRBUF_LEN], perr[ERRBUF_LEN], line[CREDPROC_ERR_MAX + 1];
	struct cred c;
	int ok = 0;

	memset(&c, 0, sizeof(c));
	errline_text(j, line, sizeof(line));
	if (j->j_kill == KILL_TIMEOUT)
		errf(msg, sizeof(msg), "credential_process %s timed out after %u ms",
		    j->j_name, j->j_timeout_ms);
	else if (j->j_kill == KILL_OVERSIZE)
		errf(msg, sizeof(msg), "credential_process %s: output exceeds %d bytes",
		    j->j_name, CREDPROC_OUT_MAX);
	else if (j->j_kill == KILL_NOMEM)
		errf(msg, sizeof(msg), "credential_process %s: out of memory", j->j_name);
	else if (j->j_reap_failed)
		errf(msg, sizeof(msg), "credential_process %s: exit status unknown "
		    "(the process was reaped elsewhere)", j->j_name);
	else if (WIFSIGNALED(j->j_status))
		errf(msg, sizeof(msg), "credential_process %s killed by signal %d%s%s",
		    j->j_name, WTERMSIG(j->j_status), line[0] != '\0' ? ": " : "", line);
	else if (WEXITSTATUS(j->j_status) != 0)
		errf(msg, sizeof(msg), "credential_process %s exited with status %d%s%s",
		    j->j_name, WEXITSTATUS(j->j_status), line[0] != '\0' ? ": " : "", line);
	else if (credproc_parse(j->j_out != NULL ? j->j_out : "", j->j_outlen, &c,
	    perr, sizeof(perr)) != 0)
		errf(msg, sizeof(msg), "credential_process %s: %s", j->j_name, perr);
	else
		ok = 1;
	wipe_out(j);

	if (ok)
		j->j_done(j->j_arg, 1, &c, NULL);
	else
		j->j_done(j->j_arg, 0, NULL, msg);
	explicit_bzero(&c, sizeof(c));
	job_unlink(j);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/*
 * Finished when the child is reaped and both pipes are closed (EOF, or
 * given up on after a kill).  A kill does not wait for EOF: a surviving
 * grandchild could hold the pipes open.  Completion runs from a zero-delay
 * timer so that no event of this job fetched in the same epoll batch can
 * reach freed memory: every callback checks its descriptor first.
 */
static void
job_check(struct job *j)
{
	if (j->j_finishing || !j->j_reaped)
		return;
	if (j->j_kill != KILL_NONE) {
		close_fd(&j->j_wout, &j->j_outfd);
		close_fd(&j->j_werr, &j->j_errfd);
	}
	if (j->j_outfd >= 0 || j->j_errfd >= 0)
		return;
	j->j_finishing = 1;
	loop_timer_cancel(&j->j_reap_timer);
	loop_timer_cancel(&j->j_timer);
	loop_timer_set(&j->j_timer, 0, job_complete, j);
}

/* Set O_NONBLOCK on our end of a pipe.  0 / -1. */
static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* Watch the pidfd (or poll) and both pipes; all or none.  0 / -1 (errno). */
static int
watch_all(struct job *j)
{
	int e;

	j->j_wpid.lw_fd = -1;
	if (j->j_pidfd >= 0 &&
	    loop_watch_add(&j->j_wpid, j->j_pidfd, EPOLLIN, on_exit_fd, j) < 0)
		return -1;
	if (loop_watch_add(&j->j_wout, j->j_outfd, EPOLLIN, on_stdout, j) < 0)
		goto fail_pid;
	if (loop_watch_add(&j->j_werr, j->j_errfd, EPOLLIN, on_stderr, j) < 0)
		goto fail_out;
	if (j->j_pidfd < 0)
		loop_timer_set(&j->j_reap_timer, CREDPROC_REAP_POLL_MS, on_reap_poll, j);
	return 0;
fail_out:
	e = errno;
	loop_watch_del(&j->j_wout);
	errno = e;
fail_pid:
	e = errno;
	if (j->j_pidfd >= 0)
		loop_watch_del(&j->j_wpid);
	errno = e;
	return -1;
}

/*
 * The runner: NULL is this process.  In the sandbox this process may not
 * start programs: the helper (priv/channel.c, helper.c), outside it,
 * installs a runner that has it run the profile's credential_process, read
 * from the files by itself, and hand back the parsed result.
 */
static credproc_runner_fn runner;

void
credproc_set_runner(credproc_runner_fn fn)
{
	runner = fn;
}

int
credproc_run_profile(const char *profile, const char *cmd, unsigned timeout_ms,
    cred_done_fn done, void *arg, char *err, size_t errlen)
{
	if (runner != NULL)
		return runner(profile, cmd, timeout_ms, done, arg, err, errlen);
	return credproc_run(cmd, timeout_ms, done, arg, err, errlen);
}

int
credproc_run(const char *cmd, unsigned timeout_ms, cred_done_fn done, void *arg,
    char *err, size_t errlen)
{
	/*
	 * stdin from /dev/null, stdout and stderr to pipes, no other
	 * descriptor of ours; its own process group (killed whole on timeout).
	 */
	struct spawn_spec sp = { .ss_search = 1, .ss_own_group = 1, .ss_nio = 3,
	    .ss_io = { { SPAWN_DEVNULL, -1 }, { SPAWN_PIPE, -1 }, { SPAWN_PIPE, -1 } } };
	char **argv = NULL, serr[ERRBUF_LEN];
	struct job *j = NULL;
	int rc = -1, e;

	if (credproc_split(cmd, &argv, serr, sizeof(serr)) != 0) {
		errf(err, errlen, "credential_process: %s", serr);
		goto fail;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		errf(err, errlen, "credential_process: out of memory");
		goto fail;
	}
	j->j_pid = -1;
	j->j_pidfd = j->j_outfd = j->j_errfd = -1;
	j->j_timeout_ms = timeout_ms;
	j->j_done = done;
	j->j_arg = arg;
	set_name(j, argv[0]);

	sp.ss_prog = argv[0];
	sp.ss_argv = argv;
	if ((e = spawn_start(&sp, &j->j_pid)) != 0) {
		errf(err, errlen, "credential_process %s: %s", j->j_name, strerror(e));
		goto fail;
	}
	j->j_outfd = sp.ss_io[STDOUT_FILENO].io_fd;
	j->j_errfd = sp.ss_io[STDERR_FILENO].io_fd;
	if (set_nonblock(j->j_outfd) < 0 || set_nonblock(j->j_errfd) < 0) {
		errf(err, errlen, "credential_process %s: pipe: %s", j->j_name,
		    strerror(errno));
		goto fail;
	}

	if ((j->j_pidfd = pidfd_open(j->j_pid, 0)) < 0 && errno != ENOSYS) {
		errf(err, errlen, "credential_process %s: pidfd_open: %s", j->j_name,
		    strerror(errno));
		goto fail;
	}	/* ENOSYS: watch_all polls waitpid instead */
	if (watch_all(j) < 0) {
		errf(err, errlen, "credential_process %s: watch: %s", j->j_name,
		    strerror(errno));
		goto fail;
	}
	loop_timer_set(&j->j_timer, timeout_ms, on_timeout, j);
	j->j_next = jobs;
	jobs = j;
	j = NULL;	/* the loop owns it now */
	rc = 0;
	goto fail;

fail:
	credproc_argv_free(argv);
	if (j != NULL) {
		/* started but not handed to the loop: kill and reap it here */
		if (j->j_pid > 0) {
			(void)kill(-j->j_pid, SIGKILL);
			(void)kill(j->j_pid, SIGKILL);
			spawn_reap(j->j_pid, NULL);
		}
		/* watch_all removed any watch it added */
		if (j->j_pidfd >= 0)
			close(j->j_pidfd);
		if (j->j_outfd >= 0)
			close(j->j_outfd);
		if (j->j_errfd >= 0)
			close(j->j_errfd);
		free(j);
	}
	return rc;
}

void
credproc_stop_all(void)
{
	struct job *j;

	while ((j = jobs) != NULL) {
		jobs = j->j_next;
		job_kill(j, KILL_NONE);
		if (!j->j_reaped)
			spawn_reap(j->j_pid, NULL);
		close_fd(&j->j_wpid, &j->j_pidfd);
		close_fd(&j->j_wout, &j->j_outfd);
		close_fd(&j->j_werr, &j->j_errfd);
		loop_timer_cancel(&j->j_timer);
		loop_timer_cancel(&j->j_reap_timer);
		wipe_out(j);
		explicit_bzero(j, sizeof(*j));
		free(j);
	}
}
