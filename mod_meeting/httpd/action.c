/* An action and its answer (see meeting.h). */
#include "action.h"
#include "auth.h"

mm_step mm_reply_result(mm_req *q, const mm_result *res, const char *message)
{
    if (res->code == HTTP_UNAUTHORIZED) /* the access token no longer holds */
        return mm_revoked(q);
    if (res->code >= 400)
        return mm_error(q->r, res->code, res->error ? res->error : "internal",
                        res->message ? res->message : "request failed", res->field);
    return mm_reply(q->r, res->code, message, res->data);
}

mm_step mm_meeting_call(mm_req *q, mm_stmt_id id, int nargs, const char **args, const char *message)
{
    mm_result res;

    if (mm_db_result(q, id, nargs, args, &res))
        return MM_ANSWERED;
    return mm_reply_result(q, &res, message);
}

const char *mm_json_text(mm_req *q, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    const char *copy = text ? apr_pstrdup(q->r->pool, text) : NULL;

    free(text);
    return copy;
}

mm_step mm_field_error(mm_req *q, const char *field, const char *message)
{
    return mm_error(q->r, HTTP_BAD_REQUEST, "invalid_field", message, field);
}
