/*
 * Micro-benchmark of the rate-limit check: ns per mm_rl_check, one process
 * and two processes sharing one mapping (as httpd children do).
 *
 *   cc -O2 tests/bench/rl_bench.c mod_meeting/core/gcra.c mod_meeting/core/rl_table.c \
 *       $(pkg-config --cflags --libs apr-1) -o rl_bench && ./rl_bench
 */
#define _DEFAULT_SOURCE

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../mod_meeting/core/rl_table.h"

#define NOW (1700000000LL * 1000000)
#define SINGLE_N 10000000u          /* checks on one key */
#define SPREAD_N 2000000u           /* checks over many keys */
#define SPREAD_KEYS 500000u         /* per process */
#define TABLE_SLOTS 2097152u        /* 32 MiB */

typedef enum { ONE_ADMIT, ONE_REFUSE, SPREAD, ONE_REAL_CLOCK } workload;

typedef struct {
    unsigned arrived;
    double ns[2];
} shared_state;

static void *shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t key_n(unsigned n)
{
    return mm_rl_key(3, &n, sizeof(n));
}

/* Same-sized random-looking walk over this process's keys. */
static unsigned spread_index(unsigned i, int proc)
{
    return (unsigned)(((uint64_t)i * 2654435761u) % SPREAD_KEYS) + (unsigned)proc * SPREAD_KEYS;
}

/* Runs one workload in this process; ns per check. */
static double run(mm_rl_table *t, workload w, int proc)
{
    mm_gcra_limit many, one;
    mm_gcra_result r;
    uint64_t k0 = key_n(0), sink = 0;
    unsigned i, n = w == SPREAD ? SPREAD_N : SINGLE_N;
    double start;

    mm_gcra_limit_init(&many, 1000000000u, 1000000000u);   /* never refuses here */
    mm_gcra_limit_init(&one, 1, 3600);
    mm_rl_check(t, k0, &one, NOW, &r);                      /* for ONE_REFUSE */
    start = now_ns();
    for (i = 0; i < n; i++) {
        switch (w) {
        case ONE_ADMIT:
            mm_rl_check(t, k0, &many, NOW, &r);
            break;
        case ONE_REFUSE:
            mm_rl_check(t, k0, &one, NOW, &r);
            break;
        case ONE_REAL_CLOCK:
            mm_rl_check(t, k0, &many, mm_rl_now_us(), &r);
            break;
        case SPREAD:
            mm_rl_check(t, key_n(spread_index(i, proc)), &many, NOW, &r);
            break;
        }
        sink += r.allowed;
    }
    if (sink > n)
        abort();                    /* keeps the loop from being optimised away */
    return (now_ns() - start) / n;
}

static mm_rl_table *fresh_table(void)
{
    static void *mem;
    size_t size = mm_rl_table_size(TABLE_SLOTS);

    if (mem)
        munmap(mem, size);
    mem = shared(size);
    return mm_rl_table_init(mem, size, TABLE_SLOTS, 0x5eed);
}

/* Two processes start the workload together on one table; mean ns/check. */
static double run_two(workload w)
{
    mm_rl_table *t = fresh_table();
    shared_state *s = shared(sizeof(*s));
    double mean;
    int p;

    for (p = 0; p < 2; p++) {
        if (fork() == 0) {
            __atomic_add_fetch(&s->arrived, 1, __ATOMIC_ACQ_REL);
            while (__atomic_load_n(&s->arrived, __ATOMIC_ACQUIRE) < 2)
                sched_yield();
            s->ns[p] = run(t, w, p);
            _exit(0);
        }
    }
    while (wait(NULL) > 0)
        ;
    mean = (s->ns[0] + s->ns[1]) / 2;
    munmap(s, sizeof(*s));
    return mean;
}

static double run_one(workload w)
{
    return run(fresh_table(), w, 0);
}

static double time_key(void)
{
    static const char ip[] = "2001:db8:85a3::8a2e:370:7334";
    uint64_t sink = 0;
    unsigned i;
    double start = now_ns();

    for (i = 0; i < SINGLE_N; i++)
        sink += mm_rl_key(i & 31, ip, sizeof(ip) - 1);
    if (sink == 42)
        puts("");
    return (now_ns() - start) / SINGLE_N;
}

int main(void)
{
    printf("%-48s %10s\n", "workload", "ns/check");
    printf("%-48s %10.1f\n", "mm_rl_key (28-byte IPv6 string)", time_key());
    printf("%-48s %10.1f\n", "1 process, 1 key, admitted (CAS)", run_one(ONE_ADMIT));
    printf("%-48s %10.1f\n", "1 process, 1 key, refused (read only)", run_one(ONE_REFUSE));
    printf("%-48s %10.1f\n", "1 process, 1 key, admitted, mm_rl_now_us()", run_one(ONE_REAL_CLOCK));
    printf("%-48s %10.1f\n", "1 process, 500k keys in 2M slots (+key hash)", run_one(SPREAD));
    printf("%-48s %10.1f\n", "2 processes, same key, admitted (contended CAS)",
           run_two(ONE_ADMIT));
    printf("%-48s %10.1f\n", "2 processes, same key, refused", run_two(ONE_REFUSE));
    printf("%-48s %10.1f\n", "2 processes, 500k distinct keys each", run_two(SPREAD));
    return 0;
}
