/* signald: the client protocol (see protocol.h). */
#include "protocol.h"

#include "frames.h"
#include "parse.h"
#include "seats.h"
#include "sfu.h"

static void invalid(sd_conn *c, const char *message)
{
    sd_send_error(c, "INVALID_MESSAGE", message);
}

/* offer / answer / ice-candidate: to the named peer only, the frame as sent
 * (sd_relay): an SDP of some kilobytes is copied, not written out again. */
static const char *relay(sd_conn *c, sd_msg *m, const unsigned char *data, size_t len)
{
    sd_seat *s = m->target == c->user_id ? NULL : sd_seat_find(c->ctx, c->meeting_id, m->target);
    const char *text = (const char *)data;
    size_t n;
    sd_buf *b;

    if (!s || !s->conn) {
        sd_send_error(c, "TARGET_NOT_FOUND", "target_user_id is not connected to this meeting");
        return NULL;
    }
    n = sd_relay(m, text, len, c->user_id, c->meeting_id, NULL, 0);
    b = n ? sd_buf_new(n) : NULL;
    if (!b
        || sd_relay(m, text, len, c->user_id, c->meeting_id, (char *)b->data + LWS_PRE, n) != n) {
        sd_buf_unref(b);
        return "out of memory";
    }
    sd_conn_send(s->conn, b);
    sd_buf_unref(b);
    return NULL;
}

/* Passed on to the others and remembered (a mute request or a share stopped
 * by the settings starts from it), unless it shares a screen that the
 * settings allow only hosts and moderators to share. */
static const char *media_state(sd_conn *c, const sd_msg *m)
{
    sd_seat *s = c->seat;
    json_t *f;

    if (m->screen && !s->room->screen_share && !sd_seat_is_staff(s)) {
        sd_send_error(c, "SCREEN_SHARE_DISABLED", "screen sharing is turned off for this meeting");
        return NULL;
    }
    s->audio = m->audio ? 1 : 0;
    s->video = m->video ? 1 : 0;
    s->screen = m->screen ? 1 : 0;
    if (!(f = sd_frame_media(s)))
        return "out of memory";
    sd_room_send(s->room, f, c->user_id);
    sd_sfu_audio(c, m->audio);
    json_decref(f);
    return NULL;
}

static const char *ping(sd_conn *c)
{
    json_t *f = sd_frame("pong", c->meeting_id);

    if (!f)
        return "out of memory";
    sd_conn_send_json(c, f);
    json_decref(f);
    return NULL;
}

/* Carries out a checked message; returns why it could not, or NULL. */
static const char *dispatch(sd_conn *c, sd_msg *m, const unsigned char *data, size_t len)
{
    switch (m->type) {
    case SD_OFFER:
    case SD_ANSWER:
    case SD_ICE_CANDIDATE:
        return relay(c, m, data, len);
    case SD_MEDIA_STATE:
        return media_state(c, m);
    case SD_PING:
        return ping(c);
    case SD_LEAVE:
        sd_seats_leave(c);
        return NULL;
    case SD_SFU_PUBLISH:
    case SD_SFU_SUBSCRIBE_ANSWER:
    case SD_SFU_ICE:
    case SD_SFU_UNPUBLISH:
        return sd_sfu_frame(c, m);
    }
    return "unknown type";
}

/* A waiting socket hears nothing of the room and may only ping and leave. */
static const char *dispatch_waiting(sd_conn *c, const sd_msg *m)
{
    switch (m->type) {
    case SD_PING:
        return ping(c);
    case SD_LEAVE:
        sd_seats_leave(c);
        return NULL;
    default:
        return "only ping and leave are allowed while waiting to be admitted";
    }
}

void sd_protocol_frame(sd_conn *c, const unsigned char *data, size_t len, int binary)
{
    int waiting = c->state == SD_CONN_WAITING;
    sd_msg m;
    const char *why;

    if (!waiting && (c->state != SD_CONN_SEATED || !c->seat))
        return;
    if (sd_conn_take_token(c)) {
        sd_send_error(c, "RATE_LIMITED", "too many frames per second");
        return;
    }
    if (binary) {
        invalid(c, "frames must be JSON text");
        return;
    }
    if (sd_parse((const char *)data, len, &m)) {
        invalid(c, m.why);
        return;
    }
    why = waiting ? dispatch_waiting(c, &m) : dispatch(c, &m, data, len);
    if (why && *why)
        invalid(c, why);
    sd_msg_clear(&m);
}
