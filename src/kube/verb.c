/*
 * verb.c: `gimme-aws-mini kube-watch`, the Kubernetes client by itself.
 *
 * Finds the API as serve would, then either follows resources (one line per
 * event on stdout, a stats line after each sync and at exit, until SIGTERM
 * or SIGINT), or makes one call (--get-serviceaccount, --token-review) and
 * exits with its verdict.  For tests, and for users checking that the
 * daemon's credentials can list and watch what it needs.  Never prints a
 * token or a key: the TokenReview token is read from a file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

#define VERB_RESOURCES_MAX	3	/* --resource given (one reflector each) */
#define VERB_ONLY_MAX		8	/* --only given */

static const char usage_kube[] =
"usage: " PROGNAME " kube-watch [--kubeconfig FILE] [--context NAME] [--sa-dir DIR]\n"
"           [--node NODE] [--resource pods|namespaces|serviceaccounts]...\n"
"           [--watch-timeout SECONDS] [--only NAME]...\n"
"       " PROGNAME " kube-watch [...] --get-serviceaccount NAMESPACE/NAME\n"
"       " PROGNAME " kube-watch [...] --token-review TOKEN-FILE --audience AUDIENCE\n"
"\n"
"Reach the Kubernetes API as serve --pod-roles does (--kubeconfig, else\n"
"KUBECONFIG, else in a pod the service account, else ~/.kube/config) and list\n"
"then watch the resources (default: pods; pods of --node only when given),\n"
"printing one line per change until SIGTERM or SIGINT; or make one call.\n"
"--watch-timeout: each watch's timeoutSeconds (default: drawn in 300..600).\n"
"--only: follow only the objects of these names (as serve follows only the\n"
"service accounts its pods use).\n"
"No token or key is ever printed.\n"
"\n"
"exit status: 0 done (a review: authenticated for the audience), 1 the call\n"
"failed or the token was refused, 64 bad usage, 78 no usable configuration.\n";

/* "-" for an empty field. */
static const char *
dash(const char *s)
{
	return s[0] != '\0' ? s : "-";
}

static void
print_object(const char *what, const struct kube_object *o)
{
	const struct kube_pod *p = &o->ob_pod;

	switch (o->ob_kind) {
	case KUBE_POD:
		printf("%s pod %s/%s uid=%s rv=%s node=%s sa=%s phase=%s host-network=%d "
		    "ips=%s%s%s role=%s external-id=%s deleting=%d partial=%d\n", what,
		    p->kp_meta.km_namespace, p->kp_meta.km_name, dash(p->kp_meta.km_uid), dash(p->kp_meta.km_rv),
		    dash(p->kp_node), dash(p->kp_sa), dash(p->kp_phase), p->kp_host_network,
		    p->kp_nips > 0 ? p->kp_ips[0] : "-", p->kp_nips > 1 ? "," : "",
		    p->kp_nips > 1 ? p->kp_ips[1] : "", dash(p->kp_role),
		    dash(p->kp_external_id), p->kp_deleting, o->ob_partial);
		break;
	case KUBE_NAMESPACE:
		printf("%s namespace %s uid=%s rv=%s allowed-roles=%s permitted=%s partial=%d\n",
		    what, o->ob_ns.kn_meta.km_name, dash(o->ob_ns.kn_meta.km_uid), dash(o->ob_ns.kn_meta.km_rv),
		    o->ob_ns.kn_has_allowed ? o->ob_ns.kn_allowed_roles : "-",
		    o->ob_ns.kn_has_permitted ? o->ob_ns.kn_permitted : "-", o->ob_partial);
		break;
	case KUBE_SERVICEACCOUNT:
		printf("%s serviceaccount %s/%s uid=%s rv=%s role-arn=%s partial=%d\n", what,
		    o->ob_sa.ks_meta.km_namespace, o->ob_sa.ks_meta.km_name, dash(o->ob_sa.ks_meta.km_uid),
		    dash(o->ob_sa.ks_meta.km_rv), dash(o->ob_sa.ks_role_arn), o->ob_partial);
		break;
	}
	fflush(stdout);
}

static void
on_upsert(void *arg, const struct kube_object *o)
{
	(void)arg;
	print_object("upsert", o);
}

static void
on_delete(void *arg, const struct kube_object *o)
{
	(void)arg;
	print_object("delete", o);
}

static const char *only[VERB_ONLY_MAX];
static size_t nonly;

