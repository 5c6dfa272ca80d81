/*
 * The meeting-detail read cache: what GET /meetings/:id needs (the meeting's
 * detail JSON and ETag, that a user is an active member, the token generation
 * that still holds for a user) in shared memory, for every httpd child.
 *
 * Exact on this node: every change the module makes forgets what it touched
 * after its statement ran (committed) and after a transaction's COMMIT, before
 * the answer goes out; a read that raced with it cannot store what it read
 * (each slot's sequence number is taken before the read and must be unchanged
 * when it is stored). Across nodes an entry lives MeetingDetailCache seconds
 * at most: code that hears of another node's change (e.g. a PostgreSQL event)
 * calls the mm_cache_forget_* functions, which are safe from any thread.
 */
#ifndef MM_CACHE_H
#define MM_CACHE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <stdint.h>

/* What a detail read saw of its three slots before it asked the database. */
typedef struct {
    uint64_t seq[3];
} mm_cache_ticket;

/* Creates (or, on a restart, finds) the shared segment in process_pool.
 * ttl 0 turns the cache off. APR_SUCCESS or why not. */
apr_status_t mm_cache_attach(apr_pool_t *process_pool, apr_interval_time_t ttl);

/* A cached detail for meeting_id as user_id holding a token of generation
 * gen: 1 with *data and *etag copied into p, else 0 with *t filled for
 * mm_cache_store after the database answered. */
int mm_cache_detail(apr_pool_t *p, long long meeting_id, long long user_id, long long gen,
                    const char **data, const char **etag, mm_cache_ticket *t);

/* Stores what a 200 detail answer proved (gen holds for user_id, who is a
 * member of meeting_id, whose detail is data with etag), slot by slot, only
 * where nothing changed since t was taken. */
void mm_cache_store(const mm_cache_ticket *t, long long meeting_id, long long user_id,
                    long long gen, const char *data, const char *etag);

/* Forget what a change touched. */
void mm_cache_forget_meeting(long long meeting_id);
void mm_cache_forget_member(long long meeting_id, long long user_id);
void mm_cache_forget_user(long long user_id);

#endif
