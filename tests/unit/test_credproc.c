/*
 * test_credproc.c: credential_process (credproc.c): splitting the command
 * line as botocore does, parsing the JSON, and running programs from the
 * event loop.
 *
 * The run tests use the scripts in tests/unit/fixtures/credproc/, found
 * relative to the current directory: run this binary from the repository
 * root (tests/run and `make test` do).  When the fixtures are not there the
 * run tests fail with a message saying so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "creds/creds.h"

#define FIXTURES	"tests/unit/fixtures/credproc/"
#define T_WORDS_MAX	8	/* words in one split case */
#define T_GUARD_MS	15000	/* a run that takes longer is a hang */
#define T_SCRIPT_SLEEP_MS	9000	/* ms: under the 10 s that sleep.sh and closeout.sh sleep */
#define T_TIMEOUT_MS	300	/* the timeout given to never-ending fixtures */
#define T_STALE_MS	400	/* spent outside the loop before setting a timer */
#define T_PATH_MAX	256
#define T_BIG		(CRED_TOKEN_MAX + 2)	/* bytes of an oversize value */
#define T_DOC_MAX	(T_BIG + 256)	/* bytes of a test document */
#define EXP_2030	((time_t)1893553445)	/* 2030-01-02T03:04:05Z */
#define EXP_2025	((time_t)1748856028)	/* 2025-06-02T09:20:28Z */

/* ---- split ------------------------------------------------------------- */

struct split_case {
	const char	*sc_cmd;
	const char	*sc_words[T_WORDS_MAX + 1];	/* NULL-terminated */
};

/* Each expectation was checked against Python's shlex.split. */
static const struct split_case split_ok[] = {
	{ "a b  c", { "a", "b", "c", NULL } },
	{ "  lead\ttab\r\nnl  ", { "lead", "tab", "nl", NULL } },
	{ "/usr/bin/helper", { "/usr/bin/helper", NULL } },
	{ "'single quoted' word", { "single quoted", "word", NULL } },
	/* inside "...", only \" and \\ are escapes; \$ and \` keep the '\' */
	{ "\"dq \\\" \\\\ \\$ \\` x\"", { "dq \" \\ \\$ \\` x", NULL } },
	/* outside quotes a backslash makes any character literal */
	{ "a\\ b c\\\\d \\'e \\\"f \\$g", { "a b", "c\\d", "'e", "\"f", "$g", NULL } },
	/* empty words, and quoted parts joined to their word */
	{ "\"\" ''", { "", "", NULL } },
	{ "x\"\"y a'b'\"c\"d 'it'\\''s'", { "xy", "abcd", "it's", NULL } },
	{ "'a\\b' '\"'", { "a\\b", "\"", NULL } },
	/* no comments, no expansion */
	{ "#not a # comment", { "#not", "a", "#", "comment", NULL } },
	{ "$HOME ~ *.sh `id` $(id)", { "$HOME", "~", "*.sh", "`id`", "$(id)", NULL } },
	/* newlines: quoted, escaped, and a backslash-newline inside "..." */
	{ "\"a\nb\"", { "a\nb", NULL } },
	{ "a\\\nb", { "a\nb", NULL } },
	{ "\"a\\\nb\"", { "a\\\nb", NULL } },
	/* VT and FF are not separators for shlex */
	{ "v\vx f\fy", { "v\vx", "f\fy", NULL } },
	{ "sh -c 'echo \"$1\"' x", { "sh", "-c", "echo \"$1\"", "x", NULL } },
};

struct split_err {
	const char	*se_cmd;
	const char	*se_msg;
};

static const struct split_err split_bad[] = {
	{ "", "command is empty" },
	{ " \t\r\n ", "command is empty" },
	{ "abc 'def", "unterminated single quote (opened at offset 4)" },
	{ "a \"b\\\"", "unterminated double quote (opened at offset 2)" },
	{ "x'' \"", "unterminated double quote (opened at offset 4)" },
	{ "abc\\", "backslash at the end of the command (offset 3)" },
	{ "tool --secret hunter2 'oops", "unterminated single quote (opened at offset 22)" },
};

