/*
 * online.c - users' online features in memory (online.h).
 */
#include "online.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSHARDS 16

struct recs {
    struct rec_item *items; /* (count,) or NULL */
    int count, n, cap, ratings;
    uint64_t gen;
    int64_t made;
};

struct entry {
    struct online_snap st;
    struct recs recs;
    uint64_t used; /* the shard's tick at the last use */
    int next;      /* chain in the bucket, -1 at the end */
    int live;
};

struct shard {
    pthread_mutex_t mu;
    int *bucket; /* (nbucket,) first entry or -1 */
    int nbucket;
    struct entry *e; /* (cap,) */
    int cap, n;
    uint64_t tick;
    uint64_t gen; /* bumped by every write, see online_get */
    uint64_t hits, misses, updates, rec_hits, rec_misses;
};

struct online {
    struct shard sh[NSHARDS];
};

static unsigned hash64(int64_t v)
{
    uint64_t x = (uint64_t)v * 0x9E3779B97F4A7C15ULL;
    return (unsigned)(x >> 32);
}

static struct shard *shard_of(struct online *o, int64_t user)
{
    return &o->sh[(uint64_t)user % NSHARDS];
}

struct online *online_new(int max_users)
{
    struct online *o = calloc(1, sizeof(*o));
    int per = (max_users > NSHARDS ? max_users : NSHARDS) / NSHARDS;
    if (!o)
        return NULL;
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &o->sh[i];
        pthread_mutex_init(&s->mu, NULL);
        s->cap = per;
        s->nbucket = per * 2;
        s->bucket = malloc((size_t)s->nbucket * sizeof(int));
        s->e = calloc((size_t)per, sizeof(struct entry));
        if (!s->bucket || !s->e) {
            online_free(o);
            return NULL;
        }
        for (int b = 0; b < s->nbucket; b++)
            s->bucket[b] = -1;
    }
    return o;
}

void online_snap_free(struct online_snap *snap)
{
    free(snap->r);
    snap->r = NULL;
    snap->n = snap->cap = 0;
}

void online_free(struct online *o)
{
    if (!o)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &o->sh[i];
        for (int k = 0; s->e && k < s->cap; k++) {
            online_snap_free(&s->e[k].st);
            free(s->e[k].recs.items);
        }
        free(s->e);
        free(s->bucket);
        pthread_mutex_destroy(&s->mu);
    }
    free(o);
}

static int find(struct shard *s, int64_t user)
{
    for (int k = s->bucket[hash64(user) % (unsigned)s->nbucket]; k >= 0; k = s->e[k].next)
        if (s->e[k].st.user == user)
            return k;
    return -1;
}

static void unlink_entry(struct shard *s, int k)
{
    int *p = &s->bucket[hash64(s->e[k].st.user) % (unsigned)s->nbucket];
    while (*p != k)
        p = &s->e[*p].next;
    *p = s->e[k].next;
    online_snap_free(&s->e[k].st);
    free(s->e[k].recs.items);
    memset(&s->e[k], 0, sizeof(s->e[k]));
    s->n--;
}

static int snap_copy(struct online_snap *dst, const struct online_snap *src)
{
    *dst = *src;
    dst->r = NULL;
    dst->cap = dst->n;
    if (src->n) {
        dst->r = malloc((size_t)src->n * sizeof(*dst->r));
        if (!dst->r) {
            dst->n = dst->cap = 0;
            return ERR_NOMEM;
        }
        memcpy(dst->r, src->r, (size_t)src->n * sizeof(*dst->r));
    }
    return 0;
}

/* ---- loading from the store ---- */

static int add_rating(void *ctx, int64_t user, int64_t movie, double score, int64_t time)
{
    struct online_snap *st = ctx;
    (void)user;
    if (st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 32;
        struct online_rating *r = realloc(st->r, (size_t)cap * sizeof(*r));
        if (!r)
            return ERR_NOMEM;
        st->r = r;
        st->cap = cap;
    }
    st->r[st->n].movie = movie;
    st->r[st->n].score = (float)score;
    st->r[st->n++].time = time;
    return 0;
}

static int add_interest(void *ctx, enum store_interest kind, const char *value)
{
    struct online_snap *st = ctx;
    if (kind == STORE_INTEREST_GENRE && st->ngenres < ONLINE_MAX_GENRES)
        snprintf(st->genres[st->ngenres++], sizeof(st->genres[0]), "%s", value);
    return 0;
}

