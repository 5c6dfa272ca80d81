/*
 * signald: control events from the REST side. A second PostgreSQL
 * connection LISTENs on meeting_events; mod_meeting sends pg_notify in the
 * transaction that made the change, so only committed changes arrive, and
 * they reach the sockets as soon as the loop reads them. When that
 * connection comes back after a loss, or a lease renewal finds seats it
 * could not renew, the rooms are reconciled with the tables, so an event
 * missed in between is still acted on.
 */
#ifndef SD_PGEVENTS_H
#define SD_PGEVENTS_H

#include <jansson.h>

#include "context.h"

#define SD_EVENTS_CHANNEL "meeting_events"

/* Opens the LISTEN connection (it keeps reconnecting by itself) to
 * ctx->cfg->db. -1 when out of memory. */
int sd_events_start(sd_ctx *ctx);

/* Acts on one event {type, meeting_id, ...}, however it came (LISTEN, or
 * handover.c): the room gets the same frames. */
void sd_events_apply(sd_ctx *ctx, json_t *ev);

/* Checks every seat in memory against the tables, soon. */
void sd_events_reconcile(sd_ctx *ctx);

void sd_events_stop(sd_ctx *ctx);

#endif
