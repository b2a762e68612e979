/*
 * internal.h: what the files of imds/ share and nothing outside uses.
 *
 *   instance.c   jpath, instance_is_fact_path (snapshot.c overlays the rest)
 *   tree.c       md_under (roles.c, routes.c: is a path at or below a name)
 *   roles.c      ref_drop (the snapshot's and a role view's reference counts)
 *   lifecycle.c  the checked changes lifecycle_json.c's scenario makes too
 *   identity.c   the keys, for identity_sign.c
 *   config_where.c  where a value is in a config file's text, for config.c
 *   config.c     the checking context, for config_creds.c (its sections)
 */
#ifndef IMDS_INTERNAL_H
#define IMDS_INTERNAL_H

#include <jansson.h>

#include "imds/imds.h"

#define PATH_META		"meta-data"	/* the instance's tree under a version */
#define PATH_DOCUMENT		"dynamic/instance-identity/document"	/* §9.1 */

/* Walk "a/b/c" through nested objects; NULL when a step is missing. */
json_t		*jpath(json_t *obj, const char *path);
/* 1 when path ("meta-data/...") is rendered from the facts: a config string there is not overlaid. */
int		 instance_is_fact_path(const char *path);
/* 1 when p[0..n) is name[0..k) or starts with it followed by '/'. */
int		 md_under(const char *p, size_t n, const char *name, size_t k);

/* config_where.c: finding a value again in JSON text jansson has accepted */
/*
 * In the object opening at t[i], the offset of the member named
 * name[0..nlen) (its key's opening quote), and in *val where its value
 * starts.  (size_t)-1 if there is none as written (a key spelt with escapes).
 */
size_t		 js_member(const char *t, size_t len, size_t i, const char *name, size_t nlen,
		    size_t *val);
/*
 * The offset of what path ("options/http-tokens", "scenario/events/1")
 * names, a member's key or an array element, and in *val where its value
 * starts; (size_t)-1 if it is not found.
 */
size_t		 js_locate(const char *t, size_t len, const char *path, size_t plen, size_t *val);
/* config.c: the context a config file is checked in, and its messages */
#define POD_ASSOC_KEY		"pod-identity-associations"
#define ROLE_MAP_KEY		"role-map"
struct cfg_ctx {
	const char	*cx_name;	/* file name for messages */
	const char	*cx_text;	/* the file's text, to say where an error is */
	size_t		 cx_len;
	const char	*cx_key;	/* a bad key under the message's path, or NULL */
	char		*cx_err;
	size_t		 cx_errlen;
	char		 cx_path[MD_PATH_MAX + 1];	/* path being checked */
	size_t		 cx_pathlen;
};

/*
 * "NAME: " + message, one line; when the path the message starts with
 * ("options/http-tokens: ...") is found in the text, NAME:LINE:COL.
 */
void		 cfg_err(struct cfg_ctx *cx, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Where path (and cx_key under it, if set) is in the text: 1 with its line and column, 0. */
int		 cfg_where(const struct cfg_ctx *cx, const char *path, size_t plen, size_t *line,
		    size_t *col);
/* "a string", "a number", ...: what a value is, for messages. */
const char	*cfg_jtype(const json_t *v);
/* Append "/key" (or "key" at the top) to cx_path, its old length in *saved.  0 / -1. */
int		 cfg_path_push(struct cfg_ctx *cx, const char *key, size_t *saved);
void		 cfg_path_pop(struct cfg_ctx *cx, size_t saved);
/* config_creds.c: the credential endpoints' sections.  0 / -1 with cfg_err's message. */
int		 config_check_pod_assoc(struct cfg_ctx *cx, json_t *arr, struct config *cfg);
int		 config_check_role_map(struct cfg_ctx *cx, json_t *map, struct config *cfg);
int		 config_check_ecs(struct cfg_ctx *cx, json_t *ids);

/* Drop a holder's reference: 1 when it was the last (free the thing now), else 0. */
int		 ref_drop(unsigned *refs);

/* lifecycle.c: the checked changes lifecycle_json.c's scenario makes too */
/* The notice of a spot interruption: action, served from notice_at, the action at when. */
void		 life_spot_set(struct lifecycle *l, const char *action, time_t notice_at,
		    time_t when);
/* Move scheduled event i to history in state st. */
void		 life_event_end(struct lifecycle *l, size_t i, enum life_event_state st);
/* Add a scheduled event; its id into id (NULL: not wanted).  0 / -1 with err. */
int		 life_event_add(struct lifecycle *l, const char *code, const char *desc,
		    time_t nb, time_t na, time_t now, char *id, size_t idlen, char *err,
		    size_t errlen);
/* Check one tag edit; room counts the new keys this batch adds.  0 / -1 with err. */
int		 life_tag_check(const struct lifecycle *l, const char *key, size_t klen,
		    const char *value, size_t *room, char *err, size_t errlen);
/* Record a tag edit (value NULL: removed); the checks are done. */
void		 life_tag_put(struct lifecycle *l, const char *key, const char *value,
		    size_t vlen);
/* 1 when s is a spot action (terminate, stop, hibernate). */
int		 life_spot_action_ok(const char *s);
/* 1 when s is an Auto Scaling target lifecycle state (contract §8.1). */
int		 life_asg_state_ok(const char *s);

/* identity.c and identity_sign.c */
#define ID_SIGS_MARK		"=signatures "	/* after the generator's PEM: the lengths, then the bodies */
struct evp_pkey_st;	/* OpenSSL's EVP_PKEY */
struct x509_st;		/* OpenSSL's X509 */
/* One signing role: its key and the self-signed certificate of that key. */
struct id_role {
	const char	*kr_name;	/* "signature", "pkcs7", "rsa2048": the CN suffix */
	struct evp_pkey_st *kr_key;
	struct x509_st	*kr_cert;
};
/* The signing roles: indexes of an id_role array. */
enum { ROLE_SIG, ROLE_DSA, ROLE_RSA2048, ROLE_COUNT };
/* identity.c */
/*
 * Format "what: first queued OpenSSL error" into err and clear the queue.
 * Always returns -1 so that callers can write `return id_ossl_fail(...)`.
 */
int		 id_ossl_fail(char *err, size_t errlen, const char *what);
/* wipe_free *p (len bytes), and forget it. */
void		 id_wipe_drop(char **p, size_t len);
/* The keys to sign with (the generator's parsed on first use); NULL with err. */
const struct id_role *id_keys(char *err, size_t errlen);
/* identity_sign.c */
/* The three signatures of doc with roles' keys.  0 / -1 with err. */
int		 id_sign_doc(const struct id_role *roles, const char *doc, size_t len,
		    struct identity_sigs *out, char *err, size_t errlen);
/* Forget the last document signed. */
void		 id_last_clear(void);
/*
 * The signatures after the generator's PEM (p: at ID_SIGS_MARK, up to end)
 * become the last document's, for *doc (taken over: *doc NULL then).
 * Nothing usable: none kept.
 */
void		 id_take_sigs(const char *p, const char *end, char **doc, size_t doclen);
/* A malloc'd, NUL-terminated copy of len bytes at p into *dst.  0 / -1. */
int		 id_dup_bytes(char **dst, size_t *dstlen, const char *p, size_t len);

#endif /* IMDS_INTERNAL_H */
