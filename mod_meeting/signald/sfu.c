/* signald: media through the SFU (see sfu.h). */
#define _POSIX_C_SOURCE 200809L
#include "sfu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq.h"
#include "idmap.h"
#include "options.h"
#include "janus.h"
#include "frames.h"
#include "rooms.h"
#include "util.h"

#define PLUGIN "janus.plugin.videoroom"
/* Janus ends a session that is silent for session_timeout (60 s). */
#define KEEPALIVE_US (25 * SD_US)
/* VideoRoom publishers per room (Janus's default is 3): every participant
 * publishes (a microphone at least), so a room takes as many publishers as
 * its meeting takes participants (max_participants, 1..1000). This is the
 * number when the database cannot say (it is away). */
#define ROOM_PUBLISHERS 100
/* The description of a published screen (Janus's "descriptions"): the
 * subscribers' streams carry it back as feed_description. */
#define SCREEN_DESCRIPTION "screen"
#define ROOM_BITRATE 512000
/* Candidates kept per connection until its handle or offer exists: a
 * browser gathers a handful; more is not a browser. */
#define ICE_QUEUE_MAX 64
/* Janus's error codes that mean "already so". */
#define JANUS_ROOM_EXISTS 427
#define JANUS_ID_EXISTS 436

typedef enum { ROOM_NONE, ROOM_LOOKUP, ROOM_CREATING, ROOM_READY } room_state;

/* The meeting's VideoRoom as signald knows it. */
typedef struct sroom {
    sd_ctx *ctx;
    long long meeting_id;
    room_state state;
    int publishers;            /* the meeting's max_participants; 0 until known */
    json_t *feeds;             /* {"<user_id>": true} publishing with media up */
    struct sroom *next, *prev; /* every room known here */
} sroom;

typedef struct sd_sfu_peer {
    sd_ctx *ctx;
    sd_conn *conn;
    long long meeting_id, user_id;
    long long session, pub, sub; /* Janus ids, 0 until made */
    long long keepalive_us;
    json_t *offer;               /* sfu-publish waiting to go to Janus */
    json_t *sent;                /* the one Janus is answering */
    json_t *wanted, *subscribed; /* {"<user_id>": true}, or "<user_id>:<mid>" for
                                     * one stream added to a feed already taken */
    json_t *ice[2];              /* candidates sent before their handle existed */
    char audio_mid[16];          /* of the published audio, "" if none */
    char screen_mid[16];         /* of the published screen, "" if none */
    unsigned making : 1;         /* a session or handle is being made */
    unsigned pub_busy : 1, joined : 1, publishing : 1, retried : 1;
    unsigned sub_busy : 1, sub_joined : 1, offer_out : 1;
    unsigned audio_off : 1;
    unsigned screen_off : 1; /* the settings stopped the screen at the SFU */
} peer;

enum { PUB = 0, SUB = 1 };

static const char SQL_CAPACITY[] =
    "SELECT max_participants FROM meetings WHERE meeting_id = $1::bigint AND status = 'ongoing'";
/* With more than one node, each Janus holds the rooms of its own node's
 * meetings (docs/cluster.md); one not placed yet may land here. */
static const char SQL_ONGOING[] =
    "SELECT meeting_id, max_participants FROM meetings WHERE status = 'ongoing'"
    " AND (node_id IS NULL OR node_id = $1)";
/* Made only when a media server is configured: ctx->sfu NULL is the mesh. */
struct sd_sfu {
    sd_ctx *ctx;
    sd_idmap rooms; /* sroom by (meeting_id, 0) */
    sroom *room_list;
    /* Told of each room (re)made at Janus: the recording on the SFU (sfu_record.c). */
    void (*on_room_ready)(sd_ctx *ctx, long long meeting_id);
    sd_idmap sessions; /* peer by (session, 0) */
    long long admin_session, admin_handle, admin_keepalive_us;
};

/* An SQL_CAPACITY out for the meeting. */
typedef struct {
    sd_ctx *ctx;
    long long meeting_id;
} capacity;

/* A list of Janus's rooms out; ongoing as list_rooms was given it. */
typedef struct {
    sd_ctx *ctx;
    json_t *ongoing;
} listing;

static void advance(peer *p);
static void feed_changed(peer *p, int up);

void sd_sfu_on_room_ready(sd_ctx *ctx, void (*fn)(sd_ctx *ctx, long long meeting_id))
{
    ctx->sfu->on_room_ready = fn;
}

int sd_sfu_enabled(const sd_ctx *ctx)
{
    return ctx->sfu != NULL;
}

/* {janus, session_id[, handle_id]} */
static json_t *request(const char *kind, long long session, long long handle)
{
    json_t *r = json_pack("{s:s}", "janus", kind);

    if (r && session)
        json_object_set_new(r, "session_id", json_integer(session));
    if (r && handle)
        json_object_set_new(r, "handle_id", json_integer(handle));
    return r;
}

/* A VideoRoom message; body and jsep (may be NULL) are taken. */
static json_t *message(long long session, long long handle, json_t *body, json_t *jsep)
{
    json_t *r = request("message", session, handle);

    if (r) {
        json_object_set_new(r, "body", body);
        if (jsep)
            json_object_set_new(r, "jsep", jsep);
    } else {
        json_decref(body);
        json_decref(jsep);
    }
    return r;
}

/* A handle of the VideoRoom on session; cb gets its id. */
static int attach(sd_ctx *ctx, long long session, sd_janus_cb cb, void *arg)
{
    json_t *a = request("attach", session, 0);

    json_object_set_new(a, "plugin", json_string(PLUGIN));
    return sd_janus_send(ctx, a, 0, cb, arg);
}

