/*
 * Assertions on the nodes of a served tree, for the unit tests that look
 * paths up (test_instance.c, test_roles.c).  Include after <cmocka.h> and
 * imds/imds.h.
 */
#ifndef TREE_ASSERT_H
#define TREE_ASSERT_H

#include <string.h>

/* The node at path (n, as looked up) exists and its body is want, byte for byte. */
static inline void
assert_node_body(const struct md_node *n, const char *path, const char *want)
{
	if (n == NULL)
		print_error("missing: %s\n", path);
	assert_non_null(n);
	if (n->n_bodylen != strlen(want) || memcmp(n->n_body, want, n->n_bodylen) != 0)
		print_error("%s:\n got  [%.*s]\n want [%s]\n", path, (int)n->n_bodylen,
		    n->n_body, want);
	assert_int_equal(n->n_bodylen, strlen(want));
	assert_memory_equal(n->n_body, want, n->n_bodylen);
}

/* Nothing is at path (n, as looked up). */
static inline void
assert_node_absent(const struct md_node *n, const char *path)
{
	if (n != NULL)
		print_error("present: %s\n", path);
	assert_null(n);
}

#endif /* TREE_ASSERT_H */
