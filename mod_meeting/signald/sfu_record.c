/* signald: recording on the SFU (see sfu_record.h). */
#define _POSIX_C_SOURCE 200809L
#include "sfu_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq.h"
#include "rooms.h"
#include "sfu.h"
#include "util.h"

/* The active server recordings of the meetings in the array. */
static const char SQL_ACTIVE[] =
    "SELECT meeting_id, raw_dir FROM recordings"
    " WHERE meeting_id = ANY($1::bigint[]) AND status = 'recording' AND source = 'server'"
    " AND raw_dir IS NOT NULL";

/* How often the rooms here are checked against the table. */
#define SWEEP_US (10 * SD_US)
/* A rec_dir is a path of MeetingRecordingDir; longer is not ours. */
#define DIR_MAX 1024

typedef enum { SENT_NONE, SENT_DIR, SENT_ON, SENT_OFF } sent_kind;

/* What one meeting's VideoRoom should record, and what Janus was told. */
typedef struct rec {
    struct sd_sfu_record *sr;
    long long meeting_id;
    char *want;                 /* the folder to record into, NULL: no recording */
    char *dir;                  /* the folder Janus was given, NULL: unknown */
    int on;                     /* Janus records: 1, does not: 0, unknown: -1 */
    int known;                  /* want is known (an event or the table said) */
    unsigned long long changed; /* the event counter when an event last set want */
    sent_kind sent;             /* the request Janus is answering */
    char *sent_dir;             /* the folder of a SENT_DIR */
    struct rec *next;
} rec;

struct sd_sfu_record {
    sd_ctx *ctx;
    lws_sorted_usec_list_t sweep_sul;
    rec *recs;
    unsigned long long events;
    int running; /* from start to stop */
};

typedef struct sd_sfu_record recorder;

static void push(rec *r);

static rec *rec_find(recorder *sr, long long meeting_id)
{
    for (rec *r = sr->recs; r; r = r->next)
        if (r->meeting_id == meeting_id)
            return r;
    return NULL;
}

static rec *rec_get(recorder *sr, long long meeting_id)
{
    rec *r = rec_find(sr, meeting_id);

    if (r || !(r = calloc(1, sizeof(*r))))
        return r;
    r->sr = sr;
    r->meeting_id = meeting_id;
    r->on = -1;
    r->next = sr->recs;
    sr->recs = r;
    return r;
}

static void rec_free(rec *r)
{
    for (rec **p = &r->sr->recs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    sd_janus_forget(r->sr->ctx, r);
    free(r->want);
    free(r->dir);
    free(r->sent_dir);
    free(r);
}

/* Nothing to record, and Janus told so or the room is not there: the state
 * is not needed any more. Otherwise the next request goes. */
static void settle(rec *r)
{
    if (r->known && !r->want && r->sent == SENT_NONE
        && (r->on == 0 || !sd_sfu_room_ready(r->sr->ctx, r->meeting_id)))
        rec_free(r);
    else
        push(r);
}

static void set_want(rec *r, const char *dir)
{
    char *copy = dir ? strdup(dir) : NULL;

    if (dir && !copy)
        return;
    free(r->want);
    r->want = copy;
    r->known = 1;
}

/* Janus's answer to the one request out for r. */
static void answered(void *arg, json_t *reply)
{
    rec *r = arg;
    const char *why = sd_sfu_refusal(reply);
    sent_kind sent = r->sent;

    r->sent = SENT_NONE;
    if (why && !sd_sfu_room_ready(r->sr->ctx, r->meeting_id)) {
        /* The room went (the meeting ended, Janus restarted): it records
         * nothing, and a new room starts from the table. */
        free(r->dir);
        r->dir = NULL;
        r->on = 0;
        settle(r);
        return;
    }
    if (why) {
        /* Refused: unknown again, the sweep tries again. */
        sd_log("warn", "MM1701: meeting %lld: the media server did not %s: %s", r->meeting_id,
               sent == SENT_DIR  ? "take the recording folder"
               : sent == SENT_ON ? "start recording"
                                 : "stop recording",
               why);
        free(r->dir);
        r->dir = NULL;
        r->on = -1;
        r->known = 0;
        return;
    }
    if (sent == SENT_DIR) {
        free(r->dir);
        r->dir = r->sent_dir;
        r->sent_dir = NULL;
    } else {
        r->on = sent == SENT_ON;
        sd_log("info", "MM1702: meeting %lld: the media server %s recording", r->meeting_id,
               r->on ? "is" : "stopped");
    }
    settle(r);
}

static void send_req(rec *r, sent_kind kind, json_t *body)
{
    r->sent = kind;
    if (sd_sfu_room_request(r->sr->ctx, body, answered, r) != 0)
        r->sent = SENT_NONE;
}

static void send_enable(rec *r, int on)
{
    send_req(r, on ? SENT_ON : SENT_OFF,
             json_pack("{s:s, s:I, s:b}", "request", "enable_recording", "room",
                       (json_int_t)r->meeting_id, "record", on));
}

/* The next request that brings Janus to what r wants: a recording into
 * another folder stops first, the folder goes before the start. */
static void push(rec *r)
{
    if (r->sent != SENT_NONE || !r->known || !sd_sfu_room_ready(r->sr->ctx, r->meeting_id))
        return;
    if (!r->want) {
        if (r->on != 0)
            send_enable(r, 0);
        return;
    }
    if (!r->dir || strcmp(r->dir, r->want) != 0) {
        if (r->on == 1) {
            send_enable(r, 0);
            return;
        }
        free(r->sent_dir);
        if (!(r->sent_dir = strdup(r->want)))
            return;
        send_req(r, SENT_DIR,
                 json_pack("{s:s, s:I, s:s}", "request", "edit", "room", (json_int_t)r->meeting_id,
                           "new_rec_dir", r->want));
        return;
    }
    if (r->on != 1)
        send_enable(r, 1);
}

void sd_sfu_record_event(sd_ctx *ctx, long long meeting_id, json_t *ev)
{
    json_t *record = json_object_get(ev, "record");
    const char *dir = json_string_value(json_object_get(ev, "rec_dir"));
    recorder *sr = ctx->sfu_record;
    rec *r;

    if (!sr)
        return;
    if (!json_is_boolean(record)
        || (json_is_true(record) && (!dir || dir[0] != '/' || strlen(dir) >= DIR_MAX))) {
        sd_log("warn", "MM1703: meeting %lld: sfu-record ignored: not {record, rec_dir}",
               meeting_id);
        return;
    }
    if (!(r = rec_get(sr, meeting_id)))
        return;
    set_want(r, json_is_true(record) ? dir : NULL);
    r->changed = ++sr->events;
    sd_log("info", "MM1704: meeting %lld: recording on the media server %s", meeting_id,
           r->want ? "asked for" : "to stop");
    settle(r);
}

/* ---- the recordings table ---- */

typedef struct {
    recorder *sr;
    unsigned long long asked; /* the event counter when the query went out */
    size_t n;
    long long ids[];
} check;

/* Whether the table's answer row of meeting_id says a folder. */
static const char *table_dir(const PGresult *res, long long meeting_id)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (atoll(PQgetvalue(res, i, 0)) == meeting_id)
            return PQgetvalue(res, i, 1);
    return NULL;
}

