/* signald: this node in the node registry (see node.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "control.h"
#include "rooms.h"
#include "sfu.h"
#include "util.h"

static const char SQL_BEAT[] = "SELECT meeting_id, signaling_url"
                               " FROM mm_node_beat($1, $2, $3::integer, $4::integer, $5::bigint[])";

/* Distinct node URLs kept as close reasons; more are not expected. */
#define MAX_REASONS 64
static const char NO_URL[] = "the meeting is on another node: join again";

static const sd_config *cfg;
static sd_db *db;
static struct lws_context *ctx;
static lws_sorted_usec_list_t beat_sul;
static int beating; /* a beat is out */
static char *reasons[MAX_REASONS];
static int n_reasons;

const char *sd_node_reason(const char *url)
{
    if (!url || !*url)
        return NO_URL;
    for (int i = 0; i < n_reasons; i++)
        if (!strcmp(reasons[i], url))
            return reasons[i];
    if (n_reasons == MAX_REASONS || strlen(url) > MM_NODE_URL_MAX
        || !(reasons[n_reasons] = strdup(url)))
        return NO_URL;
    return reasons[n_reasons++];
}

void sd_node_moved(long long meeting_id, const char *reason)
{
    sd_room *r = sd_room_find(meeting_id);

    sd_sfu_ended(meeting_id);
    if (!r)
        return;
    sd_log("info", "MM3028: meeting %lld: placed on another node, closing %zu seat(s) with %d",
           meeting_id, r->nseats, SD_CLOSE_MOVED);
    sd_control_close_room(r, SD_CLOSE_MOVED, reason, NULL);
}

/* "{m1,m2,...}": the meetings this node holds rooms for; malloc'ed. */
static char *room_ids(void)
{
    size_t cap = sd_rooms_count() * 21 + 3, len = 1;
    char *s = malloc(cap);

    if (!s)
        return NULL;
    s[0] = '{';
    for (sd_room *r = sd_rooms_first(); r && len + 22 <= cap; r = r->next)
        len += (size_t)snprintf(s + len, cap - len, len > 1 ? ",%lld" : "%lld", r->meeting_id);
    memcpy(s + len, "}", 2);
    return s;
}

static void beaten(void *arg, const PGresult *res)
{
    (void)arg;
    beating = 0;
    if (!res)
        return;
    for (int row = 0; row < PQntuples(res); row++)
        sd_node_moved(atoll(PQgetvalue(res, row, 0)),
                      sd_node_reason(PQgetisnull(res, row, 1) ? NULL : PQgetvalue(res, row, 1)));
}

static void beat(lws_sorted_usec_list_t *sul)
{
    char load[24], timeout[24], *rooms;
    const char *params[5];

    (void)sul;
    /* Until the database is up, soon again: the registry learns of a new
     * node within a moment of its start. */
    lws_sul_schedule(ctx, 0, &beat_sul, beat,
                     sd_db_ready(db) ? cfg->node_timeout * SD_US / 3 : SD_US / 5);
    if (beating || !sd_db_ready(db) || !(rooms = room_ids()))
        return;
    snprintf(load, sizeof(load), "%zu", sd_conns_count());
    snprintf(timeout, sizeof(timeout), "%d", cfg->node_timeout);
    params[0] = cfg->node;
    params[1] = cfg->node_url;
    params[2] = load;
    params[3] = timeout;
    params[4] = rooms;
    if (sd_db_send(db, SQL_BEAT, 5, params, beaten, NULL) == 0)
        beating = 1;
    free(rooms);
}

void sd_node_start(const sd_config *c, sd_db *d, struct lws_context *context)
{
    cfg = c;
    db = d;
    ctx = context;
    sd_log("info", "MM3029: node %s (%s), dead after %d s of silence", c->node,
           c->node_url ? c->node_url : "the module's signaling URL", c->node_timeout);
    lws_sul_schedule(ctx, 0, &beat_sul, beat, 1);
}

void sd_node_stop(void)
{
    lws_sul_cancel(&beat_sul);
    for (int i = 0; i < n_reasons; i++)
        free(reasons[i]);
    n_reasons = 0;
}
