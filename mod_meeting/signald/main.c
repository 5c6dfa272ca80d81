/*
 * signald: the WebRTC signaling daemon of mod_meeting.
 *
 * One process, one event loop (libev, epoll), no threads: libwebsockets and
 * the libpq sockets run inside it, and so do SIGTERM and SIGINT. Clients connect
 * with the ticket that join/start returned; their seats are taken, renewed
 * and released through the SQL functions of sql/002_seats.sql; offers,
 * answers and ICE candidates are relayed between the peers of a room; and
 * control events (removal, end, chat, ...) arrive by LISTEN. The protocol is
 * described in docs/signaling.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>

#include "token.h"
#include "ticket.h"
#include "caps.h"
#include "options.h"
#include "conn.h"
#include "control.h"
#include "handover.h"
#include "key.h"
#include "pq.h"
#include "listen.h"
#include "node.h"
#include "pgevents.h"
#include "rooms.h"
#include "seats.h"
#include "sfu.h"
#include "sfu_record.h"
#include "janus.h"
#include "statusfile.h"
#include "util.h"
#include "webhooks.h"
#include "ws.h"

/* Per-socket receive buffer of lws: messages larger than this arrive in
 * pieces and are reassembled (ws.c), so idle sockets stay small. */
#define RX_CHUNK 4096
/* Cookies forwarded by a browser can make upgrade requests large. */
#define MAX_HEADER 8192
/* How long shutdown waits for the close frames to get out. */
#define SHUTDOWN_S 2.0

/* The one global: a signal handler can reach nothing else, and may only set
 * a volatile sig_atomic_t. */
static volatile sig_atomic_t early_signal; /* before the loop took over */

/* main()'s own part of the context: the shutdown and the sweep. */
typedef struct {
    sd_ctx ctx;
    int stopping;
    ev_signal sig_term, sig_int; /* their ->data: this daemon */
    ev_prepare stop_when_closed;
    ev_timer stop_deadline;
    lws_sorted_usec_list_t sweep_sul;
} daemon_state;

/* No validity timer of lws's own: conn.c pings and times out idle sockets
 * itself, once a second for all of them. lws would re-arm a per-socket timer
 * on every frame received, and its timers are a sorted list: each re-arm
 * walked the timers of every other socket (a sixth of signald's CPU at
 * 5,000 sockets). A hang-up time of 0 turns the timer off. */
static const lws_retry_bo_t no_validity_timer = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

