/* Database access through mod_dbd (see db.h). */
#include "db.h"
#include "auth.h"
#include "cache_route.h"
#include "configcheck.h"

#include <errno.h>
#include <sys/socket.h>
#include <libpq-fe.h>
#include <libpq-events.h>

#define RESULT_COLS "code, error, field, message, data"

/* Every statement the module runs. Integers are typed (%lld, %d) because the
 * pgsql driver types %s as varchar; JSON documents are cast by the SQL.
 * The actions of authenticated requests take the caller and the generation
 * of their access token (the "user, gen" pairs below) and answer 401 when the
 * token no longer holds: one statement per request. S_TOKEN_REVOKED asks
 * that alone (the same SQL rule), for the answers a request gives before it
 * reaches its action. */
static const char *const statements[S_COUNT] = {
    [S_TOKEN_REVOKED] = "SELECT mm_token_revoked(%lld, %lld)",
    [S_REGISTER] = "SELECT " RESULT_COLS " FROM mm_register(%s, %s, %s, %s)",
    [S_LOGIN_USER] = "SELECT user_id, password_hash, token_gen, data FROM mm_login_user(%s)",
    [S_REFRESH_STORE] = "SELECT mm_refresh_store(%s, %lld, %s, %d)",
    [S_REFRESH_ROTATE] = "SELECT code, token_gen FROM mm_refresh_rotate(%s, %lld, %s, %d)",
    [S_LOGOUT] = "SELECT " RESULT_COLS " FROM mm_logout(%lld, %lld)",
    [S_PROFILE] = "SELECT " RESULT_COLS " FROM mm_profile(%lld, %lld)",
    [S_PROFILE_UPDATE] = "SELECT " RESULT_COLS " FROM mm_profile_update(%lld, %lld, %s::jsonb)",
    [S_CONTEXT] = "SELECT " RESULT_COLS " FROM mm_context(%lld, %lld, %lld, %d)",
    [S_MEETING_CREATE] = "SELECT " RESULT_COLS " FROM mm_meeting_create(%lld, %lld, %s::jsonb)",
    [S_MEETING_LIST] =
        "SELECT " RESULT_COLS " FROM mm_meeting_list(%lld, %lld, %s, %s, %d, %d)",
    [S_MEETING_GET] = "SELECT " RESULT_COLS " FROM mm_meeting_get(%lld, %lld, %lld)",
    [S_MEETING_UPDATE] =
        "SELECT " RESULT_COLS " FROM mm_meeting_update_if(%lld, %lld, %lld, %s::jsonb, %s)",
    [S_MEETING_DELETE] =
        "SELECT " RESULT_COLS " FROM mm_meeting_delete_if(%lld, %lld, %lld, %s)",
    [S_MEETING_START] =
        "SELECT " RESULT_COLS " FROM mm_meeting_start(%lld, %lld, %lld, %d)",
    [S_MEETING_END] = "SELECT " RESULT_COLS " FROM mm_meeting_end(%lld, %lld, %lld)",
    [S_JOIN_INFO] =
        "SELECT code, password_hash, is_host, removed FROM mm_join_info(%lld, %lld, %lld)",
    [S_MEETING_JOIN] = "SELECT " RESULT_COLS " FROM mm_meeting_join(%lld, %lld, %lld, %d)",
    [S_MEETING_LEAVE] = "SELECT " RESULT_COLS " FROM mm_meeting_leave(%lld, %lld, %lld)",
    [S_PARTICIPANT_LIST] = "SELECT " RESULT_COLS " FROM mm_participant_list(%lld, %lld, %lld)",
    [S_PARTICIPANT_ADD] =
        "SELECT " RESULT_COLS " FROM mm_participant_add(%lld, %lld, %lld, %lld, %s)",
    [S_PARTICIPANT_REMOVE] =
        "SELECT " RESULT_COLS " FROM mm_participant_remove(%lld, %lld, %lld, %lld)",
    [S_PARTICIPANT_ROLE] =
        "SELECT " RESULT_COLS " FROM mm_participant_role(%lld, %lld, %lld, %lld, %s)",
    [S_MESSAGE_LIST] = "SELECT " RESULT_COLS " FROM mm_message_list(%lld, %lld, %lld, %d, %d)",
    [S_MESSAGE_SEND] = "SELECT " RESULT_COLS " FROM mm_message_send(%lld, %lld, %lld, %s)",
    [S_RECORDING_START] =
        "SELECT " RESULT_COLS " FROM mm_recording_start(%lld, %lld, %lld, %s, %s, %s::boolean)",
    [S_RECORDING_STOP] = "SELECT " RESULT_COLS " FROM mm_recording_stop(%lld, %lld, %lld)",
    [S_RECORDING_LIST] = "SELECT " RESULT_COLS " FROM mm_recording_list(%lld, %lld, %lld)",
    [S_RECORDING_FILE] =
        "SELECT " RESULT_COLS " FROM mm_recording_file(%lld, %lld, %lld, %d, %s)",
    [S_RECORDING_STORED] = "SELECT mm_recording_stored(%lld, %s, %lld, %s)",
    [S_HEALTH] = "SELECT 1",
    [S_WEBHOOK_CREATE] =
        "SELECT " RESULT_COLS " FROM mm_webhook_create(%lld, %lld, %s, %s::text[], %s, %d)",
    [S_WEBHOOK_LIST] = "SELECT " RESULT_COLS " FROM mm_webhook_list(%lld, %lld)",
    [S_WEBHOOK_GET] = "SELECT " RESULT_COLS " FROM mm_webhook_get(%lld, %lld, %lld)",
    [S_WEBHOOK_UPDATE] =
        "SELECT " RESULT_COLS " FROM mm_webhook_update(%lld, %lld, %lld, %s::jsonb)",
    [S_WEBHOOK_DELETE] = "SELECT " RESULT_COLS " FROM mm_webhook_delete(%lld, %lld, %lld)",
    [S_WEBHOOK_ROTATE] = "SELECT " RESULT_COLS " FROM mm_webhook_rotate(%lld, %lld, %lld)",
    [S_WEBHOOK_DELIVERIES] =
        "SELECT " RESULT_COLS " FROM mm_webhook_deliveries(%lld, %lld, %lld, %s, %d, %d)",
    [S_WEBHOOK_RETRY] = "SELECT " RESULT_COLS " FROM mm_webhook_retry(%lld, %lld, %lld, %lld)",
    [S_WEBHOOK_TEST] = "SELECT " RESULT_COLS " FROM mm_webhook_test(%lld, %lld, %lld)",
    [S_WAITING_LIST] = "SELECT " RESULT_COLS " FROM mm_waiting_list(%lld, %lld, %lld)",
    [S_WAITING_ADMIT] = "SELECT " RESULT_COLS " FROM mm_waiting_admit(%lld, %lld, %lld, %lld)",
    [S_WAITING_DENY] = "SELECT " RESULT_COLS " FROM mm_waiting_deny(%lld, %lld, %lld, %lld)",
    [S_PARTICIPANT_MUTE] =
        "SELECT " RESULT_COLS " FROM mm_participant_mute(%lld, %lld, %lld, %lld)",
    [S_IDEM_CLAIM] =
        "SELECT outcome, status, response FROM mm_idem_claim(%lld, %lld, %s, %s, %s, %s)",
    [S_IDEM_STORE] = "SELECT mm_idem_store(%lld, %s, %s, %s, %s, %d, %s)",
    [S_MEETING_IF_MATCH] = "SELECT mm_meeting_if_match(%lld, %s)",
    [S_PASSWORD_UPGRADE] = "SELECT mm_password_upgrade(%lld, %s, %s)",
    [S_MEETING_PLACE] = "SELECT placed, url FROM mm_meeting_place(%lld)",
};

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

