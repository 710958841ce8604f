/*
 * qindex.c - int8 scan + exact float rescore (qindex.h).
 *
 * A query runs in three steps:
 *   1. quantise the query like a row: xq (stride,) int8 and |xq|;
 *   2. scan the blocked table (qindex.h) 8 rows at a time: dots (8,)
 *      int32 in one register, approx = dot * scale[r], and the best
 *      k + rescore rows: rows that beat the worst kept are gathered and
 *      a quickselect now and then keeps the best (a block where no row
 *      beats the worst is dropped with one compare; scan_ref is the plain
 *      C reference, row by row into a bounded heap);
 *   3. rescore those rows exactly in float from qx->vec, sort, keep k.
 * Integer dot products are exact, so the AVX2 kernel and the plain C one
 * give identical dots and identical results.
 *
 * A reduced index (qx->basis != NULL) first projects the query onto the
 * basis, proj (r,) = basis (r, dim) . query, and quantises and scans that;
 * step 3 is the same. Its build (qindex_build_reduced):
 *   1. mean (dim,) of the rows, in double;
 *   2. cov (dim, dim) = sum over blocks of Xc^T Xc / n, Xc (nb, dim) a
 *      block of rows less the mean (one nn_sgemm per block);
 *   3. its eigenvectors by cyclic Jacobi (qindex_eig_sym), the top r rows
 *      of vt as basis (r, dim);
 *   4. per block, proj (nb, r) = Xc . basis^T (nn_sgemm), quantised into
 *      the int8 table like full rows.
 */
#include "qindex.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "../nn/nn.h"
#include "../util/banned.h"

#define QX_ALIGN 64
#define QX_LANES 32   /* stride is a multiple of this: one AVX2 register of int8 */
#define QX_BR 8       /* rows per block of the blocked int8 table */
#define QX_GRP 4      /* bytes of a row per group of a block */
#define QX_PAIR_MAX_GRP 16 /* groups (stride / 4) up to which the scan takes blocks in pairs */
#define QX_BLOCK 256  /* rows per scan step of the reference: dots (QX_BLOCK,) stay in L1 */
#define QX_SPILL 1024 /* rows the AVX2 scan gathers past its best cap before it selects */
#define QX_SAMPLE 16  /* the AVX2 scan's threshold from every QX_SAMPLE-th block */
#define QX_SAMPLE_MAX_J 64 /* ... when it is at most the 64th best there (cap <= 480) */
#define QX_BUILD_BLOCK 1024 /* rows per centred block in a reduced build */
#define QX_EIG_SWEEPS 60

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* ------------------------------------------------------------------ */
/* quantisation                                                         */

/* Returns 1 / s = 127 / max|x| for x (dim,) and sets *s = max|x| / 127;
 * both 0 for a zero (or non-finite) vector, whose q is all zero. */
static float quant_factor(const float *x /* (dim,) */, int dim, float *s)
{
    float amax = 0.0f;
    for (int d = 0; d < dim; d++)
        amax = fmaxf(amax, fabsf(x[d]));
    *s = 0.0f;
    if (!(amax > 0.0f) || !isfinite(amax))
        return 0.0f;
    *s = amax / 127.0f;
    return 127.0f / amax;
}

/* round(x / s), clamped to [-127, 127]; inv = 1 / s. A NaN x gives 0
 * (casting NaN to an integer is undefined). */
