/*
 * lifecycle.c: spot interruptions, rebalance recommendations, scheduled
 * maintenance events, the Auto Scaling target state, tag edits and path
 * overrides: what the control socket (control.c) and the config's
 * "scenario" change while the daemon runs.  Here: the state, its changes
 * (each checked before anything moves), the `ctl` verbs and time; the
 * scenario and what is served are lifecycle_json.c's.
 *
 * Everything here is pure: functions take the wall clock `now` and never
 * read a clock, so tests drive every transition with their own.
 * serve/daemon.c owns the one struct lifecycle, republishes the snapshot
 * after each change, and arms a loop timer for life_next_change().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define EVENT_ID_PREFIX		"instance-event-"
#define EVENT_ID_HEX		17	/* hex digits after the prefix, as AWS's */

static const char *const spot_actions[] = { "terminate", "stop", "hibernate" };
#define NSPOT_ACTIONS	(sizeof(spot_actions) / sizeof(spot_actions[0]))

/* Contract §8.3's codes, with the description used when none is given. */
static const struct {
	const char	*ec_code;
	const char	*ec_desc;
} event_codes[] = {
	{ "instance-reboot",		"scheduled reboot" },
	{ "system-reboot",		"scheduled reboot" },
	{ "system-maintenance",		"scheduled maintenance" },
	{ "instance-retirement",	"scheduled retirement" },
	{ "instance-stop",		"scheduled stop" },
};
#define NEVENT_CODES	(sizeof(event_codes) / sizeof(event_codes[0]))

/* Auto Scaling's target lifecycle states (contract §8.1). */
static const char *const asg_states[] = {
	"InService", "Standby", "Detached", "Terminated", "Warmed:Pending", "Warmed:Running",
	"Warmed:Stopped", "Warmed:Hibernated", "Warmed:Terminated",
};
#define NASG_STATES	(sizeof(asg_states) / sizeof(asg_states[0]))

/* mem_zero: the daemon's lifecycle (75 KiB of events, tags, overrides) is mostly never used */
void
life_init(struct lifecycle *l)
{
	mem_zero(l, sizeof(*l));
}

void
life_free(struct lifecycle *l)
{
	size_t i;

	for (i = 0; i < l->l_nov; i++)
		free(l->l_ov[i].lo_value);
	life_init(l);
}

/* ------------------------------------------------------------------ */
/* Parsing times and words                                             */
/* ------------------------------------------------------------------ */

int
life_parse_duration(const char *s, long *out)
{
	unsigned long v;

	if (parse_duration_bounded(s, strlen(s), DUR_S | DUR_M | DUR_H | DUR_D, DUR_IN_S, 0,
	    (unsigned long)LIFE_WHEN_MAX, &v) == -1)
		return -1;
	*out = (long)v;
	return 0;
}

int
life_parse_when(const char *s, time_t now, time_t *out)
{
	long d;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (s[0] == '+') {
		if (life_parse_duration(s + 1, &d) == -1)
			return -1;
		*out = now + d;
		return 0;
	}
	return parse_iso8601(s, strlen(s), out);
}

static int
word_in(const char *w, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(w, list[i]) == 0)
			return 1;
	return 0;
}

int
life_spot_action_ok(const char *s)
{
	return word_in(s, spot_actions, NSPOT_ACTIONS);
}

int
life_asg_state_ok(const char *s)
{
	return word_in(s, asg_states, NASG_STATES);
}

static const char *
event_default_desc(const char *code)
{
	size_t i;

	for (i = 0; i < NEVENT_CODES; i++)
		if (strcmp(code, event_codes[i].ec_code) == 0)
			return event_codes[i].ec_desc;
	return NULL;
}

/*
 * Flags of one verb: "--name value" pairs, each at most once, from a list;
 * words that are not flags are positional (up to maxpos).  0 / -1 with reply.
 */
struct flagset {
	const char	*fs_names[6];	/* allowed flags, without "--" */
	const char	*fs_vals[6];	/* values found, NULL when absent */
	const char	*fs_pos[LIFE_TAGS_MAX];
	size_t		 fs_npos;
};

