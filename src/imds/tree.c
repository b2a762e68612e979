/*
 * tree.c: the metadata tree.
 *
 * A tree is built with tree_set / tree_set_list / tree_set_json /
 * tree_mkdir / tree_remove, then frozen by tree_finalize, which drops what
 * must not be served and computes every directory's listing (contract
 * §2.6).  After that it is only read, with tree_lookup, which allocates
 * nothing.
 *
 * Children live in a plain array kept sorted bytewise by name, so a listing
 * is the array in order and a lookup is a binary search.  Each node owns its
 * name, its body and its children; freeing wipes every body first, because
 * some of them are credentials.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imds/imds.h"
#include "imds/internal.h"

#define TREE_KIDS_INIT	1	/* a child array's first room: most of a role view's dirs hold one */

/* Bytewise order of (a, alen) and (b, blen); a proper prefix sorts first. */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	if (alen == blen)
		return 0;
	return alen < blen ? -1 : 1;
}

int
tree_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > MD_NAME_MAX)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		/*
		 * Visible ASCII only: a name is both a listing line (so no LF)
		 * and a request-target segment ('?' starts a query, '#' a
		 * fragment, and neither could ever be fetched).
		 */
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#')
			return 0;
	}
	return 1;
}

/* Check a whole path: 1..MD_PATH_MAX bytes of valid segments.  0 / -1. */
static int
path_ok(const char *path)
{
	const char *p, *slash;
	size_t len;

	if (path == NULL)
		return -1;
	len = strlen(path);
	if (len == 0 || len > MD_PATH_MAX)
		return -1;
	for (p = path; ; p = slash + 1) {
		slash = strchr(p, '/');
		if (!tree_name_ok(p, slash ? (size_t)(slash - p) : strlen(p)))
			return -1;
		if (slash == NULL)
			return 0;
	}
}

/*
 * Binary search of dir's children for name.  Returns the child or NULL;
 * *pos gets its index, or where it would be inserted.
 */