static int8_t quant1(float x, float inv)
{
    float v = roundf(x * inv);
    if (isnan(v))
        return 0;
    return (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
}

/* q (stride,) = round(x / s) for d < dim, 0 in the padding; returns s. */
static float quantise_row(int8_t *q, const float *x /* (dim,) */, int dim, int stride)
{
    float s, inv = quant_factor(x, dim, &s);
    memset(q, 0, (size_t)stride);
    for (int d = 0; d < dim && inv > 0.0f; d++)
        q[d] = quant1(x[d], inv);
    return s;
}

/* ------------------------------------------------------------------ */
/* the int8 kernel                                                      */

/* The table is blocked: QX_BR rows at a time, each row cut into groups of
 * QX_GRP bytes, and a block stored group by group,
 *   qb[((b * ngrp + g) * QX_BR + i) * QX_GRP + j] = row QX_BR b + i, column QX_GRP g + j,
 * ngrp = stride / QX_GRP. One group of a block is then 32 bytes (one AVX2
 * register): 4 columns of 8 rows, and one multiply-add sequence against
 * the query's 4 columns broadcast to every row leaves the 8 rows' partial
 * dots in the 8 int32 lanes, with no horizontal sum. Rows past n in the
 * last block are zero. */
static size_t blocked_at(int row, int col, int stride)
{
    int ngrp = stride / QX_GRP;
    return (((size_t)(row / QX_BR) * ngrp + col / QX_GRP) * QX_BR + row % QX_BR) * QX_GRP +
           col % QX_GRP;
}

/* row (stride,) into row `row` of the blocked table qb */
static void blocked_put(int8_t *qb, int row, const int8_t *q, int stride)
{
    for (int g = 0; g < stride; g += QX_GRP)
        memcpy(qb + blocked_at(row, g, stride), q + g, QX_GRP);
}

/* dots (nblk * QX_BR,) = rows of qb (nblk blocks) . x (stride,); the
 * reference. Values are in [-127, 127], so the int32 sum is exact for
 * stride < 133,000. */
void qindex_dots_ref(int32_t *dots, const int8_t *qb, const int8_t *x, const int8_t *xabs,
                     int nblk, int stride)
{
    (void)xabs;
    int ngrp = stride / QX_GRP;
    for (int b = 0; b < nblk; b++)
        for (int i = 0; i < QX_BR; i++) {
            int32_t s = 0;
            for (int g = 0; g < ngrp; g++) {
                const int8_t *p = qb + (((size_t)b * ngrp + g) * QX_BR + i) * QX_GRP;
                for (int j = 0; j < QX_GRP; j++)
                    s += (int16_t)p[j] * (int16_t)x[g * QX_GRP + j];
            }
            dots[b * QX_BR + i] = s;
        }
}

#ifdef __AVX2__
/* (8 x int32) the 4 bytes at p, in every lane */
static inline __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return _mm256_set1_epi32(v);
}

/* acc (8 x int32) += grp (8 rows x 4 int8) . x (4 int8, in every lane), as
 * |x| (unsigned) times grp * sign(x) (signed): maddubs gives int16 pair
 * sums (at most 2 * 127 * 127, no saturation), madd with ones widens them
 * to int32. */
static inline __m256i dot4x8(__m256i acc, __m256i grp, __m256i x, __m256i xabs, __m256i ones)
{
    __m256i p = _mm256_maddubs_epi16(xabs, _mm256_sign_epi8(grp, x));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
}

/* (8 x int32) the dots of blocks blk and blk + blkbytes (QX_BR rows each,
 * ngrp groups, ngrp even) with x; the two blocks share each broadcast of x */
static inline void block_dots2(__m256i *d0, __m256i *d1, const int8_t *blk, size_t blkbytes,
                               const int8_t *x, const int8_t *xabs, int ngrp)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0;
    for (int g = 0; g < ngrp; g += 2) {
        const int8_t *p = blk + (size_t)g * 32;
        __m256i x0 = bcast4(x + g * QX_GRP), s0 = bcast4(xabs + g * QX_GRP);
        __m256i x1 = bcast4(x + g * QX_GRP + QX_GRP), s1 = bcast4(xabs + g * QX_GRP + QX_GRP);
        a0 = dot4x8(a0, _mm256_load_si256((const __m256i *)p), x0, s0, ones);
        a1 = dot4x8(a1, _mm256_load_si256((const __m256i *)(p + 32)), x1, s1, ones);
        b0 = dot4x8(b0, _mm256_load_si256((const __m256i *)(p + blkbytes)), x0, s0, ones);
        b1 = dot4x8(b1, _mm256_load_si256((const __m256i *)(p + blkbytes + 32)), x1, s1, ones);
    }
    *d0 = _mm256_add_epi32(a0, a1);
    *d1 = _mm256_add_epi32(b0, b1);
}

/* (8 x int32) the dots of the block blk with x: for long rows, where the
 * table streams from memory and one sequential stream reads best */
static inline __m256i block_dots1(const int8_t *blk, const int8_t *x, const int8_t *xabs,
                                  int ngrp)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (int g = 0; g < ngrp; g += 2) {
        const int8_t *p = blk + (size_t)g * 32;
        a0 = dot4x8(a0, _mm256_load_si256((const __m256i *)p), bcast4(x + g * QX_GRP),
                    bcast4(xabs + g * QX_GRP), ones);
        a1 = dot4x8(a1, _mm256_load_si256((const __m256i *)(p + 32)),
                    bcast4(x + g * QX_GRP + QX_GRP), bcast4(xabs + g * QX_GRP + QX_GRP), ones);
    }
    return _mm256_add_epi32(a0, a1);
}

