/* Safe retries: the Idempotency-Key of SPEC.md 9. */
#ifndef MM_IDEMPOTENCY_H
#define MM_IDEMPOTENCY_H

#include "reply.h"

/* For a request to a route that takes a key (mm_route_keyed), once past
 * authentication and the rate limit. Without the header: nothing, at no
 * cost. A malformed key answers 400. Else a transaction opens on the
 * request's connection and claims the key: an earlier request with it
 * answers now (its stored answer replayed, 422 when it differed in method,
 * path or body, 409 while it still runs); a first one goes on to its handler,
 * and the answer it sends is stored and committed with its change (a 401,
 * 429 or 5xx stores nothing and rolls back). Returns 0 (go on) or MM_ANSWERED. */
int mm_idem_begin(mm_req *q);

#endif
