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

/* The name of the lws protocol of this client socket (not the subprotocol
 * asked of Janus, which is "janus-protocol"). */
#define SD_JANUS_PROTOCOL "mm-janus"

/* reply: Janus's final answer ("success", "event", "error", or "ack" for a
 * request that gets nothing more), or NULL: Janus went away first. */
typedef void (*sd_janus_cb)(void *arg, json_t *reply);

typedef struct {
    void (*up)(void);          /* connected */
    void (*down)(void);        /* lost: every session on it is gone */
    void (*event)(json_t *ev); /* anything that is not an answer */
} sd_janus_hooks;

/* url: ws://HOST:PORT[/PATH]; secret_file holds the API secret. Returns -1
 * (logged) when either is unusable. Connects at once and keeps at it. */
int sd_janus_start(struct lws_context *ctx, struct lws_vhost *vh, const char *url,
                   const char *secret_file, const sd_janus_hooks *hooks);
void sd_janus_stop(void);

int sd_janus_is_up(void);

/* Sends req (the reference is taken) with a transaction and the secret.
 * ack_final: the "ack" is the answer (keepalive, trickle, destroy). cb may
 * be NULL. Returns -1 (req released, cb not called) when Janus is down. */
int sd_janus_send(json_t *req, int ack_final, sd_janus_cb cb, void *arg);

/* The answers still due for arg will not be delivered (arg is being freed). */
void sd_janus_forget(void *arg);

int sd_janus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len);

#endif
