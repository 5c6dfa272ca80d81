/*
 * The benchmark's reference handlers, loaded into the same httpd as
 * mod_meeting so that their figures are ceilings of the same stack:
 *
 *   SetHandler bench-fixed   a fixed JSON body, nothing else (httpd's own cost)
 *   SetHandler bench-dbd     ?id=N: one prepared point query through mod_dbd
 *                            (SELECT a meetings row by primary key), the row as
 *                            JSON; no JWT, no rate limit, no routing
 *
 * Built by tests/bench/run.sh with the flags apxs reports; not installed.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include <apr_dbd.h>
#include <apr_strings.h>

#include <mod_dbd.h>

#include <stdlib.h>
#include <string.h>

#define LABEL "bench_point"

module AP_MODULE_DECLARE_DATA bench_bare_module;

static const char fixed_body[] =
    "{\"code\":200,\"data\":{\"meeting_id\":1,\"title\":\"Weekly sync #1\",\"status\":\"scheduled\","
    "\"start_time\":\"2025-01-01T00:07:00Z\",\"max_participants\":10}}";

static int send_json(request_rec *r, const char *body, apr_size_t len)
{
    ap_set_content_type(r, "application/json");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rwrite(body, (int)len, r);
    return OK;
}

static int fixed_handler(request_rec *r)
{
    return send_json(r, fixed_body, sizeof(fixed_body) - 1);
}

static int dbd_handler(request_rec *r)
{
    const char *args[1];
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    ap_dbd_t *db;
    const char *body;
    long long id;

    if (!r->args || strncmp(r->args, "id=", 3) != 0 || (id = atoll(r->args + 3)) <= 0)
        return HTTP_BAD_REQUEST;
    db = ap_dbd_acquire(r);
    if (!db)
        return HTTP_SERVICE_UNAVAILABLE;
    st = apr_hash_get(db->prepared, LABEL, APR_HASH_KEY_STRING);
    args[0] = apr_off_t_toa(r->pool, (apr_off_t)id);
    /* Random access, as mod_meeting asks for it. */
    if (!st || apr_dbd_pselect(db->driver, r->pool, db->handle, &res, st, 1, 1, args) != 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (apr_dbd_get_row(db->driver, r->pool, res, &row, 1) != 0)
        return HTTP_NOT_FOUND;
    body = apr_psprintf(r->pool,
                        "{\"code\":200,\"data\":{\"meeting_id\":%s,\"title\":\"%s\","
                        "\"status\":\"%s\",\"start_time\":\"%s\",\"max_participants\":%s}}",
                        apr_dbd_get_entry(db->driver, row, 0),
                        apr_dbd_get_entry(db->driver, row, 1),
                        apr_dbd_get_entry(db->driver, row, 2),
                        apr_dbd_get_entry(db->driver, row, 3),
                        apr_dbd_get_entry(db->driver, row, 4));
    return send_json(r, body, strlen(body));
}

static int handler(request_rec *r)
{
    if (!r->handler)
        return DECLINED;
    if (!strcmp(r->handler, "bench-fixed"))
        return fixed_handler(r);
    if (!strcmp(r->handler, "bench-dbd"))
        return dbd_handler(r);
    return DECLINED;
}

/* Before mod_dbd's post_config, which collects what was prepared. */
static int prepare(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    for (server_rec *sp = s; sp; sp = sp->next)
        ap_dbd_prepare(sp,
                       "SELECT meeting_id, title, status, start_time, max_participants "
                       "FROM meetings WHERE meeting_id = %lld",
                       LABEL);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};

    ap_hook_post_config(prepare, NULL, before_dbd, APR_HOOK_FIRST);
    ap_hook_handler(handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(bench_bare) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, register_hooks, 0,
};
