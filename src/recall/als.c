/*
 * als.c - implicit-feedback ALS (als.h).
 *
 * Per half-step, for the side being solved (rows X, the other side Y with
 * ny rows): G = Y^T Y once (F, F); then per row u with interactions I_u
 *   A = G + lambda I + sum_{i in I_u} (c_i - 1) y_i y_i^T   (lower triangle)
 *   b = sum_{i in I_u} c_i y_i
 * and x_u = A^-1 b by Cholesky. Cost per iteration: nnz F^2 (two halves,
 * lower triangle) plus (nusers + nmovies) F^3 / 6. Threads take
 * contiguous row ranges, each with its own A and b; every row is solved
 * independently, so results do not depend on the thread count.
 */
#include "als.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../nn/nn.h"
#include "../util/banned.h"

/* interactions per nn_sgemm update of a row's system */
#define ALS_CHUNK 256

void als_opts_default(struct als_opts *o)
{
    o->factors = 64;
    o->iterations = 15;
    o->lambda = 0.1f;
    o->alpha = 10.0f;
    o->use_score = 0;
    o->min_score = 0.0f;
}

/* row[0..len) -= s * src[0..len): blocks of 8 so that -O2 (GCC's
 * very-cheap vectorizer, SLP) turns them into vector code. */
static void axpy_neg(float *restrict row, const float *restrict src, float s, int len)
{
    int j = 0;
    for (; j + 8 <= len; j += 8)
        for (int t = 0; t < 8; t++)
            row[j + t] -= s * src[j + t];
    for (; j < len; j++)
        row[j] -= s * src[j];
}

/* z = s * y and b += c * y, over (f,), in blocks of 8 as above. */
static void gather_row(float *restrict z, float *restrict b, const float *restrict y, float s,
                       float c, int f)
{
    int p = 0;
    for (; p + 8 <= f; p += 8)
        for (int t = 0; t < 8; t++) {
            z[p + t] = s * y[p + t];
            b[p + t] += c * y[p + t];
        }
    for (; p < f; p++) {
        z[p] = s * y[p];
        b[p] += c * y[p];
    }
}

/* Right-looking (outer-product) form: after step k, row k holds U's row
 * and the trailing upper triangle holds the Schur complement. */
int als_cholesky(float *a, int n)
{
    for (int k = 0; k < n; k++) {
        float *ak = a + (size_t)k * n;
        float d = ak[k];
        if (!(d > 0.0f) || !isfinite(d))
            return ERR_INTEGRITY;
        float ukk = sqrtf(d), inv = 1.0f / ukk;
        ak[k] = ukk;
        for (int j = k + 1; j < n; j++)
            ak[j] *= inv;
        for (int i = k + 1; i < n; i++)
            axpy_neg(a + (size_t)i * n + i, ak + i, ak[i], n - i);
    }
    return 0;
}

void als_cholesky_solve(const float *u, float *x, int n)
{
    for (int k = 0; k < n; k++) { /* U^T z = b, by rows of U */
        const float *uk = u + (size_t)k * n;
        x[k] /= uk[k];
        axpy_neg(x + k + 1, uk + k + 1, x[k], n - k - 1);
    }
    for (int i = n - 1; i >= 0; i--) { /* U x = z */
        double s = x[i];
        for (int k = i + 1; k < n; k++)
            s -= (double)u[(size_t)i * n + k] * x[k];
        x[i] = (float)(s / u[(size_t)i * n + i]);
    }
}

/* CSR of one side: rows' interactions (col) with confidence c - 1. */
struct side {
    int64_t *start; /* (rows + 1,) */
    int *col;       /* (nnz,) */
    float *cm1;     /* (nnz,) alpha * r */
};

struct solve_job {
    float *x;          /* (rows, F) out */
    const float *y;    /* (ny, F) */
    const float *g;    /* (F, F) Y^T Y + lambda I */
    const struct side *s;
    int lo, hi, f;
    float *a, *b, *z;  /* scratch (F, F), (F,), (ALS_CHUNK, F) */
    int rc;
};

static void *solve_rows(void *arg)
{
    struct solve_job *j = arg;
    int f = j->f;
    float *a = j->a, *b = j->b;

    for (int u = j->lo; u < j->hi; u++) {
        float *xu = j->x + (size_t)u * f;
        int64_t s0 = j->s->start[u], s1 = j->s->start[u + 1];
        if (s0 == s1) { /* b = 0 so x = 0 */
            memset(xu, 0, (size_t)f * sizeof(*xu));
            continue;
        }
        memcpy(a, j->g, (size_t)f * f * sizeof(*a));
        memset(b, 0, (size_t)f * sizeof(*b));
        /* A += Z^T Z by chunks of ALS_CHUNK rows, Z row = sqrt(c - 1) y_i */
        for (int64_t c0 = s0; c0 < s1; c0 += ALS_CHUNK) {
            int nc = (int)(s1 - c0 < ALS_CHUNK ? s1 - c0 : ALS_CHUNK);
            for (int r = 0; r < nc; r++) {
                const float *yi = j->y + (size_t)j->s->col[c0 + r] * f;
                float w = j->s->cm1[c0 + r], sw = sqrtf(w), *zr = j->z + (size_t)r * f;
                gather_row(zr, b, yi, sw, w + 1.0f, f);
            }
            nn_sgemm(1, 0, f, f, nc, 1.0f, j->z, f, j->z, f, 1.0f, a, f); /* (F, F) */
        }
        if (als_cholesky(a, f) != 0) {
            j->rc = ERR_INTEGRITY;
            return NULL;
        }
        als_cholesky_solve(a, b, f);
        memcpy(xu, b, (size_t)f * sizeof(*xu));
    }
    return NULL;
}

