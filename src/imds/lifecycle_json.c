/*
 * lifecycle_json.c: the life cycle (lifecycle.c's state) as JSON: read from
 * the config's "scenario", and written as IMDS serves it (life_emit) and as
 * `ctl state` shows it (life_state_json).
 *
 * What is served (contract §8.3, §8.4, §8.1), rendered by life_emit:
 *
 *   spot/instance-action	{"action": "terminate", "time": "2017-09-18T08:22:00Z"}
 *   spot/termination-time	2017-09-18T08:22:00Z
 *	both from the moment the notice is given (`ctl spot-interrupt`: at
 *	once, with the action's time ahead, as AWS does two minutes before;
 *	a scenario: N seconds after start) until `ctl spot-cancel`.
 *   instance-life-cycle	spot, once a notice was ever given or the
 *				scenario says spot
 *   events/recommendations/rebalance	{"noticeTime": "2020-10-27T08:22:00Z"}
 *   events/maintenance/scheduled	[ { ...event... }, { ... } ] or []
 *   events/maintenance/history		the same, events that ended
 *	An event object is printed like IMDS's other JSON (` : ` spacing,
 *	two-space members) with its members in the contract's order:
 *	NotBefore, Code, Description, EventId, NotAfter, State.  Times are
 *	"21 Jan 2019 09:00:43 GMT".  A scheduled event is "active"; it moves to
 *	history as "completed" when its NotAfter passes or `ctl event
 *	complete` says so, as "canceled" on `ctl event cancel`, its
 *	description then prefixed "[Completed] " or "[Canceled] ".
 *   autoscaling/target-lifecycle-state	InService, Standby, ...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imds/imds.h"
#include "imds/internal.h"

/* ------------------------------------------------------------------ */
/* The config's "scenario"                                             */
/* ------------------------------------------------------------------ */

/* A number of seconds or a duration string ("30s", "2m"); 0 / -1. */
static int
j_duration(json_t *v, long *out)
{
	json_int_t n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n < 0 || n > LIFE_WHEN_MAX)
			return -1;
		*out = (long)n;
		return 0;
	}
	if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
		return life_parse_duration(json_string_value(v), out);
	return -1;
}

/* obj must be an object whose members are among names (NULL-terminated).  0 / -1 with err. */
static int
j_object_known(json_t *obj, const char *where, const char *const *names, char *err,
    size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!json_is_object(obj)) {
		errf(err, errlen, "%s: expected an object", where);
		return -1;
	}
	json_object_foreach(obj, k, v) {
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(k, names[i]) == 0)
				break;
		if (names[i] == NULL) {
			errf(err, errlen, "%s: unknown key \"%.64s\"", where, k);
			return -1;
		}
	}
	return 0;
}

static const char *
j_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static int
scenario_spot(struct lifecycle *l, json_t *v, time_t start, char *err, size_t errlen)
{
	static const char *const keys[] = { "action", "after", "in", NULL };
	static const char where[] = "scenario/spot-interruption";
	const char *action = "terminate";
	long after = 0, in = LIFE_SPOT_NOTICE_S;

	if (j_object_known(v, where, keys, err, errlen) == -1)
		return -1;
	if (json_object_get(v, "action") != NULL &&
	    ((action = j_str(v, "action")) == NULL || !life_spot_action_ok(action))) {
		errf(err, errlen, "%s/action: expected \"terminate\", \"stop\" or \"hibernate\"", where);
		return -1;
	}
	if (json_object_get(v, "after") != NULL &&
	    j_duration(json_object_get(v, "after"), &after) == -1) {
		errf(err, errlen, "%s/after: expected seconds (a number) or a duration (\"90s\", "
		    "\"2m\")", where);
		return -1;
	}
	if (json_object_get(v, "in") != NULL && j_duration(json_object_get(v, "in"), &in) == -1) {
		errf(err, errlen, "%s/in: expected seconds (a number) or a duration (\"90s\", "
		    "\"2m\")", where);
		return -1;
	}
	life_spot_set(l, action, start + after, start + after + in);
	return 0;
}

