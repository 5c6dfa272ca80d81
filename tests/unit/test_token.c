/* Unit tests for tokens (token.c): signing, the checks on verification, secrets. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "token.h"
#include "check_main.h"

static const unsigned char SECRET[] = "0123456789abcdef0123456789abcdef-test";
#define NOW 1800000000LL

static mm_token_key *key(const char *issuer)
{
    return mm_token_key_make(SECRET, sizeof(SECRET) - 1, issuer);
}

static char *sign(mm_token_key *k, mm_token_type type, long long iat, long long exp)
{
    mm_claims c;

    memset(&c, 0, sizeof(c));
    c.type = type;
    c.user_id = 42;
    c.meeting_id = 7;
    c.gen = 3;
    c.iat = iat;
    c.exp = exp;
    strcpy(c.jti, "abc123");
    return mm_token_sign(k, &c);
}

START_TEST(round_trip)
{
    mm_token_key *k = key("iss");
    char *t = sign(k, MM_TOKEN_TICKET, NOW, NOW + 300);
    mm_claims c;

    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_TICKET, NOW + 1, &c), MM_TOKEN_OK);
    ck_assert(c.user_id == 42 && c.meeting_id == 7 && c.exp == NOW + 300);
    ck_assert_str_eq(c.jti, "abc123");
    free(t);
    t = sign(k, MM_TOKEN_ACCESS, NOW, NOW + 300);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_OK);
    ck_assert(c.gen == 3);
    free(t);
    mm_token_key_free(k);
}
END_TEST

START_TEST(refuses_wrong_type_issuer_time)
{
    mm_token_key *k = key("iss"), *other = key("other");
    char *t = sign(k, MM_TOKEN_REFRESH, NOW, NOW + 300);
    mm_claims c;

    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    ck_assert_int_eq(mm_token_verify(other, t, MM_TOKEN_REFRESH, NOW, &c), MM_TOKEN_INVALID);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_REFRESH, NOW + 300, &c), MM_TOKEN_EXPIRED);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_REFRESH, NOW - 3600, &c), MM_TOKEN_INVALID);
    t[strlen(t) - 2] ^= 1;
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_REFRESH, NOW, &c), MM_TOKEN_INVALID);
    ck_assert_int_eq(mm_token_verify(k, "a.b.c", MM_TOKEN_REFRESH, NOW, &c), MM_TOKEN_INVALID);
    ck_assert_int_eq(mm_token_verify(k, NULL, MM_TOKEN_REFRESH, NOW, &c), MM_TOKEN_INVALID);
    free(t);
    mm_token_key_free(k);
    mm_token_key_free(other);
}
END_TEST

/* A token with the right claims under another algorithm and the same key. */
static char *foreign(jwt_alg_t alg)
{
    jwt_t *jwt;
    char *t;

    jwt_new(&jwt);
    if (alg != JWT_ALG_NONE)
        jwt_set_alg(jwt, alg, SECRET, sizeof(SECRET) - 1);
    jwt_add_grant(jwt, "iss", "iss");
    jwt_add_grant(jwt, "sub", "42");
    jwt_add_grant(jwt, "typ", "access");
    jwt_add_grant_int(jwt, "iat", (long)NOW);
    jwt_add_grant_int(jwt, "exp", (long)NOW + 300);
    jwt_add_grant_int(jwt, "gen", 0);
    t = jwt_encode_str(jwt);
    jwt_free(jwt);
    return t;
}

START_TEST(pins_hs256)
{
    mm_token_key *k = key("iss");
    jwt_alg_t algs[] = {JWT_ALG_HS384, JWT_ALG_HS512, JWT_ALG_NONE};
    mm_claims c;

    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *t = foreign(algs[i]);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
        free(t);
    }
    mm_token_key_free(k);
}
END_TEST

