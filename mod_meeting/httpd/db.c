/* Database access through mod_dbd (see db.h). */
#include "db.h"
#include "cache_route.h"
#include "configcheck.h"
#include "pgsession.h"

#define RESULT_COLS "code, error, field, message, data"

/* Every statement the module runs. Integers are typed (%lld, %d) because the
 * pgsql driver types %s as varchar; JSON documents are cast by the SQL.
 * The actions of authenticated requests take the caller and the generation
 * of their access token (the "user, gen" pairs below) and answer 401 when the
 * token no longer holds: one statement per request. S_TOKEN_REVOKED asks
 * that alone (the same SQL rule), for the answers a request gives before it
 * reaches its action.
 *
 * A route's statement (routes.def) is made from its row: its kind (RESULT,
 * PLACED, OWN_CHECK, SQL) and its need. Each kind is a pair "KIND_, call..."
 * that STATEMENT hands the check of the need to. */
#define RESULT(call) RESULT_, call
#define PLACED(action, codes) PLACED_, action, codes
#define OWN_CHECK(call) OWN_CHECK_, call
#define SQL(text) SQL_, text
#define STATEMENT(check, ...) STATEMENT_(check, __VA_ARGS__)
#define STATEMENT_(check, kind, ...) kind(check, __VA_ARGS__)

/* The mm_result columns of call. */
#define SELECTED(call) "SELECT " RESULT_COLS " FROM " call
/* call, once the caller passed need (mm_context: 401, 404, 403 in SPEC.md 1's
 * order), else that refusal: the route's need is checked in one place, and
 * the action is not run after a refusal (CASE evaluates only the branch it
 * takes; OFFSET 0 keeps the subquery whole, so the action runs once, not once
 * per column). $1, $2 and $3 are the meeting, the caller and the token's
 * generation: the first three arguments of every meeting action. */
#define GATED(need, call)                                                                  \
    "SELECT (a).code, (a).error, (a).field, (a).message, (a).data FROM (SELECT CASE WHEN " \
    "v.code = 200 THEN " call " ELSE v END AS a FROM mm_context($1, $2, $3, " need         \
    ") v OFFSET 0) s"
/* The check of each need (router.h: the values mm_context takes). */
#define CHECK_NONE(call) SELECTED(call)
#define CHECK_WEBHOOK(call) SELECTED(call) /* the webhook's owner: its action checks */
#define CHECK_ANYONE(call) GATED("-1", call)
#define CHECK_MEMBER(call) GATED("0", call)
#define CHECK_STAFF(call) GATED("1", call)
#define CHECK_HOST(call) GATED("2", call)
#define CHECK_CREATOR(call) GATED("3", call)

#define RESULT_(check, call) check(call)
/* call checks the need itself: it reads the caller's access for its answer
 * too (one read), or under the meeting's row lock, or the need it checks
 * depends on the request. */
#define OWN_CHECK_(check, call) SELECTED(call)
/* An action (RESULT or OWN_CHECK) whose answer carries room_url: when it
 * answers one of codes, the same statement places the meeting on a node
 * (sql/005_nodes.sql; its %lld is the meeting again), and that node's
 * signaling URL follows the mm_result columns (NULL: this server's own, as
 * when no live node holds it). */
#define PLACED_(check, kind, call, codes) PLACE(kind(check, call), codes)
#define PLACE(select, codes)                                        \
    "WITH r AS (" select ") SELECT r.*, CASE WHEN r.code IN " codes \
    " THEN (SELECT p.url FROM mm_meeting_place(%lld) p WHERE p.placed) END FROM r"
