/*
 * Query strings: "a=1&b=x%20y" split and decoded ('+' is a space), and the
 * page numbers of list endpoints. Pure, for unit tests and the fuzzer.
 */
#ifndef MM_QUERY_H
#define MM_QUERY_H

#include <stddef.h>

/* Finds name in the query string q and decodes its value into buf (size n).
 * Returns 1 found, 0 absent, -1 malformed (bad escape, NUL, too long). */
int mm_query_get(const char *q, const char *name, char *buf, size_t n);

/* A whole decimal number in [min, max] with no sign or junk: 0 or -1. */
int mm_query_int(const char *s, long min, long max, long *out);

#endif