static void dots_avx2(int32_t *dots, const int8_t *qb, const int8_t *x, const int8_t *xabs,
                      int nblk, int stride)
{
    int ngrp = stride / QX_GRP;
    size_t blkbytes = (size_t)QX_BR * stride;
    for (int b = 0; b < nblk; b += 2) { /* an odd last block pairs with itself */
        __m256i d0, d1;
        block_dots2(&d0, &d1, qb + b * blkbytes, b + 1 < nblk ? blkbytes : 0, x, xabs, ngrp);
        _mm256_storeu_si256((__m256i *)(dots + b * QX_BR), d0);
        if (b + 1 < nblk)
            _mm256_storeu_si256((__m256i *)(dots + (b + 1) * QX_BR), d1);
    }
}
#endif

/* The kernel qindex_topk uses: AVX2 when compiled for it, else the
 * reference. qb, x and xabs 32-byte aligned, stride a multiple of 32. */
void qindex_dots(int32_t *dots, const int8_t *qb, const int8_t *x, const int8_t *xabs, int nblk,
                 int stride)
{
#ifdef __AVX2__
    dots_avx2(dots, qb, x, xabs, nblk, stride);
#else
    qindex_dots_ref(dots, qb, x, xabs, nblk, stride);
#endif
}

void qindex_pack(int8_t *qb, const int8_t *q, int nrows, int stride)
{
    int nblk = (nrows + QX_BR - 1) / QX_BR;
    memset(qb, 0, (size_t)nblk * QX_BR * stride);
    for (int r = 0; r < nrows; r++)
        blocked_put(qb, r, q + (size_t)r * stride, stride);
}

/* exact float dot of a (dim,) and b (dim,): eight partial sums, so it
 * vectorises without -ffast-math and gives the same bits every build */
