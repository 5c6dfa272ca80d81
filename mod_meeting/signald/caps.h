/*
 * signald: how many sockets one user and one client address may hold at once
 * (--max-sockets-per-user, --max-sockets-per-address). Behind httpd every
 * socket holds an httpd worker thread for its whole life (docs/operations.md,
 * "Sizing"), so without these a registered user could take every worker
 * with one socket per meeting. A socket over a cap gets an error frame
 * TOO_MANY_CONNECTIONS and is closed with 4430 before it takes a seat.
 */
#ifndef SD_CAPS_H
#define SD_CAPS_H

#include <libwebsockets.h>

#include "conn.h"

#define SD_CLOSE_TOO_MANY 4430

/* Notes the client's address on c, from the upgrade request: the last
 * X-Forwarded-For entry when the peer is a proxy on this machine (httpd's
 * mod_proxy appends the address it saw), else the peer itself. */
void sd_caps_address(sd_conn *c, struct lws *wsi);

/* 0 when c (ticket checked, listed) stays within both caps. Otherwise sends
 * the error frame, queues the close (4430) and returns -1. A socket that will
 * replace one of the same user in the same meeting (4409) does not count
 * twice. */
int sd_caps_check(sd_conn *c);

#endif