static int
scenario_events(struct lifecycle *l, json_t *arr, time_t start, char *err, size_t errlen)
{
	static const char *const keys[] = { "code", "not-before", "not-after", "description",
	    "state", NULL };
	char where[64], msg[ERRBUF_LEN];
	const char *code, *nbs, *nas, *desc, *state;
	time_t nb, na;
	json_t *e;
	size_t i;

	if (!json_is_array(arr)) {
		errf(err, errlen, "scenario/events: expected an array");
		return -1;
	}
	json_array_foreach(arr, i, e) {
		snprintf(where, sizeof(where), "scenario/events/%zu", i);
		if (j_object_known(e, where, keys, err, errlen) == -1)
			return -1;
		code = j_str(e, "code");
		nbs = j_str(e, "not-before");
		nas = j_str(e, "not-after");
		desc = j_str(e, "description");
		state = j_str(e, "state");
		if (code == NULL || nbs == NULL) {
			errf(err, errlen, "%s: \"code\" and \"not-before\" (strings) are required", where);
			return -1;
		}
		if ((json_object_get(e, "not-after") != NULL && nas == NULL) ||
		    (json_object_get(e, "description") != NULL && desc == NULL) ||
		    (json_object_get(e, "state") != NULL && state == NULL)) {
			errf(err, errlen, "%s: not-after, description and state are strings", where);
			return -1;
		}
		if (life_parse_when(nbs, start, &nb) == -1) {
			errf(err, errlen, "%s/not-before: \"%.64s\" is not a time (YYYY-MM-DDTHH:MM:SSZ "
			    "or +DURATION from the start)", where, nbs);
			return -1;
		}
		na = 0;
		if (nas != NULL && life_parse_when(nas, start, &na) == -1) {
			errf(err, errlen, "%s/not-after: \"%.64s\" is not a time (YYYY-MM-DDTHH:MM:SSZ "
			    "or +DURATION from the start)", where, nas);
			return -1;
		}
		if (state != NULL && strcmp(state, "active") != 0 &&
		    strcmp(state, "completed") != 0 && strcmp(state, "canceled") != 0) {
			errf(err, errlen, "%s/state: expected \"active\", \"completed\" or \"canceled\"",
			    where);
			return -1;
		}
		/* an event that already ended (history) may lie in the past */
		if (life_event_add(l, code, desc, nb, na, state != NULL && strcmp(state, "active") != 0 ?
		    0 : start, NULL, 0, msg, sizeof(msg)) == -1) {
			errf(err, errlen, "%s: %s", where, msg);
			return -1;
		}
		if (state != NULL && strcmp(state, "active") != 0)
			life_event_end(l, l->l_nsched - 1, state[1] == 'a' ? LIFE_EV_CANCELED :
			    LIFE_EV_COMPLETED);
	}
	return 0;
}