/* A browser's candidate (borrowed; JSON null: the end of them) to handle. */
static void trickle(sd_ctx *ctx, long long session, long long handle, json_t *cand)
{
    json_t *t = request("trickle", session, handle);

    if (t)
        json_object_set(t, json_is_null(cand) ? "completed" : "candidate",
                        json_is_null(cand) ? json_true() : cand);
    sd_janus_send(ctx, t, 1, NULL, NULL);
}

/* The plugin's answer in reply, or NULL with *why (and *code) set. */
static json_t *answer(json_t *reply, const char **why, int *code)
{
    const char *kind = json_string_value(json_object_get(reply, "janus"));
    json_t *data = json_object_get(json_object_get(reply, "plugindata"), "data");
    json_t *err;

    *code = 0;
    if (!reply) {
        *why = "the media server went away";
        return NULL;
    }
    if (kind && !strcmp(kind, "error")) {
        err = json_object_get(reply, "error");
        *code = (int)json_integer_value(json_object_get(err, "code"));
        *why = json_string_value(json_object_get(err, "reason"));
        *why = *why ? *why : "refused by the media server";
        return NULL;
    }
    if (json_object_get(data, "error_code")) {
        *code = (int)json_integer_value(json_object_get(data, "error_code"));
        *why = json_string_value(json_object_get(data, "error"));
        *why = *why ? *why : "refused by the media server";
        return NULL;
    }
    *why = NULL;
    return data ? data : reply;
}

/* The id of the session or handle Janus made (reply to create, attach), or 0
 * with *why set when it refused (NULL when it gave no id). */
static long long made_id(json_t *reply, const char **why)
{
    int code;

    if (!answer(reply, why, &code))
        return 0;
    return json_integer_value(json_object_get(json_object_get(reply, "data"), "id"));
}

static void send_error(peer *p, const char *code, const char *message)
{
    if (p->conn)
        sd_send_error(p->conn, code, message);
}

/* ---- the meeting's VideoRoom ---- */

int sd_sfu_room_request(sd_ctx *ctx, json_t *body, sd_janus_cb cb, void *arg)
{
    struct sd_sfu *sfu = ctx->sfu;

    if (!sfu || !sfu->admin_handle) {
        json_decref(body);
        return -1;
    }
    return sd_janus_send(ctx, message(sfu->admin_session, sfu->admin_handle, body, NULL), 0, cb,
                         arg);
}

/* The VideoRoom request that takes the user's publisher out of the room. */
static json_t *kick_body(long long meeting_id, long long user_id)
{
    return json_pack("{s:s, s:I, s:I}", "request", "kick", "room", (json_int_t)meeting_id, "id",
                     (json_int_t)user_id);
}

static sroom *room_find(const sd_ctx *ctx, long long meeting_id)
{
    return sd_idmap_get(&ctx->sfu->rooms, meeting_id, 0);
}

static sroom *room_get(sd_ctx *ctx, long long meeting_id)
{
    struct sd_sfu *sfu = ctx->sfu;
    sroom *r = room_find(ctx, meeting_id);

    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (!r || !(r->feeds = json_object()) || sd_idmap_put(&sfu->rooms, meeting_id, 0, r)) {
        if (r)
            json_decref(r->feeds);
        free(r);
        return NULL;
    }
    r->ctx = ctx;
    r->meeting_id = meeting_id;
    SD_LIST_PUSH(sfu->room_list, r, next, prev);
    return r;
}

static void room_free(sroom *r)
{
    struct sd_sfu *sfu = r->ctx->sfu;

    SD_LIST_UNLINK(sfu->room_list, r, next, prev);
    sd_idmap_del(&sfu->rooms, r->meeting_id, 0);
    sd_janus_forget(r->ctx, r);
    json_decref(r->feeds);
    free(r);
}

static sd_seat *seats_of(const sd_ctx *ctx, long long meeting_id)
{
    sd_room *r = sd_room_find(ctx, meeting_id);

    return r ? r->seats : NULL;
}

/* Every peer of the meeting connected to this signald. */
#define FOR_PEERS(ctx, meeting_id, p)                                \
    for (sd_seat *s_ = seats_of(ctx, meeting_id); s_; s_ = s_->next) \
        if (s_->conn && (p = s_->conn->sfu) != NULL)

static void room_ready(sroom *r)
{
    void (*ready)(sd_ctx *, long long) = r->ctx->sfu->on_room_ready;
    peer *p;

    r->state = ROOM_READY;
    FOR_PEERS(r->ctx, r->meeting_id, p)
    advance(p);
    if (ready)
        ready(r->ctx, r->meeting_id);
}

static void created(void *arg, json_t *reply)
{
    sroom *r = arg;
    const char *why;
    int code;

    if (answer(reply, &why, &code) || code == JANUS_ROOM_EXISTS) {
        sd_log("info", "MM3057: meeting %lld: media server room ready", r->meeting_id);
        room_ready(r);
        return;
    }
    r->state = ROOM_NONE;
    sd_log("warn", "MM0456: meeting %lld: the media server did not create the room: %s",
           r->meeting_id, why);
}

static void room_create(sroom *r)
{
    json_t *body;

    body = json_pack("{s:s, s:I, s:i, s:i, s:s, s:s, s:b, s:s}", "request", "create", "room",
                     (json_int_t)r->meeting_id, "publishers",
                     r->publishers > 0 ? r->publishers : ROOM_PUBLISHERS, "bitrate", ROOM_BITRATE,
                     "audiocodec", "opus", "videocodec", "vp8", "notify_joining", 0, "description",
                     "mod_meeting");
    r->state = ROOM_NONE;
    if (sd_sfu_room_request(r->ctx, body, created, r) == 0)
        r->state = ROOM_CREATING;
}

