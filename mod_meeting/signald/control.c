/* signald: control events applied to rooms (see control.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "control.h"

#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "rooms.h"
#include "sfu.h"
#include "util.h"

/* Sockets still waiting for mm_seat_take may get a 200 that was decided
 * before this event committed: the event wins when the answer comes. */
static void doom_takes(mm_room *r, long long user_id, int code, const char *reason)
{
    for (mm_take *t = r->takes; t; t = t->next)
        if (!user_id || t->user_id == user_id) {
            t->doom_code = code;
            t->doom_reason = reason;
        }
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
    doom_takes(r, 0, 4410, "meeting ended");
    f = mm_frame("meeting-ended", meeting_id);
    mm_room_send(r, f, 0);
    json_decref(f);
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
}

void mm_control_push(long long meeting_id, const json_t *frame)
{
    mm_room_send(mm_room_find(meeting_id), frame, 0);
}