static float dot_f32(const float *a, const float *b, int dim)
{
    float acc[8] = {0};
    int d = 0;
    for (; d + 8 <= dim; d += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[d + l] * b[d + l];
    for (int l = 0; d < dim; d++, l++)
        acc[l] += a[d] * b[d];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* ------------------------------------------------------------------ */
/* build and free                                                       */

/* Sets up qx for n rows of dim scanned as r columns and allocates the
 * int8 table and scales (not the basis). */
static int build_alloc(struct qindex *qx, const float *vec, int n, int dim, int r,
                       struct error *err)
{
    memset(qx, 0, sizeof(*qx));
    if (n < 0 || dim < 1 || dim > (1 << 16))
        return error_set(err, ERR_USAGE, "bad qindex shape (%d, %d)", n, dim);
    qx->n = n;
    qx->dim = dim;
    qx->r = r;
    qx->stride = (int)round_up((size_t)r, QX_LANES);
    qx->vec = vec;
    if (n == 0)
        return 0;
    /* whole blocks: the rows past n are zero, with scale 0 */
    size_t nrows = round_up((size_t)n, QX_BR);
    size_t qbytes = round_up(nrows * (size_t)qx->stride, QX_ALIGN);
    void *p = NULL;
    if (posix_memalign(&p, QX_ALIGN, qbytes) != 0)
        p = NULL;
    qx->qb = p;
    qx->scale = calloc(nrows, sizeof(float));
    if (!qx->qb || !qx->scale) {
        qindex_free(qx);
        return error_set(err, ERR_NOMEM, "out of memory for the int8 copy of %d vectors", n);
    }
    memset(qx->qb, 0, qbytes);
    return 0;
}

/* quantises x (cols,) into row `row` of the blocked table (zeroed: the
 * padding stays zero) and sets its scale, as quantise_row would */
static void build_row(struct qindex *qx, int row, const float *x, int cols)
{
    float inv = quant_factor(x, cols, &qx->scale[row]);
    for (int d = 0; d < cols && inv > 0.0f; d++)
        qx->qb[blocked_at(row, d, qx->stride)] = quant1(x[d], inv);
}

int qindex_build(struct qindex *qx, const float *vec, int n, int dim, struct error *err)
{
    int rc = build_alloc(qx, vec, n, dim, dim, err);
    if (rc)
        return rc;
    for (int r = 0; r < n; r++)
        build_row(qx, r, vec + (size_t)r * dim, dim);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the symmetric eigensolver                                            */

/* Applies the rotation P (P_pp = P_qq = c, P_pq = s, P_qp = -s) to rows p
 * and q of x (m, m): rows p, q <- (c x_p - s x_q, s x_p + c x_q), the
 * rows of P^T x. */
static void rotate_rows(double *x /* (m, m) */, int m, int p, int q, double c, double s)
{
    double *xp = x + (size_t)p * m, *xq = x + (size_t)q * m;
    for (int k = 0; k < m; k++) {
        double a = xp[k], b = xq[k];
        xp[k] = c * a - s * b;
        xq[k] = s * a + c * b;
    }
}

/* One Jacobi rotation a <- P^T a P zeroing a_pq (p < q) of the symmetric
 * a (m, m), and vt <- P^T vt (the eigenvectors as rows). The rows are
 * rotated, then copied into the columns, as a stays symmetric. */
static void jacobi_rotate(double *a /* (m, m) */, double *vt /* (m, m) */, int m, int p, int q)
{
    double apq = a[(size_t)p * m + q], app = a[(size_t)p * m + p], aqq = a[(size_t)q * m + q];
    double theta = (aqq - app) / (2.0 * apq);
    double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
    double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
    rotate_rows(a, m, p, q, c, s);
    for (int k = 0; k < m; k++) {
        a[(size_t)k * m + p] = a[(size_t)p * m + k];
        a[(size_t)k * m + q] = a[(size_t)q * m + k];
    }
    a[(size_t)p * m + p] = app - t * apq;
    a[(size_t)q * m + q] = aqq + t * apq;
    a[(size_t)p * m + q] = a[(size_t)q * m + p] = 0.0;
    rotate_rows(vt, m, p, q, c, s);
}

int qindex_eig_sym(double *w, double *vt, double *a, int m)
{
    int sweeps = -1;
    if (m <= 0)
        return 0;
    double total = 0;
    for (size_t i = 0; i < (size_t)m * m; i++)
        total += a[i] * a[i];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            vt[(size_t)i * m + j] = i == j;
    for (int sweep = 0; sweep < QX_EIG_SWEEPS; sweep++) {
        double off = 0;
        for (int p = 0; p < m; p++)
            for (int q = p + 1; q < m; q++)
                off += a[(size_t)p * m + q] * a[(size_t)p * m + q];
        if (!(off > 1e-24 * total)) { /* converged (or a zero / non-finite matrix) */
            sweeps = sweep;
            break;
        }
        /* skip pairs far below the current off-diagonal mass: they cannot
         * matter until the big ones are gone */
        double tiny = 1e-18 * (off / ((double)m * m));
        for (int p = 0; p < m; p++)
            for (int q = p + 1; q < m; q++) {
                double apq = a[(size_t)p * m + q];
                if (apq * apq > tiny)
                    jacobi_rotate(a, vt, m, p, q);
            }
    }
    for (int i = 0; i < m; i++)
        w[i] = a[(size_t)i * m + i];
    /* selection sort, decreasing (m <= 512: fine), rows of vt with them */
    for (int i = 0; i < m; i++) {
        int best = i;
        for (int j = i + 1; j < m; j++)
            if (w[j] > w[best])
                best = j;
        if (best != i) {
            double tw = w[i];
            w[i] = w[best];
            w[best] = tw;
            double *x = vt + (size_t)i * m, *y = vt + (size_t)best * m;
            for (int k = 0; k < m; k++) {
                double tv = x[k];
                x[k] = y[k];
                y[k] = tv;
            }
        }
    }
    return sweeps;
}

/* ------------------------------------------------------------------ */
/* reduced build                                                        */

/* xc (nb, dim) = vec rows [r0, r0 + nb) less mean (dim,) */
static void centre_block(float *xc, const float *vec, const float *mean, int r0, int nb, int dim)
{
    for (int i = 0; i < nb; i++) {
        const float *x = vec + (size_t)(r0 + i) * dim;
        float *y = xc + (size_t)i * dim;
        for (int d = 0; d < dim; d++)
            y[d] = x[d] - mean[d];
    }
}

/* basis (r, dim) = the top r eigenvectors of the covariance of vec
 * (n, dim), with mean (dim,) its row mean; xc (QX_BUILD_BLOCK, dim) is
 * scratch. */
static int find_basis(float *basis, float *mean, float *xc, const float *vec, int n, int dim,
                      int r, struct error *err)
{
    size_t dd = (size_t)dim * dim;
    float *cov = malloc(dd * sizeof(float));
    double *a = malloc(dd * sizeof(double)), *vt = malloc(dd * sizeof(double));
    double *w = malloc((size_t)dim * sizeof(double));
    int rc = 0;
    if (!cov || !a || !vt || !w) {
        rc = error_set(err, ERR_NOMEM, "out of memory for a %d x %d covariance", dim, dim);
        goto out;
    }
    for (int d = 0; d < dim; d++)
        a[d] = 0;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            a[d] += vec[(size_t)i * dim + d];
    for (int d = 0; d < dim; d++)
        mean[d] = (float)(a[d] / n);
    /* cov (dim, dim) = (1 / n) sum_blocks xc^T xc */
    for (int r0 = 0; r0 < n; r0 += QX_BUILD_BLOCK) {
        int nb = n - r0 < QX_BUILD_BLOCK ? n - r0 : QX_BUILD_BLOCK;
        centre_block(xc, vec, mean, r0, nb, dim);
        nn_sgemm(1, 0, dim, dim, nb, 1.0f / (float)n, xc, dim, xc, dim, r0 ? 1.0f : 0.0f, cov,
                 dim);
    }
    for (int i = 0; i < dim; i++) /* symmetrise whatever rounding left */
        for (int j = 0; j < dim; j++)
            a[(size_t)i * dim + j] =
                0.5 * ((double)cov[(size_t)i * dim + j] + (double)cov[(size_t)j * dim + i]);
    qindex_eig_sym(w, vt, a, dim); /* not converging in 60 sweeps: still usable */
    for (size_t i = 0; i < (size_t)r * dim; i++)
        basis[i] = (float)vt[i];
out:
    free(cov);
    free(a);
    free(vt);
    free(w);
    return rc;
}

int qindex_build_reduced(struct qindex *qx, const float *vec, int n, int dim, int r,
                         struct error *err)
{
    if (r < 1 && n >= 0 && dim >= 1)
        return error_set(err, ERR_USAGE, "bad qindex rank %d", r);
    if (r >= dim || n < 2 || dim > QINDEX_EIG_MAX_DIM)
        return qindex_build(qx, vec, n, dim, err);
    int rc = build_alloc(qx, vec, n, dim, r, err);
    if (rc)
        return rc;
    float *mean = malloc((size_t)dim * sizeof(float));
    float *xc = malloc((size_t)QX_BUILD_BLOCK * dim * sizeof(float));
    float *proj;
    qx->basis = malloc((size_t)r * dim * sizeof(float));
    qx->projf = malloc(((size_t)n * r + 1) * sizeof(float));
    proj = qx->projf;
    if (!mean || !xc || !qx->projf || !qx->basis) {
        rc = error_set(err, ERR_NOMEM, "out of memory for a rank-%d qindex", r);
        goto out;
    }
    if ((rc = find_basis(qx->basis, mean, xc, vec, n, dim, r, err)))
        goto out;
    /* projf (nb, r) = xc (nb, dim) . basis^T, kept; each row quantised */
    for (int r0 = 0; r0 < n; r0 += QX_BUILD_BLOCK) {
        int nb = n - r0 < QX_BUILD_BLOCK ? n - r0 : QX_BUILD_BLOCK;
        float *pb = proj + (size_t)r0 * r;
        centre_block(xc, vec, mean, r0, nb, dim);
        nn_sgemm(0, 1, nb, r, dim, 1.0f, xc, dim, qx->basis, dim, 0.0f, pb, r);
        for (int i = 0; i < nb; i++)
            build_row(qx, r0 + i, pb + (size_t)i * r, r);
    }
out:
    if (!rc)
        qx->mean = mean;
    else
        free(mean);
    free(xc);
    if (rc)
        qindex_free(qx);
    return rc;
}

void qindex_free(struct qindex *qx)
{
    free(qx->qb);
    free(qx->scale);
    free(qx->basis);
    free(qx->projf);
    free(qx->mean);
    memset(qx, 0, sizeof(*qx));
}

/* ------------------------------------------------------------------ */
/* query                                                                */

/* scratch layout, each part 64-byte aligned:
 *   xq (stride,) int8 | xabs (stride,) int8 | dots (QX_BLOCK,) int32 |
 *   proj (r,) float, reduced only | heap (max(n, 1),) struct cand */
struct scratch {
    int8_t *xq, *xabs;
    int32_t *dots;
    float *proj;
    struct cand *heap;
};

static size_t scratch_parts(const struct qindex *qx, void *base, struct scratch *s)
{
    size_t sb = round_up((size_t)qx->stride, QX_ALIGN);
    size_t o_dots = 2 * sb;
    size_t o_proj = o_dots + round_up(QX_BLOCK * sizeof(int32_t), QX_ALIGN);
    size_t o_heap = o_proj + (qx->basis ? round_up((size_t)qx->r * sizeof(float), QX_ALIGN) : 0);
    char *b = base;
    if (s) {
        s->xq = (int8_t *)b;
        s->xabs = (int8_t *)(b + sb);
        s->dots = (int32_t *)(b + o_dots);
        s->proj = (float *)(b + o_proj);
        s->heap = (struct cand *)(b + o_heap);
    }
    return o_heap + round_up((size_t)(qx->n > 0 ? qx->n : 1) * sizeof(struct cand), QX_ALIGN);
}

size_t qindex_scratch_size(const struct qindex *qx)
{
    return scratch_parts(qx, NULL, NULL);
}

/* Pushes rows [r0, r0 + nb) with approx = dots[i] * scale[r] into heap
 * (cap,), holding *got; a row must beat the heap's worst once it is full.
 * Rows come in increasing order, so an equal score never wins a tie. */
static void scan_push(struct cand *heap, int *got, int cap, const int32_t *dots /* (nb,) */,
                      const float *scale, const uint8_t *exclude, int skip, int r0, int nb)
{
    float worst = *got == cap ? heap[0].score : -INFINITY;
    for (int i = 0; i < nb; i++) {
        int r = r0 + i;
        float s = (float)dots[i] * scale[r];
        if (*got == cap && !(s > worst))
            continue;
        if (r == skip || (exclude && exclude[r]))
            continue;
        struct cand c = {r, s, -1};
        recall_heap_push(heap, got, cap, c);
        if (*got == cap)
            worst = heap[0].score;
    }
}

/* Step 2 by the reference: dots a QX_BLOCK of rows at a time, then
 * scan_push. */
static void scan_ref(const struct qindex *qx, const struct scratch *s, const uint8_t *exclude,
                     int skip, int cap, int *got)
{
    for (int r0 = 0; r0 < qx->n; r0 += QX_BLOCK) {
        int nb = qx->n - r0 < QX_BLOCK ? qx->n - r0 : QX_BLOCK;
        qindex_dots_ref(s->dots, qx->qb + (size_t)r0 * qx->stride, s->xq, s->xabs,
                        (nb + QX_BR - 1) / QX_BR, qx->stride);
        scan_push(s->heap, got, cap, s->dots, qx->scale, exclude, skip, r0, nb);
    }
}

#ifdef __AVX2__
/* The best cap of buf (n,) (n > cap) to its front, in no order, by
 * quickselect on cand_better: afterwards buf[cap - 1] is the cap-th best
 * and every one before it is better. */
static void select_best(struct cand *buf, int n, int cap)
{
    int lo = 0, hi = n - 1, want = cap - 1;
    while (lo < hi) {
        /* the median of three as pivot, swapped to hi */
        int mid = lo + (hi - lo) / 2;
        struct cand t;
        if (cand_better(&buf[mid], &buf[lo]))
            t = buf[mid], buf[mid] = buf[lo], buf[lo] = t;
        if (cand_better(&buf[hi], &buf[lo]))
            t = buf[hi], buf[hi] = buf[lo], buf[lo] = t;
        if (cand_better(&buf[mid], &buf[hi]))
            t = buf[mid], buf[mid] = buf[hi], buf[hi] = t;
        struct cand pv = buf[hi]; /* the median of the three */
        int st = lo;
        for (int i = lo; i < hi; i++)
            if (cand_better(&buf[i], &pv)) {
                t = buf[i], buf[i] = buf[st], buf[st] = t;
                st++;
            }
        t = buf[hi], buf[hi] = buf[st], buf[st] = t;
        if (st == want)
            return;
        if (st < want)
            lo = st + 1;
        else
            hi = st - 1;
    }
}

/* The AVX2 scan's selection: rows that beat `worst` are appended to buf
 * (cap .. bufcap), and when it is full, select_best keeps the best cap and
 * worst becomes the cap-th best's score. Rows come in increasing order,
 * so a later row with the worst's score loses the tie (lower row first):
 * every row of the true best cap beats worst when it comes, and the end
 * (a last selection) leaves the same cap rows as scan_push's heap. A heap push
 * per row that beat the heap's worst took longer than the dots (~900
 * pushes of ~40 ns per scan of 62k rows). */
struct sel {
    struct cand *buf; /* (bufcap,) */
    int n, cap, bufcap;
    float worst; /* -inf until the first selection */
};

static void sel_full(struct sel *sl)
{
    select_best(sl->buf, sl->n, sl->cap);
    sl->n = sl->cap;
    sl->worst = sl->buf[sl->cap - 1].score;
}

/* Appends the rows of block b (QX_BR rows, approx (8 x float) their
 * scores) that beat sl->worst, less exclude and skip. */
static inline void push_block(struct sel *sl, __m256 approx, const uint8_t *exclude, int skip,
                              int n, int b)
{
    unsigned pass = (unsigned)_mm256_movemask_ps(
        _mm256_cmp_ps(approx, _mm256_set1_ps(sl->worst), _CMP_GT_OQ));
    if (n - b * QX_BR < QX_BR) /* the last block: lanes past n are padding */
        pass &= (1u << (n - b * QX_BR)) - 1;
    if (!pass)
        return;
    float a[QX_BR];
    _mm256_storeu_ps(a, approx);
    for (; pass; pass &= pass - 1) {
        int i = __builtin_ctz(pass), r = b * QX_BR + i;
        if (r == skip || (exclude && exclude[r]) || !(a[i] > sl->worst))
            continue;
        sl->buf[sl->n++] = (struct cand){r, a[i], -1};
        if (sl->n == sl->bufcap)
            sel_full(sl);
    }
}

/* One pass of step 2 over every block into sl: two blocks (16 rows) at
 * a time, dots (8 x int32) per block, approx = float(dot) * scale as in
 * scan_push (same bits: one rounding each), compared with the
 * selection's worst in one instruction; a block with no row above it
 * costs no scalar work at all. */
static void scan_pass(const struct qindex *qx, const struct scratch *s, const uint8_t *exclude,
                      int skip, struct sel *sl)
{
    int ngrp = qx->stride / QX_GRP, nblk = (qx->n + QX_BR - 1) / QX_BR;
    size_t blkbytes = (size_t)QX_BR * qx->stride;
    if (ngrp > QX_PAIR_MAX_GRP) {
        for (int b = 0; b < nblk; b++) {
            __m256i d = block_dots1(qx->qb + b * blkbytes, s->xq, s->xabs, ngrp);
            __m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(qx->scale + b * QX_BR));
            push_block(sl, a, exclude, skip, qx->n, b);
        }
        return;
    }
    for (int b = 0; b < nblk; b += 2) {
        int two = b + 1 < nblk; /* an odd last block pairs with itself */
        __m256i d0, d1;
        block_dots2(&d0, &d1, qx->qb + b * blkbytes, two ? blkbytes : 0, s->xq, s->xabs, ngrp);
        __m256 a0 = _mm256_mul_ps(_mm256_cvtepi32_ps(d0), _mm256_loadu_ps(qx->scale + b * QX_BR));
        push_block(sl, a0, exclude, skip, qx->n, b);
        if (two) {
            __m256 a1 = _mm256_mul_ps(_mm256_cvtepi32_ps(d1),
                                      _mm256_loadu_ps(qx->scale + (b + 1) * QX_BR));
            push_block(sl, a1, exclude, skip, qx->n, b + 1);
        }
    }
}

/* A score that about 2 * cap rows beat, from every QX_SAMPLE-th block:
 * the j-th best of the sample with j = 2 cap / QX_SAMPLE + 4, so that
 * fewer than cap rows beat it only when the sample is off by several
 * times its spread or the rows above it are excluded. The best j are
 * kept sorted in top (j,), a block at a time against the j-th in one
 * compare. -inf when the sample is too small to say or j too large. */
static float sample_worst(const struct qindex *qx, const struct scratch *s, int cap)
{
    int ngrp = qx->stride / QX_GRP, nblk = (qx->n + QX_BR - 1) / QX_BR, nt = 0;
    int j = 2 * cap / QX_SAMPLE + 4;
    size_t blkbytes = (size_t)QX_BR * qx->stride;
    float top[QX_SAMPLE_MAX_J], a[QX_BR];
    if (j > QX_SAMPLE_MAX_J || (nblk / QX_SAMPLE) * QX_BR < 4 * j)
        return -INFINITY;
    for (int b = 0; b + 1 < nblk; b += QX_SAMPLE) { /* whole blocks: not the last */
        __m256i d = block_dots1(qx->qb + b * blkbytes, s->xq, s->xabs, ngrp);
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(qx->scale + b * QX_BR));
        if (nt == j && !_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(top[j - 1]),
                                                        _CMP_GT_OQ)))
            continue;
        _mm256_storeu_ps(a, v);
        for (int i = 0; i < QX_BR; i++) {
            int pos;
            if (nt < j)
                pos = nt++;
            else if (a[i] > top[j - 1])
                pos = j - 1; /* the j-th goes */
            else
                continue;
            for (; pos > 0 && top[pos - 1] < a[i]; pos--)
                top[pos] = top[pos - 1];
            top[pos] = a[i];
        }
    }
    return nt == j ? top[j - 1] : -INFINITY;
}

