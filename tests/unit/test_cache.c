/* Unit tests for the meeting-detail read cache (cache.c): what it answers,
 * what each forget removes, and that a read which raced with a change cannot
 * store what it read. */
#include <check.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "cache.h"
#include "check_main.h"

#define TAG "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""
#define DATA "{\"meeting_id\":7,\"title\":\"t\"}"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    ck_assert_int_eq(mm_cache_attach(pool, apr_time_from_sec(30)), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static int hit(long long m, long long u, long long gen)
{
    const char *data = NULL, *etag = NULL;
    mm_cache_ticket t;
    int found = mm_cache_detail(pool, m, u, gen, &data, &etag, &t);

    if (found) {
        ck_assert_str_eq(data, DATA);
        ck_assert_str_eq(etag, TAG);
    }
    return found;
}

/* Reads (a miss) and stores what the database would have answered. */
static void fill(long long m, long long u, long long gen)
{
    const char *data, *etag;
    mm_cache_ticket t;

    mm_cache_detail(pool, m, u, gen, &data, &etag, &t);
    mm_cache_store(&t, m, u, gen, DATA, TAG);
}

START_TEST(a_stored_detail_answers_only_its_meeting_user_and_generation)
{
    ck_assert(!hit(7, 3, 0));
    fill(7, 3, 0);
    ck_assert(hit(7, 3, 0));
    ck_assert(!hit(7, 3, 1));   /* another token generation: logged out since */
    ck_assert(!hit(7, 4, 0));   /* another user: no membership known */
    ck_assert(!hit(8, 3, 0));
}
END_TEST

START_TEST(each_forget_removes_what_it_names)
{
    fill(7, 3, 0);
    mm_cache_forget_user(3);
    ck_assert(!hit(7, 3, 0));
    fill(7, 3, 0);
    mm_cache_forget_member(7, 3);
    ck_assert(!hit(7, 3, 0));
    fill(7, 3, 0);
    mm_cache_forget_meeting(7);
    ck_assert(!hit(7, 3, 0));
    fill(7, 3, 0);
    ck_assert(hit(7, 3, 0));
}
END_TEST

START_TEST(a_read_that_raced_with_a_change_cannot_store)
{
    const char *data, *etag;
    mm_cache_ticket t;

    ck_assert(!mm_cache_detail(pool, 7, 3, 0, &data, &etag, &t));
    mm_cache_forget_meeting(7);     /* committed while the read was in flight */
    mm_cache_store(&t, 7, 3, 0, DATA, TAG);
    ck_assert(!hit(7, 3, 0));

    ck_assert(!mm_cache_detail(pool, 7, 3, 0, &data, &etag, &t));
    mm_cache_forget_user(3);
    mm_cache_store(&t, 7, 3, 0, DATA, TAG);
    ck_assert(!hit(7, 3, 0));
}
END_TEST

START_TEST(entries_expire_and_zero_turns_it_off)
{
    ck_assert_int_eq(mm_cache_attach(pool, 2000), APR_SUCCESS);     /* 2 ms */
    fill(7, 3, 0);
    ck_assert(hit(7, 3, 0));
    apr_sleep(5000);
    ck_assert(!hit(7, 3, 0));
    ck_assert_int_eq(mm_cache_attach(pool, 0), APR_SUCCESS);
    fill(7, 3, 0);
    ck_assert(!hit(7, 3, 0));
}
END_TEST

START_TEST(a_restart_empties_it_and_long_details_are_not_kept)
{
    char big[2000];
    const char *data, *etag;
    mm_cache_ticket t;

    fill(7, 3, 0);
    ck_assert_int_eq(mm_cache_attach(pool, apr_time_from_sec(30)), APR_SUCCESS);
    ck_assert(!hit(7, 3, 0));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mm_cache_detail(pool, 9, 3, 0, &data, &etag, &t);
    mm_cache_store(&t, 9, 3, 0, big, TAG);
    ck_assert(!mm_cache_detail(pool, 9, 3, 0, &data, &etag, &t));
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_stored_detail_answers_only_its_meeting_user_and_generation);
    tcase_add_test(tc, each_forget_removes_what_it_names);
    tcase_add_test(tc, a_read_that_raced_with_a_change_cannot_store);
    tcase_add_test(tc, entries_expire_and_zero_turns_it_off);
    tcase_add_test(tc, a_restart_empties_it_and_long_details_are_not_kept);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(cache_suite)
