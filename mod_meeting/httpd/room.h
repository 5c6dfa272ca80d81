/* Where clients meet: room_url with its signaling ticket, and ICE servers. */
#ifndef MM_ROOM_H
#define MM_ROOM_H

#include "reply.h"

/* The signaling URL for the caller in the path's meeting, with a fresh
 * ticket: <node_url>?meeting_id=M&user_id=U&token=T, where node_url is that
 * of the node the meeting is placed on (mm_db_result_more), or, NULL or empty,
 * MeetingSignalingURL. NULL on failure. */
const char *mm_room_url(mm_req *q, const char *node_url);

/* Adds room_url and ice_servers to a join reply's data. 0, or -1 on failure. */
int mm_room_fill(mm_req *q, const char *node_url, json_t *data);

/* coturn's REST credential: base64(HMAC-SHA1(secret, username)). */
const char *mm_turn_credential(apr_pool_t *p, const char *secret, const char *username);

#endif
