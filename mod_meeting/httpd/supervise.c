/*
 * Supervision of a helper daemon by httpd's parent (see supervise.h), in the
 * pattern of mod_cgid's daemon: spawned from post_config, registered as an
 * "other child" of the parent so that its death is noticed.
 *
 * The parent's bookkeeping lives on the process pool, so a graceful restart
 * re-reads the configuration but keeps the running daemon. What server-status
 * shows is published in a small anonymous shared memory segment: the children
 * that answer server-status were forked before the daemon's last death and
 * would otherwise show their copy of the parent's memory as it was then.
 *
 * The other-child registration, which points at this module's code, is made
 * on pconf and again by every generation: the module is unloaded with pconf,
 * and a registration on the process pool would call into unmapped code when
 * httpd exits. The daemon is stopped when httpd's parent process exits
 * (PR_SET_PDEATHSIG: this holds even when httpd is killed).
 *
 * httpd hands the other-child callback an exit status it has already decoded
 * (apr_proc_wait's exit code, or the signal number for a killed process), so
 * it is compared as it is. It cannot tell "exit 2" from "killed by SIGINT":
 * both leave the daemon down, which is what an admin's Ctrl-C would want.
 */
#include "supervise.h"

#include <apr_shm.h>
#include <apr_thread_proc.h>
#include <ap_mpm.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#define KEY_PREFIX "mod_meeting/supervise/"
/* A run shorter than this counts as dying young. */
#define STABLE_SEC 10
#define BACKOFF_MAX_SEC 60
/* The forked child exits with this when it cannot become the daemon. */
#define EXIT_CANNOT_EXEC 127
#define MIN(a, b) ((a) < (b) ? (a) : (b))

typedef struct {
    apr_pool_t *pool;  /* the process pool */
    apr_pool_t *pconf; /* this generation's, for the registration */
    server_rec *s;     /* this generation's, for logging */
    const char *name;
    const char *const *argv;
    const int *no_restart;
    apr_proc_t proc;
    pid_t parent;        /* the httpd parent that supervises it */
    int running;         /* a process of ours exists (perhaps still waiting) */
    int deaths_in_a_row; /* with no run of STABLE_SEC between them */
    mm_sup_status *pub;  /* in shared memory, for every child */
} supervised;

static void maintain(int reason, void *data, int status);

/* The process-pool userdata key of a daemon's record: built in a buffer, as
 * a status page asks for it on every request. */
static const char *key_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, KEY_PREFIX "%s", name);
    return buf;
}

/* Copies the state into the shared segment; readers take a field at a time,
 * and a torn read of two ints is only a momentary oddity on a status page. */
static void publish(supervised *sv, mm_sup_state state, apr_time_t started)
{
    mm_sup_status *p = sv->pub;

    __atomic_store_n(&p->pid, sv->running ? (int)sv->proc.pid : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->started, started, __ATOMIC_RELAXED);
    __atomic_store_n(&p->state, state, __ATOMIC_RELEASE);
}

/* In the forked child: tie its life to httpd's parent (the kernel sends
 * SIGTERM when it exits, however it exits), drop the parent's signal
 * handlers and mask (a waiting child must die of that SIGTERM), close what
 * httpd had open, wait out the back-off, and become the daemon. */
static void exec_daemon(supervised *sv, apr_interval_time_t delay)
{
    static const int handled[] = {SIGTERM, SIGHUP, SIGINT, SIGUSR1, SIGWINCH, SIGPIPE, SIGCHLD};
    sigset_t none;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
        signal(handled[i], SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (getppid() != sv->parent)
        _exit(EXIT_CANNOT_EXEC);
    apr_pool_cleanup_for_exec();
    if (delay > 0)
        apr_sleep(delay);
    execv(sv->argv[0], (char *const *)sv->argv);
    _exit(EXIT_CANNOT_EXEC);
}

static apr_status_t spawn(supervised *sv, apr_interval_time_t delay)
{
    apr_status_t rv = apr_proc_fork(&sv->proc, sv->pool);

    if (rv == APR_INCHILD)
        exec_daemon(sv, delay);
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, sv->s, "MM0401: cannot start %s %s", sv->name,
                     sv->argv[0]);
        publish(sv, MM_SUP_DOWN, 0);
        return rv;
    }
    sv->running = 1;
    apr_proc_other_child_register(&sv->proc, maintain, sv, NULL, sv->pconf);
    publish(sv, delay > 0 ? MM_SUP_BACKOFF : MM_SUP_UP, apr_time_now() + delay);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, sv->s, "MM0402: %s started (pid %d)", sv->name,
                 (int)sv->proc.pid);
    return APR_SUCCESS;
}

