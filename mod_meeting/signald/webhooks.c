/* signald: the webhook deliverer (see webhooks.h). */
#include "webhooks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <ev.h>

#include "webhook_url.h"
#include "options.h"
#include "pq.h"
#include "util.h"

/* How often to look for due deliveries when nothing else prompts it. */
#define POLL_S 0.25
/* How often to tell of lapsed seats and forget old deliveries. */
#define SWEEP_S 5.0
#define KEEP_DAYS 30
/* Transfers one endpoint may hold at once: a slow one keeps to these. */
#define PER_WEBHOOK 4
/* What is kept of an answer; the rest is not read. */
#define RESPONSE_KEEP 1024
/* A lease outlasts the transfer's timeout by this much. */
#define LEASE_EXTRA_S 15
#define MAX_RETRY_AFTER 86400L

static const char SQL_CLAIM[] = "SELECT delivery_id, attempt, url, message_id, ts, body, signature"
                                " FROM mm_webhook_claim($1::integer, $2::integer, $3::integer)";
static const char SQL_RESULT[] =
    "SELECT mm_webhook_result($1::bigint, $2::integer, $3::integer, $4, $5::integer,"
    " $6::integer[])";
static const char SQL_SWEEP[] = "SELECT mm_webhook_sweep($1::integer)";

typedef struct sd_webhooks deliverer;

/* One attempt in flight. */
typedef struct job {
    deliverer *wh;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char delivery_id[24];
    char attempt[12];
    int allowed;      /* the URL matches a MeetingWebhookAllow target */
    int refused;      /* a connection to an internal address was refused */
    long retry_after; /* seconds; -1: none given */
    size_t resp_len;
    char resp[RESPONSE_KEEP + 1];
    struct job *prev, *next; /* in wh->transfers while libcurl has it */
} job;

/* The watchers' ->data, and libcurl's callbacks' arg, are this. */
struct sd_webhooks {
    const sd_config *cfg;
    sd_db *db;
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer curl_timer; /* libcurl's own timeout */
    ev_timer poll;
    ev_timer sweep;
    job *transfers; /* attempts libcurl is sending */
    int in_flight;  /* those and the ones whose outcome is being recorded */
    int claiming;
    int running;
    char schedule[256]; /* "{5000,300000,...}" */
};

static void claim(deliverer *wh);

/* What is kept of an answer goes into a text column: bytes that are not
 * printable ASCII are shown as '?', so it is valid UTF-8 whatever came. */
static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    job *j = arg;
    size_t len = size * n, room = RESPONSE_KEEP - j->resp_len;

    for (size_t i = 0; i < len && i < room; i++) {
        unsigned char c = (unsigned char)data[i];
        j->resp[j->resp_len++] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? c : '?';
    }
    j->resp[j->resp_len] = '\0';
    /* Enough read: stop the transfer (its status is known). */
    return j->resp_len >= RESPONSE_KEEP ? 0 : len;
}

/* Retry-After: seconds, or an HTTP date. */
static void retry_after(job *j, const char *v)
{
    char buf[64];
    size_t n = strcspn(v, "\r\n");
    time_t when;

    if (n >= sizeof(buf))
        return;
    memcpy(buf, v, n);
    buf[n] = '\0';
    if (isdigit((unsigned char)buf[0])) {
        j->retry_after = strtol(buf, NULL, 10);
    } else if ((when = curl_getdate(buf, NULL)) > 0) {
        j->retry_after = (long)(when - (time_t)sd_wall_s());
    }
    if (j->retry_after > MAX_RETRY_AFTER)
        j->retry_after = MAX_RETRY_AFTER;
    if (j->retry_after < -1)
        j->retry_after = 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    size_t len = size * n;
    static const char name[] = "retry-after:";

    if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        const char *v = data + sizeof(name) - 1;
        while (*v == ' ' || *v == '\t')
            v++;
        retry_after(arg, v);
    }
    return len;
}

/* Every connection libcurl makes comes through here, after the name was
 * resolved: an internal address is refused unless the URL is an allowed
 * target, whatever the name said when the webhook was stored. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    job *j = arg;

    (void)purpose;
    if (!j->allowed && !mm_addr_public(&a->addr)) {
        j->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *v)
{
    char line[1024];
    struct curl_slist *n;

    snprintf(line, sizeof(line), "%s: %s", name, v);
    n = curl_slist_append(l, line);
    if (!n)
        curl_slist_free_all(l);
    return n;
}

static void job_free(job *j)
{
    if (!j)
        return;
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->body);
    free(j);
}

/* The request of one claimed row (columns as SQL_CLAIM). */
static int job_setup(job *j, const PGresult *res, int row)
{
    const char *url = PQgetvalue(res, row, 2);
    CURL *e = j->easy;

    j->allowed =
        mm_webhook_allowed(url, j->wh->cfg->webhook_allow, (size_t)j->wh->cfg->n_webhook_allow);
    j->retry_after = -1;
    j->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (j->headers)
        j->headers = add_header(j->headers, "webhook-id", PQgetvalue(res, row, 3));
    if (j->headers)
        j->headers = add_header(j->headers, "webhook-timestamp", PQgetvalue(res, row, 4));
    if (j->headers)
        j->headers = add_header(j->headers, "webhook-signature", PQgetvalue(res, row, 6));
    if (j->headers)
        j->headers = curl_slist_append(j->headers, "Expect:");
    if (!j->headers || !(j->body = strdup(PQgetvalue(res, row, 5))))
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)j->wh->cfg->webhook_timeout);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mod_meeting-webhooks/1");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
    return 0;
}

