/*
 * signald: a hash map from a pair of ids to a pointer. Rooms are keyed by
 * (meeting_id, 0) and seats by (meeting_id, user_id): a relay looks up its
 * target in constant time however large the room.
 */
#ifndef SD_IDMAP_H
#define SD_IDMAP_H

#include <stddef.h>

typedef struct sd_idmap_node sd_idmap_node;

typedef struct {
    sd_idmap_node **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first put */
    size_t count;
} sd_idmap;

#define SD_IDMAP_INIT \
    {                 \
        NULL, 0, 0    \
    }

void *sd_idmap_get(const sd_idmap *m, long long a, long long b);

/* Inserts or replaces. Returns 0, or -1 when out of memory (map unchanged). */
int sd_idmap_put(sd_idmap *m, long long a, long long b, void *val);

/* Removes the entry and returns its value, or NULL when there was none. */
void *sd_idmap_del(sd_idmap *m, long long a, long long b);

#endif
