/*
 * signald: the client protocol (docs/signaling.md). Carries out each frame
 * a client sends once parse.c has read and checked it. A bad frame is
 * answered with an error frame (frames.h); the socket stays open.
 */
#ifndef SD_PROTOCOL_H
#define SD_PROTOCOL_H

#include <stddef.h>

#include "conn.h"

/* One complete message from a seated or waiting client. */
void sd_protocol_frame(sd_conn *c, const unsigned char *data, size_t len, int binary);

#endif
