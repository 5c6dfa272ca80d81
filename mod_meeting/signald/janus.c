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

struct sd_janus {
    sd_ctx *ctx;
    char url_copy[256];
    const char *host, *path; /* in url_copy */
    int port;
    char *secret;
    sd_janus_hooks hooks;
    void *hooks_arg;
    struct lws *wsi;
    int up, stopping;
    lws_sorted_usec_list_t retry_sul;
    tx *txs;
    unsigned long long tx_serial;
    out *out_head, *out_tail;
    char *rx;
    size_t rx_len, rx_cap;
};

typedef struct sd_janus janus;

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_retry(janus *j)
{
    if (!j->stopping)
        lws_sul_schedule(j->ctx->lws, 0, &j->retry_sul, connect_now, RETRY_US);
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    janus *j = lws_container_of(sul, janus, retry_sul);
    struct lws_client_connect_info i;

    memset(&i, 0, sizeof(i));
    i.context = j->ctx->lws;
    i.vhost = j->ctx->vhost;
    i.address = j->host;
    i.port = j->port;
    i.path = j->path;
    i.host = j->host;
    i.origin = j->host;
    i.protocol = "janus-protocol";
    i.local_protocol_name = SD_JANUS_PROTOCOL;
    i.pwsi = &j->wsi;
    if (!lws_client_connect_via_info(&i)) {
        j->wsi = NULL;
        schedule_retry(j);
    }
}

/* "ws://host:port/path" into host, port and path (in url_copy). */
static int parse_url(janus *j, const char *url)
{
    const char *prot;
    int n = snprintf(j->url_copy, sizeof(j->url_copy), "%s", url);

    if (n < 0 || (size_t)n >= sizeof(j->url_copy)
        || lws_parse_uri(j->url_copy, &prot, &j->host, &j->port, &j->path)
        || strcmp(prot, "ws") != 0 || !*j->host || j->port <= 0)
        return -1;
    /* lws_parse_uri drops the path's leading slash. */
    j->path = *j->path ? j->path - 1 : "/";
    if (*j->path != '/')
        j->path = "/";
    return 0;
}

static int read_secret(janus *j, const char *file)
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
    j->secret = malloc(len + 1);
    if (j->secret) {
        memcpy(j->secret, s, len);
        j->secret[len] = '\0';
    }
    memset(s, 0, len);
    free(s);
    return j->secret ? 0 : -1;
}

int sd_janus_start(sd_ctx *ctx, const char *url, const char *secret_file,
                   const sd_janus_hooks *hooks, void *arg)
{
    janus *j = calloc(1, sizeof(*j));

    if (!j) {
        sd_log("error", "MM3025: out of memory");
        return -1;
    }
    j->ctx = ctx;
    j->hooks = *hooks;
    j->hooks_arg = arg;
    ctx->janus = j;
    if (parse_url(j, url)) {
        sd_log("error", "MM0452: --media-server %s is not ws://HOST:PORT[/PATH]", url);
        return -1;
    }
    if (read_secret(j, secret_file))
        return -1;
    connect_now(&j->retry_sul);
    return 0;
}

int sd_janus_is_up(const sd_ctx *ctx)
{
    return ctx->janus && ctx->janus->up;
}

static void drop_out(janus *j)
{
    while (j->out_head) {
        out *o = j->out_head;

        j->out_head = o->next;
        free(o);
    }
    j->out_tail = NULL;
}

/* Every answer still due is NULL now; callbacks may send (and fail). */
static void fail_all(janus *j)
{
    tx *list = j->txs;

    j->txs = NULL;
    while (list) {
        tx *t = list;

        list = t->next;
        if (t->cb)
            t->cb(t->arg, NULL);
        free(t);
    }
}

static void lost(janus *j, const char *why)
{
    int was_up = j->up;

    j->wsi = NULL;
    j->up = 0;
    drop_out(j);
    free(j->rx);
    j->rx = NULL;
    j->rx_len = j->rx_cap = 0;
    if (was_up)
        sd_log("warn", "MM0453: media server connection lost (%s); reconnecting", why);
    fail_all(j);
    if (was_up && j->hooks.down)
        j->hooks.down(j->hooks_arg);
    schedule_retry(j);
}

