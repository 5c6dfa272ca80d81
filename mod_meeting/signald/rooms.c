/* signald: the rooms held in memory (see rooms.h). */
#define _POSIX_C_SOURCE 200809L
#include "rooms.h"

#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "util.h"

/* Rooms by (meeting_id, 0), seats by (meeting_id, user_id). */
static mm_idmap rooms_by_id = MM_IDMAP_INIT;
static mm_idmap seats_by_id = MM_IDMAP_INIT;
static mm_room *rooms;
static mm_seat *grace;
static size_t nrooms, nseats, nattached;
static unsigned long long serials;

mm_room *mm_room_find(long long meeting_id)
{
    return mm_idmap_get(&rooms_by_id, meeting_id, 0);
}

mm_room *mm_room_get(long long meeting_id)
{
    mm_room *r = mm_room_find(meeting_id);

    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->meeting_id = meeting_id;
    if (mm_idmap_put(&rooms_by_id, meeting_id, 0, r)) {
        free(r);
        return NULL;
    }
    r->next = rooms;
    if (rooms)
        rooms->prev = r;
    rooms = r;
    nrooms++;
    return r;
}

void mm_room_gc(mm_room *r)
{
    if (!r || r->seats || r->takes || r->waiting)
        return;
    json_decref(r->settings);
    mm_idmap_del(&rooms_by_id, r->meeting_id, 0);
    if (r->prev)
        r->prev->next = r->next;
    else
        rooms = r->next;
    if (r->next)
        r->next->prev = r->prev;
    nrooms--;
    free(r);
}

mm_room *mm_rooms_first(void)
{
    return rooms;
}

size_t mm_rooms_count(void)
{
    return nrooms;
}

size_t mm_rooms_seat_count(void)
{
    return nseats;
}

size_t mm_rooms_attached_count(void)
{
    return nattached;
}

mm_seat *mm_seat_find(long long meeting_id, long long user_id)
{
    return mm_idmap_get(&seats_by_id, meeting_id, user_id);
}

mm_seat *mm_seat_add(mm_room *r, long long user_id)
{
    mm_seat *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->room = r;
    s->serial = ++serials;
    s->user_id = user_id;
    if (mm_idmap_put(&seats_by_id, r->meeting_id, user_id, s)) {
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
    nseats++;
    return s;
}

void mm_seat_ungrace(mm_seat *s)
{
    if (!s->in_grace)
        return;
    if (s->gprev)
        s->gprev->gnext = s->gnext;
    else
        grace = s->gnext;
    if (s->gnext)
        s->gnext->gprev = s->gprev;
    s->gnext = s->gprev = NULL;
    s->in_grace = 0;
}

void mm_seat_remove(mm_seat *s)
{
    mm_room *r = s->room;

    mm_seat_ungrace(s);
    mm_seat_detach(s);
    mm_idmap_del(&seats_by_id, r->meeting_id, s->user_id);
    if (s->prev)
        s->prev->next = s->next;
    else
        r->seats = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        r->last = s->prev;
    r->nseats--;
    nseats--;
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

int mm_seat_set_profile(mm_seat *s, long long participant_id, const char *username,
                        const char *nickname, const char *role)
{
    s->participant_id = participant_id;
    if (set_str(&s->username, username) || set_str(&s->nickname, nickname))
        return -1;
    return mm_seat_set_role(s, role);
}

int mm_seat_set_role(mm_seat *s, const char *role)
{
    return set_str(&s->role, role);
}

void mm_seat_attach(mm_seat *s, mm_conn *c)
{
    mm_seat_ungrace(s);
    if (!s->conn)
        nattached++;
    s->conn = c;
    c->seat = s;
    c->state = MM_CONN_SEATED;
}

void mm_seat_detach(mm_seat *s)
{
    if (!s->conn)
        return;
    s->conn->seat = NULL;
    s->conn = NULL;
    nattached--;
}

void mm_seat_grace(mm_seat *s, long long until_us)
{
    s->grace_until_us = until_us;
    if (s->in_grace)
        return;
    s->gnext = grace;
    s->gprev = NULL;
    if (grace)
        grace->gprev = s;
    grace = s;
    s->in_grace = 1;
}

mm_seat *mm_grace_list(void)
{
    return grace;
}

void mm_take_link(mm_room *r, mm_take *t)
{
    t->room = r;
    t->prev = NULL;
    t->next = r->takes;
    if (r->takes)
        r->takes->prev = t;
    r->takes = t;
}

void mm_take_unlink(mm_take *t)
{
    mm_room *r = t->room;

    if (t->prev)
        t->prev->next = t->next;
    else
        r->takes = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

void mm_room_wait(mm_room *r, mm_conn *c)
{
    c->wroom = r;
    c->wprev = NULL;
    c->wnext = r->waiting;
    if (r->waiting)
        r->waiting->wprev = c;
    r->waiting = c;
    c->state = MM_CONN_WAITING;
}

void mm_room_unwait(mm_conn *c)
{
    mm_room *r = c->wroom;

    if (!r)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        r->waiting = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wnext = c->wprev = NULL;
    c->wroom = NULL;
}

mm_conn *mm_room_waiter(mm_room *r, long long user_id)
{
    for (mm_conn *c = r ? r->waiting : NULL; c; c = c->wnext)
        if (c->user_id == user_id)
            return c;
    return NULL;
}

void mm_room_set_settings(mm_room *r, const json_t *settings)
{
    json_t *copy = json_deep_copy(settings);

    if (!copy) {
        mm_log("error", "meeting %lld: out of memory", r->meeting_id);
        return;
    }
    json_decref(r->settings);
    r->settings = copy;
    r->screen_share = !json_is_false(json_object_get(copy, "enable_screen_share"));
}

int mm_seat_is_staff(const mm_seat *s)
{
    return s->role && (!strcmp(s->role, "host") || !strcmp(s->role, "moderator"));
}

void mm_room_send_staff(mm_room *r, const json_t *frame)
{
    mm_buf *b;

    if (!r || !(b = mm_buf_json(frame)))
        return;
    for (mm_seat *s = r->seats; s; s = s->next)
        if (s->conn && mm_seat_is_staff(s))
            mm_conn_send(s->conn, b);
    mm_buf_unref(b);
}

void mm_room_send(mm_room *r, const json_t *frame, long long except_user)
{
    mm_buf *b;

    if (!r)
        return;
    /* Serialised once, whatever the number of sockets. */
    b = mm_buf_json(frame);
    if (!b) {
        mm_log("error", "meeting %lld: cannot serialise a frame", r->meeting_id);
        return;
    }
    for (mm_seat *s = r->seats; s; s = s->next)
        if (s->conn && s->user_id != except_user)
            mm_conn_send(s->conn, b);
    mm_buf_unref(b);
}
