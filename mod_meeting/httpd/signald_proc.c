/*
 * httpd's supervision of signald (MeetingSignalingDaemon), through
 * supervise.c: its arguments, its "do not restart me" exit codes (bad
 * arguments, cannot bind: restarting would only fail again) and the counts it
 * reports for server-status.
 */
#include "signald_proc.h"

#include <http_core.h>

#include "room_events.h"

#define NAME "signald"
#define SIGNALD_EXIT_USAGE 2
#define SIGNALD_EXIT_FATAL 3

static const int no_restart[] = {SIGNALD_EXIT_USAGE, SIGNALD_EXIT_FATAL, 0};

/* Where signald reports its counts for server-status. */
static const char *status_path(apr_pool_t *p)
{
    return ap_runtime_dir_relative(p, "mod_meeting-signald.status");
}

/* The deliverer's settings (the MeetingWebhook* directives). */
static void push_webhook_args(apr_pool_t *p, apr_array_header_t *argv, const mm_srv_conf *c)
{
    APR_ARRAY_PUSH(argv, const char *) = "--webhook-timeout";
    APR_ARRAY_PUSH(argv, const char *) = apr_itoa(p, c->webhook_timeout);
    APR_ARRAY_PUSH(argv, const char *) = "--webhook-connections";
    APR_ARRAY_PUSH(argv, const char *) = apr_itoa(p, c->webhook_connections);
    APR_ARRAY_PUSH(argv, const char *) = "--webhook-retry";
    APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->webhook_retry);
    for (int i = 0; c->webhook_allow && i < c->webhook_allow->nelts; i++) {
        APR_ARRAY_PUSH(argv, const char *) = "--webhook-allow";
        APR_ARRAY_PUSH(argv, const char *) =
            apr_pstrdup(p, APR_ARRAY_IDX(c->webhook_allow, i, const char *));
    }
}

/* This node in the registry (the MeetingNode* directives; docs/cluster.md).
 * Without MeetingNodeName signald takes the host name itself. */
static void push_node_args(apr_pool_t *p, apr_array_header_t *argv, const mm_srv_conf *c)
{
    APR_ARRAY_PUSH(argv, const char *) = "--node-timeout";
    APR_ARRAY_PUSH(argv, const char *) = apr_itoa(p, c->node_timeout);
    if (c->node_name) {
        APR_ARRAY_PUSH(argv, const char *) = "--node";
        APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->node_name);
    }
    if (c->node_url) {
        APR_ARRAY_PUSH(argv, const char *) = "--node-url";
        APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->node_url);
    }
}

static const char *const *build_argv(apr_pool_t *p, const mm_srv_conf *c)
{
    char **words;
    apr_array_header_t *argv = apr_array_make(p, 12, sizeof(const char *));

    apr_tokenize_to_argv(c->signald_cmd, &words, p);
    for (; *words; words++)
        APR_ARRAY_PUSH(argv, const char *) = *words;
    APR_ARRAY_PUSH(argv, const char *) = "--secret-file";
    APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->secret_file);
    APR_ARRAY_PUSH(argv, const char *) = "--issuer";
    APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->issuer);
    APR_ARRAY_PUSH(argv, const char *) = "--status-file";
    APR_ARRAY_PUSH(argv, const char *) = status_path(p);
    /* After the admin's words: the directives are where these are set. */
    APR_ARRAY_PUSH(argv, const char *) = "--max-sockets-per-user";
    APR_ARRAY_PUSH(argv, const char *) = apr_itoa(p, c->sig_max_user);
    APR_ARRAY_PUSH(argv, const char *) = "--max-sockets-per-address";
    APR_ARRAY_PUSH(argv, const char *) = apr_itoa(p, c->sig_max_addr);
    push_webhook_args(p, argv, c);
    push_node_args(p, argv, c);
    mm_room_events_args(p, argv);
    if (c->media_server) {
        APR_ARRAY_PUSH(argv, const char *) = "--media-server";
        APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->media_server);
        APR_ARRAY_PUSH(argv, const char *) = "--media-secret-file";
        APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->media_secret_file);
    }
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    return (const char *const *)argv->elts;
}

int mm_signald_start(apr_pool_t *pconf, server_rec *s)
{
    const mm_srv_conf *c = ap_get_module_config(s->module_config, &meeting_module);
    mm_sup_spec spec = {NAME, NULL, no_restart};

    if (!c->signald_cmd || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    spec.argv = build_argv(pconf, c);
    return mm_supervise(pconf, s, &spec) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* "name N" lines of signald's status file, when the file was written by the
 * running signald (a killed one leaves its last counts behind). */
static void read_counts(apr_pool_t *p, apr_time_t started, mm_signald_status *out)
{
    apr_finfo_t fi;
    apr_file_t *f;
    char line[64];

    if (apr_stat(&fi, status_path(p), APR_FINFO_MTIME, p) != APR_SUCCESS || fi.mtime < started
        || apr_file_open(&f, status_path(p), APR_FOPEN_READ, 0, p) != APR_SUCCESS)
        return;
    while (apr_file_gets(line, sizeof(line), f) == APR_SUCCESS) {
        if (strncmp(line, "rooms ", 6) == 0)
            out->rooms = atoi(line + 6);
        else if (strncmp(line, "connections ", 12) == 0)
            out->connections = atoi(line + 12);
    }
    apr_file_close(f);
}

int mm_signald_info(request_rec *r, mm_signald_status *out)
{
    if (mm_supervised_status(r->server, NAME, &out->sup) != 0)
        return -1;
    /* No signald, no rooms; a running one that has not written yet: unknown. */
    out->rooms = out->connections = out->sup.state == MM_SUP_UP ? -1 : 0;
    if (out->sup.state == MM_SUP_UP)
        read_counts(r->pool, apr_time_sec(out->sup.started) * APR_USEC_PER_SEC, out);
    return 0;
}
