/* Per-endpoint rate limits on the request path. */
#ifndef MM_RATELIMIT_H
#define MM_RATELIMIT_H

#include "reply.h"

/* Spends one token of the route's bucket for this user (or client IP).
 * Sets the X-RateLimit-* headers; returns 0, or MM_DONE after a 429. */
int mm_ratelimit(mm_req *q);

#endif
