/*
 * signald: the listening socket. signald makes it itself instead of giving
 * lws an interface: lws 4.1 binds every interface (IPv6 any, dual stack)
 * when it cannot match the address it is given, even 127.0.0.1, and a
 * daemon meant to sit behind a local proxy must listen exactly where it was
 * told or not at all. Accepted sockets are handed to lws, which serves them
 * as if it had accepted them.
 */
#ifndef SD_LISTEN_H
#define SD_LISTEN_H

#include <sys/socket.h>

#include <libwebsockets.h>

/* Not context.h: options.c checks --listen with this header. */
struct sd_ctx;

/* The vhost protocol the listening socket is bound to. */
#define SD_LISTEN_PROTOCOL "mm-listen"

/* The socket address of host, a numeric IPv4 or IPv6 address (no name: it
 * could resolve to more than one place; no scope, no shorthand such as
 * 127.1), and port. The one check of --listen: the command line is refused
 * with it, and sd_listen_open builds its address with it. Returns 0, or -1
 * when host is not such an address or port is not 1..65535. */
int sd_listen_address(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len);

/* Binds and listens on host and port, which sd_listen_address accepted.
 * Returns the socket, or -1 after logging why. */
int sd_listen_open(const char *host, int port);

/* Puts the socket into ctx's event loop (ctx->lws, ctx->vhost): connections
 * are accepted from now on. Returns 0, or -1 (the socket is closed, or out of
 * memory). */
int sd_listen_start(struct sd_ctx *ctx, int fd);

/* Shutdown: accepts no more connections (they wait in the backlog, and are
 * refused once signald has exited). */
void sd_listen_pause(struct sd_ctx *ctx);

/* The callback of the SD_LISTEN_PROTOCOL protocol. */
int sd_listen_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len);

#endif
