/*
 * signald: the lws protocol of client sockets: handshake, reassembly of
 * messages, and the hand-off to seats.c and protocol.c.
 */
#ifndef MM_SIG_WS_H
#define MM_SIG_WS_H

#include <libwebsockets.h>

#include "options.h"

#define MM_WS_PROTOCOL "signaling"

void mm_ws_init(const mm_sig_config *cfg);

int mm_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);

#endif
