/*
 * Unit tests of registry.c: roles refreshed independently, renderings
 * swapped whole and kept alive by whoever holds a reference, removal (also
 * while a fetch is under way, and from the owner's own callback), renaming.
 * Providers answer when the test says so; the renderer is the test's own
 * (the registry knows no wire format), counting what it makes and frees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "creds/creds.h"

#define T0		1748854541	/* 2025-06-02T08:55:41Z */
#define LIFETIME	3600		/* s: what the fake providers hand out */

/* The test's rendering of a role: its name and access key at render time. */
struct role_view {
	char		 v_text[ROLE_NAME_MAX + CRED_AKID_MAX + 2];
	unsigned	 v_refs;
};

static time_t now;
static int renders, frees, changes;
static struct role *last_changed;
static struct role_registry rg;
static int remove_in_callback;	/* the owner removes the role it is told about */
static int freed[3];		/* providers freed, by the test's counter */

static time_t
test_clock(void)
{
	return now;
}

/* The IMDS slot's rendering of r (the second renderer's is "2:" and the same). */
#define VIEW(r)		((struct role_view *)(r)->ro_views[RENDER_IMDS])
#define VIEW2(r)	((struct role_view *)(r)->ro_views[RENDER_CONTAINER])

static void *
render(void *arg, const struct role *r, time_t t)
{
	struct role_view *v = calloc(1, sizeof(*v));

	assert_ptr_equal(arg, &rg);
	assert_int_equal(t, now);
	assert_non_null(v);
	snprintf(v->v_text, sizeof(v->v_text), "%s:%s", r->ro_name,
	    r->ro_cache.cc_have ? r->ro_cache.cc_cur.ck_akid : "-");
	v->v_refs = 1;
	renders++;
	return v;
}

static void
view_ref(struct role_view *v)
{
	v->v_refs++;
}

static void
view_unref(void *p)
{
	struct role_view *v = p;

	if (--v->v_refs > 0)
		return;
	memset(v, 0xa5, sizeof(*v));
	free(v);
	frees++;
}

/* The second renderer: "2:" before what render writes; it fails while fail2 is set. */
static int fail2;

static void *
render2(void *arg, const struct role *r, time_t t)
{
	struct role_view *v;
	size_t n;

	if (fail2)
		return NULL;
	v = render(arg, r, t);
	n = strlen(v->v_text);
	assert_true(n + 3 <= sizeof(v->v_text));
	memmove(v->v_text + 2, v->v_text, n + 1);
	memcpy(v->v_text, "2:", 2);
	return v;
}

static void
changed(void *arg, struct role *r)
{
	assert_null(arg);
	changes++;
	last_changed = r;
	if (remove_in_callback)
		registry_remove(&rg, r);
}

/* A provider that answers when deliver() says so. */
struct fake {
	struct cred_provider f_p;
	cred_done_fn	 f_done;	/* a fetch under way */
	void		*f_arg;
	int		 f_fetches;
	int		*f_freed;	/* counts its free: one of freed[] */
};

static void
fake_fetch(struct cred_provider *cp, time_t t, cred_done_fn done, void *arg)
{
	struct fake *f = cp->cp_ctx;

	(void)t;
	assert_null(f->f_done);
	f->f_done = done;
	f->f_arg = arg;
	f->f_fetches++;
}

static void
fake_free(struct cred_provider *cp)
{
	struct fake *f = cp->cp_ctx;

	(*f->f_freed)++;
	free(f);
}

static struct fake *
fake_new(int *count)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->f_p.cp_name = "fake";
	f->f_p.cp_desc = "the test";
	f->f_p.cp_fetch = fake_fetch;
	f->f_p.cp_free = fake_free;
	f->f_p.cp_ctx = f;
	f->f_freed = count;
	return f;
}

/* The fetch under way ends with akid (NULL: a failure). */
static void
deliver(struct fake *f, const char *akid)
{
	cred_done_fn done = f->f_done;
	struct cred c;

	assert_non_null(done);
	f->f_done = NULL;
	memset(&c, 0, sizeof(c));
	if (akid == NULL) {
		done(f->f_arg, 0, NULL, "refused");
		return;
	}
	snprintf(c.cr_akid, sizeof(c.cr_akid), "%s", akid);
	snprintf(c.cr_secret, sizeof(c.cr_secret), "secret");
	snprintf(c.cr_token, sizeof(c.cr_token), "token");
	c.cr_expiration = now + LIFETIME;
	done(f->f_arg, 1, &c, NULL);
}

