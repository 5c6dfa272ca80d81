/* signald: id-pair hash map (see idmap.h). Chained; doubles at load 1. */
#include "idmap.h"

#include <stdint.h>
#include <stdlib.h>

struct sd_idmap_node {
    long long a, b;
    void *val;
    sd_idmap_node *next;
};

static size_t hash(long long a, long long b)
{
    /* splitmix64 finaliser over both ids: sequential ids spread evenly. */
    uint64_t x = (uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b;

    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static sd_idmap_node **slot(const sd_idmap *m, long long a, long long b)
{
    sd_idmap_node **p = &m->buckets[hash(a, b) & (m->nbuckets - 1)];

    while (*p && ((*p)->a != a || (*p)->b != b))
        p = &(*p)->next;
    return p;
}

void *sd_idmap_get(const sd_idmap *m, long long a, long long b)
{
    sd_idmap_node **p;

    if (!m->nbuckets)
        return NULL;
    p = slot(m, a, b);
    return *p ? (*p)->val : NULL;
}

static int grow(sd_idmap *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    sd_idmap_node **b = calloc(n, sizeof(*b));

    if (!b)
        return -1;
    for (size_t i = 0; i < m->nbuckets; i++) {
        sd_idmap_node *e = m->buckets[i], *next;

        for (; e; e = next) {
            size_t h = hash(e->a, e->b) & (n - 1);

            next = e->next;
            e->next = b[h];
            b[h] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

int sd_idmap_put(sd_idmap *m, long long a, long long b, void *val)
{
    sd_idmap_node **p, *e;

    /* A failed grow only makes chains longer; it is not an error. */
    if ((m->count >= m->nbuckets && grow(m)) && !m->nbuckets)
        return -1;
    p = slot(m, a, b);
    if (*p) {
        (*p)->val = val;
        return 0;
    }
    e = malloc(sizeof(*e));
    if (!e)
        return -1;
    e->a = a;
    e->b = b;
    e->val = val;
    e->next = NULL;
    *p = e;
    m->count++;
    return 0;
}

void *sd_idmap_del(sd_idmap *m, long long a, long long b)
{
    sd_idmap_node **p, *e;
    void *val;

    if (!m->nbuckets)
        return NULL;
    p = slot(m, a, b);
    e = *p;
    if (!e)
        return NULL;
    *p = e->next;
    val = e->val;
    free(e);
    m->count--;
    return val;
}
