/* Request counts by route, shared by every child, for server-status. */
#ifndef MM_STATS_H
#define MM_STATS_H

#include "mm.h"

typedef struct mm_stats mm_stats;

/* Columns of a route's counters. */
enum { MM_STAT_ALL, MM_STAT_2XX, MM_STAT_4XX, MM_STAT_429, MM_STAT_5XX, MM_STAT_COLS };

/* The counters in anonymous shared memory on the process pool, kept across
 * graceful restarts like the rate-limit table. Call from post_config. */
apr_status_t mm_stats_attach(apr_pool_t *process_pool, mm_stats **out);

/* Counts a finished request; route NULL for unrouted (404/405). */
void mm_stats_count(mm_stats *st, const mm_route *route, int status);

/* A snapshot of one row: route id, or MM_ROUTE_COUNT for unrouted. */
void mm_stats_row(const mm_stats *st, int row, apr_uint64_t out[MM_STAT_COLS]);

#endif
