/*
 * nn.h - float32 kernels for the two-tower ranking model: matrix multiply
 * (BLAS behind one wrapper, with a naive reference beside it), activations,
 * binary cross-entropy with logits, embeddings (plain and bag-mean), the
 * text-CNN's conv1d + ReLU + max-pool over time, dropout, concatenation,
 * Adam, and one contiguous parameter block with a table of named tensors.
 *
 * Conventions (after llm.c): outputs first, const inputs next, sizes last;
 * every pointer carries its shape in a comment. All arrays are row-major.
 * Weights are laid out like PyTorch's so a safetensors file lines up:
 * Linear weight (OUT, IN), Conv1d weight (F, C, K) = filters x channels x
 * window. The caller owns every buffer; no kernel allocates, prints or
 * exits. Unless a comment says "accumulates" (+=), an output is overwritten.
 * Kernels are thread-safe on disjoint outputs; the only process-wide state
 * is the BLAS switch (nn_use_blas) and OpenBLAS's own thread count.
 *
 * Build with -DNN_NO_BLAS to drop the OpenBLAS dependency: nn_sgemm then
 * runs the naive loops (correct, much slower).
 */
#ifndef MOVIEREC_NN_H
#define MOVIEREC_NN_H

#include <stddef.h>
#include <stdint.h>

struct error;

/* ------------------------------------------------------------------ */
/* Random numbers: splitmix64, any 64-bit state (0 included) is valid. */

static inline uint64_t nn_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 24 random bits. */
static inline float nn_rng_uniform(uint64_t *state)
{
    return (float)(nn_rng_next(state) >> 40) * (1.0f / 16777216.0f);
}

/* Standard normal (Box-Muller, one value per call). */
float nn_rng_normal(uint64_t *state);

/* ------------------------------------------------------------------ */
/* BLAS                                                                 */

/* Row-major C = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T as
 * trans_x is 0 or 1; op(A) is (M, K), op(B) is (K, N), C is (M, N), with
 * leading dimensions lda/ldb/ldc (row strides). beta == 0 ignores C's old
 * contents (NaN included). The one place that calls cblas_sgemm. */
void nn_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The same with plain loops (double accumulators): the reference. */
void nn_sgemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha,
                    const float *A, int lda, const float *B, int ldb, float beta, float *C,
                    int ldc);

/* Process-wide: 1 (default) sends nn_sgemm to OpenBLAS, 0 to the naive
 * loops. Set it before starting threads. Returns the previous value. */
int nn_use_blas(int on);
/* y (M,) = A (M, N; row stride lda) . x (N,): matrix-vector, BLAS or naive. */
void nn_sgemv(float *y, const float *A, const float *x, int M, int N, int lda);
/* OpenBLAS's own thread count (openblas_set_num_threads); a trainer that
 * runs its own threads over the batch sets 1. No-op under NN_NO_BLAS. */
void nn_blas_threads(int n);

/* ------------------------------------------------------------------ */
/* Linear layer: out = in . w^T + b                                     */

/* b may be NULL. */
void matmul_forward(float *out /* (B, OUT) */, const float *in /* (B, IN) */,
                    const float *w /* (OUT, IN) */, const float *b /* (OUT,) or NULL */, int B,
                    int IN, int OUT);
void matmul_forward_naive(float *out /* (B, OUT) */, const float *in /* (B, IN) */,
                          const float *w /* (OUT, IN) */, const float *b /* (OUT,) or NULL */,
                          int B, int IN, int OUT);
/* din = dout . w (overwritten; skipped when NULL); dw += dout^T . in
 * (accumulates); db += column sums of dout (accumulates; skipped when NULL). */
void matmul_backward(float *din /* (B, IN) or NULL */, float *dw /* (OUT, IN) */,
                     float *db /* (OUT,) or NULL */, const float *dout /* (B, OUT) */,
                     const float *in /* (B, IN) */, const float *w /* (OUT, IN) */, int B, int IN,
                     int OUT);
void matmul_backward_naive(float *din /* (B, IN) or NULL */, float *dw /* (OUT, IN) */,
                           float *db /* (OUT,) or NULL */, const float *dout /* (B, OUT) */,
                           const float *in /* (B, IN) */, const float *w /* (OUT, IN) */, int B,
                           int IN, int OUT);

/* ------------------------------------------------------------------ */
/* The serving ranker's head (model/ranker.h), forward only:           */
/*   h1[b] = relu(u + m[rows[b]]);  h2[b] = relu(W2 h1[b] + b2);        */
/*   logit[b] = wo . h2[b] + bo                                         */
/* with W2 (H2, H1) packed once into panels of 16 outputs.              */

