/*
 * The shared rate-limit table (mod_meeting/core/rl_table.c): placement, eviction,
 * "no slot", and exact counts with several processes on one mapping.
 */
#define _DEFAULT_SOURCE             /* MAP_ANONYMOUS, sched_yield with -std=c11 */

#include <check.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "rl_table.h"
#include "check_main.h"

#define S 1000000LL
#define NOW (1700000000LL * S)
#define PROCS 4

/* The slot array as the layout comment in rl_table.c draws it, for the few
 * white-box checks (which slot a key landed in, a left-over mark). */
typedef struct {
    uint64_t key;
    int64_t tat;
} slot_view;

#define SLOTS_AT 128

static slot_view *slots_of(mm_rl_table *t)
{
    return (slot_view *)(void *)((char *)t + SLOTS_AT);
}

/* A shared anonymous mapping, as fork()ed children (and httpd's) see it. */
static void *shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

static mm_rl_table *new_table(size_t slots)
{
    size_t size = mm_rl_table_size(slots);
    mm_rl_table *t = mm_rl_table_init(shared(size), size, slots, UINT64_C(0x1234567890abcdef));

    ck_assert_ptr_nonnull(t);
    return t;
}

static void free_table(mm_rl_table *t, size_t slots)
{
    munmap(t, mm_rl_table_size(slots));
}

static mm_gcra_limit lim(uint32_t count, uint32_t period_s)
{
    mm_gcra_limit l;

    ck_assert_int_eq(mm_gcra_limit_init(&l, count, period_s), 0);
    return l;
}

static uint64_t key_n(unsigned n)
{
    return mm_rl_key(7, &n, sizeof(n));
}

/* Decided (not "no slot") and allowed or not. */
static int allowed(mm_rl_table *t, uint64_t key, const mm_gcra_limit *l, int64_t now)
{
    mm_gcra_result r;

    ck_assert_int_eq(mm_rl_check(t, key, l, now, &r), 0);
    return r.allowed;
}

static size_t slot_holding(mm_rl_table *t, size_t n, uint64_t key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (slots_of(t)[i].key == key)
            return i;
    return SIZE_MAX;
}

START_TEST(test_sizes)
{
    static uint64_t mem[64];

    ck_assert_uint_eq(mm_rl_table_size(0), 0);
    ck_assert_uint_eq(mm_rl_table_size(SIZE_MAX), 0);
    ck_assert_uint_eq(mm_rl_table_size(SIZE_MAX / 16), 0);
    ck_assert_uint_eq(mm_rl_table_size(1), SLOTS_AT + 16);
    ck_assert_uint_eq(mm_rl_table_size(1000), SLOTS_AT + 16000);
    ck_assert_ptr_null(mm_rl_table_init(NULL, 1024, 4, 0));
    ck_assert_ptr_null(mm_rl_table_init(mem, sizeof(mem), 30, 0));         /* too small */
    ck_assert_ptr_null(mm_rl_table_init((char *)mem + 4, 400, 4, 0));      /* misaligned */
    ck_assert_ptr_nonnull(mm_rl_table_init(mem, sizeof(mem), 24, 0));
}
END_TEST

START_TEST(test_key)
{
    const char *ip = "2001:db8::1";
    unsigned i;

    ck_assert_uint_eq(mm_rl_key(1, ip, strlen(ip)), mm_rl_key(1, ip, strlen(ip)));
    ck_assert_uint_ne(mm_rl_key(1, ip, strlen(ip)), mm_rl_key(2, ip, strlen(ip)));
    ck_assert_uint_ne(mm_rl_key(1, ip, strlen(ip)), mm_rl_key(1, ip, strlen(ip) - 1));
    ck_assert_uint_eq(mm_rl_key(3, NULL, 0), mm_rl_key(3, "", 0));
    for (i = 0; i < 20000; i++) {
        uint64_t k = mm_rl_key(i % 5, &i, sizeof(i));

        ck_assert_uint_ne(k, 0);
        ck_assert_uint_eq(k >> 63, 0);
    }
}
END_TEST

START_TEST(test_distinct_keys_independent)
{
    mm_rl_table *t = new_table(64);
    mm_gcra_limit l = lim(2, 60);
    mm_gcra_result r;

    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 0);
    ck_assert_int_eq(mm_rl_check(t, key_n(2), &l, NOW, &r), 0);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_uint_eq(r.remaining, 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 0);
    free_table(t, 64);
}
END_TEST