static int add_tag(void *ctx, int64_t movie, const char *tag, int64_t time)
{
    struct online_snap *st = ctx;
    (void)tag;
    (void)time;
    for (int i = 0; i < st->ntagged; i++)
        if (st->tagged[i] == movie)
            return 0;
    if (st->ntagged < ONLINE_MAX_TAGGED)
        st->tagged[st->ntagged++] = movie;
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const struct online_rating *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->movie > y->movie) - (x->movie < y->movie);
}

static int load(struct store *s, int64_t user, struct online_snap *st, struct error *err)
{
    struct store_account a;
    int rc;
    memset(st, 0, sizeof(*st));
    if ((rc = store_account_get(s, user, &a, err)))
        return rc;
    st->user = user;
    st->gender = a.gender;
    st->age = a.age;
    snprintf(st->occupation, sizeof(st->occupation), "%s", a.occupation);
    rc = store_user_ratings(s, user, add_rating, st, err);
    if (rc == ERR_NOMEM)
        rc = error_set(err, ERR_NOMEM, "out of memory for user %lld's ratings", (long long)user);
    if (!rc)
        rc = store_interests_get(s, user, add_interest, st, err);
    if (!rc)
        rc = store_user_tags(s, user, 0, add_tag, st, err);
    if (rc) {
        online_snap_free(st);
        return rc;
    }
    /* store_user_tags gives newest first; keep latest last */
    for (int i = 0, j = st->ntagged - 1; i < j; i++, j--) {
        int64_t t = st->tagged[i];
        st->tagged[i] = st->tagged[j];
        st->tagged[j] = t;
    }
    if (st->n > 1)
        qsort(st->r, (size_t)st->n, sizeof(*st->r), by_time);
    return 0;
}

int online_get(struct online *o, struct store *s, int64_t user, struct online_snap *out,
               struct error *err)
{
    struct shard *sh = shard_of(o, user);
    struct online_snap fresh;
    uint64_t gen;
    int k, rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&sh->mu);
    k = find(sh, user);
    if (k >= 0) {
        sh->e[k].used = ++sh->tick;
        sh->hits++;
        rc = snap_copy(out, &sh->e[k].st);
        out->version = sh->gen;
        pthread_mutex_unlock(&sh->mu);
        return rc ? error_set(err, ERR_NOMEM, "out of memory") : 0;
    }
    sh->misses++;
    gen = sh->gen;
    pthread_mutex_unlock(&sh->mu);

    if ((rc = load(s, user, &fresh, err)))
        return rc;
    fresh.version = gen;
    if ((rc = snap_copy(out, &fresh))) {
        online_snap_free(&fresh);
        return error_set(err, ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&sh->mu);
    /* keep it only when no write touched this shard meanwhile and no other
     * thread loaded the same user */
    if (sh->gen == gen && find(sh, user) < 0) {
        if (sh->n == sh->cap) {
            int old = 0;
            for (int i = 1; i < sh->cap; i++)
                if (sh->e[i].used < sh->e[old].used)
                    old = i;
            unlink_entry(sh, old);
        }
        for (k = 0; k < sh->cap && sh->e[k].live; k++)
            ;
        unsigned b = hash64(user) % (unsigned)sh->nbucket;
        sh->e[k].st = fresh;
        sh->e[k].live = 1;
        sh->e[k].used = ++sh->tick;
        sh->e[k].next = sh->bucket[b];
        sh->bucket[b] = k;
        sh->n++;
    } else {
        online_snap_free(&fresh);
    }
    pthread_mutex_unlock(&sh->mu);
    return 0;
}

/* Runs fn on the user's entry (if in memory) under the lock; every write
 * bumps the shard's generation, whether or not the user is in memory. */
static void update(struct online *o, int64_t user, void (*fn)(struct shard *, int, void *),
                   void *arg)
{
    struct shard *sh = shard_of(o, user);
    pthread_mutex_lock(&sh->mu);
    sh->gen++;
    sh->updates++;
    int k = find(sh, user);
    if (k >= 0) {
        free(sh->e[k].recs.items);
        memset(&sh->e[k].recs, 0, sizeof(sh->e[k].recs));
        fn(sh, k, arg);
    }
    pthread_mutex_unlock(&sh->mu);
}

struct rate_arg {
    int64_t movie;
    float score;
    int64_t time;
    int remove;
};

