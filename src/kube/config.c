/*
 * config.c: where the Kubernetes API is, as client-go finds it.
 *
 * In a pod: the service-account directory's token (re-read by the client)
 * and ca.crt, and https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT
 * (an IPv6 host bracketed).  Outside: a kubeconfig file, read with libyaml's
 * document loader: the context asked for or current-context, its cluster
 * (server, certificate-authority or certificate-authority-data) and its
 * user (token, tokenFile, client-certificate(-data) and client-key(-data);
 * the -data forms win, as in client-go).  Refused with a message saying
 * why: insecure-skip-tls-verify (verification is always on), a server that
 * is not https://, exec and auth-provider users, basic auth.  Relative
 * paths are resolved against the kubeconfig's directory.  Inline data is
 * base64-decoded into memory (never written to disk); libyaml's copies of
 * the text (its buffers and the document's scalars) are wiped before they
 * are freed, as is our copy of the file.
 *
 * Only the paths named above are walked, so aliases (which libyaml keeps
 * as references, without copying) cannot make the walk deep or long.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "kube/kube.h"

#define KUBE_ENV_HOST		"KUBERNETES_SERVICE_HOST"
#define KUBE_ENV_PORT		"KUBERNETES_SERVICE_PORT"
#define KUBE_HOST_MAX		253	/* bytes of KUBERNETES_SERVICE_HOST */

/* The walk of one document. */
struct ky {
	yaml_document_t	*doc;
	const char	*file;
	const char	*dir;
	char		*err;
	size_t		 errlen;
};

/* "FILE:LINE: message" (line from n's mark; n NULL: line 1). */
static int
ky_err(struct ky *y, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int
ky_err(struct ky *y, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[ERRBUF_LEN];
	va_list ap;

	va_start(ap, fmt);
	verrf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errf(y->err, y->errlen, "%s:%lu: %s", y->file,
	    n != NULL ? (unsigned long)n->start_mark.line + 1 : 1UL, msg);
	return -1;
}

/* The value of key in mapping map; NULL when absent (or map is not a mapping). */
static yaml_node_t *
ky_get(struct ky *y, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pr;
	yaml_node_t *k;
	size_t klen = strlen(key);

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		k = yaml_document_get_node(y->doc, pr->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE && k->data.scalar.length == klen &&
		    memcmp(k->data.scalar.value, key, klen) == 0)
			return yaml_document_get_node(y->doc, pr->value);
	}
	return NULL;
}

/* n is a scalar (what names it in a message): its text.  0 / -1 with err. */
static int
ky_text(struct ky *y, yaml_node_t *n, const char *what, struct slice *out)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return ky_err(y, n, "%s: expected a string", what);
	out->p = (const char *)n->data.scalar.value;
	out->n = n->data.scalar.length;
	return 0;
}

