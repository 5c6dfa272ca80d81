/*
 * signald: the WebSocket to Janus's API (the SFU of SPEC 7), an lws client
 * connection on signald's own loop. Every request gets the API secret and a
 * transaction; its final answer goes to the callback given with it. Janus's
 * own events (no transaction of ours) go to the event hook. The socket is
 * opened again a second after it fails or closes; every request still out is
 * then answered with NULL.
 */
#ifndef SD_JANUS_H
#define SD_JANUS_H

#include <jansson.h>
#include <libwebsockets.h>

#include "context.h"

/* The name of the lws protocol of this client socket (not the subprotocol
 * asked of Janus, which is "janus-protocol"). */
#define SD_JANUS_PROTOCOL "mm-janus"

/* reply: Janus's final answer ("success", "event", "error", or "ack" for a
 * request that gets nothing more), or NULL: Janus went away first. */
typedef void (*sd_janus_cb)(void *arg, json_t *reply);

/* Each is given the arg given to sd_janus_start. */
typedef struct {
    void (*up)(void *arg);                /* connected */
    void (*down)(void *arg);              /* lost: every session on it is gone */
    void (*event)(void *arg, json_t *ev); /* anything that is not an answer */
} sd_janus_hooks;

/* url: ws://HOST:PORT[/PATH]; secret_file holds the API secret. Returns -1
 * (logged) when either is unusable, or out of memory. Connects at once
 * (through ctx->lws and ctx->vhost, the state on ctx->janus) and keeps at it. */
int sd_janus_start(sd_ctx *ctx, const char *url, const char *secret_file,
                   const sd_janus_hooks *hooks, void *arg);
void sd_janus_stop(sd_ctx *ctx);

int sd_janus_is_up(const sd_ctx *ctx);

/* Sends req (the reference is taken) with a transaction and the secret.
 * ack_final: the "ack" is the answer (keepalive, trickle, destroy). cb may
 * be NULL. Returns -1 (req released, cb not called) when Janus is down. */
int sd_janus_send(sd_ctx *ctx, json_t *req, int ack_final, sd_janus_cb cb, void *arg);

/* The answers still due for arg will not be delivered (arg is being freed). */
void sd_janus_forget(sd_ctx *ctx, void *arg);

int sd_janus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len);

#endif
