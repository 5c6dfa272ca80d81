/* Participants (seed 3.10-3.13): list, add, remove, change role. */
#include "auth.h"
#include "action.h"
#include "precedence.h"


mm_step mm_participants_list(mm_req *q)
{
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};

    return mm_meeting_call(q, S_PARTICIPANT_LIST, 3, args, NULL);
}

mm_step mm_participants_add(mm_req *q)
{
    json_t *body;
    const char *role, *args[5];

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    role = mm_body_string(body, "role");
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = mm_lld(q, json_integer_value(json_object_get(body, "user_id")));
    args[4] = role ? role : "participant";
    return mm_meeting_call(q, S_PARTICIPANT_ADD, 5, args, "Participant added successfully");
}

mm_step mm_participants_remove(mm_req *q)
{
    json_t *body;
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q), mm_lld(q, q->params.id[1])};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_PARTICIPANT_REMOVE, 4, args, "Participant removed successfully");
}

mm_step mm_participants_role(mm_req *q)
{
    json_t *body;
    const char *args[5];

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = mm_lld(q, q->params.id[1]);
    args[4] = mm_body_string(body, "role");
    return mm_meeting_call(q, S_PARTICIPANT_ROLE, 5, args, "Participant role updated successfully");
}

mm_step mm_participants_mute(mm_req *q)
{
    json_t *body;
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q), mm_lld(q, q->params.id[1])};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_PARTICIPANT_MUTE, 4, args, "Participant muted");
}
