/* signald: recording on the SFU (see sfu_record.h). */
#define _POSIX_C_SOURCE 200809L
#include "sfu_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static struct lws_context *ctx;
static sd_db *db;
static lws_sorted_usec_list_t sweep_sul;
static rec *recs;
static unsigned long long events;

static void push(rec *r);

static rec *rec_find(long long meeting_id)
{
    for (rec *r = recs; r; r = r->next)
        if (r->meeting_id == meeting_id)
            return r;
    return NULL;
}

static rec *rec_get(long long meeting_id)
{
    rec *r = rec_find(meeting_id);

    if (r || !(r = calloc(1, sizeof(*r))))
        return r;
    r->meeting_id = meeting_id;
    r->on = -1;
    r->next = recs;
    recs = r;
    return r;
}

static void rec_free(rec *r)
{
    for (rec **p = &recs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    sd_janus_forget(r);
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
        && (r->on == 0 || !sd_sfu_room_ready(r->meeting_id)))
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
    if (why && !sd_sfu_room_ready(r->meeting_id)) {
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
    if (sd_sfu_room_request(body, answered, r) != 0)
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
    if (r->sent != SENT_NONE || !r->known || !sd_sfu_room_ready(r->meeting_id))
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

void sd_sfu_record_event(long long meeting_id, json_t *ev)
{
    json_t *record = json_object_get(ev, "record");
    const char *dir = json_string_value(json_object_get(ev, "rec_dir"));
    rec *r;

    if (!sd_sfu_enabled())
        return;
    if (!json_is_boolean(record)
        || (json_is_true(record) && (!dir || dir[0] != '/' || strlen(dir) >= DIR_MAX))) {
        sd_log("warn", "MM1703: meeting %lld: sfu-record ignored: not {record, rec_dir}",
               meeting_id);
        return;
    }
    if (!(r = rec_get(meeting_id)))
        return;
    set_want(r, json_is_true(record) ? dir : NULL);
    r->changed = ++events;
    sd_log("info", "MM1704: meeting %lld: recording on the media server %s", meeting_id,
           r->want ? "asked for" : "to stop");
    settle(r);
}

/* ---- the recordings table ---- */

typedef struct {
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
        rec *r = dir ? rec_get(c->ids[i]) : rec_find(c->ids[i]);

        if (!r || r->changed > c->asked)
            continue;
        set_want(r, dir);
        settle(r);
    }
    free(c);
}

/* Asks the table about n meetings. */
static void check_send(const long long *ids, size_t n)
{
    check *c = malloc(sizeof(*c) + n * sizeof(long long));
    char *list = malloc(n * 21 + 3), *p = list;
    const char *params[1] = {list};

    if (!c || !list || !n) {
        free(c);
        free(list);
        return;
    }
    c->asked = events;
    c->n = n;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        c->ids[i] = ids[i];
        p += sprintf(p, i ? ",%lld" : "%lld", ids[i]);
    }
    memcpy(p, "}", 2);
    if (sd_db_send(db, SQL_ACTIVE, 1, params, checked, c) != 0)
        free(c);
    free(list);
}

void sd_sfu_record_room_ready(long long meeting_id)
{
    rec *r;

    if (!db || !(r = rec_get(meeting_id)))
        return;
    /* A new room records nothing; a room Janus kept may still record into
     * a folder of before: either way the next request sets it straight. */
    free(r->dir);
    r->dir = NULL;
    r->on = -1;
    r->known = 0;
    check_send(&meeting_id, 1);
}

/* The rooms of the meetings here, against the table. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    size_t n = 0, cap = 0;
    long long *ids = NULL;

    (void)sul;
    for (sd_room *mr = sd_rooms_first(); mr; mr = mr->next) {
        if (!sd_sfu_room_ready(mr->meeting_id))
            continue;
        if (n == cap) {
            long long *more = realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof(*ids));

            if (!more)
                break;
            ids = more;
        }
        ids[n++] = mr->meeting_id;
    }
    check_send(ids, n);
    free(ids);
    lws_sul_schedule(ctx, 0, &sweep_sul, sweep, SWEEP_US);
}

void sd_sfu_record_start(struct lws_context *context, sd_db *queries)
{
    if (!sd_sfu_enabled())
        return;
    ctx = context;
    db = queries;
    sd_sfu_on_room_ready(sd_sfu_record_room_ready);
    lws_sul_schedule(ctx, 0, &sweep_sul, sweep, SWEEP_US);
}

void sd_sfu_record_stop(void)
{
    if (!db)
        return;
    lws_sul_cancel(&sweep_sul);
    while (recs)
        rec_free(recs);
    db = NULL;
}
