/* signald: the WebSocket to Janus's API (see janus.h). */
#define _POSIX_C_SOURCE 200809L
#include "janus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "util.h"

/* A lost connection is tried again after this long. */
#define RETRY_US (1 * SD_US)
/* Janus's answers carry SDPs and lists of publishers; a message past this is
 * not Janus speaking and drops the connection. */
#define RX_MAX (1024 * 1024)

typedef struct tx {
    unsigned long long id;
    int ack_final;
    sd_janus_cb cb;
    void *arg;
    struct tx *next;
} tx;

typedef struct out {
    struct out *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then len bytes */
} out;

static struct lws_context *ctx;
static struct lws_vhost *vhost;
static char url_copy[256];
static const char *host, *path;
static int port;
static char *secret;
static sd_janus_hooks hooks;
static struct lws *wsi;
static int up, stopping;
static lws_sorted_usec_list_t retry_sul;
static tx *txs;
static unsigned long long tx_serial;
static out *out_head, *out_tail;
static char *rx;
static size_t rx_len, rx_cap;

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_retry(void)
{
    if (!stopping)
        lws_sul_schedule(ctx, 0, &retry_sul, connect_now, RETRY_US);
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    struct lws_client_connect_info i;

    (void)sul;
    memset(&i, 0, sizeof(i));
    i.context = ctx;
    i.vhost = vhost;
    i.address = host;
    i.port = port;
    i.path = path;
    i.host = host;
    i.origin = host;
    i.protocol = "janus-protocol";
    i.local_protocol_name = SD_JANUS_PROTOCOL;
    i.pwsi = &wsi;
    if (!lws_client_connect_via_info(&i)) {
        wsi = NULL;
        schedule_retry();
    }
}

/* "ws://host:port/path" into host, port and path (in url_copy). */
static int parse_url(const char *url)
{
    const char *prot;
    int n = snprintf(url_copy, sizeof(url_copy), "%s", url);

    if (n < 0 || (size_t)n >= sizeof(url_copy)
        || lws_parse_uri(url_copy, &prot, &host, &port, &path) || strcmp(prot, "ws") != 0 || !*host
        || port <= 0)
        return -1;
    /* lws_parse_uri drops the path's leading slash. */
    path = *path ? path - 1 : "/";
    if (*path != '/')
        path = "/";
    return 0;
}

static int read_secret(const char *file)
{
    unsigned char *s = NULL;
    size_t len = 0;
    const char *why = NULL;

    if (mm_secret_read(file, &s, &len, &why)) {
        sd_log("error", "MM0451: media server secret file %s %s", file, why);
        return -1;
    }
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        len--;
    secret = malloc(len + 1);
    if (secret) {
        memcpy(secret, s, len);
        secret[len] = '\0';
    }
    memset(s, 0, len);
    free(s);
    return secret ? 0 : -1;
}

int sd_janus_start(struct lws_context *c, struct lws_vhost *vh, const char *url,
                   const char *secret_file, const sd_janus_hooks *h)
{
    ctx = c;
    vhost = vh;
    hooks = *h;
    if (parse_url(url)) {
        sd_log("error", "MM0452: --media-server %s is not ws://HOST:PORT[/PATH]", url);
        return -1;
    }
    if (read_secret(secret_file))
        return -1;
    connect_now(NULL);
    return 0;
}

int sd_janus_is_up(void)
{
    return up;
}

static void drop_out(void)
{
    while (out_head) {
        out *o = out_head;

        out_head = o->next;
        free(o);
    }
    out_tail = NULL;
}

/* Every answer still due is NULL now; callbacks may send (and fail). */
static void fail_all(void)
{
    tx *list = txs;

    txs = NULL;
    while (list) {
        tx *t = list;

        list = t->next;
        if (t->cb)
            t->cb(t->arg, NULL);
        free(t);
    }
}

static void lost(const char *why)
{
    int was_up = up;

    wsi = NULL;
    up = 0;
    drop_out();
    free(rx);
    rx = NULL;
    rx_len = rx_cap = 0;
    if (was_up)
        sd_log("warn", "MM0453: media server connection lost (%s); reconnecting", why);
    fail_all();
    if (was_up && hooks.down)
        hooks.down();
    schedule_retry();
}

void sd_janus_stop(void)
{
    stopping = 1;
    lws_sul_cancel(&retry_sul);
    if (wsi)
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    up = 0;
    drop_out();
    fail_all();
    free(rx);
    rx = NULL;
    free(secret);
    secret = NULL;
}