static const char *write_file(const char *text)
{
    static char path[] = "/tmp/mm-secret-XXXXXX";
    int fd;

    strcpy(path, "/tmp/mm-secret-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

START_TEST(secret_files)
{
    unsigned char *s;
    size_t n;
    const char *why, *p;

    p = write_file("0123456789abcdef0123456789abcdef\n\n");
    ck_assert_int_eq(mm_secret_read(p, &s, &n, &why), 0);
    ck_assert_uint_eq(n, 32);
    free(s);
    unlink(p);
    p = write_file("short\n");
    ck_assert_int_eq(mm_secret_read(p, &s, &n, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "32"));
    unlink(p);
    ck_assert_int_eq(mm_secret_read("/nonexistent/x", &s, &n, &why), -1);
}
END_TEST

START_TEST(url_signatures)
{
    mm_token_key *k = key("iss");
    char a[65], b[65];

    ck_assert_int_eq(mm_token_mac(k, "recording:1:rec_ab:100", a), 0);
    ck_assert_int_eq(mm_token_mac(k, "recording:1:rec_ab:101", b), 0);
    ck_assert_uint_eq(strlen(a), 64);
    ck_assert(!mm_token_equal(a, b));
    ck_assert(mm_token_equal(a, a));
    ck_assert(!mm_token_equal(a, "short"));
    mm_token_key_free(k);
}
END_TEST

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Base64url without padding, written to out (NUL-terminated). */
static void b64url(const void *data, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);

    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
}

/* "head.body.signature" with a correct HS256 MAC under SECRET over the raw
 * segments as given, computed with OpenSSL's one-shot HMAC: what a holder of
 * the key could send, however odd its segments. */
static char *forge_raw(const char *head, const char *body)
{
    size_t n = strlen(head) + strlen(body) + 1;
    char *t = malloc(n + 1 + 64);
    unsigned char mac[32];
    unsigned int len;

    snprintf(t, n + 1, "%s.%s", head, body);
    HMAC(EVP_sha256(), SECRET, sizeof(SECRET) - 1, (unsigned char *)t, n, mac, &len);
    t[n] = '.';
    b64url(mac, len, t + n + 1);
    return t;
}

/* The same with the header and payload given as JSON text. */
static char *forge(const char *header, const char *payload)
{
    char *h = malloc(strlen(header) * 2 + 4), *b = malloc(strlen(payload) * 2 + 4), *t;

    b64url(header, strlen(header), h);
    b64url(payload, strlen(payload), b);
    t = forge_raw(h, b);
    free(h);
    free(b);
    return t;
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS_BUT(extra)                                                                \
    "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":1800000000,"             \
    "\"exp\":1800000300" extra "}"
#define CLAIMS CLAIMS_BUT(",\"gen\":3")

#define TICKET_BUT(extra)                                                                \
    "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"ticket\",\"iat\":1800000000,"             \
    "\"exp\":1800000300" extra "}"

static mm_token_status verify_forged_as(mm_token_type type, const char *header,
                                        const char *payload, mm_claims *c)
{
    mm_token_key *k = key("iss");
    char *t = forge(header, payload);
    mm_token_status st = mm_token_verify(k, t, type, NOW, c);

    free(t);
    mm_token_key_free(k);
    return st;
}

static mm_token_status verify_forged(const char *header, const char *payload)
{
    mm_claims c;

    return verify_forged_as(MM_TOKEN_ACCESS, header, payload, &c);
}

START_TEST(verifies_what_openssl_signs)
{
    mm_token_key *k = key("iss");
    char *t = forge(HS256, CLAIMS);
    mm_claims c;

    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_OK);
    ck_assert(c.user_id == 42 && c.gen == 3 && c.iat == NOW && c.exp == NOW + 300);
    ck_assert_str_eq(c.jti, "");
    free(t);
    /* The same header written otherwise is parsed, not recognised by its bytes. */
    ck_assert_int_eq(verify_forged("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", CLAIMS), MM_TOKEN_OK);
    ck_assert_int_eq(verify_forged("{\"alg\":\"HS256\"}", CLAIMS), MM_TOKEN_OK);
    ck_assert_int_eq(verify_forged("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", CLAIMS), MM_TOKEN_OK);
    ck_assert_int_eq(verify_forged("{\"alg\":\"HS256\",\"kid\":\"1\"}", CLAIMS), MM_TOKEN_OK);
    /* What mm_token_sign writes starts with the header recognised by its bytes. */
    t = sign(k, MM_TOKEN_ACCESS, NOW, NOW + 300);
    ck_assert_int_eq(strncmp(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37), 0);
    free(t);
    mm_token_key_free(k);
}
END_TEST

START_TEST(refuses_other_headers)
{
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",  "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS384\"}",                 "{\"alg\":\"hs256\"}",
        "{\"alg\":\"RS256\"}",                 "{\"alg\":256}",
        "{\"typ\":\"JWT\"}",                   "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
        "{\"alg\":\"HS256\",\"typ\":1}",       "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"alg\":\"none\",\"alg\":\"HS256\"}",
        "[\"HS256\"]",                         "\"HS256\"",
        "{\"alg\":\"HS256\"} x",               "",
    };

    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        ck_assert_msg(verify_forged(headers[i], CLAIMS) == MM_TOKEN_INVALID, "%s", headers[i]);
}
END_TEST

