/*
 * test_control.c: the control request parser (control.c:
 * control_parse_request), the line the control socket reads before any
 * handler sees it.  A request is a JSON array of 1 to CONTROL_ARGS_MAX
 * strings without NULs; anything else is refused with a message, *argv
 * NULL and *argc 0.  The line's length cap (CONTROL_LINE_MAX) is the
 * reader's (on_client), tested on the socket by tests/wire/test_control.py;
 * the parser takes whatever length it is given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/ops.h"

#define T_LONG_WORD	(CONTROL_LINE_MAX - 8)	/* bytes of one word in a line at the cap */

/* Parse the C string line as a request; returns argv (caller frees) or NULL. */
static char **
parse(const char *line, size_t len, size_t *argc, char *err, size_t errlen)
{
	char **argv = (char **)&argv;	/* not NULL: the parser must set it */

	*argc = 99;
	err[0] = '\0';
	if (control_parse_request(line, len, &argv, argc, err, errlen) == 0) {
		assert_non_null(argv);
		assert_null(argv[*argc]);
		assert_string_equal(err, "");
		return argv;
	}
	assert_null(argv);
	assert_int_equal(*argc, 0);
	return NULL;
}

/* line is refused with a message that starts with want. */
static void
refused(const char *line, size_t len, const char *want)
{
	char err[ERRBUF_LEN];
	size_t argc;

	if (parse(line, len, &argc, err, sizeof(err)) != NULL)
		fail_msg("accepted: %.*s", (int)len, line);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("%.*s: message \"%s\", want \"%s...\"", (int)len, line, err, want);
}

static void
refused_str(const char *line, const char *want)
{
	refused(line, strlen(line), want);
}

static void
test_valid(void **state)
{
	char err[ERRBUF_LEN], **argv;
	size_t argc;
	const char *line = "[\"spot-interrupt\",\"--action\",\"terminate\",\"--in\",\"2m\"]";

	(void)state;
	argv = parse(line, strlen(line), &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, 5);
	assert_string_equal(argv[0], "spot-interrupt");
	assert_string_equal(argv[1], "--action");
	assert_string_equal(argv[2], "terminate");
	assert_string_equal(argv[3], "--in");
	assert_string_equal(argv[4], "2m");
	free(argv);

	/* one word; white space around the JSON; an empty word is a word */
	line = " [ \"status\" ] ";
	argv = parse(line, strlen(line), &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, 1);
	assert_string_equal(argv[0], "status");
	free(argv);
	line = "[\"set\",\"\"]";
	argv = parse(line, strlen(line), &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "");
	free(argv);
}

static void
test_length_not_string(void **state)
{
	char err[ERRBUF_LEN], **argv;
	size_t argc;
	/* the bytes after len are not read: the second word is not there */
	const char *line = "[\"status\"]GARBAGE";

	(void)state;
	argv = parse(line, strlen("[\"status\"]"), &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, 1);
	assert_string_equal(argv[0], "status");
	free(argv);
	refused(line, strlen(line), "the request is not JSON: ");
}

static void
test_escapes(void **state)
{
	char err[ERRBUF_LEN], **argv;
	size_t argc;
	const char *line = "[\"a\\\"b\",\"c\\\\d\",\"\\u00fc\\n\\t\",\"\\ud83d\\ude00\",\"\\/\"]";

	(void)state;
	argv = parse(line, strlen(line), &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, 5);
	assert_string_equal(argv[0], "a\"b");
	assert_string_equal(argv[1], "c\\d");
	assert_string_equal(argv[2], "\xc3\xbc\n\t");
	assert_string_equal(argv[3], "\xf0\x9f\x98\x80");
	assert_string_equal(argv[4], "/");
	free(argv);
	/* a bad escape, a lone surrogate, raw control bytes, invalid UTF-8 */
	refused_str("[\"a\\qb\"]", "the request is not JSON: ");
	refused_str("[\"\\ud83d\"]", "the request is not JSON: ");
	refused_str("[\"a\tb\"]", "the request is not JSON: ");
	refused_str("[\"a\nb\"]", "the request is not JSON: ");
	refused_str("[\"\xc3\x28\"]", "the request is not JSON: ");
	refused_str("[\"\xff\"]", "the request is not JSON: ");
}

static void
test_nul(void **state)
{
	static const char raw[] = "[\"a\0b\"]";	/* a NUL byte inside the string */

	(void)state;
	/* \u0000 would cut the word short: refused, as is a NUL byte */
	refused_str("[\"status\",\"a\\u0000b\"]", "the request is not JSON: ");
	refused_str("[\"\\u0000\"]", "the request is not JSON: ");
	refused(raw, sizeof(raw) - 1, "the request is not JSON: ");
	refused("\0", 1, "the request is not JSON: ");
}

