/*
 * similar.c - similar-movie queries on one thread: the plain float scan
 * that embed_similar once used (one sgemv over every row + recall_topk),
 * the full-dimension int8 scan + exact rescore of qindex.h
 * (qindex_build), and the reduced int8 scan (qindex_build_reduced: the
 * rows projected onto their top R principal directions) + the same exact
 * rescore.
 *
 * Vectors: with -m MODELDIR -d DB, the movie-tower vectors of that model
 * (embed_build): the store's real movies first, and beyond them, up to N,
 * synthetic movies whose id, genres and title words each come from a
 * different random real movie (so every part is a trained embedding, in a
 * combination the catalogue does not have). Without a model, N random
 * Gaussian unit vectors (full rank: the worst case for the reduced scan,
 * and not what a tower produces).
 *
 * Latency: Q queries, each a random row with itself skipped, k = 10,
 * median and p99 in ms, each path in its own loop (warm cache), then the
 * int8 paths again with a float scan between queries (cold cache), and
 * the share of the exact top-10 each returned.
 * Quality (-Q): top-10 overlap with the exact top-10 for every row as the
 * query (Q random rows when N is larger), for R in {16, 32, 48, 64, 96,
 * full} and RESCORE in {0, 8, 32, 64, 128} (0 and 8 show the coarse
 * ranking itself); and top-100 overlap for "profile" queries
 * (the mean of 20 random rows, as the pipeline's embedding channel asks,
 * with its rescore of 32).
 *
 *   build/bench/similar [-m MODELDIR -d DB] [-n N] [-q Q] [-r R]
 *                       [-s RESCORE] [-S SEED] [-Q] [-D DIM]
 * bench/similar.sh builds and runs it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/model/features.h"
#include "../src/model/model.h"
#include "../src/model/modelfile.h"
#include "../src/nn/nn.h"
#include "../src/recall/embed.h"
#include "../src/recall/qindex.h"
#include "../src/recall/recall.h"
#include "../src/store/store.h"

#define K 10
#define KPROF 100

static uint64_t rng = 88172645463325252ULL;

static double uniform(void) /* (0, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static int rand_below(int n)
{
    int i = (int)(uniform() * n);
    return i >= n ? n - 1 : i;
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

/* the old embed_similar: scores (n,) = vec (n, dim) . q, row skipped (-1:
 * none); the exact top-k */
static int float_scan(struct cand *out, int k, const float *vec, int n, int dim, const float *q,
                      int row, float *scores)
{
    nn_sgemv(scores, vec, q, n, dim, dim);
    if (row >= 0)
        scores[row] = NAN;
    return recall_topk(out, k, scores, n, NULL);
}

static int overlap(const struct cand *a, int na, const struct cand *b, int nb)
{
    int m = 0;
    for (int x = 0; x < na; x++)
        for (int y = 0; y < nb; y++)
            m += a[x].movie == b[y].movie;
    return m;
}

/* returned rows of a (na,) outside the exact top-k b (nb,) whose exact
 * score ties b's last within 1e-6: the float scan broke the tie (or its
 * rounding did) differently, not a miss of the approximate scan */
static int tied_misses(const struct cand *a, int na, const struct cand *b, int nb)
{
    int t = 0;
    for (int x = 0; x < na; x++) {
        int in = 0;
        for (int y = 0; y < nb; y++)
            in |= a[x].movie == b[y].movie;
        t += !in && nb > 0 && fabsf(a[x].score - b[nb - 1].score) <= 1e-6f;
    }
    return t;
}

static void die(const char *what, const struct error *err)
{
    fprintf(stderr, "similar: %s: %s\n", what, err && err->msg[0] ? err->msg : "failed");
    exit(1);
}

/* vec (n, dim) of random Gaussian unit vectors (malloc'd) */
static float *gaussian_units(int n, int dim)
{
    float *vec = malloc((size_t)n * dim * sizeof(float));
    if (!vec)
        die("gaussian", NULL);
    for (int i = 0; i < n; i++) {
        float *v = vec + (size_t)i * dim;
        double s = 0;
        for (int d = 0; d < dim; d++) {
            v[d] = (float)(sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()));
            s += (double)v[d] * v[d];
        }
        for (int d = 0; d < dim; d++)
            v[d] = (float)(v[d] / sqrt(s));
    }
    return vec;
}