static void
test_split_ok(void **state)
{
	char **argv, err[ERRBUF_LEN];
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(split_ok) / sizeof(split_ok[0]); i++) {
		const struct split_case *sc = &split_ok[i];

		err[0] = '\0';
		if (credproc_split(sc->sc_cmd, &argv, err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		for (k = 0; sc->sc_words[k] != NULL; k++) {
			assert_non_null(argv[k]);
			assert_string_equal(argv[k], sc->sc_words[k]);
		}
		assert_null(argv[k]);
		credproc_argv_free(argv);
	}
}

static void
test_split_errors(void **state)
{
	char **argv, err[ERRBUF_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(split_bad) / sizeof(split_bad[0]); i++) {
		argv = (char **)&argv;	/* must be reset */
		assert_int_equal(credproc_split(split_bad[i].se_cmd, &argv, err,
		    sizeof(err)), -1);
		assert_null(argv);
		assert_string_equal(err, split_bad[i].se_msg);
		assert_null(strstr(err, "hunter2"));
	}
}

static void
test_split_word_limit(void **state)
{
	char cmd[2 * (CREDPROC_ARGS_MAX + 1) + 1], **argv, err[ERRBUF_LEN];
	size_t i;

	(void)state;
	/* exactly CREDPROC_ARGS_MAX words: "a a a ... a" */
	for (i = 0; i < CREDPROC_ARGS_MAX; i++) {
		cmd[2 * i] = 'a';
		cmd[2 * i + 1] = ' ';
	}
	cmd[2 * CREDPROC_ARGS_MAX - 1] = '\0';
	assert_int_equal(credproc_split(cmd, &argv, err, sizeof(err)), 0);
	assert_string_equal(argv[CREDPROC_ARGS_MAX - 1], "a");
	assert_null(argv[CREDPROC_ARGS_MAX]);
	credproc_argv_free(argv);

	/* one more */
	cmd[2 * CREDPROC_ARGS_MAX - 1] = ' ';
	cmd[2 * CREDPROC_ARGS_MAX] = 'b';
	cmd[2 * CREDPROC_ARGS_MAX + 1] = '\0';
	assert_int_equal(credproc_split(cmd, &argv, err, sizeof(err)), -1);
	assert_string_equal(err, "command has more than 256 words (at offset 512)");
}

/* ---- parse ------------------------------------------------------------- */

static void
test_parse_good(void **state)
{
	static const char full[] =
	    "{\"Version\": 1, \"AccessKeyId\": \"AKIDFULL\", "
	    "\"SecretAccessKey\": \"sekrit/+=\", \"SessionToken\": \"tok\", "
	    "\"Expiration\": \"2030-01-02T03:04:05Z\", \"Other\": [1, {\"x\": null}]}";
	static const char bare[] =
	    "{\"AccessKeyId\":\"AKIDBARE\",\"SecretAccessKey\":\"s\",\"Version\":1}\n";
	static const char frac[] =
	    "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	    "\"SessionToken\":null,\"Expiration\":\"2025-06-02T09:20:28.123+00:00\"}";
	static const char nullexp[] =
	    "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
	    "\"Expiration\":null}";
	char err[ERRBUF_LEN];
	struct cred c;

	(void)state;
	assert_int_equal(credproc_parse(full, strlen(full), &c, err, sizeof(err)), 0);
	assert_string_equal(c.cr_akid, "AKIDFULL");
	assert_string_equal(c.cr_secret, "sekrit/+=");
	assert_string_equal(c.cr_token, "tok");
	assert_int_equal(c.cr_expiration, EXP_2030);
	assert_int_equal(c.cr_last_updated, 0);

	c.cr_expiration = 42;
	assert_int_equal(credproc_parse(bare, strlen(bare), &c, err, sizeof(err)), 0);
	assert_string_equal(c.cr_akid, "AKIDBARE");
	assert_string_equal(c.cr_secret, "s");
	assert_string_equal(c.cr_token, "");
	assert_int_equal(c.cr_expiration, 0);

	assert_int_equal(credproc_parse(frac, strlen(frac), &c, err, sizeof(err)), 0);
	assert_string_equal(c.cr_token, "");
	assert_int_equal(c.cr_expiration, EXP_2025);

	assert_int_equal(credproc_parse(nullexp, strlen(nullexp), &c, err, sizeof(err)), 0);
	assert_int_equal(c.cr_expiration, 0);
}

struct parse_err {
	const char	*pe_doc;
	const char	*pe_msg;
};

/* Every document holds the word SECRETVALUE: no message may repeat it. */
static const struct parse_err parse_bad[] = {
	{ "", "output is empty" },
	{ " \n", "output is empty" },
	{ "SECRETVALUE", "output is not valid JSON (line 1, column 11)" },
	{ "{\"AccessKeyId\": SECRETVALUE}", "output is not valid JSON (line 1, column 27)" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\"} trailing",
	  "output is not valid JSON (line 1, column 72)" },
	{ "[\"SECRETVALUE\"]", "output is not a JSON object" },
	{ "\"SECRETVALUE\"", "output is not a JSON object" },
	{ "42", "output is not a JSON object" },
	{ "{\"Version\":1,\n\"AccessKeyId\": tru}", "output is not valid JSON (line 2, column 18)" },
	{ "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "Version is missing (want 1)" },
	{ "{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "unsupported Version 2 (want 1)" },
	{ "{\"Version\":\"1\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "Version is not an integer (want 1)" },
	{ "{\"Version\":1.0,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "Version is not an integer (want 1)" },
	{ "{\"Version\":1,\"SecretAccessKey\":\"SECRETVALUE\"}", "AccessKeyId is missing" },
	{ "{\"Version\":1,\"AccessKeyId\":\"SECRETVALUE\"}", "SecretAccessKey is missing" },
	{ "{\"Version\":1,\"AccessKeyId\":\"\",\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "AccessKeyId is empty" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\",\"x\":\"SECRETVALUE\"}",
	  "SecretAccessKey is empty" },
	{ "{\"Version\":1,\"AccessKeyId\":7,\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "AccessKeyId is not a string" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":[\"SECRETVALUE\"]}",
	  "SecretAccessKey is not a string" },
	{ "{\"Version\":1,\"AccessKeyId\":null,\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "AccessKeyId is not a string" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\","
	  "\"SessionToken\":{}}", "SessionToken is not a string" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\","
	  "\"Expiration\":1893553445}", "Expiration is not a string" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\","
	  "\"Expiration\":\"SECRETVALUE\"}",
	  "Expiration is not an ISO 8601 date-time (like 2025-06-02T09:20:28Z)" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRETVALUE\","
	  "\"Expiration\":\"2030-02-30T00:00:00Z\"}",
	  "Expiration is not an ISO 8601 date-time (like 2025-06-02T09:20:28Z)" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"x\","
	  "\"SecretAccessKey\":\"SECRETVALUE\"}",
	  "output has a duplicate key (line 1, column 70)" },
	{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"SECRET\\u0000VALUE\"}",
	  "output is not valid JSON (line 1, column 68)" },
};

static void
test_parse_errors(void **state)
{
	char err[ERRBUF_LEN];
	struct cred c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_bad) / sizeof(parse_bad[0]); i++) {
		const char *doc = parse_bad[i].pe_doc;

		memset(&c, 'x', sizeof(c));
		assert_int_equal(credproc_parse(doc, strlen(doc), &c, err, sizeof(err)), -1);
		if (strcmp(err, parse_bad[i].pe_msg) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    parse_bad[i].pe_msg);
		assert_null(strstr(err, "SECRET"));
		/* nothing of a half-parsed credential is left behind */
		assert_string_equal(c.cr_akid, "");
		assert_string_equal(c.cr_secret, "");
	}
}

/* A document whose key is a string of n 'K's, else valid. */
static size_t
doc_with(char *doc, size_t cap, const char *key, size_t n)
{
	char *v = malloc(n + 1);
	int len;

	assert_non_null(v);
	memset(v, 'K', n);
	v[n] = '\0';
	len = snprintf(doc, cap, "{\"Version\":1,\"AccessKeyId\":\"%s\","
	    "\"SecretAccessKey\":\"%s\",\"SessionToken\":\"%s\"}",
	    strcmp(key, "AccessKeyId") == 0 ? v : "A",
	    strcmp(key, "SecretAccessKey") == 0 ? v : "S",
	    strcmp(key, "SessionToken") == 0 ? v : "T");
	free(v);
	assert_true(len > 0 && (size_t)len < cap);
	return (size_t)len;
}

static void
test_parse_sizes(void **state)
{
	static const struct {
		const char	*key;
		size_t		 max;
		const char	*msg;
	} sz[] = {
		{ "AccessKeyId", CRED_AKID_MAX, "AccessKeyId is longer than 128 bytes" },
		{ "SecretAccessKey", CRED_SECRET_MAX, "SecretAccessKey is longer than 256 bytes" },
		{ "SessionToken", CRED_TOKEN_MAX, "SessionToken is longer than 8192 bytes" },
	};
	char *doc, err[ERRBUF_LEN];
	struct cred c;
	size_t i, n;

	(void)state;
	doc = malloc(T_DOC_MAX);
	assert_non_null(doc);
	for (i = 0; i < sizeof(sz) / sizeof(sz[0]); i++) {
		/* the largest that fits */
		n = doc_with(doc, T_DOC_MAX, sz[i].key, sz[i].max);
		assert_int_equal(credproc_parse(doc, n, &c, err, sizeof(err)), 0);
		/* one byte more */
		n = doc_with(doc, T_DOC_MAX, sz[i].key, sz[i].max + 1);
		assert_int_equal(credproc_parse(doc, n, &c, err, sizeof(err)), -1);
		assert_string_equal(err, sz[i].msg);
	}
	assert_int_equal(strlen(c.cr_token), 0);
	free(doc);
}

/* ---- run --------------------------------------------------------------- */

struct result {
	int		 r_calls;
	int		 r_finished;	/* loop_run_until's flag */
	int		 r_ok;
	struct cred	 r_cred;
	char		 r_err[ERRBUF_LEN];
};

static void
on_done(void *arg, int ok, const struct cred *c, const char *err)
{
	struct result *r = arg;

	r->r_calls++;
	r->r_finished = 1;
	r->r_ok = ok;
	if (ok) {
		assert_non_null(c);
		assert_null(err);
		r->r_cred = *c;
	} else {
		assert_null(c);
		assert_non_null(err);
		snprintf(r->r_err, sizeof(r->r_err), "%s", err);
	}
}

static void
on_guard(void *arg)
{
	struct result *r = arg;

	r->r_finished = 1;	/* the run hung: r_calls stays 0 */
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

static uint64_t
mono_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Run cmd to completion through the loop; checks done is called once,
 * never before credproc_run returns, and that no descriptor or child is
 * left.  Returns the elapsed milliseconds.
 */
static uint64_t
run(const char *cmd, unsigned timeout_ms, struct result *r)
{
	struct loop_timer guard;
	char err[ERRBUF_LEN];
	uint64_t t0;
	int fds;

	memset(r, 0, sizeof(*r));
	memset(&guard, 0, sizeof(guard));
	fds = count_fds();
	t0 = mono_now_ms();
	if (credproc_run(cmd, timeout_ms, on_done, r, err, sizeof(err)) != 0)
		fail_msg("credproc_run: %s", err);
	assert_int_equal(r->r_calls, 0);
	loop_timer_set(&guard, T_GUARD_MS, on_guard, r);
	assert_int_equal(loop_run_until(&r->r_finished), 0);
	loop_timer_cancel(&guard);
	assert_int_equal(r->r_calls, 1);
	assert_int_equal(count_fds(), fds);
	/* reaped: no child of ours is left */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	return mono_now_ms() - t0;
}

static int
setup_loop(void **state)
{
	char err[ERRBUF_LEN];
	struct stat st;

	(void)state;
	if (stat(FIXTURES "ok.sh", &st) != 0) {
		fprintf(stderr, "test_credproc: %sok.sh not found: run from the "
		    "repository root\n", FIXTURES);
		return -1;
	}
	if (loop_init(err, sizeof(err)) != 0) {
		fprintf(stderr, "loop_init: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown_loop(void **state)
{
	(void)state;
	loop_cleanup();
	return 0;
}

static void
test_run_ok(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "ok.sh", CREDPROC_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 1);
	assert_string_equal(r.r_cred.cr_akid, "AKIDFIXTUREOK0000001");
	assert_string_equal(r.r_cred.cr_secret, "fixtureSecretKeyDoNotLeak");
	assert_string_equal(r.r_cred.cr_token, "fixtureSessionToken");
	assert_int_equal(r.r_cred.cr_expiration, EXP_2030);
	assert_int_equal(r.r_cred.cr_last_updated, 0);
	explicit_bzero(&r.r_cred, sizeof(r.r_cred));
}

static void
test_run_exit_status(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "fail.sh", CREDPROC_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 0);
	assert_string_equal(r.r_err, "credential_process " FIXTURES "fail.sh exited with "
	    "status 3: helper: token expired, run login");
	assert_null(strstr(r.r_err, "LEAKEDSECRET"));
	assert_null(strstr(r.r_err, "AKIDLEAK"));
}

static void
test_run_signal(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "signal.sh", CREDPROC_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 0);
	assert_string_equal(r.r_err, "credential_process " FIXTURES "signal.sh killed by "
	    "signal 15: about to die");
}

/* Read a pid a fixture wrote to path. */
static pid_t
read_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

/* 1 when pid no longer runs: gone, or a zombie waiting for init. */
static int
pid_gone(pid_t pid)
{
	char path[T_PATH_MAX], buf[T_PATH_MAX], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) != 0)
		return errno == ESRCH;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')' */
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return 0;
	return p[2] == 'Z' || p[2] == 'X';
}

static void
test_run_timeout(void **state)
{
	char dir[] = "/tmp/test_credproc.XXXXXX", cmd[T_PATH_MAX * 3];
	char pidf[T_PATH_MAX], kidf[T_PATH_MAX];
	struct result r;
	uint64_t ms;
	pid_t pid, kid;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pidf, sizeof(pidf), "%s/pid", dir);
	snprintf(kidf, sizeof(kidf), "%s/kid", dir);
	snprintf(cmd, sizeof(cmd), FIXTURES "sleep.sh '%s' '%s'", pidf, kidf);
	ms = run(cmd, T_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 0);
	assert_string_equal(r.r_err, "credential_process " FIXTURES "sleep.sh timed out "
	    "after 300 ms");
	/*
	 * Not a timing assertion: it ended no sooner than the timeout, and
	 * well before the script's own 10 s sleep could have ended it (on a
	 * loaded machine the kill may come late, but it does come).
	 */
	assert_true(ms >= T_TIMEOUT_MS && ms < T_SCRIPT_SLEEP_MS);
	pid = read_pid(pidf);
	kid = read_pid(kidf);
	/* ours is reaped: no such process */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	/* its child was in the killed process group: dead (init reaps it) */
	for (i = 0; i < 50 && !pid_gone(kid); i++)
		usleep(10000);
	assert_true(pid_gone(kid));
	unlink(pidf);
	unlink(kidf);
	rmdir(dir);
}

static void
test_run_closed_stdout(void **state)
{
	struct result r;
	uint64_t ms;

	(void)state;
	ms = run(FIXTURES "closeout.sh", T_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 0);
	assert_string_equal(r.r_err, "credential_process " FIXTURES "closeout.sh timed out "
	    "after 300 ms");
	assert_true(ms >= T_TIMEOUT_MS && ms < T_SCRIPT_SLEEP_MS);
}

static void
test_run_huge_output(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "big.sh", CREDPROC_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 0);
	assert_string_equal(r.r_err, "credential_process " FIXTURES "big.sh: output exceeds "
	    "65536 bytes");
}

static void
test_run_noisy_stderr(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "noisy.sh", CREDPROC_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 1);
	assert_string_equal(r.r_cred.cr_akid, "AKIDNOISY");
}

