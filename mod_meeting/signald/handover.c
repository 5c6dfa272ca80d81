/* signald: room events handed over by this node's httpd (see handover.h). */
#define _POSIX_C_SOURCE 200809L
#include "handover.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "key.h"
#include "options.h"
#include "token.h"
#include "util.h"

/* Larger than any chat event's datagram: its signature, 1,000 characters of
 * content, each at most six bytes once escaped, and the rest of the event. */
#define EVENT_MAX 16384

/* After a wake that took events the socket is not watched for BATCH_S: on a
 * busy node signald then wakes at most once a millisecond for chat, taking
 * every event sent meanwhile in one go, rather than once a send (a wake costs
 * more than the event: docs/benchmarks.md). A frame waits at most BATCH_S;
 * the first after a quiet spell, not at all. The socket's queue fills only
 * past net.unix.max_dgram_qlen sends within one pause, and then a sender
 * waits for the pause's end. */
#define BATCH_S 0.001

struct sd_handover {
    sd_ctx *ctx;
    int sock;
    const char *path; /* --events-socket, unlinked at stop */
    struct lws *wsi;
    sd_handover_apply_fn *apply_event;
    unsigned long long unsigned_seen; /* datagrams dropped unsigned */
    /* Runs while the socket is not watched. libev's: an lws timer may fire
     * only at lws's next wake. */
    ev_timer pause_end;
};

typedef struct sd_handover handover;

/* A datagram split at its first newline: the signature, then the event. */
typedef struct {
    const char *mac;
    const char *event;
    size_t event_len;
} signed_event;

/* Whether e's signature is its event's under key (the key httpd signs with). */
static int signed_with(const mm_token_key *key, void *arg)
{
    static char msg[sizeof(MM_ROOM_EVENT_LABEL) + EVENT_MAX];
    const signed_event *e = arg;
    char want[65];

    memcpy(msg, MM_ROOM_EVENT_LABEL, sizeof(MM_ROOM_EVENT_LABEL) - 1);
    memcpy(msg + sizeof(MM_ROOM_EVENT_LABEL) - 1, e->event, e->event_len + 1);
    return mm_token_mac(key, msg, want) == 0 && mm_token_equal(e->mac, want);
}

/* Whether the datagram is signed by httpd: under signald's key, or under the
 * secret file's new one after a rotation (key.h). The event is left at
 * *event. */
static int signed_by_httpd(sd_ctx *ctx, char *data, size_t len, const char **event)
{
    char *nl = memchr(data, '\n', len);
    signed_event e;

    if (!nl)
        return 0;
    *nl = '\0';
    e = (signed_event){data, nl + 1, len - (size_t)(nl + 1 - data)};
    *event = e.event;
    return signed_with(ctx->key, &e) || sd_key_reread(ctx, signed_with, &e);
}

/* One datagram (NUL-terminated, len bytes before the NUL): a signed chat
 * event, applied as one heard by LISTEN would be. */
static void apply(handover *h, char *data, size_t len)
{
    const char *text = NULL;
    json_t *ev;
    const char *type;

    if (!signed_by_httpd(h->ctx, data, len, &text)) {
        /* Logged at the 1st, 2nd, 4th, 8th … so that a writer of such
         * datagrams cannot flood the log. */
        h->unsigned_seen++;
        if (!(h->unsigned_seen & (h->unsigned_seen - 1)))
            sd_log("warn",
                   "MM3805: handed-over event ignored: not signed with the JWT secret "
                   "(%llu so far)",
                   h->unsigned_seen);
        return;
    }
    ev = json_loads(text, 0, NULL);
    type = json_string_value(json_object_get(ev, "type"));

    if (type && !strcmp(type, "chat"))
        h->apply_event(h->ctx, ev);
    else
        sd_log("warn", "MM3800: handed-over event ignored: not a chat event");
    json_decref(ev);
}

/* Applies every datagram waiting: how many there were. */
static int take_all(handover *h)
{
    static char buf[EVENT_MAX + 1];
    ssize_t n;
    int taken = 0;

    if (h->sock < 0)
        return 0;
    while ((n = recv(h->sock, buf, EVENT_MAX, MSG_DONTWAIT | MSG_TRUNC)) >= 0 || errno == EINTR) {
        if (n < 0)
            continue;
        taken++;
        if ((size_t)n > EVENT_MAX) {
            sd_log("warn", "MM3801: handed-over event of %zd bytes ignored: too large", n);
            continue;
        }
        buf[n] = '\0';
        apply(h, buf, (size_t)n);
    }
    return taken;
}