#define SQL_(check, text) text
static const char *const statements[S_COUNT] = {
#define ROUTE(id, method, pattern, name, auth, rl, per_minute, need, body, handler, stmt) \
    [S_##id] = STATEMENT(CHECK_##need, stmt),
#include "routes.def"
#undef ROUTE
    [S_TOKEN_REVOKED] = "SELECT mm_token_revoked(%lld, %lld)",
    [S_REFRESH_STORE] = "SELECT mm_refresh_store(%s, %lld, %s, %d)",
    [S_CONTEXT] = SELECTED("mm_context(%lld, %lld, %lld, %d)"),
    [S_JOIN_INFO] = "SELECT (verdict).code, (verdict).error, (verdict).field, (verdict).message,"
                    " (verdict).data, password_hash, is_host FROM mm_join_info(%lld, %lld, %lld)",
    [S_RECORDING_STORED] = SELECTED("mm_recording_stored(%lld, %s, %lld, %s)"),
    [S_IDEM_CLAIM] =
        "SELECT outcome, status, response FROM mm_idem_claim(%lld, %lld, %s, %s, %s, %s)",
    [S_IDEM_STORE] = "SELECT mm_idem_store(%lld, %s, %s, %s, %s, %d, %s)",
    [S_MEETING_IF_MATCH] = SELECTED("mm_meeting_if_match(%lld, %s)"),
    [S_PASSWORD_UPGRADE] = "SELECT mm_password_upgrade(%lld, %s, %s)",
    [S_ROOM_NOTIFY] = "SELECT pg_notify('meeting_events', %s)",
};

/* A route's action: S_<id> and MM_R_<id> are both routes.def's rows in order. */
static mm_stmt_id action_of(const mm_route *route)
{
    return (mm_stmt_id)route->id;
}

static const char *label(mm_stmt_id id)
{
    static char labels[S_COUNT][8];

    if (!labels[id][0])
        snprintf(labels[id], sizeof(labels[id]), "mm_%d", (int)id);
    return labels[id];
}

/* mod_dbd keeps statements per server configuration, which virtual hosts
 * without DBD directives of their own share with the main server: preparing
 * for each server_rec would prepare twice into one table (AH02653 warnings),
 * and for a server that does not serve the API, into another site's database. */
void mm_db_prepare_all(apr_pool_t *ptemp, server_rec *s)
{
    module *dbd = ap_find_linked_module("mod_dbd.c");
    apr_array_header_t *done = apr_array_make(ptemp, 4, sizeof(void *));

    for (int i = 0; i < S_COUNT; i++)
        label((mm_stmt_id)i);
    for (server_rec *sp = s; sp; sp = sp->next) {
        void *dbd_conf = dbd ? ap_get_module_config(sp->module_config, dbd) : NULL;
        int seen = 0;
        for (int k = 0; k < done->nelts && !seen; k++)
            seen = APR_ARRAY_IDX(done, k, void *) == dbd_conf;
        if (seen || !mm_server_uses_handler(ptemp, s, sp))
            continue;
        APR_ARRAY_PUSH(done, void *) = dbd_conf;
        for (int i = 0; i < S_COUNT; i++)
            ap_dbd_prepare(sp, statements[i], label((mm_stmt_id)i));
    }
}

static int unavailable(mm_req *q)
{
    apr_table_setn(q->r->err_headers_out, "Retry-After",
                   apr_itoa(q->r->pool, q->conf->db_retry_after));
    return mm_error(q->r, HTTP_SERVICE_UNAVAILABLE, "service_unavailable",
                    "the database is unreachable; try again shortly", NULL);
}

/* A pooled connection taken for a request, given back when the request's
 * pool goes or earlier (mm_db_release). ap_dbd_acquire() would tie it to the
 * request for the request's whole life, a recording upload's included. */
struct mm_db_hold {
    server_rec *s;
    ap_dbd_t *db;
};

static apr_status_t give_back(void *data)
{
    struct mm_db_hold *h = data;

    ap_dbd_close(h->s, h->db);
    return APR_SUCCESS;
}

static ap_dbd_t *take(mm_req *q)
{
    ap_dbd_t *db = ap_dbd_open(q->r->pool, q->r->server);

    if (!db)
        return NULL;
    q->db_hold = apr_palloc(q->r->pool, sizeof(*q->db_hold));
    *q->db_hold = (struct mm_db_hold){q->r->server, db};
    apr_pool_cleanup_register(q->r->pool, q->db_hold, give_back, apr_pool_cleanup_null);
    return db;
}

void mm_db_release(mm_req *q)
{
    if (!q->db)
        return;
    mm_db_rollback(q);
    apr_pool_cleanup_run(q->r->pool, q->db_hold, give_back);
    q->db = NULL;
}

/* 1 when statement id is prepared on q's session. A failure (sql/ not applied,
 * or a signature it changed) is logged with PostgreSQL's reason: the statement
 * itself would only report that it does not exist. */
static int prepare_one(mm_req *q, mm_stmt_id id, apr_dbd_prepared_t **scratch)
{
    int rv = apr_dbd_prepare(q->db->driver, q->r->pool, q->db->handle, statements[id], label(id),
                             scratch);
    const char *why = rv ? apr_dbd_error(q->db->driver, q->db->handle, rv) : NULL;

    if (rv)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0209: cannot prepare %s: %s", label(id),
                      why ? why : "?");
    return rv == 0;
}

