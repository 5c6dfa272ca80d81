/* signald: the server's frames (see frames.h). */
#include "frames.h"

json_t *sd_frame(const char *type, long long meeting_id)
{
    return json_pack("{s:s, s:I}", "type", type, "meeting_id", (json_int_t)meeting_id);
}

json_t *sd_frame_user(const char *type, long long meeting_id, long long user_id)
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
static int add_profile(json_t *obj, const sd_seat *s)
{
    return json_object_set_new(obj, "user_id", json_integer(s->user_id))
           | json_object_set_new(obj, "username", text(s->username))
           | json_object_set_new(obj, "nickname", text(s->nickname))
           | json_object_set_new(obj, "role", text(s->role));
}

json_t *sd_frame_peer(const char *type, const sd_seat *s)
{
    json_t *f = sd_frame(type, s->room->meeting_id);

    if (f && add_profile(f, s)) {
        json_decref(f);
        return NULL;
    }
    return f;
}

json_t *sd_frame_joined(const sd_seat *self, int sfu)
{
    json_t *f = sd_frame("joined", self->room->meeting_id);
    json_t *list = json_array();

    if (!f || !list || json_object_set(f, "participants", list)
        || json_object_set_new(
            f, "settings", self->room->settings ? json_incref(self->room->settings) : json_object())
        || json_object_set_new(f, "media", json_string(sfu ? "sfu" : "mesh"))
        || json_object_set_new(f, "audio_enabled", json_boolean(self->audio))) {
        json_decref(f);
        json_decref(list);
        return NULL;
    }
    for (const sd_seat *s = self->room->seats; s; s = s->next) {
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

json_t *sd_frame_media(const sd_seat *s)
{
    json_t *f = sd_frame_user("media-state", s->room->meeting_id, s->user_id);

    if (f
        && (json_object_set_new(f, "audio_enabled", json_boolean(s->audio))
            || json_object_set_new(f, "video_enabled", json_boolean(s->video))
            || json_object_set_new(f, "screen_sharing", json_boolean(s->screen)))) {
        json_decref(f);
        return NULL;
    }
    return f;
}

void sd_send_error(sd_conn *c, const char *code, const char *message)
{
    json_t *f = sd_frame("error", c->meeting_id);

    if (!f)
        return;
    json_object_set_new(f, "code", json_string(code));
    json_object_set_new(f, "message", json_string(message));
    sd_conn_send_json(c, f);
    json_decref(f);
}
