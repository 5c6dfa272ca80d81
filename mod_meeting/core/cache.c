/* The meeting-detail read cache (see cache.h).
 *
 * Three direct-mapped tables in one anonymous shared segment made before
 * httpd forks: users (user -> the generation that holds), members (meeting,
 * user -> active member) and meetings (meeting -> detail JSON and ETag). Each
 * slot is a sequence lock: its sequence number is off a multiple of SEQ_STEP
 * while a writer holds it, and every write (a store or a forget) adds
 * SEQ_STEP. Readers copy a slot and keep the copy only if the number was free
 * and unchanged around it; a store needs the number its reader saw before
 * asking the database, so a forget that came in between (it always moves the
 * number on, whatever key the slot holds) makes the stale answer unstorable.
 * Only 64-bit atomics.
 *
 * A writer holds a slot for a few stores. A child killed meanwhile (SIGKILL
 * from httpd's parent at a stop, a crash: every thread dies at once) would
 * leave it held for ever, and a forget, which must happen, would wait for it
 * for ever: the child's request thread, or httpd's parent in forget_all() at
 * the next restart. So a forget that sees the same holder for HOLD_MAX_US
 * retires the slot instead: it is never read or written again (a miss for
 * its keys) and a writer that was only slow cannot give it back (its give is
 * a compare-and-swap). A slot's number is a multiple of SEQ_STEP while free,
 * + SEQ_HELD while a writer holds it, + SEQ_RETIRED once retired. */
#include "cache.h"

#include <apr_shm.h>
#include <apr_strings.h>
#include <sched.h>
#include <string.h>

#define USERDATA_KEY "mod_meeting/cache_shm"
#define CACHE_MAGIC 0x4d4d434143484532ull /* "MMCACHE2": slot numbers step by 4 */
#define USER_SLOTS 131072u
#define MEMBER_SLOTS 131072u
#define MEETING_SLOTS 65536u
#define ETAG_MAX 68  /* '"' + 64 hex digits + '"' + NUL, rounded up */
#define DATA_MAX 928 /* a meeting slot is 1 KiB; longer details are not kept */
#define SEQ_STEP 4u
#define SEQ_HELD 1u
#define SEQ_RETIRED 3u
/* A live writer holds a slot for well under a microsecond, unless descheduled. */
#define HOLD_MAX_US 100000

typedef struct {
    uint64_t seq;
    int64_t a, b; /* the key; a == 0: empty */
    int64_t value;
    int64_t expires; /* apr_time_t */
} small_slot;

typedef struct {
    uint64_t seq;
    int64_t id; /* 0: empty */
    int64_t expires;
    uint32_t len;
    char etag[ETAG_MAX];
    char data[DATA_MAX];
} meeting_slot;

typedef struct {
    uint64_t magic;
    int64_t ttl; /* microseconds; 0: off */
    small_slot users[USER_SLOTS];
    small_slot members[MEMBER_SLOTS];
    meeting_slot meetings[MEETING_SLOTS];
} cache_seg;

static cache_seg *seg;

static void small_forget(small_slot *sl);
static void meeting_forget(meeting_slot *sl);

/* Forgets every slot the way a change does (its number moves on), so that
 * a child of the previous generation that read before cannot store after. */
static void forget_all(void)
{
    for (size_t i = 0; i < USER_SLOTS; i++)
        small_forget(&seg->users[i]);
    for (size_t i = 0; i < MEMBER_SLOTS; i++)
        small_forget(&seg->members[i]);
    for (size_t i = 0; i < MEETING_SLOTS; i++)
        meeting_forget(&seg->meetings[i]);
}