/* The PostgreSQL session under a pooled connection, kept with its PGconn by
 * libpq's event system, in the ap_dbd_t's pool (whose cleanup closes the
 * PGconn): whether it has the statements, and the SQLSTATE of the statement
 * running, which apr_dbd_pgsql drops with the failed PGresult. */
typedef struct {
    PGconn *pg;
    int prepared;
    char sqlstate[6];
} pg_session;

/* Every PQreset(), ours or apr_dbd_check_conn()'s when mod_dbd hands out a
 * broken connection, starts a session without the statements. */
static int session_event(PGEventId id, void *info, void *arg)
{
    pg_session *s = arg;
    const char *state = id != PGEVT_RESULTCREATE ? NULL
        : PQresultErrorField(((PGEventResultCreate *)info)->result, PG_DIAG_SQLSTATE);

    if (id == PGEVT_CONNRESET)
        s->prepared = 0;
    if (state && !s->sqlstate[0]) /* the first error; what follows is its consequence */
        apr_cpystrn(s->sqlstate, state, sizeof(s->sqlstate));
    return 1;
}

/* A connection the module has not seen yet has the statements: mod_dbd
 * prepared them when it opened it. */
static pg_session *session_of(ap_dbd_t *db)
{
    PGconn *pg = apr_dbd_native_handle(db->driver, db->handle);
    pg_session *s = PQinstanceData(pg, session_event);

    if (s)
        return s;
    s = apr_pcalloc(db->pool, sizeof(*s));
    *s = (pg_session){.pg = pg, .prepared = 1};
    if (!PQregisterEventProc(pg, session_event, "mod_meeting", s))
        return NULL;
    PQsetInstanceData(pg, session_event, s);
    return s;
}

