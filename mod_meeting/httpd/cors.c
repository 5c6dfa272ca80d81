/* CORS (see cors.h). Preflights come before authentication and rate
 * limiting: browsers send them without credentials. */
#include "cors.h"

#define ALLOW_HEADERS "Authorization, Content-Type, Range, If-None-Match, If-Match, Idempotency-Key"
#define EXPOSE_HEADERS                                                                 \
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, ETag, " \
    "Content-Range, WWW-Authenticate, RateLimit-Policy, RateLimit, Idempotent-Replayed"

static int origin_allowed(const mm_srv_conf *c, const char *origin)
{
    const apr_array_header_t *list = c->cors_origins;

    for (int i = 0; list && i < list->nelts; i++) {
        const char *o = APR_ARRAY_IDX(list, i, const char *);
        if (strcmp(o, "*") == 0 || strcasecmp(o, origin) == 0)
            return 1;
    }
    return 0;
}

int mm_cors(mm_req *q, const char *path)
{
    request_rec *r = q->r;
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *want = apr_table_get(r->headers_in, "Access-Control-Request-Method");
    const mm_route *route;
    mm_path_params pp;
    const char *allow = NULL;

    if (!origin || !origin_allowed(q->conf, origin))
        return 0;
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin", origin);
    apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    if (strcmp(r->method, "OPTIONS") != 0 || !want) {
        apr_table_setn(r->err_headers_out, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
        return 0;
    }
    switch (mm_route_find(mm_method_from(want), path, &route, &pp, &allow)) {
    case MM_ROUTE_FOUND:
        allow = want;
        break;
    case MM_ROUTE_BAD_METHOD:
        break;
    default:
        return 0;
    }
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods", allow);
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers", ALLOW_HEADERS);
    apr_table_setn(r->err_headers_out, "Access-Control-Max-Age", "600");
    r->status = HTTP_NO_CONTENT;
    return MM_ANSWERED;
}