/* x (rows, F) from y (ny, F); jobs (threads,) hold the scratch. */
static int half_step(float *x, int rows, const float *y, int ny, const struct side *s, int f,
                     float lambda, float *g, struct solve_job *jobs, int threads)
{
    pthread_t tid[64];
    int started[64] = {0}, rc = 0;

    nn_sgemm(1, 0, f, f, ny, 1.0f, y, f, y, f, 0.0f, g, f); /* (F, F) = Y^T Y */
    for (int p = 0; p < f; p++)
        g[(size_t)p * f + p] += lambda;
    for (int t = 0; t < threads; t++) {
        struct solve_job *j = &jobs[t];
        j->x = x;
        j->y = y;
        j->g = g;
        j->s = s;
        j->f = f;
        j->lo = (int)((int64_t)rows * t / threads);
        j->hi = (int)((int64_t)rows * (t + 1) / threads);
        j->rc = 0;
    }
    for (int t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, solve_rows, &jobs[t]) == 0)
            started[t] = 1;
        else
            solve_rows(&jobs[t]); /* no thread: do it here */
    solve_rows(&jobs[0]);
    for (int t = 1; t < threads; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    for (int t = 0; t < threads; t++)
        if (jobs[t].rc)
            rc = jobs[t].rc;
    return rc;
}

static void side_free(struct side *s)
{
    free(s->start);
    free(s->col);
    free(s->cm1);
}

int als_train(struct als *a, const struct als_opts *o, int nusers, int nmovies,
              const int64_t *user_start, const int *movie, const float *score, int threads,
              uint64_t seed, struct error *err)
{
    struct als_opts def;
    struct side us = {0}, ms = {0};
    struct solve_job jobs[64];
    float *g = NULL;
    int64_t nnz = 0;
    int f, rc = 0, *fill = NULL;

    memset(a, 0, sizeof(*a));
    memset(jobs, 0, sizeof(jobs));
    if (!o) {
        als_opts_default(&def);
        o = &def;
    }
    if (nusers < 0 || nmovies < 0 || !user_start || o->factors < 1 || o->factors > 4096 ||
        o->iterations < 0 || !(o->lambda > 0) || !(o->alpha >= 0) || threads < 1)
        return error_set(err, ERR_USAGE, "als: bad sizes or options");
    if (threads > 64)
        threads = 64;
    if (threads > 1)
        nn_blas_threads(1); /* our threads split the rows; OpenBLAS must not fight them */
    f = o->factors;
    a->nusers = nusers;
    a->nmovies = nmovies;
    a->f = f;
    a->user = calloc((size_t)nusers * f + 1, sizeof(float));
    a->item = calloc((size_t)nmovies * f + 1, sizeof(float));
    g = malloc((size_t)f * f * sizeof(*g));
    us.start = calloc((size_t)nusers + 1, sizeof(int64_t));
    ms.start = calloc((size_t)nmovies + 1, sizeof(int64_t));
    fill = calloc((size_t)nmovies + 1, sizeof(*fill));
    if (!a->user || !a->item || !g || !us.start || !ms.start || !fill)
        goto nomem;

    /* the kept interactions, by user and by movie */
    for (int u = 0; u < nusers; u++) {
        for (int64_t r = user_start[u]; r < user_start[u + 1]; r++) {
            if (movie[r] < 0 || movie[r] >= nmovies) {
                rc = error_set(err, ERR_USAGE, "als: movie index %d outside [0, %d)", movie[r],
                               nmovies);
                goto fail;
            }
            if (score[r] >= o->min_score) {
                if (o->use_score && score[r] < 0) {
                    rc = error_set(err, ERR_USAGE,
                                   "als: negative score %g cannot be a confidence", score[r]);
                    goto fail;
                }
                nnz++;
                fill[movie[r]]++;
            }
        }
        us.start[u + 1] = nnz;
    }
    for (int m = 0; m < nmovies; m++) {
        ms.start[m + 1] = ms.start[m] + fill[m];
        fill[m] = 0;
    }
    us.col = malloc(((size_t)nnz + 1) * sizeof(int));
    us.cm1 = malloc(((size_t)nnz + 1) * sizeof(float));
    ms.col = malloc(((size_t)nnz + 1) * sizeof(int));
    ms.cm1 = malloc(((size_t)nnz + 1) * sizeof(float));
    if (!us.col || !us.cm1 || !ms.col || !ms.cm1)
        goto nomem;
    {
        int64_t p = 0;
        for (int u = 0; u < nusers; u++)
            for (int64_t r = user_start[u]; r < user_start[u + 1]; r++) {
                int m = movie[r];
                float cm1;
                if (!(score[r] >= o->min_score))
                    continue;
                cm1 = o->alpha * (o->use_score ? score[r] : 1.0f);
                us.col[p] = m;
                us.cm1[p++] = cm1;
                int64_t q = ms.start[m] + fill[m]++;
                ms.col[q] = u;
                ms.cm1[q] = cm1;
            }
    }

    for (int t = 0; t < threads; t++) {
        jobs[t].a = malloc((size_t)f * f * sizeof(float));
        jobs[t].b = malloc((size_t)f * sizeof(float));
        jobs[t].z = malloc((size_t)ALS_CHUNK * f * sizeof(float));
        if (!jobs[t].a || !jobs[t].b || !jobs[t].z)
            goto nomem;
    }

    {
        uint64_t st = seed ? seed : 0x9e3779b97f4a7c15ull;
        float sd = 0.1f / sqrtf((float)f);
        for (size_t i = 0; i < (size_t)nmovies * f; i++)
            a->item[i] = sd * nn_rng_normal(&st);
    }
    for (int it = 0; it < o->iterations; it++) {
        rc = half_step(a->user, nusers, a->item, nmovies, &us, f, o->lambda, g, jobs, threads);
        if (!rc)
            rc = half_step(a->item, nmovies, a->user, nusers, &ms, f, o->lambda, g, jobs,
                           threads);
        if (rc) {
            rc = error_set(err, ERR_INTEGRITY,
                           "als: a system is not positive definite in iteration %d", it + 1);
            goto fail;
        }
    }
    goto done;

nomem:
    rc = error_set(err, ERR_NOMEM, "als: out of memory for %d users, %d movies, %d factors",
                   nusers, nmovies, f);
fail:
    als_free(a);
done:
    for (int t = 0; t < 64; t++) {
        free(jobs[t].a);
        free(jobs[t].b);
        free(jobs[t].z);
    }
    free(g);
    free(fill);
    side_free(&us);
    side_free(&ms);
    return rc;
}

