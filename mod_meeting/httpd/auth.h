/* Authentication of API requests and the tokens the API hands out. */
#ifndef MM_AUTH_H
#define MM_AUTH_H

#include "reply.h"

/* The token of an "Authorization: Bearer ..." header, or NULL. */
const char *mm_bearer_token(request_rec *r);

/* Verifies the access token's signature, type and expiry; sets q->user_id,
 * q->gen (the token's generation) and r->user. Returns 0, or MM_ANSWERED after a
 * 401. Whether the token still holds (logout bumps the user's generation; a
 * deleted or disabled user loses every token) needs the database: the
 * request's action statement checks it, given mm_gen(q), and answers 401
 * first, so an authenticated request costs one statement. An answer that
 * comes before that statement (429, a refused body or query) calls
 * mm_auth_confirm first, so that a revoked token still gets its 401
 * (precedence.h). */
int mm_authenticate(mm_req *q);

/* The token generation as a statement argument: NULL (nothing to check)
 * when the request carries no access token, e.g. a pre-signed download. */
const char *mm_gen(mm_req *q);

/* Checks on its own (one statement) that the token of an authenticated
 * request still holds. Returns 0 (also when the request has no token), or
 * MM_ANSWERED after a 401 or 503. */
mm_step mm_auth_confirm(mm_req *q);

/* The 401 of a token that has been revoked (logout, user deleted or
 * disabled), its rate-limit charge given back. Returns MM_ANSWERED. */
mm_step mm_revoked(mm_req *q);

/* A 401 with WWW-Authenticate (error="invalid_token" when bad_token: a
 * token was sent but refused). Returns MM_ANSWERED. */
int mm_unauthorized(request_rec *r, const char *code, const char *message, int bad_token);

/* bytes of randomness as lower-case hex, from p; NULL if none could be had. */
const char *mm_random_hex(apr_pool_t *p, apr_size_t bytes);

/* Signs a token of type for user_id valid ttl seconds; extra is the token
 * generation (access) or the meeting id (ticket). Its jti goes to *jti_out
 * when that is not NULL. NULL on failure. */
const char *mm_issue_token(mm_req *q, mm_token_type type, long long user_id, long long extra,
                           int ttl, const char **jti_out);

/* A hash of password at the configured bcrypt cost, or NULL: bcrypt of a
 * digest of the whole password (bcrypt itself reads 72 bytes at most), with
 * a prefix that tells it from the hashes made before (see accounts.c). */
const char *mm_password_hash(mm_req *q, const char *password);

/* What a password check found. */
typedef enum { MM_PW_WRONG = -1, MM_PW_OK = 0, MM_PW_OLD_HASH = 1 } mm_pw_check;

/* Checks password against a hash of mm_password_hash, or an old-style one
 * (bcrypt of the password itself), which MM_PW_OLD_HASH reports so the caller
 * can replace it. */
mm_pw_check mm_password_check(const char *password, const char *hash);

#endif
