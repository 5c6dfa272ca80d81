/*
 * Lock-free rate-limit table in shared memory.
 *
 * Layout of the region (all integers native-endian; no pointers, only indexes,
 * so every process may map it anywhere):
 *
 *   offset        size     field
 *   0             4        magic "MMRL"
 *   4             4        version (1)
 *   8             8        nslots
 *   16            8        seed: keys slot placement (random per segment)
 *   24            40       reserved, zero          } line 0: read-only after init
 *   64            8        mark_seq: makes hand-over marks unique
 *   72            8        evicted: live keys evicted since the last report
 *   80            8        refused: checks that found no slot, likewise
 *   88            8        report_at: when the next report is due (us)
 *   96            32       reserved, zero          } line 1: written when the table is full
 *   128           16 * n   slots[n]: { u64 key; i64 tat; }
 *
 * A slot's key is 0 (empty, only before first use: slots are never emptied),
 * a key in [1, 2^63), or a hand-over mark (top bit set) while it passes from
 * one key to another. tat is the key's GCRA TAT in microseconds.
 *
 * A full table never lets a key through without a limit. A new key takes
 * the slot of its window whose TAT is lowest: an expired one if there is
 * one (a full bucket, forgetting it loses nothing), else the live key
 * closest to expiry, whose TAT the new key inherits. Inheriting the debt is
 * what keeps the limits: whoever fills the table to push a key out finds
 * the slots it pushes keys into no emptier than the key was, and a key
 * pushed out and back inherits at least its own debt again. A full table
 * thus makes limits stricter for newcomers (fail closed), never open.
 *
 * Concurrency, with 64-bit CAS only (16-byte CAS would need libatomic or
 * -mcx16 with gcc 12, and is not on every target):
 *  - An empty slot is claimed by CAS on key, 0 -> key. Of two processes that
 *    race for it one wins; the loser probes on (or finds its own key there).
 *  - A request charges a slot by CAS on tat. It re-reads key after reading
 *    tat: if the slot changed hands meanwhile the new owner has also changed
 *    tat (see next), so the stale CAS fails and the request probes again.
 *  - Hand-over of a slot takes three CASes: key old -> mark, tat x -> x + 1,
 *    key mark -> new. The mark keeps other takers off; if the old owner
 *    charged tat since the probe saw x, the key is given back. The
 *    bump of tat makes any in-flight charge of the old owner fail: TATs only
 *    grow (charges add T, hand-overs add 1), so the old value never comes
 *    back. The one exception is the clamp after a clock step back, where an
 *    ABA could at worst misplace one token.
 *  - A process killed between those CASes would leave a mark behind. Marks
 *    carry the second they were set; one older than RL_MARK_STALE_S is
 *    treated as an expired slot. Every step is a CAS, so a slow (not dead)
 *    owner of a mark taken from it only fails and probes again.
 *  - A key is looked up in at most RL_PROBES slots from its home. Lookups
 *    stop at the first empty slot, since a key is never placed past one.
 *  - Two requests of the same new key must not take over two different
 *    victims (the key would get two buckets). Victims are ranked the same
 *    way by everyone (oldest TAT, then probe order) from (key, tat) pairs
 *    read as key, tat, key so that a hand-over caught half-way is seen as
 *    one; and a probe that finds no key but a mark in its window waits for
 *    the mark to resolve (it may be that very key arriving), yielding the
 *    CPU for RL_WAIT_US at most. The fork test in test_rl_table.c (churn)
 *    caught both the torn read and owners preempted mid-hand-over.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sched_yield under -std=c11 */
#endif

#include <stddef.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <apr_general.h>
#include <apr_shm.h>

#include "rl_table.h"

#define RL_MAGIC 0x4c524d4du /* "MMRL" in memory on little-endian */
#define RL_VERSION 1u
#define RL_LINE 64
#define RL_PROBES 16
#define RL_ROUNDS 8
#define RL_MARK (UINT64_C(1) << 63)
#define RL_MARK_STALE_S 2
#define RL_WAIT_US 1000
#define RL_NONE SIZE_MAX
#define RL_USERDATA "mod_meeting/rl_shm"
#define USEC 1000000

typedef struct {
    uint64_t key;
    int64_t tat;
} rl_slot;

struct mm_rl_table {
    uint32_t magic;
    uint32_t version;
    uint64_t nslots;
    uint64_t seed;
    unsigned char pad0[RL_LINE - 24];
    uint64_t mark_seq;
    uint64_t evicted, refused;
    int64_t report_at;
    unsigned char pad1[RL_LINE - 32];
    rl_slot slot[];
};

