/* signald: control events applied to rooms (see control.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "node.h"
#include "rooms.h"
#include "seats.h"
#include "sfu.h"
#include "util.h"

/* Sockets still waiting for sd_seat_take may get a 200 (or 202) that was
 * decided before this event committed: the event wins when the answer comes.
 * frame, if any, goes first to a socket that was in the waiting room. */
static void doom_takes_with(sd_room *r, long long user_id, int code, const char *reason,
                            const char *frame)
{
    for (sd_take *t = r->takes; t; t = t->next)
        if (!user_id || t->user_id == user_id) {
            t->doom_code = code;
            t->doom_reason = reason;
            t->doom_frame = t->conn && t->conn->was_waiting ? frame : NULL;
        }
}

static void doom_takes(sd_room *r, long long user_id, int code, const char *reason)
{
    doom_takes_with(r, user_id, code, reason, NULL);
}

/* Ends a waiting socket's wait: frame (if any), then a close with code. */
static void end_wait(sd_conn *c, const char *frame, int code, const char *reason)
{
    json_t *f = frame ? sd_frame(frame, c->meeting_id) : NULL;

    sd_room_unwait(c);
    if (f)
        sd_conn_send_json(c, f);
    json_decref(f);
    sd_conn_close(c, code, reason);
}

static void send_user(sd_room *r, const char *type, long long user_id)
{
    json_t *f = sd_frame_user(type, r->meeting_id, user_id);

    sd_room_send(r, f, 0);
    json_decref(f);
}

/* Takes the user out of the room: closes the socket with code, and tells
 * the others user-left if they had been told the user was there. */
static void evict(sd_room *r, long long user_id, int code, const char *reason)
{
    sd_seat *s = sd_seat_find(r->ctx, r->meeting_id, user_id);
    sd_conn *c;
    int announced;

    if (!s)
        return;
    c = s->conn;
    announced = s->announced;
    sd_seat_remove(s);
    if (c)
        sd_conn_close(c, code, reason);
    if (announced)
        send_user(r, "user-left", user_id);
}

void sd_control_removed(sd_ctx *ctx, long long meeting_id, long long user_id)
{
    sd_room *r = sd_room_find(ctx, meeting_id);

    sd_sfu_removed(ctx, meeting_id, user_id);
    if (!r)
        return;
    sd_log("info", "MM3004: meeting %lld user %lld: removed", meeting_id, user_id);
    doom_takes(r, user_id, 4403, "removed from the meeting");
    /* Sent before the close, so the removed user's socket gets it too. */
    send_user(r, "participant-removed", user_id);
    evict(r, user_id, 4403, "removed from the meeting");
    sd_room_gc(r);
}

void sd_control_close_room(sd_room *r, int code, const char *reason, const char *frame)
{
    doom_takes_with(r, 0, code, reason, frame);
    if (frame) {
        json_t *f = sd_frame(frame, r->meeting_id);

        sd_room_send(r, f, 0);
        json_decref(f);
    }
    while (r->waiting)
        end_wait(r->waiting, frame, code, reason);
    while (r->seats) {
        sd_conn *c = r->seats->conn;

        sd_seat_remove(r->seats);
        if (c)
            sd_conn_close(c, code, reason);
    }
    sd_room_gc(r);
}

void sd_control_moved(sd_ctx *ctx, long long meeting_id, const char *reason)
{
    sd_room *r = sd_room_find(ctx, meeting_id);

    sd_sfu_ended(ctx, meeting_id);
    if (!r)
        return;
    sd_log("info", "MM3028: meeting %lld: placed on another node, closing %zu seat(s) with %d",
           meeting_id, r->nseats, SD_CLOSE_MOVED);
    sd_control_close_room(r, SD_CLOSE_MOVED, reason, NULL);
}

void sd_control_ended(sd_ctx *ctx, long long meeting_id)
{
    sd_room *r = sd_room_find(ctx, meeting_id);

    sd_sfu_ended(ctx, meeting_id);
    if (!r)
        return;
    sd_log("info", "MM3005: meeting %lld: ended, closing %zu seat(s)", meeting_id, r->nseats);
    sd_control_close_room(r, 4410, "meeting ended", "meeting-ended");
}

void sd_control_left(sd_ctx *ctx, long long meeting_id, long long user_id)
{
    sd_room *r = sd_room_find(ctx, meeting_id);

    if (!r)
        return;
    sd_log("info", "MM3006: meeting %lld user %lld: left over REST", meeting_id, user_id);
    doom_takes(r, user_id, 1000, "left the meeting");
    evict(r, user_id, 1000, "left the meeting");
    sd_room_gc(r);
}