/* Floats of the packed W2: (ceil(H2 / 16), H1, 16). */
size_t nn_head_packed_floats(int H1, int H2);
/* w2p[(p, k, j)] = W2[16 p + j, k], 0 past H2. */
void nn_head_pack(float *w2p /* nn_head_packed_floats() */, const float *w2 /* (H2, H1) */,
                  int H1, int H2);
/* AVX2/FMA where built (plain C otherwise); agrees with the naive loops
 * to float rounding (a different order of the sums). work: scratch. */
void nn_head_forward(float *logit /* (B,) */, float *work /* (6, H1) */,
                     const float *u /* (H1,) */, const float *m /* (V, H1) */,
                     const int *rows /* (B,) in [0, V) */, const float *w2p /* packed */,
                     const float *b2 /* (H2,) */, const float *wo /* (H2,) */, float bo, int B,
                     int H1, int H2);
/* The same in plain C on every build (what nn_head_forward runs without
 * AVX2/FMA), so tests check both kernels wherever they run. */
void nn_head_forward_ref(float *logit /* (B,) */, float *work /* (6, H1) */,
                         const float *u /* (H1,) */, const float *m /* (V, H1) */,
                         const int *rows /* (B,) in [0, V) */, const float *w2p /* packed */,
                         const float *b2 /* (H2,) */, const float *wo /* (H2,) */, float bo,
                         int B, int H1, int H2);
/* The reference: unpacked W2, double sums. */
void nn_head_forward_naive(float *logit /* (B,) */, const float *u /* (H1,) */,
                           const float *m /* (V, H1) */, const int *rows /* (B,) */,
                           const float *w2 /* (H2, H1) */, const float *b2 /* (H2,) */,
                           const float *wo /* (H2,) */, float bo, int B, int H1, int H2);

/* ------------------------------------------------------------------ */
/* Activations: out may equal in, din may equal dout. The backward      */
/* passes read the forward's OUTPUT, so in-place forwards are fine.     */

void relu_forward(float *out /* (n,) */, const float *in /* (n,) */, size_t n);
/* din = dout where out > 0, else 0. */
void relu_backward(float *din /* (n,) */, const float *dout /* (n,) */,
                   const float *out /* (n,) */, size_t n);
void tanh_forward(float *out /* (n,) */, const float *in /* (n,) */, size_t n);
/* din = dout * (1 - out^2). */
void tanh_backward(float *din /* (n,) */, const float *dout /* (n,) */,
                   const float *out /* (n,) */, size_t n);
/* Overflow-free for any finite input. */
void sigmoid_forward(float *out /* (n,) */, const float *in /* (n,) */, size_t n);
/* din = dout * out * (1 - out). */
void sigmoid_backward(float *din /* (n,) */, const float *dout /* (n,) */,
                      const float *out /* (n,) */, size_t n);

/* ------------------------------------------------------------------ */
/* Loss: binary cross-entropy on logits                                 */

/* Returns the mean over B of max(x,0) - x*y + log1p(exp(-|x|)) (finite for
 * any finite logit); prob (may be NULL) receives sigmoid(x). B <= 0
 * returns 0. Labels may be soft (in [0, 1]). */
float bce_with_logits_forward(float *prob /* (B,) or NULL */, const float *logit /* (B,) */,
                              const float *label /* (B,) */, int B);
/* dlogit = (prob - label) / B: the gradient of the mean loss. */
void bce_with_logits_backward(float *dlogit /* (B,) */, const float *prob /* (B,) */,
                              const float *label /* (B,) */, int B);

/* ------------------------------------------------------------------ */
/* Embeddings. An index < 0 is padding: its row reads as zeros and its  */
/* gradient is dropped. Indices must be < V (see nn_indices_valid).     */

/* Returns 1 when every idx[i] < V (negatives are padding), else 0. */
int nn_indices_valid(const int *idx /* (n,) */, size_t n, int V);

void embedding_forward(float *out /* (B, C) */, const int *idx /* (B,) */,
                       const float *table /* (V, C) */, int B, int C);
/* dtable[idx[b]] += dout[b] (scatter-add, accumulates). */
void embedding_backward(float *dtable /* (V, C) */, const float *dout /* (B, C) */,
                        const int *idx /* (B,) */, int B, int C);

/* Mean of the valid rows of each bag (genres): idx rows padded with -1;
 * a bag with no valid index gives zeros. */
void embedding_bag_mean_forward(float *out /* (B, C) */, const int *idx /* (B, MAXK) */,
                                const float *table /* (V, C) */, int B, int MAXK, int C);
