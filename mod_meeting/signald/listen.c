/* signald: the listening socket (see listen.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "context.h"
#include "util.h"

/* Connections accepted per wake-up, so a flood cannot starve the loop. */
#define ACCEPT_BATCH 64

struct sd_listen {
    sd_ctx *ctx;
    struct lws *listener;
    lws_sorted_usec_list_t resume_sul;
    int paused_for_good;
};

int sd_listen_address(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;

    memset(sa, 0, sizeof(*sa));
    if (port < 1 || port > 65535)
        return -1;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

static int bind_to(const struct sockaddr_storage *sa, socklen_t len)
{
    int one = 1, fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    /* Exactly the address given: an IPv6 one does not take IPv4 as well. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
        || (sa->ss_family == AF_INET6
            && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        || bind(fd, (const struct sockaddr *)sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sd_listen_open(const char *host, int port)
{
    struct sockaddr_storage sa;
    socklen_t len;
    int fd = -1;

    /* The command line was refused already if this fails. */
    errno = EINVAL;
    if (sd_listen_address(host, port, &sa, &len) == 0)
        fd = bind_to(&sa, len);
    if (fd < 0)
        sd_log("error", "MM3011: cannot listen on %s:%d: %s", host, port, strerror(errno));
    return fd;
}

static void resume(lws_sorted_usec_list_t *sul)
{
    struct sd_listen *l = lws_container_of(sul, struct sd_listen, resume_sul);

    if (l->listener && !l->paused_for_good)
        lws_rx_flow_control(l->listener, 1);
}

/* Out of descriptors: the pending connection stays readable, so stop
 * listening for a second rather than spin on it. */
static void pause_accepting(struct sd_listen *l, int err)
{
    sd_log("error", "MM3012: cannot accept connections: %s; pausing for a second", strerror(err));
    lws_rx_flow_control(l->listener, 0);
    lws_sul_schedule(l->ctx->lws, 0, &l->resume_sul, resume, SD_US);
}

static void accept_some(struct sd_listen *l, int lfd)
{
    int one = 1;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(l, errno);
            return;
        }
        /* Frames are small and each is wanted at once: no Nagle delay
         * behind an unacknowledged one (lws sets this on sockets it accepts
         * itself, not on adopted ones). */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* On failure lws has closed fd already. */
        if (!lws_adopt_socket_vhost(l->ctx->vhost, fd))
            sd_log("error", "MM3013: cannot hand a new connection to the event loop");
    }
}

int sd_listen_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    sd_ctx *ctx = lws_context_user(lws_get_context(wsi));
    struct sd_listen *l = ctx ? ctx->listen : NULL;

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (l)
            accept_some(l, lws_get_socket_fd(wsi));
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (l && wsi == l->listener)
            l->listener = NULL;
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a client naming this protocol gets no WebSocket */
    default:
        return 0;
    }
}

void sd_listen_pause(sd_ctx *ctx)
{
    struct sd_listen *l = ctx->listen;

    l->paused_for_good = 1;
    lws_sul_cancel(&l->resume_sul);
    if (l->listener)
        lws_rx_flow_control(l->listener, 0);
}

int sd_listen_start(sd_ctx *ctx, int fd)
{
    struct sd_listen *l = calloc(1, sizeof(*l));
    lws_sock_file_fd_type desc;

    if (!l) {
        close(fd);
        sd_log("error", "MM3014: cannot add the listening socket to the event loop");
        return -1;
    }
    l->ctx = ctx;
    ctx->listen = l;
    desc.filefd = fd;
    l->listener = lws_adopt_descriptor_vhost(ctx->vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                             SD_LISTEN_PROTOCOL, NULL);
    if (!l->listener) {
        sd_log("error", "MM3014: cannot add the listening socket to the event loop");
        return -1;
    }
    return 0;
}
