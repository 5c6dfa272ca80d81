/*
 * SPEC.md 1's order, in one place. When several checks fail, the first in
 * this order answers:
 *
 *   404/405  routing                  serve.c, before anything here
 *   401      the token                mm_authenticate, mm_auth_confirm (auth.c)
 *   429      the rate limit           mm_admit: a refused request's token is confirmed
 *                                     first, and a 401 gives its charge back
 *   404/403  the route's need         mm_context_check: the meeting (or webhook) of
 *   412      If-Match                 the path exists, the caller may act on it
 *   413/415/400  the request itself   mm_refuse: told only once mm_context_check passes
 *   404/403/409  the action           the route's statement (db.c), which checks
 *                                     401/404/403 again, in the same order, with the
 *                                     same need, before it runs the action
 *                                     (sql/003_api.sql)
 *
 * An authenticated request costs one statement: it checks the token and the
 * need and then acts. The checks here run on their own only for an answer
 * given before the action (a 429, a refused body or query).
 */
#ifndef MM_PRECEDENCE_H
#define MM_PRECEDENCE_H

#include "body.h"

/* A refusal of the request itself, told after the checks that come first. */
typedef mm_body_error mm_refusal;

/* Spends one token of the route's bucket: MM_GO_ON, or MM_ANSWERED after a
 * 429 (or the 401 of a token that no longer holds). */
mm_step mm_admit(mm_req *q);

/* 401 unless the caller's token still holds, then what the route's need
 * asks: 404 unless the meeting (webhook) of the path exists, 403 unless the
 * caller may act on it, 412 unless q->if_match holds. MM_GO_ON or MM_ANSWERED. */
mm_step mm_context_check(mm_req *q);

/* Answers why, after mm_context_check passes. Returns MM_ANSWERED. */
mm_step mm_refuse(mm_req *q, const mm_refusal *why);

/* mm_refuse of a 400 for one field. Returns MM_ANSWERED. */
mm_step mm_field_refused(mm_req *q, const char *field, const char *message);

/* page and page_size of a list endpoint: both required when dflt_size is
 * 0, else page defaults to 1 and page_size to dflt_size. A bad value is
 * refused through mm_refuse. MM_GO_ON or MM_ANSWERED. */
mm_step mm_list_page(mm_req *q, long dflt_size, long *page, long *size);

/* Reads and validates the route's body (routes.def); a refused body goes
 * through mm_refuse. MM_GO_ON with *body set, or MM_ANSWERED. */
mm_step mm_route_body(mm_req *q, json_t **body);

#endif