/* Step 2 in AVX2: the rows past a threshold from a sample of the table
 * (sample_worst), so that a few hundred rows reach the selection where a
 * threshold starting at -inf let ~3,000 through at 62k rows; when fewer
 * than cap of them pass (the sample was off, or the rows above were
 * excluded), again from -inf: the same rows either way. The best cap
 * rows end in s->heap[0 .. *got), in no order. */
static void scan_avx2(const struct qindex *qx, const struct scratch *s, const uint8_t *exclude,
                      int skip, int cap, int *got, struct qindex_stats *st)
{
    struct sel sl = {s->heap, 0, cap, cap + QX_SPILL, -INFINITY};
    if (sl.bufcap > qx->n) /* every row fits: one selection at the end */
        sl.bufcap = qx->n + 1;
    sl.worst = sample_worst(qx, s, cap);
    if (st)
        st->threshold = sl.worst;
    scan_pass(qx, s, exclude, skip, &sl);
    if (sl.n < cap && sl.worst != -INFINITY) { /* a NaN threshold passed nothing: again */
        sl.n = 0;
        sl.worst = -INFINITY;
        scan_pass(qx, s, exclude, skip, &sl);
        if (st)
            st->passes = 2;
    }
    if (sl.n > cap)
        sel_full(&sl);
    *got = sl.n;
}
#endif