int
life_scenario(struct lifecycle *l, const void *scenario, time_t start, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "spot", "spot-interruption", "rebalance", "events",
	    "asg-state", "tags", NULL };
	json_t *sc = (json_t *)scenario, *v, *tv;
	const char *k, *s;
	size_t room = 0;
	long after;

	if (sc == NULL)
		return 0;
	if (j_object_known(sc, "scenario", keys, err, errlen) == -1)
		return -1;
	if ((v = json_object_get(sc, "spot")) != NULL) {
		if (!json_is_boolean(v)) {
			errf(err, errlen, "scenario/spot: expected true or false");
			return -1;
		}
		l->l_spot_instance = json_is_true(v);
	}
	if ((v = json_object_get(sc, "spot-interruption")) != NULL &&
	    scenario_spot(l, v, start, err, errlen) == -1)
		return -1;
	if ((v = json_object_get(sc, "rebalance")) != NULL) {
		if (j_duration(v, &after) == -1) {
			errf(err, errlen, "scenario/rebalance: expected the seconds after the start "
			    "(a number) or a duration (\"90s\", \"2m\")");
			return -1;
		}
		l->l_rebalance_set = 1;
		l->l_rebalance_at = start + after;
	}
	if ((v = json_object_get(sc, "events")) != NULL &&
	    scenario_events(l, v, start, err, errlen) == -1)
		return -1;
	if ((v = json_object_get(sc, "asg-state")) != NULL) {
		if (!json_is_string(v) || (s = json_string_value(v)) == NULL ||
		    !life_asg_state_ok(s)) {
			errf(err, errlen, "scenario/asg-state: expected one of InService, Standby, "
			    "Detached, Terminated, Warmed:Pending, Warmed:Running, Warmed:Stopped, "
			    "Warmed:Hibernated, Warmed:Terminated");
			return -1;
		}
		snprintf(l->l_asg_state, sizeof(l->l_asg_state), "%s", s);
	}
	if ((v = json_object_get(sc, "tags")) != NULL) {
		char msg[ERRBUF_LEN];
		if (!json_is_object(v)) {
			errf(err, errlen, "scenario/tags: expected an object of strings");
			return -1;
		}
		json_object_foreach(v, k, tv) {
			if (!json_is_string(tv) ||
			    strlen(json_string_value(tv)) != json_string_length(tv)) {
				errf(err, errlen, "scenario/tags/%.64s: expected a string", k);
				return -1;
			}
			if (life_tag_check(l, k, strlen(k), json_string_value(tv), &room, msg,
			    sizeof(msg)) == -1) {
				errf(err, errlen, "scenario/tags: %s", msg);
				return -1;
			}
			life_tag_put(l, k, json_string_value(tv), json_string_length(tv));
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

size_t
life_fmt_event_time(time_t t, char *buf, size_t cap)
{
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	/* §8.3: the day without a leading zero, English month, GMT */
	n = snprintf(buf, cap, "%d %s %04d %02d:%02d:%02d GMT", tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static const char *
state_word(enum life_event_state st)
{
	switch (st) {
	case LIFE_EV_ACTIVE:
		return "active";
	case LIFE_EV_COMPLETED:
		return "completed";
	case LIFE_EV_CANCELED:
		return "canceled";
	}
	return "active";
}

/* §8.3: "[]", or "[ {\n  ...\n}, {\n  ...\n} ]" (Jackson's layout, U23). */
static void
events_json(struct jbuf *j, const struct life_event *evs, size_t n)
{
	char t[64], desc[LIFE_EVENT_DESC_MAX + 16];
	size_t i;

	if (n == 0) {
		json_raw(j, "[]");
		return;
	}
	json_raw(j, "[ ");
	for (i = 0; i < n; i++) {
		const struct life_event *e = &evs[i];
		if (i > 0)
			json_raw(j, ", ");
		json_begin(j);
		life_fmt_event_time(e->le_not_before, t, sizeof(t));
		json_str(j, "NotBefore", t);
		json_str(j, "Code", e->le_code);
		snprintf(desc, sizeof(desc), "%s%s", e->le_state == LIFE_EV_COMPLETED ?
		    "[Completed] " : e->le_state == LIFE_EV_CANCELED ? "[Canceled] " : "",
		    e->le_desc);
		json_str(j, "Description", desc);
		json_str(j, "EventId", e->le_id);
		if (e->le_not_after != 0) {
			life_fmt_event_time(e->le_not_after, t, sizeof(t));
			json_str(j, "NotAfter", t);
		}
		json_str(j, "State", state_word(e->le_state));
		json_end(j);
	}
	json_raw(j, " ]");
}

static int
emit_events(const struct life_event *evs, size_t n, const char *path,
    int (*set)(void *, const char *, const char *, size_t), void *arg)
{
	struct jbuf j;
	char *doc;
	size_t len;
	int rc;

	jbuf_init(&j);
	events_json(&j, evs, n);
	if ((doc = jbuf_take(&j, &len)) == NULL)
		return -1;
	rc = set(arg, path, doc, len);
	free(doc);
	return rc;
}

int
life_emit(const struct lifecycle *l, time_t now,
    int (*set)(void *arg, const char *path, const char *val, size_t len), void *arg)
{
	char buf[128], iso[ISO_DATE_LEN + 1];
	int n;

	if (l->l_spot_instance && set(arg, "meta-data/instance-life-cycle", "spot", 4) == -1)
		return -1;
	if (l->l_spot_set && now >= l->l_spot_notice_at) {
		/* §8.4: one line, ": " spacing, as AWS documents it */
		fmt_iso8601(l->l_spot_time, iso);
		n = snprintf(buf, sizeof(buf), "{\"action\": \"%s\", \"time\": \"%s\"}",
		    l->l_spot_action, iso);
		if (set(arg, "meta-data/spot/instance-action", buf, (size_t)n) == -1 ||
		    set(arg, "meta-data/spot/termination-time", iso, ISO_DATE_LEN) == -1)
			return -1;
	}
	if (l->l_rebalance_set && now >= l->l_rebalance_at) {
		fmt_iso8601(l->l_rebalance_at, iso);
		n = snprintf(buf, sizeof(buf), "{\"noticeTime\": \"%s\"}", iso);
		if (set(arg, "meta-data/events/recommendations/rebalance", buf, (size_t)n) == -1)
			return -1;
	}
	if (emit_events(l->l_sched, l->l_nsched, "meta-data/events/maintenance/scheduled", set,
	    arg) == -1 || emit_events(l->l_hist, l->l_nhist,
	    "meta-data/events/maintenance/history", set, arg) == -1)
		return -1;
	if (l->l_asg_state[0] != '\0' && set(arg, "meta-data/autoscaling/target-lifecycle-state",
	    l->l_asg_state, strlen(l->l_asg_state)) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* State, for `ctl state`                                              */
/* ------------------------------------------------------------------ */

static json_t *
jtime(time_t t)
{
	char iso[ISO_DATE_LEN + 1];

	fmt_iso8601(t, iso);
	return json_string(iso);
}

static json_t *
jevents(const struct life_event *evs, size_t n)
{
	json_t *arr = json_array(), *o;
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		o = json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", evs[i].le_id,
		    "code", evs[i].le_code, "description", evs[i].le_desc,
		    "not-before", jtime(evs[i].le_not_before), "state", state_word(evs[i].le_state));
		if (o != NULL && evs[i].le_not_after != 0)
			json_object_set_new(o, "not-after", jtime(evs[i].le_not_after));
		json_array_append_new(arr, o);
	}
	return arr;
}

char *
life_state_json(const struct lifecycle *l, time_t now)
{
	json_t *root, *o, *tags, *ov;
	char *out;
	size_t i;

	root = json_object();
	if (root == NULL)
		return NULL;
	json_object_set_new(root, "now", jtime(now));
	json_object_set_new(root, "instance-life-cycle",
	    json_string(l->l_spot_instance ? "spot" : "on-demand"));
	if (l->l_spot_set) {
		o = json_pack("{s:s, s:o, s:o, s:b}", "action", l->l_spot_action,
		    "time", jtime(l->l_spot_time), "notice-from", jtime(l->l_spot_notice_at),
		    "served", now >= l->l_spot_notice_at);
		json_object_set_new(root, "spot-interruption", o);
	} else
		json_object_set_new(root, "spot-interruption", json_null());
	if (l->l_rebalance_set)
		json_object_set_new(root, "rebalance", json_pack("{s:o, s:b}", "noticeTime",
		    jtime(l->l_rebalance_at), "served", now >= l->l_rebalance_at));
	else
		json_object_set_new(root, "rebalance", json_null());
	json_object_set_new(root, "scheduled", jevents(l->l_sched, l->l_nsched));
	json_object_set_new(root, "history", jevents(l->l_hist, l->l_nhist));
	json_object_set_new(root, "asg-state", l->l_asg_state[0] != '\0' ?
	    json_string(l->l_asg_state) : json_null());
	tags = json_object();
	for (i = 0; tags != NULL && i < l->l_ntags; i++)
		json_object_set_new(tags, l->l_tags[i].tg_key, l->l_tags[i].tg_removed ?
		    json_null() : json_string(l->l_tags[i].tg_value));
	json_object_set_new(root, "tag-edits", tags);
	ov = json_object();
	for (i = 0; ov != NULL && i < l->l_nov; i++)
		json_object_set_new(ov, l->l_ov[i].lo_path, l->l_ov[i].lo_value != NULL ?
		    json_stringn(l->l_ov[i].lo_value, l->l_ov[i].lo_len) : json_null());
	json_object_set_new(root, "overrides", ov);
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}
