/* Accounts (SPEC.md 2): register, log in, refresh, log out, profile. */
#include "auth.h"
#include "action.h"
#include "precedence.h"

#include <apr_md5.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/*
 * bcrypt reads the first 72 bytes of what it hashes, and a password may have
 * 400 (100 code points). So what bcrypt hashes is HMAC-SHA256 of the whole
 * password under a fixed key (domain separation, not a secret: changing it
 * would orphan every hash), in base64 (44 bytes; bcrypt would stop at a NUL
 * of the raw digest). Such hashes are stored as PREHASH_TAG + bcrypt's
 * "$2y$..."; a hash without the tag is bcrypt of the password itself, made
 * before, and is replaced at the owner's next log-in.
 */
#define PREHASH_TAG "$mm1"
#define PREHASH_KEY "mod_meeting password pre-hash v1"
#define PREHASH_B64 45 /* base64 of 32 bytes, and its NUL */

static int prehash(const char *password, char out[PREHASH_B64])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!HMAC(EVP_sha256(), PREHASH_KEY, (int)strlen(PREHASH_KEY), (const unsigned char *)password,
              strlen(password), mac, &len)
        || len != 32)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)len);
    return 0;
}

const char *mm_password_hash(mm_req *q, const char *password)
{
    unsigned char salt[16];
    char digest[PREHASH_B64], out[64];
    apr_status_t rv;

    if (prehash(password, digest) != 0
        || apr_generate_random_bytes(salt, sizeof(salt)) != APR_SUCCESS)
        return NULL;
    rv = apr_bcrypt_encode(digest, (unsigned)q->conf->bcrypt_cost, salt, sizeof(salt), out,
                           sizeof(out));
    OPENSSL_cleanse(digest, sizeof(digest));
    return rv == APR_SUCCESS ? apr_pstrcat(q->r->pool, PREHASH_TAG, out, NULL) : NULL;
}

mm_pw_check mm_password_check(const char *password, const char *hash)
{
    size_t tag = sizeof(PREHASH_TAG) - 1;
    char digest[PREHASH_B64];
    apr_status_t rv;

    if (strncmp(hash, PREHASH_TAG, tag) != 0)
        return apr_password_validate(password, hash) == APR_SUCCESS ? MM_PW_OLD_HASH : MM_PW_WRONG;
    if (prehash(password, digest) != 0)
        return MM_PW_WRONG;
    rv = apr_password_validate(digest, hash + tag);
    OPENSSL_cleanse(digest, sizeof(digest));
    return rv == APR_SUCCESS ? MM_PW_OK : MM_PW_WRONG;
}

/* An old-style hash just matched: store a new one of the same password. A
 * failure changes nothing for this log-in; the next one tries again. */
static void upgrade_hash(mm_req *q, const char *user_id, const char *old_hash, const char *password)
{
    const char *args[3] = {user_id, old_hash, mm_password_hash(q, password)};

    if (!args[2])
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                      "MM0102: cannot re-hash an old-style password hash");
    else
        mm_db_run_quietly(q, S_PASSWORD_UPGRADE, 3, args);
}

static int internal(mm_req *q, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "MM0101: %s failed", what);
    return mm_error(q->r, HTTP_INTERNAL_SERVER_ERROR, "internal", "internal error", NULL);
}

mm_step mm_accounts_register(mm_req *q)
{
    json_t *body;
    const char *hash, *args[4];
    mm_result res;

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    hash = mm_password_hash(q, mm_body_string(body, "password"));
    if (!hash)
        return internal(q, "password hashing");
    args[0] = mm_body_string(body, "username");
    args[1] = mm_body_string(body, "email");
    args[2] = hash;
    args[3] = mm_body_string(body, "nickname");
    if (mm_db_result(q, S_REGISTER, 4, args, &res))
        return MM_ANSWERED;
    mm_reply_result(q, &res, "User registered successfully");
    return MM_ANSWERED;
}

/* A new refresh token; its jti (to be stored hashed) goes to *jti. */
static const char *new_refresh_token(mm_req *q, long long user_id, const char **jti)
{
    return mm_issue_token(q, MM_TOKEN_REFRESH, user_id, 0, q->conf->refresh_ttl, jti);
}

static json_t *token_pair(mm_req *q, const char *access, const char *refresh)
{
    return json_pack("{s:s,s:s,s:s,s:i}", "token", access, "refresh_token", refresh, "token_type",
                     "Bearer", "expires_in", q->conf->access_ttl);
}

static int login_failed(mm_req *q)
{
    return mm_error(q->r, HTTP_UNAUTHORIZED, "unauthorized", "invalid username or password", NULL);
}