/* The table's answer for the meetings asked about; an event that came
 * after the query went out knows better. */
static void checked(void *arg, const PGresult *res)
{
    check *c = arg;

    for (size_t i = 0; res && i < c->n; i++) {
        const char *dir = table_dir(res, c->ids[i]);
        rec *r = dir ? rec_get(c->sr, c->ids[i]) : rec_find(c->sr, c->ids[i]);

        if (!r || r->changed > c->asked)
            continue;
        set_want(r, dir);
        settle(r);
    }
    free(c);
}

/* Asks the table about n meetings. */
static void check_send(recorder *sr, const long long *ids, size_t n)
{
    check *c = malloc(sizeof(*c) + n * sizeof(long long));
    char *list = malloc(n * 21 + 3), *p = list;
    const char *params[1] = {list};

    if (!c || !list || !n) {
        free(c);
        free(list);
        return;
    }
    c->sr = sr;
    c->asked = sr->events;
    c->n = n;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        c->ids[i] = ids[i];
        p += sprintf(p, i ? ",%lld" : "%lld", ids[i]);
    }
    memcpy(p, "}", 2);
    if (sd_db_send(sr->ctx->db, SQL_ACTIVE, 1, params, checked, c) != 0)
        free(c);
    free(list);
}

/* The meeting's VideoRoom was (re)created at Janus: what it records is
 * unknown until the table says. */
static void room_ready(sd_ctx *ctx, long long meeting_id)
{
    recorder *sr = ctx->sfu_record;
    rec *r;

    if (!sr || !sr->running || !(r = rec_get(sr, meeting_id)))
        return;
    /* A new room records nothing; a room Janus kept may still record into
     * a folder of before: either way the next request sets it straight. */
    free(r->dir);
    r->dir = NULL;
    r->on = -1;
    r->known = 0;
    check_send(sr, &meeting_id, 1);
}

/* The rooms of the meetings here, against the table. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    recorder *sr = lws_container_of(sul, recorder, sweep_sul);
    size_t n = 0, cap = 0;
    long long *ids = NULL;

    for (sd_room *mr = sd_rooms_first(sr->ctx); mr; mr = mr->next) {
        if (!sd_sfu_room_ready(sr->ctx, mr->meeting_id))
            continue;
        if (n == cap) {
            long long *more = realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof(*ids));

            if (!more)
                break;
            ids = more;
        }
        ids[n++] = mr->meeting_id;
    }
    check_send(sr, ids, n);
    free(ids);
    lws_sul_schedule(sr->ctx->lws, 0, &sr->sweep_sul, sweep, SWEEP_US);
}

int sd_sfu_record_start(sd_ctx *ctx)
{
    recorder *sr;

    if (!sd_sfu_enabled(ctx))
        return 0;
    if (!(sr = calloc(1, sizeof(*sr))))
        return -1;
    sr->ctx = ctx;
    sr->running = 1;
    ctx->sfu_record = sr;
    sd_sfu_on_room_ready(ctx, room_ready);
    lws_sul_schedule(ctx->lws, 0, &sr->sweep_sul, sweep, SWEEP_US);
    return 0;
}

void sd_sfu_record_stop(sd_ctx *ctx)
{
    recorder *sr = ctx->sfu_record;

    if (!sr || !sr->running)
        return;
    lws_sul_cancel(&sr->sweep_sul);
    while (sr->recs)
        rec_free(sr->recs);
    sr->running = 0;
}