static void room_ensure(sroom *r);

/* The answer of SQL_CAPACITY for the meeting whose id arg points to: the
 * room is made with the meeting's max_participants as its publishers, or
 * not at all for a meeting that is not ongoing. The database away: made
 * with ROOM_PUBLISHERS (a seat here says the meeting was ongoing). */
static void capacity_known(void *arg, const PGresult *res)
{
    capacity *c = arg;
    sroom *r = room_find(c->ctx, c->meeting_id);

    free(c);
    if (!r || r->state != ROOM_LOOKUP)
        return;
    r->state = ROOM_NONE;
    if (res && PQntuples(res) == 0) {
        sd_log("info", "MM3058: meeting %lld: not ongoing, no media server room", r->meeting_id);
        return;
    }
    r->publishers = res ? atoi(PQgetvalue(res, 0, 0)) : ROOM_PUBLISHERS;
    room_ensure(r);
}

/* Creates the meeting's VideoRoom unless it exists or is being made; its
 * size is asked of the database first when the start event did not bring
 * it (the room is made on first use). */
static void room_ensure(sroom *r)
{
    sd_db *db = r->ctx->db;
    capacity *arg;
    char id[24];
    const char *params[1] = {id};

    if (r->state != ROOM_NONE || !r->ctx->sfu->admin_handle)
        return;
    if (!r->publishers && db && sd_db_ready(db) && (arg = malloc(sizeof(*arg)))) {
        arg->ctx = r->ctx;
        arg->meeting_id = r->meeting_id;
        snprintf(id, sizeof(id), "%lld", r->meeting_id);
        if (sd_db_send(db, SQL_CAPACITY, 1, params, capacity_known, arg) == 0) {
            r->state = ROOM_LOOKUP;
            return;
        }
        free(arg);
    }
    room_create(r);
}

static void admin_answered(void *arg, json_t *reply)
{
    const char *why;
    int code;

    (void)arg;
    if (reply && !answer(reply, &why, &code))
        sd_log("info", "MM0459: the media server refused a request: %d %s", code, why);
}

/* A VideoRoom request on the admin handle whose answer nobody waits for. */
static void admin_request(sd_ctx *ctx, json_t *body)
{
    sd_sfu_room_request(ctx, body, admin_answered, NULL);
}

static void room_destroy(sd_ctx *ctx, long long meeting_id)
{
    admin_request(ctx,
                  json_pack("{s:s, s:I}", "request", "destroy", "room", (json_int_t)meeting_id));
}

int sd_sfu_room_ready(const sd_ctx *ctx, long long meeting_id)
{
    sroom *r = ctx->sfu ? room_find(ctx, meeting_id) : NULL;

    return r && ctx->sfu->admin_handle && r->state == ROOM_READY;
}

const char *sd_sfu_refusal(json_t *reply)
{
    const char *why;
    int code;

    return answer(reply, &why, &code) ? NULL : why;
}

/* ---- peers ---- */

static void key(char buf[24], long long id)
{
    snprintf(buf, 24, "%lld", id);
}

/* Janus forgot the peer (restart, timeout): it starts again from nothing. */
static void peer_reset(peer *p)
{
    if (p->session)
        sd_idmap_del(&p->ctx->sfu->sessions, p->session, 0);
    sd_janus_forget(p->ctx, p);
    p->session = p->pub = p->sub = 0;
    p->making = p->pub_busy = p->joined = p->publishing = p->retried = 0;
    p->sub_busy = p->sub_joined = p->offer_out = p->screen_off = 0;
    json_object_clear(p->subscribed);
    json_object_clear(p->wanted);
    json_decref(p->offer);
    json_decref(p->sent);
    p->offer = p->sent = NULL;
    for (int i = 0; i < 2; i++)
        json_array_clear(p->ice[i]);
    p->audio_mid[0] = p->screen_mid[0] = '\0';
}

/* p's Janus session goes, and p with it (its socket no longer has it). */
static void peer_free(peer *p)
{
    p->conn->sfu = NULL;
    if (p->session) {
        sd_janus_send(p->ctx, request("destroy", p->session, 0), 1, NULL, NULL);
        sd_idmap_del(&p->ctx->sfu->sessions, p->session, 0);
    }
    sd_janus_forget(p->ctx, p);
    json_decref(p->offer);
    json_decref(p->sent);
    json_decref(p->wanted);
    json_decref(p->subscribed);
    json_decref(p->ice[PUB]);
    json_decref(p->ice[SUB]);
    free(p);
}

static peer *peer_of(sd_conn *c)
{
    peer *p = c->sfu;

    if (p)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->ctx = c->ctx;
    p->conn = c;
    c->sfu = p;
    p->meeting_id = c->meeting_id;
    p->user_id = c->user_id;
    p->wanted = json_object();
    p->subscribed = json_object();
    p->ice[PUB] = json_array();
    p->ice[SUB] = json_array();
    if (!p->wanted || !p->subscribed || !p->ice[PUB] || !p->ice[SUB]) {
        peer_free(p);
        return NULL;
    }
    return p;
}

