/*
 * signald: the WebRTC signaling daemon of mod_meeting.
 *
 * One process, one libwebsockets event loop, no threads. Clients connect
 * with the ticket that join/start returned; their seats are taken, renewed
 * and released through the SQL functions of sql/002_seats.sql; offers,
 * answers and ICE candidates are relayed between the peers of a room; and
 * control events (removal, end, chat, ...) arrive by LISTEN. The protocol is
 * described in docs/signaling.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "../token.h"
#include "auth.h"
#include "config.h"
#include "conn.h"
#include "db.h"
#include "listen.h"
#include "pgevents.h"
#include "seats.h"
#include "status.h"
#include "util.h"
#include "ws.h"

/* Per-socket receive buffer of lws: messages larger than this arrive in
 * pieces and are reassembled (ws.c), so idle sockets stay small. */
#define RX_CHUNK 4096
/* Cookies forwarded by a browser can make upgrade requests large. */
#define MAX_HEADER 8192
/* How long shutdown waits for the close frames to get out. */
#define SHUTDOWN_US (2 * MM_US)

static struct lws_context *context;
static volatile sig_atomic_t stopping;
static lws_sorted_usec_list_t sweep_sul;
static const char *status_file;       /* --status-file, or NULL */

static const struct lws_protocols protocols[] = {
    /* First: a client that names no subprotocol gets this one. */
    {MM_WS_PROTOCOL, mm_ws_callback, sizeof(mm_conn), RX_CHUNK, 0, NULL, 0},
    {MM_DB_PROTOCOL, mm_db_lws_callback, 0, 0, 0, NULL, 0},
    {MM_LISTEN_PROTOCOL, mm_listen_lws_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    /* Wakes the loop; it only writes to a pipe, which a handler may do. */
    if (context)
        lws_cancel_service(context);
}

static void lws_logger(int level, const char *line)
{
    mm_log(level == LLL_ERR ? "error" : "warn", "lws: %s", line);
}

/* Once a second: pings and idle sockets, grace periods that ran out, and the
 * status file. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    long long now = mm_mono_us();

    (void)sul;
    mm_conns_sweep(now);
    mm_seats_sweep(now);
    if (status_file)
        mm_status_write(status_file);
    lws_sul_schedule(context, 0, &sweep_sul, sweep, MM_US);
}

static mm_token_key *load_key(const mm_sig_config *cfg)
{
    unsigned char *secret = NULL;
    size_t len = 0;
    const char *why = NULL;
    mm_token_key *key;

    if (mm_secret_read(cfg->secret_file, &secret, &len, &why)) {
        mm_log("error", "secret file %s %s", cfg->secret_file, why);
        return NULL;
    }
    key = mm_token_key_make(secret, len, cfg->issuer);
    memset(secret, 0, len);
    free(secret);
    if (!key)
        mm_log("error", "out of memory");
    return key;
}

/* The event loop with one vhost that listens on nothing itself: the socket
 * of --listen (listen.c) hands it the connections. */
static struct lws_vhost *make_loop(void)
{
    struct lws_context_creation_info info;
    struct lws_vhost *vh;

    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.gid = -1;
    info.uid = -1;
    info.max_http_header_data = MAX_HEADER;
    context = lws_create_context(&info);
    if (!context) {
        mm_log("error", "cannot create the event loop");
        return NULL;
    }
    info.vhost_name = "signald";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    vh = lws_create_vhost(context, &info);
    if (!vh)
        mm_log("error", "cannot create the event loop's vhost");
    return vh;
}

static void catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Close frames (1001) to every client, a moment for them to get out, then
 * the end. Seats are not released: clients reconnect to the next signald
 * within their grace period and keep them. */
static void shut_down(mm_db *db)
{
    long long deadline = mm_mono_us() + SHUTDOWN_US;

    mm_log("info", "shutting down: closing %zu socket(s)", mm_conns_count());
    mm_seats_shutdown();
    mm_conns_close_all(1001, "server shutting down");
    while (mm_conns_count() && mm_mono_us() < deadline)
        if (lws_service(context, 0) < 0)
            break;
    mm_events_stop();
    mm_db_close(db);
    lws_context_destroy(context);
    mm_log("info", "stopped");
}

int main(int argc, char **argv)
{
    mm_sig_config cfg;
    mm_token_key *key;
    struct lws_vhost *vh;
    mm_db *db;
    int lfd, rc = mm_config_parse(&cfg, argc, argv);

    if (rc)
        return rc < 0 ? 0 : rc;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
    key = load_key(&cfg);
    if (!key)
        return MM_EXIT_STARTUP;
    catch_signals();
    lfd = mm_listen_open(cfg.host, cfg.port);
    if (lfd < 0)
        return MM_EXIT_STARTUP;
    vh = make_loop();
    if (!vh || mm_listen_start(context, vh, lfd)) {
        if (context)
            lws_context_destroy(context);
        return MM_EXIT_STARTUP;
    }
    mm_auth_init(key);
    mm_conns_init(&cfg);
    mm_ws_init(&cfg);
    db = mm_db_open(context, vh, "queries", cfg.db, NULL);
    if (!db || mm_events_start(context, vh, cfg.db)) {
        mm_log("error", "out of memory");
        return MM_EXIT_STARTUP;
    }
    mm_seats_init(&cfg, db, context);
    status_file = cfg.status_file;
    if (status_file)
        mm_status_write(status_file);
    lws_sul_schedule(context, 0, &sweep_sul, sweep, MM_US);
    mm_log("info", "listening on %s:%d (grace %d s, max frame %d, rate %d/s burst %d)",
           cfg.host, cfg.port, cfg.grace, cfg.max_frame, cfg.rate, cfg.burst);
    while (!stopping)
        if (lws_service(context, 0) < 0)
            break;
    shut_down(db);
    mm_token_key_free(key);
    return 0;
}
