/* Path matching over the route table (see router.h, routes.def). */
#include "router.h"

#include <string.h>

/* Allow header values by method bit set (GET=1, POST=2, PUT=4, DELETE=8). */
static const char *const allow_strings[16] = {
    "",
    "GET, HEAD",
    "POST",
    "GET, HEAD, POST",
    "PUT",
    "GET, HEAD, PUT",
    "POST, PUT",
    "GET, HEAD, POST, PUT",
    "DELETE",
    "GET, HEAD, DELETE",
    "POST, DELETE",
    "GET, HEAD, POST, DELETE",
    "PUT, DELETE",
    "GET, HEAD, PUT, DELETE",
    "POST, PUT, DELETE",
    "GET, HEAD, POST, PUT, DELETE",
};

/* A positive decimal integer that fits a signed 64-bit id, written the one
 * canonical way: no leading zero, so /meetings/01 is not /meetings/1. */
static int parse_id(const char *s, size_t len, long long *out)
{
    long long v = 0;

    if (len == 0 || len > 19 || s[0] == '0')
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (9223372036854775807LL - (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* "rec_" followed by 1 to 64 lower-case hex digits. */
static int parse_rec(const char *s, size_t len, mm_path_params *pp)
{
    if (len < 5 || len > 68 || strncmp(s, "rec_", 4) != 0)
        return -1;
    for (size_t i = 4; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return -1;
    memcpy(pp->rec_buf, s, len);
    pp->rec_buf[len] = '\0';
    pp->rec = pp->rec_buf;
    return 0;
}

/* Matches one segment of path against one of pattern. */
static int match_segment(const char *pat, size_t plen, const char *seg, size_t slen,
                         mm_path_params *pp, int *nids)
{
    if (plen == 3 && memcmp(pat, ":id", 3) == 0) {
        if (*nids >= MM_MAX_PATH_IDS || parse_id(seg, slen, &pp->id[*nids]) != 0)
            return -1;
        (*nids)++;
        return 0;
    }
    if (plen == 4 && memcmp(pat, ":rec", 4) == 0)
        return parse_rec(seg, slen, pp);
    return (plen == slen && memcmp(pat, seg, slen) == 0) ? 0 : -1;
}

static int match_pattern(const char *pattern, const char *path, mm_path_params *pp)
{
    int nids = 0;

    memset(pp, 0, sizeof(*pp));
    while (*pattern == '/' && *path == '/') {
        const char *pend = strchr(pattern + 1, '/');
        const char *send = strchr(path + 1, '/');
        size_t plen = pend ? (size_t)(pend - pattern - 1) : strlen(pattern + 1);
        size_t slen = send ? (size_t)(send - path - 1) : strlen(path + 1);

        if (match_segment(pattern + 1, plen, path + 1, slen, pp, &nids) != 0)
            return -1;
        pattern += plen + 1;
        path += slen + 1;
    }
    return (*pattern == '\0' && *path == '\0') ? 0 : -1;
}

mm_route_match mm_route_find(mm_method method, const char *path, const mm_route **route,
                             mm_path_params *params, const char **allow)
{
    unsigned methods = 0;
    mm_path_params pp;

    for (int i = 0; i < MM_ROUTE_COUNT; i++) {
        if (match_pattern(mm_routes[i].pattern, path, &pp) != 0)
            continue;
        if (mm_routes[i].method == method) {
            *route = &mm_routes[i];
            *params = pp;
            if (pp.rec)
                params->rec = params->rec_buf; /* it pointed into the local copy */
            return MM_ROUTE_FOUND;
        }
        methods |= 1u << mm_routes[i].method;
    }
    if (!methods)
        return MM_ROUTE_NOT_FOUND;
    *allow = allow_strings[methods & 15];
    return MM_ROUTE_BAD_METHOD;
}

int mm_route_keyed(const mm_route *route)
{
    return route->method == MM_M_POST && route->auth == MM_AUTH_JWT;
}

const mm_route *mm_route_by_id(mm_route_id id)
{
    return (id >= 0 && id < MM_ROUTE_COUNT) ? &mm_routes[id] : NULL;
}

const mm_route *mm_route_by_name(const char *name)
{
    for (int i = 0; i < MM_ROUTE_COUNT; i++)
        if (strcmp(mm_routes[i].name, name) == 0)
            return &mm_routes[i];
    return NULL;
}

mm_method mm_method_from(const char *name)
{
    if (strcmp(name, "GET") == 0 || strcmp(name, "HEAD") == 0)
        return MM_M_GET;
    if (strcmp(name, "POST") == 0)
        return MM_M_POST;
    if (strcmp(name, "PUT") == 0)
        return MM_M_PUT;
    if (strcmp(name, "DELETE") == 0)
        return MM_M_DELETE;
    return MM_M_OTHER;
}