apr_status_t mm_cache_attach(apr_pool_t *process_pool, apr_interval_time_t ttl)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&shm, USERDATA_KEY, process_pool);
    /* One an older module made (a graceful restart after an upgrade) counts
     * slot numbers its own way: its children keep it, ours get a new one. */
    if (shm && ((cache_seg *)apr_shm_baseaddr_get(shm))->magic != CACHE_MAGIC)
        shm = NULL;
    if (!shm) {
        if ((rv = apr_shm_create(&shm, sizeof(cache_seg), NULL, process_pool)) != APR_SUCCESS)
            return rv;
        memset(apr_shm_baseaddr_get(shm), 0, sizeof(cache_seg));
        apr_pool_userdata_set(shm, USERDATA_KEY, apr_pool_cleanup_null, process_pool);
    }
    seg = apr_shm_baseaddr_get(shm);
    seg->magic = CACHE_MAGIC;
    /* A restart (graceful too) starts empty: what was stored under an older
     * lifetime must not outlive the new one, and it is how an admin makes a
     * change written straight into the database show at once. */
    forget_all();
    seg->ttl = ttl;
    return APR_SUCCESS;
}

static int on(void)
{
    return seg && seg->ttl > 0;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static small_slot *user_slot(long long user)
{
    return &seg->users[mix((uint64_t)user) % USER_SLOTS];
}

static small_slot *member_slot(long long meeting, long long user)
{
    return &seg->members[mix((uint64_t)meeting * 0x9e3779b97f4a7c15ull ^ (uint64_t)user)
                         % MEMBER_SLOTS];
}

static meeting_slot *meeting_slot_of(long long meeting)
{
    return &seg->meetings[mix((uint64_t)meeting ^ 0x5bd1e995u) % MEETING_SLOTS];
}

static uint64_t seq_read(uint64_t *seq)
{
    return __atomic_load_n(seq, __ATOMIC_ACQUIRE);
}

static int seq_free(uint64_t s)
{
    return s % SEQ_STEP == 0;
}

/* Whether the copy made since seq read s is whole. */
static int seq_still(uint64_t *seq, uint64_t s)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(seq, __ATOMIC_RELAXED) == s;
}

