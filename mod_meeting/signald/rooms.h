/*
 * signald: the rooms held in memory, one per meeting with anyone in it.
 *
 * A room holds seats, takes and waiting sockets. A seat is a user admitted to the room: it has
 * a socket, or it is in its grace period (socket lost, seat kept so that a
 * reconnect is silent). A take is a socket whose ticket was good and whose
 * mm_seat_take has not answered yet; it is kept in its room so that a
 * removal or the end of the meeting heard meanwhile can overrule the answer.
 * A waiting socket belongs to a user in the meeting's waiting room (SPEC.md
 * 6): it holds no seat and hears nothing of the room until admitted.
 * This file is only the registry; seats.c decides who gets in and out, and
 * pgevents.c applies the control events.
 */
#ifndef MM_SIG_ROOMS_H
#define MM_SIG_ROOMS_H

#include <jansson.h>

#include "conn.h"

typedef struct mm_room mm_room;

typedef struct mm_seat {
    mm_room *room;
    unsigned long long serial;      /* unique per seat ever made: tells a seat
                                     * from a newer one of the same user */
    long long user_id;
    long long participant_id;
    char *username, *nickname, *role;
    mm_conn *conn;                  /* NULL while the grace period runs */
    long long grace_until_us;
    unsigned announced : 1;         /* the others were sent user-joined */
    unsigned in_grace : 1;
    /* The last media-state, or the start the database gave (mute_on_join). */
    unsigned audio : 1, video : 1, screen : 1;
    struct mm_seat *next, *prev;    /* in the room */
    struct mm_seat *gnext, *gprev;  /* in the grace list */
} mm_seat;

typedef struct mm_take {
    mm_room *room;
    mm_conn *conn;                  /* NULL once its socket closed */
    long long user_id;
    long long gone_us;              /* when the socket closed */
    int doom_code;                  /* an event overrules a 200: close with this */
    const char *doom_reason;
    const char *doom_frame;         /* and first send this frame to a waiting socket */
    unsigned admitted : 1;          /* admitted while the answer was on its way */
    char *role;                     /* a role change heard while waiting */
    struct mm_take *next, *prev;
} mm_take;

struct mm_room {
    long long meeting_id;
    mm_seat *seats;                 /* in the order they were taken */
    mm_seat *last;
    size_t nseats;
    mm_take *takes;
    mm_conn *waiting;               /* the waiting sockets (->wnext) */
    json_t *settings;               /* the meeting's five settings, once known */
    unsigned screen_share : 1;      /* settings' enable_screen_share */
    struct mm_room *next, *prev;    /* every room */
};

mm_room *mm_room_find(long long meeting_id);

/* Finds or creates. NULL when out of memory. */
mm_room *mm_room_get(long long meeting_id);

/* Frees the room once it holds neither seats nor takes nor waiting sockets. */
void mm_room_gc(mm_room *r);

/* The first room, for walking them all (->next). */
mm_room *mm_rooms_first(void);

/* Counts kept as rooms and seats come and go, for the status file. */
size_t mm_rooms_count(void);
size_t mm_rooms_seat_count(void);
/* Seats with a socket (->conn set through mm_seat_attach, not yet cleared
 * through mm_seat_detach or mm_seat_remove). */
size_t mm_rooms_attached_count(void);

mm_seat *mm_seat_find(long long meeting_id, long long user_id);

/* A new seat without a socket. NULL when out of memory. */
mm_seat *mm_seat_add(mm_room *r, long long user_id);

/* Unlinks and frees the seat (and its grace entry); detaches its socket, if
 * any, without closing it. Does not free the room. */
void mm_seat_remove(mm_seat *s);

/* Copies the profile mm_seat_take returned. -1 when out of memory. */
int mm_seat_set_profile(mm_seat *s, long long participant_id, const char *username,
                        const char *nickname, const char *role);
int mm_seat_set_role(mm_seat *s, const char *role);

/* Binds socket and seat to each other (ends any grace period). */
void mm_seat_attach(mm_seat *s, mm_conn *c);

/* Unbinds the seat's socket, if any, without closing it. */
void mm_seat_detach(mm_seat *s);

/* Starts (or moves) the seat's grace period; the socket must be detached. */
void mm_seat_grace(mm_seat *s, long long until_us);

/* Ends the grace period without attaching a socket (the seat is being
 * given back). */
void mm_seat_ungrace(mm_seat *s);

/* The seats in their grace period, linked by ->gnext (unordered). */
mm_seat *mm_grace_list(void);

void mm_take_link(mm_room *r, mm_take *t);
void mm_take_unlink(mm_take *t);

/* Puts the socket in the room's waiting list (MM_CONN_WAITING), or takes it
 * out (its state is then the caller's to set). */
void mm_room_wait(mm_room *r, mm_conn *c);
void mm_room_unwait(mm_conn *c);

/* The waiting socket of the user, or NULL. */
mm_conn *mm_room_waiter(mm_room *r, long long user_id);

/* Replaces the room's settings with a copy of settings (a JSON object). */
void mm_room_set_settings(mm_room *r, const json_t *settings);

/* Whether the seat's role may share a screen when the settings forbid it. */
int mm_seat_is_staff(const mm_seat *s);

/* Sends a frame to every seat of the room that has a socket, except the
 * user except_user (0: nobody excepted). */
void mm_room_send(mm_room *r, const json_t *frame, long long except_user);

/* Sends a frame to the seats with a socket whose role is host or moderator. */
void mm_room_send_staff(mm_room *r, const json_t *frame);

#endif
