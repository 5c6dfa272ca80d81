/* signald: control events applied to rooms (see control.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "rooms.h"
#include "seats.h"
#include "sfu.h"
#include "util.h"

/* Sockets still waiting for mm_seat_take may get a 200 (or 202) that was
 * decided before this event committed: the event wins when the answer comes.
 * frame, if any, goes first to a socket that was in the waiting room. */
static void doom_takes_with(mm_room *r, long long user_id, int code, const char *reason,
                            const char *frame)
{
    for (mm_take *t = r->takes; t; t = t->next)
        if (!user_id || t->user_id == user_id) {
            t->doom_code = code;
            t->doom_reason = reason;
            t->doom_frame = t->conn && t->conn->was_waiting ? frame : NULL;
        }
}

static void doom_takes(mm_room *r, long long user_id, int code, const char *reason)
{
    doom_takes_with(r, user_id, code, reason, NULL);
}

/* Ends a waiting socket's wait: frame (if any), then a close with code. */
static void end_wait(mm_conn *c, const char *frame, int code, const char *reason)
{
    json_t *f = frame ? mm_frame(frame, c->meeting_id) : NULL;

    mm_room_unwait(c);
    if (f)
        mm_conn_send_json(c, f);
    json_decref(f);
    mm_conn_close(c, code, reason);
}

static void send_user(mm_room *r, const char *type, long long user_id)
{
    json_t *f = mm_frame_user(type, r->meeting_id, user_id);

    mm_room_send(r, f, 0);
    json_decref(f);
}

/* Takes the user out of the room: closes the socket with code, and tells
 * the others user-left if they had been told the user was there. */
static void evict(mm_room *r, long long user_id, int code, const char *reason)
{
    mm_seat *s = mm_seat_find(r->meeting_id, user_id);
    mm_conn *c;
    int announced;

    if (!s)
        return;
    c = s->conn;
    announced = s->announced;
    mm_seat_remove(s);
    if (c)
        mm_conn_close(c, code, reason);
    if (announced)
        send_user(r, "user-left", user_id);
}

void mm_control_removed(long long meeting_id, long long user_id)
{
    mm_room *r = mm_room_find(meeting_id);

    mm_sfu_removed(meeting_id, user_id);
    if (!r)
        return;
    mm_log("info", "meeting %lld user %lld: removed", meeting_id, user_id);
    doom_takes(r, user_id, 4403, "removed from the meeting");
    /* Sent before the close, so the removed user's socket gets it too. */
    send_user(r, "participant-removed", user_id);
    evict(r, user_id, 4403, "removed from the meeting");
    mm_room_gc(r);
}

void mm_control_ended(long long meeting_id)
{
    mm_room *r = mm_room_find(meeting_id);
    json_t *f;

    mm_sfu_ended(meeting_id);
    if (!r)
        return;
    mm_log("info", "meeting %lld: ended, closing %zu seat(s)", meeting_id, r->nseats);
    doom_takes_with(r, 0, 4410, "meeting ended", "meeting-ended");
    f = mm_frame("meeting-ended", meeting_id);
    mm_room_send(r, f, 0);
    json_decref(f);
    while (r->waiting)
        end_wait(r->waiting, "meeting-ended", 4410, "meeting ended");
    while (r->seats) {
        mm_conn *c = r->seats->conn;

        mm_seat_remove(r->seats);
        if (c)
            mm_conn_close(c, 4410, "meeting ended");
    }
    mm_room_gc(r);
}

void mm_control_left(long long meeting_id, long long user_id)
{
    mm_room *r = mm_room_find(meeting_id);

    if (!r)
        return;
    mm_log("info", "meeting %lld user %lld: left over REST", meeting_id, user_id);
    doom_takes(r, user_id, 1000, "left the meeting");
    evict(r, user_id, 1000, "left the meeting");
    mm_room_gc(r);
}

/* Stops the seat's screen share: screen-share-stopped to its socket, its
 * media-state to the others. */