/* Stops the seat's screen share: screen-share-stopped to its socket, its
 * media-state to the others. */
static void stop_share(sd_seat *s)
{
    json_t *f;

    sd_log("info", "MM3007: meeting %lld user %lld: screen share stopped by the settings",
           s->room->meeting_id, s->user_id);
    s->screen = 0;
    if (s->conn)
        sd_sfu_screen_stop(s->conn);
    f = sd_frame("screen-share-stopped", s->room->meeting_id);
    if (f && s->conn)
        sd_conn_send_json(s->conn, f);
    json_decref(f);
    f = sd_frame_media(s);
    sd_room_send(s->room, f, s->user_id);
    json_decref(f);
}

/* Shares the settings no longer allow this seat. */
static void check_share(sd_seat *s)
{
    if (s->screen && !s->room->screen_share && !sd_seat_is_staff(s))
        stop_share(s);
}

void sd_control_role(sd_ctx *ctx, long long meeting_id, long long user_id, const char *role)
{
    sd_room *r = sd_room_find(ctx, meeting_id);
    sd_seat *s = sd_seat_find(ctx, meeting_id, user_id);
    json_t *f;

    if (!r)
        return;
    for (sd_take *t = r->takes; t; t = t->next) {
        char *copy;

        if (t->user_id != user_id || !(copy = strdup(role)))
            continue;
        free(t->role);
        t->role = copy;
    }
    if (s && sd_seat_set_role(s, role))
        sd_log("error", "MM3008: meeting %lld user %lld: out of memory", meeting_id, user_id);
    f = sd_frame_user("role-changed", meeting_id, user_id);
    if (f)
        json_object_set_new(f, "role", json_string(role));
    sd_room_send(r, f, 0);
    json_decref(f);
    if (s)
        check_share(s);
}

void sd_control_push(sd_ctx *ctx, long long meeting_id, const json_t *frame)
{
    sd_room_send(sd_room_find(ctx, meeting_id), frame, 0);
}

void sd_control_waiting_joined(sd_ctx *ctx, long long meeting_id, const json_t *frame)
{
    sd_room_send_staff(sd_room_find(ctx, meeting_id), frame);
}

void sd_control_waiting_left(sd_ctx *ctx, long long meeting_id, long long user_id,
                             const char *reason, const json_t *frame)
{
    sd_room *r = sd_room_find(ctx, meeting_id);
    sd_conn *c = sd_room_waiter(r, user_id);

    if (!r)
        return;
    sd_log("info", "MM3009: meeting %lld user %lld: no longer waiting (%s)", meeting_id, user_id,
           reason);
    sd_room_send_staff(r, frame);
    if (!strcmp(reason, "admitted")) {
        for (sd_take *t = r->takes; t; t = t->next)
            if (t->user_id == user_id)
                t->admitted = 1;
        if (c)
            sd_seats_retake(c);
    } else if (!strcmp(reason, "denied")) {
        doom_takes_with(r, user_id, 4403, "denied admission", "denied");
        if (c)
            end_wait(c, "denied", 4403, "denied admission");
    } else if (c) {
        end_wait(c, NULL, 1000, "left");
    }
    sd_room_gc(r);
}

void sd_control_settings(sd_ctx *ctx, long long meeting_id, const json_t *settings)
{
    sd_room *r = sd_room_find(ctx, meeting_id);
    json_t *f;

    if (!r || !json_is_object(settings))
        return;
    sd_room_set_settings(r, settings);
    f = sd_frame("settings-changed", meeting_id);
    if (f && r->settings)
        json_object_set(f, "settings", r->settings);
    sd_room_send(r, f, 0);
    json_decref(f);
    for (sd_seat *s = r->seats; s; s = s->next)
        check_share(s);
}

void sd_control_mute(sd_ctx *ctx, long long meeting_id, long long user_id, long long by_user_id)
{
    sd_seat *s = sd_seat_find(ctx, meeting_id, user_id);
    json_t *f;

    if (!s)
        return;
    sd_log("info", "MM3010: meeting %lld user %lld: asked to mute by %lld", meeting_id, user_id,
           by_user_id);
    s->audio = 0;
    if (s->conn)
        sd_sfu_audio(s->conn, 0);
    f = sd_frame("mute-requested", meeting_id);
    if (f && s->conn) {
        json_object_set_new(f, "by_user_id", json_integer(by_user_id));
        sd_conn_send_json(s->conn, f);
    }
    json_decref(f);
    f = sd_frame_media(s);
    sd_room_send(s->room, f, user_id);
    json_decref(f);
}
