/*
 * choose.c: the role of one pod (issue 14, "Which role").  The first that
 * applies:
 *   1. the pod's iam.amazonaws.com/role: an ARN, or a name completed by
 *      --base-role-arn (pods_role_resolve);
 *   2. its ServiceAccount's eks.amazonaws.com/role-arn (IRSA): an ARN;
 *   3. a pod-identity-association of the config (namespace + service account);
 *   4. --default-role;
 *   5. none.
 * An empty annotation counts as absent (kiam's "empty role"), a value that
 * is present but not a valid role refuses the pod rather than falling
 * through to a weaker rule.  iam.amazonaws.com/external-id applies to any
 * role the pod gets (kube2iam reads it from the pod whatever the role's
 * source).  With --namespace-restrictions the namespace must allow the ARN
 * the manifests name, unless it is the default role's (kube2iam's
 * checkRoleForNamespace lets the default ARN through).  role-map is
 * applied last, to what was allowed: the restriction speaks of the
 * cluster's roles, the map is the operator's local substitute for one.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "pods/pods.h"

#define SA_DEFAULT		"default"	/* spec.serviceAccountName when unset */

static const char *const source_names[] = {
	[POD_SRC_NONE] = "none",
	[POD_SRC_ANNOTATION] = "annotation",
	[POD_SRC_SERVICE_ACCOUNT] = "service-account",
	[POD_SRC_ASSOCIATION] = "association",
	[POD_SRC_DEFAULT] = "default",
	[POD_SRC_REFUSED] = "refused",
};

const char *
pods_source_name(enum pod_source s)
{
	if ((size_t)s >= sizeof(source_names) / sizeof(source_names[0]))
		return "?";
	return source_names[s];
}

static int
present(const struct pod_text *t)
{
	return t->p != NULL && t->len > 0;
}

/* The text's bytes, "" when absent (for "%.*s"). */
static const char *
txt(const struct pod_text *t)
{
	return t->p != NULL ? t->p : "";
}

/* Printable length of a text for "%.*s" (bounded: it is quoted in a reason). */
static int
shown(const struct pod_text *t)
{
	return present(t) ? (int)(t->len < POD_REASON_MAX ? t->len : POD_REASON_MAX) : 0;
}

static void
refuse(struct pod_role *out)
{
	out->pr_source = POD_SRC_REFUSED;
	out->pr_arn[0] = '\0';
	out->pr_external_id[0] = '\0';
	out->pr_mapped = 0;
}

