/* Unit tests for signald's reading of the upgrade request's query
 * (mod_meeting/signald/parse.c, sd_query_*): the room_url's parameters
 * in any order, each once, within the size limits. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "signald/parse.h"
#include "check_main.h"

/* A ticket as long as real ones: far over the 32 bytes an id buffer held. */
#define TICKET "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJtaWQiOjQyLCJzdWIiOiI3In0." \
               "c2lnbmF0dXJlLW9mLXRoaXJ0eS10d28tYnl0ZXM"

static sd_query q;
static const char *why;

/* Reads the parameters of query, split at '&' as lws hands them over. */
static int read_query(const char *query)
{
    const char *p = query;
    int rc = 0;

    why = NULL;
    sd_query_init(&q);
    while (!rc) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);

        rc = sd_query_arg(&q, p, len, &why);
        if (!amp)
            break;
        p = amp + 1;
    }
    return rc ? rc : sd_query_end(&q, &why);
}

/* Every one of the 6 orders, the ticket first included, reads the same. */
START_TEST(any_order_reads_the_same)
{
    const char *a[3] = {"meeting_id=42", "user_id=7", "token=" TICKET};
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    char query[512];

    for (int i = 0; i < 6; i++) {
        snprintf(query, sizeof(query), "%s&%s&%s", a[orders[i][0]], a[orders[i][1]],
                 a[orders[i][2]]);
        ck_assert_msg(read_query(query) == 0, "%s: %s", query, why);
        ck_assert_int_eq(q.meeting_id, 42);
        ck_assert_int_eq(q.user_id, 7);
        ck_assert_str_eq(q.token, TICKET);
    }
}
END_TEST

START_TEST(other_parameters_are_let_be)
{
    ck_assert_int_eq(read_query("lang=zh&token=" TICKET "&v=1&user_id=7&x&meeting_id=42&v=2"),
                     0);
    ck_assert_int_eq(q.meeting_id, 42);
    ck_assert_int_eq(q.user_id, 7);
    ck_assert_str_eq(q.token, TICKET);
    /* Names are whole: a longer or shorter one is another parameter. */
    ck_assert_int_eq(read_query("xmeeting_id=1&meeting_id=42&user_id=7&user=9&token=t"), 0);
    ck_assert_int_eq(q.meeting_id, 42);
}
END_TEST

START_TEST(each_of_the_three_is_given_once)
{
    const char *twice[] = {
        "meeting_id=42&user_id=7&token=t&meeting_id=42",
        "user_id=7&meeting_id=42&user_id=8&token=t",
        "token=" TICKET "&meeting_id=42&user_id=7&token=" TICKET,
        "token=&token=t&meeting_id=42&user_id=7",
    };

    for (size_t i = 0; i < sizeof(twice) / sizeof(twice[0]); i++) {
        ck_assert_int_eq(read_query(twice[i]), 4400);
        ck_assert_str_eq(why, "meeting_id, user_id and token may each be given once");
    }
}
END_TEST

START_TEST(missing_or_bad_values_are_4401)
{
    const char *missing[] = {"", "meeting_id=42&user_id=7", "user_id=7&token=t",
                             "meeting_id=42&token=t", "meeting_id=42&user_id=7&token=",
                             "meeting_id&user_id=7&token=t"};
    const char *bad[] = {"meeting_id=0&user_id=7&token=t", "meeting_id=-4&user_id=7&token=t",
                         "meeting_id=4a&user_id=7&token=t", "meeting_id= 4&user_id=7&token=t",
                         "meeting_id=42&user_id=&token=t",
                         "meeting_id=9223372036854775808&user_id=7&token=t"};

    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        ck_assert_msg(read_query(missing[i]) == 4401, "%s", missing[i]);
        ck_assert_str_eq(why, "meeting_id, user_id and token are required");
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(read_query(bad[i]) == 4401, "%s", bad[i]);
        ck_assert_str_eq(why, "meeting_id and user_id must be positive integers");
    }
    ck_assert_int_eq(read_query("meeting_id=9223372036854775807&user_id=7&token=t"), 0);
    ck_assert(q.meeting_id == 9223372036854775807LL);
}
END_TEST

/* A value with a NUL (urldecoded %00) is no ticket. */
START_TEST(a_token_with_a_nul_is_missing)
{
    static const char arg[] = "token=ab\0cd";

    sd_query_init(&q);
    ck_assert_int_eq(sd_query_arg(&q, "meeting_id=1", 12, &why), 0);
    ck_assert_int_eq(sd_query_arg(&q, "user_id=2", 9, &why), 0);
    ck_assert_int_eq(sd_query_arg(&q, arg, sizeof(arg) - 1, &why), 0);
    ck_assert_int_eq(sd_query_end(&q, &why), 4401);
}
END_TEST

/* SD_QUERY_MAX bytes are read, one more is refused, whether in one
 * parameter or in many; so are parameters past SD_QUERY_ARGS. */
START_TEST(the_query_has_limits)
{
    static char query[SD_QUERY_MAX + 2];
    const char *head = "meeting_id=42&user_id=7&token=";
    size_t hlen = strlen(head);
    char *p;

    memcpy(query, head, hlen);
    memset(query + hlen, 'a', SD_QUERY_MAX - hlen);
    query[SD_QUERY_MAX] = '\0';
    ck_assert_int_eq(read_query(query), 0);
    ck_assert_uint_eq(strlen(q.token), SD_QUERY_MAX - hlen);
    query[SD_QUERY_MAX] = 'a';
    ck_assert_int_eq(read_query(query), 4400);
    ck_assert_str_eq(why, SD_QUERY_TOO_LONG);

    /* One parameter alone over the limit. */
    memcpy(query, "token=", 6);
    memset(query + 6, 'a', SD_QUERY_MAX - 5);
    query[SD_QUERY_MAX + 1] = '\0';
    ck_assert_int_eq(read_query(query), 4400);

    /* Many short ones: the '&'s count. */
    p = query;
    for (int i = 0; i < SD_QUERY_ARGS - 3; i++)
        p += sprintf(p, "x=%d&", i);
    strcpy(p, "meeting_id=42&user_id=7&token=t");
    ck_assert_int_eq(read_query(query), 0);
    memmove(query + 2, query, strlen(query) + 1);
    memcpy(query, "y&", 2);
    ck_assert_int_eq(read_query(query), 4400);
    ck_assert_str_eq(why, "the query has more than 32 parameters");
}
END_TEST

static Suite *sig_query_suite(void)
{
    Suite *s = suite_create("sig_query");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, any_order_reads_the_same);
    tcase_add_test(tc, other_parameters_are_let_be);
    tcase_add_test(tc, each_of_the_three_is_given_once);
    tcase_add_test(tc, missing_or_bad_values_are_4401);
    tcase_add_test(tc, a_token_with_a_nul_is_missing);
    tcase_add_test(tc, the_query_has_limits);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(sig_query_suite)
