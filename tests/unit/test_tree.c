/*
 * test_tree.c: the metadata tree builder, finalize and lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imds/imds.h"

/* Look up a C-string path. */
static const struct md_node *
look(const struct md_node *root, const char *path)
{
	return tree_lookup(root, path, strlen(path));
}

/* The body of path, which must exist, compared as exact bytes. */
static void
assert_body(const struct md_node *root, const char *path, const char *want)
{
	const struct md_node *n = look(root, path);

	assert_non_null(n);
	assert_int_equal(n->n_bodylen, strlen(want));
	assert_memory_equal(n->n_body, want, n->n_bodylen);
}

/*
 * Every directory's listing names exactly its children, in order, dirs
 * suffixed '/', no trailing LF; no leaf is empty unless kept; children are
 * strictly sorted.
 */
static void
check_walk(const struct md_node *d)
{
	char *want;
	size_t i, off = 0, total = 0;

	assert_true(d->n_dir);
	for (i = 0; i < d->n_nkids; i++)
		total += d->n_kids[i].n_namelen + 2;
	want = malloc(total + 1);
	assert_non_null(want);
	for (i = 0; i < d->n_nkids; i++) {
		const struct md_node *k = &d->n_kids[i];
		if (i > 0) {
			const struct md_node *p = &d->n_kids[i - 1];
			size_t m = p->n_namelen < k->n_namelen ? p->n_namelen : k->n_namelen;
			int c = memcmp(p->n_name, k->n_name, m);
			assert_true(c < 0 || (c == 0 && p->n_namelen < k->n_namelen));
			want[off++] = '\n';
		}
		memcpy(want + off, k->n_name, k->n_namelen);
		off += k->n_namelen;
		if (k->n_dir) {
			want[off++] = '/';
			assert_true(k->n_nkids > 0);
			check_walk(k);
		} else {
			assert_true(k->n_bodylen > 0 || k->n_keep_empty);
			assert_non_null(k->n_body);
		}
	}
	assert_int_equal(d->n_bodylen, off);
	assert_memory_equal(d->n_body, want, off);
	free(want);
}

static void
test_set_lookup_listing(void **state)
{
	struct md_node *t = tree_new();

	(void)state;
	assert_non_null(t);
	assert_int_equal(tree_set(t, "meta-data/public-ipv4", "203.0.113.25", 12), 0);
	assert_int_equal(tree_set(t, "meta-data/ami-id", "ami-1", 5), 0);
	assert_int_equal(tree_set(t, "meta-data/placement/region", "us-east-1", 9), 0);
	assert_int_equal(tree_set(t, "meta-data/public-hostname", "h", 1), 0);
	assert_int_equal(tree_set(t, "meta-data/iam/info", "{}", 2), 0);
	assert_int_equal(tree_set(t, "dynamic/x", "y", 1), 0);
	assert_int_equal(tree_finalize(t), 0);

	assert_body(t, "", "dynamic/\nmeta-data/");
	assert_body(t, "meta-data", "ami-id\niam/\nplacement/\npublic-hostname\npublic-ipv4");
	assert_body(t, "meta-data/placement/region", "us-east-1");
	assert_body(t, "meta-data/iam", "info");
	assert_non_null(look(t, "meta-data/iam"));
	assert_true(look(t, "meta-data/iam")->n_dir);
	assert_false(look(t, "meta-data/iam/info")->n_dir);
	/* tree_lookup takes single slashes only: routes.c collapses them */
	assert_null(look(t, "meta-data/"));
	assert_null(look(t, "/meta-data"));
	assert_null(look(t, "meta-data//ami-id"));
	assert_null(look(t, "meta-data/ami-id/x"));
	assert_null(look(t, "meta-data/ami"));
	assert_null(look(t, "meta-data/ami-idx"));
	assert_null(look(t, "meta-data/./ami-id"));
	/* a length shorter than the string: only that much is looked up */
	assert_non_null(tree_lookup(t, "meta-data/ami-id-and-more", 16));
	assert_ptr_equal(tree_lookup(t, "meta-data/ami-id-and-more", 16), look(t, "meta-data/ami-id"));
	assert_ptr_equal(tree_lookup(t, "", 0), t);
	check_walk(t);
	tree_free(t);
}