static void
test_not_strings(void **state)
{
	(void)state;
	refused_str("[1]", "word 1 of the request is not a string (or holds a NUL)");
	refused_str("[\"status\",2]", "word 2 of the request is not a string");
	refused_str("[\"a\",\"b\",null]", "word 3 of the request is not a string");
	refused_str("[\"a\",true]", "word 2 of the request is not a string");
	refused_str("[\"a\",[\"b\"]]", "word 2 of the request is not a string");
	refused_str("[\"a\",{\"b\":\"c\"}]", "word 2 of the request is not a string");
	refused_str("[1.5,\"a\"]", "word 1 of the request is not a string");
}

static void
test_not_arrays(void **state)
{
	char want[ERRBUF_LEN];

	(void)state;
	snprintf(want, sizeof(want), "the request is a JSON array of 1 to %d strings",
	    CONTROL_ARGS_MAX);
	refused_str("[]", want);
	refused_str("{}", want);
	refused_str("{\"verb\":\"status\"}", want);
	/* a bare value is not a JSON text jansson takes by default */
	refused_str("\"status\"", "the request is not JSON: ");
	refused_str("7", "the request is not JSON: ");
}

static void
test_bad_json(void **state)
{
	(void)state;
	refused("", 0, "the request is not JSON: ");
	refused_str(" ", "the request is not JSON: ");
	refused_str("status", "the request is not JSON: ");
	refused_str("[\"status\"", "the request is not JSON: ");
	refused_str("[\"status]", "the request is not JSON: ");
	refused_str("[\"a\",]", "the request is not JSON: ");
	refused_str("[\"a\" \"b\"]", "the request is not JSON: ");
	refused_str("['a']", "the request is not JSON: ");
	refused_str("[\"a\"][\"b\"]", "the request is not JSON: ");
	refused_str("[\"a\"] x", "the request is not JSON: ");
	refused_str("[\"a\",x]", "the request is not JSON: ");
}

static void
test_error_names_column(void **state)
{
	char err[ERRBUF_LEN];
	size_t argc;

	(void)state;
	assert_null(parse("[\"a\",x]", 7, &argc, err, sizeof(err)));
	assert_non_null(strstr(err, "(column 6)"));
	/* a small buffer: the message is cut, never overrun */
	assert_null(parse("[1]", 3, &argc, err, 8));
	assert_int_equal(strlen(err), 7);
}

static void
test_word_count(void **state)
{
	char line[CONTROL_ARGS_MAX * 8 + 16], err[ERRBUF_LEN], want[ERRBUF_LEN], **argv;
	size_t argc, len, i;

	(void)state;
	/* exactly CONTROL_ARGS_MAX words: accepted, in order */
	len = (size_t)snprintf(line, sizeof(line), "[\"w0\"");
	for (i = 1; i < CONTROL_ARGS_MAX; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, ",\"w%zu\"", i);
	snprintf(line + len, sizeof(line) - len, "]");
	argv = parse(line, strlen(line), &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, CONTROL_ARGS_MAX);
	for (i = 0; i < CONTROL_ARGS_MAX; i++) {
		char w[16];

		snprintf(w, sizeof(w), "w%zu", i);
		assert_string_equal(argv[i], w);
	}
	free(argv);
	/* one more: refused */
	snprintf(line + len, sizeof(line) - len, ",\"one-too-many\"]");
	snprintf(want, sizeof(want), "the request is a JSON array of 1 to %d strings",
	    CONTROL_ARGS_MAX);
	refused_str(line, want);
}

static void
test_long_words(void **state)
{
	char *line, err[ERRBUF_LEN], **argv;
	size_t argc, len;

	(void)state;
	/* a line at the reader's cap, one long word: the parser takes it whole */
	assert_non_null(line = malloc(CONTROL_LINE_MAX + 1));
	line[0] = '[';
	line[1] = '"';
	memset(line + 2, 'x', T_LONG_WORD);
	memcpy(line + 2 + T_LONG_WORD, "\"]", 3);
	len = strlen(line);
	assert_true(len < CONTROL_LINE_MAX);
	argv = parse(line, len, &argc, err, sizeof(err));
	assert_non_null(argv);
	assert_int_equal(argc, 1);
	assert_int_equal(strlen(argv[0]), T_LONG_WORD);
	assert_int_equal(argv[0][T_LONG_WORD - 1], 'x');
	free(argv);
	/* cut anywhere inside: not JSON */
	refused(line, len - 1, "the request is not JSON: ");
	refused(line, len / 2, "the request is not JSON: ");
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_length_not_string),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_not_strings),
		cmocka_unit_test(test_not_arrays),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_error_names_column),
		cmocka_unit_test(test_word_count),
		cmocka_unit_test(test_long_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
