/* SPEC.md 1's order of refusals (see precedence.h). */
#include "precedence.h"
#include "auth.h"
#include "db.h"
#include "action.h"
#include "query.h"
#include "ratelimit.h"

mm_step mm_admit(mm_req *q)
{
    mm_gcra_result res;
    mm_rl_outcome outcome = mm_ratelimit_take(q, &res);

    if (outcome == MM_RL_ADMITTED)
        return MM_GO_ON;
    /* The action's statement tells a revoked token; a request refused here
     * never gets there, and its 401 comes first. */
    if (mm_auth_confirm(q))
        return MM_ANSWERED;
    return mm_ratelimit_refuse(q, outcome, &res);
}

/* 412 when the request's If-Match (an update or a delete) no longer holds:
 * SPEC.md 9 puts it after 401/404/403 and before the 400 of a refused body.
 * The action itself checks it again, under the meeting's row lock. */
static mm_step precondition(mm_req *q)
{
    const char *args[2] = {mm_mid(q), q->if_match};
    mm_result res;

    if (!q->if_match)
        return MM_GO_ON;
    if (mm_db_result(q, S_MEETING_IF_MATCH, 2, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    return MM_GO_ON;
}

/* The webhook of the path is the caller's: its read answers 401 or 404. */
static mm_step webhook_context(mm_req *q)
{
    const char *args[3] = {mm_uid(q), mm_gen(q), mm_lld(q, q->params.id[0])};
    mm_result res;

    if (mm_db_result(q, S_WEBHOOK_GET, 3, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    return MM_GO_ON;
}

static mm_step meeting_context(mm_req *q)
{
    const char *args[4] = {mm_mid(q), mm_uid(q), mm_gen(q),
                           apr_itoa(q->r->pool, (int)q->route->need)};
    mm_result res;

    if (mm_db_result(q, S_CONTEXT, 4, args, &res))
        return MM_ANSWERED;
    if (res.code != HTTP_OK)
        return mm_reply_result(q, &res, NULL);
    return precondition(q);
}

mm_step mm_context_check(mm_req *q)
{
    switch (q->route->need) {
    case MM_NEED_NONE:
        return mm_auth_confirm(q);
    case MM_NEED_WEBHOOK:
        return webhook_context(q);
    default:
        return meeting_context(q);
    }
}

mm_step mm_refuse(mm_req *q, const mm_refusal *why)
{
    /* An input filter that refused the body has answered already: a 404 or
     * 403 of the context checks would be a second response. */
    if (why->status != AP_FILTER_ERROR && mm_context_check(q))
        return MM_ANSWERED;
    return mm_body_reply_error(q->r, why);
}

mm_step mm_field_refused(mm_req *q, const char *field, const char *message)
{
    const mm_refusal why = {HTTP_BAD_REQUEST, "invalid_field", message, field};

    return mm_refuse(q, &why);
}

/* A page number parameter in [1, max]; dflt when absent (0: required).
 * Returns NULL, or the message of the 400 it deserves. */
static const char *page_param(mm_req *q, const char *name, long max, long dflt, long *out)
{
    char buf[16];
    int rc = mm_query_get(q->r->args, name, buf, sizeof(buf));

    if (rc == 0 && dflt > 0) {
        *out = dflt;
        return NULL;
    }
    if (rc != 1 || mm_query_int(buf, 1, max, out) != 0)
        return apr_psprintf(q->r->pool, "%s must be a whole number from 1 to %ld", name, max);
    return NULL;
}

mm_step mm_list_page(mm_req *q, long dflt_size, long *page, long *size)
{
    const char *field = "page";
    const char *err = page_param(q, field, 10000000, dflt_size ? 1 : 0, page);

    if (!err)
        err = page_param(q, field = "page_size", 100, dflt_size, size);
    if (!err)
        return MM_GO_ON;
    return mm_field_refused(q, field, err);
}

mm_step mm_route_body(mm_req *q, json_t **body)
{
    mm_refusal why;

    if (mm_body_parse(q, q->route->fields, body, &why) == 0)
        return MM_GO_ON;
    return mm_refuse(q, &why);
}
