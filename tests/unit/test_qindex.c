/*
 * test_qindex.c - the int8 inner-product index (src/recall/qindex.h):
 * exact answers on tiny hand-made blocks (order, ties, exclude, skip, k
 * beyond n, no rows, zero vectors, dims that are not a multiple of 32),
 * agreement with the brute-force float top-k on random unit vectors, and
 * the AVX2 kernel against the plain C one.
 */
#include "testutil.h"

#include <math.h>

#include "../../src/recall/qindex.h"
#include "../../src/recall/recall.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static float rng_uniform(void) /* (0, 1) */
{
    return ((float)(rng_u32() >> 8) + 0.5f) / 16777216.0f;
}

static float rng_normal(void)
{
    return sqrtf(-2.0f * logf(rng_uniform())) * cosf(6.2831853f * rng_uniform());
}

/* vec (n, dim) of random unit vectors */
static float *random_units(int n, int dim)
{
    float *v = malloc((size_t)n * dim * sizeof(float));
    assert_non_null(v);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int d = 0; d < dim; d++) {
            v[(size_t)i * dim + d] = rng_normal();
            s += (double)v[(size_t)i * dim + d] * v[(size_t)i * dim + d];
        }
        for (int d = 0; d < dim; d++)
            v[(size_t)i * dim + d] = (float)(v[(size_t)i * dim + d] / sqrt(s));
    }
    return v;
}

static void *scratch_for(const struct qindex *qx)
{
    void *p = NULL;
    assert_int_equal(posix_memalign(&p, 64, qindex_scratch_size(qx)), 0);
    return p;
}

/* The brute-force answer: every eligible row scored in double, sorted by
 * cand_better; writes min(k, eligible) to out. */
static int brute_topk(struct cand *out, const float *vec, int n, int dim, const float *query,
                      const uint8_t *exclude, int skip, int k)
{
    struct cand *all = malloc((size_t)(n ? n : 1) * sizeof(*all));
    int m = 0;
    assert_non_null(all);
    for (int r = 0; r < n; r++) {
        if (r == skip || (exclude && exclude[r]))
            continue;
        double s = 0;
        for (int d = 0; d < dim; d++)
            s += (double)vec[(size_t)r * dim + d] * query[d];
        all[m++] = (struct cand){r, (float)s, -1};
    }
    recall_heap_sort(all, m);
    if (m > k)
        m = k;
    memcpy(out, all, (size_t)m * sizeof(*out));
    free(all);
    return m;
}

/* runs qindex_topk on (n, dim) vec and checks it against want (nwant,) */
static void check_topk(const float *vec, int n, int dim, const float *query,
                       const uint8_t *exclude, int skip, int k, int rescore, const int *want,
                       int nwant)
{
    struct qindex qx;
    struct error err = {0};
    struct cand out[64];
    assert_true(k <= 64);
    assert_int_equal(qindex_build(&qx, vec, n, dim, &err), 0);
    void *scratch = scratch_for(&qx);
    int got = qindex_topk(&qx, query, exclude, skip, k, rescore, out, scratch);
    assert_int_equal(got, nwant);
    for (int i = 0; i < got; i++) {
        assert_int_equal(out[i].movie, want[i]);
        assert_int_equal(out[i].because, -1);
        double s = 0;
        for (int d = 0; d < dim; d++)
            s += (double)vec[(size_t)want[i] * dim + d] * query[d];
        assert_float_equal(out[i].score, s, 1e-5);
    }
    free(scratch);
    qindex_free(&qx);
}

/* ---- tiny hand-made blocks ---- */

/* dim 3: scores against (1, 0, 0) are the first coordinates */
static const float tiny[6 * 3] = {
    0.1f, 0.9f,  0.0f, /* 0: 0.1 */
    0.8f, 0.0f,  0.6f, /* 1: 0.8 */
    -1.f, 0.0f,  0.0f, /* 2: -1 */
    0.5f, -0.5f, 0.5f, /* 3: 0.5 */
    0.8f, 0.6f,  0.0f, /* 4: 0.8, ties row 1 */
    0.3f, 0.3f,  0.3f, /* 5: 0.3 */
};
static const float e0[3] = {1.0f, 0.0f, 0.0f};

static void test_order_and_ties(void **state)
{
    (void)state;
    const int want[6] = {1, 4, 3, 5, 0, 2}; /* 0.8 tie: lower row first */
    check_topk(tiny, 6, 3, e0, NULL, -1, 3, 32, want, 3);
    check_topk(tiny, 6, 3, e0, NULL, -1, 6, 0, want, 6);
    check_topk(tiny, 6, 3, e0, NULL, -1, 1, 0, want, 1); /* no rescore: still the tie order */
}