static int
flags_parse(struct flagset *f, const char *const *argv, size_t argc, size_t maxpos,
    const char *verb, char *reply, size_t cap)
{
	size_t i, k;

	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			if (f->fs_npos >= maxpos ||
			    f->fs_npos >= sizeof(f->fs_pos) / sizeof(f->fs_pos[0])) {
				errf(reply, cap, "%s: unexpected argument '%.64s'", verb, argv[i]);
				return -1;
			}
			f->fs_pos[f->fs_npos++] = argv[i];
			continue;
		}
		for (k = 0; k < sizeof(f->fs_names) / sizeof(f->fs_names[0]) &&
		    f->fs_names[k] != NULL; k++)
			if (strcmp(argv[i] + 2, f->fs_names[k]) == 0)
				break;
		if (k == sizeof(f->fs_names) / sizeof(f->fs_names[0]) || f->fs_names[k] == NULL) {
			errf(reply, cap, "%s: unknown option '%.64s'", verb, argv[i]);
			return -1;
		}
		if (f->fs_vals[k] != NULL) {
			errf(reply, cap, "%s: option '%s' given twice", verb, argv[i]);
			return -1;
		}
		if (i + 1 >= argc) {
			errf(reply, cap, "%s: option '%s' needs a value", verb, argv[i]);
			return -1;
		}
		f->fs_vals[k] = argv[++i];
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The changes, each checked before anything moves                     */
/* ------------------------------------------------------------------ */

void
life_spot_set(struct lifecycle *l, const char *action, time_t notice_at, time_t when)
{
	l->l_spot_instance = 1;
	l->l_spot_set = 1;
	snprintf(l->l_spot_action, sizeof(l->l_spot_action), "%s", action);
	l->l_spot_notice_at = notice_at;
	l->l_spot_time = when;
}

/* Move scheduled event i to history in state st. */
void
life_event_end(struct lifecycle *l, size_t i, enum life_event_state st)
{
	struct life_event ev = l->l_sched[i];

	memmove(&l->l_sched[i], &l->l_sched[i + 1], (l->l_nsched - i - 1) * sizeof(ev));
	l->l_nsched--;
	ev.le_state = st;
	if (l->l_nhist == LIFE_EVENTS_MAX) {
		/* history is a record, not a queue of work: the oldest entry goes */
		memmove(&l->l_hist[0], &l->l_hist[1], (LIFE_EVENTS_MAX - 1) * sizeof(ev));
		l->l_nhist--;
	}
	l->l_hist[l->l_nhist++] = ev;
}

/* Add a scheduled event; its id into id.  0 / -1 with err. */
int
life_event_add(struct lifecycle *l, const char *code, const char *desc, time_t nb, time_t na,
    time_t now, char *id, size_t idlen, char *err, size_t errlen)
{
	struct life_event *ev;
	const char *dflt = event_default_desc(code);

	if (dflt == NULL) {
		errf(err, errlen, "unknown event code '%.64s' (known: instance-reboot, "
		    "system-reboot, system-maintenance, instance-retirement, instance-stop)", code);
		return -1;
	}
	if (desc != NULL && (desc[0] == '\0' || !text_ok(desc, LIFE_EVENT_DESC_MAX))) {
		errf(err, errlen, "a description is 1 to %d bytes without control characters",
		    LIFE_EVENT_DESC_MAX);
		return -1;
	}
	if (na != 0 && na <= nb) {
		errf(err, errlen, "not-after must be later than not-before");
		return -1;
	}
	if (na != 0 && na <= now) {
		errf(err, errlen, "not-after is in the past");
		return -1;
	}
	if (l->l_nsched == LIFE_EVENTS_MAX) {
		errf(err, errlen, "at most %d scheduled events", LIFE_EVENTS_MAX);
		return -1;
	}
	ev = &l->l_sched[l->l_nsched++];
	memset(ev, 0, sizeof(*ev));
	l->l_event_seq++;
	snprintf(ev->le_id, sizeof(ev->le_id), EVENT_ID_PREFIX "%0*lx", EVENT_ID_HEX,
	    l->l_event_seq);
	snprintf(ev->le_code, sizeof(ev->le_code), "%s", code);
	snprintf(ev->le_desc, sizeof(ev->le_desc), "%s", desc != NULL ? desc : dflt);
	ev->le_not_before = nb;
	ev->le_not_after = na;
	ev->le_state = LIFE_EV_ACTIVE;
	if (id != NULL)
		snprintf(id, idlen, "%s", ev->le_id);
	return 0;
}

static const struct life_tag *
tag_find(const struct lifecycle *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->l_ntags; i++)
		if (strcmp(l->l_tags[i].tg_key, key) == 0)
			return &l->l_tags[i];
	return NULL;
}

/* Record a tag edit (value NULL: removed); the checks are done. */
void
life_tag_put(struct lifecycle *l, const char *key, const char *value, size_t vlen)
{
	struct life_tag *t = (struct life_tag *)tag_find(l, key);

	if (t == NULL) {
		t = &l->l_tags[l->l_ntags++];
		snprintf(t->tg_key, sizeof(t->tg_key), "%s", key);
	}
	t->tg_removed = value == NULL;
	t->tg_value[0] = '\0';
	if (value != NULL) {
		memcpy(t->tg_value, value, vlen);
		t->tg_value[vlen] = '\0';
	}
}