/* dtable[idx[b,j]] += dout[b] / count_b for each valid j (accumulates). */
void embedding_bag_mean_backward(float *dtable /* (V, C) */, const float *dout /* (B, C) */,
                                 const int *idx /* (B, MAXK) */, int B, int MAXK, int C);

/* Title words: the (B, L) token ids through one table, -1 = padding
 * (zero vector, no gradient). Row 0 of the table is an ordinary word. */
static inline void word_embedding_forward(float *out /* (B, L, C) */,
                                          const int *ids /* (B, L) */,
                                          const float *table /* (V, C) */, int B, int L, int C)
{
    embedding_forward(out, ids, table, B * L, C);
}
static inline void word_embedding_backward(float *dtable /* (V, C) */,
                                           const float *dout /* (B, L, C) */,
                                           const int *ids /* (B, L) */, int B, int L, int C)
{
    embedding_backward(dtable, dout, ids, B * L, C);
}

/* ------------------------------------------------------------------ */
/* Text-CNN: conv1d (valid, stride 1) + ReLU + max-pool over time       */
/*                                                                      */
/* T = L - K + 1 windows; z[b,t,f] = bias[f] + sum_{c,k} w[f,c,k] *     */
/* x[b,t+k,c]; out[b,f] = relu(max_t z[b,t,f]); argmax[b,f] = the first */
/* t reaching the max. When L < K there is no window: out = 0 and       */
/* argmax = -1 (the backward then does nothing for that (b, f)).        */

/* Floats of scratch for the fast paths of both passes (0 when T < 1):
 * max(F*C*K + B*L*F, 2*F*C*K). One buffer per thread; it holds nothing
 * between calls. */
size_t conv1d_workspace_floats(int B, int L, int C, int F, int K);
/* Fast path: w transposed into work as (F, K*C) (column k*C + c); then,
 * with no im2col copy, K sgemms over shifted views of x seen as one
 * (B*L, C) sequence accumulate every window's z (windows that cross a
 * sample boundary are computed and ignored); then the max over t.
 * work == NULL falls back to the naive loops. */
void conv1d_maxpool_relu_forward(float *out /* (B, F) */, int *argmax /* (B, F) */,
                                 float *work /* conv1d_workspace_floats() or NULL */,
                                 const float *x /* (B, L, C) */, const float *w /* (F, C, K) */,
                                 const float *bias /* (F,) */, int B, int L, int C, int F,
                                 int K);
void conv1d_maxpool_relu_forward_naive(float *out /* (B, F) */, int *argmax /* (B, F) */,
                                       const float *x /* (B, L, C) */,
                                       const float *w /* (F, C, K) */,
                                       const float *bias /* (F,) */, int B, int L, int C, int F,
                                       int K);
/* Routes dout[b,f] through window argmax[b,f] only, and only where
 * out[b,f] > 0. dx, dw and db all ACCUMULATE (dx unlike matmul's din:
 * the convolutions of every window size read the same word embeddings,
 * so zero dx once and run each backward into it); dx may be NULL. work
 * (conv1d_workspace_floats(), or NULL for slower strided loops) lets the
 * inner loops run over contiguous (K*C) windows. */
void conv1d_maxpool_relu_backward(float *dx /* (B, L, C) or NULL */, float *dw /* (F, C, K) */,
                                  float *db /* (F,) */, float *work /* see above, or NULL */,
                                  const float *dout /* (B, F) */, const int *argmax /* (B, F) */,
                                  const float *x /* (B, L, C) */, const float *w /* (F, C, K) */,
                                  const float *out /* (B, F) */, int B, int L, int C, int F,
                                  int K);

/* ------------------------------------------------------------------ */
/* Dropout (inverted): kept values are scaled by 1/(1-p) in training;   */
/* at inference simply skip it. The mask depends only on *rng_state,    */
/* which advances by n draws. p <= 0 keeps all; p >= 1 drops all.       */
/* out may equal in.                                                    */

void dropout_forward(float *out /* (n,) */, uint8_t *mask /* (n,) */, const float *in /* (n,) */,
                     size_t n, float p, uint64_t *rng_state);
/* din = dout * mask / (1 - p); din may equal dout. */
void dropout_backward(float *din /* (n,) */, const float *dout /* (n,) */,
                      const uint8_t *mask /* (n,) */, size_t n, float p);

/* ------------------------------------------------------------------ */
/* Concatenation along the feature axis                                 */

void concat_forward(float *out /* (B, A + C) */, const float *a /* (B, A) */,
                    const float *c /* (B, C) */, int B, int A, int C);
