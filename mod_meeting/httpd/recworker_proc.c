/*
 * httpd's supervision of the recording worker (MeetingRecordingWorker),
 * through supervise.c like signald: the admin's arguments (--db at least)
 * and --recording-dir from MeetingRecordingDir, so that the worker writes
 * where the module serves from. Exit 2 (bad arguments) is not restarted.
 * A worker that dies loses nothing: its job is claimed again when its
 * lease runs out (docs/recordings.md).
 */
#include "recworker_proc.h"
#include "supervise.h"

#include <http_core.h>

#define NAME "recworker"
#define RECWORKER_EXIT_USAGE 2

static const int no_restart[] = {RECWORKER_EXIT_USAGE, 0};

static const char *const *build_argv(apr_pool_t *p, const mm_srv_conf *c)
{
    char **words;
    apr_array_header_t *argv = apr_array_make(p, 12, sizeof(const char *));

    apr_tokenize_to_argv(c->recworker_cmd, &words, p);
    for (; *words; words++)
        APR_ARRAY_PUSH(argv, const char *) = *words;
    APR_ARRAY_PUSH(argv, const char *) = "--recording-dir";
    APR_ARRAY_PUSH(argv, const char *) = apr_pstrdup(p, c->recording_dir);
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    return (const char *const *)argv->elts;
}

int mm_recworker_start(apr_pool_t *pconf, server_rec *s)
{
    const mm_srv_conf *c = ap_get_module_config(s->module_config, &meeting_module);
    mm_sup_spec spec = {NAME, NULL, no_restart};

    if (!c->recworker_cmd || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    spec.argv = build_argv(pconf, c);
    return mm_supervise(pconf, s, &spec) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}