/* --only: no name given, or o's name is one of them. */
static int
on_want(void *arg, const struct kube_object *o)
{
	struct kube_object copy = *o;
	const char *name = kube_object_meta(&copy)->km_name;
	size_t i;

	(void)arg;
	for (i = 0; i < nonly; i++)
		if (strcmp(name, only[i]) == 0)
			return 1;
	return nonly == 0;
}

static struct kube_reflector *refl[VERB_RESOURCES_MAX];
static enum kube_kind refl_kind[VERB_RESOURCES_MAX];
static size_t nrefl;

static void
print_stats(const char *when)
{
	const struct kube_stats *s;
	size_t i;

	for (i = 0; i < nrefl; i++) {
		s = kube_reflector_stats(refl[i]);
		printf("stats %s %s count=%zu lists=%llu pages=%llu watches=%llu restarts=%llu "
		    "expired=%llu errors=%llu events=%llu rejected=%llu\n", when,
		    kube_kind_resource(refl_kind[i]), kube_reflector_count(refl[i]),
		    (unsigned long long)s->ks_lists, (unsigned long long)s->ks_pages,
		    (unsigned long long)s->ks_watches, (unsigned long long)s->ks_watch_restarts,
		    (unsigned long long)s->ks_expired, (unsigned long long)s->ks_errors,
		    (unsigned long long)s->ks_events, (unsigned long long)s->ks_rejected);
	}
	fflush(stdout);
}

static void
on_synced(void *arg)
{
	printf("synced %s\n", kube_kind_resource(*(enum kube_kind *)arg));
	print_stats("synced");
}

/* The one-shot calls' outcome. */
static int call_done_flag, call_rc = 1;

static void
on_sa(void *arg, const struct kube_sa *sa, long status, const char *err)
{
	struct kube_object o;

	(void)arg;
	if (sa != NULL) {
		memset(&o, 0, sizeof(o));
		o.ob_kind = KUBE_SERVICEACCOUNT;
		o.ob_sa = *sa;
		print_object("get", &o);
		call_rc = 0;
	} else
		printf("get-failed status=%ld %s\n", status, err);
	fflush(stdout);
	call_done_flag = 1;
}

static void
on_review(void *arg, const struct kube_review *r, const char *err)
{
	(void)arg;
	if (r == NULL)
		printf("review-failed %s\n", err);
	else {
		printf("review authenticated=%d audience=%d namespace=%s sa=%s pod=%s uid=%s "
		    "error=%s\n", r->kr_authenticated, r->kr_audience_ok, dash(r->kr_namespace),
		    dash(r->kr_sa), dash(r->kr_pod_name), dash(r->kr_pod_uid), dash(r->kr_error));
		call_rc = r->kr_authenticated && r->kr_audience_ok ? 0 : 1;
	}
	fflush(stdout);
	call_done_flag = 1;
}

/* Start the one-shot call asked for.  0 / -1 (printed). */
static int
start_call(struct kube_client *c, const char *get_sa, const char *review_file,
    const char *audience)
{
	char err[ERRBUF_LEN], ns[KUBE_NAMESPACE_MAX + 1], *tok;
	const char *slash;
	size_t len;
	int rc;

	if (get_sa != NULL) {
		if ((slash = strchr(get_sa, '/')) == NULL ||
		    (size_t)(slash - get_sa) > KUBE_NAMESPACE_MAX) {
			fprintf(stderr, "%s: --get-serviceaccount NAMESPACE/NAME\n", PROGNAME);
			return -1;
		}
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - get_sa), get_sa);
		rc = kube_get_serviceaccount(c, ns, slash + 1, on_sa, NULL, NULL, err,
		    sizeof(err));
	} else {
		if (read_file_capped(review_file, KUBE_TOKEN_MAX, &tok, &len) == -1) {
			fprintf(stderr, "%s: %s: %s\n", PROGNAME, review_file, strerror(errno));
			return -1;
		}
		while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
			len--;
		rc = kube_token_review(c, tok, len, audience, on_review, NULL, NULL, err,
		    sizeof(err));
		wipe_free(tok, len);
	}
	if (rc == -1)
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
	return rc;
}

/* Parse a --resource value. */
static int
parse_kind(const char *s, enum kube_kind *k)
{
	static const enum kube_kind all[] = { KUBE_POD, KUBE_NAMESPACE, KUBE_SERVICEACCOUNT };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, kube_kind_resource(all[i])) == 0) {
			*k = all[i];
			return 0;
		}
	return -1;
}

