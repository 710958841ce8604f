/*
 * qscan.c - latency of qindex_topk alone, one thread, as the recommend
 * pipeline's recall channels call it: N rows (62,000), reduced int8 tables
 * of rank R = 32 and 64 (and the full table for comparison), k = 100 and
 * 10, rescore -1 (no exact pass: ch_embed, ch_als) and 32 (similar
 * movies), with an exclude mask of ~150 random rows.
 *
 * Vectors: low-rank-ish, like a tower's output: x (DIM,) = z (24,) . M
 * (24, DIM) + small noise, z Gaussian per row, M one fixed Gaussian
 * matrix. Queries: fresh vectors of the same kind (not rows; skip = -1).
 *
 * Prints median and p99 in ms per configuration and a hash of every
 * returned (movie, score bits), so two builds can be checked to return
 * identical results.
 *
 *   build/bench/qscan [-n N] [-q Q] [-D DIM] [-S SEED]
 * bench/similar.sh builds it; QSCAN=1 bench/similar.sh runs it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/recall/qindex.h"
#include "../src/recall/recall.h"

#define LATENT 24
#define NEXCLUDE 150

static uint64_t rng = 88172645463325252ULL;

static double uniform(void) /* (0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static float normal(void)
{
    return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
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

/* out (n, dim) = z (n, LATENT) . m (LATENT, dim) + noise */
static void low_rank(float *out, const float *m, int n, int dim)
{
    float z[LATENT];
    for (int i = 0; i < n; i++) {
        for (int l = 0; l < LATENT; l++)
            z[l] = normal();
        for (int d = 0; d < dim; d++) {
            float s = 0.05f * normal();
            for (int l = 0; l < LATENT; l++)
                s += z[l] * m[(size_t)l * dim + d];
            out[(size_t)i * dim + d] = s;
        }
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

int main(int argc, char **argv)
{
    int n = 62000, nq = 2000, dim = 200, opt;
    unsigned seed = 1;
    while ((opt = getopt(argc, argv, "n:q:D:S:")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 'q': nq = atoi(optarg); break;
        case 'D': dim = atoi(optarg); break;
        case 'S': seed = (unsigned)atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-n N] [-q Q] [-D DIM] [-S SEED]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || nq < 1 || dim < 1)
        return 2;
    for (unsigned i = 0; i < seed; i++)
        uniform();

    float *m = malloc((size_t)LATENT * dim * sizeof(float));
    float *vec = malloc((size_t)n * dim * sizeof(float));
    float *qs = malloc((size_t)nq * dim * sizeof(float));
    uint8_t *exclude = calloc((size_t)n, 1);
    double *t = malloc((size_t)nq * sizeof(double));
    struct cand *out = malloc(200 * sizeof(struct cand));
    if (!m || !vec || !qs || !exclude || !t || !out)
        return 1;
    for (int i = 0; i < LATENT * dim; i++)
        m[i] = normal() / sqrtf((float)LATENT);
    low_rank(vec, m, n, dim);
    low_rank(qs, m, nq, dim);
    for (int i = 0; i < NEXCLUDE; i++)
        exclude[(int)(uniform() * n) % n] = 1;

    printf("qscan: n=%d dim=%d queries=%d, exclude ~%d rows, one thread\n", n, dim, nq,
           NEXCLUDE);
    printf("%-6s %5s %8s %10s %10s  %s\n", "rank", "k", "rescore", "median ms", "p99 ms",
           "hash");
    const int ranks[] = {32, 64, 0}; /* 0: the full table (qindex_build) */
    const int ks[] = {100, 10};
    const int rescores[] = {-1, 32};
    for (int ri = 0; ri < 3; ri++) {
        struct qindex qx;
        struct error err = {0};
        int rc = ranks[ri] ? qindex_build_reduced(&qx, vec, n, dim, ranks[ri], &err)
                           : qindex_build(&qx, vec, n, dim, &err);
        if (rc) {
            fprintf(stderr, "qindex build failed: %s\n", err.msg);
            return 1;
        }
        void *scratch = NULL;
        if (posix_memalign(&scratch, 64, qindex_scratch_size(&qx)) != 0)
            return 1;
        for (int ki = 0; ki < 2; ki++)
            for (int si = 0; si < 2; si++) {
                uint64_t h = 1469598103934665603ULL;
                for (int rep = -1; rep < 1; rep++) /* rep -1: warm-up */
                    for (int q = 0; q < nq; q++) {
                        double t0 = now_ms();
                        int got = qindex_topk(&qx, qs + (size_t)q * dim, exclude, -1, ks[ki],
                                              rescores[si], out, scratch);
                        t[q] = now_ms() - t0;
                        if (rep == 0)
                            for (int i = 0; i < got; i++) {
                                h = fnv(h, &out[i].movie, sizeof(out[i].movie));
                                h = fnv(h, &out[i].score, sizeof(out[i].score));
                            }
                    }
                double p99 = quantile(t, nq, 0.99), med = quantile(t, nq, 0.5);
                char rank[16];
                snprintf(rank, sizeof(rank), ranks[ri] ? "%d" : "full", ranks[ri]);
                printf("%-6s %5d %8d %10.4f %10.4f  %016llx\n", rank, ks[ki], rescores[si], med,
                       p99, (unsigned long long)h);
                fflush(stdout);
            }
        free(scratch);
        qindex_free(&qx);
    }
    free(m);
    free(vec);
    free(qs);
    free(exclude);
    free(t);
    free(out);
    return 0;
}
