/* signald: control events from the REST side (see pgevents.h). */
#include "pgevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control.h"
#include "handover.h"
#include "rooms.h"
#include "seats.h"
#include "sfu.h"
#include "sfu_record.h"
#include "util.h"

/* Prepared like every other statement (db.c): the SQL command PREPARE takes
 * only SELECT, INSERT, UPDATE, DELETE and VALUES, but the protocol's Parse
 * message that PQsendPrepare sends takes utility statements such as LISTEN
 * too, and a prepared LISTEN subscribes as a plain one does. */
static const char SQL_LISTEN[] = "LISTEN " SD_EVENTS_CHANNEL;
static const char SQL_PING[] = "SELECT 1";
/* For each seat: is its meeting still ongoing, is the user still a member,
 * did a REST leave give the seat back (lease cleared), what is the role, what
 * are the meeting's settings. */
static const char SQL_RECONCILE[] =
    "SELECT s.i, coalesce(m.status, 'gone'),"
    " p.participant_id IS NULL OR p.removed_at IS NOT NULL,"
    " p.participant_id IS NOT NULL AND p.lease_until IS NULL,"
    " coalesce(p.role, ''), mm_settings_json(m)::text"
    " FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS s(meeting_id, user_id, i)"
    " LEFT JOIN meetings m ON m.meeting_id = s.meeting_id"
    " LEFT JOIN participants p ON p.meeting_id = s.meeting_id AND p.user_id = s.user_id";

/* A silent LISTEN connection is probed this often; a probe stuck past the
 * query deadline makes db.c reconnect. */
#define HEARTBEAT_US (30 * SD_US)

static sd_db *listen_db;
static struct lws_context *ctx;
static lws_sorted_usec_list_t heartbeat_sul;

/* The seats a reconciliation asked about, by position in its arrays. */
typedef struct {
    size_t n;
    long long *meeting_id, *user_id;
    unsigned long long *serial;
} recon;

static int reconciling;     /* a reconciliation query is out */
static int reconcile_again; /* and another was asked for meanwhile */

static void recon_free(recon *rc)
{
    free(rc->meeting_id);
    free(rc->user_id);
    free(rc->serial);
    free(rc);
}

static int is_true(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

/* The room's settings, if a settings-changed went unheard. */
static void reconcile_settings(long long meeting_id, const char *text)
{
    sd_room *r = sd_room_find(meeting_id);
    json_t *settings;

    if (!r)
        return;
    settings = json_loads(text, 0, NULL);
    if (json_is_object(settings) && (!r->settings || !json_equal(settings, r->settings)))
        sd_control_settings(meeting_id, settings);
    json_decref(settings);
}

/* Acts on one row, unless the seat it asked about is gone or was remade. */
static void reconcile_row(const recon *rc, const PGresult *res, int row)
{
    size_t i = (size_t)atoll(PQgetvalue(res, row, 0)) - 1;
    sd_seat *s;

    if (i >= rc->n)
        return;
    s = sd_seat_find(rc->meeting_id[i], rc->user_id[i]);
    if (!s || s->serial != rc->serial[i])
        return;
    if (!strcmp(PQgetvalue(res, row, 1), "ongoing"))
        reconcile_settings(rc->meeting_id[i], PQgetvalue(res, row, 5));
    if (strcmp(PQgetvalue(res, row, 1), "ongoing") != 0)
        sd_control_ended(rc->meeting_id[i]);
    else if (is_true(res, row, 2))
        sd_control_removed(rc->meeting_id[i], rc->user_id[i]);
    else if (is_true(res, row, 3))
        sd_control_left(rc->meeting_id[i], rc->user_id[i]);
    else if (*PQgetvalue(res, row, 4) && (!s->role || strcmp(s->role, PQgetvalue(res, row, 4))))
        sd_control_role(rc->meeting_id[i], rc->user_id[i], PQgetvalue(res, row, 4));
}

static void reconcile_start(void);

static void reconciled(void *arg, const PGresult *res)
{
    recon *rc = arg;

    if (res) {
        for (int row = 0; row < PQntuples(res); row++)
            reconcile_row(rc, res, row);
        sd_log("info", "MM3030: reconciled %zu seat(s) with the database", rc->n);
    }
    recon_free(rc);
    reconciling = 0;
    if (reconcile_again)
        reconcile_start();
}

/* "{a,b,c}" of n ids; malloc'ed. */
static char *id_array(const long long *ids, size_t n)
{
    char *s = malloc(n * 21 + 3), *p = s;

    if (!s)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, i ? ",%lld" : "%lld", ids[i]);
    memcpy(p, "}", 2);
    return s;
}

static recon *snapshot(void)
{
    size_t n = sd_rooms_seat_count(), i = 0;
    recon *rc = calloc(1, sizeof(*rc));

    if (!rc)
        return NULL;
    rc->meeting_id = calloc(n + 1, sizeof(long long));
    rc->user_id = calloc(n + 1, sizeof(long long));
    rc->serial = calloc(n + 1, sizeof(unsigned long long));
    if (!rc->meeting_id || !rc->user_id || !rc->serial) {
        recon_free(rc);
        return NULL;
    }
    for (sd_room *r = sd_rooms_first(); r; r = r->next)
        for (sd_seat *s = r->seats; s && i < n; s = s->next, i++) {
            rc->meeting_id[i] = r->meeting_id;
            rc->user_id[i] = s->user_id;
            rc->serial[i] = s->serial;
        }
    rc->n = i;
    return rc;
}

