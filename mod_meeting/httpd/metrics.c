/*
 * Prometheus' text exposition format (version 0.0.4) of what server-status
 * shows: request counts by route and status class, the rate-limit table,
 * and the supervised signald. Served only where the admin sets the handler,
 * so it is off until configured and guarded by that section's Require.
 */
#include "metrics.h"
#include "signald_proc.h"
#include "stats.h"

static const char *const class_labels[MM_STAT_COLS] = {NULL, "2xx", "4xx", "429", "5xx"};

static void family(request_rec *r, const char *name, const char *type, const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void print_requests(request_rec *r, const mm_srv_conf *c)
{
    family(r, "mod_meeting_requests_total", "counter",
           "API requests answered, by route and status class (2xx: below 400; 4xx: "
           "other than 429).");
    for (int i = 0; i <= MM_ROUTE_COUNT && c->stats; i++) {
        const char *route = i < MM_ROUTE_COUNT ? mm_route_by_id((mm_route_id)i)->name : "unrouted";
        apr_uint64_t row[MM_STAT_COLS];
        mm_stats_row(c->stats, i, row);
        for (int k = MM_STAT_2XX; k < MM_STAT_COLS; k++)
            ap_rprintf(
                r, "mod_meeting_requests_total{route=\"%s\",status=\"%s\"} %" APR_UINT64_T_FMT "\n",
                route, class_labels[k], row[k]);
    }
}

static void print_ratelimit(request_rec *r, const mm_srv_conf *c)
{
    size_t slots = 0, used = 0, live = 0;

    if (!c->rl)
        return;
    mm_rl_usage(c->rl, mm_rl_now_us(), &slots, &used, &live);
    family(r, "mod_meeting_ratelimit_slots", "gauge",
           "Size of the shared rate-limit table (MeetingRateLimitSlots).");
    ap_rprintf(r, "mod_meeting_ratelimit_slots %" APR_SIZE_T_FMT "\n", slots);
    family(r, "mod_meeting_ratelimit_slots_used", "gauge", "Slots of the table in use.");
    ap_rprintf(r, "mod_meeting_ratelimit_slots_used %" APR_SIZE_T_FMT "\n", used);
    family(r, "mod_meeting_ratelimit_keys_limited", "gauge",
           "Clients or users whose bucket is below full.");
    ap_rprintf(r, "mod_meeting_ratelimit_keys_limited %" APR_SIZE_T_FMT "\n", live);
}

static void print_signald(request_rec *r)
{
    static const mm_sup_state states[] = {MM_SUP_UP, MM_SUP_DOWN, MM_SUP_BACKOFF, MM_SUP_STOPPED};
    mm_signald_status sig;

    if (mm_signald_info(r, &sig) != 0)
        return;
    family(r, "mod_meeting_signald_state", "gauge",
           "1 for the state httpd's supervised signald is in, 0 for the others.");
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        ap_rprintf(r, "mod_meeting_signald_state{state=\"%s\"} %d\n", mm_sup_state_name(states[i]),
                   sig.sup.state == states[i]);
    family(r, "mod_meeting_signald_restarts_total", "counter",
           "Times httpd started signald again after it died.");
    ap_rprintf(r, "mod_meeting_signald_restarts_total %d\n", sig.sup.restarts);
    /* Unknown (a signald that has not reported yet) is left out, not 0. */
    if (sig.rooms >= 0) {
        family(r, "mod_meeting_signald_rooms", "gauge", "Meetings with a signaling room.");
        ap_rprintf(r, "mod_meeting_signald_rooms %d\n", sig.rooms);
    }
    if (sig.connections >= 0) {
        family(r, "mod_meeting_signald_connections", "gauge", "Open signaling WebSockets.");
        ap_rprintf(r, "mod_meeting_signald_connections %d\n", sig.connections);
    }
}

static int metrics_handler(request_rec *r)
{
    const mm_srv_conf *c;

    if (!r->handler || strcmp(r->handler, MM_METRICS_HANDLER) != 0)
        return DECLINED;
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    c = ap_get_module_config(r->server->module_config, &meeting_module);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only)
        return OK;
    print_requests(r, c);
    print_ratelimit(r, c);
    print_signald(r);
    return OK;
}

void mm_metrics_register(void)
{
    ap_hook_handler(metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
