/*
 * itemcf.c - item-item cosine neighbours and recommendation (itemcf.h).
 *
 * Build: the positive ratings as CSR by user (pos) and by movie (inv).
 * Each thread takes a contiguous range of movies; for movie i it walks the
 * users positive on i and, for each, that user's positive movies, counting
 * co-occurrences in a dense (nmovies,) int accumulator plus a list of the
 * entries touched (reset after each movie). Work is sum over users of
 * |pos(u)|^2 and memory O(nnz + threads * nmovies): ml-100k builds in tens
 * of milliseconds, ml-latest (33M ratings, 86k movies) in minutes because
 * heavy users dominate. Beyond that: cap each user's list (sample the
 * heaviest users, as Spark's ALS/DIMSUM does), or compute co-counts as a
 * sparse matrix product by blocks of movies, or use ALS / embedding
 * neighbours instead.
 */
#include "itemcf.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

void itemcf_opts_default(struct itemcf_opts *o)
{
    o->min_score = 4.0f;
    o->neighbours = 50;
    o->threads = 2;
}

struct csr {
    int64_t *start; /* (rows + 1,) */
    int *col;       /* (nnz,) */
};

struct build_job {
    const struct itemcf *cf;
    const struct csr *pos, *inv;
    int lo, hi;       /* movies [lo, hi) */
    int *acc;         /* (nmovies,) zeroed */
    int *touched;     /* (nmovies,) */
    struct cand *heap; /* (n,) */
};

static void *build_range(void *arg)
{
    struct build_job *j = arg;
    const struct itemcf *cf = j->cf;
    int n = cf->n;

    for (int i = j->lo; i < j->hi; i++) {
        int ntouched = 0, got = 0;
        for (int64_t a = j->inv->start[i]; a < j->inv->start[i + 1]; a++) {
            int u = j->inv->col[a];
            for (int64_t b = j->pos->start[u]; b < j->pos->start[u + 1]; b++) {
                int m = j->pos->col[b];
                if (j->acc[m]++ == 0)
                    j->touched[ntouched++] = m;
            }
        }
        for (int t = 0; t < ntouched; t++) {
            int m = j->touched[t];
            if (m != i) {
                struct cand c = {m, (float)(j->acc[m] / sqrt((double)cf->npos[i] * cf->npos[m])),
                                 -1};
                recall_heap_push(j->heap, &got, n, c);
            }
            j->acc[m] = 0;
        }
        recall_heap_sort(j->heap, got);
        cf->nn[i] = got;
        for (int t = 0; t < got; t++) {
            cf->nbr[(size_t)i * n + t] = j->heap[t].movie;
            cf->sim[(size_t)i * n + t] = j->heap[t].score;
        }
    }
    return NULL;
}

int itemcf_build(struct itemcf *cf, const struct itemcf_opts *o, int nusers, int nmovies,
                 const int64_t *user_start, const int *movie, const float *score,
                 struct error *err)
{
    struct itemcf_opts def;
    struct csr pos = {0}, inv = {0};
    struct build_job *jobs = NULL;
    pthread_t *tid = NULL;
    int64_t npos = 0;
    int nth, rc = 0;

    memset(cf, 0, sizeof(*cf));
    if (!o) {
        itemcf_opts_default(&def);
        o = &def;
    }
    if (nusers < 0 || nmovies < 0 || !user_start || o->neighbours < 1 || o->threads < 1)
        return error_set(err, ERR_USAGE, "itemcf: bad sizes or options");
    nth = o->threads > 64 ? 64 : o->threads;
    cf->nmovies = nmovies;
    cf->n = o->neighbours;
    cf->npos = calloc((size_t)nmovies + 1, sizeof(*cf->npos));
    cf->nn = calloc((size_t)nmovies + 1, sizeof(*cf->nn));
    cf->nbr = malloc(((size_t)nmovies * cf->n + 1) * sizeof(*cf->nbr));
    cf->sim = calloc((size_t)nmovies * cf->n + 1, sizeof(*cf->sim));
    pos.start = calloc((size_t)nusers + 1, sizeof(*pos.start));
    inv.start = calloc((size_t)nmovies + 1, sizeof(*inv.start));
    if (!cf->npos || !cf->nn || !cf->nbr || !cf->sim || !pos.start || !inv.start)
        goto nomem;
    for (size_t t = 0; t < (size_t)nmovies * cf->n; t++)
        cf->nbr[t] = -1;