static const struct lws_protocols protocols[] = {
    /* First: a client that names no subprotocol gets this one. */
    {SD_WS_PROTOCOL, sd_ws_callback, sizeof(sd_conn), RX_CHUNK, 0, NULL, 0},
    {SD_DB_PROTOCOL, sd_db_lws_callback, 0, 0, 0, NULL, 0},
    {SD_LISTEN_PROTOCOL, sd_listen_lws_callback, 0, 0, 0, NULL, 0},
    {SD_JANUS_PROTOCOL, sd_janus_lws_callback, 0, RX_CHUNK, 0, NULL, 0},
    {SD_HANDOVER_PROTOCOL, sd_handover_lws_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* Until the loop watches the signals: remember one came. */
static void on_early_signal(int sig)
{
    (void)sig;
    early_signal = 1;
}

static void lws_logger(int level, const char *line)
{
    sd_log(level == LLL_ERR ? "error" : "warn", "MM3015: lws: %s", line);
}

/* Once a second: pings and idle sockets, grace periods that ran out, and the
 * status file. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    daemon_state *d = lws_container_of(sul, daemon_state, sweep_sul);
    const char *status_file = d->ctx.cfg->status_file;
    long long now = sd_mono_us();

    sd_conns_sweep(&d->ctx, now);
    sd_seats_sweep(&d->ctx, now);
    sd_sfu_tick(&d->ctx, now);
    if (status_file)
        sd_status_write(&d->ctx, status_file);
    lws_sul_schedule(d->ctx.lws, 0, &d->sweep_sul, sweep, SD_US);
}

/* The event loop: libev (epoll) rather than lws's default poll(), which
 * walks every socket on every wake-up. lws drives its sockets through its
 * libev plugin (libwebsockets-evlib-ev) on our loop, so signals and timers
 * of our own share it. One vhost that listens on nothing itself: the socket
 * of --listen (listen.c) hands it the connections. */
static int make_loop(sd_ctx *ctx)
{
    struct lws_context_creation_info info;
    void *foreign[1];

    ctx->loop = ev_loop_new(EVFLAG_AUTO);
    if (!ctx->loop) {
        sd_log("error", "MM3018: cannot create the event loop (libev)");
        return -1;
    }
    foreign[0] = ctx->loop;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = foreign;
    info.gid = -1;
    info.uid = -1;
    info.max_http_header_data = MAX_HEADER;
    info.retry_and_idle_policy = &no_validity_timer;
    info.user = ctx; /* lws_context_user(): how protocol callbacks find it */
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws) {
        sd_log("error", "MM3019: cannot create the event loop: libwebsockets without its libev "
                        "plugin (Debian package libwebsockets-evlib-ev)?");
        return -1;
    }
    info.vhost_name = "signald";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    ctx->vhost = lws_create_vhost(ctx->lws, &info);
    if (!ctx->vhost) {
        sd_log("error", "MM3020: cannot create the event loop's vhost");
        return -1;
    }
    return 0;
}

/* Until the loop runs, a signal only sets a flag (the loop looks at it
 * once it watches the signals itself); SIGPIPE is never wanted. */
static void catch_signals_early(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_early_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void stop_loop(struct ev_loop *l)
{
    ev_break(l, EVBREAK_ALL);
}

/* Run before the loop would block: every socket closed, nothing to wait for. */
static void check_closed(struct ev_loop *l, ev_prepare *w, int revents)
{
    daemon_state *d = w->data;

    (void)revents;
    if (!sd_conns_count(&d->ctx))
        stop_loop(l);
}

static void deadline_passed(struct ev_loop *l, ev_timer *w, int revents)
{
    daemon_state *d = w->data;

    (void)revents;
    sd_log("info", "MM3021: %zu socket(s) did not close in time", sd_conns_count(&d->ctx));
    stop_loop(l);
}

/* SIGTERM or SIGINT: stop accepting, send close frames (1001) to every
 * client, and let the loop run until they are out or SHUTDOWN_S has passed.
 * Seats are not released: clients reconnect to the next signald within
 * their grace period and keep them. */
static void begin_shutdown(daemon_state *d)
{
    sd_ctx *ctx = &d->ctx;

    if (d->stopping)
        return;
    d->stopping = 1;
    sd_log("info", "MM3022: shutting down: closing %zu socket(s)", sd_conns_count(ctx));
    sd_listen_pause(ctx);
    sd_seats_shutdown(ctx);
    sd_webhooks_stop(ctx);
    sd_conns_close_all(ctx, 1001, "server shutting down");
    ev_prepare_start(ctx->loop, &d->stop_when_closed);
    ev_timer_start(ctx->loop, &d->stop_deadline);
    /* lws re-arms its own timers after its events, not after ours. */
    lws_cancel_service(ctx->lws);
}

static void on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
    (void)l;
    (void)revents;
    sd_log("info", "MM3023: signal %d", w->signum);
    begin_shutdown(w->data);
}

/* The loop takes the signals over from catch_signals_early(). */
static void watch_signals(daemon_state *d)
{
    struct ev_loop *loop = d->ctx.loop;

    ev_signal_init(&d->sig_term, on_signal, SIGTERM);
    ev_signal_init(&d->sig_int, on_signal, SIGINT);
    ev_prepare_init(&d->stop_when_closed, check_closed);
    ev_timer_init(&d->stop_deadline, deadline_passed, SHUTDOWN_S, 0.);
    d->sig_term.data = d->sig_int.data = d->stop_when_closed.data = d->stop_deadline.data = d;
    ev_signal_start(loop, &d->sig_term);
    ev_signal_start(loop, &d->sig_int);
    if (early_signal)
        begin_shutdown(d);
}

static void finish(daemon_state *d)
{
    sd_ctx *ctx = &d->ctx;

    sd_node_stop(ctx);
    sd_handover_stop(ctx);
    sd_events_stop(ctx);
    sd_sfu_record_stop(ctx);
    sd_sfu_stop(ctx);
    sd_db_close(ctx->db);
    lws_context_destroy(ctx->lws);
    ev_loop_destroy(ctx->loop);
    /* server-status would otherwise show the last counts of a stopped signald */
    if (ctx->cfg->status_file)
        unlink(ctx->cfg->status_file);
    sd_log("info", "MM3024: stopped");
}

/* The parts, each after what it needs: the query connection before the
 * parts that query, the SFU before its recording. */
static int start_parts(sd_ctx *ctx)
{
    const sd_config *cfg = ctx->cfg;

    ctx->db = sd_db_open(ctx->lws, ctx->vhost, "queries", cfg->db, NULL);
    if (!ctx->db || sd_rooms_start(ctx) || sd_events_start(ctx)) {
        sd_log("error", "MM3025: out of memory");
        return -1;
    }
    if (sd_handover_start(ctx, sd_events_apply))
        return -1;
    if (sd_seats_start(ctx, sd_events_reconcile) || sd_node_start(ctx, sd_control_moved)) {
        sd_log("error", "MM3025: out of memory");
        return -1;
    }
    if (sd_webhooks_start(ctx)) {
        sd_log("error", "MM3026: cannot start the webhook deliverer (libcurl)");
        return -1;
    }
    if (sd_sfu_start(ctx))
        return -1;
    if (sd_sfu_record_start(ctx)) {
        sd_log("error", "MM3025: out of memory");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    daemon_state d;
    sd_config cfg;
    int lfd, rc = sd_config_parse(&cfg, argc, argv);

    if (rc)
        return rc < 0 ? 0 : rc;
    memset(&d, 0, sizeof(d));
    d.ctx.cfg = &cfg;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_logger);
    d.ctx.key = sd_key_load(&cfg);
    if (!d.ctx.key)
        return SD_EXIT_STARTUP;
    catch_signals_early();
    lfd = sd_listen_open(cfg.host, cfg.port);
    if (lfd < 0)
        return SD_EXIT_STARTUP;
    if (make_loop(&d.ctx) || sd_listen_start(&d.ctx, lfd)) {
        if (d.ctx.lws)
            lws_context_destroy(d.ctx.lws);
        return SD_EXIT_STARTUP;
    }
    if (start_parts(&d.ctx))
        return SD_EXIT_STARTUP;
    if (cfg.status_file)
        sd_status_write(&d.ctx, cfg.status_file);
    lws_sul_schedule(d.ctx.lws, 0, &d.sweep_sul, sweep, SD_US);
    sd_log("info",
           "MM3027: listening on %s:%d (grace %d s, max frame %d, rate %d/s burst %d, "
           "sockets per user %d, per address %d)",
           cfg.host, cfg.port, cfg.grace, cfg.max_frame, cfg.rate, cfg.burst, cfg.max_per_user,
           cfg.max_per_address);
    watch_signals(&d);
    ev_run(d.ctx.loop, 0);
    finish(&d);
    mm_token_key_free(d.ctx.key);
    return 0;
}
