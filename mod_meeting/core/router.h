/*
 * The route table (routes.def) as the matcher sees it: method + path pattern
 * -> route, with each route's rate-limit default (from the seed), how it
 * authenticates, what it needs of the caller and the fields of its body.
 * Pure: no httpd types, so the unit tests and the fuzzer link it alone.
 */
#ifndef MM_ROUTER_H
#define MM_ROUTER_H

#include <stddef.h>

#include "validate.h"

/* The route ids, in the order of routes.def. */
typedef enum {
#define ROUTE(id, ...) MM_R_##id,
#include "routes.def"
#undef ROUTE
    MM_ROUTE_COUNT
} mm_route_id;

typedef enum { MM_M_GET, MM_M_POST, MM_M_PUT, MM_M_DELETE, MM_M_OTHER } mm_method;

/* How a route authenticates: none, a Bearer access token, or (downloads)
 * either a Bearer token or a pre-signed URL. */
typedef enum { MM_AUTH_NONE, MM_AUTH_JWT, MM_AUTH_JWT_OR_SIGNED } mm_auth_kind;

/* How a route is rate limited: not at all, per client IP, per user. */
typedef enum { MM_RL_NONE, MM_RL_IP, MM_RL_USER } mm_rl_kind;

/* What a route needs of the caller before a refusal of the request itself
 * (its body, its query) is told (SPEC.md 1; precedence.c), and before its
 * action runs (db.c). The meeting values are mm_context's p_need in
 * sql/003_api.sql. */
typedef enum {
    MM_NEED_NONE = -2,   /* the token holds (no meeting in the path) */
    MM_NEED_ANYONE = -1, /* the meeting exists */
    MM_NEED_MEMBER = 0,
    MM_NEED_STAFF = 1,
    MM_NEED_HOST = 2,
    MM_NEED_CREATOR = 3,
    MM_NEED_WEBHOOK = 4 /* the webhook in the path is the caller's */
} mm_need;

typedef struct {
    mm_route_id id;
    mm_method method;
    const char *pattern; /* segments; ":id" a positive integer, ":rec" a recording id */
    const char *name;    /* used by MeetingRateLimit, logs and server-status */
    mm_auth_kind auth;
    mm_rl_kind rl;
    unsigned per_minute; /* the seed's limit */
    mm_need need;
    const mm_field *fields; /* the body's; NULL: the route reads none */
} mm_route;

/* Every route, indexed by id (routes.c). */
extern const mm_route mm_routes[MM_ROUTE_COUNT];

#define MM_MAX_PATH_IDS 2

typedef struct {
    long long id[MM_MAX_PATH_IDS]; /* the :id segments in order */
    const char *rec;               /* the :rec segment, NUL-terminated copy */
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
