/* signald: the rooms held in memory (see rooms.h). */
#define _POSIX_C_SOURCE 200809L
#include "rooms.h"

#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "util.h"

struct sd_rooms {
    /* Rooms by (meeting_id, 0), seats by (meeting_id, user_id). */
    sd_idmap rooms_by_id;
    sd_idmap seats_by_id;
    sd_room *rooms;
    sd_seat *grace;
    size_t nrooms, nseats, nattached;
    unsigned long long serials;
};

int sd_rooms_start(sd_ctx *ctx)
{
    ctx->rooms = calloc(1, sizeof(*ctx->rooms));
    return ctx->rooms ? 0 : -1;
}

sd_room *sd_room_find(const sd_ctx *ctx, long long meeting_id)
{
    return sd_idmap_get(&ctx->rooms->rooms_by_id, meeting_id, 0);
}

sd_room *sd_room_get(sd_ctx *ctx, long long meeting_id)
{
    struct sd_rooms *reg = ctx->rooms;
    sd_room *r = sd_room_find(ctx, meeting_id);

    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ctx = ctx;
    r->meeting_id = meeting_id;
    if (sd_idmap_put(&reg->rooms_by_id, meeting_id, 0, r)) {
        free(r);
        return NULL;
    }
    SD_LIST_PUSH(reg->rooms, r, next, prev);
    reg->nrooms++;
    return r;
}

void sd_room_gc(sd_room *r)
{
    struct sd_rooms *reg;

    if (!r || r->seats || r->takes || r->waiting)
        return;
    reg = r->ctx->rooms;
    json_decref(r->settings);
    sd_idmap_del(&reg->rooms_by_id, r->meeting_id, 0);
    SD_LIST_UNLINK(reg->rooms, r, next, prev);
    reg->nrooms--;
    free(r);
}

sd_room *sd_rooms_first(const sd_ctx *ctx)
{
    return ctx->rooms->rooms;
}

size_t sd_rooms_count(const sd_ctx *ctx)
{
    return ctx->rooms->nrooms;
}

size_t sd_rooms_seat_count(const sd_ctx *ctx)
{
    return ctx->rooms->nseats;
}

size_t sd_rooms_attached_count(const sd_ctx *ctx)
{
    return ctx->rooms->nattached;
}

sd_seat *sd_seat_find(const sd_ctx *ctx, long long meeting_id, long long user_id)
{
    return sd_idmap_get(&ctx->rooms->seats_by_id, meeting_id, user_id);
}

sd_seat *sd_seat_add(sd_room *r, long long user_id)
{
    struct sd_rooms *reg = r->ctx->rooms;
    sd_seat *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->room = r;
    s->serial = ++reg->serials;
    s->user_id = user_id;
    if (sd_idmap_put(&reg->seats_by_id, r->meeting_id, user_id, s)) {
        free(s);
        return NULL;
    }
    s->prev = r->last;
    if (r->last)
        r->last->next = s;
    else
        r->seats = s;
    r->last = s;
    r->nseats++;
    reg->nseats++;
    return s;
}

void sd_seat_ungrace(sd_seat *s)
{
    if (!s->in_grace)
        return;
    SD_LIST_UNLINK(s->room->ctx->rooms->grace, s, gnext, gprev);
    s->in_grace = 0;
}

void sd_seat_remove(sd_seat *s)
{
    sd_room *r = s->room;

    sd_seat_ungrace(s);
    sd_seat_detach(s);
    sd_idmap_del(&r->ctx->rooms->seats_by_id, r->meeting_id, s->user_id);
    if (s->prev)
        s->prev->next = s->next;
    else
        r->seats = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        r->last = s->prev;
    r->nseats--;
    r->ctx->rooms->nseats--;
    free(s->username);
    free(s->nickname);
    free(s->role);
    free(s);
}

/* Replaces *dst with a copy of src ("" for NULL). */
static int set_str(char **dst, const char *src)
{
    char *copy = strdup(src ? src : "");

    if (!copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

int sd_seat_set_profile(sd_seat *s, long long participant_id, const char *username,
                        const char *nickname, const char *role)
{
    s->participant_id = participant_id;
    if (set_str(&s->username, username) || set_str(&s->nickname, nickname))
        return -1;
    return sd_seat_set_role(s, role);
}

int sd_seat_set_role(sd_seat *s, const char *role)
{
    return set_str(&s->role, role);
}

void sd_seat_attach(sd_seat *s, sd_conn *c)
{
    sd_seat_ungrace(s);
    if (!s->conn)
        s->room->ctx->rooms->nattached++;
    s->conn = c;
    c->seat = s;
    c->state = SD_CONN_SEATED;
}

void sd_seat_detach(sd_seat *s)
{
    if (!s->conn)
        return;
    s->conn->seat = NULL;
    s->conn = NULL;
    s->room->ctx->rooms->nattached--;
}

void sd_seat_grace(sd_seat *s, long long until_us)
{
    s->grace_until_us = until_us;
    if (s->in_grace)
        return;
    SD_LIST_PUSH(s->room->ctx->rooms->grace, s, gnext, gprev);
    s->in_grace = 1;
}

sd_seat *sd_grace_list(const sd_ctx *ctx)
{
    return ctx->rooms->grace;
}

void sd_take_link(sd_room *r, sd_take *t)
{
    t->room = r;
    SD_LIST_PUSH(r->takes, t, next, prev);
}

void sd_take_unlink(sd_take *t)
{
    SD_LIST_UNLINK(t->room->takes, t, next, prev);
}

void sd_room_wait(sd_room *r, sd_conn *c)
{
    c->wroom = r;
    SD_LIST_PUSH(r->waiting, c, wnext, wprev);
    c->state = SD_CONN_WAITING;
}

void sd_room_unwait(sd_conn *c)
{
    sd_room *r = c->wroom;

    if (!r)
        return;
    SD_LIST_UNLINK(r->waiting, c, wnext, wprev);
    c->wroom = NULL;
}

sd_conn *sd_room_waiter(sd_room *r, long long user_id)
{
    for (sd_conn *c = r ? r->waiting : NULL; c; c = c->wnext)
        if (c->user_id == user_id)
            return c;
    return NULL;
}

void sd_room_set_settings(sd_room *r, const json_t *settings)
{
    json_t *copy = json_deep_copy(settings);

    if (!copy) {
        sd_log("error", "MM3039: meeting %lld: out of memory", r->meeting_id);
        return;
    }
    json_decref(r->settings);
    r->settings = copy;
    r->screen_share = !json_is_false(json_object_get(copy, "enable_screen_share"));
}

int sd_seat_is_staff(const sd_seat *s)
{
    return s->role && (!strcmp(s->role, "host") || !strcmp(s->role, "moderator"));
}

void sd_room_send_staff(sd_room *r, const json_t *frame)
{
    sd_buf *b;

    if (!r || !(b = sd_buf_json(frame)))
        return;
    for (sd_seat *s = r->seats; s; s = s->next)
        if (s->conn && sd_seat_is_staff(s))
            sd_conn_send(s->conn, b);
    sd_buf_unref(b);
}

void sd_room_send(sd_room *r, const json_t *frame, long long except_user)
{
    sd_buf *b;

    if (!r)
        return;
    /* Serialised once, whatever the number of sockets. */
    b = sd_buf_json(frame);
    if (!b) {
        sd_log("error", "MM3040: meeting %lld: cannot serialise a frame", r->meeting_id);
        return;
    }
    for (sd_seat *s = r->seats; s; s = s->next)
        if (s->conn && s->user_id != except_user)
            sd_conn_send(s->conn, b);
    sd_buf_unref(b);
}