static void test_exclude_and_skip(void **state)
{
    (void)state;
    const uint8_t ex[6] = {0, 1, 0, 0, 0, 1};
    const int want_ex[4] = {4, 3, 0, 2};
    const int want_skip[3] = {1, 3, 5};
    const int want_both[3] = {3, 0, 2};
    check_topk(tiny, 6, 3, e0, ex, -1, 10, 32, want_ex, 4);
    check_topk(tiny, 6, 3, e0, NULL, 4, 3, 32, want_skip, 3);
    check_topk(tiny, 6, 3, e0, ex, 4, 3, 1, want_both, 3);
}

static void test_k_beyond_n(void **state)
{
    (void)state;
    const int want[6] = {1, 4, 3, 5, 0, 2};
    const int want_skip[5] = {1, 4, 5, 0, 2};
    check_topk(tiny, 6, 3, e0, NULL, -1, 50, 32, want, 6);
    check_topk(tiny, 6, 3, e0, NULL, 3, 50, 0, want_skip, 5);
    check_topk(tiny, 6, 3, e0, NULL, -1, 0, 32, want, 0);
}

static void test_no_rows(void **state)
{
    (void)state;
    struct qindex qx;
    struct error err = {0};
    struct cand out[4];
    assert_int_equal(qindex_build(&qx, NULL, 0, 200, &err), 0);
    assert_true(qindex_scratch_size(&qx) > 0);
    void *scratch = scratch_for(&qx);
    assert_int_equal(qindex_topk(&qx, e0, NULL, -1, 4, 32, out, scratch), 0);
    free(scratch);
    qindex_free(&qx);
    qindex_free(&qx); /* twice is harmless */
    assert_int_equal(qindex_build(&qx, e0, 1, 0, &err), ERR_USAGE);
    assert_true(err.msg[0] != 0);
}

static void test_zero_vectors(void **state)
{
    (void)state;
    const float v[4 * 3] = {0, 0, 0, 0.5f, 0, 0, 0, 0, 0, -0.5f, 0, 0};
    const float zero[3] = {0, 0, 0};
    const int want[4] = {1, 0, 2, 3}; /* zero rows score 0, ties by row */
    const int want_zero[4] = {0, 1, 2, 3};
    check_topk(v, 4, 3, e0, NULL, -1, 4, 32, want, 4);
    check_topk(v, 4, 3, zero, NULL, -1, 4, 0, want_zero, 4); /* a zero query: all 0 */
    check_topk(v, 4, 3, zero, NULL, 0, 2, 0, want_zero + 1, 2);
}

/* dims around the 32-byte stride, with rescore >= n: exactly brute force */
static void test_odd_dims(void **state)
{
    (void)state;
    const int dims[] = {1, 31, 33, 37, 64, 65, 200};
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
        int n = 61, dim = dims[t], want[20];
        struct cand ref[20];
        float *v = random_units(n, dim);
        uint8_t ex[61] = {0};
        ex[7] = ex[30] = 1;
        for (int qi = 0; qi < 5; qi++) {
            const float *q = v + (size_t)(qi * 11) * dim;
            int m = brute_topk(ref, v, n, dim, q, ex, qi * 11, 20);
            for (int i = 0; i < m; i++)
                want[i] = ref[i].movie;
            check_topk(v, n, dim, q, ex, qi * 11, 20, n, want, m);
        }
        free(v);
    }
}

/* ---- random data: the int8 scan keeps the true top-k ---- */

static void test_random_agreement(void **state)
{
    (void)state;
    const int n = 5000, dim = 200, k = 10, nq = 1000;
    struct qindex qx;
    struct error err = {0};
    struct cand out[10], ref[10];
    int same = 0, overlap = 0;

    rng_state = 12345;
    float *v = random_units(n, dim);
    assert_int_equal(qindex_build(&qx, v, n, dim, &err), 0);
    void *scratch = scratch_for(&qx);
    for (int qi = 0; qi < nq; qi++) {
        int row = (int)(rng_u32() % (uint32_t)n);
        const float *q = v + (size_t)row * dim;
        int got = qindex_topk(&qx, q, NULL, row, k, 32, out, scratch);
        int m = brute_topk(ref, v, n, dim, q, NULL, row, k);
        assert_int_equal(got, k);
        assert_int_equal(m, k);
        int match = 0;
        for (int i = 0; i < k; i++) {
            assert_int_not_equal(out[i].movie, row);
            if (i)
                assert_false(cand_better(&out[i], &out[i - 1]));
            for (int j = 0; j < k; j++)
                match += out[i].movie == ref[j].movie;
        }
        overlap += match;
        same += match == k;
    }
    double frac = (double)same / nq;
    print_message("qindex: %d/%d queries with the exact top-%d set (%.4f), recall %.5f\n", same,
                  nq, k, frac, (double)overlap / (nq * k));
    assert_true(frac >= 0.99);
    free(scratch);
    qindex_free(&qx);
    free(v);
}