/* The feeds of others with media up become wanted by p. */
static void want_feeds(peer *p)
{
    sroom *r = room_find(p->ctx, p->meeting_id);
    const char *k;
    json_t *v;
    char self[24];

    if (!r)
        return;
    key(self, p->user_id);
    json_object_foreach(r->feeds, k,
                        v) if (strcmp(k, self) != 0 && !json_object_get(p->subscribed, k))
        json_object_set(p->wanted, k, json_true());
}

static void got_session(void *arg, json_t *reply)
{
    peer *p = arg;
    const char *why;

    p->making = 0;
    if (!(p->session = made_id(reply, &why))) {
        send_error(p, "SFU_UNAVAILABLE", why ? why : "no session on the media server");
        return;
    }
    p->keepalive_us = sd_mono_us();
    sd_idmap_put(&p->ctx->sfu->sessions, p->session, 0, p);
    advance(p);
}

/* Sends the candidates that waited for the handle of side. */
static void flush_ice(peer *p, int side)
{
    size_t i;
    json_t *cand;

    json_array_foreach(p->ice[side], i, cand)
        trickle(p->ctx, p->session, side == PUB ? p->pub : p->sub, cand);
    json_array_clear(p->ice[side]);
}

static void attached(peer *p, json_t *reply, int side)
{
    const char *why;
    long long handle = made_id(reply, &why);

    p->making = 0;
    if (!handle) {
        send_error(p, "SFU_UNAVAILABLE", why ? why : "cannot attach to the media server");
        return;
    }
    if (side == PUB)
        p->pub = handle;
    else
        p->sub = handle;
    advance(p);
}

static void attached_pub(void *arg, json_t *reply)
{
    attached(arg, reply, PUB);
}

static void attached_sub(void *arg, json_t *reply)
{
    attached(arg, reply, SUB);
}

/* The mid of the first audio section of an SDP, for moderate. */
static void find_audio_mid(const char *sdp, char *mid, size_t cap)
{
    const char *m = sdp ? strstr(sdp, "m=audio") : NULL;
    const char *next, *a;
    size_t n;

    mid[0] = '\0';
    if (!m)
        return;
    next = strstr(m + 1, "\nm=");
    a = strstr(m, "a=mid:");
    if (!a || (next && a > next))
        return;
    a += 6;
    n = strcspn(a, "\r\n");
    if (n < cap) {
        memcpy(mid, a, n);
        mid[n] = '\0';
    }
}

/* A publisher's stream is forwarded or not (Janus's moderate). */
static void moderate(peer *p, const char *mid, int mute)
{
    admin_request(p->ctx, json_pack("{s:s, s:I, s:I, s:s, s:b}", "request", "moderate", "room",
                                    (json_int_t)p->meeting_id, "id", (json_int_t)p->user_id, "mid",
                                    mid, "mute", mute));
}

/* The SFU forwards p's audio or not, as its last media-state says. */
static void apply_audio(peer *p)
{
    if (p->publishing && p->audio_mid[0])
        moderate(p, p->audio_mid, p->audio_off);
}

static void send_sdp(peer *p, const char *type, json_t *jsep, json_t *streams)
{
    json_t *f;

    if (!p->conn || !(f = sd_frame(type, p->meeting_id))) {
        json_decref(streams);
        return;
    }
    json_object_set(f, "sdp", json_object_get(jsep, "sdp"));
    if (streams)
        json_object_set_new(f, "streams", streams);
    sd_conn_send_json(p->conn, f);
    json_decref(f);
}

/* p published a screen on a feed the others may have taken already: Janus
 * does not add a new stream of a feed to its subscribers by itself, so
 * those who have the feed subscribe to that one stream too. */
static void screen_added(peer *p)
{
    peer *o;
    char feed[24], stream[48];

    key(feed, p->user_id);
    snprintf(stream, sizeof(stream), "%s:%s", feed, p->screen_mid);
    FOR_PEERS(p->ctx, p->meeting_id, o)
    if (o != p && json_object_get(o->subscribed, feed) && !json_object_get(o->subscribed, stream)) {
        json_object_set(o->wanted, stream, json_true());
        advance(o);
    }
}

static void kicked_then_retry(void *arg, json_t *reply)
{
    (void)reply;
    advance(arg);
}

static void published(void *arg, json_t *reply)
{
    peer *p = arg;
    json_t *data, *jsep = json_object_get(reply, "jsep");
    const char *why;
    int code;

    p->pub_busy = 0;
    data = answer(reply, &why, &code);
    if (!data && code == JANUS_ID_EXISTS && !p->retried && !p->offer) {
        /* The user's previous socket's publisher has not left yet: it is
         * kicked, and the offer goes again. */
        p->retried = 1;
        p->offer = p->sent;
        p->sent = NULL;
        sd_sfu_room_request(p->ctx, kick_body(p->meeting_id, p->user_id), kicked_then_retry, p);
        return;
    }
    json_decref(p->sent);
    p->sent = NULL;
    if (!data || !json_is_object(jsep)) {
        send_error(p, reply ? "SFU_REFUSED" : "SFU_UNAVAILABLE",
                   why ? why : "the media server gave no answer");
        advance(p);
        return;
    }
    p->joined = 1;
    p->publishing = 1;
    send_sdp(p, "sfu-answer", jsep, NULL);
    find_audio_mid(json_string_value(json_object_get(jsep, "sdp")), p->audio_mid,
                   sizeof(p->audio_mid));
    if (p->audio_off)
        apply_audio(p);
    if (p->screen_off && p->screen_mid[0]) {
        /* A share the settings allow again (sfu_publish checked): forwarded. */
        p->screen_off = 0;
        moderate(p, p->screen_mid, 0);
    }
    if (p->screen_mid[0])
        screen_added(p);
    advance(p);
}

