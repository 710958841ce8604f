/*
 * qcache.h - answers to movie lists and searches kept for a short while:
 * a search box asks for the same prefixes again and again, and a common
 * word ("the", "love") matches thousands of titles, whose ranking is the
 * expensive part. Keys are the whole query (text, filters, sort, page);
 * an answer is its movie ids and total. Entries live ttl seconds (lists
 * sorted by rating or popularity follow new ratings within that time);
 * the movies themselves do not change while a server runs.
 *
 * Thread-safe (striped locks); fixed memory (direct-mapped: a new key
 * takes its slot). Ownership: qcache_new() / qcache_free().
 */
#ifndef MOVIEREC_QCACHE_H
#define MOVIEREC_QCACHE_H

#include <stdint.h>

#define QCACHE_KEY 256 /* longer keys are not kept */
#define QCACHE_IDS 100

struct qcache;

struct qcache *qcache_new(int slots, int ttl_s);
void qcache_free(struct qcache *c);
/* 1 and the answer on a hit (ids (QCACHE_IDS,)), 0 on a miss. */
int qcache_get(struct qcache *c, const char *key, int64_t now, int64_t *ids, int *n,
               int64_t *total);
void qcache_put(struct qcache *c, const char *key, int64_t now, const int64_t *ids, int n,
                int64_t total);
void qcache_stats(struct qcache *c, uint64_t *hits, uint64_t *misses);

#endif
