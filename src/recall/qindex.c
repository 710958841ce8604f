/*
 * qindex.c - int8 scan + exact float rescore (qindex.h).
 *
 * A query runs in three steps:
 *   1. quantise the query like a row: xq (stride,) int8 and |xq|;
 *   2. scan the rows a block at a time: dots (QX_BLOCK,) int32 by the
 *      int8 kernel, approx = dot * scale[r], and a bounded heap of the best
 *      k + rescore rows (a row that does not beat the heap's worst is
 *      dropped with one compare);
 *   3. rescore the heap's rows exactly in float from qx->vec, sort, keep k.
 * Integer dot products are exact, so the AVX2 kernel and the plain C one
 * give identical dots and identical results.
 */
#include "qindex.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "../util/banned.h"

#define QX_ALIGN 64
#define QX_LANES 32   /* stride is a multiple of this: one AVX2 register of int8 */
#define QX_BLOCK 256  /* rows per scan block: dots (QX_BLOCK,) stay in L1 */

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) / a * a;
}

/* ------------------------------------------------------------------ */
/* quantisation                                                         */

/* q (stride,) = round(x / s) for d < dim, 0 in the padding; returns
 * s = max|x| / 127 (0 for a zero vector, whose q is all zero). */
static float quantise_row(int8_t *q, const float *x /* (dim,) */, int dim, int stride)
{
    float amax = 0.0f;
    for (int d = 0; d < dim; d++)
        amax = fmaxf(amax, fabsf(x[d]));
    memset(q, 0, (size_t)stride);
    if (!(amax > 0.0f) || !isfinite(amax))
        return 0.0f;
    float inv = 127.0f / amax;
    for (int d = 0; d < dim; d++) {
        float v = roundf(x[d] * inv);
        q[d] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    return amax / 127.0f;
}

/* ------------------------------------------------------------------ */
/* the int8 kernel                                                      */

/* dots (nrows,) = q (nrows, stride) . x (stride,); the reference. Values
 * are in [-127, 127], so the int32 sum is exact for stride < 133,000. */
void qindex_dots_ref(int32_t *dots, const int8_t *q, const int8_t *x, const int8_t *xabs,
                     int nrows, int stride)
{
    (void)xabs;
    for (int r = 0; r < nrows; r++) {
        const int8_t *row = q + (size_t)r * stride;
        int32_t s = 0;
        for (int j = 0; j < stride; j++)
            s += (int16_t)row[j] * (int16_t)x[j];
        dots[r] = s;
    }
}

#ifdef __AVX2__
/* acc (8 x int32) += row (32 x int8) . x, as |x| (unsigned) times
 * row * sign(x) (signed): maddubs gives int16 pair sums (at most
 * 2 * 127 * 127, no saturation), madd with ones widens them to int32. */
static inline __m256i dot32(__m256i acc, __m256i row, __m256i x, __m256i xabs, __m256i ones)
{
    __m256i p = _mm256_maddubs_epi16(xabs, _mm256_sign_epi8(row, x));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
}

/* (a0, a1, a2, a3) (8 x int32 each) -> their four horizontal sums */
static inline __m128i hsum4(__m256i a0, __m256i a1, __m256i a2, __m256i a3)
{
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

static void dots_avx2(int32_t *dots, const int8_t *q, const int8_t *x, const int8_t *xabs,
                      int nrows, int stride)
{
    const __m256i ones = _mm256_set1_epi16(1);
    int r = 0;
    for (; r + 4 <= nrows; r += 4) { /* four rows share each load of x */
        const int8_t *p = q + (size_t)r * stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < stride; j += QX_LANES) {
            __m256i xv = _mm256_load_si256((const __m256i *)(x + j));
            __m256i xa = _mm256_load_si256((const __m256i *)(xabs + j));
            a0 = dot32(a0, _mm256_load_si256((const __m256i *)(p + j)), xv, xa, ones);
            a1 = dot32(a1, _mm256_load_si256((const __m256i *)(p + stride + j)), xv, xa, ones);
            a2 = dot32(a2, _mm256_load_si256((const __m256i *)(p + 2 * stride + j)), xv, xa,
                       ones);
            a3 = dot32(a3, _mm256_load_si256((const __m256i *)(p + 3 * stride + j)), xv, xa,
                       ones);
        }
        _mm_storeu_si128((__m128i *)(dots + r), hsum4(a0, a1, a2, a3));
    }
    for (; r < nrows; r++) {
        const int8_t *p = q + (size_t)r * stride;
        __m256i a = _mm256_setzero_si256(), z = a;
        for (int j = 0; j < stride; j += QX_LANES)
            a = dot32(a, _mm256_load_si256((const __m256i *)(p + j)),
                      _mm256_load_si256((const __m256i *)(x + j)),
                      _mm256_load_si256((const __m256i *)(xabs + j)), ones);
        dots[r] = _mm_cvtsi128_si32(hsum4(a, z, z, z));
    }
}
#endif

/* The kernel qindex_topk uses: AVX2 when compiled for it, else the
 * reference. q, x and xabs 32-byte aligned, stride a multiple of 32. */
void qindex_dots(int32_t *dots, const int8_t *q, const int8_t *x, const int8_t *xabs, int nrows,
                 int stride)
{
#ifdef __AVX2__
    dots_avx2(dots, q, x, xabs, nrows, stride);
#else
    qindex_dots_ref(dots, q, x, xabs, nrows, stride);
#endif
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

int qindex_build(struct qindex *qx, const float *vec, int n, int dim, struct error *err)
{
    memset(qx, 0, sizeof(*qx));
    if (n < 0 || dim < 1 || dim > (1 << 16))
        return error_set(err, ERR_USAGE, "bad qindex shape (%d, %d)", n, dim);
    qx->n = n;
    qx->dim = dim;
    qx->stride = (int)round_up((size_t)dim, QX_LANES);
    qx->vec = vec;
    if (n == 0)
        return 0;
    size_t qbytes = round_up((size_t)n * (size_t)qx->stride, QX_ALIGN);
    void *p = NULL;
    if (posix_memalign(&p, QX_ALIGN, qbytes) != 0)
        p = NULL;
    qx->q = p;
    qx->scale = malloc((size_t)n * sizeof(float));
    if (!qx->q || !qx->scale) {
        qindex_free(qx);
        return error_set(err, ERR_NOMEM, "out of memory for the int8 copy of %d vectors", n);
    }
    for (int r = 0; r < n; r++)
        qx->scale[r] = quantise_row(qx->q + (size_t)r * qx->stride, vec + (size_t)r * dim, dim,
                                    qx->stride);
    return 0;
}

void qindex_free(struct qindex *qx)
{
    free(qx->q);
    free(qx->scale);
    memset(qx, 0, sizeof(*qx));
}

/* ------------------------------------------------------------------ */
/* query                                                                */

/* scratch layout, each part 64-byte aligned:
 *   xq (stride,) int8 | xabs (stride,) int8 | dots (QX_BLOCK,) int32 |
 *   heap (max(n, 1),) struct cand */
struct scratch {
    int8_t *xq, *xabs;
    int32_t *dots;
    struct cand *heap;
};

static size_t scratch_parts(const struct qindex *qx, void *base, struct scratch *s)
{
    size_t sb = round_up((size_t)qx->stride, QX_ALIGN);
    size_t off = 0;
    char *b = base;
    if (s) {
        s->xq = (int8_t *)(b + off);
        s->xabs = (int8_t *)(b + off + sb);
        s->dots = (int32_t *)(b + off + 2 * sb);
        s->heap = (struct cand *)(b + off + 2 * sb + round_up(QX_BLOCK * sizeof(int32_t), QX_ALIGN));
    }
    off = 2 * sb + round_up(QX_BLOCK * sizeof(int32_t), QX_ALIGN);
    off += round_up((size_t)(qx->n > 0 ? qx->n : 1) * sizeof(struct cand), QX_ALIGN);
    return off;
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

int qindex_topk(const struct qindex *qx, const float *query, const uint8_t *exclude, int skip,
                int k, int rescore, struct cand *out, void *scratch)
{
    struct scratch s;
    int got = 0, cap;

    if (k < 1 || qx->n < 1)
        return 0;
    if (rescore < 0)
        rescore = 0;
    cap = k > qx->n - rescore ? qx->n : k + rescore;
    scratch_parts(qx, scratch, &s);

    /* 1. the query as int8; its scale is one positive factor for every
     * row, so approx scores leave it out */
    quantise_row(s.xq, query, qx->dim, qx->stride);
    for (int j = 0; j < qx->stride; j++)
        s.xabs[j] = (int8_t)abs(s.xq[j]);

    /* 2. scan: dots (nb,) = q (nb, stride) . xq, a block at a time */
    for (int r0 = 0; r0 < qx->n; r0 += QX_BLOCK) {
        int nb = qx->n - r0 < QX_BLOCK ? qx->n - r0 : QX_BLOCK;
        qindex_dots(s.dots, qx->q + (size_t)r0 * qx->stride, s.xq, s.xabs, nb, qx->stride);
        scan_push(s.heap, &got, cap, s.dots, qx->scale, exclude, skip, r0, nb);
    }

    /* 3. exact scores for the survivors, best k of them in order */
    for (int i = 0; i < got; i++)
        s.heap[i].score = dot_f32(qx->vec + (size_t)s.heap[i].movie * qx->dim, query, qx->dim);
    recall_heap_sort(s.heap, got);
    if (got > k)
        got = k;
    memcpy(out, s.heap, (size_t)got * sizeof(*out));
    return got;
}
