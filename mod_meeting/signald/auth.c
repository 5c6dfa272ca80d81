/* signald: the upgrade request (see auth.h). */
#define _DEFAULT_SOURCE     /* explicit_bzero */
#include "auth.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define SUFFIX "/ws/signaling"
/* Tickets are a few hundred bytes; anything near this is not one. */
#define TOKEN_MAX 4096

static const mm_token_key *key;

void mm_auth_init(const mm_token_key *k)
{
    key = k;
}

int mm_auth_path_ok(struct lws *wsi)
{
    char path[512];
    int n = lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
    size_t len, slen = strlen(SUFFIX);

    if (n <= 0)
        return 0;
    len = (size_t)n;
    if (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    return !strcmp(path, "/") || (len >= slen && !strcmp(path + len - slen, SUFFIX));
}

/* A positive decimal id, digits only. */
static long long parse_id(const char *s)
{
    char *end;
    long long v;

    if (!s || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    return errno || *end || v <= 0 ? 0 : v;
}

static long long id_arg(struct lws *wsi, const char *name)
{
    char buf[32];
    const char *v = lws_get_urlarg_by_name(wsi, name, buf, (int)sizeof(buf));

    return parse_id(v);
}

static int verify(const char *token, long long meeting_id, long long user_id, long long *gen,
                  const char **why)
{
    mm_claims claims;
    mm_token_status st = mm_token_verify(key, token, MM_TOKEN_TICKET, mm_wall_s(), &claims);

    if (st == MM_TOKEN_EXPIRED) {
        *why = "ticket expired";
        return 4401;
    }
    if (st != MM_TOKEN_OK) {
        *why = "invalid ticket";
        return 4401;
    }
    if (claims.user_id != user_id || claims.meeting_id != meeting_id) {
        *why = "ticket is for another user or meeting";
        return 4401;
    }
    *gen = claims.gen;
    return 0;
}

int mm_auth_check(struct lws *wsi, long long *meeting_id, long long *user_id, long long *gen,
                  const char **why)
{
    static char buf[TOKEN_MAX];
    const char *token;
    int rc;

    *meeting_id = id_arg(wsi, "meeting_id=");
    *user_id = id_arg(wsi, "user_id=");
    token = lws_get_urlarg_by_name(wsi, "token=", buf, (int)sizeof(buf));
    if (!*meeting_id || !*user_id || !token || !*token) {
        *why = "meeting_id, user_id and token are required";
        rc = 4401;
    } else {
        rc = verify(token, *meeting_id, *user_id, gen, why);
    }
    /* The ticket is a credential: it does not linger in memory. */
    explicit_bzero(buf, sizeof(buf));
    return rc;
}
