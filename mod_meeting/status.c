/* mod_meeting's part of mod_status's server-status page: the rate-limit
 * table, signald, and request counts by route. */
#include "status.h"
#include "signald_proc.h"
#include "stats.h"

#include <mod_status.h>

static const char *const col_names[MM_STAT_COLS] = {"requests", "2xx", "4xx", "429", "5xx"};

static void print_short(request_rec *r, const mm_srv_conf *c, size_t slots, size_t used,
                        size_t live, int sig, int pid, int restarts)
{
    ap_rprintf(r, "MeetingRateLimitSlots: %" APR_SIZE_T_FMT "\n", slots);
    ap_rprintf(r, "MeetingRateLimitSlotsUsed: %" APR_SIZE_T_FMT "\n", used);
    ap_rprintf(r, "MeetingRateLimitKeysLimited: %" APR_SIZE_T_FMT "\n", live);
    if (sig >= 0)
        ap_rprintf(r, "MeetingSignald: %s\nMeetingSignaldPid: %d\nMeetingSignaldRestarts: %d\n",
                   sig ? "up" : "down", pid, restarts);
    for (int i = 0; i <= MM_ROUTE_COUNT && c->stats; i++) {
        apr_uint64_t row[MM_STAT_COLS];
        const char *name = i < MM_ROUTE_COUNT ? mm_route_by_id((mm_route_id)i)->name
                                              : "unrouted";
        mm_stats_row(c->stats, i, row);
        for (int k = 0; k < MM_STAT_COLS; k++)
            ap_rprintf(r, "MeetingRoute_%s_%s: %" APR_UINT64_T_FMT "\n", name, col_names[k],
                       row[k]);
    }
}

static void print_html(request_rec *r, const mm_srv_conf *c, size_t slots, size_t used,
                       size_t live, int sig, int pid, int restarts)
{
    ap_rputs("<hr /><h2>mod_meeting</h2>\n<dl>", r);
    ap_rprintf(r, "<dt>Rate-limit table: %" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT
               " slots used, %" APR_SIZE_T_FMT " keys below a full bucket</dt>\n",
               used, slots, live);
    if (sig >= 0)
        ap_rprintf(r, "<dt>signald: %s (pid %d), restarted %d times</dt>\n",
                   sig ? "up" : "down", pid, restarts);
    ap_rputs("</dl>\n<table border=\"1\"><tr><th>route</th>", r);
    for (int k = 0; k < MM_STAT_COLS; k++)
        ap_rprintf(r, "<th>%s</th>", col_names[k]);
    ap_rputs("</tr>\n", r);
    for (int i = 0; i <= MM_ROUTE_COUNT && c->stats; i++) {
        apr_uint64_t row[MM_STAT_COLS];
        mm_stats_row(c->stats, i, row);
        ap_rprintf(r, "<tr><td>%s</td>",
                   i < MM_ROUTE_COUNT ? mm_route_by_id((mm_route_id)i)->name : "unrouted");
        for (int k = 0; k < MM_STAT_COLS; k++)
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>", row[k]);
        ap_rputs("</tr>\n", r);
    }
    ap_rputs("</table>\n", r);
}

static int status_hook(request_rec *r, int flags)
{
    const mm_srv_conf *c = ap_get_module_config(r->server->module_config, &meeting_module);
    size_t slots = 0, used = 0, live = 0;
    int pid = 0, restarts = 0, sig = mm_signald_info(r->server, &pid, &restarts);

    if (c->rl)
        mm_rl_usage(c->rl, mm_rl_now_us(), &slots, &used, &live);
    if (flags & AP_STATUS_SHORT)
        print_short(r, c, slots, used, live, sig, pid, restarts);
    else
        print_html(r, c, slots, used, live, sig, pid, restarts);
    return OK;
}

void mm_status_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
