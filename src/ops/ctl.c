/*
 * ctl.c: `gimme-aws-mini ctl`, the client of the control socket.
 *
 * A thin client: it sends its words as they are (a JSON array, one line)
 * and prints the daemon's answer, so that the checks live in one place,
 * the daemon.  Exit status: 0 "ok", 1 the daemon refused ("error ..."; its
 * message on stderr), 64 bad usage, 71 the socket could not be used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "ops/ops.h"

#define CTL_EXIT_REFUSED	1	/* the daemon answered "error ..." */
#define CTL_POD_NAME_MAX	253	/* bytes of a namespace or pod name in a row */
#define CTL_UID_MAX		64	/* bytes of a page's cursor, a pod uid (pods.h's POD_UID_MAX) */
#define CTL_POD_ADDRS_MAX	96	/* bytes of a row's addresses (an IPv4 and an IPv6) */

static const char usage_ctl[] =
"usage: " PROGNAME " ctl [--control PATH] VERB [ARGS...]\n"
"\n"
"Change what a running `" PROGNAME " serve --control PATH` serves, at once.\n"
"The socket is --control PATH, else GIMME_CONTROL.\n"
"\n"
"verbs:\n"
"  spot-interrupt [--action terminate|stop|hibernate] [--in DURATION | --at TIME]\n"
"                         serve spot/instance-action and spot/termination-time\n"
"                         now, for an action DURATION from now (default\n"
"                         terminate in 2m) or at TIME; instance-life-cycle\n"
"                         becomes spot\n"
"  spot-cancel            withdraw the spot notice\n"
"  rebalance [--in DURATION | --at TIME]\n"
"                         serve events/recommendations/rebalance (noticeTime\n"
"                         now, or later)\n"
"  event add --code CODE --not-before TIME [--not-after TIME] [--description TEXT]\n"
"                         schedule a maintenance event (instance-reboot,\n"
"                         system-reboot, system-maintenance, instance-retirement,\n"
"                         instance-stop); prints its EventId; it completes by\n"
"                         itself when NotAfter passes\n"
"  event cancel ID        move an event to history as canceled\n"
"  event complete ID      move an event to history as completed\n"
"  asg-state STATE        autoscaling/target-lifecycle-state: InService, Standby,\n"
"                         Detached, Terminated, Warmed:*; none removes it\n"
"  tag set KEY=VALUE...   set instance tags (served with instance-metadata-tags)\n"
"  tag rm KEY...          remove instance tags\n"
"  set PATH VALUE         set any meta-data/ or dynamic/ path, as --config does\n"
"  unset PATH             remove a path, as null in --config does\n"
"  rotate-credentials     fetch the role's credentials again now\n"
"  state                  print what is scheduled and served now (JSON)\n"
"  pods [--json]          with --pod-roles: each pod of the node, its addresses,\n"
"                         its role, where the role came from (annotation,\n"
"                         service-account, association, default, none,\n"
"                         refused, node) and when its credentials expire\n"
"\n"
"TIME is YYYY-MM-DDTHH:MM:SSZ, +DURATION from now, or now; DURATION is\n"
"seconds, or a number with s, m, h or d (90s, 2m, 1h).\n"
"exit status: 0 done, 1 refused by the daemon (its message on stderr),\n"
"64 bad usage, 71 the control socket could not be reached.\n";

