/* Signed tokens (see token.h). */
#include "token.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * Verification, done on every authenticated request, does not go through
 * libjwt: jwt_decode() takes the raw secret and sets up the HMAC key again on
 * each call (libjwt cannot keep a prepared key), and its claims can only be
 * read back by re-serialising them. Here the key is prepared once, as the
 * SHA-256 states after key^ipad and key^opad (RFC 2104); a MAC copies them
 * (EVP_MD_CTX_copy_ex: about 0.3 us, where a dup'ed EVP_MAC_CTX costs 0.6 and
 * the one-shot HMAC() 1.3, which fetches the digest each time). A token is
 * then split, its MAC checked, and its payload decoded and parsed by jansson
 * once. libjwt still signs: that is not hot.
 */
struct mm_token_key {
    unsigned char *secret; /* for libjwt, which signs */
    size_t len;
    char *issuer;
    EVP_MD_CTX *inner; /* read only after mm_token_key_make: */
    EVP_MD_CTX *outer; /* each MAC copies them, so threads may share the key */
};

static const char *const type_names[] = {"access", "refresh", "ticket"};

/* Clock skew tolerated on iat/nbf, in seconds. */
#define SKEW 60

/* A secret file larger than this is not a secret but a mistake. */
#define SECRET_MAX 4096

/* The longest token read: ours are about 300 bytes; anything past this is
 * refused before it is decoded. */
#define TOKEN_MAX 4096

#define MAC_LEN 32     /* HMAC-SHA256 */
#define MAC_B64_LEN 43 /* its base64url form, unpadded */
#define SHA256_BLOCK 64

