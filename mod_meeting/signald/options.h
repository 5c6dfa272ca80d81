/*
 * signald: command line. Every setting is a flag (no environment, no config
 * file) so httpd's MeetingSignalingDaemon line shows the whole configuration.
 */
#ifndef SD_OPTIONS_H
#define SD_OPTIONS_H

/* Exit codes the supervisor in httpd tells apart: 2 means the command line is
 * wrong, 3 means start-up failed (bind, secret) and restarting cannot help. */
#define SD_EXIT_USAGE 2
#define SD_EXIT_STARTUP 3

/* Most --webhook-allow targets and --webhook-retry delays. */
#define SD_WEBHOOK_ALLOW_MAX 32
#define SD_WEBHOOK_RETRY_MAX 20

#include "node_name.h"

typedef struct {
    char host[64]; /* --listen ADDRESS:PORT, a numeric IP address */
    int port;
    const char *secret_file;
    const char *issuer;
    const char *db;                /* libpq conninfo */
    const char *status_file;       /* --status-file: counts for server-status */
    const char *media_server;      /* --media-server ws://HOST:PORT: Janus, or NULL (mesh) */
    const char *media_secret_file; /* --media-secret-file: Janus's API secret */
    int grace;                     /* seconds a dropped socket keeps its seat */
    int max_frame;                 /* bytes; a larger message closes with 1009 */
    int rate;                      /* frames per second per connection ... */
    int burst;                     /* ... with bursts of this many */
    int ping_interval;             /* seconds between WebSocket pings */
    int idle_timeout;              /* seconds without a sign of life before closing */
    int renew_interval;            /* seconds between batched lease renewals */
    int max_per_user;              /* open sockets one user may hold (caps.h) */
    int max_per_address;           /* ... and one client address */
    /* The webhook deliverer (webhooks.c). */
    int webhook_timeout;                             /* seconds an endpoint has to answer */
    int webhook_connections;                         /* deliveries in flight at once */
    const char *webhook_allow[SD_WEBHOOK_ALLOW_MAX]; /* MeetingWebhookAllow */
    int n_webhook_allow;
    const char *webhook_retry; /* delays in ms, "5000,300000,..." */
    /* This node in the node registry (node.c, docs/cluster.md). */
    char node[MM_NODE_NAME_MAX + 1]; /* --node, default the host name */
    const char *node_url;            /* --node-url: its public signaling URL, or NULL */
    int node_timeout;                /* --node-timeout: silence after which it is dead */
    /* Room events handed over by httpd (handover.c). */
    const char *events_socket; /* --events-socket: where, or NULL: none */
    int events_owner;          /* --events-owner: the socket's owner uid, or -1 */
} sd_config;

/* Fills *c from argv. Returns 0 when the daemon should run, -1 after printing
 * the usage (--help: exit 0), or SD_EXIT_USAGE after naming the bad flag on
 * stderr. */
int sd_config_parse(sd_config *c, int argc, char **argv);

#endif
