/*
 * mod_meeting: a video-meeting platform's API as an httpd module.
 *
 * Every request under the handler: route -> authenticate -> rate limit ->
 * Idempotency-Key (a keyed POST) -> the route's handler (validate -> one
 * database call -> reply).
 */
#define MM_MODULE_MAIN
#include "mm.h"
#include "auth.h"
#include "cache.h"
#include "configcheck.h"
#include "db.h"
#include "idempotency.h"
#include "metrics.h"
#include "precedence.h"
#include "cors.h"
#include "room_events.h"
#include "signald_proc.h"
#include "recworker_proc.h"
#include "stats.h"
#include "status.h"

#include <http_core.h>

static const mm_handler_fn handlers[MM_ROUTE_COUNT] = {
#define ROUTE(id, method, pattern, name, auth, rl, per_minute, need, body, handler, stmt) \
    [MM_R_##id] = handler,
#include "routes.def"
#undef ROUTE
};

const char *mm_api_base(request_rec *r)
{
    const core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    apr_size_t n;

    if (!d || !d->d || d->d_is_fnmatch || d->r)
        return "";
    n = strlen(d->d);
    while (n > 0 && d->d[n - 1] == '/')
        n--;
    if (n == 0 || strncmp(r->uri, d->d, n) != 0 || (r->uri[n] != '/' && r->uri[n] != '\0'))
        return "";
    return apr_pstrndup(r->pool, d->d, n);
}

/* The request path below the section the handler is mounted at. */
static const char *api_path(request_rec *r)
{
    return r->uri + strlen(mm_api_base(r));
}

static int route(mm_req *q, const char *path)
{
    const char *allow = NULL;

    switch (mm_route_find(mm_method_from(q->r->method), path, &q->route, &q->params, &allow)) {
    case MM_ROUTE_FOUND:
        return 0;
    case MM_ROUTE_BAD_METHOD:
        apr_table_setn(q->r->err_headers_out, "Allow", allow);
        return mm_error(
            q->r, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
            apr_psprintf(q->r->pool, "%s is not allowed here; use %s", q->r->method, allow), NULL);
    default:
        return mm_error(q->r, HTTP_NOT_FOUND, "not_found", "no such API endpoint", NULL);
    }
}

/* Authenticates, rate-limits and runs the route's handler, in SPEC.md 1's
 * order (precedence.h). */
static void serve(mm_req *q, const char *path)
{
    if (mm_cors(q, path) || route(q, path))
        return;
    /* For the access log: LogFormat "... %{meeting-route}n %D" */
    apr_table_setn(q->r->notes, "meeting-route", q->route->name);
    if (q->route->auth == MM_AUTH_JWT && mm_authenticate(q))
        return;
    if (q->route->auth != MM_AUTH_JWT_OR_SIGNED && mm_admit(q))
        return;
    if (mm_route_keyed(q->route) && mm_idem_begin(q))
        return;
    /* A handler answers, whatever happens: one that did not is a bug. */
    if (handlers[q->route->id](q) != MM_ANSWERED)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM1401: %s returned without answering",
                      q->route->name);
}

/* httpd's own error, reached through ErrorDocument. A 400 over a header's
 * size or the number of headers (LimitRequestFieldSize, LimitRequestFields)
 * is told apart by the note httpd's protocol layer leaves for its own error
 * page: the status alone does not say which limit was hit. */
static void httpd_error(request_rec *r)
{
    const char *notes = apr_table_get(r->prev->notes, "error-notes");

    if (r->prev->status == HTTP_BAD_REQUEST && notes && strstr(notes, "request header field")
        && strstr(notes, "exceeds"))
        mm_error(r, HTTP_BAD_REQUEST, "header_too_large",
                 "a request header, or their number, is larger than the server accepts", NULL);
    else
        mm_error_for_status(r, r->prev->status);
}