/* ---- the AVX2 kernel against the plain C one ---- */

/* Row-major random tables packed into the blocked layout (qindex.h): dots
 * of both kernels equal the direct int64 sums, the padding rows of the
 * last block are 0; strides of the reduced scans (32, 64) and a full one
 * (224), block counts odd and even (the AVX2 kernel takes blocks in
 * pairs). */
static void test_kernel_matches_ref(void **state)
{
    (void)state;
    const int strides[] = {32, 64, 224}, counts[] = {39, 48, 1, 9};
    int8_t *q, *qb, *x, *xa;
    int32_t a[48], b[48];
    assert_int_equal(posix_memalign((void **)&q, 64, (size_t)48 * 224), 0);
    assert_int_equal(posix_memalign((void **)&qb, 64, (size_t)48 * 224), 0);
    assert_int_equal(posix_memalign((void **)&x, 64, 224), 0);
    assert_int_equal(posix_memalign((void **)&xa, 64, 224), 0);
    rng_state = 777;
    for (int si = 0; si < 3; si++)
        for (int ci = 0; ci < 4; ci++)
            for (int trial = 0; trial < 3; trial++) {
                int stride = strides[si], nrows = counts[ci], nblk = (nrows + 7) / 8;
                for (int i = 0; i < nrows * stride; i++) /* trial 2: the extremes only */
                    q[i] = (int8_t)(trial == 2 ? (rng_u32() & 1 ? 127 : -127)
                                               : (int)(rng_u32() % 255) - 127);
                for (int j = 0; j < stride; j++) {
                    x[j] = (int8_t)(trial == 2 ? (rng_u32() & 1 ? 127 : -127)
                                               : (int)(rng_u32() % 255) - 127);
                    xa[j] = (int8_t)abs(x[j]);
                }
                if (trial == 1)
                    memset(x + stride / 4, 0, (size_t)stride / 4),
                        memset(xa + stride / 4, 0, (size_t)stride / 4);
                qindex_pack(qb, q, nrows, stride);
                memset(a, 0x55, sizeof(a));
                memset(b, 0x55, sizeof(b));
                qindex_dots(a, qb, x, xa, nblk, stride);
                qindex_dots_ref(b, qb, x, xa, nblk, stride);
                for (int r = 0; r < nblk * 8; r++) {
                    int64_t s = 0;
                    for (int j = 0; j < stride && r < nrows; j++)
                        s += (int64_t)q[(size_t)r * stride + j] * x[j];
                    assert_int_equal(b[r], s);
                    assert_int_equal(a[r], s);
                }
            }
    free(q);
    free(qb);
    free(x);
    free(xa);
}

/* ---- the eigensolver ---- */

/* q (m, m): a random orthogonal matrix (Gram-Schmidt on Gaussian rows) */
static void random_orthogonal(double *q, int m)
{
    for (int i = 0; i < m; i++) {
        double *r = q + (size_t)i * m;
        for (;;) {
            for (int k = 0; k < m; k++)
                r[k] = rng_normal();
            for (int pass = 0; pass < 2; pass++)
                for (int j = 0; j < i; j++) {
                    const double *p = q + (size_t)j * m;
                    double d = 0;
                    for (int k = 0; k < m; k++)
                        d += p[k] * r[k];
                    for (int k = 0; k < m; k++)
                        r[k] -= d * p[k];
                }
            double s = 0;
            for (int k = 0; k < m; k++)
                s += r[k] * r[k];
            if (s > 1e-6) {
                for (int k = 0; k < m; k++)
                    r[k] /= sqrt(s);
                break;
            }
        }
    }
}

/* a = q^T diag(d) q for eigenvalues d (m,) and a random rotation q; the
 * solver must give d sorted, rows of vt = +-rows of q (distinct d), and
 * reconstruct a */