/* Copy scalar n into dst[cap] (NUL-terminated); over cap or a control byte: -1. */
static int
ky_copy(struct ky *y, yaml_node_t *n, const char *what, char *dst, size_t cap)
{
	struct slice s = { NULL, 0 };

	if (ky_text(y, n, what, &s) == -1)
		return -1;
	if (s.n >= cap || text_has_ctl(s.p, s.n) || memchr(s.p, '\0', s.n) != NULL)
		return ky_err(y, n, "%s: over %zu bytes or not one line of text", what, cap - 1);
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

/*
 * In the sequence under root's list key, the item whose "name" is name: its
 * inner mapping (item[inner]).  NULL with err when absent.
 */
static yaml_node_t *
ky_named(struct ky *y, yaml_node_t *root, const char *list, const char *name,
    const char *inner, yaml_node_t *ref)
{
	yaml_node_t *seq, *it, *nm, *in;
	yaml_node_item_t *i;
	size_t count = 0;
	struct slice s = { NULL, 0 };

	if ((seq = ky_get(y, root, list)) == NULL) {
		ky_err(y, ref, "no %s (looking for \"%s\")", list, name);
		return NULL;
	}
	if (seq->type != YAML_SEQUENCE_NODE) {
		ky_err(y, seq, "%s: expected a list", list);
		return NULL;
	}
	for (i = seq->data.sequence.items.start; i < seq->data.sequence.items.top; i++) {
		if (++count > KUBE_YAML_ITEMS_MAX) {
			ky_err(y, seq, "%s: over %d items", list, KUBE_YAML_ITEMS_MAX);
			return NULL;
		}
		it = yaml_document_get_node(y->doc, *i);
		if ((nm = ky_get(y, it, "name")) == NULL || nm->type != YAML_SCALAR_NODE)
			continue;
		s.p = (const char *)nm->data.scalar.value;
		s.n = nm->data.scalar.length;
		if (!slice_eq(s, name))
			continue;
		if ((in = ky_get(y, it, inner)) == NULL || in->type != YAML_MAPPING_NODE) {
			ky_err(y, it, "%s \"%s\": no %s mapping", list, name, inner);
			return NULL;
		}
		return in;
	}
	ky_err(y, ref != NULL ? ref : seq, "%s has no \"%s\"", list, name);
	return NULL;
}

/* A path from the file: absolute as is, relative to the kubeconfig's directory. */
static int
ky_path(struct ky *y, yaml_node_t *n, const char *what, char *out, size_t cap)
{
	char p[KUBE_PATH_MAX];
	int len;

	if (ky_copy(y, n, what, p, sizeof(p)) == -1)
		return -1;
	if (p[0] == '\0')
		return ky_err(y, n, "%s: empty path", what);
	if (p[0] == '/' || y->dir == NULL || y->dir[0] == '\0')
		len = snprintf(out, cap, "%s", p);
	else
		len = snprintf(out, cap, "%s/%s", y->dir, p);
	if (len < 0 || (size_t)len >= cap)
		return ky_err(y, n, "%s: path over %zu bytes", what, cap - 1);
	return 0;
}

/*
 * Key material from "<key>-data" (base64, wins) or "<key>" (a file): into
 * *out (malloc'd, *outlen bytes).  Neither present: 0 with *out NULL.
 */
static int
ky_material(struct ky *y, yaml_node_t *map, const char *key, const char *what, char **out,
    size_t *outlen)
{
	char dkey[64], path[KUBE_PATH_MAX];
	yaml_node_t *n;
	struct slice s = { NULL, 0 };
	ssize_t got;
	char *buf;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	if ((n = ky_get(y, map, dkey)) != NULL) {
		if (ky_text(y, n, dkey, &s) == -1)
			return -1;
		if (s.n == 0 || s.n / 4 * 3 > KUBE_PEM_MAX)
			return ky_err(y, n, "%s: empty or over %d bytes", dkey, KUBE_PEM_MAX);
		if ((buf = malloc(s.n / 4 * 3 + 1)) == NULL)
			return ky_err(y, n, "%s: out of memory", dkey);
		if ((got = b64_decode(s.p, s.n, (unsigned char *)buf, s.n / 4 * 3)) <= 0) {
			wipe_free(buf, s.n / 4 * 3 + 1);
			return ky_err(y, n, "%s: not base64", dkey);
		}
		buf[got] = '\0';
		*out = buf;
		*outlen = (size_t)got;
		return 0;
	}
	if ((n = ky_get(y, map, key)) == NULL)
		return 0;
	if (ky_path(y, n, key, path, sizeof(path)) == -1)
		return -1;
	if (read_file_capped(path, KUBE_PEM_MAX, out, outlen) == -1)
		return ky_err(y, n, "%s %s: %s", what, path, strerror(errno));
	return 0;
}

/* The cluster: server, CA.  0 / -1 with err. */
static int
ky_cluster(struct ky *y, yaml_node_t *cl, const char *name, struct kube_config *kc)
{
	yaml_node_t *n;
	struct slice s = { NULL, 0 };

	if ((n = ky_get(y, cl, "insecure-skip-tls-verify")) != NULL &&
	    ky_text(y, n, "insecure-skip-tls-verify", &s) == 0 && !slice_ieq(s, "false"))
		return ky_err(y, n, "cluster \"%s\": insecure-skip-tls-verify is refused: the "
		    "API server's certificate is always verified (give "
		    "certificate-authority or certificate-authority-data)", name);
	if ((n = ky_get(y, cl, "server")) == NULL)
		return ky_err(y, cl, "cluster \"%s\" has no server", name);
	if (ky_copy(y, n, "server", kc->kc_server, sizeof(kc->kc_server)) == -1)
		return -1;
	if (strncmp(kc->kc_server, "https://", 8) != 0 || kc->kc_server[8] == '\0')
		return ky_err(y, n, "cluster \"%s\": server must be an https:// URL", name);
	if (ky_get(y, cl, "proxy-url") != NULL)
		return ky_err(y, ky_get(y, cl, "proxy-url"), "cluster \"%s\": proxy-url is not "
		    "supported", name);
	return ky_material(y, cl, "certificate-authority", "CA bundle", &kc->kc_ca,
	    &kc->kc_ca_len);
}

/* The user: token, tokenFile, client certificate and key.  0 / -1 with err. */
static int
ky_user(struct ky *y, yaml_node_t *us, const char *name, struct kube_config *kc)
{
	static const char *const refused[] = { "exec", "auth-provider", "username",
	    "password", NULL };
	yaml_node_t *n;
	struct slice s = { NULL, 0 };
	size_t i;

	for (i = 0; refused[i] != NULL; i++)
		if ((n = ky_get(y, us, refused[i])) != NULL)
			return ky_err(y, n, "user \"%s\": %s is not supported (use a token, "
			    "tokenFile or a client certificate)", name, refused[i]);
	if ((n = ky_get(y, us, "tokenFile")) != NULL) {
		if (ky_path(y, n, "tokenFile", kc->kc_token_file,
		    sizeof(kc->kc_token_file)) == -1)
			return -1;
	} else if ((n = ky_get(y, us, "token")) != NULL) {
		if (ky_text(y, n, "token", &s) == -1)
			return -1;
		if (s.n == 0 || s.n > KUBE_TOKEN_MAX || text_has_ctl(s.p, s.n))
			return ky_err(y, n, "user \"%s\": token empty, over %d bytes or not "
			    "one line", name, KUBE_TOKEN_MAX);
		if ((kc->kc_token = mem_strdup(s.p, s.n)) == NULL)
			return ky_err(y, n, "out of memory");
		kc->kc_token_len = s.n;
	}
	if (ky_material(y, us, "client-certificate", "client certificate", &kc->kc_cert,
	    &kc->kc_cert_len) == -1 ||
	    ky_material(y, us, "client-key", "client key", &kc->kc_key, &kc->kc_key_len) == -1)
		return -1;
	if ((kc->kc_cert == NULL) != (kc->kc_key == NULL))
		return ky_err(y, us, "user \"%s\": a client certificate needs its key and a key "
		    "its certificate", name);
	return 0;
}

/* The whole walk from the root.  0 / -1 with err. */
static int
ky_walk(struct ky *y, const char *context, struct kube_config *kc)
{
	char ctxname[KUBE_CONTEXT_MAX + 1], clname[KUBE_NAME_MAX + 1], usname[KUBE_NAME_MAX + 1];
	yaml_node_t *root, *n, *ctx, *cl, *us;

	if ((root = yaml_document_get_root_node(y->doc)) == NULL)
		return ky_err(y, NULL, "empty file");
	if (root->type != YAML_MAPPING_NODE)
		return ky_err(y, root, "expected a mapping (apiVersion, clusters, ...)");
	if (context != NULL && context[0] != '\0') {
		if (strlen(context) > KUBE_CONTEXT_MAX)
			return ky_err(y, root, "context name over %d bytes", KUBE_CONTEXT_MAX);
		snprintf(ctxname, sizeof(ctxname), "%s", context);
		n = root;
	} else {
		if ((n = ky_get(y, root, "current-context")) == NULL)
			return ky_err(y, root, "no current-context (and no context given)");
		if (ky_copy(y, n, "current-context", ctxname, sizeof(ctxname)) == -1)
			return -1;
		if (ctxname[0] == '\0')
			return ky_err(y, n, "current-context is empty (and no context given)");
	}
	if ((ctx = ky_named(y, root, "contexts", ctxname, "context", n)) == NULL)
		return -1;
	if ((n = ky_get(y, ctx, "cluster")) == NULL)
		return ky_err(y, ctx, "context \"%s\" names no cluster", ctxname);
	if (ky_copy(y, n, "cluster", clname, sizeof(clname)) == -1)
		return -1;
	if ((cl = ky_named(y, root, "clusters", clname, "cluster", n)) == NULL)
		return -1;
	usname[0] = '\0';
	if ((n = ky_get(y, ctx, "user")) != NULL &&
	    ky_copy(y, n, "user", usname, sizeof(usname)) == -1)
		return -1;
	if (ky_cluster(y, cl, clname, kc) == -1)
		return -1;
	if (usname[0] != '\0') {
		if ((us = ky_named(y, root, "users", usname, "user", n)) == NULL)
			return -1;
		if (ky_user(y, us, usname, kc) == -1)
			return -1;
	}
	snprintf(kc->kc_origin, sizeof(kc->kc_origin), "%s, context %s", y->file, ctxname);
	snprintf(kc->kc_cluster, sizeof(kc->kc_cluster), "%s", clname);
	return 0;
}

/* Wipe what libyaml copied of the text: the document's scalars, the parser's buffers. */
static void
ky_wipe(yaml_parser_t *p, yaml_document_t *doc)
{
	yaml_node_t *n;

	if (doc != NULL)
		for (n = doc->nodes.start; n != NULL && n < doc->nodes.top; n++)
			if (n->type == YAML_SCALAR_NODE && n->data.scalar.value != NULL)
				explicit_bzero(n->data.scalar.value, n->data.scalar.length);
	if (p->buffer.start != NULL)
		explicit_bzero(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start != NULL)
		explicit_bzero(p->raw_buffer.start,
		    (size_t)(p->raw_buffer.end - p->raw_buffer.start));
}

int
kube_config_parse(struct kube_config *kc, const char *text, size_t len, const char *file,
    const char *dir, const char *context, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t doc;
	struct ky y = { &doc, file, dir, err, errlen };
	int rc;

	memset(kc, 0, sizeof(*kc));
	if (len > KUBE_CONFIG_MAX) {
		errf(err, errlen, "%s: over %d bytes", file, KUBE_CONFIG_MAX);
		return -1;
	}
	if (!yaml_parser_initialize(&p)) {
		errf(err, errlen, "%s: out of memory", file);
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		errf(err, errlen, "%s:%lu: %s%s%s", file, (unsigned long)p.problem_mark.line + 1,
		    p.context != NULL ? p.context : "", p.context != NULL ? ": " : "",
		    p.problem != NULL ? p.problem : "not YAML");
		ky_wipe(&p, NULL);
		yaml_parser_delete(&p);
		return -1;
	}
	rc = ky_walk(&y, context, kc);
	ky_wipe(&p, &doc);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc == -1)
		kube_config_free(kc);
	return rc;
}