    /* positive ratings: count, then fill both CSRs */
    for (int u = 0; u < nusers; u++) {
        for (int64_t r = user_start[u]; r < user_start[u + 1]; r++) {
            if (movie[r] < 0 || movie[r] >= nmovies) {
                rc = error_set(err, ERR_USAGE, "itemcf: movie index %d outside [0, %d)",
                               movie[r], nmovies);
                goto fail;
            }
            if (score[r] >= o->min_score) {
                cf->npos[movie[r]]++;
                npos++;
            }
        }
        pos.start[u + 1] = npos;
    }
    pos.col = malloc(((size_t)npos + 1) * sizeof(*pos.col));
    inv.col = malloc(((size_t)npos + 1) * sizeof(*inv.col));
    if (!pos.col || !inv.col)
        goto nomem;
    for (int m = 0; m < nmovies; m++)
        inv.start[m + 1] = inv.start[m] + cf->npos[m];
    {
        int64_t p = 0;
        int *fill = cf->nn; /* borrowed as the per-movie fill cursor, reset below */
        for (int u = 0; u < nusers; u++)
            for (int64_t r = user_start[u]; r < user_start[u + 1]; r++)
                if (score[r] >= o->min_score) {
                    pos.col[p++] = movie[r];
                    inv.col[inv.start[movie[r]] + fill[movie[r]]++] = u;
                }
        memset(cf->nn, 0, (size_t)nmovies * sizeof(*cf->nn));
    }

    jobs = calloc((size_t)nth, sizeof(*jobs));
    tid = calloc((size_t)nth, sizeof(*tid));
    if (!jobs || !tid)
        goto nomem;
    for (int t = 0; t < nth; t++) {
        struct build_job *j = &jobs[t];
        j->cf = cf;
        j->pos = &pos;
        j->inv = &inv;
        j->lo = (int)((int64_t)nmovies * t / nth);
        j->hi = (int)((int64_t)nmovies * (t + 1) / nth);
        j->acc = calloc((size_t)nmovies + 1, sizeof(*j->acc));
        j->touched = malloc(((size_t)nmovies + 1) * sizeof(*j->touched));
        j->heap = malloc((size_t)cf->n * sizeof(*j->heap));
        if (!j->acc || !j->touched || !j->heap)
            goto nomem;
    }
    {
        int started[64] = {0};
        for (int t = 1; t < nth; t++)
            if (pthread_create(&tid[t], NULL, build_range, &jobs[t]) == 0)
                started[t] = 1;
            else
                build_range(&jobs[t]); /* no thread: do it here */
        build_range(&jobs[0]);
        for (int t = 1; t < nth; t++)
            if (started[t])
                pthread_join(tid[t], NULL);
    }
    goto done;

nomem:
    rc = error_set(err, ERR_NOMEM, "itemcf: out of memory for %d movies", nmovies);
fail:
    itemcf_free(cf);
done:
    if (jobs)
        for (int t = 0; t < nth; t++) {
            free(jobs[t].acc);
            free(jobs[t].touched);
            free(jobs[t].heap);
        }
    free(jobs);
    free(tid);
    free(pos.start);
    free(pos.col);
    free(inv.start);
    free(inv.col);
    return rc;
}

void itemcf_free(struct itemcf *cf)
{
    free(cf->npos);
    free(cf->nn);
    free(cf->nbr);
    free(cf->sim);
    memset(cf, 0, sizeof(*cf));
}

int itemcf_neighbours(const struct itemcf *cf, int movie, const int **ids, const float **sims)
{
    if (movie < 0 || movie >= cf->nmovies) {
        *ids = NULL;
        *sims = NULL;
        return 0;
    }
    *ids = cf->nbr + (size_t)movie * cf->n;
    *sims = cf->sim + (size_t)movie * cf->n;
    return cf->nn[movie];
}

