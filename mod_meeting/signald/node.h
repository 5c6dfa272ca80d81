/*
 * signald: this node in the node registry (SPEC.md 10, docs/cluster.md).
 *
 * Every --node-timeout / 3 seconds one statement (sd_node_beat) says that
 * this node lives, where its rooms are reached (--node-url) and its load
 * (open sockets), and asks which of the meetings it holds rooms for are now
 * placed on another node: a node that was thought dead (a pause longer than
 * --node-timeout) may come back to find its meetings moved. Their sockets
 * are closed with 4307 and the new node's URL; the seats stay taken, so the
 * clients' reconnects there keep them. A socket for a meeting placed on
 * another live node is refused the same way when its seat is asked for
 * (sd_seat_take_on, seats.c).
 */
#ifndef SD_NODE_H
#define SD_NODE_H

#include <libwebsockets.h>

#include "context.h"

/* The close code of a socket for a meeting that lives on another node. */
#define SD_CLOSE_MOVED 4307

/* What is done to the meetings the registry placed on another node: their
 * sockets are closed with SD_CLOSE_MOVED and reason (sd_control_moved). A
 * callback, so that this file needs nothing of the rooms' control. */
typedef void (*sd_node_moved_fn)(sd_ctx *ctx, long long meeting_id, const char *reason);

/* Starts the heartbeat on ctx->db. -1 when out of memory. */
int sd_node_start(sd_ctx *ctx, sd_node_moved_fn moved);

void sd_node_stop(sd_ctx *ctx);

/* A close reason that stays valid: url itself kept for the process's life
 * (node URLs are few), or a fixed sentence when url is empty or too many
 * have been kept. */
const char *sd_node_reason(sd_ctx *ctx, const char *url);

#endif