/* The browser's offer goes to Janus: the first one joins the room and
 * publishes at once, a later one renegotiates (configure). */
static void publish(peer *p)
{
    json_t *body, *jsep;
    const char *req = !p->joined ? "joinandconfigure" : p->publishing ? "configure" : "publish";
    char display[24];

    key(display, p->user_id);
    body = json_pack("{s:s, s:I, s:s, s:I, s:s}", "request", req, "room", (json_int_t)p->meeting_id,
                     "ptype", "publisher", "id", (json_int_t)p->user_id, "display", display);
    if (p->screen_mid[0])
        json_object_set_new(
            body, "descriptions",
            json_pack("[{s:s, s:s}]", "mid", p->screen_mid, "description", SCREEN_DESCRIPTION));
    jsep = json_pack("{s:s, s:O}", "type", "offer", "sdp", p->offer);
    json_decref(p->sent);
    p->sent = p->offer;
    p->offer = NULL;
    if (sd_janus_send(p->ctx, message(p->session, p->pub, body, jsep), 0, published, p) == 0) {
        p->pub_busy = 1;
        flush_ice(p, PUB);
    }
}

/* Janus's streams of a subscriber offer, as the client needs them:
 * [{mid, user_id, kind, active, screen}]. */
static json_t *streams_of(json_t *data)
{
    json_t *out = json_array(), *st;
    size_t i;

    json_array_foreach(json_object_get(data, "streams"), i, st)
    {
        const char *type = json_string_value(json_object_get(st, "type"));
        json_t *feed = json_object_get(st, "feed_id");
        const char *about = json_string_value(json_object_get(st, "feed_description"));

        if (!type || !strcmp(type, "data") || !json_is_integer(feed))
            continue;
        json_array_append_new(out,
                              json_pack("{s:O, s:O, s:s, s:b, s:b}", "mid",
                                        json_object_get(st, "mid"), "user_id", feed, "kind", type,
                                        "active", !json_is_false(json_object_get(st, "active")),
                                        "screen", about && !strcmp(about, SCREEN_DESCRIPTION)));
    }
    return out;
}

/* An offer of Janus for the downstream connection: to the browser. */
static void sub_offer(peer *p, json_t *data, json_t *jsep)
{
    p->sub_joined = 1;
    p->offer_out = 1;
    send_sdp(p, "sfu-offer", jsep, streams_of(data));
}

static void subscribed(void *arg, json_t *reply)
{
    peer *p = arg;
    json_t *data, *jsep = json_object_get(reply, "jsep");
    const char *why;
    int code;

    p->sub_busy = 0;
    data = answer(reply, &why, &code);
    if (!data) {
        /* A feed that has gone meanwhile: it is no longer wanted either. */
        sd_log("info", "MM3059: meeting %lld user %lld: subscription refused: %s", p->meeting_id,
               p->user_id, why);
        advance(p);
        return;
    }
    if (json_is_object(jsep))
        sub_offer(p, data, jsep);
    advance(p);
}

/* The wanted feeds go into the downstream connection: join the first time,
 * subscribe later. */
static void subscribe(peer *p)
{
    json_t *streams = json_array(), *v, *body;
    const char *k;

    json_object_foreach(p->wanted, k, v)
    {
        const char *mid = strchr(k, ':');
        json_t *st = json_pack("{s:I}", "feed", (json_int_t)atoll(k));

        if (mid)
            json_object_set_new(st, "mid", json_string(mid + 1));
        json_array_append_new(streams, st);
        json_object_set(p->subscribed, k, json_true());
    }
    json_object_clear(p->wanted);
    if (!p->sub_joined)
        body = json_pack("{s:s, s:I, s:s, s:o}", "request", "join", "room",
                         (json_int_t)p->meeting_id, "ptype", "subscriber", "streams", streams);
    else
        body = json_pack("{s:s, s:o}", "request", "subscribe", "streams", streams);
    if (sd_janus_send(p->ctx, message(p->session, p->sub, body, NULL), 0, subscribed, p) == 0)
        p->sub_busy = 1;
}

static void started(void *arg, json_t *reply)
{
    peer *p = arg;
    const char *why;
    int code;

    p->sub_busy = 0;
    if (!answer(reply, &why, &code))
        send_error(p, "SFU_REFUSED", why);
    advance(p);
}

/* Makes what p needs next, one request at a time: the room, a session, a
 * handle, the publication, the subscription. */
static void advance(peer *p)
{
    sroom *r;

    if (!sd_janus_is_up(p->ctx) || p->making || !p->conn)
        return;
    r = room_get(p->ctx, p->meeting_id);
    if (!r)
        return;
    if (r->state != ROOM_READY) {
        room_ensure(r);
        return;
    }
    if (!p->session) {
        if (p->offer || json_object_size(p->wanted))
            p->making = !sd_janus_send(p->ctx, request("create", 0, 0), 0, got_session, p);
        return;
    }
    if (p->offer && !p->pub_busy) {
        if (!p->pub) {
            p->making = !attach(p->ctx, p->session, attached_pub, p);
            return;
        }
        publish(p);
    }
    if (json_object_size(p->wanted) && !p->sub_busy && !p->offer_out) {
        if (!p->sub) {
            p->making = !attach(p->ctx, p->session, attached_sub, p);
            return;
        }
        subscribe(p);
    }
}

/* ---- frames from the browser ---- */