static void record_done(void *arg, const PGresult *res)
{
    job *j = arg;
    deliverer *wh = j->wh;

    if (!res && wh->running)
        sd_log("warn", "MM3063: webhook delivery %s: outcome not recorded; retried after its lease",
               j->delivery_id);
    job_free(j);
    wh->in_flight--;
    if (wh->running)
        claim(wh);
}

/* Records the outcome of j's attempt: status 0 when there was no answer, and
 * then why in place of the answer. */
static void record(job *j, long status, const char *why)
{
    char code[12], ra[24];
    const char *params[6];

    snprintf(code, sizeof(code), "%ld", status);
    snprintf(ra, sizeof(ra), "%ld", j->retry_after);
    params[0] = j->delivery_id;
    params[1] = j->attempt;
    params[2] = code;
    params[3] = status ? j->resp : why;
    params[4] = ra; /* -1: none */
    params[5] = j->wh->schedule;
    if (sd_db_send(j->wh->db, SQL_RESULT, 6, params, record_done, j) != 0)
        record_done(j, NULL);
}

static void link_transfer(job *j)
{
    SD_LIST_PUSH(j->wh->transfers, j, next, prev);
}

static void unlink_transfer(job *j)
{
    SD_LIST_UNLINK(j->wh->transfers, j, next, prev);
    curl_multi_remove_handle(j->wh->multi, j->easy);
}

static void finished(job *j, CURLcode rc)
{
    long status = 0;
    char why[160];

    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    unlink_transfer(j);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && j->resp_len >= RESPONSE_KEEP))
        status = 0;
    if (j->refused)
        snprintf(why, sizeof(why),
                 "refused: the address is internal (loopback, private or "
                 "link-local) and not an allowed target");
    else
        snprintf(why, sizeof(why), "no answer: %s", curl_easy_strerror(rc));
    if (status != 0 && (status < 200 || status > 299))
        sd_log("info", "MM3064: webhook delivery %s attempt %s: HTTP %ld", j->delivery_id,
               j->attempt, status);
    else if (status == 0)
        sd_log("info", "MM3065: webhook delivery %s attempt %s: %s", j->delivery_id, j->attempt,
               why);
    record(j, status, why);
}

/* Starts the attempt of one claimed row. A URL no longer allowed (the
 * administrator's targets changed) is answered at once, unsent. */
static void start(deliverer *wh, const PGresult *res, int row)
{
    job *j = calloc(1, sizeof(*j));
    const sd_config *c = wh->cfg;

    if (!j || !(j->easy = curl_easy_init())) {
        free(j);
        sd_log("error", "MM3066: webhook deliverer: out of memory");
        return;
    }
    j->wh = wh;
    wh->in_flight++;
    snprintf(j->delivery_id, sizeof(j->delivery_id), "%s", PQgetvalue(res, row, 0));
    snprintf(j->attempt, sizeof(j->attempt), "%s", PQgetvalue(res, row, 1));
    if (mm_webhook_url_check(PQgetvalue(res, row, 2), c->webhook_allow,
                             (size_t)c->n_webhook_allow)) {
        j->retry_after = -1;
        record(j, 0, "refused: the url is not an allowed target");
        return;
    }
    if (job_setup(j, res, row) || curl_multi_add_handle(wh->multi, j->easy) != CURLM_OK) {
        sd_log("error", "MM3067: webhook deliverer: out of memory");
        j->retry_after = -1;
        record(j, 0, "not sent: the deliverer ran out of memory");
        return;
    }
    link_transfer(j);
}

static void claimed(void *arg, const PGresult *res)
{
    deliverer *wh = arg;
    int n = res ? PQntuples(res) : 0;

    wh->claiming = 0;
    if (!wh->running)
        return;
    for (int i = 0; i < n; i++)
        start(wh, res, i);
    /* A full batch: there may be more due. */
    if (n > 0)
        claim(wh);
}