static int httpd_stopping(void)
{
    int state;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

static int is_no_restart(const supervised *sv, int code)
{
    if (code == EXIT_CANNOT_EXEC)
        return 1;
    for (const int *c = sv->no_restart; c && *c; c++)
        if (*c == code)
            return 1;
    return 0;
}

/* 0 for the first death in a row (a one-off crash is restarted at once),
 * then 1, 2, 4 ... seconds up to BACKOFF_MAX_SEC. */
static int backoff_seconds(int deaths_in_a_row)
{
    if (deaths_in_a_row <= 1)
        return 0;
    if (deaths_in_a_row - 2 >= 6) /* 2^6 is past the cap */
        return BACKOFF_MAX_SEC;
    return MIN(1 << (deaths_in_a_row - 2), BACKOFF_MAX_SEC);
}

static void died(supervised *sv, int reason, int status)
{
    apr_time_t ran = apr_time_now() - sv->pub->started;
    int delay;

    sv->pub->last_exit = reason == APR_OC_REASON_DEATH ? status : -1;
    if (httpd_stopping()) {
        publish(sv, MM_SUP_DOWN, 0);
        return;
    }
    if (reason == APR_OC_REASON_DEATH && is_no_restart(sv, status)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, sv->s,
                     "MM0403: %s exited with code %d and is not restarted; see its messages "
                     "above",
                     sv->name, status);
        publish(sv, MM_SUP_STOPPED, 0);
        return;
    }
    sv->deaths_in_a_row = ran < apr_time_from_sec(STABLE_SEC) ? sv->deaths_in_a_row + 1 : 1;
    delay = backoff_seconds(sv->deaths_in_a_row);
    if (delay == 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sv->s,
                     "MM0404: %s (pid %d) died (code or signal %d); starting it again", sv->name,
                     (int)sv->proc.pid, status);
    else
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, sv->s,
                     "MM0405: %s (pid %d) died (code or signal %d), %d times without "
                     "running %d s; starting it again in %d s",
                     sv->name, (int)sv->proc.pid, status, sv->deaths_in_a_row, STABLE_SEC, delay);
    sv->pub->restarts++;
    spawn(sv, apr_time_from_sec(delay));
}

static void maintain(int reason, void *data, int status)
{
    supervised *sv = data;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        sv->running = 0;
        apr_proc_other_child_unregister(sv);
        died(sv, reason, status);
        break;
    default:
        /* UNREGISTER (pconf cleared: restart or exit) needs nothing: the
         * next generation registers again, and the kernel ends the daemon
         * when httpd's parent exits. */
        break;
    }
}

/* The parent's record of the daemon, made once per httpd process. */
static supervised *record(server_rec *s, const mm_sup_spec *spec)
{
    apr_pool_t *pool = s->process->pool;
    char buf[128];
    const char *key = key_of(buf, sizeof(buf), spec->name);
    supervised *sv = NULL;
    apr_shm_t *shm;

    apr_pool_userdata_get((void **)&sv, key, pool);
    if (sv)
        return sv;
    if (apr_shm_create(&shm, sizeof(mm_sup_status), NULL, pool) != APR_SUCCESS)
        return NULL;
    sv = apr_pcalloc(pool, sizeof(*sv));
    sv->pool = pool;
    sv->parent = getpid();
    sv->name = apr_pstrdup(pool, spec->name);
    sv->pub = apr_shm_baseaddr_get(shm);
    memset(sv->pub, 0, sizeof(*sv->pub));
    sv->pub->last_exit = -1;
    apr_pool_userdata_set(sv, key, apr_pool_cleanup_null, pool);
    return sv;
}

/* Onto the process pool: the daemon may need starting again after a restart
 * has cleared the pool the caller built its arguments in. */
static const char *const *copy_argv(apr_pool_t *p, const char *const *argv)
{
    size_t n = 0;
    const char **copy;

    while (argv[n])
        n++;
    copy = apr_palloc(p, (n + 1) * sizeof(*copy));
    for (size_t i = 0; i < n; i++)
        copy[i] = apr_pstrdup(p, argv[i]);
    copy[n] = NULL;
    return copy;
}

apr_status_t mm_supervise(apr_pool_t *pconf, server_rec *s, const mm_sup_spec *spec)
{
    supervised *sv = record(s, spec);

    if (!sv) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "MM0406: cannot create the shared "
                     "state to supervise %s",
                     spec->name);
        return APR_ENOMEM;
    }
    sv->s = s;
    sv->pconf = pconf;
    sv->no_restart = spec->no_restart;
    if (sv->running) {
        /* A graceful restart: keep the daemon, register this generation's code. */
        apr_proc_other_child_register(&sv->proc, maintain, sv, NULL, pconf);
        return APR_SUCCESS;
    }
    /* Started anew (first start, or a restart after it stopped): the
     * configuration may have changed what it runs. */
    sv->argv = copy_argv(sv->pool, spec->argv);
    sv->deaths_in_a_row = 0;
    return spawn(sv, 0);
}

int mm_supervised_status(server_rec *s, const char *name, mm_sup_status *out)
{
    supervised *sv = NULL;
    apr_pool_t *pool = s->process->pool;
    char buf[128];

    apr_pool_userdata_get((void **)&sv, key_of(buf, sizeof(buf), name), pool);
    if (!sv)
        return -1;
    out->state = __atomic_load_n(&sv->pub->state, __ATOMIC_ACQUIRE);
    out->pid = __atomic_load_n(&sv->pub->pid, __ATOMIC_RELAXED);
    out->restarts = __atomic_load_n(&sv->pub->restarts, __ATOMIC_RELAXED);
    out->last_exit = __atomic_load_n(&sv->pub->last_exit, __ATOMIC_RELAXED);
    out->started = __atomic_load_n(&sv->pub->started, __ATOMIC_RELAXED);
    /* A back-off ends with the exec: the parent hears nothing of it. */
    if (out->state == MM_SUP_BACKOFF && apr_time_now() >= out->started)
        out->state = MM_SUP_UP;
    return 0;
}

const char *mm_sup_state_name(mm_sup_state state)
{
    static const char *const names[] = {"down", "up", "backoff", "stopped"};

    return state <= MM_SUP_STOPPED ? names[state] : "unknown";
}