static void
test_bad_paths(void **state)
{
	struct md_node *t = tree_new();
	char longname[MD_NAME_MAX + 2], longpath[MD_PATH_MAX + 2];
	size_t i;

	(void)state;
	assert_int_equal(tree_set(t, "", "v", 1), -1);
	assert_int_equal(tree_set(t, "/a", "v", 1), -1);
	assert_int_equal(tree_set(t, "a/", "v", 1), -1);
	assert_int_equal(tree_set(t, "a//b", "v", 1), -1);
	assert_int_equal(tree_set(t, "a/./b", "v", 1), -1);
	assert_int_equal(tree_set(t, "a/../b", "v", 1), -1);
	assert_int_equal(tree_set(t, ".", "v", 1), -1);
	assert_int_equal(tree_set(t, "..", "v", 1), -1);
	assert_int_equal(tree_set(t, "a b", "v", 1), -1);
	assert_int_equal(tree_set(t, "a\nb", "v", 1), -1);
	assert_int_equal(tree_set(t, "a?b", "v", 1), -1);
	assert_int_equal(tree_set(t, "a#b", "v", 1), -1);
	assert_int_equal(tree_set(t, "caf\xc3\xa9", "v", 1), -1);
	assert_int_equal(tree_set(t, NULL, "v", 1), -1);
	assert_int_equal(tree_set(t, "a", NULL, 1), -1);
	assert_int_equal(tree_mkdir(t, "x//y"), -1);
	assert_int_equal(tree_keep_empty(t, "x//y"), -1);
	assert_int_equal(tree_remove(t, "x//y"), 1);

	memset(longname, 'n', sizeof(longname));
	longname[MD_NAME_MAX] = '\0';
	assert_int_equal(tree_set(t, longname, "v", 1), 0);	/* exactly the max */
	longname[MD_NAME_MAX] = 'n';
	longname[MD_NAME_MAX + 1] = '\0';
	assert_int_equal(tree_set(t, longname, "v", 1), -1);

	/* "a/a/a/...": MD_PATH_MAX bytes is fine, one more is not */
	for (i = 0; i < MD_PATH_MAX; i++)
		longpath[i] = i % 2 ? '/' : 'a';
	longpath[MD_PATH_MAX - 1] = 'a';	/* MD_PATH_MAX is even: end on a name */
	longpath[MD_PATH_MAX] = '\0';
	assert_int_equal(tree_set(t, longpath, "v", 1), 0);
	longpath[MD_PATH_MAX] = 'a';
	longpath[MD_PATH_MAX + 1] = '\0';
	assert_int_equal(tree_set(t, longpath, "v", 1), -1);

	/* odd bytes but valid names are accepted: MACs, tag keys, percent */
	assert_int_equal(tree_set(t, "0e:49:61:0f:c3:11", "v", 1), 0);
	assert_int_equal(tree_set(t, "k+-=.,_:@", "v", 1), 0);
	assert_int_equal(tree_set(t, "a%20b", "v", 1), 0);
	assert_int_equal(tree_set(t, "...", "v", 1), 0);
	assert_int_equal(tree_finalize(t), 0);
	check_walk(t);
	tree_free(t);
}

static void
test_name_ok(void **state)
{
	(void)state;
	assert_true(tree_name_ok("a", 1));
	assert_true(tree_name_ok(".a", 2));
	assert_true(tree_name_ok("a..", 3));
	assert_false(tree_name_ok("", 0));
	assert_false(tree_name_ok(".", 1));
	assert_false(tree_name_ok("..", 2));
	assert_false(tree_name_ok("a/b", 3));
	assert_false(tree_name_ok("a\tb", 3));
	assert_false(tree_name_ok("a\x7f", 2));
	assert_false(tree_name_ok("a\0b", 3));
}

static void
test_replace(void **state)
{
	struct md_node *t = tree_new();
	const char *vals[] = { "sg-1", "sg-2", "sg-3" };

	(void)state;
	/* a leaf in the way becomes a directory */
	assert_int_equal(tree_set(t, "a", "leaf", 4), 0);
	assert_int_equal(tree_set(t, "a/b/c", "deep", 4), 0);
	assert_true(look(t, "a")->n_dir);
	/* a directory is replaced by a leaf, children and all */
	assert_int_equal(tree_set(t, "a/b", "flat", 4), 0);
	assert_false(look(t, "a/b")->n_dir);
	assert_null(look(t, "a/b/c"));
	/* a leaf is replaced by a leaf */
	assert_int_equal(tree_set(t, "a/b", "again", 5), 0);
	/* lists: LF-joined, no trailing LF */
	assert_int_equal(tree_set_list(t, "sg", vals, 3), 0);
	assert_int_equal(tree_set_list(t, "one", vals, 1), 0);
	assert_int_equal(tree_set_list(t, "none", vals, 0), 0);
	/* mkdir: keeps a directory, turns a leaf into one */
	assert_int_equal(tree_mkdir(t, "a"), 0);
	assert_non_null(look(t, "a/b"));
	assert_int_equal(tree_mkdir(t, "one"), 0);
	assert_true(look(t, "one")->n_dir);
	assert_int_equal(tree_set(t, "one/x", "1", 1), 0);
	/* bodies may hold any bytes, NUL included */
	assert_int_equal(tree_set(t, "bin", "a\0b\n", 4), 0);
	assert_int_equal(tree_finalize(t), 0);
	assert_body(t, "a/b", "again");
	assert_body(t, "sg", "sg-1\nsg-2\nsg-3");
	assert_body(t, "one", "x");
	assert_null(look(t, "none"));		/* empty: dropped */
	assert_int_equal(look(t, "bin")->n_bodylen, 4);
	assert_memory_equal(look(t, "bin")->n_body, "a\0b\n", 4);
	assert_body(t, "", "a/\nbin\none/\nsg");
	check_walk(t);
	tree_free(t);
}

