/*
 * httpd supervises a helper daemon: starts it from post_config, starts it
 * again when it dies (with a back-off when it keeps dying young), leaves it
 * down when it exits with a "do not restart me" code, and keeps it across a
 * graceful restart. Generic: signald_proc.c is its one user today; another
 * daemon takes a name of its own.
 */
#ifndef MM_SUPERVISE_H
#define MM_SUPERVISE_H

#include "mm.h"

typedef enum {
    MM_SUP_DOWN,    /* not running and not about to be (httpd stopping, fork failed) */
    MM_SUP_UP,      /* running */
    MM_SUP_BACKOFF, /* died young again: its next start waits until started */
    MM_SUP_STOPPED  /* exited with a code that says do not restart */
} mm_sup_state;

typedef struct {
    mm_sup_state state;
    int pid;            /* 0 when none */
    int restarts;       /* starts after the first */
    int last_exit;      /* last exit code or signal number, -1 before any */
    apr_time_t started; /* when the current process was (or will be) exec'ed */
} mm_sup_status;

typedef struct {
    const char *name;        /* e.g. "signald": logs and the shared state's key */
    const char *const *argv; /* argv[0] is the executable; copied when used */
    const int *no_restart;   /* exit codes that mean "do not restart me", 0-ended */
} mm_sup_spec;

/* Call from post_config (not in the pre-config pass): the first call of an
 * httpd starts the daemon, later generations adopt the running one. Returns
 * APR_SUCCESS or the reason the first start failed. */
apr_status_t mm_supervise(apr_pool_t *pconf, server_rec *s, const mm_sup_spec *spec);

/* The daemon's state as the parent last published it, from any process:
 * 0 and *out filled, or -1 when httpd does not supervise a daemon of that name. */
int mm_supervised_status(server_rec *s, const char *name, mm_sup_status *out);

/* "up", "down", "backoff" or "stopped". */
const char *mm_sup_state_name(mm_sup_state state);

#endif