static int meeting_handler(request_rec *r)
{
    mm_req q;

    if (!r->handler || strcmp(r->handler, MM_HANDLER) != 0)
        return DECLINED;
    /* An ErrorDocument redirect: render httpd's own error as JSON. */
    if (r->prev && ap_is_HTTP_ERROR(r->prev->status)) {
        httpd_error(r);
        return OK;
    }
    memset(&q, 0, sizeof(q));
    q.r = r;
    q.conf = ap_get_module_config(r->server->module_config, &meeting_module);
    serve(&q, api_path(r));
    /* Answered: the connection goes back to the pool now, not once the
     * answer is written and logged, so that under load fewer requests wait
     * for one (docs/benchmarks.md). */
    mm_db_release(&q);
    mm_stats_count(q.conf->stats, q.route, r->status);
    return OK;
}

/* Marks, in r->request_config, a request SetHandler meeting-api applies to. */
static char api_request;

/* Whether SetHandler meeting-api applies to r: translate_name runs with the
 * <Location> configuration merged, map_to_storage no longer does. */
static int translate_name(request_rec *r)
{
    const core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *handler;

    if (!d || !d->expr_handler)
        return DECLINED;
    handler = ap_expr_str_exec(r, d->expr_handler, &err);
    if (!err && handler && strcmp(handler, MM_HANDLER) == 0)
        ap_set_module_config(r->request_config, &meeting_module, &api_request);
    return DECLINED;
}

/* An API request maps to no file: skip httpd's directory and file walk (and
 * .htaccess lookups), as mod_proxy does for its own. The <Location> walk that
 * follows still applies its configuration (handler, limits, access). */
static int map_to_storage(request_rec *r)
{
    if (ap_get_module_config(r->request_config, &meeting_module) != &api_request)
        return DECLINED;
    return OK;
}

mm_step mm_health(mm_req *q)
{
    const char *col;
    int found;

    if (mm_db_row(q, S_HEALTH, 0, NULL, &col, 1, &found))
        return MM_ANSWERED;
    return mm_reply(q->r, HTTP_OK, "ok", "{\"status\":\"ok\",\"database\":\"up\"}");
}

/* Runs before mod_dbd's post_config, which collects what was prepared. */
static int prepare_statements(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf, (void)plog;
    mm_db_prepare_all(ptemp, s);
    return OK;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    mm_rl_table *table = NULL;
    mm_stats *stats = NULL;
    apr_status_t rv;

    (void)plog, (void)ptemp;
    /* jansson seeds its hash function on first use, which is not thread-safe:
     * seed it here, before httpd forks and starts threads. */
    json_object_seed(0);
    /* The server configurations were finished and checked in check_config. */
    for (server_rec *sp = s; sp; sp = sp->next) {
        mm_srv_conf *c = ap_get_module_config(sp->module_config, &meeting_module);
        if (!table) {
            rv = mm_rl_shm_attach(s->process->pool, c->rl_slots, &table);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                             "MM0002: cannot create the rate-limit table of %" APR_SIZE_T_FMT
                             " slots (MeetingRateLimitSlots)",
                             c->rl_slots);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        if (!stats && (rv = mm_stats_attach(s->process->pool, &stats)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "MM0003: cannot create the statistics");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        c->rl = table;
        c->stats = stats;
    }
    /* One cache for the whole httpd: the main server's lifetime. */
    rv = mm_cache_attach(
        s->process->pool,
        apr_time_from_sec(((mm_srv_conf *)ap_get_module_config(s->module_config, &meeting_module))
                              ->detail_cache_ttl));
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "MM1800: cannot create the meeting detail cache (MeetingDetailCache)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (mm_signald_start(pconf, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    return mm_recworker_start(pconf, s);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    mm_room_events_child_init(pchild, s);
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};

    (void)p;
    ap_hook_check_config(mm_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mm_room_events_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(prepare_statements, NULL, before_dbd, APR_HOOK_FIRST);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(translate_name, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(meeting_handler, NULL, NULL, APR_HOOK_MIDDLE);
    mm_status_register();
    mm_metrics_register();
}

AP_DECLARE_MODULE(meeting) = {
    STANDARD20_MODULE_STUFF,     NULL,    NULL,           mm_create_srv_conf,
    mm_merge_srv_conf,           mm_cmds, register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE,
#endif
};
