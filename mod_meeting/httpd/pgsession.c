/* libpq below mod_dbd (see pgsession.h). */
#include "pgsession.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <apr_strings.h>
#include <libpq-fe.h>
#include <libpq-events.h>

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
    const char *state =
        id != PGEVT_RESULTCREATE
            ? NULL
            : PQresultErrorField(((PGEventResultCreate *)info)->result, PG_DIAG_SQLSTATE);

    if (id == PGEVT_CONNRESET)
        s->prepared = 0;
    if (state && !s->sqlstate[0]) /* the first error; what follows is its consequence */
        apr_cpystrn(s->sqlstate, state, sizeof(s->sqlstate));
    return 1;
}

/* A connection the module has not seen yet has the statements: mod_dbd
 * prepared them when it opened it. NULL if libpq refused the event proc. */
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

mm_pg_readiness mm_pg_ready(ap_dbd_t *db, int in_txn, int *unprepared)
{
    pg_session *s = session_of(db);

    if (s && in_txn
        && (PQstatus(s->pg) != CONNECTION_OK || PQtransactionStatus(s->pg) != PQTRANS_INTRANS))
        return MM_PG_BROKEN_IN_TXN;
    if (s && !in_txn && (PQstatus(s->pg) != CONNECTION_OK || goodbye_pending(s->pg)))
        PQreset(s->pg);
    if (!s || PQstatus(s->pg) != CONNECTION_OK)
        return MM_PG_GONE;
    s->sqlstate[0] = '\0';
    *unprepared = !s->prepared;
    return MM_PG_READY;
}

void mm_pg_prepared(ap_dbd_t *db, int ok)
{
    pg_session *s = session_of(db);

    if (!s)
        return;
    s->prepared = ok;
    s->sqlstate[0] = '\0'; /* preparing's own errors are not the statement's */
}

mm_pg_state mm_pg_state_of(ap_dbd_t *db)
{
    PGconn *pg = apr_dbd_native_handle(db->driver, db->handle);
    pg_session *s = PQinstanceData(pg, session_event);
    const char *state = s ? s->sqlstate : "";
    int ok = PQstatus(pg) == CONNECTION_OK;
    PGTransactionStatusType txn = PQtransactionStatus(pg);

    return (mm_pg_state){
        .lost = !ok || !strncmp(state, "08", 2) || !strncmp(state, "57P0", 4),
        .in_txn = txn == PQTRANS_INTRANS,
        .txn_open = ok && txn != PQTRANS_IDLE,
        .sqlstate = state,
    };
}
