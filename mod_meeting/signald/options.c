/* signald: command line (see config.h). */
#include "options.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <libpq-fe.h>

#include "listen.h"
#include "webhook_url.h"

/* An integer flag: where it goes and what it may be. */
typedef struct {
    const char *name;
    size_t offset;
    int def, min, max;
} int_flag;

#define INT_FLAG(n, field, d, lo, hi)            \
    {                                            \
        n, offsetof(sd_config, field), d, lo, hi \
    }

static const int_flag int_flags[] = {
    INT_FLAG("--grace", grace, 15, 5, 60),
    INT_FLAG("--max-frame", max_frame, 65536, 1024, 16 * 1024 * 1024),
    INT_FLAG("--rate", rate, 50, 1, 100000),
    INT_FLAG("--burst", burst, 100, 1, 1000000),
    INT_FLAG("--ping-interval", ping_interval, 30, 1, 3600),
    INT_FLAG("--idle-timeout", idle_timeout, 90, 2, 86400),
    /* Leases last 90 s: renewing less often than every 60 s would let a live
     * socket's seat lapse. */
    INT_FLAG("--renew-interval", renew_interval, 30, 1, 60),
    /* Each socket behind httpd holds a worker thread: a user in a few
     * meetings on a few devices, an office behind one NAT address. */
    INT_FLAG("--max-sockets-per-user", max_per_user, 16, 1, 1000000),
    INT_FLAG("--max-sockets-per-address", max_per_address, 256, 1, 1000000),
    INT_FLAG("--webhook-timeout", webhook_timeout, 15, 1, 60),
    INT_FLAG("--webhook-connections", webhook_connections, 64, 1, 1024),
    INT_FLAG("--node-timeout", node_timeout, 10, 3, 300),
    INT_FLAG("--events-owner", events_owner, -1, 0, 2147483647),
};

#define N_INT_FLAGS (sizeof(int_flags) / sizeof(int_flags[0]))

static const char usage[] =
    "usage: signald --listen ADDRESS:PORT --secret-file PATH --issuer ISS --db CONNINFO\n"
    "               [--grace 5..60] [--max-frame BYTES] [--rate N] [--burst N]\n"
    "               [--ping-interval S] [--idle-timeout S] [--renew-interval S]\n"
    "               [--max-sockets-per-user N] [--max-sockets-per-address N]\n"
    "               [--status-file PATH] [--webhook-timeout S] [--webhook-connections N]\n"
    "               [--webhook-retry MS,MS,...] [--webhook-allow http://HOST:PORT]...\n"
    "               [--media-server ws://HOST:PORT --media-secret-file PATH]\n"
    "               [--node NAME] [--node-url ws(s)://...] [--node-timeout S]\n"
    "               [--events-socket PATH [--events-owner UID]]\n";

static const char listen_form[] =
    "must be ADDRESS:PORT: a numeric IPv4 or [IPv6] address, a port from 1 to 65535";

static int bad(const char *flag, const char *what)
{
    fprintf(stderr, "signald: %s %s\n%s", flag, what, usage);
    return SD_EXIT_USAGE;
}

/* ADDRESS:PORT, [v6] for IPv6; what ADDRESS and PORT may be is
 * sd_listen_address's to say, the one check before the socket is made. */
static int parse_listen(sd_config *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    const char *host = v;
    struct sockaddr_storage sa;
    socklen_t salen;
    size_t hlen;
    char *end;
    long port;

    if (!colon)
        return -1;
    hlen = (size_t)(colon - v);
    if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    } else if (memchr(v, ':', hlen)) {
        return -1; /* an IPv6 address without brackets: which part is the port? */
    }
    if (hlen == 0 || hlen >= sizeof(c->host))
        return -1;
    memcpy(c->host, host, hlen);
    c->host[hlen] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port != (int)port
        || sd_listen_address(c->host, (int)port, &sa, &salen) != 0)
        return -1;
    c->port = (int)port;
    return 0;
}

static int set_int(sd_config *c, const int_flag *f, const char *v)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < f->min || n > f->max) {
        char what[96];

        snprintf(what, sizeof(what), "must be an integer from %d to %d", f->min, f->max);
        return bad(f->name, what);
    }
    *(int *)((char *)c + f->offset) = (int)n;
    return 0;
}

static int add_allow(sd_config *c, const char *name, const char *v)
{
    const char *why = mm_webhook_allow_check(v);

    if (why)
        return bad(name, why);
    if (c->n_webhook_allow >= SD_WEBHOOK_ALLOW_MAX)
        return bad(name, "is given too often (32 at most)");
    c->webhook_allow[c->n_webhook_allow++] = v;
    return 0;
}

