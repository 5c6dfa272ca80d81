/* signald: the upgrade request (see auth.h). */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include "ticket.h"

#include <string.h>

#include "key.h"
#include "parse.h"
#include "token.h"
#include "util.h"

#define SUFFIX "/ws/signaling"

int sd_auth_path_ok(struct lws *wsi)
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

/* A ticket and what verifying it found. */
typedef struct {
    const char *token;
    mm_claims claims;
    mm_token_status st;
} ticket_check;

/* Whether t's ticket carries key's signature (expired or not). */
static int ticket_signed_with(const mm_token_key *key, void *arg)
{
    ticket_check *t = arg;

    t->st = mm_token_verify(key, t->token, MM_TOKEN_TICKET, sd_wall_s(), &t->claims);
    return t->st != MM_TOKEN_INVALID;
}

static int verify(sd_ctx *ctx, const char *token, long long meeting_id, long long user_id,
                  long long *gen, const char **why)
{
    ticket_check t = {.token = token, .st = MM_TOKEN_INVALID};

    /* Not signed with signald's key: perhaps with a rotated secret (key.h). */
    if (!ticket_signed_with(ctx->key, &t))
        sd_key_reread(ctx, ticket_signed_with, &t);
    if (t.st == MM_TOKEN_EXPIRED) {
        *why = "ticket expired";
        return 4401;
    }
    if (t.st != MM_TOKEN_OK) {
        *why = "invalid ticket";
        return 4401;
    }
    if (t.claims.user_id != user_id || t.claims.meeting_id != meeting_id) {
        *why = "ticket is for another user or meeting";
        return 4401;
    }
    *gen = t.claims.gen;
    return 0;
}

/* The query, read once, a parameter at a time (parse.h). */
static int read_query(struct lws *wsi, sd_query *q, const char **why)
{
    static char arg[SD_QUERY_MAX + 1];
    int n, rc = 0;

    sd_query_init(q);
    /* lws answers -1 both past the last parameter and for one too long for
     * arg: with the whole query within bounds, every one fits. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) > SD_QUERY_MAX) {
        *why = SD_QUERY_TOO_LONG;
        return 4400;
    }
    for (int i = 0; !rc; i++) {
        n = lws_hdr_copy_fragment(wsi, arg, (int)sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        rc = sd_query_arg(q, arg, (size_t)n, why);
    }
    explicit_bzero(arg, sizeof(arg));
    return rc ? rc : sd_query_end(q, why);
}

int sd_auth_check(sd_ctx *ctx, struct lws *wsi, long long *meeting_id, long long *user_id,
                  long long *gen, const char **why)
{
    static sd_query q;
    int rc = read_query(wsi, &q, why);

    *meeting_id = q.meeting_id;
    *user_id = q.user_id;
    if (!rc)
        rc = verify(ctx, q.token, q.meeting_id, q.user_id, gen, why);
    /* The ticket is a credential: it does not linger in memory. */
    explicit_bzero(&q, sizeof(q));
    return rc;
}