/* Whether an idle pooled connection has anything to read. It should not: bytes
 * are the goodbye a backend sends before it closes (FATAL 57P01 at a restart),
 * 0 the close. PQconsumeInput() would read the goodbye yet leave the connection
 * CONNECTION_OK until a second read saw the close. */
static int goodbye_pending(PGconn *pg)
{
    char c;
    ssize_t n = recv(PQsocket(pg), &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
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
    int rv = apr_dbd_prepare(q->db->driver, q->r->pool, q->db->handle, statements[id],
                             label(id), scratch);
    const char *why = rv ? apr_dbd_error(q->db->driver, q->db->handle, rv) : NULL;

    if (rv)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0209: cannot prepare %s: %s",
                      label(id), why ? why : "?");
    return rv == 0;
}

/* Makes q's connection fit for a statement before anything is sent, so that
 * nothing runs twice: one whose server went away (libpq knows, or the goodbye
 * is on its socket) is reset, and a new session gets the statements. Those in
 * q->db->prepared stay valid: they name a statement by its label. */
static int ready(mm_req *q, pg_session **sp)
{
    apr_dbd_prepared_t *scratch = NULL;
    pg_session *s = NULL;

    if (q->db || (q->db = take(q)))
        s = session_of(q->db);
    if (s && q->txn && (PQstatus(s->pg) != CONNECTION_OK
                        || PQtransactionStatus(s->pg) != PQTRANS_INTRANS)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "MM0210: the database connection failed inside a transaction");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (s && !q->txn && (PQstatus(s->pg) != CONNECTION_OK || goodbye_pending(s->pg)))
        PQreset(s->pg);
    if (!s || PQstatus(s->pg) != CONNECTION_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0201: no database connection");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!s->prepared) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                      "MM0206: preparing the statements on a new database session");
        s->prepared = 1;
        for (int i = 0; i < S_COUNT; i++)
            s->prepared &= prepare_one(q, (mm_stmt_id)i, &scratch);
    }
    s->sqlstate[0] = '\0';
    *sp = s;
    return 0;
}

/* The status a failed statement answers: 503 when the connection is gone
 * (libpq saw it close, or the server said so: SQLSTATE class 08, 57P0x
 * shutdown or terminated), which mod_dbd resets when it next hands it out;
 * else a bug (500). */
static int failed(mm_req *q, const char *what, const pg_session *s, int rv)
{
    const char *msg = apr_dbd_error(q->db->driver, q->db->handle, rv);

    if (PQstatus(s->pg) != CONNECTION_OK || !strncmp(s->sqlstate, "08", 2)
        || !strncmp(s->sqlstate, "57P0", 4)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "MM0202: database connection lost running %s: %s", what,
                      msg ? msg : "?");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0203: statement %s failed (%s): %s",
                  what, s->sqlstate, msg ? msg : "?");
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
static int run(mm_req *q, mm_stmt_id id, int nargs, const char **args,
               apr_dbd_results_t **res)
{
    apr_dbd_prepared_t *st;
    pg_session *s = NULL;
    int rv, status;

    for (int tries = 0;; tries++) {
        if ((status = ready(q, &s)))
            return status;
        if (!(st = apr_hash_get(q->db->prepared, label(id), APR_HASH_KEY_STRING))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                          "MM0204: statement %s is not prepared", label(id));
            return HTTP_SERVICE_UNAVAILABLE;
        }
        /* Random access: the driver fetches the whole result at once, so a
         * lost connection shows here as an error rather than as "no rows". */
        rv = apr_dbd_pselect(q->db->driver, q->r->pool, q->db->handle, res, st, 1, nargs, args);
        if (rv == 0 || tries || strcmp(s->sqlstate, "26000"))
            break;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, /* nothing ran: run it again */
                      "MM0208: statement %s was missing from its session", label(id));
        s->prepared = 0;
    }
    if (rv)
        return failed(q, label(id), s, rv);
    /* Ran, so committed unless in a transaction (whose COMMIT forgets again):
     * the cache forgets before the answer goes out. */
    mm_cache_after_write(q);
    return 0;
}

