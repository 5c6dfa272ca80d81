/* signald: asynchronous PostgreSQL connection (see db.h). */
#define _POSIX_C_SOURCE 200809L
#include "pq.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* A connection attempt or a query taking longer than this is given up, so a
 * half-dead server cannot leave sockets waiting for their seat forever. */
#define DEADLINE_US (10 * SD_US)
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
/* How often an attempt in progress checks its socket. */
#define CONNECT_POLL_US 5000
/* Failed attempts between two log lines, once the backoff is at its top. */
#define LOG_EVERY 12

static const char SQL_TIMEOUT[] = "SET statement_timeout = 8000";

enum { DB_WAIT, DB_CONNECTING, DB_READY, DB_CLOSED };

/* What the head query waits for: every query is a named prepared statement,
 * so the first use of a SQL text on a session takes two steps, Parse
 * (PQsendPrepare) and then the execution (PQsendQueryPrepared); libpq allows
 * one of them in flight at a time. */
enum { FLIGHT_NONE, FLIGHT_PREPARE, FLIGHT_EXECUTE };

/* Room for "s" and an int. */
#define STMT_NAME 16

typedef struct query {
    struct query *next;
    const char *sql; /* a string literal of the caller's: kept, not copied */
    int nparams;
    char **params;
    sd_db_result_fn fn;
    void *arg;
} query;

struct sd_db {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    const char *name;
    const char *conninfo;
    sd_db_hooks hooks;
    int state;
    PGconn *pg;
    struct lws *wsi; /* the adopted dup of PQsocket, while DB_READY */
    PostgresPollingStatusType poll;
    long long deadline_us;
    int backoff_ms;
    int failures; /* attempts failed in a row, to thin out the log */
    int inflight; /* FLIGHT_*: head has been sent and is being answered */
    int pumping;  /* guards pump() against re-entry from callbacks */
    PGresult *result;
    query *head, *tail;
    /* The statements prepared on this session: stmts[i] is the SQL text of
     * the one named "s<i>", NULL for one given up on (stmt_stale). A new
     * session has none, so drop_connection empties the list. */
    const char **stmts;
    int nstmts, capstmts;
    int stmt; /* the index the head query is using */
    lws_sorted_usec_list_t sul;
    lws_sorted_usec_list_t kick; /* a pump on the next loop turn */
};

static void tick(lws_sorted_usec_list_t *sul);
static void pump(sd_db *db);
static void complete_head(sd_db *db);

static void schedule(sd_db *db, long long us)
{
    lws_sul_schedule(db->ctx, 0, &db->sul, tick, us);
}

static void free_query(query *q)
{
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q);
}

/* Answers every queued query with NULL. The list is detached first: a
 * callback may try to send again, and is refused because we are not up. */
static void fail_all(sd_db *db)
{
    query *q = db->head, *next;

    db->head = db->tail = NULL;
    db->inflight = FLIGHT_NONE;
    for (; q; q = next) {
        next = q->next;
        if (q->fn)
            q->fn(q->arg, NULL);
        free_query(q);
    }
}

