/* Signed tokens (see token.h). */
#include "token.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct mm_token_key {
    unsigned char *secret;
    size_t len;
    char *issuer;
};

static const char *const type_names[] = {"access", "refresh", "ticket"};

/* Clock skew tolerated on iat/nbf, in seconds. */
#define SKEW 60

/* A secret file larger than this is not a secret but a mistake. */
#define SECRET_MAX 4096

int mm_secret_read(const char *path, unsigned char **secret, size_t *len, const char **why)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[SECRET_MAX + 1];
    size_t n;

    if (!f) {
        *why = "cannot be opened";
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n > SECRET_MAX) {
        *why = "is larger than 4096 bytes";
        return -1;
    }
    while (n > 0 && isspace(buf[n - 1]))
        n--;
    if (n < MM_SECRET_MIN) {
        *why = "holds fewer than 32 bytes";
        return -1;
    }
    *secret = malloc(n);
    if (!*secret) {
        *why = "cannot be read: out of memory";
        return -1;
    }
    memcpy(*secret, buf, n);
    *len = n;
    return 0;
}

mm_token_key *mm_token_key_make(const unsigned char *secret, size_t len, const char *issuer)
{
    mm_token_key *k = calloc(1, sizeof(*k));

    if (!k)
        return NULL;
    k->secret = malloc(len);
    k->issuer = strdup(issuer);
    if (!k->secret || !k->issuer) {
        mm_token_key_free(k);
        return NULL;
    }
    memcpy(k->secret, secret, len);
    k->len = len;
    return k;
}

void mm_token_key_free(mm_token_key *k)
{
    if (!k)
        return;
    free(k->secret);
    free(k->issuer);
    free(k);
}

/* An integer claim that must be present and be a JSON integer: libjwt's
 * jwt_get_grant_int() reads a string or a real as 0 without an error. */
static int int_claim(jwt_t *jwt, const char *name, long long *out)
{
    char *text = jwt_get_grants_json(jwt, name);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    int ok = json_is_integer(v);

    if (ok)
        *out = json_integer_value(v);
    json_decref(v);
    free(text);
    return ok ? 0 : -1;
}

/* A positive decimal id written as a string (the "sub" claim). */
static int id_claim(jwt_t *jwt, const char *name, long long *out)
{
    const char *s = jwt_get_grant(jwt, name);
    char *end;

    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return (errno || *end || *out <= 0) ? -1 : 0;
}

static mm_token_status check_claims(const mm_token_key *k, jwt_t *jwt, mm_token_type want,
                                    long long now, mm_claims *out)
{
    const char *iss = jwt_get_grant(jwt, "iss");
    const char *typ = jwt_get_grant(jwt, "typ");
    const char *jti = jwt_get_grant(jwt, "jti");
    long long nbf;

    memset(out, 0, sizeof(*out));
    out->type = want;
    if (!iss || strcmp(iss, k->issuer) != 0 || !typ || strcmp(typ, type_names[want]) != 0)
        return MM_TOKEN_INVALID;
    if (id_claim(jwt, "sub", &out->user_id) || int_claim(jwt, "iat", &out->iat)
        || int_claim(jwt, "exp", &out->exp))
        return MM_TOKEN_INVALID;
    if (want == MM_TOKEN_TICKET && (int_claim(jwt, "mid", &out->meeting_id) || out->meeting_id <= 0))
        return MM_TOKEN_INVALID;
    if (want == MM_TOKEN_ACCESS && int_claim(jwt, "gen", &out->gen))
        return MM_TOKEN_INVALID;
    if (jti) {
        if (strlen(jti) >= sizeof(out->jti))
            return MM_TOKEN_INVALID;
        strcpy(out->jti, jti);
    }
    if (out->iat > now + SKEW || (int_claim(jwt, "nbf", &nbf) == 0 && nbf > now + SKEW))
        return MM_TOKEN_INVALID;
    return out->exp <= now ? MM_TOKEN_EXPIRED : MM_TOKEN_OK;
}

mm_token_status mm_token_verify(const mm_token_key *k, const char *token, mm_token_type want,
                                long long now, mm_claims *out)
{
    jwt_t *jwt = NULL;
    mm_token_status st;

    if (!token || jwt_decode(&jwt, token, k->secret, (int)k->len) != 0 || !jwt)
        return MM_TOKEN_INVALID;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        st = MM_TOKEN_INVALID;
    else
        st = check_claims(k, jwt, want, now, out);
    jwt_free(jwt);
    return st;
}

static int add_claims(jwt_t *jwt, const mm_token_key *k, const mm_claims *c)
{
    char sub[24];

    snprintf(sub, sizeof(sub), "%lld", c->user_id);
    if (jwt_add_grant(jwt, "iss", k->issuer) || jwt_add_grant(jwt, "sub", sub)
        || jwt_add_grant(jwt, "typ", type_names[c->type]) || jwt_add_grant(jwt, "jti", c->jti)
        || jwt_add_grant_int(jwt, "iat", (long)c->iat) || jwt_add_grant_int(jwt, "exp", (long)c->exp))
        return -1;
    if (c->type == MM_TOKEN_TICKET && jwt_add_grant_int(jwt, "mid", (long)c->meeting_id))
        return -1;
    if (c->type == MM_TOKEN_ACCESS && jwt_add_grant_int(jwt, "gen", (long)c->gen))
        return -1;
    return 0;
}

char *mm_token_sign(const mm_token_key *k, const mm_claims *c)
{
    jwt_t *jwt = NULL;
    char *token = NULL;

    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, k->secret, (int)k->len) == 0 && add_claims(jwt, k, c) == 0)
        token = jwt_encode_str(jwt);
    jwt_free(jwt);
    return token;
}

int mm_token_mac(const mm_token_key *k, const char *msg, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!HMAC(EVP_sha256(), k->secret, (int)k->len, (const unsigned char *)msg, strlen(msg), mac,
              &len) || len != 32)
        return -1;
    for (unsigned int i = 0; i < len; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

int mm_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;

    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
