/* signald: the client protocol (see protocol.h). */
#include "protocol.h"

#include "frames.h"
#include "parse.h"
#include "seats.h"
#include "sfu.h"

static void invalid(mm_conn *c, const char *message)
{
    mm_send_error(c, "INVALID_MESSAGE", message);
}

/* offer / answer / ice-candidate: to the named peer only, the frame as sent
 * (mm_sig_relay): an SDP of some kilobytes is copied, not written out again. */
static const char *relay(mm_conn *c, mm_sig_msg *m, const unsigned char *data, size_t len)
{
    mm_seat *s = m->target == c->user_id ? NULL : mm_seat_find(c->meeting_id, m->target);
    const char *text = (const char *)data;
    size_t n;
    mm_buf *b;

    if (!s || !s->conn) {
        mm_send_error(c, "TARGET_NOT_FOUND", "target_user_id is not connected to this meeting");
        return NULL;
    }
    n = mm_sig_relay(m, text, len, c->user_id, c->meeting_id, NULL, 0);
    b = n ? mm_buf_new(n) : NULL;
    if (!b || mm_sig_relay(m, text, len, c->user_id, c->meeting_id,
                           (char *)b->data + LWS_PRE, n) != n) {
        mm_buf_unref(b);
        return "out of memory";
    }
    mm_conn_send(s->conn, b);
    mm_buf_unref(b);
    return NULL;
}

/* Passed on to the others and remembered (a mute request or a share stopped
 * by the settings starts from it), unless it shares a screen that the
 * settings allow only hosts and moderators to share. */
static const char *media_state(mm_conn *c, const mm_sig_msg *m)
{
    mm_seat *s = c->seat;
    json_t *f;

    if (m->screen && !s->room->screen_share && !mm_seat_is_staff(s)) {
        mm_send_error(c, "SCREEN_SHARE_DISABLED",
                      "screen sharing is turned off for this meeting");
        return NULL;
    }
    s->audio = m->audio ? 1 : 0;
    s->video = m->video ? 1 : 0;
    s->screen = m->screen ? 1 : 0;
    if (!(f = mm_frame_media(s)))
        return "out of memory";
    mm_room_send(s->room, f, c->user_id);
    mm_sfu_audio(c, m->audio);
    json_decref(f);
    return NULL;
}

static const char *ping(mm_conn *c)
{
    json_t *f = mm_frame("pong", c->meeting_id);

    if (!f)
        return "out of memory";
    mm_conn_send_json(c, f);
    json_decref(f);
    return NULL;
}

/* Carries out a checked message; returns why it could not, or NULL. */
static const char *dispatch(mm_conn *c, mm_sig_msg *m, const unsigned char *data, size_t len)
{
    switch (m->type) {
    case MM_SIG_OFFER:
    case MM_SIG_ANSWER:
    case MM_SIG_ICE_CANDIDATE:
        return relay(c, m, data, len);
    case MM_SIG_MEDIA_STATE:
        return media_state(c, m);
    case MM_SIG_PING:
        return ping(c);
    case MM_SIG_LEAVE:
        mm_seats_leave(c);
        return NULL;
    case MM_SIG_SFU_PUBLISH:
    case MM_SIG_SFU_SUBSCRIBE_ANSWER:
    case MM_SIG_SFU_ICE:
    case MM_SIG_SFU_UNPUBLISH:
        return mm_sfu_frame(c, m);
    }
    return "unknown type";
}

/* A waiting socket hears nothing of the room and may only ping and leave. */
static const char *dispatch_waiting(mm_conn *c, const mm_sig_msg *m)
{
    switch (m->type) {
    case MM_SIG_PING:
        return ping(c);
    case MM_SIG_LEAVE:
        mm_seats_leave(c);
        return NULL;
    default:
        return "only ping and leave are allowed while waiting to be admitted";
    }
}

void mm_protocol_frame(mm_conn *c, const unsigned char *data, size_t len, int binary)
{
    int waiting = c->state == MM_CONN_WAITING;
    mm_sig_msg m;
    const char *why;

    if (!waiting && (c->state != MM_CONN_SEATED || !c->seat))
        return;
    if (mm_conn_take_token(c)) {
        mm_send_error(c, "RATE_LIMITED", "too many frames per second");
        return;
    }
    if (binary) {
        invalid(c, "frames must be JSON text");
        return;
    }
    if (mm_sig_parse((const char *)data, len, &m)) {
        invalid(c, m.why);
        return;
    }
    why = waiting ? dispatch_waiting(c, &m) : dispatch(c, &m, data, len);
    if (why && *why)
        invalid(c, why);
    mm_sig_msg_clear(&m);
}