/* Steps 1 to 4 into out: 0 chosen (or none), -1 refused. */
static int
choose_source(const struct pod_opts *o, const struct pod_rules *rules,
    const struct pod_facts *f, const struct pod_text *sa, struct pod_role *out)
{
	char why[POD_REASON_MAX];
	const char *arn;

	if (present(&f->pf_role)) {
		out->pr_source = POD_SRC_ANNOTATION;
		if (pods_role_resolve(o, f->pf_role.p, f->pf_role.len, out->pr_arn, why,
		    sizeof(why)) == -1) {
			errf(out->pr_reason, sizeof(out->pr_reason), "iam.amazonaws.com/role "
			    "\"%.*s\": %s", shown(&f->pf_role), txt(&f->pf_role), why);
			return -1;
		}
		errf(out->pr_reason, sizeof(out->pr_reason), "pod annotation "
		    "iam.amazonaws.com/role");
	} else if (present(&f->pf_sa_role_arn)) {
		out->pr_source = POD_SRC_SERVICE_ACCOUNT;
		if (!pods_arn_check(f->pf_sa_role_arn.p, f->pf_sa_role_arn.len, why,
		    sizeof(why))) {
			errf(out->pr_reason, sizeof(out->pr_reason), "service account %.*s "
			    "eks.amazonaws.com/role-arn \"%.*s\": %s", shown(sa), txt(sa),
			    shown(&f->pf_sa_role_arn), txt(&f->pf_sa_role_arn), why);
			return -1;
		}
		memcpy(out->pr_arn, f->pf_sa_role_arn.p, f->pf_sa_role_arn.len);
		out->pr_arn[f->pf_sa_role_arn.len] = '\0';
		errf(out->pr_reason, sizeof(out->pr_reason), "service account %.*s "
		    "eks.amazonaws.com/role-arn", shown(sa), txt(sa));
	} else if ((arn = pods_rules_assoc_find(rules, f->pf_namespace.p, f->pf_namespace.len,
	    sa->p, sa->len)) != NULL) {
		out->pr_source = POD_SRC_ASSOCIATION;
		snprintf(out->pr_arn, sizeof(out->pr_arn), "%s", arn);
		errf(out->pr_reason, sizeof(out->pr_reason), "pod-identity-association "
		    "%.*s/%.*s", shown(&f->pf_namespace), txt(&f->pf_namespace), shown(sa),
		    txt(sa));
	} else if (o != NULL && o->po_default[0] != '\0') {
		out->pr_source = POD_SRC_DEFAULT;
		snprintf(out->pr_arn, sizeof(out->pr_arn), "%s", o->po_default);
		errf(out->pr_reason, sizeof(out->pr_reason), "--default-role");
	} else {
		out->pr_source = POD_SRC_NONE;
		errf(out->pr_reason, sizeof(out->pr_reason), "no iam.amazonaws.com/role, "
		    "service account role-arn, pod-identity-association or --default-role");
	}
	return 0;
}

void
pods_choose(const struct pod_opts *o, const struct pod_rules *rules,
    const struct pod_ns *ns, const struct pod_facts *f, struct pod_role *out)
{
	struct pod_text sa = f->pf_sa;
	char why[POD_REASON_MAX], from[POD_ARN_MAX + 1];
	const char *to;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!present(&sa)) {
		sa.p = SA_DEFAULT;
		sa.len = sizeof(SA_DEFAULT) - 1;
	}
	if (choose_source(o, rules, f, &sa, out) == -1) {
		refuse(out);
		return;
	}
	if (out->pr_source == POD_SRC_NONE)
		return;
	if (present(&f->pf_external_id)) {
		if (!pods_external_id_ok(f->pf_external_id.p, f->pf_external_id.len)) {
			errf(out->pr_reason, sizeof(out->pr_reason), "iam.amazonaws.com/"
			    "external-id: not an ExternalId (%d to %d of letters, digits and "
			    "+ = , . @ : / _ -)", POD_EXTERNAL_ID_MIN, POD_EXTERNAL_ID_MAX);
			refuse(out);
			return;
		}
		memcpy(out->pr_external_id, f->pf_external_id.p, f->pf_external_id.len);
		out->pr_external_id[f->pf_external_id.len] = '\0';
	}
	if (o != NULL && o->po_restrict && strcmp(out->pr_arn, o->po_default) != 0) {
		if (ns == NULL) {
			errf(out->pr_reason, sizeof(out->pr_reason), "%s: namespace %.*s not "
			    "known (yet)", out->pr_arn, shown(&f->pf_namespace),
			    txt(&f->pf_namespace));
			refuse(out);
			return;
		}
		if (!pods_ns_allows(ns, out->pr_arn, why, sizeof(why))) {
			errf(out->pr_reason, sizeof(out->pr_reason), "%s: %s", out->pr_arn, why);
			refuse(out);
			return;
		}
	}
	if ((to = pods_rules_map_find(rules, out->pr_arn)) != NULL) {
		snprintf(from, sizeof(from), "%s", out->pr_arn);
		snprintf(out->pr_arn, sizeof(out->pr_arn), "%s", to);
		out->pr_mapped = 1;
		n = strlen(out->pr_reason);
		snprintf(out->pr_reason + n, sizeof(out->pr_reason) - n, ", role-map from %s",
		    from);
	}
}