START_TEST(checks_claim_types)
{
    static const char *const bad[] = {
        CLAIMS_BUT(""), /* no gen */
        CLAIMS_BUT(",\"gen\":\"3\""),
        CLAIMS_BUT(",\"gen\":3.0"),
        CLAIMS_BUT(",\"gen\":3,\"sub\":\"43\""), /* sub twice */
        CLAIMS_BUT(",\"gen\":3,\"exp\":1900000000"),
        CLAIMS_BUT(",\"gen\":3,\"jti\":\"0123456789012345678901234567890123456789\""),
        CLAIMS_BUT(",\"gen\":3,\"jti\":7"),
        CLAIMS_BUT(",\"gen\":3,\"nbf\":1800000061"),
        CLAIMS_BUT(",\"gen\":3,\"nbf\":\"0\""),
        "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":\"1800000000\","
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1.8000003e9,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":1800000061,"
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\\u0000x\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":42,\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"0\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"-4\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"42x\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1800000300,\"gen\":3}",
        /* not canonical: a leading zero */
        "{\"iss\":\"iss\",\"sub\":\"042\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"99999999999999999999\",\"typ\":\"access\","
        "\"iat\":1800000000,\"exp\":1800000300,\"gen\":3}",
        "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":1800000000,"
        "\"exp\":99999999999999999999,\"gen\":3}",
        /* Expired, but invalid first. */
        "{\"iss\":\"other\",\"sub\":\"42\",\"typ\":\"access\",\"iat\":1700000000,"
        "\"exp\":1700000300,\"gen\":3}",
        "[]", "\"x\"", "{}", "",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(verify_forged(HS256, bad[i]) == MM_TOKEN_INVALID, "%s", bad[i]);
    ck_assert_int_eq(verify_forged(HS256, CLAIMS_BUT(",\"gen\":3,\"nbf\":1800000060")),
                     MM_TOKEN_OK);
    ck_assert_int_eq(verify_forged(HS256, CLAIMS_BUT(",\"gen\":3,\"jti\":\"\",\"x\":[{}]")),
                     MM_TOKEN_OK);
    ck_assert_int_eq(verify_forged(HS256, CLAIMS_BUT(
                         ",\"gen\":3,\"jti\":\"012345678901234567890123456789012345678\"")),
                     MM_TOKEN_OK);
    ck_assert_int_eq(verify_forged(HS256, "{\"iss\":\"iss\",\"sub\":\"42\",\"typ\":\"access\","
                                          "\"iat\":1700000000,\"exp\":1700000300,\"gen\":3}"),
                     MM_TOKEN_EXPIRED);
}
END_TEST

START_TEST(checks_ticket_claims)
{
    mm_claims c;

    ck_assert_int_eq(verify_forged_as(MM_TOKEN_TICKET, HS256,
                                      TICKET_BUT(",\"mid\":9,\"gen\":4"), &c),
                     MM_TOKEN_OK);
    ck_assert(c.meeting_id == 9 && c.gen == 4 && c.type == MM_TOKEN_TICKET);
    /* A ticket carries its holder's token generation, so log-out can end it. */
    ck_assert_int_eq(verify_forged_as(MM_TOKEN_TICKET, HS256, TICKET_BUT(",\"mid\":9"), &c),
                     MM_TOKEN_INVALID);
    ck_assert_int_eq(verify_forged_as(MM_TOKEN_TICKET, HS256,
                                      TICKET_BUT(",\"mid\":9,\"gen\":\"4\""), &c),
                     MM_TOKEN_INVALID);
    ck_assert_int_eq(verify_forged_as(MM_TOKEN_TICKET, HS256,
                                      TICKET_BUT(",\"mid\":0,\"gen\":4"), &c),
                     MM_TOKEN_INVALID);
    ck_assert_int_eq(verify_forged_as(MM_TOKEN_TICKET, HS256, TICKET_BUT(""), &c),
                     MM_TOKEN_INVALID);
}
END_TEST

START_TEST(refuses_bad_segments)
{
    mm_token_key *k = key("iss");
    char *good = forge(HS256, CLAIMS), *t, *dot;
    static const char *const bad[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "a..c"};
    char body[512], buf[1024];
    mm_claims c;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(mm_token_verify(k, bad[i], MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    /* Four segments: a valid token with one more. */
    snprintf(buf, sizeof(buf), "%s.x", good);
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    snprintf(buf, sizeof(buf), "%s.", good);
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    /* The signature padded, or cut short. */
    snprintf(buf, sizeof(buf), "%s=", good);
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    snprintf(buf, sizeof(buf), "%s", good);
    buf[strlen(buf) - 1] = '\0';
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    /* The 43rd character of the signature carries 2 unused bits: set, the
     * bytes decode the same but the encoding is not the one signed. */
    snprintf(buf, sizeof(buf), "%s", good);
    dot = buf + strlen(buf) - 1;
    *dot = B64URL[strchr(B64URL, *dot) - B64URL + 1];
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    free(good);

    /* The payload in forms that a lax decoder would take, each correctly MAC'ed. */
    b64url(CLAIMS, strlen(CLAIMS), body);
    t = forge_raw("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", body);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_OK);
    free(t);
    static const char *const forms[] = {"%s=", "%s==", "%s===", " %s", "%s\n", "%sA", "%sAAAAA"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(buf, sizeof(buf), forms[i], body);
        t = forge_raw("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", buf);
        ck_assert_msg(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c) == MM_TOKEN_INVALID,
                      "%s", forms[i]);
        free(t);
    }
    /* Valid claims whose encoding needs '-' or '_', written with the '+' and
     * '/' of the other alphabet instead. */
    for (int need = 0; need < 2; need++) {
        char claims[256];
        int tries = 0;

        do {
            snprintf(claims, sizeof(claims), CLAIMS_BUT(",\"gen\":3,\"x\":\"%d>?\""), tries++);
            b64url(claims, strlen(claims), body);
        } while (!strchr(body, need ? '_' : '-'));
        for (char *p = body; *p; p++)
            *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        t = forge_raw("eyJhbGciOiJIUzI1NiJ9", body);
        ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
        free(t);
    }
    b64url(CLAIMS, strlen(CLAIMS), body);
    /* 16 bytes of header end in a character with 4 unused bits: set one, and
     * the bytes decode the same, the encoding differs. */
    b64url("{\"alg\":\"HS256\" }", 16, buf);
    t = forge_raw(buf, body);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_OK);
    free(t);
    dot = buf + strlen(buf) - 1;
    *dot = B64URL[strchr(B64URL, *dot) - B64URL + 1];
    t = forge_raw(buf, body);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    free(t);
    mm_token_key_free(k);
}
END_TEST

