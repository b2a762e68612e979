/*
 * test_lifecycle.c: the life cycle under a test clock: each verb, the
 * time-driven transitions, the scenario, and the exact bytes served
 * (contract §8.3, §8.4), also through snapshot_build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "imds/imds.h"
#include "ops/ops.h"

/* 2019-01-21T09:00:43Z: the contract's example time */
#define T0	((time_t)1548061243)

/* What life_emit produced, path -> value. */
struct emitted {
	char	 path[16][MD_PATH_MAX + 1];
	char	*val[16];
	size_t	 n;
};

static int
collect(void *arg, const char *path, const char *val, size_t len)
{
	struct emitted *e = arg;

	assert_true(e->n < 16);
	snprintf(e->path[e->n], sizeof(e->path[0]), "%s", path);
	e->val[e->n] = strndup(val, len);
	assert_int_equal(strlen(e->val[e->n]), len);
	e->n++;
	return 0;
}

static const char *
got(const struct emitted *e, const char *path)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->path[i], path) == 0)
			return e->val[i];
	return NULL;
}

static void
emit(const struct lifecycle *l, time_t now, struct emitted *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->val[i]);
	memset(e, 0, sizeof(*e));
	assert_int_equal(life_emit(l, now, collect, e), 0);
}

static void
emitted_free(struct emitted *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		free(e->val[i]);
	memset(e, 0, sizeof(*e));
}

