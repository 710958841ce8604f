/*
 * bundle_build.c - trains every recall channel of a bundle (bundle.h) from
 * a dataset's ratings: popularity, item-CF, ALS and the popular movies of
 * each demographic group.
 */
#include "bundle.h"

#include <stdlib.h>
#include <string.h>

void recall_bundle_opts_default(struct recall_bundle_opts *o)
{
    memset(o, 0, sizeof(*o));
    itemcf_opts_default(&o->cf);
    o->cf.min_score = 0; /* co-watched, not co-liked: measures better (EVALUATION.md) */
    als_opts_default(&o->als);
    o->pop_min_score = 0.0f;
    o->pop_damping = 10.0f;
    o->threads = 2;
    o->seed = 42;
}

/* The kept ratings as CSR by user: start (nusers + 1,), movie, score. */
struct csr {
    int64_t *start;
    int *movie;
    float *score;
    int64_t nnz;
};

static int csr_keep(struct csr *c, const struct dataset *d, const uint8_t *keep)
{
    int64_t n = 0;
    memset(c, 0, sizeof(*c));
    c->start = malloc(((size_t)d->nusers + 1) * sizeof(*c->start));
    c->movie = malloc(((size_t)d->nratings + 1) * sizeof(*c->movie));
    c->score = malloc(((size_t)d->nratings + 1) * sizeof(*c->score));
    if (!c->start || !c->movie || !c->score)
        return ERR_NOMEM;
    c->start[0] = 0;
    for (int u = 0; u < d->nusers; u++) {
        for (int64_t r = d->user_start[u]; r < d->user_start[u + 1]; r++)
            if (!keep || keep[r]) {
                c->movie[n] = d->r_movie[r];
                c->score[n++] = d->r_score[r];
            }
        c->start[u + 1] = n;
    }
    c->nnz = n;
    return 0;
}

static void csr_free(struct csr *c)
{
    free(c->start);
    free(c->movie);
    free(c->score);
}

/* group_top (BUNDLE_NGROUPS, BUNDLE_GROUP_K): per group, the movies most
 * rated by its users (ties: more ratings overall, then lower index). */
static int build_groups(struct recall_bundle *b, const struct dataset *d, const struct csr *c)
{
    int nm = d->nmovies;
    int *cnt = calloc((size_t)nm + 1, sizeof(*cnt));
    struct cand *heap = malloc(BUNDLE_GROUP_K * sizeof(*heap));
    b->group_top = malloc((size_t)BUNDLE_NGROUPS * BUNDLE_GROUP_K * sizeof(int));
    if (!cnt || !heap || !b->group_top) {
        free(cnt);
        free(heap);
        return ERR_NOMEM;
    }
    for (int g = 0; g < BUNDLE_NGROUPS; g++) {
        int nh = 0, *top = b->group_top + (size_t)g * BUNDLE_GROUP_K;
        memset(cnt, 0, (size_t)nm * sizeof(*cnt));
        for (int u = 1; u < d->nusers; u++)
            if (bundle_group(&d->users[u]) == g)
                for (int64_t r = c->start[u]; r < c->start[u + 1]; r++)
                    cnt[c->movie[r]]++;
        for (int m = 1; m < nm; m++)
            if (cnt[m] > 0) {
                /* overall count breaks ties, scaled below one group rating */
                float tie = (float)b->pop.count[m] / (float)(b->pop.count[m] + 1000);
                struct cand cd = {m, (float)cnt[m] + tie, -1};
                recall_heap_push(heap, &nh, BUNDLE_GROUP_K, cd);
            }
        recall_heap_sort(heap, nh);
        for (int k = 0; k < BUNDLE_GROUP_K; k++)
            top[k] = k < nh ? heap[k].movie : -1;
    }
    free(cnt);
    free(heap);
    return 0;
}

int recall_bundle_build(struct recall_bundle *b, const struct dataset *d, const uint8_t *keep,
                        const struct recall_bundle_opts *o, struct error *err)
{
    struct recall_bundle_opts def;
    struct csr c;
    int rc;

    memset(b, 0, sizeof(*b));
    if (!o) {
        recall_bundle_opts_default(&def);
        o = &def;
    }
    b->nusers = d->nusers;
    b->nmovies = d->nmovies;
    b->als_opts = o->als;
    if (csr_keep(&c, d, keep)) {
        csr_free(&c);
        return error_set(err, ERR_NOMEM, "out of memory for %lld ratings",
                         (long long)d->nratings);
    }
    b->nratings = c.nnz;
    rc = popularity_build(&b->pop, d->nusers, d->nmovies, c.start, c.movie, c.score,
                          o->pop_min_score, o->pop_damping, err);
    if (!rc) {
        struct itemcf_opts cf = o->cf;
        cf.threads = o->threads;
        rc = itemcf_build(&b->cf, &cf, d->nusers, d->nmovies, c.start, c.movie, c.score, err);
    }
    if (!rc)
        rc = als_train(&b->als, &o->als, d->nusers, d->nmovies, c.start, c.movie, c.score,
                       o->threads, o->seed, err);
    if (!rc && build_groups(b, d, &c))
        rc = error_set(err, ERR_NOMEM, "out of memory");
    csr_free(&c);
    if (rc)
        recall_bundle_free(b);
    return rc;
}
