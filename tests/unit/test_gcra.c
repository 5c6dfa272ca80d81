/*
 * GCRA arithmetic (mod_meeting/core/gcra.c): SPEC.md section 4 at its edges.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "gcra.h"
#include "check_main.h"

#define S 1000000LL                 /* one second in microseconds */
#define NOW (1700000000LL * S)      /* an arbitrary wall-clock-like instant */

static mm_gcra_limit lim(uint32_t count, uint32_t period_s)
{
    mm_gcra_limit l;

    ck_assert_int_eq(mm_gcra_limit_init(&l, count, period_s), 0);
    return l;
}

/* One request against a TAT kept by the caller, as the table would. */
static mm_gcra_result hit(const mm_gcra_limit *l, int64_t *tat, int64_t now)
{
    mm_gcra_result r;

    *tat = mm_gcra_decide(l, *tat, now, &r);
    return r;
}

static void expect(mm_gcra_result r, int allowed, uint32_t remaining, uint32_t reset,
                   uint32_t retry)
{
    ck_assert_int_eq(r.allowed, allowed);
    ck_assert_uint_eq(r.remaining, remaining);
    ck_assert_uint_eq(r.reset_s, reset);
    ck_assert_uint_eq(r.retry_after_s, retry);
}

START_TEST(test_limit_init)
{
    mm_gcra_limit l;

    ck_assert_int_eq(mm_gcra_limit_init(&l, 0, 60), -1);
    ck_assert_int_eq(mm_gcra_limit_init(&l, 5, 0), -1);
    ck_assert_int_eq(mm_gcra_limit_init(&l, 1000001, 1), -1);   /* finer than 1 µs */
    ck_assert_int_eq(mm_gcra_limit_init(&l, 100, 60), 0);
    ck_assert_int_eq(l.interval_us, 600000);
    ck_assert_int_eq(l.tolerance_us, 99 * 600000LL);
    ck_assert_int_eq(l.period_us, 60 * S);
    ck_assert_uint_eq(l.limit, 100);
    ck_assert_int_eq(mm_gcra_limit_init(&l, 1000000, 1), 0);
    ck_assert_int_eq(l.interval_us, 1);
    ck_assert_int_eq(mm_gcra_limit_init(&l, UINT32_MAX, UINT32_MAX), 0);
    ck_assert_int_eq(l.interval_us, S);
}
END_TEST

/* 100/min from a full bucket: 100 pass with remaining 99..0, the 101st gets 429. */
START_TEST(test_burst_then_refused)
{
    mm_gcra_limit l = lim(100, 60);
    int64_t tat = 0;
    uint32_t i;

    for (i = 0; i < 100; i++) {
        mm_gcra_result r = hit(&l, &tat, NOW);

        ck_assert_int_eq(r.allowed, 1);
        ck_assert_uint_eq(r.limit, 100);
        ck_assert_uint_eq(r.remaining, 99 - i);
        ck_assert_uint_eq(r.reset_s, (i + 1) * 600000 / S + ((i + 1) * 600000 % S != 0));
    }
    expect(hit(&l, &tat, NOW), 0, 0, 60, 1);
    ck_assert_int_eq(tat, NOW + 60 * S);    /* refusal stores nothing new */
}
END_TEST

/* After the burst exactly one more request per T. */
START_TEST(test_refill_after_interval)
{
    mm_gcra_limit l = lim(100, 60);
    int64_t tat = 0;
    int i;

    for (i = 0; i < 100; i++)
        hit(&l, &tat, NOW);
    expect(hit(&l, &tat, NOW + 600000 - 1), 0, 0, 60, 1);
    expect(hit(&l, &tat, NOW + 600000), 1, 0, 60, 0);
    expect(hit(&l, &tat, NOW + 600000), 0, 0, 60, 1);
    expect(hit(&l, &tat, NOW + 1200000), 1, 0, 60, 0);
}
END_TEST

