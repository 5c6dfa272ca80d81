/* signald: who holds a seat (see seats.h). */
#include "seats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "node.h"
#include "options.h"
#include "pq.h"
#include "rooms.h"
#include "sfu.h"
#include "util.h"

/* sd_seat_take under this node's placement (node.h): 307 when the meeting
 * lives on another node, whose URL is node_url. */
static const char SQL_TAKE[] = "SELECT code, participant_id, role, username, nickname,"
                               " settings, audio_enabled, video_enabled, node_url"
                               " FROM mm_seat_take_on($1::bigint, $2::bigint, $3::bigint, $4)";
static const char SQL_RELEASE[] = "SELECT mm_seat_release($1::bigint, $2::bigint)";
static const char SQL_RENEW[] = "SELECT mm_seat_renew($1::bigint[], $2::bigint[])";
static const char SQL_WAIT_LEAVE[] = "SELECT mm_waiting_leave($1::bigint, $2::bigint)";

/* Seats per sd_seat_renew statement: keeps each statement small. */
#define RENEW_BATCH 500
/* Room for one id in an array literal: a separator and 20 digits. */
#define ID_CHARS 21

/* Two bigint[] literals, "{1,2,3}", built side by side. */
typedef struct {
    char m[RENEW_BATCH * ID_CHARS + 2], u[RENEW_BATCH * ID_CHARS + 2];
    size_t mlen, ulen, n;
} batch;

struct sd_seats {
    sd_ctx *ctx;
    lws_sorted_usec_list_t renew_sul;
    int shutting_down;
    /* Asks for a reconciliation with the database (pgevents.c, given by main). */
    void (*reconcile)(sd_ctx *ctx);
    batch renewal; /* the renewal being built */
};

/* A renewal out: how many seats it asked for. */
typedef struct {
    sd_ctx *ctx;
    long long sent;
} renewal;

/* A seat being given back: sd_seat_release has not answered yet. */
typedef struct sd_leave {
    sd_ctx *ctx;
    sd_conn *conn; /* the socket that sent leave, if still open */
    long long meeting_id, user_id;
    unsigned long long serial; /* the seat being given back */
} sd_leave;

static void ids(char m[24], char u[24], long long meeting_id, long long user_id)
{
    snprintf(m, 24, "%lld", meeting_id);
    snprintf(u, 24, "%lld", user_id);
}

/* Drops the seat from its room and tells the others, if they knew of it. */
static void vacate(sd_seat *s)
{
    sd_room *r = s->room;
    long long user_id = s->user_id;
    int announced = s->announced;

    sd_seat_remove(s);
    if (announced) {
        json_t *f = sd_frame_user("user-left", r->meeting_id, user_id);

        sd_room_send(r, f, 0);
        json_decref(f);
    }
    sd_room_gc(r);
}

/* A frame of the waiting room's ({type, meeting_id}) to one socket. */
static void send_frame(sd_conn *c, const char *type)
{
    json_t *f = sd_frame(type, c->meeting_id);

    if (f)
        sd_conn_send_json(c, f);
    json_decref(f);
}

static void send_joined(sd_seat *s)
{
    json_t *f = sd_frame_joined(s, sd_sfu_enabled(s->room->ctx));

    if (f)
        sd_conn_send_json(s->conn, f);
    json_decref(f);
    if (s->announced)
        return;
    /* First time the others hear of this user (a reconnect is silent). */
    s->announced = 1;
    f = sd_frame_peer("user-joined", s);
    sd_room_send(s->room, f, s->user_id);
    json_decref(f);
    if (s->audio)
        return;
    /* mute_on_join: the others learn at once that the newcomer is muted. */
    f = sd_frame_media(s);
    sd_room_send(s->room, f, s->user_id);
    json_decref(f);
}

/* The newer socket replaces the older: the user stays, so no user-left. */
static void replace(sd_seat *s, sd_conn *c)
{
    sd_conn *old = s->conn;

    if (old && old != c) {
        sd_seat_detach(s);
        sd_log("info", "MM3041: meeting %lld user %lld: replaced by a newer connection",
               s->room->meeting_id, s->user_id);
        sd_conn_close(old, 4409, "replaced by a newer connection");
    }
    sd_seat_attach(s, c);
}

