/* What each API change makes the meeting-detail cache forget (cache_route.h). */
#include "cache_route.h"
#include "cache.h"

#include <string.h>

#define MEETING_PATH "/meetings/:id"

void mm_cache_after_write(mm_req *q)
{
    const mm_route *route = q->route;
    long long meeting = q->params.id[0], target = q->params.id[1];

    if (!route || route->method == MM_M_GET)
        return;
    if (route->id == MM_R_LOGOUT && q->user_id > 0)
        mm_cache_forget_user(q->user_id);
    /* Only the routes under /meetings/:id have a meeting as their first id
     * (a webhook's id is not one); a chat message is not in the detail. */
    if (strncmp(route->pattern, MEETING_PATH, strlen(MEETING_PATH)) || meeting <= 0
        || route->id == MM_R_MESSAGE_SEND)
        return;
    mm_cache_forget_meeting(meeting);
    if (q->user_id > 0)
        mm_cache_forget_member(meeting, q->user_id);
    if (target > 0)
        mm_cache_forget_member(meeting, target);
}
