/*
 * GCRA arithmetic. Everything is in integer microseconds and is worked as
 * "ahead" = stored TAT - now, which lies in [0, window] once clamped, with
 * window = limit * T <= period. So no expression here can overflow, whatever
 * the stored TAT or the clock say.
 *
 * T is rounded down, so limit * T <= period: X-RateLimit-Reset never exceeds
 * the period. The tolerance is (limit - 1) * T rather than period - T so that
 * exactly `limit` requests pass from a full bucket even when T is rounded.
 */
#include "gcra.h"

#define USEC 1000000

int mm_gcra_limit_init(mm_gcra_limit *l, uint32_t count, uint32_t period_s)
{
    int64_t period_us = (int64_t)period_s * USEC;

    if (count == 0 || period_s == 0 || (int64_t)count > period_us)
        return -1;
    l->period_us = period_us;
    l->interval_us = period_us / count;
    l->tolerance_us = (int64_t)(count - 1) * l->interval_us;
    l->limit = count;
    return 0;
}

/* Whole seconds covering us microseconds (us <= 2^32 s, so no overflow). */
static uint32_t ceil_s(uint64_t us)
{
    return (uint32_t)((us + USEC - 1) / USEC);
}

/* now + ahead, saturating instead of wrapping near INT64_MAX. */
static int64_t add_sat(int64_t now, uint64_t ahead)
{
    if (now > 0 && ahead > (uint64_t)(INT64_MAX - now))
        return INT64_MAX;
    return (int64_t)((uint64_t)now + ahead);
}

int64_t mm_gcra_decide(const mm_gcra_limit *l, int64_t stored_tat, int64_t now_us,
                       mm_gcra_result *res)
{
    uint64_t t = (uint64_t)l->interval_us;
    uint64_t tol = (uint64_t)l->tolerance_us;
    uint64_t window = tol + t;
    uint64_t ahead = 0;
    int64_t keep = stored_tat;

    res->limit = l->limit;
    res->retry_after_s = 0;
    if (l->interval_us <= 0) { /* not from mm_gcra_limit_init: never divide by 0 */
        res->allowed = 1;
        res->remaining = res->reset_s = 0;
        return stored_tat;
    }
    if (stored_tat > now_us) {
        /* Unsigned difference: exact even when now_us is negative. */
        ahead = (uint64_t)stored_tat - (uint64_t)now_us;
        if (ahead > window) {
            /* Only a clock step back (or a lower limit) puts the TAT beyond
             * one window; store the clamp so the key waits at most a period. */
            ahead = window;
            keep = add_sat(now_us, window);
        }
    }
    if (ahead > tol) {
        res->allowed = 0;
        res->remaining = 0;
        res->reset_s = ceil_s(ahead);
        res->retry_after_s = ceil_s(ahead - tol); /* ahead - tol >= 1 µs, so >= 1 s */
        return keep;
    }
    ahead += t;
    res->allowed = 1;
    res->remaining = (uint32_t)((window - ahead) / t);
    res->reset_s = ceil_s(ahead);
    return add_sat(now_us, ahead);
}