/* sd_seat_take said 200. c is NULL when the socket closed while waiting: the
 * seat is ours all the same, so it gets the grace period a dropped socket
 * gets (and is released quietly if nobody comes back). */
static void seat(sd_take *t, sd_conn *c, const PGresult *res)
{
    sd_room *r = t->room;
    sd_seat *s = sd_seat_find(r->ctx, r->meeting_id, t->user_id);

    if (!s && (s = sd_seat_add(r, t->user_id)) != NULL) {
        /* A new seat starts as the database says (mute_on_join); a kept one
         * (a reconnect) as its user last said. */
        s->audio = PQgetvalue(res, 0, 6)[0] == 't';
        s->video = PQgetvalue(res, 0, 7)[0] == 't';
    }
    if (!s) {
        if (c)
            sd_conn_close(c, 1011, "out of memory");
        return;
    }
    if (sd_seat_set_profile(s, atoll(PQgetvalue(res, 0, 1)), PQgetvalue(res, 0, 3),
                            PQgetvalue(res, 0, 4), t->role ? t->role : PQgetvalue(res, 0, 2)))
        sd_log("error", "MM3042: meeting %lld user %lld: out of memory", r->meeting_id, t->user_id);
    if (!c) {
        long long until = t->gone_us + (long long)r->ctx->cfg->grace * SD_US;

        if (!s->conn && (!s->in_grace || s->grace_until_us < until))
            sd_seat_grace(s, until);
        return;
    }
    replace(s, c);
    sd_log("info", "MM3043: meeting %lld user %lld: seated", r->meeting_id, t->user_id);
    if (c->was_waiting) {
        c->was_waiting = 0;
        send_frame(c, "admitted");
    }
    send_joined(s);
    sd_sfu_seated(c);
}

static void refuse(sd_conn *c, int code, long long meeting_id)
{
    static const struct {
        int db, close;
        const char *why, *waiting_frame;
    } map[] = {
        {401, 4401, "ticket revoked by a log-out", NULL},
        {403, 4403, "not a member of this meeting", "denied"},
        {410, 4410, "meeting is not ongoing", "meeting-ended"},
        {429, 4429, "meeting is full", "admitted"},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].db == code) {
            sd_log("info", "MM3044: meeting %lld user %lld: refused: %s", meeting_id, c->user_id,
                   map[i].why);
            /* A waiting socket learns first how its wait ended. */
            if (c->was_waiting && map[i].waiting_frame)
                send_frame(c, map[i].waiting_frame);
            sd_conn_close(c, map[i].close, map[i].why);
            return;
        }
    sd_log("error", "MM3045: meeting %lld: mm_seat_take answered %d", meeting_id, code);
    sd_conn_close(c, 1011, "unexpected answer from the database");
}

/* The meeting's settings as the answer gave them, unless the room knows
 * them already: an event about a later change may have come first. */
static void learn_settings(sd_room *r, const PGresult *res)
{
    json_t *settings;

    if (r->settings || PQgetisnull(res, 0, 5))
        return;
    settings = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
    if (json_is_object(settings))
        sd_room_set_settings(r, settings);
    json_decref(settings);
}

/* sd_seat_take said 202: the user waits for admission. A newer socket of the
 * same user replaces an older one, as for seats. */
static void wait_admission(sd_take *t, sd_conn *c)
{
    sd_conn *old = sd_room_waiter(t->room, c->user_id);

    if (old && old != c) {
        sd_room_unwait(old);
        sd_conn_close(old, 4409, "replaced by a newer connection");
    }
    sd_room_wait(t->room, c);
    if (!c->was_waiting) {
        c->was_waiting = 1;
        sd_log("info", "MM3046: meeting %lld user %lld: waiting for admission", c->meeting_id,
               c->user_id);
        send_frame(c, "waiting");
    }
    /* Admitted while the answer was on its way: it is out of date. */
    if (t->admitted)
        sd_seats_retake(c);
}

/* An event overruled the answer: the socket goes. */
static void doomed(sd_take *t, sd_conn *c)
{
    if (t->doom_frame)
        send_frame(c, t->doom_frame);
    sd_conn_close(c, t->doom_code, t->doom_reason);
}