/* Makes q's connection fit for a statement (pgsession.h): 0, or the status
 * its failure answers (logged). A new session gets the statements; those in
 * q->db->prepared stay valid: they name a statement by its label. */
static int ready(mm_req *q)
{
    apr_dbd_prepared_t *scratch = NULL;
    mm_pg_readiness state = MM_PG_GONE;
    int unprepared = 0, ok = 1;

    if (q->db || (q->db = take(q)))
        state = mm_pg_ready(q->db, q->txn != NULL, &unprepared);
    if (state == MM_PG_BROKEN_IN_TXN) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "MM0210: the database connection failed inside a transaction");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (state != MM_PG_READY) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0201: no database connection");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (unprepared) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                      "MM0206: preparing the statements on a new database session");
        for (int i = 0; i < S_COUNT; i++)
            ok &= prepare_one(q, (mm_stmt_id)i, &scratch);
        mm_pg_prepared(q->db, ok);
    }
    return 0;
}

/* The status a failed statement answers: 503 when the connection is gone,
 * which mod_dbd resets when it next hands it out; else a bug (500). */
static int failed(mm_req *q, const char *what, int rv)
{
    const char *msg = apr_dbd_error(q->db->driver, q->db->handle, rv);
    mm_pg_state st = mm_pg_state_of(q->db);

    if (st.lost) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "MM0202: database connection lost running %s: %s", what, msg ? msg : "?");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0203: statement %s failed (%s): %s", what,
                  st.sqlstate, msg ? msg : "?");
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* A column's text, NULL for SQL NULL (get_entry alone would answer ""). */
static const char *entry(mm_req *q, apr_dbd_row_t *row, int col)
{
    const char *text;

    if (apr_dbd_datum_get(q->db->driver, row, col, APR_DBD_TYPE_STRING, &text) == APR_ENOENT)
        return NULL;
    return apr_dbd_get_entry(q->db->driver, row, col);
}

/* Runs statement id: 0, or the status its failure answers (logged). */
static int run(mm_req *q, mm_stmt_id id, int nargs, const char **args, apr_dbd_results_t **res)
{
    apr_dbd_prepared_t *st;
    int rv, status;

    for (int tries = 0;; tries++) {
        if ((status = ready(q)))
            return status;
        if (!(st = apr_hash_get(q->db->prepared, label(id), APR_HASH_KEY_STRING))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0204: statement %s is not prepared",
                          label(id));
            return HTTP_SERVICE_UNAVAILABLE;
        }
        /* Random access: the driver fetches the whole result at once, so a
         * lost connection shows here as an error rather than as "no rows". */
        rv = apr_dbd_pselect(q->db->driver, q->r->pool, q->db->handle, res, st, 1, nargs, args);
        if (rv == 0 || tries || strcmp(mm_pg_state_of(q->db).sqlstate, "26000"))
            break;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, /* nothing ran: run it again */
                      "MM0208: statement %s was missing from its session", label(id));
        mm_pg_prepared(q->db, 0);
    }
    if (rv)
        return failed(q, label(id), rv);
    /* Only a route's own action changes what the cache holds (the checks,
     * claims and placements around it do not). Ran outside a transaction, it
     * committed: the cache forgets before the answer goes out; in one, the
     * COMMIT does (mm_db_commit). */
    if (!q->txn && q->route && id == action_of(q->route))
        mm_cache_after_write(q);
    return 0;
}

/* Copies up to ncols columns of res's first row into cols. */
static void first_row(mm_req *q, apr_dbd_results_t *res, const char **cols, int ncols, int *found)
{
    apr_dbd_row_t *row = NULL;

    *found = apr_dbd_get_row(q->db->driver, q->r->pool, res, &row, 1) == 0;
    for (int i = 0; *found && i < ncols; i++)
        cols[i] = entry(q, row, i);
}