START_TEST(refuses_a_moved_signature)
{
    mm_token_key *k = key("iss");
    char *a = forge(HS256, CLAIMS), *b = forge(HS256, CLAIMS_BUT(",\"gen\":4"));
    char buf[1024];
    mm_claims c;

    /* b's header and payload under a's signature. */
    snprintf(buf, sizeof(buf), "%.*s%s", (int)(strrchr(b, '.') - b), b, strrchr(a, '.'));
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    /* a's payload, one bit changed, and a's signature. */
    snprintf(buf, sizeof(buf), "%s", a);
    buf[40] ^= 1;
    ck_assert_int_eq(mm_token_verify(k, buf, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    ck_assert(c.user_id == 0 && c.gen == 0 && c.exp == 0);
    free(a);
    free(b);
    mm_token_key_free(k);
}
END_TEST

/* A valid access token whose payload carries a padding claim of pad bytes. */
static char *padded(size_t pad)
{
    char *payload = malloc(pad + 256), *t;

    snprintf(payload, pad + 256, CLAIMS_BUT(",\"gen\":3,\"x\":\"%*s\""), (int)pad, "");
    t = forge(HS256, payload);
    free(payload);
    return t;
}

START_TEST(caps_token_length)
{
    mm_token_key *k = key("iss");
    mm_claims c;
    size_t pad = 2500;
    char *t;

    /* The longest padding that still fits in 4096 bytes, then one byte more. */
    for (;;) {
        t = padded(pad + 1);
        if (strlen(t) > 4096) {
            free(t);
            break;
        }
        free(t);
        pad++;
    }
    t = padded(pad);
    ck_assert_uint_le(strlen(t), 4096);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_OK);
    free(t);
    t = padded(pad + 1);
    ck_assert_uint_gt(strlen(t), 4096);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    free(t);
    t = padded(1 << 20);
    ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_ACCESS, NOW, &c), MM_TOKEN_INVALID);
    free(t);
    mm_token_key_free(k);
}
END_TEST

