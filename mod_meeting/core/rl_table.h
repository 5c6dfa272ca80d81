/*
 * The rate-limit table: one GCRA TAT per key in a fixed-size, lock-free,
 * open-addressing hash table that lives in shared memory seen by every httpd
 * child. Needs APR only for the shm glue (mm_rl_shm_attach).
 */
#ifndef MM_RL_TABLE_H
#define MM_RL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <apr_errno.h>

#include "gcra.h"

/* The formatted region itself (header + slots); opaque. */
typedef struct mm_rl_table mm_rl_table;

/* Bytes needed for `slots` slots; 0 when slots is 0 or the size overflows. */
size_t mm_rl_table_size(size_t slots);

/* Formats mem (16-byte aligned, at least mm_rl_table_size(slots) bytes, not
 * yet shared) as an empty table. seed keys slot placement, so that nobody
 * outside can aim many keys at one neighbourhood: pass random bytes.
 * NULL when mem or size do not fit. */
mm_rl_table *mm_rl_table_init(void *mem, size_t size, size_t slots, uint64_t seed);

/* The key of (route, who): who is a user id or client IP, any bytes. A keyed
 * 64-bit hash (SipHash-2-4, the route picks the key) folded into [1, 2^63):
 * never 0, the top bit is kept for the table's own marks. */
uint64_t mm_rl_key(uint32_t route, const void *who, size_t len);

/* Charges one request of `key` at now_us (one microsecond clock shared by
 * every process, e.g. mm_rl_now_us()). 0: decided, res filled. A key without
 * a slot takes the one of its probe window that expires first; when that one
 * is still live, the key inherits its TAT (debt), so a full table makes the
 * limit stricter, never absent. 1: no slot at all (every probed slot was
 * being handed over, a race lost again and again): refuse the request (res
 * then describes a full bucket). */
int mm_rl_check(mm_rl_table *t, uint64_t key, const mm_gcra_limit *l, int64_t now_us,
                mm_gcra_result *res);

/* Whether the table was full since the last report: 1 for one caller (of
 * all processes) per every_us, with the live keys evicted and the checks
 * refused (mm_rl_check returned 1) since then; 0 otherwise. Two relaxed loads
 * when there is nothing to say, so it can follow every check. */
int mm_rl_pressure(mm_rl_table *t, int64_t now_us, int64_t every_us, uint64_t *evicted,
                   uint64_t *refused);

/* Gives back one request of key that mm_rl_check admitted (its answer must
 * not count, e.g. a 401: SPEC.md 4). The TAT goes back one interval but never
 * below now_us (a full bucket): a TAT never returns to a value it had before
 * the slot changed hands, which the table's CAS protocol relies on. Nothing
 * happens when the key has no slot any more (its bucket expired: full). */
void mm_rl_refund(mm_rl_table *t, uint64_t key, const mm_gcra_limit *l, int64_t now_us);

/* CLOCK_MONOTONIC in microseconds: the same in all processes, and it does
 * not jump when NTP steps the wall clock. */
int64_t mm_rl_now_us(void);

/* The table in an anonymous apr_shm segment hung off process_pool (which
 * outlives graceful restarts): an existing segment of the same slot count is
 * reused with its state, otherwise a new one is created (and an old one of
 * another size destroyed). Call from post_config, before children fork. */
apr_status_t mm_rl_shm_attach(apr_pool_t *process_pool, apr_size_t slots, mm_rl_table **out);

/* For server-status: slots in the table, slots holding a key, and keys whose
 * bucket is not full (state that matters). A racy but harmless snapshot. */
void mm_rl_usage(mm_rl_table *t, int64_t now_us, size_t *slots, size_t *used, size_t *live);

#endif
