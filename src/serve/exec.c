/*
 * exec.c: gimme-aws-mini exec [credential options] -- COMMAND [ARGS...]
 *
 * The credentials serve would hand out, for one command, the way the ECS
 * agent hands them to a task: a private endpoint on a free 127.0.0.1 port
 * (container/ecs.c's service, nothing else: no magic IP, no health, no
 * control socket) that answers only requests carrying a random token
 * (EXEC_TOKEN_BYTES from getrandom, as hex), and COMMAND run with
 *
 *   AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/creds
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN=<the token>
 *
 * and without the variables that SDKs would prefer (keys, AWS_PROFILE, the
 * other container variables).  The first credentials are fetched before
 * COMMAND starts (a failure is an error exit with the reason, COMMAND not
 * run); the registry refreshes them while it runs.  SIGINT, SIGTERM and
 * SIGHUP are forwarded to it; exec exits with its status (128+N for a
 * signal), and the endpoint goes with it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serve/serve.h"

#define EXEC_TOKEN_BYTES	32	/* random bytes of the token (hex: twice as many characters) */
#define EXEC_ENV_MAX		4096	/* variables passed on to COMMAND */
#define EXEC_REAP_POLL_MS	50	/* ms between waitpid polls where pidfd_open is missing */
#define EXEC_STATUS_NOT_FOUND	127	/* COMMAND not found, as a shell says */
#define EXEC_STATUS_NOT_EXEC	126	/* COMMAND found but not runnable */
#define EXEC_URI_MAX		64	/* bytes: "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:65535/creds" */

/* The variables COMMAND does not get: they would win over the endpoint, or point elsewhere. */
static const char *const env_removed[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
};

static struct {
	pid_t		 pid;		/* COMMAND; 0 before it runs */
	int		 done;		/* it has ended: status is its */
	int		 status;	/* exec's exit status */
	struct loop_watch pidw;		/* its pidfd */
	struct loop_timer poll;		/* ... or the waitpid poll */
	char		 token[EXEC_TOKEN_BYTES * 2 + 1];
	char		 uri[EXEC_URI_MAX];
	char		 auth[sizeof("AWS_CONTAINER_AUTHORIZATION_TOKEN=") + EXEC_TOKEN_BYTES * 2];
} ex;

static const char exec_usage[] =
"usage: " PROGNAME " exec [options] -- COMMAND [ARGS...]\n"
"\n"
"Run COMMAND with a private credential endpoint: the credentials serve would\n"
"hand out, on a free 127.0.0.1 port, for its requests only (a random token),\n"
"refreshed while it runs.  COMMAND gets AWS_CONTAINER_CREDENTIALS_FULL_URI and\n"
"AWS_CONTAINER_AUTHORIZATION_TOKEN, and not AWS_ACCESS_KEY_ID,\n"
"AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE.  Options (each also\n"
"as its GIMME_* variable), as serve's:\n"
"\n";

static const char exec_tail[] =
"\n"
"signals: SIGINT, SIGTERM and SIGHUP are passed on to COMMAND.\n"
"\n"
"exit status: COMMAND's (128+N when a signal N ended it), 127 not found, 126\n"
"not runnable; before it runs: 64 bad usage, 78 no credentials from the\n"
"source, 71 system error.\n";

void
opts_exec_help(FILE *out)
{
	fputs(exec_usage, out);
	opts_help_rows(out, 1);
	fputs(exec_tail, out);
}

