/* Unit tests for the meeting-detail read cache (cache.c): what it answers,
 * what each forget removes, and that a read which raced with a change cannot
 * store what it read. */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_shm.h>
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

/* A graceful restart onto a newer module finds the segment the older one
 * made, whose children still use it with their own rules (its magic number,
 * the segment's first 8 bytes, says whose): ours get a new, empty one and
 * the old one is left as it is. */
START_TEST(a_segment_an_older_module_made_is_left_to_it)
{
    const uint64_t older = 0x4d4d434143484531ull; /* "MMCACHE1" */
    apr_shm_t *old = NULL, *now = NULL;

    fill(7, 3, 0);
    apr_pool_userdata_get((void **)&old, "mod_meeting/cache_shm", pool);
    ck_assert_ptr_nonnull(old);
    memcpy(apr_shm_baseaddr_get(old), &older, sizeof(older));
    ck_assert_int_eq(mm_cache_attach(pool, apr_time_from_sec(30)), APR_SUCCESS);
    apr_pool_userdata_get((void **)&now, "mod_meeting/cache_shm", pool);
    ck_assert_ptr_ne(now, old);
    ck_assert_int_eq(memcmp(apr_shm_baseaddr_get(old), &older, sizeof(older)), 0);
    ck_assert(!hit(7, 3, 0));
    fill(7, 3, 0);
    ck_assert(hit(7, 3, 0));
}
END_TEST

/* Forgets everything about (7, 3); how long that took. */
static apr_interval_time_t forget_all_of_7_3(void)
{
    apr_time_t t0 = apr_time_now();

    mm_cache_forget_meeting(7);
    mm_cache_forget_member(7, 3);
    mm_cache_forget_user(3);
    return apr_time_now() - t0;
}

#define WRITERS 4

static void store_for_ever(const char *data)
{
    const char *cached, *etag;
    mm_cache_ticket t;

    for (;;) {
        mm_cache_detail(pool, 7, 3, 0, &cached, &etag, &t);
        mm_cache_store(&t, 7, 3, 0, data, TAG);
    }
}

/* Children storing a long detail into the slots of (7, 3) are killed at some
 * moment of their loop, again and again, until a death leaves a slot held
 * (what SIGKILL or a crash of an httpd child can do): the forgets after
 * every death must still return, by retiring that slot, and a retired slot
 * keeps nothing and is forgotten at once. Without the retirement a forget
 * waits for ever and the test times out. */
START_TEST(a_writer_killed_holding_a_slot_blocks_no_forget)
{
    char big[900];
    apr_time_t until = apr_time_now() + apr_time_from_sec(15);
    int retired = 0;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int round = 0; !retired && apr_time_now() < until; round++) {
        pid_t pid[WRITERS];

        for (int i = 0; i < WRITERS; i++)
            if ((pid[i] = fork()) == 0)
                store_for_ever(big);
        apr_sleep(100 + (round % 5) * 50);
        for (int i = 0; i < WRITERS; i++) {
            ck_assert_int_gt(pid[i], 0);
            kill(pid[i], SIGKILL);
            waitpid(pid[i], NULL, 0);
        }
        ck_assert_int_lt(forget_all_of_7_3(), apr_time_from_sec(1));
        fill(7, 3, 0);
        retired = !hit(7, 3, 0);
    }
    ck_assert_msg(retired, "no death left a slot held in 15 s: nothing was shown");
    ck_assert_int_lt(forget_all_of_7_3(), 10000);
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
    tcase_add_test(tc, a_segment_an_older_module_made_is_left_to_it);
    suite_add_tcase(s, tc);
    /* Forks and kills until a death comes at the right moment: seconds. */
    tc = tcase_create("deaths");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, a_writer_killed_holding_a_slot_blocks_no_forget);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(cache_suite)
