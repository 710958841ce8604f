/*
 * nn_head.c - the serving ranker's head (nn.h): per candidate, the first
 * layer's two halves summed and ReLU'd, the second layer, ReLU, and the
 * logit, in one pass with the second layer's weights packed once.
 *
 * Candidates go six at a time: their h1 rows (6, H1) are built in the
 * caller's scratch (the gathered rows of the next six asked for
 * meanwhile), then for each panel of 16 outputs twelve AVX2 registers
 * hold h2 (6, 16) while k runs over H1, each step one broadcast of h1 per
 * row and two loads of the panel; bias, ReLU and the logit's weights are
 * applied to the registers, so h2 never goes to memory. W2 is read from
 * the packed copy (ceil(H2 / 16), H1, 16): 16 consecutive floats per k,
 * where W2 (H2, H1) itself would be a strided column. The plain C path
 * (head_panels_ref: nn_head_forward without AVX2/FMA, and
 * nn_head_forward_ref on every build, for tests) runs the same loops over
 * the same layout.
 */
#include "nn.h"

#include <string.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "../util/banned.h"

#define HEAD_P 16 /* outputs per panel */
#define HEAD_R 6  /* candidates per tile */

size_t nn_head_packed_floats(int H1, int H2)
{
    return (size_t)((H2 + HEAD_P - 1) / HEAD_P) * H1 * HEAD_P;
}

void nn_head_pack(float *w2p, const float *w2, int H1, int H2)
{
    int np = (H2 + HEAD_P - 1) / HEAD_P;
    for (int p = 0; p < np; p++)
        for (int k = 0; k < H1; k++)
            for (int j = 0; j < HEAD_P; j++) {
                int o = p * HEAD_P + j;
                w2p[((size_t)p * H1 + k) * HEAD_P + j] = o < H2 ? w2[(size_t)o * H1 + k] : 0.0f;
            }
}

void nn_head_forward_naive(float *logit, const float *u, const float *m, const int *rows,
                           const float *w2, const float *b2, const float *wo, float bo, int B,
                           int H1, int H2)
{
    for (int b = 0; b < B; b++) {
        const float *mr = m + (size_t)rows[b] * H1;
        double s = bo;
        for (int o = 0; o < H2; o++) {
            double z = b2[o];
            for (int k = 0; k < H1; k++) {
                float h = u[k] + mr[k];
                z += (double)(h > 0.0f ? h : 0.0f) * w2[(size_t)o * H1 + k];
            }
            s += (z > 0.0 ? z : 0.0) * wo[o];
        }
        logit[b] = (float)s;
    }
}

/* x (R, H1) = relu(u + m[rows[i]]) for the tile's R rows */
static void head_rows(float *x, const float *u, const float *m, const int *rows, int R, int H1)
{
    for (int i = 0; i < R; i++) {
        const float *mr = m + (size_t)rows[i] * H1;
        float *xi = x + (size_t)i * H1;
        for (int k = 0; k < H1; k++) {
            float h = u[k] + mr[k];
            xi[k] = h > 0.0f ? h : 0.0f;
        }
    }
}

/* asks for the R rows m[rows[i]] (H1 floats each) before they are read:
 * they are scattered over the table (63 MB at 62k movies) */
static void head_prefetch(const float *m, const int *rows, int R, int H1)
{
    for (int i = 0; i < R; i++) {
        const char *p = (const char *)(m + (size_t)rows[i] * H1);
        for (size_t b = 0; b < (size_t)H1 * sizeof(float); b += 64)
            __builtin_prefetch(p + b);
    }
}

#if defined(__AVX2__) && defined(__FMA__)
/* acc (R, 8) += wo[panel] * relu(x (R, H1) . wp (H1, 16) + b2[panel]),
 * lane by lane; bp and op are the panel's 16 biases and logit weights */
static inline __attribute__((always_inline)) void
head_tile(float *acc, const float *x, const float *wp, const float *bp, const float *op, int H1,
          const int R)
{
    __m256 c[HEAD_R][2];
    for (int i = 0; i < R; i++)
        c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < H1; k++) {
        __m256 w0 = _mm256_loadu_ps(wp + (size_t)k * HEAD_P);
        __m256 w1 = _mm256_loadu_ps(wp + (size_t)k * HEAD_P + 8);
        for (int i = 0; i < R; i++) {
            __m256 a = _mm256_broadcast_ss(x + (size_t)i * H1 + k);
            c[i][0] = _mm256_fmadd_ps(a, w0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, w1, c[i][1]);
        }
    }
    __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8), zero = _mm256_setzero_ps();
    __m256 o0 = _mm256_loadu_ps(op), o1 = _mm256_loadu_ps(op + 8);
    for (int i = 0; i < R; i++) {
        __m256 s = _mm256_loadu_ps(acc + i * 8);
        s = _mm256_fmadd_ps(_mm256_max_ps(_mm256_add_ps(c[i][0], b0), zero), o0, s);
        s = _mm256_fmadd_ps(_mm256_max_ps(_mm256_add_ps(c[i][1], b1), zero), o1, s);
        _mm256_storeu_ps(acc + i * 8, s);
    }
}

