/*
 * GCRA (generic cell rate algorithm), the token bucket of SPEC.md section 4,
 * as pure integer arithmetic on one 64-bit "theoretical arrival time" (TAT)
 * per key, in microseconds. No APR, no shared state: rl_table.c stores the
 * TAT, this file only decides.
 */
#ifndef MM_GCRA_H
#define MM_GCRA_H

#include <stdint.h>

/* A limit of `limit` requests per period: a burst of `limit`, then one more
 * every interval_us. Build it with mm_gcra_limit_init. */
typedef struct {
    int64_t period_us;    /* the configured period */
    int64_t interval_us;  /* T = period / limit, rounded down, >= 1 */
    int64_t tolerance_us; /* (limit - 1) * T: how far the TAT may run ahead of now */
    uint32_t limit;
} mm_gcra_limit;

/* count per period_s seconds. 0 ok; -1 when count or period_s is 0 or the
 * rate is finer than one request per microsecond. */
int mm_gcra_limit_init(mm_gcra_limit *l, uint32_t count, uint32_t period_s);

/* What the X-RateLimit-* headers need. */
typedef struct {
    int allowed;
    uint32_t limit;
    uint32_t remaining;     /* further requests admitted right now */
    uint32_t reset_s;       /* seconds until the bucket is full again */
    uint32_t retry_after_s; /* refused only: seconds until the next token, >= 1 */
} mm_gcra_result;

/* Decides one request at now_us against the key's stored TAT (0 or any past
 * value: a full bucket). Returns the TAT to store: the charged one when
 * allowed; when refused stored_tat itself, unless it lay further ahead than
 * one period (clock stepped back, limit lowered), then the clamped value. */
int64_t mm_gcra_decide(const mm_gcra_limit *l, int64_t stored_tat, int64_t now_us,
                       mm_gcra_result *res);

#endif