/* The tower vectors (n, *dim) of the model in mdir for the store's movies
 * and, past them up to n (0: just the real ones), synthetic movies mixed
 * from three random real ones. *nreal: how many are real. */
static float *tower_vectors(const char *mdir, const char *db, int *n, int *dim, int *nreal)
{
    struct error err = {0};
    struct store *s = NULL;
    struct model m;
    struct vocab v;
    int64_t *ids = NULL;
    struct movie_feat *mf = NULL;
    int nm = 0, ver = 0;
    struct embed_index ix;

    /* models/<label>/<version> or models/<label> (the latest) */
    char dir[4096];
    int want = 0;
    snprintf(dir, sizeof(dir), "%s", mdir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = 0;
    char *slash = strrchr(dir, '/');
    if (slash && slash[1] && strspn(slash + 1, "0123456789") == strlen(slash + 1)) {
        want = (int)strtol(slash + 1, NULL, 10);
        *slash = 0;
    }
    vocab_init(&v);
    if (modelfile_load(dir, want, &m, &v, &ver, &err))
        die(mdir, &err);
    if (store_open(&s, db, &err))
        die(db, &err);
    if (feat_load_movies(s, &v, &ids, &mf, &nm, &err))
        die("movies", &err);
    store_close(s);
    int total = *n > nm ? *n : nm;
    struct movie_feat *all = malloc((size_t)total * sizeof(*all));
    if (!all || nm < 1)
        die("features", NULL);
    memcpy(all, mf, (size_t)nm * sizeof(*mf));
    for (int i = nm; i < total; i++) {
        const struct movie_feat *a = &mf[rand_below(nm)], *b = &mf[rand_below(nm)],
                                *c = &mf[rand_below(nm)];
        all[i].movie = a->movie;
        memcpy(all[i].genres, b->genres, sizeof(b->genres));
        memcpy(all[i].words, c->words, sizeof(c->words));
    }
    if (embed_build(&ix, &m, all, total, &err))
        die("embed_build", &err);
    float *vec = ix.vec; /* keep the vectors, drop the index */
    ix.vec = NULL;
    *dim = ix.dim;
    embed_free(&ix);
    *n = total;
    *nreal = nm;
    free(all);
    free(mf);
    free(ids);
    model_free(&m);
    vocab_free(&v);
    return vec;
}

static void *scratch_for(const struct qindex *qx)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, qindex_scratch_size(qx)) != 0)
        die("scratch", NULL);
    return p;
}

/* The quality grid: top-10 overlap over nq row queries (rows (nq,)) for
 * each R and RESCORE, and top-100 overlap for profile queries. */
