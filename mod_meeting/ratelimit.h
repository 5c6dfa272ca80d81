/* Per-endpoint rate limits on the request path. */
#ifndef MM_RATELIMIT_H
#define MM_RATELIMIT_H

#include "reply.h"

/* Spends one token of the route's bucket for this user (or client IP).
 * Sets the X-RateLimit-* headers; returns 0, or MM_DONE after a 429. */
int mm_ratelimit(mm_req *q);

/* Gives back the token this request spent, and drops its X-RateLimit-*
 * headers: it failed authentication after all (a revoked token, found by its
 * action statement), and SPEC.md 4 does not charge those. */
void mm_ratelimit_refund(mm_req *q);

#endif