int sd_janus_send(json_t *req, int ack_final, sd_janus_cb cb, void *arg)
{
    char id[32];
    tx *t;
    out *o;
    size_t n;

    if (!up || !req) {
        json_decref(req);
        return -1;
    }
    t = calloc(1, sizeof(*t));
    snprintf(id, sizeof(id), "t%llu", ++tx_serial);
    if (!t || json_object_set_new(req, "transaction", json_string(id))
        || json_object_set_new(req, "apisecret", json_string(secret))
        || !(n = json_dumpb(req, NULL, 0, JSON_COMPACT))
        || !(o = malloc(sizeof(*o) + LWS_PRE + n))) {
        free(t);
        json_decref(req);
        return -1;
    }
    o->len = json_dumpb(req, (char *)o->data + LWS_PRE, n, JSON_COMPACT);
    o->next = NULL;
    json_decref(req);
    if (out_tail)
        out_tail->next = o;
    else
        out_head = o;
    out_tail = o;
    t->id = tx_serial;
    t->ack_final = ack_final;
    t->cb = cb;
    t->arg = arg;
    t->next = txs;
    txs = t;
    lws_callback_on_writable(wsi);
    return 0;
}

void sd_janus_forget(void *arg)
{
    for (tx *t = txs; t; t = t->next)
        if (t->arg == arg)
            t->cb = NULL;
}

static int writable(void)
{
    out *o = out_head;

    if (!o)
        return 0;
    out_head = o->next;
    if (!out_head)
        out_tail = NULL;
    if (lws_write(wsi, o->data + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len) {
        free(o);
        return -1;
    }
    free(o);
    if (out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

/* The transaction a message answers, unlinked, or NULL. An "ack" answers
 * only the requests that get nothing more. */
static tx *take_tx(json_t *msg)
{
    const char *id = json_string_value(json_object_get(msg, "transaction"));
    const char *kind = json_string_value(json_object_get(msg, "janus"));
    int is_ack = kind && !strcmp(kind, "ack");
    unsigned long long n;
    char *end;

    if (!id || id[0] != 't')
        return NULL;
    n = strtoull(id + 1, &end, 10);
    if (*end)
        return NULL;
    for (tx **p = &txs; *p; p = &(*p)->next)
        if ((*p)->id == n) {
            tx *t = *p;

            if (is_ack && !t->ack_final)
                return NULL;
            *p = t->next;
            return t;
        }
    return NULL;
}

static void message(const char *data, size_t len)
{
    json_error_t err;
    json_t *msg = json_loadb(data, len, 0, &err);
    const char *kind = json_string_value(json_object_get(msg, "janus"));
    tx *t;

    if (!json_is_object(msg)) {
        sd_log("warn", "MM0454: media server sent something that is not a JSON object");
        json_decref(msg);
        return;
    }
    t = take_tx(msg);
    if (t) {
        if (t->cb)
            t->cb(t->arg, msg);
        free(t);
    } else if (kind && strcmp(kind, "ack") != 0 && hooks.event) {
        hooks.event(msg);
    }
    json_decref(msg);
}

static int receive(const void *in, size_t len)
{
    int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);

    if (first)
        rx_len = 0;
    if (first && final) {
        message(in, len);
        return 0;
    }
    if (rx_len + len > RX_MAX)
        return -1;
    if (rx_len + len > rx_cap) {
        size_t cap = rx_cap ? rx_cap * 2 : 16384;
        char *p;

        while (cap < rx_len + len)
            cap *= 2;
        if (!(p = realloc(rx, cap)))
            return -1;
        rx = p;
        rx_cap = cap;
    }
    memcpy(rx + rx_len, in, len);
    rx_len += len;
    if (final)
        message(rx, rx_len);
    return 0;
}

int sd_janus_lws_callback(struct lws *w, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a client naming this protocol gets no WebSocket */
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (w != wsi)
            return -1;
        up = 1;
        sd_log("info", "MM0455: connected to the media server %s:%d", host, port);
        if (hooks.up)
            hooks.up();
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return w == wsi ? receive(in, len) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return w == wsi ? writable() : -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (w == wsi || !wsi)
            lost(in && len ? "connection error" : "cannot connect");
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (w == wsi)
            lost("closed");
        return 0;
    default:
        return 0;
    }
}
