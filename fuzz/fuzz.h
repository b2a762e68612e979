/*
 * fuzz.h: what the libFuzzer targets share.  Header-only: each target is
 * one translation unit with every module but main.c.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdlib.h>
#include <string.h>

/* A broken invariant is a crash libFuzzer reports, with the input. */
#define FUZZ_CHECK(x)	do { if (!(x)) abort(); } while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether status s is one of the 0-terminated list. */
static inline int
fuzz_status_in(int s, const int *list)
{
	for (; *list != 0; list++)
		if (*list == s)
			return 1;
	return 0;
}

/* Whether s starts with one of the NULL-terminated forms (error messages). */
static inline int
fuzz_starts(const char *s, const char *const *forms)
{
	size_t i;

	for (i = 0; forms[i] != NULL; i++)
		if (strncmp(s, forms[i], strlen(forms[i])) == 0)
			return 1;
	return 0;
}

#endif
