/*
 * JSON helpers shared by the replies and the handlers. Pure (APR pools,
 * jansson, libc) so the unit tests link it alone.
 */
#ifndef MM_JSON_H
#define MM_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* A JSON string literal (quotes included) for s, allocated from p. Bytes
 * of 0x80 and above are copied as they are: s is UTF-8 already. */
const char *mm_json_quote(apr_pool_t *p, const char *s);

/* Copies the len bytes of JSON text in to out without the white space
 * between its tokens (what PostgreSQL's json_build_object and json_agg put
 * there: "k" : v, [a, \n b]), leaving string literals as they are. One pass,
 * no parse: in must be JSON text already. out needs len bytes and may be in
 * itself; returns the length written (no terminating NUL). */
size_t mm_json_compact(char *out, const char *in, size_t len);

/* Ties a jansson value to a pool: released when the pool is cleared. */
json_t *mm_json_pool(apr_pool_t *p, json_t *v);

#endif