/* 3 per minute, T = 20 s: every header value at and around its edges. */
START_TEST(test_edges)
{
    mm_gcra_limit l = lim(3, 60);
    int64_t tat = 0;

    expect(hit(&l, &tat, NOW), 1, 2, 20, 0);
    expect(hit(&l, &tat, NOW), 1, 1, 40, 0);
    expect(hit(&l, &tat, NOW), 1, 0, 60, 0);
    expect(hit(&l, &tat, NOW), 0, 0, 60, 20);
    expect(hit(&l, &tat, NOW + 1), 0, 0, 60, 20);              /* 19.999999 s: rounds up */
    expect(hit(&l, &tat, NOW + 10 * S), 0, 0, 50, 10);
    expect(hit(&l, &tat, NOW + 20 * S - 1), 0, 0, 41, 1);      /* 1 µs left: at least 1 */
    expect(hit(&l, &tat, NOW + 20 * S), 1, 0, 60, 0);
    /* 45 s later two tokens are back (ahead 15 s): one spent, one left. */
    expect(hit(&l, &tat, NOW + 65 * S), 1, 1, 35, 0);
    expect(hit(&l, &tat, NOW + 65 * S), 1, 0, 55, 0);
    expect(hit(&l, &tat, NOW + 65 * S), 0, 0, 55, 15);
    /* A full period idle: full bucket again. */
    expect(hit(&l, &tat, NOW + 200 * S), 1, 2, 20, 0);
}
END_TEST

START_TEST(test_one_per_minute)
{
    mm_gcra_limit l = lim(1, 60);
    int64_t tat = 0;

    expect(hit(&l, &tat, NOW), 1, 0, 60, 0);
    expect(hit(&l, &tat, NOW), 0, 0, 60, 60);
    expect(hit(&l, &tat, NOW + 60 * S - 1), 0, 0, 1, 1);
    expect(hit(&l, &tat, NOW + 60 * S), 1, 0, 60, 0);
    expect(hit(&l, &tat, NOW + 180 * S), 1, 0, 60, 0);
}
END_TEST

/* 60/7 s is not a whole number of µs: still exactly 7 from full, reset <= 60. */
START_TEST(test_uneven_interval)
{
    mm_gcra_limit l = lim(7, 60);
    int64_t tat = 0;
    int i;

    for (i = 0; i < 7; i++) {
        mm_gcra_result r = hit(&l, &tat, NOW);

        ck_assert_int_eq(r.allowed, 1);
        ck_assert_uint_eq(r.remaining, 6 - i);
        ck_assert_uint_le(r.reset_s, 60);
    }
    ck_assert_int_eq(hit(&l, &tat, NOW).allowed, 0);
}
END_TEST

/* A TAT left a day ahead by a clock step back locks the key out for at most
 * one period, and the clamped TAT is what gets stored. */
START_TEST(test_clock_backwards)
{
    mm_gcra_limit l = lim(100, 60);
    int64_t tat = NOW + 86400 * S;
    mm_gcra_result r = hit(&l, &tat, NOW);

    expect(r, 0, 0, 60, 1);
    ck_assert_int_eq(tat, NOW + 60 * S);
    expect(hit(&l, &tat, NOW + 600000), 1, 0, 60, 0);
    expect(hit(&l, &tat, NOW + 120 * S), 1, 99, 1, 0);

    /* Same with a limit lowered on reload: 100/min worth of TAT, now 1/min. */
    l = lim(1, 60);
    tat = NOW + 60 * S;
    expect(hit(&l, &tat, NOW - 30 * S), 0, 0, 60, 60);
    ck_assert_int_eq(tat, NOW + 30 * S);
}
END_TEST

/* Any clock and stored values: no overflow (UBSan watches), sane answers. */
START_TEST(test_extreme_values)
{
    mm_gcra_limit l = lim(UINT32_MAX, UINT32_MAX);
    mm_gcra_result r;
    int64_t tat;

    tat = mm_gcra_decide(&l, 0, NOW, &r);
    expect(r, 1, UINT32_MAX - 1, 1, 0);
    tat = mm_gcra_decide(&l, INT64_MAX, NOW, &r);
    ck_assert_int_eq(r.allowed, 0);
    ck_assert_uint_eq(r.reset_s, UINT32_MAX);
    ck_assert_int_eq(tat, NOW + (int64_t)UINT32_MAX * S);
    tat = mm_gcra_decide(&l, INT64_MIN, INT64_MAX - 5, &r);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_int_eq(tat, INT64_MAX);       /* saturates, does not wrap */
    tat = mm_gcra_decide(&l, INT64_MAX, INT64_MIN, &r);
    ck_assert_int_eq(r.allowed, 0);
    ck_assert_int_eq(tat, INT64_MIN + (int64_t)UINT32_MAX * S);
    tat = mm_gcra_decide(&l, INT64_MIN, -5 * S, &r);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_int_eq(tat, -5 * S + S);
}
END_TEST