/* Through the table every answer is the one the bare arithmetic gives. */
START_TEST(test_same_as_gcra)
{
    mm_rl_table *t = new_table(256);
    mm_gcra_limit l = lim(5, 10);
    int64_t tat[20] = { 0 }, now = NOW;
    uint32_t seed = 99;
    int i;

    for (i = 0; i < 20000; i++) {
        unsigned k;
        mm_gcra_result got, want;

        seed = seed * 1664525u + 1013904223u;
        k = (seed >> 8) % 20;
        now += (seed >> 20) % 200000;
        tat[k] = mm_gcra_decide(&l, tat[k], now, &want);
        ck_assert_int_eq(mm_rl_check(t, key_n(k), &l, now, &got), 0);
        ck_assert_mem_eq(&got, &want, sizeof(got));
    }
    free_table(t, 256);
}
END_TEST

/* A refund gives back exactly the request it undoes: the bucket is as if
 * that request had never come, never fuller than full, and other keys and a
 * key without a slot are left alone. */
START_TEST(test_refund)
{
    mm_rl_table *t = new_table(64);
    mm_gcra_limit l = lim(3, 60);
    mm_gcra_result r;

    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(2), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 0);
    mm_rl_refund(t, key_n(1), &l, NOW);
    ck_assert_int_eq(mm_rl_check(t, key_n(1), &l, NOW, &r), 0);
    ck_assert_int_eq(r.allowed, 1);
    ck_assert_uint_eq(r.remaining, 0);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 0);
    /* Refunds past a full bucket change nothing: still a burst of 3, not 4. */
    for (int i = 0; i < 10; i++)
        mm_rl_refund(t, key_n(1), &l, NOW);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 0);
    /* Key 2 kept its own state; a key never seen has nothing to refund. */
    ck_assert_int_eq(mm_rl_check(t, key_n(2), &l, NOW, &r), 0);
    ck_assert_uint_eq(r.remaining, 1);
    mm_rl_refund(t, key_n(3), &l, NOW);
    ck_assert_int_eq(mm_rl_check(t, key_n(3), &l, NOW, &r), 0);
    ck_assert_uint_eq(r.remaining, 2);
    free_table(t, 64);
}
END_TEST

/* A refund for a key whose slot was handed over does not touch the new
 * owner's bucket. */
START_TEST(test_refund_after_hand_over)
{
    mm_rl_table *t = new_table(1);
    mm_gcra_limit l = lim(2, 60);
    mm_gcra_result r;

    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    ck_assert_int_eq(allowed(t, key_n(2), &l, NOW + 60 * S), 1);   /* key 1 expired */
    ck_assert_int_eq(allowed(t, key_n(2), &l, NOW + 60 * S), 1);
    mm_rl_refund(t, key_n(1), &l, NOW + 60 * S);
    ck_assert_int_eq(mm_rl_check(t, key_n(2), &l, NOW + 60 * S, &r), 0);
    ck_assert_int_eq(r.allowed, 0);
    free_table(t, 1);
}
END_TEST

/* All slots live: a new key is never let through without a limit. It takes
 * the slot that expires first and inherits its debt: with 1 per hour used
 * up in every slot, the newcomer is refused too, and so is the key it
 * pushed out when it comes back. */
START_TEST(test_full_table_never_admits_without_limit)
{
    mm_rl_table *t = new_table(8);
    mm_gcra_limit l = lim(1, 3600);
    mm_gcra_result r;
    uint64_t evicted = 0, refused = 0;
    size_t first;
    unsigned i;

    for (i = 0; i < 8; i++)
        ck_assert_int_eq(allowed(t, key_n(i), &l, NOW + (int64_t)i * S), 1);
    first = slot_holding(t, 8, key_n(0));
    ck_assert_int_eq(mm_rl_check(t, key_n(8), &l, NOW + 10 * S, &r), 0);
    ck_assert_int_eq(r.allowed, 0);
    ck_assert_uint_ge(r.retry_after_s, 3590);
    /* The victim was the key closest to expiry: key 0, charged first. */
    ck_assert_uint_eq(slot_holding(t, 8, key_n(8)), first);
    ck_assert_int_eq(allowed(t, key_n(0), &l, NOW + 10 * S), 0);
    for (i = 1; i < 8; i++)
        if (slot_holding(t, 8, key_n(i)) != SIZE_MAX)
            ck_assert_int_eq(allowed(t, key_n(i), &l, NOW + 10 * S), 0);
    /* Reported once: two live keys went, nothing was refused. */
    ck_assert_int_eq(mm_rl_pressure(t, NOW + 10 * S, 60 * S, &evicted, &refused), 1);
    ck_assert_uint_ge(evicted, 2);
    ck_assert_uint_eq(refused, 0);
    ck_assert_int_eq(mm_rl_pressure(t, NOW + 11 * S, 60 * S, &evicted, &refused), 0);
    free_table(t, 8);
}
END_TEST