int
kube_watch_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "context", required_argument, NULL, 'c' },
		{ "sa-dir", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'n' },
		{ "resource", required_argument, NULL, 'r' },
		{ "get-serviceaccount", required_argument, NULL, 'g' },
		{ "token-review", required_argument, NULL, 't' },
		{ "audience", required_argument, NULL, 'a' },
		{ "watch-timeout", required_argument, NULL, 'w' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct kube_reflector_ops ops = { on_upsert, on_delete, on_synced, on_want };
	const char *kubeconfig = NULL, *context = NULL, *sa_dir = NULL, *node = NULL;
	const char *get_sa = NULL, *review = NULL, *audience = NULL;
	char err[ERRBUF_LEN], selector[KUBE_SELECTOR_MAX + 1];
	struct kube_reflector_spec spec;
	struct kube_config kc;
	struct kube_client *c = NULL;
	unsigned long wt = 0;
	int ch, rc = 1;
	size_t i;

	log_init(0, LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': kubeconfig = optarg; break;
		case 'c': context = optarg; break;
		case 'S': sa_dir = optarg; break;
		case 'n': node = optarg; break;
		case 'g': get_sa = optarg; break;
		case 't': review = optarg; break;
		case 'a': audience = optarg; break;
		case 'o':
			if (nonly == VERB_ONLY_MAX) {
				fprintf(stderr, "%s: --only at most %d times\n", PROGNAME,
				    VERB_ONLY_MAX);
				return EXIT_USAGE;
			}
			only[nonly++] = optarg;
			break;
		case 'w':
			if (parse_uint_bounded(optarg, strlen(optarg), KUBE_WATCH_TIMEOUT_MAX_S,
			    &wt) != 0 || wt == 0) {
				fprintf(stderr, "%s: --watch-timeout 1..%d\n", PROGNAME,
				    KUBE_WATCH_TIMEOUT_MAX_S);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (nrefl == VERB_RESOURCES_MAX || parse_kind(optarg, &refl_kind[nrefl]) == -1) {
				fprintf(stderr, "%s: --resource pods|namespaces|serviceaccounts, "
				    "each once\n", PROGNAME);
				return EXIT_USAGE;
			}
			nrefl++;
			break;
		case 'h':
			fputs(usage_kube, stdout);
			return 0;
		default:
			fputs(usage_kube, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || (review != NULL) != (audience != NULL) ||
	    (get_sa != NULL && review != NULL) ||
	    (node != NULL && strlen(node) > KUBE_NAME_MAX)) {
		fputs(usage_kube, stderr);
		return EXIT_USAGE;
	}
	if (nrefl == 0)
		refl_kind[nrefl++] = KUBE_POD;
	if (kube_config_find(&kc, kubeconfig, context, sa_dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_CONFIG;
	}
	if (loop_init(err, sizeof(err)) == -1 || kube_client_new(&kc, &c, err, sizeof(err)) == -1) {
		kube_config_free(&kc);
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EXIT_SYSTEM;
	}
	log_info("kube: %s (%s)", kube_client_server(c), kube_client_origin(c));
	if (get_sa != NULL || review != NULL) {
		nrefl = 0;
		if (start_call(c, get_sa, review, audience) == 0) {
			loop_run_until(&call_done_flag);
			rc = call_rc;
		}
		goto out;
	}
	for (i = 0; i < nrefl; i++) {
		memset(&spec, 0, sizeof(spec));
		spec.rs_kind = refl_kind[i];
		if (refl_kind[i] == KUBE_POD && node != NULL) {
			snprintf(selector, sizeof(selector), "spec.nodeName=%s", node);
			spec.rs_field_selector = selector;
		}
		spec.rs_watch_timeout_s = (long)wt;
		spec.rs_ops = &ops;
		spec.rs_arg = &refl_kind[i];
		if (kube_reflector_start(c, &spec, &refl[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", PROGNAME, err);
			nrefl = i;
			goto out;
		}
	}
	loop_run_until(NULL);
	print_stats("exit");
	rc = 0;
out:
	for (i = 0; i < nrefl; i++)
		kube_reflector_stop(refl[i]);
	kube_client_free(c);
	loop_cleanup();
	return rc;
}