/* A million per second: T = 1 µs, a burst of exactly 1e6 in the same µs. */
START_TEST(test_huge_count)
{
    mm_gcra_limit l = lim(1000000, 1);
    int64_t tat = 0;
    uint32_t i, admitted = 0;

    for (i = 0; i < 1000001; i++)
        admitted += (uint32_t)hit(&l, &tat, NOW).allowed;
    ck_assert_uint_eq(admitted, 1000000);
    expect(hit(&l, &tat, NOW), 0, 0, 1, 1);
    expect(hit(&l, &tat, NOW + 1), 1, 0, 1, 0);
}
END_TEST

/* A zeroed limit (never from mm_gcra_limit_init) must not divide by zero. */
START_TEST(test_uninitialised_limit)
{
    mm_gcra_limit l = { 0, 0, 0, 0 };
    mm_gcra_result r;

    ck_assert_int_eq(mm_gcra_decide(&l, 42, NOW, &r), 42);
    ck_assert_int_eq(r.allowed, 1);
}
END_TEST

/* For random limits and arrival times: remaining is exactly how many more
 * pass at that instant, Retry-After is exactly the wait for the next token
 * in whole seconds, and Reset is when the bucket is full. */
static void check_headers(const mm_gcra_limit *l, int64_t tat, int64_t now)
{
    mm_gcra_result r, x;
    int64_t t = tat, next = mm_gcra_decide(l, tat, now, &r);
    uint32_t n = 0;

    if (!r.allowed) {
        ck_assert_uint_ge(r.retry_after_s, 1);
        mm_gcra_decide(l, tat, now + (int64_t)(r.retry_after_s - 1) * S, &x);
        ck_assert_int_eq(x.allowed, 0);
        mm_gcra_decide(l, tat, now + (int64_t)r.retry_after_s * S, &x);
        ck_assert_int_eq(x.allowed, 1);
        return;
    }
    for (t = next; n <= r.remaining; n++) {
        t = mm_gcra_decide(l, t, now, &x);
        if (!x.allowed)
            break;
    }
    ck_assert_uint_eq(n, r.remaining);
    ck_assert_int_le(next, now + (int64_t)r.reset_s * S);     /* full by then */
    ck_assert_int_gt(next, now + (int64_t)(r.reset_s - 1) * S);
}

/* A fixed LCG: the same sequence on every run and every libc. */
static uint32_t next_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

START_TEST(test_random_properties)
{
    static const uint32_t counts[] = { 1, 2, 3, 7, 20, 50, 100, 1000 };
    static const uint32_t periods[] = { 1, 10, 60, 3600 };
    uint32_t seed = 12345;
    int round;

    for (round = 0; round < 500; round++) {
        uint32_t c = counts[next_rand(&seed) % 8], p = periods[next_rand(&seed) % 4];
        mm_gcra_limit l;
        int64_t tat = 0, now = NOW;
        int i;

        if (mm_gcra_limit_init(&l, c, p) != 0)
            continue;
        for (i = 0; i < 50; i++) {
            now += (int64_t)(next_rand(&seed) % 4) * l.interval_us / 2 + next_rand(&seed) % 3;
            check_headers(&l, tat, now);
            hit(&l, &tat, now);
        }
    }
}
END_TEST

static Suite *gcra_suite(void)
{
    Suite *s = suite_create("gcra");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);         /* under valgrind */
    tcase_add_test(tc, test_limit_init);
    tcase_add_test(tc, test_burst_then_refused);
    tcase_add_test(tc, test_refill_after_interval);
    tcase_add_test(tc, test_edges);
    tcase_add_test(tc, test_one_per_minute);
    tcase_add_test(tc, test_uneven_interval);
    tcase_add_test(tc, test_clock_backwards);
    tcase_add_test(tc, test_extreme_values);
    tcase_add_test(tc, test_huge_count);
    tcase_add_test(tc, test_uninitialised_limit);
    tcase_add_test(tc, test_random_properties);
    suite_add_tcase(s, tc);
    return s;
}

MM_CHECK_MAIN(gcra_suite)
