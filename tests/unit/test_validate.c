/* Unit tests for input validation (validate.c) and query strings (query.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "validate.h"
#include "check_main.h"

START_TEST(time_parse_accepts_rfc3339_with_offset)
{
    long long t;

    ck_assert_int_eq(mm_time_parse("2025-10-03T10:00:00Z", &t), 0);
    ck_assert(t == 1759485600LL);
    ck_assert_int_eq(mm_time_parse("2025-10-03T18:00:00+08:00", &t), 0);
    ck_assert(t == 1759485600LL);
    ck_assert_int_eq(mm_time_parse("2025-10-03T04:30:00-05:30", &t), 0);
    ck_assert(t == 1759485600LL);
    ck_assert_int_eq(mm_time_parse("2025-10-03T10:00:00.999999Z", &t), 0);
    ck_assert(t == 1759485600LL);
    ck_assert_int_eq(mm_time_parse("2024-02-29T00:00:00z", &t), 0);
    ck_assert_int_eq(mm_time_parse("1969-12-31T23:59:59Z", &t), 0);
    ck_assert(t == -1);
}
END_TEST

START_TEST(time_parse_rejects_the_rest)
{
    static const char *const bad[] = {
        "2025-10-03T10:00:00", "2025-10-03 10:00:00Z", "2025-10-03T10:00Z",
        "2025-13-03T10:00:00Z", "2025-02-29T10:00:00Z", "2025-04-31T10:00:00Z",
        "2025-10-03T24:00:00Z", "2025-10-03T10:60:00Z", "2025-10-03T10:00:60Z",
        "2025-10-03T10:00:00+24:00", "2025-10-03T10:00:00+0800", "2025-10-03T10:00:00.Z",
        "2025-10-03T10:00:00ZZ", "0000-01-01T00:00:00Z", "x", "", "2025-1-03T10:00:00Z",
        "２０２５-10-03T10:00:00Z",
    };
    long long t;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(mm_time_parse(bad[i], &t) == -1, "%s", bad[i]);
}
END_TEST

START_TEST(time_format_is_utc_seconds)
{
    char buf[32];
    long long t;

    mm_time_format(1759485600LL, buf);
    ck_assert_str_eq(buf, "2025-10-03T10:00:00Z");
    mm_time_format(951782400LL, buf); /* 2000-02-29 */
    ck_assert_str_eq(buf, "2000-02-29T00:00:00Z");
    mm_time_format(-1, buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59Z");
    for (t = -86400LL * 400; t < 86400LL * 365 * 300; t += 86400LL * 17 + 3599) {
        long long back;
        mm_time_format(t, buf);
        ck_assert_int_eq(mm_time_parse(buf, &back), 0);
        ck_assert(back == t);
    }
}
END_TEST