static int
setup(void **state)
{
	const struct role_renderer rr = { render, view_unref, &rg, 0 };

	(void)state;
	now = T0;
	renders = frees = changes = 0;
	memset(freed, 0, sizeof(freed));
	last_changed = NULL;
	remove_in_callback = 0;
	registry_init(&rg, changed, NULL);
	registry_renderer(&rg, RENDER_IMDS, &rr);
	rg.rg_clock = test_clock;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	registry_free(&rg);
	return 0;
}

static struct role *
add(const char *key, const char *name, struct fake *f)
{
	char err[ERRBUF_LEN];
	struct role *r = registry_add(&rg, key, name, "", &f->f_p, err, sizeof(err));

	if (r == NULL)
		print_error("registry_add: %s\n", err);
	assert_non_null(r);
	return r;
}

/* Each role fetches and renders on its own; the other is left alone. */
static void
two_roles_independent(void **state)
{
	struct fake *fa = fake_new(&freed[0]), *fb = fake_new(&freed[0]);
	struct role *a = add("pod-a", "app-a", fa), *b = add("pod-b", "app-b", fb);
	struct role_view *va;

	(void)state;
	assert_ptr_equal(registry_find(&rg, "pod-a"), a);
	assert_ptr_equal(registry_find(&rg, "pod-b"), b);
	assert_null(registry_find(&rg, "pod-c"));
	assert_null(VIEW(a));		/* nothing rendered before a delivery */

	registry_refresh(a, now);
	assert_int_equal(fa->f_fetches, 1);
	assert_int_equal(fb->f_fetches, 0);
	deliver(fa, "AKIDA1");
	assert_int_equal(renders, 1);
	assert_int_equal(changes, 1);
	assert_ptr_equal(last_changed, a);
	assert_string_equal(VIEW(a)->v_text, "app-a:AKIDA1");
	assert_null(VIEW(b));

	registry_refresh(b, now);
	deliver(fb, "AKIDB1");
	assert_int_equal(renders, 2);
	assert_ptr_equal(last_changed, b);
	assert_string_equal(VIEW(b)->v_text, "app-b:AKIDB1");

	/* b again: a's rendering is the very same object */
	va = VIEW(a);
	now += 120;
	registry_refresh(b, now);
	deliver(fb, "AKIDB2");
	assert_ptr_equal(VIEW(a), va);
	assert_string_equal(VIEW(a)->v_text, "app-a:AKIDA1");
	assert_string_equal(VIEW(b)->v_text, "app-b:AKIDB2");
	assert_int_equal(renders, 3);
	assert_int_equal(frees, 1);	/* b's first rendering */

	/* a failed fetch changes nothing that is served: no render */
	registry_refresh(a, now);
	deliver(fa, NULL);
	assert_int_equal(renders, 3);
	assert_ptr_equal(VIEW(a), va);

	/* each cache keeps its own time: a expires, b (fetched later) not yet */
	now = T0 + LIFETIME;
	registry_tick(&rg, now);
	assert_string_equal(VIEW(a)->v_text, "app-a:-");
	assert_string_equal(VIEW(b)->v_text, "app-b:AKIDB2");
	assert_ptr_equal(last_changed, a);
	assert_int_equal(freed[0], 0);
}

/* A request holding a rendering keeps its bytes while a refresh swaps it out. */
static void
view_kept_alive_across_swap(void **state)
{
	struct fake *f = fake_new(&freed[0]);
	struct role *r = add("instance", "dev-instance-role", f);
	struct role_view *held;

	(void)state;
	registry_refresh(r, now);
	deliver(f, "AKIDOLD");
	held = VIEW(r);
	view_ref(held);		/* a request points into it */

	now += 60;
	registry_refresh(r, now);
	deliver(f, "AKIDNEW");
	assert_ptr_not_equal(VIEW(r), held);
	assert_string_equal(VIEW(r)->v_text, "dev-instance-role:AKIDNEW");
	assert_int_equal(frees, 0);
	assert_int_equal(held->v_refs, 1);
	assert_string_equal(held->v_text, "dev-instance-role:AKIDOLD");
	view_unref(held);	/* written: now it goes */
	assert_int_equal(frees, 1);

	/* the same through registry_render (the owner's re-render) */
	held = VIEW(r);
	view_ref(held);
	assert_int_equal(registry_render(r, now), 0);
	assert_int_equal(frees, 1);
	assert_string_equal(held->v_text, "dev-instance-role:AKIDNEW");
	view_unref(held);
	assert_int_equal(frees, 2);
}