static void drop_connection(sd_db *db)
{
    if (db->wsi) {
        /* lws closes its dup of the socket; libpq closes its own. */
        lws_set_opaque_user_data(db->wsi, NULL);
        lws_set_timeout(db->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        db->wsi = NULL;
    }
    PQclear(db->result);
    db->result = NULL;
    PQfinish(db->pg);
    db->pg = NULL;
    db->nstmts = 0; /* the server forgot them with the session */
}

/* The connection failed or broke: answer the waiting queries, retry later. */
static void lost(sd_db *db, const char *why)
{
    int was_ready = db->state == DB_READY;

    /* While the server stays away: the first failure, then one a minute. */
    if (was_ready || db->failures++ % LOG_EVERY == 0)
        sd_log("warn", "MM3034: db %s: %s: %s", db->name,
               was_ready ? "connection lost" : "cannot connect", why && *why ? why : "?");
    drop_connection(db);
    db->state = DB_WAIT;
    fail_all(db);
    schedule(db, (long long)db->backoff_ms * 1000);
    db->backoff_ms = db->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : db->backoff_ms * 2;
}

/* Server notices (and the FATAL of a terminated backend) go to our log
 * rather than raw to stderr. */
static void notice(void *arg, const char *message)
{
    sd_log("warn", "MM3035: db %s: %s", (const char *)arg, message);
}

static void connect_start(sd_db *db)
{
    /* Ours come first so that anything in the admin's conninfo (the dbname
     * entry, expanded) overrides them. connect_timeout is not enforced by
     * libpq in non-blocking mode: deadline_us does it. */
    static const char *const keys[] = {"application_name",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "dbname",
                                       NULL};
    const char *vals[] = {"signald", "1", "10", "5", "3", db->conninfo, NULL};

    db->pg = PQconnectStartParams(keys, vals, 1);
    if (!db->pg || PQstatus(db->pg) == CONNECTION_BAD) {
        lost(db, db->pg ? PQerrorMessage(db->pg) : "out of memory");
        return;
    }
    PQsetNoticeProcessor(db->pg, notice, (void *)db->name);
    db->state = DB_CONNECTING;
    db->poll = PGRES_POLLING_WRITING;
    db->deadline_us = sd_mono_us() + DEADLINE_US;
    schedule(db, 0);
}

static void become_ready(sd_db *db)
{
    lws_adopt_desc_t ad;
    int fd;

    if (PQsetnonblocking(db->pg, 1) != 0) {
        lost(db, PQerrorMessage(db->pg));
        return;
    }
    /* A dup, so that lws and libpq each close their own descriptor. */
    fd = fcntl(PQsocket(db->pg), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        lost(db, "cannot duplicate the socket");
        return;
    }
    memset(&ad, 0, sizeof(ad));
    ad.vh = db->vh;
    ad.type = LWS_ADOPT_RAW_FILE_DESC;
    ad.fd.filefd = fd;
    ad.vh_prot_name = SD_DB_PROTOCOL;
    ad.opaque = db;
    db->wsi = lws_adopt_descriptor_vhost_via_info(&ad);
    if (!db->wsi) {
        lost(db, "cannot add the socket to the event loop");
        return;
    }
    db->state = DB_READY;
    db->backoff_ms = BACKOFF_MIN_MS;
    sd_log("info", "MM3036: db %s: connected", db->name);
    db->failures = 0;
    schedule(db, SD_US);
    /* The server gives up on a statement (a lock wait, say) before our own
     * deadline would drop the connection: the query fails alone and the
     * server does not go on to run it after we stopped waiting. */
    sd_db_send(db, SQL_TIMEOUT, 0, NULL, NULL, NULL);
    if (db->hooks.up)
        db->hooks.up(db->hooks.arg);
    pump(db);
}

/* One step of PQconnectPoll, taken only when its socket is ready, as libpq
 * asks: a peek with poll() and a zero timeout never blocks the loop. */
static void connect_step(sd_db *db)
{
    struct pollfd p;
    int r;

    p.fd = PQsocket(db->pg);
    p.events = db->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    p.revents = 0;
    r = p.fd < 0 ? 1 : poll(&p, 1, 0);
    if (r == 0) {
        if (sd_mono_us() > db->deadline_us)
            lost(db, "connection attempt timed out");
        else
            schedule(db, CONNECT_POLL_US);
        return;
    }
    db->poll = PQconnectPoll(db->pg);
    if (db->poll == PGRES_POLLING_OK)
        become_ready(db);
    else if (db->poll == PGRES_POLLING_FAILED)
        lost(db, PQerrorMessage(db->pg));
    else
        schedule(db, 0);
}

/* The one timer of a connection: its meaning follows the state. */
static void tick(lws_sorted_usec_list_t *sul)
{
    sd_db *db = lws_container_of(sul, sd_db, sul);

    switch (db->state) {
    case DB_WAIT:
        connect_start(db);
        break;
    case DB_CONNECTING:
        connect_step(db);
        break;
    case DB_READY:
        if (db->inflight && sd_mono_us() > db->deadline_us)
            lost(db, "query timed out");
        else
            schedule(db, SD_US);
        break;
    default:
        break;
    }
}

static void flush(sd_db *db)
{
    int r = PQflush(db->pg);

    if (r < 0)
        lost(db, PQerrorMessage(db->pg));
    else if (r > 0)
        lws_callback_on_writable(db->wsi);
}

/* The index of the statement prepared for sql on this session, or -1. The
 * texts are few (one per string literal of the callers): a scan will do. */
static int stmt_find(const sd_db *db, const char *sql)
{
    for (int i = 0; i < db->nstmts; i++)
        if (db->stmts[i] && (db->stmts[i] == sql || !strcmp(db->stmts[i], sql)))
            return i;
    return -1;
}

/* Registers sql under the next free name; -1 when out of memory. */
static int stmt_add(sd_db *db, const char *sql)
{
    if (db->nstmts == db->capstmts) {
        int cap = db->capstmts ? db->capstmts * 2 : 8;
        const char **s = realloc(db->stmts, (size_t)cap * sizeof(*s));

        if (!s)
            return -1;
        db->stmts = s;
        db->capstmts = cap;
    }
    db->stmts[db->nstmts] = sql;
    return db->nstmts++;
}

/* An execution failed because the server's copy of the statement is no
 * longer usable: "cached plan must not change result type" (a migration
 * changed what it returns) or "prepared statement does not exist". The
 * query fails; the next one with this text prepares it anew under a new
 * name, instead of every one failing until the next reconnect. The server
 * function that raised it is checked too, since a SQL function may raise
 * the same SQLSTATE at every call, and each would cost a statement. */
static void stmt_stale(sd_db *db, const PGresult *res)
{
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *where = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);

    if (!code || !where)
        return;
    if ((!strcmp(code, "0A000") && !strcmp(where, "RevalidateCachedQuery"))
        || (!strcmp(code, "26000") && !strcmp(where, "FetchPreparedStatement")))
        db->stmts[db->stmt] = NULL;
}