_Static_assert(offsetof(struct mm_rl_table, mark_seq) == RL_LINE, "layout");
_Static_assert(offsetof(struct mm_rl_table, slot) == 2 * RL_LINE, "layout");
_Static_assert(sizeof(rl_slot) == 16, "layout");
#if !defined(__GCC_ATOMIC_LLONG_LOCK_FREE) || __GCC_ATOMIC_LLONG_LOCK_FREE != 2
#error "the table needs lock-free 64-bit compare-and-swap"
#endif

/* What one pass over a key's probe window saw. */
typedef struct {
    size_t match, empty, victim; /* slot indexes, RL_NONE if none */
    uint64_t victim_key;
    int64_t victim_tat;
    int marked; /* a live hand-over mark in the window */
} rl_probe;

static uint64_t load_key(const rl_slot *s)
{
    return __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
}

static int64_t load_tat(const rl_slot *s)
{
    return __atomic_load_n(&s->tat, __ATOMIC_ACQUIRE);
}

static int cas_key(rl_slot *s, uint64_t *expect, uint64_t want)
{
    return __atomic_compare_exchange_n(&s->key, expect, want, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static int cas_tat(rl_slot *s, int64_t *expect, int64_t want)
{
    return __atomic_compare_exchange_n(&s->tat, expect, want, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

size_t mm_rl_table_size(size_t slots)
{
    size_t head = offsetof(struct mm_rl_table, slot);

    if (slots == 0 || slots > (SIZE_MAX - head) / sizeof(rl_slot))
        return 0;
    return head + slots * sizeof(rl_slot);
}

mm_rl_table *mm_rl_table_init(void *mem, size_t size, size_t slots, uint64_t seed)
{
    mm_rl_table *t = mem;
    size_t need = mm_rl_table_size(slots);

    /* 8-byte alignment is what the atomics need; 64 keeps slots in one line. */
    if (!mem || need == 0 || size < need || (uintptr_t)mem % sizeof(uint64_t))
        return NULL;
    memset(mem, 0, need);
    t->magic = RL_MAGIC;
    t->version = RL_VERSION;
    t->nslots = slots;
    t->seed = seed;
    return t;
}

/* An already formatted region, as mm_rl_table_init left it; NULL if not. */
static mm_rl_table *table_open(void *mem, size_t size, size_t slots)
{
    mm_rl_table *t = mem;
    size_t need = mm_rl_table_size(slots);

    if (need == 0 || size < need || t->magic != RL_MAGIC || t->version != RL_VERSION
        || t->nslots != slots)
        return NULL;
    return t;
}

/* SipHash-2-4 (Aumasson, Bernstein): a strong 64-bit hash, so that nobody
 * can craft a client IP that shares another's bucket. */
static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

static uint64_t le64(const unsigned char *p, size_t n)
{
    uint64_t m = 0;

    while (n-- > 0)
        m |= (uint64_t)p[n] << (8 * n);
    return m;
}

static uint64_t siphash24(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len)
{
    uint64_t v[4] = {k0 ^ UINT64_C(0x736f6d6570736575), k1 ^ UINT64_C(0x646f72616e646f6d),
                     k0 ^ UINT64_C(0x6c7967656e657261), k1 ^ UINT64_C(0x7465646279746573)};
    size_t i;

    for (i = 0; i + 8 <= len; i += 8)
        sip_absorb(v, le64(p + i, 8));
    sip_absorb(v, le64(p + i, len - i) | (uint64_t)len << 56);
    v[2] ^= 0xff;
    for (i = 0; i < 4; i++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Keys as the table holds them: top bit clear (it flags marks), never 0. */
static uint64_t fold_key(uint64_t h)
{
    h &= ~RL_MARK;
    return h ? h : 1;
}

uint64_t mm_rl_key(uint32_t route, const void *who, size_t len)
{
    static const unsigned char none[1];

    return fold_key(siphash24(UINT64_C(0x6d6f645f6d656574) ^ route, UINT64_C(0x696e675f726c3031),
                              who ? who : none, who ? len : 0));
}

/* Where a key's probe window starts. The per-segment seed makes placement
 * unpredictable from outside (splitmix64 finaliser over key ^ seed). */
static size_t home(const mm_rl_table *t, uint64_t key)
{
    uint64_t x = key ^ t->seed;

    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (size_t)((x ^ (x >> 31)) % t->nslots);
}

/* A unique hand-over mark: top bit, the second (32 bits), a sequence (31). */
static uint64_t new_mark(mm_rl_table *t, int64_t now)
{
    uint64_t seq = __atomic_fetch_add(&t->mark_seq, 1, __ATOMIC_RELAXED);
    uint64_t sec = (uint64_t)(now / USEC) & 0xffffffffu;

    return RL_MARK | sec << 31 | (seq & 0x7fffffffu);
}

static int mark_stale(uint64_t mark, int64_t now)
{
    uint32_t then = (uint32_t)(mark >> 31);

    return (uint32_t)((uint64_t)(now / USEC) - then) > RL_MARK_STALE_S;
}

/* Notes a slot if its TAT is the lowest so far: the first to expire. */
static void consider(rl_probe *p, size_t i, uint64_t k, int64_t tat)
{
    if (p->victim == RL_NONE || tat < p->victim_tat) {
        p->victim = i;
        p->victim_key = k;
        p->victim_tat = tat;
    }
}

static void scan(const mm_rl_table *t, uint64_t key, int64_t now, rl_probe *p)
{
    size_t n = (size_t)t->nslots;
    size_t i = home(t, key);
    size_t left = n < RL_PROBES ? n : RL_PROBES;

    p->match = p->empty = p->victim = RL_NONE;
    p->victim_key = 0;
    p->victim_tat = 0;
    p->marked = 0;
    for (; left > 0; left--, i = i + 1 == n ? 0 : i + 1) {
        uint64_t k = load_key(&t->slot[i]);

        if (k == key) {
            p->match = i;
            return;
        }
        if (k == 0) {
            p->empty = i;
            return;
        }
        if (!(k & RL_MARK) || mark_stale(k, now)) {
            int64_t tat = load_tat(&t->slot[i]);

            /* key, tat, key: a hand-over that began between the two reads
             * may already have bumped tat; judge the slot by a pair that
             * belongs together, or else as in hand-over. */
            if (load_key(&t->slot[i]) == k) {
                consider(p, i, k, tat);
                continue;
            }
        }
        p->marked = 1;
    }
}

/* One GCRA step on a slot that held key when probed. 1 done, 0 the slot
 * changed hands: probe again. The loop only retries when another process
 * charged the same key meanwhile, so it is lock-free. */
static int charge(rl_slot *s, uint64_t key, const mm_gcra_limit *l, int64_t now,
                  mm_gcra_result *res)
{
    int64_t tat = load_tat(s);

    for (;;) {
        int64_t next;

        /* key after tat: a TAT read once the slot was handed over is not ours. */
        if (load_key(s) != key)
            return 0;
        next = mm_gcra_decide(l, tat, now, res);
        if (next == tat || cas_tat(s, &tat, next))
            return 1;
    }
}

/* Hands a slot (probed holding old with TAT seen) to key; 1 done, 0 lost a
 * race. The TAT goes on from seen + 1: expired, a full bucket; live, the
 * evicted key's debt. */
static int take_over(mm_rl_table *t, rl_slot *s, uint64_t old, int64_t seen, uint64_t key,
                     int64_t now)
{
    uint64_t mark = new_mark(t, now), expect = old;
    int64_t tat = seen;

    if (!cas_key(s, &expect, mark))
        return 0;
    if (!cas_tat(s, &tat, seen + 1)) {
        /* the old owner charged it since the probe: give it back */
        expect = mark;
        cas_key(s, &expect, old);
        return 0;
    }
    expect = mark;
    return cas_key(s, &expect, key);
}

/* Tries to give key a slot from this probe; the slot index, or RL_NONE. */
static size_t place(mm_rl_table *t, uint64_t key, const rl_probe *p, int64_t now)
{
    uint64_t seen = 0;

    if (p->empty != RL_NONE) {
        if (cas_key(&t->slot[p->empty], &seen, key) || seen == key)
            return p->empty;
        return RL_NONE;
    }
    if (p->victim != RL_NONE
        && take_over(t, &t->slot[p->victim], p->victim_key, p->victim_tat, key, now)) {
        if (p->victim_tat >= now)
            __atomic_fetch_add(&t->evicted, 1, __ATOMIC_RELAXED);
        return p->victim;
    }
    return RL_NONE;
}

/* A slot in the window is being handed over, perhaps to this very key. Rather
 * than give the key a second slot, let the owner of the mark finish: its
 * three CASes take nanoseconds unless it was preempted, so yield the CPU, for
 * RL_WAIT_US at most. Past that, a duplicate slot is possible; it costs at
 * most the tokens charged to the one that stops being found. */
static int wait_handover(int64_t *deadline)
{
    int64_t now = mm_rl_now_us();

    if (*deadline == 0)
        *deadline = now + RL_WAIT_US;
    else if (now >= *deadline)
        return 0;
    sched_yield();
    return 1;
}

int mm_rl_check(mm_rl_table *t, uint64_t key, const mm_gcra_limit *l, int64_t now_us,
                mm_gcra_result *res)
{
    rl_probe p;
    int64_t deadline = 0;
    int round = 0;

    key = fold_key(key);
    while (round < RL_ROUNDS) {
        size_t i;

        scan(t, key, now_us, &p);
        if (p.match != RL_NONE)
            i = p.match;
        else if (p.empty == RL_NONE && p.marked && wait_handover(&deadline))
            continue;
        else if ((i = place(t, key, &p, now_us)) == RL_NONE && p.empty == RL_NONE
                 && p.victim == RL_NONE)
            break; /* every slot in hand-over: no room */
        if (i != RL_NONE && charge(&t->slot[i], key, l, now_us, res))
            return 0;
        round++; /* lost a race: look again */
    }
    mm_gcra_decide(l, INT64_MIN, now_us, res);
    __atomic_fetch_add(&t->refused, 1, __ATOMIC_RELAXED);
    return 1;
}

int mm_rl_pressure(mm_rl_table *t, int64_t now_us, int64_t every_us, uint64_t *evicted,
                   uint64_t *refused)
{
    int64_t due = __atomic_load_n(&t->report_at, __ATOMIC_RELAXED);

    if (now_us < due
        || (__atomic_load_n(&t->evicted, __ATOMIC_RELAXED) == 0
            && __atomic_load_n(&t->refused, __ATOMIC_RELAXED) == 0))
        return 0;
    /* One caller per interval wins the report, in any process. */
    if (!__atomic_compare_exchange_n(&t->report_at, &due, now_us + every_us, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return 0;
    *evicted = __atomic_exchange_n(&t->evicted, 0, __ATOMIC_ACQ_REL);
    *refused = __atomic_exchange_n(&t->refused, 0, __ATOMIC_ACQ_REL);
    return 1;
}

void mm_rl_refund(mm_rl_table *t, uint64_t key, const mm_gcra_limit *l, int64_t now_us)
{
    rl_probe p;
    rl_slot *s;
    int64_t tat, back;

    key = fold_key(key);
    scan(t, key, now_us, &p);
    if (p.match == RL_NONE)
        return;
    s = &t->slot[p.match];
    tat = load_tat(s);
    do {
        /* key after tat, as in charge(): a TAT read after a hand-over is not ours. */
        if (load_key(s) != key || tat <= now_us)
            return;
        back = tat - l->interval_us < now_us ? now_us : tat - l->interval_us;
    } while (!cas_tat(s, &tat, back));
}

int64_t mm_rl_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * USEC + ts.tv_nsec / 1000;
}

/* The segment is RL_LINE bytes larger than the table: apr_shm's anonymous
 * base is only 8-byte aligned, and the table starts on a cache line. */
static mm_rl_table *shm_table(apr_shm_t *shm, size_t slots, int format, uint64_t seed)
{
    uintptr_t base = (uintptr_t)apr_shm_baseaddr_get(shm);
    uintptr_t at = (base + RL_LINE - 1) & ~(uintptr_t)(RL_LINE - 1);
    size_t size = apr_shm_size_get(shm) - (size_t)(at - base);

    if (format)
        return mm_rl_table_init((void *)at, size, slots, seed);
    return table_open((void *)at, size, slots);
}

apr_status_t mm_rl_shm_attach(apr_pool_t *process_pool, apr_size_t slots, mm_rl_table **out)
{
    size_t need = mm_rl_table_size(slots);
    void *data = NULL;
    apr_shm_t *shm;
    uint64_t seed;
    apr_status_t rv;

    *out = NULL;
    if (need == 0 || need > SIZE_MAX - RL_LINE)
        return APR_EINVAL;
    need += RL_LINE;
    apr_pool_userdata_get(&data, RL_USERDATA, process_pool);
    if ((shm = data) != NULL) {
        /* A graceful restart: keep everyone's budget unless the size changed.
         * Children of the old generation keep their own mapping. */
        if (apr_shm_size_get(shm) == need && (*out = shm_table(shm, slots, 0, 0)) != NULL)
            return APR_SUCCESS;
        apr_pool_userdata_setn(NULL, RL_USERDATA, NULL, process_pool);
        apr_shm_destroy(shm);
    }
    rv = apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed));
    if (rv == APR_SUCCESS)
        rv = apr_shm_create(&shm, need, NULL, process_pool);
    if (rv != APR_SUCCESS)
        return rv;
    if ((*out = shm_table(shm, slots, 1, seed)) == NULL) {
        apr_shm_destroy(shm);
        return APR_EGENERAL;
    }
    apr_pool_userdata_setn(shm, RL_USERDATA, NULL, process_pool);
    return APR_SUCCESS;
}

void mm_rl_usage(mm_rl_table *t, int64_t now_us, size_t *slots, size_t *used, size_t *live)
{
    *slots = (size_t)t->nslots;
    *used = *live = 0;
    for (size_t i = 0; i < *slots; i++) {
        uint64_t key = __atomic_load_n(&t->slot[i].key, __ATOMIC_RELAXED);
        if (key == 0 || (key & RL_MARK))
            continue;
        (*used)++;
        if (__atomic_load_n(&t->slot[i].tat, __ATOMIC_RELAXED) > now_us)
            (*live)++;
    }
}