int mm_db_row(mm_req *q, mm_stmt_id id, int nargs, const char **args, const char **cols, int ncols,
              int *found)
{
    apr_dbd_results_t *res = NULL;
    int status = run(q, id, nargs, args, &res);

    if (status == HTTP_SERVICE_UNAVAILABLE)
        return unavailable(q);
    if (status)
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    first_row(q, res, cols, ncols, found);
    return 0;
}

int mm_db_run_quietly(mm_req *q, mm_stmt_id id, int nargs, const char **args)
{
    apr_dbd_results_t *res = NULL;

    return run(q, id, nargs, args, &res) ? -1 : 0;
}

int mm_db_result_more(mm_req *q, mm_stmt_id id, int nargs, const char **args, mm_result *res,
                      const char **more, int nmore)
{
    const char *cols[5 + MM_DB_MORE_MAX] = {NULL};
    int found;

    if (nmore > MM_DB_MORE_MAX)
        nmore = MM_DB_MORE_MAX;
    if (mm_db_row(q, id, nargs, args, cols, 5 + nmore, &found))
        return MM_ANSWERED;
    if (!found || !cols[0]) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0205: statement %s returned no result",
                      label(id));
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    }
    res->code = atoi(cols[0]);
    res->error = cols[1];
    res->field = cols[2];
    res->message = cols[3];
    res->data = cols[4];
    for (int i = 0; i < nmore; i++)
        more[i] = cols[5 + i];
    return 0;
}

int mm_db_result(mm_req *q, mm_stmt_id id, int nargs, const char **args, mm_result *res)
{
    return mm_db_result_more(q, id, nargs, args, res, NULL, 0);
}

/* The transaction of a request, in its pool: the cleanup that rolls back
 * one still open when the request ends outlives the mm_req on the stack. */
struct mm_db_txn {
    ap_dbd_t *db;
    mm_db_then *then; /* mm_db_after_commit's, or NULL */
    const char *then_arg;
};

/* BEGIN, COMMIT and ROLLBACK go as constant text, as apr_dbd's own
 * transactions send them: PostgreSQL prepares queries only. */
static int txn_command(mm_req *q, const char *sql)
{
    int nrows = 0, rv, status;

    if ((status = ready(q)))
        return status;
    rv = apr_dbd_query(q->db->driver, q->db->handle, &nrows, sql);
    return rv ? failed(q, sql, rv) : 0;
}

static apr_status_t txn_cleanup(void *data)
{
    struct mm_db_txn *t = data;
    int nrows = 0;

    if (mm_pg_state_of(t->db).txn_open)
        apr_dbd_query(t->db->driver, t->db->handle, &nrows, "ROLLBACK");
    return APR_SUCCESS;
}

static void txn_end(mm_req *q)
{
    apr_pool_cleanup_run(q->r->pool, q->txn, txn_cleanup);
    q->txn = NULL;
}

int mm_db_begin(mm_req *q)
{
    int status = txn_command(q, "BEGIN");

    if (status == HTTP_SERVICE_UNAVAILABLE)
        return unavailable(q);
    if (status)
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    q->txn = apr_pcalloc(q->r->pool, sizeof(*q->txn));
    q->txn->db = q->db;
    /* Registered after the connection's own give_back: runs before it. */
    apr_pool_cleanup_register(q->r->pool, q->txn, txn_cleanup, apr_pool_cleanup_null);
    return 0;
}

int mm_db_commit(mm_req *q)
{
    int status;
    mm_db_then *then;
    const char *then_arg;

    if (!q->txn)
        return 0;
    then = q->txn->then;
    then_arg = q->txn->then_arg;
    /* COMMIT of a failed transaction succeeds, as a ROLLBACK. */
    status = mm_pg_state_of(q->db).in_txn ? txn_command(q, "COMMIT") : HTTP_INTERNAL_SERVER_ERROR;
    txn_end(q);
    mm_cache_after_write(q);
    if (!status && then)
        then(q, then_arg);
    if (status == HTTP_SERVICE_UNAVAILABLE)
        return unavailable(q);
    if (status) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0211: the transaction did not commit");
        return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
    }
    return 0;
}

void mm_db_rollback(mm_req *q)
{
    if (q->txn)
        txn_end(q);
}

void mm_db_after_commit(mm_req *q, mm_db_then *then, const char *arg)
{
    if (!q->txn) {
        then(q, arg);
        return;
    }
    q->txn->then = then;
    q->txn->then_arg = arg;
}