/* Check one tag edit; room counts the new keys this batch adds.  0 / -1 with err. */
int
life_tag_check(const struct lifecycle *l, const char *key, size_t klen, const char *value,
    size_t *room, char *err, size_t errlen)
{
	char k[LIFE_TAG_KEY_MAX + 1];

	if (klen == 0 || klen > LIFE_TAG_KEY_MAX) {
		errf(err, errlen, "a tag key is 1 to %d bytes", LIFE_TAG_KEY_MAX);
		return -1;
	}
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (!config_tag_key_ok(k)) {
		errf(err, errlen, "invalid tag key \"%s\": tag keys may hold only letters, digits "
		    "and + - = . , _ : @ and may not be \".\", \"..\" or \"_index\"", k);
		return -1;
	}
	if (value != NULL && !text_ok(value, LIFE_TAG_VALUE_MAX)) {
		errf(err, errlen, "tag %s: a value is at most %d bytes, without control characters",
		    k, LIFE_TAG_VALUE_MAX);
		return -1;
	}
	if (tag_find(l, k) == NULL && ++*room + l->l_ntags > LIFE_TAGS_MAX) {
		errf(err, errlen, "at most %d tags may be edited", LIFE_TAGS_MAX);
		return -1;
	}
	return 0;
}

int
life_override_set(struct lifecycle *l, const char *path, const char *val, size_t len,
    char *err, size_t errlen)
{
	struct life_override *o = NULL;
	char *copy = NULL;
	size_t i;

	if (strlen(path) > MD_PATH_MAX) {
		errf(err, errlen, "a path is at most %d bytes", MD_PATH_MAX);
		return -1;
	}
	if (val != NULL && len > LIFE_VALUE_MAX) {
		errf(err, errlen, "a value is at most %d bytes", LIFE_VALUE_MAX);
		return -1;
	}
	for (i = 0; i < l->l_nov; i++)
		if (strcmp(l->l_ov[i].lo_path, path) == 0)
			o = &l->l_ov[i];
	if (o == NULL && l->l_nov == LIFE_OVERRIDES_MAX) {
		errf(err, errlen, "at most %d paths may be set or unset", LIFE_OVERRIDES_MAX);
		return -1;
	}
	if (val != NULL) {
		if ((copy = mem_strdup(val, len)) == NULL) {
			errf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (o == NULL) {
		o = &l->l_ov[l->l_nov++];
		snprintf(o->lo_path, sizeof(o->lo_path), "%s", path);
	} else
		free(o->lo_value);
	o->lo_value = copy;
	o->lo_len = copy != NULL ? len : 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* life_command: the verbs                                             */
/* ------------------------------------------------------------------ */

static int
cmd_spot_interrupt(struct lifecycle *l, const char *const *argv, size_t argc, time_t now,
    char *reply, size_t cap)
{
	struct flagset f = { { "action", "in", "at" }, { NULL }, { NULL }, 0 };
	const char *action;
	char iso[ISO_DATE_LEN + 1];
	time_t when;
	long d;

	if (flags_parse(&f, argv, argc, 0, "spot-interrupt", reply, cap) == -1)
		return -1;
	action = f.fs_vals[0] != NULL ? f.fs_vals[0] : "terminate";
	if (!word_in(action, spot_actions, NSPOT_ACTIONS)) {
		errf(reply, cap, "spot-interrupt: --action is terminate, stop or hibernate, "
		    "not '%.32s'", action);
		return -1;
	}
	if (f.fs_vals[1] != NULL && f.fs_vals[2] != NULL) {
		errf(reply, cap, "spot-interrupt: give --in or --at, not both");
		return -1;
	}
	if (f.fs_vals[2] != NULL) {
		if (life_parse_when(f.fs_vals[2], now, &when) == -1) {
			errf(reply, cap, "spot-interrupt: --at '%.64s' is not a time "
			    "(YYYY-MM-DDTHH:MM:SSZ or +DURATION)", f.fs_vals[2]);
			return -1;
		}
		if (when < now) {
			errf(reply, cap, "spot-interrupt: --at %.64s is in the past", f.fs_vals[2]);
			return -1;
		}
	} else {
		d = LIFE_SPOT_NOTICE_S;
		if (f.fs_vals[1] != NULL && life_parse_duration(f.fs_vals[1], &d) == -1) {
			errf(reply, cap, "spot-interrupt: --in '%.64s' is not a duration (120, 90s, "
			    "2m, 1h)", f.fs_vals[1]);
			return -1;
		}
		when = now + d;
	}
	/* AWS serves the notice at once, with the time of the action ahead */
	life_spot_set(l, action, now, when);
	fmt_iso8601(when, iso);
	errf(reply, cap, "spot %s at %s", action, iso);
	return 0;
}

static int
cmd_rebalance(struct lifecycle *l, const char *const *argv, size_t argc, time_t now,
    char *reply, size_t cap)
{
	struct flagset f = { { "in", "at" }, { NULL }, { NULL }, 0 };
	char iso[ISO_DATE_LEN + 1];
	time_t when = now;
	long d;

	if (flags_parse(&f, argv, argc, 0, "rebalance", reply, cap) == -1)
		return -1;
	if (f.fs_vals[0] != NULL && f.fs_vals[1] != NULL) {
		errf(reply, cap, "rebalance: give --in or --at, not both");
		return -1;
	}
	if (f.fs_vals[0] != NULL) {
		if (life_parse_duration(f.fs_vals[0], &d) == -1) {
			errf(reply, cap, "rebalance: --in '%.64s' is not a duration", f.fs_vals[0]);
			return -1;
		}
		when = now + d;
	} else if (f.fs_vals[1] != NULL && life_parse_when(f.fs_vals[1], now, &when) == -1) {
		errf(reply, cap, "rebalance: --at '%.64s' is not a time", f.fs_vals[1]);
		return -1;
	}
	l->l_rebalance_set = 1;
	l->l_rebalance_at = when;
	fmt_iso8601(when, iso);
	errf(reply, cap, "rebalance noticeTime %s", iso);
	return 0;
}

static int
cmd_event(struct lifecycle *l, const char *const *argv, size_t argc, time_t now, char *reply,
    size_t cap)
{
	struct flagset f = { { "code", "not-before", "not-after", "description" }, { NULL },
	    { NULL }, 0 };
	char id[LIFE_EVENT_ID_LEN + 1], err[ERRBUF_LEN];
	time_t nb, na = 0;
	size_t i;

	if (argc == 0) {
		errf(reply, cap, "event: expected add, cancel or complete");
		return -1;
	}
	if (strcmp(argv[0], "add") == 0) {
		if (flags_parse(&f, argv + 1, argc - 1, 0, "event add", reply, cap) == -1)
			return -1;
		if (f.fs_vals[0] == NULL || f.fs_vals[1] == NULL) {
			errf(reply, cap, "event add: --code and --not-before are required");
			return -1;
		}
		if (life_parse_when(f.fs_vals[1], now, &nb) == -1) {
			errf(reply, cap, "event add: --not-before '%.64s' is not a time "
			    "(YYYY-MM-DDTHH:MM:SSZ or +DURATION)", f.fs_vals[1]);
			return -1;
		}
		if (f.fs_vals[2] != NULL && life_parse_when(f.fs_vals[2], now, &na) == -1) {
			errf(reply, cap, "event add: --not-after '%.64s' is not a time "
			    "(YYYY-MM-DDTHH:MM:SSZ or +DURATION)", f.fs_vals[2]);
			return -1;
		}
		if (life_event_add(l, f.fs_vals[0], f.fs_vals[3], nb, na, now, id, sizeof(id), err,
		    sizeof(err)) == -1) {
			errf(reply, cap, "event add: %s", err);
			return -1;
		}
		errf(reply, cap, "%s", id);
		return 0;
	}
	if (strcmp(argv[0], "cancel") == 0 || strcmp(argv[0], "complete") == 0) {
		if (argc != 2) {
			errf(reply, cap, "event %s: expected one event id", argv[0]);
			return -1;
		}
		for (i = 0; i < l->l_nsched; i++)
			if (strcmp(l->l_sched[i].le_id, argv[1]) == 0)
				break;
		if (i == l->l_nsched) {
			errf(reply, cap, "event %s: no scheduled event '%.64s'", argv[0], argv[1]);
			return -1;
		}
		life_event_end(l, i, argv[0][1] == 'a' ? LIFE_EV_CANCELED : LIFE_EV_COMPLETED);
		errf(reply, cap, "%s %s", argv[1], argv[0][1] == 'a' ? "canceled" : "completed");
		return 0;
	}
	errf(reply, cap, "event: expected add, cancel or complete, not '%.32s'", argv[0]);
	return -1;
}

static int
cmd_tag(struct lifecycle *l, const char *const *argv, size_t argc, char *reply, size_t cap)
{
	char err[ERRBUF_LEN], key[LIFE_TAG_KEY_MAX + 1];
	const char *eq;
	size_t i, room = 0, klen;

	if (argc < 2 || (strcmp(argv[0], "set") != 0 && strcmp(argv[0], "rm") != 0)) {
		errf(reply, cap, "tag: expected set KEY=VALUE... or rm KEY...");
		return -1;
	}
	if (argc - 1 > LIFE_TAGS_MAX) {
		errf(reply, cap, "tag: at most %d tags at once", LIFE_TAGS_MAX);
		return -1;
	}
	/* all checked first: a batch is applied whole or not at all */
	for (i = 1; i < argc; i++) {
		eq = strchr(argv[i], '=');
		if (argv[0][0] == 's' && eq == NULL) {
			errf(reply, cap, "tag set: expected KEY=VALUE, got '%.64s'", argv[i]);
			return -1;
		}
		klen = argv[0][0] == 's' ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		if (life_tag_check(l, argv[i], klen, argv[0][0] == 's' ? eq + 1 : NULL, &room, err,
		    sizeof(err)) == -1) {
			errf(reply, cap, "tag %s: %s", argv[0], err);
			return -1;
		}
	}
	for (i = 1; i < argc; i++) {
		eq = strchr(argv[i], '=');
		klen = argv[0][0] == 's' ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		memcpy(key, argv[i], klen);
		key[klen] = '\0';
		if (argv[0][0] == 's')
			life_tag_put(l, key, eq + 1, strlen(eq + 1));
		else
			life_tag_put(l, key, NULL, 0);
	}
	errf(reply, cap, "%zu tag%s %s", argc - 1, argc == 2 ? "" : "s",
	    argv[0][0] == 's' ? "set" : "removed");
	return 0;
}

int
life_command(struct lifecycle *l, const char *const *argv, size_t argc, time_t now,
    char *reply, size_t cap)
{
	const char *verb;

	if (argc == 0)
		return 1;
	verb = argv[0];
	reply[0] = '\0';
	if (strcmp(verb, "spot-interrupt") == 0)
		return cmd_spot_interrupt(l, argv + 1, argc - 1, now, reply, cap);
	if (strcmp(verb, "spot-cancel") == 0) {
		if (argc != 1) {
			errf(reply, cap, "spot-cancel: takes no arguments");
			return -1;
		}
		if (!l->l_spot_set) {
			errf(reply, cap, "spot-cancel: no spot interruption notice is pending");
			return -1;
		}
		l->l_spot_set = 0;
		errf(reply, cap, "spot notice canceled");
		return 0;
	}
	if (strcmp(verb, "rebalance") == 0)
		return cmd_rebalance(l, argv + 1, argc - 1, now, reply, cap);
	if (strcmp(verb, "event") == 0)
		return cmd_event(l, argv + 1, argc - 1, now, reply, cap);
	if (strcmp(verb, "asg-state") == 0) {
		if (argc != 2 || (!word_in(argv[1], asg_states, NASG_STATES) &&
		    strcmp(argv[1], "none") != 0)) {
			errf(reply, cap, "asg-state: expected one of InService, Standby, Detached, "
			    "Terminated, Warmed:Pending, Warmed:Running, Warmed:Stopped, "
			    "Warmed:Hibernated, Warmed:Terminated, or none");
			return -1;
		}
		snprintf(l->l_asg_state, sizeof(l->l_asg_state), "%s",
		    strcmp(argv[1], "none") == 0 ? "" : argv[1]);
		errf(reply, cap, "asg-state %s", argv[1]);
		return 0;
	}
	if (strcmp(verb, "tag") == 0)
		return cmd_tag(l, argv + 1, argc - 1, reply, cap);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

size_t
life_advance(struct lifecycle *l, time_t now)
{
	size_t i = 0, moved = 0;

	while (i < l->l_nsched) {
		if (l->l_sched[i].le_not_after != 0 && l->l_sched[i].le_not_after <= now) {
			life_event_end(l, i, LIFE_EV_COMPLETED);
			moved++;
		} else
			i++;
	}
	return moved;
}

static void
earliest(time_t *best, time_t t, time_t now)
{
	if (t > now && (*best == 0 || t < *best))
		*best = t;
}

time_t
life_next_change(const struct lifecycle *l, time_t now)
{
	time_t best = 0;
	size_t i;

	if (l->l_spot_set)
		earliest(&best, l->l_spot_notice_at, now);
	if (l->l_rebalance_set)
		earliest(&best, l->l_rebalance_at, now);
	for (i = 0; i < l->l_nsched; i++)
		if (l->l_sched[i].le_not_after != 0)
			earliest(&best, l->l_sched[i].le_not_after, now);
	return best;
}
