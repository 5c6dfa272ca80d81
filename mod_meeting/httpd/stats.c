/* Request counts by route (see stats.h). */
#include "stats.h"

#include <apr_shm.h>

#define USERDATA_KEY "mod_meeting/stats_shm"
#define STATS_MAGIC 0x4d4d5354u /* "MMST" */

/* The segment: a magic number, then one row of counters per route and one
 * for requests that matched no route. Only 64-bit atomic adds touch it. */
struct mm_stats {
    apr_uint64_t magic;
    apr_uint64_t count[MM_ROUTE_COUNT + 1][MM_STAT_COLS];
};

apr_status_t mm_stats_attach(apr_pool_t *process_pool, mm_stats **out)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    mm_stats *st;

    apr_pool_userdata_get((void **)&shm, USERDATA_KEY, process_pool);
    if (shm && apr_shm_size_get(shm) >= sizeof(mm_stats)) {
        *out = apr_shm_baseaddr_get(shm);
        return APR_SUCCESS;
    }
    rv = apr_shm_create(&shm, sizeof(mm_stats), NULL, process_pool);
    if (rv != APR_SUCCESS)
        return rv;
    st = apr_shm_baseaddr_get(shm);
    memset(st, 0, sizeof(*st));
    st->magic = STATS_MAGIC;
    apr_pool_userdata_set(shm, USERDATA_KEY, apr_pool_cleanup_null, process_pool);
    *out = st;
    return APR_SUCCESS;
}

void mm_stats_count(mm_stats *st, const mm_route *route, int status)
{
    apr_uint64_t *row;
    int col = status == HTTP_TOO_MANY_REQUESTS ? MM_STAT_429
              : status >= 500                  ? MM_STAT_5XX
              : status >= 400                  ? MM_STAT_4XX
                                               : MM_STAT_2XX;

    if (!st)
        return;
    row = st->count[route ? route->id : MM_ROUTE_COUNT];
    __atomic_fetch_add(&row[MM_STAT_ALL], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&row[col], 1, __ATOMIC_RELAXED);
}

void mm_stats_row(const mm_stats *st, int row, apr_uint64_t out[MM_STAT_COLS])
{
    for (int c = 0; c < MM_STAT_COLS; c++)
        out[c] = __atomic_load_n(&st->count[row][c], __ATOMIC_RELAXED);
}
