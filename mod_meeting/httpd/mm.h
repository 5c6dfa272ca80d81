/*
 * mod_meeting private header: every .c of the module includes it, so that
 * APLOG_USE_MODULE makes `LogLevel meeting:debug` work everywhere.
 */
#ifndef MM_H
#define MM_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <jansson.h>

#include "token.h"
#include "gcra.h"
#include "rl_table.h"
#include "router.h"

/* mod_meeting.c declares the module, which sets up the log index itself. */
#ifndef MM_MODULE_MAIN
APLOG_USE_MODULE(meeting);
#endif
extern module AP_MODULE_DECLARE_DATA meeting_module;

#define MM_HANDLER "meeting-api"

/* One ICE server entry from MeetingStunServer / MeetingTurnServer. */
typedef struct {
    const char *url;
    int turn; /* 1: TURN with time-limited credentials */
} mm_ice_server;

/* Per-endpoint limit as configured (count 0 = off); unset entries keep the
 * route's default from the seed. */
typedef struct {
    mm_gcra_limit limit;
    unsigned set : 1;
    unsigned off : 1;
} mm_route_limit;

/* Server config. *_set bits record what the admin wrote so merge keeps it. */
typedef struct {
    const char *secret_file;
    mm_token_key *key; /* built in post_config from the secret */
    const char *issuer;
    int access_ttl; /* seconds */
    int refresh_ttl;
    int ticket_ttl;
    int bcrypt_cost;
    const char *dummy_hash; /* equalises log-in timing for unknown users */
    apr_off_t max_body;
    const char *signaling_url; /* ws(s)://host[:port]/path */
    apr_array_header_t *ice;   /* of mm_ice_server */
    const char *turn_secret;
    int turn_ttl;
    int db_retry_after;
    apr_size_t rl_slots;
    mm_route_limit limits[MM_ROUTE_COUNT];
    apr_array_header_t *rl_exempt; /* of apr_ipsubnet_t * */
    const char *recording_dir;
    apr_off_t recording_max;
    int download_ttl;
    const char *signald_cmd;           /* MeetingSignalingDaemon: path and arguments */
    const char *recworker_cmd;         /* MeetingRecordingWorker: path and arguments */
    int server_recording;              /* MeetingServerRecording: the SFU records (SPEC 7) */
    int keep_raw;                      /* MeetingRecordingKeepRaw: keep .mjr after processing */
    apr_off_t recording_min_free;      /* MeetingRecordingMinFree: bytes needed to start */
    const char *media_server;          /* MeetingMediaServer: Janus's ws:// API, for signald */
    const char *media_secret_file;     /* ... and the file holding its API secret */
    int sig_max_user;                  /* signald --max-sockets-per-user */
    int sig_max_addr;                  /* signald --max-sockets-per-address */
    int max_ongoing;                   /* ongoing meetings one creator may have */
    int detail_cache_ttl;              /* MeetingDetailCache: seconds, 0 off (cache.h) */
    mm_rl_table *rl;                   /* set in post_config; lives in process-pool shm */
    struct mm_stats *stats;            /* likewise: request counts for server-status */
    apr_array_header_t *cors_origins;  /* MeetingCORSOrigin: of const char * */
    apr_array_header_t *webhook_allow; /* MeetingWebhookAllow: of const char * */
    int webhook_timeout;               /* MeetingWebhookTimeout, seconds */
    int webhook_connections;           /* MeetingWebhookConnections */
    const char *webhook_retry;         /* MeetingWebhookRetrySchedule, as ms,ms,... */
    const char *node_name;             /* MeetingNodeName: signald --node (SPEC 10) */
    const char *node_url;              /* MeetingNodeSignalingURL: signald --node-url */
    int node_timeout;                  /* MeetingNodeTimeout: signald --node-timeout */
    unsigned issuer_set : 1, access_ttl_set : 1, refresh_ttl_set : 1, ticket_ttl_set : 1,
        bcrypt_cost_set : 1, max_body_set : 1, turn_ttl_set : 1, db_retry_after_set : 1,
        rl_slots_set : 1, recording_max_set : 1, download_ttl_set : 1, sig_max_user_set : 1,
        sig_max_addr_set : 1, max_ongoing_set : 1, webhook_timeout_set : 1,
        webhook_connections_set : 1, server_recording_set : 1, keep_raw_set : 1,
        recording_min_free_set : 1, detail_cache_ttl_set : 1, node_timeout_set : 1;
} mm_srv_conf;


/* One API request as it moves through the handler. */
typedef struct {
    request_rec *r;
    const mm_srv_conf *conf;
    const mm_route *route;
    mm_path_params params;
    long long user_id; /* 0 until authenticated */
    long long gen;
    ap_dbd_t *db;                  /* NULL until a statement needs one (db.c) */
    struct mm_db_hold *db_hold;    /* gives db back to mod_dbd's pool */
    uint64_t rl_key;               /* the bucket this request was charged to */
    const mm_gcra_limit *rl_limit; /* NULL: not charged (or refunded) */
    struct mm_db_txn *txn;         /* an open transaction (db.c), or NULL */
    struct mm_body_pre *body_pre;  /* the body read ahead of its parse (body.c) */
    const char *if_match;          /* If-Match as the database compares it (etag.h) */
} mm_req;

/* What a handler returns, and every step of a request that may answer it:
 * MM_ANSWERED when the request has its answer (a success or a refusal),
 * MM_GO_ON when the caller goes on to the next step. A handler always
 * answers: it returns MM_ANSWERED. */
typedef enum { MM_GO_ON = 0, MM_ANSWERED = 1 } mm_step;

typedef mm_step (*mm_handler_fn)(mm_req *q);

/* The handlers, one per route of routes.def, in the resource files. */
#define ROUTE(id, method, pattern, name, auth, rl, per_minute, need, body, handler, stmt) \
    mm_step handler(mm_req *q);
#include "routes.def"
#undef ROUTE

/* The <Location> (or <Directory>) path the API is mounted at, e.g. "/api/v1",
 * taken from the section that set the handler; "" when it cannot be told. */
const char *mm_api_base(request_rec *r);

/* config.c */
extern const command_rec mm_cmds[];
void *mm_create_srv_conf(apr_pool_t *p, server_rec *s);
void *mm_merge_srv_conf(apr_pool_t *p, void *base, void *add);
const char *mm_finish_srv_conf(apr_pool_t *p, server_rec *s, mm_srv_conf *c);

#endif
