/* What each API change makes the meeting-detail cache forget (cache.h). */
#ifndef MM_CACHE_ROUTE_H
#define MM_CACHE_ROUTE_H

#include "mm.h"

/* Called after a request's own action statement ran outside a transaction,
 * and after a transaction's COMMIT; does nothing for a GET. Forgets the meeting of the route, the memberships of
 * the caller and of the path's user in it, and the caller's token generation
 * after a logout. */
void mm_cache_after_write(mm_req *q);

#endif
