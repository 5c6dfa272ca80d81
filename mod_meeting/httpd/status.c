/* mod_meeting's part of mod_status's server-status page: the rate-limit
 * table, signald, and request counts by route. */
#include "status.h"
#include "signald_proc.h"
#include "stats.h"

#include <mod_status.h>

static const char *const col_names[MM_STAT_COLS] = {"requests", "2xx", "4xx", "429", "5xx"};

/* What the page shows, gathered once. */
typedef struct {
    size_t slots, used, live; /* rate-limit table */
    int supervised;           /* httpd runs signald */
    mm_signald_status sig;
} snapshot;

static const char *route_name(int row)
{
    return row < MM_ROUTE_COUNT ? mm_route_by_id((mm_route_id)row)->name : "unrouted";
}

static void print_short(request_rec *r, const mm_srv_conf *c, const snapshot *s)
{
    ap_rprintf(r, "MeetingRateLimitSlots: %" APR_SIZE_T_FMT "\n", s->slots);
    ap_rprintf(r, "MeetingRateLimitSlotsUsed: %" APR_SIZE_T_FMT "\n", s->used);
    ap_rprintf(r, "MeetingRateLimitKeysLimited: %" APR_SIZE_T_FMT "\n", s->live);
    if (s->supervised)
        ap_rprintf(r,
                   "MeetingSignald: %s\nMeetingSignaldPid: %d\nMeetingSignaldRestarts: %d\n"
                   "MeetingSignaldLastExit: %d\n"
                   "MeetingSignaldRooms: %d\nMeetingSignaldConnections: %d\n",
                   mm_sup_state_name(s->sig.sup.state), s->sig.sup.pid, s->sig.sup.restarts,
                   s->sig.sup.last_exit, s->sig.rooms, s->sig.connections);
    for (int i = 0; i <= MM_ROUTE_COUNT && c->stats; i++) {
        apr_uint64_t row[MM_STAT_COLS];
        mm_stats_row(c->stats, i, row);
        for (int k = 0; k < MM_STAT_COLS; k++)
            ap_rprintf(r, "MeetingRoute_%s_%s: %" APR_UINT64_T_FMT "\n", route_name(i),
                       col_names[k], row[k]);
    }
}

static void print_html(request_rec *r, const mm_srv_conf *c, const snapshot *s)
{
    ap_rputs("<hr /><h2>mod_meeting</h2>\n<dl>", r);
    ap_rprintf(r,
               "<dt>Rate-limit table: %" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT
               " slots used, %" APR_SIZE_T_FMT " keys below a full bucket</dt>\n",
               s->used, s->slots, s->live);
    if (s->supervised)
        ap_rprintf(r,
                   "<dt>signald: %s (pid %d), restarted %d times, %d rooms, "
                   "%d connections</dt>\n",
                   mm_sup_state_name(s->sig.sup.state), s->sig.sup.pid, s->sig.sup.restarts,
                   s->sig.rooms, s->sig.connections);
    ap_rputs("</dl>\n<table border=\"1\"><tr><th>route</th>", r);
    for (int k = 0; k < MM_STAT_COLS; k++)
        ap_rprintf(r, "<th>%s</th>", col_names[k]);
    ap_rputs("</tr>\n", r);
    for (int i = 0; i <= MM_ROUTE_COUNT && c->stats; i++) {
        apr_uint64_t row[MM_STAT_COLS];
        mm_stats_row(c->stats, i, row);
        ap_rprintf(r, "<tr><td>%s</td>", route_name(i));
        for (int k = 0; k < MM_STAT_COLS; k++)
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>", row[k]);
        ap_rputs("</tr>\n", r);
    }
    ap_rputs("</table>\n", r);
}

static int status_hook(request_rec *r, int flags)
{
    const mm_srv_conf *c = ap_get_module_config(r->server->module_config, &meeting_module);
    snapshot s;

    memset(&s, 0, sizeof(s));
    if (c->rl)
        mm_rl_usage(c->rl, mm_rl_now_us(), &s.slots, &s.used, &s.live);
    s.supervised = mm_signald_info(r, &s.sig) == 0;
    if (flags & AP_STATUS_SHORT)
        print_short(r, c, &s);
    else
        print_html(r, c, &s);
    return OK;
}

void mm_status_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
