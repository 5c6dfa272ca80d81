/* What each API change makes the meeting-detail cache forget (cache.h). */
#ifndef MM_CACHE_ROUTE_H
#define MM_CACHE_ROUTE_H

#include "mm.h"

/* Called after each statement of a request that is not a GET, and after its
 * transaction's COMMIT: forgets the meeting of the route, the memberships of
 * the caller and of the path's user in it, and the caller's token generation
 * after a logout. */
void mm_cache_after_write(mm_req *q);

#endif
