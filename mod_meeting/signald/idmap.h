/*
 * signald: a hash map from a pair of ids to a pointer. Rooms are keyed by
 * (meeting_id, 0) and seats by (meeting_id, user_id): a relay looks up its
 * target in constant time however large the room.
 */
#ifndef MM_SIG_IDMAP_H
#define MM_SIG_IDMAP_H

#include <stddef.h>

typedef struct mm_idmap_node mm_idmap_node;

typedef struct {
    mm_idmap_node **buckets;
    size_t nbuckets;        /* a power of two, or 0 before the first put */
    size_t count;
} mm_idmap;

#define MM_IDMAP_INIT { NULL, 0, 0 }

void *mm_idmap_get(const mm_idmap *m, long long a, long long b);

/* Inserts or replaces. Returns 0, or -1 when out of memory (map unchanged). */
int mm_idmap_put(mm_idmap *m, long long a, long long b, void *val);

/* Removes the entry and returns its value, or NULL when there was none. */
void *mm_idmap_del(mm_idmap *m, long long a, long long b);

#endif