static const char *sfu_publish(peer *p, const sd_msg *m)
{
    sd_seat *s = p->conn->seat;

    if (m->screen_mid && s && !s->room->screen_share && !sd_seat_is_staff(s)) {
        sd_send_error(p->conn, "SCREEN_SHARE_DISABLED",
                      "screen sharing is turned off for this meeting");
        return "";
    }
    snprintf(p->screen_mid, sizeof(p->screen_mid), "%s", m->screen_mid ? m->screen_mid : "");
    json_decref(p->offer);
    p->offer = json_incref(m->payload);
    p->retried = 0;
    find_audio_mid(json_string_value(m->payload), p->audio_mid, sizeof(p->audio_mid));
    advance(p);
    return NULL;
}

static const char *sfu_subscribe_answer(peer *p, const sd_msg *m)
{
    json_t *jsep;

    if (!p->offer_out || !p->sub)
        return "no sfu-offer is waiting for an answer";
    p->offer_out = 0;
    jsep = json_pack("{s:s, s:O}", "type", "answer", "sdp", m->payload);
    if (sd_janus_send(p->ctx,
                      message(p->session, p->sub, json_pack("{s:s}", "request", "start"), jsep), 0,
                      started, p)
        == 0) {
        p->sub_busy = 1;
        flush_ice(p, SUB);
    }
    return NULL;
}

static const char *sfu_ice(peer *p, const sd_msg *m)
{
    int side = m->sfu_target;
    long long handle = side == PUB ? p->pub : p->sub;

    if (!handle || (side == PUB && p->offer && !p->pub_busy)) {
        /* The handle or the offer is on its way: the candidate follows it
         * (Janus itself keeps candidates that come before the offer's
         * answer is made). */
        if (json_array_size(p->ice[side]) >= ICE_QUEUE_MAX)
            return "too many candidates before the offer";
        json_array_append(p->ice[side], m->payload);
        return NULL;
    }
    trickle(p->ctx, p->session, handle, m->payload);
    return NULL;
}

/* Janus hangs the upstream connection up, and the hangup event takes the
 * feed away from the others. */
static const char *sfu_unpublish(peer *p)
{
    if (!p->publishing)
        return "nothing is published";
    p->publishing = 0;
    sd_janus_send(p->ctx,
                  message(p->session, p->pub, json_pack("{s:s}", "request", "unpublish"), NULL), 0,
                  NULL, NULL);
    return NULL;
}

const char *sd_sfu_frame(sd_conn *c, const sd_msg *m)
{
    peer *p;

    if (!sd_sfu_enabled(c->ctx))
        return "this meeting's media goes peer to peer (\"media\": \"mesh\"), not through an SFU";
    if (!sd_janus_is_up(c->ctx)) {
        sd_send_error(c, "SFU_UNAVAILABLE", "the media server is not reachable; try again");
        return "";
    }
    if (!(p = peer_of(c)))
        return "out of memory";
    switch (m->type) {
    case SD_SFU_PUBLISH:
        return sfu_publish(p, m);
    case SD_SFU_SUBSCRIBE_ANSWER:
        return sfu_subscribe_answer(p, m);
    case SD_SFU_ICE:
        return sfu_ice(p, m);
    case SD_SFU_UNPUBLISH:
        return sfu_unpublish(p);
    default:
        return "unknown type";
    }
}

void sd_sfu_seated(sd_conn *c)
{
    peer *p;

    if (!sd_sfu_enabled(c->ctx) || !(p = peer_of(c)))
        return;
    /* mute_on_join: no audio forwarded until the user unmutes. */
    p->audio_off = c->seat && !c->seat->audio;
    want_feeds(p);
    advance(p);
}

void sd_sfu_audio(sd_conn *c, int on)
{
    peer *p = c->sfu;

    if (!p || p->audio_off == !on)
        return;
    p->audio_off = !on;
    apply_audio(p);
}

void sd_sfu_screen_stop(sd_conn *c)
{
    peer *p = c->sfu;

    if (p && p->publishing && p->screen_mid[0]) {
        p->screen_off = 1;
        moderate(p, p->screen_mid, 1);
    }
}

void sd_sfu_closed(sd_conn *c)
{
    peer *p = c->sfu;

    if (!p)
        return;
    /* Janus's hangup of this publisher will find no peer: its feed goes
     * now, so the others take the user's next socket's feed again. */
    feed_changed(p, 0);
    peer_free(p);
}

void sd_sfu_removed(sd_ctx *ctx, long long meeting_id, long long user_id)
{
    sroom *r;
    char k[24];

    if (!sd_sfu_enabled(ctx))
        return;
    r = room_find(ctx, meeting_id);
    key(k, user_id);
    if (r)
        json_object_del(r->feeds, k);
    sd_log("info", "MM3060: meeting %lld user %lld: kicked from the media server room", meeting_id,
           user_id);
    admin_request(ctx, kick_body(meeting_id, user_id));
}

void sd_sfu_ended(sd_ctx *ctx, long long meeting_id)
{
    sroom *r;
    peer *p;

    if (!sd_sfu_enabled(ctx))
        return;
    r = room_find(ctx, meeting_id);
    /* Its sockets are being closed: their sessions go now, so no late
     * answer of Janus to one of them makes the room again. */
    FOR_PEERS(ctx, meeting_id, p)
    peer_free(p);
    if (r)
        room_free(r);
    sd_log("info", "MM3061: meeting %lld: media server room destroyed", meeting_id);
    room_destroy(ctx, meeting_id);
}

/* ---- Janus's own events ---- */

/* The feed's key, and those of its single streams ("<feed>:<mid>"), out of
 * set. */