static void check_eig(const double *d, int m, int distinct)
{
    double *q = malloc((size_t)m * m * sizeof(double)), *a = malloc((size_t)m * m * sizeof(double));
    double *a0 = malloc((size_t)m * m * sizeof(double)), *vt = malloc((size_t)m * m * sizeof(double));
    double *w = malloc((size_t)m * sizeof(double)), *sorted = malloc((size_t)m * sizeof(double));
    int *order = malloc((size_t)m * sizeof(int));
    assert_true(q && a && a0 && vt && w && sorted && order);
    random_orthogonal(q, m);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += q[(size_t)k * m + i] * d[k] * q[(size_t)k * m + j];
            a[(size_t)i * m + j] = a0[(size_t)i * m + j] = s;
        }
    for (int i = 0; i < m; i++) { /* sort d decreasing, remembering where each came from */
        order[i] = i;
        for (int j = i; j > 0 && d[order[j]] > d[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    int sweeps = qindex_eig_sym(w, vt, a, m);
    assert_true(sweeps >= 0);
    for (int i = 0; i < m; i++) {
        sorted[i] = d[order[i]];
        assert_float_equal(w[i], sorted[i], 1e-9);
        if (i)
            assert_true(w[i] <= w[i - 1]);
    }
    for (int i = 0; i < m; i++) /* orthonormal rows */
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += vt[(size_t)i * m + k] * vt[(size_t)j * m + k];
            assert_float_equal(s, i == j, 1e-9);
        }
    for (int i = 0; i < m; i++) /* vt^T diag(w) vt = a */
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += vt[(size_t)k * m + i] * w[k] * vt[(size_t)k * m + j];
            assert_float_equal(s, a0[(size_t)i * m + j], 1e-9);
        }
    if (distinct)
        for (int i = 0; i < m; i++) { /* the eigenvector of sorted[i] is +-q's row order[i] */
            double s = 0;
            for (int k = 0; k < m; k++)
                s += vt[(size_t)i * m + k] * q[(size_t)order[i] * m + k];
            assert_float_equal(fabs(s), 1.0, 1e-9);
        }
    free(q);
    free(a);
    free(a0);
    free(vt);
    free(w);
    free(sorted);
    free(order);
}

static void test_eig_known(void **state)
{
    (void)state;
    rng_state = 4242;
    const double d5[5] = {1.0, -2.0, 3.5, 0.25, 7.0};
    check_eig(d5, 5, 1);
    double d40[40]; /* a wide spread, negatives, and a repeated value */
    for (int i = 0; i < 40; i++)
        d40[i] = i < 30 ? pow(0.7, i) * (i % 3 == 2 ? -1 : 1) : 0.5;
    check_eig(d40, 40, 0);
    double d200[200]; /* a tower-like spectrum: a few large, a long tail of tiny */
    for (int i = 0; i < 200; i++)
        d200[i] = 1.0 / (1.0 + i * i) + 1e-3 * i / 200.0;
    check_eig(d200, 200, 1);
    /* a 1 x 1 and an already diagonal matrix */
    double a1 = 3.0, w1, v1;
    assert_int_equal(qindex_eig_sym(&w1, &v1, &a1, 1), 0);
    assert_float_equal(w1, 3.0, 0);
    assert_float_equal(v1, 1.0, 0);
    double a3[9] = {1, 0, 0, 0, 5, 0, 0, 0, 2}, w3[3], v3[9];
    assert_int_equal(qindex_eig_sym(w3, v3, a3, 3), 0);
    assert_float_equal(w3[0], 5, 0);
    assert_float_equal(w3[1], 2, 0);
    assert_float_equal(w3[2], 1, 0);
    assert_float_equal(v3[1], 1, 0);
    assert_float_equal(v3[5], 1, 0);
    assert_float_equal(v3[6], 1, 0);
}

/* ---- the reduced build ---- */

/* vec (n, dim): mean + sum of `rank` random directions with Gaussian
 * weights of decreasing size, plus Gaussian noise of sigma, then unit
 * length (as the tower's vectors are) when unit. */
static float *low_rank_rows(int n, int dim, int rank, float sigma, int unit)
{
    float *basis = malloc((size_t)rank * dim * sizeof(float)), *mean = malloc((size_t)dim * 4);
    float *v = malloc((size_t)n * dim * sizeof(float));
    assert_true(basis && mean && v);
    for (int i = 0; i < rank * dim; i++)
        basis[i] = rng_normal() / sqrtf((float)dim);
    for (int d = 0; d < dim; d++)
        mean[d] = 0.5f * rng_normal() / sqrtf((float)dim);
    for (int i = 0; i < n; i++) {
        float *x = v + (size_t)i * dim;
        memcpy(x, mean, (size_t)dim * sizeof(float));
        for (int j = 0; j < rank; j++) {
            float z = rng_normal() / (1.0f + 0.2f * (float)j);
            for (int d = 0; d < dim; d++)
                x[d] += z * basis[(size_t)j * dim + d];
        }
        double s = 0;
        for (int d = 0; d < dim; d++) {
            x[d] += sigma * rng_normal() / sqrtf((float)dim);
            s += (double)x[d] * x[d];
        }
        for (int d = 0; d < dim && unit; d++)
            x[d] = (float)(x[d] / sqrt(s));
    }
    free(basis);
    free(mean);
    return v;
}