static void stop_share(mm_seat *s)
{
    json_t *f;

    mm_log("info", "meeting %lld user %lld: screen share stopped by the settings",
           s->room->meeting_id, s->user_id);
    s->screen = 0;
    if (s->conn)
        mm_sfu_screen_stop(s->conn);
    f = mm_frame("screen-share-stopped", s->room->meeting_id);
    if (f && s->conn)
        mm_conn_send_json(s->conn, f);
    json_decref(f);
    f = mm_frame_media(s);
    mm_room_send(s->room, f, s->user_id);
    json_decref(f);
}

/* Shares the settings no longer allow this seat. */
static void check_share(mm_seat *s)
{
    if (s->screen && !s->room->screen_share && !mm_seat_is_staff(s))
        stop_share(s);
}

void mm_control_role(long long meeting_id, long long user_id, const char *role)
{
    mm_room *r = mm_room_find(meeting_id);
    mm_seat *s = mm_seat_find(meeting_id, user_id);
    json_t *f;

    if (!r)
        return;
    for (mm_take *t = r->takes; t; t = t->next) {
        char *copy;

        if (t->user_id != user_id || !(copy = strdup(role)))
            continue;
        free(t->role);
        t->role = copy;
    }
    if (s && mm_seat_set_role(s, role))
        mm_log("error", "meeting %lld user %lld: out of memory", meeting_id, user_id);
    f = mm_frame_user("role-changed", meeting_id, user_id);
    if (f)
        json_object_set_new(f, "role", json_string(role));
    mm_room_send(r, f, 0);
    json_decref(f);
    if (s)
        check_share(s);
}

void mm_control_push(long long meeting_id, const json_t *frame)
{
    mm_room_send(mm_room_find(meeting_id), frame, 0);
}

void mm_control_waiting_joined(long long meeting_id, const json_t *frame)
{
    mm_room_send_staff(mm_room_find(meeting_id), frame);
}

void mm_control_waiting_left(long long meeting_id, long long user_id, const char *reason,
                             const json_t *frame)
{
    mm_room *r = mm_room_find(meeting_id);
    mm_conn *c = mm_room_waiter(r, user_id);

    if (!r)
        return;
    mm_log("info", "meeting %lld user %lld: no longer waiting (%s)", meeting_id, user_id,
           reason);
    mm_room_send_staff(r, frame);
    if (!strcmp(reason, "admitted")) {
        for (mm_take *t = r->takes; t; t = t->next)
            if (t->user_id == user_id)
                t->admitted = 1;
        if (c)
            mm_seats_retake(c);
    } else if (!strcmp(reason, "denied")) {
        doom_takes_with(r, user_id, 4403, "denied admission", "denied");
        if (c)
            end_wait(c, "denied", 4403, "denied admission");
    } else if (c) {
        end_wait(c, NULL, 1000, "left");
    }
    mm_room_gc(r);
}

void mm_control_settings(long long meeting_id, const json_t *settings)
{
    mm_room *r = mm_room_find(meeting_id);
    json_t *f;

    if (!r || !json_is_object(settings))
        return;
    mm_room_set_settings(r, settings);
    f = mm_frame("settings-changed", meeting_id);
    if (f && r->settings)
        json_object_set(f, "settings", r->settings);
    mm_room_send(r, f, 0);
    json_decref(f);
    for (mm_seat *s = r->seats; s; s = s->next)
        check_share(s);
}

void mm_control_mute(long long meeting_id, long long user_id, long long by_user_id)
{
    mm_seat *s = mm_seat_find(meeting_id, user_id);
    json_t *f;

    if (!s)
        return;
    mm_log("info", "meeting %lld user %lld: asked to mute by %lld", meeting_id, user_id,
           by_user_id);
    s->audio = 0;
    if (s->conn)
        mm_sfu_audio(s->conn, 0);
    f = mm_frame("mute-requested", meeting_id);
    if (f && s->conn) {
        json_object_set_new(f, "by_user_id", json_integer(by_user_id));
        mm_conn_send_json(s->conn, f);
    }
    json_decref(f);
    f = mm_frame_media(s);
    mm_room_send(s->room, f, user_id);
    json_decref(f);
}
