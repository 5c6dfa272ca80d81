/*
 * signald: who holds a seat. The database is the judge (sd_seat_take,
 * sd_seat_renew, sd_seat_release in sql/002_seats.sql); this file asks it at
 * the right moments and keeps the room in step:
 *   connect   ticket good -> sd_seat_take -> joined / user-joined, or a close,
 *             or (a user in the waiting room) waiting, until an admission
 *             makes it take the seat again
 *   leave     the client's leave frame -> sd_seat_release -> user-left
 *   drop      socket lost -> grace period from its last sign of life; a
 *             reconnect inside it is silent, otherwise sd_seat_release and
 *             user-left
 *   renew     every --renew-interval, one batched sd_seat_renew for all
 *             live sockets
 */
#ifndef SD_SEATS_H
#define SD_SEATS_H

#include <libwebsockets.h>

#include "context.h"
#include "conn.h"

/* Starts renewing leases on ctx->db (ctx->seats). missed is called when a
 * renewal finds seats the database no longer has: a removal or an end the
 * LISTEN connection missed (pgevents.c reconciles). -1 when out of memory. */
int sd_seats_start(sd_ctx *ctx, void (*missed)(sd_ctx *ctx));

/* The socket's ticket was accepted: take its seat. */
void sd_seats_connect(sd_conn *c);

/* The socket closed (whoever closed it). */
void sd_seats_disconnect(sd_conn *c);

/* The client sent leave (seated, or waiting: it stops waiting). */
void sd_seats_leave(sd_conn *c);

/* The waiting socket c may have been admitted or denied: it takes its seat
 * again, and the answer decides (admitted and joined, denied and 4403, ...).
 * If that cannot be sent (c is then closed with 1013), its room may be left
 * empty: the caller collects it (sd_room_gc). */
void sd_seats_retake(sd_conn *c);

/* Every waiting socket takes its seat again: after the LISTEN connection
 * was lost, an admission may have gone unheard. */
void sd_seats_recheck_waiting(sd_ctx *ctx);

/* Ends the grace periods that ran out. */
void sd_seats_sweep(sd_ctx *ctx, long long now_us);

/* From now on sockets closing keep their seats: a restarted signald finds
 * them on the clients' reconnect. */
void sd_seats_shutdown(sd_ctx *ctx);

#endif