int
kube_config_load(struct kube_config *kc, const char *path, const char *context, char *err,
    size_t errlen)
{
	char file[KUBE_PATH_MAX], dir[KUBE_PATH_MAX], *text, *slash;
	const char *env;
	size_t len;
	int rc;

	memset(kc, 0, sizeof(*kc));
	if (path != NULL && path[0] != '\0')
		rc = snprintf(file, sizeof(file), "%s", path);
	else if ((env = getenv("KUBECONFIG")) != NULL && env[0] != '\0')
		rc = snprintf(file, sizeof(file), "%.*s", (int)strcspn(env, ":"), env);
	else if ((env = getenv("HOME")) != NULL && env[0] != '\0')
		rc = snprintf(file, sizeof(file), "%s/.kube/config", env);
	else {
		errf(err, errlen, "no kubeconfig: neither KUBECONFIG nor HOME is set");
		return -1;
	}
	if (rc < 0 || (size_t)rc >= sizeof(file)) {
		errf(err, errlen, "kubeconfig path over %zu bytes", sizeof(file) - 1);
		return -1;
	}
	if (read_file_capped(file, KUBE_CONFIG_MAX, &text, &len) == -1) {
		errf(err, errlen, "%s: %s", file, errno == EFBIG ? "too big" : strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", file);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	rc = kube_config_parse(kc, text, len, file, dir, context, err, errlen);
	wipe_free(text, len);
	return rc;
}

/* Read dir/name (capped, whole).  0 / -1 with err. */
static int
kube_sa_file(const char *dir, const char *name, size_t max, char **out, size_t *len,
    char *path, size_t pathlen, char *err, size_t errlen)
{
	int n = snprintf(path, pathlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= pathlen) {
		errf(err, errlen, "in-cluster: %s: path too long", dir);
		return -1;
	}
	if (read_file_capped(path, max, out, len) == -1) {
		errf(err, errlen, "in-cluster: %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
kube_config_in_cluster(struct kube_config *kc, const char *dir, char *err, size_t errlen)
{
	const char *host = getenv(KUBE_ENV_HOST), *port = getenv(KUBE_ENV_PORT);
	char path[KUBE_PATH_MAX];
	unsigned long pn;
	char *tok;
	size_t toklen;
	int n;

	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
		return 1;
	if (dir == NULL)
		dir = KUBE_SA_DIR;
	memset(kc, 0, sizeof(*kc));
	if (strlen(host) > KUBE_HOST_MAX || text_has_ctl(host, strlen(host)) ||
	    strpbrk(host, "/@[]? #") != NULL ||
	    parse_uint_bounded(port, strlen(port), 65535, &pn) != 0 || pn == 0) {
		errf(err, errlen, "in-cluster: %s or %s is not a host and port", KUBE_ENV_HOST,
		    KUBE_ENV_PORT);
		return -1;
	}
	n = snprintf(kc->kc_server, sizeof(kc->kc_server), strchr(host, ':') != NULL ?
	    "https://[%s]:%lu" : "https://%s:%lu", host, pn);
	if (n < 0 || (size_t)n >= sizeof(kc->kc_server)) {
		errf(err, errlen, "in-cluster: server URL too long");
		return -1;
	}
	/* the token is read now to fail early; the client re-reads the file */
	if (kube_sa_file(dir, "token", KUBE_TOKEN_MAX, &tok, &toklen, kc->kc_token_file,
	    sizeof(kc->kc_token_file), err, errlen) == -1)
		goto fail;
	wipe_free(tok, toklen);
	if (kube_sa_file(dir, "ca.crt", KUBE_PEM_MAX, &kc->kc_ca, &kc->kc_ca_len, path,
	    sizeof(path), err, errlen) == -1)
		goto fail;
	snprintf(kc->kc_origin, sizeof(kc->kc_origin), "in-cluster (%s)", dir);
	return 0;
fail:
	kube_config_free(kc);
	return -1;
}

int
kube_config_find(struct kube_config *kc, const char *kubeconfig, const char *context,
    const char *sa_dir, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	int rc;

	if ((kubeconfig != NULL && kubeconfig[0] != '\0') || (env != NULL && env[0] != '\0'))
		return kube_config_load(kc, kubeconfig, context, err, errlen);
	if ((rc = kube_config_in_cluster(kc, sa_dir, err, errlen)) != 1)
		return rc;
	return kube_config_load(kc, NULL, context, err, errlen);
}

void
kube_config_free(struct kube_config *kc)
{
	wipe_free(kc->kc_ca, kc->kc_ca_len);
	wipe_free(kc->kc_cert, kc->kc_cert_len);
	wipe_free(kc->kc_key, kc->kc_key_len);
	wipe_free(kc->kc_token, kc->kc_token_len);
	explicit_bzero(kc, sizeof(*kc));
}