/* Removal: idle at once; under a fetch, once it ends; from the callback. */
static void
removal(void **state)
{
	struct fake *fa = fake_new(&freed[0]), *fb = fake_new(&freed[1]), *fc = fake_new(&freed[2]);
	struct role *a = add("a", "ra", fa), *b = add("b", "rb", fb), *c = add("c", "rc", fc);
	struct role_view *held;

	(void)state;
	registry_refresh(a, now);
	deliver(fa, "AKIDA");
	held = VIEW(a);
	view_ref(held);
	/* idle: gone at once, its rendering with the registry's reference only */
	registry_remove(&rg, a);
	assert_null(registry_find(&rg, "a"));
	assert_int_equal(freed[0], 1);
	assert_int_equal(frees, 0);
	assert_string_equal(held->v_text, "ra:AKIDA");
	view_unref(held);
	assert_int_equal(frees, 1);
	assert_ptr_equal(registry_find(&rg, "b"), b);
	assert_ptr_equal(registry_find(&rg, "c"), c);

	/* under a fetch: not found any more, freed by the tick after it ends */
	registry_refresh(b, now);
	deliver(fb, "AKIDB");
	registry_refresh(b, now);
	registry_remove(&rg, b);
	assert_null(registry_find(&rg, "b"));
	assert_int_equal(frees, 2);	/* its rendering, dropped at once */
	registry_tick(&rg, now);
	assert_int_equal(freed[1], 0);	/* the fetch is still under way */
	deliver(fb, "AKIDB2");		/* ends: neither rendered nor reported */
	assert_int_equal(renders, 2);
	assert_int_equal(changes, 2);
	assert_int_equal(freed[1], 0);
	registry_tick(&rg, now);
	assert_int_equal(freed[1], 1);

	/* the owner removes the role its callback is about */
	remove_in_callback = 1;
	registry_refresh(c, now);
	deliver(fc, "AKIDC");
	assert_null(registry_find(&rg, "c"));
	assert_int_equal(freed[2], 0);	/* the cache was still running */
	registry_tick(&rg, now);
	assert_int_equal(freed[2], 1);
	assert_int_equal(rg.rg_n, 0);

	/* a key is free again once its role is gone */
	fa = fake_new(&freed[0]);
	a = add("a", "ra", fa);
	assert_ptr_equal(registry_find(&rg, "a"), a);
}

/* Two renderers: each role has both renderings, rendered together, swapped and dropped apart. */
static void
two_renderings(void **state)
{
	const struct role_renderer rr2 = { render2, view_unref, &rg, 0 };
	struct fake *fa = fake_new(&freed[0]);
	struct role *a;
	struct role_view *held2;

	(void)state;
	registry_renderer(&rg, RENDER_CONTAINER, &rr2);
	a = add("a", "ra", fa);
	registry_refresh(a, now);
	deliver(fa, "AKIDA");
	assert_int_equal(renders, 2);
	assert_int_equal(changes, 1);	/* the owner is told once, after both */
	assert_string_equal(VIEW(a)->v_text, "ra:AKIDA");
	assert_string_equal(VIEW2(a)->v_text, "2:ra:AKIDA");

	/* a request holds the second; new credentials replace both */
	held2 = VIEW2(a);
	view_ref(held2);
	registry_refresh(a, now);
	deliver(fa, "AKIDA2");
	assert_string_equal(VIEW(a)->v_text, "ra:AKIDA2");
	assert_string_equal(VIEW2(a)->v_text, "2:ra:AKIDA2");
	assert_int_equal(frees, 1);	/* the old first; the old second is held */
	assert_string_equal(held2->v_text, "2:ra:AKIDA");
	view_unref(held2);
	assert_int_equal(frees, 2);

	/* one renderer failing: its old rendering stays, the other is new */
	fail2 = 1;
	held2 = VIEW2(a);
	assert_int_equal(registry_render(a, now), -1);
	assert_ptr_equal(VIEW2(a), held2);
	assert_int_equal(frees, 3);
	fail2 = 0;

	/* removal drops both */
	registry_remove(&rg, a);
	assert_int_equal(frees, 5);
}

/*
 * A lazy renderer: nothing rendered until a role is first asked of it, then
 * kept current like the others; a role never asked costs no rendering.
 */