static void head_panels_avx2(float *acc, const float *x, const float *w2p, const float *b2,
                             const float *wo, int R, int H1, int H2)
{
    for (int p0 = 0; p0 < H2; p0 += HEAD_P) {
        float bp[HEAD_P] = {0}, op[HEAD_P] = {0}; /* zero past H2 */
        const float *wp = w2p + (size_t)p0 * H1;
        int w = H2 - p0 < HEAD_P ? H2 - p0 : HEAD_P;
        memcpy(bp, b2 + p0, (size_t)w * sizeof(float));
        memcpy(op, wo + p0, (size_t)w * sizeof(float));
        switch (R) { /* a constant R for each: the loops unroll */
        case 6: head_tile(acc, x, wp, bp, op, H1, 6); break;
        case 5: head_tile(acc, x, wp, bp, op, H1, 5); break;
        case 4: head_tile(acc, x, wp, bp, op, H1, 4); break;
        case 3: head_tile(acc, x, wp, bp, op, H1, 3); break;
        case 2: head_tile(acc, x, wp, bp, op, H1, 2); break;
        default: head_tile(acc, x, wp, bp, op, H1, 1); break;
        }
    }
}
#endif

/* head_panels_avx2 in plain C: acc (R, 8) by lane j % 8 of each panel */
static void head_panels_ref(float *acc, const float *x, const float *w2p, const float *b2,
                            const float *wo, int R, int H1, int H2)
{
    for (int p0 = 0; p0 < H2; p0 += HEAD_P) {
        const float *wp = w2p + (size_t)p0 * H1;
        for (int i = 0; i < R; i++) {
            float c[HEAD_P] = {0};
            for (int k = 0; k < H1; k++)
                for (int j = 0; j < HEAD_P; j++)
                    c[j] += x[(size_t)i * H1 + k] * wp[(size_t)k * HEAD_P + j];
            for (int j = 0; j < HEAD_P && p0 + j < H2; j++) {
                float z = c[j] + b2[p0 + j];
                acc[i * 8 + j % 8] += (z > 0.0f ? z : 0.0f) * wo[p0 + j];
            }
        }
    }
}

/* nn_head_forward with the panels by head_panels_avx2 (simd, where built)
 * or head_panels_ref; inlined into each caller with simd a constant, so
 * the test of simd is folded away */
static inline __attribute__((always_inline)) void
head_forward(float *logit, float *work, const float *u, const float *m, const int *rows,
             const float *w2p, const float *b2, const float *wo, float bo, int B, int H1, int H2,
             int simd)
{
    if (B > 0)
        head_prefetch(m, rows, B < HEAD_R ? B : HEAD_R, H1);
    for (int b0 = 0; b0 < B; b0 += HEAD_R) {
        int R = B - b0 < HEAD_R ? B - b0 : HEAD_R;
        float acc[HEAD_R * 8] = {0}; /* (R, 8) the logit's partial sums by lane */
        head_rows(work, u, m, rows + b0, R, H1);
        if (b0 + HEAD_R < B)
            head_prefetch(m, rows + b0 + HEAD_R,
                          B - b0 - HEAD_R < HEAD_R ? B - b0 - HEAD_R : HEAD_R, H1);
#if defined(__AVX2__) && defined(__FMA__)
        if (simd)
            head_panels_avx2(acc, work, w2p, b2, wo, R, H1, H2);
        else
            head_panels_ref(acc, work, w2p, b2, wo, R, H1, H2);
#else
        (void)simd;
        head_panels_ref(acc, work, w2p, b2, wo, R, H1, H2);
#endif
        for (int i = 0; i < R; i++) {
            const float *a = acc + i * 8;
            logit[b0 + i] = bo + (((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])));
        }
    }
}

void nn_head_forward(float *logit, float *work, const float *u, const float *m, const int *rows,
                     const float *w2p, const float *b2, const float *wo, float bo, int B, int H1,
                     int H2)
{
    head_forward(logit, work, u, m, rows, w2p, b2, wo, bo, B, H1, H2, 1);
}

void nn_head_forward_ref(float *logit, float *work, const float *u, const float *m,
                         const int *rows, const float *w2p, const float *b2, const float *wo,
                         float bo, int B, int H1, int H2)
{
    head_forward(logit, work, u, m, rows, w2p, b2, wo, bo, B, H1, H2, 0);
}
