/*
 * signald: the upgrade request. The path must be the signaling endpoint and
 * the query must carry meeting_id, user_id and a ticket (JWT HS256 signed by
 * mod_meeting, typ "ticket") that names that same user and meeting and has
 * not expired. Membership and the meeting's state are checked afterwards by
 * sd_seat_take, since they may have changed since the ticket was signed.
 */
#ifndef SD_TICKET_H
#define SD_TICKET_H

#include <libwebsockets.h>

#include "context.h"

/* Any path ending in /ws/signaling (whatever prefix a proxy keeps), or "/"
 * (a proxy that maps the endpoint onto the root). */
int sd_auth_path_ok(struct lws *wsi);

/* Checks the query of the upgrade request, its parameters in any order.
 * Returns 0 with *meeting_id, *user_id and *gen (the token generation the
 * ticket was issued under, which sd_seat_take compares with the user's: a
 * log-out ends the ticket) set, or a close code with *why set to a static
 * reason: 4400 for a query no room_url is (a parameter given twice, too
 * long), 4401 for a ticket missing, invalid or not for those ids. */
int sd_auth_check(sd_ctx *ctx, struct lws *wsi, long long *meeting_id, long long *user_id,
                  long long *gen, const char **why);

#endif
