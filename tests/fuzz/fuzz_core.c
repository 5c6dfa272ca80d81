/*
 * libFuzzer harness for everything in the module that parses client bytes
 * without httpd: JSON bodies against field tables, RFC 3339 times, route
 * matching, query strings, tokens, UTF-8 handling and JSON quoting. The first
 * byte picks the parser; the rest is its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "query.h"
#include "router.h"
#include "token.h"
#include "validate.h"

static const char *const kinds[] = {"video", "audio", NULL};
static const mm_field settings[] = {
    {"enable_chat", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};
static const mm_field fields[] = {
    {"title", MM_F_STRING, MM_F_REQUIRED, 1, 100, NULL, NULL},
    {"start_time", MM_F_TIME, 0, 0, 0, NULL, NULL},
    {"max_participants", MM_F_INT, 0, 1, 1000, NULL, NULL},
    {"meeting_type", MM_F_ENUM, 0, 0, 0, kinds, NULL},
    {"password", MM_F_STRING, MM_F_NULLABLE, 0, 50, NULL, NULL},
    {"email", MM_F_EMAIL, 0, 3, 254, NULL, NULL},
    {"username", MM_F_USERNAME, 0, 3, 50, NULL, NULL},
    {"avatar_url", MM_F_URL, 0, 0, 500, NULL, NULL},
    {"settings", MM_F_OBJECT, 0, 0, 0, NULL, settings},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static void fuzz_body(const char *s, size_t n)
{
    json_t *v = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
    mm_verr e;

    if (v) {
        mm_validate_object(v, fields, &e);
        json_decref(v);
    }
}

static void fuzz_time(const char *s)
{
    long long t;
    char buf[32];

    if (mm_time_parse(s, &t) == 0) {
        long long back;
        mm_time_format(t, buf);
        if (mm_time_parse(buf, &back) != 0 || back != t)
            abort();
    }
}

static void fuzz_route(const char *s)
{
    const mm_route *rt;
    mm_path_params pp;
    const char *allow;
    mm_method m = (mm_method)((unsigned char)s[0] % 5);

    if (mm_route_find(m, s, &rt, &pp, &allow) == MM_ROUTE_FOUND && pp.rec
        && strncmp(pp.rec, "rec_", 4) != 0)
        abort();
}

static void fuzz_query(const char *s)
{
    char buf[64];
    long v;

    if (mm_query_get(s, "page", buf, sizeof(buf)) == 1)
        mm_query_int(buf, 1, 100, &v);
    mm_query_get(s, "keyword", buf, sizeof(buf));
}

#define FUZZ_SECRET "0123456789abcdef0123456789abcdef"
#define FUZZ_NOW 1800000000LL

/* Base64url of in, unpadded, written at out (room for (n + 2) / 3 * 4 + 1);
 * returns its length. */
static size_t b64url(char *out, const void *in, size_t n)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return (size_t)len;
}

/* A token's "signed.part" with its HS256 signature appended, as the key's
 * holder would write it; malloc'ed. */
static char *fuzz_sign(const char *part, size_t n)
{
    char *t = malloc(n + 1 + 45);
    unsigned char mac[32];
    unsigned int len;

    memcpy(t, part, n);
    t[n] = '.';
    HMAC(EVP_sha256(), FUZZ_SECRET, 32, (const unsigned char *)part, n, mac, &len);
    b64url(t + n + 1, mac, len);
    return t;
}

static void fuzz_verify(const mm_token_key *k, const char *t, mm_token_type want)
{
    mm_claims c;

    if (mm_token_verify(k, t, want, FUZZ_NOW, &c) == MM_TOKEN_OK
        && (c.user_id <= 0 || c.exp <= FUZZ_NOW || c.type != want))
        abort();
}

/* The input as a token; then, so that the decoding and the claim checks behind
 * the MAC are reached too, the input re-signed (its last segment replaced by
 * the right MAC) or, without a dot, as the claims JSON under an HS256 header. */
static void fuzz_token(const char *s)
{
    static mm_token_key *k;
    mm_token_type want = (mm_token_type)(strlen(s) % 3);
    const char *dot = strrchr(s, '.');
    char *t;

    if (!k)
        k = mm_token_key_make((const unsigned char *)FUZZ_SECRET, 32, "iss");
    fuzz_verify(k, s, want);
    if (dot) {
        t = fuzz_sign(s, (size_t)(dot - s));
    } else {
        size_t n = strlen(s);
        char *part = malloc(37 + (n + 2) / 3 * 4 + 1);

        memcpy(part, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37);
        t = fuzz_sign(part, 37 + b64url(part + 37, s, n));
        free(part);
    }
    fuzz_verify(k, t, want);
    free(t);
}

/* Any UTF-8 text quoted by mm_json_quote reads back as itself. */
static void fuzz_quote(const char *s)
{
    static apr_pool_t *p;
    json_t *v;

    if (!p) {
        apr_initialize();
        apr_pool_create(&p, NULL);
    }
    v = json_loads(mm_json_quote(p, s), JSON_DECODE_ANY, NULL);
    if (!v || strcmp(json_string_value(v), s) != 0)
        abort();
    json_decref(v);
    apr_pool_clear(p);
}

static void fuzz_utf8(const char *s, size_t n)
{
    size_t start;

    if (mm_utf8_valid(s, strlen(s)))
        fuzz_quote(s);
    if (mm_utf8_valid(s, n)) {
        size_t len = mm_utf8_trim(s, n, &start);
        if (start + len > n || mm_utf8_length(s + start, len) > n)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1)
        return 0;
    s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 6) {
    case 0: fuzz_body(s, size - 1); break;
    case 1: fuzz_time(s); break;
    case 2: fuzz_route(s); break;
    case 3: fuzz_query(s); break;
    case 4: fuzz_token(s); break;
    default: fuzz_utf8(s, size - 1); break;
    }
    free(s);
    return 0;
}
