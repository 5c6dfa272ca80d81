/* Authentication of API requests and the tokens the API hands out. */
#ifndef MM_AUTH_H
#define MM_AUTH_H

#include "reply.h"

/* The token of an "Authorization: Bearer ..." header, or NULL. */
const char *mm_bearer_token(request_rec *r);

/* Verifies the access token and that it has not been revoked (logout bumps
 * the user's token generation); sets q->user_id and r->user. Returns 0, or
 * MM_DONE after a 401 (or 503). */
int mm_authenticate(mm_req *q);

/* bytes of randomness as lower-case hex, from p; NULL if none could be had. */
const char *mm_random_hex(apr_pool_t *p, apr_size_t bytes);

/* Signs a token of type for user_id valid ttl seconds; extra is the token
 * generation (access) or the meeting id (ticket). Its jti goes to *jti_out
 * when that is not NULL. NULL on failure. */
const char *mm_issue_token(mm_req *q, mm_token_type type, long long user_id, long long extra,
                           int ttl, const char **jti_out);

/* A bcrypt hash of password at the configured cost, or NULL. */
const char *mm_password_hash(mm_req *q, const char *password);

#endif