float qindex_project(const struct qindex *qx, const float *query, float *out)
{
    for (int j = 0; j < qx->r; j++)
        out[j] = dot_f32(qx->basis + (size_t)j * qx->dim, query, qx->dim);
    return dot_f32(qx->mean, query, qx->dim);
}

/* qindex_topk, with step 2 by scan_avx2 (simd, where built) or scan_ref;
 * st (or NULL): what the scan did */
static int topk(const struct qindex *qx, const float *query, const uint8_t *exclude, int skip,
                int k, int rescore, struct cand *out, void *scratch, int simd,
                struct qindex_stats *st)
{
    struct scratch s;
    int got = 0, cap;

    int exact = rescore >= 0;

    if (st)
        *st = (struct qindex_stats){0, -INFINITY};
    if (k < 1 || qx->n < 1)
        return 0;
    if (st)
        st->passes = 1; /* 2 where scan_avx2 scans again */
    if (rescore < 0)
        rescore = 0;
    cap = k > qx->n - rescore ? qx->n : k + rescore;
    scratch_parts(qx, scratch, &s);

    /* 1. the query (projected onto the basis, when reduced) as int8; its
     * scale is one positive factor for every row, so approx scores leave
     * it out, as the projection leaves out <query, mean> */
    if (qx->basis) {
        for (int j = 0; j < qx->r; j++)
            s.proj[j] = dot_f32(qx->basis + (size_t)j * qx->dim, query, qx->dim);
        quantise_row(s.xq, s.proj, qx->r, qx->stride);
    } else {
        quantise_row(s.xq, query, qx->dim, qx->stride);
    }
    for (int j = 0; j < qx->stride; j++)
        s.xabs[j] = (int8_t)abs(s.xq[j]);