static void quality(const float *vec, int n, int dim, const int *rows, int nq, float *scores)
{
    static const int rs[] = {16, 32, 48, 64, 96, 0}, ss[] = {0, 8, 32, 64, 128};
    const int nr = (int)(sizeof(rs) / sizeof(rs[0])), ns = (int)(sizeof(ss) / sizeof(ss[0]));
    const int nprof = nq < 500 ? nq : 500;
    struct cand *ref = malloc((size_t)nq * K * sizeof(*ref)), a[KPROF], b[KPROF];
    float *prof = malloc((size_t)nprof * dim * sizeof(float));
    struct cand *pref = malloc((size_t)nprof * KPROF * sizeof(*pref));
    struct error err = {0};
    if (!ref || !prof || !pref)
        die("quality", NULL);
    for (int i = 0; i < nq; i++)
        float_scan(ref + (size_t)i * K, K, vec, n, dim, vec + (size_t)rows[i] * dim, rows[i],
                   scores);
    for (int i = 0; i < nprof; i++) { /* the mean of 20 random rows */
        float *p = prof + (size_t)i * dim;
        memset(p, 0, (size_t)dim * sizeof(float));
        for (int j = 0; j < 20; j++) {
            const float *x = vec + (size_t)rand_below(n) * dim;
            for (int d = 0; d < dim; d++)
                p[d] += x[d] / 20;
        }
        float_scan(pref + (size_t)i * KPROF, KPROF, vec, n, dim, p, -1, scores);
    }
    printf("quality: top-%d overlap with the exact top-%d, %d row queries; top-%d for %d"
           " profile queries (rescore 32)\n",
           K, K, nq, KPROF, nprof);
    printf("%-6s %9s", "r", "build ms");
    for (int j = 0; j < ns; j++)
        printf("  rescore %-3d", ss[j]);
    printf("  %s\n", "all-10 @32   profile@100");
    for (int i = 0; i < nr; i++) {
        struct qindex qx;
        double t0 = now_ms();
        int rc = rs[i] ? qindex_build_reduced(&qx, vec, n, dim, rs[i], &err)
                       : qindex_build(&qx, vec, n, dim, &err);
        double tb = now_ms() - t0;
        if (rc)
            die("build", &err);
        void *scratch = scratch_for(&qx);
        char name[16];
        snprintf(name, sizeof(name), rs[i] ? "%d" : "full", rs[i]);
        printf("%-6s %9.1f", name, tb);
        long exact32 = 0, ties = 0;
        for (int j = 0; j < ns; j++) {
            long ov = 0;
            for (int q = 0; q < nq; q++) {
                int got = qindex_topk(&qx, vec + (size_t)rows[q] * dim, NULL, rows[q], K, ss[j],
                                      a, scratch);
                int m = overlap(a, got, ref + (size_t)q * K, K);
                ov += m;
                if (ss[j] == 128)
                    ties += tied_misses(a, got, ref + (size_t)q * K, K);
                if (ss[j] == 32)
                    exact32 += m == K;
            }
            printf("  %10.3f%%", 100.0 * (double)ov / ((double)nq * K));
        }
        long pov = 0;
        for (int q = 0; q < nprof; q++) {
            int got = qindex_topk(&qx, prof + (size_t)q * dim, NULL, -1, KPROF, 32, b, scratch);
            pov += overlap(b, got, pref + (size_t)q * KPROF, KPROF);
        }
        printf("  %6.2f%%  %11.4f%%   (%ld ties @128)\n", 100.0 * (double)exact32 / nq,
               100.0 * (double)pov / ((double)nprof * KPROF), ties);
        free(scratch);
        qindex_free(&qx);
    }
    free(ref);
    free(prof);
    free(pref);
}

/* Explained variance of the top r principal directions, for the header. */
static void spectrum(const float *vec, int n, int dim)
{
    if (dim > QINDEX_EIG_MAX_DIM || n < 2)
        return;
    double *a = calloc((size_t)dim * dim, sizeof(double)), *vt = malloc((size_t)dim * dim * 8);
    double *w = malloc((size_t)dim * sizeof(double)), *mean = calloc((size_t)dim, sizeof(double));
    if (!a || !vt || !w || !mean)
        die("spectrum", NULL);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            mean[d] += vec[(size_t)i * dim + d] / (double)n;
    float *xc = malloc((size_t)1024 * dim * sizeof(float));
    float *cov = calloc((size_t)dim * dim, sizeof(float));
    if (!xc || !cov)
        die("spectrum", NULL);
    for (int r0 = 0; r0 < n; r0 += 1024) { /* cov += xc^T xc / n, 1024 rows a time */
        int nb = n - r0 < 1024 ? n - r0 : 1024;
        for (int i = 0; i < nb; i++)
            for (int d = 0; d < dim; d++)
                xc[(size_t)i * dim + d] = (float)(vec[(size_t)(r0 + i) * dim + d] - mean[d]);
        nn_sgemm(1, 0, dim, dim, nb, 1.0f / (float)n, xc, dim, xc, dim, 1.0f, cov, dim);
    }
    for (size_t i = 0; i < (size_t)dim * dim; i++)
        a[i] = cov[i];
    double t0 = now_ms();
    int sweeps = qindex_eig_sym(w, vt, a, dim);
    double te = now_ms() - t0;
    double tot = 0, acc = 0;
    for (int d = 0; d < dim; d++)
        tot += w[d] > 0 ? w[d] : 0;
    printf("covariance spectrum (Jacobi: %d sweeps, %.0f ms): variance in the top", sweeps, te);
    for (int d = 0; d < dim; d++) {
        acc += w[d] > 0 ? w[d] : 0;
        if (d + 1 == 10 || d + 1 == 32 || d + 1 == 48 || d + 1 == 64 || d + 1 == 96 ||
            d + 1 == 128)
            printf(" %d: %.4f", d + 1, acc / tot);
    }
    printf("\n");
    free(a);
    free(vt);
    free(w);
    free(mean);
    free(xc);
    free(cov);
}

