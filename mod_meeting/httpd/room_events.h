/*
 * The chat send's room event, handed to this node's signald over a Unix
 * datagram socket after the send commits, instead of a NOTIFY in the send's
 * transaction: every notifying commit takes PostgreSQL's database-wide
 * notification lock, which queued concurrent sends (docs/benchmarks.md).
 * signald (handover.c) applies it as it would the NOTIFY. The socket lives
 * in httpd's DefaultRuntimeDir when httpd supervises signald; without
 * MeetingSignalingDaemon there is none and every send NOTIFYs as before.
 */
#ifndef MM_ROOM_EVENTS_H
#define MM_ROOM_EVENTS_H

#include "mm.h"

/* Where signald takes the events (its --events-socket). */
const char *mm_room_events_path(apr_pool_t *p);

/* NULL, or why the path cannot be a Unix socket's (configtest). */
const char *mm_room_events_check(apr_pool_t *p);

/* The signald arguments for the socket: --events-socket, and its owner
 * when httpd's children run as another user than signald. */
void mm_room_events_args(apr_pool_t *p, apr_array_header_t *argv);

/* In each child: opens its sending socket when httpd supervises signald. */
void mm_room_events_child_init(apr_pool_t *pchild, server_rec *s);

/* The node whose meetings' events this child hands over (MeetingNodeName,
 * else the host name as signald takes it), or NULL without the socket:
 * mm_message_send's p_node. */
const char *mm_room_events_node(void);

/* Hands event (JSON text) to signald once q's write has committed. When the
 * socket refuses it (signald down or not keeping up), the event goes as a
 * NOTIFY of its own, so the room still hears it. */
void mm_room_events_tell(mm_req *q, const char *event);

#endif
