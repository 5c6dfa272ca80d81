/* Route table and path matching (see router.h). */
#include "router.h"

#include <string.h>

static const mm_route routes[MM_ROUTE_COUNT] = {
    {MM_R_REGISTER, MM_M_POST, "/auth/register", "auth.register", MM_AUTH_NONE, MM_RL_IP, 5},
    {MM_R_LOGIN, MM_M_POST, "/auth/login", "auth.login", MM_AUTH_NONE, MM_RL_IP, 5},
    {MM_R_REFRESH, MM_M_POST, "/auth/refresh", "auth.refresh", MM_AUTH_NONE, MM_RL_IP, 10},
    {MM_R_LOGOUT, MM_M_POST, "/auth/logout", "auth.logout", MM_AUTH_JWT, MM_RL_USER, 10},
    {MM_R_PROFILE_GET, MM_M_GET, "/users/profile", "profile.get", MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_PROFILE_UPDATE, MM_M_PUT, "/users/profile", "profile.update", MM_AUTH_JWT, MM_RL_USER,
     50},
    {MM_R_MEETING_CREATE, MM_M_POST, "/meetings", "meeting.create", MM_AUTH_JWT, MM_RL_USER, 50},
    {MM_R_MEETING_LIST, MM_M_GET, "/meetings", "meeting.list", MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_MEETING_GET, MM_M_GET, "/meetings/:id", "meeting.get", MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_MEETING_UPDATE, MM_M_PUT, "/meetings/:id", "meeting.update", MM_AUTH_JWT, MM_RL_USER,
     50},
    {MM_R_MEETING_DELETE, MM_M_DELETE, "/meetings/:id", "meeting.delete", MM_AUTH_JWT,
     MM_RL_USER, 50},
    {MM_R_MEETING_START, MM_M_POST, "/meetings/:id/start", "meeting.start", MM_AUTH_JWT,
     MM_RL_USER, 50},
    {MM_R_MEETING_END, MM_M_POST, "/meetings/:id/end", "meeting.end", MM_AUTH_JWT, MM_RL_USER,
     50},
    {MM_R_MEETING_JOIN, MM_M_POST, "/meetings/:id/join", "meeting.join", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_MEETING_LEAVE, MM_M_POST, "/meetings/:id/leave", "meeting.leave", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_PARTICIPANT_LIST, MM_M_GET, "/meetings/:id/participants", "participant.list",
     MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_PARTICIPANT_ADD, MM_M_POST, "/meetings/:id/participants", "participant.add",
     MM_AUTH_JWT, MM_RL_USER, 50},
    {MM_R_PARTICIPANT_REMOVE, MM_M_DELETE, "/meetings/:id/participants/:id",
     "participant.remove", MM_AUTH_JWT, MM_RL_USER, 50},
    {MM_R_PARTICIPANT_ROLE, MM_M_PUT, "/meetings/:id/participants/:id/role", "participant.role",
     MM_AUTH_JWT, MM_RL_USER, 50},
    {MM_R_RECORDING_START, MM_M_POST, "/meetings/:id/recording/start", "recording.start",
     MM_AUTH_JWT, MM_RL_USER, 20},
    {MM_R_RECORDING_STOP, MM_M_POST, "/meetings/:id/recording/stop", "recording.stop",
     MM_AUTH_JWT, MM_RL_USER, 20},
    {MM_R_RECORDING_LIST, MM_M_GET, "/meetings/:id/recordings", "recording.list", MM_AUTH_JWT,
     MM_RL_USER, 50},
    {MM_R_RECORDING_UPLOAD, MM_M_PUT, "/meetings/:id/recordings/:rec/file", "recording.upload",
     MM_AUTH_JWT, MM_RL_USER, 20},
    {MM_R_RECORDING_DOWNLOAD, MM_M_GET, "/meetings/:id/recordings/:rec/file",
     "recording.download", MM_AUTH_JWT_OR_SIGNED, MM_RL_USER, 100},
    {MM_R_MESSAGE_LIST, MM_M_GET, "/meetings/:id/messages", "message.list", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_MESSAGE_SEND, MM_M_POST, "/meetings/:id/messages", "message.send", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_WEBHOOK_CREATE, MM_M_POST, "/webhooks", "webhook.create", MM_AUTH_JWT, MM_RL_USER, 20},
    {MM_R_WEBHOOK_LIST, MM_M_GET, "/webhooks", "webhook.list", MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WEBHOOK_GET, MM_M_GET, "/webhooks/:id", "webhook.get", MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WEBHOOK_UPDATE, MM_M_PUT, "/webhooks/:id", "webhook.update", MM_AUTH_JWT, MM_RL_USER,
     100},
    {MM_R_WEBHOOK_DELETE, MM_M_DELETE, "/webhooks/:id", "webhook.delete", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_WEBHOOK_ROTATE, MM_M_POST, "/webhooks/:id/rotate_secret", "webhook.rotate_secret",
     MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WEBHOOK_DELIVERIES, MM_M_GET, "/webhooks/:id/deliveries", "webhook.deliveries",
     MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WEBHOOK_RETRY, MM_M_POST, "/webhooks/:id/deliveries/:id/retry", "webhook.retry",
     MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WEBHOOK_TEST, MM_M_POST, "/webhooks/:id/test", "webhook.test", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_HEALTH, MM_M_GET, "/health", "health", MM_AUTH_NONE, MM_RL_NONE, 0},
    {MM_R_WAITING_LIST, MM_M_GET, "/meetings/:id/waiting", "waiting.list", MM_AUTH_JWT,
     MM_RL_USER, 100},
    {MM_R_WAITING_ADMIT, MM_M_POST, "/meetings/:id/waiting/:id/admit", "waiting.admit",
     MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WAITING_DENY, MM_M_POST, "/meetings/:id/waiting/:id/deny", "waiting.deny",
     MM_AUTH_JWT, MM_RL_USER, 100},
    {MM_R_WAITING_ADMIT_ALL, MM_M_POST, "/meetings/:id/waiting/admit_all", "waiting.admit_all",
     MM_AUTH_JWT, MM_RL_USER, 20},
    {MM_R_PARTICIPANT_MUTE, MM_M_POST, "/meetings/:id/participants/:id/mute",
     "participant.mute", MM_AUTH_JWT, MM_RL_USER, 100},
};

/* Allow header values by method bit set (GET=1, POST=2, PUT=4, DELETE=8). */
static const char *const allow_strings[16] = {
    "", "GET, HEAD", "POST", "GET, HEAD, POST", "PUT", "GET, HEAD, PUT", "POST, PUT",
    "GET, HEAD, POST, PUT", "DELETE", "GET, HEAD, DELETE", "POST, DELETE",
    "GET, HEAD, POST, DELETE", "PUT, DELETE", "GET, HEAD, PUT, DELETE", "POST, PUT, DELETE",
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
        if (match_pattern(routes[i].pattern, path, &pp) != 0)
            continue;
        if (routes[i].method == method) {
            *route = &routes[i];
            *params = pp;
            if (pp.rec)
                params->rec = params->rec_buf;  /* it pointed into the local copy */
            return MM_ROUTE_FOUND;
        }
        methods |= 1u << routes[i].method;
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
    return (id >= 0 && id < MM_ROUTE_COUNT) ? &routes[id] : NULL;
}

const mm_route *mm_route_by_name(const char *name)
{
    for (int i = 0; i < MM_ROUTE_COUNT; i++)
        if (strcmp(routes[i].name, name) == 0)
            return &routes[i];
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
