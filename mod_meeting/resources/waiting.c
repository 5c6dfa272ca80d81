/* The waiting room (SPEC.md 6): list who waits, admit, deny, admit all.
 * Hosts and moderators only; the user in the path is "another resource"
 * (404 when not waiting, after the 403 of a caller who may not act). */
#include "auth.h"
#include "action.h"
#include "precedence.h"

mm_step mm_waiting_list(mm_req *q)
{
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};

    return mm_meeting_call(q, S_WAITING_LIST, 3, args, NULL);
}

/* admit or deny of the user in the path, or (target NULL) admit_all. */
static int act(mm_req *q, mm_stmt_id id, const char *target, const char *message)
{
    json_t *body;
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q), target};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, id, 4, args, message);
}

mm_step mm_waiting_admit(mm_req *q)
{
    return act(q, S_WAITING_ADMIT, mm_lld(q, q->params.id[1]), "Participant admitted");
}

mm_step mm_waiting_deny(mm_req *q)
{
    return act(q, S_WAITING_DENY, mm_lld(q, q->params.id[1]), "Participant denied");
}

mm_step mm_waiting_admit_all(mm_req *q)
{
    return act(q, S_WAITING_ADMIT_ALL, NULL, "Waiting participants admitted");
}