/* "5000,300000,...": 1 to SD_WEBHOOK_RETRY_MAX delays of at most a week. */
static int retry_valid(const char *v)
{
    int n = 0;

    do {
        char *end;
        long ms;

        errno = 0;
        ms = strtol(v, &end, 10);
        if (errno || end == v || ms < 0 || ms > 7 * 86400000L || (*end && *end != ',')
            || ++n > SD_WEBHOOK_RETRY_MAX)
            return 0;
        if (*end && !end[1])
            return 0; /* a trailing comma */
        v = *end ? end + 1 : end;
    } while (*v);
    return 1;
}

/* A string flag; returns 1 when name is not one. */
static int set_str(sd_config *c, const char *name, const char *v)
{
    if (!strcmp(name, "--listen"))
        return parse_listen(c, v) ? bad(name, listen_form) : 0;
    if (!strcmp(name, "--secret-file"))
        c->secret_file = v;
    else if (!strcmp(name, "--issuer"))
        c->issuer = v;
    else if (!strcmp(name, "--db"))
        c->db = v;
    else if (!strcmp(name, "--status-file"))
        c->status_file = v;
    else if (!strcmp(name, "--webhook-allow"))
        return add_allow(c, name, v);
    else if (!strcmp(name, "--webhook-retry"))
        return retry_valid(v) ? (c->webhook_retry = v, 0)
                              : bad(name, "must be 1 to 20 delays in milliseconds, "
                                          "comma-separated (at most a week each)");
    else if (!strcmp(name, "--media-server"))
        c->media_server = v;
    else if (!strcmp(name, "--media-secret-file"))
        c->media_secret_file = v;
    else if (!strcmp(name, "--node"))
        return mm_node_name_check(v) ? bad(name, mm_node_name_check(v))
                                     : (memcpy(c->node, v, strlen(v) + 1), 0);
    else if (!strcmp(name, "--events-socket"))
        c->events_socket = v;
    else if (!strcmp(name, "--node-url"))
        return mm_node_url_check(v) ? bad(name, mm_node_url_check(v)) : (c->node_url = v, 0);
    else
        return 1;
    return 0;
}

static int set_flag(sd_config *c, const char *name, const char *v)
{
    int rc = set_str(c, name, v);

    if (rc != 1)
        return rc;
    for (size_t i = 0; i < N_INT_FLAGS; i++)
        if (!strcmp(name, int_flags[i].name))
            return set_int(c, &int_flags[i], v);
    return bad(name, "is not an option");
}

/* Cross-flag rules and required flags, once everything is read. */
static int check(const sd_config *c)
{
    PQconninfoOption *opts;
    char *err = NULL;

    if (!c->host[0])
        return bad("--listen", "is required");
    if (!c->secret_file || !*c->secret_file)
        return bad("--secret-file", "is required");
    if (!c->issuer || !*c->issuer)
        return bad("--issuer", "is required");
    if (!c->db)
        return bad("--db", "is required");
    /* The parser's message may quote the string, which can hold a password. */
    opts = PQconninfoParse(c->db, &err);
    PQfreemem(err);
    if (!opts)
        return bad("--db", "is not a valid libpq connection string");
    PQconninfoFree(opts);
    if (c->media_server && strncmp(c->media_server, "ws://", 5) != 0)
        return bad("--media-server", "must be ws://HOST:PORT (Janus's WebSocket API)");
    if (!c->media_server != !c->media_secret_file)
        return bad(c->media_server ? "--media-secret-file" : "--media-server",
                   "is required with the other (--media-server, --media-secret-file)");
    if (c->events_owner >= 0 && !c->events_socket)
        return bad("--events-owner", "needs --events-socket");
    if (c->events_socket && strlen(c->events_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return bad("--events-socket", "must be shorter than 108 bytes (a Unix socket's path)");
    if (c->idle_timeout <= c->ping_interval)
        return bad("--idle-timeout", "must be longer than --ping-interval");
    return 0;
}

int sd_config_parse(sd_config *c, int argc, char **argv)
{
    memset(c, 0, sizeof(*c));
    c->webhook_retry = "5000,300000,1800000,7200000,18000000,36000000,86400000";
    mm_node_default_name(c->node);
    for (size_t i = 0; i < N_INT_FLAGS; i++)
        *(int *)((char *)c + int_flags[i].offset) = int_flags[i].def;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        char name[32];
        int rc;

        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage, stdout);
            return -1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return bad(arg, "is not an option");
        if (eq) {
            /* --flag=value */
            size_t n = (size_t)(eq - arg);

            if (n >= sizeof(name))
                return bad(arg, "is not an option");
            memcpy(name, arg, n);
            name[n] = '\0';
            rc = set_flag(c, name, eq + 1);
        } else if (i + 1 >= argc) {
            return bad(arg, "needs a value");
        } else {
            rc = set_flag(c, arg, argv[++i]);
        }
        if (rc)
            return rc;
    }
    return check(c);
}
