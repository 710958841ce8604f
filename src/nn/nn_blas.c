/*
 * nn_blas.c - the kernels built on matrix multiply: the one sgemm wrapper
 * (OpenBLAS, or naive loops), the linear layer, and the text-CNN's conv1d
 * + ReLU + max-pool through im2col.
 */
#include "nn.h"

#include <string.h>

#ifndef NN_NO_BLAS
#include <cblas.h>
#endif

#include "../util/banned.h"

/* ------------------------------------------------------------------ */
/* sgemm                                                                */

static int use_blas = 1;

int nn_use_blas(int on)
{
    int old = use_blas;
    use_blas = on != 0;
    return old;
}

void nn_blas_threads(int n)
{
#ifndef NN_NO_BLAS
    openblas_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
}

void nn_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                    int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += (double)a * (double)b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * (double)*c));
        }
    }
}

void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
#ifndef NN_NO_BLAS
    if (use_blas && K > 0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
                    C, ldc);
        return;
    }
#endif
    if (K <= 0) { /* C = beta * C, without reading C when beta == 0 */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    nn_sgemm_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nn_sgemv(float *restrict y, const float *restrict A, const float *restrict x, int M, int N,
              int lda)
{
    if (M <= 0)
        return;
#ifndef NN_NO_BLAS
    if (use_blas && N > 0) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, M, N, 1.0f, A, lda, x, 1, 0.0f, y, 1);
        return;
    }
#endif
    for (int i = 0; i < M; i++) {
        float s = 0.0f;
        for (int j = 0; j < N; j++)
            s += A[(size_t)i * lda + j] * x[j];
        y[i] = s;
    }
}

/* ------------------------------------------------------------------ */
/* Linear layer                                                         */

void matmul_forward(float *restrict out, const float *restrict in, const float *restrict w,
                    const float *restrict b, int B, int IN, int OUT)
{
    if (B <= 0 || OUT <= 0)
        return;
    if (b)
        for (int i = 0; i < B; i++)
            memcpy(out + (size_t)i * OUT, b, (size_t)OUT * sizeof(*out));
    nn_sgemm(0, 1, B, OUT, IN, 1.0f, in, IN, w, IN, b ? 1.0f : 0.0f, out, OUT);
}

void matmul_forward_naive(float *restrict out, const float *restrict in,
                          const float *restrict w, const float *restrict b, int B, int IN,
                          int OUT)
{
    for (int i = 0; i < B; i++) {
        const float *x = in + (size_t)i * IN;
        for (int o = 0; o < OUT; o++) {
            const float *wr = w + (size_t)o * IN;
            double acc = b ? b[o] : 0.0;
            for (int k = 0; k < IN; k++)
                acc += (double)x[k] * (double)wr[k];
            out[(size_t)i * OUT + o] = (float)acc;
        }
    }
}

static void column_sums_add(float *restrict db, const float *restrict dout, int B, int OUT)
{
    for (int i = 0; i < B; i++) {
        const float *d = dout + (size_t)i * OUT;
        for (int o = 0; o < OUT; o++)
            db[o] += d[o];
    }
}

void matmul_backward(float *restrict din, float *restrict dw, float *restrict db,
                     const float *restrict dout, const float *restrict in,
                     const float *restrict w, int B, int IN, int OUT)
{
    if (B <= 0 || IN <= 0)
        return;
    if (din)
        nn_sgemm(0, 0, B, IN, OUT, 1.0f, dout, OUT, w, IN, 0.0f, din, IN);
    nn_sgemm(1, 0, OUT, IN, B, 1.0f, dout, OUT, in, IN, 1.0f, dw, IN);
    if (db)
        column_sums_add(db, dout, B, OUT);
}

void matmul_backward_naive(float *restrict din, float *restrict dw, float *restrict db,
                           const float *restrict dout, const float *restrict in,
                           const float *restrict w, int B, int IN, int OUT)
{
    if (din) {
        for (int i = 0; i < B; i++)
            for (int k = 0; k < IN; k++) {
                double acc = 0.0;
                for (int o = 0; o < OUT; o++)
                    acc += (double)dout[(size_t)i * OUT + o] * (double)w[(size_t)o * IN + k];
                din[(size_t)i * IN + k] = (float)acc;
            }
    }
    for (int o = 0; o < OUT; o++)
        for (int k = 0; k < IN; k++) {
            double acc = dw[(size_t)o * IN + k];
            for (int i = 0; i < B; i++)
                acc += (double)dout[(size_t)i * OUT + o] * (double)in[(size_t)i * IN + k];
            dw[(size_t)o * IN + k] = (float)acc;
        }
    if (db)
        for (int o = 0; o < OUT; o++) {
            double acc = db[o];
            for (int i = 0; i < B; i++)
                acc += dout[(size_t)i * OUT + o];
            db[o] = (float)acc;
        }
}

/* ------------------------------------------------------------------ */
/* Text-CNN                                                             */

size_t conv1d_workspace_floats(int B, int L, int C, int F, int K)
{
    int T = L - K + 1;
    if (B <= 0 || T <= 0 || C <= 0 || F <= 0 || K <= 0)
        return 0;
    size_t fck = (size_t)F * C * K;
    size_t fwd = fck + (size_t)B * (size_t)L * (size_t)F;
    return fwd > 2 * fck ? fwd : 2 * fck;
}

/* wt[f, k*C + c] = w[f, c, k]: each filter in the order of a window of x. */
static void transpose_filters(float *restrict wt /* (F, K*C) */,
                              const float *restrict w /* (F, C, K) */, int C, int F, int K)
{
    for (int f = 0; f < F; f++) {
        const float *wf = w + (size_t)f * C * K;
        float *tf = wt + (size_t)f * C * K;
        for (int k = 0; k < K; k++)
            for (int c = 0; c < C; c++)
                tf[(size_t)k * C + c] = wf[(size_t)c * K + k];
    }
}

