/*
 * Supervision of signald by httpd (MeetingSignalingDaemon), in the pattern of
 * mod_cgid's daemon: spawned from post_config, registered as an "other child"
 * of the parent so that its death is noticed and it is started again.
 *
 * Its state lives on the process pool, so a graceful restart re-reads the
 * configuration but keeps the running daemon (and its WebSocket connections).
 * The other-child registration, which points at this module's code, is made
 * on pconf and made again by every generation: the module is unloaded with
 * pconf, and a registration on the process pool would call into unmapped
 * code when httpd exits. signald is stopped when httpd's parent process exits
 * (PR_SET_PDEATHSIG: this holds even when httpd is killed). An exit with
 * SIGNALD_EXIT_FATAL (bad arguments, cannot bind) is not retried: restarting
 * would only fail again.
 */
#include "signald_proc.h"

#include <apr_thread_proc.h>
#include <http_core.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define USERDATA_KEY "mod_meeting_signald"
#define SIGNALD_EXIT_USAGE 2
#define SIGNALD_EXIT_FATAL 3

typedef struct {
    apr_pool_t *pool;           /* the process pool */
    apr_pool_t *pconf;          /* this generation's, for the registration */
    server_rec *s;              /* this generation's, for logging */
    const char *const *argv;
    apr_proc_t proc;
    pid_t parent;               /* the httpd parent that supervises it */
    int running;
    int starts;
} signald_state;

static void maintain(int reason, void *data, int status);

/* In the forked child: tie signald's life to httpd's parent process (the
 * kernel sends SIGTERM when it exits, however it exits), close what httpd
 * had open, and become signald. */
static void exec_signald(signald_state *st)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != st->parent)
        _exit(SIGNALD_EXIT_FATAL);
    apr_pool_cleanup_for_exec();
    execv(st->argv[0], (char *const *)st->argv);
    _exit(SIGNALD_EXIT_FATAL);
}

static apr_status_t spawn(signald_state *st)
{
    apr_status_t rv = apr_proc_fork(&st->proc, st->pool);

    if (rv == APR_INCHILD)
        exec_signald(st);
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, st->s, "MM0401: cannot start signald %s",
                     st->argv[0]);
        return rv;
    }
    st->running = 1;
    st->starts++;
    apr_proc_other_child_register(&st->proc, maintain, st, NULL, st->pconf);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, st->s, "MM0402: signald started (pid %d)",
                 (int)st->proc.pid);
    return APR_SUCCESS;
}

static void maintain(int reason, void *data, int status)
{
    signald_state *st = data;
    int code = status;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        st->running = 0;
        apr_proc_other_child_unregister(st);
        if (reason == APR_OC_REASON_DEATH && WIFEXITED(code)
            && (WEXITSTATUS(code) == SIGNALD_EXIT_FATAL
                || WEXITSTATUS(code) == SIGNALD_EXIT_USAGE)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, st->s,
                         "MM0403: signald exited with code %d and is not restarted; "
                         "see its messages above (MeetingSignalingDaemon)",
                         WEXITSTATUS(code));
            return;
        }
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st->s,
                     "MM0404: signald (pid %d) died; starting it again", (int)st->proc.pid);
        spawn(st);
        break;
    default:
        /* UNREGISTER (pconf cleared: restart or exit) needs nothing: the
         * next generation registers again, and the kernel ends signald when
         * httpd's parent exits. */
        break;
    }
}

/* Where signald reports its counts for server-status. */
static const char *status_path(apr_pool_t *p)
{
    return ap_runtime_dir_relative(p, "mod_meeting-signald.status");
}

static const char *const *build_argv(apr_pool_t *p, const mm_srv_conf *c)
{
    char **words;
    apr_array_header_t *argv = apr_array_make(p, 12, sizeof(const char *));

    apr_tokenize_to_argv(c->signald_cmd, &words, p);
    for (; *words; words++)
        APR_ARRAY_PUSH(argv, const char *) = *words;
    /* Copied: these live in pconf, which a restart clears while signald runs
     * on and may need starting again with the same arguments. */
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
    APR_ARRAY_PUSH(argv, const char *) = NULL;
    return (const char *const *)argv->elts;
}

int mm_signald_start(apr_pool_t *pconf, server_rec *s)
{
    const mm_srv_conf *c = ap_get_module_config(s->module_config, &meeting_module);
    signald_state *st = NULL;

    if (!c->signald_cmd || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    apr_pool_userdata_get((void **)&st, USERDATA_KEY, s->process->pool);
    if (!st) {
        st = apr_pcalloc(s->process->pool, sizeof(*st));
        st->pool = s->process->pool;
        st->parent = getpid();
        apr_pool_userdata_set(st, USERDATA_KEY, apr_pool_cleanup_null, s->process->pool);
    }
    st->s = s;
    st->pconf = pconf;
    if (st->running) {
        /* A graceful restart: keep signald, register this generation's code. */
        apr_proc_other_child_register(&st->proc, maintain, st, NULL, pconf);
        return OK;
    }
    st->argv = build_argv(st->pool, c);
    return spawn(st) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* "name N" lines of signald's status file; -1 when absent. */
static void read_counts(apr_pool_t *p, mm_signald_status *out)
{
    apr_file_t *f;
    char line[64];

    out->rooms = out->connections = -1;
    if (apr_file_open(&f, status_path(p), APR_FOPEN_READ, 0, p) != APR_SUCCESS)
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
    signald_state *st = NULL;

    apr_pool_userdata_get((void **)&st, USERDATA_KEY, r->server->process->pool);
    if (!st)
        return -1;
    out->pid = st->running ? (int)st->proc.pid : 0;
    out->restarts = st->starts > 0 ? st->starts - 1 : 0;
    out->running = st->running;
    read_counts(r->pool, out);
    return 0;
}