static void apply_rate(struct shard *sh, int k, void *arg)
{
    struct rate_arg *a = arg;
    struct online_snap *st = &sh->e[k].st;
    int i;
    for (i = 0; i < st->n && st->r[i].movie != a->movie; i++)
        ;
    if (i < st->n) { /* a changed or removed rating moves out of its place */
        memmove(st->r + i, st->r + i + 1, (size_t)(st->n - i - 1) * sizeof(*st->r));
        st->n--;
    }
    if (a->remove)
        return;
    if (add_rating(st, st->user, a->movie, a->score, a->time)) {
        unlink_entry(sh, k); /* out of memory: drop it, the store has it */
        return;
    }
    /* keep the order by time (the new rating is normally the latest) */
    for (i = st->n - 1; i > 0 && by_time(&st->r[i - 1], &st->r[i]) > 0; i--) {
        struct online_rating t = st->r[i];
        st->r[i] = st->r[i - 1];
        st->r[i - 1] = t;
    }
}

void online_rated(struct online *o, int64_t user, int64_t movie, float score, int64_t time)
{
    struct rate_arg a = {movie, score, time, 0};
    update(o, user, apply_rate, &a);
}

void online_unrated(struct online *o, int64_t user, int64_t movie)
{
    struct rate_arg a = {movie, 0, 0, 1};
    update(o, user, apply_rate, &a);
}

static void apply_tag(struct shard *sh, int k, void *arg)
{
    struct online_snap *st = &sh->e[k].st;
    int64_t movie = *(int64_t *)arg;
    for (int i = 0; i < st->ntagged; i++)
        if (st->tagged[i] == movie) { /* tagged again: now the latest */
            memmove(st->tagged + i, st->tagged + i + 1,
                    (size_t)(st->ntagged - i - 1) * sizeof(int64_t));
            st->ntagged--;
            break;
        }
    if (st->ntagged == ONLINE_MAX_TAGGED) {
        memmove(st->tagged, st->tagged + 1, (ONLINE_MAX_TAGGED - 1) * sizeof(int64_t));
        st->ntagged--;
    }
    st->tagged[st->ntagged++] = movie;
}

void online_tagged(struct online *o, int64_t user, int64_t movie)
{
    update(o, user, apply_tag, &movie);
}

static void apply_forget(struct shard *sh, int k, void *arg)
{
    (void)arg;
    unlink_entry(sh, k);
}

void online_forget(struct online *o, int64_t user)
{
    update(o, user, apply_forget, NULL);
}

void online_get_stats(struct online *o, struct online_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &o->sh[i];
        pthread_mutex_lock(&s->mu);
        st->hits += s->hits;
        st->misses += s->misses;
        st->updates += s->updates;
        st->rec_hits += s->rec_hits;
        st->rec_misses += s->rec_misses;
        st->users += s->n;
        pthread_mutex_unlock(&s->mu);
    }
}

int online_recs_get(struct online *o, int64_t user, uint64_t gen, int n, int cap, int64_t now,
                    int max_age, struct rec_item *out, int *ratings)
{
    struct shard *sh = shard_of(o, user);
    int k, got = -1;
    pthread_mutex_lock(&sh->mu);
    k = find(sh, user);
    if (k >= 0) {
        const struct recs *rc = &sh->e[k].recs;
        if (rc->items && rc->gen == gen && rc->n == n && rc->cap == cap &&
            now - rc->made <= max_age && now >= rc->made) {
            memcpy(out, rc->items, (size_t)rc->count * sizeof(*out));
            got = rc->count;
            *ratings = rc->ratings;
            sh->e[k].used = ++sh->tick;
        }
    }
    if (got >= 0)
        sh->rec_hits++;
    else
        sh->rec_misses++;
    pthread_mutex_unlock(&sh->mu);
    return got;
}

void online_recs_put(struct online *o, const struct online_snap *snap, uint64_t gen, int n,
                     int cap, int64_t now, const struct rec_item *items, int count)
{
    struct shard *sh = shard_of(o, snap->user);
    struct rec_item *copy;
    int k;
    if (count < 0 || count > ONLINE_RECS_MAX)
        return;
    copy = malloc((size_t)(count ? count : 1) * sizeof(*copy));
    if (!copy)
        return;
    memcpy(copy, items, (size_t)count * sizeof(*copy));
    pthread_mutex_lock(&sh->mu);
    k = find(sh, snap->user);
    if (k >= 0 && sh->gen == snap->version) {
        struct recs *rc = &sh->e[k].recs;
        free(rc->items);
        rc->items = copy;
        copy = NULL;
        rc->count = count;
        rc->n = n;
        rc->cap = cap;
        rc->gen = gen;
        rc->made = now;
        rc->ratings = snap->n;
    }
    pthread_mutex_unlock(&sh->mu);
    free(copy);
}
