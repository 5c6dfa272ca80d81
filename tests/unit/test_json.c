/* Unit tests for the JSON helpers (json.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "json.h"
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

START_TEST(quote_escapes_quotes_backslashes_and_controls)
{
    ck_assert_str_eq(mm_json_quote(pool, ""), "\"\"");
    ck_assert_str_eq(mm_json_quote(pool, "plain"), "\"plain\"");
    ck_assert_str_eq(mm_json_quote(pool, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    ck_assert_str_eq(mm_json_quote(pool, "\n\t\x01\x1f"), "\"\\u000a\\u0009\\u0001\\u001f\"");
    /* DEL and '/' need no escape; UTF-8 is copied byte for byte. */
    ck_assert_str_eq(mm_json_quote(pool, "\x7f/</"), "\"\x7f/</\"");
    ck_assert_str_eq(mm_json_quote(pool, "会议 \xe2\x80\xa8 😀"), "\"会议 \xe2\x80\xa8 😀\"");
}
END_TEST

/* Every byte value 1..127 in one string reads back as itself through jansson,
 * and so does the worst case for the output size (all control characters). */
START_TEST(quote_round_trips_through_a_json_parser)
{
    char all[128], controls[1025];
    const char *inputs[] = {all, controls, "x\"\\\"\\"};
    json_t *v;

    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    memset(controls, '\x1f', 1024);
    controls[1024] = '\0';
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        const char *quoted = mm_json_quote(pool, inputs[i]);
        v = json_loads(quoted, JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(v);
        ck_assert_str_eq(json_string_value(v), inputs[i]);
        json_decref(v);
    }
    ck_assert_uint_eq(strlen(mm_json_quote(pool, controls)), 1024 * 6 + 2);
}
END_TEST

/* The pool holds one reference and drops it when it is cleared. */
START_TEST(pool_releases_its_reference)
{
    apr_pool_t *sub;
    json_t *v = json_object();

    apr_pool_create(&sub, pool);
    json_incref(v);
    ck_assert_ptr_eq(mm_json_pool(sub, v), v);
    ck_assert_int_eq(v->refcount, 2);
    apr_pool_clear(sub);
    ck_assert_int_eq(v->refcount, 1);
    json_decref(v);
    ck_assert_ptr_null(mm_json_pool(sub, NULL));
    apr_pool_destroy(sub);
}
END_TEST

/* Compacts a NUL-terminated text into a pool copy, for comparisons. */
static const char *compact(const char *in)
{
    size_t len = strlen(in);
    char *out = apr_palloc(pool, len + 1);

    out[mm_json_compact(out, in, len)] = '\0';
    return out;
}

/* What PostgreSQL writes: json_build_object's "k" : v and json_agg's
 * ", \n " between elements. */
START_TEST(compact_drops_the_space_postgresql_writes)
{
    ck_assert_str_eq(compact("{\"user_id\" : 1, \"role\" : \"host\"}"),
                     "{\"user_id\":1,\"role\":\"host\"}");
    ck_assert_str_eq(compact("{\"participants\" : [{\"a\" : 1}, \n {\"a\" : 2}], \"total\" : 2}"),
                     "{\"participants\":[{\"a\":1},{\"a\":2}],\"total\":2}");
    ck_assert_str_eq(compact(" \t\r\n[ 1 ,\t2 ]\n"), "[1,2]");
    ck_assert_str_eq(compact("{\"user_id\":1}"), "{\"user_id\":1}");
    ck_assert_str_eq(compact(""), "");
}
END_TEST

/* White space inside a string is the string's: kept, whatever escapes come
 * before it, and a string ending in an escaped backslash ends there. */
START_TEST(compact_keeps_strings_as_they_are)
{
    ck_assert_str_eq(compact("{\"content\" : \"Hello everyone ! \"}"),
                     "{\"content\":\"Hello everyone ! \"}");
    ck_assert_str_eq(compact("[\"a \\\" b\", \"c \\\\\" , \"d\\\\\\\" e\"]"),
                     "[\"a \\\" b\",\"c \\\\\",\"d\\\\\\\" e\"]");
    ck_assert_str_eq(compact("{\"k \\n\" : \"\\u0020 :, \"}"), "{\"k \\n\":\"\\u0020 :, \"}");
    ck_assert_str_eq(compact("[\"会议 室\" , \"😀\"]"), "[\"会议 室\",\"😀\"]");
}
END_TEST

/* The compact text is the same JSON value, written in place too, and
 * jansson's own compact form comes out unchanged. */
START_TEST(compact_is_the_same_value)
{
    const char *inputs[] = {
        "{\"a\" : [1, 2.5, -3e2, true, false, null], \"b\" : {\"c\" : \"x y\"}}",
        "[ \"\\\\\" , \"\\\"\" , { } , [ ] ]",
        "{\"settings\" : {\"enable_chat\" : true}, \"s\" : \"a\\tb \\u00e9\"}",
    };

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        json_t *want = json_loads(inputs[i], 0, NULL);
        char *buf = apr_pstrdup(pool, inputs[i]), *dumped;
        size_t n = mm_json_compact(buf, buf, strlen(buf));
        json_t *got = json_loadb(buf, n, 0, NULL);

        ck_assert_ptr_nonnull(want);
        ck_assert_ptr_nonnull(got);
        ck_assert(json_equal(want, got));
        dumped = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
        ck_assert_str_eq(compact(dumped), dumped);
        free(dumped);
        json_decref(want);
        json_decref(got);
    }
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, quote_escapes_quotes_backslashes_and_controls);
    tcase_add_test(tc, quote_round_trips_through_a_json_parser);
    tcase_add_test(tc, pool_releases_its_reference);
    tcase_add_test(tc, compact_drops_the_space_postgresql_writes);
    tcase_add_test(tc, compact_keeps_strings_as_they_are);
    tcase_add_test(tc, compact_is_the_same_value);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(json_suite)