/* The answer of sd_seat_take. */
static void took(void *arg, const PGresult *res)
{
    sd_take *t = arg;
    sd_room *r = t->room;
    sd_conn *c = t->conn;
    int code = res && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;

    sd_take_unlink(t);
    if (c) {
        c->take = NULL;
        lws_rx_flow_control(c->wsi, 1);
        if (c->close_code) {
            /* Closing anyway (shutdown): as if already gone. */
            t->gone_us = sd_conn_last_alive(c);
            c = NULL;
        }
    }
    if (res && (code == 200 || code == 202))
        learn_settings(r, res);
    if (!res || r->ctx->seats->shutting_down) {
        if (c)
            sd_conn_close(c, 1013, "database unavailable, try again");
    } else if ((code == 200 || code == 202) && t->doom_code) {
        /* Removed, denied, ended or left while the answer was on its way. */
        if (c)
            doomed(t, c);
    } else if (code == 200) {
        seat(t, c, res);
    } else if (code == 202) {
        if (c)
            wait_admission(t, c);
    } else if (code == 307) {
        if (c) {
            sd_log("info",
                   "MM3047: meeting %lld user %lld: refused: it lives on another node (%.120s)",
                   r->meeting_id, c->user_id, PQgetvalue(res, 0, 8));
            sd_conn_close(c, SD_CLOSE_MOVED, sd_node_reason(c->ctx, PQgetvalue(res, 0, 8)));
        }
    } else if (c) {
        refuse(c, code, r->meeting_id);
    }
    free(t->role);
    free(t);
    sd_room_gc(r);
}

/* Sends c's sd_seat_take in room r. When it cannot be sent, c is closed
 * with 1013 and -1 returned: the room is then the caller's to collect. */
static int take(sd_room *r, sd_conn *c)
{
    sd_take *t = calloc(1, sizeof(*t));
    char m[24], u[24], g[24];
    const char *params[4] = {m, u, g, r->ctx->cfg->node};

    ids(m, u, c->meeting_id, c->user_id);
    snprintf(g, sizeof(g), "%lld", c->gen);
    if (!t || sd_db_send(r->ctx->db, SQL_TAKE, 4, params, took, t)) {
        free(t);
        sd_log("warn", "MM3048: meeting %lld user %lld: database unavailable", c->meeting_id,
               c->user_id);
        sd_conn_close(c, 1013, "database unavailable, try again");
        return -1;
    }
    t->conn = c;
    t->user_id = c->user_id;
    sd_take_link(r, t);
    c->take = t;
    c->state = SD_CONN_PENDING;
    /* Nothing the client sends means anything before it is seated. */
    lws_rx_flow_control(c->wsi, 0);
    return 0;
}

void sd_seats_connect(sd_conn *c)
{
    sd_room *r = sd_room_get(c->ctx, c->meeting_id);

    if (!r) {
        sd_log("error", "MM3049: meeting %lld: out of memory", c->meeting_id);
        sd_conn_close(c, 1011, "out of memory");
    } else if (take(r, c)) {
        sd_room_gc(r);
    }
}

void sd_seats_retake(sd_conn *c)
{
    sd_room *r = c->wroom;

    sd_room_unwait(c);
    take(r, c);
}

void sd_seats_recheck_waiting(sd_ctx *ctx)
{
    sd_room *r = sd_rooms_first(ctx), *rnext;

    for (; r; r = rnext) {
        sd_conn *c = r->waiting, *next;

        rnext = r->next;
        for (; c; c = next) {
            next = c->wnext;
            sd_seats_retake(c);
        }
        sd_room_gc(r); /* a retake that could not be sent left it empty */
    }
}

static void expire(sd_seat *s, long long now_us);

