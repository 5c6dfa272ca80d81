/*
 * signald: room events handed over by this node's httpd. After a chat send
 * commits, mod_meeting sends the room's event (the same JSON a NOTIFY on
 * meeting_events would carry) as one datagram to a Unix socket signald
 * binds at --events-socket, instead of a NOTIFY in the send's transaction
 * (whose database-wide lock queued concurrent sends: docs/benchmarks.md).
 * The events go through the same dispatch as those heard by LISTEN
 * (pgevents.c), so the room gets the same frame. Only "chat" is taken, and
 * only signed with the JWT secret's key (token.h, MM_ROOM_EVENT_LABEL): the
 * socket's owner, httpd's User, may run other code too (CGI scripts).
 *
 * Order: pgevents.c drains this socket before it acts on a notification,
 * so a chat frame is never overtaken by an event committed after it (a
 * message, then the meeting's end: the room gets the message, then the
 * end).
 */
#ifndef SD_HANDOVER_H
#define SD_HANDOVER_H

#include <jansson.h>
#include <libwebsockets.h>

#include "options.h"
#include "token.h"

/* The vhost protocol the socket is bound to. */
#define SD_HANDOVER_PROTOCOL "mm-handover"

/* Applies one event {type, meeting_id, ...} as one heard by LISTEN would be
 * (pgevents.c's sd_events_apply). */
typedef void sd_handover_apply_fn(json_t *ev);

/* Binds cfg->events_socket (a stale socket file of an earlier run is
 * replaced), mode 0600, owned by cfg->events_owner when that is not -1 (the
 * uid httpd's children run as), and puts it into the event loop; each event
 * taken whose signature k verifies goes to apply. Nothing to do without --events-socket. Returns 0, or
 * -1 after logging why. */
int sd_handover_start(struct lws_context *ctx, struct lws_vhost *vh, const sd_config *cfg,
                      const mm_token_key *k, sd_handover_apply_fn *apply);

/* Applies every event waiting in the socket, in the order sent. */
void sd_handover_drain(void);

/* Closes the socket and removes its file. */
void sd_handover_stop(void);

/* The callback of the SD_HANDOVER_PROTOCOL protocol. */
int sd_handover_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len);

#endif
