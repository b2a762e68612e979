/*
 * test_kube_config.c: where the Kubernetes API is (kube/config.c).
 *
 * kubeconfig text through kube_config_parse (kind-style inline data,
 * minikube-style file paths resolved against the file's directory, tokens,
 * token files, contexts), every refusal with its FILE:LINE; files through
 * kube_config_load ($KUBECONFIG's first file, ~/.kube/config); the
 * in-cluster layout (KUBERNETES_SERVICE_HOST/PORT, IPv6 bracketed, the
 * service-account directory) through kube_config_in_cluster and
 * kube_config_find's order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/kube.h"

#define T_PATH_MAX	512	/* bytes of a path in the temporary directory */

#define T_DIR_MAX	64	/* bytes of the temporary directory's path */

static char tdir[T_DIR_MAX];

/* Write dir/name with text. */
static void
t_write(const char *name, const char *text)
{
	char path[T_PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/test_kube_config.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("KUBECONFIG");
	return 0;
}

static int
teardown(void **state)
{
	char cmd[T_PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
t_ok(struct kube_config *kc, const char *text, const char *context)
{
	char err[ERRBUF_LEN] = "";

	if (kube_config_parse(kc, text, strlen(text), "/k/config", tdir, context, err,
	    sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
}

static void
t_err(const char *text, const char *context, const char *want)
{
	struct kube_config kc;
	char err[ERRBUF_LEN] = "";

	assert_int_equal(kube_config_parse(&kc, text, strlen(text), "/k/config", tdir, context,
	    err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_null(kc.kc_ca);
	assert_null(kc.kc_key);
	assert_null(kc.kc_token);
}

/* kind writes inline data; "decoy" comes first and is not current. */
static const char kind_cfg[] =
"apiVersion: v1\n"
"clusters:\n"
"- cluster:\n"
"    certificate-authority-data: ZGVjb3k=\n"
"    server: https://decoy:6443\n"
"  name: decoy\n"
"- cluster:\n"
"    certificate-authority-data: Q0EgUEVN\n"		/* "CA PEM" */
"    server: https://127.0.0.1:43211\n"
"  name: kind-kind\n"
"contexts:\n"
"- context: {cluster: decoy, user: decoy}\n"
"  name: decoy\n"
"- context:\n"
"    cluster: kind-kind\n"
"    user: kind-kind\n"
"  name: kind-kind\n"
"current-context: kind-kind\n"
"kind: Config\n"
"preferences: {}\n"
"users:\n"
"- name: decoy\n"
"  user:\n"
"    token: decoy-token\n"
"- name: kind-kind\n"
"  user:\n"
"    client-certificate-data: Q0VSVCBQRU0=\n"	/* "CERT PEM" */
"    client-key-data: S0VZIFBFTQ==\n";		/* "KEY PEM" */

static void
test_kind_inline(void **state)
{
	struct kube_config kc;

	(void)state;
	t_ok(&kc, kind_cfg, NULL);
	assert_string_equal(kc.kc_server, "https://127.0.0.1:43211");
	assert_int_equal(kc.kc_ca_len, 6);
	assert_memory_equal(kc.kc_ca, "CA PEM", 6);
	assert_int_equal(kc.kc_cert_len, 8);
	assert_memory_equal(kc.kc_cert, "CERT PEM", 8);
	assert_int_equal(kc.kc_key_len, 7);
	assert_memory_equal(kc.kc_key, "KEY PEM", 7);
	assert_null(kc.kc_token);
	assert_string_equal(kc.kc_token_file, "");
	assert_string_equal(kc.kc_origin, "/k/config, context kind-kind");
	assert_string_equal(kc.kc_cluster, "kind-kind");	/* the context's cluster */
	kube_config_free(&kc);
	/* another context, as asked */
	t_ok(&kc, kind_cfg, "decoy");
	assert_string_equal(kc.kc_server, "https://decoy:6443");
	assert_string_equal(kc.kc_cluster, "decoy");
	assert_int_equal(kc.kc_token_len, 11);
	assert_memory_equal(kc.kc_token, "decoy-token", 11);
	assert_null(kc.kc_cert);
	kube_config_free(&kc);
	assert_null(kc.kc_token);
}

static void
test_minikube_paths(void **state)
{
	static const char cfg[] =
	    "apiVersion: v1\n"
	    "clusters:\n"
	    "- cluster:\n"
	    "    certificate-authority: ca.crt\n"
	    "    extensions:\n"
	    "    - extension: {provider: minikube.sigs.k8s.io, version: v1.32.0}\n"
	    "      name: cluster_info\n"
	    "    server: https://192.168.49.2:8443\n"
	    "  name: minikube\n"
	    "contexts:\n"
	    "- context:\n"
	    "    cluster: minikube\n"
	    "    namespace: default\n"
	    "    user: minikube\n"
	    "  name: minikube\n"
	    "current-context: minikube\n"
	    "users:\n"
	    "- name: minikube\n"
	    "  user:\n"
	    "    client-certificate: profiles/client.crt\n"
	    "    client-key: %s/profiles/client.key\n";
	char text[sizeof(cfg) + T_PATH_MAX], path[T_PATH_MAX];
	struct kube_config kc;

	(void)state;
	t_write("ca.crt", "the CA\n");
	snprintf(path, sizeof(path), "%s/profiles", tdir);
	mkdir(path, 0700);
	t_write("profiles/client.crt", "the cert\n");
	t_write("profiles/client.key", "the key\n");
	snprintf(text, sizeof(text), cfg, tdir);	/* one absolute path, two relative */
	t_ok(&kc, text, NULL);
	assert_string_equal(kc.kc_server, "https://192.168.49.2:8443");
	assert_string_equal(kc.kc_ca, "the CA\n");
	assert_string_equal(kc.kc_cert, "the cert\n");
	assert_string_equal(kc.kc_key, "the key\n");
	kube_config_free(&kc);
}

/* A one-context file with the user's and cluster's lines given. */
static void
t_one(char *out, size_t len, const char *cluster_extra, const char *user_lines)
{
	snprintf(out, len,
	    "clusters:\n"			/* 1 */
	    "- name: c\n"			/* 2 */
	    "  cluster:\n"			/* 3 */
	    "    server: https://h:1\n"		/* 4 */
	    "%s"				/* 5... */
	    "contexts:\n"
	    "- name: x\n"
	    "  context: {cluster: c, user: u}\n"
	    "current-context: x\n"
	    "users:\n"
	    "- name: u\n"
	    "  user:\n"
	    "%s", cluster_extra, user_lines);
}

static void
test_tokens(void **state)
{
	char text[2048];
	struct kube_config kc;

	(void)state;
	t_one(text, sizeof(text), "", "    token: abc.def\n");
	t_ok(&kc, text, NULL);
	assert_string_equal(kc.kc_token, "abc.def");
	assert_null(kc.kc_ca);	/* the system store */
	kube_config_free(&kc);
	/* tokenFile: resolved, not read here (the client re-reads it); it wins over token */
	t_one(text, sizeof(text), "", "    token: abc\n    tokenFile: tok/en\n");
	t_ok(&kc, text, NULL);
	assert_null(kc.kc_token);
	assert_true(strncmp(kc.kc_token_file, tdir, strlen(tdir)) == 0);
	assert_string_equal(kc.kc_token_file + strlen(tdir), "/tok/en");
	kube_config_free(&kc);
	/* no user at all: anonymous */
	t_ok(&kc, "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
	    "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n", NULL);
	assert_string_equal(kc.kc_server, "https://h");
	assert_null(kc.kc_token);
	kube_config_free(&kc);
}

/* Refusals in the one-context file: its cluster's extra lines, its user's lines, the message. */
static const struct {
	const char	*cluster, *user, *want;
} one[] = {
	{ "    insecure-skip-tls-verify: true\n", "    token: t\n",
	  "/k/config:5: cluster \"c\": insecure-skip-tls-verify is refused: the API server's "
	  "certificate is always verified (give certificate-authority or "
	  "certificate-authority-data)" },
	{ "    certificate-authority-data: '***'\n", "    token: t\n",
	  "/k/config:5: certificate-authority-data: not base64" },
	{ "", "    exec:\n      command: aws\n",
	  "/k/config:13: user \"u\": exec is not supported (use a token, tokenFile or a client "
	  "certificate)" },
	{ "", "    auth-provider: {name: gcp}\n",
	  "/k/config:12: user \"u\": auth-provider is not supported (use a token, tokenFile or a "
	  "client certificate)" },
	{ "", "    username: admin\n    password: secret\n",
	  "/k/config:12: user \"u\": username is not supported (use a token, tokenFile or a "
	  "client certificate)" },
	{ "", "    client-certificate-data: Q0VSVA==\n",
	  "/k/config:12: user \"u\": a client certificate needs its key and a key its "
	  "certificate" },
	{ "", "    token: \"a\\nb\"\n",
	  "/k/config:12: user \"u\": token empty, over 16384 bytes or not one line" },
	{ "", "    tokenFile: ''\n", "/k/config:12: tokenFile: empty path" },
};

static void
test_errors(void **state)
{
	char text[2048], want[ERRBUF_LEN];
	size_t i;

	(void)state;
	t_err("", NULL, "/k/config:1: empty file");
	t_err("- a\n- b\n", NULL, "/k/config:1: expected a mapping (apiVersion, clusters, ...)");
	t_err("a: [b\n", NULL, "/k/config:2: while parsing a flow sequence: did not find expected ',' or ']'");
	t_err("clusters: []\n", NULL, "/k/config:1: no current-context (and no context given)");
	t_err("current-context: ''\n", NULL,
	    "/k/config:1: current-context is empty (and no context given)");
	t_err("current-context: x\n", NULL, "/k/config:1: no contexts (looking for \"x\")");
	t_err("current-context: x\ncontexts: {a: b}\n", NULL, "/k/config:2: contexts: expected a list");
	t_err("current-context: x\ncontexts:\n- name: y\n  context: {}\n", NULL,
	    "/k/config:1: contexts has no \"x\"");
	t_err("contexts:\n- name: y\n  context: {}\n", "nosuch", "/k/config:1: contexts has no \"nosuch\"");
	t_err("current-context: x\ncontexts:\n- name: x\n  context: {user: u}\n", NULL,
	    "/k/config:4: context \"x\" names no cluster");
	t_err("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n", NULL,
	    "/k/config:4: no clusters (looking for \"c\")");
	t_err("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
	    "clusters:\n- name: c\n  cluster: {}\n", NULL, "/k/config:7: cluster \"c\" has no server");
	t_err("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
	    "clusters:\n- name: c\n  cluster:\n    server: [a]\n", NULL,
	    "/k/config:8: server: expected a string");
	t_err("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n"
	    "clusters:\n- name: c\n  cluster:\n    server: http://h:80\n", NULL,
	    "/k/config:8: cluster \"c\": server must be an https:// URL");
	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		t_one(text, sizeof(text), one[i].cluster, one[i].user);
		t_err(text, NULL, one[i].want);
	}
	t_one(text, sizeof(text), "    certificate-authority: nosuch.crt\n", "    token: t\n");
	snprintf(want, sizeof(want), "/k/config:5: CA bundle %s/nosuch.crt: No such file "
	    "or directory", tdir);
	t_err(text, NULL, want);
	t_one(text, sizeof(text), "", "    token: t\n");
	memcpy(strstr(text, "name: u"), "name: v", 7);
	t_err(text, NULL, "/k/config:7: users has no \"u\"");
}

static void
test_load(void **state)
{
	char path[T_PATH_MAX], env[2 * T_PATH_MAX], err[ERRBUF_LEN];
	struct kube_config kc;

	(void)state;
	t_write("first", kind_cfg);
	snprintf(env, sizeof(env), "%s/first:%s/second", tdir, tdir);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(kube_config_load(&kc, NULL, NULL, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/first, context kind-kind", tdir);
	assert_string_equal(kc.kc_origin, path);
	kube_config_free(&kc);
	/* kube_config_find: KUBECONFIG beats the in-cluster variables */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_find(&kc, NULL, NULL, tdir, err, sizeof(err)), 0);
	assert_string_equal(kc.kc_server, "https://127.0.0.1:43211");
	kube_config_free(&kc);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBECONFIG");
	/* HOME's ~/.kube/config */
	snprintf(path, sizeof(path), "%s/.kube", tdir);
	mkdir(path, 0700);
	t_write(".kube/config", kind_cfg);
	setenv("HOME", tdir, 1);
	assert_int_equal(kube_config_find(&kc, NULL, "decoy", NULL, err, sizeof(err)), 0);
	assert_string_equal(kc.kc_server, "https://decoy:6443");
	kube_config_free(&kc);
	assert_int_equal(kube_config_load(&kc, "/nonexistent/kc", NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/kc: No such file or directory");
}

static void
test_in_cluster(void **state)
{
	char err[ERRBUF_LEN], want[T_PATH_MAX];
	struct kube_config kc;

	(void)state;
	memset(&kc, 0x5a, sizeof(kc));
	assert_int_equal(kube_config_in_cluster(&kc, tdir, err, sizeof(err)), 1);	/* not in a pod */
	t_write("token", "tok-1\n");
	t_write("ca.crt", "cluster CA\n");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(&kc, tdir, err, sizeof(err)), 0);
	assert_string_equal(kc.kc_server, "https://10.96.0.1:443");
	assert_string_equal(kc.kc_cluster, "");	/* a pod is not told its cluster's name */
	assert_string_equal(kc.kc_ca, "cluster CA\n");
	assert_null(kc.kc_token);	/* the file is re-read by the client */
	snprintf(want, sizeof(want), "%s/token", tdir);
	assert_string_equal(kc.kc_token_file, want);
	kube_config_free(&kc);
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	assert_int_equal(kube_config_in_cluster(&kc, tdir, err, sizeof(err)), 0);
	assert_string_equal(kc.kc_server, "https://[fd00:10:96::1]:443");
	kube_config_free(&kc);
	setenv("KUBERNETES_SERVICE_PORT", "99999", 1);
	assert_int_equal(kube_config_in_cluster(&kc, tdir, err, sizeof(err)), -1);
	assert_string_equal(err, "in-cluster: KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT "
	    "is not a host and port");
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("KUBERNETES_SERVICE_HOST", "evil/path", 1);
	assert_int_equal(kube_config_in_cluster(&kc, tdir, err, sizeof(err)), -1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	assert_int_equal(kube_config_in_cluster(&kc, "/nonexistent", err, sizeof(err)), -1);
	assert_string_equal(err, "in-cluster: /nonexistent/token: No such file or directory");
	/* kube_config_find: in a pod, no KUBECONFIG: in-cluster */
	assert_int_equal(kube_config_find(&kc, NULL, NULL, tdir, err, sizeof(err)), 0);
	assert_string_equal(kc.kc_server, "https://10.96.0.1:443");
	kube_config_free(&kc);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_inline),
		cmocka_unit_test(test_minikube_paths),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_in_cluster),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