int main(int argc, char **argv)
{
    const char *mdir = NULL, *db = NULL;
    int n = 0, dim = 200, nq = 2000, rescore = 32, rdim = 64, do_quality = 0, nreal = 0, opt;
    while ((opt = getopt(argc, argv, "m:d:n:q:r:s:S:QD:")) != -1) {
        switch (opt) {
        case 'm': mdir = optarg; break;
        case 'd': db = optarg; break;
        case 'n': n = (int)strtol(optarg, NULL, 10); break;
        case 'q': nq = (int)strtol(optarg, NULL, 10); break;
        case 'r': rdim = (int)strtol(optarg, NULL, 10); break;
        case 's': rescore = (int)strtol(optarg, NULL, 10); break;
        case 'S': rng = strtoull(optarg, NULL, 10) * 2 + 1; break; /* odd: never 0 */
        case 'Q': do_quality = 1; break;
        case 'D': dim = (int)strtol(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: similar [-m MODELDIR -d DB] [-n N] [-q Q] [-r R] [-s RESCORE]"
                            " [-S SEED] [-Q] [-D DIM]\n");
            return 1;
        }
    }
    if ((mdir == NULL) != (db == NULL) || nq < 1 || rdim < 1 || (!mdir && n < 2)) {
        fprintf(stderr, "similar: -m and -d go together; N > 1 without them\n");
        return 1;
    }
    nn_blas_threads(1);
    float *vec;
    double t0 = now_ms();
    if (mdir) {
        vec = tower_vectors(mdir, db, &n, &dim, &nreal);
    } else {
        vec = gaussian_units(n, dim);
    }
    double tvec = now_ms() - t0;
    if (nq > n && do_quality)
        nq = n;
    float *scores = malloc((size_t)n * sizeof(float));
    double *tf = malloc((size_t)nq * sizeof(double)), *tq = malloc((size_t)nq * sizeof(double));
    double *tr = malloc((size_t)nq * sizeof(double)), *tqc = malloc((size_t)nq * sizeof(double));
    double *trc = malloc((size_t)nq * sizeof(double));
    int *rows = malloc((size_t)nq * sizeof(int));
    if (!scores || !tf || !tq || !tr || !tqc || !trc || !rows)
        die("memory", NULL);
    if (mdir)
        printf("similar: %d x %d movie-tower vectors of %s (%d real movies, %d synthetic), %.0f ms"
               " to make\n",
               n, dim, mdir, nreal, n - nreal, tvec);
    else
        printf("similar: %d x %d random Gaussian unit vectors (full rank)\n", n, dim);
    spectrum(vec, n, dim);
    /* rows: all of them when there are few enough (quality), else random */
    for (int i = 0; i < nq; i++)
        rows[i] = do_quality && nq == n ? i : rand_below(n);
    if (do_quality) {
        quality(vec, n, dim, rows, nq, scores);
        printf("\n");
    }

    struct qindex qf, qr;
    struct error err = {0};
    t0 = now_ms();
    if (qindex_build(&qf, vec, n, dim, &err))
        die("build", &err);
    double tbf = now_ms() - t0;
    t0 = now_ms();
    if (qindex_build_reduced(&qr, vec, n, dim, rdim, &err))
        die("build", &err);
    double tbr = now_ms() - t0;
    void *sf = scratch_for(&qf), *sr = scratch_for(&qr);
    struct cand a[K], b[K];
    long ovq = 0, ovr = 0, exq = 0, exr = 0;
    for (int i = 0; i < nq; i++)
        rows[i] = rand_below(n);

    /* each path in its own loop (pass 0 warms up), as a server answering
     * only similar-movie queries would run; then the int8 paths with a
     * float scan before each query, which evicts their rows (cold) */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nq; i++) {
            t0 = now_ms();
            qindex_topk(&qf, vec + (size_t)rows[i] * dim, NULL, rows[i], K, rescore, a, sf);
            tq[i] = now_ms() - t0;
        }
        for (int i = 0; i < nq; i++) {
            t0 = now_ms();
            qindex_topk(&qr, vec + (size_t)rows[i] * dim, NULL, rows[i], K, rescore, a, sr);
            tr[i] = now_ms() - t0;
        }
    }
    for (int i = 0; i < nq; i++) {
        t0 = now_ms();
        float_scan(b, K, vec, n, dim, vec + (size_t)rows[i] * dim, rows[i], scores);
        tf[i] = now_ms() - t0;
    }
    for (int i = 0; i < nq; i++) {
        const float *q = vec + (size_t)rows[i] * dim;
        int gb = float_scan(b, K, vec, n, dim, q, rows[i], scores);
        t0 = now_ms();
        int ga = qindex_topk(&qf, q, NULL, rows[i], K, rescore, a, sf);
        tqc[i] = now_ms() - t0;
        int m = overlap(a, ga, b, gb);
        ovq += m;
        exq += m == K;
        float_scan(b, K, vec, n, dim, q, rows[i], scores);
        t0 = now_ms();
        ga = qindex_topk(&qr, q, NULL, rows[i], K, rescore, a, sr);
        trc[i] = now_ms() - t0;
        m = overlap(a, ga, b, gb);
        ovr += m;
        exr += m == K;
    }
    printf("latency: %d queries (a row, itself skipped), k=%d, rescore=%d, 1 thread; builds:"
           " full int8 %.1f ms (%.1f MiB), r=%d %.1f ms (%.1f MiB); float rows %.1f MiB\n",
           nq, K, rescore, tbf, (double)n * qf.stride / 1048576.0, qr.r, tbr,
           (double)n * qr.stride / 1048576.0, (double)n * dim * 4 / 1048576.0);
    printf("%-28s %10s %10s %10s %10s\n", "", "median ms", "p99 ms", "top-10", "all-10");
    char name[64];
    printf("%-28s %10.3f %10.3f %9.4f%% %9.2f%%\n", "int8 full + rescore", quantile(tq, nq, 0.5),
           quantile(tq, nq, 0.99), 100.0 * (double)ovq / ((double)nq * K), 100.0 * exq / nq);
    printf("%-28s %10.3f %10.3f\n", "  same, cold cache", quantile(tqc, nq, 0.5),
           quantile(tqc, nq, 0.99));
    snprintf(name, sizeof(name), "int8 r=%d + rescore", qr.r);
    printf("%-28s %10.3f %10.3f %9.4f%% %9.2f%%\n", name, quantile(tr, nq, 0.5),
           quantile(tr, nq, 0.99), 100.0 * (double)ovr / ((double)nq * K), 100.0 * exr / nq);
    printf("%-28s %10.3f %10.3f\n", "  same, cold cache", quantile(trc, nq, 0.5),
           quantile(trc, nq, 0.99));
    printf("%-28s %10.3f %10.3f %9.4f%% %9.2f%%\n", "float sgemv + recall_topk",
           quantile(tf, nq, 0.5), quantile(tf, nq, 0.99), 100.0, 100.0);
    free(sf);
    free(sr);
    qindex_free(&qf);
    qindex_free(&qr);
    free(vec);
    free(scores);
    free(tf);
    free(tq);
    free(tr);
    free(tqc);
    free(trc);
    free(rows);
    return 0;
}
