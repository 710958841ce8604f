/*
 * online.h - each active user's online features in memory (the paper's
 * Flink role): their account features, every rating, their interest
 * genres and the movies they tagged. A rating or tag written through the
 * API is committed to the store first and then applied here at once, so
 * the very next recommendation sees it; users not in memory are loaded
 * from the store on first use. Bounded: the least recently used user is
 * dropped when the table is full (their state is still in the store).
 *
 * Thread-safe (16 shards, each with its own lock). A load that races a
 * write to the same shard is used for that request but not kept, so the
 * table never holds a state older than the store's.
 *
 * Ownership: online_new() / online_free(); an online_snap is the
 * caller's copy, freed with online_snap_free().
 */
#ifndef MOVIEREC_ONLINE_H
#define MOVIEREC_ONLINE_H

#include <stdint.h>

#include "../recall/pipeline.h"
#include "../store/store.h"

#define ONLINE_MAX_GENRES 32
#define ONLINE_MAX_TAGGED 256

struct online_rating {
    int64_t movie;
    float score;
    int64_t time;
};

struct online_snap {
    int64_t user;
    char gender; /* 'M', 'F' or 0 */
    int age;
    char occupation[64];
    struct online_rating *r; /* (n,) by time, oldest first */
    int n, cap;
    char genres[ONLINE_MAX_GENRES][48]; /* interest genres, in the user's order */
    int ngenres;
    int64_t tagged[ONLINE_MAX_TAGGED]; /* movies the user tagged, latest last */
    int ntagged;
    uint64_t version; /* the shard's write count when read (online_recs_put) */
};

struct online_stats {
    uint64_t hits, misses, updates, rec_hits, rec_misses;
    int users;
};

struct online;
struct online *online_new(int max_users);
void online_free(struct online *o);

/* A copy of the user's state into out (zeroed first), from memory or
 * loaded from s: ERR_NOTFOUND for an unknown user. */
int online_get(struct online *o, struct store *s, int64_t user, struct online_snap *out,
               struct error *err);
void online_snap_free(struct online_snap *snap);

/* Applies a committed write to the user's state if it is in memory. */
void online_rated(struct online *o, int64_t user, int64_t movie, float score, int64_t time);
void online_unrated(struct online *o, int64_t user, int64_t movie);
void online_tagged(struct online *o, int64_t user, int64_t movie);
/* The user's account or interests changed: reload on next use. */
void online_forget(struct online *o, int64_t user);

void online_get_stats(struct online *o, struct online_stats *st);

/* The user's last recommendation list, kept with their state: valid for
 * the same models (gen), the same request (n, cap) and until any write to
 * the user (every online_* update drops it) or max_age seconds. A hit
 * copies the list to out (n,) and returns its length and *ratings (the
 * user's number of ratings when it was made); a miss returns -1. */
#define ONLINE_RECS_MAX 100
int online_recs_get(struct online *o, int64_t user, uint64_t gen, int n, int cap, int64_t now,
                    int max_age, struct rec_item *out, int *ratings);
/* Keeps a list made from snap (online_get) unless the user's shard was
 * written since snap was read. */
void online_recs_put(struct online *o, const struct online_snap *snap, uint64_t gen, int n,
                     int cap, int64_t now, const struct rec_item *items, int count);

#endif