static void claim(deliverer *wh)
{
    char lease[12], limit[12], per[12];
    const char *params[3] = {lease, limit, per};
    int room = wh->cfg->webhook_connections - wh->in_flight;

    if (wh->claiming || room <= 0 || !sd_db_ready(wh->db))
        return;
    snprintf(lease, sizeof(lease), "%d", wh->cfg->webhook_timeout + LEASE_EXTRA_S);
    snprintf(limit, sizeof(limit), "%d", room);
    snprintf(per, sizeof(per), "%d", PER_WEBHOOK);
    if (sd_db_send(wh->db, SQL_CLAIM, 3, params, claimed, wh) == 0)
        wh->claiming = 1;
}

static void swept(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

static void on_poll(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l, (void)revents;
    claim(w->data);
}

static void on_sweep(struct ev_loop *l, ev_timer *w, int revents)
{
    deliverer *wh = w->data;
    char days[12];
    const char *params[1] = {days};

    (void)l, (void)revents;
    snprintf(days, sizeof(days), "%d", KEEP_DAYS);
    if (sd_db_ready(wh->db))
        sd_db_send(wh->db, SQL_SWEEP, 1, params, swept, NULL);
}

/* Transfers that finished since the last look. */
static void reap(deliverer *wh)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(wh->multi, &left))) {
        job *j = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        finished(j, m->data.result);
    }
}

static void on_socket_event(struct ev_loop *l, ev_io *w, int revents)
{
    deliverer *wh = w->data;
    int action =
        (revents & EV_READ ? CURL_CSELECT_IN : 0) | (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;

    (void)l;
    curl_multi_socket_action(wh->multi, w->fd, action, &running);
    reap(wh);
}

static void on_curl_timer(struct ev_loop *l, ev_timer *w, int revents)
{
    deliverer *wh = w->data;
    int running;

    (void)l, (void)revents;
    curl_multi_socket_action(wh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    reap(wh);
}

/* libcurl says which of its sockets to watch for what. */
static int watch_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
    deliverer *wh = arg;
    ev_io *io = sockp;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (io) {
            ev_io_stop(wh->loop, io);
            free(io);
        }
        return 0;
    }
    if (!io) {
        io = calloc(1, sizeof(*io));
        if (!io)
            return -1;
        curl_multi_assign(wh->multi, fd, io);
    } else {
        ev_io_stop(wh->loop, io);
    }
    ev_io_init(io, on_socket_event, fd,
               (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
    io->data = wh;
    ev_io_start(wh->loop, io);
    return 0;
}

static int set_timer(CURLM *m, long ms, void *arg)
{
    deliverer *wh = arg;

    (void)m;
    ev_timer_stop(wh->loop, &wh->curl_timer);
    if (ms >= 0) {
        ev_timer_set(&wh->curl_timer, (double)ms / 1000.0, 0.);
        ev_timer_start(wh->loop, &wh->curl_timer);
    }
    return 0;
}

int sd_webhooks_start(sd_ctx *ctx)
{
    const sd_config *cfg = ctx->cfg;
    deliverer *wh = calloc(1, sizeof(*wh));

    if (!wh)
        return -1;
    ctx->webhooks = wh;
    wh->cfg = cfg;
    wh->loop = ctx->loop;
    snprintf(wh->schedule, sizeof(wh->schedule), "{%s}", cfg->webhook_retry);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(wh->multi = curl_multi_init()))
        return -1;
    curl_multi_setopt(wh->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(wh->multi, CURLMOPT_SOCKETDATA, wh);
    curl_multi_setopt(wh->multi, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_multi_setopt(wh->multi, CURLMOPT_TIMERDATA, wh);
    curl_multi_setopt(wh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)cfg->webhook_connections);
    wh->db = sd_db_open(ctx->lws, ctx->vhost, "webhooks", cfg->db, NULL);
    if (!wh->db)
        return -1;
    ev_init(&wh->curl_timer, on_curl_timer);
    ev_timer_init(&wh->poll, on_poll, POLL_S, POLL_S);
    ev_timer_init(&wh->sweep, on_sweep, SWEEP_S, SWEEP_S);
    wh->curl_timer.data = wh->poll.data = wh->sweep.data = wh;
    ev_timer_start(wh->loop, &wh->poll);
    ev_timer_start(wh->loop, &wh->sweep);
    wh->running = 1;
    return 0;
}

void sd_webhooks_stop(sd_ctx *ctx)
{
    deliverer *wh = ctx->webhooks;

    if (!wh->running)
        return;
    wh->running = 0;
    ev_timer_stop(wh->loop, &wh->poll);
    ev_timer_stop(wh->loop, &wh->sweep);
    ev_timer_stop(wh->loop, &wh->curl_timer);
    /* Transfers in flight are dropped: their leases run out, and the next
     * deliverer tries again. */
    while (wh->transfers) {
        job *j = wh->transfers;

        unlink_transfer(j);
        job_free(j);
    }
    /* Outcomes not yet recorded are answered NULL here, and their jobs freed. */
    sd_db_close(wh->db);
    curl_multi_cleanup(wh->multi);
    curl_global_cleanup();
}
