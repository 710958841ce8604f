/*
 * popularity.c - most watched movies, overall and per genre (popularity.h).
 */
#include "popularity.h"

#include <stdlib.h>
#include <string.h>

#include "../util/banned.h"

int popularity_build(struct popularity *p, int nusers, int nmovies, const int64_t *user_start,
                     const int *movie, const float *score, float min_score, float damping,
                     struct error *err)
{
    double *sum = NULL, total = 0;
    int64_t nnz;
    int rc;

    memset(p, 0, sizeof(*p));
    if (nusers < 0 || nmovies < 0 || !user_start)
        return error_set(err, ERR_USAGE, "popularity: bad sizes");
    nnz = user_start[nusers];
    p->nmovies = nmovies;
    p->count = calloc((size_t)nmovies + 1, sizeof(*p->count));
    p->nrated = calloc((size_t)nmovies + 1, sizeof(*p->nrated));
    p->mean = calloc((size_t)nmovies + 1, sizeof(*p->mean));
    sum = calloc((size_t)nmovies + 1, sizeof(*sum));
    if (!p->count || !p->nrated || !p->mean || !sum) {
        rc = error_set(err, ERR_NOMEM, "popularity: out of memory for %d movies", nmovies);
        goto fail;
    }
    for (int64_t r = 0; r < nnz; r++) {
        int m = movie[r];
        if (m < 0 || m >= nmovies) {
            rc = error_set(err, ERR_USAGE, "popularity: movie index %d outside [0, %d)", m,
                           nmovies);
            goto fail;
        }
        p->nrated[m]++;
        sum[m] += score[r];
        total += score[r];
        if (score[r] >= min_score)
            p->count[m]++;
    }
    p->global_mean = nnz > 0 ? (float)(total / (double)nnz) : 0.0f;
    for (int m = 0; m < nmovies; m++) {
        double den = p->nrated[m] + (double)damping;
        p->mean[m] = den > 0 ? (float)((sum[m] + damping * (double)p->global_mean) / den)
                             : p->global_mean;
    }
    free(sum);
    return 0;
fail:
    free(sum);
    popularity_free(p);
    return rc;
}

void popularity_free(struct popularity *p)
{
    free(p->count);
    free(p->nrated);
    free(p->mean);
    memset(p, 0, sizeof(*p));
}

static int movie_has_genre(const int *g /* (maxg,) */, int maxg, int genre)
{
    for (int i = 0; i < maxg && g[i] >= 0; i++)
        if (g[i] == genre)
            return 1;
    return 0;
}

static int top(const struct popularity *p, const int *genres, int maxg, int genre,
               struct cand *out, int k, const uint8_t *exclude)
{
    int got = 0;
    for (int m = 0; m < p->nmovies; m++) {
        if (p->count[m] <= 0 || (exclude && exclude[m]))
            continue;
        if (genres && !movie_has_genre(genres + (size_t)m * maxg, maxg, genre))
            continue;
        struct cand c = {m, (float)p->count[m] + p->mean[m] / 10.0f, -1};
        recall_heap_push(out, &got, k, c);
    }
    recall_heap_sort(out, got);
    return got;
}

int popularity_top(const struct popularity *p, struct cand *out, int k, const uint8_t *exclude)
{
    return top(p, NULL, 0, -1, out, k, exclude);
}

int popularity_top_genre(const struct popularity *p, const int *genres, int maxg, int genre,
                         struct cand *out, int k, const uint8_t *exclude)
{
    return top(p, genres, maxg, genre, out, k, exclude);
}
