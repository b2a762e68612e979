/*
 * fuzz_kube_event.c: libFuzzer target for the Kubernetes watch and list
 * parsers (kube/event.c).
 *
 * The input, from a heap copy of exactly its length (so ASan sees any read
 * past it), is fed to the line splitter in two pieces (split at its first
 * byte's value), every line parsed as a watch event of each kind; the
 * whole input is parsed as a list page of each kind and as a TokenReview.
 * Checked every time:
 *   - each result is one of the KUBE_PARSE_* codes; err is one line;
 *   - OK and REJECT leave every string field NUL-terminated within its
 *     array and free of control bytes; a pod has at most KUBE_POD_IPS_MAX
 *     addresses, at most one per family;
 *   - an ERROR event has a code in 0..999; a BOOKMARK or object event has a
 *     non-empty resourceVersion;
 *   - a list's items add up (rejected <= items).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "fuzz.h"

#define FUZZ_LINE_MAX	4096	/* the splitter's cap here: small, to reach it */

static int
fuzz_str_ok(const char *s, size_t cap)
{
	const char *z = memchr(s, '\0', cap);

	return z != NULL && !text_has_ctl(s, (size_t)(z - s));
}

static void
fuzz_check_object(const struct kube_object *o)
{
	struct kube_object copy = *o;
	const struct kube_meta *m = kube_object_meta(&copy);
	const struct kube_pod *p = &o->ob_pod;
	size_t i;

	FUZZ_CHECK(fuzz_str_ok(m->km_namespace, sizeof(m->km_namespace)));
	FUZZ_CHECK(fuzz_str_ok(m->km_name, sizeof(m->km_name)));
	FUZZ_CHECK(fuzz_str_ok(m->km_uid, sizeof(m->km_uid)));
	FUZZ_CHECK(fuzz_str_ok(m->km_rv, sizeof(m->km_rv)));
	if (o->ob_kind != KUBE_POD)
		return;
	FUZZ_CHECK(fuzz_str_ok(p->kp_role, sizeof(p->kp_role)));
	FUZZ_CHECK(fuzz_str_ok(p->kp_external_id, sizeof(p->kp_external_id)));
	FUZZ_CHECK(fuzz_str_ok(p->kp_phase, sizeof(p->kp_phase)));
	FUZZ_CHECK(p->kp_nips <= KUBE_POD_IPS_MAX);
	for (i = 0; i < p->kp_nips; i++)
		FUZZ_CHECK(fuzz_str_ok(p->kp_ips[i], sizeof(p->kp_ips[i])) && p->kp_ips[i][0] != '\0');
	if (p->kp_nips == 2)
		FUZZ_CHECK((strchr(p->kp_ips[0], ':') == NULL) != (strchr(p->kp_ips[1], ':') == NULL));
}

static int
fuzz_line(void *arg, const char *s, size_t n)
{
	static struct kube_event ev;
	char err[ERRBUF_LEN];
	int kind, rc;

	(void)arg;
	for (kind = KUBE_POD; kind <= KUBE_SERVICEACCOUNT; kind++) {
		err[0] = '\0';
		rc = kube_event_parse(s, n, (enum kube_kind)kind, &ev, err, sizeof(err));
		FUZZ_CHECK(rc == KUBE_PARSE_OK || rc == KUBE_PARSE_BAD || rc == KUBE_PARSE_REJECT);
		FUZZ_CHECK(strchr(err, '\n') == NULL);
		if (rc == KUBE_PARSE_BAD)
			continue;
		FUZZ_CHECK(fuzz_str_ok(ev.ev_rv, sizeof(ev.ev_rv)));
		if (ev.ev_type == KUBE_EV_ERROR) {
			FUZZ_CHECK(rc == KUBE_PARSE_OK && ev.ev_code >= 0 && ev.ev_code <= 999);
			continue;
		}
		FUZZ_CHECK(ev.ev_rv[0] != '\0');
		FUZZ_CHECK(ev.ev_obj.ob_kind == (enum kube_kind)kind);
		fuzz_check_object(&ev.ev_obj);
	}
	return 0;
}

static void
fuzz_item(void *arg, const struct kube_object *o, int rc, const char *err)
{
	(void)arg;
	FUZZ_CHECK(rc == KUBE_PARSE_OK ? err == NULL : err != NULL && strchr(err, '\n') == NULL);
	fuzz_check_object(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kube_list_page pg;
	struct kube_review r;
	struct kube_lines l;
	char err[ERRBUF_LEN], *buf;
	size_t cut;
	int kind;

	if ((buf = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(buf, data, size);
	cut = size > 0 ? data[0] % (size + 1) : 0;
	kube_lines_init(&l, FUZZ_LINE_MAX);
	if (kube_lines_feed(&l, buf, cut, fuzz_line, NULL, err, sizeof(err)) == 0)
		(void)kube_lines_feed(&l, buf + cut, size - cut, fuzz_line, NULL, err, sizeof(err));
	kube_lines_free(&l);
	for (kind = KUBE_POD; kind <= KUBE_SERVICEACCOUNT; kind++)
		if (kube_list_parse(buf, size, (enum kube_kind)kind, &pg, fuzz_item, NULL, err,
		    sizeof(err)) == KUBE_PARSE_OK)
			FUZZ_CHECK(pg.lp_rejected <= pg.lp_items &&
			    fuzz_str_ok(pg.lp_continue, sizeof(pg.lp_continue)));
	if (kube_review_parse(buf, size, "aud", &r, err, sizeof(err)) == 0)
		FUZZ_CHECK(fuzz_str_ok(r.kr_namespace, sizeof(r.kr_namespace)) &&
		    fuzz_str_ok(r.kr_sa, sizeof(r.kr_sa)) && fuzz_str_ok(r.kr_error,
		    sizeof(r.kr_error)) && (r.kr_is_sa || r.kr_namespace[0] == '\0'));
	free(buf);
	return 0;
}
