/*
 * fuzz_control.c: libFuzzer target for control_parse_request, the parser of
 * the control socket's request line.  The input is the line without its LF,
 * in a heap copy of exactly its length, so ASan sees any read past it.
 * Checked on every result:
 *   - 0: *argv is one block, 1..CONTROL_ARGS_MAX words then NULL, *argc
 *     their number; no word holds a NUL and their bytes fit in the input
 *     (JSON escapes only shrink: \uXXXX is at most 4 bytes of UTF-8 for 6
 *     or 12 of input); the array read back by jansson is the same words;
 *   - -1: *argv NULL, *argc 0, and the message is one of the fixed forms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ops/ops.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const forms[] = {
		"the request is not JSON: ", "the request is a JSON array of 1 to ",
		"word ", "out of memory", NULL
	};
	char *line, **argv = (char **)&argv, err[ERRBUF_LEN];
	size_t argc = 99, i, bytes = 0;
	json_t *root;

	if ((line = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(line, data, size);
	err[0] = '\0';
	if (control_parse_request(line, size, &argv, &argc, err, sizeof(err)) == 0) {
		FUZZ_CHECK(argv != NULL);
		FUZZ_CHECK(argc >= 1 && argc <= CONTROL_ARGS_MAX);
		FUZZ_CHECK(argv[argc] == NULL);
		/* the same words jansson reads, in order */
		root = json_loadb(line, size, 0, NULL);
		FUZZ_CHECK(root != NULL && json_array_size(root) == argc);
		for (i = 0; i < argc; i++) {
			FUZZ_CHECK(argv[i] != NULL);
			bytes += strlen(argv[i]);
			FUZZ_CHECK(strlen(argv[i]) ==
			    json_string_length(json_array_get(root, i)));
			FUZZ_CHECK(strcmp(argv[i],
			    json_string_value(json_array_get(root, i))) == 0);
		}
		json_decref(root);
		FUZZ_CHECK(bytes <= size);
		free(argv);
	} else {
		FUZZ_CHECK(argv == NULL && argc == 0);
		FUZZ_CHECK(fuzz_starts(err, forms));
	}
	free(line);
	return 0;
}
