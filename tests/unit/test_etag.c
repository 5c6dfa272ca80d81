/* Unit tests for the pure part of SPEC.md 9 (etag.c): ETags, the entity-tag
 * lists of If-Match and If-None-Match, the form of an Idempotency-Key; and
 * which routes take a key (router.c). */
#include <check.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "etag.h"
#include "router.h"
#include "check_main.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

#define TAG_A "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""
#define TAG_B "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\""

START_TEST(etag_is_the_quoted_sha256_of_the_data)
{
    /* SHA-256("abc"), FIPS 180-2 appendix B.1 */
    ck_assert_str_eq(mm_etag_of(pool, "abc", 3),
                     "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
    ck_assert_str_eq(mm_sha256_hex(pool, "", 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_str_ne(mm_etag_of(pool, "{\"a\":1}", 7), mm_etag_of(pool, "{\"a\":2}", 7));
}
END_TEST

START_TEST(if_match_keeps_the_strong_tags)
{
    ck_assert_ptr_null(mm_etag_if_match(pool, NULL));
    ck_assert_str_eq(mm_etag_if_match(pool, "*"), "*");
    ck_assert_str_eq(mm_etag_if_match(pool, " * "), "*");
    ck_assert_str_eq(mm_etag_if_match(pool, TAG_A), TAG_A);
    ck_assert_str_eq(mm_etag_if_match(pool, TAG_A ", " TAG_B), TAG_A "," TAG_B);
    ck_assert_str_eq(mm_etag_if_match(pool, ",, " TAG_A " ,"), TAG_A);
    /* Strong comparison: a weak tag never matches. */
    ck_assert_str_eq(mm_etag_if_match(pool, "W/" TAG_A ", " TAG_B), TAG_B);
    ck_assert_str_eq(mm_etag_if_match(pool, "W/" TAG_A), "");
    /* A tag holding a comma can never be ours: the list is split on them. */
    ck_assert_str_eq(mm_etag_if_match(pool, "\"a,b\", " TAG_A), TAG_A);
}
END_TEST

START_TEST(if_match_malformed_matches_nothing)
{
    static const char *const bad[] = {
        "", "garbage", "\"unterminated", TAG_A " x", "* , " TAG_A, "\"a\"\"b\"",
        "w/" TAG_A, "\"sp ace\"", "\"\x7f\"", TAG_A ";",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(strcmp(mm_etag_if_match(pool, bad[i]), "") == 0, "%s", bad[i]);
}
END_TEST

START_TEST(if_none_match_compares_weakly)
{
    ck_assert(mm_etag_none_match(TAG_A, TAG_A));
    ck_assert(mm_etag_none_match("W/" TAG_A, TAG_A));
    ck_assert(mm_etag_none_match(TAG_B ", W/" TAG_A, TAG_A));
    ck_assert(mm_etag_none_match("*", TAG_A));
    ck_assert(!mm_etag_none_match(NULL, TAG_A));
    ck_assert(!mm_etag_none_match(TAG_B, TAG_A));
    ck_assert(!mm_etag_none_match("", TAG_A));
    /* A malformed list is ignored whole, even if it names the tag. */
    ck_assert(!mm_etag_none_match(TAG_A ", junk", TAG_A));
    ck_assert(!mm_etag_none_match("\"aaaa\"", TAG_A));
}
END_TEST

START_TEST(idempotency_keys_are_1_to_255_printable_ascii)
{
    char key[300];

    ck_assert(mm_idem_key_valid("a"));
    ck_assert(mm_idem_key_valid("!~\"#,;=/"));
    ck_assert(mm_idem_key_valid("123e4567-e89b-12d3-a456-426614174000"));
    ck_assert(!mm_idem_key_valid(""));
    ck_assert(!mm_idem_key_valid("a b"));
    ck_assert(!mm_idem_key_valid("a\tb"));
    ck_assert(!mm_idem_key_valid("a\x7f"));
    ck_assert(!mm_idem_key_valid("caf\xc3\xa9"));
    memset(key, 'k', sizeof(key));
    key[255] = '\0';
    ck_assert(mm_idem_key_valid(key));
    key[255] = 'k';
    key[256] = '\0';
    ck_assert(!mm_idem_key_valid(key));
}
END_TEST

START_TEST(every_authenticated_post_takes_a_key)
{
    for (int i = 0; i < MM_ROUTE_COUNT; i++) {
        const mm_route *rt = mm_route_by_id((mm_route_id)i);
        ck_assert_int_eq(mm_route_keyed(rt),
                         rt->method == MM_M_POST && rt->auth == MM_AUTH_JWT);
    }
    ck_assert(mm_route_keyed(mm_route_by_name("meeting.create")));
    ck_assert(mm_route_keyed(mm_route_by_name("meeting.join")));
    ck_assert(mm_route_keyed(mm_route_by_name("message.send")));
    ck_assert(mm_route_keyed(mm_route_by_name("recording.start")));
    ck_assert(mm_route_keyed(mm_route_by_name("recording.stop")));
    ck_assert(mm_route_keyed(mm_route_by_name("participant.add")));
    ck_assert(!mm_route_keyed(mm_route_by_name("auth.register")));
    ck_assert(!mm_route_keyed(mm_route_by_name("meeting.update")));
    ck_assert(!mm_route_keyed(mm_route_by_name("meeting.delete")));
}
END_TEST

static Suite *etag_suite(void)
{
    Suite *s = suite_create("etag");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, etag_is_the_quoted_sha256_of_the_data);
    tcase_add_test(tc, if_match_keeps_the_strong_tags);
    tcase_add_test(tc, if_match_malformed_matches_nothing);
    tcase_add_test(tc, if_none_match_compares_weakly);
    tcase_add_test(tc, idempotency_keys_are_1_to_255_printable_ascii);
    tcase_add_test(tc, every_authenticated_post_takes_a_key);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(etag_suite)