/* Copies up to ncols columns of res's first row into cols. */
static void first_row(mm_req *q, apr_dbd_results_t *res, const char **cols, int ncols,
                      int *found)
{
    apr_dbd_row_t *row = NULL;

    *found = apr_dbd_get_row(q->db->driver, q->r->pool, res, &row, 1) == 0;
    for (int i = 0; *found && i < ncols; i++)
        cols[i] = entry(q, row, i);
}

int mm_db_row(mm_req *q, mm_stmt_id id, int nargs, const char **args, const char **cols,
              int ncols, int *found)
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

int mm_db_row_quietly(mm_req *q, mm_stmt_id id, int nargs, const char **args,
                      const char **cols, int ncols, int *found)
{
    apr_dbd_results_t *res = NULL;

    if (run(q, id, nargs, args, &res))
        return -1;
    first_row(q, res, cols, ncols, found);
    return 0;
}

int mm_db_result(mm_req *q, mm_stmt_id id, int nargs, const char **args, mm_result *res)
{
    const char *cols[5] = {NULL};
    int found;

    if (mm_db_row(q, id, nargs, args, cols, 5, &found))
        return MM_DONE;
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
    return 0;
}

int mm_reply_result(mm_req *q, const mm_result *res, const char *message)
{
    if (res->code == HTTP_UNAUTHORIZED) /* the access token no longer holds */
        return mm_revoked(q);
    if (res->code >= 400)
        return mm_error(q->r, res->code, res->error ? res->error : "internal",
                        res->message ? res->message : "request failed", res->field);
    return mm_reply(q->r, res->code, message, res->data);
}

/* The transaction of a request, in its pool: the cleanup that rolls back
 * one still open when the request ends outlives the mm_req on the stack. */
struct mm_db_txn {
    ap_dbd_t *db;
};

/* BEGIN, COMMIT and ROLLBACK go as constant text, as apr_dbd's own
 * transactions send them: PostgreSQL prepares queries only. */
static int txn_command(mm_req *q, const char *sql)
{
    pg_session *s = NULL;
    int nrows = 0, rv, status;

    if ((status = ready(q, &s)))
        return status;
    rv = apr_dbd_query(q->db->driver, q->db->handle, &nrows, sql);
    return rv ? failed(q, sql, s, rv) : 0;
}

static apr_status_t txn_cleanup(void *data)
{
    struct mm_db_txn *t = data;
    PGconn *pg = apr_dbd_native_handle(t->db->driver, t->db->handle);
    int nrows = 0;

    if (PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) != PQTRANS_IDLE)
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
    q->txn = apr_palloc(q->r->pool, sizeof(*q->txn));
    q->txn->db = q->db;
    /* Registered after the connection's own give_back: runs before it. */
    apr_pool_cleanup_register(q->r->pool, q->txn, txn_cleanup, apr_pool_cleanup_null);
    return 0;
}

int mm_db_commit(mm_req *q)
{
    PGconn *pg;
    int status;

    if (!q->txn)
        return 0;
    /* COMMIT of a failed transaction succeeds, as a ROLLBACK. */
    pg = apr_dbd_native_handle(q->db->driver, q->db->handle);
    status = PQtransactionStatus(pg) == PQTRANS_INTRANS ? txn_command(q, "COMMIT")
                                                       : HTTP_INTERNAL_SERVER_ERROR;
    txn_end(q);
    mm_cache_after_write(q);
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

const char *mm_lld(mm_req *q, long long v)
{
    return apr_off_t_toa(q->r->pool, (apr_off_t)v);
}