static void no_window(float *out, int *argmax, int B, int F)
{
    for (size_t i = 0; i < (size_t)B * F; i++) {
        out[i] = 0.0f;
        argmax[i] = -1;
    }
}

void conv1d_maxpool_relu_forward_naive(float *restrict out, int *restrict argmax,
                                       const float *restrict x, const float *restrict w,
                                       const float *restrict bias, int B, int L, int C, int F,
                                       int K)
{
    int T = L - K + 1;
    if (T <= 0) {
        no_window(out, argmax, B, F);
        return;
    }
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            float best = 0.0f;
            int arg = 0;
            for (int t = 0; t < T; t++) {
                double z = bias[f];
                for (int c = 0; c < C; c++)
                    for (int k = 0; k < K; k++)
                        z += (double)w[((size_t)f * C + c) * K + k] *
                             (double)x[((size_t)b * L + t + k) * C + c];
                if (t == 0 || (float)z > best) {
                    best = (float)z;
                    arg = t;
                }
            }
            out[(size_t)b * F + f] = best > 0.0f ? best : 0.0f;
            argmax[(size_t)b * F + f] = arg;
        }
}

void conv1d_maxpool_relu_forward(float *restrict out, int *restrict argmax, float *restrict work,
                                 const float *restrict x, const float *restrict w,
                                 const float *restrict bias, int B, int L, int C, int F, int K)
{
    int T = L - K + 1;
    if (T <= 0) {
        no_window(out, argmax, B, F);
        return;
    }
    if (!work) {
        conv1d_maxpool_relu_forward_naive(out, argmax, x, w, bias, B, L, C, F, K);
        return;
    }
    const int CK = C * K;
    /* No im2col copy: over the flattened (B*L, C) sequence, window r
     * starts at row r, so z[r] = bias + sum_k x[r + k] . W_k, one sgemm
     * per k over shifted views of x (lda = C). Rows whose window crosses
     * into the next sample are computed and ignored: (K-1) of every L. */
    const size_t rows = (size_t)B * L - (size_t)(K - 1);
    float *wt = work;                  /* (F, K*C): W_k = wt[:, k*C : (k+1)*C] */
    float *z = wt + (size_t)F * CK;    /* (rows, F) */

    transpose_filters(wt, w, C, F, K);
    for (size_t r = 0; r < rows; r++)
        memcpy(z + r * F, bias, (size_t)F * sizeof(*z));
    for (int k = 0; k < K; k++)
        nn_sgemm(0, 1, (int)rows, F, C, 1.0f, x + (size_t)k * C, C, wt + (size_t)k * C, CK, 1.0f,
                 z, F);

    for (int b = 0; b < B; b++) {
        const float *zb = z + (size_t)b * L * F; /* windows t = 0..T-1 of sample b */
        float *ob = out + (size_t)b * F;
        int *ab = argmax + (size_t)b * F;
        for (int f = 0; f < F; f++) {
            ob[f] = zb[f];
            ab[f] = 0;
        }
        for (int t = 1; t < T; t++)
            for (int f = 0; f < F; f++)
                if (zb[(size_t)t * F + f] > ob[f]) {
                    ob[f] = zb[(size_t)t * F + f];
                    ab[f] = t;
                }
        for (int f = 0; f < F; f++)
            ob[f] = ob[f] > 0.0f ? ob[f] : 0.0f;
    }
}

void conv1d_maxpool_relu_backward(float *restrict dx, float *restrict dw, float *restrict db,
                                  float *restrict work, const float *restrict dout,
                                  const int *restrict argmax, const float *restrict x,
                                  const float *restrict w, const float *restrict out, int B,
                                  int L, int C, int F, int K)
{
    const int CK = C * K;
    float *wt = NULL, *dwt = NULL; /* (F, K*C) each, in work */

    if (L - K + 1 <= 0)
        return;
    if (work) {
        wt = work;
        dwt = work + (size_t)F * CK;
        transpose_filters(wt, w, C, F, K);
        memset(dwt, 0, (size_t)F * CK * sizeof(*dwt));
    }
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            size_t bf = (size_t)b * F + f;
            int t = argmax[bf];
            if (t < 0 || t > L - K || !(out[bf] > 0.0f))
                continue;
            const float g = dout[bf];
            const float *xw = x + ((size_t)b * L + t) * C; /* (K, C) window */
            float *dxw = dx ? dx + ((size_t)b * L + t) * C : NULL;
            db[f] += g;
            if (work) { /* contiguous: window j = k*C + c */
                float *dtf = dwt + (size_t)f * CK;
                const float *tf = wt + (size_t)f * CK;
                for (int j = 0; j < CK; j++)
                    dtf[j] += g * xw[j];
                if (dxw)
                    for (int j = 0; j < CK; j++)
                        dxw[j] += g * tf[j];
                continue;
            }
            const float *wf = w + (size_t)f * CK; /* (C, K) */
            float *dwf = dw + (size_t)f * CK;
            for (int c = 0; c < C; c++)
                for (int k = 0; k < K; k++)
                    dwf[c * K + k] += g * xw[(size_t)k * C + c];
            if (dxw)
                for (int c = 0; c < C; c++)
                    for (int k = 0; k < K; k++)
                        dxw[(size_t)k * C + c] += g * wf[c * K + k];
        }
    if (work)
        for (int f = 0; f < F; f++)
            for (int c = 0; c < C; c++)
                for (int k = 0; k < K; k++)
                    dw[((size_t)f * C + c) * K + k] += dwt[(size_t)f * CK + (size_t)k * C + c];
}
