/*
 * signald: the server's frames (docs/signaling.md), built from what the
 * rooms hold. A leaf: the protocol, the seats, the SFU and the control events
 * all send them.
 */
#ifndef SD_FRAMES_H
#define SD_FRAMES_H

#include <jansson.h>

#include "conn.h"
#include "rooms.h"

/* {type, meeting_id}: the start of every server frame. NULL if out of memory;
 * the builders below accept NULL and pass it on. */
json_t *sd_frame(const char *type, long long meeting_id);

/* {type, meeting_id, user_id}: user-left, participant-removed. */
json_t *sd_frame_user(const char *type, long long meeting_id, long long user_id);

/* {type, meeting_id, user_id, username, nickname, role}: user-joined. */
json_t *sd_frame_peer(const char *type, const sd_seat *s);

/* joined: to s's socket, listing the others the room has announced, with the
 * meeting's settings, the media path (sfu: through the SFU; else "mesh",
 * peers connect to each other) and s's starting microphone state. */
json_t *sd_frame_joined(const sd_seat *s, int sfu);

/* media-state of s as last known: {user_id, audio_enabled, video_enabled,
 * screen_sharing}. */
json_t *sd_frame_media(const sd_seat *s);

/* Sends {type:"error", meeting_id, code, message} to c. */
void sd_send_error(sd_conn *c, const char *code, const char *message);

#endif