/* Sends the head query's next step: the Parse of its statement if this
 * session has not prepared its text yet, else the execution. */
static int send_head(sd_db *db)
{
    query *q = db->head;
    char name[STMT_NAME];
    int sent;

    db->stmt = stmt_find(db, q->sql);
    db->inflight = db->stmt < 0 ? FLIGHT_PREPARE : FLIGHT_EXECUTE;
    if (db->stmt < 0 && (db->stmt = stmt_add(db, q->sql)) < 0) {
        sd_log("error", "MM3037: db %s: out of memory", db->name);
        complete_head(db);
        return 0;
    }
    snprintf(name, sizeof(name), "s%d", db->stmt);
    /* Parameter types are left to the server, which infers them from the
     * casts in the text ($1::bigint), as it did for unnamed statements. */
    if (db->inflight == FLIGHT_PREPARE)
        sent = PQsendPrepare(db->pg, name, q->sql, 0, NULL);
    else
        sent = PQsendQueryPrepared(db->pg, name, q->nparams, (const char *const *)q->params, NULL,
                                   NULL, 0);
    if (!sent) {
        lost(db, PQerrorMessage(db->pg));
        return -1;
    }
    db->deadline_us = sd_mono_us() + DEADLINE_US;
    flush(db);
    return db->state == DB_READY ? 0 : -1;
}

/* The head query has all its results: hand them over. */
static void complete_head(sd_db *db)
{
    query *q = db->head;
    PGresult *res = db->result;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;

    db->head = q->next;
    if (!db->head)
        db->tail = NULL;
    db->inflight = FLIGHT_NONE;
    db->result = NULL;
    if (!ok && res && db->stmt >= 0)
        stmt_stale(db, res);
    if (!ok)
        sd_log("error", "MM3038: db %s: query failed: %s", db->name,
               res ? PQresultErrorMessage(res) : "no result");
    if (q->fn)
        q->fn(q->arg, ok ? res : NULL);
    PQclear(res);
    free_query(q);
}

/* The head's Parse is answered. Prepared: its execution goes next (pump's
 * loop sends it). Refused (a syntax error, say): the query fails, and the
 * name, the newest one, is free again since the server did not take it. */
