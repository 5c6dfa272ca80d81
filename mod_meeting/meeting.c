/* Shared machinery of the meeting-scoped endpoints (see meeting.h). */
#include "meeting.h"
#include "auth.h"

const char *mm_mid(mm_req *q)
{
    return mm_lld(q, q->params.id[0]);
}

const char *mm_uid(mm_req *q)
{
    return mm_lld(q, q->user_id);
}

/* 412 when the request's If-Match (an update or a delete) no longer holds:
 * SPEC.md 9 puts it after 401/404/403 and before the 400 of a refused body.
 * The action itself checks it again, under the meeting's row lock. */
static int precondition(mm_req *q)
{
    const char *args[2] = {mm_mid(q), q->if_match}, *holds = NULL;
    int found;

    if (!q->if_match)
        return 0;
    if (mm_db_row(q, S_MEETING_IF_MATCH, 2, args, &holds, 1, &found))
        return MM_DONE;
    if (found && holds && holds[0] == 'f')
        return mm_error(q->r, HTTP_PRECONDITION_FAILED, "precondition_failed",
                        "the meeting has changed since the ETag in If-Match; read it again",
                        NULL);
    return 0;
}

int mm_meeting_context(mm_req *q, mm_need need)
{
    const char *args[4];
    mm_result res;

    if (need == MM_NEED_NONE)
        return mm_auth_confirm(q);
    args[0] = mm_mid(q);
    args[1] = mm_uid(q);
    args[2] = mm_gen(q);
    args[3] = apr_itoa(q->r->pool, (int)need);
    if (mm_db_result(q, S_CONTEXT, 4, args, &res))
        return MM_DONE;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    return precondition(q);
}

int mm_meeting_body(mm_req *q, mm_need need, const mm_field *fields, json_t **body)
{
    mm_body_error e;

    if (mm_body_parse(q, fields, body, &e) == 0)
        return 0;
    /* An input filter that refused the body has answered already: a 404 or
     * 403 of the meeting checks would be a second response. */
    if (e.status != AP_FILTER_ERROR && mm_meeting_context(q, need))
        return MM_DONE;
    return mm_body_reply_error(q->r, &e);
}

int mm_meeting_call(mm_req *q, mm_stmt_id id, int nargs, const char **args,
                    const char *message)
{
    mm_result res;

    if (mm_db_result(q, id, nargs, args, &res))
        return MM_DONE;
    return mm_reply_result(q, &res, message);
}

const char *mm_json_text(mm_req *q, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    const char *copy = text ? apr_pstrdup(q->r->pool, text) : NULL;

    free(text);
    return copy;
}

int mm_field_error(mm_req *q, const char *field, const char *message)
{
    return mm_error(q->r, HTTP_BAD_REQUEST, "invalid_field", message, field);
}

int mm_field_refused(mm_req *q, mm_need need, const char *field, const char *message)
{
    if (mm_meeting_context(q, need))
        return MM_DONE;
    return mm_field_error(q, field, message);
}