static void
test_finalize_prunes(void **state)
{
	struct md_node *t = tree_new();

	(void)state;
	assert_int_equal(tree_set(t, "d/empty", "", 0), 0);
	assert_int_equal(tree_set(t, "d/kept", "", 0), 0);
	assert_int_equal(tree_keep_empty(t, "d/kept"), 0);
	assert_int_equal(tree_keep_empty(t, "d"), -1);		/* a directory */
	assert_int_equal(tree_keep_empty(t, "d/nope"), -1);	/* absent */
	assert_int_equal(tree_set(t, "e/f/g", "", 0), 0);	/* all empty: all gone */
	assert_int_equal(tree_mkdir(t, "h/i"), 0);
	assert_int_equal(tree_set(t, "z", "1", 1), 0);
	assert_int_equal(tree_finalize(t), 0);
	assert_body(t, "", "d/\nz");
	assert_body(t, "d", "kept");
	assert_int_equal(look(t, "d/kept")->n_bodylen, 0);
	assert_null(look(t, "d/empty"));
	assert_null(look(t, "e"));
	assert_null(look(t, "h"));
	check_walk(t);
	/* finalize twice is harmless */
	assert_int_equal(tree_finalize(t), 0);
	assert_body(t, "", "d/\nz");
	tree_free(t);

	/* an empty tree lists nothing */
	t = tree_new();
	assert_int_equal(tree_finalize(t), 0);
	assert_int_equal(t->n_bodylen, 0);
	assert_non_null(t->n_body);
	tree_free(t);
}

static void
test_remove(void **state)
{
	struct md_node *t = tree_new();

	(void)state;
	assert_int_equal(tree_set(t, "a/b", "1", 1), 0);
	assert_int_equal(tree_set(t, "a/c", "2", 1), 0);
	assert_int_equal(tree_set(t, "x", "3", 1), 0);
	assert_int_equal(tree_remove(t, "a/b"), 0);
	assert_int_equal(tree_remove(t, "a/b"), 1);
	assert_int_equal(tree_remove(t, "x/y"), 1);	/* through a leaf */
	assert_int_equal(tree_remove(t, "nope"), 1);
	assert_int_equal(tree_remove(t, "a"), 0);	/* a whole directory */
	assert_int_equal(tree_finalize(t), 0);
	assert_body(t, "", "x");
	tree_free(t);
}

/* Many names inserted in scrambled order: sorted, and each found. */
static void
test_many(void **state)
{
	struct md_node *t = tree_new();
	char name[32];
	unsigned i, k;
	const unsigned n = 1000;

	(void)state;
	for (i = 0; i < n; i++) {
		k = (i * 7919u) % n;	/* a permutation of 0..n-1 */
		snprintf(name, sizeof(name), "d/k%u", k);
		assert_int_equal(tree_set(t, name, name, strlen(name)), 0);
	}
	assert_int_equal(tree_finalize(t), 0);
	assert_int_equal(look(t, "d")->n_nkids, n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d/k%u", i);
		assert_body(t, name, name);
	}
	assert_null(look(t, "d/k1000"));
	assert_null(look(t, "d/k"));
	check_walk(t);
	tree_free(t);
}

static void
test_value_cap(void **state)
{
	struct md_node *t = tree_new();
	char *big = calloc(1, MD_BODY_MAX + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', MD_BODY_MAX + 1);
	assert_int_equal(tree_set(t, "max", big, MD_BODY_MAX), 0);
	assert_int_equal(tree_set(t, "over", big, MD_BODY_MAX + 1), -1);
	assert_int_equal(tree_finalize(t), 0);
	assert_int_equal(look(t, "max")->n_bodylen, MD_BODY_MAX);
	free(big);
	tree_free(t);
	tree_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_lookup_listing),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_finalize_prunes),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_value_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