    /* 2. scan: approx (n,) = (qb . xq) * scale into the heap */
#ifdef __AVX2__
    if (simd)
        scan_avx2(qx, &s, exclude, skip, cap, &got, st);
    else
        scan_ref(qx, &s, exclude, skip, cap, &got);
#else
    (void)simd;
    scan_ref(qx, &s, exclude, skip, cap, &got);
#endif

    /* 3. exact scores for the survivors, best k of them in order (or the
     * approximate order as it is: rescore < 0) */
    for (int i = 0; i < got && exact; i++)
        s.heap[i].score = dot_f32(qx->vec + (size_t)s.heap[i].movie * qx->dim, query, qx->dim);
    recall_partial_sort(s.heap, got, k); /* rows are distinct */
    if (got > k)
        got = k;
    memcpy(out, s.heap, (size_t)got * sizeof(*out));
    return got;
}

int qindex_topk(const struct qindex *qx, const float *query, const uint8_t *exclude, int skip,
                int k, int rescore, struct cand *out, void *scratch)
{
    return topk(qx, query, exclude, skip, k, rescore, out, scratch, 1, NULL);
}

int qindex_topk_stats(const struct qindex *qx, const float *query, const uint8_t *exclude,
                      int skip, int k, int rescore, struct cand *out, void *scratch,
                      struct qindex_stats *st)
{
    return topk(qx, query, exclude, skip, k, rescore, out, scratch, 1, st);
}

int qindex_topk_ref(const struct qindex *qx, const float *query, const uint8_t *exclude,
                    int skip, int k, int rescore, struct cand *out, void *scratch)
{
    return topk(qx, query, exclude, skip, k, rescore, out, scratch, 0, NULL);
}
