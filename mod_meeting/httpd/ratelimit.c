/* Per-endpoint rate limits on the request path (SPEC.md 4). The arithmetic is
 * in gcra.c, the shared table in rl_table.c; this file picks the key, applies
 * the configured limit and writes the headers. */
#include "ratelimit.h"

#include <apr_network_io.h>

static int exempt(const mm_req *q)
{
    const apr_array_header_t *nets = q->conf->rl_exempt;
    apr_sockaddr_t *sa = q->r->useragent_addr;

    if (!nets || !sa)
        return 0;
    for (int i = 0; i < nets->nelts; i++)
        if (apr_ipsubnet_test(APR_ARRAY_IDX(nets, i, apr_ipsubnet_t *), sa))
            return 1;
    return 0;
}

/* How often a full table is reported: once a minute, whatever the traffic. */
#define PRESSURE_REPORT_US (60 * APR_USEC_PER_SEC)

static void report_pressure(mm_req *q, int64_t now)
{
    uint64_t evicted, refused;

    if (mm_rl_pressure(q->conf->rl, now, PRESSURE_REPORT_US, &evicted, &refused))
        ap_log_rerror(
            APLOG_MARK, APLOG_WARNING, 0, q->r,
            "MM0301: rate-limit table full: %" APR_UINT64_T_FMT " live keys evicted "
            "(they and their successors keep the debt: limits get stricter) and %" APR_UINT64_T_FMT
            " requests refused with 503 in the last minute or so; "
            "raise MeetingRateLimitSlots",
            (apr_uint64_t)evicted, (apr_uint64_t)refused);
}

/* No slot could be had (mm_rl_check, a race lost again and again): refused,
 * never admitted without a limit. */
static int no_slot(mm_req *q)
{
    apr_table_setn(q->r->err_headers_out, "Retry-After", "1");
    return mm_error(q->r, HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
                    "the rate-limit table is busy; try again in a second", NULL);
}

/* The X-RateLimit-* fields, and beside them the IETF draft's (SPEC.md 9):
 * RateLimit-Policy names the endpoint's quota and window, RateLimit what is
 * left of it and when it is full again. */
static void set_headers(request_rec *r, const char *name, const mm_gcra_limit *lim,
                        const mm_gcra_result *res)
{
    apr_table_setn(r->err_headers_out, "X-RateLimit-Limit", apr_itoa(r->pool, (int)res->limit));
    apr_table_setn(r->err_headers_out, "X-RateLimit-Remaining",
                   apr_itoa(r->pool, (int)res->remaining));
    apr_table_setn(r->err_headers_out, "X-RateLimit-Reset", apr_itoa(r->pool, (int)res->reset_s));
    apr_table_setn(r->err_headers_out, "RateLimit-Policy",
                   apr_psprintf(r->pool, "\"%s\";q=%u;w=%" APR_INT64_T_FMT, name, res->limit,
                                (apr_int64_t)(lim->period_us / 1000000)));
    apr_table_setn(r->err_headers_out, "RateLimit",
                   apr_psprintf(r->pool, "\"%s\";r=%u;t=%u", name, res->remaining, res->reset_s));
}

mm_rl_outcome mm_ratelimit_take(mm_req *q, mm_gcra_result *res)
{
    const mm_route_limit *lim = &q->conf->limits[q->route->id];
    uint64_t key;
    int64_t now;
    int rc;

    if (q->route->rl == MM_RL_NONE || lim->off || !q->conf->rl || exempt(q))
        return MM_RL_ADMITTED;
    if (q->route->rl == MM_RL_USER && q->user_id > 0)
        key = mm_rl_key((uint32_t)q->route->id, &q->user_id, sizeof(q->user_id));
    else
        key = mm_rl_key((uint32_t)q->route->id, q->r->useragent_ip, strlen(q->r->useragent_ip));
    now = mm_rl_now_us();
    rc = mm_rl_check(q->conf->rl, key, &lim->limit, now, res);
    report_pressure(q, now);
    if (rc != 0)
        return MM_RL_NO_SLOT;
    if (!res->allowed)
        return MM_RL_LIMITED;
    set_headers(q->r, q->route->name, &lim->limit, res);
    q->rl_key = key;
    q->rl_limit = &lim->limit;
    return MM_RL_ADMITTED;
}

mm_step mm_ratelimit_refuse(mm_req *q, mm_rl_outcome why, const mm_gcra_result *res)
{
    if (why == MM_RL_NO_SLOT)
        return no_slot(q);
    set_headers(q->r, q->route->name, &q->conf->limits[q->route->id].limit, res);
    apr_table_setn(q->r->err_headers_out, "Retry-After",
                   apr_itoa(q->r->pool, (int)res->retry_after_s));
    return mm_error(q->r, HTTP_TOO_MANY_REQUESTS, "rate_limited",
                    apr_psprintf(q->r->pool, "too many requests to %s; retry in %u s",
                                 q->route->name, res->retry_after_s),
                    NULL);
}

void mm_ratelimit_refund(mm_req *q)
{
    if (!q->rl_limit)
        return;
    mm_rl_refund(q->conf->rl, q->rl_key, q->rl_limit, mm_rl_now_us());
    q->rl_limit = NULL;
    /* Not charged after all: the answer is a 401, which carries no limit. */
    apr_table_unset(q->r->err_headers_out, "X-RateLimit-Limit");
    apr_table_unset(q->r->err_headers_out, "X-RateLimit-Remaining");
    apr_table_unset(q->r->err_headers_out, "X-RateLimit-Reset");
    apr_table_unset(q->r->err_headers_out, "RateLimit-Policy");
    apr_table_unset(q->r->err_headers_out, "RateLimit");
}
