/* signald: one client WebSocket (see conn.h). */
#include "conn.h"

#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "util.h"

/* A client that lets this much pile up is not reading: it is closed rather
 * than allowed to grow the daemon without bound. */
#define OUT_MAX_FRAMES 2048
#define OUT_MAX_BYTES (4u * 1024 * 1024)
/* A close that has not got out by then (the peer stopped reading) is forced. */
#define CLOSE_GRACE_US (5 * SD_US)
/* Frames written in one writable callback at most, while the socket takes
 * them: a backlog (a burst of broadcasts, say) drains in fewer turns of the
 * loop, and no one socket holds the loop for long. */
#define WRITE_BATCH 16

sd_buf *sd_buf_new(size_t len)
{
    sd_buf *b = malloc(sizeof(*b) + LWS_PRE + len);

    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    return b;
}

sd_buf *sd_buf_json(const json_t *frame)
{
    size_t n = json_dumpb(frame, NULL, 0, JSON_COMPACT);
    sd_buf *b;

    if (n == 0 || !(b = sd_buf_new(n)))
        return NULL;
    b->len = json_dumpb(frame, (char *)b->data + LWS_PRE, n, JSON_COMPACT);
    return b;
}

void sd_buf_unref(sd_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void drop_queue(sd_conn *c)
{
    sd_out *o = c->out_head, *next;

    for (; o; o = next) {
        next = o->next;
        sd_buf_unref(o->buf);
        free(o);
    }
    c->out_head = c->out_tail = NULL;
    c->out_count = c->out_bytes = 0;
}

const sd_conn *sd_conns_first(const sd_ctx *ctx)
{
    return ctx->conns;
}

void sd_conn_open(sd_conn *c, struct lws *wsi)
{
    long long now = sd_mono_us();

    c->wsi = wsi;
    c->opened_us = c->last_seen_us = c->last_ping_us = c->bucket_us = now;
    c->bucket = c->ctx->cfg->burst;
    SD_LIST_PUSH(c->ctx->conns, c, next, prev);
    c->listed = 1;
    c->ctx->nconns++;
}

void sd_conn_closed(sd_conn *c)
{
    drop_queue(c);
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    if (!c->listed)
        return;
    SD_LIST_UNLINK(c->ctx->conns, c, next, prev);
    c->listed = 0;
    c->ctx->nconns--;
}

void sd_conn_close(sd_conn *c, int code, const char *reason)
{
    if (c->close_code)
        return;
    c->state = SD_CONN_CLOSING;
    c->close_code = code;
    c->close_reason = reason;
    c->close_at_us = sd_mono_us();
    lws_callback_on_writable(c->wsi);
}

void sd_conn_send(sd_conn *c, sd_buf *b)
{
    sd_out *o;

    if (!b || c->close_code)
        return;
    if (c->out_count >= OUT_MAX_FRAMES || c->out_bytes + b->len > OUT_MAX_BYTES) {
        sd_log("warn", "MM3002: meeting %lld user %lld: not reading its frames, closing",
               c->meeting_id, c->user_id);
        drop_queue(c);
        sd_conn_close(c, 1008, "not reading");
        return;
    }
    o = malloc(sizeof(*o));
    if (!o)
        return;
    b->refs++;
    o->buf = b;
    o->next = NULL;
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    c->out_count++;
    c->out_bytes += b->len;
    lws_callback_on_writable(c->wsi);
}

void sd_conn_send_json(sd_conn *c, const json_t *frame)
{
    sd_buf *b = sd_buf_json(frame);

    sd_conn_send(c, b);
    sd_buf_unref(b);
}

/* Writes the next queued frame. */
static int write_next(sd_conn *c)
{
    sd_out *o = c->out_head;
    int n;

    c->out_head = o->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_count--;
    c->out_bytes -= o->buf->len;
    /* Server frames are unmasked and nothing rewrites the payload, so one
     * buffer can be written to many sockets: lws only fills the header in
     * the headroom, identically each time. */
    n = lws_write(c->wsi, o->buf->data + LWS_PRE, o->buf->len, LWS_WRITE_TEXT);
    sd_buf_unref(o->buf);
    free(o);
    return n < 0 ? -1 : 0;
}

int sd_conn_writable(sd_conn *c)
{
    if (c->ping_due) {
        /* Not empty: lws does not report a pong without payload. */
        unsigned char ping[LWS_PRE + 4] = {0};

        c->ping_due = 0;
        memcpy(ping + LWS_PRE, "mm", 2);
        if (lws_write(c->wsi, ping + LWS_PRE, 2, LWS_WRITE_PING) < 0)
            return -1;
    } else if (c->out_head) {
        /* lws buffers what the socket did not take of a frame and then
         * reports the socket choked: the next frame waits for the next
         * callback, as lws requires. */
        int n = 0;

        do {
            if (write_next(c))
                return -1;
        } while (c->out_head && ++n < WRITE_BATCH && !lws_send_pipe_choked(c->wsi));
    } else if (c->close_code) {
        size_t n = strlen(c->close_reason);

        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, n);
        return -1;
    }
    if (c->out_head || c->close_code || c->ping_due)
        lws_callback_on_writable(c->wsi);
    return 0;
}

void sd_conn_alive(sd_conn *c)
{
    c->last_seen_us = sd_mono_us();
}

long long sd_conn_last_alive(const sd_conn *c)
{
    return c->timed_out ? c->last_seen_us : sd_mono_us();
}

int sd_conn_take_token(sd_conn *c)
{
    const sd_config *cfg = c->ctx->cfg;
    long long now = sd_mono_us();

    c->bucket += (double)(now - c->bucket_us) * cfg->rate / SD_US;
    c->bucket_us = now;
    if (c->bucket > cfg->burst)
        c->bucket = cfg->burst;
    if (c->bucket < 1.0)
        return -1;
    c->bucket -= 1.0;
    return 0;
}

static void sweep_one(sd_conn *c, long long now)
{
    const sd_config *cfg = c->ctx->cfg;

    if (c->close_code) {
        if (now - c->close_at_us > CLOSE_GRACE_US) {
            c->timed_out = 1;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        }
        return;
    }
    if (now - c->last_seen_us >= (long long)cfg->idle_timeout * SD_US) {
        sd_log("info", "MM3003: meeting %lld user %lld: silent for %d s, closing", c->meeting_id,
               c->user_id, cfg->idle_timeout);
        c->timed_out = 1;
        sd_conn_close(c, 1001, "idle timeout");
        return;
    }
    if (now - c->last_ping_us >= (long long)cfg->ping_interval * SD_US) {
        c->last_ping_us = now;
        c->ping_due = 1;
        lws_callback_on_writable(c->wsi);
    }
}

void sd_conns_sweep(sd_ctx *ctx, long long now_us)
{
    for (sd_conn *c = ctx->conns; c; c = c->next)
        sweep_one(c, now_us);
}

size_t sd_conns_close_all(sd_ctx *ctx, int code, const char *reason)
{
    for (sd_conn *c = ctx->conns; c; c = c->next)
        sd_conn_close(c, code, reason);
    return ctx->nconns;
}

size_t sd_conns_count(const sd_ctx *ctx)
{
    return ctx->nconns;
}
