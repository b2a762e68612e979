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

/*
 * A reply head's status, checked: "HTTP/1.1 " first, the blank line last,
 * the status one of the 0-terminated list.
 */
static inline int
fuzz_head_status(const char *head, size_t len, const int *list)
{
	int status;

	FUZZ_CHECK(len > 12 && memcmp(head, "HTTP/1.1 ", 9) == 0);
	FUZZ_CHECK(memcmp(head + len - 4, "\r\n\r\n", 4) == 0);
	status = atoi(head + 9);
	FUZZ_CHECK(fuzz_status_in(status, list));
	return status;
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