void als_free(struct als *a)
{
    free(a->user);
    free(a->item);
    memset(a, 0, sizeof(*a));
}

void als_score_user(const struct als *a, int u, float *scores)
{
    if (u < 0 || u >= a->nusers) {
        memset(scores, 0, (size_t)a->nmovies * sizeof(*scores));
        return;
    }
    if (a->nmovies == 0)
        return;
    /* (1, nmovies) = (1, F) . (nmovies, F)^T */
    nn_sgemm(0, 1, 1, a->nmovies, a->f, 1.0f, a->user + (size_t)u * a->f, a->f, a->item, a->f,
             0.0f, scores, a->nmovies);
}

void als_gram(const struct als *a, float *g)
{
    const int f = a->f;
    if (a->nmovies == 0) {
        memset(g, 0, (size_t)f * f * sizeof(*g));
        return;
    }
    nn_sgemm(1, 0, f, f, a->nmovies, 1.0f, a->item, f, a->item, f, 0.0f, g, f); /* (F, F) */
}

int als_fold_in(const struct als *a, const struct als_opts *o, const float *g, const int *movie,
                const float *score, int n, float *x, float *scratch)
{
    const int f = a->f;
    float *A = scratch, *z = scratch + (size_t)f * f;
    int nz = 0, used = 0;

    memcpy(A, g, (size_t)f * f * sizeof(*A));
    for (int p = 0; p < f; p++)
        A[(size_t)p * f + p] += o->lambda;
    memset(x, 0, (size_t)f * sizeof(*x));
    /* A += Z^T Z by chunks, Z row = sqrt(c - 1) y_i; x accumulates b */
    for (int i = 0; i < n; i++) {
        int m = movie[i];
        float cm1;
        if (m < 0 || m >= a->nmovies || !(score[i] >= o->min_score))
            continue;
        cm1 = o->alpha * (o->use_score ? score[i] : 1.0f);
        gather_row(z + (size_t)nz * f, x, a->item + (size_t)m * f, sqrtf(cm1), cm1 + 1.0f, f);
        used++;
        if (++nz == ALS_FOLD_CHUNK) {
            nn_sgemm(1, 0, f, f, nz, 1.0f, z, f, z, f, 1.0f, A, f);
            nz = 0;
        }
    }
    if (nz)
        nn_sgemm(1, 0, f, f, nz, 1.0f, z, f, z, f, 1.0f, A, f);
    if (!used)
        return 0;
    if (als_cholesky(A, f) != 0) {
        memset(x, 0, (size_t)f * sizeof(*x));
        return ERR_INTEGRITY;
    }
    als_cholesky_solve(A, x, f);
    return 0;
}
