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
#include <libwebsockets.h>

#include "pq.h"

#define SD_EVENTS_CHANNEL "meeting_events"

/* Opens the LISTEN connection (it keeps reconnecting by itself). -1 when out
 * of memory. */
int sd_events_start(struct lws_context *ctx, struct lws_vhost *vh, const char *conninfo);

/* Acts on one event {type, meeting_id, ...}, however it came (LISTEN, or
 * handover.c): the room gets the same frames. */
void sd_events_apply(json_t *ev);

/* Checks every seat in memory against the tables, soon. */
void sd_events_reconcile(void);

void sd_events_stop(void);

#endif