static struct md_node *
kid_find(const struct md_node *dir, const char *name, size_t len, size_t *pos)
{
	size_t lo = 0, hi = dir->n_nkids, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = name_cmp(name, len, dir->n_kids[mid].n_name, dir->n_kids[mid].n_namelen);
		if (c == 0) {
			if (pos != NULL)
				*pos = mid;
			return &dir->n_kids[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (pos != NULL)
		*pos = lo;
	return NULL;
}

/* Wipe and free a body: any body may be a secret. */
static void
body_free(struct md_node *n)
{
	wipe_free(n->n_body, n->n_bodylen);
	n->n_body = NULL;
	n->n_bodylen = 0;
}

/* Free everything a node holds except its name; it is left an empty leaf. */
static void
node_clear(struct md_node *n)
{
	size_t i;

	for (i = 0; i < n->n_nkids; i++) {
		node_clear(&n->n_kids[i]);
		free(n->n_kids[i].n_name);
	}
	free(n->n_kids);
	n->n_kids = NULL;
	n->n_nkids = n->n_capkids = 0;
	body_free(n);
	n->n_dir = 0;
	n->n_keep_empty = 0;
}

/* Turn n into an empty directory, unless it already is a directory. */
static void
node_make_dir(struct md_node *n)
{
	if (n->n_dir)
		return;
	node_clear(n);
	n->n_dir = 1;
}

/*
 * Insert a new empty leaf called name at index pos of dir.  Returns it, or
 * NULL on allocation failure.  Pointers to dir's children move.
 */
static struct md_node *
kid_insert(struct md_node *dir, size_t pos, const char *name, size_t len)
{
	struct md_node *kids, *n;
	char *nm;

	if ((nm = mem_strdup(name, len)) == NULL)
		return NULL;
	if (dir->n_nkids == dir->n_capkids) {
		if ((kids = array_grow(dir->n_kids, &dir->n_capkids, sizeof(*kids),
		    TREE_KIDS_INIT, SIZE_MAX)) == NULL) {
			free(nm);
			return NULL;
		}
		dir->n_kids = kids;
	}
	memmove(&dir->n_kids[pos + 1], &dir->n_kids[pos],
	    (dir->n_nkids - pos) * sizeof(*dir->n_kids));
	dir->n_nkids++;
	n = &dir->n_kids[pos];
	memset(n, 0, sizeof(*n));
	n->n_name = nm;
	n->n_namelen = len;
	return n;
}

/*
 * A directory listing (contract §2.6): names, '/' after directories, LF
 * between, none after.  One line into body at *off, LF first unless first.
 */
static void
list_line(char *body, size_t *off, int first, const char *name, size_t len, int dir)
{
	if (!first)
		body[(*off)++] = '\n';
	memcpy(body + *off, name, len);
	*off += len;
	if (dir)
		body[(*off)++] = '/';
}

/* Bytes of d's listing as it is (no NUL). */
static size_t
listing_len(const struct md_node *d)
{
	size_t i, total = 0;

	for (i = 0; i < d->n_nkids; i++)
		total += d->n_kids[i].n_namelen + (size_t)d->n_kids[i].n_dir + (i > 0);
	return total;
}

/*
 * Walk to path.  With create, what is missing is made on the way:
 * intermediate nodes become directories (a leaf in the way included), the
 * last one an empty leaf.  Without, nothing changes.  NULL for a bad path,
 * an absent node (without create) or an allocation failure (with it).
 * *parent and *pos, when asked for, get the node's directory and index.
 */
static struct md_node *
walk(struct md_node *root, const char *path, int create, struct md_node **parent,
    size_t *pos)
{
	struct md_node *cur = root, *kid;
	const char *p = path, *slash;
	size_t len, at;

	if (root == NULL || path_ok(path) == -1)
		return NULL;
	for (;;) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (create)
			node_make_dir(cur);
		else if (!cur->n_dir)
			return NULL;
		if ((kid = kid_find(cur, p, len, &at)) == NULL &&
		    (!create || (kid = kid_insert(cur, at, p, len)) == NULL))
			return NULL;
		if (slash == NULL)
			break;
		cur = kid;
		p = slash + 1;
	}
	if (parent != NULL)
		*parent = cur;
	if (pos != NULL)
		*pos = at;
	return kid;
}

struct md_node *
tree_new(void)
{
	struct md_node *root;

	if ((root = calloc(1, sizeof(*root))) == NULL)
		return NULL;
	root->n_dir = 1;
	return root;
}

void
tree_free(struct md_node *root)
{
	if (root == NULL)
		return;
	node_clear(root);
	free(root->n_name);
	free(root);
}

/*
 * The leaf at path gets body[0..len) (malloc'd, NUL-terminated), which it
 * owns from here on, also on failure (then wiped and freed).  0 / -1.
 */
static int
set_owned(struct md_node *root, const char *path, char *body, size_t len)
{
	struct md_node *n;

	if (len > MD_BODY_MAX || (n = walk(root, path, 1, NULL, NULL)) == NULL) {
		wipe_free(body, len);
		return -1;
	}
	node_clear(n);		/* replaces a leaf or a whole directory */
	n->n_body = body;
	n->n_bodylen = len;
	return 0;
}

int
tree_set(struct md_node *root, const char *path, const char *val, size_t len)
{
	char *body;

	if (len > MD_BODY_MAX || (val == NULL && len > 0))
		return -1;
	if ((body = mem_strdup(val, len)) == NULL)
		return -1;
	return set_owned(root, path, body, len);
}

int
tree_set_json(struct md_node *root, const char *path, struct jbuf *j)
{
	size_t len;
	char *doc;

	/* the document is already a block of its own size: the leaf keeps it */
	if ((doc = jbuf_take(j, &len)) == NULL)
		return -1;
	return set_owned(root, path, doc, len);
}

int
tree_set_list(struct md_node *root, const char *path, const char *const *vals, size_t n)
{
	size_t i, total = 0, off = 0, l;
	char *buf;

	for (i = 0; i < n; i++) {
		l = strlen(vals[i]);
		if (l > MD_BODY_MAX || total > MD_BODY_MAX)
			return -1;
		total += l + (i > 0);
	}
	if (total > MD_BODY_MAX)
		return -1;
	if ((buf = malloc(total + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		list_line(buf, &off, i == 0, vals[i], strlen(vals[i]), 0);
	buf[off] = '\0';
	return set_owned(root, path, buf, off);
}

int
tree_mkdir(struct md_node *root, const char *path)
{
	struct md_node *n;

	if ((n = walk(root, path, 1, NULL, NULL)) == NULL)
		return -1;
	node_make_dir(n);
	return 0;
}

int
tree_keep_empty(struct md_node *root, const char *path)
{
	struct md_node *n;

	if ((n = walk(root, path, 0, NULL, NULL)) == NULL || n->n_dir)
		return -1;
	n->n_keep_empty = 1;
	return 0;
}

int
tree_remove(struct md_node *root, const char *path)
{
	struct md_node *n, *parent = NULL;
	size_t pos = 0;

	if ((n = walk(root, path, 0, &parent, &pos)) == NULL)
		return 1;
	node_clear(n);
	free(n->n_name);
	memmove(&parent->n_kids[pos], &parent->n_kids[pos + 1],
	    (parent->n_nkids - pos - 1) * sizeof(*parent->n_kids));
	parent->n_nkids--;
	return 0;
}

/* Whether a finalized child stays: no empty bodies (§2.6), no empty dirs. */
static int
node_served(const struct md_node *n)
{
	if (n->n_dir)
		return n->n_nkids > 0;
	return n->n_bodylen > 0 || n->n_keep_empty;
}

/* Finalize the directory d: children first, then prune, then list. */
static int
finalize_dir(struct md_node *d)
{
	size_t i, keep = 0, total = 0, off = 0;
	char *body;

	for (i = 0; i < d->n_nkids; i++)
		if (d->n_kids[i].n_dir && finalize_dir(&d->n_kids[i]) == -1)
			return -1;
	for (i = 0; i < d->n_nkids; i++) {
		if (!node_served(&d->n_kids[i])) {
			node_clear(&d->n_kids[i]);
			free(d->n_kids[i].n_name);
			continue;
		}
		if (keep != i)
			d->n_kids[keep] = d->n_kids[i];
		keep++;
	}
	d->n_nkids = keep;

	if ((total = listing_len(d)) > MD_BODY_MAX)
		return -1;
	if ((body = malloc(total + 1)) == NULL)
		return -1;
	for (i = 0; i < d->n_nkids; i++)
		list_line(body, &off, i == 0, d->n_kids[i].n_name, d->n_kids[i].n_namelen,
		    d->n_kids[i].n_dir);
	body[off] = '\0';
	body_free(d);
	d->n_body = body;
	d->n_bodylen = off;
	return 0;
}

int
tree_finalize(struct md_node *root)
{
	if (root == NULL || !root->n_dir)
		return -1;
	return finalize_dir(root);
}

char *
tree_listing_with_dir(const struct md_node *dir, const char *name, size_t len,
    size_t *outlen)
{
	const struct md_node *k;
	size_t i, pos, total = 0, off = 0;
	int there;
	char *body;

	if (dir == NULL || !dir->n_dir || !tree_name_ok(name, len))
		return NULL;
	there = kid_find(dir, name, len, &pos) != NULL;
	total = listing_len(dir);
	if (there)
		total += !dir->n_kids[pos].n_dir;	/* a leaf of that name: its '/' */
	else
		total += len + 1 + (dir->n_nkids > 0);
	if (total > MD_BODY_MAX || (body = malloc(total + 1)) == NULL)
		return NULL;
	/* finalize_dir's format: names, '/' after directories, LF between */
	for (i = 0; i <= dir->n_nkids; i++) {
		if (i == pos && !there)
			list_line(body, &off, off == 0, name, len, 1);
		if (i == dir->n_nkids)
			break;
		k = &dir->n_kids[i];
		list_line(body, &off, off == 0, k->n_name, k->n_namelen,
		    k->n_dir || (there && i == pos));
	}
	body[off] = '\0';
	*outlen = off;
	return body;
}

const struct md_node *
tree_lookup(const struct md_node *root, const char *path, size_t len)
{
	const struct md_node *cur = root;
	const char *p = path, *end = path + len, *slash;
	size_t seg;

	if (root == NULL)
		return NULL;
	while (p < end || (p == end && p != path && p[-1] == '/')) {
		/* p == end after a '/' means a trailing or doubled slash: no match */
		slash = memchr(p, '/', (size_t)(end - p));
		seg = slash ? (size_t)(slash - p) : (size_t)(end - p);
		if (seg == 0 || !cur->n_dir)
			return NULL;
		if ((cur = kid_find(cur, p, seg, NULL)) == NULL)
			return NULL;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return cur;
}

int
md_under(const char *p, size_t n, const char *name, size_t k)
{
	return n >= k && memcmp(p, name, k) == 0 && (n == k || p[k] == '/');
}
