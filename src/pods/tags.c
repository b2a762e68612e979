/*
 * tags.c: EKS Pod Identity's session tags and session name for a pod
 * (--session-tags; per-pod-identity.md §5.3).
 *
 * EKS assumes a pod's role with six session tags, all transitive:
 *
 *	eks-cluster-arn			arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME
 *	eks-cluster-name		NAME
 *	kubernetes-namespace		the pod's namespace
 *	kubernetes-service-account	its service account
 *	kubernetes-pod-name		its name
 *	kubernetes-pod-uid		its uid
 *
 * and names the session eks-CLUSTER-POD-UUID (a random UUID).  STS caps a
 * RoleSessionName at 64 of [\w+=,.@-]: a character outside is written
 * '-', and the name is cut at 64 (how EKS shortens a longer one is not
 * documented; cutting the end keeps the cluster and the pod readable).
 * The cluster's ARN is made here from the role's ARN (its partition and
 * account: the cluster of a Pod Identity association is in the account of
 * its role, unless targetRoleArn chains to another) and the region given
 * (the node's).  Every value is checked against STS's tag limits; a
 * Kubernetes name always fits (253 bytes of [a-z0-9.-]).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "creds/creds.h"
#include "pods/pods.h"

/* The six tags in EKS's order. */
static const char *const tag_keys[POD_SESSION_TAGS] = {
	"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace",
	"kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid",
};

_Static_assert(POD_SESSION_TAGS <= STS_STEP_TAGS_MAX, "an assumed role keeps the six tags");

int
pods_cluster_name_ok(const char *s, size_t len)
{
	size_t i;

	/* EKS CreateCluster: 1..100, ^[0-9A-Za-z][A-Za-z0-9\-_]* */
	if (s == NULL || len == 0 || len > POD_CLUSTER_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

int
pods_cluster_from_kubeconfig(const char *name, char *out, size_t outlen)
{
	const char *p = name;
	size_t n;

	if (outlen > 0)
		out[0] = '\0';
	if (name == NULL)
		return -1;
	/* aws eks update-kubeconfig names the cluster by its ARN: its name is the last part */
	if (strncmp(name, "arn:", 4) == 0 && strstr(name, ":eks:") != NULL &&
	    (p = strstr(name, ":cluster/")) != NULL)
		p += strlen(":cluster/");
	else
		p = name;
	n = strlen(p);
	if (!pods_cluster_name_ok(p, n) || n >= outlen)
		return -1;
	memcpy(out, p, n + 1);
	return 0;
}

int
pods_cluster_arn(const char *role_arn, const char *region, const char *cluster, char *out,
    size_t outlen)
{
	const char *part, *acct, *end;
	int n;

	/* arn:PARTITION:iam::ACCOUNT:role/... (pods_arn_check's shape) */
	if (outlen > 0)
		out[0] = '\0';
	if (strncmp(role_arn, "arn:", 4) != 0)
		return -1;
	part = role_arn + 4;
	if ((end = strchr(part, ':')) == NULL || strncmp(end, ":iam::", 6) != 0)
		return -1;
	acct = end + 6;
	if (strlen(acct) < POD_ACCOUNT_LEN + 1 || acct[POD_ACCOUNT_LEN] != ':')
		return -1;
	n = snprintf(out, outlen, "arn:%.*s:eks:%s:%.*s:cluster/%s", (int)(end - part), part,
	    region, POD_ACCOUNT_LEN, acct, cluster);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

int
pods_session_tags(const struct pod_tag_facts *f, struct assume_tags *out, char *why,
    size_t whylen)
{
	const char *vals[POD_SESSION_TAGS] = { f->tf_cluster_arn, f->tf_cluster, f->tf_namespace,
		f->tf_sa, f->tf_pod_name, f->tf_pod_uid };
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < POD_SESSION_TAGS; i++) {
		const char *v = vals[i] != NULL ? vals[i] : "";

		if (!sts_tag_text_ok(v, strlen(v), 0, STS_TAG_VALUE_MAX)) {
			snprintf(why, whylen, "session tag %s: \"%.64s\" is not a tag value (0 to %d "
			    "of A-Z a-z 0-9 space _ . : / = + - @)", tag_keys[i], v,
			    STS_TAG_VALUE_MAX);
			return -1;
		}
		snprintf(out->at_tag[i].at_key, sizeof(out->at_tag[i].at_key), "%s", tag_keys[i]);
		snprintf(out->at_tag[i].at_value, sizeof(out->at_tag[i].at_value), "%s", v);
		out->at_tag[i].at_transitive = 1;
	}
	out->at_n = POD_SESSION_TAGS;
	return 0;
}

void
pods_session_name(const char *cluster, const char *pod, const char *uuid, char *out,
    size_t outlen)
{
	char full[4 + POD_CLUSTER_NAME_MAX + 1 + POD_SA_MAX + 1 + POD_UUID_LEN + 1];
	size_t i, n;

	snprintf(full, sizeof(full), "eks-%s-%s-%s", cluster, pod != NULL ? pod : "", uuid);
	n = strlen(full);
	if (n > STS_SESSION_NAME_MAX)
		n = STS_SESSION_NAME_MAX;
	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = isalnum((unsigned char)full[i]) || strchr("_+=,.@-", full[i]) != NULL ?
		    full[i] : '-';
	if (outlen > 0)
		out[i] = '\0';
}
