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

/* Ties a jansson value to a pool: released when the pool is cleared. */
json_t *mm_json_pool(apr_pool_t *p, json_t *v);

#endif
