/*
 * Database access through mod_dbd: every statement is prepared once, by label,
 * at start-up; a request acquires its pooled connection, runs statements and
 * reads their first row. Connection failures answer 503 with Retry-After.
 */
#ifndef MM_DB_H
#define MM_DB_H

#include "args.h"
#include "reply.h"

/* The statements: first each route's action (routes.def: S_<route id>),
 * then those several requests share. */
typedef enum {
#define ROUTE(id, ...) S_##id,
#include "routes.def"
#undef ROUTE
    S_TOKEN_REVOKED,
    S_CONTEXT,
    S_JOIN_INFO,
    S_REFRESH_STORE,
    S_RECORDING_STORED,
    S_IDEM_CLAIM,
    S_IDEM_STORE,
    S_MEETING_IF_MATCH,
    S_PASSWORD_UPGRADE,
    S_ROOM_NOTIFY,
    S_COUNT
} mm_stmt_id;

/* The outcome of an action function (sql/003_api.sql, type mm_result). */
typedef struct {
    int code;
    const char *error, *field, *message, *data;
} mm_result;

/* Registers every statement with mod_dbd, once per DBD configuration of the
 * servers that use the handler; called before mod_dbd's post_config. */
void mm_db_prepare_all(apr_pool_t *ptemp, server_rec *s);

/* Runs statement id with nargs text arguments (NULL = SQL NULL) and copies up
 * to ncols columns of its first row into cols (*found = 0 when no row).
 * Returns 0, or MM_ANSWERED after answering 503 (database unreachable) or 500. */
int mm_db_row(mm_req *q, mm_stmt_id id, int nargs, const char **args, const char **cols, int ncols,
              int *found);

/* Runs a statement whose failure must not change the request's answer: 0, or
 * -1 after logging why. */
int mm_db_run_quietly(mm_req *q, mm_stmt_id id, int nargs, const char **args);

/* Gives q's connection back to the pool before the request ends (a statement
 * after it takes one again): for a request that then waits on its client. */
void mm_db_release(mm_req *q);

/* Runs an action statement returning mm_result. Returns 0 or MM_ANSWERED. */
int mm_db_result(mm_req *q, mm_stmt_id id, int nargs, const char **args, mm_result *res);

/* mm_db_result of a statement whose row has nmore columns after the
 * mm_result's, copied into more (NULL: SQL NULL): a PLACED action's
 * (routes.def) is the signaling URL of the node its meeting was placed on,
 * NULL for this server's own; the chat send's is its room event
 * (room_events.h). */
#define MM_DB_MORE_MAX 2
int mm_db_result_more(mm_req *q, mm_stmt_id id, int nargs, const char **args, mm_result *res,
                      const char **more, int nmore);

/* A transaction around several statements of q (SPEC.md 9: an idempotent
 * request's answer is stored in the transaction of the change it made).
 * While it is open, a connection that breaks is not reset under it (its
 * statements would commit on their own): they answer 503 instead. One left
 * open when the request ends is rolled back. mm_db_begin returns 0, or
 * MM_ANSWERED after answering 503/500; so does mm_db_commit. */
int mm_db_begin(mm_req *q);
int mm_db_commit(mm_req *q);
void mm_db_rollback(mm_req *q);

/* Calls then(q, arg) once what q wrote is committed: at once when no
 * transaction is open (its statements committed on their own), else after
 * the transaction's COMMIT succeeded; never when it rolls back. One per
 * request (a later call replaces an earlier one still waiting). */
typedef void mm_db_then(mm_req *q, const char *arg);
void mm_db_after_commit(mm_req *q, mm_db_then *then, const char *arg);

#endif
