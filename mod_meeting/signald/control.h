/*
 * signald: what a control event from the REST side does to a room. Called
 * for NOTIFY payloads (pgevents.c) and by reconciliation after the LISTEN
 * connection was lost, so each action is safe to apply twice.
 */
#ifndef MM_SIG_CONTROL_H
#define MM_SIG_CONTROL_H

#include <jansson.h>

/* participant-removed to everyone (the removed user included), then the
 * removed user's socket is closed with 4403 and the others get user-left. */
void mm_control_removed(long long meeting_id, long long user_id);

/* meeting-ended to everyone, every socket closed with 4410, room dropped. */
void mm_control_ended(long long meeting_id);

/* Left over REST: that user's socket closed with 1000, user-left to the
 * others. The seat was released by the REST call. */
void mm_control_left(long long meeting_id, long long user_id);

/* role-changed to everyone; the role shown to later joiners follows. */
void mm_control_role(long long meeting_id, long long user_id, const char *role);

/* A frame for everyone in the room as it is (chat, recording-*). */
void mm_control_push(long long meeting_id, const json_t *frame);

#endif
