/*
 * Webhooks (SPEC.md 8): a user's endpoints, their secrets and delivery log.
 * The events themselves are written by the SQL actions (mm_webhook_emit in
 * sql/004_webhooks.sql) and sent by signald's deliverer.
 */
#include "auth.h"
#include "action.h"
#include "precedence.h"
#include "query.h"
#include "webhook_url.h"

/* Endpoints one user may have. */
#define MAX_WEBHOOKS 50
#define DELIVERIES_PAGE 20

static const char *const delivery_statuses[] = {"pending", "delivered", "failed", NULL};

static const char *wid(mm_req *q)
{
    return mm_lld(q, q->params.id[0]);
}

/* 400 (field url) unless url may be a webhook's target. 0 or MM_ANSWERED. */
static mm_step check_url(mm_req *q, const char *url)
{
    const apr_array_header_t *allow = q->conf->webhook_allow;
    const char *why = mm_webhook_url_check(url, allow ? (const char *const *)allow->elts : NULL,
                                           allow ? (size_t)allow->nelts : 0);

    if (!why)
        return MM_GO_ON;
    return mm_field_refused(q, "url", why);
}

/* The events of a validated body as a PostgreSQL array literal (the names
 * are known ones: no quoting needed). */
static const char *events_literal(mm_req *q, json_t *events)
{
    const char *out = "{";
    size_t i;
    json_t *v;

    json_array_foreach(events, i, v) out =
        apr_pstrcat(q->r->pool, out, i ? "," : "", json_string_value(v), NULL);
    return apr_pstrcat(q->r->pool, out, "}", NULL);
}

mm_step mm_webhooks_create(mm_req *q)
{
    json_t *body;
    const char *args[6];

    if (mm_route_body(q, &body) || check_url(q, mm_body_string(body, "url")))
        return MM_ANSWERED;
    args[0] = mm_uid(q);
    args[1] = mm_gen(q);
    args[2] = mm_body_string(body, "url");
    args[3] = events_literal(q, json_object_get(body, "events"));
    args[4] = mm_body_string(body, "description");
    args[5] = apr_itoa(q->r->pool, MAX_WEBHOOKS);
    return mm_meeting_call(q, S_WEBHOOK_CREATE, 6, args, "Webhook created successfully");
}

mm_step mm_webhooks_list(mm_req *q)
{
    const char *args[2] = {mm_uid(q), mm_gen(q)};

    return mm_meeting_call(q, S_WEBHOOK_LIST, 2, args, NULL);
}

mm_step mm_webhooks_get(mm_req *q)
{
    const char *args[3] = {mm_uid(q), mm_gen(q), wid(q)};

    return mm_meeting_call(q, S_WEBHOOK_GET, 3, args, NULL);
}

mm_step mm_webhooks_update(mm_req *q)
{
    json_t *body;
    const char *url, *args[4];

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    url = mm_body_string(body, "url");
    if (url && check_url(q, url))
        return MM_ANSWERED;
    args[0] = mm_uid(q);
    args[1] = mm_gen(q);
    args[2] = wid(q);
    args[3] = mm_json_text(q, body);
    return mm_meeting_call(q, S_WEBHOOK_UPDATE, 4, args, "Webhook updated successfully");
}

mm_step mm_webhooks_delete(mm_req *q)
{
    const char *args[3] = {mm_uid(q), mm_gen(q), wid(q)};

    return mm_meeting_call(q, S_WEBHOOK_DELETE, 3, args, "Webhook deleted successfully");
}

mm_step mm_webhooks_rotate(mm_req *q)
{
    json_t *body;
    const char *args[3] = {mm_uid(q), mm_gen(q), wid(q)};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_WEBHOOK_ROTATE, 3, args, "Webhook secret rotated");
}

static int known_status(const char *s)
{
    for (const char *const *st = delivery_statuses; *st; st++)
        if (strcmp(*st, s) == 0)
            return 1;
    return 0;
}

mm_step mm_webhooks_deliveries(mm_req *q)
{
    char status[16], page_buf[16], size_buf[16];
    long page = 1, size = DELIVERIES_PAGE;
    int has_status, rc;
    const char *args[6];

    if ((has_status = mm_query_get(q->r->args, "status", status, sizeof(status))) < 0
        || (has_status && !known_status(status)))
        return mm_field_refused(q, "status", "status must be one of pending, delivered or failed");
    if ((rc = mm_query_get(q->r->args, "page", page_buf, sizeof(page_buf))) < 0
        || (rc && mm_query_int(page_buf, 1, 10000000, &page)))
        return mm_field_refused(q, "page", "page must be a whole number from 1 to 10000000");
    if ((rc = mm_query_get(q->r->args, "page_size", size_buf, sizeof(size_buf))) < 0
        || (rc && mm_query_int(size_buf, 1, 100, &size)))
        return mm_field_refused(q, "page_size", "page_size must be a whole number from 1 to 100");
    args[0] = mm_uid(q);
    args[1] = mm_gen(q);
    args[2] = wid(q);
    args[3] = has_status ? status : NULL;
    args[4] = apr_ltoa(q->r->pool, page);
    args[5] = apr_ltoa(q->r->pool, size);
    return mm_meeting_call(q, S_WEBHOOK_DELIVERIES, 6, args, NULL);
}

mm_step mm_webhooks_retry(mm_req *q)
{
    json_t *body;
    const char *args[4] = {mm_uid(q), mm_gen(q), wid(q), mm_lld(q, q->params.id[1])};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_WEBHOOK_RETRY, 4, args, "Delivery scheduled again");
}

mm_step mm_webhooks_test(mm_req *q)
{
    json_t *body;
    const char *args[3] = {mm_uid(q), mm_gen(q), wid(q)};

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    return mm_meeting_call(q, S_WEBHOOK_TEST, 3, args, "Test event queued");
}