/* Rows in a 10-dim affine subspace of 200: with r >= 10 the projection
 * loses nothing. The basis is orthonormal and spans the rows less their
 * mean; with a full rescore the answers are brute force's (exclude, skip
 * and the scratch layout on the reduced path); with rescore 32 they equal
 * the full int8 index's on every query. */
static void test_reduced_exact_low_rank(void **state)
{
    (void)state;
    const int n = 600, dim = 200, rank = 10, k = 10;
    struct error err = {0};
    rng_state = 2024;
    float *v = low_rank_rows(n, dim, rank, 0.0f, 0);
    float *mean = calloc((size_t)dim, sizeof(float));
    assert_non_null(mean);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            mean[d] += v[(size_t)i * dim + d] / n;
    const int rs[] = {10, 16, 64};
    for (size_t t = 0; t < sizeof(rs) / sizeof(rs[0]); t++) {
        struct qindex qr, qf;
        struct cand a[10], b[10], ref[10];
        assert_int_equal(qindex_build_reduced(&qr, v, n, dim, rs[t], &err), 0);
        assert_int_equal(qindex_build(&qf, v, n, dim, &err), 0);
        assert_non_null(qr.basis);
        assert_int_equal(qr.r, rs[t]);
        assert_int_equal(qr.stride % 32, 0);
        for (int i = 0; i < rs[t]; i++) /* orthonormal rows */
            for (int j = 0; j < rs[t]; j++) {
                double s = 0;
                for (int d = 0; d < dim; d++)
                    s += (double)qr.basis[(size_t)i * dim + d] * qr.basis[(size_t)j * dim + d];
                assert_float_equal(s, i == j, 1e-5);
            }
        for (int i = 0; i < n; i += 37) { /* x - mean = B^T B (x - mean) */
            double res = 0, nrm = 0;
            for (int d = 0; d < dim; d++) {
                double y = 0;
                for (int j = 0; j < rs[t]; j++) {
                    double p = 0;
                    for (int e = 0; e < dim; e++)
                        p += (double)qr.basis[(size_t)j * dim + e] *
                             (v[(size_t)i * dim + e] - mean[e]);
                    y += p * qr.basis[(size_t)j * dim + d];
                }
                double x = v[(size_t)i * dim + d] - mean[d];
                res += (x - y) * (x - y);
                nrm += x * x;
            }
            assert_true(res <= 1e-8 * nrm);
        }
        void *sr = scratch_for(&qr), *sf = scratch_for(&qf);
        uint8_t *ex = calloc((size_t)n, 1);
        assert_non_null(ex);
        for (int i = 0; i < n; i += 13)
            ex[i] = 1;
        for (int qi = 0; qi < n; qi++) {
            const float *q = v + (size_t)qi * dim;
            int m = brute_topk(ref, v, n, dim, q, ex, qi, k);
            int got = qindex_topk(&qr, q, ex, qi, k, n, a, sr);
            assert_int_equal(got, m);
            for (int i = 0; i < got; i++) {
                assert_int_equal(a[i].movie, ref[i].movie);
                assert_float_equal(a[i].score, ref[i].score, 1e-5);
            }
            got = qindex_topk(&qr, q, NULL, qi, k, 32, a, sr);
            int gf = qindex_topk(&qf, q, NULL, qi, k, 32, b, sf);
            assert_int_equal(got, gf);
            for (int i = 0; i < got; i++) {
                assert_int_equal(a[i].movie, b[i].movie);
                assert_true(a[i].score == b[i].score); /* the same exact rescore */
            }
        }
        free(ex);
        free(sr);
        free(sf);
        qindex_free(&qr);
        qindex_free(&qf);
    }
    free(mean);
    free(v);
}