/* The request line: the words as a JSON array, LF-terminated.  NULL with err. */
static char *
request_line(char **words, int n, char *err, size_t errlen)
{
	json_t *arr = json_array(), *s;
	char *line = NULL, *out;
	size_t len;
	int i;

	if (arr == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		if ((s = json_string(words[i])) == NULL) {
			snprintf(err, errlen, "argument %d is not UTF-8 text", i + 1);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, s);
	}
	line = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (line == NULL)
		goto nomem;
	len = strlen(line);
	if (len + 1 > CONTROL_LINE_MAX) {
		snprintf(err, errlen, "the request is %zu bytes, more than the %d a line may hold",
		    len + 1, CONTROL_LINE_MAX);
		free(line);
		return NULL;
	}
	if ((out = realloc(line, len + 2)) == NULL) {
		free(line);
		goto nomem;
	}
	out[len] = '\n';
	out[len + 1] = '\0';
	return out;
nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* Send line, read the one reply line into reply (NUL-terminated, no LF).  0 / -1 with err. */
static int
exchange(const char *path, const char *line, char *reply, size_t cap, char *err,
    size_t errlen)
{
	struct sockaddr_un sa;
	size_t len = strlen(line), off = 0, got = 0;
	ssize_t n;
	char *lf;
	int fd;

	if (control_addr(path, &sa, err, errlen) == -1)
		return -1;
	if ((fd = control_dial(&sa, CONTROL_TIMEOUT_MS, err, errlen)) == -1) {
		size_t used = strlen(err);

		if (errno == ENOENT || errno == ECONNREFUSED)
			snprintf(err + used, errlen - used, " (is `" PROGNAME
			    " serve --control` running?)");
		return -1;
	}
	while (off < len) {
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "control socket %s: send: %s", path,
			    n == 0 ? "closed" : strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	for (;;) {
		if (got == cap - 1) {
			snprintf(err, errlen, "control socket %s: a reply longer than %zu bytes",
			    path, cap - 1);
			close(fd);
			return -1;
		}
		n = recv(fd, reply + got, cap - 1 - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "control socket %s: %s", path,
			    errno == EAGAIN || errno == EWOULDBLOCK ? "no reply in time" :
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		reply[got] = '\0';
		if ((lf = memchr(reply, '\n', got)) != NULL) {
			*lf = '\0';
			close(fd);
			return 0;
		}
	}
	close(fd);
	snprintf(err, errlen, "control socket %s: the daemon closed without a reply", path);
	return -1;
}

/*
 * One exchange: the reply after "ok" (malloc'd: "ok" or "ok TEXT"), or
 * NULL with the message printed and *rc the exit status.
 */
static char *
ctl_ask(const char *path, char **words, int n, int *rc)
{
	char err[ERRBUF_LEN], *line, *reply;

	if ((line = request_line(words, n, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: ctl: %s\n", PROGNAME, err);
		*rc = EXIT_USAGE;
		return NULL;
	}
	if ((reply = malloc(CONTROL_REPLY_MAX + 1)) == NULL) {
		free(line);
		fprintf(stderr, "%s: ctl: out of memory\n", PROGNAME);
		*rc = EXIT_SYSTEM;
		return NULL;
	}
	*rc = 0;
	if (exchange(path, line, reply, CONTROL_REPLY_MAX + 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: ctl: %s\n", PROGNAME, err);
		*rc = EXIT_SYSTEM;
	} else if (strcmp(reply, "ok") == 0 || strncmp(reply, "ok ", 3) == 0) {
		free(line);
		return reply;
	} else if (strncmp(reply, "error ", 6) == 0) {
		fprintf(stderr, "%s: %s\n", PROGNAME, reply + 6);
		*rc = CTL_EXIT_REFUSED;
	} else {
		fprintf(stderr, "%s: ctl: unexpected reply: %.200s\n", PROGNAME, reply);
		*rc = EXIT_SYSTEM;
	}
	free(reply);
	free(line);
	return NULL;
}

/* A pod's field, "" when absent or not a string. */
static const char *
pod_str(const json_t *pod, const char *key)
{
	const char *v = json_string_value(json_object_get(pod, key));

	return v != NULL ? v : "";
}

/* One pod as a table row. */
static void
pod_row(const json_t *pod)
{
	const json_t *addrs = json_object_get(pod, "addresses");
	char name[2 * CTL_POD_NAME_MAX + 2], where[CTL_POD_ADDRS_MAX];
	size_t i, off = 0;
	int n;

	snprintf(name, sizeof(name), "%s/%s", pod_str(pod, "namespace"), pod_str(pod, "name"));
	where[0] = '\0';
	for (i = 0; i < json_array_size(addrs) && off < sizeof(where); i++) {
		n = snprintf(where + off, sizeof(where) - off, "%s%s", i > 0 ? "," : "",
		    json_string_value(json_array_get(addrs, i)));
		if (n < 0)
			break;
		off += (size_t)n;
	}
	printf("%-40s %-26s %-16s %-20s %s%s%s\n", name, where[0] != '\0' ? where : "-",
	    pod_str(pod, "source"), pod_str(pod, "expiration")[0] != '\0' ?
	    pod_str(pod, "expiration") : "-", pod_str(pod, "role")[0] != '\0' ?
	    pod_str(pod, "role") : "-", pod_str(pod, "reason")[0] != '\0' ? "  # " : "",
	    pod_str(pod, "reason"));
}

static int
pod_cmp(const void *a, const void *b)
{
	const json_t *pa = *(const json_t *const *)a, *pb = *(const json_t *const *)b;
	int c = strcmp(pod_str(pa, "namespace"), pod_str(pb, "namespace"));

	return c != 0 ? c : strcmp(pod_str(pa, "name"), pod_str(pb, "name"));
}

/* The pods by namespace, then name (as kubectl lists them); left as they are without memory. */
static void
pods_sort(json_t *all)
{
	size_t i, n = json_array_size(all);
	json_t **v;

	if (n < 2 || (v = calloc(n, sizeof(*v))) == NULL)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(all, i));
	qsort(v, n, sizeof(*v), pod_cmp);
	json_array_clear(all);
	for (i = 0; i < n; i++)
		json_array_append_new(all, v[i]);
	free(v);
}

/*
 * ctl pods [--json]: the daemon's pages ("pods --after UID": a JSON object
 * {"pods": [...], "next": the last uid sent, or null}, in uid order)
 * gathered, then printed by namespace and name, as a table or as one JSON
 * array.
 */
static int
ctl_pods(const char *path, char **args, int nargs)
{
	char after[CTL_UID_MAX + 1] = "", *words[3] = { "pods", "--after", after }, *reply, *out;
	json_t *all = json_array(), *page, *next;
	size_t i;
	int rc = 0, as_json = nargs == 1 && strcmp(args[0], "--json") == 0;

	if (nargs > 1 || (nargs == 1 && !as_json)) {
		fprintf(stderr, "%s: ctl: pods takes only --json\n", PROGNAME);
		json_decref(all);
		return EXIT_USAGE;
	}
	for (;;) {
		if ((reply = ctl_ask(path, words, 3, &rc)) == NULL)
			break;
		page = json_loads(reply[2] == ' ' ? reply + 3 : "", 0, NULL);
		free(reply);
		if (!json_is_array(json_object_get(page, "pods"))) {
			fprintf(stderr, "%s: ctl: pods: the daemon's reply is not a page\n",
			    PROGNAME);
			json_decref(page);
			rc = EXIT_SYSTEM;
			break;
		}
		json_array_extend(all, json_object_get(page, "pods"));
		next = json_object_get(page, "next");
		if (json_is_null(next)) {
			json_decref(page);
			break;
		}
		/* the cursor only moves on: anything else would list pods twice, or forever */
		if (!json_is_string(next) || strlen(json_string_value(next)) > CTL_UID_MAX ||
		    strcmp(json_string_value(next), after) <= 0) {
			fprintf(stderr, "%s: ctl: pods: the daemon's next page is not after the "
			    "last\n", PROGNAME);
			json_decref(page);
			rc = EXIT_SYSTEM;
			break;
		}
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		json_decref(page);
	}
	if (rc == 0)
		pods_sort(all);
	if (rc == 0 && as_json) {
		if ((out = json_dumps(all, JSON_INDENT(2))) != NULL)
			printf("%s\n", out);
		free(out);
	} else if (rc == 0) {
		printf("%-40s %-26s %-16s %-20s %s\n", "POD", "ADDRESSES", "SOURCE", "EXPIRES",
		    "ROLE");
		for (i = 0; i < json_array_size(all); i++)
			pod_row(json_array_get(all, i));
	}
	json_decref(all);
	return rc;
}

int
ctl_main(int argc, char **argv)
{
	const char *path = getenv("GIMME_CONTROL");
	char err[ERRBUF_LEN], *reply;
	int i = 1, rc;

	/* ctl's own options come before the verb; everything after is the verb's */
	while (i < argc && strncmp(argv[i], "-", 1) == 0) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_ctl, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
			path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--control=", 10) == 0) {
			path = argv[i] + 10;
			i++;
		} else {
			fprintf(stderr, "%s: ctl: %s '%s' (see '%s ctl --help')\n", PROGNAME,
			    strcmp(argv[i], "--control") == 0 ? "option needs a value" :
			    "unknown option", argv[i], PROGNAME);
			return EXIT_USAGE;
		}
	}
	if (i < argc && strcmp(argv[i], "help") == 0) {
		fputs(usage_ctl, stdout);
		return 0;
	}
	if (i >= argc) {
		fprintf(stderr, "%s: ctl: a verb is needed (see '%s ctl --help')\n", PROGNAME,
		    PROGNAME);
		return EXIT_USAGE;
	}
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "%s: ctl: no control socket: give --control PATH or set "
		    "GIMME_CONTROL\n", PROGNAME);
		return EXIT_USAGE;
	}
	{
		struct sockaddr_un sa;
		if (control_addr(path, &sa, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: ctl: %s\n", PROGNAME, err);
			return EXIT_USAGE;
		}
	}
	if (argc - i > CONTROL_ARGS_MAX) {
		fprintf(stderr, "%s: ctl: at most %d words\n", PROGNAME, CONTROL_ARGS_MAX);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "pods") == 0)
		return ctl_pods(path, argv + i + 1, argc - i - 1);
	if ((reply = ctl_ask(path, argv + i, argc - i, &rc)) == NULL)
		return rc;
	if (reply[2] == ' ')
		printf("%s\n", reply + 3);
	free(reply);
	return 0;
}
