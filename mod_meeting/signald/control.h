/*
 * signald: what a control event from the REST side does to a room. Called
 * for NOTIFY payloads (pgevents.c) and by reconciliation after the LISTEN
 * connection was lost, so each action is safe to apply twice.
 */
#ifndef SD_CONTROL_H
#define SD_CONTROL_H

#include <jansson.h>

#include "rooms.h"

/* participant-removed to everyone (the removed user included), then the
 * removed user's socket is closed with 4403 and the others get user-left. */
void sd_control_removed(sd_ctx *ctx, long long meeting_id, long long user_id);

/* Every socket of the room, seated or waiting, and every seat still being
 * taken, goes with code and reason, frame (if any) first; the room is
 * dropped. reason must outlive the takes (a literal or a kept string). */
void sd_control_close_room(sd_room *r, int code, const char *reason, const char *frame);

/* The meeting was placed on another node: every socket of it here is closed
 * with 4307 (SD_CLOSE_MOVED) and reason, its room forgotten (seats stay
 * taken in the database, for the reconnects). */
void sd_control_moved(sd_ctx *ctx, long long meeting_id, const char *reason);

/* meeting-ended to everyone, every socket closed with 4410, room dropped. */
void sd_control_ended(sd_ctx *ctx, long long meeting_id);

/* Left over REST: that user's socket closed with 1000, user-left to the
 * others. The seat was released by the REST call. */
void sd_control_left(sd_ctx *ctx, long long meeting_id, long long user_id);

/* role-changed to everyone; the role shown to later joiners follows. */
void sd_control_role(sd_ctx *ctx, long long meeting_id, long long user_id, const char *role);

/* A frame for everyone in the room as it is (chat, recording-*). */
void sd_control_push(sd_ctx *ctx, long long meeting_id, const json_t *frame);

/* waiting-joined: the frame (the event as it is) to hosts and moderators. */
void sd_control_waiting_joined(sd_ctx *ctx, long long meeting_id, const json_t *frame);

/* waiting-left (the event as it is) to hosts and moderators, and the
 * waiting user's socket acts on reason: "admitted" takes its seat (admitted,
 * joined), "denied" gets denied and 4403, "left" is closed with 1000. */
void sd_control_waiting_left(sd_ctx *ctx, long long meeting_id, long long user_id,
                             const char *reason, const json_t *frame);

/* settings-changed to everyone; the room keeps the settings for later joiners
 * and its checks, and with screen sharing turned off the shares of everyone
 * but hosts and moderators stop (screen-share-stopped to the sharer, its
 * media-state to the others). */
void sd_control_settings(sd_ctx *ctx, long long meeting_id, const json_t *settings);

/* mute-requested to the user's socket, their media-state with audio off to
 * the others. */
void sd_control_mute(sd_ctx *ctx, long long meeting_id, long long user_id, long long by_user_id);

#endif
