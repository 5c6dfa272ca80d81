/* Statement arguments: numbers as the text apr_dbd takes, from the request
 * pool. */
#ifndef MM_ARGS_H
#define MM_ARGS_H

#include "mm.h"

/* Decimal text of a 64-bit integer. */
static inline const char *mm_lld(mm_req *q, long long v)
{
    return apr_off_t_toa(q->r->pool, (apr_off_t)v);
}

/* The path's (first) id: the meeting or webhook. */
static inline const char *mm_mid(mm_req *q)
{
    return mm_lld(q, q->params.id[0]);
}

/* The caller (the token's generation is mm_gen() of auth.h). */
static inline const char *mm_uid(mm_req *q)
{
    return mm_lld(q, q->user_id);
}

#endif