static void forget_feed(json_t *set, const char *feed)
{
    size_t n = strlen(feed);
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(set, tmp, k,
                             v) if (!strncmp(k, feed, n) && (k[n] == '\0' || k[n] == ':'))
        json_object_del(set, k);
}

/* p's feed has media up (or lost it): the others subscribe (Janus drops a
 * gone feed from their downstream connections itself). */
static void feed_changed(peer *p, int up)
{
    sroom *r = room_find(p->ctx, p->meeting_id);
    peer *o;
    char k[24];

    if (!r)
        return;
    key(k, p->user_id);
    if (!up) {
        json_object_del(r->feeds, k);
        FOR_PEERS(p->ctx, p->meeting_id, o)
        forget_feed(o->subscribed, k);
        return;
    }
    json_object_set(r->feeds, k, json_true());
    FOR_PEERS(p->ctx, p->meeting_id, o)
    if (o != p && !json_object_get(o->subscribed, k)) {
        json_object_set(o->wanted, k, json_true());
        advance(o);
    }
}

static void trickle_out(peer *p, int side, json_t *ev)
{
    json_t *f = sd_frame("sfu-ice", p->meeting_id);
    json_t *cand = json_object_get(ev, "candidate");

    if (!f || !p->conn) {
        json_decref(f);
        return;
    }
    json_object_set_new(f, "target", json_string(side == PUB ? "publisher" : "subscriber"));
    json_object_set_new(f, "candidate",
                        json_is_true(json_object_get(cand, "completed")) || !cand
                            ? json_null()
                            : json_incref(cand));
    sd_conn_send_json(p->conn, f);
    json_decref(f);
}

static void on_plugin_event(peer *p, int side, json_t *ev)
{
    json_t *data = json_object_get(json_object_get(ev, "plugindata"), "data");
    json_t *jsep = json_object_get(ev, "jsep");
    const char *what = json_string_value(json_object_get(data, "videoroom"));

    /* Janus renegotiates the downstream connection when a feed goes. */
    if (side == SUB && json_is_object(jsep) && what && !strcmp(what, "updated"))
        sub_offer(p, data, jsep);
}

static void on_event(void *arg, json_t *ev)
{
    sd_ctx *ctx = arg;
    const char *kind = json_string_value(json_object_get(ev, "janus"));
    long long session = json_integer_value(json_object_get(ev, "session_id"));
    long long sender = json_integer_value(json_object_get(ev, "sender"));
    peer *p = session ? sd_idmap_get(&ctx->sfu->sessions, session, 0) : NULL;
    int side;

    if (!p || !kind)
        return;
    if (!strcmp(kind, "timeout")) {
        sd_log("warn", "MM0457: meeting %lld user %lld: media server session timed out",
               p->meeting_id, p->user_id);
        peer_reset(p);
        return;
    }
    if (sender != p->pub && sender != p->sub)
        return;
    side = sender == p->pub ? PUB : SUB;
    if (!strcmp(kind, "webrtcup") && side == PUB)
        feed_changed(p, 1);
    else if (!strcmp(kind, "hangup") && side == PUB) {
        p->publishing = 0;
        feed_changed(p, 0);
    } else if (!strcmp(kind, "hangup")) {
        /* The downstream connection is gone: the next feed starts a new one. */
        p->sub_joined = p->offer_out = 0;
        json_object_clear(p->subscribed);
    } else if (!strcmp(kind, "trickle"))
        trickle_out(p, side, ev);
    else if (!strcmp(kind, "event"))
        on_plugin_event(p, side, ev);
}

/* ---- the admin session, Janus coming and going ---- */

/* Whether the meeting's room should exist: it is ongoing (ongoing: the
 * database's {"<meeting_id>": max_participants}), or, the database being
 * away (ongoing NULL), people of it are here. */
static int room_wanted(const sd_ctx *ctx, json_t *ongoing, long long meeting_id)
{
    char k[24];

    key(k, meeting_id);
    return ongoing ? json_object_get(ongoing, k) != NULL : sd_room_find(ctx, meeting_id) != NULL;
}

/* Janus's rooms (reply to list) against the meetings: a room no ongoing
 * meeting stands behind (it ended while signald or Janus was away) is
 * destroyed; the room of every ongoing meeting is made (again). */
static void listed(void *arg, json_t *reply)
{
    listing *l = arg;
    sd_ctx *ctx = l->ctx;
    json_t *ongoing = l->ongoing, *data, *room, *v;
    const char *why, *k;
    size_t i;
    int code;

    free(l);
    data = answer(reply, &why, &code);
    json_array_foreach(json_object_get(data, "list"), i, room)
    {
        long long id = json_integer_value(json_object_get(room, "room"));

        if (id && !room_wanted(ctx, ongoing, id))
            room_destroy(ctx, id);
    }
    for (sroom *r = ctx->sfu->room_list, *next; r; r = next) {
        next = r->next;
        if (!room_wanted(ctx, ongoing, r->meeting_id) && !sd_room_find(ctx, r->meeting_id))
            room_free(r);
    }
    json_object_foreach(ongoing, k, v)
    {
        sroom *r = room_get(ctx, atoll(k));

        if (r) {
            r->publishers = (int)json_integer_value(v);
            room_ensure(r);
        }
    }
    json_decref(ongoing);
    for (sd_room *mr = sd_rooms_first(ctx); mr; mr = mr->next) {
        sroom *r = room_get(ctx, mr->meeting_id);
        json_t *f = sd_frame("sfu-reset", mr->meeting_id);

        /* Their sessions went with the old connection: publish again. */
        sd_room_send(mr, f, 0);
        json_decref(f);
        if (r)
            room_ensure(r);
    }
}

