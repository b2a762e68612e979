/*
 * rules.c: the config file's pod rules: Pod Identity associations
 * (namespace + service account -> role ARN, which EKS keeps in AWS, not in
 * the manifests) and the role-map (a role ARN replaced by another for
 * local use).  config.c reads and checks the file and adds the entries
 * here; a pod's role is looked up at pod events, not per request, so a
 * linear search over at most POD_ASSOC_MAX entries is enough.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "pods/pods.h"

struct pod_rules *
pods_rules_new(void)
{
	return calloc(1, sizeof(struct pod_rules));
}

void
pods_rules_free(struct pod_rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->pr_nassoc; i++)
		free(r->pr_assoc[i].pa_namespace);	/* the entry's one allocation */
	for (i = 0; i < r->pr_nmap; i++)
		free(r->pr_map[i].pm_from);
	free(r);
}

struct pod_rules *
pods_rules_dup(const struct pod_rules *r)
{
	struct pod_rules *d = pods_rules_new();
	const struct pod_assoc *a;
	const struct pod_map *m;
	size_t i, dup;

	if (d == NULL)
		return NULL;
	for (i = 0; i < r->pr_nassoc; i++) {
		a = &r->pr_assoc[i];
		if (pods_rules_assoc_add(d, a->pa_namespace, strlen(a->pa_namespace), a->pa_sa,
		    strlen(a->pa_sa), a->pa_arn, strlen(a->pa_arn), &dup) != 0)
			goto fail;
		d->pr_assoc[d->pr_nassoc - 1].pa_no_tags = a->pa_no_tags;
	}
	for (i = 0; i < r->pr_nmap; i++) {
		m = &r->pr_map[i];
		if (pods_rules_map_add(d, m->pm_from, strlen(m->pm_from), m->pm_to,
		    strlen(m->pm_to)) != 0)
			goto fail;
	}
	return d;
fail:
	pods_rules_free(d);
	return NULL;
}

/* DNS-1123 label: 1..max of [a-z0-9-], a letter or digit at each end. */
static int
dns_label_ok(const char *s, size_t len, size_t max)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t i = 0;

	if (s == NULL || len == 0 || len > max || s[0] == '-' || s[len - 1] == '-')
		return 0;
	while (i < len && s[i] != '\0' && strchr(ok, s[i]) != NULL)
		i++;
	return i == len;
}

int
pods_namespace_ok(const char *s, size_t len)
{
	return dns_label_ok(s, len, POD_NAMESPACE_MAX);
}

int
pods_sa_name_ok(const char *s, size_t len)
{
	const char *dot;
	size_t seg;

	if (s == NULL || len == 0 || len > POD_SA_MAX)
		return 0;
	/* dot-separated labels */
	while (len > 0) {
		dot = memchr(s, '.', len);
		seg = dot != NULL ? (size_t)(dot - s) : len;
		if (!dns_label_ok(s, seg, POD_SA_MAX) || (dot != NULL && seg + 1 == len))
			return 0;
		s += seg + (dot != NULL);
		len -= seg + (dot != NULL);
	}
	return 1;
}

/*
 * k strings (src[i], len[i] bytes) into one allocation, NUL-terminated one
 * after the other; *dst[i] points at each, *dst[0] at the allocation.  0 / -1.
 */
static int
pack(char **dst[], const char *const src[], const size_t len[], size_t k)
{
	size_t i, total = 0;
	char *p;

	for (i = 0; i < k; i++)
		total += len[i] + 1;
	if ((p = malloc(total)) == NULL)
		return -1;
	for (i = 0; i < k; i++) {
		memcpy(p, src[i], len[i]);
		p[len[i]] = '\0';
		*dst[i] = p;
		p += len[i] + 1;
	}
	return 0;
}

static int
same(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

int
pods_rules_assoc_add(struct pod_rules *r, const char *ns, size_t nslen, const char *sa,
    size_t salen, const char *arn, size_t arnlen, size_t *dup)
{
	struct pod_assoc *a;
	size_t i;

	for (i = 0; i < r->pr_nassoc; i++) {
		if (same(r->pr_assoc[i].pa_namespace, ns, nslen) &&
		    same(r->pr_assoc[i].pa_sa, sa, salen)) {
			*dup = i;
			return -3;
		}
	}
	if (r->pr_nassoc >= POD_ASSOC_MAX)
		return -2;
	a = &r->pr_assoc[r->pr_nassoc];
	if (pack((char **[]){ &a->pa_namespace, &a->pa_sa, &a->pa_arn },
	    (const char *[]){ ns, sa, arn }, (size_t []){ nslen, salen, arnlen }, 3) == -1)
		return -1;
	r->pr_nassoc++;
	return 0;
}

int
pods_rules_map_add(struct pod_rules *r, const char *from, size_t fromlen, const char *to,
    size_t tolen)
{
	struct pod_map *m;

	if (r->pr_nmap >= POD_ROLE_MAP_MAX)
		return -2;
	m = &r->pr_map[r->pr_nmap];
	if (pack((char **[]){ &m->pm_from, &m->pm_to }, (const char *[]){ from, to },
	    (size_t []){ fromlen, tolen }, 2) == -1)
		return -1;
	r->pr_nmap++;
	return 0;
}

const struct pod_assoc *
pods_rules_assoc_get(const struct pod_rules *r, const char *ns, size_t nslen, const char *sa,
    size_t salen)
{
	size_t i;

	if (r == NULL || ns == NULL || sa == NULL)
		return NULL;
	for (i = 0; i < r->pr_nassoc; i++)
		if (same(r->pr_assoc[i].pa_namespace, ns, nslen) &&
		    same(r->pr_assoc[i].pa_sa, sa, salen))
			return &r->pr_assoc[i];
	return NULL;
}

const char *
pods_rules_assoc_find(const struct pod_rules *r, const char *ns, size_t nslen,
    const char *sa, size_t salen)
{
	const struct pod_assoc *a = pods_rules_assoc_get(r, ns, nslen, sa, salen);

	return a != NULL ? a->pa_arn : NULL;
}

const char *
pods_rules_map_find(const struct pod_rules *r, const char *arn)
{
	const struct pod_map *m = r != NULL ? r->pr_map : NULL;
	const struct pod_map *end = r != NULL ? r->pr_map + r->pr_nmap : NULL;

	while (m != end && strcmp(m->pm_from, arn) != 0)
		m++;
	return m != end ? m->pm_to : NULL;
}