static void
test_run_bad_json(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "badjson.sh", CREDPROC_TIMEOUT_MS, &r);
	assert_int_equal(r.r_ok, 0);
	assert_string_equal(r.r_err, "credential_process " FIXTURES "badjson.sh: output is "
	    "not valid JSON (line 1, column 11)");
	assert_null(strstr(r.r_err, "BADJSONSECRET"));
}

static void
test_run_args(void **state)
{
	struct result r;

	(void)state;
	run(FIXTURES "args.sh 'AKID ONE' \"two  words\" three\\ four ''", CREDPROC_TIMEOUT_MS,
	    &r);
	assert_int_equal(r.r_ok, 1);
	assert_string_equal(r.r_cred.cr_akid, "AKID ONE");
	assert_string_equal(r.r_cred.cr_secret, "two  words");
	assert_string_equal(r.r_cred.cr_token, "4|three four|");

	/* through sh -c: the quoting reaches the shell intact */
	run("sh -c '" FIXTURES "args.sh \"$1\" \"$2\"' sh 'x y' '$HOME'", CREDPROC_TIMEOUT_MS,
	    &r);
	assert_int_equal(r.r_ok, 1);
	assert_string_equal(r.r_cred.cr_akid, "x y");
	assert_string_equal(r.r_cred.cr_secret, "$HOME");
	assert_string_equal(r.r_cred.cr_token, "2||");
}