/* Asks Janus for its rooms; ongoing (taken) goes to listed. */
static void list_rooms(sd_ctx *ctx, json_t *ongoing)
{
    listing *l = malloc(sizeof(*l));

    if (l) {
        l->ctx = ctx;
        l->ongoing = ongoing;
    }
    if (!l || sd_sfu_room_request(ctx, json_pack("{s:s}", "request", "list"), listed, l) != 0) {
        free(l);
        json_decref(ongoing);
    }
}

/* The answer of SQL_ONGOING: the ongoing meetings and their sizes. */
static void ongoing_known(void *arg, const PGresult *res)
{
    json_t *ongoing = res ? json_object() : NULL;

    for (int row = 0; ongoing && row < PQntuples(res); row++)
        json_object_set_new(ongoing, PQgetvalue(res, row, 0),
                            json_integer(atoi(PQgetvalue(res, row, 1))));
    list_rooms(arg, ongoing);
}

static void admin_attached(void *arg, json_t *reply)
{
    sd_ctx *ctx = arg;
    sd_db *db = ctx->db;
    const char *node_name = ctx->cfg->node; /* this node's name in the node registry */
    const char *why;

    if (!(ctx->sfu->admin_handle = made_id(reply, &why))) {
        sd_log("warn", "MM0458: cannot attach to the media server's VideoRoom: %s",
               why ? why : "no handle");
        return;
    }
    if (!db || !sd_db_ready(db) || sd_db_send(db, SQL_ONGOING, 1, &node_name, ongoing_known, ctx))
        list_rooms(ctx, NULL);
}

static void admin_created(void *arg, json_t *reply)
{
    sd_ctx *ctx = arg;
    struct sd_sfu *sfu = ctx->sfu;
    const char *why;

    if (!(sfu->admin_session = made_id(reply, &why))) {
        sd_log("warn", "MM0458: no session on the media server: %s", why ? why : "no id");
        return;
    }
    sfu->admin_keepalive_us = sd_mono_us();
    attach(ctx, sfu->admin_session, admin_attached, ctx);
}

static void on_up(void *arg)
{
    sd_janus_send(arg, request("create", 0, 0), 0, admin_created, arg);
}

/* Janus is gone, and every session and room with it. */
static void on_down(void *arg)
{
    sd_ctx *ctx = arg;

    ctx->sfu->admin_session = ctx->sfu->admin_handle = 0;
    for (sroom *r = ctx->sfu->room_list; r; r = r->next) {
        r->state = ROOM_NONE;
        json_object_clear(r->feeds);
    }
    for (sd_room *mr = sd_rooms_first(ctx); mr; mr = mr->next) {
        for (sd_seat *s = mr->seats; s; s = s->next)
            if (s->conn && s->conn->sfu)
                peer_reset(s->conn->sfu);
    }
}

int sd_sfu_start(sd_ctx *ctx)
{
    static const sd_janus_hooks hooks = {on_up, on_down, on_event};
    const sd_config *c = ctx->cfg;

    if (!c->media_server)
        return 0;
    if (!(ctx->sfu = calloc(1, sizeof(*ctx->sfu)))) {
        sd_log("error", "MM3025: out of memory");
        return -1;
    }
    ctx->sfu->ctx = ctx;
    return sd_janus_start(ctx, c->media_server, c->media_secret_file, &hooks, ctx);
}

void sd_sfu_started(sd_ctx *ctx, long long meeting_id, int max_participants)
{
    sroom *r;

    if (!sd_sfu_enabled(ctx) || !(r = room_get(ctx, meeting_id)))
        return;
    if (max_participants > 0)
        r->publishers = max_participants;
    sd_log("info", "MM3062: meeting %lld: started, making its media server room", meeting_id);
    room_ensure(r);
}

void sd_sfu_resized(sd_ctx *ctx, long long meeting_id, int max_participants)
{
    sroom *r = sd_sfu_enabled(ctx) ? room_find(ctx, meeting_id) : NULL;

    if (!r || max_participants <= 0)
        return;
    r->publishers = max_participants;
    if (r->state == ROOM_READY)
        admin_request(ctx, json_pack("{s:s, s:I, s:i}", "request", "edit", "room",
                                     (json_int_t)meeting_id, "new_publishers", max_participants));
}

void sd_sfu_stop(sd_ctx *ctx)
{
    if (sd_sfu_enabled(ctx))
        sd_janus_stop(ctx);
}

static void keepalive(sd_ctx *ctx, long long session)
{
    sd_janus_send(ctx, request("keepalive", session, 0), 1, NULL, NULL);
}

void sd_sfu_tick(sd_ctx *ctx, long long now_us)
{
    struct sd_sfu *sfu = ctx->sfu;

    if (!sfu || !sd_janus_is_up(ctx))
        return;
    if (sfu->admin_session && now_us - sfu->admin_keepalive_us >= KEEPALIVE_US) {
        sfu->admin_keepalive_us = now_us;
        keepalive(ctx, sfu->admin_session);
    }
    for (sd_room *mr = sd_rooms_first(ctx); mr; mr = mr->next)
        for (sd_seat *s = mr->seats; s; s = s->next) {
            peer *p = s->conn ? s->conn->sfu : NULL;

            if (p && p->session && now_us - p->keepalive_us >= KEEPALIVE_US) {
                p->keepalive_us = now_us;
                keepalive(ctx, p->session);
            }
        }
}