void sd_handover_drain(sd_ctx *ctx)
{
    if (ctx->handover)
        take_all(ctx->handover);
}

static void pause_watching(handover *h)
{
    lws_rx_flow_control(h->wsi, 0);
    ev_timer_start(h->ctx->loop, &h->pause_end);
}

/* The pause is over: what came during it, and another pause; or, when
 * nothing came, the socket is watched again. */
static void pause_over(struct ev_loop *loop, ev_timer *w, int revents)
{
    handover *h = w->data;

    (void)revents;
    if (!h->wsi)
        return;
    if (take_all(h))
        ev_timer_start(loop, w);
    else
        lws_rx_flow_control(h->wsi, 1);
}

/* The socket is readable: take what is there, then pause. */
static void woken(handover *h)
{
    if (take_all(h) && h->wsi && !ev_is_active(&h->pause_end))
        pause_watching(h);
}

static int bind_socket(handover *h, const sd_config *cfg)
{
    struct sockaddr_un sa;
    size_t len = strlen(cfg->events_socket);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (len >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, cfg->events_socket, len + 1);
    h->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->sock < 0)
        return -1;
    /* A signald that died left its file behind: bind would fail on it. */
    if (unlink(cfg->events_socket) < 0 && errno != ENOENT)
        return -1;
    if (bind(h->sock, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    h->path = cfg->events_socket;
    /* Only httpd's children may hand events over: a datagram here becomes a
     * frame in a room. */
    if (chmod(h->path, S_IRUSR | S_IWUSR) < 0)
        return -1;
    if (cfg->events_owner >= 0 && chown(h->path, (uid_t)cfg->events_owner, (gid_t)-1) < 0)
        return -1;
    return 0;
}

int sd_handover_start(sd_ctx *ctx, sd_handover_apply_fn *apply)
{
    const sd_config *cfg = ctx->cfg;
    lws_sock_file_fd_type desc;
    handover *h;

    if (!cfg->events_socket)
        return 0;
    if (!(h = calloc(1, sizeof(*h)))) {
        sd_log("error", "MM3025: out of memory");
        return -1;
    }
    h->ctx = ctx;
    h->sock = -1;
    h->apply_event = apply;
    ev_timer_init(&h->pause_end, pause_over, BATCH_S, 0.);
    h->pause_end.data = h;
    ctx->handover = h;
    if (bind_socket(h, cfg) < 0) {
        sd_log("error", "MM3802: cannot take events at %s: %s", cfg->events_socket,
               strerror(errno));
        sd_handover_stop(ctx);
        return -1;
    }
    desc.filefd = h->sock;
    h->wsi = lws_adopt_descriptor_vhost(ctx->vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                        SD_HANDOVER_PROTOCOL, NULL);
    if (!h->wsi) {
        sd_log("error", "MM3803: cannot add the events socket to the event loop");
        sd_handover_stop(ctx);
        return -1;
    }
    sd_log("info", "MM3804: taking room events from httpd at %s", h->path);
    return 0;
}

void sd_handover_stop(sd_ctx *ctx)
{
    handover *h = ctx->handover;

    if (!h)
        return;
    ev_timer_stop(ctx->loop, &h->pause_end);
    if (h->path)
        unlink(h->path);
    h->path = NULL;
    /* Adopted: lws closes the descriptor with the context. */
    if (!h->wsi && h->sock >= 0)
        close(h->sock);
    h->sock = -1;
}

int sd_handover_lws_callback(struct lws *w, enum lws_callback_reasons reason, void *user, void *in,
                             size_t len)
{
    sd_ctx *ctx = lws_context_user(lws_get_context(w));
    handover *h = ctx ? ctx->handover : NULL;

    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (h)
            woken(h);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (h && w == h->wsi) {
            h->wsi = NULL;
            h->sock = -1;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a client naming this protocol gets no WebSocket */
    default:
        return 0;
    }
}