static void
test_run_not_found(void **state)
{
	struct result r;
	char err[ERRBUF_LEN];
	int fds;

	(void)state;
	memset(&r, 0, sizeof(r));
	fds = count_fds();
	assert_int_equal(credproc_run("/nonexistent/credproc-helper --flag", 1000, on_done,
	    &r, err, sizeof(err)), -1);
	assert_string_equal(err, "credential_process /nonexistent/credproc-helper: "
	    "No such file or directory");
	assert_int_equal(credproc_run("gimme-no-such-credential-helper", 1000, on_done,
	    &r, err, sizeof(err)), -1);
	assert_string_equal(err, "credential_process gimme-no-such-credential-helper: "
	    "No such file or directory");
	assert_int_equal(credproc_run(FIXTURES, 1000, on_done, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "credential_process " FIXTURES ": Permission denied");
	assert_int_equal(credproc_run("  ", 1000, on_done, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "credential_process: command is empty");
	assert_int_equal(credproc_run("x 'sekrit", 1000, on_done, &r, err, sizeof(err)), -1);
	assert_string_equal(err, "credential_process: unterminated single quote "
	    "(opened at offset 2)");
	assert_int_equal(r.r_calls, 0);
	assert_int_equal(count_fds(), fds);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

struct fired {
	uint64_t	f_at;		/* monotonic ms when the timer ran */
	int		f_done;
};

static void
on_timer_fired(void *arg)
{
	struct fired *f = arg;

	f->f_at = mono_now_ms();
	f->f_done = 1;
}

/*
 * A loop timer counts from the moment it is set, not from the loop's last
 * wake-up: credproc_run arms its timeout after the spawn, which can be slow
 * (a sanitizer build forking), and the timeout must still be the whole of it.
 */
static void
test_timer_counts_from_setting(void **state)
{
	struct loop_timer t, guard;
	struct fired f;
	uint64_t set_at;

	(void)state;
	memset(&t, 0, sizeof(t));
	memset(&guard, 0, sizeof(guard));
	memset(&f, 0, sizeof(f));
	usleep(T_STALE_MS * 1000);	/* time passes outside the loop */
	set_at = mono_now_ms();
	loop_timer_set(&t, T_TIMEOUT_MS, on_timer_fired, &f);
	/* a hang ends at the guard, and then fails the second check */
	loop_timer_set(&guard, T_GUARD_MS, on_timer_fired, &f);
	assert_int_equal(loop_run_until(&f.f_done), 0);
	loop_timer_cancel(&guard);
	assert_true(f.f_at >= set_at + T_TIMEOUT_MS);
	assert_true(f.f_at < set_at + T_GUARD_MS);
}

/* Several at once: each gets its own answer. */
static void
test_run_concurrent(void **state)
{
	struct result a, b, c;
	struct loop_timer guard;
	char err[ERRBUF_LEN];
	int all = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&guard, 0, sizeof(guard));
	assert_int_equal(credproc_run(FIXTURES "ok.sh", CREDPROC_TIMEOUT_MS, on_done, &a,
	    err, sizeof(err)), 0);
	assert_int_equal(credproc_run(FIXTURES "fail.sh", CREDPROC_TIMEOUT_MS, on_done, &b,
	    err, sizeof(err)), 0);
	assert_int_equal(credproc_run(FIXTURES "closeout.sh", T_TIMEOUT_MS, on_done, &c,
	    err, sizeof(err)), 0);
	loop_timer_set(&guard, T_GUARD_MS, on_guard, &c);
	/* c (the timeout) finishes last */
	assert_int_equal(loop_run_until(&c.r_finished), 0);
	loop_timer_cancel(&guard);
	all = a.r_calls + b.r_calls + c.r_calls;
	assert_int_equal(all, 3);
	assert_int_equal(a.r_ok, 1);
	assert_int_equal(b.r_ok, 0);
	assert_int_equal(c.r_ok, 0);
	assert_non_null(strstr(c.r_err, "timed out"));
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_ok),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_split_word_limit),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_sizes),
		cmocka_unit_test_setup_teardown(test_run_ok, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_exit_status, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_signal, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_timeout, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_closed_stdout, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_huge_output, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_noisy_stderr, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_bad_json, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_args, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_not_found, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_concurrent, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_timer_counts_from_setting, setup_loop,
		    teardown_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
