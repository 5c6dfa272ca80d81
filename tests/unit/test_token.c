/* Unit tests for tokens (token.c): signing, the checks on verification, secrets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>

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

static Suite *token_suite(void)
{
    Suite *s = suite_create("token");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refuses_wrong_type_issuer_time);
    tcase_add_test(tc, pins_hs256);
    tcase_add_test(tc, secret_files);
    tcase_add_test(tc, url_signatures);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(token_suite)