static void prepared(sd_db *db)
{
    if (db->result && PQresultStatus(db->result) == PGRES_COMMAND_OK) {
        PQclear(db->result);
        db->result = NULL;
        db->inflight = FLIGHT_NONE;
        return;
    }
    db->nstmts--;
    db->stmt = -1;
    complete_head(db);
}

/* Sends queued queries and collects answers as far as input allows. */
static void pump(sd_db *db)
{
    if (db->pumping)
        return;
    db->pumping = 1;
    while (db->state == DB_READY) {
        PGresult *r;

        if (!db->inflight) {
            if (!db->head || send_head(db))
                break;
            continue;
        }
        if (PQisBusy(db->pg))
            break;
        r = PQgetResult(db->pg);
        if (!r) {
            if (db->inflight == FLIGHT_PREPARE)
                prepared(db);
            else
                complete_head(db);
            continue;
        }
        /* One statement per query: keep the first result, drop any other. */
        if (!db->result)
            db->result = r;
        else
            PQclear(r);
    }
    db->pumping = 0;
}

static void deliver_notifications(sd_db *db)
{
    PGnotify *n;

    while (db->state == DB_READY && (n = PQnotifies(db->pg)) != NULL) {
        if (db->hooks.notify)
            db->hooks.notify(db->hooks.arg, n->relname, n->extra);
        PQfreemem(n);
    }
}

static void readable(sd_db *db)
{
    if (!PQconsumeInput(db->pg)) {
        lost(db, PQerrorMessage(db->pg));
        return;
    }
    pump(db);
    deliver_notifications(db);
}

static void kick(lws_sorted_usec_list_t *sul)
{
    pump(lws_container_of(sul, sd_db, kick));
}

int sd_db_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    sd_db *db = lws_get_opaque_user_data(wsi);

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!db || db->wsi != wsi)
            return -1; /* a socket we already gave up on */
        readable(db);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (db && db->wsi == wsi)
            flush(db);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (db && db->wsi == wsi) {
            db->wsi = NULL;
            lost(db, "socket closed");
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a client naming this protocol gets no WebSocket */
    default:
        return 0;
    }
}

sd_db *sd_db_open(struct lws_context *ctx, struct lws_vhost *vh, const char *name,
                  const char *conninfo, const sd_db_hooks *hooks)
{
    sd_db *db = calloc(1, sizeof(*db));

    if (!db)
        return NULL;
    db->ctx = ctx;
    db->vh = vh;
    db->name = name;
    db->conninfo = conninfo;
    if (hooks)
        db->hooks = *hooks;
    db->backoff_ms = BACKOFF_MIN_MS;
    db->state = DB_WAIT;
    connect_start(db);
    return db;
}

static query *new_query(const char *sql, int nparams, const char *const *params)
{
    query *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->sql = sql;
    q->params = calloc(nparams > 0 ? (size_t)nparams : 1, sizeof(char *));
    if (!q->params) {
        free(q);
        return NULL;
    }
    for (; q->nparams < nparams; q->nparams++) {
        q->params[q->nparams] = strdup(params[q->nparams] ? params[q->nparams] : "");
        if (!q->params[q->nparams]) {
            free_query(q);
            return NULL;
        }
    }
    return q;
}

int sd_db_send(sd_db *db, const char *sql, int nparams, const char *const *params,
               sd_db_result_fn fn, void *arg)
{
    query *q;

    if (!db || db->state != DB_READY)
        return -1;
    q = new_query(sql, nparams, params);
    if (!q)
        return -1;
    q->fn = fn;
    q->arg = arg;
    if (db->tail)
        db->tail->next = q;
    else
        db->head = q;
    db->tail = q;
    /* Sent from the loop, not from here: the caller never sees its own
     * callback run before sd_db_send has returned. */
    lws_sul_schedule(db->ctx, 0, &db->kick, kick, 0);
    return 0;
}

int sd_db_ready(const sd_db *db)
{
    return db && db->state == DB_READY;
}

void sd_db_close(sd_db *db)
{
    if (!db)
        return;
    lws_sul_cancel(&db->sul);
    lws_sul_cancel(&db->kick);
    drop_connection(db);
    db->state = DB_CLOSED;
    fail_all(db);
    free(db->stmts);
    free(db);
}
