/* signald: this node in the node registry (see node.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "options.h"
#include "pq.h"
#include "rooms.h"
#include "util.h"

static const char SQL_BEAT[] = "SELECT meeting_id, signaling_url"
                               " FROM mm_node_beat($1, $2, $3::integer, $4::integer, $5::bigint[])";

/* Distinct node URLs kept as close reasons; more are not expected. */
#define MAX_REASONS 64
static const char NO_URL[] = "the meeting is on another node: join again";

struct sd_node {
    sd_ctx *ctx;
    sd_node_moved_fn moved;
    lws_sorted_usec_list_t beat_sul;
    int beating; /* a beat is out */
    char *reasons[MAX_REASONS];
    int n_reasons;
};

const char *sd_node_reason(sd_ctx *ctx, const char *url)
{
    struct sd_node *n = ctx->node;

    if (!url || !*url)
        return NO_URL;
    for (int i = 0; i < n->n_reasons; i++)
        if (!strcmp(n->reasons[i], url))
            return n->reasons[i];
    if (n->n_reasons == MAX_REASONS || strlen(url) > MM_NODE_URL_MAX
        || !(n->reasons[n->n_reasons] = strdup(url)))
        return NO_URL;
    return n->reasons[n->n_reasons++];
}

/* "{m1,m2,...}": the meetings this node holds rooms for; malloc'ed. */
static char *room_ids(sd_ctx *ctx)
{
    size_t cap = sd_rooms_count(ctx) * 21 + 3, len = 1;
    char *s = malloc(cap);

    if (!s)
        return NULL;
    s[0] = '{';
    for (sd_room *r = sd_rooms_first(ctx); r && len + 22 <= cap; r = r->next)
        len += (size_t)snprintf(s + len, cap - len, len > 1 ? ",%lld" : "%lld", r->meeting_id);
    memcpy(s + len, "}", 2);
    return s;
}

static void beaten(void *arg, const PGresult *res)
{
    struct sd_node *n = arg;
    const char *url;

    n->beating = 0;
    if (!res)
        return;
    for (int row = 0; row < PQntuples(res); row++) {
        url = PQgetisnull(res, row, 1) ? NULL : PQgetvalue(res, row, 1);
        n->moved(n->ctx, atoll(PQgetvalue(res, row, 0)), sd_node_reason(n->ctx, url));
    }
}

static void beat(lws_sorted_usec_list_t *sul)
{
    struct sd_node *n = lws_container_of(sul, struct sd_node, beat_sul);
    const sd_config *cfg = n->ctx->cfg;
    sd_db *db = n->ctx->db;
    char load[24], timeout[24], *rooms;
    const char *params[5];

    /* Until the database is up, soon again: the registry learns of a new
     * node within a moment of its start. */
    lws_sul_schedule(n->ctx->lws, 0, &n->beat_sul, beat,
                     sd_db_ready(db) ? cfg->node_timeout * SD_US / 3 : SD_US / 5);
    if (n->beating || !sd_db_ready(db) || !(rooms = room_ids(n->ctx)))
        return;
    snprintf(load, sizeof(load), "%zu", sd_conns_count(n->ctx));
    snprintf(timeout, sizeof(timeout), "%d", cfg->node_timeout);
    params[0] = cfg->node;
    params[1] = cfg->node_url;
    params[2] = load;
    params[3] = timeout;
    params[4] = rooms;
    if (sd_db_send(db, SQL_BEAT, 5, params, beaten, n) == 0)
        n->beating = 1;
    free(rooms);
}

int sd_node_start(sd_ctx *ctx, sd_node_moved_fn moved)
{
    const sd_config *c = ctx->cfg;
    struct sd_node *n = calloc(1, sizeof(*n));

    if (!n)
        return -1;
    n->ctx = ctx;
    n->moved = moved;
    ctx->node = n;
    sd_log("info", "MM3029: node %s (%s), dead after %d s of silence", c->node,
           c->node_url ? c->node_url : "the module's signaling URL", c->node_timeout);
    lws_sul_schedule(ctx->lws, 0, &n->beat_sul, beat, 1);
    return 0;
}

void sd_node_stop(sd_ctx *ctx)
{
    struct sd_node *n = ctx->node;

    lws_sul_cancel(&n->beat_sul);
    for (int i = 0; i < n->n_reasons; i++)
        free(n->reasons[i]);
    n->n_reasons = 0;
}
