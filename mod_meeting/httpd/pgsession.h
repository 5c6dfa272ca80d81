/*
 * libpq below mod_dbd, in one place. apr_dbd_pgsql hides three things the
 * module needs of a pooled PostgreSQL connection: whether its session still
 * has the prepared statements (apr_dbd_check_conn() and our own PQreset()
 * start a new session without them, and say nothing), the SQLSTATE of a
 * failed statement (the driver drops the PGresult and keeps only its text),
 * and whether a backend that went away left its goodbye on the socket of an
 * idle connection (libpq reports CONNECTION_OK until a read sees the close).
 * Everything else goes through apr_dbd.
 */
#ifndef MM_PGSESSION_H
#define MM_PGSESSION_H

#include <apr_dbd.h>
#include <mod_dbd.h>

typedef enum {
    MM_PG_READY,        /* fit for a statement */
    MM_PG_GONE,         /* no connection, even after a reset */
    MM_PG_BROKEN_IN_TXN /* broke inside a transaction: not reset under it */
} mm_pg_readiness;

/* What the connection's session knows after a statement. */
typedef struct {
    int lost;             /* the connection is gone: libpq saw it close, or the
                             * server said so (SQLSTATE class 08, 57P0x) */
    int in_txn;           /* inside a transaction that can still commit */
    int txn_open;         /* inside a transaction at all (a failed one too) */
    const char *sqlstate; /* of the first error since mm_pg_ready; "" if none */
} mm_pg_state;

/* Makes db's connection fit for a statement before anything is sent, so that
 * nothing runs twice: outside a transaction (in_txn 0) one whose server went
 * away is reset. *unprepared is set when its session lacks the statements;
 * the caller prepares them and reports with mm_pg_prepared. */
mm_pg_readiness mm_pg_ready(ap_dbd_t *db, int in_txn, int *unprepared);

/* Whether db's session has the statements now (ok 1), or lost them (ok 0: a
 * statement was missing from it, SQLSTATE 26000). The errors of preparing
 * are forgotten: the SQLSTATE then is the next statement's. */
void mm_pg_prepared(ap_dbd_t *db, int ok);

/* The state of db's connection and session. */
mm_pg_state mm_pg_state_of(ap_dbd_t *db);

#endif