static int seq_cas(uint64_t *seq, uint64_t from, uint64_t to)
{
    return __atomic_compare_exchange_n(seq, &from, to, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Takes the slot for writing if its number is still seen (free). */
static int seq_take(uint64_t *seq, uint64_t seen)
{
    return seq_free(seen) && seq_cas(seq, seen, seen + SEQ_HELD);
}

/* Takes the slot for writing whatever it holds, as a forget must: 1 with
 * *taken, or 0 when the slot is retired (see the top of the file). */
static int seq_take_any(uint64_t *seq, uint64_t *taken)
{
    uint64_t held = 0;
    apr_time_t since = 0;

    for (unsigned spins = 0;; spins++) {
        uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
        if (seq_take(seq, s)) {
            *taken = s;
            return 1;
        }
        if (s % SEQ_STEP == SEQ_RETIRED)
            return 0;
        if (!since || s != held) { /* another holder: its time starts now */
            held = s;
            since = apr_time_now();
        } else if (apr_time_now() - since > HOLD_MAX_US
                   && seq_cas(seq, s, s - SEQ_HELD + SEQ_RETIRED)) {
            return 0;
        }
        if (spins > 64)
            sched_yield();
    }
}

/* Gives the slot back, unless a forget retired it meanwhile. */
static void seq_give(uint64_t *seq, uint64_t taken)
{
    uint64_t held = taken + SEQ_HELD;

    __atomic_compare_exchange_n(seq, &held, taken + SEQ_STEP, 0, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
}

static int64_t load64(const int64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* Whether sl holds (a, b) -> value, fresh at now; *seen: its number. */
static int small_get(small_slot *sl, long long a, long long b, long long value, apr_time_t now,
                     uint64_t *seen)
{
    uint64_t s = seq_read(&sl->seq);
    int hit = load64(&sl->a) == a && load64(&sl->b) == b && load64(&sl->value) == value
              && load64(&sl->expires) > now;

    *seen = s;
    return seq_free(s) && seq_still(&sl->seq, s) && hit;
}

static void small_put(small_slot *sl, uint64_t seen, long long a, long long b, long long value,
                      apr_time_t expires)
{
    if (!seq_take(&sl->seq, seen))
        return;
    __atomic_store_n(&sl->a, a, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->b, b, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->value, value, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->expires, expires, __ATOMIC_RELAXED);
    seq_give(&sl->seq, seen);
}

static void small_forget(small_slot *sl)
{
    uint64_t s;

    if (!seq_take_any(&sl->seq, &s))
        return;
    __atomic_store_n(&sl->a, 0, __ATOMIC_RELAXED);
    seq_give(&sl->seq, s);
}

/* The meeting's detail and ETag copied into p when fresh; *seen as above. */
static int meeting_get(apr_pool_t *p, meeting_slot *sl, long long id, apr_time_t now,
                       const char **data, const char **etag, uint64_t *seen)
{
    char buf[DATA_MAX], tag[ETAG_MAX];
    uint64_t s = seq_read(&sl->seq);
    uint32_t len = __atomic_load_n(&sl->len, __ATOMIC_RELAXED);
    int hit = load64(&sl->id) == id && load64(&sl->expires) > now && len < DATA_MAX;

    *seen = s;
    if (hit) {
        memcpy(buf, sl->data, len);
        memcpy(tag, sl->etag, ETAG_MAX);
    }
    if (!seq_free(s) || !seq_still(&sl->seq, s) || !hit)
        return 0;
    tag[ETAG_MAX - 1] = '\0';
    *data = apr_pstrmemdup(p, buf, len);
    *etag = apr_pstrdup(p, tag);
    return 1;
}

static void meeting_put(meeting_slot *sl, uint64_t seen, long long id, const char *data,
                        const char *etag, apr_time_t expires)
{
    size_t len = strlen(data), tlen = strlen(etag);

    if (len >= DATA_MAX || tlen >= ETAG_MAX || !seq_take(&sl->seq, seen))
        return;
    __atomic_store_n(&sl->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->expires, expires, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->len, (uint32_t)len, __ATOMIC_RELAXED);
    memcpy(sl->data, data, len);
    memcpy(sl->etag, etag, tlen + 1);
    seq_give(&sl->seq, seen);
}

int mm_cache_detail(apr_pool_t *p, long long meeting_id, long long user_id, long long gen,
                    const char **data, const char **etag, mm_cache_ticket *t)
{
    apr_time_t now;
    int user_ok, member_ok;

    t->seq[0] = t->seq[1] = t->seq[2] = SEQ_HELD; /* not free: nothing to store */
    if (!on() || meeting_id <= 0 || user_id <= 0)
        return 0;
    now = apr_time_now();
    /* All three are read (their numbers taken) even after a miss: the store
     * after the database's answer needs every one. */
    user_ok = small_get(user_slot(user_id), user_id, 0, gen, now, &t->seq[0]);
    member_ok =
        small_get(member_slot(meeting_id, user_id), meeting_id, user_id, 1, now, &t->seq[1]);
    return meeting_get(p, meeting_slot_of(meeting_id), meeting_id, now, data, etag, &t->seq[2])
           && user_ok && member_ok;
}

void mm_cache_store(const mm_cache_ticket *t, long long meeting_id, long long user_id,
                    long long gen, const char *data, const char *etag)
{
    apr_time_t expires;

    if (!on() || !data || !etag)
        return;
    expires = apr_time_now() + seg->ttl;
    small_put(user_slot(user_id), t->seq[0], user_id, 0, gen, expires);
    small_put(member_slot(meeting_id, user_id), t->seq[1], meeting_id, user_id, 1, expires);
    meeting_put(meeting_slot_of(meeting_id), t->seq[2], meeting_id, data, etag, expires);
}

static void meeting_forget(meeting_slot *sl)
{
    uint64_t s;

    if (!seq_take_any(&sl->seq, &s))
        return;
    __atomic_store_n(&sl->id, 0, __ATOMIC_RELAXED);
    seq_give(&sl->seq, s);
}

void mm_cache_forget_meeting(long long meeting_id)
{
    if (on())
        meeting_forget(meeting_slot_of(meeting_id));
}

void mm_cache_forget_member(long long meeting_id, long long user_id)
{
    if (on())
        small_forget(member_slot(meeting_id, user_id));
}

void mm_cache_forget_user(long long user_id)
{
    if (on())
        small_forget(user_slot(user_id));
}
