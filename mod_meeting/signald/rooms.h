/*
 * signald: the rooms held in memory, one per meeting with anyone in it.
 *
 * A room holds seats, takes and waiting sockets. A seat is a user admitted to the room: it has
 * a socket, or it is in its grace period (socket lost, seat kept so that a
 * reconnect is silent). A take is a socket whose ticket was good and whose
 * sd_seat_take has not answered yet; it is kept in its room so that a
 * removal or the end of the meeting heard meanwhile can overrule the answer.
 * A waiting socket belongs to a user in the meeting's waiting room (SPEC.md
 * 6): it holds no seat and hears nothing of the room until admitted.
 * This file is only the registry; seats.c decides who gets in and out, and
 * pgevents.c applies the control events.
 */
#ifndef SD_ROOMS_H
#define SD_ROOMS_H

#include <jansson.h>

#include "context.h"
#include "conn.h"

typedef struct sd_room sd_room;

typedef struct sd_seat {
    sd_room *room;
    unsigned long long serial; /* unique per seat ever made: tells a seat
                                     * from a newer one of the same user */
    long long user_id;
    long long participant_id;
    char *username, *nickname, *role;
    sd_conn *conn; /* NULL while the grace period runs */
    long long grace_until_us;
    unsigned announced : 1; /* the others were sent user-joined */
    unsigned in_grace : 1;
    /* The last media-state, or the start the database gave (mute_on_join). */
    unsigned audio : 1, video : 1, screen : 1;
    struct sd_seat *next, *prev;   /* in the room */
    struct sd_seat *gnext, *gprev; /* in the grace list */
} sd_seat;

typedef struct sd_take {
    sd_room *room;
    sd_conn *conn; /* NULL once its socket closed */
    long long user_id;
    long long gone_us; /* when the socket closed */
    int doom_code;     /* an event overrules a 200: close with this */
    const char *doom_reason;
    const char *doom_frame; /* and first send this frame to a waiting socket */
    unsigned admitted : 1;  /* admitted while the answer was on its way */
    char *role;             /* a role change heard while waiting */
    struct sd_take *next, *prev;
} sd_take;

struct sd_room {
    sd_ctx *ctx; /* the context whose registry holds it */
    long long meeting_id;
    sd_seat *seats; /* in the order they were taken */
    sd_seat *last;
    size_t nseats;
    sd_take *takes;
    sd_conn *waiting;            /* the waiting sockets (->wnext) */
    json_t *settings;            /* the meeting's five settings, once known */
    unsigned screen_share : 1;   /* settings' enable_screen_share */
    struct sd_room *next, *prev; /* every room */
};

/* Makes the registry (ctx->rooms). -1 when out of memory. */
int sd_rooms_start(sd_ctx *ctx);

sd_room *sd_room_find(const sd_ctx *ctx, long long meeting_id);

/* Finds or creates. NULL when out of memory. */
sd_room *sd_room_get(sd_ctx *ctx, long long meeting_id);

/* Frees the room once it holds neither seats nor takes nor waiting sockets. */
void sd_room_gc(sd_room *r);

/* The first room, for walking them all (->next). */
sd_room *sd_rooms_first(const sd_ctx *ctx);

/* Counts kept as rooms and seats come and go, for the status file. */
size_t sd_rooms_count(const sd_ctx *ctx);
size_t sd_rooms_seat_count(const sd_ctx *ctx);
/* Seats with a socket (->conn set through sd_seat_attach, not yet cleared
 * through sd_seat_detach or sd_seat_remove). */
size_t sd_rooms_attached_count(const sd_ctx *ctx);

sd_seat *sd_seat_find(const sd_ctx *ctx, long long meeting_id, long long user_id);

/* A new seat without a socket. NULL when out of memory. */
sd_seat *sd_seat_add(sd_room *r, long long user_id);

/* Unlinks and frees the seat (and its grace entry); detaches its socket, if
 * any, without closing it. Does not free the room. */
void sd_seat_remove(sd_seat *s);

/* Copies the profile sd_seat_take returned. -1 when out of memory. */
int sd_seat_set_profile(sd_seat *s, long long participant_id, const char *username,
                        const char *nickname, const char *role);
int sd_seat_set_role(sd_seat *s, const char *role);

/* Binds socket and seat to each other (ends any grace period). */
void sd_seat_attach(sd_seat *s, sd_conn *c);

/* Unbinds the seat's socket, if any, without closing it. */
void sd_seat_detach(sd_seat *s);

/* Starts (or moves) the seat's grace period; the socket must be detached. */
void sd_seat_grace(sd_seat *s, long long until_us);

/* Ends the grace period without attaching a socket (the seat is being
 * given back). */
void sd_seat_ungrace(sd_seat *s);

/* The seats in their grace period, linked by ->gnext (unordered). */
sd_seat *sd_grace_list(const sd_ctx *ctx);

void sd_take_link(sd_room *r, sd_take *t);
void sd_take_unlink(sd_take *t);

/* Puts the socket in the room's waiting list (SD_CONN_WAITING), or takes it
 * out (its state is then the caller's to set). */
void sd_room_wait(sd_room *r, sd_conn *c);
void sd_room_unwait(sd_conn *c);

/* The waiting socket of the user, or NULL. */
sd_conn *sd_room_waiter(sd_room *r, long long user_id);

/* Replaces the room's settings with a copy of settings (a JSON object). */
void sd_room_set_settings(sd_room *r, const json_t *settings);

/* Whether the seat's role may share a screen when the settings forbid it. */
int sd_seat_is_staff(const sd_seat *s);

/* Sends a frame to every seat of the room that has a socket, except the
 * user except_user (0: nobody excepted). */
void sd_room_send(sd_room *r, const json_t *frame, long long except_user);

/* Sends a frame to the seats with a socket whose role is host or moderator. */
void sd_room_send_staff(sd_room *r, const json_t *frame);

#endif
