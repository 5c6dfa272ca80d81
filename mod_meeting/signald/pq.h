/*
 * signald: one asynchronous PostgreSQL connection driven by the lws event
 * loop. libpq runs non-blocking; once connected, a dup of its socket is
 * adopted into lws as a raw descriptor, so readiness wakes the loop like any
 * WebSocket would, and nothing here ever waits on the server. Queries run one
 * at a time in the order they were sent. When the connection breaks (server
 * restart, network, a query stuck past its deadline) every waiting query is
 * answered with NULL, and the connection is re-made with backoff.
 *
 * Every statement is a named prepared statement of its connection ("s0",
 * "s1", ...): the first query with a given SQL text prepares it, the later
 * ones only execute it. A new connection starts with none prepared.
 */
#ifndef SD_PQ_H
#define SD_PQ_H

#include <libpq-fe.h>
#include <libwebsockets.h>

/* The vhost protocol that adopted database sockets are bound to. */
#define SD_DB_PROTOCOL "mm-pg"

typedef struct sd_db sd_db;

/* Called once per query: res is the successful result (valid only during the
 * call), or NULL when the query failed or the connection went away. */
typedef void (*sd_db_result_fn)(void *arg, const PGresult *res);

typedef struct {
    void (*up)(void *arg); /* connected (again): e.g. re-LISTEN */
    void (*notify)(void *arg, const char *channel, const char *payload);
    void *arg;
} sd_db_hooks;

/* Starts connecting at once; never fails for an unreachable server (it keeps
 * retrying). name only labels log lines. Returns NULL when out of memory. */
sd_db *sd_db_open(struct lws_context *ctx, struct lws_vhost *vh, const char *name,
                  const char *conninfo, const sd_db_hooks *hooks);

/* Queues a query with text parameters (copied). sql is one statement with
 * $n placeholders, never data: it names a prepared statement for as long as
 * db lives, so it is kept, not copied (a string literal). Returns 0, or -1
 * when the connection is not up: then fn is never called. */
int sd_db_send(sd_db *db, const char *sql, int nparams, const char *const *params,
               sd_db_result_fn fn, void *arg);

int sd_db_ready(const sd_db *db);

/* Closes for good (shutdown); waiting queries are answered with NULL. */
void sd_db_close(sd_db *db);

/* The callback of the SD_DB_PROTOCOL protocol. */
int sd_db_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

#endif