static void
lazy_rendering(void **state)
{
	const struct role_renderer rr2 = { render2, view_unref, &rg, 1 };
	struct fake *fa = fake_new(&freed[0]), *fb = fake_new(&freed[0]);
	struct role *a, *b;
	struct role_view *v;

	(void)state;
	registry_renderer(&rg, RENDER_CONTAINER, &rr2);
	a = add("a", "ra", fa);
	b = add("b", "rb", fb);
	registry_refresh(a, now);
	deliver(fa, "AKIDA");
	registry_refresh(b, now);
	deliver(fb, "AKIDB");
	assert_int_equal(renders, 2);		/* IMDS only */
	assert_null(VIEW2(a));
	assert_null(VIEW2(b));

	/* the first ask renders, a second one finds it */
	v = registry_view(a, RENDER_CONTAINER);
	assert_non_null(v);
	assert_string_equal(v->v_text, "2:ra:AKIDA");
	assert_int_equal(renders, 3);
	assert_ptr_equal(registry_view(a, RENDER_CONTAINER), v);
	assert_int_equal(renders, 3);

	/* new credentials: a's lazy view follows, b still has none */
	registry_refresh(a, now);
	deliver(fa, "AKIDA2");
	assert_string_equal(VIEW2(a)->v_text, "2:ra:AKIDA2");
	registry_refresh(b, now);
	deliver(fb, "AKIDB2");
	assert_null(VIEW2(b));
	assert_int_equal(renders, 6);		/* a twice, b once */
	registry_render_all(&rg, now);
	assert_null(VIEW2(b));

	/* removed under a fetch (retired, not freed yet): never rendered on ask */
	registry_refresh(b, now);
	registry_remove(&rg, b);
	assert_null(registry_view(b, RENDER_CONTAINER));
	assert_int_equal(renders, 9);		/* the render_all: a's two, b's one */
	deliver(fb, "AKIDB3");
	registry_tick(&rg, now);
	assert_int_equal(renders, 9);
	registry_remove(&rg, a);
}

/* A rename shows at the next rendering; render_all renders every role. */
static void
rename_and_render_all(void **state)
{
	struct fake *fa = fake_new(&freed[0]), *fb = fake_new(&freed[0]);
	struct role *a = add("a", "old-name", fa), *b = add("b", "rb", fb);
	char longname[ROLE_NAME_MAX + 2];

	(void)state;
	registry_refresh(a, now);
	deliver(fa, "AKIDA");
	registry_refresh(b, now);
	deliver(fb, "AKIDB");
	assert_int_equal(registry_rename(a, "new-name", "210987654321"), 0);
	assert_string_equal(a->ro_name, "new-name");
	assert_string_equal(a->ro_account, "210987654321");
	assert_string_equal(VIEW(a)->v_text, "old-name:AKIDA");
	registry_render_all(&rg, now);
	assert_int_equal(renders, 4);
	assert_string_equal(VIEW(a)->v_text, "new-name:AKIDA");
	assert_string_equal(VIEW(b)->v_text, "rb:AKIDB");
	assert_int_equal(frees, 2);

	/* refused: the old name stays */
	assert_int_equal(registry_rename(a, "n", "12345678901x"), -1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(registry_rename(a, longname, ""), -1);
	assert_string_equal(a->ro_name, "new-name");
	assert_string_equal(a->ro_account, "210987654321");
}

/* What registry_add refuses; the provider is freed then too. */
static void
add_refused(void **state)
{
	char err[ERRBUF_LEN], key[ROLE_KEY_MAX + 2];

	(void)state;
	add("a", "ra", fake_new(&freed[0]));
	assert_null(registry_add(&rg, "a", "rb", "", &fake_new(&freed[0])->f_p, err, sizeof(err)));
	assert_string_equal(err, "role key a: already in use");
	assert_int_equal(freed[0], 1);
	assert_null(registry_add(&rg, "", "rb", "", &fake_new(&freed[0])->f_p, err, sizeof(err)));
	assert_int_equal(freed[0], 2);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_null(registry_add(&rg, key, "rb", "", &fake_new(&freed[0])->f_p, err, sizeof(err)));
	assert_int_equal(freed[0], 3);
	assert_null(registry_add(&rg, "b", "rb", "not-digits", &fake_new(&freed[0])->f_p, err,
	    sizeof(err)));
	assert_int_equal(freed[0], 4);
	assert_int_equal(rg.rg_n, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(two_roles_independent, setup, teardown),
		cmocka_unit_test_setup_teardown(view_kept_alive_across_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(removal, setup, teardown),
		cmocka_unit_test_setup_teardown(rename_and_render_all, setup, teardown),
		cmocka_unit_test_setup_teardown(add_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(two_renderings, setup, teardown),
		cmocka_unit_test_setup_teardown(lazy_rendering, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