/* Splits dout into da and dc (overwritten; either may be NULL). */
void concat_backward(float *da /* (B, A) */, float *dc /* (B, C) */,
                     const float *dout /* (B, A + C) */, int B, int A, int C);
/* n parts of widths[i] columns each into (B, sum widths). */
void concat_many_forward(float *out /* (B, sum widths) */,
                         const float *const *parts /* n x (B, widths[i]) */,
                         const int *widths /* (n,) */, int n, int B);
/* Entries of dparts may be NULL (that part's gradient is not wanted). */
void concat_many_backward(float *const *dparts /* n x (B, widths[i]) */,
                          const float *dout /* (B, sum widths) */, const int *widths /* (n,) */,
                          int n, int B);

/* ------------------------------------------------------------------ */
/* Adam, as torch.optim.Adam (L2 weight decay added to the gradient,    */
/* not AdamW): g = grad + wd*p; m = b1*m + (1-b1)*g; v = b2*v +         */
/* (1-b2)*g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).     */
/* t is the step number, starting at 1.                                 */

void adam_update(float *params /* (n,) */, const float *grads /* (n,) */, float *m /* (n,) */,
                 float *v /* (n,) */, size_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int t);

/* ------------------------------------------------------------------ */
/* Parameter block                                                      */
/*                                                                      */
/* Layout phase: nn_params_init, then nn_params_add per tensor (returns */
/* its index, or -1 and remembers the first error, which nn_params_alloc */
/* reports). nn_params_alloc makes one 64-byte-aligned block each for   */
/* values, grads, m and v, every tensor starting on a 64-byte boundary, */
/* all zeroed. Padding between tensors stays zero and is inert in Adam. */
/* The struct owns its memory; nn_params_free releases it.              */

#define NN_NAME_MAX 64
#define NN_ALIGN_FLOATS 16 /* 64 bytes */

struct nn_tensor {
    char name[NN_NAME_MAX];
    size_t offset; /* in floats from the start of each block */
    size_t count;  /* d0 * d1 * d2 (absent dims count 1) */
    int ndim;      /* 1..3 */
    int shape[3];  /* unused dims are 0 */
};

struct nn_params {
    struct nn_tensor *tensors;
    int ntensors, cap;
    size_t total; /* floats per block, padding included (multiple of 16) */
    float *data;  /* (total,) values */
    float *grad;  /* (total,) */
    float *m;     /* (total,) Adam first moment */
    float *v;     /* (total,) Adam second moment */
    int step;     /* Adam steps taken */
    int err;      /* first layout error (enum err_code), 0 if none */
    char errmsg[160];
};

void nn_params_init(struct nn_params *p);
/* Dims d1/d2 of 0 are absent: (d0), (d0, d1) or (d0, d1, d2), each > 0.
 * Names are unique and shorter than NN_NAME_MAX. Only before alloc. */
int nn_params_add(struct nn_params *p, const char *name, int d0, int d1, int d2);
/* Returns 0, the first layout error (ERR_USAGE), or ERR_NOMEM. */
int nn_params_alloc(struct nn_params *p, struct error *err);
void nn_params_free(struct nn_params *p);

/* Index of the tensor called name, or -1. */
int nn_params_find(const struct nn_params *p, const char *name);
float *nn_params_tensor(const struct nn_params *p, int idx);
float *nn_params_grad(const struct nn_params *p, int idx);
/* fan_in / fan_out as PyTorch computes them: (OUT, IN) -> IN / OUT;
 * (F, C, K) -> C*K / F*K; a 1-dim tensor -> d0 / d0. */
void nn_params_fans(const struct nn_params *p, int idx, int *fan_in, int *fan_out);

/* Initialisers draw from *rng (advance it; seed with any value). */
void nn_params_init_uniform(struct nn_params *p, int idx, float bound, uint64_t *rng);
/* U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (tanh/sigmoid layers). */
void nn_params_init_xavier_uniform(struct nn_params *p, int idx, uint64_t *rng);
/* U(-a, a), a = sqrt(6 / fan_in) (He, for ReLU layers). */
void nn_params_init_kaiming_uniform(struct nn_params *p, int idx, uint64_t *rng);
/* N(mean, std^2), e.g. std 0.01 for embedding tables. */
void nn_params_init_normal(struct nn_params *p, int idx, float mean, float std, uint64_t *rng);
void nn_params_init_const(struct nn_params *p, int idx, float value);

void nn_params_zero_grad(struct nn_params *p);
/* ++step, then one adam_update over the whole block with t = step. */
void nn_params_adam_step(struct nn_params *p, float lr, float beta1, float beta2, float eps,
                         float weight_decay);

#endif
