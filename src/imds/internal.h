/*
 * internal.h: what the files of imds/ share and nothing outside uses.
 *
 *   instance.c   jpath, instance_is_fact_path (snapshot.c overlays the rest)
 *   tree.c       md_under (roles.c, routes.c: is a path at or below a name)
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

#endif /* IMDS_INTERNAL_H */