void sd_seats_disconnect(sd_conn *c)
{
    sd_seat *s = c->seat;

    if (c->take) {
        c->take->conn = NULL;
        c->take->gone_us = sd_conn_last_alive(c);
        c->take = NULL;
    }
    if (c->leaving)
        c->leaving->conn = NULL;
    if (c->wroom) {
        /* Still waiting in the database: a reconnect waits on. */
        sd_room *r = c->wroom;

        sd_room_unwait(c);
        sd_room_gc(r);
    }
    if (!s)
        return;
    sd_seat_detach(s);
    /* A leaving seat is vacated by given_back(), with no grace period. */
    if (c->ctx->seats->shutting_down || c->leaving)
        return;
    /* Counted from the last sign of life: a socket that went silent before
     * it was closed has used up part of its grace already. */
    sd_seat_grace(s, sd_conn_last_alive(c) + (long long)c->ctx->cfg->grace * SD_US);
    sd_log("info", "MM3050: meeting %lld user %lld: socket lost, seat kept for the grace period",
           s->room->meeting_id, s->user_id);
    /* A socket closed for silence may have used up its grace already. Only
     * this seat: the others are the sweep's, once a second (looking at all
     * of them here made a mass disconnect quadratic). */
    expire(s, sd_mono_us());
}

/* The seat is back (or the database is away: its lease lapses by itself).
 * Only now do the others hear user-left and a leaving client get its 1000,
 * so that whoever asks the REST API next sees the user offline. */
static void given_back(void *arg, const PGresult *res)
{
    sd_leave *l = arg;
    sd_seat *s = sd_seat_find(l->ctx, l->meeting_id, l->user_id);

    (void)res;
    /* Not if another socket of the user took the seat over meanwhile. */
    if (s && s->serial == l->serial && (!s->conn || s->conn == l->conn))
        vacate(s);
    if (l->conn) {
        l->conn->leaving = NULL;
        sd_conn_close(l->conn, 1000, "left");
    }
    free(l);
}

/* Releases the seat in the database, then vacates it. c is the socket that
 * sent leave, or NULL when a grace period ran out. A reconnect meanwhile
 * queues its sd_seat_take behind the release, so it takes a fresh seat. */
static void give_back(sd_seat *s, sd_conn *c)
{
    char m[24], u[24];
    const char *params[2] = {m, u};
    sd_leave *l = calloc(1, sizeof(*l));

    sd_seat_ungrace(s);
    ids(m, u, s->room->meeting_id, s->user_id);
    if (!l || sd_db_send(s->room->ctx->db, SQL_RELEASE, 2, params, given_back, l)) {
        sd_log("warn", "MM3051: meeting %lld user %lld: database away, seat left to its lease",
               s->room->meeting_id, s->user_id);
        free(l);
        vacate(s);
        if (c)
            sd_conn_close(c, 1000, "left");
        return;
    }
    l->ctx = s->room->ctx;
    l->conn = c;
    l->meeting_id = s->room->meeting_id;
    l->user_id = s->user_id;
    l->serial = s->serial;
    if (c)
        c->leaving = l;
}

/* sd_waiting_leave answered (or the database is away: the user then stays
 * waiting there, and a join again finds them so). */
static void stopped_waiting(void *arg, const PGresult *res)
{
    sd_leave *l = arg;

    (void)res;
    if (l->conn) {
        l->conn->leaving = NULL;
        sd_conn_close(l->conn, 1000, "left");
    }
    free(l);
}

/* A waiting socket sent leave: its user stops waiting, then it is closed. */
static void leave_waiting(sd_conn *c)
{
    sd_room *r = c->wroom;
    char m[24], u[24];
    const char *params[2] = {m, u};
    sd_leave *l = calloc(1, sizeof(*l));

    sd_log("info", "MM3052: meeting %lld user %lld: left the waiting room", c->meeting_id,
           c->user_id);
    sd_room_unwait(c);
    c->state = SD_CONN_CLOSING;
    ids(m, u, c->meeting_id, c->user_id);
    if (!l || sd_db_send(c->ctx->db, SQL_WAIT_LEAVE, 2, params, stopped_waiting, l)) {
        sd_log("warn", "MM3053: meeting %lld user %lld: database away, still waiting there",
               c->meeting_id, c->user_id);
        free(l);
        sd_conn_close(c, 1000, "left");
    } else {
        l->conn = c;
        c->leaving = l;
    }
    sd_room_gc(r);
}

void sd_seats_leave(sd_conn *c)
{
    if (c->state == SD_CONN_WAITING && !c->leaving) {
        leave_waiting(c);
        return;
    }
    if (!c->seat || c->leaving)
        return;
    sd_log("info", "MM3054: meeting %lld user %lld: left", c->meeting_id, c->user_id);
    c->state = SD_CONN_CLOSING; /* nothing it sends counts any more */
    give_back(c->seat, c);
}

