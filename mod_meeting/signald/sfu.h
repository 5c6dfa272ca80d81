/*
 * signald: media through the SFU (SPEC 7, docs/signaling.md "Media through
 * the SFU"). Each signaling socket of a meeting gets one Janus session with
 * two VideoRoom handles: the publisher (the browser's upstream connection:
 * its offer goes in, Janus's answer comes back) and the multistream
 * subscriber (one downstream connection carrying everyone else, offered by
 * Janus and renegotiated as people start and stop publishing). A publisher's
 * feed id is its user_id. The meeting's VideoRoom (room id = meeting id) is
 * created when the meeting starts (or on first use, when the start was not
 * heard here) and destroyed when it ends; the rooms of every ongoing meeting
 * are made again when Janus comes back; a removed user is kicked from it.
 * Without --media-server none of this runs: the mesh stays.
 */
#ifndef SD_SFU_H
#define SD_SFU_H

#include <libwebsockets.h>

#include "context.h"
#include "conn.h"
#include "janus.h"
#include "parse.h"

/* Connects to Janus when ctx->cfg names a media server (ctx->sfu is made
 * then, and stays NULL otherwise). -1 when it names one that cannot be used
 * (logged), or out of memory. ctx->db, the query connection, tells a
 * meeting's max_participants (the room's publishers) and which meetings are
 * ongoing when Janus comes (back). */
int sd_sfu_start(sd_ctx *ctx);
void sd_sfu_stop(sd_ctx *ctx);

/* The meeting started (its event): its VideoRoom is made now, not on first
 * use, with max_participants publishers. */
void sd_sfu_started(sd_ctx *ctx, long long meeting_id, int max_participants);

/* The ongoing meeting's max_participants changed: so do its publishers. */
void sd_sfu_resized(sd_ctx *ctx, long long meeting_id, int max_participants);

/* Whether a media server is configured ("sfu" in joined, else "mesh"). */
int sd_sfu_enabled(const sd_ctx *ctx);

/* fn is told of each meeting's room (re)made at Janus (sfu_record.c asks). */
void sd_sfu_on_room_ready(sd_ctx *ctx, void (*fn)(sd_ctx *ctx, long long meeting_id));

/* The socket got joined: it will be offered the feeds already published. */
void sd_sfu_seated(sd_conn *c);

/* An sfu-* frame from a seated socket. Returns why it was refused, or NULL
 * (an error frame with its own code may already have been sent: then "").  */
const char *sd_sfu_frame(sd_conn *c, const sd_msg *m);

/* A media-state from the socket: the SFU forwards its audio or not. */
void sd_sfu_audio(sd_conn *c, int enabled);

/* The settings stopped the socket's screen share: the SFU stops forwarding
 * it. */
void sd_sfu_screen_stop(sd_conn *c);

/* The socket closed: its Janus session goes. */
void sd_sfu_closed(sd_conn *c);

/* Authority from the REST side: the user is kicked out of the VideoRoom; the
 * meeting's VideoRoom is destroyed. */
void sd_sfu_removed(sd_ctx *ctx, long long meeting_id, long long user_id);
void sd_sfu_ended(sd_ctx *ctx, long long meeting_id);

/* The meeting's VideoRoom exists at the media server. */
int sd_sfu_room_ready(const sd_ctx *ctx, long long meeting_id);

/* A VideoRoom request (body taken) on signald's own handle; cb gets Janus's
 * reply. -1 (cb not called) when the media server is not reachable. */
int sd_sfu_room_request(sd_ctx *ctx, json_t *body, sd_janus_cb cb, void *arg);

/* Why a reply of the media server is a refusal (NULL reply: it went away),
 * or NULL when it is not. */
const char *sd_sfu_refusal(json_t *reply);

/* Once a second: keepalives of the Janus sessions. */
void sd_sfu_tick(sd_ctx *ctx, long long now_us);

#endif
