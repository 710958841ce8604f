/*
 * qcache.c - short-lived answers to movie lists and searches (qcache.h).
 */
#include "qcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64

struct slot {
    char key[QCACHE_KEY]; /* "" free */
    int64_t ids[QCACHE_IDS];
    int n;
    int64_t total, made;
};

struct qcache {
    struct slot *slot;
    int nslots, ttl;
    pthread_mutex_t mu[STRIPES];
    atomic_ullong hits, misses;
};

static unsigned hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct qcache *qcache_new(int slots, int ttl_s)
{
    struct qcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->nslots = slots > 0 ? slots : 1;
    c->ttl = ttl_s;
    c->slot = calloc((size_t)c->nslots, sizeof(*c->slot));
    if (!c->slot) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->mu[i], NULL);
    return c;
}

void qcache_free(struct qcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->mu[i]);
    free(c->slot);
    free(c);
}

int qcache_get(struct qcache *c, const char *key, int64_t now, int64_t *ids, int *n,
               int64_t *total)
{
    unsigned k = hash(key) % (unsigned)c->nslots;
    struct slot *s = &c->slot[k];
    int hit = 0;
    if (strlen(key) >= QCACHE_KEY || c->ttl <= 0)
        return 0;
    pthread_mutex_lock(&c->mu[k % STRIPES]);
    if (!strcmp(s->key, key) && now >= s->made && now - s->made < c->ttl) {
        memcpy(ids, s->ids, (size_t)s->n * sizeof(*ids));
        *n = s->n;
        *total = s->total;
        hit = 1;
    }
    pthread_mutex_unlock(&c->mu[k % STRIPES]);
    atomic_fetch_add(hit ? &c->hits : &c->misses, 1);
    return hit;
}

void qcache_put(struct qcache *c, const char *key, int64_t now, const int64_t *ids, int n,
                int64_t total)
{
    unsigned k = hash(key) % (unsigned)c->nslots;
    struct slot *s = &c->slot[k];
    size_t len = strlen(key);
    if (len >= QCACHE_KEY || n < 0 || n > QCACHE_IDS || c->ttl <= 0)
        return;
    pthread_mutex_lock(&c->mu[k % STRIPES]);
    memcpy(s->key, key, len + 1);
    memcpy(s->ids, ids, (size_t)n * sizeof(*ids));
    s->n = n;
    s->total = total;
    s->made = now;
    pthread_mutex_unlock(&c->mu[k % STRIPES]);
}

void qcache_stats(struct qcache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load(&c->hits);
    *misses = atomic_load(&c->misses);
}