/* A socket of this user is waiting for sd_seat_take: a reconnect whose
 * answer would come after a release queued now, and find no seat. */
static int reconnecting(const sd_seat *s)
{
    for (const sd_take *t = s->room->takes; t; t = t->next)
        if (t->user_id == s->user_id && t->conn)
            return 1;
    return 0;
}

/* Gives the seat back if its grace period is over, unless its user is
 * reconnecting right now. */
static void expire(sd_seat *s, long long now_us)
{
    if (s->grace_until_us > now_us || reconnecting(s))
        return;
    sd_log("info", "MM3055: meeting %lld user %lld: grace period over, seat released",
           s->room->meeting_id, s->user_id);
    give_back(s, NULL);
}

void sd_seats_sweep(sd_ctx *ctx, long long now_us)
{
    sd_seat *s = sd_grace_list(ctx), *next;

    for (; s; s = next) {
        next = s->gnext;
        expire(s, now_us);
    }
}

/* A count short of the batch means some seats were not renewed: a removal or
 * an end the LISTEN connection missed. Reconciling finds out which. */
static void renewed(void *arg, const PGresult *res)
{
    renewal *rn = arg;

    if (res && PQntuples(res) == 1 && atoll(PQgetvalue(res, 0, 0)) < rn->sent)
        rn->ctx->seats->reconcile(rn->ctx);
    free(rn);
}

static void batch_send(struct sd_seats *st)
{
    batch *b = &st->renewal;
    const char *params[2] = {b->m, b->u};
    renewal *rn = malloc(sizeof(*rn));

    memcpy(b->m + b->mlen, "}", 2);
    memcpy(b->u + b->ulen, "}", 2);
    if (rn) {
        rn->ctx = st->ctx;
        rn->sent = (long long)b->n;
    }
    if (!rn || sd_db_send(st->ctx->db, SQL_RENEW, 2, params, renewed, rn)) {
        free(rn);
        sd_log("warn", "MM3056: lease renewal skipped: database unavailable");
    }
    b->mlen = b->ulen = b->n = 0;
}

static void batch_add(struct sd_seats *st, long long meeting_id, long long user_id)
{
    batch *b = &st->renewal;
    char sep = b->n ? ',' : '{';

    b->mlen += (size_t)snprintf(b->m + b->mlen, ID_CHARS + 1, "%c%lld", sep, meeting_id);
    b->ulen += (size_t)snprintf(b->u + b->ulen, ID_CHARS + 1, "%c%lld", sep, user_id);
    if (++b->n == RENEW_BATCH)
        batch_send(st);
}

/* One sd_seat_renew per RENEW_BATCH live sockets. Seats in their grace period
 * are not renewed: their lease must not outlive the grace. */
static void renew(struct sd_seats *st)
{
    for (sd_room *r = sd_rooms_first(st->ctx); r; r = r->next)
        for (sd_seat *s = r->seats; s; s = s->next)
            if (s->conn)
                batch_add(st, r->meeting_id, s->user_id);
    if (st->renewal.n)
        batch_send(st);
}

static void renew_tick(lws_sorted_usec_list_t *sul)
{
    struct sd_seats *st = lws_container_of(sul, struct sd_seats, renew_sul);

    if (!st->shutting_down)
        renew(st);
    lws_sul_schedule(st->ctx->lws, 0, &st->renew_sul, renew_tick,
                     (long long)st->ctx->cfg->renew_interval * SD_US);
}

int sd_seats_start(sd_ctx *ctx, void (*missed)(sd_ctx *ctx))
{
    struct sd_seats *st = calloc(1, sizeof(*st));

    if (!st)
        return -1;
    st->ctx = ctx;
    st->reconcile = missed;
    ctx->seats = st;
    lws_sul_schedule(ctx->lws, 0, &st->renew_sul, renew_tick,
                     (long long)ctx->cfg->renew_interval * SD_US);
    return 0;
}

void sd_seats_shutdown(sd_ctx *ctx)
{
    ctx->seats->shutting_down = 1;
    lws_sul_cancel(&ctx->seats->renew_sul);
}