/* Run a command line (words separated by single spaces); returns rc, reply in out. */
static int
run(struct lifecycle *l, time_t now, const char *line, char *out, size_t cap)
{
	char buf[1024], *words[CONTROL_ARGS_MAX], *save = NULL, *w;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (w = strtok_r(buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	return life_command(l, (const char *const *)words, n, now, out, cap);
}

static void
ok(struct lifecycle *l, time_t now, const char *line, const char *want)
{
	char reply[ERRBUF_LEN];
	int rc = run(l, now, line, reply, sizeof(reply));

	if (rc != 0)
		print_error("%s: %s\n", line, reply);
	assert_int_equal(rc, 0);
	if (want != NULL)
		assert_string_equal(reply, want);
}

static void
refused(struct lifecycle *l, time_t now, const char *line, const char *want)
{
	char reply[ERRBUF_LEN];

	assert_int_equal(run(l, now, line, reply, sizeof(reply)), -1);
	assert_string_equal(reply, want);
}

static void
test_durations_and_times(void **state)
{
	time_t t;
	long d;

	(void)state;
	assert_int_equal(life_parse_duration("120", &d), 0);
	assert_int_equal(d, 120);
	assert_int_equal(life_parse_duration("90s", &d), 0);
	assert_int_equal(d, 90);
	assert_int_equal(life_parse_duration("2m", &d), 0);
	assert_int_equal(d, 120);
	assert_int_equal(life_parse_duration("1h", &d), 0);
	assert_int_equal(d, 3600);
	assert_int_equal(life_parse_duration("1d", &d), 0);
	assert_int_equal(d, 86400);
	assert_int_equal(life_parse_duration("", &d), -1);
	assert_int_equal(life_parse_duration("m", &d), -1);
	assert_int_equal(life_parse_duration("-1", &d), -1);
	assert_int_equal(life_parse_duration("1.5h", &d), -1);
	assert_int_equal(life_parse_duration("99999999999999999999", &d), -1);
	assert_int_equal(life_parse_duration("4000d", &d), -1);	/* > LIFE_WHEN_MAX */
	assert_int_equal(life_parse_when("+1h", T0, &t), 0);
	assert_int_equal(t, T0 + 3600);
	assert_int_equal(life_parse_when("now", T0, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(life_parse_when("2019-01-21T09:17:23Z", T0, &t), 0);
	assert_int_equal(t, T0 + 1000);
	assert_int_equal(life_parse_when("1h", T0, &t), -1);
	assert_int_equal(life_parse_when("tomorrow", T0, &t), -1);
}

static void
test_event_time_format(void **state)
{
	char buf[64];

	(void)state;
	/* §8.3: day without a leading zero */
	assert_int_equal(life_fmt_event_time(T0, buf, sizeof(buf)), 24);
	assert_string_equal(buf, "21 Jan 2019 09:00:43 GMT");
	life_fmt_event_time(T0 - 20 * 86400 - 9 * 3600, buf, sizeof(buf));
	assert_string_equal(buf, "1 Jan 2019 00:00:43 GMT");
}

static void
test_nothing_by_default(void **state)
{
	struct lifecycle l;
	struct emitted e = { 0 };

	(void)state;
	life_init(&l);
	emit(&l, T0, &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(got(&e, "meta-data/events/maintenance/scheduled"), "[]");
	assert_string_equal(got(&e, "meta-data/events/maintenance/history"), "[]");
	assert_null(got(&e, "meta-data/instance-life-cycle"));
	assert_int_equal(life_next_change(&l, T0), 0);
	emitted_free(&e);
	life_free(&l);
}

static void
test_spot_interrupt(void **state)
{
	struct lifecycle l;
	struct emitted e = { 0 };

	(void)state;
	life_init(&l);
	/* served at once, for an action two minutes ahead (AWS's warning) */
	ok(&l, T0, "spot-interrupt", "spot terminate at 2019-01-21T09:02:43Z");
	emit(&l, T0, &e);
	assert_string_equal(got(&e, "meta-data/spot/instance-action"),
	    "{\"action\": \"terminate\", \"time\": \"2019-01-21T09:02:43Z\"}");
	assert_string_equal(got(&e, "meta-data/spot/termination-time"), "2019-01-21T09:02:43Z");
	assert_string_equal(got(&e, "meta-data/instance-life-cycle"), "spot");

	ok(&l, T0, "spot-interrupt --action hibernate --in 30s",
	    "spot hibernate at 2019-01-21T09:01:13Z");
	emit(&l, T0, &e);
	assert_string_equal(got(&e, "meta-data/spot/instance-action"),
	    "{\"action\": \"hibernate\", \"time\": \"2019-01-21T09:01:13Z\"}");
	ok(&l, T0, "spot-interrupt --action stop --at 2019-01-21T10:00:00Z", NULL);
	emit(&l, T0, &e);
	assert_string_equal(got(&e, "meta-data/spot/termination-time"), "2019-01-21T10:00:00Z");

	ok(&l, T0, "spot-cancel", "spot notice canceled");
	emit(&l, T0, &e);
	assert_null(got(&e, "meta-data/spot/instance-action"));
	assert_null(got(&e, "meta-data/spot/termination-time"));
	/* it stays a spot instance */
	assert_string_equal(got(&e, "meta-data/instance-life-cycle"), "spot");
	refused(&l, T0, "spot-cancel", "spot-cancel: no spot interruption notice is pending");
	emitted_free(&e);
	life_free(&l);
}

static void
test_bad_input_changes_nothing(void **state)
{
	struct lifecycle l, before;

	(void)state;
	life_init(&l);
	ok(&l, T0, "spot-interrupt --in 5m", NULL);
	ok(&l, T0, "event add --code system-reboot --not-before +1h", NULL);
	before = l;
	refused(&l, T0, "spot-interrupt --action reboot",
	    "spot-interrupt: --action is terminate, stop or hibernate, not 'reboot'");
	refused(&l, T0, "spot-interrupt --in soon",
	    "spot-interrupt: --in 'soon' is not a duration (120, 90s, 2m, 1h)");
	refused(&l, T0, "spot-interrupt --in 2m --at +1h",
	    "spot-interrupt: give --in or --at, not both");
	refused(&l, T0, "spot-interrupt --at 2019-01-21T08:00:00Z",
	    "spot-interrupt: --at 2019-01-21T08:00:00Z is in the past");
	refused(&l, T0, "spot-interrupt --force yes", "spot-interrupt: unknown option '--force'");
	refused(&l, T0, "spot-interrupt --in", "spot-interrupt: option '--in' needs a value");
	refused(&l, T0, "spot-interrupt --in 1m --in 2m",
	    "spot-interrupt: option '--in' given twice");
	refused(&l, T0, "spot-interrupt now", "spot-interrupt: unexpected argument 'now'");
	refused(&l, T0, "event add --code power-cycle --not-before +1h",
	    "event add: unknown event code 'power-cycle' (known: instance-reboot, system-reboot, "
	    "system-maintenance, instance-retirement, instance-stop)");
	refused(&l, T0, "event add --code system-reboot",
	    "event add: --code and --not-before are required");
	refused(&l, T0, "event add --code system-reboot --not-before +2h --not-after +1h",
	    "event add: not-after must be later than not-before");
	refused(&l, T0, "event add --code system-reboot --not-before 2019-01-20T00:00:00Z "
	    "--not-after 2019-01-21T00:00:00Z", "event add: not-after is in the past");
	refused(&l, T0, "event cancel instance-event-nope",
	    "event cancel: no scheduled event 'instance-event-nope'");
	refused(&l, T0, "event", "event: expected add, cancel or complete");
	refused(&l, T0, "asg-state Running", "asg-state: expected one of InService, Standby, "
	    "Detached, Terminated, Warmed:Pending, Warmed:Running, Warmed:Stopped, "
	    "Warmed:Hibernated, Warmed:Terminated, or none");
	refused(&l, T0, "tag set Name", "tag set: expected KEY=VALUE, got 'Name'");
	refused(&l, T0, "tag set ok=1 bad/key=2", "tag set: invalid tag key \"bad/key\": tag keys "
	    "may hold only letters, digits and + - = . , _ : @ and may not be \".\", \"..\" or "
	    "\"_index\"");
	refused(&l, T0, "tag rm _index", "tag rm: invalid tag key \"_index\": tag keys may hold "
	    "only letters, digits and + - = . , _ : @ and may not be \".\", \"..\" or \"_index\"");
	assert_memory_equal(&l, &before, sizeof(l));
	/* not ours: untouched, 1 */
	{
		char reply[ERRBUF_LEN];
		assert_int_equal(run(&l, T0, "set meta-data/x y", reply, sizeof(reply)), 1);
	}
	life_free(&l);
}

static const char two_events[] =
"[ {\n"
"  \"NotBefore\" : \"21 Jan 2019 10:00:43 GMT\",\n"
"  \"Code\" : \"system-reboot\",\n"
"  \"Description\" : \"scheduled reboot\",\n"
"  \"EventId\" : \"instance-event-00000000000000001\",\n"
"  \"NotAfter\" : \"21 Jan 2019 11:00:43 GMT\",\n"
"  \"State\" : \"active\"\n"
"}, {\n"
"  \"NotBefore\" : \"21 Jan 2019 09:05:43 GMT\",\n"
"  \"Code\" : \"instance-stop\",\n"
"  \"Description\" : \"disk \\\"sdb\\\" failing\",\n"
"  \"EventId\" : \"instance-event-00000000000000002\",\n"
"  \"State\" : \"active\"\n"
"} ]";

static void
test_events_lifecycle(void **state)
{
	struct lifecycle l;
	struct emitted e = { 0 };
	const char *words[] = { "event", "add", "--code", "instance-stop", "--not-before",
	    "+5m", "--description", "disk \"sdb\" failing" };
	char reply[ERRBUF_LEN];

	(void)state;
	life_init(&l);
	ok(&l, T0, "event add --code system-reboot --not-before +1h --not-after +2h",
	    "instance-event-00000000000000001");
	assert_int_equal(life_command(&l, words, 8, T0, reply, sizeof(reply)), 0);
	assert_string_equal(reply, "instance-event-00000000000000002");
	emit(&l, T0, &e);
	assert_string_equal(got(&e, "meta-data/events/maintenance/scheduled"), two_events);
	assert_string_equal(got(&e, "meta-data/events/maintenance/history"), "[]");

	/* the clock: nothing moves before NotAfter, the event completes at it */
	assert_int_equal(life_next_change(&l, T0), T0 + 7200);
	assert_int_equal(life_advance(&l, T0 + 7199), 0);
	assert_int_equal(l.l_nsched, 2);
	assert_int_equal(life_advance(&l, T0 + 7200), 1);
	assert_int_equal(life_next_change(&l, T0 + 7200), 0);	/* the other has no NotAfter */
	emit(&l, T0 + 7200, &e);
	assert_string_equal(got(&e, "meta-data/events/maintenance/history"),
	    "[ {\n"
	    "  \"NotBefore\" : \"21 Jan 2019 10:00:43 GMT\",\n"
	    "  \"Code\" : \"system-reboot\",\n"
	    "  \"Description\" : \"[Completed] scheduled reboot\",\n"
	    "  \"EventId\" : \"instance-event-00000000000000001\",\n"
	    "  \"NotAfter\" : \"21 Jan 2019 11:00:43 GMT\",\n"
	    "  \"State\" : \"completed\"\n"
	    "} ]");
	/* cancel: history, in the order events ended */
	ok(&l, T0 + 7200, "event cancel instance-event-00000000000000002",
	    "instance-event-00000000000000002 canceled");
	emit(&l, T0 + 7200, &e);
	assert_string_equal(got(&e, "meta-data/events/maintenance/scheduled"), "[]");
	assert_non_null(strstr(got(&e, "meta-data/events/maintenance/history"),
	    "}, {\n  \"NotBefore\" : \"21 Jan 2019 09:05:43 GMT\",\n  \"Code\" : \"instance-stop\",\n"
	    "  \"Description\" : \"[Canceled] disk \\\"sdb\\\" failing\",\n"));
	assert_non_null(strstr(got(&e, "meta-data/events/maintenance/history"),
	    "\"State\" : \"canceled\"\n} ]"));
	refused(&l, T0, "event complete instance-event-00000000000000002",
	    "event complete: no scheduled event 'instance-event-00000000000000002'");
	ok(&l, T0, "event add --code instance-reboot --not-before now", NULL);
	ok(&l, T0, "event complete instance-event-00000000000000003",
	    "instance-event-00000000000000003 completed");
	assert_int_equal(l.l_nhist, 3);
	assert_int_equal(l.l_hist[2].le_state, LIFE_EV_COMPLETED);
	emitted_free(&e);
	life_free(&l);
}

static void
test_event_caps(void **state)
{
	struct lifecycle l;
	char line[128];
	int i;

	(void)state;
	life_init(&l);
	for (i = 0; i < LIFE_EVENTS_MAX; i++)
		ok(&l, T0, "event add --code system-reboot --not-before +1h", NULL);
	refused(&l, T0, "event add --code system-reboot --not-before +1h",
	    "event add: at most 32 scheduled events");
	/* history keeps the latest LIFE_EVENTS_MAX */
	for (i = 1; i <= LIFE_EVENTS_MAX; i++) {
		snprintf(line, sizeof(line), "event cancel instance-event-%017x", i);
		ok(&l, T0, line, NULL);
	}
	ok(&l, T0, "event add --code system-reboot --not-before +1h", NULL);
	ok(&l, T0, "event complete instance-event-00000000000000021", NULL);
	assert_int_equal(l.l_nhist, LIFE_EVENTS_MAX);
	assert_string_equal(l.l_hist[0].le_id, "instance-event-00000000000000002");
	assert_string_equal(l.l_hist[LIFE_EVENTS_MAX - 1].le_id,
	    "instance-event-00000000000000021");
	life_free(&l);
}

static void
test_rebalance_asg(void **state)
{
	struct lifecycle l;
	struct emitted e = { 0 };

	(void)state;
	life_init(&l);
	ok(&l, T0, "rebalance --in 90s", "rebalance noticeTime 2019-01-21T09:02:13Z");
	emit(&l, T0 + 89, &e);
	assert_null(got(&e, "meta-data/events/recommendations/rebalance"));
	assert_int_equal(life_next_change(&l, T0 + 89), T0 + 90);
	emit(&l, T0 + 90, &e);
	assert_string_equal(got(&e, "meta-data/events/recommendations/rebalance"),
	    "{\"noticeTime\": \"2019-01-21T09:02:13Z\"}");
	assert_int_equal(life_next_change(&l, T0 + 90), 0);
	ok(&l, T0, "asg-state Warmed:Hibernated", "asg-state Warmed:Hibernated");
	emit(&l, T0, &e);
	assert_string_equal(got(&e, "meta-data/autoscaling/target-lifecycle-state"),
	    "Warmed:Hibernated");
	ok(&l, T0, "asg-state none", NULL);
	emit(&l, T0, &e);
	assert_null(got(&e, "meta-data/autoscaling/target-lifecycle-state"));
	emitted_free(&e);
	life_free(&l);
}

static void
test_tags_and_overrides(void **state)
{
	struct lifecycle l;
	char err[ERRBUF_LEN];

	(void)state;
	life_init(&l);
	ok(&l, T0, "tag set Name=web-1 team= a:b=x=y", "3 tags set");
	assert_int_equal(l.l_ntags, 3);
	assert_string_equal(l.l_tags[1].tg_value, "");
	assert_string_equal(l.l_tags[2].tg_key, "a:b");
	assert_string_equal(l.l_tags[2].tg_value, "x=y");
	ok(&l, T0, "tag rm team", "1 tag removed");
	assert_int_equal(l.l_ntags, 3);
	assert_true(l.l_tags[1].tg_removed);
	ok(&l, T0, "tag set team=blue", NULL);
	assert_false(l.l_tags[1].tg_removed);
	assert_string_equal(l.l_tags[1].tg_value, "blue");

	assert_int_equal(life_override_set(&l, "meta-data/instance-type", "m5.large", 8, err,
	    sizeof(err)), 0);
	assert_int_equal(life_override_set(&l, "meta-data/instance-type", "c5.xlarge", 9, err,
	    sizeof(err)), 0);
	assert_int_equal(life_override_set(&l, "meta-data/public-ipv4", NULL, 0, err,
	    sizeof(err)), 0);
	assert_int_equal(l.l_nov, 2);
	assert_string_equal(l.l_ov[0].lo_value, "c5.xlarge");
	assert_null(l.l_ov[1].lo_value);
	life_free(&l);
}

static void
test_scenario(void **state)
{
	struct lifecycle l;
	struct emitted e = { 0 };
	json_error_t jerr;
	json_t *sc;
	char err[ERRBUF_LEN];

	(void)state;
	sc = json_loads("{\"spot-interruption\": {\"action\": \"stop\", \"after\": 30},"
	    " \"rebalance\": \"10s\", \"asg-state\": \"InService\","
	    " \"events\": [{\"code\": \"system-maintenance\", \"not-before\": \"+1h\","
	    "   \"not-after\": \"+3h\"},"
	    "  {\"code\": \"instance-reboot\", \"not-before\": \"2019-01-01T00:00:00Z\","
	    "   \"state\": \"completed\"}],"
	    " \"tags\": {\"Name\": \"preset\"}}", 0, &jerr);
	assert_non_null(sc);
	life_init(&l);
	assert_int_equal(life_scenario(&l, sc, T0, err, sizeof(err)), 0);
	/* a spot instance from the start; the notice 30 s in, for 2 min later */
	emit(&l, T0, &e);
	assert_string_equal(got(&e, "meta-data/instance-life-cycle"), "spot");
	assert_null(got(&e, "meta-data/spot/instance-action"));
	assert_null(got(&e, "meta-data/events/recommendations/rebalance"));
	assert_string_equal(got(&e, "meta-data/autoscaling/target-lifecycle-state"), "InService");
	assert_int_equal(life_next_change(&l, T0), T0 + 10);
	assert_int_equal(life_next_change(&l, T0 + 10), T0 + 30);
	emit(&l, T0 + 30, &e);
	assert_string_equal(got(&e, "meta-data/spot/instance-action"),
	    "{\"action\": \"stop\", \"time\": \"2019-01-21T09:03:13Z\"}");
	assert_non_null(strstr(got(&e, "meta-data/events/maintenance/history"),
	    "\"Description\" : \"[Completed] scheduled reboot\""));
	assert_int_equal(l.l_nsched, 1);
	assert_string_equal(l.l_tags[0].tg_value, "preset");
	emitted_free(&e);
	life_free(&l);
	json_decref(sc);
}

static void
scenario_err(const char *text, const char *want)
{
	struct lifecycle l;
	json_error_t jerr;
	json_t *sc = json_loads(text, 0, &jerr);
	char err[ERRBUF_LEN] = "";

	assert_non_null(sc);
	life_init(&l);
	assert_int_equal(life_scenario(&l, sc, T0, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	life_free(&l);
	json_decref(sc);
}

static void
test_scenario_errors(void **state)
{
	(void)state;
	scenario_err("{\"spot-interruption\": {\"action\": \"reboot\"}}",
	    "scenario/spot-interruption/action: expected \"terminate\", \"stop\" or \"hibernate\"");
	scenario_err("{\"spot-interruption\": {\"after\": -1}}",
	    "scenario/spot-interruption/after: expected seconds (a number) or a duration "
	    "(\"90s\", \"2m\")");
	scenario_err("{\"spot-interruption\": {\"when\": 1}}",
	    "scenario/spot-interruption: unknown key \"when\"");
	scenario_err("{\"events\": [{\"code\": \"system-reboot\"}]}",
	    "scenario/events/0: \"code\" and \"not-before\" (strings) are required");
	scenario_err("{\"events\": [{\"code\": \"x\", \"not-before\": \"+1h\"}]}",
	    "scenario/events/0: unknown event code 'x' (known: instance-reboot, system-reboot, "
	    "system-maintenance, instance-retirement, instance-stop)");
	scenario_err("{\"events\": [{\"code\": \"system-reboot\", \"not-before\": \"soon\"}]}",
	    "scenario/events/0/not-before: \"soon\" is not a time (YYYY-MM-DDTHH:MM:SSZ or "
	    "+DURATION from the start)");
	scenario_err("{\"asg-state\": \"Up\"}", "scenario/asg-state: expected one of InService, "
	    "Standby, Detached, Terminated, Warmed:Pending, Warmed:Running, Warmed:Stopped, "
	    "Warmed:Hibernated, Warmed:Terminated");
	scenario_err("{\"tags\": {\"a b\": \"x\"}}", "scenario/tags: invalid tag key \"a b\": tag "
	    "keys may hold only letters, digits and + - = . , _ : @ and may not be \".\", \"..\" "
	    "or \"_index\"");
	scenario_err("{\"spot\": \"yes\"}", "scenario/spot: expected true or false");
	scenario_err("{\"rebalance\": true}", "scenario/rebalance: expected the seconds after the "
	    "start (a number) or a duration (\"90s\", \"2m\")");
	scenario_err("{\"storm\": 1}", "scenario: unknown key \"storm\"");
	/* an object where one is expected, at each level */
	scenario_err("[]", "scenario: expected an object");
	scenario_err("{\"spot-interruption\": 1}", "scenario/spot-interruption: expected an object");
	scenario_err("{\"events\": [\"x\"]}", "scenario/events/0: expected an object");
}

/* The config file: "scenario" checked with the file's name, line and column. */
static void
test_config_scenario(void **state)
{
	struct config cfg;
	char err[ERRBUF_LEN] = "";
	const char *bad = "{\"scenario\": {\"spot-interruption\": {\"action\": 1}}}";
	const char *good = "{\"scenario\": {\"spot\": true}}";

	(void)state;
	assert_int_equal(config_parse(bad, strlen(bad), "c.json", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "c.json:1:37: scenario/spot-interruption/action: expected "
	    "\"terminate\", \"stop\" or \"hibernate\"");
	assert_int_equal(config_parse(good, strlen(good), "c.json", &cfg, err, sizeof(err)), 0);
	assert_non_null(cfg.cf_scenario);
	config_free(&cfg);
}

/*
 * A reload checks the scenario against the daemon's start: an event that
 * has ended since (not-after passed) does not make the same file wrong.
 */
static void
test_config_scenario_counts_from_start(void **state)
{
	struct config cfg;
	char err[ERRBUF_LEN] = "", text[256], when[32];
	time_t now = time(NULL);
	struct tm tm;

	(void)state;
	gmtime_r(&(time_t){ now - 50 }, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof(text), "{\"scenario\": {\"events\": [{\"code\": \"system-reboot\", "
	    "\"not-before\": \"+0s\", \"not-after\": \"%s\"}]}}", when);
	/* started 100 s ago: the event ran from then until 50 s ago */
	config_set_start(now - 100);
	assert_int_equal(config_parse(text, strlen(text), "c.json", &cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	/* counted from now, the same event would have ended before it began */
	config_set_start(0);
	assert_int_equal(config_parse(text, strlen(text), "c.json", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not-after must be later than not-before"));
}

/* config_set_path: checked like the file, all or nothing. */
static void
test_config_set_path(void **state)
{
	struct config cfg, copy;
	char err[ERRBUF_LEN] = "";
	const char *text = "{\"meta-data\": {\"instance-type\": \"m5.large\"}}";
	json_t *v;

	(void)state;
	config_init(&cfg);
	assert_int_equal(config_set_path(&cfg, "meta-data/placement/group-name", "g1", 2, err,
	    sizeof(err)), 0);
	v = json_object_get(json_object_get((json_t *)cfg.cf_meta, "placement"), "group-name");
	assert_string_equal(json_string_value(v), "g1");
	assert_int_equal(config_set_path(&cfg, "user-data", "x", 1, err, sizeof(err)), -1);
	assert_string_equal(err, "user-data: a path starts with meta-data/ or dynamic/");
	assert_int_equal(config_set_path(&cfg, "meta-data/tags/instance/a*b", "x", 1, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid tag key \"a*b\""));
	assert_int_equal(config_set_path(&cfg, "meta-data/a/../b", "x", 1, err, sizeof(err)), -1);
	/* #17 finding 7: credentials and signed documents, at, below and above */
	{
		static const char *const no[] = { "meta-data/iam/security-credentials/r",
		    "meta-data/iam/security-credentials", "meta-data/iam/info", "meta-data/iam",
		    "meta-data/identity-credentials/ec2/info", "meta-data/identity-credentials",
		    "dynamic/instance-identity/document", "dynamic/instance-identity/pkcs7",
		    "dynamic/instance-identity" };
		static const char *const yes[] = { "meta-data/iam/notes", "meta-data/iamx",
		    "meta-data/iam/infox", "meta-data/identity-credentialsx",
		    "dynamic/instance-identityx", "dynamic/fws/instance-monitoring" };
		size_t i;

		for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
			assert_non_null(config_path_refused(no[i]));
			assert_int_equal(config_set_path(&cfg, no[i], "x", 1, err, sizeof(err)), -1);
			assert_int_equal(strncmp(err, no[i], strlen(no[i])), 0);
			assert_non_null(strstr(err, "not settable"));
			assert_int_equal(config_set_path(&cfg, no[i], NULL, 0, err, sizeof(err)), -1);
		}
		assert_null(json_object_get((json_t *)cfg.cf_meta, "iam"));
		assert_null(cfg.cf_dynamic);
		for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
			assert_null(config_path_refused(yes[i]));
	}
	/* refused changes left nothing behind */
	assert_null(json_object_get((json_t *)cfg.cf_meta, "tags"));
	assert_null(json_object_get((json_t *)cfg.cf_meta, "a"));
	config_free(&cfg);

	assert_int_equal(config_parse(text, strlen(text), "c.json", &cfg, err, sizeof(err)), 0);
	assert_int_equal(config_dup(&cfg, &copy), 0);
	assert_int_equal(config_set_path(&copy, "meta-data/instance-type", NULL, 0, err,
	    sizeof(err)), 0);
	assert_true(json_is_null(json_object_get((json_t *)copy.cf_meta, "instance-type")));
	assert_string_equal(json_string_value(json_object_get((json_t *)cfg.cf_meta,
	    "instance-type")), "m5.large");
	config_free(&copy);
	config_free(&cfg);
}

static const struct md_node *
lookup(const struct snapshot *s, const char *path)
{
	return tree_lookup(s->s_root, path, strlen(path));
}

/* Through snapshot_build: listings follow, nothing listed answers 404. */
static void
test_snapshot(void **state)
{
	struct lifecycle l;
	struct instance inst;
	struct snapshot_input in;
	struct snapshot *s;
	const struct md_node *n;
	char err[ERRBUF_LEN];

	(void)state;
	assert_int_equal(identity_init(NULL, NULL, err, sizeof(err)), 0);
	instance_default(&inst, T0);
	life_init(&l);
	memset(&in, 0, sizeof(in));
	in.si_inst = &inst;
	in.si_opt.o_tags_enabled = 1;
	in.si_now = T0;
	in.si_life = &l;

	s = snapshot_build(&in, err, sizeof(err));
	assert_non_null(s);
	n = lookup(s, "meta-data/events");
	assert_string_equal(n->n_body, "maintenance/");
	assert_null(lookup(s, "meta-data/spot"));
	assert_null(lookup(s, "meta-data/tags"));
	n = lookup(s, "meta-data/instance-life-cycle");
	assert_string_equal(n->n_body, "on-demand");
	snapshot_unref(s);

	ok(&l, T0, "spot-interrupt", NULL);
	ok(&l, T0, "rebalance", NULL);
	ok(&l, T0, "asg-state InService", NULL);
	ok(&l, T0, "tag set Name=web-1 empty=", NULL);
	s = snapshot_build(&in, err, sizeof(err));
	assert_non_null(s);
	n = lookup(s, "meta-data/spot");
	assert_string_equal(n->n_body, "instance-action\ntermination-time");
	n = lookup(s, "meta-data/events");
	assert_string_equal(n->n_body, "maintenance/\nrecommendations/");
	n = lookup(s, "meta-data/events/recommendations");
	assert_string_equal(n->n_body, "rebalance");
	n = lookup(s, "meta-data/autoscaling");
	assert_string_equal(n->n_body, "target-lifecycle-state");
	n = lookup(s, "meta-data/tags/instance");
	assert_string_equal(n->n_body, "Name\nempty");
	n = lookup(s, "meta-data/tags/instance/empty");
	assert_non_null(n);
	assert_int_equal(n->n_bodylen, 0);
	n = lookup(s, "meta-data/instance-life-cycle");
	assert_string_equal(n->n_body, "spot");
	snapshot_unref(s);

	/* tags off: none of it */
	in.si_opt.o_tags_enabled = 0;
	s = snapshot_build(&in, err, sizeof(err));
	assert_null(lookup(s, "meta-data/tags"));
	snapshot_unref(s);
	life_free(&l);
	identity_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations_and_times),
		cmocka_unit_test(test_event_time_format),
		cmocka_unit_test(test_nothing_by_default),
		cmocka_unit_test(test_spot_interrupt),
		cmocka_unit_test(test_bad_input_changes_nothing),
		cmocka_unit_test(test_events_lifecycle),
		cmocka_unit_test(test_event_caps),
		cmocka_unit_test(test_rebalance_asg),
		cmocka_unit_test(test_tags_and_overrides),
		cmocka_unit_test(test_scenario),
		cmocka_unit_test(test_scenario_errors),
		cmocka_unit_test(test_config_scenario),
		cmocka_unit_test(test_config_scenario_counts_from_start),
		cmocka_unit_test(test_config_set_path),
		cmocka_unit_test(test_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