mm_step mm_accounts_login(mm_req *q)
{
    json_t *body, *data, *user;
    const char *args[4], *cols[4] = {NULL}, *password, *access, *refresh, *jti;
    long long user_id;
    int found;

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    password = mm_body_string(body, "password");
    args[0] = mm_body_string(body, "username");
    if (mm_db_row(q, S_LOGIN, 1, args, cols, 4, &found))
        return MM_ANSWERED;
    if (!found || !cols[0] || !cols[1]) {
        /* Same bcrypt work as for a real user, so timing does not tell names. */
        mm_password_check(password, q->conf->dummy_hash);
        return login_failed(q);
    }
    switch (mm_password_check(password, cols[1])) {
    case MM_PW_WRONG:
        return login_failed(q);
    case MM_PW_OLD_HASH:
        upgrade_hash(q, cols[0], cols[1], password);
        break;
    case MM_PW_OK:
        break;
    }
    user_id = apr_atoi64(cols[0]);
    user = mm_json_pool(q->r->pool, json_loads(cols[3], 0, NULL));
    access =
        mm_issue_token(q, MM_TOKEN_ACCESS, user_id, apr_atoi64(cols[2]), q->conf->access_ttl, NULL);
    refresh = new_refresh_token(q, user_id, &jti);
    if (!access || !refresh || !user)
        return internal(q, "token issue");
    args[0] = jti;
    args[1] = cols[0];
    args[2] = jti; /* the first token of a family names the family */
    args[3] = apr_itoa(q->r->pool, q->conf->refresh_ttl);
    if (mm_db_row(q, S_REFRESH_STORE, 4, args, cols, 0, &found))
        return MM_ANSWERED;
    data = token_pair(q, access, refresh);
    json_object_set(data, "user", user);
    mm_reply_json(q->r, HTTP_OK, "Login successful", data);
    return MM_ANSWERED;
}

mm_step mm_accounts_refresh(mm_req *q)
{
    json_t *body;
    const char *args[4], *cols[2] = {NULL}, *access, *refresh, *jti;
    mm_claims c;
    int found;

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    if (mm_token_verify(q->conf->key, mm_body_string(body, "refresh_token"), MM_TOKEN_REFRESH,
                        apr_time_sec(apr_time_now()), &c)
            != MM_TOKEN_OK
        || !c.jti[0])
        return mm_error(q->r, HTTP_UNAUTHORIZED, "unauthorized", "the refresh token is not valid",
                        NULL);
    refresh = new_refresh_token(q, c.user_id, &jti);
    if (!refresh)
        return internal(q, "token issue");
    args[0] = c.jti;
    args[1] = mm_lld(q, c.user_id);
    args[2] = jti;
    args[3] = apr_itoa(q->r->pool, q->conf->refresh_ttl);
    if (mm_db_row(q, S_REFRESH, 4, args, cols, 2, &found))
        return MM_ANSWERED;
    if (!found || !cols[0] || atoi(cols[0]) != 200)
        return mm_error(q->r, HTTP_UNAUTHORIZED, "unauthorized", "the refresh token is not valid",
                        NULL);
    access = mm_issue_token(q, MM_TOKEN_ACCESS, c.user_id, apr_atoi64(cols[1]), q->conf->access_ttl,
                            NULL);
    if (!access)
        return internal(q, "token issue");
    mm_reply_json(q->r, HTTP_OK, "Token refreshed successfully", token_pair(q, access, refresh));
    return MM_ANSWERED;
}

mm_step mm_accounts_logout(mm_req *q)
{
    json_t *body;
    const char *args[2] = {mm_uid(q), mm_gen(q)};
    mm_result res;

    if (mm_route_body(q, &body) || mm_db_result(q, S_LOGOUT, 2, args, &res))
        return MM_ANSWERED;
    mm_reply_result(q, &res, "Logged out successfully");
    return MM_ANSWERED;
}

mm_step mm_profile_get(mm_req *q)
{
    const char *args[2] = {mm_uid(q), mm_gen(q)};
    mm_result res;

    if (mm_db_result(q, S_PROFILE_GET, 2, args, &res))
        return MM_ANSWERED;
    mm_reply_result(q, &res, NULL);
    return MM_ANSWERED;
}

mm_step mm_profile_update(mm_req *q)
{
    json_t *body;
    const char *args[3];
    mm_result res;

    if (mm_route_body(q, &body))
        return MM_ANSWERED;
    args[0] = mm_uid(q);
    args[1] = mm_gen(q);
    if (!(args[2] = mm_json_text(q, body)))
        return internal(q, "JSON encoding");
    if (mm_db_result(q, S_PROFILE_UPDATE, 3, args, &res))
        return MM_ANSWERED;
    mm_reply_result(q, &res, "Profile updated successfully");
    return MM_ANSWERED;
}
