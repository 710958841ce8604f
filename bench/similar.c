/*
 * similar.c - similar-movie queries: the int8 scan + rescore of qindex.h
 * against the plain float scan it replaced in embed_similar (one sgemv
 * over every row + recall_topk), on one thread.
 *
 * N random unit vectors of DIM (an embed_index's rows); Q queries, each a
 * random row with itself skipped, k = 10, rescore RESCORE. Prints the
 * median and p99 latency of each side in ms, and how much of the exact
 * top-10 the int8 side returned. bench/similar.sh builds and runs it.
 *   build/bench/similar [N] [DIM] [Q] [RESCORE] [SEED]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/nn/nn.h"
#include "../src/recall/qindex.h"
#include "../src/recall/recall.h"

#define K 10

static uint64_t rng = 88172645463325252ULL;

static double uniform(void) /* (0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* sorts t (n,) and returns its q-quantile (nearest rank) */
static double quantile(double *t, int n, double q)
{
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    int i = (int)ceil(q * n) - 1;
    return t[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* the old embed_similar: scores (n,) = vec (n, dim) . q, row skipped */
static int float_scan(struct cand *out, const float *vec, int n, int dim, int row, float *scores)
{
    nn_sgemv(scores, vec, vec + (size_t)row * dim, n, dim, dim);
    scores[row] = NAN;
    return recall_topk(out, K, scores, n, NULL);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 62000;
    int dim = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 200;
    int nq = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 2000;
    int rescore = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 32;
    if (argc > 5)
        rng = strtoull(argv[5], NULL, 10) | 1;
    struct qindex qx;
    struct error err = {0};
    struct cand a[K], b[K];
    float *vec = malloc((size_t)n * dim * sizeof(float));
    float *scores = malloc((size_t)n * sizeof(float));
    double *tq = malloc((size_t)nq * sizeof(double)), *tf = malloc((size_t)nq * sizeof(double));
    double *tc = malloc((size_t)nq * sizeof(double));
    int *rows = malloc((size_t)nq * sizeof(int));
    void *scratch = NULL;
    long overlap = 0, exact = 0;

    if (n < 2 || dim < 1 || nq < 1 || !vec || !scores || !tq || !tf || !tc || !rows) {
        fprintf(stderr, "usage: similar [N>1] [DIM] [Q] [RESCORE] [SEED] (or out of memory)\n");
        return 1;
    }
    nn_blas_threads(1);
    for (int i = 0; i < n; i++) { /* gaussian rows, normalised */
        float *v = vec + (size_t)i * dim;
        double s = 0;
        for (int d = 0; d < dim; d++) {
            v[d] = (float)(sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()));
            s += (double)v[d] * v[d];
        }
        for (int d = 0; d < dim; d++)
            v[d] = (float)(v[d] / sqrt(s));
    }
    double t0 = now_ms();
    if (qindex_build(&qx, vec, n, dim, &err) ||
        posix_memalign(&scratch, 64, qindex_scratch_size(&qx)) != 0) {
        fprintf(stderr, "similar: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    double tbuild = now_ms() - t0;
    for (int i = 0; i < nq; i++)
        rows[i] = (int)(uniform() * n);

    /* each side in its own loop, as a server answering similar-movie
     * queries would run (its rows stay in cache between queries); then
     * the int8 side again with a float scan between its queries, which
     * evicts the int8 rows from L3 (a cold cache) */
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up */
        for (int i = 0; i < nq; i++) {
            t0 = now_ms();
            qindex_topk(&qx, vec + (size_t)rows[i] * dim, NULL, rows[i], K, rescore, a, scratch);
            tq[i] = now_ms() - t0;
        }
    }
    for (int i = 0; i < nq; i++) {
        t0 = now_ms();
        float_scan(b, vec, n, dim, rows[i], scores);
        tf[i] = now_ms() - t0;
    }
    for (int i = 0; i < nq; i++) {
        const float *q = vec + (size_t)rows[i] * dim;
        int gb = float_scan(b, vec, n, dim, rows[i], scores);
        t0 = now_ms();
        int ga = qindex_topk(&qx, q, NULL, rows[i], K, rescore, a, scratch);
        tc[i] = now_ms() - t0;
        int m = 0;
        for (int x = 0; x < ga; x++)
            for (int y = 0; y < gb; y++)
                m += a[x].movie == b[y].movie;
        overlap += m;
        exact += m == K;
    }
    printf("similar: %d x %d unit vectors, %d queries (a row, itself skipped), k=%d, rescore=%d,"
           " 1 thread; int8 build %.1f ms, %.1f MiB int8 vs %.1f MiB float\n",
           n, dim, nq, K, rescore, tbuild, (double)n * qx.stride / 1048576.0,
           (double)n * dim * 4 / 1048576.0);
    printf("%-26s %10s %10s %10s\n", "", "median ms", "p99 ms", "top-10");
    printf("%-26s %10.3f %10.3f %9.4f%%\n", "qindex int8 + rescore", quantile(tq, nq, 0.5),
           quantile(tq, nq, 0.99), 100.0 * (double)overlap / ((double)nq * K));
    printf("%-26s %10.3f %10.3f %9.4f%%\n", "  same, cold cache", quantile(tc, nq, 0.5),
           quantile(tc, nq, 0.99), 100.0 * (double)overlap / ((double)nq * K));
    printf("%-26s %10.3f %10.3f %9.4f%%\n", "float sgemv + recall_topk", quantile(tf, nq, 0.5),
           quantile(tf, nq, 0.99), 100.0);
    printf("queries with the exact top-10 set: %ld/%d\n", exact, nq);
    free(scratch);
    qindex_free(&qx);
    free(vec);
    free(scores);
    free(tq);
    free(tf);
    free(tc);
    free(rows);
    return 0;
}
