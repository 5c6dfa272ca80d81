/* signald: room events handed over by this node's httpd (see handover.h). */
#define _POSIX_C_SOURCE 200809L
#include "handover.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "token.h"
#include "util.h"

/* Larger than any chat event's datagram: its signature, 1,000 characters of
 * content, each at most six bytes once escaped, and the rest of the event. */
#define EVENT_MAX 16384

static int sock = -1;
static const char *path; /* --events-socket, unlinked at stop */
static struct lws *wsi;
static sd_handover_apply_fn *apply_event;
static const mm_token_key *key;
static unsigned long long unsigned_seen; /* datagrams dropped unsigned */

/* Whether the datagram's signature (its first line) is the event's (the
 * rest) under the key httpd signs with; the event is left at *event. */
static int signed_by_httpd(char *data, size_t len, const char **event)
{
    static char msg[sizeof(MM_ROOM_EVENT_LABEL) + EVENT_MAX];
    char *nl = memchr(data, '\n', len), want[65];

    if (!nl)
        return 0;
    *nl = '\0';
    *event = nl + 1;
    memcpy(msg, MM_ROOM_EVENT_LABEL, sizeof(MM_ROOM_EVENT_LABEL) - 1);
    memcpy(msg + sizeof(MM_ROOM_EVENT_LABEL) - 1, *event, len - (size_t)(*event - data) + 1);
    return mm_token_mac(key, msg, want) == 0 && mm_token_equal(data, want);
}

/* One datagram (NUL-terminated, len bytes before the NUL): a signed chat
 * event, applied as one heard by LISTEN would be. */
static void apply(char *data, size_t len)
{
    const char *text = NULL;
    json_t *ev;
    const char *type;

    if (!signed_by_httpd(data, len, &text)) {
        /* Logged at the 1st, 2nd, 4th, 8th … so that a writer of such
         * datagrams cannot flood the log. */
        unsigned_seen++;
        if (!(unsigned_seen & (unsigned_seen - 1)))
            sd_log("warn",
                   "MM3805: handed-over event ignored: not signed with the JWT secret "
                   "(%llu so far)",
                   unsigned_seen);
        return;
    }
    ev = json_loads(text, 0, NULL);
    type = json_string_value(json_object_get(ev, "type"));

    if (type && !strcmp(type, "chat"))
        apply_event(ev);
    else
        sd_log("warn", "MM3800: handed-over event ignored: not a chat event");
    json_decref(ev);
}

void sd_handover_drain(void)
{
    static char buf[EVENT_MAX + 1];
    ssize_t n;

    if (sock < 0)
        return;
    while ((n = recv(sock, buf, EVENT_MAX, MSG_DONTWAIT | MSG_TRUNC)) >= 0 || errno == EINTR) {
        if (n < 0)
            continue;
        if ((size_t)n > EVENT_MAX) {
            sd_log("warn", "MM3801: handed-over event of %zd bytes ignored: too large", n);
            continue;
        }
        buf[n] = '\0';
        apply(buf, (size_t)n);
    }
}

static int bind_socket(const sd_config *cfg)
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
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    /* A signald that died left its file behind: bind would fail on it. */
    if (unlink(cfg->events_socket) < 0 && errno != ENOENT)
        return -1;
    if (bind(sock, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    path = cfg->events_socket;
    /* Only httpd's children may hand events over: a datagram here becomes a
     * frame in a room. */
    if (chmod(path, S_IRUSR | S_IWUSR) < 0)
        return -1;
    if (cfg->events_owner >= 0 && chown(path, (uid_t)cfg->events_owner, (gid_t)-1) < 0)
        return -1;
    return 0;
}

int sd_handover_start(struct lws_context *ctx, struct lws_vhost *vh, const sd_config *cfg,
                      const mm_token_key *k, sd_handover_apply_fn *apply)
{
    lws_sock_file_fd_type desc;

    (void)ctx;
    if (!cfg->events_socket)
        return 0;
    key = k;
    apply_event = apply;
    if (bind_socket(cfg) < 0) {
        sd_log("error", "MM3802: cannot take events at %s: %s", cfg->events_socket,
               strerror(errno));
        sd_handover_stop();
        return -1;
    }
    desc.filefd = sock;
    wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, desc, SD_HANDOVER_PROTOCOL, NULL);
    if (!wsi) {
        sd_log("error", "MM3803: cannot add the events socket to the event loop");
        sd_handover_stop();
        return -1;
    }
    sd_log("info", "MM3804: taking room events from httpd at %s", path);
    return 0;
}

void sd_handover_stop(void)
{
    if (path)
        unlink(path);
    path = NULL;
    /* Adopted: lws closes the descriptor with the context. */
    if (!wsi && sock >= 0)
        close(sock);
    sock = -1;
}

int sd_handover_lws_callback(struct lws *w, enum lws_callback_reasons reason, void *user, void *in,
                             size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        sd_handover_drain();
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (w == wsi) {
            wsi = NULL;
            sock = -1;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a client naming this protocol gets no WebSocket */
    default:
        return 0;
    }
}
