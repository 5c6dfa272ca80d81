/*
 * signald: the one context of the daemon. Everything signald keeps between
 * two turns of its loop hangs off one sd_ctx that main() makes: the
 * configuration, the event loop, the lws context and vhost, the query
 * connection, and each part's own state. No part keeps state in a file-level
 * static; the context is passed explicitly, or found from what a callback is
 * given:
 *   an lws protocol callback   lws_context_user(lws_get_context(wsi))
 *   a client socket            sd_conn's ->ctx (set when it is filtered)
 *   a room, seat or take       sd_room's ->ctx (seat->room, take->room)
 *   an lws_sorted_usec_list_t  lws_container_of(sul, <part struct>, <field>),
 *                              the part struct holding ->ctx
 *   a libev watcher            its ->data, set to the part struct
 *   a query's answer (pq.h)    its arg: the part struct, or a small request
 *                              struct that points to it
 *
 * A new part (a new input, say) gets its state so: declare its struct
 * below (struct sd_<part>;), add a pointer to it to sd_ctx, define the
 * struct in its .c file only (with an sd_ctx *ctx member), allocate it in
 * int sd_<part>_start(sd_ctx *ctx) and hang it on the context there, and
 * call that from start_parts() in main.c after what it needs (ctx->db,
 * another part) exists; its stop function, if it has one, takes the context
 * too. Functions of the part that have no object of their own to start from
 * take the sd_ctx as their first argument. A part's state lives as long as
 * the process, as the statics it replaced did: stopping cancels its timers
 * and closes its connections, but lws still calls the protocols back while
 * lws_context_destroy() closes their sockets, after the parts were stopped.
 */
#ifndef SD_CONTEXT_H
#define SD_CONTEXT_H

#include <stddef.h>

/* Declarations only, so that every part can include this header. */
struct sd_config; /* options.h */
struct ev_loop;
struct lws_context;
struct lws_vhost;
struct mm_token_key;
struct sd_db;
struct sd_conn;

/* Each part's state, defined in its own .c file. */
struct sd_rooms;      /* rooms.c: the rooms and seats in memory */
struct sd_seats;      /* seats.c: lease renewal, shutdown */
struct sd_events;     /* pgevents.c: the LISTEN connection */
struct sd_handover;   /* handover.c: the events httpd hands over (NULL: none) */
struct sd_node;       /* node.c: the heartbeat in the node registry */
struct sd_listen;     /* listen.c: the listening socket */
struct sd_janus;      /* janus.c: the WebSocket to Janus */
struct sd_sfu;        /* sfu.c: media through the SFU (NULL without one) */
struct sd_sfu_record; /* sfu_record.c: recording on the SFU */
struct sd_webhooks;   /* webhooks.c: the webhook deliverer */

typedef struct sd_ctx {
    const struct sd_config *cfg;
    struct mm_token_key *key; /* verifies tickets and handed-over events (key.h) */
    long long key_read_us;    /* when the secret file was last read again (key.c) */
    struct ev_loop *loop;
    struct lws_context *lws; /* its user pointer is this context */
    struct lws_vhost *vhost;
    struct sd_db *db; /* the query connection, shared by the parts */
    /* Every open client socket (conn.c), for the sweep and the caps. */
    struct sd_conn *conns;
    size_t nconns;
    struct sd_rooms *rooms;
    struct sd_seats *seats;
    struct sd_events *events;
    struct sd_handover *handover;
    struct sd_node *node;
    struct sd_listen *listen;
    struct sd_janus *janus;
    struct sd_sfu *sfu;
    struct sd_sfu_record *sfu_record;
    struct sd_webhooks *webhooks;
} sd_ctx;

#endif
