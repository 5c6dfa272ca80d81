/*
 * signald: one client WebSocket. Owns what the socket needs whatever room it
 * is in: the outgoing queue (frames are written from lws's writable
 * callbacks, a batch at a time until the socket reports itself choked), the
 * close to send once the queue is flushed, the message being reassembled,
 * the token bucket and the sign-of-life clock. The struct is lws's
 * per-session user space: it lives exactly as long as the socket.
 */
#ifndef SD_CONN_H
#define SD_CONN_H

#include <stddef.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "context.h"

/* A serialised frame, shared by every socket a broadcast goes to. */
typedef struct {
    unsigned refs;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then len bytes */
} sd_buf;

/* A frame of len bytes for the caller to fill in (data + LWS_PRE), with one
 * reference. NULL if out of memory. */
sd_buf *sd_buf_new(size_t len);

/* Serialises a frame (the caller keeps its reference). NULL if out of memory. */
sd_buf *sd_buf_json(const json_t *frame);
void sd_buf_unref(sd_buf *b);

typedef struct sd_out {
    struct sd_out *next;
    sd_buf *buf;
} sd_out;

typedef enum {
    SD_CONN_HANDSHAKE, /* ticket being checked, not yet in a room */
    SD_CONN_PENDING,   /* ticket good, waiting for sd_seat_take */
    SD_CONN_SEATED,    /* in its room */
    SD_CONN_WAITING,   /* in its room's waiting room: ping and leave only */
    SD_CONN_CLOSING,   /* a close is queued; frames from it are ignored */
} sd_conn_state;

struct sd_room;
struct sd_seat;
struct sd_take;
struct sd_leave;
struct sd_sfu_peer;

typedef struct sd_conn {
    sd_ctx *ctx; /* set by the first callback, before the upgrade */
    struct lws *wsi;
    sd_conn_state state;
    long long meeting_id, user_id;
    long long gen;   /* the ticket's token generation */
    char addr[48];   /* the client's address (caps.h) */
    int refuse_code; /* the handshake refused the ticket: close code */
    const char *refuse_reason;
    struct sd_seat *seat;     /* SD_CONN_SEATED */
    struct sd_take *take;     /* SD_CONN_PENDING */
    struct sd_leave *leaving; /* sent leave; the release is on its way */
    struct sd_sfu_peer *sfu;  /* its Janus session (sfu.c), if any */
    long long opened_us, last_seen_us, last_ping_us, close_at_us;
    double bucket; /* frames the token bucket still allows */
    long long bucket_us;
    unsigned char *rx; /* message being reassembled */
    size_t rx_len, rx_cap;
    unsigned rx_binary : 1, ping_due : 1, listed : 1;
    unsigned timed_out : 1;        /* closed by us for silence, not by the peer */
    unsigned was_waiting : 1;      /* was sent waiting: admitted or denied comes next */
    struct sd_room *wroom;         /* SD_CONN_WAITING: the room it waits for */
    struct sd_conn *wnext, *wprev; /* in wroom's waiting list */
    sd_out *out_head, *out_tail;
    size_t out_count, out_bytes;
    int close_code;
    const char *close_reason;    /* a string literal */
    struct sd_conn *next, *prev; /* every open socket, for the sweep */
} sd_conn;

/* The socket is upgraded: start its clocks and list it in c->ctx. */
void sd_conn_open(sd_conn *c, struct lws *wsi);

/* The socket is gone: free what it holds. */
void sd_conn_closed(sd_conn *c);

/* Queues a frame (takes a reference of b). */
void sd_conn_send(sd_conn *c, sd_buf *b);
void sd_conn_send_json(sd_conn *c, const json_t *frame);

/* Closes with code and reason once the frames queued so far are written. */
void sd_conn_close(sd_conn *c, int code, const char *reason);

/* LWS_CALLBACK_SERVER_WRITEABLE. Returns -1 when lws should close. */
int sd_conn_writable(sd_conn *c);

/* Any frame or pong from the client. */
void sd_conn_alive(sd_conn *c);

/* When the client was last known alive, for a socket that has just closed:
 * its last frame or pong if signald closed it for silence, else now (the
 * peer closing, even by a bare TCP FIN, is itself a sign of life). */
long long sd_conn_last_alive(const sd_conn *c);

/* Takes one frame from the token bucket: 0 if allowed, -1 if rate limited. */
int sd_conn_take_token(sd_conn *c);

/* Once a second: pings due, idle sockets, closes that never got out. */
void sd_conns_sweep(sd_ctx *ctx, long long now_us);

/* Shutdown: closes every socket with code. Returns how many are still open. */
size_t sd_conns_close_all(sd_ctx *ctx, int code, const char *reason);
size_t sd_conns_count(const sd_ctx *ctx);

/* The first of every open socket; ->next walks the rest. */
const sd_conn *sd_conns_first(const sd_ctx *ctx);

#endif
