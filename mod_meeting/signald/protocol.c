/* signald: the client protocol (see protocol.h). */
#include "protocol.h"

#include <stdio.h>
#include <string.h>

#include "seats.h"

json_t *mm_frame(const char *type, long long meeting_id)
{
    return json_pack("{s:s, s:I}", "type", type, "meeting_id", (json_int_t)meeting_id);
}

json_t *mm_frame_user(const char *type, long long meeting_id, long long user_id)
{
    return json_pack("{s:s, s:I, s:I}", "type", type, "meeting_id", (json_int_t)meeting_id,
                     "user_id", (json_int_t)user_id);
}

/* A string from the database as JSON; "" if it is not valid UTF-8. */
static json_t *text(const char *s)
{
    json_t *j = json_string(s ? s : "");

    return j ? j : json_string("");
}

/* {user_id, username, nickname, role}, added to obj. */
static int add_profile(json_t *obj, const mm_seat *s)
{
    return json_object_set_new(obj, "user_id", json_integer(s->user_id))
        | json_object_set_new(obj, "username", text(s->username))
        | json_object_set_new(obj, "nickname", text(s->nickname))
        | json_object_set_new(obj, "role", text(s->role));
}

json_t *mm_frame_peer(const char *type, const mm_seat *s)
{
    json_t *f = mm_frame(type, s->room->meeting_id);

    if (f && add_profile(f, s)) {
        json_decref(f);
        return NULL;
    }
    return f;
}

json_t *mm_frame_joined(const mm_seat *self)
{
    json_t *f = mm_frame("joined", self->room->meeting_id);
    json_t *list = json_array();

    if (!f || !list || json_object_set(f, "participants", list)) {
        json_decref(f);
        json_decref(list);
        return NULL;
    }
    for (const mm_seat *s = self->room->seats; s; s = s->next) {
        json_t *p;

        /* Seats in their grace period count: the others still have them. */
        if (s == self || !s->announced)
            continue;
        p = json_object();
        if (!p || add_profile(p, s) || json_array_append_new(list, p)) {
            json_decref(f);
            json_decref(list);
            return NULL;
        }
    }
    json_decref(list);
    return f;
}

void mm_send_error(mm_conn *c, const char *code, const char *message)
{
    json_t *f = mm_frame("error", c->meeting_id);

    if (!f)
        return;
    json_object_set_new(f, "code", json_string(code));
    json_object_set_new(f, "message", json_string(message));
    mm_conn_send_json(c, f);
    json_decref(f);
}

static void invalid(mm_conn *c, const char *message)
{
    mm_send_error(c, "INVALID_MESSAGE", message);
}

/* Says where the parser stopped: client developers need that more than
 * anything. The parser's text may quote the client's bytes, which may not be
 * UTF-8: then the plain message goes. */
static void not_json(mm_conn *c, const json_error_t *err)
{
    char text[JSON_ERROR_TEXT_LENGTH + 64];
    json_t *probe;

    snprintf(text, sizeof(text), "not valid JSON: %s at byte %d", err->text, err->position);
    probe = json_string(text);
    invalid(c, probe ? text : "not valid JSON");
    json_decref(probe);
}

/* offer / answer / ice-candidate: to the named peer only, payload as sent. */
static const char *relay(mm_conn *c, json_t *msg, const char *payload)
{
    json_t *target = json_object_get(msg, "target_user_id");
    json_t *p = json_object_get(msg, payload);
    int is_candidate = !strcmp(payload, "candidate");
    long long to;
    mm_seat *s;

    if (!json_is_integer(target) || json_integer_value(target) <= 0)
        return "target_user_id must be a positive integer";
    if (!p || !(json_is_string(p) || json_is_object(p) || (is_candidate && json_is_null(p))))
        return is_candidate ? "candidate must be an object, a string or null"
                            : "sdp must be a string or an object";
    to = json_integer_value(target);
    s = to == c->user_id ? NULL : mm_seat_find(c->meeting_id, to);
    if (!s || !s->conn) {
        mm_send_error(c, "TARGET_NOT_FOUND", "target_user_id is not connected to this meeting");
        return NULL;
    }
    /* The sender is who the server says it is, whatever the frame claims. */
    if (json_object_set_new(msg, "from_user_id", json_integer(c->user_id))
        || json_object_set_new(msg, "meeting_id", json_integer(c->meeting_id)))
        return "out of memory";
    mm_conn_send_json(s->conn, msg);
    return NULL;
}

static const char *media_state(mm_conn *c, json_t *msg)
{
    static const char *const keys[] = {"audio_enabled", "video_enabled", "screen_sharing"};
    json_t *f;

    for (size_t i = 0; i < 3; i++)
        if (!json_is_boolean(json_object_get(msg, keys[i])))
            return "audio_enabled, video_enabled and screen_sharing must be booleans";
    f = mm_frame_user("media-state", c->meeting_id, c->user_id);
    if (!f)
        return "out of memory";
    for (size_t i = 0; i < 3; i++)
        json_object_set(f, keys[i], json_object_get(msg, keys[i]));
    mm_room_send(c->seat->room, f, c->user_id);
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

static const char *dispatch(mm_conn *c, json_t *msg, const char *type)
{
    if (!strcmp(type, "offer") || !strcmp(type, "answer"))
        return relay(c, msg, "sdp");
    if (!strcmp(type, "ice-candidate"))
        return relay(c, msg, "candidate");
    if (!strcmp(type, "media-state"))
        return media_state(c, msg);
    if (!strcmp(type, "ping"))
        return ping(c);
    if (!strcmp(type, "leave")) {
        mm_seats_leave(c);
        return NULL;
    }
    return "unknown type";
}

void mm_protocol_frame(mm_conn *c, const unsigned char *data, size_t len, int binary)
{
    json_error_t err;
    json_t *msg, *type;
    const char *why;

    if (c->state != MM_CONN_SEATED || !c->seat)
        return;
    if (mm_conn_take_token(c)) {
        mm_send_error(c, "RATE_LIMITED", "too many frames per second");
        return;
    }
    if (binary) {
        invalid(c, "frames must be JSON text");
        return;
    }
    /* Duplicate keys are refused: which target_user_id would be meant? */
    msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    if (!msg) {
        not_json(c, &err);
        return;
    }
    if (!json_is_object(msg)) {
        invalid(c, "a frame must be a JSON object");
        json_decref(msg);
        return;
    }
    type = json_object_get(msg, "type");
    why = json_is_string(type) ? dispatch(c, msg, json_string_value(type))
                               : "type must be a string";
    if (why)
        invalid(c, why);
    json_decref(msg);
}