/* A newcomer inherits only the debt of the key closest to expiry: where that
 * one had room left, so does the newcomer, and no more than it had. */
START_TEST(test_eviction_inherits_the_smallest_debt)
{
    mm_rl_table *t = new_table(8);
    mm_gcra_limit l = lim(4, 400);          /* T = 100 s, bursts of 4 */
    mm_gcra_result r;
    unsigned i, n;

    for (i = 0; i < 8; i++)                 /* 1, 2 or 3 of 4 used; key 7 all 4 */
        for (n = 0; n <= (i < 7 ? i % 3 : 3); n++)
            ck_assert_int_eq(allowed(t, key_n(i), &l, NOW), 1);
    /* A key with one used is closest to expiry: the newcomer gets its 3 left
     * (a millisecond later, which pays for the microsecond of the hand-over). */
    for (n = 0; n < 3; n++)
        ck_assert_int_eq(allowed(t, key_n(100), &l, NOW + 1000), 1);
    ck_assert_int_eq(mm_rl_check(t, key_n(100), &l, NOW + 1000, &r), 0);
    ck_assert_int_eq(r.allowed, 0);
    free_table(t, 8);
}
END_TEST

/* Slots whose TAT has passed are reused, oldest first, before any live one. */
START_TEST(test_evicts_oldest_expired)
{
    mm_rl_table *t = new_table(8);
    mm_gcra_limit l = lim(2, 100);          /* T = 50 s */
    mm_gcra_result r;
    int64_t now = NOW + 53 * S + S / 2;     /* keys 0..3 expired, 4..7 live */
    size_t at[8];
    unsigned i;

    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(allowed(t, key_n(i), &l, NOW + (int64_t)i * S), 1);
        at[i] = slot_holding(t, 8, key_n(i));
        ck_assert_uint_ne(at[i], SIZE_MAX);
    }
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(allowed(t, key_n(100 + i), &l, now), 1);
        ck_assert_uint_eq(slot_holding(t, 8, key_n(100 + i)), at[i]);
    }
    for (i = 4; i < 8; i++) {
        ck_assert_int_eq(mm_rl_check(t, key_n(i), &l, now, &r), 0);
        ck_assert_int_eq(r.allowed, 1);
        ck_assert_uint_eq(r.remaining, 0);  /* their charge was kept */
    }
    free_table(t, 8);
}
END_TEST

/* Fewer slots than the probe length: the window wraps, stays in bounds. */
START_TEST(test_tiny_table)
{
    mm_rl_table *t = new_table(3);
    mm_gcra_limit l = lim(1, 60);
    mm_gcra_result r;
    unsigned i;

    for (i = 0; i < 3; i++)
        ck_assert_int_eq(allowed(t, key_n(i), &l, NOW), 1);
    ck_assert_int_eq(mm_rl_check(t, key_n(3), &l, NOW, &r), 0);
    ck_assert_int_eq(r.allowed, 0);         /* every slot's debt is a minute */
    ck_assert_int_eq(allowed(t, key_n(3), &l, NOW + 61 * S), 1);
    free_table(t, 3);
}
END_TEST

/* A process killed in the middle of a hand-over leaves a mark; it blocks the
 * slot only for a few seconds. */
START_TEST(test_stale_mark_healed)
{
    mm_rl_table *t = new_table(1);
    mm_gcra_limit l = lim(1, 10);
    mm_gcra_result r;

    ck_assert_int_eq(allowed(t, key_n(1), &l, NOW), 1);
    /* Top bit, the second it was set, a sequence number. */
    slots_of(t)[0].key = UINT64_C(1) << 63 | (uint64_t)(NOW / S & 0xffffffff) << 31 | 7;
    ck_assert_int_eq(mm_rl_check(t, key_n(2), &l, NOW + S, &r), 1);
    ck_assert_int_eq(mm_rl_check(t, key_n(1), &l, NOW + S, &r), 1);
    ck_assert_int_eq(allowed(t, key_n(2), &l, NOW + 20 * S), 1);
    ck_assert_int_eq(allowed(t, key_n(2), &l, NOW + 20 * S), 0);
    free_table(t, 1);
}
END_TEST