void sd_janus_stop(sd_ctx *ctx)
{
    janus *j = ctx->janus;

    j->stopping = 1;
    lws_sul_cancel(&j->retry_sul);
    if (j->wsi)
        lws_set_timeout(j->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    j->up = 0;
    drop_out(j);
    fail_all(j);
    free(j->rx);
    j->rx = NULL;
    free(j->secret);
    j->secret = NULL;
}

int sd_janus_send(sd_ctx *ctx, json_t *req, int ack_final, sd_janus_cb cb, void *arg)
{
    janus *j = ctx->janus;
    char id[32];
    tx *t;
    out *o;
    size_t n;

    if (!j || !j->up || !req) {
        json_decref(req);
        return -1;
    }
    t = calloc(1, sizeof(*t));
    snprintf(id, sizeof(id), "t%llu", ++j->tx_serial);
    if (!t || json_object_set_new(req, "transaction", json_string(id))
        || json_object_set_new(req, "apisecret", json_string(j->secret))
        || !(n = json_dumpb(req, NULL, 0, JSON_COMPACT))
        || !(o = malloc(sizeof(*o) + LWS_PRE + n))) {
        free(t);
        json_decref(req);
        return -1;
    }
    o->len = json_dumpb(req, (char *)o->data + LWS_PRE, n, JSON_COMPACT);
    o->next = NULL;
    json_decref(req);
    if (j->out_tail)
        j->out_tail->next = o;
    else
        j->out_head = o;
    j->out_tail = o;
    t->id = j->tx_serial;
    t->ack_final = ack_final;
    t->cb = cb;
    t->arg = arg;
    t->next = j->txs;
    j->txs = t;
    lws_callback_on_writable(j->wsi);
    return 0;
}

void sd_janus_forget(sd_ctx *ctx, void *arg)
{
    for (tx *t = ctx->janus ? ctx->janus->txs : NULL; t; t = t->next)
        if (t->arg == arg)
            t->cb = NULL;
}

static int writable(janus *j)
{
    out *o = j->out_head;

    if (!o)
        return 0;
    j->out_head = o->next;
    if (!j->out_head)
        j->out_tail = NULL;
    if (lws_write(j->wsi, o->data + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len) {
        free(o);
        return -1;
    }
    free(o);
    if (j->out_head)
        lws_callback_on_writable(j->wsi);
    return 0;
}

/* The transaction a message answers, unlinked, or NULL. An "ack" answers
 * only the requests that get nothing more. */
static tx *take_tx(janus *j, json_t *msg)
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
    for (tx **p = &j->txs; *p; p = &(*p)->next)
        if ((*p)->id == n) {
            tx *t = *p;

            if (is_ack && !t->ack_final)
                return NULL;
            *p = t->next;
            return t;
        }
    return NULL;
}

static void message(janus *j, const char *data, size_t len)
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
    t = take_tx(j, msg);
    if (t) {
        if (t->cb)
            t->cb(t->arg, msg);
        free(t);
    } else if (kind && strcmp(kind, "ack") != 0 && j->hooks.event) {
        j->hooks.event(j->hooks_arg, msg);
    }
    json_decref(msg);
}

static int receive(janus *j, const void *in, size_t len)
{
    int first = lws_is_first_fragment(j->wsi), final = lws_is_final_fragment(j->wsi);

    if (first)
        j->rx_len = 0;
    if (first && final) {
        message(j, in, len);
        return 0;
    }
    if (j->rx_len + len > RX_MAX)
        return -1;
    if (j->rx_len + len > j->rx_cap) {
        size_t cap = j->rx_cap ? j->rx_cap * 2 : 16384;
        char *p;

        while (cap < j->rx_len + len)
            cap *= 2;
        if (!(p = realloc(j->rx, cap)))
            return -1;
        j->rx = p;
        j->rx_cap = cap;
    }
    memcpy(j->rx + j->rx_len, in, len);
    j->rx_len += len;
    if (final)
        message(j, j->rx, j->rx_len);
    return 0;
}

int sd_janus_lws_callback(struct lws *w, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    sd_ctx *ctx = lws_context_user(lws_get_context(w));
    janus *j = ctx ? ctx->janus : NULL;

    (void)user;
    if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
        return -1; /* a client naming this protocol gets no WebSocket */
    if (!j)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (w != j->wsi)
            return -1;
        j->up = 1;
        sd_log("info", "MM0455: connected to the media server %s:%d", j->host, j->port);
        if (j->hooks.up)
            j->hooks.up(j->hooks_arg);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return w == j->wsi ? receive(j, in, len) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return w == j->wsi ? writable(j) : -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (w == j->wsi || !j->wsi)
            lost(j, in && len ? "connection error" : "cannot connect");
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (w == j->wsi)
            lost(j, "closed");
        return 0;
    default:
        return 0;
    }
}