int mm_secret_read(const char *path, unsigned char **secret, size_t *len, const char **why)
{
    FILE *f = fopen(path, "rb");
    unsigned char buf[SECRET_MAX + 1];
    size_t n;
    struct stat st;

    if (!f) {
        *why = "cannot be opened";
        return -1;
    }
    /* A directory opens, then reads as empty: say what it is instead. */
    if (fstat(fileno(f), &st) != 0)
        st.st_mode = 0;
    if (!S_ISREG(st.st_mode)) {
        *why = S_ISDIR(st.st_mode) ? "is a directory, not a file" : "is not a regular file";
        fclose(f);
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

/* A SHA-256 context that has absorbed the key block XORed with pad. */
static EVP_MD_CTX *pad_state(const unsigned char *block, unsigned char pad)
{
    unsigned char x[SHA256_BLOCK];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    for (int i = 0; i < SHA256_BLOCK; i++)
        x[i] = block[i] ^ pad;
    if (ctx
        && (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || !EVP_DigestUpdate(ctx, x, sizeof(x)))) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    OPENSSL_cleanse(x, sizeof(x));
    return ctx;
}

/* The HMAC-SHA256 key schedule (RFC 2104): a key longer than a block is
 * hashed first; the block is the key padded with zeros. */
static int hmac_prepare(mm_token_key *k)
{
    unsigned char block[SHA256_BLOCK] = {0};
    unsigned int n;

    if (k->len > SHA256_BLOCK) {
        if (!EVP_Digest(k->secret, k->len, block, &n, EVP_sha256(), NULL))
            return -1;
    } else {
        memcpy(block, k->secret, k->len);
    }
    k->inner = pad_state(block, 0x36);
    k->outer = pad_state(block, 0x5c);
    OPENSSL_cleanse(block, sizeof(block));
    return k->inner && k->outer ? 0 : -1;
}

/* HMAC-SHA256 of msg from the prepared states; the key is only read. */
static int hmac(const mm_token_key *k, const void *msg, size_t n, unsigned char mac[MAC_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char h[MAC_LEN];
    unsigned int hn = 0, mn = 0;
    int ok = ctx && EVP_MD_CTX_copy_ex(ctx, k->inner) && EVP_DigestUpdate(ctx, msg, n)
             && EVP_DigestFinal_ex(ctx, h, &hn) && EVP_MD_CTX_copy_ex(ctx, k->outer)
             && EVP_DigestUpdate(ctx, h, hn) && EVP_DigestFinal_ex(ctx, mac, &mn);

    EVP_MD_CTX_free(ctx);
    return ok && hn == MAC_LEN && mn == MAC_LEN ? 0 : -1;
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
    if (hmac_prepare(k) != 0) {
        mm_token_key_free(k);
        return NULL;
    }
    return k;
}

void mm_token_key_free(mm_token_key *k)
{
    if (!k)
        return;
    if (k->secret)
        OPENSSL_cleanse(k->secret, k->len);
    free(k->secret);
    free(k->issuer);
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    free(k);
}

/* Strict base64url (RFC 7515 section 2): the URL alphabet, no padding, no
 * white space, and the unused low bits of the last character zero, so that
 * each byte string has exactly one encoding. Returns the decoded length or -1;
 * out holds at least n * 3 / 4 bytes. */
static long b64url_decode(const char *s, size_t n, unsigned char *out)
{
    unsigned long acc = 0;
    size_t len = 0;
    int bits = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v;
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        acc = (acc << 6 | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    return (acc & ((1UL << bits) - 1)) ? -1 : (long)len;
}

/* One base64url segment parsed as a JSON object; duplicate names and NUL
 * characters are refused, so no two readers can see different claims. */
static json_t *segment_object(const char *s, size_t n, unsigned char *buf)
{
    long len = b64url_decode(s, n, buf);
    json_t *v =
        len < 0 ? NULL : json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES, NULL);

    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* HS256 and nothing else ("none", HS384, HS512 are refused); typ, if there,
 * "JWT" as libjwt checked it; no "crit" extension, since none is understood.
 * The header mm_token_sign writes, {"alg":"HS256","typ":"JWT"} as libjwt
 * encodes it, is recognised by its bytes: no JSON to parse for it. */
static int header_valid(const char *s, size_t n, unsigned char *buf)
{
    static const char ours[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
    json_t *h, *typ;
    const char *alg;
    int ok;

    if (n == sizeof(ours) - 1 && memcmp(s, ours, n) == 0)
        return 1;
    h = segment_object(s, n, buf);
    typ = json_object_get(h, "typ");
    alg = json_string_value(json_object_get(h, "alg"));
    ok = alg && strcmp(alg, "HS256") == 0 && !json_object_get(h, "crit")
         && (!typ || (json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0));
    json_decref(h);
    return ok;
}

/* An integer claim that must be present and be a JSON integer (a string or a
 * real is not one). */
static int int_claim(json_t *claims, const char *name, long long *out)
{
    json_t *v = json_object_get(claims, name);

    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

/* A positive decimal id written as a string (the "sub" claim), canonically:
 * "01" names no user, as /meetings/01 names no meeting. */
static int id_claim(json_t *claims, const char *name, long long *out)
{
    const char *s = json_string_value(json_object_get(claims, name));
    char *end;

    if (!s || !isdigit((unsigned char)s[0]) || s[0] == '0')
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return (errno || *end || *out <= 0) ? -1 : 0;
}

/* A string claim equal to want. */
static int is_claim(json_t *claims, const char *name, const char *want)
{
    const char *s = json_string_value(json_object_get(claims, name));

    return s && strcmp(s, want) == 0;
}

static mm_token_status check_claims(const mm_token_key *k, json_t *claims, mm_token_type want,
                                    long long now, mm_claims *out)
{
    json_t *jti = json_object_get(claims, "jti"), *nbf = json_object_get(claims, "nbf");

    if (!is_claim(claims, "iss", k->issuer) || !is_claim(claims, "typ", type_names[want]))
        return MM_TOKEN_INVALID;
    if (id_claim(claims, "sub", &out->user_id) || int_claim(claims, "iat", &out->iat)
        || int_claim(claims, "exp", &out->exp))
        return MM_TOKEN_INVALID;
    if (want == MM_TOKEN_TICKET
        && (int_claim(claims, "mid", &out->meeting_id) || out->meeting_id <= 0))
        return MM_TOKEN_INVALID;
    if (want != MM_TOKEN_REFRESH && int_claim(claims, "gen", &out->gen))
        return MM_TOKEN_INVALID;
    if (jti) {
        if (!json_is_string(jti) || json_string_length(jti) >= sizeof(out->jti))
            return MM_TOKEN_INVALID;
        strcpy(out->jti, json_string_value(jti));
    }
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + SKEW))
        return MM_TOKEN_INVALID;
    if (out->iat > now + SKEW)
        return MM_TOKEN_INVALID;
    return out->exp <= now ? MM_TOKEN_EXPIRED : MM_TOKEN_OK;
}

/* The signature segment against the MAC of "header.payload", in constant time. */
static int signature_ok(const mm_token_key *k, const char *token, size_t signed_len,
                        const char *sig, size_t sig_len)
{
    unsigned char want[MAC_LEN], got[MAC_B64_LEN];

    return sig_len == MAC_B64_LEN && b64url_decode(sig, sig_len, got) == MAC_LEN
           && hmac(k, token, signed_len, want) == 0 && CRYPTO_memcmp(want, got, MAC_LEN) == 0;
}

mm_token_status mm_token_verify(const mm_token_key *k, const char *token, mm_token_type want,
                                long long now, mm_claims *out)
{
    unsigned char buf[TOKEN_MAX / 4 * 3];
    const char *dot1, *dot2;
    json_t *claims;
    mm_token_status st = MM_TOKEN_INVALID;
    size_t n;

    memset(out, 0, sizeof(*out));
    out->type = want;
    n = token ? strnlen(token, TOKEN_MAX + 1) : TOKEN_MAX + 1;
    if (n > TOKEN_MAX)
        return MM_TOKEN_INVALID;
    /* Exactly three segments: header.payload.signature. */
    dot1 = memchr(token, '.', n);
    dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', n - (size_t)(dot2 + 1 - token)))
        return MM_TOKEN_INVALID;
    /* The MAC first: no JSON parser sees bytes the key did not sign. */
    if (!signature_ok(k, token, (size_t)(dot2 - token), dot2 + 1, n - (size_t)(dot2 + 1 - token)))
        return MM_TOKEN_INVALID;
    if (!header_valid(token, (size_t)(dot1 - token), buf))
        return MM_TOKEN_INVALID;
    claims = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf);
    if (claims)
        st = check_claims(k, claims, want, now, out);
    json_decref(claims);
    return st;
}

static int add_claims(jwt_t *jwt, const mm_token_key *k, const mm_claims *c)
{
    char sub[24];

    snprintf(sub, sizeof(sub), "%lld", c->user_id);
    if (jwt_add_grant(jwt, "iss", k->issuer) || jwt_add_grant(jwt, "sub", sub)
        || jwt_add_grant(jwt, "typ", type_names[c->type]) || jwt_add_grant(jwt, "jti", c->jti)
        || jwt_add_grant_int(jwt, "iat", (long)c->iat)
        || jwt_add_grant_int(jwt, "exp", (long)c->exp))
        return -1;
    if (c->type == MM_TOKEN_TICKET && jwt_add_grant_int(jwt, "mid", (long)c->meeting_id))
        return -1;
    if (c->type != MM_TOKEN_REFRESH && jwt_add_grant_int(jwt, "gen", (long)c->gen))
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
    unsigned char mac[MAC_LEN];

    if (hmac(k, msg, strlen(msg), mac) != 0)
        return -1;
    for (unsigned int i = 0; i < MAC_LEN; i++) {
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
