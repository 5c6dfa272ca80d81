/*
 * signald: the lws protocol of client sockets: handshake, reassembly of
 * messages, and the hand-off to seats.c and protocol.c.
 */
#ifndef SD_WS_H
#define SD_WS_H

#include <libwebsockets.h>

#define SD_WS_PROTOCOL "signaling"

int sd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

#endif
