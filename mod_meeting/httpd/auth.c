/* Authentication of API requests: Bearer access tokens (see auth.h). */
#include "auth.h"
#include "db.h"
#include "ratelimit.h"

#include <apr_random.h>

int mm_unauthorized(request_rec *r, const char *code, const char *message, int bad_token)
{
    r->user = NULL; /* the access log names no user for a refused token */
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   bad_token ? "Bearer realm=\"mod_meeting\", error=\"invalid_token\""
                             : "Bearer realm=\"mod_meeting\"");
    return mm_error(r, HTTP_UNAUTHORIZED, code, message, NULL);
}

mm_step mm_revoked(mm_req *q)
{
    mm_ratelimit_refund(q);
    return mm_unauthorized(q->r, "unauthorized", "the access token has been revoked", 1);
}

const char *mm_bearer_token(request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

int mm_authenticate(mm_req *q)
{
    const char *token = mm_bearer_token(q->r);
    mm_claims c;

    if (!token)
        return mm_unauthorized(q->r, "unauthorized", "a Bearer token is required", 0);
    switch (
        mm_token_verify(q->conf->key, token, MM_TOKEN_ACCESS, apr_time_sec(apr_time_now()), &c)) {
    case MM_TOKEN_EXPIRED:
        return mm_unauthorized(q->r, "token_expired", "the access token has expired", 1);
    case MM_TOKEN_INVALID:
        return mm_unauthorized(q->r, "unauthorized", "the access token is not valid", 1);
    default:
        break;
    }
    q->user_id = c.user_id;
    q->gen = c.gen;
    q->r->user = (char *)mm_lld(q, c.user_id);
    return 0;
}

const char *mm_gen(mm_req *q)
{
    return q->user_id > 0 ? mm_lld(q, q->gen) : NULL;
}

mm_step mm_auth_confirm(mm_req *q)
{
    const char *args[2], *revoked = NULL;
    int found;

    if (q->user_id <= 0)
        return MM_GO_ON;
    args[0] = mm_lld(q, q->user_id);
    args[1] = mm_gen(q);
    if (mm_db_row(q, S_TOKEN_REVOKED, 2, args, &revoked, 1, &found))
        return MM_ANSWERED;
    if (!found || !revoked || revoked[0] == 't')
        return mm_revoked(q);
    return MM_GO_ON;
}

const char *mm_random_hex(apr_pool_t *p, apr_size_t bytes)
{
    unsigned char buf[32];
    char *out;

    if (bytes > sizeof(buf))
        bytes = sizeof(buf);
    if (apr_generate_random_bytes(buf, bytes) != APR_SUCCESS)
        return NULL;
    out = apr_palloc(p, bytes * 2 + 1);
    ap_bin2hex(buf, bytes, out);
    return out;
}

const char *mm_issue_token(mm_req *q, mm_token_type type, long long user_id, long long extra,
                           int ttl, const char **jti_out)
{
    mm_claims c;
    const char *jti = mm_random_hex(q->r->pool, 16);
    char *signed_token;
    const char *copy;

    memset(&c, 0, sizeof(c));
    if (!jti)
        return NULL;
    c.type = type;
    c.user_id = user_id;
    c.iat = apr_time_sec(apr_time_now());
    c.exp = c.iat + ttl;
    if (type == MM_TOKEN_ACCESS)
        c.gen = extra;
    else if (type == MM_TOKEN_TICKET) {
        /* The caller's generation: signald refuses the ticket after a log-out. */
        c.meeting_id = extra;
        c.gen = q->gen;
    }
    apr_cpystrn(c.jti, jti, sizeof(c.jti));
    signed_token = mm_token_sign(q->conf->key, &c);
    if (!signed_token)
        return NULL;
    copy = apr_pstrdup(q->r->pool, signed_token);
    free(signed_token);
    if (jti_out)
        *jti_out = jti;
    return copy;
}