START_TEST(utf8_counts_and_validity)
{
    ck_assert_uint_eq(mm_utf8_length("abc", 3), 3);
    ck_assert_uint_eq(mm_utf8_length("会议", 6), 2);
    ck_assert_uint_eq(mm_utf8_length("😀", 4), 1);
    ck_assert(mm_utf8_valid("héllo 会议 😀", strlen("héllo 会议 😀")));
    ck_assert(!mm_utf8_valid("\xff", 1));
    ck_assert(!mm_utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
    ck_assert(!mm_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    ck_assert(!mm_utf8_valid("\xf4\x90\x80\x80", 4));  /* above U+10FFFF */
    ck_assert(!mm_utf8_valid("\xe4\xbc", 2));          /* truncated */
    ck_assert(!mm_utf8_valid("a\0b", 3));
}
END_TEST

START_TEST(utf8_trim_unicode_space)
{
    const char *s = "\xe3\x80\x80 \t hi there\xc2\xa0\n";
    size_t start, len = mm_utf8_trim(s, strlen(s), &start);

    ck_assert_uint_eq(len, 8);
    ck_assert(memcmp(s + start, "hi there", 8) == 0);
    ck_assert_uint_eq(mm_utf8_trim(" \xe2\x80\x83 ", 5, &start), 0);
    ck_assert_uint_eq(mm_utf8_trim("会", 3, &start), 3);
}
END_TEST

START_TEST(emails_and_usernames)
{
    ck_assert(mm_email_valid("a@example.com"));
    ck_assert(mm_email_valid("first.last+tag@sub.example.co"));
    ck_assert(!mm_email_valid("a@b"));
    ck_assert(!mm_email_valid("@example.com"));
    ck_assert(!mm_email_valid("a@@example.com"));
    ck_assert(!mm_email_valid("a b@example.com"));
    ck_assert(!mm_email_valid("a@-x.com"));
    ck_assert(!mm_email_valid("a..b@example.com"));
    ck_assert(mm_username_valid("bob_1.x-y"));
    ck_assert(!mm_username_valid("bo"));
    ck_assert(!mm_username_valid("bob!"));
}
END_TEST

static const char *const kinds[] = {"video", "audio", NULL};
static const mm_field sub[] = {
    {"flag", MM_F_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};
static const mm_field spec[] = {
    {"title", MM_F_STRING, MM_F_REQUIRED, 1, 5, NULL, NULL},
    {"n", MM_F_INT, 0, 1, 10, NULL, NULL},
    {"kind", MM_F_ENUM, 0, 0, 0, kinds, NULL},
    {"when", MM_F_TIME, 0, 0, 0, NULL, NULL},
    {"pw", MM_F_STRING, MM_F_NULLABLE, 0, 3, NULL, NULL},
    {"s", MM_F_OBJECT, 0, 0, 0, NULL, sub},
    {"set", MM_F_ENUM_SET, 0, 1, 2, kinds, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* Validates text against spec; returns the field at fault ("" when valid). */
static const char *check(const char *text, const char **code)
{
    static mm_verr e;
    json_t *v = json_loads(text, 0, NULL);
    int rc;

    ck_assert_ptr_nonnull(v);
    rc = mm_validate_object(v, spec, &e);
    json_decref(v);
    *code = rc ? e.code : "";
    return rc ? e.field : "";
}

START_TEST(object_validation)
{
    const char *code;

    ck_assert_str_eq(check("{\"title\":\"abc\"}", &code), "");
    ck_assert_str_eq(check("{\"title\":\"会议会议会\",\"n\":10,\"kind\":\"audio\"}", &code), "");
    ck_assert_str_eq(check("{}", &code), "title");
    ck_assert_str_eq(code, "invalid_field");
    ck_assert_str_eq(check("{\"title\":\"\"}", &code), "title");
    ck_assert_str_eq(check("{\"title\":\"abcdef\"}", &code), "title");
    ck_assert_str_eq(check("{\"title\":7}", &code), "title");
    ck_assert_str_eq(check("{\"title\":\"a\",\"n\":0}", &code), "n");
    ck_assert_str_eq(check("{\"title\":\"a\",\"n\":1.0}", &code), "n");
    ck_assert_str_eq(check("{\"title\":\"a\",\"n\":\"3\"}", &code), "n");
    ck_assert_str_eq(check("{\"title\":\"a\",\"kind\":\"VIDEO\"}", &code), "kind");
    ck_assert_str_eq(check("{\"title\":\"a\",\"when\":\"2025-10-03T10:00:00\"}", &code),
                     "when");
    ck_assert_str_eq(check("{\"title\":\"a\",\"pw\":null}", &code), "");
    ck_assert_str_eq(check("{\"title\":null}", &code), "title");
    ck_assert_str_eq(check("{\"title\":\"a\",\"s\":{\"flag\":1}}", &code), "s.flag");
    ck_assert_str_eq(check("{\"title\":\"a\",\"s\":{\"other\":true}}", &code), "s.other");
    ck_assert_str_eq(code, "unknown_field");
    ck_assert_str_eq(check("{\"title\":\"a\",\"status\":\"ended\"}", &code), "status");
    ck_assert_str_eq(code, "unknown_field");
    check("[1]", &code);
    ck_assert_str_eq(code, "invalid_json");
}
END_TEST

START_TEST(enum_sets)
{
    const char *code;

    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[\"video\"]}", &code), "");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[\"audio\",\"video\"]}", &code), "");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[]}", &code), "set");
    ck_assert_str_eq(code, "invalid_field");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":\"video\"}", &code), "set");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[\"video\",\"video\"]}", &code), "set");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[\"film\"]}", &code), "set");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[1]}", &code), "set");
    ck_assert_str_eq(check("{\"title\":\"a\",\"set\":[\"audio\",\"video\",\"audio\"]}",
                           &code), "set");
}
END_TEST

START_TEST(query_strings)
{
    char buf[16];
    long v;

    ck_assert_int_eq(mm_query_get("page=2&page_size=10", "page_size", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "10");
    ck_assert_int_eq(mm_query_get("keyword=a%20b+c%25", "keyword", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "a b c%");
    ck_assert_int_eq(mm_query_get("pagex=1", "page", buf, sizeof(buf)), 0);
    ck_assert_int_eq(mm_query_get(NULL, "page", buf, sizeof(buf)), 0);
    ck_assert_int_eq(mm_query_get("k=%zz", "k", buf, sizeof(buf)), -1);
    ck_assert_int_eq(mm_query_get("k=%2", "k", buf, sizeof(buf)), -1);
    ck_assert_int_eq(mm_query_get("k=%00", "k", buf, sizeof(buf)), -1);
    ck_assert_int_eq(mm_query_get("k=0123456789abcdefg", "k", buf, sizeof(buf)), -1);
    ck_assert_int_eq(mm_query_get("k", "k", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(mm_query_int("42", 1, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(mm_query_int("0", 1, 100, &v), -1);
    ck_assert_int_eq(mm_query_int("101", 1, 100, &v), -1);
    ck_assert_int_eq(mm_query_int("-1", 1, 100, &v), -1);
    ck_assert_int_eq(mm_query_int("1e2", 1, 100, &v), -1);
    ck_assert_int_eq(mm_query_int("", 1, 100, &v), -1);
    ck_assert_int_eq(mm_query_int("99999999999999999999", 1, 100, &v), -1);
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, time_parse_accepts_rfc3339_with_offset);
    tcase_add_test(tc, time_parse_rejects_the_rest);
    tcase_add_test(tc, time_format_is_utc_seconds);
    tcase_add_test(tc, utf8_counts_and_validity);
    tcase_add_test(tc, utf8_trim_unicode_space);
    tcase_add_test(tc, emails_and_usernames);
    tcase_add_test(tc, object_validation);
    tcase_add_test(tc, enum_sets);
    tcase_add_test(tc, query_strings);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(validate_suite)