static void reconcile_start(void)
{
    recon *rc;
    char *m = NULL, *u = NULL;
    const char *params[2];

    reconcile_again = 0;
    if (!sd_rooms_seat_count() || !sd_db_ready(listen_db))
        return; /* nothing to check, or the up hook will do it */
    rc = snapshot();
    if (rc) {
        m = id_array(rc->meeting_id, rc->n);
        u = id_array(rc->user_id, rc->n);
    }
    params[0] = m;
    params[1] = u;
    if (!rc || !m || !u || sd_db_send(listen_db, SQL_RECONCILE, 2, params, reconciled, rc)) {
        if (rc)
            recon_free(rc);
    } else {
        reconciling = 1;
    }
    free(m);
    free(u);
}

void sd_events_reconcile(void)
{
    if (reconciling)
        reconcile_again = 1;
    else
        reconcile_start();
}

/* The user_id of an event, or 0 when it has none that makes sense. */
static long long event_user(json_t *ev)
{
    json_t *u = json_object_get(ev, "user_id");

    return json_is_integer(u) && json_integer_value(u) > 0 ? json_integer_value(u) : 0;
}

static void dispatch(json_t *ev, const char *type, long long meeting_id)
{
    long long user_id = event_user(ev);
    const char *role = json_string_value(json_object_get(ev, "role"));
    const char *reason = json_string_value(json_object_get(ev, "reason"));
    json_t *by = json_object_get(ev, "by_user_id");

    if (!strcmp(type, "meeting-ended"))
        sd_control_ended(meeting_id);
    else if (!strcmp(type, "participant-removed") && user_id)
        sd_control_removed(meeting_id, user_id);
    else if (!strcmp(type, "participant-left") && user_id)
        sd_control_left(meeting_id, user_id);
    else if (!strcmp(type, "role-changed") && user_id && role)
        sd_control_role(meeting_id, user_id, role);
    else if (!strcmp(type, "chat") || !strcmp(type, "recording-started")
             || !strcmp(type, "recording-stopped"))
        sd_control_push(meeting_id, ev);
    else if (!strcmp(type, "waiting-joined") && user_id)
        sd_control_waiting_joined(meeting_id, ev);
    else if (!strcmp(type, "waiting-left") && user_id && reason)
        sd_control_waiting_left(meeting_id, user_id, reason, ev);
    else if (!strcmp(type, "settings-changed"))
        sd_control_settings(meeting_id, json_object_get(ev, "settings"));
    else if (!strcmp(type, "mute-requested") && user_id && json_is_integer(by))
        sd_control_mute(meeting_id, user_id, json_integer_value(by));
    else if (!strcmp(type, "meeting-started"))
        sd_sfu_started(meeting_id,
                       (int)json_integer_value(json_object_get(ev, "max_participants")));
    else if (!strcmp(type, "meeting-resized"))
        sd_sfu_resized(meeting_id,
                       (int)json_integer_value(json_object_get(ev, "max_participants")));
    else if (!strcmp(type, "sfu-record"))
        sd_sfu_record_event(meeting_id, ev);
    else
        sd_log("warn", "MM3031: meeting %lld: event %.40s ignored (unknown or incomplete)",
               meeting_id, type);
}

void sd_events_apply(json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *mid = json_object_get(ev, "meeting_id");

    if (!type || !json_is_integer(mid) || json_integer_value(mid) <= 0)
        sd_log("warn", "MM3032: event ignored: not {type, meeting_id, ...}");
    else
        dispatch(ev, type, json_integer_value(mid));
}

static void on_notify(void *arg, const char *channel, const char *payload)
{
    json_error_t err;
    json_t *ev;

    (void)arg;
    if (strcmp(channel, SD_EVENTS_CHANNEL) != 0)
        return;
    /* What httpd handed over before this event committed goes first. */
    sd_handover_drain();
    ev = json_loads(payload, 0, &err);
    sd_events_apply(ev);
    json_decref(ev);
}

/* Listening (again): an admission or a denial while not may have gone
 * unheard, so every waiting socket asks again. */
static void listening(void *arg, const PGresult *res)
{
    (void)arg;
    if (!res)
        return;
    sd_log("info", "MM3033: listening on " SD_EVENTS_CHANNEL);
    sd_seats_recheck_waiting();
}

/* (Re)connected: LISTEN, then catch up on whatever happened while away. The
 * two queries run in order on this connection, so nothing falls between. */
static void on_up(void *arg)
{
    (void)arg;
    if (sd_db_send(listen_db, SQL_LISTEN, 0, NULL, listening, NULL) == 0) {
        reconciling = 0;
        reconcile_start();
    }
}

static void probed(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

static void heartbeat(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (sd_db_ready(listen_db))
        sd_db_send(listen_db, SQL_PING, 0, NULL, probed, NULL);
    lws_sul_schedule(ctx, 0, &heartbeat_sul, heartbeat, HEARTBEAT_US);
}

int sd_events_start(struct lws_context *context, struct lws_vhost *vh, const char *conninfo)
{
    sd_db_hooks hooks = {on_up, on_notify, NULL};

    ctx = context;
    listen_db = sd_db_open(ctx, vh, "events", conninfo, &hooks);
    if (!listen_db)
        return -1;
    lws_sul_schedule(ctx, 0, &heartbeat_sul, heartbeat, HEARTBEAT_US);
    return 0;
}

void sd_events_stop(void)
{
    lws_sul_cancel(&heartbeat_sul);
    sd_db_close(listen_db);
    listen_db = NULL;
}