/* ---- several processes on one mapping ---- */

typedef struct {
    unsigned arrived;                   /* barrier */
    unsigned no_slot;
    unsigned admitted[PROCS][256];      /* [process][key] */
} shared_counts;

static void barrier(shared_counts *c, unsigned target)
{
    __atomic_add_fetch(&c->arrived, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&c->arrived, __ATOMIC_ACQUIRE) < target)
        sched_yield();
}

typedef void (*worker_fn)(mm_rl_table *t, shared_counts *c, int proc);

/* Runs fn in PROCS children at once and waits for them all. */
static void run_procs(mm_rl_table *t, shared_counts *c, worker_fn fn)
{
    pid_t pid[PROCS];
    int p, status;

    for (p = 0; p < PROCS; p++) {
        pid[p] = fork();
        ck_assert_int_ge(pid[p], 0);
        if (pid[p] == 0) {
            fn(t, c, p);
            _exit(0);
        }
    }
    for (p = 0; p < PROCS; p++) {
        ck_assert_int_eq(waitpid(pid[p], &status, 0), pid[p]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

static unsigned admitted_total(const shared_counts *c, unsigned key)
{
    unsigned p, n = 0;

    for (p = 0; p < PROCS; p++)
        n += c->admitted[p][key];
    return n;
}

/* Counts one check in the shared tallies. */
static void tally(mm_rl_table *t, shared_counts *c, int proc, unsigned k,
                  const mm_gcra_limit *l, int64_t now)
{
    mm_gcra_result r;

    if (mm_rl_check(t, key_n(k), l, now, &r) != 0)
        __atomic_add_fetch(&c->no_slot, 1, __ATOMIC_RELAXED);
    else if (r.allowed)
        c->admitted[proc][k]++;
}

/* 1000 per day: no token comes back while the test runs (T = 86 s). */
static void hammer_one_key(mm_rl_table *t, shared_counts *c, int proc)
{
    mm_gcra_limit l = lim(1000, 86400);
    int i;

    barrier(c, PROCS);
    for (i = 0; i < 3000; i++)
        tally(t, c, proc, 0, &l, mm_rl_now_us());
}

START_TEST(test_procs_one_key)
{
    mm_rl_table *t = new_table(1024);
    shared_counts *c = shared(sizeof(*c));

    run_procs(t, c, hammer_one_key);
    ck_assert_uint_eq(c->no_slot, 0);
    ck_assert_uint_eq(admitted_total(c, 0), 1000);
    munmap(c, sizeof(*c));
    free_table(t, 1024);
}
END_TEST

static void hammer_many_keys(mm_rl_table *t, shared_counts *c, int proc)
{
    mm_gcra_limit l = lim(20, 86400);
    unsigned pass, j;

    barrier(c, PROCS);
    for (pass = 0; pass < 40; pass++)
        for (j = 0; j < 200; j++)
            tally(t, c, proc, (j + (unsigned)proc * 50) % 200, &l, mm_rl_now_us());
}

START_TEST(test_procs_many_keys)
{
    mm_rl_table *t = new_table(1024);
    shared_counts *c = shared(sizeof(*c));
    unsigned k;

    run_procs(t, c, hammer_many_keys);
    ck_assert_uint_eq(c->no_slot, 0);
    for (k = 0; k < 200; k++)
        ck_assert_uint_eq(admitted_total(c, k), 20);
    munmap(c, sizeof(*c));
    free_table(t, 1024);
}
END_TEST

/* Eight generations of 24 keys through 48 slots: from the second on every
 * key takes over an expired slot while the other processes do the same. */
#define GENERATIONS 8
#define GEN_KEYS 24

static void churn(mm_rl_table *t, shared_counts *c, int proc)
{
    mm_gcra_limit l = lim(5, 3600);
    unsigned g, pass, j;

    for (g = 0; g < GENERATIONS; g++) {
        int64_t now = NOW + (int64_t)g * 7200 * S;

        barrier(c, PROCS * (g + 1));
        for (pass = 0; pass < 10; pass++)
            for (j = 0; j < GEN_KEYS; j++)
                tally(t, c, proc, g * GEN_KEYS + (j + (unsigned)proc * 5) % GEN_KEYS, &l, now);
    }
}

START_TEST(test_procs_churn)
{
    mm_rl_table *t = new_table(48);
    shared_counts *c = shared(sizeof(*c));
    unsigned k;

    run_procs(t, c, churn);
    ck_assert_uint_eq(c->no_slot, 0);
    for (k = 0; k < GENERATIONS * GEN_KEYS; k++)
        ck_assert_uint_eq(admitted_total(c, k), 5);
    munmap(c, sizeof(*c));
    free_table(t, 48);
}
END_TEST

/* One window of slots kept full by fresh keys (as an attacker with many
 * addresses would) while one key knocks, with time standing still: it gets
 * at most its 5 an hour, and every check is decided (none "no slot", which
 * the module would have to refuse). */
#define FULL_SLOTS 16

static void fill_and_knock(mm_rl_table *t, shared_counts *c, int proc)
{
    mm_gcra_limit l = lim(5, 3600);
    int64_t now = NOW + S;
    mm_gcra_result r;
    unsigned i;

    barrier(c, PROCS);
    for (i = 0; i < 2000; i++) {
        tally(t, c, proc, 0, &l, now);
        if (mm_rl_check(t, key_n(100000 * (unsigned)(proc + 1) + i), &l, now, &r) != 0)
            __atomic_add_fetch(&c->no_slot, 1, __ATOMIC_RELAXED);
    }
}

START_TEST(test_procs_full_table_keeps_the_limit)
{
    mm_rl_table *t = new_table(FULL_SLOTS);
    shared_counts *c = shared(sizeof(*c));
    mm_gcra_limit l = lim(5, 3600);
    unsigned j;

    for (j = 0; j < FULL_SLOTS; j++)
        ck_assert_int_eq(allowed(t, key_n(500 + j), &l, NOW), 1);
    run_procs(t, c, fill_and_knock);
    ck_assert_uint_eq(c->no_slot, 0);
    ck_assert_uint_le(admitted_total(c, 0), 5);
    munmap(c, sizeof(*c));
    free_table(t, FULL_SLOTS);
}
END_TEST

/* ---- the apr_shm glue ---- */

START_TEST(test_shm_attach)
{
    apr_pool_t *pool;
    mm_rl_table *t1, *t2, *t3;
    mm_gcra_limit l = lim(1, 3600);
    int64_t now = mm_rl_now_us();

    ck_assert_int_eq(apr_initialize(), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(mm_rl_shm_attach(pool, 0, &t1), APR_EINVAL);
    ck_assert_int_eq(mm_rl_shm_attach(pool, 100, &t1), APR_SUCCESS);
    ck_assert_uint_eq((uintptr_t)t1 % 64, 0);
    ck_assert_int_eq(allowed(t1, key_n(1), &l, now), 1);
    /* A graceful restart: same size, same segment, same budgets. */
    ck_assert_int_eq(mm_rl_shm_attach(pool, 100, &t2), APR_SUCCESS);
    ck_assert_ptr_eq(t1, t2);
    ck_assert_int_eq(allowed(t2, key_n(1), &l, now), 0);
    /* A new size: a new, empty table. */
    ck_assert_int_eq(mm_rl_shm_attach(pool, 300, &t3), APR_SUCCESS);
    ck_assert_int_eq(allowed(t3, key_n(1), &l, now), 1);
    apr_pool_destroy(pool);
    apr_terminate();
}
END_TEST

static Suite *rl_suite(void)
{
    Suite *s = suite_create("rl_table");
    TCase *tc = tcase_create("single");
    TCase *mp = tcase_create("processes");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_key);
    tcase_add_test(tc, test_distinct_keys_independent);
    tcase_add_test(tc, test_same_as_gcra);
    tcase_add_test(tc, test_refund);
    tcase_add_test(tc, test_refund_after_hand_over);
    tcase_add_test(tc, test_full_table_never_admits_without_limit);
    tcase_add_test(tc, test_eviction_inherits_the_smallest_debt);
    tcase_add_test(tc, test_evicts_oldest_expired);
    tcase_add_test(tc, test_tiny_table);
    tcase_add_test(tc, test_stale_mark_healed);
    tcase_add_test(tc, test_shm_attach);
    tcase_set_timeout(mp, 120);         /* under valgrind */
    tcase_add_test(mp, test_procs_one_key);
    tcase_add_test(mp, test_procs_many_keys);
    tcase_add_test(mp, test_procs_churn);
    tcase_add_test(mp, test_procs_full_table_keeps_the_limit);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, mp);
    return s;
}

MM_CHECK_MAIN(rl_suite)
