/* Participants (seed 3.10-3.13): list, add, remove, change role. */
#include "auth.h"
#include "meeting.h"

static const char *const roles[] = {"host", "moderator", "participant", NULL};

static const mm_field add_fields[] = {
    {"user_id", MM_F_INT, MM_F_REQUIRED, 1, 9223372036854775807LL, NULL, NULL},
    {"role", MM_F_ENUM, 0, 0, 0, roles, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const mm_field role_fields[] = {
    {"role", MM_F_ENUM, MM_F_REQUIRED, 0, 0, roles, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

int mm_participants_list(mm_req *q)
{
    const char *args[3] = {mm_mid(q), mm_uid(q), mm_gen(q)};

    return mm_meeting_call(q, S_PARTICIPANT_LIST, 3, args, NULL);
}

int mm_participants_add(mm_req *q)
{
    json_t *body;
    const char *role, *args[5];

    if (mm_meeting_body(q, MM_NEED_STAFF, add_fields, &body))
        return OK;
    role = mm_body_string(body, "role");
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = mm_lld(q, json_integer_value(json_object_get(body, "user_id")));
    args[4] = role ? role : "participant";
    return mm_meeting_call(q, S_PARTICIPANT_ADD, 5, args, "Participant added successfully");
}

int mm_participants_remove(mm_req *q)
{
    json_t *body;
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q), mm_lld(q, q->params.id[1])};

    if (mm_meeting_body(q, MM_NEED_STAFF, mm_no_fields, &body))
        return OK;
    return mm_meeting_call(q, S_PARTICIPANT_REMOVE, 4, args, "Participant removed successfully");
}

int mm_participants_role(mm_req *q)
{
    json_t *body;
    const char *args[5];

    if (mm_meeting_body(q, MM_NEED_HOST, role_fields, &body))
        return OK;
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = mm_lld(q, q->params.id[1]);
    args[4] = mm_body_string(body, "role");
    return mm_meeting_call(q, S_PARTICIPANT_ROLE, 5, args,
                           "Participant role updated successfully");
}

int mm_participants_mute(mm_req *q)
{
    json_t *body;
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q), mm_lld(q, q->params.id[1])};

    if (mm_meeting_body(q, MM_NEED_STAFF, mm_no_fields, &body))
        return OK;
    return mm_meeting_call(q, S_PARTICIPANT_MUTE, 4, args, "Participant muted");
}