/* r >= dim, one row, or no rows: a full index; r < 1: refused */
static void test_reduced_fallbacks(void **state)
{
    (void)state;
    struct qindex qx;
    struct error err = {0};
    struct cand out[6];
    const int want[6] = {1, 4, 3, 5, 0, 2};
    assert_int_equal(qindex_build_reduced(&qx, tiny, 6, 3, 3, &err), 0);
    assert_null(qx.basis);
    assert_int_equal(qx.r, 3);
    void *scratch = scratch_for(&qx);
    assert_int_equal(qindex_topk(&qx, e0, NULL, -1, 6, 0, out, scratch), 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(out[i].movie, want[i]);
    free(scratch);
    qindex_free(&qx);
    assert_int_equal(qindex_build_reduced(&qx, tiny, 1, 3, 2, &err), 0);
    assert_null(qx.basis);
    qindex_free(&qx);
    assert_int_equal(qindex_build_reduced(&qx, NULL, 0, 200, 64, &err), 0);
    assert_null(qx.basis);
    scratch = scratch_for(&qx);
    assert_int_equal(qindex_topk(&qx, e0, NULL, -1, 4, 32, out, scratch), 0);
    free(scratch);
    qindex_free(&qx);
    assert_int_equal(qindex_build_reduced(&qx, tiny, 6, 3, 0, &err), ERR_USAGE);
    assert_int_equal(qindex_build_reduced(&qx, tiny, 6, 0, 2, &err), ERR_USAGE);
    /* rank 2 of 3 on the tiny rows: still exact with a full rescore */
    assert_int_equal(qindex_build_reduced(&qx, tiny, 6, 3, 2, &err), 0);
    assert_non_null(qx.basis);
    scratch = scratch_for(&qx);
    assert_int_equal(qindex_topk(&qx, e0, NULL, -1, 6, 6, out, scratch), 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(out[i].movie, want[i]);
    free(scratch);
    qindex_free(&qx);
}

/* rank-24 unit rows plus noise (about 10% of the variance outside the
 * signal): r = 32 with rescore 32 keeps nearly all of the exact top-10 */
static void test_reduced_quality(void **state)
{
    (void)state;
    const int n = 5000, dim = 200, k = 10, nq = 500;
    struct qindex qx;
    struct error err = {0};
    struct cand out[10], ref[10];
    long overlap = 0, overlap0 = 0;
    rng_state = 99;
    float *v = low_rank_rows(n, dim, 24, 0.8f, 1);
    assert_int_equal(qindex_build_reduced(&qx, v, n, dim, 32, &err), 0);
    void *scratch = scratch_for(&qx);
    for (int qi = 0; qi < nq; qi++) {
        int row = (int)(rng_u32() % (uint32_t)n);
        const float *q = v + (size_t)row * dim;
        int m = brute_topk(ref, v, n, dim, q, NULL, row, k);
        int got = qindex_topk(&qx, q, NULL, row, k, 32, out, scratch);
        assert_int_equal(got, k);
        assert_int_equal(m, k);
        for (int i = 0; i < k; i++) {
            if (i)
                assert_false(cand_better(&out[i], &out[i - 1]));
            for (int j = 0; j < k; j++)
                overlap += out[i].movie == ref[j].movie;
        }
        got = qindex_topk(&qx, q, NULL, row, k, 0, out, scratch);
        for (int i = 0; i < got; i++)
            for (int j = 0; j < k; j++)
                overlap0 += out[i].movie == ref[j].movie;
    }
    double rec = (double)overlap / (nq * k), rec0 = (double)overlap0 / (nq * k);
    print_message("qindex r=32: top-%d recall %.5f with rescore 32, %.5f without\n", k, rec, rec0);
    assert_true(rec >= 0.99);
    free(scratch);
    qindex_free(&qx);
    free(v);
}

/* qindex_topk (the AVX2 block scan where built) against qindex_topk_ref
 * (the plain C scan, row by row): the same rows, order and score bits on
 * random low-rank rows, full and reduced (r 32, 64), n around the block
 * of 8 and larger (past QX_SPILL, so the scan's selection runs often), with and without exclude and skip, k from 1 to past n,
 * rescore -1, 0 and 32, and duplicated rows (equal scores: ties). */
static void test_topk_matches_ref(void **state)
{
    (void)state;
    const int ns[] = {1, 2, 7, 8, 9, 15, 16, 17, 24, 250, 1001, 3333, 20011};
    const int ranks[] = {0, 32, 64}, ks[] = {1, 10, 100, 4000}, rescores[] = {-1, 0, 32};
    const int dim = 80;
    rng_state = 4242;
    for (int ni = 0; ni < 13; ni++)
        for (int ri = 0; ri < 3; ri++) {
            int n = ns[ni];
            float *v = low_rank_rows(n, dim, 12, 0.1f, ni & 1);
            for (int i = 3; i < n; i += 7) /* duplicates: ties broken by row */
                memcpy(v + (size_t)i * dim, v + (size_t)(i / 2) * dim, dim * sizeof(float));
            uint8_t *ex = calloc((size_t)n, 1);
            float *query = low_rank_rows(1, dim, 12, 0.1f, 0);
            struct cand *a = malloc((size_t)(n + 1) * sizeof(*a));
            struct cand *b = malloc((size_t)(n + 1) * sizeof(*b));
            assert_true(ex && a && b);
            for (int i = 0; i < n; i++)
                ex[i] = rng_u32() % 20 == 0;
            struct qindex qx;
            struct error err = {0};
            assert_int_equal(ranks[ri] ? qindex_build_reduced(&qx, v, n, dim, ranks[ri], &err)
                                       : qindex_build(&qx, v, n, dim, &err),
                             0);
            void *sa = scratch_for(&qx), *sb = scratch_for(&qx);
            for (int ki = 0; ki < 4; ki++)
                for (int si = 0; si < 3; si++)
                    for (int mode = 0; mode < 3; mode++) {
                        /* mode 0: nothing left out; 1: exclude; 2: exclude + a skip */
                        const uint8_t *e = mode ? ex : NULL;
                        int skip = mode == 2 ? (int)(rng_u32() % (unsigned)n) : -1;
                        const float *qv = mode == 1 && n > 1 ? v + dim : query;
                        int ga = qindex_topk(&qx, qv, e, skip, ks[ki], rescores[si], a, sa);
                        int gb = qindex_topk_ref(&qx, qv, e, skip, ks[ki], rescores[si], b, sb);
                        assert_int_equal(ga, gb);
                        assert_true(ga <= ks[ki] && ga <= n);
                        for (int i = 0; i < ga; i++) {
                            assert_int_equal(a[i].movie, b[i].movie);
                            assert_memory_equal(&a[i].score, &b[i].score, sizeof(float));
                            assert_int_equal(a[i].because, b[i].because);
                        }
                    }
            free(sa);
            free(sb);
            qindex_free(&qx);
            free(v);
            free(ex);
            free(query);
            free(a);
            free(b);
        }
}

/* The AVX2 scan starts from a threshold a sample of the table gives,
 * and scans again from -inf when fewer than k rows pass it: with the
 * best 600 rows excluded (every row above that threshold), the second
 * pass must give what the reference gives; with half of them excluded,
 * the first. qindex_topk_stats says which ran (without AVX2: one plain
 * scan from -inf), and a table too small to sample starts from -inf. */
static void test_topk_sample_fallback(void **state)
{
    (void)state;
    const int n = 20011, dim = 64, ks[] = {1, 10, 100, 150};
    rng_state = 777;
    float *v = low_rank_rows(n, dim, 12, 0.1f, 0);
    float *query = low_rank_rows(1, dim, 12, 0.1f, 0);
    uint8_t *ex = calloc((size_t)n, 1);
    struct cand *a = malloc(600 * sizeof(*a)), *b = malloc(600 * sizeof(*b));
    struct qindex qx;
    struct error err = {0};
    assert_true(ex && a && b);
    assert_int_equal(qindex_build_reduced(&qx, v, n, dim, 32, &err), 0);
    void *sa = scratch_for(&qx), *sb = scratch_for(&qx);
    assert_int_equal(qindex_topk_ref(&qx, query, NULL, -1, 600, -1, b, sb), 600);
    for (int half = 0; half < 2; half++) {
        for (int i = 0; i < 600; i++)
            ex[b[i].movie] = !half || i % 2;
        for (int ki = 0; ki < 4; ki++)
            for (int rescore = -1; rescore <= 32; rescore += 33) {
                struct qindex_stats st;
                int ga = qindex_topk_stats(&qx, query, ex, 5, ks[ki], rescore, a, sa, &st);
                int gb = qindex_topk_ref(&qx, query, ex, 5, ks[ki], rescore, a + 300, sb);
#ifdef __AVX2__
                assert_true(isfinite(st.threshold));
                assert_int_equal(st.passes, half ? 1 : 2);
#else
                assert_true(st.threshold == -INFINITY);
                assert_int_equal(st.passes, 1);
#endif
                assert_int_equal(ga, ks[ki]);
                assert_int_equal(ga, gb);
                for (int i = 0; i < ga; i++) {
                    assert_false(ex[a[i].movie]);
                    assert_int_equal(a[i].movie, a[300 + i].movie);
                    assert_memory_equal(&a[i].score, &a[300 + i].score, sizeof(float));
                }
            }
        assert_int_equal(qindex_topk_ref(&qx, query, NULL, -1, 600, -1, b, sb), 600);
    }
    struct qindex_stats st;
    assert_int_equal(qindex_topk_stats(&qx, query, NULL, -1, 0, 32, a, sa, &st), 0);
    assert_int_equal(st.passes, 0); /* k < 1: no scan */
    free(sa);
    free(sb);
    qindex_free(&qx);
    /* 100 rows: a sample of one block in 16 is too small */
    assert_int_equal(qindex_build(&qx, v, 100, dim, &err), 0);
    sa = scratch_for(&qx);
    assert_int_equal(qindex_topk_stats(&qx, query, NULL, -1, 10, 32, a, sa, &st), 10);
    assert_int_equal(st.passes, 1);
    assert_true(st.threshold == -INFINITY);
    free(sa);
    qindex_free(&qx);
    free(v);
    free(query);
    free(ex);
    free(a);
    free(b);
}

/* Rows whose exact score is NaN (all-NaN rows: their int8 copy is zero,
 * approx 0, so they reach the rescore like any row) rank below every
 * number, among themselves by row, in the AVX2 path and the reference
 * alike. */
static void test_nan_rows(void **state)
{
    (void)state;
    const int n = 2000, dim = 40, nanrow[] = {3, 50, 51, 700, 1999}, ks[] = {1997, 2000};
    rng_state = 99;
    float *v = random_units(n, dim), *query = random_units(1, dim);
    struct cand *a = malloc((size_t)n * sizeof(*a)), *b = malloc((size_t)n * sizeof(*b));
    struct qindex qx;
    struct error err = {0};
    assert_true(a && b);
    for (int i = 0; i < 5; i++)
        for (int d = 0; d < dim; d++)
            v[(size_t)nanrow[i] * dim + d] = NAN;
    assert_int_equal(qindex_build(&qx, v, n, dim, &err), 0);
    void *sa = scratch_for(&qx), *sb = scratch_for(&qx);
    for (int ki = 0; ki < 2; ki++) {
        int k = ks[ki];
        assert_int_equal(qindex_topk(&qx, query, NULL, -1, k, 32, a, sa), k);
        assert_int_equal(qindex_topk_ref(&qx, query, NULL, -1, k, 32, b, sb), k);
        for (int i = 0; i < k; i++) {
            assert_int_equal(a[i].movie, b[i].movie);
            assert_memory_equal(&a[i].score, &b[i].score, sizeof(float));
            if (i < n - 5)
                assert_false(isnan(a[i].score));
            else
                assert_true(isnan(a[i].score) && a[i].movie == nanrow[i - (n - 5)]);
            if (i > 0 && i < n - 5)
                assert_true(a[i - 1].score >= a[i].score);
        }
    }
    free(sa);
    free(sb);
    qindex_free(&qx);
    free(v);
    free(query);
    free(a);
    free(b);
}

/* Rows with one NaN value: quantised with that value as 0 (no NaN reaches
 * the int8 cast), their exact score is NaN, so they rank last, the same in
 * both paths. */
static void test_partly_nan_rows(void **state)
{
    (void)state;
    const int n = 300, dim = 24, k = n;
    rng_state = 7;
    float *v = random_units(n, dim), *query = random_units(1, dim);
    struct cand *a = malloc((size_t)n * sizeof(*a)), *b = malloc((size_t)n * sizeof(*b));
    struct qindex qx;
    struct error err = {0};
    assert_true(a && b);
    v[(size_t)10 * dim + 3] = NAN;
    v[(size_t)200 * dim + dim - 1] = NAN;
    assert_int_equal(qindex_build(&qx, v, n, dim, &err), 0);
    void *sa = scratch_for(&qx), *sb = scratch_for(&qx);
    assert_int_equal(qindex_topk(&qx, query, NULL, -1, k, 32, a, sa), k);
    assert_int_equal(qindex_topk_ref(&qx, query, NULL, -1, k, 32, b, sb), k);
    for (int i = 0; i < k; i++)
        assert_int_equal(a[i].movie, b[i].movie);
    assert_true(isnan(a[k - 2].score) && isnan(a[k - 1].score));
    assert_int_equal(a[k - 2].movie, 10);
    assert_int_equal(a[k - 1].movie, 200);
    free(sa);
    free(sb);
    qindex_free(&qx);
    free(v);
    free(query);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),   cmocka_unit_test(test_exclude_and_skip),
        cmocka_unit_test(test_k_beyond_n),       cmocka_unit_test(test_no_rows),
        cmocka_unit_test(test_zero_vectors),     cmocka_unit_test(test_odd_dims),
        cmocka_unit_test(test_random_agreement), cmocka_unit_test(test_kernel_matches_ref),
        cmocka_unit_test(test_eig_known),        cmocka_unit_test(test_reduced_exact_low_rank),
        cmocka_unit_test(test_reduced_fallbacks), cmocka_unit_test(test_reduced_quality),
        cmocka_unit_test(test_topk_matches_ref), cmocka_unit_test(test_topk_sample_fallback),
        cmocka_unit_test(test_nan_rows),         cmocka_unit_test(test_partly_nan_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