/* A secret longer than the SHA-256 block is hashed first (RFC 2104). */
START_TEST(long_secrets)
{
    unsigned char secret[200], mac[32];
    unsigned int len;
    char hex[65], want[65];
    mm_claims c;

    for (size_t n = 32; n <= sizeof(secret); n += 28) {
        mm_token_key *k;
        char *t;

        for (size_t i = 0; i < n; i++)
            secret[i] = (unsigned char)(i * 7 + n);
        k = mm_token_key_make(secret, n, "iss");
        ck_assert_ptr_nonnull(k);
        ck_assert_int_eq(mm_token_mac(k, "recording:1:rec_ab:100", hex), 0);
        HMAC(EVP_sha256(), secret, (int)n, (const unsigned char *)"recording:1:rec_ab:100", 22,
             mac, &len);
        for (unsigned int i = 0; i < len; i++)
            snprintf(want + 2 * i, 3, "%02x", mac[i]);
        ck_assert_str_eq(hex, want);
        t = sign(k, MM_TOKEN_REFRESH, NOW, NOW + 300);
        ck_assert_int_eq(mm_token_verify(k, t, MM_TOKEN_REFRESH, NOW, &c), MM_TOKEN_OK);
        free(t);
        mm_token_key_free(k);
    }
}
END_TEST

struct shared {
    const mm_token_key *k;
    const char *token;
    int ok;
};

static void *verify_many(void *arg)
{
    struct shared *s = arg;
    mm_claims c;

    for (int i = 0; i < 500; i++)
        s->ok += mm_token_verify(s->k, s->token, MM_TOKEN_ACCESS, NOW, &c) == MM_TOKEN_OK
                 && c.user_id == 42;
    return NULL;
}

/* httpd's worker threads verify with one key at once. */
START_TEST(one_key_many_threads)
{
    mm_token_key *k = key("iss");
    char *t = sign(k, MM_TOKEN_ACCESS, NOW, NOW + 300);
    pthread_t th[4];
    struct shared s[4];

    for (int i = 0; i < 4; i++) {
        s[i] = (struct shared){k, t, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, verify_many, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(s[i].ok, 500);
    }
    free(t);
    mm_token_key_free(k);
}
END_TEST

static Suite *token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refuses_wrong_type_issuer_time);
    tcase_add_test(tc, pins_hs256);
    tcase_add_test(tc, secret_files);
    tcase_add_test(tc, url_signatures);
    tcase_add_test(tc, verifies_what_openssl_signs);
    tcase_add_test(tc, refuses_other_headers);
    tcase_add_test(tc, checks_claim_types);
    tcase_add_test(tc, checks_ticket_claims);
    tcase_add_test(tc, refuses_bad_segments);
    tcase_add_test(tc, refuses_a_moved_signature);
    tcase_add_test(tc, caps_token_length);
    tcase_add_test(tc, long_secrets);
    tcase_add_test(tc, one_key_many_threads);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(token_suite)
