/*
 * embed.c - the movie-tower vectors of every movie, and cosine neighbours.
 */
#include "embed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EMBED_BATCH 1024
#define EMBED_RESCORE 32 /* int8 candidates rescored beyond k (qindex.h) */
/* Rank of the int8 scan (qindex_build_reduced). Tower vectors keep 99.8%
 * of their variance in 64 directions; with the rescore of 32, r = 64
 * returns the same top-10 as the full int8 scan for every ml-100k movie
 * and for 2,000 of 62k synthetic movies (bench/similar.sh), and its
 * table (n x 64 bytes: 4 MB at 62k) stays in L3 where the full one
 * (n x 224) did not. 48 scans as many bytes (the stride is a multiple of
 * 32) for a little less quality; 96 scans 1.5x as many for none. */
#define EMBED_RANK 64

int embed_build(struct embed_index *ix, const struct model *m, const struct movie_feat *mf, int n,
                struct error *err)
{
    const int T = m->cfg.tower;
    struct model_acts *a = NULL;
    struct batch b;
    struct user_feat nobody = {0, 0, 0, 0};
    int rc;

    memset(ix, 0, sizeof(*ix));
    ix->vec = malloc((size_t)(n ? n : 1) * (size_t)T * sizeof(float));
    if (!ix->vec)
        return error_set(err, ERR_NOMEM, "out of memory for %d movie vectors", n);
    ix->n = n;
    ix->dim = T;
    if ((rc = model_acts_alloc(&a, m, EMBED_BATCH, err)))
        goto fail;
    if (batch_alloc(&b, EMBED_BATCH)) {
        rc = error_set(err, ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i += EMBED_BATCH) {
        int k = n - i < EMBED_BATCH ? n - i : EMBED_BATCH;
        b.B = k;
        for (int j = 0; j < k; j++)
            batch_set(&b, j, &nobody, &mf[i + j], 0);
        model_forward(m, a, &b, 0, NULL);
        memcpy(ix->vec + (size_t)i * T, model_movie_vectors(a), (size_t)k * T * sizeof(float));
    }
    batch_free(&b);
    model_acts_free(a);
    for (int i = 0; i < n; i++) {
        float *v = ix->vec + (size_t)i * T;
        double s = 0;
        for (int d = 0; d < T; d++)
            s += (double)v[d] * v[d];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int d = 0; d < T; d++)
                v[d] *= inv;
        }
    }
    if ((rc = qindex_build_reduced(&ix->qx, ix->vec, n, T, EMBED_RANK, err)))
        goto fail_built;
    return 0;
fail:
    model_acts_free(a);
fail_built:
    embed_free(ix);
    return rc;
}

void embed_free(struct embed_index *ix)
{
    qindex_free(&ix->qx);
    free(ix->vec);
    memset(ix, 0, sizeof(*ix));
}

size_t embed_scratch_size(const struct embed_index *ix)
{
    return qindex_scratch_size(&ix->qx);
}

int embed_similar(const struct embed_index *ix, int row, struct cand *out, int k, float *scratch)
{
    if (row < 0 || row >= ix->n || k < 1)
        return 0;
    return qindex_topk(&ix->qx, ix->vec + (size_t)row * ix->dim, NULL, row, k, EMBED_RESCORE, out,
                       scratch);
}
