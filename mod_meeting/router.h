/*
 * The route table: method + path pattern -> route id, with the rate-limit
 * default of each route (from the seed) and whether it needs a JWT.
 * Pure: no httpd types, so the unit tests and the fuzzer link it alone.
 */
#ifndef MM_ROUTER_H
#define MM_ROUTER_H

#include <stddef.h>

typedef enum {
    MM_R_REGISTER, MM_R_LOGIN, MM_R_REFRESH, MM_R_LOGOUT,
    MM_R_PROFILE_GET, MM_R_PROFILE_UPDATE,
    MM_R_MEETING_CREATE, MM_R_MEETING_LIST, MM_R_MEETING_GET, MM_R_MEETING_UPDATE,
    MM_R_MEETING_DELETE, MM_R_MEETING_START, MM_R_MEETING_END, MM_R_MEETING_JOIN,
    MM_R_MEETING_LEAVE,
    MM_R_PARTICIPANT_LIST, MM_R_PARTICIPANT_ADD, MM_R_PARTICIPANT_REMOVE, MM_R_PARTICIPANT_ROLE,
    MM_R_RECORDING_START, MM_R_RECORDING_STOP, MM_R_RECORDING_LIST,
    MM_R_RECORDING_UPLOAD, MM_R_RECORDING_DOWNLOAD,
    MM_R_MESSAGE_LIST, MM_R_MESSAGE_SEND,
    MM_R_WEBHOOK_CREATE, MM_R_WEBHOOK_LIST, MM_R_WEBHOOK_GET, MM_R_WEBHOOK_UPDATE,
    MM_R_WEBHOOK_DELETE, MM_R_WEBHOOK_ROTATE, MM_R_WEBHOOK_DELIVERIES, MM_R_WEBHOOK_RETRY,
    MM_R_WEBHOOK_TEST,
    MM_R_HEALTH,
    MM_R_WAITING_LIST, MM_R_WAITING_ADMIT, MM_R_WAITING_DENY, MM_R_WAITING_ADMIT_ALL,
    MM_R_PARTICIPANT_MUTE,
    MM_ROUTE_COUNT
} mm_route_id;

typedef enum { MM_M_GET, MM_M_POST, MM_M_PUT, MM_M_DELETE, MM_M_OTHER } mm_method;

/* How a route authenticates: none, a Bearer access token, or (downloads)
 * either a Bearer token or a pre-signed URL. */
typedef enum { MM_AUTH_NONE, MM_AUTH_JWT, MM_AUTH_JWT_OR_SIGNED } mm_auth_kind;

/* How a route is rate limited: not at all, per client IP, per user. */
typedef enum { MM_RL_NONE, MM_RL_IP, MM_RL_USER } mm_rl_kind;

typedef struct {
    mm_route_id id;
    mm_method method;
    const char *pattern;    /* segments; ":id" a positive integer, ":rec" a recording id */
    const char *name;       /* used by MeetingRateLimit, logs and server-status */
    mm_auth_kind auth;
    mm_rl_kind rl;
    unsigned per_minute;    /* the seed's limit */
} mm_route;

#define MM_MAX_PATH_IDS 2

typedef struct {
    long long id[MM_MAX_PATH_IDS];  /* the :id segments in order */
    const char *rec;                /* the :rec segment, NUL-terminated copy */
    char rec_buf[72];
} mm_path_params;

typedef enum { MM_ROUTE_FOUND, MM_ROUTE_NOT_FOUND, MM_ROUTE_BAD_METHOD } mm_route_match;

/* Matches path (relative to the mount point, e.g. "/meetings/7") and method.
 * On MM_ROUTE_BAD_METHOD, *allow receives the methods the path accepts, as
 * "GET, POST" (a static string). */
mm_route_match mm_route_find(mm_method method, const char *path, const mm_route **route,
                             mm_path_params *params, const char **allow);

/* Whether a route takes an Idempotency-Key (SPEC.md 9): every POST of an
 * authenticated user (a key is scoped to its user), so a new POST route
 * takes one too without saying so. */
int mm_route_keyed(const mm_route *route);

const mm_route *mm_route_by_id(mm_route_id id);
const mm_route *mm_route_by_name(const char *name);
mm_method mm_method_from(const char *name);

#endif