/* The token: EXEC_TOKEN_BYTES from getrandom, as hex.  0 / -1. */
static int
make_token(void)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[EXEC_TOKEN_BYTES];
	size_t got = 0, i;
	ssize_t r;

	while (got < sizeof(rnd)) {
		if ((r = getrandom(rnd + got, sizeof(rnd) - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	for (i = 0; i < sizeof(rnd); i++) {
		ex.token[2 * i] = hex[rnd[i] >> 4];
		ex.token[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	ex.token[2 * sizeof(rnd)] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

/* Whether the variable entry e (NAME=value) is one COMMAND does not get. */
static int
env_dropped(const char *e)
{
	size_t i, n;

	for (i = 0; i < sizeof(env_removed) / sizeof(env_removed[0]); i++) {
		n = strlen(env_removed[i]);
		if (strncmp(e, env_removed[i], n) == 0 && e[n] == '=')
			return 1;
	}
	return 0;
}

/* COMMAND's environment: ours less env_removed, plus the endpoint's two.  NULL when too many. */
static char **
command_env(unsigned port)
{
	extern char **environ;
	static char *env[EXEC_ENV_MAX + 3];
	size_t n = 0, i;

	for (i = 0; environ[i] != NULL; i++) {
		if (env_dropped(environ[i]))
			continue;
		if (n == EXEC_ENV_MAX)
			return NULL;
		env[n++] = environ[i];
	}
	snprintf(ex.uri, sizeof(ex.uri), "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:%u"
	    "/creds", port);
	snprintf(ex.auth, sizeof(ex.auth), "AWS_CONTAINER_AUTHORIZATION_TOKEN=%s", ex.token);
	env[n++] = ex.uri;
	env[n++] = ex.auth;
	env[n] = NULL;
	return env;
}

/* COMMAND ended (or not yet): its status, and the loop told to stop. */
static void
reap(void)
{
	int ws;
	pid_t r;

	while ((r = waitpid(ex.pid, &ws, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r != ex.pid)
		return;
	ex.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) :
	    EXIT_SYSTEM;
	ex.done = 1;
	if (ex.pidw.lw_fd >= 0) {
		close(ex.pidw.lw_fd);
		ex.pidw.lw_fd = -1;
	}
	loop_timer_cancel(&ex.poll);
}

static void
on_pidfd(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	reap();
}

static void
on_poll(void *arg)
{
	(void)arg;
	reap();
	if (!ex.done)
		loop_timer_set(&ex.poll, EXEC_REAP_POLL_MS, on_poll, NULL);
}

/* SIGTERM/SIGINT: to COMMAND; exec ends when it does. */
static int
forward_term(unsigned signo)
{
	if (ex.pid > 0 && !ex.done)
		kill(ex.pid, (int)signo);
	return 1;
}

static void
forward_hup(void)
{
	if (ex.pid > 0 && !ex.done)
		kill(ex.pid, SIGHUP);
}

/* Once a second: the registry's refreshes, the source's chain, held requests. */
static void
exec_tick(void)
{
	registry_tick(&st.roles, time(NULL));
	creds_source_tick(&st.src, st.cache);
	ecs_tick();
}

/* Start COMMAND (argv) with the endpoint's variables; its end watched.  0, or the exit status. */
static int
command_start(char **argv, unsigned port)
{
	struct spawn_spec sp;
	int e, fd;

	memset(&sp, 0, sizeof(sp));
	sp.ss_prog = argv[0];
	sp.ss_argv = argv;
	sp.ss_search = 1;
	sp.ss_nio = 3;	/* stdin, stdout, stderr as ours; SPAWN_INHERIT is 0 */
	if ((sp.ss_envp = command_env(port)) == NULL) {
		fprintf(stderr, "%s: exec: more than %d environment variables\n", PROGNAME,
		    EXEC_ENV_MAX);
		return EXIT_USAGE;
	}
	if ((e = spawn_start(&sp, &ex.pid)) != 0) {
		fprintf(stderr, "%s: exec: %s: %s\n", PROGNAME, argv[0], strerror(e));
		return e == ENOENT ? EXEC_STATUS_NOT_FOUND : EXEC_STATUS_NOT_EXEC;
	}
	ex.pidw.lw_fd = -1;
	if ((fd = (int)syscall(SYS_pidfd_open, ex.pid, 0)) >= 0 &&
	    loop_watch_add(&ex.pidw, fd, EPOLLIN, on_pidfd, NULL) == 0)
		return 0;
	if (fd >= 0)
		close(fd);
	loop_timer_set(&ex.poll, EXEC_REAP_POLL_MS, on_poll, NULL);
	return 0;
}

int
serve_exec_main(int argc, char **argv)
{
	struct listen_addr la;
	char err[OPTS_ERR_MAX];
	int rc;

	cli.exec_verb = 1;
	if (opts_parse(&cli, argc, argv, err, sizeof(err)) != 0)
		opts_usage_exit("exec: %s", err);
	if (cli.help) {
		opts_exec_help(stdout);
		return 0;
	}
	if (cli.exec_argi >= argc)
		opts_usage_exit("exec: no command (exec [options] -- COMMAND [ARGS...])");
	st.container = 1;
	if ((rc = serve_start_up()) != 0) {
		serve_shut_down();
		return rc < 0 ? 0 : rc;	/* the reason is on stderr; COMMAND not run */
	}
	rc = EXIT_SYSTEM;
	if (make_token() == -1) {
		fprintf(stderr, "%s: exec: getrandom: %s\n", PROGNAME, strerror(errno));
		goto out;
	}
	ecs_serve_setup(&st.cfg, ex.token, cli.access_log);
	if (listen_addr_parse("127.0.0.1:0", &la, err, sizeof(err)) == -1 ||
	    http_serve(&ecs_http_service, &cli.limits, &la, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: exec: %s\n", PROGNAME, err);
		goto out;
	}
	http_signals(forward_term);
	loop_callbacks(exec_tick, forward_hup);
	if ((rc = command_start(argv + cli.exec_argi,
	    http_bound_port(&ecs_http_service, 0))) != 0)
		goto out;
	rc = loop_run_until(&ex.done) == -1 && !ex.done ? EXIT_SYSTEM : ex.status;
out:
	http_signals(NULL);
	explicit_bzero(ex.token, sizeof(ex.token));
	explicit_bzero(ex.auth, sizeof(ex.auth));
	serve_shut_down();
	return rc;
}