/* One neighbour seen from one liked movie: sorted by movie, then by the
 * order of the liked movie, so the merge below can pick `because`. */
struct hit {
    int movie, order;
    float sim;
};
_Static_assert(sizeof(struct cand) <= sizeof(struct hit), "cands are written over hits");

/* 1 when a sorts before b: by movie, then by the liked movie's order */
static int hit_before(const struct hit *a, const struct hit *b)
{
    return a->movie < b->movie || (a->movie == b->movie && a->order < b->order);
}

/* h (n,) into hit_before order: quicksort with the comparison inline (a
 * qsort call per comparison cost more than the rest of the channel);
 * (movie, order) pairs are distinct, so the order is the one qsort gave */
static void hit_sort(struct hit *h, int n)
{
    while (n > 16) {
        int mid = n / 2, st = 0;
        struct hit t;
        if (hit_before(&h[mid], &h[0]))
            t = h[mid], h[mid] = h[0], h[0] = t;
        if (hit_before(&h[n - 1], &h[0]))
            t = h[n - 1], h[n - 1] = h[0], h[0] = t;
        if (hit_before(&h[mid], &h[n - 1]))
            t = h[mid], h[mid] = h[n - 1], h[n - 1] = t;
        for (int i = 0; i < n - 1; i++) /* the pivot (the median of three) at n - 1 */
            if (hit_before(&h[i], &h[n - 1]))
                t = h[i], h[i] = h[st], h[st] = t, st++;
        t = h[n - 1], h[n - 1] = h[st], h[st] = t;
        if (st < n - st - 1) { /* recurse into the smaller part */
            hit_sort(h, st);
            h += st + 1;
            n -= st + 1;
        } else {
            hit_sort(h + st + 1, n - st - 1);
            n = st;
        }
    }
    for (int i = 1; i < n; i++) {
        struct hit c = h[i];
        int j = i;
        for (; j > 0 && hit_before(&c, &h[j - 1]); j--)
            h[j] = h[j - 1];
        h[j] = c;
    }
}

int itemcf_recommend(const struct itemcf *cf, const int *liked, const float *weight, int n_liked,
                     struct cand *out, int k, const uint8_t *exclude, int *nout,
                     struct error *err)
{
    struct hit *h;
    int nh = 0, got = 0;

    *nout = 0;
    if (n_liked <= 0 || k <= 0)
        return 0;
    /* O(n_liked * neighbours) memory and time, nothing per catalogue movie */
    h = malloc((size_t)n_liked * (size_t)(cf->n > 0 ? cf->n : 1) * sizeof(*h));
    if (!h)
        return error_set(err, ERR_NOMEM, "itemcf: out of memory");
    for (int l = 0; l < n_liked; l++) {
        const int *ids;
        const float *sims;
        int nn = itemcf_neighbours(cf, liked[l], &ids, &sims);
        for (int t = 0; t < nn; t++) {
            int m = ids[t], is_liked = 0;
            if (exclude && exclude[m])
                continue;
            for (int j = 0; j < n_liked && !is_liked; j++)
                is_liked = liked[j] == m;
            if (!is_liked)
                h[nh++] = (struct hit){m, l, weight ? weight[l] * sims[t] : sims[t]};
        }
    }
    hit_sort(h, nh);
    /* one candidate per movie, written over the hits already read (a
     * struct cand is no larger than a struct hit) */
    struct cand *c = (struct cand *)(void *)h;
    int nc = 0;
    for (int i = 0; i < nh;) {
        int j = i, because = liked[h[i].order], movie = h[i].movie;
        float acc = 0, best = h[i].sim;
        for (; j < nh && h[j].movie == movie; j++) {
            acc += h[j].sim; /* in liked order, as the dense sum was */
            if (h[j].sim > best) {
                best = h[j].sim;
                because = liked[h[j].order];
            }
        }
        c[nc++] = (struct cand){movie, acc, because};
        i = j;
    }
    recall_partial_sort(c, nc, k); /* distinct movies: what a heap of k kept */
    got = nc < k ? nc : k;
    memcpy(out, c, (size_t)got * sizeof(*out));
    *nout = got;
    free(h);
    return 0;
}
