/* Per-endpoint rate limits on the request path. */
#ifndef MM_RATELIMIT_H
#define MM_RATELIMIT_H

#include "reply.h"

typedef enum { MM_RL_ADMITTED, MM_RL_LIMITED, MM_RL_NO_SLOT } mm_rl_outcome;

/* Spends one token of the route's bucket for this user (or client IP).
 * Admitted: the X-RateLimit-* headers are set and the charge noted in q.
 * Otherwise nothing is answered yet: SPEC.md 1 puts a revoked token's 401
 * first (precedence.c), then mm_ratelimit_refuse; res is for it. */
mm_rl_outcome mm_ratelimit_take(mm_req *q, mm_gcra_result *res);

/* The 429 (with Retry-After and the limit's headers) of MM_RL_LIMITED, or
 * the 503 of MM_RL_NO_SLOT (no slot could be had: refused, never admitted
 * without a limit). Returns MM_ANSWERED. */
mm_step mm_ratelimit_refuse(mm_req *q, mm_rl_outcome why, const mm_gcra_result *res);

/* Gives back the token this request spent, and drops its X-RateLimit-*
 * headers: it failed authentication after all (a revoked token, found by its
 * action statement), and SPEC.md 4 does not charge those. */
void mm_ratelimit_refund(mm_req *q);

#endif
