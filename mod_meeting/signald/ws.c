/* signald: the lws protocol of client sockets (see ws.h). */
#include "ws.h"

#include <stdlib.h>
#include <string.h>

#include "ticket.h"
#include "caps.h"
#include "conn.h"
#include "frames.h"
#include "options.h"
#include "protocol.h"
#include "seats.h"
#include "sfu.h"
#include "util.h"

/* Before the 101: the path must be ours; the ticket's verdict is kept and
 * given as a close code once upgraded, because a browser's WebSocket sees
 * close codes but never the status of a refused upgrade. */
static int filter(sd_conn *c, struct lws *wsi)
{
    c->ctx = lws_context_user(lws_get_context(wsi));
    if (!sd_auth_path_ok(wsi))
        return -1;
    c->refuse_code =
        sd_auth_check(c->ctx, wsi, &c->meeting_id, &c->user_id, &c->gen, &c->refuse_reason);
    sd_caps_address(c, wsi);
    return 0;
}

static void established(sd_conn *c, struct lws *wsi)
{
    sd_conn_open(c, wsi);
    if (c->refuse_code) {
        sd_log("info", "MM3068: meeting %lld user %lld: refused: %s", c->meeting_id, c->user_id,
               c->refuse_reason);
        sd_conn_close(c, c->refuse_code, c->refuse_reason);
        return;
    }
    if (sd_caps_check(c))
        return;
    sd_seats_connect(c);
}

/* Appends a fragment to the message being reassembled. */
static int append(sd_conn *c, const void *in, size_t len)
{
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap * 2 : 4096;
        unsigned char *rx;

        while (cap < c->rx_len + len)
            cap *= 2;
        rx = realloc(c->rx, cap);
        if (!rx)
            return -1;
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    return 0;
}

static int too_large(struct lws *wsi)
{
    static const char reason[] = "frame too large";

    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
                     sizeof(reason) - 1);
    return -1;
}

/* lws hands a message over in pieces; a whole message goes to protocol.c. */
static int receive(sd_conn *c, struct lws *wsi, const void *in, size_t len)
{
    int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    size_t rest = lws_remaining_packet_payload(wsi);

    sd_conn_alive(c);
    if (c->state == SD_CONN_CLOSING)
        return 0;
    if (first) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(wsi) ? 1 : 0;
    }
    /* Refused as soon as the frame header tells, before buffering it. */
    if (c->rx_len + len + rest > (size_t)c->ctx->cfg->max_frame)
        return too_large(wsi);
    if (first && final) {
        sd_protocol_frame(c, in, len, c->rx_binary);
        return 0;
    }
    if (append(c, in, len)) {
        sd_log("error", "MM3069: meeting %lld user %lld: out of memory", c->meeting_id, c->user_id);
        return -1;
    }
    if (!final)
        return 0;
    sd_protocol_frame(c, c->rx, c->rx_len, c->rx_binary);
    /* An idle socket holds no message buffer. */
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    return 0;
}

static void closed(sd_conn *c)
{
    if (!c->listed)
        return; /* never got past the handshake */
    sd_sfu_closed(c);
    sd_seats_disconnect(c);
    sd_conn_closed(c);
}

/* Plain HTTP on this port is a mistake: answer 404, hang up. */
static int http(struct lws *wsi)
{
    if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int sd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    sd_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http(wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return filter(c, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        established(c, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return receive(c, wsi, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        sd_conn_alive(c);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return sd_conn_writable(c);
    case LWS_CALLBACK_CLOSED:
        closed(c);
        return 0;
    default:
        return 0;
    }
}
